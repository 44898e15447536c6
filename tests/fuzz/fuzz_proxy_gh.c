/*
 * fuzz_proxy_gh.c: libFuzzer harness for the gateway's pull requests
 * (proxy/proxy_gh_form.c).  The first byte picks the request's method,
 * path and Content-Type; the rest is its query or form.  What parses
 * must hold what the parser promises: a repository name, branch names
 * git takes, a title of one line, a limit of 1 to 100; the policy then
 * decides without fault.  The same bytes, as JSON, go through the
 * formatter for each request shape, and as an error answer through
 * proxy_gh_upstream_error, whose line must end in its buffer.
 */

#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "proxy_gh.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_branch(const char *b)
{
	char		 ref[PROXY_GIT_REFNAME_MAX + 16];
	const char	*why;
	int		 n;

	if (b == NULL)
		return;
	n = snprintf(ref, sizeof(ref), "refs/heads/%s", b);
	if (n < 0 || (size_t)n >= sizeof(ref) || strchr(b, ':') != NULL ||
	    proxy_git_refname_check(ref, n, &why) == -1)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static const char	*paths[] = { "/gh/pr/list", "/gh/pr/view",
				    "/gh/pr/create" };
	static const char	*repos[] = { "o/r", "team/*" };
	static const char	*globs[] = { "refs/heads/sbx/*" };
	struct proxy_gh_req	 gq;
	proxy_gh_error		 err;
	json_t			*a;
	char			*target, *out, line[64];
	const char		*why, *body, *method, *ctype;
	size_t			 blen, tlen, outlen;
	int			 sel, post, i;

	if (len < 1)
		return (0);
	sel = data[0];
	body = (const char *)data + 1;
	blen = len - 1;
	post = (sel & 3) == 2;
	method = (sel & 4) ? (post ? "GET" : "POST") : (post ? "POST" : "GET");
	ctype = (sel & 8) ? "application/x-www-form-urlencoded" :
	    (sel & 16) ? "text/plain" : NULL;
	if ((target = malloc(strlen(paths[sel % 3]) + 1 + blen + 1)) == NULL)
		return (0);
	tlen = strlen(paths[sel % 3]);
	memcpy(target, paths[sel % 3], tlen);
	if (!post) {
		target[tlen++] = '?';
		memcpy(target + tlen, body, blen);
		tlen += blen;
	}
	target[tlen] = '\0';
	memset(&err, 0, sizeof(err));
	if (proxy_gh_parse(method, target, tlen, post ? body : "",
	    post ? blen : 0, ctype, &gq, &err) == 0) {
		if (proxy_git_repo_check(gq.gq_repo, &why) == -1 ||
		    strchr(gq.gq_repo, '*') != NULL ||
		    gq.gq_limit < 1 || gq.gq_limit > PROXY_GH_LIMIT_MAX)
			abort();
		check_branch(gq.gq_head);
		check_branch(gq.gq_base);
		if (gq.gq_op == PROXY_GH_CREATE && (gq.gq_title == NULL ||
		    gq.gq_title[0] == '\0' || strchr(gq.gq_title, '\n')))
			abort();
		if (gq.gq_op == PROXY_GH_VIEW && (gq.gq_number > 0) ==
		    (gq.gq_head != NULL))
			abort();
		(void)proxy_gh_check(&gq, repos, 2, globs, 1, &err);
		proxy_gh_req_free(&gq);
	} else if (err.status < 400 || err.status > 499 || err.reason == NULL)
		abort();
	free(target);

	/* The bytes as GitHub's answer. */
	if ((a = json_loadb(body, blen, 0, NULL)) != NULL) {
		static const char	*t[] = { "/gh/pr/list?repo=o/r",
					    "/gh/pr/list?repo=o/r&state=merged"
					    "&json=number,author,state",
					    "/gh/pr/view?repo=o/r&number=1",
					    "/gh/pr/view?repo=o/r&number=1&"
					    "json=author,body,isDraft" };

		for (i = 0; i < 4; i++) {
			if (proxy_gh_parse("GET", t[i], strlen(t[i]), "", 0,
			    NULL, &gq, &err) == -1)
				abort();
			if (proxy_gh_format(&gq, a, &out, &outlen,
			    &err) == 0) {
				if (outlen != strlen(out) || (outlen > 0 &&
				    out[outlen - 1] != '\n'))
					abort();
				free(out);
			}
			proxy_gh_req_free(&gq);
		}
		json_decref(a);
	}
	(void)proxy_gh_upstream_error(422, body, blen, line, sizeof(line));
	if (strlen(line) >= sizeof(line))
		abort();
	return (0);
}
