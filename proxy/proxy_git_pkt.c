/*
 * proxy_git_pkt.c: the pure parts of the git smart-HTTP relay on a
 * sandbox's gateway, with no I/O.  A sandboxed git reaches
 * http://127.0.0.1:PORT/git/OWNER/REPO.git/...; this file routes such a
 * request target to a service and an upstream path, holds the
 * repository and ref policy helpers, and checks a receive-pack request
 * body (gitprotocol-pack, "Reference Update Request") before the relay
 * sends a byte of it upstream.
 *
 * The push parser is fed the body as it arrives, split anywhere.  It
 * reads pkt-lines up to the flush-pkt that ends the command list (and,
 * if push options were announced, up to the flush-pkt after them), then
 * says DONE and how many bytes of the last piece were the command
 * section; the relay has buffered the section, and may now check the
 * pack header (proxy_git_push_pack) and send everything on.  Whatever
 * upstream's receive-pack could read differently is refused, not
 * repaired: the relay's whole point is that upstream only ever sees
 * commands this file has passed.
 *
 * Decisions where the protocol documents leave room:
 * - pkt-len hex digits may be upper or lower case, as git's hexval reads
 *   them; object ids must be lower case, as every client writes them.
 * - "0004" (an empty pkt-line), a pkt-line that is only "\n", and the
 *   delim and response-end pkts of protocol v2 are refused: git's
 *   receive-pack ends the command list on any special pkt and dies on an
 *   empty line, so none of them occurs in a push that works.
 * - Object ids are 40 (SHA-1) or 64 (SHA-256) hex digits.  The length is
 *   fixed by the object-format capability, SHA-1 when it is absent
 *   (gitprotocol-capabilities), and every id of the request, shallow
 *   lines included, must have it.
 * - Capabilities may only follow the first command.  Empty tokens are
 *   skipped (git writes a leading space, libgit2 a trailing one).  Only
 *   report-status, report-status-v2, side-band-64k, side-band, quiet,
 *   atomic, ofs-delta, delete-refs, agent=, session-id=,
 *   object-format=sha1|sha256 and (by policy) push-options pass; any
 *   other, a repeated one, or both side-bands is refused.
 * - Push options are refused unless the policy has
 *   PROXY_GIT_P_PUSH_OPTIONS; then up to PROXY_GIT_OPTIONS_MAX of
 *   1*(VCHAR / SP) are read, up to their flush-pkt.
 * - Push certificates are refused: the commands inside are signed text
 *   the relay would have to parse a second way.
 * - Refnames pass git's check-ref-format rules, must start with "refs/",
 *   and, unlike git, may hold no byte above 0x7e, so that no upstream
 *   normalisation can move a name into or out of a glob.
 * - A ref glob is a refname, or a refname prefix with '/' and a last
 *   '*' after it; the '*' matches one or more characters, '/' included
 *   (refs/heads/sbx/NAME/ and '*' takes refs/heads/sbx/NAME/a/b).  A
 *   '*' anywhere else makes the pattern invalid, and an invalid pattern
 *   matches nothing.
 * - Deletes, tags (refs/tags/...), a ref twice and refs outside every
 *   glob are refused; so is a command list with no command.  Since no
 *   delete passes, a pack always follows the command section.
 */

#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proxy_git_pkt.h"

#define GIT_OID_SHA1		40	/* hex digits of a SHA-1 id */
#define GIT_OID_SHA256		64
#define GIT_CMDS_FIRST		8	/* first allocation of pu_cmds */
#define GIT_PREFIX		"/git/"	/* of every relay request target */
#define GIT_SHALLOW		"shallow "
#define GIT_PUSH_CERT		"push-cert"
#define GIT_TAGS		"refs/tags/"
#define GIT_SERVICE_LINE	"# service="
#define GIT_V2_LINE		"version 2"
#define GIT_STRLEN(lit)		(sizeof(lit) - 1)
#define GIT_STARTS(p, n, lit)	((n) >= GIT_STRLEN(lit) &&		\
				    memcmp((p), (lit), GIT_STRLEN(lit)) == 0)

/* Where the push parser is within a pkt-line. */
enum git_state {
	GIT_S_HDR,		/* reading the four pkt-len digits */
	GIT_S_PAYLOAD,		/* reading the payload */
	GIT_S_DONE,		/* the command section is complete */
	GIT_S_ERROR
};

/* Which part of the command section comes next. */
enum git_phase {
	GIT_P_SHALLOW,		/* shallow lines, or the first command */
	GIT_P_COMMANDS,		/* more commands, or the flush-pkt */
	GIT_P_OPTIONS		/* push options up to their flush-pkt */
};

/* A capability a client may send with its commands. */
struct git_cap {
	const char	*gk_name;
	int		 gk_flag;	/* PROXY_GIT_CAP_* */
	int		 gk_value;	/* takes "=value" */
};

static const struct git_cap git_caps[] = {
	{ "report-status",	PROXY_GIT_CAP_REPORT_STATUS,	0 },
	{ "report-status-v2",	PROXY_GIT_CAP_REPORT_STATUS_V2,	0 },
	{ "side-band-64k",	PROXY_GIT_CAP_SIDE_BAND_64K,	0 },
	{ "side-band",		PROXY_GIT_CAP_SIDE_BAND,	0 },
	{ "quiet",		PROXY_GIT_CAP_QUIET,		0 },
	{ "atomic",		PROXY_GIT_CAP_ATOMIC,		0 },
	{ "ofs-delta",		PROXY_GIT_CAP_OFS_DELTA,	0 },
	{ "delete-refs",	PROXY_GIT_CAP_DELETE_REFS,	0 },
	{ "agent",		PROXY_GIT_CAP_AGENT,		1 },
	{ "session-id",		PROXY_GIT_CAP_SESSION_ID,	1 },
	{ "object-format",	PROXY_GIT_CAP_OBJECT_FORMAT,	1 },
	{ "push-options",	PROXY_GIT_CAP_PUSH_OPTIONS,	0 }
};

