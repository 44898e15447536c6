/*
 * bot_zulip.c: Zulip's REST API as a client must use it (research notes
 * chat-relay.md §1).  The life of the connection:
 *
 *	start: GET /users/me, GET /users (who is who, by id), the stream's id
 *	register: POST /register, narrowed to the stream, raw Markdown
 *	catch up: GET /messages after the last message handled, which is
 *	    kept in the store, up to the register's max_message_id
 *	poll: GET /events, long, with the server's own timeout; again
 *
 * BAD_EVENT_QUEUE_ID means the server dropped the queue: register and
 * catch up again, so that no message is lost and none is handled twice
 * (ids only grow).  A long poll that times out is not a failure; other
 * failures back off with jitter, and the next poll does not block.  A
 * refused key (401) is said once in the log and tried again slowly.
 */

#include <sys/types.h>

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <jansson.h>

#include "config.h"
#include "log.h"
#include "sbxd.h"
#include "bot.h"

#define BOT_LONGPOLL_DEFAULT	90	/* seconds, when the server does not
					   say (its own default) */
#define BOT_BACKOFF_MAX		60	/* seconds between failed tries */
#define BOT_AUTH_RETRY		60	/* a refused key: try again slowly */
#define BOT_CATCHUP_PAGE	100	/* messages per GET /messages */
#define BOT_CATCHUP_MAX		1000	/* missed messages handled at most;
					   older ones are skipped, logged */
#define BOT_MAXLEN_DEFAULT	10000	/* code points (Zulip's default) */
#define BOT_MAXTOPIC_DEFAULT	60
#define BOT_EDIT_LIMIT_DEFAULT	600	/* seconds a message stays editable */
#define BOT_DELETE_SECS		2	/* to delete the queue at the end */
#define BOT_USERS_REFRESH	60	/* seconds between user list reads
					   caused by strangers */

enum bot_zulip_state {
	BZ_OFF,
	BZ_STARTING,
	BZ_REGISTERING,
	BZ_CATCHUP,
	BZ_POLLING,
	BZ_BACKOFF,
	BZ_AUTHFAIL,
	BZ_BROKEN,
};

static const char *bot_zulip_state_names[] = {
	"off", "starting", "registering", "catching-up", "polling",
	"backoff", "auth-failed", "broken"
};

static struct {
	enum bot_zulip_state	 state;
	uintptr_t		 gen;	/* answers of an older cycle are
					   dropped */
	int64_t			 my_id;
	int64_t			 stream_id;
	char			*queue_id;
	int64_t			 last_event_id;
	int64_t			 watermark;	/* last message handled */
	char			 wkey[SBXD_PATH_MAX];	/* its key in the store */
	int64_t			 catchup_to;
	int			 catchup_n;
	double			 registered_at;
	double			 last_event_at;
	double			 users_at;
	long			 longpoll;
	size_t			 max_len;
	size_t			 max_topic;
	int			 edit_limit;
	int			 feature_level;
	int			 failures;
	int			 dont_block;
	char			 why[256];	/* the last failure */
	struct bot_req		*poll;
	struct event		*ev_retry;
	void			(*retry_fn)(void);
	json_t			*users;		/* "id" -> user */
	json_t			*admins;	/* "id" -> true */
	json_t			*members;	/* "id" -> true */
	uint64_t		 nin;
	uint64_t		 nheartbeats;
	uint64_t		 nregisters;
	uint64_t		 nexpired;
	uint64_t		 nfailures;
	uint64_t		 nstale;
	uint64_t		 nskipped;
} bz;
uint64_t	 bot_nsent;

static void	bot_zulip_me(void);
static void	bot_zulip_me_cb(struct bot_req *, enum bot_result, json_t *,
		    void *);
static void	bot_zulip_users(void);
static void	bot_zulip_users_cb(struct bot_req *, enum bot_result, json_t *,
		    void *);
static void	bot_zulip_stream(void);
static void	bot_zulip_stream_cb(struct bot_req *, enum bot_result,
		    json_t *, void *);
static void	bot_zulip_register(void);
static void	bot_zulip_register_cb(struct bot_req *, enum bot_result,
		    json_t *, void *);
static void	bot_zulip_catchup(void);
static void	bot_zulip_catchup_cb(struct bot_req *, enum bot_result,
		    json_t *, void *);
