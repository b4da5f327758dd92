"""Vertex AI and Google OAuth2 parts of the mock upstream (mock_gemini.py).

Speaks two more of Google's wire formats, on the same port as the Gemini mock:

  POST /token
      The OAuth2 token endpoint of a service-account key file (its
      ``token_uri``).  Takes the JWT-bearer grant
      (``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=JWT``),
      checks the JWT's header (RS256), its claims (iss is a registered
      service account, scope has cloud-platform, aud is this endpoint,
      iat/exp sane and unexpired, lifetime at most an hour) and its
      signature against the registered public key (with the ``openssl``
      command), then issues ``{"access_token", "expires_in", "token_type"}``.
      Failures answer like Google: 400 ``invalid_grant`` with an
      ``error_description``.

  POST /v1/projects/{p}/locations/{loc}/publishers/google/models/{m}:generateContent
      The Vertex form of generateContent: checks ``Authorization: Bearer``
      against the tokens issued here (unknown, expired or revoked: 401
      UNAUTHENTICATED with ``WWW-Authenticate``), then answers exactly as the
      Gemini endpoint does (same directives, same bodies).

Control endpoints:
  POST /_mock/vertex/accounts  {"client_email", "public_key_pem"}: register one
  POST /_mock/vertex/config    {"expires_in": s, "token_status": code,
                                "refuse_calls": true (every call 401, as for a revoked grant)}
  POST /_mock/vertex/revoke    {} revokes every token issued so far
  GET  /_mock/vertex/stats     {"token_requests", "tokens_issued", "rejected", "calls"}
/_mock/reset also resets this state (accounts stay registered).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from typing import Any

VERTEX_PATH = re.compile(
    r"^/v1/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/publishers/google/"
    r"models/(?P<model>[^/:]+):generateContent$")
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SCOPE = "https://www.googleapis.com/auth/cloud-platform"


class VertexState:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.accounts: dict[str, str] = {}  # client_email -> public key PEM
        self.tokens: dict[str, dict] = {}  # access token -> {email, expires}
        self.expires_in = 3600
        self.token_status = 200
        self.refuse_calls = False
        self.stats = {"token_requests": 0, "tokens_issued": 0, "rejected": 0, "calls": 0}

    def reset(self) -> None:
        with self.lock:
            self.tokens.clear()
            self.expires_in = 3600
            self.token_status = 200
            self.refuse_calls = False
            for k in self.stats:
                self.stats[k] = 0


STATE = VertexState()


def b64url_decode(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_rs256(pem: str, signed: bytes, signature: bytes) -> bool:
    """Checks an RSASSA-PKCS1-v1_5 SHA-256 signature with the openssl command."""
    with tempfile.TemporaryDirectory() as d:
        paths = {name: os.path.join(d, name) for name in ("key.pem", "data", "sig")}
        for name, content in (("key.pem", pem.encode()), ("data", signed), ("sig", signature)):
            with open(paths[name], "wb") as f:
                f.write(content)
        run = subprocess.run(["openssl", "dgst", "-sha256", "-verify", paths["key.pem"],
                              "-signature", paths["sig"], paths["data"]],
                             capture_output=True, check=False)
        return run.returncode == 0


def oauth_error(status: int, code: str, description: str) -> tuple[int, dict]:
    return status, {"error": code, "error_description": description}


def check_assertion(assertion: str, audience: str) -> tuple[int, dict]:
    """The token endpoint's answer to one JWT-bearer grant."""
    parts = assertion.split(".")
    if len(parts) != 3:
        return oauth_error(400, "invalid_grant", "Invalid JWT: Token must be a short-lived token "
                           "(60 minutes) and in a reasonable timeframe.")
    try:
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
        signature = b64url_decode(parts[2])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return oauth_error(400, "invalid_grant", "Invalid JWT: malformed segments.")
    if not isinstance(header, dict) or header.get("alg") != "RS256":
        return oauth_error(400, "invalid_grant", "Invalid JWT: alg must be RS256.")
    if not isinstance(claims, dict):
        return oauth_error(400, "invalid_grant", "Invalid JWT: claims are not an object.")
    email = claims.get("iss")
    with STATE.lock:
        pem = STATE.accounts.get(email) if isinstance(email, str) else None
    if pem is None:
        return oauth_error(400, "invalid_grant", "Invalid grant: account not found")
    if SCOPE not in str(claims.get("scope", "")).split():
        return oauth_error(400, "invalid_scope", "Invalid OAuth scope or ID token audience "
                           "provided.")
    if claims.get("aud") != audience:
        return oauth_error(400, "invalid_grant", "Invalid JWT: aud does not match the token "
                           "endpoint.")
    now = time.time()
    iat, exp = claims.get("iat"), claims.get("exp")
    if not isinstance(iat, int) or not isinstance(exp, int) or iat > now + 60 or exp <= now \
            or exp - iat > 3600:
        return oauth_error(400, "invalid_grant", "Invalid JWT: Token must be a short-lived token "
                           "(60 minutes) and in a reasonable timeframe. Check your iat and exp "
                           "values in the JWT claim.")
    if not verify_rs256(pem, f"{parts[0]}.{parts[1]}".encode(), signature):
        return oauth_error(400, "invalid_grant", "Invalid JWT Signature.")
    with STATE.lock:
        if STATE.token_status != 200:
            status = STATE.token_status
            return status, {"error": "internal_failure", "error_description": "mock: configured"}
        token = "ya29.mock-" + secrets.token_urlsafe(24)
        STATE.tokens[token] = {"email": email, "expires": now + STATE.expires_in}
        STATE.stats["tokens_issued"] += 1
        return 200, {"access_token": token, "expires_in": STATE.expires_in,
                     "token_type": "Bearer"}


