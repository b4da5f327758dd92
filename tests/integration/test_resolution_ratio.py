"""SPEC 3.1-3.3: how a request's model, image_size, quality, size and
aspect_ratio become Gemini's imageConfig, the upstream model in the URL, and
the X-Imagegw-Model / -Image-Size / -Aspect-Ratio headers.

Every case checks both sides: the exact imageConfig the mock received and the
headers the client got.  Prompts are made unique per request so a cache can
never answer in place of the upstream."""
import itertools

import pytest

from conftest import assert_error, decode_image

PRO_UPSTREAM = "gemini-3-pro-image-preview"
_seq = itertools.count()


def uniq(prompt="a lighthouse at dusk"):
    return f"{prompt} #{next(_seq)}"


def pro_variant(size, ratio):
    """The X-Imagegw-Model value for the pro family: family, resolution, ratio."""
    return f"gemini-3-pro-image-{size.lower()}-{ratio.replace(':', 'x')}"


def generate_one(gateway, mock, **fields):
    """One successful request that made exactly one upstream call; returns
    (response, the mock's record of that call)."""
    fields.setdefault("prompt", uniq())
    before = mock.count()
    r = gateway.generate(**fields)
    assert r.status == 200, r
    recs = mock.requests()
    assert len(recs) == before + 1, recs
    png = decode_image(r.json()["data"][0])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return r, recs[-1]


def image_config(rec):
    return rec["body"]["generationConfig"]["imageConfig"]


PRO_RATIOS = {"1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"}


def check(gateway, mock, fields, size=None, ratio=None, model_header=None,
          upstream=PRO_UPSTREAM):
    """One request; the imageConfig sent must be exactly {ratio, size} (either
    may be None: then it is only required to be valid) and the headers must
    say the same."""
    r, rec = generate_one(gateway, mock, **fields)
    cfg = image_config(rec)
    assert set(cfg) == {"aspectRatio", "imageSize"}, cfg
    if size is not None:
        assert cfg["imageSize"] == size, (fields, cfg)
    if ratio is not None:
        assert cfg["aspectRatio"] == ratio, (fields, cfg)
    assert cfg["imageSize"] in ("1K", "2K", "4K") and cfg["aspectRatio"] in PRO_RATIOS
    assert r.header("x-imagegw-image-size") == cfg["imageSize"], (fields, r.headers)
    assert r.header("x-imagegw-aspect-ratio") == cfg["aspectRatio"], (fields, r.headers)
    assert r.header("x-imagegw-model") == (
        model_header or pro_variant(cfg["imageSize"], cfg["aspectRatio"])), r.headers
    assert rec["model"] == upstream
    assert rec["path"] == f"/v1beta/models/{upstream}:generateContent"
    return r, rec


# ---- SPEC 3.2: resolution, each rule on its own --------------------------------

RESOLUTION_CASES = [
    # 1. image_size field, case-insensitive
    ({"image_size": "4k"}, "4K"),
    ({"image_size": "4K"}, "4K"),
    ({"image_size": "1k"}, "1K"),
    ({"image_size": "2K"}, "2K"),
    # 2. model suffix
    ({"model": "gemini-3-pro-image-1k"}, "1K"),
    ({"model": "gemini-3-pro-image-2k"}, "2K"),
    ({"model": "gemini-3-pro-image-4k"}, "4K"),
    # 3. quality
    ({"quality": "hd"}, "4K"),
    ({"quality": "high"}, "4K"),
    ({"quality": "HD"}, "4K"),
    ({"quality": "standard"}, "2K"),
    ({"quality": "medium"}, "2K"),
    ({"quality": "low"}, "1K"),
    # quality=auto is not applied: the next rule (size) decides, else the default
    ({"quality": "auto"}, "2K"),
    ({"quality": "auto", "size": "512x512"}, "1K"),
    ({"quality": "auto", "size": "3000x3000"}, "4K"),
    # 4. long edge of an explicit WxH size: > 2048 -> 4K, > 1024 -> 2K, else 1K
    ({"size": "256x256"}, "1K"),
    ({"size": "1024x1024"}, "1K"),
    ({"size": "1025x1025"}, "2K"),
    ({"size": "1024x1025"}, "2K"),
    ({"size": "2048x2048"}, "2K"),
    ({"size": "2049x2049"}, "4K"),
    ({"size": "2048x2049"}, "4K"),
    ({"size": "4096x4096"}, "4K"),
    ({"size": "1024X1024"}, "1K"),
    # size=auto decides nothing
    ({"size": "auto"}, "2K"),
    # a W:H ratio carries no pixel size: the default applies
    ({"size": "16:9"}, "2K"),
    # 5. default_image_size (2K by default)
    ({}, "2K"),
]


