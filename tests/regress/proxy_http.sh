# proxy_http.sh: plain HTTP through the proxy with curl and raw sockets:
# allowed and blocked hosts on one kept-alive connection, bodies of
# 20 MB both ways (Content-Length and chunked, spliced or not), HEAD,
# 100-continue, pipelining (long bodies included), a head and its body
# sent apart, the rewritten head the origin sees, the access log and the
# proxy.block event.
. "${top_srcdir:-.}/tests/regress/lib.sh"

PP=$(free_port)
WP=$(free_port)
DP=$(free_port)
DNS=$(free_port)
PROXY=127.0.0.1:$PP
cat >"$T/hosts" <<EOF2
127.0.0.1 web.test other.test
EOF2
conf_write <<EOF2
resolver hosts-file "$T/hosts"
proxy access log "$T/access.log"
resolver nameserver 127.0.0.1 port $DNS
policy "default" {
	loopback yes
	ports $WP
	allow "web.test"
}
policy "dns" {
	allow "*.sbxd.invalid"
}
proxy listen on 127.0.0.1 port $PP
proxy listen on 127.0.0.1 port $DP policy "dns"
EOF2
start_peer http 127.0.0.1 "$WP"
start_peer dns 127.0.0.1 "$DNS"
start_sbxd
"$SBXCTL" -s "$SOCK" -j events >"$T/events" 2>&1 &
PEER_PIDS="$PEER_PIDS $!"
wait_for followers_at_least 1 || fail "the events follower did not connect"

