/*
 * pfmon_offline.c: sbxd -r, which reads a saved capture of pflog or
 * nflog records and prints each one as a compact JSON object on its own
 * line, the same object pfmon_record_json() builds.  A record the
 * decoder rejects prints {"record":N,"error":"..."} and reading goes
 * on.  A capture holds millions of records, so each line is formatted
 * by hand straight into one large output buffer (no allocation per
 * record, one write per megabyte); the unit tests check that the text
 * is byte for byte what jansson makes of pfmon_record_json().
 *
 * A classic pcap file (the format pflogd and tcpdump -w write) is
 * mapped and walked here, which saves libpcap's two copies of every
 * record; the decoder then swaps the host-order fields itself when the
 * file is in the other byte order.  Anything else (pcapng, a pipe) goes
 * through libpcap, and the probe in pfmon_decode.c says whether that
 * libpcap already swapped those fields.
 */

#include <sys/types.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "pfmon.h"

#define PFMON_OUTBUF		(1024 * 1024)	/* lines are formatted here:
						   few large writes */
#define PFMON_INBUF		(1024 * 1024)	/* the capture's stdio buffer:
						   libpcap freads each record */
#define PFMON_LINE_MAX		2048	/* one record's line: the longest
					   (an nflog prefix of 127 quotes,
					   escaped) needs about 600 */
#define PFMON_UINT_MAX		24	/* digits of a uint64_t, and a sign */
#define PFMON_SWAP32(x)		(((x) >> 24) | (((x) >> 8) & 0xff00) | \
				    (((x) << 8) & 0xff0000) | ((x) << 24))
#define PFMON_PCAP_MAGIC	0xa1b2c3d4U	/* microsecond timestamps */
#define PFMON_PCAP_MAGIC_NS	0xa1b23c4dU	/* nanosecond timestamps */
#define PFMON_PCAP_HDRLEN	24	/* file header */
#define PFMON_PCAP_RECLEN	16	/* record header */
#define PFMON_PCAP_LINKTYPE(x)	((x) & 0x03ffffff) /* the rest: FCS bits */
#ifndef MAP_POPULATE
#define MAP_POPULATE		0
#endif
#define PFMON_POPULATE_MAX	(1024 * 1024 * 1024) /* files up to this
					   are faulted in at once, not page
					   by page: a third faster */
#define PFMON_CAPLEN_MAX	262144	/* libpcap's MAXIMUM_SNAPLEN: a
					   larger caplen means a bad file */

struct pfmon_jbuf {
	char		*jb_p;
	char		*jb_end;
	int		 jb_full;	/* something did not fit */
};

struct pfmon_offline {
	FILE		*po_out;
	char		*po_buf;	/* lines not yet written to po_out */
	size_t		 po_len;
	int		 po_dlt;
	int		 po_swapped;
	unsigned long long po_n;	/* records read, from 1 */
	unsigned long long po_errors;
	int		 po_outerr;	/* a write failed */
};

static void	pfmon_offline_cb(u_char *, const struct pcap_pkthdr *,
		    const u_char *);
static void	pfmon_offline_flush(struct pfmon_offline *);
static pcap_t	*pfmon_offline_open(const char *, char *);
static int	pfmon_offline_map(struct pfmon_offline *, const char *, int *);
static int	pfmon_offline_walk(struct pfmon_offline *, const char *,
		    const u_char *, size_t, int);
static int	pfmon_offline_pcap(struct pfmon_offline *, const char *);
static uint32_t	pfmon_offline_get32(const u_char *, int);
static inline void jb_raw(struct pfmon_jbuf *, const char *, size_t);
static inline void jb_lit(struct pfmon_jbuf *, const char *);
static inline void jb_name(struct pfmon_jbuf *, const char *);
static void	jb_str(struct pfmon_jbuf *, const char *);
static void	jb_uint(struct pfmon_jbuf *, uint64_t);
static void	jb_null_or_uint(struct pfmon_jbuf *, int, uint64_t);
static void	jb_addr(struct pfmon_jbuf *, int, const union pfmon_addr *);
static char	*jb_ip4(char *, const u_char *);
static int	jb_ip6(char *, const u_char *);
static void	jb_pflog(struct pfmon_jbuf *, const struct pfmon_record *);
static void	jb_nflog(struct pfmon_jbuf *, const struct pfmon_record *);
static size_t	jb_end(struct pfmon_jbuf *, char *);

