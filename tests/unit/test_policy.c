/*
 * test_policy.c: the host parser, patterns, matching and its order of
 * specificity, ports, runtime rules, address classes, and the index
 * against a plain scan of random rule sets.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "sbxd.h"
#include "unit.h"

static int
host_ok(const char *s, const char *want, int family)
{
	struct sbxd_host	 h;
	const char		*why;

	if (policy_host_parse(s, strlen(s), &h, &why) == -1) {
		unit_fail(__FILE__, __LINE__, "\"%s\" refused: %s", s, why);
		return (0);
	}
	if (strcmp(h.h_name, want) != 0 || h.h_family != family) {
		unit_fail(__FILE__, __LINE__, "\"%s\" -> \"%s\"/%d", s,
		    h.h_name, h.h_family);
		return (0);
	}
	return (1);
}

static int
host_bad(const char *s)
{
	struct sbxd_host	 h;
	const char		*why;

	if (policy_host_parse(s, strlen(s), &h, &why) == 0) {
		unit_fail(__FILE__, __LINE__, "\"%s\" accepted as \"%s\"", s,
		    h.h_name);
		return (0);
	}
	return (1);
}

static int
test_hosts(void)
{
	char		 label[70], name[300];
	const char	*bad[] = { "127.1", "2130706433", "0x7f.1", "0177.0.0.1",
			    "::1", "a_b.com", "ex%61mple.com", "a..b", "-a.com",
			    "a-.com", "256.1.1.1", "1.2.3.4.5", "[fe80::1%eth0]",
			    "b\xc3\xbc" "cher.de", "", ".", "a b", "a@b",
			    "[::1", "[]", "example.com..", "foo.0x1f" };
	size_t		 i;
	int		 ret = -1;

	CHECK(host_ok("Example.COM.", "example.com", 0));
	CHECK(host_ok("127.0.0.1", "127.0.0.1", AF_INET));
	CHECK(host_ok("[::1]", "::1", AF_INET6));
	CHECK(host_ok("[::ffff:10.0.0.1]", "10.0.0.1", AF_INET));
	CHECK(host_ok("xn--bcher-kva.example", "xn--bcher-kva.example", 0));
	CHECK(host_ok("a.b-c.d9", "a.b-c.d9", 0));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(host_bad(bad[i]));
	memset(label, 'a', 64);
	label[64] = '\0';
	CHECK(host_bad(label));
	label[63] = '\0';
	CHECK(host_ok(label, label, 0));
	/* 253 octets pass, 254 do not. */
	memset(name, 'a', sizeof(name));
	for (i = 63; i < 253; i += 64)
		name[i] = '.';
	name[253] = '\0';
	CHECK(host_ok(name, name, 0));
	name[253] = 'a';
	name[254] = '\0';
	CHECK(host_bad(name));
	ret = 0;
end:
	return (ret);
}

static int
pattern(const char *p, const char *canon)
{
	struct policy_rule	*ru;
	char			 err[256];
	int			 ok;

	if (policy_rule_parse(p, POLICY_ALLOW, &ru, err, sizeof(err)) == -1) {
		unit_fail(__FILE__, __LINE__, "\"%s\": %s", p, err);
		return (0);
	}
	ok = strcmp(policy_rule_text(ru), canon) == 0;
	if (!ok)
		unit_fail(__FILE__, __LINE__, "\"%s\" -> \"%s\"", p,
		    policy_rule_text(ru));
	policy_rule_free(ru);
	return (ok);
}

static int
test_patterns(void)
{
	struct policy_rule	*ru;
	char			 err[256];
	const char		*bad[] = { "*", "*.com", ".com", "a*b.com",
				    "*example.com", "..x", "x..y",
				    "ex ample.com", "", "127.1", "x.com:0",
				    "x.com:65536", "x.com:08", "x.com:",
				    "2001:db8::1", "10.0.0.1/8", "10.0.0.0/33",
				    "[::1]/129", "*.10.0.0.0/8", "[::1]:x",
				    "a.com/8", "b\xc3\xbc" "cher.de" };
	size_t			 i;
	int			 ret = -1;

	CHECK(pattern("*.GitHub.com.", "*.github.com"));
	CHECK(pattern(".npmjs.org", ".npmjs.org"));
	CHECK(pattern("gitlab.com:22", "gitlab.com:22"));
	CHECK(pattern("203.0.113.0/24:443", "203.0.113.0/24:443"));
	CHECK(pattern("[2001:DB8::]/32:443", "[2001:db8::]/32:443"));
	CHECK(pattern("[::ffff:10.1.2.3]", "10.1.2.3"));
	CHECK(pattern("localhost", "localhost"));
	CHECK(pattern("0.0.0.0/0", "0.0.0.0/0"));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (policy_rule_parse(bad[i], POLICY_ALLOW, &ru, err,
		    sizeof(err)) == 0) {
			unit_fail(__FILE__, __LINE__, "\"%s\" accepted",
			    bad[i]);
			policy_rule_free(ru);
			goto end;
		}
		CHECK(err[0] != '\0');
	}
	ret = 0;
