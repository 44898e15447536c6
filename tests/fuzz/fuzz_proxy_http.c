/*
 * fuzz_proxy_http.c: libFuzzer harness for proxy_http.c.  The first byte
 * picks the parser (request head, response head or chunked body) and a
 * few flags; the rest is its input.  Beyond memory errors it checks that
 * a head scan or a chunked body fed byte by byte, or in pieces, ends
 * exactly where it ends when fed at once, and that every head the
 * writers produce parses again to the same destination and framing.
 */

#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>


#include "config.h"
#include "sbxd.h"
#include "proxy_http.h"

#define FUZZ_CHECK(c) do {						\
	if (!(c)) {							\
		fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #c);	\
		abort();						\
	}								\
} while (0)

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int	fuzz_scan(const char *, size_t, int, size_t *);
static void	fuzz_request(const char *, size_t, int);
static void	fuzz_request_again(const struct proxy_http_request *, int);
static void	fuzz_request_same(const struct proxy_http_request *,
		    const struct proxy_http_request *, int);
static void	fuzz_response(const char *, size_t, int);
static void	fuzz_response_again(const struct proxy_http_request *,
		    const struct proxy_http_response *, int);
static void	fuzz_chunked(const char *, size_t, int);
static void	fuzz_origin(const char *, size_t);
static int	fuzz_dechunk_run(const char *, size_t, int, size_t,
		    size_t *, uint64_t *);
static int	fuzz_chunked_run(const char *, size_t, int, size_t,
		    size_t *, const char **);

/* Requests a response can answer, picked by the flags. */
static const char *fuzz_requests[] = {
	"GET http://a.com/ HTTP/1.1\r\nHost: a.com\r\n\r\n",
	"HEAD http://a.com/ HTTP/1.1\r\nHost: a.com\r\n\r\n",
	("GET http://a.com/ HTTP/1.1\r\nHost: a.com\r\nUpgrade: websocket\r\n"
	    "Connection: upgrade\r\n\r\n"),
	"GET http://a.com/ HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return (0);
	switch (data[0] % 3) {
	case 0:
		fuzz_request((const char *)data + 1, size - 1, data[0] / 3);
		break;
	case 1:
		fuzz_response((const char *)data + 1, size - 1, data[0] / 3);
		break;
	default:
		fuzz_chunked((const char *)data + 1, size - 1, data[0] / 3);
		break;
	}
	return (0);
}

/* Scan at once and byte by byte; both must agree. */
static int
fuzz_scan(const char *buf, size_t len, int response, size_t *headlen)
{
	struct proxy_http_scan	 hs;
	struct proxy_http_error	 err, err2;
	size_t			 i, hl = 0, hl2 = 0;
	int			 r, r2 = PROXY_HTTP_MORE;

	proxy_http_scan_init(&hs, response);
	r = proxy_http_head_scan(&hs, buf, len, &hl, &err);
	proxy_http_scan_init(&hs, response);
	for (i = 0; i <= len && r2 == PROXY_HTTP_MORE; i++)
		r2 = proxy_http_head_scan(&hs, buf, i, &hl2, &err2);
	FUZZ_CHECK(r == r2);
	if (r == PROXY_HTTP_DONE) {
		FUZZ_CHECK(hl == hl2 && hl <= len && hl <= PROXY_HTTP_HEAD_MAX);
		FUZZ_CHECK(memcmp(buf + hl - 4, "\r\n\r\n", 4) == 0);
	}
	if (r == PROXY_HTTP_ERROR) {
		FUZZ_CHECK(strcmp(err.reason, err2.reason) == 0);
		FUZZ_CHECK(err.status == (response ? 502 : err.status));
	}
	*headlen = hl;
	return (r);
}

