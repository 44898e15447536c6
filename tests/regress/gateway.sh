# gateway.sh: the credential gateway.  Two restricted sandboxes get the
# four model APIs through their gateways, against
# tests/agent/fake_providers.py over TLS (a CA of the test's own), inside
# a network namespace this test creates.  Checks: the environment points
# each CLI's variables at the gateway with phantom keys; requests reach
# the upstream with the real key injected and the client's credentials
# dropped; usage is read for every provider, streamed and not, and a
# stream cut mid-way is marked and charged; the injected include_usage
# chunk never reaches a client that did not ask for it; wrong keys,
# another sandbox's key and another uid are refused (by the firewall,
# and root, whom the firewall lets through, by the gateway's own check
# of the peer's uid); refused paths; a
# budget answers 429; the real keys appear in no byte the sandbox gets,
# no file of its home and no environment of its processes; a reload
# moves a provider to another upstream; and the real Claude Code CLI
# completes a turn through the gateway.  Needs root.
. "${top_srcdir:-.}/tests/regress/lib.sh"
need_root
for t in ip nft python3 openssl curl useradd; do
	command -v $t >/dev/null || skip "needs $t"
done

uid_block 61160 61169
sandbox_name GA ga
sandbox_name GB gb
FPORT=18743
PPORT=18744

ns_setup
make_ca_cert

# The real keys: unique to the run, never to be seen by a sandbox.
mkdir -p "$T/keys"
for p in anthropic openai google openrouter; do
	printf 'REALKEY-%s-%s-%s\n' "$p" $$ "$(od -An -N8 -tx1 /dev/urandom |
	    tr -d ' \n')" >"$T/keys/$p"
