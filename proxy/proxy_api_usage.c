/*
 * proxy_api_usage.c: the credential gateway's side parser, with no I/O.
 * The gateway relays a model API's response to the client byte for
 * byte as it arrives and hands the same bytes here, where they are
 * framed (server-sent events, or one JSON value, or a JSON array of
 * chunks) and read for the tokens the response used, its model, whether
 * it said it ended and whether it carried an error.  The bytes are
 * never changed here except by the filter, which the gateway uses only
 * when it asked a Chat Completions stream for a usage chunk the client
 * did not ask for, and which takes exactly that one event back out.
 *
 * How each API reports usage, and how it is kept:
 * - Anthropic Messages: message_start.message.usage gives the input
 *   figures (input_tokens, cache_read_input_tokens,
 *   cache_creation_input_tokens) and a first output_tokens;
 *   message_delta.usage is CUMULATIVE, not an increment: each field it
 *   has replaces the one kept (it may restate the input figures too),
 *   each it lacks is left alone.  message_stop ends the stream.
 * - OpenAI Chat Completions and OpenRouter: one usage object, on the
 *   chunk with "choices": [] before "data: [DONE]" (only when the
 *   request set stream_options.include_usage; OpenRouter always sends
 *   it, with "cost"); the other chunks have "usage": null.  A usage
 *   object replaces all figures.  [DONE] ends the stream.
 * - OpenAI Responses: response.completed, .incomplete or .failed carry
 *   response.usage, which replaces all figures and ends the stream; there
 *   is no [DONE].
 * - Gemini: every chunk may carry usageMetadata with the totals so far;
 *   the LAST one replaces all figures (a field it lacks is 0: Gemini
 *   leaves out zeros).  The stream ends when the connection does, so it
 *   is complete only on a clean end after a chunk with a finishReason.
 * - A response that is not streamed is one JSON value whose top-level
 *   usage (usageMetadata) is read the same way; a Gemini stream without
 *   alt=sse is a JSON array of chunks, read element by element.
 *
 * Memory is bounded whatever the upstream sends: a JSON string longer
 * than PROXY_API_USAGE_STRING_KEEP is kept as "" and blanks outside
 * strings are dropped, so text and base64 cost nothing; an SSE line past
 * PROXY_SSE_LINE_MAX, or what is kept of one event or value past
 * PROXY_API_USAGE_JSON_MAX, stops the reading for good (ur_oversized)
 * while the gateway goes on relaying.
 */

#include <sys/types.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "proxy_api_usage.h"

#define SSE_DATA_MIN		256	/* first allocation of a buffer */
#define SSE_BOM			"\xef\xbb\xbf"	/* one is ignored at the
						   stream's start */
#define SSE_BOM_LEN		3

/* Where the framer is in a line. */
enum sse_state {
	SSE_BOL,		/* at a line's start */
	SSE_NAME,		/* in the field name */
	SSE_VALUE0,		/* after the colon: one space is skipped */
	SSE_VALUE,
	SSE_COMMENT		/* a line starting with ':' */
};

/* The fields the framer keeps. */
enum sse_field {
	SSE_FIELD_OTHER,	/* id, retry and unknown ones: ignored */
	SSE_FIELD_DATA,
	SSE_FIELD_EVENT
};

/* What one byte did. */
enum sse_step {
	SSE_NONE,
	SSE_EVENT,		/* a blank line ended an event with data */
	SSE_BLANK,		/* a blank line ended a block without data */
	SSE_OVER		/* stopped: oversized or out of memory */
};

/* Private flags of ss_flags, above the PROXY_SSE_* ones. */
#define SSE_F_CR		0x0100	/* last byte was CR: an LF next is
					   the same line end */
#define SSE_F_DATA		0x0200	/* the event has a data field */
#define SSE_STOPPED		(PROXY_SSE_OVERSIZED | PROXY_SSE_NOMEM)

/* sd_flags. */
#define SD_JSON			0x01	/* keep as JSON text */
#define SD_STR			0x02	/* in a string */
#define SD_ESC			0x04	/* after a backslash in a string */
#define SD_ELIDE		0x08	/* the string is too long: dropped */
#define SD_OVER			0x10	/* past sd_max */
#define SD_NOMEM		0x20

/* The filter's states. */
enum sse_filter_state {
	SF_PASS,		/* between events: bytes go through */
	SF_HOLD,		/* in an event: bytes are held */
	SF_PASSALL		/* done or given up: all goes through */
};

/* pu_flags. */
#define PU_STOPPED		0x01	/* oversized or out of memory */
#define PU_ENDED		0x02	/* proxy_api_usage_end was called */
#define PU_FINISH		0x04	/* Gemini: a finishReason came */
#define PU_STR			0x08	/* JSON framing: in a string */
#define PU_ESC			0x10	/* and after a backslash */
#define PU_ELEM			0x20	/* collecting an object value */

/* How a JSON body is framed, pu_jstate. */
enum usage_jstate {
	JS_START,		/* before the first byte that is not blank */
	JS_OBJECT,		/* in a top-level object */
	JS_ARRAY,		/* in a top-level array of chunks */
	JS_DONE,		/* the top-level value closed */
	JS_OTHER		/* not an object or array: ignored */
};

/* The provider's own figures, pu_raw. */
enum usage_raw {
	RAW_INPUT,		/* Anthropic: uncached; others: all input */
	RAW_CACHE_READ,
	RAW_CACHE_WRITE,
	RAW_OUTPUT,		/* Gemini: without thoughts; others: all */
	RAW_REASONING,
	RAW_TOOL_PROMPT		/* Gemini toolUsePromptTokenCount */
};

static const char	*usage_kind_names[] = {
	"anthropic-messages", "openai-chat", "openai-responses", "gemini",
	"openrouter-chat"
};

