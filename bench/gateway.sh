#!/bin/sh
# gateway.sh: sbxd's credential gateway side by side with nginx as a
# header-injecting reverse proxy and with the Portkey gateway
# (@portkey-ai/gateway from npm), in one run, against the same TLS fake
# upstream, beside the same client straight to that upstream.  Prints
# Markdown tables of absolute figures and of sbxd's ratios to the peers.
#
# The upstream is nginx with TLS (a CA of the run's own) on 127.0.0.1,
# one worker, answering two fixed bodies, each only if the real key
# came with the request (else 401, which the client counts as an
# error): POST /v1/messages a small Anthropic message in JSON, POST
# /v1/chat/completions an OpenAI chat stream of SSE_WORDS + 4 events
# (role, words, finish, usage, [DONE]; text/event-stream, a static file
# with Content-Length, so the whole body comes in one write).  The
# gateway allows only POST /v1/messages for Anthropic, so the JSON
# answers go through the anthropic provider and the streams through the
# openai provider, both to this one upstream.  The stream request sets
# "stream": true and stream_options.include_usage, so that sbxd relays
# the body unchanged (it rewrites a body only to ask for usage).
#
# The client is bench/gwbench.c, the same program and the same request
# body on every path:
#   direct	TLS straight to the upstream, the real key in the request;
#   sbxd	the sandbox's gateway, plain HTTP on loopback, as the
#		sandbox's uid, with its phantom keys; sbxd swaps in the
#		real key, relays over TLS, reads the usage and writes one
#		row per request to its database (log level warning);
#   nginx	plain HTTP on loopback, one worker process (sbxd is one
#		event loop), proxy_set_header of the real key,
#		proxy_http_version 1.1 with an upstream keepalive pool,
#		the upstream verified (proxy_ssl_verify), proxy_buffering
#		off for the stream, no access log;
#   portkey	the Portkey gateway under node, plain HTTP on loopback,
#		x-portkey-provider and x-portkey-custom-host pointing at
#		the upstream, NODE_EXTRA_CA_CERTS for the CA; it holds no
#		key of its own, so the client sends the real one.
#
# Figures, for each path:
#   requests/s	CONC keep-alive connections, each sending the small JSON
#		request back to back for SECS seconds (gwbench rps);
#   CPU		the user and system clock ticks of the proxy's process
#		tree over that run (every sbxd process; nginx master and
#		worker; node), per request answered;
#   first event	TTFB_N streams (Portkey: PORTKEY_TTFB_N) one after
#		another on one connection: from the request's write to
#		the read that brings the first "data:" of the body, p50
#		and p99, and what the path adds to direct's (gwbench
#		ttfb);
#   events/s	the events of those streams over the time spent in them.
#
# Everything runs as root in a network namespace of its own, with fixed
# ports there; the sandbox (uids UID_LO-UID_HI, gateway ports
# 940-949), the namespace, the processes and the temporary directory
# are removed on exit.  nginx comes from NGINX (default: the one in
# PATH, else /usr/sbin/nginx); Portkey is installed with npm into the
# temporary directory (with @hono/node-server pinned, see HONO_NODE)
# unless PORTKEY_DIR names an npm prefix where it is installed already.
#
# usage: SBXD=./sbxd SBXCTL=./sbxctl/sbxctl sh bench/gateway.sh
#	CONC (8), SECS (5), TTFB_N (1000), PORTKEY_TTFB_N (200: each of
#	Portkey's streams takes some 30 ms), SSE_WORDS (18),
#	PEERS ("nginx portkey"), PORTKEY_DIR, NGINX, CC (cc), KEEP (1: keep
#	the temporary directory, its logs and raw outputs, and say where)