static void	bot_zulip_poll(void);
static void	bot_zulip_poll_cb(struct bot_req *, enum bot_result, json_t *,
		    void *);
static void	bot_zulip_failed(struct bot_req *, enum bot_result,
		    void (*)(void));
static void	bot_zulip_later(double, void (*)(void));
static void	bot_zulip_retrycb(evutil_socket_t, short, void *);
static void	bot_zulip_message(json_t *, int);
static void	bot_zulip_moved(json_t *);
static void	bot_zulip_reaction(json_t *);
static void	bot_zulip_resolve(void);
static void	bot_zulip_watermark(int64_t, int);
static int	bot_zulip_stale(struct bot_req *, void *);
static int	bot_zulip_answer(struct bot_req *, enum bot_result, void *,
		    void (*)(void));
static void	bot_zulip_sent_cb(struct bot_req *, enum bot_result, json_t *,
		    void *);

int
bot_zulip_start(void)
{
	char	 buf[32];

	memset(&bz, 0, sizeof(bz));
	bz.gen = (uintptr_t)arc4random() | 1;
	bz.longpoll = BOT_LONGPOLL_DEFAULT;
	bz.max_len = BOT_MAXLEN_DEFAULT;
	bz.max_topic = BOT_MAXTOPIC_DEFAULT;
	bz.edit_limit = BOT_EDIT_LIMIT_DEFAULT;
	if ((bz.ev_retry = evtimer_new(sbxd_env->sx_base, bot_zulip_retrycb,
	    NULL)) == NULL || (bz.users = json_object()) == NULL ||
	    (bz.admins = json_object()) == NULL ||
	    (bz.members = json_object()) == NULL) {
		bot_zulip_stop();
		return (-1);
	}
	/* Message ids are the server's: one watermark per site. */
	snprintf(bz.wkey, sizeof(bz.wkey), "bot.watermark %s",
	    bot_conf()->bc_site);
	if (store_setting_get(bz.wkey, buf, sizeof(buf)) == 1)
		bz.watermark = strtoll(buf, NULL, 10);
	bot_zulip_me();
	return (0);
}

/* Stop: the queue is deleted on the server, best effort. */
void
bot_zulip_stop(void)
{
	struct bot_req	*br;

	if (bz.poll != NULL) {
		bot_cancel(bz.poll);
		bz.poll = NULL;
	}
	if (bz.queue_id != NULL && (bz.state == BZ_POLLING ||
	    bz.state == BZ_CATCHUP) && (br = bot_req_new(BOT_DELETE,
	    "/events", BOT_PRIO_REPLY, NULL, NULL)) != NULL) {
		/* The loop is going away: this one call waits, briefly. */
		if (bot_req_add(br, "queue_id", bz.queue_id) == 0 &&
		    bot_req_prepare(br, br) == 0) {
			curl_easy_setopt(bot_req_easy(br), CURLOPT_TIMEOUT,
			    (long)BOT_DELETE_SECS);
			if (curl_easy_perform(bot_req_easy(br)) == CURLE_OK)
				log_debug("bot: queue %s deleted",
				    bz.queue_id);
		}
		bot_req_free(br);
	}
	if (bz.ev_retry != NULL)
		event_free(bz.ev_retry);
	free(bz.queue_id);
	json_decref(bz.users);
	json_decref(bz.admins);
	json_decref(bz.members);
	memset(&bz, 0, sizeof(bz));
}

/* The bot block changed who may do what: read the users again. */
void
bot_zulip_reconfigure(void)
{
	if (bz.state == BZ_OFF)
		return;
	bot_zulip_users();
}

json_t *
bot_zulip_status(void)
{
	double	 now = bot_now();
	json_t	*st;

	st = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
	    "state", bot_zulip_state_names[bz.state],
	    "site", bot_conf()->bc_site, "stream", bot_conf()->bc_stream,
	    "messages_in", (json_int_t)bz.nin,
	    "messages_out", (json_int_t)bot_nsent,
	    "stale", (json_int_t)bz.nstale,
	    "heartbeats", (json_int_t)bz.nheartbeats,
	    "registers", (json_int_t)bz.nregisters,
	    "queue_expired", (json_int_t)bz.nexpired,
	    "last_message", (json_int_t)bz.watermark);
	if (st == NULL)
		return (NULL);
	if (bz.queue_id != NULL)
		json_object_set_new(st, "queue_age", json_integer((json_int_t)
		    (now - bz.registered_at)));
	if (bz.last_event_at > 0)
		json_object_set_new(st, "last_event", json_integer((json_int_t)
		    (now - bz.last_event_at)));
	if (bz.why[0] != '\0')
		json_object_set_new(st, "last_error", json_string(bz.why));
	if (bz.feature_level > 0)
		json_object_set_new(st, "feature_level",
		    json_integer(bz.feature_level));
	return (st);
}

