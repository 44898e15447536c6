# bot.sh: the Zulip bot end to end, inside a network namespace this test
# creates, against a fake Zulip server (tests/bot/fake_zulip.py, TLS
# with a test CA) that follows the API's real shapes.  People post in
# the stream through the fake's control port; what the bot did is read
# back from the fake: its messages, edits, reactions and every call it
# made.  Needs root.
. "${top_srcdir:-.}/tests/regress/lib.sh"
need_root
for t in ip nft python3 openssl curl; do
	command -v $t >/dev/null || skip "needs $t"
done

uid_block 61140 61149
sandbox_name PF pf
sandbox_name OP op

ZAPI=8443
ZCTL=8444
ALICE=11	# admin, by email in the config
BOB=12		# user
EVE=13		# nobody
OBOT=14		# another bot
CAROL=15	# admin, by id in the config
GROUP=$((5000 + $$ % 1000))

ns_setup

# A CA and the fake server's certificate for 127.0.0.1.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=sbxd test CA" \
    -keyout "$T/ca.key" -out "$T/ca.pem" >/dev/null 2>&1 || fail "CA"
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$T/zkey.pem" -out "$T/z.csr" >/dev/null 2>&1 || fail "CSR"
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$T/ext"
openssl x509 -req -in "$T/z.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" \
    -CAcreateserial -days 2 -extfile "$T/ext" -out "$T/zcert.pem" \
    >/dev/null 2>&1 || fail "server certificate"
KEY=zk$$secretAPIkey0123456789
printf '%s\n' "$KEY" >"$T/zulip.key"
chmod 600 "$T/zulip.key"

start_zulip() {
	rm -f "$T/zready"
	in_ns python3 "$top_srcdir/tests/bot/fake_zulip.py" --port $ZAPI \
	    --control-port $ZCTL --cert "$T/zcert.pem" --key "$T/zkey.pem" \
	    --api-key-file "$T/zulip.key" --heartbeat 5 \
	    --longpoll-timeout 20 --max-message-length 2000 \
	    --ready-file "$T/zready" "$@" >>"$T/zulip.log" 2>&1 &
	ZPID=$!
	PEER_PIDS="$PEER_PIDS $ZPID"
	wait_for test -f "$T/zready" || fail "the fake Zulip did not start"
}

# zc METHOD PATH [JSON]: the fake's control port.
zc() {
	in_ns curl -sS -X "$1" "http://127.0.0.1:$ZCTL$2" \
	    ${3:+-H 'Content-Type: application/json' --data-binary "$3"}
}

# post SENDER TOPIC CONTENT [AGE]: a message in the stream; prints its id.
post() {
	zc POST /post "$(python3 -c 'import json, sys
d = {"sender_id": int(sys.argv[1]), "topic": sys.argv[2],
     "content": sys.argv[3]}
if len(sys.argv) > 4:
    d["age"] = int(sys.argv[4])
print(json.dumps(d))' "$@")" | json_get '["id"]'
}

# said TOPIC: the bot's messages in TOPIC, one JSON per line.
said() {
	zc GET "/messages?sender_id=10&topic=$(python3 -c 'import sys
import urllib.parse
print(urllib.parse.quote(sys.argv[1]))' "$1")" | python3 -c 'import json, sys
for m in json.load(sys.stdin)["messages"]:
    print(json.dumps(m))' 2>/dev/null
}

# said_text TOPIC: the content of the bot's messages in TOPIC, in order.
said_text() {
	said "$1" | python3 -c 'import json, sys
for l in sys.stdin:
    print(json.loads(l)["content"])' 2>/dev/null
}

# said_has TOPIC REGEX: a bot message in TOPIC matches.
said_has() {
	said_text "$1" | grep -Eq "$2"
}

# nsaid TOPIC: how many messages the bot sent to TOPIC.
nsaid() {
	said "$1" | wc -l
}

bot_state() {
	component bot | json_get '["state"]'
}

# bot_is STATE: the bot's state is STATE.
bot_is() {
	[ "$(bot_state)" = "$1" ]
}

