/*
 * matchbench.c: nanoseconds per policy lookup with 10, 10 000 and
 * 1 000 000 rules (exact names, wildcards and dotted suffixes, some with
 * ports), for hosts that hit and hosts that miss.  A flat row is the goal:
 * the index probes one run of slots per label, whatever the rule count.
 */

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "sbxd.h"

#define LOOKUPS		2000000		/* per measurement */
#define HOSTS		4096		/* distinct hosts looked up */

static double
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec + ts.tv_nsec / 1e9);
}

static void
name(char *buf, size_t len, unsigned long n)
{
	static const char	*tlds[] = { "com", "org", "net", "io", "dev" };

	snprintf(buf, len, "svc%lu.host%lu.%s", n % 97, n, tlds[n % 5]);
}

static double
measure(int nrules)
{
	struct policy_body	 pb;
	struct sbxd_host	*hosts;
	enum policy_action	 a;
	const char		*why;
	char			 buf[128], pat[140], err[256];
	unsigned long		 sink = 0;
	double			 t0;
	int			 i;

	policy_body_init(&pb);
	for (i = 0; i < nrules; i++) {
		name(buf, sizeof(buf), i);
		snprintf(pat, sizeof(pat), "%s%s%s", i % 3 == 0 ? "*." :
		    i % 3 == 1 ? "." : "", strchr(buf, '.') + 1,
		    i % 7 == 0 ? ":8443" : "");
		if (policy_rules_set(&pb.pb_rules, pat, i % 5 ? POLICY_ALLOW :
		    POLICY_BLOCK, err, sizeof(err)) == -1) {
			fprintf(stderr, "%s: %s\n", pat, err);
			exit(1);
		}
	}
	if ((hosts = calloc(HOSTS, sizeof(*hosts))) == NULL)
		exit(1);
	for (i = 0; i < HOSTS; i++) {
		/* Half of them hit a rule (when there are enough), half miss. */
		name(buf, sizeof(buf), i % 2 ? (unsigned long)random() %
		    nrules : 5000000UL + i);
		policy_host_parse(buf, strlen(buf), &hosts[i], &why);
	}
	t0 = now();
	for (i = 0; i < LOOKUPS; i++)
		sink += policy_match(&pb, NULL, &hosts[i % HOSTS], 443, &a) !=
		    NULL;
	t0 = now() - t0;
	if (sink == 0 && nrules > 100)
		fprintf(stderr, "no hits?\n");
	free(hosts);
	policy_body_free(&pb);
	return (t0 * 1e9 / LOOKUPS);
}

int
main(void)
{
	int	 counts[] = { 10, 10000, 1000000 };
	size_t	 i;

	printf("| rules | ns per lookup |\n|---:|---:|\n");
	for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
		printf("| %d | %.0f |\n", counts[i], measure(counts[i]));
	return (0);
}
