# proxy_connect.sh: CONNECT tunnels.  curl over https through the proxy
# to a TLS server the test starts; the SNI check (a mismatched name and
# bytes that are not TLS are blocked, a missing name is allowed); tunnels
# to a raw echo server with splice and without; 1000 tunnels at once; a
# reload that blocks a host keeps the open tunnel and refuses new ones.
# Needs root: the TLS server listens on 127.0.0.2:443.
. "${top_srcdir:-.}/tests/regress/lib.sh"
need_root

PP=$(free_port)
EP=$(free_port)
WP=$(free_port)
PROXY=127.0.0.1:$PP
cat >"$T/hosts" <<EOF2
127.0.0.2 tls.test evil.test
127.0.0.1 echo.test
EOF2
make_cert tls.test evil.test
write_conf() {
	conf_write <<EOF2
resolver hosts-file "$T/hosts"
proxy splice $1
policy "default" {
	loopback yes
	allow "tls.test" $2
}
proxy listen on 127.0.0.1 port $PP
EOF2
}
write_conf yes "\"echo.test:$EP\" \"echo.test:$WP\""
start_peer tls 127.0.0.2 443 "$T/cert.pem" "$T/key.pem"
start_peer echo 127.0.0.1 "$EP"
start_peer pairs 127.0.0.1 "$WP"
start_sbxd
"$SBXCTL" -s "$SOCK" -j events >"$T/events" 2>&1 &
PEER_PIDS="$PEER_PIDS $!"
wait_for followers_at_least 1 || fail "the events follower did not connect"

[ "$(through https://tls.test/ --cacert "$T/cert.pem")" = hello ] ||
    fail "https through the proxy"
through https://tls.test/bytes/10000000 --cacert "$T/cert.pem" \
    -o "$T/down" || fail "https download"
[ "$(stat -c %s "$T/down")" = 10000000 ] || fail "https download size"
through https://evil.test/ --cacert "$T/cert.pem" -o /dev/null 2>/dev/null &&
    fail "a blocked host was reached"

python3 - "$PP" "$T/cert.pem" <<'EOF2' || fail "SNI checks"
import socket, ssl, sys
pp, cert = int(sys.argv[1]), sys.argv[2]

def tunnel(target):
    s = socket.create_connection(("127.0.0.1", pp), timeout=10)
    s.sendall(b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" %
              (target.encode(), target.encode()))
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        head += s.recv(1)
    return s, head

s, head = tunnel("evil.test:443")
assert head.startswith(b"HTTP/1.1 403"), head
s, head = tunnel("tls.test:443")
assert head.startswith(b"HTTP/1.1 200"), head
ctx = ssl.create_default_context(cafile=cert)
ctx.check_hostname = False
try:
    ctx.wrap_socket(s, server_hostname="evil.test").do_handshake()
    raise SystemExit("SNI evil.test got through a tunnel to tls.test")
except (ssl.SSLError, OSError):
    pass
s, head = tunnel("tls.test:443")
s.sendall(b"GET / HTTP/1.1\r\nHost: tls.test\r\n\r\n")
assert s.recv(100) == b"", "plain text relayed to port 443"
# No server name at all: allowed, and logged.
s, head = tunnel("tls.test:443")
ctx = ssl.create_default_context(cafile=cert)
ctx.check_hostname = False
t = ctx.wrap_socket(s, server_hostname=None)
t.sendall(b"GET / HTTP/1.1\r\nHost: tls.test\r\nConnection: close\r\n\r\n")
reply = b""
while True:
    d = t.recv(4096)
    if not d:
        break
    reply += d
assert reply.endswith(b"hello\n"), reply
EOF2
wait_for grep -q '"reason":"sni-mismatch","detail":"evil.test"' \
    "$T/events" || fail "no sni-mismatch event"
grep -q '"reason":"not-tls"' "$T/events" || fail "no not-tls event"
log_has "CONNECT tls.test:443 without a server name" ||
    fail "missing SNI not logged"

