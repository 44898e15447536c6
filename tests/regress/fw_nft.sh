# fw_nft.sh: the nftables backend's scripts, loaded into a private
# network namespace with the real nft: init and apply are idempotent,
# verify accepts what apply loaded and refuses other ports, remove
# leaves no chain, no map and no set element.  Then, as a throwaway user
# with the sandbox's uid, TCP to 127.0.0.1 on its port connects and on
# another port is refused at once; its server answers root, but not on
# a listener port; another uid cannot reach the sandbox's port,
# or an open sandbox's, and root reaches both.  Needs root (ip netns,
# useradd, setpriv).
. "${top_srcdir:-.}/tests/regress/lib.sh"
need_root
FW_GEN=${FW_GEN:-${top_builddir:-.}/tests/fw/fw_gen}
PY=/usr/bin/python3	# not a per-user install: the sandbox user runs it
command -v nft >/dev/null || skip "nft missing"
command -v ip >/dev/null || skip "ip missing"
command -v setpriv >/dev/null || skip "setpriv missing"
[ -x "$FW_GEN" ] || fail "no $FW_GEN"
[ -x "$PY" ] || skip "$PY missing"

SUID=60123
OUID=60126	# an open sandbox's
XUID=60127	# anybody else
NS=sbxfw$$
USER_T=sbxfw$$
ip netns add "$NS" || skip "cannot create a network namespace"
drop_ns() { ip netns delete "$NS" 2>/dev/null; }
on_exit drop_ns

nsx() {
	ip netns exec "$NS" "$@"
}

# load STEP ARGS...: fw_gen's script for STEP through nft -f -.
load() {
	"$FW_GEN" "$@" >"$T/script" || fail "fw_gen $*"
	nsx nft -f - <"$T/script" || fail "nft -f: fw_gen $*"
}

listing() {
	nsx nft -j list table inet sbxd
}

load init
load init
load apply $SUID 3128
nsx nft list table inet sbxd >"$T/once"
load apply $SUID 3128
load init
nsx nft list table inet sbxd >"$T/twice"
if ! cmp -s "$T/once" "$T/twice"; then
	diff "$T/once" "$T/twice"
	fail "apply or init twice changed the ruleset"
fi
[ "$(grep -c 'meta skuid vmap @sandboxes' "$T/twice")" -eq 1 ] ||
    fail "the vmap rule is not there exactly once"

load -o apply $OUID 3129 3131
listing | "$FW_GEN" verify $SUID 3128 || fail "verify refused the rules"
listing | "$FW_GEN" -o verify $OUID 3129 3131 ||
    fail "verify refused the open sandbox's"
out=$(listing | "$FW_GEN" verify $SUID 4000) && fail "verify took port 4000"
case $out in
*"set ports lacks port 4000"*) ;;
*) fail "verify 4000: $out" ;;
esac
listing | "$FW_GEN" verify 60124 3128 >/dev/null && fail "verify took uid 60124"

