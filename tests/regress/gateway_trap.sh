# gateway_trap.sh: a booby-trapped repository runs nothing on the host.
# A restricted sandbox clones octo/trap through its credential gateway
# (tests/agent/fake_github.py standing for GitHub, as in gateway_git.sh)
# and arms the clone: core.fsmonitor, core.hooksPath with the usual
# hooks, hook.x.command, filter.trap.{clean,smudge,process} (the
# repository's .gitattributes asks for them), core.sshCommand,
# diff.external, core.pager and credential.helper, each a script that
# appends "WHO=uid WHAT=name PWD=dir" to a marker file.  Then everything
# a user of sbxd does with it: status, diff, commit, checkout, fetch,
# merge, a push to its own branch and one refused, sbxctl show, network
# and rm.  Checks: the traps fired (fsmonitor, hooks, the filters, and
# the rest), all of them as the sandbox's uid in its home, never as root
# or as sbxd's engine user; the engine started no job but its own and
# the sandbox's shells (its debug log names every job); strace, attached
# to sbxd's processes, saw git and the traps run as the sandbox's uid
# and nothing of git's run as another; the push arrived and main did not
# move.  The test itself never runs git in the sandbox's clone as root
# (a root git would refuse it, not fire its traps): its HEAD is read as
# the sandbox.  Needs root, git and strace.
. "${top_srcdir:-.}/tests/regress/lib.sh"
need_root
for t in ip nft python3 openssl curl useradd git strace; do
	command -v $t >/dev/null || skip "needs $t"
done

uid_block 61200 61209
sandbox_name SG gt
GPORT=18748

ns_setup
make_ca_cert

TOKEN="ghp_TRAPTOKEN$$$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
mkdir -p "$T/keys"
printf '%s\n' "$TOKEN" >"$T/keys/github"
chmod 600 "$T/keys/github"

# GitHub's side: octo/trap, whose main asks for the filter "trap" on
# every path and "trapcs" on *.txt, and carries a hook as content only,
# and a branch "side" that changes README.
G="git -c user.name=t -c user.email=t@t -c init.defaultBranch=main"
mkdir -p "$T/gh/octo"
$G init -q --bare "$T/gh/octo/trap.git" || fail "git init trap"
$G init -q "$T/seed" || fail "git init seed"
printf '* filter=trap\n*.txt filter=trapcs\n' >"$T/seed/.gitattributes"
echo hello >"$T/seed/README"
echo data >"$T/seed/a.txt"
mkdir "$T/seed/hooks-here"
PLANTED=/tmp/sbxd-trap-planted.$$
planted_cleanup() {
	rm -f "$PLANTED"
}
on_exit planted_cleanup
printf '#!/bin/sh\necho gotcha >>%s\n' "$PLANTED" \
    >"$T/seed/hooks-here/post-checkout"
chmod 755 "$T/seed/hooks-here/post-checkout"
$G -C "$T/seed" add . && $G -C "$T/seed" commit -qm seed &&
    $G -C "$T/seed" push -q "$T/gh/octo/trap.git" HEAD:main &&
    echo side >>"$T/seed/README" &&
    $G -C "$T/seed" commit -qam side &&
    $G -C "$T/seed" push -q "$T/gh/octo/trap.git" HEAD:side ||
    fail "seeding octo/trap"
MAIN=$(git --git-dir "$T/gh/octo/trap.git" rev-parse main) || fail "main"

