# harden_head.sh: a refusal reaches a client that is still sending.  A
# head over 64 KiB gets 431 and a blocked upload 403, read by the client
# after it sent everything, never a reset in the middle of its send; a
# client that neither closes nor stops sending does not keep its session.
. "${top_srcdir:-.}/tests/regress/lib.sh"

PP=$(free_port)
WP=$(free_port)
cat >"$T/hosts" <<EOF2
127.0.0.1 web.test evil.test
EOF2
conf_write <<EOF2
resolver hosts-file "$T/hosts"
policy "default" {
	loopback yes
	ports $WP
	allow "web.test"
}
proxy listen on 127.0.0.1 port $PP
EOF2
start_peer http 127.0.0.1 "$WP"
start_sbxd

python3 - "$PP" "$WP" <<'EOF2' || fail "refusals to a sending client"
import socket, sys, time
pp, wp = int(sys.argv[1]), sys.argv[2]
def status(s):
    data = b""
    while b"\r\n" not in data:
        d = s.recv(4096)
        if not d:
            break
        data += d
    return data.split(b"\r\n")[0]
head = ("GET http://web.test:%s/ HTTP/1.1\r\nHost: web.test\r\nX-A: " %
        wp).encode()
# All at once, 16 MB, then read.
s = socket.create_connection(("127.0.0.1", pp), timeout=20)
s.sendall(head + b"a" * (16 << 20) + b"\r\n\r\n")
got = status(s)
assert got.startswith(b"HTTP/1.1 431 "), got
# In pieces, the rest after the proxy refused.
s = socket.create_connection(("127.0.0.1", pp), timeout=20)
s.sendall(head + b"a" * 66000)
for i in range(3):
    time.sleep(0.2)
    s.sendall(b"a" * 10000)
got = status(s)
assert got.startswith(b"HTTP/1.1 431 "), got
EOF2

# curl uploads 16 MB to a blocked name and is told 403.
head -c 16777216 /dev/zero >"$T/body"
code=$(curl -sS -o /dev/null -w '%{http_code}' -x "http://127.0.0.1:$PP" \
    -H "Expect:" --data-binary @"$T/body" "http://evil.test:$WP/" 2>"$T/curl.err")
[ "$code" = 403 ] || fail "blocked upload: $code $(cat "$T/curl.err")"

# A client that goes quiet, and one that never stops: both closed.
sessions() { [ "$(component proxy | json_get '["sessions"]')" = "$1" ]; }
python3 - "$PP" "$WP" <<'EOF2' &
import socket, sys, time
pp, wp = int(sys.argv[1]), sys.argv[2]
head = ("GET http://web.test:%s/ HTTP/1.1\r\nHost: web.test\r\nX-A: " %
        wp).encode()
quiet = socket.create_connection(("127.0.0.1", pp))
quiet.sendall(head + b"a" * 66000)
busy = socket.create_connection(("127.0.0.1", pp))
busy.sendall(head + b"a" * 66000)
end = time.monotonic() + 15
while time.monotonic() < end:
    try:
        busy.sendall(b"a" * 100)
    except OSError:
        break
    time.sleep(0.2)
time.sleep(15)
EOF2
HOLD=$!
PEER_PIDS="$PEER_PIDS $HOLD"
sleep 1
WAIT_TENTHS=80 wait_for sessions 0 ||
    fail "lingering sessions kept: $(ctl sessions)"
kill "$HOLD"
ctl status >/dev/null || fail "daemon hurt"
stop_sbxd
pass
