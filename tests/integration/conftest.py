"""Integration-test harness: a real web server spawning the built imagegw
binary (the ASan+UBSan build under `make test`) in front of the mock Gemini
server.  IMAGEGW_SERVER picks the server and the shipped config it runs on:
`lighttpd` (deploy/lighttpd/imagegw.conf.in, the default) or `apache` (Apache
+ mod_fcgid on deploy/apache/imagegw.conf); `make integration` runs the suite
under both.

Fixtures:
  mock      -- the mock Gemini upstream (tests/mock/mock_gemini.py), session-wide
  gateway   -- lighttpd + imagegw configured for the mock, module-wide
  make_gateway(settings, env) -- a factory for gateways with their own config

Each gateway has its own run directory, data_dir and JSON log file; at teardown
the harness fails the test run if a sanitizer report was written.
"""
import base64
import glob
import itertools
import http.client as httpclient
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("IMAGEGW_BIN", os.path.join(ROOT, "build", "imagegw"))
MOCK = os.path.join(ROOT, "tests", "mock", "mock_gemini.py")
RENDER = os.path.join(ROOT, "deploy", "lighttpd", "render.sh")
RENDER_APACHE = os.path.join(ROOT, "deploy", "apache", "render.sh")
SERVER = os.environ.get("IMAGEGW_SERVER", "lighttpd")
if SERVER not in ("lighttpd", "apache"):
    raise RuntimeError(f"IMAGEGW_SERVER={SERVER!r}: lighttpd or apache")
WWW = os.path.join(ROOT, "deploy", "www")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port} after {timeout}s")


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-cased names
        self.body = body
        self.received = time.time()

    def json(self):
        return json.loads(self.body)

    def header(self, name):
        return self.headers.get(name.lower())

    def __repr__(self):
        return f"<Response {self.status} {self.body[:200]!r}>"


def http(port, method, path, body=None, headers=None, timeout=60):
    """One HTTP/1.1 exchange; body may be bytes, str or a JSON-able object."""
    conn = httpclient.HTTPConnection("127.0.0.1", port, timeout=timeout)
    hdrs = dict(headers or {})
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body)
        hdrs.setdefault("Content-Type", "application/json")
    if isinstance(body, str):
        body = body.encode()
    conn.request(method, path, body=body, headers=hdrs)
    r = conn.getresponse()
    data = r.read()
    out = Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
    conn.close()
    return out