int64_t
bot_zulip_stream_id(void)
{
	return (bz.stream_id);
}

size_t
bot_zulip_max_length(void)
{
	return (bz.max_len);
}

size_t
bot_zulip_max_topic(void)
{
	return (bz.max_topic);
}

int
bot_zulip_edit_limit(void)
{
	return (bz.edit_limit);
}

/* Whether an answer belongs to a cycle since given up. */
static int
bot_zulip_stale(struct bot_req *br __unused, void *arg)
{
	return ((uintptr_t)arg != bz.gen || bz.state == BZ_OFF);
}

/*
 * Whether an answer of the cycle is there to be used: not stale, and
 * good; a failed one goes on from again, after its pause.
 */
static int
bot_zulip_answer(struct bot_req *br, enum bot_result res, void *arg,
    void (*again)(void))
{
	if (bot_zulip_stale(br, arg))
		return (0);
	if (res != BOT_OK) {
		bot_zulip_failed(br, res, again);
		return (0);
	}
	return (1);
}

static struct bot_req *
bot_zulip_req(enum bot_method m, const char *path, bot_req_cb cb)
{
	struct bot_req	*br;

	if ((br = bot_req_new(m, path, BOT_PRIO_REPLY, cb,
	    (void *)bz.gen)) == NULL)
		log_warnx("bot: out of memory");
	return (br);
}

/* GET /users/me: the bot's own id, never obeyed. */
static void
bot_zulip_me(void)
{
	struct bot_req	*br;

	bz.state = BZ_STARTING;
	if ((br = bot_zulip_req(BOT_GET, "/users/me", bot_zulip_me_cb)) ==
	    NULL) {
		bot_zulip_later(BOT_BACKOFF_MAX, bot_zulip_me);
		return;
	}
	bot_queue(br);
}

static void
bot_zulip_me_cb(struct bot_req *br, enum bot_result res, json_t *body,
    void *arg)
{
	if (!bot_zulip_answer(br, res, arg, bot_zulip_me))
		return;
	bz.my_id = json_integer_value(json_object_get(body, "user_id"));
	if (bz.my_id <= 0) {
		snprintf(bz.why, sizeof(bz.why), "GET /users/me: no user_id");
		bot_zulip_failed(br, BOT_EHTTP, bot_zulip_me);
		return;
	}
	bot_zulip_users();
}

/* GET /users: ids, emails, bots; admins and users resolved to ids. */
static void
bot_zulip_users(void)
{
	struct bot_req	*br;

	bz.users_at = bot_now();
	if ((br = bot_zulip_req(BOT_GET, "/users", bot_zulip_users_cb)) ==
	    NULL)
		return;
	bot_queue(br);
}

static void
bot_zulip_users_cb(struct bot_req *br, enum bot_result res, json_t *body,
    void *arg)
{
	json_t		*u;
	size_t		 i;
	char		 id[32];
	int		 first = bz.state == BZ_STARTING;

	if (bot_zulip_stale(br, arg))
		return;
	if (res != BOT_OK) {
		if (first)
			bot_zulip_failed(br, res, bot_zulip_me);
		else
			log_warnx("bot: GET /users: %s; the old list stays",
			    bot_req_error(br));
		return;
	}
	json_object_clear(bz.users);
	json_array_foreach(json_object_get(body, "members"), i, u) {
		if (!json_is_integer(json_object_get(u, "user_id")))
			continue;
		snprintf(id, sizeof(id), "%" PRId64,
		    (int64_t)json_integer_value(json_object_get(u, "user_id")));
		json_object_set(bz.users, id, u);
	}
	bot_zulip_resolve();
	if (first)
		bot_zulip_stream();
}

