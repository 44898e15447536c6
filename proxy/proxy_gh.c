/*
 * proxy_gh.c: pull requests through the credential gateway.  The gh
 * shim in a sandbox with repositories asks its gateway:
 *
 *	GET  /gh/pr/list?repo=O/N[&state=][&head=][&base=][&limit=][&json=]
 *	GET  /gh/pr/view?repo=O/N&number=K | &head=BRANCH [&json=]
 *	POST /gh/pr/create   repo, head, base, title, body, draft (a form)
 *
 * A request is parsed strictly (proxy_gh_parse: known fields only, once
 * each, percent-escapes checked, UTF-8 text, branch names as git takes
 * them), held to the sandbox's repositories and, for a create, its push
 * globs: a sandbox opens pull requests only from branches it may push
 * (proxy_gh_check).  Then GitHub's REST API is called with libcurl on
 * the loop, with the token in one header that is wiped after, and the
 * answer is turned into what gh prints (proxy_gh_format): the shim
 * shows it as it comes.  Nothing else of the API is reachable: no
 * arbitrary path, no token out.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <netdb.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <event2/buffer.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <event2/util.h>
#include <jansson.h>

#include "config.h"
#include "log.h"
#include "sbxd.h"
#include "curlev.h"
#include "proxy.h"
#include "proxy_gh.h"

#define GH_ANSWER_MAX	(8 * 1024 * 1024) /* GitHub's answer: a page of
					   100 pull requests fits */
#define GH_CONNECT_SECS	10
#define GH_CALL_SECS	30
#define GH_API_VERSION	"2022-11-28"

/* The steps of a call. */
enum gh_step {
	GH_S_DNS,		/* GitHub's address */
	GH_S_REPO,		/* a create without base: the default branch */
	GH_S_MAIN		/* the list, the pull request, the create */
};

struct proxy_gh_call {
	struct proxy_gh_req	 gc_req;
	enum gh_step		 gc_step;
	proxy_gh_cb		 gc_cb;
	void			*gc_arg;
	struct proxy_dns_req	*gc_dns;
	CURL			*gc_easy;
	struct curl_slist	*gc_headers;
	struct curl_slist	*gc_resolve;
	char			*gc_url;
	char			*gc_post;
	char			*gc_ca;		/* the ca-file's PEM, a copy:
						   a reload may free the
						   config's */
	char			 gc_addr[INET6_ADDRSTRLEN + 2];
	struct evbuffer		*gc_answer;
	int			 gc_toolong;
	int			 gc_number;	/* a created pull request */
	char			 gc_err[CURL_ERROR_SIZE];
	proxy_gh_tokfn		 gc_tokfn;	/* the token, when needed */
	char			*gc_jwt;	/* a mint's */
	char			*gc_mintbody;
	int64_t			 gc_installation;
};

static struct curlev	*gh_curl;

static void	gh_dnscb(int, struct evutil_addrinfo *, void *);
static void	gh_step(struct proxy_gh_call *);
static int	gh_easy(struct proxy_gh_call *, const char *, const char *,
		    json_t *);
static void	gh_donecb(CURL *, CURLcode, void *);
static size_t	gh_writecb(char *, size_t, size_t, void *);
static void	gh_end(struct proxy_gh_call *, int, const char *,
		    const char *, const char *, size_t);
static void	gh_easy_clear(struct proxy_gh_call *);
static void	gh_free(struct proxy_gh_call *);
static char	*gh_escape(const char *);

/*
 * The calls.
 */

int
proxy_gh_init(void)
{
	if (gh_curl == NULL &&
	    (gh_curl = curlev_new(sbxd_env->sx_base, 4)) == NULL)
		return (-1);
	return (0);
}

void
proxy_gh_shutdown(void)
{
	curlev_free(gh_curl);
	gh_curl = NULL;
}

/*
 * A call for gq (checked, and now the call's: freed with it), not yet
 * started.  NULL if memory ran out.
 */
struct proxy_gh_call *
proxy_gh_new(struct proxy_gh_req *gq, proxy_gh_tokfn tokfn, proxy_gh_cb cb,
    void *arg)
{
	struct proxy_gh_call	*gc;

	if ((gc = calloc(1, sizeof(*gc))) == NULL)
		return (NULL);
	gc->gc_req = *gq;
	memset(gq, 0, sizeof(*gq));
	gc->gc_tokfn = tokfn;
	gc->gc_cb = cb;
	gc->gc_arg = arg;
	return (gc);
}

