"""Jobs (SPEC 2.4) end to end, behind lighttpd with the mock upstream and ONE
FastCGI responder: a job over three models (one Gemini model that answers,
one the mock fails, the offline renderer) polled until it is partial, with
signed links to real images; the responder answering other requests while a
job's models wait on a slow upstream; a killed worker reaped on the next read
and by `imagegw jobs reap`; the content filter, rate limits and the daily
image budget refusing before any job row exists; a second identical job
served from the cache; validation naming models[i]; who may read a job; the
CGI face with base_path."""
import itertools
import json
import os
import re
import signal
import subprocess
import time

import pytest

from conftest import BIN, Gateway, assert_error, fetch_url, run_cli, unique_prompt
from jobutil import (JOB_ID, cli_lines, create_job, db_rows, get_job, wait_job,
                     wait_worker_gone, worker_pid)

PNG = b"\x89PNG\r\n\x1a\n"
_seq = itertools.count()


def settings(mock, **extra):
    s = {"gemini_base_url": mock.url, "gemini_api_key": "test-key-1", "retry_backoff_ms": 20,
         "upstream_timeout_seconds": 10}
    s.update(extra)
    return s


@pytest.fixture(scope="module")
def gw(mock):
    # One responder: a request that waited on a job would be seen at once.
    g = Gateway(settings(mock), max_procs=1)
    assert g.get("/healthz").status == 200
    yield g
    problems = g.stop()
    assert not problems, "sanitizer reports:\n" + "\n".join(problems)


def test_three_models_partial_with_real_images(gw, mock):
    prompt = unique_prompt("a lighthouse in fog", "mock:model_status=flash-image:500")
    models = ["gemini-3-pro-image", "gemini-2.5-flash-image", "local-preview"]
    t = time.perf_counter()
    r = create_job(gw, prompt=prompt, models=models, size="16:9")
    assert r.status == 202, r
    body = r.json()
    assert JOB_ID.match(body["id"]), body
    assert body["status"] == "queued" and body["object"] == "job"
    assert body["status_url"] == f"/v1/jobs/{body['id']}"
    assert body["models"] == models
    assert r.header("location") == f"{gw.url}/v1/jobs/{body['id']}"

    job = wait_job(gw, body["id"])
    elapsed_ms = (time.perf_counter() - t) * 1000
    assert job["status"] == "partial", job
    assert job["id"] == body["id"] and job["prompt"] == prompt
    assert job["completed"] >= job["created"] > 0
    assert [res["model"] for res in job["results"]] == models
    pro, flash, local = job["results"]
    for res in (pro, local):
        assert res["status"] == "completed", res
        assert res["error"] is None and res["cached"] is False
        assert isinstance(res["duration_ms"], int) and 0 <= res["duration_ms"] <= elapsed_ms
        assert res["aspect_ratio"] == "16:9"
        img = fetch_url(gw, res["url"])
        assert img.status == 200 and img.body.startswith(PNG), img
        assert img.header("content-type") == "image/png"
    assert pro["image_size"] == "2K" and local["width"] > local["height"]
    assert flash["status"] == "failed" and flash["url"] is None
    assert flash["error"]["code"] == "IMG_UPSTREAM_ERROR", flash
    assert flash["error"]["message"]
    assert isinstance(flash["duration_ms"], int)
    # The failing model was retried (retry_max = 2); the others asked once.
    calls = [c["model"] for c in mock.requests()]
    assert calls.count("gemini-3-pro-image-preview") == 1
    assert calls.count("gemini-2.5-flash-image") == 3
    # The whole job was one request's work: the upstream attempts carry its id.
    events = gw.wait_log(lambda e: e.get("event") == "job" and
                         e.get("request_id") == body["id"])
    assert events and events[-1]["status"] == "partial"
    ups = [e for e in gw.log_events("upstream") if e.get("request_id") == body["id"]]
    assert len(ups) == 4


