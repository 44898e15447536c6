# proxy_ask.sh: a policy with "ask" holds a request no rule decides and
# asks about it.  The client waits and the upstream sees nothing until
# sbxctl approve answers once, always or deny; an unanswered question
# expires with 403 ask-timeout; identical requests join one question; a
# held client that leaves frees its slot; a rule set meanwhile ends the
# question; a flood of questions is refused with ask-limit; explicit
# blocks and refused address classes are never asked about.
. "${top_srcdir:-.}/tests/regress/lib.sh"

HELPER=$top_srcdir/tests/regress/ask_client.py
U=$$
PA=$(free_port)		# most checks
PF=$(free_port)		# the flood (its own per-minute question budget)
PS=$(free_port)		# policy "short": expiry
WP=$(free_port)		# HTTP upstream that logs every request
EP=$(free_port)		# TCP echo that logs every connection
LA=127.0.0.1:$PA
LF=127.0.0.1:$PF
LS=127.0.0.1:$PS
UPLOG=$T/upstream.log
ECHOLOG=$T/echo.log

FLOOD=
i=1
while [ $i -le 15 ]; do
	FLOOD="$FLOOD flood$i-$U.test"
	i=$((i + 1))
done
cat >"$T/hosts" <<EOF2
127.0.0.1 web$U.test post$U.test deny$U.test slow$U.test tun$U.test
127.0.0.1 leave$U.test rule$U.test blocked$U.test
127.0.0.1 $FLOOD
EOF2
conf_write <<EOF2
resolver hosts-file "$T/hosts"
policy "asker" {
	loopback yes
	ports $WP $EP
	block "blocked$U.test"
	ask 10s once 3s
}
policy "short" {
	loopback yes
	ports $WP
	ask 3s
}
proxy listen on 127.0.0.1 port $PA policy "asker"
proxy listen on 127.0.0.1 port $PF policy "asker"
proxy listen on 127.0.0.1 port $PS policy "short"
EOF2

# start_helper KIND PORT LOG: an ask_client.py server, once it listens.
start_helper() {
	python3 "$HELPER" "$1" 127.0.0.1 "$2" "$3" >"$T/helper.$1" 2>&1 &
	PEER_PIDS="$PEER_PIDS $!"
	wait_for grep -q ready "$T/helper.$1" ||
	    fail "ask_client.py $1 did not start: $(cat "$T/helper.$1")"
}

# bg_curl NAME LISTENER URL [CURL ARGS]: curl through LISTENER in the
# background; $T/NAME.code gets "CODE SECONDS" when it ends, $T/NAME.head
# the response head(s), $T/NAME.body the body.  Killed at the end.
bg_curl() {
	bn=$1 bl=$2 bu=$3
	shift 3
	curl -sS -x "http://$bl" --max-time 25 -D "$T/$bn.head" \
	    -o "$T/$bn.body" -w '%{http_code} %{time_total}\n' "$@" "$bu" \
	    >"$T/$bn.code" 2>"$T/$bn.err" &
	BG=$!
	PEER_PIDS="$PEER_PIDS $BG"
}

# fg_curl NAME LISTENER URL [CURL ARGS]: the same, waiting for it.
fg_curl() {
	bg_curl "$@"
	wait "$BG"
}

# code NAME / secs NAME: the status and the time of curl NAME.
code() { cut -d' ' -f1 "$T/$1.code"; }
secs() { cut -d' ' -f2 "$T/$1.code"; }

# quick NAME: curl NAME got its answer in less than 2 seconds.
quick() {
	awk -v s="$(secs "$1")" 'BEGIN { exit !(s < 2) }'
}

# block_reason NAME: the X-Sbx-Block header curl NAME received.
block_reason() {
	sed -n 's/^[Xx]-[Ss]bx-[Bb]lock: *\([^[:space:]]*\).*/\1/p' \
	    "$T/$1.head" | tail -1
}

# The checks below read sbxctl's one-line JSON with grep and sed, not
# python, whose start costs most of a second on a loaded machine.