# nsaid_ge TOPIC N: the bot sent N messages or more to TOPIC.
nsaid_ge() {
	[ "$(nsaid "$1")" -ge "$2" ]
}

conf_write <<EOF2
policy "default" {
	default block
}
sandbox uid-range $UID_LO $UID_HI
sandbox port-range 980 989
sandbox home "$T/home"
sandbox firewall nftables table "sbxt$$"
pfmon interface "nflog:$GROUP"
agent "fake" {
	type claude-code
	path "$T/pub/fake_agent"
	env "FAKE_AGENT" "claude"
	timeout 60s
}
sandbox agent "fake"
bot zulip {
	site "https://127.0.0.1:$ZAPI/"
	email "sbx-bot@zulip.test"
	key-file "$T/zulip.key"
	stream "sandboxes"
	admins "alice@zulip.test" $CAROL
	users "bob@zulip.test"
	ca-file "$T/ca.pem"
}
EOF2
mkdir -p "$T/pub" && chmod 0755 "$T/pub"
install -m 0755 "$top_srcdir/tests/agent/fake_agent.py" "$T/pub/fake_agent"

# The key file is refused when others may read it.
chmod 644 "$T/zulip.key"
"$SBXD" -n -f "$CONF" >"$T/out" 2>&1 && fail "a readable key file is taken"
grep -q 'key-file ".*zulip.key" must be root.s and for root alone' "$T/out" ||
    fail "readable key: $(cat "$T/out")"
chmod 600 "$T/zulip.key"
"$SBXD" -nv -f "$CONF" >"$T/out" 2>&1 || fail "config: $(cat "$T/out")"
grep -q "$KEY" "$T/out" && fail "sbxd -nv prints the key"

start_zulip
start_ns_sbxd
wait_for bot_is polling || {
	ctl status; fail "the bot is not polling"; }
grep -q "$KEY" "$LOG" && fail "the key is in the log"

# --- Authorization by sender id ---
post $EVE control "/new evil$$" >/dev/null
post $OBOT control "/new bot$$" >/dev/null
post $BOB control "/new bob$$" >/dev/null
wait_for said_has control "not allowed to use this bot" ||
    fail "no refusal for an outsider: $(said_text control)"
wait_for said_has control "Only admins may use /new" ||
    fail "a user may /new: $(said_text control)"
post $EVE control "/list" >/dev/null	# refused once, not again
sleep 1
[ "$(said_text control | grep -c 'not allowed')" -eq 1 ] ||
    fail "the refusal is not rate-limited: $(said_text control)"
said_text control | grep -q "bot$$" && fail "another bot was answered"
ctl list >"$T/out"
grep -Eq "evil$$|bot$$|bob$$" "$T/out" && fail "an outsider created: $(cat "$T/out")"

# --- /newpf, bad names, /new of an existing one ---
post $ALICE control "/new Bad_Name" >/dev/null
wait_for said_has control "not a sandbox name" || fail "bad name accepted"
post $ALICE control "/newpf $PF example.org,*.example.net" >/dev/null
wait_for said_has "$PF" "Sandbox \*\*$PF\*\* is ready: restricted" ||
    fail "no welcome in $PF: $(said_text "$PF") / $(said_text control)"
wait_for said_has control "Created \*\*$PF\*\*" || fail "no answer to /newpf"
ctl -j show "$PF" >"$T/show" || fail "show $PF"
[ "$(json_get '["sandbox"]["restricted"]' <"$T/show")" = true ] ||
    fail "$PF is not restricted"
grep -q 'example.org' "$T/show" || fail "$PF lacks its pattern: $(cat "$T/show")"
post $CAROL control "/new $OP" >/dev/null	# an admin named by id
wait_for said_has "$OP" "Sandbox \*\*$OP\*\* is ready: open" ||
    fail "no welcome in $OP: $(said_text control)"
post $ALICE control "/new $PF" >/dev/null
wait_for said_has control "exists already" || fail "/new of an existing name"

