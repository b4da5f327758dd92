#!/usr/bin/env python3
"""Offline stand-in for the Gemini Developer API image endpoint.

Serves ``POST /v1beta/models/{MODEL}:generateContent`` on 127.0.0.1 with the
request checks, response bodies and error bodies of the real service, so the
imagegw integration tests can exercise every success, block, error and
transport failure without network access.  Python 3.11 standard library only.

    python3 tests/mock/mock_gemini.py --port 0 [--port-file F] [--host H] [--quiet]
    python3 tests/mock/mock_gemini.py --list-directives

Once listening it prints ``PORT <n>`` on stdout (and writes ``<n>`` to the
port file).  SIGTERM or SIGINT stops it with exit status 0.

A test picks the upstream's behaviour by writing directives into the prompt
(the text parts of ``contents[0]``), e.g. ``"a red fox mock:delay=1 mock:jpeg"``.
No directive means a normal Gemini 3 Pro Image answer; a text model (no
"image" in its id, e.g. gemini-2.5-flash) answers with one text part instead.
DIRECTIVES below is the list of directives; docs/mock-upstream.md describes
each one.

Order of evaluation for one generate call:
  1. the request is recorded (see /_mock/requests);
  2. directives are parsed (a typo is a 400 whose message starts with "mock:");
  3. ``mock:delay`` sleeps;
  4. API key checks (header ``x-goog-api-key`` or ``?key=``; key prefixes
     ``invalid``/``quota``/``leaked``, directive ``mock:key_invalid``);
  5. request validation, as strict as Google's (JSON shape, field names,
     enum values, candidateCount, imageConfig);
  6. ``mock:fail``, then ``mock:model_status``, ``mock:status``,
     ``mock:location``, then the first block directive in prompt order, else
     a successful answer;
  7. transport directives (close, garbage, truncated, slow_body) change how
     that reply goes out on the wire.

The same server answers the OpenAI Images API (POST /v1/images/generations,
POST /v1/images/edits) through tests/mock/mock_openai.py.

Control endpoints (not part of Google's API):
  GET  /_mock/requests  recorded generate calls, inline image data summarised
  GET  /_mock/count     {"count": n}
  POST /_mock/reset     forget records and mock:fail counters
  GET  /_mock/health    {"status": "ok"}
"""

from __future__ import annotations

import argparse
import base64
import binascii
import functools
import hashlib
import http.server
import json
import math
import os
import re
import signal
import socket
import struct
import sys
import threading
import time
import traceback
import urllib.parse
import zlib
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Callable

import mock_openai  # the OpenAI Images paths; tests/mock/mock_openai.py
import mock_vertex  # the Vertex AI and OAuth2 token paths; tests/mock/mock_vertex.py

# --------------------------------------------------------------------------
# Scenario table: every directive the mock understands.
#   kind     what the directive does (success / block / error / auth /
#            modifier / transport)
#   value    "none" (bare), "required" or "optional" ``=VALUE``
#   parse    turns the value text into a Python value, raises ValueError
# docs/mock-upstream.md has one table row per entry; the self-check test
# compares the two.
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


def _byte_count(text: str) -> int:
    count = int(text)
    if not 0 <= count <= MAX_PADDED_IMAGE:
        raise ValueError(f"bytes must be 0..{MAX_PADDED_IMAGE}")
    return count


def _fail_spec(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d{3})x(\d+)", text)
    if not match:
        raise ValueError("expected CODExCOUNT, e.g. 503x2")
    return _http_code(match.group(1)), int(match.group(2))


def _model_status(text: str) -> tuple[str, int]:
    match = re.fullmatch(r"([A-Za-z0-9._-]+):(\d{3})", text)
    if not match:
        raise ValueError("expected TEXT:CODE, e.g. flash-image:500")
    return match.group(1), _http_code(match.group(2))


def _enum_name(text: str) -> str:
    if not re.fullmatch(r"[A-Z][A-Z0-9_]*", text):
        raise ValueError("expected an upper-case enum name, e.g. SAFETY")
    return text


def _as_is(text: str) -> str:
    return text


@dataclass(frozen=True)
class Directive:
    kind: str
    value: str  # "none" | "required" | "optional"
    parse: Callable[[str], Any]
    summary: str


DIRECTIVES: dict[str, Directive] = {
    # success variants
    "nothought": Directive("success", "none", _as_is, "answer without thought parts"),
    "jpeg": Directive("success", "none", _as_is, "final image is JPEG bytes labelled image/png"),
    "webp": Directive("success", "none", _as_is, "final image is WebP bytes labelled image/png"),
    "bytes": Directive("success", "required", _byte_count, "final PNG padded to about N bytes"),
    "twoimages": Directive("success", "none", _as_is, "two non-thought images; the last is the answer"),
    "realsize": Directive("success", "none", _as_is, "final PNG has the real pixel size for ratio/size"),
    # blocked answers, all HTTP 200
    "image_safety": Directive("block", "none", _as_is, "finishReason IMAGE_SAFETY with a refusal text"),
    "prohibited": Directive("block", "none", _as_is, "finishReason IMAGE_PROHIBITED_CONTENT, no parts"),
    "safety": Directive("block", "none", _as_is, "finishReason SAFETY with a blocked rating"),
    "prompt_blocked": Directive("block", "optional", _enum_name, "no candidates, promptFeedback.blockReason"),
    "recitation": Directive("block", "none", _as_is, "finishReason IMAGE_RECITATION, parts []"),
    "text_recitation": Directive("block", "none", _as_is, "finishReason RECITATION"),
    "no_image": Directive("block", "none", _as_is, "finishReason NO_IMAGE with a text part"),
    "image_other": Directive("block", "none", _as_is, "finishReason IMAGE_OTHER"),
    "text_only": Directive("block", "none", _as_is, "finishReason STOP, one text part, no image"),
    "finish": Directive("block", "required", _enum_name, "any finishReason, no image"),
    "empty_candidates": Directive("block", "none", _as_is, "candidates: [] and no promptFeedback"),
    # errors
    "status": Directive("error", "required", _http_code, "that HTTP status with Google's error body"),
    "fail": Directive("error", "required", _fail_spec, "first K calls with this prompt fail with CODE"),
    "model_status": Directive("error", "required", _model_status,
                              "calls to a model whose id contains TEXT get HTTP CODE"),
    "key_invalid": Directive("auth", "none", _as_is, "400 API_KEY_INVALID, as for a bad key"),
    "location": Directive("error", "none", _as_is, "400 FAILED_PRECONDITION, location not supported"),
    "retry_delay": Directive("modifier", "required", _seconds, "RetryInfo.retryDelay becomes \"<S>s\""),
    "retry_after": Directive("modifier", "required", _seconds, "adds a Retry-After: S header"),
    "no_details": Directive("modifier", "none", _as_is, "error body without details"),
    # transport
    "delay": Directive("transport", "required", _seconds, "sleep S seconds before answering"),
    "truncated": Directive("transport", "none", _as_is, "full Content-Length, half the body, close"),
    "garbage": Directive("transport", "none", _as_is, "200 with a body that is not JSON"),
    "slow_body": Directive("transport", "required", _seconds, "body trickles out over S seconds"),
    "close": Directive("transport", "none", _as_is, "close the connection without a response"),
}

