#!/bin/sh
# bot.sh: the Zulip bot against the fake Zulip server (tests/bot/
# fake_zulip.py), in one run, printed as Markdown tables.  The agent is
# bench/agentbench.c's "agent": it stamps the arrival of its prompt and
# writes lines "L seq nanoseconds", each stamped when written.
#
# 1. Start: from the message's creation on the server (its event is
#    queued then) to the agent's first byte of stdin, RUNS times, beside
#    the same turn asked with sbxctl ask.
# 2. Lines: one turn of LINES lines, one every INTERVAL us; from each
#    line's write to the arrival of the message that carries it:
#    p50, p99; the calls the turn cost, per two seconds.
# 3. CPU: MESSAGES messages answered (that their topic is not a
#    sandbox's: answers to one topic that wait join into one message),
#    with the server's limit raised: the engine's CPU time per 1000.
# 4. SANDBOXES sandboxes streaming at once under the server's default
#    limit (200 calls a minute): 429s, line latency, calls per topic.
#
# Runs inside a network namespace of its own, as root; its sandboxes and
# users are removed at the end.
#
# usage: SBXD=./sbxd SBXCTL=sbxctl/sbxctl top_srcdir=. sh bench/bot.sh
#	RUNS (20), LINES (200), INTERVAL (50000), MESSAGES (1000),
#	SANDBOXES (20), CC (cc)

set -u
SBXD=${SBXD:-./sbxd}
SBXCTL=${SBXCTL:-sbxctl/sbxctl}
top_srcdir=${top_srcdir:-.}
RUNS=${RUNS:-20}
LINES=${LINES:-200}
INTERVAL=${INTERVAL:-50000}
MESSAGES=${MESSAGES:-1000}
SANDBOXES=${SANDBOXES:-20}
CC=${CC:-cc}
T=$(mktemp -d "${TMPDIR:-/tmp}/sbxd-botbench.XXXXXX") || exit 1
chmod 0755 "$T"
NS=sbxbb$$
SOCK=$T/ctl.sock
SBXD_PID=
ZPID=
P=bb$$

