/*
 * test_proxy_gh.c: the gateway's pull requests, pure parts
 * (proxy/proxy_gh_form.c): the gh shim's requests parsed, good and bad,
 * each refusal with its status and reason; the sandbox's policy; GitHub's
 * answers turned into gh's output; GitHub's errors as one line; a
 * GitHub App's JWT.
 */

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "proxy_gh.h"
#include "unit.h"

#define FORM	"application/x-www-form-urlencoded"

/* A request that must be refused with status and reason. */
struct gh_bad {
	const char	*method;
	const char	*target;
	const char	*body;
	const char	*ctype;
	int		 status;
	const char	*reason;
};

static const struct gh_bad gh_bad[] = {
	{ "GET", "/gh/pr/merge?repo=o/r", "", NULL, 404, "not-found" },
	{ "GET", "/gh/pr/listx?repo=o/r", "", NULL, 404, "not-found" },
	{ "GET", "/gh/api/user", "", NULL, 404, "not-found" },
	{ "POST", "/gh/pr/list?repo=o/r", "", NULL, 405,
	    "method-not-allowed" },
	{ "GET", "/gh/pr/create", "", NULL, 405, "method-not-allowed" },
	{ "GET", "/gh/pr/list", "", NULL, 400, "no-repo" },
	{ "GET", "/gh/pr/list?repo=o", "", NULL, 400, "bad-repo" },
	{ "GET", "/gh/pr/list?repo=o/*", "", NULL, 400, "bad-repo" },
	{ "GET", "/gh/pr/list?repo=o/r/x", "", NULL, 400, "bad-repo" },
	{ "GET", "/gh/pr/list?repo=o/r&x=1", "", NULL, 400, "unknown-field" },
	{ "GET", "/gh/pr/list?repo=o/r&title=t", "", NULL, 400,
	    "unknown-field" },
	{ "GET", "/gh/pr/list?repo=o/r&repo=o/r", "", NULL, 400,
	    "repeated-field" },
	{ "GET", "/gh/pr/list?repo", "", NULL, 400, "bad-form" },
	{ "GET", "/gh/pr/list?repo=o%2", "", NULL, 400, "bad-form" },
	{ "GET", "/gh/pr/list?repo=o%zzr", "", NULL, 400, "bad-form" },
	{ "GET", "/gh/pr/list?repo=o/r%00", "", NULL, 400, "bad-text" },
	{ "GET", "/gh/pr/list?repo=o/r&head=%FF", "", NULL, 400, "bad-text" },
	{ "GET", "/gh/pr/list?repo=o/r&head=%01", "", NULL, 400, "bad-text" },
	{ "GET", "/gh/pr/list?repo=o/r&state=shut", "", NULL, 400,
	    "bad-state" },
	{ "GET", "/gh/pr/list?repo=o/r&limit=0", "", NULL, 400, "bad-limit" },
	{ "GET", "/gh/pr/list?repo=o/r&limit=101", "", NULL, 400,
	    "bad-limit" },
	{ "GET", "/gh/pr/list?repo=o/r&limit=07", "", NULL, 400,
	    "bad-limit" },
	{ "GET", "/gh/pr/list?repo=o/r&limit=-1", "", NULL, 400,
	    "bad-limit" },
	{ "GET", "/gh/pr/list?repo=o/r&json=number,nope", "", NULL, 400,
	    "json-field" },
	{ "GET", "/gh/pr/list?repo=o/r&json=", "", NULL, 400, "json-field" },
	{ "GET", "/gh/pr/list?repo=o/r&json=number,", "", NULL, 400,
	    "json-field" },
	{ "GET", "/gh/pr/list?repo=o/r", "x", NULL, 400, "body" },
	{ "GET", "/gh/pr/list?repo=o/r&head=a..b", "", NULL, 400,
	    "bad-head" },
	{ "GET", "/gh/pr/list?repo=o/r&base=a.lock", "", NULL, 400,
	    "bad-base" },
	{ "GET", "/gh/pr/list?repo=o/r&head=other:main", "", NULL, 403,
	    "cross-repository" },
	{ "GET", "/gh/pr/view?repo=o/r", "", NULL, 400, "view" },
	{ "GET", "/gh/pr/view?repo=o/r&number=1&head=x", "", NULL, 400,
	    "view" },
	{ "GET", "/gh/pr/view?repo=o/r&number=x1", "", NULL, 400,
	    "bad-number" },
	{ "GET", "/gh/pr/view?repo=o/r&number=99999999999", "", NULL, 400,
	    "bad-number" },
	{ "POST", "/gh/pr/create", "repo=o/r&head=h&title=t", NULL, 415,
	    "content-type" },
	{ "POST", "/gh/pr/create", "repo=o/r&head=h&title=t", "text/plain",
	    415, "content-type" },
	{ "POST", "/gh/pr/create?repo=o/r", "head=h&title=t", FORM, 400,
	    "query" },
	{ "POST", "/gh/pr/create", "repo=o/r&title=t", FORM, 400, "no-head" },
	{ "POST", "/gh/pr/create", "repo=o/r&head=h", FORM, 400,
	    "bad-title" },
	{ "POST", "/gh/pr/create", "repo=o/r&head=h&title=", FORM, 400,
	    "bad-title" },
	{ "POST", "/gh/pr/create", "repo=o/r&head=h&title=a%0Ab", FORM, 400,
	    "bad-title" },
	{ "POST", "/gh/pr/create", "repo=o/r&head=h&title=t&body=%07", FORM,
	    400, "bad-text" },
	{ "POST", "/gh/pr/create", "repo=o/r&head=h&title=t&draft=1", FORM,
	    400, "bad-draft" },
	{ "POST", "/gh/pr/create", "repo=o/r&head=h&title=t&state=open", FORM,
	    400, "unknown-field" },
	{ "POST", "/gh/pr/create", "repo=o/r&head=o:h&title=t", FORM, 403,
	    "cross-repository" },
};