[ "$(through "http://web.test:$WP/")" = hello ] || fail "simple GET"

# Allowed, blocked, allowed on one connection.
curl -sS -x "http://$PROXY" "http://web.test:$WP/" -o /dev/null \
    -w '%{http_code} ' \
    --next -x "http://$PROXY" "http://other.test:$WP/" -o "$T/403" \
    -w '%{http_code} ' -D "$T/403.head" \
    --next -x "http://$PROXY" "http://web.test:$WP/" -o /dev/null \
    -w '%{http_code} %{num_connects}' >"$T/codes" || fail "keep-alive run"
[ "$(cat "$T/codes")" = "200 403 200 0" ] ||
    fail "one connection, allowed/blocked/allowed: $(cat "$T/codes")"
grep -qi '^X-Sbx-Block: policy' "$T/403.head" || fail "no X-Sbx-Block"
grep -q "sbxctl allow 127.0.0.1:$PP other.test" "$T/403" ||
    fail "403 body: $(cat "$T/403")"
wait_for grep -q '"type":"proxy.block".*"host":"other.test"' "$T/events" ||
    fail "no proxy.block event"
grep '"type":"proxy.block"' "$T/events" | python3 -c "
import json, sys
e = json.loads(sys.stdin.readline())
assert e['listener'] == '127.0.0.1:$PP' and e['port'] == $WP, e
assert e['method'] == 'GET' and e['reason'] == 'policy', e
assert 'sandbox' in e" || fail "proxy.block fields"

# Big bodies both ways.
through "http://web.test:$WP/bytes/20000000" -o "$T/down" ||
    fail "big download"
python3 -c "
import sys
sys.path.insert(0, '$top_srcdir/tests/regress')
from peer import pattern
assert open('$T/down', 'rb').read() == pattern(20000000)" ||
    fail "download corrupted"
head -c 20000000 /dev/urandom >"$T/up"
want="20000000 $(sha256sum "$T/up" | cut -d' ' -f1)"
[ "$(through "http://web.test:$WP/count" --data-binary @"$T/up")" = \
    "$want" ] || fail "upload with Content-Length"
[ "$(through "http://web.test:$WP/count" --data-binary @"$T/up" \
    -H 'Transfer-Encoding: chunked')" = "$want" ] || fail "chunked upload"
# curl sends Expect: 100-continue for a body this size.
[ "$(through "http://web.test:$WP/count" --data-binary @"$T/up" \
    -H 'Expect: 100-continue' -H 'Transfer-Encoding: chunked')" = \
    "$want" ] || fail "100-continue upload"

# HEAD has no body; a close-delimited body ends the connection.
through "http://web.test:$WP/bytes/100" -I -o /dev/null \
    -w '%{http_code}' | grep -qx 200 || fail "HEAD"
[ "$(through "http://web.test:$WP/close")" = "until close" ] ||
    fail "close-delimited body"

# What the origin sees: origin-form, Host from the target, Via added,
# hop-by-hop and proxy credentials gone.
through "http://web.test:$WP/headers" -H 'Proxy-Authorization: Basic eDp5' \
    -H 'Connection: keep-alive, X-Secret' -H 'X-Secret: 1' \
    -H 'Keep-Alive: 5' -H 'TE: trailers' -o "$T/seen" || fail "headers"
head -1 "$T/seen" | grep -q '^GET /headers HTTP/1.1' ||
    fail "request line: $(head -1 "$T/seen")"
grep -qi "^Host: web.test:$WP" "$T/seen" || fail "Host"
grep -qi '^Via: 1.1 sbxd' "$T/seen" || fail "Via"
for h in Proxy-Authorization X-Secret Keep-Alive TE; do
	grep -qi "^$h:" "$T/seen" && fail "$h forwarded"
done

# Two pipelined requests in one write, answered in order.
python3 - "$PP" "$WP" <<'EOF2' || fail "pipelining"
import socket, sys
pp, wp = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", pp), timeout=10)
r = ("GET http://web.test:%s/bytes/10 HTTP/1.1\r\nHost: web.test\r\n\r\n"
     "GET http://web.test:%s/ HTTP/1.1\r\nHost: web.test\r\n"
     "Connection: close\r\n\r\n") % (wp, wp)
s.sendall(r.encode())
data = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    data += d
assert data.count(b"HTTP/1.1 200") == 2, data
assert data.endswith(b"hello\n"), data
assert data.index(b"Content-Length: 10") < data.index(b"Content-Length: 6")
EOF2

# Long bodies go socket to socket with splice, limited to exactly their
# length: a pipelined upload, a download and a last request in one write
# come back whole and in order, over one upstream connection.
python3 - "$PP" "$WP" "$top_srcdir" <<'EOF2' || fail "pipelined long bodies"
import hashlib, os, socket, sys
sys.path.insert(0, sys.argv[3] + "/tests/regress")
from peer import pattern
pp, wp = int(sys.argv[1]), sys.argv[2]
up = os.urandom(300000)
s = socket.create_connection(("127.0.0.1", pp), timeout=20)
s.sendall(("POST http://web.test:%s/count HTTP/1.1\r\nHost: web.test\r\n"
    "Content-Length: %d\r\n\r\n" % (wp, len(up))).encode() + up +
    ("GET http://web.test:%s/bytes/300001 HTTP/1.1\r\nHost: web.test\r\n"
    "\r\nGET http://web.test:%s/bytes/10 HTTP/1.1\r\nHost: web.test\r\n"
    "Connection: close\r\n\r\n" % (wp, wp)).encode())
f = s.makefile("rb")
def response():
    status = f.readline()
    assert status.startswith(b"HTTP/1.1 200"), status
    n = None
    while True:
        line = f.readline()
        if line == b"\r\n":
            break
        k, v = line.split(b":", 1)
        if k.lower() == b"content-length":
            n = int(v)
    return f.read(n)
want = ("%d %s\n" % (len(up), hashlib.sha256(up).hexdigest())).encode()
assert response() == want, "upload"
assert response() == pattern(300001), "download"
assert response() == pattern(10), "last"
assert f.read() == b"", "bytes after the last response"
EOF2
n=$(component proxy | json_get '["spliced"]')
[ "$n" -ge 4 ] || fail "status shows $n spliced bodies, want 4 or more"

# A head, then its body 5 ms later, on one kept-alive connection, 20
# times: neither the body nor the answer's body (written apart from its
# head) may wait for a delayed ACK (40 ms or more) as the proxy relays
# them.  A few turns may be slow on a busy machine; most never are.
head_body_apart() {
	python3 - "$PP" "$WP" <<'EOF2'
import socket, sys, time
pp, wp = (int(a) for a in sys.argv[1:3])
s = socket.create_connection(("127.0.0.1", pp), timeout=10)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
f = s.makefile("rb")
slow = 0
for i in range(20):
    t0 = time.monotonic()
    s.sendall(b"POST http://web.test:%d/count HTTP/1.1\r\nHost: web.test:%d"
              b"\r\nContent-Length: 100\r\n\r\n" % (wp, wp))
    time.sleep(0.005)
    s.sendall(b"x" * 100)
    assert f.readline().startswith(b"HTTP/1.1 200"), "status"
    length = None
    while True:
        line = f.readline()
        if line == b"\r\n":
            break
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    assert f.read(length).startswith(b"100 "), "body"
    if time.monotonic() - t0 > 0.035:
        slow += 1
print(slow)
EOF2
}
slow=$(head_body_apart) || fail "head and body apart"
[ "$slow" -le 4 ] || fail "$slow of 20 requests waited on a delayed ACK"

# An origin-form request is refused: the proxy never routes by Host.
python3 - "$PP" <<'EOF2' || fail "origin-form"
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"GET / HTTP/1.1\r\nHost: web.test\r\n\r\n")
assert s.recv(100).startswith(b"HTTP/1.1 400"), "not 400"
EOF2
wait_for grep -q '"type":"proxy.reject".*"reason":"origin-form"' \
    "$T/events" || fail "no proxy.reject event"

# A name DNS does not know fails closed, with the reason.
curl -sS -x "http://127.0.0.1:$DP" "http://nowhere.sbxd.invalid/" -o "$T/502" \
    -w '%{http_code}' >"$T/code" || fail "curl nowhere.sbxd.invalid"
[ "$(cat "$T/code")" = 502 ] || fail "DNS failure gave $(cat "$T/code")"
grep -q "cannot resolve nowhere.sbxd.invalid" "$T/502" || fail "$(cat "$T/502")"

# The access log: one line per request.
grep -Eq "^[0-9T:.-]+Z 127\.0\.0\.1:[0-9]+ 127\.0\.0\.1:$PP GET web\.test:$WP 200 [0-9]+ [0-9]+ [0-9]+$" \
    "$T/access.log" || fail "access log: $(head -3 "$T/access.log")"
grep -q " GET other.test:$WP 403 0 0 [0-9]* policy$" "$T/access.log" ||
    fail "blocked request not logged"
stop_sbxd
pass
