# harden_judge.sh: what a resolved address is judged by.  A name or an
# address literal that leads to one of this host's addresses on the port
# of one of sbxd's listeners is refused (own-listener), whatever the
# policy, IPv4 carried in IPv6 included, so that one listener never
# reaches another or itself; block rules on addresses hold for names
# that resolve there, and allow rules on addresses with a port open the
# name's loopback address on that port only.
. "${top_srcdir:-.}/tests/regress/lib.sh"
command -v curl >/dev/null || skip "needs curl"

P1=$(free_port)
P2=$(free_port)
P3=$(free_port)
P4=$(free_port)
WP=$(free_port)
WP2=$(free_port)
cat >"$T/hosts" <<EOF2
127.0.0.1 localhost web.test blocked.test named.test
::ffff:127.0.0.1 mapped.test
EOF2
conf_write <<EOF2
resolver hosts-file "$T/hosts"
policy "open" {
	default allow
	loopback yes
}
policy "closed" {
}
policy "rules" {
	default allow
	loopback yes
	block "127.0.0.1:$WP2"
}
policy "addr" {
	ports $WP $WP2
	allow "named.test"
	allow "127.0.0.1:$WP"
}
policy "default" {
}
proxy listen on 127.0.0.1 port $P1 policy "open"
proxy listen on 127.0.0.1 port $P2 policy "closed"
proxy listen on 127.0.0.1 port $P3 policy "rules"
proxy listen on 127.0.0.1 port $P4 policy "addr"
EOF2
start_peer http 127.0.0.1 "$WP"
start_peer http 127.0.0.1 "$WP2"
start_sbxd

# tunnel PROXYPORT HOST PORT: the status of a CONNECT through it.
tunnel() {
	curl -sS -o /dev/null -p -x "http://127.0.0.1:$1" --max-time 10 \
	    -w '%{http_connect}' "http://$2:$3/" 2>/dev/null
}

# get PROXYPORT URL: the status and X-Sbx-Block of a plain request.
get() {
	curl -sS -o /dev/null -D "$T/head" -x "http://127.0.0.1:$1" \
	    --max-time 10 -w '%{http_code}' "$2" 2>/dev/null
}

block_reason() {
	tr -d '\r' <"$T/head" | sed -n 's/^X-Sbx-Block: //Ip'
}

# The open listener reaches the origin by name, also through IPv4 in
# IPv6 (judged and reached as 127.0.0.1)...
[ "$(get "$P1" "http://web.test:$WP/")" = 200 ] || fail "web.test"
[ "$(get "$P1" "http://mapped.test:$WP/")" = 200 ] ||
    fail "a v4-mapped address of an allowed name"
[ "$(tunnel "$P1" web.test "$WP")" = 200 ] || fail "tunnel to web.test"

# ...but never another listener, or itself, by any name or literal.
for h in localhost web.test mapped.test 127.0.0.1 127.0.0.2 \
    "[::ffff:127.0.0.1]" "[::1]"; do
	for p in "$P2" "$P1"; do
		c=$(tunnel "$P1" "$h" "$p")
		[ "$c" = 403 ] || fail "CONNECT $h:$p through the open " \
		    "listener: $c, want 403"
	done
	c=$(get "$P1" "http://$h:$P2/")
	[ "$c" = 403 ] || fail "GET $h:$P2 through the open listener: $c"
	[ "$(block_reason)" = own-listener ] ||
	    fail "GET $h:$P2: reason $(block_reason)"
done
log_has "own-listener" || fail "no own-listener in the log"

# A block rule on an address holds for a name that resolves there.
[ "$(get "$P3" "http://blocked.test:$WP2/")" = 403 ] ||
    fail "a name resolving to a blocked address:port got through"
[ "$(block_reason)" = policy ] || fail "reason $(block_reason), want policy"
[ "$(get "$P3" "http://blocked.test:$WP/")" = 200 ] ||
    fail "the block rule's port is not the only one it holds"

# An allow rule on a loopback address and port opens it for a name the
# policy allows, on that port only.
[ "$(get "$P4" "http://named.test:$WP/")" = 200 ] ||
    fail "an allow rule with a port does not open the name's address"
[ "$(get "$P4" "http://named.test:$WP2/")" = 403 ] ||
    fail "the allow rule opened another port"
[ "$(block_reason)" = loopback ] || fail "reason $(block_reason)"
[ "$(get "$P4" "http://web.test:$WP/")" = 403 ] ||
    fail "an address rule opened a name the policy blocks"
[ "$(block_reason)" = policy ] || fail "reason $(block_reason)"
stop_sbxd
pass
