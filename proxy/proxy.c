/*
 * proxy.c: the proxy component: its listeners, their binding to a policy,
 * and their lifecycle across reloads.  A listener that stays in the
 * config keeps its socket; only its policy binding moves to the new
 * config.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <jansson.h>

#include "config.h"
#include "log.h"
#include "sbxd.h"
#include "proxy.h"

static int	proxy_init(struct sbxd_config *);
static int	proxy_reload(struct sbxd_config *, json_t *);
static void	proxy_shutdown(void);
static json_t	*proxy_status(void);
static struct proxy_listener *proxy_listener_find(
		    const struct sockaddr_storage *);
static struct proxy_listener *proxy_listener_open(struct proxy_listen *,
		    json_t *);
static void	proxy_listener_close(struct proxy_listener *);
static void	proxy_acceptcb(struct evconnlistener *, evutil_socket_t,
		    struct sockaddr *, int, void *);
static void	proxy_accept_errorcb(struct evconnlistener *, void *);
static void	proxy_resumecb(evutil_socket_t, short, void *);

const struct sbxd_component proxy_component = {
	"proxy", proxy_init, proxy_reload, proxy_shutdown, proxy_status
};

static struct proxy_listeners	 proxy_listeners =
				    TAILQ_HEAD_INITIALIZER(proxy_listeners);
static struct event		*proxy_ev_resume;
static uint64_t			 proxy_accepted;

/* Open every configured listener; any failure stops startup. */
static int
proxy_init(struct sbxd_config *conf)
{
	struct proxy_listen	*pl;

	proxy_ev_resume = evtimer_new(sbxd_env->sx_base, proxy_resumecb,
	    NULL);
	if (proxy_ev_resume == NULL)
		return (-1);
	TAILQ_FOREACH(pl, &conf->sc_listens, pl_entry)
		if (proxy_listener_open(pl, NULL) == NULL)
			return (-1);
	return (0);
}

/*
 * Move to conf: keep listeners still configured (rebinding their policy),
 * open new ones, close those that went.  A listener that cannot be opened
 * is reported in errors; the others are applied.
 */
static int
proxy_reload(struct sbxd_config *conf, json_t *errors)
{
	struct proxy_listener	*pr, *next;
	struct proxy_listen	*pl;
	int			 r = 0;

	TAILQ_FOREACH(pr, &proxy_listeners, pr_entry)
		pr->pr_seen = 0;
	TAILQ_FOREACH(pl, &conf->sc_listens, pl_entry) {
		if ((pr = proxy_listener_find(&pl->pl_ss)) != NULL) {
			pr->pr_policy = pl->pl_policy;
			pr->pr_seen = 1;
		} else if ((pr = proxy_listener_open(pl, errors)) != NULL)
			pr->pr_seen = 1;
		else
			r = -1;
	}
	TAILQ_FOREACH_SAFE(pr, &proxy_listeners, pr_entry, next)
		if (!pr->pr_seen)
			proxy_listener_close(pr);
	return (r);
}

/* Stop accepting and close everything. */
static void
proxy_shutdown(void)
{
	struct proxy_listener	*pr;

	while ((pr = TAILQ_FIRST(&proxy_listeners)) != NULL)
		proxy_listener_close(pr);
	if (proxy_ev_resume != NULL) {
		event_free(proxy_ev_resume);
		proxy_ev_resume = NULL;
	}
}

static struct proxy_listener *
proxy_listener_find(const struct sockaddr_storage *ss)
{
	struct proxy_listener	*pr;

	TAILQ_FOREACH(pr, &proxy_listeners, pr_entry)
		if (util_sockaddr_cmp((struct sockaddr *)&pr->pr_ss,
		    (const struct sockaddr *)ss) == 0)
			return (pr);
	return (NULL);
}

