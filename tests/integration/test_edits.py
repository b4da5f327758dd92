"""POST /v1/images/edits (SPEC 2.2) behind lighttpd, against the mock Gemini:
the upload shapes the OpenAI SDKs, curl and browsers send, the images and mask
as inline parts upstream (read back from the mock's log), the first image's
ratio, the cache, every refusal (not an image, JPEG mask, no prompt, too many
images, a 25 MB file, malformed multipart) and the local-preview model.

The images are real files built here: PNGs with zlib, and JPEG / WebP headers
that core/image.c reads the pixel size from."""
import hashlib
import os
import struct
import time
import zlib

import pytest

from conftest import assert_error, decode_image, fetch_url, unique_prompt

# ---- image files ---------------------------------------------------------------


def png(w, h, rgb=(200, 80, 40), alpha=None):
    """A valid PNG, w x h, one colour (RGBA when alpha is given)."""
    def chunk(tag, data):
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xffffffff))
    px = bytes(rgb) + (bytes([alpha]) if alpha is not None else b"")
    raw = b"".join(b"\0" + px * w for _ in range(h))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 6 if alpha is not None else 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


def jpeg(w, h, tag=b"jfif", orientation=None):
    """A baseline JPEG header: SOI, APP0, SOF0 with the size, EOI; with an
    APP1 Exif segment (big-endian TIFF, as cameras write it) carrying the
    Orientation tag when orientation is given."""
    app0 = b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0" + tag
    sof0 = struct.pack(">BHHB", 8, h, w, 3) + b"\x01\x11\x00\x02\x11\x01\x03\x11\x01"
    seg = lambda m, d: b"\xff" + bytes([m]) + struct.pack(">H", len(d) + 2) + d  # noqa: E731
    exif = b""
    if orientation is not None:
        tiff = b"MM\0*" + struct.pack(">IH", 8, 1) + struct.pack(">HHIHH", 0x0112, 3, 1,
                                                                 orientation, 0)
        exif = seg(0xE1, b"Exif\0\0" + tiff + b"\0\0\0\0")
    return b"\xff\xd8" + seg(0xE0, app0) + exif + seg(0xC0, sof0) + b"\xff\xd9"


def webp(w, h):
    """A lossless (VP8L) WebP header carrying the size."""
    bits = (w - 1) | (h - 1) << 14
    payload = b"\x2f" + struct.pack("<I", bits) + b"\0" * 8
    chunk = b"VP8L" + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def sha(data):
    return hashlib.sha256(data).hexdigest()

# ---- multipart bodies ----------------------------------------------------------


def form(parts, boundary="----imagegwTestBoundary7MA4YWxkTrZu0gW"):
    """parts: (name, value) for a text field, or (name, bytes, filename, type)
    for a file, as httpx (openai-python) and curl send them."""
    out = []
    for p in parts:
        name, value = p[0], p[1]
        value = value.encode() if isinstance(value, str) else value
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"'
        if len(p) > 2:
            head += f'; filename="{p[2]}"\r\nContent-Type: {p[3]}'
        out.append(head.encode() + b"\r\n\r\n" + value + b"\r\n")
    body = b"".join(out) + f"--{boundary}--\r\n".encode()
    return f"multipart/form-data; boundary={boundary}", body


def edit(gw, parts, headers=None, timeout=60, **kw):
    ctype, body = form(parts, **kw)
    h = {"Content-Type": ctype}
    h.update(headers or {})
    return gw.post("/v1/images/edits", body, h, timeout)


def file_part(name, data, filename="in.png", ctype="application/octet-stream"):
    return (name, data, filename, ctype)


def gen_calls(mock):
    return [r for r in mock.requests() if r["path"].endswith(":generateContent")]


MODEL = "gemini-3-pro-image"

# ---- what goes upstream --------------------------------------------------------


