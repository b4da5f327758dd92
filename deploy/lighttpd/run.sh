#!/bin/sh
# Starts the gateway for `make run`: lighttpd in the foreground on PORT,
# serving deploy/www/ and spawning build/imagegw, data in ./var.
# usage: run.sh PORT   (environment: IMAGEGW_BIND, IMAGEGW_CONFIG)
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
port=${1:-8080}
var="$top/var"
config=${IMAGEGW_CONFIG:-$var/imagegw.conf}
mkdir -p "$var/run"
if [ ! -f "$config" ]; then
	sed "s|@DATA_DIR@|$var|" "$top/deploy/imagegw.conf.example" > "$config"
	echo "wrote $config (edit it to add a Gemini key)"
fi
IMAGEGW_CONFIG=$config "$top/build/imagegw" init > /dev/null 2>&1 ||
	{ IMAGEGW_CONFIG=$config "$top/build/imagegw" init; exit 1; }
IMAGEGW_CONFIG=$config "$top/build/imagegw" config check > /dev/null 2>&1 ||
	{ IMAGEGW_CONFIG=$config "$top/build/imagegw" config check; exit 1; }
# X-Sendfile may only send files from the effective cache_dir.
cache=$(IMAGEGW_CONFIG=$config "$top/build/imagegw" config check 2>/dev/null |
	sed -n 's/^cache_dir = \(\/.*\)    # .*/\1/p')
conf=$(sh "$top/deploy/lighttpd/render.sh" "$var/run" "$port" "$top/build/imagegw" \
	"$top/deploy/www" "$config" 2 /dev/stderr "${cache:-$var/cache}")
lighttpd -tt -f "$conf" > /dev/null
host=${IMAGEGW_BIND:-127.0.0.1}
[ "$host" = 0.0.0.0 ] && host=127.0.0.1
echo
echo "imagegw is running: http://$host:$port/"
echo "  API:  curl http://$host:$port/v1/models"
echo "  stop: Ctrl+C"
echo
exec lighttpd -D -f "$conf"
