#!/bin/sh
# check.sh FILE.conf: a config test.  A good config must print exactly its
# .ok file under "sbxd -nv", and that output must parse back to itself.  A
# bad-*.conf must fail with exit 1 and exactly the lines of its .err file.
# A good config that names key files as $keys/NAME gets them made here,
# root-only as sbxd requires (so it needs root, and is skipped without),
# and its output is compared with $keys standing for their directory; a
# key named app* is an RSA private key, as a GitHub App's.
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
	set --
	keys=$(sed -n 's/.*\$keys\/\([A-Za-z0-9_-]*\).*/\1/p' "$name")
	if [ -n "$keys" ]; then
		if [ "$(id -u)" -ne 0 ]; then
			echo "$name: skipped: its key files must be root's"
			exit 77
		fi
		mkdir -m 700 "$tmp/keys" || exit 99
		for k in $keys; do
			case $k in
			app*)	# a GitHub App's: an RSA private key
				(umask 077 && openssl genrsa -out \
				    "$tmp/keys/$k" 2048 2>/dev/null) ||
				    exit 99 ;;
			*)	(umask 077 && echo "sk-conf-test-$k" \
				    >"$tmp/keys/$k") || exit 99 ;;
			esac
		done
		set -- -D "keys=$tmp/keys"
	fi
	if ! "$sbxd" -nv "$@" -f "$name" >"$tmp/out" 2>"$tmp/err"; then
		echo "$name: rejected"; cat "$tmp/err"; exit 1
	fi
	if [ "$(cat "$tmp/err")" != "configuration OK" ]; then
		echo "$name: stderr:"; cat "$tmp/err"; exit 1
	fi
	sed "s|$tmp/keys/|\$keys/|g" "$tmp/out" >"$tmp/cmp"
	if ! diff -u "$base.ok" "$tmp/cmp"; then
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