static int
parse(const char *method, const char *target, const char *body,
    const char *ctype, struct proxy_gh_req *gq, proxy_gh_error *err)
{
	return (proxy_gh_parse(method, target, strlen(target), body,
	    strlen(body), ctype, gq, err));
}

static int
test_parse_good(void)
{
	struct proxy_gh_req	 gq;
	proxy_gh_error		 err;
	int			 ok = -1;

	memset(&gq, 0, sizeof(gq));
	CHECK(parse("GET", "/gh/pr/list?repo=octo/demo", "", NULL, &gq,
	    &err) == 0);
	CHECK_INT(gq.gq_op, PROXY_GH_LIST);
	CHECK_STR(gq.gq_repo, "octo/demo");
	CHECK_STR(gq.gq_owner, "octo");
	CHECK_INT(gq.gq_state, PROXY_GH_OPEN);
	CHECK_INT(gq.gq_limit, PROXY_GH_LIMIT_DEFAULT);
	CHECK(gq.gq_head == NULL && gq.gq_json == 0);
	proxy_gh_req_free(&gq);

	CHECK(parse("GET", "/gh/pr/list?repo=octo%2Fdemo&state=merged&"
	    "head=sbx%2Fbox%2Ff&base=main&limit=100&json=number,url,author",
	    "", NULL, &gq, &err) == 0);
	CHECK_STR(gq.gq_repo, "octo/demo");
	CHECK_INT(gq.gq_state, PROXY_GH_MERGED);
	CHECK_STR(gq.gq_head, "sbx/box/f");
	CHECK_STR(gq.gq_base, "main");
	CHECK_INT(gq.gq_limit, 100);
	CHECK_INT(gq.gq_json, PROXY_GH_J_NUMBER | PROXY_GH_J_URL |
	    PROXY_GH_J_AUTHOR);
	proxy_gh_req_free(&gq);

	CHECK(parse("GET", "/gh/pr/view?repo=o/r&number=42", "", NULL, &gq,
	    &err) == 0);
	CHECK_INT(gq.gq_op, PROXY_GH_VIEW);
	CHECK_INT(gq.gq_number, 42);
	proxy_gh_req_free(&gq);
	CHECK(parse("GET", "/gh/pr/view?head=feature%2Fx&repo=o/r", "", NULL,
	    &gq, &err) == 0);
	CHECK_STR(gq.gq_head, "feature/x");
	CHECK_INT(gq.gq_number, 0);
	proxy_gh_req_free(&gq);

	CHECK(parse("POST", "/gh/pr/create", "repo=o/r&head=sbx/box/f&"
	    "title=Hello+w%C3%B6rld&body=line+1%0D%0Aline%092&draft=true",
	    FORM "; charset=utf-8", &gq, &err) == 0);
	CHECK_INT(gq.gq_op, PROXY_GH_CREATE);
	CHECK_STR(gq.gq_title, "Hello w\xc3\xb6rld");
	CHECK_STR(gq.gq_body, "line 1\r\nline\t2");
	CHECK_INT(gq.gq_draft, 1);
	CHECK(gq.gq_base == NULL);
	proxy_gh_req_free(&gq);
	CHECK(parse("POST", "/gh/pr/create", "repo=o/r&head=h&title=t&"
	    "draft=false&base=dev", FORM, &gq, &err) == 0);
	CHECK_INT(gq.gq_draft, 0);
	CHECK_STR(gq.gq_base, "dev");
	CHECK(gq.gq_body == NULL);
	ok = 0;
 end:
	proxy_gh_req_free(&gq);
	return (ok);
}

