# bot_ask.sh: approvals in chat.  A restricted sandbox under a policy
# with "ask" reaches for a host no rule allows: its curl waits, the
# sandbox's topic gets one question with the three answers as reactions,
# and an admin's reaction lets the very same request through to the
# upstream.  A user's reaction changes nothing; /approve deny and expiry
# give 403 with their reasons; 50 held CONNECTs make one question;
# "always" survives a restart; "once" lapses after its window.  Against
# the fake Zulip server (tests/bot/fake_zulip.py), inside namespaces this
# test creates.  Needs root.
. "${top_srcdir:-.}/tests/regress/lib.sh"
need_root
for t in ip nft python3 openssl curl useradd; do
	command -v $t >/dev/null || skip "needs $t"
done

uid_block 61150 61159
sandbox_name SB ask

ZAPI=8443
ZCTL=8444
ALICE=11	# admin
BOB=12		# user
BOTID=10
GROUP=$((5000 + $$ % 1000))
SRV=10.219.0.1

ns_setup
ns_peer_setup "$SRV" fd00:219::1
peer_start http http "$SRV" 80

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=sbxd test CA" \
    -keyout "$T/ca.key" -out "$T/ca.pem" >/dev/null 2>&1 || fail "CA"
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$T/zkey.pem" -out "$T/z.csr" >/dev/null 2>&1 || fail "CSR"
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$T/ext"
openssl x509 -req -in "$T/z.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" \
    -CAcreateserial -days 2 -extfile "$T/ext" -out "$T/zcert.pem" \
    >/dev/null 2>&1 || fail "server certificate"
printf 'zk%ssecretAPIkey0123456789\n' $$ >"$T/zulip.key"
chmod 600 "$T/zulip.key"

rm -f "$T/zready"
in_ns python3 "$top_srcdir/tests/bot/fake_zulip.py" --port $ZAPI \
    --control-port $ZCTL --cert "$T/zcert.pem" --key "$T/zkey.pem" \
    --api-key-file "$T/zulip.key" --heartbeat 5 --longpoll-timeout 20 \
    --ready-file "$T/zready" >>"$T/zulip.log" 2>&1 &
PEER_PIDS="$PEER_PIDS $!"
wait_for test -f "$T/zready" || fail "the fake Zulip did not start"

# zc METHOD PATH [JSON]: the fake's control port.
zc() {
	in_ns curl -sS -X "$1" "http://127.0.0.1:$ZCTL$2" \
	    ${3:+-H 'Content-Type: application/json' --data-binary "$3"}
}

# post SENDER TOPIC CONTENT: a message in the stream; prints its id.
post() {
	zc POST /post "$(python3 -c 'import json, sys
print(json.dumps({"sender_id": int(sys.argv[1]), "topic": sys.argv[2],
    "content": sys.argv[3]}))' "$@")" | json_get '["id"]'
}

# react USER MESSAGE EMOJI: USER adds the reaction.
react() {
	zc POST /react "{\"user_id\": $1, \"message_id\": $2, \"emoji_name\": \"$3\"}" >/dev/null
}

# questions HOST: the bot's question messages about HOST in the
# sandbox's topic, one JSON a line: {id, content, bot_reactions}.
questions() {
	zc GET "/messages?sender_id=$BOTID&topic=$SB" | python3 -c '
import json, re, sys
for m in json.load(sys.stdin)["messages"]:
    if re.search(r"[Qq]uestion #[0-9]+[:;]", m["content"]) and \
            sys.argv[1] in m["content"]:
        print(json.dumps({"id": m["id"], "content": m["content"],
            "bot_reactions": sorted(r["emoji_name"] for r in
            m["reactions"] if r["user_id"] == int(sys.argv[2]))}))' "$1" $BOTID
}

# question_has HOST REGEX: the last question about HOST matches.
question_has() {
	questions "$1" | tail -1 | grep -Eq "$2"
}

nquestions() {
	questions "$1" | wc -l
}

# nquestions_is HOST N: N questions about HOST.
nquestions_is() {
	[ "$(nquestions "$1")" -eq "$2" ]
}

