/*
 * test_proxy_advice.c: what a refusal says, cause by cause: the port
 * kept where a rule without one would not allow it, never a rule that
 * is already there or cannot win, the address a name reached, and
 * nothing to run where no rule can help.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <stdio.h>
#include <string.h>

#include <event2/event_struct.h>
#include <jansson.h>

#include "config.h"
#include "sbxd.h"
#include "proxy.h"
#include "unit.h"

static struct policy_body	pb;

/* A refusal of HOST:PORT (FAMILY) on sandbox t1 under policy "agents". */
static void
refusal(struct proxy_refusal *rf, const char *dest, const char *host,
    int family, uint16_t port, const char *reason, const char *rule)
{
	memset(rf, 0, sizeof(*rf));
	pb.pb_ports[0] = 80;
	pb.pb_ports[1] = 443;
	pb.pb_nports = 2;
	rf->rf_name = "t1";
	rf->rf_policy = "agents";
	rf->rf_pb = &pb;
	rf->rf_dest = dest;
	rf->rf_host = host;
	rf->rf_family = family;
	rf->rf_port = port;
	rf->rf_reason = reason;
	rf->rf_rule = rule;
}

static int
test_default(void)
{
	struct proxy_refusal	 rf;
	struct proxy_advice	 pa;
	int			 ret = -1;

	/* A port of the policy: the bare name allows it. */
	refusal(&rf, "example.com:443", "example.com", 0, 443, "policy",
	    "default");
	proxy_advice(&rf, &pa);
	CHECK_STR(pa.pa_advice, "sbxctl allow t1 example.com");
	CHECK_STR(pa.pa_body, "sbxd: example.com:443 is blocked: no rule of "
	    "policy \"agents\" allows it, and the policy blocks what no rule "
	    "allows.\nTo allow it, an administrator can run:\n"
	    "  sbxctl allow t1 example.com\n");
	/* Another port: the port goes with it. */
	refusal(&rf, "127.0.0.2:8000", "127.0.0.2", AF_INET, 8000, "policy",
	    "default");
	proxy_advice(&rf, &pa);
	CHECK_STR(pa.pa_advice, "sbxctl allow t1 127.0.0.2:8000");
	refusal(&rf, "[2001:db8::1]:8443", "2001:db8::1", AF_INET6, 8443,
	    "policy", "default");
	proxy_advice(&rf, &pa);
	CHECK_STR(pa.pa_advice, "sbxctl allow t1 [2001:db8::1]:8443");
	ret = 0;
end:
	return (ret);
}

static int
test_rule(void)
{
	struct proxy_refusal	 rf;
	struct proxy_advice	 pa;
	int			 ret = -1;

	/* A wider block rule: the exact host and port beat it. */
	refusal(&rf, "a.example.com:443", "a.example.com", 0, 443, "policy",
	    "*.example.com");
	proxy_advice(&rf, &pa);
	CHECK_STR(pa.pa_cause, "the rule block \"*.example.com\" of policy "
	    "\"agents\" blocks it");
	CHECK_STR(pa.pa_advice, "sbxctl allow t1 a.example.com:443");
	/* A runtime deny of the very pattern: allow replaces it. */
	refusal(&rf, "a.example.com:443", "a.example.com", 0, 443, "policy",
	    "a.example.com:443");
	rf.rf_runtime = 1;
	proxy_advice(&rf, &pa);
	CHECK_STR(pa.pa_cause, "the runtime rule deny \"a.example.com:443\" "
	    "of t1 blocks it");
	CHECK_STR(pa.pa_advice, "sbxctl allow t1 a.example.com:443");
	/* The same pattern in the configuration: no runtime rule wins. */
	rf.rf_runtime = 0;
	proxy_advice(&rf, &pa);
	CHECK_STR(pa.pa_advice, "take block \"a.example.com:443\" out of "
	    "policy \"agents\" in sbxd.conf, then run sbxctl reload");
	CHECK(strstr(pa.pa_body, "To allow it, an administrator can take "
	    "block") != NULL);
	ret = 0;
end:
	return (ret);
}

static int
test_class(void)
{
	struct proxy_refusal	 rf;
	struct proxy_advice	 pa;
	int			 ret = -1;

	/* A name that reached loopback: that address and port only. */
	refusal(&rf, "localhost:8000", "localhost", 0, 8000, "loopback",
	    NULL);
	rf.rf_addr = "127.0.0.1";
	rf.rf_addr_family = AF_INET;
	proxy_advice(&rf, &pa);
	CHECK_STR(pa.pa_cause, "localhost is 127.0.0.1, a loopback address, "
	    "which policy \"agents\" refuses (loopback no)");
	CHECK_STR(pa.pa_advice, "sbxctl allow t1 127.0.0.1:8000");
	/* A private literal on a port of the policy: still with the port. */
	refusal(&rf, "10.1.2.3:443", "10.1.2.3", AF_INET, 443, "private",
	    NULL);
	proxy_advice(&rf, &pa);
	CHECK_STR(pa.pa_cause, "it is a private address, which policy "
	    "\"agents\" refuses (private no)");
	CHECK_STR(pa.pa_advice, "sbxctl allow t1 10.1.2.3:443");
	refusal(&rf, "mc.test:80", "mc.test", 0, 80, "multicast", NULL);
	rf.rf_addr = "ff02::1";
	rf.rf_addr_family = AF_INET6;
	proxy_advice(&rf, &pa);
	CHECK_STR(pa.pa_advice, "sbxctl allow t1 [ff02::1]:80");
	ret = 0;
end:
	return (ret);
}

/* Nothing a rule can change: no command, and the body says why. */
static int
test_none(void)
{
	struct proxy_refusal	 rf;
	struct proxy_advice	 pa;
	int			 ret = -1;

	refusal(&rf, "127.0.0.1:860", "127.0.0.1", AF_INET, 860,
	    "own-listener", NULL);
	proxy_advice(&rf, &pa);
	CHECK_STR(pa.pa_advice, "");
	CHECK_STR(pa.pa_body, "sbxd: 127.0.0.1:860 is blocked: its port is "
	    "one of sbxd's own proxy listeners, which no rule can allow.\n");
	refusal(&rf, "a.test:443", "a.test", 0, 443, "sni-mismatch",
	    "b.test");
	proxy_advice(&rf, &pa);
	CHECK_STR(pa.pa_advice, "");
	CHECK(strstr(pa.pa_cause, "\"b.test\"") != NULL);
	refusal(&rf, "a.test:80", "a.test", 0, 80, "no-address", NULL);
	proxy_advice(&rf, &pa);
	CHECK_STR(pa.pa_advice, "");
	CHECK_STR(pa.pa_cause, "a.test has no address to connect to");
	ret = 0;
end:
	return (ret);
}

static const struct unit_test tests[] = {
	{ "default", test_default },
	{ "rule", test_rule },
	{ "class", test_class },
	{ "none", test_none },
};

UNIT_MAIN("proxy_advice", tests)