def test_single_image(gateway, mock):
    img = png(64, 64)
    prompt = unique_prompt("make the sky purple")
    r = edit(gateway, [file_part("image", img), ("prompt", prompt), ("model", MODEL)])
    assert r.status == 200, r
    body = r.json()
    assert set(body) == {"created", "data", "usage"}
    assert len(body["data"]) == 1 and body["usage"] == {"images": 1, "cached": 0}
    assert decode_image(body["data"][0]).startswith(b"\x89PNG")
    assert body["data"][0]["revised_prompt"] == prompt
    assert r.header("x-imagegw-cache") == "miss"
    assert r.header("x-imagegw-model") == "gemini-3-pro-image-2k-1x1"
    assert r.header("x-imagegw-aspect-ratio") == "1:1"
    assert r.header("x-imagegw-image-size") == "2K"
    calls = gen_calls(mock)
    assert len(calls) == 1
    parts = calls[0]["parts"]
    assert [i["kind"] for i in parts["items"]] == ["text", "inline"]
    assert calls[0]["body"]["contents"][0]["parts"][0]["text"] == prompt
    inline = parts["items"][1]
    assert inline["mimeType"] == "image/png" and inline["data_sniffed"] == "image/png"
    assert inline["data_len"] == len(img) and inline["data_sha256"] == sha(img)
    assert not parts["text_mentions_mask"]


def test_image_list_png_jpeg_webp_in_order(gateway, mock):
    """openai-python sends a list of files as repeated image[] parts."""
    files = [png(40, 40), jpeg(40, 40), webp(40, 40)]
    r = edit(gateway, [("prompt", unique_prompt("blend these")), ("model", MODEL),
                       file_part("image[]", files[0], "a.png", "image/png"),
                       file_part("image[]", files[1], "b.jpg", "image/jpeg"),
                       file_part("image[]", files[2], "c.webp", "image/webp")])
    assert r.status == 200, r
    parts = gen_calls(mock)[0]["parts"]
    assert parts["inline_count"] == 3 and parts["count"] == 4
    inline = [i for i in parts["items"] if i["kind"] == "inline"]
    assert [i["mimeType"] for i in inline] == ["image/png", "image/jpeg", "image/webp"]
    assert [i["data_sha256"] for i in inline] == [sha(f) for f in files]
    assert [i["data_len"] for i in inline] == [len(f) for f in files]
    assert not parts["text_mentions_mask"]


def test_declared_type_is_not_trusted(gateway, mock):
    """The mime type sent upstream is sniffed from the bytes: a JPEG labelled
    image/png (and named .png) goes as image/jpeg."""
    data = jpeg(30, 20, b"liar")
    r = edit(gateway, [file_part("image", data, "photo.png", "image/png"),
                       ("prompt", unique_prompt("sharpen")), ("model", MODEL)])
    assert r.status == 200, r
    inline = gen_calls(mock)[0]["parts"]["items"][1]
    assert inline["mimeType"] == "image/jpeg" and inline["data_sha256"] == sha(data)


def test_numbered_image_names(gateway, mock):
    """image1, image2 (other gateways' spelling) and image[0] are images too."""
    a, b, c = png(20, 20, (1, 2, 3)), png(20, 20, (4, 5, 6)), png(20, 20, (7, 8, 9))
    r = edit(gateway, [file_part("image1", a), file_part("image2", b),
                       file_part("image[2]", c), ("prompt", unique_prompt("merge")),
                       ("model", MODEL)])
    assert r.status == 200, r
    inline = [i for i in gen_calls(mock)[0]["parts"]["items"] if i["kind"] == "inline"]
    assert [i["data_sha256"] for i in inline] == [sha(a), sha(b), sha(c)]


def test_mask_is_sent_as_an_image_and_explained(gateway, mock):
    img, mask = png(48, 48), png(48, 48, (0, 0, 0), alpha=0)
    r = edit(gateway, [file_part("image", img), file_part("mask", mask, "mask.png", "image/png"),
                       ("prompt", unique_prompt("add a moon")), ("model", MODEL)])
    assert r.status == 200, r
    parts = gen_calls(mock)[0]["parts"]
    assert parts["count"] == 4 and parts["inline_count"] == 2
    items = parts["items"]
    assert [i["kind"] for i in items] == ["text", "inline", "text", "inline"]
    assert items[1]["data_sha256"] == sha(img)
    assert items[3]["data_sha256"] == sha(mask) and items[3]["mimeType"] == "image/png"
    # The words that say what the mask is come right before it.
    assert parts["text_mentions_mask"] and items[2]["mentions_mask"]
    assert not items[0]["mentions_mask"]
    text = gen_calls(mock)[0]["body"]["contents"][0]["parts"][2]["text"]
    assert "transparent" in text and "first image" in text


# ---- the aspect ratio (SPEC 3.3) -------------------------------------------------


