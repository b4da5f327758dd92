"""POST /v1/prompts/enhance (SPEC 2.5) through lighttpd: a Gemini text model
when a key is usable, the deterministic offline rewrite when none is
configured, and a 200 with "fallback": true (the offline rewrite) whenever the
upstream fails — never a 5xx.  Bad input and the content filter are 400s that
cost no upstream call; the route needs a client key like generations."""
import os
import sqlite3
import time

import pytest

from conftest import Gateway, assert_error, run_cli, unique_prompt

ROUTE = "/v1/prompts/enhance"
TEXT_MODEL = "gemini-2.5-flash"


def enhanced_by_mock(prompt):
    return f"Enhanced: {prompt} \u2014 with soft morning light, detailed"


def enhance(g, body, headers=None, timeout=60):
    return g.post(ROUTE, body, headers, timeout)


@pytest.fixture(scope="module")
def offline(mock):
    """A gateway with no Gemini key (but pointed at the mock, so a stray call
    would show up in its records)."""
    g = Gateway({"gemini_base_url": mock.url, "retry_backoff_ms": 20})
    yield g
    problems = g.stop()
    assert not problems, "sanitizer reports:\n" + "\n".join(problems)


def offline_text(offline, prompt):
    r = enhance(offline, {"prompt": prompt})
    assert r.status == 200, r
    return r.json()["enhanced_prompt"]


def request_event(g, r):
    """The request log event of response r (written after the reply went out)."""
    rid = r.header("x-request-id")
    hits = g.wait_log(lambda e: e.get("event") == "request" and e.get("request_id") == rid)
    assert len(hits) == 1, hits
    return hits[0]


def upstream_events(g, r):
    rid = r.header("x-request-id")
    return g.wait_log(lambda e: e.get("event") == "upstream" and e.get("request_id") == rid)


def accounts(g):
    db = sqlite3.connect(os.path.join(g.dir, "var", "imagegw.db"))
    try:
        return {row[0]: row[1:] for row in db.execute(
            "SELECT label, enabled, cooldown_until, last_error FROM accounts")}
    finally:
        db.close()


# ---- with a key: the text model ---------------------------------------------------


def test_with_a_key_the_text_model_rewrites(gateway, mock):
    prompt = unique_prompt("a red fox in the snow")
    r = enhance(gateway, {"prompt": prompt})
    assert r.status == 200, r
    assert r.header("content-type").startswith("application/json")
    assert r.json() == {"prompt": prompt, "enhanced_prompt": enhanced_by_mock(prompt),
                        "model": TEXT_MODEL, "fallback": False}
    reqs = mock.requests()
    assert len(reqs) == 1
    rec = reqs[0]
    assert rec["model"] == TEXT_MODEL
    assert rec["headers"]["x-goog-api-key"] == "test-key-1"
    body = rec["body"]
    assert body["generationConfig"]["responseModalities"] == ["TEXT"]
    assert 0 < body["generationConfig"]["temperature"] <= 1
    assert "imageConfig" not in body["generationConfig"]
    system = body["systemInstruction"]["parts"][0]["text"]
    assert "image" in system and "120 words" in system
    assert body["contents"] == [{"role": "user", "parts": [{"text": prompt}]}]
    # One upstream event and one request event, tied by the request id.
    up = upstream_events(gateway, r)
    assert len(up) == 1, up
    assert up[0]["model"] == TEXT_MODEL and up[0]["account"] == "gemini-env-1"
    assert up[0]["upstream_status"] == 200 and "error_code" not in up[0]
    req = request_event(gateway, r)
    assert req["route"] == ROUTE and req["status"] == 200
    assert req["model"] == TEXT_MODEL and req["provider"] == "gemini"
    assert req["account"] == "gemini-env-1" and len(req["prompt_hash"]) == 16
    assert prompt not in gateway.log_text()  # never a prompt in the log


