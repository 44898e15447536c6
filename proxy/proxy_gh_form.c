/*
 * proxy_gh_form.c: the pure parts of the gateway's pull requests
 * (proxy_gh.c): the shim's requests parsed strictly (known fields only,
 * once each, percent-escapes checked, UTF-8 text, branch names as git
 * takes them), the sandbox's policy, and GitHub's answers turned into
 * what gh prints.  Needs libc, jansson and proxy_git_pkt.c.
 */

#include <sys/types.h>

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "proxy_gh.h"

#ifndef nitems
#define nitems(a)	(sizeof(a) / sizeof((a)[0]))
#endif

/* The fields of a request, and which operation takes which. */
enum gh_field {
	GH_F_REPO,
	GH_F_STATE,
	GH_F_HEAD,
	GH_F_BASE,
	GH_F_LIMIT,
	GH_F_JSON,
	GH_F_NUMBER,
	GH_F_TITLE,
	GH_F_BODY,
	GH_F_DRAFT,
	GH_F_N
};
static const char *gh_field_names[GH_F_N] = { "repo", "state", "head",
    "base", "limit", "json", "number", "title", "body", "draft" };
#define GH_B(f)	(1U << (f))
static const unsigned int gh_allowed[] = {
	0,
	GH_B(GH_F_REPO) | GH_B(GH_F_STATE) | GH_B(GH_F_HEAD) |
	    GH_B(GH_F_BASE) | GH_B(GH_F_LIMIT) | GH_B(GH_F_JSON),
	GH_B(GH_F_REPO) | GH_B(GH_F_NUMBER) | GH_B(GH_F_HEAD) |
	    GH_B(GH_F_JSON),
	GH_B(GH_F_REPO) | GH_B(GH_F_HEAD) | GH_B(GH_F_BASE) |
	    GH_B(GH_F_TITLE) | GH_B(GH_F_BODY) | GH_B(GH_F_DRAFT)
};

/* gh's --json field names. */
static const struct {
	const char	*name;
	unsigned int	 bit;
} gh_json_fields[] = {
	{ "author",		PROXY_GH_J_AUTHOR },
	{ "baseRefName",	PROXY_GH_J_BASE },
	{ "body",		PROXY_GH_J_BODY },
	{ "createdAt",		PROXY_GH_J_CREATED },
	{ "headRefName",	PROXY_GH_J_HEAD },
	{ "isDraft",		PROXY_GH_J_DRAFT },
	{ "number",		PROXY_GH_J_NUMBER },
	{ "state",		PROXY_GH_J_STATE },
	{ "title",		PROXY_GH_J_TITLE },
	{ "updatedAt",		PROXY_GH_J_UPDATED },
	{ "url",		PROXY_GH_J_URL }
};

static int	gh_form(const char *, size_t, int, char **,
		    proxy_gh_error *);
static int	gh_decode(const char *, size_t, char **, size_t *);
static void	gh_decode_err(proxy_gh_error *, int);
static int	gh_text_ok(const char *, size_t, int);
static int	gh_branch(const char *, const char *, char **,
		    proxy_gh_error *);
static int	gh_number(const char *, long, long, long *);
static void	gh_err(proxy_gh_error *, int, const char *, const char *);
static const char *gh_str(json_t *, const char *);
static const char *gh_state_of(json_t *, int);
static int	gh_json_pr(json_t *, unsigned int, json_t **);
static void	gh_line(FILE *, const char *);

/*
 * Parsing.
 */

/*
 * A request: method, target (origin-form, from /gh/), its body and
 * Content-Type.  0, or -1 with err set (the status to answer).
 */
int
proxy_gh_parse(const char *method, const char *target, size_t targetlen,
    const char *body, size_t bodylen, const char *ctype,
    struct proxy_gh_req *gq, proxy_gh_error *err)
{
	static const char	*ops[] = { NULL, "/gh/pr/list", "/gh/pr/view",
				    "/gh/pr/create" };
	const char		*q, *why;
	char			*v[GH_F_N];
	size_t			 pathlen, i, n;
	long			 limit;
	int			 op, r = -1;

