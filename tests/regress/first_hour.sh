# first_hour.sh: a newcomer's first hour, on the configuration sbxd
# ships.  It passes "sbxd -n"; run with the test's own paths (state,
# socket, table, NFLOG group, ports, uids) and the agents policy
# allowing private addresses (the test's servers are in a namespace of
# private addresses), it starts, and a sandbox created with no option is
# restricted.  A blocked name gets a 403 and a line in the sandbox's
# ~/.sbx/blocked.log whose command, run as written, lets the same
# request through; a link put in its place is not written through.  A
# direct connection, as ssh makes, is refused within
# a second, raises one pfmon.block and its own blocked.log line; ssh,
# through its ProxyCommand, gets the proxy's refusal at once.  A
# development server in the sandbox answers root.  rm removes it all.
# Needs root (namespaces, users, nftables, NFLOG).
. "${top_srcdir:-.}/tests/regress/lib.sh"
need_root
for t in ip nft curl useradd; do
	command -v $t >/dev/null || skip "needs $t"
done
SHIPPED=${top_builddir:-.}/etc/sbxd.conf
[ -f "$SHIPPED" ] || fail "no $SHIPPED: configure makes it"
PY=/usr/bin/python3	# not a per-user install: the sandbox runs it

# The shipped configuration is valid as it is.
"$SBXD" -n -f "$SHIPPED" >"$T/n" 2>&1 || fail "sbxd -n: $(cat "$T/n")"
grep -q '^sandbox uid-range' "$SHIPPED" || fail "no sandboxes shipped"
grep -q '^pfmon interface' "$SHIPPED" || fail "no pfmon shipped"
grep -q '^policy "agents"' "$SHIPPED" || fail "no agents policy shipped"

SRV=10.214.0.1
ns_setup
ns_peer_setup "$SRV" fd00:214::1
sandbox_name SB a
GROUP=$((6000 + $$ % 1000))
uid_block 61060 61079
LP=$(free_port)
cat >"$T/hosts" <<EOF2
$SRV allowed.test blocked.test
EOF2
peer_start http http "$SRV" 80

# The shipped file with the test's own paths and numbers, its policy
# told about the test's private addresses and names.
sed -e '/^state_dir =/d' -e '/^state /d' -e '/^control socket/d' \
    -e "s/nflog:[0-9]*/nflog:$GROUP/" \
    -e "s/^sandbox uid-range .*/sandbox uid-range $UID_LO $UID_HI/" \
    -e "s/^sandbox port-range .*/sandbox port-range 980 989/" \
    -e "s/table \"sbxd\"/table \"sbxt$$\"/" \
    -e "s/port 3128/port $LP/" \
    -e 's/^\tallow ".github.com".*/\tprivate yes\n\tallow "allowed.test"/' \
    "$SHIPPED" >"$T/body"
{
	echo "resolver hosts-file \"$T/hosts\""
	echo "pfmon window 1"
	cat "$T/body"
} | conf_write
grep -q 'allow "allowed.test"' "$CONF" || fail "the agents policy moved"
start_ns_sbxd

# Restricted by default.
ctl create "$SB" >"$T/out" 2>&1 || { cat "$T/out"; fail "create $SB"; }
[ "$(ctl -j show "$SB" | json_get '["sandbox"]["restricted"]')" = true ] ||
    fail "create made an open sandbox"
P=$(ctl -j show "$SB" | json_get '["sandbox"]["port"]')
U=$(ctl -j show "$SB" | json_get '["sandbox"]["uid"]')
[ "$(ctl exec "$SB" -- curl -sS --max-time 10 http://allowed.test/)" = \
    hello ] || fail "the allowed name"

