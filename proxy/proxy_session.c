/*
 * proxy_session.c: one client connection, from accept to close.  Each
 * step ends by calling the next or the close function:
 *
 *	proxy_session_new -> proxy_session_head -> proxy_session_decide
 *	    -> proxy_session_resolve -> proxy_session_connect
 *	    -> proxy_session_connected -> proxy_forward_start (HTTP)
 *	                               or proxy_session_hello -> tunnel
 *
 * Every request on a kept-alive connection goes through the same checks.
 * A refusal answers before any byte is relayed.  proxy_session_close is
 * the one teardown path; proxy_session_finish closes once the client has
 * what was written to it and has stopped sending.
 */

#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_struct.h>
#include <event2/event.h>
#include <event2/util.h>
#include <jansson.h>

#include "config.h"
#include "log.h"
#include "sbxd.h"

#define PROXY_LINGER_IDLE	1	/* seconds of quiet from a client
					   before a lingering close ends */
#define PROXY_LINGER_SECS	2	/* and at most, in all: clients are
					   local */
#include "proxy.h"

#define PROXY_BODY_MAX		2048	/* text of a refusal page */

static uint64_t		 proxy_session_ids;

static void	proxy_session_decide(struct proxy_session *);
static void	proxy_session_resolve(struct proxy_session *);
static void	proxy_session_dnscb(int, struct evutil_addrinfo *, void *);
static int	proxy_session_addr_next(struct proxy_session *, const char **,
		    const char **);
static void	proxy_session_connect(struct proxy_session *);
static void	proxy_session_connected(struct proxy_session *);
static void	proxy_session_connect_failed(struct proxy_session *, short);
static void	proxy_session_hello(struct proxy_session *);
static void	proxy_session_handoff(struct proxy_session *);
static void	proxy_session_tunnelcb(void *, const char *);
static void	proxy_session_reject(struct proxy_session *,
		    const struct proxy_http_error *);
static void	proxy_session_timercb(evutil_socket_t, short, void *);
static int	proxy_side_read_now(struct proxy_side *);
static void	proxy_cli_readcb(struct bufferevent *, void *);
static void	proxy_cli_writecb(struct bufferevent *, void *);
static void	proxy_cli_eventcb(struct bufferevent *, short, void *);
static void	proxy_up_readcb(struct bufferevent *, void *);
static void	proxy_up_writecb(struct bufferevent *, void *);
static void	proxy_up_eventcb(struct bufferevent *, short, void *);
static json_t	*proxy_session_event(struct proxy_session *);
static void	 proxy_session_linger(struct proxy_session *);

/* Take the accepted client fd: a new session reading its first head. */
void
proxy_session_new(struct proxy_listener *pr, int fd,
    const struct sockaddr *sa)
{
	struct proxy_session	*ps;

	if ((ps = calloc(1, sizeof(*ps))) == NULL) {
		log_warn("%s", __func__);
		close(fd);
		return;
	}
	ps->ps_id = ++proxy_session_ids;
	ps->ps_listener = pr;
	ps->ps_cli.fd = fd;
	ps->ps_up.fd = -1;
	ps->ps_cli.peer = &ps->ps_up;
	ps->ps_up.peer = &ps->ps_cli;
	ps->ps_cli.ps = ps->ps_up.ps = ps;
	util_sockaddr_str(sa, ps->ps_client, sizeof(ps->ps_client));
	util_monotime(&ps->ps_tv_start);
	evtimer_assign(&ps->ps_timer, sbxd_env->sx_base,
	    proxy_session_timercb, ps);
	TAILQ_INSERT_TAIL(&proxy_sessions, ps, ps_entry);
	pr->pr_nsessions++;
	if (proxy_side_open(&ps->ps_cli, fd) == -1) {
		proxy_session_close(ps, "out of memory");
		return;
	}
	log_debug("%s: session %llu: %s on %s", __func__,
	    (unsigned long long)ps->ps_id, ps->ps_client, pr->pr_name);
	ps->ps_state = PROXY_S_HEAD;
	proxy_http_scan_init(&ps->ps_scan, 0);
	proxy_session_arm(ps, 1);
	/*
	 * The listener accepts once the client has sent something (a
	 * deferred accept, where the system has it): read it now rather
	 * than after another turn of the loop.
	 */
	if (proxy_side_read_now(&ps->ps_cli) > 0)
		proxy_session_head(ps);
}

/*
 * Read what the socket holds into side's input now, rather than after
 * another turn of the loop.  A bufferevent keeps the ends of its buffers
 * that it fills and empties frozen against outside use; they thaw for
 * the one call, as in the bufferevent's own callbacks (proxy_side_flush
 * too).  An error or EOF is left for the bufferevent to find.
 */
static int
proxy_side_read_now(struct proxy_side *side)
{
	struct evbuffer	*in = bufferevent_get_input(side->bev);
	int		 n;

	evbuffer_unfreeze(in, 0);
	n = evbuffer_read(in, side->fd, PROXY_HTTP_HEAD_MAX + 4);
	evbuffer_freeze(in, 0);
	return (n);
}

/*
 * Write side's output now, rather than after a turn of the loop that
 * only reports the socket writable.  What the socket does not take waits
 * for the bufferevent as usual, and its write callback comes once that is
 * written; when all is written at once, no callback comes, and the write
 * event the bufferevent asked for is taken back.  Returns the bytes left.
 */
