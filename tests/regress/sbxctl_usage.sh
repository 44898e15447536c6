# sbxctl_usage.sh: sbxctl usage, and create's and show's providers,
# repositories and push globs, against a stand-in control socket that
# keeps each request line and answers with a canned reply.  --since
# sends the store's time form (UTC, milliseconds) for an RFC 3339 time,
# "today" and a duration ago, and refuses anything else with the usage
# status; the table has a line per row, a total, "-" for a missing cost,
# and the budgets; -j prints the reply as it came.  --repo and
# --push-branches are checked before anything is sent.  Needs no root
# and no sbxd.
. "${top_srcdir:-.}/tests/regress/lib.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || skip "needs python3"

cat >"$T/fake.py" <<'EOF2'
import socket, sys
path, reply, reqs = sys.argv[1:4]
s = socket.socket(socket.AF_UNIX)
s.bind(path)
s.listen(8)
print("ready", flush=True)
while True:
    c, _ = s.accept()
    f = c.makefile("rwb")
    line = f.readline()
    with open(reqs, "ab") as r:
        r.write(line)
    with open(reply, "rb") as r:
        f.write(r.read())
    f.flush()
    c.close()
EOF2
# The next reply: $1, or standard input joined into one line.
reply() {
	if [ $# -gt 0 ]; then
		printf '%s\n' "$1" >"$T/reply"
	else
		tr -d '\n' >"$T/reply"
		echo >>"$T/reply"
	fi
}
# The last request line sent.
sent() {
	tail -1 "$T/reqs"
}
reply '{"ok": true}'
: >"$T/reqs"
("$PY" "$T/fake.py" "$SOCK" "$T/reply" "$T/reqs" >"$T/fake.out" 2>&1) &
PEER_PIDS="$PEER_PIDS $!"
wait_for grep -q ready "$T/fake.out" || fail "no stand-in: $(cat "$T/fake.out")"
ctl() {
	"$SBXCTL" -s "$SOCK" "$@"
}
TIME='"since":"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.000Z"'

# Requests.
ctl usage >/dev/null || fail "usage: status $?"
[ "$(sent)" = '{"command":"usage"}' ] || fail "usage sent $(sent)"
ctl usage one --since 2026-12-05T10:00:00Z >/dev/null || fail "usage one"
[ "$(sent)" = \
    '{"command":"usage","name":"one","since":"2026-12-05T10:00:00.000Z"}' ] ||
    fail "usage one --since sent $(sent)"
ctl usage --since 2026-12-05T11:30:00.25+01:30 one >/dev/null ||
    fail "usage with an offset"
sent | grep -q '"since":"2026-12-05T10:00:00.250Z"' ||
    fail "an offset sent $(sent)"
ctl usage --since 2026-12-05T10:00Z >/dev/null || fail "usage without seconds"
sent | grep -q '"since":"2026-12-05T10:00:00.000Z"' ||
    fail "no seconds sent $(sent)"
ctl usage --since today >/dev/null || fail "usage --since today"
sent | grep -Eq "$TIME" || fail "today sent $(sent)"
# Local midnight, nine hours east of UTC (a POSIX TZ, no tzdata needed).
TZ=JST-9 "$SBXCTL" -s "$SOCK" usage --since today >/dev/null ||
    fail "usage --since today at UTC+9"
want=$(date -u -d "$(TZ=JST-9 date +%F) 00:00 +0900" +%Y-%m-%dT%H:%M:%S.000Z)
sent | grep -q "\"since\":\"$want\"" ||
    fail "today at UTC+9: $(sent), not $want"
before=$(date -u -d '-90 minutes' +%s)
ctl usage --since 90m >/dev/null || fail "usage --since 90m"
sent | grep -Eq "$TIME" || fail "90m sent $(sent)"
got=$(sent | sed 's/.*"since":"\([^"]*\)".*/\1/')
got=$(date -u -d "$got" +%s)
[ $((got - before)) -ge 0 ] && [ $((got - before)) -le 5 ] ||
    fail "90m ago is $(sent), not $before"
n=$(wc -l <"$T/reqs")
for w in yesterday 90 0m 5x 2026-02-30T00:00:00Z 2026-12-05T10:00:00 \
    2026-12-05T10:00:00+01 " 2026-12-05T10:00:00Z"; do
	ctl usage --since "$w" >/dev/null 2>"$T/err" && fail "--since $w taken"
	[ $? -eq 1 ] || fail "--since $w: status"
	grep -q "^sbxctl: --since $w: " "$T/err" ||
	    fail "--since $w: $(cat "$T/err")"
done
ctl usage a b 2>"$T/err" && fail "usage a b taken"
grep -q "^usage: sbxctl usage \[name\] \[--since when\]$" "$T/err" ||
    fail "usage a b: $(cat "$T/err")"
ctl usage --since 2>/dev/null && fail "--since without a time taken"
[ "$(wc -l <"$T/reqs")" -eq "$n" ] || fail "a refused usage was sent"

ctl create one --provider anthropic --provider openai >/dev/null ||
    fail "create --provider"
sent | grep -q '"providers":\["anthropic","openai"\]' ||
    fail "create --provider sent $(sent)"
ctl create one --no-providers >/dev/null || fail "create --no-providers"
sent | grep -q '"providers":\[\]' || fail "create --no-providers sent $(sent)"
ctl create one >/dev/null || fail "create"
sent | grep -q providers && fail "create sent $(sent)"
ctl create one --provider x --no-providers 2>/dev/null &&
    fail "--provider with --no-providers taken"

# create's repositories and push globs, checked before anything is sent.
ctl create one --repo octo/app --repo octo/lib.js.git \
    --push-branches 'refs/heads/sbx/one/*' --push-branches refs/heads/wip \
    >/dev/null || fail "create --repo"
sent | grep -q '"repos":\["octo/app","octo/lib.js"\]' ||
    fail "create --repo sent $(sent)"
sent |
    grep -q '"push_branches":\["refs/heads/sbx/one/\*","refs/heads/wip"\]' ||
    fail "create --push-branches sent $(sent)"
ctl create one --repo Octo/App >/dev/null || fail "create --repo alone"
sent | grep -q '"repos":\["Octo/App"\]' || fail "create --repo sent $(sent)"
sent | grep -q push_branches && fail "create --repo alone sent $(sent)"
ctl create one >/dev/null || fail "create"
sent | grep -q repos && fail "create sent $(sent)"
n=$(wc -l <"$T/reqs")
for r in octo octo/ /app octo/app/x octo/.. ./app 'octo/a b' octo/a+b \
    octo/.git "$(printf '%040d' 0)/app" "octo/$(printf '%0101d' 0)"; do
	ctl create one --repo "$r" 2>"$T/err" && fail "--repo $r taken"
	grep -q "^sbxctl: --repo $r: owner/repo is needed" "$T/err" ||
	    fail "--repo $r: $(cat "$T/err")"
done
ctl create one --repo octo/app --repo OCTO/app.git 2>"$T/err" &&
    fail "a repository given twice taken"
grep -q "given twice" "$T/err" || fail "twice: $(cat "$T/err")"
for g in refs/tags/v1 refs/heads/ refs/heads/a//b refs/heads/a/../b \
    refs/heads/a/ 'refs/heads/a~1' 'refs/heads/a b' heads/main; do
	ctl create one --repo octo/app --push-branches "$g" 2>"$T/err" &&
	    fail "--push-branches $g taken"
	grep -q "^sbxctl: --push-branches $g: a glob of branches" "$T/err" ||
	    fail "--push-branches $g: $(cat "$T/err")"
done
ctl create one --push-branches refs/heads/x 2>"$T/err" &&
    fail "--push-branches without --repo taken"
grep -q "needs a --repo" "$T/err" || fail "no --repo: $(cat "$T/err")"
[ "$(wc -l <"$T/reqs")" -eq "$n" ] || fail "a refused create was sent"

# The table.
reply <<'EOF2'
{"ok": true, "since": "2026-12-05T00:00:00.000Z", "usage": [
{"sandbox": "one", "provider": "anthropic", "model": "claude-x",
 "requests": 12, "errors": 1, "input": 1200, "cached": 900,
 "cache_creation": 10, "output": 45, "reasoning": 0, "cost": 0.123456,
 "charged": 1300, "bytes_up": 1, "bytes_down": 2, "truncated": 1,
 "usage_missing": 2, "first": "2026-12-05T01:00:00.000Z",
 "last": "2026-12-05T02:00:00.000Z"},
{"sandbox": "one", "provider": "openai", "model": "", "requests": 3,
 "errors": 3, "input": 5, "cached": 0, "cache_creation": 0, "output": 0,
 "reasoning": 0, "cost": null, "charged": 0, "bytes_up": 1,
 "bytes_down": 2, "truncated": 0, "usage_missing": 3,
 "first": "2026-12-05T01:00:00.000Z", "last": "2026-12-05T02:00:00.000Z"}],
"budgets": [{"sandbox": "one", "provider": "anthropic", "budget": 100000,
 "charged": 1300, "day_start": "2026-12-05T00:00:00.000Z"}]}
EOF2
ctl usage >"$T/out" || fail "usage table: status $?"
H='^SANDBOX +PROVIDER +MODEL +REQUESTS +INPUT +CACHED +OUTPUT +COST'
grep -Eq "$H +ERRORS +CUT +NOUSAGE\$" "$T/out" || fail "header: $(cat "$T/out")"
grep -Eq '^one +anthropic +claude-x +12 +1200 +900 +45 +0\.1235 +1 +1 +2$' \
    "$T/out" || fail "anthropic line: $(cat "$T/out")"
grep -Eq '^one +openai +- +3 +5 +0 +0 +- +3 +0 +3$' "$T/out" ||
    fail "openai line: $(cat "$T/out")"
grep -Eq '^total +15 +1205 +900 +45 +0\.1235 +4 +1 +5$' "$T/out" ||
    fail "total line: $(cat "$T/out")"
grep -qx "budget one anthropic: 1300 of 100000 tokens today" "$T/out" ||
    fail "budget line: $(cat "$T/out")"
ctl -j usage >"$T/out" || fail "usage -j"
cmp -s "$T/out" "$T/reply" || fail "usage -j: $(cat "$T/out")"
reply '{"ok": true, "since": null, "usage": []}'
[ "$(ctl usage)" = "no usage" ] || fail "no usage: $(ctl usage)"
reply '{"ok": false, "error": "no sandbox \"two\""}'
ctl usage two 2>"$T/err" && fail "an error reply exits 0"
grep -q 'no sandbox "two"' "$T/err" || fail "error reply: $(cat "$T/err")"

# show and list with a gateway.
reply <<'EOF2'
{"ok": true, "sandbox": {"name": "one", "state": "ready", "port": 970,
 "gateway": "http://127.0.0.1:701", "providers": ["anthropic", "openai"]}}
EOF2
ctl show one |
    grep -Eqx 'gateway +http://127\.0\.0\.1:701 \(anthropic, openai\)' ||
    fail "show: $(ctl show one)"
ctl show one | grep -q '^repos' && fail "show repos: $(ctl show one)"

# show with repositories: the push globs, or sbxd's default.
reply <<'EOF2'
{"ok": true, "sandbox": {"name": "one", "state": "ready", "port": 970,
 "repos": ["octo/app", "octo/lib"],
 "push_branches": ["refs/heads/sbx/one/*", "refs/heads/wip"]}}
EOF2
ctl show one >"$T/out" || fail "show repos"
grep -qx 'repos        octo/app, octo/lib' "$T/out" ||
    fail "show repos: $(cat "$T/out")"
grep -qx 'push         refs/heads/sbx/one/\*, refs/heads/wip' "$T/out" ||
    fail "show push: $(cat "$T/out")"
reply '{"ok": true, "sandbox": {"name": "one", "repos": ["octo/app"]}}'
ctl show one | grep -qx 'push         refs/heads/sbx/one/\*' ||
    fail "show default push: $(ctl show one)"
reply <<'EOF2'
{"ok": true, "sandboxes": [{"name": "one", "state": "ready", "uid": 1,
 "port": 970, "gateway": "http://127.0.0.1:701",
 "providers": ["anthropic", "openai"]},
{"name": "two", "state": "ready", "uid": 2, "port": 971}]}
EOF2
ctl list >"$T/out" || fail "list"
grep -Eq '^NAME .* PROVIDERS$' "$T/out" || fail "list header: $(cat "$T/out")"
grep -Eq '^one .* anthropic,openai$' "$T/out" ||
    fail "list one: $(cat "$T/out")"
grep -Eq '^two .* -$' "$T/out" || fail "list two: $(cat "$T/out")"
pass
