/*
 * bot.c: the chat bot component.  Its calls run on libcurl's multi
 * interface on sbxd's event_base (src/curlev.c, curl's hiperfifo
 * pattern): curl says which sockets to watch and when to wake it,
 * libevent tells it what happened.
 *
 * Every call but the long poll goes through one budget, a token bucket
 * sized from the server's X-RateLimit-* headers (Zulip: 200 a minute by
 * default), spent in priority order: command replies, then questions,
 * then agent text, then progress.  A 429 stops every call, the long
 * poll included, until its Retry-After has passed.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <math.h>
#include <stdint.h>
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
#include "curlev.h"

#define BOT_INFLIGHT_MAX	4	/* calls at once, the poll aside; the
					   server serialises a user's sends */
#define BOT_BUDGET_SHARE	0.8	/* of the server's limit we spend;
					   the rest is room for a person
					   using the same bot */
#define BOT_BUDGET_BURST	8	/* calls saved up while idle */
#define BOT_LIMIT_DEFAULT	200	/* per minute, Zulip's default */
#define BOT_REMAINING_LOW	5	/* left in the window: wait for its
					   reset */

struct bot_qent {
	TAILQ_ENTRY(bot_qent)	 bq_entry;
	struct bot_req		*bq_req;
};
TAILQ_HEAD(bot_queue, bot_qent);

static int	bot_init(struct sbxd_config *);
static int	bot_reload(struct sbxd_config *, json_t *);
static void	bot_shutdown(void);
static json_t	*bot_status(void);
static void	bot_budgetcb(evutil_socket_t, short, void *);
static void	bot_donecb(CURL *, CURLcode, void *);
static void	bot_dispatch(void);
static void	bot_wake(double);
static int	bot_conf_same(const struct bot_conf *,
		    const struct bot_conf *);
static int	bot_conf_copy(struct bot_conf *, const struct bot_conf *);

const struct sbxd_component bot_component = {
	.cm_name = "bot",
	.cm_init = bot_init,
	.cm_reload = bot_reload,
	.cm_shutdown = bot_shutdown,
	.cm_status = bot_status,
};

static struct bot_conf	 bot_cf;	/* a copy: the config may go */
static struct curlev	*bot_cv;	/* libcurl's multi on the loop */
static struct event	*bot_ev_budget;
static struct bot_queue	 bot_queues[BOT_PRIO_N];
static struct bot_queue	 bot_live = TAILQ_HEAD_INITIALIZER(bot_live);
static int		 bot_inflight;
static int		 bot_queued;
static double		 bot_tokens = BOT_BUDGET_BURST;
static double		 bot_tokens_at;
static double		 bot_limit = BOT_LIMIT_DEFAULT;
static double		 bot_pause_until;
static int		 bot_running;
static int		 bot_curl_ready;
uint64_t		 bot_nretries;
static uint64_t		 bot_n429;
static uint64_t		 bot_ncalls;

static int
bot_init(struct sbxd_config *conf)
{
	int	 i;

	for (i = 0; i < BOT_PRIO_N; i++)
		TAILQ_INIT(&bot_queues[i]);
	if (!conf->sc_bot.bc_on)
		return (0);
	return (bot_reload(conf, NULL));
}

/* Start, stop or restart the client when the bot block changed. */
static int
bot_reload(struct sbxd_config *conf, json_t *errors __unused)
{
	const struct bot_conf	*nc = &conf->sc_bot;

	if (bot_running && nc->bc_on && bot_conf_same(&bot_cf, nc)) {
		/* Only who may do what changed: resolve them again. */
		if (bot_conf_copy(&bot_cf, nc) == -1)
			return (-1);
		bot_zulip_reconfigure();
		return (0);
	}
	if (bot_running)
		bot_shutdown();
	if (!nc->bc_on)
		return (0);
	if (!bot_curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			log_warnx("bot: libcurl did not start");
			return (-1);
		}
		bot_curl_ready = 1;
	}
	if (bot_conf_copy(&bot_cf, nc) == -1)
		return (-1);
	if ((bot_cv = curlev_new(sbxd_env->sx_base, 8)) == NULL ||
	    (bot_ev_budget = evtimer_new(sbxd_env->sx_base, bot_budgetcb,
	    NULL)) == NULL) {
		log_warnx("bot: out of memory");
		bot_shutdown();
		return (-1);
	}
	bot_running = 1;
	bot_tokens = BOT_BUDGET_BURST;
	bot_tokens_at = bot_now();
	bot_pause_until = 0;
	bot_route_init();
	if (bot_zulip_start() == -1) {
		bot_shutdown();
		return (-1);
	}
	log_info("bot: zulip at %s as %s, stream \"%s\"", bot_cf.bc_site,
	    bot_cf.bc_email, bot_cf.bc_stream);
	return (0);
}

