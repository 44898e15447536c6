/*
 * test_pfmon_offline.c: unit tests for pfmon_offline.c.  The hand-made
 * JSON line must be byte for byte what jansson makes of
 * pfmon_record_json(): checked over many pseudo-random records (IPv6
 * addresses with zero runs in every place, names with quotes and
 * backslashes, every optional field), and over the captures
 * tests/pfmon/mkpcap.py writes, read by pfmon_offline() itself.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config.h"
#include "pfmon.h"
#include "unit.h"

#define T_RECORDS	200000	/* pseudo-random records compared */
#define T_LINE_MAX	2048
#define T_CMD_MAX	2048

static uint64_t	t_rand(void);
static void	t_name(char *, size_t);
static void	t_addr(int, union pfmon_addr *);
static void	t_record(struct pfmon_record *);
static char	*t_jansson(const struct pfmon_record *);
static int	t_fixture(const char *, const char *);
static int	t_fixture_records(const char *, char **, size_t *);

static uint64_t	t_state = 0x5eed5eed5eedULL;

/* xorshift64*: the same records every run. */
static uint64_t
t_rand(void)
{
	t_state ^= t_state >> 12;
	t_state ^= t_state << 25;
	t_state ^= t_state >> 27;
	return (t_state * 0x2545f4914f6cdd1dULL);
}

/* A printable name of up to len - 1 bytes, often with " and \. */
static void
t_name(char *s, size_t len)
{
	static const char	 odd[] = "\"\\/ ?";
	size_t			 i, n = t_rand() % len;

	for (i = 0; i < n; i++)
		s[i] = t_rand() % 4 == 0 ? odd[t_rand() % (sizeof(odd) - 1)] :
		    (char)(0x20 + t_rand() % 95);
	s[n] = '\0';
}

/* Addresses with zero runs of every length and place. */
static void
t_addr(int family, union pfmon_addr *a)
{
	uint16_t	 w[8];
	int		 i, from, n;

	if (family == AF_INET) {
		a->v4.s_addr = (uint32_t)t_rand();
		if (t_rand() % 4 == 0)
			a->v4.s_addr &= htonl(0xff0000ff);
		return;
	}
	for (i = 0; i < 8; i++)
		w[i] = t_rand() % 3 == 0 ? 0 : (uint16_t)(t_rand() >>
		    (t_rand() % 16));
	from = t_rand() % 8;
	n = t_rand() % (9 - from);
	for (i = from; i < from + n; i++)
		w[i] = 0;
	if (t_rand() % 8 == 0) {		/* ::ffff:a.b.c.d and kin */
		memset(w, 0, 10);
		w[5] = t_rand() % 2 ? 0xffff : 0;
	}
	for (i = 0; i < 8; i++) {
		a->v6.s6_addr[2 * i] = w[i] >> 8;
		a->v6.s6_addr[2 * i + 1] = w[i] & 0xff;
	}
}

static void
t_record(struct pfmon_record *pr)
{
	static const uint8_t	 protos[] = { 6, 17, 1, 58, 0, 47, 132, 255 };
	static const uint8_t	 layouts[] = { 61, 69, 100 };

	memset(pr, 0, sizeof(*pr));
	pr->pr_linktype = t_rand() % 2 ? PFMON_DLT_PFLOG : PFMON_DLT_NFLOG;
	pr->pr_has_uid = t_rand() % 3 != 0;
	pr->pr_uid = t_rand() % 2 ? (uint32_t)t_rand() : t_rand() % 70000;
	pr->pr_family = t_rand() % 2 ? AF_INET : AF_INET6;
	pr->pr_proto = protos[t_rand() % sizeof(protos)];
	t_addr(pr->pr_family, &pr->pr_src);
	t_addr(pr->pr_family, &pr->pr_dst);
	pr->pr_has_ports = (pr->pr_proto == 6 || pr->pr_proto == 17) &&
	    t_rand() % 5 != 0;
	pr->pr_sport = (uint16_t)t_rand();
	pr->pr_dport = (uint16_t)t_rand();
	pr->pr_has_icmp = (pr->pr_proto == 1 || pr->pr_proto == 58) &&
	    t_rand() % 5 != 0;
	pr->pr_icmp_type = (uint8_t)t_rand();
	pr->pr_icmp_code = (uint8_t)t_rand();
	pr->pr_len = t_rand() % 2 ? (uint32_t)t_rand() : t_rand() % 1500;
	pr->pr_hdrlen = layouts[t_rand() % sizeof(layouts)];
	pr->pr_action = t_rand() % 20;
	pr->pr_reason = t_rand() % 22;
	pr->pr_dir = t_rand() % 6;
	t_name(pr->pr_ifname, sizeof(pr->pr_ifname));
	t_name(pr->pr_ruleset, sizeof(pr->pr_ruleset));
	pr->pr_rulenr = (uint32_t)t_rand();
	pr->pr_has_prefix = t_rand() % 3 != 0;
	t_name(pr->pr_prefix, sizeof(pr->pr_prefix));
	pr->pr_has_gid = t_rand() % 3 != 0;
	pr->pr_gid = (uint32_t)t_rand();
}

