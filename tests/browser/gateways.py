#!/usr/bin/env python3
"""Starts gateways for the browser tests, the way the integration tests do: lighttpd
+ the imagegw binary ($IMAGEGW_BIN) serving deploy/www/, and the mock upstream
(tests/integration/conftest.py's Gateway and Mock).

It speaks JSON lines: one command per line on stdin, one answer per line on stdout.
  {"op": "gateway", "settings": {...}, "mock": true, "base_path": "/imagegw"}
      -> {"url": "http://127.0.0.1:PORT", "page": "<url of the page>", "mock": "<mock url>"}
         "mock": true points gemini_base_url at the mock with a test key;
         "base_path" mounts the page and the API under that prefix (SPEC 1)
  {"op": "stop"} -> {"reports": [...]} (sanitizer reports of every gateway), then exits.
End of input does the same as stop, so a test runner that dies leaves nothing behind.
"""
import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import conftest  # noqa: E402

# The page is tested behind lighttpd (the base_path wrapper below edits its config),
# whatever IMAGEGW_SERVER says for the integration tests.
conftest.SERVER = "lighttpd"

mock = None
gateways = []
scratch = []


def base_path_render(prefix):
    """A render.sh wrapper that mounts the API under `prefix`: the template routes
    ^/(v1|healthz|metrics) to imagegw; here ^/<prefix>/(v1|healthz|metrics)."""
    d = tempfile.mkdtemp(prefix="imagegw-bt-render-")
    scratch.append(d)
    path = os.path.join(d, "render.sh")
    esc = prefix.strip("/")
    with open(path, "w") as f:
        f.write("#!/bin/sh\nset -eu\n"
                f"conf=$(sh '{conftest.RENDER}' \"$@\")\n"
                f"sed -i 's|\"^/(v1|\"^/{esc}/(v1|' \"$conf\"\n"
                "echo \"$conf\"\n")
    return path


def start_gateway(cmd):
    global mock
    settings = {"retry_backoff_ms": 20, "upstream_timeout_seconds": 10}
    if cmd.get("mock"):
        if mock is None:
            mock = conftest.Mock()
        settings.update({"gemini_base_url": mock.url, "gemini_api_key": "test-key-1"})
    settings.update(cmd.get("settings") or {})
    www = conftest.WWW
    prefix = cmd.get("base_path")
    render = conftest.RENDER
    if prefix:
        settings["base_path"] = prefix
        # The page directory appears at /<prefix>/ under a fresh document root.
        root = tempfile.mkdtemp(prefix="imagegw-bt-www-")
        scratch.append(root)
        os.symlink(conftest.WWW, os.path.join(root, prefix.strip("/")))
        www = root
        conftest.RENDER = base_path_render(prefix)
    try:
        g = conftest.Gateway(settings, cmd.get("env"), cmd.get("max_procs", 2), www=www)
    finally:
        conftest.RENDER = render
    gateways.append(g)
    page = g.url + (prefix.rstrip("/") + "/" if prefix else "/")
    return {"url": g.url, "page": page, "mock": mock.url if mock else None, "dir": g.dir}


def stop_all():
    reports = []
    for g in gateways:
        reports += g.stop()
    if mock is not None:
        mock.stop()
    for d in scratch:
        import shutil
        shutil.rmtree(d, ignore_errors=True)
    return reports


def main():
    out = sys.stdout
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        cmd = json.loads(line)
        if cmd.get("op") == "stop":
            break
        try:
            if cmd.get("op") == "gateway":
                answer = start_gateway(cmd)
            else:
                answer = {"error": f"unknown op {cmd.get('op')!r}"}
        except Exception as e:  # reported to the test, which fails with it
            answer = {"error": f"{type(e).__name__}: {e}"}
        out.write(json.dumps(answer) + "\n")
        out.flush()
    reports = stop_all()
    out.write(json.dumps({"reports": reports}) + "\n")
    out.flush()


if __name__ == "__main__":
    main()