end:
	return (ret);
}

/* A policy from a list of "allow x" / "block x" lines. */
static void
policy_build(struct policy_body *pb, const char **lines)
{
	struct policy_rule	*ru;
	char			 err[256];

	policy_body_init(pb);
	for (; *lines != NULL; lines++) {
		if (policy_rule_parse(*lines + 6, strncmp(*lines, "allow", 5) ==
		    0 ? POLICY_ALLOW : POLICY_BLOCK, &ru, err, sizeof(err)) ==
		    -1) {
			fprintf(stderr, "%s: %s\n", *lines, err);
			abort();
		}
		policy_rules_add(&pb->pb_rules, ru);
	}
}

/* The verdict and the deciding rule's text ("default" for none). */
static const char *
judge(const struct policy_body *pb, const struct policy_rules *extra,
    const char *host, uint16_t port)
{
	static char			 buf[300];
	struct sbxd_host		 h;
	const struct policy_rule	*ru;
	const char			*why;
	enum policy_action		 a;

	if (policy_host_parse(host, strlen(host), &h, &why) == -1)
		return ("bad host");
	ru = policy_match(pb, extra, &h, port, &a);
	snprintf(buf, sizeof(buf), "%s %s", a == POLICY_ALLOW ? "allow" :
	    "block", ru != NULL ? policy_rule_text(ru) : "default");
	return (buf);
}

static int
test_match(void)
{
	struct policy_body	 pb;
	const char		*rules[] = { "allow github.com",
				    "allow *.github.com", "allow .npmjs.org",
				    "allow gitlab.com:22", "block *.facebook.com",
				    "allow 203.0.113.0/24:443",
				    "allow [2001:db8::]/32", NULL };
	int			 ret = -1;

	policy_build(&pb, rules);
	CHECK_STR(judge(&pb, NULL, "github.com", 443), "allow github.com");
	CHECK_STR(judge(&pb, NULL, "GitHub.com.", 80), "allow github.com");
	CHECK_STR(judge(&pb, NULL, "api.github.com", 443),
	    "allow *.github.com");
	CHECK_STR(judge(&pb, NULL, "a.b.c.github.com", 443),
	    "allow *.github.com");
	CHECK_STR(judge(&pb, NULL, "evilgithub.com", 443), "block default");
	CHECK_STR(judge(&pb, NULL, "github.com.evil.net", 443),
	    "block default");
	CHECK_STR(judge(&pb, NULL, "npmjs.org", 443), "allow .npmjs.org");
	CHECK_STR(judge(&pb, NULL, "registry.npmjs.org", 80),
	    "allow .npmjs.org");
	/* Ports: an allow rule without one takes the policy's. */
	CHECK_STR(judge(&pb, NULL, "github.com", 22), "block default");
	CHECK_STR(judge(&pb, NULL, "gitlab.com", 22), "allow gitlab.com:22");
	CHECK_STR(judge(&pb, NULL, "gitlab.com", 443), "block default");
	/* A block rule without a port blocks every port. */
	CHECK_STR(judge(&pb, NULL, "www.facebook.com", 8080),
	    "block *.facebook.com");
	/* Literals match address rules only. */
	CHECK_STR(judge(&pb, NULL, "203.0.113.9", 443),
	    "allow 203.0.113.0/24:443");
	CHECK_STR(judge(&pb, NULL, "203.0.113.9", 80), "block default");
	CHECK_STR(judge(&pb, NULL, "203.0.114.1", 443), "block default");
	CHECK_STR(judge(&pb, NULL, "[::ffff:203.0.113.255]", 443),
	    "allow 203.0.113.0/24:443");
	CHECK_STR(judge(&pb, NULL, "[2001:db8:ffff::1]", 80),
	    "allow [2001:db8::]/32");
	CHECK_STR(judge(&pb, NULL, "[2001:db9::1]", 80), "block default");
	pb.pb_default = POLICY_ALLOW;
	CHECK_STR(judge(&pb, NULL, "example.org", 6667), "allow default");
	ret = 0;
end:
	policy_body_free(&pb);
	return (ret);
}

