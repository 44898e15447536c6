# proxy_adversarial.sh: malformed and evasive raw requests, each with the
# status the proxy must answer: userinfo, numeric IP forms, trailing dots,
# case, suffix boundaries, Content-Length / Transfer-Encoding mixes, header
# injection, IPv6 forms, versions and sizes.  A 200 means it reached the
# origin; anything else must come from sbxd, before any byte is relayed.
. "${top_srcdir:-.}/tests/regress/lib.sh"

PP=$(free_port)
WP=$(free_port)
cat >"$T/hosts" <<EOF2
127.0.0.1 web.test a.ok.test ok.test evilweb.test web.test.evil.net
127.0.0.1 evil.test
EOF2
conf_write <<EOF2
resolver hosts-file "$T/hosts"
policy "default" {
	loopback yes
	ports $WP 443
	allow "web.test" "*.ok.test"
}
proxy listen on 127.0.0.1 port $PP
EOF2
start_peer http 127.0.0.1 "$WP"
start_sbxd

python3 - "$PP" "$WP" <<'EOF2' || fail "adversarial requests"
import socket, sys
pp, wp = int(sys.argv[1]), sys.argv[2]
H = "Host: web.test\r\n"

def get(target, extra="", method="GET", version="HTTP/1.1"):
    return "%s %s %s\r\n%s%s\r\n" % (method, target, version, H, extra)

def u(host, path="/"):
    return "http://%s:%s%s" % (host, wp, path)

cases = [
    ("plain", get(u("web.test")), 200),
    ("upper case", get(u("WEB.TEST")), 200),
    ("trailing dot", get(u("web.test.")), 200),
    ("two trailing dots", get(u("web.test..")), 400),
    ("wildcard below", get(u("a.ok.test")), 200),
    ("wildcard itself", get(u("ok.test")), 403),
    ("suffix without dot", get(u("evilweb.test")), 403),
    ("allowed name as prefix", get(u("web.test.evil.net")), 403),
    ("userinfo", get(u("user@web.test")), 400),
    ("userinfo with password", get(u("a:b@web.test")), 400),
    ("backslash", get(u("evil.test\\@web.test")), 400),
    ("percent in host", get(u("web%2etest")), 400),
    ("short IPv4", get(u("127.1")), 400),
    ("decimal IPv4", get(u("2130706433")), 400),
    ("hex IPv4", get(u("0x7f.0.0.1")), 400),
    ("octal IPv4", get(u("0177.0.0.1")), 400),
    ("dotted quad", get(u("127.0.0.1")), 403),
    ("IPv6 loopback", get(u("[::1]")), 403),
    ("v4-mapped IPv6", get(u("[::ffff:127.0.0.1]")), 403),
    ("IPv6 without brackets", get("http://::1:%s/" % wp), 400),
    ("IPv6 zone", get(u("[fe80::1%25lo]")), 400),
    ("non-ASCII host", get(u("w\u00e9b.test")), 400),
    ("underscore host", get(u("web_test")), 400),
    ("port 0", get("http://web.test:0/"), 400),
    ("port 65536", get("http://web.test:65536/"), 400),
    ("port with sign", get("http://web.test:+%s/" % wp), 400),
    ("empty port", get("http://web.test:/"), 400),
    ("CL and TE", get(u("web.test"), "Content-Length: 5\r\n"
        "Transfer-Encoding: chunked\r\n"), 400),
    ("TE gzip, chunked", get(u("web.test"),
        "Transfer-Encoding: gzip, chunked\r\n"), 501),
    ("TE chunked twice", get(u("web.test"),
        "Transfer-Encoding: chunked, chunked\r\n"), 501),
    ("TE xchunked", get(u("web.test"), "Transfer-Encoding: xchunked\r\n"),
        501),
    ("space before colon", get(u("web.test"),
        "Transfer-Encoding : chunked\r\n"), 400),
    ("CL with sign", get(u("web.test"), "Content-Length: +5\r\n"), 400),
    ("CL list", get(u("web.test"), "Content-Length: 5, 6\r\n"), 400),
    ("CL twice differing", get(u("web.test"), "Content-Length: 5\r\n"
        "Content-Length: 6\r\n"), 400),
    ("two Host fields", get(u("web.test"), "Host: evil.test\r\n"), 400),
    ("no Host", "GET %s HTTP/1.1\r\n\r\n" % u("web.test"), 400),
    ("obs-fold", get(u("web.test"), "X-A: 1\r\n folded\r\n"), 400),
    ("bare LF", "GET %s HTTP/1.1\n%s\r\n" % (u("web.test"), H), 400),
    ("NUL in a field", get(u("web.test"), "X-A: a\0b\r\n"), 400),
    ("bare CR in a field", get(u("web.test"), "X-A: a\rHost: x\r\n"), 400),
    ("field name with space", get(u("web.test"), "X A: 1\r\n"), 400),
    ("double space", "GET  %s HTTP/1.1\r\n%s\r\n" % (u("web.test"), H), 400),
    ("origin-form", get("/"), 400),
    ("https absolute-form", get("https://web.test/"), 400),
    ("ftp scheme", get("ftp://web.test/"), 501),
    ("asterisk", get("*", method="OPTIONS"), 400),
    ("HTTP/1.2", get(u("web.test"), version="HTTP/1.2"), 505),
    ("HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505),
    ("head over 64 KiB", get(u("web.test"), "X-A: %s\r\n" % ("a" * 70000)),
        431),
    ("Expect other", get(u("web.test"), "Expect: 200-ok\r\n"), 417),
    ("CONNECT without port", get("web.test", method="CONNECT"), 400),
    ("CONNECT blocked", get("evil.test:443", method="CONNECT"), 403),
    ("CONNECT userinfo", get("a@web.test:443", method="CONNECT"), 400),
]
bad = 0
for name, req, want in cases:
    s = socket.create_connection(("127.0.0.1", pp), timeout=10)
    try:
        s.sendall(req.encode("utf-8", "surrogateescape"))
    except OSError:
        pass
    data = b""
    try:
        while not data.endswith(b"\r\n\r\n") and b"\r\n\r\n" not in data:
            d = s.recv(4096)
            if not d:
                break
            data += d
    except OSError:
        pass
    s.close()
    try:
        got = int(data.split(b" ")[1])
    except (IndexError, ValueError):
        got = None
    if got != want:
        print("FAIL %-28s want %s, got %s: %r" % (name, want, got,
              data[:80]))
        bad += 1
print("%d cases, %d wrong" % (len(cases), bad))
sys.exit(bad != 0)
EOF2
[ "$(component proxy | json_get '["rejected"]')" -ge 30 ] ||
    fail "rejections not counted"
ctl status >/dev/null || fail "daemon hurt"
stop_sbxd
pass