class Mock:
    def __init__(self):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, MOCK, "--port", str(self.port), "--quiet"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port)
        self.url = f"http://127.0.0.1:{self.port}"

    def reset(self):
        http(self.port, "POST", "/_mock/reset", b"")

    def requests(self):
        return http(self.port, "GET", "/_mock/requests").json()

    def count(self):
        return http(self.port, "GET", "/_mock/count").json()["count"]

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def read_log(path, event=None):
    """The JSON log lines of an imagegw log file (of one event, if given)."""
    try:
        with open(path) as f:
            lines = [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []
    return [e for e in lines if event is None or e.get("event") == event]


class Gateway:
    """The web server (SERVER) + imagegw with a config file written from
    `settings`; `env` joins the responders' environment; at most `max_procs`
    responders run at once."""

    def __init__(self, settings, env=None, max_procs=2, www=WWW):
        self.server = SERVER
        self.dir = tempfile.mkdtemp(prefix="imagegw-it-")
        self.port = free_port()
        self.log_file = os.path.join(self.dir, "imagegw.log")
        self.config = os.path.join(self.dir, "imagegw.conf")
        self.asan_dir = os.path.join(self.dir, "asan")
        os.makedirs(self.asan_dir)
        # All test traffic comes from 127.0.0.1: the default per-IP limit
        # (rate_per_ip = 30 a minute) would throttle whole modules, so it is
        # off unless a test sets it (tests/integration/test_ratelimit.py).
        conf = {"data_dir": os.path.join(self.dir, "var"), "log_file": self.log_file,
                "log_level": "debug", "rate_per_ip": 0}
        conf.update(settings)
        # Where X-Sendfile may send files from (lighttpd's x-sendfile-docroot).
        self.cache_dir = conf.get("cache_dir") or os.path.join(conf["data_dir"], "cache")
        with open(self.config, "w") as f:
            for k, v in conf.items():
                f.write(f"{k} = {v}\n")
        run_dir = os.path.join(self.dir, "run")
        os.makedirs(run_dir)
        binary = BIN
        if os.environ.get("IMAGEGW_VALGRIND"):
            # `make valgrind`: every responder runs under memcheck; its reports
            # land in asan_dir, where stop() collects them like sanitizer ones.
            binary = os.path.join(self.dir, "imagegw-valgrind")
            with open(binary, "w") as f:
                f.write("#!/bin/sh\nexec valgrind -q --leak-check=full --child-silent-after-fork=yes "
                        "--errors-for-leak-kinds=definite --error-exitcode=99 "
                        f"--log-file={self.asan_dir}/valgrind.%p {BIN} \"$@\"\n")
            os.chmod(binary, 0o755)
        self.error_log = os.path.join(self.dir, f"{SERVER}-error.log")
        child_env = {"ASAN_OPTIONS": f"log_path={self.asan_dir}/asan:detect_leaks=1:abort_on_error=0",
                     "UBSAN_OPTIONS": f"log_path={self.asan_dir}/ubsan:print_stacktrace=1"}
        child_env.update(env or {})
        path = os.environ.get("PATH", "/usr/bin:/bin")
        self.stderr = open(os.path.join(self.dir, f"{SERVER}.stderr"), "w")
        if SERVER == "apache":
            # mod_fcgid starts responders with PATH and its FcgidInitialEnv
            # lines only: the test's variables become such lines.
            conf_path = subprocess.check_output(
                ["sh", RENDER_APACHE, run_dir, str(self.port), binary, www, self.config,
                 str(max_procs), self.error_log, self.cache_dir,
                 *(f"{k}={v}" for k, v in child_env.items())], text=True).strip()
            self.proc = subprocess.Popen(["/usr/sbin/apache2", "-f", conf_path, "-DFOREGROUND"],
                                         env={"PATH": path}, stdout=self.stderr,
                                         stderr=self.stderr)
        else:
            conf_path = subprocess.check_output(
                ["sh", RENDER, run_dir, str(self.port), binary, www, self.config,
                 str(max_procs), self.error_log, self.cache_dir], text=True).strip()
            # lighttpd passes its whole environment on to the responders.
            self.proc = subprocess.Popen(["lighttpd", "-D", "-f", conf_path],
                                         env={"PATH": path, **child_env},
                                         stdout=self.stderr, stderr=self.stderr)
        wait_port(self.port)
        self.url = f"http://127.0.0.1:{self.port}"

    def request(self, method, path, body=None, headers=None, timeout=60):
        return http(self.port, method, path, body, headers, timeout)

    def post(self, path, body, headers=None, timeout=60):
        return self.request("POST", path, body, headers, timeout)

    def generate(self, timeout=60, headers=None, **fields):
        return self.post("/v1/images/generations", fields, headers, timeout)

    def get(self, path, headers=None):
        return self.request("GET", path, None, headers)

    def log_events(self, event=None):
        return read_log(self.log_file, event)

    def log_text(self):
        try:
            with open(self.log_file) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_log(self, predicate, timeout=5.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            hits = [e for e in self.log_events() if predicate(e)]
            if hits:
                return hits
            time.sleep(0.05)
        return []

    def stderr_text(self):
        """What the server and its imagegw children wrote to stderr (start-up
        messages written before log_file is opened land here; mod_fcgid sends
        its children's stderr to Apache's error log)."""
        with open(os.path.join(self.dir, f"{SERVER}.stderr"), errors="replace") as f:
            text = f.read()
        return text + (self.error_log_text() if SERVER == "apache" else "")

    def error_log_text(self):
        """The server's own error log (backend spawn/exit notices)."""
        try:
            with open(self.error_log, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def reset_pool(self):
        """Puts every upstream key back in service: tests that make the mock
        answer 429 or reject the key must not leave a shared gateway's key
        cooling down or disabled for the tests after them."""
        import sqlite3
        path = os.path.join(self.dir, "var", "imagegw.db")
        if not os.path.exists(path):
            return
        db = sqlite3.connect(path, timeout=10)
        try:
            db.execute("UPDATE accounts SET enabled = 1, disabled_reason = NULL, "
                       "cooldown_until = 0, consecutive_failures = 0, last_error = NULL")
            db.commit()
        except sqlite3.OperationalError:
            pass  # a database from before the key pool
        finally:
            db.close()

    def sanitizer_reports(self):
        out = []
        for path in glob.glob(os.path.join(self.asan_dir, "*")):
            with open(path, errors="replace") as f:
                text = f.read()
            if text.strip():  # valgrind -q leaves empty logs when clean
                out.append(f"{path}:\n{text}")
        return out

    def responder_pids(self):
        """The imagegw processes the server spawned for this gateway (found by
        the config path in their environment).  lighttpd starts max_procs of
        them at once; mod_fcgid one at the first request, more on demand."""
        out = subprocess.run(["pgrep", "-f", "imagegw"], capture_output=True, text=True)
        pids = []
        for pid in out.stdout.split():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read()
                with open(f"/proc/{pid}/environ", "rb") as f:
                    env = f.read()
            except OSError:
                continue
            if (b"lighttpd" not in cmd and b"apache2" not in cmd
                    and self.config.encode() in env):
                pids.append(int(pid))
        return pids

    def warm_up(self, n, mock):
        """Makes sure n responders are running.  lighttpd starts max_procs of
        them at once; mod_fcgid starts one when a request finds every running
        responder busy, so n requests that each hold theirs for a while (at the
        mock, with no-store: nothing cached or kept) bring n up.  The mock's
        record is reset afterwards."""
        if self.server != "apache":
            return
        for _ in range(3):
            if len(self.responder_pids()) >= n:
                break
            threads = [threading.Thread(target=self.generate, kwargs={
                "prompt": unique_prompt("warm up", "mock:delay=1"), "timeout": 30,
                "headers": {"Cache-Control": "no-store"}}) for _ in range(n)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        assert len(self.responder_pids()) >= n, self.responder_pids()
        mock.reset()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.stderr.close()
        reports = self.sanitizer_reports()
        if not reports:
            shutil.rmtree(self.dir, ignore_errors=True)
        return reports


def decode_image(item):
    return base64.b64decode(item["b64_json"])


def run_cli(gateway, *args, env=None):
    """Runs `imagegw <args>` (the binary under test) against a gateway's config
    and database; sanitizer reports land with the gateway's own."""
    e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "IMAGEGW_CONFIG": gateway.config,
         "ASAN_OPTIONS": f"log_path={gateway.asan_dir}/asan-cli:detect_leaks=1",
         "UBSAN_OPTIONS": f"log_path={gateway.asan_dir}/ubsan-cli:print_stacktrace=1"}
    e.update(env or {})
    return subprocess.run([BIN, *args], env=e, capture_output=True, text=True, timeout=30)


_unique = itertools.count()


def unique_prompt(prompt="a quiet harbour", directives=""):
    """A prompt no other test (or earlier run against the same mock) used."""
    return (f"{prompt} {os.getpid()}.{next(_unique)}.{time.time_ns() % 10**9} "
            f"{directives}").strip()


def fetch_url(gateway, url):
    """GET an image URL the gateway handed out (absolute, signed) from it."""
    assert url.startswith(gateway.url + "/"), url
    return gateway.get(url[len(gateway.url):])


# SPEC 4: code -> (HTTP status, type, category).
ERROR_TABLE = {
    "IMG_INVALID_REQUEST": (400, "invalid_request_error", "USER_ERROR"),
    "IMG_INVALID_PROMPT": (400, "invalid_request_error", "USER_ERROR"),
    "IMG_CONTENT_FILTERED": (400, "invalid_request_error", "USER_ERROR"),
    "IMG_SAFETY_BLOCKED": (400, "invalid_request_error", "USER_ERROR"),
    "IMG_RECITATION_BLOCKED": (400, "invalid_request_error", "USER_ERROR"),
    "IMG_UNKNOWN_MODEL": (400, "invalid_request_error", "USER_ERROR"),
    "IMG_UNAUTHORIZED": (401, "authentication_error", "USER_ERROR"),
    "IMG_FORBIDDEN": (403, "permission_error", "USER_ERROR"),
    "IMG_NOT_FOUND": (404, "invalid_request_error", "USER_ERROR"),
    "IMG_PAYLOAD_TOO_LARGE": (413, "invalid_request_error", "USER_ERROR"),
    "IMG_RATE_LIMITED": (429, "rate_limit_error", "USER_ERROR"),
    "IMG_QUOTA_EXHAUSTED": (429, "rate_limit_error", "API_ERROR"),
    "IMG_UPSTREAM_AUTH": (502, "api_error", "API_ERROR"),
    "IMG_UPSTREAM_ERROR": (502, "api_error", "API_ERROR"),
    "IMG_NO_IMAGE": (502, "api_error", "API_ERROR"),
    "IMG_NETWORK_ERROR": (502, "api_error", "NETWORK_ERROR"),
    "IMG_UPSTREAM_TIMEOUT": (504, "api_error", "NETWORK_ERROR"),
    "IMG_INTERNAL": (500, "server_error", "SYSTEM_ERROR"),
}
ENVELOPE_KEYS = {"message", "type", "param", "code", "category", "remedy", "request_id"}
_UNSET = object()


def assert_error(r, code, param=_UNSET):
    """Checks r is SPEC 4's envelope for `code` (status, type, category, the
    seven keys, request_id == X-Request-Id) and, if given, `param`.
    Returns the inner error object."""
    status, etype, category = ERROR_TABLE[code]
    assert r.status == status, r
    assert (r.header("content-type") or "").startswith("application/json"), r.headers
    body = r.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert set(err) == ENVELOPE_KEYS, err
    assert err["code"] == code, err
    assert err["type"] == etype, err
    assert err["category"] == category, err
    assert isinstance(err["message"], str) and err["message"].strip(), err
    assert isinstance(err["remedy"], str) and err["remedy"].strip(), err
    assert err["request_id"] and err["request_id"] == r.header("x-request-id"), (err, r.headers)
    if param is not _UNSET:
        assert err["param"] == param, err
    return err


@pytest.fixture(scope="session")
def mock():
    m = Mock()
    yield m
    m.stop()


@pytest.fixture
def make_gateway():
    made = []

    def make(settings=None, env=None, max_procs=2):
        g = Gateway(settings or {}, env, max_procs)
        made.append(g)
        return g
    yield make
    problems = []
    for g in made:
        problems += g.stop()
    assert not problems, "sanitizer reports:\n" + "\n".join(problems)


@pytest.fixture(scope="module")
def gateway(mock):
    g = Gateway({"gemini_base_url": mock.url, "gemini_api_key": "test-key-1",
                 "retry_backoff_ms": 20, "upstream_timeout_seconds": 5}, max_procs=2)
    yield g
    problems = g.stop()
    assert not problems, "sanitizer reports:\n" + "\n".join(problems)


@pytest.fixture(autouse=True)
def _reset_mock(request):
    if "mock" in request.fixturenames:
        request.getfixturevalue("mock").reset()
    for name in ("gateway", "gw"):
        if name in request.fixturenames:
            g = request.getfixturevalue(name)
            if isinstance(g, Gateway):
                g.reset_pool()