size_t
proxy_side_flush(struct proxy_side *side)
{
	struct evbuffer	*out = bufferevent_get_output(side->bev);
	size_t		 left;

	if (evbuffer_get_length(out) == 0)
		return (0);
	evbuffer_unfreeze(out, 1);
	(void)evbuffer_write(out, side->fd);
	evbuffer_freeze(out, 1);
	if ((left = evbuffer_get_length(out)) == 0)
		event_del(&side->bev->ev_write);
	return (left);
}

/*
 * A bufferevent for side on fd, a socket that side owns from here on,
 * connected or not.  The session keeps the fd: a tunnel takes it over
 * later.  No side waits to gather small writes (Nagle's algorithm): a
 * relay must not hold back what a peer sent, and a peer that writes
 * twice before it reads would otherwise stall a delayed ACK each time.
 */
int
proxy_side_open(struct proxy_side *side, int fd)
{
	struct proxy_conf	*pc = proxy_conf();
	size_t			 high;
	int			 one = 1, kbuf;

	side->fd = fd;
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
	    sizeof(one)) == -1)
		log_debug("%s: TCP_NODELAY: %s", __func__, strerror(errno));
	/* A fixed size also stops the kernel from growing them. */
	kbuf = (int)proxy_kbuf();
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &kbuf, sizeof(kbuf)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &kbuf, sizeof(kbuf)) == -1)
		log_debug("%s: SO_RCVBUF, SO_SNDBUF: %s", __func__,
		    strerror(errno));
	side->bev = bufferevent_socket_new(sbxd_env->sx_base, fd, 0);
	if (side->bev == NULL)
		return (-1);
	if (side == &side->ps->ps_cli) {
		bufferevent_setcb(side->bev, proxy_cli_readcb,
		    proxy_cli_writecb, proxy_cli_eventcb, side->ps);
		/* A whole head must fit, whatever the buffer size. */
		high = pc->pc_buffer > PROXY_HTTP_HEAD_MAX + 4 ?
		    pc->pc_buffer : PROXY_HTTP_HEAD_MAX + 4;
	} else {
		bufferevent_setcb(side->bev, proxy_up_readcb,
		    proxy_up_writecb, proxy_up_eventcb, side->ps);
		high = pc->pc_buffer;
	}
	bufferevent_setwatermark(side->bev, EV_READ, 0, high);
	return (bufferevent_enable(side->bev, EV_READ));
}

/*
 * The client is gone but the upstream side could carry another request:
 * park it in the pool for the next session of this listener to the same
 * destination.
 */
void
proxy_side_park(struct proxy_side *side)
{
	struct proxy_session	*ps = side->ps;

	if (side->bev == NULL || (ps->ps_flags & PROXY_F_UP_EOF) ||
	    ps->ps_pump[0] != NULL || ps->ps_pump[1] != NULL) {
		proxy_side_free(side);
		return;
	}
	proxy_pool_put(ps->ps_listener, ps->ps_up_dest, &ps->ps_up_ss,
	    ps->ps_up_sslen, side->bev, side->fd);
	side->bev = NULL;
	side->fd = -1;
}

/*
 * Take a parked upstream connection to this request's destination, if
 * there is one whose address the policy still lets through.
 */
static int
proxy_side_unpark(struct proxy_side *side)
{
	struct proxy_session	*ps = side->ps;
	struct bufferevent	*bev;
	const char		*why, *rule;
	int			 fd;

	bev = proxy_pool_take(ps->ps_listener, ps->ps_dest, &fd,
	    &ps->ps_up_ss, &ps->ps_up_sslen);
	if (bev == NULL)
		return (-1);
	side->bev = bev;
	side->fd = fd;
	if (proxy_judge_addr(ps, &ps->ps_up_ss, &ps->ps_up_sslen, &why,
	    &rule) == -1) {
		proxy_side_free(side);
		return (-1);
	}
	bufferevent_setcb(bev, proxy_up_readcb, proxy_up_writecb,
	    proxy_up_eventcb, ps);
	bufferevent_setwatermark(bev, EV_READ, 0, proxy_conf()->pc_buffer);
	bufferevent_enable(bev, EV_READ);
	return (0);
}

/* Free a side's bufferevent and close its socket. */
void
proxy_side_free(struct proxy_side *side)
{
	proxy_forward_unpump(side->ps);		/* a pump uses both sides */
	if (side->bev != NULL) {
		bufferevent_free(side->bev);
		side->bev = NULL;
	}
	if (side->fd != -1) {
		close(side->fd);
		side->fd = -1;
	}
}

/*
 * The one teardown path.  Safe on a half-built session; the access log
 * gets its line if this request has not had one.
 */
void
proxy_session_close(struct proxy_session *ps, const char *why)
{
	log_debug("%s: session %llu: %s", __func__,
	    (unsigned long long)ps->ps_id, why);
	if (ps->ps_req.rq_msg.hm_buf != NULL && ps->ps_note == NULL)
		ps->ps_note = why;
	if (ps->ps_req.rq_msg.hm_buf != NULL)
		proxy_session_log(ps);
	proxy_dns_cancel(ps->ps_dns);
	proxy_ask_leave(ps);		/* stops watching the client too */
	if (ps->ps_ai != NULL)
		evutil_freeaddrinfo(ps->ps_ai);
	if (ps->ps_tunnel != NULL) {
		proxy_tunnel_free(ps->ps_tunnel);	/* closes both fds */
		ps->ps_cli.fd = ps->ps_up.fd = -1;
	}
	proxy_side_free(&ps->ps_cli);
	if (ps->ps_state == PROXY_S_HEAD)
		proxy_side_park(&ps->ps_up);	/* between requests */
	else
		proxy_side_free(&ps->ps_up);
	if (event_initialized(&ps->ps_timer))
		evtimer_del(&ps->ps_timer);
	proxy_http_request_free(&ps->ps_req);
	proxy_http_response_free(&ps->ps_resp);
	TAILQ_REMOVE(&proxy_sessions, ps, ps_entry);
	ps->ps_listener->pr_nsessions--;
	free(ps);
}

