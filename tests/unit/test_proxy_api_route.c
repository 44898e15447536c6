/*
 * test_proxy_api_route.c: the credential gateway's policy: every
 * allowed route in each spelling clients use and the upstream path it
 * becomes, every refusal class (bad paths, queries, keys in URLs,
 * stateful endpoints, unknown routes, wrong methods), the header
 * allowlist in any case, the phantom key in each credential field, the
 * constant-time comparison, the injected credential, the error bodies
 * parsed back with jansson, and the phantom key shapes.
 */

#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "proxy_api_route.h"
#include "unit.h"

#define S(s)	(s), sizeof(s) - 1	/* a literal and its length */

#define AN	PROXY_API_ANTHROPIC
#define OA	PROXY_API_OPENAI
#define GO	PROXY_API_GOOGLE
#define OR	PROXY_API_OPENROUTER

/* The flag sets the routes should carry. */
#define T_JSON		(PROXY_API_R_BODY | PROXY_API_R_MODEL_BODY)
#define T_GEN		(T_JSON | PROXY_API_R_STREAM | PROXY_API_R_USAGE)
#define T_CHAT		(T_GEN | PROXY_API_R_OPENAI_CHAT)
#define T_GEMINI	(PROXY_API_R_BODY | PROXY_API_R_USAGE)
#define T_GSTREAM	(T_GEMINI | PROXY_API_R_STREAM | \
			    PROXY_API_R_GEMINI_STREAM)

#define ID128 \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

/* One request target and what routing it must give. */
struct route_case {
	const char	*rc_method;
	const char	*rc_target;
	size_t		 rc_len;	/* 0: strlen */
	int		 rc_status;	/* 0: allowed */
	const char	*rc_want;	/* upstream path, or the reason */
	int		 rc_provider;
	int		 rc_endpoint;
	int		 rc_flags;
	const char	*rc_extra;	/* the model, or on 405 Allow */
};

#define OK(m, t, p, e, f, w, mo)	{ m, t, 0, 0, w, p, e, f, mo }
#define NO(m, t, s, r)			{ m, t, 0, s, r, 0, 0, 0, NULL }
#define NOLEN(m, t, s, r)		{ m, S(t), s, r, 0, 0, 0, NULL }
#define NO405(m, t, allow)		{ m, t, 0, 405,			\
					    "method-not-allowed", 0, 0, 0, \
					    allow }