static int
test_parse_bad(void)
{
	const struct gh_bad	*b;
	struct proxy_gh_req	 gq;
	proxy_gh_error		 err;
	size_t			 i;
	int			 ok = -1;

	for (i = 0; i < sizeof(gh_bad) / sizeof(gh_bad[0]); i++) {
		b = &gh_bad[i];
		memset(&err, 0, sizeof(err));
		if (parse(b->method, b->target, b->body, b->ctype, &gq,
		    &err) != -1 || err.status != b->status ||
		    strcmp(err.reason, b->reason) != 0) {
			unit_fail(__FILE__, __LINE__, "%s %s [%s]: %d %s, "
			    "want %d %s", b->method, b->target, b->body,
			    err.status, err.reason != NULL ? err.reason :
			    "(accepted)", b->status, b->reason);
			goto end;
		}
		CHECK(gq.gq_head == NULL && gq.gq_title == NULL);
	}
	ok = 0;
 end:
	return (ok);
}

/* Size limits: a form of 1 MiB and one byte; a title too long. */
static int
test_parse_limits(void)
{
	struct proxy_gh_req	 gq;
	proxy_gh_error		 err;
	char			*big = NULL;
	size_t			 n = PROXY_GH_FORM_MAX + 1;
	int			 ok = -1;

	memset(&gq, 0, sizeof(gq));
	CHECK((big = malloc(n + 1)) != NULL);
	memset(big, 'a', n);
	memcpy(big, "repo=o/r&head=h&title=t&body=", 29);
	big[n] = '\0';
	CHECK(parse("POST", "/gh/pr/create", big, FORM, &gq, &err) == -1);
	CHECK_INT(err.status, 413);
	big[PROXY_GH_TEXT_MAX + 30] = '\0';
	CHECK(parse("POST", "/gh/pr/create", big, FORM, &gq, &err) == -1);
	CHECK_STR(err.reason, "bad-body");
	big[PROXY_GH_TEXT_MAX + 29] = '\0';
	CHECK(parse("POST", "/gh/pr/create", big, FORM, &gq, &err) == 0);
	CHECK_INT(strlen(gq.gq_body), PROXY_GH_TEXT_MAX);
	proxy_gh_req_free(&gq);
	memcpy(big, "repo=o/r&head=h&body=b&title=", 29);
	big[PROXY_GH_TITLE_MAX + 30] = '\0';
	CHECK(parse("POST", "/gh/pr/create", big, FORM, &gq, &err) == -1);
	CHECK_STR(err.reason, "bad-title");
	ok = 0;
 end:
	proxy_gh_req_free(&gq);
	free(big);
	return (ok);
}

