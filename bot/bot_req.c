/*
 * bot_req.c: one call to the chat server, from its building to its
 * answer.  A request is a method, a path under the site, form fields
 * (url-encoded; JSON values as JSON text, as Zulip wants), a priority
 * and a callback.  bot.c queues it behind the budget and runs it on the
 * multi handle; bot_req_done reads the answer and decides: a result for
 * the callback, or, for a 429 and for failures that are safe to repeat,
 * the queue again.
 */

#include <sys/types.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <event2/buffer.h>
#include <jansson.h>

#include "config.h"
#include "log.h"
#include "sbxd.h"
#include "bot.h"
#include "curlev.h"

#define BOT_BODY_MAX		(8 * 1024 * 1024) /* an answer's bytes; a
					   batch of events or 1000 messages
					   fits many times */
#define BOT_FORM_MAX		(1024 * 1024)	/* a request's form: a
					   message of 10000 code points,
					   escaped, fits */
#define BOT_CONNECT_SECS	10	/* to connect and shake hands */
#define BOT_CALL_SECS		30	/* any call but the long poll */
#define BOT_TRIES		4	/* a call that failed safely */

struct bot_req {
	CURL			*br_easy;
	enum bot_method		 br_method;
	enum bot_prio		 br_prio;
	char			*br_path;
	struct evbuffer		*br_form;
	char			*br_url;
	struct evbuffer		*br_body;
	struct curl_slist	*br_headers;
	bot_req_cb		 br_cb;
	void			*br_arg;
	long			 br_status;
	long			 br_poll;	/* its timeout; 0: not a poll */
	int			 br_tries;
	int			 br_maxtries;
	int			 br_timedout;
	int			 br_toolong;
	double			 br_retry_after;
	double			 br_notbefore;	/* a retry waits */
	double			 br_rl_limit;
	double			 br_rl_remaining;
	double			 br_rl_reset;
	char			 br_code[64];
	char			 br_msg[256];
	char			 br_err[CURL_ERROR_SIZE];
	char			 br_ctype[64];
};

static size_t	bot_req_writecb(char *, size_t, size_t, void *);
static size_t	bot_req_headercb(char *, size_t, size_t, void *);
static int	bot_req_retry(struct bot_req *, enum bot_result);
static void	bot_req_reset(struct bot_req *);

/* A request of method on path (under /api/v1), not yet queued. */
struct bot_req *
bot_req_new(enum bot_method method, const char *path, enum bot_prio prio,
    bot_req_cb cb, void *arg)
{
	struct bot_req	*br;

	if ((br = calloc(1, sizeof(*br))) == NULL)
		return (NULL);
	if ((br->br_path = strdup(path)) == NULL ||
	    (br->br_form = evbuffer_new()) == NULL ||
	    (br->br_body = evbuffer_new()) == NULL) {
		bot_req_free(br);
		return (NULL);
	}
	br->br_method = method;
	br->br_prio = prio;
	br->br_cb = cb;
	br->br_arg = arg;
	/* Sends are not repeated after their body went out: no key
	   tells the server it has it already. */
	br->br_maxtries = BOT_TRIES;
	return (br);
}

void
bot_req_free(struct bot_req *br)
{
	if (br == NULL)
		return;
	if (br->br_easy != NULL)
		curl_easy_cleanup(br->br_easy);
	curl_slist_free_all(br->br_headers);
	if (br->br_form != NULL)
		evbuffer_free(br->br_form);
	if (br->br_body != NULL)
		evbuffer_free(br->br_body);
	free(br->br_path);
	free(br->br_url);
	free(br);
}

/* A form field name=value, url-encoded. */
int
bot_req_add(struct bot_req *br, const char *name, const char *value)
{
	char	*v;
	int	 r;

	if (br == NULL || value == NULL)
		return (-1);
	if ((v = curl_easy_escape(NULL, value, 0)) == NULL)
		return (-1);
	r = evbuffer_add_printf(br->br_form, "%s%s=%s",
	    evbuffer_get_length(br->br_form) > 0 ? "&" : "", name, v);
	curl_free(v);
	if (r == -1 || evbuffer_get_length(br->br_form) > BOT_FORM_MAX)
		return (-1);
	return (0);
}

