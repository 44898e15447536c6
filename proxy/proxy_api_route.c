/*
 * proxy_api_route.c: the credential gateway's policy, with no I/O and no
 * state.  A sandboxed agent sends model API requests in origin-form to
 * its loopback listener, the first path segment naming the provider
 * ("/anthropic/v1/messages"); this file decides whether the request may
 * go on and to which upstream path, which of its header fields go with
 * it, whether the phantom key it presents is the sandbox's, which
 * credential header replaces it, and what a refusal looks like in the
 * provider's own error JSON.
 *
 * Routes are exact allowlists matched on whole segments: what is not
 * listed is 404, and the endpoints that keep objects under the key
 * (files, batches, stored responses, caches) are 403, since one key
 * serves every sandbox and what one stored the others could read.  A
 * target is refused rather than repaired if two servers could read it
 * differently: no percent-encoding, dot segments or empty segments in
 * the path, and the upstream path is rebuilt from the checked segments,
 * never copied.  A key is never forwarded in a URL, and a query is
 * accepted only where a real client sends it.
 *
 * Header fields go upstream by allowlist; the caller writes framing
 * (Content-Length or chunked), Host, Accept-Encoding and the credential
 * itself.
 */

#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "proxy_api_route.h"

#define API_SEGMENTS_MAX	32	/* path segments; no route has more
					   than 5, deeper paths are probes */
#define API_PARAMS_MAX		8	/* query parameters; the longest
					   allowed query has 4 */
#define API_LIMIT_DIGITS	4	/* Anthropic's page limit is at
					   most 1000 */
#define API_STAINLESS		"x-stainless-"	/* SDK telemetry fields,
						   forwarded as a
						   family */
#define API_DEFAULT_MESSAGE	"request refused by sbxd"

/* What matching a rule's pattern found. */
#define API_MATCH		0
#define API_NOMATCH		1
#define API_BAD			2	/* the shape fits, the id
					   does not */

/* Route flag sets. */
#define API_F_JSON	(PROXY_API_R_BODY | PROXY_API_R_MODEL_BODY)
#define API_F_GEN	(API_F_JSON | PROXY_API_R_STREAM | PROXY_API_R_USAGE)
#define API_F_CHAT	(API_F_GEN | PROXY_API_R_OPENAI_CHAT)
#define API_F_GEMINI	(PROXY_API_R_BODY | PROXY_API_R_USAGE)
#define API_F_GSTREAM	(API_F_GEMINI | PROXY_API_R_STREAM |	\
			    PROXY_API_R_GEMINI_STREAM)

/* Which query a rule accepts. */
enum api_query {
	API_Q_NONE,	/* none */
	API_Q_BETA,	/* "beta=true": the Anthropic SDK's beta calls,
			   claude-code on every message */
	API_Q_LIST,	/* beta=true, limit, after_id and before_id: the
			   SDK paging through models */
	API_Q_SSE	/* "alt=sse": Gemini streams as SSE */
};

/* A path segment or a query parameter, pointing into the target. */
struct api_seg {
	const char	*sg_p;
	size_t		 sg_n;
};

/* A path the gateway allows with one method, or refuses outright. */
struct api_rule {
	const char	*ru_path;	/* segments after the version: "*"
					   is an id, "*:verb" an id and a
					   verb, "**" anything below */
	const char	*ru_method;	/* NULL: 403, whatever the
					   method */
	int		 ru_endpoint;	/* enum proxy_api_endpoint */
	int		 ru_flags;	/* PROXY_API_R_* */
	int		 ru_query;	/* enum api_query */
};

/* A header field that carries the phantom key. */
struct api_keyname {
	const char	*kn_name;	/* lower case */
	int		 kn_how;	/* enum proxy_api_keyhdr */
};

/* Everything the gateway knows of one provider. */
struct api_provider {
	const char			*pv_name;
	const char			*pv_host;
	const char			*pv_base;
	const char			*pv_prefix;	/* of every
							   upstream path */
	const char			*pv_versions[3];	/* what
						   clients put before the
						   route; "" for nothing */
	const struct api_rule		*pv_rules;
	size_t				 pv_nrules;
	const char * const		*pv_headers;	/* forwarded,
							   beyond
							   api_headers */
	const struct api_keyname	*pv_keys;
	struct proxy_api_cred		 pv_cred;
	const char			*pv_phantom;	/* phantom key
							   prefix */
};

/* A status and what each provider calls it. */
struct api_status {
	int		 st_status;
	const char	*st_anthropic;	/* error.type */
	const char	*st_openai;	/* error.type */
	const char	*st_openai_code; /* error.code unless given */
	const char	*st_google;	/* error.status, a
					   google.rpc.Code */
};

static int	api_fail(struct proxy_api_error *, int, const char *,
		    const char *);
static int	api_isid(unsigned char);
static int	api_hexval(char);
static int	api_ieq(const char *, size_t, const char *);
static int	api_eq(const char *, size_t, const char *);
static int	api_ifind(const char *, size_t, const char *);
static int	api_target_check(const char *, size_t,
		    struct proxy_api_error *);
static int	api_key_in_url(const char *, size_t);
static int	api_path_split(const char *, size_t, struct api_seg *,
		    size_t *, struct proxy_api_error *);
static int	api_version(const struct api_provider *,
		    const struct api_seg *, size_t);
static int	api_match(const char *, const struct api_seg *, size_t,
		    struct api_seg *);
static int	api_match_id(const struct api_seg *, const char *, size_t,
		    struct api_seg *);
static int	api_rule_find(const struct api_provider *,
		    const struct api_seg *, size_t, const struct api_rule **,
		    struct api_seg *);
