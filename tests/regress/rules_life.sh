# rules_life.sh: runtime rules have a lifecycle.  allow --for lets a
# request through for that long, then the rule goes by itself, with a
# proxy.rule.expired event, and the request is refused again; unallow
# takes a rule out at once, and says so when there is no such rule;
# rules with no name lists every sandbox's; a restart keeps what is left
# of a lifetime and drops a rule whose time passed while sbxd was down.
# Needs root.
. "${top_srcdir:-.}/tests/regress/lib.sh"
need_root
for t in ip nft curl useradd; do
	command -v $t >/dev/null || skip "needs $t"
done
PY=/usr/bin/python3

SRV=10.217.0.1
ns_setup
ns_peer_setup "$SRV" fd00:217::1
sandbox_name A a
sandbox_name B b
uid_block 61040 61049
cat >"$T/hosts" <<EOF2
$SRV web.test keep.test gone.test other.test
EOF2
peer_start web http "$SRV" 80

conf_write <<EOF2
resolver hosts-file "$T/hosts"
policy "agents" {
	default block
	private yes
}
sandbox uid-range $UID_LO $UID_HI
sandbox port-range 960 969
sandbox home "$T/home"
sandbox shell "/bin/sh"
sandbox policy "agents"
sandbox firewall nftables table "sbxt$$"
EOF2
start_ns_sbxd
ctl create "$A" >"$T/out" 2>&1 || { cat "$T/out"; fail "create $A"; }
ctl create "$B" --allow Other.TEST >"$T/out" 2>&1 ||
    { cat "$T/out"; fail "create $B"; }
# A rule is kept as sbxd writes its pattern, however it was given.
ctl rules "$B" >"$T/rules" || fail "rules $B"
grep -q "^allow  other.test " "$T/rules" ||
    fail "create --allow kept as given: $(cat "$T/rules")"

# code NAME URL: the status the sandbox gets.
code() {
	ctl exec "$1" -- curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
	    "$2"
}
gone() {
	[ "$(code "$A" http://web.test/)" = 403 ]
}

# A rule for 3 seconds: through, then refused, and the expiry told.
[ "$(code "$A" http://web.test/)" = 403 ] || fail "web.test open at first"
ctl allow "$A" web.test --for 3s >/dev/null || fail "allow --for 3s"
[ "$(code "$A" http://web.test/)" = 200 ] || fail "web.test not allowed"
ctl rules "$A" >"$T/rules" || fail "rules $A"
grep -q "^allow  web.test .* expires .*Z ([0-3]s left)" "$T/rules" ||
    fail "rules shows no expiry: $(cat "$T/rules")"
ctl show "$A" | grep -q "allow web.test until .*Z ([0-3]s left)" ||
    fail "show shows no expiry: $(ctl show "$A")"
WAIT_TENTHS=100 wait_for gone || fail "web.test still allowed after 3s"
wait_for grep -q '"type":"proxy.rule.expired".*"pattern":"web.test"' \
    "$T/events" || fail "no proxy.rule.expired event"
ctl -j rules "$A" | json_get '["rules"]' | grep -qx '\[\]' ||
    fail "the expired rule is still listed"

# Durations that make no sense are refused before anything is sent.
for d in 0 -5m 10x 367d 1.5h; do
	ctl allow "$A" web.test --for "$d" >"$T/err" 2>&1 &&
	    fail "allow --for $d"
	grep -q "a duration from 1s to 366d is needed" "$T/err" ||
	    fail "--for $d: $(cat "$T/err")"
done

# unallow: at once, allow or deny; a missing rule is an error that says
# which rules there are.
ctl allow "$A" web.test >/dev/null || fail "allow"
[ "$(code "$A" http://web.test/)" = 200 ] || fail "web.test not allowed"
ctl unallow "$A" web.test >/dev/null || fail "unallow"
[ "$(code "$A" http://web.test/)" = 403 ] || fail "web.test after unallow"
wait_for grep -q '"type":"proxy.rule","listener":"'"$A"'".*"action":"removed","pattern":"web.test"' \
    "$T/events" || grep -q '"action":"removed"' "$T/events" ||
    fail "no proxy.rule removed event"
