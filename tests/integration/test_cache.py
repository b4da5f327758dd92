"""SPEC 5 (the cache) end to end, behind lighttpd with the mock upstream:
hit/miss/partial/bypass, per-slot keys, request control, what is never
cached, TTL, LRU eviction, the seed aliases, in-flight collapse, signed URLs,
the admin routes, the `imagegw cache` commands, and the cache failing in
every way it can while requests keep succeeding."""
import base64
import hashlib
import itertools
import json
import os
import shutil
import sqlite3
import subprocess
import threading
import time

import pytest

from conftest import BIN, Gateway, assert_error, decode_image, fetch_url
from conftest import run_cli as cli

ADMIN = "adm-secret-key"
AUTH = {"Authorization": f"Bearer {ADMIN}"}
_seq = itertools.count()


def uniq(directives="", prompt="a cached lighthouse"):
    """A prompt no other test (or earlier run against the same mock) used."""
    return f"{prompt} {os.getpid()}.{next(_seq)}.{time.time_ns() % 10**9} {directives}".strip()


def phash(prompt):
    return hashlib.sha256(prompt.encode()).hexdigest()[:16]


def settings(mock, **extra):
    s = {"gemini_base_url": mock.url, "gemini_api_key": "test-key-1", "retry_backoff_ms": 20,
         "upstream_timeout_seconds": 5, "api_key": ADMIN,
         # an api_key closes anonymous access under allow_anonymous=auto;
         # these tests generate without a key
         "allow_anonymous": "true",
         # the gallery keeps its images outside the cache (its own limits): these
         # tests are about the cache's files alone (see test_gallery.py for both)
         "gallery_enabled": "false"}
    s.update(extra)
    return s


@pytest.fixture(scope="module")
def gw(mock):
    g = Gateway(settings(mock), max_procs=2)
    yield g
    problems = g.stop()
    assert not problems, "sanitizer reports:\n" + "\n".join(problems)


def db_path(g):
    return os.path.join(g.dir, "var", "imagegw.db")


def sql(g, query, args=()):
    db = sqlite3.connect(db_path(g), timeout=10)
    try:
        rows = db.execute(query, args).fetchall()
        db.commit()
        return rows
    finally:
        db.close()


def entries(g, prompt):
    return sql(g, "SELECT key, blob, ext, bytes, created, expires, model FROM cache_entries "
                  "WHERE prompt_hash = ?", (phash(prompt),))


def blob_path(g, blob, ext="png"):
    return os.path.join(g.cache_dir, blob[:2], f"{blob[2:]}.{ext}")


def settled(g, r):
    """Waits for the request's `request` log line: it is written after the
    post-reply work, so fresh images are stored by then.  Returns it."""
    rid = r.header("x-request-id")
    evs = g.wait_log(lambda e: e.get("event") == "request" and e.get("request_id") == rid,
                     timeout=15)
    assert len(evs) == 1, (rid, evs)
    return evs[0]


def gen(g, prompt, settle=True, **fields):
    r = g.generate(prompt=prompt, **fields)
    if settle and r.status == 200:
        settled(g, r)
    return r


def images(r):
    return [decode_image(d) for d in r.json()["data"]]


def cache_state(r):
    return r.header("x-imagegw-cache")


def warnings_after(g, n0):
    """Warning-or-worse log lines written since the log had n0 lines."""
    return [e for e in g.log_events()[n0:] if e.get("level") in ("warn", "error")]


def stats(g):
    r = g.get("/v1/cache/stats", headers=AUTH)
    assert r.status == 200, r
    return r.json()




# ---- hits, misses, slots ---------------------------------------------------------

def test_miss_then_hit_with_identical_bytes(gw, mock):
    p = uniq()
    r1 = gen(gw, p)
    assert r1.status == 200, r1
    assert cache_state(r1) == "miss"
    assert r1.json()["usage"] == {"images": 1, "cached": 0}
    assert mock.count() == 1
    r2 = gen(gw, p)
    assert r2.status == 200, r2
    assert cache_state(r2) == "hit"
    assert r2.json()["usage"] == {"images": 1, "cached": 1}
    assert images(r2) == images(r1)
    assert r2.json()["data"][0]["revised_prompt"] == r1.json()["data"][0]["revised_prompt"]
    assert mock.count() == 1
    assert r2.header("x-imagegw-model") == r1.header("x-imagegw-model")
    assert r2.header("x-imagegw-image-size") == "2K"
    # the request log says so too
    assert settled(gw, r1)["cache"] == "miss"
    assert settled(gw, r2)["cache"] == "hit"
    # one row, its blob on disk with the very bytes
    (row,) = entries(gw, p)
    assert row[1] == hashlib.sha256(images(r1)[0]).hexdigest()
    with open(blob_path(gw, row[1]), "rb") as f:
        assert f.read() == images(r1)[0]