done
chmod 600 "$T"/keys/*
python3 -c 'import json, sys
print(json.dumps({p: open(sys.argv[1] + "/" + p).read().strip()
    for p in ("anthropic", "openai", "google", "openrouter")}))' \
    "$T/keys" >"$T/keys.json"
key() {
	cat "$T/keys/$1"
}

(in_ns python3 "$top_srcdir/tests/agent/fake_providers.py" 127.0.0.1 \
    $FPORT "$T/cert.pem" "$T/key.pem" "$T/up.log" "$(cat "$T/keys.json")" \
    >"$T/fake.out" 2>"$T/fake.err") &
PEER_PIDS="$PEER_PIDS $!"
wait_for grep -q ready "$T/fake.out" ||
    fail "the fake providers did not start: $(cat "$T/fake.err")"

provider_blocks() {
	for p in anthropic openai google openrouter; do
		printf 'provider "%s" {\n\tkey-file "%s"\n' $p "$T/keys/$p"
		printf '\tupstream "https://127.0.0.1:%s"\n' "${1:-$FPORT}"
		printf '\tca-file "%s"\n' "$T/ca.pem"
		[ $p = openrouter ] && printf '\tbudget 300 tokens per day\n'
		printf '}\n'
	done
}

write_conf() {
	{
		cat <<EOF2
policy "default" {
	default block
}
sandbox uid-range $UID_LO $UID_HI
sandbox port-range 960 969
sandbox home "$T/home"
sandbox firewall nftables table "sbxt$$"
sandbox providers "anthropic" "openai" "google" "openrouter"
EOF2
		provider_blocks
		[ -n "${CLAUDE:-}" ] && cat <<EOF2
agent "claude" {
	type claude-code
	path "$CLAUDE"
	env "DISABLE_TELEMETRY" "1"
	env "DISABLE_AUTOUPDATER" "1"
	env "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC" "1"
	mode "build" args "--permission-mode" "bypassPermissions"
	timeout 120s
}
sandbox agent "claude"
EOF2
	} | conf_write
}
CLAUDE=$(command -v claude || true)
write_conf
"$SBXD" -n -f "$CONF" >"$T/out" 2>&1 || fail "config: $(cat "$T/out")"
grep -q REALKEY "$T/out" && fail "sbxd -n printed a key"
start_ns_sbxd
ctl create $GA >"$T/out" 2>&1 || { cat "$T/out"; fail "create $GA"; }
ctl create $GB --provider anthropic >"$T/out" 2>&1 ||
    { cat "$T/out"; fail "create $GB"; }

ctl -j show $GA >"$T/show" || fail "show"
GWA=$(json_get '["sandbox"]["gateway"]' <"$T/show")
case $GWA in
http://127.0.0.1:9[6-9][0-9]) ;;
*) fail "no gateway in show: $(cat "$T/show")" ;;
esac
python3 -c 'import json, sys
s = json.load(open(sys.argv[1]))["sandbox"]
assert s["providers"] == ["anthropic", "openai", "google", "openrouter"], s
assert "phantom" not in json.dumps(s), s' "$T/show" ||
    fail "show: $(cat "$T/show")"
GWB=$(ctl -j show $GB | json_get '["sandbox"]["gateway"]')
[ "$GWB" != "$GWA" ] || fail "two sandboxes, one gateway"
ctl -j show $GB | python3 -c 'import json, sys
assert json.load(sys.stdin)["sandbox"]["providers"] == ["anthropic"]' ||
    fail "--provider anthropic not kept"

# as SANDBOX CMD...: a shell command as the sandbox's user, in its
# environment (the one its agents get).
as() {
	as_n=$1
	shift
	ctl exec "$as_n" -- sh -c "$*"
}

# The environment: base URLs on the gateway, phantom keys, no real key.
as $GA env >"$T/env" || fail "env"
for v in "ANTHROPIC_BASE_URL=$GWA/anthropic" "OPENAI_BASE_URL=$GWA/openai/v1" \
    "GOOGLE_GEMINI_BASE_URL=$GWA/google" \
    "OPENROUTER_BASE_URL=$GWA/openrouter/api/v1" \
    "NO_PROXY=127.0.0.1,localhost,::1"; do
	grep -qx "$v" "$T/env" || fail "no $v: $(cat "$T/env")"
done
grep -Eqx 'ANTHROPIC_API_KEY=sk-ant-sbx-[0-9a-f]{64}' "$T/env" ||
    fail "anthropic phantom key"
grep -Eqx 'OPENAI_API_KEY=sk-sbx-[0-9a-f]{64}' "$T/env" || fail "openai key"
grep -Eqx 'CODEX_API_KEY=sk-sbx-[0-9a-f]{64}' "$T/env" || fail "codex key"
grep -Eqx 'GEMINI_API_KEY=AIza-sbx-[0-9a-f]{64}' "$T/env" || fail "gemini key"
grep -q '^OPENCODE_CONFIG_CONTENT={"provider":{"anthropic":{"options":{"baseURL":"'"$GWA"'/anthropic/v1"' "$T/env" ||
    fail "opencode config: $(grep OPENCODE "$T/env")"
grep -c "ANTHROPIC_API_KEY" "$T/env" | grep -qx 1 || fail "two anthropic keys"
grep -q ANTHROPIC_AUTH_TOKEN "$T/env" && fail "a second anthropic key variable"
grep -q REALKEY "$T/env" && fail "a real key in the environment"
grep -q "ANTHROPIC_BASE_URL" "$T/home/$GA/.sbx/env.sh" 2>/dev/null ||
    grep -rq "ANTHROPIC_BASE_URL" "$T/home/$GA" ||
    fail "the shell profile lacks the gateway"
AKEY=$(sed -n 's/^ANTHROPIC_API_KEY=//p' "$T/env")
OKEY=$(sed -n 's/^OPENAI_API_KEY=//p' "$T/env")
BKEY=$(as $GB 'printf %s "$ANTHROPIC_API_KEY"')
[ -n "$BKEY" ] && [ "$BKEY" != "$AKEY" ] || fail "one phantom for two"

# req SANDBOX ARGS: curl as the sandbox's user; the body in $T/body, the
# head in $T/head; prints the status.
req() {
	r_n=$1
	shift
	as "$r_n" "curl -sS --max-time 30 -D - $*" >"$T/resp" \
	    2>"$T/curl.err"
	r_rc=$?
	python3 -c 'import sys
d = open(sys.argv[1], "rb").read()
i = d.find(b"\r\n\r\n")
open(sys.argv[2], "wb").write(d[:i])
open(sys.argv[3], "wb").write(d[i + 4:])' "$T/resp" "$T/head" "$T/body"
	sed -n '1s/^HTTP\/1.1 \([0-9]*\).*/\1/p' "$T/head"
	return $r_rc
}
up_last() {
	tail -1 "$T/up.log"
}
ANTH='-H "x-api-key: $ANTHROPIC_API_KEY" -H "anthropic-version: 2023-06-01" -H "content-type: application/json"'