def test_model_hint_picks_a_text_model_and_ignores_image_models(gateway, mock):
    prompt = unique_prompt("a lighthouse")
    r = enhance(gateway, {"prompt": prompt, "model": "gemini-2.5-flash-lite"})
    assert r.status == 200, r
    assert r.json()["model"] == "gemini-2.5-flash-lite"
    # The page may send the image model it will generate with: not a text model.
    for image_model in ("gemini-3-pro-image-4k", "local-preview", "dall-e-3"):
        r = enhance(gateway, {"prompt": prompt, "model": image_model})
        assert r.status == 200 and r.json()["model"] == TEXT_MODEL, r
    assert [q["model"] for q in mock.requests()] == ["gemini-2.5-flash-lite"] + [TEXT_MODEL] * 3


def test_get_is_405_with_allow(gateway):
    r = gateway.get(ROUTE)
    assert r.status == 405 and r.header("allow") == "POST", r


# ---- without a key: the offline rewrite --------------------------------------------


def test_without_a_key_the_offline_rewrite_answers(offline, mock):
    r = enhance(offline, {"prompt": "  a red   fox\nin the snow.  "})
    assert r.status == 200, r
    assert r.json() == {
        "prompt": "  a red   fox\nin the snow.  ",
        "enhanced_prompt": "A red fox in the snow, soft natural lighting, balanced composition, "
                           "highly detailed digital illustration",
        "model": "offline", "fallback": False}
    assert mock.count() == 0
    req = request_event(offline, r)
    assert req["model"] == "offline" and req["provider"] == "local" and "account" not in req
    assert not offline.log_events("upstream")


@pytest.mark.parametrize("prompt, expected", [
    # words of each kind keep their clause out
    ("a photo of a cat at sunset, close-up", "A photo of a cat at sunset, close-up"),
    ("watercolor harbour", "Watercolor harbour, soft natural lighting, balanced composition"),
    ("neon street, wide shot", "Neon street, wide shot, highly detailed digital illustration"),
    # non-ASCII text is kept as it is; only ASCII is capitalised
    ("ein Fuchs im Schnee", "Ein Fuchs im Schnee, soft natural lighting, balanced composition, "
                            "highly detailed digital illustration"),
    ("école sous la pluie", "école sous la pluie, soft natural lighting, balanced composition, "
                            "highly detailed digital illustration"),
])
def test_offline_rewrite_rules(offline, prompt, expected):
    out = offline_text(offline, prompt)
    assert out == expected
    # deterministic, and rewriting the rewrite changes nothing
    assert offline_text(offline, prompt) == out
    assert offline_text(offline, out) == out


def test_offline_rewrite_never_passes_the_limit(make_gateway, mock):
    g = make_gateway({"gemini_base_url": mock.url, "max_prompt_chars": 40})
    prompt = "ß" * 20 + " red fox in the snow"  # 40 characters, 60 bytes
    r = enhance(g, {"prompt": prompt})
    assert r.status == 200, r
    out = r.json()["enhanced_prompt"]
    assert len(out) <= 40 and out.startswith("ß" * 20)
    short = enhance(g, {"prompt": "a fox"}).json()["enhanced_prompt"]
    assert short == "A fox, soft natural lighting" and len(short) <= 40
    assert_error(enhance(g, {"prompt": "x" * 41}), "IMG_INVALID_PROMPT", param="prompt")


# ---- upstream failures: 200 with fallback ------------------------------------------