int
bot_req_addf(struct bot_req *br, const char *name, const char *fmt, ...)
{
	va_list	 ap;
	char	*v;
	int	 r;

	va_start(ap, fmt);
	r = vasprintf(&v, fmt, ap);
	va_end(ap);
	if (r == -1)
		return (-1);
	r = bot_req_add(br, name, v);
	free(v);
	return (r);
}

/* A field whose value is JSON text.  Takes v. */
int
bot_req_addjson(struct bot_req *br, const char *name, json_t *v)
{
	char	*s;
	int	 r;

	if (v == NULL)
		return (-1);
	s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(v);
	if (s == NULL)
		return (-1);
	r = bot_req_add(br, name, s);
	free(s);
	return (r);
}

/* A long poll that may wait secs for its answer. */
void
bot_req_poll(struct bot_req *br, long secs)
{
	br->br_poll = secs;
	br->br_maxtries = 1;
}

/* How often a call that failed safely is made (1: once). */
void
bot_req_retries(struct bot_req *br, int n)
{
	br->br_maxtries = n;
}

/*
 * Build the easy handle for one try; multi is the handle it will run
 * on, given as its private pointer's owner.  -1: out of memory.
 */
int
bot_req_prepare(struct bot_req *br, void *priv)
{
	const struct bot_conf	*bc = bot_conf();
	const char		*form;
	size_t			 flen;
	CURL			*e;

	bot_req_reset(br);
	if (br->br_easy == NULL && (br->br_easy = curl_easy_init()) == NULL)
		return (-1);
	e = br->br_easy;
	curl_easy_reset(e);
	flen = evbuffer_get_length(br->br_form);
	if ((form = (const char *)evbuffer_pullup(br->br_form, -1)) == NULL)
		form = "";
	free(br->br_url);
	br->br_url = NULL;
	if ((br->br_method == BOT_GET || br->br_method == BOT_DELETE) &&
	    flen > 0) {
		if (asprintf(&br->br_url, "%s/api/v1%s?%.*s", bc->bc_site,
		    br->br_path, (int)flen, form) == -1)
			br->br_url = NULL;
	} else if (asprintf(&br->br_url, "%s/api/v1%s", bc->bc_site,
	    br->br_path) == -1)
		br->br_url = NULL;
	if (br->br_url == NULL)
		return (-1);
	curl_easy_setopt(e, CURLOPT_URL, br->br_url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, priv);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "sbxd/" PACKAGE_VERSION);
	curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
	curl_easy_setopt(e, CURLOPT_USERNAME, bc->bc_email);
	curl_easy_setopt(e, CURLOPT_PASSWORD, bc->bc_key);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (bc->bc_ca_pem != NULL) {
		curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, curlev_ca);
		curl_easy_setopt(e, CURLOPT_SSL_CTX_DATA, bc->bc_ca_pem);
	}
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, (long)BOT_CONNECT_SECS);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, br->br_poll > 0 ? br->br_poll :
	    (long)BOT_CALL_SECS);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, bot_req_writecb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, br);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, bot_req_headercb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, br);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, br->br_err);
	switch (br->br_method) {
	case BOT_GET:
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
		break;
	case BOT_DELETE:
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "DELETE");
		break;
	case BOT_PATCH:
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "PATCH");
		/* FALLTHROUGH */
	case BOT_POST:
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)flen);
		curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, form);
		break;
	}
	return (0);
}

/* Forget what the last try brought. */
static void
bot_req_reset(struct bot_req *br)
{
	evbuffer_drain(br->br_body, evbuffer_get_length(br->br_body));
	br->br_status = 0;
	br->br_timedout = 0;
	br->br_toolong = 0;
	br->br_retry_after = 0;
	br->br_rl_limit = br->br_rl_remaining = br->br_rl_reset = -1;
	br->br_code[0] = br->br_msg[0] = br->br_err[0] = '\0';
	br->br_ctype[0] = '\0';
}

