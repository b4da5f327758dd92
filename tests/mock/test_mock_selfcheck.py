"""Self-check of tests/mock/mock_gemini.py: start it, call it, check the wire shapes.

Run: python3 -m pytest -q tests/mock/test_mock_selfcheck.py   (stdlib + pytest only)
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import pathlib
import re
import select
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import zlib

import pytest

HERE = pathlib.Path(__file__).resolve().parent
MOCK = HERE / "mock_gemini.py"
DOC = HERE.parent.parent / "docs" / "mock-upstream.md"
MODEL = "gemini-3-pro-image-preview"

sys.path.insert(0, str(HERE))
import mock_gemini  # noqa: E402  (for the directive table only)


# ---- fixtures and helpers ---------------------------------------------------


@pytest.fixture(scope="module")
def mock(tmp_path_factory):
    """Base URL of a running mock; checks it exits 0 on SIGTERM."""
    log = tmp_path_factory.mktemp("mock") / "stderr.log"
    port_file = log.parent / "port"
    with open(log, "wb") as err:
        proc = subprocess.Popen([sys.executable, str(MOCK), "--port", "0", "--port-file", str(port_file)],
                                stdout=subprocess.PIPE, stderr=err)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 10)
        assert ready, "mock did not print its port within 10 s"
        line = proc.stdout.readline().decode()
        match = re.fullmatch(r"PORT (\d+)\n", line)
        assert match, f"unexpected first line {line!r}"
        assert port_file.read_text().strip() == match.group(1)
        yield f"http://127.0.0.1:{match.group(1)}"
    finally:
        proc.terminate()
        try:
            code = proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert code == 0, log.read_text()


@pytest.fixture(autouse=True)
def reset(mock):
    call(mock, "POST", "/_mock/reset")


def call(base, method, path, body=None, headers=None, timeout=10):
    """(status, headers, parsed JSON or raw bytes) for one request."""
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(base + path, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, hdrs, raw = resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        status, hdrs, raw = err.code, err.headers, err.read()
    try:
        return status, hdrs, json.loads(raw)
    except ValueError:
        return status, hdrs, raw


def generate(base, prompt, key="test-key", gen_config=None, extra_parts=(), model=MODEL, **kw):
    body = {"contents": [{"role": "user", "parts": [{"text": prompt}, *extra_parts]}]}
    if gen_config is not None:
        body["generationConfig"] = gen_config
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["x-goog-api-key"] = key
    return call(base, "POST", f"/v1beta/models/{model}:generateContent", body, headers, **kw)


def parts_of(body):
    return body["candidates"][0]["content"]["parts"]


def answer_image(body):
    """Bytes of the last non-thought inlineData part, as a gateway must pick it."""
    images = [p for p in parts_of(body) if "inlineData" in p and not p.get("thought")]
    return images[-1]["inlineData"]["mimeType"], base64.b64decode(images[-1]["inlineData"]["data"])


def png_chunks(data):
    """[(type, length)] after checking signature and every CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, []
    while pos < len(data):
        length, tag = struct.unpack(">I4s", data[pos:pos + 8])
        payload = data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert zlib.crc32(tag + payload) & 0xFFFFFFFF == crc, tag
        chunks.append((tag, length))
        pos += 12 + length
    assert chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND"
    return chunks


def error_detail(body, kind):
    return [d for d in body["error"].get("details", []) if d["@type"].endswith("." + kind)]


# ---- success answers ----------------------------------------------------------


def test_default_success_has_thoughts_and_png_answer(mock):
    status, hdrs, body = generate(mock, "a watercolor fox")
    assert status == 200 and hdrs["Content-Type"].startswith("application/json")
    parts = parts_of(body)
    thoughts = [p for p in parts if p.get("thought")]
    assert [("text" in p, "inlineData" in p) for p in thoughts] == [(True, False), (False, True)]
    assert all("thoughtSignature" not in p for p in thoughts)
    assert all("thoughtSignature" in p for p in parts if not p.get("thought"))
    mime, final = answer_image(body)
    assert mime == "image/png"
    png_chunks(final)
    interim = base64.b64decode(thoughts[1]["inlineData"]["data"])
    assert interim != final
    cand = body["candidates"][0]
    assert cand["finishReason"] == "STOP"
    assert body["modelVersion"] == MODEL and body["responseId"]
    assert {"modality": "IMAGE", "tokenCount": 1120} in body["usageMetadata"]["candidatesTokensDetails"]
    _, _, other = generate(mock, "a different prompt")
    assert answer_image(other)[1] != final


