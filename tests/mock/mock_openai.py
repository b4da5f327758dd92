"""Offline stand-in for the OpenAI Images API, served by the same process as
the mock Gemini (tests/mock/mock_gemini.py hands it these paths):

    POST /v1/images/generations     JSON, as OpenAI's
    POST /v1/images/edits           multipart/form-data, as OpenAI's
    GET  /_mock/openai/files/NAME   the images `url` answers link to
    GET  /_mock/openai/fetches      {"total": n, "files": {NAME: times fetched}}

It checks the Bearer key, validates each model's fields the way OpenAI does
(sizes, qualities, style only on dall-e-3, response_format only on dall-e,
n=1 on dall-e-3, unknown parameters refused) and answers in OpenAI's shapes:
`{"created", "data": [{"b64_json"|"url", "revised_prompt"?}]}` and the error
envelope `{"error": {"message", "type", "param", "code"}}`.  Directives in the
prompt choose failures, as for the Gemini mock (DIRECTIVES below;
docs/mock-upstream.md describes each).  Every call is recorded in the Gemini
mock's list (`GET /_mock/requests`) with `"provider": "openai"`.

This module imports nothing from mock_gemini: serve() receives that module
(images, Reply, Directives, the shared state) from its caller, so running
mock_gemini.py as a script never loads it twice.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import threading
import time
from typing import Any, Callable

# --------------------------------------------------------------------------
# Directives: name -> (kind, value, parse, summary); value is "none",
# "required" or "optional" (=VALUE).
# --------------------------------------------------------------------------


def _seconds(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value < 0 or value > 3600:
        raise ValueError("seconds must be between 0 and 3600")
    return value


def _http_code(text: str) -> int:
    code = int(text)
    if not 400 <= code <= 599:
        raise ValueError("HTTP status must be 400..599")
    return code


def _fail_spec(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d{3})x(\d+)", text)
    if not match:
        raise ValueError("expected CODExCOUNT, e.g. 503x2")
    return _http_code(match.group(1)), int(match.group(2))


def _reset(text: str) -> str:
    if not re.fullmatch(r"(\d+(\.\d+)?(ms|h|m|s))+", text):
        raise ValueError("expected a duration such as 12s, 6m0s or 20ms")
    return text


def _url_kind(text: str) -> str:
    if text not in ("ok", "404", "garbage", "data", "https"):
        raise ValueError("expected ok, 404, garbage, data or https")
    return text


def _byte_count(text: str) -> int:
    count = int(text)
    if not 0 <= count <= 64 * 1024 * 1024:
        raise ValueError("bytes must be 0..67108864")
    return count


def _as_is(text: str) -> str:
    return text


DIRECTIVES: dict[str, tuple[str, str, Callable[[str], Any], str]] = {
    # success variants
    "url": ("success", "optional", _url_kind, "answer with a link instead of b64_json (=404, =garbage, =data, =https)"),
    "jpeg": ("success", "none", _as_is, "the image is JPEG bytes"),
    "webp": ("success", "none", _as_is, "the image is WebP bytes"),
    "bytes": ("success", "required", _byte_count, "the PNG padded to about N bytes"),
    "linebreaks": ("success", "none", _as_is, "b64_json broken into 76-character lines"),
    # answers without a usable image (HTTP 200)
    "empty": ("bad", "none", _as_is, "\"data\": []"),
    "notimage": ("bad", "none", _as_is, "b64_json of bytes that are not an image"),
    "garbled": ("bad", "none", _as_is, "b64_json that is not base64"),
    # errors
    "status": ("error", "required", _http_code, "that HTTP status with OpenAI's error body"),
    "fail": ("error", "required", _fail_spec, "first K calls with this prompt fail with CODE"),
    "policy": ("error", "none", _as_is, "400 content_policy_violation (moderation_blocked on GPT image models)"),
    "key_invalid": ("auth", "none", _as_is, "401 invalid_api_key, as for a key starting with invalid"),
    "retry_after": ("modifier", "required", _seconds, "adds a Retry-After: S header to the error"),
    "retry_after_ms": ("modifier", "required", _seconds, "adds a retry-after-ms: S header to the error"),
    "reset": ("modifier", "required", _reset, "x-ratelimit-reset-requests of a 429 (default 20s)"),
    # transport
    "delay": ("transport", "required", _seconds, "sleep S seconds before answering"),
    "garbage": ("transport", "none", _as_is, "200 with a body that is not JSON"),
    "truncated": ("transport", "none", _as_is, "full Content-Length, half the body, close"),
    "close": ("transport", "none", _as_is, "close the connection without a response"),
}

DIRECTIVE_RE = re.compile(r"(?<![\w:])mock:([A-Za-z_]+)(?:=(\S+))?")


class DirectiveError(ValueError):
    pass


def parse_directives(gem: Any, prompt: str) -> Any:
    """The prompt's mock:NAME[=VALUE] tokens as a mock_gemini.Directives."""
    found = gem.Directives()
    for match in DIRECTIVE_RE.finditer(prompt):
        name, raw = match.group(1).lower(), match.group(2)
        spec = DIRECTIVES.get(name)
        if spec is None:
            raise DirectiveError(f"unknown directive mock:{name}")
        kind, value, parse, _ = spec
        if raw is None and value == "required":
            raise DirectiveError(f"mock:{name} needs a value (mock:{name}=VALUE)")
        if raw is not None and value == "none":
            raise DirectiveError(f"mock:{name} takes no value")
        try:
            parsed = ("ok" if name == "url" else True) if raw is None else parse(raw)
        except ValueError as exc:
            raise DirectiveError(f"bad value for mock:{name}: {raw!r} ({exc})") from None
        if name not in found.values:
            found.order.append(name)
        found.values[name] = parsed
    return found