	memset(gq, 0, sizeof(*gq));
	memset(v, 0, sizeof(v));
	q = memchr(target, '?', targetlen);
	pathlen = q != NULL ? (size_t)(q - target) : targetlen;
	for (op = PROXY_GH_LIST; op <= PROXY_GH_CREATE; op++)
		if (strlen(ops[op]) == pathlen &&
		    memcmp(target, ops[op], pathlen) == 0)
			break;
	if (op > PROXY_GH_CREATE) {
		gh_err(err, 404, "not-found", "the gh shim asks /gh/pr/list, "
		    "/gh/pr/view or /gh/pr/create");
		return (-1);
	}
	gq->gq_op = op;
	if (strcmp(method, op == PROXY_GH_CREATE ? "POST" : "GET") != 0) {
		gh_err(err, 405, "method-not-allowed", op == PROXY_GH_CREATE ?
		    "a create is a POST" : "a list or a view is a GET");
		return (-1);
	}
	if (op == PROXY_GH_CREATE) {
		if (q != NULL) {
			gh_err(err, 400, "query", "a create takes its fields "
			    "in the body");
			return (-1);
		}
		n = ctype != NULL ? strcspn(ctype, "; \t") : 0;
		if (ctype == NULL || n != 33 || strncasecmp(ctype,
		    "application/x-www-form-urlencoded", 33) != 0) {
			gh_err(err, 415, "content-type", "a create's body is "
			    "application/x-www-form-urlencoded");
			return (-1);
		}
		if (bodylen > PROXY_GH_FORM_MAX) {
			gh_err(err, 413, "body-too-large", "the form is over "
			    "1 MiB");
			return (-1);
		}
		if (gh_form(body, bodylen, op, v, err) == -1)
			goto out;
	} else {
		if (bodylen > 0) {
			gh_err(err, 400, "body", "a list or a view has no "
			    "body");
			return (-1);
		}
		if (q != NULL && gh_form(q + 1, targetlen - pathlen - 1, op, v,
		    err) == -1)
			goto out;
	}

	/* repo, in every request */
	if (v[GH_F_REPO] == NULL) {
		gh_err(err, 400, "no-repo", "repo=OWNER/NAME is missing");
		goto out;
	}
	if (strlen(v[GH_F_REPO]) >= sizeof(gq->gq_repo) ||
	    proxy_git_repo_check(v[GH_F_REPO], &why) == -1 ||
	    strchr(v[GH_F_REPO], '*') != NULL) {
		gh_err(err, 400, "bad-repo", "repo is not OWNER/NAME");
		goto out;
	}
	memcpy(gq->gq_repo, v[GH_F_REPO], strlen(v[GH_F_REPO]) + 1);
	n = strcspn(gq->gq_repo, "/");
	memcpy(gq->gq_owner, gq->gq_repo, n);
	gq->gq_owner[n] = '\0';

	if (v[GH_F_HEAD] != NULL && gh_branch(v[GH_F_HEAD], "head",
	    &gq->gq_head, err) == -1)
		goto out;
	if (v[GH_F_BASE] != NULL && gh_branch(v[GH_F_BASE], "base",
	    &gq->gq_base, err) == -1)
		goto out;

