/*
 * bot_route.c: chat to control requests, events to topics.
 *
 * A message in the stream is a command ("/new NAME", "/status", ...) or,
 * in a sandbox's topic, a prompt for its agent.  Either becomes the
 * control request sbxctl would send (control_call), on behalf of the
 * sender, whose role comes from the config by user id.  Answers go back
 * to the topic the message came from.
 *
 * What happens in a sandbox reaches its topic through the event bus: a
 * turn's text, batched (a paragraph, or two seconds), its tools in one
 * status message edited in place, its end in a final line; each block of
 * the proxy or the firewall as one alert per destination per ten
 * minutes, edited with a count.  Everything posted is free of mentions
 * and of the secrets sbxd knows, and split at the server's limit.
 *
 * Each topic has an outbox: its messages go out one at a time, in
 * order; status messages and alerts are written when their turn comes,
 * so that a burst of changes costs one edit.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <jansson.h>

#include "config.h"
#include "log.h"
#include "sbxd.h"
#include "bot.h"
#include "bot_text.h"

#define BOT_FLUSH_SECS		2.0	/* a turn's calls: at most one per
					   this, text and status together */
#define BOT_TOOLS_SHOWN		6	/* tool lines in a status message */
#define BOT_TOOL_LINE		200	/* bytes of one */
#define BOT_ALERT_SECS		600	/* one alert per destination per */
#define BOT_REFUSE_SECS		600	/* one refusal per stranger per */
#define BOT_EDIT_MARGIN		60	/* roll a status message over this
					   long before its edit window ends */
#define BOT_ARGS_MAX		16	/* words of a command */
#define BOT_PATTERNS_MAX	16	/* of /newpf */
#define BOT_WHO_MAX		160
#define BOT_ASK_KEEP		3600	/* a decided question is known
					   (its reactions, /network) for */
#define BOT_DECISIONS_SHOWN	5	/* by /network */

/* The reactions that answer a question, and what each decides. */
static const struct {
	const char	*emoji;
	const char	*decision;
} bot_ask_answers[] = {
	{ "check", "once" },
	{ "infinity", "always" },
	{ "cross_mark", "deny" },
};

enum bot_item_kind {
	BOT_ITEM_TEXT,		/* bi_text as it is */
	BOT_ITEM_STATUS,	/* the turn's status, sent or edited */
	BOT_ITEM_ALERT,		/* an alert, sent or edited */
	BOT_ITEM_ASK,		/* a question, sent or edited */
};

struct bot_outbox;

struct bot_item {
	TAILQ_ENTRY(bot_item)	 bi_entry;
	enum bot_item_kind	 bi_kind;
	enum bot_prio		 bi_prio;
	char			*bi_text;
	int64_t			 bi_turn;
	char			*bi_alert;	/* its key, or the question's */
	int			 bi_part;	/* of a split text: alone */
};
TAILQ_HEAD(bot_items, bot_item);

struct bot_outbox {
	TAILQ_ENTRY(bot_outbox)	 ob_entry;
	char			*ob_topic;
	struct bot_items	 ob_items;
	struct bot_item		*ob_busy;	/* on its way */
};
TAILQ_HEAD(bot_outboxes, bot_outbox);

struct bot_turn {
	TAILQ_ENTRY(bot_turn)	 bt_entry;
	int64_t			 bt_id;
	char			*bt_sandbox;
	char			*bt_topic;
	int64_t			 bt_prompt;	/* its message, 0: not chat */
	struct evbuffer		*bt_text;	/* not yet sent */
	double			 bt_text_since;
	double			 bt_last;	/* the last call's time */
	int64_t			 bt_status_msg;
	double			 bt_status_at;
	int			 bt_status_dirty;
	int			 bt_status_queued;
	int			 bt_ntools;
	int			 bt_nfailed;
	char			 bt_tools[BOT_TOOLS_SHOWN][BOT_TOOL_LINE];
	int			 bt_done;
	char			*bt_final;
	int			 bt_items;	/* in an outbox */
	struct event		*bt_timer;
};
TAILQ_HEAD(bot_turns, bot_turn);

struct bot_call;
typedef void	(*bot_call_fn)(struct bot_call *, json_t *);
struct bot_call {
	TAILQ_ENTRY(bot_call)	 bc_entry;
	char			*bc_topic;
	char			*bc_name;	/* the sandbox, if any */
	int64_t			 bc_msg;
	char			 bc_who[BOT_WHO_MAX];
	bot_call_fn		 bc_fn;		/* waits for an answer */
	int			 bc_busy;	/* in its callbacks */
	json_t			*bc_data;	/* between chained calls */
};
TAILQ_HEAD(bot_calls, bot_call);

struct bot_cmd {
	const char	*name;
	int		 role;		/* at least */
	int		 in_topic;	/* needs a sandbox's topic */
	int		 nargs_min;
	int		 nargs_max;
	const char	*usage;
	void		(*fn)(struct bot_call *, char **, int);
};

static void	bot_route_eventcb(json_t *, void *);
static void	bot_route_agent(json_t *, const char *);
static void	bot_route_block(json_t *, const char *);
static void	bot_route_command(struct bot_call *, const char *, int);
static void	bot_route_prompt(struct bot_call *, const char *);
static void	bot_route_replycb(json_t *, int, void *);
static struct bot_call *bot_call_new(const char *, const char *, int64_t,
		    const char *);