static int	api_query_check(int, const char *, size_t, int *);
static int	api_param_check(int, const struct api_seg *, int *);
static int	api_append(struct proxy_api_route *, const char *, size_t);
static int	api_build(const struct api_provider *, const struct api_seg *,
		    size_t, const char *, size_t, struct proxy_api_route *);
static int	api_token(const char *, size_t);
static int	api_list_has(const char * const *, const char *, size_t);
static const struct api_status *api_status_find(int);
static void	api_clean(const char *, char *, size_t, int);

static const struct api_rule api_anthropic_rules[] = {
	{ "messages", "POST", PROXY_API_EP_MESSAGES, API_F_GEN, API_Q_BETA },
	{ "messages/count_tokens", "POST", PROXY_API_EP_COUNT_TOKENS,
	    API_F_JSON, API_Q_BETA },
	{ "models", "GET", PROXY_API_EP_MODELS, 0, API_Q_LIST },
	{ "models/*", "GET", PROXY_API_EP_MODEL, 0, API_Q_BETA },
	{ "messages/batches/**", NULL, -1, 0, 0 },
	{ "files/**", NULL, -1, 0, 0 },
	{ "skills/**", NULL, -1, 0, 0 },
	{ "organizations/**", NULL, -1, 0, 0 },
};

static const struct api_rule api_openai_rules[] = {
	{ "chat/completions", "POST", PROXY_API_EP_CHAT, API_F_CHAT,
	    API_Q_NONE },
	{ "responses", "POST", PROXY_API_EP_RESPONSES, API_F_GEN, API_Q_NONE },
	{ "responses/compact", "POST", PROXY_API_EP_COMPACT,
	    API_F_JSON | PROXY_API_R_USAGE, API_Q_NONE },
	{ "responses/input_tokens", "POST", PROXY_API_EP_COUNT_TOKENS,
	    API_F_JSON, API_Q_NONE },
	{ "embeddings", "POST", PROXY_API_EP_EMBEDDINGS,
	    API_F_JSON | PROXY_API_R_USAGE, API_Q_NONE },
	{ "models", "GET", PROXY_API_EP_MODELS, 0, API_Q_NONE },
	{ "models/*", "GET", PROXY_API_EP_MODEL, 0, API_Q_NONE },
	{ "chat/completions/**", NULL, -1, 0, 0 },	/* stored chats */
	{ "responses/**", NULL, -1, 0, 0 },	/* stored responses */
	{ "files/**", NULL, -1, 0, 0 },
	{ "uploads/**", NULL, -1, 0, 0 },
	{ "batches/**", NULL, -1, 0, 0 },
	{ "fine_tuning/**", NULL, -1, 0, 0 },
	{ "fine-tunes/**", NULL, -1, 0, 0 },
	{ "vector_stores/**", NULL, -1, 0, 0 },
	{ "assistants/**", NULL, -1, 0, 0 },
	{ "threads/**", NULL, -1, 0, 0 },
	{ "conversations/**", NULL, -1, 0, 0 },
	{ "containers/**", NULL, -1, 0, 0 },
	{ "evals/**", NULL, -1, 0, 0 },
	{ "organization/**", NULL, -1, 0, 0 },
	{ "realtime/**", NULL, -1, 0, 0 },
};

static const struct api_rule api_google_rules[] = {
	{ "models", "GET", PROXY_API_EP_MODELS, 0, API_Q_NONE },
	{ "models/*", "GET", PROXY_API_EP_MODEL, 0, API_Q_NONE },
	{ "models/*:generateContent", "POST", PROXY_API_EP_GENERATE,
	    API_F_GEMINI, API_Q_NONE },
	{ "models/*:streamGenerateContent", "POST",
	    PROXY_API_EP_STREAM_GENERATE, API_F_GSTREAM, API_Q_SSE },
	{ "models/*:countTokens", "POST", PROXY_API_EP_COUNT_TOKENS,
	    PROXY_API_R_BODY, API_Q_NONE },
	{ "models/*:batchGenerateContent", NULL, -1, 0, 0 },
	{ "cachedContents/**", NULL, -1, 0, 0 },
	{ "files/**", NULL, -1, 0, 0 },
	{ "upload/**", NULL, -1, 0, 0 },
	{ "tunedModels/**", NULL, -1, 0, 0 },
	{ "corpora/**", NULL, -1, 0, 0 },
	{ "batches/**", NULL, -1, 0, 0 },
	{ "operations/**", NULL, -1, 0, 0 },
	{ "fileSearchStores/**", NULL, -1, 0, 0 },
};

static const struct api_rule api_openrouter_rules[] = {
	{ "chat/completions", "POST", PROXY_API_EP_CHAT, API_F_CHAT,
	    API_Q_NONE },
	{ "models", "GET", PROXY_API_EP_MODELS, 0, API_Q_NONE },
	{ "keys/**", NULL, -1, 0, 0 },
	{ "key/**", NULL, -1, 0, 0 },
	{ "credits/**", NULL, -1, 0, 0 },
	{ "generation/**", NULL, -1, 0, 0 },	/* any generation's
						   metadata by id */
	{ "activity/**", NULL, -1, 0, 0 },
	{ "auth/**", NULL, -1, 0, 0 },
};

/* Forwarded to every provider (lower case). */
static const char * const api_headers[] = {
	"content-type", "accept", "user-agent", "idempotency-key", NULL
};
static const char * const api_anthropic_headers[] = {
	"anthropic-version", "anthropic-beta", "x-claude-code-session-id",
	NULL
};
static const char * const api_openai_headers[] = { "openai-beta", NULL };
static const char * const api_google_headers[] = {
	"x-goog-api-client", NULL
};
static const char * const api_openrouter_headers[] = {
	"http-referer", "x-title", NULL
};

