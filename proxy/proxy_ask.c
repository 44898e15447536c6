/*
 * proxy_ask.c: requests held while a person is asked.
 *
 * Under a policy with "ask", a request that no rule allows or blocks
 * (the policy's default decides it, and that default is block) is not
 * refused at once: the session is held, reading nothing more from its
 * client, and a question is published (proxy.ask) for the sandbox's
 * people to answer, in chat or with "sbxctl approve".  Identical
 * requests of the same listener (one host and port) join the open
 * question.  The answer is a runtime rule, as "sbxctl allow|deny" makes:
 * allow once (host:port for the policy's "once" time), allow always,
 * or deny; then every held request is judged again, as if the rule had
 * been there from the first.  Nothing reached upstream before.  A
 * question nobody answers expires after the policy's "ask" time, and
 * its requests get 403 "ask-timeout".
 *
 * Questions are rows of the store from the first (the id is the row's,
 * so that "already decided" has an answer after a restart), published
 * as proxy.ask, proxy.waiting (the count of held requests, at most once
 * a second) and proxy.decided.  Everything is bounded: held sessions
 * and open questions per listener, questions per listener per minute;
 * past a bound the request gets 403 "ask-limit" at once.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <jansson.h>

#include "config.h"
#include "log.h"
#include "sbxd.h"
#include "proxy.h"

#define PROXY_ASK_HELD_MAX	1024	/* held sessions per listener */
#define PROXY_ASK_OPEN_MAX	16	/* open questions per listener */

/* One open question and the sessions held for it. */
struct proxy_ask {
	TAILQ_ENTRY(proxy_ask)		 pa_entry;
	int64_t				 pa_id;
	struct proxy_listener		*pa_listener;
	struct sbxd_host		 pa_host;
	uint16_t			 pa_port;
	char				 pa_method[24];	/* the first request's */
	char				 pa_dest[PROXY_HTTP_AUTHORITY_LEN];
	time_t				 pa_asked;
	struct timespec			 pa_deadline;	/* wall clock */
	struct event			*pa_ev_expire;
	struct event			*pa_ev_tick;	/* proxy.waiting */
	TAILQ_HEAD(, proxy_session)	 pa_held;
	int				 pa_nheld;
	int				 pa_joined;	/* all that waited */
	int				 pa_shown;	/* nheld last published */
	int				 pa_deciding;	/* its own rule is being
							   set */
};
TAILQ_HEAD(proxy_asks, proxy_ask);

static void	 proxy_ask_expirecb(evutil_socket_t, short, void *);
static void	 proxy_ask_tickcb(evutil_socket_t, short, void *);
static void	 proxy_ask_watchcb(evutil_socket_t, short, void *);
static void	 proxy_ask_end(struct proxy_ask *, const char *,
		    const char *, const char *, const char *, time_t);
static void	 proxy_ask_free(struct proxy_ask *);
static struct proxy_ask *proxy_ask_find(int64_t);
static json_t	*proxy_ask_json(struct proxy_ask *);
static json_t	*proxy_ask_event(struct proxy_ask *);
static void	 proxy_ctl_asks(struct control_req *, json_t *);
static void	 proxy_ctl_approve(struct control_req *, json_t *);

static const struct control_field proxy_asks_fields[] = {
	{ "listener", CONTROL_F_STRING },
	{ NULL, 0 }
};
static const struct control_field proxy_approve_fields[] = {
	{ "id", CONTROL_F_INT | CONTROL_F_NEEDED },
	{ "decision", CONTROL_F_STRING | CONTROL_F_NEEDED },
	{ NULL, 0 }
};

static struct proxy_asks	 proxy_asks = TAILQ_HEAD_INITIALIZER(proxy_asks);
static uint64_t			 proxy_ask_nasked;
static uint64_t			 proxy_ask_nlimited;
static uint64_t			 proxy_ask_ndecided;
static uint64_t			 proxy_ask_nexpired;

