/*
 * proxy_http.c: strict HTTP/1.1 message parsing for the forward proxy
 * (RFC 9110, RFC 9112), with no I/O.  The proxy core hands in the bytes
 * it has read; this file finds where a head ends, parses a request or
 * response head into a private copy with one slice per field line,
 * decides how the body is delimited, validates a chunked body as it
 * streams past unchanged, and writes the head to send on without its
 * hop-by-hop fields.
 *
 * Whatever two parsers could read differently is refused, not repaired:
 * a proxy that frames a message unlike the server behind it can be made
 * to smuggle a second request past its policy.  The destination always
 * comes from the request target, never from Host, and every host goes
 * through policy_host_parse, so the policy sees exactly one spelling.
 * The framing fields the proxy forwards (Content-Length,
 * Transfer-Encoding, Host) are written out in one canonical form.
 */

#include <sys/types.h>

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>


#include "config.h"
#include "sbxd.h"
#include "proxy_http.h"

#define HTTP_VIA_NAME		"sbxd"	/* our pseudonym in Via */
#define HTTP_DEFAULT_PORT	80	/* of http:// targets */
#define HTTP_ALIGN		16	/* of the field array after the copy */
#define HTTP_CHUNK_DIGITS_MAX	16	/* 2^62 needs 16 hex digits; more is
					   padding no real client sends */

/* Character classes of http_ctype. */
#define HTTP_C_TCHAR		0x01	/* token (RFC 9110 5.6.2) */
#define HTTP_C_VCHAR		0x02	/* visible ASCII */
#define HTTP_C_WS		0x04	/* SP, HTAB */
#define HTTP_C_OBS		0x08	/* obs-text, 0x80-0xff */
#define HTTP_C_HEX		0x10
#define HTTP_C_DIGIT		0x20
#define HTTP_WRITE_SLACK	512	/* what a rewrite may add to a head:
					   Host, Content-Length, Via and
					   Connection lines */
#define HTTP_ONES		0x0101010101010101ULL	/* one per byte */
#define HTTP_PUT(o, lit)	http_put((o), (lit), sizeof(lit) - 1)
#define HTTP_IS(c, cl)		(http_ctype[(unsigned char)(c)] & (cl))
#define HTTP_EQ(s, n, lit)	http_eq((s), (n), (lit), sizeof(lit) - 1)

/* What http_authority found wrong. */
#define HTTP_AUTH_HOST		-1
#define HTTP_AUTH_PORT		-2
#define HTTP_AUTH_USERINFO	-3

/* Where the chunked decoder is; the order matters to http_chunk_byte. */
enum http_chunk_state {
	HTTP_CH_SIZE0,		/* first hex digit of a chunk size */
	HTTP_CH_SIZE,
	HTTP_CH_EXT_NAME0,	/* after ';' */
	HTTP_CH_EXT_NAME,
	HTTP_CH_EXT_VALUE0,	/* after '=' */
	HTTP_CH_EXT_TOKEN,
	HTTP_CH_EXT_QUOTED,
	HTTP_CH_EXT_QPAIR,	/* after '\' in a quoted value */
	HTTP_CH_EXT_END,	/* after a quoted value */
	HTTP_CH_SIZE_LF,	/* the size line's LF */
	HTTP_CH_DATA,
	HTTP_CH_DATA_CR,	/* CRLF after the data */
	HTTP_CH_DATA_LF,
	HTTP_CH_TR_START,	/* a trailer field or the final CRLF */
	HTTP_CH_TR_NAME,
	HTTP_CH_TR_VALUE,
	HTTP_CH_TR_LF,
	HTTP_CH_END_LF,		/* the body's last byte */
	HTTP_CH_DONE,
	HTTP_CH_ERROR
};

/* What one parse collects beyond the message itself. */
struct http_parse {
	struct proxy_http_msg		*hp_msg;
	struct proxy_http_error		*hp_err;
	int				 hp_response;
	int				 hp_origin;	/* origin-form
							   targets */
	size_t				 hp_ncl;	/* Content-Length
							   lines */
	size_t				 hp_nte;	/* Transfer-Encoding
							   lines */
	int				 hp_te_other;	/* not "chunked" */
	size_t				 hp_nhost;
	const struct proxy_http_field	*hp_host;
	size_t				 hp_nupgrade;
	int				 hp_upgrade_ws;
	int				 hp_expect;	/* 1: 100-continue,
							   -1: other */
	size_t				 hp_ntokens;	/* Connection options */
};

/* A head being written into space reserved in an evbuffer. */
struct http_out {
	char		*ho_p;
	char		*ho_end;
	int		 ho_full;	/* ran out of room */
};

/* A field name the parser acts on. */
struct http_known {
	const char	*hk_name;
	size_t		 hk_len;
	int		 hk_kind;
	int		 hk_hop;	/* hop-by-hop (RFC 9110 7.6.1) */
};

static int	http_eq(const char *, size_t, const char *, size_t);
static int	http_fail(struct http_parse *, int, const char *,
		    const char *);
static int	http_scan_fail(struct proxy_http_scan *,
		    struct proxy_http_error *, int, const char *,
		    const char *);
static int	http_msg_init(struct http_parse *, const char *, size_t);
static int	http_first_line(struct http_parse *, size_t *);
static int	http_request_line(struct http_parse *,
		    struct proxy_http_request *);
static int	http_request_version(struct http_parse *, const char *,
		    size_t, const char *, size_t, const char *, size_t);
static int	http_target(struct http_parse *,
		    struct proxy_http_request *, const char *, size_t);
static int	http_request_parse(const char *, size_t,
		    struct proxy_http_request *, struct proxy_http_error *, int);
static int	http_target_absolute(struct http_parse *,
		    struct proxy_http_request *, const char *, size_t);
static int	http_target_chars(struct http_parse *, const char *,
		    size_t);
static int	http_authority(const char *, size_t, int,
		    struct sbxd_host *, uint16_t *, const char **);
static int	http_authority_fail(struct http_parse *, int, const char *,
		    int);
static int	http_port(const char *, size_t, uint16_t *, const char **);
static int	http_fields_parse(struct http_parse *);
static int	http_field_parse(struct http_parse *, const char *, size_t);
static int	http_value_check(struct http_parse *, const char *, size_t);
static const struct http_known *http_known_find(const char *, size_t);
static int	http_field_note(struct http_parse *,
		    const struct proxy_http_field *);
static int	http_content_length(struct http_parse *, const char *,
		    size_t);
static int	http_list_next(const char **, const char *, const char **,
		    size_t *);
static int	http_connection(struct http_parse *);
static int	http_tokens(struct http_parse *,
		    const struct proxy_http_field *, int);
static int	http_option(struct http_parse *, const char *, size_t);
static int	http_framing(struct http_parse *);
static void	http_persist_set(struct proxy_http_msg *);
static int	http_request_host(struct http_parse *,
		    struct proxy_http_request *);
static int	http_request_body(struct http_parse *,
		    struct proxy_http_request *);
static int	http_request_options(struct http_parse *,
		    struct proxy_http_request *);
static int	http_status_line(struct http_parse *,
		    struct proxy_http_response *);
static int	http_response_body(struct http_parse *,
		    const struct proxy_http_request *,
		    struct proxy_http_response *);
static int	http_response_switch(struct http_parse *,
		    const struct proxy_http_request *,
		    struct proxy_http_response *);
static void	http_fields_write(const struct proxy_http_msg *,
		    struct http_out *, int, const char *);
static int	http_field_verbatim(const struct proxy_http_msg *, size_t,
		    int, int);
static void	http_field_rewrite(const struct proxy_http_msg *, size_t,
		    struct http_out *, const char *, int *);
static void	http_head_end(const struct proxy_http_msg *,
		    struct http_out *, int, int);
static int	http_out_begin(struct evbuffer *, size_t, struct http_out *,
		    struct evbuffer_iovec *);
static int	http_out_end(struct evbuffer *, struct http_out *,
		    struct evbuffer_iovec *);
static void	http_put(struct http_out *, const char *, size_t);
static void	http_put_u64(struct http_out *, uint64_t);
static void	http_put_host(struct http_out *, const char *);
static void	http_put_via(struct http_out *, const struct proxy_http_msg *);
static int	http_chunk_fail(struct proxy_http_chunked *,
		    struct proxy_http_error *, const char *, const char *);
static int	http_chunk_byte(struct proxy_http_chunked *, unsigned char,
		    struct proxy_http_error *);
static int	http_chunk_size(struct proxy_http_chunked *, unsigned char,
		    struct proxy_http_error *);
static int	http_chunk_ext(struct proxy_http_chunked *, unsigned char,
		    struct proxy_http_error *);
static int	http_chunk_ext_end(struct proxy_http_chunked *,
		    unsigned char, struct proxy_http_error *);
static int	http_chunk_eol(struct proxy_http_chunked *, unsigned char,
		    struct proxy_http_error *);
