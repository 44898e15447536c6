# events.sh: sbxctl events follows the event stream (readable and JSON),
# replays stored events with -n, and ends cleanly when interrupted.
. "${top_srcdir:-.}/tests/regress/lib.sh"

conf_write <<EOF2
EOF2
start_sbxd

"$SBXCTL" -s "$SOCK" events >"$T/events.txt" 2>&1 &
F1=$!
"$SBXCTL" -s "$SOCK" -j events >"$T/events.json" 2>&1 &
F2=$!
two_followers() {
	[ "$(component control | json_get '["followers"]')" = 2 ]
}
wait_for two_followers || fail "followers not registered"

ctl reload || fail "reload failed"
wait_for grep -q "sbxd.reload" "$T/events.txt" || fail "no readable event"
wait_for grep -q "sbxd.reload" "$T/events.json" || fail "no JSON event"
grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{3}Z sbxd\.reload ok=true' \
    "$T/events.txt" || fail "readable line: $(cat "$T/events.txt")"
python3 - "$T/events.json" <<'EOF2' || fail "JSON event lines"
import json, re, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
ev = [e for e in lines if e["type"] == "sbxd.reload"][0]
assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", ev["time"])
assert list(ev)[:2] == ["time", "type"], list(ev)
assert ev["ok"] is True
EOF2

# Interrupted, sbxctl exits 0; the daemon drops the follower.
kill -INT $F1
wait $F1 || fail "sbxctl events did not exit 0 on SIGINT"
kill -INT $F2
wait $F2

# -n replays the last stored events, then follows.
"$SBXCTL" -s "$SOCK" -j events -n 2 >"$T/replay.json" 2>&1 &
F3=$!
wait_for grep -q "sbxd.reload" "$T/replay.json" || fail "no replay"
[ "$(head -1 "$T/replay.json" | json_get '["type"]')" = sbxd.started ] ||
    fail "replay order: $(cat "$T/replay.json")"
kill -INT $F3
wait $F3
ctl events -n x 2>/dev/null && fail "bad count accepted"

# When the daemon stops, a follower ends.
"$SBXCTL" -s "$SOCK" events >"$T/last.txt" 2>&1 &
F4=$!
sleep 0.3
stop_sbxd
wait $F4
grep -q "sbxd.stopping" "$T/last.txt" || fail "stop event not followed"
pass