static int
test_check(void)
{
	const char		*repos[] = { "octo/demo", "team/*" };
	const char		*globs[] = { "refs/heads/sbx/box/*" };
	struct proxy_gh_req	 gq;
	proxy_gh_error		 err;
	int			 ok = -1;

	memset(&gq, 0, sizeof(gq));
	CHECK(parse("GET", "/gh/pr/list?repo=Octo/Demo", "", NULL, &gq,
	    &err) == 0);
	CHECK(proxy_gh_check(&gq, repos, 2, globs, 1, &err) == 0);
	proxy_gh_req_free(&gq);
	CHECK(parse("GET", "/gh/pr/list?repo=team/anything", "", NULL, &gq,
	    &err) == 0);
	CHECK(proxy_gh_check(&gq, repos, 2, globs, 1, &err) == 0);
	proxy_gh_req_free(&gq);
	CHECK(parse("GET", "/gh/pr/list?repo=octo/other", "", NULL, &gq,
	    &err) == 0);
	CHECK(proxy_gh_check(&gq, repos, 2, globs, 1, &err) == -1);
	CHECK_INT(err.status, 403);
	CHECK_STR(err.reason, "repo");
	proxy_gh_req_free(&gq);
	CHECK(parse("POST", "/gh/pr/create", "repo=octo/demo&"
	    "head=sbx/box/f&title=t", FORM, &gq, &err) == 0);
	CHECK(proxy_gh_check(&gq, repos, 2, globs, 1, &err) == 0);
	proxy_gh_req_free(&gq);
	CHECK(parse("POST", "/gh/pr/create", "repo=octo/demo&head=main&"
	    "title=t", FORM, &gq, &err) == 0);
	CHECK(proxy_gh_check(&gq, repos, 2, globs, 1, &err) == -1);
	CHECK_STR(err.reason, "branch-not-allowed");
	proxy_gh_req_free(&gq);
	CHECK(parse("POST", "/gh/pr/create", "repo=octo/demo&"
	    "head=sbx/boxer/f&title=t", FORM, &gq, &err) == 0);
	CHECK(proxy_gh_check(&gq, repos, 2, globs, 1, &err) == -1);
	ok = 0;
 end:
	proxy_gh_req_free(&gq);
	return (ok);
}

#define PR(n, state, draft, merged, head, title)			\
	"{\"number\": " #n ", \"state\": \"" state "\", \"draft\": "	\
	draft ", \"merged_at\": " merged ", \"title\": \"" title "\", "	\
	"\"body\": \"b" #n "\", \"html_url\": "				\
	"\"https://github.com/o/r/pull/" #n "\", \"created_at\": "	\
	"\"2026-01-0" #n "T00:00:00Z\", \"updated_at\": \"u\", "	\
	"\"user\": {\"login\": \"bot\"}, \"head\": {\"ref\": \"" head	\
	"\", \"label\": \"x:" head "\", \"repo\": {\"full_name\": "	\
	"\"o/r\"}}, \"base\": {\"ref\": \"main\"}}"

static int
format(const char *target, const char *answer, char **out)
{
	struct proxy_gh_req	 gq;
	proxy_gh_error		 err;
	json_t			*a;
	size_t			 len;
	int			 r = -1;

	*out = NULL;
	if (parse("GET", target, "", NULL, &gq, &err) == -1)
		return (-1);
	if ((a = json_loads(answer, 0, NULL)) != NULL) {
		r = proxy_gh_format(&gq, a, out, &len, &err);
		if (r == 0 && len != strlen(*out))
			r = -1;
		json_decref(a);
	}
	proxy_gh_req_free(&gq);
	return (r);
}

