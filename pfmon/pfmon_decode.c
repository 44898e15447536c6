/*
 * pfmon_decode.c: pure decoding of firewall log records, with no I/O
 * and no allocation, so the daemon, the offline reader (sbxd -r), the
 * unit tests and the fuzzer all call the same code.  A record is either
 * DLT_PFLOG (pf on macOS and the BSDs, read from pflog0) or DLT_NFLOG
 * (netfilter on Linux, read from nflog:N); under its header sits an
 * IPv4 or IPv6 packet, decoded to addresses, protocol, ports and ICMP
 * type.  The decoder never reads past caplen and a malformed record
 * gets one precise error string.
 *
 * pflog: the header's first byte is its length and tells the layout:
 * 61 (macOS, NetBSD; padded to 64), 69 (FreeBSD; 72) or 100 (OpenBSD).
 * All three share the first 61 bytes.  rulenr and subrulenr are
 * big-endian; uid, pid, rule_uid and rule_pid are in the byte order of
 * the host that captured the record.  AF_INET6 is 24, 28 or 30
 * depending on the OS; all three are accepted whatever the layout.
 *
 * nflog: a big-endian family/version/resource-id header, then netlink
 * TLVs whose length and type are in the capturing host's byte order
 * (values are big-endian).  Each TLV is padded to 4 bytes.
 *
 * Byte order of savefiles.  libpcap converts the host-order parts of
 * some pseudo-headers when it reads a savefile written in the other
 * byte order (pcap-common.c, now pcap-util.c, swap_pseudo_headers()):
 * swap_nflog_header() has converted the NFLOG TLV length and type for
 * many releases, and since libpcap 1.10.2 (December 2022)
 * swap_pflog_header() also converts the pflog uid, pid, rule_uid and
 * rule_pid.  Older libpcaps, and forks such as the one macOS ships,
 * may leave pflog alone.  So the swapped argument means "the
 * host-order fields of this buffer are still in the other byte order";
 * it is not simply pcap_is_swapped().  Live captures pass 0.  For a
 * savefile the caller asks the libpcap it runs with: it reads the
 * record pfmon_decode_probe() builds (a one-record savefile in the
 * other byte order) through pcap_fopen_offline() and gives it to
 * pfmon_decode_probe_check(), which says whether libpcap converted it.
 * It then passes pcap_is_swapped() && that answer.
 *
 * Decisions where the formats leave room:
 * - No uid (pflog 0xffffffff, and 0x7fffffff in the 61-byte layout, or
 *   no NFLOG UID TLV): the uid comes from the last '/' component of the
 *   pflog ruleset or NFLOG prefix if it is exactly uid_<decimal> (no
 *   sign, no leading zero, at most 4294967295).  The kernel copies the
 *   ruleset with strlcpy into 16 bytes, so a name of 15 or 16 bytes may
 *   have been cut, possibly inside the digits: such a name never
 *   attributes a uid.  xnu's pflog_packet() copies anchor->name, the
 *   last component, so sbxd's com.apple/sbx/uid_<N> logs as uid_<N>,
 *   which always fits; a logger copying the whole path gets it cut.
 *   xnu sets the uid only when the rule logs with "(user)"; otherwise
 *   it is UID_MAX, 0x7fffffff on macOS.
 * - ifname, ruleset and prefix stop at the first NUL or at the field's
 *   end, and any byte outside printable ASCII reads as '?', so the
 *   strings are safe to log and are valid JSON.
 * - Action, reason and direction names follow tcpdump 4.99 (noscrub,
 *   nonat, in/out), with the OS-specific values chosen by the layout:
 *   61 is read as macOS (NetBSD never logs those values).
 * - A packet cut short by the snap length still decodes if its fixed
 *   IP header (20 or 40 bytes) was captured: the addresses and
 *   protocol are reported, ports and ICMP type only if their bytes
 *   were captured and lie inside the IP length.  IPv4 options cut
 *   short just leave out the ports.  An NFLOG PAYLOAD TLV may run past
 *   caplen for the same reason (the kernel puts it last); any other
 *   TLV that does is an error.
 * - A non-first fragment has no ports (pr_fragment is set).  IPv6
 *   extension headers (hop-by-hop, routing, fragment, destination
 *   options, AH) are walked, at most PFMON_IP6_EXT_MAX of them; if the
 *   capture ends inside the chain, pr_proto is the last next-header
 *   value reached.  A jumbogram reports pr_len 40.
 * - NFLOG TLV types are masked with NLA_TYPE_MASK (the kernel marks
 *   nested attributes with NLA_F_NESTED); a type below 32 may appear
 *   only once; unknown types are skipped.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "config.h"
#include "pfmon.h"
#include "sbxd.h"

#define PFMON_ALIGN4(x)		(((size_t)(x) + 3) & ~(size_t)3)
#define PFMON_SWAP16(x)		((uint16_t)(((x) >> 8) | ((x) << 8)))
#define PFMON_SWAP32(x)		(((x) >> 24) | (((x) >> 8) & 0xff00) | \
				    (((x) << 8) & 0xff0000) | ((x) << 24))
#define PFMON_PREFIX_END	(offsetof(struct pfmon_record, pr_prefix) + \
				    PFMON_PREFIX_MAX)
#define PFMON_NOUID		0xffffffffU	/* UID_MAX: no socket */
#define PFMON_NOUID_DARWIN	0x7fffffffU	/* macOS UID_MAX: 61 layout */

