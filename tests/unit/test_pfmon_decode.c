/*
 * test_pfmon_decode.c: unit tests for pfmon_decode.c.  The records are
 * assembled here: pflog headers of each layout in either byte order,
 * NFLOG records from a list of TLVs, IPv4 and IPv6 packets with options,
 * extension headers and fragments.  Every record that decodes is also
 * decoded at every shorter caplen, from a copy in a buffer of exactly
 * that size so that ASan reports any read past caplen.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config.h"
#include "pfmon.h"
#include "unit.h"

#define TB_MAX		4096
#define T_SWAP32(x)	(((x) >> 24) | (((x) >> 8) & 0xff00) | \
			    (((x) << 8) & 0xff0000) | ((x) << 24))
#define T_SRC4		"10.0.0.5"
#define T_DST4		"93.184.216.34"
#define T_SRC6		"2001:db8:5b::5"
#define T_DST6		"2606:4700:4700::1111"
#define NFULA_PACKET_HDR 1
#define NFULA_MARK	2
#define NFULA_TIMESTAMP	3
#define NFULA_INDEV	4
#define NFULA_OUTDEV	5
#define NFULA_PAYLOAD	9
#define NFULA_PREFIX	10
#define NFULA_UID	11
#define NFULA_GID	14
#define NFULA_CT	18

struct tbuf {
	u_char		 tb_data[TB_MAX];
	size_t		 tb_len;
};

/* A pflog header to build; t_pflog_init gives the defaults. */
struct t_pflog {
	int		 tp_layout;
	int		 tp_swapped;
	uint8_t		 tp_af;
	uint8_t		 tp_action;
	uint8_t		 tp_reason;
	uint8_t		 tp_dir;
	uint32_t	 tp_uid;
	const char	*tp_ruleset;	/* copied as strlcpy would */
	int		 tp_raw;	/* ruleset: all 16 bytes, no NUL */
};

static void	tb_put(struct tbuf *, const void *, size_t);
static void	tb_he16(struct tbuf *, uint16_t, int);
static void	t_he32(u_char *, uint32_t, int);
static void	t_set16(struct tbuf *, size_t, uint16_t);
static void	t_ip4(struct tbuf *, uint8_t, size_t, uint16_t, const u_char *,
		    size_t);
static void	t_ip6(struct tbuf *, uint8_t, const u_char *, size_t);
static void	t_tcp4(struct tbuf *);
static void	t_udp6(struct tbuf *);
static void	t_pflog_init(struct t_pflog *, int, int, uint8_t);
static void	t_pflog(struct tbuf *, const struct t_pflog *,
		    const struct tbuf *);
static void	t_nflog(struct tbuf *, uint8_t);
static void	t_tlv(struct tbuf *, uint16_t, const void *, size_t, int);
static void	t_tlv32(struct tbuf *, uint16_t, uint32_t, int);
static int	t_decode(int, const struct tbuf *, size_t, int,
		    struct pfmon_record *, char *);
static int	t_ok(int, const struct tbuf *, int, struct pfmon_record *);
static int	t_truncations(int, const struct tbuf *, int,
		    const struct pfmon_record *);
static int	t_fails(int, const struct tbuf *, int, const char *);
static int	t_json(const struct pfmon_record *, const char *);
static int	t_addr(const struct pfmon_record *, const char *,
		    const char *);
static void	t_nflog_full(struct tbuf *, const struct tbuf *, int);
static int	t_anchor(int, const char *, int, int64_t);
static int	t_pflog_layout(int, int, uint8_t);

static void
tb_put(struct tbuf *b, const void *p, size_t n)
{
	if (b->tb_len + n > sizeof(b->tb_data))
		abort();
	memcpy(b->tb_data + b->tb_len, p, n);
	b->tb_len += n;
}

/* A host-order field, as a host of the other byte order if swapped. */
static void
tb_he16(struct tbuf *b, uint16_t v, int swapped)
{
	if (swapped)
		v = (uint16_t)(v >> 8 | v << 8);
	tb_put(b, &v, sizeof(v));
}

static void
t_he32(u_char *p, uint32_t v, int swapped)
{
	if (swapped)
		v = T_SWAP32(v);
	memcpy(p, &v, sizeof(v));
}

/* Overwrite a host-order 16-bit field of b. */
static void
t_set16(struct tbuf *b, size_t off, uint16_t v)
{
	memcpy(b->tb_data + off, &v, sizeof(v));
}

/* IPv4 from T_SRC4 to T_DST4 with optlen bytes of options. */
static void
t_ip4(struct tbuf *b, uint8_t proto, size_t optlen, uint16_t frag,
    const u_char *l4, size_t l4len)
{
	u_char	 h[60];
	size_t	 hl = 20 + optlen;

	memset(h, 0, sizeof(h));
	h[0] = 0x40 | (u_char)(hl / 4);
	h[2] = (hl + l4len) >> 8;
	h[3] = (hl + l4len) & 0xff;
	h[6] = frag >> 8;
	h[7] = frag & 0xff;
	h[8] = 64;
	h[9] = proto;
	inet_pton(AF_INET, T_SRC4, h + 12);
	inet_pton(AF_INET, T_DST4, h + 16);
	memset(h + 20, 1, optlen);		/* NOPs, then EOL */
	if (optlen > 0)
		h[hl - 1] = 0;
	tb_put(b, h, hl);
	tb_put(b, l4, l4len);
}

/* IPv6 from T_SRC6 to T_DST6; pl holds any extension headers. */
static void
t_ip6(struct tbuf *b, uint8_t nxt, const u_char *pl, size_t plen)
{
	u_char	 h[40];

	memset(h, 0, sizeof(h));
	h[0] = 0x60;
	h[4] = plen >> 8;
	h[5] = plen & 0xff;
	h[6] = nxt;
	h[7] = 64;
	inet_pton(AF_INET6, T_SRC6, h + 8);
	inet_pton(AF_INET6, T_DST6, h + 24);
	tb_put(b, h, sizeof(h));
	tb_put(b, pl, plen);
}

/* A TCP SYN 51234 -> 443 and a UDP datagram 53001 -> 53. */
static void
t_tcp4(struct tbuf *b)
{
	u_char	 t[20] = { 0xc8, 0x22, 0x01, 0xbb, 0, 0, 0, 1, 0, 0, 0, 0,
	    0x50, 0x02, 0xff, 0xff };

	t_ip4(b, IPPROTO_TCP, 0, 0x4000, t, sizeof(t));
}

static void
t_udp6(struct tbuf *b)
{
	u_char	 u[12] = { 0xcf, 0x09, 0x00, 0x35, 0, 12, 0, 0, 'a', 'b' };

	t_ip6(b, IPPROTO_UDP, u, sizeof(u));
}

static void
t_pflog_init(struct t_pflog *tp, int layout, int swapped, uint8_t af)
{
	memset(tp, 0, sizeof(*tp));
	tp->tp_layout = layout;
	tp->tp_swapped = swapped;
	tp->tp_af = af;
	tp->tp_action = 1;
	tp->tp_dir = 2;
	tp->tp_uid = 501;
	tp->tp_ruleset = "";
}

