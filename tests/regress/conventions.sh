# conventions.sh: what an administrator expects of any daemon.  -V and
# -h (and --version, --help) on both programs, on stdout with status 0;
# a bad option prints the usage on stderr with status 1.  sbxd -d's log
# lines start with the time.  sbxctl events keeps only a sandbox's
# events with -s and a type and the types below it with -t, following or
# with -r printing the recent ones and exiting.  Refused the control
# socket, sbxctl names the "control group" setting.  The access log is
# opened again on reload.  The bash completion, made from the command
# table, completes commands, options and sandbox names; the zsh one
# parses.  Needs root (a namespace, users).
. "${top_srcdir:-.}/tests/regress/lib.sh"
need_root
for t in ip nft curl useradd setpriv bash; do
	command -v $t >/dev/null || skip "needs $t"
done
PY=/usr/bin/python3
COMP=${top_builddir:-.}/sbxctl/completion

# Versions and help.
for p in "$SBXD" "$SBXCTL"; do
	n=${p##*/}
	for o in -V --version; do
		out=$("$p" $o) || fail "$n $o: status $?"
		echo "$out" | grep -Eqx "$n [0-9]+\.[0-9]+\.[0-9]+" ||
		    fail "$n $o: $out"
	done
	for o in -h --help; do
		"$p" $o >"$T/help" 2>"$T/help.err" || fail "$n $o: status $?"
		grep -q "^usage: $n " "$T/help" || fail "$n $o: $(cat "$T/help")"
		[ -s "$T/help.err" ] && fail "$n $o wrote on stderr"
	done
	"$p" -Q >"$T/bad" 2>"$T/bad.err" && fail "$n -Q: status 0"
	grep -q "^usage: $n " "$T/bad.err" || fail "$n -Q: no usage on stderr"
	[ -s "$T/bad" ] && fail "$n -Q wrote on stdout"
done
grep -q "completion bash | zsh" "$T/help" || fail "sbxctl -h lacks completion"

SRV=10.218.0.1
ns_setup
ns_peer_setup "$SRV" fd00:218::1
sandbox_name A a
sandbox_name B b
uid_block 61050 61059
LP=$(free_port)
echo "$SRV web.test" >"$T/hosts"
peer_start web http "$SRV" 80
conf_write <<EOF2
resolver hosts-file "$T/hosts"
policy "agents" {
	default block
	private yes
}
proxy listen on 127.0.0.1 port $LP policy "agents"
proxy access log "$T/access.log"
sandbox uid-range $UID_LO $UID_HI
sandbox port-range 970 979
sandbox home "$T/home"
sandbox shell "/bin/sh"
sandbox policy "agents"
sandbox firewall nftables table "sbxt$$"
EOF2
start_ns_sbxd

# The -d log: each line starts with the time, in UTC to the millisecond.
wait_for log_has "started" || fail "no start line"
grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z sbxd \[engine\]: sbxd [0-9.]+ started' \
    "$LOG" || fail "no time on the log lines: $(head -3 "$LOG")"
grep -Evq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z sbxd( \[(priv|engine)\])?: ' "$LOG" &&
    fail "a log line without the time: $(grep -Ev '^[0-9]{4}-' "$LOG" | head -3)"

for n in "$A" "$B"; do
	ctl create "$n" >"$T/out" 2>&1 || { cat "$T/out"; fail "create $n"; }
done
# A follower of A's proxy events only.
ctl -j events -s "$A" -t proxy >"$T/followA" 2>&1 &
PEER_PIDS="$PEER_PIDS $!"
wait_for followers_at_least 2 || fail "the filtered follower"
ctl allow "$A" web.test >/dev/null || fail "allow $A"
ctl allow "$B" web.test >/dev/null || fail "allow $B"
ctl exec "$A" -- curl -s -o /dev/null --max-time 10 http://other.test/
ctl exec "$B" -- curl -s -o /dev/null --max-time 10 http://other.test/
wait_for grep -q '"type":"proxy.block"' "$T/followA" ||
    fail "the follower missed A's block: $(cat "$T/followA")"
python3 - "$T/followA" "$A" <<'EOF2' || fail "follower: $(cat "$T/followA")"
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
evs = [e for e in evs if "type" in e]
assert evs, evs
assert all(e.get("sandbox") == sys.argv[2] for e in evs), evs
assert all(e["type"].startswith("proxy.") for e in evs), evs
assert {"proxy.rule", "proxy.block"} <= {e["type"] for e in evs}, evs
EOF2

# -r: the recent ones, filtered, then sbxctl exits by itself.
timeout 10 "$SBXCTL" -s "$SOCK" -j events -r -n 50 -t proxy.rule \
    >"$T/recent" 2>&1 || fail "events -r: status $?: $(cat "$T/recent")"
python3 - "$T/recent" "$A" "$B" <<'EOF2' || fail "events -r: $(cat "$T/recent")"
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
evs = [e for e in evs if "type" in e]
assert [e["type"] for e in evs] == ["proxy.rule"] * 2, evs
assert [e["sandbox"] for e in evs] == sys.argv[2:], evs
EOF2
timeout 10 "$SBXCTL" -s "$SOCK" -j events -r -s "$B" >"$T/recentB" 2>&1 ||
    fail "events -r -s: status $?"
python3 - "$T/recentB" "$B" <<'EOF2' || fail "events -r -s: $(cat "$T/recentB")"
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
evs = [e for e in evs if "type" in e]
assert "proxy.block" in [e["type"] for e in evs], evs
assert all(e.get("sandbox") == sys.argv[2] for e in evs), evs
EOF2
# Without -j, one readable line each, and still an end.
timeout 10 "$SBXCTL" -s "$SOCK" events -r -n 3 >"$T/recent3" 2>&1 ||
    fail "events -r -n 3: status $?"
[ "$(wc -l <"$T/recent3")" -eq 3 ] || fail "events -r -n 3: $(cat "$T/recent3")"

# A bad filter is refused; the same connection may ask again.
python3 - "$SOCK" <<'EOF2' || fail "events after a refused filter"
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile("rwb")
f.write(b'{"command": "events", "sandbox": "x", "type": "."}\n')
f.flush()
r = json.loads(f.readline())
assert r["ok"] is False and "names no type" in r["error"], r
f.write(b'{"command": "events", "sandbox": "y", "follow": false}\n')
f.flush()
r = json.loads(f.readline())
assert r["ok"] is True, r
assert f.readline() == b"", "no end after follow false"
EOF2

# Refused the socket: the setting to change is named.
chmod 0600 "$SOCK"
setpriv --reuid=nobody --regid=nogroup --clear-groups "$SBXCTL" -s "$SOCK" \
    status >"$T/denied" 2>&1 && fail "nobody used the control socket"
grep -q 'Permission denied (only root and the members of the group named by "control group" in sbxd.conf may use sbxd)' \
    "$T/denied" || fail "denied: $(cat "$T/denied")"

# The access log is opened again on reload: a rotated file is let go.
in_ns curl -s -o /dev/null --max-time 10 -x "http://127.0.0.1:$LP" \
    http://web.test/
wait_for test -s "$T/access.log" || fail "no access log"
mv "$T/access.log" "$T/access.log.1"
ctl reload >/dev/null || fail "reload"
in_ns curl -s -o /dev/null --max-time 10 -x "http://127.0.0.1:$LP" \
    http://web.test/
wait_for test -s "$T/access.log" || fail "the access log was not reopened"
[ "$(wc -l <"$T/access.log")" -eq 1 ] || fail "reopened log: $(cat "$T/access.log")"
grep -Eq '^[0-9-]+T[0-9:.]+Z 127\.0\.0\.1:[0-9]+ 127\.0\.0\.1:'"$LP"' GET web\.test:80 403 [0-9]+ [0-9]+ [0-9]+ policy$' \
    "$T/access.log" || fail "access log line: $(cat "$T/access.log")"

# Completion: commands, options and the sandboxes' names.
[ -s "$COMP/sbxctl" ] && [ -s "$COMP/_sbxctl" ] || fail "no completion files"
complete_words() {
	bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
	    _sbxctl; echo "${COMPREPLY[*]}"' _ "$COMP/sbxctl" "$@"
}
[ "$(complete_words sbxctl cr)" = create ] || fail "sbxctl cr<TAB>"
[ "$(complete_words sbxctl un)" = unallow ] || fail "sbxctl un<TAB>"
[ "$(complete_words sbxctl create x --o)" = --open ] ||
    fail "sbxctl create x --o<TAB>"
[ "$(complete_words sbxctl -s "$SOCK" allow x y --)" = --for ] ||
    fail "sbxctl allow x y --<TAB>"
# Names come from "sbxctl list", on the default socket: give it ours.
got=$(bash -c '. "$1"; S=$2; X=$3
    sbxctl() { "$X" -s "$S" "$@"; }
    COMP_WORDS=(sbxctl show "$4"); COMP_CWORD=2; _sbxctl
    echo "${COMPREPLY[*]}"' _ "$COMP/sbxctl" "$SOCK" "$SBXCTL" "$A")
[ "$got" = "$A" ] || fail "sbxctl show <TAB>: \"$got\""
if command -v zsh >/dev/null; then
	zsh -n "$COMP/_sbxctl" || fail "the zsh completion does not parse"
	grep -q "'unallow:name | listener pattern'" "$COMP/_sbxctl" ||
	    fail "the zsh completion lacks unallow"
fi

for n in "$A" "$B"; do
	ctl rm "$n" >/dev/null || fail "rm $n"
done
stop_sbxd
pass
