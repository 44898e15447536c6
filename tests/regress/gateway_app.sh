# gateway_app.sh: GitHub through the credential gateway with a GitHub App
# instead of a token.  The config names the App (app-id, installation-id
# and its private key); tests/agent/fake_github.py stands for GitHub with
# the App installed on octo, checking the App's RS256 JWT with its public
# key, inside a network namespace this test creates.  Checks: the first
# git request of a sandbox asks for one installation token, narrowed to
# its repository and to contents and pull requests, and git and gh use
# it; the JWT and the token never reach the sandbox; a reload asks again;
# a token about to expire is refused; an App key GitHub does not know
# fails with GitHub's own reason.  Needs root and git.
. "${top_srcdir:-.}/tests/regress/lib.sh"
need_root
for t in ip nft python3 openssl curl useradd git; do
	command -v $t >/dev/null || skip "needs $t"
done

uid_block 61210 61219
sandbox_name SG ga
GPORT=18749
APPID=31337
INST=4242

ns_setup
make_ca_cert

# The App's key, as GitHub gives it, and another GitHub does not know.
mkdir -p "$T/keys"
(umask 077 && openssl genrsa -out "$T/keys/app.pem" 2048 2>/dev/null &&
    openssl genrsa -out "$T/keys/other.pem" 2048 2>/dev/null) ||
    fail "App keys"
openssl rsa -in "$T/keys/app.pem" -pubout -out "$T/app.pub" 2>/dev/null ||
    fail "App public key"
# The fake's own token: nobody may ever use it here.
UNUSED="ghp_UNUSED$$$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
echo 3600 >"$T/ttl"

FAKE_GITHUB_APP="$APPID:$INST:octo:$T/app.pub:$T/ttl"
export FAKE_GITHUB_APP
github_fake $GPORT "$UNUSED"
unset FAKE_GITHUB_APP

write_conf() {
	conf_write <<EOF2
policy "default" {
	default block
}
sandbox uid-range $UID_LO $UID_HI
sandbox port-range 780 789
sandbox home "$T/home"
sandbox firewall nftables table "sbxt$$"
github {
	app-id $APPID
	installation-id $INST
	app-key-file "$T/keys/$1"
	upstream "https://127.0.0.1:$GPORT"
	api-upstream "https://127.0.0.1:$GPORT"
	ca-file "$T/ca.pem"
}
EOF2
}
write_conf app.pem
"$SBXD" -n -f "$CONF" >"$T/out" 2>&1 || fail "config: $(cat "$T/out")"
start_ns_sbxd
ctl create $SG --repo octo/demo >"$T/out" 2>&1 ||
    { cat "$T/out"; fail "create $SG"; }
H=$T/home/$SG

as() {
	ctl exec $SG -- sh -c "cd \$HOME && . ./.sbx/env.sh && export GIT_TERMINAL_PROMPT=0 && $*"
}
# mints: the token requests the fake answered 201.
mints() {
	grep '"kind": "app"' "$T/gh.log" | grep -c '"status": 201' || true
}
# tokens: the distinct tokens git and the REST API were sent.
tokens() {
	python3 -c 'import base64, json, sys
seen = []
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["kind"] not in ("git", "rest"):
        continue
    a = r["headers"].get("authorization", "")
    if a.startswith("Basic "):
        a = base64.b64decode(a[6:]).decode().partition(":")[2]
    else:
        a = a.partition(" ")[2]
    if a not in seen:
        seen.append(a)
print("\n".join(seen))' "$T/gh.log"
}

# git and gh on one installation token, asked for once.
B=sbx/$SG/feat
as "git clone -q https://github.com/octo/demo.git demo && cd demo && git checkout -q -b $B && echo more >>README && git -c user.name=s -c user.email=s@s commit -qam more && git push -q origin $B" \
    >"$T/o" 2>&1 || fail "clone and push: $(cat "$T/o")"
[ "$(git --git-dir "$T/gh/octo/demo.git" rev-parse "$B")" = \
    "$(git -c safe.directory="*" -C "$H/demo" rev-parse HEAD)" ] ||
    fail "$B did not arrive"
