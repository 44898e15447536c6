/*
 * fuzz_proxy_api_route.c: libFuzzer harness for proxy_api_route.c.  The
 * first byte picks the provider (or none) and a known route prefix put
 * before the target, so that mutations reach the routes' tails; the
 * next two bytes are an error status; the rest is split at '\n' into a
 * method, a request target, a header name and a header value, each
 * copied to a buffer of its own size so that ASan sees any read past
 * it.  Beyond memory errors it checks that
 * an allowed route's upstream path stays under the provider's prefix
 * and holds no "..", "//", percent-encoding, key or fragment, that it
 * routes to itself again, that no credential or framing field is ever
 * forwarded, that a key is only ever found where the value holds it,
 * and that every error body is JSON of the provider's shape.
 */

#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "proxy_api_route.h"

#define FUZZ_CHECK(c) do {						\
	if (!(c)) {							\
		fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #c);	\
		abort();						\
	}								\
} while (0)

#define FUZZ_FIELDS	4	/* method, target, name, value */

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char	*fuzz_copy(const uint8_t *, size_t);
static int	 fuzz_ifind(const char *, size_t, const char *);
static int	 fuzz_ieq(const char *, size_t, const char *);
static void	 fuzz_route(const char *, const char *, size_t);
static void	 fuzz_route_ok(const char *, size_t,
		    const struct proxy_api_route *);
static void	 fuzz_route_again(const struct proxy_api_route *);
static void	 fuzz_header(int, const char *, size_t);
static void	 fuzz_key(int, const char *, size_t, const char *, size_t);
static void	 fuzz_error(int, int, const char *, const char *);
static void	 fuzz_phantom(int, const uint8_t *, size_t);

/* Prefixes for the target, picked by the first byte. */
static const char *fuzz_prefixes[] = {
	"", "/anthropic/v1/", "/anthropic/", "/openai/v1/", "/openai/",
	"/google/v1beta/models/", "/google/models/", "/openrouter/api/v1/",
	"/openrouter/v1/", "/anthropic/v1/messages", "/anthropic/v1/models",
	"/openai/v1/responses", "/openai/v1/chat/completions",
	"/google/v1beta/models/gemini-2.5-pro:streamGenerateContent",
	"/openrouter/api/v1/chat/completions",
};

/* Fields that must never go upstream as the client sent them. */
static const char *fuzz_never[] = {
	"authorization", "x-api-key", "x-goog-api-key", "api-key", "cookie",
	"host", "content-length", "transfer-encoding", "connection",
	"keep-alive", "te", "trailer", "upgrade", "accept-encoding",
	"content-encoding", "expect", "forwarded", "openai-organization",
	"openai-project", "x-goog-user-project", "via", NULL
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t	*f[FUZZ_FIELDS], *p, *end, *nl;
	const char	*pre;
	size_t		 n[FUZZ_FIELDS], i, pl;
	char		*c[FUZZ_FIELDS], *t;
	int		 prov, status;

	if (size < 3)
		return (0);
	prov = data[0] % (PROXY_API_NPROVIDERS + 1);
	pre = fuzz_prefixes[data[0] / (PROXY_API_NPROVIDERS + 1) %
	    (sizeof(fuzz_prefixes) / sizeof(fuzz_prefixes[0]))];
	status = (int16_t)(data[1] | data[2] << 8);
	p = data + 3;
	end = data + size;
	for (i = 0; i < FUZZ_FIELDS; i++) {
		nl = i + 1 < FUZZ_FIELDS ? memchr(p, '\n', end - p) : NULL;
		f[i] = p;
		n[i] = (nl != NULL ? nl : end) - p;
		p = nl != NULL ? nl + 1 : end;
	}
	for (i = 0; i < FUZZ_FIELDS; i++)
		FUZZ_CHECK((c[i] = fuzz_copy(f[i], n[i])) != NULL);
	pl = strlen(pre);
	FUZZ_CHECK((t = malloc(pl + n[1] + 1)) != NULL);
	memcpy(t, pre, pl);
	memcpy(t + pl, c[1], n[1] + 1);
	fuzz_route(c[0], t, pl + n[1]);
	free(t);
	fuzz_header(prov, c[2], n[2]);
	fuzz_key(prov, c[2], n[2], c[3], n[3]);
	fuzz_error(prov, status, c[2], c[3]);
	fuzz_phantom(prov, data, size);
	for (i = 0; i < FUZZ_FIELDS; i++)
		free(c[i]);
	return (0);
}

