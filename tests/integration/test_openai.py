"""The openai provider (SPEC 3.8) through lighttpd, against the OpenAI half of
the mock (tests/mock/mock_openai.py): models listed only when configured,
what each model is sent (sizes, quality, style, response_format, n = 1 per
image), b64 and url answers (links fetched, cached and never handed out),
every error mapping, the key pool (429 rotation, rejected keys disabled, out
of credit), field checks and the logs."""
import base64
import os
import sqlite3
import time

import pytest

from conftest import Gateway, assert_error, decode_image, fetch_url, http, unique_prompt
from conftest import run_cli as cli

PNG = b"\x89PNG\r\n\x1a\n"
OPENAI_IDS = {"dall-e-2", "dall-e-3", "gpt-image-1"}


def base_settings(mock, **extra):
    s = {"openai_base_url": mock.url, "retry_backoff_ms": 20, "upstream_timeout_seconds": 5,
         "openai_models": "gpt-image-1-mini"}
    s.update(extra)
    return s


@pytest.fixture(scope="module")
def gw(mock):
    """A gateway with only an OpenAI upstream, its key from OPENAI_API_KEY."""
    g = Gateway(base_settings(mock), env={"OPENAI_API_KEY": "sk-test-openai-1"})
    yield g
    problems = g.stop()
    assert not problems, "sanitizer reports:\n" + "\n".join(problems)


def calls(mock):
    """What the gateway sent to the OpenAI mock, oldest first."""
    return [r for r in mock.requests() if r.get("provider") == "openai"]


def fetches(mock):
    return http(mock.port, "GET", "/_mock/openai/fetches").json()["total"]


def accounts(g):
    db = sqlite3.connect(os.path.join(g.dir, "var", "imagegw.db"))
    try:
        return {row[0]: row[1:] for row in db.execute(
            "SELECT label, provider, enabled, disabled_reason, cooldown_until, last_error "
            "FROM accounts")}
    finally:
        db.close()


def request_event(g, r):
    rid = r.header("x-request-id")
    evs = g.wait_log(lambda e: e.get("event") == "request" and e.get("request_id") == rid)
    assert evs, rid
    return evs[0]


def upstream_events(g, r):
    rid = r.header("x-request-id")
    return [e for e in g.log_events("upstream") if e.get("request_id") == rid]


# --- models ---------------------------------------------------------------------------


def test_models_listed_when_configured(gw):
    data = gw.get("/v1/models").json()["data"]
    owned = {m["id"]: m["owned_by"] for m in data}
    for mid in OPENAI_IDS | {"gpt-image-1-mini"}:
        assert owned.get(mid) == "openai", owned
    assert not any(m.startswith("gemini") for m in owned)
    assert gw.get("/healthz").json()["upstreams"]["openai"] == "configured"


def test_models_not_listed_without_a_key(gateway, mock):
    ids = {m["id"] for m in gateway.get("/v1/models").json()["data"]}
    assert not ids & OPENAI_IDS
    r = gateway.generate(prompt="a fox", model="dall-e-3")
    err = assert_error(r, "IMG_UNKNOWN_MODEL", param="model")
    assert "OpenAI API key" in err["message"]
    assert calls(mock) == []


def test_pool_account_alone_makes_openai_available(make_gateway, mock):
    g = make_gateway({"openai_base_url": mock.url, "cache_backend": "none"})
    assert not {m["id"] for m in g.get("/v1/models").json()["data"]} & OPENAI_IDS
    keyfile = os.path.join(g.dir, "oa-key")
    with open(keyfile, "w") as f:
        f.write("sk-from-the-pool\n")
    r = cli(g, "account", "add", "--provider", "openai", "--label", "oa-file", "--key-file", keyfile)
    assert r.returncode == 0, r.stderr
    # New responders see the account (as for Gemini keys added with the CLI).
    g2 = make_gateway({"openai_base_url": mock.url, "cache_backend": "none",
                       "data_dir": os.path.join(g.dir, "var")})
    assert OPENAI_IDS <= {m["id"] for m in g2.get("/v1/models").json()["data"]}
    r = g2.generate(prompt=unique_prompt("pool only"))  # default model: gpt-image-1
    assert r.status == 200, r
    assert r.header("x-imagegw-model") == "gpt-image-1"
    (c,) = calls(mock)
    assert c["headers"]["authorization"] == "Bearer sk-from-the-pool"
    assert request_event(g2, r)["account"] == "oa-file"


