# agent.sh: agent turns end to end, inside a network namespace this test
# creates.  sbxd runs one sandbox per agent type, each with a stand-in
# CLI (tests/agent/fake_agent.py) that speaks that CLI's stream format;
# sbxctl ask streams turns, resumes sessions, keeps FIFO order, refuses
# what it must, interrupts a process tree that ignores SIGINT without
# touching another user's, times out, survives rm and a restart.  Needs
# root.
. "${top_srcdir:-.}/tests/regress/lib.sh"
need_root
for t in ip nft python3 runuser; do
	command -v $t >/dev/null || skip "needs $t"
done

uid_block 61110 61129
sandbox_name CL cl
sandbox_name CX cx
sandbox_name OC oc
sandbox_name GM gm
sandbox_name CM cm
sandbox_name SL sl

ns_setup
mkdir -p "$T/pub" && chmod 0755 "$T/pub"
install -m 0755 "$top_srcdir/tests/agent/fake_agent.py" "$T/pub/fake_agent"

conf_write <<EOF2
policy "default" {
	default block
}
sandbox uid-range $UID_LO $UID_HI
sandbox port-range 900 909
sandbox home "$T/home"
sandbox firewall nftables table "sbxt$$"
agent "fclaude" {
	type claude-code
	path "$T/pub/fake_agent"
	env "FAKE_AGENT" "claude"
	mode "plan" args "--permission-mode" "plan"
	mode "build" args "--permission-mode" "acceptEdits"
	timeout 60s
}
agent "fcodex" {
	type codex
	path "$T/pub/fake_agent"
	args "--model" "fake"
	env "FAKE_AGENT" "codex"
}
agent "fopencode" {
	type opencode
	path "$T/pub/fake_agent"
	env "FAKE_AGENT" "opencode"
}
agent "fgemini" {
	type gemini
	path "$T/pub/fake_agent"
	env "FAKE_AGENT" "gemini"
	queue 2
}
agent "fcmd" {
	type command
	path "$T/pub/fake_agent"
	env "FAKE_AGENT" "command"
	queue 25
}
agent "fslow" {
	type command
	path "$T/pub/fake_agent"
	env "FAKE_AGENT" "command"
	timeout 2s
}
sandbox agent "fclaude"
EOF2

start_ns_sbxd
ctl create $CL >"$T/out" 2>&1 || { cat "$T/out"; fail "create $CL"; }
ctl create $CX --agent fcodex >/dev/null 2>&1 || fail "create $CX"
ctl create $OC --agent fopencode >/dev/null 2>&1 || fail "create $OC"
ctl create $GM --agent fgemini >/dev/null 2>&1 || fail "create $GM"
ctl create $CM --agent fcmd >/dev/null 2>&1 || fail "create $CM"
ctl create $SL --agent fslow >/dev/null 2>&1 || fail "create $SL"
ctl create nope$$ --agent nosuch >"$T/out" 2>&1 && fail "create with an unknown agent"
grep -q 'no agent "nosuch"' "$T/out" || fail "unknown agent: $(cat "$T/out")"

# A turn of each type: text on stdout, tools on stderr, exit 0, the
# tool's file in the home; the second turn continues the session.
for s in $CL $CX $OC $GM $CM; do
	ctl ask $s hello TOOL >"$T/ask.out" 2>"$T/ask.err" || {
		cat "$T/ask.out" "$T/ask.err"; fail "ask $s"; }
	grep -q "^echo: hello TOOL (turn 1)" "$T/ask.out" ||
	    fail "ask $s: $(cat "$T/ask.out" "$T/ask.err")"
	grep -q "ok (" "$T/ask.err" || fail "ask $s: no end: $(cat "$T/ask.err")"
	[ "$(cat "$T/home/$s/tool.out")" = done ] || fail "$s: no tool.out"
	[ $s = $CM ] && continue
	grep -q "^\[.*\] \(started\|ok\)" "$T/ask.err" ||
	    fail "ask $s: no tool line: $(cat "$T/ask.err")"
	ctl ask $s again >"$T/ask.out" 2>"$T/ask.err" || fail "ask $s again"
	grep -q "^echo: again (turn 2)" "$T/ask.out" ||
	    fail "ask $s did not resume: $(cat "$T/ask.out" "$T/ask.err")"
done
pass
