#!/bin/sh
# Runs a command (`make integration-apache`: pytest) as an unprivileged user
# when started as root.  Apache will not serve as root, and mod_fcgid starts
# imagegw as Apache's user; with the tests, the CLI and the responders all one
# user, every file any of them creates (the database, its -wal, cache
# directories, blobs a test plants) stays usable by the others, as on a real
# server where the operator runs `imagegw` as the web server's user.
# As any other user, the command simply runs.
# usage: as-test-user.sh COMMAND...   (environment: IMAGEGW_TEST_USER, default nobody)
set -eu
[ "$(id -u)" -ne 0 ] && exec "$@"
user=${IMAGEGW_TEST_USER:-nobody}
uid=$(id -u "$user") gid=$(id -g "$user")
tmp=$(mktemp -d /tmp/imagegw-as-user.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
chown "$uid:$gid" "$tmp"
run() {
	setpriv --reuid="$uid" --regid="$gid" --clear-groups \
		env HOME="$tmp" TMPDIR=/tmp PYTHONDONTWRITEBYTECODE=1 "$@"
}
# The tree must be readable by that user (a checkout under /root is not): if
# it is not, the command runs in a copy of what the tests read.
if run sh -c 'test -r tests/integration/conftest.py && test -r deploy/www/index.html &&
	test -x "${IMAGEGW_BIN:-build/san/imagegw}"' 2> /dev/null; then
	run "$@"
	exit
fi
echo "as-test-user.sh: $user cannot read $(pwd); running in a copy under $tmp"
mkdir -p "$tmp/tree/build/san"
cp -R tests deploy "$tmp/tree/"
bin=${IMAGEGW_BIN:-$(pwd)/build/san/imagegw}
cp "$bin" "$tmp/tree/build/san/imagegw"
chmod -R a+rX "$tmp/tree"
export IMAGEGW_BIN="$tmp/tree/build/san/imagegw"
cd "$tmp/tree"
run "$@"