	gq->gq_state = PROXY_GH_OPEN;
	if (v[GH_F_STATE] != NULL) {
		if (strcmp(v[GH_F_STATE], "open") == 0)
			gq->gq_state = PROXY_GH_OPEN;
		else if (strcmp(v[GH_F_STATE], "closed") == 0)
			gq->gq_state = PROXY_GH_CLOSED;
		else if (strcmp(v[GH_F_STATE], "merged") == 0)
			gq->gq_state = PROXY_GH_MERGED;
		else if (strcmp(v[GH_F_STATE], "all") == 0)
			gq->gq_state = PROXY_GH_ALL;
		else {
			gh_err(err, 400, "bad-state", "state is open, closed, "
			    "merged or all");
			goto out;
		}
	}
	gq->gq_limit = PROXY_GH_LIMIT_DEFAULT;
	if (v[GH_F_LIMIT] != NULL) {
		if (gh_number(v[GH_F_LIMIT], 1, PROXY_GH_LIMIT_MAX,
		    &limit) == -1) {
			gh_err(err, 400, "bad-limit", "limit is 1 to 100");
			goto out;
		}
		gq->gq_limit = (int)limit;
	}
	if (v[GH_F_NUMBER] != NULL && gh_number(v[GH_F_NUMBER], 1, INT_MAX,
	    &gq->gq_number) == -1) {
		gh_err(err, 400, "bad-number", "number is a pull request's "
		    "number");
		goto out;
	}
	if (op == PROXY_GH_VIEW && (gq->gq_number == 0) == (gq->gq_head ==
	    NULL)) {
		gh_err(err, 400, "view", "a view names a number or a head "
		    "branch, one of them");
		goto out;
	}
	if (v[GH_F_JSON] != NULL) {
		const char	*f = v[GH_F_JSON], *e;
		size_t		 k;

		do {
			e = f + strcspn(f, ",");
			for (k = 0; k < nitems(gh_json_fields); k++)
				if (strlen(gh_json_fields[k].name) ==
				    (size_t)(e - f) && memcmp(f,
				    gh_json_fields[k].name, e - f) == 0)
					break;
			if (k == nitems(gh_json_fields)) {
				gh_err(err, 400, "json-field", "unknown JSON "
				    "field: the fields are author, "
				    "baseRefName, body, createdAt, "
				    "headRefName, isDraft, number, state, "
				    "title, updatedAt, url");
				goto out;
			}
			gq->gq_json |= gh_json_fields[k].bit;
			f = *e == ',' ? e + 1 : e;
		} while (*e != '\0');
	}

	if (op == PROXY_GH_CREATE) {
		if (gq->gq_head == NULL) {
			gh_err(err, 400, "no-head", "head=BRANCH is missing");
			goto out;
		}
		if (v[GH_F_TITLE] == NULL || v[GH_F_TITLE][0] == '\0' ||
		    strlen(v[GH_F_TITLE]) > PROXY_GH_TITLE_MAX ||
		    !gh_text_ok(v[GH_F_TITLE], strlen(v[GH_F_TITLE]), 0)) {
			gh_err(err, 400, "bad-title", "a title is needed: one "
			    "line of UTF-8 text");
			goto out;
		}
		gq->gq_title = v[GH_F_TITLE];
		v[GH_F_TITLE] = NULL;
		if (v[GH_F_BODY] != NULL) {
			if (strlen(v[GH_F_BODY]) > PROXY_GH_TEXT_MAX ||
			    !gh_text_ok(v[GH_F_BODY], strlen(v[GH_F_BODY]),
			    1)) {
				gh_err(err, 400, "bad-body", "the body is "
				    "UTF-8 text of at most 65536 characters");
				goto out;
			}
			gq->gq_body = v[GH_F_BODY];
			v[GH_F_BODY] = NULL;
		}
		if (v[GH_F_DRAFT] != NULL) {
			if (strcmp(v[GH_F_DRAFT], "true") == 0)
				gq->gq_draft = 1;
			else if (strcmp(v[GH_F_DRAFT], "false") != 0) {
				gh_err(err, 400, "bad-draft", "draft is true "
				    "or false");
				goto out;
			}
		}
	}
	r = 0;
 out:
	for (i = 0; i < GH_F_N; i++)
		free(v[i]);
	if (r == -1)
		proxy_gh_req_free(gq);
	return (r);
}

void
proxy_gh_req_free(struct proxy_gh_req *gq)
{
	free(gq->gq_head);
	free(gq->gq_base);
	free(gq->gq_title);
	free(gq->gq_body);
	gq->gq_head = gq->gq_base = gq->gq_title = gq->gq_body = NULL;
}