def test_4k_usage_and_nothought(mock):
    _, _, body = generate(mock, "poster mock:nothought", gen_config={"imageConfig": {"imageSize": "4K"}})
    assert not any(p.get("thought") for p in parts_of(body))
    assert {"modality": "IMAGE", "tokenCount": 2000} in body["usageMetadata"]["candidatesTokensDetails"]


def test_jpeg_bytes_labelled_png(mock):
    _, _, body = generate(mock, "a cat mock:jpeg")
    mime, data = answer_image(body)
    assert mime == "image/png" and data[:3] == b"\xff\xd8\xff" and data[-2:] == b"\xff\xd9"


def test_webp_bytes_labelled_png(mock):
    mime, data = answer_image(generate(mock, "a cat mock:webp")[2])
    assert mime == "image/png" and data[:4] == b"RIFF" and data[8:15] == b"WEBPVP8"
    assert struct.unpack("<I", data[4:8])[0] == len(data) - 8


def test_bytes_pads_a_valid_png(mock):
    data = answer_image(generate(mock, "big mock:bytes=200000")[2])[1]
    assert abs(len(data) - 200000) < 64
    assert b"mkPd" in [tag for tag, _ in png_chunks(data)]


def test_twoimages_last_one_is_different(mock):
    images = [p for p in parts_of(generate(mock, "x mock:twoimages mock:nothought")[2]) if "inlineData" in p]
    assert len(images) == 2 and images[0]["inlineData"]["data"] != images[1]["inlineData"]["data"]


def test_text_model_answers_with_text(mock):
    text_model = "gemini-2.5-flash"
    status, _, body = generate(mock, "a red fox mock:nothought", model=text_model,
                               gen_config={"responseModalities": ["TEXT"], "temperature": 0.7})
    assert status == 200, body
    assert parts_of(body) == [{"text": "Enhanced: a red fox \u2014 with soft morning light, detailed"}]
    assert body["modelVersion"] == text_model
    status, _, body = generate(mock, "a red fox", model=text_model,
                               gen_config={"thinkingConfig": {"includeThoughts": True}})
    assert [p.get("thought", False) for p in parts_of(body)] == [True, False]
    status, _, body = generate(mock, "a red fox", model=text_model,
                               gen_config={"responseModalities": ["TEXT", "IMAGE"]})
    assert status == 400 and "only supports text output" in body["error"]["message"]
    status, _, body = generate(mock, "a red fox mock:status=503", model=text_model)
    assert status == 503 and body["error"]["status"] == "UNAVAILABLE"


# ---- blocks (HTTP 200) ----------------------------------------------------------


@pytest.mark.parametrize("directive,reason", [
    ("image_safety", "IMAGE_SAFETY"), ("prohibited", "IMAGE_PROHIBITED_CONTENT"),
    ("recitation", "IMAGE_RECITATION"), ("no_image", "NO_IMAGE"), ("finish=SPII", "SPII"),
])
def test_blocked_finish_reasons(mock, directive, reason):
    status, _, body = generate(mock, f"x mock:{directive}")
    assert status == 200 and body["candidates"][0]["finishReason"] == reason
    assert not any("inlineData" in p for p in body["candidates"][0]["content"].get("parts", []))


def test_prompt_blocked_has_no_candidates(mock):
    _, _, body = generate(mock, "x mock:prompt_blocked=PROHIBITED_CONTENT")
    assert "candidates" not in body and body["promptFeedback"]["blockReason"] == "PROHIBITED_CONTENT"


# ---- errors -----------------------------------------------------------------------


def test_429_retry_info_and_modifiers(mock):
    status, _, body = generate(mock, "x mock:status=429")
    assert status == 429 and body["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert error_detail(body, "RetryInfo") == [
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "30s"}]
    status, hdrs, body = generate(mock, "x mock:status=429 mock:retry_delay=2.5 mock:retry_after=3")
    assert error_detail(body, "RetryInfo")[0]["retryDelay"] == "2.5s" and hdrs["Retry-After"] == "3"
    _, _, body = generate(mock, "x mock:status=429 mock:no_details")
    assert "details" not in body["error"]


def test_keys(mock):
    status, _, body = generate(mock, "x", key="invalid-1")
    assert status == 400 and error_detail(body, "ErrorInfo")[0]["reason"] == "API_KEY_INVALID"
    status, _, body = generate(mock, "x", key=None)
    assert status == 403 and body["error"]["status"] == "PERMISSION_DENIED" and "details" not in body["error"]
    assert generate(mock, "x", key="quota-1")[0] == 429
    assert "leaked" in generate(mock, "x", key="leaked-1")[2]["error"]["message"]
    status, _, _ = call(mock, "POST", f"/v1beta/models/{MODEL}:generateContent?key=via-query",
                        {"contents": [{"parts": [{"text": "x"}]}]}, {"Content-Type": "application/json"})
    assert status == 200