static const struct route_case route_cases[] = {
	/* Anthropic: the official SDK and claude-code (v1), AI SDK (none) */
	OK("POST", "/anthropic/v1/messages", AN, PROXY_API_EP_MESSAGES,
	    T_GEN, "/v1/messages", ""),
	OK("POST", "/anthropic/messages", AN, PROXY_API_EP_MESSAGES,
	    T_GEN, "/v1/messages", ""),
	OK("POST", "/anthropic/v1/messages?beta=true", AN,
	    PROXY_API_EP_MESSAGES, T_GEN, "/v1/messages?beta=true", ""),
	OK("POST", "/anthropic/messages?beta=true", AN,
	    PROXY_API_EP_MESSAGES, T_GEN, "/v1/messages?beta=true", ""),
	OK("POST", "/anthropic/v1/messages?", AN, PROXY_API_EP_MESSAGES,
	    T_GEN, "/v1/messages", ""),
	OK("POST", "/anthropic/v1/messages/count_tokens", AN,
	    PROXY_API_EP_COUNT_TOKENS, T_JSON, "/v1/messages/count_tokens",
	    ""),
	OK("POST", "/anthropic/messages/count_tokens?beta=true", AN,
	    PROXY_API_EP_COUNT_TOKENS, T_JSON,
	    "/v1/messages/count_tokens?beta=true", ""),
	OK("GET", "/anthropic/v1/models", AN, PROXY_API_EP_MODELS, 0,
	    "/v1/models", ""),
	OK("GET", "/anthropic/models", AN, PROXY_API_EP_MODELS, 0,
	    "/v1/models", ""),
	OK("GET", "/anthropic/v1/models?beta=true", AN, PROXY_API_EP_MODELS,
	    0, "/v1/models?beta=true", ""),
	OK("GET", "/anthropic/v1/models?limit=1000&after_id=claude-3-haiku"
	    "-20240307", AN, PROXY_API_EP_MODELS, 0,
	    "/v1/models?limit=1000&after_id=claude-3-haiku-20240307", ""),
	OK("GET", "/anthropic/models?beta=true&before_id=a.b_c-d&limit=20",
	    AN, PROXY_API_EP_MODELS, 0,
	    "/v1/models?beta=true&before_id=a.b_c-d&limit=20", ""),
	OK("GET", "/anthropic/v1/models/claude-sonnet-4-5-20250929", AN,
	    PROXY_API_EP_MODEL, 0, "/v1/models/claude-sonnet-4-5-20250929",
	    "claude-sonnet-4-5-20250929"),
	OK("GET", "/anthropic/models/claude-opus-4-1?beta=true", AN,
	    PROXY_API_EP_MODEL, 0, "/v1/models/claude-opus-4-1?beta=true",
	    "claude-opus-4-1"),
	OK("GET", "/anthropic/v1/models/" ID128, AN, PROXY_API_EP_MODEL, 0,
	    "/v1/models/" ID128, ID128),
	NO("POST", "/anthropic/v1/messages?beta=false", 400, "bad-query"),
	NO("POST", "/anthropic/v1/messages?beta=true&beta=true", 400,
	    "bad-query"),
	NO("POST", "/anthropic/v1/messages?beta", 400, "bad-query"),
	NO("POST", "/anthropic/v1/messages?beta=", 400, "bad-query"),
	NO("POST", "/anthropic/v1/messages?beta=true&", 400, "bad-query"),
	NO("POST", "/anthropic/v1/messages?&beta=true", 400, "bad-query"),
	NO("POST", "/anthropic/v1/messages?stream=true", 400, "bad-query"),
	NO("POST", "/anthropic/v1/messages?limit=1", 400, "bad-query"),
	NO("GET", "/anthropic/v1/models?limit=10000", 400, "bad-query"),
	NO("GET", "/anthropic/v1/models?limit=1a", 400, "bad-query"),
	NO("GET", "/anthropic/v1/models?after_id=a%20b", 400, "bad-query"),
	NO("GET", "/anthropic/v1/models?after_id=..", 400, "bad-query"),
	NO("GET", "/anthropic/v1/models?after_id=a=b", 400, "bad-query"),
	NO("GET", "/anthropic/v1/models/x?limit=1", 400, "bad-query"),
	NO405("GET", "/anthropic/v1/messages", "POST"),
	NO405("post", "/anthropic/v1/messages", "POST"),
	NO405("PUT", "/anthropic/messages/count_tokens", "POST"),
	NO405("POST", "/anthropic/v1/models", "GET"),
	NO405("HEAD", "/anthropic/v1/models", "GET"),
	NO405("DELETE", "/anthropic/v1/models/claude-x", "GET"),
	NO("GET", "/anthropic/v1/messages/batches", 403,
	    "stateful-endpoint"),
	NO("POST", "/anthropic/v1/messages/batches", 403,
	    "stateful-endpoint"),
	NO("POST", "/anthropic/v1/messages/batches/msgbatch_01/cancel", 403,
	    "stateful-endpoint"),
	NO("GET", "/anthropic/v1/files", 403, "stateful-endpoint"),
	NO("GET", "/anthropic/files/file_011/content", 403,
	    "stateful-endpoint"),
	NO("GET", "/anthropic/v1/organizations/users", 403,
	    "stateful-endpoint"),
	NO("POST", "/anthropic/v1/skills", 403, "stateful-endpoint"),
	NO("POST", "/anthropic/v1/complete", 404, "not-found"),
	NO("POST", "/anthropic/v2/messages", 404, "not-found"),
	NO("POST", "/anthropic/v1/v1/messages", 404, "not-found"),
	NO("POST", "/anthropic/api/v1/messages", 404, "not-found"),
	NO("POST", "/anthropic/v1/Messages", 404, "not-found"),
	NO("POST", "/anthropic/v1/messages/count_tokens/x", 404, "not-found"),
	NO("POST", "/anthropic/v1", 404, "not-found"),
	NO("POST", "/anthropic", 404, "not-found"),
	NO("POST", "/anthropicx/v1/messages", 404, "not-found"),
	NO("POST", "/Anthropic/v1/messages", 404, "not-found"),
	NO("POST", "/anthropic:x/v1/messages", 404, "not-found"),
	NO("GET", "/anthropic/v1/models/ft:claude", 404, "not-found"),
	NO("GET", "/anthropic/v1/models/" ID128 "a", 400, "bad-path"),

	/* bad paths, whatever the provider */
	NO("POST", "/anthropic/", 400, "bad-path"),
	NO("POST", "/anthropic/v1/messages/", 400, "bad-path"),
	NO("POST", "/anthropic//v1/messages", 400, "bad-path"),
	NO("POST", "//anthropic/v1/messages", 400, "bad-path"),
	NO("POST", "/anthropic/./v1/messages", 400, "bad-path"),
	NO("POST", "/anthropic/v1/messages/.", 400, "bad-path"),
	NO("POST", "/anthropic/v1/../v1/messages", 400, "bad-path"),
	NO("POST", "/anthropic/v1/messages/..", 400, "bad-path"),
	NO("POST", "/anthropic/v1/.../messages", 400, "bad-path"),
	NO("GET", "/anthropic/v1/models/a..b", 400, "bad-path"),
	NO("POST", "/anthropic/v1/%6dessages", 400, "bad-path"),
	NO("POST", "/anthropic/v1%2fmessages", 400, "bad-path"),
	NO("POST", "/anthropic/v1%2Fmessages", 400, "bad-path"),
	NO("POST", "/anthropic/v1/messages%00", 400, "bad-path"),
	NO("POST", "/anthropic/%2e%2e/anthropic/v1/messages", 400,
	    "bad-path"),
	NO("POST", "/anthropic/%2E/v1/messages", 400, "bad-path"),
	NO("POST", "/anthropic/v1%5cmessages", 400, "bad-path"),
	NO("POST", "/anthropic\\v1\\messages", 400, "bad-path"),
	NO("POST", "/anthropic/v1/messages#frag", 400, "bad-path"),
	NO("POST", "/anthropic/v1/messages?beta=true#x", 400, "bad-path"),
	NO("POST", "http://api.anthropic.com/v1/messages", 400, "bad-path"),
	NO("POST", "https://127.0.0.1:8080/anthropic/v1/messages", 400,
	    "bad-path"),
	NO("CONNECT", "api.anthropic.com:443", 400, "bad-path"),
	NO("OPTIONS", "*", 400, "bad-path"),
	NO("POST", "", 400, "bad-path"),
	NO("POST", "/anthropic/v1/messages\t", 400, "bad-path"),
	NO("POST", "/anthropic/v1/mess ages", 400, "bad-path"),
	NO("POST", "/anthropic/v1/messages\r\n", 400, "bad-path"),
	NO("POST", "/anthropic/v1/messages\x7f", 400, "bad-path"),
	NO("POST", "/anthropic/v1/m\xc3\xa9ssages", 400, "bad-path"),
	NOLEN("POST", "/anthropic/v1/messages\0", 400, "bad-path"),
	NOLEN("POST", "/anthropic/v1/\0messages", 400, "bad-path"),
	NO("GET", "/anthropic/v1/models/a@b", 400, "bad-path"),
	NO("GET", "/anthropic/v1/models/a+b", 400, "bad-path"),
	NO("GET", "/anthropic/v1/models/a;b", 400, "bad-path"),
	NO("GET", "/anthropic/v1/models/a~b", 400, "bad-path"),
	NO("GET", "/anthropic/v1/models/a,b", 400, "bad-path"),
	NO("GET", "/", 404, "not-found"),
	NO("HEAD", "/", 404, "not-found"),
	NO("GET", "/?x=1", 404, "not-found"),
	NO("GET", "/v1/messages", 404, "not-found"),

	/* OpenAI: base with /v1 (OPENAI_BASE_URL) or without */
	OK("POST", "/openai/v1/chat/completions", OA, PROXY_API_EP_CHAT,
	    T_CHAT, "/v1/chat/completions", ""),
	OK("POST", "/openai/chat/completions", OA, PROXY_API_EP_CHAT,
	    T_CHAT, "/v1/chat/completions", ""),
	OK("POST", "/openai/v1/responses", OA, PROXY_API_EP_RESPONSES,
	    T_GEN, "/v1/responses", ""),
	OK("POST", "/openai/responses", OA, PROXY_API_EP_RESPONSES,
	    T_GEN, "/v1/responses", ""),
	OK("POST", "/openai/v1/responses/compact", OA, PROXY_API_EP_COMPACT,
	    T_JSON | PROXY_API_R_USAGE, "/v1/responses/compact", ""),
	OK("POST", "/openai/responses/input_tokens", OA,
	    PROXY_API_EP_COUNT_TOKENS, T_JSON, "/v1/responses/input_tokens",
	    ""),
	OK("POST", "/openai/v1/embeddings", OA, PROXY_API_EP_EMBEDDINGS,
	    T_JSON | PROXY_API_R_USAGE, "/v1/embeddings", ""),
	OK("POST", "/openai/embeddings", OA, PROXY_API_EP_EMBEDDINGS,
	    T_JSON | PROXY_API_R_USAGE, "/v1/embeddings", ""),
	OK("GET", "/openai/v1/models", OA, PROXY_API_EP_MODELS, 0,
	    "/v1/models", ""),
	OK("GET", "/openai/models", OA, PROXY_API_EP_MODELS, 0,
	    "/v1/models", ""),
	OK("GET", "/openai/v1/models/gpt-4o", OA, PROXY_API_EP_MODEL, 0,
	    "/v1/models/gpt-4o", "gpt-4o"),
	OK("GET", "/openai/models/o3-mini-2025-01-31", OA,
	    PROXY_API_EP_MODEL, 0, "/v1/models/o3-mini-2025-01-31",
	    "o3-mini-2025-01-31"),
	NO405("GET", "/openai/v1/chat/completions", "POST"),
	NO405("GET", "/openai/v1/responses", "POST"),
	NO405("GET", "/openai/v1/responses/compact", "POST"),
	NO405("DELETE", "/openai/v1/models/ft-abc", "GET"),
	NO405("POST", "/openai/models", "GET"),
	NO("GET", "/openai/v1/chat/completions/chatcmpl-1", 403,
	    "stateful-endpoint"),
	NO("GET", "/openai/v1/chat/completions/chatcmpl-1/messages", 403,
	    "stateful-endpoint"),
	NO("GET", "/openai/v1/responses/resp_123", 403, "stateful-endpoint"),
	NO("DELETE", "/openai/v1/responses/resp_123", 403,
	    "stateful-endpoint"),
	NO("GET", "/openai/responses/resp_123", 403, "stateful-endpoint"),
	NO("POST", "/openai/v1/responses/resp_123/cancel", 403,
	    "stateful-endpoint"),
	NO("GET", "/openai/v1/responses/resp_123/input_items", 403,
	    "stateful-endpoint"),
	NO("GET", "/openai/v1/files", 403, "stateful-endpoint"),
	NO("POST", "/openai/files", 403, "stateful-endpoint"),
	NO("GET", "/openai/v1/files/file-abc/content", 403,
	    "stateful-endpoint"),
	NO("POST", "/openai/v1/uploads", 403, "stateful-endpoint"),
	NO("POST", "/openai/v1/batches", 403, "stateful-endpoint"),
	NO("POST", "/openai/v1/fine_tuning/jobs", 403, "stateful-endpoint"),
	NO("GET", "/openai/v1/vector_stores", 403, "stateful-endpoint"),
	NO("POST", "/openai/v1/assistants", 403, "stateful-endpoint"),
	NO("POST", "/openai/v1/threads/thread_1/runs", 403,
	    "stateful-endpoint"),
	NO("GET", "/openai/v1/organization/usage/completions", 403,
	    "stateful-endpoint"),
	NO("GET", "/openai/v1/realtime", 403, "stateful-endpoint"),
	NO("POST", "/openai/v1/realtime/sessions", 403, "stateful-endpoint"),
	NO("POST", "/openai/v1/conversations", 403, "stateful-endpoint"),
	NO("POST", "/openai/v1/chat/completions?api-version=1", 400,
	    "bad-query"),
	NO("POST", "/openai/v1/responses?beta=true", 400, "bad-query"),
	NO("GET", "/openai/v1/models?limit=1", 400, "bad-query"),
	NO("POST", "/openai/v1/completions", 404, "not-found"),
	NO("POST", "/openai/v1/images/generations", 404, "not-found"),
	NO("POST", "/openai/v1/audio/transcriptions", 404, "not-found"),
	NO("POST", "/openai/v1/moderations", 404, "not-found"),
	NO("GET", "/openai/v1/models/ft:gpt-4o:org:x", 404, "not-found"),
	NO("POST", "/openai/v2/chat/completions", 404, "not-found"),
	NO("POST", "/openaix/v1/chat/completions", 404, "not-found"),
	NO("POST", "/openai/v1/chat//completions", 400, "bad-path"),
	NO("POST", "/openai/v1/chat/completions?key=abc", 400, "key-in-url"),
	NO("POST", "/openai/v1/chat/completions?api_key=abc", 400,
	    "key-in-url"),

	/* Google: AI SDK (v1beta in the base), google-genai (adds it) */
	OK("POST", "/google/v1beta/models/gemini-2.5-pro:generateContent",
	    GO, PROXY_API_EP_GENERATE, T_GEMINI,
	    "/v1beta/models/gemini-2.5-pro:generateContent",
	    "gemini-2.5-pro"),
	OK("POST", "/google/models/gemini-2.5-pro:generateContent", GO,
	    PROXY_API_EP_GENERATE, T_GEMINI,
	    "/v1beta/models/gemini-2.5-pro:generateContent",
	    "gemini-2.5-pro"),
	OK("POST", "/google/v1beta/models/gemini-2.5-flash:"
	    "streamGenerateContent?alt=sse", GO,
	    PROXY_API_EP_STREAM_GENERATE, T_GSTREAM | PROXY_API_R_SSE,
	    "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
	    "gemini-2.5-flash"),
	OK("POST", "/google/models/gemini-2.5-flash:streamGenerateContent",
	    GO, PROXY_API_EP_STREAM_GENERATE, T_GSTREAM,
	    "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
	    "gemini-2.5-flash"),
	OK("POST", "/google/v1beta/models/gemini-2.0-flash:countTokens", GO,
	    PROXY_API_EP_COUNT_TOKENS, PROXY_API_R_BODY,
	    "/v1beta/models/gemini-2.0-flash:countTokens", "gemini-2.0-flash"),
	OK("POST", "/google/models/g:countTokens", GO,
	    PROXY_API_EP_COUNT_TOKENS, PROXY_API_R_BODY,
	    "/v1beta/models/g:countTokens", "g"),
	OK("GET", "/google/v1beta/models", GO, PROXY_API_EP_MODELS, 0,
	    "/v1beta/models", ""),
	OK("GET", "/google/models", GO, PROXY_API_EP_MODELS, 0,
	    "/v1beta/models", ""),
	OK("GET", "/google/v1beta/models/gemini-2.5-pro", GO,
	    PROXY_API_EP_MODEL, 0, "/v1beta/models/gemini-2.5-pro",
	    "gemini-2.5-pro"),
	NO("POST", "/google/v1beta/models/g:generateContent?key=AIzaX", 400,
	    "key-in-url"),
	NO("POST", "/google/v1beta/models/g:streamGenerateContent?alt=sse&"
	    "key=AIzaX", 400, "key-in-url"),
	NO("POST", "/google/models/g:generateContent?KEY=AIzaX", 400,
	    "key-in-url"),
	NO("POST", "/google/models/g:generateContent?%6Bey=AIzaX", 400,
	    "key-in-url"),
	NO("POST", "/google/models/g:generateContent?k%65y=AIzaX", 400,
	    "key-in-url"),
	NO("POST", "/google/models/g:generateContent?key%3DAIzaX", 400,
	    "key-in-url"),
	NO("POST", "/google/models/g:generateContent?access_token=ya29", 400,
	    "key-in-url"),
	NO("POST", "/google/models/g:generateContent?%aaccess_token=ya29",
	    400, "key-in-url"),
	NO("POST", "/google/models/g:generateContent?Access_Token=ya29", 400,
	    "key-in-url"),
	NO("POST", "/google/models/g;key=x:generateContent", 400,
	    "key-in-url"),
	NO("POST", "/googlefoo?key=x", 400, "key-in-url"),
	NO("POST", "/google/v1beta/models/g:streamGenerateContent?alt=json",
	    400, "bad-query"),
	NO("POST", "/google/v1beta/models/g:streamGenerateContent?alt=sse&"
	    "alt=sse", 400, "bad-query"),
	NO("POST", "/google/v1beta/models/g:streamGenerateContent?ALT=SSE",
	    400, "bad-query"),
	NO("POST", "/google/v1beta/models/g:generateContent?alt=sse", 400,
	    "bad-query"),
	NO("GET", "/google/v1beta/models?pageSize=10", 400, "bad-query"),
	NO("POST", "/google/v1beta/models/g:embedContent", 404, "not-found"),
	NO("POST", "/google/v1beta/models/g:generatecontent", 404,
	    "not-found"),
	NO("POST", "/google/v1beta/models/g:generateContent:x", 404,
	    "not-found"),
	NO("POST", "/google/v1beta/models/g/x:generateContent", 404,
	    "not-found"),
	NO("POST", "/google/v1/models/g:generateContent", 404, "not-found"),
	NO("POST", "/google/v1beta/models/:generateContent", 400, "bad-path"),
	NO("POST", "/google/v1beta/models/" ID128 "a:generateContent", 400,
	    "bad-path"),
	NO("POST", "/google/v1beta/models/gemini%2Fpro:generateContent", 400,
	    "bad-path"),
	NO("POST", "/google/v1beta/models/g:batchGenerateContent", 403,
	    "stateful-endpoint"),
	NO("GET", "/google/v1beta/cachedContents", 403, "stateful-endpoint"),
	NO("POST", "/google/v1beta/files", 403, "stateful-endpoint"),
	NO("POST", "/google/upload/v1beta/files", 403, "stateful-endpoint"),
	NO("GET", "/google/v1beta/tunedModels/t", 403, "stateful-endpoint"),
	NO("POST", "/google/v1beta/tunedModels/t:generateContent", 403,
	    "stateful-endpoint"),
	NO("GET", "/google/v1beta/operations/o", 403, "stateful-endpoint"),
	NO("GET", "/google/corpora", 403, "stateful-endpoint"),
	NO405("GET", "/google/v1beta/models/g:generateContent", "POST"),
	NO405("GET", "/google/models/g:streamGenerateContent", "POST"),
	NO405("POST", "/google/v1beta/models", "GET"),
	NO405("POST", "/google/v1beta/models/g", "GET"),
	NO("POST", "/googlefoo", 404, "not-found"),
	NO("POST", "/googlefoo/v1beta/models/g:generateContent", 404,
	    "not-found"),
	NO("POST", "/gemini/v1beta/models/g:generateContent", 404,
	    "not-found"),

	/* OpenRouter: base with /api/v1, or /v1 */
	OK("POST", "/openrouter/api/v1/chat/completions", OR,
	    PROXY_API_EP_CHAT, T_CHAT, "/api/v1/chat/completions", ""),
	OK("POST", "/openrouter/v1/chat/completions", OR, PROXY_API_EP_CHAT,
	    T_CHAT, "/api/v1/chat/completions", ""),
	OK("GET", "/openrouter/api/v1/models", OR, PROXY_API_EP_MODELS, 0,
	    "/api/v1/models", ""),
	OK("GET", "/openrouter/v1/models", OR, PROXY_API_EP_MODELS, 0,
	    "/api/v1/models", ""),
	NO("POST", "/openrouter/chat/completions", 404, "not-found"),
	NO("POST", "/openrouter/api/chat/completions", 404, "not-found"),
	NO("POST", "/openrouter/api/v1/responses", 404, "not-found"),
	NO("GET", "/openrouter/api/v1/models/openai/gpt-4o", 404,
	    "not-found"),
	NO("GET", "/openrouter/api/v1/keys", 403, "stateful-endpoint"),
	NO("GET", "/openrouter/api/v1/credits", 403, "stateful-endpoint"),
	NO("GET", "/openrouter/api/v1/generation?id=gen-1", 403,
	    "stateful-endpoint"),
	NO("POST", "/openrouter/api/v1/auth/keys", 403, "stateful-endpoint"),
	NO405("GET", "/openrouter/api/v1/chat/completions", "POST"),
	NO405("POST", "/openrouter/v1/models", "GET"),
	NO("GET", "/openrouter/api/v1/models?category=programming", 400,
	    "bad-query"),
	NO("POST", "/openrouter/api/v1/chat/completions?key=sk-or", 400,
	    "key-in-url"),
	NO("POST", "/openrouterx/api/v1/chat/completions", 404, "not-found"),
};

