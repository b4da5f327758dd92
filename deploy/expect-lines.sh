# Sourced by deploy/apache/render.sh and deploy/nginx/render.sh.
# Each line a render script changes must be in the shipped file exactly once, so
# that the shipped files and the script cannot drift apart unnoticed.
expect() { # FILE LINE...
	f=$1
	shift
	for want in "$@"; do
		[ "$(grep -c -x -F -e "$want" "$f" || true)" = 1 ] || {
			echo "render.sh: $(basename "$f") no longer has one line to become '$want'" >&2
			exit 2
		}
	done
}
