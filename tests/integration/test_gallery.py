"""The gallery (SPEC 2.7) end to end, behind lighttpd with the mock upstream:
generations and jobs recorded as entries (after the reply), no-store requests
left out, newest-first pages with the `before` cursor, `limit` and `before`
validation, the detail with signed links and parameters, who sees what,
gallery_enabled = false, the cache turned off, blobs shared between the
gallery and the cache surviving `imagegw gallery delete` and cache clearing,
and DELETE /v1/gallery/{id}: the caller's own entries only (an admin's: any),
shared blobs kept, hostile ids and other methods answered cleanly."""
import os
import time
import urllib.parse

import pytest

from conftest import Gateway, assert_error, decode_image, fetch_url, run_cli, unique_prompt
from jobutil import GAL_ID, blob_file, cli_lines, create_job, db_rows, wait_job

PNG = b"\x89PNG\r\n\x1a\n"


def settings(mock, **extra):
    s = {"gemini_base_url": mock.url, "gemini_api_key": "test-key-1", "retry_backoff_ms": 20,
         "upstream_timeout_seconds": 10}
    s.update(extra)
    return s


@pytest.fixture(scope="module")
def gw(mock):
    g = Gateway(settings(mock), max_procs=2)
    assert g.get("/healthz").status == 200
    yield g
    problems = g.stop()
    assert not problems, "sanitizer reports:\n" + "\n".join(problems)


def entries(g):
    return db_rows(g, "SELECT count(*) FROM gallery_entries")[0][0]


def wait_entries(g, n, timeout=5.0):
    """The entry is recorded after the reply: wait for it."""
    deadline = time.time() + timeout
    while entries(g) < n and time.time() < deadline:
        time.sleep(0.02)
    return entries(g)


def newest(g, headers=None):
    r = g.get("/v1/gallery?limit=1", headers)
    assert r.status == 200, r
    return r.json()["data"][0]


def test_generation_becomes_an_entry_with_its_images(gw, mock):
    before = entries(gw)
    prompt = unique_prompt("two boats at dawn")
    r = gw.generate(prompt=prompt, model="gemini-3-pro-image-4k-16x9", n=2, quality="hd",
                    style="vivid")
    assert r.status == 200, r
    assert wait_entries(gw, before + 1) == before + 1
    item = newest(gw)
    assert GAL_ID.match(item["id"]) and item["prompt"] == prompt
    assert item["image_count"] == 2 and item["source"] == "generation"
    assert item["job_id"] is None and abs(item["created"] - time.time()) < 30
    assert fetch_url(gw, item["preview_url"]).body == decode_image(r.json()["data"][0])
    d = gw.get(f"/v1/gallery/{item['id']}")
    assert d.status == 200, d
    detail = d.json()
    assert detail["id"] == item["id"] and detail["prompt"] == prompt
    assert detail["quality"] == "hd" and detail["style"] == "vivid"
    assert detail["safety_threshold"] == "OFF"
    assert detail["revised_prompt"] == r.json()["data"][0]["revised_prompt"]
    got = [fetch_url(gw, img["url"]).body for img in detail["images"]]
    assert got == [decode_image(x) for x in r.json()["data"]]
    for img in detail["images"]:
        assert img["model"] == "gemini-3-pro-image-4k-16x9"
        assert img["image_size"] == "4K" and img["aspect_ratio"] == "16:9"
        assert img["mime"] == "image/png" and img["bytes"] > 0 and img["width"] > 0
    # The client's key never reaches the gallery; nor does anything else of
    # the request than what the images are made of.
    assert "test-key-1" not in d.body.decode()


def test_an_edit_becomes_an_entry(gw, mock):
    from test_edits import edit, file_part, png
    before = entries(gw)
    prompt = unique_prompt("paint it blue")
    r = edit(gw, [file_part("image", png(32, 32)), ("prompt", prompt),
                  ("model", "local-preview")])
    assert r.status == 200, r
    assert wait_entries(gw, before + 1) == before + 1
    item = newest(gw)
    assert item["source"] == "edit" and item["prompt"] == prompt
    assert fetch_url(gw, item["preview_url"]).body == decode_image(r.json()["data"][0])