/*
 * name=value&... into v, for operation op: every name known to it and
 * given once, every value decoded, UTF-8 and without NUL.
 */
static int
gh_form(const char *p, size_t n, int op, char **v, proxy_gh_error *err)
{
	const char	*end = p + n, *amp, *eq;
	char		*val, *name;
	size_t		 vlen, nlen;
	int		 f, r;

	while (p < end) {
		if ((amp = memchr(p, '&', end - p)) == NULL)
			amp = end;
		if ((eq = memchr(p, '=', amp - p)) == NULL) {
			gh_err(err, 400, "bad-form", "a field without '='");
			return (-1);
		}
		if ((r = gh_decode(p, eq - p, &name, &nlen)) != 0) {
			gh_decode_err(err, r);
			return (-1);
		}
		for (f = 0; f < GH_F_N; f++)
			if (strlen(gh_field_names[f]) == nlen &&
			    memcmp(name, gh_field_names[f], nlen) == 0)
				break;
		free(name);
		if (f == GH_F_N || !(gh_allowed[op] & GH_B(f))) {
			gh_err(err, 400, "unknown-field", "a field this "
			    "request does not take");
			return (-1);
		}
		if (v[f] != NULL) {
			gh_err(err, 400, "repeated-field", "a field given "
			    "twice");
			return (-1);
		}
		if ((r = gh_decode(eq + 1, amp - eq - 1, &val, &vlen)) != 0) {
			gh_decode_err(err, r);
			return (-1);
		}
		v[f] = val;
		if (memchr(val, '\0', vlen) != NULL ||
		    !gh_text_ok(val, vlen, 1)) {
			gh_err(err, 400, "bad-text", "a value that is not "
			    "UTF-8 text");
			return (-1);
		}
		p = amp < end ? amp + 1 : end;
	}
	return (0);
}

/* Why gh_decode failed (r): the escape, or memory. */
static void
gh_decode_err(proxy_gh_error *err, int r)
{
	if (r == -2)
		gh_err(err, 500, "memory", "out of memory");
	else
		gh_err(err, 400, "bad-form", "a bad percent-escape");
}

/*
 * application/x-www-form-urlencoded: '+' is a space, %XX a byte.  -1 for
 * a bad escape, -2 if memory ran out.
 */
static int
gh_decode(const char *p, size_t n, char **out, size_t *outlen)
{
	char	*s;
	size_t	 i, k = 0;
	int	 hi, lo;

	if ((s = malloc(n + 1)) == NULL)
		return (-2);
	for (i = 0; i < n; i++) {
		if (p[i] == '+')
			s[k++] = ' ';
		else if (p[i] != '%')
			s[k++] = p[i];
		else {
			if (i + 2 >= n || !isxdigit((unsigned char)p[i + 1]) ||
			    !isxdigit((unsigned char)p[i + 2])) {
				free(s);
				return (-1);
			}
			hi = isdigit((unsigned char)p[i + 1]) ? p[i + 1] - '0' :
			    (tolower((unsigned char)p[i + 1]) - 'a' + 10);
			lo = isdigit((unsigned char)p[i + 2]) ? p[i + 2] - '0' :
			    (tolower((unsigned char)p[i + 2]) - 'a' + 10);
			s[k++] = (char)(hi << 4 | lo);
			i += 2;
		}
	}
	s[k] = '\0';
	*out = s;
	*outlen = k;
	return (0);
}

/*
 * Whether s[0..n) is UTF-8 text: no control character but, with lines,
 * tab, line feed and carriage return.
 */
