# pfmon_live.sh: pfmon reads a real NFLOG group.  In a private network
# namespace an nftables rule logs and drops what one test user sends;
# sbxd, in the namespace, must raise pfmon.block events with the right
# uid, protocol, addresses and ports, coalesce repeats into one event
# and its follow-up, hold each uid to its alert limit, and ignore what
# root sends.  A missing interface leaves pfmon "down" with the error,
# and a reload to a good one brings it up.
. "${top_srcdir:-.}/tests/regress/lib.sh"

need_root
for c in ip nft nsenter setpriv useradd userdel python3; do
	command -v $c >/dev/null 2>&1 || skip "$c not installed"
done
NS=sbxpf$$
G=7
TU=sbxpf$$
U=
for u in $(seq 60900 60924); do
	if ! getent passwd "$u" >/dev/null && ! getent group "$u" >/dev/null
	then
		U=$u
		break
	fi
done
[ -n "$U" ] || skip "no free uid in 60900-60924"
pf_cleanup() {
	ip netns del "$NS" 2>/dev/null
	userdel "$TU" 2>/dev/null
	getent group "$TU" >/dev/null && groupdel "$TU" 2>/dev/null
	return 0
}
on_exit pf_cleanup
ip netns add "$NS" || skip "cannot create a network namespace"
ip netns exec "$NS" ip link set lo up || fail "lo up"
useradd -M -N -g nogroup -u "$U" -s /bin/false "$TU" 2>/dev/null ||
    useradd -M -u "$U" -s /bin/false "$TU" || fail "useradd $U"
ip netns exec "$NS" nft -f - <<EOF2 || skip "cannot load an nftables ruleset"
table inet sbxtest {
	chain output {
		type filter hook output priority 0; policy accept;
		meta skuid $U log prefix "uid_$U" group $G drop
	}
}
EOF2

# The user needs a python3 it can run (not one under root's home).
UPY=
for p in /usr/bin/python3 /usr/local/bin/python3; do
	[ -x "$p" ] && { UPY=$p; break; }
done
[ -n "$UPY" ] || skip "no system python3 for the test user"

# as_user CMD...: run in the namespace as the test user.
as_user() {
	ip netns exec "$NS" setpriv --reuid "$U" --regid "$U" \
	    --clear-groups "$@"
}
# send KIND ADDR PORT [N]: N tcp connects or udp datagrams; errors from
# the drop (EPERM) are expected.
SEND='import socket, sys
kind, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
n = int(sys.argv[4]) if len(sys.argv) > 4 else 1
ports = int(sys.argv[5]) if len(sys.argv) > 5 else 1
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
for p in range(port, port + ports):
    for i in range(n):
        s = socket.socket(fam, socket.SOCK_STREAM if kind == "tcp"
            else socket.SOCK_DGRAM)
        s.settimeout(0.3)
        try:
            if kind == "tcp":
                s.connect((addr, p))
            else:
                s.sendto(b"x", (addr, p))
        except OSError:
            pass
        s.close()'
send() {
	ip netns exec "$NS" "$UPY" -c "$SEND" "$@"
}
status_pfmon() {
	component pfmon
}
pfmon_state() {
	[ "$(status_pfmon | json_get '["state"]')" = "$1" ]
}

# A missing interface: sbxd runs, pfmon is down and says why.
conf_write <<EOF2
pfmon interface "pflog9"
pfmon window 3
pfmon limit 10
EOF2
# nsenter execs sbxd itself (ip netns exec forks and waits), so
# SBXD_PID is the daemon for stop_sbxd and the cleanup.
nsenter --net="/run/netns/$NS" "$SBXD" -d -f "$CONF" >>"$LOG" 2>&1 &
SBXD_PID=$!
wait_for ctl status || fail "sbxd did not start"
wait_for pfmon_state down || fail "pfmon not down: $(status_pfmon)"
err=$(status_pfmon | json_get '["error"]')
[ -n "$err" ] && [ "$err" != null ] || fail "no error in status"
log_has 'pfmon: pflog9: .*retrying every' || fail "no log line for pflog9"