static int	http_chunk_trailer(struct proxy_http_chunked *,
		    unsigned char, struct proxy_http_error *);

static const unsigned char http_ctype[256] = {
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,	/* 00 */
	0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,	/* 08 */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,	/* 10 */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,	/* 18 */
	0x04, 0x03, 0x02, 0x03, 0x03, 0x03, 0x03, 0x03,	/* 20 */
	0x02, 0x02, 0x03, 0x03, 0x02, 0x03, 0x03, 0x02,	/* 28 */
	0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33,	/* 30 */
	0x33, 0x33, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,	/* 38 */
	0x02, 0x13, 0x13, 0x13, 0x13, 0x13, 0x13, 0x03,	/* 40 */
	0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03,	/* 48 */
	0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03,	/* 50 */
	0x03, 0x03, 0x03, 0x02, 0x02, 0x02, 0x03, 0x03,	/* 58 */
	0x03, 0x13, 0x13, 0x13, 0x13, 0x13, 0x13, 0x03,	/* 60 */
	0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03,	/* 68 */
	0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03,	/* 70 */
	0x03, 0x03, 0x03, 0x02, 0x03, 0x02, 0x03, 0x00,	/* 78 */
	0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08,	/* 80 */
	0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08,	/* 88 */
	0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08,	/* 90 */
	0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08,	/* 98 */
	0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08,	/* a0 */
	0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08,	/* a8 */
	0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08,	/* b0 */
	0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08,	/* b8 */
	0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08,	/* c0 */
	0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08,	/* c8 */
	0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08,	/* d0 */
	0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08,	/* d8 */
	0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08,	/* e0 */
	0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08,	/* e8 */
	0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08,	/* f0 */
	0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08,	/* f8 */
};

static const struct http_known http_known[] = {
	{ "Host", 4, PROXY_HTTP_K_HOST, 0 },
	{ "Content-Length", 14, PROXY_HTTP_K_CONTENT_LENGTH, 0 },
	{ "Transfer-Encoding", 17, PROXY_HTTP_K_TRANSFER_ENCODING, 0 },
	{ "Connection", 10, PROXY_HTTP_K_CONNECTION, 1 },
	{ "Proxy-Connection", 16, PROXY_HTTP_K_PROXY_CONNECTION, 1 },
	{ "Keep-Alive", 10, PROXY_HTTP_K_KEEP_ALIVE, 1 },
	{ "TE", 2, PROXY_HTTP_K_TE, 1 },
	{ "Trailer", 7, PROXY_HTTP_K_TRAILER, 1 },
	{ "Upgrade", 7, PROXY_HTTP_K_UPGRADE, 1 },
	{ "Proxy-Authorization", 19, PROXY_HTTP_K_PROXY_AUTHORIZATION, 1 },
	{ "Proxy-Authenticate", 18, PROXY_HTTP_K_PROXY_AUTHENTICATE, 1 },
	{ "Proxy-Authentication-Info", 25,
	    PROXY_HTTP_K_PROXY_AUTHENTICATION_INFO, 1 },
	{ "Expect", 6, PROXY_HTTP_K_EXPECT, 0 },
	{ "Via", 3, PROXY_HTTP_K_VIA, 0 },
};

/* The statuses the proxy answers with itself. */
static const struct http_status {
	int		 hs_status;
	const char	*hs_text;
} http_status[] = {
	{ 200, "OK" },
	{ 400, "Bad Request" },
	{ 403, "Forbidden" },
	{ 404, "Not Found" },
	{ 405, "Method Not Allowed" },
	{ 407, "Proxy Authentication Required" },
	{ 408, "Request Timeout" },
	{ 411, "Length Required" },
	{ 413, "Content Too Large" },
	{ 414, "URI Too Long" },
	{ 417, "Expectation Failed" },
	{ 429, "Too Many Requests" },
	{ 431, "Request Header Fields Too Large" },
	{ 500, "Internal Server Error" },
	{ 501, "Not Implemented" },
	{ 502, "Bad Gateway" },
	{ 503, "Service Unavailable" },
	{ 504, "Gateway Timeout" },
	{ 505, "HTTP Version Not Supported" },
};

/* Case-insensitive equality of s (n bytes) and lit. */
static int
http_eq(const char *s, size_t n, const char *lit, size_t litlen)
{
	return (n == litlen && strncasecmp(s, lit, n) == 0);
}

/* Refuse the message being parsed; a response's refusal is a 502. */
static int
http_fail(struct http_parse *hp, int status, const char *reason,
    const char *detail)
{
	hp->hp_err->status = hp->hp_response ? 502 : status;
	hp->hp_err->reason = reason;
	hp->hp_err->detail = detail != NULL ? detail : reason;
	return (-1);
}

/* Start looking for the end of a new head; response for upstream's. */
void
proxy_http_scan_init(struct proxy_http_scan *hs, int response)
{
	memset(hs, 0, sizeof(*hs));
	hs->hs_response = response;
}

/* Refuse a head while scanning it; reset hs. */
static int
http_scan_fail(struct proxy_http_scan *hs, struct proxy_http_error *err,
    int status, const char *reason, const char *detail)
{
	err->status = hs->hs_response ? 502 : status;
	err->reason = reason;
	err->detail = detail;
	proxy_http_scan_init(hs, hs->hs_response);
	return (PROXY_HTTP_ERROR);
}

/*
 * Look for the end of a head in the len bytes received so far.  Each
 * call resumes where the last stopped, so buf must start with the same
 * bytes.  Returns PROXY_HTTP_MORE, PROXY_HTTP_DONE with *headlen (the
 * empty line included) or PROXY_HTTP_ERROR; the last two leave hs
 * ready for the next head.
 */
int
proxy_http_head_scan(struct proxy_http_scan *hs, const char *buf,
    size_t len, size_t *headlen, struct proxy_http_error *err)
{
	const char	*lf;
	size_t		 end, i;

	end = len < PROXY_HTTP_HEAD_MAX ? len : PROXY_HTTP_HEAD_MAX;
	while (hs->hs_off < end) {
		lf = memchr(buf + hs->hs_off, '\n', end - hs->hs_off);
		if (lf == NULL) {
			hs->hs_off = end;
			break;
		}
		i = lf - buf;
		hs->hs_off = i + 1;
		if (i == 0 || buf[i - 1] != '\r')
			return (http_scan_fail(hs, err, 400, "bare-lf",
			    "LF without CR in the head"));
		if (i - hs->hs_line == 1) {
			if (hs->hs_line == 0)
				return (http_scan_fail(hs, err, 400,
				    "empty-first-line",
				    "head starts with CRLF"));
			*headlen = i + 1;
			proxy_http_scan_init(hs, hs->hs_response);
			return (PROXY_HTTP_DONE);
		}
		if (hs->hs_line > 0 && ++hs->hs_fields > PROXY_HTTP_FIELDS_MAX)
			return (http_scan_fail(hs, err, 431, "too-many-fields",
			    "more field lines than allowed"));
		hs->hs_line = i + 1;
	}
	if (len >= PROXY_HTTP_HEAD_MAX)
		return (http_scan_fail(hs, err, 431, "head-too-large",
		    "head over 64 KiB"));
	return (PROXY_HTTP_MORE);
}

/*
 * Copy the head (which must end in its empty line) and size the field
 * array from its line count, in one allocation.
 */
static int
http_msg_init(struct http_parse *hp, const char *head, size_t len)
{
	struct proxy_http_msg	*m = hp->hp_msg;
	const char		*p, *end = head + len;
	size_t			 lines = 0, off;

	m->hm_cl = m->hm_via = -1;
	if (len > PROXY_HTTP_HEAD_MAX)
		return (http_fail(hp, 431, "head-too-large", NULL));
	if (len < 4 || memcmp(end - 4, "\r\n\r\n", 4) != 0)
		return (http_fail(hp, 400, "incomplete-head",
		    "head does not end with an empty line"));
	for (p = head; (p = memchr(p, '\n', end - p)) != NULL; p++)
		lines++;
	if (lines - 2 > PROXY_HTTP_FIELDS_MAX)
		return (http_fail(hp, 431, "too-many-fields", NULL));
	off = (len + 1 + HTTP_ALIGN - 1) & ~(size_t)(HTTP_ALIGN - 1);
	if ((m->hm_buf = malloc(off + (lines - 1) *
	    sizeof(*m->hm_fields))) == NULL)
		return (http_fail(hp, 500, "no-memory", NULL));
	memcpy(m->hm_buf, head, len);
	m->hm_buf[len] = '\0';
	m->hm_len = len;
	m->hm_fields = (struct proxy_http_field *)(m->hm_buf + off);
	return (0);
}

