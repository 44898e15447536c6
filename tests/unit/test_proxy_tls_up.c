/*
 * test_proxy_tls_up.c: upstream TLS against a real server in this
 * process on 127.0.0.1 (an evconnlistener and libevent_openssl on the
 * server side), with a CA and a server certificate (DNS:upstream.test,
 * IP:127.0.0.1) made here and the CA written to a ca-file.  The handshake
 * by name and by address, SNI as the server saw it, version and ALPN,
 * bytes both ways; the failures with their reasons (untrusted, wrong
 * name, wrong address, TLS 1.1 only, refused, connect and handshake
 * timeouts, EOF in the handshake); clean and dirty closes, a reset;
 * cancel.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "config.h"
#include "compat.h"
#include "proxy_tls_up.h"
#include "unit.h"

#define ECHO_BYTES	(256 * 1024 + 7)	/* several TLS records */
#define WAIT		10.0			/* seconds a step may take */
#define HELLO		"hello"			/* what a closing server says */
#define FULL_TRIES	8			/* connects to fill a backlog */

/* The test PKI, made once. */
static EVP_PKEY		*ca_key, *leaf_key;
static X509		*ca_cert, *leaf_cert;
static char		*pki_dir;
static char		 ca_path[1024];

enum srv_mode {
	SRV_NONE,		/* no server */
	SRV_ECHO,		/* send back what comes */
	SRV_CLEAN,		/* say HELLO, close_notify, close */
	SRV_DIRTY,		/* say HELLO, close the socket */
	SRV_RESET		/* say HELLO, reset the connection */
};

/* The upstream server: one connection at a time. */
struct srv {
	struct evconnlistener	*sv_lst;
	SSL_CTX			*sv_ctx;
	struct bufferevent	*sv_bev;
	enum srv_mode		 sv_mode;
	int			 sv_up;		/* handshakes done */
	int			 sv_failed;	/* handshakes or reads failed */
	int			 sv_said;
	char			 sv_sni[256];
	struct sockaddr_in	 sv_sin;
};

/* The client side: what the connect and then the connection said. */
struct cli {
	int			 cl_calls;	/* of the connect callback */
	struct bufferevent	*cl_bev;
	char			 cl_why[PROXY_TLS_UP_WHY_LEN];
	struct evbuffer		*cl_in;
	size_t			 cl_want;
	int			 cl_ended;	/* event callbacks */
	short			 cl_events;
	int			 cl_clean;
	enum proxy_tls_up_end	 cl_end;
	char			 cl_endwhy[PROXY_TLS_UP_WHY_LEN];
};

static void
pki_free(void)
{
	X509_free(ca_cert);
	X509_free(leaf_cert);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(leaf_key);
	unit_rmtree(pki_dir);
	free(pki_dir);
}

/* A P-256 key; the calls work from OpenSSL 1.1.1 on. */
static EVP_PKEY *
key_new(void)
{
	EVP_PKEY_CTX	*pc;
	EVP_PKEY	*k = NULL;

	if ((pc = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, NULL)) == NULL)
		return (NULL);
	if (EVP_PKEY_keygen_init(pc) <= 0 ||
	    EVP_PKEY_CTX_set_ec_paramgen_curve_nid(pc,
	    NID_X9_62_prime256v1) <= 0 || EVP_PKEY_keygen(pc, &k) <= 0)
		k = NULL;
	EVP_PKEY_CTX_free(pc);
	return (k);
}

static int
cert_ext(X509 *x, X509V3_CTX *v3, int nid, const char *value)
{
	X509_EXTENSION	*e;
	int		 r;

	if ((e = X509V3_EXT_conf_nid(NULL, v3, nid, value)) == NULL)
		return (-1);
	r = X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	return (r ? 0 : -1);
}

/* A CA certificate (san NULL, self-signed) or a server's, by issuer. */
static X509 *
cert_new(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *ikey,
    const char *san)
{
	static long	 serial = 1;
	X509		*x;
	X509_NAME	*name;
	X509V3_CTX	 v3;
	int		 bad;

	if ((x = X509_new()) == NULL)
		return (NULL);
	name = X509_get_subject_name(x);
	bad = !X509_set_version(x, 2) ||
	    !ASN1_INTEGER_set(X509_get_serialNumber(x), serial++) ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 86400) == NULL ||
	    !X509_set_pubkey(x, key) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0) ||
	    !X509_set_issuer_name(x, issuer != NULL ?
	    X509_get_subject_name(issuer) : name);
	X509V3_set_ctx(&v3, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
	if (san == NULL)
		bad = bad ||
		    cert_ext(x, &v3, NID_basic_constraints,
		    "critical,CA:TRUE") == -1 ||
		    cert_ext(x, &v3, NID_key_usage,
		    "critical,keyCertSign,cRLSign") == -1 ||
		    cert_ext(x, &v3, NID_subject_key_identifier, "hash") == -1;
	else
		bad = bad ||
		    cert_ext(x, &v3, NID_basic_constraints,
		    "critical,CA:FALSE") == -1 ||
		    cert_ext(x, &v3, NID_key_usage,
		    "critical,digitalSignature") == -1 ||
		    cert_ext(x, &v3, NID_ext_key_usage, "serverAuth") == -1 ||
		    cert_ext(x, &v3, NID_subject_alt_name, san) == -1 ||
		    cert_ext(x, &v3, NID_authority_key_identifier,
		    "keyid") == -1;
	if (bad || !X509_sign(x, ikey, EVP_sha256())) {
		X509_free(x);
		return (NULL);
	}
	return (x);
}