static void
t_pflog(struct tbuf *b, const struct t_pflog *tp, const struct tbuf *ip)
{
	u_char	 h[100];
	size_t	 n;

	memset(h, 0, sizeof(h));
	h[0] = tp->tp_layout;
	h[1] = tp->tp_af;
	h[2] = tp->tp_action;
	h[3] = tp->tp_reason;
	memcpy(h + 4, "utun3", 5);
	n = strlen(tp->tp_ruleset);
	memcpy(h + 20, tp->tp_ruleset, tp->tp_raw ? 16 : n > 15 ? 15 : n);
	memcpy(h + 36, "\x00\x00\x00\x07\x00\x00\x00\x01", 8); /* rule 7.1 */
	t_he32(h + 44, tp->tp_uid, tp->tp_swapped);
	t_he32(h + 48, 4242, tp->tp_swapped);
	t_he32(h + 52, 0xffffffff, tp->tp_swapped);
	t_he32(h + 56, 0xfffffffe, tp->tp_swapped);
	h[60] = tp->tp_dir;
	if (tp->tp_layout == 100)
		h[62] = tp->tp_af;		/* naf */
	b->tb_len = 0;
	tb_put(b, h, (tp->tp_layout + 3) & ~3);
	tb_put(b, ip->tb_data, ip->tb_len);
}

/* An NFLOG header for family, resource id 5. */
static void
t_nflog(struct tbuf *b, uint8_t family)
{
	u_char	 h[4] = { family, 0, 0, 5 };

	b->tb_len = 0;
	tb_put(b, h, sizeof(h));
}

static void
t_tlv(struct tbuf *b, uint16_t type, const void *v, size_t n, int swapped)
{
	static const u_char	 pad[3];

	tb_he16(b, (uint16_t)(4 + n), swapped);
	tb_he16(b, type, swapped);
	tb_put(b, v, n);
	tb_put(b, pad, (4 - n % 4) % 4);
}

static void
t_tlv32(struct tbuf *b, uint16_t type, uint32_t v, int swapped)
{
	u_char	 p[4] = { v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff,
	    v & 0xff };

	t_tlv(b, type, p, sizeof(p), swapped);
}

/* Decode b's first caplen bytes from a buffer of exactly that size. */
static int
t_decode(int lt, const struct tbuf *b, size_t caplen, int swapped,
    struct pfmon_record *pr, char *err)
{
	u_char	*p;
	int	 r;

	if ((p = malloc(caplen)) == NULL && caplen > 0)
		abort();
	if (caplen > 0)
		memcpy(p, b->tb_data, caplen);
	r = pfmon_decode(lt, p, caplen, swapped, pr, err, PFMON_ERR_MAX);
	free(p);
	return (r);
}

/* b decodes, and so does or fails cleanly every prefix of it. */
static int
t_ok(int lt, const struct tbuf *b, int swapped, struct pfmon_record *pr)
{
	char	 err[PFMON_ERR_MAX];

	if (t_decode(lt, b, b->tb_len, swapped, pr, err) == -1) {
		unit_fail(__FILE__, __LINE__, "decode: %s", err);
		return (-1);
	}
	CHECK_STR(err, "");
	CHECK_INT(pr->pr_linktype, lt);
	return (t_truncations(lt, b, swapped, pr));
end:
	return (-1);
}

static int
t_truncations(int lt, const struct tbuf *b, int swapped,
    const struct pfmon_record *full)
{
	struct pfmon_record	 pr;
	json_t			*o = NULL;
	char			 err[PFMON_ERR_MAX];
	size_t			 n;

	for (n = 0; n < b->tb_len; n++) {
		memset(err, 'x', sizeof(err));
		if (t_decode(lt, b, n, swapped, &pr, err) == -1) {
			CHECK(err[0] != '\0' && strlen(err) < sizeof(err));
			continue;
		}
		CHECK_STR(err, "");
		CHECK_INT(pr.pr_family, full->pr_family);
		CHECK_INT(pr.pr_has_uid, full->pr_has_uid);
		CHECK_INT(pr.pr_uid, full->pr_uid);
		CHECK(memcmp(&pr.pr_src, &full->pr_src,
		    sizeof(pr.pr_src)) == 0);
		CHECK(memcmp(&pr.pr_dst, &full->pr_dst,
		    sizeof(pr.pr_dst)) == 0);
		CHECK_INT(pr.pr_len, full->pr_len);
		CHECK(pr.pr_caplen <= full->pr_caplen);
		CHECK(!pr.pr_has_ports || (full->pr_has_ports &&
		    pr.pr_sport == full->pr_sport &&
		    pr.pr_dport == full->pr_dport));
		CHECK(!pr.pr_has_icmp || full->pr_has_icmp);
		CHECK((o = pfmon_record_json(&pr)) != NULL);
		json_decref(o);
		o = NULL;
	}
	return (0);
end:
	unit_fail(__FILE__, __LINE__, "at caplen %zu of %zu", n, b->tb_len);
	json_decref(o);
	return (-1);
}

/* b fails with exactly want. */
static int
t_fails(int lt, const struct tbuf *b, int swapped, const char *want)
{
	struct pfmon_record	 pr;
	char			 err[PFMON_ERR_MAX];

	CHECK_INT(t_decode(lt, b, b->tb_len, swapped, &pr, err), -1);
	CHECK_STR(err, want);
	return (0);
end:
	return (-1);
}

/* pr prints as want. */
static int
t_json(const struct pfmon_record *pr, const char *want)
{
	json_t	*o;
	char	*s = NULL;
	int	 r = -1;

	CHECK((o = pfmon_record_json(pr)) != NULL);
	CHECK((s = json_dumps(o, JSON_COMPACT)) != NULL);
	CHECK_STR(s, want);
	r = 0;
end:
	free(s);
	json_decref(o);
	return (r);
}

/* pr's addresses read as src and dst. */
static int
t_addr(const struct pfmon_record *pr, const char *src, const char *dst)
{
	char	 s[INET6_ADDRSTRLEN];

	CHECK(inet_ntop(pr->pr_family, &pr->pr_src, s, sizeof(s)) != NULL);
	CHECK_STR(s, src);
	CHECK(inet_ntop(pr->pr_family, &pr->pr_dst, s, sizeof(s)) != NULL);
	CHECK_STR(s, dst);
	return (0);
end:
	return (-1);
}

static int
t_pflog_layout(int layout, int swapped, uint8_t af)
{
	struct t_pflog		 tp;
	struct pfmon_record	 pr;
	struct tbuf		 ip, b;

	ip.tb_len = 0;
	if (af == 2)
		t_tcp4(&ip);
	else
		t_udp6(&ip);
	t_pflog_init(&tp, layout, swapped, af);
	tp.tp_ruleset = "sbx/uid_9";	/* the record's uid wins */
	t_pflog(&b, &tp, &ip);
	if (t_ok(PFMON_DLT_PFLOG, &b, swapped, &pr) == -1)
		goto end;
	CHECK_INT(pr.pr_hdrlen, layout);
	CHECK_INT(pr.pr_has_uid, 1);
	CHECK_INT(pr.pr_uid, 501);
	CHECK_INT(pr.pr_uid_from_anchor, 0);
	CHECK_INT(pr.pr_pid, 4242);
	CHECK_INT(pr.pr_rule_uid, 0xffffffff);
	CHECK_INT(pr.pr_rule_pid, -2);
	CHECK_INT(pr.pr_rulenr, 7);
	CHECK_INT(pr.pr_subrulenr, 1);
	CHECK(pr.pr_action == 1 && pr.pr_dir == 2);
	CHECK_STR(pr.pr_ifname, "utun3");
	CHECK_STR(pr.pr_ruleset, "sbx/uid_9");
	CHECK_INT(pr.pr_family, af == 2 ? AF_INET : AF_INET6);
	CHECK_INT(pr.pr_proto, af == 2 ? IPPROTO_TCP : IPPROTO_UDP);
	CHECK_INT(pr.pr_has_ports, 1);
	CHECK_INT(pr.pr_sport, af == 2 ? 51234 : 53001);
	CHECK_INT(pr.pr_dport, af == 2 ? 443 : 53);
	CHECK(pr.pr_len == ip.tb_len && pr.pr_caplen == ip.tb_len);
	if (t_addr(&pr, af == 2 ? T_SRC4 : T_SRC6,
	    af == 2 ? T_DST4 : T_DST6) == -1)
		goto end;
	return (0);
end:
	unit_fail(__FILE__, __LINE__, "layout %d swapped %d af %u", layout,
	    swapped, af);
	return (-1);
}

