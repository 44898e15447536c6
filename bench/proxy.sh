#!/bin/sh
# proxy.sh: sbxd's forward proxy side by side with tinyproxy and squid in
# one run, against one nginx origin on 127.0.0.1, each proxy with a
# whitelist of 10 000 destinations, and a reference relay that only
# copies (tunnelbench relay) for the tunnel figures.  Prints a Markdown
# table of absolute figures and of sbxd's ratio to each peer;
# bench/README.md says what each figure means.
#
#   SBXD=/path/to/build/sbxd sh bench/proxy.sh
#
# Environment: SBXD (the daemon, default ./sbxd), BUILDDIR (where
# config.h is, for matchbench; default the directory of SBXD), BENCH_TIME
# (seconds of the keep-alive run, default 10; the other HTTP runs take
# half), TUNNELS (idle tunnels, default 5000), STREAM_MIB (MiB streamed
# through one tunnel, default 2048), FIRSTBYTE (tunnels timed, default
# 1000), PEERS (the proxies run after sbxd, default "tinyproxy squid";
# empty for sbxd, the relay and direct alone).  Everything runs on 127.0.0.1 and is
# removed on exit.

set -eu

SBXD=${SBXD:-./sbxd}
BENCH_TIME=${BENCH_TIME:-10}
TUNNELS=${TUNNELS:-5000}
STREAM_MIB=${STREAM_MIB:-2048}
FIRSTBYTE=${FIRSTBYTE:-1000}
PEERS=${PEERS-tinyproxy squid}
RULES=10000		# allow rules in every proxy's whitelist
SMALL=100		# bytes in the small response
WRK_CONNS=64		# connections of the requests/s runs
BIG_CONNS=16		# connections of the 1 MiB run

top=$(cd "$(dirname "$0")/.." && pwd)
PIDS=
tmp=

die() {
	echo "proxy.sh: $*" >&2
	exit 1
}

note() {
	echo "$*" >>"$tmp/notes"
	echo "proxy.sh: $*" >&2
}

START=$(date +%s)
progress() {
	echo "proxy.sh: $(($(date +%s) - START))s: $*" >&2
}

