"""Vertex AI accounts (SPEC 3.8, issue 8) through lighttpd: Google service
accounts in the key pool, RS256 JWTs exchanged at the mock's token endpoint
(which checks the signature against the test's own key pair with openssl),
access tokens shared by every responder through SQLite, refresh on expiry
by exactly one process, a refused token refreshed once and then the account
disabled, and the Vertex URL form with its bearer token."""
import concurrent.futures
import os
import sqlite3
import time

import pytest

from conftest import assert_error, run_cli, unique_prompt
from vertexutil import add, mock_post, service_account, settings, stats, vertex_calls


def accounts(g):
    db = sqlite3.connect(os.path.join(g.dir, "var", "imagegw.db"))
    try:
        return {row[0]: row[1:] for row in db.execute(
            "SELECT label, enabled, disabled_reason, provider FROM accounts")}
    finally:
        db.close()


@pytest.fixture
def vertex_gw(make_gateway, mock, tmp_path):
    """A gateway whose only upstream is one Vertex account ('v1')."""
    mock_post(mock, "/_mock/vertex/config", {"expires_in": 3600, "token_status": 200})
    g = make_gateway(settings(mock), max_procs=2)
    add(g, "v1", service_account(tmp_path, mock, "v1"))
    return g


def test_first_call_fetches_a_token_and_every_process_reuses_it(vertex_gw, mock):
    g = vertex_gw
    ups = g.get("/healthz").json()["upstreams"]
    assert ups["gemini"] == "configured" and ups["vertex"] == "configured", ups
    r = g.generate(prompt=unique_prompt("a lighthouse"))
    assert r.status == 200, r
    assert stats(mock)["tokens_issued"] == 1
    # More requests, in parallel over both responders: the same token.
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        rs = list(pool.map(lambda i: g.generate(prompt=unique_prompt(f"boat {i}"), n=2),
                           range(6)))
    assert all(x.status == 200 for x in rs), rs
    assert stats(mock)["tokens_issued"] == 1
    calls = vertex_calls(mock)
    assert len(calls) == 13
    assert {c["headers"]["authorization"] for c in calls} == {calls[0]["headers"]["authorization"]}
    assert calls[0]["path"] == ("/v1/projects/proj-test/locations/global/publishers/google/"
                                "models/gemini-3-pro-image-preview:generateContent")
    assert "x-goog-api-key" not in calls[0]["headers"]
    # The same body as the Gemini API gets.
    body = calls[0]["body"]
    assert body["generationConfig"]["imageConfig"]["imageSize"] in ("1K", "2K", "4K")
    ups = g.log_events("upstream")
    assert {e["provider"] for e in ups} == {"vertex"} and {e["account"] for e in ups} == {"v1"}
    gens = g.wait_log(lambda e: e.get("event") == "request"
                      and e.get("route") == "/v1/images/generations")
    assert gens and {e["provider"] for e in gens} == {"vertex"}


def test_expiry_triggers_exactly_one_refresh(vertex_gw, mock):
    g = vertex_gw
    mock_post(mock, "/_mock/vertex/config", {"expires_in": 8})
    assert g.generate(prompt=unique_prompt("first")).status == 200
    assert stats(mock)["tokens_issued"] == 1
    time.sleep(6.5)  # past three quarters of the token's life
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        rs = list(pool.map(lambda i: g.generate(prompt=unique_prompt(f"herd {i}"), n=2),
                           range(6)))
    assert all(x.status == 200 for x in rs), rs
    assert stats(mock)["tokens_issued"] == 2  # one refresh, not one per process or image


def test_revoked_token_is_dropped_and_refreshed_once(vertex_gw, mock):
    g = vertex_gw
    assert g.generate(prompt=unique_prompt("before")).status == 200
    mock_post(mock, "/_mock/vertex/revoke", {})
    r = g.generate(prompt=unique_prompt("after revoke"))
    assert r.status == 200, r
    assert stats(mock)["tokens_issued"] == 2
    assert accounts(g)["v1"][0] == 1  # still enabled


def test_refused_again_after_a_refresh_disables_the_account(vertex_gw, mock, tmp_path):
    g = vertex_gw
    assert g.generate(prompt=unique_prompt("ok first")).status == 200
    # Tokens are issued but every one is refused: a revoked grant.
    mock_post(mock, "/_mock/vertex/config", {"refuse_calls": True})
    r = g.generate(prompt=unique_prompt("refused"))
    assert_error(r, "IMG_UPSTREAM_AUTH")
    assert stats(mock)["tokens_issued"] == 2  # one refresh after the first 401, no more
    enabled, reason, _ = accounts(g)["v1"]
    assert enabled == 0 and "401" in reason or "UNAUTHENTICATED" in reason, reason
    listing = run_cli(g, "account", "list").stdout
    assert "disabled" in listing and "PRIVATE KEY" not in listing