def test_every_key_field_is_its_own_entry(gw, mock):
    p = uniq()
    variants = [{}, {"image_size": "4K"}, {"aspect_ratio": "16:9"}, {"quality": "hd"},
                {"style": "vivid"}, {"seed": 0}, {"seed": 1}, {"safety_threshold": "HIGH"}]
    for v in variants:
        r = gen(gw, p, **v)
        assert r.status == 200 and cache_state(r) == "miss", (v, r)
    assert mock.count() == len(variants)
    for v in variants:
        r = gen(gw, p, **v)
        assert r.status == 200 and cache_state(r) == "hit", (v, r)
    # spelling and delivery fields are not part of the key
    r = gen(gw, p, image_size="4k", quality=None, user="someone", unknown_extra=1)
    assert cache_state(r) == "hit", r
    r = gen(gw, p, model="gemini-3-pro-image-4k-1x1")
    assert cache_state(r) == "hit", r
    assert mock.count() == len(variants)


def test_n4_fills_four_slots_and_n1_hits_slot_0(gw, mock):
    p = uniq()
    r = gen(gw, p, n=4)
    assert r.status == 200, r
    assert cache_state(r) == "miss"
    assert len(r.json()["data"]) == 4
    assert mock.count() == 4
    rows = entries(gw, p)
    assert len(rows) == 4
    assert len({row[0] for row in rows}) == 4  # four keys...
    assert len({row[1] for row in rows}) == 1  # ...one blob (the mock's bytes are the same)
    (nblobs,) = sql(gw, "SELECT count(*) FROM cache_blobs WHERE hash = ?", (rows[0][1],))[0]
    assert nblobs == 1
    r1 = gen(gw, p, n=1)
    assert cache_state(r1) == "hit", r1
    assert mock.count() == 4
    r3 = gen(gw, p, n=3)
    assert cache_state(r3) == "hit", r3
    assert r3.json()["usage"] == {"images": 3, "cached": 3}
    assert mock.count() == 4


def test_n4_after_n2_is_partial_with_two_upstream_calls(gw, mock):
    p = uniq()
    r = gen(gw, p, n=2)
    assert cache_state(r) == "miss" and mock.count() == 2
    r = gen(gw, p, n=4)
    assert r.status == 200, r
    assert cache_state(r) == "partial"
    assert r.json()["usage"] == {"images": 4, "cached": 2}
    assert len(r.json()["data"]) == 4
    assert mock.count() == 4
    assert settled(gw, r)["cache"] == "partial"
    r = gen(gw, p, n=4)
    assert cache_state(r) == "hit" and mock.count() == 4


def test_local_preview_is_cached(gw, mock):
    p = uniq()
    r1 = gen(gw, p, model="local-preview-16x9")
    assert r1.status == 200 and cache_state(r1) == "miss", r1
    r2 = gen(gw, p, model="local-preview-16x9")
    assert cache_state(r2) == "hit", r2
    assert images(r1) == images(r2)
    assert mock.count() == 0
    (row,) = entries(gw, p)
    assert row[6] == "local-preview-16x9"


# ---- request control ---------------------------------------------------------------

def test_no_cache_bypasses_lookup_and_stores_the_fresh_result(gw, mock):
    p = uniq()
    gen(gw, p)
    assert mock.count() == 1
    # Age the entry (still valid) so the refresh shows in its row.
    sql(gw, "UPDATE cache_entries SET created = 1000, expires = ? WHERE prompt_hash = ?",
        (int(time.time()) + 100, phash(p)))
    r = gen(gw, p, headers={"Cache-Control": "no-cache"})
    assert r.status == 200, r
    assert cache_state(r) == "bypass"
    assert mock.count() == 2
    (row,) = entries(gw, p)
    now = int(time.time())
    assert now - 10 <= row[4] <= now  # re-stored
    assert row[5] - row[4] == 86400
    r = gen(gw, p)
    assert cache_state(r) == "hit" and mock.count() == 2
    # a never-seen prompt with no-cache is stored too
    q = uniq()
    r = gen(gw, q, headers={"Cache-Control": "max-age=0, No-Cache"})
    assert cache_state(r) == "bypass"
    r = gen(gw, q)
    assert cache_state(r) == "hit" and mock.count() == 3