/* pflog header offsets, common to every layout. */
#define PFLOG_AF		1
#define PFLOG_ACTION		2
#define PFLOG_REASON		3
#define PFLOG_IFNAME		4
#define PFLOG_RULESET		20
#define PFLOG_RULENR		36
#define PFLOG_SUBRULENR		40
#define PFLOG_UID		44
#define PFLOG_PID		48
#define PFLOG_RULE_UID		52
#define PFLOG_RULE_PID		56
#define PFLOG_DIR		60

/* The address families of the systems that write each link type. */
#define BSD_AF_INET		2
#define BSD_AF_INET6_BSD	24	/* OpenBSD, NetBSD */
#define BSD_AF_INET6_FREEBSD	28
#define BSD_AF_INET6_DARWIN	30
#define LINUX_AF_INET		2
#define LINUX_AF_INET6		10

#define NFLOG_HDRLEN		4
#define NFLOG_TLVLEN		4
#define NFLOG_TYPE_MASK		0x3fff	/* NLA_TYPE_MASK: drops NLA_F_* */
#define NFULA_PACKET_HDR	1
#define NFULA_MARK		2
#define NFULA_IFINDEX_INDEV	4
#define NFULA_IFINDEX_OUTDEV	5
#define NFULA_PAYLOAD		9
#define NFULA_PREFIX		10
#define NFULA_UID		11
#define NFULA_GID		14

#define IP6_HOPOPTS		0
#define IP6_ROUTING		43
#define IP6_FRAGMENT		44
#define IP6_AH			51
#define IP6_DSTOPTS		60

static int	pfmon_decode_fail(char *, size_t, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));
static int	pfmon_decode_pflog(const u_char *, size_t, int,
		    struct pfmon_record *, char *, size_t);
static void	pfmon_decode_pflog_fields(const u_char *, int,
		    struct pfmon_record *);
static int	pfmon_decode_nflog(const u_char *, size_t, int,
		    struct pfmon_record *, char *, size_t);
static int	pfmon_decode_nflog_tlvs(const u_char *, size_t, int,
		    struct pfmon_record *, const u_char **, size_t *, char *,
		    size_t);
static int	pfmon_decode_nflog_len(u_int, size_t, size_t, size_t,
		    size_t *, char *, size_t);
static int	pfmon_decode_nflog_tlv(u_int, const u_char *, size_t,
		    size_t, struct pfmon_record *, char *, size_t);
static int	pfmon_decode_nflog_prefix(const u_char *, size_t, size_t,
		    struct pfmon_record *, char *, size_t);
static const char *pfmon_decode_nflog_type(u_int, char *, size_t);
static int	pfmon_decode_ip(const u_char *, size_t, int,
		    struct pfmon_record *, char *, size_t);
static int	pfmon_decode_ip4(const u_char *, size_t,
		    struct pfmon_record *, char *, size_t);
static int	pfmon_decode_ip6(const u_char *, size_t,
		    struct pfmon_record *, char *, size_t);
static int	pfmon_decode_ip6_chain(const u_char *, size_t,
		    struct pfmon_record *, size_t *, char *, size_t);
static void	pfmon_decode_l4(const u_char *, size_t, size_t,
		    struct pfmon_record *);
static size_t	pfmon_decode_name(char *, const u_char *, size_t);
static int	pfmon_decode_uidname(const char *, size_t, uint32_t *);
static const char *pfmon_decode_lookup(const char *const *, size_t,
		    const char *const *, size_t, uint8_t, const char *, char *,
		    size_t);
static void	pfmon_probe_put16(u_char *, uint16_t);
static void	pfmon_probe_put32(u_char *, uint32_t);
static size_t	pfmon_probe_record(int, u_char *);
static int	pfmon_json_set(json_t *, const char *, json_t *);
static int	pfmon_json_pflog(json_t *, const struct pfmon_record *);
static int	pfmon_json_nflog(json_t *, const struct pfmon_record *);

/* tcpdump's names (print-pflog.c); values past the common ones differ
   by OS and are picked by the header layout. */
static const char *const pfmon_actions[] = {
	"pass", "block", "scrub", "noscrub", "nat", "nonat", "binat",
	"nobinat", "rdr", "nordr", "synproxy-drop"
};
static const char *const pfmon_actions_openbsd[] = {
	"defer", "match", "divert", "rt", "afrt"
};
static const char *const pfmon_actions_freebsd[] = { "defer", "match" };
static const char *const pfmon_actions_darwin[] = {
	"dummynet", "nodummynet", "nat64", "nonat64"
};
static const char *const pfmon_reasons[] = {
	"match", "bad-offset", "fragment", "short", "normalize", "memory",
	"bad-timestamp", "congestion", "ip-option", "proto-cksum",
	"state-mismatch", "state-insert", "state-limit", "src-limit",
	"synproxy"
};
static const char *const pfmon_reasons_openbsd[] = {
	"translate", "no-route"
};
static const char *const pfmon_reasons_freebsd[] = { "map-failed" };
static const char *const pfmon_reasons_darwin[] = { "dummynet" };
static const char *const pfmon_dirs[] = { "in/out", "in", "out" };
static const char *const pfmon_dirs_openbsd[] = { "fwd" };

/* linux/netfilter/nfnetlink_log.h, for error messages. */
static const char *const pfmon_nflog_types[] = {
	"UNSPEC", "PACKET_HDR", "MARK", "TIMESTAMP", "IFINDEX_INDEV",
	"IFINDEX_OUTDEV", "IFINDEX_PHYSINDEV", "IFINDEX_PHYSOUTDEV",
	"HWADDR", "PAYLOAD", "PREFIX", "UID", "SEQ", "SEQ_GLOBAL", "GID",
	"HWTYPE", "HWHEADER", "HWLEN", "CT", "CT_INFO", "VLAN", "L2HDR"
};

