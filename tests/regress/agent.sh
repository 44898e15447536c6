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

# busy NAME: sandbox NAME runs a turn.
busy() {
	ctl -j status | python3 -c "import json, sys
for c in json.load(sys.stdin)['components']:
    if c['name'] == 'agent':
        sys.exit(0 if any(x['name'] == '$1' and x['state'] == 'busy'
                          for x in c['sandboxes']) else 1)
sys.exit(1)"
}

# live USER: USER has a process that is not a zombie (a killed orphan
# stays a zombie here: PID 1 does not reap).
live() {
	ps -u "$1" -o stat= 2>/dev/null | grep -qv '^Z'
}

# turn_ok ID: turn ID ended well.
turn_ok() {
	[ "$(ctl -j turn "$1" | json_get '["turn"]["status"]')" = ok ]
}

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

# engine_fds: the descriptors the engine holds.
engine_fds() {
	ls "/proc/$(component priv | json_get '["engine_pid"]')/fd" | wc -l
}
FDS0=$(engine_fds)

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
live "sbx-$OC" && fail "the lingering CLI was not stopped"
ctl ask $OC "after all that" >"$T/ask.out" 2>&1 || fail "ask $OC after failures"

# FIFO: 20 asks at once run one at a time, in the order they were queued,
# each client following its own turn.
FIRST=$(ls "$T/home/$CM/prompts" | grep -c '^[0-9]*$')
i=1
while [ $i -le 20 ]; do
	ctl ask $CM "fifo $i" >"$T/fifo.$i" 2>&1 &
	eval "FIFO_$i=\$!"
	i=$((i + 1))
done
i=1
while [ $i -le 20 ]; do
	eval "wait \$FIFO_$i" || fail "fifo ask $i: $(cat "$T/fifo.$i")"
	grep -q "^echo: fifo $i (turn" "$T/fifo.$i" ||
	    fail "fifo ask $i got another turn: $(cat "$T/fifo.$i")"
	i=$((i + 1))
done
ctl -j turns $CM -n 20 >"$T/turns" || fail "turns $CM"
python3 - "$T/turns" "$T/home/$CM/prompts" "$FIRST" <<'EOF3' ||
import json, sys
turns = json.load(open(sys.argv[1]))["turns"]
assert len(turns) == 20, len(turns)
ids = [t["id"] for t in turns]
assert ids == sorted(ids)
# One at a time: each started after the one before it ended.
for a, b in zip(turns, turns[1:]):
    assert a["status"] == "ok" and b["status"] == "ok", (a, b)
    assert a["ended_at"] <= b["started_at"], (a, b)
# Run in queue order: the n-th prompt the agent saw is the n-th turn's.
first = int(sys.argv[3])
seen = [open("%s/%d" % (sys.argv[2], first + k + 1)).read()
        for k in range(20)]
print("fifo ok")
EOF3
    fail "turns ran out of order or overlapped"
N=$FIRST
for id in $(python3 -c "import json; print(' '.join(str(t['id']) for t in json.load(open('$T/turns'))['turns']))"); do
	N=$((N + 1))
	ctl -j turn "$id" | json_get '["turn"]["prompt"]' >"$T/tp" ||
	    fail "turn $id"
	printf '%s\n' "$(cat "$T/home/$CM/prompts/$N")" | cmp -s - "$T/tp" ||
	    fail "turn $id ran $(cat "$T/home/$CM/prompts/$N"), not $(cat "$T/tp")"
done

# A full queue refuses; the position is told.
ctl ask $GM SLOW >"$T/slow.out" 2>&1 &
SLOWPID=$!
wait_for busy $GM || { ctl -j status; cat "$T/slow.out"; fail "no busy turn"; }
ctl ask $GM q1 >"$T/q1" 2>&1 &
Q1=$!
wait_for grep -q "queued #1" "$T/q1" || fail "q1 not queued #1: $(cat "$T/q1")"
ctl ask $GM q2 >"$T/q2" 2>&1 &
Q2=$!
wait_for grep -q "queued #2" "$T/q2" || fail "q2 not queued #2: $(cat "$T/q2")"
ctl ask $GM q3 >"$T/out" 2>&1 && fail "a third ask joined a queue of 2"
grep -q "queue of $GM is full (2 prompts wait)" "$T/out" ||
    fail "full queue: $(cat "$T/out")"
ctl -j status | python3 -c "import json, sys
for c in json.load(sys.stdin)['components']:
    if c['name'] == 'agent':
        s = [x for x in c['sandboxes'] if x['name'] == '$GM'][0]
        assert s['state'] == 'busy' and s['queue'] == 2, s
        assert s['agent'] == 'fgemini' and s['mode'] == 'default', s
        sys.exit(0)
sys.exit(1)" || fail "status does not show $GM busy with 2 queued"
# Interrupt: SIGINT stops gemini; the queue goes on.
ctl interrupt $GM >"$T/out" 2>&1 || fail "interrupt $GM: $(cat "$T/out")"
grep -q "interrupted: interrupted by root; [0-9]* processes stopped, none left" \
    "$T/out" || fail "interrupt report: $(cat "$T/out")"
wait $SLOWPID
[ $? -eq 130 ] || fail "an interrupted ask does not exit 130"
wait $Q1 || fail "q1 after the interrupt: $(cat "$T/q1")"
wait $Q2 || fail "q2 after the interrupt: $(cat "$T/q2")"
ctl interrupt $GM >"$T/out" 2>&1 && fail "interrupt of an idle sandbox"
grep -q "runs no turn" "$T/out" || fail "idle interrupt: $(cat "$T/out")"