/* One header field name and whether it goes upstream. */
struct hdr_case {
	int		 hc_provider;
	const char	*hc_name;
	int		 hc_forward;
};

static const struct hdr_case hdr_cases[] = {
	{ AN, "Content-Type", 1 }, { AN, "content-type", 1 },
	{ AN, "CONTENT-TYPE", 1 }, { OA, "Accept", 1 }, { GO, "accept", 1 },
	{ OR, "User-Agent", 1 }, { AN, "Idempotency-Key", 1 },
	{ OA, "idempotency-key", 1 },
	{ AN, "anthropic-version", 1 }, { AN, "Anthropic-Version", 1 },
	{ AN, "anthropic-beta", 1 }, { AN, "ANTHROPIC-BETA", 1 },
	{ AN, "X-Claude-Code-Session-Id", 1 },
	{ AN, "x-claude-code-session-id", 1 },
	{ OA, "anthropic-beta", 0 }, { GO, "anthropic-version", 0 },
	{ OA, "X-Claude-Code-Session-Id", 0 },
	{ OA, "OpenAI-Beta", 1 }, { OA, "openai-beta", 1 },
	{ AN, "OpenAI-Beta", 0 }, { OR, "OpenAI-Beta", 0 },
	{ GO, "x-goog-api-client", 1 }, { GO, "X-Goog-Api-Client", 1 },
	{ AN, "x-goog-api-client", 0 },
	{ OR, "HTTP-Referer", 1 }, { OR, "http-referer", 1 },
	{ OR, "X-Title", 1 }, { OR, "x-title", 1 },
	{ OA, "HTTP-Referer", 0 }, { OA, "X-Title", 0 },
	{ AN, "X-Stainless-Lang", 1 }, { OA, "x-stainless-retry-count", 1 },
	{ GO, "X-STAINLESS-OS", 1 }, { OR, "x-stainless-arch", 1 },
	{ AN, "x-stainless-", 0 }, { AN, "x-stainless", 0 },
	{ AN, "x-stainless-a b", 0 }, { AN, "x-stainless-a:b", 0 },
	/* credentials, always dropped */
	{ AN, "Authorization", 0 }, { OA, "authorization", 0 },
	{ AN, "x-api-key", 0 }, { AN, "X-Api-Key", 0 },
	{ GO, "x-goog-api-key", 0 }, { GO, "X-Goog-Api-Key", 0 },
	{ OA, "api-key", 0 }, { AN, "Proxy-Authorization", 0 },
	{ AN, "Proxy-Connection", 0 }, { AN, "Cookie", 0 },
	{ OA, "OpenAI-Organization", 0 }, { OA, "OpenAI-Project", 0 },
	{ GO, "x-goog-user-project", 0 },
	/* proxy, framing and hop-by-hop */
	{ AN, "Forwarded", 0 }, { AN, "X-Forwarded-For", 0 },
	{ OA, "X-Forwarded-Host", 0 }, { AN, "Host", 0 },
	{ AN, "Content-Length", 0 }, { AN, "Transfer-Encoding", 0 },
	{ AN, "Connection", 0 }, { AN, "Keep-Alive", 0 }, { AN, "TE", 0 },
	{ AN, "Trailer", 0 }, { AN, "Upgrade", 0 },
	{ AN, "Accept-Encoding", 0 }, { AN, "Content-Encoding", 0 },
	{ AN, "Expect", 0 }, { AN, "Via", 0 },
	/* unknown */
	{ AN, "X-Custom", 0 }, { OA, "originator", 0 }, { AN, "", 0 },
	{ AN, "Content-Type ", 0 }, { AN, "Content-Typ", 0 },
	{ AN, "Content-Typee", 0 }, { AN, "Accept-Language", 0 },
	{ PROXY_API_NPROVIDERS, "Content-Type", 0 },
};