as "cd demo && gh pr create -t T1 -b B1" >"$T/o" 2>&1 ||
    fail "gh pr create: $(cat "$T/o")"
grep -qx 'https://github.com/octo/demo/pull/1' "$T/o" ||
    fail "gh pr create printed: $(cat "$T/o")"
[ "$(mints)" = 1 ] || fail "$(mints) token requests, not 1"
tokens >"$T/tokens"
[ "$(wc -l <"$T/tokens")" = 1 ] || fail "tokens sent: $(cat "$T/tokens")"
TOK=$(cat "$T/tokens")
case $TOK in ghs_*) ;; *) fail "not an installation token: $TOK" ;; esac
python3 -c 'import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["kind"] != "app":
        continue
    assert r["auth"] is True, r
    assert r["path"] == "/app/installations/%s/access_tokens" % sys.argv[2], r
    assert r["json"] == {"repositories": ["demo"], "permissions": {
        "contents": "write", "pull_requests": "write",
        "metadata": "read"}}, r["json"]
    assert r["headers"]["authorization"].startswith("Bearer ey"), r' \
    "$T/gh.log" $INST || fail "the token request: $(grep '"app"' "$T/gh.log")"
log_has "gateway $SG: GitHub installation token, expires" ||
    fail "no log line for the token"

# A reload forgets the token: the next exchange asks again.
ctl reload >"$T/out" 2>&1 || fail "reload: $(cat "$T/out")"
as "cd demo && git fetch -q origin" >"$T/o" 2>&1 ||
    fail "fetch after reload: $(cat "$T/o")"
[ "$(mints)" = 2 ] || fail "$(mints) token requests after a reload, not 2"

# A token with less than five minutes left is not used.
echo 200 >"$T/ttl"
ctl reload >"$T/out" 2>&1 || fail "reload: $(cat "$T/out")"
as "cd demo && git fetch -q origin" >"$T/o" 2>&1 &&
    fail "a fetch with a token about to expire"
log_has "no GitHub installation token: GitHub's token expires too soon" ||
    fail "no log line for the short token"
as "cd demo && gh pr list" >"$T/o" 2>"$T/e" && fail "gh with a short token"
grep -q "expires too soon" "$T/e" || fail "gh: $(cat "$T/e")"
echo 3600 >"$T/ttl"

# An App key GitHub does not know: GitHub's reason, and no token.
write_conf other.pem
ctl reload >"$T/out" 2>&1 || fail "reload: $(cat "$T/out")"
n=$(mints)
as "cd demo && gh pr list" >"$T/o" 2>"$T/e" && fail "gh with a wrong App key"
grep -q "JSON web token" "$T/e" || fail "gh: $(cat "$T/e")"
[ "$(mints)" = "$n" ] || fail "a token for a key GitHub does not know"

# Back to the App's key: it works again.
write_conf app.pem
ctl reload >"$T/out" 2>&1 || fail "reload: $(cat "$T/out")"
as "cd demo && gh pr list" >"$T/o" 2>&1 || fail "gh pr list: $(cat "$T/o")"
grep -q "^1	T1	$B	OPEN" "$T/o" || fail "gh pr list: $(cat "$T/o")"

# The key, the JWTs and the tokens are nowhere the sandbox can read.
for tok in $(tokens); do
	grep -rqF "$tok" "$H" && fail "a token in the home"
	as "cat /proc/self/environ" | grep -qF "$tok" &&
	    fail "a token in the environment"
	grep -qF "$tok" "$LOG" && fail "a token in the log"
done
python3 -c 'import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["kind"] == "app":
        print(r["headers"]["authorization"][7:])' "$T/gh.log" >"$T/jwts"
while read -r jwt; do
	grep -rqF "$jwt" "$H" "$LOG" && fail "a JWT in the home or the log"
done <"$T/jwts"
grep -q "PRIVATE KEY" -r "$H" && fail "a private key in the home"
grep -qF "$UNUSED" "$T/gh.log" && fail "the fake's own token was used"

ctl rm $SG >/dev/null 2>&1 || fail "rm $SG"
pass