static inline uint16_t
pfmon_be16(const u_char *p)
{
	return ((uint16_t)(p[0] << 8 | p[1]));
}

static inline uint32_t
pfmon_be32(const u_char *p)
{
	return ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3]);
}

/* A field in the capturing host's byte order. */
static inline uint16_t
pfmon_he16(const u_char *p, int swapped)
{
	uint16_t	 v;

	memcpy(&v, p, sizeof(v));
	return (swapped ? PFMON_SWAP16(v) : v);
}

static inline uint32_t
pfmon_he32(const u_char *p, int swapped)
{
	uint32_t	 v;

	memcpy(&v, p, sizeof(v));
	return (swapped ? PFMON_SWAP32(v) : v);
}

/*
 * Decode one record of the given DLT captured into pkt[0..caplen).
 * swapped: the record's host-order fields are in the other byte order
 * (see the top of this file).  Returns 0, or -1 with err set.
 */
int
pfmon_decode(int linktype, const u_char *pkt, size_t caplen, int swapped,
    struct pfmon_record *pr, char *err, size_t errlen)
{
	/* pr_prefix is large and needs only its NUL. */
	memset(pr, 0, offsetof(struct pfmon_record, pr_prefix));
	pr->pr_prefix[0] = '\0';
	memset((char *)pr + PFMON_PREFIX_END, 0, sizeof(*pr) -
	    PFMON_PREFIX_END);
	pr->pr_linktype = linktype;
	if (err != NULL && errlen > 0)
		err[0] = '\0';

	switch (linktype) {
	case PFMON_DLT_PFLOG:
		return (pfmon_decode_pflog(pkt, caplen, swapped, pr, err,
		    errlen));
	case PFMON_DLT_NFLOG:
		return (pfmon_decode_nflog(pkt, caplen, swapped, pr, err,
		    errlen));
	}
	return (pfmon_decode_fail(err, errlen,
	    "linktype %d is neither pflog (%d) nor nflog (%d)", linktype,
	    PFMON_DLT_PFLOG, PFMON_DLT_NFLOG));
}

static int
pfmon_decode_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	 ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return (-1);
}

static int
pfmon_decode_pflog(const u_char *p, size_t caplen, int swapped,
    struct pfmon_record *pr, char *err, size_t errlen)
{
	size_t	 hdrlen;
	int	 family;

	if (caplen < 1)
		return (pfmon_decode_fail(err, errlen, "pflog: empty record"));
	if (p[0] != PFMON_PFLOG_DARWIN && p[0] != PFMON_PFLOG_FREEBSD &&
	    p[0] != PFMON_PFLOG_OPENBSD)
		return (pfmon_decode_fail(err, errlen,
		    "pflog: header length %u, want 61, 69 or 100", p[0]));
	hdrlen = PFMON_ALIGN4(p[0]);
	if (caplen < hdrlen)
		return (pfmon_decode_fail(err, errlen,
		    "pflog: %zu bytes captured, the %u-byte header needs %zu",
		    caplen, p[0], hdrlen));
	switch (p[PFLOG_AF]) {
	case BSD_AF_INET:
		family = AF_INET;
		break;
	case BSD_AF_INET6_BSD:
	case BSD_AF_INET6_FREEBSD:
	case BSD_AF_INET6_DARWIN:
		family = AF_INET6;
		break;
	default:
		return (pfmon_decode_fail(err, errlen, "pflog: address family "
		    "%u, want 2 (inet) or 24, 28, 30 (inet6)", p[PFLOG_AF]));
	}
	pfmon_decode_pflog_fields(p, swapped, pr);
	return (pfmon_decode_ip(p + hdrlen, caplen - hdrlen, family, pr, err,
	    errlen));
}

/* The header fields and the uid, from the record or its anchor. */
static void
pfmon_decode_pflog_fields(const u_char *p, int swapped,
    struct pfmon_record *pr)
{
	size_t	 n;
	uint32_t uid;

	pr->pr_hdrlen = p[0];
	pr->pr_action = p[PFLOG_ACTION];
	pr->pr_reason = p[PFLOG_REASON];
	pr->pr_dir = p[PFLOG_DIR];
	pfmon_decode_name(pr->pr_ifname, p + PFLOG_IFNAME, PFMON_IFNAMSIZ);
	n = pfmon_decode_name(pr->pr_ruleset, p + PFLOG_RULESET,
	    PFMON_IFNAMSIZ);
	pr->pr_rulenr = pfmon_be32(p + PFLOG_RULENR);
	pr->pr_subrulenr = pfmon_be32(p + PFLOG_SUBRULENR);
	uid = pfmon_he32(p + PFLOG_UID, swapped);
	pr->pr_pid = (int32_t)pfmon_he32(p + PFLOG_PID, swapped);
	pr->pr_rule_uid = pfmon_he32(p + PFLOG_RULE_UID, swapped);
	pr->pr_rule_pid = (int32_t)pfmon_he32(p + PFLOG_RULE_PID, swapped);

