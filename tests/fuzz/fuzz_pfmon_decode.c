/*
 * fuzz_pfmon_decode.c: libFuzzer harness for pfmon_decode.c.  The first
 * byte picks the link type (bit 0: pflog or nflog; both bits 2 and 3
 * set: the byte itself, mostly an unknown type) and the byte-order flag
 * (bit 1); the rest is the record, copied into a buffer of exactly its
 * size.  Beyond memory errors it checks what callers rely on: an error
 * always has a message, a decoded record is self-consistent, its
 * strings are printable, it formats as JSON that parses again, and the
 * decoder gives the same answer without an error buffer.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config.h"
#include "pfmon.h"

#define FUZZ_CHECK(c) do {						\
	if (!(c)) {							\
		fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #c);	\
		abort();						\
	}								\
} while (0)

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void	fuzz_record(const struct pfmon_record *, size_t);
static void	fuzz_string(const char *, size_t);
static void	fuzz_json(const struct pfmon_record *);
static void	fuzz_names(const struct pfmon_record *);

/* Decode one input and check the result. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pfmon_record	 pr, again;
	char			 err[PFMON_ERR_MAX];
	u_char			*p;
	size_t			 n;
	int			 lt, swapped, r;

	if (size < 1)
		return (0);
	lt = data[0] & 1 ? PFMON_DLT_NFLOG : PFMON_DLT_PFLOG;
	if ((data[0] & 0x0c) == 0x0c)
		lt = data[0];
	swapped = (data[0] >> 1) & 1;
	n = size - 1;
	if ((p = malloc(n)) == NULL && n > 0)
		return (0);
	if (n > 0)
		memcpy(p, data + 1, n);

	memset(err, 'x', sizeof(err));
	r = pfmon_decode(lt, p, n, swapped, &pr, err, sizeof(err));
	FUZZ_CHECK(r == 0 || r == -1);
	FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL);
	FUZZ_CHECK((r == -1) == (err[0] != '\0'));
	FUZZ_CHECK(pfmon_decode(lt, p, n, swapped, &again, NULL, 0) == r);
	FUZZ_CHECK(pfmon_decode(lt, p, n, swapped, &again, err, 1) == r);
	FUZZ_CHECK(err[0] == '\0');
	if (r == 0) {
		FUZZ_CHECK(again.pr_has_uid == pr.pr_has_uid &&
		    again.pr_uid == pr.pr_uid && again.pr_len == pr.pr_len &&
		    again.pr_sport == pr.pr_sport);
		fuzz_record(&pr, n);
		fuzz_json(&pr);
		fuzz_names(&pr);
	}
	free(p);
	return (0);
}

static void
fuzz_record(const struct pfmon_record *pr, size_t n)
{
	FUZZ_CHECK(pr->pr_linktype == PFMON_DLT_PFLOG ||
	    pr->pr_linktype == PFMON_DLT_NFLOG);
	FUZZ_CHECK(pr->pr_family == AF_INET || pr->pr_family == AF_INET6);
	FUZZ_CHECK(pr->pr_caplen <= n);
	FUZZ_CHECK(pr->pr_caplen >= (pr->pr_family == AF_INET ? 20U : 40U));
	FUZZ_CHECK(pr->pr_len >= (pr->pr_family == AF_INET ? 20U : 40U));
	FUZZ_CHECK(!pr->pr_has_ports || pr->pr_proto == IPPROTO_TCP ||
	    pr->pr_proto == IPPROTO_UDP);
	FUZZ_CHECK(!pr->pr_has_icmp || pr->pr_proto ==
	    (pr->pr_family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6));
	FUZZ_CHECK(!pr->pr_fragment || (!pr->pr_has_ports &&
	    !pr->pr_has_icmp));
	FUZZ_CHECK(!pr->pr_uid_from_anchor || pr->pr_has_uid);
	if (pr->pr_linktype == PFMON_DLT_PFLOG) {
		FUZZ_CHECK(pr->pr_hdrlen == PFMON_PFLOG_DARWIN ||
		    pr->pr_hdrlen == PFMON_PFLOG_FREEBSD ||
		    pr->pr_hdrlen == PFMON_PFLOG_OPENBSD);
		FUZZ_CHECK(n >= ((pr->pr_hdrlen + 3U) & ~3U) + pr->pr_caplen);
		fuzz_string(pr->pr_ifname, sizeof(pr->pr_ifname));
		fuzz_string(pr->pr_ruleset, sizeof(pr->pr_ruleset));
		FUZZ_CHECK(!pr->pr_uid_from_anchor ||
		    strlen(pr->pr_ruleset) < PFMON_IFNAMSIZ - 1);
	} else {
		FUZZ_CHECK(pr->pr_hdrlen == 0);
		fuzz_string(pr->pr_prefix, sizeof(pr->pr_prefix));
		FUZZ_CHECK(pr->pr_has_prefix || pr->pr_prefix[0] == '\0');
		FUZZ_CHECK(!pr->pr_uid_from_anchor || pr->pr_has_prefix);
	}
}

/* NUL-terminated inside its array, printable ASCII only. */
static void
fuzz_string(const char *s, size_t size)
{
	const char	*nul;

	FUZZ_CHECK((nul = memchr(s, '\0', size)) != NULL);
	for (; s < nul; s++)
		FUZZ_CHECK(*s >= 0x20 && *s < 0x7f);
}

static void
fuzz_json(const struct pfmon_record *pr)
{
	json_t	*o, *back;
	char	*s;

	FUZZ_CHECK((o = pfmon_record_json(pr)) != NULL);
	FUZZ_CHECK((s = json_dumps(o, JSON_COMPACT)) != NULL);
	FUZZ_CHECK((back = json_loads(s, 0, NULL)) != NULL);
	FUZZ_CHECK(json_equal(o, back));
	FUZZ_CHECK(json_is_null(json_object_get(o, "uid")) == !pr->pr_has_uid);
	FUZZ_CHECK((json_object_get(o, "sport") != NULL) == pr->pr_has_ports);
	json_decref(back);
	json_decref(o);
	free(s);
}

static void
fuzz_names(const struct pfmon_record *pr)
{
	char	 buf[PFMON_NAME_MAX];

	FUZZ_CHECK(strlen(pfmon_action_name(pr->pr_hdrlen, pr->pr_action,
	    buf, sizeof(buf))) < sizeof(buf));
	FUZZ_CHECK(strlen(pfmon_reason_name(pr->pr_hdrlen, pr->pr_reason,
	    buf, sizeof(buf))) < sizeof(buf));
	FUZZ_CHECK(strlen(pfmon_dir_name(pr->pr_hdrlen, pr->pr_dir,
	    buf, sizeof(buf))) < sizeof(buf));
}
