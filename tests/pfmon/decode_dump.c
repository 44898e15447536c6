/*
 * decode_dump.c: reads a pcap savefile of DLT_PFLOG or DLT_NFLOG records
 * with libpcap and prints what pfmon_decode makes of each one, one JSON
 * object per line, or "error: ..." for a record it rejects: the same
 * view sbxd -r gives, for comparing with tcpdump -n -e -r.  It first
 * asks libpcap, through pfmon_decode_probe(), whether it converts the
 * host-order fields of a savefile written in the other byte order.
 *
 * usage: decode_dump [-bp] file
 *	-b	benchmark: decode only, print counts and the rate
 *	-p	print the probe's answer for both link types and exit
 */

#include <sys/types.h>

#include <pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"
#include "pfmon.h"

static int	dump_run(pcap_t *, int, int);
static void	dump_rate(const struct timespec *, unsigned long,
		    unsigned long, unsigned long);
static void	usage(void) __attribute__((__noreturn__));

static void
usage(void)
{
	fprintf(stderr, "usage: decode_dump [-bp] file\n");
	exit(2);
}

static int
dump_run(pcap_t *p, int swapped, int bench)
{
	struct pfmon_record	 pr;
	struct pcap_pkthdr	*h;
	struct timespec		 t0;
	const u_char		*pkt;
	json_t			*o;
	char			 err[PFMON_ERR_MAX], *s;
	unsigned long		 nok = 0, nerr = 0, nuid = 0;
	int			 dlt = pcap_datalink(p), r;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while ((r = pcap_next_ex(p, &h, &pkt)) == 1) {
		if (pfmon_decode(dlt, pkt, h->caplen, swapped, &pr, err,
		    sizeof(err)) == -1) {
			nerr++;
			if (!bench)
				printf("error: %s\n", err);
			continue;
		}
		nok++;
		nuid += pr.pr_has_uid;
		if (bench)
			continue;
		if ((o = pfmon_record_json(&pr)) == NULL ||
		    (s = json_dumps(o, JSON_COMPACT)) == NULL) {
			fprintf(stderr, "out of memory\n");
			return (1);
		}
		printf("%s\n", s);
		free(s);
		json_decref(o);
	}
	if (r == -1)
		fprintf(stderr, "read: %s\n", pcap_geterr(p));
	if (bench)
		dump_rate(&t0, nok, nuid, nerr);
	return (r == -1);
}

static void
dump_rate(const struct timespec *t0, unsigned long nok, unsigned long nuid,
    unsigned long nerr)
{
	struct timespec	 t1;
	double		 dt;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	dt = (t1.tv_sec - t0->tv_sec) + (t1.tv_nsec - t0->tv_nsec) / 1e9;
	printf("%lu decoded (%lu with uid), %lu errors in %.3f s: "
	    "%.0f records/s\n", nok, nuid, nerr, dt,
	    dt > 0 ? (nok + nerr) / dt : 0.0);
}

int
main(int argc, char *argv[])
{
	char	 errbuf[PCAP_ERRBUF_SIZE];
	pcap_t	*p;
	int	 ch, bench = 0, probe = 0, need, swapped, r;

	while ((ch = getopt(argc, argv, "bp")) != -1) {
		switch (ch) {
		case 'b':
			bench = 1;
			break;
		case 'p':
			probe = 1;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (probe) {
		printf("%s\npflog: %d\nnflog: %d\n", pcap_lib_version(),
		    pfmon_offline_probe(PFMON_DLT_PFLOG), pfmon_offline_probe(PFMON_DLT_NFLOG));
		return (0);
	}
	if (argc != 1)
		usage();
	if ((p = pcap_open_offline(argv[0], errbuf)) == NULL) {
		fprintf(stderr, "%s\n", errbuf);
		return (1);
	}
	if ((need = pfmon_offline_probe(pcap_datalink(p))) == -1) {
		fprintf(stderr, "%s: link type %d, or the probe failed\n",
		    argv[0], pcap_datalink(p));
		pcap_close(p);
		return (1);
	}
	swapped = pcap_is_swapped(p) && need;
	r = dump_run(p, swapped, bench);
	pcap_close(p);
	return (r);
}