@pytest.mark.parametrize("fields,size", RESOLUTION_CASES,
                         ids=[repr(c[0]) for c in RESOLUTION_CASES])
def test_resolution_rule(gateway, mock, fields, size):
    check(gateway, mock, fields, size=size)


# ---- SPEC 3.2: precedence (image_size > suffix > quality > size > default) -------

PRECEDENCE_CASES = [
    # image_size beats the suffix
    ({"image_size": "1K", "model": "gemini-3-pro-image-4k"}, "1K"),
    ({"image_size": "4k", "model": "gemini-3-pro-image-1k"}, "4K"),
    # image_size beats quality and size
    ({"image_size": "2K", "quality": "hd", "size": "4096x4096"}, "2K"),
    ({"image_size": "4K", "quality": "low", "size": "512x512"}, "4K"),
    # suffix beats quality
    ({"model": "gemini-3-pro-image-1k", "quality": "hd"}, "1K"),
    ({"model": "gemini-3-pro-image-4k", "quality": "low"}, "4K"),
    # suffix beats size
    ({"model": "gemini-3-pro-image-4k", "size": "512x512"}, "4K"),
    ({"model": "gemini-3-pro-image-1k", "size": "4096x4096"}, "1K"),
    # quality beats size
    ({"quality": "low", "size": "4096x4096"}, "1K"),
    ({"quality": "hd", "size": "512x512"}, "4K"),
    ({"quality": "standard", "size": "4096x4096"}, "2K"),
    # size beats the default
    ({"size": "512x512"}, "1K"),
]


@pytest.mark.parametrize("fields,size", PRECEDENCE_CASES,
                         ids=[repr(c[0]) for c in PRECEDENCE_CASES])
def test_resolution_precedence(gateway, mock, fields, size):
    check(gateway, mock, fields, size=size)


# ---- SPEC 3.3: aspect ratio ------------------------------------------------------

ASPECT_CASES = [
    # 1. aspect_ratio field
    ({"aspect_ratio": "16:9"}, "16:9"),
    ({"aspect_ratio": "9:16"}, "9:16"),
    ({"aspect_ratio": "21:9"}, "21:9"),
    ({"aspect_ratio": "4:5"}, "4:5"),
    # field beats suffix, field beats size
    ({"aspect_ratio": "9:16", "model": "gemini-3-pro-image-16x9"}, "9:16"),
    ({"aspect_ratio": "4:3", "size": "1792x1024"}, "4:3"),
    ({"aspect_ratio": "1:1", "model": "gemini-3-pro-image-21x9", "size": "1024x1792"}, "1:1"),
    # 2. model suffix, and suffix beats size
    ({"model": "gemini-3-pro-image-16x9"}, "16:9"),
    ({"model": "gemini-3-pro-image-3x4", "size": "1792x1024"}, "3:4"),
    # 3. size: nearest supported ratio in log-ratio
    ({"size": "1792x1024"}, "16:9"),
    ({"size": "1536x1024"}, "3:2"),
    ({"size": "2048x1024"}, "16:9"),
    ({"size": "1024x1792"}, "9:16"),
    ({"size": "1024x1536"}, "2:3"),
    ({"size": "1024x1024"}, "1:1"),
    ({"size": "640x480"}, "4:3"),
    ({"size": "3000x1000"}, "21:9"),
    # W:H form
    ({"size": "16:9"}, "16:9"),
    ({"size": "4:5"}, "4:5"),
    ({"size": "2:1"}, "16:9"),
    ({"size": "32:18"}, "16:9"),
    # auto and nothing: 1:1
    ({"size": "auto"}, "1:1"),
    ({}, "1:1"),
    # a ratio the model does not offer -> the nearest one it does
    ({"aspect_ratio": "7:3"}, "21:9"),
    ({"aspect_ratio": "2:1"}, "16:9"),
    ({"aspect_ratio": "1:4"}, "9:16"),
    ({"aspect_ratio": "8:1"}, "21:9"),
    ({"aspect_ratio": "32:18"}, "16:9"),
]