/*
 * Print every record of the capture at path (pflog or nflog) as a JSON
 * line on out.  Returns 0, or 1 with a message on stderr if the file
 * cannot be read, its link type is not supported, or out fails.
 */
int
pfmon_offline(const char *path, FILE *out)
{
	struct pfmon_offline	 po;
	int			 r, mapped = 0;

	memset(&po, 0, sizeof(po));
	po.po_out = out;
	if ((po.po_buf = malloc(PFMON_OUTBUF)) == NULL) {
		fprintf(stderr, "sbxd: out of memory\n");
		return (1);
	}
	if ((r = pfmon_offline_map(&po, path, &mapped)) == 0 && !mapped)
		r = pfmon_offline_pcap(&po, path);
	pfmon_offline_flush(&po);
	free(po.po_buf);
	if (r == 0 && (fflush(out) == EOF || ferror(out) || po.po_outerr)) {
		fprintf(stderr, "sbxd: write: %s\n", strerror(errno));
		r = -1;
	}
	return (r == 0 ? 0 : 1);
}

/*
 * Walk a classic pcap file in place.  Sets *mapped and returns 0 or
 * -1 if it was one; returns 0 with *mapped unset for anything else.
 */
static int
pfmon_offline_map(struct pfmon_offline *po, const char *path, int *mapped)
{
	struct stat	 st;
	u_char		*m;
	uint32_t	 magic;
	int		 fd, foreign, r;

	if (strcmp(path, "-") == 0 || (fd = open(path, O_RDONLY)) == -1)
		return (0);	/* libpcap says why */
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size < PFMON_PCAP_HDRLEN ||
	    (uintmax_t)st.st_size > SIZE_MAX) {
		close(fd);
		return (0);
	}
	if ((m = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE |
	    (st.st_size <= PFMON_POPULATE_MAX ? MAP_POPULATE : 0), fd, 0)) ==
	    MAP_FAILED) {
		close(fd);
		return (0);
	}
	close(fd);
	memcpy(&magic, m, sizeof(magic));
	if (magic == PFMON_PCAP_MAGIC || magic == PFMON_PCAP_MAGIC_NS)
		foreign = 0;
	else if (magic == PFMON_SWAP32(PFMON_PCAP_MAGIC) ||
	    magic == PFMON_SWAP32(PFMON_PCAP_MAGIC_NS))
		foreign = 1;
	else {
		munmap(m, st.st_size);
		return (0);
	}
	*mapped = 1;
	madvise(m, st.st_size, MADV_SEQUENTIAL);
	r = pfmon_offline_walk(po, path, m, st.st_size, foreign);
	munmap(m, st.st_size);
	return (r);
}