# asks_of LISTENER: the open questions of LISTENER, one JSON object a
# line (they hold no nested objects).
asks_of() {
	ctl -j asks "$1" | tr '{' '\n' | grep '"host":'
}

# asks_n LISTENER: how many questions are open on LISTENER.
asks_n() {
	asks_of "$1" | wc -l | tr -d ' '
}

# field NAME: the value of NAME in the JSON object on stdin, unquoted.
field() {
	sed -n "s/.*\"$1\":\(\"[^\"]*\"\|[^,}]*\).*/\1/p" | tr -d '"'
}

# ask_of LISTENER HOST FIELD: FIELD of the open question about HOST.
ask_of() {
	asks_of "$1" | grep -F "\"host\":\"$2\"," | field "$3"
}

# ask_is LISTENER HOST FIELD VALUE: the open question about HOST has it.
ask_is() {
	[ "$(ask_of "$1" "$2" "$3" 2>/dev/null)" = "$4" ]
}

# ev_count TYPE [KEY=VALUE ...]: the number of events of TYPE in
# $T/events with these fields (a value of digits, or null, is matched
# as a JSON number, or null; any other as a string).
ev_count() {
	ec_pat="\"type\":\"$1\""
	shift
	ec_cmd="grep -F '$ec_pat' '$T/events'"
	for kv in "$@"; do
		k=${kv%%=*} v=${kv#*=}
		case $v in
		null|*[!0-9]*)
			[ "$v" = null ] && p="\"$k\":null" || p="\"$k\":\"$v\""
			ec_cmd="$ec_cmd | grep -F '$p'"
			;;
		*)
			ec_cmd="$ec_cmd | grep -E '\"$k\":${v}[,}]'"
			;;
		esac
	done
	eval "$ec_cmd" | wc -l | tr -d ' '
}

# ev_seen TYPE [KEY=VALUE ...]: at least one such event.
ev_seen() {
	[ "$(ev_count "$@")" -ge 1 ]
}

# asks_stat KEY: a counter of the proxy's asks in sbxctl status.
asks_stat() {
	ctl -j status | grep -o '"asks":{[^}]*}' | head -1 | field "$1"
}

# held_session HOST: sbxctl sessions lists a held session to HOST.
held_session() {
	ctl sessions | awk -v d="$1:" '$4 == "held" && index($NF, d) == 1 {
	    f = 1 } END { exit !f }'
}

# no_session HOST: sbxctl sessions lists none to HOST.
no_session() {
	! ctl sessions | grep -q "$1"
}

start_events() {
	"$SBXCTL" -s "$SOCK" -j events >>"$T/events" 2>&1 &
	PEER_PIDS="$PEER_PIDS $!"
	wait_for followers_at_least 1 ||
	    fail "the events follower did not connect"
}

start_helper upstream "$WP" "$UPLOG"
start_helper echo "$EP" "$ECHOLOG"
start_sbxd
start_events

# 4 (started first, checked later: it takes the ask time): nobody
# answers within 3 s: 403 ask-timeout, and proxy.decided "expired".
bg_curl slow "$LS" "http://slow$U.test:$WP/slow"
SLOW=$BG

# 1. A GET nobody allows waits, and the upstream sees nothing.
bg_curl t1 "$LA" "http://web$U.test:$WP/one"
C1=$BG
wait_for ask_is "$LA" "web$U.test" waiting 1 || fail "no question for GET"
sleep 1
kill -0 "$C1" 2>/dev/null || fail "held GET ended: $(cat "$T/t1.code" \
    "$T/t1.err")"
[ "$(asks_n "$LA")" = 1 ] || fail "asks: $(ctl -j asks "$LA")"
ID1=$(ask_of "$LA" "web$U.test" id)
[ "$(ask_of "$LA" "web$U.test" destination)" = "web$U.test:$WP" ] ||
    fail "destination: $(ctl -j asks "$LA")"
[ "$(ask_of "$LA" "web$U.test" method)" = GET ] || fail "method"
[ "$(ask_of "$LA" "web$U.test" port)" = "$WP" ] || fail "port"
ctl asks "$LA" >"$T/asks.txt" || fail "sbxctl asks"
grep -Eq "^$ID1 .* GET +web$U\.test:$WP +1 " "$T/asks.txt" ||
    fail "sbxctl asks: $(cat "$T/asks.txt")"
