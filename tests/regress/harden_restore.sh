# harden_restore.sh: what a restart brings back.  A create sent while
# the firewall base is still loading, right after start, waits for it
# and ends ready, once, with nothing undone.  A sandbox whose home went
# is failed at the next start and stays failed at the one after, until
# its home is back.  Needs root (a namespace, users).
. "${top_srcdir:-.}/tests/regress/lib.sh"
need_root
for t in ip nft useradd; do
	command -v $t >/dev/null || skip "needs $t"
done
ns_setup
sandbox_name A a
sandbox_name B b
sandbox_name C c
uid_block 60630 60639
conf_write <<EOF2
policy "default" {
}
sandbox uid-range $UID_LO $UID_HI
sandbox port-range 870 879
sandbox home "$T/home"
sandbox shell "/bin/sh"
sandbox firewall nftables table "sbxt$$"
EOF2

# Start sbxd and send the create as soon as the socket answers.
for n in "$A" "$B" "$C"; do
	ip netns exec "$NS" "$SBXD" -d -f "$CONF" >>"$LOG" 2>&1 &
	SBXD_PID=$!
	i=0
	until ctl create "$n" >"$T/create.$n" 2>&1; do
		grep -q "is sbxd running" "$T/create.$n" ||
		    { cat "$T/create.$n"; fail "create $n"; }
		i=$((i + 1))
		[ $i -lt 300 ] || fail "sbxd did not start"
		sleep 0.01
	done
	grep -q ready "$T/create.$n" || fail "create $n: $(cat "$T/create.$n")"
	ctl -j show "$n" | grep -q '"state":"ready"' ||
	    fail "$n is not ready after its create"
	stop_sbxd
done
grep -q "undoing" "$LOG" && fail "a create was undone: $(grep undo "$LOG")"
cat "$T"/create.* | grep -q "waiting for the firewall base" ||
    echo "(no create came before the firewall base was loaded)"

# A sandbox whose home went is failed, twice; with its home back, ready.
UA=$(id -u "sbx-$A")
mv "$T/home/$A" "$T/away"
start_ns_sbxd
ctl -j show "$A" | grep -q '"state":"failed"' ||
    fail "$A without a home is not failed"
stop_sbxd
start_ns_sbxd
ctl -j show "$A" | grep -q '"state":"failed"' ||
    fail "$A came back without a home at the second restart"
stop_sbxd
mv "$T/away" "$T/home/$A"
[ "$(stat -c %u "$T/home/$A")" = "$UA" ] || fail "home owner"
start_ns_sbxd
wait_for sh -c "\"$SBXCTL\" -s \"$SOCK\" list | grep -q '$A *ready'" ||
    fail "$A not ready with its home back"
for n in "$A" "$B" "$C"; do
	ctl rm "$n" >/dev/null 2>&1 || fail "rm $n"
done
stop_sbxd
pass
