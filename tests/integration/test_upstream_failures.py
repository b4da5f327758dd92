"""SPEC 3.6 (reading a Gemini answer) and 3.7 (upstream failures): each
upstream outcome the mock can produce, and the exact answer the client gets —
status, the seven envelope keys with the SPEC 4 type/category, Retry-After,
how many upstream calls were made — and that no internals leak."""
import itertools
import os
import sys
import time

import pytest

from conftest import ROOT, assert_error, decode_image, fetch_url, free_port

sys.path.insert(0, os.path.join(ROOT, "tests", "mock"))
import mock_gemini  # noqa: E402  (the mock's own image makers, to compare bytes)

_seq = itertools.count()

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def uniq(directives="", prompt="a stone bridge"):
    """A prompt nobody used before (mock:fail counters are per prompt text)."""
    return f"{prompt} #{next(_seq)} {directives}".strip()


def final_png(prompt, w=64, h=64):
    """The bytes of the final image the mock answers for `prompt`."""
    fg, bg = mock_gemini.prompt_colours(prompt)
    return mock_gemini.render_png(w, h, fg, bg)


def thought_png(prompt):
    fg, _ = mock_gemini.prompt_colours(prompt)
    return mock_gemini.render_png(32, 32, tuple(c // 2 for c in fg), (128, 128, 128))


def assert_no_internals(r, gateway=None, mock=None):
    """SPEC 4: paths, SQL and upstream keys never reach a response."""
    text = r.body.decode("utf-8", "replace")
    for secret in ("test-key-1", "invalid-key", "x-goog-api-key", "/tmp/", "/work/",
                   "/home/", "/usr/", ROOT, ".c:", "sqlite", "SELECT ", "curl"):
        assert secret not in text, (secret, text)
    if gateway is not None:
        assert gateway.dir not in text, text
    if mock is not None:
        assert mock.url not in text and f":{mock.port}" not in text, text


def fail(gateway, mock, directives, code, calls=None, prompt=None):
    """Sends a prompt carrying `directives`; checks the error `code` and, when
    given, how many upstream calls were made.  Returns the error object."""
    r = gateway.generate(prompt=prompt or uniq(directives))
    err = assert_error(r, code)
    assert_no_internals(r, gateway, mock)
    if calls is not None:
        assert mock.count() == calls, mock.requests()
    return r, err


def request_event(gateway, r):
    rid = r.header("x-request-id")
    evs = gateway.wait_log(lambda e: e.get("event") == "request" and e.get("request_id") == rid)
    assert len(evs) == 1, evs
    return evs[0]


def upstream_events(gateway, r):
    rid = r.header("x-request-id")
    return [e for e in gateway.log_events("upstream") if e.get("request_id") == rid]


# ---- SPEC 3.6: reading a successful answer ---------------------------------------

def test_thought_image_is_skipped(gateway, mock):
    p = uniq()
    r = gateway.generate(prompt=p)
    assert r.status == 200, r
    img = decode_image(r.json()["data"][0])
    assert img == final_png(p)
    assert img != thought_png(p)
    # the answer really had a thought image in it (otherwise this proves nothing)
    assert mock.count() == 1


def test_last_non_thought_image_wins(gateway, mock):
    p = uniq("mock:twoimages")
    r = gateway.generate(prompt=p)
    assert r.status == 200, r
    data = r.json()["data"]
    assert len(data) == 1
    img = decode_image(data[0])
    fg, bg = mock_gemini.prompt_colours(p)
    first = mock_gemini.render_png(64, 64, bg, (0, 0, 0))
    assert first != final_png(p)
    assert img == final_png(p)
    assert img != first and img != thought_png(p)


def test_answer_without_thoughts(gateway, mock):
    p = uniq("mock:nothought")
    r = gateway.generate(prompt=p)
    assert r.status == 200, r
    assert decode_image(r.json()["data"][0]) == final_png(p)


def test_jpeg_labelled_png_is_returned_as_jpeg(gateway, mock):
    r = gateway.generate(prompt=uniq("mock:jpeg"))
    assert r.status == 200, r
    img = decode_image(r.json()["data"][0])
    assert img[:3] == b"\xff\xd8\xff"
    assert img == mock_gemini.TINY_JPEG
    # the url form names and serves the sniffed type, not the upstream's label
    r = gateway.generate(prompt=uniq("mock:jpeg"), response_format="url")
    assert r.status == 200, r
    url = r.json()["data"][0]["url"]
    assert ".jpg?" in url, url
    f = fetch_url(gateway, url)
    assert f.status == 200 and f.header("content-type") == "image/jpeg"
    assert f.body == mock_gemini.TINY_JPEG


def test_webp_labelled_png_is_returned_as_webp(gateway, mock):
    r = gateway.generate(prompt=uniq("mock:webp"))
    assert r.status == 200, r
    img = decode_image(r.json()["data"][0])
    assert img[:4] == b"RIFF" and img[8:12] == b"WEBP"
    assert img == mock_gemini.TINY_WEBP
    r = gateway.generate(prompt=uniq("mock:webp"), response_format="url")
    url = r.json()["data"][0]["url"]
    assert ".webp?" in url, url
    f = fetch_url(gateway, url)
    assert f.header("content-type") == "image/webp" and f.body == mock_gemini.TINY_WEBP


def test_png_url_form(gateway, mock):
    p = uniq()
    r = gateway.generate(prompt=p, response_format="url")
    assert r.status == 200, r
    item = r.json()["data"][0]
    assert "b64_json" not in item
    assert item["url"].startswith(gateway.url + "/v1/files/"), item["url"]
    f = fetch_url(gateway, item["url"])
    assert f.status == 200 and f.header("content-type") == "image/png"
    assert f.body == final_png(p)


def test_large_image_arrives_whole(gateway, mock):
    p = uniq("mock:bytes=300000")
    r = gateway.generate(prompt=p)
    assert r.status == 200, r
    img = decode_image(r.json()["data"][0])
    assert img == mock_gemini.pad_png(final_png(p), 300000)
    assert len(img) >= 299000


# ---- SPEC 3.6: blocked and image-less answers --------------------------------------

@pytest.mark.parametrize("directive,finish", [
    ("mock:image_safety", "IMAGE_SAFETY"),
    ("mock:prohibited", "IMAGE_PROHIBITED_CONTENT"),
    ("mock:safety", "SAFETY"),
    ("mock:finish=PROHIBITED_CONTENT", "PROHIBITED_CONTENT"),
    ("mock:finish=BLOCKLIST", "BLOCKLIST"),
    ("mock:finish=SPII", "SPII"),
    ("mock:prompt_blocked", "SAFETY"),
    ("mock:prompt_blocked=PROHIBITED_CONTENT", "PROHIBITED_CONTENT"),
    ("mock:prompt_blocked=OTHER", "OTHER"),
])
def test_safety_blocks(gateway, mock, directive, finish):
    r, err = fail(gateway, mock, directive, "IMG_SAFETY_BLOCKED", calls=1)
    assert err["param"] is None
    ev = request_event(gateway, r)
    assert ev["finish_reason"] == finish
    assert ev["upstream_status"] == 200


def test_safety_block_carries_the_finish_message(gateway, mock):
    _, err = fail(gateway, mock, "mock:prohibited", "IMG_SAFETY_BLOCKED", calls=1)
    assert "Support code: 42876398" in err["message"], err


@pytest.mark.parametrize("directive", ["mock:recitation", "mock:text_recitation"])
def test_recitation_blocks(gateway, mock, directive):
    r, err = fail(gateway, mock, directive, "IMG_RECITATION_BLOCKED", calls=1)
    ev = request_event(gateway, r)
    assert ev["finish_reason"] == ("IMAGE_RECITATION" if directive == "mock:recitation"
                                   else "RECITATION")


@pytest.mark.parametrize("directive,text", [
    ("mock:no_image", "I can only describe it: a quiet scene."),
    ("mock:text_only", "Here is a description instead of an image."),
    ("mock:image_other", None),
    ("mock:empty_candidates", None),
    ("mock:finish=MAX_TOKENS", None),
])
def test_no_image(gateway, mock, directive, text):
    _, err = fail(gateway, mock, directive, "IMG_NO_IMAGE", calls=1)
    if text:
        assert text in err["message"], err
    if directive == "mock:image_other":
        assert "IMAGE_OTHER" in err["message"], err


# ---- SPEC 3.7: HTTP errors from the upstream ----------------------------------------

def test_invalid_key_is_upstream_auth(make_gateway, mock):
    g = make_gateway({"gemini_base_url": mock.url, "gemini_api_key": "invalid-key",
                      "retry_backoff_ms": 20})
    r, err = fail(g, mock, "", "IMG_UPSTREAM_AUTH", calls=1)
    # the mock really saw the bad key (and answered 400 API_KEY_INVALID)
    assert mock.requests()[0]["headers"]["x-goog-api-key"] == "invalid-key"
    assert "invalid-key" not in g.log_text()
    assert request_event(g, r)["upstream_status"] == 400


def test_key_invalid_directive_is_upstream_auth(gateway, mock):
    fail(gateway, mock, "mock:key_invalid", "IMG_UPSTREAM_AUTH", calls=1)


@pytest.mark.parametrize("status", [401, 403])
def test_401_403_are_upstream_auth(gateway, mock, status):
    r, _ = fail(gateway, mock, f"mock:status={status}", "IMG_UPSTREAM_AUTH", calls=1)
    assert request_event(gateway, r)["upstream_status"] == status


@pytest.mark.parametrize("directives,retry_after", [
    ("mock:status=429 mock:retry_delay=12.5", "13"),        # RetryInfo, rounded up
    ("mock:status=429", "30"),                              # Google's default RetryInfo
    ("mock:status=429 mock:no_details mock:retry_after=7", "7"),  # header only
    ("mock:status=429 mock:retry_delay=4 mock:retry_after=50", "4"),  # RetryInfo first
    ("mock:status=429 mock:no_details", "60"),              # neither
])
def test_quota_exhausted(gateway, mock, directives, retry_after):
    r, _ = fail(gateway, mock, directives, "IMG_QUOTA_EXHAUSTED", calls=1)
    assert r.header("retry-after") == retry_after, r.headers


def test_503_is_retried_then_upstream_error(gateway, mock):
    r, _ = fail(gateway, mock, "mock:status=503", "IMG_UPSTREAM_ERROR", calls=3)
    assert request_event(gateway, r)["retry_count"] == 2
    assert [e["upstream_status"] for e in upstream_events(gateway, r)] == [503, 503, 503]


def test_500_is_retried_then_upstream_error(gateway, mock):
    fail(gateway, mock, "mock:status=500", "IMG_UPSTREAM_ERROR", calls=3)


def test_502_html_page_is_upstream_error(gateway, mock):
    fail(gateway, mock, "mock:status=502", "IMG_UPSTREAM_ERROR")


def test_504_is_retried_then_timeout(gateway, mock):
    fail(gateway, mock, "mock:status=504", "IMG_UPSTREAM_TIMEOUT", calls=3)


@pytest.mark.parametrize("k", [1, 2])
def test_transient_503_recovers(gateway, mock, k):
    p = uniq(f"mock:fail=503x{k}")
    r = gateway.generate(prompt=p)
    assert r.status == 200, r
    assert decode_image(r.json()["data"][0]) == final_png(p)
    assert mock.count() == k + 1
    ev = request_event(gateway, r)
    assert ev["status"] == 200
    assert ev["retry_count"] == k
    ups = upstream_events(gateway, r)
    assert [e["upstream_status"] for e in ups] == [503] * k + [200]
    assert [e["retry_count"] for e in ups] == list(range(k + 1))


def test_three_503s_exhaust_retry_max(gateway, mock):
    fail(gateway, mock, "mock:fail=503x3", "IMG_UPSTREAM_ERROR", calls=3)


@pytest.mark.parametrize("directive,message", [
    ("mock:status=400", "Multiple candidates is not enabled for models/gemini-3-pro-image-preview"),
    ("mock:location", "User location is not supported for the API use."),
])
def test_other_400_is_invalid_request_with_upstream_message(gateway, mock, directive, message):
    _, err = fail(gateway, mock, directive, "IMG_INVALID_REQUEST", calls=1)
    assert message in err["message"], err


def test_404_from_upstream_is_upstream_error(gateway, mock):
    fail(gateway, mock, "mock:status=404", "IMG_UPSTREAM_ERROR", calls=1)


# ---- SPEC 3.7: transport failures ------------------------------------------------------

def test_truncated_body_is_network_error(gateway, mock):
    r, _ = fail(gateway, mock, "mock:truncated", "IMG_NETWORK_ERROR", calls=3)
    assert request_event(gateway, r)["retry_count"] == 2
    assert len(upstream_events(gateway, r)) == 3


def test_closed_connection_is_network_error(gateway, mock):
    # warm the keep-alive pool so the closing calls may land on reused connections
    assert gateway.generate(prompt=uniq(), n=3).status == 200
    mock.reset()
    r, _ = fail(gateway, mock, "mock:close", "IMG_NETWORK_ERROR")
    assert request_event(gateway, r)["retry_count"] == 2
    ups = upstream_events(gateway, r)
    assert len(ups) == 3, ups
    assert all(e["error_code"] == "IMG_NETWORK_ERROR" for e in ups)
    # three attempts; libcurl re-sends once by itself when a reused keep-alive
    # connection dies before any answer byte, so the mock sees 3 to 6 calls
    assert 3 <= mock.count() <= 6, mock.count()


def test_garbage_body_is_upstream_error(gateway, mock):
    fail(gateway, mock, "mock:garbage", "IMG_UPSTREAM_ERROR")


def test_slow_reply_times_out(make_gateway, mock):
    g = make_gateway({"gemini_base_url": mock.url, "gemini_api_key": "test-key-1",
                      "retry_backoff_ms": 20, "upstream_timeout_seconds": 1})
    t0 = time.monotonic()
    r, _ = fail(g, mock, "mock:delay=6", "IMG_UPSTREAM_TIMEOUT", calls=1)
    elapsed = time.monotonic() - t0
    assert 0.9 <= elapsed < 4.0, elapsed  # the 1 s timeout, not the mock's 6 s
    # a body that trickles in past the deadline times out the same way
    t0 = time.monotonic()
    fail(g, mock, "mock:slow_body=6", "IMG_UPSTREAM_TIMEOUT", calls=2)
    elapsed = time.monotonic() - t0
    assert 0.9 <= elapsed < 4.0, elapsed
    # and a reply inside the deadline is fine
    p = uniq("mock:delay=0.3")
    r = g.generate(prompt=p)
    assert r.status == 200, r
    assert decode_image(r.json()["data"][0]) == final_png(p)


def test_connection_refused_is_network_error(make_gateway, mock):
    dead = free_port()  # nothing listens here
    g = make_gateway({"gemini_base_url": f"http://127.0.0.1:{dead}",
                      "gemini_api_key": "test-key-1", "retry_backoff_ms": 20})
    r = g.generate(prompt=uniq())
    assert_error(r, "IMG_NETWORK_ERROR")
    assert_no_internals(r, g)
    assert str(dead) not in r.body.decode()
    ups = upstream_events(g, r)
    assert len(ups) == 3, ups  # retried retry_max times
    assert all(e["error_code"] == "IMG_NETWORK_ERROR" for e in ups)
    assert request_event(g, r)["retry_count"] == 2
    assert mock.count() == 0