/*
 * Close once the client has everything written to it: drop the
 * upstream, and let the client's write callback go on to linger.  What
 * the client sends meanwhile is discarded.
 */
void
proxy_session_finish(struct proxy_session *ps, const char *why)
{
	struct timeval	 tv = { proxy_conf()->pc_timeout_idle, 0 };

	ps->ps_state = PROXY_S_CLOSING;
	if (ps->ps_note == NULL)
		ps->ps_note = why;
	proxy_dns_cancel(ps->ps_dns);
	ps->ps_dns = NULL;
	proxy_side_free(&ps->ps_up);
	evtimer_del(&ps->ps_timer);
	if (ps->ps_cli.bev == NULL) {
		proxy_session_close(ps, why);
		return;
	}
	if (proxy_side_flush(&ps->ps_cli) == 0) {
		proxy_session_linger(ps);
		return;
	}
	evbuffer_drain(bufferevent_get_input(ps->ps_cli.bev), (size_t)-1);
	bufferevent_set_timeouts(ps->ps_cli.bev, NULL, &tv);
}

/*
 * The last reply is written.  A client may still be sending (a head or
 * body we refused): closing with its bytes unread would reset the
 * connection, and the reset can reach it before it reads the reply, in
 * the middle of its send.  So, as nginx's lingering close does, end our
 * side and read and discard until the client closes, for
 * PROXY_LINGER_IDLE seconds of quiet or PROXY_LINGER_SECS in all.
 */
static void
proxy_session_linger(struct proxy_session *ps)
{
	struct timeval	 idle = { PROXY_LINGER_IDLE, 0 };
	struct timeval	 all = { PROXY_LINGER_SECS, 0 };

	ps->ps_state = PROXY_S_LINGER;
	if (ps->ps_note == NULL)
		ps->ps_note = "done";
	if (shutdown(ps->ps_cli.fd, SHUT_WR) == -1) {
		proxy_session_close(ps, ps->ps_note);
		return;
	}
	evbuffer_drain(bufferevent_get_input(ps->ps_cli.bev), (size_t)-1);
	bufferevent_disable(ps->ps_cli.bev, EV_WRITE);
	bufferevent_set_timeouts(ps->ps_cli.bev, &idle, NULL);
	bufferevent_setwatermark(ps->ps_cli.bev, EV_READ, 0, 0);
	if (bufferevent_enable(ps->ps_cli.bev, EV_READ) == -1) {
		proxy_session_close(ps, ps->ps_note);
		return;
	}
	evtimer_add(&ps->ps_timer, &all);
}

/*
 * Arm the session timer while waiting for a head: the idle timeout
 * until its first byte (the header timeout for a new connection), then
 * the header timeout for the whole head.
 */
void
proxy_session_arm(struct proxy_session *ps, int head)
{
	struct proxy_conf	*pc = proxy_conf();
	struct timeval		 tv = { 0, 0 };

	tv.tv_sec = head ? pc->pc_timeout_header : pc->pc_timeout_idle;
	if (head)
		ps->ps_flags |= PROXY_F_TIMER_HEAD;
	else
		ps->ps_flags &= ~PROXY_F_TIMER_HEAD;
	evtimer_add(&ps->ps_timer, &tv);
}

static void
proxy_session_timercb(evutil_socket_t fd __unused, short events __unused,
    void *arg)
{
	struct proxy_session	*ps = arg;
	struct evbuffer		*in;

	if (ps->ps_state != PROXY_S_HEAD) {
		proxy_session_close(ps, "timeout");
		return;
	}
	in = bufferevent_get_input(ps->ps_cli.bev);
	if (evbuffer_get_length(in) == 0) {
		proxy_session_close(ps, "idle");
		return;
	}
	ps->ps_note = "header timeout";
	proxy_session_respond(ps, 408, NULL, "the request head took too "
	    "long", 0);
}

/* Read a request head; once whole, parse it and decide. */
void
proxy_session_head(struct proxy_session *ps)
{
	struct evbuffer		*in = bufferevent_get_input(ps->ps_cli.bev);
	struct proxy_http_error	 err;
	size_t			 len, headlen;
	char			*p;
	int			 r;

	if ((len = evbuffer_get_length(in)) == 0)
		return;
	if (!(ps->ps_flags & PROXY_F_TIMER_HEAD) && ps->ps_requests > 0)
		proxy_session_arm(ps, 1);
	if (len > PROXY_HTTP_HEAD_MAX + 4)
		len = PROXY_HTTP_HEAD_MAX + 4;
	if ((p = (char *)evbuffer_pullup(in, len)) == NULL) {
		proxy_session_close(ps, "out of memory");
		return;
	}
	r = proxy_http_head_scan(&ps->ps_scan, p, len, &headlen, &err);
	if (r == PROXY_HTTP_MORE)
		return;
	if (r == PROXY_HTTP_DONE)
		r = proxy_http_request_parse(p, headlen, &ps->ps_req, &err) ==
		    -1 ? PROXY_HTTP_ERROR : PROXY_HTTP_DONE;
	if (r == PROXY_HTTP_ERROR) {
		proxy_session_reject(ps, &err);
		return;
	}
	evbuffer_drain(in, headlen);
	evtimer_del(&ps->ps_timer);
	ps->ps_requests++;
	proxy_stats.st_requests++;
	util_monotime(&ps->ps_tv_req);
	ps->ps_bytes_up = ps->ps_bytes_down = 0;
	ps->ps_status = 0;
	ps->ps_note = NULL;
	ps->ps_refused[0] = '\0';
	proxy_http_authority(&ps->ps_req.rq_host, ps->ps_req.rq_port, 0,
	    ps->ps_dest, sizeof(ps->ps_dest));
	proxy_session_decide(ps);
}

