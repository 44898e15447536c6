# harden_control.sh: the control socket against its own users.  A
# member of the control group who holds every client slot it may have
# leaves root a slot; a refused connection is told why and closed at
# once, however much it writes, and never takes a slot.  Every field of
# a request is checked: "restricted": "yes" makes no sandbox, open or
# otherwise.  Needs root (a namespace, users, groupadd, setpriv).
. "${top_srcdir:-.}/tests/regress/lib.sh"
need_root
for t in ip nft useradd groupadd setpriv; do
	command -v $t >/dev/null || skip "needs $t"
done
PY=/usr/bin/python3	# not a per-user install: nobody runs it
GROUP=sbxt$$
groupadd "$GROUP" || fail "groupadd"
drop_group() { groupdel "$GROUP" 2>/dev/null; }
on_exit drop_group
GID=$(getent group "$GROUP" | cut -d: -f3)
NOBODY=$(id -u nobody)
NOGROUP=$(id -g nobody)
as_member() {
	setpriv --reuid="$NOBODY" --regid="$NOGROUP" --groups="$GID" "$@"
}
as_other() {
	setpriv --reuid="$NOBODY" --regid="$NOGROUP" --clear-groups "$@"
}

ns_setup
sandbox_name A a
uid_block 60640 60649
conf_write <<EOF2
control group "$GROUP"
policy "default" {
}
sandbox uid-range $UID_LO $UID_HI
sandbox port-range 880 889
sandbox home "$T/home"
sandbox shell "/bin/sh"
sandbox firewall nftables table "sbxt$$"
EOF2
start_ns_sbxd

# Wrong types and unknown fields are errors, and nothing is made.
python3 - "$SOCK" "$A" <<'EOF2' || fail "typed fields"
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile("rwb")
def ask(req):
    f.write(json.dumps(req).encode() + b"\n")
    f.flush()
    while True:
        r = json.loads(f.readline())
        if "ok" in r:
            return r
name = sys.argv[2]
for req, err in [
    ({"restricted": "yes"}, 'create: "restricted" must be true or false'),
    ({"restricted": 0}, 'create: "restricted" must be true or false'),
    ({"restricted": True, "colour": "red"},
     'create: unknown field "colour"'),
]:
    req.update({"command": "create", "name": name})
    r = ask(req)
    assert r["ok"] is False and r["error"] == err, (req, r)
r = ask({"command": "create", "name": 7})
assert r["error"] == 'create: "name" must be a string', r
r = ask({"command": "create"})
assert r["error"] == 'create: "name" is needed', r
r = ask({"command": "create", "name": name, "allow": "example.org"})
assert r["error"] == 'create: "allow" must be a list of strings', r
r = ask({"command": "allow", "listener": name, "pattern": ["x"]})
assert r["error"] == 'allow: "pattern" must be a string', r
r = ask({"command": "list"})
assert r["ok"] and r["sandboxes"] == [], r
EOF2
getent passwd "sbx-$A" >/dev/null && fail "a user was made for a bad create"
[ "$(component control | json_get '["bad_requests"]')" -ge 7 ] ||
    fail "bad requests not counted"
ctl create "$A" --restrict-network >/dev/null || fail "create $A"
ctl -j show "$A" | grep -q '"restricted":true' || fail "$A not restricted"

# A member holds every slot it may; a further connection of its is
# refused and told why, and root still gets in.
chmod 0711 "$T"
as_member "$PY" - "$SOCK" >"$T/hold.out" 2>&1 <<'EOF2' &
import json, socket, sys, time
held = []
for i in range(60):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    s.sendall(b'{"command":"status"}\n')
    assert json.loads(s.makefile("rb").readline())["ok"], i
    held.append(s)
print("holding", flush=True)
time.sleep(60)
EOF2
HOLD=$!
PEER_PIDS="$PEER_PIDS $HOLD"
wait_for grep -q holding "$T/hold.out" || fail "holder: $(cat "$T/hold.out")"
as_member "$SBXCTL" -s "$SOCK" status >/dev/null 2>"$T/err" &&
    fail "a member's 61st connection was let in"
grep -q "sbxctl: too many control clients" "$T/err" ||
    fail "no reason given: $(cat "$T/err")"
ctl status >/dev/null || fail "root was shut out by a member's clients"
# The holder's 60, the events follower and this status itself.
[ "$(component control | json_get '["clients"]')" = 62 ] ||
    fail "refused clients hold slots: $(component control)"

# A refused connection that keeps writing is closed all the same, and
# a hundred of them take no slot.
as_member "$PY" - "$SOCK" <<'EOF2' || fail "refused writers"
import json, socket, sys, time
socks = []
for i in range(100):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    socks.append(s)
s = socks[0]
start = time.monotonic()
closed = None
while time.monotonic() - start < 4:
    try:
        s.sendall(b"x" * 100)
    except OSError:
        closed = time.monotonic() - start
        break
    time.sleep(0.05)
assert closed is not None, "a refused client that writes stays open"
assert closed < 2, closed
r = json.loads(socks[1].makefile("rb").readline())
assert r == {"ok": False, "error": "too many control clients"}, r
EOF2
ctl status >/dev/null || fail "root shut out by refused clients"
[ "$(component control | json_get '["busy"]')" -ge 101 ] ||
    fail "busy counter: $(component control)"
kill "$HOLD"
wait "$HOLD" 2>/dev/null

# A non-member through a loosened socket: told why, closed at once.
chmod 0666 "$SOCK"
as_other "$SBXCTL" -s "$SOCK" status 2>"$T/err" && fail "non-member let in"
grep -q "permission denied: uid $NOBODY" "$T/err" ||
    fail "non-member: $(cat "$T/err")"
clients() { [ "$(component control | json_get '["clients"]')" = "$1" ]; }
wait_for clients 2 ||
    fail "clients left after the holder went: $(component control)"

ctl rm "$A" >/dev/null || fail "rm $A"
stop_sbxd
pass
