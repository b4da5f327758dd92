"""POST /v1/prompts/enhance (SPEC 2.5) through lighttpd: a Gemini text model
when a key is usable (a Gemini API key, or a Vertex AI service account in the
order of gemini_providers), the deterministic offline rewrite when none is
configured, and a 200 with "fallback": true (the offline rewrite) whenever the
upstream fails — never a 5xx.  Bad input and the content filter are 400s that
cost no upstream call; the route needs a client key like generations."""
import os
import sqlite3
import time

import pytest

from conftest import Gateway, assert_error, run_cli, unique_prompt
from vertexutil import add, mock_post, service_account, settings, stats, vertex_calls

ROUTE = "/v1/prompts/enhance"
TEXT_MODEL = "gemini-2.5-flash"
VERTEX_TEXT_PATH = ("/v1/projects/proj-test/locations/global/publishers/google/models/"
                    f"{TEXT_MODEL}:generateContent")
ADMIN = "enhance-admin-key-0123456789"


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
    r = enhance(g, {"prompt": "a slow river mock:delay=6"})
    took = time.time() - t0
    assert r.status == 200, r
    assert r.json()["fallback"] is True and r.json()["model"] == "offline"
    # the 1 s timeout, not the mock's 6 s (room for a slow machine or valgrind)
    assert took < 4.5, took
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


# ---- through a Vertex AI account ---------------------------------------------------


@pytest.fixture
def vertex_only(make_gateway, mock, tmp_path):
    """A gateway whose only upstream is one Vertex account ('v1')."""
    mock_post(mock, "/_mock/vertex/config", {"expires_in": 3600, "token_status": 200})
    g = make_gateway(settings(mock, api_key=ADMIN, allow_anonymous="true"))
    add(g, "v1", service_account(tmp_path, mock, "v1"))
    return g


def upstream_metric(g, provider, status):
    """imagegw_upstream_requests_total for provider and status, once it is written
    (counts are flushed after the reply)."""
    line = f'imagegw_upstream_requests_total{{provider="{provider}",status="{status}"}} '
    deadline = time.time() + 10
    while True:
        r = g.get("/metrics", headers={"Authorization": f"Bearer {ADMIN}"})
        assert r.status == 200, r
        found = [ln for ln in r.body.decode().splitlines() if ln.startswith(line)]
        if found or time.time() > deadline:
            return float(found[0].split()[-1]) if found else 0.0
        time.sleep(0.05)


def test_a_vertex_account_alone_serves_the_text_model(vertex_only, mock):
    g = vertex_only
    prompt = unique_prompt("a red fox in the snow")
    r = enhance(g, {"prompt": prompt})
    assert r.status == 200, r
    # the model's rewrite, not the offline one, and no fallback
    assert r.json() == {"prompt": prompt, "enhanced_prompt": enhanced_by_mock(prompt),
                        "model": TEXT_MODEL, "fallback": False}
    calls = mock.requests()
    assert len(calls) == 1 and "vertex" in calls[0], calls
    rec = calls[0]
    assert rec["path"] == VERTEX_TEXT_PATH and rec["model"] == TEXT_MODEL
    assert rec["headers"]["authorization"].startswith("Bearer ya29.mock-")
    assert "x-goog-api-key" not in rec["headers"]
    # the same body as the Gemini API gets
    body = rec["body"]
    assert body["generationConfig"]["responseModalities"] == ["TEXT"]
    assert "imageConfig" not in body["generationConfig"]
    assert "120 words" in body["systemInstruction"]["parts"][0]["text"]
    assert body["contents"] == [{"role": "user", "parts": [{"text": prompt}]}]
    assert stats(mock)["tokens_issued"] == 1
    up = upstream_events(g, r)
    assert len(up) == 1, up
    assert up[0]["provider"] == "vertex" and up[0]["account"] == "v1"
    assert up[0]["model"] == TEXT_MODEL and up[0]["upstream_status"] == 200
    assert "error_code" not in up[0]
    req = request_event(g, r)
    assert req["provider"] == "vertex" and req["account"] == "v1"
    assert req["model"] == TEXT_MODEL and req["status"] == 200
    assert upstream_metric(g, "vertex", "200") == 1
    # the shared token is reused by the next call
    assert enhance(g, {"prompt": unique_prompt("a lighthouse")}).json()["fallback"] is False
    assert stats(mock)["tokens_issued"] == 1
    assert "ya29.mock-" not in g.log_text()


