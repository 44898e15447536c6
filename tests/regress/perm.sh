# perm.sh: the control socket is mode 0660 with the control group; a
# member may use it, a non-member may not.  Even with the socket opened
# to everybody, the daemon refuses a non-member by its peer credentials
# and publishes control.denied.  Needs root (groupadd, setpriv).
. "${top_srcdir:-.}/tests/regress/lib.sh"
need_root
command -v setpriv >/dev/null || skip "setpriv missing"

GROUP=sbxt$$
groupadd "$GROUP" || fail "groupadd"
drop_group() { groupdel "$GROUP" 2>/dev/null; }
on_exit drop_group
GID=$(getent group "$GROUP" | cut -d: -f3)
NOBODY=$(id -u nobody)
NOGROUP=$(id -g nobody)

conf_write <<EOF2
control group "$GROUP"
EOF2
start_sbxd

[ "$(stat -c %a "$SOCK")" = 660 ] || fail "socket mode $(stat -c %a "$SOCK")"
[ "$(stat -c %G "$SOCK")" = "$GROUP" ] || fail "socket group"

as_member() {
	setpriv --reuid="$NOBODY" --regid="$NOGROUP" --groups="$GID" "$@"
}
as_other() {
	setpriv --reuid="$NOBODY" --regid="$NOGROUP" --clear-groups "$@"
}

as_member "$SBXCTL" -s "$SOCK" status >/dev/null ||
    fail "a member of the control group was refused"
as_other "$SBXCTL" -s "$SOCK" status 2>"$T/err" &&
    fail "a non-member was let in"
grep -q "Permission denied" "$T/err" || fail "no refusal: $(cat "$T/err")"

# Loosen the socket: the daemon still checks the peer.
"$SBXCTL" -s "$SOCK" events >"$T/events.txt" 2>&1 &
FOLLOW=$!
wait_for followers_at_least 1 || fail "the events follower did not connect"
chmod 0666 "$SOCK"
as_other "$SBXCTL" -s "$SOCK" status 2>"$T/err" &&
    fail "a non-member was let in through a 0666 socket"
grep -q "permission denied: uid $NOBODY is not root or in group $GROUP" \
    "$T/err" || fail "daemon refusal: $(cat "$T/err")"
wait_for grep -q "control.denied uid=$NOBODY" "$T/events.txt" ||
    fail "no control.denied event"
log_has "control: refused permission denied: uid $NOBODY" ||
    fail "refusal not logged"
[ "$(component control | json_get '["denied"]')" = 1 ] ||
    fail "denied counter"
kill -INT $FOLLOW

# Without a control group, only root.
conf_write <<EOF2
EOF2
ctl reload || fail "reload"
[ "$(stat -c %a "$SOCK")" = 600 ] || fail "socket mode after reload"
chmod 0666 "$SOCK"
as_member "$SBXCTL" -s "$SOCK" status 2>"$T/err" &&
    fail "former member let in after the group was removed"
grep -q "no control group is set" "$T/err" || fail "$(cat "$T/err")"
pass