ctl rules "$LA" >"$T/rules1" || fail "sbxctl rules"
grep -Eq "^asking:" "$T/rules1" &&
    grep -Eq "#$ID1 +GET web$U\.test:$WP, 1 waiting" "$T/rules1" ||
    fail "rules asking: $(cat "$T/rules1")"
[ "$(ev_count proxy.ask id="$ID1" host="web$U.test" port="$WP" \
    destination="web$U.test:$WP" method=GET)" = 1 ] || fail "no proxy.ask"
[ ! -s "$UPLOG" ] || fail "upstream saw a held request: $(cat "$UPLOG")"
APPROVED=$(date +%s.%N)
ctl approve "$ID1" once >"$T/approve1" 2>&1 || fail "approve once: \
$(cat "$T/approve1")"
grep -q "question $ID1" "$T/approve1" || fail "approve: $(cat "$T/approve1")"
wait "$C1"
[ "$(code t1)" = 200 ] || fail "approved GET: $(cat "$T/t1.code" "$T/t1.err")"
[ "$(cat "$T/t1.body")" = "upstream /one" ] || fail "body: $(cat "$T/t1.body")"
[ "$(wc -l <"$UPLOG")" -eq 1 ] || fail "upstream log: $(cat "$UPLOG")"
awk -v t="$APPROVED" '$2 == "GET" && $3 == "/one" && $1 >= t { f = 1 }
    END { exit !f }' "$UPLOG" ||
    fail "upstream request not after the approval at $APPROVED: $(cat "$UPLOG")"
wait_for ev_seen proxy.decided id="$ID1" decision=once \
    rule="web$U.test:$WP" || fail "no proxy.decided once"
ctl rules "$LA" >"$T/rules2"
grep -Eq "^allow +web$U\.test:$WP .*expires" "$T/rules2" ||
    fail "once rule: $(cat "$T/rules2")"
ASKED=$(asks_stat asked)
fg_curl t1b "$LA" "http://web$U.test:$WP/two"
[ "$(code t1b)" = 200 ] && quick t1b || fail "within once: $(cat "$T/t1b.code")"
[ "$(asks_stat asked)" = "$ASKED" ] || fail "asked again within once"
[ "$(ev_count proxy.ask host="web$U.test")" = 1 ] || fail "a second proxy.ask"
[ "$(wc -l <"$UPLOG")" -eq 2 ] || fail "upstream log: $(cat "$UPLOG")"

# 4, checked: the question of the short policy expired.
wait "$SLOW"
[ "$(code slow)" = 403 ] || fail "expiry: $(cat "$T/slow.code" "$T/slow.err")"
[ "$(block_reason slow)" = ask-timeout ] || fail "expiry: $(cat "$T/slow.head")"
awk -v s="$(secs slow)" 'BEGIN { exit !(s >= 2.5 && s < 6) }' ||
    fail "expired after $(secs slow) s, not 3"
wait_for ev_seen proxy.decided host="slow$U.test" decision=expired ||
    fail "no proxy.decided expired"
[ "$(ev_count proxy.ask host="slow$U.test" seconds=3)" = 1 ] ||
    fail "proxy.ask of the short policy"
grep -q "upstream /slow" "$UPLOG" && fail "upstream saw an expired request"
[ "$(asks_n "$LS")" = 0 ] || fail "expired question still open"
[ "$(asks_stat expired)" -ge 1 ] || fail "status: expired not counted"

# 1, continued: once the allow once went, the same request is asked
# about again, with a new question.
WAIT_TENTHS=60 wait_for ev_seen proxy.rule.expired \
    pattern="web$U.test:$WP" || fail "the once rule did not go"
ctl rules "$LA" | grep -Eq "^allow +web$U\.test:$WP " &&
    fail "once rule still listed"
