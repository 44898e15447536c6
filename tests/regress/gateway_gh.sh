# gateway_gh.sh: gh through the credential gateway.  A restricted
# sandbox with one GitHub repository gets ~/.sbx/bin/gh, first in its
# PATH, which relays gh pr create, list and view to its gateway's /gh/;
# tests/agent/fake_github.py (git's smart HTTP and a small REST API
# behind TLS, a CA of the test's own) stands for GitHub, inside a network
# namespace this test creates.  Checks: gh is the shim, has no token to
# show and refuses gh api; a pull request made with gh's own flags
# (--title and --body, --fill, --body-file, --draft) arrives upstream
# with the token and nothing of the sandbox's key; gh pr list and view
# show it as gh does; a head branch outside the push globs and another
# repository are refused before the upstream hears of them; a wrong key
# is refused; GitHub's own refusal is shown; the token is nowhere the
# sandbox can read.  Needs root and git.
. "${top_srcdir:-.}/tests/regress/lib.sh"
need_root
for t in ip nft python3 openssl curl useradd git; do
	command -v $t >/dev/null || skip "needs $t"
done

uid_block 61180 61189
sandbox_name SG gh
GPORT=18746

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
sandbox port-range 930 939
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
H=$T/home/$SG

# as CMD: CMD as the sandbox user, in its home, its env.sh sourced, its
# stdout and stderr apart; every output is kept for the token check.
as() {
	ctl exec $SG -- sh -c "cd \$HOME && . ./.sbx/env.sh && export GIT_TERMINAL_PROMPT=0 && $*"
}
N=0
gh_run() {
	N=$((N + 1))
	as "$@" >"$T/o" 2>"$T/e"
	rc=$?
	cp "$T/o" "$T/out.$N"
	cp "$T/e" "$T/err.$N"
	return $rc
}
# pulls: how many pull requests the upstream was asked to make.
pulls() {
	grep -c '"method": "POST", "path": "/repos/octo/demo/pulls"' \
	    "$T/gh.log" || true
}
# upstream_pull N: the Nth pull request creation the upstream saw, as
# JSON, with its authorization.
upstream_pull() {
	python3 -c 'import json, sys
n = 0
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["method"] == "POST" and r["path"] == "/repos/octo/demo/pulls":
        n += 1
        if n == int(sys.argv[2]):
            r["json"]["authorization"] = r["headers"].get("authorization")
            print(json.dumps(r["json"]))' "$T/gh.log" "$1"
}

# gh is the shim, in the jobs' PATH and in env.sh's.
[ "$(as 'command -v gh')" = "$H/.sbx/bin/gh" ] || fail "gh: $(as 'command -v gh')"
[ "$(ctl exec $SG -- sh -c 'PATH=/usr/bin:/bin; . ~/.sbx/env.sh; command -v gh')" = \
    "$H/.sbx/bin/gh" ] || fail "env.sh does not put gh in PATH"
[ "$(ctl exec $SG -- sh -c 'command -v gh')" = "$H/.sbx/bin/gh" ] ||
    fail "the job's PATH does not have gh"
[ "$(stat -c %a "$H/.sbx/bin/gh")" = 700 ] || fail "mode of gh"
cmp -s "$H/.sbx/bin/gh" "$top_srcdir/sandbox/gh.sh" ||
    fail "~/.sbx/bin/gh is not sandbox/gh.sh"
as 'env' | grep -E '^(GH_TOKEN|GITHUB_TOKEN|GH_ENTERPRISE_TOKEN)=' &&
    fail "a GitHub token variable is set"
gh_run "gh auth token" && fail "gh auth token succeeded"
[ -s "$T/o" ] && fail "gh auth token printed: $(cat "$T/o")"
grep -q "no GitHub token" "$T/e" || fail "gh auth token: $(cat "$T/e")"
gh_run "gh api /user" && fail "gh api succeeded"
grep -q "not available in this sandbox" "$T/e" ||
    fail "gh api: $(cat "$T/e")"
gh_run "gh auth status" || fail "gh auth status: $(cat "$T/e")"
grep -q "No GitHub token exists in this sandbox" "$T/o" ||
    fail "gh auth status: $(cat "$T/o")"

# A clone, a branch of its own pushed, and its pull request.
B=sbx/$SG/feat
as "git clone -q https://github.com/octo/demo.git demo" >"$T/o" 2>&1 ||
    fail "clone: $(cat "$T/o")"
