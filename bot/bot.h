/*
 * bot.h: shared between the bot's own files.  bot.c drives libcurl's
 * multi interface from the loop and shapes every call to one budget;
 * bot_req.c is one request's life; bot_zulip.c speaks Zulip's API (the
 * event queue, catching up, sending); bot_route.c turns chat into
 * control requests and events into topics.
 */

#ifndef BOT_H
#define BOT_H

#include <stdint.h>

#include <jansson.h>

struct bot_req;
struct sbxd_config;

/* How a call ended. */
enum bot_result {
	BOT_OK,		/* 2xx, "result": "success" */
	BOT_EAPI,	/* a JSON error from the server: br_code, br_msg */
	BOT_EHTTP,	/* an answer that is not Zulip's JSON */
	BOT_ENET,	/* no answer: connect, TLS, timeout, cut short */
};

/* Who goes first when the budget is short. */
enum bot_prio {
	BOT_PRIO_REPLY,		/* answers to commands, reactions */
	BOT_PRIO_ASK,		/* questions that wait for a person */
	BOT_PRIO_FINAL,		/* agent text and final lines */
	BOT_PRIO_PROGRESS,	/* status edits, alerts */
	BOT_PRIO_N
};

enum bot_method { BOT_GET, BOT_POST, BOT_PATCH, BOT_DELETE };

typedef void	(*bot_req_cb)(struct bot_req *, enum bot_result, json_t *,
		    void *);

/* bot/bot.c */
double		 bot_now(void);
double		 bot_jitter(double);
void		 bot_queue(struct bot_req *);
void		 bot_cancel(struct bot_req *);
void		 bot_start_easy(struct bot_req *);
void		 bot_req_finished(struct bot_req *);
void		 bot_rate_seen(double, double, double);
void		 bot_rate_hit(double);
const struct bot_conf *bot_conf(void);
extern uint64_t	 bot_nretries;

/* bot/bot_req.c */
struct bot_req	*bot_req_new(enum bot_method, const char *, enum bot_prio,
		    bot_req_cb, void *);
int		 bot_req_add(struct bot_req *, const char *, const char *);
int		 bot_req_addf(struct bot_req *, const char *, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));
int		 bot_req_addjson(struct bot_req *, const char *, json_t *);
void		 bot_req_poll(struct bot_req *, long);
void		 bot_req_retries(struct bot_req *, int);
int		 bot_req_prepare(struct bot_req *, void *);
void		 bot_req_done(struct bot_req *, int);
void		 bot_req_free(struct bot_req *);
enum bot_prio	 bot_req_prio(const struct bot_req *);
int		 bot_req_is_poll(const struct bot_req *);
long		 bot_req_status(const struct bot_req *);
const char	*bot_req_code(const struct bot_req *);
const char	*bot_req_error(const struct bot_req *);
const char	*bot_req_path(const struct bot_req *);
double		 bot_req_retry_after(const struct bot_req *);
double		 bot_req_notbefore(const struct bot_req *);
int		 bot_req_timed_out(const struct bot_req *);
void		*bot_req_easy(const struct bot_req *);

/* bot/bot_zulip.c */
int		 bot_zulip_start(void);
void		 bot_zulip_stop(void);
void		 bot_zulip_reconfigure(void);
json_t		*bot_zulip_status(void);
int		 bot_zulip_send(const char *, const char *, enum bot_prio,
		    bot_req_cb, void *);
int		 bot_zulip_edit(int64_t, const char *, enum bot_prio,
		    bot_req_cb, void *);
int		 bot_zulip_react(int64_t, const char *, int);
int64_t		 bot_zulip_stream_id(void);
size_t		 bot_zulip_max_length(void);
size_t		 bot_zulip_max_topic(void);
int		 bot_zulip_edit_limit(void);
extern uint64_t	 bot_nsent;

/* bot/bot_route.c */
#define BOT_STALE_SECS	600	/* a command older than this when first
				   seen is not run */
#define BOT_ROLE_NONE	0
#define BOT_ROLE_USER	1
#define BOT_ROLE_ADMIN	2
void		 bot_route_init(void);
void		 bot_route_stop(void);
void		 bot_route_message(json_t *, int, const char *, int);
json_t		*bot_route_status(void);
size_t		 bot_route_post(const char *, const char *, enum bot_prio);
void		 bot_route_topic_moved(const char *, const char *);
void		 bot_route_reaction(int64_t, const char *, int64_t, int,
		    const char *);

#endif /* BOT_H */