@pytest.mark.parametrize("how", ["header", "header-mixed", "body"])
def test_no_store_neither_looks_up_nor_stores(gw, mock, how):
    p = uniq()

    def nostore():
        if how == "header":
            return gen(gw, p, headers={"Cache-Control": "no-store"})
        if how == "header-mixed":
            return gen(gw, p, headers={"Cache-Control": "private, NO-STORE"})
        return gen(gw, p, cache=False)

    r = nostore()
    assert r.status == 200 and cache_state(r) == "bypass", r
    assert entries(gw, p) == []
    r = gen(gw, p)
    assert cache_state(r) == "miss" and mock.count() == 2  # nothing was stored
    r = nostore()  # now there is an entry, and it is not used
    assert cache_state(r) == "bypass" and mock.count() == 3
    r = gen(gw, p)
    assert cache_state(r) == "hit" and mock.count() == 3


def test_blocked_results_are_never_cached(gw, mock):
    p = uniq("mock:image_safety")
    for i in range(2):
        r = gw.generate(prompt=p)
        assert_error(r, "IMG_SAFETY_BLOCKED")
        assert mock.count() == i + 1
    assert entries(gw, p) == []


def test_partial_failure_caches_only_the_successes(gw, mock):
    p = uniq("mock:fail=400x1")
    r = gen(gw, p, n=2)
    assert r.status == 200, r
    body = r.json()
    assert len(body["data"]) == 1
    assert len(body["errors"]) == 1
    assert mock.count() == 2
    assert len(entries(gw, p)) == 1
    r = gen(gw, p, n=2)
    assert r.status == 200, r
    assert cache_state(r) == "partial"
    assert r.json()["usage"] == {"images": 2, "cached": 1}
    assert "errors" not in r.json()
    assert mock.count() == 3
    r = gen(gw, p, n=2)
    assert cache_state(r) == "hit" and mock.count() == 3


# ---- TTL, eviction, configuration -------------------------------------------------

def test_ttl_expiry(make_gateway, mock):
    g = make_gateway(settings(mock, cache_ttl_seconds=2))
    p = uniq()
    assert cache_state(gen(g, p)) == "miss"
    rows = entries(g, p)
    if len(rows) != 1:
        time.sleep(2)
        print("LATER", entries(g, p))
        print(g.log_text()[-4000:])
    (row,) = entries(g, p)
    assert row[5] - row[4] == 2
    assert cache_state(gen(g, p)) == "hit"
    time.sleep(max(0.0, row[5] - time.time()) + 0.1)
    r = gen(g, p)
    assert cache_state(r) == "miss", r
    assert mock.count() == 2


def test_eviction_under_a_tiny_cap(make_gateway, mock):
    g = make_gateway(settings(mock, cache_max_size_mb=1))
    cap = 1024 * 1024
    for i in range(4):
        r = gen(g, uniq("mock:bytes=400000"))
        assert r.status == 200, r
        assert len(images(r)[0]) >= 390000
    s = stats(g)
    assert s["max_bytes"] == cap
    assert s["evictions"] > 0
    assert 0 < s["bytes"] <= cap * 0.9
    assert s["entries"] <= 2
    on_disk = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(g.cache_dir)
                  for f in fs if not f.startswith("."))
    assert on_disk == s["bytes"]
    (total,) = sql(g, "SELECT coalesce(sum(bytes), 0) FROM cache_blobs")[0]
    assert total == s["bytes"]


def test_url_of_an_image_larger_than_the_cap_works(make_gateway, mock):
    g = make_gateway(settings(mock, cache_max_size_mb=1))
    r = gen(g, uniq("mock:bytes=1200000"), response_format="url")
    assert r.status == 200, r
    url = r.json()["data"][0]["url"]
    assert url.startswith("data:") or fetch_url(g, url).status == 200, url[:80]


@pytest.mark.parametrize("env", [{"CACHE_BACKEND": "none"}, {"CACHE_BACKEND": "noop"},
                                 {"GEMINI_IMAGE_CACHE_BACKEND": "none"},
                                 {"GEMINI_IMAGE_CACHE_ENABLED": "false"},
                                 {"IMAGEGW_CACHE_ENABLED": "0"}])
