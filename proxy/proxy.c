/*
 * proxy.c: the proxy component: listeners, accepting, the session table,
 * judging requests by a listener's policy and runtime rules, and the
 * control commands (allow, deny, rules, sessions).
 *
 * A listener binds a socket to a policy, by name, and to its own list of
 * runtime rules.  Listeners from the config keep their sockets across
 * reloads when they stay; listeners added at run time (one per sandbox)
 * are not in the config at all and survive every reload.  Either way a
 * reload only changes which policy the next request is judged by: open
 * sessions and tunnels go on.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <limits.h>
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
static int	proxy_check(struct sbxd_config *, json_t *);
static void	proxy_shutdown(void);
static json_t	*proxy_status(void);
static struct proxy_listener *proxy_listener_find_addr(
		    const struct sockaddr_storage *);
static struct proxy_listener *proxy_listener_open(const char *,
		    const struct sockaddr_storage *, socklen_t, const char *,
		    json_t *);
static void	proxy_listener_close(struct proxy_listener *);
static struct evconnlistener *proxy_listener_priv(struct proxy_listener *,
		    char *, size_t);
static void	proxy_unboundcb(json_t *, const char *, int *, int, void *);
static void	proxy_listener_unbind(struct proxy_listener *);
static int	proxy_listener_bind(struct proxy_listener *,
		    struct sbxd_config *);
static void	proxy_acceptcb(struct evconnlistener *, evutil_socket_t,
		    struct sockaddr *, int, void *);
static void	proxy_accept_errorcb(struct evconnlistener *, void *);
static void	proxy_resumecb(evutil_socket_t, short, void *);
static void	proxy_refuse(int, const char *);
static int	proxy_listener_port(in_port_t);
static int	proxy_github_host(const char *);
static int	proxy_own_listener(struct sockaddr_storage *, socklen_t *);
static const void *proxy_sockaddr_addr(const struct sockaddr_storage *);
static void	proxy_ctl_sessions(struct control_req *, json_t *);
static void	proxy_raise_nofile(void);
static size_t	proxy_listener_kmem(struct proxy_listener *);

/*
 * Descriptors kept out of the proxy's reach, for the control socket,
 * the store, the sandbox module's jobs and the log: a sandbox that
 * opens sessions until the limit never shuts out sbxctl.
 */
#define PROXY_FD_RESERVE	64
#define PROXY_FD_SESSION	6	/* a session at most: two sockets and
					   a pipe each way */
static long			 proxy_nofile;	/* RLIMIT_NOFILE; 0: none */
static uint64_t			 proxy_refused_fds;

const struct sbxd_component proxy_component = {
	.cm_name = "proxy",
	.cm_init = proxy_init,
	.cm_check = proxy_check,
	.cm_reload = proxy_reload,
	.cm_shutdown = proxy_shutdown,
	.cm_status = proxy_status,
};

static const struct control_field proxy_no_fields[] = { { NULL, 0 } };

struct proxy_sessions		 proxy_sessions =
				    TAILQ_HEAD_INITIALIZER(proxy_sessions);
struct proxy_stats		 proxy_stats;
struct proxy_listeners		 proxy_listeners =
				    TAILQ_HEAD_INITIALIZER(proxy_listeners);
static struct event		*proxy_ev_resume;
static int			 proxy_nsessions_count(void);

/* The running proxy settings. */
struct proxy_conf *
proxy_conf(void)
{
	return (&sbxd_env->sx_conf->sc_proxy);
}

/* Open every configured listener; any failure stops startup. */
static int
proxy_init(struct sbxd_config *conf)
{
	struct proxy_listen	*pl;
	char			 name[64];

	if (proxy_rules_init() == -1 || proxy_ask_init() == -1 ||
	    proxy_gw_init() == -1)
		return (-1);
	control_register("sessions", proxy_ctl_sessions, proxy_no_fields);
	proxy_ev_resume = evtimer_new(sbxd_env->sx_base, proxy_resumecb,
	    NULL);
	if (proxy_ev_resume == NULL || proxy_dns_init(conf) == -1 ||
	    proxy_log_open(conf->sc_proxy.pc_accesslog) == -1)
		return (-1);
	proxy_raise_nofile();
	TAILQ_FOREACH(pl, &conf->sc_listens, pl_entry) {
		util_sockaddr_str((struct sockaddr *)&pl->pl_ss, name,
		    sizeof(name));
		if (proxy_listener_open(name, &pl->pl_ss, pl->pl_sslen,
		    pl->pl_policy->pol_name, NULL) == NULL)
			return (-1);
	}
	return (proxy_reload(conf, NULL) == 0 ? 0 : -1);
}

