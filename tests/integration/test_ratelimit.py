"""SPEC 6.2 (client limits) end to end, behind lighttpd with the mock upstream:
per-key requests per minute, per-IP limits for anonymous callers, ip_allowlist,
X-Forwarded-For from trusted_proxies, the global limit, the daily image budget
with cache hits free, the 429 with Retry-After and X-RateLimit-*, and 40
requests racing through 4 FastCGI processes for a limit of 10."""
import itertools
import os
import sqlite3
import subprocess
import threading
import time

import pytest

from conftest import BIN, assert_error
from conftest import run_cli as cli

_seq = itertools.count()


def uniq(prompt="a kite over dunes"):
    return f"{prompt} {os.getpid()}.{next(_seq)}.{time.time_ns() % 10**9}"


def settings(mock, **extra):
    s = {"gemini_base_url": mock.url, "gemini_api_key": "test-key-1", "retry_backoff_ms": 20,
         "upstream_timeout_seconds": 5}
    s.update(extra)
    return s




def make_key(g, name, *flags):
    out = cli(g, "key", "create", "--name", name, *flags)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def gen(g, key=None, headers=None, **fields):
    fields.setdefault("prompt", uniq())
    h = dict(headers or {})
    if key:
        h["Authorization"] = f"Bearer {key}"
    return g.generate(headers=h, **fields)


def counters(g, prefix=""):
    db = sqlite3.connect(os.path.join(g.dir, "var", "imagegw.db"), timeout=10)
    try:
        return db.execute("SELECT scope, window_start, count FROM rate_counters "
                          "WHERE scope LIKE ? ORDER BY scope, window_start",
                          (prefix + "%",)).fetchall()
    finally:
        db.close()


def fresh_window(window=60, need=20):
    """Waits, if need be, until at least `need` seconds are left in the
    current fixed window, so a test's requests all land in one window."""
    left = window - time.time() % window
    if left < need:
        time.sleep(left + 0.05)
    return int(time.time()) // window * window


def assert_limit_headers(r, limit, remaining, reset):
    assert r.header("x-ratelimit-limit") == str(limit), r.headers
    assert r.header("x-ratelimit-remaining") == str(remaining), r.headers
    assert r.header("x-ratelimit-reset") == str(reset), r.headers


def assert_429(r, limit, reset, remaining=0):
    err = assert_error(r, "IMG_RATE_LIMITED")
    assert_limit_headers(r, limit, remaining, reset)
    retry = int(r.header("retry-after"))
    # (from when the answer came: a race's first answers are seconds old by the
    # time its last ones arrive, under mod_fcgid's one-second waits for a process)
    assert 1 <= retry <= reset - int(r.received) + 1, (retry, reset)
    return err


# ---- per key ------------------------------------------------------------------------

def test_key_rpm_429_with_headers(make_gateway, mock):
    g = make_gateway(settings(mock))
    key = make_key(g, "rpm3", "--rpm", "3")
    other = make_key(g, "other", "--rpm", "3")
    start = fresh_window(60)
    reset = start + 60
    for left in (2, 1, 0):
        r = gen(g, key)
        assert r.status == 200, r
        assert_limit_headers(r, 3, left, reset)
    n = mock.count()
    err = assert_429(gen(g, key), 3, reset)
    assert "per minute" in err["message"]
    # rejected requests cost nothing: no upstream call, not counted
    assert mock.count() == n
    assert counters(g, "key:") == [(f"key:{key_row_id(g, 'rpm3')}", start, 3)]
    # refused before the body is read: even a bad body gets the 429
    r = g.post("/v1/images/generations", "{not json", {"Authorization": f"Bearer {key}"})
    assert_429(r, 3, reset)
    # /v1/models counts against the same limit
    assert_429(g.get("/v1/models", headers={"x-api-key": key}), 3, reset)
    # another key has its own window
    r = g.get("/v1/models", headers={"x-api-key": other})
    assert r.status == 200
    assert_limit_headers(r, 3, 2, reset)


def key_row_id(g, name):
    db = sqlite3.connect(os.path.join(g.dir, "var", "imagegw.db"), timeout=10)
    try:
        return db.execute("SELECT id FROM client_keys WHERE name = ?", (name,)).fetchone()[0]
    finally:
        db.close()


