#!/bin/sh
# ask.sh: requests held by a policy with "ask", in one sbxd run on
# 127.0.0.1, printed as Markdown tables.  The client side is
# bench/askbench.c; the idle tunnels are bench/tunnelbench.c's, as in
# proxy.sh.
#
# 1. Memory: HELD clients each send "CONNECT hold.test:PORT" (one
#    question; the limit of 1024 held sessions per listener is above
#    HELD) and wait; then, with them still held, HELD idle tunnels
#    (tunnelbench idle: CONNECT to an allowed sink, 200, one echo).
#    Each time, the RSS and descriptors of sbxd's process tree before
#    and after, a second after all are set up.  At the end the question
#    is denied and every held client must get its 403: they were held
#    all along.
# 2. Latency: Q plain GETs, one at a time, each to a host of its own
#    (hI.test, from the hosts file) so each is a new question, spread
#    over L listeners (a listener takes at most 10 new questions a
#    minute): from just before the approve line is written on the
#    control socket to the first byte of the request at the upstream.
#    Beside it, the same GET to a host a rule allows from the start:
#    from the client's write to the upstream's first byte.
# 3. The control round trip alone: {"command":"asks"}, CTL times.
#
# usage: SBXD=./sbxd sh bench/ask.sh
#	HELD (1000), Q (200), L (20), CTL (1000), FIRST (held: the held
#	sessions are measured before the idle tunnels; idle: after), CC (cc)
#
# As root or as a normal user (then the control socket's group is the
# user's).  Temporary files are removed on exit.

set -eu
SBXD=${SBXD:-./sbxd}
HELD=${HELD:-1000}
Q=${Q:-200}
L=${L:-20}
CTL=${CTL:-1000}
FIRST=${FIRST:-held}
CC=${CC:-cc}

top=$(cd "$(dirname "$0")/.." && pwd)
T=
SBXD_PID=
PIDS=

die() {
	echo "ask.sh: $*" >&2
	exit 1
}

progress() {
	echo "ask.sh: $*" >&2
}

# The process tree under $1, $1 included.
tree() {
	ps -e -o pid= -o ppid= | awk -v root="$1" '
	    { kids[$2] = kids[$2] " " $1 }
	    END {
		n = split(root, q, " "); out = root
		for (i = 1; i <= n; i++) {
			m = split(kids[q[i]], k, " ")
			for (j = 1; j <= m; j++) {
				q[++n] = k[j]; out = out " " k[j]
			}
		}
		print out
	    }'
}

# Resident KiB of a tree.
rss() {
	for p in $(tree "$1"); do
		cat "/proc/$p/status" 2>/dev/null || true
	done | awk '$1 == "VmRSS:" { k += $2 } END { print k + 0 }'
}

# Open descriptors of a tree.
nfds() {
	for p in $(tree "$1"); do
		ls "/proc/$p/fd" 2>/dev/null || true
	done | wc -l
}