static int	git_fail(struct proxy_git_error *, int, const char *,
		    const char *);
static int	git_hex4(const char *);
static int	git_owner_ok(const char *, size_t);
static int	git_repo_ok(const char *, size_t);
static int	git_route(const char *, const char *, size_t,
		    struct proxy_git_route *, struct proxy_git_error *);
static int	git_route_path(const char *, size_t, struct proxy_git_route *,
		    const char **, size_t *, struct proxy_git_error *);
static int	git_route_rest(struct proxy_git_route *, int, const char *,
		    size_t, const char *, size_t, struct proxy_git_error *);
static int	git_route_service(const char *, size_t);
static int	git_route_chars(const char *, size_t,
		    struct proxy_git_error *);
static const char *git_refname_why(const char *, size_t);
static const char *git_component_why(const char *, size_t);
static int	git_push_fail(struct proxy_git_push *, int, const char *,
		    const char *);
static int	git_push_header(struct proxy_git_push *);
static int	git_push_flush(struct proxy_git_push *);
static int	git_push_line(struct proxy_git_push *);
static int	git_push_shallow(struct proxy_git_push *, const char *,
		    size_t);
static int	git_push_command(struct proxy_git_push *, char *, size_t);
static int	git_push_update(struct proxy_git_push *, char *, size_t);
static int	git_push_policy(struct proxy_git_push *, const char *,
		    const char *, size_t);
static int	git_push_store(struct proxy_git_push *, const char *,
		    const char *, size_t);
static int	git_push_caps(struct proxy_git_push *, const char *, size_t);
static int	git_push_cap(struct proxy_git_push *, const char *, size_t);
static int	git_push_cap_value(struct proxy_git_push *, int,
		    const char *, size_t);
static int	git_push_oidlen(struct proxy_git_push *, size_t);
static int	git_push_option(struct proxy_git_push *, const char *,
		    size_t);
static int	git_oid_check(struct proxy_git_push *, const char *, size_t);
static int	git_oid_zero(const char *, size_t);
static uint32_t	git_be32(const unsigned char *);

/* Fill err; returns -1. */
static int
git_fail(struct proxy_git_error *err, int status, const char *reason,
    const char *detail)
{
	err->status = status;
	err->reason = reason;
	err->detail = detail;
	return (-1);
}

/* The value of four hex digits of either case, or -1. */
static int
git_hex4(const char *p)
{
	int	 i, v = 0, c;

	for (i = 0; i < 4; i++) {
		c = (unsigned char)p[i];
		if (c >= '0' && c <= '9')
			c -= '0';
		else if (c >= 'a' && c <= 'f')
			c -= 'a' - 10;
		else if (c >= 'A' && c <= 'F')
			c -= 'A' - 10;
		else
			return (-1);
		v = v * 16 + c;
	}
	return (v);
}

/* A GitHub login: [A-Za-z0-9-], 1 to 39 bytes, no leading '-'. */
static int
git_owner_ok(const char *s, size_t n)
{
	size_t	 i;
	char	 c;

	if (n < 1 || n > PROXY_GIT_OWNER_MAX || s[0] == '-')
		return (0);
	for (i = 0; i < n; i++) {
		c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-'))
			return (0);
	}
	return (1);
}

/*
 * A GitHub repository name: [A-Za-z0-9._-], 1 to 100 bytes, not "." or
 * "..", and not ending in ".git", which GitHub strips.
 */
static int
git_repo_ok(const char *s, size_t n)
{
	size_t	 i;
	char	 c;

	if (n < 1 || n > PROXY_GIT_REPO_MAX)
		return (0);
	if ((n == 1 && s[0] == '.') || (n == 2 && memcmp(s, "..", 2) == 0))
		return (0);
	if (n >= 4 && strncasecmp(s + n - 4, ".git", 4) == 0)
		return (0);
	for (i = 0; i < n; i++) {
		c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_'))
			return (0);
	}
	return (1);
}


/*
 * Route a relay request: GET .../info/refs?service=git-upload-pack or
 * git-receive-pack, POST .../git-upload-pack, POST .../git-receive-pack,
 * under /git/OWNER/REPO[.git].  Fills rt with the names, the service
 * and the upstream path; 0, or -1 with err filled and rt zeroed.
 */
int
proxy_git_route_parse(const char *method, const char *target, size_t len,
    struct proxy_git_route *rt, struct proxy_git_error *err)
{
	memset(rt, 0, sizeof(*rt));
	if (git_route(method, target, len, rt, err) == -1) {
		memset(rt, 0, sizeof(*rt));
		return (-1);
	}
	return (0);
}

/* proxy_git_route_parse, but rt may be half filled on failure. */
static int
git_route(const char *method, const char *target, size_t len,
    struct proxy_git_route *rt, struct proxy_git_error *err)
{
	const char	*q, *rest;
	size_t		 restlen, plen;
	int		 post;

	if (strcmp(method, "GET") == 0)
		post = 0;
	else if (strcmp(method, "POST") == 0)
		post = 1;
	else
		return (git_fail(err, 405, "method",
		    "the git relay takes GET and POST only"));
	if (git_route_chars(target, len, err) == -1)
		return (-1);
	if (!GIT_STARTS(target, len, GIT_PREFIX))
		return (git_fail(err, 404, "not-git",
		    "request target is not under /git/"));
	q = memchr(target, '?', len);
	plen = (q != NULL ? (size_t)(q - target) : len) -
	    GIT_STRLEN(GIT_PREFIX);
	if (git_route_path(target + GIT_STRLEN(GIT_PREFIX), plen, rt, &rest,
	    &restlen, err) == -1)
		return (-1);
	if (q == NULL)
		return (git_route_rest(rt, post, rest, restlen, NULL, 0, err));
	return (git_route_rest(rt, post, rest, restlen, q + 1,
	    target + len - (q + 1), err));
}

