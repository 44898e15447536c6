/*
 * test_proxy_tls.c: reading the server name from a TLS ClientHello: a
 * real one from openssl s_client, hellos built here with and without
 * server_name, split over records and cut at every length, and bytes
 * that are not TLS.
 */

#include <sys/types.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "sbxd.h"
#include "proxy.h"
#include "unit.h"

/* openssl s_client -servername Example.COM, TLS 1.3. */
static const uint8_t openssl_hello[] = {
	0x16, 0x03, 0x01, 0x01, 0x38, 0x01, 0x00, 0x01, 0x34, 0x03, 0x03, 0xb6,
	0x30, 0xfb, 0xb5, 0x7f, 0x5d, 0x08, 0xd1, 0x67, 0x2a, 0x95, 0xcb, 0xeb,
	0xe9, 0x7f, 0x54, 0x87, 0x8b, 0x96, 0xa8, 0x60, 0x07, 0x74, 0xf7, 0x32,
	0xe7, 0xd8, 0x8f, 0x0d, 0xa9, 0xf5, 0x92, 0x20, 0xc0, 0x93, 0xa0, 0x99,
	0x97, 0xbf, 0x36, 0x21, 0x72, 0xc5, 0xd9, 0xe9, 0x7c, 0xfc, 0xec, 0x99,
	0x49, 0xf0, 0x5d, 0x09, 0x9a, 0xf7, 0xbe, 0x93, 0x05, 0xc7, 0xb8, 0xc8,
	0x6a, 0x38, 0xd8, 0x05, 0x00, 0x3e, 0x13, 0x02, 0x13, 0x03, 0x13, 0x01,
	0xc0, 0x2c, 0xc0, 0x30, 0x00, 0x9f, 0xcc, 0xa9, 0xcc, 0xa8, 0xcc, 0xaa,
	0xc0, 0x2b, 0xc0, 0x2f, 0x00, 0x9e, 0xc0, 0x24, 0xc0, 0x28, 0x00, 0x6b,
	0xc0, 0x23, 0xc0, 0x27, 0x00, 0x67, 0xc0, 0x0a, 0xc0, 0x14, 0x00, 0x39,
	0xc0, 0x09, 0xc0, 0x13, 0x00, 0x33, 0x00, 0x9d, 0x00, 0x9c, 0x00, 0x3d,
	0x00, 0x3c, 0x00, 0x35, 0x00, 0x2f, 0x00, 0xff, 0x01, 0x00, 0x00, 0xad,
	0x00, 0x00, 0x00, 0x10, 0x00, 0x0e, 0x00, 0x00, 0x0b, 0x45, 0x78, 0x61,
	0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x43, 0x4f, 0x4d, 0x00, 0x0b, 0x00, 0x04,
	0x03, 0x00, 0x01, 0x02, 0x00, 0x0a, 0x00, 0x16, 0x00, 0x14, 0x00, 0x1d,
	0x00, 0x17, 0x00, 0x1e, 0x00, 0x19, 0x00, 0x18, 0x01, 0x00, 0x01, 0x01,
	0x01, 0x02, 0x01, 0x03, 0x01, 0x04, 0x00, 0x23, 0x00, 0x00, 0x00, 0x16,
	0x00, 0x00, 0x00, 0x17, 0x00, 0x00, 0x00, 0x0d, 0x00, 0x2a, 0x00, 0x28,
	0x04, 0x03, 0x05, 0x03, 0x06, 0x03, 0x08, 0x07, 0x08, 0x08, 0x08, 0x09,
	0x08, 0x0a, 0x08, 0x0b, 0x08, 0x04, 0x08, 0x05, 0x08, 0x06, 0x04, 0x01,
	0x05, 0x01, 0x06, 0x01, 0x03, 0x03, 0x03, 0x01, 0x03, 0x02, 0x04, 0x02,
	0x05, 0x02, 0x06, 0x02, 0x00, 0x2b, 0x00, 0x09, 0x08, 0x03, 0x04, 0x03,
	0x03, 0x03, 0x02, 0x03, 0x01, 0x00, 0x2d, 0x00, 0x02, 0x01, 0x01, 0x00,
	0x33, 0x00, 0x26, 0x00, 0x24, 0x00, 0x1d, 0x00, 0x20, 0x1a, 0xce, 0x4d,
	0x36, 0xd7, 0xe8, 0xf7, 0x7a, 0x1c, 0x02, 0xfc, 0xad, 0x93, 0x3d, 0x25,
	0xdd, 0x50, 0x0a, 0x78, 0xc5, 0xfd, 0xee, 0x25, 0xec, 0xc7, 0x9a, 0x3a,
	0x6e, 0xb8, 0x1b, 0xd8, 0x5c,
};

