# lib.sh: shared by the integration tests.  Each test sources this file,
# writes a config with conf_write, starts "sbxd -d" on a private state
# directory and socket with start_sbxd, drives it with sbxctl and real
# clients, and calls pass or fail.  A failed run prints the daemon's log.
#
# Tests that need root skip (exit 77) when not root, except under CI=true,
# where a skip is a failure.

set -u
SBXD=${SBXD:-sbxd}
SBXCTL=${SBXCTL:-sbxctl}
T=$(mktemp -d "${TMPDIR:-/tmp}/sbxd-regress.XXXXXX") || exit 99
chmod 0755 "$T"
SOCK=$T/ctl.sock
STATE=$T/state
CONF=$T/sbxd.conf
LOG=$T/sbxd.log
SBXD_PID=
PEER_PIDS=
CLEANUP_HOOKS=

cleanup() {
	rc=$?
	if [ -n "$SBXD_PID" ] && kill -0 "$SBXD_PID" 2>/dev/null; then
		kill -TERM "$SBXD_PID" 2>/dev/null
		wait "$SBXD_PID" 2>/dev/null
	fi
	for p in $PEER_PIDS; do kill "$p" 2>/dev/null; done
	for h in $CLEANUP_HOOKS; do $h; done
	if [ $rc -ne 0 ] && [ $rc -ne 77 ] && [ -f "$LOG" ]; then
		echo "--- sbxd log ($LOG)"
		cat "$LOG"
	fi
	rm -rf "$T"
	exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
	echo "FAIL: $*"
	exit 1
}

pass() {
	echo "PASS: ${0##*/}"
	exit 0
}

skip() {
	if [ "${CI:-}" = "true" ]; then
		echo "FAIL: cannot run under CI: $*"
		exit 1
	fi
	echo "SKIP: $*"
	exit 77
}

need_root() {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
}

# on_exit FUNCTION: run FUNCTION when the test ends, however it ends.
on_exit() {
	CLEANUP_HOOKS="$CLEANUP_HOOKS $1"
}

# A free TCP port on the loopback interface.
free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# conf_write: the config on stdin goes after the test's own paths.
conf_write() {
	{
		echo "state \"$STATE\""
		echo "control socket \"$SOCK\""
		echo "pidfile \"$T/sbxd.pid\""
		cat
	} > "$CONF"
}

# wait_for CMD...: retry CMD for up to 10 seconds (WAIT_TENTHS tenths).
wait_for() {
	i=0
	while ! "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt "${WAIT_TENTHS:-100}" ] || return 1
		sleep 0.1
	done
	return 0
}

# start_sbxd [ARGS...]: run sbxd -d on $CONF and wait for its socket.
start_sbxd() {
	"$SBXD" -d -f "$CONF" "$@" >>"$LOG" 2>&1 &
	SBXD_PID=$!
	# A loaded machine (sanitizers, parallel tests) may take a while to
	# create the database.
	WAIT_TENTHS=300 wait_for ctl status || fail "sbxd did not start"
}

# stop_sbxd: SIGTERM, and wait for a clean exit.
stop_sbxd() {
	kill -TERM "$SBXD_PID" || fail "sbxd not running"
	wait "$SBXD_PID"
	rc=$?
	SBXD_PID=
	[ $rc -eq 0 ] || fail "sbxd exited $rc after SIGTERM"
}

ctl() {
	"$SBXCTL" -s "$SOCK" "$@"
}

# json_get KEYPATH: read a JSON document on stdin and print one value;
# KEYPATH is a python subscript such as ["components"][0]["state"].
json_get() {
	python3 -c "import json, sys
v = json.load(sys.stdin)$1
print(json.dumps(v) if not isinstance(v, str) else v)"
}

# component NAME: that component's status object, from sbxctl -j status.
component() {
	ctl -j status | python3 -c "import json, sys
for c in json.load(sys.stdin)['components']:
    if c['name'] == '$1':
        print(json.dumps(c))"
}

# followers_at_least N: N or more event followers are in (a follower
# sees only what is published after it is).
followers_at_least() {
	[ "$(component control | json_get '["followers"]')" -ge "$1" ]
}

# log_has PATTERN: the daemon log contains PATTERN (grep -E).
log_has() {
	grep -Eq "$1" "$LOG"
}

# start_peer KIND ADDR PORT [ARGS]: a peer.py server, once it listens.
start_peer() {
	python3 "$top_srcdir/tests/regress/peer.py" "$@" >"$T/peer.$$.$3" 2>&1 &
	PEER_PIDS="$PEER_PIDS $!"
	i=0
	until grep -q ready "$T/peer.$$.$3" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 100 ] || fail "peer $1 on $2:$3 did not start"
		sleep 0.1
	done
}