@pytest.mark.parametrize("w,h,fields,want", [
    (320, 180, [], "16:9"),                        # 4. the first image's ratio
    (180, 320, [], "9:16"),
    (300, 200, [], "3:2"),
    (100, 100, [], "1:1"),
    (320, 180, [("size", "auto")], "16:9"),        # auto: not applied
    (320, 180, [("size", "1024x1024")], "1:1"),    # 3. size wins over the image
    (320, 180, [("aspect_ratio", "3:4")], "3:4"),  # 1. the field wins over all
])
def test_ratio_from_first_image(gateway, mock, w, h, fields, want):
    first, second = png(w, h), png(h, w, (9, 9, 9))
    r = edit(gateway, [file_part("image[]", first), file_part("image[]", second),
                       ("prompt", unique_prompt("restyle")), ("model", MODEL), *fields])
    assert r.status == 200, r
    assert r.header("x-imagegw-aspect-ratio") == want
    sent = gen_calls(mock)[0]["body"]["generationConfig"]["imageConfig"]["aspectRatio"]
    assert sent == want


@pytest.mark.parametrize("orientation,want", [(1, "4:3"), (6, "3:4"), (8, "3:4"), (3, "4:3")])
def test_ratio_follows_the_photo_as_shown(gateway, mock, orientation, want):
    """A phone stores a portrait photo as landscape pixels with an Exif note
    to turn it a quarter (orientations 5-8): the ratio is the one people see,
    and so is the size a mask must have."""
    photo = jpeg(640, 480, orientation=orientation)
    r = edit(gateway, [file_part("image", photo, "photo.jpg", "image/jpeg"),
                       ("prompt", unique_prompt("turned")), ("model", MODEL)])
    assert r.status == 200, r
    assert r.header("x-imagegw-aspect-ratio") == want
    if want == "3:4":
        r = edit(gateway, [file_part("image", photo, "photo.jpg", "image/jpeg"),
                           file_part("mask", png(640, 480, (0, 0, 0), alpha=0)),
                           ("prompt", unique_prompt("turned")), ("model", MODEL)])
        assert "480x640" in assert_error(r, "IMG_INVALID_REQUEST", "mask")["message"]


def test_model_suffix_ratio_wins_over_image(gateway, mock):
    r = edit(gateway, [file_part("image", png(320, 180)), ("prompt", unique_prompt("x")),
                       ("model", "gemini-3-pro-image-4k-9x16")])
    assert r.status == 200, r
    assert r.header("x-imagegw-aspect-ratio") == "9:16"
    assert r.header("x-imagegw-image-size") == "4K"


# ---- the cache -------------------------------------------------------------------


def test_cache_hit_for_the_same_edit_miss_for_other_inputs(gateway, mock):
    prompt = unique_prompt("paint it gold")
    a, b = png(32, 32, (10, 20, 30)), png(32, 32, (10, 20, 31))
    mask = png(32, 32, (0, 0, 0), alpha=0)

    def go(*files):
        return edit(gateway, [*files, ("prompt", prompt), ("model", MODEL)])

    first = go(file_part("image", a))
    assert first.status == 200 and first.header("x-imagegw-cache") == "miss", first
    assert len(gen_calls(mock)) == 1
    # The store happens after the reply: wait for it to land.
    deadline = time.time() + 5
    while True:
        again = go(file_part("image", a))
        assert again.status == 200, again
        if again.header("x-imagegw-cache") == "hit" or time.time() > deadline:
            break
        time.sleep(0.1)
    assert again.header("x-imagegw-cache") == "hit"
    assert again.json()["usage"] == {"images": 1, "cached": 1}
    assert again.json()["data"][0]["b64_json"] == first.json()["data"][0]["b64_json"]
    calls = len(gen_calls(mock))
    # Another input image (one byte of colour apart), the same one with a mask,
    # or the same one twice: each a different edit.
    for files in ([file_part("image", b)], [file_part("image", a), file_part("mask", mask)],
                  [file_part("image[]", a), file_part("image[]", a)]):
        r = go(*files)
        assert r.status == 200 and r.header("x-imagegw-cache") == "miss", r
        calls += 1
        assert len(gen_calls(mock)) == calls


# ---- refusals --------------------------------------------------------------------