# Raw tunnels to the echo server, 16 MB each way, with splice.
echo_tunnels() {
	python3 - "$PP" "$EP" "$@" <<'EOF2'
import socket, sys, threading, os, time
pp, ep, count, size = (int(a) for a in sys.argv[1:5])
socks = []
for i in range(count):
    s = socket.create_connection(("127.0.0.1", pp), timeout=30)
    s.sendall(b"CONNECT echo.test:%d HTTP/1.1\r\nHost: x\r\n\r\n" % ep)
    socks.append(s)
for s in socks:
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        head += s.recv(1)
    assert head.startswith(b"HTTP/1.1 200"), head
data = os.urandom(size)
for s in socks:
    got = bytearray()
    w = threading.Thread(target=s.sendall, args=(data,))
    w.start()
    while len(got) < size:
        d = s.recv(1 << 20)
        assert d, "tunnel closed early"
        got += d
    w.join()
    assert bytes(got) == data, "echo differs"
print("ok", flush=True)
# Hold the tunnels open until the test says so.
while len(sys.argv) > 5 and not os.path.exists(sys.argv[5]):
    time.sleep(0.1)
EOF2
}
[ "$(echo_tunnels 2 16000000)" = ok ] || fail "spliced tunnels"

# A client and a server that each write twice, 5 ms apart, before they
# read: a relay that gathers small writes (Nagle's algorithm) holds each
# second byte until the peer's delayed ACK, 40 ms or more on Linux.  Of
# 20 such turns, a few may be slow on a busy machine; most never are.
small_writes() {
	python3 - "$PP" "$WP" <<'EOF2'
import socket, sys, time
pp, wp = (int(a) for a in sys.argv[1:3])
s = socket.create_connection(("127.0.0.1", pp), timeout=10)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
s.sendall(b"CONNECT echo.test:%d HTTP/1.1\r\nHost: x\r\n\r\n" % wp)
head = b""
while not head.endswith(b"\r\n\r\n"):
    head += s.recv(1)
assert head.startswith(b"HTTP/1.1 200"), head
slow = 0
for i in range(20):
    t0 = time.monotonic()
    s.sendall(b"a")
    time.sleep(0.005)
    s.sendall(b"b")
    got = b""
    while len(got) < 2:
        d = s.recv(2 - len(got))
        assert d, "tunnel closed"
        got += d
    assert got == b"ab", got
    if time.monotonic() - t0 > 0.035:
        slow += 1
print("slow %d" % slow, flush=True)
EOF2
}
slow=$(small_writes) || fail "small writes through a tunnel"
[ "${slow#slow }" -le 4 ] ||
    fail "${slow#slow } of 20 turns waited on a delayed ACK"

# 1000 tunnels at once, all held open.
ulimit -n 8192
(echo_tunnels 1000 100 "$T/release" >"$T/many") &
HOLD=$!
i=0
until grep -q ok "$T/many" || [ $i -ge 600 ]; do
	sleep 0.1; i=$((i + 1))
done
grep -q ok "$T/many" || fail "1000 tunnels: $(cat "$T/many")"
n=$(component proxy | json_get '["sessions"]')
[ "$n" -ge 1000 ] || fail "status shows $n sessions, want 1000"
[ "$(ctl -j sessions | python3 -c 'import json,sys
print(sum(1 for s in json.load(sys.stdin)["sessions"]
    if s["state"] == "tunnel"))')" -ge 1000 ] || fail "sbxctl sessions"
touch "$T/release"
wait $HOLD

# Without splice, through bufferevents.
write_conf no "\"echo.test:$EP\" \"echo.test:$WP\""
ctl reload || fail "reload"
[ "$(echo_tunnels 2 16000000)" = ok ] || fail "tunnels without splice"
slow=$(small_writes) || fail "small writes through an unspliced tunnel"
[ "${slow#slow }" -le 4 ] ||
    fail "${slow#slow } of 20 turns waited on a delayed ACK, without splice"

# A reload that drops echo.test: the open tunnel goes on, new ones fail.
python3 - "$PP" "$EP" "$SBXCTL" "$SOCK" "$CONF" <<'EOF2' || fail "live reload"
import socket, subprocess, sys, re
pp, ep, sbxctl, sock, conf = sys.argv[1:6]
s = socket.create_connection(("127.0.0.1", int(pp)), timeout=10)
s.sendall(b"CONNECT echo.test:%s HTTP/1.1\r\nHost: x\r\n\r\n" % ep.encode())
assert s.recv(100).startswith(b"HTTP/1.1 200")
text = open(conf).read()
open(conf, "w").write(re.sub(r'"echo\.test:\d+"', "", text))
subprocess.run([sbxctl, "-s", sock, "reload"], check=True)
s.sendall(b"still here")
assert s.recv(100) == b"still here", "open tunnel dropped by reload"
t = socket.create_connection(("127.0.0.1", int(pp)), timeout=10)
t.sendall(b"CONNECT echo.test:%s HTTP/1.1\r\nHost: x\r\n\r\n" % ep.encode())
assert t.recv(100).startswith(b"HTTP/1.1 403"), "new tunnel not blocked"
EOF2
stop_sbxd
pass
