"""`imagegw backup PATH` (issue 7) against a running gateway: a consistent copy
taken while responders and another process write, mode 0600, the live
database refused as a target, and a restore (the copy plus the cache
directory) into a fresh data_dir that serves the cached image as a hit."""
import hashlib
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import threading
import time

from conftest import run_cli as cli
from conftest import unique_prompt

WRITER = r"""
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], timeout=10, isolation_level=None)
end = time.time() + float(sys.argv[2])
n = 0
while time.time() < end:
    db.execute("INSERT INTO counters(name, value) VALUES ('backup_test_writer', 1) "
               "ON CONFLICT(name) DO UPDATE SET value = value + 1")
    n += 1
    time.sleep(0.002)
print(n)
"""


def settings(mock, **extra):
    s = {"gemini_base_url": mock.url, "gemini_api_key": "test-key-1", "retry_backoff_ms": 10,
         "upstream_timeout_seconds": 5}
    s.update(extra)
    return s


def settled(g, r):
    rid = r.header("x-request-id")
    assert g.wait_log(lambda e: e.get("event") == "request" and e.get("request_id") == rid,
                      timeout=15), rid
    return r


def db_path(g):
    return os.path.join(g.dir, "var", "imagegw.db")


def writer_count(path):
    db = sqlite3.connect(path, timeout=10)
    try:
        row = db.execute("SELECT value FROM counters WHERE name = 'backup_test_writer'").fetchone()
        return row[0] if row else 0
    finally:
        db.close()


def test_backup_while_writing_then_restore_and_hit(make_gateway, mock, tmp_path):
    g = make_gateway(settings(mock))
    p = unique_prompt("a lighthouse for the backup")
    r = settled(g, g.generate(prompt=p))
    assert r.status == 200 and r.header("x-imagegw-cache") == "miss", r
    image = r.json()["data"][0]["b64_json"]

    # Writers while the copy runs: requests through the gateway (cache stores,
    # metrics flushes) and a process adding to a counter every 2 ms.
    stop = threading.Event()
    served = []

    def traffic():
        while not stop.is_set():
            served.append(g.generate(prompt=unique_prompt("backup traffic")).status)
    t = threading.Thread(target=traffic)
    t.start()
    w = subprocess.Popen([sys.executable, "-c", WRITER, db_path(g), "2.5"],
                         stdout=subprocess.PIPE, text=True)
    time.sleep(0.3)
    during = writer_count(db_path(g))
    target = tmp_path / "copy.db"
    out = cli(g, "backup", str(target), "--step-pages", "1", "--pause-ms", "2")
    after = writer_count(db_path(g))
    writes = int(w.communicate(timeout=30)[0])
    stop.set()
    t.join()
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"backup: {target} ("), out.stdout
    print(f"\n[backup under writes] {out.stdout.strip()}")
    assert writes > 100 and after > during  # the database really was being written
    assert served and set(served) == {200}, served

    # One consistent file: no journal beside it, its own, readable by its owner only.
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert sorted(os.listdir(tmp_path)) == ["copy.db"]
    copy = sqlite3.connect(str(target))
    try:
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        n = copy.execute("SELECT value FROM counters WHERE name = "
                         "'backup_test_writer'").fetchone()[0]
        assert during <= n <= after, (during, n, after)  # one moment inside the run
        ph = hashlib.sha256(p.encode()).hexdigest()[:16]
        assert copy.execute("SELECT count(*) FROM cache_entries WHERE prompt_hash = ?",
                            (ph,)).fetchone()[0] == 1
    finally:
        copy.close()

    # Restore into a fresh data_dir: the database, then the blobs beside it.
    fresh = tmp_path / "restored" / "var"
    os.makedirs(fresh)
    shutil.copy2(target, fresh / "imagegw.db")
    shutil.copytree(g.cache_dir, fresh / "cache")
    g2 = make_gateway(settings(mock, data_dir=str(fresh)))
    calls = mock.count()
    r = g2.generate(prompt=p)
    assert r.status == 200, r
    assert r.header("x-imagegw-cache") == "hit", r.headers
    assert r.json()["data"][0]["b64_json"] == image
    assert mock.count() == calls  # served from the restored cache, no upstream call


def test_backup_refuses_the_live_database(make_gateway, mock, tmp_path):
    g = make_gateway(settings(mock))
    assert g.get("/healthz").status == 200
    live = db_path(g)
    with open(live, "rb") as f:
        head = f.read(100)
    link = tmp_path / "link.db"
    os.symlink(live, link)
    for target in (live, live + "-wal", live + "-shm", os.path.join(g.dir, "var", ".",
                                                                      "imagegw.db"), str(link)):
        out = cli(g, "backup", target)
        assert out.returncode == 1, (target, out.stdout, out.stderr)
        assert "refusing to write over the live database" in out.stderr, out.stderr
    with open(live, "rb") as f:
        assert f.read(100) == head
    assert g.get("/healthz").status == 200
    # a file beside it with another name is fine
    out = cli(g, "backup", live + ".bak")
    assert out.returncode == 0, out.stderr
    os.unlink(live + ".bak")


def test_backup_into_a_directory_and_usage(make_gateway, mock, tmp_path):
    g = make_gateway(settings(mock))
    out = cli(g, "backup", str(tmp_path))
    assert out.returncode == 0, out.stderr
    (name,) = os.listdir(tmp_path)
    assert name.startswith("imagegw-") and name.endswith("Z.db"), name
    # an old copy's WAL beside the target means someone has it open
    target = tmp_path / "again.db"
    (tmp_path / "again.db-wal").write_bytes(b"")
    out = cli(g, "backup", str(target))
    assert out.returncode == 1 and "again.db-wal exists" in out.stderr, out.stderr
    assert not target.exists()
    for args in ([], ["--pause-ms", "1"], [str(target), "--step-pages"],
                 [str(target), "--step-pages", "x"], [str(target), "--nope", "1"]):
        out = cli(g, "backup", *args)
        assert out.returncode == 2 and "usage: imagegw backup" in out.stderr, (args, out.stderr)
    # a directory that does not exist: an error, nothing written
    out = cli(g, "backup", str(tmp_path / "missing" / "x.db"))
    assert out.returncode == 1 and "imagegw backup:" in out.stderr