	if (uid != PFMON_NOUID && !(p[0] == PFMON_PFLOG_DARWIN &&
	    uid == PFMON_NOUID_DARWIN)) {
		pr->pr_has_uid = 1;
		pr->pr_uid = uid;
	} else if (n < PFMON_IFNAMSIZ - 1 &&
	    pfmon_decode_uidname(pr->pr_ruleset, n, &uid) == 0) {
		/* Shorter than 15: strlcpy did not cut it. */
		pr->pr_has_uid = 1;
		pr->pr_uid = uid;
		pr->pr_uid_from_anchor = 1;
	}
}

static int
pfmon_decode_nflog(const u_char *p, size_t caplen, int swapped,
    struct pfmon_record *pr, char *err, size_t errlen)
{
	const u_char	*payload = NULL;
	size_t		 plen = 0;
	uint32_t	 uid;
	int		 family;

	if (caplen < NFLOG_HDRLEN)
		return (pfmon_decode_fail(err, errlen,
		    "nflog: %zu bytes captured, the header needs %d", caplen,
		    NFLOG_HDRLEN));
	if (p[0] == LINUX_AF_INET)
		family = AF_INET;
	else if (p[0] == LINUX_AF_INET6)
		family = AF_INET6;
	else
		return (pfmon_decode_fail(err, errlen,
		    "nflog: family %u, want 2 (inet) or 10 (inet6)", p[0]));
	if (p[1] != 0)
		return (pfmon_decode_fail(err, errlen,
		    "nflog: version %u, want 0", p[1]));
	pr->pr_group = pfmon_be16(p + 2);
	if (pfmon_decode_nflog_tlvs(p, caplen, swapped, pr, &payload, &plen,
	    err, errlen) == -1)
		return (-1);
	if (payload == NULL)
		return (pfmon_decode_fail(err, errlen,
		    "nflog: no PAYLOAD TLV"));
	if (!pr->pr_has_uid && pr->pr_has_prefix &&
	    pfmon_decode_uidname(pr->pr_prefix, strlen(pr->pr_prefix),
	    &uid) == 0) {
		pr->pr_has_uid = 1;
		pr->pr_uid = uid;
		pr->pr_uid_from_anchor = 1;
	}
	return (pfmon_decode_ip(payload, plen, family, pr, err, errlen));
}

/* Walk the TLVs after the header; the PAYLOAD TLV's value is *payload. */
static int
pfmon_decode_nflog_tlvs(const u_char *p, size_t caplen, int swapped,
    struct pfmon_record *pr, const u_char **payload, size_t *plen,
    char *err, size_t errlen)
{
	size_t		 off, len, vlen = 0;
	uint32_t	 seen = 0;
	u_int		 type;
	char		 tb[PFMON_NAME_MAX];

	for (off = NFLOG_HDRLEN; off < caplen; off += PFMON_ALIGN4(len)) {
		if (caplen - off < NFLOG_TLVLEN)
			return (pfmon_decode_fail(err, errlen, "nflog: %zu "
			    "bytes at offset %zu, short of a TLV header",
			    caplen - off, off));
		len = pfmon_he16(p + off, swapped);
		type = pfmon_he16(p + off + 2, swapped) & NFLOG_TYPE_MASK;
		if (pfmon_decode_nflog_len(type, len, off, caplen, &vlen, err,
		    errlen) == -1)
			return (-1);
		if (type < 32 && (seen & (1U << type)))
			return (pfmon_decode_fail(err, errlen,
			    "nflog: duplicate %s TLV at offset %zu",
			    pfmon_decode_nflog_type(type, tb, sizeof(tb)),
			    off));
		if (type < 32)
			seen |= 1U << type;
		if (type == NFULA_PAYLOAD) {
			*payload = p + off + NFLOG_TLVLEN;
			*plen = vlen;
		} else if (pfmon_decode_nflog_tlv(type, p + off + NFLOG_TLVLEN,
		    vlen, off, pr, err, errlen) == -1)
			return (-1);
	}
	return (0);
}

/*
 * Check a TLV's length against the record; *vlen is what is captured
 * of its value.  Only PAYLOAD may be cut short, by the snap length.
 */
static int
pfmon_decode_nflog_len(u_int type, size_t len, size_t off, size_t caplen,
    size_t *vlen, char *err, size_t errlen)
{
	char	 tb[PFMON_NAME_MAX];

	if (len < NFLOG_TLVLEN)
		return (pfmon_decode_fail(err, errlen,
		    "nflog: %s TLV at offset %zu: length %zu < 4",
		    pfmon_decode_nflog_type(type, tb, sizeof(tb)), off, len));
	*vlen = len - NFLOG_TLVLEN;
	if (len <= caplen - off)
		return (0);
	if (type != NFULA_PAYLOAD)
		return (pfmon_decode_fail(err, errlen, "nflog: %s TLV at "
		    "offset %zu: length %zu runs past the %zu bytes captured",
		    pfmon_decode_nflog_type(type, tb, sizeof(tb)), off, len,
		    caplen));
	*vlen = caplen - off - NFLOG_TLVLEN;
	return (0);
}

