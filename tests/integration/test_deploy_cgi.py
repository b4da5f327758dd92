"""Plain CGI (SPEC 11): one imagegw process per request, under Apache's
mod_cgid on deploy/apache/cgi.conf and under lighttpd's mod_cgi on
deploy/lighttpd/cgi.conf, each rendered by its render script.  Besides the
smoke checks: a query without '=' (which Apache turns into command-line words)
never runs an operator command, and a job started from a CGI request runs."""
import os
import time

import pytest

from conftest import BIN, WWW, wait_port
from deploytest import (ADMIN, Site, check_big_edit, check_generate_and_url, check_keys,
                        check_page_and_health, check_too_large, generate, needs_user, render)

pytestmark = needs_user


@pytest.fixture(scope="module", params=["apache", "lighttpd"])
def site(request):
    def start(s):
        if s.server == "apache":
            env = s.sanitizer_env()
            conf = render("apache/render.sh", s.run_dir, str(s.port), BIN, WWW, s.config, "1",
                          s.error_log, s.cache_dir, *(f"{k}={v}" for k, v in env.items()),
                          env={"IMAGEGW_APACHE_SITE": "cgi"})
            s.start(["/usr/sbin/apache2", "-f", conf, "-DFOREGROUND"])
        else:
            # lighttpd gives CGI programs no variables of its own: sanitizer
            # reports go to stderr, lighttpd's error log (checked at stop).
            conf = render("lighttpd/render-site.sh", "cgi.conf", s.run_dir, str(s.port), BIN,
                          WWW, s.config, s.error_log, s.cache_dir)
            s.start(["lighttpd", "-D", "-f", conf])
        wait_port(s.port)
        s.key = check_keys(s)

    s = Site(f"cgi-{request.param}", {"sendfile_header": "X-Sendfile"})
    s.server = request.param
    s.setup(start)
    yield s
    problems = s.stop()
    assert not problems, "sanitizer reports:\n" + "\n".join(problems)


def test_page_and_health(site):
    check_page_and_health(site)


def test_no_process_outlives_its_request(site):
    for _ in range(3):
        assert generate(site, site.key).status == 200
    deadline = time.time() + 5
    while site.imagegw_pids():
        assert time.time() < deadline, site.imagegw_pids()
        time.sleep(0.05)


def test_generation_and_its_link(site):
    got = check_generate_and_url(site, site.key)
    # X-Sendfile: the server sent the file, imagegw only named it
    assert "x-sendfile" not in got.headers
    if site.server == "apache" and not os.path.exists("/usr/lib/apache2/modules/mod_xsendfile.so"):
        return  # no mod_xsendfile: imagegw's header went out unconsumed
    assert got.header("last-modified"), got.headers


def test_fifteen_megabyte_edit(site):
    check_big_edit(site, site.key)


def test_bodies_too_large(site):
    check_too_large(site, site.key)


def test_query_words_are_not_commands(site):
    """Apache's mod_cgi passes `?cache+clear` as the words `cache clear`:
    the process answers the request and runs no command."""
    assert generate(site, site.key).status == 200
    stats = site.get("/v1/cache/stats", {"Authorization": f"Bearer {ADMIN}"}).json()
    assert stats["entries"] >= 1
    for query in ("cache+clear", "key+create+--name+intruder+--admin", "config+check"):
        r = site.get(f"/v1/models?{query}", {"Authorization": f"Bearer {site.key}"})
        assert r.status == 200 and r.json()["object"] == "list", (query, r)
    assert "intruder" not in site.cli("key", "list").stdout
    after = site.get("/v1/cache/stats", {"Authorization": f"Bearer {ADMIN}"}).json()
    assert after["entries"] == stats["entries"], (stats, after)


def test_a_job_from_a_cgi_request_runs(site):
    """The job's worker is started by the CGI process (then gone): it is a
    command, not another request, even when the query has no '='."""
    r = site.post("/v1/jobs?from-cgi", {"prompt": "a tram in the rain",
                                       "models": ["local-preview", "local-preview-16x9"]},
                  {"Authorization": f"Bearer {site.key}"})
    assert r.status == 202, r
    job = r.json()["id"]
    deadline = time.time() + 20
    while True:
        j = site.get(f"/v1/jobs/{job}", {"Authorization": f"Bearer {site.key}"}).json()
        if j["status"] not in ("queued", "running"):
            break
        assert time.time() < deadline, j
        time.sleep(0.2)
    assert j["status"] == "completed", j
    assert all(x["url"].startswith(site.url + "/v1/files/") for x in j["results"]), j