def test_a_job_across_gemini_openai_and_local(make_gateway, mock):
    """One prompt on three providers at once; the OpenAI-compatible upstream
    refuses its key, so that model fails and the job is partial."""
    g = make_gateway(settings(mock, openai_base_url=mock.url, retry_max=0),
                     env={"OPENAI_API_KEY": "invalid-openai-key-1"})
    models = ["gemini-3-pro-image", "gpt-image-1", "local-preview"]
    r = create_job(g, prompt=unique_prompt("three providers"), models=models)
    assert r.status == 202, r
    job = wait_job(g, r.json()["id"])
    assert job["status"] == "partial", job
    gemini, openai, local = job["results"]
    for res in (gemini, local):
        assert res["status"] == "completed", res
        assert fetch_url(g, res["url"]).body.startswith(PNG)
    assert openai["status"] == "failed" and openai["error"]["code"] == "IMG_UPSTREAM_AUTH"
    providers = {c.get("provider", "gemini") for c in mock.requests()}
    assert providers == {"gemini", "openai"}
    # And with a good key the same three models all complete.
    g2 = make_gateway(settings(mock, openai_base_url=mock.url),
                      env={"OPENAI_API_KEY": "sk-good-1"})
    r = create_job(g2, prompt=unique_prompt("three providers ok"), models=models)
    job = wait_job(g2, r.json()["id"])
    assert job["status"] == "completed", job
    assert all(fetch_url(g2, res["url"]).status == 200 for res in job["results"])


def test_models_run_in_parallel_and_the_responder_stays_free(gw, mock):
    """The mock holds every Gemini call for 2 s; the one responder answers the
    POST at once and other requests while the job runs; results arrive one by
    one; the job takes one delay, not three."""
    prompt = unique_prompt("three delayed ships", "mock:delay=2")
    models = ["gemini-3-pro-image", "gemini-3-pro-image-4k", "gemini-2.5-flash-image",
              "local-preview"]
    t0 = time.perf_counter()
    r = create_job(gw, prompt=prompt, models=models)
    created_s = time.perf_counter() - t0
    assert r.status == 202, r
    assert created_s < 1.0, f"POST /v1/jobs took {created_s:.2f}s"
    job_id = r.json()["id"]
    # The same (only) responder answers while the job's models wait.
    t1 = time.perf_counter()
    assert gw.get("/v1/models").status == 200
    assert gw.get("/healthz").status == 200
    assert time.perf_counter() - t1 < 1.0
    # Results are written as they arrive: the renderer's is there long
    # before the Gemini calls return.
    seen_partial = None
    deadline = time.time() + 1.5
    while time.time() < deadline:
        j = get_job(gw, job_id).json()
        states = [res["status"] for res in j["results"]]
        if states[3] == "completed" and "running" in states[:3]:
            seen_partial = j
            break
        time.sleep(0.05)
    assert seen_partial, "no poll showed the local result while Gemini models ran"
    assert seen_partial["status"] == "running" and seen_partial["completed"] is None
    job = wait_job(gw, job_id)
    total = time.perf_counter() - t0
    assert job["status"] == "completed", job
    assert all(res["duration_ms"] >= 2000 for res in job["results"][:3])
    assert total < 2 * 2.0, f"4 models with a 2 s upstream took {total:.2f}s (not parallel?)"


def test_second_identical_job_comes_from_the_cache(gw, mock):
    prompt = unique_prompt("a cached orchard")
    models = ["gemini-3-pro-image-1x1", "local-preview"]
    first = wait_job(gw, create_job(gw, prompt=prompt, models=models).json()["id"])
    assert first["status"] == "completed"
    assert [res["cached"] for res in first["results"]] == [False, False]
    calls = mock.count()
    second = wait_job(gw, create_job(gw, prompt=prompt, models=models).json()["id"])
    assert second["status"] == "completed"
    assert [res["cached"] for res in second["results"]] == [True, True]
    assert mock.count() == calls  # nothing went upstream
    for a, b in zip(first["results"], second["results"]):
        assert fetch_url(gw, a["url"]).body == fetch_url(gw, b["url"]).body
    # A generation of the same prompt and model hits the entry the job stored.
    g = gw.generate(prompt=prompt, model="gemini-3-pro-image-1x1")
    assert g.status == 200 and g.header("x-imagegw-cache") == "hit"


def test_no_store_job_bypasses_the_cache_and_keeps_its_images(gw, mock):
    prompt = unique_prompt("a private sketch")
    entries = db_rows(gw, "SELECT count(*) FROM cache_entries")[0][0]
    job = wait_job(gw, create_job(gw, prompt=prompt, models=["gemini-3-pro-image"],
                                  cache=False).json()["id"])
    assert job["status"] == "completed" and job["results"][0]["cached"] is False
    assert fetch_url(gw, job["results"][0]["url"]).body.startswith(PNG)
    assert db_rows(gw, "SELECT count(*) FROM cache_entries")[0][0] == entries
    again = wait_job(gw, create_job(gw, prompt=prompt, models=["gemini-3-pro-image"]).json()["id"])
    assert again["results"][0]["cached"] is False  # nothing was cached the first time


