#!/bin/sh
# Runs the browser tests (`make browser`): deploy/www/ in Debian's headless
# Chromium, driven by playwright-core under node's test runner, against
# lighttpd + imagegw ($IMAGEGW_BIN, else build/imagegw) + the mock upstream.
# Screenshots land in build/browser-artifacts/.  Arguments are passed to
# `node --test` (e.g. --test-name-pattern=gallery); BROWSER_TESTS picks files.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
sh "$here/setup.sh"
cd "$here/../.."
# shellcheck disable=SC2086
exec node --test --test-concurrency=1 --test-timeout=180000 "$@" \
	${BROWSER_TESTS:-"$here"/*.test.mjs}