def test_cache_off_by_seed_alias(make_gateway, mock, env):
    g = make_gateway(settings(mock), env=env)
    p = uniq()
    for i in range(2):
        r = gen(g, p)
        assert r.status == 200, r
        assert cache_state(r) != "hit", r
        assert mock.count() == i + 1
    r = gen(g, p, response_format="url")  # no file to point at: a data: URI
    assert r.json()["data"][0]["url"].startswith("data:image/png;base64,"), r
    assert sql(g, "SELECT count(*) FROM cache_entries")[0][0] == 0


def test_seed_aliases_for_ttl_dir_and_size(make_gateway, mock, tmp_path):
    alt = str(tmp_path / "alt-cache")
    env = {"GEMINI_IMAGE_CACHE_TTL_HOURS": "2", "CACHE_DIR": alt,
           "GEMINI_IMAGE_CACHE_MAX_SIZE_MB": "7"}
    g = make_gateway(settings(mock), env=env)
    p = uniq()
    gen(g, p)
    (row,) = entries(g, p)
    assert row[5] - row[4] == 7200
    assert os.path.exists(os.path.join(alt, row[1][:2], f"{row[1][2:]}.png"))
    assert stats(g)["max_bytes"] == 7 * 1024 * 1024
    out = cli(g, "config", "check", env=env)
    assert out.returncode == 0, out.stderr
    assert "cache_ttl_hours = 2    # env GEMINI_IMAGE_CACHE_TTL_HOURS" in out.stdout
    assert f"cache_dir = {alt}    # env CACHE_DIR" in out.stdout
    assert "cache_max_size_mb = 7    # env GEMINI_IMAGE_CACHE_MAX_SIZE_MB" in out.stdout
    # cache_ttl_seconds, once set, wins over the hours
    g2 = make_gateway(settings(mock), env={"GEMINI_IMAGE_CACHE_TTL_HOURS": "2",
                                           "CACHE_TTL_SECONDS": "600"})
    gen(g2, p)
    (row,) = entries(g2, p)
    assert row[5] - row[4] == 600


# ---- in-flight collapse --------------------------------------------------------------

def test_identical_requests_in_flight_make_one_upstream_call(gw, mock):
    gw.warm_up(2, mock)  # both requests in a responder at once
    p = uniq("mock:delay=1")
    barrier = threading.Barrier(2)
    out = [None, None]

    def one(i):
        barrier.wait()
        out[i] = gw.generate(prompt=p, timeout=30)

    t0 = time.monotonic()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - t0
    assert all(r.status == 200 for r in out), out
    assert sorted(cache_state(r) for r in out) == ["hit", "miss"]
    assert images(out[0]) == images(out[1])
    assert mock.count() == 1
    assert wall < 2.5, wall  # one upstream second, not two
    # the hit really waited in its responder for the other's result (it was
    # not merely queued behind it by the web server)
    hit = next(r for r in out if cache_state(r) == "hit")
    assert settled(gw, hit)["duration_ms"] >= 800


# ---- signed URLs ---------------------------------------------------------------------

def test_url_mode_round_trip(gw, mock):
    p = uniq()
    r = gen(gw, p, response_format="url")
    assert r.status == 200 and cache_state(r) == "miss", r
    url = r.json()["data"][0]["url"]
    assert url.startswith(f"{gw.url}/v1/files/"), url
    f = fetch_url(gw, url)
    assert f.status == 200, f
    assert f.header("content-type") == "image/png"
    b64 = gen(gw, p)  # the same image as b64_json: a hit with the same bytes
    assert cache_state(b64) == "hit"
    assert f.body == images(b64)[0]
    sha = hashlib.sha256(f.body).hexdigest()
    assert url.split("?")[0] == f"{gw.url}/v1/files/{sha}.png"
    assert f.header("etag") == f'"{sha}"'
    r2 = gen(gw, p, response_format="url")
    assert cache_state(r2) == "hit"
    assert r2.json()["data"][0]["url"].split("?")[0] == url.split("?")[0]
    assert mock.count() == 1


def test_url_base_from_public_base_url(make_gateway, mock):
    g = make_gateway(settings(mock, public_base_url="https://img.example.org/imagegw/"))
    r = gen(g, uniq(), response_format="url")
    url = r.json()["data"][0]["url"]
    assert url.startswith("https://img.example.org/imagegw/v1/files/"), url
    # the Host the client used when no public_base_url is set
    g2 = make_gateway(settings(mock, url_mode="data"))
    r = gen(g2, uniq(), response_format="url")
    assert r.json()["data"][0]["url"].startswith("data:image/png;base64,")


