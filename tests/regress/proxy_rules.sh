# proxy_rules.sh: runtime rules.  sbxctl allow and deny change what a
# listener lets through at once, are listed by sbxctl rules, publish
# proxy.rule, and survive a restart; bad patterns and unknown listeners
# are refused with a message.
. "${top_srcdir:-.}/tests/regress/lib.sh"

PP=$(free_port)
WP=$(free_port)
PROXY=127.0.0.1:$PP
cat >"$T/hosts" <<EOF2
127.0.0.1 web.test pypi.test x.pypi.test
EOF2
conf_write <<EOF2
resolver hosts-file "$T/hosts"
policy "default" {
	loopback yes
	ports $WP
	allow "web.test" ".pypi.test"
}
proxy listen on 127.0.0.1 port $PP
EOF2
start_peer http 127.0.0.1 "$WP"
start_sbxd
code() {
	through "http://$1:$WP/" -o /dev/null -w '%{http_code}'
}
"$SBXCTL" -s "$SOCK" -j events >"$T/events" 2>&1 &
PEER_PIDS="$PEER_PIDS $!"
wait_for followers_at_least 1 || fail "the events follower did not connect"

[ "$(code x.pypi.test)" = 200 ] || fail "policy allow"
ctl deny "$PROXY" x.pypi.test || fail "deny"
[ "$(code x.pypi.test)" = 403 ] || fail "deny not applied"
[ "$(code pypi.test)" = 200 ] || fail "deny too broad"
ctl allow "$PROXY" x.pypi.test || fail "allow"
[ "$(code x.pypi.test)" = 200 ] || fail "allow did not replace deny"
ctl deny "$PROXY" "*.web.test:$WP" || fail "deny with port"
wait_for grep -q '"type":"proxy.rule".*"action":"block".*"pattern":"\*.web.test:'"$WP"'"' \
    "$T/events" || fail "no proxy.rule event"

ctl rules "$PROXY" >"$T/rules" || fail "rules"
grep -Eq "^allow +x\.pypi\.test " "$T/rules" || fail "rules: $(cat "$T/rules")"
grep -Eq "^block +\*\.web\.test:$WP " "$T/rules" || fail "rules list"
head -1 "$T/rules" | grep -q "policy default" || fail "rules header"

ctl allow "$PROXY" "*.com" 2>"$T/err" && fail "*.com accepted"
grep -q "top-level domain" "$T/err" || fail "$(cat "$T/err")"
ctl allow 127.0.0.1:1 x.test 2>"$T/err" && fail "unknown listener"
grep -q 'no listener "127.0.0.1:1"' "$T/err" || fail "$(cat "$T/err")"
ctl allow "$PROXY" 2>"$T/err" && fail "missing pattern"
grep -q "usage: sbxctl allow name | listener pattern" "$T/err" || fail "usage"

# A restart keeps them.
stop_sbxd
start_sbxd
[ "$(code x.pypi.test)" = 200 ] || fail "allow lost on restart"
ctl deny "$PROXY" x.pypi.test
stop_sbxd
start_sbxd
[ "$(code x.pypi.test)" = 403 ] || fail "deny lost on restart"
[ "$(ctl -j rules "$PROXY" | json_get '["rules"][0]["action"]')" = block ] ||
    fail "stored action"
stop_sbxd
pass