static void	bot_call_run(struct bot_call *, json_t *, bot_call_fn);
static void	bot_call_free(struct bot_call *);
static void	bot_reply(struct bot_call *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
static const char *bot_route_topic_of(const char *);
static const char *bot_route_sandbox_of(const char *);
static int	bot_name_ok(const char *);
static struct bot_outbox *bot_outbox_get(const char *);
static void	bot_outbox_add(const char *, struct bot_item *);
static void	bot_outbox_next(struct bot_outbox *);
static void	bot_outbox_cb(struct bot_req *, enum bot_result, json_t *,
		    void *);
static char	*bot_clean(const char *, size_t);
static struct bot_turn *bot_turn_find(int64_t);
static struct bot_turn *bot_turn_new(int64_t, const char *);
static void	bot_turn_free(struct bot_turn *);
static void	bot_turn_flush(struct bot_turn *, int);
static void	bot_turn_schedule(struct bot_turn *);
static void	bot_turn_timercb(evutil_socket_t, short, void *);
static char	*bot_turn_status_text(struct bot_turn *);
static void	bot_turn_release(struct bot_turn *);
static char	*bot_alert_text(const char *);
static void	bot_cmd_help(struct bot_call *, char **, int);
static void	bot_cmd_new(struct bot_call *, char **, int);
static void	bot_cmd_newpf(struct bot_call *, char **, int);
static void	bot_cmd_rm(struct bot_call *, char **, int);
static void	bot_cmd_list(struct bot_call *, char **, int);
static void	bot_cmd_status(struct bot_call *, char **, int);
static void	bot_cmd_mode(struct bot_call *, char **, int);
static void	bot_cmd_switch(struct bot_call *, char **, int);
static void	bot_cmd_interrupt(struct bot_call *, char **, int);
static void	bot_cmd_restart(struct bot_call *, char **, int);
static void	bot_cmd_queue(struct bot_call *, char **, int);
static void	bot_cmd_allow(struct bot_call *, char **, int);
static void	bot_cmd_deny(struct bot_call *, char **, int);
static void	bot_cmd_network(struct bot_call *, char **, int);
static void	bot_cmd_turns(struct bot_call *, char **, int);
static void	bot_cmd_approve(struct bot_call *, char **, int);
static void	bot_route_ask(json_t *, const char *);
static char	*bot_ask_text(const char *);
static void	bot_ask_queue(const char *, json_t *, enum bot_prio);
static void	bot_ask_token(json_t *, const char *);

static const struct bot_cmd bot_cmds[] = {
	{ "help", BOT_ROLE_USER, 0, 0, 0, "/help", bot_cmd_help },
	{ "new", BOT_ROLE_ADMIN, 0, 1, 1, "/new NAME", bot_cmd_new },
	{ "newpf", BOT_ROLE_ADMIN, 0, 1, 2, "/newpf NAME [PATTERN,...]",
	    bot_cmd_newpf },
	{ "rm", BOT_ROLE_ADMIN, 0, 1, 2, "/rm NAME [yes]", bot_cmd_rm },
	{ "list", BOT_ROLE_USER, 0, 0, 0, "/list", bot_cmd_list },
	{ "status", BOT_ROLE_USER, 1, 0, 0, "/status", bot_cmd_status },
	{ "mode", BOT_ROLE_USER, 1, 0, 0, "/mode", bot_cmd_mode },
	{ "switch", BOT_ROLE_USER, 1, 1, 1, "/switch MODE", bot_cmd_switch },
	{ "interrupt", BOT_ROLE_USER, 1, 0, 0, "/interrupt",
	    bot_cmd_interrupt },
	{ "restart", BOT_ROLE_USER, 1, 0, 0, "/restart", bot_cmd_restart },
	{ "queue", BOT_ROLE_USER, 1, 0, 0, "/queue", bot_cmd_queue },
	{ "allow", BOT_ROLE_ADMIN, 1, 1, 1, "/allow PATTERN", bot_cmd_allow },
	{ "deny", BOT_ROLE_ADMIN, 1, 1, 1, "/deny PATTERN", bot_cmd_deny },
	{ "network", BOT_ROLE_USER, 1, 0, 0, "/network", bot_cmd_network },
	{ "turns", BOT_ROLE_USER, 1, 0, 0, "/turns", bot_cmd_turns },
	{ "approve", BOT_ROLE_ADMIN, 0, 2, 2, "/approve ID once|always|deny",
	    bot_cmd_approve },
};

static struct events_sub	*rt_sub;
static json_t			*rt_topics;	/* sandbox -> topic */
static json_t			*rt_sandboxes;	/* name -> {restricted} */
static json_t			*rt_alerts;	/* key -> alert */
static json_t			*rt_refused;	/* sender -> time */
static json_t			*rt_chat_turns;	/* "turn" -> message id */
static json_t			*rt_asks;	/* question id -> question */
static struct bot_outboxes	 rt_outboxes =
				    TAILQ_HEAD_INITIALIZER(rt_outboxes);
static struct bot_turns		 rt_turns = TAILQ_HEAD_INITIALIZER(rt_turns);
static struct bot_calls		 rt_calls = TAILQ_HEAD_INITIALIZER(rt_calls);
static uint64_t			 rt_ncommands;
static uint64_t			 rt_nprompts;
static uint64_t			 rt_nrefused;
static uint64_t			 rt_nalerts;

static void	bot_route_list_cb(struct bot_call *, json_t *);

void
bot_route_init(void)
{
	struct bot_call	*bc;

	rt_topics = store_bot_topics();
	if (rt_topics == NULL)
		rt_topics = json_object();
	rt_sandboxes = json_object();
	rt_alerts = json_object();
	rt_refused = json_object();
	rt_chat_turns = json_object();
	rt_asks = json_object();
	rt_sub = events_subscribe("bot", bot_route_eventcb, NULL);
	/* The sandboxes there are; events keep the list. */
	if ((bc = bot_call_new(NULL, NULL, 0, "sbxd")) != NULL)
		bot_call_run(bc, json_pack("{s:s}", "command", "list"),
		    bot_route_list_cb);
}

static void
bot_route_list_cb(struct bot_call *bc __unused, json_t *reply)
{
	json_t		*sb;
	size_t		 i;

	json_array_foreach(json_object_get(reply, "sandboxes"), i, sb)
		if (json_string_value(json_object_get(sb, "name")) != NULL)
			json_object_set_new(rt_sandboxes, json_string_value(
			    json_object_get(sb, "name")), json_pack("{s:b}",
			    "restricted", json_is_true(json_object_get(sb,
			    "restricted"))));
}

void
bot_route_stop(void)
{
	struct bot_outbox	*ob;
	struct bot_item		*bi;
	struct bot_turn		*bt;
	struct bot_call		*bc;

	events_unsubscribe(rt_sub);
	rt_sub = NULL;
	while ((bc = TAILQ_FIRST(&rt_calls)) != NULL) {
		control_call_cancel(bc);
		bot_call_free(bc);
	}
	while ((ob = TAILQ_FIRST(&rt_outboxes)) != NULL) {
		TAILQ_REMOVE(&rt_outboxes, ob, ob_entry);
		/* ob_busy's request is freed with the bot's. */
		while ((bi = TAILQ_FIRST(&ob->ob_items)) != NULL) {
			TAILQ_REMOVE(&ob->ob_items, bi, bi_entry);
			free(bi->bi_text);
			free(bi->bi_alert);
			free(bi);
		}
		if (ob->ob_busy != NULL) {
			free(ob->ob_busy->bi_text);
			free(ob->ob_busy->bi_alert);
			free(ob->ob_busy);
		}
		free(ob->ob_topic);
		free(ob);
	}
	while ((bt = TAILQ_FIRST(&rt_turns)) != NULL)
		bot_turn_free(bt);
	json_decref(rt_topics);
	json_decref(rt_sandboxes);
	json_decref(rt_alerts);
	json_decref(rt_refused);
	json_decref(rt_chat_turns);
	json_decref(rt_asks);
	rt_topics = rt_sandboxes = rt_alerts = rt_refused = NULL;
	rt_chat_turns = rt_asks = NULL;
}

json_t *
bot_route_status(void)
{
	struct bot_turn	*bt;
	int		 n = 0;

	TAILQ_FOREACH(bt, &rt_turns, bt_entry)
		n++;
	return (json_pack("{s:I, s:I, s:I, s:I, s:i, s:I}",
	    "commands", (json_int_t)rt_ncommands,
	    "prompts", (json_int_t)rt_nprompts,
	    "refused", (json_int_t)rt_nrefused,
	    "alerts", (json_int_t)rt_nalerts,
	    "turns_shown", n,
	    "topics", (json_int_t)json_object_size(rt_topics)));
}

/* A sandbox's topic: its own, else its name. */
static const char *
bot_route_topic_of(const char *sandbox)
{
	const char	*t = json_string_value(json_object_get(rt_topics,
			    sandbox));

	return (t != NULL ? t : sandbox);
}

/* The sandbox a topic is of, or NULL. */
static const char *
bot_route_sandbox_of(const char *topic)
{
	const char	*name;
	json_t		*t;

	json_object_foreach(rt_topics, name, t)
		if (strcasecmp(json_string_value(t), topic) == 0 &&
		    json_object_get(rt_sandboxes, name) != NULL)
			return (name);
	json_object_foreach(rt_sandboxes, name, t)
		if (strcmp(name, topic) == 0 &&
		    json_object_get(rt_topics, name) == NULL)
			return (name);
	return (NULL);
}

/* Topic from was renamed to: the sandbox it was of follows. */
void
bot_route_topic_moved(const char *from, const char *to)
{
	const char	*name;
	char		*t;

	if ((name = bot_route_sandbox_of(from)) == NULL ||
	    (t = strdup(name)) == NULL)
		return;
	log_info("bot: topic \"%s\" of sandbox %s is now \"%s\"", from, t,
	    to);
	if (store_bot_topic_put(t, to) == -1)
		log_warnx("bot: the store did not keep the topic of %s: %s",
		    t, store_error());
	json_object_set_new(rt_topics, t, json_string(to));
	free(t);
}

static int
bot_name_ok(const char *s)
{
	size_t	 i, n = strlen(s);

	if (n == 0 || n > 32 || s[0] == '-')
		return (0);
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return (0);
	return (1);
}

/*
 * A message of the stream from a person: run it, or refuse it.  role is
 * the sender's; stale: it was written long before sbxd saw it.
 */
void
bot_route_message(json_t *m, int role, const char *email, int stale)
{
	struct bot_call	*bc;
	const char	*content, *topic, *name, *full;
	char		 who[BOT_WHO_MAX];
	json_t		*t;
	size_t		 len;
	int64_t		 sender = json_integer_value(json_object_get(m,
			    "sender_id"));
	double		 now = bot_now();

	content = json_string_value(json_object_get(m, "content"));
	topic = json_string_value(json_object_get(m, "subject"));
	if (content == NULL || topic == NULL)
		return;
	len = json_string_length(json_object_get(m, "content"));
	while (len > 0 && isspace((unsigned char)*content)) {
		content++;
		len--;
	}
	full = json_string_value(json_object_get(m, "sender_full_name"));
	snprintf(who, sizeof(who), "zulip:%s (%s, id %" PRId64 ")",
	    full != NULL ? full : "?", email, sender);
	if (role == BOT_ROLE_NONE) {
		rt_nrefused++;
		log_info("bot: message %" JSON_INTEGER_FORMAT " from %s "
		    "refused: not an admin or user of the bot",
		    json_integer_value(json_object_get(m, "id")), who);
		t = json_object_get(rt_refused, email);
		if (t != NULL && now - json_real_value(t) < BOT_REFUSE_SECS)
			return;
		json_object_set_new(rt_refused, email, json_real(now));
		bot_route_post(topic, "Sorry, you are not allowed to use this "
		    "bot: ask one of its admins to add you.", BOT_PRIO_REPLY);
		return;
	}
	name = bot_route_sandbox_of(topic);
	if ((bc = bot_call_new(topic, name, json_integer_value(
	    json_object_get(m, "id")), who)) == NULL) {
		log_warnx("bot: message %" JSON_INTEGER_FORMAT " from %s not "
		    "handled: out of memory", json_integer_value(
		    json_object_get(m, "id")), who);
		return;
	}
	if (stale) {
		bot_reply(bc, "Missed while offline, so not run: send it "
		    "again if it still holds.");
		bot_call_free(bc);
		return;
	}
	if (len > 0 && content[0] == '/')
		bot_route_command(bc, content, role);
	else
		bot_route_prompt(bc, content);
}

/* "/verb args...": split at blanks, checked against the table. */
static void
bot_route_command(struct bot_call *bc, const char *content, int role)
{
	const struct bot_cmd	*cmd = NULL;
	char			*copy, *p, *args[BOT_ARGS_MAX + 1];
	size_t			 i;
	int			 n = 0;

	rt_ncommands++;
	if ((copy = strdup(content + 1)) == NULL) {
		bot_call_free(bc);
		return;
	}
	for (p = strtok(copy, " \t\r\n"); p != NULL && n <= BOT_ARGS_MAX;
	    p = strtok(NULL, " \t\r\n"))
		args[n++] = p;
	if (n == 0) {
		bot_reply(bc, "An empty command: /help lists them.");
		goto done;
	}
	for (i = 0; i < nitems(bot_cmds); i++)
		if (strcmp(bot_cmds[i].name, args[0]) == 0)
			cmd = &bot_cmds[i];
	if (cmd == NULL) {
		bot_reply(bc, "Unknown command `/%.40s`: /help lists them.",
		    args[0]);
		goto done;
	}
	if (role < cmd->role) {
		log_info("bot: %s may not /%s", bc->bc_who, cmd->name);
		bot_reply(bc, "Only admins may use /%s.", cmd->name);
		goto done;
	}
	if (n - 1 < cmd->nargs_min || n - 1 > cmd->nargs_max) {
		bot_reply(bc, "Usage: `%s`", cmd->usage);
		goto done;
	}
	if (cmd->in_topic && bc->bc_name == NULL) {
		bot_reply(bc, "This topic is not a sandbox's: use /%s in the "
		    "topic of a sandbox (/list shows them).", cmd->name);
		goto done;
	}
	log_info("bot: %s: /%s%s%s", bc->bc_who, cmd->name,
	    bc->bc_name != NULL ? " in " : "",
	    bc->bc_name != NULL ? bc->bc_name : "");
	cmd->fn(bc, args + 1, n - 1);
	free(copy);
	return;
done:
	free(copy);
	bot_call_free(bc);
}

static void bot_prompt_cb(struct bot_call *, json_t *);

/* Anything else in a sandbox's topic: a prompt for its agent. */
static void
bot_route_prompt(struct bot_call *bc, const char *content)
{
	if (bc->bc_name == NULL) {
		bot_reply(bc, "This topic is not a sandbox's. /new NAME makes "
		    "one (admins), /list shows them, /help the commands.");
		bot_call_free(bc);
		return;
	}
	rt_nprompts++;
	bot_call_run(bc, json_pack("{s:s, s:s, s:s}", "command", "ask",
	    "name", bc->bc_name, "prompt", content), bot_prompt_cb);
}

static void
bot_prompt_cb(struct bot_call *bc, json_t *reply)
{
	char	 key[32];
	int	 pos;

	if (!json_is_true(json_object_get(reply, "ok"))) {
		bot_reply(bc, "Not queued: %s", json_string_value(
		    json_object_get(reply, "error")));
		return;
	}
	snprintf(key, sizeof(key), "%" JSON_INTEGER_FORMAT,
	    json_integer_value(json_object_get(reply, "turn")));
	json_object_set_new(rt_chat_turns, key, json_integer(bc->bc_msg));
	pos = (int)json_integer_value(json_object_get(reply, "position"));
	if (pos > 0) {
		bot_zulip_react(bc->bc_msg, "hourglass", 1);
		bot_reply(bc, "Queued as #%d (turn %s).", pos, key);
	}
}

/* A control request for bc, answered to fn; takes req. */
static void
bot_call_run(struct bot_call *bc, json_t *req, bot_call_fn fn)
{
	if (req == NULL) {
		bot_reply(bc, "Out of memory.");
		if (bc->bc_busy == 0)
			bot_call_free(bc);
		return;
	}
	bc->bc_fn = fn;
	control_call(bc->bc_who, req, bot_route_replycb, bc);
	json_decref(req);
}

/*
 * A control answer: progress lines are not shown; the last one goes to
 * the call's function, which may chain another call (answered at once
 * or later).  The call goes when nothing more waits for it.
 */
static void
bot_route_replycb(json_t *reply, int last, void *arg)
{
	struct bot_call	*bc = arg;
	bot_call_fn	 fn = bc->bc_fn;

	if (!last)
		return;
	bc->bc_fn = NULL;
	bc->bc_busy++;
	if (fn != NULL)
		fn(bc, reply);
	bc->bc_busy--;
	if (bc->bc_fn == NULL && bc->bc_busy == 0)
		bot_call_free(bc);
}

static struct bot_call *
bot_call_new(const char *topic, const char *name, int64_t msg,
    const char *who)
{
	struct bot_call	*bc;

	if ((bc = calloc(1, sizeof(*bc))) == NULL)
		return (NULL);
	if ((topic != NULL && (bc->bc_topic = strdup(topic)) == NULL) ||
	    (name != NULL && (bc->bc_name = strdup(name)) == NULL)) {
		free(bc->bc_topic);
		free(bc);
		return (NULL);
	}
	bc->bc_msg = msg;
	snprintf(bc->bc_who, sizeof(bc->bc_who), "%s", who);
	TAILQ_INSERT_TAIL(&rt_calls, bc, bc_entry);
	return (bc);
}

static void
bot_call_free(struct bot_call *bc)
{
	TAILQ_REMOVE(&rt_calls, bc, bc_entry);
	json_decref(bc->bc_data);
	free(bc->bc_topic);
	free(bc->bc_name);
	free(bc);
}

/* An answer in bc's topic. */
static void
bot_reply(struct bot_call *bc, const char *fmt, ...)
{
	va_list	 ap;
	char	*s;

	if (bc->bc_topic == NULL)
		return;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		s = NULL;
	va_end(ap);
	if (s != NULL)
		bot_route_post(bc->bc_topic, s, BOT_PRIO_REPLY);
	free(s);
}

/* The error of a failed answer, or NULL if it is ok. */
static const char *
bot_failed(json_t *reply)
{
	if (json_is_true(json_object_get(reply, "ok")))
		return (NULL);
	if (json_string_value(json_object_get(reply, "error")) != NULL)
		return (json_string_value(json_object_get(reply, "error")));
	return ("failed");
}

static void
bot_cmd_help(struct bot_call *bc, char **av __unused, int ac __unused)
{
	bot_reply(bc, "**sbxd** commands:\n"
	    "- `/new NAME`: a new open sandbox and its topic NAME (admins)\n"
	    "- `/newpf NAME [PATTERN,...]`: a new restricted sandbox, with "
	    "those destinations allowed besides its policy (admins)\n"
	    "- `/rm NAME yes`: remove a sandbox (admins)\n"
	    "- `/list`: every sandbox\n"
	    "In a sandbox's topic:\n"
	    "- any other message: a prompt for its agent\n"
	    "- `/status`, `/queue`, `/turns`: what it does and did\n"
	    "- `/mode`, `/switch MODE`: the agent's mode\n"
	    "- `/interrupt`: stop the running turn\n"
	    "- `/restart`: the next prompt starts a new conversation\n"
	    "- `/network`: its policy, rules, recent blocks, firewall\n"
	    "- `/allow PATTERN`, `/deny PATTERN`: runtime rules (admins)");
}

static void bot_new_cb(struct bot_call *, json_t *);

static void
bot_new(struct bot_call *bc, const char *name, json_t *allow)
{
	json_t	*req;

	if (!bot_name_ok(name)) {
		bot_reply(bc, "`%.40s` is not a sandbox name: 1 to 32 of "
		    "a-z, 0-9 and '-', not starting with '-'.", name);
		json_decref(allow);
		bot_call_free(bc);
		return;
	}
	if (json_object_get(rt_sandboxes, name) != NULL) {
		bot_reply(bc, "Sandbox **%s** exists already: its topic is "
		    "#**%s>%s**. Nothing was changed.", name,
		    bot_conf()->bc_stream, bot_route_topic_of(name));
		json_decref(allow);
		bot_call_free(bc);
		return;
	}
	free(bc->bc_name);
	if ((bc->bc_name = strdup(name)) == NULL) {
		json_decref(allow);
		bot_call_free(bc);
		return;
	}
	req = json_pack("{s:s, s:s, s:b}", "command", "create", "name", name,
	    "restricted", allow != NULL);
	if (req != NULL && allow != NULL)
		json_object_set_new(req, "allow", allow);
	else
		json_decref(allow);
	bot_reply(bc, "Creating **%s**...", name);
	bot_call_run(bc, req, bot_new_cb);
}

static void
bot_cmd_new(struct bot_call *bc, char **av, int ac __unused)
{
	bot_new(bc, av[0], NULL);
}

static void
bot_cmd_newpf(struct bot_call *bc, char **av, int ac)
{
	json_t	*allow = json_array();
	char	*p, *copy = NULL, *last;
	int	 n = 0;

	if (allow == NULL || (ac > 1 && (copy = strdup(av[1])) == NULL)) {
		json_decref(allow);
		bot_call_free(bc);
		return;
	}
	if (copy != NULL)
		for (p = strtok_r(copy, ",", &last); p != NULL;
		    p = strtok_r(NULL, ",", &last)) {
			if (++n > BOT_PATTERNS_MAX) {
				bot_reply(bc, "At most %d patterns.",
				    BOT_PATTERNS_MAX);
				free(copy);
				json_decref(allow);
				bot_call_free(bc);
				return;
			}
			json_array_append_new(allow, json_string(p));
		}
	free(copy);
	bot_new(bc, av[0], allow);
}

static void
bot_new_cb(struct bot_call *bc, json_t *reply)
{
	const char	*err, *topic;
	json_t		*sb = json_object_get(reply, "sandbox");
	char		*t, *welcome;
	size_t		 n;

	if ((err = bot_failed(reply)) != NULL) {
		bot_reply(bc, "**%s** was not created: %s", bc->bc_name, err);
		return;
	}
	n = bot_text_cut(bc->bc_name, strlen(bc->bc_name),
	    bot_zulip_max_topic());
	if ((t = strndup(bc->bc_name, n)) == NULL)
		return;
	if (store_bot_topic_put(bc->bc_name, t) == -1)
		log_warnx("bot: the store did not keep the topic of %s: %s",
		    bc->bc_name, store_error());
	json_object_set_new(rt_topics, bc->bc_name, json_string(t));
	json_object_set_new(rt_sandboxes, bc->bc_name, json_pack("{s:b}",
	    "restricted", json_is_true(json_object_get(sb, "restricted"))));
	topic = t;
	if (asprintf(&welcome, "Sandbox **%s** is ready: %s, policy `%s`, "
	    "agent %s.\nWrite here to prompt its agent; /help lists the "
	    "commands.", bc->bc_name, json_is_true(json_object_get(sb,
	    "restricted")) ? "restricted (its network goes through its "
	    "proxy)" : "open", json_string_value(json_object_get(sb,
	    "policy")) != NULL ? json_string_value(json_object_get(sb,
	    "policy")) : "-", json_string_value(json_object_get(sb,
	    "agent")) != NULL ? json_string_value(json_object_get(sb,
	    "agent")) : "the default") != -1) {
		bot_route_post(topic, welcome, BOT_PRIO_REPLY);
		free(welcome);
	}
	if (strcmp(bc->bc_topic, topic) != 0)
		bot_reply(bc, "Created **%s**: #**%s>%s**.", bc->bc_name,
		    bot_conf()->bc_stream, topic);
	free(t);
}

static void bot_rm_cb(struct bot_call *, json_t *);

static void
bot_cmd_rm(struct bot_call *bc, char **av, int ac)
{
	if (!bot_name_ok(av[0]) || json_object_get(rt_sandboxes, av[0]) ==
	    NULL) {
		bot_reply(bc, "No sandbox `%.40s`.", av[0]);
		bot_call_free(bc);
		return;
	}
	if (ac < 2 || strcmp(av[1], "yes") != 0) {
		bot_reply(bc, "This removes **%s**, its user, home and "
		    "rules; a running turn is stopped. Say `/rm %s yes` to "
		    "go on.", av[0], av[0]);
		bot_call_free(bc);
		return;
	}
	free(bc->bc_name);
	if ((bc->bc_name = strdup(av[0])) == NULL) {
		bot_call_free(bc);
		return;
	}
	bot_call_run(bc, json_pack("{s:s, s:s}", "command", "rm", "name",
	    av[0]), bot_rm_cb);
}

static void
bot_rm_cb(struct bot_call *bc, json_t *reply)
{
	const char	*err;

	if ((err = bot_failed(reply)) != NULL) {
		bot_reply(bc, "**%s** was not removed: %s", bc->bc_name, err);
		return;
	}
	bot_reply(bc, "Removed **%s**.", bc->bc_name);
}

static void
bot_list_cb(struct bot_call *bc, json_t *reply)
{
	struct evbuffer	*b;
	json_t		*sb;
	const char	*err, *name;
	size_t		 i;
	char		*s;

	if ((err = bot_failed(reply)) != NULL) {
		bot_reply(bc, "%s", err);
		return;
	}
	if (json_array_size(json_object_get(reply, "sandboxes")) == 0) {
		bot_reply(bc, "No sandboxes.");
		return;
	}
	if ((b = evbuffer_new()) == NULL)
		return;
	evbuffer_add_printf(b, "| sandbox | state | network | agent | topic "
	    "|\n|---|---|---|---|---|\n");
	json_array_foreach(json_object_get(reply, "sandboxes"), i, sb) {
		name = json_string_value(json_object_get(sb, "name"));
		if (name == NULL)
			continue;
		evbuffer_add_printf(b, "| %s | %s | %s | %s | #**%s>%s** |\n",
		    name, json_string_value(json_object_get(sb, "state")),
		    json_is_true(json_object_get(sb, "restricted")) ?
		    "restricted" : "open",
		    json_string_value(json_object_get(sb, "agent")) != NULL ?
		    json_string_value(json_object_get(sb, "agent")) : "default",
		    bot_conf()->bc_stream, bot_route_topic_of(name));
	}
	evbuffer_add(b, "", 1);
	s = (char *)evbuffer_pullup(b, -1);
	bot_reply(bc, "%s", s);
	evbuffer_free(b);
}

static void
bot_cmd_list(struct bot_call *bc, char **av __unused, int ac __unused)
{
	bot_call_run(bc, json_pack("{s:s}", "command", "list"), bot_list_cb);
}

static void bot_status_cb(struct bot_call *, json_t *);
static void bot_status_turns_cb(struct bot_call *, json_t *);

static void
bot_cmd_status(struct bot_call *bc, char **av __unused, int ac __unused)
{
	bot_call_run(bc, json_pack("{s:s, s:s}", "command", "show", "name",
	    bc->bc_name), bot_status_cb);
}

static void
bot_status_cb(struct bot_call *bc, json_t *reply)
{
	const char	*err;

	if ((err = bot_failed(reply)) != NULL) {
		bot_reply(bc, "%s", err);
		return;
	}
	bc->bc_data = json_incref(json_object_get(reply, "sandbox"));
	bot_call_run(bc, json_pack("{s:s, s:s, s:i}", "command", "turns",
	    "name", bc->bc_name, "last", 20), bot_status_turns_cb);
}

static void
bot_status_turns_cb(struct bot_call *bc, json_t *reply)
{
	json_t		*sb = bc->bc_data, *t;
	const char	*st, *running = NULL;
	size_t		 i;
	int		 queued = 0;

	json_array_foreach(json_object_get(reply, "turns"), i, t) {
		st = json_string_value(json_object_get(t, "status"));
		if (st == NULL)
			continue;
		if (strcmp(st, "queued") == 0)
			queued++;
		else if (strcmp(st, "running") == 0) {
			running = json_string_value(json_object_get(t,
			    "requester"));
		}
	}
	bot_reply(bc, "**%s**: %s, %s (policy `%s`%s%s), agent %s; %s%s; "
	    "%d queued.", bc->bc_name,
	    json_string_value(json_object_get(sb, "state")),
	    json_is_true(json_object_get(sb, "restricted")) ? "restricted" :
	    "open", json_string_value(json_object_get(sb, "policy")),
	    json_string_value(json_object_get(sb, "proxy")) != NULL ?
	    ", proxy " : "", json_string_value(json_object_get(sb, "proxy"))
	    != NULL ? json_string_value(json_object_get(sb, "proxy")) : "",
	    json_string_value(json_object_get(sb, "agent")) != NULL ?
	    json_string_value(json_object_get(sb, "agent")) : "the default",
	    running != NULL ? "busy with a turn of " : "idle",
	    running != NULL ? running : "", queued);
}

static void
bot_mode_cb(struct bot_call *bc, json_t *reply)
{
	const char	*err;
	json_t		*m;
	size_t		 i, n;
	char		 modes[512] = "";

	if ((err = bot_failed(reply)) != NULL) {
		bot_reply(bc, "%s", err);
		return;
	}
	json_array_foreach(json_object_get(reply, "modes"), i, m) {
		if (json_string_value(m) == NULL)
			continue;
		n = strlen(modes);
		snprintf(modes + n, sizeof(modes) - n, "%s%s", n > 0 ? ", " :
		    "", json_string_value(m));
	}
	bot_reply(bc, "**%s**: mode `%s`%s%s%s.", bc->bc_name,
	    json_string_value(json_object_get(reply, "mode")) != NULL ?
	    json_string_value(json_object_get(reply, "mode")) : "?",
	    *modes ? " (modes: " : "", modes, *modes ? ")" : "");
}

static void
bot_cmd_mode(struct bot_call *bc, char **av __unused, int ac __unused)
{
	bot_call_run(bc, json_pack("{s:s, s:s}", "command", "mode", "name",
	    bc->bc_name), bot_mode_cb);
}

static void
bot_cmd_switch(struct bot_call *bc, char **av, int ac __unused)
{
	bot_call_run(bc, json_pack("{s:s, s:s, s:s}", "command", "mode",
	    "name", bc->bc_name, "mode", av[0]), bot_mode_cb);
}

static void
bot_interrupt_cb(struct bot_call *bc, json_t *reply)
{
	const char	*err;
	json_t		*done = json_object_get(reply, "done");

	if ((err = bot_failed(reply)) != NULL) {
		bot_reply(bc, "%s", err);
		return;
	}
	bot_reply(bc, "Turn %" JSON_INTEGER_FORMAT " stopped: %s.",
	    json_integer_value(json_object_get(reply, "turn")),
	    json_string_value(json_object_get(done, "reason")) != NULL ?
	    json_string_value(json_object_get(done, "reason")) :
	    json_string_value(json_object_get(done, "status")));
}

static void
bot_cmd_interrupt(struct bot_call *bc, char **av __unused, int ac __unused)
{
	bot_call_run(bc, json_pack("{s:s, s:s}", "command", "interrupt",
	    "name", bc->bc_name), bot_interrupt_cb);
}

static void
bot_restart_cb(struct bot_call *bc, json_t *reply)
{
	const char	*err;

	if ((err = bot_failed(reply)) != NULL) {
		bot_reply(bc, "%s", err);
		return;
	}
	bot_reply(bc, "The agent's conversation is forgotten: the next "
	    "prompt starts a new one.");
}

static void
bot_cmd_restart(struct bot_call *bc, char **av __unused, int ac __unused)
{
	bot_call_run(bc, json_pack("{s:s, s:s}", "command", "reset", "name",
	    bc->bc_name), bot_restart_cb);
}

/* A turn's one-line summary for /queue and /turns. */
static void
bot_turn_line(struct evbuffer *b, json_t *t)
{
	const char	*p = json_string_value(json_object_get(t, "prompt"));
	size_t		 n, cut;

	n = p != NULL ? strcspn(p, "\r\n") : 0;
	cut = p != NULL ? bot_text_cut(p, n, 60) : 0;
	evbuffer_add_printf(b, "- %" JSON_INTEGER_FORMAT " **%s** by %s: "
	    "`%.*s`%s%s%s\n", json_integer_value(json_object_get(t, "id")),
	    json_string_value(json_object_get(t, "status")),
	    json_string_value(json_object_get(t, "requester")),
	    (int)cut, p != NULL ? p : "", cut < n || (p != NULL &&
	    p[n] != '\0') ? "..." : "",
	    json_string_value(json_object_get(t, "reason")) != NULL ? ": " :
	    "", json_string_value(json_object_get(t, "reason")) != NULL ?
	    json_string_value(json_object_get(t, "reason")) : "");
}

static void
bot_turns_cb(struct bot_call *bc, json_t *reply, int only_waiting)
{
	struct evbuffer	*b;
	const char	*err, *st;
	json_t		*t;
	size_t		 i;
	int		 n = 0;

	if ((err = bot_failed(reply)) != NULL) {
		bot_reply(bc, "%s", err);
		return;
	}
	if ((b = evbuffer_new()) == NULL)
		return;
	json_array_foreach(json_object_get(reply, "turns"), i, t) {
		st = json_string_value(json_object_get(t, "status"));
		if (only_waiting && (st == NULL || (strcmp(st, "queued") != 0 &&
		    strcmp(st, "running") != 0)))
			continue;
		bot_turn_line(b, t);
		n++;
	}
	evbuffer_add(b, "", 1);
	if (n == 0)
		bot_reply(bc, only_waiting ? "Nothing runs or waits." :
		    "No turns yet.");
	else
		bot_reply(bc, "%s", (char *)evbuffer_pullup(b, -1));
	evbuffer_free(b);
}

static void
bot_queue_cb(struct bot_call *bc, json_t *reply)
{
	bot_turns_cb(bc, reply, 1);
}

static void
bot_turns_all_cb(struct bot_call *bc, json_t *reply)
{
	bot_turns_cb(bc, reply, 0);
}

static void
bot_cmd_queue(struct bot_call *bc, char **av __unused, int ac __unused)
{
	bot_call_run(bc, json_pack("{s:s, s:s, s:i}", "command", "turns",
	    "name", bc->bc_name, "last", 50), bot_queue_cb);
}

static void
bot_cmd_turns(struct bot_call *bc, char **av __unused, int ac __unused)
{
	bot_call_run(bc, json_pack("{s:s, s:s, s:i}", "command", "turns",
	    "name", bc->bc_name, "last", 10), bot_turns_all_cb);
}

static void
bot_rule_cb(struct bot_call *bc, json_t *reply)
{
	const char	*err;

	if ((err = bot_failed(reply)) != NULL) {
		bot_reply(bc, "Not done: %s", err);
		return;
	}
	bot_reply(bc, "Done: %s.", json_string_value(bc->bc_data));
}

static void
bot_rule(struct bot_call *bc, const char *verb, const char *pattern)
{
	if (!json_is_true(json_object_get(json_object_get(rt_sandboxes,
	    bc->bc_name), "restricted"))) {
		bot_reply(bc, "**%s** is open: its network has no rules to "
		    "change.", bc->bc_name);
		bot_call_free(bc);
		return;
	}
	bc->bc_data = json_sprintf("%s `%s` for %s", verb, pattern,
	    bc->bc_name);
	bot_call_run(bc, json_pack("{s:s, s:s, s:s}", "command", verb,
	    "listener", bc->bc_name, "pattern", pattern), bot_rule_cb);
}

static void
bot_cmd_allow(struct bot_call *bc, char **av, int ac __unused)
{
	bot_rule(bc, "allow", av[0]);
}

static void
bot_cmd_deny(struct bot_call *bc, char **av, int ac __unused)
{
	bot_rule(bc, "deny", av[0]);
}

static void bot_network_cb(struct bot_call *, json_t *);
static void bot_network_rules_cb(struct bot_call *, json_t *);
static void bot_network_fw_cb(struct bot_call *, json_t *);

static void
bot_cmd_network(struct bot_call *bc, char **av __unused, int ac __unused)
{
	bot_call_run(bc, json_pack("{s:s, s:s}", "command", "show", "name",
	    bc->bc_name), bot_network_cb);
}

static void
bot_network_cb(struct bot_call *bc, json_t *reply)
{
	const char	*err;

	if ((err = bot_failed(reply)) != NULL) {
		bot_reply(bc, "%s", err);
		return;
	}
	bc->bc_data = json_deep_copy(json_object_get(reply, "sandbox"));
	bot_call_run(bc, json_pack("{s:s, s:s}", "command", "rules",
	    "listener", bc->bc_name), bot_network_rules_cb);
}

/* The listener's last decisions go with the sandbox, then the firewall. */
static void
bot_network_rules_cb(struct bot_call *bc, json_t *reply)
{
	if (bot_failed(reply) == NULL && json_is_object(bc->bc_data))
		json_object_set(bc->bc_data, "decisions", json_object_get(reply,
		    "decisions"));
	bot_call_run(bc, json_pack("{s:s, s:s}", "command", "network", "name",
	    bc->bc_name), bot_network_fw_cb);
}

static void
bot_network_fw_cb(struct bot_call *bc, json_t *reply)
{
	struct evbuffer	*b;
	json_t		*sb = bc->bc_data, *r, *a, *one, *list;
	const char	*key;
	size_t		 i, plen = strlen(bc->bc_name);
	int		 n = 0;

	if ((b = evbuffer_new()) == NULL)
		return;
	evbuffer_add_printf(b, "**%s**: %s", bc->bc_name,
	    json_is_true(json_object_get(sb, "restricted")) ? "restricted" :
	    "open");
	if (json_is_true(json_object_get(sb, "restricted")))
		evbuffer_add_printf(b, ", policy `%s`, proxy %s",
		    json_string_value(json_object_get(sb, "policy")),
		    json_string_value(json_object_get(sb, "proxy")));
	one = json_array_get(json_object_get(reply, "sandboxes"), 0);
	evbuffer_add_printf(b, "\nFirewall (%s): %s%s%s\n",
	    json_string_value(json_object_get(reply, "firewall")) != NULL ?
	    json_string_value(json_object_get(reply, "firewall")) : "?",
	    bot_failed(reply) != NULL ? bot_failed(reply) :
	    json_is_true(json_object_get(reply, "healthy")) ? "healthy" :
	    "NOT healthy", json_string_value(json_object_get(one, "problem"))
	    != NULL ? ": " : "", json_string_value(json_object_get(one,
	    "problem")) != NULL ? json_string_value(json_object_get(one,
	    "problem")) : "");
	if (json_array_size(json_object_get(sb, "rules")) == 0)
		evbuffer_add_printf(b, "Runtime rules: none\n");
	else {
		evbuffer_add_printf(b, "Runtime rules:\n");
		json_array_foreach(json_object_get(sb, "rules"), i, r)
			evbuffer_add_printf(b, "- %s `%s`\n",
			    json_string_value(json_object_get(r, "action")),
			    json_string_value(json_object_get(r, "pattern")));
	}
	json_object_foreach(rt_alerts, key, a) {
		if (strncmp(key, bc->bc_name, plen) != 0 || key[plen] != '|')
			continue;
		if (n++ == 0)
			evbuffer_add_printf(b, "Recent blocks:\n");
		evbuffer_add_printf(b, "- %s, %" JSON_INTEGER_FORMAT
		    " times\n", json_string_value(json_object_get(a, "what")),
		    json_integer_value(json_object_get(a, "count")));
	}
	if (n == 0)
		evbuffer_add_printf(b, "Recent blocks: none\n");
	n = 0;
	json_object_foreach(rt_asks, key, a) {
		if (strcmp(json_string_value(json_object_get(a, "sandbox")),
		    bc->bc_name) != 0 || strcmp(json_string_value(
		    json_object_get(a, "state")), "open") != 0)
			continue;
		if (n++ == 0)
			evbuffer_add_printf(b, "Asking:\n");
		evbuffer_add_printf(b, "- #%s `%s %s`, %" JSON_INTEGER_FORMAT
		    " waiting\n", key, json_string_value(json_object_get(a,
		    "method")), json_string_value(json_object_get(a,
		    "destination")), json_integer_value(json_object_get(a,
		    "waiting")));
	}
	list = json_object_get(sb, "decisions");
	if (json_array_size(list) > 0) {
		evbuffer_add_printf(b, "Decisions:\n");
		json_array_foreach(list, i, r) {
			if (i == BOT_DECISIONS_SHOWN)
				break;
			evbuffer_add_printf(b, "- #%" JSON_INTEGER_FORMAT
			    " `%s %s:%" JSON_INTEGER_FORMAT "`: %s%s%s, %s\n",
			    json_integer_value(json_object_get(r, "id")),
			    json_string_value(json_object_get(r, "method")),
			    json_string_value(json_object_get(r, "host")),
			    json_integer_value(json_object_get(r, "port")),
			    json_string_value(json_object_get(r, "decision")),
			    json_is_string(json_object_get(r, "by")) ?
			    " by " : "", json_is_string(json_object_get(r,
			    "by")) ? json_string_value(json_object_get(r,
			    "by")) : "", json_string_value(json_object_get(r,
			    "decided_at")));
		}
	}
	evbuffer_add(b, "", 1);
	bot_reply(bc, "%s", (char *)evbuffer_pullup(b, -1));
	evbuffer_free(b);
}

/*
 * Everything posted goes through here: mentions neutralised, secrets
 * redacted, split at the server's limit.  Returns the parts queued.
 */
size_t
bot_route_post(const char *topic, const char *text, enum bot_prio prio)
{
	struct bot_item	*bi;
	char		*clean, **parts;
	int		 n, i;
	size_t		 queued = 0;

	if ((clean = bot_clean(text, strlen(text))) == NULL ||
	    (n = bot_text_split(clean, strlen(clean), bot_zulip_max_length(),
	    &parts)) == -1) {
		log_warnx("bot: a message to topic \"%s\" was dropped: out of "
		    "memory", topic);
		free(clean);
		return (0);
	}
	free(clean);
	for (i = 0; i < n; i++) {
		if (parts[i][0] == '\0' || (bi = calloc(1, sizeof(*bi))) ==
		    NULL)
			continue;
		bi->bi_kind = BOT_ITEM_TEXT;
		bi->bi_prio = prio;
		bi->bi_part = n > 1;
		bi->bi_text = parts[i];
		parts[i] = NULL;
		bot_outbox_add(topic, bi);
		queued++;
	}
	bot_text_free(parts, n);
	return (queued);
}

/* text without secrets and mentions, NUL-terminated, or NULL. */
static char *
bot_clean(const char *text, size_t len)
{
	const char	*secrets[1];
	char		*um, *out;
	size_t		 umlen, outlen;

	/* Secrets first, as they were written; then mentions. */
	secrets[0] = bot_conf()->bc_key;
	if ((um = bot_text_redact(text, len, secrets, secrets[0] != NULL ?
	    1 : 0, &umlen)) == NULL)
		return (NULL);
	out = bot_text_unmention(um, umlen, &outlen);
	free(um);
	return (out);
}

static struct bot_outbox *
bot_outbox_get(const char *topic)
{
	struct bot_outbox	*ob;

	TAILQ_FOREACH(ob, &rt_outboxes, ob_entry)
		if (strcmp(ob->ob_topic, topic) == 0)
			return (ob);
	if ((ob = calloc(1, sizeof(*ob))) == NULL)
		return (NULL);
	if ((ob->ob_topic = strdup(topic)) == NULL) {
		free(ob);
		return (NULL);
	}
	TAILQ_INIT(&ob->ob_items);
	TAILQ_INSERT_TAIL(&rt_outboxes, ob, ob_entry);
	return (ob);
}

static void
bot_item_free(struct bot_item *bi)
{
	struct bot_turn	*bt;

	if (bi->bi_turn != 0 && (bt = bot_turn_find(bi->bi_turn)) != NULL) {
		bt->bt_items--;
		bot_turn_release(bt);
	}
	free(bi->bi_text);
	free(bi->bi_alert);
	free(bi);
}

/*
 * Queue bi in topic's outbox.  Text behind text that has not gone yet
 * joins it while the two fit one message: when the budget is short, a
 * topic's text waits as fewer, longer messages.
 */
static void
bot_outbox_add(const char *topic, struct bot_item *bi)
{
	struct bot_outbox	*ob;
	struct bot_item		*tail;
	size_t			 a, b;
	char			*j;

	if ((ob = bot_outbox_get(topic)) == NULL) {
		bot_item_free(bi);
		return;
	}
	tail = TAILQ_LAST(&ob->ob_items, bot_items);
	if (tail != NULL && tail->bi_kind == BOT_ITEM_TEXT &&
	    bi->bi_kind == BOT_ITEM_TEXT && tail->bi_prio == bi->bi_prio &&
	    !tail->bi_part && !bi->bi_part) {
		a = strlen(tail->bi_text);
		b = strlen(bi->bi_text);
		if (bot_text_cp(tail->bi_text, a) + bot_text_cp(bi->bi_text,
		    b) + 2 <= bot_zulip_max_length() &&
		    (j = malloc(a + b + 3)) != NULL) {
			memcpy(j, tail->bi_text, a);
			memcpy(j + a, "\n\n", 2);
			memcpy(j + a + 2, bi->bi_text, b + 1);
			free(tail->bi_text);
			tail->bi_text = j;
			bot_item_free(bi);
			return;
		}
	}
	TAILQ_INSERT_TAIL(&ob->ob_items, bi, bi_entry);
	bot_outbox_next(ob);
}

/*
 * Send the outbox's next item, unless one is on its way.  Status and
 * alert items are written now, from what they show at this moment.
 */
static void
bot_outbox_next(struct bot_outbox *ob)
{
	struct bot_item	*bi;
	struct bot_turn	*bt;
	json_t		*a;
	char		*text = NULL, *clean;
	int64_t		 edit = 0;
	int		 r;

	while (ob->ob_busy == NULL &&
	    (bi = TAILQ_FIRST(&ob->ob_items)) != NULL) {
		TAILQ_REMOVE(&ob->ob_items, bi, bi_entry);
		text = NULL;
		edit = 0;
		switch (bi->bi_kind) {
		case BOT_ITEM_TEXT:
			text = bi->bi_text;
			bi->bi_text = NULL;
			break;
		case BOT_ITEM_STATUS:
			if ((bt = bot_turn_find(bi->bi_turn)) == NULL)
				break;
			bt->bt_status_queued = 0;
			bt->bt_status_dirty = 0;
			text = bot_turn_status_text(bt);
			if (bt->bt_status_msg != 0 &&
			    (bot_zulip_edit_limit() == 0 || bot_now() -
			    bt->bt_status_at < bot_zulip_edit_limit() -
			    BOT_EDIT_MARGIN))
				edit = bt->bt_status_msg;
			else
				bt->bt_status_msg = 0;	/* a new one */
			break;
		case BOT_ITEM_ALERT:
			if ((a = json_object_get(rt_alerts, bi->bi_alert)) ==
			    NULL)
				break;
			json_object_set_new(a, "queued", json_false());
			text = bot_alert_text(bi->bi_alert);
			edit = json_integer_value(json_object_get(a, "msg"));
			break;
		case BOT_ITEM_ASK:
			if ((a = json_object_get(rt_asks, bi->bi_alert)) ==
			    NULL)
				break;
			json_object_set_new(a, "queued", json_false());
			text = bot_ask_text(bi->bi_alert);
			edit = json_integer_value(json_object_get(a, "msg"));
			break;
		}
		if (text == NULL) {
			bot_item_free(bi);
			continue;
		}
		if (bi->bi_kind != BOT_ITEM_TEXT) {
			clean = bot_clean(text, strlen(text));
			free(text);
			if ((text = clean) == NULL) {
				bot_item_free(bi);
				continue;
			}
		}
		ob->ob_busy = bi;
		if (edit != 0)
			r = bot_zulip_edit(edit, text, bi->bi_prio,
			    bot_outbox_cb, ob);
		else
			r = bot_zulip_send(ob->ob_topic, text, bi->bi_prio,
			    bot_outbox_cb, ob);
		free(text);
		if (r == -1) {
			ob->ob_busy = NULL;
			bot_item_free(bi);
		}
	}
}

/* An outbox's item went out, or failed: note its id, go on. */
static void
bot_outbox_cb(struct bot_req *br, enum bot_result res, json_t *body,
    void *arg)
{
	struct bot_outbox	*ob = arg;
	struct bot_item		*bi = ob->ob_busy;
	struct bot_turn		*bt;
	json_t			*a;
	int64_t			 id;
	size_t			 i;

	ob->ob_busy = NULL;
	if (bi == NULL)
		return;
	id = json_integer_value(json_object_get(body, "id"));
	if (res != BOT_OK)
		log_warnx("bot: topic \"%s\": %s: %s", ob->ob_topic,
		    bot_req_path(br), bot_req_error(br));
	switch (bi->bi_kind) {
	case BOT_ITEM_TEXT:
		break;
	case BOT_ITEM_STATUS:
		if ((bt = bot_turn_find(bi->bi_turn)) == NULL)
			break;
		if (res == BOT_OK && id > 0) {
			bt->bt_status_msg = id;
			bt->bt_status_at = bot_now();
		} else if (res != BOT_OK && bot_req_status(br) == 400 &&
		    strstr(bot_req_path(br), "/messages/") != NULL) {
			/* The edit window closed early: roll over. */
			bt->bt_status_msg = 0;
			bt->bt_status_dirty = 1;
			bot_turn_schedule(bt);
		}
		break;
	case BOT_ITEM_ALERT:
		if ((a = json_object_get(rt_alerts, bi->bi_alert)) != NULL &&
		    res == BOT_OK && id > 0)
			json_object_set_new(a, "msg", json_integer(id));
		break;
	case BOT_ITEM_ASK:
		if ((a = json_object_get(rt_asks, bi->bi_alert)) == NULL ||
		    res != BOT_OK || id <= 0)
			break;
		json_object_set_new(a, "msg", json_integer(id));
		/* The answers, one click away, while it is open. */
		if (strcmp(json_string_value(json_object_get(a, "state")),
		    "open") == 0) {
			for (i = 0; i < nitems(bot_ask_answers); i++)
				(void)bot_zulip_react(id,
				    bot_ask_answers[i].emoji, 1);
		}
		break;
	}
	bot_item_free(bi);
	bot_outbox_next(ob);
	if (ob->ob_busy == NULL && TAILQ_EMPTY(&ob->ob_items)) {
		/* Idle: topics come and go. */
		TAILQ_REMOVE(&rt_outboxes, ob, ob_entry);
		free(ob->ob_topic);
		free(ob);
	}
}

/* Events: agent turns, blocks, sandboxes coming and going. */
static void
bot_route_eventcb(json_t *ev, void *arg __unused)
{
	const char	*type = json_string_value(json_object_get(ev, "type"));
	const char	*name = json_string_value(json_object_get(ev,
			    "sandbox"));

	if (type == NULL || name == NULL)
		return;
	if (strncmp(type, "agent.", 6) == 0)
		bot_route_agent(ev, type + 6);
	else if (strcmp(type, "proxy.block") == 0 ||
	    strcmp(type, "pfmon.block") == 0)
		bot_route_block(ev, type);
	else if (strcmp(type, "proxy.ask") == 0 ||
	    strcmp(type, "proxy.waiting") == 0 ||
	    strcmp(type, "proxy.decided") == 0)
		bot_route_ask(ev, type);
	else if (strcmp(type, "sandbox.created") == 0)
		json_object_set_new(rt_sandboxes, name, json_pack("{s:b}",
		    "restricted", json_is_true(json_object_get(ev,
		    "restricted"))));
	else if (strcmp(type, "sandbox.removed") == 0) {
		json_object_del(rt_sandboxes, name);
		if (json_object_get(rt_topics, name) != NULL) {
			json_object_del(rt_topics, name);
			if (store_bot_topic_delete(name) == -1)
				log_warnx("bot: the store kept the topic of "
				    "%s: %s", name, store_error());
		}
	}
}

static struct bot_turn *
bot_turn_find(int64_t id)
{
	struct bot_turn	*bt;

	TAILQ_FOREACH(bt, &rt_turns, bt_entry)
		if (bt->bt_id == id)
			return (bt);
	return (NULL);
}

static struct bot_turn *
bot_turn_new(int64_t id, const char *sandbox)
{
	struct bot_turn	*bt;
	char		 key[32];

	if ((bt = calloc(1, sizeof(*bt))) == NULL)
		return (NULL);
	bt->bt_id = id;
	if ((bt->bt_sandbox = strdup(sandbox)) == NULL ||
	    (bt->bt_topic = strdup(bot_route_topic_of(sandbox))) == NULL ||
	    (bt->bt_text = evbuffer_new()) == NULL ||
	    (bt->bt_timer = evtimer_new(sbxd_env->sx_base, bot_turn_timercb,
	    bt)) == NULL) {
		free(bt->bt_sandbox);
		free(bt->bt_topic);
		if (bt->bt_text != NULL)
			evbuffer_free(bt->bt_text);
		free(bt);
		return (NULL);
	}
	snprintf(key, sizeof(key), "%" PRId64, id);
	bt->bt_prompt = json_integer_value(json_object_get(rt_chat_turns, key));
	json_object_del(rt_chat_turns, key);
	TAILQ_INSERT_TAIL(&rt_turns, bt, bt_entry);
	return (bt);
}

static void
bot_turn_free(struct bot_turn *bt)
{
	TAILQ_REMOVE(&rt_turns, bt, bt_entry);
	event_free(bt->bt_timer);
	evbuffer_free(bt->bt_text);
	free(bt->bt_sandbox);
	free(bt->bt_topic);
	free(bt->bt_final);
	free(bt);
}

/* A finished turn goes once its last item has gone out. */
static void
bot_turn_release(struct bot_turn *bt)
{
	if (bt->bt_done && bt->bt_items == 0 &&
	    evbuffer_get_length(bt->bt_text) == 0 && !bt->bt_status_dirty)
		bot_turn_free(bt);
}

/* An event of a turn, agent.TYPE. */
static void
bot_route_agent(json_t *ev, const char *type)
{
	struct bot_turn	*bt;
	const char	*sandbox = json_string_value(json_object_get(ev,
			    "sandbox"));
	const char	*s, *st;
	int64_t		 id = json_integer_value(json_object_get(ev, "turn"));
	double		 secs;
	char		 line[BOT_TOOL_LINE], cost[64], *final;
	int		 i;

	if (id <= 0)
		return;
	bt = bot_turn_find(id);
	if (strcmp(type, "started") == 0) {
		if (bt != NULL || (bt = bot_turn_new(id, sandbox)) == NULL)
			return;
		if (bt->bt_prompt > 0) {
			bot_zulip_react(bt->bt_prompt, "eyes", 1);
			bt->bt_last = bot_now();	/* a call of the topic */
		}
		return;
	}
	if (bt == NULL || bt->bt_done) {
		if (strcmp(type, "done") == 0 && bt == NULL) {
			/* Cancelled before it started. */
			char	 key[32];

			snprintf(key, sizeof(key), "%" PRId64, id);
			json_object_del(rt_chat_turns, key);
		}
		return;
	}
	if (strcmp(type, "text") == 0) {
		s = json_string_value(json_object_get(ev, "text"));
		if (s == NULL || *s == '\0')
			return;
		if (evbuffer_get_length(bt->bt_text) == 0)
			bt->bt_text_since = bot_now();
		evbuffer_add(bt->bt_text, s, json_string_length(
		    json_object_get(ev, "text")));
		bot_turn_schedule(bt);
	} else if (strcmp(type, "tool") == 0) {
		st = json_string_value(json_object_get(ev, "status"));
		if (st != NULL && strcmp(st, "started") == 0)
			bt->bt_ntools++;
		if (st != NULL && strcmp(st, "failed") == 0)
			bt->bt_nfailed++;
		snprintf(line, sizeof(line), "`%s` %s%s",
		    json_string_value(json_object_get(ev, "name")) != NULL ?
		    json_string_value(json_object_get(ev, "name")) : "?",
		    json_string_value(json_object_get(ev, "summary")) != NULL ?
		    json_string_value(json_object_get(ev, "summary")) : "",
		    st == NULL ? "" : strcmp(st, "ok") == 0 ? " ✓" :
		    strcmp(st, "failed") == 0 ? " ✗" : " …");
		/* An end replaces its start's line. */
		for (i = 0; i < BOT_TOOLS_SHOWN && bt->bt_tools[i][0]; i++)
			;
		if (st != NULL && strcmp(st, "started") != 0 && i > 0)
			i--;
		else if (i == BOT_TOOLS_SHOWN) {
			memmove(bt->bt_tools[0], bt->bt_tools[1],
			    sizeof(bt->bt_tools[0]) * (BOT_TOOLS_SHOWN - 1));
			i = BOT_TOOLS_SHOWN - 1;
		}
		snprintf(bt->bt_tools[i], sizeof(bt->bt_tools[i]), "%s", line);
		bt->bt_status_dirty = 1;
		bot_turn_schedule(bt);
	} else if (strcmp(type, "done") == 0) {
		st = json_string_value(json_object_get(ev, "status"));
		secs = json_integer_value(json_object_get(ev,
		    "duration_ms")) / 1000.0;
		cost[0] = '\0';
		if (json_is_number(json_object_get(ev, "cost")))
			snprintf(cost, sizeof(cost), " · $%.4f",
			    json_number_value(json_object_get(ev, "cost")));
		s = json_string_value(json_object_get(ev, "reason"));
		if (asprintf(&final, "%s **%s** · %.1f s · %"
		    JSON_INTEGER_FORMAT " tokens in, %" JSON_INTEGER_FORMAT
		    " out%s%s%s", st != NULL && strcmp(st, "ok") == 0 ?
		    "✅" : "⚠️", st != NULL ? st : "?", secs,
		    json_integer_value(json_object_get(ev, "tokens_in")),
		    json_integer_value(json_object_get(ev, "tokens_out")),
		    cost, s != NULL ? " · " : "", s != NULL ? s : "") == -1)
			final = NULL;
		bt->bt_final = final;
		bt->bt_done = 1;
		bot_turn_schedule(bt);
	}
}

/*
 * When the turn may call next: now, or its slot's time.  Its end waits
 * for its slot too: the final message goes at most two seconds late.
 */
static void
bot_turn_schedule(struct bot_turn *bt)
{
	struct timeval	 tv;
	double		 now = bot_now(), at, para;
	size_t		 len = evbuffer_get_length(bt->bt_text);
	struct evbuffer_ptr p;

	at = bt->bt_last + BOT_FLUSH_SECS;
	if (len > 0 && !bt->bt_done) {
		/* A paragraph goes at the next slot; a tail waits its
		   two seconds. */
		p = evbuffer_search(bt->bt_text, "\n\n", 2, NULL);
		para = p.pos >= 0 ? 0 : bt->bt_text_since + BOT_FLUSH_SECS;
		if (para > at)
			at = para;
	}
	if (at <= now) {
		bot_turn_flush(bt, bt->bt_done);
		return;
	}
	if (evtimer_pending(bt->bt_timer, NULL))
		return;
	at -= now;
	tv.tv_sec = (time_t)at;
	tv.tv_usec = (suseconds_t)((at - (double)tv.tv_sec) * 1e6);
	evtimer_add(bt->bt_timer, &tv);
}

static void
bot_turn_timercb(evutil_socket_t fd __unused, short events __unused,
    void *arg)
{
	struct bot_turn	*bt = arg;

	bot_turn_schedule(bt);
}

/*
 * One call's worth: the text there is (whole paragraphs, or all of it
 * once its first byte is two seconds old, or at the end), else the
 * status.  At the end: all of it, the status, and the final line.
 */
static void
bot_turn_flush(struct bot_turn *bt, int end)
{
	struct bot_item	*bi;
	struct evbuffer_ptr p, last;
	size_t		 len = evbuffer_get_length(bt->bt_text), n = len;
	char		*text;
	double		 now = bot_now();

	evtimer_del(bt->bt_timer);
	if (len > 0 && !end && now - bt->bt_text_since < BOT_FLUSH_SECS) {
		/* Up to the last paragraph break. */
		last.pos = -1;
		p = evbuffer_search(bt->bt_text, "\n\n", 2, NULL);
		while (p.pos >= 0) {
			last = p;
			if (evbuffer_ptr_set(bt->bt_text, &p, 2,
			    EVBUFFER_PTR_ADD) == -1)
				break;
			p = evbuffer_search(bt->bt_text, "\n\n", 2, &p);
		}
		n = last.pos >= 0 ? (size_t)last.pos + 2 : 0;
	}
	if (n > 0 || (end && bt->bt_final != NULL)) {
		if ((text = malloc(n + 1 + (end && bt->bt_final != NULL ?
		    strlen(bt->bt_final) + 2 : 0))) != NULL) {
			evbuffer_remove(bt->bt_text, text, n);
			text[n] = '\0';
			while (n > 0 && (text[n - 1] == '\n' ||
			    text[n - 1] == ' '))
				text[--n] = '\0';
			if (end && bt->bt_final != NULL)
				sprintf(text + n, "%s%s", n > 0 ? "\n\n" : "",
				    bt->bt_final);
			if (*text != '\0') {
				bot_route_post(bt->bt_topic, text,
				    BOT_PRIO_FINAL);
				bt->bt_last = now;
			}
			free(text);
		}
		if (evbuffer_get_length(bt->bt_text) > 0)
			bt->bt_text_since = now;
	}
	if (bt->bt_status_dirty && !bt->bt_status_queued &&
	    (end || n == 0) && (bi = calloc(1, sizeof(*bi))) != NULL) {
		bi->bi_kind = BOT_ITEM_STATUS;
		bi->bi_prio = end ? BOT_PRIO_FINAL : BOT_PRIO_PROGRESS;
		bi->bi_turn = bt->bt_id;
		bt->bt_items++;
		bt->bt_status_queued = 1;
		bt->bt_last = now;
		bot_outbox_add(bt->bt_topic, bi);
	}
	if (end) {
		evbuffer_drain(bt->bt_text, evbuffer_get_length(bt->bt_text));
		bt->bt_status_dirty = 0;
		bot_turn_release(bt);
		return;
	}
	if (evbuffer_get_length(bt->bt_text) > 0 || (bt->bt_status_dirty &&
	    !bt->bt_status_queued))
		bot_turn_schedule(bt);
}

/* The status message of a turn, from what it shows now. */
static char *
bot_turn_status_text(struct bot_turn *bt)
{
	struct evbuffer	*b;
	char		*s = NULL;
	int		 i;

	if ((b = evbuffer_new()) == NULL)
		return (NULL);
	evbuffer_add_printf(b, "🔧 turn %" PRId64 ": %d tool%s used%s",
	    bt->bt_id, bt->bt_ntools, bt->bt_ntools == 1 ? "" : "s",
	    bt->bt_done ? ", done" : "");
	if (bt->bt_nfailed > 0)
		evbuffer_add_printf(b, ", %d failed", bt->bt_nfailed);
	evbuffer_add_printf(b, "\n");
	for (i = 0; i < BOT_TOOLS_SHOWN && bt->bt_tools[i][0]; i++)
		evbuffer_add_printf(b, "- %s\n", bt->bt_tools[i]);
	if (evbuffer_add(b, "", 1) == 0)
		s = strdup((char *)evbuffer_pullup(b, -1));
	evbuffer_free(b);
	return (s);
}

/*
 * A block of a sandbox: one alert per destination per BOT_ALERT_SECS;
 * later hits raise its count, shown by editing it.
 */
static void
bot_route_block(json_t *ev, const char *type)
{
	struct bot_item	*bi;
	const char	*sandbox = json_string_value(json_object_get(ev,
			    "sandbox"));
	const char	*key, *host, *reason, *advice;
	json_t		*a, *port;
	json_int_t	 hits;
	char		 k[512], what[400], fix[300];
	double		 now = bot_now();
	void		*tmp;

	if (json_object_get(rt_sandboxes, sandbox) == NULL)
		return;
	/* A request that was asked about: its question shows its end. */
	reason = json_string_value(json_object_get(ev, "reason"));
	if (reason != NULL && (strcmp(reason, "denied") == 0 ||
	    strcmp(reason, "ask-timeout") == 0))
		return;
	/* Forget alerts past their window. */
	json_object_foreach_safe(rt_alerts, tmp, key, a)
		if (now - json_real_value(json_object_get(a, "first")) >
		    BOT_ALERT_SECS && !json_is_true(json_object_get(a,
		    "queued")))
			json_object_del(rt_alerts, key);
	fix[0] = '\0';
	if (strcmp(type, "proxy.block") == 0) {
		host = json_string_value(json_object_get(ev, "host"));
		snprintf(k, sizeof(k), "%s|proxy|%s|%" JSON_INTEGER_FORMAT,
		    sandbox, host != NULL ? host : "?", json_integer_value(
		    json_object_get(ev, "port")));
		snprintf(what, sizeof(what), "proxy: `%s %s:%"
		    JSON_INTEGER_FORMAT "` (%s%s%s)", json_string_value(
		    json_object_get(ev, "method")) != NULL ?
		    json_string_value(json_object_get(ev, "method")) : "?",
		    host != NULL ? host : "?", json_integer_value(
		    json_object_get(ev, "port")),
		    json_string_value(json_object_get(ev, "reason")) != NULL ?
		    json_string_value(json_object_get(ev, "reason")) : "blocked",
		    json_string_value(json_object_get(ev, "detail")) != NULL ?
		    ": " : "", json_string_value(json_object_get(ev,
		    "detail")) != NULL ? json_string_value(json_object_get(ev,
		    "detail")) : "");
		/* A policy's refusal is mended by a rule; other refusals
		   (a private address, a bad request) say their own fix. */
		reason = json_string_value(json_object_get(ev, "reason"));
		advice = json_string_value(json_object_get(ev, "advice"));
		if (host != NULL && (advice == NULL || (reason != NULL &&
		    strstr(reason, "polic") != NULL)))
			snprintf(fix, sizeof(fix), "To allow it: `/allow %s`",
			    host);
		else if (advice != NULL)
			snprintf(fix, sizeof(fix), "%s", advice);
	} else {
		port = json_object_get(ev, "dport");
		snprintf(k, sizeof(k), "%s|fw|%s|%" JSON_INTEGER_FORMAT "|%s",
		    sandbox, json_string_value(json_object_get(ev, "dst")),
		    json_integer_value(port), json_string_value(
		    json_object_get(ev, "proto")) != NULL ? json_string_value(
		    json_object_get(ev, "proto")) : "?");
		snprintf(what, sizeof(what), "firewall: %s %s%s%.0" 
		    JSON_INTEGER_FORMAT " (a direct connection, not through "
		    "the proxy)", json_string_value(json_object_get(ev,
		    "proto")) != NULL ? json_string_value(json_object_get(ev,
		    "proto")) : "packet", json_string_value(json_object_get(ev,
		    "dst")) != NULL ? json_string_value(json_object_get(ev,
		    "dst")) : "?", json_is_integer(port) ? " port " : "",
		    json_integer_value(port));
	}
	/* pfmon sums a window's packets into one event. */
	hits = json_integer_value(json_object_get(ev, "count"));
	if (strcmp(type, "pfmon.block") != 0 || hits < 1)
		hits = 1;
	if ((a = json_object_get(rt_alerts, k)) != NULL) {
		json_object_set_new(a, "count", json_integer(
		    json_integer_value(json_object_get(a, "count")) + hits));
		if (json_is_true(json_object_get(a, "queued")) ||
		    json_integer_value(json_object_get(a, "msg")) == 0)
			return;		/* its next write shows it */
	} else {
		rt_nalerts++;
		a = json_pack("{s:s, s:s, s:s, s:s, s:I, s:f, s:I, s:b}",
		    "sandbox", sandbox, "what", what, "fix", fix, "topic",
		    bot_route_topic_of(sandbox), "count", hits,
		    "first", now, "msg", (json_int_t)0, "queued", 0);
		if (a == NULL || json_object_set_new(rt_alerts, k, a) == -1)
			return;
	}
	if ((bi = calloc(1, sizeof(*bi))) == NULL ||
	    (bi->bi_alert = strdup(k)) == NULL) {
		free(bi);
		return;
	}
	bi->bi_kind = BOT_ITEM_ALERT;
	bi->bi_prio = BOT_PRIO_PROGRESS;
	json_object_set_new(a, "queued", json_true());
	bot_outbox_add(json_string_value(json_object_get(a, "topic")), bi);
}

static char *
bot_alert_text(const char *key)
{
	json_t		*a = json_object_get(rt_alerts, key);
	const char	*fix;
	char		*s, times[64] = "";
	json_int_t	 n = json_integer_value(json_object_get(a, "count"));

	if (a == NULL)
		return (NULL);
	if (n > 1)
		snprintf(times, sizeof(times), "\n(%" JSON_INTEGER_FORMAT
		    " times in the last %d minutes)", n, BOT_ALERT_SECS / 60);
	fix = json_string_value(json_object_get(a, "fix"));
	if (asprintf(&s, "🚫 **%s** blocked, %s%s%s%s",
	    json_string_value(json_object_get(a, "sandbox")),
	    json_string_value(json_object_get(a, "what")),
	    fix != NULL && *fix != '\0' ? "\n" : "", fix != NULL ? fix : "",
	    times) == -1)
		return (NULL);
	return (s);
}

/*
 * Questions about held requests (proxy.ask, proxy.waiting,
 * proxy.decided): one message per question in the sandbox's topic,
 * with the answers as reactions and commands, edited as requests join
 * and once it ends.
 */
static void
bot_route_ask(json_t *ev, const char *type)
{
	const char	*sandbox = json_string_value(json_object_get(ev,
			    "sandbox"));
	const char	*key;
	json_t		*a, *v;
	char		 k[32];
	double		 now = bot_now();
	void		*tmp;

	if (json_object_get(rt_sandboxes, sandbox) == NULL)
		return;
	snprintf(k, sizeof(k), "%" JSON_INTEGER_FORMAT, json_integer_value(
	    json_object_get(ev, "id")));
	a = json_object_get(rt_asks, k);
	if (strcmp(type, "proxy.ask") == 0) {
		if (a != NULL)
			return;
		json_object_foreach_safe(rt_asks, tmp, key, v)
			if (json_is_real(json_object_get(v, "ended")) &&
			    now - json_real_value(json_object_get(v,
			    "ended")) > BOT_ASK_KEEP && !json_is_true(
			    json_object_get(v, "queued")))
				json_object_del(rt_asks, key);
		a = json_pack("{s:s, s:s, s:s, s:s, s:O, s:O, s:O, s:O, s:I, "
		    "s:s, s:b}", "sandbox", sandbox, "topic",
		    bot_route_topic_of(sandbox), "method", json_string_value(
		    json_object_get(ev, "method")) != NULL ? json_string_value(
		    json_object_get(ev, "method")) : "?", "destination",
		    json_string_value(json_object_get(ev, "destination")) !=
		    NULL ? json_string_value(json_object_get(ev,
		    "destination")) : "?", "host", json_object_get(ev, "host"),
		    "waiting", json_object_get(ev, "waiting"), "seconds",
		    json_object_get(ev, "seconds"), "once", json_object_get(ev,
		    "once"), "msg", (json_int_t)0, "state", "open", "queued",
		    0);
		if (a == NULL || json_object_set_new(rt_asks, k, a) == -1)
			return;
		/* A method is any token: only letters are shown as they are,
		   as the destination has the host grammar already. */
		bot_ask_token(a, "method");
		json_object_set_new(a, "deadline", json_real(now +
		    (double)json_integer_value(json_object_get(a, "seconds"))));
		bot_ask_queue(k, a, BOT_PRIO_ASK);
		return;
	}
	if (a == NULL || strcmp(json_string_value(json_object_get(a,
	    "state")), "open") != 0)
		return;
	json_object_set(a, "waiting", json_object_get(ev, "waiting"));
	if (strcmp(type, "proxy.waiting") == 0) {
		bot_ask_queue(k, a, BOT_PRIO_PROGRESS);
		return;
	}
	json_object_set_new(a, "state", json_string("decided"));
	json_object_set_new(a, "ended", json_real(now));
	json_object_set(a, "decision", json_object_get(ev, "decision"));
	json_object_set(a, "by", json_object_get(ev, "by"));
	json_object_set(a, "rule", json_object_get(ev, "rule"));
	json_object_set(a, "expires", json_object_get(ev, "expires"));
	json_object_set(a, "joined", json_object_get(ev, "joined"));
	bot_ask_queue(k, a, BOT_PRIO_ASK);
}

/* Field key of a as letters, digits and '-' only; others become '?'. */
static void
bot_ask_token(json_t *a, const char *key)
{
	char	 buf[32];
	size_t	 i;

	snprintf(buf, sizeof(buf), "%s", json_string_value(json_object_get(a,
	    key)) != NULL ? json_string_value(json_object_get(a, key)) : "?");
	for (i = 0; buf[i] != '\0'; i++)
		if (!isalnum((unsigned char)buf[i]) && buf[i] != '-')
			buf[i] = '?';
	json_object_set_new(a, key, json_string(buf));
}

/* Write question key (a) when its topic's turn comes, once. */
static void
bot_ask_queue(const char *key, json_t *a, enum bot_prio prio)
{
	struct bot_item	*bi;

	if (json_is_true(json_object_get(a, "queued")))
		return;		/* its next write shows it all */
	if (prio == BOT_PRIO_PROGRESS &&
	    json_integer_value(json_object_get(a, "msg")) == 0)
		return;		/* not sent yet: the send shows it */
	if ((bi = calloc(1, sizeof(*bi))) == NULL ||
	    (bi->bi_alert = strdup(key)) == NULL) {
		free(bi);
		return;
	}
	bi->bi_kind = BOT_ITEM_ASK;
	bi->bi_prio = prio;
	json_object_set_new(a, "queued", json_true());
	bot_outbox_add(json_string_value(json_object_get(a, "topic")), bi);
}

/* "zulip:Name (email, id N)" as "Name"; anything else as it is. */
static void
bot_ask_who(const char *by, char *buf, size_t len)
{
	const char	*p;

	if (by == NULL) {
		snprintf(buf, len, "nobody");
		return;
	}
	if (strncmp(by, "zulip:", 6) == 0 && (p = strstr(by, " (")) != NULL)
		snprintf(buf, len, "%.*s", (int)(p - by - 6), by + 6);
	else
		snprintf(buf, len, "%s", by);
}

/* A duration in words: "90 s", "10 min", "2 h". */
static void
bot_ask_secs(json_int_t s, char *buf, size_t len)
{
	if (s >= 3600 && s % 3600 == 0)
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT " h", s / 3600);
	else if (s >= 60 && s % 60 == 0)
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT " min", s / 60);
	else
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT " s", s);
}

