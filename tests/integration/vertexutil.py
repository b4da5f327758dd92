"""Helpers shared by the tests that use Vertex AI accounts (test_vertex.py,
test_enhance.py): a service-account key file made with openssl and registered
with the mock's token endpoint, the settings that point a gateway at the mock,
`imagegw account add --provider vertex`, and the mock's Vertex state."""
import json
import os
import subprocess
import time
import urllib.request

from conftest import run_cli


def mock_post(mock, path, body):
    req = urllib.request.Request(mock.url + path, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def stats(mock):
    with urllib.request.urlopen(mock.url + "/_mock/vertex/stats", timeout=10) as r:
        return json.loads(r.read())


def new_key(tmp_path, name):
    """An RSA key pair made for this test: (private PEM, public PEM)."""
    key = tmp_path / f"{name}.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                    "rsa_keygen_bits:2048", "-out", str(key)], check=True, capture_output=True)
    pub = subprocess.run(["openssl", "pkey", "-in", str(key), "-pubout"], check=True,
                         capture_output=True, text=True).stdout
    return key.read_text(), pub


def service_account(tmp_path, mock, name, register=True, **override):
    """Writes a service-account key file the mock knows; returns its path."""
    private, public = new_key(tmp_path, name)
    email = f"{name}-{os.getpid()}-{time.time_ns()}@proj-test.iam.gserviceaccount.com"
    sa = {"type": "service_account", "project_id": "proj-test", "private_key_id": "kid-" + name,
          "private_key": private, "client_email": email, "client_id": "1",
          "token_uri": mock.url + "/token"}
    sa.update(override)
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(sa))
    path.chmod(0o600)
    if register:
        mock_post(mock, "/_mock/vertex/accounts", {"client_email": email, "public_key_pem": public})
    return path


def settings(mock, **extra):
    s = {"vertex_base_url": mock.url, "gemini_base_url": mock.url, "cache_backend": "none",
         "retry_backoff_ms": 10, "upstream_timeout_seconds": 10}
    s.update(extra)
    return s


def add(g, label, path, *extra, wait=True):
    r = run_cli(g, "account", "add", "--provider", "vertex", "--label", label,
                "--service-account", str(path), *extra)
    assert r.returncode == 0, r.stderr
    if wait:
        time.sleep(2.1)  # running responders re-read the pool every 2 s
    return r


def vertex_calls(mock):
    return [r for r in mock.requests() if "vertex" in r]
