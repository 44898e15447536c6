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
# The resume flag each CLI takes.
SID=$(ctl -j turns $CX | json_get '["turns"][-1]["session"]')
grep -qx resume "$T/home/$CX/prompts/2.argv" &&
    grep -qx "$SID" "$T/home/$CX/prompts/2.argv" ||
    fail "codex was not resumed with exec resume $SID"
grep -qx -- "--session" "$T/home/$OC/prompts/2.argv" ||
    fail "opencode was not resumed with --session"
grep -qx -- "--resume" "$T/home/$CL/prompts/2.argv" ||
    fail "claude was not resumed with --resume"
# The environment is built from scratch: the sandbox's, LANG, the env line.
E=$T/home/$CL/prompts/1.env
for v in "HOME=$T/home/$CL" "USER=sbx-$CL" "LOGNAME=sbx-$CL" "LANG=C.UTF-8" \
    "FAKE_AGENT=claude" "TMPDIR=$T/home/$CL/tmp" "HTTP_PROXY=http://127.0.0.1:"*; do
	grep -q "^$v" "$E" || fail "turn environment lacks $v: $(cat "$E")"
done
grep -q "^SBXD\|^SUDO\|^SSH_\|^CI=" "$E" && fail "sbxd's environment leaked"
# reset forgets the session; --new starts one for a turn.
ctl reset $CL | grep -q "forgotten" || fail "reset $CL"
ctl ask $CL fresh >"$T/ask.out" 2>&1 || fail "ask after reset"
grep -q "^echo: fresh (turn 1)" "$T/ask.out" || fail "reset: $(cat "$T/ask.out")"
ctl ask $CL --new newer >"$T/ask.out" 2>&1 || fail "ask --new"
grep -q "^echo: newer (turn 1)" "$T/ask.out" || fail "--new: $(cat "$T/ask.out")"
# Modes: the first is the default; a mode adds its args.
ctl mode $CL | grep -q "mode plan (modes: plan build)" || fail "mode $CL"
grep -qx "plan" "$T/home/$CL/prompts/1.argv" || fail "plan args missing"
ctl mode $CL build >/dev/null || fail "mode build"
ctl ask $CL built >/dev/null 2>&1 || fail "ask in build mode"
N=$(ls "$T/home/$CL/prompts" | grep -c '^[0-9]*$')
grep -qx "acceptEdits" "$T/home/$CL/prompts/$N.argv" || fail "build args missing"
ctl ask $CL --mode plan once >/dev/null 2>&1 || fail "ask --mode plan"
grep -qx "plan" "$T/home/$CL/prompts/$((N + 1)).argv" || fail "--mode plan"
ctl mode $CL | grep -q "mode build" || fail "--mode changed the sandbox's mode"
ctl mode $CL nosuch >"$T/out" 2>&1 && fail "an unknown mode was set"
grep -q 'no mode "nosuch"' "$T/out" || fail "unknown mode: $(cat "$T/out")"
ctl ask $CL --mode nosuch hi >"$T/out" 2>&1 && fail "ask in an unknown mode"

# Prompts arrive byte for byte, by argv words or on stdin, never in argv.
printf '%s\n' 'a $(touch /tmp/pwned$$) `id` "q" '"'"'s'"'"' ; --flag -x' \
    'second line' >"$T/p1"
python3 - >"$T/p2" <<'EOF3'
import sys
sys.stdout.write("unicode \u00e9 \u2713 $HOME ${PATH} \\n \t tab\n")
for i in range(5500):
    sys.stdout.write("line %06d $(x) `y` '\"; --z & | > < * ? ~ !\n" % i)
EOF3
[ "$(wc -c <"$T/p2")" -gt 200000 ] || fail "p2 is not over 200 KiB"
for f in p1 p2; do
	ctl ask $CM <"$T/$f" >/dev/null 2>"$T/ask.err" ||
	    fail "ask $f on stdin: $(cat "$T/ask.err")"
	N=$(ls "$T/home/$CM/prompts" | grep -c '^[0-9]*$')
	cmp "$T/$f" "$T/home/$CM/prompts/$N" || fail "prompt $f changed"
	grep -q 'pwned\|second line' "$T/home/$CM/prompts/$N.argv" &&
	    fail "the prompt was in argv"
done
[ -e /tmp/pwned$$ ] && fail "a prompt ran a command"
ctl ask $CM -- --flag '$(id)' "two words" >/dev/null 2>&1 || fail "ask words"
N=$(ls "$T/home/$CM/prompts" | grep -c '^[0-9]*$')
[ "$(cat "$T/home/$CM/prompts/$N")" = '--flag $(id) two words' ] ||
    fail "words prompt: $(cat "$T/home/$CM/prompts/$N")"

# Bad prompts are refused with a reason, and nothing runs.
python3 -c "import sys; sys.stdout.write('x' * (256 * 1024 + 1))" >"$T/big"
ctl ask $CM <"$T/big" >"$T/out" 2>&1 && fail "a prompt over 256 KiB"
grep -q "over 262144 bytes" "$T/out" || fail "big prompt: $(cat "$T/out")"
python3 - "$SOCK" $CM >"$T/out" <<'EOF3' || fail "raw asks: $(cat "$T/out")"
import json, socket, sys
def ask(obj):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    s.sendall((json.dumps(obj) + "\n").encode())
    r = json.loads(s.makefile().readline())
    s.close()
    return r
r = ask({"command": "ask", "name": sys.argv[2], "prompt": "a\u0000b"})
assert not r["ok"] and "NUL" in r["error"], r
r = ask({"command": "ask", "name": sys.argv[2], "prompt": ""})
assert not r["ok"] and "empty" in r["error"], r
r = ask({"command": "ask", "name": sys.argv[2], "prompt": "y" * (256 * 1024 + 1)})
assert not r["ok"] and "256 KiB" in r["error"], r
r = ask({"command": "ask", "name": "nosuch", "prompt": "hi"})
assert not r["ok"] and "no sandbox" in r["error"], r
print("refused")
EOF3
N2=$(ls "$T/home/$CM/prompts" | grep -c '^[0-9]*$')
[ "$N2" = "$N" ] || fail "a refused prompt ran"

# Broken CLIs fail their turn with a reason; the sandbox goes on.
ask_fails() {
	ctl ask "$1" "$2" >"$T/ask.out" 2>"$T/ask.err" && fail "ask $2 succeeded"
	[ $? -eq 1 ] || fail "ask $2: exit not 1"
	grep -q "$3" "$T/ask.err" || fail "ask $2: $(cat "$T/ask.err")"
}
ask_fails $OC GARBAGE "failed: output line 1 is not JSON"
ask_fails $OC FLOOD "failed: a line of its output is over 1048576 bytes"
ask_fails $CX CRASH "failed: exited 3 before the end of its turn"
ask_fails $CX FAIL "failed: the fake model failed"
ask_fails $CL FAIL "failed: the fake model failed"
ask_fails $GM FAIL "failed: the fake model failed"
ask_fails $CM FAIL "failed: exited 2"
ask_fails $OC "STDERR CRASH" "stderr: fake_agent: a warning on stderr"
# opencode stays after its done line: the turn ends, the CLI is stopped.
ctl ask $OC LINGER >"$T/ask.out" 2>"$T/ask.err" || fail "LINGER: $(cat "$T/ask.err")"
sleep 1
pgrep -u "sbx-$OC" >/dev/null && fail "the lingering CLI was not stopped"
ctl ask $OC "after all that" >"$T/ask.out" 2>&1 || fail "ask $OC after failures"
pass
