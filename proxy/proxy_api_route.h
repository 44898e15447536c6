/*
 * proxy_api_route.h: the credential gateway's pure policy, in
 * proxy_api_route.c: which provider and upstream path a request target
 * maps to, which request headers go upstream, how the phantom key is
 * presented and checked, which credential header is injected, the error
 * bodies in each provider's JSON shape, and the shape of phantom keys.
 * No I/O and no state; needs only libc and jansson.
 */

#ifndef SBXD_PROXY_API_ROUTE_H
#define SBXD_PROXY_API_ROUTE_H

#include <stddef.h>

#define PROXY_API_TARGET_MAX	2048	/* request-target bytes; longer
					   is 400: real API paths are
					   under 200, and the upstream
					   path is never longer than the
					   target */
#define PROXY_API_ID_MAX	128	/* a model or object id in a path;
					   real ids are under 64 */
#define PROXY_API_KEY_MAX	1024	/* a presented or real key; the
					   Codex proxy reads keys into
					   1024 bytes too */
#define PROXY_API_PHANTOM_RANDOM 32	/* random bytes in a phantom key:
					   256 bits, shown as 64 hex */
#define PROXY_API_PHANTOM_MAX	80	/* phantom key, NUL included: the
					   longest prefix, 64 hex, NUL */
#define PROXY_API_MESSAGE_MAX	512	/* error message bytes kept */
#define PROXY_API_CODE_MAX	64	/* error code token bytes kept */
#define PROXY_API_ANTHROPIC_VERSION "2023-06-01" /* the current
					   version, what the SDKs send */

/* The upstream APIs; the first path segment names one. */
enum proxy_api_provider {
	PROXY_API_ANTHROPIC,
	PROXY_API_OPENAI,
	PROXY_API_GOOGLE,
	PROXY_API_OPENROUTER,
	PROXY_API_NPROVIDERS
};

/* What an allowed route does, for logs, accounting and body policy. */
enum proxy_api_endpoint {
	PROXY_API_EP_MESSAGES,		/* Anthropic messages */
	PROXY_API_EP_COUNT_TOKENS,	/* messages/count_tokens,
					   :countTokens,
					   responses/input_tokens */
	PROXY_API_EP_MODELS,		/* GET models */
	PROXY_API_EP_MODEL,		/* GET models/{id} */
	PROXY_API_EP_CHAT,		/* chat/completions */
	PROXY_API_EP_RESPONSES,		/* OpenAI responses */
	PROXY_API_EP_COMPACT,		/* OpenAI responses/compact */
	PROXY_API_EP_EMBEDDINGS,	/* OpenAI embeddings */
	PROXY_API_EP_GENERATE,		/* Gemini :generateContent */
	PROXY_API_EP_STREAM_GENERATE	/* Gemini :streamGenerateContent */
};

/* Route flags, ar_flags. */
#define PROXY_API_R_BODY	0x0001	/* POST with a JSON body */
#define PROXY_API_R_MODEL_BODY	0x0002	/* the body's "model" names
					   the model (else ar_model, if
					   any) */
#define PROXY_API_R_STREAM	0x0004	/* the response may be SSE: the
					   body's "stream": true, or
					   always for Gemini streams */
#define PROXY_API_R_OPENAI_CHAT	0x0008	/* OpenAI-shaped chat
					   completions: add
					   stream_options.include_usage
					   to a streamed request */
#define PROXY_API_R_GEMINI_STREAM 0x0010 /* streamGenerateContent */
#define PROXY_API_R_SSE		0x0020	/* alt=sse: the Gemini stream
					   is SSE; without it, one JSON
					   array */
#define PROXY_API_R_USAGE	0x0040	/* the response reports token
					   usage to account */

/* An allowed request: where it goes upstream and what it is. */
struct proxy_api_route {
	enum proxy_api_provider	 ar_provider;
	enum proxy_api_endpoint	 ar_endpoint;
	int			 ar_flags;	/* PROXY_API_R_* */
	const char		*ar_method;	/* "GET" or "POST",
						   static */
	char			 ar_path[PROXY_API_TARGET_MAX + 1];
						/* upstream path and query,
						   canonical, NUL terminated */
	size_t			 ar_pathlen;
	char			 ar_model[PROXY_API_ID_MAX + 1];
						/* model or id named in the
						   path, or "" */
};

/* A refused request; every string is static and holds no request byte. */
struct proxy_api_error {
	int			 ae_status;	/* 400, 403, 404 or 405 */
	const char		*ae_reason;	/* token for logs and the
						   x-sbxd-error header */
	const char		*ae_message;	/* for the error body */
	const char		*ae_allow;	/* 405: the Allow value,
						   else NULL */
};

/* The decision on one request header, proxy_api_header. */
enum proxy_api_hdr {
	PROXY_API_HDR_DROP,
	PROXY_API_HDR_FORWARD
};

/* How a client presents the phantom key in a header. */
enum proxy_api_keyhdr {
	PROXY_API_KEY_NONE,	/* not a credential header */
	PROXY_API_KEY_RAW,	/* the whole value: x-api-key,
				   x-goog-api-key */
	PROXY_API_KEY_BEARER	/* Authorization: Bearer KEY */
};

/* The credential sbxd injects upstream, proxy_api_cred. */
struct proxy_api_cred {
	const char		*ac_name;	/* header name */
	const char		*ac_prefix;	/* before the key:
						   "Bearer " or "" */
	const char		*ac_dflt_name;	/* header added when the
						   client sent none, or
						   NULL */
	const char		*ac_dflt_value;
};

/* Credential fields of one request seen so far, proxy_api_keycheck_*. */
struct proxy_api_keycheck {
	int			 kc_seen;	/* credential fields */
	int			 kc_bad;	/* of those, not the
						   phantom */
};

/* proxy/proxy_api_route.c */
const char	*proxy_api_provider_name(enum proxy_api_provider);
int		 proxy_api_provider_find(const char *, size_t);
const char	*proxy_api_provider_base(enum proxy_api_provider);
const char	*proxy_api_provider_host(enum proxy_api_provider);
const char	*proxy_api_provider_prefix(enum proxy_api_provider);
const char	*proxy_api_endpoint_name(enum proxy_api_endpoint);
int		 proxy_api_route(const char *, const char *, size_t,
		    struct proxy_api_route *, struct proxy_api_error *);
enum proxy_api_hdr proxy_api_header(enum proxy_api_provider, const char *,
		    size_t);
enum proxy_api_keyhdr proxy_api_key_header(enum proxy_api_provider,
		    const char *, size_t);
int		 proxy_api_key_extract(enum proxy_api_keyhdr, const char *,
		    size_t, const char **, size_t *);
int		 proxy_api_key_valid(const char *, size_t);
int		 proxy_api_key_equal(const char *, size_t, const char *,
		    size_t);
void		 proxy_api_keycheck_init(struct proxy_api_keycheck *);
int		 proxy_api_keycheck_field(struct proxy_api_keycheck *,
		    enum proxy_api_provider, const char *, size_t,
		    const char *, size_t, const char *, size_t);
int		 proxy_api_keycheck_done(const struct proxy_api_keycheck *);
const struct proxy_api_cred *proxy_api_cred(enum proxy_api_provider);
const char	*proxy_api_error_type(enum proxy_api_provider, int);
char		*proxy_api_error_json(enum proxy_api_provider, int,
		    const char *, const char *);
int		 proxy_api_phantom(enum proxy_api_provider,
		    const unsigned char *, char *, size_t);

#endif /* SBXD_PROXY_API_ROUTE_H */