/* Every record of the mapped file m[0..len). */
static int
pfmon_offline_walk(struct pfmon_offline *po, const char *path,
    const u_char *m, size_t len, int foreign)
{
	struct pcap_pkthdr	 h;
	size_t			 off;

	po->po_dlt = PFMON_PCAP_LINKTYPE(pfmon_offline_get32(m + 20,
	    foreign));
	if (po->po_dlt != PFMON_DLT_PFLOG && po->po_dlt != PFMON_DLT_NFLOG) {
		fprintf(stderr, "sbxd: %s: link type %d (%s) is not pflog "
		    "(%d) or nflog (%d)\n", path, po->po_dlt,
		    pcap_datalink_val_to_name(po->po_dlt) != NULL ?
		    pcap_datalink_val_to_name(po->po_dlt) : "unknown",
		    PFMON_DLT_PFLOG, PFMON_DLT_NFLOG);
		return (-1);
	}
	po->po_swapped = foreign;
	memset(&h, 0, sizeof(h));
	for (off = PFMON_PCAP_HDRLEN; off < len; off += h.caplen) {
		if (len - off < PFMON_PCAP_RECLEN) {
			pfmon_offline_flush(po);
			fprintf(stderr, "sbxd: %s: after record %llu: "
			    "truncated record header\n", path, po->po_n);
			return (-1);
		}
		h.caplen = pfmon_offline_get32(m + off + 8, foreign);
		h.len = pfmon_offline_get32(m + off + 12, foreign);
		off += PFMON_PCAP_RECLEN;
		if (h.caplen > PFMON_CAPLEN_MAX || h.caplen > len - off) {
			pfmon_offline_flush(po);
			fprintf(stderr, "sbxd: %s: after record %llu: "
			    "record of %u bytes, %s\n", path, po->po_n,
			    h.caplen, h.caplen > PFMON_CAPLEN_MAX ?
			    "longer than any capture" : "truncated file");
			return (-1);
		}
		pfmon_offline_cb((u_char *)po, &h, m + off);
	}
	return (0);
}

static uint32_t
pfmon_offline_get32(const u_char *p, int foreign)
{
	uint32_t	 v;

	memcpy(&v, p, sizeof(v));
	return (foreign ? PFMON_SWAP32(v) : v);
}

/* Any other capture, through libpcap. */
static int
pfmon_offline_pcap(struct pfmon_offline *po, const char *path)
{
	char	 errbuf[PCAP_ERRBUF_SIZE];
	pcap_t	*p;
	int	 need;

	if ((p = pfmon_offline_open(path, errbuf)) == NULL) {
		fprintf(stderr, "sbxd: %s: %s\n", path, errbuf);
		return (-1);
	}
	po->po_dlt = pcap_datalink(p);
	if (po->po_dlt != PFMON_DLT_PFLOG && po->po_dlt != PFMON_DLT_NFLOG) {
		fprintf(stderr, "sbxd: %s: link type %d (%s) is not pflog "
		    "(%d) or nflog (%d)\n", path, po->po_dlt,
		    pcap_datalink_val_to_name(po->po_dlt) != NULL ?
		    pcap_datalink_val_to_name(po->po_dlt) : "unknown",
		    PFMON_DLT_PFLOG, PFMON_DLT_NFLOG);
		goto fail;
	}
	if ((need = pfmon_offline_probe(po->po_dlt)) == -1) {
		fprintf(stderr, "sbxd: %s: cannot tell how this libpcap "
		    "reads byte-swapped records\n", path);
		goto fail;
	}
	po->po_swapped = pcap_is_swapped(p) && need;
	if (pcap_loop(p, -1, pfmon_offline_cb, (u_char *)po) == -1) {
		pfmon_offline_flush(po);
		fprintf(stderr, "sbxd: %s: after record %llu: %s\n", path,
		    po->po_n, pcap_geterr(p));
		goto fail;
	}
	pcap_close(p);
	return (0);
 fail:
	pcap_close(p);
	return (-1);
}

/* The capture, read through a large stdio buffer; "-" is stdin. */
static pcap_t *
pfmon_offline_open(const char *path, char *errbuf)
{
	FILE	*fp;
	pcap_t	*p;

	if (strcmp(path, "-") == 0)
		return (pcap_open_offline(path, errbuf));
	if ((fp = fopen(path, "rb")) == NULL) {
		snprintf(errbuf, PCAP_ERRBUF_SIZE, "%s", strerror(errno));
		return (NULL);
	}
	setvbuf(fp, NULL, _IOFBF, PFMON_INBUF);
	if ((p = pcap_fopen_offline(fp, errbuf)) == NULL)
		fclose(fp);
	return (p);		/* pcap_close() closes fp */
}

/*
 * 1 if this libpcap leaves the host-order fields of linktype to the
 * decoder, 0 if it converts them itself, -1 if it cannot be told: it
 * reads the decoder's probe savefile (see pfmon_decode.c).
 */
