# harden_state.sh: nobody but sbxd lists the state directory.  One made
# 0755 by hand is 0711 after start (a sandbox passes through to its home
# and the engine to its database directory, but nobody lists it); the
# database directory is the engine's (_sbxd, 0700) and nobody else's;
# one owned by another user is refused, saying why.
# Needs root (a namespace, users).
. "${top_srcdir:-.}/tests/regress/lib.sh"
need_root
for t in ip nft useradd setpriv; do
	command -v $t >/dev/null || skip "needs $t"
done
ns_setup
sandbox_name A a
mkdir -m 0755 "$STATE"
uid_block 60690 60699
conf_write <<EOF2
policy "default" {
}
sandbox uid-range $UID_LO $UID_HI
sandbox port-range 910 919
sandbox home "$STATE/home"
sandbox shell "/bin/sh"
sandbox firewall nftables table "sbxt$$"
EOF2
start_ns_sbxd
[ "$(stat -c %a "$STATE")" = 711 ] ||
    fail "state directory mode $(stat -c %a "$STATE"), not 711"
grep -q "state directory $STATE: mode 0755 made 0711" "$LOG" ||
    fail "the change is not logged"
ctl create "$A" >/dev/null || fail "create $A"
ctl exec "$A" -- sh -c 'echo hi >~/f && cat ~/f' >"$T/out" 2>&1 ||
    fail "the sandbox cannot use its home: $(cat "$T/out")"
grep -qx hi "$T/out" || fail "home: $(cat "$T/out")"
ctl exec "$A" -- ls "$STATE" >"$T/out" 2>&1 &&
    fail "a sandbox lists the state directory: $(cat "$T/out")"
grep -q "Permission denied" "$T/out" || fail "ls state: $(cat "$T/out")"
ctl exec "$A" -- ls "$STATE/home" >"$T/out" 2>&1 &&
    fail "a sandbox lists the homes: $(cat "$T/out")"
ctl exec "$A" -- cat "$STATE/db/sbxd.db" >/dev/null 2>&1 &&
    fail "a sandbox reads the database"
ctl rm "$A" >/dev/null || fail "rm $A"
stop_sbxd

# Homes elsewhere: the engine still passes through, to its own.
chmod 0755 "$STATE"
sed -i "s|sandbox home \"$STATE/home\"|sandbox home \"$T/home\"|" "$CONF"
start_ns_sbxd
[ "$(stat -c %a "$STATE")" = 711 ] ||
    fail "state directory mode $(stat -c %a "$STATE"), not 711"
[ "$(stat -c '%U %a' "$STATE/db")" = "_sbxd 700" ] ||
    fail "database directory: $(stat -c '%U %a' "$STATE/db")"
[ "$(stat -c '%U %a' "$STATE/db/sbxd.db")" = "_sbxd 600" ] ||
    fail "database: $(stat -c '%U %a' "$STATE/db/sbxd.db")"
setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups \
    ls "$STATE" >/dev/null 2>&1 && fail "nobody lists the state directory"
setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups \
    ls "$STATE/db" >/dev/null 2>&1 && fail "nobody lists the database's"
stop_sbxd

# Another user's state directory is not ours to use.
chown nobody "$STATE"
ip netns exec "$NS" "$SBXD" -d -f "$CONF" >"$T/start.out" 2>&1 &&
    fail "sbxd started on another user's state directory"
grep -q "state directory $STATE is owned by uid $(id -u nobody), not by sbxd's (uid 0)" \
    "$T/start.out" || fail "refusal: $(cat "$T/start.out")"
chown root "$STATE"
pass