/*
 * Refuse what is no plain path and query: percent-encoding, bytes
 * outside visible ASCII, '#', and in the path anything but
 * [A-Za-z0-9._-/].
 */
static int
git_route_chars(const char *p, size_t n, struct proxy_git_error *err)
{
	size_t		 i;
	int		 query = 0;
	unsigned char	 c;

	for (i = 0; i < n; i++) {
		c = p[i];
		if (c == '%')
			return (git_fail(err, 400, "percent-encoding",
			    "percent-encoding in a git relay target"));
		if (c <= 0x20 || c >= 0x7f || c == '#')
			return (git_fail(err, 400, "bad-char",
			    "control, space, non-ASCII byte or '#' in the "
			    "request target"));
		if (c == '?')
			query = 1;
		if (!query && !((c >= 'a' && c <= 'z') ||
		    (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '/'))
			return (git_fail(err, 400, "bad-char",
			    "character not allowed in a git relay path"));
	}
	return (0);
}

/*
 * The path after /git/: OWNER "/" REPO[.git] "/" rest, with no empty,
 * "." or ".." segment anywhere.  Fills the names; *rest is what follows
 * the repository's slash.
 */
static int
git_route_path(const char *p, size_t n, struct proxy_git_route *rt,
    const char **rest, size_t *restlen, struct proxy_git_error *err)
{
	const char	*s, *e, *end = p + n, *seg[3] = { NULL, NULL, NULL };
	size_t		 len[2] = { 0, 0 }, i;

	for (s = p, i = 0; s <= end; s = e + 1) {
		if ((e = memchr(s, '/', end - s)) == NULL)
			e = end;
		if (e == s)
			return (git_fail(err, 400, "empty-segment",
			    "empty path segment"));
		if ((e - s == 1 && s[0] == '.') ||
		    (e - s == 2 && memcmp(s, "..", 2) == 0))
			return (git_fail(err, 400, "dot-segment",
			    "'.' or '..' path segment"));
		if (i < 3)
			seg[i] = s;
		if (i < 2)
			len[i] = e - s;
		i++;
	}
	if (i < 3)
		return (git_fail(err, 403, "not-smart-http",
		    "not a smart HTTP request"));
	if (!git_owner_ok(seg[0], len[0]))
		return (git_fail(err, 400, "bad-owner",
		    "not a GitHub owner name"));
	if (len[1] > 4 && memcmp(seg[1] + len[1] - 4, ".git", 4) == 0)
		len[1] -= 4;
	if (!git_repo_ok(seg[1], len[1]))
		return (git_fail(err, 400, "bad-repo",
		    "not a GitHub repository name"));
	memcpy(rt->gr_owner, seg[0], len[0]);
	memcpy(rt->gr_repo, seg[1], len[1]);
	snprintf(rt->gr_name, sizeof(rt->gr_name), "%s/%s", rt->gr_owner,
	    rt->gr_repo);
	*rest = seg[2];
	*restlen = end - seg[2];
	return (0);
}

/* Which service "git-upload-pack" or "git-receive-pack" names, or 0. */
static int
git_route_service(const char *p, size_t n)
{
	if (n == GIT_STRLEN("git-upload-pack") &&
	    memcmp(p, "git-upload-pack", n) == 0)
		return (PROXY_GIT_UPLOAD_PACK);
	if (n == GIT_STRLEN("git-receive-pack") &&
	    memcmp(p, "git-receive-pack", n) == 0)
		return (PROXY_GIT_RECEIVE_PACK);
	return (0);
}

/*
 * The part after the repository and the query (q is NULL if there was
 * no '?'): info/refs?service=S by GET, or S by POST.  Dumb HTTP, LFS
 * and anything else are refused.
 */
static int
git_route_rest(struct proxy_git_route *rt, int post, const char *p,
    size_t n, const char *q, size_t qn, struct proxy_git_error *err)
{
	if (n == GIT_STRLEN("info/refs") && memcmp(p, "info/refs", n) == 0) {
		if (post)
			return (git_fail(err, 405, "method",
			    "info/refs takes GET only"));
		if (q == NULL)
			return (git_fail(err, 403, "dumb-http",
			    "dumb HTTP is not relayed"));
		if (!GIT_STARTS(q, qn, "service=") ||
		    (rt->gr_service = git_route_service(q + 8, qn - 8)) == 0)
			return (git_fail(err, 403, "bad-query",
			    "the only query is service=git-upload-pack or "
			    "service=git-receive-pack"));
		rt->gr_advert = 1;
		snprintf(rt->gr_upstream, sizeof(rt->gr_upstream),
		    "/%s/%s.git/info/refs?service=%s", rt->gr_owner,
		    rt->gr_repo, proxy_git_service_name(rt->gr_service));
		return (0);
	}
	if ((rt->gr_service = git_route_service(p, n)) != 0) {
		if (!post)
			return (git_fail(err, 405, "method",
			    "a git service takes POST only"));
		if (q != NULL)
			return (git_fail(err, 403, "bad-query",
			    "a git service takes no query"));
		snprintf(rt->gr_upstream, sizeof(rt->gr_upstream),
		    "/%s/%s.git/%s", rt->gr_owner, rt->gr_repo,
		    proxy_git_service_name(rt->gr_service));
		return (0);
	}
	if (GIT_STARTS(p, n, "info/lfs"))
		return (git_fail(err, 403, "lfs", "git LFS is not relayed"));
	return (git_fail(err, 403, "not-smart-http",
	    "not a smart HTTP request"));
}

/* "git-upload-pack" or "git-receive-pack"; "" for anything else. */
const char *
proxy_git_service_name(int service)
{
	switch (service) {
	case PROXY_GIT_UPLOAD_PACK:
		return ("git-upload-pack");
	case PROXY_GIT_RECEIVE_PACK:
		return ("git-receive-pack");
	default:
		return ("");
	}
}

/*
 * A repository list entry: "owner/repo", or "owner/" and '*' for every
 * repository of owner.  0, or -1 with *why set.
 */
int
proxy_git_repo_check(const char *entry, const char **why)
{
	const char	*slash;

	if ((slash = strchr(entry, '/')) == NULL) {
		*why = "not owner/repo";
		return (-1);
	}
	if (!git_owner_ok(entry, slash - entry)) {
		*why = "not a GitHub owner name";
		return (-1);
	}
	if (strcmp(slash + 1, "*") != 0 &&
	    !git_repo_ok(slash + 1, strlen(slash + 1))) {
		*why = "not a GitHub repository name or '*'";
		return (-1);
	}
	return (0);
}

/*
 * Whether "owner/repo" is in list, ignoring case as GitHub does; an
 * entry of "owner/" and '*' takes every repository of owner.  Invalid
 * entries match nothing.
 */
int
proxy_git_repo_match(const char *name, const char *const *list, size_t n)
{
	const char	*slash, *es;
	const char	*why;
	size_t		 i, ol;

	if ((slash = strchr(name, '/')) == NULL)
		return (0);
	ol = slash - name;
	for (i = 0; i < n; i++) {
		if (proxy_git_repo_check(list[i], &why) == -1)
			continue;
		es = strchr(list[i], '/');
		if ((size_t)(es - list[i]) != ol ||
		    strncasecmp(list[i], name, ol) != 0)
			continue;
		if (strcmp(es + 1, "*") == 0 ||
		    strcasecmp(es + 1, slash + 1) == 0)
			return (1);
	}
	return (0);
}

/*
 * Why one slash-separated component of a refname is bad, or NULL:
 * empty, starting with '.', or ending with ".lock".
 */
static const char *
git_component_why(const char *s, size_t n)
{
	if (n == 0)
		return ("empty component");
	if (s[0] == '.')
		return ("component starts with '.'");
	if (n >= 5 && memcmp(s + n - 5, ".lock", 5) == 0)
		return ("component ends with .lock");
	return (NULL);
}

/* Why a refname is bad (git check-ref-format, and ours), or NULL. */
static const char *
git_refname_why(const char *s, size_t n)
{
	const char	*why;
	size_t		 i, start = 0;
	unsigned char	 c, prev = 0;

	if (n > PROXY_GIT_REFNAME_MAX)
		return ("refname too long");
	if (!GIT_STARTS(s, n, "refs/"))
		return ("refname not under refs/");
	for (i = 0; i < n; prev = c, i++) {
		c = s[i];
		if (c < 0x20 || c == 0x7f)
			return ("control character in refname");
		if (c > 0x7f)
			return ("non-ASCII byte in refname");
		if (strchr(" ~^:?*[\\", c) != NULL)
			return ("forbidden character in refname");
		if (c == '.' && prev == '.')
			return ("'..' in refname");
		if (c == '{' && prev == '@')
			return ("'@{' in refname");
		if (c == '/') {
			if ((why = git_component_why(s + start,
			    i - start)) != NULL)
				return (why);
			start = i + 1;
		}
	}
	if ((why = git_component_why(s + start, n - start)) != NULL)
		return (why);
	if (s[n - 1] == '.')
		return ("refname ends with '.'");
	return (NULL);
}

/*
 * A refname a push may name: git's check-ref-format rules, under
 * refs/, ASCII only, at most PROXY_GIT_REFNAME_MAX bytes.  0, or -1
 * with *why set.
 */
int
proxy_git_refname_check(const char *s, size_t n, const char **why)
{
	if ((*why = git_refname_why(s, n)) != NULL)
		return (-1);
	return (0);
}

/*
 * A ref glob: a refname, or a refname followed by '/' and '*', neither
 * under refs/tags/.  0, or -1 with *why set.
 */
int
proxy_git_glob_check(const char *glob, const char **why)
{
	size_t	 n = strlen(glob);

	if (n >= 2 && glob[n - 1] == '*' && glob[n - 2] == '/')
		n -= 2;
	if ((*why = git_refname_why(glob, n)) != NULL)
		return (-1);
	if (GIT_STARTS(glob, n + 1, GIT_TAGS)) {
		*why = "tags are never pushed";
		return (-1);
	}
	return (0);
}

/*
 * Whether ref matches glob: "prefix/" and '*' takes every ref under
 * prefix/ (one or more characters, '/' included), any other glob only
 * itself.
 * An invalid glob matches nothing.
 */
int
proxy_git_glob_match(const char *glob, const char *ref)
{
	const char	*why;
	size_t		 n = strlen(glob);

	if (proxy_git_glob_check(glob, &why) == -1)
		return (0);
	if (glob[n - 1] == '*')
		return (strncmp(ref, glob, n - 1) == 0 && ref[n - 1] != '\0');
	return (strcmp(ref, glob) == 0);
}

/*
 * Write the default push glob of a sandbox, "refs/heads/sbx/NAME/" and
 * '*', into buf.  0, or -1 if it does not fit or NAME is no single valid
 * ref component.
 */
int
proxy_git_glob_default(char *buf, size_t size, const char *sandbox)
{
	const char	*why;
	int		 r;

	if (sandbox[0] == '\0' || strchr(sandbox, '/') != NULL)
		return (-1);
	r = snprintf(buf, size, "refs/heads/sbx/%s/*", sandbox);
	if (r < 0 || (size_t)r >= size)
		return (-1);
	if (proxy_git_glob_check(buf, &why) == -1)
		return (-1);
	return (0);
}

/* Start checking a receive-pack request body under policy. */
void
proxy_git_push_init(struct proxy_git_push *pu,
    const struct proxy_git_policy *policy)
{
	memset(pu, 0, sizeof(*pu));
	pu->pu_policy = policy;
	pu->pu_state = GIT_S_HDR;
	pu->pu_phase = GIT_P_SHALLOW;
}

/* Refuse the push for good; returns PROXY_GIT_ERROR. */
static int
git_push_fail(struct proxy_git_push *pu, int status, const char *reason,
    const char *detail)
{
	pu->pu_state = GIT_S_ERROR;
	(void)git_fail(&pu->pu_err, status, reason, detail);
	return (PROXY_GIT_ERROR);
}

/*
 * Feed len more bytes of the body.  MORE: all taken (*used == len), the
 * command section goes on.  DONE: the section ended after *used bytes
 * of buf; the rest of buf, and all that follows, is the pack.  ERROR:
 * refused, err says why; so is every later call.  Called again after
 * DONE, it says DONE and takes nothing.
 */
int
proxy_git_push_feed(struct proxy_git_push *pu, const char *buf, size_t len,
    size_t *used, struct proxy_git_error *err)
{
	size_t	 off = 0, n;

	*used = 0;
	while (pu->pu_state == GIT_S_HDR || pu->pu_state == GIT_S_PAYLOAD) {
		if (off == len) {
			*used = len;
			return (PROXY_GIT_MORE);
		}
		if (pu->pu_state == GIT_S_HDR) {
			n = 4 - pu->pu_hdrlen;
			n = n < len - off ? n : len - off;
			memcpy(pu->pu_hdr + pu->pu_hdrlen, buf + off, n);
			pu->pu_hdrlen += n;
			off += n;
			if (pu->pu_hdrlen < 4)
				continue;
			pu->pu_hdrlen = 0;
			(void)git_push_header(pu);
		} else {
			n = pu->pu_need - pu->pu_linelen;
			n = n < len - off ? n : len - off;
			memcpy(pu->pu_line + pu->pu_linelen, buf + off, n);
			pu->pu_linelen += n;
			off += n;
			if (pu->pu_linelen < pu->pu_need)
				continue;
			(void)git_push_line(pu);
		}
	}
	*used = off;
	if (pu->pu_state == GIT_S_ERROR) {
		*err = pu->pu_err;
		return (PROXY_GIT_ERROR);
	}
	return (PROXY_GIT_DONE);
}

/* A pkt-len has been read: a flush-pkt, or a data pkt to read. */
static int
git_push_header(struct proxy_git_push *pu)
{
	int	 v;

	if ((v = git_hex4(pu->pu_hdr)) == -1)
		return (git_push_fail(pu, 400, "bad-pkt-length",
		    "pkt-len is not four hex digits"));
	if (v == 1 || v == 2)
		return (git_push_fail(pu, 400, "special-pkt",
		    "delim-pkt or response-end-pkt in a push"));
	if (v == 3)
		return (git_push_fail(pu, 400, "bad-pkt-length",
		    "pkt-len 3 is invalid"));
	if (v == 4)
		return (git_push_fail(pu, 400, "empty-pkt",
		    "empty pkt-line in a push"));
	if (v > PROXY_GIT_PKT_MAX)
		return (git_push_fail(pu, 400, "pkt-too-long",
		    "pkt-line longer than 65520 bytes"));
	if (v > 4 && (size_t)v - 4 > PROXY_GIT_LINE_MAX)
		return (git_push_fail(pu, 400, "line-too-long",
		    "pkt-line too long for a command"));
	if (pu->pu_section + (v == 0 ? 4 : v) > PROXY_GIT_SECTION_MAX)
		return (git_push_fail(pu, 413, "section-too-large",
		    "command section too large"));
	pu->pu_section += v == 0 ? 4 : v;
	if (v == 0)
		return (git_push_flush(pu));
	pu->pu_need = v - 4;
	pu->pu_linelen = 0;
	pu->pu_state = GIT_S_PAYLOAD;
	return (PROXY_GIT_MORE);
}

/* A flush-pkt: the end of the commands, or of the push options. */
static int
git_push_flush(struct proxy_git_push *pu)
{
	switch (pu->pu_phase) {
	case GIT_P_SHALLOW:
		return (git_push_fail(pu, 400, "no-commands",
		    "nothing to push"));
	case GIT_P_COMMANDS:
		if (pu->pu_caps & PROXY_GIT_CAP_PUSH_OPTIONS) {
			pu->pu_phase = GIT_P_OPTIONS;
			return (PROXY_GIT_MORE);
		}
		break;
	default:
		break;
	}
	pu->pu_state = GIT_S_DONE;
	return (PROXY_GIT_DONE);
}

/* A whole pkt-line payload is in pu_line. */
static int
git_push_line(struct proxy_git_push *pu)
{
	char	*p = pu->pu_line;
	size_t	 n = pu->pu_linelen;

	pu->pu_state = GIT_S_HDR;
	if (n > 0 && p[n - 1] == '\n')
		n--;
	p[n] = '\0';
	if (n == 0)
		return (git_push_fail(pu, 400, "empty-pkt",
		    "empty pkt-line in a push"));
	if (pu->pu_phase == GIT_P_OPTIONS)
		return (git_push_option(pu, p, n));
	if (pu->pu_phase == GIT_P_SHALLOW && GIT_STARTS(p, n, GIT_SHALLOW))
		return (git_push_shallow(pu, p, n));
	pu->pu_phase = GIT_P_COMMANDS;
	return (git_push_command(pu, p, n));
}

/* "shallow" SP obj-id, before the commands. */
static int
git_push_shallow(struct proxy_git_push *pu, const char *p, size_t n)
{
	if (git_oid_check(pu, p + GIT_STRLEN(GIT_SHALLOW),
	    n - GIT_STRLEN(GIT_SHALLOW)) == -1)
		return (PROXY_GIT_ERROR);
	pu->pu_nshallow++;
	return (PROXY_GIT_MORE);
}

/*
 * A command line; the first may carry capabilities after a NUL, and
 * may not be a push certificate.
 */
static int
git_push_command(struct proxy_git_push *pu, char *p, size_t n)
{
	const char	*nul;
	size_t		 cn;

	if (GIT_STARTS(p, n, GIT_PUSH_CERT))
		return (git_push_fail(pu, 403, "push-cert",
		    "signed pushes are not relayed"));
	nul = memchr(p, '\0', n);
	cn = nul != NULL ? (size_t)(nul - p) : n;
	if (pu->pu_ncmds == 0) {
		if (nul != NULL && git_push_caps(pu, nul + 1,
		    n - cn - 1) == PROXY_GIT_ERROR)
			return (PROXY_GIT_ERROR);
		if (!(pu->pu_caps & PROXY_GIT_CAP_OBJECT_FORMAT) &&
		    git_push_oidlen(pu, GIT_OID_SHA1) == PROXY_GIT_ERROR)
			return (PROXY_GIT_ERROR);
	} else if (nul != NULL)
		return (git_push_fail(pu, 400, "bad-command",
		    "capabilities after the first command"));
	if (pu->pu_ncmds == PROXY_GIT_COMMANDS_MAX)
		return (git_push_fail(pu, 413, "too-many-commands",
		    "too many ref updates in one push"));
	return (git_push_update(pu, p, cn));
}

/*
 * old-id SP new-id SP name, the name ending the n bytes at p: checked,
 * then held to the policy.
 */
static int
git_push_update(struct proxy_git_push *pu, char *p, size_t n)
{
	const char	*s1, *s2, *why;
	size_t		 ol, rl;

	p[n] = '\0';	/* a NUL or the end of the line: the name ends */
	if ((s1 = memchr(p, ' ', n)) == NULL ||
	    (s2 = memchr(s1 + 1, ' ', n - (s1 + 1 - p))) == NULL)
		return (git_push_fail(pu, 400, "bad-command",
		    "command is not old-id SP new-id SP name"));
	ol = s1 - p;
	if (git_oid_check(pu, p, ol) == -1 ||
	    git_oid_check(pu, s1 + 1, s2 - (s1 + 1)) == -1)
		return (PROXY_GIT_ERROR);
	rl = n - (s2 + 1 - p);
	if ((why = git_refname_why(s2 + 1, rl)) != NULL)
		return (git_push_fail(pu, 400, "bad-refname", why));
	return (git_push_policy(pu, p, s2 + 1, rl));
}

/*
 * Hold one well-formed command (p points at its old id) to the policy:
 * no delete, no tag, no ref twice, only refs some glob takes.
 */
static int
git_push_policy(struct proxy_git_push *pu, const char *p, const char *ref,
    size_t rl)
{
	const struct proxy_git_policy	*gp = pu->pu_policy;
	size_t				 i, ol = pu->pu_oidlen;
	int				 ok = 0;

	for (i = 0; i < pu->pu_ncmds; i++)
		if (pu->pu_cmds[i].gc_reflen == rl &&
		    memcmp(pu->pu_cmds[i].gc_ref, ref, rl) == 0)
			return (git_push_fail(pu, 400, "duplicate-ref",
			    "a ref named twice in one push"));
	if (git_oid_zero(p + ol + 1, ol))
		return (git_push_fail(pu, 403, "delete",
		    "deleting a ref is not allowed"));
	if (GIT_STARTS(ref, rl, GIT_TAGS))
		return (git_push_fail(pu, 403, "tag",
		    "pushing a tag is not allowed"));
	for (i = 0; gp != NULL && i < gp->gp_nglobs && !ok; i++)
		ok = proxy_git_glob_match(gp->gp_globs[i], ref);
	if (!ok)
		return (git_push_fail(pu, 403, "ref-not-allowed",
		    "ref outside the sandbox's push globs"));
	return (git_push_store(pu, p, ref, rl));
}

/* Append a command to pu_cmds. */
static int
git_push_store(struct proxy_git_push *pu, const char *p, const char *ref,
    size_t rl)
{
	struct proxy_git_cmd	*gc;
	size_t			 ol = pu->pu_oidlen, na;

	if (pu->pu_ncmds == pu->pu_cmdsalloc) {
		na = pu->pu_cmdsalloc == 0 ? GIT_CMDS_FIRST :
		    pu->pu_cmdsalloc * 2;
		if ((gc = realloc(pu->pu_cmds, na * sizeof(*gc))) == NULL)
			return (git_push_fail(pu, 500, "no-memory",
			    "out of memory"));
		pu->pu_cmds = gc;
		pu->pu_cmdsalloc = na;
	}
	gc = &pu->pu_cmds[pu->pu_ncmds];
	memset(gc, 0, sizeof(*gc));
	if ((gc->gc_ref = strndup(ref, rl)) == NULL)
		return (git_push_fail(pu, 500, "no-memory", "out of memory"));
	gc->gc_reflen = rl;
	memcpy(gc->gc_old, p, ol);
	memcpy(gc->gc_new, p + ol + 1, ol);
	gc->gc_create = git_oid_zero(p, ol);
	pu->pu_ncmds++;
	return (PROXY_GIT_MORE);
}

/* The capability list after the first command's NUL. */
static int
git_push_caps(struct proxy_git_push *pu, const char *p, size_t n)
{
	const char	*s, *e, *end = p + n;

	/* Each may come once: the table bounds the list. */
	for (s = p; s < end; s = e + 1) {
		if ((e = memchr(s, ' ', end - s)) == NULL)
			e = end;
		if (e == s)
			continue;	/* git's leading space */
		if (git_push_cap(pu, s, e - s) == PROXY_GIT_ERROR)
			return (PROXY_GIT_ERROR);
	}
	if ((pu->pu_caps & PROXY_GIT_CAP_SIDE_BAND) &&
	    (pu->pu_caps & PROXY_GIT_CAP_SIDE_BAND_64K))
		return (git_push_fail(pu, 400, "bad-capability",
		    "both side-band and side-band-64k"));
	return (PROXY_GIT_MORE);
}

/* One capability, name or name=value, against the allowlist. */
static int
git_push_cap(struct proxy_git_push *pu, const char *p, size_t n)
{
	const struct git_cap	*gk = NULL;
	const char		*eq;
	size_t			 i, nl;

	eq = memchr(p, '=', n);
	nl = eq != NULL ? (size_t)(eq - p) : n;
	for (i = 0; i < sizeof(git_caps) / sizeof(git_caps[0]); i++)
		if (strlen(git_caps[i].gk_name) == nl &&
		    memcmp(git_caps[i].gk_name, p, nl) == 0)
			gk = &git_caps[i];
	if (gk == NULL)
		return (git_push_fail(pu, 403, "capability",
		    "capability not allowed"));
	if (gk->gk_flag == PROXY_GIT_CAP_PUSH_OPTIONS &&
	    (pu->pu_policy == NULL ||
	    !(pu->pu_policy->gp_flags & PROXY_GIT_P_PUSH_OPTIONS)))
		return (git_push_fail(pu, 403, "push-options",
		    "push options are not allowed"));
	if (pu->pu_caps & gk->gk_flag)
		return (git_push_fail(pu, 400, "bad-capability",
		    "capability given twice"));
	if (!gk->gk_value != (eq == NULL))
		return (git_push_fail(pu, 400, "bad-capability",
		    "capability value missing or unexpected"));
	pu->pu_caps |= gk->gk_flag;
	if (eq == NULL)
		return (PROXY_GIT_MORE);
	return (git_push_cap_value(pu, gk->gk_flag, eq + 1, n - nl - 1));
}

/* The value of agent=, session-id= or object-format=. */
static int
git_push_cap_value(struct proxy_git_push *pu, int flag, const char *p,
    size_t n)
{
	size_t	 i;

	if (n == 0)
		return (git_push_fail(pu, 400, "bad-capability",
		    "empty capability value"));
	for (i = 0; i < n; i++)
		if ((unsigned char)p[i] <= 0x20 || (unsigned char)p[i] >= 0x7f)
			return (git_push_fail(pu, 400, "bad-capability",
			    "capability value not printable ASCII"));
	if (flag == PROXY_GIT_CAP_AGENT) {
		i = n < sizeof(pu->pu_agent) ? n : sizeof(pu->pu_agent) - 1;
		memcpy(pu->pu_agent, p, i);
		pu->pu_agent[i] = '\0';
	}
	if (flag != PROXY_GIT_CAP_OBJECT_FORMAT)
		return (PROXY_GIT_MORE);
	if (n == 4 && memcmp(p, "sha1", 4) == 0)
		return (git_push_oidlen(pu, GIT_OID_SHA1));
	if (n == 6 && memcmp(p, "sha256", 6) == 0)
		return (git_push_oidlen(pu, GIT_OID_SHA256));
	return (git_push_fail(pu, 400, "bad-capability",
	    "object-format is neither sha1 nor sha256"));
}

/*
 * Fix the id length at the first command, from object-format or SHA-1
 * by default; shallow lines before it must agree.
 */
static int
git_push_oidlen(struct proxy_git_push *pu, size_t want)
{
	if (pu->pu_oidlen != 0 && pu->pu_oidlen != want)
		return (git_push_fail(pu, 400, "mixed-oid-length",
		    "object ids of another length than the object format"));
	pu->pu_oidlen = want;
	return (PROXY_GIT_MORE);
}

/* One push option: 1*(VCHAR / SP). */
static int
git_push_option(struct proxy_git_push *pu, const char *p, size_t n)
{
	size_t	 i;

	if (pu->pu_noptions == PROXY_GIT_OPTIONS_MAX)
		return (git_push_fail(pu, 413, "too-many-options",
		    "too many push options"));
	for (i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x20 || (unsigned char)p[i] >= 0x7f)
			return (git_push_fail(pu, 400, "bad-push-option",
			    "push option not printable ASCII"));
	pu->pu_noptions++;
	return (PROXY_GIT_MORE);
}

/*
 * An object id of the request: 40 or 64 lower-case hex digits, the same
 * length as every other.  0, or -1 with the push refused.
 */
static int
git_oid_check(struct proxy_git_push *pu, const char *p, size_t n)
{
	size_t	 i;

	if (n != GIT_OID_SHA1 && n != GIT_OID_SHA256) {
		(void)git_push_fail(pu, 400, "bad-oid",
		    "object id is not 40 or 64 hex digits");
		return (-1);
	}
	for (i = 0; i < n; i++)
		if (!((p[i] >= '0' && p[i] <= '9') ||
		    (p[i] >= 'a' && p[i] <= 'f'))) {
			(void)git_push_fail(pu, 400, "bad-oid",
			    "object id is not lower-case hex");
			return (-1);
		}
	if (pu->pu_oidlen != 0 && pu->pu_oidlen != n) {
		(void)git_push_fail(pu, 400, "mixed-oid-length",
		    "object ids of different lengths");
		return (-1);
	}
	pu->pu_oidlen = n;
	return (0);
}

/* Whether n hex digits at p are all '0'. */
static int
git_oid_zero(const char *p, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (p[i] != '0')
			return (0);
	return (1);
}

static uint32_t
git_be32(const unsigned char *p)
{
	return ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3]);
}

