/*
 * proxy_api_usage.h: the credential gateway's side parser of
 * proxy_api_usage.c: an incremental SSE framer, the token usage of a
 * model API response read as the response streams past (Anthropic
 * Messages, OpenAI Chat Completions and Responses, Gemini, OpenRouter),
 * what a request body asks for (model, output cap, stream), the
 * include_usage rewrite of a Chat Completions request, and the filter
 * that takes the usage chunk that rewrite causes back out of the
 * stream.  No I/O; needs only libc and jansson.  Shared only inside
 * proxy/.
 */

#ifndef SBXD_PROXY_API_USAGE_H
#define SBXD_PROXY_API_USAGE_H

#include <stddef.h>
#include <stdint.h>

#define PROXY_SSE_LINE_MAX	(16 << 20) /* bytes of one SSE line; past
					   it the stream is oversized.
					   Long JSON strings are not
					   kept (see _STRING_KEEP), so
					   this costs no memory: it is
					   sized for Gemini and Responses
					   events carrying base64 images */
#define PROXY_SSE_HOLD_MAX	(1 << 20) /* bytes of one event the filter
					   may hold back: a Chat
					   Completions chunk is a few
					   hundred; past it the filter
					   gives up and passes all */
#define PROXY_SSE_TYPE_MAX	64	/* event type kept, NUL included:
					   the longest we match is
					   "response.incomplete" */
#define PROXY_SSE_NAME_MAX	16	/* field name kept: "event" and
					   "data", after a BOM */
#define PROXY_API_USAGE_JSON_MAX (1 << 20) /* what is kept of one event's
					   data or one JSON value, with
					   long strings and blanks left
					   out: keys, numbers and
					   structure only, a few KiB in
					   practice */
#define PROXY_API_USAGE_STRING_KEEP 256	/* a JSON string longer than this
					   is kept as "": the model and
					   the keys are shorter, text
					   and base64 are never read */
#define PROXY_API_USAGE_MODEL_LEN 128	/* model name, NUL included */
#define PROXY_API_USAGE_COUNT_MAX ((int64_t)1 << 48) /* a token count is
					   clamped to it, so that sums of
					   a few cannot overflow */
#define PROXY_API_USAGE_RAW	6	/* provider figures kept */

/* Flags of proxy_sse_init and ss_flags. */
#define PROXY_SSE_JSON		0x01	/* keep data as JSON text: blanks
					   outside strings and long
					   strings left out */
#define PROXY_SSE_OVERSIZED	0x02	/* a line or the data past its
					   bound: stopped */
#define PROXY_SSE_NOMEM		0x04	/* out of memory: stopped */

/* The API a response comes from, chosen by the caller's route. */
enum proxy_api_usage_kind {
	PROXY_API_USAGE_ANTHROPIC_MESSAGES,	/* POST /v1/messages */
	PROXY_API_USAGE_OPENAI_CHAT,		/* POST /v1/chat/completions */
	PROXY_API_USAGE_OPENAI_RESPONSES,	/* POST /v1/responses */
	PROXY_API_USAGE_GEMINI,			/* :generateContent,
						   :streamGenerateContent */
	PROXY_API_USAGE_OPENROUTER_CHAT		/* POST /api/v1/chat/
						   completions */
};

/*
 * An event's data as it is collected: raw, or as JSON text without
 * blanks outside strings and with long strings emptied.
 */
struct proxy_sse_data {
	char			*sd_buf;	/* NUL terminated, or NULL */
	size_t			 sd_len;
	size_t			 sd_size;
	size_t			 sd_max;	/* bytes kept at most */
	size_t			 sd_str;	/* open string's text starts */
	int			 sd_flags;	/* SD_* of the .c */
};

/* An SSE stream being framed (WHATWG HTML, server-sent events). */
struct proxy_sse {
	int			 ss_state;	/* SSE_* of the .c */
	int			 ss_flags;	/* PROXY_SSE_*, and private */
	int			 ss_field;	/* of the line being read */
	char			 ss_name[PROXY_SSE_NAME_MAX];
	size_t			 ss_namelen;	/* may exceed the array */
	size_t			 ss_linelen;
	size_t			 ss_line_max;	/* PROXY_SSE_LINE_MAX; tests
						   lower it */
	uint64_t		 ss_lines;	/* lines ended */
	char			 ss_type[PROXY_SSE_TYPE_MAX]; /* "event:",
						   NUL terminated */
	size_t			 ss_typelen;
	struct proxy_sse_data	 ss_data;
};

/* An event: its type ("" if none), its data (NUL terminated). */
typedef void (*proxy_sse_eventcb)(const char *, const char *, size_t,
    void *);

/* Bytes to relay, in order. */
typedef void (*proxy_sse_outcb)(const char *, size_t, void *);

/*
 * The filter of an OpenAI Chat Completions stream: the bytes in, less
 * the one event that is the usage chunk.
 */
