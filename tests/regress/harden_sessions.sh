# harden_sessions.sh: one sandbox cannot take every session or every
# descriptor.  A sandbox's listener has a session limit of its own, on
# by default; over it the sandbox gets 503 and another sandbox is still
# served.  A client that opens sessions until sbxd runs short of
# descriptors gets 503 "out of descriptors" while sbxctl still gets in.
# Needs root (a namespace, users).
. "${top_srcdir:-.}/tests/regress/lib.sh"
need_root
for t in ip nft useradd prlimit; do
	command -v $t >/dev/null || skip "needs $t"
done
PY=/usr/bin/python3	# not a per-user install: the sandbox user runs it
ns_setup
sandbox_name A a
sandbox_name B b
WP=$(free_port)
LP=$(free_port)
uid_block 61020 61029
conf_write <<EOF2
policy "default" {
	default allow
	loopback yes
}
proxy listen on 127.0.0.1 port $LP
sandbox uid-range $UID_LO $UID_HI
sandbox port-range 940 949
sandbox home "$T/home"
sandbox shell "/bin/sh"
sandbox firewall nftables table "sbxt$$"
EOF2
(in_ns "$PY" "$top_srcdir/tests/regress/peer.py" http 127.0.0.1 "$WP" \
    >"$T/peer" 2>&1) &
PEER_PIDS="$PEER_PIDS $!"
wait_for grep -q ready "$T/peer" || fail "http peer"
start_ns_sbxd
ctl create "$A" >/dev/null || fail "create $A"
ctl create "$B" >/dev/null || fail "create $B"
PA=$(ctl -j show "$A" | json_get '["sandbox"]["port"]')
PB=$(ctl -j show "$B" | json_get '["sandbox"]["port"]')
listener() {
	component proxy | python3 -c "import json, sys
for l in json.load(sys.stdin)['listeners']:
    if l['sandbox'] == '$1':
        print(l['$2'])"
}
[ "$(listener "$A" max_sessions)" = 256 ] ||
    fail "a sandbox's default session limit: $(listener "$A" max_sessions)"

# A lower limit by reload; A holds every session it may.
echo "sandbox max sessions 20" >>"$CONF"
ctl reload >/dev/null || fail "reload"
[ "$(listener "$A" max_sessions)" = 20 ] || fail "limit not reloaded"
ctl exec "$A" -- "$PY" -c "
import socket, sys, time
held, refused = [], 0
for i in range(30):
    s = socket.create_connection(('127.0.0.1', $PA))
    s.sendall(b'GET http://x/ HTTP/1.1\\r\\n')	# accepted on data
    s.settimeout(0.1)
    try:
        if s.recv(64).startswith(b'HTTP/1.1 503'):
            refused += 1
            continue
    except socket.timeout:
        pass
    held.append(s)
print(len(held), refused, flush=True)
time.sleep(30)
" >"$T/held" 2>&1 &
HOLD=$!
PEER_PIDS="$PEER_PIDS $HOLD"
WAIT_TENTHS=300 wait_for grep -q . "$T/held" || fail "holder: $(cat "$T/held")"
[ "$(cat "$T/held")" = "20 10" ] ||
    fail "held and refused: $(cat "$T/held"), want 20 10"
code=$(ctl exec "$B" -- curl -s -o /dev/null -w '%{http_code}' \
    -x "http://127.0.0.1:$PB" "http://127.0.0.1:$WP/")
[ "$code" = 200 ] || fail "$B was not served beside a full $A: $code"
[ "$(listener "$A" refused)" -ge 10 ] || fail "refusals not counted"
kill "$HOLD"
for n in "$A" "$B"; do
	ctl rm "$n" >/dev/null || fail "rm $n"
done
stop_sbxd

# Few descriptors: a client takes all the proxy may have.
ip netns exec "$NS" prlimit --nofile=200:200 "$SBXD" -d -f "$CONF" \
    >>"$LOG" 2>&1 &
SBXD_PID=$!
WAIT_TENTHS=300 wait_for ctl status || fail "sbxd did not start"
in_ns python3 - "$LP" >"$T/flood" 2>&1 <<'EOF2' &
import socket, sys, time
socks = []
for i in range(250):
    try:
        s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
        s.sendall(b"GET http://x/ HTTP/1.1\r\n")	# accepted on data
    except OSError:
        break
    socks.append(s)
time.sleep(1)
held, refused = [], 0
for s in socks:
    s.setblocking(False)
    try:
        d = s.recv(200)
    except BlockingIOError:
        held.append(s)
        continue
    refused += b"503" in d and b"out of descriptors" in d
print(len(held), refused, flush=True)
time.sleep(30)
EOF2
FLOOD=$!
PEER_PIDS="$PEER_PIDS $FLOOD"
WAIT_TENTHS=300 wait_for grep -q . "$T/flood" || fail "flood"
read -r held refused <"$T/flood"
[ "$refused" -gt 0 ] || fail "no refusal for descriptors: $held held"
[ "$held" -gt 50 ] || fail "only $held sessions held"
timeout 10 "$SBXCTL" -s "$SOCK" status >/dev/null ||
    fail "sbxctl was shut out while the proxy was out of descriptors"
[ "$(component proxy | json_get '["descriptors"]["refused"]')" -ge \
    "$refused" ] || fail "descriptor refusals not counted"
log_has "proxy: out of descriptors" || fail "not logged"
kill "$FLOOD"
stop_sbxd
pass
