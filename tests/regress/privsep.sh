# privsep.sh: privilege separation.  Started as root, sbxd is a
# privileged process and an engine that runs as _sbxd with no
# capabilities, no new privileges, not dumpable, under a seccomp
# filter.  The privileged process refuses, and logs, what a subverted
# engine could ask of it: a malformed frame, a job as root or as a uid
# outside the sandbox range, a directory outside the homes, a port that
# is no listener's, a file that is not the config's, firewall commands
# for a uid outside the range.  Killed with SIGKILL while sandboxes
# work, the engine is replaced; meanwhile the restricted sandboxes
# reach nothing directly, and afterwards everything works as before.
# Killed, the privileged process takes the engine with it.  Not root,
# sbxd is one process with the proxy alone.  Needs root (namespaces,
# users, nftables, pidfd_getfd).
. "${top_srcdir:-.}/tests/regress/lib.sh"
need_root
for t in ip nft curl useradd setpriv; do
	command -v $t >/dev/null || skip "needs $t"
done
PY=/usr/bin/python3

SRV=10.215.0.1
ns_setup
ns_peer_setup "$SRV" fd00:215::1
sandbox_name A a
sandbox_name B b
uid_block 61100 61109
cat >"$T/hosts" <<EOF2
$SRV web.test
EOF2
peer_start http http "$SRV" 80
conf_write <<EOF2
resolver hosts-file "$T/hosts"
policy "default" {
	private yes
	allow "web.test"
}
sandbox uid-range $UID_LO $UID_HI
sandbox port-range 940 949
sandbox home "$T/home"
sandbox shell "/bin/sh"
sandbox firewall nftables table "sbxt$$"
EOF2
start_ns_sbxd
PRIV=$SBXD_PID
engine_pid() {
	pgrep -P "$PRIV" -u _sbxd | head -1
}
ENG=$(engine_pid)
[ -n "$ENG" ] || fail "no engine process under $PRIV"

# Who runs as what.
EUID_=$(id -u _sbxd) || fail "no user _sbxd"
st=/proc/$ENG/status
grep -Eq "^Uid:[[:space:]]+$EUID_[[:space:]]+$EUID_[[:space:]]+$EUID_[[:space:]]+$EUID_\$" \
    "$st" || fail "engine uids: $(grep ^Uid "$st")"
for c in CapInh CapPrm CapEff CapBnd CapAmb; do
	grep -Eq "^$c:[[:space:]]+0+\$" "$st" ||
	    fail "engine $c: $(grep "^$c" "$st")"
done
grep -Eq '^NoNewPrivs:[[:space:]]+1$' "$st" || fail "engine may gain privileges"
grep -Eq '^Seccomp:[[:space:]]+2$' "$st" || fail "engine has no seccomp filter"
# A process that is not dumpable has its /proc files owned by root.
[ "$(stat -c %u "/proc/$ENG/environ")" = 0 ] || fail "engine is dumpable"
grep -Eq '^Uid:[[:space:]]+0[[:space:]]' "/proc/$PRIV/status" ||
    fail "the privileged process is not root"
ctl status | grep -Eq "^priv +up .*user=_sbxd" ||
    fail "status: $(ctl status | grep ^priv)"