/* One TLV other than PAYLOAD: v[0..vlen) is its value. */
static int
pfmon_decode_nflog_tlv(u_int type, const u_char *v, size_t vlen,
    size_t off, struct pfmon_record *pr, char *err, size_t errlen)
{
	char	 tb[PFMON_NAME_MAX];

	switch (type) {
	case NFULA_PREFIX:
		return (pfmon_decode_nflog_prefix(v, vlen, off, pr, err,
		    errlen));
	case NFULA_PACKET_HDR:
	case NFULA_MARK:
	case NFULA_IFINDEX_INDEV:
	case NFULA_IFINDEX_OUTDEV:
	case NFULA_UID:
	case NFULA_GID:
		if (vlen != 4)
			return (pfmon_decode_fail(err, errlen, "nflog: %s TLV "
			    "at offset %zu: value length %zu, want 4",
			    pfmon_decode_nflog_type(type, tb, sizeof(tb)), off,
			    vlen));
		break;
	default:
		return (0);	/* not needed: skipped */
	}
	if (type == NFULA_PACKET_HDR) {
		pr->pr_has_hwproto = 1;
		pr->pr_hwproto = pfmon_be16(v);
		pr->pr_hook = v[2];
	} else if (type == NFULA_MARK) {
		pr->pr_has_mark = 1;
		pr->pr_mark = pfmon_be32(v);
	} else if (type == NFULA_IFINDEX_INDEV)
		pr->pr_indev = pfmon_be32(v);
	else if (type == NFULA_IFINDEX_OUTDEV)
		pr->pr_outdev = pfmon_be32(v);
	else if (type == NFULA_UID) {
		pr->pr_has_uid = 1;
		pr->pr_uid = pfmon_be32(v);
	} else {
		pr->pr_has_gid = 1;
		pr->pr_gid = pfmon_be32(v);
	}
	return (0);
}

/* The log prefix: a string whose length counts its NUL. */
static int
pfmon_decode_nflog_prefix(const u_char *v, size_t vlen, size_t off,
    struct pfmon_record *pr, char *err, size_t errlen)
{
	const u_char	*nul;

	if ((nul = memchr(v, '\0', vlen)) == NULL)
		return (pfmon_decode_fail(err, errlen, "nflog: PREFIX TLV at "
		    "offset %zu: no NUL in its %zu bytes", off, vlen));
	if ((size_t)(nul - v) >= PFMON_PREFIX_MAX)
		return (pfmon_decode_fail(err, errlen, "nflog: PREFIX TLV at "
		    "offset %zu: %zu bytes, longer than %d", off,
		    (size_t)(nul - v), PFMON_PREFIX_MAX - 1));
	pfmon_decode_name(pr->pr_prefix, v, nul - v);
	pr->pr_has_prefix = 1;
	return (0);
}

static const char *
pfmon_decode_nflog_type(u_int type, char *buf, size_t len)
{
	if (type < nitems(pfmon_nflog_types))
		return (pfmon_nflog_types[type]);
	snprintf(buf, len, "type-%u", type);
	return (buf);
}

/* The IP packet p[0..caplen), of the family the link header gave. */
static int
pfmon_decode_ip(const u_char *p, size_t caplen, int family,
    struct pfmon_record *pr, char *err, size_t errlen)
{
	pr->pr_family = family;
	pr->pr_caplen = caplen > UINT32_MAX ? UINT32_MAX : caplen;
	if (family == AF_INET)
		return (pfmon_decode_ip4(p, caplen, pr, err, errlen));
	return (pfmon_decode_ip6(p, caplen, pr, err, errlen));
}

static int
pfmon_decode_ip4(const u_char *p, size_t caplen, struct pfmon_record *pr,
    char *err, size_t errlen)
{
	size_t	 hlen, end;

	if (caplen < 20)
		return (pfmon_decode_fail(err, errlen,
		    "ip: %zu bytes captured, the header needs 20", caplen));
	if (p[0] >> 4 != 4)
		return (pfmon_decode_fail(err, errlen,
		    "ip: version %u in an inet record", p[0] >> 4));
	hlen = (size_t)(p[0] & 0x0f) * 4;
	if (hlen < 20)
		return (pfmon_decode_fail(err, errlen,
		    "ip: header length %zu < 20", hlen));
	pr->pr_len = pfmon_be16(p + 2);
	if (pr->pr_len < hlen)
		return (pfmon_decode_fail(err, errlen,
		    "ip: total length %u < header length %zu", pr->pr_len,
		    hlen));
	pr->pr_proto = p[9];
	memcpy(&pr->pr_src.v4, p + 12, sizeof(pr->pr_src.v4));
	memcpy(&pr->pr_dst.v4, p + 16, sizeof(pr->pr_dst.v4));
	if ((pfmon_be16(p + 6) & 0x1fff) != 0) {
		pr->pr_fragment = 1;	/* no transport header here */
		return (0);
	}
	end = caplen < pr->pr_len ? caplen : pr->pr_len;
	pfmon_decode_l4(p, hlen, end, pr);
	return (0);
}

/* IPv6 and its extension headers, up to the upper protocol. */
static int
pfmon_decode_ip6(const u_char *p, size_t caplen, struct pfmon_record *pr,
    char *err, size_t errlen)
{
	size_t	 off = 0, end;
	int	 r;

	if (caplen < 40)
		return (pfmon_decode_fail(err, errlen,
		    "ip6: %zu bytes captured, the header needs 40", caplen));
	if (p[0] >> 4 != 6)
		return (pfmon_decode_fail(err, errlen,
		    "ip6: version %u in an inet6 record", p[0] >> 4));
	pr->pr_len = 40 + pfmon_be16(p + 4);
	memcpy(&pr->pr_src.v6, p + 8, sizeof(pr->pr_src.v6));
	memcpy(&pr->pr_dst.v6, p + 24, sizeof(pr->pr_dst.v6));
	end = caplen < pr->pr_len ? caplen : pr->pr_len;
	if ((r = pfmon_decode_ip6_chain(p, end, pr, &off, err, errlen)) != 1)
		return (r);
	pfmon_decode_l4(p, off, end, pr);
	return (0);
}