/*
 * Check the pack header in the bytes after the command section, fed in
 * any pieces after proxy_git_push_feed said DONE (it takes nothing;
 * all of them go upstream): "PACK", version 2 or 3, an object count.
 * MORE until the twelve header bytes are in, then DONE; ERROR at the
 * first byte that cannot start a pack.
 */
int
proxy_git_push_pack(struct proxy_git_push *pu, const char *buf, size_t len,
    struct proxy_git_error *err)
{
	size_t	 n;

	if (pu->pu_state == GIT_S_ERROR) {
		*err = pu->pu_err;
		return (PROXY_GIT_ERROR);
	}
	if (pu->pu_state != GIT_S_DONE) {
		(void)git_fail(err, 500, "pack-early",
		    "pack checked before the command section ended");
		return (PROXY_GIT_ERROR);
	}
	n = PROXY_GIT_PACK_HDR - pu->pu_packlen;
	n = n < len ? n : len;
	memcpy(pu->pu_pack + pu->pu_packlen, buf, n);
	pu->pu_packlen += n;
	n = pu->pu_packlen < 4 ? pu->pu_packlen : 4;
	if (memcmp(pu->pu_pack, "PACK", n) != 0)
		(void)git_push_fail(pu, 400, "bad-pack",
		    "no pack after the command section");
	else if (pu->pu_packlen >= 8 &&
	    (pu->pu_packversion = git_be32(pu->pu_pack + 4)) != 2 &&
	    pu->pu_packversion != 3)
		(void)git_push_fail(pu, 400, "bad-pack",
		    "pack version is neither 2 nor 3");
	if (pu->pu_state == GIT_S_ERROR) {
		*err = pu->pu_err;
		return (PROXY_GIT_ERROR);
	}
	if (pu->pu_packlen < PROXY_GIT_PACK_HDR)
		return (PROXY_GIT_MORE);
	pu->pu_packobjects = git_be32(pu->pu_pack + 8);
	return (PROXY_GIT_DONE);
}

