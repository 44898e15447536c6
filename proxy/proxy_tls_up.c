/*
 * proxy_tls_up.c: the credential gateway's TLS connections to an
 * upstream API.  A context is one trust setting: the system's store,
 * plus the anchors of an extra ca-file if one is given, TLS 1.2 at
 * least, peer verification, ALPN "http/1.1" only.  A connect is a chain
 * of steps on the caller's event base: proxy_tls_up_connect (a
 * non-blocking socket, connect(2)) -> tls_up_connectcb (the socket is
 * writable: connected or refused) -> tls_up_handshake (a libevent_openssl
 * bufferevent shakes hands; OpenSSL checks the chain and the name) ->
 * tls_up_eventcb -> tls_up_done, which hands the bufferevent over, or
 * tls_up_fail with a reason.  One timer bounds the whole connect.
 *
 * The bufferevent is made with BEV_OPT_CLOSE_ON_FREE alone, so that one
 * bufferevent_free closes the socket and frees the SSL, as the relay's
 * other sides are freed.  Its callbacks are not deferred, as the proxy's
 * other bufferevents are not: a socket-based OpenSSL bufferevent only
 * schedules its SSL_write when the relay adds output, so there is no
 * re-entry for a deferral to guard against, only a delay it would add
 * to every read of a streamed answer.
 *
 * A relay must not take a TCP EOF for the end of an answer: an attacker
 * on the path can cut the stream there.  proxy_tls_up_end tells a
 * close_notify from an EOF without one.  libevent 2.1 was written for
 * OpenSSL 1.x, which reports such an EOF as SSL_ERROR_SYSCALL (so
 * allow_dirty_shutdown turns it into BEV_EVENT_EOF); OpenSSL 3 reports
 * SSL_R_UNEXPECTED_EOF_WHILE_READING, which libevent passes on as
 * BEV_EVENT_ERROR.  Both come out here as PROXY_TLS_UP_TRUNCATED.
 * SSL_OP_IGNORE_UNEXPECTED_EOF stays off: with it OpenSSL 3 marks the
 * cut stream as shut down cleanly, and the difference is gone.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "config.h"
#include "log.h"
#include "sbxd.h"
#include "proxy_tls_up.h"

#define TLS_UP_ALPN	"\010http/1.1"	/* wire format: length, then name */

struct proxy_tls_up_ctx {
	SSL_CTX			*tc_ssl_ctx;
};

/* One connect under way; the caller holds it until the callback. */
struct proxy_tls_up {
	struct event_base	*tu_base;
	SSL			*tu_ssl;	/* NULL once tu_bev has it */
	struct bufferevent	*tu_bev;	/* NULL until TCP is up */
	int			 tu_fd;		/* -1 once tu_bev has it */
	int			 tu_errno;	/* connect(2) failed at once */
	struct event		 tu_connev;	/* the socket turns writable */
	struct event		 tu_timer;	/* limits connect + handshake */
	proxy_tls_up_cb		 tu_cb;
	void			*tu_arg;
};

static int	tls_up_ca_bio(SSL_CTX *, BIO *, const char *, char *,
		    size_t);
static int	tls_up_ca_file(SSL_CTX *, const char *, char *, size_t);
static void	tls_up_sslerr(char *, size_t, const char *);
static int	tls_up_ssl(struct proxy_tls_up *, struct proxy_tls_up_ctx *,
		    const char *);
static void	tls_up_connectcb(evutil_socket_t, short, void *);
static void	tls_up_handshake(struct proxy_tls_up *);
static void	tls_up_eventcb(struct bufferevent *, short, void *);
static void	tls_up_timercb(evutil_socket_t, short, void *);
static void	tls_up_done(struct proxy_tls_up *);
static struct proxy_tls_up_ctx *tls_up_ctx_new(const char *, const char *,
		    char *, size_t);
static void	tls_up_fail(struct proxy_tls_up *, const char *);
static void	tls_up_free(struct proxy_tls_up *);
static unsigned long tls_up_errors(struct bufferevent *, int *);
static void	tls_up_why(struct bufferevent *, unsigned long, short,
		    const char *, char *, size_t);

/*
 * A client context that trusts the system's store and, if ca_file is
 * not NULL, the certificates in that PEM file as well.  NULL with err
 * set on failure.
 */
struct proxy_tls_up_ctx *
proxy_tls_up_ctx_new(const char *ca_file, char *err, size_t errlen)
{
	return (tls_up_ctx_new(ca_file, NULL, err, errlen));
}