static void
fuzz_request(const char *buf, size_t len, int flags)
{
	struct proxy_http_request	 rq;
	struct proxy_http_error		 err;
	size_t				 hl;

	if (fuzz_scan(buf, len, 0, &hl) != PROXY_HTTP_DONE)
		hl = len;	/* the parser must refuse it alone */
	fuzz_origin(buf, hl);
	if (proxy_http_request_parse(buf, hl, &rq, &err) == -1) {
		FUZZ_CHECK(rq.rq_msg.hm_buf == NULL);
		FUZZ_CHECK(err.status >= 400 && err.status <= 505);
		FUZZ_CHECK(err.reason != NULL && err.detail != NULL);
		return;
	}
	FUZZ_CHECK(rq.rq_port != 0);
	if (!(rq.rq_msg.hm_flags & PROXY_HTTP_F_CONNECT))
		fuzz_request_again(&rq, flags);
	proxy_http_request_free(&rq);
}

/*
 * Write rq upstream, put the absolute-form target back in front, and
 * parse that: same destination, path and framing.
 */
static void
fuzz_request_again(const struct proxy_http_request *rq, int flags)
{
	struct proxy_http_request	 rq2;
	struct proxy_http_error		 err;
	struct evbuffer			*out, *again;
	char				 host[PROXY_HTTP_AUTHORITY_LEN];
	const char			*p, *lf;
	size_t				 n, hl;
	int				 r;

	FUZZ_CHECK((out = evbuffer_new()) != NULL);
	FUZZ_CHECK((again = evbuffer_new()) != NULL);
	FUZZ_CHECK(proxy_http_request_write(rq, out, flags) == 0);
	n = evbuffer_get_length(out);
	p = (const char *)evbuffer_pullup(out, -1);
	r = fuzz_scan(p, n, 0, &hl);
	FUZZ_CHECK(r == PROXY_HTTP_ERROR || (r == PROXY_HTTP_DONE && hl == n));
	FUZZ_CHECK((lf = memchr(p, '\n', n)) != NULL);
	proxy_http_authority(&rq->rq_host, rq->rq_port, 0, host, sizeof(host));
	evbuffer_add_printf(again, "%s http://%s%.*s%.*s HTTP/1.%d\r\n",
	    rq->rq_method, host, (int)rq->rq_pathlen, rq->rq_path,
	    (int)rq->rq_querylen, rq->rq_query, rq->rq_msg.hm_version % 10);
	evbuffer_add(again, lf + 1, n - (lf + 1 - p));
	n = evbuffer_get_length(again);
	p = (const char *)evbuffer_pullup(again, -1);
	if (proxy_http_request_parse(p, n, &rq2, &err) == -1)
		FUZZ_CHECK(err.status == 431);	/* Via, Host added */
	else {
		fuzz_request_same(rq, &rq2, flags);
		proxy_http_request_free(&rq2);
	}
	evbuffer_free(out);
	evbuffer_free(again);
}

/* rq2, parsed from what rq became, says the same. */
static void
fuzz_request_same(const struct proxy_http_request *rq,
    const struct proxy_http_request *rq2, int flags)
{
	size_t	 n;

	FUZZ_CHECK(strcmp(rq2->rq_host.h_name, rq->rq_host.h_name) == 0);
	FUZZ_CHECK(rq2->rq_port == rq->rq_port);
	FUZZ_CHECK(strcmp(rq2->rq_method, rq->rq_method) == 0);
	FUZZ_CHECK(rq2->rq_pathlen == rq->rq_pathlen &&
	    memcmp(rq2->rq_path, rq->rq_path, rq->rq_pathlen) == 0);
	FUZZ_CHECK(rq2->rq_msg.hm_body == rq->rq_msg.hm_body);
	FUZZ_CHECK(rq2->rq_msg.hm_length == rq->rq_msg.hm_length);
	FUZZ_CHECK(rq2->rq_msg.hm_version == rq->rq_msg.hm_version);
	FUZZ_CHECK(!(rq2->rq_msg.hm_flags & PROXY_HTTP_F_WEBSOCKET) ==
	    !((flags & PROXY_HTTP_WRITE_UPGRADE) &&
	    (rq->rq_msg.hm_flags & PROXY_HTTP_F_WEBSOCKET)));
	FUZZ_CHECK(proxy_http_field_find(&rq2->rq_msg, "Proxy-Authorization",
	    &n) == NULL);
}