/* Every layout, both byte orders, inet and the three inet6 values. */
static int
test_pflog_layouts(void)
{
	static const int	 layouts[] = { 61, 69, 100 };
	static const uint8_t	 afs[] = { 2, 24, 28, 30 };
	size_t			 i, j;
	int			 swapped;

	for (i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++)
		for (swapped = 0; swapped <= 1; swapped++)
			for (j = 0; j < sizeof(afs); j++)
				if (t_pflog_layout(layouts[i], swapped,
				    afs[j]) == -1)
					return (-1);
	return (0);
}

/* The swapped flag is what makes the host-order fields right. */
static int
test_pflog_byteorder(void)
{
	struct t_pflog		 tp;
	struct pfmon_record	 pr;
	struct tbuf		 ip, b;
	char			 err[PFMON_ERR_MAX];

	ip.tb_len = 0;
	t_tcp4(&ip);
	t_pflog_init(&tp, 61, 1, 2);
	t_pflog(&b, &tp, &ip);
	CHECK_INT(t_decode(PFMON_DLT_PFLOG, &b, b.tb_len, 0, &pr, err), 0);
	CHECK_INT(pr.pr_uid, T_SWAP32(501U));
	CHECK_INT(pr.pr_pid, (int32_t)T_SWAP32(4242U));
	CHECK_INT(pr.pr_rulenr, 7);	/* big-endian either way */
	CHECK_INT(t_decode(PFMON_DLT_PFLOG, &b, b.tb_len, 1, &pr, err), 0);
	CHECK_INT(pr.pr_uid, 501);
	CHECK_INT(pr.pr_pid, 4242);
	return (0);
end:
	return (-1);
}

/* The "no uid" values of each layout. */
static int
test_pflog_nouid(void)
{
	struct t_pflog		 tp;
	struct pfmon_record	 pr;
	struct tbuf		 ip, b;
	int			 layout, swapped;

	ip.tb_len = 0;
	t_tcp4(&ip);
	for (layout = 61; layout <= 100; layout += layout == 61 ? 8 : 31)
		for (swapped = 0; swapped <= 1; swapped++) {
			t_pflog_init(&tp, layout, swapped, 2);
			tp.tp_uid = 0xffffffff;
			t_pflog(&b, &tp, &ip);
			if (t_ok(PFMON_DLT_PFLOG, &b, swapped, &pr) == -1)
				return (-1);
			CHECK_INT(pr.pr_has_uid, 0);
			tp.tp_uid = 0x7fffffff;
			t_pflog(&b, &tp, &ip);
			if (t_ok(PFMON_DLT_PFLOG, &b, swapped, &pr) == -1)
				return (-1);
			CHECK_INT(pr.pr_has_uid, layout != 61);
			tp.tp_uid = 0;
			t_pflog(&b, &tp, &ip);
			if (t_ok(PFMON_DLT_PFLOG, &b, swapped, &pr) == -1)
				return (-1);
			CHECK_INT(pr.pr_has_uid, 1);
			CHECK_INT(pr.pr_uid, 0);
		}
	return (0);
end:
	return (-1);
}

/* A record without uid and ruleset name: the uid it gives, or -1. */
static int
t_anchor(int layout, const char *ruleset, int raw, int64_t want)
{
	struct t_pflog		 tp;
	struct pfmon_record	 pr;
	struct tbuf		 ip, b;

	ip.tb_len = 0;
	t_udp6(&ip);
	t_pflog_init(&tp, layout, 0, 30);
	tp.tp_uid = layout == 61 ? 0x7fffffff : 0xffffffff;
	tp.tp_ruleset = ruleset;
	tp.tp_raw = raw;
	t_pflog(&b, &tp, &ip);
	if (t_ok(PFMON_DLT_PFLOG, &b, 0, &pr) == -1)
		goto end;
	CHECK_INT(pr.pr_has_uid, want != -1);
	CHECK_INT(pr.pr_uid_from_anchor, want != -1);
	if (want != -1)
		CHECK_INT(pr.pr_uid, want);
	return (0);
end:
	unit_fail(__FILE__, __LINE__, "ruleset \"%s\"", ruleset);
	return (-1);
}

static int
test_pflog_anchor(void)
{
	if (t_anchor(61, "uid_501", 0, 501) == -1 ||
	    t_anchor(69, "sbx/uid_502", 0, 502) == -1 ||
	    t_anchor(100, "a/b/uid_0", 0, 0) == -1 ||
	    t_anchor(61, "x/uid_1234567", 0, 1234567) == -1 ||
	    t_anchor(61, "uid_4294967295", 0, 4294967295LL) == -1 ||
	    t_anchor(61, "com.apple/sbx/uid_501", 0, -1) == -1 ||
	    t_anchor(61, "sbx/uid_50123456", 0, -1) == -1 ||
	    t_anchor(61, "abc/uid_1234567", 0, -1) == -1 ||
	    t_anchor(61, "uid_", 0, -1) == -1 ||
	    t_anchor(61, "uid_01", 0, -1) == -1 ||
	    t_anchor(61, "uid_00", 0, -1) == -1 ||
	    t_anchor(61, "uid_12x", 0, -1) == -1 ||
	    t_anchor(61, "uid_99999999999", 0, -1) == -1 ||
	    t_anchor(61, "uid_4294967296", 0, -1) == -1 ||
	    t_anchor(61, "uid_-1", 0, -1) == -1 ||
	    t_anchor(61, "uid_+1", 0, -1) == -1 ||
	    t_anchor(61, "uid_ 1", 0, -1) == -1 ||
	    t_anchor(61, "UID_5", 0, -1) == -1 ||
	    t_anchor(61, "xuid_5", 0, -1) == -1 ||
	    t_anchor(61, "uid_5/", 0, -1) == -1 ||
	    t_anchor(61, "uid_5\x01", 0, -1) == -1 ||
	    t_anchor(61, "", 0, -1) == -1 ||
	    t_anchor(61, "/", 0, -1) == -1 ||
	    t_anchor(61, "abcdefghijklmnop", 1, -1) == -1 ||
	    t_anchor(61, "sbx/uid_12345678", 1, -1) == -1)
		return (-1);
	return (0);
}

/* ifname and ruleset: not NUL-terminated, or with unprintable bytes. */
static int
test_pflog_names(void)
{
	struct t_pflog		 tp;
	struct pfmon_record	 pr;
	struct tbuf		 ip, b;

	ip.tb_len = 0;
	t_tcp4(&ip);
	t_pflog_init(&tp, 100, 0, 2);
	tp.tp_ruleset = "0123456789abcdef";
	tp.tp_raw = 1;
	t_pflog(&b, &tp, &ip);
	memcpy(b.tb_data + 4, "\x01" "ab\xff" "cdefghijklmn", 16);
	if (t_ok(PFMON_DLT_PFLOG, &b, 0, &pr) == -1)
		return (-1);
	CHECK_STR(pr.pr_ifname, "?ab?cdefghijklmn");
	CHECK_STR(pr.pr_ruleset, "0123456789abcdef");
	if (t_json(&pr, "{\"linktype\":\"pflog\",\"uid\":501,\"family\":"
	    "\"inet\",\"proto\":\"tcp\",\"src\":\"10.0.0.5\",\"dst\":"
	    "\"93.184.216.34\",\"sport\":51234,\"dport\":443,\"len\":40,"
	    "\"action\":\"block\",\"dir\":\"out\",\"ifname\":"
	    "\"?ab?cdefghijklmn\",\"ruleset\":\"0123456789abcdef\","
	    "\"rulenr\":7,\"reason\":\"match\"}") == -1)
		return (-1);
	return (0);
end:
	return (-1);
}

