/*
 * test_proxy_http.c: the proxy's HTTP/1.1 parser: head framing fed in
 * one piece and byte by byte, request and response heads that must parse
 * and the smuggling vectors that must not, the heads written upstream
 * and back compared byte for byte, response framing, and chunked bodies
 * split at every boundary.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>


#include "config.h"
#include "sbxd.h"
#include "proxy_http.h"
#include "unit.h"

#define S(s)	(s), sizeof(s) - 1	/* a literal and its length */
#define H	"Host: a.com\r\n"

/* A head that must be refused, and how. */
struct bad_case {
	const char	*b_head;
	size_t		 b_len;
	int		 b_status;
	const char	*b_reason;
};

static const struct bad_case bad_requests[] = {
	/* request line */
	{ S(" GET http://a.com/ HTTP/1.1\r\n" H "\r\n"), 400,
	    "bad-request-line" },
	{ S("GET  http://a.com/ HTTP/1.1\r\n" H "\r\n"), 400,
	    "bad-request-line" },
	{ S("GET http://a.com/  HTTP/1.1\r\n" H "\r\n"), 400, "bad-version" },
	{ S("GET http://a.com/ HTTP/1.1 \r\n" H "\r\n"), 400, "bad-version" },
	{ S("GET\thttp://a.com/ HTTP/1.1\r\n" H "\r\n"), 400,
	    "bad-request-line" },
	{ S("GET http://a.com/\r\n" H "\r\n"), 400, "bad-request-line" },
	{ S("G(T http://a.com/ HTTP/1.1\r\n" H "\r\n"), 400,
	    "bad-request-line" },
	{ S("GET http://a.com/ http/1.1\r\n" H "\r\n"), 400, "bad-version" },
	{ S("GET http://a.com/ HTTP/1.10\r\n" H "\r\n"), 400, "bad-version" },
	{ S("GET http://a.com/ HTTP/1.2\r\n" H "\r\n"), 505, "version" },
	{ S("GET http://a.com/ HTTP/2.0\r\n" H "\r\n"), 505, "version" },
	{ S("GET http://a.com/ HTTP/0.9\r\n" H "\r\n"), 505, "version" },
	{ S("PRI * HTTP/2.0\r\n\r\n"), 505, "http2-prior-knowledge" },
	{ S("GET http://a.com/ HTTP/1.1\r\r\n" H "\r\n"), 400, "bad-version" },
	/* request target */
	{ S("GET / HTTP/1.1\r\n" H "\r\n"), 400, "origin-form" },
	{ S("OPTIONS * HTTP/1.1\r\n" H "\r\n"), 400, "asterisk-form" },
	{ S("GET https://a.com/ HTTP/1.1\r\n" H "\r\n"), 400,
	    "https-absolute-form" },
	{ S("GET HTTPS://a.com/ HTTP/1.1\r\n" H "\r\n"), 400,
	    "https-absolute-form" },
	{ S("GET ftp://a.com/ HTTP/1.1\r\n" H "\r\n"), 501,
	    "unsupported-scheme" },
	{ S("GET gopher://a.com/ HTTP/1.1\r\n" H "\r\n"), 501,
	    "unsupported-scheme" },
	{ S("GET a.com:80 HTTP/1.1\r\n" H "\r\n"), 400, "bad-target" },
	{ S("GET http:/a.com/ HTTP/1.1\r\n" H "\r\n"), 400, "bad-target" },
	{ S("GET http:a.com HTTP/1.1\r\n" H "\r\n"), 400, "bad-target" },
	{ S("GET 1http://a.com/ HTTP/1.1\r\n" H "\r\n"), 400, "bad-target" },
	{ S("GET http://a.com/#x HTTP/1.1\r\n" H "\r\n"), 400, "fragment" },
	{ S("GET http://a.com#x HTTP/1.1\r\n" H "\r\n"), 400, "fragment" },
	{ S("GET http://a.com/\x01 HTTP/1.1\r\n" H "\r\n"), 400,
	    "bad-target" },
	{ S("GET http://a.com/\x7f HTTP/1.1\r\n" H "\r\n"), 400,
	    "bad-target" },
	{ S("GET http://a.com/\xc3\xa9 HTTP/1.1\r\n" H "\r\n"), 400,
	    "non-ascii" },
	{ S("GET http://a.com/\0 HTTP/1.1\r\n" H "\r\n"), 400, "bad-target" },
	/* authority */
	{ S("GET http://a.com@evil.com/ HTTP/1.1\r\n" H "\r\n"), 400,
	    "userinfo" },
	{ S("GET http://evil.com\\@good.com/ HTTP/1.1\r\n" H "\r\n"), 400,
	    "userinfo" },
	{ S("GET http://evil.com\\.good.com/ HTTP/1.1\r\n" H "\r\n"), 400,
	    "bad-host" },
	{ S("GET http://u:p@a.com/ HTTP/1.1\r\n" H "\r\n"), 400, "userinfo" },
	{ S("GET http://@a.com/ HTTP/1.1\r\n" H "\r\n"), 400, "userinfo" },
	{ S("GET http://127.1/ HTTP/1.1\r\n" H "\r\n"), 400, "bad-host" },
	{ S("GET http://0x7f.0.0.1/ HTTP/1.1\r\n" H "\r\n"), 400,
	    "bad-host" },
	{ S("GET http://2130706433/ HTTP/1.1\r\n" H "\r\n"), 400,
	    "bad-host" },
	{ S("GET http://0177.0.0.1/ HTTP/1.1\r\n" H "\r\n"), 400,
	    "bad-host" },
	{ S("GET http://ex%61mple.com/ HTTP/1.1\r\n" H "\r\n"), 400,
	    "bad-host" },
	{ S("GET http://ex\xc3\xa4mple.com/ HTTP/1.1\r\n" H "\r\n"), 400,
	    "non-ascii" },
	{ S("GET http://::1/ HTTP/1.1\r\n" H "\r\n"), 400, "bad-host" },
	{ S("GET http://[::1/ HTTP/1.1\r\n" H "\r\n"), 400, "bad-host" },
	{ S("GET http://[::1]x/ HTTP/1.1\r\n" H "\r\n"), 400, "bad-host" },
	{ S("GET http://[fe80::1%25eth0]/ HTTP/1.1\r\n" H "\r\n"), 400,
	    "bad-host" },
	{ S("GET http:/// HTTP/1.1\r\n" H "\r\n"), 400, "bad-host" },
	{ S("GET http://a..com/ HTTP/1.1\r\n" H "\r\n"), 400, "bad-host" },
	{ S("GET http://a_b.com/ HTTP/1.1\r\n" H "\r\n"), 400, "bad-host" },
	{ S("GET http://-a.com/ HTTP/1.1\r\n" H "\r\n"), 400, "bad-host" },
	{ S("GET http://a.com:/ HTTP/1.1\r\n" H "\r\n"), 400, "bad-port" },
	{ S("GET http://a.com:0/ HTTP/1.1\r\n" H "\r\n"), 400, "bad-port" },
	{ S("GET http://a.com:080/ HTTP/1.1\r\n" H "\r\n"), 400,
	    "bad-port" },
	{ S("GET http://a.com:+80/ HTTP/1.1\r\n" H "\r\n"), 400,
	    "bad-port" },
	{ S("GET http://a.com:-1/ HTTP/1.1\r\n" H "\r\n"), 400, "bad-port" },
	{ S("GET http://a.com:65536/ HTTP/1.1\r\n" H "\r\n"), 400,
	    "bad-port" },
	{ S("GET http://a.com:100000/ HTTP/1.1\r\n" H "\r\n"), 400,
	    "bad-port" },
	{ S("GET http://a.com:8o/ HTTP/1.1\r\n" H "\r\n"), 400, "bad-port" },
	{ S("GET http://a.com:80:80/ HTTP/1.1\r\n" H "\r\n"), 400,
	    "bad-port" },
	{ S("CONNECT a.com HTTP/1.1\r\n" H "\r\n"), 400, "bad-port" },
	{ S("CONNECT a.com: HTTP/1.1\r\n" H "\r\n"), 400, "bad-port" },
	{ S("CONNECT [::1] HTTP/1.1\r\n" H "\r\n"), 400, "bad-port" },
	{ S("CONNECT http://a.com:443 HTTP/1.1\r\n" H "\r\n"), 400,
	    "bad-port" },
	{ S("CONNECT a.com:443/x HTTP/1.1\r\n" H "\r\n"), 400, "bad-port" },
	{ S("CONNECT u@a.com:443 HTTP/1.1\r\n" H "\r\n"), 400, "userinfo" },
	{ S("CONNECT a.com:443 HTTP/1.1\r\n" H "Content-Length: 3\r\n\r\n"),
	    400, "connect-body" },
	{ S("CONNECT a.com:443 HTTP/1.1\r\n" H
	    "Transfer-Encoding: chunked\r\n\r\n"), 400, "connect-body" },
	{ S("connect a.com:443 HTTP/1.1\r\n" H "\r\n"), 400, "bad-target" },
	/* field lines */
	{ S("GET http://a.com/ HTTP/1.1\r\n" H " folded\r\n\r\n"), 400,
	    "obs-fold" },
	{ S("GET http://a.com/ HTTP/1.1\r\n" H "X: a\r\n\tb\r\n\r\n"), 400,
	    "obs-fold" },
	{ S("GET http://a.com/ HTTP/1.1\r\nHost : a.com\r\n\r\n"), 400,
	    "space-before-colon" },
	{ S("GET http://a.com/ HTTP/1.1\r\n" H
	    "Transfer-Encoding : chunked\r\n\r\n"), 400, "space-before-colon" },
	{ S("GET http://a.com/ HTTP/1.1\r\n" H "X\t: 1\r\n\r\n"), 400,
	    "space-before-colon" },
	{ S("GET http://a.com/ HTTP/1.1\r\n" H ": x\r\n\r\n"), 400,
	    "bad-field-name" },
	{ S("GET http://a.com/ HTTP/1.1\r\n" H "X-No-Colon\r\n\r\n"), 400,
	    "bad-field-name" },
	{ S("GET http://a.com/ HTTP/1.1\r\n" H "X(y): 1\r\n\r\n"), 400,
	    "bad-field-name" },
	{ S("GET http://a.com/ HTTP/1.1\r\n" H "X\xc3\xa9: 1\r\n\r\n"), 400,
	    "bad-field-name" },
	{ S("GET http://a.com/ HTTP/1.1\r\n" H "X: a\0b\r\n\r\n"), 400,
	    "bad-field-value" },
	{ S("GET http://a.com/ HTTP/1.1\r\n" H "X: a\x01" "b\r\n\r\n"), 400,
	    "bad-field-value" },
	{ S("GET http://a.com/ HTTP/1.1\r\n" H "X: a\x7f\r\n\r\n"), 400,
	    "bad-field-value" },
	{ S("GET http://a.com/ HTTP/1.1\r\n" H "X: a\rb\r\n\r\n"), 400,
	    "bad-field-value" },
	{ S("GET http://a.com/ HTTP/1.1\r\n" H "X: a\r\r\n\r\n"), 400,
	    "bad-field-value" },
	{ S("GET http://a.com/ HTTP/1.1\r\n" H "X: caf\xc3\xa9\r\n\r\n"), 400,
	    "non-ascii" },
	/* bare LF */
	{ S("GET http://a.com/ HTTP/1.1\n" H "\r\n"), 400, "bare-lf" },
	{ S("GET http://a.com/ HTTP/1.1\r\nX: 1\n" H "\r\n"), 400,
	    "bare-lf" },
	{ S("GET http://a.com/ HTTP/1.1\r\n" H "\n\r\n"), 400,
	    "incomplete-head" },
	{ S("GET http://a.com/ HTTP/1.1\r\n" H "X: 1\n\r\n\r\n"), 400,
	    "bare-lf" },
	{ S("GET http://a.com/ HTTP/1.1\r\n" H "\r\n\r\n"), 400,
	    "incomplete-head" },
	{ S("GET http://a.com/ HTTP/1.1\r\n" H "\r\n\r\n"), 400,
	    "incomplete-head" },
	{ S("GET http://a.com/ HTTP/1.1\r\n" H), 400, "incomplete-head" },
	{ S("\r\nGET http://a.com/ HTTP/1.1\r\n" H "\r\n"), 400,
	    "empty-first-line" },
	/* Content-Length */
	{ S("POST http://a.com/ HTTP/1.1\r\n" H "Content-Length: +5\r\n\r\n"),
	    400, "bad-content-length" },
	{ S("POST http://a.com/ HTTP/1.1\r\n" H "Content-Length: -1\r\n\r\n"),
	    400, "bad-content-length" },
	{ S("POST http://a.com/ HTTP/1.1\r\n" H "Content-Length: 0x5\r\n\r\n"),
	    400, "bad-content-length" },
	{ S("POST http://a.com/ HTTP/1.1\r\n" H "Content-Length: 5 6\r\n\r\n"),
	    400, "bad-content-length" },
	{ S("POST http://a.com/ HTTP/1.1\r\n" H "Content-Length:\r\n\r\n"),
	    400, "bad-content-length" },
	{ S("POST http://a.com/ HTTP/1.1\r\n" H "Content-Length: 5, 6\r\n\r\n"),
	    400, "bad-content-length" },
	{ S("POST http://a.com/ HTTP/1.1\r\n" H "Content-Length: 5,\r\n\r\n"),
	    400, "bad-content-length" },
	{ S("POST http://a.com/ HTTP/1.1\r\n" H "Content-Length: 5,,5\r\n\r\n"),
	    400, "bad-content-length" },
	{ S("POST http://a.com/ HTTP/1.1\r\n" H
	    "Content-Length: 5\r\nContent-Length: 6\r\n\r\n"), 400,
	    "bad-content-length" },
	{ S("POST http://a.com/ HTTP/1.1\r\n" H
	    "Content-Length: 99999999999999999999999\r\n\r\n"), 400,
	    "bad-content-length" },
	{ S("POST http://a.com/ HTTP/1.1\r\n" H
	    "Content-Length: 4611686018427387905\r\n\r\n"), 400,
	    "bad-content-length" },
	{ S("POST http://a.com/ HTTP/1.1\r\n" H
	    "Content-Length: 18446744073709551621\r\n\r\n"), 400,
	    "bad-content-length" },
	/* Transfer-Encoding: CL.TE, TE.CL and friends */
	{ S("POST http://a.com/ HTTP/1.1\r\n" H "Content-Length: 6\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n"), 400, "cl-and-te" },
	{ S("POST http://a.com/ HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n"
	    "Content-Length: 6\r\n\r\n"), 400, "cl-and-te" },
	{ S("POST http://a.com/ HTTP/1.1\r\n" H
	    "Transfer-Encoding: xchunked\r\nContent-Length: 6\r\n\r\n"), 400,
	    "cl-and-te" },
	{ S("POST http://a.com/ HTTP/1.1\r\n" H
	    "Transfer-Encoding: xchunked\r\n\r\n"), 501, "transfer-encoding" },
	{ S("POST http://a.com/ HTTP/1.1\r\n" H
	    "Transfer-Encoding: gzip, chunked\r\n\r\n"), 501,
	    "transfer-encoding" },
	{ S("POST http://a.com/ HTTP/1.1\r\n" H
	    "Transfer-Encoding: chunked, chunked\r\n\r\n"), 501,
	    "transfer-encoding" },
	{ S("POST http://a.com/ HTTP/1.1\r\n" H
	    "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"),
	    501, "transfer-encoding" },
	{ S("POST http://a.com/ HTTP/1.1\r\n" H
	    "Transfer-Encoding: identity\r\n\r\n"), 501, "transfer-encoding" },
	{ S("POST http://a.com/ HTTP/1.1\r\n" H
	    "Transfer-Encoding: chunked;q=1\r\n\r\n"), 501,
	    "transfer-encoding" },
	{ S("POST http://a.com/ HTTP/1.1\r\n" H
	    "Transfer-Encoding: \"chunked\"\r\n\r\n"), 501,
	    "transfer-encoding" },
	{ S("POST http://a.com/ HTTP/1.1\r\n" H
	    "Transfer-Encoding:\r\n\r\n"), 501, "transfer-encoding" },
	{ S("POST http://a.com/ HTTP/1.0\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n"), 400, "te-http10" },
	/* Host */
	{ S("GET http://a.com/ HTTP/1.1\r\n\r\n"), 400, "missing-host" },
	{ S("GET http://a.com/ HTTP/1.1\r\n" H H "\r\n"), 400,
	    "duplicate-host" },
	{ S("GET http://a.com/ HTTP/1.1\r\n" H "host: b.com\r\n\r\n"), 400,
	    "duplicate-host" },
	{ S("GET http://a.com/ HTTP/1.0\r\n" H H "\r\n"), 400,
	    "duplicate-host" },
	{ S("GET http://a.com/ HTTP/1.1\r\nHost:\r\n\r\n"), 400,
	    "bad-host-header" },
	{ S("GET http://a.com/ HTTP/1.1\r\nHost: a.com:x\r\n\r\n"), 400,
	    "bad-host-header" },
	{ S("GET http://a.com/ HTTP/1.1\r\nHost: a.com b.com\r\n\r\n"), 400,
	    "bad-host-header" },
	{ S("GET http://a.com/ HTTP/1.1\r\nHost: u@a.com\r\n\r\n"), 400,
	    "userinfo" },
	/* Connection, Expect */
	{ S("GET http://a.com/ HTTP/1.1\r\n" H
	    "Connection: Content-Length\r\n\r\n"), 400, "connection-framing" },
	{ S("GET http://a.com/ HTTP/1.1\r\n" H
	    "Connection: close, transfer-encoding\r\n\r\n"), 400,
	    "connection-framing" },
	{ S("GET http://a.com/ HTTP/1.1\r\n" H "Connection: host\r\n\r\n"),
	    400, "connection-framing" },
	{ S("GET http://a.com/ HTTP/1.1\r\n" H "Connection: a b\r\n\r\n"),
	    400, "bad-connection" },
	{ S("GET http://a.com/ HTTP/1.1\r\n" H "Connection: a;b\r\n\r\n"),
	    400, "bad-connection" },
	{ S("GET http://a.com/ HTTP/1.1\r\n" H
	    "Proxy-Connection: \"close\"\r\n\r\n"), 400, "bad-connection" },
	{ S("GET http://a.com/ HTTP/1.1\r\n" H
	    "Connection: a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q,r,s,t,u,v,w,x,y,z,"
	    "aa,bb,cc,dd,ee,ff,gg\r\n\r\n"), 400, "bad-connection" },
	{ S("PUT http://a.com/ HTTP/1.1\r\n" H "Expect: 200-ok\r\n\r\n"), 417,
	    "expectation" },
	{ S("PUT http://a.com/ HTTP/1.1\r\n" H
	    "Expect: 100-continue, x\r\n\r\n"), 417, "expectation" },
	{ S("PUT http://a.com/ HTTP/1.1\r\n" H "Expect: 100-continue\r\n"
	    "Expect: x\r\n\r\n"), 417, "expectation" },
};