set -eu
SBXD=${SBXD:-./sbxd}
SBXCTL=${SBXCTL:-./sbxctl/sbxctl}
CONC=${CONC:-8}
SECS=${SECS:-5}
TTFB_N=${TTFB_N:-1000}
PORTKEY_TTFB_N=${PORTKEY_TTFB_N:-200}
SSE_WORDS=${SSE_WORDS:-18}
PEERS=${PEERS-nginx portkey}
PORTKEY_DIR=${PORTKEY_DIR:-}
CC=${CC:-cc}
KEEP=${KEEP:-}
UID_LO=61600		# the sandbox's uid block
UID_HI=61609
UP=8443			# ports inside the namespace: the upstream,
NP=8080			# nginx the proxy,
PP=8787			# Portkey
PORTKEY_PKG=@portkey-ai/gateway
# Portkey's streams fail ("TypeError: immutable", Portkey-AI/gateway
# issue 1389) with the @hono/node-server npm picks today, whose Response
# keeps a fetch answer's immutable headers; the last 1.13 does not.
HONO_NODE=1.13.8
PORTKEY_JS=node_modules/@portkey-ai/gateway/build/start-server.js

top=$(cd "$(dirname "$0")/.." && pwd)
T=
NS=sbxgwb$$
NAME=gwb$$
SOCK=
SBXD_PID=
CREATED=
PIDS=
USAGE=

die() {
	echo "gateway.sh: $*" >&2
	exit 1
}

START=$(date +%s)
progress() {
	echo "gateway.sh: $(($(date +%s) - START))s: $*" >&2
}