static const struct api_keyname api_anthropic_keys[] = {
	{ "x-api-key", PROXY_API_KEY_RAW },
	{ "authorization", PROXY_API_KEY_BEARER },	/* AUTH_TOKEN */
	{ NULL, PROXY_API_KEY_NONE }
};
static const struct api_keyname api_bearer_keys[] = {
	{ "authorization", PROXY_API_KEY_BEARER },
	{ NULL, PROXY_API_KEY_NONE }
};
static const struct api_keyname api_google_keys[] = {
	{ "x-goog-api-key", PROXY_API_KEY_RAW },
	{ NULL, PROXY_API_KEY_NONE }
};

#define API_RULES(r)	(r), sizeof(r) / sizeof((r)[0])

/* In the order of enum proxy_api_provider. */
static const struct api_provider api_providers[PROXY_API_NPROVIDERS] = {
	{ "anthropic", "api.anthropic.com", "https://api.anthropic.com",
	    "/v1", { "v1", "", NULL }, API_RULES(api_anthropic_rules),
	    api_anthropic_headers, api_anthropic_keys,
	    { "x-api-key", "", "anthropic-version",
	    PROXY_API_ANTHROPIC_VERSION }, "sk-ant-sbx-" },
	{ "openai", "api.openai.com", "https://api.openai.com",
	    "/v1", { "v1", "", NULL }, API_RULES(api_openai_rules),
	    api_openai_headers, api_bearer_keys,
	    { "Authorization", "Bearer ", NULL, NULL }, "sk-sbx-" },
	{ "google", "generativelanguage.googleapis.com",
	    "https://generativelanguage.googleapis.com",
	    "/v1beta", { "v1beta", "", NULL }, API_RULES(api_google_rules),
	    api_google_headers, api_google_keys,
	    { "x-goog-api-key", "", NULL, NULL }, "AIza-sbx-" },
	{ "openrouter", "openrouter.ai", "https://openrouter.ai",
	    "/api/v1", { "api/v1", "v1", NULL },
	    API_RULES(api_openrouter_rules),
	    api_openrouter_headers, api_bearer_keys,
	    { "Authorization", "Bearer ", NULL, NULL }, "sk-or-sbx-" },
};

/* In the order of enum proxy_api_endpoint. */
static const char *api_endpoints[] = {
	"messages", "count_tokens", "models", "model", "chat.completions",
	"responses", "responses.compact", "embeddings", "generateContent",
	"streamGenerateContent"
};

static const struct api_status api_statuses[] = {
	{ 400, "invalid_request_error", "invalid_request_error", NULL,
	    "INVALID_ARGUMENT" },
	{ 401, "authentication_error", "invalid_request_error",
	    "invalid_api_key", "UNAUTHENTICATED" },
	{ 402, "billing_error", "insufficient_quota", "insufficient_quota",
	    "RESOURCE_EXHAUSTED" },
	{ 403, "permission_error", "invalid_request_error", NULL,
	    "PERMISSION_DENIED" },
	{ 404, "not_found_error", "invalid_request_error", NULL,
	    "NOT_FOUND" },
	{ 405, "invalid_request_error", "invalid_request_error", NULL,
	    "UNIMPLEMENTED" },
	{ 413, "request_too_large", "invalid_request_error", NULL,
	    "INVALID_ARGUMENT" },
	{ 415, "invalid_request_error", "invalid_request_error", NULL,
	    "INVALID_ARGUMENT" },
	{ 429, "rate_limit_error", "requests", "rate_limit_exceeded",
	    "RESOURCE_EXHAUSTED" },
	{ 500, "api_error", "server_error", NULL, "INTERNAL" },
	{ 502, "api_error", "server_error", NULL, "UNAVAILABLE" },
	{ 503, "api_error", "server_error", NULL, "UNAVAILABLE" },
	{ 504, "timeout_error", "server_error", NULL, "DEADLINE_EXCEEDED" },
	{ 529, "overloaded_error", "server_error", NULL, "UNAVAILABLE" },
};

/* Any other 4xx, and anything else. */
static const struct api_status api_status_4xx = { 0,
	"invalid_request_error", "invalid_request_error", NULL,
	"FAILED_PRECONDITION" };
static const struct api_status api_status_other = { 0,
	"api_error", "server_error", NULL, "INTERNAL" };

static const char api_hex[] = "0123456789abcdef";

/* Refuse the request being routed. */
static int
api_fail(struct proxy_api_error *ae, int status, const char *reason,
    const char *message)
{
	ae->ae_status = status;
	ae->ae_reason = reason;
	ae->ae_message = message;
	ae->ae_allow = NULL;
	return (-1);
}

/* [A-Za-z0-9._-]: ids, models and query words. */
static int
api_isid(unsigned char c)
{
	return ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-');
}

/* The value of hex digit c, or -1. */
static int
api_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}

/* s (n bytes) equals the lower-case lit, ignoring ASCII case. */
static int
api_ieq(const char *s, size_t n, const char *lit)
{
	size_t		 i;
	unsigned char	 c;

	if (n != strlen(lit))
		return (0);
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		if (c != (unsigned char)lit[i])
			return (0);
	}
	return (1);
}

/* s (n bytes) equals lit exactly. */
static int
api_eq(const char *s, size_t n, const char *lit)
{
	return (n == strlen(lit) && memcmp(s, lit, n) == 0);
}

/* Whether the lower-case lit occurs in s (n bytes), in any case. */
static int
api_ifind(const char *s, size_t n, const char *lit)
{
	size_t	 i, l = strlen(lit);

	for (i = 0; i + l <= n; i++)
		if (api_ieq(s + i, l, lit))
			return (1);
	return (0);
}