/* json_dumps of pfmon_record_json, to free. */
static char *
t_jansson(const struct pfmon_record *pr)
{
	json_t	*o;
	char	*s;

	if ((o = pfmon_record_json(pr)) == NULL)
		return (NULL);
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return (s);
}

static int
test_random_records(void)
{
	struct pfmon_record	 pr;
	char			 line[T_LINE_MAX], *want = NULL;
	size_t			 n;
	int			 i, ok = 0;

	for (i = 0; i < T_RECORDS; i++) {
		t_record(&pr);
		CHECK((want = t_jansson(&pr)) != NULL);
		n = pfmon_record_format(&pr, line, sizeof(line));
		CHECK_STR(line, want);
		CHECK_INT(n, strlen(want));
		free(want);
		want = NULL;
	}
	ok = 1;
 end:
	free(want);
	return (ok ? 0 : -1);
}

/* Too small a buffer gives 0 and an empty string, never an overrun. */
static int
test_short_buffer(void)
{
	struct pfmon_record	 pr;
	char			 line[T_LINE_MAX], *want = NULL;
	size_t			 len, full;
	int			 ok = 0;

	t_record(&pr);
	CHECK((want = t_jansson(&pr)) != NULL);
	full = strlen(want);
	for (len = 0; len <= full + 1; len++) {
		memset(line, 'x', sizeof(line));
		if (len <= full) {
			CHECK_INT(pfmon_record_format(&pr, line, len), 0);
			CHECK(len == 0 || line[0] == '\0');
			CHECK(line[len] == 'x');
		} else
			CHECK_INT(pfmon_record_format(&pr, line, len), full);
	}
	ok = 1;
 end:
	free(want);
	return (ok ? 0 : -1);
}

static int
test_error_object(void)
{
	static const char	*errs[] = {
		"pflog: header length 7, want 61, 69 or 100",
		"", "a \"quoted\" \\ name", "tab\there\nnl\x01\x1f"
	};
	json_t			*o = NULL;
	char			 line[T_LINE_MAX], *want = NULL;
	size_t			 i;
	int			 ok = 0;

	for (i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		CHECK((o = json_pack("{s:I, s:s}", "record",
		    (json_int_t)(i * 1000003 + 1), "error", errs[i])) != NULL);
		CHECK((want = json_dumps(o, JSON_COMPACT)) != NULL);
		json_decref(o);
		o = NULL;
		CHECK(pfmon_error_format(i * 1000003 + 1, errs[i], line,
		    sizeof(line)) == strlen(want));
		CHECK_STR(line, want);
		free(want);
		want = NULL;
	}
	ok = 1;
 end:
	json_decref(o);
	free(want);
	return (ok ? 0 : -1);
}

/*
 * The records of a capture as decode_dump prints them: through
 * libpcap, the probe, pfmon_decode and jansson.  *out is to free.
 */