# The traps, in a directory the sandbox's user may read and run but not
# change, and the marker file, which anyone may append to: a trap run
# by any uid leaves its line.  ($T is 0755, made by lib.sh.)
TB=$T/trapbin
MARKD=$T/marks
MARK=$MARKD/fired
mkdir -p "$TB/hooks" "$MARKD" || fail "mkdir"
chmod 1777 "$MARKD"
: >"$MARK"
chmod 666 "$MARK"
# trap_script NAME PATH [TAIL]: a script at PATH that notes NAME, then
# runs TAIL (exit 0 when none).
trap_script() {
	printf '#!/bin/sh\necho "WHO=$(id -u) WHAT=%s PWD=$PWD" >>%s\n%s\n' \
	    "$1" "$MARK" "${3:-exit 0}" >"$2"
	chmod 755 "$2"
}
trap_script fsmonitor "$TB/fsmonitor" "exit 1"
trap_script filter-clean "$TB/clean" "exec cat"
trap_script filter-smudge "$TB/smudge" "exec cat"
trap_script filter-process "$TB/process" "exec python3 $TB/process.py"
# A long-running filter (gitattributes(5)) that passes content through:
# git dies when one does not speak the protocol.
cat >"$TB/process.py" <<'EOF2'
import sys
r, w = sys.stdin.buffer, sys.stdout.buffer
def get():
    n = r.read(4)
    if len(n) < 4:
        sys.exit(0)
    n = int(n, 16)
    return None if n == 0 else r.read(n - 4)
def lines():
    out = []
    while (p := get()) is not None:
        out.append(p)
    return out
def put(*ps):
    for p in ps:
        w.write(b"%04x" % (len(p) + 4) + p)
    w.write(b"0000")
    w.flush()
lines()
put(b"git-filter-server\n", b"version=2\n")
lines()
put(b"capability=clean\n", b"capability=smudge\n")
while True:
    lines()
    data = b"".join(lines())
    put(b"status=success\n")
    put(*[data[i:i + 65516] for i in range(0, len(data), 65516)])
    put()
EOF2
chmod 644 "$TB/process.py"
trap_script hook-x "$TB/hook-x"
trap_script ssh "$TB/ssh" "exit 1"
trap_script diff-external "$TB/diff"
trap_script pager "$TB/pager" "exec cat"
trap_script credential "$TB/credential"
HOOKS="post-checkout pre-commit post-commit pre-push reference-transaction
    post-merge fsmonitor-watchman"
for h in $HOOKS; do
	trap_script "hook-$h" "$TB/hooks/$h"
done
chmod 755 "$TB" "$TB/hooks"

(in_ns python3 "$top_srcdir/tests/agent/fake_github.py" 127.0.0.1 $GPORT \
    "$T/cert.pem" "$T/key.pem" "$T/gh" "$T/gh.log" "$TOKEN" \
    >"$T/fake.out" 2>"$T/fake.err") &
PEER_PIDS="$PEER_PIDS $!"
wait_for grep -q ready "$T/fake.out" ||
    fail "the fake GitHub did not start: $(cat "$T/fake.err")"

conf_write <<EOF2
policy "default" {
	default block
}
sandbox uid-range $UID_LO $UID_HI
sandbox port-range 900 909
sandbox home "$T/home"
sandbox firewall nftables table "sbxt$$"
github {
	token-file "$T/keys/github"
	upstream "https://127.0.0.1:$GPORT"
	api-upstream "https://127.0.0.1:$GPORT"
	ca-file "$T/ca.pem"
}
EOF2
"$SBXD" -n -f "$CONF" >"$T/out" 2>&1 || fail "config: $(cat "$T/out")"
# The debug log names every job the engine starts (job_start).
start_ns_sbxd -v
ENGINE_USER=$(sed -n 's/.*engine started, pid [0-9]*, user \([^ ,]*\).*/\1/p' \
    "$LOG" | head -1)
[ -n "$ENGINE_USER" ] || fail "no engine user in the log"
ENGINE_UID=$(id -u "$ENGINE_USER") || fail "no uid for $ENGINE_USER"
[ "$ENGINE_UID" -ne 0 ] || fail "the engine runs as root"

# Every program sbxd's processes and their children run from now on,
# with the uid it ran as: strace follows the whole tree.
tree() {
	echo "$1"
	for c in $(ps -o pid= --ppid "$1"); do
		tree "$c"
	done
}
STRACE_ARGS=
for p in $(tree "$SBXD_PID"); do
	STRACE_ARGS="$STRACE_ARGS -p $p"