/* Find the first line's end; *n is its length without CRLF. */
static int
http_first_line(struct http_parse *hp, size_t *n)
{
	struct proxy_http_msg	*m = hp->hp_msg;
	const char		*lf;

	lf = memchr(m->hm_buf, '\n', m->hm_len);
	if (lf == m->hm_buf || lf[-1] != '\r')
		return (http_fail(hp, 400, "bare-lf", NULL));
	*n = lf - 1 - m->hm_buf;
	m->hm_linelen = *n + 2;
	if (*n == 0)
		return (http_fail(hp, 400, "empty-first-line", NULL));
	return (0);
}

/*
 * Parse the request head (len bytes ending in its empty line) into rq,
 * which owns a copy.  Returns 0, or -1 with err filled in and rq freed.
 */
int
proxy_http_request_parse(const char *head, size_t len,
    struct proxy_http_request *rq, struct proxy_http_error *err)
{
	return (http_request_parse(head, len, rq, err, 0));
}

/*
 * The same for a server rather than a proxy (the credential gateway):
 * the target is in origin-form, "/path?query", and CONNECT is refused.
 * rq_host and rq_port stay empty.
 */
int
proxy_http_request_parse_origin(const char *head, size_t len,
    struct proxy_http_request *rq, struct proxy_http_error *err)
{
	return (http_request_parse(head, len, rq, err, 1));
}

static int
http_request_parse(const char *head, size_t len,
    struct proxy_http_request *rq, struct proxy_http_error *err, int origin)
{
	struct http_parse	 hp;

	memset(rq, 0, sizeof(*rq));
	memset(&hp, 0, sizeof(hp));
	hp.hp_origin = origin;
	hp.hp_msg = &rq->rq_msg;
	hp.hp_err = err;
	if (http_msg_init(&hp, head, len) == -1 ||
	    http_request_line(&hp, rq) == -1 ||
	    http_fields_parse(&hp) == -1 ||
	    http_request_host(&hp, rq) == -1 ||
	    http_request_body(&hp, rq) == -1 ||
	    http_request_options(&hp, rq) == -1) {
		proxy_http_request_free(rq);
		return (-1);
	}
	return (0);
}

/* Release what rq holds; safe on a zeroed or freed request. */
void
proxy_http_request_free(struct proxy_http_request *rq)
{
	free(rq->rq_msg.hm_buf);
	memset(rq, 0, sizeof(*rq));
}

/* method SP request-target SP HTTP-version, one SP each. */
static int
http_request_line(struct http_parse *hp, struct proxy_http_request *rq)
{
	struct proxy_http_msg	*m = hp->hp_msg;
	char			*buf = m->hm_buf, *sp1, *sp2, *t;
	size_t			 n, i;

	if (http_first_line(hp, &n) == -1)
		return (-1);
	if ((sp1 = memchr(buf, ' ', n)) == NULL || sp1 == buf)
		return (http_fail(hp, 400, "bad-request-line", NULL));
	for (i = 0; buf + i < sp1; i++)
		if (!HTTP_IS(buf[i], HTTP_C_TCHAR))
			return (http_fail(hp, 400, "bad-request-line",
			    "method is not a token"));
	t = sp1 + 1;
	if ((sp2 = memchr(t, ' ', buf + n - t)) == NULL || sp2 == t)
		return (http_fail(hp, 400, "bad-request-line", NULL));
	if (http_request_version(hp, buf, sp1 - buf, t, sp2 - t, sp2 + 1,
	    buf + n - (sp2 + 1)) == -1)
		return (-1);
	*sp1 = '\0';
	*sp2 = '\0';
	rq->rq_method = buf;
	rq->rq_target = t;
	if (strcmp(buf, "CONNECT") == 0)
		m->hm_flags |= PROXY_HTTP_F_CONNECT;
	else if (strcmp(buf, "HEAD") == 0)
		m->hm_flags |= PROXY_HTTP_F_HEAD;
	else if (strcmp(buf, "GET") == 0)
		m->hm_flags |= PROXY_HTTP_F_GET;
	return (http_target(hp, rq, t, sp2 - t));
}

/* HTTP/1.1 or HTTP/1.0; another HTTP/x.y is a 505, anything else 400. */
static int
http_request_version(struct http_parse *hp, const char *method,
    size_t mlen, const char *t, size_t tlen, const char *v, size_t vlen)
{
	if (vlen != 8 || memcmp(v, "HTTP/", 5) != 0 ||
	    !HTTP_IS(v[5], HTTP_C_DIGIT) || v[6] != '.' ||
	    !HTTP_IS(v[7], HTTP_C_DIGIT))
		return (http_fail(hp, 400, "bad-version", NULL));
	if (v[5] == '1' && (v[7] == '1' || v[7] == '0')) {
		hp->hp_msg->hm_version = v[7] == '1' ? 11 : 10;
		return (0);
	}
	if (mlen == 3 && memcmp(method, "PRI", 3) == 0 && tlen == 1 &&
	    t[0] == '*' && memcmp(v + 5, "2.0", 3) == 0)
		return (http_fail(hp, 505, "http2-prior-knowledge",
		    "HTTP/2 connection preface"));
	return (http_fail(hp, 505, "version", "HTTP version not supported"));
}

/* CONNECT takes authority-form; every other method absolute-form. */
static int
http_target(struct http_parse *hp, struct proxy_http_request *rq,
    const char *t, size_t n)
{
	const char	*why, *q;
	int		 r;

	if (hp->hp_origin) {
		if (hp->hp_msg->hm_flags & PROXY_HTTP_F_CONNECT)
			return (http_fail(hp, 405, "connect",
			    "not a proxy: CONNECT is not served"));
		if (t[0] != '/')
			return (http_fail(hp, 400, "not-origin-form",
			    "the request target must be a path"));
		if (http_target_chars(hp, t, n) == -1)
			return (-1);
		q = memchr(t, '?', n);
		rq->rq_path = t;
		rq->rq_pathlen = q == NULL ? n : (size_t)(q - t);
		rq->rq_query = t + rq->rq_pathlen;
		rq->rq_querylen = n - rq->rq_pathlen;
		return (0);
	}
	if (hp->hp_msg->hm_flags & PROXY_HTTP_F_CONNECT) {
		if (http_target_chars(hp, t, n) == -1)
			return (-1);
		r = http_authority(t, n, 1, &rq->rq_host, &rq->rq_port, &why);
		rq->rq_path = rq->rq_query = "";
		return (http_authority_fail(hp, r, why, 0));
	}
	if (n == 1 && t[0] == '*')
		return (http_fail(hp, 400, "asterisk-form", NULL));
	if (t[0] == '/')
		return (http_fail(hp, 400, "origin-form",
		    "a proxy request needs an absolute URI"));
	return (http_target_absolute(hp, rq, t, n));
}

/* Visible ASCII only, and no fragment. */
static int
http_target_chars(struct http_parse *hp, const char *t, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		if ((unsigned char)t[i] >= 0x80)
			return (http_fail(hp, 400, "non-ascii",
			    "non-ASCII byte in the request target"));
		if (!HTTP_IS(t[i], HTTP_C_VCHAR))
			return (http_fail(hp, 400, "bad-target",
			    "control byte in the request target"));
		if (t[i] == '#')
			return (http_fail(hp, 400, "fragment", NULL));
	}
	return (0);
}

/* http://authority[/path][?query]; the scheme decides 400 or 501. */
static int
http_target_absolute(struct http_parse *hp, struct proxy_http_request *rq,
    const char *t, size_t n)
{
	const char	*a, *end = t + n, *p, *why;
	size_t		 i = 0;
	int		 r;

	if (http_target_chars(hp, t, n) == -1)
		return (-1);
	if (isalpha((unsigned char)t[0]))
		while (i < n && (isalnum((unsigned char)t[i]) || t[i] == '+' ||
		    t[i] == '-' || t[i] == '.'))
			i++;
	if (i == 0 || n - i < 3 || memcmp(t + i, "://", 3) != 0)
		return (http_fail(hp, 400, "bad-target", NULL));
	if (HTTP_EQ(t, i, "https"))
		return (http_fail(hp, 400, "https-absolute-form",
		    "use CONNECT for https"));
	if (!HTTP_EQ(t, i, "http"))
		return (http_fail(hp, 501, "unsupported-scheme", NULL));
	for (a = p = t + i + 3; p < end && *p != '/' && *p != '?'; p++)
		;
	r = http_authority(a, p - a, 0, &rq->rq_host, &rq->rq_port, &why);
	if (http_authority_fail(hp, r, why, 0) == -1)
		return (-1);
	if (rq->rq_port == 0)
		rq->rq_port = HTTP_DEFAULT_PORT;
	for (rq->rq_path = p; p < end && *p != '?'; p++)
		;
	if ((rq->rq_pathlen = p - rq->rq_path) == 0) {
		rq->rq_path = "/";
		rq->rq_pathlen = 1;
	}
	rq->rq_query = p;
	rq->rq_querylen = end - p;
	return (0);
}

/*
 * host[:port] into h and *port (0 when absent and not needed).  Returns
 * 0, or HTTP_AUTH_* with *why set.
 */