# Anthropic, not streamed: the real key upstream, the phantom never.
st=$(req $GA "$ANTH -H \"Authorization: Bearer \$ANTHROPIC_API_KEY\" \
    -H 'Cookie: c=1' -H 'X-Forwarded-For: 10.9.9.9' -d '{\"model\":\"claude-x\",\"max_tokens\":50,\"messages\":[{\"role\":\"user\",\"content\":\"hello gateway one\"}]}' \
    \"\$ANTHROPIC_BASE_URL/v1/messages\"") || fail "anthropic: $(cat "$T/curl.err")"
[ "$st" = 200 ] || fail "anthropic: $st $(cat "$T/body")"
grep -q 'echo: hello gateway one' "$T/body" || fail "anthropic body: $(cat "$T/body")"
up_last | python3 -c 'import json, sys
l = json.loads(sys.stdin.read())
h = l["headers"]
assert l["path"] == "/v1/messages", l
assert h["x-api-key"] == sys.argv[1], h
assert "authorization" not in h and "cookie" not in h, h
assert "x-forwarded-for" not in h, h
assert h.get("accept-encoding") == "identity", h
assert sys.argv[2] not in json.dumps(l), "phantom went upstream"' \
    "$(key anthropic)" "$AKEY" || fail "upstream saw: $(up_last)"

# The same through /anthropic/messages (the AI SDK's shape), streamed.
st=$(req $GA "$ANTH -d '{\"model\":\"claude-x\",\"max_tokens\":50,\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"stream me please\"}]}' \
    \"\$ANTHROPIC_BASE_URL/messages\"") || fail "anthropic stream"
[ "$st" = 200 ] || fail "anthropic stream: $st"
grep -q 'event: message_stop' "$T/body" || fail "stream: $(cat "$T/body")"
grep -qi '^transfer-encoding: chunked' "$T/head" || fail "not chunked"

# OpenAI chat, streamed, without include_usage: the gateway asks for it
# and takes the extra chunk out.
OAI='-H "Authorization: Bearer $OPENAI_API_KEY" -H "content-type: application/json"'
st=$(req $GA "$OAI -d '{\"model\":\"gpt-x\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"count my words now\"}]}' \
    \"\$OPENAI_BASE_URL/chat/completions\"") || fail "openai stream"
[ "$st" = 200 ] || fail "openai stream: $st $(cat "$T/body")"
grep -q 'data: \[DONE\]' "$T/body" || fail "no [DONE]: $(cat "$T/body")"
grep -q '"usage": *{' "$T/body" && fail "the injected usage chunk reached the client"
up_last | python3 -c 'import json, sys
l = json.loads(sys.stdin.read())
assert l["body"]["stream_options"]["include_usage"] is True, l
assert l["headers"]["authorization"] == "Bearer " + sys.argv[1], l' \
    "$(key openai)" || fail "openai upstream: $(up_last)"
# With include_usage asked for, the chunk stays.
st=$(req $GA "$OAI -d '{\"model\":\"gpt-x\",\"stream\":true,\"stream_options\":{\"include_usage\":true},\"messages\":[{\"role\":\"user\",\"content\":\"usage wanted\"}]}' \
    \"\$OPENAI_BASE_URL/chat/completions\"")
grep -q '"usage": *{' "$T/body" || fail "the asked usage chunk is gone"

# OpenAI Responses, not streamed.
st=$(req $GA "$OAI -d '{\"model\":\"gpt-r\",\"input\":\"responses here\"}' \
    \"\$OPENAI_BASE_URL/responses\"")
