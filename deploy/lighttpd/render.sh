#!/bin/sh
# Renders imagegw.conf.in for a local run.
# usage: render.sh RUN_DIR PORT BIN WWW_DIR CONFIG [MAX_PROCS] [ERROR_LOG] [CACHE_DIR]
# CACHE_DIR (absolute: the gateway's cache_dir) is the only place X-Sendfile
# may send files from; without it, no file qualifies.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
run_dir=$1 port=$2 bin=$3 www=$4 config=$5 procs=${6:-2} errlog=${7:-/dev/stderr}
cache_dir=${8:-/nonexistent}
case $cache_dir in
/*) ;;
*) echo "render.sh: CACHE_DIR must be an absolute path: $cache_dir" >&2; exit 2 ;;
esac
mkdir -p "$run_dir/uploads"
sed -e "s|@RUN_DIR@|$run_dir|g" -e "s|@PORT@|$port|g" -e "s|@BIN@|$bin|g" \
    -e "s|@WWW_DIR@|$www|g" -e "s|@CONFIG@|$config|g" -e "s|@MAX_PROCS@|$procs|g" \
    -e "s|@ERROR_LOG@|$errlog|g" -e "s|@BIND@|${IMAGEGW_BIND:-127.0.0.1}|g" \
    -e "s|@CACHE_DIR@|$cache_dir|g" \
    "$here/imagegw.conf.in" > "$run_dir/lighttpd.conf"
echo "$run_dir/lighttpd.conf"
