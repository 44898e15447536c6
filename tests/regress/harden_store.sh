# harden_store.sh: the store and the host agree.  With the state disk
# full, create and allow fail, saying so, and leave nothing behind: no
# user, no home, no rule.  With sbxd.db lost, the sandboxes' users come
# back as failed orphans, cut off from the network, that doctor reports
# with the command that removes them and rm removes; firewall rules of a
# uid that has nothing are removed at start.  Needs root (a namespace,
# users, a tmpfs).
. "${top_srcdir:-.}/tests/regress/lib.sh"
need_root
for t in ip nft useradd mount; do
	command -v $t >/dev/null || skip "needs $t"
done
ns_setup
sandbox_name A a
sandbox_name B b
TABLE=sbxt$$
uid_block 61010 61019
conf_write <<EOF2
policy "default" {
}
sandbox uid-range $UID_LO $UID_HI
sandbox port-range 930 939
sandbox home "$T/home"
sandbox shell "/bin/sh"
sandbox firewall nftables table "$TABLE"
EOF2
mkdir -m 0700 "$STATE"
mount -t tmpfs -o size=4m,mode=0700 tmpfs "$STATE" || fail "mount"
unmount_state() { umount "$STATE" 2>/dev/null; }
on_exit unmount_state
start_ns_sbxd

ctl create "$A" --restrict-network >/dev/null || fail "create $A"
UA=$(ctl -j show "$A" | json_get '["sandbox"]["uid"]')

# The disk fills up.
dd if=/dev/zero of="$STATE/fill" bs=64k >/dev/null 2>&1
ctl create "$B" >"$T/out" 2>&1 && fail "create $B on a full disk said ok"
grep -q "the store did not take" "$T/out" || fail "create: $(cat "$T/out")"
getent passwd "sbx-$B" >/dev/null && fail "$B's user was left behind"
[ -e "$T/home/$B" ] && fail "$B's home was left behind"
ctl list | grep -q "$B" && fail "$B is listed: $(ctl list)"
ctl allow "$A" x.test >"$T/out" 2>&1 && fail "allow on a full disk said ok"
grep -q "the store did not take it" "$T/out" || fail "allow: $(cat "$T/out")"
ctl -j rules "$A" | grep -q x.test && fail "an unstored rule applies"
rm -f "$STATE/fill"
ctl create "$B" >/dev/null || fail "create $B once there is room"
UB=$(ctl -j show "$B" | json_get '["sandbox"]["uid"]')
stop_sbxd

# sbxd.db is lost; a uid with nothing left still has rules.
mkdir "$T/db.away"
mv "$STATE"/db/sbxd.db* "$T/db.away/"
in_ns nft add chain inet "$TABLE" uid_$UID_HI
in_ns nft add element inet "$TABLE" sandboxes "{ $UID_HI : jump uid_$UID_HI }"
start_ns_sbxd
ctl -j list >"$T/list"
for n in "$A" "$B"; do
	python3 - "$T/list" "$n" <<'EOF2' || fail "$n: $(cat "$T/list")"
import json, sys
sb = [s for s in json.load(open(sys.argv[1]))["sandboxes"]
      if s["name"] == sys.argv[2]]
assert sb and sb[0]["state"] == "failed", sb
assert "orphan" in sb[0]["error"], sb
assert "sbxctl rm %s" % sys.argv[2] in sb[0]["error"], sb
EOF2
done
ctl doctor >"$T/doctor" 2>&1 && fail "doctor is happy with orphans"
grep -q "sbxctl rm $A" "$T/doctor" || fail "doctor: $(cat "$T/doctor")"
log_has "have no row in the store .the store has none: was sbxd.db replaced" ||
    fail "the empty store is not reported"
# Cut off: B's chain refuses all and no owner element of B is left.
wait_for sh -c "ip netns exec $NS nft list chain inet $TABLE uid_$UB |
    grep -q 'reject with icmpx'" || fail "$B is not cut off"
in_ns nft list chain inet "$TABLE" "uid_$UB" | grep -q accept &&
    fail "$B still reaches its old port"
in_ns nft list set inet "$TABLE" owners | grep -q "$UB \." &&
    fail "$B still owns its old port"
in_ns nft list chain inet "$TABLE" uid_$UID_HI >/dev/null 2>&1 &&
    fail "the rules of uid $UID_HI with nothing left are still there"
log_has "uid $UID_HI has firewall rules but no sandbox, user or process" ||
    fail "the removal is not logged"
ctl exec "$A" -- true >/dev/null 2>&1 && fail "exec in an orphan"
for n in "$A" "$B"; do
	ctl rm "$n" >/dev/null || fail "rm $n"
	getent passwd "sbx-$n" >/dev/null && fail "rm $n left its user"
done
in_ns nft list chain inet "$TABLE" "uid_$UA" >/dev/null 2>&1 &&
    fail "rm $A left its chain"
ctl doctor >"$T/doctor" 2>&1
grep "^FAIL" "$T/doctor" | grep -v "pfmon capturing" | grep -q . &&
    fail "doctor after rm: $(cat "$T/doctor")"
stop_sbxd
pass