static void	sd_init(struct proxy_sse_data *, int, size_t);
static void	sd_reset(struct proxy_sse_data *);
static void	sd_free(struct proxy_sse_data *);
static int	sd_put(struct proxy_sse_data *, unsigned char);
static int	sd_add(struct proxy_sse_data *, unsigned char);
static int	sse_byte(struct proxy_sse *, unsigned char);
static int	sse_eol(struct proxy_sse *);
static int	sse_field(struct proxy_sse *);
static int	sse_value(struct proxy_sse *, unsigned char);
static int	sse_stop(struct proxy_sse *);
static void	sse_event_reset(struct proxy_sse *);
static void	sse_dispatch(struct proxy_sse *, proxy_sse_eventcb, void *);
static int	sse_field_start(const struct proxy_sse *, unsigned char);
static void	filter_out(const char *, size_t, proxy_sse_outcb, void *);
static int	filter_hold(struct proxy_sse_filter *, const char *, size_t);
static void	filter_giveup(struct proxy_sse_filter *, proxy_sse_outcb,
		    void *);
static void	filter_done(struct proxy_sse_filter *);
static int	filter_is_usage(const struct proxy_sse *);
static int	usage_is_sse(const char *);
static void	usage_stop(struct proxy_api_usage *, int);
static void	usage_json_byte(struct proxy_api_usage *, unsigned char);
static int	usage_json_value(struct proxy_api_usage *);
static void	usage_eventcb(const char *, const char *, size_t, void *);
static int	usage_value(struct proxy_api_usage *, const char *, size_t,
		    const char *);
static void	usage_anthropic(struct proxy_api_usage *, json_t *,
		    const char *);
static void	usage_anthropic_counts(struct proxy_api_usage *, json_t *);
static void	usage_chat(struct proxy_api_usage *, json_t *);
static void	usage_responses(struct proxy_api_usage *, json_t *,
		    const char *);
static void	usage_gemini(struct proxy_api_usage *, json_t *);
static void	usage_openai_counts(struct proxy_api_usage *, json_t *, int);
static void	usage_derive(struct proxy_api_usage *);
static void	usage_model(struct proxy_api_usage *, json_t *);
static int	usage_is_error(json_t *);
static int64_t	usage_count(json_t *);
static int64_t	usage_count0(json_t *);
static void	usage_set(struct proxy_api_usage *, int, json_t *);
static void	request_model(struct proxy_api_usage_req *, json_t *);
static int64_t	request_max(json_t *, const char *, const char *);
static json_t	*request_get(json_t *, const char *, const char *);

/*
 * Collected data.
 */

static void
sd_init(struct proxy_sse_data *sd, int flags, size_t max)
{
	memset(sd, 0, sizeof(*sd));
	sd->sd_flags = flags;
	sd->sd_max = max;
}

/* Empty it for the next event or value; the buffer stays. */
static void
sd_reset(struct proxy_sse_data *sd)
{
	sd->sd_len = 0;
	if (sd->sd_buf != NULL)
		sd->sd_buf[0] = '\0';
	sd->sd_flags &= ~(SD_STR | SD_ESC | SD_ELIDE);
}

static void
sd_free(struct proxy_sse_data *sd)
{
	free(sd->sd_buf);
	sd->sd_buf = NULL;
	sd->sd_len = sd->sd_size = 0;
}

/* Append a byte; -1 past sd_max or out of memory. */
static int
sd_put(struct proxy_sse_data *sd, unsigned char c)
{
	char	*p;
	size_t	 size;

	if (sd->sd_len >= sd->sd_max) {
		sd->sd_flags |= SD_OVER;
		return (-1);
	}
	if (sd->sd_len + 2 > sd->sd_size) {
		size = sd->sd_size < SSE_DATA_MIN ? SSE_DATA_MIN :
		    sd->sd_size * 2;
		if (size > sd->sd_max + 1)
			size = sd->sd_max + 1;	/* still >= sd_len + 2 */
		if ((p = realloc(sd->sd_buf, size)) == NULL) {
			sd->sd_flags |= SD_NOMEM;
			return (-1);
		}
		sd->sd_buf = p;
		sd->sd_size = size;
	}
	sd->sd_buf[sd->sd_len++] = c;
	sd->sd_buf[sd->sd_len] = '\0';
	return (0);
}

/*
 * Append a byte of data.  As JSON text, blanks outside strings are left
 * out and a string past PROXY_API_USAGE_STRING_KEEP bytes is emptied:
 * its text is dropped and its end still found, escapes included, so
 * what is kept stays valid JSON if the input is.
 */
static int
sd_add(struct proxy_sse_data *sd, unsigned char c)
{
	if (sd->sd_flags & (SD_OVER | SD_NOMEM))
		return (-1);
	if (!(sd->sd_flags & SD_JSON))
		return (sd_put(sd, c));
	if (sd->sd_flags & SD_STR) {
		if (sd->sd_flags & SD_ESC)
			sd->sd_flags &= ~SD_ESC;
		else if (c == '\\')
			sd->sd_flags |= SD_ESC;
		else if (c == '"') {
			sd->sd_flags &= ~(SD_STR | SD_ELIDE);
			return (sd_put(sd, c));
		}
		if (sd->sd_flags & SD_ELIDE)
			return (0);
		if (sd->sd_len - sd->sd_str >= PROXY_API_USAGE_STRING_KEEP) {
			sd->sd_len = sd->sd_str;
			sd->sd_buf[sd->sd_len] = '\0';
			sd->sd_flags |= SD_ELIDE;
			return (0);
		}
		return (sd_put(sd, c));
	}
	if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
		return (0);
	if (sd_put(sd, c) == -1)
		return (-1);
	if (c == '"') {
		sd->sd_flags |= SD_STR;
		sd->sd_str = sd->sd_len;
	}
	return (0);
}

/*
 * The SSE framer.  WHATWG rules: a line ends in CRLF, LF or CR (a CRLF
 * split between two reads is still one line end); a blank line ends an
 * event, which is dispatched only if it had a data field; a line
 * starting with ':' is a comment; "name:value" with one space after the
 * colon skipped, or "name" alone with an empty value; data lines join
 * with "\n"; "event" sets the type; other fields are ignored.
 */

/* flags: PROXY_SSE_JSON or 0. */
void
proxy_sse_init(struct proxy_sse *ss, int flags)
{
	memset(ss, 0, sizeof(*ss));
	ss->ss_flags = flags & PROXY_SSE_JSON;
	ss->ss_line_max = PROXY_SSE_LINE_MAX;
	sd_init(&ss->ss_data, flags & PROXY_SSE_JSON ? SD_JSON : 0,
	    PROXY_API_USAGE_JSON_MAX);
}

