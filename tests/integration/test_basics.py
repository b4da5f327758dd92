"""Smoke tests: routes, the local renderer, one Gemini round trip."""
import struct

from conftest import decode_image


def test_models_lists_21_pro_variants_and_local(gateway):
    r = gateway.get("/v1/models")
    assert r.status == 200
    ids = [m["id"] for m in r.json()["data"]]
    pro = [i for i in ids if i.startswith("gemini-3-pro-image")]
    assert len(pro) == 21
    assert "gemini-3-pro-image-4k-21x9" in ids
    assert "local-preview" in ids
    assert r.json()["object"] == "list"
    assert all(m["object"] == "model" for m in r.json()["data"])


def test_generation_from_gemini(gateway, mock):
    r = gateway.generate(prompt="a watercolor fox", model="gemini-3-pro-image")
    assert r.status == 200, r
    body = r.json()
    assert len(body["data"]) == 1
    png = decode_image(body["data"][0])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert body["data"][0]["revised_prompt"] == "a watercolor fox"
    assert body["usage"] == {"images": 1, "cached": 0}
    assert r.header("x-request-id")
    sent = mock.requests()[-1]
    assert sent["body"]["generationConfig"]["imageConfig"] == {"aspectRatio": "1:1",
                                                                "imageSize": "2K"}


def test_local_preview_honours_ratio(gateway):
    r = gateway.generate(prompt="a lighthouse", model="local-preview", size="1792x1024")
    assert r.status == 200, r
    png = decode_image(r.json()["data"][0])
    w, h = struct.unpack(">II", png[16:24])
    assert r.header("x-imagegw-aspect-ratio") == "16:9"
    assert abs(w / h - 16 / 9) < 0.05


def test_unknown_route_and_wrong_method(gateway):
    r = gateway.get("/v1/nope")
    assert r.status == 404
    assert r.json()["error"]["code"] == "IMG_NOT_FOUND"
    r = gateway.get("/v1/images/generations")
    assert r.status == 405
    assert "POST" in r.header("allow")
    assert r.json()["error"]["code"] == "IMG_METHOD_NOT_ALLOWED"


def test_healthz(gateway):
    r = gateway.get("/healthz")
    assert r.status == 200
    assert r.json()["status"] == "ok"
