# harden_reload.sh: a reload never leaves a listener without its
# policy.  A configuration that drops the policy a sandbox uses is
# refused, by sbxctl reload and by SIGHUP, with a message naming the
# policy and the sandbox, and the running configuration goes on serving;
# an empty file sent with SIGHUP while requests flow is refused the same
# way and nothing breaks.  Needs root (a real sandbox, in a namespace).
. "${top_srcdir:-.}/tests/regress/lib.sh"
need_root
for t in ip nft curl useradd; do
	command -v $t >/dev/null || skip "needs $t"
done
ns_setup
sandbox_name SB a
WP=$(free_port)

conf_body() {
	cat <<EOF2
policy "default" {
}
EOF2
	[ "$1" = with ] && cat <<EOF2
policy "agents" {
	default allow
	loopback yes
}
EOF2
	cat <<EOF2
sandbox uid-range $UID_LO $UID_HI
sandbox port-range 850 859
sandbox home "$T/home"
sandbox shell "/bin/sh"
sandbox firewall nftables table "sbxt$$"
EOF2
}
uid_block 60600 60609
conf_body with | conf_write
(in_ns python3 "$top_srcdir/tests/regress/peer.py" http 127.0.0.1 "$WP" \
    >"$T/peer" 2>&1) &
PEER_PIDS="$PEER_PIDS $!"
wait_for grep -q ready "$T/peer" || fail "http peer"
start_ns_sbxd
nft_cleanup() {
	in_ns nft delete table inet "sbxt$$" 2>/dev/null
}
on_exit nft_cleanup

ctl create "$SB" --policy agents >"$T/out" 2>&1 || {
	cat "$T/out"; fail "create $SB"; }
PORT=$(ctl -j show "$SB" | json_get '["sandbox"]["port"]')

# through: a request through the sandbox's listener (as root: the
# listener serves whoever connects; the firewall decides who may).
through_sb() {
	in_ns curl -sS -o /dev/null -w '%{http_code}' --max-time 10 \
	    -x "http://127.0.0.1:$PORT" "http://127.0.0.1:$WP/"
}
[ "$(through_sb)" = 200 ] || fail "the sandbox's listener does not serve"

# Drop "agents" and reload: refused, the sandbox's listener keeps it.
conf_body without | conf_write
ctl reload >"$T/reload" 2>&1 && fail "a reload that drops a used policy"
grep -q "policy \"agents\" is not defined, and listener .* of sandbox $SB" \
    "$T/reload" || fail "reload message: $(cat "$T/reload")"
log_has "reload failed" || fail "the log does not say the reload failed"
[ "$(through_sb)" = 200 ] || fail "the listener lost its policy"
ctl -j status | grep -q "\"policy\": *\"agents\"" ||
    fail "status does not show policy agents"

# The same by SIGHUP.
kill -HUP "$SBXD_PID"
wait_for sh -c "[ \$(grep -c 'reload failed' '$LOG') -ge 2 ]" ||
    fail "SIGHUP not refused"
[ "$(through_sb)" = 200 ] || fail "the listener lost its policy on SIGHUP"

# An empty file, by SIGHUP, while requests flow.
: >"$CONF"
(for i in $(seq 60); do through_sb; echo; done >"$T/load" 2>&1) &
LOAD=$!
for i in 1 2 3 4 5; do
	kill -HUP "$SBXD_PID"
	sleep 0.2
done
wait $LOAD
kill -0 "$SBXD_PID" || fail "sbxd died"
grep -v '^$' "$T/load" | grep -qv '^200$' &&
    fail "requests failed under the reloads: $(sort "$T/load" | uniq -c)"
[ "$(through_sb)" = 200 ] || fail "the listener after the empty reloads"
ctl status >/dev/null || fail "status after the empty reloads"

# With "agents" back, a reload works again.
conf_body with | conf_write
ctl reload >"$T/reload" 2>&1 || fail "reload: $(cat "$T/reload")"
ctl rm "$SB" >/dev/null 2>&1 || fail "rm $SB"
stop_sbxd
pass