def test_part_that_is_not_an_image(gateway, mock):
    r = edit(gateway, [file_part("image[]", png(20, 20)),
                       file_part("image[]", b"hello, I am text pretending", "b.png", "image/png"),
                       ("prompt", "p"), ("model", MODEL)])
    assert_error(r, "IMG_INVALID_REQUEST", "image[1]")
    assert "not an image" in r.json()["error"]["message"]
    r = edit(gateway, [file_part("image", b"GIF89a" + b"\0" * 40, "a.gif", "image/gif"),
                       ("prompt", "p")])
    assert_error(r, "IMG_INVALID_REQUEST", "image")
    r = edit(gateway, [file_part("image", png(20, 20)),
                       file_part("mask", b"%PDF-1.4 not a mask at all", "m.png", "image/png"),
                       ("prompt", "p")])
    assert_error(r, "IMG_INVALID_REQUEST", "mask")
    # A PNG signature with nothing readable after it.
    r = edit(gateway, [file_part("image", b"\x89PNG\r\n\x1a\n" + b"\0" * 8), ("prompt", "p")])
    assert_error(r, "IMG_INVALID_REQUEST", "image")
    assert gen_calls(mock) == []


def test_mask_must_be_png(gateway, mock):
    r = edit(gateway, [file_part("image", png(20, 20)),
                       file_part("mask", jpeg(20, 20), "mask.png", "image/png"),
                       ("prompt", "p"), ("model", MODEL)])
    err = assert_error(r, "IMG_INVALID_REQUEST", "mask")
    assert "PNG" in err["message"]
    r = edit(gateway, [file_part("image", png(20, 20)), file_part("mask", png(20, 20)),
                       file_part("mask", png(20, 20)), ("prompt", "p")])
    assert_error(r, "IMG_INVALID_REQUEST", "mask")
    assert gen_calls(mock) == []


def test_mask_must_match_the_image_and_be_transparent(gateway, mock):
    """A mask marks pixels of the first image: another size, or a PNG with no
    transparency, is a 400 naming the mask, before any upstream call."""
    r = edit(gateway, [file_part("image", png(20, 20)),
                       file_part("mask", png(20, 10, (0, 0, 0), alpha=0)),
                       ("prompt", "p"), ("model", MODEL)])
    err = assert_error(r, "IMG_INVALID_REQUEST", "mask")
    assert "20x10" in err["message"] and "20x20" in err["message"], err
    r = edit(gateway, [file_part("image", jpeg(64, 48)), file_part("image", png(20, 20)),
                       file_part("mask", png(20, 20, (0, 0, 0), alpha=0)),
                       ("prompt", "p"), ("model", MODEL)])
    err = assert_error(r, "IMG_INVALID_REQUEST", "mask")
    assert "64x48" in err["message"], err
    r = edit(gateway, [file_part("image", png(20, 20)), file_part("mask", png(20, 20)),
                       ("prompt", "p"), ("model", MODEL)])
    err = assert_error(r, "IMG_INVALID_REQUEST", "mask")
    assert "transparen" in err["message"], err
    assert gen_calls(mock) == []


def test_prompt_and_image_are_required(gateway, mock):
    r = edit(gateway, [file_part("image", png(20, 20)), ("model", MODEL)])
    assert_error(r, "IMG_INVALID_PROMPT", "prompt")
    r = edit(gateway, [file_part("image", png(20, 20)), ("prompt", "   ")])
    assert_error(r, "IMG_INVALID_PROMPT", "prompt")
    r = edit(gateway, [("prompt", "an edit of nothing"), ("model", MODEL)])
    assert_error(r, "IMG_INVALID_REQUEST", "image")
    assert gen_calls(mock) == []


def test_text_fields_follow_the_generation_rules(gateway, mock):
    base = [file_part("image", png(20, 20)), ("prompt", unique_prompt("two takes")),
            ("model", MODEL)]
    for name, value in [("n", "abc"), ("n", "0"), ("n", "2.5"), ("quality", "ultra"),
                        ("size", "huge"), ("image_size", "3K"), ("style", "noir"),
                        ("response_format", "png"), ("seed", "1e3")]:
        assert_error(edit(gateway, base + [(name, value)]), "IMG_INVALID_REQUEST", name)
    assert_error(edit(gateway, base + [("safety_level", "extreme")]),
                 "IMG_INVALID_REQUEST", "safety_threshold")
    assert gen_calls(mock) == []
    # The same fields, valid, as text: n=2 makes two upstream calls with the
    # images in each; the rest reach the request sent upstream.
    r = edit(gateway, base + [("n", "2"), ("quality", "HD"), ("size", "1792x1024"),
                              ("safety_threshold", "medium"), ("seed", "42"), ("user", "u1")])
    assert r.status == 200, r
    assert len(r.json()["data"]) == 2
    calls = gen_calls(mock)
    assert len(calls) == 2 and all(c["parts"]["inline_count"] == 1 for c in calls)
    gc = calls[0]["body"]["generationConfig"]
    assert gc["imageConfig"] == {"aspectRatio": "16:9", "imageSize": "4K"}
    assert gc["seed"] == 42
    assert {s["threshold"] for s in calls[0]["body"]["safetySettings"]} == {
        "BLOCK_MEDIUM_AND_ABOVE"}