/*
 * The body ended.  DONE if the command section and a pack header were
 * all there; else ERROR, for good.
 */
int
proxy_git_push_end(struct proxy_git_push *pu, struct proxy_git_error *err)
{
	if (pu->pu_state == GIT_S_HDR || pu->pu_state == GIT_S_PAYLOAD)
		(void)git_push_fail(pu, 400, "truncated",
		    "body ended inside the command section");
	else if (pu->pu_state == GIT_S_DONE &&
	    pu->pu_packlen < PROXY_GIT_PACK_HDR)
		(void)git_push_fail(pu, 400, "truncated-pack",
		    "body ended before a whole pack header");
	if (pu->pu_state == GIT_S_ERROR) {
		*err = pu->pu_err;
		return (PROXY_GIT_ERROR);
	}
	return (PROXY_GIT_DONE);
}

/* Free what the parser holds; safe on an initialised or zeroed pu. */
void
proxy_git_push_free(struct proxy_git_push *pu)
{
	size_t	 i;

	for (i = 0; i < pu->pu_ncmds; i++)
		free(pu->pu_cmds[i].gc_ref);
	free(pu->pu_cmds);
	pu->pu_cmds = NULL;
	pu->pu_ncmds = pu->pu_cmdsalloc = 0;
}

/*
 * Check the start of an info/refs response body from upstream, buf
 * being its first len bytes: "# service=NAME" and a flush-pkt, or for
 * git-upload-pack "version 2" (git http-backend drops the service line
 * under protocol v2).  MORE: need more bytes; DONE: *used bytes were
 * checked; ERROR: not a smart reply for the service (502).
 */