@pytest.mark.parametrize("gemini_key, verdict", [
    ("quota-key-1", "RESOURCE_EXHAUSTED"),  # cooling down after a 429
    ("invalid-key-1", "API_KEY_INVALID"),  # disabled
])
def test_vertex_serves_when_the_gemini_key_cannot(make_gateway, mock, tmp_path, gemini_key,
                                                  verdict):
    g = make_gateway(settings(mock, gemini_api_keys=gemini_key))
    add(g, "v1", service_account(tmp_path, mock, "v1"))
    # The Gemini key comes first and fails: the pool learns the key's state
    # and the same request moves on to the Vertex account.
    prompt = unique_prompt("a mountain hut")
    r = enhance(g, {"prompt": prompt})
    assert r.status == 200, r
    assert r.json()["fallback"] is False and r.json()["model"] == TEXT_MODEL, r
    assert r.json()["enhanced_prompt"] == enhanced_by_mock(prompt)
    assert [c["path"] for c in mock.requests()][1:] == [VERTEX_TEXT_PATH]
    assert mock.requests()[0]["path"].startswith("/v1beta/models/")
    assert [(e["provider"], e["account"], e["retry_count"]) for e in upstream_events(g, r)] == \
        [("gemini", "gemini-env-1", 0), ("vertex", "v1", 1)]
    enabled, cooldown, last_error = accounts(g)["gemini-env-1"]
    assert verdict in last_error
    assert (enabled == 1 and cooldown > time.time()) if verdict == "RESOURCE_EXHAUSTED" \
        else enabled == 0
    # Later calls pass the key over and go straight to Vertex.  (No
    # mock.reset() here: it would forget the tokens it issued.)
    n0 = len(mock.requests())
    prompt = unique_prompt("a mountain hut")
    r = enhance(g, {"prompt": prompt})
    assert r.status == 200 and r.json()["fallback"] is False, r
    assert [c["path"] for c in mock.requests()[n0:]] == [VERTEX_TEXT_PATH]
    assert [(e["provider"], e["account"]) for e in upstream_events(g, r)] == [("vertex", "v1")]


def test_a_cooling_gemini_key_hands_over_to_the_next(make_gateway, mock):
    """429 on the first key: the second key serves the same request; a 503
    is not retried (the rewrite is optional and must not hold the page)."""
    g = make_gateway(settings(mock, gemini_api_keys="quota-key-1,good-key-2"))
    prompt = unique_prompt("a harbour")
    r = enhance(g, {"prompt": prompt})
    assert r.status == 200 and r.json()["fallback"] is False, r
    assert r.json()["enhanced_prompt"] == enhanced_by_mock(prompt)
    assert [e["account"] for e in upstream_events(g, r)] == ["gemini-env-1", "gemini-env-2"]
    mock.reset()
    r = enhance(g, {"prompt": unique_prompt("a harbour", "mock:status=503")})
    assert r.status == 200 and r.json()["fallback"] is True, r
    assert mock.count() == 1


def test_vertex_first_when_gemini_providers_says_so(make_gateway, mock, tmp_path):
    g = make_gateway(settings(mock, gemini_api_keys="good-key-1",
                              gemini_providers="vertex,gemini"))
    add(g, "v1", service_account(tmp_path, mock, "v1"))
    r = enhance(g, {"prompt": unique_prompt("a harbour")})
    assert r.status == 200 and r.json()["fallback"] is False, r
    assert [c["path"] for c in mock.requests()] == [VERTEX_TEXT_PATH]


def test_a_revoked_vertex_token_is_refreshed_once(vertex_only, mock):
    g = vertex_only
    assert enhance(g, {"prompt": unique_prompt("before")}).json()["fallback"] is False
    mock_post(mock, "/_mock/vertex/revoke", {})
    prompt = unique_prompt("after revoke")
    r = enhance(g, {"prompt": prompt})
    assert r.status == 200, r
    assert r.json()["fallback"] is False and r.json()["enhanced_prompt"] == enhanced_by_mock(prompt)
    assert stats(mock)["tokens_issued"] == 2
    calls = vertex_calls(mock)[1:]
    assert [c["vertex"].get("refused", False) for c in calls] == [True, False]
    assert calls[0]["headers"]["authorization"] != calls[1]["headers"]["authorization"]
    up = upstream_events(g, r)
    assert [(e["provider"], e.get("upstream_status"), e.get("error_code"), e["retry_count"])
            for e in up] == [("vertex", 401, "IMG_UPSTREAM_AUTH", 0), ("vertex", 200, None, 1)]
    assert accounts(g)["v1"][0] == 1  # still enabled


def test_refused_again_after_a_refresh_disables_the_vertex_account(vertex_only, mock):
    g = vertex_only
    assert enhance(g, {"prompt": unique_prompt("ok first")}).json()["fallback"] is False
    mock_post(mock, "/_mock/vertex/config", {"refuse_calls": True})
    prompt = unique_prompt("refused")
    r = enhance(g, {"prompt": prompt})
    assert r.status == 200, r
    assert r.json()["fallback"] is True and r.json()["model"] == "offline"
    assert stats(mock)["tokens_issued"] == 2  # one refresh after the first 401, no more
    enabled, _, last_error = accounts(g)["v1"]
    assert enabled == 0 and "UNAUTHENTICATED" in last_error, last_error
    assert [e.get("upstream_status") for e in upstream_events(g, r)] == [401, 401]
    # a configured account that is disabled is a failure, not the offline setup
    mock.reset()
    r = enhance(g, {"prompt": prompt})
    assert r.status == 200 and r.json()["fallback"] is True, r
    assert mock.count() == 0


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