def test_fifteen_images_are_refused(gateway, mock):
    files = [file_part("image[]", png(8, 8, (i, i, i)), f"{i}.png", "image/png")
             for i in range(15)]
    r = edit(gateway, [("prompt", "too many"), ("model", MODEL), *files])
    err = assert_error(r, "IMG_INVALID_REQUEST", "image")
    assert "14" in err["message"]
    # Fourteen and a mask is the most an edit takes.
    r = edit(gateway, [("prompt", unique_prompt("just enough")), ("model", MODEL), *files[:14],
                       file_part("mask", png(8, 8, (0, 0, 0), alpha=0))])
    assert r.status == 200, r
    assert gen_calls(mock)[0]["parts"]["inline_count"] == 15


def test_file_under_another_name_is_refused(gateway, mock):
    r = edit(gateway, [file_part("image", png(8, 8)), file_part("picture", png(8, 8)),
                       ("prompt", "p")])
    assert_error(r, "IMG_INVALID_REQUEST", "picture")


@pytest.mark.parametrize("ctype,body", [
    # no closing boundary
    ("multipart/form-data; boundary=abc",
     b'--abc\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nhi\r\n'),
    # the body's boundary is not the one announced
    ("multipart/form-data; boundary=abc",
     b'--xyz\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nhi\r\n--xyz--\r\n'),
    # a boundary that is not a valid RFC 2046 one
    ("multipart/form-data; boundary=" + "x" * 71,
     b'--' + b"x" * 71 + b'\r\n\r\n--' + b"x" * 71 + b'--\r\n'),
    ("multipart/form-data", b"--abc--\r\n"),
    ("application/json", b'{"prompt": "p"}'),
    ("application/x-www-form-urlencoded", b"prompt=p"),
    ("", b"prompt=p"),
    # a part without a name, bare LF line endings
    ("multipart/form-data; boundary=abc",
     b'--abc\r\nContent-Disposition: form-data\r\n\r\nhi\r\n--abc--\r\n'),
    ("multipart/form-data; boundary=abc",
     b'--abc\nContent-Disposition: form-data; name="prompt"\n\nhi\n--abc--\n'),
])
def test_malformed_multipart(gateway, mock, ctype, body):
    headers = {"Content-Type": ctype} if ctype else {}
    r = gateway.post("/v1/images/edits", body, headers)
    assert_error(r, "IMG_INVALID_REQUEST")
    assert gen_calls(mock) == []


# ---- sizes -------------------------------------------------------------------------


def big_png(n):
    """n bytes that start as a PNG: the limit is on bytes, not pixels."""
    head = png(16, 16)
    return head + os.urandom(n - len(head))


@pytest.fixture(scope="module")
def one_proc(mock):
    """One responder, so the request after a refused upload goes to the very
    process that refused it."""
    from conftest import Gateway
    g = Gateway({"gemini_base_url": mock.url, "gemini_api_key": "test-key-1",
                 "upstream_timeout_seconds": 5}, max_procs=1)
    yield g
    problems = g.stop()
    assert not problems, "sanitizer reports:\n" + "\n".join(problems)


def test_25_mb_file_over_20_mb_limit_is_413_quickly(one_proc, mock):
    data = big_png(25 * 1000 * 1000)
    t = time.time()
    r = edit(one_proc, [("prompt", "p"), ("model", MODEL), file_part("image", data)],
             timeout=30)
    took = time.time() - t
    err = assert_error(r, "IMG_PAYLOAD_TOO_LARGE", "image")
    assert str(20 * 1024 * 1024) in err["message"]
    assert "max_upload_mb" in err["remedy"]
    assert took < 10, took
    assert gen_calls(mock) == []
    # The same responder answers the next request at once: nothing was left
    # hanging between lighttpd and imagegw.
    t = time.time()
    ok = edit(one_proc, [file_part("image", png(20, 20)), ("prompt", unique_prompt("after")),
                         ("model", MODEL)], timeout=10)
    assert ok.status == 200, ok
    assert time.time() - t < 5
    # One of a list is named by its place in it.
    r = edit(one_proc, [("prompt", "p"), file_part("image[]", png(8, 8)),
                        file_part("image[]", data)], timeout=30)
    assert_error(r, "IMG_PAYLOAD_TOO_LARGE", "image[1]")
    log = one_proc.wait_log(lambda e: e.get("event") == "request" and e.get("status") == 413)
    assert log and all(e["route"] == "/v1/images/edits" for e in log)


