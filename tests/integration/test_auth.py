"""SPEC 2.9 (authentication) end to end, behind lighttpd with the mock upstream:
anonymous access under allow_anonymous auto/true/false, client keys from
`imagegw key create` in `Authorization: Bearer` and `x-api-key`, revoked and
unknown keys, the static admin key, admin and non-admin keys on admin routes,
a key's minimum safety threshold (SPEC 3.5), the log's `client` field, and
the routes that stay open to all."""
import itertools
import os
import re
import subprocess
import time

import pytest

from conftest import BIN, assert_error, fetch_url
from conftest import run_cli as cli

ADMIN = "adm-auth-secret"
_seq = itertools.count()

GEMINI_THRESHOLD = {"OFF": "OFF", "LOW": "BLOCK_ONLY_HIGH",
                    "MEDIUM": "BLOCK_MEDIUM_AND_ABOVE", "HIGH": "BLOCK_LOW_AND_ABOVE"}
KEY_RE = re.compile(r"^igw_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$")


def uniq(prompt="a lantern on a pier"):
    return f"{prompt} {os.getpid()}.{next(_seq)}.{time.time_ns() % 10**9}"


def settings(mock, **extra):
    s = {"gemini_base_url": mock.url, "gemini_api_key": "test-key-1", "retry_backoff_ms": 20,
         "upstream_timeout_seconds": 5}
    s.update(extra)
    return s




def make_key(g, name, *flags):
    out = cli(g, "key", "create", "--name", name, *flags)
    assert out.returncode == 0, out.stderr
    key = out.stdout.strip()
    assert KEY_RE.match(key), out.stdout
    return key


def bearer(key):
    return {"Authorization": f"Bearer {key}"}


def gen(g, key=None, headers=None, **fields):
    fields.setdefault("prompt", uniq())
    h = dict(headers or {})
    if key:
        h.update(bearer(key))
    return g.generate(headers=h, **fields)


def request_event(g, r):
    rid = r.header("x-request-id")
    evs = g.wait_log(lambda e: e.get("event") == "request" and e.get("request_id") == rid)
    assert len(evs) == 1, evs
    return evs[0]


# ---- anonymous access ------------------------------------------------------------

def test_auto_is_open_until_the_first_key(make_gateway, mock):
    g = make_gateway(settings(mock))
    assert gen(g).status == 200
    assert g.get("/v1/models").status == 200
    key = make_key(g, "first")
    # a key exists: requests without one are refused, with one served
    err = assert_error(gen(g), "IMG_UNAUTHORIZED")
    assert "Bearer" in err["message"]
    assert_error(g.get("/v1/models"), "IMG_UNAUTHORIZED")
    assert gen(g, key).status == 200
    assert g.get("/v1/models", headers=bearer(key)).status == 200
    # only revoked keys left: open again
    assert cli(g, "key", "revoke", "first").returncode == 0
    assert gen(g).status == 200


def test_auto_with_an_api_key_needs_a_key(make_gateway, mock):
    g = make_gateway(settings(mock, api_key=ADMIN))
    assert_error(gen(g), "IMG_UNAUTHORIZED")
    assert gen(g, ADMIN).status == 200


def test_true_lets_anonymous_in_whatever_keys_exist(make_gateway, mock):
    g = make_gateway(settings(mock, api_key=ADMIN, allow_anonymous="true"))
    make_key(g, "someone")
    assert gen(g).status == 200
    assert g.get("/v1/models").status == 200
    # a wrong key is refused, not quietly served as anonymous
    assert_error(gen(g, "not-a-key"), "IMG_UNAUTHORIZED")


def test_false_needs_a_key_even_with_none_made(make_gateway, mock):
    g = make_gateway(settings(mock, allow_anonymous="false"))
    assert_error(gen(g), "IMG_UNAUTHORIZED")
    assert_error(g.get("/v1/models"), "IMG_UNAUTHORIZED")
    assert mock.count() == 0
    key = make_key(g, "only")
    assert gen(g, key).status == 200


def test_open_routes_stay_open(make_gateway, mock):
    g = make_gateway(settings(mock, allow_anonymous="false"))
    key = make_key(g, "url-user")
    assert g.get("/healthz").status == 200
    r = gen(g, key, response_format="url")
    assert r.status == 200, r
    # the signed URL is the credential: fetched without any key
    f = fetch_url(g, r.json()["data"][0]["url"])
    assert f.status == 200, f
    assert f.body[:4] == b"\x89PNG"


# ---- client keys -----------------------------------------------------------------

def test_bearer_and_x_api_key(make_gateway, mock):
    g = make_gateway(settings(mock, allow_anonymous="false"))
    key = make_key(g, "both-ways")
    assert gen(g, headers={"Authorization": f"Bearer {key}"}).status == 200
    assert gen(g, headers={"Authorization": f"bearer  {key}"}).status == 200
    assert gen(g, headers={"x-api-key": key}).status == 200
    assert g.get("/v1/models", headers={"X-API-Key": key}).status == 200
    # close is not enough
    bad = key[:-1] + ("A" if key[-1] != "A" else "B")
    assert_error(gen(g, bad), "IMG_UNAUTHORIZED")
    assert_error(gen(g, headers={"x-api-key": bad}), "IMG_UNAUTHORIZED")
    other_id = key[:4] + ("0" if key[4] != "0" else "1") + key[5:]
    assert_error(gen(g, other_id), "IMG_UNAUTHORIZED")
    # a Basic header holds no key (anonymous access is off here)
    assert_error(gen(g, headers={"Authorization": f"Basic {key}"}), "IMG_UNAUTHORIZED")