/* Action, reason and direction names as tcpdump prints them. */
static int
test_pflog_tables(void)
{
	char	 buf[PFMON_NAME_MAX];

	CHECK_STR(pfmon_action_name(61, 0, buf, sizeof(buf)), "pass");
	CHECK_STR(pfmon_action_name(69, 1, buf, sizeof(buf)), "block");
	CHECK_STR(pfmon_action_name(100, 3, buf, sizeof(buf)), "noscrub");
	CHECK_STR(pfmon_action_name(100, 10, buf, sizeof(buf)),
	    "synproxy-drop");
	CHECK_STR(pfmon_action_name(100, 12, buf, sizeof(buf)), "match");
	CHECK_STR(pfmon_action_name(100, 15, buf, sizeof(buf)), "afrt");
	CHECK_STR(pfmon_action_name(100, 16, buf, sizeof(buf)), "action-16");
	CHECK_STR(pfmon_action_name(69, 12, buf, sizeof(buf)), "match");
	CHECK_STR(pfmon_action_name(69, 13, buf, sizeof(buf)), "action-13");
	CHECK_STR(pfmon_action_name(61, 11, buf, sizeof(buf)), "dummynet");
	CHECK_STR(pfmon_action_name(61, 14, buf, sizeof(buf)), "nonat64");
	CHECK_STR(pfmon_action_name(61, 255, buf, sizeof(buf)), "action-255");
	CHECK_STR(pfmon_reason_name(61, 0, buf, sizeof(buf)), "match");
	CHECK_STR(pfmon_reason_name(61, 14, buf, sizeof(buf)), "synproxy");
	CHECK_STR(pfmon_reason_name(61, 15, buf, sizeof(buf)), "dummynet");
	CHECK_STR(pfmon_reason_name(69, 15, buf, sizeof(buf)), "map-failed");
	CHECK_STR(pfmon_reason_name(100, 16, buf, sizeof(buf)), "no-route");
	CHECK_STR(pfmon_reason_name(100, 42, buf, sizeof(buf)), "reason-42");
	CHECK_STR(pfmon_dir_name(61, 0, buf, sizeof(buf)), "in/out");
	CHECK_STR(pfmon_dir_name(61, 1, buf, sizeof(buf)), "in");
	CHECK_STR(pfmon_dir_name(69, 2, buf, sizeof(buf)), "out");
	CHECK_STR(pfmon_dir_name(100, 3, buf, sizeof(buf)), "fwd");
	CHECK_STR(pfmon_dir_name(61, 3, buf, sizeof(buf)), "dir-3");
	CHECK(pfmon_proto_name(47) == NULL);
	CHECK_STR(pfmon_proto_name(58), "icmp6");
	return (0);
end:
	return (-1);
}

static int
test_pflog_errors(void)
{
	struct t_pflog		 tp;
	struct tbuf		 ip, b;

	ip.tb_len = 0;
	t_tcp4(&ip);
	t_pflog_init(&tp, 61, 0, 2);
	t_pflog(&b, &tp, &ip);
	b.tb_len = 0;
	if (t_fails(PFMON_DLT_PFLOG, &b, 0, "pflog: empty record") == -1)
		return (-1);
	t_pflog(&b, &tp, &ip);
	b.tb_data[0] = 64;
	if (t_fails(PFMON_DLT_PFLOG, &b, 0,
	    "pflog: header length 64, want 61, 69 or 100") == -1)
		return (-1);
	t_pflog(&b, &tp, &ip);
	b.tb_len = 62;
	if (t_fails(PFMON_DLT_PFLOG, &b, 0,
	    "pflog: 62 bytes captured, the 61-byte header needs 64") == -1)
		return (-1);
	t_pflog(&b, &tp, &ip);
	b.tb_data[1] = 10;
	if (t_fails(PFMON_DLT_PFLOG, &b, 0, "pflog: address family 10, "
	    "want 2 (inet) or 24, 28, 30 (inet6)") == -1)
		return (-1);
	t_pflog(&b, &tp, &ip);
	b.tb_data[1] = 30;
	if (t_fails(PFMON_DLT_PFLOG, &b, 0,
	    "ip6: version 4 in an inet6 record") == -1)
		return (-1);
	t_pflog(&b, &tp, &ip);
	b.tb_len = 64;
	if (t_fails(PFMON_DLT_PFLOG, &b, 0,
	    "ip: 0 bytes captured, the header needs 20") == -1)
		return (-1);
	if (t_fails(1, &b, 0,
	    "linktype 1 is neither pflog (117) nor nflog (239)") == -1)
		return (-1);
	return (0);
}

static int
test_ip4_errors(void)
{
	struct t_pflog		 tp;
	struct tbuf		 ip, b;

	ip.tb_len = 0;
	t_tcp4(&ip);
	t_pflog_init(&tp, 69, 0, 2);
	ip.tb_data[0] = 0x65;
	t_pflog(&b, &tp, &ip);
	if (t_fails(PFMON_DLT_PFLOG, &b, 0,
	    "ip: version 6 in an inet record") == -1)
		return (-1);
	ip.tb_data[0] = 0x44;
	t_pflog(&b, &tp, &ip);
	if (t_fails(PFMON_DLT_PFLOG, &b, 0, "ip: header length 16 < 20") ==
	    -1)
		return (-1);
	ip.tb_data[0] = 0x45;
	ip.tb_data[3] = 19;
	t_pflog(&b, &tp, &ip);
	if (t_fails(PFMON_DLT_PFLOG, &b, 0,
	    "ip: total length 19 < header length 20") == -1)
		return (-1);
	ip.tb_data[0] = 0x4f;
	ip.tb_data[3] = 40;
	t_pflog(&b, &tp, &ip);
	if (t_fails(PFMON_DLT_PFLOG, &b, 0,
	    "ip: total length 40 < header length 60") == -1)
		return (-1);
	return (0);
}

/* Options are skipped; cut short, they leave the addresses. */
static int
test_ip4_options(void)
{
	u_char			 t[20] = { 0x13, 0x88, 0x00, 0x16 };
	struct t_pflog		 tp;
	struct pfmon_record	 pr;
	struct tbuf		 ip, b;
	size_t			 opt;

	for (opt = 0; opt <= 40; opt += 4) {
		ip.tb_len = 0;
		t_ip4(&ip, IPPROTO_TCP, opt, 0, t, sizeof(t));
		t_pflog_init(&tp, 100, 1, 2);
		t_pflog(&b, &tp, &ip);
		if (t_ok(PFMON_DLT_PFLOG, &b, 1, &pr) == -1)
			return (-1);
		CHECK_INT(pr.pr_has_ports, 1);
		CHECK_INT(pr.pr_sport, 5000);
		CHECK_INT(pr.pr_dport, 22);
		CHECK_INT(pr.pr_len, 40 + opt);
		b.tb_len = 100 + 20 + opt + 3;
		if (t_ok(PFMON_DLT_PFLOG, &b, 1, &pr) == -1)
			return (-1);
		CHECK_INT(pr.pr_has_ports, 0);
		CHECK_INT(pr.pr_proto, IPPROTO_TCP);
		CHECK_INT(pr.pr_caplen, 20 + opt + 3);
	}
	return (0);
end:
	return (-1);
}

