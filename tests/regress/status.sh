# status.sh: sbxd -d starts on a fresh state directory; sbxctl status
# lists every component, as a table and as JSON; the proxy listener takes
# connections; SIGTERM shuts down cleanly and removes the socket.
. "${top_srcdir:-.}/tests/regress/lib.sh"

PORT=$(free_port)
conf_write <<EOF2
policy "default" {
}
proxy listen on 127.0.0.1 port $PORT
EOF2
"$SBXD" -n -f "$CONF" 2>"$T/n.out" || fail "sbxd -n rejected the config"
grep -qx "configuration OK" "$T/n.out" || fail "sbxd -n did not say OK"
start_sbxd

ctl status >"$T/status" || fail "sbxctl status failed"
for c in control events jobs priv store proxy pfmon sandbox bot; do
	grep -Eq "^$c +[a-z]+" "$T/status" || fail "status lacks $c"
done
grep -Eq "^proxy +up" "$T/status" || fail "proxy not up"
grep -Eq "^pfmon +off" "$T/status" || fail "pfmon not off"
grep -Eq "^bot +off" "$T/status" || fail "bot not off"
grep -Eq "^jobs +up +running=0 " "$T/status" || fail "jobs not shown"
grep -Eq "^priv +up .*user=_sbxd" "$T/status" || fail "privilege separation not shown: $(grep ^priv "$T/status")"
grep -q "127.0.0.1:$PORT" "$T/status" || fail "listener not shown"
head -1 "$T/status" | grep -Eq "^sbxd [0-9.]+, pid $SBXD_PID, up " ||
    fail "bad status header: $(head -1 "$T/status")"

ctl -j status >"$T/status.json" || fail "sbxctl -j status failed"
[ "$(json_get '["ok"]' <"$T/status.json")" = true ] || fail "ok not true"
[ "$(json_get '["pid"]' <"$T/status.json")" = "$SBXD_PID" ] ||
    fail "wrong pid"
[ "$(json_get '["components"][5]["name"]' <"$T/status.json")" = proxy ] ||
    fail "components out of order"
[ "$(component store | json_get '["schema_version"]')" = 11 ] ||
    fail "store schema version"

# The listener accepts TCP connections.
python3 - "$PORT" <<'EOF2' || fail "proxy listener does not accept"
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.close()
EOF2

# An unknown command is refused by sbxctl itself.
ctl frobnicate 2>"$T/err" && fail "unknown command accepted"
grep -q 'unknown command "frobnicate"' "$T/err" || fail "no message"

stop_sbxd
[ -e "$SOCK" ] && fail "socket left behind"
log_has "shutting down: SIGTERM" || fail "no shutdown line"
# The store was flushed: the start and stop events are on disk.
python3 - "$STATE/db/sbxd.db" <<'EOF2' || fail "events not stored"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
types = [r[0] for r in db.execute("SELECT type FROM events ORDER BY id")]
assert types[0] == "sbxd.started", types
assert types[-1] == "sbxd.stopping", types
EOF2
pass
