"""GET /v1/files/{sha256}.{ext}?exp=&sig= (SPEC 2.6): signed links to cached
blobs, streamed by imagegw or sent by the web server (X-Sendfile), and every way a
link can be forged, expired or aimed outside cache_dir."""
import hashlib
import hmac
import os
import sqlite3
import struct
import subprocess
import time
import zlib

from conftest import BIN, assert_error

SECRET = "files-test-secret"


def png_bytes(w=3, h=2, seed=7):
    """A real (tiny, RGB) PNG, different for each seed."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))
    rows = b"".join(b"\x00" + bytes((seed * 31 + x * 7 + y * 13) & 255
                                    for x in range(w * 3)) for y in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def put_blob(gw, data, ext="png"):
    """Stores data as the content-addressed blob cache_dir/ab/cdef....ext."""
    sha = hashlib.sha256(data).hexdigest()
    d = os.path.join(gw.cache_dir, sha[:2])
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"{sha[2:]}.{ext}"), "wb") as f:
        f.write(data)
    return sha


def sign(path, exp, secret=SECRET):
    return hmac.new(secret.encode(), f"{path}|{exp}".encode(), hashlib.sha256).hexdigest()


def signed(path, ttl=600, secret=SECRET, exp=None):
    exp = int(time.time()) + ttl if exp is None else exp
    return f"{path}?exp={exp}&sig={sign(path, exp, secret)}"


def gw_with_blob(make_gateway, settings=None):
    gw = make_gateway({"url_secret": SECRET, **(settings or {})})
    data = png_bytes()
    sha = put_blob(gw, data)
    return gw, data, sha


def test_streams_the_exact_bytes(make_gateway):
    gw, data, sha = gw_with_blob(make_gateway)
    r = gw.get(signed(f"/v1/files/{sha}.png", ttl=600))
    assert r.status == 200, r
    assert r.body == data
    assert r.header("content-type") == "image/png"
    assert r.header("content-length") == str(len(data))
    assert r.header("etag") == f'"{sha}"'
    cc = r.header("cache-control")
    assert cc.startswith("private, max-age="), cc
    assert 590 <= int(cc.split("=")[1]) <= 600, cc
    assert r.header("x-request-id")


def test_head_and_conditional_get(make_gateway):
    gw, data, sha = gw_with_blob(make_gateway)
    url = signed(f"/v1/files/{sha}.png")
    r = gw.request("HEAD", url)
    assert r.status == 200, r
    assert r.body == b""
    assert r.header("content-length") == str(len(data))
    assert r.header("etag") == f'"{sha}"'
    for inm in (f'"{sha}"', f'W/"{sha}"', f'"other", "{sha}"', "*"):
        r = gw.get(url, headers={"If-None-Match": inm})
        assert r.status == 304, (inm, r)
        assert r.body == b""
        assert r.header("etag") == f'"{sha}"'
        assert r.header("cache-control").startswith("private, max-age=")
    r = gw.get(url, headers={"If-None-Match": '"' + "0" * 64 + '"'})
    assert r.status == 200 and r.body == data


def test_bad_and_expired_links_are_403(make_gateway):
    gw, data, sha = gw_with_blob(make_gateway)
    path = f"/v1/files/{sha}.png"
    exp = int(time.time()) + 600
    good = sign(path, exp)
    bad_sig = ("0" if good[0] != "0" else "1") + good[1:]
    cases = [
        f"{path}?exp={exp}&sig={bad_sig}",                     # tampered signature
        f"{path}?exp={exp + 1}&sig={good}",                    # tampered expiry
        f"{path}?exp={exp}&sig={sign(path, exp, 'other')}",    # another secret
        f"{path}?exp={exp}&sig={good.upper()}",                # uppercase
        f"{path}?exp={exp}&sig={good[:63]}",                   # short
        f"{path}?exp={exp}",                                   # no sig
        f"{path}?sig={good}",                                  # no exp
        path,                                                  # nothing
        f"{path}?exp={exp}abc&sig={good}",                     # junk exp
        f"{path}?exp={exp}&sig={good}&sig={good}",             # repeated
    ]
    for url in cases:
        r = gw.get(url)
        err = assert_error(r, "IMG_FORBIDDEN")
        assert err["message"] == "The link's signature is not valid.", (url, err)
        assert data not in r.body
    # the signature of another blob does not open this one
    other = hashlib.sha256(b"other").hexdigest()
    r = gw.get(f"{path}?exp={exp}&sig={sign(f'/v1/files/{other}.png', exp)}")
    assert_error(r, "IMG_FORBIDDEN")

    r = gw.get(signed(path, exp=int(time.time()) - 5))
    err = assert_error(r, "IMG_FORBIDDEN")
    assert err["message"] == "The link has expired; ask for a new one."
    assert err["remedy"]


def test_missing_blob_and_wrong_ext_are_404(make_gateway):
    gw, data, sha = gw_with_blob(make_gateway)
    r = gw.get(signed(f"/v1/files/{sha}.jpg"))  # validly signed, no such file
    assert_error(r, "IMG_NOT_FOUND")
    absent = hashlib.sha256(b"never stored").hexdigest()
    r = gw.get(signed(f"/v1/files/{absent}.png"))
    assert_error(r, "IMG_NOT_FOUND")


def test_names_outside_the_pattern_never_reach_the_disk(make_gateway):
    gw, data, sha = gw_with_blob(make_gateway)
    # A file beside cache_dir that a traversal would aim at.
    secret_bytes = b"not-an-image-" + os.urandom(8).hex().encode()
    data_dir = os.path.dirname(gw.cache_dir)
    with open(os.path.join(data_dir, "loot.png"), "wb") as f:
        f.write(secret_bytes)
    rest = sha[2:]
    names = [
        f"../loot.png",
        f"%2e%2e/loot.png",
        f"%2e%2e%2floot.png",
        f"..%2floot.png",
        f"..%2Floot.png",
        f"{sha[:2]}/{rest}.png",             # the on-disk layout itself
        f"{sha}.png/",
        f"{sha.upper()}.png",
        f"{sha[:63]}.png",
        f"{sha}0.png",
        f"{sha}.gif",
        f"{sha}.PNG",
        f"{sha}.png.png",
        f"{sha}.png%00",
        f"{sha}",
        f"{sha}.",
        f"{sha}.png;.jpg",
    ]
    for name in names:
        path = f"/v1/files/{name}"
        # Signed over exactly what was sent, so only the name check can refuse.
        exp = int(time.time()) + 600
        r = gw.get(f"{path}?exp={exp}&sig={sign(path, exp)}")
        assert r.status in (400, 404), (name, r)
        assert secret_bytes not in r.body and data not in r.body, name
        if r.status == 404 and (r.header("content-type") or "").startswith("application/json"):
            assert_error(r, "IMG_NOT_FOUND")
    # traversal that lighttpd resolves before routing
    r = gw.get(f"/v1/files/{sha}.png/../../loot.png")
    assert secret_bytes not in r.body
    # Extra slashes and percent-encoded plain characters are folded (by lighttpd,
    # and slashes by imagegw's routing path too) before the handler sees the
    # name: the result is the real name, so only a signature over the canonical
    # path opens it, and what it opens is that same blob.
    exp = int(time.time()) + 600
    for path in (f"/v1/files//{sha}.png", f"/v1//files/{sha}.png", f"//v1/files/{sha}.png",
                 f"/v1/files/{sha}%2epng", f"/v1/files/%{ord(sha[0]):02x}{sha[1:]}.png"):
        r = gw.get(f"{path}?exp={exp}&sig={sign(path, exp)}")
        assert_error(r, "IMG_FORBIDDEN")
        r = gw.get(f"{path}?exp={exp}&sig={sign(f'/v1/files/{sha}.png', exp)}")
        assert r.status == 200 and r.body == data, (path, r)


def test_x_sendfile_served_by_the_web_server(make_gateway):
    gw, data, sha = gw_with_blob(make_gateway, {"sendfile_header": "X-Sendfile"})
    big = png_bytes(400, 300, seed=3) + os.urandom(300000)  # past the 64 KiB paths
    big_sha = put_blob(gw, big)
    for digest, want in ((sha, data), (big_sha, big)):
        url = signed(f"/v1/files/{digest}.png")
        r = gw.get(url)
        assert r.status == 200, r
        assert r.body == want
        assert r.header("content-length") == str(len(want))
        assert r.header("content-type") == "image/png"
        assert r.header("etag") == f'"{digest}"'
        assert r.header("cache-control").startswith("private, max-age=")
        assert "x-sendfile" not in r.headers  # lighttpd or mod_xsendfile consumes it
        r = gw.request("HEAD", url)
        assert r.status == 200 and r.body == b""
        assert r.header("content-length") == str(len(want))
        r = gw.get(url, headers={"If-None-Match": f'"{digest}"'})
        assert r.status == 304 and r.body == b""
    # the checks still come first
    assert_error(gw.get(f"/v1/files/{sha}.png?exp=1&sig={'0' * 64}"), "IMG_FORBIDDEN")
    assert_error(gw.get(signed(f"/v1/files/{sha}.jpg")), "IMG_NOT_FOUND")


def test_secret_from_the_database(make_gateway):
    """No url_secret configured: the one migration 0002 stored is used."""
    gw = make_gateway({})
    assert gw.get("/healthz").status in (200, 503)
    db = sqlite3.connect(os.path.join(os.path.dirname(gw.cache_dir), "imagegw.db"))
    (secret,) = db.execute("SELECT value FROM meta WHERE key = 'url_secret'").fetchone()
    db.close()
    assert len(secret) == 64
    data = png_bytes(seed=11)
    sha = put_blob(gw, data)
    r = gw.get(signed(f"/v1/files/{sha}.png", secret=secret))
    assert r.status == 200 and r.body == data, r
    assert_error(gw.get(signed(f"/v1/files/{sha}.png", secret=SECRET)), "IMG_FORBIDDEN")


def cgi(gw, uri, extra_env=None):
    """One request through the binary in plain CGI mode; (status, headers, body)."""
    path, _, query = uri.partition("?")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "IMAGEGW_CONFIG": gw.config,
           "GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "GET",
           "REQUEST_URI": uri, "QUERY_STRING": query, "SERVER_PROTOCOL": "HTTP/1.1",
           "ASAN_OPTIONS": f"log_path={gw.asan_dir}/asan-cgi:detect_leaks=1",
           "UBSAN_OPTIONS": f"log_path={gw.asan_dir}/ubsan-cgi:print_stacktrace=1"}
    env.update(extra_env or {})
    out = subprocess.run([BIN, "cgi"], env=env, stdin=subprocess.DEVNULL,
                         capture_output=True, timeout=30).stdout
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(": ")
        headers[k.lower()] = v
    return status, headers, body


def test_under_base_path_and_without_v1(make_gateway):
    """The template's lighttpd routes only /v1/..., so the base_path mount
    (shared hosting) is checked through the CGI face, as Apache would run it."""
    gw, data, sha = gw_with_blob(make_gateway, {"base_path": "/imagegw"})
    canon = f"/v1/files/{sha}.png"
    q = signed(canon).partition("?")[2]
    status, headers, body = cgi(gw, f"/imagegw{canon}?{q}")
    assert status == 200 and body == data, (status, headers)
    assert headers["etag"] == f'"{sha}"'
    # mounted at /v1/ with the prefix stripped: the signature is still over /v1/files/...
    status, headers, body = cgi(gw, f"/imagegw/files/{sha}.png?{q}")
    assert status == 200 and body == data, (status, headers)
    # SCRIPT_NAME + PATH_INFO
    status, _, body = cgi(gw, f"/imagegw{canon}?{q}",
                          {"SCRIPT_NAME": "/imagegw", "PATH_INFO": canon})
    assert status == 200 and body == data
    status, _, _ = cgi(gw, f"/imagegw{canon}?exp=1&sig={'0' * 64}")
    assert status == 403


def test_sendfile_headers_in_cgi(make_gateway):
    gw, data, sha = gw_with_blob(make_gateway, {"sendfile_header": "X-Accel-Redirect",
                                                "sendfile_prefix": "/_imagegw_cache/"})
    status, headers, body = cgi(gw, signed(f"/v1/files/{sha}.png"))
    assert status == 200, (status, headers, body)
    assert headers["x-accel-redirect"] == f"/_imagegw_cache/{sha[:2]}/{sha[2:]}.png"
    assert "content-length" not in headers and body == b""
    assert headers["content-type"] == "image/png"

    gw2, data2, sha2 = gw_with_blob(make_gateway, {"sendfile_header": "X-LIGHTTPD-send-file"})
    status, headers, body = cgi(gw2, signed(f"/v1/files/{sha2}.png"))
    assert status == 200, (status, headers, body)
    assert headers["x-lighttpd-send-file"] == os.path.join(gw2.cache_dir, sha2[:2],
                                                           f"{sha2[2:]}.png")
    assert "content-length" not in headers and body == b""

    # X-Accel-Redirect without a prefix cannot be honoured: the bytes are streamed
    gw3, data3, sha3 = gw_with_blob(make_gateway, {"sendfile_header": "X-Accel-Redirect"})
    status, headers, body = cgi(gw3, signed(f"/v1/files/{sha3}.png"))
    assert status == 200 and body == data3
    assert headers["content-length"] == str(len(data3))