static void
bot_shutdown(void)
{
	struct bot_qent	*bq;
	int		 i;

	if (!bot_running)
		return;
	bot_zulip_stop();
	bot_route_stop();
	for (i = 0; i < BOT_PRIO_N; i++)
		while ((bq = TAILQ_FIRST(&bot_queues[i])) != NULL) {
			TAILQ_REMOVE(&bot_queues[i], bq, bq_entry);
			bot_req_free(bq->bq_req);
			free(bq);
		}
	bot_queued = 0;
	while ((bq = TAILQ_FIRST(&bot_live)) != NULL) {
		TAILQ_REMOVE(&bot_live, bq, bq_entry);
		curlev_remove(bot_cv, bot_req_easy(bq->bq_req));
		bot_req_free(bq->bq_req);
		free(bq);
	}
	curlev_free(bot_cv);
	bot_cv = NULL;
	bot_inflight = 0;
	if (bot_ev_budget != NULL)
		event_free(bot_ev_budget);
	bot_ev_budget = NULL;
	config_bot_clear(&bot_cf);
	bot_running = 0;
}

static json_t *
bot_status(void)
{
	json_t	*st;

	if (!bot_running)
		return (json_pack("{s:s}", "state", "off"));
	if ((st = bot_zulip_status()) == NULL)
		return (NULL);
	json_object_update_new(st, json_pack("{s:I, s:i, s:I, s:I, s:i}",
	    "calls", (json_int_t)bot_ncalls, "queued", bot_queued,
	    "retries", (json_int_t)bot_nretries, "rate_limited",
	    (json_int_t)bot_n429, "limit_per_min", (int)bot_limit));
	json_object_update_new(st, bot_route_status());
	return (st);
}

const struct bot_conf *
bot_conf(void)
{
	return (&bot_cf);
}

/* Whether two bot blocks talk to the same server as the same bot. */
static int
bot_conf_same(const struct bot_conf *a, const struct bot_conf *b)
{
#define SAME(f) ((a->f == NULL && b->f == NULL) || \
	(a->f != NULL && b->f != NULL && strcmp(a->f, b->f) == 0))
	return (SAME(bc_site) && SAME(bc_email) && SAME(bc_key) &&
	    SAME(bc_stream) && SAME(bc_ca_pem));
#undef SAME
}

static char **
bot_words_copy(char **av)
{
	char	**nv;
	size_t	  n, i;

	for (n = 0; av != NULL && av[n] != NULL; n++)
		;
	if ((nv = calloc(n + 1, sizeof(*nv))) == NULL)
		return (NULL);
	for (i = 0; i < n; i++)
		if ((nv[i] = strdup(av[i])) == NULL) {
			while (i-- > 0)
				free(nv[i]);
			free(nv);
			return (NULL);
		}
	return (nv);
}

static int
bot_conf_copy(struct bot_conf *dst, const struct bot_conf *src)
{
	struct bot_conf	 n;

	memset(&n, 0, sizeof(n));
	n.bc_on = src->bc_on;
#define DUP(f) do {							\
	if (src->f != NULL && (n.f = strdup(src->f)) == NULL)		\
		goto fail;						\
} while (0)
	DUP(bc_site);
	DUP(bc_email);
	DUP(bc_keyfile);
	DUP(bc_key);
	DUP(bc_stream);
	DUP(bc_cafile);
	DUP(bc_ca_pem);
#undef DUP
	if ((n.bc_admins = bot_words_copy(src->bc_admins)) == NULL ||
	    (n.bc_users = bot_words_copy(src->bc_users)) == NULL)
		goto fail;
	config_bot_clear(dst);
	*dst = n;
	return (0);
fail:
	config_bot_clear(&n);
	log_warnx("bot: out of memory");
	return (-1);
}

double
bot_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec + ts.tv_nsec / 1e9);
}

/* A delay of d seconds, from half of d to all of it. */
double
bot_jitter(double d)
{
	return (d / 2 + d / 2 * ((double)arc4random() / UINT32_MAX));
}

/* Queue br behind the budget; it is started when its turn comes. */
void
bot_queue(struct bot_req *br)
{
	struct bot_qent	*bq;

	if (!bot_running || (bq = calloc(1, sizeof(*bq))) == NULL) {
		log_warnx("bot: %s dropped: %s", bot_req_path(br),
		    bot_running ? "out of memory" : "the bot is off");
		bot_req_free(br);
		return;
	}
	bq->bq_req = br;
	TAILQ_INSERT_TAIL(&bot_queues[bot_req_prio(br)], bq, bq_entry);
	bot_queued++;
	bot_wake(0);
}

/* The server's view of the budget, from a response's headers. */
void
bot_rate_seen(double limit, double remaining, double reset)
{
	double	 wall = (double)time(NULL);

	if (limit > 0 && limit < 1e6)
		bot_limit = limit;
	if (remaining >= 0 && remaining < BOT_REMAINING_LOW && reset > wall &&
	    reset - wall < 3600) {
		/* Nearly spent: nothing but the poll until it resets. */
		if (bot_now() + (reset - wall) > bot_pause_until)
			bot_pause_until = bot_now() + (reset - wall);
		bot_tokens = 0;
	}
}

