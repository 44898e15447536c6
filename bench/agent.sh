#!/bin/sh
# agent.sh: what sbxd adds to an agent's turn, against running the same
# agent directly with runuser(1), in one run, printed as Markdown tables.
# The agent is bench/agentbench.c's "agent", a "command" agent that
# stamps the arrival of its prompt and then writes stamped lines.
#
# 1. Start: from just before "sbxctl ask" (or runuser) starts to the
#    agent's first byte of stdin, RUNS times; the medians and p90s.
# 2. Lines: LINES lines, one every INTERVAL us; from each line's write by
#    the agent to its arrival on the reader of sbxctl ask's (or
#    runuser's) stdout: p50, p99, max.
# 3. SANDBOXES sandboxes streaming at once, each SLINES lines one every
#    SINTERVAL us, against one sandbox alone: how much longer the
#    slowest took, and its line latency.
#
# Runs inside a network namespace of its own, as root; its sandboxes and
# users are removed at the end.
#
# usage: SBXD=./sbxd SBXCTL=sbxctl/sbxctl top_srcdir=. sh bench/agent.sh
#	RUNS (30), LINES (10000), INTERVAL (200), SANDBOXES (100),
#	SLINES (500), SINTERVAL (10000), CC (cc)

set -u
SBXD=${SBXD:-./sbxd}
SBXCTL=${SBXCTL:-sbxctl/sbxctl}
top_srcdir=${top_srcdir:-.}
RUNS=${RUNS:-30}
LINES=${LINES:-10000}
INTERVAL=${INTERVAL:-200}
SANDBOXES=${SANDBOXES:-100}
SLINES=${SLINES:-500}
SINTERVAL=${SINTERVAL:-10000}
CC=${CC:-cc}
T=$(mktemp -d "${TMPDIR:-/tmp}/sbxd-agentbench.XXXXXX") || exit 1
chmod 0755 "$T"
NS=sbxagb$$
SOCK=$T/ctl.sock
SBXD_PID=
P=ab$$

cleanup() {
	if [ -n "$SBXD_PID" ]; then
		i=0
		while [ $i -le "$SANDBOXES" ]; do
			"$SBXCTL" -s "$SOCK" rm "$P$i" >/dev/null 2>&1 &
			pids="${pids:-} $!"
			i=$((i + 1))
			[ $((i % 10)) -eq 0 ] && { wait $pids; pids=; }
		done
		[ -n "${pids:-}" ] && wait $pids
		kill "$SBXD_PID" 2>/dev/null
		wait "$SBXD_PID" 2>/dev/null
	fi
	ip netns del "$NS" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

[ "$(id -u)" -eq 0 ] || { echo "agent.sh: needs root" >&2; exit 1; }
mkdir -p "$T/pub" && chmod 0755 "$T/pub"
$CC -O2 -o "$T/pub/agentbench" "$top_srcdir/bench/agentbench.c" || exit 1
B=$T/pub/agentbench

cat >"$T/sbxd.conf" <<EOF
state "$T/state"
control socket "$SOCK"
pidfile "$T/sbxd.pid"
policy "default" {
	default block
}
sandbox uid-range 61200 61499
sandbox port-range 600 899
sandbox home "$T/home"
sandbox firewall nftables table "sbxab$$"
agent "bench" {
	type command
	path "$B"
	args "agent"
	timeout 10m
}
sandbox agent "bench"
EOF
ip netns add "$NS" || exit 1
ip netns exec "$NS" ip link set lo up
ip netns exec "$NS" "$SBXD" -d -f "$T/sbxd.conf" >"$T/sbxd.log" 2>&1 &
SBXD_PID=$!
i=0
until "$SBXCTL" -s "$SOCK" status >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -lt 300 ] || { cat "$T/sbxd.log"; exit 1; }
	sleep 0.1
done
ctl() {
	"$SBXCTL" -s "$SOCK" "$@"
}
ctl create "${P}0" --open >/dev/null || { cat "$T/sbxd.log"; exit 1; }
H0=$T/home/${P}0