/* The name of provider p ("anthropic"), or NULL. */
const char *
proxy_api_provider_name(enum proxy_api_provider p)
{
	if ((unsigned int)p >= PROXY_API_NPROVIDERS)
		return (NULL);
	return (api_providers[p].pv_name);
}

/* The provider named name (n bytes, exact case), or -1. */
int
proxy_api_provider_find(const char *name, size_t n)
{
	int	 p;

	for (p = 0; p < PROXY_API_NPROVIDERS; p++)
		if (api_eq(name, n, api_providers[p].pv_name))
			return (p);
	return (-1);
}

/* The default upstream base URL of p, without a path, or NULL. */
const char *
proxy_api_provider_base(enum proxy_api_provider p)
{
	if ((unsigned int)p >= PROXY_API_NPROVIDERS)
		return (NULL);
	return (api_providers[p].pv_base);
}

/* The default upstream host of p, for SNI and verification, or NULL. */
const char *
proxy_api_provider_host(enum proxy_api_provider p)
{
	if ((unsigned int)p >= PROXY_API_NPROVIDERS)
		return (NULL);
	return (api_providers[p].pv_host);
}

/* The path every upstream path of p starts with ("/v1"), or NULL. */
const char *
proxy_api_provider_prefix(enum proxy_api_provider p)
{
	if ((unsigned int)p >= PROXY_API_NPROVIDERS)
		return (NULL);
	return (api_providers[p].pv_prefix);
}

/* A short stable name of endpoint e for logs and the store, or NULL. */
const char *
proxy_api_endpoint_name(enum proxy_api_endpoint e)
{
	if ((unsigned int)e >= sizeof(api_endpoints) / sizeof(api_endpoints[0]))
		return (NULL);
	return (api_endpoints[e]);
}

/*
 * Route a request: method (NUL terminated, case-sensitive) and its
 * origin-form target (len bytes).  Returns 0 with *ar filled, or -1 with
 * *ae saying why (400 bad-path, bad-query or key-in-url; 403
 * stateful-endpoint; 404 not-found; 405 method-not-allowed with Allow).
 */
int
proxy_api_route(const char *method, const char *target, size_t len,
    struct proxy_api_route *ar, struct proxy_api_error *ae)
{
	struct api_seg			 seg[API_SEGMENTS_MAX], id;
	const struct api_provider	*pv;
	const struct api_rule		*ru;
	const char			*q;
	size_t				 pathlen, qlen, n;
	int				 p, skip, r, flags = 0;

	memset(ar, 0, sizeof(*ar));
	memset(ae, 0, sizeof(*ae));
	if (api_target_check(target, len, ae) == -1)
		return (-1);
	if (api_key_in_url(target, len))
		return (api_fail(ae, 400, "key-in-url",
		    "an API key must not be sent in the URL"));
	if ((q = memchr(target, '?', len)) != NULL) {
		pathlen = q - target;
		qlen = len - pathlen - 1;
		q++;
	} else {
		pathlen = len;
		qlen = 0;
		q = "";
	}
	if (api_path_split(target, pathlen, seg, &n, ae) == -1)
		return (-1);
	if (n == 0 || (p = proxy_api_provider_find(seg[0].sg_p,
	    seg[0].sg_n)) == -1)
		return (api_fail(ae, 404, "not-found",
		    "no such provider: the path starts with /anthropic, "
		    "/openai, /google or /openrouter"));
	pv = &api_providers[p];
	if ((skip = api_version(pv, seg + 1, n - 1)) == -1)
		return (api_fail(ae, 404, "not-found",
		    "no such API version"));
	n -= 1 + skip;
	r = api_rule_find(pv, seg + 1 + skip, n, &ru, &id);
	if (r == API_BAD)
		return (api_fail(ae, 400, "bad-path",
		    "a model or id in the path is empty or too long"));
	if (r == API_NOMATCH)
		return (api_fail(ae, 404, "not-found",
		    "this endpoint is not available through sbxd"));
	if (ru->ru_method == NULL)
		return (api_fail(ae, 403, "stateful-endpoint",
		    "endpoints that store objects under the shared key are "
		    "refused by sbxd"));
	if (method == NULL || strcmp(method, ru->ru_method) != 0) {
		api_fail(ae, 405, "method-not-allowed",
		    "method not allowed on this endpoint");
		ae->ae_allow = ru->ru_method;
		return (-1);
	}
	if (api_query_check(ru->ru_query, q, qlen, &flags) == -1)
		return (api_fail(ae, 400, "bad-query",
		    "query parameters not allowed on this endpoint"));
	if (api_build(pv, seg + 1 + skip, n, q, qlen, ar) == -1)
		return (api_fail(ae, 400, "bad-path",
		    "request target too long"));
	ar->ar_provider = p;
	ar->ar_endpoint = ru->ru_endpoint;
	ar->ar_flags = ru->ru_flags | flags;
	ar->ar_method = ru->ru_method;
	if (id.sg_n > 0) {
		memcpy(ar->ar_model, id.sg_p, id.sg_n);
		ar->ar_model[id.sg_n] = '\0';
	}
	return (0);
}