/* A first fragment has ports, a later one none. */
static int
test_ip4_fragments(void)
{
	u_char			 u[8] = { 0xaf, 0xc8, 0x14, 0x51, 0x0b, 0xc0 };
	struct t_pflog		 tp;
	struct pfmon_record	 pr;
	struct tbuf		 ip, b;

	ip.tb_len = 0;
	t_ip4(&ip, IPPROTO_UDP, 0, 0x2000, u, sizeof(u));
	t_pflog_init(&tp, 61, 0, 2);
	t_pflog(&b, &tp, &ip);
	if (t_ok(PFMON_DLT_PFLOG, &b, 0, &pr) == -1)
		return (-1);
	CHECK_INT(pr.pr_has_ports, 1);
	CHECK_INT(pr.pr_fragment, 0);
	CHECK_INT(pr.pr_dport, 5201);
	ip.tb_len = 0;
	t_ip4(&ip, IPPROTO_UDP, 0, 0x2000 | 185, u, sizeof(u));
	t_pflog(&b, &tp, &ip);
	if (t_ok(PFMON_DLT_PFLOG, &b, 0, &pr) == -1)
		return (-1);
	CHECK_INT(pr.pr_has_ports, 0);
	CHECK_INT(pr.pr_fragment, 1);
	CHECK_INT(pr.pr_proto, IPPROTO_UDP);
	ip.tb_len = 0;
	t_ip4(&ip, IPPROTO_UDP, 0, 1, u, sizeof(u));	/* last, offset 8 */
	t_pflog(&b, &tp, &ip);
	if (t_ok(PFMON_DLT_PFLOG, &b, 0, &pr) == -1)
		return (-1);
	CHECK_INT(pr.pr_fragment, 1);
	if (t_json(&pr, "{\"linktype\":\"pflog\",\"uid\":501,\"family\":"
	    "\"inet\",\"proto\":\"udp\",\"src\":\"10.0.0.5\",\"dst\":"
	    "\"93.184.216.34\",\"len\":28,\"action\":\"block\",\"dir\":"
	    "\"out\",\"ifname\":\"utun3\",\"ruleset\":\"\",\"rulenr\":7,"
	    "\"reason\":\"match\"}") == -1)
		return (-1);
	return (0);
end:
	return (-1);
}

/* The IP length and the captured length disagree. */
static int
test_ip4_lengths(void)
{
	u_char			 u[8] = { 0, 53, 0x30, 0x39, 0, 8 };
	struct t_pflog		 tp;
	struct pfmon_record	 pr;
	struct tbuf		 ip, b;

	ip.tb_len = 0;
	t_ip4(&ip, IPPROTO_UDP, 0, 0, u, sizeof(u));
	ip.tb_data[3] = 22;		/* ends inside the ports */
	t_pflog_init(&tp, 61, 0, 2);
	t_pflog(&b, &tp, &ip);
	if (t_ok(PFMON_DLT_PFLOG, &b, 0, &pr) == -1)
		return (-1);
	CHECK_INT(pr.pr_has_ports, 0);
	CHECK_INT(pr.pr_len, 22);
	ip.tb_data[3] = 24;		/* the rest is link padding */
	t_pflog(&b, &tp, &ip);
	if (t_ok(PFMON_DLT_PFLOG, &b, 0, &pr) == -1)
		return (-1);
	CHECK_INT(pr.pr_has_ports, 1);
	CHECK_INT(pr.pr_dport, 12345);
	CHECK_INT(pr.pr_len, 24);
	ip.tb_data[2] = 5;		/* 1304 bytes, 28 captured */
	t_pflog(&b, &tp, &ip);
	if (t_ok(PFMON_DLT_PFLOG, &b, 0, &pr) == -1)
		return (-1);
	CHECK_INT(pr.pr_has_ports, 1);
	CHECK_INT(pr.pr_len, 1304);
	CHECK_INT(pr.pr_caplen, 28);
	return (0);
end:
	return (-1);
}

/* Hop-by-hop, routing, destination options, AH, then TCP. */
static int
test_ip6_ext(void)
{
	u_char			 pl[] = {
		43, 0, 5, 2, 0, 0, 1, 0,		/* hop-by-hop */
		60, 2, 0, 0, 0, 0, 0, 0,		/* routing type 0 */
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		51, 0, 1, 4, 0, 0, 0, 0,		/* dest. options */
		6, 4, 0, 0, 0, 0, 1, 0, 0, 0, 0, 7,	/* AH, 12-byte ICV */
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0xc8, 0x23, 0x20, 0xfb, 0, 0, 0, 1,	/* TCP 51235 -> 8443 */
		0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0
	};
	struct t_pflog		 tp;
	struct pfmon_record	 pr;
	struct tbuf		 ip, b;

	ip.tb_len = 0;
	t_ip6(&ip, 0, pl, sizeof(pl));
	t_pflog_init(&tp, 100, 0, 24);
	t_pflog(&b, &tp, &ip);
	if (t_ok(PFMON_DLT_PFLOG, &b, 0, &pr) == -1)
		return (-1);
	CHECK_INT(pr.pr_proto, IPPROTO_TCP);
	CHECK_INT(pr.pr_has_ports, 1);
	CHECK_INT(pr.pr_sport, 51235);
	CHECK_INT(pr.pr_dport, 8443);
	CHECK_INT(pr.pr_len, 40 + sizeof(pl));
	b.tb_len = 100 + 40 + 8 + 24 + 1;	/* inside dest. options */
	if (t_ok(PFMON_DLT_PFLOG, &b, 0, &pr) == -1)
		return (-1);
	CHECK_INT(pr.pr_proto, 60);
	CHECK_INT(pr.pr_has_ports, 0);
	b.tb_len = 100 + 40 + 8 + 24 + 8 + 24 + 2;	/* half the ports */
	if (t_ok(PFMON_DLT_PFLOG, &b, 0, &pr) == -1)
		return (-1);
	CHECK_INT(pr.pr_proto, IPPROTO_TCP);
	CHECK_INT(pr.pr_has_ports, 0);
	return (0);
end:
	return (-1);
}

/* Fragment headers, "no next header", and the malformed chains. */
static int
test_ip6_fragments(void)
{
	u_char			 pl[] = {
		17, 0, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef,	/* offset 0 */
		0xaf, 0xc9, 0x14, 0x51, 0, 16, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8
	};
	struct t_pflog		 tp;
	struct pfmon_record	 pr;
	struct tbuf		 ip, b;

	ip.tb_len = 0;
	t_ip6(&ip, 44, pl, sizeof(pl));
	t_pflog_init(&tp, 69, 1, 28);
	t_pflog(&b, &tp, &ip);
	if (t_ok(PFMON_DLT_PFLOG, &b, 1, &pr) == -1)
		return (-1);
	CHECK_INT(pr.pr_proto, IPPROTO_UDP);
	CHECK_INT(pr.pr_dport, 5201);
	CHECK_INT(pr.pr_fragment, 0);
	pl[2] = 0x05;				/* offset 1392 */
	pl[3] = 0x70;
	ip.tb_len = 0;
	t_ip6(&ip, 44, pl, sizeof(pl));
	t_pflog(&b, &tp, &ip);
	if (t_ok(PFMON_DLT_PFLOG, &b, 1, &pr) == -1)
		return (-1);
	CHECK_INT(pr.pr_proto, IPPROTO_UDP);
	CHECK_INT(pr.pr_fragment, 1);
	CHECK_INT(pr.pr_has_ports, 0);
	ip.tb_len = 0;
	t_ip6(&ip, 59, pl, sizeof(pl));		/* no next header */
	t_pflog(&b, &tp, &ip);
	if (t_ok(PFMON_DLT_PFLOG, &b, 1, &pr) == -1)
		return (-1);
	CHECK_INT(pr.pr_proto, 59);
	CHECK_INT(pr.pr_has_ports, 0);
	return (0);
end:
	return (-1);
}