static char *
bot_ask_text(const char *key)
{
	json_t		*a = json_object_get(rt_asks, key);
	const char	*d, *name, *dest, *method, *rule;
	char		*s, who[BOT_WHO_MAX], once[32], secs[32], n[96];
	json_int_t	 waiting, joined;
	int		 r;

	if (a == NULL)
		return (NULL);
	name = json_string_value(json_object_get(a, "sandbox"));
	dest = json_string_value(json_object_get(a, "destination"));
	method = json_string_value(json_object_get(a, "method"));
	waiting = json_integer_value(json_object_get(a, "waiting"));
	joined = json_integer_value(json_object_get(a, "joined"));
	bot_ask_secs(json_integer_value(json_object_get(a, "once")), once,
	    sizeof(once));
	bot_ask_secs(json_integer_value(json_object_get(a, "seconds")), secs,
	    sizeof(secs));
	if (strcmp(json_string_value(json_object_get(a, "state")),
	    "open") == 0) {
		snprintf(n, sizeof(n), "%" JSON_INTEGER_FORMAT " request%s "
		    "waiting", waiting, waiting == 1 ? "" : "s");
		r = asprintf(&s, "❓ **%s** asks to reach `%s %s` (%s; "
		    "refused if nobody answers within %s). Question #%s:\n"
		    "- :check: or `/approve %s once`: allow it for %s\n"
		    "- :infinity: or `/approve %s always`: allow it from now "
		    "on\n"
		    "- :cross_mark: or `/approve %s deny`: refuse it from now "
		    "on\n"
		    "Only admins decide.", name, method, dest, n, secs, key,
		    key, once, key, key);
		return (r == -1 ? NULL : s);
	}
	d = json_string_value(json_object_get(a, "decision"));
	rule = json_string_value(json_object_get(a, "rule"));
	bot_ask_who(json_string_value(json_object_get(a, "by")), who,
	    sizeof(who));
	snprintf(n, sizeof(n), "%" JSON_INTEGER_FORMAT " request%s",
	    joined, joined == 1 ? "" : "s");
	if (d == NULL)
		d = "?";
	if (strcmp(d, "once") == 0)
		r = asprintf(&s, "✅ **%s** may reach `%s` for %s: allowed "
		    "once by %s (question #%s; %s went on).", name, dest, once,
		    who, key, n);
	else if (strcmp(d, "always") == 0)
		r = asprintf(&s, "♾️ **%s** may reach `%s` from now on: "
		    "allowed always by %s (question #%s; %s went on).", name,
		    dest, who, key, n);
	else if (strcmp(d, "deny") == 0)
		r = asprintf(&s, "❌ **%s** may not reach `%s`: denied by %s "
		    "(question #%s; %s refused).", name, dest, who, key, n);
	else if (strcmp(d, "expired") == 0)
		r = asprintf(&s, "⌛ Nobody answered within %s: `%s %s` of "
		    "**%s** was refused (question #%s; %s). To allow it: "
		    "`/allow %s`", secs, method, dest, name, key, n,
		    json_string_value(json_object_get(a, "host")) != NULL ?
		    json_string_value(json_object_get(a, "host")) : dest);
	else if (strcmp(d, "rule") == 0)
		r = asprintf(&s, "☑️ `%s %s` of **%s** was decided by the rule "
		    "`%s`, set by %s (question #%s; %s).", method, dest, name,
		    rule != NULL ? rule : "?", who, key, n);
	else
		r = asprintf(&s, "Question #%s (`%s %s` of **%s**) was "
		    "cancelled: %s.", key, method, dest, name, who);
	return (r == -1 ? NULL : s);
}

