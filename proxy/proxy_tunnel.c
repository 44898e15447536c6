/*
 * proxy_tunnel.c: the opaque relay of a CONNECT tunnel or an upgraded
 * websocket, once both sides are connected and every byte the proxy had
 * buffered has been handed on.
 *
 * On Linux the bytes go socket to pipe to socket with splice(2) and never
 * enter user space; a tunnel then holds no buffers of its own, only four
 * events, and a pipe per direction only while bytes are in flight.  Elsewhere (and when splice is switched off) two bufferevents
 * relay by moving evbuffer chains, with a high watermark per direction.
 * Either way a direction that reaches EOF half-closes the other socket,
 * and the tunnel ends when both directions have, on an error, or when
 * nothing moved for the idle timeout.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/event_struct.h>

#include "config.h"
#include "log.h"
#include "sbxd.h"
#include "proxy.h"

#define TUNNEL_SPLICE_MAX	(64 * 1024)	/* one pipe's worth */
#define TUNNEL_PIPE_POOL	64	/* empty pipes kept for reuse: a tunnel
					   holds a pipe only while bytes are in
					   it, so idle tunnels cost no
					   descriptors and busy ones no pipe2 */

/* One direction: bytes read from td_from are written to td_to. */
struct tunnel_dir {
	struct proxy_tunnel	*td_tunnel;
	int			 td_from;
	int			 td_to;
	int			 td_pipe[2];	/* -1 until bytes flow */
	size_t			 td_queued;	/* bytes in the pipe */
	struct event		 td_rev;	/* td_from readable */
	struct event		 td_wev;	/* td_to writable */
	struct bufferevent	*td_bev;	/* portable: reads td_from */
	uint64_t		 td_bytes;
	int			 td_eof;	/* td_from reached EOF */
};

struct proxy_tunnel {
	struct tunnel_dir	 pt_dir[2];	/* 0: client to upstream */
	int			 pt_splice;
	size_t			 pt_highwater;
	struct event		 pt_idle;
	struct event		 pt_endev;	/* reports the end */
	const char		*pt_why;
	struct timeval		 pt_idle_tv;
	struct timeval		 pt_last;	/* last byte moved */
	proxy_tunnel_cb		 pt_cb;
	void			*pt_arg;
	int			 pt_done;
};

#ifdef __linux__
static int	tunnel_pipes[TUNNEL_PIPE_POOL][2];	/* empty, reusable */
static int	tunnel_npipes;
#endif

static int	tunnel_splice_start(struct proxy_tunnel *);
static void	tunnel_pipe_put(struct tunnel_dir *);
#ifdef __linux__
static void	tunnel_splice_readcb(evutil_socket_t, short, void *);
static void	tunnel_splice_writecb(evutil_socket_t, short, void *);
static int	tunnel_splice_flush(struct tunnel_dir *);
static int	tunnel_pipe_get(struct tunnel_dir *);
#endif
static int	tunnel_bev_start(struct proxy_tunnel *);
static void	tunnel_bev_readcb(struct bufferevent *, void *);
static void	tunnel_bev_writecb(struct bufferevent *, void *);
static void	tunnel_bev_eventcb(struct bufferevent *, short, void *);
static void	tunnel_eof(struct tunnel_dir *);
static void	tunnel_idlecb(evutil_socket_t, short, void *);
static void	tunnel_touch(struct proxy_tunnel *);
static void	tunnel_end(struct proxy_tunnel *, const char *);
static void	tunnel_endcb(evutil_socket_t, short, void *);

/*
 * Relay between the connected sockets cfd (client) and ufd (upstream),
 * which the tunnel takes.  cb(arg, why) is called once when it ends; the
 * caller then frees the tunnel.
 */
