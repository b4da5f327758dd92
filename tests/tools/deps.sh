#!/bin/sh
# Installs the Debian packages imagegw needs to build, test and run (`make
# deps`).  Idempotent: installs only what is missing; as non-root it prints
# the apt-get command instead.
set -eu
# build: compiler libraries; run: lighttpd; test: pytest, clang's sanitizer and
# fuzzer runtimes, valgrind; bench: wrk, hyperfine.
pkgs="build-essential pkg-config libfcgi-dev libfcgi-bin libcurl4-openssl-dev
libsqlite3-dev sqlite3 libssl-dev zlib1g-dev lighttpd python3 python3-pytest
clang libclang-rt-14-dev valgrind wrk hyperfine procps e2fsprogs"
pkgs="$pkgs chromium$(command -v node > /dev/null 2>&1 || echo ' nodejs npm')" # browser tests; keeps a node already there
[ "${1:-}" = "--quick" ] && pkgs="build-essential libfcgi-dev libcurl4-openssl-dev
libsqlite3-dev libssl-dev zlib1g-dev lighttpd"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "imagegw needs these Debian packages:$missing"
	echo "run:  sudo apt-get install -y$missing"
	exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || true
# shellcheck disable=SC2086
apt-get install -y -qq $missing > /dev/null
# Debian starts lighttpd on port 80 when it is installed; imagegw runs its own.
if command -v systemctl > /dev/null 2>&1; then
	systemctl disable --now lighttpd > /dev/null 2>&1 || true
fi