def test_file_at_the_limit_is_accepted(one_proc, mock):
    data = big_png(20 * 1024 * 1024)
    r = edit(one_proc, [("prompt", unique_prompt("big but fine")), ("model", MODEL),
                        file_part("image", data)], timeout=60)
    assert r.status == 200, r
    inline = gen_calls(mock)[0]["parts"]["items"][1]
    assert inline["data_len"] == len(data) and inline["data_sha256"] == sha(data)


def test_fifteen_megabytes_with_a_client_key(make_gateway, mock):
    """Three 5 MB images under a client key: the body passes the web server's
    limits (mod_fcgid's default would answer 500 past 128 KiB) and the key in
    Authorization reaches imagegw (Apache drops it unless told to pass it)."""
    from conftest import run_cli
    g = make_gateway({"gemini_base_url": mock.url, "gemini_api_key": "k",
                      "api_key": "admin-secret"}, max_procs=1)
    key = run_cli(g, "key", "create", "--name", "uploader").stdout.strip()
    assert key.startswith("igw_"), key
    images = [big_png(5 * 1000 * 1000 + i) for i in range(3)]
    parts = [("prompt", unique_prompt("three big ones")), ("model", MODEL)]
    parts += [file_part("image[]", data) for data in images]
    assert_error(edit(g, parts), "IMG_UNAUTHORIZED")
    r = edit(g, parts, {"Authorization": f"Bearer {key}"})
    assert r.status == 200, r
    inline = [p for p in gen_calls(mock)[0]["parts"]["items"] if "data_len" in p]
    assert [(p["data_len"], p["data_sha256"]) for p in inline] == \
        [(len(d), sha(d)) for d in images]
    [line] = g.wait_log(lambda e: e.get("event") == "request" and e.get("status") == 200)
    assert line["client"] == "key:uploader" and line["route"] == "/v1/images/edits"


def test_body_over_the_web_servers_limit_is_refused_at_once(gateway):
    """The servers' own limits (lighttpd's max-request-size, Apache's
    LimitRequestBody) sit above the largest edit imagegw takes: a body
    announced larger is refused from its Content-Length, before it is sent."""
    import socket
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as s:
        s.sendall(b"POST /v1/images/edits HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  b"Content-Type: multipart/form-data; boundary=b\r\n"
                  b"Authorization: Bearer nobody\r\n"
                  b"Content-Length: 400000000\r\n\r\n--b\r\n")
        head = s.recv(65536).split(b"\r\n")[0]
    assert head.split()[1] == b"413", head


def test_body_announced_too_large_is_refused_unread(make_gateway, mock):
    """With max_upload_mb = 1 a whole upload is at most 15 MiB + 1 MiB: a body
    announced larger is refused from CONTENT_LENGTH before any of it is parsed
    (the rest is read and discarded), and the responder goes on serving."""
    gw = make_gateway({"gemini_base_url": mock.url, "gemini_api_key": "k",
                       "max_upload_mb": 1}, max_procs=1)
    for size in (20 * 1000 * 1000, 40 * 1000 * 1000):
        t = time.time()
        r = edit(gw, [("prompt", "p"), file_part("image", big_png(size))], timeout=30)
        err = assert_error(r, "IMG_PAYLOAD_TOO_LARGE", None)
        assert "The upload is" in err["message"], err
        assert time.time() - t < 10
        ok = edit(gw, [file_part("image", png(20, 20)), ("prompt", unique_prompt("next")),
                       ("model", MODEL)], timeout=10)
        assert ok.status == 200, ok
    # Under the total but one file over 1 MiB: refused while reading.
    r = edit(gw, [("prompt", "p"), file_part("image", big_png(1024 * 1024 + 1))])
    assert_error(r, "IMG_PAYLOAD_TOO_LARGE", "image")


def test_refused_before_reading_leaves_the_responder_clean(make_gateway, mock):
    """A 401 is decided before the handler reads anything: the 5 MB upload
    behind it is discarded, and the same responder serves the next request."""
    gw = make_gateway({"gemini_base_url": mock.url, "gemini_api_key": "k",
                       "api_key": "admin-secret"}, max_procs=1)
    parts = [("prompt", unique_prompt("auth")), ("model", MODEL),
             file_part("image", big_png(5 * 1000 * 1000))]
    assert_error(edit(gw, parts), "IMG_UNAUTHORIZED")
    r = edit(gw, parts, {"Authorization": "Bearer admin-secret"})
    assert r.status == 200, r
    assert gen_calls(mock)[0]["parts"]["inline_count"] == 1


