/*
 * agent.c: agent turns.  A prompt for a sandbox becomes one turn of its
 * coding-agent CLI (agent blocks of sbxd.conf), run as the sandbox's
 * user by the process layer (job.c; through the privileged process when
 * there is one), in the sandbox's home, in a session of its own, with an
 * environment built from scratch and the prompt on a stdin pipe.  Its
 * stdout is split into lines and decoded as it streams (agent_decode.c)
 * into agent.* events, the turn's transcript and the lines an "ask"
 * client follows.
 *
 * One turn runs per sandbox at a time; the others wait in a FIFO queue
 * that lives in the store, so that it survives a restart.  A turn ends
 * at its end-of-turn line: stdin closes, and a CLI that lingers is
 * stopped.  An interrupt (and the timeout, and rm) first asks the CLI
 * (claude: a control request on stdin; the others: SIGINT to the
 * turn's process group), then sends SIGTERM, then SIGKILL to every
 * process of the sandbox's uid, and reports how many processes were
 * stopped and that none is left.  Nothing is ever signalled by name,
 * and never outside the sandbox's uid.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/wait.h>

#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <jansson.h>

#include "config.h"
#include "log.h"
#include "sbxd.h"
#include "sandbox.h"
#include "agent.h"

#define AGENT_INTR_GRACE	3	/* seconds from the soft interrupt to
					   SIGTERM, and from SIGTERM to
					   SIGKILL of the whole uid */
#define AGENT_EXIT_GRACE	5	/* seconds a CLI may take to exit after
					   its last line (claude writes its
					   session file then) */
#define AGENT_STDERR_MAX	(16 * 1024) /* stderr kept: its tail */
#define AGENT_TRANSCRIPT_MAX	(1024 * 1024) /* text kept per turn */
#define AGENT_CLIENT_HIWAT	(1024 * 1024) /* bytes queued to an ask
					   client before the agent's output
					   pauses */
#define AGENT_CLIENT_LOWAT	(256 * 1024)
#define AGENT_CLIENT_FLUSH	30	/* seconds to take the last lines */
#define AGENT_WAITERS_MAX	8	/* interrupt requests on one turn */
#define AGENT_TURNS_LIST	20	/* turns NAME without a count */
#define AGENT_TURNS_LIST_MAX	10000
#define AGENT_KICK_MSECS	1000	/* retry a sandbox not yet ready */
#define AGENT_LANG		"LANG=C.UTF-8"

struct agent_sb;
struct agent_client;

/* One turn, queued or running. */
struct agent_turn {
	TAILQ_ENTRY(agent_turn)	 t_entry;	/* its sandbox's queue */
	int64_t			 t_id;
	struct agent_sb		*t_sb;
	char			*t_agent;
	char			*t_mode;
	char			*t_requester;
	char			*t_prompt;
	size_t			 t_promptlen;
	int			 t_new;		/* forget the session first */
	struct agent_client	*t_client;	/* the ask that follows it */

	/* Running. */
	int			 t_type;	/* enum agent_type */
	struct job		*t_job;
	pid_t			 t_pid;
	uid_t			 t_uid;
	struct agent_dec	 t_dec;
	struct evbuffer		*t_out;		/* stdout not yet a line */
	struct evbuffer		*t_err;		/* stderr's tail */
	json_t			*t_transcript;
	struct evbuffer		*t_text;	/* text since the last tool:
						   the transcript's next item */
	size_t			 t_tbytes;
	int			 t_truncated;
	uint64_t		 t_outbytes;
	struct timespec		 t_start;
	struct proxy_gw_counters t_gw;		/* the gateway's at the
						   start */
	int			 t_gw_on;	/* the sandbox has one */
	uint64_t		 t_gw_requests;	/* what went through it
						   in the turn */
	struct event		*t_ev_timeout;
	struct event		*t_ev_stage;
	int			 t_timeout;	/* seconds */
	int			 t_ended;	/* its last line came */
	int			 t_stopping;	/* interrupt, timeout, rm */
	enum agent_status	 t_final;	/* with t_stopping */
	char			 t_reason[AGENT_REASON_MAX];
	int			 t_stage;	/* 1 soft, 2 TERM, 3 uid */
	int			 t_nproc;	/* the uid's at the stop */
	struct job_uidstop	*t_uidstop;
	int			 t_swept;	/* the uid stop ended */
	int			 t_noreport;	/* no processes to report */
	int			 t_left;	/* processes left after it */
	int			 t_status;	/* wait status; -1: lost */
	int			 t_paused;	/* output paused: the client
						   lags */
	uint64_t		 t_generation;	/* its sandbox's at start */
	struct control_req	*t_waiters[AGENT_WAITERS_MAX];
	int			 t_nwaiters;
};
TAILQ_HEAD(agent_turns, agent_turn);

/* A sandbox's agent state: its mode, conversation, queue and turn. */
struct agent_sb {
	TAILQ_ENTRY(agent_sb)	 as_entry;
	char			 as_id[SANDBOX_ID_LEN + 1];
	char			 as_name[SANDBOX_NAME_MAX + 1];
	char			*as_mode;	/* NULL: the agent's first */
	char			*as_session;
	struct agent_turn	*as_running;
	struct agent_turns	 as_queue;
	int			 as_nqueued;
	uint64_t		 as_generation;	/* bumped by reset */
	struct event		*as_ev_kick;
	int			 as_gone;	/* removed: free when idle */
};
TAILQ_HEAD(agent_sbs, agent_sb);

/* An ask request's connection, following its turn. */
struct agent_client {
	struct bufferevent	*ac_bev;
	struct agent_turn	*ac_turn;	/* NULL once it ended */
};

static struct agent_sbs		 agent_sbs = TAILQ_HEAD_INITIALIZER(agent_sbs);
static struct events_sub	*agent_sub;
static int			 agent_on;
static int			 agent_stopping; /* shutdown: no waiting */
static const char		*agent_off_reason;
static uint64_t			 agent_nstarted;
static uint64_t			 agent_nended[AGENT_TIMEOUT + 1];
static uint64_t			 agent_nrefused;
static uint64_t			 agent_nbadstreams;

static int	agent_init(struct sbxd_config *);
static int	agent_reload(struct sbxd_config *, json_t *);
static void	agent_shutdown(void);
static json_t	*agent_status(void);
static void	agent_resume(void);
static struct agent_sb *agent_sb_get(const char *, const char *);
static struct agent_sb *agent_sb_find(const char *);
static void	agent_sb_free(struct agent_sb *);
static void	agent_sb_kick(struct agent_sb *);
static void	agent_sb_kickcb(evutil_socket_t, short, void *);
static void	agent_sb_next(struct agent_sb *);
static void	agent_sb_cancel(struct agent_sb *, const char *);
static struct agent_conf *agent_of(const struct sandbox *);
static const char *agent_mode_of(struct agent_sb *,
		    const struct agent_conf *);
static struct agent_turn *agent_turn_new(struct agent_sb *, const char *,
		    const char *, const char *, const char *, size_t);
static void	agent_turn_free(struct agent_turn *);
static int	agent_turn_start(struct agent_turn *, struct sandbox *,
		    char *, size_t);
static char	**agent_turn_env(char *const *, const struct agent_conf *);
static void	agent_turn_outputcb(struct job *, int, struct evbuffer *,
		    void *);
static void	agent_turn_lines(struct agent_turn *, int);
static void	agent_turn_emitcb(const struct agent_ev *, void *);
static void	agent_turn_transcript(struct agent_turn *, json_t *,
		    size_t);
static void	agent_turn_text_flush(struct agent_turn *);
static void	agent_turn_donecb(struct job *, int, void *);
static void	agent_turn_ended(struct agent_turn *);
static void	agent_turn_stop(struct agent_turn *, enum agent_status,
		    const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));