/* Frame len bytes, calling cb per event; -1 once stopped. */
int
proxy_sse_feed(struct proxy_sse *ss, const char *buf, size_t len,
    proxy_sse_eventcb cb, void *arg)
{
	size_t	 i;

	for (i = 0; i < len; i++) {
		switch (sse_byte(ss, (unsigned char)buf[i])) {
		case SSE_OVER:
			return (-1);
		case SSE_EVENT:
			sse_dispatch(ss, cb, arg);
			/* FALLTHROUGH */
		case SSE_BLANK:
			sse_event_reset(ss);
			break;
		default:
			break;
		}
	}
	return (ss->ss_flags & SSE_STOPPED ? -1 : 0);
}

/*
 * The stream ended.  Unlike WHATWG, which drops an event not ended by a
 * blank line, a clean end dispatches it, the last line even without its
 * line end: a server that closes right after its last data line has
 * still sent it whole, and the usage is often in that last event.
 */
void
proxy_sse_end(struct proxy_sse *ss, int clean_eof, proxy_sse_eventcb cb,
    void *arg)
{
	if (clean_eof && !(ss->ss_flags & SSE_STOPPED)) {
		if (ss->ss_state != SSE_BOL && sse_eol(ss) == SSE_OVER)
			goto done;
		if (ss->ss_flags & SSE_F_DATA)
			sse_dispatch(ss, cb, arg);
	}
 done:
	sse_event_reset(ss);
	sd_free(&ss->ss_data);
}

void
proxy_sse_clear(struct proxy_sse *ss)
{
	sd_free(&ss->ss_data);
}

static void
sse_dispatch(struct proxy_sse *ss, proxy_sse_eventcb cb, void *arg)
{
	const char	*data = ss->ss_data.sd_buf;

	cb(ss->ss_type, data != NULL ? data : "", ss->ss_data.sd_len, arg);
}

static int
sse_byte(struct proxy_sse *ss, unsigned char c)
{
	if (ss->ss_flags & SSE_STOPPED)
		return (SSE_OVER);
	if (ss->ss_flags & SSE_F_CR) {
		ss->ss_flags &= ~SSE_F_CR;
		if (c == '\n')
			return (SSE_NONE);
	}
	if (c == '\r' || c == '\n') {
		if (c == '\r')
			ss->ss_flags |= SSE_F_CR;
		return (sse_eol(ss));
	}
	if (++ss->ss_linelen > ss->ss_line_max) {
		ss->ss_flags |= PROXY_SSE_OVERSIZED;
		return (sse_stop(ss));
	}
	switch (ss->ss_state) {
	case SSE_BOL:
		if (c == ':') {
			ss->ss_state = SSE_COMMENT;
			break;
		}
		ss->ss_state = SSE_NAME;
		ss->ss_namelen = 0;
		/* FALLTHROUGH */
	case SSE_NAME:
		if (c == ':')
			return (sse_field(ss));
		if (ss->ss_namelen < sizeof(ss->ss_name))
			ss->ss_name[ss->ss_namelen] = c;
		if (ss->ss_namelen <= sizeof(ss->ss_name))
			ss->ss_namelen++;	/* past it: no name we know */
		break;
	case SSE_VALUE0:
		ss->ss_state = SSE_VALUE;
		if (c == ' ')
			break;
		/* FALLTHROUGH */
	case SSE_VALUE:
		return (sse_value(ss, c));
	default:
		break;		/* a comment */
	}
	return (SSE_NONE);
}

/* A line ended. */
static int
sse_eol(struct proxy_sse *ss)
{
	int	 r = SSE_NONE;

	switch (ss->ss_state) {
	case SSE_BOL:
		r = ss->ss_flags & SSE_F_DATA ? SSE_EVENT : SSE_BLANK;
		break;
	case SSE_NAME:
		r = sse_field(ss);	/* a name alone: an empty value */
		break;
	default:
		break;
	}
	ss->ss_state = SSE_BOL;
	ss->ss_linelen = 0;
	ss->ss_lines++;
	return (r);
}

/* The field name is known: start its value. */
static int
sse_field(struct proxy_sse *ss)
{
	const char	*name = ss->ss_name;
	size_t		 n = ss->ss_namelen;

	ss->ss_state = SSE_VALUE0;
	ss->ss_field = SSE_FIELD_OTHER;
	if (n > sizeof(ss->ss_name))
		return (SSE_NONE);
	if (ss->ss_lines == 0 && n >= SSE_BOM_LEN &&
	    memcmp(name, SSE_BOM, SSE_BOM_LEN) == 0) {
		name += SSE_BOM_LEN;
		n -= SSE_BOM_LEN;
	}
	if (n == 4 && memcmp(name, "data", 4) == 0) {
		ss->ss_field = SSE_FIELD_DATA;
		if ((ss->ss_flags & SSE_F_DATA) &&
		    sd_add(&ss->ss_data, '\n') == -1)
			return (sse_stop(ss));
		ss->ss_flags |= SSE_F_DATA;
	} else if (n == 5 && memcmp(name, "event", 5) == 0) {
		ss->ss_field = SSE_FIELD_EVENT;
		ss->ss_typelen = 0;
		ss->ss_type[0] = '\0';
	}
	return (SSE_NONE);
}

static int
sse_value(struct proxy_sse *ss, unsigned char c)
{
	switch (ss->ss_field) {
	case SSE_FIELD_DATA:
		if (sd_add(&ss->ss_data, c) == -1)
			return (sse_stop(ss));
		break;
	case SSE_FIELD_EVENT:
		/* A longer type is cut; it can match no type we know. */
		if (ss->ss_typelen + 1 < sizeof(ss->ss_type)) {
			ss->ss_type[ss->ss_typelen++] = c;
			ss->ss_type[ss->ss_typelen] = '\0';
		}
		break;
	default:
		break;
	}
	return (SSE_NONE);
}

/* Stop for good: past a bound or out of memory. */
static int
sse_stop(struct proxy_sse *ss)
{
	if (ss->ss_data.sd_flags & SD_NOMEM)
		ss->ss_flags |= PROXY_SSE_NOMEM;
	else
		ss->ss_flags |= PROXY_SSE_OVERSIZED;
	sd_free(&ss->ss_data);
	return (SSE_OVER);
}