static int
http_authority(const char *s, size_t n, int needport, struct sbxd_host *h,
    uint16_t *port, const char **why)
{
	const char	*e;
	size_t		 hlen;

	*port = 0;
	if (memchr(s, '@', n) != NULL) {
		*why = "userinfo in the authority";
		return (HTTP_AUTH_USERINFO);
	}
	if (n > 0 && s[0] == '[') {
		e = memchr(s, ']', n);
		hlen = e == NULL ? n : (size_t)(e - s) + 1;
	} else {
		e = memchr(s, ':', n);
		hlen = e == NULL ? n : (size_t)(e - s);
	}
	if (policy_host_parse(s, hlen, h, why) == -1)
		return (HTTP_AUTH_HOST);
	if (hlen == n) {
		if (!needport)
			return (0);
		*why = "no port";
		return (HTTP_AUTH_PORT);
	}
	if (s[hlen] != ':') {
		*why = "junk after the IPv6 address";
		return (HTTP_AUTH_HOST);
	}
	return (http_port(s + hlen + 1, n - hlen - 1, port, why));
}

/* A port: 1 to 5 digits, no leading zero, 1-65535. */
static int
http_port(const char *s, size_t n, uint16_t *port, const char **why)
{
	size_t		 i;
	unsigned int	 v = 0;

	*why = "port not 1-65535 in plain decimal";
	if (n == 0 || n > 5 || s[0] == '0')
		return (HTTP_AUTH_PORT);
	for (i = 0; i < n; i++) {
		if (!HTTP_IS(s[i], HTTP_C_DIGIT))
			return (HTTP_AUTH_PORT);
		v = v * 10 + (s[i] - '0');
	}
	if (v > 65535)
		return (HTTP_AUTH_PORT);
	*port = v;
	return (0);
}

/* Turn http_authority's answer r into a refusal, or pass 0 on. */
static int
http_authority_fail(struct http_parse *hp, int r, const char *why,
    int field)
{
	if (r == 0)
		return (0);
	if (r == HTTP_AUTH_USERINFO)
		return (http_fail(hp, 400, "userinfo", why));
	if (field)
		return (http_fail(hp, 400, "bad-host-header", why));
	return (http_fail(hp, 400, r == HTTP_AUTH_PORT ? "bad-port" :
	    "bad-host", why));
}

/* Every field line up to the empty line, then the Connection options. */
static int
http_fields_parse(struct http_parse *hp)
{
	struct proxy_http_msg	*m = hp->hp_msg;
	const char		*p, *end, *lf;
	size_t			 n;

	p = m->hm_buf + m->hm_linelen;
	end = m->hm_buf + m->hm_len;
	for (;;) {
		lf = memchr(p, '\n', end - p);	/* the head ends in LF */
		if (lf == p || lf[-1] != '\r')
			return (http_fail(hp, 400, "bare-lf", NULL));
		if ((n = lf - 1 - p) == 0)
			break;
		if (http_field_parse(hp, p, n) == -1)
			return (-1);
		p = lf + 1;
	}
	if (lf + 1 != end)
		return (http_fail(hp, 400, "incomplete-head",
		    "bytes after the empty line"));
	return (http_connection(hp));
}

/* name ":" OWS value OWS; p holds n bytes, the CRLF follows. */
static int
http_field_parse(struct http_parse *hp, const char *p, size_t n)
{
	struct proxy_http_msg		*m = hp->hp_msg;
	struct proxy_http_field		*f;
	const struct http_known		*k;
	size_t				 i, v, e;

	if (HTTP_IS(p[0], HTTP_C_WS))
		return (http_fail(hp, 400, "obs-fold",
		    "field line starts with whitespace"));
	for (i = 0; i < n && HTTP_IS(p[i], HTTP_C_TCHAR); i++)
		;
	if (i > 0 && i < n && HTTP_IS(p[i], HTTP_C_WS))
		return (http_fail(hp, 400, "space-before-colon", NULL));
	if (i == 0 || i == n || p[i] != ':')
		return (http_fail(hp, 400, "bad-field-name", NULL));
	for (v = i + 1; v < n && HTTP_IS(p[v], HTTP_C_WS); v++)
		;
	for (e = n; e > v && HTTP_IS(p[e - 1], HTTP_C_WS); e--)
		;
	if (http_value_check(hp, p + v, e - v) == -1)
		return (-1);
	f = &m->hm_fields[m->hm_nfields++];
	f->hf_name = p;
	f->hf_namelen = i;
	f->hf_value = p + v;
	f->hf_valuelen = e - v;
	f->hf_linelen = n + 2;
	k = http_known_find(p, i);
	f->hf_kind = k != NULL ? k->hk_kind : PROXY_HTTP_K_OTHER;
	f->hf_flags = k != NULL && k->hk_hop ? PROXY_HTTP_FF_HOP : 0;
	return (http_field_note(hp, f));
}

/*
 * Visible ASCII, SP, HTAB; obs-text too in a response.  Eight bytes at a
 * time while they are all SP to '~', the usual case.
 */
static int
http_value_check(struct http_parse *hp, const char *s, size_t n)
{
	uint64_t	 w;
	size_t		 i = 0;
	int		 allow;

	for (; i + 8 <= n; i += 8) {
		memcpy(&w, s + i, 8);
		if (((w - HTTP_ONES * 0x20) | ((w ^ HTTP_ONES * 0x7f) -
		    HTTP_ONES) | w) & HTTP_ONES * 0x80)
			break;
	}
	allow = HTTP_C_VCHAR | HTTP_C_WS | (hp->hp_response ? HTTP_C_OBS : 0);
	for (; i < n; i++) {
		if (HTTP_IS(s[i], allow))
			continue;
		if ((unsigned char)s[i] >= 0x80)
			return (http_fail(hp, 400, "non-ascii",
			    "non-ASCII byte in a field value"));
		return (http_fail(hp, 400, "bad-field-value",
		    "control byte in a field value"));
	}
	return (0);
}

static const struct http_known *
http_known_find(const char *name, size_t n)
{
	size_t	 i;

	for (i = 0; i < sizeof(http_known) / sizeof(http_known[0]); i++)
		if (http_known[i].hk_len == n &&
		    (name[0] | 0x20) == (http_known[i].hk_name[0] | 0x20) &&
		    strncasecmp(name, http_known[i].hk_name, n) == 0)
			return (&http_known[i]);
	return (NULL);
}

/* Remember what a known field says. */
static int
http_field_note(struct http_parse *hp, const struct proxy_http_field *f)
{
	struct proxy_http_msg	*m = hp->hp_msg;
	int			 idx = f - m->hm_fields;

	switch (f->hf_kind) {
	case PROXY_HTTP_K_CONTENT_LENGTH:
		if (m->hm_cl == -1)
			m->hm_cl = idx;
		return (http_content_length(hp, f->hf_value, f->hf_valuelen));
	case PROXY_HTTP_K_TRANSFER_ENCODING:
		hp->hp_nte++;
		if (!HTTP_EQ(f->hf_value, f->hf_valuelen, "chunked"))
			hp->hp_te_other = 1;
		break;
	case PROXY_HTTP_K_HOST:
		hp->hp_nhost++;
		hp->hp_host = f;
		break;
	case PROXY_HTTP_K_UPGRADE:
		hp->hp_nupgrade++;
		hp->hp_upgrade_ws = HTTP_EQ(f->hf_value, f->hf_valuelen,
		    "websocket");
		break;
	case PROXY_HTTP_K_EXPECT:
		if (!HTTP_EQ(f->hf_value, f->hf_valuelen, "100-continue"))
			hp->hp_expect = -1;
		else if (hp->hp_expect == 0)
			hp->hp_expect = 1;
		break;
	case PROXY_HTTP_K_VIA:
		m->hm_via = idx;
		break;
	}
	return (0);
}

/*
 * 1*DIGIT, or a list of them that all agree, and agree with any earlier
 * Content-Length line; at most PROXY_HTTP_LENGTH_MAX.
 */
static int
http_content_length(struct http_parse *hp, const char *s, size_t n)
{
	const char	*p = s, *end = s + n;
	uint64_t	 v;
	size_t		 digits;

	for (;;) {
		for (v = 0, digits = 0; p < end && HTTP_IS(*p, HTTP_C_DIGIT);
		    p++, digits++) {
			if (v > (PROXY_HTTP_LENGTH_MAX - (*p - '0')) / 10)
				return (http_fail(hp, 400, "bad-content-length",
				    "Content-Length too large"));
			v = v * 10 + (*p - '0');
		}
		if (digits == 0 || (hp->hp_ncl++ > 0 &&
		    v != hp->hp_msg->hm_length))
			return (http_fail(hp, 400, "bad-content-length",
			    NULL));
		hp->hp_msg->hm_length = v;
		while (p < end && HTTP_IS(*p, HTTP_C_WS))
			p++;
		if (p == end)
			return (0);
		if (*p++ != ',')
			return (http_fail(hp, 400, "bad-content-length",
			    NULL));
		while (p < end && HTTP_IS(*p, HTTP_C_WS))
			p++;
	}
}

