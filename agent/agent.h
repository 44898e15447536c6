/*
 * agent.h: shared inside the agent module (agent/agent*.c): the event
 * model every CLI's stream is decoded into, the decoder, and the argv
 * and stdin of a turn per CLI.  The decoder and the argv builder are
 * pure (no I/O), so that the tests and the fuzzer call them directly.
 */

#ifndef AGENT_H
#define AGENT_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define AGENT_PROMPT_MAX	(256 * 1024) /* bytes of one prompt */
#define AGENT_LINE_MAX		(1024 * 1024) /* one line of a CLI's
					   output: a longer one is not a
					   stream we know */
#define AGENT_SESSION_MAX	128	/* an agent's session id */
#define AGENT_SUMMARY_MAX	160	/* a tool's one-line summary */
#define AGENT_TOOLNAME_MAX	64
#define AGENT_REASON_MAX	512	/* why a turn failed */
#define AGENT_TOOLS_MAX		1024	/* tools started and not ended that
					   a decoder remembers */

/* How a turn ended. */
enum agent_status {
	AGENT_RUNNING,		/* not yet */
	AGENT_OK,
	AGENT_FAILED,
	AGENT_INTERRUPTED,
	AGENT_TIMEOUT
};

/* One decoded event of a turn's stream. */
enum agent_ev_type {
	AGENT_EV_TEXT,		/* the agent's text */
	AGENT_EV_TOOL,		/* a tool started or ended */
	AGENT_EV_SESSION	/* the agent's session id, first seen */
};
struct agent_ev {
	enum agent_ev_type	 ae_type;
	const char		*ae_text;	/* TEXT; not NUL-terminated */
	size_t			 ae_len;
	const char		*ae_tool;	/* TOOL: its name */
	const char		*ae_summary;	/* one line, may be "" */
	const char		*ae_status;	/* "started", "ok" or
						   "failed" */
	const char		*ae_session;	/* SESSION */
};
typedef void	(*agent_emitcb)(const struct agent_ev *, void *);

/* A decoder's state across the lines of one turn. */
struct agent_dec {
	int			 ad_type;	/* enum agent_type */
	int			 ad_done;	/* its end-of-turn line came */
	enum agent_status	 ad_status;	/* with ad_done */
	char			 ad_reason[AGENT_REASON_MAX];
	char			 ad_session[AGENT_SESSION_MAX + 1];
	char			 ad_lasterr[AGENT_REASON_MAX];
	int64_t			 ad_tokens_in;
	int64_t			 ad_tokens_out;
	double			 ad_cost;	/* USD */
	int			 ad_has_cost;
	uint64_t		 ad_lines;
	json_t			*ad_tools;	/* tool id -> name */
};

/* agent/agent_decode.c */
void		 agent_dec_init(struct agent_dec *, int);
void		 agent_dec_clear(struct agent_dec *);
int		 agent_dec_line(struct agent_dec *, const char *, size_t,
		    agent_emitcb, void *, char *, size_t);
const char	*agent_status_name(enum agent_status);
void		 agent_utf8_fix(char *);
char		*agent_utf8(const char *, size_t, size_t *);

struct agent_conf;
struct agent_mode;

/* agent/agent_cli.c */
char		**agent_cli_argv(const struct agent_conf *,
		    const struct agent_mode *, const char *);
void		 agent_cli_argv_free(char **);
char		*agent_cli_input(int, const char *, size_t, size_t *);
int		 agent_cli_keeps_stdin(int);
const char	*agent_cli_interrupt(void);
int		 agent_prompt_check(const char *, size_t, char *, size_t);

#endif /* AGENT_H */