cleanup() {
	if [ -n "$SBXD_PID" ]; then
		i=0
		while [ $i -lt "$SANDBOXES" ]; do
			"$SBXCTL" -s "$SOCK" rm "$P$i" >/dev/null 2>&1 &
			pids="${pids:-} $!"
			i=$((i + 1))
			[ $((i % 10)) -eq 0 ] && { wait $pids; pids=; }
		done
		[ -n "${pids:-}" ] && wait $pids
		kill "$SBXD_PID" 2>/dev/null
		wait "$SBXD_PID" 2>/dev/null
	fi
	[ -n "$ZPID" ] && kill "$ZPID" 2>/dev/null && wait "$ZPID" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

[ "$(id -u)" -eq 0 ] || { echo "bot.sh: needs root" >&2; exit 1; }
mkdir -p "$T/pub" && chmod 0755 "$T/pub"
$CC -O2 -o "$T/pub/agentbench" "$top_srcdir/bench/agentbench.c" || exit 1
B=$T/pub/agentbench

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=bench CA" \
    -keyout "$T/ca.key" -out "$T/ca.pem" >/dev/null 2>&1 || exit 1
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$T/zkey.pem" -out "$T/z.csr" >/dev/null 2>&1 || exit 1
printf 'subjectAltName=IP:127.0.0.1\n' >"$T/ext"
openssl x509 -req -in "$T/z.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" \
    -CAcreateserial -days 2 -extfile "$T/ext" -out "$T/zcert.pem" \
    >/dev/null 2>&1 || exit 1
printf 'benchkey%s\n' "$$" >"$T/zulip.key"
chmod 600 "$T/zulip.key"

cat >"$T/sbxd.conf" <<EOF
state "$T/state"
control socket "$SOCK"
pidfile "$T/sbxd.pid"
policy "default" {
	default block
}
sandbox uid-range 61500 61599
sandbox port-range 500 599
sandbox home "$T/home"
sandbox firewall nftables table "sbxbb$$"
agent "bench" {
	type command
	path "$B"
	args "agent"
	timeout 10m
	queue 100
}
sandbox agent "bench"
bot zulip {
	site "https://127.0.0.1:8443"
	email "sbx-bot@zulip.test"
	key-file "$T/zulip.key"
	stream "sandboxes"
	admins 11
	users 12
	ca-file "$T/ca.pem"
}
EOF
ip netns add "$NS" || exit 1
ip netns exec "$NS" ip link set lo up
ip netns exec "$NS" python3 "$top_srcdir/tests/bot/fake_zulip.py" \
    --port 8443 --control-port 8444 --cert "$T/zcert.pem" \
    --key "$T/zkey.pem" --api-key-file "$T/zulip.key" --heartbeat 30 \
    --ready-file "$T/zready" >"$T/zulip.log" 2>&1 &
ZPID=$!
i=0
until [ -f "$T/zready" ]; do
	i=$((i + 1))
	[ $i -lt 100 ] || { cat "$T/zulip.log"; exit 1; }
	sleep 0.1
done
ip netns exec "$NS" "$SBXD" -d -f "$T/sbxd.conf" >"$T/sbxd.log" 2>&1 &
SBXD_PID=$!
ctl() {
	"$SBXCTL" -s "$SOCK" "$@"
}
zc() {
	ip netns exec "$NS" curl -sS -X "$1" "http://127.0.0.1:8444$2" \
	    ${3:+-H 'Content-Type: application/json' --data-binary "$3"}
}
state() {
	ctl -j status | python3 -c 'import json, sys
for c in json.load(sys.stdin)["components"]:
    if c["name"] == "bot":
        print(c["state"])'
}
i=0
until [ "$(state 2>/dev/null)" = polling ]; do
	i=$((i + 1))
	[ $i -lt 300 ] || { cat "$T/sbxd.log"; exit 1; }
	sleep 0.1
done
i=0
while [ $i -lt "$SANDBOXES" ]; do
	ctl create "$P$i" --open >/dev/null || { cat "$T/sbxd.log"; exit 1; }
	i=$((i + 1))
done

# post SENDER TOPIC CONTENT: prints the message's creation time (s).
post() {
	zc POST /post "{\"sender_id\": $1, \"topic\": \"$2\", \"content\": \"$3\"}" >/dev/null
}

# msgs TOPIC: the bot's messages there, as JSON.
msgs() {
	zc GET "/messages?topic=$1"
}

# done_in TOPIC N: the topic shows N final lines.
done_in() {
	[ "$(msgs "$1" | python3 -c 'import json, sys
print(sum(1 for m in json.load(sys.stdin)["messages"]
          if m["sender_id"] == 10 and "**ok**" in m["content"]))')" -ge "$2" ]
}

wait_done() {
	i=0
	until done_in "$1" "$2"; do
		i=$((i + 1))
		[ $i -lt 1200 ] || { echo "bot.sh: $1 did not finish" >&2;
		    tail -20 "$T/sbxd.log" >&2; exit 1; }
		sleep 0.05
	done
}

ms() {
	sort -n | awk '{ v[NR] = $1 } END {
		printf "%.1f %.1f", v[int((NR + 1) / 2)], v[int(NR * 0.9 + 0.5)] }'
}

# --- 1. Start ---
H0=$T/home/${P}0
: >"$T/start.bot"
: >"$T/start.ask"
n=0
while [ $n -lt "$RUNS" ]; do
	# Turns asked by sbxctl show in the topic too: two a round.
	post 12 "${P}0" "LINES 1 INTERVAL 0"
	wait_done "${P}0" $((2 * n + 1))
	msgs "${P}0" | python3 -c 'import json, sys
ms = [m for m in json.load(sys.stdin)["messages"] if m["sender_id"] == 12]
print(int(ms[-1]["received"] * 1e9))' >"$T/t0"
	echo "$(( ($(cat "$H0/stamp") - $(cat "$T/t0")) / 1000 ))" |
	    awk '{ print $1 / 1000 }' >>"$T/start.bot"
	"$B" drive "$T/t0" -- "$SBXCTL" -s "$SOCK" ask "${P}0" \
	    "LINES 1 INTERVAL 0" >/dev/null 2>&1 || exit 1
	echo "$(( ($(cat "$H0/stamp") - $(cat "$T/t0")) / 1000 ))" |
	    awk '{ print $1 / 1000 }' >>"$T/start.ask"
	wait_done "${P}0" $((2 * n + 2))
	n=$((n + 1))
done
read -r B50 B90 <<EOF
$(ms <"$T/start.bot")
EOF
read -r A50 A90 <<EOF
$(ms <"$T/start.ask")
EOF
echo "### Turn start: to the agent's first byte of stdin ($RUNS runs)"
echo
echo "| from | median ms | p90 ms |"
echo "|---|---:|---:|"
echo "| a Zulip message (its creation on the server) | $B50 | $B90 |"
echo "| sbxctl ask | $A50 | $A90 |"
echo

# lat TOPIC...: line-to-chat latencies (ms) of the L lines in the topics.
lat() {
	for t in "$@"; do
		msgs "$t"
	done | python3 -c 'import json, re, sys
dec = json.JSONDecoder()
s = sys.stdin.read()
i = 0
while i < len(s):
    while i < len(s) and s[i].isspace():
        i += 1
    if i >= len(s):
        break
    o, i = dec.raw_decode(s, i)
    for m in o["messages"]:
        if m["sender_id"] != 10:
            continue
        for ns in re.findall(r"^L \d+ (\d+)$", m["content"], re.M):
            print("%.3f" % ((m["received"] - int(ns) / 1e9) * 1000))'
}

p5099() {
	sort -n | awk '{ v[NR] = $1 } END {
		printf "%.0f %.0f %d", v[int((NR + 1) / 2)],
		    v[int(NR * 0.99 + 0.5)], NR }'
}