/*
 * Walk the extension headers in p[40..end), setting pr_proto as it
 * goes.  Returns 1 with *off at the upper protocol's header, 0 if the
 * walk stops early (captured short, a later fragment), or -1.
 */
static int
pfmon_decode_ip6_chain(const u_char *p, size_t end, struct pfmon_record *pr,
    size_t *off, char *err, size_t errlen)
{
	size_t	 o, need;
	int	 i;

	for (i = 0, o = 40, pr->pr_proto = p[6];; i++) {
		if (pr->pr_proto != IP6_HOPOPTS &&
		    pr->pr_proto != IP6_ROUTING &&
		    pr->pr_proto != IP6_FRAGMENT &&
		    pr->pr_proto != IP6_AH && pr->pr_proto != IP6_DSTOPTS)
			break;
		if (i == PFMON_IP6_EXT_MAX)
			return (pfmon_decode_fail(err, errlen,
			    "ip6: more than %d extension headers",
			    PFMON_IP6_EXT_MAX));
		need = pr->pr_proto == IP6_FRAGMENT ? 8 : 2;
		if (o + need > pr->pr_len)
			return (pfmon_decode_fail(err, errlen, "ip6: extension "
			    "header %u at offset %zu: past the IP length %u",
			    pr->pr_proto, o, pr->pr_len));
		if (o + need > end)
			return (0);		/* captured short */
		if (pr->pr_proto == IP6_FRAGMENT &&
		    (pfmon_be16(p + o + 2) & 0xfff8) != 0) {
			pr->pr_proto = p[o];	/* no transport header here */
			pr->pr_fragment = 1;
			return (0);
		}
		if (pr->pr_proto == IP6_AH)
			need = ((size_t)p[o + 1] + 2) * 4;
		else if (pr->pr_proto != IP6_FRAGMENT)
			need = ((size_t)p[o + 1] + 1) * 8;
		if (o + need > pr->pr_len)
			return (pfmon_decode_fail(err, errlen, "ip6: extension "
			    "header %u ends at offset %zu: past the IP length "
			    "%u", pr->pr_proto, o + need, pr->pr_len));
		pr->pr_proto = p[o];
		o += need;
	}
	*off = o;
	return (1);
}

/* Ports or ICMP type at p[off], if captured before end. */
static void
pfmon_decode_l4(const u_char *p, size_t off, size_t end,
    struct pfmon_record *pr)
{
	switch (pr->pr_proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
		if (off + 4 > end)
			return;
		pr->pr_has_ports = 1;
		pr->pr_sport = pfmon_be16(p + off);
		pr->pr_dport = pfmon_be16(p + off + 2);
		return;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		if ((pr->pr_proto == IPPROTO_ICMP) !=
		    (pr->pr_family == AF_INET) || off + 2 > end)
			return;
		pr->pr_has_icmp = 1;
		pr->pr_icmp_type = p[off];
		pr->pr_icmp_code = p[off + 1];
		return;
	}
}

/*
 * Copy a fixed-size name field up to its first NUL, printable ASCII
 * only; dst has room for n + 1.  Returns the length copied.
 */
static size_t
pfmon_decode_name(char *dst, const u_char *src, size_t n)
{
	size_t	 i;

	for (i = 0; i < n && src[i] != '\0'; i++)
		dst[i] = src[i] >= 0x20 && src[i] < 0x7f ? (char)src[i] : '?';
	dst[i] = '\0';
	return (i);
}

/* The uid in a name whose last '/' component is exactly uid_<N>. */
static int
pfmon_decode_uidname(const char *s, size_t len, uint32_t *uid)
{
	const char	*c;
	size_t		 i, n;
	uint64_t	 v = 0;

	for (i = len; i > 0 && s[i - 1] != '/'; i--)
		;
	c = s + i;
	n = len - i;
	if (n <= strlen(SBXD_UID_PREFIX) || memcmp(c, SBXD_UID_PREFIX,
	    strlen(SBXD_UID_PREFIX)) != 0)
		return (-1);
	c += strlen(SBXD_UID_PREFIX);
	n -= strlen(SBXD_UID_PREFIX);
	if (n > 10 || (c[0] == '0' && n > 1))
		return (-1);
	for (i = 0; i < n; i++) {
		if (c[i] < '0' || c[i] > '9')
			return (-1);
		v = v * 10 + (uint64_t)(c[i] - '0');
	}
	if (v > UINT32_MAX)
		return (-1);
	*uid = (uint32_t)v;
	return (0);
}

static const char *
pfmon_decode_lookup(const char *const *common, size_t ncommon,
    const char *const *tail, size_t ntail, uint8_t v, const char *what,
    char *buf, size_t len)
{
	if (v < ncommon)
		return (common[v]);
	if (v - ncommon < ntail)
		return (tail[v - ncommon]);
	snprintf(buf, len, "%s-%u", what, v);
	return (buf);
}

/* tcpdump's name of a pflog action, for layout hdrlen; may use buf. */
const char *
pfmon_action_name(uint8_t hdrlen, uint8_t action, char *buf, size_t len)
{
	if (hdrlen == PFMON_PFLOG_OPENBSD)
		return (pfmon_decode_lookup(pfmon_actions,
		    nitems(pfmon_actions), pfmon_actions_openbsd,
		    nitems(pfmon_actions_openbsd), action, "action", buf, len));
	if (hdrlen == PFMON_PFLOG_FREEBSD)
		return (pfmon_decode_lookup(pfmon_actions,
		    nitems(pfmon_actions), pfmon_actions_freebsd,
		    nitems(pfmon_actions_freebsd), action, "action", buf, len));
	return (pfmon_decode_lookup(pfmon_actions, nitems(pfmon_actions),
	    pfmon_actions_darwin, nitems(pfmon_actions_darwin), action,
	    "action", buf, len));
}