static int
test_format(void)
{
	const char	*list = "[" PR(3, "open", "true", "null", "sbx/b/c",
			    "Third\\tone") ", " PR(2, "closed", "false",
			    "\"2026-02-01T00:00:00Z\"", "two", "Two") ", "
			    PR(1, "open", "false", "null", "one", "One") "]";
	char		*out = NULL;
	int		 ok = -1;

	CHECK(format("/gh/pr/list?repo=o/r", list, &out) == 0);
	CHECK_STR(out, "3\tThird one\tsbx/b/c\tDRAFT\t2026-01-03T00:00:00Z\n"
	    "2\tTwo\ttwo\tMERGED\t2026-01-02T00:00:00Z\n"
	    "1\tOne\tone\tOPEN\t2026-01-01T00:00:00Z\n");
	free(out);
	CHECK(format("/gh/pr/list?repo=o/r&limit=1", list, &out) == 0);
	CHECK_STR(out, "3\tThird one\tsbx/b/c\tDRAFT\t2026-01-03T00:00:00Z\n");
	free(out);
	CHECK(format("/gh/pr/list?repo=o/r&state=merged", list, &out) == 0);
	CHECK_STR(out, "2\tTwo\ttwo\tMERGED\t2026-01-02T00:00:00Z\n");
	free(out);
	CHECK(format("/gh/pr/list?repo=o/r&json=number,state,isDraft&"
	    "limit=2", list, &out) == 0);
	CHECK_STR(out, "[\n  {\n    \"isDraft\": true,\n    \"number\": 3,\n"
	    "    \"state\": \"OPEN\"\n  },\n  {\n    \"isDraft\": false,\n"
	    "    \"number\": 2,\n    \"state\": \"MERGED\"\n  }\n]\n");
	free(out);
	CHECK(format("/gh/pr/view?repo=o/r&number=1", PR(1, "open", "false",
	    "null", "one", "One"), &out) == 0);
	CHECK_STR(out, "title:\tOne\nstate:\tOPEN\nauthor:\tbot\nlabels:\t\n"
	    "assignees:\t\nreviewers:\t\nprojects:\t\nmilestone:\t\n"
	    "number:\t1\nurl:\thttps://github.com/o/r/pull/1\n"
	    "additions:\t0\ndeletions:\t0\nauto-merge:\tdisabled\n--\nb1\n");
	free(out);
	CHECK(format("/gh/pr/view?repo=o/r&number=1&json=author,headRefName,"
	    "baseRefName,url", PR(1, "open", "false", "null", "one", "One"),
	    &out) == 0);
	CHECK_STR(out, "{\n  \"author\": {\n    \"login\": \"bot\"\n  },\n"
	    "  \"baseRefName\": \"main\",\n  \"headRefName\": \"one\",\n"
	    "  \"url\": \"https://github.com/o/r/pull/1\"\n}\n");
	free(out);
	out = NULL;
	/* Not the API's shape. */
	CHECK(format("/gh/pr/list?repo=o/r", "{}", &out) == -1);
	CHECK(format("/gh/pr/view?repo=o/r&number=1", "[]", &out) == -1);
	ok = 0;
 end:
	free(out);
	return (ok);
}

static int
uerr(int status, const char *body, char *line, size_t size)
{
	return (proxy_gh_upstream_error(status, body, strlen(body), line,
	    size));
}

static int
test_upstream_error(void)
{
	char	 line[256];
	int	 ok = -1;

	CHECK_INT(uerr(422, "{\"message\":\"Validation Failed\",\"errors\":"
	    "[{\"message\":\"A pull request already exists for o:b.\"}]}",
	    line, sizeof(line)), 422);
	CHECK_STR(line, "GitHub: Validation Failed: A pull request already "
	    "exists for o:b.");
	CHECK_INT(uerr(422, "{\"message\":\"Validation Failed\",\"errors\":"
	    "[{\"field\":\"head\",\"code\":\"invalid\"}]}", line,
	    sizeof(line)), 422);
	CHECK_STR(line, "GitHub: Validation Failed: head invalid");
	CHECK_INT(uerr(401, "{\"message\":\"Bad credentials\"}", line,
	    sizeof(line)), 502);
	CHECK_STR(line, "GitHub: Bad credentials");
	CHECK_INT(uerr(500, "<html>", line, sizeof(line)), 502);
	CHECK_STR(line, "GitHub: an error");
	CHECK_INT(uerr(404, "{\"message\":\"Not Found\"}", line, 12), 404);
	CHECK_STR(line, "GitHub: Not");
	ok = 0;
 end:
	return (ok);
}