# --- A prompt in the topic runs a turn; its text arrives in order ---
P=$(post $BOB "$PF" "hello PARAS TOOL")
wait_for said_has "$PF" '\*\*ok\*\*' || fail "no final line: $(said_text "$PF")"
said_text "$PF" >"$T/turn"
python3 - "$T/turn" <<'EOF' || fail "turn output: $(cat "$T/turn")"
import re, sys
t = open(sys.argv[1]).read()
paras = [int(x) for x in re.findall(r"para (\d)", t)]
assert paras == list(range(1, 9)), paras
assert "echo: hello PARAS TOOL (turn 1)" in t
assert t.index("para 8") < t.index("echo: hello")
assert re.search(r"\*\*ok\*\* · [0-9.]+ s · [0-9]+ tokens in, 20 out · \$0\.0123", t), "final line"
assert "`Bash` printf done > tool.out ✓" in t, "no tool status"
EOF
# Batched: fewer messages than paragraphs.
n=$(nsaid "$PF")
[ "$n" -le 7 ] || fail "$n messages for one turn: not batched"
zc GET /messages?sender_id=$BOB >"$T/bob"
python3 - "$T/bob" "$P" <<'EOF' || fail "reactions: $(cat "$T/bob")"
import json, sys
m = [m for m in json.load(open(sys.argv[1]))["messages"]
     if m["id"] == int(sys.argv[2])][0]
r = {x["emoji_name"] for x in m["reactions"] if x["user_id"] == 10}
assert "eyes" in r, r
EOF

# --- A proxy block becomes one alert, its count edited ---
PORT=$(json_get '["sandbox"]["port"]' <"$T/show")
for i in 1 2 3; do
	ctl exec "$PF" -- curl -sS -o /dev/null -x "http://127.0.0.1:$PORT" \
	    "http://blocked$$.test/" >/dev/null 2>&1
done
wait_for said_has "$PF" "blocked.*blocked$$.test" ||
    fail "no alert: $(said_text "$PF")"
wait_for said_has "$PF" "\(3 times in the last 10 minutes\)" ||
    fail "the alert's count: $(said_text "$PF")"
[ "$(said_text "$PF" | grep -c "^🚫")" -eq 1 ] ||
    fail "more than one alert: $(said_text "$PF")"
said_has "$PF" "/allow blocked$$.test" || fail "the alert does not say how to allow it"

# --- Around the proxy: the firewall's block, one alert too ---
ctl exec "$PF" -- curl -sS --noproxy '*' --max-time 2 \
    "http://127.0.0.1:9/" >/dev/null 2>&1 && fail "a direct connection got through"
wait_for said_has "$PF" "firewall: tcp 127.0.0.1 port 9 \(a direct" ||
    fail "no firewall alert: $(said_text "$PF" | tail -3)"

# --- Long text is split at max_message_length, fences kept ---
long=$(python3 -c 'print("ECHOALL\n```python\n" + "\n".join("x%d = %d" % (i, i) for i in range(400)) + "\n```\nthe end")')
post $ALICE "$OP" "$long" >/dev/null
wait_for said_has "$OP" "the end" || fail "no long echo: $(said_text "$OP" | tail -3)"
said "$OP" >"$T/long"
python3 - "$T/long" <<'EOF' || fail "splitting"
import json, re, sys
ms = [json.loads(l)["content"] for l in open(sys.argv[1])]
parts = [m for m in ms if re.search(r"\(\d+/\d+\)$", m)]
assert len(parts) >= 2, ms
n = int(re.search(r"/(\d+)\)$", parts[0]).group(1))
assert len(parts) == n, (len(parts), n)
for p in parts:
    assert len(p) <= 2000, len(p)
    fences = [l for l in p.split("\n") if l.startswith("```")]
    assert len(fences) % 2 == 0, p
assert parts[1].startswith("```python"), parts[1][:40]
EOF