/*
 * The next element of a comma list (RFC 9110 5.6.1), empty ones
 * skipped.  Returns 1 with the token, 0 at the end, -1 on a non-token.
 */
static int
http_list_next(const char **pp, const char *end, const char **tok,
    size_t *toklen)
{
	const char	*p = *pp;

	while (p < end && (*p == ',' || HTTP_IS(*p, HTTP_C_WS)))
		p++;
	if (p == end) {
		*pp = p;
		return (0);
	}
	for (*tok = p; p < end && HTTP_IS(*p, HTTP_C_TCHAR); p++)
		;
	if ((*toklen = p - *tok) == 0)
		return (-1);
	while (p < end && HTTP_IS(*p, HTTP_C_WS))
		p++;
	if (p < end && *p != ',')
		return (-1);
	*pp = p;
	return (1);
}

/*
 * Apply the Connection options.  A request's Proxy-Connection counts for
 * close and keep-alive too, whatever its version: curl and old browsers
 * say keep-alive there, and close must never be ignored.
 */
static int
http_connection(struct http_parse *hp)
{
	struct proxy_http_msg	*m = hp->hp_msg;
	const struct proxy_http_field *f;
	size_t			 i;

	for (i = 0; i < m->hm_nfields; i++) {
		f = &m->hm_fields[i];
		if (f->hf_kind == PROXY_HTTP_K_CONNECTION &&
		    http_tokens(hp, f, 0) == -1)
			return (-1);
		if (f->hf_kind == PROXY_HTTP_K_PROXY_CONNECTION &&
		    !hp->hp_response && http_tokens(hp, f, 1) == -1)
			return (-1);
	}
	return (0);
}

/* One Connection or Proxy-Connection field's options. */
static int
http_tokens(struct http_parse *hp, const struct proxy_http_field *f,
    int proxy)
{
	const char	*p = f->hf_value, *t;
	size_t		 n;
	int		 r;

	while ((r = http_list_next(&p, f->hf_value + f->hf_valuelen,
	    &t, &n)) == 1) {
		if (++hp->hp_ntokens > PROXY_HTTP_TOKENS_MAX)
			return (http_fail(hp, 400, "bad-connection",
			    "too many connection options"));
		if (HTTP_EQ(t, n, "close"))
			hp->hp_msg->hm_flags |= PROXY_HTTP_F_CLOSE;
		else if (HTTP_EQ(t, n, "keep-alive"))
			hp->hp_msg->hm_flags |= PROXY_HTTP_F_KEEPALIVE;
		else if (proxy)
			continue;	/* nothing else means anything */
		else if (HTTP_EQ(t, n, "upgrade"))
			hp->hp_msg->hm_flags |= PROXY_HTTP_F_UPGRADE;
		else if (http_option(hp, t, n) == -1)
			return (-1);
	}
	if (r == -1)
		return (http_fail(hp, 400, "bad-connection",
		    "connection option is not a token"));
	return (0);
}

/*
 * A Connection option names fields to drop.  Naming a framing or routing
 * field would make the proxy strip what the server frames by.
 */
static int
http_option(struct http_parse *hp, const char *t, size_t n)
{
	struct proxy_http_msg	*m = hp->hp_msg;
	const struct http_known	*k;
	size_t			 i;

	if ((k = http_known_find(t, n)) != NULL &&
	    (k->hk_kind == PROXY_HTTP_K_HOST ||
	    k->hk_kind == PROXY_HTTP_K_CONTENT_LENGTH ||
	    k->hk_kind == PROXY_HTTP_K_TRANSFER_ENCODING))
		return (http_fail(hp, 400, "connection-framing",
		    "Connection names a framing field"));
	for (i = 0; i < m->hm_nfields; i++)
		if (http_eq(m->hm_fields[i].hf_name,
		    m->hm_fields[i].hf_namelen, t, n))
			m->hm_fields[i].hf_flags |= PROXY_HTTP_FF_HOP;
	return (0);
}

/* Transfer-Encoding: only "chunked", alone, in HTTP/1.1, without CL. */
static int
http_framing(struct http_parse *hp)
{
	if (hp->hp_nte == 0)
		return (0);
	if (hp->hp_msg->hm_version == 10)
		return (http_fail(hp, 400, "te-http10",
		    "Transfer-Encoding in HTTP/1.0"));
	if (hp->hp_ncl > 0)
		return (http_fail(hp, 400, "cl-and-te",
		    "both Content-Length and Transfer-Encoding"));
	if (hp->hp_nte > 1 || hp->hp_te_other)
		return (http_fail(hp, 501, "transfer-encoding",
		    "Transfer-Encoding other than chunked"));
	return (0);
}

/* HTTP/1.1 persists unless close; HTTP/1.0 only with keep-alive. */
static void
http_persist_set(struct proxy_http_msg *m)
{
	if (m->hm_flags & PROXY_HTTP_F_CLOSE)
		return;
	if (m->hm_version == 11 || (m->hm_flags & PROXY_HTTP_F_KEEPALIVE))
		m->hm_flags |= PROXY_HTTP_F_PERSIST;
}

/* One Host field (required in HTTP/1.1); recorded, never routed by. */
static int
http_request_host(struct http_parse *hp, struct proxy_http_request *rq)
{
	const struct proxy_http_field	*f = hp->hp_host;
	const char			*why;
	int				 r;

	if (hp->hp_nhost > 1)
		return (http_fail(hp, 400, "duplicate-host", NULL));
	if (hp->hp_nhost == 0)
		return (hp->hp_msg->hm_version == 11 ?
		    http_fail(hp, 400, "missing-host", NULL) : 0);
	r = http_authority(f->hf_value, f->hf_valuelen, 0, &rq->rq_hhost,
	    &rq->rq_hport, &why);
	if (http_authority_fail(hp, r, why, 1) == -1)
		return (-1);
	hp->hp_msg->hm_flags |= PROXY_HTTP_F_HOSTHDR;
	return (0);
}

/* How the request body is delimited; CONNECT has none. */
static int
http_request_body(struct http_parse *hp, struct proxy_http_request *rq)
{
	struct proxy_http_msg	*m = &rq->rq_msg;

	if (http_framing(hp) == -1)
		return (-1);
	if (m->hm_flags & PROXY_HTTP_F_CONNECT) {
		if (hp->hp_nte > 0 || m->hm_length > 0)
			return (http_fail(hp, 400, "connect-body",
			    "CONNECT with a body"));
		m->hm_body = PROXY_HTTP_BODY_NONE;
	} else if (hp->hp_nte > 0)
		m->hm_body = PROXY_HTTP_BODY_CHUNKED;
	else if (m->hm_length > 0)
		m->hm_body = PROXY_HTTP_BODY_LENGTH;
	else
		m->hm_body = PROXY_HTTP_BODY_NONE;
	return (0);
}

/* Expect, websocket upgrade and persistence. */
static int
http_request_options(struct http_parse *hp, struct proxy_http_request *rq)
{
	struct proxy_http_msg	*m = &rq->rq_msg;

	if (hp->hp_expect == -1)
		return (http_fail(hp, 417, "expectation",
		    "Expect other than 100-continue"));
	if (hp->hp_expect == 1 && m->hm_version == 11)
		m->hm_flags |= PROXY_HTTP_F_CONTINUE;
	if ((m->hm_flags & PROXY_HTTP_F_GET) && m->hm_version == 11 &&
	    (m->hm_flags & PROXY_HTTP_F_UPGRADE) && hp->hp_nupgrade == 1 &&
	    hp->hp_upgrade_ws)
		m->hm_flags |= PROXY_HTTP_F_WEBSOCKET;
	http_persist_set(m);
	return (0);
}

/*
 * Parse an upstream's response head to rq (NULL: a GET) into rs, which
 * owns a copy.  Returns 0, or -1 with err filled in (status 502) and rs
 * freed.  Not for the answer to a CONNECT, which the proxy never sends.
 */
int
proxy_http_response_parse(const char *head, size_t len,
    const struct proxy_http_request *rq, struct proxy_http_response *rs,
    struct proxy_http_error *err)
{
	struct http_parse	 hp;

	memset(rs, 0, sizeof(*rs));
	memset(&hp, 0, sizeof(hp));
	hp.hp_msg = &rs->rs_msg;
	hp.hp_err = err;
	hp.hp_response = 1;
	if (http_msg_init(&hp, head, len) == -1 ||
	    http_status_line(&hp, rs) == -1 ||
	    http_fields_parse(&hp) == -1 ||
	    http_framing(&hp) == -1 ||
	    http_response_body(&hp, rq, rs) == -1) {
		proxy_http_response_free(rs);
		return (-1);
	}
	return (0);
}

/* Release what rs holds; safe on a zeroed or freed response. */
void
proxy_http_response_free(struct proxy_http_response *rs)
{
	free(rs->rs_msg.hm_buf);
	memset(rs, 0, sizeof(*rs));
}

