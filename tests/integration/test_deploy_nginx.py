"""nginx + spawn-fcgi (SPEC 11), on the shipped files: deploy/nginx/imagegw.conf
as the site and the ExecStart of deploy/nginx/imagegw.service (spawn-fcgi +
multiwatch) as the responders, rendered by deploy/nginx/render.sh.  Images
are sent by nginx (X-Accel-Redirect); multiwatch replaces a responder that
dies; SIGTERM stops them all."""
import os
import shutil
import signal
import subprocess
import threading
import time

import pytest

from conftest import BIN, WWW, unique_prompt, wait_port
from deploytest import (ADMIN, Site, check_big_edit, check_generate_and_url, check_keys,
                        check_page_and_health, check_too_large, generate, needs_user, render,
                        wait_path)

pytestmark = needs_user
PROCS = 2


def responders(site):
    """The imagegw processes multiwatch keeps (its children)."""
    out = subprocess.run(["pgrep", "-P", str(site.spawner.pid)], capture_output=True,
                         text=True).stdout
    return sorted(int(p) for p in out.split())


@pytest.fixture(scope="module")
def site(mock):
    def start(s):
        with open(s.config, "a") as f:
            f.write(f"public_base_url = {s.url}\nsendfile_header = X-Accel-Redirect\n"
                    "sendfile_prefix = /_imagegw_cache/\n")
        conf = render("nginx/render.sh", s.run_dir, str(s.port), BIN, WWW, s.config, str(PROCS),
                      s.error_log, s.cache_dir)
        s.spawner = s.start(["sh", os.path.join(s.run_dir, "responders.sh")],
                            s.sanitizer_env())
        wait_path(os.path.join(s.run_dir, "imagegw.sock"))
        s.start(["nginx", "-p", s.run_dir, "-c", conf, "-e", s.error_log])
        wait_port(s.port)
        s.key = check_keys(s)

    s = Site("nginx", {"gemini_base_url": mock.url, "gemini_api_key": "k",
                       "upstream_timeout_seconds": 10}).setup(start)
    yield s
    problems = s.stop()
    assert not problems, "sanitizer reports:\n" + "\n".join(problems)


def test_the_unit_file_is_valid():
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze not installed")
    p = subprocess.run(["systemd-analyze", "verify",
                        os.path.join(os.path.dirname(WWW), "nginx", "imagegw.service")],
                       capture_output=True, text=True)
    # (the binary it names is not installed here; everything else must pass)
    problems = [line for line in (p.stdout + p.stderr).splitlines()
                if "imagegw.service" in line and "/usr/local/bin/imagegw" not in line]
    assert not problems, p.stdout + p.stderr


def test_page_health_and_keys(site):
    check_page_and_health(site)
    assert site.get("/").header("server").startswith("nginx")


def test_generation_and_its_link_sent_by_nginx(site):
    got = check_generate_and_url(site, site.key)
    # nginx sent the file: imagegw's header is consumed, nginx's own added
    assert "x-accel-redirect" not in got.headers
    assert got.header("last-modified") and got.header("accept-ranges") == "bytes", got.headers
    files = [e["status"] for e in site.wait_events(
        "request", lambda e: e.get("route") == "/v1/files/*", count=2)]
    assert files == [200, 403], files
    # the internal location is not reachable from outside
    blob = next(os.path.join(root, f) for root, _, files in os.walk(site.cache_dir)
                for f in files if f.endswith(".png"))
    rel = os.path.relpath(blob, site.cache_dir)
    assert site.get(f"/_imagegw_cache/{rel}").status == 404


def test_fifteen_megabyte_edit(site):
    check_big_edit(site, site.key)


def test_bodies_too_large(site):
    check_too_large(site, site.key)


def test_a_killed_responder_is_replaced(site):
    before = responders(site)
    assert len(before) == PROCS, before
    os.kill(before[0], signal.SIGKILL)
    deadline = time.time() + 10
    while True:
        now = responders(site)
        if len(now) == PROCS and before[0] not in now:
            break
        assert time.time() < deadline, now
        time.sleep(0.1)
    for _ in range(2 * PROCS):
        assert generate(site, site.key).status == 200


def test_sigterm_lets_the_request_finish_then_stops_every_responder(site, mock):
    """systemd's stop: SIGTERM to multiwatch, which sends the responders
    SIGUSR1, on which each finishes the request it is answering."""
    pids = responders(site)
    out = {}
    slow = threading.Thread(target=lambda: out.update(r=generate(
        site, site.key, model="gemini-3-pro-image",
        prompt=unique_prompt("finish me", "mock:delay=1.5"))))
    slow.start()
    deadline = time.time() + 10
    while mock.count() < 1:
        assert time.time() < deadline
        time.sleep(0.02)
    site.spawner.send_signal(signal.SIGTERM)
    slow.join(30)
    assert out["r"].status == 200, out["r"]
    site.spawner.wait(10)
    assert any(e.get("msg") == "stopping on signal 10 after the current request"
               for e in site.log_events("message")), site.text("imagegw.log")
    deadline = time.time() + 10
    while any(os.path.exists(f"/proc/{p}") for p in pids):
        assert time.time() < deadline, "responders outlived multiwatch"
        time.sleep(0.05)
    # nginx answers for the gone backend itself
    r = site.post("/v1/images/generations", {"prompt": "p", "model": "local-preview"},
                  {"Authorization": f"Bearer {ADMIN}"})
    assert r.status == 502, r