/* A 429: no call at all for secs, and a little more. */
void
bot_rate_hit(double secs)
{
	double	 until;

	bot_n429++;
	if (secs > 3600)
		secs = 3600;
	until = bot_now() + secs + 0.5 * ((double)arc4random() / UINT32_MAX);
	if (until > bot_pause_until)
		bot_pause_until = until;
	bot_tokens = 0;
}

/* Drop br wherever it is, without its callback. */
void
bot_cancel(struct bot_req *br)
{
	struct bot_qent	*bq;
	int		 i;

	if (br == NULL)
		return;
	for (i = 0; i < BOT_PRIO_N; i++)
		TAILQ_FOREACH(bq, &bot_queues[i], bq_entry)
			if (bq->bq_req == br) {
				TAILQ_REMOVE(&bot_queues[i], bq, bq_entry);
				bot_queued--;
				free(bq);
				bot_req_free(br);
				return;
			}
	bot_req_finished(br);
	bot_req_free(br);
}

/* Run br now, on the multi handle. */
void
bot_start_easy(struct bot_req *br)
{
	struct bot_qent	*bq;

	if ((bq = calloc(1, sizeof(*bq))) == NULL ||
	    bot_req_prepare(br, br) == -1 ||
	    curlev_add(bot_cv, bot_req_easy(br), bot_donecb, br) == -1) {
		log_warnx("bot: %s: cannot start the call", bot_req_path(br));
		free(bq);
		bot_req_free(br);
		return;
	}
	bq->bq_req = br;
	TAILQ_INSERT_TAIL(&bot_live, bq, bq_entry);
	bot_ncalls++;
	if (!bot_req_is_poll(br))
		bot_inflight++;
}

/* br's transfer is over: off the multi handle, its slot free. */
void
bot_req_finished(struct bot_req *br)
{
	struct bot_qent	*bq;

	TAILQ_FOREACH(bq, &bot_live, bq_entry)
		if (bq->bq_req == br)
			break;
	if (bq == NULL)
		return;
	TAILQ_REMOVE(&bot_live, bq, bq_entry);
	free(bq);
	curlev_remove(bot_cv, bot_req_easy(br));
	if (!bot_req_is_poll(br) && bot_inflight > 0)
		bot_inflight--;
	bot_wake(0);
}

/* Run the dispatcher in secs. */
static void
bot_wake(double secs)
{
	struct timeval	 tv;

	if (bot_ev_budget == NULL)
		return;
	if (secs < 0)
		secs = 0;
	if (evtimer_pending(bot_ev_budget, &tv) && secs > 0)
		return;		/* it runs soon enough, and wakes again */
	tv.tv_sec = (time_t)secs;
	tv.tv_usec = (suseconds_t)((secs - (double)tv.tv_sec) * 1e6);
	evtimer_add(bot_ev_budget, &tv);
}

static void
bot_budgetcb(evutil_socket_t fd __unused, short events __unused,
    void *arg __unused)
{
	bot_dispatch();
}

/*
 * Start what the budget allows, in priority order, first come first
 * served within a priority; then sleep until the next call may go.
 */
static void
bot_dispatch(void)
{
	struct bot_qent	*bq, *next;
	double		 now = bot_now(), rate, wait = -1, w;
	int		 i;

	rate = bot_limit * BOT_BUDGET_SHARE / 60;
	bot_tokens += (now - bot_tokens_at) * rate;
	if (bot_tokens > BOT_BUDGET_BURST)
		bot_tokens = BOT_BUDGET_BURST;
	bot_tokens_at = now;
	if (now < bot_pause_until) {
		if (bot_queued > 0)
			bot_wake(bot_pause_until - now);
		return;
	}
	for (i = 0; i < BOT_PRIO_N; i++)
		TAILQ_FOREACH_SAFE(bq, &bot_queues[i], bq_entry, next) {
			w = bot_req_notbefore(bq->bq_req) - now;
			if (w > 0) {
				if (wait < 0 || w < wait)
					wait = w;
				continue;
			}
			if (!bot_req_is_poll(bq->bq_req)) {
				if (bot_inflight >= BOT_INFLIGHT_MAX)
					continue;	/* a finish wakes us */
				if (bot_tokens < 1) {
					w = (1 - bot_tokens) / rate;
					if (wait < 0 || w < wait)
						wait = w;
					continue;
				}
				bot_tokens -= 1;
			}
			TAILQ_REMOVE(&bot_queues[i], bq, bq_entry);
			bot_queued--;
			bot_start_easy(bq->bq_req);
			free(bq);
		}
	if (wait >= 0)
		bot_wake(wait);
}

/* A transfer is over: its request reads the answer. */
static void
bot_donecb(CURL *e __unused, CURLcode result, void *arg)
{
	bot_req_done(arg, result);
}
