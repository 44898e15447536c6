#!/bin/sh
# gh: written by sbxd as ~/.sbx/bin/gh in a sandbox with GitHub
# repositories; changes here are lost.  GitHub's pull requests through
# the sandbox's credential gateway ($SBXD_GH_URL, with the sandbox's key
# $SBXD_GH_KEY), which adds the credentials upstream: no GitHub token
# exists in the sandbox.  gh pr create, gh pr list and gh pr view, with
# the flags of the real gh that the gateway serves; everything else is
# refused.  The gateway's answer is what gh would print: a 200's body
# goes to stdout, any other's to stderr and the exit status is 1.
set -u

GH_ONLY="sbxd relays gh pr create, list and view only"

die() {
	printf 'gh: %s\n' "$*" >&2
	exit 1
}

# na WORDS: a command the sandbox does not have.
na() {
	die "$* is not available in this sandbox ($GH_ONLY)"
}

# nosuch SUBCOMMAND FLAG: a flag of gh's that the shim does not take.
nosuch() {
	case $2 in
	-q* | --jq*)		why="use --json and a JSON tool" ;;
	-t* | --template*)	why="use --json" ;;
	-w | --web*)		why="there is no browser" ;;
	*)			why="gh pr $1 -h lists the flags it takes" ;;
	esac
	die "pr $1: ${2%%=*} is not supported in this sandbox; $why"
}

# needarg FLAG NARGS: a flag's value must follow it.
needarg() {
	[ "$2" -ge 2 ] || die "flag needs an argument: $1"
}

usage() {
	cat <<'EOF'
gh, as relayed by sbxd: GitHub's pull requests for this sandbox's
repositories, through its credential gateway.  No GitHub token exists in
this sandbox; the gateway adds it upstream.

USAGE
  gh pr create [-t TITLE] [-b BODY | -F FILE] [-B BASE] [-H HEAD] [-d] [-f]
               [-R OWNER/NAME]
  gh pr list   [-s open|closed|merged|all] [-H HEAD] [-B BASE] [-L LIMIT]
               [--json FIELDS] [-R OWNER/NAME]
  gh pr view   [NUMBER | URL | BRANCH] [--json FIELDS] [-R OWNER/NAME]
  gh auth status
  gh --version

The repository is -R's, else GH_REPO's, else that of the clone's origin.
gh api, gh auth token and every other command do not exist here.
EOF
}

pr_usage() {
	cat <<'EOF'
USAGE
  gh pr create [flags]   -t/--title, -b/--body, -F/--body-file FILE ("-" is
                         stdin), -B/--base, -H/--head, -d/--draft, -f/--fill,
                         -R/--repo OWNER/NAME
  gh pr list [flags]     -s/--state, -H/--head, -B/--base, -L/--limit,
                         --json FIELDS, -R/--repo OWNER/NAME
  gh pr view [NUMBER | URL | BRANCH] [flags]
                         --json FIELDS, -R/--repo OWNER/NAME
EOF
}