static void
sse_event_reset(struct proxy_sse *ss)
{
	sd_reset(&ss->ss_data);
	ss->ss_flags &= ~SSE_F_DATA;
	ss->ss_typelen = 0;
	ss->ss_type[0] = '\0';
}

/* Does c, next, start a field line (not a comment, not a line end)? */
static int
sse_field_start(const struct proxy_sse *ss, unsigned char c)
{
	return (ss->ss_state == SSE_BOL && c != ':' && c != '\r' &&
	    c != '\n');
}

/*
 * The usage chunk filter.  Between events bytes go straight through;
 * from the first field line of an event to the blank line ending it they
 * are held, and then either go through or, if the event is the usage
 * chunk ("choices": [] and a usage object), are dropped, with the LF of
 * a CRLF blank line split from its CR.  After that one event everything
 * goes through untouched.  An event held past sf_hold_max, a stopped
 * framer or no memory makes the filter give up: what it held goes out
 * and from then on all bytes do, the usage chunk too.  So nothing is
 * delayed past the end of the event it belongs to, and the output is
 * the input less at most one event, byte for byte.
 */

void
proxy_sse_filter_init(struct proxy_sse_filter *sf)
{
	memset(sf, 0, sizeof(*sf));
	proxy_sse_init(&sf->sf_ss, PROXY_SSE_JSON);
	sf->sf_hold_max = PROXY_SSE_HOLD_MAX;
	sf->sf_state = SF_PASS;
}

/* Filter len upstream bytes; cb gets what to relay, in order. */
void
proxy_sse_filter_feed(struct proxy_sse_filter *sf, const char *buf,
    size_t len, proxy_sse_outcb cb, void *arg)
{
	size_t		 i, out = 0;	/* buf[out..] not yet out or held */
	unsigned char	 c;
	int		 r;

	for (i = 0; i < len && sf->sf_state != SF_PASSALL; i++) {
		c = buf[i];
		if (sf->sf_state == SF_PASS &&
		    sse_field_start(&sf->sf_ss, c)) {
			filter_out(buf + out, i - out, cb, arg);
			out = i;
			sf->sf_state = SF_HOLD;
			sf->sf_hold_off = sf->sf_in + i;
		}
		r = sse_byte(&sf->sf_ss, c);
		if (sf->sf_state == SF_HOLD &&
		    sf->sf_holdlen + (i + 1 - out) > sf->sf_hold_max)
			r = SSE_OVER;
		switch (r) {
		case SSE_OVER:
			filter_giveup(sf, cb, arg);	/* buf[out..] passes */
			break;
		case SSE_EVENT:
			if (sf->sf_state == SF_HOLD &&
			    filter_is_usage(&sf->sf_ss)) {
				out = i + 1;
				sf->sf_holdlen = 0;
				sf->sf_removed = 1;
				sf->sf_removed_off = sf->sf_hold_off;
				sf->sf_removed_len = sf->sf_in + out -
				    sf->sf_hold_off;
				sf->sf_skiplf = c == '\r';
				filter_done(sf);
				break;
			}
			/* FALLTHROUGH */
		case SSE_BLANK:
			sse_event_reset(&sf->sf_ss);
			if (sf->sf_state == SF_HOLD) {
				filter_out(sf->sf_hold, sf->sf_holdlen, cb, arg);
				sf->sf_holdlen = 0;
				sf->sf_state = SF_PASS;	/* buf[out..i] too */
			}
			break;
		default:
			break;
		}
	}
	if (sf->sf_skiplf && i < len) {
		sf->sf_skiplf = 0;
		if (buf[i] == '\n') {
			out = i + 1;
			sf->sf_removed_len++;
		}
	}
	sf->sf_in += len;
	if (sf->sf_state != SF_HOLD) {
		filter_out(buf + out, len - out, cb, arg);
		return;
	}
	if (filter_hold(sf, buf + out, len - out) == -1) {
		filter_giveup(sf, cb, arg);
		filter_out(buf + out, len - out, cb, arg);
	}
}

/* The stream ended: an event still held goes out as it came. */
void
proxy_sse_filter_end(struct proxy_sse_filter *sf, proxy_sse_outcb cb,
    void *arg)
{
	if (sf->sf_state == SF_HOLD)
		filter_out(sf->sf_hold, sf->sf_holdlen, cb, arg);
	sf->sf_holdlen = 0;
	sf->sf_skiplf = 0;
	filter_done(sf);
}

void
proxy_sse_filter_clear(struct proxy_sse_filter *sf)
{
	free(sf->sf_hold);
	sf->sf_hold = NULL;
	sf->sf_holdlen = sf->sf_holdsize = 0;
	proxy_sse_clear(&sf->sf_ss);
}

static void
filter_out(const char *buf, size_t len, proxy_sse_outcb cb, void *arg)
{
	if (len > 0)
		cb(buf, len, arg);
}

/* Keep len more bytes of the open event; -1 out of memory. */
static int
filter_hold(struct proxy_sse_filter *sf, const char *buf, size_t len)
{
	char	*p;
	size_t	 size;

	if (sf->sf_holdlen + len > sf->sf_holdsize) {
		size = sf->sf_holdsize < SSE_DATA_MIN ? SSE_DATA_MIN :
		    sf->sf_holdsize;
		while (size < sf->sf_holdlen + len)
			size *= 2;
		if ((p = realloc(sf->sf_hold, size)) == NULL)
			return (-1);
		sf->sf_hold = p;
		sf->sf_holdsize = size;
	}
	if (len > 0)
		memcpy(sf->sf_hold + sf->sf_holdlen, buf, len);
	sf->sf_holdlen += len;
	return (0);
}

/* Send what is held and pass everything from now on. */
static void
filter_giveup(struct proxy_sse_filter *sf, proxy_sse_outcb cb, void *arg)
{
	if (sf->sf_state == SF_HOLD)
		filter_out(sf->sf_hold, sf->sf_holdlen, cb, arg);
	sf->sf_holdlen = 0;
	sf->sf_gaveup = 1;
	filter_done(sf);
}

/* Nothing more to filter: pass all, and free what framing held. */
static void
filter_done(struct proxy_sse_filter *sf)
{
	sf->sf_state = SF_PASSALL;
	free(sf->sf_hold);
	sf->sf_hold = NULL;
	sf->sf_holdsize = 0;
	proxy_sse_clear(&sf->sf_ss);
}