def test_revoked_key_is_401(make_gateway, mock):
    g = make_gateway(settings(mock))
    key = make_key(g, "leaver")
    keep = make_key(g, "stayer")
    assert gen(g, key).status == 200
    out = cli(g, "key", "revoke", key[4:16])  # by key_id
    assert out.returncode == 0, out.stderr
    assert "revoked" in out.stdout
    n = mock.count()
    err = assert_error(gen(g, key), "IMG_UNAUTHORIZED")
    assert "revoked" in err["message"]
    assert_error(g.get("/v1/models", headers=bearer(key)), "IMG_UNAUTHORIZED")
    assert mock.count() == n
    assert gen(g, keep).status == 200


def test_key_list_never_shows_a_key(make_gateway, mock):
    g = make_gateway(settings(mock))
    k1 = make_key(g, "lister", "--rpm", "7", "--daily-images", "9", "--min-safety", "high")
    k2 = make_key(g, "admin-one", "--admin")
    assert gen(g, k1).status == 200
    out = cli(g, "key", "list")
    assert out.returncode == 0, out.stderr
    assert k1 not in out.stdout and k2 not in out.stdout
    assert k1[17:] not in out.stdout
    rows = {line.split()[0]: line.split() for line in out.stdout.splitlines()[1:]}
    assert rows["lister"][1] == k1[4:16]
    assert rows["lister"][2:7] == ["7", "9", "no", "HIGH", "active"]
    assert rows["lister"][8] != "never"  # last_used
    assert rows["admin-one"][2:7] == ["-", "-", "yes", "-", "active"]
    assert rows["admin-one"][8] == "never"
    # bad invocations
    assert cli(g, "key", "create", "--name", "lister").returncode == 1
    assert cli(g, "key", "create", "--name", "x", "--rpm", "zero").returncode == 2
    assert cli(g, "key", "create", "--name", "x", "--min-safety", "EXTREME").returncode == 2
    assert cli(g, "key", "revoke", "nobody").returncode == 1
    assert cli(g, "key").returncode == 2


# ---- admin routes ----------------------------------------------------------------

def test_static_api_key_is_admin(make_gateway, mock):
    g = make_gateway(settings(mock, api_key=ADMIN))
    assert g.get("/v1/cache/stats", headers=bearer(ADMIN)).status == 200
    assert g.get("/v1/cache/stats", headers={"x-api-key": ADMIN}).status == 200
    assert_error(g.get("/v1/cache/stats"), "IMG_UNAUTHORIZED")
    assert_error(g.get("/v1/cache/stats", headers=bearer("wrong")), "IMG_UNAUTHORIZED")
    r = gen(g, ADMIN)
    assert r.status == 200
    assert request_event(g, r)["client"] == "api_key"


def test_admin_and_non_admin_client_keys(make_gateway, mock):
    g = make_gateway(settings(mock, api_key=ADMIN))
    user = make_key(g, "plain-user")
    ops = make_key(g, "ops", "--admin")
    assert_error(g.get("/v1/cache/stats", headers=bearer(user)), "IMG_FORBIDDEN")
    assert_error(g.request("DELETE", "/v1/cache", headers={"x-api-key": user}), "IMG_FORBIDDEN")
    assert g.get("/v1/cache/stats", headers=bearer(ops)).status == 200
    assert g.get("/v1/cache/stats", headers={"x-api-key": ops}).status == 200
    # an admin key is a client key too
    assert gen(g, ops).status == 200
    assert cli(g, "key", "revoke", "ops").returncode == 0
    assert_error(g.get("/v1/cache/stats", headers=bearer(ops)), "IMG_UNAUTHORIZED")


def test_admin_key_without_an_api_key(make_gateway, mock):
    g = make_gateway(settings(mock))
    user = make_key(g, "user")
    # no api_key and no admin key: admin routes are off for everyone
    assert_error(g.get("/v1/cache/stats"), "IMG_FORBIDDEN")
    assert_error(g.get("/v1/cache/stats", headers=bearer(user)), "IMG_FORBIDDEN")
    ops = make_key(g, "ops", "--admin")
    assert g.get("/v1/cache/stats", headers=bearer(ops)).status == 200
    assert_error(g.get("/v1/cache/stats"), "IMG_UNAUTHORIZED")
    assert_error(g.get("/v1/cache/stats", headers=bearer(user)), "IMG_FORBIDDEN")


# ---- per-key minimum safety (SPEC 3.5) ---------------------------------------------