struct hello {
	uint8_t	 b[PROXY_TLS_HELLO_MAX];
	size_t	 len;
};

static void
put(struct hello *h, const void *p, size_t n)
{
	memcpy(h->b + h->len, p, n);
	h->len += n;
}

static void
put16(struct hello *h, size_t v)
{
	uint8_t	 b[2] = { v >> 8, v & 0xff };

	put(h, b, 2);
}

/*
 * A ClientHello handshake message (without record header) with the
 * given server_name entries (NULL: no extension) and an extra
 * extension before it.
 */
static void
build_msg(struct hello *m, const char *name, int twice)
{
	struct hello	 ext = { .len = 0 };
	uint8_t		 rnd[32] = { 0 }, body_hdr[4];
	size_t		 i, n = name != NULL ? strlen(name) : 0;
	struct hello	 body = { .len = 0 };

	put16(&ext, 0x000a);			/* supported_groups */
	put16(&ext, 4);
	put16(&ext, 2);
	put16(&ext, 0x001d);
	for (i = 0; name != NULL && i < (size_t)(twice ? 2 : 1); i++) {
		put16(&ext, 0);			/* server_name */
		put16(&ext, n + 5);
		put16(&ext, n + 3);
		put(&ext, "\0", 1);
		put16(&ext, n);
		put(&ext, name, n);
	}
	put16(&body, 0x0303);
	put(&body, rnd, sizeof(rnd));
	put(&body, "\0", 1);			/* session id */
	put16(&body, 2);
	put16(&body, 0x1301);
	put(&body, "\1\0", 2);			/* compression */
	put16(&body, ext.len);
	put(&body, ext.b, ext.len);
	body_hdr[0] = 1;
	body_hdr[1] = body.len >> 16;
	body_hdr[2] = body.len >> 8;
	body_hdr[3] = body.len;
	m->len = 0;
	put(m, body_hdr, 4);
	put(m, body.b, body.len);
}

/* Wrap msg in records of at most chunk bytes each. */
static void
build_records(struct hello *out, const struct hello *msg, size_t chunk)
{
	size_t	 off, n;
	uint8_t	 hdr[5] = { 22, 3, 1, 0, 0 };

	out->len = 0;
	for (off = 0; off < msg->len; off += n) {
		n = msg->len - off < chunk ? msg->len - off : chunk;
		hdr[3] = n >> 8;
		hdr[4] = n;
		put(out, hdr, 5);
		put(out, msg->b + off, n);
	}
}

/* Parse an exactly-sized copy, so ASan sees any overread. */
static int
sni(const uint8_t *b, size_t len, char *name, size_t namelen)
{
	const char	*why;
	uint8_t		*copy;
	int		 r;

	if ((copy = malloc(len > 0 ? len : 1)) == NULL)
		return (-1);
	memcpy(copy, b, len);
	r = proxy_tls_sni(copy, len, name, namelen, &why);
	free(copy);
	return (r);
}