/* Exact beats suffix, longer beats shorter, port beats none, block ties. */
static int
test_specificity(void)
{
	struct policy_body	 pb;
	const char		*rules[] = { "allow *.example.com",
				    "block *.a.example.com", "allow x.a.example.com",
				    "block .b.example.com", "allow b.example.com",
				    "allow *.c.example.com", "block *.c.example.com:443",
				    "allow d.example.com", "block .d.example.com",
				    "allow 10.0.0.0/8", "block 10.1.0.0/16",
				    "allow 10.1.2.3", "block 10.2.0.0/16",
				    "allow 10.2.0.0/16:443", NULL };
	int			 ret = -1;

	policy_build(&pb, rules);
	pb.pb_private = 1;
	CHECK_STR(judge(&pb, NULL, "q.example.com", 443),
	    "allow *.example.com");
	CHECK_STR(judge(&pb, NULL, "q.a.example.com", 443),
	    "block *.a.example.com");
	CHECK_STR(judge(&pb, NULL, "x.a.example.com", 443),
	    "allow x.a.example.com");
	CHECK_STR(judge(&pb, NULL, "b.example.com", 443),
	    "allow b.example.com");
	CHECK_STR(judge(&pb, NULL, "q.b.example.com", 443),
	    "block .b.example.com");
	CHECK_STR(judge(&pb, NULL, "q.c.example.com", 443),
	    "block *.c.example.com:443");
	CHECK_STR(judge(&pb, NULL, "q.c.example.com", 80),
	    "allow *.c.example.com");
	CHECK_STR(judge(&pb, NULL, "d.example.com", 80),
	    "allow d.example.com");
	CHECK_STR(judge(&pb, NULL, "10.9.9.9", 80), "allow 10.0.0.0/8");
	CHECK_STR(judge(&pb, NULL, "10.1.9.9", 80), "block 10.1.0.0/16");
	CHECK_STR(judge(&pb, NULL, "10.1.2.3", 80), "allow 10.1.2.3");
	CHECK_STR(judge(&pb, NULL, "10.2.0.1", 80), "block 10.2.0.0/16");
	CHECK_STR(judge(&pb, NULL, "10.2.0.1", 443), "allow 10.2.0.0/16:443");
	ret = 0;
end:
	policy_body_free(&pb);
	return (ret);
}

/* Runtime rules compete with the policy's; setting again replaces. */
static int
test_extra(void)
{
	struct policy_body	 pb;
	struct policy_rules	*ex = policy_rules_new();
	const char		*rules[] = { "block evil.example",
				    "allow *.example.com", NULL };
	char			 err[256];
	int			 ret = -1;

	policy_build(&pb, rules);
	CHECK(policy_rules_set(ex, "pypi.org", POLICY_ALLOW, err,
	    sizeof(err)) == 0);
	CHECK(policy_rules_set(ex, "evil.example", POLICY_ALLOW, err,
	    sizeof(err)) == 0);
	CHECK(policy_rules_set(ex, "x.example.com", POLICY_BLOCK, err,
	    sizeof(err)) == 0);
	CHECK(policy_rules_set(ex, "*.com", POLICY_ALLOW, err,
	    sizeof(err)) == -1);
	CHECK_STR(judge(&pb, ex, "pypi.org", 443), "allow pypi.org");
	CHECK_STR(judge(&pb, ex, "evil.example", 443), "block evil.example");
	CHECK_STR(judge(&pb, ex, "x.example.com", 443), "block x.example.com");
	CHECK(policy_rules_set(ex, "x.example.com", POLICY_ALLOW, err,
	    sizeof(err)) == 0);
	CHECK_STR(judge(&pb, ex, "x.example.com", 443), "allow x.example.com");
	CHECK_INT(ex->rs_count, 3);
	/* Taken out: the policy decides again; the others still match. */
	CHECK(policy_rules_remove(ex, "x.example.com", err, sizeof(err)) == 0);
	CHECK_INT(ex->rs_count, 2);
	CHECK_STR(judge(&pb, ex, "x.example.com", 443), "allow *.example.com");
	CHECK_STR(judge(&pb, ex, "pypi.org", 443), "allow pypi.org");
	CHECK(policy_rules_find(ex, "x.example.com") == NULL);
	CHECK(policy_rules_remove(ex, "x.example.com", err, sizeof(err)) == 1);
	CHECK(policy_rules_remove(ex, "a b", err, sizeof(err)) == -1);
	CHECK(policy_rules_set(ex, "10.0.0.0/8:22", POLICY_ALLOW, err,
	    sizeof(err)) == 0);
	CHECK(policy_rules_remove(ex, "10.0.0.0/8:22", err, sizeof(err)) == 0);
	CHECK(policy_rules_remove(ex, "pypi.org", err, sizeof(err)) == 0);
	CHECK(policy_rules_remove(ex, "evil.example", err, sizeof(err)) == 0);
	CHECK_INT(ex->rs_count, 0);
	CHECK_STR(judge(&pb, ex, "evil.example", 443), "block evil.example");
	ret = 0;
end:
	policy_rules_free(ex);
	policy_body_free(&pb);
	return (ret);
}

