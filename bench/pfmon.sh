#!/bin/sh
# pfmon.sh: pfmon under load, in two parts, each printed as a Markdown
# table.
#
# 1. sbxd -r against tcpdump -n -e -r on the same captures of N records
#    (pflog and nflog, written by tests/pfmon/mkpcap.py), in the same
#    run; the ratio is what counts.
# 2. (root) A live flood: in a private network namespace an nftables
#    rule logs to NFLOG and drops what a test user sends; that user
#    sends UDP at RATE packets/s for SECS seconds (bench/pfmon_flood.c),
#    once to one port (one flow, coalesced) and once over many ports
#    (new flows: the per-uid limit and the flow table).  sbxd's RSS is
#    sampled every second, and the proxy's latency (a python client
#    through sbxd to a python http.server in the namespace, a new
#    connection per request) is measured idle and under each flood.
#
# usage: SBXD=./sbxd SBXCTL=sbxctl/sbxctl top_srcdir=. sh bench/pfmon.sh
#	N (1000000), RATE (200000), SECS (10), CC (cc)

set -u
SBXD=${SBXD:-./sbxd}
SBXCTL=${SBXCTL:-sbxctl/sbxctl}
top_srcdir=${top_srcdir:-.}
N=${N:-1000000}
RATE=${RATE:-200000}
SECS=${SECS:-10}
CC=${CC:-cc}
G=9
T=$(mktemp -d "${TMPDIR:-/tmp}/sbxd-pfbench.XXXXXX") || exit 1
chmod 0755 "$T"
NS=sbxpfb$$
TU=sbxpfb$$
SBXD_PID=
HTTP_PID=