/* The config's admins and users, as ids; unknown emails are logged. */
static void
bot_zulip_resolve(void)
{
	const struct bot_conf	*bc = bot_conf();
	char *const		*lists[2] = { bc->bc_admins, bc->bc_users };
	json_t			*sets[2] = { bz.admins, bz.members };
	const char		*key, *e;
	json_t			*u;
	char *const		*w;
	int			 i, found;

	json_object_clear(bz.admins);
	json_object_clear(bz.members);
	for (i = 0; i < 2; i++)
		for (w = lists[i]; w != NULL && *w != NULL; w++) {
			if (strspn(*w, "0123456789") == strlen(*w)) {
				json_object_set_new(sets[i], *w, json_true());
				continue;
			}
			found = 0;
			json_object_foreach(bz.users, key, u) {
				e = json_string_value(json_object_get(u,
				    "email"));
				if (e == NULL || strcasecmp(e, *w) != 0)
					e = json_string_value(json_object_get(
					    u, "delivery_email"));
				if (e != NULL && strcasecmp(e, *w) == 0) {
					json_object_set_new(sets[i], key,
					    json_true());
					found = 1;
				}
			}
			if (!found)
				log_warnx("bot: %s %s: no such user on the "
				    "server", i == 0 ? "admin" : "user", *w);
		}
	log_info("bot: %zu admins, %zu users", json_object_size(bz.admins),
	    json_object_size(bz.members));
}

/* GET /get_stream_id: the stream must exist; its id marks messages. */
static void
bot_zulip_stream(void)
{
	struct bot_req	*br;

	if ((br = bot_zulip_req(BOT_GET, "/get_stream_id",
	    bot_zulip_stream_cb)) == NULL ||
	    bot_req_add(br, "stream", bot_conf()->bc_stream) == -1) {
		bot_req_free(br);
		bot_zulip_later(BOT_BACKOFF_MAX, bot_zulip_me);
		return;
	}
	bot_queue(br);
}

static void
bot_zulip_stream_cb(struct bot_req *br, enum bot_result res, json_t *body,
    void *arg)
{
	if (!bot_zulip_answer(br, res, arg, bot_zulip_me))
		return;
	bz.stream_id = json_integer_value(json_object_get(body, "stream_id"));
	bot_zulip_register();
}

/* POST /register: a queue of the stream's messages and reactions. */
static void
bot_zulip_register(void)
{
	struct bot_req	*br;
	json_t		*narrow;

	bz.state = BZ_REGISTERING;
	free(bz.queue_id);
	bz.queue_id = NULL;
	narrow = json_pack("[[s, s]]", "stream", bot_conf()->bc_stream);
	if ((br = bot_zulip_req(BOT_POST, "/register",
	    bot_zulip_register_cb)) == NULL ||
	    bot_req_addjson(br, "event_types", json_pack("[s, s, s]",
	    "message", "reaction", "update_message")) == -1 ||
	    bot_req_addjson(br, "fetch_event_types", json_pack("[s, s]",
	    "message", "realm")) == -1 ||
	    bot_req_addjson(br, "narrow", narrow) == -1 ||
	    bot_req_add(br, "apply_markdown", "false") == -1 ||
	    bot_req_add(br, "client_gravatar", "true") == -1) {
		bot_req_free(br);
		bot_zulip_later(BOT_BACKOFF_MAX, bot_zulip_register);
		return;
	}
	bot_queue(br);
}