static int
class_of(const char *s)
{
	struct in6_addr	 a6;
	struct in_addr	 a4;

	if (inet_pton(AF_INET, s, &a4) == 1)
		return (policy_addr_class(AF_INET, &a4));
	if (inet_pton(AF_INET6, s, &a6) == 1)
		return (policy_addr_class(AF_INET6, &a6));
	abort();
}

static int
test_classes(void)
{
	struct {
		const char	*addr;
		int		 class;
	} t[] = {
		{ "8.8.8.8", POLICY_ADDR_PUBLIC },
		{ "0.0.0.0", POLICY_ADDR_RESERVED },
		{ "0.255.255.255", POLICY_ADDR_RESERVED },
		{ "10.0.0.0", POLICY_ADDR_PRIVATE },
		{ "10.255.255.255", POLICY_ADDR_PRIVATE },
		{ "11.0.0.0", POLICY_ADDR_PUBLIC },
		{ "100.63.255.255", POLICY_ADDR_PUBLIC },
		{ "100.64.0.0", POLICY_ADDR_PRIVATE },
		{ "100.127.255.255", POLICY_ADDR_PRIVATE },
		{ "100.128.0.0", POLICY_ADDR_PUBLIC },
		{ "127.0.0.1", POLICY_ADDR_LOOPBACK },
		{ "127.255.255.255", POLICY_ADDR_LOOPBACK },
		{ "169.254.0.1", POLICY_ADDR_PRIVATE },
		{ "172.15.255.255", POLICY_ADDR_PUBLIC },
		{ "172.16.0.0", POLICY_ADDR_PRIVATE },
		{ "172.31.255.255", POLICY_ADDR_PRIVATE },
		{ "172.32.0.0", POLICY_ADDR_PUBLIC },
		{ "192.0.0.8", POLICY_ADDR_PRIVATE },
		{ "192.0.2.1", POLICY_ADDR_RESERVED },
		{ "192.168.255.255", POLICY_ADDR_PRIVATE },
		{ "198.18.0.0", POLICY_ADDR_PRIVATE },
		{ "198.19.255.255", POLICY_ADDR_PRIVATE },
		{ "198.20.0.0", POLICY_ADDR_PUBLIC },
		{ "198.51.100.1", POLICY_ADDR_RESERVED },
		{ "203.0.113.255", POLICY_ADDR_RESERVED },
		{ "224.0.0.1", POLICY_ADDR_MULTICAST },
		{ "239.255.255.255", POLICY_ADDR_MULTICAST },
		{ "240.0.0.0", POLICY_ADDR_RESERVED },
		{ "255.255.255.255", POLICY_ADDR_RESERVED },
		{ "::", POLICY_ADDR_RESERVED },
		{ "::1", POLICY_ADDR_LOOPBACK },
		{ "::ffff:127.0.0.1", POLICY_ADDR_LOOPBACK },
		{ "::ffff:10.1.1.1", POLICY_ADDR_PRIVATE },
		{ "::ffff:8.8.8.8", POLICY_ADDR_PUBLIC },
		{ "::127.0.0.1", POLICY_ADDR_LOOPBACK },
		{ "64:ff9b::7f00:1", POLICY_ADDR_LOOPBACK },
		{ "64:ff9b::808:808", POLICY_ADDR_PUBLIC },
		{ "2002:c0a8:0101::1", POLICY_ADDR_PRIVATE },
		{ "2002:0808:0808::1", POLICY_ADDR_PUBLIC },
		{ "fc00::1", POLICY_ADDR_PRIVATE },
		{ "fdff:ffff::1", POLICY_ADDR_PRIVATE },
		{ "fe80::1", POLICY_ADDR_PRIVATE },
		{ "febf::1", POLICY_ADDR_PRIVATE },
		{ "ff02::1", POLICY_ADDR_MULTICAST },
		{ "2001:db8::1", POLICY_ADDR_RESERVED },
		{ "100::1", POLICY_ADDR_RESERVED },
		{ "2606:4700::1111", POLICY_ADDR_PUBLIC },
	};
	size_t	 i;
	int	 ret = -1;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (class_of(t[i].addr) != t[i].class) {
			unit_fail(__FILE__, __LINE__, "%s is %s, want %s",
			    t[i].addr, policy_addr_class_name(class_of(
			    t[i].addr)), policy_addr_class_name(t[i].class));
			goto end;
		}
	}
	ret = 0;