def test_a_partly_failed_generation_keeps_its_images(gw, mock):
    before = entries(gw)
    # Two slots, three attempts each (retry_max = 2): five failures leave one image.
    r = gw.generate(prompt=unique_prompt("half", "mock:fail=503x5"), n=2)
    assert r.status == 200 and len(r.json()["data"]) == 1, r
    assert wait_entries(gw, before + 1) == before + 1
    assert newest(gw)["image_count"] == 1


def test_no_store_requests_are_not_kept(gw, mock):
    before = entries(gw)
    assert gw.generate(prompt=unique_prompt(), cache=False).status == 200
    assert gw.generate(prompt=unique_prompt(),
                       headers={"Cache-Control": "no-store"}).status == 200
    job = create_job(gw, prompt=unique_prompt(), models=["local-preview"], cache=False)
    wait_job(gw, job.json()["id"])
    failed = gw.generate(prompt=unique_prompt("", "mock:status=400"))
    assert failed.status == 400
    # A request that is kept, to know the ones before had their chance.
    assert gw.generate(prompt=unique_prompt()).status == 200
    assert wait_entries(gw, before + 1) == before + 1
    time.sleep(0.3)
    assert entries(gw) == before + 1


def test_a_job_becomes_one_entry(gw, mock):
    before = entries(gw)
    prompt = unique_prompt("a job for the wall", "mock:model_status=flash-image:500")
    r = create_job(gw, prompt=prompt, quality="low",
                   models=["gemini-3-pro-image", "gemini-2.5-flash-image", "local-preview-4x3"])
    job = wait_job(gw, r.json()["id"])
    assert job["status"] == "partial"
    assert entries(gw) == before + 1
    item = newest(gw)
    assert item["source"] == "job" and item["job_id"] == job["id"]
    assert item["prompt"] == prompt and item["image_count"] == 2
    detail = gw.get(f"/v1/gallery/{item['id']}").json()
    assert detail["quality"] == "low"
    assert [img["model"] for img in detail["images"]] == ["gemini-3-pro-image",
                                                          "local-preview-4x3"]
    assert [img["aspect_ratio"] for img in detail["images"]] == ["1:1", "4:3"]
    done = [res for res in job["results"] if res["status"] == "completed"]
    for img, res in zip(detail["images"], done):
        assert fetch_url(gw, img["url"]).body == fetch_url(gw, res["url"]).body


