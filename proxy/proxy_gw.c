/*
 * proxy_gw.c: the credential gateway.  Every sandbox with a provider
 * has a second loopback listener, reachable by its uid alone (the
 * firewall's owner rule, as for its proxy).  A request there names a
 * provider by its first path segment (/anthropic/v1/messages); it is
 * routed by proxy_api_route's allowlists, must present the sandbox's
 * phantom key, and goes upstream over TLS (proxy_tls_up.c) with its
 * headers by allowlist and the real key injected.  The response comes
 * back as it arrives, its body de-framed and framed again, so that a
 * side reader (proxy_api_usage.c) sees the usage and, for an OpenAI
 * chat stream the gateway asked for usage, the extra chunk is taken out
 * (proxy_sse_filter).  The key's bytes never go back to the sandbox: any
 * occurrence in a relayed header or body is overwritten.  Each request
 * is one row of the store's api_usage; a provider's budget reserves
 * before forwarding and settles with what the response said.
 */

#include <sys/types.h>
#include <sys/param.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <jansson.h>
#include <openssl/rand.h>

#include "config.h"
#include "log.h"
#include "sbxd.h"
#include "proxy.h"
#include "proxy_api_route.h"
#include "proxy_api_usage.h"
#include "proxy_gh.h"
#include "proxy_git_pkt.h"
#include "proxy_tls_up.h"

#define GW_SESSIONS_MAX		64	/* client connections per sandbox */
#define GW_BODY_MAX		(32 * 1024 * 1024) /* request body bytes:
					   a long conversation resent whole
					   is a few MB */
#define GW_TIMEOUT_UP		600	/* seconds an upstream may be silent
					   in an exchange: the SDKs' own
					   default, so sbxd never cuts first */
#define GW_POOL_IDLE		30	/* seconds an idle upstream is kept */
#define GW_POOL_MAX		8	/* idle upstreams per provider */
#define GW_READ_MAX		(256 * 1024) /* upstream bytes read ahead */
#define GW_RESERVE_OUTPUT	4096	/* output tokens a budget reserves
					   when the request sets no cap */
#define GW_BYTES_PER_TOKEN	4	/* input estimate for a reservation */
#define GW_POOL_KEY		320
#define GW_FLUSH_MSECS		200	/* usage rows wait at most this long
					   for the store: one transaction
					   for a moment's requests */
#define GW_FLUSH_ROWS		256	/* or until this many wait */
#define GW_APP_MARGIN		300	/* seconds a GitHub App's token must
					   have left to be sent */

enum gw_state {
	GW_HEAD,		/* reading a request head */
	GW_BODY,		/* reading its body */
	GW_UPSTREAM,		/* resolving, connecting */
	GW_WAIT,		/* request sent, response head awaited */
	GW_RELAY,		/* response body going to the client */
	GW_CLOSING		/* last bytes to the client, then close */
};

/* A sandbox's gateway listener and what its requests may use. */
struct gw_listener {
	TAILQ_ENTRY(gw_listener)	 gl_entry;
	char				 gl_sandbox[SBXD_NAME_MAX + 1];
	uid_t				 gl_uid;	/* the only client */
	char				 gl_addr[64];
	struct sockaddr_storage		 gl_ss;
	socklen_t			 gl_sslen;
	struct evconnlistener		*gl_evl;
	int				 gl_providers;	/* 1 << provider */
	char				 gl_phantom[PROXY_API_NPROVIDERS]
					    [PROXY_API_PHANTOM_MAX];
	size_t				 gl_phantomlen[PROXY_API_NPROVIDERS];
	char				 gl_gitkey[80];	/* "sbx-git-" and
							   64 hex */
	char				**gl_repos;	/* "owner/repo" */
	size_t				 gl_nrepos;
	char				**gl_globs;	/* push ref globs */
	size_t				 gl_nglobs;
	int				 gl_nsessions;
	uint64_t			 gl_requests;
	struct proxy_gw_counters	 gl_counters;	/* model requests'
							   usage */
	/* the budget of today (UTC) per provider */
	time_t				 gl_day[PROXY_API_NPROVIDERS];
	int64_t				 gl_charged[PROXY_API_NPROVIDERS];
	int64_t				 gl_reserved[PROXY_API_NPROVIDERS];
	/* with a GitHub App: this sandbox's installation token */
	char				*gl_apptok;	/* util_secret_alloc'd */
	size_t				 gl_apptoklen;
	time_t				 gl_appexpires;
	struct proxy_gh_call		*gl_appmint;	/* asking for one */
};
TAILQ_HEAD(gw_listeners, gw_listener);

/* One client connection and the exchange it is in. */
struct gw_session {
	TAILQ_ENTRY(gw_session)		 gs_entry;
	uint64_t			 gs_id;
	struct gw_listener		*gs_gl;
	enum gw_state			 gs_state;
	struct bufferevent		*gs_cli;
	struct bufferevent		*gs_up;
	struct proxy_tls_up		*gs_connect;
	struct proxy_dns_req		*gs_dns;
	char				 gs_pool_key[GW_POOL_KEY];
	struct proxy_http_scan		 gs_scan;
	struct proxy_http_request	 gs_req;
	struct proxy_http_response	 gs_resp;
	struct proxy_http_chunked	 gs_chunk;
	uint64_t			 gs_left;
	struct evbuffer			*gs_body;	/* request body */
	char				*gs_newbody;	/* with include_usage */
	size_t				 gs_newbodylen;
	enum proxy_api_provider		 gs_prov;
	struct proxy_api_route		 gs_route;
	int				 gs_kind;	/* usage kind, -1: none */
	struct proxy_api_usage		 gs_usage;
	struct proxy_api_usage_req	 gs_uq;
	struct proxy_sse_filter		 gs_filter;
	int				 gs_filtering;
	int				 gs_status;	/* to the client */
	const char			*gs_note;	/* why it failed */
	int				 gs_out_chunked; /* to the client */
	int				 gs_out_close;
	int				 gs_reused;	/* upstream from the pool */
	int				 gs_retried;
	int				 gs_up_bytes;	/* upstream said anything */
	int				 gs_truncated;
	int				 gs_broken;	/* out of memory: the
							   response is cut */
	int				 gs_accounted;
	short				 gs_up_eof;	/* upstream's end, seen
							   while its bytes wait
							   for the client */
	int64_t				 gs_reserved;
	uint64_t			 gs_bytes_up;
	uint64_t			 gs_bytes_down;
	struct timespec			 gs_tv;
	char				 gs_ccsession[64]; /* Claude Code's */
	char				*gs_hold;	/* output bytes that may
							   start a key */
	size_t				 gs_holdlen;
	/* the git relay */
	int				 gs_isgit;
	struct proxy_git_route		 gs_git;
	struct proxy_git_policy		 gs_pushpolicy;
	struct proxy_git_push		*gs_push;	/* receive-pack's
							   check */
	int				 gs_push_phase;	/* 0 commands, 1 pack
							   header, 2 past it */
	int				 gs_up_ready;	/* head sent upstream */
	int				 gs_up_chunked;	/* the body too */
	int				 gs_body_done;	/* all of it read */
	const char			*gs_refused;	/* a push refused: why,
							   told once its body is
							   read */
	const char			*gs_refused_why;
	/* pull requests for the gh shim */
	int				 gs_isgh;
	struct proxy_gh_call		*gs_ghcall;
	int				 gs_appwait;	/* for the App's token */
};
TAILQ_HEAD(gw_sessions, gw_session);

/* An idle upstream connection, kept for the next request. */
struct gw_idle {
	TAILQ_ENTRY(gw_idle)		 gi_entry;
	char				 gi_key[GW_POOL_KEY];
	struct bufferevent		*gi_bev;
	struct timespec			 gi_since;	/* monotonic */
};
TAILQ_HEAD(gw_idles, gw_idle);

/* Counters for status. */
static struct {
	uint64_t	 requests;
	uint64_t	 refused;	/* answered by sbxd: 4xx, 5xx */
	uint64_t	 upstream_errors;
	uint64_t	 truncated;
	uint64_t	 reused;
	uint64_t	 over_budget;
	uint64_t	 wrong_uid;	/* connections from another uid */
} gw_stats;

static struct gw_listeners	 gw_listeners =
				    TAILQ_HEAD_INITIALIZER(gw_listeners);
static struct gw_sessions	 gw_sessions =
				    TAILQ_HEAD_INITIALIZER(gw_sessions);
static struct gw_idles		 gw_idles = TAILQ_HEAD_INITIALIZER(gw_idles);
#define GW_SLOTS	(PROXY_API_NPROVIDERS + 1)	/* and GitHub's */
static struct proxy_tls_up_ctx	*gw_ctx[GW_SLOTS];
static int			 gw_ctx_made[GW_SLOTS];
static uint64_t			 gw_next_id = 1;
static int			 gw_nodiag_said;	/* logged once */
static json_t			*gw_pending;	/* usage rows for the store */
static struct event		*gw_flush_ev;

static void	gw_acceptcb(struct evconnlistener *, evutil_socket_t,
		    struct sockaddr *, int, void *);
static void	gw_cli_readcb(struct bufferevent *, void *);
static void	gw_cli_writecb(struct bufferevent *, void *);
static void	gw_cli_eventcb(struct bufferevent *, short, void *);
static void	gw_up_readcb(struct bufferevent *, void *);
static void	gw_up_eventcb(struct bufferevent *, short, void *);
static void	gw_head(struct gw_session *);
static void	gw_body(struct gw_session *);
static void	gw_request(struct gw_session *);
static void	gw_upstream(struct gw_session *);
static void	gw_dnscb(int, struct evutil_addrinfo *, void *);
static void	gw_connect(struct gw_session *, const struct sockaddr *,
		    socklen_t);
static void	gw_connectedcb(struct bufferevent *, const char *, void *);
static void	gw_send(struct gw_session *);
static void	gw_resp_head(struct gw_session *);
static void	gw_resp_body(struct gw_session *);
static void	gw_resp_end(struct gw_session *, int);
static void	gw_up_finish(struct gw_session *);
static void	gw_out(struct gw_session *, const char *, size_t);
static void	gw_filter_outcb(const char *, size_t, void *);
static void	gw_emit(struct gw_session *, const char *, size_t);
static void	gw_write(struct gw_session *, const char *, size_t);
static void	gw_hold_flush(struct gw_session *);
static void	gw_error(struct gw_session *, int, const char *,
		    const char *, int);
static void	gw_next(struct gw_session *);
static void	gw_close(struct gw_session *, const char *);
static void	gw_up_drop(struct gw_session *);
static void	gw_exchange_clear(struct gw_session *);
static void	gw_account(struct gw_session *);
static int	gw_budget_reserve(struct gw_session *,
		    const struct provider_conf *);
static void	gw_budget_settle(struct gw_session *, int64_t);
static const struct provider_conf *gw_provider(enum proxy_api_provider);
struct gw_up;
static struct proxy_tls_up_ctx *gw_tls_ctx(const struct gw_up *, char *,
		    size_t);
static void	gw_pool_put(const char *, struct bufferevent *);
static struct bufferevent *gw_pool_take(const char *);
static void	gw_pool_drop(struct gw_idle *);
static void	gw_pool_readcb(struct bufferevent *, void *);
static void	gw_pool_eventcb(struct bufferevent *, short, void *);
static void	gw_pool_flush(void);
static struct gw_listener *gw_listener_find(const char *);
static void	gw_listener_close(struct gw_listener *);
static void	gw_listener_free(struct gw_listener *);
static int	gw_strv(char *const *, char ***, size_t *);
static int	gw_phantom_bytes(const char *, unsigned char *);
static const char *gw_key_of(const struct gw_session *, size_t *);
static void	gw_ctl_usage(struct control_req *, json_t *);
static void	gw_flush(void);
static void	gw_flushcb(evutil_socket_t, short, void *);
static void	gw_row(json_t *);
static const char *gw_name(const struct gw_session *);
static int	gw_git_head(struct gw_session *);
static int	gw_gitkey_ok(struct gw_session *);
static int	gw_gh_head(struct gw_session *);
static void	gw_gh_request(struct gw_session *);
static void	gw_gh_donecb(void *, int, const char *, const char *,
		    const char *, size_t);
static const char *gw_gh_tokfn(void *, size_t *);
static const char *gw_github_token(struct gw_listener *, size_t *);
static int	gw_app_wait(struct gw_session *);
static void	gw_app_mintcb(void *, int, const char *, const char *,
		    const char *, size_t);
static void	gw_app_forget(struct gw_listener *);
static void	gw_git_body(struct gw_session *);
static int	gw_git_piece(struct gw_session *, const char *, size_t);
static void	gw_git_body_end(struct gw_session *);
static void	gw_git_fail(struct gw_session *, int, const char *,
		    const char *, int);
static void	gw_git_write(struct gw_session *, const char *, size_t);
static void	gw_chunk_add(struct evbuffer *, int, const char *, size_t);
static void	gw_git_send(struct gw_session *, struct evbuffer *);
static int	gw_git_header(const char *, size_t, int);
static char	*gw_basic(const char *, const char *, size_t);
static void	gw_up_writecb(struct bufferevent *, void *);
static void	gw_resp_end_cut(struct gw_session *);
static void	gw_pkt(struct evbuffer *, int, const char *, size_t);
static void	gw_git_report(struct gw_session *);
static void	gw_git_log(struct gw_session *, int64_t);
static void	gw_git_error(struct gw_session *, int, const char *,
		    const char *, int);
static time_t	gw_day_start(time_t);
static int	gw_envadd(char **, size_t *, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));

static const struct control_field gw_usage_fields[] = {
	{ "name", CONTROL_F_STRING },
	{ "since", CONTROL_F_STRING },
	{ NULL, 0 }
};

int
proxy_gw_init(void)
{
	control_register("usage", gw_ctl_usage, gw_usage_fields);
	if (proxy_gh_init() == -1)
		return (-1);
	if ((gw_pending = json_array()) == NULL ||
	    (gw_flush_ev = evtimer_new(sbxd_env->sx_base, gw_flushcb,
	    NULL)) == NULL)
		return (-1);
	return (0);
}

/* The waiting usage rows, into the store in one transaction. */
static void
gw_flush(void)
{
	if (gw_flush_ev != NULL)
		evtimer_del(gw_flush_ev);
	if (gw_pending == NULL || json_array_size(gw_pending) == 0)
		return;
	if (store_usage_add_many(gw_pending) == -1)
		log_warnx("gateway: %zu usage rows were not stored",
		    json_array_size(gw_pending));
	json_array_clear(gw_pending);
}

static void
gw_flushcb(evutil_socket_t fd __unused, short what __unused,
    void *arg __unused)
{
	gw_flush();
}