/*
 * A GitHub App's installation token: a call that asks for one with the
 * App's JWT (proxy_gh_jwt, taken), for installation, with body (taken:
 * its repositories and permissions), not yet started.  Its callback gets
 * GitHub's 201 answer as it is, the token in it, or an error line.
 */
struct proxy_gh_call *
proxy_gh_mint(char *jwt, int64_t installation, char *body, proxy_gh_cb cb,
    void *arg)
{
	struct proxy_gh_call	*gc;

	if ((gc = calloc(1, sizeof(*gc))) == NULL)
		return (NULL);
	gc->gc_req.gq_op = PROXY_GH_MINT;
	gc->gc_jwt = jwt;
	gc->gc_installation = installation;
	gc->gc_mintbody = body;
	gc->gc_cb = cb;
	gc->gc_arg = arg;
	return (gc);
}

/* base64url without padding (RFC 7515) of p[0..n), appended to fp. */
static void
gh_b64url(FILE *fp, const unsigned char *p, size_t n)
{
	static const char	 a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn"
				    "opqrstuvwxyz0123456789-_";
	uint32_t		 v;
	size_t			 i;

	for (i = 0; i + 2 < n; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		fputc(a[v >> 18 & 63], fp);
		fputc(a[v >> 12 & 63], fp);
		fputc(a[v >> 6 & 63], fp);
		fputc(a[v & 63], fp);
	}
	if (n - i == 1) {
		v = (uint32_t)p[i] << 16;
		fputc(a[v >> 18 & 63], fp);
		fputc(a[v >> 12 & 63], fp);
	} else if (n - i == 2) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		fputc(a[v >> 18 & 63], fp);
		fputc(a[v >> 12 & 63], fp);
		fputc(a[v >> 6 & 63], fp);
	}
}

/*
 * The JWT a GitHub App authenticates with: RS256, issued by app_id, from
 * a minute ago (clocks drift) for ten minutes at most, signed with the
 * App's private key (PEM).  NULL on failure.
 */
char *
proxy_gh_jwt(int64_t app_id, const char *pem, size_t pemlen, time_t now)
{
	static const char	 hdr[] = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";
	EVP_PKEY		*pk = NULL;
	EVP_MD_CTX		*md = NULL;
	BIO			*bio;
	FILE			*fp;
	unsigned char		*sig = NULL;
	char			 claims[128], *out = NULL;
	size_t			 siglen = 0, len, signedlen;
	int			 ok = 0;

	if ((bio = BIO_new_mem_buf(pem, (int)pemlen)) == NULL)
		return (NULL);
	pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	ERR_clear_error();
	if (pk == NULL)
		return (NULL);
	snprintf(claims, sizeof(claims), "{\"iat\":%lld,\"exp\":%lld,"
	    "\"iss\":\"%lld\"}", (long long)now - 60, (long long)now + 540,
	    (long long)app_id);
	if ((fp = open_memstream(&out, &len)) == NULL)
		goto done;
	gh_b64url(fp, (const unsigned char *)hdr, strlen(hdr));
	fputc('.', fp);
	gh_b64url(fp, (const unsigned char *)claims, strlen(claims));
	if (fflush(fp) == EOF) {
		fclose(fp);
		goto done;
	}
	signedlen = len;
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pk) != 1 ||
	    EVP_DigestSignUpdate(md, out, signedlen) != 1 ||
	    EVP_DigestSignFinal(md, NULL, &siglen) != 1 ||
	    (sig = malloc(siglen)) == NULL ||
	    EVP_DigestSignFinal(md, sig, &siglen) != 1) {
		fclose(fp);
		goto done;
	}
	fputc('.', fp);
	gh_b64url(fp, sig, siglen);
	ok = fclose(fp) != EOF;
 done:
	ERR_clear_error();
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pk);
	free(sig);
	if (!ok) {
		free(out);
		return (NULL);
	}
	return (out);
}

/*
 * Start gc: cb(arg, status, reason, content type, body, length) is
 * called once, perhaps before this returns, and the call is freed after
 * it; unless it is cancelled first.
 */