# --------------------------------------------------------------------------
# What the real service accepts (reference B.1, B.3)
# --------------------------------------------------------------------------

DALLE_SIZES = {"dall-e-2": ("256x256", "512x512", "1024x1024"),
               "dall-e-3": ("1024x1024", "1792x1024", "1024x1792")}
GPT_SIZES = ("1024x1024", "1536x1024", "1024x1536", "auto")
GPT_MODELS = ("gpt-image-1", "gpt-image-1-mini", "gpt-image-1.5")
MODELS = ("dall-e-2", "dall-e-3") + GPT_MODELS
QUALITIES = {"dall-e-2": ("standard", "auto"), "dall-e-3": ("standard", "hd", "auto")}
GPT_QUALITIES = ("low", "medium", "high", "auto")
MAX_PROMPT = {"dall-e-2": 1000, "dall-e-3": 4000}
GPT_MAX_PROMPT = 32000
COMMON_FIELDS = {"model", "prompt", "n", "size", "quality", "user"}
DALLE_FIELDS = {"response_format"}
DALLE3_FIELDS = {"style"}
GPT_FIELDS = {"output_format", "output_compression", "background", "moderation", "stream",
              "partial_images"}
EDIT_GPT_FIELDS = GPT_FIELDS | {"input_fidelity"}


def is_gpt(model: str) -> bool:
    return model in GPT_MODELS


