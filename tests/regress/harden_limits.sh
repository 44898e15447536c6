# harden_limits.sh: a sandbox's resource limits, with the kernel's
# cgroups (v2, or the v1 hierarchies of a hybrid host).  Every command
# of exec runs in the sandbox's cgroup with the descriptors every job
# gets, not sbxd's raised limit, and no core files.  A fork loop stops at
# the processes limit, an allocation past the memory limit is killed,
# and show reports what the sandbox used and what was refused.  A reload
# writes new limits into the cgroup, a restart makes a cgroup that went
# again, and rm removes it.  Limits asked for on a host that cannot give
# them keep sbxd from starting; the defaults only warn.  Needs root (a
# namespace, users, cgroups).
. "${top_srcdir:-.}/tests/regress/lib.sh"
need_root
for t in ip nft useradd nsenter; do
	command -v $t >/dev/null || skip "needs $t"
done
PY=/usr/bin/python3
[ -x "$PY" ] || skip "needs $PY"

# The cgroup file systems of this host, one mount point a line.
cg_mounts() {
	awk '{ for (i = 7; $i != "-"; i++) ; if ($(i + 1) ~ /^cgroup2?$/)
	    print $5 }' /proc/self/mountinfo
}

# Whether this host can give a cgroup memory, pids and cpu, as sbxd
# looks for them: cgroup2 offering all three, or v1 hierarchies.
cg_usable() {
	v2=$(awk '{ for (i = 7; $i != "-"; i++) ; if ($(i + 1) == "cgroup2")
	    { print $5; exit } }' /proc/self/mountinfo)
	if [ -n "$v2" ] && [ -r "$v2/cgroup.controllers" ]; then
		c=" $(cat "$v2/cgroup.controllers") "
		case $c in *" memory "*) case $c in *" pids "*)
		    case $c in *" cpu "*) return 0 ;; esac ;; esac ;; esac
	fi
	for c in memory pids cpu; do
		awk -v c=$c '{ for (i = 7; $i != "-"; i++) ; n = split($(i + 3),
		    o, ","); for (j = 1; j <= n; j++) if ($(i + 1) == "cgroup" &&
		    o[j] == c) f = 1 } END { exit !f }' /proc/self/mountinfo ||
		    return 1
	done
}
cg_usable || skip "no cgroup v2 or v1 hierarchies with memory, pids and cpu"

ns_setup
sandbox_name SB a
CG=/sbxt$$.slice

# Whatever is left under the test's parent, in every hierarchy.
cg_cleanup() {
	for m in $(cg_mounts); do
		[ -d "$m$CG" ] || continue
		for d in "$m$CG"/*/; do
			[ -d "$d" ] || continue
			i=0
			until rmdir "$d" 2>/dev/null || [ $i -ge 50 ]; do
				i=$((i + 1))
				sleep 0.1
			done
		done
		rmdir "$m$CG" 2>/dev/null
	done
}
on_exit cg_cleanup

uid_block 60650 60669
limits_conf() {
	conf_write <<EOF2
policy "default" {
}
sandbox uid-range $UID_LO $UID_HI
sandbox port-range 890 899
sandbox home "$T/home"
sandbox shell "/bin/sh"
sandbox firewall nftables table "sbxt$$"
sandbox cgroup "$CG"
$1
EOF2
}

# sbxd in the namespace's network only: "ip netns exec" would mount a
# /sys of its own, without the cgroup file systems.
start_cg_sbxd() {
	nsenter --net="/run/netns/$NS" "$SBXD" -d -f "$CONF" >>"$LOG" 2>&1 &
	SBXD_PID=$!
	WAIT_TENTHS=300 wait_for ctl status || fail "sbxd did not start"
}

# show VAR KEYPATH: a value of the sandbox, from show -j.
show() {
	ctl -j show "$SB" >"$T/show" || fail "show $SB"
	eval "$1=\$(json_get '[\"sandbox\"]$2' <\"$T/show\")"
}

# cgfile FILE: the first line of FILE in whichever of the sandbox's
# cgroup directories has it.
cgfile() {
	for d in $DIRS; do
		[ -f "$d/$1" ] && { head -n 1 "$d/$1"; return 0; }
	done
	fail "no $1 in $DIRS"
}

limits_conf "sandbox limits memory 64M processes 20 cpu-weight 50"
start_cg_sbxd
ctl create "$SB" >"$T/out" 2>&1 || { cat "$T/out"; fail "create $SB"; }
ctl -j status | grep -q '"limits":{"state":"on"' ||
    fail "limits not on: $(ctl -j status)"
show DIRS '["cgroups"]'
DIRS=$(echo "$DIRS" | $PY -c 'import json, sys
print(" ".join(json.load(sys.stdin)))')
[ -n "$DIRS" ] || fail "$SB has no cgroup"
for d in $DIRS; do
	[ -d "$d" ] || fail "no cgroup directory $d"
	case $d in */sbxt$$.slice/sbx-$SB.scope) ;; *) fail "cgroup $d" ;; esac
done
show L '["limits"]'
[ "$L" = '{"memory": 67108864, "processes": 20, "cpu_weight": 50}' ] ||
    fail "limits shown: $L"
[ "$(cgfile pids.max)" = 20 ] || fail "pids.max $(cgfile pids.max)"
if [ -f "$(echo $DIRS | cut -d' ' -f1)/memory.max" ]; then
	[ "$(cgfile memory.max)" = 67108864 ] || fail "memory.max"
	[ "$(cgfile cpu.weight)" = 50 ] || fail "cpu.weight"
