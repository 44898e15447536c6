# gateway_git.sh: git through the credential gateway.  A restricted
# sandbox with one GitHub repository clones, fetches and pushes with its
# own git and the plain https://github.com/ URL, which its environment
# leads to its gateway; tests/agent/fake_github.py (real `git
# http-backend` behind TLS, a CA of the test's own) stands for GitHub,
# inside a network namespace this test creates.  Checks: the token is
# added upstream and never reaches the sandbox; pushes to its own
# branches work, 50 MB included; a push to main, a delete and a tag are
# refused before the upstream sees the push; another repository is
# refused; a request without the sandbox's key is refused; the sandbox's
# proxy refuses github.com.  Needs root and git.
. "${top_srcdir:-.}/tests/regress/lib.sh"
need_root
for t in ip nft python3 openssl curl useradd git; do
	command -v $t >/dev/null || skip "needs $t"
done

uid_block 61170 61179
sandbox_name SG gg
GPORT=18745

ns_setup
make_ca_cert

TOKEN="ghp_REALTOKEN$$$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
mkdir -p "$T/keys"
printf '%s\n' "$TOKEN" >"$T/keys/github"
chmod 600 "$T/keys/github"

# GitHub's side: octo/demo with a commit on main, and octo/other.
github_fake $GPORT "$TOKEN"

conf_write <<EOF2
policy "default" {
	default block
}
sandbox uid-range $UID_LO $UID_HI
sandbox port-range 950 959
sandbox home "$T/home"
sandbox firewall nftables table "sbxt$$"
github {
	token-file "$T/keys/github"
	upstream "https://127.0.0.1:$GPORT"
	api-upstream "https://127.0.0.1:$GPORT"
	ca-file "$T/ca.pem"
}
EOF2
"$SBXD" -n -f "$CONF" >"$T/out" 2>&1 || fail "config: $(cat "$T/out")"
start_ns_sbxd
ctl create $SG --repo octo/demo >"$T/out" 2>&1 ||
    { cat "$T/out"; fail "create $SG"; }
ctl -j show $SG >"$T/show" || fail "show"
GW=$(json_get '["sandbox"]["gateway"]' <"$T/show")
[ -n "$GW" ] || fail "no gateway: $(cat "$T/show")"
python3 -c 'import json, sys
s = json.load(open(sys.argv[1]))["sandbox"]
assert s["repos"] == ["octo/demo"], s
assert s["push_branches"] == ["refs/heads/sbx/" + sys.argv[2] + "/*"], s' \
    "$T/show" $SG || fail "show: $(cat "$T/show")"

as() {
	ctl exec $SG -- sh -c "cd \$HOME && export GIT_TERMINAL_PROMPT=0 && $*"
}
posts() {
	grep -c '"method": "POST".*git-receive-pack' "$T/gh.log" || true
}

# Clone with GitHub's own URL: the environment leads git to the gateway.
as "GIT_TRACE_CURL=1 GIT_TRACE_CURL_NO_DATA=1 timeout 60 git clone -q https://github.com/octo/demo.git demo" >"$T/o" 2>&1 ||
    fail "clone: $(cat "$T/o")"
[ "$(cat "$T/home/$SG/demo/README")" = hello ] || fail "clone content"
python3 -c 'import base64, json, sys
for l in open(sys.argv[1]):
    h = json.loads(l)["headers"]
    a = h.get("authorization", "")
    assert a == "Basic " + base64.b64encode(
        ("x-access-token:" + sys.argv[2]).encode()).decode(), a
    assert "sbx-git" not in json.dumps(h), h' "$T/gh.log" "$TOKEN" ||
    fail "the upstream did not get the token alone: $(tail -1 "$T/gh.log")"

# A push to its own branch.
B="sbx/$SG/feature"
as "cd demo && echo more >>README && git -c user.name=s -c user.email=s@s commit -qam more && git push -q origin HEAD:$B" \
    >"$T/o" 2>&1 || fail "push to $B: $(cat "$T/o")"
[ "$(git --git-dir "$T/gh/octo/demo.git" rev-parse "$B")" = \
    "$(git -c safe.directory="*" -C "$T/home/$SG/demo" rev-parse HEAD)" ] ||
    fail "$B did not arrive"
grep -q '"refs": \[{"old"' "$T/gh.log" || true

# Refused before the upstream sees the push: main, a delete, a tag.
n=$(posts)
as "cd demo && git push origin HEAD:main" >"$T/o" 2>&1 &&
    fail "a push to main went through"
grep -q "remote: sbxd: push refused" "$T/o" ||
    fail "git did not show why: $(cat "$T/o")"
grep -q "remote unpack failed: sbxd" "$T/o" || fail "unpack: $(cat "$T/o")"
as "cd demo && git push origin :$B" >"$T/o" 2>&1 &&
    fail "a delete went through"
as "cd demo && git tag v1 && git push origin v1" >"$T/o" 2>&1 &&
    fail "a tag went through"
[ "$(posts)" = "$n" ] || fail "the upstream saw a refused push"
git --git-dir "$T/gh/octo/demo.git" rev-parse -q --verify "$B" >/dev/null ||
    fail "the delete happened"
[ "$(git --git-dir "$T/gh/octo/demo.git" rev-parse main)" = \
    "$(git -C "$T/seed" rev-parse HEAD)" ] || fail "main moved"
git --git-dir "$T/gh/octo/demo.git" rev-parse -q --verify v1 >/dev/null &&
    fail "the tag arrived"
log_has "git push octo/demo: 403" || fail "no refusal in the log"

# 50 MB through the relay.
as "cd demo && head -c 50000000 /dev/urandom >big && git add big && git -c user.name=s -c user.email=s@s commit -qm big && git push -q origin HEAD:sbx/$SG/big" \
    >"$T/o" 2>&1 || fail "50 MB push: $(cat "$T/o")"
[ "$(git --git-dir "$T/gh/octo/demo.git" cat-file -s "sbx/$SG/big:big")" = \
    50000000 ] || fail "the 50 MB file did not arrive"
as "cd demo && git fetch -q origin && git -c protocol.version=2 fetch -q origin" \
    >"$T/o" 2>&1 || fail "fetch: $(cat "$T/o")"

# Another repository, and no key.
as "git clone -q https://github.com/octo/other.git other" >"$T/o" 2>&1 &&
    fail "cloned a repository the sandbox does not have"
grep -q 'octo/other' "$T/gh.log" && fail "the upstream heard of octo/other"
st=$(as "curl -sS -o /dev/null -w '%{http_code}' '$GW/git/octo/demo.git/info/refs?service=git-upload-pack'")
[ "$st" = 401 ] || fail "no key: $st"
st=$(as "curl -sS -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer sbx-git-0000' '$GW/git/octo/demo.git/info/refs?service=git-upload-pack'")
[ "$st" = 401 ] || fail "a wrong key: $st"

# Its proxy refuses GitHub, whatever its rules.
ctl allow $SG github.com >/dev/null 2>&1 || fail "allow github.com"
as "curl -sS -D - -o /dev/null http://github.com/octo/demo" >"$T/o" 2>&1
grep -qi '^x-sbx-block: github-gateway' "$T/o" ||
    fail "the proxy let GitHub through: $(cat "$T/o")"

# The token is nowhere the sandbox can read.
grep -rqF "$TOKEN" "$T/home/$SG" && fail "the token in the home"
as "cat /proc/self/environ" | grep -qF "$TOKEN" &&
    fail "the token in the environment"
grep -qF "$TOKEN" "$LOG" && fail "the token in the log"

ctl rm $SG >/dev/null 2>&1 || fail "rm $SG"
pass