static void
bot_zulip_register_cb(struct bot_req *br, enum bot_result res, json_t *body,
    void *arg)
{
	const char	*q;
	json_t		*v;

	if (bot_zulip_stale(br, arg))
		return;
	if (res != BOT_OK || (q = json_string_value(json_object_get(body,
	    "queue_id"))) == NULL) {
		bot_zulip_failed(br, res != BOT_OK ? res : BOT_EHTTP,
		    bot_zulip_register);
		return;
	}
	if ((bz.queue_id = strdup(q)) == NULL) {
		bot_zulip_later(BOT_BACKOFF_MAX, bot_zulip_register);
		return;
	}
	bz.nregisters++;
	bz.registered_at = bot_now();
	bz.last_event_id = json_integer_value(json_object_get(body,
	    "last_event_id"));
	if ((v = json_object_get(body, "event_queue_longpoll_timeout_seconds"))
	    != NULL && json_integer_value(v) >= 10 &&
	    json_integer_value(v) <= 3600)
		bz.longpoll = (long)json_integer_value(v);
	if ((v = json_object_get(body, "max_message_length")) != NULL &&
	    json_integer_value(v) >= 200)
		bz.max_len = (size_t)json_integer_value(v);
	if ((v = json_object_get(body, "max_topic_length")) != NULL &&
	    json_integer_value(v) >= 10)
		bz.max_topic = (size_t)json_integer_value(v);
	if ((v = json_object_get(body,
	    "realm_message_content_edit_limit_seconds")) != NULL) {
		/* null: no limit; 0 in old servers meant the same */
		if (json_is_integer(v) && json_integer_value(v) > 0)
			bz.edit_limit = (int)json_integer_value(v);
		else if (json_is_null(v))
			bz.edit_limit = 0;
	}
	bz.feature_level = (int)json_integer_value(json_object_get(body,
	    "zulip_feature_level"));
	bz.catchup_to = json_integer_value(json_object_get(body,
	    "max_message_id"));
	bz.catchup_n = 0;
	log_info("bot: registered queue %s (Zulip %s, feature level %d), "
	    "long poll %ld s, messages up to %zu characters", bz.queue_id,
	    json_string_value(json_object_get(body, "zulip_version")) != NULL ?
	    json_string_value(json_object_get(body, "zulip_version")) : "?",
	    bz.feature_level, bz.longpoll, bz.max_len);
	if (bz.watermark <= 0) {
		/* First start: what was said before sbxd is history. */
		bot_zulip_watermark(bz.catchup_to, 1);
		bot_zulip_poll();
		return;
	}
	bot_zulip_catchup();
}

/*
 * GET /messages after the watermark, a page at a time, up to what the
 * register saw; what came later is on the new queue.
 */
static void
bot_zulip_catchup(void)
{
	struct bot_req	*br;
	json_t		*narrow;

	if (bz.watermark >= bz.catchup_to) {
		bot_zulip_poll();
		return;
	}
	bz.state = BZ_CATCHUP;
	narrow = json_pack("[{s:s, s:s}]", "operator", "stream", "operand",
	    bot_conf()->bc_stream);
	if ((br = bot_zulip_req(BOT_GET, "/messages",
	    bot_zulip_catchup_cb)) == NULL ||
	    bot_req_addf(br, "anchor", "%" PRId64, bz.watermark) == -1 ||
	    bot_req_add(br, "include_anchor", "false") == -1 ||
	    bot_req_add(br, "num_before", "0") == -1 ||
	    bot_req_addf(br, "num_after", "%d", BOT_CATCHUP_PAGE) == -1 ||
	    bot_req_addjson(br, "narrow", narrow) == -1 ||
	    bot_req_add(br, "apply_markdown", "false") == -1) {
		bot_req_free(br);
		bot_zulip_later(BOT_BACKOFF_MAX, bot_zulip_catchup);
		return;
	}
	bot_queue(br);
}

static void
bot_zulip_catchup_cb(struct bot_req *br, enum bot_result res, json_t *body,
    void *arg)
{
	json_t		*msgs, *m;
	size_t		 i;
	int64_t		 id, before = bz.watermark;

	if (!bot_zulip_answer(br, res, arg, bot_zulip_catchup))
		return;
	msgs = json_object_get(body, "messages");
	json_array_foreach(msgs, i, m) {
		id = json_integer_value(json_object_get(m, "id"));
		if (id <= bz.watermark || id > bz.catchup_to)
			continue;
		if (bz.catchup_n++ >= BOT_CATCHUP_MAX)
			break;
		bot_zulip_message(m, 1);
	}
	if (bz.catchup_n >= BOT_CATCHUP_MAX && bz.watermark < bz.catchup_to) {
		log_warnx("bot: more than %d messages were missed; those up to "
		    "%" PRId64 " are skipped", BOT_CATCHUP_MAX, bz.catchup_to);
		bz.nskipped++;
		bot_zulip_watermark(bz.catchup_to, 1);
	}
	if (json_is_true(json_object_get(body, "found_newest")) ||
	    json_array_size(msgs) == 0 || bz.watermark == before) {
		/* Nothing more to see before the queue began. */
		if (bz.watermark < bz.catchup_to)
			bot_zulip_watermark(bz.catchup_to, 1);
		bot_zulip_poll();
		return;
	}
	bot_zulip_catchup();
}