as "cd demo && git checkout -q -b $B && echo more >>README && git -c user.name=s -c user.email=s@s commit -qam more && git push -q origin $B" \
    >"$T/o" 2>&1 || fail "push $B: $(cat "$T/o")"
gh_run "cd demo && gh pr create --title T1 --body B1" ||
    fail "gh pr create: $(cat "$T/e")"
printf 'https://github.com/octo/demo/pull/1\n' | cmp -s - "$T/o" ||
    fail "gh pr create printed: $(cat "$T/o")"
[ "$(pulls)" = 1 ] || fail "the upstream saw $(pulls) creations"
upstream_pull 1 | python3 -c 'import json, sys
p = json.load(sys.stdin)
assert p["head"] in (sys.argv[1], "octo:" + sys.argv[1]), p
assert p["base"] == "main" and p["title"] == "T1", p
assert p.get("body") == "B1", p
assert not p.get("draft"), p
assert p["authorization"] in ("Bearer " + sys.argv[2],
    "token " + sys.argv[2]), p' "$B" "$TOKEN" ||
    fail "upstream: $(upstream_pull 1)"
grep -q 'sbx-git' "$T/gh.log" && fail "the sandbox's key went upstream"
grep '"type":"gateway.pr"' "$LOG" | grep -q '"repo":"octo/demo","number":1,"head":"'"$B"'","base":"main","url":"https://github.com/octo/demo/pull/1"' ||
    fail "no gateway.pr event: $(grep gateway.pr "$LOG")"

# gh pr list and view, as gh prints them without a terminal.
gh_run "cd demo && gh pr list" || fail "gh pr list: $(cat "$T/e")"
grep -q "^1	T1	$B	OPEN" "$T/o" || fail "gh pr list: $(cat "$T/o")"
for v in "gh pr view" "gh pr view 1" \
    "gh pr view https://github.com/octo/demo/pull/1" "gh pr view $B"; do
	gh_run "cd demo && $v" || fail "$v: $(cat "$T/e")"
	grep -q '^title:	T1$' "$T/o" || fail "$v: $(cat "$T/o")"
	grep -q '^url:	https://github.com/octo/demo/pull/1$' "$T/o" ||
	    fail "$v: $(cat "$T/o")"
	grep -q '^state:	OPEN$' "$T/o" || fail "$v: $(cat "$T/o")"
done
gh_run "gh pr view 1 -R octo/demo --json number,url,headRefName" ||
    fail "gh pr view --json: $(cat "$T/e")"
python3 -c 'import json, sys
p = json.load(open(sys.argv[1]))
assert p == {"number": 1, "url": "https://github.com/octo/demo/pull/1",
    "headRefName": sys.argv[2]}, p' "$T/o" "$B" ||
    fail "gh pr view --json: $(cat "$T/o")"
gh_run "cd demo && gh pr list --json number,title,isDraft" ||
    fail "gh pr list --json: $(cat "$T/e")"
python3 -c 'import json, sys
l = json.load(open(sys.argv[1]))
assert l == [{"number": 1, "title": "T1", "isDraft": False}], l' "$T/o" ||
    fail "gh pr list --json: $(cat "$T/o")"

# --fill: the title and body of HEAD's commit.
B2=sbx/$SG/two
as "cd demo && git checkout -q -b $B2 main && echo two >two && git add two && git -c user.name=s -c user.email=s@s commit -q -m 'Second change' -m 'Why: a test.' && git push -q origin $B2" \
    >"$T/o" 2>&1 || fail "push $B2: $(cat "$T/o")"
gh_run "cd demo && gh pr create --fill" || fail "--fill: $(cat "$T/e")"
printf 'https://github.com/octo/demo/pull/2\n' | cmp -s - "$T/o" ||
    fail "--fill printed: $(cat "$T/o")"
upstream_pull 2 | python3 -c 'import json, sys
p = json.load(sys.stdin)
assert p["title"] == "Second change", p
assert p.get("body") == "Why: a test.", p
assert p["head"] in (sys.argv[1], "octo:" + sys.argv[1]), p' "$B2" ||
    fail "--fill upstream: $(upstream_pull 2)"

# --body-file, --draft and --base, with -H rather than the branch.
B3=sbx/$SG/three
as "cd demo && git checkout -q -b $B3 main && echo three >three && git add three && git -c user.name=s -c user.email=s@s commit -qm three && git push -q origin $B3 && git checkout -q main && printf 'From a file, with \"quotes\" & more.\\n' >../body.md" \
    >"$T/o" 2>&1 || fail "push $B3: $(cat "$T/o")"