qid() {
	questions "$1" | tail -1 | json_get '["id"]'
}

said_has() {
	zc GET "/messages?sender_id=$BOTID&topic=$1" | grep -Eq "$2"
}

bot_is() {
	[ "$(component bot | json_get '["state"]')" = "$1" ]
}

# fetch [CURL ARGS] URL: curl as the sandbox's user, through its proxy.
fetch() {
	ctl exec "$SB" -- curl -sS -x "http://127.0.0.1:$PORT" --max-time 60 \
	    "$@"
}

cat >"$T/hosts" <<EOF2
$SRV once$$.test always$$.test deny$$.test late$$.test many$$.test
EOF2
conf_write <<EOF2
resolver hosts-file "$T/hosts"
policy "asking" {
	default block
	private yes
	ask 30s once 6s
}
sandbox policy "asking"
sandbox uid-range $UID_LO $UID_HI
sandbox port-range 970 979
sandbox home "$T/home"
sandbox firewall nftables table "sbxt$$"
pfmon interface "nflog:$GROUP"
bot zulip {
	site "https://127.0.0.1:$ZAPI/"
	email "sbx-bot@zulip.test"
	key-file "$T/zulip.key"
	stream "sandboxes"
	admins "alice@zulip.test"
	users "bob@zulip.test"
	ca-file "$T/ca.pem"
}
EOF2
"$SBXD" -n -f "$CONF" >"$T/out" 2>&1 || fail "config: $(cat "$T/out")"
start_ns_sbxd
wait_for bot_is polling || { ctl status; fail "the bot is not polling"; }
ctl create "$SB" >"$T/out" 2>&1 ||
    fail "create: $(cat "$T/out")"
PORT=$(ctl -j show "$SB" | json_get '["sandbox"]["port"]')

# Nobody will answer this one: it expires while the rest runs.
fetch -D - -o /dev/null "http://late$$.test/" >"$T/late.head" 2>&1 &
LATE=$!
PEER_PIDS="$PEER_PIDS $LATE"

# --- A held request, approved once by an admin's reaction ---
fetch -w '\n%{http_code}\n' "http://once$$.test/" >"$T/once.out" 2>&1 &
C=$!
PEER_PIDS="$PEER_PIDS $C"
wait_for question_has "once$$.test" "asks to reach .GET once$$.test:80" ||
    fail "no question: $(zc GET "/messages?sender_id=$BOTID")"
wait_for question_has "once$$.test" '"bot_reactions": \["check", "cross_mark", "infinity"\]' ||
    fail "the answers are not offered as reactions: $(questions "once$$.test")"
question_has "once$$.test" "/approve [0-9]+ once" ||
    fail "the commands are not offered: $(questions "once$$.test")"
kill -0 $C 2>/dev/null || fail "the request did not wait: $(cat "$T/once.out")"
grep -q "GET / " "$T/peer.http" && fail "the upstream saw the held request"
M=$(qid "once$$.test")

# A user's reaction is refused and changes nothing.
react $BOB "$M" check
wait_for said_has "$SB" "Only admins decide" || fail "no refusal for a user"
sleep 1
kill -0 $C 2>/dev/null || fail "a user's reaction let the request go"
ctl -j asks "$SB" | grep -q "\"host\":\"once$$.test\"" ||
    fail "the question is gone: $(ctl asks)"

react $ALICE "$M" check
wait $C || fail "the approved curl failed: $(cat "$T/once.out")"
[ "$(head -1 "$T/once.out")" = hello ] && [ "$(tail -1 "$T/once.out")" = 200 ] ||
    fail "approved: $(cat "$T/once.out")"
wait_for question_has "once$$.test" "allowed once by Alice Admin" ||
    fail "the question does not say its end: $(questions "once$$.test")"
log_has "allow once$$.test:80 for a time, by zulip:Alice Admin" ||
    fail "the log does not say who allowed"