[ "$st" = 200 ] || fail "responses: $st $(cat "$T/body")"

# Gemini: generate, and a stream with alt=sse; the key never in a URL.
GEM='-H "x-goog-api-key: $GEMINI_API_KEY" -H "content-type: application/json"'
st=$(req $GA "$GEM -d '{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"gemini words\"}]}]}' \
    \"\$GOOGLE_GEMINI_BASE_URL/v1beta/models/gemini-x:generateContent\"")
[ "$st" = 200 ] || fail "gemini: $st $(cat "$T/body")"
st=$(req $GA "$GEM -d '{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"gemini stream\"}]}]}' \
    \"\$GOOGLE_GEMINI_BASE_URL/v1beta/models/gemini-x:streamGenerateContent?alt=sse\"")
[ "$st" = 200 ] || fail "gemini stream: $st $(cat "$T/body")"
st=$(req $GA "-d '{}' \"\$GOOGLE_GEMINI_BASE_URL/v1beta/models/gemini-x:generateContent?key=\$GEMINI_API_KEY\"")
[ "$st" = 400 ] || fail "key in a URL: $st"
grep -q 'key=' "$T/up.log" && fail "a key in an upstream URL"

# OpenRouter, with a cost.
ORK='-H "Authorization: Bearer $OPENROUTER_API_KEY" -H "content-type: application/json"'
st=$(req $GA "$ORK -d '{\"model\":\"or/x\",\"max_tokens\":20,\"messages\":[{\"role\":\"user\",\"content\":\"route me\"}]}' \
    \"\$OPENROUTER_BASE_URL/chat/completions\"")
[ "$st" = 200 ] || fail "openrouter: $st $(cat "$T/body")"

# A stream cut mid-way: the client sees the cut, the row says so.
as $GA "curl -sS --max-time 30 $ANTH -d '{\"model\":\"claude-x\",\"max_tokens\":40,\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"CUT-STREAM now\"}]}' \"\$ANTHROPIC_BASE_URL/v1/messages\"" \
    >"$T/cut.out" 2>"$T/cut.err" && fail "a cut stream ended cleanly: $(cat "$T/cut.out")"
grep -q 'message_start' "$T/cut.out" || fail "nothing before the cut"

# Refusals, each in the provider's shape with x-sbxd-error.
st=$(req $GA "-H 'x-api-key: sk-ant-sbx-wrong' -H 'anthropic-version: 2023-06-01' -d '{}' \"\$ANTHROPIC_BASE_URL/v1/messages\"")
[ "$st" = 401 ] || fail "a wrong key: $st"
grep -qi '^x-sbxd-error: phantom-key' "$T/head" || fail "no reason: $(cat "$T/head")"
grep -q '"type":"error"' "$T/body" || fail "not Anthropic's shape: $(cat "$T/body")"
st=$(req $GA "-H 'x-api-key: $BKEY' -H 'anthropic-version: 2023-06-01' -d '{}' \"\$ANTHROPIC_BASE_URL/v1/messages\"")
[ "$st" = 401 ] || fail "another sandbox's key: $st"
st=$(req $GA "$ANTH -d '{}' \"\$ANTHROPIC_BASE_URL/v1/messages/batches\"")
case $st in 403|404) ;; *) fail "batches: $st" ;; esac
st=$(req $GA "$OAI \"\$OPENAI_BASE_URL/files\"")
[ "$st" = 403 ] || fail "openai files: $st $(cat "$T/body")"
st=$(req $GA "\"$GWA/googlefoo/v1beta/models\"")
[ "$st" = 404 ] || fail "/googlefoo: $st"
st=$(req $GA "\"$GWA/anthropic/../openai/v1/models\" --path-as-is")
[ "$st" = 400 ] || [ "$st" = 404 ] || fail "..: $st"
# B has no OpenAI.
st=$(req $GB "-H 'Authorization: Bearer x' \"$GWB/openai/v1/models\"")
[ "$st" = 403 ] || fail "B reached a provider it lacks: $st"
# Another uid: B's user cannot even connect to A's gateway.
as $GB "curl -sS --max-time 5 -o /dev/null -w '%{http_code}' \"$GWA/anthropic/v1/models\"" \
    >"$T/x.out" 2>&1 && fail "B reached A's gateway: $(cat "$T/x.out")"
