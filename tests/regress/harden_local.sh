# harden_local.sh: this host's own addresses count as loopback.  In a
# namespace that has addresses that look public (IPv4 and IPv6), a
# service listens on every address; under "default allow" with
# "loopback no" the proxy refuses it through those addresses, by literal
# and by name, as it does through 127.0.0.1, and lets it through once
# "loopback yes".  Needs root (a namespace).
. "${top_srcdir:-.}/tests/regress/lib.sh"
need_root
for t in ip curl; do
	command -v $t >/dev/null || skip "needs $t"
done
ns_setup
A4=11.213.0.1
A6=2a0b:213::1
in_ns ip addr add "$A4/32" dev lo || fail "address $A4"
in_ns ip addr add "$A6/128" dev lo nodad || fail "address $A6"

PP=$(free_port)
WP=$(free_port)
cat >"$T/hosts" <<EOF2
$A4 own.test
$A6 own6.test
EOF2
conf_body() {
	cat <<EOF2
resolver hosts-file "$T/hosts"
policy "default" {
	default allow
	loopback $1
	ports $WP
}
proxy listen on 127.0.0.1 port $PP
EOF2
}
conf_body no | conf_write
(in_ns python3 "$top_srcdir/tests/regress/peer.py" http :: "$WP" \
    >"$T/peer" 2>&1) &
PEER_PIDS="$PEER_PIDS $!"
wait_for grep -q ready "$T/peer" || fail "http peer"
start_ns_sbxd

get() {
	in_ns curl -sS -o /dev/null -D "$T/head" -x "http://127.0.0.1:$PP" \
	    --max-time 10 -w '%{http_code}' "$1" 2>/dev/null
}
reason() {
	tr -d '\r' <"$T/head" | sed -n 's/^X-Sbx-Block: //Ip'
}

# The service is there: straight, not through the proxy.
[ "$(in_ns curl -sS --max-time 5 "http://$A4:$WP/")" = hello ] ||
    fail "the service does not answer on $A4"

for u in "http://$A4:$WP/" "http://[$A6]:$WP/" "http://own.test:$WP/" \
    "http://own6.test:$WP/" "http://127.0.0.1:$WP/"; do
	c=$(get "$u")
	[ "$c" = 403 ] || fail "$u with loopback no: $c, want 403"
	[ "$(reason)" = loopback ] || fail "$u: reason $(reason)"
done

conf_body yes | conf_write
ctl reload >/dev/null || fail "reload"
for u in "http://$A4:$WP/" "http://[$A6]:$WP/" "http://own.test:$WP/"; do
	c=$(get "$u")
	[ "$c" = 200 ] || fail "$u with loopback yes: $c, want 200"
done
stop_sbxd
pass