static void
fuzz_response(const char *buf, size_t len, int flags)
{
	struct proxy_http_request	 rq;
	struct proxy_http_response	 rs;
	struct proxy_http_error		 err;
	const char			*r = fuzz_requests[flags % 4];
	size_t				 hl;

	FUZZ_CHECK(proxy_http_request_parse(r, strlen(r), &rq, &err) == 0);
	if (fuzz_scan(buf, len, 1, &hl) != PROXY_HTTP_DONE)
		hl = len;
	if (proxy_http_response_parse(buf, hl, &rq, &rs, &err) == -1) {
		FUZZ_CHECK(rs.rs_msg.hm_buf == NULL && err.status == 502);
	} else {
		FUZZ_CHECK(rs.rs_status >= 100 && rs.rs_status <= 599);
		fuzz_response_again(&rq, &rs, flags / 4);
		proxy_http_response_free(&rs);
	}
	proxy_http_request_free(&rq);
}

/* What the client gets must parse to the same status and framing. */
static void
fuzz_response_again(const struct proxy_http_request *rq,
    const struct proxy_http_response *rs, int flags)
{
	struct proxy_http_response	 rs2;
	struct proxy_http_error		 err;
	struct evbuffer			*out;
	const char			*p;
	size_t				 n;

	if (rs->rs_msg.hm_flags & PROXY_HTTP_F_SWITCH)
		flags |= PROXY_HTTP_WRITE_UPGRADE;
	FUZZ_CHECK((out = evbuffer_new()) != NULL);
	FUZZ_CHECK(proxy_http_response_write(rs, out, flags) == 0);
	n = evbuffer_get_length(out);
	p = (const char *)evbuffer_pullup(out, -1);
	if (proxy_http_response_parse(p, n, rq, &rs2, &err) == -1)
		FUZZ_CHECK(strcmp(err.reason, "too-many-fields") == 0 ||
		    strcmp(err.reason, "head-too-large") == 0);
	else {
		FUZZ_CHECK(rs2.rs_status == rs->rs_status);
		FUZZ_CHECK(rs2.rs_msg.hm_body == rs->rs_msg.hm_body);
		FUZZ_CHECK(rs2.rs_msg.hm_length == rs->rs_msg.hm_length);
		FUZZ_CHECK(rs2.rs_msg.hm_version == 11);
		proxy_http_response_free(&rs2);
	}
	evbuffer_free(out);
}

/* At once, byte by byte and in pieces: the same answer every time. */
static void
fuzz_chunked(const char *buf, size_t len, int flags)
{
	const char	*why1, *why2, *why3;
	size_t		 used1, used2, used3;
	int		 r1, r2, r3, response = flags & 1;

	r1 = fuzz_chunked_run(buf, len, response, len, &used1, &why1);
	r2 = fuzz_chunked_run(buf, len, response, 1, &used2, &why2);
	r3 = fuzz_chunked_run(buf, len, response, 1 + flags / 2, &used3,
	    &why3);
	FUZZ_CHECK(r1 == r2 && r1 == r3);
	if (r1 == PROXY_HTTP_ERROR)
		FUZZ_CHECK(strcmp(why1, why2) == 0 && strcmp(why1, why3) == 0);
	else
		FUZZ_CHECK(used1 == used2 && used1 == used3);
	if (r1 == PROXY_HTTP_MORE)
		FUZZ_CHECK(used1 == len);
	if (r1 == PROXY_HTTP_DONE)
		FUZZ_CHECK(used1 >= 5 &&
		    memcmp(buf + used1 - 2, "\r\n", 2) == 0);
	/* The de-chunker agrees with the validator, whole or in pieces. */
	{
		uint64_t	 d1, d2;
		size_t		 u1, u2;
		int		 q1, q2;

		q1 = fuzz_dechunk_run(buf, len, response, len, &u1, &d1);
		q2 = fuzz_dechunk_run(buf, len, response, 1 + flags / 2, &u2,
		    &d2);
		FUZZ_CHECK(q1 == r1 && q2 == r1);
		if (r1 != PROXY_HTTP_ERROR)
			FUZZ_CHECK(u1 == used1 && u2 == used1 && d1 == d2);
	}
}

