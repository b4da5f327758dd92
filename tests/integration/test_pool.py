"""The upstream key pool (SPEC 6.1, 3.7) through lighttpd: rotation on 429,
disabling rejected keys, all keys cooling, recovery, limits per key, and the
`imagegw account` commands.  The mock answers by key: a key starting with
"quota" always gets 429 (RetryInfo 30 s), "invalid" gets 400 API_KEY_INVALID,
"leaked" gets 403."""
import os
import sqlite3
import subprocess
import time

from conftest import BIN, assert_error, unique_prompt
from conftest import run_cli as cli


def keys_used(mock):
    return [r["headers"].get("x-goog-api-key") for r in mock.requests()]


def accounts(g):
    db = sqlite3.connect(os.path.join(g.dir, "var", "imagegw.db"))
    try:
        return {row[0]: row[1:] for row in db.execute(
            "SELECT label, enabled, disabled_reason, cooldown_until, total_requests, "
            "last_error FROM accounts")}
    finally:
        db.close()




def settings(mock, keys, **extra):
    s = {"gemini_base_url": mock.url, "gemini_api_keys": ",".join(keys),
         "retry_backoff_ms": 10, "cache_backend": "none"}
    s.update(extra)
    return s


def test_rotation_on_429_moves_to_the_next_key(make_gateway, mock):
    g = make_gateway(settings(mock, ["quota-key-1", "good-key-2"]))
    r = g.generate(prompt="rotate please")
    assert r.status == 200, r
    assert keys_used(mock) == ["quota-key-1", "good-key-2"]
    acc = accounts(g)
    assert acc["gemini-env-1"][2] > time.time() + 20  # cooling for RetryInfo's 30 s
    assert "RESOURCE_EXHAUSTED" in acc["gemini-env-1"][4]
    # The cooling key is passed over: the next call goes straight to key 2.
    mock.reset()
    assert g.generate(prompt="second call").status == 200
    assert keys_used(mock) == ["good-key-2"]
    ups = [e for e in g.log_events("upstream")]
    assert [e["account"] for e in ups[:2]] == ["gemini-env-1", "gemini-env-2"]
    req = g.wait_log(lambda e: e.get("event") == "request")[0]
    assert req["account"] == "gemini-env-2" and req["retry_count"] == 1


def test_rejected_key_is_disabled_with_its_reason(make_gateway, mock):
    g = make_gateway(settings(mock, ["invalid-key-1", "good-key-2"]))
    assert g.generate(prompt="bad key first").status == 200
    assert keys_used(mock) == ["invalid-key-1", "good-key-2"]
    enabled, reason = accounts(g)["gemini-env-1"][:2]
    assert enabled == 0 and "API_KEY_INVALID" in reason
    out = cli(g, "account", "list").stdout
    assert "disabled: HTTP 400 API_KEY_INVALID" in out
    assert "invalid-key-1" not in out  # keys are never shown
    # Operator re-enables it: it is tried again (and fails again).
    assert cli(g, "account", "enable", "gemini-env-1").returncode == 0
    assert accounts(g)["gemini-env-1"][0] == 1


def test_all_keys_cooling_is_429_with_the_earliest_retry_after(make_gateway, mock):
    g = make_gateway(settings(mock, ["good-key-1", "good-key-2"]))
    r = g.generate(prompt="cool both mock:status=429 mock:retry_delay=40")
    assert_error(r, "IMG_QUOTA_EXHAUSTED")
    assert 38 <= int(r.header("retry-after")) <= 41
    assert keys_used(mock) == ["good-key-1", "good-key-2"]
    # A different prompt finds no key either, without calling upstream.
    mock.reset()
    r = g.generate(prompt="anything now")
    assert_error(r, "IMG_QUOTA_EXHAUSTED")
    assert mock.count() == 0
    # After `account reset` the keys are back.
    assert cli(g, "account", "reset").returncode == 0
    assert g.generate(prompt="anything now").status == 200


def test_recovery_after_the_cooldown(make_gateway, mock):
    g = make_gateway(settings(mock, ["good-key-1"]))
    r = g.generate(prompt="short cool mock:status=429 mock:retry_delay=1.5")
    assert_error(r, "IMG_QUOTA_EXHAUSTED")
    assert r.header("retry-after") == "2"
    time.sleep(2.2)
    assert g.generate(prompt="after the cooldown").status == 200


def test_every_key_disabled_is_upstream_auth(make_gateway, mock):
    g = make_gateway(settings(mock, ["invalid-a", "leaked-b"]))
    r = g.generate(prompt="no good keys")
    assert_error(r, "IMG_UPSTREAM_AUTH")
    assert sorted(keys_used(mock)) == ["invalid-a", "leaked-b"]
    assert "test" not in r.body.decode() and "invalid-a" not in r.body.decode()