static int
test_ip6_errors(void)
{
	u_char			 pl[8 * (PFMON_IP6_EXT_MAX + 1) + 8];
	struct t_pflog		 tp;
	struct tbuf		 ip, b;
	size_t			 i;

	memset(pl, 0, sizeof(pl));
	for (i = 0; i <= PFMON_IP6_EXT_MAX; i++)
		pl[i * 8] = 60;			/* 17 dest. options */
	pl[PFMON_IP6_EXT_MAX * 8] = IPPROTO_UDP;
	ip.tb_len = 0;
	t_ip6(&ip, 60, pl, sizeof(pl));
	t_pflog_init(&tp, 61, 0, 30);
	t_pflog(&b, &tp, &ip);
	if (t_fails(PFMON_DLT_PFLOG, &b, 0,
	    "ip6: more than 16 extension headers") == -1)
		return (-1);
	ip.tb_len = 0;
	t_ip6(&ip, 60, pl, 6);
	t_pflog(&b, &tp, &ip);
	if (t_fails(PFMON_DLT_PFLOG, &b, 0, "ip6: extension header 60 ends "
	    "at offset 48: past the IP length 46") == -1)
		return (-1);
	ip.tb_len = 0;
	t_ip6(&ip, 44, pl, 7);
	t_pflog(&b, &tp, &ip);
	if (t_fails(PFMON_DLT_PFLOG, &b, 0, "ip6: extension header 44 at "
	    "offset 40: past the IP length 47") == -1)
		return (-1);
	ip.tb_len = 0;
	t_ip6(&ip, 60, pl, 8);
	ip.tb_data[0] = 0x40;
	t_pflog(&b, &tp, &ip);
	if (t_fails(PFMON_DLT_PFLOG, &b, 0,
	    "ip6: version 4 in an inet6 record") == -1)
		return (-1);
	b.tb_len = 64 + 39;
	if (t_fails(PFMON_DLT_PFLOG, &b, 0,
	    "ip6: 39 bytes captured, the header needs 40") == -1)
		return (-1);
	return (0);
}

/* ICMP and ICMPv6 type and code, only under their own family. */
static int
test_icmp(void)
{
	u_char			 m[8] = { 8, 0, 0, 0, 0x42, 0x42, 0, 1 };
	struct t_pflog		 tp;
	struct pfmon_record	 pr;
	struct tbuf		 ip, b;

	ip.tb_len = 0;
	t_ip4(&ip, IPPROTO_ICMP, 0, 0, m, sizeof(m));
	t_pflog_init(&tp, 61, 0, 2);
	t_pflog(&b, &tp, &ip);
	if (t_ok(PFMON_DLT_PFLOG, &b, 0, &pr) == -1)
		return (-1);
	CHECK_INT(pr.pr_has_icmp, 1);
	CHECK_INT(pr.pr_icmp_type, 8);
	CHECK_INT(pr.pr_has_ports, 0);
	if (t_json(&pr, "{\"linktype\":\"pflog\",\"uid\":501,\"family\":"
	    "\"inet\",\"proto\":\"icmp\",\"src\":\"10.0.0.5\",\"dst\":"
	    "\"93.184.216.34\",\"icmp_type\":8,\"icmp_code\":0,\"len\":28,"
	    "\"action\":\"block\",\"dir\":\"out\",\"ifname\":\"utun3\","
	    "\"ruleset\":\"\",\"rulenr\":7,\"reason\":\"match\"}") == -1)
		return (-1);
	m[0] = 128;
	ip.tb_len = 0;
	t_ip6(&ip, IPPROTO_ICMPV6, m, sizeof(m));
	t_pflog_init(&tp, 61, 0, 30);
	t_pflog(&b, &tp, &ip);
	if (t_ok(PFMON_DLT_PFLOG, &b, 0, &pr) == -1)
		return (-1);
	CHECK_INT(pr.pr_has_icmp, 1);
	CHECK_INT(pr.pr_icmp_type, 128);
	ip.tb_len = 0;
	t_ip6(&ip, IPPROTO_ICMP, m, sizeof(m));
	t_pflog(&b, &tp, &ip);
	if (t_ok(PFMON_DLT_PFLOG, &b, 0, &pr) == -1)
		return (-1);
	CHECK_INT(pr.pr_has_icmp, 0);
	return (0);
end:
	return (-1);
}

/* An IPv4 NFLOG record with every TLV the kernel sends. */
static void
t_nflog_full(struct tbuf *b, const struct tbuf *ip, int swapped)
{
	static const u_char	 hdr[4] = { 0x08, 0x00, 3, 0 };
	static const u_char	 ts[16] = { 0, 0, 0, 0, 0x69, 0x55, 0xb9, 0 };

	t_nflog(b, 2);
	t_tlv(b, NFULA_PACKET_HDR, hdr, sizeof(hdr), swapped);
	t_tlv(b, NFULA_PREFIX, "sbxd-block", 11, swapped);
	t_tlv32(b, NFULA_INDEV, 3, swapped);
	t_tlv32(b, NFULA_OUTDEV, 4, swapped);
	t_tlv32(b, NFULA_MARK, 0x5b0, swapped);
	t_tlv(b, NFULA_TIMESTAMP, ts, sizeof(ts), swapped);
	t_tlv32(b, NFULA_UID, 1000, swapped);
	t_tlv32(b, NFULA_GID, 1001, swapped);
	t_tlv(b, NFULA_PAYLOAD, ip->tb_data, ip->tb_len, swapped);
}

/* An NFLOG record as the kernel writes it, in either byte order. */
static int
test_nflog_basic(void)
{
	struct pfmon_record	 pr;
	struct tbuf		 ip, b;
	int			 swapped;

	ip.tb_len = 0;
	t_tcp4(&ip);
	for (swapped = 0; swapped <= 1; swapped++) {
		t_nflog_full(&b, &ip, swapped);
		if (t_ok(PFMON_DLT_NFLOG, &b, swapped, &pr) == -1)
			return (-1);
		CHECK_INT(pr.pr_uid, 1000);
		CHECK_INT(pr.pr_gid, 1001);
		CHECK_INT(pr.pr_indev, 3);
		CHECK_INT(pr.pr_outdev, 4);
		CHECK_INT(pr.pr_mark, 0x5b0);
		CHECK_INT(pr.pr_hwproto, 0x0800);
		CHECK_INT(pr.pr_hook, 3);
		CHECK_INT(pr.pr_group, 5);
		CHECK_STR(pr.pr_prefix, "sbxd-block");
		if (t_json(&pr, "{\"linktype\":\"nflog\",\"uid\":1000,"
		    "\"family\":\"inet\",\"proto\":\"tcp\","
		    "\"src\":\"10.0.0.5\",\"dst\":\"93.184.216.34\","
		    "\"sport\":51234,\"dport\":443,\"len\":40,"
		    "\"prefix\":\"sbxd-block\",\"gid\":1001}") == -1)
			return (-1);
		if (swapped && t_fails(PFMON_DLT_NFLOG, &b, 0, "nflog: "
		    "type-256 TLV at offset 4: length 2048 runs past the "
		    "132 bytes captured") == -1)
			return (-1);
	}
	return (0);
end:
	return (-1);
}