else
	[ "$(cgfile memory.limit_in_bytes)" = 67108864 ] ||
	    fail "memory.limit_in_bytes"
	[ "$(cgfile cpu.shares)" = 512 ] || fail "cpu.shares"
fi

# exec runs in the cgroup, with the descriptors of every job, not sbxd's.
ctl exec "$SB" -- cat /proc/self/cgroup >"$T/cg" || fail "exec cat"
grep -q "/sbxt$$.slice/sbx-$SB.scope\$" "$T/cg" ||
    fail "exec is not in the cgroup: $(cat "$T/cg")"
out=$(ctl exec "$SB" -- /bin/sh -c 'ulimit -Sn; ulimit -Hn; ulimit -Hc' |
    tr '\n' ' ')
[ "$out" = "1024 4096 0 " ] ||
    fail "descriptors and cores in exec: $out, sbxd has $(grep \
    'Max open files' /proc/$SBXD_PID/limits)"

# A fork loop: 19 children and the loop itself make 20; the next fork
# is refused (EAGAIN), and pids.events counts it.
out=$(ctl exec "$SB" -- $PY -c 'import errno, os, signal, time
kids, why = [], None
for i in range(100):
    try:
        pid = os.fork()
    except OSError as e:
        why = errno.errorcode[e.errno]
        break
    if pid == 0:
        time.sleep(60)
        os._exit(0)
    kids.append(pid)
print(len(kids), why)
for k in kids:
    os.kill(k, signal.SIGKILL)
    os.waitpid(k, 0)')
[ "$out" = "19 EAGAIN" ] || fail "fork loop: $out, want 19 EAGAIN"
show R '["usage"]["forks_refused"]'
[ "$R" -ge 1 ] || fail "forks_refused $R"

# Past the memory limit: the OOM killer, inside the sandbox only.
ctl exec "$SB" -- $PY -c 'b = bytearray(256 << 20); print(len(b))' \
    >"$T/oom" 2>&1
rc=$?
[ $rc -eq 137 ] || fail "256M in a 64M sandbox: exit $rc, $(cat "$T/oom")"
show K '["usage"]["oom_kills"]'
[ "$K" -ge 1 ] || fail "oom_kills $K"
kill -0 "$SBXD_PID" || fail "sbxd died"

# Usage, with a process left running.
ctl exec "$SB" -- /bin/sh -c 'sleep 300 >/dev/null 2>&1 &' ||
    fail "exec sleep"
show U '["usage"]'
echo "$U" | $PY -c 'import json, sys
u = json.load(sys.stdin)
assert u["processes"] >= 1, u
assert u["memory"] > 0, u
assert u["memory_peak"] is None or u["memory_peak"] >= 32 << 20, u
assert u["cpu_usec"] > 0, u' || fail "usage: $U"
ctl show "$SB" >"$T/show.txt" || fail "show"
grep -q '^limits  *memory 64M, processes 20, cpu-weight 50$' "$T/show.txt" ||
    fail "show: $(cat "$T/show.txt")"
grep -Eq '^usage  *memory [0-9.]+[KMG]? \(peak [0-9.]+M\), processes [1-9]' \
    "$T/show.txt" || fail "show: $(cat "$T/show.txt")"
ctl doctor >"$T/doctor" 2>&1
grep -q "^ok  *resource limits  *cgroup v[12]" "$T/doctor" ||
    fail "doctor: $(cat "$T/doctor")"
grep -q "^ok  *$SB: cgroup " "$T/doctor" || fail "doctor: $(cat "$T/doctor")"

# A reload writes the new limits at once.
limits_conf "sandbox limits memory 64M processes 30 cpu-weight 50"
ctl reload >/dev/null || fail "reload"
[ "$(cgfile pids.max)" = 30 ] || fail "pids.max after reload"

# A restart makes a cgroup that went again.
stop_sbxd
pkill -KILL -u "sbx-$SB"
for d in $DIRS; do
	wait_for rmdir "$d" || fail "rmdir $d"
done
start_cg_sbxd
wait_for sh -c "\"$SBXCTL\" -s \"$SOCK\" list | grep -q '$SB *ready'" ||
    fail "$SB not ready after the restart"
for d in $DIRS; do
	[ -d "$d" ] || fail "$d not made again"
done
[ "$(cgfile pids.max)" = 30 ] || fail "pids.max after the restart"

# rm: what runs in the cgroup is killed, and the cgroup goes.
ctl exec "$SB" -- /bin/sh -c 'sleep 300 >/dev/null 2>&1 &' ||
    fail "exec sleep"
ctl rm "$SB" >"$T/rm" 2>&1 || { cat "$T/rm"; fail "rm $SB"; }
for d in $DIRS; do
	[ -d "$d" ] && fail "$d survived rm"
done
stop_sbxd

# Without cgroups ("ip netns exec" hides them): a limits line keeps
# sbxd from starting, saying why; the defaults warn and go on.
in_ns "$SBXD" -d -f "$CONF" >"$T/refuse" 2>&1 && fail "sbxd started"
grep -q "sandbox limits cannot be applied: no cgroup file system" \
    "$T/refuse" || fail "refusal: $(cat "$T/refuse")"
limits_conf ""
start_ns_sbxd
component sandbox | grep -q '"limits": {"state": "unavailable"' ||
    fail "status: $(component sandbox)"
log_has "sandbox: no resource limits: no cgroup file system" ||
    fail "no warning in the log"
ctl doctor >"$T/doctor" 2>&1
grep -q "^warn resource limits  *not applied" "$T/doctor" ||
    fail "doctor: $(cat "$T/doctor")"
stop_sbxd
pass
