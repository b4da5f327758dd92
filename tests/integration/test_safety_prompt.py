"""SPEC 3.4 (prompt rules, revised_prompt) and 3.5 (safety thresholds): what
the mock receives as text and as safetySettings, where the threshold comes
from (request > config file < environment > OFF), and what an invalid value
does at request time and at start-up."""
import itertools
import os
import subprocess
import tempfile

import pytest

from conftest import BIN, assert_error

_seq = itertools.count()

CATEGORIES = ["HARM_CATEGORY_HARASSMENT", "HARM_CATEGORY_HATE_SPEECH",
              "HARM_CATEGORY_SEXUALLY_EXPLICIT", "HARM_CATEGORY_DANGEROUS_CONTENT"]
GEMINI_THRESHOLD = {"OFF": "OFF", "LOW": "BLOCK_ONLY_HIGH",
                    "MEDIUM": "BLOCK_MEDIUM_AND_ABOVE", "HIGH": "BLOCK_LOW_AND_ABOVE"}


def uniq(prompt="a quiet harbour"):
    return f"{prompt} #{next(_seq)}"


def sent(gateway, mock, **fields):
    """One successful generation; returns (response JSON, the mock's record)."""
    fields.setdefault("prompt", uniq())
    before = mock.count()
    r = gateway.generate(**fields)
    assert r.status == 200, r
    recs = mock.requests()
    assert len(recs) == before + 1
    return r, recs[-1]


def assert_settings(rec, gemini_threshold):
    settings = rec["body"]["safetySettings"]
    # all four categories, each exactly once, all with the one threshold
    assert sorted(s["category"] for s in settings) == sorted(CATEGORIES), settings
    assert all(set(s) == {"category", "threshold"} for s in settings), settings
    assert {s["threshold"] for s in settings} == {gemini_threshold}, settings


def request_event(gateway, request_id):
    evs = gateway.wait_log(lambda e: e.get("event") == "request"
                           and e.get("request_id") == request_id)
    assert len(evs) == 1, evs
    return evs[0]


# ---- SPEC 3.5: the mapping, both field names, case-insensitive --------------------

@pytest.mark.parametrize("field", ["safety_threshold", "safety_level"])
@pytest.mark.parametrize("level", ["OFF", "LOW", "MEDIUM", "HIGH"])
def test_level_maps_to_every_category(gateway, mock, field, level):
    r, rec = sent(gateway, mock, **{field: level})
    assert_settings(rec, GEMINI_THRESHOLD[level])
    ev = request_event(gateway, r.header("x-request-id"))
    assert ev["safety_threshold"] == level


@pytest.mark.parametrize("value,level", [("off", "OFF"), ("low", "LOW"), ("Medium", "MEDIUM"),
                                         ("hIgH", "HIGH")])
def test_level_is_case_insensitive(gateway, mock, value, level):
    _, rec = sent(gateway, mock, safety_threshold=value)
    assert_settings(rec, GEMINI_THRESHOLD[level])
    _, rec = sent(gateway, mock, safety_level=value)
    assert_settings(rec, GEMINI_THRESHOLD[level])


def test_default_without_config_is_off(gateway, mock):
    r, rec = sent(gateway, mock)
    assert_settings(rec, "OFF")
    assert request_event(gateway, r.header("x-request-id"))["safety_threshold"] == "OFF"


def test_null_threshold_is_absent(gateway, mock):
    _, rec = sent(gateway, mock, safety_threshold=None)
    assert_settings(rec, "OFF")


def test_safety_threshold_wins_over_its_alias(gateway, mock):
    _, rec = sent(gateway, mock, safety_threshold="HIGH", safety_level="LOW")
    assert_settings(rec, "BLOCK_LOW_AND_ABOVE")


@pytest.mark.parametrize("field,value", [
    ("safety_threshold", "EXTREME"),
    ("safety_threshold", ""),
    ("safety_threshold", "BLOCK_ONLY_HIGH"),   # a Gemini name is not one of ours
    ("safety_threshold", 2),
    ("safety_threshold", True),
    ("safety_level", "none"),
    ("safety_level", ["LOW"]),
])
def test_invalid_request_value(gateway, mock, field, value):
    r = gateway.generate(prompt=uniq(), **{field: value})
    assert_error(r, "IMG_INVALID_REQUEST", param="safety_threshold")
    assert mock.count() == 0


# ---- SPEC 3.5: config file, environment, request precedence -----------------------