/* GET /events, long. */
static void
bot_zulip_poll(void)
{
	struct bot_req	*br;

	bz.state = BZ_POLLING;
	if ((br = bot_zulip_req(BOT_GET, "/events", bot_zulip_poll_cb)) ==
	    NULL || bot_req_add(br, "queue_id", bz.queue_id) == -1 ||
	    bot_req_addf(br, "last_event_id", "%" PRId64,
	    bz.last_event_id) == -1 ||
	    bot_req_add(br, "dont_block", bz.dont_block ? "true" : "false") ==
	    -1) {
		bot_req_free(br);
		bot_zulip_later(BOT_BACKOFF_MAX, bot_zulip_poll);
		return;
	}
	bot_req_poll(br, bz.longpoll);
	bz.poll = br;
	bot_queue(br);
}

static void
bot_zulip_poll_cb(struct bot_req *br, enum bot_result res, json_t *body,
    void *arg)
{
	json_t		*ev;
	const char	*type;
	size_t		 i;
	int64_t		 id;

	if (bot_zulip_stale(br, arg))
		return;
	bz.poll = NULL;
	if (res == BOT_EAPI && strcmp(bot_req_code(br),
	    "BAD_EVENT_QUEUE_ID") == 0) {
		bz.nexpired++;
		log_info("bot: the server dropped queue %s; registering again "
		    "and fetching what was missed", bz.queue_id);
		bz.dont_block = 0;
		bot_zulip_register();
		return;
	}
	if (res == BOT_ENET && bot_req_timed_out(br)) {
		/* The server sent nothing, not even a heartbeat. */
		log_debug("bot: long poll timed out; again");
		bot_zulip_poll();
		return;
	}
	if (res != BOT_OK) {
		bot_zulip_failed(br, res, bot_zulip_poll);
		return;
	}
	bz.failures = 0;
	bz.dont_block = 0;
	bz.why[0] = '\0';
	bz.last_event_at = bot_now();
	json_array_foreach(json_object_get(body, "events"), i, ev) {
		id = json_integer_value(json_object_get(ev, "id"));
		if (id <= bz.last_event_id)
			continue;	/* seen */
		bz.last_event_id = id;
		if ((type = json_string_value(json_object_get(ev, "type"))) ==
		    NULL)
			continue;
		if (strcmp(type, "heartbeat") == 0)
			bz.nheartbeats++;
		else if (strcmp(type, "message") == 0)
			bot_zulip_message(json_object_get(ev, "message"), 0);
		else if (strcmp(type, "update_message") == 0)
			bot_zulip_moved(ev);
		else if (strcmp(type, "reaction") == 0)
			bot_zulip_reaction(ev);
	}
	if (bz.state == BZ_POLLING && bz.poll == NULL)
		bot_zulip_poll();
}

/*
 * A call of the cycle failed: say why, then try again after a pause
 * that grows (jittered, capped); a refused key waits longer.
 */
static void
bot_zulip_failed(struct bot_req *br, enum bot_result res,
    void (*again)(void))
{
	double	 delay;

	bz.nfailures++;
	snprintf(bz.why, sizeof(bz.why), "%s: %s", bot_req_path(br),
	    bot_req_error(br));
	if (res == BOT_EAPI && bot_req_status(br) == 401) {
		if (bz.state != BZ_AUTHFAIL)
			log_warnx("bot: the server refused the bot's key "
			    "(%s): check key-file and email; trying again "
			    "every %d s", bot_req_error(br), BOT_AUTH_RETRY);
		bz.state = BZ_AUTHFAIL;
		bot_zulip_later(BOT_AUTH_RETRY, bot_zulip_me);
		return;
	}
	if (res == BOT_EAPI && (strcmp(bot_req_code(br),
	    "STREAM_DOES_NOT_EXIST") == 0 || bot_req_status(br) == 403)) {
		if (bz.state != BZ_BROKEN)
			log_warnx("bot: %s; fix the config (trying again "
			    "every %d s)", bz.why, BOT_AUTH_RETRY);
		bz.state = BZ_BROKEN;
		bot_zulip_later(BOT_AUTH_RETRY, bot_zulip_me);
		return;
	}
	if (bz.failures < 30)
		bz.failures++;
	delay = bot_jitter(bz.failures >= 7 ? BOT_BACKOFF_MAX :
	    (double)(1 << (bz.failures - 1)));
	if (delay > BOT_BACKOFF_MAX)
		delay = BOT_BACKOFF_MAX;
	log_warnx("bot: %s; again in %.1f s", bz.why, delay);
	if (again == bot_zulip_poll)
		bz.dont_block = 1;
	if (bz.state == BZ_STARTING)
		again = bot_zulip_me;
	bz.state = BZ_BACKOFF;
	bot_zulip_later(delay, again);
}