int
proxy_ask_init(void)
{
	control_register("asks", proxy_ctl_asks, proxy_asks_fields);
	control_register("approve", proxy_ctl_approve, proxy_approve_fields);
	if (store_asks_orphaned() == -1)
		log_warnx("proxy: questions left open by a stopped sbxd are "
		    "not marked expired: %s", store_error());
	return (0);
}

/* Every question goes with its listener (proxy_ask_forget). */
void
proxy_ask_shutdown(void)
{
	struct proxy_ask	*pa;

	while ((pa = TAILQ_FIRST(&proxy_asks)) != NULL)
		proxy_ask_end(pa, "cancelled", "sbxd stopped", NULL, "", 0);
}

/*
 * ps's request was refused with *why and *rule by proxy_judge.  If its
 * policy asks and no rule decided (the default did), hold it: 0.
 * Otherwise -1, *why and *rule say the refusal, which may now be a
 * more precise one: the class of an address literal ("private", ...),
 * which is never asked about, or "ask-limit".
 */
int
proxy_ask_hold(struct proxy_session *ps, const char **why, const char **rule)
{
	struct proxy_listener		*pr = ps->ps_listener;
	struct proxy_http_request	*rq = &ps->ps_req;
	struct policy_body		*pb = &pr->pr_policy->pol_body;
	struct proxy_ask		*pa;
	struct sockaddr_storage		 ss;
	struct timeval			 tv;
	socklen_t			 sslen;
	int				 feat;
	time_t				 now = time(NULL);
	int64_t				 id;
	short				 watch;

	if (pb->pb_ask == 0 || strcmp(*why, "policy") != 0 || *rule == NULL ||
	    strcmp(*rule, "default") != 0)
		return (-1);
	/* An address the class checks refuse is refused, not asked about. */
	if (rq->rq_host.h_family != 0) {
		if (util_addr_parse(rq->rq_host.h_name, rq->rq_port, &ss,
		    &sslen) == -1) {
			*why = "bad-address";
			*rule = NULL;
			return (-1);
		}
		if (proxy_judge_addr(ps, &ss, &sslen, why, rule) == -1)
			return (-1);
	}
	if (pr->pr_nheld >= PROXY_ASK_HELD_MAX)
		goto limit;
	TAILQ_FOREACH(pa, &proxy_asks, pa_entry)
		if (pa->pa_listener == pr && pa->pa_port == rq->rq_port &&
		    pa->pa_host.h_family == rq->rq_host.h_family &&
		    strcmp(pa->pa_host.h_name, rq->rq_host.h_name) == 0)
			break;
	if (pa == NULL) {
		/* The oldest of the last PROXY_ASK_PER_MIN: a minute ago. */
		if (pr->pr_nasks >= PROXY_ASK_OPEN_MAX ||
		    (pr->pr_ask_times[pr->pr_ask_next] != 0 &&
		    now - pr->pr_ask_times[pr->pr_ask_next] < 60))
			goto limit;
		if ((id = store_ask_add(pr->pr_name, pr->pr_sandbox,
		    rq->rq_method, rq->rq_host.h_name, rq->rq_port)) == -1) {
			log_warnx("proxy: listener %s: %s not asked about: "
			    "the store did not take the question (%s)",
			    pr->pr_name, ps->ps_dest, store_error());
			return (-1);	/* refused as it was */
		}
		if ((pa = calloc(1, sizeof(*pa))) == NULL ||
		    (pa->pa_ev_expire = evtimer_new(sbxd_env->sx_base,
		    proxy_ask_expirecb, pa)) == NULL ||
		    (pa->pa_ev_tick = evtimer_new(sbxd_env->sx_base,
		    proxy_ask_tickcb, pa)) == NULL) {
			if (pa != NULL && pa->pa_ev_expire != NULL)
				event_free(pa->pa_ev_expire);
			free(pa);
			(void)store_ask_decided(id, "cancelled", "out of "
			    "memory", NULL, 0);
			return (-1);
		}
		pa->pa_id = id;
		pa->pa_listener = pr;
		pa->pa_host = rq->rq_host;
		pa->pa_port = rq->rq_port;
		snprintf(pa->pa_method, sizeof(pa->pa_method), "%s",
		    rq->rq_method);
		snprintf(pa->pa_dest, sizeof(pa->pa_dest), "%s", ps->ps_dest);
		pa->pa_asked = now;
		clock_gettime(CLOCK_REALTIME, &pa->pa_deadline);
		pa->pa_deadline.tv_sec += pb->pb_ask;
		TAILQ_INIT(&pa->pa_held);
		TAILQ_INSERT_TAIL(&proxy_asks, pa, pa_entry);
		pr->pr_nasks++;
		pr->pr_ask_times[pr->pr_ask_next] = now;
		pr->pr_ask_next = (pr->pr_ask_next + 1) % PROXY_ASK_PER_MIN;
		proxy_ask_nasked++;
		tv.tv_sec = pb->pb_ask;
		tv.tv_usec = 0;
		evtimer_add(pa->pa_ev_expire, &tv);
	}
	/*
	 * Held: the client is read no more, but its leaving is watched (a
	 * peer's close, where the backend sees one without reading).
	 */
	feat = event_base_get_features(sbxd_env->sx_base);
	watch = (feat & EV_FEATURE_EARLY_CLOSE) ? EV_CLOSED : EV_READ;
	bufferevent_disable(ps->ps_cli.bev, EV_READ);
	if (event_assign(&ps->ps_watch, sbxd_env->sx_base, ps->ps_cli.fd,
	    watch | EV_PERSIST, proxy_ask_watchcb, ps) == -1 ||
	    event_add(&ps->ps_watch, NULL) == -1)
		log_debug("%s: session %llu: the client is not watched",
		    __func__, (unsigned long long)ps->ps_id);
	ps->ps_state = PROXY_S_ASK;
	ps->ps_ask = pa;
	TAILQ_INSERT_TAIL(&pa->pa_held, ps, ps_ask_entry);
	pa->pa_nheld++;
	pa->pa_joined++;
	pr->pr_nheld++;
	log_info("proxy: session %llu: %s: held %s %s: question %" PRId64
	    ", %d waiting", (unsigned long long)ps->ps_id, ps->ps_client,
	    rq->rq_method, ps->ps_dest, pa->pa_id, pa->pa_nheld);
	if (pa->pa_joined == 1) {
		pa->pa_shown = 1;
		events_publish("proxy.ask", proxy_ask_event(pa));
	} else if (!evtimer_pending(pa->pa_ev_tick, NULL)) {
		tv.tv_sec = 1;
		tv.tv_usec = 0;
		evtimer_add(pa->pa_ev_tick, &tv);
	}
	return (0);

limit:
	proxy_ask_nlimited++;
	*why = "ask-limit";
	*rule = NULL;
	return (-1);
}