/* The CA, the server's certificate, and the CA in ca_path; once. */
static int
pki_make(void)
{
	static int	 made;		/* 1: made, -1: failed */
	FILE		*fp;
	int		 r;

	signal(SIGPIPE, SIG_IGN);	/* as sbxd does */
	if (made != 0)
		return (made == 1 ? 0 : -1);
	made = -1;
	atexit(pki_free);
	if ((pki_dir = unit_tmpdir()) == NULL ||
	    (ca_key = key_new()) == NULL || (leaf_key = key_new()) == NULL ||
	    (ca_cert = cert_new("sbxd test CA", ca_key, NULL, ca_key,
	    NULL)) == NULL ||
	    (leaf_cert = cert_new("upstream.test", leaf_key, ca_cert, ca_key,
	    "DNS:upstream.test,IP:127.0.0.1")) == NULL)
		return (-1);
	snprintf(ca_path, sizeof(ca_path), "%s/ca.pem", pki_dir);
	if ((fp = fopen(ca_path, "w")) == NULL)
		return (-1);
	r = PEM_write_X509(fp, ca_cert);
	if (fclose(fp) != 0 || !r)
		return (-1);
	made = 1;
	return (0);
}

static int
srv_alpncb(SSL *ssl __unused, const unsigned char **out,
    unsigned char *outlen, const unsigned char *in, unsigned int inlen,
    void *arg __unused)
{
	static const unsigned char	 ours[] = "\010http/1.1";
	unsigned char			*sel;

	if (SSL_select_next_proto(&sel, outlen, ours, sizeof(ours) - 1, in,
	    inlen) != OPENSSL_NPN_NEGOTIATED)
		return (SSL_TLSEXT_ERR_NOACK);
	*out = sel;
	return (SSL_TLSEXT_ERR_OK);
}

static void
srv_drop(struct srv *sv)
{
	if (sv->sv_bev != NULL)
		bufferevent_free(sv->sv_bev);
	sv->sv_bev = NULL;
}

static void
srv_readcb(struct bufferevent *bev, void *arg)
{
	struct srv	*sv = arg;

	if (sv->sv_mode == SRV_ECHO)
		evbuffer_add_buffer(bufferevent_get_output(bev),
		    bufferevent_get_input(bev));
}

/* HELLO went out: close the way the mode says. */
static void
srv_writecb(struct bufferevent *bev, void *arg)
{
	struct srv	*sv = arg;
	struct linger	 lg = { 1, 0 };	/* close(2) sends a reset */

	if (!sv->sv_said)
		return;
	if (sv->sv_mode == SRV_CLEAN)
		(void)SSL_shutdown(bufferevent_openssl_get_ssl(bev));
	if (sv->sv_mode == SRV_RESET)
		(void)setsockopt(bufferevent_getfd(bev), SOL_SOCKET,
		    SO_LINGER, &lg, sizeof(lg));
	srv_drop(sv);		/* libevent sends no close_notify itself */
}

static void
srv_eventcb(struct bufferevent *bev, short events, void *arg)
{
	struct srv	*sv = arg;
	const char	*sni;

	if (events & BEV_EVENT_CONNECTED) {
		sv->sv_up++;
		sni = SSL_get_servername(bufferevent_openssl_get_ssl(bev),
		    TLSEXT_NAMETYPE_host_name);
		snprintf(sv->sv_sni, sizeof(sv->sv_sni), "%s",
		    sni != NULL ? sni : "");
		if (sv->sv_mode != SRV_ECHO) {
			bufferevent_write(bev, HELLO, strlen(HELLO));
			sv->sv_said = 1;
		}
		return;
	}
	sv->sv_failed++;
	srv_drop(sv);
}

static void
srv_acceptcb(struct evconnlistener *lst, evutil_socket_t fd,
    struct sockaddr *sa __unused, int salen __unused, void *arg)
{
	struct srv	*sv = arg;
	SSL		*ssl;