static int
gh_text_ok(const char *s, size_t n, int lines)
{
	json_t	*j;
	size_t	 i;

	for (i = 0; i < n; i++) {
		if ((unsigned char)s[i] >= 0x20 && s[i] != 0x7f)
			continue;
		if (lines && (s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
			continue;
		return (0);
	}
	if ((j = json_stringn(s, n)) == NULL)	/* not UTF-8 */
		return (0);
	json_decref(j);
	return (1);
}

/* A branch name as git takes it (refs/heads/NAME), copied to *out. */
static int
gh_branch(const char *name, const char *what, char **out,
    proxy_gh_error *err)
{
	const char	*why;
	char		 ref[PROXY_GIT_REFNAME_MAX + 1];
	int		 n;

	if (strchr(name, ':') != NULL) {
		gh_err(err, 403, "cross-repository", "a branch of another "
		    "repository (OWNER:BRANCH) is not allowed");
		return (-1);
	}
	n = snprintf(ref, sizeof(ref), "refs/heads/%s", name);
	if (name[0] == '\0' || n < 0 || (size_t)n >= sizeof(ref) ||
	    proxy_git_refname_check(ref, n, &why) == -1) {
		gh_err(err, 400, strcmp(what, "head") == 0 ? "bad-head" :
		    "bad-base", "not a branch name git would take");
		return (-1);
	}
	if ((*out = strdup(name)) == NULL) {
		gh_err(err, 500, "memory", "out of memory");
		return (-1);
	}
	return (0);
}

/* Decimal digits only, lo to hi. */
static int
gh_number(const char *s, long lo, long hi, long *out)
{
	long	 v = 0;
	size_t	 i;

	if (s[0] == '\0' || s[0] == '0' || strlen(s) > 10)
		return (-1);
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9')
			return (-1);
		v = v * 10 + (s[i] - '0');
	}
	if (v < lo || v > hi)
		return (-1);
	*out = v;
	return (0);
}

static void
gh_err(proxy_gh_error *err, int status, const char *reason,
    const char *detail)
{
	err->status = status;
	err->reason = reason;
	err->detail = detail;
}

/*
 * The sandbox's policy: its repositories; a create's head among the
 * branches it may push (its globs, as for git).
 */
int
proxy_gh_check(const struct proxy_gh_req *gq, const char *const *repos,
    size_t nrepos, const char *const *globs, size_t nglobs,
    proxy_gh_error *err)
{
	char	 ref[PROXY_GIT_REFNAME_MAX + 1];
	size_t	 i;

	if (!proxy_git_repo_match(gq->gq_repo, repos, nrepos)) {
		gh_err(err, 403, "repo", "not a repository of this sandbox");
		return (-1);
	}
	if (gq->gq_op != PROXY_GH_CREATE)
		return (0);
	snprintf(ref, sizeof(ref), "refs/heads/%s", gq->gq_head);
	for (i = 0; i < nglobs; i++)
		if (proxy_git_glob_match(globs[i], ref))
			return (0);
	gh_err(err, 403, "branch-not-allowed", "a pull request may come only "
	    "from a branch this sandbox may push");
	return (-1);
}

/*
 * Output.
 */

static const char *
gh_str(json_t *o, const char *key)
{
	const char	*s = json_string_value(json_object_get(o, key));

	return (s != NULL ? s : "");
}

/* gh's state of a pull request; with draft, DRAFT for an open draft. */
static const char *
gh_state_of(json_t *pr, int draft)
{
	if (json_is_string(json_object_get(pr, "merged_at")) ||
	    json_is_true(json_object_get(pr, "merged")))
		return ("MERGED");
	if (strcmp(gh_str(pr, "state"), "closed") == 0)
		return ("CLOSED");
	if (draft && json_is_true(json_object_get(pr, "draft")))
		return ("DRAFT");
	return ("OPEN");
}

/* A pull request's fields by gh's names, the ones asked for. */
static int
gh_json_pr(json_t *pr, unsigned int want, json_t **out)
{
	json_t		*o, *head, *base;
	const char	*login;
	int		 r = 0;

	if (!json_is_object(pr) || (o = json_object()) == NULL)
		return (-1);
	head = json_object_get(pr, "head");
	base = json_object_get(pr, "base");
	login = json_string_value(json_object_get(json_object_get(pr, "user"),
	    "login"));
	if (want & PROXY_GH_J_NUMBER)
		r |= json_object_set_new(o, "number", json_integer(
		    json_integer_value(json_object_get(pr, "number"))));
	if (want & PROXY_GH_J_TITLE)
		r |= json_object_set_new(o, "title",
		    json_string(gh_str(pr, "title")));
	if (want & PROXY_GH_J_BODY)
		r |= json_object_set_new(o, "body",
		    json_string(gh_str(pr, "body")));
	if (want & PROXY_GH_J_STATE)
		r |= json_object_set_new(o, "state",
		    json_string(gh_state_of(pr, 0)));
	if (want & PROXY_GH_J_URL)
		r |= json_object_set_new(o, "url",
		    json_string(gh_str(pr, "html_url")));
	if (want & PROXY_GH_J_HEAD)
		r |= json_object_set_new(o, "headRefName",
		    json_string(gh_str(head, "ref")));
	if (want & PROXY_GH_J_BASE)
		r |= json_object_set_new(o, "baseRefName",
		    json_string(gh_str(base, "ref")));
	if (want & PROXY_GH_J_DRAFT)
		r |= json_object_set_new(o, "isDraft", json_boolean(
		    json_is_true(json_object_get(pr, "draft"))));
	if (want & PROXY_GH_J_AUTHOR)
		r |= json_object_set_new(o, "author", json_pack("{s:s}",
		    "login", login != NULL ? login : ""));
	if (want & PROXY_GH_J_CREATED)
		r |= json_object_set_new(o, "createdAt",
		    json_string(gh_str(pr, "created_at")));
	if (want & PROXY_GH_J_UPDATED)
		r |= json_object_set_new(o, "updatedAt",
		    json_string(gh_str(pr, "updated_at")));
	if (r != 0) {
		json_decref(o);
		return (-1);
	}
	*out = o;
	return (0);
}

/* One field of a table line: tabs and line ends become spaces. */
static void
gh_line(FILE *fp, const char *s)
{
	for (; *s != '\0'; s++)
		fputc(*s == '\t' || *s == '\n' || *s == '\r' ? ' ' : *s, fp);
}

/*
 * What gh prints for the answer a (a pull request, or a list of them
 * for a list), as *out.  0, or -1 with err set.
 */
int
proxy_gh_format(const struct proxy_gh_req *gq, json_t *a, char **out,
    size_t *outlen, proxy_gh_error *err)
{
	FILE		*fp;
	json_t		*pr, *j = NULL, *o, *head, *labels, *l;
	const char	*login, *state;
	char		*s = NULL;
	size_t		 i, len = 0, n = 0;

	*out = NULL;
	if (gq->gq_op == PROXY_GH_LIST ? !json_is_array(a) :
	    !json_is_object(a)) {
		gh_err(err, 502, "github-answer", "GitHub's answer is not "
		    "what its API gives");
		return (-1);
	}
	if (gq->gq_json != 0) {
		if (gq->gq_op == PROXY_GH_LIST) {
			if ((j = json_array()) == NULL)
				goto nomem;
			json_array_foreach(a, i, pr) {
				if (gq->gq_state == PROXY_GH_MERGED &&
				    strcmp(gh_state_of(pr, 0), "MERGED") != 0)
					continue;
				if (n++ >= (size_t)gq->gq_limit)
					break;
				if (gh_json_pr(pr, gq->gq_json, &o) == -1 ||
				    json_array_append_new(j, o) == -1)
					goto nomem;
			}
		} else if (gh_json_pr(a, gq->gq_json, &j) == -1)
			goto nomem;
		s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
		json_decref(j);
		if (s == NULL)
			goto nomem;
		len = strlen(s);
		if ((*out = realloc(s, len + 2)) == NULL) {
			free(s);
			goto nomem;
		}
		(*out)[len++] = '\n';
		(*out)[len] = '\0';
		*outlen = len;
		return (0);
	}
	if ((fp = open_memstream(&s, &len)) == NULL)
		goto nomem;
	if (gq->gq_op == PROXY_GH_LIST) {
		json_array_foreach(a, i, pr) {
			state = gh_state_of(pr, 1);
			if (gq->gq_state == PROXY_GH_MERGED &&
			    strcmp(state, "MERGED") != 0)
				continue;
			if (n++ >= (size_t)gq->gq_limit)
				break;
			head = json_object_get(pr, "head");
			fprintf(fp, "%lld\t", (long long)json_integer_value(
			    json_object_get(pr, "number")));
			gh_line(fp, gh_str(pr, "title"));
			fputc('\t', fp);
			if (strcasecmp(gh_str(json_object_get(head, "repo"),
			    "full_name"), gq->gq_repo) == 0)
				gh_line(fp, gh_str(head, "ref"));
			else
				gh_line(fp, gh_str(head, "label"));
			fprintf(fp, "\t%s\t", state);
			gh_line(fp, gh_str(pr, "created_at"));
			fputc('\n', fp);
		}
	} else {
		pr = a;
		login = json_string_value(json_object_get(json_object_get(pr,
		    "user"), "login"));
		fputs("title:\t", fp);
		gh_line(fp, gh_str(pr, "title"));
		fprintf(fp, "\nstate:\t%s\nauthor:\t", gh_state_of(pr, 1));
		gh_line(fp, login != NULL ? login : "");
		fputs("\nlabels:\t", fp);
		labels = json_object_get(pr, "labels");
		json_array_foreach(labels, i, l) {
			if (i > 0)
				fputs(", ", fp);
			gh_line(fp, gh_str(l, "name"));
		}
		fprintf(fp, "\nassignees:\t\nreviewers:\t\nprojects:\t\n"
		    "milestone:\t\nnumber:\t%lld\nurl:\t",
		    (long long)json_integer_value(json_object_get(pr,
		    "number")));
		gh_line(fp, gh_str(pr, "html_url"));
		fprintf(fp, "\nadditions:\t%lld\ndeletions:\t%lld\n"
		    "auto-merge:\tdisabled\n--\n",
		    (long long)json_integer_value(json_object_get(pr,
		    "additions")), (long long)json_integer_value(
		    json_object_get(pr, "deletions")));
		fputs(gh_str(pr, "body"), fp);
		fputc('\n', fp);
	}
	if (fclose(fp) == EOF) {
		free(s);
		goto nomem;
	}
	*out = s;
	*outlen = len;
	return (0);
 nomem:
	gh_err(err, 500, "memory", "out of memory");
	return (-1);
}

/*
 * GitHub's error answer of status as one line for the shim:
 * "GitHub: MESSAGE: DETAIL" from {message, errors: [{message} or
 * {field, code}]}.  The status sbxd answers with.
 */
int
proxy_gh_upstream_error(int status, const char *body, size_t len,
    char *buf, size_t size)
{
	json_t		*a, *e;
	const char	*msg, *detail = NULL, *field, *code;
	char		 fc[160];

	a = json_loadb(body, len, 0, NULL);
	msg = json_string_value(json_object_get(a, "message"));
	e = json_array_get(json_object_get(a, "errors"), 0);
	if ((detail = json_string_value(json_object_get(e, "message"))) ==
	    NULL) {
		field = json_string_value(json_object_get(e, "field"));
		code = json_string_value(json_object_get(e, "code"));
		if (field != NULL && code != NULL) {
			snprintf(fc, sizeof(fc), "%s %s", field, code);
			detail = fc;
		}
	}
	snprintf(buf, size, "GitHub: %s%s%s", msg != NULL ? msg :
	    "an error", detail != NULL ? ": " : "", detail != NULL ?
	    detail : "");
	json_decref(a);
	switch (status) {
	case 401:
	case 403:
		return (502);	/* the token, sbxd's business */
	case 404:
	case 422:
		return (status);
	default:
		return (502);
	}
}

/* A base branch name from GitHub, checked and copied. */
int
proxy_gh_branch(const char *name, char **out, proxy_gh_error *err)
{
	return (gh_branch(name, "base", out, err));
}