/* One credential field value and the key in it, if any. */
struct key_case {
	int		 kc_how;
	const char	*kc_value;
	const char	*kc_key;	/* NULL: refused */
};

static const struct key_case key_cases[] = {
	{ PROXY_API_KEY_BEARER, "Bearer sk-abc", "sk-abc" },
	{ PROXY_API_KEY_BEARER, "bearer sk-abc", "sk-abc" },
	{ PROXY_API_KEY_BEARER, "BEARER sk-abc", "sk-abc" },
	{ PROXY_API_KEY_BEARER, "bEaReR k", "k" },
	{ PROXY_API_KEY_BEARER, "Bearer a.b_c-d/e+f=", "a.b_c-d/e+f=" },
	{ PROXY_API_KEY_BEARER, "Bearer  sk-abc", NULL },
	{ PROXY_API_KEY_BEARER, "Bearer sk-abc ", NULL },
	{ PROXY_API_KEY_BEARER, "Bearer sk-abc\t", NULL },
	{ PROXY_API_KEY_BEARER, "Bearer\tsk-abc", NULL },
	{ PROXY_API_KEY_BEARER, "Bearer sk abc", NULL },
	{ PROXY_API_KEY_BEARER, " Bearer sk-abc", NULL },
	{ PROXY_API_KEY_BEARER, "Bearer", NULL },
	{ PROXY_API_KEY_BEARER, "Bearer ", NULL },
	{ PROXY_API_KEY_BEARER, "Bearersk-abc", NULL },
	{ PROXY_API_KEY_BEARER, "Bearer:sk-abc", NULL },
	{ PROXY_API_KEY_BEARER, "Basic dXNlcjpwYXNz", NULL },
	{ PROXY_API_KEY_BEARER, "Token sk-abc", NULL },
	{ PROXY_API_KEY_BEARER, "sk-abc", NULL },
	{ PROXY_API_KEY_BEARER, "", NULL },
	{ PROXY_API_KEY_BEARER, "Bearer sk-\x7f", NULL },
	{ PROXY_API_KEY_BEARER, "Bearer sk-\xc3\xa9", NULL },
	{ PROXY_API_KEY_RAW, "sk-ant-abc", "sk-ant-abc" },
	{ PROXY_API_KEY_RAW, "Bearer", "Bearer" },
	{ PROXY_API_KEY_RAW, "Bearer sk", NULL },
	{ PROXY_API_KEY_RAW, " sk", NULL },
	{ PROXY_API_KEY_RAW, "sk ", NULL },
	{ PROXY_API_KEY_RAW, "sk\r\n", NULL },
	{ PROXY_API_KEY_RAW, "", NULL },
	{ PROXY_API_KEY_NONE, "sk-abc", NULL },
};