bg_curl t1c "$LA" "http://web$U.test:$WP/three"
C1C=$BG
wait_for ask_is "$LA" "web$U.test" waiting 1 ||
    fail "not asked again after the once time: $(cat "$T/t1c.code")"
ID1C=$(ask_of "$LA" "web$U.test" id)
[ "$ID1C" != "$ID1" ] || fail "the same question id $ID1 again"
[ "$(ev_count proxy.ask host="web$U.test")" = 2 ] || fail "no new proxy.ask"
[ "$(wc -l <"$UPLOG")" -eq 2 ] || fail "upstream saw /three before approval"
ctl approve "$ID1C" once >/dev/null || fail "approve again"
wait "$C1C"
[ "$(code t1c)" = 200 ] || fail "second approval: $(cat "$T/t1c.code")"

# 2. A held POST with 100 KB, approved always, arrives intact; the rule
# has no expiry (and survives a restart, at the end).
head -c 102400 /dev/urandom >"$T/post.bin"
SUM=$(sha256sum "$T/post.bin" | cut -d' ' -f1)
bg_curl t2 "$LA" "http://post$U.test:$WP/post" --data-binary "@$T/post.bin" \
    -H 'Content-Type: application/octet-stream'
C2=$BG
wait_for ask_is "$LA" "post$U.test" waiting 1 || fail "no question for POST"
ID2=$(ask_of "$LA" "post$U.test" id)
[ "$(ask_of "$LA" "post$U.test" method)" = POST ] || fail "POST method"
sleep 0.5
grep -q POST "$UPLOG" && fail "upstream saw a held POST"
ctl approve "$ID2" always >/dev/null || fail "approve always"
wait "$C2"
[ "$(code t2)" = 200 ] || fail "approved POST: $(cat "$T/t2.code" "$T/t2.err")"
[ "$(cat "$T/t2.body")" = "102400 $SUM" ] ||
    fail "POST body changed: $(cat "$T/t2.body"), sent 102400 $SUM"
grep -q " POST /post 102400 $SUM\$" "$UPLOG" || fail "upstream: $(cat "$UPLOG")"
ctl rules "$LA" >"$T/rules3"
grep -Eq "^allow +post$U\.test:$WP " "$T/rules3" ||
    fail "always rule: $(cat "$T/rules3")"
grep -E "^allow +post$U\.test:$WP " "$T/rules3" | grep -q expires &&
    fail "always rule expires: $(cat "$T/rules3")"
grep -Eq "#$ID2 +POST post$U\.test:$WP always .* by uid $(id -u)" \
    "$T/rules3" || fail "decisions: $(cat "$T/rules3")"

# 3. deny: 403 denied; then 403 policy at once, not asked again.
bg_curl t3 "$LA" "http://deny$U.test:$WP/deny"
C3=$BG
wait_for ask_is "$LA" "deny$U.test" waiting 1 || fail "no question for deny"
ID3=$(ask_of "$LA" "deny$U.test" id)
ctl approve "$ID3" deny >/dev/null || fail "approve deny"
wait "$C3"
[ "$(code t3)" = 403 ] || fail "denied: $(cat "$T/t3.code" "$T/t3.err")"
[ "$(block_reason t3)" = denied ] || fail "denied: $(cat "$T/t3.head")"
ASKED=$(asks_stat asked)
fg_curl t3b "$LA" "http://deny$U.test:$WP/again"
[ "$(code t3b)" = 403 ] && quick t3b || fail "after deny: $(cat "$T/t3b.code")"
[ "$(block_reason t3b)" = policy ] || fail "after deny: $(cat "$T/t3b.head")"
[ "$(asks_stat asked)" = "$ASKED" ] || fail "asked again after deny"
[ "$(ev_count proxy.ask host="deny$U.test")" = 1 ] || fail "asked again"
grep -q "/deny\|/again" "$UPLOG" && fail "upstream saw a denied request"
ctl rules "$LA" | grep -Eq "^block +deny$U\.test:$WP " || fail "deny rule"