note() {
	echo "$*" >>"$T/notes"
	progress "$*"
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
	if [ -n "$CREATED" ] && [ -n "$SBXD_PID" ] &&
	    kill -0 "$SBXD_PID" 2>/dev/null; then
		"$SBXCTL" -s "$SOCK" rm "$NAME" >/dev/null 2>&1 ||
		    echo "gateway.sh: sbxctl rm $NAME failed" >&2
	fi
	for p in $PIDS; do
		stop "$p"
	done
	[ -n "$SBXD_PID" ] && stop "$SBXD_PID"
	if ip netns list 2>/dev/null | grep -q "^$NS\\b"; then
		for p in $(ip netns pids "$NS" 2>/dev/null); do
			kill -9 "$p" 2>/dev/null
		done
		ip netns del "$NS" 2>/dev/null
	fi
	# A user left behind by an sbxd that could not remove it.
	if u=$(id -u "sbx-$NAME" 2>/dev/null) && [ "$u" -ge $UID_LO ] &&
	    [ "$u" -le $UID_HI ]; then
		userdel "sbx-$NAME" >/dev/null 2>&1
		groupdel "sbx-$NAME" >/dev/null 2>&1
	fi
	if [ -n "$T" ] && [ "$KEEP" = 1 ]; then
		echo "gateway.sh: kept $T" >&2
	elif [ -n "$T" ]; then
		rm -rf "$T"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

[ "$(id -u)" -eq 0 ] || die "needs root"
for t in ip nft openssl setpriv "$CC"; do
	command -v "$t" >/dev/null 2>&1 || die "$t not found"
done
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
[ -x "$NGINX" ] || die "no nginx (apt-get install nginx-light; or NGINX=)"
for v in SBXD SBXCTL; do
	eval "p=\$$v"
	case $p in
	/*)	;;
	*)	p=$(pwd)/$p ;;
	esac
	[ -x "$p" ] || die "$p: not executable; set $v=/path/to/it"
	eval "$v=\$p"
done
! { getent passwd; getent group; } | awk -F: -v lo=$UID_LO -v hi=$UID_HI \
    '$3 >= lo && $3 <= hi { f = 1 } END { exit !f }' ||
    die "some user or group has an id in $UID_LO-$UID_HI"
pgrep -x nginx >/dev/null 2>&1 &&
    progress "warning: a system nginx is running and may skew the figures"

T=$(mktemp -d "${TMPDIR:-/tmp}/sbxd-gwbench.XXXXXX")
chmod 0755 "$T"
SOCK=$T/ctl.sock
: >"$T/results"
: >"$T/notes"
HZ=$(getconf CLK_TCK)

progress "building gwbench"
nice "$CC" -O2 -Wall -Wextra "$top/bench/gwbench.c" -o "$T/gwbench" \
    -lssl -lcrypto -lpthread || die "cannot build gwbench"
GB=$T/gwbench

# Portkey, first: a failed install only leaves its rows empty.
PK=
case " $PEERS " in
*" portkey "*)
	if [ -n "$PORTKEY_DIR" ]; then
		PK=$PORTKEY_DIR
	elif ! command -v node >/dev/null 2>&1 ||
	    ! command -v npm >/dev/null 2>&1; then
		note "portkey not run: no node or npm"
	else
		progress "installing $PORTKEY_PKG with npm"
		mkdir -p "$T/portkey"
		printf '{"private":true,"overrides":{"@hono/node-server":"%s"}}\n' \
		    "$HONO_NODE" >"$T/portkey/package.json"
		if nice timeout 300 npm install --prefix "$T/portkey" \
		    --no-audit --no-fund --loglevel=error "$PORTKEY_PKG" \
		    >"$T/npm.log" 2>&1; then
			PK=$T/portkey
		else
			note "portkey not run: npm install failed:" \
			    "$(tail -n 1 "$T/npm.log")"
		fi
	fi
	if [ -n "$PK" ] && [ ! -f "$PK/$PORTKEY_JS" ]; then
		note "portkey not run: no $PORTKEY_JS in $PK"
		PK=
	fi
	;;
esac

# A CA of the run's own and the upstream's certificate for 127.0.0.1
# and localhost (nginx checks a name, not an address).
progress "certificates"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=sbxd gwbench CA" \
    -keyout "$T/ca.key" -out "$T/ca.pem" >/dev/null 2>&1 || die "CA"
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$T/key.pem" -out "$T/srv.csr" >/dev/null 2>&1 || die "CSR"
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$T/ext"
openssl x509 -req -in "$T/srv.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" \
    -CAcreateserial -days 2 -extfile "$T/ext" -out "$T/cert.pem" \
    >/dev/null 2>&1 || die "server certificate"

# The real keys, root's alone, one line each.
mkdir -m 0700 "$T/keys"
AKEY=sk-ant-bench-$$-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
OKEY=sk-bench-$$-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
(umask 077 && echo "$AKEY" >"$T/keys/anthropic" &&
    echo "$OKEY" >"$T/keys/openai")

# The upstream's answers: the JSON in the configuration, the stream in
# a file (an nginx string holds at most 4 KiB).
mkdir -p "$T/up/www" "$T/np"
JSON='{"id":"msg_01bench","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"Hello! How can I help you today?"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":12,"output_tokens":7}}'
awk -v n="$SSE_WORDS" 'BEGIN {
	h = "{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"gpt-4o-mini\",\"system_fingerprint\":\"fp_bench\","
	printf("data: %s\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n", h)
	for (i = 1; i <= n; i++)
		printf("data: %s\"choices\":[{\"index\":0,\"delta\":{\"content\":\"word%d \"},\"finish_reason\":null}]}\n\n", h, i)
	printf("data: %s\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n", h)
	printf("data: %s\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":%d,\"total_tokens\":%d}}\n\n", h, n, n + 12)
	printf("data: [DONE]\n\n")
}' >"$T/up/www/sse"
SSE_EVENTS=$((SSE_WORDS + 4))

# nginx_common DIR: the lines both nginx configurations share.
nginx_common() {
	cat <<EOF
worker_processes 1;
pid $1/nginx.pid;
error_log $1/error.log warn;
events {
	worker_connections 4096;
}
http {
	access_log off;
	keepalive_requests 10000000;
	keepalive_timeout 300s;
	client_body_temp_path $1/body;
	proxy_temp_path $1/proxy;
	fastcgi_temp_path $1/fastcgi;
	uwsgi_temp_path $1/uwsgi;
	scgi_temp_path $1/scgi;
EOF
}
{
	nginx_common "$T/up"
	cat <<EOF
	server {
		listen 127.0.0.1:$UP ssl;
		ssl_certificate $T/cert.pem;
		ssl_certificate_key $T/key.pem;
		location = /v1/messages {
			if (\$http_x_api_key != "$AKEY") {
				return 401;
			}
			default_type application/json;
			return 200 '$JSON';
		}
		# The static file, as nginx serves it to a POST: 405,
		# turned into a GET of the file with status 200.
		location = /v1/chat/completions {
			if (\$http_authorization != "Bearer $OKEY") {
				return 401;
			}
			root $T/up/www;
			rewrite ^ /sse break;
			error_page 405 =200 /sse;
		}
		location = /sse {
			internal;
			root $T/up/www;
			default_type text/event-stream;
		}
	}
}
EOF
} >"$T/up.conf"
{
	nginx_common "$T/np"
	cat <<EOF
	upstream models {
		server 127.0.0.1:$UP;
		keepalive 64;
		keepalive_requests 10000000;
		keepalive_timeout 300s;
	}
	proxy_http_version 1.1;
	proxy_ssl_trusted_certificate $T/ca.pem;
	proxy_ssl_verify on;
	proxy_ssl_name localhost;
	proxy_ssl_server_name on;
	proxy_ssl_session_reuse on;
	server {
		listen 127.0.0.1:$NP;
		location = /anthropic/v1/messages {
			proxy_pass https://models/v1/messages;
			proxy_set_header Connection "";
			proxy_set_header x-api-key "$AKEY";
		}
		location = /openai/v1/chat/completions {
			proxy_pass https://models/v1/chat/completions;
			proxy_set_header Connection "";
			proxy_set_header Authorization "Bearer $OKEY";
			proxy_buffering off;
		}
	}
}
EOF
} >"$T/np.conf"

cat >"$T/sbxd.conf" <<EOF
state "$T/state"
control socket "$SOCK"
pidfile "$T/sbxd.pid"
log level warning
policy "default" {
	default block
}
sandbox uid-range $UID_LO $UID_HI
sandbox port-range 940 949
sandbox home "$T/home"
sandbox firewall nftables table "sbxb$$"
sandbox providers "anthropic" "openai"
provider "anthropic" {
	key-file "$T/keys/anthropic"
	upstream "https://127.0.0.1:$UP"
	ca-file "$T/ca.pem"
}
provider "openai" {
	key-file "$T/keys/openai"
	upstream "https://127.0.0.1:$UP"
	ca-file "$T/ca.pem"
}
EOF

# The requests.  mkreq FILE PATH BODY FIELD...: a POST with Host,
# Content-Type and Content-Length added.
ABODY='{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"Say hello."}]}'
OBODY='{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Say hello."}]}'
mkreq() {
	f=$1 path=$2 body=$3
	shift 3
	{
		printf 'POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n' "$path"
		for h in "$@"; do
			printf '%s\r\n' "$h"
		done
		printf 'Content-Type: application/json\r\n'
		printf 'Content-Length: %d\r\n\r\n%s' \
		    "$(printf %s "$body" | wc -c)" "$body"
	} >"$f"
	chmod 0644 "$f"
}
AV='anthropic-version: 2023-06-01'
CH="x-portkey-custom-host: https://127.0.0.1:$UP/v1"
mkreq "$T/direct.json" /v1/messages "$ABODY" "x-api-key: $AKEY" "$AV"
mkreq "$T/direct.sse" /v1/chat/completions "$OBODY" \
    "Authorization: Bearer $OKEY"
mkreq "$T/portkey.json" /v1/messages "$ABODY" \
    "x-portkey-provider: anthropic" "$CH" "x-api-key: $AKEY" "$AV"
mkreq "$T/portkey.sse" /v1/chat/completions "$OBODY" \
    "x-portkey-provider: openai" "$CH" "Authorization: Bearer $OKEY"

in_ns() {
	ip netns exec "$NS" "$@"
}
# listening PORT: something listens on PORT in the namespace.
listening() {
	in_ns cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
	    awk -v p="$(printf '%04X' "$1")" '$4 == "0A" &&
		substr($2, index($2, ":") + 1) == p { f = 1 }
		END { exit !f }'
}
# wait_port PORT PID: until PORT listens, while PID lives (30 s).
wait_port() {
	i=0
	until listening "$1"; do
		kill -0 "$2" 2>/dev/null || return 1
		[ $i -lt 300 ] || return 1
		sleep 0.1
		i=$((i + 1))
	done
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
# CPU clock ticks (user and system, with reaped children) of a tree.
ticks() {
	for p in $(tree "$1"); do
		cat "/proc/$p/stat" 2>/dev/null || true
	done | sed 's/.*) //' | awk '{ t += $12 + $13 + $14 + $15 }
	    END { print t + 0 }'
}

# put METRIC TARGET VALUE
put() {
	echo "$1 $2 $3" >>"$T/results"
}

# start_nginx NAME CONF: nginx in the foreground in the namespace; PID.
start_nginx() {
	ip netns exec "$NS" "$NGINX" -p "$T/$1" -c "$T/$1.conf" -g 'daemon off;' \
	    >"$T/$1/stderr" 2>&1 &
	PID=$!
	PIDS="$PIDS $PID"
}

progress "namespace $NS, upstream nginx on 127.0.0.1:$UP"
ip netns add "$NS" || die "ip netns add $NS"
in_ns ip link set lo up
start_nginx up
UP_PID=$PID
wait_port $UP $UP_PID || { cat "$T/up/stderr" "$T/up/error.log" >&2 2>/dev/null
    die "the upstream nginx did not start"; }

# bench NAME PORT TLS PID CLIENT...: every figure for one path; PID is
# the proxy's (empty for direct), CLIENT the command gwbench runs
# under.  Returns 1, with a note, if the path does not answer.
bench() {
	name=$1 port=$2 tls=$3 pid=$4
	shift 4
	for k in json sse; do
		if ! "$@" "$GB" once 127.0.0.1 "$port" "$tls" "$T/$name.$k" \
		    >"$T/$name.$k.once" 2>&1; then
			note "$name not run: the $k request got" \
			    "$(head -c 300 "$T/$name.$k.once" | tr '\n' ' ')"
			return 1
		fi
	done
	grep -q '"output_tokens":7' "$T/$name.json.once" ||
	    note "$name: the JSON answer was not relayed whole"
	grep -q 'data: \[DONE\]' "$T/$name.sse.once" ||
	    note "$name: the stream was not relayed whole"

	progress "$name: requests/s, $CONC connections, $SECS s"
	t0=$(ticks "${pid:-$$}")
	"$@" "$GB" rps 127.0.0.1 "$port" "$tls" "$CONC" "$SECS" \
	    "$T/$name.json" >"$T/$name.rps" 2>"$T/$name.rps.err" ||
	    { cat "$T/$name.rps.err" >&2; die "$name: gwbench rps failed"; }
	t1=$(ticks "${pid:-$$}")
	set -- $(cat "$T/$name.rps")
	[ "${1:-}" = requests ] || die "$name: gwbench rps said: $*"
	put rps "$name" "$8"
	[ -n "$pid" ] && put cpu "$name" "$(awk -v t=$((t1 - t0)) \
	    -v r="$4" -v hz="$HZ" 'BEGIN { printf("%.1f", t / hz * 1e6 / r) }')"
	[ "${10}" -eq 0 ] || note "$name: ${10} errors in $4 requests" \
	    "($(head -n 2 "$T/$name.rps.err" | tr '\n' ' '))"
	return 0
}

# bench_sse NAME PORT TLS N CLIENT...: the stream figures, N streams.
bench_sse() {
	name=$1 port=$2 tls=$3 n=$4
	shift 4
	progress "$name: first event, $n streams"
	"$@" "$GB" ttfb 127.0.0.1 "$port" "$tls" "$n" "$T/$name.sse" \
	    >"$T/$name.ttfb" 2>"$T/$name.ttfb.err" ||
	    { note "$name: streams failed: $(tr '\n' ' ' <"$T/$name.ttfb.err")"
	    return 0; }
	set -- $(cat "$T/$name.ttfb")
	put first50 "$name" "$2"
	put first99 "$name" "$3"
	put events "$name" "${10}"
	[ "$8" -eq $SSE_EVENTS ] ||
	    note "$name: $8 events in a stream, not $SSE_EVENTS"
}

AS_ROOT="ip netns exec $NS env GWBENCH_CAFILE=$T/ca.pem"

bench direct $UP 1 "" $AS_ROOT || die "the upstream does not answer"
bench_sse direct $UP 1 "$TTFB_N" $AS_ROOT

progress "starting sbxd"
ip netns exec "$NS" "$SBXD" -d -f "$T/sbxd.conf" >"$T/sbxd.log" 2>&1 &
SBXD_PID=$!
i=0
until "$SBXCTL" -s "$SOCK" status >/dev/null 2>&1; do
	kill -0 $SBXD_PID 2>/dev/null || { cat "$T/sbxd.log" >&2;
	    SBXD_PID=; die "sbxd exited"; }
	i=$((i + 1))
	[ $i -lt 300 ] || { cat "$T/sbxd.log" >&2; die "sbxd did not start"; }
	sleep 0.1
done
"$SBXCTL" -s "$SOCK" create "$NAME" >"$T/create.out" 2>&1 ||
    { cat "$T/create.out" "$T/sbxd.log" >&2; die "sbxctl create failed"; }
CREATED=1
"$SBXCTL" -s "$SOCK" -j show "$NAME" >"$T/show.json" ||
    die "sbxctl show failed"
GW=$(sed -n 's/.*"gateway": *"\([^"]*\)".*/\1/p' "$T/show.json")
SUID=$(sed -n 's/.*"uid": *\([0-9]*\).*/\1/p' "$T/show.json")
case $GW in
http://127.0.0.1:9[4-9][0-9]) GP=${GW##*:} ;;
*)	die "no gateway in sbxctl show: $(cat "$T/show.json")" ;;
esac
[ -n "$SUID" ] || die "no uid in sbxctl show: $(cat "$T/show.json")"
SGID=$(id -g "$SUID") || die "no group for uid $SUID"
"$SBXCTL" -s "$SOCK" exec "$NAME" -- env >"$T/env" ||
    die "sbxctl exec env failed"