end:
	return (ret);
}

static int
addr_ok_local(const struct policy_body *pb, const char *s, uint16_t port,
    int local)
{
	const struct policy_rule	*ru;
	struct in_addr			 a;
	const char			*why;

	inet_pton(AF_INET, s, &a);
	return (policy_addr_check(pb, NULL, AF_INET, &a, port, local, &why,
	    &ru) == 0);
}

static int
addr_ok(const struct policy_body *pb, const char *s, uint16_t port)
{
	return (addr_ok_local(pb, s, port, 0));
}

/* Classes refused unless the policy or an address rule allows them. */
static int
test_addr_check(void)
{
	struct policy_body	 pb;
	const char		*rules[] = { "allow 203.0.113.0/24:443",
				    "allow 10.9.0.0/16", NULL };
	int			 ret = -1;

	policy_build(&pb, rules);
	CHECK(addr_ok(&pb, "8.8.8.8", 443));
	CHECK(!addr_ok(&pb, "127.0.0.1", 80));
	CHECK(!addr_ok(&pb, "10.0.0.1", 80));
	CHECK(addr_ok(&pb, "10.9.1.1", 80));
	CHECK(!addr_ok(&pb, "10.9.1.1", 22));
	CHECK(addr_ok(&pb, "203.0.113.7", 443));
	CHECK(!addr_ok(&pb, "203.0.113.7", 80));
	CHECK(!addr_ok(&pb, "224.0.0.1", 443));
	pb.pb_loopback = 1;
	CHECK(addr_ok(&pb, "127.0.0.1", 80));
	CHECK(!addr_ok(&pb, "192.168.1.1", 80));
	pb.pb_private = 1;
	CHECK(addr_ok(&pb, "192.168.1.1", 80));
	CHECK(!addr_ok(&pb, "0.0.0.0", 80));
	ret = 0;
end:
	policy_body_free(&pb);
	return (ret);
}

/*
 * Block rules on addresses hold whatever name led there; one of this
 * host's own addresses is judged as loopback.
 */
static int
test_addr_rules(void)
{
	struct policy_body		 pb;
	const struct policy_rule	*ru;
	struct in_addr			 a;
	const char			*rules[] = { "block 11.0.0.1",
					    "block 12.0.0.0/8:443",
					    "allow 12.1.0.0/16:443",
					    "allow 127.0.0.1:8080", NULL };
	const char			*why;
	int				 ret = -1;

	policy_build(&pb, rules);
	CHECK(!addr_ok(&pb, "11.0.0.1", 80));
	inet_pton(AF_INET, "11.0.0.1", &a);
	CHECK(policy_addr_check(&pb, NULL, AF_INET, &a, 80, 0, &why,
	    &ru) == -1);
	CHECK_STR(why, "policy");
	CHECK(ru != NULL);
	CHECK_STR(policy_rule_text(ru), "11.0.0.1");
	CHECK(addr_ok(&pb, "11.0.0.2", 80));
	CHECK(!addr_ok(&pb, "12.9.0.1", 443));
	CHECK(addr_ok(&pb, "12.9.0.1", 80));
	CHECK(addr_ok(&pb, "12.1.0.1", 443));	/* the longer prefix */
	CHECK(addr_ok(&pb, "127.0.0.1", 8080));
	CHECK(!addr_ok(&pb, "127.0.0.1", 8081));
	/* This host's own public address: loopback, not public. */
	CHECK(addr_ok_local(&pb, "11.0.0.2", 80, 0));
	CHECK(!addr_ok_local(&pb, "11.0.0.2", 80, 1));
	pb.pb_loopback = 1;
	CHECK(addr_ok_local(&pb, "11.0.0.2", 80, 1));
	CHECK(!addr_ok_local(&pb, "11.0.0.1", 80, 1));	/* the rule wins */
	ret = 0;
end:
	policy_body_free(&pb);
	return (ret);
}

