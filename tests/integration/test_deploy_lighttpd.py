"""lighttpd on a VPS (SPEC 11), on the shipped deploy/lighttpd/production.conf
rendered by deploy/lighttpd/render-site.sh (the `make run` template is what
the rest of the suite runs on): max-procs responders, X-Sendfile, the request
size limit and keys, as an operator checks them after installing it."""
import time

import pytest

from conftest import BIN, WWW, wait_port
from deploytest import (Site, check_big_edit, check_generate_and_url, check_keys,
                        check_page_and_health, check_too_large, needs_user, render)

pytestmark = needs_user


@pytest.fixture(scope="module")
def site():
    def start(s):
        conf = render("lighttpd/render-site.sh", "production.conf", s.run_dir, str(s.port), BIN,
                      WWW, s.config, s.error_log, s.cache_dir)
        # production.conf passes on PATH and LANG only: sanitizer reports go
        # to the responders' stderr, lighttpd's own here (checked at stop).
        s.start(["lighttpd", "-D", "-f", conf])
        wait_port(s.port)
        s.key = check_keys(s)

    s = Site("lighttpd", {"sendfile_header": "X-Sendfile"}).setup(start)
    yield s
    problems = s.stop()
    assert not problems, "sanitizer reports:\n" + "\n".join(problems)


def test_page_health_and_processes(site):
    check_page_and_health(site)
    deadline = time.time() + 5
    while len(site.imagegw_pids()) != 4:  # max-procs
        assert time.time() < deadline, site.imagegw_pids()
        time.sleep(0.05)


def test_generation_and_its_link_sent_by_lighttpd(site):
    got = check_generate_and_url(site, site.key)
    assert "x-sendfile" not in got.headers
    assert got.header("last-modified") and got.header("accept-ranges") == "bytes", got.headers


def test_fifteen_megabyte_edit(site):
    check_big_edit(site, site.key)


def test_bodies_too_large(site):
    check_too_large(site, site.key)