void
proxy_gh_start(struct proxy_gh_call *gc)
{
	const struct github_conf	*gh = &sbxd_env->sx_conf->sc_github;
	struct sockaddr_storage		 ss;
	socklen_t			 sslen;

	if (!gh->gh_on) {
		gh_end(gc, 403, "no-github", "sbxd: the config has no "
		    "github block now\n", NULL, 0);
		return;
	}
	if ((gc->gc_answer = evbuffer_new()) == NULL ||
	    (gh->gh_ca_pem != NULL &&
	    (gc->gc_ca = strdup(gh->gh_ca_pem)) == NULL)) {
		gh_end(gc, 500, "memory", "sbxd: out of memory\n", NULL, 0);
		return;
	}
	gc->gc_step = GH_S_DNS;
	/* An address, or a name the config wrote: taken as it is. */
	if (gh->gh_api_trusted || util_addr_parse(gh->gh_api_host,
	    gh->gh_api_port, &ss, &sslen) == 0) {
		gc->gc_step = GH_S_REPO;
		gh_step(gc);
		return;
	}
	if ((gc->gc_dns = proxy_dns_resolve(gh->gh_api_host, gh_dnscb,
	    gc)) == NULL)
		gh_end(gc, 502, "upstream-dns", "sbxd: cannot look up GitHub's "
		    "API\n", NULL, 0);
}

/* The call goes; its callback is not called. */
void
proxy_gh_cancel(struct proxy_gh_call *gc)
{
	gh_free(gc);
}

/* The request gc serves. */
const struct proxy_gh_req *
proxy_gh_req_of(const struct proxy_gh_call *gc)
{
	return (&gc->gc_req);
}

/* The number of the pull request a create made, or 0. */
int
proxy_gh_number(const struct proxy_gh_call *gc)
{
	return (gc->gc_number);
}

/* GitHub's API name: a public address of it, pinned for curl. */
static void
gh_dnscb(int result, struct evutil_addrinfo *ai, void *arg)
{
	struct proxy_gh_call		*gc = arg;
	const struct evutil_addrinfo	*a;
	char				 addr[INET6_ADDRSTRLEN];

	gc->gc_dns = NULL;
	if ((a = result == 0 ? proxy_dns_usable(ai, 0) : NULL) == NULL ||
	    getnameinfo(a->ai_addr, a->ai_addrlen, addr, sizeof(addr), NULL,
	    0, NI_NUMERICHOST) != 0) {
		if (ai != NULL)
			evutil_freeaddrinfo(ai);
		gh_end(gc, 502, "upstream-dns", "sbxd: cannot find a public "
		    "address of GitHub's API\n", NULL, 0);
		return;
	}
	snprintf(gc->gc_addr, sizeof(gc->gc_addr), a->ai_family == AF_INET6 ?
	    "[%s]" : "%s", addr);
	evutil_freeaddrinfo(ai);
	gc->gc_step = GH_S_REPO;
	gh_step(gc);
}

