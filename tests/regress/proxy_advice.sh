# proxy_advice.sh: every refusal of a restricted sandbox's proxy names
# its actual cause, in the 403's body, X-Sbx-Block and the proxy.block
# event, and its advice, run exactly as written, lets the very request
# through: no rule matched on a port outside the policy's (the port is
# kept), a block rule of the configuration, a name that reaches a
# loopback address.  A port of sbxd's own listeners gets no command.
# Needs root.
. "${top_srcdir:-.}/tests/regress/lib.sh"
need_root
for t in ip nft curl useradd; do
	command -v $t >/dev/null || skip "needs $t"
done
PY=/usr/bin/python3

SRV=10.216.0.1
ns_setup
ns_peer_setup "$SRV" fd00:216::1
sandbox_name SB a
uid_block 61030 61039
cat >"$T/hosts" <<EOF2
$SRV web.test x.bad.test
127.0.0.1 lo.test
EOF2
peer_start 80 http "$SRV" 80
peer_start 8080 http "$SRV" 8080
# A server on the namespace's loopback, as a development server is.
(in_ns "$PY" "$top_srcdir/tests/regress/peer.py" http 127.0.0.1 8000 \
    >"$T/peer.lo" 2>&1) &
PEER_PIDS="$PEER_PIDS $!"
wait_for grep -q ready "$T/peer.lo" || fail "loopback peer"

conf_write <<EOF2
resolver hosts-file "$T/hosts"
policy "agents" {
	default block
	private yes
	allow ".bad.test" "lo.test:8000"
	block "*.bad.test"
}
sandbox uid-range $UID_LO $UID_HI
sandbox port-range 950 959
sandbox home "$T/home"
sandbox shell "/bin/sh"
sandbox policy "agents"
sandbox firewall nftables table "sbxt$$"
EOF2
start_ns_sbxd
ctl create "$SB" >"$T/out" 2>&1 || { cat "$T/out"; fail "create $SB"; }
P=$(ctl -j show "$SB" | json_get '["sandbox"]["port"]')

# refused URL REASON CAUSE ADVICE: the request is refused with REASON
# in X-Sbx-Block, the body names CAUSE and ADVICE, and so does the
# event.
refused() {
	ctl exec "$SB" -- curl -sS -D - --max-time 10 "$1" >"$T/resp" 2>&1
	tr -d '\r' <"$T/resp" >"$T/r"
	head -1 "$T/r" | grep -q "^HTTP/1.1 403" || fail "$1: $(cat "$T/r")"
	grep -qx "X-Sbx-Block: $2" "$T/r" || fail "$1: reason: $(cat "$T/r")"
	grep -qF "is blocked: $3." "$T/r" || fail "$1: cause: $(cat "$T/r")"
	if [ -n "$4" ]; then
		grep -qxF "  $4" "$T/r" || fail "$1: advice: $(cat "$T/r")"
	else
		grep -q "To allow it" "$T/r" && fail "$1: advice: $(cat "$T/r")"
	fi
	wait_for python3 -c "import json, sys
for l in open('$T/events'):
    e = json.loads(l)
    if (e.get('type') == 'proxy.block' and e.get('sandbox') == '$SB' and
        e.get('reason') == '$2' and e.get('cause') == '''$3''' and
        e.get('advice') == ('''$4''' or None)):
        sys.exit(0)
sys.exit(1)" || fail "$1: no proxy.block with cause and advice"
}

# run ADVICE: the advice as an administrator types it.
run() {
	# shellcheck disable=SC2086
	"$SBXCTL" -s "$SOCK" ${1#sbxctl } >/dev/null || fail "$1"
}

# No rule matched, a port outside the policy's: the port stays.
refused http://web.test:8080/ policy "no rule of policy \"agents\" allows \
it, and the policy blocks what no rule allows" "sbxctl allow $SB web.test:8080"
run "sbxctl allow $SB web.test:8080"
[ "$(ctl exec "$SB" -- curl -sS --max-time 10 http://web.test:8080/)" = \
    hello ] || fail "web.test:8080 after its advice"
# The name on another port is still refused: the advice was that narrow.
refused http://web.test/ policy "no rule of policy \"agents\" allows it, \
and the policy blocks what no rule allows" "sbxctl allow $SB web.test"

# A block rule of the configuration.
refused http://x.bad.test/ policy "the rule block \"*.bad.test\" of policy \
\"agents\" blocks it" "sbxctl allow $SB x.bad.test:80"
run "sbxctl allow $SB x.bad.test:80"
[ "$(ctl exec "$SB" -- curl -sS --max-time 10 http://x.bad.test/)" = \
    hello ] || fail "x.bad.test after its advice"

# A name the policy allows that reaches loopback: that address only.
refused http://lo.test:8000/ loopback "lo.test is 127.0.0.1, a loopback \
address, which policy \"agents\" refuses (loopback no)" \
    "sbxctl allow $SB 127.0.0.1:8000"
run "sbxctl allow $SB 127.0.0.1:8000"
[ "$(ctl exec "$SB" -- curl -sS --max-time 10 http://lo.test:8000/)" = \
    hello ] || fail "lo.test:8000 after its advice"

# Its own listener's port: nothing to run.
refused "http://127.0.0.1:$P/" own-listener "its port is one of sbxd's \
own proxy listeners, which no rule can allow" ""

ctl rm "$SB" >/dev/null || fail "rm $SB"
stop_sbxd
pass