struct proxy_sse_filter {
	struct proxy_sse	 sf_ss;
	char			*sf_hold;	/* the open event's bytes */
	size_t			 sf_holdlen;
	size_t			 sf_holdsize;
	size_t			 sf_hold_max;	/* PROXY_SSE_HOLD_MAX; tests
						   lower it */
	int			 sf_state;	/* SF_* of the .c */
	int			 sf_skiplf;	/* the removed event ended in
						   CR: drop an LF next */
	int			 sf_removed;	/* the usage chunk was taken
						   out */
	int			 sf_gaveup;	/* passes all bytes through:
						   an event past sf_hold_max,
						   or out of memory */
	uint64_t		 sf_in;		/* bytes fed so far */
	uint64_t		 sf_hold_off;	/* where the held event began */
	uint64_t		 sf_removed_off; /* the removed event's place
						   in the input, for logs */
	uint64_t		 sf_removed_len;
};

/*
 * What a response said.  The figures are normalized across providers:
 * ur_input counts every input token, cache reads and cache writes
 * included (Anthropic's input_tokens excludes both, so they are added
 * to it; OpenAI's and Gemini's prompt counts include the cache reads
 * already), and ur_output every output token, reasoning included
 * (Gemini's candidatesTokenCount excludes thoughtsTokenCount, so it is
 * added).  ur_cached_input and ur_cache_creation are parts of ur_input,
 * ur_reasoning a part of ur_output: 0 <= cached + creation <= input and
 * 0 <= reasoning <= output always hold.
 */
struct proxy_api_usage_result {
	int64_t			 ur_input;
	int64_t			 ur_cached_input;	/* read from cache */
	int64_t			 ur_cache_creation;	/* written to it */
	int64_t			 ur_output;
	int64_t			 ur_reasoning;
	double			 ur_cost;	/* OpenRouter "cost", credits
						   (USD), if ur_cost_seen */
	char			 ur_model[PROXY_API_USAGE_MODEL_LEN]; /* as
						   the response names it,
						   printable ASCII, cut */
	uint64_t		 ur_events;	/* events or JSON values */
	int			 ur_usage_seen;	/* a usage object came */
	int			 ur_complete;	/* the response said it ended */
	int			 ur_error_seen;	/* an error came, in the body
						   or mid-stream */
	int			 ur_oversized;	/* stopped: a line or value
						   past its bound */
	int			 ur_nomem;	/* stopped: out of memory */
	int			 ur_cost_seen;
};

/* The usage reader of one response. */
struct proxy_api_usage {
	enum proxy_api_usage_kind pu_kind;
	int			 pu_sse;	/* SSE, else JSON value(s) */
	int			 pu_flags;	/* PU_* of the .c */
	int			 pu_jstate;	/* JSON framing, JS_* */
	size_t			 pu_depth;	/* JSON nesting */
	struct proxy_sse	 pu_ss;
	struct proxy_sse_data	 pu_json;	/* JSON value being read */
	int64_t			 pu_raw[PROXY_API_USAGE_RAW]; /* provider's
						   own figures */
	struct proxy_api_usage_result pu_result;
};

/* What a request body asks for, for the budget's reservation. */
struct proxy_api_usage_req {
	char			 uq_model[PROXY_API_USAGE_MODEL_LEN]; /* ""
						   if absent or unusable */
	int			 uq_model_bad;	/* "model" is there but not a
						   string of printable ASCII
						   that fits */
	int64_t			 uq_max_output;	/* -1: not set */
	int64_t			 uq_choices;	/* n, candidateCount; else 1 */
	int			 uq_stream;	/* "stream": true */
	int			 uq_include_usage; /* stream_options.
						   include_usage: true */
};

/* proxy_api_usage.c */
void		 proxy_sse_init(struct proxy_sse *, int);
int		 proxy_sse_feed(struct proxy_sse *, const char *, size_t,
		    proxy_sse_eventcb, void *);
void		 proxy_sse_end(struct proxy_sse *, int, proxy_sse_eventcb,
		    void *);
void		 proxy_sse_clear(struct proxy_sse *);
void		 proxy_sse_filter_init(struct proxy_sse_filter *);
void		 proxy_sse_filter_feed(struct proxy_sse_filter *,
		    const char *, size_t, proxy_sse_outcb, void *);
void		 proxy_sse_filter_end(struct proxy_sse_filter *,
		    proxy_sse_outcb, void *);
void		 proxy_sse_filter_clear(struct proxy_sse_filter *);
void		 proxy_api_usage_init(struct proxy_api_usage *,
		    enum proxy_api_usage_kind, int, const char *);
int		 proxy_api_usage_feed(struct proxy_api_usage *, const char *,
		    size_t);
void		 proxy_api_usage_end(struct proxy_api_usage *, int);
const struct proxy_api_usage_result
		*proxy_api_usage_result(const struct proxy_api_usage *);
void		 proxy_api_usage_clear(struct proxy_api_usage *);
const char	*proxy_api_usage_kind_name(enum proxy_api_usage_kind);
int		 proxy_api_usage_request(enum proxy_api_usage_kind,
		    const char *, size_t, struct proxy_api_usage_req *);
int		 proxy_api_usage_inject(const char *, size_t, char **,
		    size_t *, int *);

#endif /* SBXD_PROXY_API_USAGE_H */
