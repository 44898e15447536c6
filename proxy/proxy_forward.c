/*
 * proxy_forward.c: one HTTP exchange once the upstream is connected: the
 * rewritten request head, the request body streamed to the upstream, the
 * response head checked and rewritten, the response body streamed back.
 * Both bodies are framed exactly (Content-Length, validated chunked, or
 * until close), so the next pipelined request is never swallowed.  Each
 * direction stops reading when the other side holds a buffer's worth and
 * resumes when that side has drained: memory per session stays bounded
 * whatever the body size.  Where splice(2) is there, the rest of a long
 * Content-Length body goes socket to socket through a pump limited to
 * exactly its length, once every byte buffered ahead of it is written.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <jansson.h>

#include "config.h"
#include "log.h"
#include "sbxd.h"
#include "proxy.h"

#define FORWARD_CHUNK_SCAN	16384	/* bytes of chunked body per feed */
#define FORWARD_PUMP_MIN	65536	/* body bytes left that are worth a
					   pump rather than two copies */

static int	forward_body(struct proxy_session *, struct evbuffer *,
		    struct evbuffer *, enum proxy_http_body, uint64_t *,
		    struct proxy_http_chunked *, uint64_t *);
static int	forward_response_head(struct proxy_session *);
static int	forward_response_start(struct proxy_session *);
static void	forward_done(struct proxy_session *);
static void	forward_bad_upstream(struct proxy_session *,
		    const struct proxy_http_error *);
static int	forward_pump(struct proxy_session *, int);
static void	forward_pumpcb(struct proxy_pump *, enum proxy_pump_end,
		    void *);
static void	forward_pump_free(struct proxy_session *, int);

/* Send the request head on and start both bodies. */
void
proxy_forward_start(struct proxy_session *ps)
{
	struct proxy_http_msg	*m = &ps->ps_req.rq_msg;
	struct evbuffer		*out = bufferevent_get_output(ps->ps_up.bev);
	size_t			 before = evbuffer_get_length(out);

	if (proxy_http_request_write(&ps->ps_req, out,
	    (m->hm_flags & PROXY_HTTP_F_WEBSOCKET) ?
	    PROXY_HTTP_WRITE_UPGRADE : 0) == -1) {
		proxy_session_close(ps, "out of memory");
		return;
	}
	ps->ps_bytes_up += evbuffer_get_length(out) - before;
	ps->ps_state = PROXY_S_FORWARD;
	ps->ps_flags &= ~(PROXY_F_REQ_DONE | PROXY_F_RESP_HEAD |
	    PROXY_F_RESP_DONE);
	if (m->hm_body == PROXY_HTTP_BODY_NONE)
		ps->ps_flags |= PROXY_F_REQ_DONE;
	ps->ps_req_left = m->hm_length;
	proxy_http_chunked_init(&ps->ps_req_chunk, 0);
	proxy_http_scan_init(&ps->ps_scan, 1);
	bufferevent_enable(ps->ps_up.bev, EV_READ);
	proxy_side_flush(&ps->ps_up);
	proxy_forward_client(ps);
}

/*
 * Move body bytes from in to out as the framing allows.  Returns 1 when
 * the body is complete, 0 when more is to come, -1 when it is malformed
 * (err in *err through ch).  *count adds the bytes moved.
 */
static int
forward_body(struct proxy_session *ps, struct evbuffer *in,
    struct evbuffer *out, enum proxy_http_body body, uint64_t *left,
    struct proxy_http_chunked *ch, uint64_t *count)
{
	struct proxy_http_error	 err;
	size_t			 len, used;
	char			*p;
	int			 r;