@pytest.mark.parametrize("directive, code", [
    ("mock:status=503", "IMG_UPSTREAM_ERROR"),
    ("mock:status=500", "IMG_UPSTREAM_ERROR"),
    ("mock:status=502", "IMG_UPSTREAM_ERROR"),
    ("mock:status=504", "IMG_UPSTREAM_TIMEOUT"),
    ("mock:status=404", "IMG_UPSTREAM_ERROR"),
    ("mock:status=400", "IMG_INVALID_REQUEST"),
    ("mock:garbage", "IMG_UPSTREAM_ERROR"),
    ("mock:close", "IMG_NETWORK_ERROR"),
    ("mock:truncated", "IMG_NETWORK_ERROR"),
    ("mock:safety", "IMG_SAFETY_BLOCKED"),
    ("mock:prompt_blocked", "IMG_SAFETY_BLOCKED"),
    ("mock:text_recitation", "IMG_RECITATION_BLOCKED"),
    ("mock:empty_candidates", "IMG_UPSTREAM_ERROR"),
    ("mock:finish=MAX_TOKENS", "IMG_UPSTREAM_ERROR"),  # stopped before any text
])
def test_upstream_failure_falls_back(gateway, offline, mock, directive, code):
    prompt = unique_prompt("a quiet harbour", directive)
    r = enhance(gateway, {"prompt": prompt})
    assert r.status == 200, r
    body = r.json()
    assert body["fallback"] is True and body["model"] == "offline"
    assert body["prompt"] == prompt
    # the same text a gateway without a key gives for that prompt
    assert body["enhanced_prompt"] == offline_text(offline, prompt)
    # One call, not retried (the keyless gateway made none).  libcurl itself
    # re-sends once when a reused keep-alive connection dies before any byte.
    assert mock.count() == 1 or (directive == "mock:close" and mock.count() == 2)
    up = upstream_events(gateway, r)
    assert len(up) == 1 and up[0]["error_code"] == code, up
    req = request_event(gateway, r)
    assert req["status"] == 200 and "error_code" not in req
    assert req["provider"] == "gemini" and req["model"] == "offline"


def test_429_cools_the_key_and_later_calls_fall_back_at_once(make_gateway, mock):
    g = make_gateway({"gemini_base_url": mock.url, "gemini_api_key": "quota-key-1"})
    r = enhance(g, {"prompt": "a busy market"})
    assert r.status == 200 and r.json()["fallback"] is True, r
    assert mock.count() == 1
    label, (enabled, cooldown, last_error) = next(iter(accounts(g).items()))
    assert enabled == 1 and cooldown > time.time() + 20  # RetryInfo's 30 s
    assert "RESOURCE_EXHAUSTED" in last_error
    mock.reset()
    r = enhance(g, {"prompt": "a busy market"})
    assert r.status == 200 and r.json()["fallback"] is True, r
    assert mock.count() == 0  # the cooling key is not tried


def test_rejected_key_is_disabled_and_later_calls_fall_back(make_gateway, mock):
    g = make_gateway({"gemini_base_url": mock.url, "gemini_api_key": "invalid-key-1"})
    r = enhance(g, {"prompt": "a mountain hut"})
    assert r.status == 200 and r.json()["fallback"] is True, r
    enabled, _, last_error = accounts(g)["gemini-env-1"]
    assert enabled == 0 and "API_KEY_INVALID" in last_error
    listing = run_cli(g, "account", "list")
    assert "gemini-env-1" in listing.stdout
    mock.reset()
    r = enhance(g, {"prompt": "a mountain hut"})
    # a configured key that is disabled is a failure, not the offline setup
    assert r.status == 200 and r.json()["fallback"] is True, r
    assert mock.count() == 0
    # 403 (a leaked key) is a rejected key too
    g2 = make_gateway({"gemini_base_url": mock.url, "gemini_api_key": "leaked-key-1"})
    r = enhance(g2, {"prompt": "a mountain hut"})
    assert r.status == 200 and r.json()["fallback"] is True, r
    assert accounts(g2)["gemini-env-1"][0] == 0