# --- what is sent, what comes back -------------------------------------------------------


def test_dalle3_generation_b64(gw, mock):
    prompt = unique_prompt("a lighthouse at dusk")
    r = gw.generate(prompt=prompt, model="dall-e-3", size="1792x1024", quality="hd",
                    style="natural", user="client-7")
    assert r.status == 200, r
    body = r.json()
    (item,) = body["data"]
    assert decode_image(item).startswith(PNG)
    # Our revised_prompt is what we sent, not dall-e-3's own rewrite.
    assert item["revised_prompt"] == prompt
    assert r.header("x-imagegw-model") == "dall-e-3"
    assert r.header("x-imagegw-aspect-ratio") == "7:4"
    assert r.header("x-imagegw-image-size") == "2K"
    assert r.header("x-imagegw-size") == "1792x1024"
    assert r.header("x-imagegw-cache") == "miss"
    (c,) = calls(mock)
    assert c["path"] == "/v1/images/generations"
    assert c["headers"]["authorization"] == "Bearer sk-test-openai-1"
    assert c["body"] == {"model": "dall-e-3", "prompt": prompt, "n": 1, "size": "1792x1024",
                         "quality": "hd", "style": "natural", "response_format": "b64_json",
                         "user": "client-7"}


def test_gpt_image_fields(gw, mock):
    prompt = unique_prompt("a paper crane")
    r = gw.generate(prompt=prompt, model="gpt-image-1", quality="standard", style="vivid",
                    aspect_ratio="16:9")
    assert r.status == 200, r
    (c,) = calls(mock)
    b = c["body"]
    # No style or response_format field: the mock refuses them, as OpenAI does.
    assert set(b) == {"model", "prompt", "n", "size", "quality"}
    assert b["quality"] == "medium" and b["size"] == "1536x1024" and b["n"] == 1
    # style became the SPEC 3.4 clause, and the revised prompt is what was sent.
    assert b["prompt"].startswith(prompt + ". vivid saturated colour")
    assert r.json()["data"][0]["revised_prompt"] == b["prompt"]
    assert r.header("x-imagegw-aspect-ratio") == "3:2"


def test_dalle2_and_an_extra_model(gw, mock):
    r = gw.generate(prompt=unique_prompt("tiny icon"), model="dall-e-2", size="300x300")
    assert r.status == 200, r
    assert calls(mock)[-1]["body"]["size"] == "256x256"
    assert r.header("x-imagegw-size") == "256x256"
    r = gw.generate(prompt=unique_prompt("mini"), model="gpt-image-1-mini", size="auto")
    assert r.status == 200, r
    c = calls(mock)[-1]
    assert c["body"]["model"] == "gpt-image-1-mini" and c["body"]["size"] == "auto"
    assert r.header("x-imagegw-aspect-ratio") == "auto"
    assert r.header("x-imagegw-image-size") == "auto"


def test_base_url_with_v1(make_gateway, mock):
    g = make_gateway(base_settings(mock, openai_base_url=mock.url + "/v1/",
                                   openai_api_key="sk-v1"))
    assert g.generate(prompt=unique_prompt("v1 base"), model="dall-e-3").status == 200
    assert calls(mock)[0]["path"] == "/v1/images/generations"


def test_response_format_url_is_the_gateways(gw, mock):
    r = gw.generate(prompt=unique_prompt("a red kite"), model="dall-e-3", response_format="url")
    assert r.status == 200, r
    url = r.json()["data"][0]["url"]
    assert url.startswith(gw.url + "/v1/files/"), url
    f = fetch_url(gw, url)
    assert f.status == 200 and f.body.startswith(PNG)


