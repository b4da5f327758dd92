#!/bin/sh
# Renders deploy/nginx/imagegw.conf and the responders' command from
# deploy/nginx/imagegw.service for a local nginx of its own (the tests; trying
# the site without touching /etc/nginx or systemd), non-root:
#   RUN_DIR/nginx.conf      the server around the site; run it with
#                           nginx -p RUN_DIR -c RUN_DIR/nginx.conf -e ERROR_LOG
#   RUN_DIR/responders.sh   the unit's Environment= and ExecStart=, what
#                           systemd would run (socket RUN_DIR/imagegw.sock)
# usage: render.sh RUN_DIR PORT BIN WWW_DIR CONFIG PROCS ERROR_LOG CACHE_DIR
set -eu
here=$(cd "$(dirname "$0")" && pwd)
[ $# -eq 8 ] || { sed -n 's/^# usage: //p' "$0" >&2; exit 2; }
run_dir=$1 port=$2 bin=$3 www=$4 config=$5 procs=$6 errlog=$7 cache_dir=$8
case $cache_dir in
/*) ;;
*) echo "render.sh: CACHE_DIR must be an absolute path: $cache_dir" >&2; exit 2 ;;
esac
mkdir -p "$run_dir/tmp"
sock=$run_dir/imagegw.sock

. "$here/../expect-lines.sh" # expect FILE LINE...: each exactly once in the file
site=$run_dir/imagegw-site.conf
sed -e "s|^	listen 80;|	listen ${IMAGEGW_BIND:-127.0.0.1}:$port;|" \
    -e "s|^	root /usr/local/share/imagegw/www;|	root $www;|" \
    -e "s|^		include fastcgi_params;|		include /etc/nginx/fastcgi_params;|" \
    -e "s|^		fastcgi_pass unix:/run/imagegw/imagegw.sock;|		fastcgi_pass unix:$sock;|" \
    -e "s|^		alias /var/lib/imagegw/cache/;|		alias $cache_dir/;|" \
    "$here/imagegw.conf" > "$site"
expect "$site" "	listen ${IMAGEGW_BIND:-127.0.0.1}:$port;" "	root $www;" \
	"		include /etc/nginx/fastcgi_params;" "		fastcgi_pass unix:$sock;" \
	"		alias $cache_dir/;"

cat > "$run_dir/nginx.conf" <<-NGINX
	# A private nginx for deploy/nginx/imagegw.conf (written by render.sh).
	daemon off;
	worker_processes 1;
	pid $run_dir/nginx.pid;
	error_log $errlog warn;
	events {
	    worker_connections 256;
	}
	http {
	    include /etc/nginx/mime.types;
	    default_type application/octet-stream;
	    access_log off;
	    sendfile on;
	    client_body_temp_path $run_dir/tmp/body;
	    fastcgi_temp_path $run_dir/tmp/fastcgi;
	    proxy_temp_path $run_dir/tmp/proxy;
	    uwsgi_temp_path $run_dir/tmp/uwsgi;
	    scgi_temp_path $run_dir/tmp/scgi;
	    include $site;
	}
NGINX

# The unit's command, with the test's socket, binary and process count.
unit=$run_dir/imagegw.service
sed -e "s|/run/imagegw/imagegw.sock|$sock|" -e "s|/usr/local/bin/imagegw |$bin |" \
    -e "s|multiwatch -f [0-9]* |multiwatch -f $procs |" \
    -e "s|^Environment=IMAGEGW_CONFIG=.*|Environment=IMAGEGW_CONFIG=$config|" \
    "$here/imagegw.service" > "$unit"
expect "$unit" "Environment=IMAGEGW_CONFIG=$config"
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
case $exec_start in
*" -s $sock "*"multiwatch -f $procs "*"$bin "*) ;;
*) echo "render.sh: imagegw.service: unexpected ExecStart: $exec_start" >&2; exit 2 ;;
esac
{
	echo "#!/bin/sh"
	echo "# deploy/nginx/imagegw.service's command (written by render.sh)."
	echo "export IMAGEGW_CONFIG='$config'"
	echo "exec $exec_start"
} > "$run_dir/responders.sh"
echo "$run_dir/nginx.conf"