/* Route rc; check its outcome. */
static int
route_one(const struct route_case *rc)
{
	struct proxy_api_route	 ar;
	struct proxy_api_error	 ae;
	size_t			 len;
	int			 r, ok = -1;

	len = rc->rc_len != 0 ? rc->rc_len : strlen(rc->rc_target);
	r = proxy_api_route(rc->rc_method, rc->rc_target, len, &ar, &ae);
	if (rc->rc_status != 0) {
		CHECK_INT(r, -1);
		CHECK_INT(ae.ae_status, rc->rc_status);
		CHECK_STR(ae.ae_reason, rc->rc_want);
		CHECK(ae.ae_message != NULL && *ae.ae_message != '\0');
		if (rc->rc_status == 405)
			CHECK_STR(ae.ae_allow, rc->rc_extra);
		else
			CHECK(ae.ae_allow == NULL);
		CHECK_INT(ar.ar_pathlen, 0);
	} else {
		CHECK_INT(r, 0);
		CHECK_STR(ar.ar_path, rc->rc_want);
		CHECK_INT(ar.ar_pathlen, strlen(rc->rc_want));
		CHECK_INT(ar.ar_provider, rc->rc_provider);
		CHECK_INT(ar.ar_endpoint, rc->rc_endpoint);
		CHECK_INT(ar.ar_flags, rc->rc_flags);
		CHECK_STR(ar.ar_method, rc->rc_method);
		CHECK_STR(ar.ar_model, rc->rc_extra);
	}
	ok = 0;
 end:
	if (ok == -1)
		fprintf(stderr, "  ... %s %s\n", rc->rc_method, rc->rc_target);
	return (ok);
}

/* Every route case, and the count the brief asked for. */
static int
test_routes(void)
{
	size_t	 i, n = sizeof(route_cases) / sizeof(route_cases[0]);
	int	 ok = 0;

	for (i = 0; i < n; i++)
		if (route_one(&route_cases[i]) == -1)
			ok = -1;
	CHECK(n >= 80);
	return (ok);
 end:
	return (-1);
}

/* An upstream path, put back behind its provider, routes to itself. */
static int
test_routes_again(void)
{
	const struct route_case	*rc;
	struct proxy_api_route	 ar, ar2;
	struct proxy_api_error	 ae;
	char			 t[PROXY_API_TARGET_MAX + 32];
	size_t			 i;
	int			 n;

	for (i = 0; i < sizeof(route_cases) / sizeof(route_cases[0]); i++) {
		rc = &route_cases[i];
		if (rc->rc_status != 0)
			continue;
		CHECK_INT(proxy_api_route(rc->rc_method, rc->rc_target,
		    strlen(rc->rc_target), &ar, &ae), 0);
		n = snprintf(t, sizeof(t), "/%s%s",
		    proxy_api_provider_name(ar.ar_provider), ar.ar_path);
		CHECK(n > 0 && (size_t)n < sizeof(t));
		CHECK_INT(proxy_api_route(rc->rc_method, t, n, &ar2, &ae), 0);
		CHECK_STR(ar2.ar_path, ar.ar_path);
		CHECK_INT(ar2.ar_endpoint, ar.ar_endpoint);
		CHECK_INT(ar2.ar_flags, ar.ar_flags);
		CHECK_STR(ar2.ar_model, ar.ar_model);
	}
	return (0);
 end:
	return (-1);
}

/* Length limits of the target, ids and segments; method NULL. */
static int
test_route_limits(void)
{
	struct proxy_api_route	 ar;
	struct proxy_api_error	 ae;
	char			 t[PROXY_API_TARGET_MAX + 2];
	size_t			 i, n;
	int			 ok = -1;

	/* 2049 bytes: too long, whatever they are */
	memset(t, 'a', sizeof(t));
	t[0] = '/';
	CHECK_INT(proxy_api_route("GET", t, PROXY_API_TARGET_MAX + 1, &ar,
	    &ae), -1);
	CHECK_INT(ae.ae_status, 400);
	CHECK_STR(ae.ae_message, "request target too long");
	/* 2048 bytes pass the length check and fail later */
	CHECK_INT(proxy_api_route("GET", t, PROXY_API_TARGET_MAX, &ar, &ae),
	    -1);
	CHECK_INT(ae.ae_status, 404);
	/* 32 segments are the most, 33 too many */
	n = 0;
	for (i = 0; i < 32; i++) {
		memcpy(t + n, "/files", 6);
		n += 6;
	}
	CHECK_INT(proxy_api_route("GET", t, n, &ar, &ae), -1);
	CHECK_INT(ae.ae_status, 404);
	memcpy(t, "/openai", 7);
	n = 7;
	for (i = 0; i < 31; i++) {
		memcpy(t + n, "/files", 6);
		n += 6;
	}
	CHECK_INT(proxy_api_route("GET", t, n, &ar, &ae), -1);
	CHECK_INT(ae.ae_status, 403);
	memcpy(t + n, "/files", 6);
	CHECK_INT(proxy_api_route("GET", t, n + 6, &ar, &ae), -1);
	CHECK_INT(ae.ae_status, 400);
	CHECK_STR(ae.ae_message, "too many path segments");
	/* a method is needed */
	CHECK_INT(proxy_api_route(NULL, S("/openai/v1/models"), &ar, &ae),
	    -1);
	CHECK_INT(ae.ae_status, 405);
	CHECK_STR(ae.ae_allow, "GET");
	ok = 0;
 end:
	return (ok);
}

/* Provider and endpoint names, bases, hosts and prefixes. */
static int
test_providers(void)
{
	CHECK_STR(proxy_api_provider_name(AN), "anthropic");
	CHECK_STR(proxy_api_provider_name(OA), "openai");
	CHECK_STR(proxy_api_provider_name(GO), "google");
	CHECK_STR(proxy_api_provider_name(OR), "openrouter");
	CHECK(proxy_api_provider_name(PROXY_API_NPROVIDERS) == NULL);
	CHECK(proxy_api_provider_name((enum proxy_api_provider)-1) == NULL);
	CHECK_INT(proxy_api_provider_find(S("anthropic")), AN);
	CHECK_INT(proxy_api_provider_find(S("openai")), OA);
	CHECK_INT(proxy_api_provider_find(S("google")), GO);
	CHECK_INT(proxy_api_provider_find(S("openrouter")), OR);
	CHECK_INT(proxy_api_provider_find(S("OpenAI")), -1);
	CHECK_INT(proxy_api_provider_find(S("openai ")), -1);
	CHECK_INT(proxy_api_provider_find(S("open")), -1);
	CHECK_INT(proxy_api_provider_find(S("")), -1);
	CHECK_STR(proxy_api_provider_base(AN), "https://api.anthropic.com");
	CHECK_STR(proxy_api_provider_base(OA), "https://api.openai.com");
	CHECK_STR(proxy_api_provider_base(GO),
	    "https://generativelanguage.googleapis.com");
	CHECK_STR(proxy_api_provider_base(OR), "https://openrouter.ai");
	CHECK(proxy_api_provider_base(PROXY_API_NPROVIDERS) == NULL);
	CHECK_STR(proxy_api_provider_host(AN), "api.anthropic.com");
	CHECK_STR(proxy_api_provider_host(GO),
	    "generativelanguage.googleapis.com");
	CHECK_STR(proxy_api_provider_host(OR), "openrouter.ai");
	CHECK_STR(proxy_api_provider_prefix(AN), "/v1");
	CHECK_STR(proxy_api_provider_prefix(OA), "/v1");
	CHECK_STR(proxy_api_provider_prefix(GO), "/v1beta");
	CHECK_STR(proxy_api_provider_prefix(OR), "/api/v1");
	CHECK(proxy_api_provider_prefix(PROXY_API_NPROVIDERS) == NULL);
	CHECK_STR(proxy_api_endpoint_name(PROXY_API_EP_MESSAGES), "messages");
	CHECK_STR(proxy_api_endpoint_name(PROXY_API_EP_CHAT),
	    "chat.completions");
	CHECK_STR(proxy_api_endpoint_name(PROXY_API_EP_STREAM_GENERATE),
	    "streamGenerateContent");
	CHECK(proxy_api_endpoint_name((enum proxy_api_endpoint)99) == NULL);
	return (0);
 end:
	return (-1);
}