def test_slow_upstream_times_out_into_the_fallback(make_gateway, mock):
    g = make_gateway({"gemini_base_url": mock.url, "gemini_api_key": "test-key-1",
                      "upstream_timeout_seconds": 1})
    t0 = time.time()
    r = enhance(g, {"prompt": "a slow river mock:delay=3"})
    took = time.time() - t0
    assert r.status == 200, r
    assert r.json()["fallback"] is True and r.json()["model"] == "offline"
    assert took < 2.8, took
    up = upstream_events(g, r)
    assert len(up) == 1 and up[0]["error_code"] == "IMG_UPSTREAM_TIMEOUT", up


def test_a_filtered_rewrite_is_not_handed_back(make_gateway, mock, tmp_path):
    listfile = tmp_path / "words.txt"
    listfile.write_text("morning\n")  # the mock's rewrite says "soft morning light"
    g = make_gateway({"gemini_base_url": mock.url, "gemini_api_key": "test-key-1",
                      "content_filter_file": str(listfile)})
    r = enhance(g, {"prompt": "a fox at noon"})
    assert r.status == 200, r
    assert r.json()["fallback"] is True and "morning" not in r.json()["enhanced_prompt"]
    assert mock.count() == 1


# ---- bad input, the content filter, access -----------------------------------------


@pytest.mark.parametrize("body, code, param", [
    ({}, "IMG_INVALID_PROMPT", "prompt"),
    ({"prompt": None}, "IMG_INVALID_PROMPT", "prompt"),
    ({"prompt": ""}, "IMG_INVALID_PROMPT", "prompt"),
    ({"prompt": " \n\t "}, "IMG_INVALID_PROMPT", "prompt"),
    ({"prompt": 5}, "IMG_INVALID_PROMPT", "prompt"),
    ({"prompt": ["a", "b"]}, "IMG_INVALID_PROMPT", "prompt"),
    ({"prompt": "a\u0000b"}, "IMG_INVALID_PROMPT", "prompt"),
    ({"prompt": "x" * 8001}, "IMG_INVALID_PROMPT", "prompt"),
    ({"prompt": "a fox", "model": 5}, "IMG_INVALID_REQUEST", "model"),
    ({"prompt": "a fox", "model": ""}, "IMG_INVALID_REQUEST", "model"),
    ("not json", "IMG_INVALID_REQUEST", None),
    ('{"prompt": "a", }', "IMG_INVALID_REQUEST", None),
    (["a fox"], "IMG_INVALID_REQUEST", None),
])
def test_bad_input_is_400_without_an_upstream_call(gateway, mock, body, code, param):
    r = enhance(gateway, body)
    assert_error(r, code, param=param)
    assert mock.count() == 0


def test_limit_counts_characters_not_bytes(offline):
    r = enhance(offline, {"prompt": "é" * 8000})
    assert r.status == 200, r
    assert len(r.json()["enhanced_prompt"]) <= 8000


def test_content_filter_refuses_before_any_call(gateway, mock):
    r = enhance(gateway, {"prompt": "a p0rn poster"})
    err = assert_error(r, "IMG_CONTENT_FILTERED", param="prompt")
    assert "p0rn" not in err["message"]
    assert mock.count() == 0
    ev = request_event(gateway, r)
    assert ev["error_code"] == "IMG_CONTENT_FILTERED" and "prompt_hash" in ev


def test_needs_a_key_when_anonymous_access_is_off(make_gateway, mock):
    g = make_gateway({"gemini_base_url": mock.url, "gemini_api_key": "test-key-1",
                      "allow_anonymous": "false"})
    assert_error(enhance(g, {"prompt": "a fox"}), "IMG_UNAUTHORIZED")
    assert_error(enhance(g, {"prompt": "a fox"}, {"Authorization": "Bearer nope"}),
                 "IMG_UNAUTHORIZED")
    assert mock.count() == 0
    out = run_cli(g, "key", "create", "--name", "enhancer")
    assert out.returncode == 0, out.stderr
    r = enhance(g, {"prompt": "a fox"}, {"Authorization": f"Bearer {out.stdout.strip()}"})
    assert r.status == 200 and r.json()["fallback"] is False, r