struct proxy_tunnel *
proxy_tunnel_new(int cfd, int ufd, int use_splice, size_t highwater,
    const struct timeval *idle, proxy_tunnel_cb cb, void *arg)
{
	struct proxy_tunnel	*pt;
	int			 i, r;

	if ((pt = calloc(1, sizeof(*pt))) == NULL)
		return (NULL);
	pt->pt_cb = cb;
	pt->pt_arg = arg;
	pt->pt_highwater = highwater;
	pt->pt_idle_tv = *idle;
	for (i = 0; i < 2; i++) {
		pt->pt_dir[i].td_tunnel = pt;
		pt->pt_dir[i].td_from = i == 0 ? cfd : ufd;
		pt->pt_dir[i].td_to = i == 0 ? ufd : cfd;
		pt->pt_dir[i].td_pipe[0] = pt->pt_dir[i].td_pipe[1] = -1;
	}
#ifdef __linux__
	pt->pt_splice = use_splice;
#else
	(void)use_splice;
#endif
	r = pt->pt_splice ? tunnel_splice_start(pt) : tunnel_bev_start(pt);
	evtimer_assign(&pt->pt_idle, sbxd_env->sx_base, tunnel_idlecb, pt);
	evtimer_assign(&pt->pt_endev, sbxd_env->sx_base, tunnel_endcb, pt);
	if (r == -1 || evtimer_add(&pt->pt_idle, &pt->pt_idle_tv) == -1) {
		pt->pt_done = 1;	/* the caller frees; no callback */
		proxy_tunnel_free(pt);
		return (NULL);
	}
	tunnel_touch(pt);
	return (pt);
}

/* Close both sockets and free the tunnel. */
void
proxy_tunnel_free(struct proxy_tunnel *pt)
{
	struct tunnel_dir	*td;
	int			 i;

	if (pt == NULL)
		return;
	for (i = 0; i < 2; i++) {
		td = &pt->pt_dir[i];
		if (event_initialized(&td->td_rev))
			event_del(&td->td_rev);
		if (event_initialized(&td->td_wev))
			event_del(&td->td_wev);
		if (td->td_bev != NULL)
			bufferevent_free(td->td_bev);
		tunnel_pipe_put(td);
		close(td->td_from);
	}
	if (event_initialized(&pt->pt_idle))
		evtimer_del(&pt->pt_idle);
	if (event_initialized(&pt->pt_endev))
		evtimer_del(&pt->pt_endev);
	free(pt);
}

/* Bytes moved client to upstream (0) or upstream to client (1). */
uint64_t
proxy_tunnel_bytes(const struct proxy_tunnel *pt, int dir)
{
	return (pt->pt_dir[dir].td_bytes);
}

#ifdef __linux__
static int
tunnel_splice_start(struct proxy_tunnel *pt)
{
	struct tunnel_dir	*td;
	int			 i;

	for (i = 0; i < 2; i++) {
		td = &pt->pt_dir[i];
		event_assign(&td->td_rev, sbxd_env->sx_base, td->td_from,
		    EV_READ | EV_PERSIST, tunnel_splice_readcb, td);
		event_assign(&td->td_wev, sbxd_env->sx_base, td->td_to,
		    EV_WRITE | EV_PERSIST, tunnel_splice_writecb, td);
		if (event_add(&td->td_rev, NULL) == -1)
			return (-1);
	}
	return (0);
}

/* td_from is readable: move what it has into the pipe, then onwards. */
static void
tunnel_splice_readcb(evutil_socket_t fd, short events __unused, void *arg)
{
	struct tunnel_dir	*td = arg;
	ssize_t			 n;

	if (tunnel_pipe_get(td) == -1) {
		tunnel_end(td->td_tunnel, "pipe failed");
		return;
	}
	n = splice(fd, NULL, td->td_pipe[1], NULL, TUNNEL_SPLICE_MAX,
	    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n == -1) {
		tunnel_end(td->td_tunnel, td == &td->td_tunnel->pt_dir[0] ?
		    "client read error" : "upstream read error");
		return;
	}
	if (n == 0) {
		event_del(&td->td_rev);
		tunnel_eof(td);
		return;
	}
	td->td_queued += n;
	tunnel_touch(td->td_tunnel);
	if (tunnel_splice_flush(td) == -1)
		return;
	if (td->td_queued > 0) {
		/* The peer is slow: stop reading until the pipe drains. */
		event_del(&td->td_rev);
		event_add(&td->td_wev, NULL);
	} else
		tunnel_pipe_put(td);
}