int
pfmon_offline_probe(int linktype)
{
	u_char			 buf[PFMON_PROBE_MAX];
	char			 errbuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr	*h;
	const u_char		*pkt;
	pcap_t			*p;
	FILE			*fp;
	size_t			 n;
	int			 r = -1;

	if ((n = pfmon_decode_probe(linktype, buf, sizeof(buf))) == 0 ||
	    (fp = fmemopen(buf, n, "r")) == NULL)
		return (-1);
	if ((p = pcap_fopen_offline(fp, errbuf)) == NULL) {
		fclose(fp);
		return (-1);
	}
	if (pcap_next_ex(p, &h, &pkt) == 1)
		r = pfmon_decode_probe_check(linktype, pkt, h->caplen);
	pcap_close(p);		/* closes fp */
	return (r);
}

/* Format one record into the output buffer. */
static void
pfmon_offline_cb(u_char *arg, const struct pcap_pkthdr *h,
    const u_char *pkt)
{
	struct pfmon_offline	*po = (struct pfmon_offline *)arg;
	struct pfmon_record	 pr;
	char			 err[PFMON_ERR_MAX], *line;
	size_t			 n, room;

	if (PFMON_OUTBUF - po->po_len < PFMON_LINE_MAX)
		pfmon_offline_flush(po);
	line = po->po_buf + po->po_len;
	room = PFMON_LINE_MAX - 1;	/* and the newline */
	po->po_n++;
	if (pfmon_decode(po->po_dlt, pkt, h->caplen, po->po_swapped, &pr,
	    err, sizeof(err)) == -1) {
		po->po_errors++;
		n = pfmon_error_format(po->po_n, err, line, room);
	} else
		n = pfmon_record_format(&pr, line, room);
	if (n == 0)
		n = pfmon_error_format(po->po_n, "record too long to print",
		    line, room);
	line[n++] = '\n';
	po->po_len += n;
}

static void
pfmon_offline_flush(struct pfmon_offline *po)
{
	if (po->po_len > 0 &&
	    fwrite(po->po_buf, 1, po->po_len, po->po_out) != po->po_len)
		po->po_outerr = 1;
	po->po_len = 0;
}

/*
 * Format pr into buf as json_dumps(pfmon_record_json(pr), JSON_COMPACT)
 * does, NUL-terminated.  Returns the length, or 0 if it does not fit.
 */
size_t
pfmon_record_format(const struct pfmon_record *pr, char *buf, size_t len)
{
	struct pfmon_jbuf	 jb = { buf, buf + len, 0 };
	const char		*name;

	if (len == 0)
		return (0);
	jb_lit(&jb, pr->pr_linktype == PFMON_DLT_PFLOG ?
	    "{\"linktype\":\"pflog\",\"uid\":" :
	    "{\"linktype\":\"nflog\",\"uid\":");
	jb_null_or_uint(&jb, pr->pr_has_uid, pr->pr_uid);
	jb_lit(&jb, pr->pr_family == AF_INET ?
	    ",\"family\":\"inet\",\"proto\":" :
	    ",\"family\":\"inet6\",\"proto\":");
	if ((name = pfmon_proto_name(pr->pr_proto)) != NULL)
		jb_name(&jb, name);
	else
		jb_uint(&jb, pr->pr_proto);
	jb_lit(&jb, ",\"src\":\"");
	jb_addr(&jb, pr->pr_family, &pr->pr_src);
	jb_lit(&jb, "\",\"dst\":\"");
	jb_addr(&jb, pr->pr_family, &pr->pr_dst);
	jb_lit(&jb, "\"");
	if (pr->pr_has_ports) {
		jb_lit(&jb, ",\"sport\":");
		jb_uint(&jb, pr->pr_sport);
		jb_lit(&jb, ",\"dport\":");
		jb_uint(&jb, pr->pr_dport);
	}
	if (pr->pr_has_icmp) {
		jb_lit(&jb, ",\"icmp_type\":");
		jb_uint(&jb, pr->pr_icmp_type);
		jb_lit(&jb, ",\"icmp_code\":");
		jb_uint(&jb, pr->pr_icmp_code);
	}
	jb_lit(&jb, ",\"len\":");
	jb_uint(&jb, pr->pr_len);
	if (pr->pr_linktype == PFMON_DLT_PFLOG)
		jb_pflog(&jb, pr);
	else
		jb_nflog(&jb, pr);
	jb_lit(&jb, "}");
	return (jb_end(&jb, buf));
}