def test_a_key_without_limits_sends_no_headers(make_gateway, mock):
    g = make_gateway(settings(mock, rate_per_ip=1))
    key = make_key(g, "unlimited")
    for _ in range(4):
        r = gen(g, key)
        assert r.status == 200
        assert r.header("x-ratelimit-limit") is None
    # keys are not held to the per-IP limit for anonymous callers
    assert counters(g) == []


# ---- per IP and global ------------------------------------------------------------

def test_per_ip_limit_for_anonymous(make_gateway, mock):
    g = make_gateway(settings(mock, rate_per_ip=3, rate_window_seconds=3600))
    start = fresh_window(3600)
    for left in (2, 1, 0):
        r = g.get("/v1/models")
        assert r.status == 200
        assert_limit_headers(r, 3, left, start + 3600)
    err = assert_429(gen(g), 3, start + 3600)
    assert "address" in err["message"]
    assert counters(g) == [("ip:127.0.0.1", start, 3)]


def test_ip_allowlist_skips_the_per_ip_limit(make_gateway, mock):
    g = make_gateway(settings(mock, rate_per_ip=2, ip_allowlist="10.0.0.0/8, 127.0.0.1/32"))
    for _ in range(5):
        r = gen(g)
        assert r.status == 200, r
        assert r.header("x-ratelimit-limit") is None
    assert counters(g) == []


def test_forwarded_for_from_a_trusted_proxy(make_gateway, mock):
    g = make_gateway(settings(mock, rate_per_ip=2, rate_window_seconds=3600,
                              trusted_proxies="127.0.0.1/32, 10.0.0.0/8"))
    start = fresh_window(3600)

    def xff(v):
        return {"X-Forwarded-For": v}

    a, b = "203.0.113.1", "2001:db8:5:6::1"
    assert g.get("/v1/models", headers=xff(a)).status == 200
    assert g.get("/v1/models", headers=xff(f"198.51.100.9, {a}, 10.1.2.3")).status == 200
    # the third from a: whatever it claims further left, a is the client
    assert_429(g.get("/v1/models", headers=xff(f"192.0.2.200, {a}")), 2, start + 3600)
    # b is someone else; IPv6 clients are counted by their /64
    assert g.get("/v1/models", headers=xff(b)).status == 200
    assert g.get("/v1/models", headers=xff("2001:db8:5:6::99")).status == 200
    assert_429(g.get("/v1/models", headers=xff("[2001:db8:5:6::7]:443")), 2, start + 3600)
    # the proxy itself (no header) is a client of its own
    assert g.get("/v1/models").status == 200
    assert counters(g) == [("ip:127.0.0.1", start, 1), ("ip:2001:db8:5:6::/64", start, 2),
                           (f"ip:{a}", start, 2)]
    # the log hashes the forwarded client, not the proxy
    r1 = g.get("/v1/models", headers=xff("198.51.100.1"))
    r2 = g.get("/v1/models", headers=xff("198.51.100.2"))
    # The request line is written after the reply: wait for both.
    for r in (r1, r2):
        g.wait_log(lambda e: e.get("event") == "request"
                   and e.get("request_id") == r.header("x-request-id"))
    ev = {e["request_id"]: e["client"] for e in
          g.wait_log(lambda e: e.get("event") == "request" and e.get("route") == "/v1/models")}
    c1, c2 = ev[r1.header("x-request-id")], ev[r2.header("x-request-id")]
    assert c1.startswith("ip:") and c2.startswith("ip:") and c1 != c2


def test_forwarded_for_is_ignored_from_anyone_else(make_gateway, mock):
    g = make_gateway(settings(mock, rate_per_ip=2, rate_window_seconds=3600,
                              trusted_proxies="10.0.0.0/8"))
    start = fresh_window(3600)
    assert g.get("/v1/models", headers={"X-Forwarded-For": "203.0.113.1"}).status == 200
    assert g.get("/v1/models", headers={"X-Forwarded-For": "203.0.113.2"}).status == 200
    assert_429(g.get("/v1/models", headers={"X-Forwarded-For": "203.0.113.3"}), 2,
               start + 3600)
    assert counters(g) == [("ip:127.0.0.1", start, 2)]


