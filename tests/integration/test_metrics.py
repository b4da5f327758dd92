"""GET /metrics (SPEC 2.8, 8) through lighttpd with the mock upstream: who may
read it, the whole output checked the way `promtool check metrics` checks
it, counts that add up exactly over several FastCGI processes and survive a
restart, the cache, upstream and rate-limit counters, bounded label sets,
and the monitoring files in deploy/monitoring/ (alert rules, dashboard)
checked against the metrics the gateway really exports."""
import json
import math
import os
import re
import shutil
import subprocess
import threading
import time

import pytest

from conftest import ROOT, SERVER, assert_error, unique_prompt
from conftest import run_cli as cli

ADMIN = "metrics-admin-key-0123456789"
AUTH = {"Authorization": f"Bearer {ADMIN}"}
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
GEN = "/v1/images/generations"
MONITORING = os.path.join(ROOT, "deploy", "monitoring")

# ---- a checker for the text format (what promtool check metrics looks at) ------------

NAME_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
LABEL_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def _parse_labels(s, where):
    """Parses the inside of {...}; returns a dict.  Only \\\\, \\" and \\n
    are valid escapes."""
    labels, i = {}, 0
    while i < len(s):
        m = re.match(r"([a-zA-Z_][a-zA-Z0-9_]*)=\"", s[i:])
        if not m:
            raise AssertionError(f"{where}: bad label syntax at {s[i:]!r}")
        name = m.group(1)
        i += m.end()
        val = []
        while True:
            if i >= len(s):
                raise AssertionError(f"{where}: unterminated label value")
            c = s[i]
            if c == "\\":
                nxt = s[i + 1:i + 2]
                if nxt not in ("\\", '"', "n"):
                    raise AssertionError(f"{where}: bad escape \\{nxt}")
                val.append({"\\": "\\", '"': '"', "n": "\n"}[nxt])
                i += 2
            elif c == '"':
                i += 1
                break
            elif c == "\n":
                raise AssertionError(f"{where}: raw newline in a label value")
            else:
                val.append(c)
                i += 1
        if name in labels:
            raise AssertionError(f"{where}: label {name} twice")
        if name.startswith("__"):
            raise AssertionError(f"{where}: reserved label name {name}")
        labels[name] = "".join(val)
        if i < len(s):
            if s[i] != ",":
                raise AssertionError(f"{where}: expected ',' at {s[i:]!r}")
            i += 1
    return labels


def _split_sample(line, where):
    m = re.match(r"([^{\s]+)(\{(.*)\})?\s+(\S+)(\s+(-?\d+))?\Z", line)
    if not m:
        raise AssertionError(f"{where}: not a sample line: {line!r}")
    name, labels = m.group(1), _parse_labels(m.group(3) or "", where)
    raw = m.group(4)
    try:
        value = float(raw)
    except ValueError:
        raise AssertionError(f"{where}: bad value {raw!r}") from None
    if raw.lower() in ("inf", "infinity", "+infinity") or (raw.lower() == "nan" and raw != "NaN"):
        raise AssertionError(f"{where}: value spelled {raw!r}, not +Inf/-Inf/NaN")
    return name, labels, value