# make_cert NAME...: a self-signed certificate for the names, in
# $T/cert.pem and $T/key.pem.
make_cert() {
	san=$(printf 'DNS:%s,' "$@")
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$1" \
	    -addext "subjectAltName=${san%,}" -keyout "$T/key.pem" \
	    -out "$T/cert.pem" >/dev/null 2>&1 || fail "openssl req"
}

# make_ca_cert: a CA of the test's own, $T/ca.pem, and a certificate
# for 127.0.0.1 and localhost signed by it, $T/cert.pem and $T/key.pem,
# for the TLS peers that stand for an upstream.
make_ca_cert() {
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 \
	    -subj "/CN=sbxd test CA $$" -keyout "$T/ca.key" \
	    -out "$T/ca.pem" >/dev/null 2>&1 || fail "CA"
	openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
	    -keyout "$T/key.pem" -out "$T/srv.csr" >/dev/null 2>&1 ||
	    fail "CSR"
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$T/ext"
	openssl x509 -req -in "$T/srv.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" \
	    -CAcreateserial -days 2 -extfile "$T/ext" -out "$T/cert.pem" \
	    >/dev/null 2>&1 || fail "server certificate"
}

# github_fake PORT TOKEN: GitHub's side in $T/gh, octo/demo with a
# commit on main (from $T/seed) and octo/other, both bare, and
# tests/agent/fake_github.py serving them on 127.0.0.1:PORT inside the
# namespace with make_ca_cert's certificate, TOKEN its token, logging to
# $T/gh.log.  The environment passes on (FAKE_GITHUB_APP).
github_fake() {
	gf_git="git -c user.name=t -c user.email=t@t -c init.defaultBranch=main"
	mkdir -p "$T/gh/octo"
	for gf_r in demo other; do
		$gf_git init -q --bare "$T/gh/octo/$gf_r.git" ||
		    fail "git init $gf_r"
	done
	$gf_git init -q "$T/seed" && echo hello >"$T/seed/README" &&
	    $gf_git -C "$T/seed" add README &&
	    $gf_git -C "$T/seed" commit -qm seed &&
	    $gf_git -C "$T/seed" push -q "$T/gh/octo/demo.git" HEAD:main ||
	    fail "seeding octo/demo"
	(in_ns python3 "$top_srcdir/tests/agent/fake_github.py" 127.0.0.1 \
	    "$1" "$T/cert.pem" "$T/key.pem" "$T/gh" "$T/gh.log" "$2" \
	    >"$T/fake.out" 2>"$T/fake.err") &
	PEER_PIDS="$PEER_PIDS $!"
	wait_for grep -q ready "$T/fake.out" ||
	    fail "the fake GitHub did not start: $(cat "$T/fake.err")"
}

# through URL [CURL ARGS]: curl through the proxy on $PROXY.
through() {
	u=$1
	shift
	curl -sS -x "http://$PROXY" --max-time 20 "$@" "$u"
}

# ns_setup: a network namespace of the test's own, $NS, with loopback
# up, removed at the end with everything running in it.
ns_setup() {
	NS=sbxt$$
	ip netns add "$NS" || fail "ip netns add $NS"
	on_exit ns_cleanup
	in_ns ip link set lo up || fail "lo up in $NS"
}

ns_cleanup() {
	ip netns pids "$NS" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
	ip netns del "$NS" 2>/dev/null
}

# in_ns CMD...: run CMD inside the namespace.
in_ns() {
	ip netns exec "$NS" "$@"
}

# start_ns_sbxd [ARGS...]: sbxd -d on $CONF inside the namespace, with
# an events follower writing to $T/events.
start_ns_sbxd() {
	ip netns exec "$NS" "$SBXD" -d -f "$CONF" "$@" >>"$LOG" 2>&1 &
	SBXD_PID=$!
	WAIT_TENTHS=300 wait_for ctl status || fail "sbxd did not start"
	"$SBXCTL" -s "$SOCK" -j events >>"$T/events" 2>&1 &
	PEER_PIDS="$PEER_PIDS $!"
	wait_for followers_at_least 1 ||
	    fail "the events follower did not connect"
}

# sandbox_name VAR SUFFIX: set VAR to a sandbox name unique to this run;
# its OS user is removed at the end if the test left it.
sandbox_name() {
	eval "$1=t$$$2"
	SANDBOX_NAMES="${SANDBOX_NAMES:-} t$$$2"
}