@pytest.mark.parametrize("fields,ratio", ASPECT_CASES, ids=[repr(c[0]) for c in ASPECT_CASES])
def test_aspect_ratio_rule(gateway, mock, fields, ratio):
    check(gateway, mock, fields, ratio=ratio)


def test_size_decides_both_resolution_and_ratio(gateway, mock):
    check(gateway, mock, {"size": "4096x2304"}, "4K", "16:9")
    check(gateway, mock, {"size": "1792x1024"}, "2K", "16:9")
    check(gateway, mock, {"size": "768x1024"}, "1K", "3:4")


# ---- SPEC 3.1: the model-id suffixes ----------------------------------------------

SUFFIX_CASES = [
    ("gemini-3-pro-image", "2K", "1:1"),
    ("gemini-3-pro-image-1x1", "2K", "1:1"),
    ("gemini-3-pro-image-4x3", "2K", "4:3"),
    ("gemini-3-pro-image-3x4", "2K", "3:4"),
    ("gemini-3-pro-image-16x9", "2K", "16:9"),
    ("gemini-3-pro-image-9x16", "2K", "9:16"),
    ("gemini-3-pro-image-21x9", "2K", "21:9"),
    ("gemini-3-pro-image-2k-4x3", "2K", "4:3"),
    ("gemini-3-pro-image-4k-16x9", "4K", "16:9"),
    ("gemini-3-pro-image-4k-21x9", "4K", "21:9"),
    # accepted but not advertised: either order, N-M spelling, -1k, extra ratios
    ("gemini-3-pro-image-16x9-4k", "4K", "16:9"),
    ("gemini-3-pro-image-9x16-2k", "2K", "9:16"),
    ("gemini-3-pro-image-16-9", "2K", "16:9"),
    ("gemini-3-pro-image-4k-9-16", "4K", "9:16"),
    ("gemini-3-pro-image-21-9-1k", "1K", "21:9"),
    ("gemini-3-pro-image-1k", "1K", "1:1"),
    ("gemini-3-pro-image-1k-4x3", "1K", "4:3"),
    ("gemini-3-pro-image-3x2", "2K", "3:2"),
    ("gemini-3-pro-image-2x3", "2K", "2:3"),
    ("gemini-3-pro-image-5x4", "2K", "5:4"),
    ("gemini-3-pro-image-4x5-4k", "4K", "4:5"),
]


@pytest.mark.parametrize("model,size,ratio", SUFFIX_CASES, ids=[c[0] for c in SUFFIX_CASES])
def test_model_suffix(gateway, mock, model, size, ratio):
    check(gateway, mock, {"model": model}, size, ratio)


ADVERTISED_PRO = {f"gemini-3-pro-image{s}{r}"
                  for s in ("", "-2k", "-4k")
                  for r in ("", "-1x1", "-4x3", "-3x4", "-16x9", "-9x16", "-21x9")}


def test_models_advertise_exactly_the_21_variants(gateway):
    r = gateway.get("/v1/models")
    assert r.status == 200
    ids = [m["id"] for m in r.json()["data"]]
    assert len(ids) == len(set(ids)), "duplicate model ids"
    pro = {i for i in ids if i.startswith("gemini-3-pro-image")}
    assert pro == ADVERTISED_PRO
    # the accepted-only spellings stay out of the list
    for hidden in ("gemini-3-pro-image-3x2", "gemini-3-pro-image-1k",
                   "gemini-3-pro-image-16-9", "gemini-3-pro-image-16x9-4k",
                   "gemini-3-pro-image-5x4", "gemini-3-pro-image-preview"):
        assert hidden not in ids
    assert "gemini-2.5-flash-image" in ids
    assert "gemini-3.1-flash-image-preview" in ids