/* Is the event just framed the usage chunk? */
static int
filter_is_usage(const struct proxy_sse *ss)
{
	json_t	*o, *choices, *usage;
	int	 r;

	if (ss->ss_data.sd_buf == NULL)
		return (0);
	if ((o = json_loadb(ss->ss_data.sd_buf, ss->ss_data.sd_len, 0,
	    NULL)) == NULL)
		return (0);
	choices = json_object_get(o, "choices");
	usage = json_object_get(o, "usage");
	r = json_is_array(choices) && json_array_size(choices) == 0 &&
	    json_is_object(usage);
	json_decref(o);
	return (r);
}

/*
 * The usage reader.
 */

/*
 * Start reading a response of kind.  content_type is the response's
 * Content-Type, or NULL: text/event-stream is SSE, anything else is
 * JSON (a Gemini stream without alt=sse is application/json); without
 * one, streamed says which.
 */
void
proxy_api_usage_init(struct proxy_api_usage *u,
    enum proxy_api_usage_kind kind, int streamed, const char *content_type)
{
	memset(u, 0, sizeof(*u));
	u->pu_kind = kind;
	if (content_type != NULL)
		u->pu_sse = usage_is_sse(content_type);
	else
		u->pu_sse = streamed != 0;
	u->pu_jstate = JS_START;
	proxy_sse_init(&u->pu_ss, PROXY_SSE_JSON);
	sd_init(&u->pu_json, SD_JSON, PROXY_API_USAGE_JSON_MAX);
}

/*
 * Read len more bytes of the response.  0, or -1 once the reading has
 * stopped (ur_oversized, ur_nomem); the caller goes on relaying.
 */
int
proxy_api_usage_feed(struct proxy_api_usage *u, const char *buf,
    size_t len)
{
	size_t	 i;

	if (u->pu_flags & (PU_STOPPED | PU_ENDED))
		return (u->pu_flags & PU_STOPPED ? -1 : 0);
	if (u->pu_sse) {
		if (proxy_sse_feed(&u->pu_ss, buf, len, usage_eventcb, u) ==
		    -1)
			usage_stop(u, u->pu_ss.ss_flags & PROXY_SSE_NOMEM);
	} else {
		for (i = 0; i < len && !(u->pu_flags & PU_STOPPED); i++)
			usage_json_byte(u, (unsigned char)buf[i]);
	}
	return (u->pu_flags & PU_STOPPED ? -1 : 0);
}

/*
 * The response ended, cleanly (clean_eof: the upstream's EOF or the
 * body's end as framed) or not (reset, dirty TLS close, client gone).
 * The result stays; the buffers go.
 */
void
proxy_api_usage_end(struct proxy_api_usage *u, int clean_eof)
{
	if (u->pu_flags & PU_ENDED)
		return;
	u->pu_flags |= PU_ENDED;
	if (!(u->pu_flags & PU_STOPPED) && u->pu_sse) {
		proxy_sse_end(&u->pu_ss, clean_eof, usage_eventcb, u);
		if (u->pu_kind == PROXY_API_USAGE_GEMINI && clean_eof &&
		    (u->pu_flags & PU_FINISH))
			u->pu_result.ur_complete = 1;
	}
	proxy_sse_clear(&u->pu_ss);
	sd_free(&u->pu_json);
}

const struct proxy_api_usage_result *
proxy_api_usage_result(const struct proxy_api_usage *u)
{
	return (&u->pu_result);
}

void
proxy_api_usage_clear(struct proxy_api_usage *u)
{
	proxy_sse_clear(&u->pu_ss);
	sd_free(&u->pu_json);
}

/* A short name for logs: "anthropic-messages", "gemini"... */
const char *
proxy_api_usage_kind_name(enum proxy_api_usage_kind kind)
{
	if ((size_t)kind >= sizeof(usage_kind_names) /
	    sizeof(usage_kind_names[0]))
		return ("unknown");
	return (usage_kind_names[kind]);
}

/* Is the Content-Type text/event-stream, parameters aside? */
static int
usage_is_sse(const char *ct)
{
	static const char	 sse[] = "text/event-stream";
	size_t			 n = sizeof(sse) - 1;

	while (*ct == ' ' || *ct == '\t')
		ct++;
	if (strncasecmp(ct, sse, n) != 0)
		return (0);
	ct += n;
	return (*ct == '\0' || *ct == ';' || *ct == ' ' || *ct == '\t');
}

static void
usage_stop(struct proxy_api_usage *u, int nomem)
{
	u->pu_flags |= PU_STOPPED;
	if (nomem)
		u->pu_result.ur_nomem = 1;
	else
		u->pu_result.ur_oversized = 1;
	proxy_sse_clear(&u->pu_ss);
	sd_free(&u->pu_json);
}

/*
 * Frame a JSON body: one object (a response that is not streamed, or an
 * error) or an array of objects (a Gemini stream without alt=sse), each
 * object read as it closes.  Only brackets outside strings count.
 */
static void
usage_json_byte(struct proxy_api_usage *u, unsigned char c)
{
	if (u->pu_flags & PU_STR) {
		if (u->pu_flags & PU_ESC)
			u->pu_flags &= ~PU_ESC;
		else if (c == '\\')
			u->pu_flags |= PU_ESC;
		else if (c == '"')
			u->pu_flags &= ~PU_STR;
	} else if (u->pu_jstate == JS_START) {
		if (c == '{') {
			u->pu_jstate = JS_OBJECT;
			u->pu_flags |= PU_ELEM;
		} else if (c == '[')
			u->pu_jstate = JS_ARRAY;
		else if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
			u->pu_jstate = JS_OTHER;
			return;
		} else
			return;
	} else if (u->pu_jstate != JS_OBJECT && u->pu_jstate != JS_ARRAY)
		return;		/* done, or not JSON we read */
	else if (c == '"')
		u->pu_flags |= PU_STR;
	else if (c == '{' || c == '[') {
		if (u->pu_jstate == JS_ARRAY && u->pu_depth == 1 && c == '{')
			u->pu_flags |= PU_ELEM;
	} else if ((c == '}' || c == ']') && u->pu_depth > 0)
		u->pu_depth--;

	if (u->pu_flags & PU_ELEM) {
		if (sd_add(&u->pu_json, c) == -1) {
			usage_stop(u, u->pu_json.sd_flags & SD_NOMEM);
			return;
		}
	}
	if (u->pu_flags & PU_STR)
		return;
	if (c == '{' || c == '[')
		u->pu_depth++;
	else if (c == '}' || c == ']') {
		if (u->pu_depth == 0) {
			/* An array closed, or an object that reads. */
			if (!(u->pu_flags & PU_ELEM) || usage_json_value(u))
				u->pu_result.ur_complete = 1;
			u->pu_jstate = JS_DONE;
		} else if (u->pu_depth == 1 && u->pu_jstate == JS_ARRAY &&
		    (u->pu_flags & PU_ELEM))
			(void)usage_json_value(u);
	}
}