/* ps closes, or goes on: its slot is free; the question stays. */
void
proxy_ask_leave(struct proxy_session *ps)
{
	struct proxy_ask	*pa = ps->ps_ask;
	struct timeval		 tv = { 1, 0 };

	if (pa == NULL)
		return;
	TAILQ_REMOVE(&pa->pa_held, ps, ps_ask_entry);
	pa->pa_nheld--;
	pa->pa_listener->pr_nheld--;
	ps->ps_ask = NULL;
	if (event_initialized(&ps->ps_watch))
		event_del(&ps->ps_watch);
	if (pa->pa_nheld != pa->pa_shown &&
	    !evtimer_pending(pa->pa_ev_tick, NULL))
		evtimer_add(pa->pa_ev_tick, &tv);
}

/*
 * The client of a held session: a close (EV_CLOSED) ends the session;
 * with a plain read event, a peek tells a close from bytes, which are
 * left for later and no longer watched.
 */
static void
proxy_ask_watchcb(evutil_socket_t fd, short events, void *arg)
{
	struct proxy_session	*ps = arg;
	char			 c;
	ssize_t			 n;

	if (!(events & EV_CLOSED)) {
		n = recv(fd, &c, 1, MSG_PEEK);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n > 0) {
			event_del(&ps->ps_watch);
			return;
		}
	}
	proxy_session_close(ps, "client left while held");
}