# Within its window, no question; after it, asked again.
[ "$(fetch "http://once$$.test/")" = hello ] || fail "once, again"
[ "$(nquestions "once$$.test")" -eq 1 ] || fail "asked again within once"
sleep 7
fetch -o /dev/null "http://once$$.test/" >/dev/null 2>&1 &
PEER_PIDS="$PEER_PIDS $!"
wait_for nquestions_is "once$$.test" 2 ||
    fail "once did not lapse: $(ctl rules "$SB")"

# --- Deny by command: 403 "denied" ---
fetch -D - -o /dev/null "http://deny$$.test/" >"$T/deny.head" 2>&1 &
C=$!
PEER_PIDS="$PEER_PIDS $C"
wait_for question_has "deny$$.test" "asks to reach" || fail "no deny question"
N=$(ctl -j asks "$SB" | python3 -c 'import json, sys
print([a["id"] for a in json.load(sys.stdin)["asks"] if a["host"] == sys.argv[1]][0])' "deny$$.test")
post $BOB "$SB" "/approve $N deny" >/dev/null
wait_for said_has "$SB" "Only admins may use /approve" || fail "a user's /approve"
post $ALICE "$SB" "/approve $N deny" >/dev/null
wait $C
grep -q "^HTTP/1.1 403" "$T/deny.head" || fail "deny: $(cat "$T/deny.head")"
grep -qi "^X-Sbx-Block: denied" "$T/deny.head" || fail "deny reason"
wait_for question_has "deny$$.test" "denied by Alice Admin" ||
    fail "the question does not say denied: $(questions "deny$$.test")"
post $ALICE "$SB" "/approve $N once" >/dev/null
wait_for said_has "$SB" "Not done: question $N .*is closed: deny" ||
    fail "a decided question taken again"

# --- Nobody answers: 403 "ask-timeout" ---
wait $LATE
grep -qi "^X-Sbx-Block: ask-timeout" "$T/late.head" ||
    fail "expiry: $(cat "$T/late.head")"
wait_for question_has "late$$.test" "Nobody answered within 30 s" ||
    fail "the question does not say expired: $(questions "late$$.test")"

# --- 50 held CONNECTs to one host: one question; always by reaction ---
ctl exec "$SB" -- sh -c "for i in \$(seq 50); do curl -sS -p \
    -x http://127.0.0.1:$PORT --max-time 60 -o /dev/null -w '%{http_code}\n' \
    http://many$$.test/ & done; wait" >"$T/many" 2>&1 &
C=$!
PEER_PIDS="$PEER_PIDS $C"
wait_for question_has "many$$.test" "50 requests waiting" ||
    fail "50 held: $(questions "many$$.test"; ctl asks)"
[ "$(nquestions "many$$.test")" -eq 1 ] || fail "more than one question"
react $ALICE "$(qid "many$$.test")" infinity
wait $C
[ "$(grep -c '^200$' "$T/many")" -eq 50 ] ||
    fail "the 50: $(sort "$T/many" | uniq -c)"
wait_for question_has "many$$.test" "allowed always by Alice Admin" ||
    fail "always: $(questions "many$$.test")"
ctl rules "$SB" >"$T/rules"
grep -Eq "^allow +many$$.test:80 " "$T/rules" || fail "rules: $(cat "$T/rules")"
grep -q "#[0-9]* *CONNECT many$$.test:80 always .* by zulip:Alice Admin" \
    "$T/rules" || fail "rules' decisions: $(cat "$T/rules")"
post $BOB "$SB" "/network" >/dev/null
wait_for said_has "$SB" "Decisions:" || fail "/network lacks the decisions"

# "always" survives a restart.
stop_sbxd
start_ns_sbxd
wait_for bot_is polling || fail "no polling after a restart"
[ "$(fetch "http://many$$.test/")" = hello ] || fail "always lost"
[ "$(nquestions "many$$.test")" -eq 1 ] || fail "asked again after always"
[ "$(ctl -j asks | json_get '["asks"]')" = "[]" ] || fail "questions left"

ctl rm "$SB" >/dev/null 2>&1 || fail "rm $SB"
pass
