"""Apache on shared hosting (SPEC 11): the layout of docs/deployment.md, with
the binary and its imagegw.conf in ~/imagegw beside ~/public_html, the page
and the shipped deploy/apache/htaccess (as .htaccess) in
~/public_html/imagegw, mounted at /imagegw (base_path), under a virtual host
set up as a shared host's: .htaccess overrides allowed, mod_fcgid at its
defaults, no environment for the program (it finds its config beside it)."""
import os
import shutil

import pytest

from conftest import BIN, WWW, wait_port
from deploytest import (Site, check_generate_and_url, check_keys, check_page_and_health, edit,
                        needs_user, png_of_size, render)

pytestmark = needs_user
PREFIX = "/imagegw"


@pytest.fixture(scope="module")
def site():
    import tempfile
    home = tempfile.mkdtemp(prefix="imagegw-home-")
    os.chmod(home, 0o755)
    app = os.path.join(home, "imagegw")
    public = os.path.join(home, "public_html", "imagegw")
    os.makedirs(app)
    shutil.copytree(WWW, public)
    shutil.copy2(BIN, os.path.join(app, "imagegw"))
    s = Site("htaccess", {"data_dir": os.path.join(app, "var"), "base_path": PREFIX},
             config_path=os.path.join(app, "imagegw.conf"))
    s.home = home

    def start(s):
        # The host's own settings: the sanitizers' variables for every program.
        env = [f"{k}={v}" for k, v in s.sanitizer_env().items()]
        conf = render("apache/render.sh", s.run_dir, str(s.port), os.path.join(app, "imagegw"),
                      public, s.config, "1", s.error_log, s.cache_dir, *env,
                      env={"IMAGEGW_APACHE_SITE": "htaccess",
                           "IMAGEGW_DOCROOT": os.path.dirname(public)})
        s.start(["/usr/sbin/apache2", "-f", conf, "-DFOREGROUND"])
        wait_port(s.port)
        s.key = check_keys(s, PREFIX)

    try:
        s.setup(start)
    except BaseException:
        shutil.rmtree(home, ignore_errors=True)
        raise
    yield s
    problems = s.stop()
    shutil.rmtree(home, ignore_errors=True)
    assert not problems, "sanitizer reports:\n" + "\n".join(problems)


def test_page_and_health(site):
    check_page_and_health(site, PREFIX)
    # nothing of the gateway's own is under the document root
    assert sorted(os.listdir(os.path.join(site.home, "public_html", "imagegw"))) == \
        sorted(os.listdir(WWW) + [".htaccess"])


def test_config_found_beside_the_binary(site):
    assert os.path.exists(os.path.join(site.home, "imagegw", "var", "imagegw.db"))
    assert site.wait_events("request", lambda e: True), "imagegw did not log where its config says"


def test_generation_and_its_link_under_base_path(site):
    # sendfile_header stays none here: imagegw streams the image itself
    got = check_generate_and_url(site, site.key, PREFIX)
    assert got.header("etag")


def test_uploads_within_the_hosts_request_limit(site):
    """A .htaccess cannot raise FcgidMaxRequestLen: a small edit works, one
    over mod_fcgid's default (128 KiB) gets the host's 500, as
    docs/deployment.md warns."""
    r = edit(site, site.key, png_of_size(60 * 1000), PREFIX)
    assert r.status == 200, r
    r = edit(site, site.key, png_of_size(200 * 1000), PREFIX)
    assert r.status == 500 and b'"error"' not in r.body, r
    assert "exceeds MaxRequestLen" in site.text("server-error.log")