/*
 * The same with the certificates given as PEM text (a ca-file the
 * config read as root), or none if ca_pem is NULL.
 */
struct proxy_tls_up_ctx *
proxy_tls_up_ctx_new_pem(const char *ca_pem, char *err, size_t errlen)
{
	return (tls_up_ctx_new(NULL, ca_pem, err, errlen));
}

static struct proxy_tls_up_ctx *
tls_up_ctx_new(const char *ca_file, const char *ca_pem, char *err,
    size_t errlen)
{
	BIO			*bio;
	struct proxy_tls_up_ctx	*tc;
	SSL_CTX			*ctx;

	ERR_clear_error();
	if ((tc = calloc(1, sizeof(*tc))) == NULL) {
		snprintf(err, errlen, "%s", strerror(errno));
		return (NULL);
	}
	if ((ctx = tc->tc_ssl_ctx = SSL_CTX_new(TLS_client_method())) ==
	    NULL) {
		tls_up_sslerr(err, errlen, "SSL_CTX_new");
		goto fail;
	}
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)) {
		tls_up_sslerr(err, errlen, "TLS 1.2");
		goto fail;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	/* One connection per request's life: nothing to resume. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
#ifdef SSL_OP_NO_RENEGOTIATION
	/* An API server has no reason to; it would stall a relay's read. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
#endif
	/* Unlike the rest of the API, 0 means success here. */
	if (SSL_CTX_set_alpn_protos(ctx, (const unsigned char *)TLS_UP_ALPN,
	    sizeof(TLS_UP_ALPN) - 1) != 0) {
		tls_up_sslerr(err, errlen, "ALPN");
		goto fail;
	}
	if (!SSL_CTX_set_default_verify_paths(ctx)) {
		tls_up_sslerr(err, errlen, "system trust store");
		goto fail;
	}
	if (ca_file != NULL && tls_up_ca_file(ctx, ca_file, err, errlen) == -1)
		goto fail;
	if (ca_pem != NULL) {
		if ((bio = BIO_new_mem_buf(ca_pem, -1)) == NULL) {
			snprintf(err, errlen, "ca-file: out of memory");
			goto fail;
		}
		if (tls_up_ca_bio(ctx, bio, "(config)", err, errlen) == -1)
			goto fail;
	}
	return (tc);

fail:
	ERR_clear_error();
	proxy_tls_up_ctx_free(tc);
	return (NULL);
}

/* Free a context; connections made from it keep working. */
void
proxy_tls_up_ctx_free(struct proxy_tls_up_ctx *tc)
{
	if (tc == NULL)
		return;
	SSL_CTX_free(tc->tc_ssl_ctx);	/* reference counted by each SSL */
	free(tc);
}

/*
 * Add the certificates of the PEM file path to the context's store,
 * beside the system's, as bot_req.c does for curl.  At least one must
 * be there, and every block that says CERTIFICATE must parse.
 */
static int
tls_up_ca_file(SSL_CTX *ctx, const char *path, char *err, size_t errlen)
{
	struct stat	 sb;
	FILE		*fp;
	BIO		*bio = NULL;

	if ((fp = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "ca-file %s: %s", path, strerror(errno));
		return (-1);
	}
	if (fstat(fileno(fp), &sb) == -1 || !S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "ca-file %s: not a regular file", path);
		fclose(fp);
		return (-1);
	}
	if ((bio = BIO_new_fp(fp, BIO_CLOSE)) == NULL) {
		snprintf(err, errlen, "ca-file %s: out of memory", path);
		fclose(fp);
		return (-1);
	}
	return (tls_up_ca_bio(ctx, bio, path, err, errlen));
}

/*
 * Add the PEM certificates bio holds (what names them in errors) to the
 * context's store; bio is freed.
 */
static int
tls_up_ca_bio(SSL_CTX *ctx, BIO *bio, const char *path, char *err,
    size_t errlen)
{
	X509_STORE	*st = SSL_CTX_get_cert_store(ctx);
	X509		*x;
	unsigned long	 e;
	int		 n = 0, ret = -1;

	ERR_clear_error();
	/* _AUX reads "TRUSTED CERTIFICATE" too, as OpenSSL's loader does. */
	while ((x = PEM_read_bio_X509_AUX(bio, NULL, NULL, NULL)) != NULL) {
		(void)X509_STORE_add_cert(st, x); /* a duplicate is fine */
		X509_free(x);
		n++;
	}
	e = ERR_peek_last_error();
	if (ERR_GET_LIB(e) == ERR_LIB_PEM &&
	    ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
		if (n == 0)
			snprintf(err, errlen, "ca-file %s: no PEM certificate",
			    path);
		else
			ret = 0;	/* the end of the file */
	} else
		snprintf(err, errlen, "ca-file %s: certificate %d: %s", path,
		    n + 1, ERR_reason_error_string(e) != NULL ?
		    ERR_reason_error_string(e) : "unreadable");
	ERR_clear_error();
	BIO_free(bio);
	return (ret);
}