def test_global_limit(make_gateway, mock):
    g = make_gateway(settings(mock, rate_global=4, rate_window_seconds=3600, rate_per_ip=100,
                              ip_allowlist="127.0.0.1", allow_anonymous="true"))
    key = make_key(g, "k", "--rpm", "100")
    start = fresh_window(3600)
    assert gen(g).status == 200
    assert gen(g, key).status == 200
    r = g.get("/v1/models")
    assert r.status == 200
    assert_limit_headers(r, 4, 1, start + 3600)
    assert g.get("/v1/models", headers={"x-api-key": key}).status == 200
    err = assert_429(gen(g, key), 4, start + 3600)
    assert "gateway" in err["message"]
    assert_429(gen(g), 4, start + 3600)
    rows = dict(((s, w), c) for s, w, c in counters(g))
    assert rows[("global", start)] == 4
    # the refusal did not count against the key either
    assert sum(c for (s, _), c in rows.items() if s.startswith("key:")) == 2


# ---- daily images -------------------------------------------------------------------

def test_daily_images_with_cache_hits_free(make_gateway, mock):
    g = make_gateway(settings(mock))
    key = make_key(g, "budget", "--daily-images", "3")
    kid = key_row_id(g, "budget")
    day = int(time.time()) // 86400 * 86400
    if day + 86400 - time.time() < 30:
        time.sleep(31)  # not across UTC midnight
        day += 86400

    def used():
        rows = counters(g, f"img:{kid}")
        return rows[0][2] if rows else 0

    p = uniq()
    r = gen(g, key, prompt=p)
    assert r.status == 200 and r.header("x-imagegw-cache") == "miss"
    assert used() == 1
    # the identical request is a cache hit: free
    r = gen(g, key, prompt=p)
    assert r.status == 200 and r.header("x-imagegw-cache") == "hit"
    assert used() == 1
    # a blocked image was not generated: free as well
    r = gen(g, key, prompt=uniq("mock:safety"))
    assert_error(r, "IMG_SAFETY_BLOCKED")
    assert used() == 1
    # n=2 of partly cached slots: only the fresh one counts
    r = gen(g, key, prompt=p, n=2)
    assert r.status == 200 and r.header("x-imagegw-cache") == "partial"
    assert used() == 2
    # 1 left: n=2 is refused before anything runs
    n = mock.count()
    err = assert_429(gen(g, key, n=2), 3, day + 86400, remaining=1)
    assert "3 images" in err["message"]
    assert mock.count() == n
    assert used() == 2
    assert gen(g, key).status == 200
    assert used() == 3
    assert_429(gen(g, key), 3, day + 86400)
    assert mock.count() == n + 1
    # keys without a budget, and anonymous callers, are not counted
    free = make_key(g, "free")
    assert gen(g, free).status == 200
    assert [s for s, _, _ in counters(g, "img:")] == [f"img:{kid}"]


# ---- the race ------------------------------------------------------------------------

def test_forty_racing_requests_admit_exactly_ten(make_gateway, mock):
    g = make_gateway(settings(mock), max_procs=4)
    key = make_key(g, "racer", "--rpm", "10")
    # warm the four responders up so the race is between processes, not spawns
    for _ in range(8):
        assert g.get("/healthz").status == 200
    start = fresh_window(60, need=40)
    go = threading.Barrier(40)
    results = [None] * 40

    def one(i):
        go.wait()
        results[i] = gen(g, key, timeout=60)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(r.status for r in results)
    assert statuses.count(200) == 10, statuses
    assert statuses.count(429) == 30, statuses
    for r in results:
        if r.status == 429:
            assert_429(r, 10, start + 60)
    remaining = sorted(int(r.header("x-ratelimit-remaining")) for r in results if r.status == 200)
    assert remaining == list(range(10)), remaining
    assert counters(g, "key:") == [(f"key:{key_row_id(g, 'racer')}", start, 10)]
    assert mock.count() == 10