cleanup() {
	[ -n "$SBXD_PID" ] && kill "$SBXD_PID" 2>/dev/null
	[ -n "$HTTP_PID" ] && kill "$HTTP_PID" 2>/dev/null
	wait 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	id "$TU" >/dev/null 2>&1 && userdel "$TU" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# secs CMD...: wall time of CMD, output to /dev/null, best of three.
secs() {
	python3 - "$@" <<'EOF2'
import subprocess, sys, time
best = None
for _ in range(3):
    t = time.monotonic()
    r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    d = time.monotonic() - t
    if r.returncode != 0:
        sys.exit("%s: exit %d" % (sys.argv[1], r.returncode))
    best = d if best is None or d < best else best
print("%.3f" % best)
EOF2
}

offline() {
	echo "## sbxd -r against tcpdump -n -e -r, $N records"
	echo
	echo "| capture | size | sbxd -r | tcpdump -n -e -r | ratio |"
	echo "|---|---:|---:|---:|---:|"
	for c in "pflog --layout 61" "pflog --layout 100 --swapped" \
	    "nflog"; do
		# shellcheck disable=SC2086
		python3 "$top_srcdir/tests/pfmon/mkpcap.py" --linktype $c \
		    --count "$N" "$T/cap.pcap" || exit 1
		s=$(secs "$SBXD" -r "$T/cap.pcap") || exit 1
		t=$(secs tcpdump -n -e -r "$T/cap.pcap") || exit 1
		echo "| $c | $(($(wc -c <"$T/cap.pcap") / 1048576)) MB |" \
		    "$s s | $t s | $(python3 -c "print('%.1fx' % ($t / $s))") |"
		rm -f "$T/cap.pcap"
	done
	echo
}

ctl() {
	"$SBXCTL" -s "$T/ctl.sock" "$@"
}

# With two CPUs or more the flood sender gets the last one to itself and
# sbxd, the origin and the client share the others, as on a host where
# a sandbox's flood does not own the daemon's core.
NCPU=$(nproc)
if [ "$NCPU" -ge 2 ] && command -v taskset >/dev/null 2>&1; then
	PIN="taskset -c 0-$((NCPU - 2))"
	FLOODPIN="taskset -c $((NCPU - 1))"
else
	PIN=
	FLOODPIN=
fi

pfmon_json() {
	ctl -j status | python3 -c "import json, sys
for c in json.load(sys.stdin)['components']:
    if c['name'] == 'pfmon':
        print(json.dumps(c))"
}

# live_setup: namespace, user, ruleset, http server, sbxd.
live_setup() {
	U=
	for u in $(seq 60950 60999); do
		getent passwd "$u" >/dev/null || { U=$u; break; }
	done
	[ -n "$U" ] || { echo "no free uid"; return 1; }
	ip netns add "$NS" && ip netns exec "$NS" ip link set lo up &&
	    useradd -M -N -g nogroup -u "$U" -s /bin/false "$TU" || return 1
	ip netns exec "$NS" nft -f - <<EOF2 || return 1
table inet sbxbench {
	chain output {
		type filter hook output priority 0; policy accept;
		meta skuid $U log prefix "uid_$U" group $G drop
	}
}
EOF2
	$CC -O2 -o "$T/pfmon_flood" "$top_srcdir/bench/pfmon_flood.c" ||
	    return 1
	HP=18080
	PP=13128
	mkdir -p "$T/www" && echo hello >"$T/www/index.html"
	(cd "$T/www" && exec $PIN nsenter --net="/run/netns/$NS" python3 -m \
	    http.server --bind 127.0.0.1 "$HP" >/dev/null 2>&1) &
	HTTP_PID=$!
	cat >"$T/sbxd.conf" <<EOF2
state "$T/state"
control socket "$T/ctl.sock"
pidfile "$T/sbxd.pid"
log level warning
pfmon interface "nflog:$G"
policy "bench" {
	default allow
	loopback yes
}
proxy listen on 127.0.0.1 port $PP policy "bench"
EOF2
	$PIN nsenter --net="/run/netns/$NS" "$SBXD" -d -f "$T/sbxd.conf" \
	    >"$T/sbxd.log" 2>&1 &
	SBXD_PID=$!
	i=0
	until [ "$(pfmon_json 2>/dev/null | python3 -c 'import json, sys
print(json.load(sys.stdin)["state"])' 2>/dev/null)" = up ]; do
		i=$((i + 1))
		[ $i -lt 100 ] || { cat "$T/sbxd.log"; return 1; }
		sleep 0.1
	done
	sleep 0.5
}

# latency FILE SECONDS: for SECONDS, requests through the proxy, each
# time in seconds on a line of FILE, each followed by one straight to
# the origin (to FILE.direct): what the machine itself adds.  One client
# process on a fresh connection per request, so every request is a new
# session of the proxy.
latency() {
	$PIN nsenter --net="/run/netns/$NS" python3 - "$1" "$2" "$PP" "$HP" \
	    <<'EOF2'
import http.client, sys, time
out, secs, pp, hp = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4]
def get(port, path):
    t = time.monotonic()
    try:
        c = http.client.HTTPConnection("127.0.0.1", int(port), timeout=5)
        c.request("GET", path)
        r = c.getresponse()
        r.read()
        c.close()
        if r.status != 200:
            return 5.0
    except OSError:
        return 5.0
    return time.monotonic() - t
p, d = open(out, "w"), open(out + ".direct", "w")
end = time.monotonic() + secs
while time.monotonic() < end:
    p.write("%f\n" % get(pp, "http://127.0.0.1:%s/" % hp))
    d.write("%f\n" % get(hp, "/"))
EOF2
}

# Resident KiB of sbxd: as root, its privileged process and the engine.
rss() {
	for p in $SBXD_PID $(pgrep -P "$SBXD_PID"); do
		cat "/proc/$p/status" 2>/dev/null || true
	done | awk '$1 == "VmRSS:" { k += $2 } END { print k + 0 }'
}

# flood NAME NPORTS: flood while sampling RSS and timing the proxy.
flood() {
	before=$(rss)
	$FLOODPIN ip netns exec "$NS" setpriv --reuid "$U" --regid "$U" \
	    --clear-groups "$T/pfmon_flood" 127.0.0.1 20000 "$RATE" "$SECS" \
	    "$2" >"$T/flood.out" 2>&1 &
	fp=$!
	(
		while kill -0 $fp 2>/dev/null; do
			rss >>"$T/rss.$1"
			sleep 1
		done
	) &
	sp=$!
	sleep 0.5
	latency "$T/lat.$1" $((SECS - 1))
	wait $fp
	wait $sp
	sleep 3		# the last windows close
	echo "$1 $before $(rss) $(sort -n "$T/rss.$1" | tail -1)" \
	    >>"$T/rss.sum"
	echo "$1: $(cat "$T/flood.out")" >>"$T/flood.sum"
	pfmon_json >"$T/status.$1"
}

live() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "(live flood skipped: needs root)"
		return 0
	fi
	live_setup || { echo "live setup failed"; return 1; }
	latency "$T/lat.idle" $((SECS - 1))
	flood one-flow 1
	flood many-flows 5000
	python3 - "$T" "$RATE" "$SECS" "$FLOODPIN" <<'EOF2'
import json, sys
t, rate, secs, pin = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
def pct(name, p):
    v = sorted(float(x) for x in open("%s/lat.%s" % (t, name)))
    return v[min(len(v) - 1, int(len(v) * p))] * 1000, len(v)
print("## Live flood: UDP as a blocked uid at %s packets/s for %s s"
      % (rate, secs))
print()
for l in open(t + "/flood.sum"):
    print("- " + l.strip())
print()
idle50, n = pct("idle", 0.5)
idle99, _ = pct("idle", 0.99)
didle99, _ = pct("idle.direct", 0.99)
print("| phase | proxy p50 | proxy p99 | p99 / idle p99 | direct p99 |"
      " requests | RSS before | RSS max | RSS after |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
print("| idle | %.2f ms | %.2f ms | 1.0x | %.2f ms | %d | | | |"
      % (idle50, idle99, didle99, n))
rss = {l.split()[0]: l.split()[1:] for l in open(t + "/rss.sum")}
for name in ("one-flow", "many-flows"):
    p50, n = pct(name, 0.5)
    p99, _ = pct(name, 0.99)
    d99, _ = pct(name + ".direct", 0.99)
    b, a, m = rss[name]
    print("| flood, %s | %.2f ms | %.2f ms | %.1fx | %.2f ms | %d | %s kB |"
          " %s kB | %s kB |" % (name, p50, p99, p99 / idle99, d99, n, b, m,
          a))
print()
print("direct: the same request straight to the origin, no proxy, "
      "interleaved; %s"
      % ("the flood sender pinned to its own CPU" if pin else
         "nothing pinned"))
print()
print("| phase | seen | decoded | alerted | followups | coalesced |"
      " suppressed | kernel recv | kernel drop |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
prev = dict(seen=0, decoded=0, alerted=0, followups=0, coalesced=0,
            suppressed=0, recv=0, drop=0)
for name in ("one-flow", "many-flows"):
    st = json.load(open("%s/status.%s" % (t, name)))
    cur = dict(st, recv=st["kernel"]["recv"], drop=st["kernel"]["drop"])
    print("| %s | %s |" % (name, " | ".join(str(cur[k] - prev[k]) for k in
          ("seen", "decoded", "alerted", "followups", "coalesced",
           "suppressed", "recv", "drop"))))
    prev = {k: cur[k] for k in prev}
EOF2
}

offline
live