# Two restricted sandboxes that work.
ctl create "$A" >"$T/out" 2>&1 || { cat "$T/out"; fail "create $A"; }
ctl create "$B" >"$T/out" 2>&1 || { cat "$T/out"; fail "create $B"; }
UA=$(ctl -j show "$A" | json_get '["sandbox"]["uid"]')
PA=$(ctl -j show "$A" | json_get '["sandbox"]["port"]')
UB=$(ctl -j show "$B" | json_get '["sandbox"]["uid"]')
PB=$(ctl -j show "$B" | json_get '["sandbox"]["port"]')
as() {
	u=$1
	shift
	in_ns setpriv --reuid="$u" --regid="$u" --clear-groups "$@"
}
[ "$(as "$UA" curl -sS --max-time 10 -x "http://127.0.0.1:$PA" \
    http://web.test/)" = hello ] || fail "$A through its proxy"
[ "$(ctl exec "$B" -- curl -sS --max-time 10 http://web.test/)" = hello ] ||
    fail "$B through its proxy"
as "$UA" curl -sS --max-time 3 "http://$SRV/" >/dev/null 2>&1 &&
    fail "$A reached the server directly"

# What a subverted engine might ask, on the engine's own socket (taken
# with pidfd_getfd while the engine is stopped, so that it reads none
# of the answers).
kill -STOP "$ENG"
"$PY" - "$ENG" "$UID_LO" "$UID_HI" "$T/home" "$A" >"$T/probe" 2>&1 <<'EOF2'
import ctypes, json, os, socket, struct, sys
eng, lo, hi, home, name = int(sys.argv[1]), int(sys.argv[2]), \
    int(sys.argv[3]), sys.argv[4], sys.argv[5]
libc = ctypes.CDLL(None, use_errno=True)
SYS_pidfd_getfd = 438
inodes = {}
with open("/proc/%d/net/unix" % eng) as f:
    next(f)
    for line in f:
        p = line.split()
        if p[4] == "0005":			# SOCK_SEQPACKET
            inodes[p[6]] = True
pidfd = os.pidfd_open(eng)
socks = []
for fd in os.listdir("/proc/%d/fd" % eng):
    try:
        link = os.readlink("/proc/%d/fd/%s" % (eng, fd))
    except OSError:
        continue
    if link.startswith("socket:[") and link[8:-1] in inodes:
        n = libc.syscall(SYS_pidfd_getfd, pidfd, int(fd), 0)
        if n >= 0:
            socks.append(socket.socket(fileno=n))
MAGIC = 0x53425850
nid = [1 << 60]
def frame(obj, typ=1):
    nid[0] += 1
    return struct.pack("=IIQ", MAGIC, typ, nid[0]) + \
        json.dumps(obj).encode(), nid[0]
def ask(s, obj, raw=None):
    data, i = frame(obj) if raw is None else (raw, None)
    s.send(data)
    s.settimeout(5)
    while True:
        r = s.recv(1 << 21)
        magic, typ, rid = struct.unpack("=IIQ", r[:16])
        if i is None or rid == i:
            return json.loads(r[16:])
priv = None
for s in socks:
    try:
        if "engines" in ask(s, {"op": "status"}):
            priv = s
            break
    except Exception:
        pass
assert priv is not None, "no socket to the privileged process"
def refused(obj, want):
    r = ask(priv, obj)
    assert "error" in r and want in r["error"], (obj, r)
    print("refused:", r["error"])
spawn = {"op": "spawn", "name": "x", "flags": 1, "uid": lo, "gid": lo,
         "groups": [], "cgroups": [], "nproc": 0, "argv": ["/bin/id"],
         "envp": [], "rows": 0, "cols": 0}
refused(dict(spawn, uid=0, gid=0), "outside the sandbox uid-range")
refused(dict(spawn, uid=hi + 1, gid=hi + 1), "outside the sandbox uid-range")
refused(dict(spawn, flags=0), "not as root")
refused(dict(spawn, cwd="/etc"), "not below the sandbox homes")
refused(dict(spawn, cwd=home + "/../../etc"), "not below the sandbox homes")
refused(dict(spawn, cgroups=["/sys/fs/cgroup"]), "not below")
refused(dict(spawn, colour="red"), "bad arguments")
refused({"op": "bind", "address": "0.0.0.0", "port": 22},
        "neither a listener of the config nor a sandbox's")
refused({"op": "bind", "address": "127.0.0.1", "port": 22},
        "outside the sandbox port-range")
refused({"op": "config-open", "path": "/etc/shadow"},
        "not a file of the config")
refused({"op": "open-log", "path": "/etc/passwd"},
        "not the access log of the config")
refused({"op": "home", "user": "sbx-" + name, "uid": lo, "gid": lo,
         "home": "/etc/" + name}, "not")
refused({"op": "cmds", "what": "x", "timeout": 5, "ops": [
    {"op": "user-del", "user": "sbx-root", "uid": 0}]}, "")
refused({"op": "nosuch"}, "no such operation")
# Not a request at all, and not even a frame.
r = ask(priv, None, raw=struct.pack("=IIQ", MAGIC, 1, 7) + b"{not json")
assert "error" in r and "not JSON" in r["error"], r
priv.send(b"\x01\x02")
priv.send(struct.pack("=IIQ", 0xdeadbeef, 1, 8) + b"{}")
print("ok")
EOF2
rc=$?
kill -CONT "$ENG"
[ $rc = 0 ] || fail "probe: $(cat "$T/probe")"
for want in "refused spawn: uid 0 or gid 0 is outside" \
    "refused spawn: directory /etc is not below the sandbox homes" \
    "refused bind: port 22 is outside the sandbox port-range" \
    "refused config-open: /etc/shadow is not a file of the config" \
    "refused a frame from the engine: a frame is not JSON" \
    "refused a frame from the engine: a frame of 2 bytes is shorter" \
    "refused a frame from the engine: a frame has the wrong magic"; do
	wait_for grep -q "$want" "$LOG" || fail "not logged: $want"
done
[ "$(engine_pid)" = "$ENG" ] || fail "the engine was replaced by the probe"
ctl status >/dev/null || fail "sbxd after the probe"
[ "$(ctl exec "$A" -- curl -sS --max-time 10 http://web.test/)" = hello ] ||
    fail "$A after the probe"

# SIGKILL under load.  The sandboxes' own processes (not sbxd's jobs)
# ask through their proxies all along.
for s in A B; do
	eval "u=\$U$s p=\$P$s"
	as "$u" sh -c "while :; do curl -s -o /dev/null -w '%{http_code}\n' \
	    --max-time 2 -x http://127.0.0.1:$p http://web.test/; done" \
	    >"$T/load.$s" 2>/dev/null &
	PEER_PIDS="$PEER_PIDS $!"
done
wait_for grep -q 200 "$T/load.A" || fail "no load"
kill -KILL "$ENG"
# At once: nothing direct, and the proxy does not answer.
as "$UA" curl -sS --max-time 2 "http://$SRV/" >/dev/null 2>&1 &&
    fail "$A reached the server directly while the engine was down"
as "$UB" curl -sS --max-time 2 "http://$SRV/" >/dev/null 2>&1 &&
    fail "$B reached the server directly while the engine was down"
wait_for log_has "engine \\(pid $ENG\\) killed by signal 9" ||
    fail "the privileged process did not log the engine's death"
WAIT_TENTHS=300 wait_for sh -c "[ -n \"\$(pgrep -P $PRIV -u _sbxd)\" ] &&
    \"$SBXCTL\" -s \"$SOCK\" status >/dev/null 2>&1" ||
    fail "no new engine"
NEW=$(engine_pid)
[ "$NEW" != "$ENG" ] || fail "the engine was not replaced"
log_has "engine started, pid $NEW," || fail "new engine not logged"
# Everything works again, for the same sandboxes.
[ "$(as "$UA" curl -sS --max-time 10 -x "http://127.0.0.1:$PA" \
    http://web.test/)" = hello ] || fail "$A after the restart"
[ "$(ctl exec "$B" -- curl -sS --max-time 10 http://web.test/)" = hello ] ||
    fail "$B after the restart"
as "$UA" curl -sS --max-time 3 "http://$SRV/" >/dev/null 2>&1 &&
    fail "$A reached the server directly after the restart"
: >"$T/load.A"
wait_for grep -q 200 "$T/load.A" || fail "the load did not resume"
[ "$(component priv | json_get '["engines"]')" = 2 ] ||
    fail "status does not count two engines: $(component priv)"

ctl rm "$A" >/dev/null || fail "rm $A"
ctl rm "$B" >/dev/null || fail "rm $B"

# Without the privileged process, the engine stops.
kill -KILL "$PRIV"
wait_for sh -c "! kill -0 $NEW 2>/dev/null || grep -q '^State:.*Z' /proc/$NEW/status" ||
    fail "the engine outlived the privileged process"
log_has "the privileged process is gone" ||
    fail "the engine did not say why it stopped"

# Not root: one process, the proxy alone; the sandboxes are off, and say
# why.
ND=$T/dev
mkdir -m 0755 "$ND" && chown nobody "$ND" || fail "mkdir $ND"
NP=$(free_port)
cat >"$ND/sbxd.conf" <<EOF2
state "$ND/state"
control socket "$ND/ctl.sock"
pidfile "$ND/sbxd.pid"
resolver hosts-file "$T/hosts"
policy "default" {
	private yes
	allow "web.test"
}
proxy listen on 127.0.0.1 port $NP
sandbox uid-range $UID_LO $UID_HI
sandbox port-range 940 949
sandbox home "$ND/home"
EOF2
chmod 644 "$ND/sbxd.conf"
in_ns setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups \
    "$SBXD" -d -f "$ND/sbxd.conf" >"$ND/log" 2>&1 &
DEV=$!
PEER_PIDS="$PEER_PIDS $DEV"
wait_for "$SBXCTL" -s "$ND/ctl.sock" status || fail "sbxd as nobody: $(cat "$ND/log")"
"$SBXCTL" -s "$ND/ctl.sock" status >"$T/dev.status"
grep -Eq "^priv +off .*not started as root" "$T/dev.status" ||
    fail "priv: $(grep ^priv "$T/dev.status")"
grep -Eq "^sandbox +off .*does not run as root" "$T/dev.status" ||
    fail "sandbox: $(grep ^sandbox "$T/dev.status")"
[ "$(in_ns curl -sS --max-time 10 -x "http://127.0.0.1:$NP" \
    http://web.test/)" = hello ] || fail "the proxy of sbxd as nobody"
"$SBXCTL" -s "$ND/ctl.sock" create x >"$T/dev.create" 2>&1 &&
    fail "created a sandbox without root"
grep -q "sandboxes are off: sbxd does not run as root" "$T/dev.create" ||
    fail "create without root: $(cat "$T/dev.create")"
[ "$(pgrep -f -- "-f $ND/sbxd.conf" | wc -l)" = 1 ] ||
    fail "sbxd as nobody is not one process: $(pgrep -af -- "$ND/sbxd.conf")"
kill "$DEV"
pass