static void	agent_turn_fail(struct agent_turn *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
static void	agent_turn_timeoutcb(evutil_socket_t, short, void *);
static void	agent_turn_stagecb(evutil_socket_t, short, void *);
static void	agent_turn_sweep(struct agent_turn *);
static void	agent_turn_sweptcb(int, void *);
static void	agent_turn_check(struct agent_turn *);
static void	agent_turn_finish(struct agent_turn *);
static void	agent_gw_usage(struct agent_turn *, struct agent_sb *,
		    struct agent_dec *);
static void	agent_turn_finish_error(struct agent_turn *,
		    enum agent_status, const char *);
static json_t	*agent_turn_event(struct agent_turn *);
static void	agent_publish(struct agent_turn *, const char *, json_t *);
static void	agent_client_line(struct agent_client *, json_t *);
static void	agent_client_end(struct agent_client *);
static void	agent_client_free(struct agent_client *);
static void	agent_client_writecb(struct bufferevent *, void *);
static void	agent_client_eventcb(struct bufferevent *, short, void *);
static void	agent_eventcb(json_t *, void *);
static void	agent_now(char *, size_t);
static void	agent_requester(struct control_req *, char *, size_t);
static struct sandbox *agent_sandbox(struct control_req *, json_t *);
static void	agent_ctl_ask(struct control_req *, json_t *);
static void	agent_ctl_interrupt(struct control_req *, json_t *);
static void	agent_ctl_turns(struct control_req *, json_t *);
static void	agent_ctl_turn(struct control_req *, json_t *);
static void	agent_ctl_mode(struct control_req *, json_t *);
static void	agent_ctl_reset(struct control_req *, json_t *);

const struct sbxd_component agent_component = {
	.cm_name = "agent",
	.cm_init = agent_init,
	.cm_reload = agent_reload,
	.cm_shutdown = agent_shutdown,
	.cm_status = agent_status,
};

static const struct control_field agent_ask_fields[] = {
	{ "name", CONTROL_F_STRING | CONTROL_F_NEEDED },
	{ "prompt", CONTROL_F_STRING | CONTROL_F_NEEDED },
	{ "mode", CONTROL_F_STRING },
	{ "new", CONTROL_F_BOOL },
	{ NULL, 0 }
};
static const struct control_field agent_name_fields[] = {
	{ "name", CONTROL_F_STRING | CONTROL_F_NEEDED },
	{ NULL, 0 }
};
static const struct control_field agent_turns_fields[] = {
	{ "name", CONTROL_F_STRING | CONTROL_F_NEEDED },
	{ "last", CONTROL_F_INT },
	{ NULL, 0 }
};
static const struct control_field agent_turn_fields[] = {
	{ "id", CONTROL_F_INT | CONTROL_F_NEEDED },
	{ NULL, 0 }
};
static const struct control_field agent_mode_fields[] = {
	{ "name", CONTROL_F_STRING | CONTROL_F_NEEDED },
	{ "mode", CONTROL_F_STRING },
	{ NULL, 0 }
};

static const char	*agent_cmds[] = { "ask", "interrupt", "turns", "turn",
			    "mode", "reset" };

/*
 * Agents run in sandboxes: on when sandboxes are.  Turns a stopped sbxd
 * left running were interrupted with it; queued ones run again.
 */
static int
agent_init(struct sbxd_config *conf)
{
	size_t	 i;
	int	 n;

	if (!conf->sc_sandbox.sbc_enabled)
		agent_off_reason = "agents run in sandboxes, which are off: "
		    "see sbxd.conf(5), SANDBOXES";
	else if (geteuid() != 0 && !priv_on())
		agent_off_reason = "agents run in sandboxes, which need sbxd "
		    "to start as root";
	if (agent_off_reason != NULL) {
		for (i = 0; i < nitems(agent_cmds); i++)
			control_register_off(agent_cmds[i], agent_off_reason);
		return (0);
	}
	control_register("ask", agent_ctl_ask, agent_ask_fields);
	control_register("interrupt", agent_ctl_interrupt, agent_name_fields);
	control_register("turns", agent_ctl_turns, agent_turns_fields);
	control_register("turn", agent_ctl_turn, agent_turn_fields);
	control_register("mode", agent_ctl_mode, agent_mode_fields);
	control_register("reset", agent_ctl_reset, agent_name_fields);
	if ((agent_sub = events_subscribe("agent", agent_eventcb, NULL)) ==
	    NULL)
		return (-1);
	agent_on = 1;
	if ((n = store_turns_interrupted("sbxd stopped during the turn")) > 0)
		log_warnx("agent: %d turns were running when sbxd stopped: "
		    "marked interrupted", n);
	agent_resume();
	if (TAILQ_EMPTY(&conf->sc_agents))
		log_info("agent: no agent in the config; add an agent block "
		    "(sbxd.conf(5), AGENTS) to run turns");
	return (0);
}

/* Agents are looked up at each turn's start: nothing to move. */
static int
agent_reload(struct sbxd_config *conf __unused, json_t *errors __unused)
{
	return (0);
}

/*
 * Stop: a running turn is killed and recorded as interrupted; queued
 * turns stay in the store for the next start.
 */
static void
agent_shutdown(void)
{
	struct agent_sb		*as;
	struct agent_turn	*t;

	agent_stopping = 1;
	while ((as = TAILQ_FIRST(&agent_sbs)) != NULL) {
		if ((t = as->as_running) != NULL)
			agent_turn_finish_error(t, AGENT_INTERRUPTED,
			    "sbxd stopped during the turn");
		while ((t = TAILQ_FIRST(&as->as_queue)) != NULL) {
			TAILQ_REMOVE(&as->as_queue, t, t_entry);
			agent_turn_free(t);
		}
		as->as_nqueued = 0;
		agent_sb_free(as);
	}
	if (agent_sub != NULL)
		events_unsubscribe(agent_sub);
	agent_sub = NULL;
	agent_on = 0;
	agent_stopping = 0;
}

/*
 * For sbxctl status: every sandbox's agent, mode, turn and queue, and
 * counters.
 */
static json_t *
agent_status(void)
{
	struct sbxd_config	*conf = sbxd_env->sx_conf;
	struct agent_conf	*ac;
	struct sandbox		*sb;
	struct agent_sb		*as;
	json_t			*sbs, *agents;
	const char		*mode;

	if (!agent_on)
		return (json_pack("{s:s, s:s?}", "state", "off", "reason",
		    agent_off_reason));
	agents = json_array();
	TAILQ_FOREACH(ac, &conf->sc_agents, ac_entry)
		json_array_append_new(agents, json_string(ac->ac_name));
	sbs = json_array();
	TAILQ_FOREACH(sb, &sandboxes, sb_entry) {
		ac = agent_of(sb);
		as = agent_sb_find(sb->sb_id);
		mode = ac == NULL ? NULL : as != NULL ?
		    agent_mode_of(as, ac) : config_agent_mode(ac,
		    NULL)->am_name;
		json_array_append_new(sbs, json_pack("{s:s, s:s?, s:s?, s:s, "
		    "s:I, s:i}", "name", sb->sb_name, "agent", ac != NULL ?
		    ac->ac_name : NULL, "mode", mode, "state",
		    as != NULL && as->as_running != NULL ? "busy" : "idle",
		    "turn", as != NULL && as->as_running != NULL ?
		    (json_int_t)as->as_running->t_id : (json_int_t)0,
		    "queue", as != NULL ? as->as_nqueued : 0));
	}
	return (json_pack("{s:s, s:o, s:o, s:I, s:I, s:I, s:I, s:I, s:I, "
	    "s:I}", "state", "up", "agents", agents, "sandboxes", sbs,
	    "started", (json_int_t)agent_nstarted,
	    "ok", (json_int_t)agent_nended[AGENT_OK],
	    "failed", (json_int_t)agent_nended[AGENT_FAILED],
	    "interrupted", (json_int_t)agent_nended[AGENT_INTERRUPTED],
	    "timeout", (json_int_t)agent_nended[AGENT_TIMEOUT],
	    "refused", (json_int_t)agent_nrefused,
	    "bad_streams", (json_int_t)agent_nbadstreams));
}

/* The queued turns of the store, back in their queues, oldest first. */
static void
agent_resume(void)
{
	struct agent_sb		*as;
	struct agent_turn	*t;
	json_t			*list, *row;
	const char		*prompt;
	size_t			 i;
	int			 n = 0;

	if ((list = store_turn_list(NULL, "queued", INT32_MAX, 1)) == NULL) {
		log_warnx("agent: cannot read the queued turns: %s",
		    store_error());
		return;
	}
	json_array_foreach(list, i, row) {
		prompt = json_string_value(json_object_get(row, "prompt"));
		as = agent_sb_get(json_string_value(json_object_get(row,
		    "sandbox_id")), json_string_value(json_object_get(row,
		    "sandbox")));
		if (as == NULL || prompt == NULL || (t = agent_turn_new(as,
		    json_string_value(json_object_get(row, "agent")),
		    json_string_value(json_object_get(row, "mode")),
		    json_string_value(json_object_get(row, "requester")),
		    prompt, json_string_length(json_object_get(row,
		    "prompt")))) == NULL)
			continue;
		t->t_id = json_integer_value(json_object_get(row, "id"));
		t->t_new = json_integer_value(json_object_get(row,
		    "new_session")) != 0;
		TAILQ_INSERT_TAIL(&as->as_queue, t, t_entry);
		as->as_nqueued++;
		n++;
	}
	json_decref(list);
	if (n > 0)
		log_info("agent: %d queued turns from before the restart", n);
	TAILQ_FOREACH(as, &agent_sbs, as_entry)
		agent_sb_kick(as);
}

/* The state of sandbox id, made (with its stored mode and session). */
static struct agent_sb *
agent_sb_get(const char *id, const char *name)
{
	struct agent_sb	*as;
	json_t		*st;
	const char	*s;

	if (id == NULL || name == NULL)
		return (NULL);
	if ((as = agent_sb_find(id)) != NULL)
		return (as);
	if ((as = calloc(1, sizeof(*as))) == NULL)
		return (NULL);
	snprintf(as->as_id, sizeof(as->as_id), "%s", id);
	snprintf(as->as_name, sizeof(as->as_name), "%s", name);
	TAILQ_INIT(&as->as_queue);
	if ((as->as_ev_kick = evtimer_new(sbxd_env->sx_base, agent_sb_kickcb,
	    as)) == NULL) {
		free(as);
		return (NULL);
	}
	if ((st = store_agent_state_get(id)) != NULL) {
		if ((s = json_string_value(json_object_get(st, "mode"))) !=
		    NULL)
			as->as_mode = strdup(s);
		if ((s = json_string_value(json_object_get(st, "session"))) !=
		    NULL)
			as->as_session = strdup(s);
		json_decref(st);
	}
	TAILQ_INSERT_TAIL(&agent_sbs, as, as_entry);
	return (as);
}

static struct agent_sb *
agent_sb_find(const char *id)
{
	struct agent_sb	*as;

	TAILQ_FOREACH(as, &agent_sbs, as_entry)
		if (strcmp(as->as_id, id) == 0)
			return (as);
	return (NULL);
}

/* Free an idle sandbox's state (its queue must be empty). */
static void
agent_sb_free(struct agent_sb *as)
{
	TAILQ_REMOVE(&agent_sbs, as, as_entry);
	event_free(as->as_ev_kick);
	free(as->as_mode);
	free(as->as_session);
	free(as);
}

/* Start the next turn from the loop, soon (or after delay msecs). */
static void
agent_sb_kick(struct agent_sb *as)
{
	struct timeval	 tv = { 0, 0 };

	if (!evtimer_pending(as->as_ev_kick, NULL))
		evtimer_add(as->as_ev_kick, &tv);
}

static void
agent_sb_kickcb(evutil_socket_t fd __unused, short events __unused,
    void *arg)
{
	agent_sb_next(arg);
}

/*
 * If the sandbox is idle, start its oldest queued turn.  A sandbox that
 * is being restored is retried; one that failed fails the turn with its
 * reason; one that is gone cancels its queue.
 */
static void
agent_sb_next(struct agent_sb *as)
{
	struct timeval		 tv = { 0, AGENT_KICK_MSECS * 1000 };
	struct agent_turn	*t;
	struct sandbox		*sb;
	char			 err[AGENT_REASON_MAX];

	while (as->as_running == NULL &&
	    (t = TAILQ_FIRST(&as->as_queue)) != NULL) {
		sb = sandbox_find(as->as_name);
		if (sb == NULL || strcmp(sb->sb_id, as->as_id) != 0 ||
		    sb->sb_state == SANDBOX_REMOVING) {
			agent_sb_cancel(as, "the sandbox was removed");
			break;
		}
		if (sb->sb_state == SANDBOX_CREATING) {
			evtimer_add(as->as_ev_kick, &tv);
			return;
		}
		TAILQ_REMOVE(&as->as_queue, t, t_entry);
		as->as_nqueued--;
		as->as_running = t;
		if (sb->sb_state != SANDBOX_READY) {
			snprintf(err, sizeof(err), "sandbox %s is %s: %s",
			    sb->sb_name, sandbox_state_name(sb->sb_state),
			    sb->sb_error);
			agent_turn_finish_error(t, AGENT_FAILED, err);
			continue;
		}
		if (agent_turn_start(t, sb, err, sizeof(err)) == -1)
			agent_turn_finish_error(t, AGENT_FAILED, err);
	}
	if (as->as_gone && as->as_running == NULL &&
	    TAILQ_EMPTY(&as->as_queue))
		agent_sb_free(as);
}

/* Every queued turn of as ends, cancelled for why. */
static void
agent_sb_cancel(struct agent_sb *as, const char *why)
{
	struct agent_turn	*t;
	json_t			*row;

	while ((t = TAILQ_FIRST(&as->as_queue)) != NULL) {
		TAILQ_REMOVE(&as->as_queue, t, t_entry);
		as->as_nqueued--;
		row = json_pack("{s:s, s:s}", "status", "cancelled", "reason",
		    why);
		store_turn_update(t->t_id, row);
		json_decref(row);
		agent_publish(t, "agent.done", json_pack("{s:s, s:s}",
		    "status", "cancelled", "reason", why));
		if (t->t_client != NULL) {
			agent_client_line(t->t_client, json_pack("{s:s, s:s, "
			    "s:I, s:s, s:s}", "type", "agent.done", "sandbox",
			    as->as_name, "turn", (json_int_t)t->t_id, "status",
			    "cancelled", "reason", why));
			agent_client_end(t->t_client);
		}
		agent_turn_free(t);
	}
}

/* The agent of sandbox sb: its own, else the config's default. */
static struct agent_conf *
agent_of(const struct sandbox *sb)
{
	struct sbxd_config	*conf = sbxd_env->sx_conf;

	return (config_agent_find(conf, sb->sb_agent != NULL ? sb->sb_agent :
	    conf->sc_sandbox.sbc_agent));
}

/* The sandbox's mode, if ac still has it, else ac's default. */
static const char *
agent_mode_of(struct agent_sb *as, const struct agent_conf *ac)
{
	const struct agent_mode	*am = NULL;

	if (as->as_mode != NULL)
		am = config_agent_mode(ac, as->as_mode);
	if (am == NULL)
		am = config_agent_mode(ac, NULL);
	return (am->am_name);
}

static struct agent_turn *
agent_turn_new(struct agent_sb *as, const char *agent, const char *mode,
    const char *requester, const char *prompt, size_t len)
{
	struct agent_turn	*t;

	if (agent == NULL || mode == NULL || requester == NULL ||
	    (t = calloc(1, sizeof(*t))) == NULL)
		return (NULL);
	t->t_sb = as;
	t->t_pid = -1;
	t->t_status = -1;
	if ((t->t_agent = strdup(agent)) == NULL ||
	    (t->t_mode = strdup(mode)) == NULL ||
	    (t->t_requester = strdup(requester)) == NULL ||
	    (t->t_prompt = malloc(len + 1)) == NULL) {
		agent_turn_free(t);
		return (NULL);
	}
	memcpy(t->t_prompt, prompt, len);
	t->t_prompt[len] = '\0';
	t->t_promptlen = len;
	return (t);
}

/* Free a turn that is in no queue and has no job. */
static void
agent_turn_free(struct agent_turn *t)
{
	int	 i;

	if (t->t_client != NULL) {
		t->t_client->ac_turn = NULL;
		agent_client_end(t->t_client);
	}
	for (i = 0; i < t->t_nwaiters; i++)
		control_req_error(t->t_waiters[i], "turn %lld ended",
		    (long long)t->t_id);
	job_free(t->t_job);
	job_stop_uid_cancel(t->t_uidstop);
	if (t->t_ev_timeout != NULL)
		event_free(t->t_ev_timeout);
	if (t->t_ev_stage != NULL)
		event_free(t->t_ev_stage);
	if (t->t_out != NULL)
		evbuffer_free(t->t_out);
	if (t->t_err != NULL)
		evbuffer_free(t->t_err);
	json_decref(t->t_transcript);
	if (t->t_text != NULL)
		evbuffer_free(t->t_text);
	agent_dec_clear(&t->t_dec);
	free(t->t_agent);
	free(t->t_mode);
	free(t->t_requester);
	if (t->t_prompt != NULL)
		util_zero(t->t_prompt, t->t_promptlen);
	free(t->t_prompt);
	free(t);
}

/*
 * Run turn t in sb: its agent's CLI as the sandbox's user, the prompt
 * on stdin.  -1 with err saying why nothing started.
 */
static int
agent_turn_start(struct agent_turn *t, struct sandbox *sb, char *err,
    size_t errlen)
{
	struct agent_sb		*as = t->t_sb;
	struct sbxd_config	*conf = sbxd_env->sx_conf;
	struct agent_conf	*ac;
	const struct agent_mode	*am;
	struct sandbox_as	 sa;
	struct sandbox_userjob	 uj;
	struct job_spec		 js;
	struct timeval		 tv;
	char			**env = NULL, **xenv = NULL, **argv = NULL;
	char			*input = NULL, name[64], now[32];
	json_t			*row;
	size_t			 inlen;
	int			 r = -1;

	memset(&uj, 0, sizeof(uj));
	if ((ac = config_agent_find(conf, t->t_agent)) == NULL) {
		snprintf(err, errlen, "agent \"%s\" is no longer in the "
		    "config", t->t_agent);
		return (-1);
	}
	if ((am = config_agent_mode(ac, t->t_mode)) == NULL) {
		snprintf(err, errlen, "agent %s has no mode \"%s\" any more",
		    ac->ac_name, t->t_mode);
		return (-1);
	}
	if (t->t_new && as->as_session != NULL) {
		free(as->as_session);
		as->as_session = NULL;
		store_agent_state_put(as->as_id, as->as_mode, NULL);
	}
	t->t_type = ac->ac_type;
	t->t_uid = sb->sb_uid;
	t->t_timeout = ac->ac_timeout;
	t->t_generation = as->as_generation;
	agent_dec_init(&t->t_dec, ac->ac_type);
	if ((t->t_out = evbuffer_new()) == NULL ||
	    (t->t_err = evbuffer_new()) == NULL ||
	    (t->t_transcript = json_array()) == NULL ||
	    (t->t_text = evbuffer_new()) == NULL ||
	    (t->t_ev_timeout = evtimer_new(sbxd_env->sx_base,
	    agent_turn_timeoutcb, t)) == NULL ||
	    (t->t_ev_stage = evtimer_new(sbxd_env->sx_base,
	    agent_turn_stagecb, t)) == NULL ||
	    sandbox_as(sb, &sa, &env) == -1 ||
	    (xenv = agent_turn_env(env, ac)) == NULL ||
	    (argv = agent_cli_argv(ac, am, as->as_session)) == NULL ||
	    (input = agent_cli_input(ac->ac_type, t->t_prompt,
	    t->t_promptlen, &inlen)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	sa.sa_env = xenv;
	memset(&js, 0, sizeof(js));
	if (sandbox_user_job(&sa, NULL, &js, &uj, err, errlen) == -1)
		goto done;
	snprintf(name, sizeof(name), "turn %lld", (long long)t->t_id);
	js.js_name = name;
	js.js_flags |= JOB_STDIN;
	js.js_path = ac->ac_path;
	js.js_argv = argv;
	js.js_grace = AGENT_INTR_GRACE;
	js.js_output = agent_turn_outputcb;
	js.js_done = agent_turn_donecb;
	js.js_arg = t;
	if ((t->t_job = job_run(&js, err, errlen)) == NULL)
		goto done;
	t->t_pid = job_pid(t->t_job);
	util_monotime(&t->t_start);
	t->t_gw_on = proxy_gw_counters(as->as_name, &t->t_gw) == 0;
	if (job_write(t->t_job, input, inlen) == -1) {
		snprintf(err, errlen, "cannot queue the prompt: out of "
		    "memory");
		job_free(t->t_job);
		t->t_job = NULL;
		goto done;
	}
	if (!agent_cli_keeps_stdin(ac->ac_type))
		job_input_end(t->t_job);
	tv.tv_sec = t->t_timeout;
	tv.tv_usec = 0;
	evtimer_add(t->t_ev_timeout, &tv);
	agent_nstarted++;
	log_info("sandbox %s: turn %lld: %s (%s, mode %s) started, pid %ld, "
	    "uid %lu%s", as->as_name, (long long)t->t_id, ac->ac_path,
	    config_agent_type_name(ac->ac_type), am->am_name, (long)t->t_pid,
	    (unsigned long)t->t_uid, as->as_session != NULL ?
	    ", resuming its session" : "");
	agent_now(now, sizeof(now));
	row = json_pack("{s:s, s:s, s:s, s:s}", "status", "running",
	    "started_at", now, "agent", ac->ac_name, "mode", am->am_name);
	if (store_turn_update(t->t_id, row) == -1)
		log_warnx("sandbox %s: turn %lld: the store did not take its "
		    "start: %s", as->as_name, (long long)t->t_id,
		    store_error());
	json_decref(row);
	agent_publish(t, "agent.started", json_pack("{s:s, s:s, s:I, s:I, "
	    "s:s?}", "agent", ac->ac_name, "mode", am->am_name, "pid",
	    (json_int_t)t->t_pid, "uid", (json_int_t)t->t_uid, "resumed",
	    as->as_session));
	r = 0;
done:
	sandbox_user_job_clear(&uj);
	sandbox_env_free(env);
	free(xenv);		/* its strings are env's and ac's */
	agent_cli_argv_free(argv);
	if (input != NULL)
		util_zero(input, inlen);
	free(input);
	return (r);
}

/*
 * The environment a turn adds to the user's (HOME, USER, LOGNAME,
 * SHELL, PATH): the sandbox's (TMPDIR, its proxy, its CA bundle),
 * LANG, then the agent's env lines, which win.  The strings are
 * borrowed; NULL if memory ran out.
 */
static char **
agent_turn_env(char *const *env, const struct agent_conf *ac)
{
	char	**xenv;
	size_t	  n = 0, i;

	if ((xenv = calloc(SANDBOX_EXEC_ENV_MAX + 1, sizeof(*xenv))) == NULL)
		return (NULL);
	for (i = 0; env != NULL && env[i] != NULL &&
	    n < SANDBOX_EXEC_ENV_MAX - AGENT_ENV_MAX - 1; i++)
		xenv[n++] = env[i];
	xenv[n++] = (char *)AGENT_LANG;
	for (i = 0; ac->ac_env != NULL && ac->ac_env[i] != NULL &&
	    n < SANDBOX_EXEC_ENV_MAX; i++)
		xenv[n++] = ac->ac_env[i];
	return (xenv);
}

/* Output: stdout into lines to decode, stderr's tail kept. */
static void
agent_turn_outputcb(struct job *j __unused, int which, struct evbuffer *in,
    void *arg)
{
	struct agent_turn	*t = arg;
	size_t			 len = evbuffer_get_length(in);

	if (which == JOB_ERR) {
		evbuffer_add_buffer(t->t_err, in);
		len = evbuffer_get_length(t->t_err);
		if (len > AGENT_STDERR_MAX)
			evbuffer_drain(t->t_err, len - AGENT_STDERR_MAX);
		return;
	}
	t->t_outbytes += len;
	if (t->t_ended || (t->t_stopping && t->t_final == AGENT_FAILED)) {
		evbuffer_drain(in, len);	/* after its end: ignored */
		return;
	}
	if (evbuffer_add_buffer(t->t_out, in) == -1) {
		evbuffer_drain(in, len);
		agent_turn_fail(t, "out of memory for its output");
		return;
	}
	agent_turn_lines(t, 0);
}

/*
 * Decode every whole line; at eof the rest is the last line.  A line
 * over AGENT_LINE_MAX, or one the decoder does not take, fails the turn.
 */
static void
agent_turn_lines(struct agent_turn *t, int eof)
{
	struct evbuffer_ptr	 p;
	size_t			 eol, len;
	char			 err[AGENT_REASON_MAX];
	const char		*line;

	while (!t->t_ended && !(t->t_stopping && t->t_final == AGENT_FAILED)) {
		p = evbuffer_search_eol(t->t_out, NULL, &eol,
		    EVBUFFER_EOL_LF);
		if (p.pos == -1) {
			len = evbuffer_get_length(t->t_out);
			eol = 0;
		} else
			len = (size_t)p.pos;
		if (len > AGENT_LINE_MAX) {
			agent_nbadstreams++;
			agent_turn_fail(t, "a line of its output is over %d "
			    "bytes (1 MiB)", AGENT_LINE_MAX);
			break;
		}
		if (p.pos == -1 && (!eof || len == 0))
			return;
		if ((line = (const char *)evbuffer_pullup(t->t_out,
		    len + eol)) == NULL && len + eol > 0) {
			agent_turn_fail(t, "out of memory for its output");
			break;
		}
		if (agent_dec_line(&t->t_dec, line, len, agent_turn_emitcb, t,
		    err, sizeof(err)) == -1) {
			evbuffer_drain(t->t_out, len + eol);
			agent_nbadstreams++;
			agent_turn_fail(t, "%s", err);
			break;
		}
		evbuffer_drain(t->t_out, len + eol);
		if (t->t_dec.ad_done)
			agent_turn_ended(t);
	}
	evbuffer_drain(t->t_out, evbuffer_get_length(t->t_out));
}

/* A decoded event: the bus, the transcript, the following client. */
static void
agent_turn_emitcb(const struct agent_ev *ev, void *arg)
{
	struct agent_turn	*t = arg;
	json_t			*text;
	char			*fixed;
	size_t			 len;

	switch (ev->ae_type) {
	case AGENT_EV_TEXT:
		if ((text = json_stringn(ev->ae_text, ev->ae_len)) == NULL &&
		    (fixed = agent_utf8(ev->ae_text, ev->ae_len,
		    &len)) != NULL) {
			/* Not UTF-8: U+FFFD for what is not, as a terminal
			   shows it. */
			text = json_stringn(fixed, len);
			free(fixed);
		}
		if (text == NULL)
			break;
		agent_turn_transcript(t, text, json_string_length(text));
		agent_publish(t, "agent.text", json_pack("{s:o}", "text",
		    text));
		break;
	case AGENT_EV_TOOL:
		agent_turn_transcript(t, json_pack("{s:s, s:s, s:s}", "tool",
		    ev->ae_tool, "summary", ev->ae_summary, "status",
		    ev->ae_status), strlen(ev->ae_summary) + 16);
		agent_publish(t, "agent.tool", json_pack("{s:s, s:s, s:s}",
		    "name", ev->ae_tool, "summary", ev->ae_summary, "status",
		    ev->ae_status));
		break;
	case AGENT_EV_SESSION:
		log_debug("sandbox %s: turn %lld: session %s",
		    t->t_sb->as_name, (long long)t->t_id, ev->ae_session);
		break;
	}
}

/*
 * Keep item in the transcript, up to AGENT_TRANSCRIPT_MAX bytes.  Text
 * (a JSON string, borrowed) gathers until the next tool or the end, so
 * that a run of lines is one piece and costs no copy per line; a tool
 * (an object) is taken.
 */
static void
agent_turn_transcript(struct agent_turn *t, json_t *item, size_t len)
{
	if (item == NULL)
		return;
	if (t->t_tbytes + len > AGENT_TRANSCRIPT_MAX) {
		if (!t->t_truncated) {
			agent_turn_text_flush(t);
			json_array_append_new(t->t_transcript, json_pack(
			    "{s:b}", "truncated", 1));
		}
		t->t_truncated = 1;
		if (!json_is_string(item))
			json_decref(item);
		return;
	}
	t->t_tbytes += len;
	if (json_is_string(item)) {
		evbuffer_add(t->t_text, json_string_value(item),
		    json_string_length(item));
		return;
	}
	agent_turn_text_flush(t);
	json_array_append_new(t->t_transcript, item);
}

/* The text gathered becomes one item of the transcript. */
static void
agent_turn_text_flush(struct agent_turn *t)
{
	size_t		 len;
	const char	*p;

	if (t->t_text == NULL || (len = evbuffer_get_length(t->t_text)) == 0)
		return;
	if ((p = (const char *)evbuffer_pullup(t->t_text, -1)) != NULL)
		json_array_append_new(t->t_transcript, json_pack("{s:s%}",
		    "text", p, len));
	evbuffer_drain(t->t_text, len);
}

/*
 * The end-of-turn line came: stdin closes (claude exits then), and a
 * CLI still there after AGENT_EXIT_GRACE gets SIGTERM.
 */
static void
agent_turn_ended(struct agent_turn *t)
{
	struct timeval	 tv = { AGENT_EXIT_GRACE, 0 };

	t->t_ended = 1;
	if (t->t_job == NULL)
		return;
	job_input_end(t->t_job);
	if (!t->t_stopping) {
		evtimer_del(t->t_ev_timeout);
		evtimer_add(t->t_ev_stage, &tv);
	}
}

/*
 * Fail the turn for a reason of ours (its output is not a stream we
 * know): the CLI's process group is stopped, its end recorded as failed.
 */
static void
agent_turn_fail(struct agent_turn *t, const char *fmt, ...)
{
	struct timeval	 tv = { AGENT_INTR_GRACE, 0 };
	va_list		 ap;

	if (t->t_stopping || t->t_ended)
		return;
	t->t_stopping = 1;
	t->t_final = AGENT_FAILED;
	va_start(ap, fmt);
	vsnprintf(t->t_reason, sizeof(t->t_reason), fmt, ap);
	va_end(ap);
	log_warnx("sandbox %s: turn %lld: %s", t->t_sb->as_name,
	    (long long)t->t_id, t->t_reason);
	evtimer_del(t->t_ev_timeout);
	if (t->t_job != NULL) {
		job_input_end(t->t_job);
		job_kill(t->t_job, SIGTERM);
		t->t_stage = 2;
		evtimer_add(t->t_ev_stage, &tv);
	}
}

/*
 * Interrupt, timeout or rm: the CLI's own interrupt first, SIGTERM to
 * its process group AGENT_INTR_GRACE later, then SIGKILL to every
 * process of the sandbox's uid once the CLI is gone or after another
 * grace.  The turn ends as final, for the reason given.
 */
static void
agent_turn_stop(struct agent_turn *t, enum agent_status final,
    const char *fmt, ...)
{
	struct timeval	 tv = { AGENT_INTR_GRACE, 0 };
	va_list		 ap;

	if (t->t_stopping && t->t_final != AGENT_FAILED)
		return;		/* already stopping */
	t->t_stopping = 1;
	t->t_final = final;
	va_start(ap, fmt);
	vsnprintf(t->t_reason, sizeof(t->t_reason), fmt, ap);
	va_end(ap);
	t->t_nproc = job_uid_count(t->t_uid);
	log_info("sandbox %s: turn %lld: stopping (%s), %d processes of uid "
	    "%lu", t->t_sb->as_name, (long long)t->t_id, t->t_reason,
	    t->t_nproc, (unsigned long)t->t_uid);
	evtimer_del(t->t_ev_timeout);
	evtimer_del(t->t_ev_stage);
	t->t_stage = 1;
	if (t->t_job == NULL) {
		agent_turn_sweep(t);
		return;
	}
	if (agent_cli_keeps_stdin(t->t_type) && !t->t_ended &&
	    job_input(t->t_job) != NULL)
		job_write(t->t_job, agent_cli_interrupt(),
		    strlen(agent_cli_interrupt()));
	else
		job_kill(t->t_job, SIGINT);
	evtimer_add(t->t_ev_stage, &tv);
}

static void
agent_turn_timeoutcb(evutil_socket_t fd __unused, short events __unused,
    void *arg)
{
	struct agent_turn	*t = arg;

	agent_turn_stop(t, AGENT_TIMEOUT, "no end after %d seconds",
	    t->t_timeout);
}

/* The next step of a stop, or of an end the CLI outlives. */
static void
agent_turn_stagecb(evutil_socket_t fd __unused, short events __unused,
    void *arg)
{
	struct agent_turn	*t = arg;
	struct timeval		 tv = { AGENT_INTR_GRACE, 0 };

	if (!t->t_stopping) {
		/* It ended but lingers (opencode does). */
		log_info("sandbox %s: turn %lld: pid %ld still runs %d "
		    "seconds after its last line: SIGTERM",
		    t->t_sb->as_name, (long long)t->t_id, (long)t->t_pid,
		    AGENT_EXIT_GRACE);
		if (t->t_job != NULL)
			job_kill(t->t_job, SIGTERM);
		return;
	}
	if (t->t_stage == 1 && t->t_job != NULL) {
		t->t_stage = 2;
		job_input_end(t->t_job);
		job_kill(t->t_job, SIGTERM);
		evtimer_add(t->t_ev_stage, &tv);
		return;
	}
	if (t->t_final != AGENT_FAILED)
		agent_turn_sweep(t);
}

/* Stage 3: SIGKILL to every process of the sandbox's uid. */
static void
agent_turn_sweep(struct agent_turn *t)
{
	if (t->t_stage == 3)
		return;
	t->t_stage = 3;
	evtimer_del(t->t_ev_stage);
	if ((t->t_uidstop = job_stop_uid(t->t_uid, SIGKILL, 0,
	    agent_turn_sweptcb, t)) == NULL) {
		t->t_swept = 1;
		t->t_left = job_uid_count(t->t_uid);
		agent_turn_check(t);
	}
}

static void
agent_turn_sweptcb(int r, void *arg)
{
	struct agent_turn	*t = arg;

	t->t_uidstop = NULL;
	t->t_swept = 1;
	t->t_left = r == 0 ? 0 : job_uid_count(t->t_uid);
	agent_turn_check(t);
}

/* The CLI exited and its output is drained. */
static void
agent_turn_donecb(struct job *j __unused, int status, void *arg)
{
	struct agent_turn	*t = arg;

	t->t_job = NULL;
	t->t_status = status;
	if (!t->t_ended)
		agent_turn_lines(t, 1);
	if (t->t_stopping && t->t_final != AGENT_FAILED)
		agent_turn_sweep(t);
	agent_turn_check(t);
}

/* Finish once the CLI is gone and, after a stop, the uid is swept. */
static void
agent_turn_check(struct agent_turn *t)
{
	if (t->t_job != NULL)
		return;
	if (t->t_stopping && t->t_final != AGENT_FAILED && !t->t_swept)
		return;
	agent_turn_finish(t);
}

/*
 * A turn of a sandbox with a credential gateway: what the gateway read
 * from the API's responses during the turn replaces the CLI's own
 * figures (every call counts, the CLI's side calls too, and the CLI
 * cannot misreport them); a cost only where the API reported one.
 */
static void
agent_gw_usage(struct agent_turn *t, struct agent_sb *as,
    struct agent_dec *ad)
{
	struct proxy_gw_counters	 now;

	t->t_gw_requests = 0;
	if (!t->t_gw_on || proxy_gw_counters(as->as_name, &now) == -1 ||
	    now.gc_requests <= t->t_gw.gc_requests)
		return;
	t->t_gw_requests = now.gc_requests - t->t_gw.gc_requests;
	ad->ad_tokens_in = now.gc_input - t->t_gw.gc_input;
	ad->ad_tokens_out = now.gc_output - t->t_gw.gc_output;
	if (now.gc_costs > t->t_gw.gc_costs) {
		ad->ad_cost = now.gc_cost - t->t_gw.gc_cost;
		ad->ad_has_cost = 1;
	}
}

/*
 * The turn is over: judge it, record it, tell everyone, free it and
 * start the next.
 */
static void
agent_turn_finish(struct agent_turn *t)
{
	struct agent_sb		*as = t->t_sb;
	struct agent_dec	*ad = &t->t_dec;
	struct timespec		 now;
	enum agent_status	 st;
	json_t			*ev, *row;
	char			 reason[AGENT_REASON_MAX * 2], tail[256];
	char			 when[32], *transcript;
	const char		*p;
	int			 code = -1, i;
	int64_t			 ms;
	size_t			 len;

	if (t->t_status != -1)
		code = WIFEXITED(t->t_status) ? WEXITSTATUS(t->t_status) :
		    WIFSIGNALED(t->t_status) ? 128 + WTERMSIG(t->t_status) :
		    -1;
	reason[0] = '\0';
	if (t->t_stopping) {
		st = t->t_final;
		snprintf(reason, sizeof(reason), "%s", t->t_reason);
		if (st != AGENT_FAILED && !t->t_noreport)
			snprintf(reason + strlen(reason), sizeof(reason) -
			    strlen(reason), "; %d processes stopped, %s",
			    t->t_nproc, t->t_left == 0 ? "none left" :
			    t->t_left > 0 ? "some left" : "none counted");
	} else if (ad->ad_done) {
		st = ad->ad_status;
		snprintf(reason, sizeof(reason), "%s", ad->ad_reason);
	} else if (t->t_type == AGENT_COMMAND) {
		st = code == 0 ? AGENT_OK : AGENT_FAILED;
		if (code != 0)
			snprintf(reason, sizeof(reason), "exited %d", code);
	} else {
		st = AGENT_FAILED;
		snprintf(reason, sizeof(reason), "%s %d before the end of "
		    "its turn", t->t_status != -1 && WIFSIGNALED(t->t_status) ?
		    "killed by signal" : "exited", t->t_status != -1 &&
		    WIFSIGNALED(t->t_status) ? WTERMSIG(t->t_status) : code);
	}
	/* A failure says what the CLI said last on stderr. */
	if (st == AGENT_FAILED && (len = evbuffer_get_length(t->t_err)) > 0) {
		if (len >= sizeof(tail))
			evbuffer_drain(t->t_err, len - sizeof(tail) + 1);
		len = evbuffer_remove(t->t_err, tail, sizeof(tail) - 1);
		tail[len > 0 ? len : 0] = '\0';
		while (len > 0 && (tail[len - 1] == '\n' ||
		    tail[len - 1] == '\r'))
			tail[--len] = '\0';
		if ((p = strrchr(tail, '\n')) != NULL)
			p++;
		else
			p = tail;
		if (*p != '\0')
			snprintf(reason + strlen(reason), sizeof(reason) -
			    strlen(reason), "%s(stderr: %s)", *reason ? " " :
			    "", p);
	}
	for (i = 0; reason[i] != '\0'; i++)
		if ((unsigned char)reason[i] < 0x20)
			reason[i] = ' ';
	agent_utf8_fix(reason);	/* it may quote the CLI */
	util_monotime(&now);
	ms = t->t_start.tv_sec == 0 ? 0 : (int64_t)(now.tv_sec -
	    t->t_start.tv_sec) * 1000 + (now.tv_nsec - t->t_start.tv_nsec) /
	    1000000;
	agent_nended[st]++;
	/* The conversation continues, unless reset meanwhile. */
	if (*ad->ad_session != '\0' && t->t_generation == as->as_generation &&
	    (as->as_session == NULL ||
	    strcmp(as->as_session, ad->ad_session) != 0)) {
		free(as->as_session);
		as->as_session = strdup(ad->ad_session);
		store_agent_state_put(as->as_id, as->as_mode, as->as_session);
	}
	agent_gw_usage(t, as, ad);
	agent_now(when, sizeof(when));
	agent_turn_text_flush(t);
	transcript = json_dumps(t->t_transcript, JSON_COMPACT);
	row = json_pack("{s:s, s:s, s:s?, s:i, s:s?, s:I, s:I, s:I, s:s?}",
	    "status", agent_status_name(st), "ended_at", when, "reason",
	    *reason ? reason : NULL, "exit", code, "session",
	    *ad->ad_session ? ad->ad_session : NULL, "tokens_in",
	    (json_int_t)ad->ad_tokens_in, "tokens_out",
	    (json_int_t)ad->ad_tokens_out, "output_bytes",
	    (json_int_t)t->t_outbytes, "transcript", transcript);
	if (row != NULL && ad->ad_has_cost)
		json_object_set_new(row, "cost", json_real(ad->ad_cost));
	if (store_turn_update(t->t_id, row) == -1)
		log_warnx("sandbox %s: turn %lld: the store did not take its "
		    "end: %s", as->as_name, (long long)t->t_id, store_error());
	json_decref(row);
	free(transcript);
	log_info("sandbox %s: turn %lld: %s%s%s, exit %d, %lld ms, %lld "
	    "tokens in, %lld out", as->as_name, (long long)t->t_id,
	    agent_status_name(st), *reason ? ": " : "", reason, code,
	    (long long)ms, (long long)ad->ad_tokens_in,
	    (long long)ad->ad_tokens_out);
	ev = json_pack("{s:s, s:s?, s:i, s:I, s:I, s:I, s:s?}", "status",
	    agent_status_name(st), "reason", *reason ? reason : NULL, "exit",
	    code, "duration_ms", (json_int_t)ms, "tokens_in",
	    (json_int_t)ad->ad_tokens_in, "tokens_out",
	    (json_int_t)ad->ad_tokens_out, "session",
	    *ad->ad_session ? ad->ad_session : NULL);
	if (ev != NULL && ad->ad_has_cost)
		json_object_set_new(ev, "cost", json_real(ad->ad_cost));
	if (ev != NULL && t->t_gw_requests > 0) {
		json_object_set_new(ev, "usage_from", json_string("gateway"));
		json_object_set_new(ev, "gateway_requests",
		    json_integer((json_int_t)t->t_gw_requests));
	}
	if (ev != NULL && t->t_stopping && st != AGENT_FAILED &&
	    !t->t_noreport) {
		json_object_set_new(ev, "processes_stopped",
		    json_integer(t->t_nproc));
		json_object_set_new(ev, "processes_left",
		    json_integer(t->t_left));
	}
	for (i = 0; i < t->t_nwaiters; i++)
		control_req_ok(t->t_waiters[i], json_pack("{s:I, s:O}",
		    "turn", (json_int_t)t->t_id, "done", ev));
	t->t_nwaiters = 0;
	agent_publish(t, "agent.done", ev);
	as->as_running = NULL;
	agent_turn_free(t);
	agent_sb_kick(as);
}

/*
 * A turn that never started, or one sbxd stops at exit, ends with why;
 * nothing is swept, no processes are reported.
 */
static void
agent_turn_finish_error(struct agent_turn *t, enum agent_status st,
    const char *why)
{
	if (st == AGENT_FAILED)
		log_warnx("sandbox %s: turn %lld: %s", t->t_sb->as_name,
		    (long long)t->t_id, why);
	if (t->t_job != NULL) {
		job_free(t->t_job);
		t->t_job = NULL;
	}
	t->t_stopping = 1;
	t->t_final = st;
	t->t_swept = 1;
	t->t_noreport = 1;
	snprintf(t->t_reason, sizeof(t->t_reason), "%s", why);
	agent_turn_finish(t);
}

/* The fields every agent event of t carries. */
static json_t *
agent_turn_event(struct agent_turn *t)
{
	return (json_pack("{s:s, s:I}", "sandbox", t->t_sb->as_name, "turn",
	    (json_int_t)t->t_id));
}

/* Publish type for t with fields (taken), and send it to its client. */
static void
agent_publish(struct agent_turn *t, const char *type, json_t *fields)
{
	json_t	*ev = agent_turn_event(t), *line;

	if (ev == NULL || fields == NULL) {
		json_decref(ev);
		json_decref(fields);
		return;
	}
	json_object_update(ev, fields);
	json_decref(fields);
	if (t->t_client != NULL &&
	    (line = json_pack("{s:s}", "type", type)) != NULL) {
		json_object_update(line, ev);
		agent_client_line(t->t_client, line);
		if (strcmp(type, "agent.done") == 0) {
			t->t_client->ac_turn = NULL;
			agent_client_end(t->t_client);
			t->t_client = NULL;
		}
	}
	events_publish(type, ev);
}

/* One JSON line to an ask client; its output pauses the CLI's if full. */
static void
agent_client_line(struct agent_client *cl, json_t *line)
{
	struct evbuffer		*out;
	struct agent_turn	*t = cl->ac_turn;
	char			*s;

	if (line == NULL)
		return;
	s = json_dumps(line, JSON_COMPACT);
	json_decref(line);
	if (s == NULL || cl->ac_bev == NULL) {
		free(s);
		return;
	}
	out = bufferevent_get_output(cl->ac_bev);
	evbuffer_add_printf(out, "%s\n", s);
	free(s);
	if (t != NULL && t->t_job != NULL && !t->t_paused &&
	    evbuffer_get_length(out) >= AGENT_CLIENT_HIWAT) {
		t->t_paused = 1;
		job_output_pause(t->t_job, 1);
	}
}

/* The client has all: close once its output is out. */
static void
agent_client_end(struct agent_client *cl)
{
	struct timeval	 tv = { AGENT_CLIENT_FLUSH, 0 };

	cl->ac_turn = NULL;
	if (cl->ac_bev == NULL || agent_stopping ||
	    evbuffer_get_length(bufferevent_get_output(cl->ac_bev)) == 0) {
		agent_client_free(cl);
		return;
	}
	bufferevent_setwatermark(cl->ac_bev, EV_WRITE, 0, 0);
	bufferevent_set_timeouts(cl->ac_bev, NULL, &tv);
}

static void
agent_client_free(struct agent_client *cl)
{
	if (cl->ac_bev != NULL)
		bufferevent_free(cl->ac_bev);
	free(cl);
}

/* The client took output: resume a paused CLI, or close at the end. */
static void
agent_client_writecb(struct bufferevent *bev, void *arg)
{
	struct agent_client	*cl = arg;
	struct agent_turn	*t = cl->ac_turn;

	if (t == NULL) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			agent_client_free(cl);
		return;
	}
	if (t->t_paused && evbuffer_get_length(bufferevent_get_output(bev)) <
	    AGENT_CLIENT_LOWAT) {
		t->t_paused = 0;
		if (t->t_job != NULL)
			job_output_pause(t->t_job, 0);
	}
}

/* The client went away: its turn goes on. */
static void
agent_client_eventcb(struct bufferevent *bev __unused, short what __unused,
    void *arg)
{
	struct agent_client	*cl = arg;
	struct agent_turn	*t = cl->ac_turn;

	if (t != NULL) {
		t->t_client = NULL;
		if (t->t_paused) {
			t->t_paused = 0;
			if (t->t_job != NULL)
				job_output_pause(t->t_job, 0);
		}
		log_debug("sandbox %s: turn %lld: its ask client left",
		    t->t_sb->as_name, (long long)t->t_id);
	}
	agent_client_free(cl);
}

/* sandbox.removing: its turn stops, its queue is cancelled. */
static void
agent_eventcb(json_t *ev, void *arg __unused)
{
	const char	*type = json_string_value(json_object_get(ev, "type"));
	const char	*id = json_string_value(json_object_get(ev, "id"));
	struct agent_sb	*as;

	if (type == NULL || id == NULL || (strcmp(type, "sandbox.removing") !=
	    0 && strcmp(type, "sandbox.removed") != 0))
		return;
	if ((as = agent_sb_find(id)) == NULL) {
		if (strcmp(type, "sandbox.removed") == 0)
			store_agent_state_delete(id);
		return;
	}
	agent_sb_cancel(as, "the sandbox was removed");
	if (as->as_running != NULL)
		agent_turn_stop(as->as_running, AGENT_INTERRUPTED,
		    "the sandbox is being removed");
	if (strcmp(type, "sandbox.removed") == 0) {
		store_agent_state_delete(id);
		as->as_gone = 1;
		if (as->as_running == NULL)
			agent_sb_free(as);
	}
}

static void
agent_now(char *buf, size_t len)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	util_rfc3339(&ts, buf, len);
}

/* Who asked, for the turn's record: the client's user. */
static void
agent_requester(struct control_req *cr, char *buf, size_t len)
{
	struct passwd	*pw;
	uid_t		 uid = control_req_uid(cr);

	if (control_req_who(cr) != NULL)
		snprintf(buf, len, "%s", control_req_who(cr));
	else if ((pw = getpwuid(uid)) != NULL)
		snprintf(buf, len, "%s", pw->pw_name);
	else
		snprintf(buf, len, "uid %lu", (unsigned long)uid);
}

/* The request's sandbox, or NULL with an error sent. */
static struct sandbox *
agent_sandbox(struct control_req *cr, json_t *req)
{
	const char	*name = json_string_value(json_object_get(req, "name"));
	struct sandbox	*sb;

	if ((sb = sandbox_find(name)) == NULL) {
		control_req_error(cr, "no sandbox \"%s\"", name != NULL ?
		    name : "");
		return (NULL);
	}
	return (sb);
}

/*
 * ask NAME PROMPT [mode] [new]: queue a turn, answer {"ok", "turn",
 * "position"} and send the turn's events as lines until its
 * agent.done; then close.  The turn does not depend on the client.
 */
static void
agent_ctl_ask(struct control_req *cr, json_t *req)
{
	struct sandbox		*sb;
	struct agent_conf	*ac;
	struct agent_sb		*as;
	struct agent_turn	*t;
	struct agent_client	*cl;
	struct bufferevent	*bev;
	json_t			*jp = json_object_get(req, "prompt"), *row;
	const char		*mode = json_string_value(json_object_get(req,
				    "mode"));
	char			 err[256], who[128], now[32];
	int			 pos, ok = 0;

	if ((sb = agent_sandbox(cr, req)) == NULL)
		return;
	if (agent_prompt_check(json_string_value(jp), json_string_length(jp),
	    err, sizeof(err)) == -1) {
		agent_nrefused++;
		control_req_error(cr, "%s", err);
		return;
	}
	if (sb->sb_state == SANDBOX_FAILED || sb->sb_state ==
	    SANDBOX_REMOVING) {
		control_req_error(cr, "sandbox %s is %s%s%s", sb->sb_name,
		    sandbox_state_name(sb->sb_state), *sb->sb_error ? ": " :
		    "", sb->sb_error);
		return;
	}
	if ((ac = agent_of(sb)) == NULL) {
		control_req_error(cr, "sandbox %s has no agent: name one in "
		    "sbxd.conf with \"sandbox agent\", or create the sandbox "
		    "with --agent", sb->sb_name);
		return;
	}
	if ((as = agent_sb_get(sb->sb_id, sb->sb_name)) == NULL) {
		control_req_error(cr, "out of memory");
		return;
	}
	if (mode != NULL && config_agent_mode(ac, mode) == NULL) {
		control_req_error(cr, "agent %s has no mode \"%s\"",
		    ac->ac_name, mode);
		return;
	}
	if (mode == NULL)
		mode = agent_mode_of(as, ac);
	if (as->as_nqueued >= ac->ac_queue) {
		agent_nrefused++;
		control_req_error(cr, "the queue of %s is full (%d prompts "
		    "wait); send it again later, or interrupt the turn",
		    sb->sb_name, as->as_nqueued);
		return;
	}
	agent_requester(cr, who, sizeof(who));
	if ((t = agent_turn_new(as, ac->ac_name, mode, who,
	    json_string_value(jp), json_string_length(jp))) == NULL) {
		control_req_error(cr, "out of memory");
		return;
	}
	t->t_new = json_is_true(json_object_get(req, "new"));
	agent_now(now, sizeof(now));
	row = json_pack("{s:s, s:s, s:s, s:s, s:s, s:O, s:b, s:s, s:s}",
	    "sandbox_id", sb->sb_id, "sandbox", sb->sb_name, "agent",
	    ac->ac_name, "mode", mode, "requester", who, "prompt", jp,
	    "new_session", t->t_new, "queued_at", now, "status", "queued");
	if (row == NULL || (t->t_id = store_turn_add(row)) == -1) {
		json_decref(row);
		agent_turn_free(t);
		control_req_error(cr, "the store did not take the turn: %s",
		    store_error());
		return;
	}
	json_decref(row);
	if ((cl = calloc(1, sizeof(*cl))) == NULL) {
		/* Queued all the same; nobody follows it. */
		control_req_error(cr, "out of memory; turn %lld is queued",
		    (long long)t->t_id);
	} else if (control_req_takeover(cr, &bev) == -1) {
		/* A call from inside, or a client gone: answer at once. */
		free(cl);
		cl = NULL;
		ok = 1;
	} else {
		cl->ac_bev = bev;
		cl->ac_turn = t;
		t->t_client = cl;
		bufferevent_setcb(bev, NULL, agent_client_writecb,
		    agent_client_eventcb, cl);
		bufferevent_setwatermark(bev, EV_WRITE, AGENT_CLIENT_LOWAT, 0);
		bufferevent_set_timeouts(bev, NULL, NULL);
		bufferevent_enable(bev, EV_READ | EV_WRITE);
	}
	pos = as->as_running != NULL || !TAILQ_EMPTY(&as->as_queue) ?
	    as->as_nqueued + 1 : 0;
	TAILQ_INSERT_TAIL(&as->as_queue, t, t_entry);
	as->as_nqueued++;
	if (ok)
		control_req_ok(cr, json_pack("{s:I, s:i, s:s, s:s, s:s}",
		    "turn", (json_int_t)t->t_id, "position", pos, "sandbox",
		    sb->sb_name, "agent", ac->ac_name, "mode", mode));
	if (cl != NULL)
		agent_client_line(cl, json_pack("{s:b, s:I, s:i, s:s, s:s, "
		    "s:s}", "ok", 1, "turn", (json_int_t)t->t_id, "position",
		    pos, "sandbox", sb->sb_name, "agent", ac->ac_name, "mode",
		    mode));
	log_info("sandbox %s: turn %lld: queued by %s%s", sb->sb_name,
	    (long long)t->t_id, who, pos > 0 ? "" : ", starts now");
	agent_publish(t, "agent.queued", json_pack("{s:i, s:s, s:s, s:s}",
	    "position", pos, "requester", who, "agent", ac->ac_name, "mode",
	    mode));
	agent_sb_kick(as);
}

/* interrupt NAME: stop the running turn; answer once it has ended. */
static void
agent_ctl_interrupt(struct control_req *cr, json_t *req)
{
	struct sandbox		*sb;
	struct agent_sb		*as;
	struct agent_turn	*t;
	char			 who[128];

	if ((sb = agent_sandbox(cr, req)) == NULL)
		return;
	if ((as = agent_sb_find(sb->sb_id)) == NULL ||
	    (t = as->as_running) == NULL) {
		control_req_error(cr, "sandbox %s runs no turn", sb->sb_name);
		return;
	}
	if (t->t_nwaiters == AGENT_WAITERS_MAX) {
		control_req_error(cr, "turn %lld is being interrupted already",
		    (long long)t->t_id);
		return;
	}
	t->t_waiters[t->t_nwaiters++] = cr;
	agent_requester(cr, who, sizeof(who));
	control_req_progress(cr, "interrupting turn %lld of %s",
	    (long long)t->t_id, sb->sb_name);
	agent_turn_stop(t, AGENT_INTERRUPTED, "interrupted by %s", who);
}

/* turns NAME [last]: the sandbox's turns, newest last. */
static void
agent_ctl_turns(struct control_req *cr, json_t *req)
{
	struct sandbox	*sb;
	json_t		*list, *last = json_object_get(req, "last");
	json_int_t	 n = AGENT_TURNS_LIST;

	if ((sb = agent_sandbox(cr, req)) == NULL)
		return;
	if (last != NULL && ((n = json_integer_value(last)) < 1 ||
	    n > AGENT_TURNS_LIST_MAX)) {
		control_req_error(cr, "\"last\" must be a number from 1 to %d",
		    AGENT_TURNS_LIST_MAX);
		return;
	}
	if ((list = store_turn_list(sb->sb_id, NULL, (int)n, 0)) == NULL) {
		control_req_error(cr, "cannot read the turns: %s",
		    store_error());
		return;
	}
	control_req_ok(cr, json_pack("{s:s, s:o}", "sandbox", sb->sb_name,
	    "turns", list));
}

/* turn ID: one turn with its prompt and transcript. */
static void
agent_ctl_turn(struct control_req *cr, json_t *req)
{
	json_int_t	 id = json_integer_value(json_object_get(req, "id"));
	json_t		*t, *tr;
	const char	*s;

	if ((t = store_turn_get(id, 1)) == NULL) {
		control_req_error(cr, "no turn %lld", (long long)id);
		return;
	}
	s = json_string_value(json_object_get(t, "transcript"));
	tr = s != NULL ? json_loads(s, 0, NULL) : NULL;
	json_object_set_new(t, "transcript", tr != NULL ? tr : json_array());
	control_req_ok(cr, json_pack("{s:o}", "turn", t));
}

/* mode NAME [MODE]: show the sandbox's mode, or set it. */
static void
agent_ctl_mode(struct control_req *cr, json_t *req)
{
	struct sandbox			*sb;
	struct agent_conf		*ac;
	struct agent_sb			*as;
	const struct agent_mode		*am;
	const char			*mode;
	json_t				*modes;

	if ((sb = agent_sandbox(cr, req)) == NULL)
		return;
	if ((ac = agent_of(sb)) == NULL) {
		control_req_error(cr, "sandbox %s has no agent", sb->sb_name);
		return;
	}
	if ((as = agent_sb_get(sb->sb_id, sb->sb_name)) == NULL) {
		control_req_error(cr, "out of memory");
		return;
	}
	mode = json_string_value(json_object_get(req, "mode"));
	if (mode != NULL) {
		if (config_agent_mode(ac, mode) == NULL) {
			control_req_error(cr, "agent %s has no mode \"%s\"",
			    ac->ac_name, mode);
			return;
		}
		free(as->as_mode);
		if ((as->as_mode = strdup(mode)) == NULL ||
		    store_agent_state_put(as->as_id, as->as_mode,
		    as->as_session) == -1) {
			control_req_error(cr, "the store did not take the "
			    "mode: %s", store_error());
			return;
		}
		log_info("sandbox %s: mode %s", sb->sb_name, mode);
		events_publish("agent.mode", json_pack("{s:s, s:s}", "sandbox",
		    sb->sb_name, "mode", mode));
	}
	modes = json_array();
	TAILQ_FOREACH(am, &ac->ac_modes, am_entry)
		json_array_append_new(modes, json_string(am->am_name));
	control_req_ok(cr, json_pack("{s:s, s:s, s:s, s:o}", "sandbox",
	    sb->sb_name, "agent", ac->ac_name, "mode", agent_mode_of(as, ac),
	    "modes", modes));
}

/* reset NAME: the next turn starts a new conversation. */
static void
agent_ctl_reset(struct control_req *cr, json_t *req)
{
	struct sandbox	*sb;
	struct agent_sb	*as;
	json_t		*old;

	if ((sb = agent_sandbox(cr, req)) == NULL)
		return;
	if ((as = agent_sb_get(sb->sb_id, sb->sb_name)) == NULL) {
		control_req_error(cr, "out of memory");
		return;
	}
	old = as->as_session != NULL ? json_string(as->as_session) :
	    json_null();
	free(as->as_session);
	as->as_session = NULL;
	as->as_generation++;
	if (store_agent_state_put(as->as_id, as->as_mode, NULL) == -1) {
		json_decref(old);
		control_req_error(cr, "the store did not take it: %s",
		    store_error());
		return;
	}
	log_info("sandbox %s: agent session forgotten", sb->sb_name);
	events_publish("agent.reset", json_pack("{s:s}", "sandbox",
	    sb->sb_name));
	control_req_ok(cr, json_pack("{s:s, s:o}", "sandbox", sb->sb_name,
	    "forgot", old));
}
