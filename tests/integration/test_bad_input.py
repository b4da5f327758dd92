"""SPEC 2.1 field rules: every malformed request gets the right 4xx with the
SPEC 4 envelope, `param` naming the field, and never reaches the upstream.
Also what must be accepted: unknown fields, nulls, long multi-byte prompts."""
import itertools
import json

import pytest

from conftest import assert_error, decode_image

PATH = "/v1/images/generations"
JSON_HDR = {"Content-Type": "application/json"}
_seq = itertools.count()


def uniq(prompt="a tin robot"):
    return f"{prompt} #{next(_seq)}"


def post_raw(gateway, body):
    return gateway.post(PATH, body, headers=JSON_HDR)


def rejected(gateway, mock, r, code, param):
    err = assert_error(r, code, param=param)
    assert mock.count() == 0, mock.requests()
    return err


# ---- the body as a whole -------------------------------------------------------------

@pytest.mark.parametrize("body", [
    b'{"prompt": "a cat",',            # truncated
    b'{"prompt": "a cat"} trailing',   # garbage after the value
    b"{'prompt': 'a cat'}",            # not JSON quotes
    b'{"prompt": "a cat",}',           # trailing comma
    b"",                               # nothing at all
    b"prompt=a+cat",                   # a form, not JSON
])
def test_malformed_json(gateway, mock, body):
    rejected(gateway, mock, post_raw(gateway, body), "IMG_INVALID_REQUEST", None)


@pytest.mark.parametrize("body", [b'[{"prompt": "a cat"}]', b'"a cat"', b"42", b"null",
                                  b"true"])
def test_body_not_an_object(gateway, mock, body):
    rejected(gateway, mock, post_raw(gateway, body), "IMG_INVALID_REQUEST", None)


@pytest.mark.parametrize("body", [
    b'{"prompt": "caf\xe9"}',                 # Latin-1 byte, not UTF-8
    b'{"prompt": "a \xc0\xaf b"}',            # overlong encoding
    b'{"prompt": "a \xed\xa0\x80 b"}',        # a UTF-16 surrogate encoded in UTF-8
    b'{"prompt": "a \xf0\x9f\x98"}',          # truncated 4-byte sequence
    b'{"prompt": "a \\ud800 b"}',             # unpaired surrogate escape
])
def test_invalid_utf8(gateway, mock, body):
    r = post_raw(gateway, body)
    # either "the body is not valid JSON" or "the prompt is not valid UTF-8"
    code = r.json()["error"]["code"]
    assert code in ("IMG_INVALID_REQUEST", "IMG_INVALID_PROMPT"), r
    err = assert_error(r, code)
    assert err["param"] in (None, "prompt"), err
    assert mock.count() == 0


# ---- prompt ----------------------------------------------------------------------------

@pytest.mark.parametrize("fields", [
    {},
    {"model": "gemini-3-pro-image"},
    {"prompt": None},
    {"prompt": ""},
    {"prompt": "   "},
    {"prompt": " \t\r\n "},
    {"prompt": 42},
    {"prompt": ["a cat"]},
    {"prompt": {"text": "a cat"}},
    {"prompt": True},
    {"prompt": "a cat\u0000mock:status=500"},
    {"prompt": "\u0000"},
], ids=repr)
def test_bad_prompt(gateway, mock, fields):
    r = gateway.post(PATH, fields)
    rejected(gateway, mock, r, "IMG_INVALID_PROMPT", "prompt")


def test_prompt_too_long(gateway, mock):
    r = gateway.generate(prompt="a" * 8001)
    err = rejected(gateway, mock, r, "IMG_INVALID_PROMPT", "prompt")
    assert err["remedy"] == "Shorten the prompt to at most 8000 characters."
    assert "8001" in err["message"] and "8000" in err["message"], err


def test_prompt_limit_counts_characters_not_bytes(gateway, mock):
    euro = "\u20ac"  # 3 bytes in UTF-8
    p = euro * 8000
    assert len(p.encode()) == 24000
    r = gateway.post(PATH, json.dumps({"prompt": p}, ensure_ascii=False).encode(),
                     headers=JSON_HDR)
    assert r.status == 200, r
    assert r.json()["data"][0]["revised_prompt"] == p
    assert mock.requests()[0]["body"]["contents"][0]["parts"] == [{"text": p}]
    mock.reset()
    r = gateway.post(PATH, json.dumps({"prompt": euro * 8001}, ensure_ascii=False).encode(),
                     headers=JSON_HDR)
    rejected(gateway, mock, r, "IMG_INVALID_PROMPT", "prompt")


