/*
 * proxy_advice.c: what a refusal says.  The 403's body, the proxy.block
 * event and a sandbox's blocked.log name the actual cause and the one
 * change that would let the very request through, and never a change
 * that is already made or would not work:
 *
 * - no rule matched, the policy blocks by default: "sbxctl allow NAME
 *   HOST", with ":PORT" unless the port is one of the policy's ports
 *   (a rule without a port allows only those);
 * - a block rule (of the policy, or a runtime deny) decided: an allow
 *   of exactly HOST:PORT, which beats any less specific rule; when the
 *   block rule is that very pattern in the configuration, no runtime
 *   rule can beat it, and the advice is to take it out;
 * - a name or literal reached a loopback, private, multicast or
 *   reserved address that the policy refuses: an allow of exactly that
 *   ADDRESS:PORT, which admits this address and port and nothing else
 *   (rather than "loopback yes" for the whole policy);
 * - a port of one of sbxd's own listeners, a failed TLS check, an
 *   unusable address: nothing a rule can change, and it says so.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "config.h"
#include "sbxd.h"
#include "proxy.h"

static void	proxy_advice_pattern(char *, size_t, const char *, int,
		    uint16_t, int);

/*
 * Fill pa for the refusal rf: pa_body, the text of the 403; pa_cause,
 * why, in words; and pa_advice, the one command or change, or "" when
 * none can help.
 */