# start KIND: the time from the start of the command to the prompt.
start() {
	if [ "$1" = sbxd ]; then
		"$B" drive "$T/t0" -- "$SBXCTL" -s "$SOCK" ask "${P}0" \
		    "LINES 1 INTERVAL 0" >/dev/null 2>&1 || exit 1
	else
		(cd "$H0" && "$B" drive "$T/t0" --stdin "LINES 1 INTERVAL 0" \
		    -- runuser -u "sbx-${P}0" -- env -i HOME="$H0" "$B" agent \
		    >/dev/null 2>&1) || exit 1
	fi
	echo $(( $(cat "$H0/stamp") - $(cat "$T/t0") ))
}

stats() {
	sort -n | awk '{ v[NR] = $1 } END {
		printf "%.2f %.2f", v[int((NR + 1) / 2)] / 1e6,
		    v[int(NR * 0.9 + 0.5)] / 1e6 }'
}

for k in sbxd runuser; do
	i=0
	: >"$T/start.$k"
	while [ $i -lt "$RUNS" ]; do
		start $k >>"$T/start.$k"
		i=$((i + 1))
	done
done
read -r S50 S90 <<EOF
$(stats <"$T/start.sbxd")
EOF
read -r R50 R90 <<EOF
$(stats <"$T/start.runuser")
EOF
echo "### Turn start: sbxctl ask to the agent's first byte of stdin ($RUNS runs)"
echo
echo "| | median ms | p90 ms |"
echo "|---|---|---|"
echo "| sbxd (sbxctl ask) | $S50 | $S90 |"
echo "| runuser | $R50 | $R90 |"
echo "| overhead | $(echo "$S50 $R50" | awk '{ printf "%.2f", $1 - $2 }') | |"
echo

echo "### Line latency: agent's write to sbxctl ask's output ($LINES lines, one every $INTERVAL us)"
echo
echo "| | p50 us | p99 us | max us |"
echo "|---|---|---|---|"
set -- $("$B" drive "$T/t0" -- "$SBXCTL" -s "$SOCK" ask "${P}0" \
    "LINES $LINES INTERVAL $INTERVAL" 2>/dev/null)
echo "| sbxd | $4 | $6 | $8 |"
set -- $(cd "$H0" && "$B" drive "$T/t0" --stdin "LINES $LINES INTERVAL $INTERVAL" \
    -- runuser -u "sbx-${P}0" -- env -i HOME="$H0" "$B" agent 2>/dev/null)
echo "| runuser | $4 | $6 | $8 |"
echo

# Many sandboxes at once.
pids=
i=1
while [ $i -le "$SANDBOXES" ]; do
	ctl create "$P$i" --open >/dev/null 2>&1 ||
	    echo "create $P$i failed" >&2
	i=$((i + 1))
done
set -- $("$B" drive "$T/t0" -- "$SBXCTL" -s "$SOCK" ask "${P}1" \
    "LINES $SLINES INTERVAL $SINTERVAL" 2>/dev/null)
ALONE_SPAN=${10}
ALONE_P99=$6
i=1
while [ $i -le "$SANDBOXES" ]; do
	"$B" drive "$T/t0.$i" -- "$SBXCTL" -s "$SOCK" ask "$P$i" \
	    "LINES $SLINES INTERVAL $SINTERVAL" >"$T/many.$i" 2>/dev/null &
	pids="${pids:-} $!"
	i=$((i + 1))
	sleep 0.02	# under the control socket's 64 clients at once
done
wait $pids
for f in "$T"/many.*; do
	grep -q "^lines $SLINES " "$f" || echo "incomplete: $f: $(cat "$f")" >&2
done
ok=$(cat "$T"/many.* | grep -c "^lines $SLINES ")
worst_span=$(cat "$T"/many.* | awk '{ if ($10 > m) m = $10 } END { print m }')
worst_p99=$(cat "$T"/many.* | awk '{ if ($6 > m) m = $6 } END { print m }')
med_p99=$(cat "$T"/many.* | awk '{ print $6 }' | sort -n |
    awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
echo "### $SANDBOXES sandboxes streaming at once ($SLINES lines each, one every $SINTERVAL us)"
echo
echo "| | stream ms | p99 line latency us |"
echo "|---|---|---|"
echo "| one sandbox alone | $ALONE_SPAN | $ALONE_P99 |"
echo "| slowest of $SANDBOXES at once ($ok of $SANDBOXES complete) | $worst_span | $worst_p99 |"
echo "| median of $SANDBOXES at once | | $med_p99 |"
echo "| slowdown | $(echo "$worst_span $ALONE_SPAN" | awk '{ printf "%.1f %%", ($1 / $2 - 1) * 100 }') | |"