def test_prompt_limit_with_escaped_astral_characters(gateway, mock):
    smile = "\U0001F600"  # 4 bytes in UTF-8; a surrogate pair when \u-escaped
    p = smile * 8000
    r = gateway.post(PATH, json.dumps({"prompt": p}).encode(), headers=JSON_HDR)
    assert r.status == 200, r
    assert r.json()["data"][0]["revised_prompt"] == p
    assert mock.requests()[0]["body"]["contents"][0]["parts"] == [{"text": p}]
    mock.reset()
    r = gateway.post(PATH, json.dumps({"prompt": smile * 8001}).encode(), headers=JSON_HDR)
    rejected(gateway, mock, r, "IMG_INVALID_PROMPT", "prompt")


# ---- the other fields --------------------------------------------------------------------

BAD_FIELDS = [
    # n
    ("n", 0, "IMG_INVALID_REQUEST"),
    ("n", 11, "IMG_INVALID_REQUEST"),
    ("n", -1, "IMG_INVALID_REQUEST"),
    ("n", "2", "IMG_INVALID_REQUEST"),
    ("n", 1.5, "IMG_INVALID_REQUEST"),
    ("n", True, "IMG_INVALID_REQUEST"),
    ("n", [2], "IMG_INVALID_REQUEST"),
    ("n", 10 ** 30, "IMG_INVALID_REQUEST"),
    # model
    ("model", "dall-e-9", "IMG_UNKNOWN_MODEL"),
    ("model", "gemini-3-pro-image-8k", "IMG_UNKNOWN_MODEL"),
    ("model", "gemini-9-ultra", "IMG_UNKNOWN_MODEL"),
    ("model", "", "IMG_INVALID_REQUEST"),
    ("model", 5, "IMG_INVALID_REQUEST"),
    # size
    ("size", "big", "IMG_INVALID_REQUEST"),
    ("size", "0x100", "IMG_INVALID_REQUEST"),
    ("size", "100x0", "IMG_INVALID_REQUEST"),
    ("size", "100x", "IMG_INVALID_REQUEST"),
    ("size", "x100", "IMG_INVALID_REQUEST"),
    ("size", "-5x5", "IMG_INVALID_REQUEST"),
    ("size", "1024x1024x3", "IMG_INVALID_REQUEST"),
    ("size", "1024*1024", "IMG_INVALID_REQUEST"),
    ("size", "16:0", "IMG_INVALID_REQUEST"),
    ("size", "", "IMG_INVALID_REQUEST"),
    ("size", 1024, "IMG_INVALID_REQUEST"),
    # aspect_ratio
    ("aspect_ratio", "wide", "IMG_INVALID_REQUEST"),
    ("aspect_ratio", "16/9", "IMG_INVALID_REQUEST"),
    ("aspect_ratio", "0:1", "IMG_INVALID_REQUEST"),
    ("aspect_ratio", 1.78, "IMG_INVALID_REQUEST"),
    # choices
    ("response_format", "png", "IMG_INVALID_REQUEST"),
    ("response_format", 1, "IMG_INVALID_REQUEST"),
    ("quality", "ultra", "IMG_INVALID_REQUEST"),
    ("quality", "", "IMG_INVALID_REQUEST"),
    ("style", "anime", "IMG_INVALID_REQUEST"),
    ("style", True, "IMG_INVALID_REQUEST"),
    ("image_size", "8K", "IMG_INVALID_REQUEST"),
    ("image_size", "3K", "IMG_INVALID_REQUEST"),
    ("image_size", "4", "IMG_INVALID_REQUEST"),
    ("image_size", 4, "IMG_INVALID_REQUEST"),
    # scalars
    ("seed", "x", "IMG_INVALID_REQUEST"),
    ("seed", 1.5, "IMG_INVALID_REQUEST"),
    ("seed", "42", "IMG_INVALID_REQUEST"),
    ("cache", "no", "IMG_INVALID_REQUEST"),
    ("cache", 0, "IMG_INVALID_REQUEST"),
    ("user", 5, "IMG_INVALID_REQUEST"),
]