static void
bot_zulip_later(double secs, void (*fn)(void))
{
	struct timeval	 tv;

	bz.retry_fn = fn;
	tv.tv_sec = (time_t)secs;
	tv.tv_usec = (suseconds_t)((secs - (double)tv.tv_sec) * 1e6);
	evtimer_add(bz.ev_retry, &tv);
}

static void
bot_zulip_retrycb(evutil_socket_t fd __unused, short events __unused,
    void *arg __unused)
{
	void	(*fn)(void) = bz.retry_fn;

	bz.retry_fn = NULL;
	bz.gen++;	/* what the failed cycle still waits for is void */
	if (fn == bot_zulip_poll && bz.queue_id == NULL)
		fn = bot_zulip_register;
	if (fn != NULL)
		fn();
}

/*
 * The last message handled; kept (keep), so that a restart goes on from
 * it.  A message that is only skipped (the bot's own, another bot's)
 * is not worth a write: after a restart it is skipped again.
 */
static void
bot_zulip_watermark(int64_t id, int keep)
{
	char	 buf[32];

	if (id <= bz.watermark)
		return;
	bz.watermark = id;
	if (!keep)
		return;
	snprintf(buf, sizeof(buf), "%" PRId64, id);
	if (store_setting_put(bz.wkey, buf) == -1)
		log_warnx("bot: the store did not keep the last message id: "
		    "%s", store_error());
}

/*
 * One message of the stream, from the queue or caught up: once, in id
 * order; not the bot's own, not another bot's.  The sender's role comes
 * from its id alone.
 */
static void
bot_zulip_message(json_t *m, int caught_up)
{
	const char	*who, *dr;
	json_t		*u;
	char		 id[32];
	int64_t		 mid, sender;
	int		 role = BOT_ROLE_NONE, stale;
	time_t		 ts;

	mid = json_integer_value(json_object_get(m, "id"));
	if (mid <= bz.watermark)
		return;		/* handled already */
	sender = json_integer_value(json_object_get(m, "sender_id"));
	snprintf(id, sizeof(id), "%" PRId64, sender);
	u = json_object_get(bz.users, id);
	dr = json_string_value(json_object_get(m, "display_recipient"));
	if (sender == bz.my_id || json_is_true(json_object_get(u, "is_bot")) ||
	    strcmp(json_string_value(json_object_get(m, "type")) != NULL ?
	    json_string_value(json_object_get(m, "type")) : "", "stream") != 0 ||
	    dr == NULL || strcmp(dr, bot_conf()->bc_stream) != 0) {
		bot_zulip_watermark(mid, 0);
		return;
	}
	bz.nin++;
	if (u == NULL && bot_now() - bz.users_at > BOT_USERS_REFRESH)
		bot_zulip_users();	/* a new user: for the next time */
	if (json_object_get(bz.admins, id) != NULL)
		role = BOT_ROLE_ADMIN;
	else if (json_object_get(bz.members, id) != NULL)
		role = BOT_ROLE_USER;
	ts = (time_t)json_integer_value(json_object_get(m, "timestamp"));
	stale = ts > 0 && time(NULL) - ts > BOT_STALE_SECS;
	if (stale)
		bz.nstale++;
	who = json_string_value(json_object_get(m, "sender_email"));
	/* Kept before it runs: if sbxd dies while it runs, it does not
	   run twice. */
	bot_zulip_watermark(mid, 1);
	log_debug("bot: message %" PRId64 " from user %" PRId64 "%s%s",
	    mid, sender, caught_up ? ", caught up" : "", stale ? ", stale" :
	    "");
	bot_route_message(m, role, who != NULL ? who : id, stale);
}

/*
 * A reaction added by a person, not a bot: its role from its id alone,
 * as for messages.  Taking a reaction away decides nothing.
 */
