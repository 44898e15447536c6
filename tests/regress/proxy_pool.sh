# proxy_pool.sh: an upstream connection outlives its client: the next
# client of the same listener to the same destination gets it, and the
# origin sees one connection.  Another listener never gets it; nor does
# a request whose destination the policy no longer lets through, after a
# reload.
. "${top_srcdir:-.}/tests/regress/lib.sh"

PA=$(free_port)
PB=$(free_port)
WP=$(free_port)
cat >"$T/hosts" <<EOF2
127.0.0.1 web.test
EOF2
write_conf() {
	conf_write <<EOF2
resolver hosts-file "$T/hosts"
policy "default" {
	loopback $1
	ports $WP
	allow "web.test"
}
proxy listen on 127.0.0.1 port $PA
proxy listen on 127.0.0.1 port $PB
EOF2
}
write_conf yes
start_peer http 127.0.0.1 "$WP"
start_sbxd

# peer LISTENER: the origin's view of the connection that carried the
# request, through a new client connection each time.
peer() {
	curl -sS -x "http://127.0.0.1:$1" --max-time 20 \
	    "http://web.test:$WP/peer"
}
a1=$(peer $PA) || fail "first request"
a2=$(peer $PA) || fail "second request"
a3=$(peer $PA) || fail "third request"
[ -n "$a1" ] && [ "$a1" = "$a2" ] && [ "$a2" = "$a3" ] ||
    fail "three clients, three upstream connections: $a1 $a2 $a3"
[ "$(component proxy | json_get '["pooled"]')" -ge 2 ] ||
    fail "status does not count the pooled requests"
[ "$(component proxy | json_get '["parked"]')" = 1 ] ||
    fail "status does not show the parked connection"

# The other listener (another sandbox) connects on its own.
b1=$(peer $PB) || fail "request on the other listener"
[ "$b1" != "$a1" ] || fail "another listener got a parked connection"

# A client that closes between requests leaves its upstream too.
c=$(curl -sS -x "http://127.0.0.1:$PA" --max-time 20 \
    "http://web.test:$WP/peer" "http://web.test:$WP/peer" | sort -u)
[ "$c" = "$a1" ] || fail "keep-alive client: $c, want $a1"

# After a reload that refuses loopback, nothing parked is used: the
# request is judged and blocked.
write_conf no
ctl reload >/dev/null || fail "reload"
code=$(curl -sS -o /dev/null -w '%{http_code}' -x "http://127.0.0.1:$PA" \
    --max-time 20 "http://web.test:$WP/peer") || fail "request after reload"
[ "$code" = 403 ] || fail "after loopback no: $code, want 403"
pass