/* The header allowlist. */
static int
test_headers(void)
{
	const struct hdr_case	*hc;
	size_t			 i;
	int			 ok = 0;

	for (i = 0; i < sizeof(hdr_cases) / sizeof(hdr_cases[0]); i++) {
		hc = &hdr_cases[i];
		if ((proxy_api_header(hc->hc_provider, hc->hc_name,
		    strlen(hc->hc_name)) == PROXY_API_HDR_FORWARD) !=
		    hc->hc_forward) {
			unit_fail(__FILE__, __LINE__, "%d \"%s\": want %s",
			    hc->hc_provider, hc->hc_name,
			    hc->hc_forward ? "forward" : "drop");
			ok = -1;
		}
	}
	/* a name with a NUL inside is no name */
	CHECK_INT(proxy_api_header(AN, S("Accept\0x")), PROXY_API_HDR_DROP);
	CHECK_INT(proxy_api_header(AN, "Accept", 6), PROXY_API_HDR_FORWARD);
	return (ok);
 end:
	return (-1);
}

/* Which fields carry the phantom key, per provider. */
static int
test_key_headers(void)
{
	CHECK_INT(proxy_api_key_header(AN, S("x-api-key")),
	    PROXY_API_KEY_RAW);
	CHECK_INT(proxy_api_key_header(AN, S("X-API-KEY")),
	    PROXY_API_KEY_RAW);
	CHECK_INT(proxy_api_key_header(AN, S("Authorization")),
	    PROXY_API_KEY_BEARER);
	CHECK_INT(proxy_api_key_header(AN, S("x-goog-api-key")),
	    PROXY_API_KEY_NONE);
	CHECK_INT(proxy_api_key_header(OA, S("authorization")),
	    PROXY_API_KEY_BEARER);
	CHECK_INT(proxy_api_key_header(OA, S("x-api-key")),
	    PROXY_API_KEY_NONE);
	CHECK_INT(proxy_api_key_header(OA, S("api-key")), PROXY_API_KEY_NONE);
	CHECK_INT(proxy_api_key_header(OR, S("AUTHORIZATION")),
	    PROXY_API_KEY_BEARER);
	CHECK_INT(proxy_api_key_header(GO, S("X-Goog-Api-Key")),
	    PROXY_API_KEY_RAW);
	CHECK_INT(proxy_api_key_header(GO, S("Authorization")),
	    PROXY_API_KEY_NONE);
	CHECK_INT(proxy_api_key_header(GO, S("x-goog-api-key ")),
	    PROXY_API_KEY_NONE);
	CHECK_INT(proxy_api_key_header(PROXY_API_NPROVIDERS,
	    S("Authorization")), PROXY_API_KEY_NONE);
	return (0);
 end:
	return (-1);
}

/* The key in a field value. */
static int
test_key_extract(void)
{
	const struct key_case	*kc;
	const char		*key;
	size_t			 i, keylen;
	int			 r, ok = 0;

	for (i = 0; i < sizeof(key_cases) / sizeof(key_cases[0]); i++) {
		kc = &key_cases[i];
		r = proxy_api_key_extract(kc->kc_how, kc->kc_value,
		    strlen(kc->kc_value), &key, &keylen);
		if (kc->kc_key == NULL ? (r != -1 || key != NULL ||
		    keylen != 0) : (r != 0 || keylen != strlen(kc->kc_key) ||
		    memcmp(key, kc->kc_key, keylen) != 0)) {
			unit_fail(__FILE__, __LINE__, "\"%s\": want %s",
			    kc->kc_value, kc->kc_key ? kc->kc_key : "refusal");
			ok = -1;
		}
	}
	/* NUL inside, and the length limit */
	CHECK_INT(proxy_api_key_extract(PROXY_API_KEY_BEARER,
	    S("Bearer a\0b"), &key, &keylen), -1);
	CHECK_INT(proxy_api_key_extract(PROXY_API_KEY_RAW, S("a\0"), &key,
	    &keylen), -1);
	{
		char	 v[7 + PROXY_API_KEY_MAX + 1];

		memcpy(v, "Bearer ", 7);
		memset(v + 7, 'k', sizeof(v) - 7);
		CHECK_INT(proxy_api_key_extract(PROXY_API_KEY_BEARER, v,
		    7 + PROXY_API_KEY_MAX, &key, &keylen), 0);
		CHECK_INT(keylen, PROXY_API_KEY_MAX);
		CHECK_INT(proxy_api_key_extract(PROXY_API_KEY_BEARER, v,
		    sizeof(v), &key, &keylen), -1);
	}
	return (ok);
 end:
	return (-1);
}

/* Real keys that may be injected. */
static int
test_key_valid(void)
{
	char	 k[PROXY_API_KEY_MAX + 1];

	CHECK(proxy_api_key_valid(S("sk-ant-api03-AbC_dEf-123")));
	CHECK(proxy_api_key_valid(S("sk-proj-abc")));
	CHECK(proxy_api_key_valid(S("AIzaSyA-bcdefghijk_lmnop.qrstuv")));
	CHECK(proxy_api_key_valid(S("sk-or-v1-0123456789abcdef")));
	CHECK(!proxy_api_key_valid(S("")));
	CHECK(!proxy_api_key_valid(S("sk abc")));
	CHECK(!proxy_api_key_valid(S("sk\r\nX-Evil: 1")));
	CHECK(!proxy_api_key_valid(S("sk\0abc")));
	CHECK(!proxy_api_key_valid(S("sk/abc")));
	CHECK(!proxy_api_key_valid(S("sk+abc=")));
	CHECK(!proxy_api_key_valid(S("sk\xc3\xa9")));
	memset(k, 'a', sizeof(k));
	CHECK(proxy_api_key_valid(k, PROXY_API_KEY_MAX));
	CHECK(!proxy_api_key_valid(k, PROXY_API_KEY_MAX + 1));
	return (0);
 end:
	return (-1);
}

/* The constant-time comparison. */
static int
test_key_equal(void)
{
	CHECK(proxy_api_key_equal(S("sk-abc"), S("sk-abc")));
	CHECK(!proxy_api_key_equal(S("sk-abc"), S("sk-abd")));
	CHECK(!proxy_api_key_equal(S("sk-abc"), S("Sk-abc")));
	CHECK(!proxy_api_key_equal(S("sk-abc"), S("sk-ab")));
	CHECK(!proxy_api_key_equal(S("sk-ab"), S("sk-abc")));
	CHECK(!proxy_api_key_equal(S(""), S("")));
	CHECK(!proxy_api_key_equal(S("a"), S("")));
	CHECK(proxy_api_key_equal(S("a\0b"), S("a\0b")));
	CHECK(!proxy_api_key_equal(S("a\0b"), S("a\0c")));
	CHECK(!proxy_api_key_equal(S("\x80"), S("\x00")));
	return (0);
 end:
	return (-1);
}

/* Check the fields of one request, each "name: value", against ph. */
static int
keycheck(int p, const char *ph, const char * const *fields)
{
	struct proxy_api_keycheck	 kc;
	const char			*c;

	proxy_api_keycheck_init(&kc);
	for (; *fields != NULL; fields++) {
		c = strchr(*fields, ':');
		proxy_api_keycheck_field(&kc, p, *fields, c - *fields, c + 2,
		    strlen(c + 2), ph, ph != NULL ? strlen(ph) : 0);
	}
	return (proxy_api_keycheck_done(&kc));
}

