"""Self-check of tests/mock/mock_openai.py (the OpenAI half of the mock server):
the wire shapes it answers, the checks it makes, binary-safe multipart, and
that docs/mock-upstream.md lists every directive.

Run: python3 -m pytest -q tests/mock/test_mock_openai.py   (stdlib + pytest only)
"""

from __future__ import annotations

import base64
import hashlib
import json
import pathlib
import re
import select
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

HERE = pathlib.Path(__file__).resolve().parent
MOCK = HERE / "mock_gemini.py"
DOC = HERE.parent.parent / "docs" / "mock-upstream.md"

sys.path.insert(0, str(HERE))
import mock_openai  # noqa: E402  (for the directive table only)

PNG_8x8 = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x08\x00\x00\x00\x08\x08\x02\x00\x00\x00"
           + b"\r\n--not-the-boundary\r\n\x00\xff" * 4)


@pytest.fixture(scope="module")
def mock():
    proc = subprocess.Popen([sys.executable, str(MOCK), "--port", "0", "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 10)
        assert ready, "mock did not print its port within 10 s"
        port = re.fullmatch(r"PORT (\d+)\n", proc.stdout.readline().decode()).group(1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        assert proc.wait(timeout=5) == 0


@pytest.fixture(autouse=True)
def reset(mock):
    call(mock, "POST", "/_mock/reset", b"")


def call(base, method, path, body=None, headers=None):
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(base + path, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            status, hdrs, raw = resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        status, hdrs, raw = err.code, err.headers, err.read()
    try:
        return status, hdrs, json.loads(raw)
    except ValueError:
        return status, hdrs, raw


def generate(base, key="sk-good", **fields):
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return call(base, "POST", "/v1/images/generations", fields, headers)


def multipart(fields, files, boundary="XyZ-boundary-1"):
    out = b""
    for name, value in fields.items():
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n"
                f"{value}\r\n").encode()
    for name, filename, ctype, data in files:
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; "
                f"filename=\"{filename}\"\r\nContent-Type: {ctype}\r\n\r\n").encode() + data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return out, {"Content-Type": f"multipart/form-data; boundary={boundary}",
                 "Authorization": "Bearer sk-good"}


def test_b64_and_url_answers(mock):
    status, hdrs, body = generate(mock, model="dall-e-3", prompt="a fox", response_format="b64_json")
    assert status == 200 and hdrs["Content-Type"] == "application/json"
    (item,) = body["data"]
    assert base64.b64decode(item["b64_json"]).startswith(b"\x89PNG")
    assert item["revised_prompt"] != "a fox" and "a fox" in item["revised_prompt"]
    # dall-e defaults to url; the link is served by the mock and counted.
    status, _, body = generate(mock, model="dall-e-2", prompt="a fox")
    url = body["data"][0]["url"]
    assert url.startswith(mock + "/_mock/openai/files/") and "revised_prompt" not in body["data"][0]
    status, hdrs, data = call(mock, "GET", url[len(mock):])
    assert status == 200 and data.startswith(b"\x89PNG")
    assert call(mock, "GET", "/_mock/openai/fetches")[2]["total"] == 1
    # GPT image models always answer base64, with usage.
    status, _, body = generate(mock, model="gpt-image-1", prompt="a fox")
    assert "b64_json" in body["data"][0] and body["usage"]["total_tokens"] > 0


@pytest.mark.parametrize("fields,param_or_text", [
    ({"model": "gpt-image-1", "prompt": "x", "style": "vivid"}, "style"),
    ({"model": "gpt-image-1", "prompt": "x", "response_format": "b64_json"}, "response_format"),
    ({"model": "dall-e-3", "prompt": "x", "n": 2}, "n=1"),
    ({"model": "dall-e-3", "prompt": "x", "size": "1536x1024"}, "is not one of"),
    ({"model": "dall-e-3", "prompt": "x", "quality": "high"}, "is not one of"),
    ({"model": "dall-e-2", "prompt": "x" * 1001}, "prompt"),
    ({"model": "dall-e-9", "prompt": "x"}, "model"),
    ({"model": "dall-e-3"}, "prompt"),
    ({"model": "dall-e-3", "prompt": "x", "seed": 1}, "seed"),
])
def test_field_checks(mock, fields, param_or_text):
    status, _, body = generate(mock, **fields)
    assert status == 400
    err = body["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert err["param"] == param_or_text or param_or_text in err["message"]


def test_keys_and_errors(mock):
    status, _, body = generate(mock, key=None, model="dall-e-3", prompt="x")
    assert status == 401 and body["error"]["code"] is None
    status, _, body = generate(mock, key="invalid-abcdef12345", model="dall-e-3", prompt="x")
    assert status == 401 and body["error"]["code"] == "invalid_api_key"
    assert "invalid-abcdef12345" not in body["error"]["message"]
    status, _, body = generate(mock, key="quota-1", model="dall-e-3", prompt="x")
    assert status == 429 and body["error"]["code"] == "insufficient_quota"
    status, _, body = generate(mock, key="billing-1", model="dall-e-3", prompt="x")
    assert status == 400 and body["error"]["code"] == "billing_hard_limit_reached"
    status, hdrs, body = generate(mock, model="dall-e-3", prompt="x mock:status=429 mock:reset=9s "
                                  "mock:retry_after=4")
    assert status == 429 and body["error"]["code"] == "rate_limit_exceeded"
    assert hdrs["x-ratelimit-reset-requests"] == "9s" and hdrs["Retry-After"] == "4"
    status, _, body = generate(mock, model="dall-e-3", prompt="x mock:policy")
    assert status == 400 and body["error"]["code"] == "content_policy_violation"
    status, _, body = generate(mock, model="gpt-image-1", prompt="x mock:policy")
    assert body["error"]["code"] == "moderation_blocked"
    assert body["error"]["type"] == "image_generation_user_error"
    assert generate(mock, model="dall-e-3", prompt="y mock:fail=503x1")[0] == 503
    assert generate(mock, model="dall-e-3", prompt="y mock:fail=503x1")[0] == 200
    status, _, body = generate(mock, model="dall-e-3", prompt="x mock:typo")
    assert status == 400 and body["error"]["message"].startswith("mock: unknown directive")


def test_edits_multipart_is_binary_safe(mock):
    body, headers = multipart({"model": "dall-e-2", "prompt": "add a hat", "n": "1",
                               "size": "512x512", "response_format": "b64_json"},
                              [("image", "image.png", "image/png", PNG_8x8),
                               ("mask", "mask.png", "image/png", PNG_8x8)])
    status, _, answer = call(mock, "POST", "/v1/images/edits", body, headers)
    assert status == 200, answer
    (rec,) = [r for r in call(mock, "GET", "/_mock/requests")[2] if r.get("provider") == "openai"]
    assert rec["path"] == "/v1/images/edits" and rec["model"] == "dall-e-2"
    assert rec["body"]["prompt"] == "add a hat" and rec["body"]["size"] == "512x512"
    image, mask = rec["parts"]
    assert image["name"] == "image" and image["filename"] == "image.png"
    assert image["data_len"] == len(PNG_8x8)
    assert image["data_sha256"] == hashlib.sha256(PNG_8x8).hexdigest()
    assert mask["name"] == "mask" and mask["data_sniffed"] == "image/png"


def test_edits_checks(mock):
    body, headers = multipart({"model": "dall-e-3", "prompt": "x"},
                              [("image", "a.png", "image/png", PNG_8x8)])
    assert call(mock, "POST", "/v1/images/edits", body, headers)[0] == 400
    body, headers = multipart({"model": "dall-e-2", "prompt": "x"},
                              [("image[]", "a.png", "image/png", PNG_8x8),
                               ("image[]", "b.png", "image/png", PNG_8x8)])
    assert call(mock, "POST", "/v1/images/edits", body, headers)[0] == 400
    body, headers = multipart({"model": "gpt-image-1", "prompt": "x"},
                              [("image[]", "a.png", "image/png", PNG_8x8),
                               ("image[]", "b.txt", "text/plain", b"hello")])
    status, _, answer = call(mock, "POST", "/v1/images/edits", body, headers)
    assert status == 400 and answer["error"]["param"] == "image[]"
    body, headers = multipart({"model": "gpt-image-1", "prompt": "x"}, [])
    assert call(mock, "POST", "/v1/images/edits", body, headers)[0] == 400
    status, _, _ = call(mock, "POST", "/v1/images/edits", b"not multipart",
                        {"Content-Type": "text/plain", "Authorization": "Bearer sk-good"})
    assert status == 400


def test_doc_lists_every_directive():
    text = DOC.read_text()
    missing = [name for name in mock_openai.DIRECTIVES if f"`mock:{name}" not in text]
    assert not missing, f"docs/mock-upstream.md lacks {missing}"