	while ((len = evbuffer_get_length(in)) > 0) {
		if (body == PROXY_HTTP_BODY_CLOSE) {
			*count += len;
			evbuffer_add_buffer(out, in);
			return (0);
		}
		if (body == PROXY_HTTP_BODY_LENGTH) {
			used = len < *left ? len : *left;
			evbuffer_remove_buffer(in, out, used);
			*count += used;
			*left -= used;
			return (*left == 0);
		}
		if (len > FORWARD_CHUNK_SCAN)
			len = FORWARD_CHUNK_SCAN;
		p = (char *)evbuffer_pullup(in, len);
		r = proxy_http_chunked_feed(ch, p, len, &used, &err);
		evbuffer_remove_buffer(in, out, used);
		*count += used;
		if (r == PROXY_HTTP_DONE)
			return (1);
		if (r == PROXY_HTTP_ERROR) {
			log_info("proxy: session %llu: bad chunked body: %s",
			    (unsigned long long)ps->ps_id, err.reason);
			return (-1);
		}
	}
	return (0);
}

/* Request body bytes from the client, when there are some to move. */
void
proxy_forward_client(struct proxy_session *ps)
{
	struct evbuffer	*out = bufferevent_get_output(ps->ps_up.bev);
	int		 r;

	if (ps->ps_flags & (PROXY_F_REQ_DONE | PROXY_F_CLI_PAUSED))
		return;		/* what follows is the next request */
	r = forward_body(ps, bufferevent_get_input(ps->ps_cli.bev), out,
	    ps->ps_req.rq_msg.hm_body, &ps->ps_req_left, &ps->ps_req_chunk,
	    &ps->ps_bytes_up);
	if (r == -1) {
		proxy_session_respond(ps, 400, NULL, "malformed chunked "
		    "request body", 0);
		return;
	}
	proxy_side_flush(&ps->ps_up);
	if (r == 1) {
		ps->ps_flags |= PROXY_F_REQ_DONE;
		if (ps->ps_flags & PROXY_F_RESP_DONE)
			forward_done(ps);
		return;
	}
	if (forward_pump(ps, 0))
		return;
	if (evbuffer_get_length(out) >= proxy_conf()->pc_buffer) {
		bufferevent_disable(ps->ps_cli.bev, EV_READ);
		ps->ps_flags |= PROXY_F_CLI_PAUSED;
	}
}

/* Response bytes from the upstream: the head first, then the body. */
void
proxy_forward_upstream(struct proxy_session *ps)
{
	struct evbuffer	*out = bufferevent_get_output(ps->ps_cli.bev);
	int		 r;

	while (!(ps->ps_flags & PROXY_F_RESP_HEAD)) {
		if ((r = forward_response_head(ps)) == -1)
			return;		/* done with */
		if (r == 0) {
			/* More to come; interim responses go now. */
			proxy_side_flush(&ps->ps_cli);
			return;
		}
	}
	if (ps->ps_flags & (PROXY_F_RESP_DONE | PROXY_F_UP_PAUSED))
		return;
	r = forward_body(ps, bufferevent_get_input(ps->ps_up.bev), out,
	    ps->ps_resp.rs_msg.hm_body, &ps->ps_resp_left, &ps->ps_resp_chunk,
	    &ps->ps_bytes_down);
	if (r == -1) {
		proxy_session_close(ps, "malformed chunked response body");
		return;
	}
	if (r == 1) {
		ps->ps_flags |= PROXY_F_RESP_DONE;
		forward_done(ps);
		return;
	}
	proxy_side_flush(&ps->ps_cli);
	if (forward_pump(ps, 1))
		return;
	if (evbuffer_get_length(out) >= proxy_conf()->pc_buffer) {
		bufferevent_disable(ps->ps_up.bev, EV_READ);
		ps->ps_flags |= PROXY_F_UP_PAUSED;
	}
}

/*
 * The rest of a long Content-Length body in direction dir (0: request,
 * 1: response) goes through a pump.  Its source stops reading at once;
 * the pump starts when its sink's output is empty, so the bytes keep
 * their order.  Returns 1 when the pump runs or waits for that, 0 when
 * the bufferevents carry the body on.
 */