/* No UID TLV: the prefix may name the uid; gid and prefix are null. */
static int
test_nflog_nouid(void)
{
	struct pfmon_record	 pr;
	struct tbuf		 ip, b;

	ip.tb_len = 0;
	t_udp6(&ip);
	t_nflog(&b, 10);
	t_tlv(&b, NFULA_PREFIX, "sbx/uid_77", 11, 0);
	t_tlv(&b, NFULA_PAYLOAD, ip.tb_data, ip.tb_len, 0);
	if (t_ok(PFMON_DLT_NFLOG, &b, 0, &pr) == -1)
		return (-1);
	CHECK_INT(pr.pr_has_uid, 1);
	CHECK_INT(pr.pr_uid, 77);
	CHECK_INT(pr.pr_uid_from_anchor, 1);
	t_nflog(&b, 10);
	t_tlv(&b, NFULA_PREFIX, "uid_77 ", 8, 0);
	t_tlv(&b, NFULA_PAYLOAD, ip.tb_data, ip.tb_len, 0);
	if (t_ok(PFMON_DLT_NFLOG, &b, 0, &pr) == -1)
		return (-1);
	CHECK_INT(pr.pr_has_uid, 0);
	t_nflog(&b, 10);
	t_tlv(&b, NFULA_PAYLOAD, ip.tb_data, ip.tb_len, 0);
	if (t_ok(PFMON_DLT_NFLOG, &b, 0, &pr) == -1)
		return (-1);
	CHECK_INT(pr.pr_has_uid, 0);
	if (t_json(&pr, "{\"linktype\":\"nflog\",\"uid\":null,\"family\":"
	    "\"inet6\",\"proto\":\"udp\",\"src\":\"2001:db8:5b::5\","
	    "\"dst\":\"2606:4700:4700::1111\",\"sport\":53001,\"dport\":53,"
	    "\"len\":52,\"prefix\":null,\"gid\":null}") == -1)
		return (-1);
	return (0);
end:
	return (-1);
}

/* Prefixes of every length mod 4, odd padding, unknown and nested TLVs. */
static int
test_nflog_padding(void)
{
	char			 prefix[PFMON_PREFIX_MAX];
	struct pfmon_record	 pr;
	struct tbuf		 ip, b;
	size_t			 n;

	ip.tb_len = 0;
	t_tcp4(&ip);
	for (n = 0; n < sizeof(prefix); n++) {
		memset(prefix, 'a' + n % 26, n);
		prefix[n] = '\0';
		t_nflog(&b, 2);
		t_tlv(&b, NFULA_PREFIX, prefix, n + 1, n % 2);
		t_tlv(&b, 200, "xyz", 3, n % 2);
		t_tlv(&b, 0x8000 | NFULA_CT, "\0\0\0\0\0", 5, n % 2);
		t_tlv(&b, NFULA_PAYLOAD, ip.tb_data, ip.tb_len, n % 2);
		if ((n + 1) % 4 != 0)
			b.tb_data[4 + 4 + n + 1] = 0xee; /* padding: not read */
		if (t_ok(PFMON_DLT_NFLOG, &b, n % 2, &pr) == -1)
			return (-1);
		CHECK_INT(strlen(pr.pr_prefix), n);
		CHECK_INT(pr.pr_has_prefix, 1);
		CHECK_INT(pr.pr_sport, 51234);
	}
	return (0);
end:
	return (-1);
}

/* A PAYLOAD cut by the snap length; the prefix's odd bytes. */
static int
test_nflog_truncated(void)
{
	struct pfmon_record	 pr;
	struct tbuf		 ip, b;

	ip.tb_len = 0;
	t_tcp4(&ip);
	t_nflog(&b, 2);
	t_tlv(&b, NFULA_PREFIX, "\x7f" "caf\xc3\xa9", 7, 0);
	t_tlv32(&b, NFULA_UID, 1000, 0);
	t_tlv(&b, NFULA_PAYLOAD, ip.tb_data, ip.tb_len, 0);
	b.tb_len -= 16;
	if (t_ok(PFMON_DLT_NFLOG, &b, 0, &pr) == -1)
		return (-1);
	CHECK_INT(pr.pr_has_ports, 1);
	CHECK_INT(pr.pr_len, 40);
	CHECK_INT(pr.pr_caplen, 24);
	CHECK_STR(pr.pr_prefix, "?caf??");
	return (0);
end:
	return (-1);
}

static int
test_nflog_header_errors(void)
{
	struct tbuf	 b;

	t_nflog(&b, 2);
	b.tb_len = 3;
	if (t_fails(PFMON_DLT_NFLOG, &b, 0,
	    "nflog: 3 bytes captured, the header needs 4") == -1)
		return (-1);
	t_nflog(&b, 7);
	if (t_fails(PFMON_DLT_NFLOG, &b, 0,
	    "nflog: family 7, want 2 (inet) or 10 (inet6)") == -1)
		return (-1);
	t_nflog(&b, 2);
	b.tb_data[1] = 1;
	if (t_fails(PFMON_DLT_NFLOG, &b, 0, "nflog: version 1, want 0") == -1)
		return (-1);
	t_nflog(&b, 2);
	if (t_fails(PFMON_DLT_NFLOG, &b, 0, "nflog: no PAYLOAD TLV") == -1)
		return (-1);
	return (0);
}

static int
test_nflog_tlv_errors(void)
{
	struct tbuf	 ip, b;

	ip.tb_len = 0;
	t_tcp4(&ip);
	t_nflog(&b, 2);
	t_tlv32(&b, NFULA_UID, 1, 0);
	tb_he16(&b, 0, 0);		/* zero-length TLV */
	tb_he16(&b, NFULA_GID, 0);
	t_tlv(&b, NFULA_PAYLOAD, ip.tb_data, ip.tb_len, 0);
	if (t_fails(PFMON_DLT_NFLOG, &b, 0,
	    "nflog: GID TLV at offset 12: length 0 < 4") == -1)
		return (-1);
	b.tb_len = 14;
	if (t_fails(PFMON_DLT_NFLOG, &b, 0,
	    "nflog: 2 bytes at offset 12, short of a TLV header") == -1)
		return (-1);
	t_nflog(&b, 2);
	t_tlv32(&b, NFULA_UID, 1, 0);
	t_tlv32(&b, NFULA_UID, 2, 0);
	t_tlv(&b, NFULA_PAYLOAD, ip.tb_data, ip.tb_len, 0);
	if (t_fails(PFMON_DLT_NFLOG, &b, 0,
	    "nflog: duplicate UID TLV at offset 12") == -1)
		return (-1);
	t_nflog(&b, 2);
	t_tlv(&b, NFULA_PAYLOAD, ip.tb_data, ip.tb_len, 0);
	t_tlv(&b, NFULA_PAYLOAD, ip.tb_data, ip.tb_len, 0);
	if (t_fails(PFMON_DLT_NFLOG, &b, 0,
	    "nflog: duplicate PAYLOAD TLV at offset 48") == -1)
		return (-1);
	return (0);
}

/* A prefix must end in NUL and fit NF_LOG_PREFIXLEN. */
static int
test_nflog_prefix_errors(void)
{
	struct tbuf	 ip, b;
	u_char		 big[200];

	ip.tb_len = 0;
	t_tcp4(&ip);
	memset(big, 'p', sizeof(big));
	t_nflog(&b, 2);
	t_tlv(&b, NFULA_PREFIX, big, 200, 0);
	t_tlv(&b, NFULA_PAYLOAD, ip.tb_data, ip.tb_len, 0);
	if (t_fails(PFMON_DLT_NFLOG, &b, 0,
	    "nflog: PREFIX TLV at offset 4: no NUL in its 200 bytes") == -1)
		return (-1);
	big[199] = '\0';
	t_nflog(&b, 2);
	t_tlv(&b, NFULA_PREFIX, big, 200, 0);
	t_tlv(&b, NFULA_PAYLOAD, ip.tb_data, ip.tb_len, 0);
	if (t_fails(PFMON_DLT_NFLOG, &b, 0, "nflog: PREFIX TLV at offset 4: "
	    "199 bytes, longer than 127") == -1)
		return (-1);
	return (0);
}