static void bot_approve_cb(struct bot_call *, json_t *);

/* /approve ID once|always|deny */
static void
bot_cmd_approve(struct bot_call *bc, char **av, int ac __unused)
{
	char		*end;
	long long	 id;

	id = strtoll(av[0], &end, 10);
	if (av[0][0] == '#')
		id = strtoll(av[0] + 1, &end, 10);
	if (*end != '\0' || id < 1 || (strcmp(av[1], "once") != 0 &&
	    strcmp(av[1], "always") != 0 && strcmp(av[1], "deny") != 0)) {
		bot_reply(bc, "Usage: `/approve ID once|always|deny`, the ID "
		    "of a question of this bot.");
		bot_call_free(bc);
		return;
	}
	bot_call_run(bc, json_pack("{s:s, s:I, s:s}", "command", "approve",
	    "id", (json_int_t)id, "decision", av[1]), bot_approve_cb);
}

/* The decision is taken; its question's message shows it. */
static void
bot_approve_cb(struct bot_call *bc, json_t *reply)
{
	const char	*err;

	if ((err = bot_failed(reply)) != NULL) {
		bot_reply(bc, "Not done: %s.", err);
		return;
	}
	if (bc->bc_msg != 0)
		bot_reply(bc, "Done: question #%" JSON_INTEGER_FORMAT ", %s "
		    "`%s`.", json_integer_value(json_object_get(reply, "id")),
		    strcmp(json_string_value(json_object_get(reply,
		    "decision")), "deny") == 0 ? "deny" : "allow",
		    json_string_value(json_object_get(reply, "rule")));
}