APH=$(sed -n 's/^ANTHROPIC_API_KEY=//p' "$T/env")
OPH=$(sed -n 's/^OPENAI_API_KEY=//p' "$T/env")
[ -n "$APH" ] && [ -n "$OPH" ] || die "no phantom keys: $(cat "$T/env")"
mkreq "$T/sbxd.json" /anthropic/v1/messages "$ABODY" "x-api-key: $APH" "$AV"
mkreq "$T/sbxd.sse" /openai/v1/chat/completions "$OBODY" \
    "Authorization: Bearer $OPH"
# nginx gets the same requests: it replaces the phantom key.
cp "$T/sbxd.json" "$T/nginx.json"
cp "$T/sbxd.sse" "$T/nginx.sse"
AS_SBX="ip netns exec $NS setpriv --reuid=$SUID --regid=$SGID --clear-groups"
LOG0=$(wc -l <"$T/sbxd.log")
if bench sbxd "$GP" 0 $SBXD_PID $AS_SBX; then
	bench_sse sbxd "$GP" 0 "$TTFB_N" $AS_SBX
fi
kill -0 $SBXD_PID 2>/dev/null || die "sbxd died; see $T/sbxd.log"
tail -n +$((LOG0 + 1)) "$T/sbxd.log" | head -n 5 | while read -r l; do
	note "sbxd log: $l"