done
CALLS=execve,execveat,fork,vfork,clone,clone3,setuid,setreuid,setresuid
strace -f -qq -s 256 -o "$T/strace" -e trace=$CALLS $STRACE_ARGS \
    2>"$T/strace.err" &
STRACE_PID=$!
strace_stop() {
	[ -n "$STRACE_PID" ] && kill -TERM "$STRACE_PID" 2>/dev/null &&
	    wait "$STRACE_PID" 2>/dev/null
	STRACE_PID=
}
on_exit strace_stop
traced() {
	for p in $(tree "$SBXD_PID"); do
		awk '/^TracerPid:/ { exit $2 == 0 }' "/proc/$p/status" ||
		    return 1
	done
}
wait_for traced || fail "strace did not attach: $(cat "$T/strace.err")"
# execs PID UID ...: "uid path argv0" for each program run since, from
# the trace; the PIDs are the traced processes, with their uids.  A
# child's uid is its parent's when it called fork, until it calls
# setuid; strace may print a child's exec before its parent's fork
# returns, so the forks are read first.
execs() {
	python3 - "$T/strace" "$@" <<'EOF2'
import re, sys
first = {int(a): int(b) for a, b in zip(sys.argv[2::2], sys.argv[3::2])}
calls = []             # (start line, pid, call, args, result)
pend = {}
for n, l in enumerate(open(sys.argv[1], errors="replace")):
    m = re.match(r"^(\d+) +(.*)$", l.rstrip("\n"))
    if not m:
        continue
    pid, rest = int(m.group(1)), m.group(2)
    if rest.endswith("<unfinished ...>"):
        pend[pid] = (n, rest[:-len("<unfinished ...>")])
        continue
    r = re.match(r"<\.\.\. (\w+) resumed>(.*)$", rest)
    if r:
        n, head = pend.pop(pid, (n, r.group(1) + "("))
        rest = head + r.group(2)
    c = re.match(r"(\w+)\((.*)\) += (-?\d+)", rest)
    if c and int(c.group(3)) >= 0:
        calls.append((n, pid, c.group(1), c.group(2), int(c.group(3))))
calls.sort()
born = {}              # child: (parent, line of the fork)
setuids = {}           # pid: [(line, uid)]
for n, pid, call, args, ret in calls:
    if call in ("fork", "vfork", "clone", "clone3") and ret > 0:
        born[ret] = (pid, n)
    elif call == "setuid":
        setuids.setdefault(pid, []).append((n, int(args)))
    elif call in ("setreuid", "setresuid"):
        e = int(args.split(",")[1])
        if e != -1:
            setuids.setdefault(pid, []).append((n, e))
def uid(pid, n):
    for m, u in reversed(setuids.get(pid, [])):
        if m <= n:
            return u
    if pid in born:
        return uid(*born[pid])
    return first.get(pid, "?")
for n, pid, call, args, ret in calls:
    if call in ("execve", "execveat"):
        a = re.findall(r'"((?:[^"\\]|\\.)*)"', args)
        print(uid(pid, n), a[0] if a else "?", a[1] if len(a) > 1 else "?")
EOF2
}
STRACE_UIDS=
for p in $(tree "$SBXD_PID"); do
	u=$(awk '/^Uid:/ { print $3 }' "/proc/$p/status")
	STRACE_UIDS="$STRACE_UIDS $p $u"
done

ctl create $SG --repo octo/trap >"$T/out" 2>&1 ||
    { cat "$T/out"; fail "create $SG"; }
ctl -j show $SG >"$T/show" || fail "show"
SUID=$(json_get '["sandbox"]["uid"]' <"$T/show")
SUSER=$(json_get '["sandbox"]["user"]' <"$T/show")
[ "$SUID" -ge "$UID_LO" ] && [ "$SUID" -le "$UID_HI" ] ||
    fail "sandbox uid $SUID: $(cat "$T/show")"
[ "$(id -u "$SUSER")" = "$SUID" ] || fail "$SUSER is not uid $SUID"
[ "$SUID" != "$ENGINE_UID" ] || fail "the sandbox has the engine's uid"