/*
 * Every tunnel holds two sockets and, with splice, two pipes: take all
 * the descriptors the hard limit allows.
 */
static void
proxy_raise_nofile(void)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1) {
			log_warn("proxy: setrlimit");
			(void)getrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	proxy_nofile = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > INT_MAX ?
	    0 : (long)rl.rlim_cur;
}

/*
 * Whether the descriptor fd, and more after it, leave the reserve
 * alone.  The system hands out the lowest free number, so fd counts
 * the descriptors open: its number is the budget spent.
 */
int
proxy_fd_ok(int fd, int more)
{
	return (proxy_nofile == 0 ||
	    fd + more < proxy_nofile - PROXY_FD_RESERVE);
}

/*
 * What the kernel may queue for one socket each way: a quarter of the
 * proxy buffer.  Set, it stops the kernel from growing a stuck
 * session's buffers to many MiB; the stream through a tunnel does not
 * get slower for it (bench/proxy.sh).  A splice pipe holds up to the
 * proxy buffer.
 */
size_t
proxy_kbuf(void)
{
	size_t	 b = proxy_conf()->pc_buffer / 4;

	return (b < PROXY_KBUF_MIN ? PROXY_KBUF_MIN : b);
}

/*
 * Move to conf: keep listeners still configured, open new ones, close
 * those that went, and bind every listener to its policy in conf.  A
 * listener that cannot be opened is reported in errors.
 */
static int
proxy_reload(struct sbxd_config *conf, json_t *errors)
{
	struct proxy_listener	*pr, *next;
	struct proxy_listen	*pl;
	char			 name[64];
	int			 r = 0;

	if (errors != NULL && (proxy_dns_reload(conf, errors) == -1 ||
	    proxy_log_open(conf->sc_proxy.pc_accesslog) == -1))
		r = -1;
	if (errors != NULL)
		proxy_gw_reload();
	TAILQ_FOREACH(pr, &proxy_listeners, pr_entry)
		pr->pr_seen = pr->pr_runtime;
	TAILQ_FOREACH(pl, &conf->sc_listens, pl_entry) {
		if ((pr = proxy_listener_find_addr(&pl->pl_ss)) == NULL) {
			util_sockaddr_str((struct sockaddr *)&pl->pl_ss, name,
			    sizeof(name));
			pr = proxy_listener_open(name, &pl->pl_ss,
			    pl->pl_sslen, pl->pl_policy->pol_name, errors);
		}
		if (pr == NULL) {
			r = -1;
			continue;
		}
		snprintf(pr->pr_policyname, sizeof(pr->pr_policyname), "%s",
		    pl->pl_policy->pol_name);
		pr->pr_max_sessions = pl->pl_max_sessions;
		pr->pr_seen = 1;
	}
	TAILQ_FOREACH_SAFE(pr, &proxy_listeners, pr_entry, next) {
		if (!pr->pr_seen)
			proxy_listener_close(pr);
		else if (proxy_listener_bind(pr, conf) == -1) {
			/* proxy_check refused such a config: fail closed. */
			log_warnx("proxy: listener %s: policy \"%s\" is gone; "
			    "closing it", pr->pr_name, pr->pr_policyname);
			proxy_listener_close(pr);
			r = -1;
		} else
			proxy_ask_recheck(pr, "the configuration");
	}
	return (r);
}

/*
 * Before a reload: every listener the config does not name (a
 * sandbox's) must find its policy in conf, or the reload is refused.
 */
static int
proxy_check(struct sbxd_config *conf, json_t *errors)
{
	struct proxy_listener	*pr;
	int			 r = 0;

	TAILQ_FOREACH(pr, &proxy_listeners, pr_entry) {
		if (!pr->pr_runtime ||
		    config_policy_find(conf, pr->pr_policyname) != NULL)
			continue;
		json_array_append_new(errors, json_sprintf("%s: policy \"%s\" "
		    "is not defined, and listener %s%s%s uses it",
		    sbxd_env->sx_conffile, pr->pr_policyname, pr->pr_name,
		    pr->pr_sandbox != NULL ? " of sandbox " : "",
		    pr->pr_sandbox != NULL ? pr->pr_sandbox : ""));
		r = -1;
	}
	return (r);
}