/* A NUL-terminated copy of n bytes, in a buffer of exactly n + 1. */
static char *
fuzz_copy(const uint8_t *p, size_t n)
{
	char	*s;

	if ((s = malloc(n + 1)) == NULL)
		return (NULL);
	memcpy(s, p, n);
	s[n] = '\0';
	return (s);
}

/* Whether the lower-case lit occurs in s (n bytes), in any case. */
static int
fuzz_ifind(const char *s, size_t n, const char *lit)
{
	size_t	 i, l = strlen(lit);

	for (i = 0; i + l <= n; i++)
		if (fuzz_ieq(s + i, l, lit))
			return (1);
	return (0);
}

/* s (n bytes) is the lower-case lit in any case. */
static int
fuzz_ieq(const char *s, size_t n, const char *lit)
{
	size_t	 i;
	char	 c;

	if (n != strlen(lit))
		return (0);
	for (i = 0; i < n; i++) {
		c = s[i];
		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		if (c != lit[i])
			return (0);
	}
	return (1);
}

/* Route method and target twice: the same answer, and a sound one. */
static void
fuzz_route(const char *method, const char *target, size_t len)
{
	struct proxy_api_route	 ar, ar2;
	struct proxy_api_error	 ae, ae2;
	int			 r, r2, p;
	char			*s;
	json_t			*o;
	json_error_t		 jerr;

	r = proxy_api_route(method, target, len, &ar, &ae);
	r2 = proxy_api_route(method, target, len, &ar2, &ae2);
	FUZZ_CHECK(r == r2);
	if (r == 0) {
		FUZZ_CHECK(strcmp(ar.ar_path, ar2.ar_path) == 0);
		fuzz_route_ok(target, len, &ar);
		return;
	}
	FUZZ_CHECK(r == -1);
	FUZZ_CHECK(ae.ae_status == ae2.ae_status &&
	    strcmp(ae.ae_reason, ae2.ae_reason) == 0);
	FUZZ_CHECK(ae.ae_status == 400 || ae.ae_status == 403 ||
	    ae.ae_status == 404 || ae.ae_status == 405);
	FUZZ_CHECK(ae.ae_reason != NULL && ae.ae_message != NULL);
	FUZZ_CHECK((ae.ae_allow != NULL) == (ae.ae_status == 405));
	FUZZ_CHECK(ar.ar_pathlen == 0 && ar.ar_path[0] == '\0');
	/* a key in the target is always named as such */
	if (len <= PROXY_API_TARGET_MAX && len > 0 && target[0] == '/' &&
	    fuzz_ifind(target, len, "key=") && strcmp(ae.ae_reason,
	    "key-in-url") != 0)
		FUZZ_CHECK(strcmp(ae.ae_reason, "bad-path") == 0);
	for (p = 0; p < PROXY_API_NPROVIDERS; p++) {
		FUZZ_CHECK((s = proxy_api_error_json(p, ae.ae_status,
		    ae.ae_reason, ae.ae_message)) != NULL);
		FUZZ_CHECK((o = json_loads(s, 0, &jerr)) != NULL);
		json_decref(o);
		free(s);
	}
}

