# sandbox.sh: the sandbox lifecycle end to end, inside a network
# namespace this test creates.  sbxd runs there with nftables and pfmon
# on an NFLOG group; an HTTP and a TLS server listen on a private
# address of the namespace.  A restricted sandbox reaches the allowed name through its
# proxy and nothing else: a blocked name is a 403 and a proxy.block
# event; direct TCP, UDP, IPv6 and other loopback ports are dropped and
# seen by pfmon.  sbxctl allow opens a name at once; a restart restores
# rules and listeners, and while sbxd is down the sandbox has no network;
# an unrestricted sandbox has no proxy settings; the sandbox user cannot
# read other homes, the state, the database or the socket, nor sudo;
# rm removes user, home and rules.  Needs root.
. "${top_srcdir:-.}/tests/regress/lib.sh"
need_root
for t in ip nft curl openssl python3 runuser; do
	command -v $t >/dev/null || skip "needs $t"
done

GROUP=$((4000 + $$ % 1000))
SRV=10.213.0.1
SRV6=fd00:213::1
uid_block 60800 60899
UIDS="$UID_LO $UID_HI"
sandbox_name RT1 rt
sandbox_name OP1 op

# as_user NAME CMD...: CMD as the sandbox's user through sbxctl exec.
as_user() {
	n=$1
	shift
	ctl exec "$n" -- "$@"
}

# event_has TYPE PYTHON-CONDITION: an event of TYPE matching the
# condition on e arrives within 10 seconds.
event_has() {
	wait_for python3 -c "import json, sys
for l in open('$T/events'):
    try:
        e = json.loads(l)
    except ValueError:
        continue
    if e.get('type') == '$1' and ($2):
        sys.exit(0)
sys.exit(1)"
}

# The servers are in a namespace of their own, reached through a link.
ns_setup
ns_peer_setup "$SRV" "$SRV6"

mkdir -p "$T/pub" && chmod 0755 "$T/pub"
cat >"$T/hosts" <<EOF2
$SRV allowed.test blocked.test
EOF2
make_cert allowed.test blocked.test
cp "$T/cert.pem" "$T/pub/cert.pem" && chmod 0644 "$T/pub/cert.pem"
(cd "$T" && in_peer python3 "$top_srcdir/tests/regress/peer.py" http "$SRV" \
    80 >"$T/peer.http" 2>&1) &
PEER_PIDS="$PEER_PIDS $!"
(in_peer python3 "$top_srcdir/tests/regress/peer.py" tls "$SRV" 443 \
    "$T/cert.pem" "$T/key.pem" >"$T/peer.tls" 2>&1) &
PEER_PIDS="$PEER_PIDS $!"
(in_peer python3 "$top_srcdir/tests/regress/peer.py" http "$SRV6" 80 \
    >"$T/peer.http6" 2>&1) &
PEER_PIDS="$PEER_PIDS $!"
wait_for grep -q ready "$T/peer.http" || fail "http peer"
wait_for grep -q ready "$T/peer.tls" || fail "tls peer"

conf_write <<EOF2
resolver hosts-file "$T/hosts"
policy "default" {
	default block
	private yes
	allow "allowed.test"
}
pfmon interface "nflog:$GROUP"
pfmon window 1
sandbox uid-range $UIDS
sandbox port-range 800 849
sandbox home "$T/home"
sandbox shell "/bin/sh"
sandbox firewall nftables table "sbxd"
EOF2

start_ns_sbxd

# Restricted unless asked open; both at once is a usage error.
ctl create $RT1 --open --restrict-network >"$T/out" 2>&1 &&
    fail "create with --open and --restrict-network"
grep -q "usage: .*create" "$T/out" || fail "no usage: $(cat "$T/out")"
id "sbx-$RT1" >/dev/null 2>&1 && fail "a refused create made a user"
# A restricted sandbox, as create makes it by default.
ctl create $RT1 >"$T/out" 2>&1 || {
	cat "$T/out"; fail "create $RT1"; }
grep -q "ready" "$T/out" || fail "create $RT1 does not say ready"
ctl -j show $RT1 >"$T/show" || fail "show $RT1"
U1=$(json_get '["sandbox"]["uid"]' <"$T/show")
P1=$(json_get '["sandbox"]["port"]' <"$T/show")
[ "$(id -u sbx-$RT1)" = "$U1" ] || fail "OS user sbx-$RT1 has not uid $U1"
[ "$(id -g sbx-$RT1)" = "$U1" ] || fail "sbx-$RT1's group is not gid $U1"
[ "$(getent group "$U1" | cut -d: -f1)" = "sbx-$RT1" ] ||
    fail "group $U1 is not sbx-$RT1"
