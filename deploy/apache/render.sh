#!/bin/sh
# Renders one of the shipped Apache configurations for a local Apache instance
# of its own (the integration tests; trying a config without touching
# /etc/apache2), chosen by IMAGEGW_APACHE_SITE:
#   fcgid     (default) imagegw.conf, the VPS virtual host with mod_fcgid
#   cgi       cgi.conf, the same as plain CGI (mod_cgid)
#   htaccess  the file `htaccess`, written to WWW_DIR/.htaccess, under a
#             virtual host set up as a shared host's (document root
#             IMAGEGW_DOCROOT, default WWW_DIR; mod_fcgid's defaults); the
#             binary finds its config beside it, so CONFIG is not used
# RUN_DIR/httpd.conf is the server around the site (what Debian's apache2.conf
# and mods-enabled/ give a real one).  Run it with
#   apache2 -f RUN_DIR/httpd.conf -DFOREGROUND
# usage: render.sh RUN_DIR PORT BIN WWW_DIR CONFIG MAX_PROCS ERROR_LOG CACHE_DIR [NAME=VALUE ...]
# MAX_PROCS: mod_fcgid's FcgidMaxProcessesPerClass (fcgid).  NAME=VALUE pairs
# join the responders' environment (FcgidInitialEnv, at most 127 characters
# of value; SetEnv for CGI).  IMAGEGW_BIND sets the address (127.0.0.1).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 8 ] || { sed -n 's/^# usage: //p' "$0" >&2; exit 2; }
run_dir=$1 port=$2 bin=$3 www=$4 config=$5 procs=$6 errlog=$7 cache_dir=$8
shift 8
site=${IMAGEGW_APACHE_SITE:-fcgid}
case $cache_dir in
/*) ;;
*) echo "render.sh: CACHE_DIR must be an absolute path: $cache_dir" >&2; exit 2 ;;
esac
mods=/usr/lib/apache2/modules
for m in fcgid rewrite; do
	[ "$site" = cgi ] && [ $m = fcgid ] && continue
	[ -f "$mods/mod_$m.so" ] || {
		echo "render.sh: $mods/mod_$m.so missing (apt-get install apache2 libapache2-mod-fcgid)" >&2
		exit 2
	}
done
mkdir -p "$run_dir/logs" "$run_dir/fcgidsock"
conf=$run_dir/imagegw-site.conf

. "$here/../expect-lines.sh" # expect FILE LINE...: each exactly once in the file
case $site in
fcgid | cgi)
	src=$here/imagegw.conf
	[ "$site" = cgi ] && src=$here/cgi.conf
	sed -e "s|^Define IMAGEGW_BIN .*|Define IMAGEGW_BIN $bin|" \
	    -e "s|^Define IMAGEGW_CONFIG .*|Define IMAGEGW_CONFIG $config|" \
	    -e "s|^Define IMAGEGW_WWW .*|Define IMAGEGW_WWW $www|" \
	    -e "s|^Define IMAGEGW_CACHE .*|Define IMAGEGW_CACHE $cache_dir|" \
	    -e "s|^<VirtualHost \*:80>|<VirtualHost *:$port>|" \
	    -e "s|^\(	FcgidMaxProcessesPerClass\) .*|\1 $procs|" \
	    "$src" > "$conf"
	expect "$conf" "Define IMAGEGW_BIN $bin" "Define IMAGEGW_CONFIG $config" \
		"Define IMAGEGW_WWW $www" "Define IMAGEGW_CACHE $cache_dir" "<VirtualHost *:$port>"
	[ "$site" = cgi ] || expect "$conf" "	FcgidMaxProcessesPerClass $procs"
	;;
htaccess)
	sed -e "s|^FcgidWrapper .* virtual\$|FcgidWrapper $bin virtual|" "$here/htaccess" \
		> "$www/.htaccess"
	expect "$www/.htaccess" "FcgidWrapper $bin virtual"
	docroot=${IMAGEGW_DOCROOT:-$www}
	# A shared host's virtual host: the customer's directory, what its
	# .htaccess files may change, and mod_fcgid left at its defaults.
	cat > "$conf" <<-VHOST
	<VirtualHost *:$port>
		ServerName shared.example.net
		DocumentRoot $docroot
		<Directory $docroot>
			Options SymLinksIfOwnerMatch
			AllowOverride FileInfo AuthConfig Indexes Options=ExecCGI,Indexes
			Require all granted
		</Directory>
	</VirtualHost>
	VHOST
	;;
*) echo "render.sh: IMAGEGW_APACHE_SITE=$site: fcgid, cgi or htaccess" >&2; exit 2 ;;
esac

{
	cat <<-SERVER
	# A private Apache instance for imagegw's deploy/apache files (render.sh, $site).
	ServerRoot "$run_dir"
	ServerName 127.0.0.1
	Listen ${IMAGEGW_BIND:-127.0.0.1}:$port
	PidFile $run_dir/httpd.pid
	DefaultRuntimeDir $run_dir
	Mutex file:$run_dir default
	ErrorLog $errlog
	LogLevel warn$([ "$site" = cgi ] || echo " fcgid:info")
	Define APACHE_LOG_DIR $run_dir/logs
	LogFormat "%h %l %u %t \"%r\" %>s %O \"%{Referer}i\" \"%{User-Agent}i\"" combined
	LoadModule mpm_event_module $mods/mod_mpm_event.so
	LoadModule authz_core_module $mods/mod_authz_core.so
	LoadModule mime_module $mods/mod_mime.so
	LoadModule dir_module $mods/mod_dir.so
	LoadModule alias_module $mods/mod_alias.so
	LoadModule rewrite_module $mods/mod_rewrite.so
	SERVER
	if [ "$site" = cgi ]; then
		echo "LoadModule cgid_module $mods/mod_cgid.so"
		echo "LoadModule env_module $mods/mod_env.so"
		echo "ScriptSock $run_dir/cgisock"
	else
		echo "LoadModule fcgid_module $mods/mod_fcgid.so"
		echo "FcgidIPCDir $run_dir/fcgidsock"
		echo "FcgidProcessTableFile $run_dir/fcgid_shm"
	fi
	# X-Sendfile only where the module is installed (the sites' <IfModule>).
	if [ -f "$mods/mod_xsendfile.so" ]; then
		echo "LoadModule xsendfile_module $mods/mod_xsendfile.so"
	fi
	if [ "$(id -u)" = 0 ]; then
		# Apache will not serve as root: its workers, and the programs it
		# starts, run as this user, who must own data_dir.
		echo "User ${IMAGEGW_APACHE_USER:-www-data}"
		echo "Group ${IMAGEGW_APACHE_GROUP:-www-data}"
	fi
	cat <<-SERVER
	TypesConfig /etc/mime.types
	<Directory />
		Options None
		AllowOverride None
		Require all denied
	</Directory>
	StartServers 1
	MinSpareThreads 16
	MaxSpareThreads 64
	ThreadsPerChild 32
	MaxRequestWorkers 64
	SERVER
	for kv in "$@"; do
		name=${kv%%=*} value=${kv#*=}
		case $value in
		*'"'* | *'\'*) echo "render.sh: $name: quotes and backslashes are not passed" >&2; exit 2 ;;
		esac
		if [ "$site" = cgi ]; then
			printf 'SetEnv %s "%s"\n' "$name" "$value"
			continue
		fi
		[ ${#value} -le 127 ] || {
			echo "render.sh: $name: mod_fcgid keeps only 127 characters of a value" >&2
			exit 2
		}
		printf 'FcgidInitialEnv %s "%s"\n' "$name" "$value"
	done
	echo "Include $conf"
} > "$run_dir/httpd.conf"
echo "$run_dir/httpd.conf"