as() {
	ctl exec $SG -- sh -c "cd \$HOME && export GIT_TERMINAL_PROMPT=0 && $*"
}
GS="git -c user.name=s -c user.email=s@s"

as "git version" >"$T/o" 2>&1 || fail "git version: $(cat "$T/o")"
GITV=$(sed -n 's/^git version \([0-9]*\)\.\([0-9]*\).*/\1 \2/p' "$T/o")
# Config-based hooks (hook.NAME.command, hook.NAME.event) came with git
# 2.54; an older git ignores them.
set -- $GITV
if [ "${1:-0}" -gt 2 ] || { [ "${1:-0}" -eq 2 ] && [ "${2:-0}" -ge 54 ]; }
then
	HOOKX=1
else
	HOOKX=0
fi

as "timeout 60 git clone -q https://github.com/octo/trap.git trap" \
    >"$T/o" 2>&1 || fail "clone: $(cat "$T/o")"
[ "$(cat "$T/home/$SG/trap/README")" = hello ] || fail "clone content"
[ -s "$MARK" ] && fail "a trap fired before it was armed: $(cat "$MARK")"

# Arm the clone.  A driver with a process filter uses it alone, so
# "trap" has all three and "trapcs" clean and smudge only.
as "cd trap && git config core.fsmonitor $TB/fsmonitor &&
    git config core.hooksPath $TB/hooks &&
    git config hook.x.command $TB/hook-x &&
    git config hook.x.event pre-push &&
    git config filter.trap.clean '$TB/clean %f' &&
    git config filter.trap.smudge '$TB/smudge %f' &&
    git config filter.trap.process $TB/process &&
    git config filter.trapcs.clean '$TB/clean %f' &&
    git config filter.trapcs.smudge '$TB/smudge %f' &&
    git config core.sshCommand $TB/ssh &&
    git config diff.external $TB/diff &&
    git config core.pager $TB/pager &&
    git config credential.helper $TB/credential" >"$T/o" 2>&1 ||
    fail "arming: $(cat "$T/o")"

# What a user does: status, diff, commit, checkout, fetch, merge, push.
B="sbx/$SG/x"
as "cd trap && git status && echo more >>a.txt && git status &&
    git diff && git add -A && $GS commit -qm more &&
    git checkout -q -b side origin/side && git checkout -q main &&
    git fetch -q origin && $GS merge -q --no-edit origin/side &&
    git status && git push -q origin HEAD:$B" >"$T/o" 2>&1 ||
    fail "the user's steps: $(cat "$T/o")"
HEAD=$(as "cd trap && git rev-parse HEAD") || fail "the sandbox's HEAD"
[ "$(git --git-dir "$T/gh/octo/trap.git" rev-parse "$B")" = "$HEAD" ] ||
    fail "$B did not arrive"

# A push refused by policy, an ssh URL (led to the gateway too), a
# repository it does not have (git may ask a credential helper), and
# git's pager on a terminal.
as "cd trap && git push origin HEAD:main" >"$T/o" 2>&1 &&
    fail "a push to main went through"
grep -q "remote: sbxd: push refused" "$T/o" ||
    fail "git did not show why: $(cat "$T/o")"
as "cd trap && git ls-remote git@github.com:octo/trap.git" >"$T/o" 2>&1 ||
    fail "ls-remote over ssh's URL: $(cat "$T/o")"
as "cd trap && git ls-remote https://github.com/octo/other.git" \
    >"$T/o" 2>&1 && fail "reached octo/other"
ctl exec $SG -t -- sh -c 'cd $HOME/trap && git log -1' </dev/null \
    >"$T/o" 2>&1 || fail "git log on a terminal: $(cat "$T/o")"
# And what only runs when asked: a credential helper, an ssh remote.
as "cd trap && printf 'protocol=https\\nhost=example.org\\n\\n' |
    git credential fill; git ls-remote ssh://example.org/x.git" \
    >"$T/o" 2>&1