/*
 * HTTP/1.x SP 3DIGIT [SP reason]: the SP before an empty reason is often
 * missing, and harmless.
 */
static int
http_status_line(struct http_parse *hp, struct proxy_http_response *rs)
{
	const char	*buf = hp->hp_msg->hm_buf;
	size_t		 n, i;

	if (http_first_line(hp, &n) == -1)
		return (-1);
	if (n < 12 || memcmp(buf, "HTTP/1.", 7) != 0 ||
	    (buf[7] != '0' && buf[7] != '1') || buf[8] != ' ' ||
	    (n > 12 && buf[12] != ' '))
		return (http_fail(hp, 502, "bad-status-line", NULL));
	hp->hp_msg->hm_version = buf[7] == '1' ? 11 : 10;
	for (i = 9; i < 12; i++) {
		if (!HTTP_IS(buf[i], HTTP_C_DIGIT))
			return (http_fail(hp, 502, "bad-status-line", NULL));
		rs->rs_status = rs->rs_status * 10 + (buf[i] - '0');
	}
	if (rs->rs_status < 100 || rs->rs_status > 599)
		return (http_fail(hp, 502, "bad-status-line", NULL));
	rs->rs_reason = buf + (n > 12 ? 13 : 12);
	rs->rs_reasonlen = n > 12 ? n - 13 : 0;
	for (i = 0; i < rs->rs_reasonlen; i++)
		if (!HTTP_IS(rs->rs_reason[i], HTTP_C_VCHAR | HTTP_C_WS |
		    HTTP_C_OBS))
			return (http_fail(hp, 502, "bad-status-line",
			    "control byte in the reason phrase"));
	return (0);
}

/* RFC 9112 6.3, in order. */
static int
http_response_body(struct http_parse *hp, const struct proxy_http_request *rq,
    struct proxy_http_response *rs)
{
	struct proxy_http_msg	*m = &rs->rs_msg;

	http_persist_set(m);
	m->hm_body = PROXY_HTTP_BODY_NONE;
	if (rs->rs_status == 101)
		return (http_response_switch(hp, rq, rs));
	if (rs->rs_status < 200)
		m->hm_flags |= PROXY_HTTP_F_INTERIM;
	else if ((rq != NULL && (rq->rq_msg.hm_flags & PROXY_HTTP_F_HEAD)) ||
	    rs->rs_status == 204 || rs->rs_status == 304)
		;	/* no body, whatever the fields say */
	else if (hp->hp_nte > 0)
		m->hm_body = PROXY_HTTP_BODY_CHUNKED;
	else if (hp->hp_ncl > 0) {
		if (m->hm_length > 0)
			m->hm_body = PROXY_HTTP_BODY_LENGTH;
	} else {
		m->hm_body = PROXY_HTTP_BODY_CLOSE;
		m->hm_flags &= ~PROXY_HTTP_F_PERSIST;
	}
	return (0);
}

/* A 101 is only right as the answer to our websocket upgrade. */
static int
http_response_switch(struct http_parse *hp,
    const struct proxy_http_request *rq, struct proxy_http_response *rs)
{
	struct proxy_http_msg	*m = &rs->rs_msg;

	if (rq == NULL || !(rq->rq_msg.hm_flags & PROXY_HTTP_F_WEBSOCKET))
		return (http_fail(hp, 502, "unexpected-101",
		    "101 to a request that did not upgrade"));
	if (m->hm_version != 11 || !(m->hm_flags & PROXY_HTTP_F_UPGRADE) ||
	    hp->hp_nupgrade != 1 || !hp->hp_upgrade_ws)
		return (http_fail(hp, 502, "bad-101",
		    "101 without Connection: upgrade, Upgrade: websocket"));
	m->hm_flags |= PROXY_HTTP_F_SWITCH | PROXY_HTTP_F_WEBSOCKET;
	m->hm_flags &= ~PROXY_HTTP_F_PERSIST;
	return (0);
}

/* Whether the client connection may carry another request after rs. */
int
proxy_http_persist(const struct proxy_http_request *rq,
    const struct proxy_http_response *rs)
{
	return ((rq->rq_msg.hm_flags & PROXY_HTTP_F_PERSIST) &&
	    (rs->rs_msg.hm_flags & PROXY_HTTP_F_PERSIST));
}

/*
 * Write the head to send upstream for rq, in origin-form, to out.  flags
 * are PROXY_HTTP_WRITE_*.  An HTTP/1.0 request goes on as HTTP/1.0 so
 * the server never answers it chunked.  Returns 0 or -1.
 */
int
proxy_http_request_write(const struct proxy_http_request *rq,
    struct evbuffer *out, int flags)
{
	const struct proxy_http_msg	*m = &rq->rq_msg;
	struct evbuffer_iovec		 v;
	struct http_out			 o;
	char				 host[PROXY_HTTP_AUTHORITY_LEN];

	if (m->hm_buf == NULL || (m->hm_flags & PROXY_HTTP_F_CONNECT))
		return (-1);
	proxy_http_authority(&rq->rq_host, rq->rq_port, HTTP_DEFAULT_PORT,
	    host, sizeof(host));
	if (http_out_begin(out, m->hm_len, &o, &v) == -1)
		return (-1);
	http_put(&o, rq->rq_method, strlen(rq->rq_method));
	HTTP_PUT(&o, " ");
	http_put(&o, rq->rq_path, rq->rq_pathlen);
	http_put(&o, rq->rq_query, rq->rq_querylen);
	if (m->hm_version == 10)
		HTTP_PUT(&o, " HTTP/1.0\r\n");
	else
		HTTP_PUT(&o, " HTTP/1.1\r\n");
	if (!(m->hm_flags & PROXY_HTTP_F_HOSTHDR))
		http_put_host(&o, host);
	http_fields_write(m, &o, flags, host);
	return (http_out_end(out, &o, &v));
}

/*
 * Write the head to send the client for rs to out, as HTTP/1.1.  flags
 * are PROXY_HTTP_WRITE_*.  Returns 0 or -1.
 */
int
proxy_http_response_write(const struct proxy_http_response *rs,
    struct evbuffer *out, int flags)
{
	const struct proxy_http_msg	*m = &rs->rs_msg;
	struct evbuffer_iovec		 v;
	struct http_out			 o;

	if (m->hm_buf == NULL)
		return (-1);
	if (http_out_begin(out, m->hm_len, &o, &v) == -1)
		return (-1);
	HTTP_PUT(&o, "HTTP/1.1 ");
	http_put_u64(&o, rs->rs_status);
	HTTP_PUT(&o, " ");
	http_put(&o, rs->rs_reason, rs->rs_reasonlen);
	HTTP_PUT(&o, "\r\n");
	http_fields_write(m, &o, flags, NULL);
	return (http_out_end(out, &o, &v));
}

/*
 * The field lines, in order: runs that go on unchanged are copied in one
 * piece; hop-by-hop fields are dropped; Host (when host is set),
 * Content-Length, Transfer-Encoding and the last Via are rewritten.
 */
static void
http_fields_write(const struct proxy_http_msg *m, struct http_out *o,
    int flags, const char *host)
{
	const struct proxy_http_field	*f;
	const char			*run = NULL;
	size_t				 i, runlen = 0;
	int				 via = 0;

	if (!(m->hm_flags & PROXY_HTTP_F_WEBSOCKET))
		flags &= ~PROXY_HTTP_WRITE_UPGRADE;
	for (i = 0; i < m->hm_nfields; i++) {
		f = &m->hm_fields[i];
		if (http_field_verbatim(m, i, flags, host != NULL)) {
			if (runlen == 0)
				run = f->hf_name;
			runlen += f->hf_linelen;
			continue;
		}
		http_put(o, run, runlen);
		runlen = 0;
		http_field_rewrite(m, i, o, host, &via);
	}
	http_put(o, run, runlen);
	http_head_end(m, o, flags, via);
}

/* Whether field i goes on byte for byte. */
static int
http_field_verbatim(const struct proxy_http_msg *m, size_t i, int flags,
    int request)
{
	const struct proxy_http_field	*f = &m->hm_fields[i];

	switch (f->hf_kind) {
	case PROXY_HTTP_K_HOST:
		if (request)
			return (0);
		break;
	case PROXY_HTTP_K_CONTENT_LENGTH:
	case PROXY_HTTP_K_TRANSFER_ENCODING:
		return (0);
	case PROXY_HTTP_K_VIA:
		if ((int)i == m->hm_via)
			return (0);
		break;
	case PROXY_HTTP_K_UPGRADE:
		if (flags & PROXY_HTTP_WRITE_UPGRADE)
			return (1);
		break;
	}
	return (!(f->hf_flags & PROXY_HTTP_FF_HOP));
}