/* A malformed request: the fitting 4xx/5xx, an event, then close. */
static void
proxy_session_reject(struct proxy_session *ps,
    const struct proxy_http_error *err)
{
	json_t	*ev;

	proxy_stats.st_rejected++;
	ev = proxy_session_event(ps);
	json_object_set_new(ev, "status", json_integer(err->status));
	json_object_set_new(ev, "reason", json_string(err->reason));
	if (err->detail != NULL)
		json_object_set_new(ev, "detail", json_string(err->detail));
	events_publish("proxy.reject", ev);
	log_info("proxy: session %llu: %s: rejected: %d %s%s%s",
	    (unsigned long long)ps->ps_id, ps->ps_client, err->status,
	    err->reason, err->detail != NULL ? ": " : "",
	    err->detail != NULL ? err->detail : "");
	ps->ps_status = err->status;
	if (proxy_http_error_write(err,
	    bufferevent_get_output(ps->ps_cli.bev)) == -1) {
		proxy_session_close(ps, "out of memory");
		return;
	}
	proxy_session_finish(ps, err->reason);
}

/* The fields every proxy event carries. */
static json_t *
proxy_session_event(struct proxy_session *ps)
{
	struct proxy_listener	*pr = ps->ps_listener;

	return (json_pack("{s:s, s:s?, s:s}", "listener", pr->pr_name,
	    "sandbox", pr->pr_sandbox, "client", ps->ps_client));
}

/*
 * Judge the request by the listener's policy.  A name is resolved
 * next; an address literal was judged by address rules and its class,
 * and goes straight to connect.  A request no rule allows under a
 * policy with "ask" is held instead, and judged again once decided.
 */
static void
proxy_session_decide(struct proxy_session *ps)
{
	struct proxy_http_request	*rq = &ps->ps_req;
	const char			*why, *rule;

	if (proxy_judge(ps, &why, &rule) == -1) {
		if (proxy_ask_hold(ps, &why, &rule) == 0)
			return;		/* proxy_session_resume goes on */
		proxy_session_block(ps, why, rule);
		return;
	}
	/* The upstream of the last request goes to the same place. */
	if (ps->ps_up.bev != NULL && !(ps->ps_flags & PROXY_F_UP_EOF) &&
	    strcmp(ps->ps_up_dest, ps->ps_dest) == 0 &&
	    !(rq->rq_msg.hm_flags & PROXY_HTTP_F_CONNECT)) {
		ps->ps_flags |= PROXY_F_UP_REUSED;
		proxy_stats.st_reused++;
		proxy_session_connected(ps);
		return;
	}
	proxy_side_free(&ps->ps_up);
	ps->ps_flags &= ~(PROXY_F_UP_REUSED | PROXY_F_UP_EOF);
	if (!(rq->rq_msg.hm_flags & PROXY_HTTP_F_CONNECT) &&
	    proxy_side_unpark(&ps->ps_up) == 0) {
		ps->ps_flags |= PROXY_F_UP_REUSED;
		proxy_stats.st_pooled++;
		proxy_session_connected(ps);
		return;
	}
	if (rq->rq_host.h_family == 0) {
		proxy_session_resolve(ps);
		return;
	}
	/*
	 * proxy_judge checked the literal; connect to exactly it (a pool
	 * that had nothing to give may have written over ps_up_ss).
	 */
	if (util_addr_parse(rq->rq_host.h_name, rq->rq_port, &ps->ps_up_ss,
	    &ps->ps_up_sslen) == -1) {
		ps->ps_note = "bad literal";
		proxy_session_respond(ps, 500, NULL, "cannot use the address",
		    0);
		return;
	}
	util_sockaddr_unmap(&ps->ps_up_ss, &ps->ps_up_sslen);
	ps->ps_ai_next = NULL;
	proxy_session_connect(ps);
}

/*
 * A held request's question was answered with a rule: read the client
 * again and judge the request as if the rule had been there from the
 * first.
 */
void
proxy_session_resume(struct proxy_session *ps)
{
	ps->ps_state = PROXY_S_RESOLVE;
	if (bufferevent_enable(ps->ps_cli.bev, EV_READ) == -1) {
		proxy_session_close(ps, "cannot read the client");
		return;
	}
	proxy_session_decide(ps);
}

static void
proxy_session_resolve(struct proxy_session *ps)
{
	ps->ps_state = PROXY_S_RESOLVE;
	ps->ps_dns = proxy_dns_resolve(ps->ps_req.rq_host.h_name,
	    proxy_session_dnscb, ps);
	if (ps->ps_dns == NULL) {
		ps->ps_note = "no resolver";
		proxy_session_respond(ps, 502, NULL, "the resolver is not "
		    "available", 0);
	}
}