def sent_threshold(g, mock, key, **fields):
    before = mock.count()
    r = gen(g, key, **fields)
    assert r.status == 200, r
    recs = mock.requests()
    assert len(recs) == before + 1
    thresholds = {s["threshold"] for s in recs[-1]["body"]["safetySettings"]}
    assert len(thresholds) == 1, recs[-1]["body"]["safetySettings"]
    return r, thresholds.pop()


def test_min_safety_raises_never_lowers(make_gateway, mock):
    g = make_gateway(settings(mock))
    pinned = make_key(g, "pinned", "--min-safety", "MEDIUM")
    free = make_key(g, "free")
    r, t = sent_threshold(g, mock, pinned, safety_threshold="LOW")
    assert t == GEMINI_THRESHOLD["MEDIUM"]
    assert request_event(g, r)["safety_threshold"] == "MEDIUM"
    _, t = sent_threshold(g, mock, pinned, safety_level="off")
    assert t == GEMINI_THRESHOLD["MEDIUM"]
    _, t = sent_threshold(g, mock, pinned)  # config: OFF
    assert t == GEMINI_THRESHOLD["MEDIUM"]
    _, t = sent_threshold(g, mock, pinned, safety_threshold="HIGH")  # may raise
    assert t == GEMINI_THRESHOLD["HIGH"]
    # other keys and anonymous callers are not affected
    _, t = sent_threshold(g, mock, free, safety_threshold="LOW")
    assert t == GEMINI_THRESHOLD["LOW"]


def test_min_safety_keeps_a_higher_configured_level(make_gateway, mock):
    g = make_gateway(settings(mock, safety_threshold="HIGH"))
    pinned = make_key(g, "pinned", "--min-safety", "LOW")
    _, t = sent_threshold(g, mock, pinned)
    assert t == GEMINI_THRESHOLD["HIGH"]
    _, t = sent_threshold(g, mock, pinned, safety_threshold="OFF")
    assert t == GEMINI_THRESHOLD["LOW"]


def test_min_safety_is_part_of_the_cache_key(make_gateway, mock):
    g = make_gateway(settings(mock))
    pinned = make_key(g, "pinned", "--min-safety", "HIGH")
    free = make_key(g, "free")
    p = uniq()
    assert gen(g, free, prompt=p).header("x-imagegw-cache") == "miss"
    # the same body from the pinned key is a different image: not a hit
    assert gen(g, pinned, prompt=p).header("x-imagegw-cache") == "miss"
    assert gen(g, pinned, prompt=p).header("x-imagegw-cache") == "hit"


# ---- the log -------------------------------------------------------------------------

def test_log_names_the_client_never_the_key(make_gateway, mock):
    g = make_gateway(settings(mock, allow_anonymous="true"))
    key = make_key(g, "logged-app")
    r = gen(g, key)
    assert request_event(g, r)["client"] == "key:logged-app"
    r = gen(g)
    assert re.fullmatch(r"ip:[0-9a-f]{12}", request_event(g, r)["client"])
    r = gen(g, "igw_000000000000_" + "A" * 43)
    assert r.status == 401
    assert request_event(g, r)["client"].startswith("ip:")
    text = g.log_text()
    assert key not in text and key[17:] not in text


# ---- no database -----------------------------------------------------------------------

def unavailable(r):
    assert r.status == 503, r
    assert r.header("retry-after") == "1", r.headers
    err = r.json()["error"]
    assert err["code"] == "IMG_UNAVAILABLE" and err["type"] == "server_error", err
    return err


def test_without_a_database_only_what_needs_no_lookup(make_gateway, mock, tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    bad = str(blocker / "var")  # mkdir fails: a file is in the way
    g = make_gateway(settings(mock, data_dir=bad, api_key=ADMIN))
    assert g.get("/healthz").status == 503
    # auto: no api_key check needed for the static key ...
    assert gen(g, ADMIN).status == 200
    # ... but a client key cannot be looked up
    err = unavailable(gen(g, "igw_0123456789ab_" + "A" * 43))
    assert "database" in err["message"]
    g2 = make_gateway(settings(mock, data_dir=bad))
    # auto without api_key: whether keys exist is unknown, so not open
    unavailable(gen(g2))
    g3 = make_gateway(settings(mock, data_dir=bad, allow_anonymous="true"))
    assert gen(g3).status == 200


def test_open_gateway_ignores_a_key_until_keys_exist(make_gateway, mock):
    """The OpenAI SDKs always send a key: a gateway that has none of its own
    (allow_anonymous=auto, no client key, no api_key) ignores it."""
    g = make_gateway(settings(mock))
    sdk = {"Authorization": "Bearer unused"}
    assert g.generate(prompt=uniq(), headers=sdk).status == 200
    make_key(g, "first")
    r = g.generate(prompt=uniq(), headers=sdk)
    assert r.status == 401 and r.json()["error"]["code"] == "IMG_UNAUTHORIZED"
    # With allow_anonymous=true an unknown key stays an error: it was meant.
    g2 = make_gateway(settings(mock, allow_anonymous="true"))
    assert g2.generate(prompt=uniq(), headers=sdk).status == 401