def test_fail_then_success_and_reset(mock):
    prompt = "flaky mock:fail=503x1"
    status, _, body = generate(mock, prompt)
    assert status == 503 and body["error"]["status"] == "UNAVAILABLE"
    assert generate(mock, prompt)[0] == 200
    call(mock, "POST", "/_mock/reset")
    assert generate(mock, prompt)[0] == 503


def test_model_status_fails_only_the_named_model(mock):
    prompt = "one prompt, two models mock:model_status=flash-image:500"
    status, _, body = generate(mock, prompt, model="gemini-2.5-flash-image")
    assert status == 500 and body["error"]["status"] == "INTERNAL"
    assert generate(mock, prompt)[0] == 200  # the default model does not contain it
    assert generate(mock, "x mock:model_status=500")[0] == 400  # TEXT:CODE is required


@pytest.mark.parametrize("config,needle", [
    ({"imageConfig": {"imageSize": "1k"}}, "1k"),
    ({"imageConfig": {"aspectRatio": "7:3"}}, "7:3"),
    ({"aspectRatio": "16:9"}, 'Unknown name "aspectRatio" at \'generation_config\''),
    ({"candidateCount": 2}, f"Multiple candidates is not enabled for models/{MODEL}"),
])
def test_validation_rejects_like_google(mock, config, needle):
    status, _, body = generate(mock, "x", gen_config=config)
    assert status == 400 and body["error"]["status"] == "INVALID_ARGUMENT" and needle in body["error"]["message"]


def test_unknown_path_and_bad_json(mock):
    status, _, body = call(mock, "POST", f"/v1/models/{MODEL}:generateContent", {"contents": []})
    assert status == 404 and body["error"]["status"] == "NOT_FOUND"
    status, _, body = call(mock, "POST", f"/v1beta/models/{MODEL}:generateContent", b"{nope",
                           {"x-goog-api-key": "k"})
    assert status == 400 and body["error"]["message"].startswith("Invalid JSON payload received.")


# ---- transport ---------------------------------------------------------------------


def test_truncated_reply_raises_on_read(mock):
    with pytest.raises(http.client.IncompleteRead):
        generate(mock, "x mock:truncated")


def test_close_and_garbage(mock):
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError, urllib.error.URLError)):
        generate(mock, "x mock:close")
    status, _, raw = generate(mock, "x mock:garbage")
    assert status == 200 and isinstance(raw, bytes)


def test_keep_alive_serves_two_requests_on_one_connection(mock):
    conn = http.client.HTTPConnection(mock.removeprefix("http://"), timeout=10)
    for _ in range(2):
        conn.request("GET", "/_mock/health")
        resp = conn.getresponse()
        assert resp.status == 200 and json.loads(resp.read()) == {"status": "ok"}
    conn.close()


def test_parallel_delays_overlap(mock):
    results = []

    def one(i):
        results.append(generate(mock, f"parallel {i} mock:delay=1")[0])

    start = time.monotonic()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    assert results == [200] * 10 and elapsed < 2.5, elapsed


# ---- recording and docs -----------------------------------------------------------


def test_recording_keeps_config_and_summarises_images(mock):
    picture = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40
    part = {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(picture).decode()}}
    config = {"responseModalities": ["TEXT", "IMAGE"], "imageConfig": {"aspectRatio": "16:9", "imageSize": "2K"}}
    assert generate(mock, "edit this", key="k-rec", gen_config=config, extra_parts=[part])[0] == 200
    assert call(mock, "GET", "/_mock/count")[2] == {"count": 1}
    (rec,) = call(mock, "GET", "/_mock/requests")[2]
    assert rec["model"] == MODEL and rec["path"] == f"/v1beta/models/{MODEL}:generateContent"
    assert rec["headers"]["x-goog-api-key"] == "k-rec"
    assert rec["body"]["generationConfig"] == config
    blob = rec["body"]["contents"][0]["parts"][1]["inlineData"]
    assert blob["mimeType"] == "image/png" and blob["data_len"] == len(picture)
    assert blob["data_sha256"] == hashlib.sha256(picture).hexdigest()


def test_doc_lists_every_directive():
    text = DOC.read_text()
    missing = [name for name in mock_gemini.DIRECTIVES if f"`mock:{name}" not in text]
    assert not missing, f"docs/mock-upstream.md lacks {missing}"