static const struct bad_case bad_responses[] = {
	{ S("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n"), 502, "cl-and-te" },
	{ S("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"), 502,
	    "transfer-encoding" },
	{ S("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
	    502, "transfer-encoding" },
	{ S("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), 502,
	    "te-http10" },
	{ S("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
	    "Content-Length: 7\r\n\r\n"), 502, "bad-content-length" },
	{ S("HTTP/1.1 200 OK\r\nContent-Length: 5a\r\n\r\n"), 502,
	    "bad-content-length" },
	{ S("HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n"), 502, "obs-fold" },
	{ S("HTTP/1.1 200 OK\nX: a\r\n\r\n"), 502, "bare-lf" },
	{ S("HTTP/1.1 200 OK\r\nX: a\nY: b\r\n\r\n"), 502, "bare-lf" },
	{ S("HTTP/1.1 200 OK\r\nX: a\0\r\n\r\n"), 502, "bad-field-value" },
	{ S("HTTP/1.1 200 OK\r\nX : a\r\n\r\n"), 502, "space-before-colon" },
	{ S("HTTP/1.1 200 OK\r\nConnection: content-length\r\n"
	    "Content-Length: 1\r\n\r\n"), 502, "connection-framing" },
	{ S("HTTP/1.1 2000 OK\r\n\r\n"), 502, "bad-status-line" },
	{ S("HTTP/1.1 20 OK\r\n\r\n"), 502, "bad-status-line" },
	{ S("HTTP/1.1 099 OK\r\n\r\n"), 502, "bad-status-line" },
	{ S("HTTP/1.1 600 OK\r\n\r\n"), 502, "bad-status-line" },
	{ S("HTTP/1.1  200 OK\r\n\r\n"), 502, "bad-status-line" },
	{ S("HTTP/1.2 200 OK\r\n\r\n"), 502, "bad-status-line" },
	{ S("HTTP/2 200 OK\r\n\r\n"), 502, "bad-status-line" },
	{ S("http/1.1 200 OK\r\n\r\n"), 502, "bad-status-line" },
	{ S("HTTP/1.1 200 O\x01K\r\n\r\n"), 502, "bad-status-line" },
	{ S("ICY 200 OK\r\n\r\n"), 502, "bad-status-line" },
	{ S("HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\n"
	    "Upgrade: websocket\r\n\r\n"), 502, "unexpected-101" },
};

static int
req_parse(const char *s, struct proxy_http_request *rq,
    struct proxy_http_error *err)
{
	return (proxy_http_request_parse(s, strlen(s), rq, err));
}

/* Parse s, write it upstream with flags, and compare with want. */
static int
req_rewrite(const char *s, int flags, const char *want)
{
	struct proxy_http_request	 rq;
	struct proxy_http_error		 err;
	struct evbuffer			*out = evbuffer_new();
	char				*got = NULL;
	int				 ok = -1;

	memset(&rq, 0, sizeof(rq));
	CHECK(out != NULL);
	CHECK_INT(req_parse(s, &rq, &err), 0);
	CHECK_INT(proxy_http_request_write(&rq, out, flags), 0);
	CHECK((got = strndup((char *)evbuffer_pullup(out, -1),
	    evbuffer_get_length(out))) != NULL);
	CHECK_STR(got, want);
	ok = 0;
 end:
	free(got);
	if (out != NULL)
		evbuffer_free(out);
	proxy_http_request_free(&rq);
	return (ok);
}

/* Parse response s to a request r, write it with flags, compare. */
static int
resp_rewrite(const char *r, const char *s, int flags, const char *want)
{
	struct proxy_http_request	 rq;
	struct proxy_http_response	 rs;
	struct proxy_http_error		 err;
	struct evbuffer			*out = evbuffer_new();
	char				*got = NULL;
	int				 ok = -1;

	memset(&rq, 0, sizeof(rq));
	memset(&rs, 0, sizeof(rs));
	CHECK(out != NULL);
	CHECK_INT(req_parse(r, &rq, &err), 0);
	CHECK_INT(proxy_http_response_parse(s, strlen(s), &rq, &rs, &err), 0);
	CHECK_INT(proxy_http_response_write(&rs, out, flags), 0);
	CHECK((got = strndup((char *)evbuffer_pullup(out, -1),
	    evbuffer_get_length(out))) != NULL);
	CHECK_STR(got, want);
	ok = 0;
 end:
	free(got);
	if (out != NULL)
		evbuffer_free(out);
	proxy_http_response_free(&rs);
	proxy_http_request_free(&rq);
	return (ok);
}

/* Check one refused head; response heads are parsed against a GET. */
static int
bad_one(const struct bad_case *b, int response)
{
	struct proxy_http_request	 rq, get;
	struct proxy_http_response	 rs;
	struct proxy_http_error		 err;
	int				 r, ok = -1;

	memset(&err, 0, sizeof(err));
	memset(&get, 0, sizeof(get));
	if (response) {
		CHECK_INT(req_parse("GET http://a.com/ HTTP/1.1\r\n" H "\r\n",
		    &get, &err), 0);
		r = proxy_http_response_parse(b->b_head, b->b_len, &get, &rs,
		    &err);
		CHECK(rs.rs_msg.hm_buf == NULL);
	} else {
		r = proxy_http_request_parse(b->b_head, b->b_len, &rq, &err);
		CHECK(rq.rq_msg.hm_buf == NULL);
	}
	CHECK_INT(r, -1);
	CHECK_INT(err.status, b->b_status);
	CHECK_STR(err.reason, b->b_reason);
	CHECK(err.detail != NULL);
	ok = 0;
 end:
	if (ok == -1)
		fprintf(stderr, "    in: %.*s\n", (int)b->b_len, b->b_head);
	proxy_http_request_free(&get);
	return (ok);
}

static int
test_bad_requests(void)
{
	size_t	 i;
	int	 ok = 0;

	for (i = 0; i < sizeof(bad_requests) / sizeof(bad_requests[0]); i++)
		if (bad_one(&bad_requests[i], 0) == -1)
			ok = -1;
	return (ok);
}

static int
test_bad_responses(void)
{
	size_t	 i;
	int	 ok = 0;

	for (i = 0; i < sizeof(bad_responses) / sizeof(bad_responses[0]); i++)
		if (bad_one(&bad_responses[i], 1) == -1)
			ok = -1;
	return (ok);
}

static int
test_scan(void)
{
	struct proxy_http_scan	 hs;
	struct proxy_http_error	 err;
	const char		*s = "GET http://a.com/ HTTP/1.1\r\n" H
				    "\r\nBODY";
	size_t			 hl = 0;

	proxy_http_scan_init(&hs, 0);
	CHECK_INT(proxy_http_head_scan(&hs, s, 10, &hl, &err), PROXY_HTTP_MORE);
	CHECK_INT(proxy_http_head_scan(&hs, s, strlen(s) - 6, &hl, &err),
	    PROXY_HTTP_MORE);
	CHECK_INT(proxy_http_head_scan(&hs, s, strlen(s) - 5, &hl, &err),
	    PROXY_HTTP_MORE);
	CHECK_INT(proxy_http_head_scan(&hs, s, strlen(s), &hl, &err),
	    PROXY_HTTP_DONE);
	CHECK_INT(hl, strlen(s) - 4);
	/* reset after DONE: the next head is scanned from scratch */
	CHECK_INT(hs.hs_off, 0);
	CHECK_INT(proxy_http_head_scan(&hs, s, strlen(s), &hl, &err),
	    PROXY_HTTP_DONE);
	CHECK_INT(hl, strlen(s) - 4);
	CHECK_INT(proxy_http_head_scan(&hs, S("\r\n\r\n"), &hl, &err),
	    PROXY_HTTP_ERROR);
	CHECK_INT(err.status, 400);
	CHECK_STR(err.reason, "empty-first-line");
	return (0);
 end:
	return (-1);
}

static int
test_scan_bare_lf(void)
{
	struct proxy_http_scan	 hs;
	struct proxy_http_error	 err;
	size_t			 hl;

	/* at once, without waiting for the end of the head */
	proxy_http_scan_init(&hs, 0);
	CHECK_INT(proxy_http_head_scan(&hs, S("GET http://a.com/ HTTP/1.1\n"),
	    &hl, &err), PROXY_HTTP_ERROR);
	CHECK_INT(err.status, 400);
	CHECK_STR(err.reason, "bare-lf");
	CHECK_INT(proxy_http_head_scan(&hs, S("GET http://a.com/ HTTP/1.1\r\n"
	    "X: 1\nY"), &hl, &err), PROXY_HTTP_ERROR);
	CHECK_STR(err.reason, "bare-lf");
	CHECK_INT(proxy_http_head_scan(&hs, S("\n"), &hl, &err),
	    PROXY_HTTP_ERROR);
	proxy_http_scan_init(&hs, 1);
	CHECK_INT(proxy_http_head_scan(&hs, S("HTTP/1.1 200 OK\n"), &hl, &err),
	    PROXY_HTTP_ERROR);
	CHECK_INT(err.status, 502);
	return (0);
 end:
	return (-1);
}

/* Fed one byte more at a time, the scan ends at exactly the same byte. */
static int
test_scan_bytewise(void)
{
	struct proxy_http_scan	 hs;
	struct proxy_http_error	 err;
	const char		*s = "POST http://a.com/x HTTP/1.1\r\n" H
				    "Content-Length: 3\r\nX: \r\n\r\nabc";
	size_t			 i, hl = 0, want = strlen(s) - 3;
	int			 r;

	proxy_http_scan_init(&hs, 0);
	for (i = 0; i <= strlen(s); i++) {
		r = proxy_http_head_scan(&hs, s, i, &hl, &err);
		if (i < want)
			CHECK_INT(r, PROXY_HTTP_MORE);
		else {
			CHECK_INT(r, PROXY_HTTP_DONE);
			CHECK_INT(hl, want);
			break;
		}
		/* resumes: never looks at a byte twice */
		CHECK_INT(hs.hs_off, i);
	}
	CHECK_INT(i, want);
	return (0);
 end:
	return (-1);
}

/* Build a head of n bytes with fields field lines. */
static char *
big_head(size_t fields, size_t pad, size_t *len)
{
	char	*b, *p;
	size_t	 i;

	if ((b = malloc(64 + fields * 8 + pad + 16)) == NULL)
		return (NULL);
	p = b + sprintf(b, "GET http://a.com/ HTTP/1.1\r\n" H);
	for (i = 1; i < fields; i++)
		p += sprintf(p, "X%03zu: \r\n", i);
	p += sprintf(p, "P: ");
	memset(p, 'x', pad);
	p += pad;
	p += sprintf(p, "\r\n\r\n");
	*len = p - b;
	return (b);
}

/* Scan and parse a generated head: status 0 means it must pass. */
static int
limit_one(size_t fields, size_t pad, int status, const char *reason)
{
	struct proxy_http_scan		 hs;
	struct proxy_http_request	 rq;
	struct proxy_http_error		 err;
	char				*b;
	size_t				 len, hl;
	int				 ok = -1;

	memset(&rq, 0, sizeof(rq));
	if ((b = big_head(fields, pad, &len)) == NULL)
		return (-1);
	proxy_http_scan_init(&hs, 0);
	CHECK_INT(proxy_http_head_scan(&hs, b, len, &hl, &err),
	    status == 0 ? PROXY_HTTP_DONE : PROXY_HTTP_ERROR);
	CHECK_INT(proxy_http_request_parse(b, len, &rq, &err),
	    status == 0 ? 0 : -1);
	if (status == 0)
		CHECK_INT(rq.rq_msg.hm_nfields, fields + 1);
	else {
		CHECK_INT(err.status, status);
		CHECK_STR(err.reason, reason);
	}
	ok = 0;
 end:
	free(b);
	proxy_http_request_free(&rq);
	return (ok);
}

static int
test_limits(void)
{
	char	*b;
	size_t	 len, pad;

	if ((b = big_head(1, 0, &len)) == NULL)
		return (-1);
	free(b);
	pad = PROXY_HTTP_HEAD_MAX - len;
	CHECK(limit_one(99, 1, 0, NULL) == 0);		/* 100 fields */
	CHECK(limit_one(100, 1, 431, "too-many-fields") == 0);
	CHECK(limit_one(1, pad, 0, NULL) == 0);		/* 64 KiB */
	CHECK(limit_one(1, pad + 1, 431, "head-too-large") == 0);
	return (0);
 end:
	return (-1);
}

/* A slow client's 64 KiB head byte by byte, then one byte too many. */
static int
test_limits_bytewise(void)
{
	struct proxy_http_scan	 hs;
	struct proxy_http_error	 err;
	char			*b;
	size_t			 i, hl;
	int			 r = PROXY_HTTP_MORE;

	if ((b = malloc(PROXY_HTTP_HEAD_MAX + 1)) == NULL)
		return (-1);
	memcpy(b, "GET http://a.com/ HTTP/1.1\r\nX: ", 31);
	memset(b + 31, 'x', PROXY_HTTP_HEAD_MAX + 1 - 31);
	proxy_http_scan_init(&hs, 0);
	for (i = 1; i <= PROXY_HTTP_HEAD_MAX && r == PROXY_HTTP_MORE; i++)
		r = proxy_http_head_scan(&hs, b, i, &hl, &err);
	free(b);
	CHECK_INT(i, PROXY_HTTP_HEAD_MAX + 1);
	CHECK_INT(r, PROXY_HTTP_ERROR);
	CHECK_INT(err.status, 431);
	return (0);
 end:
	return (-1);
}

static int
test_request_get(void)
{
	struct proxy_http_request	 rq;
	struct proxy_http_error		 err;
	const struct proxy_http_msg	*m = &rq.rq_msg;

	CHECK_INT(req_parse("GET HTTP://Example.COM./a/b?c=d&e HTTP/1.1\r\n"
	    "Host:   example.com:8080  \r\nUser-Agent: t\t x\r\n"
	    "X-Empty:\r\n\r\n", &rq, &err), 0);
	CHECK_STR(rq.rq_method, "GET");
	CHECK(proxy_http_method_is(&rq, "GET"));
	CHECK(!proxy_http_method_is(&rq, "get"));
	CHECK_STR(rq.rq_target, "HTTP://Example.COM./a/b?c=d&e");
	CHECK_STR(rq.rq_host.h_name, "example.com");
	CHECK_INT(rq.rq_host.h_family, 0);
	CHECK_INT(rq.rq_port, 80);
	CHECK_INT(rq.rq_pathlen, 4);
	CHECK(memcmp(rq.rq_path, "/a/b", 4) == 0);
	CHECK_INT(rq.rq_querylen, 6);
	CHECK(memcmp(rq.rq_query, "?c=d&e", 6) == 0);
	CHECK_INT(m->hm_version, 11);
	CHECK_INT(m->hm_body, PROXY_HTTP_BODY_NONE);
	CHECK_INT(m->hm_flags, PROXY_HTTP_F_GET | PROXY_HTTP_F_HOSTHDR |
	    PROXY_HTTP_F_PERSIST);
	CHECK_STR(rq.rq_hhost.h_name, "example.com");
	CHECK_INT(rq.rq_hport, 8080);
	proxy_http_request_free(&rq);
	proxy_http_request_free(&rq);	/* twice is harmless */
	return (0);
 end:
	proxy_http_request_free(&rq);
	return (-1);
}

static int
test_request_fields(void)
{
	struct proxy_http_request	 rq;
	struct proxy_http_error		 err;
	const struct proxy_http_msg	*m = &rq.rq_msg;
	const char			*v;
	size_t				 n;

	CHECK_INT(req_parse("GET http://a.com/ HTTP/1.1\r\n"
	    "Host:   example.com:8080  \r\nUser-Agent: t\t x\r\n"
	    "X-Empty:\r\n\r\n", &rq, &err), 0);
	CHECK_INT(m->hm_nfields, 3);
	CHECK_INT(m->hm_fields[0].hf_kind, PROXY_HTTP_K_HOST);
	CHECK_INT(m->hm_fields[0].hf_valuelen, 16);
	CHECK(memcmp(m->hm_fields[0].hf_value, "example.com:8080", 16) == 0);
	CHECK_INT(m->hm_fields[1].hf_valuelen, 4);
	CHECK(memcmp(m->hm_fields[1].hf_value, "t\t x", 4) == 0);
	CHECK_INT(m->hm_fields[2].hf_valuelen, 0);
	CHECK((v = proxy_http_field_find(m, "user-agent", &n)) != NULL);
	CHECK_INT(n, 4);
	CHECK(proxy_http_field_find(m, "Cookie", &n) == NULL);
	proxy_http_request_free(&rq);
	return (0);
 end:
	proxy_http_request_free(&rq);
	return (-1);
}

/* Every byte value at every position of a long value. */
static int
test_field_bytes(void)
{
	struct proxy_http_request	 rq;
	struct proxy_http_response	 rs;
	struct proxy_http_error		 err;
	char				 b[128];
	const char			*want;
	size_t				 pos, n;
	int				 c, r;

	for (c = 0; c < 256; c++) {
		if (c == '\n')
			continue;
		want = c >= 0x80 ? "non-ascii" : (c < 0x20 && c != '\t') ||
		    c == 0x7f ? "bad-field-value" : NULL;
		for (pos = 0; pos < 24; pos++) {
			n = snprintf(b, sizeof(b), "GET http://a.com/ HTTP/1.1"
			    "\r\nHost: a.com\r\nX: aaaaaaaaaaaaaaaaaaaaaaaaz"
			    "\r\n\r\n");
			b[45 + pos] = c;
			r = proxy_http_request_parse(b, n, &rq, &err);
			proxy_http_request_free(&rq);
			CHECK_INT(r, want == NULL ? 0 : -1);
			if (want != NULL)
				CHECK_STR(err.reason, want);
			memcpy(b + 11, "HTTP/1.1 200 OK", 15);
			r = proxy_http_response_parse(b + 11, n - 11, NULL, &rs,
			    &err);
			proxy_http_response_free(&rs);
			CHECK_INT(r, want == NULL || c >= 0x80 ? 0 : -1);
		}
	}
	return (0);
 end:
	fprintf(stderr, "    byte %#x at %zu\n", c, pos);
	return (-1);
}

static int
test_request_targets(void)
{
	struct proxy_http_request	 rq;
	struct proxy_http_error		 err;

	CHECK_INT(req_parse("GET http://a.com HTTP/1.1\r\n" H "\r\n", &rq,
	    &err), 0);
	CHECK_INT(rq.rq_pathlen, 1);
	CHECK(rq.rq_path[0] == '/');
	CHECK_INT(rq.rq_querylen, 0);
	proxy_http_request_free(&rq);
	CHECK_INT(req_parse("GET http://a.com?x HTTP/1.1\r\n" H "\r\n", &rq,
	    &err), 0);
	CHECK_INT(rq.rq_pathlen, 1);
	CHECK_INT(rq.rq_querylen, 2);
	proxy_http_request_free(&rq);
	CHECK_INT(req_parse("GET http://a.com:65535/ HTTP/1.1\r\n" H "\r\n",
	    &rq, &err), 0);
	CHECK_INT(rq.rq_port, 65535);
	proxy_http_request_free(&rq);
	CHECK_INT(req_parse("GET http://[::1]:80/ HTTP/1.1\r\n" H "\r\n",
	    &rq, &err), 0);
	CHECK_INT(rq.rq_host.h_family, AF_INET6);
	CHECK_STR(rq.rq_host.h_name, "::1");
	proxy_http_request_free(&rq);
	CHECK_INT(req_parse("GET http://[::ffff:127.0.0.1]/ HTTP/1.1\r\n" H
	    "\r\n", &rq, &err), 0);
	CHECK_INT(rq.rq_host.h_family, AF_INET);
	CHECK_STR(rq.rq_host.h_name, "127.0.0.1");
	proxy_http_request_free(&rq);
	CHECK_INT(req_parse("DELETE http://10.0.0.1:8080/x HTTP/1.1\r\n" H
	    "\r\n", &rq, &err), 0);
	CHECK_INT(rq.rq_host.h_family, AF_INET);
	CHECK_INT(rq.rq_port, 8080);
	CHECK_INT(rq.rq_msg.hm_flags & (PROXY_HTTP_F_GET | PROXY_HTTP_F_HEAD |
	    PROXY_HTTP_F_CONNECT), 0);
	proxy_http_request_free(&rq);
	return (0);
 end:
	proxy_http_request_free(&rq);
	return (-1);
}

static int
test_request_connect(void)
{
	struct proxy_http_request	 rq;
	struct proxy_http_error		 err;

	CHECK_INT(req_parse("CONNECT Example.com:443 HTTP/1.1\r\n"
	    "Host: example.com:443\r\n\r\n", &rq, &err), 0);
	CHECK(rq.rq_msg.hm_flags & PROXY_HTTP_F_CONNECT);
	CHECK_STR(rq.rq_host.h_name, "example.com");
	CHECK_INT(rq.rq_port, 443);
	CHECK_INT(rq.rq_msg.hm_body, PROXY_HTTP_BODY_NONE);
	CHECK_INT(proxy_http_request_write(&rq, NULL, 0), -1);
	proxy_http_request_free(&rq);
	CHECK_INT(req_parse("CONNECT [2001:db8::1]:8443 HTTP/1.1\r\n" H
	    "Content-Length: 0\r\n\r\n", &rq, &err), 0);
	CHECK_INT(rq.rq_host.h_family, AF_INET6);
	CHECK_STR(rq.rq_host.h_name, "2001:db8::1");
	CHECK_INT(rq.rq_port, 8443);
	proxy_http_request_free(&rq);
	/* HTTP/1.0 CONNECT needs no Host (Python's http.client) */
	CHECK_INT(req_parse("CONNECT a.com:443 HTTP/1.0\r\n\r\n", &rq, &err),
	    0);
	CHECK(!(rq.rq_msg.hm_flags & PROXY_HTTP_F_HOSTHDR));
	proxy_http_request_free(&rq);
	return (0);
 end:
	proxy_http_request_free(&rq);
	return (-1);
}

/* The destination comes from the target whatever Host says. */
static int
test_request_host(void)
{
	struct proxy_http_request	 rq;
	struct proxy_http_error		 err;

	CHECK_INT(req_parse("GET http://allowed.com/ HTTP/1.1\r\n"
	    "Host: evil.com\r\n\r\n", &rq, &err), 0);
	CHECK_STR(rq.rq_host.h_name, "allowed.com");
	CHECK_STR(rq.rq_hhost.h_name, "evil.com");
	CHECK_INT(rq.rq_hport, 0);
	CHECK(req_rewrite("GET http://allowed.com/ HTTP/1.1\r\n"
	    "Host: evil.com\r\n\r\n", 0, "GET / HTTP/1.1\r\n"
	    "Host: allowed.com\r\nVia: 1.1 sbxd\r\n\r\n") == 0);
	proxy_http_request_free(&rq);
	CHECK_INT(req_parse("GET http://a.com/ HTTP/1.0\r\n\r\n", &rq, &err),
	    0);
	CHECK(!(rq.rq_msg.hm_flags & PROXY_HTTP_F_HOSTHDR));
	proxy_http_request_free(&rq);
	return (0);
 end:
	proxy_http_request_free(&rq);
	return (-1);
}

static int
test_request_length(void)
{
	struct proxy_http_request	 rq;
	struct proxy_http_error		 err;

	CHECK_INT(req_parse("POST http://a.com/ HTTP/1.1\r\n" H
	    "Content-Length: 5\r\n\r\n", &rq, &err), 0);
	CHECK_INT(rq.rq_msg.hm_body, PROXY_HTTP_BODY_LENGTH);
	CHECK_INT(rq.rq_msg.hm_length, 5);
	proxy_http_request_free(&rq);
	CHECK_INT(req_parse("POST http://a.com/ HTTP/1.1\r\n" H
	    "Content-Length: 5 , 5,5\r\ncontent-length: 005\r\n\r\n", &rq,
	    &err), 0);
	CHECK_INT(rq.rq_msg.hm_length, 5);
	CHECK_INT(rq.rq_msg.hm_cl, 1);
	proxy_http_request_free(&rq);
	CHECK_INT(req_parse("POST http://a.com/ HTTP/1.1\r\n" H
	    "Content-Length: 0\r\n\r\n", &rq, &err), 0);
	CHECK_INT(rq.rq_msg.hm_body, PROXY_HTTP_BODY_NONE);
	proxy_http_request_free(&rq);
	CHECK_INT(req_parse("POST http://a.com/ HTTP/1.1\r\n" H
	    "Content-Length: 4611686018427387904\r\n\r\n", &rq, &err), 0);
	CHECK(rq.rq_msg.hm_length == PROXY_HTTP_LENGTH_MAX);
	proxy_http_request_free(&rq);
	CHECK_INT(req_parse("POST http://a.com/ HTTP/1.1\r\n" H
	    "Transfer-Encoding: CHUNKED \r\n\r\n", &rq, &err), 0);
	CHECK_INT(rq.rq_msg.hm_body, PROXY_HTTP_BODY_CHUNKED);
	proxy_http_request_free(&rq);
	return (0);
 end:
	proxy_http_request_free(&rq);
	return (-1);
}

/* Parse s and compare the message flags under mask with want. */
static int
req_flags(const char *s, int mask, int want)
{
	struct proxy_http_request	 rq;
	struct proxy_http_error		 err;
	int				 ok = -1;

	CHECK_INT(req_parse(s, &rq, &err), 0);
	CHECK_INT(rq.rq_msg.hm_flags & mask, want);
	ok = 0;
 end:
	if (ok == -1)
		fprintf(stderr, "    in: %s\n", s);
	proxy_http_request_free(&rq);
	return (ok);
}

static int
test_request_persist(void)
{
	const int	 P = PROXY_HTTP_F_PERSIST;

	CHECK(req_flags("GET http://a.com/ HTTP/1.1\r\n" H "\r\n", P, P) == 0);
	CHECK(req_flags("GET http://a.com/ HTTP/1.1\r\n" H
	    "Connection: Close\r\n\r\n", P, 0) == 0);
	CHECK(req_flags("GET http://a.com/ HTTP/1.1\r\n" H
	    "Connection: keep-alive, close\r\n\r\n", P, 0) == 0);
	CHECK(req_flags("GET http://a.com/ HTTP/1.1\r\n" H
	    "Proxy-Connection: close\r\n\r\n", P, 0) == 0);
	CHECK(req_flags("GET http://a.com/ HTTP/1.0\r\n\r\n", P, 0) == 0);
	CHECK(req_flags("GET http://a.com/ HTTP/1.0\r\n"
	    "Connection: Keep-Alive\r\n\r\n", P, P) == 0);
	CHECK(req_flags("GET http://a.com/ HTTP/1.0\r\n"
	    "Proxy-Connection: keep-alive\r\n\r\n", P, P) == 0);
	CHECK(req_flags("GET http://a.com/ HTTP/1.0\r\n"
	    "Proxy-Connection: keep-alive\r\nConnection: close\r\n\r\n", P,
	    0) == 0);
	CHECK(req_flags("GET http://a.com/ HTTP/1.0\r\n"
	    "Connection: ,, keep-alive ,\r\n\r\n", P, P) == 0);
	return (0);
 end:
	return (-1);
}

static int
test_request_options(void)
{
	const int	 C = PROXY_HTTP_F_CONTINUE, W = PROXY_HTTP_F_WEBSOCKET;

	CHECK(req_flags("PUT http://a.com/ HTTP/1.1\r\n" H
	    "Expect: 100-Continue\r\n\r\n", C, C) == 0);
	CHECK(req_flags("PUT http://a.com/ HTTP/1.0\r\n"
	    "Expect: 100-continue\r\n\r\n", C, 0) == 0);
	CHECK(req_flags("GET http://a.com/ws HTTP/1.1\r\n" H
	    "Connection: Upgrade\r\nUpgrade: WebSocket\r\n\r\n", W, W) == 0);
	CHECK(req_flags("GET http://a.com/ws HTTP/1.1\r\n" H
	    "Connection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n",
	    W, W) == 0);
	CHECK(req_flags("POST http://a.com/ws HTTP/1.1\r\n" H
	    "Connection: upgrade\r\nUpgrade: websocket\r\n\r\n", W, 0) == 0);
	CHECK(req_flags("GET http://a.com/ws HTTP/1.1\r\n" H
	    "Upgrade: websocket\r\n\r\n", W, 0) == 0);
	CHECK(req_flags("GET http://a.com/ws HTTP/1.1\r\n" H
	    "Connection: upgrade\r\nUpgrade: h2c\r\n\r\n", W, 0) == 0);
	CHECK(req_flags("GET http://a.com/ws HTTP/1.1\r\n" H
	    "Connection: upgrade\r\nUpgrade: h2c, websocket\r\n\r\n", W,
	    0) == 0);
	CHECK(req_flags("GET http://a.com/ws HTTP/1.1\r\n" H
	    "Connection: upgrade\r\nUpgrade: websocket\r\n"
	    "Upgrade: websocket\r\n\r\n", W, 0) == 0);
	CHECK(req_flags("GET http://a.com/ws HTTP/1.0\r\n"
	    "Connection: upgrade\r\nUpgrade: websocket\r\n\r\n", W, 0) == 0);
	return (0);
 end:
	return (-1);
}

static int
test_request_hop(void)
{
	struct proxy_http_request	 rq;
	struct proxy_http_error		 err;
	const struct proxy_http_field	*f;

	CHECK_INT(req_parse("GET http://a.com/ HTTP/1.1\r\n" H
	    "Connection: x-foo, X-Bar\r\nX-Foo: 1\r\nx-bar: 2\r\n"
	    "X-Baz: 3\r\nKeep-Alive: 300\r\n\r\n", &rq, &err), 0);
	f = rq.rq_msg.hm_fields;
	CHECK_INT(f[0].hf_flags, 0);
	CHECK_INT(f[1].hf_flags, PROXY_HTTP_FF_HOP);
	CHECK_INT(f[2].hf_flags, PROXY_HTTP_FF_HOP);
	CHECK_INT(f[3].hf_flags, PROXY_HTTP_FF_HOP);
	CHECK_INT(f[4].hf_flags, 0);
	CHECK_INT(f[5].hf_flags, PROXY_HTTP_FF_HOP);
	proxy_http_request_free(&rq);
	return (0);
 end:
	proxy_http_request_free(&rq);
	return (-1);
}

static int
test_write_request(void)
{
	CHECK(req_rewrite("GET http://a.com/x?y HTTP/1.1\r\n" H
	    "Accept:  */* \r\n\r\n", 0,
	    "GET /x?y HTTP/1.1\r\nHost: a.com\r\nAccept:  */* \r\n"
	    "Via: 1.1 sbxd\r\n\r\n") == 0);
	CHECK(req_rewrite("POST http://A.com:8080 HTTP/1.1\r\n"
	    "User-Agent: u\r\nhost: whatever\r\nContent-Length: 3, 3\r\n"
	    "content-length: 3\r\nX: 1\r\n\r\n", 0,
	    "POST / HTTP/1.1\r\nUser-Agent: u\r\nHost: a.com:8080\r\n"
	    "Content-Length: 3\r\nX: 1\r\nVia: 1.1 sbxd\r\n\r\n") == 0);
	CHECK(req_rewrite("POST http://a.com/ HTTP/1.1\r\n" H
	    "transfer-encoding: Chunked\r\n\r\n", 0,
	    "POST / HTTP/1.1\r\nHost: a.com\r\n"
	    "Transfer-Encoding: chunked\r\nVia: 1.1 sbxd\r\n\r\n") == 0);
	CHECK(req_rewrite("GET http://[::1]:81/ HTTP/1.1\r\n" H "\r\n", 0,
	    "GET / HTTP/1.1\r\nHost: [::1]:81\r\nVia: 1.1 sbxd\r\n\r\n") == 0);
	/* HTTP/1.0 keeps its version and gets a Host */
	CHECK(req_rewrite("GET http://a.com/ HTTP/1.0\r\nA: b\r\n\r\n", 0,
	    "GET / HTTP/1.0\r\nHost: a.com\r\nA: b\r\n"
	    "Via: 1.0 sbxd\r\n\r\n") == 0);
	CHECK(req_rewrite("GET http://a.com/ HTTP/1.1\r\n" H "\r\n",
	    PROXY_HTTP_WRITE_CLOSE, "GET / HTTP/1.1\r\nHost: a.com\r\n"
	    "Connection: close\r\nVia: 1.1 sbxd\r\n\r\n") == 0);
	return (0);
 end:
	return (-1);
}

static int
test_write_request_hop(void)
{
	CHECK(req_rewrite("GET http://a.com/ HTTP/1.1\r\nA: 1\r\n"
	    "Connection: keep-alive, X-Secret\r\nProxy-Connection: x\r\n"
	    "Proxy-Authorization: Basic Zm9vOmJhcg==\r\nKeep-Alive: 30\r\n"
	    "TE: trailers\r\nTrailer: X-T\r\nUpgrade: h2c\r\nB: 2\r\n"
	    "x-secret: 1\r\n" H "C: 3\r\n\r\n", 0,
	    "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nHost: a.com\r\nC: 3\r\n"
	    "Via: 1.1 sbxd\r\n\r\n") == 0);
	CHECK(req_rewrite("GET http://a.com/ HTTP/1.1\r\n"
	    "Via: 1.0 fred\r\n" H "Via:  1.1 p.example  \r\nZ: 1\r\n\r\n", 0,
	    "GET / HTTP/1.1\r\nVia: 1.0 fred\r\nHost: a.com\r\n"
	    "Via: 1.1 p.example, 1.1 sbxd\r\nZ: 1\r\n\r\n") == 0);
	CHECK(req_rewrite("GET http://a.com/ HTTP/1.1\r\n" H "Via:\r\n\r\n",
	    0, "GET / HTTP/1.1\r\nHost: a.com\r\nVia: 1.1 sbxd\r\n\r\n") == 0);
	CHECK(req_rewrite("GET http://a.com/ HTTP/1.1\r\n" H
	    "Connection: via\r\nVia: 1.0 x\r\n\r\n", 0,
	    "GET / HTTP/1.1\r\nHost: a.com\r\nVia: 1.1 sbxd\r\n\r\n") == 0);
	return (0);
 end:
	return (-1);
}

static int
test_write_request_upgrade(void)
{
	const char	*ws = "GET http://a.com/chat HTTP/1.1\r\n" H
			    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
			    "Sec-WebSocket-Key: k\r\n\r\n";

	CHECK(req_rewrite(ws, PROXY_HTTP_WRITE_UPGRADE,
	    "GET /chat HTTP/1.1\r\nHost: a.com\r\nUpgrade: websocket\r\n"
	    "Sec-WebSocket-Key: k\r\nConnection: upgrade\r\n"
	    "Via: 1.1 sbxd\r\n\r\n") == 0);
	CHECK(req_rewrite(ws, 0, "GET /chat HTTP/1.1\r\nHost: a.com\r\n"
	    "Sec-WebSocket-Key: k\r\nVia: 1.1 sbxd\r\n\r\n") == 0);
	/* not a websocket upgrade: the flag keeps nothing */
	CHECK(req_rewrite("GET http://a.com/ HTTP/1.1\r\n" H
	    "Upgrade: h2c\r\nConnection: upgrade\r\n\r\n",
	    PROXY_HTTP_WRITE_UPGRADE, "GET / HTTP/1.1\r\nHost: a.com\r\n"
	    "Via: 1.1 sbxd\r\n\r\n") == 0);
	return (0);
 end:
	return (-1);
}

/* Parse response s to request r; compare status, body and flags. */
static int
resp_check(const char *r, const char *s, int body, int mask, int flags)
{
	struct proxy_http_request	 rq;
	struct proxy_http_response	 rs;
	struct proxy_http_error		 err;
	int				 ok = -1;

	memset(&rs, 0, sizeof(rs));
	CHECK_INT(req_parse(r, &rq, &err), 0);
	CHECK_INT(proxy_http_response_parse(s, strlen(s), &rq, &rs, &err), 0);
	CHECK_INT(rs.rs_msg.hm_body, body);
	CHECK_INT(rs.rs_msg.hm_flags & mask, flags);
	CHECK_INT(proxy_http_persist(&rq, &rs),
	    (flags & PROXY_HTTP_F_PERSIST) &&
	    (rq.rq_msg.hm_flags & PROXY_HTTP_F_PERSIST));
	ok = 0;
 end:
	if (ok == -1)
		fprintf(stderr, "    in: %s", s);
	proxy_http_response_free(&rs);
	proxy_http_request_free(&rq);
	return (ok);
}

#define GET11	"GET http://a.com/ HTTP/1.1\r\n" H "\r\n"
#define GET10	"GET http://a.com/ HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
#define HEAD11	"HEAD http://a.com/ HTTP/1.1\r\n" H "\r\n"
#define WS11	"GET http://a.com/ HTTP/1.1\r\n" H "Upgrade: websocket\r\n" \
		"Connection: upgrade\r\n\r\n"
#define RF	(PROXY_HTTP_F_PERSIST | PROXY_HTTP_F_INTERIM | \
		PROXY_HTTP_F_SWITCH | PROXY_HTTP_F_WEBSOCKET)

/* Framing by method and status: RFC 9112 6.3 items 1 and 2. */
static int
test_response_framing(void)
{
	const int	 P = PROXY_HTTP_F_PERSIST;

	CHECK(resp_check(GET11, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
	    PROXY_HTTP_BODY_LENGTH, RF, P) == 0);
	CHECK(resp_check(HEAD11, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
	    "\r\n", PROXY_HTTP_BODY_NONE, RF, P) == 0);
	CHECK(resp_check(HEAD11, "HTTP/1.1 200 OK\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", PROXY_HTTP_BODY_NONE, RF,
	    P) == 0);
	CHECK(resp_check(GET11, "HTTP/1.1 204 No Content\r\n\r\n",
	    PROXY_HTTP_BODY_NONE, RF, P) == 0);
	CHECK(resp_check(GET11, "HTTP/1.1 304 Not Modified\r\n"
	    "Content-Length: 100\r\n\r\n", PROXY_HTTP_BODY_NONE, RF, P) == 0);
	CHECK(resp_check(GET11, "HTTP/1.1 100 Continue\r\n\r\n",
	    PROXY_HTTP_BODY_NONE, RF, P | PROXY_HTTP_F_INTERIM) == 0);
	CHECK(resp_check(GET11, "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n"
	    "\r\n", PROXY_HTTP_BODY_NONE, RF, P | PROXY_HTTP_F_INTERIM) == 0);
	CHECK(resp_check(WS11, "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: WebSocket\r\nConnection: Upgrade\r\n\r\n",
	    PROXY_HTTP_BODY_NONE, RF, PROXY_HTTP_F_SWITCH |
	    PROXY_HTTP_F_WEBSOCKET) == 0);
	return (0);
 end:
	return (-1);
}

/* Framing by the fields and the version: RFC 9112 6.3 items 4 to 8. */
static int
test_response_fields(void)
{
	const int	 P = PROXY_HTTP_F_PERSIST;

	CHECK(resp_check(GET11, "HTTP/1.1 200 OK\r\n\r\n",
	    PROXY_HTTP_BODY_CLOSE, RF, 0) == 0);
	CHECK(resp_check(GET11, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
	    PROXY_HTTP_BODY_NONE, RF, P) == 0);
	CHECK(resp_check(GET11, "HTTP/1.1 200 OK\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", PROXY_HTTP_BODY_CHUNKED, RF,
	    P) == 0);
	CHECK(resp_check(GET11, "HTTP/1.1 200 OK\r\nConnection: close\r\n"
	    "Content-Length: 1\r\n\r\n", PROXY_HTTP_BODY_LENGTH, RF, 0) == 0);
	CHECK(resp_check(GET10, "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n",
	    PROXY_HTTP_BODY_LENGTH, RF, 0) == 0);
	CHECK(resp_check(GET10, "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n"
	    "Connection: keep-alive\r\n\r\n", PROXY_HTTP_BODY_LENGTH, RF,
	    P) == 0);
	CHECK(resp_check(GET10, "HTTP/1.0 200 OK\r\n"
	    "Connection: keep-alive\r\n\r\n", PROXY_HTTP_BODY_CLOSE, RF,
	    0) == 0);
	CHECK(resp_check(GET11, "HTTP/1.1 200\r\nContent-Length: 1\r\n\r\n",
	    PROXY_HTTP_BODY_LENGTH, RF, P) == 0);
	CHECK(resp_check(GET11, "HTTP/1.1 200 \xc3\x9c\r\nX: caf\xc3\xa9\r\n"
	    "Content-Length: 1\r\n\r\n", PROXY_HTTP_BODY_LENGTH, RF, P) == 0);
	return (0);
 end:
	return (-1);
}

static int
test_response_101(void)
{
	struct proxy_http_request	 rq;
	struct proxy_http_response	 rs;
	struct proxy_http_error		 err;

	CHECK_INT(req_parse(WS11, &rq, &err), 0);
	CHECK_INT(proxy_http_response_parse(S("HTTP/1.1 101 x\r\n"
	    "Upgrade: h2c\r\nConnection: upgrade\r\n\r\n"), &rq, &rs, &err),
	    -1);
	CHECK_STR(err.reason, "bad-101");
	CHECK_INT(proxy_http_response_parse(S("HTTP/1.1 101 x\r\n"
	    "Upgrade: websocket\r\n\r\n"), &rq, &rs, &err), -1);
	CHECK_STR(err.reason, "bad-101");
	CHECK_INT(proxy_http_response_parse(S("HTTP/1.0 101 x\r\n"
	    "Upgrade: websocket\r\nConnection: upgrade\r\n\r\n"), &rq, &rs,
	    &err), -1);
	CHECK_INT(proxy_http_response_parse(S("HTTP/1.1 101 x\r\n"
	    "Upgrade: websocket\r\nConnection: upgrade\r\n\r\n"), NULL, &rs,
	    &err), -1);
	CHECK_STR(err.reason, "unexpected-101");
	CHECK_INT(err.status, 502);
	proxy_http_request_free(&rq);
	return (0);
 end:
	proxy_http_request_free(&rq);
	return (-1);
}

static int
test_write_response(void)
{
	CHECK(resp_rewrite(GET11, "HTTP/1.0 200 Fine\r\nServer: s\r\n"
	    "Connection: keep-alive, X-Hop\r\nKeep-Alive: timeout=5\r\n"
	    "X-Hop: 1\r\nProxy-Authenticate: Basic\r\nContent-length: 2\r\n"
	    "Set-Cookie: a=b\r\n\r\n", PROXY_HTTP_WRITE_CLOSE,
	    "HTTP/1.1 200 Fine\r\nServer: s\r\nContent-Length: 2\r\n"
	    "Set-Cookie: a=b\r\nConnection: close\r\nVia: 1.0 sbxd\r\n"
	    "\r\n") == 0);
	CHECK(resp_rewrite(GET10, "HTTP/1.1 404 Not Found\r\n"
	    "Via: 1.1 cdn\r\nContent-Length: 0\r\n\r\n",
	    PROXY_HTTP_WRITE_KEEPALIVE, "HTTP/1.1 404 Not Found\r\n"
	    "Via: 1.1 cdn, 1.1 sbxd\r\nContent-Length: 0\r\n"
	    "Connection: keep-alive\r\n\r\n") == 0);
	CHECK(resp_rewrite(GET11, "HTTP/1.1 200\r\n"
	    "Transfer-Encoding: Chunked\r\nTrailer: X\r\n\r\n", 0,
	    "HTTP/1.1 200 \r\nTransfer-Encoding: chunked\r\n"
	    "Via: 1.1 sbxd\r\n\r\n") == 0);
	CHECK(resp_rewrite(WS11, "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: x\r\n\r\n", PROXY_HTTP_WRITE_UPGRADE,
	    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	    "Sec-WebSocket-Accept: x\r\nConnection: upgrade\r\n"
	    "Via: 1.1 sbxd\r\n\r\n") == 0);
	CHECK(resp_rewrite(GET11, "HTTP/1.1 100 Continue\r\n\r\n", 0,
	    "HTTP/1.1 100 Continue\r\nVia: 1.1 sbxd\r\n\r\n") == 0);
	return (0);
 end:
	return (-1);
}

/*
 * Feed body to a fresh decoder in pieces cut at cuts[] (ascending, nc of
 * them), as a core would: after MORE the whole piece is gone, after DONE
 * the rest stays.  Returns the result; *used is how many bytes the body
 * took; *reason the error reason.
 */
static int
chunk_run(const char *body, size_t len, const size_t *cuts, size_t nc,
    int response, size_t *used, const char **reason)
{
	struct proxy_http_chunked	 ch;
	struct proxy_http_error		 err;
	size_t				 i, from = 0, to, n;
	int				 r = PROXY_HTTP_MORE;

	proxy_http_chunked_init(&ch, response);
	*used = 0;
	*reason = NULL;
	for (i = 0; i <= nc && r == PROXY_HTTP_MORE; i++, from = to) {
		to = i < nc ? cuts[i] : len;
		r = proxy_http_chunked_feed(&ch, body + from, to - from, &n,
		    &err);
		*used += n;
		if (r == PROXY_HTTP_MORE && n != to - from)
			return (-1);
	}
	if (r == PROXY_HTTP_ERROR)
		*reason = err.reason;
	if (r == PROXY_HTTP_DONE && ch.ch_total != *used)
		return (-1);
	return (r);
}

/* One piece, every two-piece split, byte by byte and random splits. */
static int
chunk_splits(const char *body, size_t len, int want, size_t wantused,
    const char *wantreason)
{
	size_t		 cuts[64], i, nc, used;
	const char	*reason;
	unsigned int	 seed = 7;
	int		 r;

	for (i = 0; i <= len + 200; i++) {
		if (i == 0)
			nc = 0;
		else if (i <= len) {
			cuts[0] = i;
			nc = 1;
		} else {
			for (nc = 0; nc < 64 && (nc == 0 ||
			    cuts[nc - 1] < len); nc++) {
				seed = seed * 1103515245 + 12345;
				cuts[nc] = (nc > 0 ? cuts[nc - 1] : 0) +
				    (seed >> 16) % 8;
				if (cuts[nc] > len)
					cuts[nc] = len;
			}
		}
		r = chunk_run(body, len, cuts, nc, 0, &used, &reason);
		CHECK_INT(r, want);
		if (want == PROXY_HTTP_ERROR)
			CHECK_STR(reason, wantreason);
		else
			CHECK_INT(used, wantused);
	}
	return (0);
 end:
	fprintf(stderr, "    body: %.*s (split %zu)\n", (int)len, body, i);
	return (-1);
}

/* Byte by byte: every byte its own feed. */
static int
chunk_bytewise(const char *body, size_t len, int want, size_t wantused)
{
	struct proxy_http_chunked	 ch;
	struct proxy_http_error		 err;
	size_t				 i, n, used = 0;
	int				 r = PROXY_HTTP_MORE;

	proxy_http_chunked_init(&ch, 0);
	for (i = 0; i < len && r == PROXY_HTTP_MORE; i++) {
		r = proxy_http_chunked_feed(&ch, body + i, 1, &n, &err);
		used += n;
	}
	CHECK_INT(r, want);
	if (want == PROXY_HTTP_DONE) {
		CHECK_INT(used, wantused);
		/* once done, nothing more belongs to the body */
		CHECK_INT(proxy_http_chunked_feed(&ch, "X", 1, &n, &err),
		    PROXY_HTTP_DONE);
		CHECK_INT(n, 0);
	}
	return (0);
 end:
	return (-1);
}

static const struct chunk_case {
	const char	*c_body;
	size_t		 c_len;
	int		 c_result;
	size_t		 c_used;
	const char	*c_reason;
} chunk_cases[] = {
	{ S("5\r\nhello\r\n0\r\n\r\n"), PROXY_HTTP_DONE, 15, NULL },
	{ S("5\r\nhello\r\n0\r\n\r\nGET http://a.com/ HTTP/1.1\r\n"),
	    PROXY_HTTP_DONE, 15, NULL },
	{ S("0\r\n\r\n"), PROXY_HTTP_DONE, 5, NULL },
	{ S("000\r\n\r\n"), PROXY_HTTP_DONE, 7, NULL },
	{ S("A\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n"),
	    PROXY_HTTP_DONE, 35, NULL },
	{ S("3\r\n\r\n\n\r\n0\r\n\r\n"), PROXY_HTTP_DONE, 13, NULL },
	{ S("5;a=b;c;d=\"q \\\" ;x\"\r\nhello\r\n0;last\r\n\r\n"),
	    PROXY_HTTP_DONE, 38, NULL },
	{ S("1\r\nx\r\n0\r\nX-Sum: abc\r\nY:\r\nZ:  a b \t\r\n\r\nnext"),
	    PROXY_HTTP_DONE, 38, NULL },
	{ S("5\r\nhel"), PROXY_HTTP_MORE, 6, NULL },
	{ S("5\r\nhello\r\n0\r\nX: 1\r\n"), PROXY_HTTP_MORE, 19, NULL },
	{ S("5\nhello\r\n0\r\n\r\n"), PROXY_HTTP_ERROR, 0, "bare-lf" },
	{ S("5\r\nhello\n0\r\n\r\n"), PROXY_HTTP_ERROR, 0, "bare-lf" },
	{ S("5\r\nhello\r\n0\r\n\n"), PROXY_HTTP_ERROR, 0, "bare-lf" },
	{ S("5\r\nhello\r\n0\r\nX: 1\n\r\n"), PROXY_HTTP_ERROR, 0,
	    "bare-lf" },
	{ S("5\r\nhelloX\r\n0\r\n\r\n"), PROXY_HTTP_ERROR, 0,
	    "bad-chunk-data" },
	{ S("5\r\nhello\rX0\r\n\r\n"), PROXY_HTTP_ERROR, 0, "bare-cr" },
	{ S("5\rX"), PROXY_HTTP_ERROR, 0, "bare-cr" },
	{ S("\r\n"), PROXY_HTTP_ERROR, 0, "bad-chunk-size" },
	{ S(" 5\r\nhello\r\n0\r\n\r\n"), PROXY_HTTP_ERROR, 0,
	    "bad-chunk-size" },
	{ S("5 \r\nhello\r\n0\r\n\r\n"), PROXY_HTTP_ERROR, 0,
	    "bad-chunk-size" },
	{ S("+5\r\nhello\r\n0\r\n\r\n"), PROXY_HTTP_ERROR, 0,
	    "bad-chunk-size" },
	{ S("-5\r\n"), PROXY_HTTP_ERROR, 0, "bad-chunk-size" },
	{ S("0x5\r\nhello\r\n0\r\n\r\n"), PROXY_HTTP_ERROR, 0,
	    "bad-chunk-size" },
	{ S("5g\r\n"), PROXY_HTTP_ERROR, 0, "bad-chunk-size" },
	{ S("4000000000000000\r\n"), PROXY_HTTP_ERROR, 0,
	    "chunk-too-large" },
	{ S("3fffffffffffffff\r\n"), PROXY_HTTP_MORE, 18, NULL },
	{ S("ffffffffffffffffff\r\n"), PROXY_HTTP_ERROR, 0,
	    "chunk-too-large" },
	{ S("00000000000000001\r\nx\r\n0\r\n\r\n"), PROXY_HTTP_ERROR, 0,
	    "chunk-too-large" },
	{ S("0000000000000001\r\nx\r\n0\r\n\r\n"), PROXY_HTTP_DONE, 26, NULL },
	{ S("5 ;a\r\nhello\r\n0\r\n\r\n"), PROXY_HTTP_ERROR, 0,
	    "bad-chunk-size" },
	{ S("5; a\r\n"), PROXY_HTTP_ERROR, 0, "bad-chunk-ext" },
	{ S("5;\r\n"), PROXY_HTTP_ERROR, 0, "bad-chunk-ext" },
	{ S("5;a=\r\n"), PROXY_HTTP_ERROR, 0, "bad-chunk-ext" },
	{ S("5;a=b c\r\n"), PROXY_HTTP_ERROR, 0, "bad-chunk-ext" },
	{ S("5;a=\"b\r\n"), PROXY_HTTP_ERROR, 0, "bad-chunk-ext" },
	{ S("5;a=\"b\"c\r\n"), PROXY_HTTP_ERROR, 0, "bad-chunk-ext" },
	{ S("5;a=\"\x01\"\r\n"), PROXY_HTTP_ERROR, 0, "bad-chunk-ext" },
	{ S("5;a\x80\r\n"), PROXY_HTTP_ERROR, 0, "bad-chunk-ext" },
	{ S("0\r\n X: 1\r\n\r\n"), PROXY_HTTP_ERROR, 0, "obs-fold" },
	{ S("0\r\nX: 1\r\n\tcont\r\n\r\n"), PROXY_HTTP_ERROR, 0, "obs-fold" },
	{ S("0\r\nX : 1\r\n\r\n"), PROXY_HTTP_ERROR, 0, "space-before-colon" },
	{ S("0\r\n: 1\r\n\r\n"), PROXY_HTTP_ERROR, 0, "bad-trailer" },
	{ S("0\r\nX\r\n\r\n"), PROXY_HTTP_ERROR, 0, "bad-trailer" },
	{ S("0\r\nX: a\0\r\n\r\n"), PROXY_HTTP_ERROR, 0, "bad-trailer" },
	{ S("0\r\nX: \xc3\xa9\r\n\r\n"), PROXY_HTTP_ERROR, 0, "non-ascii" },
	{ S("0\r\nContent-Length: 5\r\n\r\n"), PROXY_HTTP_ERROR, 0,
	    "bad-trailer" },
	{ S("0\r\ntransfer-encoding: chunked\r\n\r\n"), PROXY_HTTP_ERROR, 0,
	    "bad-trailer" },
	{ S("0\r\nHost: evil.com\r\n\r\n"), PROXY_HTTP_ERROR, 0,
	    "bad-trailer" },
	{ S("0\r\nProxy-Authentication-Info: x\r\n\r\n"), PROXY_HTTP_ERROR,
	    0, "bad-trailer" },
	{ S("0\r\nProxy-Authentication-Infos: x\r\n\r\n"), PROXY_HTTP_DONE,
	    36, NULL },
	{ S("0\r\nX-A-Very-Long-Trailer-Field-Name-Indeed: 1\r\n\r\n"),
	    PROXY_HTTP_DONE, 49, NULL },
};

static int
test_chunked(void)
{
	const struct chunk_case	*c;
	size_t			 i;

	for (i = 0; i < sizeof(chunk_cases) / sizeof(chunk_cases[0]); i++) {
		c = &chunk_cases[i];
		CHECK(chunk_splits(c->c_body, c->c_len, c->c_result, c->c_used,
		    c->c_reason) == 0);
		CHECK(chunk_bytewise(c->c_body, c->c_len, c->c_result,
		    c->c_used) == 0);
	}
	return (0);
 end:
	fprintf(stderr, "    case %zu\n", i);
	return (-1);
}

/* De-chunked, split at every point: the data, and the same end. */
static int
test_chunked_data(void)
{
	struct proxy_http_chunked	 ch;
	struct proxy_http_error		 err;
	const char			*b = "5\r\nhello\r\n1;x=y\r\n \r\n"
					    "6\r\nworld!\r\n0\r\nT: v\r\n\r\nNEXT";
	char				 out[64];
	size_t				 len = strlen(b), cut, off, n, k, doff;
	size_t				 dlen, olen, used;
	int				 r = PROXY_HTTP_MORE;

	for (cut = 0; cut <= len; cut++) {
		proxy_http_chunked_init(&ch, 0);
		olen = used = 0;
		for (off = 0; off < len && r != PROXY_HTTP_DONE;) {
			n = off < cut ? cut - off : len - off;
			r = proxy_http_chunked_data(&ch, b + off, n, &k, &doff,
			    &dlen, &err);
			CHECK(r != PROXY_HTTP_ERROR);
			CHECK(olen + dlen < sizeof(out));
			memcpy(out + olen, b + off + doff, dlen);
			olen += dlen;
			off += k;
			used += k;
			if (r == PROXY_HTTP_DONE)
				break;
		}
		CHECK_INT(r, PROXY_HTTP_DONE);
		CHECK_INT(used, len - 4);
		CHECK_INT(olen, 12);
		CHECK(memcmp(out, "hello world!", 12) == 0);
		r = PROXY_HTTP_MORE;
	}
	proxy_http_chunked_init(&ch, 1);
	CHECK_INT(proxy_http_chunked_data(&ch, S("5\r\nhelloX"), &k, &doff,
	    &dlen, &err), PROXY_HTTP_MORE);
	CHECK_INT(proxy_http_chunked_data(&ch, S("X"), &k, &doff, &dlen,
	    &err), PROXY_HTTP_ERROR);
	CHECK_INT(err.status, 502);
	return (0);
 end:
	fprintf(stderr, "    cut %zu\n", cut);
	return (-1);
}

/* The gateway's origin-form requests. */
static int
test_request_origin(void)
{
	struct proxy_http_request	 rq;
	struct proxy_http_error		 err;

	CHECK(proxy_http_request_parse_origin(S("POST /anthropic/v1/messages"
	    "?beta=true HTTP/1.1\r\nHost: 127.0.0.1:901\r\n"
	    "Content-Length: 2\r\n\r\n"), &rq, &err) == 0);
	CHECK_STR(rq.rq_method, "POST");
	CHECK_INT(rq.rq_pathlen, 22);
	CHECK(strncmp(rq.rq_path, "/anthropic/v1/messages", 22) == 0);
	CHECK_INT(rq.rq_querylen, 10);
	CHECK(strncmp(rq.rq_query, "?beta=true", 10) == 0);
	CHECK_INT(rq.rq_msg.hm_body, PROXY_HTTP_BODY_LENGTH);
	CHECK_INT(rq.rq_port, 0);
	proxy_http_request_free(&rq);
	CHECK(proxy_http_request_parse_origin(S("GET / HTTP/1.1\r\n"
	    "Host: x\r\n\r\n"), &rq, &err) == 0);
	CHECK_INT(rq.rq_querylen, 0);
	proxy_http_request_free(&rq);
	CHECK(proxy_http_request_parse_origin(S("GET http://a.com/ HTTP/1.1"
	    "\r\nHost: a.com\r\n\r\n"), &rq, &err) == -1);
	CHECK_STR(err.reason, "not-origin-form");
	CHECK(proxy_http_request_parse_origin(S("CONNECT a.com:443 HTTP/1.1"
	    "\r\nHost: a.com:443\r\n\r\n"), &rq, &err) == -1);
	CHECK_INT(err.status, 405);
	CHECK(proxy_http_request_parse_origin(S("GET /a#b HTTP/1.1\r\n"
	    "Host: x\r\n\r\n"), &rq, &err) == -1);
	CHECK(proxy_http_request_parse_origin(S("GET /a HTTP/1.1\r\n"
	    "\r\n"), &rq, &err) == -1);
	CHECK_STR(err.reason, "missing-host");
	CHECK(proxy_http_request_parse_origin(S("POST /a HTTP/1.1\r\n"
	    "Host: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked"
	    "\r\n\r\n"), &rq, &err) == -1);
	/* The proxy's parse still wants absolute-form. */
	CHECK(proxy_http_request_parse(S("GET / HTTP/1.1\r\nHost: x\r\n"
	    "\r\n"), &rq, &err) == -1);
	CHECK_STR(err.reason, "origin-form");
	return (0);
 end:
	return (-1);
}

/* Data passes in bulk; the counters add up; errors stick. */
static int
test_chunked_big(void)
{
	struct proxy_http_chunked	 ch;
	struct proxy_http_error		 err;
	char				*b;
	size_t				 n, len = 100000 + 30;
	int				 ok = -1;

	if ((b = malloc(len)) == NULL)
		return (-1);
	proxy_http_chunked_init(&ch, 0);
	n = sprintf(b, "186a0;x=y\r\n");
	memset(b + n, '\n', 100000);
	memcpy(b + n + 100000, "\r\n0\r\n\r\n", 7);
	len = n + 100000 + 7;
	CHECK_INT(proxy_http_chunked_feed(&ch, b, len, &n, &err),
	    PROXY_HTTP_DONE);
	CHECK_INT(n, len);
	CHECK_INT(ch.ch_total, len);
	CHECK_INT(ch.ch_data, 100000);
	proxy_http_chunked_init(&ch, 1);
	CHECK_INT(proxy_http_chunked_feed(&ch, "z", 1, &n, &err),
	    PROXY_HTTP_ERROR);
	CHECK_INT(err.status, 502);
	CHECK_INT(proxy_http_chunked_feed(&ch, "0\r\n\r\n", 5, &n, &err),
	    PROXY_HTTP_ERROR);
	ok = 0;
 end:
	free(b);
	return (ok);
}

/* Long size lines and trailer sections are cut off. */
static int
test_chunked_limits(void)
{
	struct proxy_http_chunked	 ch;
	struct proxy_http_error		 err;
	char				*b;
	size_t				 i, n;
	int				 ok = -1, r = PROXY_HTTP_MORE;

	if ((b = malloc(PROXY_HTTP_TRAILER_MAX + 64)) == NULL)
		return (-1);
	proxy_http_chunked_init(&ch, 0);
	memcpy(b, "1;a=", 4);
	memset(b + 4, 'x', PROXY_HTTP_CHUNK_LINE_MAX);
	CHECK_INT(proxy_http_chunked_feed(&ch, b, PROXY_HTTP_CHUNK_LINE_MAX,
	    &n, &err), PROXY_HTTP_MORE);
	CHECK_INT(proxy_http_chunked_feed(&ch, "x", 1, &n, &err),
	    PROXY_HTTP_ERROR);
	CHECK_STR(err.reason, "chunk-line-too-long");
	proxy_http_chunked_init(&ch, 0);
	CHECK_INT(proxy_http_chunked_feed(&ch, "0\r\n", 3, &n, &err),
	    PROXY_HTTP_MORE);
	for (i = 0; i < PROXY_HTTP_TRAILER_MAX / 8 + 1 && r ==
	    PROXY_HTTP_MORE; i++)
		r = proxy_http_chunked_feed(&ch, "X-T: 1\r\n", 8, &n, &err);
	CHECK_INT(r, PROXY_HTTP_ERROR);
	CHECK_STR(err.reason, "trailer-too-large");
	ok = 0;
 end:
	free(b);
	return (ok);
}

static int
test_helpers(void)
{
	struct proxy_http_error	 err = { 431, "head-too-large", "x" };
	struct evbuffer		*out = NULL;
	struct sbxd_host	 h;
	char			 buf[PROXY_HTTP_AUTHORITY_LEN], *s = NULL;
	const char		*why;
	int			 ok = -1;

	CHECK_STR(proxy_http_error_status_text(431),
	    "Request Header Fields Too Large");
	CHECK_STR(proxy_http_error_status_text(502), "Bad Gateway");
	CHECK_STR(proxy_http_error_status_text(999), "Error");
	CHECK((out = evbuffer_new()) != NULL);
	CHECK_INT(proxy_http_error_write(&err, out), 0);
	CHECK((s = strndup((char *)evbuffer_pullup(out, -1),
	    evbuffer_get_length(out))) != NULL);
	CHECK_STR(s, "HTTP/1.1 431 Request Header Fields Too Large\r\n"
	    "Content-Type: text/plain\r\nContent-Length: 52\r\n"
	    "Connection: close\r\nVia: 1.1 sbxd\r\n\r\n"
	    "431 Request Header Fields Too Large: head-too-large\n");
	CHECK_INT(policy_host_parse("[2001:db8::1]", 13, &h, &why), 0);
	CHECK_STR(proxy_http_authority(&h, 443, 443, buf, sizeof(buf)),
	    "[2001:db8::1]");
	CHECK_STR(proxy_http_authority(&h, 8443, 443, buf, sizeof(buf)),
	    "[2001:db8::1]:8443");
	ok = 0;
 end:
	free(s);
	if (out != NULL)
		evbuffer_free(out);
	return (ok);
}

static const struct unit_test tests[] = {
	{ "scan", test_scan },
	{ "scan_bare_lf", test_scan_bare_lf },
	{ "scan_bytewise", test_scan_bytewise },
	{ "limits", test_limits },
	{ "limits_bytewise", test_limits_bytewise },
	{ "bad_requests", test_bad_requests },
	{ "bad_responses", test_bad_responses },
	{ "request_get", test_request_get },
	{ "request_fields", test_request_fields },
	{ "field_bytes", test_field_bytes },
	{ "request_targets", test_request_targets },
	{ "request_connect", test_request_connect },
	{ "request_host", test_request_host },
	{ "request_length", test_request_length },
	{ "request_persist", test_request_persist },
	{ "request_options", test_request_options },
	{ "request_hop", test_request_hop },
	{ "write_request", test_write_request },
	{ "write_request_hop", test_write_request_hop },
	{ "write_request_upgrade", test_write_request_upgrade },
	{ "response_framing", test_response_framing },
	{ "response_fields", test_response_fields },
	{ "response_101", test_response_101 },
	{ "write_response", test_write_response },
	{ "chunked", test_chunked },
	{ "chunked_big", test_chunked_big },
	{ "chunked_data", test_chunked_data },
	{ "request_origin", test_request_origin },
	{ "chunked_limits", test_chunked_limits },
	{ "helpers", test_helpers },
};

UNIT_MAIN("proxy_http", tests)