/*
 * Point pr at its policy in conf; -1 (and pr unchanged) if conf has no
 * such policy.  A listener is never without one.
 */
static int
proxy_listener_bind(struct proxy_listener *pr, struct sbxd_config *conf)
{
	struct policy	*pol;

	if ((pol = config_policy_find(conf, pr->pr_policyname)) == NULL)
		return (-1);
	pr->pr_policy = pol;
	if (pr->pr_sandbox != NULL)
		pr->pr_max_sessions = conf->sc_sandbox.sbc_max_sessions;
	return (0);
}

/* Stop accepting, close every session, then everything else. */
static void
proxy_shutdown(void)
{
	struct proxy_listener	*pr;
	struct proxy_session	*ps;

	TAILQ_FOREACH(pr, &proxy_listeners, pr_entry)
		if (pr->pr_evl != NULL)
			evconnlistener_disable(pr->pr_evl);
	proxy_ask_shutdown();
	proxy_gw_shutdown();
	while ((ps = TAILQ_FIRST(&proxy_sessions)) != NULL)
		proxy_session_close(ps, "shutdown");
	while ((pr = TAILQ_FIRST(&proxy_listeners)) != NULL)
		proxy_listener_close(pr);
	if (proxy_ev_resume != NULL) {
		event_free(proxy_ev_resume);
		proxy_ev_resume = NULL;
	}
	proxy_rules_shutdown();
	proxy_dns_shutdown();
	proxy_log_close();
}

struct proxy_listener *
proxy_listener_find(const char *name)
{
	struct proxy_listener	*pr;

	TAILQ_FOREACH(pr, &proxy_listeners, pr_entry)
		if (strcmp(pr->pr_name, name) == 0 ||
		    strcmp(pr->pr_addr, name) == 0)
			return (pr);
	return (NULL);
}

static struct proxy_listener *
proxy_listener_find_addr(const struct sockaddr_storage *ss)
{
	struct proxy_listener	*pr;

	TAILQ_FOREACH(pr, &proxy_listeners, pr_entry)
		if (util_sockaddr_cmp((struct sockaddr *)&pr->pr_ss,
		    (const struct sockaddr *)ss) == 0)
			return (pr);
	return (NULL);
}

/* Bind and listen; errors go to the log and to errors. */
static struct proxy_listener *
proxy_listener_open(const char *name, const struct sockaddr_storage *ss,
    socklen_t sslen, const char *policy, json_t *errors)
{
	struct proxy_listener	*pr;
	char			 msg[256], addr[sizeof(pr->pr_addr)];

	util_sockaddr_str((const struct sockaddr *)ss, addr, sizeof(addr));
	if ((pr = calloc(1, sizeof(*pr))) == NULL ||
	    (pr->pr_extra = policy_rules_new()) == NULL) {
		snprintf(msg, sizeof(msg), "proxy listen on %s: out of memory",
		    addr);
		goto fail;
	}
	memcpy(&pr->pr_ss, ss, sizeof(pr->pr_ss));
	pr->pr_sslen = sslen;
	snprintf(pr->pr_name, sizeof(pr->pr_name), "%s", name);
	snprintf(pr->pr_addr, sizeof(pr->pr_addr), "%s", addr);
	snprintf(pr->pr_policyname, sizeof(pr->pr_policyname), "%s", policy);
	if (priv_on())
		pr->pr_evl = proxy_listener_priv(pr, msg, sizeof(msg));
	else
		pr->pr_evl = evconnlistener_new_bind(sbxd_env->sx_base,
		    proxy_acceptcb, pr, LEV_OPT_CLOSE_ON_FREE |
		    LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_REUSEABLE |
		    LEV_OPT_DEFERRED_ACCEPT, PROXY_BACKLOG,
		    (struct sockaddr *)&pr->pr_ss, pr->pr_sslen);
	if (pr->pr_evl == NULL && priv_on())
		goto fail;
	if (pr->pr_evl == NULL) {
		snprintf(msg, sizeof(msg), "proxy listen on %s: %s", addr,
		    strerror(errno));
		goto fail;
	}
	evconnlistener_set_error_cb(pr->pr_evl, proxy_accept_errorcb);
	proxy_rules_load(pr);
	TAILQ_INSERT_TAIL(&proxy_listeners, pr, pr_entry);
	log_info("proxy: listening on %s, policy %s", pr->pr_addr, policy);
	return (pr);
fail:
	log_warnx("%s", msg);
	if (errors != NULL)
		json_array_append_new(errors, json_string(msg));
	if (pr != NULL) {
		policy_rules_free(pr->pr_extra);
		free(pr);
	}
	return (NULL);
}