@pytest.mark.parametrize("fields,code,param", [
    ({"models": ["local-preview", "no-such-model"]}, "IMG_UNKNOWN_MODEL", "models[1]"),
    ({"models": ["local-preview", "LOCAL-PREVIEW"]}, "IMG_INVALID_REQUEST", "models[1]"),
    ({"models": ["local-preview", 7]}, "IMG_INVALID_REQUEST", "models[1]"),
    ({"models": ["local-preview", ""]}, "IMG_INVALID_REQUEST", "models[1]"),
    ({"models": "local-preview"}, "IMG_INVALID_REQUEST", "models"),
    ({"models": []}, "IMG_INVALID_REQUEST", "models"),
    ({"models": ["local-preview-%dx1" % (i + 1) for i in range(11)]},
     "IMG_INVALID_REQUEST", "models"),
    ({"n": 2}, "IMG_INVALID_REQUEST", "n"),
    ({"size": "big"}, "IMG_INVALID_REQUEST", "size"),
    ({"quality": "ultra"}, "IMG_INVALID_REQUEST", "quality"),
    ({"safety_threshold": "NONE"}, "IMG_INVALID_REQUEST", "safety_threshold"),
    ({"prompt": "   "}, "IMG_INVALID_PROMPT", "prompt"),
])
def test_bad_requests_name_the_field_and_store_nothing(gw, fields, code, param):
    before = db_rows(gw, "SELECT count(*) FROM jobs")[0][0]
    body = {"prompt": unique_prompt(), "models": ["local-preview"]}
    body.update(fields)
    r = create_job(gw, **body)
    assert_error(r, code, param=param)
    assert db_rows(gw, "SELECT count(*) FROM jobs")[0][0] == before


def test_defaults_to_job_models_and_single_model(gw):
    r = create_job(gw, prompt=unique_prompt("defaults"))
    assert r.status == 202 and r.json()["models"] == ["local-preview"], r
    wait_job(gw, r.json()["id"])
    r = create_job(gw, prompt=unique_prompt("one model"), model="local-preview-9x16")
    assert r.status == 202 and r.json()["models"] == ["local-preview-9x16"], r
    job = wait_job(gw, r.json()["id"])
    assert job["results"][0]["aspect_ratio"] == "9:16"


@pytest.mark.parametrize("path", ["/v1/jobs/job_01ARZ3NDEKTSV4RRFFQ69G5FAV",
                                  "/v1/jobs/nope", "/v1/jobs/job_01arz3ndektsv4rrffq69g5fav",
                                  "/v1/jobs/job_01ARZ3NDEKTSV4RRFFQ69G5FAV/x"])
def test_unknown_job_is_404(gw, path):
    assert_error(gw.get(path), "IMG_NOT_FOUND")


def test_job_routes_methods(gw):
    r = gw.get("/v1/jobs")
    assert r.status == 405 and r.header("allow") == "POST", r
    r = gw.post("/v1/jobs/job_01ARZ3NDEKTSV4RRFFQ69G5FAV", {})
    assert r.status == 405 and "GET" in r.header("allow"), r


def kill_group(pid):
    os.killpg(os.getpgid(pid), signal.SIGKILL)