/* The target as a whole: origin-form, bounded, visible ASCII only. */
static int
api_target_check(const char *t, size_t len, struct proxy_api_error *ae)
{
	size_t		 i;
	unsigned char	 c;

	if (len == 0)
		return (api_fail(ae, 400, "bad-path", "empty request target"));
	if (t[0] != '/')
		return (api_fail(ae, 400, "bad-path",
		    "the request target must be a path (origin-form)"));
	if (len > PROXY_API_TARGET_MAX)
		return (api_fail(ae, 400, "bad-path",
		    "request target too long"));
	for (i = 0; i < len; i++) {
		c = (unsigned char)t[i];
		if (c <= 0x20 || c >= 0x7f)
			return (api_fail(ae, 400, "bad-path",
			    "control, space or non-ASCII byte in the "
			    "request target"));
		if (c == '#')
			return (api_fail(ae, 400, "bad-path",
			    "fragment in the request target"));
		if (c == '\\')
			return (api_fail(ae, 400, "bad-path",
			    "backslash in the request target"));
	}
	return (0);
}

/*
 * Whether the target carries a key: "key=" (key, api_key, apikey,
 * x-goog-api-key...) or "access_token=" anywhere, in any case, before
 * or after one round of percent-decoding (as Google decodes).
 */
static int
api_key_in_url(const char *t, size_t len)
{
	char		 buf[PROXY_API_TARGET_MAX];
	size_t		 i, n = 0;
	unsigned char	 c;
	int		 hi, lo;

	for (i = 0; i < len && n < sizeof(buf); i++) {
		c = (unsigned char)t[i];
		if (c == '%' && i + 2 < len &&
		    (hi = api_hexval(t[i + 1])) != -1 &&
		    (lo = api_hexval(t[i + 2])) != -1) {
			c = hi << 4 | lo;
			i += 2;
		}
		buf[n++] = c;
	}
	return (api_ifind(t, len, "key=") || api_ifind(t, len,
	    "access_token=") || api_ifind(buf, n, "key=") ||
	    api_ifind(buf, n, "access_token="));
}

/*
 * Split the path (len bytes, starting with '/') into its segments, each
 * of [A-Za-z0-9._:-], not empty, not made of dots only; ".." nowhere.
 */
static int
api_path_split(const char *path, size_t len, struct api_seg *seg,
    size_t *nseg, struct proxy_api_error *ae)
{
	size_t		 i, start, dots, n = 0;
	unsigned char	 c;

	*nseg = 0;
	for (i = 1; i < len; i++) {
		c = (unsigned char)path[i];
		if (c == '%')
			return (api_fail(ae, 400, "bad-path",
			    "percent-encoding in the path"));
		if (c != '/' && c != ':' && !api_isid(c))
			return (api_fail(ae, 400, "bad-path",
			    "character not allowed in the path"));
		if (c == '.' && path[i - 1] == '.')
			return (api_fail(ae, 400, "bad-path",
			    "\"..\" in the path"));
	}
	if (len == 1)
		return (0);
	for (start = 1; start <= len; start = i + 1) {
		for (i = start, dots = 0; i < len && path[i] != '/'; i++)
			if (path[i] == '.')
				dots++;
		if (i == start)
			return (api_fail(ae, 400, "bad-path",
			    "empty path segment"));
		if (dots == i - start)
			return (api_fail(ae, 400, "bad-path",
			    "dot segment in the path"));
		if (n == API_SEGMENTS_MAX)
			return (api_fail(ae, 400, "bad-path",
			    "too many path segments"));
		seg[n].sg_p = path + start;
		seg[n].sg_n = i - start;
		n++;
	}
	*nseg = n;
	return (0);
}

/* How many of the n segments are a version pv's clients put first, or -1. */
static int
api_version(const struct api_provider *pv, const struct api_seg *seg,
    size_t n)
{
	const char	*v;
	size_t		 i, k, l;

	for (i = 0; (v = pv->pv_versions[i]) != NULL; i++) {
		for (k = 0; *v != '\0'; k++) {
			l = strcspn(v, "/");
			if (k == n || seg[k].sg_n != l ||
			    memcmp(seg[k].sg_p, v, l) != 0)
				break;
			v += l;
			if (*v == '/')
				v++;
		}
		if (*v == '\0')
			return ((int)k);
	}
	return (-1);
}

/* Match the n segments against pattern pat; the id it holds in *id. */
static int
api_match(const char *pat, const struct api_seg *seg, size_t n,
    struct api_seg *id)
{
	size_t	 i, l;
	int	 r, bad = 0;

	for (i = 0;; i++) {
		l = strcspn(pat, "/");
		if (l == 2 && pat[0] == '*' && pat[1] == '*')
			break;		/* this and anything below */
		if (i == n)
			return (API_NOMATCH);
		if (pat[0] == '*') {
			r = api_match_id(&seg[i], pat + 1, l - 1, id);
			if (r == API_NOMATCH)
				return (r);
			if (r == API_BAD)
				bad = 1;
		} else if (seg[i].sg_n != l || memcmp(seg[i].sg_p, pat, l) != 0)
			return (API_NOMATCH);
		pat += l;
		if (*pat == '\0') {
			if (i + 1 != n)
				return (API_NOMATCH);
			break;
		}
		pat++;
	}
	return (bad ? API_BAD : API_MATCH);
}

/* Match one segment against an id followed by suffix (":verb" or ""). */
static int
api_match_id(const struct api_seg *sg, const char *suffix, size_t sl,
    struct api_seg *id)
{
	const char	*colon;
	size_t		 n;

	colon = memchr(sg->sg_p, ':', sg->sg_n);
	n = colon != NULL ? (size_t)(colon - sg->sg_p) : sg->sg_n;
	if (sg->sg_n - n != sl || memcmp(sg->sg_p + n, suffix, sl) != 0)
		return (API_NOMATCH);
	if (n == 0 || n > PROXY_API_ID_MAX)
		return (API_BAD);
	id->sg_p = sg->sg_p;
	id->sg_n = n;
	return (API_MATCH);
}