/*
 * Open a listener that the config does not name, for a sandbox: it
 * survives reloads until proxy_listener_remove.  Returns 0, or -1 with
 * err.
 */
int
proxy_listener_add(const char *sandbox, const struct sockaddr_storage *ss,
    socklen_t sslen, const char *policy, char *err, size_t errlen)
{
	struct proxy_listener	*pr;
	json_t			*errors;

	if (proxy_listener_find(sandbox) != NULL ||
	    proxy_listener_find_addr(ss) != NULL) {
		snprintf(err, errlen, "a listener for %s or its address "
		    "exists", sandbox);
		return (-1);
	}
	errors = json_array();
	pr = proxy_listener_open(sandbox, ss, sslen, policy, errors);
	if (pr == NULL) {
		snprintf(err, errlen, "%s", json_array_size(errors) > 0 ?
		    json_string_value(json_array_get(errors, 0)) :
		    "out of memory");
		json_decref(errors);
		return (-1);
	}
	json_decref(errors);
	pr->pr_runtime = 1;
	if ((pr->pr_sandbox = strdup(sandbox)) == NULL) {
		snprintf(err, errlen, "out of memory");
		proxy_listener_close(pr);
		return (-1);
	}
	if (proxy_listener_bind(pr, sbxd_env->sx_conf) == -1) {
		snprintf(err, errlen, "policy \"%s\" is not defined", policy);
		proxy_listener_close(pr);
		return (-1);
	}
	return (0);
}

/* github.com or a name below it. */
static int
proxy_github_host(const char *name)
{
	size_t	 n = strlen(name);

	return (strcmp(name, "github.com") == 0 || (n > 11 &&
	    strcmp(name + n - 11, ".github.com") == 0));
}

/*
 * Whether sandbox's listener refuses GitHub (its repositories go
 * through its gateway); 0, or -1 if it has no listener.
 */
int
proxy_listener_github(const char *sandbox, int on)
{
	struct proxy_listener	*pr;

	TAILQ_FOREACH(pr, &proxy_listeners, pr_entry)
		if (pr->pr_sandbox != NULL && strcmp(pr->pr_sandbox,
		    sandbox) == 0) {
			pr->pr_github = on;
			return (0);
		}
	return (-1);
}

/* Close a sandbox's listener and its sessions; 0, or -1 if none. */
int
proxy_listener_remove(const char *sandbox)
{
	struct proxy_listener	*pr;

	TAILQ_FOREACH(pr, &proxy_listeners, pr_entry)
		if (pr->pr_sandbox != NULL && strcmp(pr->pr_sandbox,
		    sandbox) == 0) {
			proxy_listener_close(pr);
			return (0);
		}
	return (-1);
}

/* Whether a sandbox's listener is open. */
int
proxy_listener_up(const char *sandbox)
{
	struct proxy_listener	*pr;

	TAILQ_FOREACH(pr, &proxy_listeners, pr_entry)
		if (pr->pr_sandbox != NULL && strcmp(pr->pr_sandbox,
		    sandbox) == 0)
			return (pr->pr_evl != NULL);
	return (0);
}

/* Close a listener; its sessions go with it. */
static void
proxy_listener_close(struct proxy_listener *pr)
{
	struct proxy_session	*ps, *next;

	log_info("proxy: closing listener %s", pr->pr_addr);
	proxy_rules_forget(pr->pr_name);
	proxy_ask_forget(pr);
	TAILQ_FOREACH_SAFE(ps, &proxy_sessions, ps_entry, next)
		if (ps->ps_listener == pr)
			proxy_session_close(ps, "listener closed");
	proxy_pool_flush(pr);
	TAILQ_REMOVE(&proxy_listeners, pr, pr_entry);
	if (pr->pr_evl != NULL) {
		evconnlistener_free(pr->pr_evl);
		if (priv_on())
			proxy_listener_unbind(pr);
	}
	policy_rules_free(pr->pr_extra);
	free(pr->pr_sandbox);
	free(pr);
}