/* Format {"record":n,"error":err} into buf, as pfmon_record_format. */
size_t
pfmon_error_format(unsigned long long n, const char *err, char *buf,
    size_t len)
{
	struct pfmon_jbuf	 jb = { buf, buf + len, 0 };

	if (len == 0)
		return (0);
	jb_lit(&jb, "{\"record\":");
	jb_uint(&jb, n);
	jb_lit(&jb, ",\"error\":");
	jb_str(&jb, err);
	jb_lit(&jb, "}");
	return (jb_end(&jb, buf));
}

static void
jb_pflog(struct pfmon_jbuf *jb, const struct pfmon_record *pr)
{
	char	 buf[PFMON_NAME_MAX];

	jb_lit(jb, ",\"action\":");
	jb_name(jb, pfmon_action_name(pr->pr_hdrlen, pr->pr_action, buf,
	    sizeof(buf)));
	jb_lit(jb, ",\"dir\":");
	jb_name(jb, pfmon_dir_name(pr->pr_hdrlen, pr->pr_dir, buf,
	    sizeof(buf)));
	jb_lit(jb, ",\"ifname\":");
	jb_str(jb, pr->pr_ifname);
	jb_lit(jb, ",\"ruleset\":");
	jb_str(jb, pr->pr_ruleset);
	jb_lit(jb, ",\"rulenr\":");
	jb_uint(jb, pr->pr_rulenr);
	jb_lit(jb, ",\"reason\":");
	jb_name(jb, pfmon_reason_name(pr->pr_hdrlen, pr->pr_reason, buf,
	    sizeof(buf)));
}

static void
jb_nflog(struct pfmon_jbuf *jb, const struct pfmon_record *pr)
{
	jb_lit(jb, ",\"prefix\":");
	if (pr->pr_has_prefix)
		jb_str(jb, pr->pr_prefix);
	else
		jb_lit(jb, "null");
	jb_lit(jb, ",\"gid\":");
	jb_null_or_uint(jb, pr->pr_has_gid, pr->pr_gid);
}

/* NUL-terminate; the length, or 0 if something did not fit. */
static size_t
jb_end(struct pfmon_jbuf *jb, char *buf)
{
	if (jb->jb_full || jb->jb_p >= jb->jb_end) {
		buf[0] = '\0';
		return (0);
	}
	*jb->jb_p = '\0';
	return (jb->jb_p - buf);
}

static inline void
jb_raw(struct pfmon_jbuf *jb, const char *s, size_t n)
{
	if (jb->jb_full || (size_t)(jb->jb_end - jb->jb_p) <= n) {
		jb->jb_full = 1;
		return;
	}
	memcpy(jb->jb_p, s, n);
	jb->jb_p += n;
}

static inline void
jb_lit(struct pfmon_jbuf *jb, const char *s)
{
	jb_raw(jb, s, strlen(s));
}

/* A string from the decoder's name tables: nothing to escape. */
static inline void
jb_name(struct pfmon_jbuf *jb, const char *s)
{
	jb_raw(jb, "\"", 1);
	jb_lit(jb, s);
	jb_raw(jb, "\"", 1);
}