/* The first of pv's rules whose path matches, in *rup. */
static int
api_rule_find(const struct api_provider *pv, const struct api_seg *seg,
    size_t n, const struct api_rule **rup, struct api_seg *id)
{
	size_t	 i;
	int	 r, bad = 0;

	*rup = NULL;
	for (i = 0; i < pv->pv_nrules; i++) {
		id->sg_p = NULL;
		id->sg_n = 0;
		r = api_match(pv->pv_rules[i].ru_path, seg, n, id);
		if (r == API_MATCH) {
			*rup = &pv->pv_rules[i];
			return (API_MATCH);
		}
		if (r == API_BAD)
			bad = 1;
	}
	id->sg_n = 0;
	return (bad ? API_BAD : API_NOMATCH);
}

/*
 * The query (len bytes, without '?') against what a rule of kind
 * accepts: name=value pairs split at '&', each known name at most once,
 * values of [A-Za-z0-9._-].  An empty query is no query.
 */
static int
api_query_check(int kind, const char *q, size_t len, int *flags)
{
	struct api_seg	 prm;
	size_t		 i, start, n = 0;
	int		 bit, seen = 0;

	if (len == 0)
		return (0);
	if (kind == API_Q_NONE)
		return (-1);
	for (start = 0; start <= len; start = i + 1) {
		for (i = start; i < len && q[i] != '&'; i++)
			;
		if (i == start || n++ == API_PARAMS_MAX)
			return (-1);
		prm.sg_p = q + start;
		prm.sg_n = i - start;
		if ((bit = api_param_check(kind, &prm, flags)) == -1 ||
		    (seen & bit))
			return (-1);
		seen |= bit;
	}
	return (0);
}

/* One query parameter; returns its name's bit, or -1. */
static int
api_param_check(int kind, const struct api_seg *prm, int *flags)
{
	const char	*eq, *v;
	size_t		 i, nl, vl;

	if ((eq = memchr(prm->sg_p, '=', prm->sg_n)) == NULL)
		return (-1);
	nl = eq - prm->sg_p;
	v = eq + 1;
	vl = prm->sg_n - nl - 1;
	if (vl == 0 || vl > PROXY_API_ID_MAX)
		return (-1);
	for (i = 0; i < vl; i++)
		if (!api_isid(v[i]) || (i > 0 && v[i] == '.' &&
		    v[i - 1] == '.'))
			return (-1);
	switch (kind) {
	case API_Q_BETA:
	case API_Q_LIST:
		if (api_eq(prm->sg_p, nl, "beta"))
			return (api_eq(v, vl, "true") ? 0x01 : -1);
		if (kind != API_Q_LIST)
			return (-1);
		if (api_eq(prm->sg_p, nl, "limit")) {
			if (vl > API_LIMIT_DIGITS)
				return (-1);
			for (i = 0; i < vl; i++)
				if (v[i] < '0' || v[i] > '9')
					return (-1);
			return (0x02);
		}
		if (api_eq(prm->sg_p, nl, "after_id"))
			return (0x04);
		if (api_eq(prm->sg_p, nl, "before_id"))
			return (0x08);
		return (-1);
	case API_Q_SSE:
		if (!api_eq(prm->sg_p, nl, "alt") || !api_eq(v, vl, "sse"))
			return (-1);
		*flags |= PROXY_API_R_SSE;
		return (0x01);
	}
	return (-1);
}

/* Add n bytes to ar's upstream path, keeping it NUL terminated. */
static int
api_append(struct proxy_api_route *ar, const char *s, size_t n)
{
	if (n >= sizeof(ar->ar_path) - ar->ar_pathlen)
		return (-1);
	memcpy(ar->ar_path + ar->ar_pathlen, s, n);
	ar->ar_pathlen += n;
	ar->ar_path[ar->ar_pathlen] = '\0';
	return (0);
}

/* The upstream path: pv's prefix, the checked segments, the query. */
static int
api_build(const struct api_provider *pv, const struct api_seg *seg,
    size_t n, const char *q, size_t qlen, struct proxy_api_route *ar)
{
	size_t	 i;

	ar->ar_pathlen = 0;
	if (api_append(ar, pv->pv_prefix, strlen(pv->pv_prefix)) == -1)
		return (-1);
	for (i = 0; i < n; i++)
		if (api_append(ar, "/", 1) == -1 ||
		    api_append(ar, seg[i].sg_p, seg[i].sg_n) == -1)
			return (-1);
	if (qlen > 0 && (api_append(ar, "?", 1) == -1 ||
	    api_append(ar, q, qlen) == -1))
		return (-1);
	return (0);
}

/* Whether s (n bytes) is a field name: an RFC 9110 token. */
static int
api_token(const char *s, size_t n)
{
	size_t		 i;
	unsigned char	 c;

	if (n == 0)
		return (0);
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (!api_isid(c) && (c == '\0' ||
		    strchr("!#$%&'*+^`|~", c) == NULL))
			return (0);
	}
	return (1);
}

/* Whether s (n bytes, any case) is in the NULL-terminated list. */
static int
api_list_has(const char * const *list, const char *s, size_t n)
{
	for (; *list != NULL; list++)
		if (api_ieq(s, n, *list))
			return (1);
	return (0);
}

