/*
 * agent_cli.c: how each coding-agent CLI is run for one turn: its argv
 * (the machine-readable stream flags, the session to resume, then the
 * agent's args and the mode's) and what goes on its stdin.  The prompt
 * is never an argument: every user can read a process's argv in /proc.
 * claude takes it as a stream-json user message and keeps stdin open,
 * for its interrupt; the others read stdin to its end.
 */

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config.h"
#include "sbxd.h"
#include "agent.h"

#define AGENT_CLI_WORDS	16	/* words sbxd adds to an argv */

/* claude's soft interrupt, a control request on its stdin. */
static const char	 agent_cli_intr[] = "{\"type\":\"control_request\","
			    "\"request_id\":\"req_sbxd_interrupt\","
			    "\"request\":{\"subtype\":\"interrupt\"}}\n";

static size_t	agent_cli_count(char *const *);

/*
 * The argv of a turn of ac in mode am, resuming session (NULL: a new
 * conversation); NULL if memory ran out.  agent_cli_argv_free frees it.
 */
char **
agent_cli_argv(const struct agent_conf *ac, const struct agent_mode *am,
    const char *session)
{
	char		**av;
	const char	*pre[AGENT_CLI_WORDS], *post[AGENT_CLI_WORDS];
	size_t		 npre = 0, npost = 0, n, i, k = 0;

	switch (ac->ac_type) {
	case AGENT_CLAUDE:
		pre[npre++] = "-p";
		pre[npre++] = "--output-format";
		pre[npre++] = "stream-json";
		pre[npre++] = "--verbose";
		pre[npre++] = "--input-format";
		pre[npre++] = "stream-json";
		if (session != NULL) {
			pre[npre++] = "--resume";
			pre[npre++] = session;
		}
		break;
	case AGENT_CODEX:
		pre[npre++] = "exec";
		pre[npre++] = "--json";
		pre[npre++] = "--skip-git-repo-check";
		if (session != NULL) {
			post[npost++] = "resume";
			post[npost++] = session;
		}
		post[npost++] = "-";	/* the prompt: stdin */
		break;
	case AGENT_OPENCODE:
		pre[npre++] = "run";
		pre[npre++] = "--format";
		pre[npre++] = "json";
		if (session != NULL) {
			pre[npre++] = "--session";
			pre[npre++] = session;
		}
		break;
	case AGENT_GEMINI:
		pre[npre++] = "--output-format";
		pre[npre++] = "stream-json";
		if (session != NULL) {
			pre[npre++] = "--resume";
			pre[npre++] = session;
		}
		break;
	case AGENT_COMMAND:
		break;
	}
	n = 1 + npre + agent_cli_count(ac->ac_args) +
	    (am != NULL ? agent_cli_count(am->am_args) : 0) + npost + 1;
	if ((av = calloc(n, sizeof(*av))) == NULL)
		return (NULL);
	if ((av[k++] = strdup(ac->ac_path)) == NULL)
		goto fail;
	for (i = 0; i < npre; i++)
		if ((av[k++] = strdup(pre[i])) == NULL)
			goto fail;
	for (i = 0; ac->ac_args != NULL && ac->ac_args[i] != NULL; i++)
		if ((av[k++] = strdup(ac->ac_args[i])) == NULL)
			goto fail;
	for (i = 0; am != NULL && am->am_args != NULL &&
	    am->am_args[i] != NULL; i++)
		if ((av[k++] = strdup(am->am_args[i])) == NULL)
			goto fail;
	for (i = 0; i < npost; i++)
		if ((av[k++] = strdup(post[i])) == NULL)
			goto fail;
	return (av);
fail:
	agent_cli_argv_free(av);
	return (NULL);
}

void
agent_cli_argv_free(char **av)
{
	size_t	 i;

	for (i = 0; av != NULL && av[i] != NULL; i++)
		free(av[i]);
	free(av);
}

static size_t
agent_cli_count(char *const *av)
{
	size_t	 n = 0;

	while (av != NULL && av[n] != NULL)
		n++;
	return (n);
}

/*
 * What a turn of an agent of type writes on stdin for prompt: a
 * stream-json user message for claude, the prompt itself otherwise.
 * Allocated, its length in *lenp; NULL if memory ran out.
 */
char *
agent_cli_input(int type, const char *prompt, size_t len, size_t *lenp)
{
	json_t	*msg;
	char	*s, *line;

	if (type != AGENT_CLAUDE) {
		if ((s = malloc(len + 1)) == NULL)
			return (NULL);
		memcpy(s, prompt, len);
		s[len] = '\0';
		*lenp = len;
		return (s);
	}
	msg = json_pack("{s:s, s:{s:s, s:s%}}", "type", "user", "message",
	    "role", "user", "content", prompt, len);
	if (msg == NULL)
		return (NULL);
	s = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	if (s == NULL || asprintf(&line, "%s\n", s) == -1) {
		free(s);
		return (NULL);
	}
	free(s);
	*lenp = strlen(line);
	return (line);
}

/* Whether stdin stays open after the prompt (claude: its interrupt). */
int
agent_cli_keeps_stdin(int type)
{
	return (type == AGENT_CLAUDE);
}

/* The line that asks claude to stop its turn. */
const char *
agent_cli_interrupt(void)
{
	return (agent_cli_intr);
}

/*
 * A prompt sbxd takes: 1 to AGENT_PROMPT_MAX bytes, no NUL.  -1 with
 * err saying why otherwise.
 */
int
agent_prompt_check(const char *prompt, size_t len, char *err,
    size_t errlen)
{
	if (prompt == NULL || len == 0) {
		snprintf(err, errlen, "the prompt is empty");
		return (-1);
	}
	if (len > AGENT_PROMPT_MAX) {
		snprintf(err, errlen, "the prompt is %zu bytes, over the "
		    "limit of %d (256 KiB)", len, AGENT_PROMPT_MAX);
		return (-1);
	}
	if (memchr(prompt, '\0', len) != NULL) {
		snprintf(err, errlen, "the prompt holds a NUL byte");
		return (-1);
	}
	return (0);
}
