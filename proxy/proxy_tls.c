/*
 * proxy_tls.c: read the server name a TLS client asks for, without
 * consuming anything.  On a CONNECT to port 443 the proxy peeks at the
 * client's first bytes: they must be a TLS ClientHello (possibly spread
 * over several records), and its server_name, if any, must name the host
 * the client was allowed to connect to.  Pure parsing, no I/O.
 */

#include <sys/types.h>

#include <stdint.h>
#include <string.h>

#include "config.h"
#include "sbxd.h"
#include "proxy.h"

#define TLS_RECORD_HANDSHAKE	22
#define TLS_RECORD_HDR		5
#define TLS_RECORD_MAX		(16384 + 2048)	/* RFC 8446 5.2 */
#define TLS_HS_CLIENT_HELLO	1
#define TLS_EXT_SERVER_NAME	0
#define TLS_SNI_HOST_NAME	0

/* A cursor over the handshake message being read. */
struct tls_cur {
	const uint8_t	*p;
	size_t		 left;
};

static int	tls_reassemble(const uint8_t *, size_t, uint8_t *, size_t *,
		    const char **);
static int	tls_hello(const uint8_t *, size_t, char *, size_t,
		    const char **);
static int	tls_extensions(struct tls_cur *, char *, size_t,
		    const char **);
static int	tls_server_name(struct tls_cur *, char *, size_t,
		    const char **);
static int	tls_skip(struct tls_cur *, size_t);
static int	tls_u8(struct tls_cur *, size_t *);
static int	tls_u16(struct tls_cur *, size_t *);

/*
 * Look at the first len bytes a client sent.  Returns PROXY_TLS_MORE when
 * the ClientHello is not complete yet, PROXY_TLS_SNI with the name in sni,
 * PROXY_TLS_NO_SNI for a ClientHello without one, or PROXY_TLS_BAD with
 * *why set when the bytes are not a well-formed ClientHello.
 */
int
proxy_tls_sni(const uint8_t *buf, size_t len, char *sni, size_t snilen,
    const char **why)
{
	uint8_t	 hello[PROXY_TLS_HELLO_MAX];
	size_t	 hlen = 0;
	int	 r;

	*sni = '\0';
	r = tls_reassemble(buf, len, hello, &hlen, why);
	if (r != PROXY_TLS_SNI)
		return (r);
	return (tls_hello(hello, hlen, sni, snilen, why));
}

/*
 * Join the payloads of the leading handshake records until they hold
 * one whole handshake message; check each record header on the way.
 */
static int
tls_reassemble(const uint8_t *buf, size_t len, uint8_t *out, size_t *outlen,
    const char **why)
{
	size_t	 rlen, need = 0, off = 0;

	for (;;) {
		if (len - off >= 1 && buf[off] != TLS_RECORD_HANDSHAKE) {
			*why = "not a TLS handshake record";
			return (PROXY_TLS_BAD);
		}
		if (len - off >= 2 && buf[off + 1] != 3) {
			*why = "not a TLS record version";
			return (PROXY_TLS_BAD);
		}
		if (len - off < TLS_RECORD_HDR)
			return (PROXY_TLS_MORE);
		rlen = (size_t)buf[off + 3] << 8 | buf[off + 4];
		if (rlen == 0 || rlen > TLS_RECORD_MAX) {
			*why = "bad TLS record length";
			return (PROXY_TLS_BAD);
		}
		if (len - off - TLS_RECORD_HDR < rlen)
			return (PROXY_TLS_MORE);
		if (*outlen + rlen > PROXY_TLS_HELLO_MAX) {
			*why = "ClientHello too large";
			return (PROXY_TLS_BAD);
		}
		memcpy(out + *outlen, buf + off + TLS_RECORD_HDR, rlen);
		*outlen += rlen;
		off += TLS_RECORD_HDR + rlen;
		if (*outlen < 4)
			continue;
		if (out[0] != TLS_HS_CLIENT_HELLO) {
			*why = "first handshake message is not a ClientHello";
			return (PROXY_TLS_BAD);
		}
		need = 4 + ((size_t)out[1] << 16 | (size_t)out[2] << 8 | out[3]);
		if (need > PROXY_TLS_HELLO_MAX) {
			*why = "ClientHello too large";
			return (PROXY_TLS_BAD);
		}
		if (*outlen >= need) {
			*outlen = need;
			return (PROXY_TLS_SNI);
		}
	}
}