# Traffic: uid $SUID reaches 127.0.0.1:3128 but not 127.0.0.1:4000,
# though something listens there (root reaches it): it is refused at
# once, TCP with a reset and UDP with an ICMP error.  A server of uid
# $SUID answers root on 4001, but not on 3131, another sandbox's
# listener port.
traffic() {
	if getent passwd $SUID >/dev/null; then
		echo "uid $SUID exists: no traffic check"
		return
	fi
	useradd -u $SUID -M -d /nonexistent -s /usr/sbin/nologin "$USER_T" \
	    2>/dev/null || fail "useradd"
	drop_user() {
		pkill -KILL -u $SUID 2>/dev/null
		userdel "$USER_T" 2>/dev/null
	}
	on_exit drop_user
	nsx ip link set lo up || fail "lo up"
	ip netns exec "$NS" "$PY" -c 'import socket, time
ls = []
for p in (3128, 3129, 4000):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", p))
    s.listen(8)
    ls.append(s)
print("ready", flush=True)
time.sleep(30)' >"$T/listen" 2>&1 &
	PEER_PIDS="$PEER_PIDS $!"
	wait_for grep -q ready "$T/listen" || fail "listener did not start"
	# The sandbox user's own servers, each saying hello to whoever
	# connects.
	nsx setpriv --reuid=$SUID --regid=$SUID --clear-groups "$PY" -c '
import select, socket, time
ls = []
for p in (3131, 4001):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", p))
    s.listen(8)
    ls.append(s)
print("ready", flush=True)
end = time.time() + 30
while time.time() < end:
    for s in select.select(ls, [], [], 1)[0]:
        c, _ = s.accept()
        c.sendall(b"hello\n")
        c.close()' >"$T/slisten" 2>&1 &
	PEER_PIDS="$PEER_PIDS $!"
	wait_for grep -q ready "$T/slisten" ||
	    fail "the sandbox's server did not start: $(cat "$T/slisten")"
	connect() {
		nsx setpriv --reuid=$1 --regid=$1 --clear-groups "$PY" -c '
import socket, sys
s = socket.socket()
s.settimeout(1.5)
try:
    s.connect(("127.0.0.1", int(sys.argv[1])))
    if len(sys.argv) > 2:
        print("connected", s.recv(64).decode().strip())
    else:
        print("connected")
except socket.timeout:
    print("timeout")
except OSError as e:
    print("error", e.errno)' "$2" ${3:+"$3"}
	}
	# udp UID PORT: send a datagram, then read what the kernel says.
	udp() {
		nsx setpriv --reuid=$1 --regid=$1 --clear-groups "$PY" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1.5)
try:
    s.connect(("127.0.0.1", int(sys.argv[1])))
    s.send(b"x")
    s.recv(64)
    print("answered")
except socket.timeout:
    print("timeout")
except OSError as e:
    print("error", e.errno)' "$2"
	}
	[ "$(connect $SUID 3128)" = connected ] || fail "uid $SUID: 3128 blocked"
	r=$(connect $SUID 4000)
	[ "$r" = "error 111" ] || fail "uid $SUID: 4000 not refused at once: $r"
	r=$(udp $SUID 4000)
	case $r in
	"error 1"|"error 13"|"error 113") ;;
	*) fail "uid $SUID: UDP to 4000 not refused at once: $r" ;;
	esac
	r=$(connect 0 4001 read)
	[ "$r" = "connected hello" ] ||
	    fail "root does not reach the sandbox's server on 4001: $r"
	r=$(connect 0 3131 read)
	case $r in
	"connected hello") fail "the sandbox answered on another's port" ;;
	esac
	echo "root to the sandbox's server on 3131: $r"
	[ "$(connect 0 4000)" = connected ] || fail "root: 4000 not reachable"
	[ "$(connect $OUID 3129)" = connected ] || fail "uid $OUID: 3129 blocked"
	[ "$(connect 0 3128)" = connected ] || fail "root: 3128 not reachable"
	[ "$(connect 0 3129)" = connected ] || fail "root: 3129 not reachable"
	if ! getent passwd $XUID >/dev/null; then
		[ "$(connect $XUID 3128)" = timeout ] ||
		    fail "uid $XUID reached the sandbox's listener port"
		[ "$(connect $XUID 3129)" = timeout ] ||
		    fail "uid $XUID reached the open sandbox's listener port"
		[ "$(connect $XUID 4000)" = connected ] ||
		    fail "uid $XUID: 4000 not reachable"
	fi
	echo "traffic: 3128 connects, 4000 is refused, the sandbox answers" \
	    "root on 4001 but not on 3131, others are kept off"
}
traffic

load remove $SUID 3128
nsx nft list chain inet sbxd uid_$SUID >/dev/null 2>&1 && fail "chain left"
nsx nft list map inet sbxd sandboxes | grep -q "$SUID" && fail "element left"
nsx nft list set inet sbxd owners | grep -q "$SUID" && fail "owner left"
load remove $SUID 3128
load -o remove $OUID 3129 3131
nsx nft list set inet sbxd ports | grep -q "3129" && fail "port left"
out=$(listing | "$FW_GEN" verify $SUID 3128) && fail "verify after remove"
case $out in
*"set ports lacks port 3128"*) ;;
*) fail "verify after remove: $out" ;;
esac
pass