int
proxy_git_advert_check(int service, const char *buf, size_t len,
    size_t *used, struct proxy_git_error *err)
{
	const char	*name = proxy_git_service_name(service), *p;
	size_t		 n, nl = strlen(name);
	int		 v;

	*used = 0;
	if (len < 4)
		return (PROXY_GIT_MORE);
	if ((v = git_hex4(buf)) < 5 || v > PROXY_GIT_PKT_MAX) {
		(void)git_fail(err, 502, "bad-advert",
		    "upstream reply does not start with a pkt-line");
		return (PROXY_GIT_ERROR);
	}
	if (len < (size_t)v)
		return (PROXY_GIT_MORE);
	p = buf + 4;
	n = v - 4;
	if (p[n - 1] == '\n')
		n--;
	if (service == PROXY_GIT_UPLOAD_PACK &&
	    n == GIT_STRLEN(GIT_V2_LINE) && memcmp(p, GIT_V2_LINE, n) == 0) {
		*used = v;
		return (PROXY_GIT_DONE);
	}
	if (nl == 0 || n != GIT_STRLEN(GIT_SERVICE_LINE) + nl ||
	    memcmp(p, GIT_SERVICE_LINE, GIT_STRLEN(GIT_SERVICE_LINE)) != 0 ||
	    memcmp(p + GIT_STRLEN(GIT_SERVICE_LINE), name, nl) != 0) {
		(void)git_fail(err, 502, "bad-advert",
		    "upstream reply is not for this service");
		return (PROXY_GIT_ERROR);
	}
	if (len < (size_t)v + 4)
		return (PROXY_GIT_MORE);
	if (memcmp(buf + v, "0000", 4) != 0) {
		(void)git_fail(err, 502, "bad-advert",
		    "no flush-pkt after the service line");
		return (PROXY_GIT_ERROR);
	}
	*used = v + 4;
	return (PROXY_GIT_DONE);
}