def gemini_settings(mock, **extra):
    s = {"gemini_base_url": mock.url, "gemini_api_key": "test-key-1"}
    s.update(extra)
    return s


def test_config_file_default_and_request_override(make_gateway, mock):
    g = make_gateway(gemini_settings(mock, safety_threshold="HIGH"))
    r, rec = sent(g, mock)
    assert_settings(rec, "BLOCK_LOW_AND_ABOVE")
    assert request_event(g, r.header("x-request-id"))["safety_threshold"] == "HIGH"
    # the request wins over the config, in both directions
    r, rec = sent(g, mock, safety_threshold="LOW")
    assert_settings(rec, "BLOCK_ONLY_HIGH")
    assert request_event(g, r.header("x-request-id"))["safety_threshold"] == "LOW"
    _, rec = sent(g, mock, safety_level="off")
    assert_settings(rec, "OFF")


def test_config_file_value_is_case_insensitive(make_gateway, mock):
    g = make_gateway(gemini_settings(mock, safety_threshold="medium"))
    _, rec = sent(g, mock)
    assert_settings(rec, "BLOCK_MEDIUM_AND_ABOVE")


def test_environment_default_and_request_override(make_gateway, mock):
    # the environment beats the config file (SPEC 9)
    g = make_gateway(gemini_settings(mock, safety_threshold="HIGH"),
                     env={"GEMINI_IMAGE_SAFETY_THRESHOLD": "MEDIUM"})
    r, rec = sent(g, mock)
    assert_settings(rec, "BLOCK_MEDIUM_AND_ABOVE")
    assert request_event(g, r.header("x-request-id"))["safety_threshold"] == "MEDIUM"
    _, rec = sent(g, mock, safety_threshold="HIGH")
    assert_settings(rec, "BLOCK_LOW_AND_ABOVE")
    _, rec = sent(g, mock, safety_threshold="OFF")
    assert_settings(rec, "OFF")


def test_invalid_configured_value_refuses_to_start(make_gateway, mock):
    g = make_gateway(gemini_settings(mock),
                     env={"GEMINI_IMAGE_SAFETY_THRESHOLD": "EXTREME"})
    for _ in range(3):
        r = g.generate(prompt=uniq())
        # every imagegw child exits with status 1 at start-up, so the server has
        # no backend and answers itself with its own HTML page, not our JSON
        # envelope.  lighttpd: 503 once it has marked the backends down, 500
        # when it connected to a child's socket just before that child exited;
        # mod_fcgid: 500, each request after spawning a child that died.
        assert r.status in (500, 503), r
        assert r.header("content-type").startswith("text/html"), r.headers
        assert r.header("server").startswith({"lighttpd": "lighttpd",
                                              "apache": "Apache"}[g.server]), r.headers
        assert b'"error"' not in r.body
    assert mock.count() == 0
    err = g.stderr_text()
    assert ("config: environment GEMINI_IMAGE_SAFETY_THRESHOLD: safety_threshold = 'EXTREME' "
            "is not one of OFF|LOW|MEDIUM|HIGH") in err, err
    assert "invalid configuration: refusing to start" in err
    assert {"lighttpd": "child exited: 1",
            "apache": "terminated by calling exit(), return code: 1"}[g.server] \
        in g.error_log_text()
    # nothing was served, so no request events
    assert g.log_events("request") == []


def config_check(env_extra, conf_text):
    with tempfile.TemporaryDirectory() as d:
        conf = os.path.join(d, "imagegw.conf")
        with open(conf, "w") as f:
            f.write(conf_text)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "IMAGEGW_CONFIG": conf,
               "ASAN_OPTIONS": "detect_leaks=1"}
        env.update(env_extra)
        p = subprocess.run([BIN, "config", "check"], env=env, capture_output=True, text=True,
                           timeout=30)
        return p, conf


def test_config_check_names_the_bad_environment_value():
    p, _ = config_check({"GEMINI_IMAGE_SAFETY_THRESHOLD": "EXTREME"},
                        "gemini_api_key = test-key-1\n")
    assert p.returncode == 1, p
    assert ("environment GEMINI_IMAGE_SAFETY_THRESHOLD: safety_threshold = 'EXTREME' "
            "is not one of OFF|LOW|MEDIUM|HIGH") in p.stderr, p.stderr
    assert "configuration is INVALID" in p.stderr
    assert "test-key-1" not in p.stdout + p.stderr


