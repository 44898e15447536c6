# daemon.sh: without -d sbxd forks, writes its pidfile, and the starting
# command exits 0 once it is up (1 with the reason when startup fails).
# A second sbxd on the same pidfile, state directory or socket refuses to
# start and says why.  SIGTERM removes the pidfile and the socket.
. "${top_srcdir:-.}/tests/regress/lib.sh"

PORT=$(free_port)
conf_write <<EOF2
policy "default" {
}
proxy listen on 127.0.0.1 port $PORT
EOF2
"$SBXD" -f "$CONF" 2>"$T/start.err" || fail "start: $(cat "$T/start.err")"
[ -s "$T/sbxd.pid" ] || fail "no pidfile"
PID=$(cat "$T/sbxd.pid")
kill -0 "$PID" || fail "pid $PID not running"
ctl status | head -1 | grep -q "pid $PID," || fail "status pid"
stop_daemon() { kill "$PID" 2>/dev/null; }
on_exit stop_daemon

# Same pidfile.
"$SBXD" -f "$CONF" 2>"$T/err" && fail "second daemon started"
grep -q "pidfile $T/sbxd.pid is locked by pid $PID: sbxd is already running" \
    "$T/err" || fail "pidfile refusal: $(cat "$T/err")"

# Same state directory, other pidfile and socket.
sed -e "s|$T/sbxd.pid|$T/other.pid|" -e "s|$SOCK|$T/other.sock|" \
    -e "/proxy listen/d" "$CONF" >"$T/state.conf"
"$SBXD" -d -f "$T/state.conf" 2>"$T/err" && fail "second daemon on state"
grep -q "state directory $STATE is in use by another sbxd (pid $PID)" \
    "$T/err" || fail "state refusal: $(cat "$T/err")"

# Same socket, other state.
sed -e "s|$STATE|$T/state2|" -e "/proxy listen/d" "$CONF" >"$T/sock.conf"
"$SBXD" -d -f "$T/sock.conf" 2>"$T/err" && fail "second daemon on socket"
grep -q "control socket $SOCK is in use: another sbxd is running" \
    "$T/err" || fail "socket refusal: $(cat "$T/err")"
ctl status >/dev/null || fail "first daemon harmed by the refusals"

# A daemon that cannot start reports it to the starting command.
sed -e "s|$STATE|$T/state3|" -e "s|$T/sbxd.pid|$T/p3.pid|" \
    -e "s|$SOCK|$T/s3.sock|" "$CONF" >"$T/busy.conf"
"$SBXD" -f "$T/busy.conf" 2>"$T/err" && fail "started on a busy port"
grep -q "proxy listen on 127.0.0.1:$PORT: Address already in use" \
    "$T/err" || fail "busy port: $(cat "$T/err")"
[ -e "$T/p3.pid" ] && fail "failed start left its pidfile"
[ -e "$T/s3.sock" ] && fail "failed start left its socket"

kill -TERM "$PID"
i=0
while kill -0 "$PID" 2>/dev/null && [ $i -lt 100 ]; do
	sleep 0.1; i=$((i + 1))
done
kill -0 "$PID" 2>/dev/null && fail "daemon did not stop"
[ -e "$T/sbxd.pid" ] && fail "pidfile left behind"
[ -e "$SOCK" ] && fail "socket left behind"
pass
