# control.sh: malformed control requests get a JSON error reply and leave
# the daemon serving; sbxctl log switches debug logging on and off.
. "${top_srcdir:-.}/tests/regress/lib.sh"

conf_write <<EOF2
log level warning
EOF2
start_sbxd

python3 - "$SOCK" <<'EOF2' || fail "malformed requests"
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile("rwb")
def ask(line):
    f.write(line)
    f.flush()
    return json.loads(f.readline())
for bad in [b'not json\n', b'[]\n', b'{}\n', b'{"command": 1}\n',
            b'{"command": "nope"}\n', b'{"command": "log"}\n',
            b'\xff\xfe\n', b'{"command": "status"} trailing\n']:
    r = ask(bad)
    assert r["ok"] is False and r["error"], (bad, r)
r = ask(b'{"command": "status"}\n')
assert r["ok"] is True, r
# One over-long line: refused, then the connection closes.
f.write(b"x" * (2 * 1024 * 1024 + 1000) + b"\n")
f.flush()
r = json.loads(f.readline())
assert "longer than" in r["error"], r
assert f.readline() == b""
EOF2
ctl status >/dev/null || fail "daemon hurt by malformed requests"
[ "$(component control | json_get '["bad_requests"]')" -ge 8 ] ||
    fail "bad requests not counted"

# A command of a module that is off says which line turns it on.
ctl create x >"$T/off" 2>&1 && fail "create with sandboxes off"
grep -q 'create: sandboxes are off: add a line such as "sandbox uid-range 60100 60999" to sbxd.conf' \
    "$T/off" || fail "create with sandboxes off: $(cat "$T/off")"

ctl log verbose | grep -qx "log level debug" || fail "log verbose"
[ "$(ctl -j status | json_get '["log_level"]')" = debug ] ||
    fail "verbose not applied"
ctl status >/dev/null
wait_for log_has "control: client [0-9]+: status" ||
    fail "no debug lines when verbose"
ctl log brief | grep -qx "log level warning" || fail "log brief"
ctl log loud 2>"$T/err" && fail "bad log level accepted"
grep -q "usage: sbxctl log verbose | brief" "$T/err" || fail "log usage"
pass