# A 403, and the advice in blocked.log, run as written.
code=$(ctl exec "$SB" -- curl -s -o /dev/null -w '%{http_code}' \
    --max-time 10 http://blocked.test/)
[ "$code" = 403 ] || fail "blocked.test: $code, not 403"
BL=$STATE/home/$SB/.sbx/blocked.log
wait_for grep -q "proxy GET blocked.test:80 blocked" "$BL" ||
    fail "no blocked.log line: $(cat "$BL" 2>&1)"
[ "$(stat -c '%U %a' "$BL")" = "sbx-$SB 644" ] ||
    fail "blocked.log is not the sandbox's: $(stat -c '%U %a' "$BL")"
ctl exec "$SB" -- cat .sbx/blocked.log >/dev/null ||
    fail "the sandbox cannot read its blocked.log"
cmd=$(grep "proxy GET blocked.test:80" "$BL" | tail -1 |
    sed -n 's/.*\(sbxctl allow [^ "]*  *[^ "]*\).*/\1/p')
[ -n "$cmd" ] || fail "no command in: $(cat "$BL")"
case $cmd in
"sbxctl allow $SB blocked.test:80"|"sbxctl allow $SB blocked.test") ;;
*) fail "wrong advice: $cmd" ;;
esac
# shellcheck disable=SC2086
"$SBXCTL" -s "$SOCK" ${cmd#sbxctl } >/dev/null || fail "$cmd"
[ "$(ctl exec "$SB" -- curl -sS --max-time 10 http://blocked.test/)" = \
    hello ] || fail "blocked.test after \"$cmd\""

# Direct, as ssh would: refused within a second, one pfmon.block.
ctl exec "$SB" -- "$PY" -c 'import socket, sys, time
t = time.monotonic()
s = socket.socket()
s.settimeout(20)
try:
    s.connect((sys.argv[1], 22))
    print("connected")
except socket.timeout:
    print("timeout")
except OSError as e:
    print("error", e.errno, "%.3f" % (time.monotonic() - t))' "$SRV" \
    >"$T/direct" 2>&1
read -r what errno took <"$T/direct"
[ "$what $errno" = "error 111" ] ||
    fail "direct TCP not refused: $(cat "$T/direct")"
awk -v t="$took" 'BEGIN { exit !(t < 1) }' ||
    fail "direct TCP refused after $took s"
# ssh goes through the proxy (its ProxyCommand), which refuses port 22
# at once and says why.
if command -v ssh >/dev/null; then
	start=$(date +%s)
	ctl exec "$SB" -- ssh -o BatchMode=yes -o ConnectTimeout=30 \
	    -o StrictHostKeyChecking=no "$SRV" true >"$T/ssh" 2>&1 &&
	    fail "ssh connected"
	grep -q "sbxd proxy: HTTP/1.1 403" "$T/ssh" ||
	    fail "ssh: $(cat "$T/ssh")"
	[ $(($(date +%s) - start)) -le 5 ] || fail "ssh took long to fail"
fi
wait_for python3 -c "import json, sys
n = 0
for l in open('$T/events'):
    e = json.loads(l)
    if (e.get('type') == 'pfmon.block' and e.get('sandbox') == '$SB' and
        e.get('dst') == '$SRV' and e.get('dport') == 22):
        n += 1
sys.exit(0 if n >= 1 else 1)" || fail "no pfmon.block for the direct flow"
wait_for grep -q "kernel tcp $SRV:22 blocked (direct): only the proxy http://127.0.0.1:$P is reachable" "$BL" ||
    fail "no blocked.log line for the direct flow: $(cat "$BL")"

# The sandbox puts a link where its blocked.log was: a block then
# writes nothing through it.
echo "root's" >"$T/victim"
chmod 0644 "$T/victim"
ctl exec "$SB" -- sh -c "rm .sbx/blocked.log && ln -s $T/victim \
    .sbx/blocked.log" || fail "the sandbox could not replace its log"
code=$(ctl exec "$SB" -- curl -s -o /dev/null -w '%{http_code}' \
    --max-time 10 http://blocked.test:8080/)
[ "$code" = 403 ] || fail "blocked.test:8080: $code, not 403"
[ "$(cat "$T/victim")" = "root's" ] ||
    fail "a block wrote through the sandbox's link: $(cat "$T/victim")"
ctl exec "$SB" -- sh -c "rm .sbx/blocked.log" || fail "rm the link"

# A development server in the sandbox answers root.
ctl exec "$SB" -- sh -c "cd /tmp && setsid $PY -m http.server 8765 \
    --bind 127.0.0.1 >/dev/null 2>&1 </dev/null &" ||
    fail "start the development server"
wait_for in_ns curl -sf --max-time 2 http://127.0.0.1:8765/ ||
    fail "root does not reach the sandbox's development server"

echo "--- $BL"
cat "$BL"
ctl rm "$SB" >/dev/null || fail "rm $SB"
id "sbx-$SB" >/dev/null 2>&1 && fail "rm left the user"
[ -e "$STATE/home/$SB" ] && fail "rm left the home"
in_ns nft list chain inet "sbxt$$" "uid_$U" >/dev/null 2>&1 &&
    fail "rm left the chain"
stop_sbxd
pass
