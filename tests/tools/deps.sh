#!/bin/sh
# Installs the Debian packages imagegw needs to build, test and run (`make
# deps`).  Idempotent: installs only what is missing; as non-root it prints
# the apt-get command instead.
set -eu
# build: compiler libraries; run: lighttpd; test: pytest, clang's sanitizer and
# fuzzer runtimes, valgrind, and the other servers the deployments are tested
# on (Apache + mod_fcgid + mod_xsendfile, nginx + spawn-fcgi + multiwatch);
# bench: wrk, hyperfine.
pkgs="build-essential pkg-config libfcgi-dev libfcgi-bin libcurl4-openssl-dev
libsqlite3-dev sqlite3 libssl-dev zlib1g-dev lighttpd python3 python3-pytest
clang libclang-rt-14-dev valgrind wrk hyperfine procps e2fsprogs
apache2 libapache2-mod-fcgid libapache2-mod-xsendfile nginx spawn-fcgi multiwatch"
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
# Debian starts the web servers it installs, on port 80; imagegw's tests and
# `make run` start their own.  A policy-rc.d that answers "not now" (101)
# keeps them stopped during the install (one already there is left alone).
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\n# written by imagegw tests/tools/deps.sh for one install\nexit 101\n' > "$policy"
	chmod 755 "$policy"
	trap 'rm -f "$policy"' EXIT
fi
apt-get update -qq || true
# shellcheck disable=SC2086
apt-get install -y -qq $missing > /dev/null
# ... and they do not come up at the next boot either.
for svc in lighttpd:lighttpd apache2:apache2 apache-htcacheclean:apache2 nginx:nginx; do
	case " $(echo $missing) " in
	*" ${svc#*:} "*)
		if command -v systemctl > /dev/null 2>&1; then
			systemctl disable --now "${svc%%:*}" > /dev/null 2>&1 || true
		fi
		update-rc.d "${svc%%:*}" disable > /dev/null 2>&1 || true
		;;
	esac
done