def test_served_by_vertex_when_every_gemini_key_is_cooling(make_gateway, mock, tmp_path):
    g = make_gateway(settings(mock, gemini_api_keys="quota-key-1"))
    add(g, "v1", service_account(tmp_path, mock, "v1"))
    r = g.generate(prompt=unique_prompt("fallback"))
    assert r.status == 200, r
    paths = [c["path"] for c in mock.requests()]
    assert paths[0].startswith("/v1beta/models/") and "/locations/global/" in paths[1]
    assert [e["account"] for e in g.log_events("upstream")] == ["gemini-env-1", "v1"]
    # Next time the cooling key is passed over at once.
    mock.reset()
    assert g.generate(prompt=unique_prompt("again")).status == 200
    assert all("vertex" in c for c in mock.requests())


def test_gemini_keys_come_first_by_default_and_order_is_configurable(make_gateway, mock,
                                                                     tmp_path):
    path = service_account(tmp_path, mock, "v1")
    g = make_gateway(settings(mock, gemini_api_keys="good-key-1"))
    add(g, "v1", path)
    assert g.generate(prompt=unique_prompt("gemini first")).status == 200
    assert "vertex" not in mock.requests()[-1]
    g2 = make_gateway(settings(mock, gemini_api_keys="good-key-1",
                               gemini_providers="vertex,gemini"))
    add(g2, "v1", path)
    mock.reset()
    assert g2.generate(prompt=unique_prompt("vertex first")).status == 200
    assert "vertex" in mock.requests()[-1]


def test_regional_location_and_project_override(make_gateway, mock, tmp_path):
    g = make_gateway(settings(mock))
    add(g, "eu", service_account(tmp_path, mock, "eu"), "--project", "other-proj",
        "--location", "europe-west4")
    assert g.generate(prompt=unique_prompt("regional")).status == 200
    assert mock.requests()[-1]["path"].startswith(
        "/v1/projects/other-proj/locations/europe-west4/publishers/google/models/")


@pytest.mark.parametrize("content,message", [
    ("not json at all", "not a service-account key file"),
    ('{"type": "authorized_user"}', "authorized_user"),
    ('{"type": "service_account", "client_email": "a@b"}', "private_key"),
    ('{"type": "service_account", "client_email": "a@b", "private_key": '
     '"-----BEGIN PRIVATE KEY-----\\nAAAA\\n-----END PRIVATE KEY-----\\n"}', "cannot be read"),
])
def test_malformed_service_account_file_is_refused(make_gateway, mock, tmp_path, content,
                                                    message):
    g = make_gateway(settings(mock))
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    r = run_cli(g, "account", "add", "--provider", "vertex", "--label", "bad",
                "--service-account", str(bad))
    assert r.returncode != 0
    assert message in r.stderr, r.stderr
    assert "bad" not in accounts(g)


def test_account_test_reports_the_token_exchange(make_gateway, mock, tmp_path):
    g = make_gateway(settings(mock))
    add(g, "good", service_account(tmp_path, mock, "good"), wait=False)
    # A key pair the mock was never told about: the signature does not verify.
    add(g, "stranger", service_account(tmp_path, mock, "stranger", register=False), wait=False)
    r = run_cli(g, "account", "test", "good")
    assert r.returncode == 0 and "ok:" in r.stdout, r
    assert stats(mock)["tokens_issued"] == 1
    r = run_cli(g, "account", "test", "stranger")
    assert r.returncode == 1 and "failed" in r.stdout and "invalid_grant" in r.stdout, r
    assert mock.count() == 0  # a token exchange only; no image call


def test_accounts_dir_files_join_the_pool(make_gateway, mock, tmp_path):
    d = tmp_path / "accounts"
    d.mkdir()
    service_account(d, mock, "team")
    (d / "team.pem").unlink()  # only the key file stays
    (d / "README.txt").write_text("not a key")
    g = make_gateway(settings(mock, accounts_dir=str(d)))
    assert g.generate(prompt=unique_prompt("from the dir")).status == 200
    assert [e["account"] for e in g.log_events("upstream")] == ["vertex-dir-team"]
    listing = run_cli(g, "account", "list").stdout
    assert "vertex-dir-team" in listing and "BEGIN PRIVATE KEY" not in listing
    db = sqlite3.connect(os.path.join(g.dir, "var", "imagegw.db"))
    try:
        assert db.execute("SELECT secret FROM accounts WHERE label = 'vertex-dir-team'"
                          ).fetchone()[0] is None  # the key stays in the file
    finally:
        db.close()


def test_private_key_never_reaches_logs_or_listing(vertex_gw, mock, tmp_path):
    g = vertex_gw
    g.generate(prompt=unique_prompt("quiet"))
    text = g.log_text() + run_cli(g, "account", "list").stdout + g.error_log_text()
    assert "PRIVATE KEY" not in text and "ya29.mock-" not in text
    st = os.stat(os.path.join(g.dir, "var", "imagegw.db"))
    assert st.st_mode & 0o077 == 0