# Stop one process: TERM, then KILL if it lingers.
stop() {
	local_i=0
	kill "$1" 2>/dev/null || return 0
	while kill -0 "$1" 2>/dev/null && [ $local_i -lt 30 ]; do
		sleep 0.1
		local_i=$((local_i + 1))
	done
	kill -9 "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

cleanup() {
	set +e
	exec 3>&-
	for p in $PIDS; do
		stop "$p"
	done
	[ -n "$tmp" ] && rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

for t in cc nginx squid tinyproxy wrk curl awk ps; do
	command -v $t >/dev/null 2>&1 || die "$t not found (apt-get install" \
	    "squid tinyproxy nginx wrk curl gcc)"
done
case $SBXD in
/*)	;;
*)	SBXD=$(pwd)/$SBXD ;;
esac
[ -x "$SBXD" ] || die "$SBXD: no sbxd binary; set SBXD=/path/to/sbxd"
BUILDDIR=${BUILDDIR:-$(dirname "$SBXD")}
for t in squid tinyproxy nginx; do
	pgrep -x $t >/dev/null 2>&1 &&
	    progress "warning: a system $t is running and may skew the figures"
done

# A proxy needs two sockets per tunnel, and sbxd two pipes more when it
# splices: allow eight descriptors per tunnel, as root may.
ulimit -n $((TUNNELS * 8 + 1000)) 2>/dev/null ||
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] &&
    [ "$(ulimit -n)" -lt $((TUNNELS * 6 + 1000)) ]; then
	progress "warning: open files limited to $(ulimit -n); a proxy" \
	    "may not hold $TUNNELS tunnels"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sbxd-bench.XXXXXX")
# nginx workers and squid drop privileges: they need to read in here.
chmod 755 "$tmp"
: >"$tmp/results"
: >"$tmp/notes"
HZ=$(getconf CLK_TCK)

progress "building tunnelbench"
cc -O2 -pthread "$top/bench/tunnelbench.c" -o "$tmp/tunnelbench" ||
    die "cannot build tunnelbench"
TB=$tmp/tunnelbench

# Ports: the next ones no socket uses, below the usual ephemeral range,
# from a base that depends on the process so two runs do not collide.
PORT=$((10000 + $$ % 20000))
# in_use PORT [STATE]: some socket, or one in STATE (0A: listening), has
# local port PORT.
in_use() {
	awk -v p="$(printf '%04X' "$1")" -v st="${2:-}" \
	    '(st == "" || $4 == st) && substr($2, index($2, ":") + 1) == p {
		f = 1 } END { exit !f }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
listening() {
	in_use "$1" 0A
}
alloc_port() {
	while in_use $PORT; do
		PORT=$((PORT + 1))
	done
	eval "$1=$PORT"
	PORT=$((PORT + 1))
}
wait_port() {
	local_i=0
	until listening "$1"; do
		kill -0 "$2" 2>/dev/null || return 1
		[ $local_i -lt 100 ] || return 1
		sleep 0.1
		local_i=$((local_i + 1))
	done
}
alloc_port OP		# nginx
alloc_port TP		# tunnelbench serve
alloc_port SP		# sbxd
alloc_port XP		# tinyproxy
alloc_port QP		# squid
alloc_port RP		# tunnelbench relay
ORIGIN=127.0.0.1:$OP

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
# CPU clock ticks (user and system, with reaped children) of a tree.
ticks() {
	for p in $(tree "$1"); do
		cat "/proc/$p/stat" 2>/dev/null || true
	done | sed 's/.*) //' | awk '{ t += $12 + $13 + $14 + $15 }
	    END { print t + 0 }'
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

# put METRIC TARGET VALUE
put() {
	echo "$1 $2 $3" >>"$tmp/results"
}

# The origin: nginx serving a small and a 1 MiB file, no access log.
mkdir -p "$tmp/www" "$tmp/nginx"
head -c $SMALL /dev/zero | tr '\0' x >"$tmp/www/small"
head -c 1048576 /dev/zero >"$tmp/www/big"
cat >"$tmp/nginx.conf" <<EOF
worker_processes 1;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events {
	worker_connections 16384;
}
http {
	access_log off;
	sendfile on;
	tcp_nopush on;
	keepalive_requests 10000000;
	keepalive_timeout 300s;
	client_body_temp_path $tmp/nginx/body;
	proxy_temp_path $tmp/nginx/proxy;
	fastcgi_temp_path $tmp/nginx/fastcgi;
	uwsgi_temp_path $tmp/nginx/uwsgi;
	scgi_temp_path $tmp/nginx/scgi;
	default_type application/octet-stream;
	server {
		listen 127.0.0.1:$OP;
		root $tmp/www;
	}
}
EOF
nginx -p "$tmp/nginx" -c "$tmp/nginx.conf" -g 'daemon off;' \
    >"$tmp/nginx/stderr" 2>&1 &
NGINX_PID=$!
PIDS="$PIDS $NGINX_PID"
wait_port $OP $NGINX_PID || { cat "$tmp/nginx/stderr" \
    "$tmp/nginx/error.log" >&2; die "nginx did not start"; }
[ "$(curl -s "http://$ORIGIN/small")" = "$(cat "$tmp/www/small")" ] ||
    die "nginx does not serve the small file"

"$TB" serve $TP >"$tmp/serve.log" 2>&1 &
SERVE_PID=$!
PIDS="$PIDS $SERVE_PID"
wait_port $TP $SERVE_PID || die "tunnelbench serve did not start"
# The reference relay: what a tunnel costs when a proxy does nothing else.
"$TB" relay $RP >"$tmp/relay.log" 2>&1 &
RELAY_PID=$!
PIDS="$PIDS $RELAY_PID"
wait_port $RP $RELAY_PID || die "tunnelbench relay did not start"

# The whitelist: RULES - 1 names, then the origin's address.  Every proxy
# gets the same list; the origin is last, where a list scan finds it last.
awk -v n=$((RULES - 1)) 'BEGIN {
	split("com org net io dev", tld, " ")
	for (i = 0; i < n; i++)
		printf("svc%d.host%d.%s\n", i % 97, i, tld[i % 5 + 1])
}' >"$tmp/names"

# sbxd
mkdir -p "$tmp/sbxd"
{
	echo "state \"$tmp/sbxd/state\""
	echo "control socket \"$tmp/sbxd/sock\""
	echo "log level warning"
	echo "policy \"bench\" {"
	echo "	default block"
	echo "	loopback yes"
	echo "	ports $OP $TP"
	sed 's/.*/	allow "&"/' "$tmp/names"
	echo "	allow \"127.0.0.1\""
	echo "}"
	echo "proxy listen on 127.0.0.1 port $SP policy \"bench\""
} >"$tmp/sbxd.conf"
start_sbxd() {
	"$SBXD" -d -f "$tmp/sbxd.conf" >"$tmp/sbxd/log" 2>&1 &
	PID=$!
	PIDS="$PIDS $PID"
	LOG=$tmp/sbxd/log
	wait_port $SP $PID
}

# tinyproxy: one thread per client, a filter list scanned in order.
mkdir -p "$tmp/tinyproxy"
chown nobody "$tmp/tinyproxy" 2>/dev/null || true
cp "$tmp/names" "$tmp/tinyproxy/filter"
echo "127.0.0.1" >>"$tmp/tinyproxy/filter"
cat >"$tmp/tinyproxy.conf" <<EOF
User nobody
Group nogroup
Port $XP
Listen 127.0.0.1
Timeout 600
MaxClients $((TUNNELS + 1000))
LogFile "$tmp/tinyproxy/log"
LogLevel Warning
PidFile "$tmp/tinyproxy/pid"
Allow 127.0.0.1
Filter "$tmp/tinyproxy/filter"
FilterType fnmatch
FilterDefaultDeny Yes
ConnectPort $TP
EOF
start_tinyproxy() {
	tinyproxy -d -c "$tmp/tinyproxy.conf" >"$tmp/tinyproxy/stderr" 2>&1 &
	PID=$!
	PIDS="$PIDS $PID"
	LOG=$tmp/tinyproxy/log
	wait_port $XP $PID
}

# squid: no cache, one process, a dstdomain list in a splay tree.
mkdir -p "$tmp/squid"
chown proxy "$tmp/squid" 2>/dev/null || true
cp "$tmp/names" "$tmp/squid/domains"
cat >"$tmp/squid.conf" <<EOF
http_port 127.0.0.1:$QP
visible_hostname sbxd-bench
pid_filename $tmp/squid/pid
cache_log $tmp/squid/cache.log
access_log none
cache_store_log none
coredump_dir $tmp/squid
cache deny all
max_filedescriptors $((TUNNELS * 2 + 1000))
shutdown_lifetime 1 seconds
acl client src 127.0.0.1/32
acl names dstdomain -n "$tmp/squid/domains"
acl origin dst 127.0.0.1/32
acl benchports port $OP $TP
http_access deny !client
http_access deny !benchports
http_access allow names
http_access allow origin
http_access deny all
EOF
start_squid() {
	squid -N -f "$tmp/squid.conf" >"$tmp/squid/stderr" 2>&1 &
	PID=$!
	PIDS="$PIDS $PID"
	LOG=$tmp/squid/cache.log
	wait_port $QP $PID
}

# wrk through a proxy: the request line is in absolute form.
cat >"$tmp/bench.lua" <<'EOF'
local origin = os.getenv("BENCH_ORIGIN")
local path = os.getenv("BENCH_PATH")
wrk.headers["Host"] = origin
if os.getenv("BENCH_CLOSE") == "1" then
	wrk.headers["Connection"] = "close"
end
if os.getenv("BENCH_PROXIED") == "1" then
	wrk.path = "http://" .. origin .. path
else
	wrk.path = path
end
function done(summary, latency, requests)
	local e = summary.errors
	io.write(string.format("RESULT %d %d %d %d %d\n",
	    summary.requests, summary.duration, e.read,
	    e.connect + e.write + e.timeout, e.status))
	io.write(string.format("LATENCY %d %d\n", latency:percentile(50),
	    latency:percentile(99)))
end
EOF

# run_wrk PORT PROXIED CLOSE PATH CONNS SECONDS: sets REQS, SECS, ERRS
# (failed requests), CLOSES (connections closed after a response without
# "Connection: close", which wrk counts as read errors) and LAT50, LAT99.
run_wrk() {
	BENCH_CLOSE=$3
	BENCH_ORIGIN=$ORIGIN BENCH_PROXIED=$2 BENCH_CLOSE=$3 BENCH_PATH=$4 \
	    wrk -t$(($5 < 2 ? 1 : 2)) -c$5 -d$6s -s "$tmp/bench.lua" \
	    "http://127.0.0.1:$1/" >"$tmp/wrk.out" 2>&1 ||
	    { cat "$tmp/wrk.out" >&2; die "wrk failed"; }
	set -- $(awk '$1 == "RESULT" { print $2, $3, $4, $5, $6 }' \
	    "$tmp/wrk.out")
	[ $# -eq 5 ] || { cat "$tmp/wrk.out" >&2; die "no wrk result"; }
	REQS=$1
	SECS=$(awk -v u="$2" 'BEGIN { print u / 1e6 }')
	CLOSES=$3
	ERRS=$(($4 + $5))
	set -- $(awk '$1 == "LATENCY" { print $2, $3 }' "$tmp/wrk.out")
	LAT50=$1
	LAT99=$2
}

# check_wrk RUN: note failed requests and unasked-for closes.
check_wrk() {
	[ $ERRS -eq 0 ] || note "$name: $ERRS failed requests in the $1"
	[ $BENCH_CLOSE = 1 ] || [ $CLOSES -eq 0 ] ||
	    note "$name closed $CLOSES connections in the $1 after a" \
	    "response out of $REQS (no keep-alive with the client)"
}

# warmup NAME PORT: one request before anything is measured, and a check
# that the whitelist lets the origin through and nothing else.
warmup() {
	got=$(curl -s -x 127.0.0.1:$2 "http://$ORIGIN/small") || true
	[ "$got" = "$(cat "$tmp/www/small")" ] ||
	    { tail -n 20 "$LOG" >&2; die "$1 does not proxy to the origin"; }
	code=$(curl -s -o /dev/null -w '%{http_code}' -x 127.0.0.1:$2 \
	    "http://blocked.example:$OP/small") || true
	[ "$code" = 403 ] || note "$1 answers $code, not 403, to a host" \
	    "outside its whitelist"
}

# idle NAME PID N: the RSS and descriptors that N idle tunnels add to the
# proxy; 1, with IDLE_ERR set, if the proxy cannot hold them.
idle() {
	progress "$1: $3 idle tunnels"
	r0=$(rss $2)
	f0=$(nfds $2)
	rm -f "$tmp/hold" "$tmp/idle.out"
	mkfifo "$tmp/hold"
	"$TB" idle 127.0.0.1:$TP $3 $px <"$tmp/hold" >"$tmp/idle.out" 2>&1 &
	ipid=$!
	exec 3>"$tmp/hold"
	i=0
	while ! grep -q ready "$tmp/idle.out" && kill -0 $ipid 2>/dev/null &&
	    [ $i -lt 600 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	ok=0
	if grep -q ready "$tmp/idle.out"; then
		sleep 1
		r1=$(rss $2)
		f1=$(nfds $2)
		v=$(awk -v a=$r0 -v b=$r1 -v n=$3 -v m=$TUNNELS \
		    'BEGIN { printf("%.1f%s", (b - a) / n, n == m ? "" : "@" n) }')
		put idle $1 "$v"
		v=$(awk -v a=$f0 -v b=$f1 -v n=$3 -v m=$TUNNELS \
		    'BEGIN { printf("%.1f%s", (b - a) / n, n == m ? "" : "@" n) }')
		put idlefd $1 "$v"
	else
		ok=1
		IDLE_ERR="the client saw: $(tail -n 1 "$tmp/idle.out")"
	fi
	exec 3>&-
	wait $ipid 2>/dev/null || true
	kill -0 $2 2>/dev/null || die "$1 died; see $LOG"
	# Let the proxy close what the client closed.
	sleep 2
	return $ok
}

# bench NAME PROXYPORT PID: every figure for one target; an empty port
# and pid mean direct to the origin.
bench() {
	name=$1 port=$2 pid=$3
	if [ -n "$port" ]; then
		proxied=1 hp=$port px=127.0.0.1:$port
	else
		proxied=0 hp=$OP px=
	fi

	if [ -n "$pid" ]; then
		put rss0 $name "$(awk -v k="$(rss $pid)" \
		    'BEGIN { printf("%.1f", k / 1024) }')"
		if ! idle $name $pid $TUNNELS; then
			n=$((TUNNELS / 2))
			note "$name could not hold $TUNNELS idle tunnels with" \
			    "$(ulimit -n) open files ($IDLE_ERR); its figures" \
			    "per idle tunnel are from $n tunnels, after a restart"
			# A fresh process: the first try's memory stays mapped.
			stop $pid
			start_$name || die "$name did not restart"
			pid=$PID
			warmup $name $port
			idle $name $pid $n || { put idle $name n/a;
			    put idlefd $name n/a; }
		fi
	fi

	progress "$name: keep-alive requests"
	t0=$(ticks ${pid:-$$})
	run_wrk $hp $proxied 0 /small $WRK_CONNS $BENCH_TIME
	t1=$(ticks ${pid:-$$})
	put ka $name "$(awk -v r=$REQS -v s=$SECS 'BEGIN { printf("%.0f", r / s) }')"
	[ -n "$pid" ] && put kacpu $name "$(awk -v t=$((t1 - t0)) -v r=$REQS \
	    -v hz=$HZ 'BEGIN { printf("%.1f", t / hz * 1e6 / r) }')"
	check_wrk "keep-alive run"

	progress "$name: new-connection requests"
	t0=$(ticks ${pid:-$$})
	run_wrk $hp $proxied 1 /small $WRK_CONNS $((BENCH_TIME / 2))
	t1=$(ticks ${pid:-$$})
	put close $name "$(awk -v r=$REQS -v s=$SECS 'BEGIN { printf("%.0f", r / s) }')"
	[ -n "$pid" ] && put closecpu $name "$(awk -v t=$((t1 - t0)) \
	    -v r=$REQS -v hz=$HZ 'BEGIN { printf("%.1f", t / hz * 1e6 / r) }')"
	check_wrk "new-connection run"

	progress "$name: 1 MiB bodies"
	t0=$(ticks ${pid:-$$})
	run_wrk $hp $proxied 0 /big $BIG_CONNS $((BENCH_TIME / 2))
	t1=$(ticks ${pid:-$$})
	put big $name "$(awk -v r=$REQS -v s=$SECS 'BEGIN { printf("%.0f", r / s) }')"
	[ -n "$pid" ] && put bigcpu $name "$(awk -v t=$((t1 - t0)) -v r=$REQS \
	    -v hz=$HZ 'BEGIN { printf("%.2f", t / hz / (r / 1024)) }')"
	check_wrk "1 MiB run"

	progress "$name: request latency on one connection"
	run_wrk $hp $proxied 0 /small 1 $((BENCH_TIME / 4 + 1))
	put lat50 $name $LAT50
	put lat99 $name $LAT99

	progress "$name: one tunnel stream"
	t0=$(ticks ${pid:-$$})
	mibs=$("$TB" stream 127.0.0.1:$TP $((STREAM_MIB * 1048576)) $px) ||
	    die "$name: tunnel stream failed"
	t1=$(ticks ${pid:-$$})
	put stream $name "$mibs"
	[ -n "$pid" ] && put streamcpu $name "$(awk -v t=$((t1 - t0)) \
	    -v m=$STREAM_MIB -v hz=$HZ 'BEGIN { printf("%.2f", t / hz / (m / 1024)) }')"

	progress "$name: first byte through $FIRSTBYTE new tunnels"
	fb=$("$TB" firstbyte 127.0.0.1:$TP $FIRSTBYTE $px) ||
	    die "$name: firstbyte failed"
	set -- $fb
	put fb50 $name "$1"
	put fb99 $name "$2"

	if [ -n "$pid" ]; then
		kill -0 $pid 2>/dev/null || die "$name died; see $LOG"
		put rssend $name "$(awk -v k="$(rss $pid)" \
		    'BEGIN { printf("%.1f", k / 1024) }')"
	fi
}

# relay: the reference relay's tunnels, for the tunnel figures only.
relay() {
	name=relay
	progress "relay: one tunnel stream"
	mibs=$("$TB" stream 127.0.0.1:$TP $((STREAM_MIB * 1048576)) \
	    127.0.0.1:$RP) || die "relay: tunnel stream failed"
	put stream relay "$mibs"
	progress "relay: first byte through $FIRSTBYTE new tunnels"
	fb=$("$TB" firstbyte 127.0.0.1:$TP $FIRSTBYTE 127.0.0.1:$RP) ||
	    die "relay: firstbyte failed"
	set -- $fb
	put fb50 relay "$1"
	put fb99 relay "$2"
}

bench direct "" ""
relay
for p in sbxd $PEERS; do
	progress "$p: starting"
	start_$p || { cat "$LOG" >&2; tail -n 20 "$tmp/$p/stderr" \
	    "$tmp/$p/log" 2>/dev/null >&2; die "$p did not start"; }
	case $p in
	sbxd)		port=$SP ;;
	tinyproxy)	port=$XP ;;
	squid)		port=$QP ;;
	esac
	warmup $p $port
	bench $p $port $PID
	stop $PID