/*
 * The answer: the first address that passes the policy goes next; none
 * passing is a block.  A failed lookup fails closed.  Takes ai.
 */
static void
proxy_session_dnscb(int err, struct evutil_addrinfo *ai, void *arg)
{
	struct proxy_session	*ps = arg;
	const char		*why, *rule;
	char			 msg[512];

	ps->ps_dns = NULL;
	if (err != 0) {
		snprintf(msg, sizeof(msg), "cannot resolve %s: %s",
		    ps->ps_req.rq_host.h_name, evutil_gai_strerror(err));
		ps->ps_note = "dns failure";
		proxy_session_respond(ps, 502, NULL, msg, 0);
		return;
	}
	ps->ps_ai = ps->ps_ai_next = ai;
	if (proxy_session_addr_next(ps, &why, &rule) == -1) {
		proxy_session_block(ps, why, rule);
		return;
	}
	proxy_session_connect(ps);
}

/*
 * The next resolved address that passes the policy, with the request's
 * port, into ps_up_ss; the address after it is tried next.  -1 if none
 * is left, with *why and *rule of the first refused (or "no-address").
 */
static int
proxy_session_addr_next(struct proxy_session *ps, const char **why,
    const char **rule)
{
	struct evutil_addrinfo	*a;
	const char		*w, *r;
	int			 first = 1;

	*why = "no-address";
	*rule = NULL;
	for (a = ps->ps_ai_next; a != NULL; a = a->ai_next) {
		if (a->ai_addrlen > sizeof(ps->ps_up_ss))
			continue;
		memcpy(&ps->ps_up_ss, a->ai_addr, a->ai_addrlen);
		ps->ps_up_sslen = a->ai_addrlen;
		util_sockaddr_setport((struct sockaddr *)&ps->ps_up_ss,
		    ps->ps_req.rq_port);
		if (proxy_judge_addr(ps, &ps->ps_up_ss, &ps->ps_up_sslen, &w,
		    &r) == 0) {
			ps->ps_ai_next = a->ai_next;
			return (0);
		}
		if (first) {
			*why = w;
			*rule = r;
			first = 0;
			ps->ps_refused_family = ps->ps_up_ss.ss_family;
			util_addr_str((struct sockaddr *)&ps->ps_up_ss,
			    ps->ps_refused, sizeof(ps->ps_refused));
		}
	}
	ps->ps_ai_next = NULL;
	return (-1);
}

/*
 * Connect to the address in ps_up_ss, which passed the checks.  A
 * failure moves to the next resolved address that passes; the last
 * answers 502, or 504 on a timeout.
 */
static void
proxy_session_connect(struct proxy_session *ps)
{
	struct timeval	 tv = { proxy_conf()->pc_timeout_connect, 0 };
	int		 fd;

	ps->ps_state = PROXY_S_CONNECT;
	if ((fd = util_socket(ps->ps_up_ss.ss_family, SOCK_STREAM)) != -1 &&
	    !proxy_fd_ok(fd, 2)) {
		close(fd);
		ps->ps_note = "out of descriptors";
		proxy_session_respond(ps, 503, NULL, "sbxd is out of "
		    "descriptors", 0);
		return;
	}
	if (fd == -1) {
		proxy_session_connect_failed(ps, BEV_EVENT_ERROR);
		return;
	}
	if (proxy_side_open(&ps->ps_up, fd) == -1) {
		proxy_session_close(ps, "out of memory");
		return;
	}
	bufferevent_set_timeouts(ps->ps_up.bev, NULL, &tv);
	if (bufferevent_socket_connect(ps->ps_up.bev,
	    (struct sockaddr *)&ps->ps_up_ss, ps->ps_up_sslen) == -1)
		proxy_session_connect_failed(ps, BEV_EVENT_ERROR);
}

/*
 * A kept upstream closed as the request went out: send it again on a
 * new connection to the same address.  Only for requests without a body,
 * which are safe to repeat as no byte of an answer came.
 */
void
proxy_session_retry(struct proxy_session *ps)
{
	log_debug("%s: session %llu: %s closed a kept connection; again",
	    __func__, (unsigned long long)ps->ps_id, ps->ps_dest);
	proxy_side_free(&ps->ps_up);
	ps->ps_flags &= ~(PROXY_F_UP_REUSED | PROXY_F_UP_EOF);
	ps->ps_bytes_up = 0;
	ps->ps_ai_next = NULL;		/* ps_up_ss holds the address */
	proxy_session_connect(ps);
}

/*
 * Connecting failed (events says how): try the next address, or
 * answer.  Called by the upstream event callback in PROXY_S_CONNECT.
 */
static void
proxy_session_connect_failed(struct proxy_session *ps, short events)
{
	char		 msg[512], addr[64];
	const char	*why, *rule;
	int		 code = EVUTIL_SOCKET_ERROR();

	proxy_side_free(&ps->ps_up);
	util_sockaddr_str((struct sockaddr *)&ps->ps_up_ss, addr,
	    sizeof(addr));
	log_debug("%s: session %llu: %s (%s): %s", __func__,
	    (unsigned long long)ps->ps_id, ps->ps_dest, addr,
	    events & BEV_EVENT_TIMEOUT ? "timeout" : strerror(code));
	/* Later addresses are judged when their turn comes. */
	if (ps->ps_ai_next != NULL &&
	    proxy_session_addr_next(ps, &why, &rule) == 0) {
		proxy_session_connect(ps);
		return;
	}
	proxy_stats.st_upstream_errors++;
	snprintf(msg, sizeof(msg), "cannot connect to %s (%s): %s",
	    ps->ps_dest, addr, events & BEV_EVENT_TIMEOUT ? "timed out" :
	    strerror(code));
	ps->ps_note = "connect failed";
	proxy_session_respond(ps, events & BEV_EVENT_TIMEOUT ? 504 : 502,
	    NULL, msg, 0);
}

