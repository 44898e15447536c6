# harden_uid.sh: rm takes what the sandbox's uid owns on the host with
# it, and a uid goes to the next sandbox only when nothing belongs to
# it.  A tenant's 0600 files in /tmp, /var/tmp and /dev/shm and its
# System V IPC objects are gone after rm; uids are handed out round-robin,
# so the next sandbox gets a fresh one; after the range wraps, a uid
# that still owns something is skipped.  Needs root (a namespace, users).
. "${top_srcdir:-.}/tests/regress/lib.sh"
need_root
for t in ip nft useradd ipcmk ipcs; do
	command -v $t >/dev/null || skip "needs $t"
done
ns_setup
sandbox_name A a
sandbox_name B b
sandbox_name C c
sandbox_name D d
uid_block 61000 61002
conf_write <<EOF2
policy "default" {
}
sandbox uid-range $UID_LO $UID_HI
sandbox port-range 920 929
sandbox home "$T/home"
sandbox shell "/bin/sh"
sandbox firewall nftables table "sbxt$$"
EOF2
LEFT=/tmp/sbxt$$.left
# Whatever a failed run leaves of the test's own.
leftover_cleanup() {
	rm -rf "$LEFT" /tmp/sbxt$$.* /var/tmp/sbxt$$.* /dev/shm/sbxt$$.*
	for k in m q s; do
		ipcs -$k | awk -v lo=$UID_LO -v hi=$UID_HI '$3 >= lo && $3 <= hi { print $2 }' |
		    while read -r id; do ipcrm -$k "$id"; done
	done
}
on_exit leftover_cleanup
start_ns_sbxd

uid_of() { ctl -j show "$1" | json_get '["sandbox"]["uid"]'; }

ctl create "$A" >/dev/null || fail "create $A"
UA=$(uid_of "$A")
ctl exec "$A" -- sh -c "umask 077; echo secret >/tmp/sbxt$$.a &&
    echo secret >/var/tmp/sbxt$$.a && echo secret >/dev/shm/sbxt$$.a &&
    mkdir /tmp/sbxt$$.dir && echo x >/tmp/sbxt$$.dir/f &&
    ipcmk -M 4096 && ipcmk -Q && ipcmk -S 1" >"$T/out" 2>&1 ||
    fail "leaving things: $(cat "$T/out")"
[ "$(find /tmp /var/tmp /dev/shm -xdev -user "$UA" | wc -l)" -ge 5 ] ||
    fail "the files were not made"
[ "$(ipcs -c | awk -v u="sbx-$A" '$3 == u' | wc -l)" -ge 3 ] ||
    fail "the IPC objects were not made: $(ipcs -c)"
ctl rm "$A" >/dev/null || fail "rm $A"
left=$(find /tmp /var/tmp /dev/shm -xdev -user "$UA")
[ -z "$left" ] || fail "rm left files of uid $UA: $left"
left=$(ipcs -c | awk -v u="$UA" '$3 == u || $5 == u')
[ -z "$left" ] || fail "rm left IPC objects of uid $UA: $left"

# Round-robin: B does not get A's uid back.
ctl create "$B" >/dev/null || fail "create $B"
UB=$(uid_of "$B")
[ "$UB" != "$UA" ] || fail "$B got uid $UA right after $A's rm"
# B leaves a directory of its own holding root's file: rm cannot
# remove it, so B's uid is not handed out again while it stays.
ctl exec "$B" -- mkdir "$LEFT" || fail "mkdir as $B"
touch "$LEFT/root-file"
ctl rm "$B" >/dev/null || fail "rm $B"
log_has "uid $UB still owns $LEFT" || fail "the leftover is not reported"
ctl create "$C" >/dev/null || fail "create $C"
UC=$(uid_of "$C")
ctl rm "$C" >/dev/null || fail "rm $C"
# The range wraps to A's uid, now clean; then B's is skipped.
ctl create "$D" >/dev/null || fail "create $D"
UD=$(uid_of "$D")
[ "$UD" = "$UA" ] || fail "after $UC the range did not wrap to $UA: $UD"
ctl rm "$D" >/dev/null || fail "rm $D"
ctl create "$A" >/dev/null || fail "create $A again"
[ "$(uid_of "$A")" != "$UB" ] || fail "uid $UB reused while it owns $LEFT"
log_has "uid $UB is not reused yet: it owns $LEFT" || fail "skip not logged"
ctl rm "$A" >/dev/null || fail "rm $A"
stop_sbxd
pass