done

progress "matchbench"
if [ -f "$BUILDDIR/config.h" ] && cc -O2 -D_GNU_SOURCE -I "$top/src" \
    -I "$BUILDDIR" "$top/bench/matchbench.c" "$top/src/policy.c" \
    "$top/src/policy_rule.c" "$top/src/config.c" "$top/src/util.c" \
    "$top/src/log.c" -ljansson -o "$tmp/matchbench" 2>"$tmp/cc.err"; then
	"$tmp/matchbench" >"$tmp/matchbench.out"
else
	cat "$tmp/cc.err" >&2 2>/dev/null || true
	note "matchbench not built: no config.h in $BUILDDIR (set BUILDDIR)"
fi

# The table: one row per figure, sbxd / peer for each peer.
echo "## sbxd proxy vs tinyproxy and squid"
echo
echo "$(uname -sr), $(nproc) CPUs, $(squid -v | sed -n 's/.*Version /squid /p'), $(tinyproxy -v 2>&1 | head -n 1), $(nginx -v 2>&1 | sed 's/.*: //'), $RULES allow rules in each proxy"
echo
awk '
function cell(m, t, c) {
	if (!((m, t) in v))
		return "-"
	c = v[m, t]
	sub(/@/, " (at ", c)
	return c ~ /\(/ ? c ")" : c
}
function ratio(m, a, b) {
	if (!((m, a) in v) || !((m, b) in v) || v[m, b] + 0 == 0 ||
	    v[m, a] == "n/a" || v[m, b] == "n/a")
		return "-"
	return sprintf("%.2f", v[m, a] / v[m, b])
}
FNR == NR { v[$1, $2] = $3; next }
{
	split($0, f, "|")
	printf("| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", f[2],
	    f[3], cell(f[1], "direct"), cell(f[1], "relay"),
	    cell(f[1], "sbxd"), cell(f[1], "tinyproxy"), cell(f[1], "squid"),
	    ratio(f[1], "sbxd", "tinyproxy"), ratio(f[1], "sbxd", "squid"))
}
BEGIN {
	print "| figure | better | direct | relay | sbxd | tinyproxy | squid | sbxd / tinyproxy | sbxd / squid |"
	print "|---|:-:|---:|---:|---:|---:|---:|---:|---:|"
}' "$tmp/results" - <<EOF
ka|keep-alive requests/s, $SMALL B|higher
kacpu|keep-alive CPU µs/request|lower
close|new-connection requests/s|higher
closecpu|new-connection CPU µs/request|lower
big|1 MiB bodies, MiB/s|higher
bigcpu|1 MiB bodies, CPU s/GiB|lower
lat50|request latency, 1 connection, median µs|lower
lat99|request latency, 1 connection, p99 µs|lower
stream|CONNECT tunnel stream, MiB/s|higher
streamcpu|CONNECT tunnel stream, CPU s/GiB|lower
fb50|CONNECT first byte, median µs|lower
fb99|CONNECT first byte, p99 µs|lower
idle|RSS per idle tunnel, KiB|lower
idlefd|descriptors per idle tunnel|lower
rss0|RSS at start, MiB|lower
rssend|RSS at end, MiB|lower
EOF
echo
echo "relay: tunnelbench relay, the least a CONNECT proxy can do (one" \
    "tunnel at a time, blocking calls, read and write, no checks), for" \
    "the tunnel figures only."
echo
echo "Access logs off in all three.  sbxd: policy with default block," \
    "loopback yes, $((RULES - 1)) name rules and one address rule." \
    "tinyproxy: Filter with $RULES fnmatch entries, FilterDefaultDeny Yes," \
    "MaxClients $((TUNNELS + 1000)), LogLevel Warning." \
    "squid: cache deny all, one process (-N), a dstdomain -n ACL of" \
    "$((RULES - 1)) names and a dst ACL for the origin."
if [ -s "$tmp/notes" ]; then
	echo
	sed 's/^/- /' "$tmp/notes"
fi
if [ -s "$tmp/matchbench.out" ]; then
	echo
	echo "### Policy lookup (matchbench)"
	echo
	cat "$tmp/matchbench.out"
fi
