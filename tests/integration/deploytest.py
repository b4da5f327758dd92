"""The deployment smoke tests' harness (test_deploy_*.py): a real server
started on one of the shipped configs in deploy/, rendered by the render script
beside it with the test's paths and port, and the checks an operator makes
with curl after deploying (docs/deployment.md's checklist): the page,
/healthz, a generation, its link, an edit upload, keys in Authorization, and
413 for bodies too large.

The servers run as the user running the tests: `make integration-apache` runs
them as an unprivileged one (tests/tools/as-test-user.sh).  As root the
modules skip: Apache would start imagegw as another user than the one owning
the test's files, as it refuses to serve as root."""
import base64
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import BIN, ROOT, assert_error, free_port, http, read_log, unique_prompt

ADMIN = "deploy-admin-key-0123456789"
needs_user = pytest.mark.skipif(
    os.geteuid() == 0, reason="run as an unprivileged user (make integration-apache does)")
# What a sanitizer leaves in a log when imagegw's stderr is the only place it
# can write (a responder whose environment the server clears).
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def render(script, *args, env=None):
    """Runs deploy/<script> and returns what it printed (the config's path)."""
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.check_output(["sh", os.path.join(ROOT, "deploy", script), *args],
                                   env=e, text=True).strip()


class Site:
    """One deployment under test: its directory, imagegw.conf (from
    `settings`), data_dir, logs and the processes started for it."""

    def __init__(self, name, settings, config_path=None):
        self.dir = tempfile.mkdtemp(prefix=f"imagegw-{name}-")
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.run_dir = os.path.join(self.dir, "run")
        self.asan_dir = os.path.join(self.dir, "asan")
        os.makedirs(self.run_dir)
        os.makedirs(self.asan_dir)
        self.error_log = os.path.join(self.dir, "server-error.log")
        self.log_file = os.path.join(self.dir, "imagegw.log")
        self.config = config_path or os.path.join(self.dir, "imagegw.conf")
        conf = {"data_dir": os.path.join(self.dir, "var"), "log_file": self.log_file,
                "log_level": "debug", "rate_per_ip": 0, "api_key": ADMIN}
        conf.update(settings)
        self.data_dir = conf["data_dir"]
        self.cache_dir = conf.get("cache_dir") or os.path.join(self.data_dir, "cache")
        with open(self.config, "w") as f:
            f.write("".join(f"{k} = {v}\n" for k, v in conf.items()))
        os.chmod(self.config, 0o600)
        self.procs = []
        self.out = open(os.path.join(self.dir, "server.stderr"), "w")

    def sanitizer_env(self, tag="asan"):
        return {"ASAN_OPTIONS": f"log_path={self.asan_dir}/{tag}:detect_leaks=1:abort_on_error=0",
                "UBSAN_OPTIONS": f"log_path={self.asan_dir}/u{tag}:print_stacktrace=1"}

    def start(self, argv, env=None):
        e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        e.update(env or {})
        p = subprocess.Popen(argv, env=e, stdout=self.out, stderr=self.out)
        self.procs.append(p)
        return p

    def cli(self, *args):
        """`imagegw <args>` on this site's config, as the operator would."""
        e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "IMAGEGW_CONFIG": self.config,
             **self.sanitizer_env("cli")}
        return subprocess.run([BIN, *args], env=e, capture_output=True, text=True, timeout=30)

    def client_key(self, name):
        out = self.cli("key", "create", "--name", name)
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()

    def request(self, method, path, body=None, headers=None, timeout=60):
        return http(self.port, method, path, body, headers, timeout)

    def get(self, path, headers=None):
        return self.request("GET", path, None, headers)

    def post(self, path, body, headers=None, timeout=60):
        return self.request("POST", path, body, headers, timeout)

    def log_events(self, event=None):
        return read_log(self.log_file, event)

    def imagegw_pids(self):
        """Running processes of the binary started with this site's config."""
        pids = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                if os.readlink(f"/proc/{pid}/exe") != BIN:
                    continue
                with open(f"/proc/{pid}/environ", "rb") as f:
                    if self.config.encode() in f.read():
                        pids.append(int(pid))
            except OSError:
                continue
        return pids

    def wait_events(self, event, predicate, count=1, timeout=5.0):
        """The events that satisfy predicate, once there are at least count of
        them (or whatever there is when timeout runs out).  A responder logs a
        request after its reply is sent, so a test that has its answer may
        still be ahead of the log line."""
        deadline = time.time() + timeout
        while True:
            hits = [e for e in self.log_events(event) if predicate(e)]
            if len(hits) >= count or time.time() >= deadline:
                return hits
            time.sleep(0.05)

    def text(self, name):
        try:
            with open(os.path.join(self.dir, name), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def setup(self, start):
        """Runs start(self) (render, start the servers, first checks); a
        failure there stops what it started before the error goes on, as no
        fixture teardown will."""
        try:
            start(self)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        """Stops every process (last started first); returns the sanitizer
        reports found, and removes the directory when there are none."""
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self.out.close()
        reports = []
        for path in glob.glob(os.path.join(self.asan_dir, "*")):
            with open(path, errors="replace") as f:
                reports.append(f"{path}:\n{f.read()}")
        for name in ("server.stderr", "server-error.log"):
            text = self.text(name)
            if any(m in text for m in SANITIZER_MARKS):
                reports.append(f"{name}:\n{text}")
        if not reports:
            shutil.rmtree(self.dir, ignore_errors=True)
        return reports


def wait_path(path, timeout=10.0):
    deadline = time.time() + timeout
    while not os.path.exists(path):
        assert time.time() < deadline, f"{path} did not appear"
        time.sleep(0.05)


def raw_status(port, head):
    """Sends a request head (and no body) and returns the status line: what
    a server answers from the headers alone."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(head)
        return s.recv(65536).split(b"\r\n")[0].decode()


# ---- the checks every deployment passes ------------------------------------------


def check_page_and_health(site, prefix=""):
    r = site.get(prefix + "/")
    assert r.status == 200, r
    assert r.header("content-type").startswith("text/html"), r.headers
    with open(os.path.join(ROOT, "deploy", "www", "index.html"), "rb") as f:
        assert r.body == f.read()
    r = site.get(prefix + "/app.js")
    assert r.status == 200 and b"v1/models" in r.body, r
    r = site.get(prefix + "/healthz")
    assert r.status == 200, r
    body = r.json()
    assert body["status"] == "ok" and body["db"] == "ok" and body["cache_dir"] == "ok", body
    assert r.header("x-request-id")


def check_keys(site, prefix=""):
    """Authorization reaches imagegw: a request without a key or with a wrong
    one is refused by imagegw (JSON), a client key works, and an admin route
    tells the client key from the admin key."""
    key = site.client_key("smoke")
    assert_error(site.get(prefix + "/v1/models"), "IMG_UNAUTHORIZED")
    assert_error(site.get(prefix + "/v1/models", {"Authorization": "Bearer igw_wrong"}),
                 "IMG_UNAUTHORIZED")
    r = site.get(prefix + "/v1/models", {"Authorization": f"Bearer {key}"})
    assert r.status == 200 and r.json()["object"] == "list", r
    assert site.get(prefix + "/v1/models", {"x-api-key": key}).status == 200
    assert_error(site.get(prefix + "/v1/cache/stats", {"Authorization": f"Bearer {key}"}),
                 "IMG_FORBIDDEN")
    r = site.get(prefix + "/v1/cache/stats", {"Authorization": f"Bearer {ADMIN}"})
    assert r.status == 200 and "entries" in r.json(), r
    return key


def generate(site, key, prefix="", **fields):
    body = {"prompt": unique_prompt("a lighthouse at dusk"), "model": "local-preview"}
    body.update(fields)
    return site.post(prefix + "/v1/images/generations", body,
                     {"Authorization": f"Bearer {key}"})


def check_generate_and_url(site, key, prefix="", base=None):
    """A generation, then the same as a link, fetched: the bytes behind the
    link are the generated image's (local-preview draws the same picture for
    the same prompt, whether the cache has stored the first one yet or not).
    Returns the fetch."""
    prompt = unique_prompt("a lighthouse at dusk")
    r = generate(site, key, prefix, prompt=prompt)
    assert r.status == 200, r
    png = base64.b64decode(r.json()["data"][0]["b64_json"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    r = generate(site, key, prefix, prompt=prompt, response_format="url")
    assert r.status == 200, r
    url = r.json()["data"][0]["url"]
    base = base or site.url + prefix
    assert url.startswith(base + "/v1/files/"), (url, base)
    got = site.get(url[len(site.url):])
    assert got.status == 200, got
    assert got.body == png
    assert got.header("content-type") == "image/png"
    assert got.header("content-length") == str(len(png))
    assert got.header("cache-control").startswith("private, max-age="), got.headers
    # a link whose signature does not match is refused by imagegw
    bad = url[len(site.url):].replace("sig=", "sig=0")
    assert_error(site.get(bad), "IMG_FORBIDDEN")
    return got


def multipart(parts, boundary="----imagegwDeploySmoke"):
    out = []
    for name, value, *file in parts:
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"'
        if file:
            head += f'; filename="{file[0]}"\r\nContent-Type: image/png'
        out.append(head.encode() + b"\r\n\r\n" + value + b"\r\n")
    return (f"multipart/form-data; boundary={boundary}",
            b"".join(out) + f"--{boundary}--\r\n".encode())


def edit(site, key, image, prefix=""):
    ctype, body = multipart([("prompt", unique_prompt("make it blue").encode()),
                             ("model", b"local-preview"), ("image", image, "in.png")])
    return site.post(prefix + "/v1/images/edits", body,
                     {"Content-Type": ctype, "Authorization": f"Bearer {key}"}, timeout=60)


def png_of_size(n):
    """A real 16x16 PNG followed by filler, n bytes in all (the upload limits
    count bytes, not pixels)."""
    import struct
    import zlib

    def chunk(tag, data):
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xffffffff))
    raw = b"".join(b"\0" + b"\x20\x60\xa0" * 16 for _ in range(16))
    head = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 16, 16, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    return head + os.urandom(n - len(head))


def check_big_edit(site, key, prefix="", size=15 * 1000 * 1000):
    r = edit(site, key, png_of_size(size), prefix)
    assert r.status == 200, r
    assert base64.b64decode(r.json()["data"][0]["b64_json"])[:4] == b"\x89PNG"


def check_too_large(site, key, prefix="", server_limit=True):
    """A JSON body over imagegw's max_body_bytes (1 MiB) reaches imagegw and
    gets its 413; a body announced over the server's own limit (320 MiB) is
    refused from its Content-Length alone."""
    body = json.dumps({"prompt": "x" * (2 * 1024 * 1024), "model": "local-preview"})
    r = site.post(prefix + "/v1/images/generations", body,
                  {"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    assert_error(r, "IMG_PAYLOAD_TOO_LARGE")
    if server_limit:
        status = raw_status(site.port, (
            f"POST {prefix}/v1/images/edits HTTP/1.1\r\nHost: 127.0.0.1:{site.port}\r\n"
            f"Authorization: Bearer {key}\r\nContent-Type: multipart/form-data; boundary=b\r\n"
            "Content-Length: 400000000\r\n\r\n").encode())
        assert status.split()[1] == "413", status