/* Whether a request presents the sandbox's phantom key. */
static int
test_keycheck(void)
{
	struct proxy_api_keycheck	 kc;
	const char			*ph = "sk-ant-sbx-0123";
	const char			*f1[] = {
		"x-api-key: sk-ant-sbx-0123", NULL };
	const char			*f2[] = {
		"Authorization: Bearer sk-ant-sbx-0123", NULL };
	const char			*f3[] = {
		"X-Api-Key: sk-ant-sbx-0123",
		"authorization: bearer sk-ant-sbx-0123", NULL };
	const char			*f4[] = {
		"x-api-key: sk-ant-sbx-0123",
		"Authorization: Bearer sk-real", NULL };
	const char			*f5[] = { "Content-Type: x", NULL };
	const char			*f6[] = {
		"x-api-key: sk-ant-sbx-012", NULL };
	const char			*f7[] = {
		"x-api-key: sk-ant-sbx-0123 ", NULL };
	const char			*f8[] = {
		"x-goog-api-key: sk-ant-sbx-0123", NULL };
	const char			*f9[] = {
		"Authorization: Basic sk-ant-sbx-0123", NULL };
	const char			*f10[] = {
		"x-api-key: sk-ant-sbx-0123",
		"x-api-key: sk-ant-sbx-0123", NULL };
	const char			*f11[] = { "x-api-key: ", NULL };

	CHECK_INT(keycheck(AN, ph, f1), 0);
	CHECK_INT(keycheck(AN, ph, f2), 0);
	CHECK_INT(keycheck(AN, ph, f3), 0);
	CHECK_INT(keycheck(AN, ph, f4), -1);	/* a second, other key */
	CHECK_INT(keycheck(AN, ph, f5), -1);	/* none */
	CHECK_INT(keycheck(AN, ph, f6), -1);	/* a prefix */
	CHECK_INT(keycheck(AN, ph, f7), -1);
	CHECK_INT(keycheck(AN, ph, f8), -1);	/* Google's field */
	CHECK_INT(keycheck(GO, ph, f8), 0);
	CHECK_INT(keycheck(AN, ph, f9), -1);
	CHECK_INT(keycheck(AN, ph, f10), 0);
	CHECK_INT(keycheck(AN, ph, f11), -1);
	CHECK_INT(keycheck(OA, ph, f1), -1);	/* no x-api-key there */
	CHECK_INT(keycheck(OA, ph, f2), 0);
	CHECK_INT(keycheck(OR, ph, f2), 0);
	CHECK_INT(keycheck(GO, ph, f2), -1);
	CHECK_INT(keycheck(AN, "", f11), -1);	/* no phantom, no match */
	CHECK_INT(keycheck(AN, NULL, f1), -1);
	/* the return says whether the field was a credential */
	proxy_api_keycheck_init(&kc);
	CHECK_INT(proxy_api_keycheck_field(&kc, AN, S("Accept"), S("x"),
	    S("x")), 0);
	CHECK_INT(proxy_api_keycheck_field(&kc, AN, S("x-api-key"), S("y"),
	    S("x")), 1);
	CHECK_INT(kc.kc_seen, 1);
	CHECK_INT(kc.kc_bad, 1);
	return (0);
 end:
	return (-1);
}

/* The credential written upstream. */
static int
test_cred(void)
{
	const struct proxy_api_cred	*c;

	CHECK((c = proxy_api_cred(AN)) != NULL);
	CHECK_STR(c->ac_name, "x-api-key");
	CHECK_STR(c->ac_prefix, "");
	CHECK_STR(c->ac_dflt_name, "anthropic-version");
	CHECK_STR(c->ac_dflt_value, "2023-06-01");
	CHECK((c = proxy_api_cred(OA)) != NULL);
	CHECK_STR(c->ac_name, "Authorization");
	CHECK_STR(c->ac_prefix, "Bearer ");
	CHECK(c->ac_dflt_name == NULL);
	CHECK((c = proxy_api_cred(GO)) != NULL);
	CHECK_STR(c->ac_name, "x-goog-api-key");
	CHECK_STR(c->ac_prefix, "");
	CHECK(c->ac_dflt_name == NULL);
	CHECK((c = proxy_api_cred(OR)) != NULL);
	CHECK_STR(c->ac_name, "Authorization");
	CHECK_STR(c->ac_prefix, "Bearer ");
	CHECK(proxy_api_cred(PROXY_API_NPROVIDERS) == NULL);
	/* the injected field is never one that goes through from clients */
	CHECK_INT(proxy_api_header(AN, S("x-api-key")), PROXY_API_HDR_DROP);
	CHECK_INT(proxy_api_header(OA, S("Authorization")),
	    PROXY_API_HDR_DROP);
	CHECK_INT(proxy_api_header(GO, S("x-goog-api-key")),
	    PROXY_API_HDR_DROP);
	return (0);
 end:
	return (-1);
}

/* One error body: parse it and check its members. */
static int
err_check(int p, int status, const char *code, const char *msg,
    const char *want_type, const char *want_code, const char *want_msg)
{
	json_t		*o = NULL, *e;
	json_error_t	 jerr;
	char		*s = NULL;
	int		 ok = -1;

	CHECK((s = proxy_api_error_json(p, status, code, msg)) != NULL);
	CHECK((o = json_loads(s, JSON_REJECT_DUPLICATES, &jerr)) != NULL);
	CHECK((e = json_object_get(o, "error")) != NULL && json_is_object(e));
	CHECK_STR(json_string_value(json_object_get(e, "message")), want_msg);
	switch (p) {
	case AN:
		CHECK_INT(json_object_size(o), 2);
		CHECK_STR(json_string_value(json_object_get(o, "type")),
		    "error");
		CHECK_INT(json_object_size(e), 2);
		CHECK_STR(json_string_value(json_object_get(e, "type")),
		    want_type);
		break;
	case OA:
	case OR:
		CHECK_INT(json_object_size(o), 1);
		CHECK_INT(json_object_size(e), 4);
		CHECK_STR(json_string_value(json_object_get(e, "type")),
		    want_type);
		CHECK(json_is_null(json_object_get(e, "param")));
		if (want_code == NULL)
			CHECK(json_is_null(json_object_get(e, "code")));
		else
			CHECK_STR(json_string_value(json_object_get(e, "code")),
			    want_code);
		break;
	case GO:
		CHECK_INT(json_object_size(o), 1);
		CHECK_INT(json_object_size(e), 3);
		CHECK(json_is_integer(json_object_get(e, "code")));
		CHECK_INT(json_integer_value(json_object_get(e, "code")),
		    status);
		CHECK_STR(json_string_value(json_object_get(e, "status")),
		    want_type);
		break;
	}
	CHECK_STR(proxy_api_error_type(p, status), want_type);
	ok = 0;
 end:
	if (ok == -1)
		fprintf(stderr, "  ... %d %d: %s\n", p, status, s ? s : "NULL");
	json_decref(o);
	free(s);
	return (ok);
}