/* The next request to GitHub, or the end. */
static void
gh_step(struct proxy_gh_call *gc)
{
	struct proxy_gh_req	*gq = &gc->gc_req;
	json_t			*body;
	char			 path[512], *ehead, *ebase;
	int			 r;

	if (gq->gq_op == PROXY_GH_MINT) {
		gc->gc_step = GH_S_MAIN;
		snprintf(path, sizeof(path), "/app/installations/%lld/"
		    "access_tokens", (long long)gc->gc_installation);
		body = json_loads(gc->gc_mintbody, 0, NULL);
		r = body != NULL ? gh_easy(gc, "POST", path, body) : -1;
		json_decref(body);
		if (r == -1)
			gh_end(gc, 500, "memory", "sbxd: out of memory\n",
			    NULL, 0);
		return;
	}
	if (gc->gc_step == GH_S_REPO && gq->gq_op == PROXY_GH_CREATE &&
	    gq->gq_base == NULL) {
		snprintf(path, sizeof(path), "/repos/%s", gq->gq_repo);
		if (gh_easy(gc, "GET", path, NULL) == -1)
			gh_end(gc, 500, "memory", "sbxd: out of memory\n",
			    NULL, 0);
		return;
	}
	gc->gc_step = GH_S_MAIN;
	switch (gq->gq_op) {
	case PROXY_GH_LIST:
		ehead = gq->gq_head != NULL ? gh_escape(gq->gq_head) : NULL;
		ebase = gq->gq_base != NULL ? gh_escape(gq->gq_base) : NULL;
		if ((gq->gq_head != NULL && ehead == NULL) ||
		    (gq->gq_base != NULL && ebase == NULL)) {
			free(ehead);
			free(ebase);
			gh_end(gc, 500, "memory", "sbxd: out of memory\n",
			    NULL, 0);
			return;
		}
		r = snprintf(path, sizeof(path), "/repos/%s/pulls?state=%s&"
		    "per_page=%d%s%s%s%s%s%s", gq->gq_repo,
		    gq->gq_state == PROXY_GH_OPEN ? "open" :
		    gq->gq_state == PROXY_GH_ALL ? "all" : "closed",
		    gq->gq_state == PROXY_GH_MERGED ? PROXY_GH_LIMIT_MAX :
		    gq->gq_limit, ehead != NULL ? "&head=" : "",
		    ehead != NULL ? gq->gq_owner : "", ehead != NULL ? ":" : "",
		    ehead != NULL ? ehead : "", ebase != NULL ? "&base=" : "",
		    ebase != NULL ? ebase : "");
		free(ehead);
		free(ebase);
		if (r < 0 || (size_t)r >= sizeof(path)) {
			gh_end(gc, 400, "too-long", "sbxd: the branch names "
			    "are too long\n", NULL, 0);
			return;
		}
		r = gh_easy(gc, "GET", path, NULL);
		break;
	case PROXY_GH_VIEW:
		if (gq->gq_number > 0) {
			snprintf(path, sizeof(path), "/repos/%s/pulls/%ld",
			    gq->gq_repo, gq->gq_number);
		} else {
			if ((ehead = gh_escape(gq->gq_head)) == NULL) {
				gh_end(gc, 500, "memory", "sbxd: out of "
				    "memory\n", NULL, 0);
				return;
			}
			r = snprintf(path, sizeof(path), "/repos/%s/pulls?"
			    "state=open&per_page=1&head=%s:%s", gq->gq_repo,
			    gq->gq_owner, ehead);
			free(ehead);
			if (r < 0 || (size_t)r >= sizeof(path)) {
				gh_end(gc, 400, "too-long", "sbxd: the branch "
				    "name is too long\n", NULL, 0);
				return;
			}
		}
		r = gh_easy(gc, "GET", path, NULL);
		break;
	default:
		snprintf(path, sizeof(path), "/repos/%s/pulls", gq->gq_repo);
		body = json_pack("{s:s, s:s, s:s, s:b}", "title", gq->gq_title,
		    "head", gq->gq_head, "base", gq->gq_base, "draft",
		    gq->gq_draft);
		if (body != NULL && gq->gq_body != NULL)
			json_object_set_new(body, "body",
			    json_string(gq->gq_body));
		r = body != NULL ? gh_easy(gc, "POST", path, body) : -1;
		json_decref(body);
		break;
	}
	if (r == -1)
		gh_end(gc, 500, "memory", "sbxd: out of memory\n", NULL, 0);
}

/* A path's component, percent-escaped but for what a branch keeps. */
static char *
gh_escape(const char *s)
{
	char	*e, *p;

	if ((e = malloc(strlen(s) * 3 + 1)) == NULL)
		return (NULL);
	for (p = e; *s != '\0'; s++) {
		if (isalnum((unsigned char)*s) || strchr("-._~/", *s) != NULL)
			*p++ = *s;
		else
			p += sprintf(p, "%%%02X", (unsigned char)*s);
	}
	*p = '\0';
	return (e);
}