def check_exposition(text):
    """Validates a whole text exposition (format 0.0.4) and returns
    {family: {"type", "help", "samples": [(name, labels, value)]}}.
    Raises AssertionError naming the first problem."""
    if not text.endswith("\n"):
        raise AssertionError("the exposition must end with a newline")
    fams, current, seen = {}, None, set()
    for n, line in enumerate(text.split("\n")[:-1], 1):
        where = f"line {n}"
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                kind, name = parts[1], parts[2]
                if not NAME_RE.match(name):
                    raise AssertionError(f"{where}: bad metric name {name!r}")
                f = fams.setdefault(name, {"type": None, "help": None, "samples": []})
                if f["samples"]:
                    raise AssertionError(f"{where}: {kind} for {name} after its samples")
                if kind == "TYPE":
                    if f["type"]:
                        raise AssertionError(f"{where}: second TYPE for {name}")
                    t = parts[3] if len(parts) > 3 else ""
                    if t not in TYPES:
                        raise AssertionError(f"{where}: unknown type {t!r}")
                    f["type"] = t
                else:
                    if f["help"] is not None:
                        raise AssertionError(f"{where}: second HELP for {name}")
                    f["help"] = parts[3] if len(parts) > 3 else ""
                if current and current != name and fams[current]["samples"] and \
                        name in fams and fams[name]["samples"]:
                    raise AssertionError(f"{where}: {name} declared again")
                current = name
            continue
        if not line.strip():
            continue
        name, labels, value = _split_sample(line, where)
        if not NAME_RE.match(name):
            raise AssertionError(f"{where}: bad metric name {name!r}")
        fam = current
        if fam is None:
            raise AssertionError(f"{where}: sample {name} before any TYPE")
        ftype = fams[fam]["type"]
        allowed = {fam}
        if ftype == "histogram":
            allowed = {fam + "_bucket", fam + "_sum", fam + "_count"}
        if name not in allowed:
            raise AssertionError(f"{where}: sample {name} is not part of family {fam} "
                                 f"(TYPE before samples, families not interleaved)")
        key = (name, tuple(sorted(labels.items())))
        if key in seen:
            raise AssertionError(f"{where}: duplicate series {key}")
        seen.add(key)
        fams[fam]["samples"].append((name, labels, value))
    for fam, f in fams.items():
        if f["type"] is None:
            raise AssertionError(f"{fam}: no TYPE")
        if not f["help"]:
            raise AssertionError(f"{fam}: no HELP text")
        if f["type"] == "counter":
            if not fam.endswith("_total"):
                raise AssertionError(f"{fam}: a counter's name should end in _total")
            for _, labels, v in f["samples"]:
                if v < 0 or math.isnan(v):
                    raise AssertionError(f"{fam}{labels}: counter value {v}")
        elif fam.endswith("_total"):
            raise AssertionError(f"{fam}: only counters end in _total")
        if f["type"] == "histogram":
            _check_histogram(fam, f["samples"])
    return fams


def _check_histogram(fam, samples):
    groups = {}
    for name, labels, v in samples:
        rest = tuple(sorted((k, x) for k, x in labels.items() if k != "le"))
        g = groups.setdefault(rest, {"buckets": [], "sum": None, "count": None})
        if name.endswith("_bucket"):
            if "le" not in labels:
                raise AssertionError(f"{fam}{rest}: bucket without le")
            g["buckets"].append((float(labels["le"]), v, labels["le"]))
        elif name.endswith("_sum"):
            g["sum"] = v
        else:
            if "le" in labels:
                raise AssertionError(f"{fam}{rest}: le on _count")
            g["count"] = v
    for rest, g in groups.items():
        b = g["buckets"]
        if not b or b[-1][2] != "+Inf":
            raise AssertionError(f"{fam}{rest}: the last bucket must be le=\"+Inf\"")
        for (le0, v0, _), (le1, v1, _) in zip(b, b[1:]):
            if not le0 < le1:
                raise AssertionError(f"{fam}{rest}: le not increasing ({le0}, {le1})")
            if v1 < v0:
                raise AssertionError(f"{fam}{rest}: buckets not cumulative ({v0}, {v1})")
        if g["count"] is None or g["sum"] is None:
            raise AssertionError(f"{fam}{rest}: _sum and _count required")
        if g["count"] != b[-1][1]:
            raise AssertionError(f"{fam}{rest}: _count {g['count']} != +Inf bucket {b[-1][1]}")


GOOD = ('# HELP a_total A.\n# TYPE a_total counter\na_total{x="1\\\\2\\"3\\n"} 2\n'
        '# HELP h H.\n# TYPE h histogram\nh_bucket{le="0.5"} 1\nh_bucket{le="+Inf"} 2\n'
        'h_sum 1.5\nh_count 2\n')


@pytest.mark.parametrize("bad, why", [
    (GOOD.replace("a_total{", "a-total{"), "bad metric name"),
    ("a_total 1\n# HELP a_total A.\n# TYPE a_total counter\n", "before any TYPE"),
    (GOOD.replace("# TYPE a_total counter\n", ""), "no TYPE"),
    (GOOD.replace('x="1', 'x="1\\q'), "bad escape"),
    (GOOD + 'a_total{x="1\\\\2\\"3\\n"} 2\n', "not part of family"),
    (GOOD.replace('h_bucket{le="+Inf"} 2', 'h_bucket{le="+Inf"} 2\nh_bucket{le="+Inf"} 2'),
     "duplicate series"),
    (GOOD.replace('le="+Inf"} 2', 'le="0.25"} 2'), "+Inf"),
    (GOOD.replace('le="0.5"} 1', 'le="0.5"} 3'), "not cumulative"),
    (GOOD.replace("h_count 2", "h_count 3"), "_count"),
    (GOOD.replace("a_total", "a_count"), "_total"),
    (GOOD.replace(" 2\n#", " -1\n#", 1), "counter value"),
    (GOOD.replace('{x="1', '{x="1",x="2', 1), "twice"),
    (GOOD.replace("# HELP a_total A.\n", ""), "no HELP"),
    (GOOD.rstrip("\n"), "newline"),
])
def test_the_checker_catches_what_promtool_would(bad, why):
    check_exposition(GOOD)
    with pytest.raises(AssertionError, match=re.escape(why)):
        check_exposition(bad)