static size_t
bot_req_writecb(char *p, size_t size, size_t n, void *arg)
{
	struct bot_req	*br = arg;

	if (evbuffer_get_length(br->br_body) + n > BOT_BODY_MAX) {
		br->br_toolong = 1;
		return (0);	/* stops the transfer */
	}
	if (evbuffer_add(br->br_body, p, size * n) == -1)
		return (0);
	return (n);
}

/* A header value as a number, or -1. */
static double
bot_req_number(const char *v, size_t len)
{
	char	 buf[32], *end;
	double	 d;

	while (len > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		len--;
	}
	while (len > 0 && (v[len - 1] == '\r' || v[len - 1] == '\n' ||
	    v[len - 1] == ' '))
		len--;
	if (len == 0 || len >= sizeof(buf))
		return (-1);
	memcpy(buf, v, len);
	buf[len] = '\0';
	d = strtod(buf, &end);
	if (*end != '\0' || d < 0 || d > 1e12)
		return (-1);
	return (d);
}

/* Retry-After, X-RateLimit-* and Content-Type. */
static size_t
bot_req_headercb(char *p, size_t size, size_t n, void *arg)
{
	struct bot_req	*br = arg;
	size_t		 len = size * n;
	const char	*colon;
	size_t		 nlen;

	if (len > 5 && strncmp(p, "HTTP/", 5) == 0) {
		/* A new response (after 100 Continue): start again. */
		br->br_retry_after = 0;
		br->br_ctype[0] = '\0';
		return (n);
	}
	if ((colon = memchr(p, ':', len)) == NULL)
		return (n);
	nlen = colon - p;
	colon++;
	len -= nlen + 1;
#define HDR(name) (nlen == strlen(name) && strncasecmp(p, name, nlen) == 0)
	if (HDR("Retry-After"))
		br->br_retry_after = bot_req_number(colon, len);
	else if (HDR("X-RateLimit-Limit"))
		br->br_rl_limit = bot_req_number(colon, len);
	else if (HDR("X-RateLimit-Remaining"))
		br->br_rl_remaining = bot_req_number(colon, len);
	else if (HDR("X-RateLimit-Reset"))
		br->br_rl_reset = bot_req_number(colon, len);
	else if (HDR("Content-Type")) {
		while (len > 0 && *colon == ' ') {
			colon++;
			len--;
		}
		snprintf(br->br_ctype, sizeof(br->br_ctype), "%.*s",
		    (int)strcspn(colon, ";\r\n"), colon);
	}
#undef HDR
	return (n);
}

/*
 * The try ended with the transfer's code.  Decide what it was; a
 * failure that is safe to repeat goes back to the queue, anything else
 * goes to the callback, and the request is freed.
 */