# ---- answers -------------------------------------------------------------------------


def test_response_format_url(gateway, mock):
    r = edit(gateway, [file_part("image", png(20, 20)), ("prompt", unique_prompt("as a link")),
                       ("model", MODEL), ("response_format", "url")])
    assert r.status == 200, r
    item = r.json()["data"][0]
    assert "b64_json" not in item and item["url"].startswith(gateway.url + "/v1/files/")
    got = fetch_url(gateway, item["url"])
    assert got.status == 200 and got.body.startswith(b"\x89PNG")


def test_partial_failure_keeps_the_answer_shape(gateway, mock):
    """n = 2 with the first call refused: 200 with one image and "errors"."""
    prompt = unique_prompt("flaky", "mock:fail=400x1")
    r = edit(gateway, [file_part("image", png(20, 20)), ("prompt", prompt), ("model", MODEL),
                       ("n", "2")])
    assert r.status == 200, r
    body = r.json()
    assert len(body["data"]) == 1 and len(body["errors"]) == 1
    assert body["usage"]["images"] == 1


def test_upstream_block_is_the_generations_error(gateway, mock):
    r = edit(gateway, [file_part("image", png(20, 20)),
                       ("prompt", unique_prompt("blocked", "mock:image_safety")),
                       ("model", MODEL)])
    assert_error(r, "IMG_SAFETY_BLOCKED")


def test_content_filter_applies(gateway, mock):
    r = edit(gateway, [file_part("image", png(20, 20)), ("prompt", "a porn poster"),
                       ("model", MODEL)])
    assert_error(r, "IMG_CONTENT_FILTERED", "prompt")
    assert gen_calls(mock) == []


def test_local_preview_edits(gateway, mock):
    a, b = png(320, 180, (1, 1, 1)), png(320, 180, (2, 2, 2))
    prompt = unique_prompt("preview this")
    headers = {"Cache-Control": "no-store"}

    def go(img):
        r = edit(gateway, [file_part("image", img), ("prompt", prompt),
                           ("model", "local-preview")], headers)
        assert r.status == 200, r
        return r
    ra, ra2, rb = go(a), go(a), go(b)
    assert ra.header("x-imagegw-model") == "local-preview-16x9"
    assert ra.header("x-imagegw-aspect-ratio") == "16:9"
    img_a = decode_image(ra.json()["data"][0])
    assert img_a.startswith(b"\x89PNG")
    # Deterministic for the same inputs, different for different inputs.
    assert decode_image(ra2.json()["data"][0]) == img_a
    assert decode_image(rb.json()["data"][0]) != img_a
    # And different from a generation of the same prompt.
    g = gateway.generate(prompt=prompt, model="local-preview", size="16:9", headers=headers)
    assert g.status == 200 and decode_image(g.json()["data"][0]) != img_a
    assert gen_calls(mock) == []


def test_openai_python_upload_shape(gateway, mock):
    """What openai-python (httpx) sends for images.edit(image=[f1, f2],
    mask=m): a random hex boundary, image[] parts with filenames and a type
    guessed from the name, the text fields without a filename."""
    boundary = os.urandom(16).hex()
    a, m = png(64, 32), png(64, 32, (0, 0, 0), alpha=0)
    w = jpeg(64, 32)
    parts = [("image[]", a, "a.png", "image/png"), ("image[]", w, "b.jpg", "image/jpeg"),
             ("mask", m, "mask.png", "image/png"), ("prompt", unique_prompt("sdk shape")),
             ("model", MODEL), ("n", "1"), ("response_format", "b64_json"),
             ("size", "1536x1024")]
    r = edit(gateway, parts, boundary=boundary)
    assert r.status == 200, r
    assert r.header("x-imagegw-aspect-ratio") == "3:2"
    items = gen_calls(mock)[0]["parts"]["items"]
    assert [i.get("data_sha256") for i in items if i["kind"] == "inline"] == [
        sha(a), sha(w), sha(m)]