UIDB=$(ctl -j show $GB | json_get '["sandbox"]["uid"]')
[ -n "$UIDB" ] || fail "no uid in show $GB"
grep -q "refused a connection from uid $UIDB\$" "$LOG" &&
    fail "B's connection got past the firewall to A's gateway"
# The gateway's own check, the kernel's word (sock_diag) on the uid at
# the other end: the firewall's owner rule for the listener ports
# (sandbox/fw_nft.c) lets the sandbox's uid and root through, so root
# is a client the firewall passes and the gateway alone must refuse.
# curl's 52 (empty reply) or 56 (reset) says the connection was made,
# so it was not the firewall that stopped it.
in_ns curl -sS --noproxy "*" --max-time 5 -o /dev/null \
    "$GWA/anthropic/v1/models" \
    >"$T/x.out" 2>&1
rc=$?
case $rc in
52|56) ;;
0) fail "root was served by A's gateway" ;;
*) fail "root did not connect to A's gateway ($rc): $(cat "$T/x.out")" ;;
esac
wait_for grep -q "gateway $GA: refused a connection from uid 0\$" "$LOG" ||
    fail "no refusal of uid 0 logged: $(grep "gateway $GA" "$LOG" | tail -3)"
component proxy | python3 -c 'import json, sys
assert json.load(sys.stdin)["gateway"]["wrong_uid"] >= 1' ||
    fail "wrong_uid not counted: $(component proxy)"

# HTTP/1.1 edge cases, byte by byte (tests/regress/gw_client.py).
cp "$top_srcdir/tests/regress/gw_client.py" "$T/gw_client.py"
as $GA python3 "$T/gw_client.py" >"$T/edge.out" 2>&1 ||
    fail "edge cases: $(cat "$T/edge.out")"
[ "$(grep -c '^ok ' "$T/edge.out")" -eq 10 ] ||
    fail "edge cases: $(cat "$T/edge.out")"
# Upstream connections are kept: fewer connections than requests.
python3 -c 'import json, sys
ls = [json.loads(l) for l in open(sys.argv[1])]
conns = {l["conn"] for l in ls}
assert len(conns) < len(ls) / 2, (len(conns), len(ls))' "$T/up.log" ||
    fail "no upstream connection was reused"

# The budget: openrouter allows 300 tokens a day per sandbox.
n=0
while [ $n -lt 40 ]; do
	st=$(req $GA "$ORK -d '{\"model\":\"or/x\",\"max_tokens\":20,\"messages\":[{\"role\":\"user\",\"content\":\"spend\"}]}' \
	    \"\$OPENROUTER_BASE_URL/chat/completions\"")
	[ "$st" = 429 ] && break
	[ "$st" = 200 ] || fail "budget run: $st $(cat "$T/body")"
	n=$((n + 1))
done
[ "$st" = 429 ] || fail "no 429 after $n requests"
grep -qi '^retry-after: [0-9]' "$T/head" || fail "no Retry-After"
grep -qi '^x-sbxd-error: budget' "$T/head" || fail "not budget: $(cat "$T/head")"

# Usage, as sbxctl reports it.
ctl -j usage $GA >"$T/usage" || fail "usage"
python3 - "$T/usage" <<'EOF2' || fail "usage: $(cat "$T/usage")"
import json, sys
u = json.load(open(sys.argv[1]))
rows = {(r["provider"], r["model"]): r for r in u["usage"]}
def row(p, m):
    assert (p, m) in rows, (p, m, sorted(rows))
    return rows[(p, m)]