# ---- admin routes --------------------------------------------------------------------

STATS_KEYS = {"entries", "bytes", "hits", "misses", "hit_ratio", "evictions", "cost_saved_usd"}


def test_stats_needs_the_admin_key(gw):
    assert_error(gw.get("/v1/cache/stats"), "IMG_UNAUTHORIZED")
    assert_error(gw.get("/v1/cache/stats", headers={"Authorization": "Bearer wrong"}),
                 "IMG_UNAUTHORIZED")
    assert_error(gw.get("/v1/cache/stats", headers={"x-api-key": "wrong"}), "IMG_UNAUTHORIZED")
    assert_error(gw.request("DELETE", "/v1/cache"), "IMG_UNAUTHORIZED")
    assert_error(gw.request("DELETE", "/v1/cache", headers={"Authorization": "Bearer x"}),
                 "IMG_UNAUTHORIZED")
    r = gw.get("/v1/cache/stats", headers=AUTH)
    assert r.status == 200, r
    assert r.header("content-type").startswith("application/json")
    s = r.json()
    assert STATS_KEYS <= set(s), s
    r = gw.get("/v1/cache/stats", headers={"x-api-key": ADMIN})
    assert r.status == 200, r


def test_admin_routes_without_a_configured_key_are_403(make_gateway):
    g = make_gateway({})
    assert_error(g.get("/v1/cache/stats"), "IMG_FORBIDDEN")
    assert_error(g.get("/v1/cache/stats", headers={"Authorization": "Bearer anything"}),
                 "IMG_FORBIDDEN")
    assert_error(g.request("DELETE", "/v1/cache"), "IMG_FORBIDDEN")


def test_stats_add_up_and_cost_saved(gw, mock):
    p2, p4 = uniq(), uniq()
    gen(gw, p2)
    gen(gw, p4, image_size="4K")
    s0 = stats(gw)
    assert s0["entries"] == sql(gw, "SELECT count(*) FROM cache_entries")[0][0]
    assert s0["bytes"] == sql(gw, "SELECT coalesce(sum(bytes), 0) FROM cache_blobs")[0][0]
    lookups = s0["hits"] + s0["misses"]
    assert s0["hit_ratio"] == pytest.approx(s0["hits"] / lookups if lookups else 0, abs=1e-4)
    assert cache_state(gen(gw, p2)) == "hit"
    s1 = stats(gw)
    assert s1["hits"] == s0["hits"] + 1
    assert s1["misses"] == s0["misses"]
    assert s1["cost_saved_usd"] == pytest.approx(s0["cost_saved_usd"] + 0.134, abs=1e-4)
    assert cache_state(gen(gw, p4, image_size="4K")) == "hit"
    s2 = stats(gw)
    assert s2["cost_saved_usd"] == pytest.approx(s1["cost_saved_usd"] + 0.24, abs=1e-4)
    # a miss adds a miss and no money; local hits are free
    q = uniq()
    gen(gw, q, model="local-preview")
    gen(gw, q, model="local-preview")
    s3 = stats(gw)
    assert s3["misses"] == s2["misses"] + 1
    assert s3["hits"] == s2["hits"] + 1
    assert s3["cost_saved_usd"] == pytest.approx(s2["cost_saved_usd"], abs=1e-4)


def test_delete_matching_then_everything(gw, mock):
    p1, p2 = uniq(), uniq()
    gen(gw, p1)
    gen(gw, p2)
    gen(gw, p1, model="local-preview")
    r = gw.request("DELETE", f"/v1/cache?model=gemini-3-pro-image&prompt_hash={phash(p1)}",
                   headers=AUTH)
    assert r.status == 200, r
    assert r.json() == {"deleted": 1}
    assert cache_state(gen(gw, p1)) == "miss"  # removed (and stored again)
    assert cache_state(gen(gw, p2)) == "hit"  # other prompt
    assert cache_state(gen(gw, p1, model="local-preview")) == "hit"  # other model
    r = gw.request("DELETE", f"/v1/cache?prompt_hash={phash(p2)}", headers=AUTH)
    assert r.json() == {"deleted": 1}
    r = gw.request("DELETE", "/v1/cache?model=no-such-model", headers=AUTH)
    assert r.json() == {"deleted": 0}
    n = stats(gw)["entries"]
    assert n >= 2
    r = gw.request("DELETE", "/v1/cache", headers=AUTH)
    assert r.status == 200 and r.json() == {"deleted": n}, r
    s = stats(gw)
    assert s["entries"] == 0 and s["bytes"] == 0 and s["blobs"] == 0
    left = [f for _, _, fs in os.walk(gw.cache_dir) for f in fs if not f.startswith(".")]
    assert left == []
    assert cache_state(gen(gw, p2)) == "miss"


