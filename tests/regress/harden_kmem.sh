# harden_kmem.sh: a stuck session pins little kernel memory.  Twenty
# CONNECT tunnels push data to a server that never reads; the kernel
# memory of sbxd's own sockets stays under the bound status reports per
# session, status counts what is queued per listener, and the stream
# itself still flows.
. "${top_srcdir:-.}/tests/regress/lib.sh"
command -v ss >/dev/null || skip "needs ss"
PP=$(free_port)
UP=$(free_port)
conf_write <<EOF2
policy "default" {
	default allow
	loopback yes
}
proxy listen on 127.0.0.1 port $PP
EOF2
start_sbxd

python3 - "$PP" "$UP" "$SOCK" "$SBXCTL" <<'EOF2' || fail "stuck tunnels"
import json, re, socket, subprocess, sys, time
pp, up, sock, sbxctl = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], \
    sys.argv[4]
n = 20
srv = socket.socket()
srv.bind(("127.0.0.1", up))
srv.listen(64)
clients, peers = [], []
for i in range(n):
    c = socket.create_connection(("127.0.0.1", pp))
    c.sendall(b"CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: x\r\n\r\n" % up)
    assert b" 200 " in c.recv(4096).split(b"\r\n")[0]
    peers.append(srv.accept()[0])	# never read
    c.setblocking(False)
    clients.append(c)
buf = b"x" * 65536
idle = 0
while idle < 5:
    moved = 0
    for c in clients:
        try:
            while True:
                moved += c.send(buf)
        except BlockingIOError:
            pass
    idle = idle + 1 if moved == 0 else 0
    time.sleep(0.2)

def ssmem(filt):
    out = subprocess.run(["ss", "-tmnH", filt], capture_output=True,
                         text=True).stdout
    return sum(int(a) + int(b) + int(c) + int(d) for a, b, c, d in
               re.findall(r"skmem:\(r(\d+),rb\d+,t(\d+),tb\d+,f(\d+),"
                          r"w(\d+)", out))
own = ssmem("sport = :%d" % pp) + ssmem("dport = :%d" % up)
st = json.loads(subprocess.run([sbxctl, "-s", sock, "-j", "status"],
                capture_output=True, text=True).stdout)
proxy = [c for c in st["components"] if c["name"] == "proxy"][0]
lst = proxy["listeners"][0]
bound = lst["kernel_max"] / lst["max_sessions"]
sockets = 8 * proxy["kernel_buffer"]
print("sockets %.0f KiB a session (at most %d), bound %d KiB, queued %d "
      "KiB" % (own / n / 1024, sockets / 1024, bound / 1024,
      lst["kernel_queued"] / 1024))
assert own / n <= sockets, "sbxd's sockets pin %d bytes a session" % (own / n)
assert lst["sessions"] == n, lst
assert 0 < lst["kernel_queued"] <= n * bound, lst
EOF2
ctl status >/dev/null || fail "daemon hurt"
stop_sbxd
pass