static void
proxy_ask_tickcb(evutil_socket_t fd __unused, short events __unused,
    void *arg)
{
	struct proxy_ask	*pa = arg;
	json_t			*ev;

	if (pa->pa_nheld == pa->pa_shown)
		return;
	pa->pa_shown = pa->pa_nheld;
	ev = json_pack("{s:I, s:s, s:s?, s:i, s:i}", "id",
	    (json_int_t)pa->pa_id, "listener", pa->pa_listener->pr_name,
	    "sandbox", pa->pa_listener->pr_sandbox, "waiting", pa->pa_nheld,
	    "joined", pa->pa_joined);
	events_publish("proxy.waiting", ev);
}

static void
proxy_ask_expirecb(evutil_socket_t fd __unused, short events __unused,
    void *arg)
{
	proxy_ask_end(arg, "expired", NULL, NULL, "ask-timeout", 0);
}

/*
 * A rule of pr changed (by whom): questions that a rule now decides,
 * allowing or blocking, end with it.
 */
void
proxy_ask_recheck(struct proxy_listener *pr, const char *by)
{
	struct proxy_ask		*pa, *next;
	const struct policy_rule	*ru;
	enum policy_action		 action;

	TAILQ_FOREACH_SAFE(pa, &proxy_asks, pa_entry, next) {
		if (pa->pa_listener != pr || pa->pa_deciding)
			continue;
		ru = policy_match(&pr->pr_policy->pol_body, pr->pr_extra,
		    &pa->pa_host, pa->pa_port, &action);
		if (ru == NULL && action != POLICY_ALLOW)
			continue;
		proxy_ask_end(pa, "rule", by, ru != NULL ?
		    policy_rule_text(ru) : "default", action == POLICY_ALLOW ?
		    NULL : "policy", 0);
	}
}

/* pr closes: its questions end ("cancelled"). */
void
proxy_ask_forget(struct proxy_listener *pr)
{
	struct proxy_ask	*pa, *next;

	TAILQ_FOREACH_SAFE(pa, &proxy_asks, pa_entry, next)
		if (pa->pa_listener == pr)
			proxy_ask_end(pa, "cancelled", "the listener closed",
			    NULL, "", 0);
}

/*
 * End question pa with decision, by whom, and the rule that answered it
 * (NULL: none).  The held sessions go on (refusal NULL), judged again,
 * close (refusal ""), or get 403 with refusal as the reason; expires:
 * when an allow once goes.  Published, stored, freed.
 */
static void
proxy_ask_end(struct proxy_ask *pa, const char *decision, const char *by,
    const char *rule, const char *refusal, time_t expires)
{
	struct proxy_listener	*pr = pa->pa_listener;
	struct proxy_session	*ps;
	struct timespec		 ts;
	json_t			*ev;
	char			 tbuf[32];
	int			 waiting = pa->pa_nheld;

	/* Out of the list first: what the sessions do cannot find it. */
	TAILQ_REMOVE(&proxy_asks, pa, pa_entry);
	pr->pr_nasks--;
	if (strcmp(decision, "expired") == 0)
		proxy_ask_nexpired++;
	else
		proxy_ask_ndecided++;
	log_info("proxy: listener %s: question %" PRId64 " (%s %s): %s%s%s; "
	    "%d waiting", pr->pr_name, pa->pa_id, pa->pa_method, pa->pa_dest,
	    decision, by != NULL ? " by " : "", by != NULL ? by : "",
	    waiting);
	while ((ps = TAILQ_FIRST(&pa->pa_held)) != NULL) {
		proxy_ask_leave(ps);
		if (refusal == NULL)
			proxy_session_resume(ps);
		else if (*refusal == '\0')
			proxy_session_close(ps, decision);
		else
			proxy_session_block(ps, refusal, rule);
	}
	ev = proxy_ask_event(pa);
	json_object_set_new(ev, "decision", json_string(decision));
	json_object_set_new(ev, "by", by != NULL ? json_string(by) :
	    json_null());
	json_object_set_new(ev, "rule", rule != NULL ? json_string(rule) :
	    json_null());
	json_object_set_new(ev, "waiting", json_integer(waiting));
	if (expires != 0) {
		ts.tv_sec = expires;
		ts.tv_nsec = 0;
		util_rfc3339(&ts, tbuf, sizeof(tbuf));
		json_object_set_new(ev, "expires", json_string(tbuf));
	}
	events_publish("proxy.decided", ev);
	if (store_ask_decided(pa->pa_id, decision, by, rule,
	    pa->pa_joined) == -1)
		log_warnx("proxy: question %" PRId64 ": the store did not "
		    "keep its decision: %s", pa->pa_id, store_error());
	proxy_ask_free(pa);
}