# ---- the command line -----------------------------------------------------------------

def test_cli_acts_on_the_same_database(gw, mock):
    p = uniq()
    gen(gw, p)
    gen(gw, p, model="local-preview")
    out = cli(gw, "cache", "stats")
    assert out.returncode == 0, out.stderr
    s = json.loads(out.stdout)
    assert s["entries"] == stats(gw)["entries"] and s["entries"] >= 2
    assert STATS_KEYS <= set(s)

    out = cli(gw, "cache", "invalidate", "--model", "local-preview", "--prompt-hash", phash(p))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "invalidate: 1 entry removed"
    assert cache_state(gen(gw, p, model="local-preview")) == "miss"
    assert cache_state(gen(gw, p)) == "hit"

    out = cli(gw, "cache", "purge")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "purge: 0 entries removed"
    sql(gw, "UPDATE cache_entries SET expires = 1 WHERE prompt_hash = ?", (phash(p),))
    out = cli(gw, "cache", "purge")
    assert out.stdout.strip() == "purge: 2 entries removed", out.stdout
    assert entries(gw, p) == []

    out = cli(gw, "cache", "invalidate")
    assert out.returncode == 2 and "--model" in out.stderr
    out = cli(gw, "cache", "frobnicate")
    assert out.returncode == 2 and "usage" in out.stderr

    gen(gw, uniq())
    n = stats(gw)["entries"]
    out = cli(gw, "cache", "clear")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"clear: {n} entr{'y' if n == 1 else 'ies'} removed"
    assert stats(gw)["entries"] == 0


# ---- degradation: the cache never fails a request -------------------------------------

def _chattr(flag, path):
    return subprocess.run(["chattr", "-R", flag, path], capture_output=True).returncode == 0


def test_unwritable_cache_dir(make_gateway, mock):
    """tests run as root, and chmod 0555 does not stop root (CAP_DAC_OVERRIDE).
    `chattr +i` (the immutable flag, ext4) does: no entry can be created in an
    immutable directory, by anyone.  Where chattr is not supported (tmpfs,
    overlayfs), the directory is swapped for a regular file, so every path
    under it fails with ENOTDIR — also for root."""
    g = make_gateway(settings(mock))
    warm = uniq()
    gen(g, warm)  # the cache works, and the responders have opened their lock file
    cd = g.cache_dir
    immutable = _chattr("+i", cd)
    if not immutable:
        os.rename(cd, cd + ".away")
        open(cd, "w").close()
    try:
        p = uniq()
        n0 = len(g.log_events())
        r = gen(g, p)
        assert r.status == 200, r
        assert cache_state(r) == "miss"
        warns = warnings_after(g, n0)
        assert len(warns) == 1, warns
        assert "cache store skipped" in warns[0]["msg"]
        assert entries(g, p) == []
        r = gen(g, p)
        assert r.status == 200 and cache_state(r) == "miss"
        if immutable:  # what is already cached is still served
            assert cache_state(gen(g, warm)) == "hit"
    finally:
        if immutable:
            _chattr("-i", cd)
        else:
            os.unlink(cd)
            os.rename(cd + ".away", cd)
    r = gen(g, p)
    assert r.status == 200
    assert cache_state(gen(g, p)) == "hit"


def test_cache_dir_deleted_while_running(make_gateway, mock):
    g = make_gateway(settings(mock))
    old = uniq()
    gen(g, old)
    shutil.rmtree(g.cache_dir)
    p = uniq()
    n0 = len(g.log_events())
    r = gen(g, p)
    assert r.status == 200, r
    assert len(warnings_after(g, n0)) <= 1
    # the directory comes back with the next store, and the cache with it
    assert cache_state(gen(g, p)) == "hit"
    n0 = len(g.log_events())
    r = gen(g, old)  # its blob went with the directory
    assert r.status == 200 and cache_state(r) == "miss"
    assert len(warnings_after(g, n0)) == 1
    assert cache_state(gen(g, old)) == "hit"
    assert mock.count() == 3