/*
 * The plain reading of one rule: whether text matches host:port, and how
 * specifically.
 */
static int
scan_rule(const struct policy_body *pb, const char *text, int allow,
    const char *host, uint16_t port, int score[3])
{
	char		 name[128], *colon;
	const char	*n;
	size_t		 hl = strlen(host), nl;
	int		 kind, rport = 0, i, ok = 0;

	snprintf(name, sizeof(name), "%s", text);
	if ((colon = strchr(name, ':')) != NULL) {
		*colon = '\0';
		rport = atoi(colon + 1);
	}
	kind = name[0] == '*' ? 1 : name[0] == '.' ? 2 : 0;
	n = name + (kind == 1 ? 2 : kind == 2 ? 1 : 0);
	nl = strlen(n);
	if (strcmp(host, n) == 0)
		ok = kind != 1;
	else if (hl > nl && host[hl - nl - 1] == '.' &&
	    strcmp(host + hl - nl, n) == 0)
		ok = kind != 0;
	if (!ok)
		return (0);
	if (rport != 0 && rport != port)
		return (0);
	if (rport == 0 && allow) {
		for (i = 0; i < pb->pb_nports; i++)
			if (pb->pb_ports[i] == port)
				break;
		if (i == pb->pb_nports)
			return (0);
	}
	score[0] = kind == 0;
	for (score[1] = 1; *n != '\0'; n++)
		score[1] += *n == '.';
	score[2] = rport != 0;
	return (1);
}

/* The same verdicts as trying every rule in turn, on random sets. */
static int
test_index_vs_scan(void)
{
	static const char	*labels[] = { "a", "b", "cc", "example", "com",
				    "org", "x1" };
	struct policy_body	 pb;
	struct policy_rule	*ru, *rules[400];
	struct sbxd_host	 h;
	const struct policy_rule *got, *want;
	const char		*why;
	char			 pat[128], host[128], err[256];
	enum policy_action	 a;
	int			 i, j, n, round, c, sc[3], best[3] = { 0, 0, 0 };
	int			 ret = -1;
	uint16_t		 port;

	srandom(7);
	for (round = 0; round < 20; round++) {
		policy_body_init(&pb);
		for (n = 0, i = 0; i < 400; i++) {
			snprintf(pat, sizeof(pat), "%s%s.%s%s",
			    (const char *[]){ "", "*.", "." }[random() % 3],
			    labels[random() % 7], labels[random() % 7],
			    random() % 4 == 0 ? ":443" : "");
			if (policy_rule_parse(pat, random() % 2 ? POLICY_ALLOW :
			    POLICY_BLOCK, &ru, err, sizeof(err)) == -1)
				continue;
			if (policy_rules_find(&pb.pb_rules,
			    policy_rule_text(ru)) != NULL) {
				policy_rule_free(ru);
				continue;
			}
			rules[n++] = ru;
			policy_rules_add(&pb.pb_rules, ru);
		}
		for (i = 0; i < 500; i++) {
			snprintf(host, sizeof(host), "%s.%s.%s",
			    labels[random() % 7], labels[random() % 7],
			    labels[random() % 7]);
			port = i % 3 == 0 ? 443 : i % 3 == 1 ? 80 : 22;
			policy_host_parse(host, strlen(host), &h, &why);
			got = policy_match(&pb, NULL, &h, port, &a);
			for (want = NULL, j = 0; j < n; j++) {
				if (!scan_rule(&pb, policy_rule_text(rules[j]),
				    policy_rule_action(rules[j]) ==
				    POLICY_ALLOW, host, port, sc))
					continue;
				c = want == NULL ? 1 : sc[0] - best[0];
				if (c == 0)
					c = sc[1] - best[1];
				if (c == 0)
					c = sc[2] - best[2];
				if (c == 0 && policy_rule_action(rules[j]) ==
				    POLICY_BLOCK &&
				    policy_rule_action(want) == POLICY_ALLOW)
					c = 1;
				if (c > 0) {
					want = rules[j];
					memcpy(best, sc, sizeof(best));
				}
			}
			/* Equal rules may tie; the verdict may not differ. */
			if ((got == NULL) != (want == NULL) || (got != NULL &&
			    policy_rule_action(got) != policy_rule_action(want))) {
				unit_fail(__FILE__, __LINE__, "%s:%u: index %s, "
				    "scan %s", host, port, got != NULL ?
				    policy_rule_text(got) : "-", want != NULL ?
				    policy_rule_text(want) : "-");
				policy_body_free(&pb);
				goto end;
			}
		}
		policy_body_free(&pb);
	}
	ret = 0;
end:
	return (ret);
}