/* The upstream is there: a tunnel, or an HTTP exchange. */
static void
proxy_session_connected(struct proxy_session *ps)
{
	struct proxy_http_request	*rq = &ps->ps_req;
	struct policy			*pol = ps->ps_listener->pr_policy;
	struct timeval			 tv = { proxy_conf()->pc_timeout_idle,
					    0 };

	if (ps->ps_ai != NULL) {
		evutil_freeaddrinfo(ps->ps_ai);
		ps->ps_ai = ps->ps_ai_next = NULL;
	}
	memcpy(ps->ps_up_dest, ps->ps_dest, sizeof(ps->ps_up_dest));
	bufferevent_set_timeouts(ps->ps_up.bev, &tv, &tv);
	if (!(rq->rq_msg.hm_flags & PROXY_HTTP_F_CONNECT)) {
		proxy_forward_start(ps);
		return;
	}
	proxy_stats.st_tunnels++;
	ps->ps_status = 200;
	evbuffer_add_printf(bufferevent_get_output(ps->ps_cli.bev),
	    "HTTP/1.1 200 Connection established\r\n\r\n");
	if (rq->rq_port == 443 && pol->pol_body.pb_sni_check) {
		ps->ps_state = PROXY_S_HELLO;
		proxy_session_arm(ps, 1);
		proxy_session_hello(ps);
		return;
	}
	proxy_session_tunnel(ps);
}

/*
 * CONNECT to port 443: the first bytes must be a TLS ClientHello whose
 * server name, if any, is the host the client was allowed to reach.
 * Nothing is relayed before it is checked.
 */
static void
proxy_session_hello(struct proxy_session *ps)
{
	struct evbuffer		*in = bufferevent_get_input(ps->ps_cli.bev);
	struct sbxd_host	 h;
	char			 sni[256];
	const char		*why;
	size_t			 len = evbuffer_get_length(in);
	int			 r;

	if (len == 0)
		return;
	if (len > PROXY_TLS_HELLO_MAX + 1024)
		len = PROXY_TLS_HELLO_MAX + 1024;
	r = proxy_tls_sni(evbuffer_pullup(in, len), len, sni, sizeof(sni),
	    &why);
	if (r == PROXY_TLS_MORE)
		return;
	evtimer_del(&ps->ps_timer);
	if (r == PROXY_TLS_BAD) {
		proxy_session_block(ps, "not-tls", why);
		return;
	}
	if (r == PROXY_TLS_NO_SNI)
		log_info("proxy: session %llu: %s: CONNECT %s without a "
		    "server name", (unsigned long long)ps->ps_id,
		    ps->ps_client, ps->ps_dest);
	else if (policy_host_parse(sni, strlen(sni), &h, &why) == -1 ||
	    h.h_family != ps->ps_req.rq_host.h_family ||
	    strcmp(h.h_name, ps->ps_req.rq_host.h_name) != 0) {
		proxy_session_block(ps, "sni-mismatch", sni);
		return;
	}
	proxy_session_tunnel(ps);
}

/*
 * Become a tunnel.  First every byte the proxy holds goes on: the
 * client's (a ClientHello) to the upstream, the upstream's (a server
 * that speaks first) to the client; then the sockets are handed over.
 */
void
proxy_session_tunnel(struct proxy_session *ps)
{
	ps->ps_state = PROXY_S_DRAIN;
	evtimer_del(&ps->ps_timer);
	bufferevent_disable(ps->ps_cli.bev, EV_READ);
	bufferevent_disable(ps->ps_up.bev, EV_READ);
	ps->ps_bytes_up += evbuffer_get_length(
	    bufferevent_get_input(ps->ps_cli.bev));
	ps->ps_bytes_down += evbuffer_get_length(
	    bufferevent_get_input(ps->ps_up.bev));
	evbuffer_add_buffer(bufferevent_get_output(ps->ps_up.bev),
	    bufferevent_get_input(ps->ps_cli.bev));
	evbuffer_add_buffer(bufferevent_get_output(ps->ps_cli.bev),
	    bufferevent_get_input(ps->ps_up.bev));
	proxy_session_handoff(ps);
}

/* Hand the sockets to a tunnel once both outputs are empty. */
static void
proxy_session_handoff(struct proxy_session *ps)
{
	struct proxy_conf	*pc = proxy_conf();
	struct timeval		 idle = { pc->pc_timeout_idle, 0 };
	int			 cfd = ps->ps_cli.fd, ufd = ps->ps_up.fd;

	if ((proxy_side_flush(&ps->ps_cli) | proxy_side_flush(&ps->ps_up)) > 0)
		return;			/* a write callback comes back */
	bufferevent_free(ps->ps_cli.bev);
	bufferevent_free(ps->ps_up.bev);
	ps->ps_cli.bev = ps->ps_up.bev = NULL;
	ps->ps_state = PROXY_S_TUNNEL;
	ps->ps_tunnel = proxy_tunnel_new(cfd, ufd, pc->pc_splice,
	    pc->pc_buffer, &idle, proxy_session_tunnelcb, ps);
	if (ps->ps_tunnel == NULL) {
		/* proxy_tunnel_new closed both on failure. */
		ps->ps_cli.fd = ps->ps_up.fd = -1;
		proxy_session_close(ps, "cannot start the tunnel");
	}
}

