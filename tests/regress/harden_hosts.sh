# harden_hosts.sh: a reload re-reads the hosts-file, even at the same
# path: a name moved to another address goes there after the reload,
# and a hosts-file that went unreadable is an error and the running
# resolver is kept.
. "${top_srcdir:-.}/tests/regress/lib.sh"

PP=$(free_port)
WP=$(free_port)
echo "127.0.0.1 web.test" >"$T/hosts"
conf_write <<EOF2
resolver hosts-file "$T/hosts"
policy "default" {
	loopback yes
	ports $WP
	allow "web.test"
}
proxy listen on 127.0.0.1 port $PP
EOF2
start_peer http 127.0.0.1 "$WP"
start_sbxd

get() {
	curl -sS -o /dev/null -w '%{http_code}' -x "http://127.0.0.1:$PP" \
	    "http://web.test:$WP/" 2>/dev/null
}
[ "$(get)" = 200 ] || fail "web.test before the change"

# The same file, a new address where nothing listens.
echo "127.0.0.3 web.test" >"$T/hosts"
ctl reload >/dev/null || fail "reload"
[ "$(get)" = 502 ] || fail "web.test still goes to its old address"
log_has "proxy: resolver settings applied" || fail "not logged"

# Back, then unreadable: the reload says so and keeps the resolver.
echo "127.0.0.1 web.test" >"$T/hosts"
ctl reload >/dev/null || fail "reload"
[ "$(get)" = 200 ] || fail "web.test not back"
mv "$T/hosts" "$T/hosts.away"
ctl reload >"$T/reload.out" 2>&1 && fail "a reload without the hosts-file passed"
grep -q "sbxd.conf:4: hosts-file .*No such file" "$T/reload.out" || fail "reload: $(cat "$T/reload.out")"
[ "$(get)" = 200 ] || fail "the running resolver was not kept"
stop_sbxd
pass