/* A whole object was framed: read it.  1 if it was one. */
static int
usage_json_value(struct proxy_api_usage *u)
{
	int	 r = 0;

	u->pu_result.ur_events++;
	if (u->pu_json.sd_buf != NULL)
		r = usage_value(u, u->pu_json.sd_buf, u->pu_json.sd_len, "");
	sd_reset(&u->pu_json);
	u->pu_flags &= ~PU_ELEM;
	return (r);
}

static void
usage_eventcb(const char *type, const char *data, size_t len, void *arg)
{
	struct proxy_api_usage	*u = arg;

	u->pu_result.ur_events++;
	if (strcmp(type, "error") == 0)
		u->pu_result.ur_error_seen = 1;
	if ((u->pu_kind == PROXY_API_USAGE_OPENAI_CHAT ||
	    u->pu_kind == PROXY_API_USAGE_OPENROUTER_CHAT) &&
	    len == 6 && memcmp(data, "[DONE]", 6) == 0) {
		u->pu_result.ur_complete = 1;
		return;
	}
	(void)usage_value(u, data, len, type);
}

/*
 * An event's data or a JSON value; what is not an object is skipped.
 * 1 if it was an object.
 */
static int
usage_value(struct proxy_api_usage *u, const char *data, size_t len,
    const char *type)
{
	json_t	*o;
	int	 r;

	if ((o = json_loadb(data, len, 0, NULL)) == NULL)
		return (0);
	if ((r = json_is_object(o))) {
		switch (u->pu_kind) {
		case PROXY_API_USAGE_ANTHROPIC_MESSAGES:
			usage_anthropic(u, o, type);
			break;
		case PROXY_API_USAGE_OPENAI_RESPONSES:
			usage_responses(u, o, type);
			break;
		case PROXY_API_USAGE_GEMINI:
			usage_gemini(u, o);
			break;
		default:
			usage_chat(u, o);
			break;
		}
	}
	json_decref(o);
	return (r);
}

/*
 * Anthropic: a stream's events, or a message, or an error.  The "type"
 * in the data wins over the SSE event name; they agree in practice.
 */
static void
usage_anthropic(struct proxy_api_usage *u, json_t *o, const char *evtype)
{
	const char	*type;
	json_t		*m;

	if ((type = json_string_value(json_object_get(o, "type"))) == NULL)
		type = evtype;
	if (strcmp(type, "error") == 0)
		u->pu_result.ur_error_seen = 1;
	else if (strcmp(type, "message_start") == 0) {
		m = json_object_get(o, "message");
		usage_model(u, json_object_get(m, "model"));
		usage_anthropic_counts(u, json_object_get(m, "usage"));
	} else if (strcmp(type, "message_delta") == 0)
		usage_anthropic_counts(u, json_object_get(o, "usage"));
	else if (strcmp(type, "message_stop") == 0)
		u->pu_result.ur_complete = 1;
	else if (strcmp(type, "message") == 0) {
		usage_model(u, json_object_get(o, "model"));
		usage_anthropic_counts(u, json_object_get(o, "usage"));
	}
}

/*
 * Anthropic's usage is cumulative: each figure given replaces the one
 * kept, a figure not given (or null) leaves it alone.  Never added.
 */
static void
usage_anthropic_counts(struct proxy_api_usage *u, json_t *us)
{
	if (!json_is_object(us))
		return;
	usage_set(u, RAW_INPUT, json_object_get(us, "input_tokens"));
	usage_set(u, RAW_CACHE_READ,
	    json_object_get(us, "cache_read_input_tokens"));
	usage_set(u, RAW_CACHE_WRITE,
	    json_object_get(us, "cache_creation_input_tokens"));
	usage_set(u, RAW_OUTPUT, json_object_get(us, "output_tokens"));
	u->pu_result.ur_usage_seen = 1;
	usage_derive(u);
}

/*
 * Chat Completions and OpenRouter: a chunk, a whole completion or an
 * error.  OpenRouter reports a mid-stream error as a chunk with
 * "error" and a finish_reason "error".
 */
static void
usage_chat(struct proxy_api_usage *u, json_t *o)
{
	json_t		*choices, *c;
	size_t		 i;
	const char	*why;

	if (usage_is_error(o))
		u->pu_result.ur_error_seen = 1;
	usage_model(u, json_object_get(o, "model"));
	usage_openai_counts(u, json_object_get(o, "usage"), 0);
	choices = json_object_get(o, "choices");
	json_array_foreach(choices, i, c) {
		why = json_string_value(json_object_get(c, "finish_reason"));
		if (why != NULL && strcmp(why, "error") == 0)
			u->pu_result.ur_error_seen = 1;
	}
}

/* Responses: a stream's events, or a response object, or an error. */
static void
usage_responses(struct proxy_api_usage *u, json_t *o, const char *evtype)
{
	const char	*type, *what, *status;
	json_t		*r = NULL;
	int		 last;

	if ((type = json_string_value(json_object_get(o, "type"))) == NULL)
		type = evtype;
	if (usage_is_error(o) || strcmp(type, "error") == 0)
		u->pu_result.ur_error_seen = 1;
	last = strcmp(type, "response.completed") == 0 ||
	    strcmp(type, "response.incomplete") == 0 ||
	    strcmp(type, "response.failed") == 0;
	if (strncmp(type, "response.", 9) == 0)
		r = json_object_get(o, "response");
	else if ((what = json_string_value(json_object_get(o,
	    "object"))) != NULL && strcmp(what, "response") == 0) {
		r = o;
		last = 1;
	}
	if (!json_is_object(r))
		return;
	usage_model(u, json_object_get(r, "model"));
	if (!last)
		return;
	usage_openai_counts(u, json_object_get(r, "usage"), 1);
	status = json_string_value(json_object_get(r, "status"));
	if ((r != o && usage_is_error(r)) ||
	    (status != NULL && strcmp(status, "failed") == 0))
		u->pu_result.ur_error_seen = 1;
	if (r != o)
		u->pu_result.ur_complete = 1;
}

