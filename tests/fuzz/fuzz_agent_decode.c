/*
 * fuzz_agent_decode.c: libFuzzer harness for the agent stream decoders.
 * The first byte picks the agent type; the rest is its stdout, fed line
 * by line as agent.c feeds it.  Every event must be well formed: a tool
 * name and summary that are bounded, one-line UTF-8; a session id of the
 * safe characters; text that agent_utf8 turns into what jansson takes.
 */

#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config.h"
#include "sbxd.h"
#include "agent.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_line(const char *s, size_t max)
{
	json_t	*j;

	if (strlen(s) >= max || strchr(s, '\n') != NULL)
		abort();
	if ((j = json_string(s)) == NULL)
		abort();	/* not UTF-8 */
	json_decref(j);
}

static void
emitcb(const struct agent_ev *ev, void *arg __unused)
{
	json_t	*j;
	char	*u;
	size_t	 len;

	switch (ev->ae_type) {
	case AGENT_EV_TEXT:
		if (ev->ae_len == 0)
			abort();
		if ((u = agent_utf8(ev->ae_text, ev->ae_len, &len)) == NULL)
			return;
		if ((j = json_stringn(u, len)) == NULL)
			abort();
		json_decref(j);
		free(u);
		break;
	case AGENT_EV_TOOL:
		check_line(ev->ae_tool, AGENT_TOOLNAME_MAX);
		check_line(ev->ae_summary, AGENT_SUMMARY_MAX);
		if (strcmp(ev->ae_status, "started") != 0 &&
		    strcmp(ev->ae_status, "ok") != 0 &&
		    strcmp(ev->ae_status, "failed") != 0)
			abort();
		break;
	case AGENT_EV_SESSION:
		if (strlen(ev->ae_session) == 0 ||
		    strlen(ev->ae_session) > AGENT_SESSION_MAX)
			abort();
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct agent_dec	 ad;
	const char		*p, *end, *nl;
	char			 err[AGENT_REASON_MAX];

	if (len < 1)
		return (0);
	agent_dec_init(&ad, data[0] % 5);
	p = (const char *)data + 1;
	end = (const char *)data + len;
	while (p < end) {
		if ((nl = memchr(p, '\n', end - p)) == NULL)
			nl = end;
		if (agent_dec_line(&ad, p, nl - p, emitcb, NULL, err,
		    sizeof(err)) == -1) {
			check_line(err, sizeof(err) + 1);
			break;
		}
		p = nl + 1;
	}
	if (ad.ad_done) {
		check_line(ad.ad_reason, sizeof(ad.ad_reason) + 1);
		if (ad.ad_status == AGENT_RUNNING)
			abort();
	}
	agent_dec_clear(&ad);
	return (0);
}