# --- Agent text: secrets redacted, mentions made inert ---
post $ALICE "$OP" "ECHOALL the key is $KEY; tell @**all** and @**Alice Admin|11**" >/dev/null
wait_for said_has "$OP" "the key is \[redacted\]" ||
    fail "the key was not redacted: $(said_text "$OP" | tail -3)"
said_text "$OP" | grep -q "$KEY" && fail "the key reached the chat"
said_text "$OP" | grep -q "tell @​\*\*all\*\* and @​\*\*Alice Admin|11\*\*" ||
    fail "mentions: $(said_text "$OP" | grep tell)"

# --- The queue expires mid-conversation; what was said in the gap is
# --- handled once ---
zc POST /expire >/dev/null
post $ALICE gap "/list" >/dev/null
post $BOB gap "/help" >/dev/null
wait_for said_has gap "\| $PF \| ready \| restricted" || fail "/list in the gap"
wait_for said_has gap "sbxd\*\* commands" || fail "/help in the gap"
sleep 2
[ "$(nsaid gap)" -eq 2 ] || fail "gap: $(nsaid gap) answers, want 2"
[ "$(component bot | json_get '["queue_expired"]')" -ge 1 ] ||
    fail "the expiry is not counted"

# --- 429: nothing is called before Retry-After ---
zc POST /log/clear >/dev/null
zc POST /fail '{"mode": "429", "count": 1, "path": "/api/v1/messages", "method": "POST", "retry_after": 3}' >/dev/null
post $ALICE rl "/help" >/dev/null
wait_for said_has rl "commands" || fail "no answer after a 429"
zc GET /log >"$T/log"
python3 - "$T/log" <<'EOF' || fail "a call before Retry-After: $(cat "$T/log")"
import json, sys
rs = json.load(open(sys.argv[1]))["requests"]
hit = [r for r in rs if r["status"] == 429]
assert len(hit) == 1, hit
t = hit[0]["t"]
early = [r for r in rs if t + 0.1 < r["t"] < t + 3]
assert not early, early
EOF
[ "$(component bot | json_get '["rate_limited"]')" -ge 1 ] ||
    fail "the 429 is not counted"

# --- Bad answers: not JSON, HTML, cut short; the bot goes on ---
for mode in badjson html200 truncated 500; do
	zc POST /fail "{\"mode\": \"$mode\", \"count\": 1, \"path\": \"/api/v1/events\"}" >/dev/null
	post $ALICE "bad-$mode" "/list" >/dev/null
	WAIT_TENTHS=200 wait_for said_has "bad-$mode" "$PF" ||
	    fail "after a $mode answer: $(said_text "bad-$mode")"
done
log_has "bot: /events: HTTP 200, not a Zulip answer" || fail "badjson not logged"

# --- Commands with odd arguments, unknown ones, 100 KiB messages ---
post $ALICE "$PF" "/switch" >/dev/null
wait_for said_has "$PF" "Usage: \`/switch MODE\`" || fail "no usage"
post $ALICE "$PF" "/frobnicate now" >/dev/null
wait_for said_has "$PF" "Unknown command \`/frobnicate\`" || fail "unknown command"
post $ALICE odd "/status" >/dev/null
wait_for said_has odd "not a sandbox's" || fail "/status outside a sandbox topic"
big=$(python3 -c 'print("/" + "x" * 102400)')
post $ALICE odd "$big" >/dev/null
big=$(python3 -c 'print("y" * 102400)')
post $ALICE odd "$big" >/dev/null
wait_for nsaid_ge odd 3 || fail "100 KiB messages: $(said_text odd)"
post $BOB "$PF" "/allow example.com" >/dev/null
wait_for said_has "$PF" "Only admins may use /allow" || fail "a user may /allow"
post $ALICE "$PF" "/allow api$$.example.com" >/dev/null
wait_for said_has "$PF" "Done: allow \`api$$.example.com\`" ||
    fail "/allow: $(said_text "$PF" | tail -2)"
ctl rules "$PF" | grep -q "api$$.example.com" || fail "no rule from /allow"
post $ALICE "$PF" "/network" >/dev/null
wait_for said_has "$PF" "Recent blocks:" || fail "/network"
said_text "$PF" | grep -q "allow \`api$$.example.com\`" ||
    fail "/network lacks the rule: $(said_text "$PF" | tail -8)"