def test_server_errors_retry_on_another_key(make_gateway, mock):
    g = make_gateway(settings(mock, ["good-key-1", "good-key-2"]))
    r = g.generate(prompt="flaky upstream mock:fail=503x1")
    assert r.status == 200, r
    assert keys_used(mock) == ["good-key-1", "good-key-2"]


def test_per_key_rpm_limit(make_gateway, mock):
    g = make_gateway(settings(mock, []))
    keyfile = os.path.join(g.dir, "k1")
    with open(keyfile, "w") as f:
        f.write("good-file-key\n")
    r = cli(g, "account", "add", "--provider", "gemini", "--label", "slow", "--key-file",
            keyfile, "--rpm", "2")
    assert r.returncode == 0, r.stderr
    # Keys added with the CLI make Gemini available (the gateway was started
    # without one): new responders pick them up.
    g2 = make_gateway({**settings(mock, []), "data_dir": os.path.join(g.dir, "var")})
    assert any(m["id"] == "gemini-3-pro-image" for m in g2.get("/v1/models").json()["data"])
    assert g2.generate(prompt="one", model="gemini-3-pro-image").status == 200
    assert g2.generate(prompt="two", model="gemini-3-pro-image").status == 200
    r = g2.generate(prompt="three", model="gemini-3-pro-image")
    assert_error(r, "IMG_QUOTA_EXHAUSTED")
    assert 1 <= int(r.header("retry-after")) <= 60
    assert keys_used(mock) == ["good-file-key", "good-file-key"]
    out = cli(g, "account", "list").stdout
    assert "slow" in out and "2/2" in out and "good-file-key" not in out


def test_key_from_an_environment_variable(make_gateway, mock):
    g = make_gateway(settings(mock, []), env={"MY_GEMINI_KEY": "good-env-var-key"})
    r = cli(g, "account", "add", "--label", "envvar", "--key-env", "MY_GEMINI_KEY",
            env={"MY_GEMINI_KEY": "good-env-var-key"})
    assert r.returncode == 0, r.stderr
    g2 = make_gateway({**settings(mock, []), "data_dir": os.path.join(g.dir, "var")},
                      env={"MY_GEMINI_KEY": "good-env-var-key"})
    assert g2.generate(prompt="via env var", model="gemini-3-pro-image").status == 200
    assert keys_used(mock) == ["good-env-var-key"]
    db = sqlite3.connect(os.path.join(g.dir, "var", "imagegw.db"))
    try:
        secret = db.execute("SELECT secret FROM accounts WHERE label='envvar'").fetchone()[0]
    finally:
        db.close()
    assert secret is None  # only the variable's name is stored


def test_account_cli_errors(make_gateway, mock):
    g = make_gateway(settings(mock, ["good-key-1"]))
    r = cli(g, "account", "add", "--label", "x")
    assert r.returncode != 0 and "exactly one of --key-file and --key-env" in r.stderr
    r = cli(g, "account", "add", "--label", "gemini-env-9", "--key-env", "PATH")
    assert r.returncode != 0 and "reserved" in r.stderr
    r = cli(g, "account", "disable", "nope")
    assert r.returncode != 0 and "no key labelled" in r.stderr
    assert cli(g, "account", "remove", "gemini-env-1").returncode != 0  # env keys stay
    db_mode = os.stat(os.path.join(g.dir, "var", "imagegw.db")).st_mode & 0o777
    assert db_mode == 0o600


def failures(g, label):
    db = sqlite3.connect(os.path.join(g.dir, "var", "imagegw.db"))
    try:
        return db.execute("SELECT consecutive_failures FROM accounts WHERE label = ?",
                          (label,)).fetchone()[0]
    finally:
        db.close()


def test_consecutive_failures_count_and_reset(make_gateway, mock):
    """A 503 counts against the key; the retry's success, with the same key,
    puts the count back to 0 (a success after a success writes nothing)."""
    g = make_gateway(settings(mock, ["test-key-1"]))
    assert g.generate(prompt=unique_prompt("steady")).status == 200
    assert failures(g, "gemini-env-1") == 0
    r = g.generate(prompt=unique_prompt("flaky", "mock:fail=503x1"))
    assert r.status == 200, r
    assert mock.count() == 3  # the first call, the 503, its retry
    assert failures(g, "gemini-env-1") == 0
    # two failed requests in a row (every retry fails too) leave a count
    for _ in range(2):
        r = g.generate(prompt=unique_prompt("down", "mock:status=503"))
        assert r.status >= 500, r
    assert failures(g, "gemini-env-1") >= 2
    assert g.generate(prompt=unique_prompt("back")).status == 200
    assert failures(g, "gemini-env-1") == 0
