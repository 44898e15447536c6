#!/bin/sh
# check.sh FILE.conf: a config test.  A good config must print exactly its
# .ok file under "sbxd -nv", and that output must parse back to itself.  A
# bad-*.conf must fail with exit 1 and exactly the lines of its .err file.
set -u
conf=$1
dir=$(dirname "$conf")
name=$(basename "$conf")
base=${name%.conf}
sbxd=${SBXD:-sbxd}
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
cd "$dir" || exit 99

case $base in
bad-*)
	"$sbxd" -n -f "$name" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ $rc -ne 1 ]; then
		echo "$name: exit $rc, want 1"; cat "$tmp/err"; exit 1
	fi
	if ! diff -u "$base.err" "$tmp/err"; then
		echo "$name: messages differ from $base.err"; exit 1
	fi
	;;
*)
	if ! "$sbxd" -nv -f "$name" >"$tmp/out" 2>"$tmp/err"; then
		echo "$name: rejected"; cat "$tmp/err"; exit 1
	fi
	if [ "$(cat "$tmp/err")" != "configuration OK" ]; then
		echo "$name: stderr:"; cat "$tmp/err"; exit 1
	fi
	if ! diff -u "$base.ok" "$tmp/out"; then
		echo "$name: output differs from $base.ok"; exit 1
	fi
	if ! "$sbxd" -nv -f "$tmp/out" >"$tmp/out2" 2>"$tmp/err"; then
		echo "$name: printed config does not parse:"; cat "$tmp/err"
		exit 1
	fi
	if ! diff -u "$tmp/out" "$tmp/out2"; then
		echo "$name: printed config does not round-trip"; exit 1
	fi
	;;
esac
exit 0