static int
forward_pump(struct proxy_session *ps, int dir)
{
	struct proxy_conf	*pc = proxy_conf();
	struct proxy_side	*from = dir == 0 ? &ps->ps_cli : &ps->ps_up;
	struct proxy_http_msg	*m = dir == 0 ? &ps->ps_req.rq_msg :
				    &ps->ps_resp.rs_msg;
	uint64_t		 left = dir == 0 ? ps->ps_req_left :
				    ps->ps_resp_left;
	int			 paused = dir == 0 ? PROXY_F_CLI_PAUSED :
				    PROXY_F_UP_PAUSED;
	struct timeval		 idle = { pc->pc_timeout_idle, 0 };
	struct proxy_pump	*pu;

	if (!pc->pc_splice || !proxy_pump_available() ||
	    m->hm_body != PROXY_HTTP_BODY_LENGTH || left < FORWARD_PUMP_MIN ||
	    ps->ps_pump[dir] != NULL ||
	    evbuffer_get_length(bufferevent_get_input(from->bev)) > 0)
		return (0);
	bufferevent_disable(from->bev, EV_READ);
	ps->ps_flags |= paused;
	if (proxy_side_flush(from->peer) > 0)
		return (1);	/* proxy_forward_drained comes back */
	if ((pu = malloc(sizeof(*pu))) == NULL ||
	    proxy_pump_start(pu, from->fd, from->peer->fd, left,
	    pc->pc_buffer, &idle, forward_pumpcb, ps) == -1) {
		free(pu);
		ps->ps_flags &= ~paused;
		bufferevent_enable(from->bev, EV_READ);
		return (0);
	}
	ps->ps_pump[dir] = pu;
	proxy_stats.st_spliced++;
	return (1);
}

/* A body pump ended: the body is through, or the session is over. */
static void
forward_pumpcb(struct proxy_pump *pu, enum proxy_pump_end why, void *arg)
{
	struct proxy_session	*ps = arg;
	int			 dir = pu == ps->ps_pump[1];

	forward_pump_free(ps, dir);
	if (why != PROXY_PUMP_DONE) {
		proxy_session_close(ps, proxy_pump_why(why, dir));
		return;
	}
	if (dir == 0) {
		ps->ps_req_left = 0;
		ps->ps_flags &= ~PROXY_F_CLI_PAUSED;
		ps->ps_flags |= PROXY_F_REQ_DONE;
		bufferevent_enable(ps->ps_cli.bev, EV_READ);
		if (ps->ps_flags & PROXY_F_RESP_DONE)
			forward_done(ps);
		return;
	}
	ps->ps_resp_left = 0;
	ps->ps_flags &= ~PROXY_F_UP_PAUSED;
	ps->ps_flags |= PROXY_F_RESP_DONE;
	bufferevent_enable(ps->ps_up.bev, EV_READ);	/* to see it close */
	forward_done(ps);
}

/* Stop the session's pumps, counting what they moved. */
void
proxy_forward_unpump(struct proxy_session *ps)
{
	forward_pump_free(ps, 0);
	forward_pump_free(ps, 1);
}

/* The one close path of a body pump: count its bytes, stop, free. */
static void
forward_pump_free(struct proxy_session *ps, int dir)
{
	struct proxy_pump	*pu = ps->ps_pump[dir];

	if (pu == NULL)
		return;
	if (dir == 0)
		ps->ps_bytes_up += pu->pu_bytes;
	else
		ps->ps_bytes_down += pu->pu_bytes;
	proxy_pump_stop(pu);
	free(pu);
	ps->ps_pump[dir] = NULL;
}

/*
 * Read one response head.  Returns 1 when a head went by and there may
 * be more to read (the final head sets PROXY_F_RESP_HEAD), 0 when more
 * bytes are needed, -1 when the session moved on (a tunnel, an error, or
 * a response without a body, done with).
 */