static int
t_fixture_records(const char *path, char **out, size_t *outlen)
{
	u_char			 probe[PFMON_PROBE_MAX];
	char			 errbuf[PCAP_ERRBUF_SIZE];
	char			 err[PFMON_ERR_MAX], *s;
	struct pfmon_record	 pr;
	struct pcap_pkthdr	*h;
	const u_char		*pkt;
	pcap_t			*p = NULL, *pp = NULL;
	FILE			*fp = NULL, *mf = NULL;
	size_t			 n;
	int			 dlt, need = -1, r = -1;
	unsigned long long	 i = 0;

	if ((p = pcap_open_offline(path, errbuf)) == NULL ||
	    (mf = open_memstream(out, outlen)) == NULL)
		goto end;
	dlt = pcap_datalink(p);
	n = pfmon_decode_probe(dlt, probe, sizeof(probe));
	if (n == 0 || (fp = fmemopen(probe, n, "r")) == NULL ||
	    (pp = pcap_fopen_offline(fp, errbuf)) == NULL)
		goto end;
	fp = NULL;
	if (pcap_next_ex(pp, &h, &pkt) == 1)
		need = pfmon_decode_probe_check(dlt, pkt, h->caplen);
	if (need == -1)
		goto end;
	while (pcap_next_ex(p, &h, &pkt) == 1) {
		i++;
		if (pfmon_decode(dlt, pkt, h->caplen, pcap_is_swapped(p) &&
		    need, &pr, err, sizeof(err)) == -1) {
			fprintf(mf, "{\"record\":%llu,\"error\":\"%s\"}\n", i,
			    err);
			continue;
		}
		if ((s = t_jansson(&pr)) == NULL)
			goto end;
		fprintf(mf, "%s\n", s);
		free(s);
	}
	r = 0;
 end:
	if (mf != NULL)
		fclose(mf);
	if (fp != NULL)
		fclose(fp);
	if (pp != NULL)
		pcap_close(pp);
	if (p != NULL)
		pcap_close(p);
	return (r);
}

/* pfmon_offline() on one fixture prints what jansson prints. */
static int
t_fixture(const char *dir, const char *name)
{
	char	 path[T_CMD_MAX], *got = NULL, *want = NULL;
	size_t	 gotlen = 0, wantlen = 0;
	FILE	*mf = NULL;
	int	 ok = 0;

	snprintf(path, sizeof(path), "%s/%s.pcap", dir, name);
	CHECK(t_fixture_records(path, &want, &wantlen) == 0);
	CHECK((mf = open_memstream(&got, &gotlen)) != NULL);
	CHECK_INT(pfmon_offline(path, mf), 0);
	fclose(mf);
	mf = NULL;
	CHECK(wantlen > 0);
	CHECK_INT(gotlen, wantlen);
	CHECK(memcmp(got, want, wantlen) == 0);
	ok = 1;
 end:
	if (!ok)
		fprintf(stderr, "fixture %s\n", name);
	if (mf != NULL)
		fclose(mf);
	free(got);
	free(want);
	return (ok ? 0 : -1);
}

static int
test_fixtures(void)
{
	static const char	*names[] = {
		"pflog-61", "pflog-61-swapped", "pflog-69",
		"pflog-69-swapped", "pflog-100", "pflog-100-swapped",
		"nflog", "nflog-swapped", "pflog-61-snap", "pflog-100-snap",
		"nflog-snap"
	};
	const char	*top = getenv("top_srcdir");
	char		 cmd[T_CMD_MAX], *dir = NULL;
	size_t		 i;
	int		 ok = 0;

	if (top == NULL)
		top = ".";
	CHECK((dir = unit_tmpdir()) != NULL);
	snprintf(cmd, sizeof(cmd), "python3 '%s/tests/pfmon/mkpcap.py' "
	    "--fixtures '%s' >/dev/null", top, dir);
	if (system(cmd) != 0) {
		fprintf(stderr, "test_fixtures: no fixtures (%s): skipped\n",
		    cmd);
		ok = getenv("CI") == NULL || strcmp(getenv("CI"), "true") != 0;
		goto end;
	}
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		CHECK(t_fixture(dir, names[i]) == 0);
	ok = 1;
 end:
	if (dir != NULL) {
		unit_rmtree(dir);
		free(dir);
	}
	return (ok ? 0 : -1);
}

static const struct unit_test tests[] = {
	{ "random_records", test_random_records },
	{ "short_buffer", test_short_buffer },
	{ "error_object", test_error_object },
	{ "fixtures", test_fixtures },
};

UNIT_MAIN("pfmon_offline", tests)
