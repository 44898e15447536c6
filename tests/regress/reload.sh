# reload.sh: sbxctl reload and SIGHUP apply a good config (a new listener
# opens, a removed one closes); a broken config is refused with every
# error as file:line, and the daemon keeps serving the old one.
. "${top_srcdir:-.}/tests/regress/lib.sh"

P1=$(free_port)
P2=$(free_port)
conf_write <<EOF2
policy "default" {
}
proxy listen on 127.0.0.1 port $P1
EOF2
start_sbxd

listening() {
	python3 -c "import socket
socket.create_connection(('127.0.0.1', $1), timeout=2).close()"
}

# A good config: add a second listener with another policy.
conf_write <<EOF2
policy "default" {
}
policy "second" {
}
proxy listen on 127.0.0.1 port $P1
proxy listen on 127.0.0.1 port $P2 policy "second"
log level debug
EOF2
ctl reload || fail "reload of a good config failed"
listening $P2 || fail "new listener not open"
component proxy | grep -q "\"127.0.0.1:$P2\", \"policy\": \"second\"" ||
    fail "new listener not in status"
[ "$(ctl -j status | json_get '["log_level"]')" = debug ] ||
    fail "log level not applied"

# A broken config: every error reported, nothing changed.
cat >"$CONF.bad" <<EOF2
state "$STATE"
control socket "$SOCK"
policy "default" {
}
proxy listen on 127.0.0.1 port $P1
frobnicate
proxy listen on 127.0.0.1 port 99999
EOF2
cp "$CONF" "$CONF.good"
cp "$CONF.bad" "$CONF"
ctl reload >"$T/out" 2>"$T/err" && fail "reload of a broken config succeeded"
grep -q "configuration has errors; the running configuration is kept" \
    "$T/err" || fail "no refusal message: $(cat "$T/err")"
grep -qx "$CONF:6: unknown keyword \"frobnicate\"" "$T/err" ||
    fail "first error missing: $(cat "$T/err")"
grep -qx "$CONF:7: port 99999 out of range (1-65535)" "$T/err" ||
    fail "second error missing"
listening $P2 || fail "old listener closed by a failed reload"
ctl status >/dev/null || fail "daemon not serving after failed reload"

# SIGHUP with the broken config: errors logged, still serving.
kill -HUP "$SBXD_PID"
wait_for log_has "reload failed: 2 errors" || fail "SIGHUP errors not logged"
log_has "$CONF:6: unknown keyword" || fail "SIGHUP error line not logged"
listening $P1 || fail "listener lost after SIGHUP"

# Back to a config without the second listener: it closes.
conf_write <<EOF2
policy "default" {
}
proxy listen on 127.0.0.1 port $P1
EOF2
kill -HUP "$SBXD_PID"
wait_for log_has "closing listener 127.0.0.1:$P2" || fail "listener kept"
listening $P2 && fail "removed listener still accepts"

# A change to the state directory needs a restart and says so.
sed -i "s|^state .*|state \"$T/other\"|" "$CONF"
ctl reload || fail "reload with a new state failed"
log_has "state $T/other takes effect after a restart" ||
    fail "restart-only setting not reported"
[ ! -e "$T/other" ] || fail "new state directory used without restart"
stop_sbxd
pass