# ---- helpers -------------------------------------------------------------------------

def scrape(g, headers=AUTH):
    r = g.get("/metrics", headers=headers)
    assert r.status == 200, r
    assert r.header("content-type") == CONTENT_TYPE, r.headers
    return check_exposition(r.body.decode())


def value(fams, name, **labels):
    """The value of one sample (0 when the series does not exist yet)."""
    for fam in fams.values():
        for n, l, v in fam["samples"]:
            if n == name and l == labels:
                return v
    return 0.0


def settled(g, r):
    """Waits for r's `request` log line, written after the post-reply work
    (fresh images are stored by then; its counts are written just after)."""
    rid = r.header("x-request-id")
    assert g.wait_log(lambda e: e.get("event") == "request" and e.get("request_id") == rid,
                      timeout=15), rid
    return r


def after_requests(g, before, n, route=GEN, status="200"):
    """Scrapes until n more requests of route/status than in `before` are
    counted, and returns that scrape.  A request's counts are written in one
    transaction, so all of them are in once its request count is."""
    labels = {"route": route, "status": status}
    want = value(before, "imagegw_requests_total", **labels) + n
    deadline = time.time() + 10
    while True:
        fams = scrape(g)
        got = value(fams, "imagegw_requests_total", **labels)
        if got >= want or time.time() > deadline:
            assert got == want, (labels, got, want)
            return fams
        time.sleep(0.05)


def wait_for(g, name, want, timeout=10.0, **labels):
    """Scrapes until the sample reaches `want` (flushes run after each reply,
    so the last request's counts may land a moment after its answer)."""
    deadline = time.time() + timeout
    while True:
        v = value(scrape(g), name, **labels)
        if v >= want or time.time() > deadline:
            return v
        time.sleep(0.05)


def settings(mock, **extra):
    s = {"gemini_base_url": mock.url, "gemini_api_key": "test-key-1", "retry_backoff_ms": 10,
         "upstream_timeout_seconds": 5, "api_key": ADMIN}
    s.update(extra)
    return s


@pytest.fixture(scope="module")
def gw(mock):
    from conftest import Gateway
    g = Gateway(settings(mock), max_procs=2)
    yield g
    problems = g.stop()
    assert not problems, "sanitizer reports:\n" + "\n".join(problems)


# ---- who may read it ------------------------------------------------------------------

def test_admin_only(gw):
    assert_error(gw.get("/metrics"), "IMG_UNAUTHORIZED")
    assert_error(gw.get("/metrics", headers={"Authorization": "Bearer wrong"}),
                 "IMG_UNAUTHORIZED")
    key = cli(gw, "key", "create", "--name", "not-admin").stdout.strip()
    assert key.startswith("igw_")
    assert_error(gw.get("/metrics", headers={"Authorization": f"Bearer {key}"}),
                 "IMG_FORBIDDEN")
    fams = scrape(gw)
    assert "imagegw_requests_total" in fams
    # HEAD answers like GET, without the body
    r = gw.request("HEAD", "/metrics", headers=AUTH)
    assert r.status == 200 and r.body == b"" and r.header("content-type") == CONTENT_TYPE
    assert gw.post("/metrics", {}, headers=AUTH).status == 405


def test_admin_key_from_the_cli(make_gateway, mock):
    g = make_gateway(settings(mock, api_key=""))
    # no admin at all: the admin routes, /metrics among them, are closed
    assert_error(g.get("/metrics"), "IMG_FORBIDDEN")
    key = cli(g, "key", "create", "--name", "ops", "--admin").stdout.strip()
    assert scrape(g, {"x-api-key": key})


