/*
 * pfmon.h: shared inside pfmon/.  The decoded form of one firewall log
 * record (a DLT_PFLOG record from pf on macOS and the BSDs, or a
 * DLT_NFLOG record from netfilter on Linux) and the pure decoder that
 * the daemon, the offline reader, the unit tests and the fuzzer call.
 */

#ifndef PFMON_H
#define PFMON_H

#include <sys/types.h>

#include <netinet/in.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#define PFMON_DLT_PFLOG		117	/* DLT_PFLOG, the same everywhere */
#define PFMON_DLT_NFLOG		239	/* DLT_NFLOG, Linux */

/* pflog header lengths: they pad to the next 4-byte bound. */
#define PFMON_PFLOG_DARWIN	61	/* macOS, NetBSD: 64 bytes */
#define PFMON_PFLOG_FREEBSD	69	/* FreeBSD: 72 bytes */
#define PFMON_PFLOG_OPENBSD	100	/* OpenBSD */

#define PFMON_IFNAMSIZ		16	/* pflog ifname, ruleset fields */
#define PFMON_PREFIX_MAX	128	/* NF_LOG_PREFIXLEN, with the NUL */
#define PFMON_IP6_EXT_MAX	16	/* IPv6 extension headers walked:
					   bounds a hostile chain */
#define PFMON_ERR_MAX		160	/* room for any decoder error */
#define PFMON_NAME_MAX		16	/* room for "reason-255" */
#define PFMON_PROBE_MAX		256	/* pfmon_decode_probe()'s buffer */
#define PFMON_PROBE_UID		0x01020304U /* reads differently in
					   each byte order */

union pfmon_addr {
	struct in_addr		 v4;
	struct in6_addr		 v6;
};

/*
 * One decoded record.  Strings are NUL-terminated printable ASCII: a
 * byte outside 0x20-0x7e in the log record reads as '?'.
 */
struct pfmon_record {
	int			 pr_linktype;	/* PFMON_DLT_* */
	int			 pr_has_uid;
	uint32_t		 pr_uid;
	int			 pr_uid_from_anchor; /* from the pflog
					   ruleset or the nflog prefix */
	int			 pr_family;	/* this host's AF_INET[6] */
	uint8_t			 pr_proto;	/* upper protocol, or the
					   last IPv6 next header read */
	union pfmon_addr	 pr_src;
	union pfmon_addr	 pr_dst;
	int			 pr_has_ports;	/* TCP or UDP, captured */
	uint16_t		 pr_sport;
	uint16_t		 pr_dport;
	int			 pr_has_icmp;	/* ICMP[v6] type captured */
	uint8_t			 pr_icmp_type;
	uint8_t			 pr_icmp_code;
	int			 pr_fragment;	/* a later fragment */
	uint32_t		 pr_len;	/* IP length, from the header */
	uint32_t		 pr_caplen;	/* IP bytes captured */

	/* pflog */
	uint8_t			 pr_hdrlen;	/* the layout: PFMON_PFLOG_* */
	uint8_t			 pr_action;
	uint8_t			 pr_reason;
	uint8_t			 pr_dir;
	char			 pr_ifname[PFMON_IFNAMSIZ + 1];
	char			 pr_ruleset[PFMON_IFNAMSIZ + 1];
	uint32_t		 pr_rulenr;
	uint32_t		 pr_subrulenr;
	int32_t			 pr_pid;
	uint32_t		 pr_rule_uid;
	int32_t			 pr_rule_pid;

	/* nflog */
	uint16_t		 pr_group;	/* the resource id */
	int			 pr_has_prefix;
	char			 pr_prefix[PFMON_PREFIX_MAX];
	int			 pr_has_gid;
	uint32_t		 pr_gid;
	uint32_t		 pr_indev;	/* ifindex, 0 if absent */
	uint32_t		 pr_outdev;
	int			 pr_has_mark;
	uint32_t		 pr_mark;
	int			 pr_has_hwproto;
	uint16_t		 pr_hwproto;
	uint8_t			 pr_hook;
};

/* pfmon/pfmon_decode.c */
int		 pfmon_decode(int, const u_char *, size_t, int,
		    struct pfmon_record *, char *, size_t);
json_t		*pfmon_record_json(const struct pfmon_record *);
const char	*pfmon_action_name(uint8_t, uint8_t, char *, size_t);
const char	*pfmon_reason_name(uint8_t, uint8_t, char *, size_t);
const char	*pfmon_dir_name(uint8_t, uint8_t, char *, size_t);
const char	*pfmon_proto_name(uint8_t);
size_t		 pfmon_decode_probe(int, u_char *, size_t);
int		 pfmon_decode_probe_check(int, const u_char *, size_t);

/* pfmon/pfmon_offline.c */
int		 pfmon_offline(const char *, FILE *);
int		 pfmon_offline_probe(int);
size_t		 pfmon_record_format(const struct pfmon_record *, char *,
		    size_t);
size_t		 pfmon_error_format(unsigned long long, const char *, char *,
		    size_t);

/*
 * The capture as the privileged process hands it to the engine
 * (pfmon_priv.c to pfmon.c): one SOCK_SEQPACKET packet per batch of
 * records or per statistics report, told apart by a leading 32-bit tag.
 * A batch is a struct pfmon_caphdr, then ch_count records, each a
 * struct pfmon_caprec and cr_caplen bytes, unaligned, nothing after the
 * last.  A report is a struct pfmon_capstats, sent about once a second
 * when a counter changed.  Both ends are the same sbxd: host byte
 * order.  The engine checks every length before it reads one byte.
 */
#define PFMON_CAP_RECORDS	1
#define PFMON_CAP_STATS		2
#define PFMON_CAP_BATCH		(64 * 1024)	/* bytes of one packet: many
					   records per system call, and well
					   within the socket's buffer */
#define PFMON_SNAPLEN		16384	/* libpcap reads nflog into a buffer
					   of 128 + snaplen bytes, and the
					   kernel batches log messages up to
					   a page or two per read: less cuts
					   a batch and loses records */
struct pfmon_caphdr {
	uint32_t	 ch_tag;	/* PFMON_CAP_RECORDS */
	uint32_t	 ch_count;	/* records that follow */
};
struct pfmon_caprec {
	uint64_t	 cr_sec;	/* struct pcap_pkthdr's */
	uint32_t	 cr_usec;
	uint32_t	 cr_caplen;	/* bytes that follow */
	uint32_t	 cr_len;
	uint32_t	 cr_pad;
};
struct pfmon_capstats {
	uint32_t	 cs_tag;	/* PFMON_CAP_STATS */
	uint32_t	 cs_pad;
	uint64_t	 cs_recv;	/* pcap_stats() */
	uint64_t	 cs_drop;
	uint64_t	 cs_ifdrop;
	uint64_t	 cs_slow;	/* records dropped: the engine had not
					   read the batches before */
};

/* pfmon/pfmon_priv.c */
void		 pfmon_priv_shutdown(void);

/* pfmon/pfmon.c */
int		 pfmon_cap_check(const u_char *, size_t, uint32_t, char *,
		    size_t);

#endif /* PFMON_H */