/* An allowed route's upstream path. */
static void
fuzz_route_ok(const char *target, size_t len,
    const struct proxy_api_route *ar)
{
	const char	*prefix, *q;
	size_t		 i, pl, ml;
	char		 c;

	FUZZ_CHECK(ar->ar_pathlen == strlen(ar->ar_path));
	FUZZ_CHECK(ar->ar_pathlen <= len);
	FUZZ_CHECK(target[0] == '/');
	FUZZ_CHECK((prefix = proxy_api_provider_prefix(ar->ar_provider)) !=
	    NULL);
	pl = strlen(prefix);
	FUZZ_CHECK(strncmp(ar->ar_path, prefix, pl) == 0 &&
	    ar->ar_path[pl] == '/' && ar->ar_path[pl + 1] != '/');
	FUZZ_CHECK(strstr(ar->ar_path, "..") == NULL);
	FUZZ_CHECK(strstr(ar->ar_path, "//") == NULL);
	FUZZ_CHECK(strstr(ar->ar_path, "/./") == NULL);
	FUZZ_CHECK(strchr(ar->ar_path, '%') == NULL);
	FUZZ_CHECK(strchr(ar->ar_path, '#') == NULL);
	FUZZ_CHECK(strchr(ar->ar_path, '\\') == NULL);
	FUZZ_CHECK(!fuzz_ifind(ar->ar_path, ar->ar_pathlen, "key="));
	FUZZ_CHECK(!fuzz_ifind(ar->ar_path, ar->ar_pathlen, "token="));
	for (i = 0; i < ar->ar_pathlen; i++) {
		c = ar->ar_path[i];
		FUZZ_CHECK((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("._-:/?&=", c) != NULL);
	}
	if ((q = strchr(ar->ar_path, '?')) != NULL) {
		FUZZ_CHECK(strchr(q + 1, '?') == NULL);
		FUZZ_CHECK(strchr(q, ':') == NULL && strchr(q, '/') == NULL);
		FUZZ_CHECK(q[1] != '\0');
	}
	FUZZ_CHECK(!(ar->ar_flags & PROXY_API_R_SSE) ||
	    (q != NULL && strcmp(q, "?alt=sse") == 0));
	FUZZ_CHECK(strcmp(ar->ar_method, "GET") == 0 ||
	    strcmp(ar->ar_method, "POST") == 0);
	FUZZ_CHECK(!(ar->ar_flags & PROXY_API_R_BODY) ==
	    (strcmp(ar->ar_method, "GET") == 0));
	FUZZ_CHECK(proxy_api_endpoint_name(ar->ar_endpoint) != NULL);
	ml = strlen(ar->ar_model);
	FUZZ_CHECK(ml <= PROXY_API_ID_MAX);
	if (ml > 0)
		FUZZ_CHECK(strstr(ar->ar_path, ar->ar_model) != NULL &&
		    strspn(ar->ar_model, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == ml);
	fuzz_route_again(ar);
}

/* The upstream path behind its provider's name routes to itself. */
static void
fuzz_route_again(const struct proxy_api_route *ar)
{
	struct proxy_api_route	 ar2;
	struct proxy_api_error	 ae;
	char			 t[PROXY_API_TARGET_MAX + 32];
	int			 n;

	n = snprintf(t, sizeof(t), "/%s%s",
	    proxy_api_provider_name(ar->ar_provider), ar->ar_path);
	FUZZ_CHECK(n > 0 && (size_t)n < sizeof(t));
	if (n > PROXY_API_TARGET_MAX)
		return;
	FUZZ_CHECK(proxy_api_route(ar->ar_method, t, n, &ar2, &ae) == 0);
	FUZZ_CHECK(strcmp(ar2.ar_path, ar->ar_path) == 0);
	FUZZ_CHECK(ar2.ar_provider == ar->ar_provider &&
	    ar2.ar_endpoint == ar->ar_endpoint &&
	    ar2.ar_flags == ar->ar_flags &&
	    strcmp(ar2.ar_model, ar->ar_model) == 0);
}

/* A forwarded field is a token, on the allowlist's side of the line. */
static void
fuzz_header(int p, const char *name, size_t n)
{
	const char	**nv;
	size_t		  i;

	if (proxy_api_header(p, name, n) != PROXY_API_HDR_FORWARD)
		return;
	FUZZ_CHECK(p < PROXY_API_NPROVIDERS && n > 0);
	for (nv = fuzz_never; *nv != NULL; nv++)
		FUZZ_CHECK(!fuzz_ieq(name, n, *nv));
	FUZZ_CHECK(n < 6 || !fuzz_ieq(name, 6, "proxy-"));
	FUZZ_CHECK(n < 12 || !fuzz_ieq(name, 12, "x-forwarded-"));
	FUZZ_CHECK(proxy_api_key_header(p, name, n) == PROXY_API_KEY_NONE);
	for (i = 0; i < n; i++)
		FUZZ_CHECK(name[i] > 0x20 && name[i] < 0x7f &&
		    name[i] != ':');
}

/* A key is found only where the value holds it; checks agree. */
static void
fuzz_key(int p, const char *name, size_t nl, const char *value, size_t vl)
{
	struct proxy_api_keycheck	 kc;
	enum proxy_api_keyhdr		 how;
	const char			*key;
	size_t				 kl, i;
	int				 r, how2;

	for (how2 = PROXY_API_KEY_NONE; how2 <= PROXY_API_KEY_BEARER;
	    how2++) {
		r = proxy_api_key_extract(how2, value, vl, &key, &kl);
		if (r == -1) {
			FUZZ_CHECK(key == NULL && kl == 0);
			continue;
		}
		FUZZ_CHECK(how2 != PROXY_API_KEY_NONE);
		FUZZ_CHECK(kl > 0 && kl <= PROXY_API_KEY_MAX);
		FUZZ_CHECK(key >= value && key + kl == value + vl);
		if (how2 == PROXY_API_KEY_RAW)
			FUZZ_CHECK(key == value);
		else
			FUZZ_CHECK(kl + 7 == vl &&
			    fuzz_ieq(value, 7, "bearer "));
		for (i = 0; i < kl; i++)
			FUZZ_CHECK((unsigned char)key[i] > 0x20 &&
			    (unsigned char)key[i] < 0x7f);
		if (proxy_api_key_valid(key, kl))
			FUZZ_CHECK(strcspn(key, " \t\r\n") >= kl);
	}
	FUZZ_CHECK(proxy_api_key_equal(value, vl, value, vl) == (vl > 0));
	FUZZ_CHECK(proxy_api_key_equal(name, nl, value, vl) ==
	    (nl == vl && nl > 0 && memcmp(name, value, vl) == 0));
	/* the field presents value's key: it matches itself, not name */
	how = proxy_api_key_header(p, name, nl);
	proxy_api_keycheck_init(&kc);
	FUZZ_CHECK(proxy_api_keycheck_field(&kc, p, name, nl, value, vl,
	    value, vl) == (how != PROXY_API_KEY_NONE));
	if (how == PROXY_API_KEY_RAW)
		FUZZ_CHECK((proxy_api_keycheck_done(&kc) == 0) ==
		    (proxy_api_key_extract(how, value, vl, &key, &kl) == 0));
	if (how == PROXY_API_KEY_NONE)
		FUZZ_CHECK(proxy_api_keycheck_done(&kc) == -1);
}

/* Any status, code and message give JSON of p's shape. */
static void
fuzz_error(int p, int status, const char *code, const char *message)
{
	json_t		*o, *e, *m;
	json_error_t	 jerr;
	char		*s;
	const char	*ms;
	size_t		 i;

	s = proxy_api_error_json(p, status, code, message);
	if (p >= PROXY_API_NPROVIDERS) {
		FUZZ_CHECK(s == NULL);
		return;
	}
	FUZZ_CHECK(s != NULL);
	FUZZ_CHECK((o = json_loads(s, JSON_REJECT_DUPLICATES, &jerr)) !=
	    NULL);
	FUZZ_CHECK((e = json_object_get(o, "error")) != NULL);
	FUZZ_CHECK((m = json_object_get(e, "message")) != NULL &&
	    (ms = json_string_value(m)) != NULL);
	FUZZ_CHECK(strlen(ms) <= PROXY_API_MESSAGE_MAX);
	for (i = 0; ms[i] != '\0'; i++)
		FUZZ_CHECK(ms[i] >= 0x20 && ms[i] <= 0x7e);
	switch (p) {
	case PROXY_API_ANTHROPIC:
		FUZZ_CHECK(json_object_size(o) == 2 &&
		    json_object_size(e) == 2);
		FUZZ_CHECK(json_is_string(json_object_get(e, "type")));
		break;
	case PROXY_API_GOOGLE:
		FUZZ_CHECK(json_object_size(e) == 3);
		FUZZ_CHECK(json_integer_value(json_object_get(e, "code")) ==
		    status);
		FUZZ_CHECK(json_is_string(json_object_get(e, "status")));
		break;
	default:
		FUZZ_CHECK(json_object_size(e) == 4);
		FUZZ_CHECK(json_is_null(json_object_get(e, "param")));
		break;
	}
	FUZZ_CHECK(proxy_api_error_type(p, status) != NULL);
	json_decref(o);
	free(s);
}

/* A phantom key from the input's bytes is a valid key of its shape. */
static void
fuzz_phantom(int p, const uint8_t *data, size_t size)
{
	unsigned char	 rnd[PROXY_API_PHANTOM_RANDOM];
	char		 k[PROXY_API_PHANTOM_MAX];
	size_t		 i;
	int		 n;

	for (i = 0; i < sizeof(rnd); i++)
		rnd[i] = i < size ? data[i] : 0;
	n = proxy_api_phantom(p, rnd, k, sizeof(k));
	if (p >= PROXY_API_NPROVIDERS) {
		FUZZ_CHECK(n == -1);
		return;
	}
	FUZZ_CHECK(n > 64 && (size_t)n == strlen(k) &&
	    n < PROXY_API_PHANTOM_MAX);
	FUZZ_CHECK(proxy_api_key_valid(k, n));
	FUZZ_CHECK(proxy_api_key_equal(k, n, k, n));
}