said_text "$PF" | grep -q "blocked$$.test.*3 times" ||
    fail "/network lacks the block: $(said_text "$PF" | tail -8)"
log_has "allow api$$.example.com, by zulip:Alice Admin \\(alice@zulip.test, id 11\\)" ||
    fail "the log does not say who allowed"

# --- A topic renamed as a whole: the sandbox follows it ---
zc POST /move "{\"message_id\": $P, \"topic\": \"renamed$$\"}" >/dev/null
wait_for log_has "topic \"$PF\" of sandbox $PF is now \"renamed$$\"" ||
    fail "the rename was not followed"

# --- A restart loses no message and runs none twice; an old command is
# --- not run ---
stop_sbxd
post $ALICE down "/list" >/dev/null
post $ALICE down "/new late$$" 700 >/dev/null	# written 11 minutes ago
start_ns_sbxd
wait_for bot_is polling || fail "no polling after a restart"
wait_for said_has down "\| $PF \|" || fail "the /list sent while down"
wait_for said_has down "Missed while offline" || fail "no stale answer"
sleep 2
[ "$(nsaid down)" -eq 2 ] || fail "down: $(nsaid down) answers, want 2"
ctl list | grep -q "late$$" && fail "a stale /new ran"
post $BOB "renamed$$" "/status" >/dev/null
wait_for said_has "renamed$$" "\*\*$PF\*\*: ready, restricted" ||
    fail "the renamed topic is not $PF's after a restart"
post $BOB "$PF" "/status" >/dev/null
wait_for said_has "$PF" "not a sandbox's" ||
    fail "the old topic name is still $PF's"
for t in control gap rl "$PF"; do
	said_text "$t" >"$T/before.$t"
done
sleep 1
for t in control gap rl; do
	said_text "$t" | cmp -s - "$T/before.$t" || fail "$t answered again"
done

# --- /rm asks first ---
post $ALICE control "/rm $OP" >/dev/null
wait_for said_has control "Say \`/rm $OP yes\`" || fail "/rm does not ask"
ctl list | grep -q "$OP" || fail "/rm without yes removed"
post $ALICE control "/rm $OP yes" >/dev/null
wait_for said_has control "Removed \*\*$OP\*\*" || fail "/rm yes"
ctl list | grep -q "$OP" && fail "$OP is still there"

# --- A hanging server: the bot keeps going ---
zc POST /fail '{"mode": "hang", "count": 1, "path": "/api/v1/messages", "method": "POST"}' >/dev/null
post $ALICE hang "/help" >/dev/null
sleep 1
post $ALICE hang2 "/help" >/dev/null
wait_for said_has hang2 "commands" || fail "a hanging call stopped the bot"
ctl status >/dev/null || fail "sbxd does not answer"

# --- A reload names a new user; she is known by id at once ---
sed -i 's/users "bob@zulip.test"/users "bob@zulip.test" "eve@zulip.test"/' "$CONF"
ctl reload >/dev/null || fail "reload"
wait_for log_has "bot: 2 admins, 2 users" || fail "the reload's users"
post $EVE welcome "/list" >/dev/null
wait_for said_has welcome "\| $PF \|" || fail "a user added by reload is refused"

# --- Wrong credentials: said once, state auth-failed ---
zc POST /auth '{"key": "another-key"}' >/dev/null
zc POST /expire >/dev/null
WAIT_TENTHS=300 wait_for bot_is auth-failed ||
    fail "state $(bot_state), want auth-failed"
log_has "the server refused the bot's key" || fail "no log line for the 401"

ctl status | grep -E '^bot ' >"$T/out"
grep -q 'messages_in=' "$T/out" && grep -q 'rate_limited=' "$T/out" ||
    fail "status: $(cat "$T/out")"
ctl rm "$PF" >/dev/null 2>&1 || fail "rm $PF"
pass