def test_public_with_metrics_public(make_gateway, mock):
    g = make_gateway(settings(mock, metrics_public="true"))
    fams = scrape(g, headers={})
    assert "imagegw_cache_hits_total" in fams
    # the other admin routes stay closed
    assert_error(g.get("/v1/cache/stats"), "IMG_UNAUTHORIZED")


# ---- the whole output -----------------------------------------------------------------

EXPECTED = {
    "imagegw_requests_total": "counter", "imagegw_images_generated_total": "counter",
    "imagegw_cache_hits_total": "counter", "imagegw_cache_misses_total": "counter",
    "imagegw_cache_evictions_total": "counter", "imagegw_cache_bytes": "gauge",
    "imagegw_cache_entries": "gauge", "imagegw_cache_hit_ratio": "gauge",
    "imagegw_cost_saved_usd_total": "counter", "imagegw_upstream_requests_total": "counter",
    "imagegw_upstream_errors_total": "counter", "imagegw_rate_limited_total": "counter",
    "imagegw_generation_seconds": "histogram", "imagegw_cache_lookup_seconds": "histogram",
    "imagegw_accounts_available": "gauge", "imagegw_jobs": "gauge",
    # beyond SPEC 8's list
    "imagegw_cache_max_bytes": "gauge", "imagegw_accounts_configured": "gauge",
    "imagegw_kept_bytes": "gauge",
    "imagegw_request_duration_seconds": "histogram", "imagegw_build_info": "gauge",
}


def test_every_spec_metric_with_its_type(gw):
    gw.generate(prompt=unique_prompt(), headers=AUTH)
    gw.get("/nowhere")
    text = gw.get("/metrics", headers=AUTH).body.decode()
    fams = check_exposition(text)
    assert {k: v["type"] for k, v in fams.items()} == EXPECTED
    assert list(fams) == sorted(fams)  # families in name order
    assert value(fams, "imagegw_cache_max_bytes") == 1000 * 1024 * 1024
    assert value(fams, "imagegw_accounts_configured", provider="gemini") == 1
    assert value(fams, "imagegw_accounts_available", provider="gemini") == 1
    for status in ("queued", "running", "completed", "partial", "failed"):
        assert ("imagegw_jobs", {"status": status}, 0) in fams["imagegw_jobs"]["samples"]


def test_promtool_agrees(gw):
    """Only where promtool is on PATH (docs/testing.md); the checker above is
    what the test suite relies on."""
    promtool = shutil.which("promtool")
    if not promtool:
        pytest.skip("promtool not installed")
    gw.generate(prompt=unique_prompt(), headers=AUTH)
    text = gw.get("/metrics", headers=AUTH).body
    p = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True)
    assert p.returncode == 0, p.stdout + p.stderr
    for args in (["check", "rules", "imagegw-alerts.yml"],
                 ["test", "rules", "imagegw-alerts.test.yml"]):
        p = subprocess.run([promtool, *args], cwd=MONITORING, capture_output=True, text=True)
        assert p.returncode == 0, p.stdout + p.stderr


# ---- counts ---------------------------------------------------------------------------