static void
proxy_ask_free(struct proxy_ask *pa)
{
	event_free(pa->pa_ev_expire);
	event_free(pa->pa_ev_tick);
	free(pa);
}

static struct proxy_ask *
proxy_ask_find(int64_t id)
{
	struct proxy_ask	*pa;

	TAILQ_FOREACH(pa, &proxy_asks, pa_entry)
		if (pa->pa_id == id)
			return (pa);
	return (NULL);
}

/* The fields of every question event. */
static json_t *
proxy_ask_event(struct proxy_ask *pa)
{
	char		 tbuf[32];

	util_rfc3339(&pa->pa_deadline, tbuf, sizeof(tbuf));
	return (json_pack("{s:I, s:s, s:s?, s:s, s:s, s:i, s:s, s:i, s:i, "
	    "s:s, s:i, s:i}", "id", (json_int_t)pa->pa_id, "listener",
	    pa->pa_listener->pr_name, "sandbox", pa->pa_listener->pr_sandbox,
	    "method", pa->pa_method, "host", pa->pa_host.h_name, "port",
	    (int)pa->pa_port, "destination", pa->pa_dest, "waiting",
	    pa->pa_nheld, "joined", pa->pa_joined, "deadline", tbuf,
	    "seconds", pa->pa_listener->pr_policy->pol_body.pb_ask, "once",
	    pa->pa_listener->pr_policy->pol_body.pb_ask_once));
}

/* What "asks" shows of an open question. */
static json_t *
proxy_ask_json(struct proxy_ask *pa)
{
	json_t	*o = proxy_ask_event(pa);
	time_t	 now = time(NULL);

	json_object_set_new(o, "left", json_integer(pa->pa_deadline.tv_sec >
	    now ? (json_int_t)(pa->pa_deadline.tv_sec - now) : 0));
	json_object_set_new(o, "age", json_integer((json_int_t)(now -
	    pa->pa_asked)));
	return (o);
}

/* The open questions of pr, or of every listener (pr NULL). */
json_t *
proxy_ask_list(struct proxy_listener *pr)
{
	struct proxy_ask	*pa;
	json_t			*list;

	if ((list = json_array()) == NULL)
		return (NULL);
	TAILQ_FOREACH(pa, &proxy_asks, pa_entry)
		if (pr == NULL || pa->pa_listener == pr)
			json_array_append_new(list, proxy_ask_json(pa));
	return (list);
}

json_t *
proxy_ask_status(void)
{
	struct proxy_ask	*pa;
	int			 open = 0, held = 0;

	TAILQ_FOREACH(pa, &proxy_asks, pa_entry) {
		open++;
		held += pa->pa_nheld;
	}
	return (json_pack("{s:i, s:i, s:I, s:I, s:I, s:I}", "open", open,
	    "held", held, "asked", (json_int_t)proxy_ask_nasked, "decided",
	    (json_int_t)proxy_ask_ndecided, "expired",
	    (json_int_t)proxy_ask_nexpired, "limited",
	    (json_int_t)proxy_ask_nlimited));
}

