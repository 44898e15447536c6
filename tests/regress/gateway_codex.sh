# gateway_codex.sh: the real Codex CLI through the credential gateway.
# A restricted sandbox with the OpenAI provider gets a ~/.codex/config.toml
# whose first lines make the gateway Codex's model provider without
# WebSockets; tests/agent/fake_openai.py, over TLS with a CA of the test's
# own, stands for OpenAI's Responses API inside a network namespace this
# test creates.  Checks: codex exec completes a turn and runs a tool,
# over HTTP only, with the real key upstream and never in the sandbox;
# the built-in provider, for contrast, tries a WebSocket first.  Needs
# root and codex.
. "${top_srcdir:-.}/tests/regress/lib.sh"
need_root
for t in ip nft python3 openssl curl useradd; do
	command -v $t >/dev/null || skip "needs $t"
done
CODEX=$(command -v codex) || skip "needs codex (npm i -g @openai/codex)"

uid_block 61220 61229
sandbox_name SC cx
OPORT=18750

ns_setup
make_ca_cert

mkdir -p "$T/keys"
KEY="REALKEY-openai-$$-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
printf '%s\n' "$KEY" >"$T/keys/openai"
chmod 600 "$T/keys/openai"

(in_ns python3 "$top_srcdir/tests/agent/fake_openai.py" --port $OPORT \
    --tls "$T/cert.pem" "$T/key.pem" >"$T/fake.out" 2>"$T/up.log") &
PEER_PIDS="$PEER_PIDS $!"
wait_for grep -q "^$OPORT\$" "$T/fake.out" ||
    fail "the fake OpenAI did not start: $(cat "$T/up.log")"

conf_write <<EOF2
policy "default" {
	default block
}
sandbox uid-range $UID_LO $UID_HI
sandbox port-range 760 769
sandbox home "$T/home"
sandbox firewall nftables table "sbxt$$"
sandbox providers "openai"
provider "openai" {
	key-file "$T/keys/openai"
	upstream "https://127.0.0.1:$OPORT"
	ca-file "$T/ca.pem"
}
EOF2
"$SBXD" -n -f "$CONF" >"$T/out" 2>&1 || fail "config: $(cat "$T/out")"
start_ns_sbxd
ctl create $SC >"$T/out" 2>&1 || { cat "$T/out"; fail "create $SC"; }
H=$T/home/$SC
GW=$(ctl -j show $SC | json_get '["sandbox"]["gateway"]')
[ -n "$GW" ] || fail "no gateway"

as() {
	ctl exec $SC -- sh -c "cd \$HOME && . ./.sbx/env.sh && $*"
}

# Codex's provider is the gateway, without WebSockets.
grep -qxF "model_provider = \"sbxd\"" "$H/.codex/config.toml" ||
    fail "config.toml: $(cat "$H/.codex/config.toml")"
grep -qF "base_url = \"$GW/openai/v1\"" "$H/.codex/config.toml" ||
    fail "config.toml: $(cat "$H/.codex/config.toml")"
grep -qF "supports_websockets = false" "$H/.codex/config.toml" ||
    fail "config.toml: $(cat "$H/.codex/config.toml")"

# A turn with a tool, HTTP only.
as "mkdir -p work && cd work && timeout 120 $CODEX exec --json --skip-git-repo-check --dangerously-bypass-approvals-and-sandbox 'please WRITE-FILE cx.txt through-the-gateway'" \
    >"$T/o" 2>"$T/e" || fail "codex exec: $(tail -5 "$T/e") $(tail -3 "$T/o")"
[ "$(cat "$H/work/cx.txt" 2>/dev/null)" = through-the-gateway ] ||
    fail "the tool did not run: $(tail -5 "$T/o")"
grep -q '"type":"turn.completed"' "$T/o" || fail "no turn.completed: $(tail -3 "$T/o")"
grep -q '"method": "POST", "path": "/v1/responses"' "$T/up.log" ||
    fail "no Responses call upstream: $(cat "$T/up.log")"
grep -qi '"upgrade": "websocket"' "$T/up.log" &&
    fail "a WebSocket reached the upstream"
log_has "gateway $SC: .* websocket" && fail "codex asked for a WebSocket"
python3 -c 'import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r.get("method") == "POST":
        assert r["auth"] == ("Bearer " + sys.argv[2])[:16], r' \
    "$T/up.log" "$KEY" || fail "upstream auth: $(grep POST "$T/up.log" | head -2)"

grep -q "WebSocket" "$T/e" && fail "codex tried a WebSocket: $(grep WebSocket "$T/e" | head -2)"
log_has "gateway $SC: .*cut" && fail "a cut response: $(grep cut "$LOG")"

# The built-in provider, for contrast, which cannot be told
# supports_websockets = false: it tries a WebSocket first, five times.
as "cd work && timeout 120 $CODEX exec --json --skip-git-repo-check -c model_provider=openai 'hello there'" \
    >"$T/o" 2>"$T/e"
grep -q "Responses WebSocket" "$T/e" ||
    fail "the built-in provider tried no WebSocket: the contrast shows nothing"

# The real key is nowhere the sandbox can read.
grep -rqF "$KEY" "$H" && fail "the key in the home"
as "cat /proc/self/environ" | grep -qF "$KEY" && fail "the key in the environment"
grep -qF "$KEY" "$LOG" && fail "the key in the log"

ctl rm $SC >/dev/null 2>&1 || fail "rm $SC"
pass
