"""Live calls to Google's Gemini API (`make test-live`): at most 2 images, at
1K.  Skipped unless IMAGEGW_LIVE_GEMINI_KEY is set; never part of `make test`
or CI, which talk only to the mock on 127.0.0.1."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from conftest import Gateway, decode_image  # noqa: E402

KEY = os.environ.get("IMAGEGW_LIVE_GEMINI_KEY")
pytestmark = pytest.mark.skipif(
    not KEY, reason="IMAGEGW_LIVE_GEMINI_KEY is not set: no live calls to Google")


@pytest.fixture(scope="module")
def live():
    g = Gateway({"gemini_api_key": KEY, "upstream_timeout_seconds": 120, "retry_max": 0})
    yield g
    g.stop()


def test_models_lists_gemini(live):
    ids = [m["id"] for m in live.get("/v1/models").json()["data"]]
    assert "gemini-3-pro-image" in ids


def test_one_image_1k(live):
    r = live.generate(prompt="A small red apple on a white table, studio light",
                      model="gemini-3-pro-image", image_size="1K", timeout=150)
    assert r.status == 200, r.body[:500]
    img = decode_image(r.json()["data"][0])
    assert img[:3] in (b"\x89PN", b"\xff\xd8\xff") or img[8:12] == b"WEBP"
    assert r.header("x-imagegw-image-size") == "1K"


def test_one_image_16x9_1k(live):
    r = live.generate(prompt="A calm mountain lake at dawn", model="gemini-3-pro-image-16x9",
                      image_size="1K", timeout=150)
    assert r.status == 200, r.body[:500]
    assert r.header("x-imagegw-aspect-ratio") == "16:9"