static int
proxy_nsessions_count(void)
{
	struct proxy_listener	*pr;
	int			 n = 0;

	TAILQ_FOREACH(pr, &proxy_listeners, pr_entry)
		n += pr->pr_nsessions;
	return (n);
}

/*
 * The engine: the privileged process binds the socket (ports below 1024
 * are root's) and keeps it bound while a new engine starts.
 */
static struct evconnlistener *
proxy_listener_priv(struct proxy_listener *pr, char *msg, size_t msglen)
{
	struct evconnlistener	*evl;
	json_t			*r;
	char			 addr[INET6_ADDRSTRLEN], err[256];
	int			 fds[PRIV_FDS_MAX], nfds;

	util_addr_str((struct sockaddr *)&pr->pr_ss, addr, sizeof(addr));
	r = priv_call("bind", json_pack("{s:s, s:i, s:i}", "address", addr,
	    "port", (int)util_sockaddr_port((struct sockaddr *)&pr->pr_ss),
	    "backlog", PROXY_BACKLOG), fds, &nfds, err, sizeof(err));
	if (r == NULL || nfds != 1) {
		snprintf(msg, msglen, "proxy listen on %.64s: %.160s",
		    pr->pr_addr, r == NULL ? err : "no socket");
		json_decref(r);
		while (nfds > 0)
			close(fds[--nfds]);
		return (NULL);
	}
	json_decref(r);
	(void)evutil_make_tcp_listen_socket_deferred(fds[0]);
	if (evutil_make_socket_nonblocking(fds[0]) == -1 ||
	    (evl = evconnlistener_new(sbxd_env->sx_base, proxy_acceptcb, pr,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fds[0])) ==
	    NULL) {
		snprintf(msg, msglen, "proxy listen on %s: %s", pr->pr_addr,
		    strerror(errno));
		close(fds[0]);
		return (NULL);
	}
	return (evl);
}

static void
proxy_unboundcb(json_t *r __unused, const char *err, int *fds, int nfds,
    void *arg __unused)
{
	while (nfds > 0)
		close(fds[--nfds]);
	if (err != NULL)
		log_warnx("proxy: unbind: %s", err);
}

/* The listener is closed for good: so is the privileged one's socket. */
static void
proxy_listener_unbind(struct proxy_listener *pr)
{
	char	 addr[INET6_ADDRSTRLEN];

	util_addr_str((struct sockaddr *)&pr->pr_ss, addr, sizeof(addr));
	if (priv_send("unbind", json_pack("{s:s, s:i}", "address", addr,
	    "port", (int)util_sockaddr_port((struct sockaddr *)&pr->pr_ss)),
	    proxy_unboundcb, NULL) == 0)
		log_warnx("proxy: cannot unbind %s", pr->pr_addr);
}

static void
proxy_acceptcb(struct evconnlistener *evl __unused, evutil_socket_t fd,
    struct sockaddr *sa, int salen __unused, void *arg)
{
	struct proxy_listener	*pr = arg;
	struct proxy_conf	*pc = proxy_conf();

	pr->pr_accepted++;
	proxy_stats.st_accepted++;
	if (!proxy_fd_ok(fd, PROXY_FD_SESSION)) {
		pr->pr_refused++;
		proxy_stats.st_refused++;
		if (proxy_refused_fds++ % 1000 == 0)
			log_warnx("proxy: out of descriptors (limit %ld, %d "
			    "kept for sbxd): refusing sessions (%llu so far)",
			    proxy_nofile, PROXY_FD_RESERVE,
			    (unsigned long long)proxy_refused_fds);
		proxy_refuse(fd, "out of descriptors");
		return;
	}
	if (proxy_nsessions_count() >= pc->pc_max_sessions ||
	    (pr->pr_max_sessions > 0 &&
	    pr->pr_nsessions >= pr->pr_max_sessions)) {
		pr->pr_refused++;
		proxy_stats.st_refused++;
		proxy_refuse(fd, "too many sessions");
		return;
	}
	proxy_session_new(pr, fd, sa);
}