static void
bot_zulip_reaction(json_t *ev)
{
	const char	*op, *full, *email;
	json_t		*u;
	char		 id[32], who[160];
	int64_t		 uid;
	int		 role = BOT_ROLE_NONE;

	op = json_string_value(json_object_get(ev, "op"));
	uid = json_integer_value(json_object_get(ev, "user_id"));
	if (op == NULL || strcmp(op, "add") != 0 || uid == bz.my_id)
		return;
	snprintf(id, sizeof(id), "%" PRId64, uid);
	u = json_object_get(bz.users, id);
	if (json_is_true(json_object_get(u, "is_bot")))
		return;
	if (json_object_get(bz.admins, id) != NULL)
		role = BOT_ROLE_ADMIN;
	else if (json_object_get(bz.members, id) != NULL)
		role = BOT_ROLE_USER;
	full = json_string_value(json_object_get(u, "full_name"));
	email = json_string_value(json_object_get(u, "email"));
	snprintf(who, sizeof(who), "zulip:%s (%s, id %" PRId64 ")",
	    full != NULL ? full : "?", email != NULL ? email : "?", uid);
	bot_route_reaction(json_integer_value(json_object_get(ev,
	    "message_id")), json_string_value(json_object_get(ev,
	    "emoji_name")), uid, role, who);
}

/*
 * A topic renamed as a whole (propagate_mode change_all, or
 * change_later from its first message) within the stream: a sandbox's
 * topic follows it.  Moves to another stream are not followed.
 */
static void
bot_zulip_moved(json_t *ev)
{
	const char	*from, *to, *mode;

	from = json_string_value(json_object_get(ev, "orig_subject"));
	to = json_string_value(json_object_get(ev, "subject"));
	mode = json_string_value(json_object_get(ev, "propagate_mode"));
	if (from == NULL || to == NULL || mode == NULL ||
	    strcmp(mode, "change_one") == 0 ||
	    json_object_get(ev, "new_stream_id") != NULL)
		return;
	bot_route_topic_moved(from, to);
}

/* POST /messages: content in topic of the stream. */
int
bot_zulip_send(const char *topic, const char *content, enum bot_prio prio,
    bot_req_cb cb, void *arg)
{
	struct bot_req	*br;

	if ((br = bot_req_new(BOT_POST, "/messages", prio,
	    cb != NULL ? cb : bot_zulip_sent_cb, arg)) == NULL ||
	    bot_req_add(br, "type", "stream") == -1 ||
	    bot_req_add(br, "to", bot_conf()->bc_stream) == -1 ||
	    bot_req_add(br, "topic", topic) == -1 ||
	    bot_req_add(br, "content", content) == -1) {
		bot_req_free(br);
		log_warnx("bot: a message to \"%s\" was dropped: out of memory "
		    "or too long", topic);
		return (-1);
	}
	bot_nsent++;
	bot_queue(br);
	return (0);
}

/* PATCH /messages/ID: new content. */
int
bot_zulip_edit(int64_t id, const char *content, enum bot_prio prio,
    bot_req_cb cb, void *arg)
{
	struct bot_req	*br;
	char		 path[64];

	snprintf(path, sizeof(path), "/messages/%" PRId64, id);
	if ((br = bot_req_new(BOT_PATCH, path, prio, cb != NULL ? cb :
	    bot_zulip_sent_cb, arg)) == NULL ||
	    bot_req_add(br, "content", content) == -1) {
		bot_req_free(br);
		return (-1);
	}
	bot_queue(br);
	return (0);
}

/* Add (or take away) the reaction emoji on message id. */
int
bot_zulip_react(int64_t id, const char *emoji, int add)
{
	struct bot_req	*br;
	char		 path[64];

	snprintf(path, sizeof(path), "/messages/%" PRId64 "/reactions", id);
	if ((br = bot_req_new(add ? BOT_POST : BOT_DELETE, path,
	    BOT_PRIO_REPLY, bot_zulip_sent_cb, NULL)) == NULL ||
	    bot_req_add(br, "emoji_name", emoji) == -1) {
		bot_req_free(br);
		return (-1);
	}
	bot_queue(br);
	return (0);
}

/* A send, edit or reaction without a caller waiting: log failures. */
static void
bot_zulip_sent_cb(struct bot_req *br, enum bot_result res,
    json_t *body __unused, void *arg __unused)
{
	if (res == BOT_OK || (res == BOT_EAPI &&
	    (strcmp(bot_req_code(br), "REACTION_ALREADY_EXISTS") == 0 ||
	    strcmp(bot_req_code(br), "REACTION_DOES_NOT_EXIST") == 0)))
		return;
	log_warnx("bot: %s: %s", bot_req_path(br), bot_req_error(br));
}
