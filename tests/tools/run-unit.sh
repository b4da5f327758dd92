#!/bin/sh
# Runs every unit-test binary given and sums their "N passed, N failed" lines.
passed=0; failed=0; status=0
for t in "$@"; do
	out=$("$t" 2>&1); rc=$?
	printf '%s\n' "$out" | grep -v ' passed, ' >&2
	line=$(printf '%s\n' "$out" | grep ' passed, ' | tail -n 1)
	p=$(printf '%s' "$line" | sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed.*/\1/p')
	f=$(printf '%s' "$line" | sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed.*/\2/p')
	if [ -z "$p" ]; then
		echo "$t: crashed or printed no summary (exit $rc)" >&2
		f=$((f + 1)); p=0; status=1
	fi
	[ "$rc" -ne 0 ] && status=1
	echo "  $(basename "$t"): $p passed, ${f:-0} failed"
	passed=$((passed + p)); failed=$((failed + ${f:-0}))
done
echo "unit: $passed passed, $failed failed"
exit $status
