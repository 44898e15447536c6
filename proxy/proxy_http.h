/*
 * proxy_http.h: the HTTP/1.1 message parser of proxy_http.c: head
 * framing, request and response heads, chunked bodies and the heads the
 * proxy sends on.  Shared only inside proxy/; to be merged into proxy.h.
 * Needs sbxd.h (struct sbxd_host) first.
 */

#ifndef SBXD_PROXY_HTTP_H
#define SBXD_PROXY_HTTP_H

#include <stdint.h>

#define PROXY_HTTP_HEAD_MAX	65536	/* request or status line and
					   fields; 431 past it: a real
					   head is under 8 KiB and no
					   server reads more than 64 */
#define PROXY_HTTP_FIELDS_MAX	100	/* field lines in a head; 431 past
					   it, as Apache's LimitRequestFields
					   and Go's default */
#define PROXY_HTTP_LENGTH_MAX	((uint64_t)1 << 62) /* Content-Length and
					   chunk sizes: sums cannot overflow */
#define PROXY_HTTP_TOKENS_MAX	32	/* Connection options in one head;
					   each is matched against every
					   field, so bound the product */
#define PROXY_HTTP_CHUNK_LINE_MAX 4096	/* chunk-size line with extensions:
					   nobody sends extensions */
#define PROXY_HTTP_TRAILER_MAX	16384	/* trailer section of a chunked
					   body, final CRLF included */
#define PROXY_HTTP_AUTHORITY_LEN 272	/* "[IPv6]" or 253-byte name, ':',
					   five digits and a NUL */

struct evbuffer;

/* What a scan or a chunked feed found. */
enum proxy_http_result {
	PROXY_HTTP_MORE,	/* incomplete: call again with more bytes */
	PROXY_HTTP_DONE,	/* complete */
	PROXY_HTTP_ERROR	/* refused: see the proxy_http_error */
};

/* How the body after a head is delimited (RFC 9112 6.3). */
enum proxy_http_body {
	PROXY_HTTP_BODY_NONE,		/* no body bytes follow the head */
	PROXY_HTTP_BODY_LENGTH,		/* hm_length bytes (never 0) */
	PROXY_HTTP_BODY_CHUNKED,	/* chunked: see proxy_http_chunked */
	PROXY_HTTP_BODY_CLOSE		/* response: until upstream closes */
};

/* Fields the parser knows by name; every other is PROXY_HTTP_K_OTHER. */
enum proxy_http_kind {
	PROXY_HTTP_K_OTHER,
	PROXY_HTTP_K_HOST,
	PROXY_HTTP_K_CONTENT_LENGTH,
	PROXY_HTTP_K_TRANSFER_ENCODING,
	PROXY_HTTP_K_CONNECTION,
	PROXY_HTTP_K_PROXY_CONNECTION,
	PROXY_HTTP_K_KEEP_ALIVE,
	PROXY_HTTP_K_TE,
	PROXY_HTTP_K_TRAILER,
	PROXY_HTTP_K_UPGRADE,
	PROXY_HTTP_K_PROXY_AUTHORIZATION,
	PROXY_HTTP_K_PROXY_AUTHENTICATE,
	PROXY_HTTP_K_PROXY_AUTHENTICATION_INFO,
	PROXY_HTTP_K_EXPECT,
	PROXY_HTTP_K_VIA
};

/* Message flags, hm_flags. */
#define PROXY_HTTP_F_CLOSE	0x0001	/* close in Connection (or, in a
					   request, Proxy-Connection) */
#define PROXY_HTTP_F_KEEPALIVE	0x0002	/* keep-alive in the same */
#define PROXY_HTTP_F_UPGRADE	0x0004	/* upgrade in Connection */
#define PROXY_HTTP_F_PERSIST	0x0008	/* this side's connection may
					   carry another message after
					   this one */
#define PROXY_HTTP_F_CONNECT	0x0010	/* request: CONNECT */
#define PROXY_HTTP_F_HEAD	0x0020	/* request: HEAD */
#define PROXY_HTTP_F_GET	0x0040	/* request: GET */
#define PROXY_HTTP_F_WEBSOCKET	0x0080	/* request: a websocket upgrade;
					   response: the 101 accepting it */
#define PROXY_HTTP_F_CONTINUE	0x0100	/* request: Expect: 100-continue */
#define PROXY_HTTP_F_HOSTHDR	0x0200	/* request: had a Host field */
#define PROXY_HTTP_F_INTERIM	0x0400	/* response: 1xx but 101; the
					   final response follows */
#define PROXY_HTTP_F_SWITCH	0x0800	/* response: 101; a tunnel
					   follows */

/* Field flags, hf_flags. */
#define PROXY_HTTP_FF_HOP	0x01	/* hop-by-hop: never forwarded as
					   is (see the write functions) */

/* Flags of the write functions. */
#define PROXY_HTTP_WRITE_UPGRADE 0x01	/* keep a websocket upgrade */
#define PROXY_HTTP_WRITE_CLOSE	0x02	/* add Connection: close */
#define PROXY_HTTP_WRITE_KEEPALIVE 0x04	/* add Connection: keep-alive,
					   for an HTTP/1.0 peer */