/*
 * Whether a request field named name (n bytes, any case) goes upstream
 * to p.  An allowlist: Content-Type, Accept, User-Agent, Idempotency-Key,
 * X-Stainless-*, and per provider anthropic-version, anthropic-beta,
 * X-Claude-Code-Session-Id (Anthropic), OpenAI-Beta (OpenAI),
 * x-goog-api-client (Google), HTTP-Referer, X-Title (OpenRouter).
 * Everything else is dropped, notably every credential (Authorization,
 * x-api-key, x-goog-api-key, api-key, Cookie, Proxy-*), OpenAI-
 * Organization, OpenAI-Project, x-goog-user-project, Forwarded,
 * X-Forwarded-*, Host, Content-Length, Transfer-Encoding,
 * Content-Encoding, Expect, Accept-Encoding and the hop-by-hop fields:
 * the caller writes Host, the framing, "Accept-Encoding: identity" and
 * the credential itself, and decodes or refuses an encoded body.
 */
enum proxy_api_hdr
proxy_api_header(enum proxy_api_provider p, const char *name, size_t n)
{
	const struct api_provider	*pv;
	size_t				 sl = sizeof(API_STAINLESS) - 1;

	if ((unsigned int)p >= PROXY_API_NPROVIDERS || !api_token(name, n))
		return (PROXY_API_HDR_DROP);
	pv = &api_providers[p];
	if (api_list_has(api_headers, name, n) ||
	    api_list_has(pv->pv_headers, name, n))
		return (PROXY_API_HDR_FORWARD);
	if (n > sl && api_ieq(name, sl, API_STAINLESS))
		return (PROXY_API_HDR_FORWARD);
	return (PROXY_API_HDR_DROP);
}

/*
 * Whether field name (n bytes, any case) carries p's phantom key, and
 * how: Anthropic x-api-key (raw) or Authorization (Bearer), OpenAI and
 * OpenRouter Authorization (Bearer), Google x-goog-api-key (raw).
 */
enum proxy_api_keyhdr
proxy_api_key_header(enum proxy_api_provider p, const char *name, size_t n)
{
	const struct api_keyname	*kn;

	if ((unsigned int)p >= PROXY_API_NPROVIDERS)
		return (PROXY_API_KEY_NONE);
	for (kn = api_providers[p].pv_keys; kn->kn_name != NULL; kn++)
		if (api_ieq(name, n, kn->kn_name))
			return (kn->kn_how);
	return (PROXY_API_KEY_NONE);
}

/*
 * The key in a credential field's value (n bytes): all of it, or after
 * "Bearer" (any case) and exactly one space.  The key is 1 to
 * PROXY_API_KEY_MAX visible ASCII bytes, so no white space before, in or
 * after it.  Returns 0 with *key pointing into value, or -1.
 */
int
proxy_api_key_extract(enum proxy_api_keyhdr how, const char *value,
    size_t n, const char **key, size_t *keylen)
{
	size_t	 i;

	*key = NULL;
	*keylen = 0;
	switch (how) {
	case PROXY_API_KEY_RAW:
		break;
	case PROXY_API_KEY_BEARER:
		if (n < 7 || !api_ieq(value, 6, "bearer") || value[6] != ' ')
			return (-1);
		value += 7;
		n -= 7;
		break;
	default:
		return (-1);
	}
	if (n == 0 || n > PROXY_API_KEY_MAX)
		return (-1);
	for (i = 0; i < n; i++)
		if ((unsigned char)value[i] <= 0x20 ||
		    (unsigned char)value[i] >= 0x7f)
			return (-1);
	*key = value;
	*keylen = n;
	return (0);
}

/*
 * Whether key (n bytes) may be injected as a real key: 1 to
 * PROXY_API_KEY_MAX of [A-Za-z0-9._-], as every provider's keys are (the
 * Codex proxy's rule), so that no byte can end or split a header line.
 */
int
proxy_api_key_valid(const char *key, size_t n)
{
	size_t	 i;

	if (n == 0 || n > PROXY_API_KEY_MAX)
		return (0);
	for (i = 0; i < n; i++)
		if (!api_isid(key[i]))
			return (0);
	return (1);
}

/*
 * Whether a (alen bytes) and b (blen bytes) are the same non-empty key.
 * The time taken depends on the lengths only, never on the bytes.
 */
int
proxy_api_key_equal(const char *a, size_t alen, const char *b, size_t blen)
{
	const volatile unsigned char	*x, *y;
	volatile unsigned char		 d = 0;
	size_t				 i;

	if (alen != blen || alen == 0)
		return (0);
	x = (const volatile unsigned char *)a;
	y = (const volatile unsigned char *)b;
	for (i = 0; i < alen; i++)
		d |= x[i] ^ y[i];
	return (d == 0);
}

/* Start checking the credential fields of a request. */
void
proxy_api_keycheck_init(struct proxy_api_keycheck *kc)
{
	kc->kc_seen = 0;
	kc->kc_bad = 0;
}

/*
 * Look at one request field for p: if it is a credential field, note
 * whether it presents the phantom key (plen bytes) and return 1 (the
 * field is dropped in any case), else 0.
 */
int
proxy_api_keycheck_field(struct proxy_api_keycheck *kc,
    enum proxy_api_provider p, const char *name, size_t namelen,
    const char *value, size_t valuelen, const char *phantom, size_t plen)
{
	enum proxy_api_keyhdr	 how;
	const char		*key;
	size_t			 keylen;

	if ((how = proxy_api_key_header(p, name, namelen)) ==
	    PROXY_API_KEY_NONE)
		return (0);
	kc->kc_seen++;
	if (proxy_api_key_extract(how, value, valuelen, &key, &keylen) == -1 ||
	    !proxy_api_key_equal(key, keylen, phantom, plen))
		kc->kc_bad++;
	return (1);
}

/*
 * The verdict once every field was looked at: 0 if at least one
 * credential field was sent and each presented the phantom key, else -1
 * (answer 401).
 */
int
proxy_api_keycheck_done(const struct proxy_api_keycheck *kc)
{
	return (kc->kc_seen > 0 && kc->kc_bad == 0 ? 0 : -1);
}