static void
proxy_session_tunnelcb(void *arg, const char *why)
{
	struct proxy_session	*ps = arg;

	ps->ps_bytes_up += proxy_tunnel_bytes(ps->ps_tunnel, 0);
	ps->ps_bytes_down += proxy_tunnel_bytes(ps->ps_tunnel, 1);
	proxy_session_close(ps, why);
}

/*
 * Refuse the request: 403 with the reason in X-Sbx-Block, or, once a
 * CONNECT has been answered, a closed tunnel.  Publishes proxy.block.
 */
void
proxy_session_block(struct proxy_session *ps, const char *reason,
    const char *detail)
{
	struct proxy_http_request	*rq = &ps->ps_req;
	struct proxy_listener		*pr = ps->ps_listener;
	struct proxy_refusal		 rf;
	struct proxy_advice		 pa;
	json_t				*ev;

	memset(&rf, 0, sizeof(rf));
	rf.rf_name = pr->pr_sandbox != NULL ? pr->pr_sandbox : pr->pr_name;
	rf.rf_policy = pr->pr_policy->pol_name;
	rf.rf_pb = &pr->pr_policy->pol_body;
	rf.rf_dest = ps->ps_dest;
	rf.rf_host = rq->rq_host.h_name;
	rf.rf_family = rq->rq_host.h_family;
	rf.rf_port = rq->rq_port;
	rf.rf_reason = reason;
	rf.rf_rule = detail;
	rf.rf_runtime = detail != NULL && pr->pr_extra != NULL &&
	    policy_rules_find(pr->pr_extra, detail) != NULL;
	if (ps->ps_refused[0] != '\0' && rq->rq_host.h_family == 0) {
		rf.rf_addr = ps->ps_refused;
		rf.rf_addr_family = ps->ps_refused_family;
	}
	proxy_advice(&rf, &pa);

	proxy_stats.st_blocked++;
	ev = proxy_session_event(ps);
	json_object_update_new(ev, json_pack("{s:s, s:s, s:i, s:s, s:s, "
	    "s:s?, s:s?, s:s, s:s?}", "method", rq->rq_method, "host",
	    rq->rq_host.h_name, "port", rq->rq_port, "destination",
	    ps->ps_dest, "reason", reason,
	    "detail", detail, "address", rf.rf_addr, "cause", pa.pa_cause,
	    "advice", pa.pa_advice[0] != '\0' ? pa.pa_advice : NULL));
	events_publish("proxy.block", ev);
	log_info("proxy: session %llu: %s: blocked %s %s: %s%s%s",
	    (unsigned long long)ps->ps_id, ps->ps_client, rq->rq_method,
	    ps->ps_dest, reason, detail != NULL ? ": " : "",
	    detail != NULL ? detail : "");
	ps->ps_note = reason;
	if (ps->ps_state == PROXY_S_HELLO) {
		proxy_session_close(ps, reason);
		return;
	}
	proxy_session_respond(ps, 403, reason, pa.pa_body, 1);
}

/*
 * Answer the client with status and a short text body.  block, if not
 * NULL, goes in X-Sbx-Block.  With keep, a request without a body lets
 * the connection carry the next request; otherwise it closes.
 */
void
proxy_session_respond(struct proxy_session *ps, int status,
    const char *block, const char *text, int keep)
{
	struct proxy_http_msg	*m = &ps->ps_req.rq_msg;
	struct evbuffer		*out = bufferevent_get_output(ps->ps_cli.bev);
	char			 body[PROXY_BODY_MAX + 16];
	int			 n;

	if (ps->ps_flags & PROXY_F_RESP_HEAD) {
		proxy_session_close(ps, "error after the response began");
		return;
	}
	keep = keep && m->hm_buf != NULL && m->hm_body == PROXY_HTTP_BODY_NONE &&
	    (m->hm_flags & PROXY_HTTP_F_PERSIST) &&
	    !(m->hm_flags & PROXY_HTTP_F_CONNECT);
	n = snprintf(body, sizeof(body), "%s%s", text,
	    text[0] != '\0' && text[strlen(text) - 1] == '\n' ? "" : "\n");
	ps->ps_status = status;
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nContent-Type: text/plain; "
	    "charset=utf-8\r\nContent-Length: %d\r\nConnection: %s\r\n%s%s%s"
	    "\r\n%s", status, proxy_http_error_status_text(status), n,
	    keep ? "keep-alive" : "close", block != NULL ? "X-Sbx-Block: " :
	    "", block != NULL ? block : "", block != NULL ? "\r\n" : "", body);
	if (!keep) {
		proxy_session_finish(ps, block != NULL ? block : "refused");
		return;
	}
	proxy_side_flush(&ps->ps_cli);
	proxy_session_log(ps);
	proxy_session_next(ps);
}

/*
 * Wait for the next request on this connection.  One already buffered
 * (pipelined) is read from the loop, not from here, so a long pipeline
 * never deepens the stack.
 */