static int
test_openssl(void)
{
	char	 name[256];
	size_t	 i;
	int	 ret = -1;

	CHECK_INT(sni(openssl_hello, sizeof(openssl_hello), name,
	    sizeof(name)), PROXY_TLS_SNI);
	CHECK_STR(name, "Example.COM");
	for (i = 0; i < sizeof(openssl_hello); i++)
		CHECK_INT(sni(openssl_hello, i, name, sizeof(name)),
		    PROXY_TLS_MORE);
	ret = 0;
end:
	return (ret);
}

/* Whatever the record boundaries, the name is found once all is in. */
static int
test_split_records(void)
{
	struct hello	 msg, rec;
	char		 name[256];
	size_t		 chunk, cut;
	int		 ret = -1;

	build_msg(&msg, "api.github.com", 0);
	for (chunk = 1; chunk <= msg.len; chunk += chunk < 8 ? 1 : 17) {
		build_records(&rec, &msg, chunk);
		CHECK_INT(sni(rec.b, rec.len, name, sizeof(name)),
		    PROXY_TLS_SNI);
		CHECK_STR(name, "api.github.com");
		for (cut = 0; cut < rec.len; cut++)
			CHECK_INT(sni(rec.b, cut, name, sizeof(name)),
			    PROXY_TLS_MORE);
	}
	ret = 0;
end:
	return (ret);
}

static int
test_no_sni(void)
{
	struct hello	 msg, rec;
	char		 name[256];
	int		 ret = -1;

	build_msg(&msg, NULL, 0);
	build_records(&rec, &msg, 16384);
	CHECK_INT(sni(rec.b, rec.len, name, sizeof(name)), PROXY_TLS_NO_SNI);
	CHECK_STR(name, "");
	ret = 0;
end:
	return (ret);
}

static int
test_bad(void)
{
	struct hello	 msg, rec;
	char		 name[256];
	size_t		 i;
	int		 ret = -1;
	const char	*plain[] = { "GET / HTTP/1.1\r\n", "SSH-2.0-OpenSSH",
			    "\x16\x02", "\x17\x03\x03\x00\x10" };

	for (i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
		CHECK_INT(sni((const uint8_t *)plain[i], strlen(plain[i]),
		    name, sizeof(name)), PROXY_TLS_BAD);
	/* A first byte that is not a handshake record is enough. */
	CHECK_INT(sni((const uint8_t *)"G", 1, name, sizeof(name)),
	    PROXY_TLS_BAD);
	/* Two server_name extensions. */
	build_msg(&msg, "a.example", 1);
	build_records(&rec, &msg, 16384);
	CHECK_INT(sni(rec.b, rec.len, name, sizeof(name)), PROXY_TLS_BAD);
	/* A name with a NUL or a space in it. */
	build_msg(&msg, "evil.com\001good.com", 0);
	build_records(&rec, &msg, 16384);
	CHECK_INT(sni(rec.b, rec.len, name, sizeof(name)), PROXY_TLS_BAD);
	/* A name longer than the caller's buffer. */
	build_msg(&msg, "a.example", 0);
	build_records(&rec, &msg, 16384);
	CHECK_INT(sni(rec.b, rec.len, name, 5), PROXY_TLS_BAD);
	/* A handshake message that is not a ClientHello. */
	rec.b[5] = 2;
	CHECK_INT(sni(rec.b, rec.len, name, sizeof(name)), PROXY_TLS_BAD);
	/* Every corruption of one length byte fails cleanly or asks more. */
	build_msg(&msg, "a.example", 0);
	build_records(&rec, &msg, 16384);
	for (i = 0; i < rec.len; i++) {
		rec.b[i] ^= 0x5a;
		(void)sni(rec.b, rec.len, name, sizeof(name));
		rec.b[i] ^= 0x5a;
	}
	ret = 0;
end:
	return (ret);
}

static const struct unit_test tests[] = {
	{ "openssl", test_openssl },
	{ "split_records", test_split_records },
	{ "no_sni", test_no_sni },
	{ "bad", test_bad },
};

UNIT_MAIN("proxy_tls", tests)