# calls FROM TO: the bot's calls in [FROM, TO], the long poll aside.
calls() {
	zc GET /log | python3 -c 'import json, sys
f, t = float(sys.argv[1]), float(sys.argv[2])
print(sum(1 for r in json.load(sys.stdin)["requests"]
          if f <= r["t"] <= t and "/events" not in r["path"]))' "$1" "$2"
}

# --- 2. Lines, one turn ---
t1=$(date +%s.%N)
post 12 "${P}1" "LINES $LINES INTERVAL $INTERVAL"
wait_done "${P}1" 1
t2=$(date +%s.%N)
read -r L50 L99 LN <<EOF
$(lat "${P}1" | p5099)
EOF
C1=$(calls "$t1" "$t2")
echo "### One turn: $LINES lines, one every $((INTERVAL / 1000)) ms"
echo
echo "| line to chat p50 | p99 | lines seen | calls | calls per 2 s |"
echo "|---:|---:|---:|---:|---:|"
echo "| $L50 ms | $L99 ms | $LN | $C1 | $(echo "$C1 $t1 $t2" | awk '{ printf "%.2f", $1 / (($3 - $2) / 2) }') |"
echo

# --- 3. CPU per 1000 messages ---
zc POST /ratelimit '{"limit": 1000000}' >/dev/null
EPID=$(ctl -j status | python3 -c 'import json, sys
s = json.load(sys.stdin)
for c in s["components"]:
    if c["name"] == "priv" and c.get("engine_pid"):
        print(c["engine_pid"]); break
else:
    print(s["pid"])')
cpu() {
	awk '{ print $14 + $15 }' "/proc/$EPID/stat"
}
c0=$(cpu)
t1=$(date +%s.%N)
python3 - "$NS" "$MESSAGES" <<'EOF'
import json, subprocess, sys, urllib.request
ns, n = sys.argv[1], int(sys.argv[2])
body = "\n".join(json.dumps({"sender_id": 12, "topic": "cpu%d" % (i % 50),
                             "content": "hello %d" % i}) for i in range(n))
subprocess.run(["ip", "netns", "exec", ns, "python3", "-c", """
import json, sys, urllib.request
for l in sys.stdin:
    urllib.request.urlopen(urllib.request.Request(
        "http://127.0.0.1:8444/post", data=l.encode(),
        headers={"Content-Type": "application/json"})).read()
"""], input=body.encode(), check=True)
EOF
i=0
until [ "$(zc GET /messages?sender_id=10 | python3 -c 'import json, sys
print(sum(m["content"].count("not a sandbox") for m in
          json.load(sys.stdin)["messages"] if m["topic"].startswith("cpu")))')" -ge "$MESSAGES" ]; do
	i=$((i + 1))
	[ $i -lt 1200 ] || { echo "bot.sh: answers missing" >&2; exit 1; }
	sleep 0.1
done
t2=$(date +%s.%N)
c1=$(cpu)
HZ=$(getconf CLK_TCK)
SENT=$(zc GET /messages?sender_id=10 | python3 -c 'import json, sys
print(sum(1 for m in json.load(sys.stdin)["messages"]
          if m["topic"].startswith("cpu")))')
echo "### CPU: $MESSAGES messages in 50 topics, $MESSAGES answers in $SENT messages"
echo
echo "| engine CPU per 1000 messages | wall time |"
echo "|---:|---:|"
echo "| $(echo "$c0 $c1 $HZ $MESSAGES" | awk '{ printf "%.0f ms", ($2 - $1) * 1000 / $3 * 1000 / $4 }') | $(echo "$t1 $t2" | awk '{ printf "%.1f s", $2 - $1 }') |"
echo
zc POST /ratelimit '{"limit": 200}' >/dev/null
sleep 1

# --- 4. SANDBOXES streaming at once, the default limit ---
r0=$(zc GET /stats | python3 -c 'import json, sys; print(json.load(sys.stdin)["rate_limited"])')
t1=$(date +%s.%N)
i=2
topics=
while [ $i -lt "$SANDBOXES" ]; do
	post 12 "$P$i" "LINES $LINES INTERVAL $INTERVAL"
	topics="$topics $P$i"
	i=$((i + 1))
done
post 12 "${P}0" "LINES $LINES INTERVAL $INTERVAL"
post 12 "${P}1" "LINES $LINES INTERVAL $INTERVAL"
topics="$topics ${P}0 ${P}1"
for t in $topics; do
	case $t in
	"${P}0") wait_done "$t" $((2 * RUNS + 1)) ;;
	"${P}1") wait_done "$t" 2 ;;
	*) wait_done "$t" 1 ;;
	esac
done
t2=$(date +%s.%N)
r1=$(zc GET /stats | python3 -c 'import json, sys; print(json.load(sys.stdin)["rate_limited"])')
C4=$(calls "$t1" "$t2")
i=2
: >"$T/lat4"
while [ $i -lt "$SANDBOXES" ]; do
	lat "$P$i" >>"$T/lat4"
	i=$((i + 1))
done
read -r M50 M99 MN <<EOF
$(p5099 <"$T/lat4")
EOF
echo "### $SANDBOXES sandboxes streaming at once ($LINES lines each, one every $((INTERVAL / 1000)) ms), 200 calls a minute"
echo
echo "| 429 answers | line to chat p50 | p99 | calls | calls per topic per 2 s | span |"
echo "|---:|---:|---:|---:|---:|---:|"
echo "| $((r1 - r0)) | $M50 ms | $M99 ms | $C4 | $(echo "$C4 $SANDBOXES $t1 $t2" | awk '{ printf "%.2f", $1 / $2 / (($4 - $3) / 2) }') | $(echo "$t1 $t2" | awk '{ printf "%.1f s", $2 - $1 }') |"