	if (sv->sv_bev != NULL || (ssl = SSL_new(sv->sv_ctx)) == NULL) {
		close(fd);
		return;
	}
	sv->sv_bev = bufferevent_openssl_socket_new(
	    evconnlistener_get_base(lst), fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (sv->sv_bev == NULL) {
		close(fd);
		return;
	}
	bufferevent_setcb(sv->sv_bev, srv_readcb, srv_writecb, srv_eventcb,
	    sv);
	bufferevent_enable(sv->sv_bev, EV_READ | EV_WRITE);
}

/*
 * A server on 127.0.0.1 with the test certificate; versions up to
 * maxver (0: any), or only TLS 1.1 if maxver is TLS1_1_VERSION.
 */
static int
srv_start(struct srv *sv, struct event_base *base, enum srv_mode mode,
    int maxver)
{
	socklen_t	 len = sizeof(sv->sv_sin);

	memset(sv, 0, sizeof(*sv));
	sv->sv_mode = mode;
	if (pki_make() == -1 ||
	    (sv->sv_ctx = SSL_CTX_new(TLS_server_method())) == NULL ||
	    !SSL_CTX_use_certificate(sv->sv_ctx, leaf_cert) ||
	    !SSL_CTX_use_PrivateKey(sv->sv_ctx, leaf_key))
		return (-1);
	SSL_CTX_set_alpn_select_cb(sv->sv_ctx, srv_alpncb, NULL);
	if (maxver == TLS1_1_VERSION) {
		/* OpenSSL 3 allows TLS 1.1 at security level 0 only. */
		SSL_CTX_set_security_level(sv->sv_ctx, 0);
		if (!SSL_CTX_set_cipher_list(sv->sv_ctx,
		    "DEFAULT:@SECLEVEL=0") ||
		    !SSL_CTX_set_min_proto_version(sv->sv_ctx, TLS1_1_VERSION))
			return (-1);
	}
	if (maxver != 0 &&
	    !SSL_CTX_set_max_proto_version(sv->sv_ctx, maxver))
		return (-1);
	sv->sv_sin.sin_family = AF_INET;
	sv->sv_sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sv->sv_lst = evconnlistener_new_bind(base, srv_acceptcb, sv,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 16,
	    (struct sockaddr *)&sv->sv_sin, sizeof(sv->sv_sin));
	if (sv->sv_lst == NULL || getsockname(evconnlistener_get_fd(
	    sv->sv_lst), (struct sockaddr *)&sv->sv_sin, &len) == -1)
		return (-1);
	return (0);
}

static void
srv_stop(struct srv *sv)
{
	srv_drop(sv);
	if (sv->sv_lst != NULL)
		evconnlistener_free(sv->sv_lst);
	SSL_CTX_free(sv->sv_ctx);
	memset(sv, 0, sizeof(*sv));
}

static void
cli_donecb(struct bufferevent *bev, const char *why, void *arg)
{
	struct cli	*cl = arg;

	cl->cl_calls++;
	cl->cl_bev = bev;
	snprintf(cl->cl_why, sizeof(cl->cl_why), "%s", why != NULL ? why :
	    "");
}

static void
cli_readcb(struct bufferevent *bev, void *arg)
{
	struct cli	*cl = arg;

	evbuffer_add_buffer(cl->cl_in, bufferevent_get_input(bev));
}

static void
cli_eventcb(struct bufferevent *bev, short events, void *arg)
{
	struct cli	*cl = arg;

	cl->cl_ended++;
	cl->cl_events = events;
	cl->cl_clean = proxy_tls_up_clean_eof(bev);
	cl->cl_end = proxy_tls_up_end(bev, events, cl->cl_endwhy,
	    sizeof(cl->cl_endwhy));
}

static int
cli_init(struct cli *cl)
{
	memset(cl, 0, sizeof(*cl));
	return ((cl->cl_in = evbuffer_new()) == NULL ? -1 : 0);
}

static void
cli_free(struct cli *cl)
{
	if (cl->cl_bev != NULL)
		bufferevent_free(cl->cl_bev);
	if (cl->cl_in != NULL)
		evbuffer_free(cl->cl_in);
	memset(cl, 0, sizeof(*cl));
}

/* Loop conditions for unit_loop_until: nonzero while waiting. */
static int
cli_pending(void *arg)
{
	return (((struct cli *)arg)->cl_calls == 0);
}

static int
cli_open(void *arg)
{
	return (((struct cli *)arg)->cl_ended == 0);
}

static int
cli_short(void *arg)
{
	struct cli	*cl = arg;

	return (evbuffer_get_length(cl->cl_in) < cl->cl_want);
}

static int
srv_pending(void *arg)
{
	struct srv	*sv = arg;

	return (sv->sv_up == 0 && sv->sv_failed == 0);
}

/*
 * Connect with tc to sin as host and wait for the callback; 0 if it
 * came exactly once.  timeout NULL: 5 seconds.
 */
static int
dial(struct event_base *base, struct proxy_tls_up_ctx *tc,
    const struct sockaddr_in *sin, const char *host,
    const struct timeval *timeout, struct cli *cl)
{
	struct timeval	 tv = { 5, 0 };

	if (proxy_tls_up_connect(tc, base, (const struct sockaddr *)sin,
	    sizeof(*sin), host, timeout != NULL ? timeout : &tv, cli_donecb,
	    cl) == NULL)
		return (-1);
	(void)unit_loop_until(base, cli_pending, cl, WAIT);
	return (cl->cl_calls == 1 ? 0 : -1);
}

/* Take the connection: read into cl_in, events into cl_ended. */
static int
cli_take(struct cli *cl)
{
	bufferevent_setcb(cl->cl_bev, cli_readcb, NULL, cli_eventcb, cl);
	return (bufferevent_enable(cl->cl_bev, EV_READ));
}

/* A port on 127.0.0.1 where nothing listens. */
static int
closed_port(struct sockaddr_in *sin)
{
	socklen_t	 len = sizeof(*sin);
	int		 s, r;

	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((s = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return (-1);
	r = bind(s, (struct sockaddr *)sin, sizeof(*sin)) == -1 ||
	    getsockname(s, (struct sockaddr *)sin, &len) == -1 ? -1 : 0;
	close(s);
	return (r);
}

/* A listener on 127.0.0.1 that never accepts; backlog as given. */
static int
mute_listener(struct sockaddr_in *sin, int backlog)
{
	socklen_t	 len = sizeof(*sin);
	int		 s;

	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((s = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return (-1);
	if (bind(s, (struct sockaddr *)sin, sizeof(*sin)) == -1 ||
	    listen(s, backlog) == -1 ||
	    getsockname(s, (struct sockaddr *)sin, &len) == -1) {
		close(s);
		return (-1);
	}
	return (s);
}

/*
 * Fill the accept queue of the mute listener at sin until a connect
 * hangs (Linux drops the SYN then).  0 with the connects in fds, or -1
 * if every one went through.
 */
static int
fill_backlog(const struct sockaddr_in *sin, int *fds)
{
	struct pollfd	 pfd;
	int		 i;

	for (i = 0; i < FULL_TRIES; i++) {
		if ((fds[i] = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
		    fcntl(fds[i], F_SETFL, O_NONBLOCK) == -1)
			return (-1);
		if (connect(fds[i], (const struct sockaddr *)sin,
		    sizeof(*sin)) == -1 && errno != EINPROGRESS)
			return (-1);
		pfd.fd = fds[i];
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, 300) == 0)
			return (0);
	}
	return (-1);
}

/* What most tests start with. */
struct fix {
	struct event_base	*fx_base;
	struct proxy_tls_up_ctx	*fx_tc;
	struct srv		 fx_sv;
	struct cli		 fx_cl;
};

/*
 * A loop, a client context with ca_file (NULL: the system's store only)
 * and, unless mode is SRV_NONE, a server of up to maxver.
 */
static int
fix_start(struct fix *fx, const char *ca_file, enum srv_mode mode,
    int maxver)
{
	char	 err[512];

	memset(fx, 0, sizeof(*fx));
	if (pki_make() == -1 || (fx->fx_base = unit_loop_start(10)) == NULL ||
	    cli_init(&fx->fx_cl) == -1)
		return (-1);
	if ((fx->fx_tc = proxy_tls_up_ctx_new(ca_file, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "  %s\n", err);
		return (-1);
	}
	if (mode != SRV_NONE &&
	    srv_start(&fx->fx_sv, fx->fx_base, mode, maxver) == -1)
		return (-1);
	return (0);
}

static void
fix_stop(struct fix *fx)
{
	cli_free(&fx->fx_cl);
	proxy_tls_up_ctx_free(fx->fx_tc);
	srv_stop(&fx->fx_sv);
	unit_loop_stop(fx->fx_base);
}

/* Wrong ca-files say what is wrong; a good one and none work. */
static int
test_ctx(void)
{
	struct proxy_tls_up_ctx	*tc = NULL;
	char			 err[512], path[1100];
	int			 ret = -1;

	CHECK(pki_make() == 0);
	tc = proxy_tls_up_ctx_new(NULL, err, sizeof(err));
	CHECK(tc != NULL);
	proxy_tls_up_ctx_free(tc);
	tc = proxy_tls_up_ctx_new(ca_path, err, sizeof(err));
	CHECK(tc != NULL);
	proxy_tls_up_ctx_free(tc);

	snprintf(path, sizeof(path), "%s/missing.pem", pki_dir);
	tc = proxy_tls_up_ctx_new(path, err, sizeof(err));
	CHECK(tc == NULL);
	CHECK(strncmp(err, "ca-file ", 8) == 0);
	CHECK(strstr(err, "missing.pem: No such file or directory") != NULL);

	tc = proxy_tls_up_ctx_new(pki_dir, err, sizeof(err));
	CHECK(tc == NULL);
	CHECK(strstr(err, ": not a regular file") != NULL);

	snprintf(path, sizeof(path), "%s/junk.pem", pki_dir);
	CHECK(unit_write(path, "not a certificate\n") == 0);
	tc = proxy_tls_up_ctx_new(path, err, sizeof(err));
	CHECK(tc == NULL);
	CHECK(strstr(err, "junk.pem: no PEM certificate") != NULL);

	CHECK(unit_write(path, "") == 0);
	tc = proxy_tls_up_ctx_new(path, err, sizeof(err));
	CHECK(tc == NULL);
	CHECK(strstr(err, "junk.pem: no PEM certificate") != NULL);

	CHECK(unit_write(path, "-----BEGIN CERTIFICATE-----\nMIIB!!!\n"
	    "-----END CERTIFICATE-----\n") == 0);
	tc = proxy_tls_up_ctx_new(path, err, sizeof(err));
	CHECK(tc == NULL);
	CHECK(strstr(err, "junk.pem: certificate 1: ") != NULL);
	ret = 0;
end:
	proxy_tls_up_ctx_free(tc);
	return (ret);
}

/*
 * Connect as host, check what both ends agreed on, and send
 * ECHO_BYTES through the echo server and back.
 */
static int
handshake(const char *host, const char *sni, int maxver, const char *ver)
{
	struct fix	 fx;
	struct cli	*cl = &fx.fx_cl;
	struct srv	*sv = &fx.fx_sv;
	char		 alpn[32], *buf = NULL;
	size_t		 i;
	int		 ret = -1;

	CHECK(fix_start(&fx, ca_path, SRV_ECHO, maxver) == 0);
	CHECK(dial(fx.fx_base, fx.fx_tc, &sv->sv_sin, host, NULL, cl) == 0);
	CHECK_STR(cl->cl_why, "");
	CHECK(cl->cl_bev != NULL);
	CHECK(unit_loop_until(fx.fx_base, srv_pending, sv, WAIT) == 0);
	CHECK_INT(sv->sv_up, 1);
	CHECK_STR(sv->sv_sni, sni);
	CHECK_STR(proxy_tls_up_version(cl->cl_bev), ver);
	CHECK_STR(proxy_tls_up_alpn(cl->cl_bev, alpn, sizeof(alpn)),
	    "http/1.1");
	CHECK(proxy_tls_up_alpn(cl->cl_bev, alpn, 5) == alpn);
	CHECK_STR(alpn, "http");		/* truncated, terminated */

	CHECK((buf = malloc(ECHO_BYTES)) != NULL);
	for (i = 0; i < ECHO_BYTES; i++)
		buf[i] = (char)(i * 7 + i / 251);
	CHECK(cli_take(cl) == 0);
	CHECK(bufferevent_write(cl->cl_bev, buf, ECHO_BYTES) == 0);
	cl->cl_want = ECHO_BYTES;
	CHECK(unit_loop_until(fx.fx_base, cli_short, cl, WAIT) == 0);
	CHECK_INT(evbuffer_get_length(cl->cl_in), ECHO_BYTES);
	CHECK(memcmp(evbuffer_pullup(cl->cl_in, -1), buf, ECHO_BYTES) == 0);
	CHECK_INT(cl->cl_ended, 0);
	CHECK_INT(sv->sv_failed, 0);
	ret = 0;
end:
	free(buf);
	fix_stop(&fx);
	return (ret);
}

/* By name: SNI upstream.test reaches the server. */
static int
test_name(void)
{
	return (handshake("upstream.test", "upstream.test", 0, "TLSv1.3"));
}

/* By address: no SNI, the IP SAN is checked. */
static int
test_address(void)
{
	return (handshake("127.0.0.1", "", 0, "TLSv1.3"));
}

/* A TLS 1.2 server is fine. */
static int
test_tls12(void)
{
	return (handshake("upstream.test", "upstream.test", TLS1_2_VERSION,
	    "TLSv1.2"));
}

/*
 * Connect with ca_file (NULL: system store) as host to a server of
 * maxver; the connect must fail with a reason that starts with want.
 */
static int
refuse(const char *ca_file, const char *host, int maxver, const char *want)
{
	struct fix	 fx;
	struct cli	*cl = &fx.fx_cl;
	struct srv	*sv = &fx.fx_sv;
	int		 ret = -1;

	CHECK(fix_start(&fx, ca_file, SRV_ECHO, maxver) == 0);
	CHECK(dial(fx.fx_base, fx.fx_tc, &sv->sv_sin, host, NULL, cl) == 0);
	CHECK(cl->cl_bev == NULL);
	if (strncmp(cl->cl_why, want, strlen(want)) != 0) {
		unit_fail(__FILE__, __LINE__, "reason \"%s\", want \"%s...\"",
		    cl->cl_why, want);
		goto end;
	}
	CHECK(unit_loop_until(fx.fx_base, srv_pending, sv, WAIT) == 0);
	CHECK_INT(sv->sv_up, 0);
	ret = 0;
end:
	fix_stop(&fx);
	return (ret);
}

/* The system store does not know the test CA. */
static int
test_untrusted(void)
{
	return (refuse(NULL, "upstream.test", 0,
	    "certificate verify failed: unable to get local issuer "
	    "certificate"));
}

static int
test_wrong_name(void)
{
	return (refuse(ca_path, "other.test", 0,
	    "certificate verify failed: hostname mismatch"));
}

/* Reached at 127.0.0.1 but asked to be 127.0.0.2. */
static int
test_wrong_address(void)
{
	return (refuse(ca_path, "127.0.0.2", 0,
	    "certificate verify failed: IP address mismatch"));
}

/*
 * A server that offers no more than TLS 1.1 answers our ClientHello
 * (1.2 and 1.3 only) with a protocol_version alert.
 */
static int
test_tls11(void)
{
	SSL_CTX	*ctx;
	int	 ok;

	/* Skip where the library cannot be made to speak TLS 1.1 at all. */
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		return (-1);
	ok = SSL_CTX_set_max_proto_version(ctx, TLS1_1_VERSION);
	SSL_CTX_free(ctx);
	ERR_clear_error();
	if (!ok) {
		printf("skip  proxy_tls_up/tls11: no TLS 1.1 here\n");
		return (0);
	}
	return (refuse(ca_path, "upstream.test", TLS1_1_VERSION,
	    "TLS handshake: tlsv1 alert protocol version"));
}

/*
 * The server says HELLO and ends the connection as mode says: the
 * bytes come (but for a reset), then the end is told apart.
 */
static int
closing(enum srv_mode mode)
{
	struct fix	 fx;
	struct cli	*cl = &fx.fx_cl;
	int		 ret = -1;

	CHECK(fix_start(&fx, ca_path, mode, 0) == 0);
	CHECK(dial(fx.fx_base, fx.fx_tc, &fx.fx_sv.sv_sin, "upstream.test",
	    NULL, cl) == 0);
	CHECK(cl->cl_bev != NULL);
	CHECK(cli_take(cl) == 0);
	CHECK(unit_loop_until(fx.fx_base, cli_open, cl, WAIT) == 0);
	CHECK_INT(cl->cl_ended, 1);
	CHECK_INT(cl->cl_clean, mode == SRV_CLEAN);
	switch (mode) {
	case SRV_CLEAN:
		CHECK_INT(evbuffer_get_length(cl->cl_in), strlen(HELLO));
		CHECK_INT(cl->cl_events, BEV_EVENT_EOF | BEV_EVENT_READING);
		CHECK_INT(cl->cl_end, PROXY_TLS_UP_CLOSED);
		CHECK_STR(cl->cl_endwhy, "closed");
		break;
	case SRV_DIRTY:
		/* EOF with OpenSSL 1.1.1, ERROR with 3 (see proxy_tls_up.c) */
		CHECK_INT(evbuffer_get_length(cl->cl_in), strlen(HELLO));
		CHECK(cl->cl_events & BEV_EVENT_READING);
		CHECK_INT(cl->cl_end, PROXY_TLS_UP_TRUNCATED);
		CHECK_STR(cl->cl_endwhy, "closed without close_notify");
		break;
	default:
		/* libevent 2.1 says EOF (a dirty shutdown), with errno set. */
		CHECK(cl->cl_end != PROXY_TLS_UP_CLOSED);
		CHECK(strstr(cl->cl_endwhy, "reset") != NULL);
		break;
	}
	ret = 0;
end:
	fix_stop(&fx);
	return (ret);
}

static int
test_clean_close(void)
{
	return (closing(SRV_CLEAN));
}

static int
test_dirty_close(void)
{
	return (closing(SRV_DIRTY));
}

/* A reset is never a clean end, and says so. */
static int
test_reset(void)
{
	return (closing(SRV_RESET));
}

/* Nothing listens: refused. */
static int
test_refused(void)
{
	struct fix		 fx;
	struct sockaddr_in	 sin;
	int			 ret = -1;

	CHECK(fix_start(&fx, ca_path, SRV_NONE, 0) == 0);
	CHECK(closed_port(&sin) == 0);
	CHECK(dial(fx.fx_base, fx.fx_tc, &sin, "upstream.test", NULL,
	    &fx.fx_cl) == 0);
	CHECK(fx.fx_cl.cl_bev == NULL);
	CHECK_STR(fx.fx_cl.cl_why, "connect: Connection refused");
	ret = 0;
end:
	fix_stop(&fx);
	return (ret);
}

/*
 * A listener whose accept queue is full drops our SYN: the connect
 * times out.  Skipped where the kernel does not (it cannot be filled).
 */
static int
test_connect_timeout(void)
{
	struct fix		 fx;
	struct sockaddr_in	 sin;
	struct timeval		 tv = { 0, 300000 };
	double			 t0;
	int			 fds[FULL_TRIES], l = -1, i, ret = -1;

	for (i = 0; i < FULL_TRIES; i++)
		fds[i] = -1;
	CHECK(fix_start(&fx, ca_path, SRV_NONE, 0) == 0);
	CHECK((l = mute_listener(&sin, 0)) != -1);
	if (fill_backlog(&sin, fds) == -1) {
		printf("skip  proxy_tls_up/connect timeout: backlog never "
		    "fills here\n");
		ret = 0;
		goto end;
	}
	t0 = unit_now();
	CHECK(dial(fx.fx_base, fx.fx_tc, &sin, "upstream.test", &tv,
	    &fx.fx_cl) == 0);
	CHECK(fx.fx_cl.cl_bev == NULL);
	CHECK_STR(fx.fx_cl.cl_why, "connect timeout");
	CHECK(unit_now() - t0 >= 0.29 && unit_now() - t0 < 3);
	ret = 0;
end:
	for (i = 0; i < FULL_TRIES; i++)
		if (fds[i] != -1)
			close(fds[i]);
	if (l != -1)
		close(l);
	fix_stop(&fx);
	return (ret);
}

/* The kernel accepts, nobody answers the ClientHello. */
static int
test_handshake_timeout(void)
{
	struct fix		 fx;
	struct sockaddr_in	 sin;
	struct timeval		 tv = { 0, 300000 };
	int			 l = -1, ret = -1;

	CHECK(fix_start(&fx, ca_path, SRV_NONE, 0) == 0);
	CHECK((l = mute_listener(&sin, 16)) != -1);
	CHECK(dial(fx.fx_base, fx.fx_tc, &sin, "upstream.test", &tv,
	    &fx.fx_cl) == 0);
	CHECK(fx.fx_cl.cl_bev == NULL);
	CHECK_STR(fx.fx_cl.cl_why, "TLS handshake timeout");
	ret = 0;
end:
	if (l != -1)
		close(l);
	fix_stop(&fx);
	return (ret);
}

/* The server ends its side at once, not a word of TLS. */
static void
hangup_acceptcb(struct evconnlistener *lst __unused, evutil_socket_t fd,
    struct sockaddr *sa __unused, int salen __unused, void *arg)
{
	int	*keep = arg;

	shutdown(fd, SHUT_WR);	/* a FIN, not a reset: close when done */
	if (*keep != -1)
		close(*keep);
	*keep = fd;
}

static int
test_handshake_eof(void)
{
	struct fix		 fx;
	struct evconnlistener	*lst = NULL;
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	int			 keep = -1, ret = -1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(fix_start(&fx, ca_path, SRV_NONE, 0) == 0);
	lst = evconnlistener_new_bind(fx.fx_base, hangup_acceptcb, &keep,
	    LEV_OPT_CLOSE_ON_FREE, 16, (struct sockaddr *)&sin, sizeof(sin));
	CHECK(lst != NULL);
	CHECK(getsockname(evconnlistener_get_fd(lst),
	    (struct sockaddr *)&sin, &len) == 0);
	CHECK(dial(fx.fx_base, fx.fx_tc, &sin, "upstream.test", NULL,
	    &fx.fx_cl) == 0);
	CHECK(fx.fx_cl.cl_bev == NULL);
#ifdef SSL_R_UNEXPECTED_EOF_WHILE_READING
	CHECK_STR(fx.fx_cl.cl_why,
	    "TLS handshake: unexpected eof while reading");
#else
	CHECK(strncmp(fx.fx_cl.cl_why, "TLS handshake: ", 15) == 0);
#endif
	ret = 0;
end:
	if (keep != -1)
		close(keep);
	if (lst != NULL)
		evconnlistener_free(lst);
	fix_stop(&fx);
	return (ret);
}

/* A mute listener and the connection taken from it. */
struct hello_wait {
	int			 hw_l;
	int			 hw_peer;
};

/* Nonzero until a connection from hw_l has bytes: our ClientHello. */
static int
hello_pending(void *arg)
{
	struct hello_wait	*hw = arg;
	ssize_t			 r;
	char			 c;

	if (hw->hw_peer == -1) {
		if ((hw->hw_peer = accept(hw->hw_l, NULL, NULL)) == -1)
			return (1);
		(void)fcntl(hw->hw_peer, F_SETFL, O_NONBLOCK);
	}
	if ((r = recv(hw->hw_peer, &c, 1, MSG_PEEK)) == 0) {
		close(hw->hw_peer);	/* one cancelled before: next */
		hw->hw_peer = -1;
	}
	return (r != 1);
}

/*
 * Cancel at once, and in the middle of the handshake (our ClientHello
 * has arrived, no answer came): no callback, no descriptor left once the
 * loop has turned (libevent closes a freed bufferevent's socket from the
 * loop), no leak (ASan, valgrind).  Then free a context while a connect
 * from it goes on.
 */
static int
test_cancel(void)
{
	struct fix		 fx;
	struct cli		*cl = &fx.fx_cl;
	struct proxy_tls_up	*tu;
	struct hello_wait	 hw = { -1, -1 };
	struct sockaddr_in	 sin;
	struct timeval		 tv = { 5, 0 };
	char			 buf[4096];
	int			 nfds, i, ret = -1;

	CHECK(fix_start(&fx, ca_path, SRV_ECHO, 0) == 0);
	CHECK((hw.hw_l = mute_listener(&sin, 16)) != -1);
	CHECK(fcntl(hw.hw_l, F_SETFL, O_NONBLOCK) == 0);
	nfds = unit_nfds();		/* -1 without /proc: not checked */

	tu = proxy_tls_up_connect(fx.fx_tc, fx.fx_base,
	    (struct sockaddr *)&sin, sizeof(sin), "upstream.test", &tv,
	    cli_donecb, cl);
	CHECK(tu != NULL);
	CHECK(nfds == -1 || unit_nfds() == nfds + 1);
	proxy_tls_up_cancel(tu);
	CHECK(nfds == -1 || unit_nfds() == nfds);

	tu = proxy_tls_up_connect(fx.fx_tc, fx.fx_base,
	    (struct sockaddr *)&sin, sizeof(sin), "upstream.test", &tv,
	    cli_donecb, cl);
	CHECK(tu != NULL);
	CHECK(unit_loop_until(fx.fx_base, hello_pending, &hw, WAIT) == 0);
	CHECK(nfds == -1 || unit_nfds() == nfds + 2);	/* ours, the peer */
	proxy_tls_up_cancel(tu);
	for (i = 0; i < 3; i++)
		event_base_loop(fx.fx_base, EVLOOP_NONBLOCK);
	CHECK(nfds == -1 || unit_nfds() == nfds + 1);
	/* The ClientHello, then EOF: closed, not reset, nothing else. */
	CHECK(read(hw.hw_peer, buf, sizeof(buf)) > 0);
	CHECK_INT(read(hw.hw_peer, buf, sizeof(buf)), 0);
	CHECK_INT(cl->cl_calls, 0);

	tu = proxy_tls_up_connect(fx.fx_tc, fx.fx_base,
	    (struct sockaddr *)&fx.fx_sv.sv_sin, sizeof(fx.fx_sv.sv_sin),
	    "upstream.test", &tv, cli_donecb, cl);
	CHECK(tu != NULL);
	proxy_tls_up_ctx_free(fx.fx_tc);	/* each SSL holds the SSL_CTX */
	fx.fx_tc = NULL;
	CHECK(unit_loop_until(fx.fx_base, cli_pending, cl, WAIT) == 0);
	CHECK_INT(cl->cl_calls, 1);
	CHECK_STR(cl->cl_why, "");
	CHECK(cl->cl_bev != NULL);
	ret = 0;
end:
	if (hw.hw_peer != -1)
		close(hw.hw_peer);
	if (hw.hw_l != -1)
		close(hw.hw_l);
	fix_stop(&fx);
	return (ret);
}

/*
 * Names that cannot be sent are refused before anything starts; a
 * connect(2) that fails at once is still reported from the loop.
 */
static int
test_bad_host(void)
{
	struct fix		 fx;
	struct sockaddr_in	 sin;
	char			 host[PROXY_TLS_UP_HOST_MAX + 2];
	int			 ret = -1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(fix_start(&fx, NULL, SRV_NONE, 0) == 0);
	errno = 0;
	CHECK(proxy_tls_up_connect(fx.fx_tc, fx.fx_base,
	    (struct sockaddr *)&sin, sizeof(sin), "", NULL, cli_donecb,
	    &fx.fx_cl) == NULL);
	CHECK_INT(errno, EINVAL);
	memset(host, 'a', sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	CHECK(proxy_tls_up_connect(fx.fx_tc, fx.fx_base,
	    (struct sockaddr *)&sin, sizeof(sin), host, NULL, cli_donecb,
	    &fx.fx_cl) == NULL);
	CHECK_INT(fx.fx_cl.cl_calls, 0);

	CHECK(proxy_tls_up_connect(fx.fx_tc, fx.fx_base,
	    (struct sockaddr *)&sin, sizeof(sin) - 1, "upstream.test", NULL,
	    cli_donecb, &fx.fx_cl) != NULL);
	CHECK_INT(fx.fx_cl.cl_calls, 0);
	CHECK(unit_loop_until(fx.fx_base, cli_pending, &fx.fx_cl, WAIT) == 0);
	CHECK_INT(fx.fx_cl.cl_calls, 1);
	CHECK_STR(fx.fx_cl.cl_why, "connect: Invalid argument");
	ret = 0;
end:
	fix_stop(&fx);
	return (ret);
}

static const struct unit_test tests[] = {
	{ "ctx", test_ctx },
	{ "name", test_name },
	{ "address", test_address },
	{ "tls12", test_tls12 },
	{ "untrusted", test_untrusted },
	{ "wrong name", test_wrong_name },
	{ "wrong address", test_wrong_address },
	{ "tls11", test_tls11 },
	{ "clean close", test_clean_close },
	{ "dirty close", test_dirty_close },
	{ "reset", test_reset },
	{ "refused", test_refused },
	{ "connect timeout", test_connect_timeout },
	{ "handshake timeout", test_handshake_timeout },
	{ "handshake eof", test_handshake_eof },
	{ "cancel", test_cancel },
	{ "bad host", test_bad_host },
};

UNIT_MAIN("proxy_tls_up", tests)