@pytest.mark.parametrize("field,value,code", BAD_FIELDS,
                         ids=[f"{f}={v!r}" for f, v, _ in BAD_FIELDS])
def test_bad_field(gateway, mock, field, value, code):
    r = gateway.generate(prompt=uniq(), **{field: value})
    rejected(gateway, mock, r, code, field)


def test_error_message_quotes_the_bad_value(gateway, mock):
    r = gateway.generate(prompt=uniq(), size="big")
    err = rejected(gateway, mock, r, "IMG_INVALID_REQUEST", "size")
    assert "big" in err["message"]


# ---- body size ------------------------------------------------------------------------------

def body_of(size):
    """A valid JSON request body of exactly `size` bytes."""
    body = json.dumps({"prompt": uniq("a long caption"), "pad": ""})
    body = body[:-2] + "x" * (size - len(body)) + body[-2:]
    assert len(body) == size and json.loads(body)
    return body.encode()


def test_body_over_max_body_bytes(make_gateway, mock):
    g = make_gateway({"gemini_base_url": mock.url, "gemini_api_key": "test-key-1",
                      "max_body_bytes": 2048})
    r = g.post(PATH, body_of(5000), headers=JSON_HDR)
    rejected(g, mock, r, "IMG_PAYLOAD_TOO_LARGE", None)
    # the limit is inclusive
    r = g.post(PATH, body_of(2049), headers=JSON_HDR)
    rejected(g, mock, r, "IMG_PAYLOAD_TOO_LARGE", None)
    r = g.post(PATH, body_of(2048), headers=JSON_HDR)
    assert r.status == 200, r
    assert mock.count() == 1
    # the process that refused a large body still serves the next request
    mock.reset()
    r = g.post(PATH, body_of(100000), headers=JSON_HDR)
    rejected(g, mock, r, "IMG_PAYLOAD_TOO_LARGE", None)
    r = g.generate(prompt=uniq())
    assert r.status == 200, r


# ---- what must be accepted --------------------------------------------------------------------

def test_unknown_fields_are_ignored(gateway, mock):
    p = uniq()
    r = gateway.generate(prompt=p, moderation="low", output_format="png",
                         background="transparent", extra={"nested": [1, 2, {"x": None}]},
                         stream=False, partial_images=2)
    assert r.status == 200, r
    assert r.json()["data"][0]["revised_prompt"] == p
    assert mock.count() == 1
    sent = mock.requests()[0]["body"]
    # nothing unknown was forwarded (the mock would have refused it anyway)
    assert set(sent) == {"contents", "generationConfig", "safetySettings"}


def test_null_fields_are_absent(gateway, mock):
    p = uniq()
    r = gateway.generate(prompt=p, model=None, n=None, size=None, aspect_ratio=None,
                         image_size=None, quality=None, style=None, response_format=None,
                         safety_threshold=None, safety_level=None, seed=None, user=None,
                         cache=None)
    assert r.status == 200, r
    body = r.json()
    assert len(body["data"]) == 1
    assert set(body["data"][0]) == {"b64_json", "revised_prompt"}
    assert decode_image(body["data"][0])[:8] == b"\x89PNG\r\n\x1a\n"
    assert body["data"][0]["revised_prompt"] == p
    rec = mock.requests()[0]
    assert rec["model"] == "gemini-3-pro-image-preview"
    gc = rec["body"]["generationConfig"]
    assert gc["imageConfig"] == {"aspectRatio": "1:1", "imageSize": "2K"}
    assert "seed" not in gc
    assert {s["threshold"] for s in rec["body"]["safetySettings"]} == {"OFF"}


def test_valid_values_of_every_field_are_accepted(gateway, mock):
    r = gateway.generate(prompt=uniq(), model="gemini-3-pro-image", n=2, size="1536x1024",
                         quality="hd", style="natural", response_format="b64_json",
                         safety_threshold="low", seed=42, cache=True, user="someone@example")
    assert r.status == 200, r
    assert len(r.json()["data"]) == 2
    recs = mock.requests()
    assert len(recs) == 2
    for rec in recs:
        assert rec["body"]["generationConfig"]["seed"] == 42
        assert rec["body"]["generationConfig"]["imageConfig"] == {"aspectRatio": "3:2",
                                                                  "imageSize": "4K"}