/* tcpdump's name of a pflog reason, without its number; may use buf. */
const char *
pfmon_reason_name(uint8_t hdrlen, uint8_t reason, char *buf, size_t len)
{
	if (hdrlen == PFMON_PFLOG_OPENBSD)
		return (pfmon_decode_lookup(pfmon_reasons,
		    nitems(pfmon_reasons), pfmon_reasons_openbsd,
		    nitems(pfmon_reasons_openbsd), reason, "reason", buf, len));
	if (hdrlen == PFMON_PFLOG_FREEBSD)
		return (pfmon_decode_lookup(pfmon_reasons,
		    nitems(pfmon_reasons), pfmon_reasons_freebsd,
		    nitems(pfmon_reasons_freebsd), reason, "reason", buf, len));
	return (pfmon_decode_lookup(pfmon_reasons, nitems(pfmon_reasons),
	    pfmon_reasons_darwin, nitems(pfmon_reasons_darwin), reason,
	    "reason", buf, len));
}

/* tcpdump's name of a pflog direction; may use buf. */
const char *
pfmon_dir_name(uint8_t hdrlen, uint8_t dir, char *buf, size_t len)
{
	return (pfmon_decode_lookup(pfmon_dirs, nitems(pfmon_dirs),
	    pfmon_dirs_openbsd, hdrlen == PFMON_PFLOG_OPENBSD ?
	    nitems(pfmon_dirs_openbsd) : 0, dir, "dir", buf, len));
}

/* The name of an IP protocol sbxd reports by name, else NULL. */
const char *
pfmon_proto_name(uint8_t proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return ("tcp");
	case IPPROTO_UDP:
		return ("udp");
	case IPPROTO_ICMP:
		return ("icmp");
	case IPPROTO_ICMPV6:
		return ("icmp6");
	}
	return (NULL);
}

/* The record as sbxd -r prints it, or NULL if out of memory. */
json_t *
pfmon_record_json(const struct pfmon_record *pr)
{
	json_t		*o;
	const char	*name;
	char		 src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];

	if (inet_ntop(pr->pr_family, &pr->pr_src, src, sizeof(src)) == NULL ||
	    inet_ntop(pr->pr_family, &pr->pr_dst, dst, sizeof(dst)) == NULL)
		return (NULL);
	if ((o = json_object()) == NULL)
		return (NULL);
	name = pfmon_proto_name(pr->pr_proto);
	if (pfmon_json_set(o, "linktype", json_string(pr->pr_linktype ==
	    PFMON_DLT_PFLOG ? "pflog" : "nflog")) == -1 ||
	    pfmon_json_set(o, "uid", pr->pr_has_uid ?
	    json_integer(pr->pr_uid) : json_null()) == -1 ||
	    pfmon_json_set(o, "family", json_string(pr->pr_family ==
	    AF_INET ? "inet" : "inet6")) == -1 ||
	    pfmon_json_set(o, "proto", name != NULL ? json_string(name) :
	    json_integer(pr->pr_proto)) == -1 ||
	    pfmon_json_set(o, "src", json_string(src)) == -1 ||
	    pfmon_json_set(o, "dst", json_string(dst)) == -1 ||
	    (pr->pr_has_ports &&
	    (pfmon_json_set(o, "sport", json_integer(pr->pr_sport)) == -1 ||
	    pfmon_json_set(o, "dport", json_integer(pr->pr_dport)) == -1)) ||
	    (pr->pr_has_icmp &&
	    (pfmon_json_set(o, "icmp_type",
	    json_integer(pr->pr_icmp_type)) == -1 ||
	    pfmon_json_set(o, "icmp_code",
	    json_integer(pr->pr_icmp_code)) == -1)) ||
	    pfmon_json_set(o, "len", json_integer(pr->pr_len)) == -1 ||
	    (pr->pr_linktype == PFMON_DLT_PFLOG ? pfmon_json_pflog(o, pr) :
	    pfmon_json_nflog(o, pr)) == -1) {
		json_decref(o);
		return (NULL);
	}
	return (o);
}

/* Set key to v, which may be NULL after a failed allocation. */
static int
pfmon_json_set(json_t *o, const char *key, json_t *v)
{
	if (v == NULL)
		return (-1);
	return (json_object_set_new(o, key, v));
}

static int
pfmon_json_pflog(json_t *o, const struct pfmon_record *pr)
{
	char	 buf[PFMON_NAME_MAX];

	if (pfmon_json_set(o, "action", json_string(pfmon_action_name(
	    pr->pr_hdrlen, pr->pr_action, buf, sizeof(buf)))) == -1 ||
	    pfmon_json_set(o, "dir", json_string(pfmon_dir_name(
	    pr->pr_hdrlen, pr->pr_dir, buf, sizeof(buf)))) == -1 ||
	    pfmon_json_set(o, "ifname", json_string(pr->pr_ifname)) == -1 ||
	    pfmon_json_set(o, "ruleset", json_string(pr->pr_ruleset)) == -1 ||
	    pfmon_json_set(o, "rulenr", json_integer(pr->pr_rulenr)) == -1 ||
	    pfmon_json_set(o, "reason", json_string(pfmon_reason_name(
	    pr->pr_hdrlen, pr->pr_reason, buf, sizeof(buf)))) == -1)
		return (-1);
	return (0);
}