# claude is asked to stop on its stdin, and ends its turn itself.
ctl ask $CL SLOW >"$T/slow.out" 2>&1 &
SLOWPID=$!
wait_for grep -q "tick 3" "$T/slow.out" || fail "no SLOW ticks"
# The prompt is in no process's argv.
for p in $(pgrep -u "sbx-$CL"); do
	tr '\0' ' ' <"/proc/$p/cmdline" | grep -q SLOW &&
	    fail "the prompt is in the argv of pid $p"
done
ctl interrupt $CL >"$T/out" 2>&1 || fail "interrupt $CL"
wait $SLOWPID
[ $? -eq 130 ] || fail "claude's interrupted ask: $(cat "$T/slow.out")"
grep -q "control_response" "$T/slow.out" && fail "protocol lines reached the user"

# A tree that ignores SIGINT and SIGTERM and forks a daemon is killed
# whole; processes of another sandbox and of another user survive.
ctl exec $CX -- sleep 300 >/dev/null 2>&1 &
OTHER_SB=$!
runuser -u nobody -- sleep 300 >/dev/null 2>&1 &
OTHER_USER=$!
ctl ask $CM STUBBORN >"$T/slow.out" 2>&1 &
SLOWPID=$!
wait_for test -s "$T/home/$CM/daemon.pid" || fail "no daemon"
DPID=$(cat "$T/home/$CM/daemon.pid")
kill -0 "$DPID" || fail "the daemon is not running"
ctl interrupt $CM >"$T/out" 2>&1 || fail "interrupt STUBBORN"
grep -q "none left" "$T/out" || fail "STUBBORN: $(cat "$T/out")"
wait $SLOWPID
[ $? -eq 130 ] || fail "STUBBORN ask did not exit 130"
kill -0 "$DPID" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$DPID/status" &&
    fail "the daemon of the turn survived"
live "sbx-$CM" && fail "a process of sbx-$CM survived"
kill -0 $OTHER_USER || fail "another user's process was killed"
pgrep -u "sbx-$CX" sleep >/dev/null || fail "another sandbox's process was killed"
kill $OTHER_USER 2>/dev/null
pkill -u "sbx-$CX" sleep

# Timeout: the same path, reported as timeout.
ctl ask $SL SLOW >"$T/out" 2>&1 && fail "a turn over its timeout succeeded"
grep -q "turn [0-9]* timeout: no end after 2 seconds; [0-9]* processes stopped, none left" \
    "$T/out" || fail "timeout: $(cat "$T/out")"

# rm of a busy sandbox: its turn is interrupted, its queue cancelled.
ctl ask $CM SLOW >"$T/slow.out" 2>&1 &
SLOWPID=$!
wait_for busy $CM || fail "$CM is not busy"
ctl ask $CM after >"$T/q1" 2>&1 &
Q1=$!
wait_for grep -q "queued #1" "$T/q1" || fail "not queued behind: $(cat "$T/q1")"
ctl rm $CM >"$T/out" 2>&1 || fail "rm of a busy sandbox: $(cat "$T/out")"
wait $SLOWPID
[ $? -eq 130 ] || fail "rm: the turn was not interrupted: $(cat "$T/slow.out")"
grep -q "the sandbox is being removed" "$T/slow.out" ||
    fail "rm: $(cat "$T/slow.out")"
wait $Q1 && fail "a queued turn ran after rm"
grep -q "cancelled: the sandbox was removed" "$T/q1" || fail "rm: $(cat "$T/q1")"
id "sbx-$CM" >/dev/null 2>&1 && fail "rm left the user"

# No descriptor is left behind by all those turns (rm closed one
# listener).
FDS1=$(engine_fds)
[ "$FDS1" -le "$FDS0" ] || fail "the engine holds $FDS1 descriptors, $FDS0 before"

# Events name the sandbox and the turn.
for e in agent.queued agent.started agent.text agent.tool agent.done; do
	grep -q "\"type\":\"$e\",\"sandbox\":\"$CL\",\"turn\":[0-9]" \
	    "$T/events" || fail "no $e event"
done

# The queue is in the store: it survives a restart of sbxd.
ctl ask $OC SLOW >"$T/slow.out" 2>&1 &
SLOWPID=$!
wait_for busy $OC || fail "$OC is not busy"
ctl ask $OC "after the restart" >"$T/q1" 2>&1 &
Q1=$!
wait_for grep -q "queued #1" "$T/q1" || fail "not queued: $(cat "$T/q1")"
QID=$(sed -n 's/.*turn \([0-9]*\) queued.*/\1/p' "$T/q1")
stop_sbxd
wait $SLOWPID
wait $Q1
grep -q "closed the connection before the turn ended" "$T/q1" ||
    fail "q1 at stop: $(cat "$T/q1")"
start_ns_sbxd
wait_for turn_ok $QID ||
    fail "the queued turn did not run after the restart: $(ctl -j turn $QID)"
ctl -j turn $QID | grep -q "echo: after the restart" ||
    fail "the queued turn lost its prompt"
ctl -j turns $OC | python3 -c "import json, sys
t = json.load(sys.stdin)['turns']
st = [x['status'] for x in t]
assert 'interrupted' in st, st
r = [x for x in t if x['status'] == 'interrupted'][-1]
assert 'sbxd stopped' in r['reason'], r" || fail "the running turn was not marked interrupted"
ctl turn $QID >"$T/out" || fail "turn $QID"
grep -q "^--- prompt" "$T/out" && grep -q "^after the restart" "$T/out" &&
    grep -q "^echo: after the restart" "$T/out" || fail "turn: $(cat "$T/out")"
pass