void
bot_req_done(struct bot_req *br, int code)
{
	enum bot_result	 res;
	json_t		*body = NULL, *v;
	json_error_t	 jerr;
	const char	*data, *s;
	size_t		 len;

	curl_easy_getinfo(br->br_easy, CURLINFO_RESPONSE_CODE,
	    &br->br_status);
	if (br->br_rl_limit > 0 || br->br_rl_remaining >= 0)
		bot_rate_seen(br->br_rl_limit, br->br_rl_remaining,
		    br->br_rl_reset);
	len = evbuffer_get_length(br->br_body);
	data = (const char *)evbuffer_pullup(br->br_body, -1);
	if (code != CURLE_OK) {
		res = BOT_ENET;
		br->br_timedout = code == CURLE_OPERATION_TIMEDOUT;
		if (br->br_toolong)
			snprintf(br->br_msg, sizeof(br->br_msg), "the answer "
			    "is longer than %d bytes", BOT_BODY_MAX);
		else
			snprintf(br->br_msg, sizeof(br->br_msg), "%s",
			    br->br_err[0] != '\0' ? br->br_err :
			    curl_easy_strerror(code));
	} else if ((body = json_loadb(data != NULL ? data : "", len, 0,
	    &jerr)) == NULL || !json_is_object(body) ||
	    (s = json_string_value(json_object_get(body, "result"))) ==
	    NULL) {
		res = BOT_EHTTP;
		snprintf(br->br_msg, sizeof(br->br_msg), "HTTP %ld, not a "
		    "Zulip answer (%s%s%zu bytes)", br->br_status,
		    br->br_ctype[0] != '\0' ? br->br_ctype : "no type",
		    br->br_ctype[0] != '\0' ? ", " : ", ", len);
		json_decref(body);
		body = NULL;
	} else if (strcmp(s, "success") == 0 && br->br_status >= 200 &&
	    br->br_status < 300)
		res = BOT_OK;
	else {
		res = BOT_EAPI;
		snprintf(br->br_code, sizeof(br->br_code), "%s",
		    json_string_value(json_object_get(body, "code")) != NULL ?
		    json_string_value(json_object_get(body, "code")) :
		    "BAD_REQUEST");
		snprintf(br->br_msg, sizeof(br->br_msg), "HTTP %ld %s: %s",
		    br->br_status, br->br_code,
		    json_string_value(json_object_get(body, "msg")) != NULL ?
		    json_string_value(json_object_get(body, "msg")) : "");
		if (br->br_status == 429 && (v = json_object_get(body,
		    "retry-after")) != NULL && json_is_number(v) &&
		    json_number_value(v) > br->br_retry_after)
			br->br_retry_after = json_number_value(v);
	}
	if (res != BOT_OK && bot_req_retry(br, res)) {
		json_decref(body);
		return;
	}
	if (br->br_cb != NULL)
		br->br_cb(br, res, body, br->br_arg);
	json_decref(body);
	bot_req_finished(br);
	bot_req_free(br);
}

/*
 * Whether a failed try goes back to the queue.  A 429 was not done by
 * the server: always again, after Retry-After (the budget waits).  A
 * connection that never carried the request, and a 5xx or a timeout of
 * a call that does the same twice (not a send), again while tries are
 * left.
 */
static int
bot_req_retry(struct bot_req *br, enum bot_result res)
{
	long	 sent = 0;
	int	 again = 0;

	if (br->br_status == 429) {
		bot_rate_hit(br->br_retry_after > 0 ? br->br_retry_after : 1);
		bot_nretries++;
		log_info("bot: %s: rate limited, again in %.1f s",
		    br->br_path, br->br_retry_after);
		bot_req_finished(br);
		bot_queue(br);
		return (1);
	}
	if (++br->br_tries >= br->br_maxtries)
		return (0);
	curl_easy_getinfo(br->br_easy, CURLINFO_REQUEST_SIZE, &sent);
	if (res == BOT_ENET && br->br_status == 0 && sent == 0)
		again = 1;	/* nothing was sent */
	else if (br->br_method != BOT_POST ||
	    strcmp(br->br_path, "/messages") != 0)
		again = (res == BOT_ENET || (res == BOT_EHTTP &&
		    br->br_status >= 500));
	if (!again)
		return (0);
	bot_nretries++;
	br->br_notbefore = bot_now() + bot_jitter(1 << br->br_tries);
	log_info("bot: %s: %s; trying again", br->br_path, br->br_msg);
	bot_req_finished(br);
	bot_queue(br);
	return (1);
}

enum bot_prio
bot_req_prio(const struct bot_req *br)
{
	return (br->br_prio);
}

int
bot_req_is_poll(const struct bot_req *br)
{
	return (br->br_poll > 0);
}

long
bot_req_status(const struct bot_req *br)
{
	return (br->br_status);
}

const char *
bot_req_code(const struct bot_req *br)
{
	return (br->br_code);
}

const char *
bot_req_error(const struct bot_req *br)
{
	return (br->br_msg);
}

const char *
bot_req_path(const struct bot_req *br)
{
	return (br->br_path);
}

double
bot_req_retry_after(const struct bot_req *br)
{
	return (br->br_retry_after);
}

int
bot_req_timed_out(const struct bot_req *br)
{
	return (br->br_timedout);
}

double
bot_req_notbefore(const struct bot_req *br)
{
	return (br->br_notbefore);
}

void *
bot_req_easy(const struct bot_req *br)
{
	return (br->br_easy);
}