void
proxy_session_next(struct proxy_session *ps)
{
	ps->ps_state = PROXY_S_HEAD;
	ps->ps_flags &= PROXY_F_UP_EOF;
	proxy_http_scan_init(&ps->ps_scan, 0);
	proxy_session_arm(ps, 0);
	bufferevent_enable(ps->ps_cli.bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_input(ps->ps_cli.bev)) > 0)
		bufferevent_trigger(ps->ps_cli.bev, EV_READ,
		    BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
}

/* One access log line for the request that just ended. */
void
proxy_session_log(struct proxy_session *ps)
{
	if (ps->ps_req.rq_msg.hm_buf == NULL)
		return;
	proxy_log_write(ps, ps->ps_note);
	proxy_http_request_free(&ps->ps_req);
}

/*
 * What the kernel holds for the session now: its sockets' queues and
 * its splice pipes.
 */
size_t
proxy_session_kmem(struct proxy_session *ps)
{
	int	 fds[2] = { ps->ps_cli.fd, ps->ps_up.fd }, i, q;
	size_t	 n = 0;

	for (i = 0; i < 2; i++) {
		if (fds[i] == -1)
			continue;
		if (ioctl(fds[i], FIONREAD, &q) == 0 && q > 0)
			n += q;
#ifdef TIOCOUTQ
		if (ioctl(fds[i], TIOCOUTQ, &q) == 0 && q > 0)
			n += q;
#endif
	}
	for (i = 0; i < 2; i++)
		if (ps->ps_pump[i] != NULL)
			n += ps->ps_pump[i]->pu_queued;
	if (ps->ps_tunnel != NULL)
		n += proxy_tunnel_queued(ps->ps_tunnel);
	return (n);
}

/* What sbxctl sessions shows of one session. */
json_t *
proxy_session_json(struct proxy_session *ps)
{
	static const char	*states[] = { "head", "resolve", "connect",
				    "hello", "forward", "drain", "tunnel",
				    "closing", "closing", "held" };
	struct timespec		 now;

	util_monotime(&now);
	return (json_pack("{s:I, s:s, s:s?, s:s, s:s, s:s?, s:I, s:I}",
	    "id", (json_int_t)ps->ps_id,
	    "listener", ps->ps_listener->pr_name,
	    "sandbox", ps->ps_listener->pr_sandbox,
	    "client", ps->ps_client,
	    "state", states[ps->ps_state],
	    "destination", ps->ps_dest[0] != '\0' ? ps->ps_dest : NULL,
	    "age", (json_int_t)(now.tv_sec - ps->ps_tv_start.tv_sec),
	    "requests", (json_int_t)ps->ps_requests));
}

static void
proxy_cli_readcb(struct bufferevent *bev __unused, void *arg)
{
	struct proxy_session	*ps = arg;

	switch (ps->ps_state) {
	case PROXY_S_HEAD:
		proxy_session_head(ps);
		break;
	case PROXY_S_FORWARD:
		proxy_forward_client(ps);
		break;
	case PROXY_S_HELLO:
		proxy_session_hello(ps);
		break;
	case PROXY_S_CLOSING:
	case PROXY_S_LINGER:
		evbuffer_drain(bufferevent_get_input(ps->ps_cli.bev),
		    (size_t)-1);
		break;
	default:
		break;		/* kept until its state comes */
	}
}

static void
proxy_cli_writecb(struct bufferevent *bev __unused, void *arg)
{
	struct proxy_session	*ps = arg;

	switch (ps->ps_state) {
	case PROXY_S_CLOSING:
		proxy_session_linger(ps);
		break;
	case PROXY_S_DRAIN:
		proxy_session_handoff(ps);
		break;
	case PROXY_S_FORWARD:
		proxy_forward_drained(&ps->ps_cli);
		break;
	default:
		break;
	}
}

static void
proxy_cli_eventcb(struct bufferevent *bev __unused, short events, void *arg)
{
	struct proxy_session	*ps = arg;

	if ((events & BEV_EVENT_EOF) && ps->ps_state == PROXY_S_FORWARD &&
	    (ps->ps_flags & PROXY_F_REQ_DONE)) {
		/* Half-closed after its request: answer, then close. */
		ps->ps_flags |= PROXY_F_CLOSE_AFTER;
		return;
	}
	if (ps->ps_state == PROXY_S_LINGER)
		proxy_session_close(ps, ps->ps_note);
	else if (events & BEV_EVENT_TIMEOUT)
		proxy_session_close(ps, "client timeout");
	else if (events & BEV_EVENT_EOF)
		proxy_session_close(ps, "client closed");
	else
		proxy_session_close(ps, "client error");
}

static void
proxy_up_readcb(struct bufferevent *bev __unused, void *arg)
{
	struct proxy_session	*ps = arg;

	if (ps->ps_state == PROXY_S_FORWARD)
		proxy_forward_upstream(ps);
}

static void
proxy_up_writecb(struct bufferevent *bev __unused, void *arg)
{
	struct proxy_session	*ps = arg;

	if (ps->ps_state == PROXY_S_DRAIN)
		proxy_session_handoff(ps);
	else if (ps->ps_state == PROXY_S_FORWARD)
		proxy_forward_drained(&ps->ps_up);
}

static void
proxy_up_eventcb(struct bufferevent *bev __unused, short events, void *arg)
{
	struct proxy_session	*ps = arg;

	if (ps->ps_state == PROXY_S_CONNECT) {
		if (events & BEV_EVENT_CONNECTED)
			proxy_session_connected(ps);
		else
			proxy_session_connect_failed(ps, events);
		return;
	}
	proxy_forward_upstream_eof(ps, events);
}