def test_n3_runs_in_parallel(gw, mock):
    prompt = unique_prompt("three owls", "mock:delay=1")
    t0 = time.monotonic()
    r = gw.generate(prompt=prompt, model="dall-e-3", n=3)
    elapsed = time.monotonic() - t0
    assert r.status == 200, r
    assert len(r.json()["data"]) == 3
    cs = calls(mock)
    assert len(cs) == 3 and all(c["body"]["n"] == 1 for c in cs)
    assert elapsed < 2.5, elapsed  # three 1 s calls at once, not one after another
    assert r.json()["usage"] == {"images": 3, "cached": 0}


def test_url_answer_is_fetched_and_cached(gw, mock):
    prompt = unique_prompt("a linked picture", "mock:url")
    r = gw.generate(prompt=prompt, model="gpt-image-1")
    assert r.status == 200, r
    assert b"_mock/openai/files" not in r.body  # never the upstream's link
    img = decode_image(r.json()["data"][0])
    assert img.startswith(PNG)
    assert len(calls(mock)) == 1 and fetches(mock) == 1
    ups = upstream_events(gw, r)
    assert [e.get("step") for e in ups] == [None, "fetch"]
    # The same request again: from the cache, no call and no fetch.
    r2 = gw.generate(prompt=prompt, model="gpt-image-1")
    assert r2.status == 200 and r2.header("x-imagegw-cache") == "hit"
    assert decode_image(r2.json()["data"][0]) == img
    assert len(calls(mock)) == 1 and fetches(mock) == 1
    # As a link: the gateway's own.
    r3 = gw.generate(prompt=prompt, model="gpt-image-1", response_format="url")
    url = r3.json()["data"][0]["url"]
    assert url.startswith(gw.url + "/v1/files/") and fetch_url(gw, url).body == img


@pytest.mark.parametrize("directive,code", [
    ("mock:url=404", "IMG_UPSTREAM_ERROR"),
    ("mock:url=garbage", "IMG_UPSTREAM_ERROR"),
    ("mock:url=https", "IMG_UPSTREAM_ERROR"),  # nothing listens there
])
def test_bad_links(gw, mock, directive, code):
    r = gw.generate(prompt=unique_prompt("bad link", directive), model="dall-e-3")
    err = assert_error(r, code)
    assert "127.0.0.1" not in err["message"] and "_mock" not in err["message"]
    assert len(calls(mock)) == 1  # the generation is not repeated for a bad link


def test_data_uri_and_jpeg_answers(gw, mock):
    r = gw.generate(prompt=unique_prompt("inline", "mock:url=data"), model="dall-e-3")
    assert r.status == 200 and decode_image(r.json()["data"][0]).startswith(PNG)
    r = gw.generate(prompt=unique_prompt("jpeg", "mock:jpeg"), model="gpt-image-1",
                    response_format="url")
    assert r.status == 200
    url = r.json()["data"][0]["url"]
    assert ".jpg?" in url  # sniffed, not labelled
    r = gw.generate(prompt=unique_prompt("wrapped", "mock:linebreaks"), model="gpt-image-1")
    assert r.status == 200 and decode_image(r.json()["data"][0]).startswith(PNG)


# --- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["dall-e-3", "gpt-image-1"])
def test_content_policy_is_safety_blocked(gw, mock, model):
    r = gw.generate(prompt=unique_prompt("forbidden", "mock:policy"), model=model)
    err = assert_error(r, "IMG_SAFETY_BLOCKED")
    assert "safety system" in err["message"]
    ev = request_event(gw, r)
    assert ev["finish_reason"] in ("content_policy_violation", "moderation_blocked")
    assert ev["error_code"] == "IMG_SAFETY_BLOCKED" and ev["upstream_status"] == 400
    assert len(calls(mock)) == 1  # not retried
    assert accounts(gw)["openai-env-1"][0:2] == ("openai", 1)  # the key is fine


