/*
 * proxy_tls_up.h: TLS connections to an upstream server, for the
 * credential gateway's relay (proxy_tls_up.c).  A context holds one trust
 * setting; a connect makes one verified connection from it and hands
 * over a libevent_openssl bufferevent.  Shared only inside proxy/.
 */

#ifndef SBXD_PROXY_TLS_UP_H
#define SBXD_PROXY_TLS_UP_H

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <stddef.h>

#define PROXY_TLS_UP_HOST_MAX	255	/* a DNS name (RFC 1035 2.3.4) */
#define PROXY_TLS_UP_WHY_LEN	256	/* a failure's reason: OpenSSL's
					   longest verify text fits twice */

struct bufferevent;
struct event_base;
struct proxy_tls_up_ctx;
struct proxy_tls_up;

/*
 * The end of a connect: bev is the open connection, now the caller's,
 * with no callbacks set and EV_READ not enabled, and why is NULL; or
 * bev is NULL and why says what failed (valid during the call only).
 */
typedef void	(*proxy_tls_up_cb)(struct bufferevent *bev, const char *why,
		    void *arg);

/* How a connection that was open ended (proxy_tls_up_end). */
enum proxy_tls_up_end {
	PROXY_TLS_UP_CLOSED,	/* close_notify, then EOF: all came */
	PROXY_TLS_UP_TRUNCATED,	/* EOF without close_notify: maybe not */
	PROXY_TLS_UP_FAILED	/* any other error or timeout */
};

/* proxy/proxy_tls_up.c */
struct proxy_tls_up_ctx *proxy_tls_up_ctx_new(const char *, char *, size_t);
struct proxy_tls_up_ctx *proxy_tls_up_ctx_new_pem(const char *, char *,
		    size_t);
void		 proxy_tls_up_ctx_free(struct proxy_tls_up_ctx *);
struct proxy_tls_up *proxy_tls_up_connect(struct proxy_tls_up_ctx *,
		    struct event_base *, const struct sockaddr *, socklen_t,
		    const char *, const struct timeval *, proxy_tls_up_cb,
		    void *);
void		 proxy_tls_up_cancel(struct proxy_tls_up *);
int		 proxy_tls_up_clean_eof(struct bufferevent *);
enum proxy_tls_up_end proxy_tls_up_end(struct bufferevent *, short, char *,
		    size_t);
const char	*proxy_tls_up_version(struct bufferevent *);
const char	*proxy_tls_up_alpn(struct bufferevent *, char *, size_t);

#endif /* SBXD_PROXY_TLS_UP_H */