/* One request to GitHub's API, on the loop.  -1: out of memory. */
static int
gh_easy(struct proxy_gh_call *gc, const char *method, const char *path,
    json_t *body)
{
	const struct github_conf	*gh = &sbxd_env->sx_conf->sc_github;
	struct curl_slist		*l;
	const char			*tok;
	char				*auth, *res;
	size_t				 toklen;
	CURL				*e;
	int				 r;

	gh_easy_clear(gc);
	if (gc->gc_jwt != NULL) {
		tok = gc->gc_jwt;
		toklen = strlen(tok);
	} else if (gc->gc_tokfn == NULL ||
	    (tok = gc->gc_tokfn(gc->gc_arg, &toklen)) == NULL)
		return (-1);
	if ((gc->gc_easy = e = curl_easy_init()) == NULL)
		return (-1);
	if (strchr(gh->gh_api_host, ':') != NULL)
		r = asprintf(&gc->gc_url, "https://[%s]:%u%s%s",
		    gh->gh_api_host, (unsigned)gh->gh_api_port,
		    gh->gh_api_prefix != NULL ? gh->gh_api_prefix : "", path);
	else
		r = asprintf(&gc->gc_url, "https://%s:%u%s%s",
		    gh->gh_api_host, (unsigned)gh->gh_api_port,
		    gh->gh_api_prefix != NULL ? gh->gh_api_prefix : "", path);
	if (r == -1) {
		gc->gc_url = NULL;
		return (-1);
	}
	if (gc->gc_addr[0] != '\0') {
		if (asprintf(&res, "%s:%u:%s", gh->gh_api_host,
		    (unsigned)gh->gh_api_port, gc->gc_addr) == -1)
			return (-1);
		l = curl_slist_append(NULL, res);
		free(res);
		if ((gc->gc_resolve = l) == NULL)
			return (-1);
		curl_easy_setopt(e, CURLOPT_RESOLVE, gc->gc_resolve);
	}
	if (asprintf(&auth, "Authorization: Bearer %.*s", (int)toklen,
	    tok) == -1)
		return (-1);
	l = curl_slist_append(NULL, auth);
	util_zero(auth, strlen(auth));
	free(auth);
	if ((gc->gc_headers = l) == NULL ||
	    (l = curl_slist_append(gc->gc_headers,
	    "Accept: application/vnd.github+json")) == NULL ||
	    (l = curl_slist_append(gc->gc_headers,
	    "X-GitHub-Api-Version: " GH_API_VERSION)) == NULL ||
	    (body != NULL && (l = curl_slist_append(gc->gc_headers,
	    "Content-Type: application/json")) == NULL) ||
	    (l = curl_slist_append(gc->gc_headers, "Expect:")) == NULL)
		return (-1);
	curl_easy_setopt(e, CURLOPT_URL, gc->gc_url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, gc->gc_headers);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(e, CURLOPT_PROXY, "");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "sbxd/" PACKAGE_VERSION);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (gc->gc_ca != NULL) {
		curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, curlev_ca);
		curl_easy_setopt(e, CURLOPT_SSL_CTX_DATA, gc->gc_ca);
	}
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, (long)GH_CONNECT_SECS);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, (long)GH_CALL_SECS);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, gh_writecb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, gc);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, gc->gc_err);
	if (body != NULL) {
		if ((gc->gc_post = json_dumps(body, JSON_COMPACT)) == NULL)
			return (-1);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE,
		    (long)strlen(gc->gc_post));
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, gc->gc_post);
	} else if (strcmp(method, "GET") == 0)
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	evbuffer_drain(gc->gc_answer, evbuffer_get_length(gc->gc_answer));
	gc->gc_toolong = 0;
	gc->gc_err[0] = '\0';
	if (curlev_add(gh_curl, e, gh_donecb, gc) == -1)
		return (-1);
	return (0);
}

static size_t
gh_writecb(char *p, size_t size, size_t n, void *arg)
{
	struct proxy_gh_call	*gc = arg;

	n *= size;
	if (evbuffer_get_length(gc->gc_answer) + n > GH_ANSWER_MAX) {
		gc->gc_toolong = 1;
		return (0);
	}
	if (evbuffer_add(gc->gc_answer, p, n) == -1)
		return (0);
	return (n);
}