done
# Every request sbxd answered has its row: the checks, the timed ones
# and the warm-up.
"$SBXCTL" -s "$SOCK" -j usage "$NAME" >"$T/usage.json" 2>&1 || true
rows() {
	tr -d ' \t\n' <"$T/usage.json" | awk -v p="\"provider\":\"$1\"" '{
		n = split($0, r, /\},\{/)
		for (i = 1; i <= n; i++)
			if (index(r[i], p) && match(r[i], /"requests":[0-9]+/))
				t += substr(r[i], RSTART + 11, RLENGTH - 11)
	} END { print t + 0 }'
}
if [ -s "$T/sbxd.rps" ]; then
	sent=$(($(awk '{ print $4 }' "$T/sbxd.rps") + 1))
	got=$(rows anthropic)
	USAGE="sbxd's usage table: $got rows for the $sent JSON requests"
	if [ -s "$T/sbxd.ttfb" ]; then
		# gwbench ttfb: GW_WARMUP (20) untimed, then TTFB_N.
		USAGE="$USAGE, $(rows openai) for the $((TTFB_N + 21)) streams"
	fi
	USAGE="$USAGE (the checks and warm-up included)."
fi

for p in $PEERS; do
	case $p in
	nginx)
		progress "starting nginx, the proxy"
		start_nginx np
		wait_port $NP $PID || { note "nginx not run: it did not start:" \
		    "$(cat "$T/np/stderr" "$T/np/error.log" 2>/dev/null)";
		    continue; }
		bench nginx $NP 0 $PID $AS_ROOT &&
		    bench_sse nginx $NP 0 "$TTFB_N" $AS_ROOT
		stop $PID
		;;
	portkey)
		[ -n "$PK" ] || continue
		progress "starting Portkey"
		ip netns exec "$NS" env NODE_EXTRA_CA_CERTS="$T/ca.pem" \
		    NODE_ENV=production \
		    node "$PK/$PORTKEY_JS" --port=$PP --headless \
		    >"$T/portkey.log" 2>&1 &
		PID=$!
		PIDS="$PIDS $PID"
		wait_port $PP $PID || { note "portkey not run: it did not" \
		    "start: $(tail -n 3 "$T/portkey.log")"; continue; }
		bench portkey $PP 0 $PID $AS_ROOT &&
		    bench_sse portkey $PP 0 "$PORTKEY_TTFB_N" $AS_ROOT
		stop $PID
		;;
	*)	note "unknown peer $p" ;;
	esac
