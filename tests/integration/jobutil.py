"""Helpers shared by the job and gallery integration tests: create a job, poll
it until it is final, wait for its worker to exit (so its sanitizer report, if
any, is written before the gateway is stopped), read rows from the gateway's
database."""
import json
import os
import re
import sqlite3
import time

from conftest import run_cli

JOB_ID = re.compile(r"^job_[0-9A-HJKMNP-TV-Z]{26}$")
GAL_ID = re.compile(r"^gal_[0-9A-HJKMNP-TV-Z]{26}$")
FINAL = {"completed", "partial", "failed"}


def db_rows(g, sql, *args):
    db = sqlite3.connect(os.path.join(g.dir, "var", "imagegw.db"), timeout=10)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def create_job(g, headers=None, **fields):
    return g.post("/v1/jobs", fields, headers)


def get_job(g, job_id, headers=None):
    return g.get(f"/v1/jobs/{job_id}", headers)


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def worker_pid(g, job_id, timeout=10.0):
    """The worker's pid, once it has recorded it."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        rows = db_rows(g, "SELECT worker_pid FROM jobs WHERE id = ?", job_id)
        if rows and rows[0][0]:
            return rows[0][0]
        time.sleep(0.02)
    raise AssertionError(f"{job_id}: no worker pid after {timeout}s")


def wait_worker_gone(g, job_id, timeout=10.0):
    rows = db_rows(g, "SELECT worker_pid FROM jobs WHERE id = ?", job_id)
    pid = rows[0][0] if rows else 0
    deadline = time.time() + timeout
    while pid and pid_alive(pid) and time.time() < deadline:
        time.sleep(0.02)
    assert not (pid and pid_alive(pid)), f"worker {pid} of {job_id} still running"


def wait_job(g, job_id, headers=None, timeout=30.0, interval=0.05):
    """Polls GET /v1/jobs/{id} until the job is final; returns its JSON."""
    deadline = time.time() + timeout
    while True:
        r = get_job(g, job_id, headers)
        assert r.status == 200, r
        body = r.json()
        if body["status"] in FINAL:
            wait_worker_gone(g, job_id)
            return body
        assert time.time() < deadline, f"{job_id} not final after {timeout}s: {body}"
        time.sleep(interval)


def cli_lines(g, *args):
    out = run_cli(g, *args)
    assert out.returncode == 0, (out.stdout, out.stderr)
    return [line for line in out.stdout.splitlines() if line.strip()]


def url_path(g, url):
    assert url.startswith(g.url + "/"), url
    return url[len(g.url):]


def blob_file(g, url):
    """The cache file a signed /v1/files/ link points at."""
    name = url.split("/v1/files/")[1].split("?")[0]
    return os.path.join(g.cache_dir, name[:2], name[2:])


def dumps(obj):
    return json.dumps(obj, indent=1, sort_keys=True)
