"""The numbers in the shipped web-server configs against imagegw's own
defaults (from `imagegw config docs`): every server lets the largest edit
upload through and waits longer than one upstream call may take.  The smoke
tests cannot wait three minutes for a timeout; this keeps the configs honest
when a default moves."""
import re
import subprocess

import pytest

from conftest import BIN, ROOT

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def defaults():
    docs = subprocess.run([BIN, "config", "docs"], capture_output=True, text=True,
                          check=True).stdout
    out = {}
    for key in ("upstream_timeout_seconds", "max_upload_mb", "max_body_bytes"):
        m = re.search(rf"^\| `{key}` \|[^|]*\|[^|]*\| `(\d+)` \|", docs, re.M)
        assert m, key
        out[key] = int(m.group(1))
    # an edit: 14 images and a mask of max_upload_mb, and 1 MiB of fields
    out["largest_upload"] = 15 * out["max_upload_mb"] * MIB + MIB
    return out


def read(path):
    with open(f"{ROOT}/deploy/{path}") as f:
        return "\n".join(line.split("#")[0] for line in f.read().splitlines())


def one(pattern, text, what):
    found = re.findall(pattern, text, re.M)
    assert len(found) == 1, (what, found)
    return int(found[0])


def test_apache(defaults):
    for name in ("apache/imagegw.conf", "apache/cgi.conf"):
        conf = read(name)
        limit = one(r"^\s*LimitRequestBody (\d+)", conf, name)
        assert limit >= defaults["largest_upload"], name
        if name == "apache/imagegw.conf":
            assert one(r"^\s*FcgidMaxRequestLen (\d+)", conf, name) > limit
            # the 413 from Content-Length is at the same limit
            assert one(r"^\s*RewriteCond %\{HTTP:Content-Length\} -gt(\d+)", conf, name) == limit
            assert one(r"^\s*FcgidIOTimeout (\d+)", conf, name) > defaults[
                "upstream_timeout_seconds"]
            assert one(r"^\s*FcgidBusyTimeout (\d+)", conf, name) > defaults[
                "upstream_timeout_seconds"]


def test_nginx(defaults):
    conf = read("nginx/imagegw.conf")
    assert one(r"^\s*client_max_body_size (\d+)m;", conf, "body") * MIB >= \
        defaults["largest_upload"]
    for d in ("fastcgi_read_timeout", "fastcgi_send_timeout"):
        assert one(rf"^\s*{d} (\d+)s;", conf, d) > defaults["upstream_timeout_seconds"]
    assert re.search(r"^\s*fastcgi_request_buffering on;", conf, re.M)
    unit = read("nginx/imagegw.service")
    assert re.search(r"^Restart=always$", unit, re.M)
    # multiwatch's -s is broken in Debian 12 (-s TERM sends SIGQUIT): its
    # default, SIGUSR1, is what imagegw stops gracefully on
    assert re.search(r"^ExecStart=/usr/bin/spawn-fcgi -n .* /usr/bin/multiwatch -f \d+ -- ",
                     unit, re.M)


def test_lighttpd(defaults):
    for name in ("lighttpd/imagegw.conf.in", "lighttpd/production.conf", "lighttpd/cgi.conf"):
        conf = read(name)
        kib = one(r"^\s*server\.max-request-size = (\d+)", conf, name)
        assert kib * 1024 >= defaults["largest_upload"], name
        if "cgi" not in name:
            assert one(r'"read-timeout" => (\d+)', conf, name) > defaults[
                "upstream_timeout_seconds"]
            assert re.search(r'"x-sendfile" => "enable"', conf)