/* Gemini: a chunk, a whole response, or an error. */
static void
usage_gemini(struct proxy_api_usage *u, json_t *o)
{
	json_t	*us, *cands, *c;
	size_t	 i;

	if (usage_is_error(o))
		u->pu_result.ur_error_seen = 1;
	usage_model(u, json_object_get(o, "modelVersion"));
	cands = json_object_get(o, "candidates");
	json_array_foreach(cands, i, c) {
		if (json_is_string(json_object_get(c, "finishReason")))
			u->pu_flags |= PU_FINISH;
	}
	us = json_object_get(o, "usageMetadata");
	if (!json_is_object(us))
		return;
	/* The last usageMetadata replaces all: a field it lacks is 0. */
	memset(u->pu_raw, 0, sizeof(u->pu_raw));
	u->pu_raw[RAW_INPUT] = usage_count0(json_object_get(us,
	    "promptTokenCount"));
	u->pu_raw[RAW_CACHE_READ] = usage_count0(json_object_get(us,
	    "cachedContentTokenCount"));
	u->pu_raw[RAW_OUTPUT] = usage_count0(json_object_get(us,
	    "candidatesTokenCount"));
	u->pu_raw[RAW_REASONING] = usage_count0(json_object_get(us,
	    "thoughtsTokenCount"));
	u->pu_raw[RAW_TOOL_PROMPT] = usage_count0(json_object_get(us,
	    "toolUsePromptTokenCount"));
	u->pu_result.ur_usage_seen = 1;
	usage_derive(u);
}

/*
 * An OpenAI-shaped usage object (Chat Completions' or, if responses,
 * the Responses API's names) replaces all figures.  OpenRouter adds
 * "cost" and prompt_tokens_details.cache_write_tokens.
 */
static void
usage_openai_counts(struct proxy_api_usage *u, json_t *us, int responses)
{
	json_t	*in, *out, *cost;

	if (!json_is_object(us))
		return;
	memset(u->pu_raw, 0, sizeof(u->pu_raw));
	if (responses) {
		u->pu_raw[RAW_INPUT] = usage_count0(json_object_get(us,
		    "input_tokens"));
		u->pu_raw[RAW_OUTPUT] = usage_count0(json_object_get(us,
		    "output_tokens"));
		in = json_object_get(us, "input_tokens_details");
		out = json_object_get(us, "output_tokens_details");
	} else {
		u->pu_raw[RAW_INPUT] = usage_count0(json_object_get(us,
		    "prompt_tokens"));
		u->pu_raw[RAW_OUTPUT] = usage_count0(json_object_get(us,
		    "completion_tokens"));
		in = json_object_get(us, "prompt_tokens_details");
		out = json_object_get(us, "completion_tokens_details");
	}
	u->pu_raw[RAW_CACHE_READ] = usage_count0(json_object_get(in,
	    "cached_tokens"));
	u->pu_raw[RAW_CACHE_WRITE] = usage_count0(json_object_get(in,
	    "cache_write_tokens"));
	u->pu_raw[RAW_REASONING] = usage_count0(json_object_get(out,
	    "reasoning_tokens"));
	cost = json_object_get(us, "cost");
	if (json_is_number(cost) && json_number_value(cost) >= 0) {
		u->pu_result.ur_cost = json_number_value(cost);
		u->pu_result.ur_cost_seen = 1;
	}
	u->pu_result.ur_usage_seen = 1;
	usage_derive(u);
}

/* The result's normalized figures from the provider's own. */
static void
usage_derive(struct proxy_api_usage *u)
{
	struct proxy_api_usage_result	*r = &u->pu_result;
	const int64_t			*raw = u->pu_raw;

	switch (u->pu_kind) {
	case PROXY_API_USAGE_ANTHROPIC_MESSAGES:
		/* input_tokens counts neither cache reads nor writes. */
		r->ur_input = raw[RAW_INPUT] + raw[RAW_CACHE_READ] +
		    raw[RAW_CACHE_WRITE];
		r->ur_output = raw[RAW_OUTPUT];
		break;
	case PROXY_API_USAGE_GEMINI:
		/* Thoughts are billed as output, tool prompts as input. */
		r->ur_input = raw[RAW_INPUT] + raw[RAW_TOOL_PROMPT];
		r->ur_output = raw[RAW_OUTPUT] + raw[RAW_REASONING];
		break;
	default:
		r->ur_input = raw[RAW_INPUT];
		r->ur_output = raw[RAW_OUTPUT];
		break;
	}
	r->ur_cached_input = raw[RAW_CACHE_READ];
	r->ur_cache_creation = raw[RAW_CACHE_WRITE];
	r->ur_reasoning = raw[RAW_REASONING];
	/* Parts never exceed their whole, whatever the upstream said. */
	if (r->ur_cached_input > r->ur_input)
		r->ur_cached_input = r->ur_input;
	if (r->ur_cache_creation > r->ur_input - r->ur_cached_input)
		r->ur_cache_creation = r->ur_input - r->ur_cached_input;
	if (r->ur_reasoning > r->ur_output)
		r->ur_reasoning = r->ur_output;
}

/* Keep a model name: printable ASCII, anything else as '?', cut. */
static void
usage_model(struct proxy_api_usage *u, json_t *v)
{
	char		*m = u->pu_result.ur_model;
	const char	*s;
	size_t		 i, n;

	if ((s = json_string_value(v)) == NULL ||
	    (n = json_string_length(v)) == 0)
		return;
	for (i = 0; i < n && i < PROXY_API_USAGE_MODEL_LEN - 1; i++)
		m[i] = s[i] > ' ' && s[i] < 0x7f ? s[i] : '?';
	m[i] = '\0';
}