DIRECTIVE_RE = re.compile(r"(?<![\w:])mock:([A-Za-z_]+)(?:=(\S+))?")

# --------------------------------------------------------------------------
# What the real service accepts
# --------------------------------------------------------------------------

ASPECT_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
ASPECT_RATIOS_FLASH31 = ASPECT_RATIOS + ("1:4", "4:1", "1:8", "8:1")
IMAGE_SIZES = ("1K", "2K", "4K")
IMAGE_SIZES_FLASH31 = ("512",) + IMAGE_SIZES
INPUT_IMAGE_MIMES = ("image/png", "image/jpeg", "image/webp", "image/heic", "image/heif")
MODALITIES = ("TEXT", "IMAGE", "AUDIO", "VIDEO")
# HarmCategory in v1beta enum order (proto numbers 0..11), then names that
# only exist in newer or Vertex enums.  Only USABLE ones pass the Gemini check.
HARM_CATEGORIES = (
    "HARM_CATEGORY_UNSPECIFIED",
    "HARM_CATEGORY_DEROGATORY",
    "HARM_CATEGORY_TOXICITY",
    "HARM_CATEGORY_VIOLENCE",
    "HARM_CATEGORY_SEXUAL",
    "HARM_CATEGORY_MEDICAL",
    "HARM_CATEGORY_DANGEROUS",
    "HARM_CATEGORY_HARASSMENT",
    "HARM_CATEGORY_HATE_SPEECH",
    "HARM_CATEGORY_SEXUALLY_EXPLICIT",
    "HARM_CATEGORY_DANGEROUS_CONTENT",
    "HARM_CATEGORY_CIVIC_INTEGRITY",
)
HARM_CATEGORY_NAMES_ONLY = (
    "HARM_CATEGORY_JAILBREAK",
    "HARM_CATEGORY_IMAGE_HATE",
    "HARM_CATEGORY_IMAGE_DANGEROUS_CONTENT",
    "HARM_CATEGORY_IMAGE_HARASSMENT",
    "HARM_CATEGORY_IMAGE_SEXUALLY_EXPLICIT",
)
USABLE_HARM_CATEGORIES = (
    "HARM_CATEGORY_HATE_SPEECH",
    "HARM_CATEGORY_SEXUALLY_EXPLICIT",
    "HARM_CATEGORY_DANGEROUS_CONTENT",
    "HARM_CATEGORY_HARASSMENT",
    "HARM_CATEGORY_CIVIC_INTEGRITY",
)
HARM_THRESHOLDS = (
    "HARM_BLOCK_THRESHOLD_UNSPECIFIED",
    "BLOCK_LOW_AND_ABOVE",
    "BLOCK_MEDIUM_AND_ABOVE",
    "BLOCK_ONLY_HIGH",
    "BLOCK_NONE",
    "OFF",
)

# Field names per message, lowerCamelCase; snake_case spellings are accepted too.
REQUEST_FIELDS = {
    "contents", "systemInstruction", "generationConfig", "safetySettings",
    "tools", "toolConfig", "cachedContent", "model",
}
CONTENT_FIELDS = {"role", "parts"}
PART_DATA_FIELDS = {
    "text", "inlineData", "fileData", "functionCall", "functionResponse",
    "executableCode", "codeExecutionResult",
}
PART_FIELDS = PART_DATA_FIELDS | {"thought", "thoughtSignature", "videoMetadata", "partMetadata"}
BLOB_FIELDS = {"mimeType", "data"}
FILE_DATA_FIELDS = {"mimeType", "fileUri"}
GENERATION_CONFIG_FIELDS = {
    "stopSequences", "responseMimeType", "responseSchema", "responseJsonSchema",
    "responseModalities", "candidateCount", "maxOutputTokens", "temperature",
    "topP", "topK", "seed", "presencePenalty", "frequencyPenalty",
    "responseLogprobs", "logprobs", "enableEnhancedCivicAnswers", "speechConfig",
    "thinkingConfig", "imageConfig", "mediaResolution",
}
THINKING_CONFIG_FIELDS = {"includeThoughts", "thinkingBudget", "thinkingLevel"}
IMAGE_CONFIG_FIELDS = {"aspectRatio", "imageSize"}
SAFETY_SETTING_FIELDS = {"category", "threshold"}

API_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1beta"
RPC_TYPE = "type.googleapis.com/google.rpc"

MAX_REQUEST_BODY = 100 * 1024 * 1024
MAX_PADDED_IMAGE = 512 * 1024 * 1024
DEFAULT_RETRY_DELAY = "30s"
IDLE_TIMEOUT = 120  # seconds a kept-alive connection may sit idle

# --------------------------------------------------------------------------
# Images (PNG via zlib, a hand-built baseline JPEG, a 1x1 lossless WebP)
# --------------------------------------------------------------------------

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PAD_CHUNK = b"mkPd"  # ancillary, private, safe-to-copy: decoders skip it


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(tag + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)