class ApiError(Exception):
    """An OpenAI error answer."""

    def __init__(self, status: int, message: str, type_: str = "invalid_request_error",
                 code: str | None = None, param: str | None = None,
                 headers: list | None = None, extra: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.type, self.code, self.param = status, message, type_, code, param
        self.headers = headers or []
        self.extra = extra or {}

    def reply(self, gem: Any) -> Any:
        err = {"message": self.message, "type": self.type, "param": self.param, "code": self.code}
        err.update(self.extra)
        return json_reply(gem, self.status, {"error": err}, self.headers)


def json_reply(gem: Any, status: int, obj: Any, headers: list | None = None) -> Any:
    return gem.Reply(status, (json.dumps(obj) + "\n").encode(), "application/json",
                     [("openai-version", "2020-10-01"), ("x-request-id", "req_mock")] + (headers or []))


def unknown(name: str) -> ApiError:
    return ApiError(400, f"Unknown parameter: '{name}'.", code="unknown_parameter", param=name)


def not_one_of(value: Any, allowed: tuple, param: str) -> ApiError:
    listed = ", ".join(f"'{a}'" for a in allowed)
    return ApiError(400, f"{value!r} is not one of [{listed}] - '{param}'", param=None)


def validate(fields: dict, edit: bool) -> str:
    """Checks the fields as OpenAI does; returns the model.  Raises ApiError."""
    model = fields.get("model") or "dall-e-2"
    if not isinstance(model, str) or model not in MODELS:
        raise ApiError(400, f"Invalid value: '{model}'. Supported values are: "
                       + ", ".join(f"'{m}'" for m in MODELS) + ".", code="invalid_value", param="model")
    if edit and model == "dall-e-3":
        raise ApiError(400, "Invalid value: 'dall-e-3'. Supported values are: 'dall-e-2' and 'gpt-image-1'.",
                       code="invalid_value", param="model")
    allowed = set(COMMON_FIELDS)
    if is_gpt(model):
        allowed |= EDIT_GPT_FIELDS if edit else GPT_FIELDS
    else:
        allowed |= DALLE_FIELDS
        if model == "dall-e-3":
            allowed |= DALLE3_FIELDS
    for name in fields:
        if name not in allowed:
            raise unknown(name)
    prompt = fields.get("prompt")
    if not isinstance(prompt, str) or not prompt:
        raise ApiError(400, "Missing required parameter: 'prompt'.", code="missing_required_parameter",
                       param="prompt")
    limit = GPT_MAX_PROMPT if is_gpt(model) else MAX_PROMPT[model]
    if len(prompt) > limit:
        raise ApiError(400, f"Invalid 'prompt': string too long. Expected a string with maximum length "
                       f"{limit}, but got a string with length {len(prompt)} instead.",
                       code="string_above_max_length", param="prompt")
    n = fields.get("n", 1)
    if edit and isinstance(n, str) and n.isdigit():
        n = int(n)
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 10:
        raise ApiError(400, f"Invalid 'n': {n!r}.", code="invalid_value", param="n")
    if model == "dall-e-3" and n != 1:
        raise ApiError(400, "You must provide n=1 for this model.")
    sizes = GPT_SIZES if is_gpt(model) else DALLE_SIZES[model]
    if "size" in fields and fields["size"] not in sizes:
        raise not_one_of(fields["size"], sizes, "size")
    qualities = GPT_QUALITIES if is_gpt(model) else QUALITIES[model]
    if "quality" in fields and fields["quality"] not in qualities:
        raise not_one_of(fields["quality"], qualities, "quality")
    if "style" in fields and fields["style"] not in ("vivid", "natural"):
        raise not_one_of(fields["style"], ("vivid", "natural"), "style")
    if "response_format" in fields and fields["response_format"] not in ("url", "b64_json"):
        raise not_one_of(fields["response_format"], ("url", "b64_json"), "response_format")
    if "user" in fields and not isinstance(fields["user"], str):
        raise ApiError(400, "Invalid type for 'user': expected a string.", code="invalid_type", param="user")
    return model


# --------------------------------------------------------------------------
# Keys, errors
# --------------------------------------------------------------------------


def mask_key(key: str) -> str:
    return f"{key[:3]}{'*' * 10}{key[-4:]}" if len(key) > 8 else "****"


def rate_limit_headers(d: Any) -> list:
    return [("x-ratelimit-limit-requests", "5"), ("x-ratelimit-remaining-requests", "0"),
            ("x-ratelimit-reset-requests", d.get("reset", "20s")),
            ("x-ratelimit-limit-tokens", "100000"), ("x-ratelimit-remaining-tokens", "99000"),
            ("x-ratelimit-reset-tokens", "6m0s")]


def modifier_headers(d: Any) -> list:
    out = []
    if d.has("retry_after"):
        out.append(("Retry-After", f"{d.get('retry_after'):g}"))
    if d.has("retry_after_ms"):
        out.append(("retry-after-ms", f"{d.get('retry_after_ms') * 1000:g}"))
    return out


def status_error(code: int, model: str, d: Any) -> ApiError:
    extra = modifier_headers(d)
    if code == 429:
        return ApiError(429, "Rate limit exceeded for images per minute in organization org-mock. "
                        "Limit: 5/1min. Current: 6/1min. Please visit "
                        "https://platform.openai.com/docs/guides/rate-limits to learn how to increase "
                        "your rate limit.", "requests", "rate_limit_exceeded",
                        headers=rate_limit_headers(d) + extra)
    if code == 401:
        return ApiError(401, "Incorrect API key provided: sk-mo**********ock. You can find your API key "
                        "at https://platform.openai.com/account/api-keys.", code="invalid_api_key",
                        headers=extra)
    if code == 403:
        return ApiError(403, f"Your organization must be verified to use the model `{model}`.",
                        headers=extra)
    if code == 404:
        return ApiError(404, f"The model `{model}` does not exist or you do not have access to it.",
                        code="model_not_found", headers=extra)
    if code == 400:
        return ApiError(400, "Invalid request: the mock was told to refuse it.", headers=extra)
    if code == 503:
        return ApiError(503, "The engine is currently overloaded, please try again later.",
                        "server_error", headers=extra)
    if code >= 500:
        return ApiError(code, "The server had an error while processing your request. Sorry about that!",
                        "server_error", headers=extra)
    return ApiError(code, f"HTTP {code} from the mock.", headers=extra)


def auth_error(key: str | None, d: Any) -> ApiError | None:
    extra = modifier_headers(d)
    if not key:
        return ApiError(401, "You didn't provide an API key. You need to provide your API key in an "
                        "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                        headers=extra)
    if key.startswith("invalid") or d.has("key_invalid"):
        return ApiError(401, f"Incorrect API key provided: {mask_key(key)}. You can find your API key "
                        "at https://platform.openai.com/account/api-keys.", code="invalid_api_key",
                        headers=extra)
    if key.startswith("quota"):
        return ApiError(429, "You exceeded your current quota, please check your plan and billing "
                        "details. For more information on this error, read the docs: "
                        "https://platform.openai.com/docs/guides/error-codes/api-errors.",
                        "insufficient_quota", "insufficient_quota", headers=extra)
    if key.startswith("billing"):
        return ApiError(400, "Billing hard limit has been reached.", code="billing_hard_limit_reached",
                        headers=extra)
    if key.startswith("ratelimited"):
        return status_error(429, "", d)
    return None


def policy_error(model: str) -> ApiError:
    if is_gpt(model):
        return ApiError(400, "Your request was rejected by the safety system. If you believe this is "
                        "an error, contact us at help.openai.com and include the request ID req_mock.",
                        "image_generation_user_error", "moderation_blocked",
                        extra={"moderation_details": {"moderation_stage": "input", "categories": ["other"]}})
    return ApiError(400, "Your request was rejected as a result of our safety system. Your prompt may "
                    "contain text that is not allowed by our safety system.", code="content_policy_violation")


# --------------------------------------------------------------------------
# Linked images
# --------------------------------------------------------------------------

_files: dict[str, bytes] = {}
_fetches: dict[str, int] = {}
_lock = threading.Lock()
_serial = [0]


def reset() -> None:
    with _lock:
        _files.clear()
        _fetches.clear()


def link_for(host: str, data: bytes | None, ext: str) -> str:
    """Stores data (None: a link that will 404) and returns its URL."""
    with _lock:
        _serial[0] += 1
        name = f"img-{_serial[0]}-{hashlib.sha256(data or b'').hexdigest()[:12]}.{ext}"
        if data is not None:
            _files[name] = data
    return f"http://{host}/_mock/openai/files/{name}"


# --------------------------------------------------------------------------
# Answers
# --------------------------------------------------------------------------


def image_bytes(gem: Any, prompt: str, d: Any) -> tuple[bytes, str]:
    if d.has("jpeg"):
        return gem.TINY_JPEG, "jpg"
    if d.has("webp"):
        return gem.TINY_WEBP, "webp"
    fg, bg = gem.prompt_colours("openai\0" + prompt)
    png = gem.render_png(64, 64, fg, bg)
    if d.has("bytes"):
        png = gem.pad_png(png, d.get("bytes"))
    return png, "png"


def success(gem: Any, model: str, fields: dict, d: Any, host: str) -> dict:
    prompt = fields["prompt"]
    data, ext = image_bytes(gem, prompt, d)
    if d.has("notimage"):
        data = b"this is plain text and certainly not a picture"
    item: dict[str, Any] = {}
    want_url = (not is_gpt(model) and fields.get("response_format", "url") == "url") or d.has("url")
    if d.has("garbled"):
        item["b64_json"] = "this is *not* base64!"
    elif want_url:
        kind = d.get("url", "ok")
        if kind == "data":
            item["url"] = f"data:image/{'jpeg' if ext == 'jpg' else ext};base64,{gem.b64(data)}"
        elif kind == "https":
            item["url"] = "https://127.0.0.1:1/unreachable.png"
        else:
            stored = None if kind == "404" else (b"<html>not an image</html>" if kind == "garbage" else data)
            item["url"] = link_for(host, stored, ext)
    else:
        text = gem.b64(data)
        if d.has("linebreaks"):
            text = "\n".join(text[i:i + 76] for i in range(0, len(text), 76))
        item["b64_json"] = text
    if model == "dall-e-3":
        item["revised_prompt"] = "A detailed, faithful rendition of the scene: " + prompt
    out: dict[str, Any] = {"created": int(time.time()), "data": [] if d.has("empty") else [item]}
    if is_gpt(model):
        out.update(background="opaque", output_format="png", quality=fields.get("quality", "auto"),
                   size=fields.get("size", "auto"),
                   usage={"input_tokens": 20, "output_tokens": 272, "total_tokens": 292,
                          "input_tokens_details": {"text_tokens": 20, "image_tokens": 0}})
    return out


# --------------------------------------------------------------------------
# multipart/form-data, parsed by hand (binary-safe)
# --------------------------------------------------------------------------


def parse_multipart(content_type: str, raw: bytes) -> list[dict]:
    match = re.search(r'boundary="?([^";]+)"?', content_type or "")
    if not content_type.lower().startswith("multipart/form-data") or not match:
        raise ApiError(400, "Invalid Content-Type header (expected multipart/form-data with a boundary).")
    delim = b"--" + match.group(1).encode()
    if not raw.startswith(delim):
        raise ApiError(400, "Could not parse multipart form: no opening boundary.")
    parts = []
    pieces = (b"\r\n" + raw).split(b"\r\n" + delim)
    closed = False
    for piece in pieces[1:]:
        if piece.startswith(b"--"):
            closed = True
            break
        if not piece.startswith(b"\r\n"):
            raise ApiError(400, "Could not parse multipart form: bad boundary line.")
        head, sep, body = piece[2:].partition(b"\r\n\r\n")
        if not sep:
            raise ApiError(400, "Could not parse multipart form: a part has no header end.")
        headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        disp = headers.get("content-disposition", "")
        name = re.search(r'(?:^|;)\s*name="([^"]*)"', disp)
        filename = re.search(r'filename="([^"]*)"', disp)
        if not disp.startswith("form-data") or not name:
            raise ApiError(400, "Could not parse multipart form: a part has no form-data name.")
        parts.append({"name": name.group(1), "filename": filename.group(1) if filename else None,
                      "content_type": headers.get("content-type"), "data": body})
    if not closed:
        raise ApiError(400, "Could not parse multipart form: no closing boundary.")
    return parts


def png_dims(data: bytes) -> tuple[int, int] | None:
    if data[:8] != b"\x89PNG\r\n\x1a\n" or len(data) < 24:
        return None
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def check_files(gem: Any, model: str, images: list[dict], mask: dict | None) -> None:
    if not images:
        raise ApiError(400, "Missing required parameter: 'image'.", code="missing_required_parameter",
                       param="image")
    for part in images + ([mask] if mask else []):
        sniffed = gem.sniff_image(part["data"])
        if sniffed is None:
            raise ApiError(400, f"Invalid file '{part['name']}': unsupported mimetype. Supported "
                           "file formats are 'image/png', 'image/jpeg' and 'image/webp'.",
                           code="invalid_image_format", param=part["name"])
    if mask and gem.sniff_image(mask["data"]) != "image/png":
        raise ApiError(400, "Invalid mask: the mask must be a PNG.", param="mask")
    if model == "dall-e-2":
        if len(images) != 1:
            raise ApiError(400, "dall-e-2 takes exactly one image.", param="image")
        dims = png_dims(images[0]["data"])
        if dims is None or dims[0] != dims[1] or len(images[0]["data"]) >= 4 << 20:
            raise ApiError(400, "Invalid input image - format must be in ['RGBA', 'LA', 'L'], got RGB. "
                           "It must be a square PNG less than 4 MB.", param="image")
    elif len(images) > 16:
        raise ApiError(400, "Too many images: at most 16.", param="image")


# --------------------------------------------------------------------------
# Serving
# --------------------------------------------------------------------------

PATHS = ("/v1/images/generations", "/v1/images/edits")
FILE_PATH = re.compile(r"^/_mock/openai/files/(?P<name>[A-Za-z0-9.\-]+)$")


def handles(method: str, path: str) -> bool:
    return (method == "POST" and path in PATHS) or (
        method == "GET" and (FILE_PATH.match(path) is not None or path == "/_mock/openai/fetches"))


def summarise_part(gem: Any, part: dict) -> dict:
    data = part["data"]
    return {"name": part["name"], "filename": part["filename"], "content_type": part["content_type"],
            "data_len": len(data), "data_sha256": hashlib.sha256(data).hexdigest(),
            "data_sniffed": gem.sniff_image(data)}


def serve(handler: Any, gem: Any, method: str, path: str, raw: bytes) -> None:
    """Answers one request on behalf of mock_gemini's handler."""
    if method == "GET":
        serve_file(handler, gem, path)
        return
    edit = path.endswith("/edits")
    headers: dict[str, str] = {}
    for name, value in handler.headers.items():
        name = name.lower()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    record: dict[str, Any] = {"provider": "openai", "path": path, "headers": headers, "time": time.time()}
    fields: dict[str, Any] | None = None
    images: list[dict] = []
    mask = None
    error: ApiError | None = None
    try:
        if edit:
            parts = parse_multipart(handler.headers.get("Content-Type", ""), raw)
            fields = {p["name"]: p["data"].decode("utf-8", "replace") for p in parts if p["filename"] is None}
            images = [p for p in parts if p["filename"] is not None and p["name"] in ("image", "image[]")]
            mask = next((p for p in parts if p["filename"] is not None and p["name"] == "mask"), None)
            record["parts"] = [summarise_part(gem, p) for p in parts if p["filename"] is not None]
        else:
            try:
                fields = json.loads(raw)
            except (UnicodeDecodeError, json.JSONDecodeError):
                raise ApiError(400, "We could not parse the JSON body of your request. (HINT: This likely "
                               "means you aren't using your HTTP library correctly.)") from None
            if not isinstance(fields, dict):
                raise ApiError(400, "The request body must be a JSON object.")
    except ApiError as exc:
        error = exc
    record["model"] = fields.get("model") if isinstance(fields, dict) else None
    record["body"] = fields
    if fields is None:
        record["body_text"] = raw[:4096].decode("utf-8", "replace")
    handler.server.state.record(record)
    if error is not None:
        handler.send(error.reply(gem))
        return
    prompt = fields.get("prompt") if isinstance(fields.get("prompt"), str) else ""
    try:
        d = parse_directives(gem, prompt)
    except DirectiveError as exc:
        handler.send(ApiError(400, f"mock: {exc}").reply(gem))
        return
    if d.has("delay"):
        time.sleep(d.get("delay"))
    auth = handler.headers.get("Authorization", "")
    key = auth[7:].strip() if auth.startswith("Bearer ") else None
    try:
        err = auth_error(key, d)
        if err:
            raise err
        model = validate(fields, edit)
        if edit:
            check_files(gem, model, images, mask)
        if d.has("fail"):
            code, times = d.get("fail")
            if handler.server.state.bump_fail(prompt) <= times:
                raise status_error(code, model, d)
        if d.has("status"):
            raise status_error(d.get("status"), model, d)
        if d.has("policy"):
            raise policy_error(model)
        host = handler.headers.get("Host") or "127.0.0.1:%d" % handler.server.server_address[1]
        reply = json_reply(gem, 200, success(gem, model, fields, d, host))
    except ApiError as exc:
        reply = exc.reply(gem)
    handler.send(reply, d)


def serve_file(handler: Any, gem: Any, path: str) -> None:
    if path == "/_mock/openai/fetches":
        with _lock:
            body = {"total": sum(_fetches.values()), "files": dict(_fetches)}
        handler.send(json_reply(gem, 200, body))
        return
    name = FILE_PATH.match(path).group("name")
    with _lock:
        data = _files.get(name)
        if data is not None:
            _fetches[name] = _fetches.get(name, 0) + 1
    if data is None:
        handler.send(gem.Reply(404, b"<Error><Code>BlobNotFound</Code></Error>", "application/xml"))
        return
    # Blob stores label everything as a stream; the gateway must sniff.
    handler.send(gem.Reply(200, data, "application/octet-stream"))