/* The ClientHello body: skip to the extensions and read server_name. */
static int
tls_hello(const uint8_t *msg, size_t len, char *sni, size_t snilen,
    const char **why)
{
	struct tls_cur	 c = { msg + 4, len - 4 };
	size_t		 n;

	*why = "malformed ClientHello";
	if (tls_skip(&c, 2 + 32) == -1 ||		/* version, random */
	    tls_u8(&c, &n) == -1 || n > 32 || tls_skip(&c, n) == -1 ||
	    tls_u16(&c, &n) == -1 || n < 2 || n % 2 != 0 ||
	    tls_skip(&c, n) == -1 ||			/* cipher suites */
	    tls_u8(&c, &n) == -1 || n < 1 || tls_skip(&c, n) == -1)
		return (PROXY_TLS_BAD);
	if (c.left == 0)
		return (PROXY_TLS_NO_SNI);		/* no extensions */
	return (tls_extensions(&c, sni, snilen, why));
}

static int
tls_extensions(struct tls_cur *c, char *sni, size_t snilen,
    const char **why)
{
	struct tls_cur	 ext;
	size_t		 total, type, n;
	int		 r = PROXY_TLS_NO_SNI;

	if (tls_u16(c, &total) == -1 || total != c->left)
		return (PROXY_TLS_BAD);
	while (c->left > 0) {
		if (tls_u16(c, &type) == -1 || tls_u16(c, &n) == -1 ||
		    n > c->left)
			return (PROXY_TLS_BAD);
		ext.p = c->p;
		ext.left = n;
		tls_skip(c, n);
		if (type != TLS_EXT_SERVER_NAME)
			continue;
		if (r == PROXY_TLS_SNI) {
			*why = "two server_name extensions";
			return (PROXY_TLS_BAD);
		}
		if ((r = tls_server_name(&ext, sni, snilen, why)) ==
		    PROXY_TLS_BAD)
			return (r);
	}
	return (r);
}

/* server_name: exactly one host_name entry, printable, no NUL. */
static int
tls_server_name(struct tls_cur *c, char *sni, size_t snilen,
    const char **why)
{
	size_t	 list, type, n, i;

	if (tls_u16(c, &list) == -1 || list != c->left || list == 0 ||
	    tls_u8(c, &type) == -1 || type != TLS_SNI_HOST_NAME ||
	    tls_u16(c, &n) == -1 || n == 0 || n != c->left) {
		*why = "malformed server_name extension";
		return (PROXY_TLS_BAD);
	}
	if (n >= snilen) {
		*why = "server_name too long";
		return (PROXY_TLS_BAD);
	}
	for (i = 0; i < n; i++) {
		if (c->p[i] <= 0x20 || c->p[i] >= 0x7f) {
			*why = "server_name holds a byte that is not a "
			    "visible ASCII character";
			return (PROXY_TLS_BAD);
		}
	}
	memcpy(sni, c->p, n);
	sni[n] = '\0';
	return (PROXY_TLS_SNI);
}

static int
tls_skip(struct tls_cur *c, size_t n)
{
	if (n > c->left)
		return (-1);
	c->p += n;
	c->left -= n;
	return (0);
}

static int
tls_u8(struct tls_cur *c, size_t *v)
{
	if (c->left < 1)
		return (-1);
	*v = c->p[0];
	return (tls_skip(c, 1));
}

static int
tls_u16(struct tls_cur *c, size_t *v)
{
	if (c->left < 2)
		return (-1);
	*v = (size_t)c->p[0] << 8 | c->p[1];
	return (tls_skip(c, 2));
}