/*
 * Rules replaced over and over (sbxctl allow and deny on one pattern),
 * names and addresses mixed: every pattern is there once, found through
 * the index with its latest action.
 */
static int
test_index_replace(void)
{
	struct policy_rules	 rs;
	const struct policy_rule *ru;
	char			 pat[64], err[256];
	enum policy_action	 want[3000];
	int			 i, round, n = 3000, ret = -1;

	policy_rules_init(&rs);
	srandom(11);
	for (i = 0; i < n; i++) {
		want[i] = POLICY_ALLOW;
		snprintf(pat, sizeof(pat), i % 4 == 3 ? "10.%d.%d.0/24" :
		    "h%d.example%d.com", i / 256, i % 256);
		CHECK(policy_rules_set(&rs, pat, POLICY_ALLOW, err,
		    sizeof(err)) == 0);
	}
	for (round = 0; round < 4 * n; round++) {
		i = random() % n;
		want[i] = want[i] == POLICY_ALLOW ? POLICY_BLOCK : POLICY_ALLOW;
		snprintf(pat, sizeof(pat), i % 4 == 3 ? "10.%d.%d.0/24" :
		    "h%d.example%d.com", i / 256, i % 256);
		CHECK(policy_rules_set(&rs, pat, want[i], err,
		    sizeof(err)) == 0);
	}
	CHECK_INT(rs.rs_count, n);
	for (i = 0; i < n; i++) {
		snprintf(pat, sizeof(pat), i % 4 == 3 ? "10.%d.%d.0/24" :
		    "h%d.example%d.com", i / 256, i % 256);
		CHECK((ru = policy_rules_find(&rs, pat)) != NULL);
		CHECK_INT(policy_rule_action(ru), want[i]);
	}
	CHECK(policy_rules_find(&rs, "h0.example0.org") == NULL);
	ret = 0;
end:
	policy_rules_clear(&rs);
	return (ret);
}

/* 65 536 addresses of one prefix length: each still matches. */
static int
test_many_addrs(void)
{
	struct policy_body	 pb;
	struct sbxd_host	 h;
	enum policy_action	 a;
	const char		*why;
	char			 pat[32], err[256];
	int			 i, ret = -1;

	policy_body_init(&pb);
	for (i = 0; i < 65536; i++) {
		snprintf(pat, sizeof(pat), "10.7.%d.%d", i / 256, i % 256);
		CHECK(policy_rules_set(&pb.pb_rules, pat, POLICY_ALLOW, err,
		    sizeof(err)) == 0);
	}
	CHECK(policy_host_parse("10.7.200.9", 10, &h, &why) == 0);
	CHECK(policy_match(&pb, NULL, &h, 443, &a) != NULL);
	CHECK_INT(a, POLICY_ALLOW);
	CHECK(policy_host_parse("10.8.0.1", 8, &h, &why) == 0);
	CHECK(policy_match(&pb, NULL, &h, 443, &a) == NULL);
	CHECK_INT(a, POLICY_BLOCK);
	ret = 0;
end:
	policy_body_free(&pb);
	return (ret);
}

static const struct unit_test tests[] = {
	{ "hosts", test_hosts },
	{ "patterns", test_patterns },
	{ "match", test_match },
	{ "specificity", test_specificity },
	{ "extra", test_extra },
	{ "classes", test_classes },
	{ "addr_check", test_addr_check },
	{ "addr_rules", test_addr_rules },
	{ "index_vs_scan", test_index_vs_scan },
	{ "index_replace", test_index_replace },
	{ "many_addrs", test_many_addrs },
};

UNIT_MAIN("policy", tests)