done

# The tables.
NGV=$("$NGINX" -v 2>&1 | sed 's/.*: //')
PKV=
[ -n "$PK" ] && PKV=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' \
    "$PK/node_modules/@portkey-ai/gateway/package.json" | head -n 1)
echo "## Credential gateway: sbxd vs nginx and Portkey"
echo
echo "$(uname -sr), $(nproc) CPUs; upstream and proxy $NGV (one worker" \
    "each)${PKV:+, Portkey $PKV on node $(node --version)}; all on" \
    "127.0.0.1 in one network namespace"
echo
awk -v conc="$CONC" -v secs="$SECS" -v n="$TTFB_N" -v ev="$SSE_EVENTS" '
function has(m, t) { return ((m, t) in v) }
function cell(m, t) { return has(m, t) ? v[m, t] : "-" }
function added(m, t) {
	if (!has(m, t) || !has(m, "direct"))
		return "-"
	return sprintf("%+d", v[m, t] - v[m, "direct"])
}
function ratio(m, a, b) {
	if (!has(m, a) || !has(m, b) || v[m, b] + 0 == 0)
		return "-"
	return sprintf("%.2f", v[m, a] / v[m, b])
}
{ v[$1, $2] = $3 }
END {
	split("direct sbxd nginx portkey", ts, " ")
	label["direct"] = "direct (TLS to the upstream)"
	label["sbxd"] = "sbxd gateway"
	label["nginx"] = "nginx, 1 worker"
	label["portkey"] = "Portkey"
	printf("| path | requests/s (%d conns, %d s) | CPU µs/request |", conc, secs)
	printf(" first event p50 µs | p99 µs | added p50 µs | added p99 µs |")
	printf(" events/s |\n")
	print "|---|---:|---:|---:|---:|---:|---:|---:|"
	for (i = 1; i <= 4; i++) {
		t = ts[i]
		printf("| %s | %s | %s | %s | %s | %s | %s | %s |\n", label[t],
		    cell("rps", t), cell("cpu", t), cell("first50", t),
		    cell("first99", t),
		    t == "direct" ? "" : added("first50", t),
		    t == "direct" ? "" : added("first99", t),
		    cell("events", t))
	}
	print ""
	print "| ratio | requests/s | CPU per request | events/s |"
	print "|---|---:|---:|---:|"
	printf("| sbxd / nginx | %s | %s | %s |\n", ratio("rps", "sbxd", "nginx"),
	    ratio("cpu", "sbxd", "nginx"), ratio("events", "sbxd", "nginx"))
	printf("| sbxd / Portkey | %s | %s | %s |\n",
	    ratio("rps", "sbxd", "portkey"), ratio("cpu", "sbxd", "portkey"),
	    ratio("events", "sbxd", "portkey"))
	print ""
	print "| target | sbxd | met |"
	print "|---|---|:-:|"
	if (has("rps", "sbxd") && has("rps", "nginx")) {
		ok = v["rps", "sbxd"] >= v["rps", "nginx"] ? "yes" : "no"
		printf("| requests/s ≥ nginx | %s vs %s | %s |\n",
		    v["rps", "sbxd"], v["rps", "nginx"], ok)
	}
	if (has("cpu", "sbxd") && has("cpu", "nginx")) {
		ok = v["cpu", "sbxd"] <= v["cpu", "nginx"] ? "yes" : "no"
		printf("| CPU/request ≤ nginx | %s vs %s µs | %s |\n",
		    v["cpu", "sbxd"], v["cpu", "nginx"], ok)
	}
	if (has("first50", "sbxd") && has("first50", "direct")) {
		a50 = v["first50", "sbxd"] - v["first50", "direct"]
		a99 = v["first99", "sbxd"] - v["first99", "direct"]
		ok = a50 > 200 ? "no" : a99 > 200 ? "p50 only" : "yes"
		printf("| first event ≤ 200 µs over direct |")
		printf(" p50 %+d, p99 %+d µs | %s |\n", a50, a99, ok)
	}
	if (has("rps", "sbxd") && has("rps", "portkey")) {
		x = v["rps", "sbxd"] / v["rps", "portkey"]
		printf("| requests/s ≥ 10 × Portkey | %.1f × | %s |\n", x,
		    x >= 10 ? "yes" : "no")
	}
}' "$T/results"
echo
echo "Requests/s: small JSON answers (Anthropic messages, $(printf %s "$JSON" |
    wc -c) bytes), keep-alive; client, proxy and upstream share the" \
    "$(nproc) CPUs." \
    "CPU: the proxy's process tree only, per request answered." \
    "First event: $TTFB_N streams of $SSE_EVENTS events (OpenAI chat," \
    "$(wc -c <"$T/up/www/sse") bytes) one after another on one" \
    "connection, from the request's write to the first \"data:\";" \
    "events/s over the same streams.  sbxd writes one usage row per" \
    "request to its database (on $(df -PT "$T" 2>/dev/null |
    awk 'NR == 2 { print $2 }')); nginx and Portkey keep no record."
if [ -n "$USAGE" ]; then
	echo "$USAGE"
fi
if grep -q '^first50 portkey ' "$T/results"; then
	echo "Portkey's stream handler waits 25 ms (a setTimeout) before it" \
	    "relays the first chunk of a stream; its figures are from" \
	    "$PORTKEY_TTFB_N streams."
fi
if [ -s "$T/notes" ]; then
	echo
	sed 's/^/- /' "$T/notes"
fi