/* Bind and listen for pl; errors go to the log and to errors. */
static struct proxy_listener *
proxy_listener_open(struct proxy_listen *pl, json_t *errors)
{
	struct proxy_listener	*pr;
	char			*msg;

	if ((pr = calloc(1, sizeof(*pr))) == NULL)
		return (NULL);
	memcpy(&pr->pr_ss, &pl->pl_ss, sizeof(pr->pr_ss));
	pr->pr_sslen = pl->pl_sslen;
	pr->pr_policy = pl->pl_policy;
	util_sockaddr_str((struct sockaddr *)&pr->pr_ss, pr->pr_name,
	    sizeof(pr->pr_name));
	pr->pr_evl = evconnlistener_new_bind(sbxd_env->sx_base,
	    proxy_acceptcb, pr, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC |
	    LEV_OPT_REUSEABLE, PROXY_BACKLOG, (struct sockaddr *)&pr->pr_ss,
	    pr->pr_sslen);
	if (pr->pr_evl == NULL) {
		xasprintf(&msg, "proxy listen on %s: %s", pr->pr_name,
		    strerror(errno));
		log_warnx("%s", msg);
		if (errors != NULL)
			json_array_append_new(errors, json_string(msg));
		free(msg);
		free(pr);
		return (NULL);
	}
	evconnlistener_set_error_cb(pr->pr_evl, proxy_accept_errorcb);
	TAILQ_INSERT_TAIL(&proxy_listeners, pr, pr_entry);
	log_info("proxy: listening on %s, policy %s", pr->pr_name,
	    pr->pr_policy->pol_name);
	return (pr);
}

static void
proxy_listener_close(struct proxy_listener *pr)
{
	log_info("proxy: closing listener %s", pr->pr_name);
	TAILQ_REMOVE(&proxy_listeners, pr, pr_entry);
	if (pr->pr_evl != NULL)
		evconnlistener_free(pr->pr_evl);
	free(pr);
}

/*
 * XXX The forwarding engine is the next piece of the proxy; until it is
 * in, a client gets a 503 saying so rather than a silent close.
 */
static void
proxy_acceptcb(struct evconnlistener *evl __unused, evutil_socket_t fd,
    struct sockaddr *sa __unused, int salen __unused, void *arg)
{
	struct proxy_listener	*pr = arg;
	static const char	 msg[] = "HTTP/1.1 503 Service Unavailable\r\n"
	    "Content-Type: text/plain\r\nContent-Length: 35\r\n"
	    "Connection: close\r\n\r\nsbxd: forwarding is not available\r\n";

	pr->pr_accepted++;
	proxy_accepted++;
	(void)send(fd, msg, sizeof(msg) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
	close(fd);
}

/* Out of descriptors: pause every listener for a second. */
static void
proxy_accept_errorcb(struct evconnlistener *evl __unused, void *arg __unused)
{
	struct proxy_listener	*pr;
	struct timeval		 tv = { 1, 0 };

	log_warn("proxy: accept");
	if (errno != EMFILE && errno != ENFILE)
		return;
	TAILQ_FOREACH(pr, &proxy_listeners, pr_entry)
		evconnlistener_disable(pr->pr_evl);
	evtimer_add(proxy_ev_resume, &tv);
}

static void
proxy_resumecb(evutil_socket_t fd __unused, short events __unused,
    void *arg __unused)
{
	struct proxy_listener	*pr;

	TAILQ_FOREACH(pr, &proxy_listeners, pr_entry)
		evconnlistener_enable(pr->pr_evl);
}

static json_t *
proxy_status(void)
{
	struct proxy_listener	*pr;
	json_t			*list;

	if (TAILQ_EMPTY(&proxy_listeners))
		return (json_pack("{s:s}", "state", "off"));
	if ((list = json_array()) == NULL)
		return (NULL);
	TAILQ_FOREACH(pr, &proxy_listeners, pr_entry)
		json_array_append_new(list, json_pack("{s:s, s:s, s:I}",
		    "address", pr->pr_name,
		    "policy", pr->pr_policy->pol_name,
		    "accepted", (json_int_t)pr->pr_accepted));
	return (json_pack("{s:s, s:I, s:o}", "state", "up",
	    "accepted", (json_int_t)proxy_accepted,
	    "listeners", list));
}