def test_other_400_passes_the_message(gw, mock):
    r = gw.generate(prompt=unique_prompt("refuse", "mock:status=400"), model="dall-e-3")
    err = assert_error(r, "IMG_INVALID_REQUEST")
    assert "the mock was told to refuse it" in err["message"]
    assert len(calls(mock)) == 1


@pytest.mark.parametrize("directive,code", [
    ("mock:garbage", "IMG_UPSTREAM_ERROR"),
    ("mock:empty", "IMG_NO_IMAGE"),
    ("mock:notimage", "IMG_UPSTREAM_ERROR"),
    ("mock:garbled", "IMG_UPSTREAM_ERROR"),
    ("mock:status=504", "IMG_UPSTREAM_TIMEOUT"),
    ("mock:status=404", "IMG_UPSTREAM_ERROR"),
])
def test_bad_answers(gw, mock, directive, code):
    r = gw.generate(prompt=unique_prompt("bad answer", directive), model="gpt-image-1")
    assert_error(r, code)


def test_server_errors_retry_then_fail(gw, mock):
    r = gw.generate(prompt=unique_prompt("flaky", "mock:fail=503x1"), model="dall-e-3")
    assert r.status == 200, r
    assert len(calls(mock)) == 2
    assert request_event(gw, r)["retry_count"] == 1
    mock.reset()
    r = gw.generate(prompt=unique_prompt("down", "mock:status=500"), model="dall-e-3")
    assert_error(r, "IMG_UPSTREAM_ERROR")
    assert len(calls(mock)) == 3  # retry_max = 2
    assert request_event(gw, r)["retry_count"] == 2


def test_timeout(make_gateway, mock):
    g = make_gateway(base_settings(mock, upstream_timeout_seconds=1, retry_max=0,
                                   openai_api_key="sk-slow"))
    r = g.generate(prompt=unique_prompt("slow", "mock:delay=2.5"), model="dall-e-3")
    assert_error(r, "IMG_UPSTREAM_TIMEOUT")


def test_429_cools_the_key_for_the_reset_it_names(gw, mock):
    r = gw.generate(prompt=unique_prompt("busy", "mock:status=429 mock:reset=17s"),
                    model="dall-e-3")
    assert_error(r, "IMG_QUOTA_EXHAUSTED")
    assert 15 <= int(r.header("retry-after")) <= 17
    label, cool = "openai-env-1", accounts(gw)["openai-env-1"][3]
    assert cool > time.time() + 10, label
    # retry-after-ms wins over the reset headers.
    gw.reset_pool()
    r = gw.generate(prompt=unique_prompt("busy", "mock:status=429 mock:retry_after_ms=3"),
                    model="dall-e-3")
    assert_error(r, "IMG_QUOTA_EXHAUSTED")
    assert r.header("retry-after") == "3"


def test_429_rotates_to_another_key(make_gateway, mock):
    g = make_gateway(base_settings(mock, cache_backend="none"),
                     env={"OPENAI_API_KEY": "ratelimited-env-key"})
    keyfile = os.path.join(g.dir, "second")
    with open(keyfile, "w") as f:
        f.write("sk-second-good\n")
    # The command line must see the same environment as the responders, or
    # its pool sync would drop openai-env-1 (as for GEMINI_API_KEY).
    assert cli(g, "account", "add", "--provider", "openai", "--label", "oa-second",
               "--key-file", keyfile, env={"OPENAI_API_KEY": "ratelimited-env-key"}).returncode == 0
    r = g.generate(prompt=unique_prompt("rotate"), model="dall-e-3")
    assert r.status == 200, r
    assert [c["headers"]["authorization"] for c in calls(mock)] == [
        "Bearer ratelimited-env-key", "Bearer sk-second-good"]
    acc = accounts(g)
    assert acc["openai-env-1"][3] > time.time() + 10  # the mock's reset: 20 s
    assert "rate_limit_exceeded" in acc["openai-env-1"][4]
    ev = request_event(g, r)
    assert ev["account"] == "oa-second" and ev["retry_count"] == 1 and ev["provider"] == "openai"