/* What replaces field i: a canonical line, or nothing. */
static void
http_field_rewrite(const struct proxy_http_msg *m, size_t i,
    struct http_out *o, const char *host, int *via)
{
	const struct proxy_http_field	*f = &m->hm_fields[i];

	if (f->hf_flags & PROXY_HTTP_FF_HOP)
		return;
	switch (f->hf_kind) {
	case PROXY_HTTP_K_HOST:
		http_put_host(o, host);
		break;
	case PROXY_HTTP_K_CONTENT_LENGTH:
		if ((int)i != m->hm_cl)
			break;		/* duplicates collapse */
		HTTP_PUT(o, "Content-Length: ");
		http_put_u64(o, m->hm_length);
		HTTP_PUT(o, "\r\n");
		break;
	case PROXY_HTTP_K_TRANSFER_ENCODING:
		HTTP_PUT(o, "Transfer-Encoding: chunked\r\n");
		break;
	case PROXY_HTTP_K_VIA:
		http_put(o, f->hf_name, f->hf_namelen);
		HTTP_PUT(o, ": ");
		http_put(o, f->hf_value, f->hf_valuelen);
		if (f->hf_valuelen > 0)
			HTTP_PUT(o, ", ");
		http_put_via(o, m);
		*via = 1;
		break;
	}
}

/* Our Connection and Via fields, then the empty line. */
static void
http_head_end(const struct proxy_http_msg *m, struct http_out *o,
    int flags, int via)
{
	if (flags & PROXY_HTTP_WRITE_UPGRADE)
		HTTP_PUT(o, "Connection: upgrade\r\n");
	else if (flags & PROXY_HTTP_WRITE_CLOSE)
		HTTP_PUT(o, "Connection: close\r\n");
	else if (flags & PROXY_HTTP_WRITE_KEEPALIVE)
		HTTP_PUT(o, "Connection: keep-alive\r\n");
	if (!via) {
		HTTP_PUT(o, "Via: ");
		http_put_via(o, m);
	}
	HTTP_PUT(o, "\r\n");
}

/*
 * Reserve one contiguous extent of out for a head written from one of
 * headlen bytes: every line it adds or grows fits in HTTP_WRITE_SLACK.
 */
static int
http_out_begin(struct evbuffer *out, size_t headlen, struct http_out *o,
    struct evbuffer_iovec *v)
{
	if (evbuffer_reserve_space(out, headlen + HTTP_WRITE_SLACK, v,
	    1) != 1)
		return (-1);
	o->ho_p = v->iov_base;
	o->ho_end = o->ho_p + v->iov_len;
	o->ho_full = 0;
	return (0);
}

/* Add what was written to out. */
static int
http_out_end(struct evbuffer *out, struct http_out *o,
    struct evbuffer_iovec *v)
{
	if (o->ho_full)
		return (-1);	/* the slack is wrong: a bug */
	v->iov_len = o->ho_p - (char *)v->iov_base;
	return (evbuffer_commit_space(out, v, 1));
}

static void
http_put(struct http_out *o, const char *s, size_t n)
{
	if (n == 0)
		return;		/* s may be NULL */
	if (n > (size_t)(o->ho_end - o->ho_p)) {
		o->ho_full = 1;
		return;
	}
	memcpy(o->ho_p, s, n);
	o->ho_p += n;
}

static void
http_put_u64(struct http_out *o, uint64_t v)
{
	char	 b[20];
	size_t	 i = sizeof(b);

	do
		b[--i] = '0' + v % 10;
	while ((v /= 10) != 0);
	http_put(o, b + i, sizeof(b) - i);
}

static void
http_put_host(struct http_out *o, const char *host)
{
	HTTP_PUT(o, "Host: ");
	http_put(o, host, strlen(host));
	HTTP_PUT(o, "\r\n");
}

/* Our Via entry: the version we received, our pseudonym, CRLF. */
static void
http_put_via(struct http_out *o, const struct proxy_http_msg *m)
{
	if (m->hm_version == 10)
		HTTP_PUT(o, "1.0 " HTTP_VIA_NAME "\r\n");
	else
		HTTP_PUT(o, "1.1 " HTTP_VIA_NAME "\r\n");
}

/* The value of the first field called name (any case), or NULL. */
const char *
proxy_http_field_find(const struct proxy_http_msg *m, const char *name,
    size_t *len)
{
	size_t	 i, n = strlen(name);

	for (i = 0; i < m->hm_nfields; i++)
		if (http_eq(m->hm_fields[i].hf_name,
		    m->hm_fields[i].hf_namelen, name, n)) {
			*len = m->hm_fields[i].hf_valuelen;
			return (m->hm_fields[i].hf_value);
		}
	return (NULL);
}

/* Whether rq's method is method; methods are case-sensitive. */
int
proxy_http_method_is(const struct proxy_http_request *rq, const char *method)
{
	return (rq->rq_method != NULL && strcmp(rq->rq_method, method) == 0);
}

/* h[:port] into buf, the port left out when it is defport. */
const char *
proxy_http_authority(const struct sbxd_host *h, uint16_t port,
    uint16_t defport, char *buf, size_t len)
{
	struct http_out	 o;

	policy_host_str(h, buf, len);
	if (port == defport)
		return (buf);
	o.ho_p = buf + strlen(buf);
	o.ho_end = buf + len - 1;
	o.ho_full = 0;
	HTTP_PUT(&o, ":");
	http_put_u64(&o, port);
	*o.ho_p = '\0';
	return (buf);
}

/* The reason phrase of a status the proxy answers with. */
const char *
proxy_http_error_status_text(int status)
{
	size_t	 i;

	for (i = 0; i < sizeof(http_status) / sizeof(http_status[0]); i++)
		if (http_status[i].hs_status == status)
			return (http_status[i].hs_text);
	return ("Error");
}

/* A complete refusal for the client, closing the connection. */
int
proxy_http_error_write(const struct proxy_http_error *err,
    struct evbuffer *out)
{
	char	 body[256];
	int	 n;

	n = snprintf(body, sizeof(body), "%d %s: %s\n", err->status,
	    proxy_http_error_status_text(err->status), err->reason);
	if (n < 0 || (size_t)n >= sizeof(body))
		return (-1);
	if (evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n"
	    "Content-Type: text/plain\r\nContent-Length: %d\r\n"
	    "Connection: close\r\nVia: 1.1 " HTTP_VIA_NAME "\r\n\r\n%s",
	    err->status, proxy_http_error_status_text(err->status), n,
	    body) < 0)
		return (-1);
	return (0);
}

/* Start validating a chunked body; response for upstream's. */
void
proxy_http_chunked_init(struct proxy_http_chunked *ch, int response)
{
	memset(ch, 0, sizeof(*ch));
	ch->ch_state = HTTP_CH_SIZE0;
	ch->ch_response = response;
}

static int
http_chunk_fail(struct proxy_http_chunked *ch, struct proxy_http_error *err,
    const char *reason, const char *detail)
{
	ch->ch_state = HTTP_CH_ERROR;
	err->status = ch->ch_response ? 502 : 400;
	err->reason = reason;
	err->detail = detail != NULL ? detail : reason;
	return (-1);
}

/*
 * Validate the next len bytes of a chunked body, which pass on
 * unchanged.  *consumed says how many belong to the body: all of them
 * with PROXY_HTTP_MORE, up to the final CRLF with PROXY_HTTP_DONE.
 * Returns PROXY_HTTP_ERROR, with err filled in, for a malformed body.
 */
int
proxy_http_chunked_feed(struct proxy_http_chunked *ch, const char *buf,
    size_t len, size_t *consumed, struct proxy_http_error *err)
{
	size_t	 i = 0, k, off, dlen;
	int	 r;

	*consumed = 0;
	do {
		r = proxy_http_chunked_data(ch, buf + i, len - i, &k, &off,
		    &dlen, err);
		if (r == PROXY_HTTP_ERROR)
			return (r);
		i += k;
	} while (r == PROXY_HTTP_MORE && i < len && k > 0);
	*consumed = i;
	return (r);
}

/*
 * De-chunk: as proxy_http_chunked_feed, but stop after the first run of
 * chunk data, which is buf[*off] for *dlen bytes (*dlen 0: none yet).
 * *consumed covers the framing before it and the run itself; call again
 * with the rest.
 */
int
proxy_http_chunked_data(struct proxy_http_chunked *ch, const char *buf,
    size_t len, size_t *consumed, size_t *off, size_t *dlen,
    struct proxy_http_error *err)
{
	size_t	 i = 0, n;

	*consumed = *off = *dlen = 0;
	if (ch->ch_state == HTTP_CH_ERROR) {
		http_chunk_fail(ch, err, "bad-chunk", "body already refused");
		return (PROXY_HTTP_ERROR);
	}
	while (i < len && ch->ch_state != HTTP_CH_DONE) {
		if (ch->ch_state != HTTP_CH_DATA) {
			if (http_chunk_byte(ch, buf[i], err) == -1)
				return (PROXY_HTTP_ERROR);
			i++;
			continue;
		}
		n = len - i < ch->ch_left ? len - i : ch->ch_left;
		*off = i;
		*dlen = n;
		i += n;
		ch->ch_left -= n;
		ch->ch_data += n;
		if (ch->ch_left == 0)
			ch->ch_state = HTTP_CH_DATA_CR;
		break;
	}
	*consumed = i;
	ch->ch_total += i;
	return (ch->ch_state == HTTP_CH_DONE ? PROXY_HTTP_DONE :
	    PROXY_HTTP_MORE);
}