/*
 * A reaction added to message msg by a person (role, who): on an open
 * question's message, one of the answers decides it, if an admin gave
 * it.  Any other reaction, or one on any other message, changes
 * nothing.
 */
void
bot_route_reaction(int64_t msg, const char *emoji, int64_t user, int role,
    const char *who)
{
	struct bot_call	*bc;
	const char	*key, *decision = NULL;
	json_t		*a, *found;
	char		 refused[96];
	size_t		 i;

	if (msg <= 0 || emoji == NULL)
		return;
	found = NULL;
	json_object_foreach(rt_asks, key, a)
		if (json_integer_value(json_object_get(a, "msg")) == msg) {
			found = a;
			break;
		}
	if ((a = found) == NULL)
		return;
	for (i = 0; i < nitems(bot_ask_answers); i++)
		if (strcmp(emoji, bot_ask_answers[i].emoji) == 0)
			decision = bot_ask_answers[i].decision;
	if (decision == NULL || strcmp(json_string_value(json_object_get(a,
	    "state")), "open") != 0)
		return;
	if (role != BOT_ROLE_ADMIN) {
		rt_nrefused++;
		log_info("bot: %s may not decide question %s (:%s:)", who, key,
		    emoji);
		/* Said once per person and question. */
		snprintf(refused, sizeof(refused), "refused-%" PRId64, user);
		if (json_is_true(json_object_get(a, refused)))
			return;
		json_object_set_new(a, refused, json_true());
		bot_route_post(json_string_value(json_object_get(a, "topic")),
		    "Only admins decide questions: that reaction changes "
		    "nothing.", BOT_PRIO_REPLY);
		return;
	}
	log_info("bot: %s: :%s: on question %s", who, emoji, key);
	if ((bc = bot_call_new(json_string_value(json_object_get(a, "topic")),
	    json_string_value(json_object_get(a, "sandbox")), 0, who)) == NULL)
		return;
	bot_call_run(bc, json_pack("{s:s, s:I, s:s}", "command", "approve",
	    "id", (json_int_t)strtoll(key, NULL, 10), "decision", decision),
	    bot_approve_cb);
}