/* A JSON string, escaped as jansson escapes it without flags. */
static void
jb_str(struct pfmon_jbuf *jb, const char *s)
{
	char		 esc[8];
	const char	*run;
	u_char		 c;

	jb_raw(jb, "\"", 1);
	for (run = s; (c = (u_char)*s) != '\0'; s++) {
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		jb_raw(jb, run, s - run);
		run = s + 1;
		switch (c) {
		case '"':
			jb_raw(jb, "\\\"", 2);
			break;
		case '\\':
			jb_raw(jb, "\\\\", 2);
			break;
		case '\b':
			jb_raw(jb, "\\b", 2);
			break;
		case '\f':
			jb_raw(jb, "\\f", 2);
			break;
		case '\n':
			jb_raw(jb, "\\n", 2);
			break;
		case '\r':
			jb_raw(jb, "\\r", 2);
			break;
		case '\t':
			jb_raw(jb, "\\t", 2);
			break;
		default:
			snprintf(esc, sizeof(esc), "\\u%04X", c);
			jb_raw(jb, esc, 6);
			break;
		}
	}
	jb_raw(jb, run, s - run);
	jb_raw(jb, "\"", 1);
}

static void
jb_uint(struct pfmon_jbuf *jb, uint64_t v)
{
	char	 d[PFMON_UINT_MAX], *p = d + sizeof(d);

	do {
		*--p = '0' + v % 10;
		v /= 10;
	} while (v != 0);
	jb_raw(jb, p, d + sizeof(d) - p);
}

static void
jb_null_or_uint(struct pfmon_jbuf *jb, int has, uint64_t v)
{
	if (has)
		jb_uint(jb, v);
	else
		jb_lit(jb, "null");
}

/*
 * An address as inet_ntop writes it, by hand: inet_ntop formats each
 * group with sprintf, which dominated the profile.
 */
static void
jb_addr(struct pfmon_jbuf *jb, int family, const union pfmon_addr *a)
{
	char	 s[INET6_ADDRSTRLEN], *p;

	if (family == AF_INET) {
		p = jb_ip4(s, (const u_char *)&a->v4);
		jb_raw(jb, s, p - s);
		return;
	}
	if (jb_ip6(s, (const u_char *)&a->v6) == -1 &&
	    inet_ntop(AF_INET6, &a->v6, s, sizeof(s)) == NULL) {
		jb->jb_full = 1;
		return;
	}
	jb_lit(jb, s);
}

/* Dotted quad at p; returns the end. */
static char *
jb_ip4(char *p, const u_char *b)
{
	int	 i;

	for (i = 0; i < 4; i++) {
		if (i > 0)
			*p++ = '.';
		if (b[i] >= 100)
			*p++ = '0' + b[i] / 100;
		if (b[i] >= 10)
			*p++ = '0' + b[i] / 10 % 10;
		*p++ = '0' + b[i] % 10;
	}
	return (p);
}

/*
 * RFC 5952 text into s (NUL-terminated): lowercase groups without
 * leading zeros, the first longest run of two or more zero groups as
 * "::".  Returns -1, leaving it to inet_ntop, when the address starts
 * with a zero run: that is where implementations differ (embedded
 * IPv4 for ::a.b.c.d, ::ffff:a.b.c.d and others).
 */
static int
jb_ip6(char *s, const u_char *b)
{
	static const char	 hex[] = "0123456789abcdef";
	uint16_t		 w[8];
	int			 i, base = -1, len = 0, cur = -1, n, sh;

	for (i = 0; i < 8; i++) {
		w[i] = (uint16_t)(b[2 * i] << 8 | b[2 * i + 1]);
		if (w[i] == 0) {
			if (cur == -1)
				cur = i;
			if (i - cur + 1 > len) {
				base = cur;
				len = i - cur + 1;
			}
		} else
			cur = -1;
	}
	if (len < 2)
		base = -1;
	if (base == 0)
		return (-1);
	for (i = 0; i < 8; i++) {
		if (i == base) {
			*s++ = ':';
			i += len - 1;
			if (i == 7)
				*s++ = ':';
			continue;
		}
		if (i > 0)
			*s++ = ':';
		for (n = 0, sh = 12; sh >= 0; sh -= 4)
			if ((n |= (w[i] >> sh) & 0xf) != 0 || sh == 0)
				*s++ = hex[(w[i] >> sh) & 0xf];
	}
	*s = '\0';
	return (0);
}