static int
pfmon_json_nflog(json_t *o, const struct pfmon_record *pr)
{
	if (pfmon_json_set(o, "prefix", pr->pr_has_prefix ?
	    json_string(pr->pr_prefix) : json_null()) == -1 ||
	    pfmon_json_set(o, "gid", pr->pr_has_gid ?
	    json_integer(pr->pr_gid) : json_null()) == -1)
		return (-1);
	return (0);
}

/*
 * Write into buf a pcap savefile in the byte order opposite to this
 * host's, holding one record of linktype whose host-order fields are in
 * that order and whose uid is PFMON_PROBE_UID.  Returns its length, or
 * 0 if the linktype is unknown or len too small.
 */
size_t
pfmon_decode_probe(int linktype, u_char *buf, size_t len)
{
	size_t	 rec;

	if ((linktype != PFMON_DLT_PFLOG && linktype != PFMON_DLT_NFLOG) ||
	    len < PFMON_PROBE_MAX)
		return (0);
	memset(buf, 0, PFMON_PROBE_MAX);
	pfmon_probe_put32(buf, 0xa1b2c3d4);	/* pcap magic, microseconds */
	pfmon_probe_put16(buf + 4, 2);		/* version 2.4 */
	pfmon_probe_put16(buf + 6, 4);
	pfmon_probe_put32(buf + 16, 65535);	/* snaplen */
	pfmon_probe_put32(buf + 20, (uint32_t)linktype);
	rec = pfmon_probe_record(linktype, buf + 24 + 16);
	pfmon_probe_put32(buf + 24 + 8, (uint32_t)rec);	/* caplen */
	pfmon_probe_put32(buf + 24 + 12, (uint32_t)rec);	/* len */
	return (24 + 16 + rec);
}

/* The probe's record at r, zeroed; returns its length. */
static size_t
pfmon_probe_record(int linktype, u_char *r)
{
	static const u_char	 ip[] = {	/* UDP 127.0.0.1:12345 */
		0x45, 0, 0, 28, 0, 0, 0, 0, 64, IPPROTO_UDP, 0, 0,
		127, 0, 0, 1, 127, 0, 0, 1, 0x30, 0x39, 0x30, 0x39, 0, 8, 0, 0
	};

	if (linktype == PFMON_DLT_PFLOG) {
		r[0] = PFMON_PFLOG_DARWIN;
		r[PFLOG_AF] = BSD_AF_INET;
		memcpy(r + PFLOG_IFNAME, "lo0", 3);
		memset(r + PFLOG_SUBRULENR, 0xff, 4);
		pfmon_probe_put32(r + PFLOG_UID, PFMON_PROBE_UID);
		pfmon_probe_put32(r + PFLOG_PID, 1);
		pfmon_probe_put32(r + PFLOG_RULE_UID, PFMON_NOUID);
		pfmon_probe_put32(r + PFLOG_RULE_PID, PFMON_NOUID);
		r[PFLOG_DIR] = 2;
		memcpy(r + PFMON_ALIGN4(PFMON_PFLOG_DARWIN), ip, sizeof(ip));
		return (PFMON_ALIGN4(PFMON_PFLOG_DARWIN) + sizeof(ip));
	}
	r[0] = LINUX_AF_INET;
	pfmon_probe_put16(r + 4, NFLOG_TLVLEN + 4);
	pfmon_probe_put16(r + 6, NFULA_UID);
	r[8] = PFMON_PROBE_UID >> 24;		/* the value is big-endian */
	r[9] = (PFMON_PROBE_UID >> 16) & 0xff;
	r[10] = (PFMON_PROBE_UID >> 8) & 0xff;
	r[11] = PFMON_PROBE_UID & 0xff;
	pfmon_probe_put16(r + 12, NFLOG_TLVLEN + sizeof(ip));
	pfmon_probe_put16(r + 14, NFULA_PAYLOAD);
	memcpy(r + 16, ip, sizeof(ip));
	return (16 + sizeof(ip));
}

/* Store v in the byte order opposite to this host's. */
static void
pfmon_probe_put16(u_char *p, uint16_t v)
{
	v = PFMON_SWAP16(v);
	memcpy(p, &v, sizeof(v));
}

static void
pfmon_probe_put32(u_char *p, uint32_t v)
{
	v = PFMON_SWAP32(v);
	memcpy(p, &v, sizeof(v));
}

/*
 * Given the probe record as libpcap returned it: 1 if the decoder must
 * still swap host-order fields of this linktype (pass swapped =
 * pcap_is_swapped()), 0 if libpcap converted them (pass 0), -1 if the
 * record reads neither way.
 */
int
pfmon_decode_probe_check(int linktype, const u_char *pkt, size_t caplen)
{
	struct pfmon_record	 pr;

	if (pfmon_decode(linktype, pkt, caplen, 0, &pr, NULL, 0) == 0 &&
	    pr.pr_has_uid && pr.pr_uid == PFMON_PROBE_UID)
		return (0);
	if (pfmon_decode(linktype, pkt, caplen, 1, &pr, NULL, 0) == 0 &&
	    pr.pr_has_uid && pr.pr_uid == PFMON_PROBE_UID)
		return (1);
	return (-1);
}