static int
forward_response_head(struct proxy_session *ps)
{
	struct evbuffer		*in = bufferevent_get_input(ps->ps_up.bev);
	struct evbuffer		*out = bufferevent_get_output(ps->ps_cli.bev);
	struct proxy_http_response *rs = &ps->ps_resp;
	struct proxy_http_error	 err;
	size_t			 len, headlen;
	char			*p;
	int			 r;

	if ((len = evbuffer_get_length(in)) == 0)
		return (0);
	if (len > PROXY_HTTP_HEAD_MAX + 4)
		len = PROXY_HTTP_HEAD_MAX + 4;
	p = (char *)evbuffer_pullup(in, len);
	r = proxy_http_head_scan(&ps->ps_scan, p, len, &headlen, &err);
	if (r == PROXY_HTTP_MORE)
		return (0);
	if (r == PROXY_HTTP_DONE && proxy_http_response_parse(p, headlen,
	    &ps->ps_req, rs, &err) == -1)
		r = PROXY_HTTP_ERROR;
	if (r == PROXY_HTTP_ERROR) {
		forward_bad_upstream(ps, &err);
		return (-1);
	}
	evbuffer_drain(in, headlen);
	proxy_http_scan_init(&ps->ps_scan, 1);
	if (rs->rs_msg.hm_flags & PROXY_HTTP_F_INTERIM) {
		/* 100 Continue and friends; an HTTP/1.0 client gets none. */
		if (ps->ps_req.rq_msg.hm_version == 11)
			proxy_http_response_write(rs, out, 0);
		proxy_http_response_free(rs);
		return (evbuffer_get_length(in) > 0 ? 1 : 0);
	}
	if (rs->rs_msg.hm_flags & PROXY_HTTP_F_SWITCH) {
		ps->ps_status = rs->rs_status;
		ps->ps_flags |= PROXY_F_RESP_HEAD;
		proxy_http_response_write(rs, out, PROXY_HTTP_WRITE_UPGRADE);
		proxy_session_tunnel(ps);
		return (-1);
	}
	return (forward_response_start(ps));
}

/*
 * Send the final response head on and set up its body.  Returns 1, or
 * -1 when the response has no body and the session moved on.
 */
static int
forward_response_start(struct proxy_session *ps)
{
	struct proxy_http_response	*rs = &ps->ps_resp;
	struct proxy_http_request	*rq = &ps->ps_req;
	struct evbuffer			*out;
	size_t				 before;
	int				 flags;

	out = bufferevent_get_output(ps->ps_cli.bev);
	before = evbuffer_get_length(out);
	if (!proxy_http_persist(rq, rs) || !(ps->ps_flags & PROXY_F_REQ_DONE))
		ps->ps_flags |= PROXY_F_CLOSE_AFTER;
	if (ps->ps_flags & PROXY_F_CLOSE_AFTER)
		flags = PROXY_HTTP_WRITE_CLOSE;
	else
		flags = rq->rq_msg.hm_version == 10 ?
		    PROXY_HTTP_WRITE_KEEPALIVE : 0;
	proxy_http_response_write(rs, out, flags);
	ps->ps_bytes_down += evbuffer_get_length(out) - before;
	ps->ps_status = rs->rs_status;
	ps->ps_flags |= PROXY_F_RESP_HEAD;
	ps->ps_resp_left = rs->rs_msg.hm_length;
	proxy_http_chunked_init(&ps->ps_resp_chunk, 1);
	if (rs->rs_msg.hm_body == PROXY_HTTP_BODY_NONE) {
		ps->ps_flags |= PROXY_F_RESP_DONE;
		forward_done(ps);
		return (-1);
	}
	return (1);
}

/* The upstream's response head is unusable: 502, and close. */
static void
forward_bad_upstream(struct proxy_session *ps,
    const struct proxy_http_error *err)
{
	char	 msg[512];

	proxy_stats.st_upstream_errors++;
	log_info("proxy: session %llu: %s: bad response: %s%s%s",
	    (unsigned long long)ps->ps_id, ps->ps_dest, err->reason,
	    err->detail != NULL ? ": " : "", err->detail != NULL ?
	    err->detail : "");
	snprintf(msg, sizeof(msg), "the upstream %s sent a malformed "
	    "response (%s)", ps->ps_dest, err->reason);
	proxy_session_respond(ps, 502, NULL, msg, 0);
}

/*
 * Both bodies are through (or the response is, and the request body
 * will never be read): log, keep or drop the upstream, and wait for the
 * next request or close.
 */
