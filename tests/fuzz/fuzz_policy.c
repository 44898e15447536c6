/*
 * fuzz_policy.c: libFuzzer harness for the host parser and the policy
 * patterns: the input is tried as a request host and as a pattern, and a
 * parsed host is matched against a small policy plus the parsed pattern.
 */

#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "sbxd.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static struct policy_body	 pb;
	static int			 init;
	struct policy_rule		*ru;
	const struct policy_rule	*rp;
	struct sbxd_host		 h;
	enum policy_action		 a;
	const char			*why;
	char				 err[256], *s;

	if (!init) {
		policy_body_init(&pb);
		policy_rules_set(&pb.pb_rules, "*.example.com", POLICY_ALLOW,
		    err, sizeof(err));
		policy_rules_set(&pb.pb_rules, "10.0.0.0/8:443", POLICY_ALLOW,
		    err, sizeof(err));
		init = 1;
	}
	if ((s = malloc(len + 1)) == NULL)
		return (0);
	memcpy(s, data, len);
	s[len] = '\0';
	if (policy_host_parse((const char *)data, len, &h, &why) == 0) {
		if (strlen(h.h_name) >= sizeof(h.h_name))
			abort();
		(void)policy_match(&pb, NULL, &h, 443, &a);
		if (h.h_family != 0)
			(void)policy_addr_check(&pb, NULL, h.h_family, &h.h_ip,
			    443, 0, &why, &rp);
	}
	if (policy_rule_parse(s, POLICY_BLOCK, &ru, err, sizeof(err)) == 0) {
		/* Canonical text parses back to itself. */
		struct policy_rule	*again;

		if (policy_rule_parse(policy_rule_text(ru), POLICY_BLOCK,
		    &again, err, sizeof(err)) != 0 ||
		    strcmp(policy_rule_text(ru), policy_rule_text(again)) != 0)
			abort();
		policy_rule_free(again);
		policy_rule_free(ru);
	}
	free(s);
	return (0);
}