@functools.lru_cache(maxsize=64)
def render_png(width: int, height: int, fg: tuple, bg: tuple) -> bytes:
    """A width x height RGB checkerboard of fg/bg (cached; lru_cache is thread-safe)."""
    cell = max(8, min(width, height) // 8)

    def row(phase: int) -> bytes:
        px = bytearray(b"\x00")  # filter type None
        for x in range(width):
            px += bytes(fg if (x // cell + phase) % 2 == 0 else bg)
        return bytes(px)

    rows = (row(0), row(1))
    comp = zlib.compressobj(6)
    idat = bytearray()
    for y in range(height):
        idat += comp.compress(rows[(y // cell) % 2])
    idat += comp.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return PNG_MAGIC + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", bytes(idat)) + _png_chunk(b"IEND", b"")


@functools.lru_cache(maxsize=8)
def pad_png(png: bytes, total: int) -> bytes:
    """png with a private ancillary chunk before IEND so it is about `total` bytes."""
    pad = max(0, total - len(png) - 12)
    if pad == 0:
        return png
    iend = len(png) - 12
    return png[:iend] + _png_chunk(PAD_CHUNK, b"\x00" * pad) + png[iend:]


def _jpeg_segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def _tiny_jpeg() -> bytes:
    """A valid 8x8 mid-grey baseline JPEG.

    Each Huffman table holds one 1-bit code (DC category 0, AC end-of-block),
    so the single block is the bits 0,0 padded with ones: 0x3F.
    """
    one_code = b"\x01" + b"\x00" * 15 + b"\x00"  # 16 length counts, symbol 0x00
    return (
        b"\xff\xd8"
        + _jpeg_segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
        + _jpeg_segment(0xDB, b"\x00" + b"\x01" * 64)
        + _jpeg_segment(0xC0, b"\x08\x00\x08\x00\x08\x01\x01\x11\x00")
        + _jpeg_segment(0xC4, b"\x00" + one_code)
        + _jpeg_segment(0xC4, b"\x10" + one_code)
        + _jpeg_segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
        + b"\x3f"
        + b"\xff\xd9"
    )


TINY_JPEG = _tiny_jpeg()
# 1x1 lossless WebP (RIFF....WEBPVP8L).
TINY_WEBP = base64.b64decode("UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==")

# Pixel sizes of Gemini 3 Pro Image at 1K; 2K and 4K double / quadruple them.
PRO_1K_SIZES = {
    "1:1": (1024, 1024), "2:3": (848, 1264), "3:2": (1264, 848),
    "3:4": (896, 1200), "4:3": (1200, 896), "4:5": (928, 1152),
    "5:4": (1152, 928), "9:16": (768, 1376), "16:9": (1376, 768),
    "21:9": (1584, 672),
}
FLASH25_SIZES = {
    "1:1": (1024, 1024), "2:3": (832, 1248), "3:2": (1248, 832),
    "3:4": (864, 1184), "4:3": (1184, 864), "4:5": (896, 1152),
    "5:4": (1152, 896), "9:16": (768, 1344), "16:9": (1344, 768),
    "21:9": (1536, 672),
}


def real_pixel_size(model: str, ratio: str, size: str) -> tuple[int, int]:
    """The pixel size the real model returns for this ratio and imageSize."""
    if is_flash25(model):
        return FLASH25_SIZES.get(ratio, (1024, 1024))
    if ratio in PRO_1K_SIZES:
        w, h = PRO_1K_SIZES[ratio]
    else:  # 3.1 Flash extra ratios: keep the 1K area, multiples of 16
        a, b = (int(n) for n in ratio.split(":"))
        w = round(1024 * math.sqrt(a / b) / 16) * 16
        h = round(1024 * math.sqrt(b / a) / 16) * 16
    scale = {"512": 0.5, "1K": 1, "2K": 2, "4K": 4}.get(size, 1)
    return int(w * scale), int(h * scale)


def prompt_colours(prompt: str) -> tuple[tuple, tuple]:
    digest = hashlib.sha256(prompt.encode()).digest()
    fg = tuple(digest[0:3])
    return fg, tuple(255 - c for c in fg)


def sniff_image(data: bytes) -> str | None:
    if data.startswith(PNG_MAGIC):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# --------------------------------------------------------------------------
# Google error bodies
# --------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    body: bytes
    content_type: str = "application/json; charset=UTF-8"
    headers: list = field(default_factory=list)


def json_reply(status: int, obj: Any, headers: list | None = None) -> Reply:
    # Google pretty-prints with two-space indentation.
    return Reply(status, (json.dumps(obj, indent=2) + "\n").encode(), headers=headers or [])


def google_error(code: int, status: str, message: str, details: list | None = None,
                 headers: list | None = None) -> Reply:
    err: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details:
        err["details"] = details
    return json_reply(code, {"error": err}, headers)


def retry_info(delay: str) -> dict:
    return {"@type": f"{RPC_TYPE}.RetryInfo", "retryDelay": delay}


def quota_details(model: str, delay: str) -> list:
    metric = "generativelanguage.googleapis.com/generate_content_free_tier_requests"
    return [
        {"@type": f"{RPC_TYPE}.Help",
         "links": [{"description": "Learn more about Gemini API quotas",
                    "url": "https://ai.google.dev/gemini-api/docs/rate-limits"}]},
        {"@type": f"{RPC_TYPE}.QuotaFailure",
         "violations": [{"quotaMetric": metric,
                         "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
                         "quotaDimensions": {"location": "global", "model": model},
                         "quotaValue": "10"}]},
        retry_info(delay),
    ]


def quota_message(model: str, delay: str) -> str:
    return (
        "You exceeded your current quota, please check your plan and billing details. "
        "For more information on this error, head to: "
        "https://ai.google.dev/gemini-api/docs/rate-limits. "
        "To monitor your current usage, head to: https://ai.dev/usage?tab=rate-limit. \n"
        "* Quota exceeded for metric: generativelanguage.googleapis.com/"
        f"generate_content_free_tier_requests, limit: 10, model: {model}\n"
        f"Please retry in {delay}."
    )


KEY_INVALID_MESSAGE = "API key not valid. Please pass a valid API key."


def key_invalid_details() -> list:
    return [
        {"@type": f"{RPC_TYPE}.ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com",
         "metadata": {"service": "generativelanguage.googleapis.com"}},
        {"@type": f"{RPC_TYPE}.LocalizedMessage", "locale": "en-US", "message": KEY_INVALID_MESSAGE},
    ]


# code -> (canonical status, message template, default details builder)
ERROR_CATALOG: dict[int, tuple[str, str, Callable[[str, str], list] | None]] = {
    400: ("INVALID_ARGUMENT", "Multiple candidates is not enabled for models/{model}", None),
    401: ("UNAUTHENTICATED",
          "Request had invalid authentication credentials. Expected OAuth 2 access token, "
          "login cookie or other valid authentication credential. See "
          "https://developers.google.com/identity/sign-in/web/devconsole-project.", None),
    403: ("PERMISSION_DENIED", "The caller does not have permission", None),
    404: ("NOT_FOUND",
          "models/{model} is not found for API version v1beta, or is not supported for "
          "generateContent. Call ListModels to see the list of available models and their "
          "supported methods.", None),
    409: ("ABORTED", "The operation was aborted.", None),
    429: ("RESOURCE_EXHAUSTED", "", quota_details),
    499: ("CANCELLED", "The operation was cancelled.", None),
    500: ("INTERNAL",
          "An internal error has occurred. Please retry or report in "
          "https://developers.generativeai.google/guide/troubleshooting", None),
    501: ("NOT_IMPLEMENTED", "Method not implemented.", None),
    503: ("UNAVAILABLE", "The model is overloaded. Please try again later.", None),
    504: ("DEADLINE_EXCEEDED", "Deadline expired before operation could complete.", None),
}

GFE_502_HTML = (
    b"<!DOCTYPE html>\n<html lang=en>\n<meta charset=utf-8>\n"
    b"<title>Error 502 (Server Error)!!1</title>\n"
    b"<p><b>502.</b> <ins>That\xe2\x80\x99s an error.</ins>\n"
    b"<p>The server encountered a temporary error and could not complete your request."
    b"<p>Please try again in 30 seconds. <ins>That\xe2\x80\x99s all we know.</ins>\n"
)


def seconds_text(value: float) -> str:
    """2.5 -> "2.5", 30.0 -> "30", up to nanoseconds as protobuf Durations allow."""
    return f"{value:.9f}".rstrip("0").rstrip(".")


@dataclass
class ErrorOptions:
    """Directive modifiers that shape an error reply."""

    retry_delay: float | None = None
    retry_after: float | None = None
    no_details: bool = False

    def delay_text(self) -> str:
        if self.retry_delay is None:
            return DEFAULT_RETRY_DELAY
        return f"{seconds_text(self.retry_delay)}s"

    def extra_headers(self) -> list:
        if self.retry_after is None:
            return []
        return [("Retry-After", seconds_text(self.retry_after))]

    def shape_details(self, details: list | None) -> list | None:
        """Drop details for no_details; put/replace RetryInfo for retry_delay."""
        out = [] if self.no_details else list(details or [])
        if self.retry_delay is not None:
            out = [d for d in out if not d.get("@type", "").endswith(".RetryInfo")]
            out.append(retry_info(self.delay_text()))
        return out or None


def http_phrase(code: int) -> str:
    try:
        return HTTPStatus(code).phrase + "."
    except ValueError:
        return "Unknown error."


def status_error(code: int, model: str, opts: ErrorOptions) -> Reply:
    """The reply Google sends for HTTP status `code` (mock:status / mock:fail)."""
    headers = opts.extra_headers()
    if code == 502:
        return Reply(502, GFE_502_HTML, "text/html; charset=UTF-8", headers)
    status, template, details_fn = ERROR_CATALOG.get(code, ("UNKNOWN", http_phrase(code), None))
    delay = opts.delay_text()
    message = template.format(model=model)
    if code == 429:
        message = ("Resource has been exhausted (e.g. check quota)." if opts.no_details
                   else quota_message(model, delay))
    details = opts.shape_details(details_fn(model, delay) if details_fn else None)
    if code == 401:
        headers = headers + [("WWW-Authenticate",
                              'Bearer realm="https://accounts.google.com/", error="invalid_token"')]
    return google_error(code, status, message, details, headers)


def key_invalid_error(opts: ErrorOptions) -> Reply:
    return google_error(400, "INVALID_ARGUMENT", KEY_INVALID_MESSAGE,
                        opts.shape_details(key_invalid_details()), opts.extra_headers())


def location_error(opts: ErrorOptions) -> Reply:
    return google_error(400, "FAILED_PRECONDITION", "User location is not supported for the API use.",
                        opts.shape_details(None), opts.extra_headers())


def mock_usage_error(message: str) -> Reply:
    return google_error(400, "INVALID_ARGUMENT", f"mock: {message}")


def not_found_method() -> Reply:
    return google_error(404, "NOT_FOUND", "Method not found.")


# --------------------------------------------------------------------------
# Directive parsing
# --------------------------------------------------------------------------


class DirectiveError(ValueError):
    pass


@dataclass
class Directives:
    values: dict = field(default_factory=dict)  # name -> parsed value (True if bare)
    order: list = field(default_factory=list)  # names in prompt order, first occurrence

    def has(self, name: str) -> bool:
        return name in self.values

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)

    def first_of_kind(self, kind: str) -> str | None:
        return next((n for n in self.order if DIRECTIVES[n].kind == kind), None)

    def error_options(self) -> ErrorOptions:
        return ErrorOptions(self.get("retry_delay"), self.get("retry_after"), self.has("no_details"))


def parse_directives(prompt: str) -> Directives:
    """Collect mock:NAME[=VALUE] tokens; raise DirectiveError on a bad one."""
    found = Directives()
    for match in DIRECTIVE_RE.finditer(prompt):
        name, raw = match.group(1).lower(), match.group(2)
        spec = DIRECTIVES.get(name)
        if spec is None:
            raise DirectiveError(f"unknown directive mock:{name}")
        if raw is None and spec.value == "required":
            raise DirectiveError(f"mock:{name} needs a value (mock:{name}=VALUE)")
        if raw is not None and spec.value == "none":
            raise DirectiveError(f"mock:{name} takes no value")
        try:
            value = True if raw is None else spec.parse(raw)
        except ValueError as exc:
            raise DirectiveError(f"bad value for mock:{name}: {raw!r} ({exc})") from None
        if name not in found.values:
            found.order.append(name)
        found.values[name] = value
    return found


# --------------------------------------------------------------------------
# Request helpers and validation
# --------------------------------------------------------------------------


def snake(name: str) -> str:
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)


def camel(name: str) -> str:
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), name)


def pick(obj: dict, name: str) -> Any:
    """obj[name], accepting the snake_case spelling as proto3 JSON does."""
    if name in obj:
        return obj[name]
    return obj.get(snake(name))


def is_flash25(model: str) -> bool:
    return "2.5-flash-image" in model


def is_flash31(model: str) -> bool:
    return "3.1-flash-image" in model


def is_text_model(model: str) -> bool:
    """A text-only model such as gemini-2.5-flash (what prompt enhancement calls)."""
    return "image" not in model


def prompt_text(body: Any) -> str:
    """The text parts of contents[0], joined by newlines ('' if absent)."""
    try:
        parts = body["contents"][0]["parts"]
        return "\n".join(p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str))
    except (KeyError, IndexError, TypeError):
        return ""


def input_image_count(body: dict) -> int:
    count = 0
    for content in pick(body, "contents") or []:
        for part in (content.get("parts") or []) if isinstance(content, dict) else []:
            if isinstance(part, dict) and pick(part, "inlineData") is not None:
                count += 1
    return count


class BadRequest(Exception):
    """A 400 INVALID_ARGUMENT that Google would return for this body."""

    def __init__(self, message: str, field_path: str | None = None):
        super().__init__(message)
        self.message = message
        self.field_path = field_path

    def reply(self) -> Reply:
        details = None
        if self.field_path is not None:
            details = [{"@type": f"{RPC_TYPE}.BadRequest",
                        "fieldViolations": [{"field": self.field_path, "description": self.message}]}]
        return google_error(400, "INVALID_ARGUMENT", self.message, details)


def invalid_value(path: str, type_name: str, value: Any) -> BadRequest:
    return BadRequest(f"Invalid value at '{path}' ({type_name}), {json.dumps(value)}", path)


def check_fields(obj: dict, known: set, path: str) -> None:
    unknown = [k for k in obj if camel(k) not in known]
    if not unknown:
        return
    where = f" at '{path}'" if path else ""
    lines = [f'Invalid JSON payload received. Unknown name "{k}"{where}: Cannot find field.' for k in unknown]
    raise BadRequest("\n".join(lines), path)


def require_object(value: Any, path: str, type_name: str) -> dict:
    if not isinstance(value, dict):
        raise invalid_value(path, f"{API_TYPE}.{type_name}", value)
    return value


def require_list(value: Any, path: str, type_name: str) -> list:
    if not isinstance(value, list):
        raise invalid_value(path, type_name, value)
    return value


def validate_blob(blob: Any, path: str) -> None:
    blob = require_object(blob, path, "Blob")
    check_fields(blob, BLOB_FIELDS, path)
    mime = pick(blob, "mimeType")
    if mime not in INPUT_IMAGE_MIMES:
        raise BadRequest(f"Unsupported MIME type: {mime if mime is not None else ''}")
    data = pick(blob, "data")
    if not isinstance(data, str) or decode_b64(data) is None:
        shown = data[:32] if isinstance(data, str) else data
        raise BadRequest(f"Invalid value at '{path}.data' (TYPE_BYTES), Base64 decoding failed for "
                         f"{json.dumps(shown)}", f"{path}.data")


def validate_part(part: Any, path: str) -> None:
    part = require_object(part, path, "Part")
    check_fields(part, PART_FIELDS, path)
    data_fields = [k for k in part if camel(k) in PART_DATA_FIELDS]
    if not data_fields:
        raise BadRequest(f"* GenerateContentRequest.{path}.data: required oneof field 'data' "
                         "must have one initialized field", path)
    if len(data_fields) > 1:
        raise BadRequest(f"Invalid JSON payload received. Oneof field 'data' is already set. "
                         f"Cannot set '{data_fields[1]}'", path)
    if "text" in part and not isinstance(part["text"], str):
        raise invalid_value(f"{path}.text", "TYPE_STRING", part["text"])
    if pick(part, "inlineData") is not None:
        validate_blob(pick(part, "inlineData"), f"{path}.inline_data")
    if pick(part, "fileData") is not None:
        file_data = require_object(pick(part, "fileData"), f"{path}.file_data", "FileData")
        check_fields(file_data, FILE_DATA_FIELDS, f"{path}.file_data")


def validate_content(content: Any, path: str) -> None:
    content = require_object(content, path, "Content")
    check_fields(content, CONTENT_FIELDS, path)
    role = content.get("role")
    if role not in (None, "", "user", "model"):
        raise BadRequest("Please use a valid role: user, model.")
    parts = require_list(content.get("parts", []), f"{path}.parts", f"{API_TYPE}.Part")
    if not parts:
        raise BadRequest(f"* GenerateContentRequest.{path}.parts: contents.parts must not be empty.", path)
    for j, part in enumerate(parts):
        validate_part(part, f"{path}.parts[{j}]")


def validate_modalities(value: Any, path: str, model: str) -> None:
    for i, item in enumerate(require_list(value, path, "TYPE_ENUM")):
        if not isinstance(item, str) or item.upper() not in MODALITIES:
            raise invalid_value(f"{path}[{i}]", f"{API_TYPE}.GenerationConfig.Modality", item)
    if is_text_model(model) and any(m.upper() == "IMAGE" for m in value):
        raise BadRequest("This model only supports text output.")
    unsupported = [m.lower() for m in value if m.upper() not in ("TEXT", "IMAGE")]
    if unsupported:
        raise BadRequest("Model does not support the requested response modalities: "
                         + ", ".join(unsupported))


def validate_image_config(cfg: Any, model: str) -> None:
    path = "generation_config.image_config"
    cfg = require_object(cfg, path, "ImageConfig")
    check_fields(cfg, IMAGE_CONFIG_FIELDS, path)
    ratio = pick(cfg, "aspectRatio")
    if ratio is not None:
        allowed = ASPECT_RATIOS_FLASH31 if is_flash31(model) else ASPECT_RATIOS
        if not isinstance(ratio, str):
            raise invalid_value(f"{path}.aspect_ratio", "TYPE_STRING", ratio)
        if ratio not in allowed:
            raise BadRequest(f"Unsupported aspect ratio: {ratio}. Supported values are: "
                             + ", ".join(allowed) + ".", f"{path}.aspect_ratio")
    size = pick(cfg, "imageSize")
    if size is not None:
        if not isinstance(size, str):
            raise invalid_value(f"{path}.image_size", "TYPE_STRING", size)
        if is_flash25(model):
            raise BadRequest(f"Image size is not supported for models/{model}.", f"{path}.image_size")
        allowed = IMAGE_SIZES_FLASH31 if is_flash31(model) else IMAGE_SIZES
        if size not in allowed:
            raise BadRequest(f"Unsupported image size: {size}. Supported values are: "
                             + ", ".join(allowed) + ".", f"{path}.image_size")


def validate_generation_config(cfg: Any, model: str) -> None:
    path = "generation_config"
    cfg = require_object(cfg, path, "GenerationConfig")
    check_fields(cfg, GENERATION_CONFIG_FIELDS, path)
    count = pick(cfg, "candidateCount")
    if count is not None:
        if isinstance(count, bool) or not isinstance(count, int):
            raise invalid_value(f"{path}.candidate_count", "TYPE_INT32", count)
        if count > 1:
            raise BadRequest(f"Multiple candidates is not enabled for models/{model}")
    if pick(cfg, "responseModalities") is not None:
        validate_modalities(pick(cfg, "responseModalities"), f"{path}.response_modalities", model)
    if pick(cfg, "thinkingConfig") is not None:
        thinking = require_object(pick(cfg, "thinkingConfig"), f"{path}.thinking_config", "ThinkingConfig")
        check_fields(thinking, THINKING_CONFIG_FIELDS, f"{path}.thinking_config")
    if pick(cfg, "imageConfig") is not None:
        validate_image_config(pick(cfg, "imageConfig"), model)


def validate_enum(value: Any, numbered: tuple, path: str, type_name: str, extra: tuple = ()) -> str:
    """The enum name for `value` (a name, or a proto number into `numbered`)."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(numbered):
        return numbered[value]
    if not isinstance(value, str) or value not in numbered + extra:
        raise invalid_value(path, f"{API_TYPE}.{type_name}", value)
    return value


def validate_safety_settings(settings: Any) -> None:
    for i, setting in enumerate(require_list(settings, "safety_settings", f"{API_TYPE}.SafetySetting")):
        path = f"safety_settings[{i}]"
        setting = require_object(setting, path, "SafetySetting")
        check_fields(setting, SAFETY_SETTING_FIELDS, path)
        category = validate_enum(setting.get("category", 0), HARM_CATEGORIES, f"{path}.category",
                                 "HarmCategory", HARM_CATEGORY_NAMES_ONLY)
        validate_enum(setting.get("threshold", 0), HARM_THRESHOLDS, f"{path}.threshold",
                      "SafetySetting.HarmBlockThreshold")
        if category not in USABLE_HARM_CATEGORIES:
            allowed = ", ".join(f"HarmCategory.{c}" for c in USABLE_HARM_CATEGORIES)
            raise BadRequest(f"* GenerateContentRequest.{path}: element predicate failed: "
                             f"$.category in ({allowed})", path)


def validate_request(body: Any, model: str) -> None:
    """Raise BadRequest where the real API would answer 400."""
    if not isinstance(body, dict):
        raise BadRequest("Invalid JSON payload received. Root element must be a message.")
    check_fields(body, REQUEST_FIELDS, "")
    contents = body.get("contents")
    if contents in (None, []):
        raise BadRequest("* GenerateContentRequest.contents: contents is not specified", "contents")
    for i, content in enumerate(require_list(contents, "contents", f"{API_TYPE}.Content")):
        validate_content(content, f"contents[{i}]")
    if pick(body, "systemInstruction") is not None:
        validate_content(pick(body, "systemInstruction"), "system_instruction")
    if pick(body, "generationConfig") is not None:
        validate_generation_config(pick(body, "generationConfig"), model)
    if pick(body, "safetySettings") is not None:
        validate_safety_settings(pick(body, "safetySettings"))


# --------------------------------------------------------------------------
# Answers
# --------------------------------------------------------------------------


@dataclass
class Call:
    """One parsed generate request."""

    model: str
    body: dict
    prompt: str
    directives: Directives

    def config(self) -> dict:
        return pick(self.body, "generationConfig") or {}

    def image_config(self) -> dict:
        return pick(self.config(), "imageConfig") or {}

    def image_size(self) -> str:
        return pick(self.image_config(), "imageSize") or "1K"

    def aspect_ratio(self) -> str:
        return pick(self.image_config(), "aspectRatio") or "1:1"

    def modalities(self) -> set:
        mods = pick(self.config(), "responseModalities")
        return {m.upper() for m in mods} if mods else {"TEXT", "IMAGE"}

    def signature(self, salt: str) -> str:
        return b64(hashlib.sha256(f"{salt}\0{self.prompt}".encode()).digest())


def response_id() -> str:
    return base64.urlsafe_b64encode(os.urandom(15)).decode().rstrip("=")


def image_tokens(model: str, size: str) -> int:
    if is_flash25(model):
        return 1290
    if is_flash31(model):
        return {"512": 747, "1K": 1120, "2K": 1680, "4K": 2520}.get(size, 1120)
    return 2000 if size == "4K" else 1120


def text_tokens(text: str) -> int:
    return max(1, len(text) // 4)


def usage(call: Call, image_count: int = 0, text: str = "", thoughts: bool = False) -> dict:
    """usageMetadata in Google's shape; totals add up as the real ones do."""
    prompt_detail = [{"modality": "TEXT", "tokenCount": text_tokens(call.prompt)}]
    images_in = input_image_count(call.body)
    if images_in:
        prompt_detail.append({"modality": "IMAGE", "tokenCount": 560 * images_in})
    prompt_total = sum(d["tokenCount"] for d in prompt_detail)
    out: dict[str, Any] = {"promptTokenCount": prompt_total}
    cand_detail = []
    if image_count:
        cand_detail.append({"modality": "IMAGE",
                            "tokenCount": image_count * image_tokens(call.model, call.image_size())})
    if text:
        cand_detail.append({"modality": "TEXT", "tokenCount": text_tokens(text)})
    cand_total = sum(d["tokenCount"] for d in cand_detail)
    thought_total = 158 if thoughts else 0
    if cand_detail:
        out["candidatesTokenCount"] = cand_total
    out["totalTokenCount"] = prompt_total + cand_total + thought_total
    out["promptTokensDetails"] = prompt_detail
    if cand_detail:
        out["candidatesTokensDetails"] = cand_detail
    if thoughts:
        out["thoughtsTokenCount"] = thought_total
    return out


def envelope(call: Call, candidates: list | None, usage_md: dict, **extra: Any) -> dict:
    body: dict[str, Any] = {}
    if candidates is not None:
        body["candidates"] = candidates
    body.update(extra)
    body["usageMetadata"] = usage_md
    body["modelVersion"] = call.model
    body["responseId"] = response_id()
    return body


def final_images(call: Call) -> list[bytes]:
    """The non-thought images of the answer, in order; the last is the result."""
    d = call.directives
    fg, bg = prompt_colours(call.prompt)
    if d.has("jpeg"):
        final = TINY_JPEG
    elif d.has("webp"):
        final = TINY_WEBP
    else:
        w, h = (64, 64)
        if d.has("realsize"):
            w, h = real_pixel_size(call.model, call.aspect_ratio(), call.image_size())
        final = render_png(w, h, fg, bg)
        if d.has("bytes"):
            final = pad_png(final, d.get("bytes"))
    if d.has("twoimages"):
        return [render_png(64, 64, bg, (0, 0, 0)), final]
    return [final]


def thought_parts(call: Call) -> list:
    fg, _ = prompt_colours(call.prompt)
    sketch = render_png(32, 32, tuple(c // 2 for c in fg), (128, 128, 128))
    return [
        {"text": "**Planning the image**\n\nWorking out layout, palette and lighting for the request.",
         "thought": True},
        {"inlineData": {"mimeType": "image/png", "data": b64(sketch)}, "thought": True},
    ]


def enhanced_text(call: Call) -> str:
    """The text a text-only answer carries: the prompt, directives removed, "enhanced"."""
    prompt = " ".join(DIRECTIVE_RE.sub(" ", call.prompt).split())
    return f"Enhanced: {prompt} \u2014 with soft morning light, detailed"


def text_answer(call: Call) -> dict:
    """A text model's answer: one text part; a thought part first only when
    thinkingConfig.includeThoughts asks for it, as Gemini 2.5 does."""
    thinking = pick(pick(call.config(), "thinkingConfig") or {}, "includeThoughts") is True
    parts = [{"text": "**Reading the prompt**", "thought": True}] if thinking else []
    text = enhanced_text(call)
    parts.append({"text": text})
    candidate = {"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}
    return envelope(call, [candidate], usage(call, 0, text, thinking))


def success_answer(call: Call) -> dict:
    if is_text_model(call.model):
        return text_answer(call)
    mods = call.modalities()
    thinking = not call.directives.has("nothought") and not is_flash25(call.model)
    parts = thought_parts(call) if thinking else []
    text = ""
    if "TEXT" in mods:
        text = "Here is the image you asked for." if "IMAGE" in mods else enhanced_text(call)
        parts.append({"text": text, "thoughtSignature": call.signature("text")})
    images = final_images(call) if "IMAGE" in mods else []
    for i, image in enumerate(images):
        if i > 0 and "TEXT" in mods:
            parts.append({"text": "And a second take."})
        parts.append({"inlineData": {"mimeType": "image/png", "data": b64(image)},
                      "thoughtSignature": call.signature(f"image{i}")})
    candidate = {"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}
    return envelope(call, [candidate], usage(call, len(images), text, thinking))


BLOCKED_RATING = [
    {"category": "HARM_CATEGORY_SEXUALLY_EXPLICIT", "probability": "NEGLIGIBLE"},
    {"category": "HARM_CATEGORY_HATE_SPEECH", "probability": "NEGLIGIBLE"},
    {"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"},
    {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True},
]


def candidate(reason: str, parts: list | None = None, with_role: bool = True, **extra: Any) -> dict:
    content: dict[str, Any] = {"role": "model"} if with_role else {}
    if parts is not None:
        content["parts"] = parts
    return {"content": content, "finishReason": reason, "index": 0, **extra}


def block_answer(call: Call, name: str) -> dict:
    """The HTTP 200 body for block directive `name`."""
    u = usage(call)
    if name == "prompt_blocked":
        reason = call.directives.get(name)
        feedback = {"blockReason": reason if isinstance(reason, str) else "SAFETY",
                    "safetyRatings": BLOCKED_RATING}
        return envelope(call, None, u, promptFeedback=feedback)
    if name == "empty_candidates":
        return envelope(call, [], u)
    if name == "prohibited":
        u = usage(call, thoughts=True)
        msg = ("Unable to show the generated image: it was filtered for prohibited content. "
               "You will not be charged for blocked images. Support code: 42876398.")
        return envelope(call, [candidate("IMAGE_PROHIBITED_CONTENT", finishMessage=msg)], u)
    table: dict[str, Callable[[], dict]] = {
        "image_safety": lambda: candidate("IMAGE_SAFETY", [{"text": "I can't create that image."}],
                                          with_role=False),
        "safety": lambda: candidate("SAFETY", safetyRatings=BLOCKED_RATING),
        "recitation": lambda: candidate("IMAGE_RECITATION", [], with_role=False),
        "text_recitation": lambda: candidate(
            "RECITATION", citationMetadata={"citationSources": [{"startIndex": 0, "endIndex": 10,
                                                                 "uri": "https://example.com/source"}]}),
        "no_image": lambda: candidate("NO_IMAGE", [{"text": "I can only describe it: a quiet scene."}]),
        "image_other": lambda: candidate("IMAGE_OTHER", finishMessage="Image generation failed."),
        "text_only": lambda: candidate("STOP", [{"text": "Here is a description instead of an image.",
                                                 "thoughtSignature": call.signature("text")}]),
        "finish": lambda: candidate(call.directives.get("finish")),
    }
    cand = table[name]()
    text = "".join(p.get("text", "") for p in cand["content"].get("parts", []))
    return envelope(call, [cand], usage(call, text=text))


def scenario_reply(call: Call, state: "MockState") -> Reply:
    """Steps 6 of the module docstring: pick the answer for a valid request."""
    d = call.directives
    opts = d.error_options()
    if d.has("fail"):
        code, times = d.get("fail")
        if state.bump_fail(call.prompt) <= times:
            return status_error(code, call.model, opts)
    if d.has("model_status"):
        text, code = d.get("model_status")
        if text in call.model:
            return status_error(code, call.model, opts)
    if d.has("status"):
        return status_error(d.get("status"), call.model, opts)
    if d.has("location"):
        return location_error(opts)
    block = d.first_of_kind("block")
    if block:
        return json_reply(200, block_answer(call, block))
    return json_reply(200, success_answer(call))


def auth_reply(key: str | None, directives: Directives, model: str) -> Reply | None:
    """Step 4: the error for a missing or special API key, or None."""
    opts = directives.error_options()
    if not key:
        return google_error(
            403, "PERMISSION_DENIED",
            "Method doesn't allow unregistered callers (callers without established identity). "
            "Please use API Key or other form of API consumer identity to call this API.",
            opts.shape_details(None), opts.extra_headers())
    if key.startswith("invalid") or directives.has("key_invalid"):
        return key_invalid_error(opts)
    if key.startswith("quota"):
        return status_error(429, model, opts)
    if key.startswith("leaked"):
        return google_error(403, "PERMISSION_DENIED",
                            "Your API key was reported as leaked. Please use another API key.",
                            opts.shape_details(None), opts.extra_headers())
    return None


# --------------------------------------------------------------------------
# Recording
# --------------------------------------------------------------------------


def decode_b64(text: str) -> bytes | None:
    """Standard or URL-safe base64, padding optional; None if invalid."""
    cleaned = text.replace("-", "+").replace("_", "/").strip()
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        return base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError):
        return None


def summarise_blob(blob: Any) -> Any:
    if not isinstance(blob, dict) or not isinstance(blob.get("data"), str):
        return blob
    raw = decode_b64(blob["data"])
    summary = {"mimeType": pick(blob, "mimeType"), "data_b64_len": len(blob["data"])}
    if raw is None:
        summary.update(data_len=None, data_sha256=None, data_sniffed=None)
    else:
        summary.update(data_len=len(raw), data_sha256=hashlib.sha256(raw).hexdigest(),
                       data_sniffed=sniff_image(raw))
    return summary


def strip_inline_data(value: Any) -> Any:
    """A copy of a request body with every inlineData blob summarised."""
    if isinstance(value, list):
        return [strip_inline_data(v) for v in value]
    if isinstance(value, dict):
        return {k: summarise_blob(v) if k in ("inlineData", "inline_data") else strip_inline_data(v)
                for k, v in value.items()}
    return value


def parts_summary(body: Any) -> dict:
    """What contents[0].parts carried, part by part, for tests of edits: each
    inline image's declared type, decoded length, SHA-256 and sniffed type,
    each text part's length, and whether any text speaks of a mask."""
    try:
        parts = body["contents"][0]["parts"]
    except (KeyError, IndexError, TypeError):
        return {"count": 0, "inline_count": 0, "items": [], "text_mentions_mask": False}
    items = []
    mentions = False
    for part in parts if isinstance(parts, list) else []:
        if not isinstance(part, dict):
            items.append({"kind": "other"})
        elif isinstance(part.get("text"), str):
            mentions = mentions or "mask" in part["text"].lower()
            items.append({"kind": "text", "len": len(part["text"]),
                          "mentions_mask": "mask" in part["text"].lower()})
        elif pick(part, "inlineData") is not None:
            items.append({"kind": "inline", **summarise_blob(pick(part, "inlineData"))})
        else:
            items.append({"kind": "other"})
    return {"count": len(items), "inline_count": sum(i["kind"] == "inline" for i in items),
            "items": items, "text_mentions_mask": mentions}


class MockState:
    """Records and mock:fail counters, shared by all handler threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[dict] = []
        self._fail_counts: dict[str, int] = {}

    def record(self, entry: dict) -> None:
        with self._lock:
            self._records.append(entry)

    def records(self) -> list[dict]:
        with self._lock:
            return list(self._records)

    def count(self) -> int:
        with self._lock:
            return len(self._records)

    def reset(self) -> None:
        with self._lock:
            self._records.clear()
            self._fail_counts.clear()

    def bump_fail(self, prompt: str) -> int:
        """Count one more request with this prompt; return the new count."""
        with self._lock:
            self._fail_counts[prompt] = self._fail_counts.get(prompt, 0) + 1
            return self._fail_counts[prompt]


# --------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------

GENERATE_PATH = re.compile(r"^/v1beta/models/(?P<model>[^/:]+):generateContent$")
GARBAGE_BODY = b"<html><body>upstream hiccup: this is not JSON {\"candidates\": [</body></html>\n"


class UnreadableBody(Exception):
    """The request body cannot be read; the message goes into a 400."""


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Small replies must not wait for a delayed ACK (40 ms) between headers and body.
    disable_nagle_algorithm = True
    timeout = IDLE_TIMEOUT
    server: "MockServer"

    # ---- plumbing -------------------------------------------------------
    def version_string(self) -> str:
        return "scaffolding on HTTPServer2"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib name)
        if not self.server.quiet:
            sys.stderr.write(f"mock_gemini: {self.address_string()} {format % args}\n")

    def do_GET(self) -> None:
        self.dispatch("GET")

    def do_POST(self) -> None:
        self.dispatch("POST")

    def do_PUT(self) -> None:
        self.dispatch("PUT")

    def do_DELETE(self) -> None:
        self.dispatch("DELETE")

    def read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self.read_chunked()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise UnreadableBody("Invalid Content-Length header.") from None
        if length > MAX_REQUEST_BODY:
            raise UnreadableBody(f"Request payload size exceeds the limit: {MAX_REQUEST_BODY} bytes.")
        return self.rfile.read(length) if length > 0 else b""

    def read_chunked(self) -> bytes:
        body = bytearray()
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return bytes(body)
            body += self.rfile.read(size)
            self.rfile.readline()
            if len(body) > MAX_REQUEST_BODY:
                raise UnreadableBody(f"Request payload size exceeds the limit: {MAX_REQUEST_BODY} bytes.")

    def dispatch(self, method: str) -> None:
        url = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(url.path)
        try:
            raw = self.read_body()
        except UnreadableBody as exc:
            self.close_connection = True  # the unread rest of the body is garbage now
            self.send(google_error(400, "INVALID_ARGUMENT", str(exc)))
            return
        try:
            self.route(method, path, url.query, raw)
        except (ConnectionError, socket.timeout):
            self.close_connection = True
        except Exception:  # a bug in the mock: say so instead of hanging the client
            traceback.print_exc()
            self.send(google_error(500, "INTERNAL", "mock: internal error, see mock stderr"))

    def route(self, method: str, path: str, query: str, raw: bytes) -> None:
        match = GENERATE_PATH.match(path)
        if match and method == "POST":
            self.generate(match.group("model"), path, query, raw)
        elif mock_openai.handles(method, path):
            mock_openai.serve(self, sys.modules[__name__], method, path, raw)
        elif mock_vertex.handles(method, path):
            mock_vertex.route(self, method, path, query, raw)
        elif (method, path) == ("GET", "/_mock/requests"):
            self.send(json_reply(200, self.server.state.records()))
        elif (method, path) == ("GET", "/_mock/count"):
            self.send(json_reply(200, {"count": self.server.state.count()}))
        elif (method, path) == ("POST", "/_mock/reset"):
            self.server.state.reset()
            mock_openai.reset()
            mock_vertex.STATE.reset()
            self.send(json_reply(200, {"status": "reset"}))
        elif (method, path) == ("GET", "/_mock/health"):
            self.send(json_reply(200, {"status": "ok"}))
        else:
            self.send(not_found_method())

    # ---- the generate endpoint --------------------------------------------
    def generate(self, model: str, path: str, query: str, raw: bytes, bearer: str | None = None,
                 vertex: dict | None = None) -> None:
        """Gemini's generateContent; on the Vertex path (vertex set) the bearer
        token was already checked by mock_vertex and replaces the API key."""
        params = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            body = None
        self.record(path, model, params, body, raw, vertex)
        try:
            directives = parse_directives(prompt_text(body))
        except DirectiveError as exc:
            self.send(mock_usage_error(str(exc)))
            return
        if directives.has("delay"):
            time.sleep(directives.get("delay"))
        key = self.headers.get("x-goog-api-key") or params.get("key")
        reply = None if bearer else auth_reply(key, directives, model)
        if reply is None:
            reply = self.answer(model, body, directives)
        self.send(reply, directives)

    def answer(self, model: str, body: Any, directives: Directives) -> Reply:
        if body is None:
            return google_error(400, "INVALID_ARGUMENT",
                                "Invalid JSON payload received. Unexpected token.\n")
        try:
            validate_request(body, model)
        except BadRequest as exc:
            return exc.reply()
        call = Call(model, body, prompt_text(body), directives)
        return scenario_reply(call, self.server.state)

    def record_vertex(self, path: str, where: dict, raw: bytes, token: str) -> None:
        """Records a Vertex call refused for its token (the body is not read)."""
        self.record(path, where["model"], {}, None, b"", dict(where, refused=True))

    def record(self, path: str, model: str, params: dict, body: Any, raw: bytes,
               vertex: dict | None = None) -> None:
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            name = name.lower()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        entry = {"path": path, "model": model, "query": params, "headers": headers,
                 "body": strip_inline_data(body), "parts": parts_summary(body),
                 "time": time.time()}
        if vertex is not None:
            entry["vertex"] = vertex
        if body is None:
            entry["body_text"] = raw[:4096].decode("utf-8", "replace")
        self.server.state.record(entry)

    # ---- sending ------------------------------------------------------------
    def send(self, reply: Reply, directives: Directives | None = None) -> None:
        """Write `reply`, applying the transport directives (step 7)."""
        d = directives or Directives()
        if d.has("close"):
            self.drop_connection()
            return
        if d.has("garbage"):
            reply = Reply(200, GARBAGE_BODY, "application/json; charset=UTF-8")
        body = reply.body
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Vary", "Origin, X-Origin, Referer")
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()
        if d.has("truncated"):
            self.wfile.write(body[: len(body) // 2])
            self.drop_connection()
        elif d.has("slow_body"):
            self.trickle(body, d.get("slow_body"))
        else:
            self.wfile.write(body)

    def trickle(self, body: bytes, seconds: float) -> None:
        pieces = max(1, min(len(body), int(seconds * 20)))
        step = math.ceil(len(body) / pieces)
        for start in range(0, len(body), step):
            self.wfile.write(body[start:start + step])
            self.wfile.flush()
            time.sleep(seconds / pieces)

    def drop_connection(self) -> None:
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class MockServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple, quiet: bool) -> None:
        super().__init__(address, Handler)
        self.state = MockState()
        self.quiet = quiet

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionError, socket.timeout)):
            return  # the client went away; nothing to report
        super().handle_error(request, client_address)


def write_port_file(path: str, port: int) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="ascii") as fh:
        fh.write(f"{port}\n")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Mock of the Gemini generateContent image API.")
    parser.add_argument("--port", type=int, default=0, help="TCP port; 0 picks a free one")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port-file", help="also write the port number to this file")
    parser.add_argument("--quiet", action="store_true", help="no access log on stderr")
    parser.add_argument("--list-directives", action="store_true", help="print the directives and exit")
    args = parser.parse_args(argv)
    if args.list_directives:
        for name, spec in DIRECTIVES.items():
            token = {"none": name, "required": f"{name}=V", "optional": f"{name}[=V]"}[spec.value]
            print(f"mock:{token:<22} {spec.kind:<9} {spec.summary}")
        return 0

    server = MockServer((args.host, args.port), args.quiet)
    port = server.server_address[1]

    def stop(_signum: int, _frame: Any) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.port_file:
        write_port_file(args.port_file, port)
    print(f"PORT {port}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