def test_killed_worker_is_reaped_on_read_and_by_cli(make_gateway, mock):
    g = make_gateway(settings(mock, job_timeout_seconds=3, upstream_timeout_seconds=60),
                     max_procs=1)
    ids = []
    for _ in range(2):
        r = create_job(g, prompt=unique_prompt("an endless wait", "mock:delay=30"),
                       models=["gemini-3-pro-image", "local-preview"])
        assert r.status == 202, r
        ids.append(r.json()["id"])
    for job_id in ids:
        pid = worker_pid(g, job_id)
        # The renderer's result first, then the worker and its children die.
        deadline = time.time() + 5
        while get_job(g, job_id).json()["results"][1]["status"] != "completed":
            assert time.time() < deadline
            time.sleep(0.05)
        kill_group(pid)
    t_kill = time.time()
    # Still running (no one knows yet) until job_timeout_seconds have passed.
    j = get_job(g, ids[0]).json()
    assert j["status"] == "running" and j["results"][0]["status"] == "running", j
    # First job: reaped by the next read after the timeout.
    while True:
        j = get_job(g, ids[0]).json()
        if j["status"] != "running":
            break
        assert time.time() - t_kill < 10, j
        time.sleep(0.2)
    assert time.time() - t_kill >= 1  # not before the timeout (3 s since progress)
    assert j["status"] == "partial", j
    assert j["results"][0]["status"] == "failed"
    assert j["results"][0]["error"]["code"] == "IMG_INTERNAL"
    assert "worker" in j["results"][0]["error"]["message"]
    assert j["results"][1]["status"] == "completed" and j["completed"]
    # Second job: nobody reads it; the cron command settles it.
    rows = db_rows(g, "SELECT status FROM jobs WHERE id = ?", ids[1])
    assert rows[0][0] == "running"
    # Its worker's last heartbeat may be up to a few seconds younger than the
    # first job's: the command settles it once job_timeout_seconds have passed.
    while True:
        out = run_cli(g, "jobs", "reap")
        assert out.returncode == 0, out.stderr
        if "0 stalled jobs failed" not in out.stdout:
            break
        assert time.time() - t_kill < 15, out.stdout
        time.sleep(0.5)
    assert "1 stalled job failed (1 unfinished model)" in out.stdout, out.stdout
    assert db_rows(g, "SELECT status FROM jobs WHERE id = ?", ids[1])[0][0] == "partial"
    listed = cli_lines(g, "jobs", "list")
    assert len(listed) == 2 and all("partial" in line for line in listed), listed
    assert run_cli(g, "jobs", "reap").stdout.startswith("reap: 0 stalled jobs")


def test_a_killed_model_process_fails_only_its_model(make_gateway, mock):
    g = make_gateway(settings(mock, upstream_timeout_seconds=60), max_procs=1)
    r = create_job(g, prompt=unique_prompt("one child dies", "mock:delay=3"),
                   models=["gemini-3-pro-image", "gemini-3-pro-image-4k"])
    job_id = r.json()["id"]
    pid = worker_pid(g, job_id)
    children = []
    deadline = time.time() + 5
    while len(children) < 2 and time.time() < deadline:
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True,
                                  text=True).stdout.split()
        time.sleep(0.05)
    assert len(children) == 2, children
    os.kill(int(children[0]), signal.SIGKILL)
    job = wait_job(g, job_id)
    assert job["status"] == "partial", job
    states = sorted(res["status"] for res in job["results"])
    assert states == ["completed", "failed"]
    failed = [res for res in job["results"] if res["status"] == "failed"][0]
    assert failed["error"]["code"] == "IMG_INTERNAL"
    assert "signal 9" in failed["error"]["message"]


def test_content_filter_and_rate_limits_leave_no_job(make_gateway, mock):
    g = make_gateway(settings(mock, rate_per_ip=1))
    r = create_job(g, prompt="a porn poster", models=["local-preview"])
    assert_error(r, "IMG_CONTENT_FILTERED", param="prompt")
    assert g.get("/v1/models").status == 429  # the filtered job used the one request
    r = create_job(g, prompt=unique_prompt(), models=["local-preview"])
    assert_error(r, "IMG_RATE_LIMITED")
    assert r.header("retry-after")
    assert cli_lines(g, "jobs", "list") == ["no jobs"]
    assert db_rows(g, "SELECT count(*) FROM job_results")[0][0] == 0


def test_polls_do_not_spend_the_rate_limit(make_gateway, mock):
    g = make_gateway(settings(mock, rate_per_ip=2))
    r = create_job(g, prompt=unique_prompt("polled"), models=["local-preview"])
    assert r.status == 202, r
    for _ in range(10):  # far past the limit of 2 a minute
        assert get_job(g, r.json()["id"]).status == 200
    assert g.get("/v1/models").status == 200  # the second request of the minute
    assert g.get("/v1/models").status == 429