a = row("anthropic", "claude-x")
assert a["requests"] >= 3, a
assert a["input"] > 0 and a["output"] > 0, a
assert a["truncated"] == 2, a
o = row("openai", "gpt-x")
assert o["requests"] == 2 and o["output"] == 14 and o["usage_missing"] == 0, o
r = row("openai", "gpt-r")
assert r["output"] == 7, r
g = row("google", "gemini-x")
assert g["requests"] >= 2 and g["output"] > 0, g
orr = row("openrouter", "or/x")
assert orr["cost"] and orr["cost"] > 0, orr
b = [x for x in u["budgets"] if x["provider"] == "openrouter"]
assert b and b[0]["budget"] == 300 and b[0]["charged"] > 0, u["budgets"]
EOF2
ctl usage $GA >"$T/usage.txt" || fail "usage text"
grep -q "anthropic" "$T/usage.txt" || fail "usage text: $(cat "$T/usage.txt")"

# No real key in any byte the sandbox holds or got.
grep -rqF "$(key anthropic)" "$T/home/$GA" "$T/home/$GB" &&
    fail "a real key in a home"
for p in anthropic openai google openrouter; do
	grep -qF "$(key $p)" "$T/resp" "$T/cut.out" "$T/env" &&
	    fail "the $p key reached the sandbox"
	as $GA "cat /proc/self/environ; cat /proc/\$\$/cmdline" | grep -qF "$(key $p)" &&
	    fail "the $p key in a sandbox process"
done
grep -qF "$(key anthropic)" "$LOG" && fail "a key in the log"

# A reload moves anthropic to another upstream (the Claude Code peer,
# tests/agent/anthropic_peer.py, over TLS) with another key; the real
# CLI completes a turn with a tool through the gateway.
if [ -n "$CLAUDE" ]; then
	(in_ns python3 "$top_srcdir/tests/agent/anthropic_peer.py" 127.0.0.1 \
	    $PPORT "$T/cert.pem" "$T/key.pem" >"$T/peer.out" \
	    2>"$T/peer.log") &
	PEER_PIDS="$PEER_PIDS $!"
	wait_for grep -q ready "$T/peer.out" || fail "the claude peer"
	sed -i "/provider \"anthropic\"/,/}/ s/:$FPORT\"/:$PPORT\"/" "$CONF"
	# The peer knows one key: a reload rereads the key file too.
	printf 'sk-ant-sbxd-test\n' >"$T/keys/anthropic"
	ctl reload >"$T/out" 2>&1 || fail "reload: $(cat "$T/out")"
	ctl ask $GA "please WRITE-FILE gw.txt through-the-gateway" \
	    >"$T/ask.out" 2>"$T/ask.err" || {
		cat "$T/ask.out" "$T/ask.err" "$T/peer.log"
		fail "claude's turn through the gateway"; }
	grep -q "wrote gw.txt" "$T/ask.out" || fail "turn: $(cat "$T/ask.out")"
	[ "$(cat "$T/home/$GA/gw.txt")" = through-the-gateway ] ||
	    fail "the tool did not run"
	grep -qF '"key": "sk-ant-sbxd-test"' "$T/peer.log" ||
	    fail "the peer did not get the real key: $(head -c 600 "$T/peer.log")"
	grep -qF "$AKEY" "$T/peer.log" && fail "the phantom reached the peer"
	# The turn's figures are the gateway's: every call of the CLI.
	ctl -j usage $GA >"$T/usage2" || fail "usage after the turn"
	python3 - "$T/events" "$T/usage2" <<'EOF3' ||
import json, sys
done = [e for e in map(json.loads, open(sys.argv[1]))
        if e.get("type") == "agent.done"][-1]
assert done["usage_from"] == "gateway", done
assert done["gateway_requests"] >= 1, done
rows = [r for r in json.load(open(sys.argv[2]))["usage"]
        if r["provider"] == "anthropic" and r["model"] != "claude-x"]
assert done["tokens_in"] == sum(r["input"] for r in rows), (done, rows)
assert done["tokens_out"] == sum(r["output"] for r in rows), (done, rows)
assert done["tokens_in"] > 0 and done["tokens_out"] > 0, done
EOF3
	    fail "agent.done: $(grep agent.done "$T/events" | tail -1)"
fi

ctl rm $GA >/dev/null 2>&1 || fail "rm $GA"
ctl rm $GB >/dev/null 2>&1 || fail "rm $GB"
pass