def test_config_check_names_the_bad_file_value():
    p, conf = config_check({}, "# comment\nsafety_threshold = EXTREME\n")
    assert p.returncode == 1, p
    assert f"{conf}:2: safety_threshold = 'EXTREME' is not one of OFF|LOW|MEDIUM|HIGH" \
        in p.stderr, p.stderr


def test_config_check_accepts_a_valid_value():
    p, _ = config_check({"GEMINI_IMAGE_SAFETY_THRESHOLD": "high"},
                        "gemini_api_key = test-key-1\n")
    assert p.returncode == 0, p
    assert "configuration OK" in p.stderr
    lines = p.stdout.splitlines()
    assert "safety_threshold = HIGH    # env GEMINI_IMAGE_SAFETY_THRESHOLD" in lines, p.stdout
    # the secret is masked
    assert "test-key-1" not in p.stdout + p.stderr
    assert any(l.startswith("gemini_api_key = ****") for l in lines), p.stdout


# ---- SPEC 3.4: prompt rules -------------------------------------------------------

def revised(gateway, mock, prompt, **fields):
    """Generates and returns the revised_prompt after checking it is what the
    mock got as the (only) text part and that every image carries it."""
    r, rec = sent(gateway, mock, prompt=prompt, **fields)
    data = r.json()["data"]
    rp = data[0]["revised_prompt"]
    assert all(d["revised_prompt"] == rp for d in data)
    parts = rec["body"]["contents"][0]["parts"]
    assert parts == [{"text": rp}], parts
    return rp


def clause_after(prompt, rp):
    assert rp.startswith(prompt + ". "), (prompt, rp)
    return rp[len(prompt) + 2:]


def test_no_rules_means_prompt_unchanged(gateway, mock):
    p = uniq("a red kite over the dunes")
    assert revised(gateway, mock, p) == p


@pytest.mark.parametrize("quality", ["standard", "medium", "low", "auto"])
def test_other_qualities_add_nothing(gateway, mock, quality):
    p = uniq("a red kite over the dunes")
    assert revised(gateway, mock, p, quality=quality) == p


def test_hd_and_high_append_the_detail_clause(gateway, mock):
    p1, p2, p3 = uniq("a brass clock"), uniq("a brass clock"), uniq("a brass clock")
    c_hd = clause_after(p1, revised(gateway, mock, p1, quality="hd"))
    c_high = clause_after(p2, revised(gateway, mock, p2, quality="high"))
    c_upper = clause_after(p3, revised(gateway, mock, p3, quality="HD"))
    assert c_hd == c_high == c_upper
    for word in ("highly detailed", "sharp focus", "4K"):
        assert word in c_hd, c_hd


def test_style_clauses(gateway, mock):
    pv, pn = uniq("a market street"), uniq("a market street")
    vivid = clause_after(pv, revised(gateway, mock, pv, style="vivid"))
    natural = clause_after(pn, revised(gateway, mock, pn, style="natural"))
    assert vivid != natural
    assert "vivid" in vivid and "dramatic lighting" in vivid, vivid
    assert "natural light" in natural and "realistic" in natural, natural
    pu = uniq("a market street")
    assert clause_after(pu, revised(gateway, mock, pu, style="VIVID")) == vivid


def test_quality_and_style_clauses_combine(gateway, mock):
    p = uniq("a snowy pass")
    detail = clause_after(p, revised(gateway, mock, p, quality="hd"))
    p2 = uniq("a snowy pass")
    vivid = clause_after(p2, revised(gateway, mock, p2, style="vivid"))
    p3 = uniq("a snowy pass")
    both = revised(gateway, mock, p3, quality="hd", style="vivid")
    assert both == f"{p3}. {detail}. {vivid}"


def test_revised_prompt_keeps_unicode_and_quotes(gateway, mock):
    p = uniq('a "café" sign — 東京 at night')
    rp = revised(gateway, mock, p, style="natural")
    assert rp.startswith(p + ". ")


def test_revised_prompt_with_n_images(gateway, mock):
    p = uniq("three paper boats")
    r = gateway.generate(prompt=p, n=3, quality="high")
    assert r.status == 200, r
    data = r.json()["data"]
    assert len(data) == 3
    rps = {d["revised_prompt"] for d in data}
    assert len(rps) == 1
    rp = rps.pop()
    clause_after(p, rp)
    texts = [rec["body"]["contents"][0]["parts"] for rec in mock.requests()]
    assert texts == [[{"text": rp}]] * 3