# 5. 50 CONNECTs to one host and port: one question, all go on.
python3 "$HELPER" connect "$LA" "tun$U.test:$EP" 50 >"$T/conn.out" 2>&1 &
CONN=$!
PEER_PIDS="$PEER_PIDS $CONN"
wait_for grep -q "^sent 50" "$T/conn.out" ||
    fail "connect: $(cat "$T/conn.out")"
wait_for ask_is "$LA" "tun$U.test" waiting 50 ||
    fail "50 CONNECTs: $(ctl -j asks "$LA")"
[ "$(asks_n "$LA")" = 1 ] || fail "asks: $(ctl -j asks "$LA")"
[ "$(ask_of "$LA" "tun$U.test" method)" = CONNECT ] || fail "CONNECT method"
[ "$(ev_count proxy.ask host="tun$U.test")" = 1 ] || fail "proxy.ask count"
[ "$(asks_stat held)" = 50 ] || fail "status held"
[ ! -s "$ECHOLOG" ] || fail "echo server reached before approval"
ID5=$(ask_of "$LA" "tun$U.test" id)
ctl approve "$ID5" once >/dev/null || fail "approve CONNECT"
wait "$CONN"
[ "$(grep -c ' 200 echo$' "$T/conn.out")" = 50 ] ||
    fail "tunnels: $(grep -v ' 200 echo$' "$T/conn.out")"
[ "$(wc -l <"$ECHOLOG")" -eq 50 ] || fail "echo log: $(wc -l <"$ECHOLOG")"
wait_for ev_seen proxy.decided id="$ID5" decision=once waiting=50 ||
    fail "proxy.decided for 50"

# 6. A held client that leaves frees its slot; the question stays, and
# another client joins it.
bg_curl t6a "$LA" "http://leave$U.test:$WP/a"
C6=$BG
wait_for ask_is "$LA" "leave$U.test" waiting 1 || fail "no question for leave"
ID6=$(ask_of "$LA" "leave$U.test" id)
held_session "leave$U.test" || fail "sessions: $(ctl sessions)"
ctl sessions | grep -Eq " held .* leave$U\.test:$WP\$" ||
    fail "sessions: $(ctl sessions)"
kill "$C6"
WAIT_TENTHS=20 wait_for ask_is "$LA" "leave$U.test" waiting 0 ||
    fail "waiting after leaving: $(ctl -j asks "$LA")"
WAIT_TENTHS=20 wait_for no_session "leave$U.test" ||
    fail "the left session is listed: $(ctl sessions)"
held_session "leave$U.test" && fail "held session after leaving"
[ "$(ask_of "$LA" "leave$U.test" id)" = "$ID6" ] || fail "question gone"
WAIT_TENTHS=25 wait_for ev_seen proxy.waiting id="$ID6" waiting=0 ||
    fail "no proxy.waiting 0"
[ "$(asks_stat held)" = 0 ] || fail "status held after leaving"
bg_curl t6b "$LA" "http://leave$U.test:$WP/b"
C6B=$BG
wait_for ask_is "$LA" "leave$U.test" joined 2 || fail "did not join"
[ "$(ask_of "$LA" "leave$U.test" waiting)" = 1 ] || fail "waiting 1"
[ "$(ask_of "$LA" "leave$U.test" id)" = "$ID6" ] || fail "a new question"
ctl approve "$ID6" once >/dev/null || fail "approve after leaving"
wait "$C6B"
[ "$(code t6b)" = 200 ] || fail "joined: $(cat "$T/t6b.code" "$T/t6b.err")"
[ "$(cat "$T/t6b.body")" = "upstream /b" ] || fail "joined body"
grep -q " GET /a " "$UPLOG" && fail "the request of the left client went on"

# 10. A rule set while a question is open ends it.
bg_curl t10 "$LA" "http://rule$U.test:$WP/rule"
C10=$BG
wait_for ask_is "$LA" "rule$U.test" waiting 1 || fail "no question for rule"
ID10=$(ask_of "$LA" "rule$U.test" id)
ctl allow "$LA" "rule$U.test:$WP" >/dev/null || fail "allow"
wait "$C10"
[ "$(code t10)" = 200 ] && quick t10 ||
    fail "held GET after allow: $(cat "$T/t10.code" "$T/t10.err")"