def test_missing_blob_is_regenerated_and_stored_again(gw, mock):
    p = uniq()
    first = images(gen(gw, p))[0]
    (row,) = entries(gw, p)
    os.unlink(blob_path(gw, row[1]))
    n0 = len(gw.log_events())
    r = gen(gw, p)
    assert r.status == 200 and cache_state(r) == "miss", r
    assert images(r)[0] == first
    assert mock.count() == 2
    assert len(warnings_after(gw, n0)) == 1
    assert os.path.exists(blob_path(gw, row[1]))
    r = gen(gw, p)
    assert cache_state(r) == "hit" and mock.count() == 2


def _flip(path):
    with open(path, "r+b") as f:
        data = bytearray(f.read())
        data[len(data) // 2] ^= 0x5A
        f.seek(0)
        f.write(data)


def test_corrupt_blob_is_regenerated(gw, mock):
    p = uniq()
    good = images(gen(gw, p))[0]
    (row,) = entries(gw, p)
    path = blob_path(gw, row[1])
    _flip(path)
    assert os.path.getsize(path) == len(good)
    n0 = len(gw.log_events())
    r = gen(gw, p)
    assert r.status == 200 and cache_state(r) == "miss", r
    assert images(r)[0] == good  # never the corrupt bytes
    assert mock.count() == 2
    assert len(warnings_after(gw, n0)) == 1
    with open(path, "rb") as f:
        assert f.read() == good
    r = gen(gw, p)
    assert cache_state(r) == "hit" and images(r)[0] == good and mock.count() == 2


def test_corrupt_shared_blob_is_repaired(gw, mock):
    p = uniq()
    good = images(gen(gw, p, n=2))[0]  # two entries, one blob
    (blob,) = {row[1] for row in entries(gw, p)}
    _flip(blob_path(gw, blob))
    r = gen(gw, p)  # slot 0 only: its entry goes, slot 1's keeps the file
    assert r.status == 200 and images(r)[0] == good
    assert mock.count() == 3
    r = gen(gw, p)
    assert cache_state(r) == "hit", r
    assert mock.count() == 3


def test_database_locked_by_another_process(gw, mock):
    """Another connection holds the write lock for 7 s (busy timeout: 5 s).
    The request must succeed; how long it took is printed (-s) and kept in
    the test report."""
    p = uniq()
    locked = threading.Event()
    hold = 7.0

    def locker():
        db = sqlite3.connect(db_path(gw), timeout=1, isolation_level=None)
        db.execute("BEGIN EXCLUSIVE")
        locked.set()
        time.sleep(hold)
        db.execute("ROLLBACK")
        db.close()

    t = threading.Thread(target=locker)
    t.start()
    assert locked.wait(5)
    t0 = time.monotonic()
    r = gw.generate(prompt=p, timeout=60)
    took = time.monotonic() - t0
    t.join()
    print(f"\n[db-locked] status={r.status} cache={cache_state(r)} took={took:.2f}s "
          f"(lock held {hold}s)")
    assert r.status == 200, r
    assert len(images(r)) == 1
    assert mock.count() == 1
    assert took < hold + 5, took
    settled(gw, r)
    # with the lock gone the cache is back
    r = gen(gw, p)
    assert r.status == 200 and cache_state(r) in ("hit", "miss")
    assert cache_state(gen(gw, p)) == "hit"


def _lock_db(g, after, hold):
    """Holds the database's write lock from `after` seconds from now for
    `hold` seconds, in a thread; returns (thread, event set once locked)."""
    locked = threading.Event()

    def locker():
        time.sleep(after)
        db = sqlite3.connect(db_path(g), timeout=5, isolation_level=None)
        db.execute("BEGIN EXCLUSIVE")
        locked.set()
        time.sleep(hold)
        db.execute("ROLLBACK")
        db.close()

    t = threading.Thread(target=locker)
    t.start()
    return t, locked


def test_reply_is_not_held_back_by_the_store(gw, mock):
    p = uniq("mock:delay=1")
    out = []
    req = threading.Thread(target=lambda: out.append(gw.generate(prompt=p, timeout=30)))
    t0 = time.monotonic()
    req.start()
    # lookup and its counters are done long before the upstream second ends;
    # the lock then only stands in the way of the post-reply store
    t, locked = _lock_db(gw, after=0.4, hold=3.0)
    req.join()
    took = time.monotonic() - t0
    t.join()
    assert out[0].status == 200
    print(f"\n[store-after-reply] took={took:.2f}s (upstream 1 s, store blocked 3 s)")
    assert took < 2.0, took


def test_busy_database_does_not_stall_the_request(gw, mock):
    p = uniq()
    t, locked = _lock_db(gw, after=0, hold=4.0)
    assert locked.wait(5)
    t0 = time.monotonic()
    r = gw.generate(prompt=p, timeout=30)
    took = time.monotonic() - t0
    t.join()
    assert r.status == 200, r
    print(f"\n[db-busy 4 s] took={took:.2f}s")
    assert took < 2.0, took


def test_a_miss_too_busy_to_count_is_still_stored(gw, mock):
    """The lookup's miss counter meets a write lock (as when another responder
    is starting up): the count is lost, the cache is not.  The lock is gone
    by the time the upstream answers, so the store after the reply works and
    the next identical request is a hit."""
    p = uniq("mock:delay=1.2")
    t, locked = _lock_db(gw, after=0, hold=0.6)
    assert locked.wait(5)
    n0 = len(gw.log_events())
    r = gen(gw, p)
    t.join()
    assert r.status == 200 and cache_state(r) == "miss", r
    assert any("not counted" in e.get("msg", "") for e in warnings_after(gw, n0))
    assert cache_state(gen(gw, p)) == "hit"
    assert mock.count() == 1


def test_crash_leftovers_are_harmless_and_purged(gw, mock):
    """What kill -9 in the middle of a store leaves: a temp file beside the
    blob (killed before the rename) and a row whose blob is missing."""
    p = uniq()
    good = images(gen(gw, p))[0]
    (row,) = entries(gw, p)
    path = blob_path(gw, row[1])
    os.unlink(path)
    d = os.path.dirname(path)
    stale = os.path.join(d, ".tmp-Zz9Yy8")
    fresh = os.path.join(d, ".tmp-Aa1Bb2")
    for f in (stale, fresh):
        with open(f, "wb") as fh:
            fh.write(good[: len(good) // 2])
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    n0 = len(gw.log_events())
    r = gen(gw, p)
    assert r.status == 200 and cache_state(r) == "miss", r
    assert images(r)[0] == good
    assert not [e for e in warnings_after(gw, n0) if e.get("level") == "error"]
    assert cache_state(gen(gw, p)) == "hit"
    with open(path, "rb") as f:
        assert f.read() == good
    out = cli(gw, "cache", "purge")
    assert out.returncode == 0, out.stderr
    assert not os.path.exists(stale), "purge leaves temp files over an hour old"
    assert os.path.exists(fresh)  # may be a store in progress
    os.unlink(fresh)


def test_purge_removes_orphan_blob_files(gw):
    data = b"\x89PNG\r\n\x1a\n" + os.urandom(1000)
    sha = hashlib.sha256(data).hexdigest()
    path = blob_path(gw, sha)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    old = time.time() - 2 * 3600
    os.utime(path, (old, old))
    out = cli(gw, "cache", "purge")
    assert out.returncode == 0, out.stderr
    exists = os.path.exists(path)
    if exists:
        os.unlink(path)
    assert not exists


def test_url_mode_data_serves_hits_as_data_uris(make_gateway, mock):
    g = make_gateway(settings(mock, url_mode="data"))
    p = uniq()
    first = g.generate(prompt=p, response_format="url")
    assert first.status == 200 and first.header("x-imagegw-cache") == "miss"
    time.sleep(0.3)
    again = g.generate(prompt=p, response_format="url")
    assert again.header("x-imagegw-cache") == "hit"
    for r in (first, again):
        url = r.json()["data"][0]["url"]
        assert url.startswith("data:image/png;base64,"), url[:60]
        assert base64.b64decode(url.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert first.json()["data"][0]["url"] == again.json()["data"][0]["url"]


def test_delete_with_an_empty_filter_clears_nothing(gw, mock):
    p = uniq()
    assert gw.generate(prompt=p).status == 200
    time.sleep(0.3)
    before = gw.get("/v1/cache/stats", headers=AUTH).json()["entries"]
    r = gw.request("DELETE", "/v1/cache?model=", headers=AUTH)
    assert r.status == 400 and r.json()["error"]["param"] == "model"
    assert gw.get("/v1/cache/stats", headers=AUTH).json()["entries"] == before
    assert gw.generate(prompt=p).header("x-imagegw-cache") == "hit"