static void
tunnel_splice_writecb(evutil_socket_t fd __unused, short events __unused,
    void *arg)
{
	struct tunnel_dir	*td = arg;

	if (tunnel_splice_flush(td) == -1 || td->td_queued > 0)
		return;
	tunnel_pipe_put(td);
	event_del(&td->td_wev);
	if (td->td_eof)
		tunnel_eof(td);
	else
		event_add(&td->td_rev, NULL);
}

/* Give td a pipe: a spare one from the pool, or a new one. */
static int
tunnel_pipe_get(struct tunnel_dir *td)
{
	if (td->td_pipe[0] != -1)
		return (0);
	if (tunnel_npipes > 0) {
		tunnel_npipes--;
		td->td_pipe[0] = tunnel_pipes[tunnel_npipes][0];
		td->td_pipe[1] = tunnel_pipes[tunnel_npipes][1];
		return (0);
	}
	if (pipe2(td->td_pipe, O_NONBLOCK | O_CLOEXEC) == -1) {
		td->td_pipe[0] = td->td_pipe[1] = -1;
		return (-1);
	}
	return (0);
}

/* Take td's pipe: to the pool if empty and there is room, else close. */
static void
tunnel_pipe_put(struct tunnel_dir *td)
{
	if (td->td_pipe[0] == -1)
		return;
	if (td->td_queued == 0 && tunnel_npipes < TUNNEL_PIPE_POOL) {
		tunnel_pipes[tunnel_npipes][0] = td->td_pipe[0];
		tunnel_pipes[tunnel_npipes][1] = td->td_pipe[1];
		tunnel_npipes++;
	} else {
		close(td->td_pipe[0]);
		close(td->td_pipe[1]);
	}
	td->td_pipe[0] = td->td_pipe[1] = -1;
}

