"""The content filter (SPEC 6.3) through lighttpd: a listed word or phrase is a
400 IMG_CONTENT_FILTERED before any cache lookup, upstream call or stored row;
folded variants are caught; innocent words that merely contain a listed word
are not."""
import os
import sqlite3

import pytest

from conftest import assert_error

BLOCKED = ["a porn poster", "A PORN poster", "a p0rn poster", "a pörn poster",
           "a p o r n poster", "a p.o.r.n poster", "graphic gore in a hallway"]
INNOCENT = ["a map of Scunthorpe", "a cocktail at sunset", "an assassin's creed fan art",
            "a therapist's office", "grapes on a table", "a cottage in Sussex",
            "shitake mushrooms", "the 1080 bus at night", "a spectrum analysis chart"]


@pytest.fixture(scope="module")
def gw(mock):
    from conftest import Gateway
    g = Gateway({"gemini_base_url": mock.url, "gemini_api_key": "test-key-1",
                 "rate_per_ip": 0})
    assert g.get("/healthz").status == 200  # the responders are up and migrated
    yield g
    problems = g.stop()
    assert not problems, "sanitizer reports:\n" + "\n".join(problems)


def cache_rows(g):
    db = sqlite3.connect(os.path.join(g.dir, "var", "imagegw.db"))
    try:
        return db.execute("SELECT count(*) FROM cache_entries").fetchone()[0]
    finally:
        db.close()


@pytest.mark.parametrize("prompt", BLOCKED)
def test_listed_words_are_refused_before_anything_else(gw, mock, prompt):
    rows = cache_rows(gw)
    r = gw.generate(prompt=prompt, model="gemini-3-pro-image")
    assert_error(r, "IMG_CONTENT_FILTERED", param="prompt")
    assert mock.count() == 0
    assert cache_rows(gw) == rows
    # The message names the list's entry, never echoes the prompt itself.
    msg = r.json()["error"]["message"]
    assert prompt not in msg
    # The request line is written after the reply: wait for this request's.
    rid = r.header("x-request-id")
    (ev,) = gw.wait_log(lambda e: e.get("event") == "request" and e.get("request_id") == rid)
    assert ev["error_code"] == "IMG_CONTENT_FILTERED" and "prompt_hash" in ev
    assert prompt not in gw.log_text()


@pytest.mark.parametrize("prompt", INNOCENT)
def test_innocent_words_pass(gw, mock, prompt):
    r = gw.generate(prompt=prompt, model="gemini-3-pro-image")
    assert r.status == 200, r


def test_filter_off_and_custom_list(make_gateway, mock):
    g = make_gateway({"gemini_base_url": mock.url, "gemini_api_key": "k",
                      "content_filter": "off"})
    assert g.generate(prompt="a porn poster", model="gemini-3-pro-image").status == 200
    listfile = os.path.join(g.dir, "words.txt")
    with open(listfile, "w") as f:
        f.write("# our own list\nbroccoli\nrainbow trout\n")
    g2 = make_gateway({"gemini_base_url": mock.url, "gemini_api_key": "k",
                       "content_filter_file": listfile})
    assert_error(g2.generate(prompt="Broccoli soup"), "IMG_CONTENT_FILTERED", param="prompt")
    assert_error(g2.generate(prompt="a RAINBOW, trout!"), "IMG_CONTENT_FILTERED")
    assert g2.generate(prompt="a porn poster").status == 200  # the built-in list is replaced