/* One byte outside chunk data: bound the line, then its state. */
static int
http_chunk_byte(struct proxy_http_chunked *ch, unsigned char c,
    struct proxy_http_error *err)
{
	int	 s = ch->ch_state;

	if (c == '\n' && s != HTTP_CH_SIZE_LF && s != HTTP_CH_DATA_LF &&
	    s != HTTP_CH_TR_LF && s != HTTP_CH_END_LF)
		return (http_chunk_fail(ch, err, "bare-lf", NULL));
	if (s <= HTTP_CH_SIZE_LF && ++ch->ch_line > PROXY_HTTP_CHUNK_LINE_MAX)
		return (http_chunk_fail(ch, err, "chunk-line-too-long", NULL));
	if (s >= HTTP_CH_TR_START && ++ch->ch_trailer > PROXY_HTTP_TRAILER_MAX)
		return (http_chunk_fail(ch, err, "trailer-too-large", NULL));
	if (s <= HTTP_CH_SIZE)
		return (http_chunk_size(ch, c, err));
	if (s <= HTTP_CH_EXT_END)
		return (http_chunk_ext(ch, c, err));
	if (s >= HTTP_CH_TR_START && s <= HTTP_CH_TR_VALUE)
		return (http_chunk_trailer(ch, c, err));
	return (http_chunk_eol(ch, c, err));
}

/* chunk-size: 1 to 16 hex digits, below PROXY_HTTP_LENGTH_MAX. */
static int
http_chunk_size(struct proxy_http_chunked *ch, unsigned char c,
    struct proxy_http_error *err)
{
	unsigned int	 d;

	if (HTTP_IS(c, HTTP_C_HEX)) {
		d = HTTP_IS(c, HTTP_C_DIGIT) ? c - '0' : (c | 0x20) - 'a' + 10;
		if (ch->ch_digits++ == HTTP_CHUNK_DIGITS_MAX ||
		    ch->ch_left >= PROXY_HTTP_LENGTH_MAX / 16)
			return (http_chunk_fail(ch, err, "chunk-too-large",
			    NULL));
		ch->ch_left = ch->ch_left * 16 + d;
		ch->ch_state = HTTP_CH_SIZE;
		return (0);
	}
	if (ch->ch_state == HTTP_CH_SIZE && c == ';')
		ch->ch_state = HTTP_CH_EXT_NAME0;
	else if (ch->ch_state == HTTP_CH_SIZE && c == '\r')
		ch->ch_state = HTTP_CH_SIZE_LF;
	else
		return (http_chunk_fail(ch, err, "bad-chunk-size", NULL));
	return (0);
}

/* ;name[=token|quoted-string], no whitespace anywhere. */
static int
http_chunk_ext(struct proxy_http_chunked *ch, unsigned char c,
    struct proxy_http_error *err)
{
	int	 tchar = HTTP_IS(c, HTTP_C_TCHAR), qd;

	qd = HTTP_IS(c, HTTP_C_VCHAR | HTTP_C_WS |
	    (ch->ch_response ? HTTP_C_OBS : 0));
	switch (ch->ch_state) {
	case HTTP_CH_EXT_NAME0:
		if (!tchar)
			break;
		ch->ch_state = HTTP_CH_EXT_NAME;
		return (0);
	case HTTP_CH_EXT_NAME:
		if (c == '=') {
			ch->ch_state = HTTP_CH_EXT_VALUE0;
			return (0);
		}
		/* FALLTHROUGH */
	case HTTP_CH_EXT_TOKEN:
		return (tchar ? 0 : http_chunk_ext_end(ch, c, err));
	case HTTP_CH_EXT_VALUE0:
		if (!tchar && c != '"')
			break;
		ch->ch_state = tchar ? HTTP_CH_EXT_TOKEN : HTTP_CH_EXT_QUOTED;
		return (0);
	case HTTP_CH_EXT_QUOTED:
		if (c == '"')
			ch->ch_state = HTTP_CH_EXT_END;
		else if (c == '\\')
			ch->ch_state = HTTP_CH_EXT_QPAIR;
		return (qd ? 0 : http_chunk_fail(ch, err, "bad-chunk-ext",
		    NULL));
	case HTTP_CH_EXT_QPAIR:
		if (!qd)
			break;
		ch->ch_state = HTTP_CH_EXT_QUOTED;
		return (0);
	case HTTP_CH_EXT_END:
		return (http_chunk_ext_end(ch, c, err));
	}
	return (http_chunk_fail(ch, err, "bad-chunk-ext", NULL));
}

/* After an extension: another one, or the end of the size line. */
static int
http_chunk_ext_end(struct proxy_http_chunked *ch, unsigned char c,
    struct proxy_http_error *err)
{
	if (c == ';')
		ch->ch_state = HTTP_CH_EXT_NAME0;
	else if (c == '\r')
		ch->ch_state = HTTP_CH_SIZE_LF;
	else
		return (http_chunk_fail(ch, err, "bad-chunk-ext", NULL));
	return (0);
}

/* The CRs and LFs that end lines and chunks. */
static int
http_chunk_eol(struct proxy_http_chunked *ch, unsigned char c,
    struct proxy_http_error *err)
{
	switch (ch->ch_state) {
	case HTTP_CH_SIZE_LF:
		if (c != '\n')
			break;
		ch->ch_state = ch->ch_left == 0 ? HTTP_CH_TR_START :
		    HTTP_CH_DATA;
		return (0);
	case HTTP_CH_DATA_CR:
		if (c != '\r')
			return (http_chunk_fail(ch, err, "bad-chunk-data",
			    "chunk data longer than its size"));
		ch->ch_state = HTTP_CH_DATA_LF;
		return (0);
	case HTTP_CH_DATA_LF:
		if (c != '\n')
			break;
		ch->ch_state = HTTP_CH_SIZE0;
		ch->ch_line = ch->ch_digits = 0;
		return (0);
	case HTTP_CH_TR_LF:
	case HTTP_CH_END_LF:
		if (c != '\n')
			break;
		ch->ch_state = ch->ch_state == HTTP_CH_TR_LF ?
		    HTTP_CH_TR_START : HTTP_CH_DONE;
		return (0);
	}
	return (http_chunk_fail(ch, err, "bare-cr", "CR without LF"));
}

/*
 * Trailer fields, checked like header fields.  Any field this file
 * knows by name (framing, routing, hop-by-hop) is refused: a server
 * that merges trailers into the head must not find them there.
 */
static int
http_chunk_trailer(struct proxy_http_chunked *ch, unsigned char c,
    struct proxy_http_error *err)
{
	switch (ch->ch_state) {
	case HTTP_CH_TR_START:
		if (c == '\r') {
			ch->ch_state = HTTP_CH_END_LF;
			return (0);
		}
		if (HTTP_IS(c, HTTP_C_WS))
			return (http_chunk_fail(ch, err, "obs-fold", NULL));
		ch->ch_namelen = 0;
		ch->ch_state = HTTP_CH_TR_NAME;
		/* FALLTHROUGH */
	case HTTP_CH_TR_NAME:
		if (HTTP_IS(c, HTTP_C_TCHAR)) {
			if (ch->ch_namelen < sizeof(ch->ch_name))
				ch->ch_name[ch->ch_namelen] = c;
			ch->ch_namelen++;
			return (0);
		}
		if (c != ':' || ch->ch_namelen == 0)
			return (http_chunk_fail(ch, err, ch->ch_namelen > 0 &&
			    HTTP_IS(c, HTTP_C_WS) ? "space-before-colon" :
			    "bad-trailer", NULL));
		if (ch->ch_namelen <= sizeof(ch->ch_name) &&
		    http_known_find(ch->ch_name, ch->ch_namelen) != NULL)
			return (http_chunk_fail(ch, err, "bad-trailer",
			    "framing or hop-by-hop field in a trailer"));
		ch->ch_state = HTTP_CH_TR_VALUE;
		return (0);
	case HTTP_CH_TR_VALUE:
		if (c == '\r')
			ch->ch_state = HTTP_CH_TR_LF;
		else if (!HTTP_IS(c, HTTP_C_VCHAR | HTTP_C_WS |
		    (ch->ch_response ? HTTP_C_OBS : 0)))
			return (http_chunk_fail(ch, err, c >= 0x80 ?
			    "non-ascii" : "bad-trailer", NULL));
		return (0);
	}
	return (http_chunk_fail(ch, err, "bad-trailer", NULL));
}