# Reload onto the NFLOG group: the capture reopens.
sed -i "s/pflog9/nflog:$G/" "$CONF"
ctl reload || fail "reload"
wait_for pfmon_state up || fail "pfmon not up: $(status_pfmon)"
[ "$(status_pfmon | json_get '["linktype"]')" = nflog ] ||
    fail "linktype: $(status_pfmon)"

"$SBXCTL" -s "$SOCK" -j events >"$T/events.json" 2>&1 &
PEER_PIDS="$PEER_PIDS $!"
wait_for followers_at_least 1 || fail "the events follower did not connect"
sleep 0.5

send tcp 127.0.0.1 9			# as root: not logged
send udp 127.0.0.1 53
send udp ::1 53
as_user "$UPY" -c "$SEND" tcp 127.0.0.1 9 || fail "send as $U"
as_user "$UPY" -c "$SEND" tcp ::1 9
as_user "$UPY" -c "$SEND" udp 127.0.0.1 53
as_user "$UPY" -c "$SEND" udp ::1 53
as_user "$UPY" -c "$SEND" udp 127.0.0.1 5353 50
# The kernel hands NFLOG records over in batches, flushed at the
# latest after a second: the window (3 s) holds all 50 datagrams.  When
# it has closed, a new uid window: 25 new flows against a limit of 10,
# sent by one process, at once, well within the window.
sleep 3.5
as_user "$UPY" -c "$SEND" udp 127.0.0.2 7000 1 25
sleep 4

python3 - "$T/events.json" "$U" <<'EOF2' || fail "pfmon.block events"
import json, sys
uid = int(sys.argv[2])
ev = [e for e in map(json.loads, open(sys.argv[1]))
      if e["type"] == "pfmon.block"]
assert ev, "no pfmon.block event"
assert all(e["uid"] == uid for e in ev), [e for e in ev if e["uid"] != uid]
def find(proto, dst, dport):
    return [e for e in ev if e["proto"] == proto and e["dst"] == dst and
            e["dport"] == dport]
for proto, fam, src, dst, dport in (
        ("tcp", "inet", "127.0.0.1", "127.0.0.1", 9),
        ("tcp", "inet6", "::1", "::1", 9),
        ("udp", "inet", "127.0.0.1", "127.0.0.1", 53),
        ("udp", "inet6", "::1", "::1", 53)):
    f = find(proto, dst, dport)
    assert f, (proto, dst, dport, ev)
    e = f[0]
    assert e["family"] == fam and e["src"] == src, e
    assert e["count"] == 1 and isinstance(e["sport"], int), e
    assert e["action"] == "block" and e["dir"] == "out", e
    assert e["ifname"] == "lo", e
    assert "sandbox" in e, e
    for k in ("uid", "sandbox", "family", "proto", "src", "sport", "dst",
              "dport", "ifname", "action", "dir", "count"):
        assert k in e, (k, e)
# 50 datagrams to one dst:port: the first at once, the other 49 in
# the follow-up when the window ends.
f = find("udp", "127.0.0.1", 5353)
assert [e["count"] for e in f] == [1, 49], f
# 25 new flows, limit 10: 10 alerts.
f = [e for e in ev if e["dst"] == "127.0.0.2"]
assert len(f) == 10 and all(e["count"] == 1 for e in f), f
EOF2

status_pfmon >"$T/status.json"
python3 - "$T/status.json" "$U" <<'EOF2' || fail "pfmon status: $(cat "$T/status.json")"
import json, sys
st = json.load(open(sys.argv[1]))
uid = int(sys.argv[2])
assert st["state"] == "up" and st["interface"].startswith("nflog:"), st
assert st["seen"] == st["decoded"] >= 79 and st["malformed"] == 0, st
assert st["alerted"] == 15 and st["followups"] == 1, st
assert st["coalesced"] >= 49 and st["suppressed"] == 15, st
assert st["kernel"]["recv"] >= st["seen"] and st["kernel"]["drop"] == 0, st
u = [x for x in st["uids"] if x["uid"] == uid]
assert u and u[0]["alerted"] == 15 and u[0]["suppressed"] == 15, st["uids"]
assert all(x["uid"] == uid for x in st["uids"]), st["uids"]
EOF2
log_has "pfmon: uid $U: 10 alerts in 3 s" || fail "no limit log line"
stop_sbxd
pass