static void
forward_done(struct proxy_session *ps)
{
	int	 reuse;

	proxy_side_flush(&ps->ps_cli);
	if (!(ps->ps_flags & PROXY_F_REQ_DONE))
		ps->ps_flags |= PROXY_F_CLOSE_AFTER;
	reuse = (ps->ps_resp.rs_msg.hm_flags & PROXY_HTTP_F_PERSIST) &&
	    (ps->ps_flags & PROXY_F_REQ_DONE) &&
	    !(ps->ps_flags & PROXY_F_UP_EOF) &&
	    evbuffer_get_length(bufferevent_get_input(ps->ps_up.bev)) == 0;
	proxy_session_log(ps);
	proxy_http_response_free(&ps->ps_resp);
	if (!reuse)
		proxy_side_free(&ps->ps_up);
	else if (ps->ps_flags & PROXY_F_CLOSE_AFTER)
		proxy_side_park(&ps->ps_up);
	if (ps->ps_flags & PROXY_F_CLOSE_AFTER) {
		proxy_session_finish(ps, "done");
		return;
	}
	if (ps->ps_flags & PROXY_F_CLI_PAUSED)
		ps->ps_flags &= ~PROXY_F_CLI_PAUSED;
	proxy_session_next(ps);
}

/* A side's output drained: the other side may read again. */
void
proxy_forward_drained(struct proxy_side *side)
{
	struct proxy_session	*ps = side->ps;

	if (side == &ps->ps_up && (ps->ps_flags & PROXY_F_CLI_PAUSED) &&
	    ps->ps_pump[0] == NULL) {
		ps->ps_flags &= ~PROXY_F_CLI_PAUSED;
		bufferevent_enable(ps->ps_cli.bev, EV_READ);
		proxy_forward_client(ps);
	} else if (side == &ps->ps_cli && (ps->ps_flags & PROXY_F_UP_PAUSED) &&
	    ps->ps_pump[1] == NULL) {
		ps->ps_flags &= ~PROXY_F_UP_PAUSED;
		bufferevent_enable(ps->ps_up.bev, EV_READ);
		proxy_forward_upstream(ps);
	}
}

/*
 * The upstream closed, failed or went quiet (events).  A kept upstream
 * closing between requests is simply dropped.  A response delimited by
 * close is complete; a kept upstream that closed before answering a
 * request without a body gets the request again on a new connection;
 * anything else fails the request.
 */
void
proxy_forward_upstream_eof(struct proxy_session *ps, short events)
{
	struct proxy_http_response	*rs = &ps->ps_resp;
	int				 eof = events & BEV_EVENT_EOF;

	ps->ps_flags |= PROXY_F_UP_EOF;
	if (ps->ps_state == PROXY_S_HEAD) {
		proxy_side_free(&ps->ps_up);
		return;
	}
	if (ps->ps_state != PROXY_S_FORWARD) {
		proxy_session_close(ps, "upstream closed");
		return;
	}
	if (eof && (ps->ps_flags & PROXY_F_RESP_HEAD) &&
	    rs->rs_msg.hm_body == PROXY_HTTP_BODY_CLOSE) {
		ps->ps_flags |= PROXY_F_RESP_DONE | PROXY_F_CLOSE_AFTER;
		forward_done(ps);
		return;
	}
	if (ps->ps_flags & PROXY_F_RESP_HEAD) {
		proxy_session_close(ps, "upstream closed mid-response");
		return;
	}
	if (eof && (ps->ps_flags & PROXY_F_UP_REUSED) &&
	    ps->ps_req.rq_msg.hm_body == PROXY_HTTP_BODY_NONE) {
		proxy_session_retry(ps);
		return;
	}
	proxy_stats.st_upstream_errors++;
	proxy_session_respond(ps, (events & BEV_EVENT_TIMEOUT) ? 504 : 502,
	    NULL, (events & BEV_EVENT_TIMEOUT) ? "the upstream did not "
	    "answer in time" : "the upstream closed without answering", 0);
}