gh_run "cd demo && gh pr create -H $B3 -B main -t T3 --body-file ../body.md --draft" ||
    fail "--body-file: $(cat "$T/e")"
printf 'https://github.com/octo/demo/pull/3\n' | cmp -s - "$T/o" ||
    fail "--body-file printed: $(cat "$T/o")"
upstream_pull 3 | python3 -c 'import json, sys
p = json.load(sys.stdin)
assert p["title"] == "T3" and p["base"] == "main", p
assert p.get("body") == "From a file, with \"quotes\" & more.\n", p
assert p.get("draft") is True, p' || fail "--draft upstream: $(upstream_pull 3)"
gh_run "cd demo && gh pr list" || fail "gh pr list: $(cat "$T/e")"
grep -q "^3	T3	$B3	DRAFT" "$T/o" || fail "no draft: $(cat "$T/o")"
grep -q "^2	Second change	$B2	OPEN" "$T/o" || fail "no 2: $(cat "$T/o")"
gh_run "gh pr list -R octo/demo -L 1" || fail "-L 1: $(cat "$T/e")"
[ "$(wc -l <"$T/o")" -eq 1 ] || fail "-L 1 gave: $(cat "$T/o")"

# Refused by the gateway: a head outside the push globs, another
# repository, a wrong key.  The upstream hears of none of them.
n=$(pulls)
gh_run "cd demo && gh pr create -H main -t x" && fail "a pull request from main"
grep -q '^sbxd: ' "$T/e" || fail "no refusal shown: $(cat "$T/e")"
grep -Eq 'main|branch' "$T/e" ||
    fail "the refusal does not name the branch: $(cat "$T/e")"
[ "$(pulls)" = "$n" ] || fail "the upstream saw the refused head"
gh_run "gh pr create -R octo/other -H $B -t x" && fail "a pull request in octo/other"
grep -q '^sbxd: ' "$T/e" || fail "octo/other: $(cat "$T/e")"
gh_run "gh pr list -R octo/other" && fail "listed octo/other"
grep -q '^sbxd: ' "$T/e" || fail "octo/other: $(cat "$T/e")"
grep -q 'octo/other' "$T/gh.log" && fail "the upstream heard of octo/other"
st=$(as "curl -sS --noproxy '*' -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer sbx-git-0000' \"\$SBXD_GH_URL/pr/list?repo=octo/demo\"")
[ "$st" = 401 ] || fail "a wrong key: $st"
st=$(as "curl -sS --noproxy '*' -o /dev/null -w '%{http_code}' \"\$SBXD_GH_URL/pr/list?repo=octo/demo\"")
[ "$st" = 401 ] || fail "no key: $st"
st=$(as "SBXD_GH_KEY=sbx-git-$(printf '%064d' 0) gh pr list -R octo/demo" 2>&1)
[ $? -ne 0 ] || fail "gh with a wrong key: $st"
[ "$(pulls)" = "$n" ] || fail "the upstream saw a refused request"

# GitHub's own refusals, shown as GitHub gave them.
gh_run "cd demo && gh pr create -H sbx/$SG/nope -t x" &&
    fail "a pull request from a branch that does not exist"
grep -q 'Validation Failed' "$T/e" || fail "422: $(cat "$T/e")"
[ -s "$T/o" ] && fail "422 on stdout: $(cat "$T/o")"
gh_run "cd demo && gh pr create -H $B -t again" &&
    fail "a second pull request for $B"
gh_run "cd demo && gh pr view 99" && fail "gh pr view 99"

# The shim's own refusals never reach the gateway.
gh_run "cd demo && gh pr create -b body-without-title" && fail "no title"
gh_run "cd demo && gh pr view 1 --jq .number" && fail "--jq"
gh_run "cd demo && gh pr merge 1" && fail "gh pr merge"
grep -q "not available in this sandbox" "$T/e" || fail "merge: $(cat "$T/e")"

# The token is nowhere the sandbox can read, nor in what gh printed.
grep -rqF "$TOKEN" "$H" && fail "the token in the home"
cat "$T"/out.* "$T"/err.* | grep -qF "$TOKEN" && fail "the token in gh's output"
as "cat /proc/self/environ" | grep -qF "$TOKEN" &&
    fail "the token in the environment"
grep -qF "$TOKEN" "$LOG" && fail "the token in the log"

ctl rm $SG >/dev/null 2>&1 || fail "rm $SG"
pass