sandbox_users_cleanup() {
	for n in ${SANDBOX_NAMES:-}; do
		if id "sbx-$n" >/dev/null 2>&1; then
			pkill -KILL -u "sbx-$n" 2>/dev/null
			userdel "sbx-$n" >/dev/null 2>&1
			groupdel "sbx-$n" >/dev/null 2>&1
		fi
	done
}
CLEANUP_HOOKS="$CLEANUP_HOOKS sandbox_users_cleanup"

# ns_peer_setup ADDR4 ADDR6: a second namespace, $NS_PEER, for the
# servers a test reaches, joined to $NS by a veth pair: the peer holds
# ADDR4/24 and ADDR6/64 (their last part 1), $NS the same networks'
# .2 and ::2.  Its servers are remote to $NS, not addresses of its own.
ns_peer_setup() {
	NS_PEER=sbxp$$
	ip netns add "$NS_PEER" || fail "ip netns add $NS_PEER"
	on_exit ns_peer_cleanup
	ip link add "sbxa$$" netns "$NS" type veth peer name "sbxb$$" \
	    netns "$NS_PEER" || fail "veth"
	in_peer ip link set lo up
	in_peer ip link set "sbxb$$" up
	in_ns ip link set "sbxa$$" up
	in_peer ip addr add "$1/24" dev "sbxb$$" || fail "peer address $1"
	in_peer ip addr add "$2/64" dev "sbxb$$" nodad ||
	    fail "peer address $2"
	in_ns ip addr add "${1%.*}.2/24" dev "sbxa$$" || fail "address"
	in_ns ip addr add "${2%::*}::2/64" dev "sbxa$$" nodad ||
	    fail "address"
}

ns_peer_cleanup() {
	ip netns pids "$NS_PEER" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
	ip netns del "$NS_PEER" 2>/dev/null
}

# in_peer CMD...: run CMD inside the peer namespace.
in_peer() {
	ip netns exec "$NS_PEER" "$@"
}

# uid_block LO HI: set UID_LO and UID_HI to a block of HI-LO+1 uids that
# no user or group has and no other running test holds: LO-HI itself,
# else a block at 62000, 62100, ... up to 64999.  A run killed before
# its cleanup leaves its users behind; the next run takes another block
# instead of meeting them.  Blocks are held with a lock directory in
# /tmp named after the block's first uid, removed at the end.
uid_block() {
	ub_n=$(($2 - $1 + 1))
	ub_lo=$1
	while [ $((ub_lo + ub_n - 1)) -le 64999 ]; do
		ub_hi=$((ub_lo + ub_n - 1))
		if uid_block_free "$ub_lo" "$ub_hi" && uid_block_lock "$ub_lo"
		then
			UID_LO=$ub_lo
			UID_HI=$ub_hi
			on_exit uid_block_release
			return 0
		fi
		if [ "$ub_lo" -lt 62000 ]; then
			ub_lo=62000
		else
			ub_lo=$((ub_lo + 100))
		fi
	done
	fail "no free block of $ub_n uids in 62000-64999"
}

# uid_block_free LO HI: no user and no group has an id in LO-HI.
uid_block_free() {
	! { getent passwd; getent group; } |
	    awk -F: -v lo="$1" -v hi="$2" '$3 >= lo && $3 <= hi { f = 1 }
		END { exit !f }'
}

# uid_block_lock LO: take the lock of the block at LO; a lock whose
# holder is gone is taken over (renamed away first, so that only one
# taker wins).
uid_block_lock() {
	d=/tmp/sbxd-uids.$1
	if ! mkdir "$d" 2>/dev/null; then
		h=$(cat "$d/pid" 2>/dev/null)
		[ -n "$h" ] || return 1
		kill -0 "$h" 2>/dev/null && return 1
		mv "$d" "$d.stale.$$" 2>/dev/null || return 1
		rm -rf "$d.stale.$$"
		mkdir "$d" 2>/dev/null || return 1
	fi
	echo $$ >"$d/pid"
	UID_LOCK=$d
}

uid_block_release() {
	rm -rf "${UID_LOCK:-/nonexistent}"
}

# peer_start NAME KIND ADDR PORT [ARGS]: a peer.py server in the peer
# namespace, its output in $T/peer.NAME, once it listens.
peer_start() {
	ps_name=$1
	shift
	(in_peer /usr/bin/python3 "$top_srcdir/tests/regress/peer.py" "$@" \
	    >"$T/peer.$ps_name" 2>&1) &
	PEER_PIDS="$PEER_PIDS $!"
	wait_for grep -q ready "$T/peer.$ps_name" ||
	    fail "peer $ps_name ($*) did not start: $(cat "$T/peer.$ps_name")"
}