[ "$(json_get '["sandbox"]["restricted"]' <"$T/show")" = true ] ||
    fail "create without --open made an open sandbox"
[ "$(stat -c '%a %u' "$T/home/$RT1")" = "700 $U1" ] ||
    fail "home of $RT1 is not 0700 and its own"
event_has sandbox.created "e.get('sandbox') == '$RT1'" ||
    fail "no sandbox.created event"
in_ns nft list chain inet sbxd "uid_$U1" >/dev/null ||
    fail "no firewall chain for uid $U1"

# Through the proxy: the allowed name over http and https.
[ "$(as_user $RT1 curl -sS --max-time 10 http://allowed.test/)" = hello ] ||
    fail "http to the allowed name through the proxy"
[ "$(as_user $RT1 curl -sS --max-time 10 --cacert "$T/pub/cert.pem" \
    https://allowed.test/)" = hello ] ||
    fail "https to the allowed name through the proxy"
code=$(as_user $RT1 curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
    http://blocked.test/)
[ "$code" = 403 ] || fail "blocked name: $code, want 403"
event_has proxy.block "e.get('sandbox') == '$RT1' and 'blocked.test' in \
json.dumps(e)" || fail "no proxy.block event naming $RT1"

# Around the proxy: all dropped, all seen by pfmon.
as_user $RT1 curl -sS --noproxy '*' --max-time 3 "http://$SRV/" \
    >/dev/null 2>&1 && fail "direct TCP to $SRV got through"
event_has pfmon.block "e.get('sandbox') == '$RT1' and e.get('uid') == $U1 \
and e.get('dst') == '$SRV' and e.get('dport') == 80 and \
e.get('proto') == 'tcp'" || fail "no pfmon.block for direct TCP"
as_user $RT1 python3 -c "import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    s.sendto(b'x', ('$SRV', 53))
except OSError:
    pass" >/dev/null 2>&1
event_has pfmon.block "e.get('sandbox') == '$RT1' and e.get('proto') == \
'udp' and e.get('dport') == 53" || fail "no pfmon.block for UDP to 53"
as_user $RT1 curl -sS --noproxy '*' --max-time 3 "http://[$SRV6]/" \
    >/dev/null 2>&1 && fail "IPv6 got through"
event_has pfmon.block "e.get('sandbox') == '$RT1' and e.get('family') == \
'inet6' and e.get('dport') == 80" || fail "no pfmon.block for IPv6"
as_user $RT1 curl -sS --noproxy '*' --max-time 3 "http://127.0.0.1:$((P1 + 1))/" \
    >/dev/null 2>&1 && fail "another loopback port got through"
event_has pfmon.block "e.get('sandbox') == '$RT1' and e.get('dst') == \
'127.0.0.1' and e.get('dport') == $((P1 + 1))" ||
    fail "no pfmon.block for another loopback port"

# sbxctl allow opens the blocked name at once.
ctl allow $RT1 blocked.test >/dev/null || fail "allow $RT1 blocked.test"
[ "$(as_user $RT1 curl -sS --max-time 10 http://blocked.test/)" = hello ] ||
    fail "allowed name still blocked"

# An unrestricted sandbox: no proxy settings, no rules.
ctl create $OP1 --open >/dev/null 2>&1 || fail "create $OP1"
U2=$(ctl -j show $OP1 | json_get '["sandbox"]["uid"]')
as_user $OP1 env >"$T/env.$OP1" || fail "exec $OP1 env"
grep -qi "_proxy=" "$T/env.$OP1" && fail "$OP1 has proxy variables"
as_user $OP1 /bin/sh -c '. ~/.sbx/env.sh; env' | grep -qi "_proxy=" &&
    fail "$OP1's profile sets a proxy"
as_user $RT1 /bin/sh -c '. ~/.sbx/env.sh; env' | grep -q \
    "^HTTP_PROXY=http://127.0.0.1:$P1$" || fail "$RT1's profile has no proxy"
in_ns nft list chain inet sbxd "uid_$U2" >/dev/null 2>&1 &&
    fail "$OP1 has firewall rules"

# What a sandbox user must not reach.
as_user $RT1 ls "$T/home/$OP1" >/dev/null 2>&1 && fail "$RT1 reads $OP1's home"
as_user $RT1 ls "$STATE" >/dev/null 2>&1 && fail "$RT1 reads the state"
as_user $RT1 cat "$STATE/db/sbxd.db" >/dev/null 2>&1 && fail "$RT1 reads the db"
as_user $RT1 "$SBXCTL" -s "$SOCK" status >/dev/null 2>&1 &&
    fail "$RT1 uses the control socket"
if command -v sudo >/dev/null; then
	as_user $RT1 sudo -n true >/dev/null 2>&1 && fail "$RT1 can sudo"
fi
id -Gn sbx-$RT1 | grep -Eqw 'sudo|wheel|adm|root' &&
    fail "sbx-$RT1 is in an admin group"

# While sbxd is down the sandbox has no network; a restart restores all.
stop_sbxd
in_ns nft list chain inet sbxd "uid_$U1" >/dev/null ||
    fail "rules went with the daemon"
in_ns runuser -u sbx-$RT1 -- curl -sS --noproxy '*' --max-time 3 \
    "http://$SRV/" >/dev/null 2>&1 && fail "network open while sbxd is down"
in_ns nft flush chain inet sbxd "uid_$U1"
start_ns_sbxd
wait_for sh -c "\"$SBXCTL\" -s \"$SOCK\" list | grep -q '$RT1 *ready'" ||
    fail "$RT1 not ready after restart"
in_ns nft list chain inet sbxd "uid_$U1" | grep -q "reject with icmpx" ||
    fail "restart did not restore the rules"
[ "$(as_user $RT1 curl -sS --max-time 10 http://blocked.test/)" = hello ] ||
    fail "runtime rule lost across the restart"
ctl network $RT1 >"$T/net" || { cat "$T/net"; fail "network $RT1"; }
grep -q "$RT1.*up.*ok" "$T/net" || { cat "$T/net"; fail "network $RT1 health"; }
ctl doctor >"$T/doctor" || { cat "$T/doctor"; fail "doctor"; }
grep -q FAIL "$T/doctor" && { cat "$T/doctor"; fail "doctor finds a fault"; }

# Rules gone behind sbxd's back: network and doctor say so and fail,
# with -j too; doctor says how to fix it.
in_ns nft flush chain inet sbxd "uid_$U1"
ctl network $RT1 >"$T/net" 2>&1 && fail "network passes with no rules"
grep -Eq "^$RT1 .* ok$" "$T/net" && fail "network reports ok: $(cat "$T/net")"
ctl -j network $RT1 >/dev/null 2>&1 && fail "network -j passes with no rules"
ctl doctor >"$T/doctor" 2>&1 && fail "doctor passes with no rules"
grep -q "FAIL *$RT1: firewall rules" "$T/doctor" ||
    fail "doctor: $(cat "$T/doctor")"
grep -q "fix: " "$T/doctor" || fail "doctor gives no fix"
ctl -j doctor >/dev/null 2>&1 && fail "doctor -j passes with no rules"

# A process of the sandbox keeps running; rm stops it and removes all.
as_user $RT1 /bin/sh -c 'sleep 300 </dev/null >/dev/null 2>&1 &'
pgrep -u "$U1" >/dev/null || fail "no background process to stop"
ctl rm $RT1 >"$T/rm" 2>&1 || { cat "$T/rm"; fail "rm $RT1"; }
# (a killed orphan may stay a zombie until its reaper runs)
ps -u "$U1" -o stat= | grep -qv '^Z' && fail "a process of $RT1 survived rm"
id sbx-$RT1 >/dev/null 2>&1 && fail "user sbx-$RT1 survived rm"
[ -e "$T/home/$RT1" ] && fail "home of $RT1 survived rm"
in_ns nft list chain inet sbxd "uid_$U1" >/dev/null 2>&1 &&
    fail "rules of $RT1 survived rm"
ctl list | grep -q $RT1 && fail "$RT1 still listed"
ctl rm $OP1 >/dev/null 2>&1 || fail "rm $OP1"
event_has sandbox.removed "e.get('sandbox') == '$OP1'" ||
    fail "no sandbox.removed event"
pass
