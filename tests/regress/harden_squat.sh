# harden_squat.sh: a sandbox's listener is sbxd's alone.  Its port is
# one only root may bind, so a hostile local user can take it neither
# while sbxd runs nor while it is down, on 127.0.0.1 or ::1, and the
# sandbox works again as soon as sbxd is back; sbxd refuses to start
# with a port range others may bind.  Only the sandbox's user and root
# reach the port: the hostile user's connections are dropped.  doctor
# and network find another socket listening on the port.  Needs root (a
# namespace, users).
. "${top_srcdir:-.}/tests/regress/lib.sh"
need_root
for t in ip nft curl useradd setpriv; do
	command -v $t >/dev/null || skip "needs $t"
done
PY=/usr/bin/python3	# not a per-user install: other users run it
ns_setup
sandbox_name SB a
EVIL=sbxev$$
# One block: the hostile user's uid first, the sandboxes' after it.
uid_block 60610 60629
EVIL_UID=$UID_LO
useradd -K UID_MAX=$UID_HI -u "$EVIL_UID" -U -M -d / -s /bin/sh "$EVIL" ||
    fail "useradd"
evil_cleanup() {
	pkill -KILL -u "$EVIL_UID" 2>/dev/null
	userdel "$EVIL" >/dev/null 2>&1
	groupdel "$EVIL" >/dev/null 2>&1
}
on_exit evil_cleanup
WP=$(free_port)

GROUP=$((5000 + $$ % 1000))
conf_write <<EOF2
policy "default" {
	default allow
	loopback yes
}
pfmon interface "nflog:$GROUP"
sandbox uid-range $((UID_LO + 10)) $UID_HI
sandbox port-range 860 869
sandbox home "$T/home"
sandbox shell "/bin/sh"
sandbox firewall nftables table "sbxt$$"
EOF2
(in_ns "$PY" "$top_srcdir/tests/regress/peer.py" http 127.0.0.1 "$WP" \
    >"$T/peer" 2>&1) &
PEER_PIDS="$PEER_PIDS $!"
wait_for grep -q ready "$T/peer" || fail "http peer"
start_ns_sbxd

ctl create "$SB" --restrict-network >"$T/out" 2>&1 || {
	cat "$T/out"; fail "create $SB"; }
PORT=$(ctl -j show "$SB" | json_get '["sandbox"]["port"]')
[ "$PORT" -ge 860 ] && [ "$PORT" -le 869 ] || fail "port $PORT"

# as UID CMD...: CMD as that uid, in the namespace.
as() {
	u=$1
	shift
	in_ns setpriv --reuid="$u" --regid="$u" --clear-groups "$@"
}

# bind_as UID ADDR: can that uid listen on ADDR:$PORT?
bind_as() {
	as "$1" "$PY" -c 'import socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam)
try:
    s.bind((sys.argv[1], int(sys.argv[2])))
    s.listen(1)
    print("bound")
except OSError as e:
    print("refused", e.errno)' "$2" "$PORT"
}

# connect_as UID: does that uid reach 127.0.0.1:$PORT?
connect_as() {
	as "$1" "$PY" -c 'import socket, sys
s = socket.socket()
s.settimeout(2)
try:
    s.connect(("127.0.0.1", int(sys.argv[1])))
    print("connected")
except socket.timeout:
    print("timeout")
except OSError as e:
    print("error", e.errno)' "$PORT"
}

via_proxy() {
	ctl exec "$SB" -- curl -sS -o /dev/null -w '%{http_code}' \
	    --max-time 10 "http://127.0.0.1:$WP/" 2>/dev/null
}

# While sbxd runs: the port is taken, and the hostile user is kept off.
[ "$(via_proxy)" = 200 ] || fail "the sandbox does not reach the origin"
case $(bind_as "$EVIL_UID" 127.0.0.1) in
refused*) ;;
*) fail "the hostile user bound 127.0.0.1:$PORT" ;;
esac
[ "$(connect_as "$EVIL_UID")" = timeout ] ||
    fail "the hostile user reached the sandbox's listener"
[ "$(connect_as 0)" = connected ] || fail "root cannot reach the listener"

# While sbxd is down: nobody but root may bind the port, either family.
stop_sbxd
for a in 127.0.0.1 ::1; do
	case $(bind_as "$EVIL_UID" "$a") in
	refused*) ;;
	*) fail "the hostile user bound $a:$PORT while sbxd was down" ;;
	esac
done
[ "$(as "$(id -u "sbx-$SB")" curl -sS -o /dev/null -w '%{http_code}' \
    --max-time 5 -x "http://127.0.0.1:$PORT" "http://127.0.0.1:$WP/" \
    2>/dev/null)" = 200 ] && fail "something served the sandbox while sbxd was down"
start_ns_sbxd
wait_for sh -c "\"$SBXCTL\" -s \"$SOCK\" list | grep -q '$SB *ready'" ||
    fail "$SB not ready after the restart"
[ "$(via_proxy)" = 200 ] || fail "the sandbox after the restart"

# Another socket on the port (root's, on ::1): doctor and network see it.
ctl doctor >"$T/doctor" 2>&1 || fail "doctor: $(cat "$T/doctor")"
(exec ip netns exec "$NS" "$PY" -c 'import socket, sys, time
s = socket.socket(socket.AF_INET6)
s.bind(("::1", int(sys.argv[1])))
s.listen(1)
print("ready", flush=True)
time.sleep(60)' "$PORT" >"$T/squat" 2>&1) &
SQUAT=$!
wait_for grep -q ready "$T/squat" || fail "root's socket on ::1"
ctl doctor >"$T/doctor" 2>&1 && fail "doctor passes with another listener"
grep -q "FAIL *$SB: port $PORT" "$T/doctor" ||
    fail "doctor: $(cat "$T/doctor")"
grep -q "uid 0 listens on it too" "$T/doctor" || fail "doctor: no owner"
ctl network "$SB" >/dev/null 2>&1 && fail "network passes"
kill "$SQUAT"
wait "$SQUAT" 2>/dev/null
ctl doctor >/dev/null 2>&1 || fail "doctor after the other socket went"

# A port range others may bind: sbxd refuses to start.
stop_sbxd
in_ns sysctl -q -w net.ipv4.ip_unprivileged_port_start=865 ||
    fail "sysctl"
in_ns "$SBXD" -d -f "$CONF" >"$T/refuse" 2>&1 && fail "sbxd started"
grep -q "sandbox port-range 860 869: any user may bind ports from 865" \
    "$T/refuse" || fail "refusal: $(cat "$T/refuse")"
in_ns sysctl -q -w net.ipv4.ip_unprivileged_port_start=1024
start_ns_sbxd
ctl rm "$SB" >/dev/null 2>&1 || fail "rm $SB"
stop_sbxd
pass