void
proxy_advice(const struct proxy_refusal *rf, struct proxy_advice *pa)
{
	const char	*who = rf->rf_name, *pol = rf->rf_policy;
	const char	*reason = rf->rf_reason, *rule = rf->rf_rule;
	const char	*host = rf->rf_host, *setting = "";
	char		 exact[300], bare[300], *cause = pa->pa_cause;
	size_t		 clen = sizeof(pa->pa_cause);
	size_t		 alen = sizeof(pa->pa_advice);
	int		 i, inports = 0, family = rf->rf_family;

	for (i = 0; i < rf->rf_pb->pb_nports; i++)
		if (rf->rf_pb->pb_ports[i] == rf->rf_port)
			inports = 1;
	/* What the request asked for, and exactly the address refused. */
	proxy_advice_pattern(bare, sizeof(bare), host, family, rf->rf_port,
	    !inports);
	if (rf->rf_addr != NULL) {
		host = rf->rf_addr;
		family = rf->rf_addr_family;
	}
	proxy_advice_pattern(exact, sizeof(exact), host, family, rf->rf_port,
	    1);
	pa->pa_advice[0] = '\0';
	if (strcmp(reason, "policy") == 0 && (rule == NULL ||
	    strcmp(rule, "default") == 0)) {
		snprintf(cause, clen, "no rule of policy \"%s\" allows it, and "
		    "the policy blocks what no rule allows", pol);
		snprintf(pa->pa_advice, alen, "sbxctl allow %s %s", who, bare);
	} else if (strcmp(reason, "policy") == 0) {
		if (rf->rf_runtime)
			snprintf(cause, clen, "the runtime rule deny \"%s\" of "
			    "%s blocks it", rule, who);
		else
			snprintf(cause, clen, "the rule block \"%s\" of policy "
			    "\"%s\" blocks it", rule, pol);
		/* A runtime allow ties a configured block, and loses. */
		if (!rf->rf_runtime && strcmp(exact, rule) == 0)
			snprintf(pa->pa_advice, alen, "take block \"%s\" out "
			    "of policy \"%s\" in sbxd.conf, then run sbxctl "
			    "reload", rule, pol);
		else
			snprintf(pa->pa_advice, alen, "sbxctl allow %s %s", who,
			    exact);
	} else if (strcmp(reason, "loopback") == 0 ||
	    strcmp(reason, "private") == 0 ||
	    strcmp(reason, "multicast") == 0 ||
	    strcmp(reason, "reserved") == 0) {
		if (strcmp(reason, "loopback") == 0)
			setting = " (loopback no)";
		else if (strcmp(reason, "private") == 0)
			setting = " (private no)";
		if (rf->rf_addr != NULL && rf->rf_family == 0)
			snprintf(cause, clen, "%s is %s, a %s address, which "
			    "policy \"%s\" refuses%s", rf->rf_host, rf->rf_addr,
			    reason, pol, setting);
		else
			snprintf(cause, clen, "it is a %s address, which "
			    "policy \"%s\" refuses%s", reason, pol, setting);
		snprintf(pa->pa_advice, alen, "sbxctl allow %s %s", who, exact);
	} else if (strcmp(reason, "own-listener") == 0)
		snprintf(cause, clen, "its port is one of sbxd's own proxy "
		    "listeners, which no rule can allow");
	else if (strcmp(reason, "github-gateway") == 0)
		snprintf(cause, clen, "this sandbox reaches GitHub through "
		    "its gateway only: git's https://github.com/ URLs lead "
		    "there, with the token added");
	else if (strcmp(reason, "sni-mismatch") == 0)
		snprintf(cause, clen, "the TLS server name \"%s\" is not the "
		    "host asked for; policy \"%s\" checks it (sni check)",
		    rule != NULL ? rule : "", pol);
	else if (strcmp(reason, "not-tls") == 0)
		snprintf(cause, clen, "what was sent to port 443 is not TLS; "
		    "policy \"%s\" checks it (sni check)", pol);
	else if (strcmp(reason, "denied") == 0) {
		snprintf(cause, clen, "it was asked about, and denied "
		    "(runtime rule deny \"%s\" of %s)", rule != NULL ? rule :
		    exact, who);
		snprintf(pa->pa_advice, alen, "sbxctl allow %s %s", who,
		    rule != NULL ? rule : exact);
	} else if (strcmp(reason, "ask-timeout") == 0) {
		snprintf(cause, clen, "no rule of policy \"%s\" allows it; "
		    "it was asked about, and nobody answered in time", pol);
		snprintf(pa->pa_advice, alen, "sbxctl allow %s %s", who, bare);
	} else if (strcmp(reason, "ask-limit") == 0) {
		snprintf(cause, clen, "no rule of policy \"%s\" allows it, "
		    "and too many requests or questions of %s wait already",
		    pol, who);
		snprintf(pa->pa_advice, alen, "sbxctl allow %s %s", who, bare);
	} else if (strcmp(reason, "no-address") == 0)
		snprintf(cause, clen, "%s has no address to connect to",
		    rf->rf_host);
	else
		snprintf(cause, clen, "%s%s%s", reason,
		    rule != NULL ? ": " : "", rule != NULL ? rule : "");
	if (pa->pa_advice[0] == '\0')
		snprintf(pa->pa_body, sizeof(pa->pa_body), "sbxd: %s is "
		    "blocked: %s.\n", rf->rf_dest, cause);
	else if (strncmp(pa->pa_advice, "sbxctl ", 7) == 0)
		snprintf(pa->pa_body, sizeof(pa->pa_body), "sbxd: %s is "
		    "blocked: %s.\nTo allow it, an administrator can run:\n"
		    "  %s\n", rf->rf_dest, cause, pa->pa_advice);
	else
		snprintf(pa->pa_body, sizeof(pa->pa_body), "sbxd: %s is "
		    "blocked: %s.\nTo allow it, an administrator can %s.\n",
		    rf->rf_dest, cause, pa->pa_advice);
}

/*
 * The allow pattern for host (a name, or an address of family, IPv6
 * without brackets), with ":port" when withport.
 */
static void
proxy_advice_pattern(char *buf, size_t len, const char *host, int family,
    uint16_t port, int withport)
{
	if (family == AF_INET6 && withport)
		snprintf(buf, len, "[%s]:%u", host, port);
	else if (family == AF_INET6)
		snprintf(buf, len, "[%s]", host);
	else if (withport)
		snprintf(buf, len, "%s:%u", host, port);
	else
		snprintf(buf, len, "%s", host);
}