/*
 * The credential sbxd writes upstream for p: "ac_name: ac_prefix KEY",
 * plus ac_dflt_name: ac_dflt_value when the client sent no field of that
 * name (Anthropic's anthropic-version), or NULL.
 */
const struct proxy_api_cred *
proxy_api_cred(enum proxy_api_provider p)
{
	if ((unsigned int)p >= PROXY_API_NPROVIDERS)
		return (NULL);
	return (&api_providers[p].pv_cred);
}

/* The names of status in the provider's error table. */
static const struct api_status *
api_status_find(int status)
{
	size_t	 i;

	for (i = 0; i < sizeof(api_statuses) / sizeof(api_statuses[0]); i++)
		if (api_statuses[i].st_status == status)
			return (&api_statuses[i]);
	if (status >= 400 && status <= 499)
		return (&api_status_4xx);
	return (&api_status_other);
}

/*
 * What p calls status: Anthropic's error.type, OpenAI's and OpenRouter's
 * error.type, Google's error.status; NULL for no provider.
 */
const char *
proxy_api_error_type(enum proxy_api_provider p, int status)
{
	const struct api_status	*st = api_status_find(status);

	switch (p) {
	case PROXY_API_ANTHROPIC:
		return (st->st_anthropic);
	case PROXY_API_OPENAI:
	case PROXY_API_OPENROUTER:
		return (st->st_openai);
	case PROXY_API_GOOGLE:
		return (st->st_google);
	default:
		return (NULL);
	}
}

/*
 * Copy s into buf (size bytes), NUL terminated and cut to fit: bytes
 * outside printable ASCII become '?', or for a token (id set) bytes
 * outside [A-Za-z0-9._-] become '_'.
 */
static void
api_clean(const char *s, char *buf, size_t size, int id)
{
	size_t		 i;
	unsigned char	 c;

	for (i = 0; s[i] != '\0' && i + 1 < size; i++) {
		c = (unsigned char)s[i];
		if (id && !api_isid(c))
			c = '_';
		else if (!id && (c < 0x20 || c > 0x7e))
			c = '?';
		buf[i] = c;
	}
	buf[i] = '\0';
}

/*
 * The body of an error sbxd answers itself, in p's JSON shape, with
 * status mapped to p's names:
 *   Anthropic: {"type":"error","error":{"type":T,"message":M}}
 *   OpenAI, OpenRouter: {"error":{"message":M,"type":T,"param":null,
 *     "code":C}}
 *   Google: {"error":{"code":status,"message":M,"status":S}}
 * code is a token such as "stateful-endpoint" for OpenAI's error.code,
 * or NULL for the provider's usual code (401 "invalid_api_key", 429
 * "rate_limit_exceeded", else null).  message must not hold a header
 * value; it is cut to PROXY_API_MESSAGE_MAX printable ASCII bytes, NULL
 * for a default.  Returns a malloc'd compact JSON string, or NULL.
 */
char *
proxy_api_error_json(enum proxy_api_provider p, int status,
    const char *code, const char *message)
{
	const struct api_status	*st = api_status_find(status);
	char			 msg[PROXY_API_MESSAGE_MAX + 1];
	char			 tok[PROXY_API_CODE_MAX + 1];
	const char		*c = st->st_openai_code;
	json_t			*o;
	char			*s;

	api_clean(message != NULL ? message : API_DEFAULT_MESSAGE, msg,
	    sizeof(msg), 0);
	if (code != NULL && *code != '\0') {
		api_clean(code, tok, sizeof(tok), 1);
		c = tok;
	}
	switch (p) {
	case PROXY_API_ANTHROPIC:
		o = json_pack("{s:s, s:{s:s, s:s}}", "type", "error", "error",
		    "type", st->st_anthropic, "message", msg);
		break;
	case PROXY_API_OPENAI:
	case PROXY_API_OPENROUTER:
		o = json_pack("{s:{s:s, s:s, s:n, s:s?}}", "error", "message",
		    msg, "type", st->st_openai, "param", "code", c);
		break;
	case PROXY_API_GOOGLE:
		o = json_pack("{s:{s:i, s:s, s:s}}", "error", "code", status,
		    "message", msg, "status", st->st_google);
		break;
	default:
		return (NULL);
	}
	if (o == NULL)
		return (NULL);
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return (s);
}

/*
 * Write p's phantom key made of rnd (PROXY_API_PHANTOM_RANDOM bytes from
 * the caller's CSPRNG) into buf (size bytes, PROXY_API_PHANTOM_MAX is
 * enough): "sk-ant-sbx-", "sk-sbx-", "AIza-sbx-" or "sk-or-sbx-", then
 * 64 lower-case hex digits.  The prefixes keep each provider's look, so
 * secret scanners and log redaction that know the real keys catch these
 * too, and "sbx" tells a reader it is no real key.  Returns the length,
 * or -1.
 */
int
proxy_api_phantom(enum proxy_api_provider p, const unsigned char *rnd,
    char *buf, size_t size)
{
	const char	*pre;
	size_t		 i, n;

	if ((unsigned int)p >= PROXY_API_NPROVIDERS || rnd == NULL)
		return (-1);
	pre = api_providers[p].pv_phantom;
	n = strlen(pre);
	if (size < n + 2 * PROXY_API_PHANTOM_RANDOM + 1)
		return (-1);
	memcpy(buf, pre, n);
	for (i = 0; i < PROXY_API_PHANTOM_RANDOM; i++) {
		buf[n++] = api_hex[rnd[i] >> 4];
		buf[n++] = api_hex[rnd[i] & 0x0f];
	}
	buf[n] = '\0';
	return ((int)n);
}