def test_pages_newest_first_with_the_before_cursor(gw):
    for i in range(5):
        n = entries(gw)
        assert gw.generate(prompt=unique_prompt(f"page {i}"), model="local-preview").status == 200
        assert wait_entries(gw, n + 1) == n + 1
    everything = gw.get("/v1/gallery?limit=100").json()
    ids = [e["id"] for e in everything["data"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)
    pages, cursor = [], None
    while True:
        r = gw.get("/v1/gallery?limit=2" + (f"&before={cursor}" if cursor else ""))
        assert r.status == 200, r
        page = r.json()
        assert len(page["data"]) <= 2
        pages.append([e["id"] for e in page["data"]])
        if not page["has_more"]:
            assert page["next"] is None
            break
        assert page["next"] == page["data"][-1]["id"]
        cursor = page["next"]
    flat = [i for p in pages for i in p]
    assert flat == ids
    assert all(len(p) == 2 for p in pages[:-1])
    # Default limit is 20.
    assert len(gw.get("/v1/gallery").json()["data"]) == min(20, len(ids))


@pytest.mark.parametrize("query,param", [
    ("limit=0", "limit"), ("limit=101", "limit"), ("limit=abc", "limit"), ("limit=", "limit"),
    ("limit=-1", "limit"), ("limit=1.5", "limit"), ("limit=+5", "limit"),
    ("before=xyz", "before"), ("before=", "before"),
    ("before=job_01ARZ3NDEKTSV4RRFFQ69G5FAV", "before"),
])
def test_bad_list_parameters_are_400(gw, query, param):
    assert_error(gw.get(f"/v1/gallery?{query}"), "IMG_INVALID_REQUEST", param=param)


@pytest.mark.parametrize("path", ["/v1/gallery/gal_01ARZ3NDEKTSV4RRFFQ69G5FAV",
                                  "/v1/gallery/nothing", "/v1/gallery/../files"])
def test_unknown_entry_is_404(gw, path):
    assert_error(gw.get(path), "IMG_NOT_FOUND")


def two_keys_three_entries(make_gateway, mock, admin_key):
    """A gateway with an admin key and client keys alice and bob; alice has made
    two entries, bob one (in that order).  Returns it, the keys' headers by name
    and the admin's."""
    g = make_gateway(settings(mock, api_key=admin_key))
    keys = {}
    for name in ("alice", "bob"):
        out = run_cli(g, "key", "create", "--name", name)
        keys[name] = {"Authorization": f"Bearer {out.stdout.strip()}"}
    for i, who in enumerate(("alice", "alice", "bob")):
        r = g.generate(prompt=unique_prompt(who), model="local-preview", headers=keys[who])
        assert r.status == 200, r
        assert wait_entries(g, i + 1) == i + 1
    return g, keys, {"Authorization": f"Bearer {admin_key}"}


def test_who_sees_what(make_gateway, mock):
    g, keys, admin = two_keys_three_entries(make_gateway, mock, "adm-gal-secret")
    alice = g.get("/v1/gallery", keys["alice"]).json()["data"]
    bob = g.get("/v1/gallery", keys["bob"]).json()["data"]
    assert len(alice) == 2 and len(bob) == 1
    assert all(e["prompt"].startswith("alice") for e in alice)
    assert len(g.get("/v1/gallery", admin).json()["data"]) == 3
    assert_error(g.get(f"/v1/gallery/{bob[0]['id']}", keys["alice"]), "IMG_NOT_FOUND")
    assert g.get(f"/v1/gallery/{bob[0]['id']}", admin).status == 200
    assert_error(g.get("/v1/gallery"), "IMG_UNAUTHORIZED")
    owners = {o for (o,) in db_rows(g, "SELECT owner FROM gallery_entries")}
    assert all(o.startswith("key:") for o in owners), owners


def test_gallery_turned_off(make_gateway, mock):
    g = make_gateway(settings(mock, gallery_enabled="false"))
    assert g.generate(prompt=unique_prompt()).status == 200
    job = create_job(g, prompt=unique_prompt(), models=["local-preview"])
    assert wait_job(g, job.json()["id"])["status"] == "completed"
    time.sleep(0.3)
    assert entries(g) == 0
    assert cli_lines(g, "gallery", "list") == ["no gallery entries"]
    assert_error(g.get("/v1/gallery"), "IMG_NOT_FOUND")
    off = assert_error(g.get("/v1/gallery/gal_01ARZ3NDEKTSV4RRFFQ69G5FAV"), "IMG_NOT_FOUND")
    gone = assert_error(g.request("DELETE", "/v1/gallery/gal_01ARZ3NDEKTSV4RRFFQ69G5FAV"),
                        "IMG_NOT_FOUND")
    assert gone["message"] == off["message"] and "gallery_enabled" in gone["remedy"]


def test_without_a_cache_the_gallery_keeps_its_own_files(make_gateway, mock):
    g = make_gateway(settings(mock, cache_backend="none"))
    r = g.generate(prompt=unique_prompt("uncached"), n=2)
    assert r.status == 200 and r.header("x-imagegw-cache") == "miss"
    assert wait_entries(g, 1) == 1
    item = newest(g)
    assert fetch_url(g, item["preview_url"]).body == decode_image(r.json()["data"][0])
    assert db_rows(g, "SELECT count(*) FROM cache_entries")[0][0] == 0
    job = wait_job(g, create_job(g, prompt=unique_prompt("uncached job"),
                                 models=["gemini-3-pro-image", "local-preview"]).json()["id"])
    assert job["status"] == "completed"
    assert all(fetch_url(g, res["url"]).body.startswith(PNG) for res in job["results"])
    assert db_rows(g, "SELECT count(*) FROM cache_entries")[0][0] == 0


class Shared:
    """Two entries and a cache row naming one file: the admin generated, then
    bob asked the same (a cache hit that is in no gallery of bob's yet, so it
    is recorded).  first, second: the admin's and bob's entries (list items);
    path: the file."""

    def __init__(self, make_gateway, mock, admin_key, text):
        self.g = g = make_gateway(settings(mock, api_key=admin_key))
        self.admin = {"Authorization": f"Bearer {admin_key}"}
        out = run_cli(g, "key", "create", "--name", "bob")
        self.bob = {"Authorization": f"Bearer {out.stdout.strip()}"}
        self.prompt = unique_prompt(text)
        assert g.generate(prompt=self.prompt, headers=self.admin).status == 200
        assert wait_entries(g, 1) == 1
        self.first = newest(g, self.admin)
        self.path = blob_file(g, self.first["preview_url"])
        assert os.path.exists(self.path)
        r = g.generate(prompt=self.prompt, headers=self.bob)
        assert r.header("x-imagegw-cache") == "hit", r
        assert wait_entries(g, 2) == 2
        self.second = newest(g, self.bob)  # the admin sees both: this is the newest
        assert self.second["id"] != self.first["id"]
        assert blob_file(g, self.second["preview_url"]) == self.path


def test_repeats_are_not_copied_and_delete_keeps_shared_blobs(make_gateway, mock):
    sh = Shared(make_gateway, mock, "adm-del", "shared bytes")
    g, admin, bob, prompt = sh.g, sh.admin, sh.bob, sh.prompt
    first, second, path = sh.first, sh.second, sh.path
    # The same request again: a cache hit whose image is in the caller's
    # gallery already adds no copy (bob's hit, in nobody's gallery of his own
    # yet, was recorded).
    assert g.generate(prompt=prompt, headers=admin).header("x-imagegw-cache") == "hit"
    time.sleep(0.3)
    assert entries(g) == 2

    # Deleting one entry: the cache row and the other entry still use the file.
    out = run_cli(g, "gallery", "delete", first["id"])
    assert out.returncode == 0, out.stderr
    assert os.path.exists(path)
    assert_error(g.get(f"/v1/gallery/{first['id']}", admin), "IMG_NOT_FOUND")
    assert g.generate(prompt=prompt, headers=bob).header("x-imagegw-cache") == "hit"
    # Emptying the cache: the remaining entry still has its file.
    assert g.request("DELETE", "/v1/cache", headers=admin).status == 200
    assert db_rows(g, "SELECT count(*) FROM cache_entries")[0][0] == 0
    assert os.path.exists(path)
    assert fetch_url(g, second["preview_url"]).body.startswith(PNG)
    # The last reference goes: so does the file.
    for e in g.get("/v1/gallery", admin).json()["data"]:
        assert run_cli(g, "gallery", "delete", e["id"]).returncode == 0
    assert not os.path.exists(path)
    assert db_rows(g, "SELECT count(*) FROM cache_blobs")[0][0] == 0
    out = run_cli(g, "gallery", "delete", first["id"])
    assert out.returncode == 1 and "no such entry" in out.stderr


def test_cache_eviction_spares_gallery_images(make_gateway, mock):
    """A 1 MiB cap and 300 kB images.  While the gallery shows them, their
    files are the gallery's: they do not count against the cap and nothing is
    evicted.  Once the entries are deleted, the next store evicts the cache's
    own entries down to 90 % of the cap, files and all."""
    g = make_gateway(settings(mock, cache_max_size_mb=1))
    urls = []
    for i in range(6):
        r = g.generate(prompt=unique_prompt(f"big {i}", "mock:bytes=300000"))
        assert r.status == 200, r
        assert wait_entries(g, i + 1) == i + 1
        urls.append(newest(g)["preview_url"])
    assert db_rows(g, "SELECT count(*) FROM cache_entries")[0][0] == 6
    assert all(fetch_url(g, u).status == 200 for u in urls)
    for e in g.get("/v1/gallery").json()["data"]:
        assert run_cli(g, "gallery", "delete", e["id"]).returncode == 0
    assert all(os.path.exists(blob_file(g, u)) for u in urls)  # the cache still has them
    assert g.generate(prompt=unique_prompt("one more", "mock:bytes=300000")).status == 200
    assert wait_entries(g, 1) == 1
    # 90 % of 1 MiB holds three: the new image and two of the old ones (the
    # least recently used go first; these were all made in the same second).
    assert db_rows(g, "SELECT count(*) FROM cache_entries")[0][0] == 3
    cached = {b for (b,) in db_rows(g, "SELECT blob FROM cache_entries")}
    kept = [os.path.exists(blob_file(g, u)) for u in urls]
    assert sum(kept) == 2, kept
    assert kept == [u.split("/v1/files/")[1][:64] in cached for u in urls]


def test_gallery_max_entries_drops_the_oldest(make_gateway, mock):
    g = make_gateway(settings(mock, gallery_max_entries=3))
    for i in range(5):
        assert g.generate(prompt=unique_prompt(f"keep {i}"), model="local-preview").status == 200
        wait_entries(g, min(i + 1, 3))
        time.sleep(0.05)
    time.sleep(0.2)
    data = g.get("/v1/gallery").json()["data"]
    assert [e["prompt"].split()[1] for e in data] == ["4", "3", "2"]
    lines = cli_lines(g, "gallery", "list")
    assert len(lines) == 3 and all(GAL_ID.match(l.split()[0]) for l in lines)


# ---- DELETE /v1/gallery/{id} ------------------------------------------------------


def delete(g, entry_id, headers=None):
    return g.request("DELETE", f"/v1/gallery/{entry_id}", headers=headers)


def ids(g, headers=None):
    r = g.get("/v1/gallery?limit=100", headers)
    assert r.status == 200, r
    return [e["id"] for e in r.json()["data"]]


def test_delete_own_entries_only_and_admin_any(make_gateway, mock):
    g, keys, admin = two_keys_three_entries(make_gateway, mock, "adm-gal-del")
    alice, bob = ids(g, keys["alice"]), ids(g, keys["bob"])
    assert len(alice) == 2 and len(bob) == 1

    # Another key's entry is as missing as one that never was, and stays.
    theirs = assert_error(delete(g, alice[0], keys["bob"]), "IMG_NOT_FOUND")
    never = assert_error(delete(g, "gal_01ARZ3NDEKTSV4RRFFQ69G5FAV", keys["bob"]),
                         "IMG_NOT_FOUND")
    assert theirs["message"] == never["message"]
    assert ids(g, keys["alice"]) == alice
    assert g.get(f"/v1/gallery/{alice[0]}", keys["alice"]).status == 200
    assert_error(delete(g, alice[0]), "IMG_UNAUTHORIZED")
    assert_error(delete(g, alice[0], {"Authorization": "Bearer igw_nope"}), "IMG_UNAUTHORIZED")
    assert entries(g) == 3

    # The owner deletes: gone from the list and the detail, and a second try is 404.
    r = delete(g, alice[0], keys["alice"])
    assert r.status == 200, r
    assert r.json() == {"id": alice[0], "object": "gallery.deleted", "deleted": True}
    assert r.header("content-type").startswith("application/json")
    assert r.header("cache-control") == "no-store" and r.header("x-request-id")
    assert ids(g, keys["alice"]) == alice[1:]
    assert_error(g.get(f"/v1/gallery/{alice[0]}", keys["alice"]), "IMG_NOT_FOUND")
    assert_error(g.get(f"/v1/gallery/{alice[0]}", admin), "IMG_NOT_FOUND")
    assert_error(delete(g, alice[0], keys["alice"]), "IMG_NOT_FOUND")
    assert entries(g) == 2
    logged = g.wait_log(lambda e: e.get("event") == "request" and e.get("method") == "DELETE"
                        and e.get("status") == 200)
    assert logged and logged[0]["route"] == "/v1/gallery/*", logged

    # An admin deletes anyone's.
    assert delete(g, bob[0], admin).status == 200
    assert ids(g, keys["bob"]) == [] and ids(g, admin) == alice[1:]
    assert entries(g) == 1


def test_anonymous_callers_delete_anonymous_entries(gw):
    before = entries(gw)
    assert gw.generate(prompt=unique_prompt("anon delete"), model="local-preview").status == 200
    assert wait_entries(gw, before + 1) == before + 1
    item = newest(gw)
    assert delete(gw, item["id"]).status == 200
    assert item["id"] not in ids(gw)
    assert entries(gw) == before


def test_anonymous_deletes_need_a_key_where_the_public_is_let_in(make_gateway, mock):
    """allow_anonymous = true opens the gateway to visitors, who share one
    gallery: they may look at it, not delete from it.  A client key (its own
    entries) and the admin key still delete."""
    g = make_gateway(settings(mock, allow_anonymous="true"))
    assert g.generate(prompt=unique_prompt("public"), model="local-preview").status == 200
    assert wait_entries(g, 1) == 1
    item = newest(g)
    err = assert_error(delete(g, item["id"]), "IMG_FORBIDDEN")
    assert "key" in err["remedy"], err
    # a malformed id is refused the same way: nothing is looked up
    assert_error(delete(g, "gal_nope"), "IMG_FORBIDDEN")
    assert entries(g) == 1 and item["id"] in ids(g)
    key = run_cli(g, "key", "create", "--name", "admin", "--admin").stdout.strip()
    assert delete(g, item["id"], {"Authorization": f"Bearer {key}"}).status == 200
    assert entries(g) == 0


def test_delete_keeps_images_others_use(make_gateway, mock):
    """A blob named by another entry, or by a cache row, stays on disk when an
    entry that shows it is deleted over HTTP; it goes with the last reference."""
    sh = Shared(make_gateway, mock, "adm-shared", "shared by two entries and the cache")
    g, admin, bob, prompt = sh.g, sh.admin, sh.bob, sh.prompt
    mine, his, path = sh.first, sh.second, sh.path

    # Bob's entry goes: the admin's entry and the cache row still use the file.
    assert delete(g, his["id"], bob).status == 200
    assert os.path.exists(path)
    assert fetch_url(g, g.get(f"/v1/gallery/{mine['id']}", admin).json()["images"][0]["url"]
                     ).body.startswith(PNG)
    # The admin's entry goes: the cache row alone keeps it.
    assert delete(g, mine["id"], admin).status == 200
    assert entries(g) == 0 and os.path.exists(path)
    blob = mine["preview_url"].split("/v1/files/")[1][:64]
    assert db_rows(g, "SELECT count(*) FROM cache_entries WHERE blob = ?", blob)[0][0] == 1
    r = g.generate(prompt=prompt, headers=admin, response_format="url")
    assert r.header("x-imagegw-cache") == "hit"
    assert fetch_url(g, r.json()["data"][0]["url"]).body.startswith(PNG)
    # Nothing is left that names it once the cache is emptied and the entry that
    # last hit re-recorded is deleted too.
    assert wait_entries(g, 1) == 1
    assert delete(g, newest(g, admin)["id"], admin).status == 200
    assert os.path.exists(path)
    assert g.request("DELETE", "/v1/cache", headers=admin).status == 200
    assert not os.path.exists(path)
    assert db_rows(g, "SELECT count(*) FROM cache_blobs")[0][0] == 0


def test_delete_keeps_a_jobs_images(make_gateway, mock):
    """Without a cache, a job's images are named by its results and its gallery
    entry: deleting the entry leaves the job's links working."""
    g = make_gateway(settings(mock, cache_backend="none"))
    job = wait_job(g, create_job(g, prompt=unique_prompt("a job to keep"),
                                 models=["local-preview", "local-preview-16x9"]).json()["id"])
    assert job["status"] == "completed"
    assert entries(g) == 1
    item = newest(g)
    assert item["job_id"] == job["id"]
    assert delete(g, item["id"]).status == 200
    assert entries(g) == 0
    again = g.get(f"/v1/jobs/{job['id']}").json()
    for res in again["results"]:
        assert os.path.exists(blob_file(g, res["url"]))
        assert fetch_url(g, res["url"]).body.startswith(PNG)


HOSTILE_IDS = [
    "nothing", "gal_", "gal_01ARZ3NDEKTSV4RRFFQ69G5FA", "gal_01ARZ3NDEKTSV4RRFFQ69G5FAVX",
    "gal_01arz3ndektsv4rrffq69g5fav", "gal_81ARZ3NDEKTSV4RRFFQ69G5FAV",
    "job_01ARZ3NDEKTSV4RRFFQ69G5FAV", "gal_" + "0" * 3000,
    urllib.parse.quote("gal_' OR '1'='1", safe=""),
    urllib.parse.quote("gal_01ARZ3NDEKTSV4RRFFQ69G5FAV' OR 1=1; --", safe=""),
    urllib.parse.quote('"; DELETE FROM gallery_entries; --', safe=""),
    urllib.parse.quote("%", safe=""), "gal_01ARZ3NDEKTSV4RRFFQ69G5FA%25",
]


@pytest.mark.parametrize("entry_id", HOSTILE_IDS)
def test_delete_with_a_bad_id_is_404(gw, entry_id):
    before = entries(gw)
    if before == 0:
        assert gw.generate(prompt=unique_prompt("bystander"), model="local-preview").status == 200
        before = wait_entries(gw, 1)
    assert_error(delete(gw, entry_id), "IMG_NOT_FOUND")
    assert entries(gw) == before
    assert gw.get("/v1/gallery?limit=1").status == 200


@pytest.mark.parametrize("path", [
    "/v1/gallery/../gallery", "/v1/gallery/../files", "/v1/gallery/%2E%2E/cache",
    "/v1/gallery/gal_01ARZ3NDEKTSV4RRFFQ69G5FAV/../../cache",
    "/v1/gallery/..%2F..%2Fvar%2Fimagegw.db", "/v1/gallery/gal_01ARZ3NDEKTSV4RRFFQ69G5FAV%2F..%2F..",
    "/v1/gallery/gal_01ARZ3NDEKTSV4RRFFQ69G5FAV%00", "/v1/gallery/%00",
    "/v1/gallery/gal_01ARZ3NDEKTSV4RRFFQ69G5FAV%2Fx",  # Apache: its own 404 for %2F
])
def test_delete_on_a_path_that_leaves_the_gallery_deletes_nothing(gw, path):
    """The web server resolves the dots (and refuses a NUL) first: what is left
    is another route (405; the admin-only cache: 403 on this keyless gateway),
    no route (404), or a path the web server answers itself (400, 404)."""
    before = entries(gw)
    r = gw.request("DELETE", path)
    assert r.status in (400, 403, 404, 405), r
    if r.header("x-request-id"):
        assert r.json()["error"]["code"] in ("IMG_NOT_FOUND", "IMG_METHOD_NOT_ALLOWED",
                                             "IMG_FORBIDDEN")
    assert entries(gw) == before
    assert gw.get("/healthz").status == 200


def test_other_methods_are_405_with_allow(gw):
    before = entries(gw)
    if before == 0:
        assert gw.generate(prompt=unique_prompt("methods"), model="local-preview").status == 200
        wait_entries(gw, 1)
    entry = newest(gw)["id"]
    for method in ("PUT", "POST", "PATCH"):
        r = gw.request(method, f"/v1/gallery/{entry}", body=b"{}",
                       headers={"Content-Type": "application/json"})
        assert r.status == 405, r
        assert r.header("allow") == "GET, HEAD, DELETE", r.headers
        assert r.json()["error"]["code"] == "IMG_METHOD_NOT_ALLOWED"
    r = gw.request("DELETE", "/v1/gallery")
    assert r.status == 405 and r.header("allow") == "GET, HEAD", r
    assert r.json()["error"]["code"] == "IMG_METHOD_NOT_ALLOWED"
    # GET and HEAD on the same path keep working.
    assert gw.get(f"/v1/gallery/{entry}").status == 200
    h = gw.request("HEAD", f"/v1/gallery/{entry}")
    assert h.status == 200 and h.body == b""
    assert entry in ids(gw)
