#!/bin/sh
# Checks what the browser tests need and installs playwright-core (pinned in
# package-lock.json) into tests/browser/node_modules with `npm ci` when it is
# missing or out of date.  Used by run.sh (`make browser`) and `make bench`.
# Exits non-zero with a clear message when Chromium or Node.js is missing.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
chromium=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
	echo "browser tests: $chromium is missing; install Debian's chromium (make deps," \
		"or apt-get install chromium), or set CHROMIUM to another Chromium binary" >&2
	exit 1
fi
if ! command -v node > /dev/null 2>&1 || ! command -v npm > /dev/null 2>&1; then
	echo "browser tests: node and npm are missing; install Node.js 20 or later (make deps)" >&2
	exit 1
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
	echo "browser tests: Node.js $(node --version) is too old; playwright-core needs 20 or later" >&2
	exit 1
fi
# node_modules/.imagegw-lock is the lock file the last `npm ci` installed.
if ! cmp -s "$here/package-lock.json" "$here/node_modules/.imagegw-lock" 2> /dev/null; then
	echo "browser tests: npm ci (playwright-core)"
	(cd "$here" && npm ci --no-audit --no-fund --loglevel=error) || {
		echo "browser tests: npm ci failed (is the npm registry reachable?)" >&2
		exit 1
	}
	cp "$here/package-lock.json" "$here/node_modules/.imagegw-lock"
fi