def handles(method: str, path: str) -> bool:
    return (method == "POST" and path == "/token") or bool(VERTEX_PATH.match(path)) or \
        path.startswith("/_mock/vertex/")


def route(handler: Any, method: str, path: str, query: str, raw: bytes) -> None:
    """Serves one request for the mock's Handler (see mock_gemini.route)."""
    mock = sys.modules[type(handler).__module__]  # mock_gemini, however it was started
    google_error, json_reply = mock.google_error, mock.json_reply

    if method == "POST" and path == "/token":
        with STATE.lock:
            STATE.stats["token_requests"] += 1
        form = dict(urllib.parse.parse_qsl(raw.decode("latin-1"), keep_blank_values=True))
        if form.get("grant_type") != JWT_BEARER or "assertion" not in form:
            status, body = oauth_error(400, "unsupported_grant_type", "Invalid grant_type: " +
                                       form.get("grant_type", ""))
        else:
            host = handler.headers.get("Host", "")
            status, body = check_assertion(form["assertion"], f"http://{host}/token")
        if status != 200:
            with STATE.lock:
                STATE.stats["rejected"] += 1
        handler.send(json_reply(status, body))
        return
    match = VERTEX_PATH.match(path)
    if match and method == "POST":
        auth = handler.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else ""
        with STATE.lock:
            STATE.stats["calls"] += 1
            info = STATE.tokens.get(token)
            ok = info is not None and info["expires"] > time.time() and not STATE.refuse_calls
        if not ok:
            handler.record_vertex(path, match.groupdict(), raw, token)
            handler.send(google_error(
                401, "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 access token, "
                "login cookie or other valid authentication credential. See "
                "https://developers.google.com/identity/sign-in/web/devconsole-project.",
                headers=[("WWW-Authenticate",
                          'Bearer realm="https://accounts.google.com/", error="invalid_token"')]))
            return
        handler.generate(match.group("model"), path, query, raw, bearer=token,
                         vertex=match.groupdict())
        return
    if method == "POST" and path == "/_mock/vertex/accounts":
        body = json.loads(raw or b"{}")
        with STATE.lock:
            STATE.accounts[body["client_email"]] = body["public_key_pem"]
        handler.send(json_reply(200, {"status": "registered"}))
    elif method == "POST" and path == "/_mock/vertex/config":
        body = json.loads(raw or b"{}")
        with STATE.lock:
            STATE.expires_in = int(body.get("expires_in", STATE.expires_in))
            STATE.token_status = int(body.get("token_status", STATE.token_status))
            STATE.refuse_calls = bool(body.get("refuse_calls", STATE.refuse_calls))
        handler.send(json_reply(200, {"status": "ok"}))
    elif method == "POST" and path == "/_mock/vertex/revoke":
        with STATE.lock:
            STATE.tokens.clear()
        handler.send(json_reply(200, {"status": "revoked"}))
    elif method == "GET" and path == "/_mock/vertex/stats":
        with STATE.lock:
            handler.send(json_reply(200, dict(STATE.stats)))
    else:
        handler.send(google_error(404, "NOT_FOUND", "mock: no such vertex control endpoint"))