/* base64url, unpadded, decoded into a NUL-terminated buffer. */
static unsigned char *
b64url(const char *s, size_t n, size_t *outlen)
{
	unsigned char	*out;
	char		*std;
	size_t		 i, m = n + 4;
	int		 len;

	if ((std = calloc(1, m + 1)) == NULL || (out = calloc(1, m)) == NULL)
		return (NULL);
	for (i = 0; i < n; i++)
		std[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
	while (i % 4 != 0)
		std[i++] = '=';
	len = EVP_DecodeBlock(out, (unsigned char *)std, (int)i);
	free(std);
	if (len < 0) {
		free(out);
		return (NULL);
	}
	*outlen = (size_t)len - (n % 4 == 2 ? 2 : n % 4 == 3 ? 1 : 0);
	out[*outlen] = '\0';
	return (out);
}

/*
 * A GitHub App's JWT: three base64url parts, RS256, the claims GitHub
 * wants (issued a minute back, ten minutes in all, the App's id), a
 * signature the App's public key verifies; no key, no JWT.
 */
static int
test_jwt(void)
{
	EVP_PKEY	*pk = NULL;
	EVP_MD_CTX	*md = NULL;
	BIO		*bio = NULL;
	json_t		*j = NULL;
	unsigned char	*part = NULL;
	char		*pem = NULL, *jwt = NULL, *dot1, *dot2;
	long		 pemlen;
	size_t		 n;
	int		 ok = -1;

	CHECK((pk = EVP_RSA_gen(2048)) != NULL);
	CHECK((bio = BIO_new(BIO_s_mem())) != NULL);
	CHECK(PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0, NULL, NULL) ==
	    1);
	pemlen = BIO_get_mem_data(bio, &pem);
	CHECK((jwt = proxy_gh_jwt(4242, pem, (size_t)pemlen,
	    1700000000)) != NULL);
	CHECK((dot1 = strchr(jwt, '.')) != NULL);
	CHECK((dot2 = strchr(dot1 + 1, '.')) != NULL);
	CHECK(strchr(dot2 + 1, '.') == NULL);
	CHECK(strcspn(jwt, "=+/") == strlen(jwt));
	CHECK((part = b64url(jwt, dot1 - jwt, &n)) != NULL);
	CHECK_STR((char *)part, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}");
	free(part);
	CHECK((part = b64url(dot1 + 1, dot2 - dot1 - 1, &n)) != NULL);
	CHECK((j = json_loads((char *)part, 0, NULL)) != NULL);
	CHECK_INT(json_integer_value(json_object_get(j, "iat")), 1699999940);
	CHECK_INT(json_integer_value(json_object_get(j, "exp")), 1700000540);
	CHECK_STR(json_string_value(json_object_get(j, "iss")), "4242");
	free(part);
	CHECK((part = b64url(dot2 + 1, strlen(dot2 + 1), &n)) != NULL);
	CHECK_INT(n, 256);
	CHECK((md = EVP_MD_CTX_new()) != NULL);
	CHECK(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pk) == 1);
	CHECK(EVP_DigestVerify(md, part, n, (unsigned char *)jwt,
	    dot2 - jwt) == 1);
	/* One bit of the claims changed: the signature fails. */
	jwt[dot1 - jwt + 3] ^= 1;
	EVP_MD_CTX_free(md);
	CHECK((md = EVP_MD_CTX_new()) != NULL);
	CHECK(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pk) == 1);
	CHECK(EVP_DigestVerify(md, part, n, (unsigned char *)jwt,
	    dot2 - jwt) != 1);
	free(jwt);
	jwt = NULL;
	CHECK(proxy_gh_jwt(1, "not a key", 9, 1700000000) == NULL);
	ok = 0;
 end:
	json_decref(j);
	free(part);
	free(jwt);
	EVP_MD_CTX_free(md);
	BIO_free(bio);
	EVP_PKEY_free(pk);
	return (ok);
}

static const struct unit_test tests[] = {
	{ "parse_good", test_parse_good },
	{ "parse_bad", test_parse_bad },
	{ "parse_limits", test_parse_limits },
	{ "check", test_check },
	{ "format", test_format },
	{ "upstream_error", test_upstream_error },
	{ "jwt", test_jwt },
};

UNIT_MAIN("proxy_gh", tests)