# repo_of SPEC: OWNER/NAME from OWNER/NAME, github.com/OWNER/NAME or a
# GitHub URL (https, git@github.com:, ssh://, or the gateway's own
# /git/ URL), ".git" and a trailing slash left out; empty if none.
repo_of() {
	r=$1
	gw=${SBXD_GH_URL:-}
	gw=${gw%/gh}
	case $r in
	https://github.com/*)	r=${r#https://github.com/} ;;
	http://github.com/*)	r=${r#http://github.com/} ;;
	git@github.com:*)	r=${r#git@github.com:} ;;
	ssh://git@github.com/*)	r=${r#ssh://git@github.com/} ;;
	github.com/*)		r=${r#github.com/} ;;
	*://*)
		if [ -n "$gw" ] && [ "${r#"$gw"/git/}" != "$r" ]; then
			r=${r#"$gw"/git/}
		else
			r=
		fi
		;;
	esac
	r=${r%/}
	r=${r%.git}
	case $r in
	*/*/* | /* | */ | *[!A-Za-z0-9_./-]* | .* | */.*)	r= ;;
	*/*)	;;
	*)	r= ;;
	esac
	printf '%s' "$r"
}

# default_repo: -R's repository, else GH_REPO's, else origin's.
default_repo() {
	if [ -n "$repo" ]; then
		r=$(repo_of "$repo")
		[ -n "$r" ] || die "expected the \"OWNER/NAME\" format, got \"$repo\""
		repo=$r
		return
	fi
	if [ -n "${GH_REPO:-}" ]; then
		r=$(repo_of "$GH_REPO")
		[ -n "$r" ] ||
		    die "GH_REPO: expected the \"OWNER/NAME\" format, got \"$GH_REPO\""
		repo=$r
		return
	fi
	command -v git >/dev/null 2>&1 ||
	    die "no repository: git is not installed; give -R OWNER/NAME"
	# The configured URL, not git remote get-url's: the sandbox's
	# environment rewrites GitHub's URLs to the gateway's.
	url=$(git config --get remote.origin.url 2>/dev/null) ||
	    die "no repository: not in a clone with an origin; give -R OWNER/NAME"
	r=$(repo_of "$url")
	[ -n "$r" ] ||
	    die "no repository: origin ($url) is not GitHub's; give -R OWNER/NAME"
	repo=$r
}

# current_branch: the branch checked out, or empty.
current_branch() {
	command -v git >/dev/null 2>&1 || return 0
	git symbolic-ref --quiet --short HEAD 2>/dev/null
}

# call METHOD PATH [CURL ARGS]: one request to the gateway; its answer
# printed and the exit status set.  The key goes in a config file, not
# on the command line, where other users could see it.
call() {
	method=$1
	path=$2
	shift 2
	if [ -z "${SBXD_GH_URL:-}" ] || [ -z "${SBXD_GH_KEY:-}" ]; then
		die "this sandbox has no GitHub repositories"
	fi
	command -v curl >/dev/null 2>&1 ||
	    die "curl is needed to reach sbxd's gateway, and is not installed"
	case $SBXD_GH_KEY in
	*[!A-Za-z0-9_-]*) die "SBXD_GH_KEY is not a key of sbxd's" ;;
	esac
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/gh.XXXXXX") ||
	    die "cannot make a temporary directory"
	trap 'rm -rf "$tmp"' EXIT
	trap 'exit 1' HUP INT TERM
	printf 'header = "Authorization: Bearer %s"\n' "$SBXD_GH_KEY" \
	    >"$tmp/curlrc" || die "cannot write $tmp/curlrc"
	if [ "$method" = GET ]; then
		set -- -G "$@"
	fi
	code=$(curl --noproxy '*' -sS -K "$tmp/curlrc" -o "$tmp/out" \
	    -w '%{http_code}' "$@" "$SBXD_GH_URL/$path") ||
	    die "cannot reach sbxd's gateway at $SBXD_GH_URL"
	if [ "$code" = 200 ]; then
		cat "$tmp/out"
		exit 0
	fi
	if [ -s "$tmp/out" ]; then
		cat "$tmp/out" >&2
	else
		printf 'gh: sbxd'\''s gateway answered HTTP %s\n' "$code" >&2
	fi
	exit 1
}

pr_create() {
	title='' body='' bodyfile='' base='' head='' draft='' fill='' repo=''
	have_title='' have_body=''
	while [ $# -gt 0 ]; do
		case $1 in
		-t | --title)	needarg "$1" $#; title=$2; have_title=1; shift ;;
		--title=*)	title=${1#*=}; have_title=1 ;;
		-t?*)		title=${1#-t}; have_title=1 ;;
		-b | --body)	needarg "$1" $#; body=$2; have_body=1; shift ;;
		--body=*)	body=${1#*=}; have_body=1 ;;
		-b?*)		body=${1#-b}; have_body=1 ;;
		-F | --body-file) needarg "$1" $#; bodyfile=$2; shift ;;
		--body-file=*)	bodyfile=${1#*=} ;;
		-F?*)		bodyfile=${1#-F} ;;
		-B | --base)	needarg "$1" $#; base=$2; shift ;;
		--base=*)	base=${1#*=} ;;
		-B?*)		base=${1#-B} ;;
		-H | --head)	needarg "$1" $#; head=$2; shift ;;
		--head=*)	head=${1#*=} ;;
		-H?*)		head=${1#-H} ;;
		-R | --repo)	needarg "$1" $#; repo=$2; shift ;;
		--repo=*)	repo=${1#*=} ;;
		-R?*)		repo=${1#-R} ;;
		-d | --draft | --draft=true)	draft=1 ;;
		--draft=false)	draft= ;;
		-f | --fill | --fill=true)	fill=1 ;;
		--fill=false)	fill= ;;
		-h | --help)	pr_usage; exit 0 ;;
		-*)		nosuch create "$1" ;;
		*)		die "pr create: unexpected argument \"$1\"" ;;
		esac
		shift
	done
	[ -n "$have_body" ] && [ -n "$bodyfile" ] &&
	    die "specify only one of --body or --body-file"
	if [ -n "$fill" ]; then
		command -v git >/dev/null 2>&1 ||
		    die "--fill needs git, which is not installed"
		subject=$(git log -1 --format=%s 2>/dev/null) ||
		    die "--fill: no commit to take the title from"
		if [ -z "$have_title" ]; then
			title=$subject
			have_title=1
		fi
		if [ -z "$have_body" ] && [ -z "$bodyfile" ]; then
			body=$(git log -1 --format=%b 2>/dev/null)
			have_body=1
		fi
	fi
	[ -n "$have_title" ] ||
	    die "must provide --title (or --fill) when not running interactively"
	[ -n "$title" ] || die "the title cannot be empty"
	if [ -n "$bodyfile" ] && [ "$bodyfile" != - ]; then
		if [ ! -f "$bodyfile" ] || [ ! -r "$bodyfile" ]; then
			die "cannot read the body file $bodyfile"
		fi
	fi
	default_repo
	if [ -z "$head" ]; then
		head=$(current_branch)
		[ -n "$head" ] ||
		    die "not on a branch: give the head branch with --head"
	fi
	set -- --data-urlencode "repo=$repo" --data-urlencode "head=$head" \
	    --data-urlencode "title=$title"
	[ -n "$base" ] && set -- "$@" --data-urlencode "base=$base"
	if [ -n "$bodyfile" ]; then
		set -- "$@" --data-urlencode "body@$bodyfile"
	elif [ -n "$have_body" ]; then
		set -- "$@" --data-urlencode "body=$body"
	fi
	[ -n "$draft" ] && set -- "$@" --data-urlencode "draft=true"
	call POST pr/create "$@"
}

pr_list() {
	state='' head='' base='' limit='' json='' repo=''
	while [ $# -gt 0 ]; do
		case $1 in
		-s | --state)	needarg "$1" $#; state=$2; shift ;;
		--state=*)	state=${1#*=} ;;
		-s?*)		state=${1#-s} ;;
		-H | --head)	needarg "$1" $#; head=$2; shift ;;
		--head=*)	head=${1#*=} ;;
		-H?*)		head=${1#-H} ;;
		-B | --base)	needarg "$1" $#; base=$2; shift ;;
		--base=*)	base=${1#*=} ;;
		-B?*)		base=${1#-B} ;;
		-L | --limit)	needarg "$1" $#; limit=$2; shift ;;
		--limit=*)	limit=${1#*=} ;;
		-L?*)		limit=${1#-L} ;;
		--json)		needarg "$1" $#; json=$2; shift ;;
		--json=*)	json=${1#*=} ;;
		-R | --repo)	needarg "$1" $#; repo=$2; shift ;;
		--repo=*)	repo=${1#*=} ;;
		-R?*)		repo=${1#-R} ;;
		-h | --help)	pr_usage; exit 0 ;;
		-*)		nosuch list "$1" ;;
		*)		die "pr list: unexpected argument \"$1\"" ;;
		esac
		shift
	done
	case $state in
	"" | open | closed | merged | all) ;;
	*)	die "invalid argument \"$state\" for \"-s, --state\" flag:" \
		    "valid values are {open|closed|merged|all}" ;;
	esac
	case $limit in
	"") ;;
	*[!0-9]* | 0 | 0*) die "invalid value for --limit: $limit" ;;
	esac
	default_repo
	set -- --data-urlencode "repo=$repo"
	[ -n "$state" ] && set -- "$@" --data-urlencode "state=$state"
	[ -n "$head" ] && set -- "$@" --data-urlencode "head=$head"
	[ -n "$base" ] && set -- "$@" --data-urlencode "base=$base"
	[ -n "$limit" ] && set -- "$@" --data-urlencode "limit=$limit"
	[ -n "$json" ] && set -- "$@" --data-urlencode "json=$json"
	call GET pr/list "$@"
}

pr_view() {
	json='' repo='' which=''
	while [ $# -gt 0 ]; do
		case $1 in
		--json)		needarg "$1" $#; json=$2; shift ;;
		--json=*)	json=${1#*=} ;;
		-R | --repo)	needarg "$1" $#; repo=$2; shift ;;
		--repo=*)	repo=${1#*=} ;;
		-R?*)		repo=${1#-R} ;;
		-h | --help)	pr_usage; exit 0 ;;
		--)
			shift
			[ $# -le 1 ] || die "pr view: too many arguments"
			[ $# -eq 0 ] || which=$1
			break
			;;
		-*)		nosuch view "$1" ;;
		*)
			[ -z "$which" ] || die "pr view: too many arguments"
			which=$1
			;;
		esac
		shift
	done
	number='' head=''
	case $which in
	"")	;;
	https://github.com/*/*/pull/* | http://github.com/*/*/pull/*)
		r=${which#*://github.com/}
		n=${r#*/*/pull/}
		n=${n%%[/?#]*}
		r=${r%%/pull/*}
		case $r in
		*/*/* | *[!A-Za-z0-9_./-]*)
			die "\"$which\" is not a pull request URL" ;;
		esac
		case $n in
		"" | *[!0-9]*)	die "\"$which\" is not a pull request URL" ;;
		esac
		repo=$r
		number=$n
		;;
	*://*)	die "\"$which\" is not a pull request URL of github.com" ;;
	\#*[!0-9]* | \#)	head=$which ;;
	\#*)	number=${which#\#} ;;
	*[!0-9]*)	head=$which ;;
	*)	number=$which ;;
	esac
	default_repo
	if [ -z "$number" ] && [ -z "$head" ]; then
		head=$(current_branch)
		[ -n "$head" ] ||
		    die "not on a branch: give a pull request's number, URL or branch"
	fi
	set -- --data-urlencode "repo=$repo"
	if [ -n "$number" ]; then
		set -- "$@" --data-urlencode "number=$number"
	else
		set -- "$@" --data-urlencode "head=$head"
	fi
	[ -n "$json" ] && set -- "$@" --data-urlencode "json=$json"
	call GET pr/view "$@"
}

auth() {
	case ${1:-} in
	status)
		[ -n "${SBXD_GH_URL:-}" ] ||
		    die "this sandbox has no GitHub repositories"
		cat <<EOF
github.com
  Reached through sbxd's credential gateway, $SBXD_GH_URL, which adds
  the credentials to what it relays: gh pr create, gh pr list, gh pr view,
  and git's own https://github.com/ fetches and pushes.
  No GitHub token exists in this sandbox.
EOF
		exit 0
		;;
	token)
		die "auth token is not available in this sandbox: there is no" \
		    "GitHub token in this sandbox (sbxd's gateway adds it to" \
		    "what it relays)"
		;;
	"" | -h | --help)
		die "gh auth: only gh auth status is available in this sandbox"
		;;
	*)	na "auth $1" ;;
	esac
}

case ${1:-} in
"" | help | -h | --help)
	usage
	exit 0
	;;
--version | version)
	echo "gh version 2.0.0-sbxd"
	echo "sbxd's gh: pull requests through the sandbox's credential gateway"
	exit 0
	;;
auth)
	shift
	auth "$@"
	;;
pr)
	shift
	case ${1:-} in
	create)	shift; pr_create "$@" ;;
	list | ls)	shift; pr_list "$@" ;;
	view)	shift; pr_view "$@" ;;
	"" | -h | --help)	pr_usage; exit 0 ;;
	-*)	die "gh pr: flags go after the subcommand (gh pr create, list or view)" ;;
	*)	na "pr $1" ;;
	esac
	;;
-*)
	die "unknown flag: $1 ($GH_ONLY)"
	;;
api)
	na api
	;;
*)
	case ${2:-} in
	"" | -*)	na "$1" ;;
	*)	na "$1 $2" ;;
	esac
	;;
esac