[ "$(cat "$T/t10.body")" = "upstream /rule" ] || fail "body after allow"
wait_for ev_seen proxy.decided id="$ID10" decision=rule ||
    fail "no proxy.decided rule"
[ "$(asks_n "$LA")" = 0 ] || fail "asks left: $(ctl -j asks "$LA")"

# 7. Bad input.
ctl approve 999999 once >"$T/out" 2>"$T/err" && fail "unknown id accepted"
grep -q "^sbxctl: no question 999999$" "$T/err" || fail "$(cat "$T/err")"
ctl approve "$ID1" always >"$T/out" 2>"$T/err" && fail "decided id accepted"
CLOSED="question $ID1 (GET web$U\.test:$WP) is closed: once by uid $(id -u)"
grep -q "^sbxctl: $CLOSED\$" "$T/err" || fail "$(cat "$T/err")"
ctl approve "$ID3" once >"$T/out" 2>"$T/err" && fail "denied id accepted"
grep -q "is closed: deny by uid" "$T/err" || fail "$(cat "$T/err")"
ctl approve "$ID1C" maybe >"$T/out" 2>"$T/err" && fail "bad decision accepted"
grep -q "usage: sbxctl approve" "$T/err" || fail "$(cat "$T/err")"
ctl approve abc once >"$T/out" 2>"$T/err" && fail "bad id accepted"
grep -q '"abc" is not a question id' "$T/err" || fail "$(cat "$T/err")"
ctl approve 0 once >"$T/out" 2>"$T/err" && fail "id 0 accepted"
grep -q '"0" is not a question id' "$T/err" || fail "$(cat "$T/err")"
ctl approve "$ID1" >"$T/out" 2>"$T/err" && fail "no decision accepted"
grep -q "usage: sbxctl approve" "$T/err" || fail "$(cat "$T/err")"
ctl asks 127.0.0.1:1 >"$T/out" 2>"$T/err" && fail "asks of no listener"
grep -q 'no listener "127.0.0.1:1"' "$T/err" || fail "$(cat "$T/err")"
ctl status >/dev/null || fail "sbxd does not answer after bad input"

# 9. Never asked: a policy block rule, an address of a refused class.
ASKED=$(asks_stat asked)
fg_curl t9a "$LA" "http://blocked$U.test:$WP/"
[ "$(code t9a)" = 403 ] && quick t9a || fail "blocked: $(cat "$T/t9a.code")"
[ "$(block_reason t9a)" = policy ] || fail "blocked: $(cat "$T/t9a.head")"
fg_curl t9b "$LA" "http://10.1.2.3/"
[ "$(code t9b)" = 403 ] && quick t9b || fail "private: $(cat "$T/t9b.code")"
[ "$(block_reason t9b)" = private ] || fail "private: $(cat "$T/t9b.head")"
fg_curl t9c "$LA" "http://10.1.2.3:$WP/"
[ "$(code t9c)" = 403 ] && quick t9c || fail "private: $(cat "$T/t9c.code")"
[ "$(block_reason t9c)" = private ] || fail "private: $(cat "$T/t9c.head")"
curl -sS -x "http://$LA" -p --max-time 10 -D "$T/t9d.head" -o /dev/null \
    -w '%{http_connect} %{time_total}\n' "https://10.1.2.4/" \
    >"$T/t9d.code" 2>/dev/null
[ "$(code t9d)" = 403 ] && quick t9d ||
    fail "private CONNECT: $(cat "$T/t9d.code")"
[ "$(block_reason t9d)" = private ] ||
    fail "private CONNECT: $(cat "$T/t9d.head")"
[ "$(asks_stat asked)" = "$ASKED" ] || fail "a refused request was asked"
[ "$(asks_n "$LA")" = 0 ] || fail "asks: $(ctl -j asks "$LA")"
[ "$(ev_count proxy.ask host="blocked$U.test")" = 0 ] || fail "asked: blocked"
[ "$(ev_count proxy.ask host=10.1.2.3)" = 0 ] || fail "asked: 10.1.2.3"
[ "$(ev_count proxy.ask host=10.1.2.4)" = 0 ] || fail "asked: 10.1.2.4"

