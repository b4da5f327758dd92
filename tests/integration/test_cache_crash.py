"""A responder killed with SIGKILL in the middle of a cache store leaves no
torn blob under a real name and no index row that is served without its file.

The store of a b64_json miss runs after the reply has gone (produce_settle), so
killing the responder as soon as a large reply has arrived lands inside the
store most of the time: base64 decoding, hashing, writing and fsyncing tens of
megabytes takes tens of milliseconds.  Whatever the timing, the invariants
checked afterwards must hold."""
import glob
import hashlib
import os
import signal
import sqlite3
import time

from conftest import decode_image


def blob_files(cache_dir):
    return [p for p in glob.glob(os.path.join(cache_dir, "??", "*"))
            if not os.path.basename(p).startswith(".tmp-")]


def check_invariants(gateway):
    cache_dir = gateway.cache_dir
    # Every file under a real name holds the bytes its name promises.
    for path in blob_files(cache_dir):
        name = os.path.basename(os.path.dirname(path)) + os.path.basename(path).split(".")[0]
        with open(path, "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == name, f"torn blob {path}"
    # Every index row either has its file or is never served (checked by a request).
    db = sqlite3.connect(os.path.join(gateway.dir, "var", "imagegw.db"))
    rows = db.execute("SELECT key, blob, ext, bytes FROM cache_entries").fetchall()
    db.close()
    return rows


def test_sigkill_during_store_leaves_a_clean_cache(make_gateway, mock):
    g = make_gateway({"gemini_base_url": mock.url, "gemini_api_key": "k",
                      "upstream_timeout_seconds": 30}, max_procs=1)
    prompt = f"crash test {time.time()} mock:bytes=24000000"
    kills = 0
    for attempt in range(3):
        r = g.generate(prompt=f"{prompt} {attempt}", model="gemini-3-pro-image", timeout=60)
        assert r.status == 200, r
        for pid in g.responder_pids():
            os.kill(pid, signal.SIGKILL)
            kills += 1
        check_invariants(g)
        time.sleep(1.2)  # lighttpd respawns the responder within about a second
    assert kills >= 1
    # The next identical requests are served cleanly: a hit with the right bytes,
    # or a miss that regenerates; never an error or a wrong image.
    for attempt in range(3):
        r = g.generate(prompt=f"{prompt} {attempt}", model="gemini-3-pro-image", timeout=60)
        assert r.status == 200, r
        assert r.header("x-imagegw-cache") in ("hit", "miss")
        img = decode_image(r.json()["data"][0])
        assert img[:8] == b"\x89PNG\r\n\x1a\n" and len(img) > 20_000_000
    time.sleep(0.5)
    rows = check_invariants(g)
    for key, blob, ext, size in rows:
        path = os.path.join(g.cache_dir, blob[:2], f"{blob[2:]}.{ext}")
        assert os.path.exists(path) and os.path.getsize(path) == size, "row without its blob"