@pytest.mark.parametrize("model", [
    "gemini-3-pro-image-8k",          # no such resolution
    "gemini-3-pro-image-7x3",         # ratio the family does not have
    "gemini-3-pro-image-4k-2k",       # two resolutions
    "gemini-3-pro-image-16x9-9x16",   # two ratios
    "gemini-3-pro-image-16x9-",       # dangling dash
    "gemini-3-pro-image-16",          # half a ratio
    "gemini-3-pro-imagex",            # not the family
])
def test_bad_suffix_is_unknown_model(gateway, mock, model):
    r = gateway.generate(prompt=uniq(), model=model)
    assert_error(r, "IMG_UNKNOWN_MODEL", param="model")
    assert mock.count() == 0


# ---- SPEC 3.1: other Gemini models and the upstream model id --------------------

def test_pro_family_goes_to_the_preview_model(gateway, mock):
    for model in ("gemini-3-pro-image", "gemini-3-pro-image-4k-16x9", "gemini-3-pro-image-3x2"):
        _, rec = generate_one(gateway, mock, model=model)
        assert rec["model"] == PRO_UPSTREAM
        assert rec["path"] == "/v1beta/models/gemini-3-pro-image-preview:generateContent"


def test_flash_25_sends_no_image_size(gateway, mock):
    r, rec = generate_one(gateway, mock, model="gemini-2.5-flash-image")
    assert rec["model"] == "gemini-2.5-flash-image"
    assert rec["path"] == "/v1beta/models/gemini-2.5-flash-image:generateContent"
    assert image_config(rec) == {"aspectRatio": "1:1"}
    assert r.header("x-imagegw-model") == "gemini-2.5-flash-image"
    assert r.header("x-imagegw-image-size") == "1K"
    assert r.header("x-imagegw-aspect-ratio") == "1:1"


def test_flash_25_ignores_every_resolution_hint(gateway, mock):
    r, rec = generate_one(gateway, mock, model="gemini-2.5-flash-image", image_size="4K",
                          quality="hd", size="3584x2048")
    assert image_config(rec) == {"aspectRatio": "16:9"}
    assert "imageSize" not in image_config(rec)
    assert r.header("x-imagegw-image-size") == "1K"
    assert r.header("x-imagegw-aspect-ratio") == "16:9"


def test_flash_31_passes_through_with_its_own_ratios(gateway, mock):
    r, rec = generate_one(gateway, mock, model="gemini-3.1-flash-image-preview",
                          image_size="4k", aspect_ratio="1:4")
    assert rec["model"] == "gemini-3.1-flash-image-preview"
    assert rec["path"] == "/v1beta/models/gemini-3.1-flash-image-preview:generateContent"
    # 1:4 exists on 3.1 Flash (the pro family would get 9:16)
    assert image_config(rec) == {"aspectRatio": "1:4", "imageSize": "4K"}
    assert r.header("x-imagegw-model") == "gemini-3.1-flash-image-preview"
    assert r.header("x-imagegw-image-size") == "4K"
    assert r.header("x-imagegw-aspect-ratio") == "1:4"


def test_flash_31_defaults(gateway, mock):
    r, rec = generate_one(gateway, mock, model="gemini-3.1-flash-image-preview",
                          size="1792x1024")
    assert image_config(rec) == {"aspectRatio": "16:9", "imageSize": "2K"}
    assert r.header("x-imagegw-image-size") == "2K"


def test_configured_default_size_and_upstream_model(make_gateway, mock):
    g = make_gateway({"gemini_base_url": mock.url, "gemini_api_key": "test-key-1",
                      "default_image_size": "1K",
                      "gemini_pro_image_model": "gemini-3-pro-image-custom"})
    r, rec = generate_one(g, mock)
    assert image_config(rec) == {"aspectRatio": "1:1", "imageSize": "1K"}
    assert rec["model"] == "gemini-3-pro-image-custom"
    assert rec["path"] == "/v1beta/models/gemini-3-pro-image-custom:generateContent"
    assert r.header("x-imagegw-image-size") == "1K"
    assert r.header("x-imagegw-model") == "gemini-3-pro-image-1k-1x1"
    # the configured default is only the last resort
    r, rec = generate_one(g, mock, quality="hd")
    assert image_config(rec)["imageSize"] == "4K"
    r, rec = generate_one(g, mock, size="1792x1024")
    assert image_config(rec) == {"aspectRatio": "16:9", "imageSize": "2K"}