def test_daily_image_budget_counts_models_and_refunds_failures(make_gateway, mock):
    g = make_gateway(settings(mock, allow_anonymous="false"))
    out = run_cli(g, "key", "create", "--name", "budget", "--daily-images", "3")
    key = {"Authorization": f"Bearer {out.stdout.strip()}"}
    prompt = unique_prompt("four frames")
    r = create_job(g, key, prompt=prompt,
                   models=["local-preview", "local-preview-1x1", "local-preview-4x3",
                           "local-preview-3x4"])
    assert_error(r, "IMG_RATE_LIMITED")
    assert cli_lines(g, "jobs", "list") == ["no jobs"]
    # Two models, one of which fails upstream: it is given back.
    r = create_job(g, key, prompt=unique_prompt("", "mock:model_status=flash-image:400"),
                   models=["gemini-2.5-flash-image", "local-preview"])
    assert r.status == 202, r
    assert wait_job(g, r.json()["id"], key)["status"] == "partial"
    # 3 - 1 generated = 2 left: a two-model job fits, a three-model one not.
    r = create_job(g, key, prompt=unique_prompt(), models=["local-preview", "local-preview-1x1",
                                                           "local-preview-4x3"])
    assert_error(r, "IMG_RATE_LIMITED")
    r = create_job(g, key, prompt=unique_prompt(), models=["local-preview", "local-preview-1x1"])
    assert r.status == 202, r
    wait_job(g, r.json()["id"], key)


def test_who_may_read_a_job(make_gateway, mock):
    g = make_gateway(settings(mock, api_key="adm-jobs-secret"))
    keys = {}
    for name in ("alice", "bob"):
        out = run_cli(g, "key", "create", "--name", name)
        keys[name] = {"Authorization": f"Bearer {out.stdout.strip()}"}
    admin = {"Authorization": "Bearer adm-jobs-secret"}
    r = create_job(g, keys["alice"], prompt=unique_prompt(), models=["local-preview"])
    job_id = r.json()["id"]
    assert wait_job(g, job_id, keys["alice"])["status"] == "completed"
    assert_error(get_job(g, job_id, keys["bob"]), "IMG_NOT_FOUND")
    assert get_job(g, job_id, admin).status == 200
    assert_error(get_job(g, job_id), "IMG_UNAUTHORIZED")  # no anonymous access here
    owner = db_rows(g, "SELECT owner FROM jobs WHERE id = ?", job_id)[0][0]
    assert re.fullmatch(r"key:\d+", owner), owner


def cgi(g, method, path, body=b"", extra_env=None):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "IMAGEGW_CONFIG": g.config,
           "GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": method, "REQUEST_URI": path,
           "CONTENT_LENGTH": str(len(body)), "HTTP_HOST": "example.test",
           "ASAN_OPTIONS": f"log_path={g.asan_dir}/asan-cgi:detect_leaks=1",
           "UBSAN_OPTIONS": f"log_path={g.asan_dir}/ubsan-cgi:print_stacktrace=1"}
    env.update(extra_env or {})
    t = time.perf_counter()
    out = subprocess.run([BIN, "cgi"], env=env, input=body, capture_output=True,
                         timeout=30).stdout
    took = time.perf_counter() - t
    head, _, rest = out.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.lower(): v for k, _, v in (line.partition(": ") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, rest, took


def test_cgi_face_under_base_path(make_gateway, mock):
    """A plain CGI process (shared hosting) starts the worker too and exits at
    once: its stdout and stderr pipes reach EOF though the job runs on."""
    g = make_gateway(settings(mock, base_path="/imagegw"))
    body = json.dumps({"prompt": unique_prompt("cgi job", "mock:delay=2"),
                       "models": ["gemini-3-pro-image", "local-preview"]}).encode()
    status, headers, rest, took = cgi(g, "POST", "/imagegw/v1/jobs", body)
    assert status == 202, rest
    assert took < 1.5, f"the CGI process waited for the job ({took:.2f}s)"
    job = json.loads(rest)
    assert job["status_url"] == f"/imagegw/v1/jobs/{job['id']}"
    assert headers["location"] == f"http://example.test/imagegw/v1/jobs/{job['id']}"
    deadline = time.time() + 15
    while True:
        status, _, rest, _ = cgi(g, "GET", job["status_url"])
        assert status == 200, rest
        got = json.loads(rest)
        if got["status"] not in ("queued", "running"):
            break
        assert time.time() < deadline, got
        time.sleep(0.1)
    assert got["status"] == "completed", got
    assert got["results"][0]["url"].startswith("http://example.test/imagegw/v1/files/")
    wait_worker_gone(g, job["id"])
