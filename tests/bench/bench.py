#!/usr/bin/env python3
"""imagegw benchmarks (`make bench`): prints a Markdown table.

Every figure is a comparison inside one run (gateway vs. the same request
straight to the mock, n=10 vs n=1), because these machines are noisy.
Uses the release build (build/imagegw) behind a real lighttpd.
"""
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
os.environ.setdefault("IMAGEGW_BIN", os.path.join(os.path.dirname(__file__), "..", "..",
                                                  "build", "imagegw"))
import conftest  # noqa: E402  (the integration harness: Mock, Gateway, http)

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "200"))


def timed(fn, rounds):
    """Median and p90 wall time of fn() in ms, after a warm-up."""
    for _ in range(min(10, rounds)):
        fn()
    samples = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.9) - 1]


def keepalive_client(port):
    conn = conftest.httpclient.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(method, path, body, headers):
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        data = r.read()
        assert r.status == 200, (r.status, data[:300])
        return data
    return call


def miss_overhead(mock, gw, label, prompt, rounds):
    """Gateway miss path vs. the same generateContent call straight to the mock.

    The two are timed in alternation, so load that drifts during the run hits
    both alike; the overhead is the median of the per-pair differences."""
    import json
    direct_body = json.dumps({
        "contents": [{"role": "user", "parts": [{"text": prompt}]}],
        "generationConfig": {"responseModalities": ["TEXT", "IMAGE"],
                             "imageConfig": {"aspectRatio": "1:1", "imageSize": "2K"}},
        "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "OFF"}]})
    gw_body = json.dumps({"prompt": prompt, "model": "gemini-3-pro-image"})
    direct = keepalive_client(mock.port)
    via = keepalive_client(gw.port)

    def d():
        direct("POST", "/v1beta/models/gemini-3-pro-image-preview:generateContent",
               direct_body, {"Content-Type": "application/json", "x-goog-api-key": "bench"})

    def g():
        via("POST", "/v1/images/generations", gw_body, {"Content-Type": "application/json"})
    for _ in range(10):
        d()
        g()
    ds, gs = [], []
    for _ in range(rounds):
        t = time.perf_counter()
        d()
        t2 = time.perf_counter()
        g()
        t3 = time.perf_counter()
        ds.append((t2 - t) * 1000)
        gs.append((t3 - t2) * 1000)
    diff = statistics.median(b - a for a, b in zip(ds, gs))
    d_med, g_med = statistics.median(ds), statistics.median(gs)
    p90 = lambda xs: sorted(xs)[int(len(xs) * 0.9) - 1]  # noqa: E731
    return [(f"miss path, {label}: mock direct (median / p90)",
             f"{d_med:.2f} / {p90(ds):.2f} ms"),
            (f"miss path, {label}: through lighttpd+imagegw", f"{g_med:.2f} / {p90(gs):.2f} ms"),
            (f"miss path, {label}: gateway overhead (median of pairs)",
             f"+{diff:.2f} ms (ratio {g_med / d_med:.2f})")]


def paired(fa, fb, rounds):
    """Times fa and fb in alternation; returns (median a, median b, ratio b/a)."""
    for _ in range(10):
        fa()
        fb()
    xs, ys = [], []
    for _ in range(rounds):
        t = time.perf_counter()
        fa()
        t2 = time.perf_counter()
        fb()
        t3 = time.perf_counter()
        xs.append((t2 - t) * 1000)
        ys.append((t3 - t2) * 1000)
    a, b = statistics.median(xs), statistics.median(ys)
    return a, b, b / a


def cache_hits(mock, rounds):
    """Cache hits through lighttpd+imagegw against lighttpd serving the same
    bytes as a static file, in one gateway with X-Sendfile on."""
    import json
    import shutil
    import tempfile
    www = tempfile.mkdtemp(prefix="imagegw-bench-www-")
    gw = conftest.Gateway({"gemini_base_url": mock.url, "gemini_api_key": "bench",
                           "log_level": "warn", "sendfile_header": "X-Sendfile"},
                          max_procs=2, www=www)
    rows = []
    try:
        via = keepalive_client(gw.port)
        hdr = {"Content-Type": "application/json"}
        tiny = json.dumps({"prompt": "bench hit tiny", "model": "gemini-3-pro-image"})
        big = json.dumps({"prompt": "bench hit big mock:bytes=2000000",
                          "model": "gemini-3-pro-image"})
        big_url = json.dumps({"prompt": "bench hit big mock:bytes=2000000",
                              "model": "gemini-3-pro-image", "response_format": "url"})
        via("POST", "/v1/images/generations", tiny, hdr)
        body = via("POST", "/v1/images/generations", big, hdr)
        time.sleep(0.3)  # the store happens after the reply
        url = json.loads(via("POST", "/v1/images/generations", big_url, hdr))["data"][0]["url"]
        file_path = url[url.index("/v1/"):]
        # The same bytes as static files beside the page.
        with open(os.path.join(www, "hit.json"), "wb") as f:
            f.write(body)
        blob = conftest.http(gw.port, "GET", file_path).body
        with open(os.path.join(www, "blob.png"), "wb") as f:
            f.write(blob)
        static = keepalive_client(gw.port)

        med, _ = timed(lambda: via("POST", "/v1/images/generations", tiny, hdr), rounds)
        rows.append(("cache hit, tiny image, b64_json (median)", f"{med:.2f} ms"))
        a, b, ratio = paired(lambda: static("GET", "/blob.png", None, {}),
                             lambda: via("GET", file_path, None, {}), rounds)
        rows.append(("url-mode fetch of a 2 MB image (X-Sendfile) vs static file",
                     f"{b:.2f} vs {a:.2f} ms, ratio {ratio:.2f} (target <= 1.3)"))
        a, b, ratio = paired(lambda: static("GET", "/hit.json", None, {}),
                             lambda: via("POST", "/v1/images/generations", big, hdr),
                             max(20, rounds // 4))
        rows.append(("b64_json hit of a 2 MB image vs static file of the same JSON",
                     f"{b:.2f} vs {a:.2f} ms, ratio {ratio:.2f} (target <= 1.5)"))
        rows += throughput(gw, tiny)
    finally:
        gw.stop()
        shutil.rmtree(www, ignore_errors=True)
    return rows


def throughput(gw, body):
    """wrk, 2 connections per core for 10 s: cache hits vs a static file of
    the same reply."""
    import re
    import shutil
    if not shutil.which("wrk"):
        return [("hit throughput (wrk)", "skipped: wrk not installed")]
    reply = conftest.http(gw.port, "POST", "/v1/images/generations", body).body
    www = None
    for line in open(os.path.join(gw.dir, "run", "lighttpd.conf")):
        if line.startswith("server.document-root"):
            www = line.split('"')[1]
    with open(os.path.join(www, "tiny.json"), "wb") as f:
        f.write(reply)
    conns = 2 * (os.cpu_count() or 2)
    script = os.path.join(os.path.dirname(__file__), "hit.lua")

    def rps(args, env=None):
        out = subprocess.run(["wrk", "-t2", f"-c{conns}", "-d10s", *args],
                             capture_output=True, text=True, env=env).stdout
        m = re.search(r"Requests/sec:\s+([0-9.]+)", out)
        return float(m.group(1)) if m else 0.0
    env = dict(os.environ, IMAGEGW_BENCH_BODY=body)
    hits = rps(["-s", script, f"{gw.url}/v1/images/generations"], env)
    static = rps([f"{gw.url}/tiny.json"])
    return [(f"hit throughput, wrk {conns} connections 10 s (tiny image)",
             f"{hits:.0f} req/s vs static {static:.0f} req/s, ratio {hits / static:.2f}"
             if static else f"{hits:.0f} req/s")]


def lookup_cost():
    binary = os.environ.get("IMAGEGW_BENCH_LOOKUP")
    if not binary:
        return []
    out = subprocess.run([binary, "100000", "5000"], capture_output=True, text=True).stdout
    med, p99 = out.split()
    return [("cache lookup on a miss, 100 000 entries (median / p99)",
             f"{float(med) / 1000:.3f} / {float(p99) / 1000:.3f} ms (target < 1 ms)")]


def quota_cost():
    binary = os.environ.get("IMAGEGW_BENCH_QUOTA")
    if not binary:
        return []
    rows = []
    for procs in (1, 4):
        out = subprocess.run([binary, str(procs), "2000"], capture_output=True,
                             text=True).stdout.split()
        rows.append((f"rate-limit + key-pick transactions per request, {procs} writer "
                     f"process{'es' if procs > 1 else ''} (median / p99)",
                     f"{float(out[0]):.0f} / {float(out[1]):.0f} us"))
    return rows


def multipart_cost():
    binary = os.environ.get("IMAGEGW_BENCH_MULTIPART")
    if not binary:
        return []
    out = subprocess.run([binary, "20", "20"], capture_output=True, text=True).stdout.split()
    return [("multipart parse of a 20 MiB upload, 64 KiB feeds (median / best)",
             f"{out[0]} / {out[1]} MB/s")]


def edit_upload(gw, rounds):
    """A 20 MiB edit on local-preview through lighttpd+imagegw, against a
    generation of the same prompt: the cost of taking the upload (lighttpd
    spooling it, imagegw reading, parsing, sniffing and hashing it)."""
    import json
    import test_edits  # the edit tests' image and form builders
    head = test_edits.png(64, 64)
    image = head + os.urandom(20 * 1024 * 1024 - len(head))
    ctype, body = test_edits.form([("prompt", "bench edit"), ("model", "local-preview"),
                                   ("image", image, "in.png", "image/png")])
    gen = json.dumps({"prompt": "bench edit", "model": "local-preview"})
    via = keepalive_client(gw.port)
    g, e, _ = paired(lambda: via("POST", "/v1/images/generations", gen,
                                 {"Content-Type": "application/json"}),
                     lambda: via("POST", "/v1/images/edits", body, {"Content-Type": ctype}),
                     rounds)
    return [("edit with a 20 MiB image vs generation, local-preview (median)",
             f"{e:.0f} vs {g:.0f} ms: {len(body) / 1e6 / ((e - g) / 1000):.0f} MB/s "
             "for the upload end to end")]


def metrics_cost():
    """The metrics work of one image request: the hooks, then the flush after
    the reply (one transaction), with 1 and 4 processes writing at once."""
    binary = os.environ.get("IMAGEGW_BENCH_METRICS")
    if not binary:
        return []
    rows = []
    for procs in (1, 4):
        p = subprocess.run([binary, str(procs), "2000"], capture_output=True, text=True)
        out = p.stdout.split()
        if p.returncode != 0 or len(out) < 5:
            rows.append((f"metrics flush, {procs} process(es)", f"failed: {p.stderr.strip()}"))
            continue
        rows.append((f"metrics flush after the reply, {procs} writer "
                     f"process{'es' if procs > 1 else ''} (median / p99)",
                     f"{float(out[0]):.0f} / {float(out[1]):.0f} us "
                     f"({int(float(out[3]))} of {out[5]} flushes found the database busy "
                     f"and were kept)"))
        if procs == 1:
            rows.append(("metrics hooks of one image request (median)",
                         f"{float(out[2]):.2f} us"))
    return rows


def ab_throughput(mock, base_bin, seconds=5, turns=3):
    """Requests per second of this build against another one (IMAGEGW_BENCH_BASE,
    e.g. the commit before a change), wrk with 2 connections per core on
    /healthz and on a tiny cache hit, the two builds taking turns so drifting
    load hits both; medians of the turns.  What the metrics flush after each
    reply costs a busy process shows here."""
    import re
    import shutil
    if not shutil.which("wrk"):
        return [("A/B throughput (wrk)", "skipped: wrk not installed")]
    conns = 2 * (os.cpu_count() or 2)
    script = os.path.join(os.path.dirname(__file__), "hit.lua")
    body = '{"prompt": "bench ab hit", "model": "gemini-3-pro-image"}'
    gws = {}
    saved = conftest.BIN
    try:
        for name, binary in (("this build", saved), ("base", base_bin)):
            conftest.BIN = binary
            gws[name] = conftest.Gateway({"gemini_base_url": mock.url, "gemini_api_key": "bench",
                                          "log_level": "warn"}, max_procs=2)
            conftest.http(gws[name].port, "POST", "/v1/images/generations", body)
    finally:
        conftest.BIN = saved
    time.sleep(0.5)

    def rps(args, env=None):
        out = subprocess.run(["wrk", "-t2", f"-c{conns}", f"-d{seconds}s", *args],
                             capture_output=True, text=True, env=env).stdout
        m = re.search(r"Requests/sec:\s+([0-9.]+)", out)
        return float(m.group(1)) if m else 0.0
    env = dict(os.environ, IMAGEGW_BENCH_BODY=body)
    got = {(n, w): [] for n in gws for w in ("healthz", "hit")}
    try:
        for _ in range(turns):
            for name, g in gws.items():
                got[(name, "healthz")].append(rps([f"{g.url}/healthz"]))
                got[(name, "hit")].append(rps(["-s", script, f"{g.url}/v1/images/generations"],
                                              env))
    finally:
        for g in gws.values():
            g.stop()
    rows = []
    for what in ("healthz", "hit"):
        new, old = (statistics.median(got[(n, what)]) for n in ("this build", "base"))
        rows.append((f"throughput A/B, {'GET /healthz' if what == 'healthz' else 'tiny cache hit'}"
                     f", wrk {conns} connections (this build vs base)",
                     f"{new:.0f} vs {old:.0f} req/s, ratio {new / old:.2f}" if old else "failed"))
    return rows


def parallel(gw):
    def run(n):
        t = time.perf_counter()
        r = gw.generate(prompt=f"parallel mock:delay=1 {time.time()}", n=n,
                        model="gemini-3-pro-image")
        assert r.status == 200 and len(r.json()["data"]) == n, r
        return time.perf_counter() - t
    one = statistics.median(run(1) for _ in range(3))
    ten = statistics.median(run(10) for _ in range(3))
    return [("n=1 wall time, mock delay 1 s", f"{one * 1000:.0f} ms"),
            ("n=10 wall time, mock delay 1 s", f"{ten * 1000:.0f} ms"),
            ("n=10 / n=1 (target <= 1.2)", f"{ten / one:.2f}")]


def jobs(gw):
    """POST /v1/jobs with 9 models: how long the responder takes to answer
    (each job is left to finish before the next, so its worker does not load
    the machine during the next measurement), and how long a whole job takes
    when the mock holds every call for 1 s (the models run in parallel)."""
    import json
    models = [f"gemini-3-pro-image-{s}-{r}" for s in ("1k", "2k", "4k")
              for r in ("1x1", "16x9", "9x16")]
    conn = keepalive_client(gw.port)
    hdr = {"Content-Type": "application/json"}

    def post(prompt):
        conn_r = conftest.http(gw.port, "POST", "/v1/jobs",
                               json.dumps({"prompt": prompt, "models": models}), hdr)
        assert conn_r.status == 202, conn_r
        return conn_r.json()["id"]

    def wait(job_id):
        while True:
            body = json.loads(conn("GET", f"/v1/jobs/{job_id}", None, {}))
            if body["status"] in ("completed", "partial", "failed"):
                assert body["status"] == "completed", body
                return
            time.sleep(0.01)
    samples = []
    for i in range(max(10, ROUNDS // 10)):
        t = time.perf_counter()
        job_id = post(f"bench job {i} {time.time_ns()}")
        samples.append((time.perf_counter() - t) * 1000)
        wait(job_id)
    samples.sort()
    rows = [("job creation, 9 models, through lighttpd (median / p90)",
             f"{statistics.median(samples):.2f} / {samples[int(len(samples) * 0.9) - 1]:.2f} ms"
             " (target median < 20 ms)")]
    totals = []
    for i in range(3):
        t = time.perf_counter()
        wait(post(f"bench slow job {i} {time.time_ns()} mock:delay=1"))
        totals.append(time.perf_counter() - t)
    total = statistics.median(totals)
    rows.append(("job of 9 models, mock delay 1 s: creation to final status (median of 3)",
                 f"{total * 1000:.0f} ms, ratio {total / 1.0:.2f} to the slowest model's "
                 "delay (target <= 1.2)"))
    return rows


def web_page(gw):
    """The web page (deploy/www/): its weight, HTML + CSS + JS gzipped as a server
    would send them, and its first render in headless Chromium against this gateway
    (tests/browser/first-render.mjs: navigation start to first contentful paint, and to
    the model list drawn from GET /v1/models), next to a one-line page on the same
    lighttpd: the floor of a fresh browser context, whatever the page does."""
    import gzip
    import json
    import tempfile
    root = os.path.join(os.path.dirname(__file__), "..", "..")
    www = os.path.join(root, "deploy", "www")
    files = ["index.html", "app.css", "app.js"]
    raw = sum(os.path.getsize(os.path.join(www, f)) for f in files)
    gz = 0
    for f in files:
        with open(os.path.join(www, f), "rb") as fh:
            gz += len(gzip.compress(fh.read(), 9))
    rows = [("web page weight, HTML + CSS + JS (gzip -9 / raw)",
             f"{gz / 1024:.1f} KB / {raw / 1024:.1f} KB (target < 60 KB gzip)")]
    setup = subprocess.run(["sh", os.path.join(root, "tests", "browser", "setup.sh")],
                           capture_output=True, text=True)
    if setup.returncode != 0:
        return rows + [("web page first render", "skipped: " + setup.stderr.strip())]
    blank_dir = tempfile.mkdtemp(prefix="imagegw-bench-www-")
    with open(os.path.join(blank_dir, "index.html"), "w") as fh:
        fh.write("<!doctype html><title>blank</title><p>imagegw</p>\n")
    blank = conftest.Gateway({"log_level": "warn"}, www=blank_dir, max_procs=1)
    n = max(5, min(30, ROUNDS // 10))
    script = os.path.join(root, "tests", "browser", "first-render.mjs")
    try:
        def measure(url):
            out = subprocess.run(["node", script, url + "/", str(n)], capture_output=True,
                                 text=True, timeout=600)
            assert out.returncode == 0, out.stderr[-2000:]
            return json.loads(out.stdout.strip().splitlines()[-1])
        page = measure(gw.url)
        floor = measure(blank.url)
    finally:
        blank.stop()
        import shutil
        shutil.rmtree(blank_dir, ignore_errors=True)

    def med(xs):
        return statistics.median(xs)
    rows.append((f"web page first contentful paint, headless Chromium, localhost (median of {n})",
                 f"{med(page['fcp']):.0f} ms (a one-line page: {med(floor['fcp']):.0f} ms)"))
    rows.append((f"web page model list drawn (GET /v1/models answered, median of {n})",
                 f"{med(page['ready']):.0f} ms"))
    return rows


def cold_start(binary, data_dir, rounds=50):
    """One plain-CGI request, process start to exit (what a CGI-only host pays)."""
    rows = []
    for label, method, path, body in [
            ("GET /healthz", "GET", "/healthz", b""),
            ("POST generation, local-preview 1:1", "POST", "/v1/images/generations",
             b'{"prompt":"cold start","model":"local-preview"}')]:
        env = {"REQUEST_METHOD": method, "PATH_INFO": path, "GATEWAY_INTERFACE": "CGI/1.1",
               "CONTENT_LENGTH": str(len(body)), "IMAGEGW_DATA_DIR": data_dir,
               "IMAGEGW_LOG_LEVEL": "error", "IMAGEGW_CACHE_BACKEND": "none",
               "PATH": "/usr/bin:/bin"}

        def once():
            p = subprocess.run([binary, "cgi"], input=body, env=env, capture_output=True)
            assert p.stdout.startswith(b"Status: 200"), p.stdout[:200]
        med, p90 = timed(once, rounds)
        rows.append((f"cold start (plain CGI), {label}", f"{med:.1f} / {p90:.1f} ms"))
    return rows


def main():
    binary = os.path.abspath(os.environ["IMAGEGW_BIN"])
    if not os.path.exists(binary):
        sys.exit(f"{binary} missing: run make first")
    mock = conftest.Mock()
    # The miss path: the cache is off, so every call reaches the mock.
    gw = conftest.Gateway({"gemini_base_url": mock.url, "gemini_api_key": "bench",
                           "log_level": "warn", "cache_backend": "none"}, max_procs=2)
    rows = []
    try:
        rows += miss_overhead(mock, gw, "tiny image", "bench tiny", ROUNDS)
        rows += miss_overhead(mock, gw, "2 MB image", "bench big mock:bytes=2000000",
                              max(20, ROUNDS // 5))
        rows += parallel(gw)
        rows += jobs(gw)
        rows += cold_start(binary, os.path.join(gw.dir, "var"))
        rows += edit_upload(gw, max(5, ROUNDS // 20))
        rows += web_page(gw)
        rows += cache_hits(mock, ROUNDS)
        rows += lookup_cost()
        rows += quota_cost()
        rows += multipart_cost()
        rows += metrics_cost()
        if os.environ.get("IMAGEGW_BENCH_BASE"):
            rows += ab_throughput(mock, os.path.abspath(os.environ["IMAGEGW_BENCH_BASE"]))
    finally:
        gw.stop()
        mock.stop()
    width = max(len(r[0]) for r in rows)
    print(f"\n| {'benchmark'.ljust(width)} | result |")
    print(f"|{'-' * (width + 2)}|--------|")
    for name, value in rows:
        print(f"| {name.ljust(width)} | {value} |")


if __name__ == "__main__":
    main()