/*
 * De-chunk in pieces of step: the result, the body's bytes and its data
 * bytes, each run of data inside the piece it came from.
 */
static int
fuzz_dechunk_run(const char *buf, size_t len, int response, size_t step,
    size_t *used, uint64_t *data)
{
	struct proxy_http_chunked	 ch;
	struct proxy_http_error		 err;
	size_t				 off = 0, n, k, doff, dlen, pos;
	int				 r = PROXY_HTTP_MORE;

	proxy_http_chunked_init(&ch, response);
	*used = 0;
	*data = 0;
	while (r == PROXY_HTTP_MORE && off < len) {
		n = len - off < step ? len - off : step;
		pos = 0;
		while (pos < n) {
			r = proxy_http_chunked_data(&ch, buf + off + pos,
			    n - pos, &k, &doff, &dlen, &err);
			if (r == PROXY_HTTP_ERROR)
				return (r);
			FUZZ_CHECK(doff + dlen <= k && k <= n - pos);
			*data += dlen;
			pos += k;
			if (r == PROXY_HTTP_DONE)
				break;
			FUZZ_CHECK(k > 0);
		}
		*used += pos;
		off += n;
	}
	if (r == PROXY_HTTP_DONE)
		FUZZ_CHECK(ch.ch_data == *data);
	return (r);
}

/*
 * The gateway's origin-form parse: a path that starts with '/', path and
 * query the whole target, never a destination.
 */
static void
fuzz_origin(const char *buf, size_t len)
{
	struct proxy_http_request	 rq;
	struct proxy_http_error		 err;

	if (proxy_http_request_parse_origin(buf, len, &rq, &err) == -1) {
		FUZZ_CHECK(rq.rq_msg.hm_buf == NULL);
		FUZZ_CHECK(err.status >= 400 && err.status <= 505);
		return;
	}
	FUZZ_CHECK(rq.rq_path[0] == '/');
	FUZZ_CHECK(rq.rq_pathlen + rq.rq_querylen == strlen(rq.rq_target));
	FUZZ_CHECK(rq.rq_querylen == 0 || rq.rq_query[0] == '?');
	FUZZ_CHECK(!(rq.rq_msg.hm_flags & PROXY_HTTP_F_CONNECT));
	FUZZ_CHECK(rq.rq_port == 0);
	proxy_http_request_free(&rq);
}

/* Feed len bytes in pieces of step; the body's bytes and the result. */
static int
fuzz_chunked_run(const char *buf, size_t len, int response, size_t step,
    size_t *used, const char **why)
{
	struct proxy_http_chunked	 ch;
	struct proxy_http_error		 err;
	size_t				 off = 0, n, k;
	int				 r = PROXY_HTTP_MORE;

	proxy_http_chunked_init(&ch, response);
	*used = 0;
	*why = NULL;
	do {
		n = len - off < step ? len - off : step;
		r = proxy_http_chunked_feed(&ch, buf + off, n, &k, &err);
		if (r == PROXY_HTTP_MORE)
			FUZZ_CHECK(k == n);
		off += n;
		*used += k;
	} while (r == PROXY_HTTP_MORE && off < len);
	if (r == PROXY_HTTP_ERROR) {
		*why = err.reason;
		FUZZ_CHECK(err.status == (response ? 502 : 400));
	}
	if (r == PROXY_HTTP_DONE)
		FUZZ_CHECK(ch.ch_total == *used);
	return (r);
}