ctl unallow "$A" web.test >"$T/err" 2>&1 && fail "unallow twice"
grep -q "$A has no runtime rule \"web.test\"; it has none" "$T/err" ||
    fail "unallow twice: $(cat "$T/err")"
ctl deny "$B" other.test >/dev/null || fail "deny"
ctl allow "$B" web.test >/dev/null || fail "allow $B"
ctl unallow "$B" nothere.test >"$T/err" 2>&1 && fail "unallow nothere"
grep -q "its rules: block other.test, allow web.test" "$T/err" ||
    fail "unallow nothere: $(cat "$T/err")"

# One rule per pattern, however it is written: a lifetime set under one
# spelling ends when the pattern is set for good under another.
ctl allow "$A" Web.TEST --for 2s >/dev/null || fail "allow Web.TEST --for"
ctl allow "$A" web.test >/dev/null || fail "allow web.test"
ctl rules "$A" >"$T/rules" || fail "rules $A"
[ "$(grep -ci 'web\.test' "$T/rules")" = 1 ] ||
    fail "one pattern, two rules: $(cat "$T/rules")"
grep -q "^allow  web.test .*expires" "$T/rules" &&
    fail "web.test kept a lifetime: $(cat "$T/rules")"
sleep 3
[ "$(code "$A" http://web.test/)" = 200 ] ||
    fail "web.test went with the lifetime of Web.TEST"
ctl unallow "$A" WEB.test >/dev/null || fail "unallow WEB.test"
[ "$(code "$A" http://web.test/)" = 403 ] || fail "web.test after unallow"
ctl allow "$A" web.test >/dev/null || fail "allow web.test again"

# rules with no name: every sandbox's, named.
ctl allow "$A" keep.test --for 1h >/dev/null || fail "allow keep --for"
ctl allow "$A" gone.test --for 2s >/dev/null || fail "allow gone --for"
ctl rules >"$T/all" || fail "rules"
grep -q "^$B  *block  other.test" "$T/all" || fail "rules: $(cat "$T/all")"
grep -q "^$B  *allow  web.test" "$T/all" || fail "rules: $(cat "$T/all")"
grep -Eq "^$A +allow  keep.test .* expires .* \((1h0m0s|5[0-9]m[0-9]+s) left\)" \
    "$T/all" ||
    fail "rules: $(cat "$T/all")"
head -1 "$T/all" | grep -q "^LISTENER  *ACTION  *PATTERN  *CREATED$" ||
    fail "rules: no header: $(cat "$T/all")"

# A restart keeps what is left and drops what ran out meanwhile.
stop_sbxd
sleep 3
start_ns_sbxd
ctl rules "$A" >"$T/rules" || fail "rules after restart"
grep -Eq "^allow  keep.test .* expires .* \((1h0m0s|5[0-9]m[0-9]+s) left\)" \
    "$T/rules" ||
    fail "keep.test lost its lifetime: $(cat "$T/rules")"
grep -q "gone.test" "$T/rules" && fail "gone.test outlived its time"
log_has "listener $A: allow gone.test expired while sbxd was down" ||
    fail "the drop at start is not logged"
[ "$(code "$A" http://keep.test/)" = 200 ] || fail "keep.test after restart"
[ "$(code "$A" http://gone.test/)" = 403 ] || fail "gone.test after restart"
[ "$(code "$B" http://web.test/)" = 200 ] || fail "$B's rule lost"
[ "$(code "$A" http://web.test/)" = 200 ] || fail "$A's web.test lost"
[ "$(ctl rules "$A" | grep -ci 'web\.test')" = 1 ] ||
    fail "web.test after restart: $(ctl rules "$A")"

for n in "$A" "$B"; do
	ctl rm "$n" >/dev/null || fail "rm $n"
done
stop_sbxd
pass