def test_invalid_key_is_disabled(make_gateway, mock):
    g = make_gateway(base_settings(mock), env={"OPENAI_API_KEY": "invalid-openai-key-123"})
    r = g.generate(prompt=unique_prompt("bad key"), model="gpt-image-1")
    assert_error(r, "IMG_UPSTREAM_AUTH")
    assert "invalid-openai" not in r.body.decode() and "*****" not in r.body.decode()
    out = cli(g, "account", "list", env={"OPENAI_API_KEY": "invalid-openai-key-123"}).stdout
    assert "openai-env-1" in out and "disabled: HTTP 401 invalid_api_key" in out
    assert "invalid-openai-key" not in out and "*****" not in out
    # Disabled: the next request does not call upstream at all.
    mock.reset()
    assert_error(g.generate(prompt=unique_prompt("again"), model="gpt-image-1"),
                 "IMG_UPSTREAM_AUTH")
    assert calls(mock) == []
    assert "invalid-openai-key" not in g.log_text()


@pytest.mark.parametrize("key", ["quota-openai-key", "billing-openai-key"])
def test_out_of_credit_rests_the_key_an_hour(make_gateway, mock, key):
    g = make_gateway(base_settings(mock), env={"OPENAI_API_KEY": key})
    r = g.generate(prompt=unique_prompt("no credit"), model="dall-e-3")
    err = assert_error(r, "IMG_QUOTA_EXHAUSTED")
    assert 3590 <= int(r.header("retry-after")) <= 3600
    assert "credit" in err["message"]
    acc = accounts(g)["openai-env-1"]
    assert acc[1] == 1 and acc[3] > time.time() + 3500  # cooling, not disabled
    assert "cooling until" in cli(g, "account", "list", env={"OPENAI_API_KEY": key}).stdout


# --- field checks -----------------------------------------------------------------------


def test_prompt_too_long_for_the_model(gw, mock):
    r = gw.generate(prompt="a" * 4001, model="dall-e-3")
    err = assert_error(r, "IMG_INVALID_PROMPT", param="prompt")
    assert "4000" in err["message"]
    assert calls(mock) == []
    assert gw.generate(prompt=unique_prompt("b" * 4001), model="gpt-image-1").status == 200


def test_gemini_and_openai_side_by_side(make_gateway, mock):
    g = make_gateway({"gemini_base_url": mock.url, "gemini_api_key": "good-gemini",
                      "openai_base_url": mock.url, "openai_api_key": "sk-both"})
    ids = {m["id"] for m in g.get("/v1/models").json()["data"]}
    assert "gemini-3-pro-image" in ids and OPENAI_IDS <= ids
    a = g.generate(prompt="same prompt for both")
    b = g.generate(prompt="same prompt for both", model="gpt-image-1")
    assert a.status == b.status == 200
    assert a.header("x-imagegw-model").startswith("gemini-3-pro-image")
    # Different providers never share a cache entry.
    assert b.header("x-imagegw-cache") == "miss"
    assert decode_image(a.json()["data"][0]) != decode_image(b.json()["data"][0])


# --- logs ---------------------------------------------------------------------------------


def test_logs_name_the_provider(gw, mock):
    r = gw.generate(prompt=unique_prompt("logged"), model="dall-e-3", quality="hd")
    assert r.status == 200
    ev = request_event(gw, r)
    assert ev["provider"] == "openai" and ev["model"] == "dall-e-3"
    assert ev["account"] == "openai-env-1" and ev["retry_count"] == 0
    assert ev["aspect_ratio"] == "1:1" and ev["resolution"] == "1K"
    (up,) = upstream_events(gw, r)
    assert up["provider"] == "openai" and up["model"] == "dall-e-3"
    assert up["account"] == "openai-env-1" and up["upstream_status"] == 200
    assert "sk-test-openai-1" not in gw.log_text()