/* Over a limit: a 503 if the socket takes it at once, then close. */
static void
proxy_refuse(int fd, const char *why)
{
	char	 buf[256];
	int	 n;

	n = snprintf(buf, sizeof(buf), "HTTP/1.1 503 Service Unavailable\r\n"
	    "Content-Type: text/plain\r\nContent-Length: %zu\r\n"
	    "Connection: close\r\n\r\nsbxd: %s\n", strlen(why) + 7, why);
	(void)send(fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	close(fd);
}

/* Out of descriptors: pause every listener for a second (relayd). */
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

/*
 * Judge the request of ps by its listener's policy and runtime rules.
 * Returns 0 to go on, or -1 with *why (a stable reason) and *rule (the
 * rule that decided, NULL for the default).  An address literal is also
 * judged as an address, as proxy_judge_addr does, and left in ps_up_ss
 * to connect to.
 */
int
proxy_judge(struct proxy_session *ps, const char **why, const char **rule)
{
	struct proxy_listener		*pr = ps->ps_listener;
	struct proxy_http_request	*rq = &ps->ps_req;
	const struct policy_rule	*ru;
	enum policy_action		 action;

	/*
	 * An address of ours on a listener's port is refused before any
	 * rule, so that the refusal never advises a rule: none would help.
	 */
	if (rq->rq_host.h_family != 0 && util_addr_parse(rq->rq_host.h_name,
	    rq->rq_port, &ps->ps_up_ss, &ps->ps_up_sslen) == 0 &&
	    proxy_own_listener(&ps->ps_up_ss, &ps->ps_up_sslen)) {
		*rule = NULL;
		*why = "own-listener";
		return (-1);
	}
	/*
	 * A sandbox with repositories reaches GitHub through its gateway
	 * alone, where each push is checked; whatever its rules say.
	 */
	if (pr->pr_github && rq->rq_host.h_family == 0 &&
	    proxy_github_host(rq->rq_host.h_name)) {
		*rule = NULL;
		*why = "github-gateway";
		return (-1);
	}
	ru = policy_match(&pr->pr_policy->pol_body, pr->pr_extra,
	    &rq->rq_host, rq->rq_port, &action);
	*rule = ru != NULL ? policy_rule_text(ru) : "default";
	if (action != POLICY_ALLOW) {
		*why = "policy";
		return (-1);
	}
	if (rq->rq_host.h_family == 0)
		return (0);
	if (util_addr_parse(rq->rq_host.h_name, rq->rq_port, &ps->ps_up_ss,
	    &ps->ps_up_sslen) == -1) {
		*why = "bad-address";
		return (-1);
	}
	return (proxy_judge_addr(ps, &ps->ps_up_ss, &ps->ps_up_sslen, why,
	    rule));
}

/*
 * May ps connect to ss, which has the request's port?  An address that
 * carries an IPv4 one becomes it first, in ss.  Any address of this
 * host on the port of one of our listeners is refused, whatever the
 * policy: a sandbox never reaches another's listener, or its own again.
 * Then the address rules, block ones included, and the address's class
 * decide; this host's own addresses count as loopback.  0, or -1 with
 * *why and *rule (the deciding rule's text, or NULL).
 */
int
proxy_judge_addr(struct proxy_session *ps, struct sockaddr_storage *ss,
    socklen_t *sslen, const char **why, const char **rule)
{
	struct proxy_listener		*pr = ps->ps_listener;
	const struct policy_rule	*ru;
	const void			*addr;
	int				 local;

	*rule = NULL;
	if (ss->ss_family != AF_INET && ss->ss_family != AF_INET6) {
		*why = "bad-address";
		return (-1);
	}
	if (proxy_own_listener(ss, sslen)) {
		*why = "own-listener";
		return (-1);
	}
	addr = proxy_sockaddr_addr(ss);
	local = util_addr_local(ss->ss_family, addr);
	if (policy_addr_check(&pr->pr_policy->pol_body, pr->pr_extra,
	    ss->ss_family, addr, util_sockaddr_port((struct sockaddr *)ss),
	    local, why, &ru) == -1) {
		*rule = ru != NULL ? policy_rule_text(ru) : NULL;
		return (-1);
	}
	return (0);
}

/* The address inside ss, AF_INET or AF_INET6. */
static const void *
proxy_sockaddr_addr(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (&((const struct sockaddr_in *)ss)->sin_addr);
	return (&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

/*
 * Whether ss, once an address that carries an IPv4 one has become it,
 * is an address of this host on the port of one of our listeners.
 */
static int
proxy_own_listener(struct sockaddr_storage *ss, socklen_t *sslen)
{
	util_sockaddr_unmap(ss, sslen);
	if (ss->ss_family != AF_INET && ss->ss_family != AF_INET6)
		return (0);
	return (util_addr_local(ss->ss_family, proxy_sockaddr_addr(ss)) &&
	    proxy_listener_port(util_sockaddr_port((struct sockaddr *)ss)));
}

/* Whether one of our listeners has port, on any address. */
static int
proxy_listener_port(in_port_t port)
{
	struct proxy_listener	*pr;

	TAILQ_FOREACH(pr, &proxy_listeners, pr_entry)
		if (util_sockaddr_port((struct sockaddr *)&pr->pr_ss) == port)
			return (1);
	return (0);
}

/* What the kernel holds for the listener's sessions now. */
static size_t
proxy_listener_kmem(struct proxy_listener *pr)
{
	struct proxy_session	*ps;
	size_t			 n = 0;

	TAILQ_FOREACH(ps, &proxy_sessions, ps_entry)
		if (ps->ps_listener == pr)
			n += proxy_session_kmem(ps);
	return (n);
}

/* sessions: every live session. */
static void
proxy_ctl_sessions(struct control_req *cr, json_t *req __unused)
{
	struct proxy_session	*ps;
	json_t			*list = json_array();

	TAILQ_FOREACH(ps, &proxy_sessions, ps_entry)
		json_array_append_new(list, proxy_session_json(ps));
	control_req_ok(cr, json_pack("{s:o}", "sessions", list));
}

static json_t *
proxy_status(void)
{
	struct proxy_listener	*pr;
	json_t			*list, *st;

	if (TAILQ_EMPTY(&proxy_listeners))
		return (json_pack("{s:s}", "state", "off"));
	if ((list = json_array()) == NULL)
		return (NULL);
	TAILQ_FOREACH(pr, &proxy_listeners, pr_entry)
		json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s?, "
		    "s:i, s:i, s:I, s:I, s:I, s:I}", "name", pr->pr_name,
		    "address", pr->pr_addr, "policy", pr->pr_policy->pol_name,
		    "sandbox", pr->pr_sandbox, "sessions", pr->pr_nsessions,
		    "max_sessions", pr->pr_max_sessions > 0 ?
		    pr->pr_max_sessions : proxy_conf()->pc_max_sessions,
		    "accepted", (json_int_t)pr->pr_accepted, "refused",
		    (json_int_t)pr->pr_refused, "kernel_queued",
		    (json_int_t)proxy_listener_kmem(pr), "kernel_max",
		    (json_int_t)PROXY_KMEM_SESSION(proxy_kbuf(),
		    proxy_conf()->pc_buffer) *
		    (pr->pr_max_sessions > 0 ? pr->pr_max_sessions :
		    proxy_conf()->pc_max_sessions)));
	st = json_pack("{s:s, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
	    "s:I, s:I, s:i}",
	    "state", "up", "sessions", proxy_nsessions_count(),
	    "accepted", (json_int_t)proxy_stats.st_accepted,
	    "refused", (json_int_t)proxy_stats.st_refused,
	    "requests", (json_int_t)proxy_stats.st_requests,
	    "tunnels", (json_int_t)proxy_stats.st_tunnels,
	    "blocked", (json_int_t)proxy_stats.st_blocked,
	    "rejected", (json_int_t)proxy_stats.st_rejected,
	    "upstream_errors", (json_int_t)proxy_stats.st_upstream_errors,
	    "reused", (json_int_t)proxy_stats.st_reused,
	    "spliced", (json_int_t)proxy_stats.st_spliced,
	    "pooled", (json_int_t)proxy_stats.st_pooled,
	    "parked", proxy_pool_count());
	json_object_update_new(st, proxy_dns_status());
	json_object_set_new(st, "asks", proxy_ask_status());
	json_object_set_new(st, "gateway", proxy_gw_status());
	json_object_set_new(st, "descriptors", json_pack("{s:I, s:i, s:I}",
	    "limit", (json_int_t)proxy_nofile, "reserve", PROXY_FD_RESERVE,
	    "refused", (json_int_t)proxy_refused_fds));
	json_object_set_new(st, "kernel_buffer", json_integer(
	    (json_int_t)proxy_kbuf()));
	json_object_set_new(st, "listeners", list);
	return (st);
}