/* An "error" that is there and not null. */
static int
usage_is_error(json_t *o)
{
	json_t	*e = json_object_get(o, "error");

	return (e != NULL && !json_is_null(e) && !json_is_false(e));
}

/* A count: -1 unless a number >= 0; clamped. */
static int64_t
usage_count(json_t *v)
{
	json_int_t	 i;
	double		 d;

	if (json_is_integer(v)) {
		if ((i = json_integer_value(v)) < 0)
			return (-1);
		return (i > PROXY_API_USAGE_COUNT_MAX ?
		    PROXY_API_USAGE_COUNT_MAX : (int64_t)i);
	}
	if (json_is_real(v)) {
		if (!((d = json_real_value(v)) >= 0))
			return (-1);
		return (d >= (double)PROXY_API_USAGE_COUNT_MAX ?
		    PROXY_API_USAGE_COUNT_MAX : (int64_t)d);
	}
	return (-1);
}

static int64_t
usage_count0(json_t *v)
{
	int64_t	 n = usage_count(v);

	return (n < 0 ? 0 : n);
}

/* Replace one figure if v gives it. */
static void
usage_set(struct proxy_api_usage *u, int which, json_t *v)
{
	int64_t	 n;

	if ((n = usage_count(v)) >= 0)
		u->pu_raw[which] = n;
}

/*
 * Requests.
 */

/*
 * What a request body of kind asks for: model, output token cap (the
 * larger if two are given), choices, stream.  For Gemini the model and
 * the streaming are in the path, not the body.  0, or -1 if the body is
 * not a JSON object.
 */
int
proxy_api_usage_request(enum proxy_api_usage_kind kind, const char *body,
    size_t len, struct proxy_api_usage_req *rq)
{
	json_t	*o, *gc;
	int64_t	 n, m;

	memset(rq, 0, sizeof(*rq));
	rq->uq_max_output = -1;
	rq->uq_choices = 1;
	if ((o = json_loadb(body, len, JSON_ALLOW_NUL, NULL)) == NULL)
		return (-1);
	if (!json_is_object(o)) {
		json_decref(o);
		return (-1);
	}
	request_model(rq, json_object_get(o, "model"));
	rq->uq_stream = json_is_true(json_object_get(o, "stream"));
	rq->uq_include_usage = json_is_true(json_object_get(
	    json_object_get(o, "stream_options"), "include_usage"));
	switch (kind) {
	case PROXY_API_USAGE_ANTHROPIC_MESSAGES:
		rq->uq_max_output = request_max(o, "max_tokens", NULL);
		break;
	case PROXY_API_USAGE_OPENAI_RESPONSES:
		rq->uq_max_output = request_max(o, "max_output_tokens", NULL);
		break;
	case PROXY_API_USAGE_GEMINI:
		/* The JSON mapping of protobuf takes either spelling. */
		gc = request_get(o, "generationConfig", "generation_config");
		rq->uq_max_output = request_max(gc, "maxOutputTokens",
		    "max_output_tokens");
		n = request_max(gc, "candidateCount", "candidate_count");
		rq->uq_choices = n > 0 ? n : 1;
		break;
	default:
		n = request_max(o, "max_completion_tokens", NULL);
		m = request_max(o, "max_tokens", NULL);
		rq->uq_max_output = n > m ? n : m;
		n = request_max(o, "n", NULL);
		rq->uq_choices = n > 0 ? n : 1;
		break;
	}
	json_decref(o);
	return (0);
}

/*
 * Ask a Chat Completions stream for its usage.  If the body has
 * "stream": true and not stream_options.include_usage true, *out is a
 * new body (the caller frees it) with include_usage set true, everything
 * else kept in order, and *injected is 1; the caller then filters the
 * usage chunk out of the response.  Otherwise *out is NULL and the body
 * goes as it is.  -1 if the body is not a JSON object jansson can read.
 */
int
proxy_api_usage_inject(const char *body, size_t len, char **out,
    size_t *outlen, int *injected)
{
	json_t	*o, *so;
	char	*s;

	*out = NULL;
	*outlen = 0;
	*injected = 0;
	if ((o = json_loadb(body, len, JSON_ALLOW_NUL, NULL)) == NULL)
		return (-1);
	if (!json_is_object(o))
		goto fail;
	if (!json_is_true(json_object_get(o, "stream")))
		goto done;
	so = json_object_get(o, "stream_options");
	if (json_is_true(json_object_get(so, "include_usage")))
		goto done;
	if (so == NULL || json_is_null(so)) {
		if ((so = json_object()) == NULL ||
		    json_object_set_new(o, "stream_options", so) == -1)
			goto fail;
	} else if (!json_is_object(so))
		goto done;	/* the upstream refuses it: nothing to add */
	if (json_object_set_new(so, "include_usage", json_true()) == -1)
		goto fail;
	if ((s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER)) == NULL)
		goto fail;
	*out = s;
	*outlen = strlen(s);	/* a NUL in a string is written \u0000 */
	*injected = 1;
 done:
	json_decref(o);
	return (0);
 fail:
	json_decref(o);
	return (-1);
}

/* The model, exactly, or "" and uq_model_bad. */
static void
request_model(struct proxy_api_usage_req *rq, json_t *v)
{
	const char	*s;
	size_t		 i, n;

	if (v == NULL)
		return;
	if ((s = json_string_value(v)) == NULL ||
	    (n = json_string_length(v)) == 0 ||
	    n >= PROXY_API_USAGE_MODEL_LEN) {
		rq->uq_model_bad = 1;
		return;
	}
	for (i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] >= 0x7f) {
			rq->uq_model_bad = 1;
			return;
		}
	memcpy(rq->uq_model, s, n + 1);
}

/* A count under either name (the first wins), rounded up; -1 if none. */
static int64_t
request_max(json_t *o, const char *name, const char *alt)
{
	json_t	*v = request_get(o, name, alt);
	int64_t	 n;

	if ((n = usage_count(v)) >= 0 && json_is_real(v) &&
	    (double)n < json_real_value(v))
		n++;
	return (n);
}

static json_t *
request_get(json_t *o, const char *name, const char *alt)
{
	json_t	*v;

	if ((v = json_object_get(o, name)) == NULL && alt != NULL)
		v = json_object_get(o, alt);
	return (v);
}