/* One of GitHub's answers: the next step, or what the shim gets. */
static void
gh_donecb(CURL *e, CURLcode result, void *arg)
{
	struct proxy_gh_call	*gc = arg;
	struct proxy_gh_req	*gq = &gc->gc_req;
	proxy_gh_error		 err;
	json_t			*a, *pr;
	const char		*s;
	char			 line[512], *out;
	size_t			 len, outlen;
	long			 status = 0;
	int			 st;

	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	if (result != CURLE_OK) {
		snprintf(line, sizeof(line), "sbxd: GitHub's API cannot be "
		    "reached: %s\n", gc->gc_toolong ? "its answer is too "
		    "long" : gc->gc_err[0] != '\0' ? gc->gc_err :
		    curl_easy_strerror(result));
		gh_end(gc, 502, "upstream", line, NULL, 0);
		return;
	}
	len = evbuffer_get_length(gc->gc_answer);
	s = (const char *)evbuffer_pullup(gc->gc_answer, -1);
	if (status < 200 || status > 299) {
		st = proxy_gh_upstream_error((int)status, s, len, line,
		    sizeof(line) - 1);
		len = strlen(line);
		line[len] = '\n';
		line[len + 1] = '\0';
		log_info("gateway: GitHub answered %ld to %s", status,
		    gc->gc_url);
		gh_end(gc, st, "github", line, NULL, 0);
		return;
	}
	if (gq->gq_op == PROXY_GH_MINT) {
		gh_end(gc, (int)status, NULL, s != NULL ? s : "",
		    "application/json", len);
		return;
	}
	if ((a = json_loadb(s != NULL ? s : "", len, 0, NULL)) == NULL) {
		gh_end(gc, 502, "github-answer", "sbxd: GitHub's answer is "
		    "not JSON\n", NULL, 0);
		return;
	}
	if (gc->gc_step == GH_S_REPO) {
		s = json_string_value(json_object_get(a, "default_branch"));
		if (s == NULL || proxy_gh_branch(s, &gq->gq_base, &err) == -1) {
			json_decref(a);
			gh_end(gc, 502, "github-answer", "sbxd: GitHub gave no "
			    "default branch: name a base\n", NULL, 0);
			return;
		}
		json_decref(a);
		gc->gc_step = GH_S_MAIN;
		gh_step(gc);
		return;
	}
	if (gq->gq_op == PROXY_GH_CREATE) {
		gc->gc_number = (int)json_integer_value(json_object_get(a,
		    "number"));
		s = json_string_value(json_object_get(a, "html_url"));
		if (s == NULL) {
			json_decref(a);
			gh_end(gc, 502, "github-answer", "sbxd: GitHub's "
			    "answer has no html_url\n", NULL, 0);
			return;
		}
		snprintf(line, sizeof(line), "%s\n", s);
		json_decref(a);
		gh_end(gc, 200, NULL, line, "text/plain; charset=utf-8", 0);
		return;
	}
	pr = a;
	if (gq->gq_op == PROXY_GH_VIEW && gq->gq_number == 0) {
		if ((pr = json_array_get(a, 0)) == NULL) {
			json_decref(a);
			snprintf(line, sizeof(line), "sbxd: no open pull "
			    "request found for branch \"%s\"\n", gq->gq_head);
			gh_end(gc, 404, "no-pull-request", line, NULL, 0);
			return;
		}
	}
	if (proxy_gh_format(gq, pr, &out, &outlen, &err) == -1) {
		json_decref(a);
		snprintf(line, sizeof(line), "sbxd: %s\n", err.detail);
		gh_end(gc, err.status, err.reason, line, NULL, 0);
		return;
	}
	json_decref(a);
	gh_end(gc, 200, NULL, out, gq->gq_json != 0 ? "application/json" :
	    "text/plain; charset=utf-8", outlen);
	free(out);
}

/*
 * The end: the callback, then the call goes (the callback must not
 * cancel it).
 */
static void
gh_end(struct proxy_gh_call *gc, int status, const char *reason,
    const char *body, const char *ctype, size_t len)
{
	gh_easy_clear(gc);
	gc->gc_cb(gc->gc_arg, status, reason, ctype != NULL ? ctype :
	    "text/plain; charset=utf-8", body, len != 0 ? len : strlen(body));
	gh_free(gc);
}

static void
gh_easy_clear(struct proxy_gh_call *gc)
{
	if (gc->gc_easy != NULL) {
		curlev_remove(gh_curl, gc->gc_easy);
		curl_easy_cleanup(gc->gc_easy);
		gc->gc_easy = NULL;
	}
	curlev_slist_free(gc->gc_headers);
	gc->gc_headers = NULL;
	curl_slist_free_all(gc->gc_resolve);
	gc->gc_resolve = NULL;
	free(gc->gc_url);
	gc->gc_url = NULL;
	free(gc->gc_post);
	gc->gc_post = NULL;
}

static void
gh_free(struct proxy_gh_call *gc)
{
	unsigned char	*p;
	size_t		 len;

	if (gc == NULL)
		return;
	if (gc->gc_dns != NULL)
		proxy_dns_cancel(gc->gc_dns);
	gh_easy_clear(gc);
	if (gc->gc_answer != NULL) {
		/* A mint's answer held a token. */
		len = evbuffer_get_length(gc->gc_answer);
		if (len > 0 && (p = evbuffer_pullup(gc->gc_answer, -1)) != NULL)
			util_zero(p, len);
		evbuffer_free(gc->gc_answer);
	}
	if (gc->gc_jwt != NULL)
		util_zero(gc->gc_jwt, strlen(gc->gc_jwt));
	free(gc->gc_jwt);
	free(gc->gc_mintbody);
	free(gc->gc_ca);
	proxy_gh_req_free(&gc->gc_req);
	free(gc);
}