/* Error bodies in each provider's shape. */
static int
test_errors(void)
{
	const char	*m = "wrong key";

	/* 401 */
	CHECK_INT(err_check(AN, 401, NULL, m, "authentication_error", NULL,
	    m), 0);
	CHECK_INT(err_check(OA, 401, NULL, m, "invalid_request_error",
	    "invalid_api_key", m), 0);
	CHECK_INT(err_check(OR, 401, NULL, m, "invalid_request_error",
	    "invalid_api_key", m), 0);
	CHECK_INT(err_check(GO, 401, NULL, m, "UNAUTHENTICATED", NULL, m), 0);
	/* 403, with a code token */
	CHECK_INT(err_check(AN, 403, "stateful-endpoint", m,
	    "permission_error", NULL, m), 0);
	CHECK_INT(err_check(OA, 403, "stateful-endpoint", m,
	    "invalid_request_error", "stateful-endpoint", m), 0);
	CHECK_INT(err_check(GO, 403, "stateful-endpoint", m,
	    "PERMISSION_DENIED", NULL, m), 0);
	/* 404, 405, 400 */
	CHECK_INT(err_check(AN, 404, NULL, m, "not_found_error", NULL, m), 0);
	CHECK_INT(err_check(OA, 404, NULL, m, "invalid_request_error", NULL,
	    m), 0);
	CHECK_INT(err_check(GO, 404, NULL, m, "NOT_FOUND", NULL, m), 0);
	CHECK_INT(err_check(AN, 405, NULL, m, "invalid_request_error", NULL,
	    m), 0);
	CHECK_INT(err_check(GO, 405, NULL, m, "UNIMPLEMENTED", NULL, m), 0);
	CHECK_INT(err_check(AN, 400, "key-in-url", m,
	    "invalid_request_error", NULL, m), 0);
	CHECK_INT(err_check(OR, 400, "key-in-url", m,
	    "invalid_request_error", "key-in-url", m), 0);
	CHECK_INT(err_check(GO, 400, NULL, m, "INVALID_ARGUMENT", NULL, m),
	    0);
	/* 402, 413, 429, 5xx */
	CHECK_INT(err_check(AN, 402, NULL, m, "billing_error", NULL, m), 0);
	CHECK_INT(err_check(OA, 402, NULL, m, "insufficient_quota",
	    "insufficient_quota", m), 0);
	CHECK_INT(err_check(AN, 413, NULL, m, "request_too_large", NULL, m),
	    0);
	CHECK_INT(err_check(AN, 429, NULL, m, "rate_limit_error", NULL, m),
	    0);
	CHECK_INT(err_check(OA, 429, NULL, m, "requests",
	    "rate_limit_exceeded", m), 0);
	CHECK_INT(err_check(OA, 429, "budget", m, "requests", "budget", m),
	    0);
	CHECK_INT(err_check(GO, 429, NULL, m, "RESOURCE_EXHAUSTED", NULL, m),
	    0);
	CHECK_INT(err_check(AN, 502, NULL, m, "api_error", NULL, m), 0);
	CHECK_INT(err_check(OA, 502, NULL, m, "server_error", NULL, m), 0);
	CHECK_INT(err_check(GO, 502, NULL, m, "UNAVAILABLE", NULL, m), 0);
	CHECK_INT(err_check(AN, 504, NULL, m, "timeout_error", NULL, m), 0);
	CHECK_INT(err_check(AN, 529, NULL, m, "overloaded_error", NULL, m),
	    0);
	/* statuses not in the table */
	CHECK_INT(err_check(AN, 418, NULL, m, "invalid_request_error", NULL,
	    m), 0);
	CHECK_INT(err_check(GO, 418, NULL, m, "FAILED_PRECONDITION", NULL,
	    m), 0);
	CHECK_INT(err_check(GO, 599, NULL, m, "INTERNAL", NULL, m), 0);
	CHECK_INT(err_check(OA, 200, NULL, m, "server_error", NULL, m), 0);
	/* escaping and cleaning of message and code */
	CHECK_INT(err_check(AN, 400, NULL, "a \"quoted\" \\ path </x>",
	    "invalid_request_error", NULL, "a \"quoted\" \\ path </x>"),
	    0);
	CHECK_INT(err_check(OA, 400, "a b\"c", "l1\nl2\t\x01\xc3\xa9",
	    "invalid_request_error", "a_b_c", "l1?l2????"), 0);
	CHECK_INT(err_check(GO, 400, "", NULL, "INVALID_ARGUMENT", NULL,
	    "request refused by sbxd"), 0);
	CHECK_INT(err_check(OA, 400, "", NULL, "invalid_request_error", NULL,
	    "request refused by sbxd"), 0);
	CHECK(proxy_api_error_json(PROXY_API_NPROVIDERS, 400, NULL, m) ==
	    NULL);
	CHECK(proxy_api_error_type(PROXY_API_NPROVIDERS, 400) == NULL);
	return (0);
 end:
	return (-1);
}

/* Long messages and codes are cut, and stay valid JSON. */
static int
test_errors_long(void)
{
	char		 m[PROXY_API_MESSAGE_MAX * 2];
	char		 c[PROXY_API_CODE_MAX * 2];
	char		*s = NULL;
	json_t		*o = NULL, *e;
	json_error_t	 jerr;
	int		 ok = -1;

	memset(m, '"', sizeof(m) - 1);
	m[sizeof(m) - 1] = '\0';
	memset(c, 'c', sizeof(c) - 1);
	c[sizeof(c) - 1] = '\0';
	CHECK((s = proxy_api_error_json(OA, 400, c, m)) != NULL);
	CHECK((o = json_loads(s, 0, &jerr)) != NULL);
	e = json_object_get(o, "error");
	CHECK_INT(strlen(json_string_value(json_object_get(e, "message"))),
	    PROXY_API_MESSAGE_MAX);
	CHECK_INT(strlen(json_string_value(json_object_get(e, "code"))),
	    PROXY_API_CODE_MAX);
	ok = 0;
 end:
	json_decref(o);
	free(s);
	return (ok);
}

/* Every route refusal makes a body in every provider's shape. */
static int
test_errors_routes(void)
{
	const struct route_case	*rc;
	struct proxy_api_route	 ar;
	struct proxy_api_error	 ae;
	json_t			*o;
	json_error_t		 jerr;
	char			*s;
	size_t			 i, len;
	int			 p;

	for (i = 0; i < sizeof(route_cases) / sizeof(route_cases[0]); i++) {
		rc = &route_cases[i];
		if (rc->rc_status == 0)
			continue;
		len = rc->rc_len != 0 ? rc->rc_len : strlen(rc->rc_target);
		CHECK_INT(proxy_api_route(rc->rc_method, rc->rc_target, len,
		    &ar, &ae), -1);
		for (p = 0; p < PROXY_API_NPROVIDERS; p++) {
			CHECK((s = proxy_api_error_json(p, ae.ae_status,
			    ae.ae_reason, ae.ae_message)) != NULL);
			o = json_loads(s, 0, &jerr);
			free(s);
			CHECK(o != NULL);
			json_decref(o);
		}
	}
	return (0);
 end:
	return (-1);
}

/* Phantom keys: shape, validity, and a round trip through keycheck. */
static int
test_phantom(void)
{
	unsigned char			 rnd[PROXY_API_PHANTOM_RANDOM];
	char				 k[PROXY_API_PHANTOM_MAX], v[128];
	const char			*pre[] = { "sk-ant-sbx-", "sk-sbx-",
					    "AIza-sbx-", "sk-or-sbx-" };
	struct proxy_api_keycheck	 kc;
	const struct proxy_api_cred	*c;
	size_t				 i;
	int				 p, n;

	for (i = 0; i < sizeof(rnd); i++)
		rnd[i] = (unsigned char)(i * 37 + 0xa5);
	for (p = 0; p < PROXY_API_NPROVIDERS; p++) {
		n = proxy_api_phantom(p, rnd, k, sizeof(k));
		CHECK_INT(n, strlen(pre[p]) + 64);
		CHECK_INT(strlen(k), n);
		CHECK(strncmp(k, pre[p], strlen(pre[p])) == 0);
		CHECK(proxy_api_key_valid(k, n));
		/* the client presents it in the field sbxd injects */
		c = proxy_api_cred(p);
		snprintf(v, sizeof(v), "%s%s", c->ac_prefix, k);
		proxy_api_keycheck_init(&kc);
		CHECK_INT(proxy_api_keycheck_field(&kc, p, c->ac_name,
		    strlen(c->ac_name), v, strlen(v), k, n), 1);
		CHECK_INT(proxy_api_keycheck_done(&kc), 0);
		/* too small a buffer */
		CHECK_INT(proxy_api_phantom(p, rnd, k, n), -1);
	}
	CHECK_INT(proxy_api_phantom(AN, rnd, k, sizeof(k)), 75);
	CHECK_STR(k, "sk-ant-sbx-a5caef14395e83a8cdf2173c6186abd0"
	    "f51a3f6489aed3f81d42678cb1d6fb20");
	CHECK_INT(proxy_api_phantom(PROXY_API_NPROVIDERS, rnd, k, sizeof(k)),
	    -1);
	CHECK_INT(proxy_api_phantom(AN, NULL, k, sizeof(k)), -1);
	return (0);
 end:
	return (-1);
}

static const struct unit_test tests[] = {
	{ "routes", test_routes },
	{ "routes_again", test_routes_again },
	{ "route_limits", test_route_limits },
	{ "providers", test_providers },
	{ "headers", test_headers },
	{ "key_headers", test_key_headers },
	{ "key_extract", test_key_extract },
	{ "key_valid", test_key_valid },
	{ "key_equal", test_key_equal },
	{ "keycheck", test_keycheck },
	{ "cred", test_cred },
	{ "errors", test_errors },
	{ "errors_long", test_errors_long },
	{ "errors_routes", test_errors_routes },
	{ "phantom", test_phantom },
};

UNIT_MAIN("proxy_api_route", tests)