/* Move the pipe's bytes to td_to; -1 if the tunnel ended. */
static int
tunnel_splice_flush(struct tunnel_dir *td)
{
	ssize_t	 n;

	while (td->td_queued > 0) {
		n = splice(td->td_pipe[0], NULL, td->td_to, NULL,
		    td->td_queued, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return (0);
		if (n <= 0) {
			tunnel_end(td->td_tunnel, td ==
			    &td->td_tunnel->pt_dir[0] ? "upstream write error" :
			    "client write error");
			return (-1);
		}
		td->td_queued -= n;
		td->td_bytes += n;
	}
	return (0);
}

#else
/* splice(2) is Linux's: elsewhere pt_splice is never set. */
static int
tunnel_splice_start(struct proxy_tunnel *pt __unused)
{
	return (-1);
}

static void
tunnel_pipe_put(struct tunnel_dir *td __unused)
{
}
#endif

static int
tunnel_bev_start(struct proxy_tunnel *pt)
{
	struct tunnel_dir	*td;
	int			 i;

	for (i = 0; i < 2; i++) {
		td = &pt->pt_dir[i];
		td->td_bev = bufferevent_socket_new(sbxd_env->sx_base,
		    td->td_from, 0);
		if (td->td_bev == NULL)
			return (-1);
	}
	for (i = 0; i < 2; i++) {
		td = &pt->pt_dir[i];
		bufferevent_setcb(td->td_bev, tunnel_bev_readcb,
		    tunnel_bev_writecb, tunnel_bev_eventcb, td);
		if (bufferevent_enable(td->td_bev, EV_READ | EV_WRITE) == -1)
			return (-1);
	}
	return (0);
}

/* Move what td read to the other side's output; pause if it is full. */
static void
tunnel_bev_readcb(struct bufferevent *bev, void *arg)
{
	struct tunnel_dir	*td = arg;
	struct tunnel_dir	*peer = td == &td->td_tunnel->pt_dir[0] ?
				    &td->td_tunnel->pt_dir[1] :
				    &td->td_tunnel->pt_dir[0];
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct evbuffer		*out = bufferevent_get_output(peer->td_bev);

	td->td_bytes += evbuffer_get_length(in);
	evbuffer_add_buffer(out, in);
	tunnel_touch(td->td_tunnel);
	if (evbuffer_get_length(out) >= td->td_tunnel->pt_highwater) {
		bufferevent_disable(bev, EV_READ);
		bufferevent_setwatermark(peer->td_bev, EV_WRITE,
		    td->td_tunnel->pt_highwater / 2, 0);
	}
}

/* This side's output drained: resume the other side, finish a close. */
static void
tunnel_bev_writecb(struct bufferevent *bev __unused, void *arg)
{
	struct tunnel_dir	*td = arg;
	struct tunnel_dir	*peer = td == &td->td_tunnel->pt_dir[0] ?
				    &td->td_tunnel->pt_dir[1] :
				    &td->td_tunnel->pt_dir[0];

	bufferevent_setwatermark(td->td_bev, EV_WRITE, 0, 0);
	if (peer->td_eof)
		tunnel_eof(peer);
	else
		bufferevent_enable(peer->td_bev, EV_READ);
}

static void
tunnel_bev_eventcb(struct bufferevent *bev __unused, short events, void *arg)
{
	struct tunnel_dir	*td = arg;

	if (events & BEV_EVENT_EOF) {
		tunnel_eof(td);
		return;
	}
	if (events & BEV_EVENT_ERROR)
		tunnel_end(td->td_tunnel, td == &td->td_tunnel->pt_dir[0] ?
		    "client error" : "upstream error");
}

/*
 * td_from reached EOF.  Once everything read from it is written, half-
 * close td_to; when both directions are done, so is the tunnel.
 */
static void
tunnel_eof(struct tunnel_dir *td)
{
	struct proxy_tunnel	*pt = td->td_tunnel;
	struct tunnel_dir	*peer = td == &pt->pt_dir[0] ?
				    &pt->pt_dir[1] : &pt->pt_dir[0];

	td->td_eof = 1;
	if (pt->pt_splice ? td->td_queued > 0 :
	    evbuffer_get_length(bufferevent_get_output(peer->td_bev)) > 0)
		return;			/* the write side finishes it */
	shutdown(td->td_to, SHUT_WR);
	if (peer->td_eof && (pt->pt_splice ? peer->td_queued == 0 :
	    evbuffer_get_length(bufferevent_get_output(td->td_bev)) == 0))
		tunnel_end(pt, "closed");
}

/* Record activity; the idle timer compares against it. */
static void
tunnel_touch(struct proxy_tunnel *pt)
{
	event_base_gettimeofday_cached(sbxd_env->sx_base, &pt->pt_last);
}

static void
tunnel_idlecb(evutil_socket_t fd __unused, short events __unused, void *arg)
{
	struct proxy_tunnel	*pt = arg;
	struct timeval		 now, quiet, left;

	event_base_gettimeofday_cached(sbxd_env->sx_base, &now);
	timersub(&now, &pt->pt_last, &quiet);
	if (timercmp(&quiet, &pt->pt_idle_tv, >=)) {
		tunnel_end(pt, "idle timeout");
		return;
	}
	timersub(&pt->pt_idle_tv, &quiet, &left);
	evtimer_add(&pt->pt_idle, &left);
}

/*
 * Report the end once.  The owner frees the tunnel from its callback, so
 * the report goes out from a timer of its own, never from inside one of
 * the tunnel's event callbacks.
 */
static void
tunnel_end(struct proxy_tunnel *pt, const char *why)
{
	struct timeval	 now = { 0, 0 };
	int		 i;

	if (pt->pt_done)
		return;
	pt->pt_done = 1;
	pt->pt_why = why;
	for (i = 0; i < 2; i++) {
		if (pt->pt_splice) {
			event_del(&pt->pt_dir[i].td_rev);
			event_del(&pt->pt_dir[i].td_wev);
		} else
			bufferevent_disable(pt->pt_dir[i].td_bev,
			    EV_READ | EV_WRITE);
	}
	evtimer_del(&pt->pt_idle);
	evtimer_add(&pt->pt_endev, &now);
}

static void
tunnel_endcb(evutil_socket_t fd __unused, short events __unused, void *arg)
{
	struct proxy_tunnel	*pt = arg;

	pt->pt_cb(pt->pt_arg, pt->pt_why);
}
