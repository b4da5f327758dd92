#!/usr/bin/env python3
"""`make loadtest`: wrk against lighttpd + the release imagegw (issue 7).

Three request shapes -- cache hits, misses against the mock with a 200 ms
delay, and a 90/10 mix -- each at 50 and 200 connections for LOAD_SECONDS
(default 30).  For every run: throughput, p50/p99 latency, errors (any
answer but 200 and 429, plus socket errors and timeouts; must be 0), and
the resident memory of each responder before and after.  Then the memory
check: responder RSS after a warm-up vs after 100 000 more hits (must stay
flat), and a short run of hits and misses with every responder under
valgrind (must report nothing).  Prints a Markdown table; exits 1 when an
error count or the memory check fails.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
os.environ.setdefault("IMAGEGW_BIN", os.path.join(os.path.dirname(__file__), "..", "..",
                                                  "build", "imagegw"))
import conftest  # noqa: E402  (the integration harness: Mock, Gateway, http)

SECONDS = int(os.environ.get("LOAD_SECONDS", "30"))
CONNS = [int(c) for c in os.environ.get("LOAD_CONNS", "50 200").split()]
PROCS = int(os.environ.get("LOAD_PROCS", "4"))
HOT = 50
SCRIPT = os.path.join(os.path.dirname(__file__), "load.lua")
# Memory is flat if the largest responder grew by less than this over the run.
RSS_SLACK_KB = int(os.environ.get("LOAD_RSS_SLACK_KB", "2048"))


def rss_kb(pids):
    out = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                m = re.search(r"VmRSS:\s+(\d+) kB", f.read())
                out[pid] = int(m.group(1)) if m else 0
        except OSError:
            pass
    return out


def warm(gw, tag):
    """Caches the hot prompts the hit and mix runs ask for."""
    for i in range(HOT):
        body = json.dumps({"prompt": f"{tag} hot {i}", "model": "gemini-3-pro-image"})
        r = conftest.http(gw.port, "POST", "/v1/images/generations", body)
        assert r.status == 200, r
    time.sleep(0.5)  # stores run after the reply


def wrk(gw, mode, conns, seconds, tag):
    env = dict(os.environ, IMAGEGW_LOAD_MODE=mode, IMAGEGW_LOAD_TAG=tag,
               IMAGEGW_LOAD_HOT=str(HOT))
    threads = min(conns, 2 * (os.cpu_count() or 2))
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "--timeout",
                          "60s", "-s", SCRIPT, f"{gw.url}/v1/images/generations"],
                         capture_output=True, text=True, env=env)
    m = re.search(r"^LOADRESULT (\{.*\})$", out.stdout, re.M)
    if not m:
        raise RuntimeError(f"wrk printed no result:\n{out.stdout}\n{out.stderr}")
    res = json.loads(m.group(1))
    res["errors"] = (res["socket_errors"] + res["timeouts"] +
                     sum(n for s, n in res["statuses"].items() if s not in ("200", "429")))
    return res


def run_matrix(gw, tag, rows):
    failed = False
    for mode in ("hit", "miss", "mix"):
        for conns in CONNS:
            before = rss_kb(gw.responder_pids())
            r = wrk(gw, mode, conns, SECONDS, tag)
            after = rss_kb(gw.responder_pids())
            failed |= r["errors"] > 0
            rss = ", ".join(f"{before.get(p, 0) // 1024}->{kb // 1024}" for p, kb in
                            sorted(after.items()))
            rows.append((f"{mode}, {conns} connections, {SECONDS} s",
                         f"{r['requests'] / r['seconds']:.0f} req/s, p50 {r['p50'] / 1000:.1f} ms, "
                         f"p99 {r['p99'] / 1000:.1f} ms, errors {r['errors']}, "
                         f"429s {r['statuses'].get('429', 0)}, RSS MB per responder {rss}"))
    return failed


def memory_flat(gw, tag, rows):
    """RSS after warm-up vs after 100 000 more cache hits."""
    wrk(gw, "hit", 8, 5, tag)  # warm-up
    before = rss_kb(gw.responder_pids())
    done = 0
    start = time.time()
    while done < 100_000 and time.time() - start < 600:
        done += wrk(gw, "hit", 8, 10, tag)["requests"]
    after = rss_kb(gw.responder_pids())
    growth = max((after[p] - before.get(p, after[p]) for p in after), default=0)
    ok = growth < RSS_SLACK_KB and set(after) == set(before)
    rows.append((f"responder RSS over {done} hits after warm-up",
                 f"max growth {growth} kB over {len(after)} responders "
                 f"({'flat' if ok else 'GROWING or respawned'}; limit {RSS_SLACK_KB} kB)"))
    return not ok


def valgrind_run(mock, rows):
    if not shutil.which("valgrind"):
        rows.append(("hits and misses under valgrind", "skipped: valgrind not installed"))
        return False
    os.environ["IMAGEGW_VALGRIND"] = "1"
    try:
        gw = conftest.Gateway({"gemini_base_url": mock.url, "gemini_api_key": "load",
                               "log_level": "warn", "upstream_timeout_seconds": 60},
                              max_procs=2)
    finally:
        del os.environ["IMAGEGW_VALGRIND"]
    try:
        warm(gw, "vg")
        a = wrk(gw, "hit", 4, 10, "vg")
        b = wrk(gw, "miss", 4, 10, "vg")
    finally:
        reports = gw.stop()
    n = a["requests"] + b["requests"]
    errors = a["errors"] + b["errors"]
    rows.append(("hits and misses under valgrind (10 s each, 4 connections)",
                 f"{n} requests, errors {errors}, valgrind reports {len(reports)}"))
    for rep in reports:
        print(rep[:2000], file=sys.stderr)
    return bool(reports) or errors > 0


def main():
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: run make deps")
    mock = conftest.Mock()
    gw = conftest.Gateway({"gemini_base_url": mock.url, "gemini_api_key": "load",
                           "log_level": "warn", "upstream_timeout_seconds": 60},
                          max_procs=PROCS)
    rows, failed = [], False
    tag = f"load{int(time.time())}"
    try:
        warm(gw, tag)
        failed |= run_matrix(gw, tag, rows)
        failed |= memory_flat(gw, tag, rows)
    finally:
        problems = gw.stop()
    if problems:
        failed = True
        print("\n".join(problems), file=sys.stderr)
    try:
        if os.environ.get("LOAD_VALGRIND", "1") != "0":
            failed |= valgrind_run(mock, rows)
    finally:
        mock.stop()
    width = max(len(r[0]) for r in rows)
    print(f"\n{PROCS} responders, release build, mock delay 200 ms on misses\n")
    print(f"| {'run'.ljust(width)} | result |")
    print(f"|{'-' * (width + 2)}|--------|")
    for name, value in rows:
        print(f"| {name.ljust(width)} | {value} |")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
