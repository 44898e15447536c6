# agent_claude.sh: the real Claude Code CLI (@anthropic-ai/claude-code,
# installed by .ci/install-deps) runs turns in a sandbox, offline, against
# tests/agent/anthropic_peer.py, a stand-in for the Messages API on the
# loopback of a network namespace this test creates.  The first turn uses
# a tool (Bash writes a file in the home, as the sandbox's user); the
# second resumes the session, and the model sees the first prompt again.
# Needs root and claude.
. "${top_srcdir:-.}/tests/regress/lib.sh"
need_root
for t in ip nft python3; do
	command -v $t >/dev/null || skip "needs $t"
done
CLAUDE=$(command -v claude) || skip "needs claude (sh .ci/install-deps)"

uid_block 61130 61139
sandbox_name CL cl
ns_setup
PORT=18700
(in_ns python3 "$top_srcdir/tests/agent/anthropic_peer.py" 127.0.0.1 $PORT \
    >"$T/peer.out" 2>"$T/peer.log") &
PEER_PIDS="$PEER_PIDS $!"
wait_for grep -q ready "$T/peer.out" || fail "the Messages API peer did not start"

conf_write <<EOF2
policy "default" {
	default block
}
sandbox uid-range $UID_LO $UID_HI
sandbox port-range 910 919
sandbox home "$T/home"
sandbox firewall nftables table "sbxt$$"
agent "claude" {
	type claude-code
	path "$CLAUDE"
	env "ANTHROPIC_BASE_URL" "http://127.0.0.1:$PORT"
	env "ANTHROPIC_API_KEY" "sk-ant-sbxd-test"
	env "DISABLE_TELEMETRY" "1"
	env "DISABLE_AUTOUPDATER" "1"
	env "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC" "1"
	mode "build" args "--permission-mode" "bypassPermissions"
	timeout 120s
}
sandbox agent "claude"
EOF2
start_ns_sbxd
ctl create $CL --open >"$T/out" 2>&1 || { cat "$T/out"; fail "create $CL"; }

# A tool use: the model asks for Bash, claude runs it as the sandbox user.
ctl ask $CL "please WRITE-FILE hello.txt hi-from-claude" >"$T/ask.out" \
    2>"$T/ask.err" || {
	cat "$T/ask.out" "$T/ask.err" "$T/peer.log"; fail "claude's first turn"; }
grep -q "wrote hello.txt" "$T/ask.out" || fail "turn 1: $(cat "$T/ask.out")"
grep -q "^\[Bash\] started: printf '%s' 'hi-from-claude' > hello.txt" \
    "$T/ask.err" || fail "no Bash line: $(cat "$T/ask.err")"
grep -q "^\[Bash\] ok" "$T/ask.err" || fail "Bash did not end ok"
[ "$(cat "$T/home/$CL/hello.txt")" = hi-from-claude ] ||
    fail "the file is not in the home"
[ "$(stat -c %u "$T/home/$CL/hello.txt")" = "$(id -u "sbx-$CL")" ] ||
    fail "the file is not the sandbox user's"
grep -q '"key": "sk-ant-sbxd-test"' "$T/peer.log" ||
    fail "claude did not use the configured key"

# The second turn resumes the conversation.
ctl ask $CL "and now the second" >"$T/ask.out" 2>"$T/ask.err" || {
	cat "$T/ask.out" "$T/ask.err"; fail "claude's second turn"; }
grep -q "continuing session" "$T/ask.err" || fail "not resumed: $(cat "$T/ask.err")"
grep -q "^echo: and now the second (turn 2)" "$T/ask.out" ||
    fail "turn 2 did not carry the session: $(cat "$T/ask.out")"
ctl -j turns $CL | python3 -c "import json, sys
t = json.load(sys.stdin)['turns']
assert [x['status'] for x in t] == ['ok', 'ok'], t
assert t[0]['session'] and t[0]['session'] == t[1]['session'], t
assert t[0]['tokens_in'] > 0 and t[0]['tokens_out'] > 0, t
assert t[0]['cost'] > 0, t" || fail "turn records: $(ctl -j turns $CL)"
ctl reset $CL >/dev/null || fail "reset"
ctl ask $CL "a fresh start" >"$T/ask.out" 2>&1 || fail "after reset"
grep -q "^echo: a fresh start (turn 1)" "$T/ask.out" ||
    fail "reset did not start a new conversation: $(cat "$T/ask.out")"
# The prompt travelled on stdin: no argv of claude held it.
ctl -j turn 1 | grep -q '"transcript"' || fail "no transcript"
ctl rm $CL >/dev/null 2>&1 || fail "rm $CL"
pass