/* TLVs whose length overruns the record or the next TLV. */
static int
test_nflog_overlap(void)
{
	struct pfmon_record	 pr;
	struct tbuf		 ip, b;
	char			 err[PFMON_ERR_MAX];

	ip.tb_len = 0;
	t_tcp4(&ip);
	t_nflog(&b, 2);
	t_tlv32(&b, NFULA_UID, 1, 0);
	t_tlv(&b, NFULA_PAYLOAD, ip.tb_data, ip.tb_len, 0);
	t_set16(&b, 4, 12);		/* UID swallows the PAYLOAD header */
	if (t_fails(PFMON_DLT_NFLOG, &b, 0,
	    "nflog: UID TLV at offset 4: value length 8, want 4") == -1)
		return (-1);
	t_set16(&b, 4, 240);		/* runs past the end */
	if (t_fails(PFMON_DLT_NFLOG, &b, 0, "nflog: UID TLV at offset 4: "
	    "length 240 runs past the 56 bytes captured") == -1)
		return (-1);
	t_set16(&b, 4, 6);		/* short, padded to 8 */
	if (t_fails(PFMON_DLT_NFLOG, &b, 0,
	    "nflog: UID TLV at offset 4: value length 2, want 4") == -1)
		return (-1);
	t_set16(&b, 4, 8);
	t_set16(&b, 6, 0x77);		/* an unknown type: skipped */
	t_set16(&b, 12, 132);		/* PAYLOAD cut by the snap length */
	CHECK_INT(t_decode(PFMON_DLT_NFLOG, &b, b.tb_len, 0, &pr, err), 0);
	CHECK_INT(pr.pr_has_uid, 0);
	CHECK_INT(pr.pr_caplen, 40);
	t_set16(&b, 12, 8);		/* PAYLOAD of 4, then IP as TLVs */
	if (t_fails(PFMON_DLT_NFLOG, &b, 0,
	    "nflog: type-64 TLV at offset 20: length 0 < 4") == -1)
		return (-1);
	t_set16(&b, 12, 2);
	if (t_fails(PFMON_DLT_NFLOG, &b, 0,
	    "nflog: PAYLOAD TLV at offset 12: length 2 < 4") == -1)
		return (-1);
	return (0);
end:
	return (-1);
}

/* The probe tells a libpcap that converts from one that does not. */
static int
test_probe(void)
{
	u_char	 buf[PFMON_PROBE_MAX], *r = buf + 40;
	size_t	 n, i;
	uint32_t v;

	CHECK_INT(pfmon_decode_probe(1, buf, sizeof(buf)), 0);
	CHECK_INT(pfmon_decode_probe(PFMON_DLT_PFLOG, buf, 100), 0);
	CHECK((n = pfmon_decode_probe(PFMON_DLT_PFLOG, buf, sizeof(buf))) >
	    40);
	memcpy(&v, buf, sizeof(v));
	CHECK_INT(v, T_SWAP32(0xa1b2c3d4U));
	CHECK_INT(pfmon_decode_probe_check(PFMON_DLT_PFLOG, r, n - 40), 1);
	for (i = 44; i < 60; i += 4) {		/* convert, as libpcap does */
		memcpy(&v, r + i, sizeof(v));
		v = T_SWAP32(v);
		memcpy(r + i, &v, sizeof(v));
	}
	CHECK_INT(pfmon_decode_probe_check(PFMON_DLT_PFLOG, r, n - 40), 0);
	CHECK_INT(pfmon_decode_probe_check(PFMON_DLT_PFLOG, r, 10), -1);

	CHECK((n = pfmon_decode_probe(PFMON_DLT_NFLOG, buf, sizeof(buf))) >
	    40);
	CHECK_INT(pfmon_decode_probe_check(PFMON_DLT_NFLOG, r, n - 40), 1);
	for (v = 4; v < 16; v += v == 6 ? 6 : 2) {	/* TLV headers */
		u_char	 t = r[v];

		r[v] = r[v + 1];
		r[v + 1] = t;
	}
	CHECK_INT(pfmon_decode_probe_check(PFMON_DLT_NFLOG, r, n - 40), 0);
	return (0);
end:
	return (-1);
}

/* JSON for a protocol reported by number, and an uid from the anchor. */
static int
test_json(void)
{
	u_char			 g[8] = { 0, 0, 0x08, 0 };
	struct t_pflog		 tp;
	struct pfmon_record	 pr;
	struct tbuf		 ip, b;

	ip.tb_len = 0;
	t_ip6(&ip, 47, g, sizeof(g));
	t_pflog_init(&tp, 100, 0, 24);
	tp.tp_uid = 0xffffffff;
	tp.tp_ruleset = "uid_4242";
	tp.tp_action = 0;
	tp.tp_reason = 16;
	tp.tp_dir = 3;
	t_pflog(&b, &tp, &ip);
	if (t_ok(PFMON_DLT_PFLOG, &b, 0, &pr) == -1)
		return (-1);
	if (t_json(&pr, "{\"linktype\":\"pflog\",\"uid\":4242,\"family\":"
	    "\"inet6\",\"proto\":47,\"src\":\"2001:db8:5b::5\",\"dst\":"
	    "\"2606:4700:4700::1111\",\"len\":48,\"action\":\"pass\","
	    "\"dir\":\"fwd\",\"ifname\":\"utun3\",\"ruleset\":\"uid_4242\","
	    "\"rulenr\":7,\"reason\":\"no-route\"}") == -1)
		return (-1);
	memset(&pr, 0, sizeof(pr));		/* never decoded */
	CHECK(pfmon_record_json(&pr) == NULL);
	return (0);
end:
	return (-1);
}

static const struct unit_test tests[] = {
	{ "pflog_layouts", test_pflog_layouts },
	{ "pflog_byteorder", test_pflog_byteorder },
	{ "pflog_nouid", test_pflog_nouid },
	{ "pflog_anchor", test_pflog_anchor },
	{ "pflog_names", test_pflog_names },
	{ "pflog_tables", test_pflog_tables },
	{ "pflog_errors", test_pflog_errors },
	{ "ip4_errors", test_ip4_errors },
	{ "ip4_options", test_ip4_options },
	{ "ip4_fragments", test_ip4_fragments },
	{ "ip4_lengths", test_ip4_lengths },
	{ "ip6_ext", test_ip6_ext },
	{ "ip6_fragments", test_ip6_fragments },
	{ "ip6_errors", test_ip6_errors },
	{ "icmp", test_icmp },
	{ "nflog_basic", test_nflog_basic },
	{ "nflog_nouid", test_nflog_nouid },
	{ "nflog_padding", test_nflog_padding },
	{ "nflog_truncated", test_nflog_truncated },
	{ "nflog_header_errors", test_nflog_header_errors },
	{ "nflog_tlv_errors", test_nflog_tlv_errors },
	{ "nflog_prefix_errors", test_nflog_prefix_errors },
	{ "nflog_overlap", test_nflog_overlap },
	{ "probe", test_probe },
	{ "json", test_json },
};

UNIT_MAIN("pfmon_decode", tests)