# Stop one process: TERM, then KILL if it lingers.
stop() {
	i=0
	kill "$1" 2>/dev/null || return 0
	while kill -0 "$1" 2>/dev/null && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -9 "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

cleanup() {
	set +e
	exec 3>&- 4>&-
	for p in $PIDS; do
		stop "$p"
	done
	if [ -n "$SBXD_PID" ]; then
		tr=$(tree "$SBXD_PID")
		stop "$SBXD_PID"
		# An engine left behind by a killed parent.
		for p in $tr; do
			kill -9 "$p" 2>/dev/null
		done
	fi
	[ -n "$T" ] && rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

command -v "$CC" >/dev/null 2>&1 || die "no C compiler ($CC)"
case $SBXD in
/*)	;;
*)	SBXD=$(pwd)/$SBXD ;;
esac
[ -x "$SBXD" ] || die "$SBXD: no sbxd binary; set SBXD=/path/to/sbxd"
[ "$Q" -ge 1 ] && [ "$Q" -le $((L * 10)) ] ||
    die "Q ($Q) must be from 1 to 10 per listener (L=$L)"
[ "$HELD" -ge 1 ] && [ "$HELD" -le 1024 ] ||
    die "HELD ($HELD) must be from 1 to 1024, the limit of one listener"
case $FIRST in
held|idle) ;;
*)	die "FIRST must be held or idle" ;;
esac

# sbxd holds one socket per held session, two (and maybe two pipes)
# per tunnel; the clients and the sink as many again.
ulimit -n $((HELD * 10 + 1000)) 2>/dev/null ||
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] &&
    [ "$(ulimit -n)" -lt $((HELD * 6 + 1000)) ]; then
	progress "warning: open files limited to $(ulimit -n)"
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/sbxd-askbench.XXXXXX")
chmod 0755 "$T"
SOCK=$T/ctl.sock

progress "building askbench and tunnelbench"
"$CC" -O2 -o "$T/askbench" "$top/bench/askbench.c" ||
    die "cannot build askbench"
"$CC" -O2 -pthread -o "$T/tunnelbench" "$top/bench/tunnelbench.c" ||
    die "cannot build tunnelbench"
AB=$T/askbench
TB=$T/tunnelbench

# Ports: at random from 20000 to 29999, each one no socket uses.
# in_use PORT [STATE]: some socket, or one in STATE (0A: listening), has
# local port PORT.
in_use() {
	awk -v p="$(printf '%04X' "$1")" -v st="${2:-}" \
	    '(st == "" || $4 == st) && substr($2, index($2, ":") + 1) == p {
		f = 1 } END { exit !f }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
USED=
alloc_port() {
	while :; do
		p=$(od -An -N2 -tu2 /dev/urandom | awk '{ print 20000 + $1 % 10000 }')
		case " $USED " in
		*" $p "*) continue ;;
		esac
		in_use "$p" || break
	done
	USED="$USED $p"
	eval "$1=$p"
}
wait_port() {
	i=0
	until in_use "$1" 0A; do
		kill -0 "$2" 2>/dev/null || return 1
		[ $i -lt 300 ] || return 1
		sleep 0.1
		i=$((i + 1))
	done
}
alloc_port TP		# tunnelbench serve: the idle tunnels' sink
alloc_port UP		# askbench's upstream
alloc_port P0		# the held sessions, the tunnels, the baseline
LPORTS=
i=0
while [ $i -lt "$L" ]; do
	alloc_port p
	LPORTS="$LPORTS $p"
	i=$((i + 1))
done

{
	echo "127.0.0.1 base.test hold.test"
	i=1
	while [ $i -le "$Q" ]; do
		echo "127.0.0.1 h$i.test"
		i=$((i + 1))
	done
} >"$T/hosts"
{
	echo "state \"$T/state\""
	echo "control socket \"$SOCK\""
	[ "$(id -u)" -eq 0 ] || echo "control group $(id -g)"
	echo "pidfile \"$T/sbxd.pid\""
	echo "log level warning"
	echo "resolver hosts-file \"$T/hosts\""
	echo "policy \"ask\" {"
	echo "	default block"
	echo "	loopback yes"
	echo "	ports $TP $UP"
	echo "	allow \"127.0.0.1\""
	echo "	allow \"base.test\""
	echo "	ask 10m once 10m"
	echo "}"
	for p in $P0 $LPORTS; do
		echo "proxy listen on 127.0.0.1 port $p policy \"ask\""
	done
} >"$T/sbxd.conf"

"$TB" serve "$TP" >"$T/serve.log" 2>&1 &
SERVE_PID=$!
PIDS="$PIDS $SERVE_PID"
wait_port "$TP" $SERVE_PID || die "tunnelbench serve did not start"

progress "starting sbxd"
"$SBXD" -d -f "$T/sbxd.conf" >"$T/sbxd.log" 2>&1 &
SBXD_PID=$!
for p in $P0 $LPORTS; do
	wait_port "$p" $SBXD_PID ||
	    { cat "$T/sbxd.log" >&2; die "sbxd did not start"; }
done
i=0
until [ -S "$SOCK" ]; do
	i=$((i + 1))
	[ $i -lt 100 ] || { cat "$T/sbxd.log" >&2; die "no control socket"; }
	sleep 0.1
done
sleep 1
RSS0=$(rss $SBXD_PID)

# wait_ready PID FILE WHAT: until FILE says "ready".
wait_ready() {
	i=0
	until grep -q '^ready' "$2"; do
		kill -0 "$1" 2>/dev/null ||
		    { cat "$2" >&2; tail -n 20 "$T/sbxd.log" >&2;
		    die "$3 failed"; }
		[ $i -lt 1200 ] || die "$3: not ready after 120 s"
		sleep 0.1
		i=$((i + 1))
	done
}

# held: HELD held sessions; HR, HF: KiB and descriptors they added.
held() {
	progress "$HELD held sessions"
	r0=$(rss $SBXD_PID)
	f0=$(nfds $SBXD_PID)
	mkfifo "$T/hold.in"
	"$AB" hold "$P0" "$HELD" "hold.test:$UP" "$SOCK" \
	    <"$T/hold.in" >"$T/hold.out" 2>&1 3>&- 4>&- &
	HOLD_PID=$!
	PIDS="$PIDS $HOLD_PID"
	exec 3>"$T/hold.in"
	wait_ready $HOLD_PID "$T/hold.out" "askbench hold"
	sleep 1
	HR=$(($(rss $SBXD_PID) - r0))
	HF=$(($(nfds $SBXD_PID) - f0))
}

# idle: HELD idle tunnels; IR, IF: KiB and descriptors they added.
idle() {
	progress "$HELD idle tunnels"
	r0=$(rss $SBXD_PID)
	f0=$(nfds $SBXD_PID)
	mkfifo "$T/idle.in"
	"$TB" idle "127.0.0.1:$TP" "$HELD" "127.0.0.1:$P0" \
	    <"$T/idle.in" >"$T/idle.out" 2>&1 3>&- 4>&- &
	IDLE_PID=$!
	PIDS="$PIDS $IDLE_PID"
	exec 4>"$T/idle.in"
	wait_ready $IDLE_PID "$T/idle.out" "tunnelbench idle"
	sleep 1
	IR=$(($(rss $SBXD_PID) - r0))
	IF=$(($(nfds $SBXD_PID) - f0))
}

if [ "$FIRST" = held ]; then
	held
	idle
else
	idle
	held
fi
RSS1=$(rss $SBXD_PID)
# reap PID: its exit status, once it has gone (within 60 s).
reap() {
	i=0
	while kill -0 "$1" 2>/dev/null; do
		[ $i -lt 600 ] || return 1
		sleep 0.1
		i=$((i + 1))
	done
	wait "$1"
}
exec 4>&-
reap $IDLE_PID || die "tunnelbench idle failed: $(cat "$T/idle.out")"
# The question denied: every held client gets its 403.
exec 3>&-
reap $HOLD_PID || { cat "$T/hold.out" >&2; die "held sessions lost"; }
grep -q "^denied $HELD\$" "$T/hold.out" ||
    die "askbench hold: $(cat "$T/hold.out")"
[ "$(rss $SBXD_PID)" -gt 0 ] || die "sbxd died; see $T/sbxd.log"
sleep 1

progress "latency: $CTL control round trips, $Q requests allowed," \
    "$Q approved over $L listeners"
# shellcheck disable=SC2086
"$AB" latency "$SOCK" "$UP" "$Q" "$CTL" "$P0" base.test $LPORTS \
    >"$T/lat.out" 2>"$T/lat.err" ||
    { cat "$T/lat.err" >&2; tail -n 20 "$T/sbxd.log" >&2;
    die "askbench latency failed"; }
kill -0 $SBXD_PID 2>/dev/null || die "sbxd died; see $T/sbxd.log"

# lat NAME: "p50 | p99 | max" of that line of askbench latency.
lat() {
	awk -v n="$1" '$1 == n { printf("%.2f | %.2f | %.2f", $2, $3, $4) }' \
	    "$T/lat.out"
}
perkib() {
	awk -v k="$1" -v n="$HELD" 'BEGIN { printf("%.2f", k / n) }'
}

echo "## Held requests (ask)"
echo
echo "$(uname -sr), $(nproc) CPUs, as $(id -un); sbxd RSS at start" \
    "$(awk -v k="$RSS0" 'BEGIN { printf("%.1f", k / 1024) }') MiB," \
    "$(awk -v k="$RSS1" 'BEGIN { printf("%.1f", k / 1024) }') MiB with" \
    "both sets open"
echo
echo "### Memory: $HELD of each, in one sbxd, the $FIRST ones first"
echo
echo "| session | RSS per session, KiB | descriptors per session |"
echo "|---|---:|---:|"
echo "| held (CONNECT asked about, waiting) | $(perkib "$HR") | $(perkib "$HF") |"
echo "| idle tunnel (CONNECT allowed, 200, one echo) | $(perkib "$IR") | $(perkib "$IF") |"
echo
echo "All $HELD held clients were still held at the end: each got its 403" \
    "when the question was denied."
echo
echo "### Latency, ms: $Q requests each, one at a time"
echo
echo "| figure | p50 | p99 | max |"
echo "|---|---:|---:|---:|"
echo "| approve (once) written → first byte upstream | $(lat ask) |"
echo "| allowed from the start: request written → first byte upstream | $(lat base) |"
echo "| request written → proxy.ask event read | $(lat event) |"
echo "| approve written → its reply read | $(lat reply) |"
echo "| control round trip, {\"command\":\"asks\"} ($CTL) | $(lat ctl) |"
echo
FS=$(df -PT "$T" 2>/dev/null | awk 'NR == 2 { print $2 }') || true
echo "The approved requests went to $Q hosts over $L listeners, each a new" \
    "question; the upstream closes after each answer, so every request" \
    "connects anew.  State directory on ${FS:-?}: sbxd writes each" \
    "question and answer to its database in its event loop."