/* A usage row waits for the next flush. */
static void
gw_row(json_t *row)
{
	struct timespec	 ts;
	struct timeval	 tv;
	char		 now[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	if (util_rfc3339(&ts, now, sizeof(now)) == 0)
		json_object_set_new(row, "time", json_string(now));
	if (gw_pending == NULL || json_array_append(gw_pending, row) == -1) {
		(void)store_usage_add(row);
		return;
	}
	if (json_array_size(gw_pending) >= GW_FLUSH_ROWS)
		gw_flush();
	else if (!evtimer_pending(gw_flush_ev, NULL)) {
		tv.tv_sec = 0;
		tv.tv_usec = GW_FLUSH_MSECS * 1000;
		evtimer_add(gw_flush_ev, &tv);
	}
}

/*
 * A reload: TLS contexts are made again from the new config when next
 * needed, and idle upstreams, which may lead to an old upstream, go.
 */
void
proxy_gw_reload(void)
{
	int	 p;

	struct gw_listener	*gl;
	struct gw_session	*gs, *next;

	for (p = 0; p < GW_SLOTS; p++) {
		proxy_tls_up_ctx_free(gw_ctx[p]);
		gw_ctx[p] = NULL;
		gw_ctx_made[p] = 0;
	}
	gw_pool_flush();
	/* An App's tokens are the old App's: asked for again. */
	TAILQ_FOREACH(gl, &gw_listeners, gl_entry)
		gw_app_forget(gl);
	TAILQ_FOREACH_SAFE(gs, &gw_sessions, gs_entry, next)
		if (gs->gs_appwait) {
			gs->gs_appwait = 0;
			if (gw_app_wait(gs) == 0) {
				if (gs->gs_isgh)
					proxy_gh_start(gs->gs_ghcall);
				else
					gw_upstream(gs);
			}
		}
}

void
proxy_gw_shutdown(void)
{
	struct gw_listener	*gl;

	while ((gl = TAILQ_FIRST(&gw_listeners)) != NULL)
		gw_listener_close(gl);
	proxy_gw_reload();
	gw_flush();
	if (gw_flush_ev != NULL) {
		event_free(gw_flush_ev);
		gw_flush_ev = NULL;
	}
	json_decref(gw_pending);
	gw_pending = NULL;
	proxy_gh_shutdown();
}

json_t *
proxy_gw_status(void)
{
	struct gw_listener	*gl;
	json_t			*list;
	int			 n = 0;

	if ((list = json_array()) == NULL)
		return (NULL);
	TAILQ_FOREACH(gl, &gw_listeners, gl_entry) {
		json_array_append_new(list, json_pack("{s:s, s:s, s:i, s:I}",
		    "sandbox", gl->gl_sandbox, "address", gl->gl_addr,
		    "sessions", gl->gl_nsessions, "requests",
		    (json_int_t)gl->gl_requests));
		n++;
	}
	return (json_pack("{s:i, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
	    "listeners", n, "gateways", list,
	    "requests", (json_int_t)gw_stats.requests,
	    "refused", (json_int_t)gw_stats.refused,
	    "upstream_errors", (json_int_t)gw_stats.upstream_errors,
	    "truncated", (json_int_t)gw_stats.truncated,
	    "reused", (json_int_t)gw_stats.reused,
	    "over_budget", (json_int_t)gw_stats.over_budget,
	    "wrong_uid", (json_int_t)gw_stats.wrong_uid));
}

/*
 * Open sandbox's gateway on ss, for its user uid alone: providers is a
 * mask of 1 << enum proxy_api_provider, phantom the sandbox's secret as
 * 64 hex digits, from which each provider's phantom key is made.  The
 * socket comes from the privileged process, as the proxy listener's.
 * 0, or -1 with err.
 */
int
proxy_gw_add(const char *sandbox, uid_t uid,
    const struct sockaddr_storage *ss, socklen_t sslen, int providers,
    const char *phantom, char *const *repos, char *const *globs, char *err,
    size_t errlen)
{
	struct gw_listener	*gl;
	unsigned char		 rnd[PROXY_API_PHANTOM_RANDOM];
	char			 addr[INET6_ADDRSTRLEN], perr[256];
	json_t			*r;
	int			 fds[PRIV_FDS_MAX], nfds, p, n;

	if (gw_listener_find(sandbox) != NULL) {
		snprintf(err, errlen, "%s has a gateway", sandbox);
		return (-1);
	}
	if (gw_phantom_bytes(phantom, rnd) == -1) {
		snprintf(err, errlen, "no phantom key, or a malformed one");
		return (-1);
	}
	if ((gl = calloc(1, sizeof(*gl))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return (-1);
	}
	snprintf(gl->gl_sandbox, sizeof(gl->gl_sandbox), "%s", sandbox);
	gl->gl_uid = uid;
	memcpy(&gl->gl_ss, ss, sslen);
	gl->gl_sslen = sslen;
	util_sockaddr_str((const struct sockaddr *)ss, gl->gl_addr,
	    sizeof(gl->gl_addr));
	gl->gl_providers = providers;
	snprintf(gl->gl_gitkey, sizeof(gl->gl_gitkey), "sbx-git-%s", phantom);
	if (gw_strv(repos, &gl->gl_repos, &gl->gl_nrepos) == -1 ||
	    gw_strv(globs, &gl->gl_globs, &gl->gl_nglobs) == -1) {
		snprintf(err, errlen, "out of memory");
		gw_listener_free(gl);
		return (-1);
	}
	for (p = 0; p < PROXY_API_NPROVIDERS; p++) {
		n = proxy_api_phantom(p, rnd, gl->gl_phantom[p],
		    sizeof(gl->gl_phantom[p]));
		gl->gl_phantomlen[p] = n > 0 ? (size_t)n : 0;
	}
	util_zero(rnd, sizeof(rnd));
	util_addr_str((const struct sockaddr *)ss, addr, sizeof(addr));
	r = priv_call("bind", json_pack("{s:s, s:i, s:i}", "address", addr,
	    "port", (int)util_sockaddr_port((const struct sockaddr *)ss),
	    "backlog", PROXY_BACKLOG), fds, &nfds, perr, sizeof(perr));
	if (r == NULL || nfds != 1) {
		snprintf(err, errlen, "gateway listen on %s: %s", gl->gl_addr,
		    r == NULL ? perr : "no socket");
		json_decref(r);
		while (nfds > 0)
			close(fds[--nfds]);
		gw_listener_free(gl);
		return (-1);
	}
	json_decref(r);
	(void)evutil_make_tcp_listen_socket_deferred(fds[0]);
	if (evutil_make_socket_nonblocking(fds[0]) == -1 ||
	    (gl->gl_evl = evconnlistener_new(sbxd_env->sx_base, gw_acceptcb,
	    gl, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fds[0])) ==
	    NULL) {
		snprintf(err, errlen, "gateway listen on %s: %s", gl->gl_addr,
		    strerror(errno));
		close(fds[0]);
		gw_listener_free(gl);
		return (-1);
	}
	TAILQ_INSERT_TAIL(&gw_listeners, gl, gl_entry);
	log_debug("gateway %s: listening on %s", sandbox, gl->gl_addr);
	return (0);
}

/*
 * The usage sandbox's gateway read from responses since it opened
 * (requests that reported none are not counted); 0, or -1 without a
 * gateway.  A turn takes it before and after, and the difference is
 * what the turn used, whatever the CLI says.
 */
int
proxy_gw_counters(const char *sandbox, struct proxy_gw_counters *gc)
{
	struct gw_listener	*gl;

	if ((gl = gw_listener_find(sandbox)) == NULL) {
		memset(gc, 0, sizeof(*gc));
		return (-1);
	}
	*gc = gl->gl_counters;
	return (0);
}

/* Close sandbox's gateway and its connections; 0, or -1 if none. */
int
proxy_gw_remove(const char *sandbox)
{
	struct gw_listener	*gl;

	if ((gl = gw_listener_find(sandbox)) == NULL)
		return (-1);
	gw_listener_close(gl);
	return (0);
}

static struct gw_listener *
gw_listener_find(const char *sandbox)
{
	struct gw_listener	*gl;

	TAILQ_FOREACH(gl, &gw_listeners, gl_entry)
		if (strcmp(gl->gl_sandbox, sandbox) == 0)
			return (gl);
	return (NULL);
}

static void
gw_listener_close(struct gw_listener *gl)
{
	struct gw_session	*gs, *next;
	char			 addr[INET6_ADDRSTRLEN];

	TAILQ_FOREACH_SAFE(gs, &gw_sessions, gs_entry, next)
		if (gs->gs_gl == gl)
			gw_close(gs, "gateway closed");
	gw_app_forget(gl);
	TAILQ_REMOVE(&gw_listeners, gl, gl_entry);
	evconnlistener_free(gl->gl_evl);
	util_addr_str((struct sockaddr *)&gl->gl_ss, addr, sizeof(addr));
	(void)priv_send("unbind", json_pack("{s:s, s:i}", "address", addr,
	    "port", (int)util_sockaddr_port((struct sockaddr *)&gl->gl_ss)),
	    NULL, NULL);
	gw_listener_free(gl);
}

static void
gw_listener_free(struct gw_listener *gl)
{
	size_t	 i;

	for (i = 0; i < gl->gl_nrepos; i++)
		free(gl->gl_repos[i]);
	free(gl->gl_repos);
	for (i = 0; i < gl->gl_nglobs; i++)
		free(gl->gl_globs[i]);
	free(gl->gl_globs);
	util_zero(gl, sizeof(*gl));
	free(gl);
}

/* A copy of the NULL-terminated v (NULL: none) and its count. */
static int
gw_strv(char *const *v, char ***out, size_t *n)
{
	size_t	 i, c = 0;

	*out = NULL;
	*n = 0;
	while (v != NULL && v[c] != NULL)
		c++;
	if (c == 0)
		return (0);
	if ((*out = calloc(c + 1, sizeof(**out))) == NULL)
		return (-1);
	for (i = 0; i < c; i++)
		if (((*out)[i] = strdup(v[i])) == NULL)
			return (-1);
	*n = c;
	return (0);
}

/*
 * The environment that points a sandbox's agent CLIs at its gateway on
 * port, for the providers in mask, with the phantom keys made of phantom
 * (64 hex digits): NAME=VALUE strings, NULL-terminated, each and the
 * array malloc'd.  Loopback is reached directly (NO_PROXY), not through
 * the sandbox's proxy.  NULL if memory ran out or phantom is malformed.
 */
/* Append one NAME=VALUE to env; 1 if memory ran out. */
static int
gw_envadd(char **env, size_t *n, const char *fmt, ...)
{
	va_list	 ap;
	char	*v;
	int	 r;

	va_start(ap, fmt);
	r = vasprintf(&v, fmt, ap);
	va_end(ap);
	if (r == -1)
		return (1);
	env[(*n)++] = v;
	return (0);
}

char **
proxy_gw_env(int mask, const char *phantom, in_port_t port, int git)
{
	unsigned char	 rnd[PROXY_API_PHANTOM_RANDOM];
	char		 key[PROXY_API_PHANTOM_MAX], base[64], **env;
	char		 oc[1024];
	size_t		 i, n = 0;
	int		 p, r = 0, first = 1;

	if (gw_phantom_bytes(phantom, rnd) == -1)
		return (NULL);
	if ((env = calloc(32, sizeof(*env))) == NULL)
		return (NULL);
	snprintf(base, sizeof(base), "http://127.0.0.1:%u", (unsigned)port);
	r |= gw_envadd(env, &n, "NO_PROXY=127.0.0.1,localhost,::1");
	r |= gw_envadd(env, &n, "no_proxy=127.0.0.1,localhost,::1");
	/* opencode reads its providers from here, over any opencode.json */
	snprintf(oc, sizeof(oc), "{\"provider\":{");
	for (p = 0; p < PROXY_API_NPROVIDERS && r == 0; p++) {
		if (!(mask & (1 << p)))
			continue;
		if (proxy_api_phantom(p, rnd, key, sizeof(key)) == -1) {
			r = 1;
			break;
		}
		switch (p) {
		case PROXY_API_ANTHROPIC:
			r |= gw_envadd(env, &n, "ANTHROPIC_BASE_URL=%s/"
			    "anthropic", base);
			r |= gw_envadd(env, &n, "ANTHROPIC_API_KEY=%s",
			    key);
			break;
		case PROXY_API_OPENAI:
			r |= gw_envadd(env, &n, "OPENAI_BASE_URL=%s/openai/v1",
			    base);
			r |= gw_envadd(env, &n, "OPENAI_API_KEY=%s", key);
			r |= gw_envadd(env, &n, "CODEX_API_KEY=%s", key);
			break;
		case PROXY_API_GOOGLE:
			r |= gw_envadd(env, &n, "GOOGLE_GEMINI_BASE_URL=%s/"
			    "google", base);
			r |= gw_envadd(env, &n, "GEMINI_API_KEY=%s", key);
			break;
		case PROXY_API_OPENROUTER:
			r |= gw_envadd(env, &n, "OPENROUTER_BASE_URL=%s/"
			    "openrouter/api/v1", base);
			r |= gw_envadd(env, &n, "OPENROUTER_API_KEY=%s",
			    key);
			break;
		}
		snprintf(oc + strlen(oc), sizeof(oc) - strlen(oc), "%s\"%s\":"
		    "{\"options\":{\"baseURL\":\"%s/%s%s\",\"apiKey\":\"%s\"}}",
		    first ? "" : ",", proxy_api_provider_name(p), base,
		    proxy_api_provider_name(p), p == PROXY_API_ANTHROPIC ?
		    "/v1" : p == PROXY_API_OPENAI ? "/v1" :
		    p == PROXY_API_GOOGLE ? "/v1beta" : "/api/v1", key);
		first = 0;
	}
	util_zero(rnd, sizeof(rnd));
	if (r == 0 && mask != 0)
		r |= gw_envadd(env, &n, "OPENCODE_CONFIG_CONTENT=%s}}",
		    oc);
	/*
	 * git: GitHub's URLs lead to the gateway, with the sandbox's key
	 * (GIT_CONFIG_COUNT: configuration from the environment, git 2.31).
	 */
	if (r == 0 && git) {
		r |= gw_envadd(env, &n, "GIT_CONFIG_COUNT=4");
		r |= gw_envadd(env, &n, "GIT_CONFIG_KEY_0=url.%s/git/.insteadOf",
		    base);
		r |= gw_envadd(env, &n, "GIT_CONFIG_VALUE_0=https://github.com/");
		r |= gw_envadd(env, &n, "GIT_CONFIG_KEY_1=url.%s/git/.insteadOf",
		    base);
		r |= gw_envadd(env, &n, "GIT_CONFIG_VALUE_1=git@github.com:");
		r |= gw_envadd(env, &n, "GIT_CONFIG_KEY_2=url.%s/git/.insteadOf",
		    base);
		r |= gw_envadd(env, &n,
		    "GIT_CONFIG_VALUE_2=ssh://git@github.com/");
		r |= gw_envadd(env, &n, "GIT_CONFIG_KEY_3=http.%s/git/."
		    "extraHeader", base);
		r |= gw_envadd(env, &n, "GIT_CONFIG_VALUE_3=Authorization: "
		    "Bearer sbx-git-%s", phantom);
		/* the gh shim's: pull requests through the gateway */
		r |= gw_envadd(env, &n, "SBXD_GH_URL=%s/gh", base);
		r |= gw_envadd(env, &n, "SBXD_GH_KEY=sbx-git-%s", phantom);
	}
	if (r != 0) {
		for (i = 0; env[i] != NULL; i++)
			free(env[i]);
		free(env);
		return (NULL);
	}
	return (env);
}

/* A repository entry of a sandbox, "owner/repo"; why not, else NULL. */
const char *
proxy_gw_repo_why(const char *repo)
{
	const char	*why = NULL;

	return (proxy_git_repo_check(repo, &why) == -1 ? why : NULL);
}

/* A push glob of a sandbox; why not, else NULL. */
const char *
proxy_gw_glob_why(const char *glob)
{
	const char	*why = NULL;

	return (proxy_git_glob_check(glob, &why) == -1 ? why : NULL);
}

/* The push glob of a sandbox that names none, into buf; 0 or -1. */
int
proxy_gw_glob_default(char *buf, size_t size, const char *sandbox)
{
	return (proxy_git_glob_default(buf, size, sandbox));
}

/*
 * The random bytes of a sandbox's phantom keys from their 64 hex
 * digits; 0, or -1 if phantom is not that.
 */
static int
gw_phantom_bytes(const char *phantom, unsigned char *rnd)
{
	unsigned int	 b;
	size_t		 i;

	if (phantom == NULL || strlen(phantom) != 2 * PROXY_API_PHANTOM_RANDOM)
		return (-1);
	for (i = 0; i < PROXY_API_PHANTOM_RANDOM; i++) {
		if (!isxdigit((unsigned char)phantom[2 * i]) ||
		    !isxdigit((unsigned char)phantom[2 * i + 1]) ||
		    sscanf(phantom + 2 * i, "%2x", &b) != 1)
			return (-1);
		rnd[i] = b;
	}
	return (0);
}

/*
 * Connections.
 */

static void
gw_acceptcb(struct evconnlistener *evl __unused, evutil_socket_t fd,
    struct sockaddr *sa __unused, int salen __unused, void *arg)
{
	struct gw_listener	*gl = arg;
	struct gw_session	*gs;
	struct timeval		 tv;
	uid_t			 uid;
	int			 one = 1;

	/*
	 * The firewall's owner rule lets only the sandbox's user (and root)
	 * connect; the kernel's word on who holds the other end is a second
	 * wall.  Without a way to ask (not Linux, or a kernel without
	 * tcp_diag, whose lookups all end in ENOENT) the firewall is all.
	 */
	if (util_peer_uid(fd, &uid) == -1) {
		if (errno == ENOENT && !gw_nodiag_said) {
			log_warnx("gateway: the kernel does not say who holds a "
			    "connection's other end (sock_diag: %s): the "
			    "firewall's owner rule alone guards the gateways",
			    strerror(errno));
			gw_nodiag_said = 1;
		}
		if (errno != ENOTSUP && errno != ENOENT) {
			log_debug("gateway %s: a connection closed, its peer "
			    "unknown: %s", gl->gl_sandbox, strerror(errno));
			evutil_closesocket(fd);
			return;
		}
	} else if (uid != gl->gl_uid) {
		log_warnx("gateway %s: refused a connection from uid %lu",
		    gl->gl_sandbox, (unsigned long)uid);
		gw_stats.wrong_uid++;
		evutil_closesocket(fd);
		return;
	}
	if (gl->gl_nsessions >= GW_SESSIONS_MAX ||
	    (gs = calloc(1, sizeof(*gs))) == NULL) {
		log_warnx("gateway %s: refused a connection: %d open",
		    gl->gl_sandbox, gl->gl_nsessions);
		evutil_closesocket(fd);
		return;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if ((gs->gs_cli = bufferevent_socket_new(sbxd_env->sx_base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		evutil_closesocket(fd);
		free(gs);
		return;
	}
	gs->gs_id = gw_next_id++;
	gs->gs_gl = gl;
	gs->gs_kind = -1;
	gl->gl_nsessions++;
	TAILQ_INSERT_TAIL(&gw_sessions, gs, gs_entry);
	bufferevent_setcb(gs->gs_cli, gw_cli_readcb, gw_cli_writecb,
	    gw_cli_eventcb, gs);
	/*
	 * One timeout for the connection's life, set once: a client waits
	 * silently for a long answer, and only its own user can connect.
	 */
	tv.tv_sec = GW_TIMEOUT_UP;
	tv.tv_usec = 0;
	bufferevent_set_timeouts(gs->gs_cli, &tv, &tv);
	bufferevent_enable(gs->gs_cli, EV_READ | EV_WRITE);
	proxy_http_scan_init(&gs->gs_scan, 0);
}

static void
gw_cli_readcb(struct bufferevent *bev, void *arg)
{
	struct gw_session	*gs = arg;

	switch (gs->gs_state) {
	case GW_HEAD:
		gw_head(gs);
		break;
	case GW_BODY:
		gw_body(gs);
		break;
	case GW_CLOSING:
		evbuffer_drain(bufferevent_get_input(bev),
		    evbuffer_get_length(bufferevent_get_input(bev)));
		break;
	default:
		if (gs->gs_isgit && !gs->gs_body_done) {
			gw_git_body(gs);
			break;
		}
		/* A pipelined request waits; a flood stops being read. */
		if (evbuffer_get_length(bufferevent_get_input(bev)) >
		    PROXY_HTTP_HEAD_MAX)
			bufferevent_disable(bev, EV_READ);
		break;
	}
}

/* The client took its bytes: read upstream again, or close at last. */
static void
gw_cli_writecb(struct bufferevent *bev, void *arg)
{
	struct gw_session	*gs = arg;
	size_t			 out;

	out = evbuffer_get_length(bufferevent_get_output(bev));
	if (gs->gs_state == GW_CLOSING) {
		if (out == 0)
			gw_close(gs, NULL);
		return;
	}
	if (gs->gs_state == GW_RELAY && gs->gs_up != NULL &&
	    out < proxy_conf()->pc_buffer / 2) {
		bufferevent_enable(gs->gs_up, EV_READ);
		if (evbuffer_get_length(bufferevent_get_input(gs->gs_up)) > 0)
			gw_resp_body(gs);
	}
}

static void
gw_cli_eventcb(struct bufferevent *bev __unused, short what, void *arg)
{
	struct gw_session	*gs = arg;

	if (gs->gs_state == GW_HEAD &&
	    evbuffer_get_length(bufferevent_get_input(gs->gs_cli)) == 0 &&
	    (what & (BEV_EVENT_EOF | BEV_EVENT_TIMEOUT))) {
		gw_close(gs, NULL);
		return;
	}
	if (gs->gs_state == GW_CLOSING) {
		gw_close(gs, NULL);
		return;
	}
	if (gs->gs_state >= GW_UPSTREAM) {
		/* The client left mid-exchange: what came is charged. */
		gs->gs_truncated = 1;
		gs->gs_note = "client gone";
		if (gs->gs_kind >= 0 && gs->gs_state == GW_RELAY)
			proxy_api_usage_end(&gs->gs_usage, 0);
		if (gs->gs_status == 0)
			gs->gs_status = 499;
		gw_account(gs);
	}
	gw_close(gs, what & BEV_EVENT_TIMEOUT ? "client timed out" :
	    "client gone");
}

/* A request head: parse, route, check the key, then its body. */
static void
gw_head(struct gw_session *gs)
{
	struct evbuffer			*in = bufferevent_get_input(gs->gs_cli);
	struct gw_listener		*gl = gs->gs_gl;
	struct proxy_http_error		 herr;
	struct proxy_api_error		 aerr;
	struct proxy_api_keycheck	 kc;
	const struct proxy_http_field	*f;
	const char			*seg, *slash;
	size_t				 len, headlen, i, n;
	char				*p;
	int				 r, pv;

	if ((len = evbuffer_get_length(in)) == 0)
		return;
	if (len > PROXY_HTTP_HEAD_MAX + 4)
		len = PROXY_HTTP_HEAD_MAX + 4;
	if ((p = (char *)evbuffer_pullup(in, len)) == NULL) {
		gw_close(gs, "out of memory");
		return;
	}
	r = proxy_http_head_scan(&gs->gs_scan, p, len, &headlen, &herr);
	if (r == PROXY_HTTP_MORE)
		return;
	if (r == PROXY_HTTP_DONE && proxy_http_request_parse_origin(p,
	    headlen, &gs->gs_req, &herr) == -1)
		r = PROXY_HTTP_ERROR;
	gs->gs_prov = PROXY_API_OPENAI;	/* error shape until known */
	util_monotime(&gs->gs_tv);
	gs->gs_kind = -1;
	if (r == PROXY_HTTP_ERROR) {
		evbuffer_drain(in, len);
		gw_error(gs, herr.status, herr.reason, herr.detail, 1);
		return;
	}
	evbuffer_drain(in, headlen);
	gl->gl_requests++;
	gw_stats.requests++;

	/* The provider: the first path segment. */
	seg = gs->gs_req.rq_path + 1;
	n = gs->gs_req.rq_pathlen - 1;
	if ((slash = memchr(seg, '/', n)) != NULL)
		n = slash - seg;
	if (n == 3 && memcmp(seg, "git", 3) == 0) {
		if (gw_git_head(gs) == -1)
			return;
		goto body;
	}
	if (n == 2 && memcmp(seg, "gh", 2) == 0) {
		if (gw_gh_head(gs) == -1)
			return;
		goto body;
	}
	if ((pv = proxy_api_provider_find(seg, n)) == -1) {
		gw_error(gs, 404, "no-provider", "no such API: the path "
		    "starts with /anthropic, /openai, /google or /openrouter",
		    1);
		return;
	}
	gs->gs_prov = pv;
	if (!(gl->gl_providers & (1 << pv)) || gw_provider(pv) == NULL) {
		gw_error(gs, 403, "provider-off", "this sandbox has no key "
		    "for this provider", 1);
		return;
	}
	if (gs->gs_req.rq_msg.hm_flags & PROXY_HTTP_F_WEBSOCKET) {
		gw_error(gs, 404, "websocket", "no WebSocket transport: use "
		    "HTTP", 1);
		return;
	}
	if (proxy_api_route(gs->gs_req.rq_method, gs->gs_req.rq_target,
	    strlen(gs->gs_req.rq_target), &gs->gs_route, &aerr) == -1) {
		gw_error(gs, aerr.ae_status, aerr.ae_reason, aerr.ae_message,
		    1);
		return;
	}
	proxy_api_keycheck_init(&kc);
	for (i = 0; i < gs->gs_req.rq_msg.hm_nfields; i++) {
		f = &gs->gs_req.rq_msg.hm_fields[i];
		(void)proxy_api_keycheck_field(&kc, pv, f->hf_name,
		    f->hf_namelen, f->hf_value, f->hf_valuelen,
		    gl->gl_phantom[pv], gl->gl_phantomlen[pv]);
		if (f->hf_namelen == 24 && strncasecmp(f->hf_name,
		    "X-Claude-Code-Session-Id", 24) == 0 &&
		    f->hf_valuelen < sizeof(gs->gs_ccsession)) {
			memcpy(gs->gs_ccsession, f->hf_value,
			    f->hf_valuelen);
			gs->gs_ccsession[f->hf_valuelen] = '\0';
		}
	}
	if (proxy_api_keycheck_done(&kc) == -1) {
		gw_error(gs, 401, "phantom-key", "the API key is not this "
		    "sandbox's: use the one in its environment", 1);
		return;
	}
	if (proxy_http_field_find(&gs->gs_req.rq_msg, "Content-Encoding",
	    &n) != NULL) {
		gw_error(gs, 415, "content-encoding", "compressed request "
		    "bodies are not relayed", 1);
		return;
	}
 body:
	switch (gs->gs_req.rq_msg.hm_body) {
	case PROXY_HTTP_BODY_LENGTH:
		if (gs->gs_isgh && gs->gs_req.rq_msg.hm_length >
		    PROXY_GH_FORM_MAX) {
			gw_error(gs, 413, "body-too-large", "the form is over "
			    "1 MiB", 1);
			return;
		}
		if (!gs->gs_isgit && gs->gs_req.rq_msg.hm_length >
		    GW_BODY_MAX) {
			gw_error(gs, 413, "body-too-large", "the request "
			    "body is over 32 MiB", 1);
			return;
		}
		gs->gs_left = gs->gs_req.rq_msg.hm_length;
		break;
	case PROXY_HTTP_BODY_CHUNKED:
		proxy_http_chunked_init(&gs->gs_chunk, 0);
		break;
	default:
		gs->gs_left = 0;
		break;
	}
	if ((gs->gs_body = evbuffer_new()) == NULL) {
		gw_close(gs, "out of memory");
		return;
	}
	if ((gs->gs_req.rq_msg.hm_flags & PROXY_HTTP_F_CONTINUE) &&
	    gs->gs_req.rq_msg.hm_body != PROXY_HTTP_BODY_NONE)
		bufferevent_write(gs->gs_cli, "HTTP/1.1 100 Continue\r\n\r\n",
		    25);
	gs->gs_state = GW_BODY;
	gw_body(gs);
}

/* Request body bytes, de-chunked, kept whole. */
static void
gw_body(struct gw_session *gs)
{
	struct evbuffer		*in = bufferevent_get_input(gs->gs_cli);
	struct proxy_http_error	 herr;
	size_t			 len, used, off, dlen;
	char			*p;
	int			 r;

	if (gs->gs_isgit) {
		gw_git_body(gs);
		return;
	}
	switch (gs->gs_req.rq_msg.hm_body) {
	case PROXY_HTTP_BODY_LENGTH:
		len = evbuffer_get_length(in);
		if (len > gs->gs_left)
			len = gs->gs_left;
		if (len > 0 && evbuffer_remove_buffer(in, gs->gs_body, len) !=
		    (int)len) {
			gw_close(gs, "out of memory");
			return;
		}
		gs->gs_left -= len;
		if (gs->gs_left > 0)
			return;
		break;
	case PROXY_HTTP_BODY_CHUNKED:
		for (;;) {
			if ((len = evbuffer_get_length(in)) == 0)
				return;
			p = (char *)evbuffer_pullup(in, len);
			r = proxy_http_chunked_data(&gs->gs_chunk, p, len, &used,
			    &off, &dlen, &herr);
			if (r == PROXY_HTTP_ERROR) {
				gw_error(gs, herr.status, herr.reason,
				    herr.detail, 1);
				return;
			}
			if (dlen > 0 && evbuffer_get_length(gs->gs_body) +
			    dlen > (gs->gs_isgh ? PROXY_GH_FORM_MAX :
			    GW_BODY_MAX)) {
				gw_error(gs, 413, "body-too-large", "the "
				    "request body is over 32 MiB", 1);
				return;
			}
			if (dlen > 0 && evbuffer_add(gs->gs_body, p + off,
			    dlen) == -1) {
				gw_close(gs, "out of memory");
				return;
			}
			evbuffer_drain(in, used);
			if (r == PROXY_HTTP_DONE)
				break;
		}
		break;
	default:
		break;
	}
	gw_request(gs);
}

/* A whole request: what it asks for, its budget, then upstream. */
static void
gw_request(struct gw_session *gs)
{
	const struct provider_conf	*pv;
	struct proxy_api_route		*ar = &gs->gs_route;
	size_t				 len;
	char				*body;
	int				 injected = 0;

	gs->gs_state = GW_UPSTREAM;
	if (gs->gs_isgh) {
		gw_gh_request(gs);
		return;
	}
	if ((pv = gw_provider(gs->gs_prov)) == NULL) {
		gw_error(gs, 403, "provider-off", "this sandbox has no key "
		    "for this provider", 0);
		return;
	}
	len = evbuffer_get_length(gs->gs_body);
	body = (char *)evbuffer_pullup(gs->gs_body, -1);
	gs->gs_kind = -1;
	if (ar->ar_flags & PROXY_API_R_USAGE) {
		switch (ar->ar_endpoint) {
		case PROXY_API_EP_MESSAGES:
			gs->gs_kind = PROXY_API_USAGE_ANTHROPIC_MESSAGES;
			break;
		case PROXY_API_EP_CHAT:
			gs->gs_kind = gs->gs_prov == PROXY_API_OPENROUTER ?
			    PROXY_API_USAGE_OPENROUTER_CHAT :
			    PROXY_API_USAGE_OPENAI_CHAT;
			break;
		case PROXY_API_EP_RESPONSES:
			gs->gs_kind = PROXY_API_USAGE_OPENAI_RESPONSES;
			break;
		case PROXY_API_EP_GENERATE:
		case PROXY_API_EP_STREAM_GENERATE:
			gs->gs_kind = PROXY_API_USAGE_GEMINI;
			break;
		default:
			break;
		}
	}
	memset(&gs->gs_uq, 0, sizeof(gs->gs_uq));
	gs->gs_uq.uq_max_output = -1;
	/*
	 * The body is read only for what needs it: a budget's reservation
	 * and the OpenAI chat stream's usage; the response says the rest.
	 */
	if (gs->gs_kind >= 0 && (ar->ar_flags & PROXY_API_R_BODY) &&
	    (pv->pv_budget > 0 || (ar->ar_flags & PROXY_API_R_OPENAI_CHAT))) {
		if (proxy_api_usage_request(gs->gs_kind, body, len,
		    &gs->gs_uq) == -1) {
			gw_error(gs, 400, "bad-body", "the request body is "
			    "not a JSON object", 0);
			return;
		}
		if ((ar->ar_flags & PROXY_API_R_OPENAI_CHAT) &&
		    proxy_api_usage_inject(body, len, &gs->gs_newbody,
		    &gs->gs_newbodylen, &injected) == -1) {
			gw_error(gs, 400, "bad-body", "the request body is "
			    "not a JSON object", 0);
			return;
		}
		gs->gs_filtering = injected;
	}
	if (gs->gs_uq.uq_model[0] == '\0' && ar->ar_model[0] != '\0')
		memcpy(gs->gs_uq.uq_model, ar->ar_model,
		    MIN(sizeof(gs->gs_uq.uq_model) - 1, strlen(ar->ar_model)));
	if (gw_budget_reserve(gs, pv) == -1)
		return;
	gw_upstream(gs);
}

/*
 * Upstream.
 */

/*
 * Where an exchange goes: a provider's upstream, or GitHub's for the
 * git relay (slot PROXY_API_NPROVIDERS), as the running config says.
 */
struct gw_up {
	const char	*gu_name;
	const char	*gu_host;
	in_port_t	 gu_port;
	const char	*gu_prefix;
	int		 gu_trusted;
	const char	*gu_ca_pem;
	const char	*gu_key;
	size_t		 gu_keylen;
	int		 gu_slot;	/* its TLS context */
};

/* gs's upstream; -1 if the config has none now. */
static int
gw_up_of(const struct gw_session *gs, struct gw_up *u)
{
	const struct provider_conf	*pv;
	const struct github_conf	*gh = &sbxd_env->sx_conf->sc_github;

	memset(u, 0, sizeof(*u));
	if (gs->gs_isgit) {
		if (!gh->gh_on || (u->gu_key = gw_github_token(gs->gs_gl,
		    &u->gu_keylen)) == NULL)
			return (-1);
		u->gu_name = "github";
		u->gu_host = gh->gh_up_host;
		u->gu_port = gh->gh_up_port;
		u->gu_prefix = gh->gh_up_prefix != NULL ? gh->gh_up_prefix : "";
		u->gu_trusted = gh->gh_up_trusted;
		u->gu_ca_pem = gh->gh_ca_pem;
		u->gu_slot = PROXY_API_NPROVIDERS;
		return (0);
	}
	if ((pv = gw_provider(gs->gs_prov)) == NULL)
		return (-1);
	u->gu_name = pv->pv_name;
	u->gu_host = pv->pv_up_host;
	u->gu_port = pv->pv_up_port;
	u->gu_prefix = pv->pv_up_prefix;
	u->gu_trusted = pv->pv_up_trusted;
	u->gu_ca_pem = pv->pv_ca_pem;
	u->gu_key = pv->pv_key;
	u->gu_keylen = pv->pv_keylen;
	u->gu_slot = pv->pv_type;
	return (0);
}

/* The provider block of p in the running config, or NULL. */
static const struct provider_conf *
gw_provider(enum proxy_api_provider p)
{
	const struct provider_conf	*pv;

	TAILQ_FOREACH(pv, &sbxd_env->sx_conf->sc_providers, pv_entry)
		if (pv->pv_type == (int)p && pv->pv_key != NULL)
			return (pv);
	return (NULL);
}

/* The secret of gs's upstream, for scrubbing, or NULL. */
static const char *
gw_key_of(const struct gw_session *gs, size_t *len)
{
	struct gw_up	 u;

	if (gw_up_of(gs, &u) == -1 || u.gu_keylen == 0)
		return (NULL);
	*len = u.gu_keylen;
	return (u.gu_key);
}

static struct proxy_tls_up_ctx *
gw_tls_ctx(const struct gw_up *u, char *err, size_t errlen)
{
	int	 p = u->gu_slot;

	if (gw_ctx_made[p])
		return (gw_ctx[p]);
	if ((gw_ctx[p] = proxy_tls_up_ctx_new_pem(u->gu_ca_pem, err,
	    errlen)) == NULL)
		return (NULL);
	gw_ctx_made[p] = 1;
	return (gw_ctx[p]);
}

/* Find the upstream: an idle one, an address literal, or a lookup. */
static void
gw_upstream(struct gw_session *gs)
{
	struct gw_up			 u;
	struct sockaddr_storage		 ss;
	socklen_t			 sslen;

	if (gs->gs_isgit && gw_app_wait(gs) != 0)
		return;		/* for the App's token, or answered */
	if (gw_up_of(gs, &u) == -1) {
		gw_error(gs, 403, "provider-off", "this sandbox has no key "
		    "for this service", 0);
		return;
	}
	snprintf(gs->gs_pool_key, sizeof(gs->gs_pool_key), "%d %s %u",
	    u.gu_slot, u.gu_host, (unsigned)u.gu_port);
	if (!gs->gs_retried && !gs->gs_isgit &&
	    (gs->gs_up = gw_pool_take(gs->gs_pool_key)) != NULL) {
		gs->gs_reused = 1;
		gw_stats.reused++;
		gw_send(gs);
		return;
	}
	gs->gs_reused = 0;
	if (util_addr_parse(u.gu_host, u.gu_port, &ss, &sslen) == 0) {
		gw_connect(gs, (struct sockaddr *)&ss, sslen);
		return;
	}
	if ((gs->gs_dns = proxy_dns_resolve(u.gu_host, gw_dnscb, gs)) ==
	    NULL) {
		gw_stats.upstream_errors++;
		gw_error(gs, 502, "upstream-dns", "cannot look up the "
		    "upstream", 0);
	}
}

/*
 * The upstream's addresses: the default upstreams must be public (as
 * the proxy's names are), one the config names is taken as written.
 */
static void
gw_dnscb(int result, struct evutil_addrinfo *ai, void *arg)
{
	struct gw_session		*gs = arg;
	struct gw_up			 u;
	const struct evutil_addrinfo	*a;
	struct sockaddr_storage		 ss;

	gs->gs_dns = NULL;
	if (gw_up_of(gs, &u) == -1 || result != 0 || ai == NULL) {
		if (ai != NULL)
			evutil_freeaddrinfo(ai);
		gw_stats.upstream_errors++;
		gw_error(gs, 502, "upstream-dns", "cannot look up the "
		    "upstream", 0);
		return;
	}
	a = proxy_dns_usable(ai, u.gu_trusted);
	if (a == NULL || a->ai_addrlen > sizeof(ss)) {
		evutil_freeaddrinfo(ai);
		gw_stats.upstream_errors++;
		gw_error(gs, 502, "upstream-address", "the upstream's name "
		    "has no public address", 0);
		return;
	}
	memcpy(&ss, a->ai_addr, a->ai_addrlen);
	util_sockaddr_setport((struct sockaddr *)&ss, u.gu_port);
	gw_connect(gs, (struct sockaddr *)&ss, a->ai_addrlen);
	evutil_freeaddrinfo(ai);
}

static void
gw_connect(struct gw_session *gs, const struct sockaddr *sa,
    socklen_t salen)
{
	struct gw_up			 u;
	struct proxy_tls_up_ctx		*ctx;
	struct timeval			 tv;
	char				 err[256];

	if (gw_up_of(gs, &u) == -1) {
		gw_error(gs, 403, "provider-off", "this sandbox has no key "
		    "for this service", 0);
		return;
	}
	if ((ctx = gw_tls_ctx(&u, err, sizeof(err))) == NULL) {
		log_warnx("gateway: %s: %s", u.gu_name, err);
		gw_stats.upstream_errors++;
		gw_error(gs, 502, "upstream-tls", "no TLS context", 0);
		return;
	}
	tv.tv_sec = proxy_conf()->pc_timeout_connect;
	tv.tv_usec = 0;
	if ((gs->gs_connect = proxy_tls_up_connect(ctx, sbxd_env->sx_base,
	    sa, salen, u.gu_host, &tv, gw_connectedcb, gs)) == NULL) {
		gw_stats.upstream_errors++;
		gw_error(gs, 502, "upstream-connect", strerror(errno), 0);
	}
}

static void
gw_connectedcb(struct bufferevent *bev, const char *why, void *arg)
{
	struct gw_session	*gs = arg;

	gs->gs_connect = NULL;
	if (bev == NULL) {
		log_info("gateway %s: upstream %s: %s", gs->gs_gl->gl_sandbox,
		    gw_name(gs), why);
		gw_stats.upstream_errors++;
		gw_error(gs, 502, "upstream-connect", "cannot reach the "
		    "upstream", 0);
		return;
	}
	gs->gs_up = bev;
	gw_send(gs);
}

/*
 * The git relay.
 */

/* The name of gs's service, for logs. */
static const char *
gw_name(const struct gw_session *gs)
{
	return (gs->gs_isgit ? "github" : proxy_api_provider_name(gs->gs_prov));
}

/*
 * A request under /git/: the route, the sandbox's repositories, its
 * phantom key as a bearer token, then the body.  -1 if answered.
 */
static int
gw_git_head(struct gw_session *gs)
{
	struct gw_listener		*gl = gs->gs_gl;
	struct proxy_http_request	*rq = &gs->gs_req;
	struct proxy_git_error		 gerr;
	size_t				 n;

	gs->gs_isgit = 1;
	if (gl->gl_nrepos == 0 || !sbxd_env->sx_conf->sc_github.gh_on) {
		gw_error(gs, 403, "no-repos", "this sandbox has no GitHub "
		    "repositories", 1);
		return (-1);
	}
	if (proxy_git_route_parse(rq->rq_method, rq->rq_target,
	    strlen(rq->rq_target), &gs->gs_git, &gerr) == -1) {
		gw_error(gs, gerr.status, gerr.reason, gerr.detail, 1);
		return (-1);
	}
	if (!proxy_git_repo_match(gs->gs_git.gr_name,
	    (const char *const *)gl->gl_repos, gl->gl_nrepos)) {
		gw_error(gs, 403, "repo", "not a repository of this sandbox",
		    1);
		return (-1);
	}
	if (!gw_gitkey_ok(gs)) {
		gw_error(gs, 401, "phantom-key", "git must send this "
		    "sandbox's key (its git config does)", 1);
		return (-1);
	}
	if (gs->gs_git.gr_service == PROXY_GIT_RECEIVE_PACK &&
	    proxy_http_field_find(&rq->rq_msg, "Content-Encoding", &n) !=
	    NULL) {
		gw_error(gs, 415, "content-encoding", "a compressed push is "
		    "not relayed", 1);
		return (-1);
	}
	if (!gs->gs_git.gr_advert && rq->rq_msg.hm_body ==
	    PROXY_HTTP_BODY_NONE) {
		gw_error(gs, 400, "no-body", "a git request without a body",
		    1);
		return (-1);
	}
	gs->gs_pushpolicy.gp_globs = (const char *const *)gl->gl_globs;
	gs->gs_pushpolicy.gp_nglobs = gl->gl_nglobs;
	gs->gs_pushpolicy.gp_flags = 0;
	if (gs->gs_git.gr_service == PROXY_GIT_RECEIVE_PACK &&
	    !gs->gs_git.gr_advert) {
		if ((gs->gs_push = calloc(1, sizeof(*gs->gs_push))) == NULL) {
			gw_close(gs, "out of memory");
			return (-1);
		}
		proxy_git_push_init(gs->gs_push, &gs->gs_pushpolicy);
	}
	return (0);
}

/*
 * Whether the request carries the sandbox's git key as its bearer
 * token, in every Authorization field, compared in constant time.
 */
static int
gw_gitkey_ok(struct gw_session *gs)
{
	struct gw_listener		*gl = gs->gs_gl;
	struct proxy_http_request	*rq = &gs->gs_req;
	const struct proxy_http_field	*f;
	const char			*key;
	size_t				 i, keylen;
	int				 seen = 0, bad = 0;

	for (i = 0; i < rq->rq_msg.hm_nfields; i++) {
		f = &rq->rq_msg.hm_fields[i];
		if (f->hf_namelen != 13 ||
		    strncasecmp(f->hf_name, "Authorization", 13) != 0)
			continue;
		seen++;
		if (proxy_api_key_extract(PROXY_API_KEY_BEARER, f->hf_value,
		    f->hf_valuelen, &key, &keylen) == -1 ||
		    !proxy_api_key_equal(key, keylen, gl->gl_gitkey,
		    strlen(gl->gl_gitkey)))
			bad++;
	}
	return (seen > 0 && bad == 0);
}

/*
 * A request under /gh/, from the gh shim: the sandbox's repositories and
 * key, then its body (a create's form).  -1 if answered.
 */
static int
gw_gh_head(struct gw_session *gs)
{
	size_t	 n;

	gs->gs_isgh = 1;
	if (gs->gs_gl->gl_nrepos == 0 ||
	    !sbxd_env->sx_conf->sc_github.gh_on) {
		gw_error(gs, 403, "no-repos", "this sandbox has no GitHub "
		    "repositories", 1);
		return (-1);
	}
	if (!gw_gitkey_ok(gs)) {
		gw_error(gs, 401, "phantom-key", "gh must send this "
		    "sandbox's key (SBXD_GH_KEY)", 1);
		return (-1);
	}
	if (proxy_http_field_find(&gs->gs_req.rq_msg, "Content-Encoding",
	    &n) != NULL) {
		gw_error(gs, 415, "content-encoding", "compressed request "
		    "bodies are not relayed", 1);
		return (-1);
	}
	return (0);
}

/* A whole gh request: parsed, held to the policy, then to GitHub. */
static void
gw_gh_request(struct gw_session *gs)
{
	struct gw_listener	*gl = gs->gs_gl;
	struct proxy_gh_req	 gq;
	struct proxy_git_error	 err;
	struct proxy_gh_call	*gc;
	const char		*ct, *body;
	char			 ctype[128];
	size_t			 n, len;

	ctype[0] = '\0';
	if ((ct = proxy_http_field_find(&gs->gs_req.rq_msg, "Content-Type",
	    &n)) != NULL && n < sizeof(ctype)) {
		memcpy(ctype, ct, n);
		ctype[n] = '\0';
	}
	len = evbuffer_get_length(gs->gs_body);
	if ((body = (const char *)evbuffer_pullup(gs->gs_body, -1)) == NULL)
		body = "";
	if (proxy_gh_parse(gs->gs_req.rq_method, gs->gs_req.rq_target,
	    strlen(gs->gs_req.rq_target), body, len, ct != NULL ? ctype : NULL,
	    &gq, &err) == -1) {
		gw_error(gs, err.status, err.reason, err.detail, 0);
		return;
	}
	if (proxy_gh_check(&gq, (const char *const *)gl->gl_repos,
	    gl->gl_nrepos, (const char *const *)gl->gl_globs, gl->gl_nglobs,
	    &err) == -1) {
		proxy_gh_req_free(&gq);
		gw_error(gs, err.status, err.reason, err.detail, 0);
		return;
	}
	if ((gc = proxy_gh_new(&gq, gw_gh_tokfn, gw_gh_donecb, gs)) == NULL) {
		proxy_gh_req_free(&gq);
		gw_close(gs, "out of memory");
		return;
	}
	gs->gs_ghcall = gc;
	if (gw_app_wait(gs) == 0)
		proxy_gh_start(gc);
}

/* GitHub's answer, as gh prints it, to the shim. */
static void
gw_gh_donecb(void *arg, int status, const char *reason, const char *ctype,
    const char *body, size_t len)
{
	struct gw_session		*gs = arg;
	struct evbuffer			*out = bufferevent_get_output(gs->gs_cli);
	const struct proxy_gh_req	*gq = proxy_gh_req_of(gs->gs_ghcall);
	static const char		*ops[] = { "-", "list", "view",
					    "create" };
	const char			*tok;
	char				*copy = NULL, *k;
	size_t				 toklen = 0;
	int				 number;

	number = proxy_gh_number(gs->gs_ghcall);
	gs->gs_ghcall = NULL;	/* it goes after this */
	/* The token never goes back, whatever GitHub said. */
	tok = gw_github_token(gs->gs_gl, &toklen);
	if (tok != NULL && toklen > 0 && memmem(body, len, tok, toklen) !=
	    NULL) {
		if ((copy = malloc(len)) == NULL) {
			gw_close(gs, "out of memory");
			return;
		}
		memcpy(copy, body, len);
		while ((k = memmem(copy, len, tok, toklen)) != NULL)
			memset(k, '*', toklen);
		body = copy;
	}
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\n", status,
	    proxy_http_error_status_text(status), ctype, len);
	if (reason != NULL)
		evbuffer_add_printf(out, "x-sbxd-error: %s\r\n", reason);
	if (!(gs->gs_req.rq_msg.hm_flags & PROXY_HTTP_F_PERSIST)) {
		evbuffer_add(out, "Connection: close\r\n", 19);
		gs->gs_out_close = 1;
	}
	evbuffer_add(out, "\r\n", 2);
	evbuffer_add(out, body, len);
	gs->gs_status = status;
	if (status >= 400)
		gw_stats.refused++;
	log_info("gateway %s: gh pr %s %s: %d%s%s", gs->gs_gl->gl_sandbox,
	    ops[gq->gq_op], gq->gq_repo, status, reason != NULL ? " " : "",
	    reason != NULL ? reason : "");
	if (gq->gq_op == PROXY_GH_CREATE && status == 200)
		events_publish("gateway.pr", json_pack("{s:s, s:s, s:i, s:s, "
		    "s:s, s:s%}", "sandbox", gs->gs_gl->gl_sandbox, "repo",
		    gq->gq_repo, "number", number, "head", gq->gq_head, "base",
		    gq->gq_base != NULL ? gq->gq_base : "", "url", body,
		    len > 0 && body[len - 1] == '\n' ? len - 1 : len));
	free(copy);
	gw_next(gs);
}

static const char *
gw_gh_tokfn(void *arg, size_t *len)
{
	struct gw_session	*gs = arg;

	return (gw_github_token(gs->gs_gl, len));
}

/*
 * The token GitHub is sent for gl's sandbox: the config's, or the App's
 * installation token while it has five minutes left.  NULL if none now.
 */
static const char *
gw_github_token(struct gw_listener *gl, size_t *len)
{
	const struct github_conf	*gh = &sbxd_env->sx_conf->sc_github;

	if (!gh->gh_on)
		return (NULL);
	if (gh->gh_app_id == 0) {
		*len = gh->gh_tokenlen;
		return (gh->gh_token);
	}
	if (gl->gl_apptok == NULL || gl->gl_apptoklen == 0 ||
	    gl->gl_appexpires - time(NULL) < GW_APP_MARGIN)
		return (NULL);
	*len = gl->gl_apptoklen;
	return (gl->gl_apptok);
}

/*
 * With a GitHub App, an exchange with GitHub waits for the sandbox's
 * installation token: asked for once for all the sandbox's waiting
 * exchanges, narrowed to its repositories (all of the installation's
 * when an entry is a whole owner's) and to contents and pull requests.
 * 0: go on
 * now; 1: waiting (gw_app_mintcb goes on); -1: answered.
 */
static int
gw_app_wait(struct gw_session *gs)
{
	const struct github_conf	*gh = &sbxd_env->sx_conf->sc_github;
	struct gw_listener		*gl = gs->gs_gl;
	json_t				*body, *names;
	const char			*slash;
	char				*jwt, *text;
	size_t				 i, len;
	int				 all = 0;

	if (gh->gh_app_id == 0 || gw_github_token(gl, &len) != NULL)
		return (0);
	gs->gs_appwait = 1;
	if (gl->gl_appmint != NULL)
		return (1);
	if ((jwt = proxy_gh_jwt(gh->gh_app_id, gh->gh_app_key,
	    gh->gh_app_keylen, time(NULL))) == NULL) {
		gs->gs_appwait = 0;
		gw_stats.upstream_errors++;
		gw_error(gs, 502, "github-app", "the GitHub App's key cannot "
		    "sign", 0);
		return (-1);
	}
	names = json_array();
	for (i = 0; i < gl->gl_nrepos; i++) {
		slash = strchr(gl->gl_repos[i], '/');
		if (slash == NULL || strcmp(slash + 1, "*") == 0)
			all = 1;
		else
			json_array_append_new(names, json_string(slash + 1));
	}
	body = json_pack("{s:{s:s, s:s, s:s}}", "permissions", "contents",
	    "write", "pull_requests", "write", "metadata", "read");
	if (body != NULL && !all)
		json_object_set(body, "repositories", names);
	json_decref(names);
	text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (text == NULL || (gl->gl_appmint = proxy_gh_mint(jwt,
	    gh->gh_installation_id, text, gw_app_mintcb, gl)) == NULL) {
		util_zero(jwt, strlen(jwt));
		free(jwt);
		free(text);
		gs->gs_appwait = 0;
		gw_close(gs, "out of memory");
		return (-1);
	}
	log_info("gateway %s: asking GitHub for an installation token",
	    gl->gl_sandbox);
	proxy_gh_start(gl->gl_appmint);
	/* It may have ended already: then gs went on, or was answered. */
	return (1);
}

/*
 * GitHub's answer to a token request: {token, expires_at}, kept; the
 * sandbox's waiting exchanges go on, or are told why not.
 */
static void
gw_app_mintcb(void *arg, int status, const char *reason __unused,
    const char *ctype __unused, const char *body, size_t len)
{
	struct gw_listener	*gl = arg;
	struct gw_session	*gs, *next;
	struct tm		 tm;
	json_t			*a = NULL;
	const char		*tok, *exp, *end, *nl;
	char			 why[256];
	time_t			 expires = 0;
	size_t			 toklen = 0;

	gl->gl_appmint = NULL;	/* it goes after this */
	why[0] = '\0';
	/*
	 * Any 2xx is GitHub's answer, the token in it (GitHub says 201):
	 * never a reason to log.  Anything else is proxy_gh's error line.
	 */
	if (status < 200 || status > 299) {
		nl = memchr(body, '\n', len);
		snprintf(why, sizeof(why), "%.*s", (int)(nl != NULL ?
		    (size_t)(nl - body) : len), body);
		if (strncmp(why, "sbxd: ", 6) == 0)
			memmove(why, why + 6, strlen(why + 6) + 1);
	} else if ((a = json_loadb(body, len, 0, NULL)) == NULL ||
	    (tok = json_string_value(json_object_get(a, "token"))) == NULL ||
	    (toklen = strlen(tok)) == 0 || toklen > GITHUB_TOKEN_MAX ||
	    (exp = json_string_value(json_object_get(a, "expires_at"))) ==
	    NULL)
		snprintf(why, sizeof(why), "GitHub's answer has no token");
	else {
		memset(&tm, 0, sizeof(tm));
		if ((end = strptime(exp, "%Y-%m-%dT%H:%M:%SZ", &tm)) == NULL ||
		    *end != '\0' || (expires = timegm(&tm)) == (time_t)-1 ||
		    expires - time(NULL) < GW_APP_MARGIN)
			snprintf(why, sizeof(why), "GitHub's token expires "
			    "too soon: %s", exp);
		else if (gl->gl_apptok == NULL && (gl->gl_apptok =
		    util_secret_alloc(GITHUB_TOKEN_MAX + 1)) == NULL)
			snprintf(why, sizeof(why), "out of memory");
		else {
			memcpy(gl->gl_apptok, tok, toklen);
			gl->gl_apptok[toklen] = '\0';
			gl->gl_apptoklen = toklen;
			gl->gl_appexpires = expires;
			log_info("gateway %s: GitHub installation token, "
			    "expires %s", gl->gl_sandbox, exp);
		}
	}
	if (a != NULL) {
		/* jansson's copy of the token */
		if ((tok = json_string_value(json_object_get(a, "token"))) !=
		    NULL)
			util_zero((char *)tok, strlen(tok));
		json_decref(a);
	}
	if (why[0] != '\0')
		log_warnx("gateway %s: no GitHub installation token: %s",
		    gl->gl_sandbox, why);
	TAILQ_FOREACH_SAFE(gs, &gw_sessions, gs_entry, next) {
		if (gs->gs_gl != gl || !gs->gs_appwait)
			continue;
		gs->gs_appwait = 0;
		if (why[0] != '\0') {
			gw_stats.upstream_errors++;
			gw_error(gs, 502, "github-app", why, 0);
		} else if (gs->gs_isgh)
			proxy_gh_start(gs->gs_ghcall);
		else
			gw_upstream(gs);
	}
}

/* gl's installation token goes, wiped, and any request for one. */
static void
gw_app_forget(struct gw_listener *gl)
{
	if (gl->gl_appmint != NULL) {
		proxy_gh_cancel(gl->gl_appmint);
		gl->gl_appmint = NULL;
	}
	util_secret_free(gl->gl_apptok, GITHUB_TOKEN_MAX + 1);
	gl->gl_apptok = NULL;
	gl->gl_apptoklen = 0;
	gl->gl_appexpires = 0;
}

/*
 * A git request's body goes upstream as it comes; a push's only once its
 * commands passed the policy and its pack began.  Until the upstream is
 * there, bytes wait in gs_body (at most the command section and a
 * little: reading pauses).
 */
static void
gw_git_body(struct gw_session *gs)
{
	struct evbuffer		*in = bufferevent_get_input(gs->gs_cli);
	struct proxy_http_error	 herr;
	size_t			 len, used, off, dlen;
	char			*p;
	int			 r;

	if (gs->gs_req.rq_msg.hm_body == PROXY_HTTP_BODY_NONE)
		gs->gs_body_done = 1;
	while (!gs->gs_body_done) {
		if (gs->gs_up_ready && evbuffer_get_length(
		    bufferevent_get_output(gs->gs_up)) >=
		    proxy_conf()->pc_buffer) {
			bufferevent_disable(gs->gs_cli, EV_READ);
			return;
		}
		if (!gs->gs_up_ready && evbuffer_get_length(gs->gs_body) >
		    PROXY_GIT_SECTION_MAX + 65536) {
			bufferevent_disable(gs->gs_cli, EV_READ);
			return;
		}
		if ((len = evbuffer_get_length(in)) == 0)
			return;
		p = (char *)evbuffer_pullup(in, len);
		switch (gs->gs_req.rq_msg.hm_body) {
		case PROXY_HTTP_BODY_LENGTH:
			if (len > gs->gs_left)
				len = gs->gs_left;
			if (gw_git_piece(gs, p, len) == -1)
				return;
			evbuffer_drain(in, len);
			gs->gs_left -= len;
			if (gs->gs_left == 0)
				gs->gs_body_done = 1;
			break;
		case PROXY_HTTP_BODY_CHUNKED:
			r = proxy_http_chunked_data(&gs->gs_chunk, p, len, &used,
			    &off, &dlen, &herr);
			if (r == PROXY_HTTP_ERROR) {
				gw_git_fail(gs, herr.status, herr.reason,
				    herr.detail, 0);
				return;
			}
			if (dlen > 0 && gw_git_piece(gs, p + off, dlen) == -1)
				return;
			evbuffer_drain(in, used);
			if (r == PROXY_HTTP_DONE)
				gs->gs_body_done = 1;
			break;
		default:
			gs->gs_body_done = 1;
			break;
		}
	}
	gw_git_body_end(gs);
}

/* One run of body bytes; -1 if the request was refused (answered). */
static int
gw_git_piece(struct gw_session *gs, const char *p, size_t n)
{
	struct proxy_git_error	 gerr;
	size_t			 used = 0;
	int			 r;

	if (gs->gs_refused != NULL)
		return (0);	/* read to its end, then answered */
	if (gs->gs_push != NULL && gs->gs_push_phase == 0) {
		r = proxy_git_push_feed(gs->gs_push, p, n, &used, &gerr);
		if (r == PROXY_GIT_ERROR) {
			gw_git_fail(gs, gerr.status, gerr.reason, gerr.detail,
			    1);
			return (gs->gs_refused != NULL ? 0 : -1);
		}
		if (r == PROXY_GIT_DONE)
			gs->gs_push_phase = 1;
	}
	if (gs->gs_push != NULL && gs->gs_push_phase == 1 && used < n) {
		r = proxy_git_push_pack(gs->gs_push, p + used, n - used,
		    &gerr);
		if (r == PROXY_GIT_ERROR) {
			gw_git_fail(gs, gerr.status, gerr.reason, gerr.detail,
			    1);
			return (gs->gs_refused != NULL ? 0 : -1);
		}
		if (r == PROXY_GIT_DONE)
			gs->gs_push_phase = 2;
	}
	gs->gs_bytes_up += n;
	if (gs->gs_up_ready)
		gw_git_write(gs, p, n);
	else if (evbuffer_add(gs->gs_body, p, n) == -1) {
		gw_close(gs, "out of memory");
		return (-1);
	}
	if (!gs->gs_up_ready && gs->gs_state == GW_BODY &&
	    (gs->gs_push == NULL || gs->gs_push_phase == 2)) {
		gs->gs_state = GW_UPSTREAM;
		gw_upstream(gs);
	}
	return (0);
}

/* The client's body ended. */
static void
gw_git_body_end(struct gw_session *gs)
{
	struct proxy_git_error	 gerr;

	if (gs->gs_refused != NULL) {
		gw_git_report(gs);
		return;
	}
	if (gs->gs_push != NULL &&
	    proxy_git_push_end(gs->gs_push, &gerr) == PROXY_GIT_ERROR) {
		if (!gs->gs_up_ready)
			gw_git_fail(gs, gerr.status, gerr.reason, gerr.detail,
			    0);
		else {
			/* Upstream has part of it: cut it short. */
			gs->gs_note = gerr.reason;
			gw_up_drop(gs);
			gw_resp_end_cut(gs);
		}
		return;
	}
	if (gs->gs_up_ready) {
		if (gs->gs_up_chunked)
			evbuffer_add(bufferevent_get_output(gs->gs_up),
			    "0\r\n\r\n", 5);
	} else if (gs->gs_state == GW_BODY) {
		gs->gs_state = GW_UPSTREAM;
		gw_upstream(gs);
	}
}

/* Refused before upstream heard of it: the answer, then close. */
static void
gw_git_fail(struct gw_session *gs, int status, const char *reason,
    const char *detail, int drain)
{
	if (gs->gs_up_ready || gs->gs_state >= GW_WAIT) {
		gs->gs_note = reason;
		gw_up_drop(gs);
		gw_resp_end_cut(gs);
		return;
	}
	if (drain && gs->gs_push != NULL && gs->gs_state == GW_BODY) {
		/*
		 * git reads no answer before it has sent its whole body:
		 * the rest is read and dropped, then git hears why in its
		 * own terms, which it shows.
		 */
		gs->gs_refused = reason;
		gs->gs_refused_why = detail;
		gs->gs_status = 403;
		return;
	}
	gw_error(gs, status, reason, detail, 1);
}

/* One pkt-line of n bytes at p, after band (0: none), to out. */
static void
gw_pkt(struct evbuffer *out, int band, const char *p, size_t n)
{
	evbuffer_add_printf(out, "%04zx", n + 4 + (band != 0));
	if (band != 0) {
		unsigned char	 b = band;

		evbuffer_add(out, &b, 1);
	}
	evbuffer_add(out, p, n);
}

/*
 * A refused push, answered as receive-pack would: a message on the
 * progress band ("remote: sbxd: ..."), the unpack status failed with
 * the reason, each accepted command "ng", over side-band-64k if git
 * asked for it.  git says "remote unpack failed" and exits non-zero.
 */
static void
gw_git_report(struct gw_session *gs)
{
	struct gw_listener	*gl = gs->gs_gl;
	struct evbuffer		*out = bufferevent_get_output(gs->gs_cli);
	struct evbuffer		*rep;
	char			 line[1024], globs[512];
	size_t			 i, n, len;
	int			 sb;

	sb = (gs->gs_push->pu_caps & (PROXY_GIT_CAP_SIDE_BAND_64K |
	    PROXY_GIT_CAP_SIDE_BAND)) != 0;
	globs[0] = '\0';
	for (i = 0; i < gl->gl_nglobs; i++)
		snprintf(globs + strlen(globs), sizeof(globs) - strlen(globs),
		    "%s%s", i > 0 ? ", " : "", gl->gl_globs[i]);
	if ((rep = evbuffer_new()) == NULL) {
		gw_close(gs, "out of memory");
		return;
	}
	if (sb) {
		n = snprintf(line, sizeof(line), "sbxd: push refused: %s "
		    "(%s); this sandbox may push to %s\n", gs->gs_refused_why,
		    gs->gs_refused, globs);
		gw_pkt(rep, 2, line, MIN(n, sizeof(line) - 1));
	}
	{
		struct evbuffer	*st = evbuffer_new();

		if (st == NULL) {
			evbuffer_free(rep);
			gw_close(gs, "out of memory");
			return;
		}
		n = snprintf(line, sizeof(line), "unpack sbxd refused the push: "
		    "%s\n", gs->gs_refused);
		gw_pkt(st, 0, line, MIN(n, sizeof(line) - 1));
		for (i = 0; i < gs->gs_push->pu_ncmds; i++) {
			n = snprintf(line, sizeof(line), "ng %.*s refused by "
			    "sbxd\n", (int)MIN(gs->gs_push->pu_cmds[i].gc_reflen,
			    900), gs->gs_push->pu_cmds[i].gc_ref);
			gw_pkt(st, 0, line, MIN(n, sizeof(line) - 1));
		}
		evbuffer_add(st, "0000", 4);
		len = evbuffer_get_length(st);
		if (sb)
			gw_pkt(rep, 1, (const char *)evbuffer_pullup(st, -1),
			    len);
		else
			evbuffer_add_buffer(rep, st);
		evbuffer_free(st);
	}
	if (sb)
		evbuffer_add(rep, "0000", 4);
	len = evbuffer_get_length(rep);
	evbuffer_add_printf(out, "HTTP/1.1 200 OK\r\nContent-Type: "
	    "application/x-git-receive-pack-result\r\nCache-Control: "
	    "no-cache\r\nx-sbxd-error: %s\r\nContent-Length: %zu\r\n",
	    gs->gs_refused, len);
	if (!(gs->gs_req.rq_msg.hm_flags & PROXY_HTTP_F_PERSIST)) {
		evbuffer_add(out, "Connection: close\r\n", 19);
		gs->gs_out_close = 1;
	}
	evbuffer_add(out, "\r\n", 2);
	evbuffer_add_buffer(out, rep);
	evbuffer_free(rep);
	gs->gs_note = gs->gs_refused;
	gw_stats.refused++;
	log_info("gateway %s: git push to %s refused: %s", gl->gl_sandbox,
	    gs->gs_git.gr_name, gs->gs_refused);
	gw_account(gs);
	gw_next(gs);
}

/* Body bytes to the upstream, framed as its head said. */
static void
gw_git_write(struct gw_session *gs, const char *p, size_t n)
{
	gw_chunk_add(bufferevent_get_output(gs->gs_up), gs->gs_up_chunked, p,
	    n);
}

/* n bytes at p to out, as one chunk if chunked. */
static void
gw_chunk_add(struct evbuffer *out, int chunked, const char *p, size_t n)
{
	char	 hex[2 * sizeof(size_t) + 2];
	size_t	 i = sizeof(hex), v = n;

	if (n == 0)
		return;
	if (chunked) {
		/* The size line, without printf's cost per chunk. */
		hex[--i] = '\n';
		hex[--i] = '\r';
		do {
			hex[--i] = "0123456789abcdef"[v & 15];
			v >>= 4;
		} while (v != 0);
		evbuffer_add(out, hex + i, sizeof(hex) - i);
	}
	evbuffer_add(out, p, n);
	if (chunked)
		evbuffer_add(out, "\r\n", 2);
}

/* The head upstream, with the token, then what the body has so far. */
static void
gw_git_send(struct gw_session *gs, struct evbuffer *out)
{
	const struct github_conf	*gh = &sbxd_env->sx_conf->sc_github;
	const struct proxy_http_field	*f;
	struct proxy_http_msg		*m = &gs->gs_req.rq_msg;
	const char			*tok;
	size_t				 i, len, toklen;
	char				*b64;
	int				 recv;

	recv = gs->gs_git.gr_service == PROXY_GIT_RECEIVE_PACK;
	evbuffer_add_printf(out, "%s %s%s HTTP/1.1\r\nHost: %s%s%s",
	    gs->gs_git.gr_advert ? "GET" : "POST", gh->gh_up_prefix,
	    gs->gs_git.gr_upstream, strchr(gh->gh_up_host, ':') ? "[" : "",
	    gh->gh_up_host, strchr(gh->gh_up_host, ':') ? "]" : "");
	if (gh->gh_up_port != 443)
		evbuffer_add_printf(out, ":%u", (unsigned)gh->gh_up_port);
	evbuffer_add(out, "\r\n", 2);
	for (i = 0; i < m->hm_nfields; i++) {
		f = &m->hm_fields[i];
		if (!gw_git_header(f->hf_name, f->hf_namelen, recv))
			continue;
		evbuffer_add(out, f->hf_name, f->hf_namelen);
		evbuffer_add(out, ": ", 2);
		evbuffer_add(out, f->hf_value, f->hf_valuelen);
		evbuffer_add(out, "\r\n", 2);
	}
	if ((tok = gw_github_token(gs->gs_gl, &toklen)) != NULL &&
	    (b64 = gw_basic("x-access-token", tok, toklen)) != NULL) {
		evbuffer_add_printf(out, "Authorization: Basic %s\r\n", b64);
		util_zero(b64, strlen(b64));
		free(b64);
	}
	gs->gs_up_chunked = 0;
	if (m->hm_body == PROXY_HTTP_BODY_LENGTH)
		evbuffer_add_printf(out, "Content-Length: %" PRIu64 "\r\n",
		    m->hm_length);
	else if (m->hm_body == PROXY_HTTP_BODY_CHUNKED) {
		evbuffer_add(out, "Transfer-Encoding: chunked\r\n", 28);
		gs->gs_up_chunked = 1;
	}
	evbuffer_add(out, "\r\n", 2);
	gs->gs_up_ready = 1;
	gs->gs_up_bytes = 0;
	gs->gs_state = GW_WAIT;
	proxy_http_scan_init(&gs->gs_scan, 1);
	if ((len = evbuffer_get_length(gs->gs_body)) > 0) {
		gw_git_write(gs, (const char *)evbuffer_pullup(gs->gs_body,
		    -1), len);
		evbuffer_drain(gs->gs_body, len);
	}
	if (gs->gs_body_done) {
		if (gs->gs_up_chunked)
			evbuffer_add(out, "0\r\n\r\n", 5);
	} else {
		bufferevent_enable(gs->gs_cli, EV_READ);
		if (evbuffer_get_length(bufferevent_get_input(gs->gs_cli)) > 0)
			gw_git_body(gs);
	}
}

/*
 * Which request fields of git go to GitHub: what the protocol needs,
 * nothing that identifies or authenticates.  Git-Protocol (v2) and a
 * compressed body only for fetches.
 */
static int
gw_git_header(const char *name, size_t n, int recv)
{
	static const char	*fwd[] = { "Content-Type", "Accept",
				    "Accept-Language", "User-Agent", NULL };
	size_t			 i;

	for (i = 0; fwd[i] != NULL; i++)
		if (strlen(fwd[i]) == n && strncasecmp(name, fwd[i], n) == 0)
			return (1);
	if (!recv && ((n == 12 && strncasecmp(name, "Git-Protocol", n) ==
	    0) || (n == 16 && strncasecmp(name, "Content-Encoding", n) == 0)))
		return (1);
	return (0);
}

/* "user:secret" in base64, malloc'd, or NULL. */
static char *
gw_basic(const char *user, const char *secret, size_t len)
{
	static const char	 tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned char		*in;
	char			*out;
	size_t			 ulen = strlen(user), n = ulen + 1 + len, i, o;
	unsigned int		 v;

	if ((in = malloc(n)) == NULL)
		return (NULL);
	memcpy(in, user, ulen);
	in[ulen] = ':';
	memcpy(in + ulen + 1, secret, len);
	if ((out = malloc(4 * ((n + 2) / 3) + 1)) == NULL) {
		util_zero(in, n);
		free(in);
		return (NULL);
	}
	for (i = 0, o = 0; i < n; i += 3) {
		v = in[i] << 16;
		if (i + 1 < n)
			v |= in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = tab[(v >> 18) & 63];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? tab[v & 63] : '=';
	}
	out[o] = '\0';
	util_zero(in, n);
	free(in);
	return (out);
}

/* The upstream took bytes: read more of the client's body. */
static void
gw_up_writecb(struct bufferevent *bev, void *arg)
{
	struct gw_session	*gs = arg;

	if (!gs->gs_isgit || gs->gs_body_done || !gs->gs_up_ready ||
	    evbuffer_get_length(bufferevent_get_output(bev)) >=
	    proxy_conf()->pc_buffer / 2)
		return;
	bufferevent_enable(gs->gs_cli, EV_READ);
	if (evbuffer_get_length(bufferevent_get_input(gs->gs_cli)) > 0)
		gw_git_body(gs);
}

/* Append "name: value\r\n" for each forwarded field, then sbxd's own. */
static void
gw_send(struct gw_session *gs)
{
	const struct provider_conf	*pv = gw_provider(gs->gs_prov);
	const struct proxy_api_cred	*cred = proxy_api_cred(gs->gs_prov);
	const struct proxy_http_field	*f;
	struct evbuffer			*out;
	struct timeval			 tv;
	const char			*body;
	size_t				 i, len;
	int				 dflt = 0;

	if (!gs->gs_isgit && pv == NULL) {
		gw_error(gs, 403, "provider-off", "this sandbox has no key "
		    "for this provider", 0);
		return;
	}
	bufferevent_setcb(gs->gs_up, gw_up_readcb, gw_up_writecb,
	    gw_up_eventcb, gs);
	if (!gs->gs_reused) {
		bufferevent_setwatermark(gs->gs_up, EV_READ, 0, GW_READ_MAX);
		tv.tv_sec = GW_TIMEOUT_UP;
		tv.tv_usec = 0;
		bufferevent_set_timeouts(gs->gs_up, &tv, &tv);
		bufferevent_enable(gs->gs_up, EV_READ | EV_WRITE);
	}
	out = bufferevent_get_output(gs->gs_up);
	if (gs->gs_isgit) {
		gw_git_send(gs, out);
		return;
	}
	if (strchr(pv->pv_up_host, ':') != NULL)
		evbuffer_add_printf(out, "%s %s%s HTTP/1.1\r\nHost: [%s]",
		    gs->gs_route.ar_method, pv->pv_up_prefix,
		    gs->gs_route.ar_path, pv->pv_up_host);
	else
		evbuffer_add_printf(out, "%s %s%s HTTP/1.1\r\nHost: %s",
		    gs->gs_route.ar_method, pv->pv_up_prefix,
		    gs->gs_route.ar_path, pv->pv_up_host);
	if (pv->pv_up_port != 443)
		evbuffer_add_printf(out, ":%u", (unsigned)pv->pv_up_port);
	evbuffer_add(out, "\r\n", 2);
	for (i = 0; i < gs->gs_req.rq_msg.hm_nfields; i++) {
		f = &gs->gs_req.rq_msg.hm_fields[i];
		if (cred->ac_dflt_name != NULL &&
		    strlen(cred->ac_dflt_name) == f->hf_namelen &&
		    strncasecmp(f->hf_name, cred->ac_dflt_name,
		    f->hf_namelen) == 0)
			dflt = 1;
		if (proxy_api_header(gs->gs_prov, f->hf_name, f->hf_namelen) !=
		    PROXY_API_HDR_FORWARD)
			continue;
		evbuffer_add(out, f->hf_name, f->hf_namelen);
		evbuffer_add(out, ": ", 2);
		evbuffer_add(out, f->hf_value, f->hf_valuelen);
		evbuffer_add(out, "\r\n", 2);
	}
	if (cred->ac_dflt_name != NULL && !dflt)
		evbuffer_add_printf(out, "%s: %s\r\n", cred->ac_dflt_name,
		    cred->ac_dflt_value);
	evbuffer_add_printf(out, "%s: %s", cred->ac_name, cred->ac_prefix);
	evbuffer_add(out, pv->pv_key, pv->pv_keylen);
	evbuffer_add(out, "\r\nAccept-Encoding: identity\r\n", 29);
	if (gs->gs_newbody != NULL) {
		body = gs->gs_newbody;
		len = gs->gs_newbodylen;
	} else {
		len = evbuffer_get_length(gs->gs_body);
		body = (const char *)evbuffer_pullup(gs->gs_body, -1);
	}
	if (gs->gs_route.ar_flags & PROXY_API_R_BODY)
		evbuffer_add_printf(out, "Content-Length: %zu\r\n", len);
	evbuffer_add(out, "\r\n", 2);
	if (len > 0 && (gs->gs_route.ar_flags & PROXY_API_R_BODY))
		evbuffer_add(out, body, len);
	gs->gs_bytes_up = len;
	gs->gs_up_bytes = 0;
	gs->gs_state = GW_WAIT;
	proxy_http_scan_init(&gs->gs_scan, 1);
}

static void
gw_up_readcb(struct bufferevent *bev, void *arg)
{
	struct gw_session	*gs = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct proxy_http_error	 herr;
	size_t			 len, headlen;
	char			*p;
	int			 r;

	gs->gs_up_bytes = 1;
	while (gs->gs_state == GW_WAIT && gs->gs_up == bev) {
		if ((len = evbuffer_get_length(in)) == 0)
			return;
		if (len > PROXY_HTTP_HEAD_MAX + 4)
			len = PROXY_HTTP_HEAD_MAX + 4;
		p = (char *)evbuffer_pullup(in, len);
		r = proxy_http_head_scan(&gs->gs_scan, p, len, &headlen, &herr);
		if (r == PROXY_HTTP_MORE)
			return;
		proxy_http_response_free(&gs->gs_resp);
		if (r == PROXY_HTTP_DONE && proxy_http_response_parse(p,
		    headlen, &gs->gs_req, &gs->gs_resp, &herr) == -1)
			r = PROXY_HTTP_ERROR;
		if (r == PROXY_HTTP_ERROR) {
			gw_stats.upstream_errors++;
			gw_up_drop(gs);
			gw_error(gs, 502, "upstream-response", herr.detail, 0);
			return;
		}
		evbuffer_drain(in, headlen);
		if (gs->gs_resp.rs_msg.hm_flags & PROXY_HTTP_F_INTERIM) {
			proxy_http_scan_init(&gs->gs_scan, 1);
			continue;
		}
		gw_resp_head(gs);
	}
	if (gs->gs_state == GW_RELAY && gs->gs_up == bev)
		gw_resp_body(gs);
}

/* Copy value to out, with any occurrence of the key overwritten. */
static void
gw_add_scrubbed(struct gw_session *gs, struct evbuffer *out, const char *v,
    size_t n)
{
	const char	*key, *hit;
	size_t		 klen = 0;

	if ((key = gw_key_of(gs, &klen)) == NULL || klen == 0) {
		evbuffer_add(out, v, n);
		return;
	}
	while ((hit = memmem(v, n, key, klen)) != NULL) {
		evbuffer_add(out, v, hit - v);
		evbuffer_add(out, "[redacted]", 10);
		n -= hit - v + klen;
		v = hit + klen;
	}
	evbuffer_add(out, v, n);
}

/* The response head to the client, framed the way sbxd sends it. */
static void
gw_resp_head(struct gw_session *gs)
{
	struct proxy_http_response	*rs = &gs->gs_resp;
	const struct proxy_http_field	*f;
	struct evbuffer			*out;
	size_t				 i;
	int				 persist;

	out = bufferevent_get_output(gs->gs_cli);
	gs->gs_status = rs->rs_status;
	persist = (gs->gs_req.rq_msg.hm_flags & PROXY_HTTP_F_PERSIST) != 0;
	gs->gs_out_chunked = gs->gs_out_close = 0;
	switch (rs->rs_msg.hm_body) {
	case PROXY_HTTP_BODY_NONE:
		break;
	case PROXY_HTTP_BODY_LENGTH:
		if (!gs->gs_filtering)
			break;
		/* FALLTHROUGH */
	default:
		if (gs->gs_req.rq_msg.hm_version == 11)
			gs->gs_out_chunked = 1;
		else
			gs->gs_out_close = 1;
		break;
	}
	if (!persist)
		gs->gs_out_close = 1;
	evbuffer_add_printf(out, "HTTP/1.1 %d ", rs->rs_status);
	evbuffer_add(out, rs->rs_reason, rs->rs_reasonlen);
	evbuffer_add(out, "\r\n", 2);
	for (i = 0; i < rs->rs_msg.hm_nfields; i++) {
		f = &rs->rs_msg.hm_fields[i];
		if ((f->hf_flags & PROXY_HTTP_FF_HOP) ||
		    f->hf_kind == PROXY_HTTP_K_CONTENT_LENGTH ||
		    f->hf_kind == PROXY_HTTP_K_TRANSFER_ENCODING)
			continue;
		evbuffer_add(out, f->hf_name, f->hf_namelen);
		evbuffer_add(out, ": ", 2);
		gw_add_scrubbed(gs, out, f->hf_value, f->hf_valuelen);
		evbuffer_add(out, "\r\n", 2);
	}
	if (gs->gs_out_chunked)
		evbuffer_add(out, "Transfer-Encoding: chunked\r\n", 28);
	else if (rs->rs_msg.hm_body == PROXY_HTTP_BODY_LENGTH)
		evbuffer_add_printf(out, "Content-Length: %" PRIu64 "\r\n",
		    rs->rs_msg.hm_length);
	else if (rs->rs_msg.hm_body == PROXY_HTTP_BODY_NONE &&
	    rs->rs_status != 204 && rs->rs_status != 304 &&
	    !(gs->gs_req.rq_msg.hm_flags & PROXY_HTTP_F_HEAD))
		evbuffer_add(out, "Content-Length: 0\r\n", 19);
	if (gs->gs_out_close)
		evbuffer_add(out, "Connection: close\r\n", 19);
	evbuffer_add(out, "\r\n", 2);
	gs->gs_state = GW_RELAY;
	if (gs->gs_kind >= 0) {
		size_t		 ctlen = 0;
		const char	*ct;
		char		 ctype[128];

		ct = proxy_http_field_find(&rs->rs_msg, "Content-Type", &ctlen);
		if (ct != NULL && ctlen < sizeof(ctype)) {
			memcpy(ctype, ct, ctlen);
			ctype[ctlen] = '\0';
			ct = ctype;
		} else
			ct = NULL;
		proxy_api_usage_init(&gs->gs_usage, gs->gs_kind,
		    gs->gs_uq.uq_stream ||
		    (gs->gs_route.ar_flags & PROXY_API_R_GEMINI_STREAM), ct);
	}
	if (gs->gs_filtering)
		proxy_sse_filter_init(&gs->gs_filter);
	switch (rs->rs_msg.hm_body) {
	case PROXY_HTTP_BODY_LENGTH:
		gs->gs_left = rs->rs_msg.hm_length;
		break;
	case PROXY_HTTP_BODY_CHUNKED:
		proxy_http_chunked_init(&gs->gs_chunk, 1);
		break;
	default:
		break;
	}
	if (rs->rs_msg.hm_body == PROXY_HTTP_BODY_NONE)
		gw_resp_end(gs, 1);
}

/* Response body bytes: de-framed, read for usage, passed on. */
static void
gw_resp_body(struct gw_session *gs)
{
	struct evbuffer		*in = bufferevent_get_input(gs->gs_up);
	struct proxy_http_error	 herr;
	size_t			 len, used, off, dlen;
	char			*p;
	int			 r;

	while (gs->gs_state == GW_RELAY) {
		if ((len = evbuffer_get_length(in)) == 0) {
			if (gs->gs_up_eof)
				gw_up_finish(gs);
			return;
		}
		if (evbuffer_get_length(bufferevent_get_output(gs->gs_cli)) >=
		    proxy_conf()->pc_buffer) {
			bufferevent_disable(gs->gs_up, EV_READ);
			return;
		}
		p = (char *)evbuffer_pullup(in, len);
		switch (gs->gs_resp.rs_msg.hm_body) {
		case PROXY_HTTP_BODY_LENGTH:
			if (len > gs->gs_left)
				len = gs->gs_left;
			gw_out(gs, p, len);
			evbuffer_drain(in, len);
			gs->gs_left -= len;
			if (gs->gs_left == 0) {
				gw_resp_end(gs, 1);
				return;
			}
			break;
		case PROXY_HTTP_BODY_CHUNKED:
			r = proxy_http_chunked_data(&gs->gs_chunk, p, len, &used,
			    &off, &dlen, &herr);
			if (r == PROXY_HTTP_ERROR) {
				gs->gs_note = "bad chunked body upstream";
				gw_resp_end(gs, 0);
				return;
			}
			if (dlen > 0)
				gw_out(gs, p + off, dlen);
			evbuffer_drain(in, used);
			if (r == PROXY_HTTP_DONE) {
				gw_resp_end(gs, 1);
				return;
			}
			break;
		default:
			gw_out(gs, p, len);
			evbuffer_drain(in, len);
			break;
		}
	}
}

/* Body bytes from upstream, in order. */
static void
gw_out(struct gw_session *gs, const char *p, size_t n)
{
	gs->gs_bytes_down += n;
	if (gs->gs_kind >= 0)
		(void)proxy_api_usage_feed(&gs->gs_usage, p, n);
	if (gs->gs_filtering)
		proxy_sse_filter_feed(&gs->gs_filter, p, n, gw_filter_outcb,
		    gs);
	else
		gw_emit(gs, p, n);
}

static void
gw_filter_outcb(const char *p, size_t n, void *arg)
{
	gw_emit(arg, p, n);
}

/*
 * Bytes for the client, with the key overwritten wherever it occurs:
 * a tail that may be the start of the key waits for what follows.
 */
static void
gw_emit(struct gw_session *gs, const char *p, size_t n)
{
	const char	*key;
	char		*buf, *hit, *end;
	size_t		 klen = 0, len, keep, k;

	if (n == 0)
		return;
	if ((key = gw_key_of(gs, &klen)) == NULL) {
		gw_hold_flush(gs);
		gw_write(gs, p, n);
		return;
	}
	len = gs->gs_holdlen + n;
	if ((buf = malloc(len)) == NULL) {
		/* Nothing unscrubbed goes out: the response is cut. */
		gs->gs_broken = 1;
		return;
	}
	if (gs->gs_holdlen > 0)
		memcpy(buf, gs->gs_hold, gs->gs_holdlen);
	memcpy(buf + gs->gs_holdlen, p, n);
	free(gs->gs_hold);
	gs->gs_hold = NULL;
	gs->gs_holdlen = 0;
	end = buf + len;
	for (hit = buf; (hit = memmem(hit, end - hit, key, klen)) != NULL;
	    hit += klen)
		memset(hit, '*', klen);
	/* The longest tail that is a proper prefix of the key. */
	keep = 0;
	for (k = klen - 1 < len ? klen - 1 : len; k > 0; k--)
		if (memcmp(end - k, key, k) == 0) {
			keep = k;
			break;
		}
	if (keep > 0 && (gs->gs_hold = malloc(keep)) != NULL) {
		memcpy(gs->gs_hold, end - keep, keep);
		gs->gs_holdlen = keep;
	} else
		keep = 0;
	gw_write(gs, buf, len - keep);
	util_zero(buf, len);
	free(buf);
}

static void
gw_hold_flush(struct gw_session *gs)
{
	char	*h = gs->gs_hold;
	size_t	 n = gs->gs_holdlen;

	gs->gs_hold = NULL;
	gs->gs_holdlen = 0;
	if (h != NULL) {
		gw_write(gs, h, n);
		free(h);
	}
}

/* Framed as the client's response is. */
static void
gw_write(struct gw_session *gs, const char *p, size_t n)
{
	if (!gs->gs_broken)
		gw_chunk_add(bufferevent_get_output(gs->gs_cli),
		    gs->gs_out_chunked, p, n);
}

/*
 * The response ended: whole (clean) or cut.  A cut response is cut for
 * the client too: no last chunk, the connection closes.
 */
static void
gw_resp_end(struct gw_session *gs, int clean)
{
	struct evbuffer	*out = bufferevent_get_output(gs->gs_cli);
	int		 pool;

	if (gs->gs_filtering)
		proxy_sse_filter_end(&gs->gs_filter, gw_filter_outcb, gs);
	gw_hold_flush(gs);
	if (gs->gs_broken) {
		clean = 0;
		gs->gs_note = "out of memory";
	}
	if (gs->gs_kind >= 0)
		proxy_api_usage_end(&gs->gs_usage, clean);
	if (gs->gs_isgit && !gs->gs_body_done)
		gs->gs_out_close = 1;	/* the rest of its body is no head */
	if (!clean) {
		gs->gs_truncated = 1;
		gw_stats.truncated++;
		gs->gs_out_close = 1;
		if (gs->gs_note == NULL)
			gs->gs_note = "upstream cut the response";
	} else if (gs->gs_out_chunked)
		evbuffer_add(out, "0\r\n\r\n", 5);
	gw_account(gs);
	pool = clean && !gs->gs_isgit &&
	    gs->gs_resp.rs_msg.hm_body != PROXY_HTTP_BODY_CLOSE &&
	    (gs->gs_resp.rs_msg.hm_flags & PROXY_HTTP_F_PERSIST) &&
	    evbuffer_get_length(bufferevent_get_input(gs->gs_up)) == 0;
	if (pool) {
		gw_pool_put(gs->gs_pool_key, gs->gs_up);
		gs->gs_up = NULL;
	} else
		gw_up_drop(gs);
	gw_next(gs);
}

static void
gw_up_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct gw_session	*gs = arg;
	char			 why[PROXY_TLS_UP_WHY_LEN];

	if (gs->gs_state == GW_WAIT) {
		(void)proxy_tls_up_end(bev, what, why, sizeof(why));
		if (gs->gs_reused && !gs->gs_up_bytes && !gs->gs_retried &&
		    !gs->gs_isgit && !(what & BEV_EVENT_TIMEOUT)) {
			/* A kept connection the server had closed: again. */
			gw_up_drop(gs);
			gs->gs_retried = 1;
			gs->gs_state = GW_UPSTREAM;
			gw_upstream(gs);
			return;
		}
		gw_stats.upstream_errors++;
		gw_up_drop(gs);
		log_info("gateway %s: upstream %s: %s", gs->gs_gl->gl_sandbox,
		    gw_name(gs), why);
		gw_error(gs, what & BEV_EVENT_TIMEOUT ? 504 : 502,
		    what & BEV_EVENT_TIMEOUT ? "upstream-timeout" :
		    "upstream-closed", "the upstream closed without an answer",
		    0);
		return;
	}
	if (gs->gs_state != GW_RELAY)
		return;
	/* Bytes still queued are the response's. */
	gs->gs_up_eof = what | 0x8000;
	gw_resp_body(gs);
}

/* The upstream ended and each of its bytes was relayed. */
static void
gw_up_finish(struct gw_session *gs)
{
	struct bufferevent	*bev = gs->gs_up;
	enum proxy_tls_up_end	 end;
	short			 what = gs->gs_up_eof & ~0x8000;
	char			 why[PROXY_TLS_UP_WHY_LEN];

	end = proxy_tls_up_end(bev, what, why, sizeof(why));
	if (gs->gs_resp.rs_msg.hm_body == PROXY_HTTP_BODY_CLOSE &&
	    end == PROXY_TLS_UP_CLOSED) {
		gw_resp_end(gs, 1);
		return;
	}
	gs->gs_note = what & BEV_EVENT_TIMEOUT ? "upstream idle" :
	    end == PROXY_TLS_UP_TRUNCATED ? "upstream closed without "
	    "close_notify" : "upstream failed";
	log_info("gateway %s: %s response cut: %s", gs->gs_gl->gl_sandbox,
	    gw_name(gs), why);
	gw_resp_end(gs, 0);
}

/* After an exchange: the next request, or close once all is written. */
static void
gw_next(struct gw_session *gs)
{

	gw_exchange_clear(gs);
	/*
	 * Never freed or restarted here, inside a callback that may go on
	 * using gs: the write callback closes, the read callback reads the
	 * next request, each from the loop.
	 */
	if (gs->gs_out_close) {
		gs->gs_state = GW_CLOSING;
		bufferevent_disable(gs->gs_cli, EV_READ);
		bufferevent_trigger(gs->gs_cli, EV_WRITE,
		    BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
		return;
	}
	gs->gs_state = GW_HEAD;
	proxy_http_scan_init(&gs->gs_scan, 0);
	bufferevent_enable(gs->gs_cli, EV_READ);
	if (evbuffer_get_length(bufferevent_get_input(gs->gs_cli)) > 0)
		bufferevent_trigger(gs->gs_cli, EV_READ,
		    BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
}

/* Forget one exchange's state; the connection stays. */
static void
gw_exchange_clear(struct gw_session *gs)
{
	if (gs->gs_dns != NULL) {
		proxy_dns_cancel(gs->gs_dns);
		gs->gs_dns = NULL;
	}
	if (gs->gs_connect != NULL) {
		proxy_tls_up_cancel(gs->gs_connect);
		gs->gs_connect = NULL;
	}
	if (gs->gs_kind >= 0 && gs->gs_state >= GW_RELAY)
		proxy_api_usage_clear(&gs->gs_usage);
	if (gs->gs_filtering)
		proxy_sse_filter_clear(&gs->gs_filter);
	gs->gs_filtering = 0;
	gs->gs_kind = -1;
	proxy_http_request_free(&gs->gs_req);
	proxy_http_response_free(&gs->gs_resp);
	if (gs->gs_body != NULL) {
		evbuffer_free(gs->gs_body);
		gs->gs_body = NULL;
	}
	free(gs->gs_newbody);
	gs->gs_newbody = NULL;
	free(gs->gs_hold);
	gs->gs_hold = NULL;
	gs->gs_holdlen = 0;
	gs->gs_status = 0;
	gs->gs_note = NULL;
	gs->gs_reused = gs->gs_retried = gs->gs_truncated = 0;
	gs->gs_broken = 0;
	gs->gs_accounted = 0;
	gs->gs_reserved = 0;
	gs->gs_bytes_up = gs->gs_bytes_down = 0;
	gs->gs_ccsession[0] = '\0';
	gs->gs_up_eof = 0;
	memset(&gs->gs_route, 0, sizeof(gs->gs_route));
	if (gs->gs_push != NULL) {
		proxy_git_push_free(gs->gs_push);
		free(gs->gs_push);
		gs->gs_push = NULL;
	}
	if (gs->gs_ghcall != NULL) {
		proxy_gh_cancel(gs->gs_ghcall);
		gs->gs_ghcall = NULL;
	}
	gs->gs_isgit = gs->gs_isgh = gs->gs_push_phase = 0;
	gs->gs_appwait = 0;
	gs->gs_up_ready = gs->gs_up_chunked = gs->gs_body_done = 0;
	gs->gs_refused = gs->gs_refused_why = NULL;
	memset(&gs->gs_git, 0, sizeof(gs->gs_git));
}

/*
 * The exchange cannot end as it should: a client that has the head
 * sees the body cut; one that has nothing gets 502.
 */
static void
gw_resp_end_cut(struct gw_session *gs)
{
	if (gs->gs_state == GW_RELAY)
		gw_resp_end(gs, 0);
	else
		gw_error(gs, 502, gs->gs_note != NULL ? gs->gs_note :
		    "cut", "the request could not be relayed whole", 1);
}

static void
gw_up_drop(struct gw_session *gs)
{
	if (gs->gs_up != NULL) {
		bufferevent_free(gs->gs_up);
		gs->gs_up = NULL;
	}
}

static void
gw_close(struct gw_session *gs, const char *why)
{
	if (why != NULL)
		log_debug("gateway %s: connection %llu: %s",
		    gs->gs_gl->gl_sandbox, (unsigned long long)gs->gs_id, why);
	if (gs->gs_reserved > 0 && !gs->gs_accounted)
		gw_budget_settle(gs, gs->gs_reserved);
	gw_exchange_clear(gs);
	gw_up_drop(gs);
	bufferevent_free(gs->gs_cli);
	gs->gs_gl->gl_nsessions--;
	TAILQ_REMOVE(&gw_sessions, gs, gs_entry);
	free(gs);
}

/*
 * An answer of sbxd's own, in the provider's shape, with x-sbxd-error.
 * Before the body was read (early) the connection closes after it.
 */
static void
gw_error(struct gw_session *gs, int status, const char *reason,
    const char *message, int early)
{
	struct evbuffer	*out = bufferevent_get_output(gs->gs_cli);
	char		*body;
	time_t		 now, next;
	int		 retry = 0;

	gw_stats.refused++;
	if (gs->gs_isgit || gs->gs_isgh) {
		gw_git_error(gs, status, reason, message, early);
		return;
	}
	if (status == 429) {
		now = time(NULL);
		next = gw_day_start(now) + 86400;
		retry = (int)(next - now);
	}
	body = proxy_api_error_json(gs->gs_prov, status, reason, message);
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nContent-Type: "
	    "application/json\r\nContent-Length: %zu\r\nx-sbxd-error: %s\r\n",
	    status, proxy_http_error_status_text(status),
	    body != NULL ? strlen(body) : 0, reason);
	if (retry > 0)
		evbuffer_add_printf(out, "Retry-After: %d\r\n", retry);
	if (early || !(gs->gs_req.rq_msg.hm_flags & PROXY_HTTP_F_PERSIST)) {
		evbuffer_add(out, "Connection: close\r\n", 19);
		gs->gs_out_close = 1;
	}
	evbuffer_add(out, "\r\n", 2);
	if (body != NULL)
		evbuffer_add(out, body, strlen(body));
	free(body);
	gs->gs_status = status;
	if (gs->gs_note == NULL)
		gs->gs_note = reason;
	log_info("gateway %s: %s %s: %d %s", gs->gs_gl->gl_sandbox,
	    gs->gs_req.rq_method != NULL ? gs->gs_req.rq_method : "-",
	    gs->gs_req.rq_path != NULL ? gw_name(gs) :
	    "-", status, reason);
	if (gs->gs_route.ar_method != NULL)
		gw_account(gs);
	gw_up_drop(gs);
	gw_next(gs);
}

/* A refusal git shows: plain text, "sbxd: why". */
static void
gw_git_error(struct gw_session *gs, int status, const char *reason,
    const char *message, int early)
{
	struct evbuffer	*out = bufferevent_get_output(gs->gs_cli);
	char		 body[512];
	int		 n;

	n = snprintf(body, sizeof(body), "sbxd: %s (%s)\n", message != NULL ?
	    message : reason, reason);
	if (n < 0 || (size_t)n >= sizeof(body))
		n = strlen(body);
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nContent-Type: "
	    "text/plain; charset=utf-8\r\nContent-Length: %d\r\n"
	    "x-sbxd-error: %s\r\n", status,
	    proxy_http_error_status_text(status), n, reason);
	if (early || !(gs->gs_req.rq_msg.hm_flags & PROXY_HTTP_F_PERSIST)) {
		evbuffer_add(out, "Connection: close\r\n", 19);
		gs->gs_out_close = 1;
	}
	evbuffer_add(out, "\r\n", 2);
	evbuffer_add(out, body, n);
	gs->gs_status = status;
	if (gs->gs_note == NULL)
		gs->gs_note = reason;
	if (gs->gs_isgh)
		log_info("gateway %s: gh %s: %d %s", gs->gs_gl->gl_sandbox,
		    gs->gs_req.rq_path != NULL ? gs->gs_req.rq_path + 3 : "-",
		    status, reason);
	else
		log_info("gateway %s: git %s: %d %s", gs->gs_gl->gl_sandbox,
		    gs->gs_git.gr_name[0] != '\0' ? gs->gs_git.gr_name : "-",
		    status, reason);
	if (gs->gs_isgit)
		gw_account(gs);
	gw_up_drop(gs);
	gw_next(gs);
}

/*
 * Accounting.
 */

/* Midnight UTC of the day t is in. */
static time_t
gw_day_start(time_t t)
{
	return (t - t % 86400);
}

/*
 * A provider's budget: reserve what the request may cost before it
 * goes; 429 if today's charges and open reservations leave too little.
 * -1 if refused (answered).
 */
static int
gw_budget_reserve(struct gw_session *gs, const struct provider_conf *pv)
{
	struct gw_listener	*gl = gs->gs_gl;
	int			 p = gs->gs_prov;
	time_t			 day = gw_day_start(time(NULL));
	struct tm		 tm;
	char			 since[32];
	int64_t			 r, charged, choices;

	gs->gs_reserved = 0;
	if (pv->pv_budget <= 0 || gs->gs_kind < 0)
		return (0);
	if (gl->gl_day[p] != day) {
		gw_flush();
		gmtime_r(&day, &tm);
		strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%S.000Z", &tm);
		charged = store_usage_charged(gl->gl_sandbox,
		    proxy_api_provider_name(p), since);
		gl->gl_charged[p] = charged > 0 ? charged : 0;
		gl->gl_day[p] = day;
	}
	choices = gs->gs_uq.uq_choices > 1 ? gs->gs_uq.uq_choices : 1;
	r = (gs->gs_uq.uq_max_output > 0 ? gs->gs_uq.uq_max_output :
	    GW_RESERVE_OUTPUT) * choices;
	if (gs->gs_body != NULL)
		r += evbuffer_get_length(gs->gs_body) / GW_BYTES_PER_TOKEN;
	if (gl->gl_charged[p] + gl->gl_reserved[p] + r > pv->pv_budget) {
		gw_stats.over_budget++;
		gw_error(gs, 429, "budget", "this sandbox's daily token budget "
		    "for this provider is spent", 0);
		return (-1);
	}
	gl->gl_reserved[p] += r;
	gs->gs_reserved = r;
	return (0);
}

/* The reservation ends; charged tokens count against today. */
static void
gw_budget_settle(struct gw_session *gs, int64_t charged)
{
	struct gw_listener	*gl = gs->gs_gl;
	int			 p = gs->gs_prov;

	if (gs->gs_reserved > 0) {
		gl->gl_reserved[p] -= gs->gs_reserved;
		if (gl->gl_reserved[p] < 0)
			gl->gl_reserved[p] = 0;
	}
	if (gl->gl_day[p] == gw_day_start(time(NULL)))
		gl->gl_charged[p] += charged;
	gs->gs_reserved = 0;
}

/* One row for the exchange, a log line, and the budget settled. */
static void
gw_account(struct gw_session *gs)
{
	const struct proxy_api_usage_result	*ur = NULL;
	struct timespec				 now;
	json_t					*row;
	int64_t					 charged = 0, ms;
	int					 missing = 0;

	if (gs->gs_accounted)
		return;
	gs->gs_accounted = 1;
	util_monotime(&now);
	ms = (now.tv_sec - gs->gs_tv.tv_sec) * 1000 +
	    (now.tv_nsec - gs->gs_tv.tv_nsec) / 1000000;
	if (gs->gs_isgit) {
		gw_git_log(gs, ms);
		return;
	}
	if (gs->gs_kind >= 0 && gs->gs_state >= GW_RELAY)
		ur = proxy_api_usage_result(&gs->gs_usage);
	if (ur != NULL && ur->ur_usage_seen)
		charged = ur->ur_input + ur->ur_output;
	else if (gs->gs_kind >= 0 && gs->gs_reserved > 0 &&
	    (gs->gs_truncated || (gs->gs_status > 0 && gs->gs_status < 400)))
		charged = gs->gs_reserved;
	if (gs->gs_kind >= 0 && (ur == NULL || !ur->ur_usage_seen) &&
	    gs->gs_status > 0 && (gs->gs_status < 400 || gs->gs_truncated))
		missing = 1;
	gw_budget_settle(gs, charged);
	if (ur != NULL && ur->ur_usage_seen) {
		struct proxy_gw_counters	*gc = &gs->gs_gl->gl_counters;

		gc->gc_requests++;
		gc->gc_input += ur->ur_input;
		gc->gc_cached += ur->ur_cached_input;
		gc->gc_output += ur->ur_output;
		if (ur->ur_cost_seen) {
			gc->gc_cost += ur->ur_cost;
			gc->gc_costs++;
		}
	}
	row = json_pack("{s:s, s:s, s:s, s:s, s:i, s:I, s:I, s:I, s:I, s:I, "
	    "s:I, s:I, s:I, s:I, s:I, s:b, s:b}",
	    "sandbox", gs->gs_gl->gl_sandbox,
	    "provider", proxy_api_provider_name(gs->gs_prov),
	    "endpoint", gs->gs_route.ar_method != NULL ?
	    proxy_api_endpoint_name(gs->gs_route.ar_endpoint) : "-",
	    "path", gs->gs_route.ar_method != NULL ? gs->gs_route.ar_path :
	    "-",
	    "status", gs->gs_status,
	    "input", (json_int_t)(ur != NULL ? ur->ur_input : 0),
	    "cached", (json_int_t)(ur != NULL ? ur->ur_cached_input : 0),
	    "cache_creation", (json_int_t)(ur != NULL ?
	    ur->ur_cache_creation : 0),
	    "output", (json_int_t)(ur != NULL ? ur->ur_output : 0),
	    "reasoning", (json_int_t)(ur != NULL ? ur->ur_reasoning : 0),
	    "reserved", (json_int_t)gs->gs_reserved,
	    "charged", (json_int_t)charged,
	    "bytes_up", (json_int_t)gs->gs_bytes_up,
	    "bytes_down", (json_int_t)gs->gs_bytes_down,
	    "duration_ms", (json_int_t)ms,
	    "truncated", gs->gs_truncated,
	    "usage_missing", missing);
	if (row == NULL)
		return;
	if (ur != NULL && ur->ur_model[0] != '\0')
		json_object_set_new(row, "model", json_string(ur->ur_model));
	else if (gs->gs_uq.uq_model[0] != '\0')
		json_object_set_new(row, "model",
		    json_string(gs->gs_uq.uq_model));
	if (ur != NULL && ur->ur_cost_seen)
		json_object_set_new(row, "cost", json_real(ur->ur_cost));
	if (gs->gs_ccsession[0] != '\0')
		json_object_set_new(row, "session",
		    json_string(gs->gs_ccsession));
	gw_row(row);
	log_info("gateway %s: %s %s%s: %d, %s, %" PRId64 " in, %" PRId64
	    " out, %" PRId64 " ms%s%s%s", gs->gs_gl->gl_sandbox,
	    gs->gs_route.ar_method != NULL ? gs->gs_route.ar_method : "-",
	    proxy_api_provider_name(gs->gs_prov),
	    gs->gs_route.ar_method != NULL ? gs->gs_route.ar_path : "",
	    gs->gs_status, json_string_value(json_object_get(row, "model")) ?
	    json_string_value(json_object_get(row, "model")) : "-",
	    ur != NULL ? ur->ur_input : 0, ur != NULL ? ur->ur_output : 0, ms,
	    gs->gs_truncated ? ", cut: " : "", gs->gs_truncated &&
	    gs->gs_note != NULL ? gs->gs_note : "",
	    missing ? ", no usage" : "");
	json_decref(row);
}

/* A git exchange: a log line, and an event for a push. */
static void
gw_git_log(struct gw_session *gs, int64_t ms)
{
	json_t	*refs;
	size_t	 i;

	log_info("gateway %s: git %s %s: %d, %" PRIu64 " bytes up, %" PRIu64
	    " down, %" PRId64 " ms%s%s", gs->gs_gl->gl_sandbox,
	    gs->gs_git.gr_advert ? "refs" : gs->gs_git.gr_service ==
	    PROXY_GIT_RECEIVE_PACK ? "push" : "fetch", gs->gs_git.gr_name,
	    gs->gs_status,
	    gs->gs_bytes_up, gs->gs_bytes_down, ms,
	    gs->gs_truncated ? ", cut: " : "", gs->gs_truncated &&
	    gs->gs_note != NULL ? gs->gs_note : "");
	if (gs->gs_push == NULL)
		return;
	refs = json_array();
	for (i = 0; i < gs->gs_push->pu_ncmds; i++)
		json_array_append_new(refs, json_stringn(
		    gs->gs_push->pu_cmds[i].gc_ref,
		    gs->gs_push->pu_cmds[i].gc_reflen));
	events_publish("gateway.push", json_pack("{s:s, s:s, s:o, s:i, s:b}",
	    "sandbox", gs->gs_gl->gl_sandbox, "repo", gs->gs_git.gr_name,
	    "refs", refs, "status", gs->gs_status, "cut", gs->gs_truncated));
}

/* usage [name] [since]: the sums of the store's rows, and budgets. */
static void
gw_ctl_usage(struct control_req *cr, json_t *req)
{
	const struct provider_conf	*pv;
	struct gw_listener		*gl;
	const char			*name, *since;
	json_t				*rows, *budgets;
	time_t				 day = gw_day_start(time(NULL));
	struct tm			 tm;
	char				 dstart[32];
	int64_t				 charged;

	gw_flush();
	name = json_string_value(json_object_get(req, "name"));
	since = json_string_value(json_object_get(req, "since"));
	if ((rows = store_usage_sum(name, since)) == NULL) {
		control_req_error(cr, "the store: %s", store_error());
		return;
	}
	gmtime_r(&day, &tm);
	strftime(dstart, sizeof(dstart), "%Y-%m-%dT%H:%M:%S.000Z", &tm);
	budgets = json_array();
	TAILQ_FOREACH(gl, &gw_listeners, gl_entry) {
		if (name != NULL && strcmp(gl->gl_sandbox, name) != 0)
			continue;
		TAILQ_FOREACH(pv, &sbxd_env->sx_conf->sc_providers, pv_entry) {
			if (pv->pv_budget <= 0 ||
			    !(gl->gl_providers & (1 << pv->pv_type)))
				continue;
			charged = store_usage_charged(gl->gl_sandbox,
			    pv->pv_name, dstart);
			json_array_append_new(budgets, json_pack("{s:s, s:s, "
			    "s:I, s:I, s:I, s:s}", "sandbox", gl->gl_sandbox,
			    "provider", pv->pv_name, "budget",
			    (json_int_t)pv->pv_budget, "charged",
			    (json_int_t)(charged > 0 ? charged : 0),
			    "reserved", (json_int_t)gl->gl_reserved[pv->pv_type],
			    "day_start", dstart));
		}
	}
	control_req_ok(cr, json_pack("{s:o, s:s?, s:o}", "usage", rows,
	    "since", since, "budgets", budgets));
}

/*
 * The pool of idle upstreams.
 */

static void
gw_pool_put(const char *key, struct bufferevent *bev)
{
	struct gw_idle	*gi;
	int		 n = 0;

	TAILQ_FOREACH(gi, &gw_idles, gi_entry)
		if (strcmp(gi->gi_key, key) == 0)
			n++;
	if (n >= GW_POOL_MAX || (gi = calloc(1, sizeof(*gi))) == NULL) {
		bufferevent_free(bev);
		return;
	}
	snprintf(gi->gi_key, sizeof(gi->gi_key), "%s", key);
	gi->gi_bev = bev;
	util_monotime(&gi->gi_since);
	/* Still read (a close or stray bytes end it), its timeouts kept. */
	bufferevent_setcb(bev, gw_pool_readcb, NULL, gw_pool_eventcb, gi);
	TAILQ_INSERT_HEAD(&gw_idles, gi, gi_entry);
}

static struct bufferevent *
gw_pool_take(const char *key)
{
	struct gw_idle		*gi, *next;
	struct bufferevent	*bev;
	struct timespec		 now;

	util_monotime(&now);
	TAILQ_FOREACH_SAFE(gi, &gw_idles, gi_entry, next) {
		if (now.tv_sec - gi->gi_since.tv_sec >= GW_POOL_IDLE) {
			gw_pool_drop(gi);	/* the newest are first */
			continue;
		}
		if (strcmp(gi->gi_key, key) == 0)
			break;
	}
	if (gi == NULL)
		return (NULL);
	bev = gi->gi_bev;
	TAILQ_REMOVE(&gw_idles, gi, gi_entry);
	free(gi);
	return (bev);
}

static void
gw_pool_drop(struct gw_idle *gi)
{
	TAILQ_REMOVE(&gw_idles, gi, gi_entry);
	bufferevent_free(gi->gi_bev);
	free(gi);
}

/* An idle upstream that speaks, closes or times out is done. */
static void
gw_pool_readcb(struct bufferevent *bev __unused, void *arg)
{
	gw_pool_drop(arg);
}

static void
gw_pool_eventcb(struct bufferevent *bev __unused, short what __unused,
    void *arg)
{
	gw_pool_drop(arg);
}

static void
gw_pool_flush(void)
{
	struct gw_idle	*gi;

	while ((gi = TAILQ_FIRST(&gw_idles)) != NULL)
		gw_pool_drop(gi);
}