/* What OpenSSL's error queue says went wrong in what. */
static void
tls_up_sslerr(char *err, size_t errlen, const char *what)
{
	unsigned long	 e = ERR_peek_error();
	const char	*s = ERR_reason_error_string(e);

	snprintf(err, errlen, "%s: %s", what, s != NULL ? s : "failed");
	ERR_clear_error();
}

/*
 * Connect to sa and shake hands as a client of host, the name sent as
 * SNI and checked against the certificate (an IP literal is checked as
 * an address and not sent).  timeout bounds both steps; NULL means
 * PROXY_TIMEOUT_CONNECT seconds.  cb is called once, from the loop,
 * unless the connect is cancelled first.  NULL with errno set if it
 * cannot even start.
 */
struct proxy_tls_up *
proxy_tls_up_connect(struct proxy_tls_up_ctx *tc, struct event_base *base,
    const struct sockaddr *sa, socklen_t salen, const char *host,
    const struct timeval *timeout, proxy_tls_up_cb cb, void *arg)
{
	struct proxy_tls_up	*tu;
	struct timeval		 tv = { PROXY_TIMEOUT_CONNECT, 0 };
	int			 one = 1, r, save;

	if (*host == '\0' || strlen(host) > PROXY_TLS_UP_HOST_MAX) {
		errno = EINVAL;
		return (NULL);
	}
	if ((tu = calloc(1, sizeof(*tu))) == NULL)
		return (NULL);
	tu->tu_base = base;
	tu->tu_fd = -1;
	tu->tu_cb = cb;
	tu->tu_arg = arg;
	if (tls_up_ssl(tu, tc, host) == -1) {
		errno = ENOMEM;
		goto fail;
	}
	if ((tu->tu_fd = util_socket(sa->sa_family, SOCK_STREAM)) == -1)
		goto fail;
	/* Requests go out whole; streamed answers should not wait. */
	if (setsockopt(tu->tu_fd, IPPROTO_TCP, TCP_NODELAY, &one,
	    sizeof(one)) == -1)
		log_debug("%s: TCP_NODELAY: %s", __func__, strerror(errno));
	event_assign(&tu->tu_connev, base, tu->tu_fd, EV_WRITE,
	    tls_up_connectcb, tu);
	evtimer_assign(&tu->tu_timer, base, tls_up_timercb, tu);
	if ((r = connect(tu->tu_fd, sa, salen)) == -1 &&
	    errno != EINPROGRESS && errno != EINTR)
		tu->tu_errno = errno;
	if (event_add(&tu->tu_timer, timeout != NULL ? timeout : &tv) == -1)
		goto fail;
	/* Report even an immediate answer from the loop, never from here. */
	if (r == 0 || tu->tu_errno != 0)
		event_active(&tu->tu_connev, EV_WRITE, 1);
	else if (event_add(&tu->tu_connev, NULL) == -1)
		goto fail;
	return (tu);

fail:
	save = errno;
	tls_up_free(tu);
	errno = save;
	return (NULL);
}

/* The connection's SSL, with the name to send and to verify. */
static int
tls_up_ssl(struct proxy_tls_up *tu, struct proxy_tls_up_ctx *tc,
    const char *host)
{
	struct in6_addr	 in6;
	struct in_addr	 in;
	SSL		*ssl;
	int		 ok;

	if ((ssl = tu->tu_ssl = SSL_new(tc->tc_ssl_ctx)) == NULL) {
		ERR_clear_error();
		return (-1);
	}
	if (inet_pton(AF_INET, host, &in) == 1 ||
	    inet_pton(AF_INET6, host, &in6) == 1) {
		/* RFC 6066 3: SNI never carries an address literal. */
		ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host);
	} else {
		SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		ok = SSL_set_tlsext_host_name(ssl, host) &&
		    SSL_set1_host(ssl, host);
	}
	ERR_clear_error();
	return (ok ? 0 : -1);
}

