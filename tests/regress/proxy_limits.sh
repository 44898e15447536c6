# proxy_limits.sh: a slowloris client gets 408 after the header timeout;
# a listener over its session limit answers 503 and counts it; a client
# that reads slowly does not make the daemon buffer the whole body.
. "${top_srcdir:-.}/tests/regress/lib.sh"

PP=$(free_port)
WP=$(free_port)
PROXY=127.0.0.1:$PP
cat >"$T/hosts" <<EOF2
127.0.0.1 web.test
EOF2
conf_write <<EOF2
resolver hosts-file "$T/hosts"
proxy timeout header 2
proxy buffer 65536
policy "default" {
	loopback yes
	ports $WP
	allow "web.test"
}
proxy listen on 127.0.0.1 port $PP max sessions 20
EOF2
start_peer http 127.0.0.1 "$WP"
start_sbxd

python3 - "$PP" <<'EOF2' || fail "slowloris"
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
t0 = time.time()
try:
    for c in b"GET http://web.test/ HTTP/1.1\r\nX-Slow: ":
        s.send(bytes([c]))
        time.sleep(0.05)
    for i in range(60):
        s.send(b"a")
        time.sleep(0.2)
except OSError:
    pass
reply = s.recv(100)
assert reply.startswith(b"HTTP/1.1 408"), reply
assert time.time() - t0 < 6, "took %.1fs" % (time.time() - t0)
EOF2

python3 - "$PP" <<'EOF2' || fail "session limit"
import socket, sys, time
pp = int(sys.argv[1])
held = [socket.create_connection(("127.0.0.1", pp)) for i in range(20)]
time.sleep(0.3)
s = socket.create_connection(("127.0.0.1", pp), timeout=5)
r = s.recv(100)
assert r.startswith(b"HTTP/1.1 503"), r
EOF2
[ "$(component proxy | json_get '["listeners"][0]["refused"]')" -ge 1 ] ||
    fail "refusal not counted"

# A client that reads 64 MB slowly: the daemon's memory stays bounded.
rss() {
	awk '/^VmRSS/ { print $2 }' "/proc/$SBXD_PID/status"
}
before=$(rss)
python3 - "$PP" "$WP" "$T/peak" "$SBXD_PID" <<'EOF2' || fail "slow reader"
import socket, sys, time
pp, wp, peakf, pid = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
s.connect(("127.0.0.1", pp))
size = 64 << 20
s.sendall(b"GET http://web.test:%s/bytes/%d HTTP/1.1\r\nHost: web.test\r\n"
          b"Connection: close\r\n\r\n" % (wp.encode(), size))
got, peak = 0, 0
while True:
    d = s.recv(65536)
    if not d:
        break
    got += len(d)
    if got % (4 << 20) < 65536:
        time.sleep(0.2)
        for l in open("/proc/%s/status" % pid):
            if l.startswith("VmRSS"):
                peak = max(peak, int(l.split()[1]))
open(peakf, "w").write(str(peak))
assert got > size, got
EOF2
growth=$(( $(cat "$T/peak") - before ))
# AddressSanitizer holds freed memory in quarantine: RSS means nothing.
if ldd "$SBXD" 2>/dev/null | grep -q libasan; then
	echo "note: RSS bound not checked in a sanitizer build"
else
	[ "$growth" -lt 16384 ] ||
	    fail "RSS grew by $growth KiB for a slow reader"
fi
stop_sbxd
pass