/* asks [LISTENER]: the open questions. */
static void
proxy_ctl_asks(struct control_req *cr, json_t *req)
{
	struct proxy_listener	*pr = NULL;
	const char		*name;

	name = json_string_value(json_object_get(req, "listener"));
	if (name != NULL && (pr = proxy_listener_find(name)) == NULL) {
		control_req_error(cr, "no listener \"%s\"", name);
		return;
	}
	control_req_ok(cr, json_pack("{s:o}", "asks", proxy_ask_list(pr)));
}

/*
 * approve ID once|always|deny: answer an open question with the rule
 * it stands for; the held requests go on, or get 403 "denied".
 */
static void
proxy_ctl_approve(struct control_req *cr, json_t *req)
{
	struct proxy_ask	*pa;
	struct proxy_listener	*pr;
	struct timespec		 ts;
	const char		*decision, *who, *d;
	json_t			*row, *reply;
	char			 err[512], text[320], by[160], tbuf[32];
	int64_t			 id;
	time_t			 at = 0;
	int			 allow, waiting, r;

	id = (int64_t)json_integer_value(json_object_get(req, "id"));
	decision = json_string_value(json_object_get(req, "decision"));
	if (strcmp(decision, "once") != 0 && strcmp(decision, "always") != 0 &&
	    strcmp(decision, "deny") != 0) {
		control_req_error(cr, "decision \"%s\": once, always or deny",
		    decision);
		return;
	}
	if ((pa = proxy_ask_find(id)) == NULL) {
		if ((row = store_ask_get(id)) == NULL) {
			control_req_error(cr, "no question %" PRId64, id);
			return;
		}
		d = json_string_value(json_object_get(row, "decision"));
		who = json_string_value(json_object_get(row, "by"));
		control_req_error(cr, "question %" PRId64 " (%s %s:%"
		    JSON_INTEGER_FORMAT ") is closed: %s%s%s", id,
		    json_string_value(json_object_get(row, "method")),
		    json_string_value(json_object_get(row, "host")),
		    json_integer_value(json_object_get(row, "port")),
		    d != NULL ? d : "open in a stopped sbxd",
		    who != NULL ? " by " : "", who != NULL ? who : "");
		json_decref(row);
		return;
	}
	pr = pa->pa_listener;
	allow = strcmp(decision, "deny") != 0;
	if (strcmp(decision, "once") == 0)
		at = time(NULL) + pr->pr_policy->pol_body.pb_ask_once;
	if ((who = control_req_who(cr)) != NULL)
		snprintf(by, sizeof(by), "%s", who);
	else
		snprintf(by, sizeof(by), "uid %d", (int)control_req_uid(cr));
	/* The rule's own recheck must not end it as decided by a rule. */
	pa->pa_deciding = 1;
	r = proxy_rules_add(pr, pa->pa_dest, allow, at, control_req_uid(cr),
	    who, text, sizeof(text), err, sizeof(err));
	pa->pa_deciding = 0;
	if (r == -1) {
		control_req_error(cr, "question %" PRId64 ": %s", id, err);
		return;
	}
	waiting = pa->pa_nheld;
	proxy_ask_end(pa, decision, by, text, allow ? NULL : "denied", at);
	reply = json_pack("{s:I, s:s, s:s, s:i, s:s?}", "id", (json_int_t)id,
	    "decision", decision, "rule", text, "waiting", waiting, "sandbox",
	    pr->pr_sandbox);
	if (at != 0) {
		ts.tv_sec = at;
		ts.tv_nsec = 0;
		util_rfc3339(&ts, tbuf, sizeof(tbuf));
		json_object_set_new(reply, "expires", json_string(tbuf));
		json_object_set_new(reply, "seconds", json_integer(
		    (json_int_t)(at - time(NULL))));
	}
	control_req_ok(cr, reply);
}