# sbxd's own look at the sandbox, and its end.
ctl show $SG >"$T/o" 2>&1 || fail "show: $(cat "$T/o")"
ctl network >"$T/o" 2>&1 || fail "network: $(cat "$T/o")"
ctl network $SG >"$T/o" 2>&1 || fail "network $SG: $(cat "$T/o")"
ctl -j show $SG >/dev/null 2>&1 || fail "show -j"
ctl rm $SG >"$T/o" 2>&1 || fail "rm $SG: $(cat "$T/o")"
wait_for sh -c "! id $SUSER" || fail "$SUSER is still there"

# The traps fired, inside the sandbox, and only there.
[ -s "$MARK" ] || fail "no trap fired: the test proves nothing"
fired() {
	grep -q " WHAT=$1 " "$MARK" || fail "$1 did not fire: $(cat "$MARK")"
}
for w in fsmonitor filter-clean filter-smudge filter-process \
    hook-post-checkout hook-pre-commit hook-post-commit hook-pre-push \
    hook-reference-transaction hook-post-merge diff-external pager \
    credential ssh; do
	fired $w
done
if [ $HOOKX = 1 ]; then
	fired hook-x
fi
grep -v "^WHO=$SUID WHAT=[a-z-]* PWD=$T/home/$SG/" "$MARK" >"$T/bad" &&
    fail "a trap fired outside the sandbox: $(cat "$T/bad")"
grep -Eq "^WHO=(0|$ENGINE_UID) " "$MARK" &&
    fail "a trap fired as root or $ENGINE_USER: $(cat "$MARK")"
[ -e "$PLANTED" ] && fail "the planted hook ran"

# The engine ran no git: each job it started is its provisioning, a
# uid's killer, or a command of the sandbox's own, logged with its uid.
grep -E 'job_start: ' "$LOG" >"$T/jobs" || fail "no job in the debug log"
grep -Ev "job_start: ($SG|provision|kill uid [0-9]+) [0-9]+: pid" \
    "$T/jobs" >"$T/bad" && fail "unknown jobs: $(cat "$T/bad")"
grep -E "sandbox $SG: exec [0-9]+: pid [0-9]+ uid" "$LOG" >"$T/execs" ||
    fail "no exec in the log"
[ "$(grep -c "job_start: $SG " "$T/jobs")" = "$(wc -l <"$T/execs")" ] ||
    fail "jobs of $SG that are not its execs"
[ "$(wc -l <"$T/execs")" -ge 8 ] || fail "too few execs: $(cat "$T/execs")"
grep -Ev "exec [0-9]+: pid [0-9]+ uid $SUID( pty)?: sh$" "$T/execs" \
    >"$T/bad" && fail "an exec not as the sandbox: $(cat "$T/bad")"

# And the trace: git and the traps ran, as the sandbox's uid only;
# nothing ran as an unknown uid.
strace_stop
execs $STRACE_UIDS >"$T/execs.all" || fail "reading the trace"
grep -q "^0 /usr/sbin/useradd " "$T/execs.all" ||
    fail "the trace missed root's useradd: $(head "$T/execs.all")"
grep -q "^$SUID [^ ]*/git git$" "$T/execs.all" ||
    fail "the trace saw no git of the sandbox's"
grep -q "^$SUID $TB/fsmonitor " "$T/execs.all" ||
    fail "the trace saw no trap"
grep -v "^$SUID " "$T/execs.all" >"$T/host.execs"
grep -q '^?' "$T/host.execs" &&
    fail "programs of an unknown uid: $(grep '^?' "$T/host.execs")"
grep -E " ([^ ]*/)?git(-[^ /]*)? |/git-core/|$TB/" "$T/host.execs" >"$T/bad" &&
    fail "git or a trap ran outside the sandbox: $(cat "$T/bad")"

# The upstream got the push, main did not move.
[ "$(git --git-dir "$T/gh/octo/trap.git" rev-parse "$B")" = "$HEAD" ] ||
    fail "$B moved"
[ "$(git --git-dir "$T/gh/octo/trap.git" rev-parse main)" = "$MAIN" ] ||
    fail "main moved"
log_has "git push octo/trap: 403" || fail "no refusal in the log"
pass