def test_openai_node_upload_shape(gateway, mock):
    """What the official openai-node SDK (v7) sends, captured from it: the
    body chunked (no Content-Length), a boundary "openai-<random>", the text
    fields first, every file application/octet-stream, a list as image[]."""
    import http.client
    boundary = "openai-" + os.urandom(6).hex()
    a, b, m = png(90, 60), webp(90, 60), png(90, 60, (0, 0, 0), alpha=0)
    ctype, body = form([("model", MODEL), ("prompt", unique_prompt("node sdk")),
                        ("image[]", a, "a.png", "application/octet-stream"),
                        ("image[]", b, "b.bin", "application/octet-stream"),
                        ("mask", m, "mask.png", "application/octet-stream"),
                        ("n", "2"), ("response_format", "b64_json")], boundary=boundary)
    conn = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=60)
    pieces = [body[i:i + 4096] for i in range(0, len(body), 4096)]
    conn.request("POST", "/v1/images/edits", body=iter(pieces),
                 headers={"Content-Type": ctype, "Transfer-Encoding": "chunked"},
                 encode_chunked=True)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    assert resp.status == 200, data[:300]
    assert resp.getheader("x-imagegw-aspect-ratio") == "3:2"
    calls = gen_calls(mock)
    assert len(calls) == 2
    inline = [i for i in calls[0]["parts"]["items"] if i["kind"] == "inline"]
    assert [(i["mimeType"], i["data_sha256"]) for i in inline] == [
        ("image/png", sha(a)), ("image/webp", sha(b)), ("image/png", sha(m))]


def test_curl_upload_shape(gateway, mock):
    """curl -F image=@in.png -F prompt=...: a boundary of dashes and hex, and
    Content-Type: image/png from the file name."""
    boundary = "------------------------" + os.urandom(8).hex()
    img = png(40, 30)
    r = edit(gateway, [("image", img, "in.png", "image/png"),
                       ("prompt", unique_prompt("curl")), ("model", MODEL)],
             boundary=boundary)
    assert r.status == 200, r
    assert r.header("x-imagegw-aspect-ratio") == "4:3"


def test_edits_route_methods(gateway):
    r = gateway.get("/v1/images/edits")
    assert r.status == 405 and "POST" in r.header("allow"), r
    r = gateway.request("DELETE", "/v1/images/edits")
    assert r.status == 405, r


def test_request_log_line(gateway, mock):
    prompt = unique_prompt("logged")
    r = edit(gateway, [file_part("image", png(20, 20)), ("prompt", prompt), ("model", MODEL)])
    assert r.status == 200, r
    rid = r.header("x-request-id")
    ev = gateway.wait_log(lambda e: e.get("event") == "request" and e.get("request_id") == rid)
    assert ev and ev[0]["route"] == "/v1/images/edits" and ev[0]["status"] == 200
    assert ev[0]["model"] == MODEL and ev[0]["provider"] == "gemini"


def test_edit_through_the_openai_provider(make_gateway, mock):
    """An edit for gpt-image-1 reaches the OpenAI-compatible upstream as its own
    multipart upload, every file intact and the mask as a mask part."""
    g = make_gateway({"openai_base_url": mock.url, "retry_backoff_ms": 20,
                      "upstream_timeout_seconds": 5}, env={"OPENAI_API_KEY": "sk-edit-1"})
    a, b, m = png(64, 64, (9, 9, 9)), jpeg(64, 64), png(64, 64, alpha=0)
    r = edit(g, [file_part("image[]", a), file_part("image[]", b, "b.jpg"),
                 file_part("mask", m, "mask.png"), ("prompt", unique_prompt("swap the sky")),
                 ("model", "gpt-image-1"), ("n", "2")])
    assert r.status == 200, r
    data = r.json()["data"]
    assert len(data) == 2 and all(decode_image(d)[:4] == b"\x89PNG" for d in data)
    calls = [c for c in mock.requests() if c.get("provider") == "openai"]
    assert len(calls) == 2 and all(c["path"] == "/v1/images/edits" for c in calls)
    for c in calls:
        sent = [(p["name"], p["data_sha256"]) for p in c["parts"]]
        assert sent == [("image[]", sha(a)), ("image[]", sha(b)), ("mask", sha(m))], sent
        assert c["body"]["model"] == "gpt-image-1" and c["body"]["n"] == "1"
        assert c["headers"]["authorization"] == "Bearer sk-edit-1"
    # dall-e-3 cannot edit: refused before any call.
    mock.reset()
    r = edit(g, [file_part("image", a), ("prompt", "x"), ("model", "dall-e-3")])
    assert r.status == 400, r
    assert mock.requests() == []