/* Why a message was refused. */
struct proxy_http_error {
	int			 status;	/* to answer with: 4xx/5xx
						   for a request, 502 for
						   a response */
	const char		*reason;	/* short stable token for
						   proxy.reject */
	const char		*detail;	/* longer text, static */
};

/* Where a head scan got to; see proxy_http_head_scan. */
struct proxy_http_scan {
	size_t			 hs_off;	/* bytes looked at */
	size_t			 hs_line;	/* start of the open line */
	size_t			 hs_fields;	/* field lines so far */
	int			 hs_response;	/* errors are 502 */
};

/* One field line; pointers into the message's own copy. */
struct proxy_http_field {
	const char		*hf_name;	/* also the line's start */
	size_t			 hf_namelen;
	const char		*hf_value;	/* without OWS */
	size_t			 hf_valuelen;
	size_t			 hf_linelen;	/* CRLF included */
	int			 hf_kind;	/* enum proxy_http_kind */
	int			 hf_flags;	/* PROXY_HTTP_FF_* */
};

/* What requests and responses share: the head and its fields. */
struct proxy_http_msg {
	char			*hm_buf;	/* own copy of the head, NUL
						   terminated; owns hm_fields */
	size_t			 hm_len;
	size_t			 hm_linelen;	/* first line, CRLF included */
	struct proxy_http_field	*hm_fields;	/* in order */
	size_t			 hm_nfields;
	int			 hm_version;	/* 10 or 11 */
	int			 hm_flags;	/* PROXY_HTTP_F_* */
	enum proxy_http_body	 hm_body;
	uint64_t		 hm_length;	/* Content-Length, if any */
	int			 hm_cl;		/* first Content-Length
						   field, or -1 */
	int			 hm_via;	/* last Via field, or -1 */
};

/* A parsed request head. */
struct proxy_http_request {
	struct proxy_http_msg	 rq_msg;
	const char		*rq_method;	/* NUL terminated */
	const char		*rq_target;	/* as sent, NUL terminated */
	const char		*rq_path;	/* path-abempty, or "/" */
	size_t			 rq_pathlen;
	const char		*rq_query;	/* "?..." or "" */
	size_t			 rq_querylen;
	struct sbxd_host	 rq_host;	/* the destination: always
						   the request target's */
	uint16_t		 rq_port;
	struct sbxd_host	 rq_hhost;	/* the Host field's, if
						   PROXY_HTTP_F_HOSTHDR */
	uint16_t		 rq_hport;	/* 0: the field had none */
};

/* A parsed response head. */
struct proxy_http_response {
	struct proxy_http_msg	 rs_msg;
	int			 rs_status;	/* 100 to 599 */
	const char		*rs_reason;	/* not NUL terminated */
	size_t			 rs_reasonlen;
};

/* Validation state of a chunked body streaming past. */
struct proxy_http_chunked {
	int			 ch_state;
	int			 ch_response;	/* errors are 502 */
	uint64_t		 ch_left;	/* chunk size being read,
						   then data bytes left */
	size_t			 ch_digits;
	size_t			 ch_line;	/* bytes of the size line */
	size_t			 ch_trailer;	/* bytes of trailer section */
	char			 ch_name[32];	/* trailer field name, or
						   its start */
	size_t			 ch_namelen;
	uint64_t		 ch_total;	/* body bytes, framing too */
	uint64_t		 ch_data;	/* chunk data bytes */
};

/* proxy_http.c */
void		 proxy_http_scan_init(struct proxy_http_scan *, int);
int		 proxy_http_head_scan(struct proxy_http_scan *, const char *,
		    size_t, size_t *, struct proxy_http_error *);
int		 proxy_http_request_parse(const char *, size_t,
		    struct proxy_http_request *, struct proxy_http_error *);
int		 proxy_http_request_parse_origin(const char *, size_t,
		    struct proxy_http_request *, struct proxy_http_error *);
void		 proxy_http_request_free(struct proxy_http_request *);
int		 proxy_http_request_write(const struct proxy_http_request *,
		    struct evbuffer *, int);
int		 proxy_http_response_parse(const char *, size_t,
		    const struct proxy_http_request *,
		    struct proxy_http_response *, struct proxy_http_error *);
void		 proxy_http_response_free(struct proxy_http_response *);
int		 proxy_http_response_write(const struct proxy_http_response *,
		    struct evbuffer *, int);
int		 proxy_http_persist(const struct proxy_http_request *,
		    const struct proxy_http_response *);
void		 proxy_http_chunked_init(struct proxy_http_chunked *, int);
int		 proxy_http_chunked_feed(struct proxy_http_chunked *,
		    const char *, size_t, size_t *, struct proxy_http_error *);
int		 proxy_http_chunked_data(struct proxy_http_chunked *,
		    const char *, size_t, size_t *, size_t *, size_t *,
		    struct proxy_http_error *);
const char	*proxy_http_field_find(const struct proxy_http_msg *,
		    const char *, size_t *);
int		 proxy_http_method_is(const struct proxy_http_request *,
		    const char *);
const char	*proxy_http_authority(const struct sbxd_host *, uint16_t,
		    uint16_t, char *, size_t);
const char	*proxy_http_error_status_text(int);
int		 proxy_http_error_write(const struct proxy_http_error *,
		    struct evbuffer *);

#endif /* SBXD_PROXY_HTTP_H */