# 8. A flood of 15 names at once on a listener of its own: 10 are asked
# (per listener in any minute), the others get 403 ask-limit at once.
LIMITED=$(asks_stat limited)
FLOODED=
for h in $FLOOD; do
	bg_curl "f-$h" "$LF" "http://$h:$WP/flood"
	FLOODED="$FLOODED $BG"
done
flood_done() {
	n=0
	for h in $FLOOD; do
		[ -s "$T/f-$h.code" ] && n=$((n + 1))
	done
	[ $n -ge "$1" ]
}
flood_held() {
	[ "$(asks_of "$LF" | grep -c '"waiting":1,')" = "$1" ]
}
WAIT_TENTHS=50 wait_for flood_done 5 || fail "flood: fewer than 5 answers"
WAIT_TENTHS=50 wait_for flood_held 10 ||
    fail "flood: $(ctl -j asks "$LF")"
NQ=$(asks_n "$LF")
[ "$NQ" -le 10 ] || fail "flood: $NQ questions"
[ "$NQ" -eq 10 ] || fail "flood: $NQ questions, not 10"
sleep 0.3
NL=0
for h in $FLOOD; do
	[ -s "$T/f-$h.code" ] || continue
	[ "$(code "f-$h")" = 403 ] || fail "flood $h: $(cat "$T/f-$h.code")"
	[ "$(block_reason "f-$h")" = ask-limit ] ||
	    fail "flood $h: $(cat "$T/f-$h.head")"
	quick "f-$h" || fail "flood $h: ask-limit after $(secs "f-$h") s"
	NL=$((NL + 1))
done
[ $NL -eq 5 ] || fail "flood: $NL refused, not 5"
[ "$(asks_stat limited)" -ge $((LIMITED + 5)) ] || fail "limited not counted"
grep -q " /flood " "$UPLOG" && fail "upstream saw a flood request"
# Refused questions were not counted in a way that blocks LA.
[ "$(asks_n "$LA")" = 0 ] || fail "flood spilled over to $LA"

# 2, continued: the always rule survives a restart; no question.
stop_sbxd
for p in $FLOODED; do
	kill "$p" 2>/dev/null
done
start_sbxd
start_events
fg_curl t2b "$LA" "http://post$U.test:$WP/post" --data-binary "@$T/post.bin" \
    -H 'Content-Type: application/octet-stream'
[ "$(code t2b)" = 200 ] && quick t2b ||
    fail "always after restart: $(cat "$T/t2b.code" "$T/t2b.err")"
[ "$(cat "$T/t2b.body")" = "102400 $SUM" ] || fail "POST after restart"
[ "$(asks_stat asked)" = 0 ] || fail "asked after restart"
[ "$(asks_n "$LA")" = 0 ] || fail "asks after restart"
ctl rules "$LA" | grep -Eq "^allow +post$U\.test:$WP " ||
    fail "always rule lost on restart"
fg_curl t3c "$LA" "http://deny$U.test:$WP/again"
[ "$(code t3c)" = 403 ] && [ "$(block_reason t3c)" = policy ] ||
    fail "deny lost on restart: $(cat "$T/t3c.code")"
# Decisions are in the store: sbxctl rules -j lists them after a restart.
ctl -j rules "$LA" | python3 -c "import json, sys
d = {x['id']: x for x in json.load(sys.stdin)['decisions']}
assert d[$ID2]['decision'] == 'always', d[$ID2]
assert d[$ID2]['method'] == 'POST' and d[$ID2]['host'] == 'post$U.test'
assert d[$ID2]['port'] == $WP and d[$ID2]['waiting'] == 1
assert d[$ID3]['decision'] == 'deny'
assert d[$ID5]['waiting'] == 50, d[$ID5]
assert d[$ID10]['decision'] == 'rule', d[$ID10]
" || fail "stored decisions: $(ctl -j rules "$LA")"
stop_sbxd
pass