def test_counts_add_up_across_processes(make_gateway, mock):
    g = make_gateway(settings(mock, cache_backend="none"), max_procs=3)
    route = {"route": "/v1/models", "status": "200"}
    before = value(scrape(g), "imagegw_requests_total", **route)
    n, statuses = 45, []

    def client():
        for _ in range(n // 5):
            statuses.append(g.get("/v1/models", headers=AUTH).status)
    threads = [threading.Thread(target=client) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * n
    assert wait_for(g, "imagegw_requests_total", before + n, **route) == before + n
    time.sleep(0.5)  # nothing late, nothing counted twice
    fams = scrape(g)
    assert value(fams, "imagegw_requests_total", **route) == before + n
    assert value(fams, "imagegw_request_duration_seconds_count", route="/v1/models") == before + n
    # the scrapes count too, under their own route
    assert value(fams, "imagegw_requests_total", route="/metrics", status="200") >= 2

    # A process answers one request at a time: six 1 s generations done in
    # well under 6 s were served by several processes, and all six count.
    out = []
    slow = [threading.Thread(target=lambda: out.append(g.generate(
        prompt=unique_prompt(directives="mock:delay=1"), headers=AUTH))) for _ in range(6)]
    t0 = time.monotonic()
    for t in slow:
        t.start()
    for t in slow:
        t.join()
    took = time.monotonic() - t0
    assert [r.status for r in out] == [200] * 6
    # lighttpd starts every responder up front; mod_fcgid starts them on
    # demand, one at a time, so there the six take longer — but one process
    # alone would need 6 s.
    assert took < (4.5 if SERVER == "lighttpd" else 5.5), took
    fams = after_requests(g, {}, 6)
    assert value(fams, "imagegw_upstream_requests_total", provider="gemini", status="200") == 6
    assert value(fams, "imagegw_images_generated_total", model="gemini-3-pro-image",
                 resolution="2K") == 6
    assert value(fams, "imagegw_generation_seconds_count") == 6
    assert value(fams, "imagegw_generation_seconds_sum") >= 6 * 0.5


def test_counts_survive_a_restart(make_gateway, mock, tmp_path):
    data = str(tmp_path / "var")
    g = make_gateway(settings(mock, data_dir=data))
    for _ in range(7):
        assert g.get("/healthz").status == 200
    assert wait_for(g, "imagegw_requests_total", 7, route="/healthz", status="200") == 7
    assert g.stop() == []
    g2 = make_gateway(settings(mock, data_dir=data))
    fams = scrape(g2)
    assert value(fams, "imagegw_requests_total", route="/healthz", status="200") == 7


def test_cache_hits_misses_and_fresh_images(gw, mock):
    before = scrape(gw)
    p = unique_prompt()
    r = settled(gw, gw.generate(prompt=p, headers=AUTH))
    assert r.status == 200 and r.header("x-imagegw-cache") == "miss"
    r = settled(gw, gw.generate(prompt=p, headers=AUTH))
    assert r.status == 200 and r.header("x-imagegw-cache") == "hit"
    img = {"model": "gemini-3-pro-image", "resolution": "2K"}
    gen_ok = {"route": GEN, "status": "200"}
    after = after_requests(gw, before, 2)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)
    assert delta("imagegw_cache_hits_total") == 1
    assert delta("imagegw_cache_misses_total") == 1
    assert delta("imagegw_cache_lookup_seconds_count") == 2
    assert delta("imagegw_images_generated_total", **img) == 1  # the hit made nothing
    assert delta("imagegw_upstream_requests_total", provider="gemini", status="200") == 1
    assert delta("imagegw_generation_seconds_count") == 1
    assert delta("imagegw_requests_total", **gen_ok) == 2
    assert abs(delta("imagegw_cost_saved_usd_total") - 0.134) < 1e-9
    assert value(after, "imagegw_cache_entries") >= 1
    # The gauges split the files as the stats route does: the cache's own,
    # and those the gallery keeps (this image, most likely).
    stats = gw.get("/v1/cache/stats", headers=AUTH).json()
    assert value(after, "imagegw_cache_bytes") == stats["bytes"]
    assert value(after, "imagegw_kept_bytes") == stats["kept_bytes"]
    assert stats["bytes"] + stats["kept_bytes"] > 0
    hits, misses = (value(after, f"imagegw_cache_{k}_total") for k in ("hits", "misses"))
    assert abs(value(after, "imagegw_cache_hit_ratio") - hits / (hits + misses)) < 1e-4


def test_upstream_errors_from_503_and_429(gw, mock):
    before = scrape(gw)
    r = gw.generate(prompt=unique_prompt(directives="mock:status=503"), headers=AUTH)
    assert_error(r, "IMG_UPSTREAM_ERROR")
    mid = after_requests(gw, before, 1, status="502")

    def delta(a, b, name, **labels):
        return value(b, name, **labels) - value(a, name, **labels)
    # retry_max = 2: three attempts, each counted and each an error
    assert delta(before, mid, "imagegw_upstream_requests_total", provider="gemini",
                 status="503") == 3
    assert delta(before, mid, "imagegw_upstream_errors_total", code="IMG_UPSTREAM_ERROR") == 3
    assert delta(before, mid, "imagegw_generation_seconds_count") == 3
    assert delta(before, mid, "imagegw_images_generated_total", model="gemini-3-pro-image",
                 resolution="2K") == 0

    r = gw.generate(prompt=unique_prompt(directives="mock:status=429"), headers=AUTH)
    assert_error(r, "IMG_QUOTA_EXHAUSTED")
    after = after_requests(gw, mid, 1, status="429")
    assert delta(mid, after, "imagegw_upstream_requests_total", provider="gemini",
                 status="429") == 1
    assert delta(mid, after, "imagegw_upstream_errors_total", code="IMG_QUOTA_EXHAUSTED") == 1
    # the only key is cooling down now: what the "all keys cooling" alert sees
    assert value(after, "imagegw_accounts_available", provider="gemini") == 0
    assert value(after, "imagegw_accounts_configured", provider="gemini") == 1
    gw.reset_pool()
    assert value(scrape(gw), "imagegw_accounts_available", provider="gemini") == 1


def test_network_failure_status(make_gateway, mock):
    from conftest import free_port
    g = make_gateway(settings(mock, gemini_base_url=f"http://127.0.0.1:{free_port()}",
                              retry_max=0))
    r = g.generate(prompt=unique_prompt(), headers=AUTH)
    assert_error(r, "IMG_NETWORK_ERROR")
    fams = after_requests(g, {}, 1, status="502")
    assert value(fams, "imagegw_upstream_requests_total", provider="gemini",
                 status="network") == 1
    assert value(fams, "imagegw_upstream_errors_total", code="IMG_NETWORK_ERROR") == 1


def test_rate_limited_by_scope(make_gateway, mock):
    g = make_gateway(settings(mock, allow_anonymous="true", rate_per_ip=2,
                              rate_window_seconds=3600))
    key = cli(g, "key", "create", "--name", "slow", "--rpm", "1").stdout.strip()
    budget = cli(g, "key", "create", "--name", "budget", "--daily-images", "1").stdout.strip()
    left = 3600 - time.time() % 3600
    if left < 15:  # the per-IP window is an hour aligned to the epoch: not across its end
        time.sleep(left + 0.1)
    statuses = [g.get("/v1/models").status for _ in range(3)]
    assert statuses == [200, 200, 429]
    h = {"Authorization": f"Bearer {key}"}
    statuses = [g.get("/v1/models", headers=h).status for _ in range(2)]
    if statuses != [200, 429]:  # the minute turned between the two
        statuses = [g.get("/v1/models", headers=h).status for _ in range(2)]
    assert statuses == [200, 429]
    h = {"Authorization": f"Bearer {budget}"}
    assert g.generate(prompt=unique_prompt(), headers=h).status == 200
    assert_error(g.generate(prompt=unique_prompt(), headers=h), "IMG_RATE_LIMITED")
    assert wait_for(g, "imagegw_rate_limited_total", 1, scope="daily") == 1
    fams = scrape(g)
    assert value(fams, "imagegw_rate_limited_total", scope="ip") == 1
    assert value(fams, "imagegw_rate_limited_total", scope="key") == 1
    assert value(fams, "imagegw_requests_total", route="/v1/models", status="429") == 2


# ---- bounded label sets -----------------------------------------------------------------

def test_paths_never_become_labels(gw):
    for i in range(12):
        assert gw.get(f"/v1/wp-admin/{i}.php?x={i}").status == 404
    assert gw.request("DELETE", "/v1/models", headers=AUTH).status == 405
    fams = scrape(gw)
    routes = {l.get("route") for fam in fams.values() for _, l, _ in fam["samples"]
              if "route" in l}
    assert not any("wp-admin" in r for r in routes), routes
    assert "unknown" in routes and "method" in routes
    # route patterns from the table, or the three names for no route
    assert all(re.match(r"(unknown|method|oversized|/[a-z0-9/_.*-]*)\Z", r) for r in routes)
    assert len(routes) < 20, routes


def test_an_oversized_body_is_counted_without_its_path(make_gateway, mock):
    g = make_gateway(settings(mock, max_body_bytes=1024))
    r = g.post("/v1/images/generations/" + "x" * 40, "y" * 5000)
    assert r.status == 413
    assert wait_for(g, "imagegw_requests_total", 1, route="oversized", status="413") == 1


# ---- deploy/monitoring ------------------------------------------------------------------

def parse_yaml_subset(text):
    """Parses the YAML subset the alert rules are written in: block mappings
    and block lists by indentation, plain and quoted scalars, `#` comments.
    Anything else (flow style, anchors, multi-line scalars, tabs) is an
    error, so the file stays simple enough to check without a YAML library."""
    lines = []
    for n, raw in enumerate(text.split("\n"), 1):
        if "\t" in raw:
            raise ValueError(f"line {n}: tab")
        s = raw.rstrip()
        if not s.strip() or s.strip().startswith("#"):
            continue
        lines.append((n, len(s) - len(s.lstrip(" ")), s.strip()))

    def scalar(s, n):
        if s[:1] in "'\"":
            q = s[0]
            if len(s) < 2 or s[-1] != q:
                raise ValueError(f"line {n}: unterminated string")
            body = s[1:-1]
            return body.replace("''", "'") if q == "'" else json.loads(s)
        if s[:1] in "[{&*!|>" or s.startswith("- "):
            raise ValueError(f"line {n}: unsupported YAML {s!r}")
        if " #" in s:
            s = s[:s.index(" #")].rstrip()
        return s

    pos = 0

    def block(indent):
        nonlocal pos
        n, ind, s = lines[pos]
        if ind != indent:
            raise ValueError(f"line {n}: indentation {ind}, expected {indent}")
        if s.startswith("- ") or s == "-":
            out = []
            while pos < len(lines) and lines[pos][1] == indent and lines[pos][2][:1] == "-":
                n, _, s = lines[pos]
                item = s[1:].lstrip()
                # the item's first key sits on the dash line: re-read it as a
                # mapping indented to where that key starts
                lines[pos] = (n, indent + len(s) - len(item), item)
                out.append(block(indent + len(s) - len(item)))
            return out
        out = {}
        while pos < len(lines) and lines[pos][1] == indent and not lines[pos][2].startswith("- "):
            n, _, s = lines[pos]
            m = re.match(r"([A-Za-z_][A-Za-z0-9_.-]*):(?:\s+(.*))?\Z", s)
            if not m:
                raise ValueError(f"line {n}: expected 'key: value', got {s!r}")
            key, rest = m.group(1), m.group(2)
            if key in out:
                raise ValueError(f"line {n}: duplicate key {key}")
            pos += 1
            if rest:
                out[key] = scalar(rest, n)
            elif pos < len(lines) and lines[pos][1] > indent:
                out[key] = block(lines[pos][1])
            elif pos < len(lines) and lines[pos][1] == indent and lines[pos][2][:1] == "-":
                out[key] = block(indent)  # a list at the key's own indentation
            else:
                raise ValueError(f"line {n}: {key} has no value")
        return out
    doc = block(0)
    if pos != len(lines):
        raise ValueError(f"line {lines[pos][0]}: unexpected indentation")
    return doc


def exported_names(fams):
    names = set(fams)
    for f, info in fams.items():
        if info["type"] == "histogram":
            names |= {f + "_bucket", f + "_sum", f + "_count"}
    return names


def metric_refs(expr):
    return set(re.findall(r"\bimagegw_[a-z0-9_]+", expr))


def test_alert_rules(gw):
    with open(os.path.join(MONITORING, "imagegw-alerts.yml")) as f:
        doc = parse_yaml_subset(f.read())
    names = exported_names(scrape(gw))
    (group,) = doc["groups"]
    assert group["name"] and group["rules"]
    with open(os.path.join(ROOT, "docs", "operations.md")) as f:
        ops = f.read()
    alerts = {}
    for rule in group["rules"]:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
        assert re.match(r"[A-Z][A-Za-z0-9]+\Z", rule["alert"]), rule["alert"]
        assert re.match(r"\d+[smh]\Z", rule.get("for", "0s")), rule
        assert rule["labels"]["severity"] in ("warning", "critical"), rule
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        refs = metric_refs(rule["expr"])
        assert refs and refs <= names, (rule["alert"], refs - names)
        assert rule["expr"].count("(") == rule["expr"].count(")"), rule["expr"]
        # every alert has its runbook entry in operations.md
        anchor = rule["annotations"]["runbook_url"].split("#", 1)[1]
        assert f"### {rule['alert']}" in ops, rule["alert"]
        assert anchor == rule["alert"].lower(), anchor
        alerts[rule["alert"]] = rule
    # what the SPEC and the operations runbook promise
    assert {"ImagegwHighErrorRate", "ImagegwAllUpstreamKeysCooling", "ImagegwCacheNearlyFull",
            "ImagegwJobFailuresRising"} <= set(alerts)
    assert "0.05" in alerts["ImagegwHighErrorRate"]["expr"]
    assert alerts["ImagegwHighErrorRate"]["for"] == "10m"
    assert "0.9" in alerts["ImagegwCacheNearlyFull"]["expr"]
    assert "imagegw_cache_max_bytes" in alerts["ImagegwCacheNearlyFull"]["expr"]
    assert "== 0" in alerts["ImagegwAllUpstreamKeysCooling"]["expr"]


def test_the_yaml_subset_parser_refuses_what_it_does_not_know():
    assert parse_yaml_subset("a:\n  - b: 1\n    c: 'x'\n  - d: \"y\"\n") == \
        {"a": [{"b": "1", "c": "x"}, {"d": "y"}]}
    for bad in ("a: [1, 2]\n", "a:\n\t- b\n", "a: 1\na: 2\n", "a:\n  b: 1\n c: 2\n",
                "a: |\n  text\n", "a:\n"):
        with pytest.raises(ValueError):
            parse_yaml_subset(bad)


def test_dashboard(gw):
    with open(os.path.join(MONITORING, "imagegw-dashboard.json")) as f:
        dash = json.load(f)
    names = exported_names(scrape(gw))
    assert dash["title"] and dash["uid"] and dash["schemaVersion"] >= 30
    panels = dash["panels"]
    titles = [p["title"] for p in panels]
    assert len(titles) == len(set(titles))
    used = set()
    for p in panels:
        assert p["type"] in ("timeseries", "stat", "gauge", "heatmap", "bargauge"), p
        assert set(p["gridPos"]) == {"x", "y", "w", "h"}
        assert p["targets"], p["title"]
        for t in p["targets"]:
            refs = metric_refs(t["expr"])
            assert refs and refs <= names, (p["title"], refs - names)
            assert t["expr"].count("(") == t["expr"].count(")"), t["expr"]
            used |= refs
    # what the dashboard is for
    for need in ("imagegw_requests_total", "imagegw_request_duration_seconds_bucket",
                 "imagegw_generation_seconds_bucket", "imagegw_cache_hit_ratio",
                 "imagegw_cost_saved_usd_total", "imagegw_upstream_errors_total",
                 "imagegw_accounts_available", "imagegw_jobs"):
        assert need in used, need


def test_plain_cgi_writes_its_counts_at_exit(tmp_path):
    """One request per process: its counts are written as the process ends."""
    from conftest import BIN
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "IMAGEGW_CONFIG": "/dev/null",
           "IMAGEGW_DATA_DIR": str(tmp_path / "var"), "IMAGEGW_METRICS_PUBLIC": "true",
           "IMAGEGW_LOG_LEVEL": "error", "GATEWAY_INTERFACE": "CGI/1.1",
           "ASAN_OPTIONS": "detect_leaks=1", "REQUEST_METHOD": "GET"}

    def cgi(path):
        p = subprocess.run([BIN, "cgi"], env=dict(env, PATH_INFO=path), capture_output=True,
                           timeout=30)
        assert p.returncode == 0, p.stderr
        head, _, body = p.stdout.partition(b"\r\n\r\n")
        return head.decode(), body.decode()
    for _ in range(3):
        assert cgi("/v1/models")[0].startswith("Status: 200")
    assert cgi("/v1/nothing")[0].startswith("Status: 404")
    head, body = cgi("/metrics")
    assert "Content-Type: " + CONTENT_TYPE in head
    fams = check_exposition(body)
    assert value(fams, "imagegw_requests_total", route="/v1/models", status="200") == 3
    assert value(fams, "imagegw_requests_total", route="unknown", status="404") == 1


def test_job_models_and_job_statuses_are_counted(gw, mock):
    from jobutil import create_job, wait_job
    before = scrape(gw)
    images = value(before, "imagegw_images_generated_total", model="local-preview",
                   resolution="2K")
    done = value(before, "imagegw_jobs", status="completed")
    r = create_job(gw, {"Authorization": f"Bearer {ADMIN}"},
                   prompt=unique_prompt("metrics job"),
                   models=["local-preview-16x9", "local-preview-1x1"])
    assert r.status == 202, r
    job = wait_job(gw, r.json()["id"], {"Authorization": f"Bearer {ADMIN}"})
    assert job["status"] == "completed", job
    # The worker's model processes write their counts before they exit.
    got = wait_for(gw, "imagegw_images_generated_total", images + 2, model="local-preview",
                   resolution="2K")
    assert got == images + 2, [x for x in scrape(gw)["imagegw_images_generated_total"]["samples"]]
    assert value(scrape(gw), "imagegw_jobs", status="completed") == done + 1
