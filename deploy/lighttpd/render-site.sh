#!/bin/sh
# Renders one of the lighttpd sites meant for /etc/lighttpd (production.conf:
# FastCGI; cgi.conf: plain CGI) for a local lighttpd of its own (the tests;
# trying a site before installing it): RUN_DIR/lighttpd.conf is the server
# around it (what Debian's lighttpd.conf gives a real one), RUN_DIR/site.conf
# the site with the test's paths and port in place of the installed ones.
# Run it with  lighttpd -D -f RUN_DIR/lighttpd.conf
# usage: render-site.sh SITE RUN_DIR PORT BIN WWW_DIR CONFIG ERROR_LOG CACHE_DIR
# SITE: production.conf or cgi.conf.  IMAGEGW_BIND sets the address.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
[ $# -eq 8 ] || { sed -n 's/^# usage: //p' "$0" >&2; exit 2; }
name=$1 run_dir=$2 port=$3 bin=$4 www=$5 config=$6 errlog=$7 cache_dir=$8
case $name in
production.conf | cgi.conf) ;;
*) echo "render-site.sh: SITE is production.conf or cgi.conf" >&2; exit 2 ;;
esac
case $cache_dir in
/*) ;;
*) echo "render-site.sh: CACHE_DIR must be an absolute path: $cache_dir" >&2; exit 2 ;;
esac
bind=${IMAGEGW_BIND:-127.0.0.1}
mkdir -p "$run_dir/uploads"
site=$run_dir/site.conf
# The host the site answers for: what a client sends to this port.
sed -e "s|\"images.example.org\"|\"$bind:$port\"|" \
    -e "s|\"/usr/local/bin/imagegw\"|\"$bin\"|g" \
    -e "s|\"/usr/local/share/imagegw/www\"|\"$www\"|" \
    -e "s|\"/etc/imagegw/imagegw.conf\"|\"$config\"|" \
    -e "s|\"/var/lib/imagegw/cache\"|\"$cache_dir\"|" \
    -e "s|\"/run/lighttpd/imagegw.sock\"|\"$run_dir/imagegw.sock\"|" \
    "$here/$name" > "$site"
# Every installed path must have been replaced: none is left outside comments.
if grep -v '^[[:space:]]*#' "$site" | grep -e '"images.example.org"' -e '/usr/local/' \
	-e '"/etc/imagegw/' -e '"/var/lib/imagegw' -e '"/run/lighttpd/' >&2; then
	echo "render-site.sh: $name has a path this script does not replace" >&2
	exit 2
fi
for want in "$bin" "$www" "$config" "$cache_dir" "$bind:$port"; do
	grep -q -F "\"$want\"" "$site" || {
		echo "render-site.sh: $name no longer names '$want' where render-site.sh expects it" >&2
		exit 2
	}
done

cat > "$run_dir/lighttpd.conf" <<-LIGHTTPD
	# A private lighttpd for deploy/lighttpd/$name (written by render-site.sh).
	# As Debian's: lighttpd adds mod_staticfile last by itself.
	server.modules = ( "mod_indexfile", "mod_access", "mod_alias", "mod_redirect" )
	server.bind = "$bind"
	server.port = $port
	server.document-root = "$www"
	server.errorlog = "$errlog"
	server.pid-file = "$run_dir/lighttpd.pid"
	server.upload-dirs = ( "$run_dir/uploads" )
	index-file.names = ( "index.html" )
	include_shell "/usr/share/lighttpd/create-mime.conf.pl"
	include "$site"
LIGHTTPD
echo "$run_dir/lighttpd.conf"