/* Stop a connect before its callback; the callback is not called. */
void
proxy_tls_up_cancel(struct proxy_tls_up *tu)
{
	if (tu != NULL)
		tls_up_free(tu);
}

/* The socket is writable: connected, or connect(2) failed. */
static void
tls_up_connectcb(evutil_socket_t fd, short events __unused, void *arg)
{
	struct proxy_tls_up	*tu = arg;
	char			 why[PROXY_TLS_UP_WHY_LEN];
	socklen_t		 len = sizeof(int);
	int			 error = tu->tu_errno;

	if (error == 0 &&
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) == -1)
		error = errno;
	if (error != 0) {
		snprintf(why, sizeof(why), "connect: %s", strerror(error));
		tls_up_fail(tu, why);
		return;
	}
	tls_up_handshake(tu);
}

/* TCP is up: let a bufferevent shake hands on it. */
static void
tls_up_handshake(struct proxy_tls_up *tu)
{
	tu->tu_bev = bufferevent_openssl_socket_new(tu->tu_base, tu->tu_fd,
	    tu->tu_ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	tu->tu_ssl = NULL;	/* with CLOSE_ON_FREE, libevent frees it even
				   on failure; the fd it leaves to us */
	if (tu->tu_bev == NULL) {
		tls_up_fail(tu, "TLS handshake: out of memory");
		return;
	}
	tu->tu_fd = -1;
	/* Any EOF reaches proxy_tls_up_end, which checks close_notify. */
	bufferevent_openssl_set_allow_dirty_shutdown(tu->tu_bev, 1);
	bufferevent_setcb(tu->tu_bev, NULL, NULL, tls_up_eventcb, tu);
}

/* The handshake ended. */
static void
tls_up_eventcb(struct bufferevent *bev, short events, void *arg)
{
	struct proxy_tls_up	*tu = arg;
	char			 why[PROXY_TLS_UP_WHY_LEN];

	if (events & BEV_EVENT_CONNECTED) {
		tls_up_done(tu);
		return;
	}
	tls_up_why(bev, tls_up_errors(bev, NULL), events, "TLS handshake",
	    why, sizeof(why));
	tls_up_fail(tu, why);
}

static void
tls_up_timercb(evutil_socket_t fd __unused, short events __unused,
    void *arg)
{
	struct proxy_tls_up	*tu = arg;

	tls_up_fail(tu, tu->tu_bev == NULL ? "connect timeout" :
	    "TLS handshake timeout");
}

/* Hand the open connection over, clean of our callbacks. */
static void
tls_up_done(struct proxy_tls_up *tu)
{
	struct bufferevent	*bev = tu->tu_bev;
	proxy_tls_up_cb		 cb = tu->tu_cb;
	void			*arg = tu->tu_arg;

	bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
	tu->tu_bev = NULL;
	tls_up_free(tu);
	cb(bev, NULL, arg);
}

/* Give up with a reason; the caller may start again from its callback. */
static void
tls_up_fail(struct proxy_tls_up *tu, const char *why)
{
	proxy_tls_up_cb	 cb = tu->tu_cb;
	void		*arg = tu->tu_arg;

	tls_up_free(tu);
	cb(NULL, why, arg);
}

/*
 * The only teardown.  A bufferevent_free only drops a reference:
 * libevent closes the socket and frees the SSL from the loop, or when
 * the base is freed.
 */
static void
tls_up_free(struct proxy_tls_up *tu)
{
	if (event_initialized(&tu->tu_connev))
		event_del(&tu->tu_connev);
	if (event_initialized(&tu->tu_timer))
		event_del(&tu->tu_timer);
	if (tu->tu_bev != NULL)
		bufferevent_free(tu->tu_bev);
	SSL_free(tu->tu_ssl);
	if (tu->tu_fd != -1)
		close(tu->tu_fd);
	free(tu);
}

/*
 * Whether the peer sent close_notify: call on BEV_EVENT_EOF.  1 for a
 * clean end, 0 for a cut one.
 */
int
proxy_tls_up_clean_eof(struct bufferevent *bev)
{
	SSL	*ssl = bufferevent_openssl_get_ssl(bev);

	return (ssl != NULL &&
	    (SSL_get_shutdown(ssl) & SSL_RECEIVED_SHUTDOWN) != 0);
}

/*
 * How an open connection ended, for its event callback's events; why
 * says it in words.  Call it first thing in the callback: errno still
 * tells a reset from a close there.  Reads (and so empties) the
 * bufferevent's errors.
 */
enum proxy_tls_up_end
proxy_tls_up_end(struct bufferevent *bev, short events, char *why,
    size_t len)
{
	unsigned long	 e;
	int		 eof = 0, serr = errno;

	e = tls_up_errors(bev, &eof);
	if (events & BEV_EVENT_EOF) {
		if (proxy_tls_up_clean_eof(bev)) {
			snprintf(why, len, "closed");
			return (PROXY_TLS_UP_CLOSED);
		}
		/* libevent takes a reset for a dirty shutdown too. */
		snprintf(why, len, "%s without close_notify",
		    serr == ECONNRESET ? "reset" : "closed");
		return (PROXY_TLS_UP_TRUNCATED);
	}
	if (events & BEV_EVENT_TIMEOUT) {
		snprintf(why, len, "%s timeout", events & BEV_EVENT_READING ?
		    "read" : "write");
		return (PROXY_TLS_UP_FAILED);
	}
	if (eof) {		/* OpenSSL 3's dirty EOF; see the top */
		snprintf(why, len, "closed without close_notify");
		return (PROXY_TLS_UP_TRUNCATED);
	}
	tls_up_why(bev, e, events, "TLS", why, len);
	return (PROXY_TLS_UP_FAILED);
}

/*
 * Empty the bufferevent's error list and return the oldest OpenSSL
 * error in it, or 0.  libevent keeps three: SSL_get_error's code (1,
 * 5: no library) in front of the queue it copies, and hands them out
 * newest first.  *eof, if wanted, says whether one was an unexpected
 * EOF.
 */
static unsigned long
tls_up_errors(struct bufferevent *bev, int *eof)
{
	unsigned long	 e, oldest = 0;

	while ((e = bufferevent_get_openssl_error(bev)) != 0) {
		if (ERR_GET_LIB(e) == 0)
			continue;
		oldest = e;
#ifdef SSL_R_UNEXPECTED_EOF_WHILE_READING
		if (eof != NULL && ERR_GET_LIB(e) == ERR_LIB_SSL &&
		    ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
			*eof = 1;
#endif
	}
	return (oldest);
}

/*
 * A failure in words, given the oldest OpenSSL error e (or 0): the
 * verify error for a certificate, else OpenSSL's reason, else the
 * socket's.
 */
static void
tls_up_why(struct bufferevent *bev, unsigned long e, short events,
    const char *what, char *why, size_t len)
{
	SSL		*ssl = bufferevent_openssl_get_ssl(bev);
	const char	*s;
	long		 v;
	int		 serr = errno;

	if (ERR_GET_LIB(e) == ERR_LIB_SSL &&
	    ERR_GET_REASON(e) == SSL_R_CERTIFICATE_VERIFY_FAILED &&
	    ssl != NULL && (v = SSL_get_verify_result(ssl)) != X509_V_OK)
		snprintf(why, len, "certificate verify failed: %s",
		    X509_verify_cert_error_string(v));
	else if (e != 0 && (s = ERR_reason_error_string(e)) != NULL)
		snprintf(why, len, "%s: %s", what, s);
	else if (events & BEV_EVENT_EOF)
		snprintf(why, len, "%s: connection closed", what);
	else if (serr != 0 && serr != EAGAIN && serr != EINPROGRESS)
		snprintf(why, len, "%s: %s", what, strerror(serr));
	else
		snprintf(why, len, "%s: %s error", what,
		    events & BEV_EVENT_WRITING ? "write" : "read");
}

/* The negotiated protocol, "TLSv1.3" or "TLSv1.2", for the log. */
const char *
proxy_tls_up_version(struct bufferevent *bev)
{
	SSL	*ssl = bufferevent_openssl_get_ssl(bev);

	return (ssl != NULL ? SSL_get_version(ssl) : "none");
}

/* The protocol the server chose by ALPN, in buf; "" if none. */
const char *
proxy_tls_up_alpn(struct bufferevent *bev, char *buf, size_t len)
{
	SSL			*ssl = bufferevent_openssl_get_ssl(bev);
	const unsigned char	*p = NULL;
	unsigned int		 n = 0;

	if (ssl != NULL)
		SSL_get0_alpn_selected(ssl, &p, &n);
	snprintf(buf, len, "%.*s", (int)n, p != NULL ? (const char *)p : "");
	return (buf);
}
