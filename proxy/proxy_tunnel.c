/*
 * proxy_tunnel.c: the opaque relay of a CONNECT tunnel or an upgraded
 * websocket, once both sides are connected and every byte the proxy had
 * buffered has been handed on.
 *
 * On Linux a pump per direction (proxy_pump.c) moves the bytes with
 * splice(2), and they never enter user space; a tunnel then holds no
 * buffers of its own, and a pipe per direction only while bytes are in
 * flight.  Elsewhere (and when splice is switched off) two bufferevents
 * relay by moving evbuffer chains, with a high watermark per direction.
 * Either way a direction that reaches EOF half-closes the other socket,
 * and the tunnel ends when both directions have, on an error, or when
 * nothing moved for the idle timeout.
 */

#include <sys/types.h>
#include <sys/socket.h>

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

/* One direction: bytes read from td_from are written to td_to. */
struct tunnel_dir {
	struct proxy_tunnel	*td_tunnel;
	int			 td_from;
	int			 td_to;
	struct proxy_pump	 td_pump;	/* splice */
	struct bufferevent	*td_bev;	/* portable: reads td_from */
	uint64_t		 td_bytes;	/* portable */
	int			 td_eof;	/* td_from reached EOF, and all
						   of it is written (splice) */
};

struct proxy_tunnel {
	struct tunnel_dir	 pt_dir[2];	/* 0: client to upstream */
	int			 pt_splice;
	size_t			 pt_highwater;
	struct event		 pt_idle;
	struct event		 pt_endev;	/* reports the end */
	const char		*pt_why;
	struct timeval		 pt_idle_tv;
	struct timeval		 pt_last;	/* last byte moved (portable) */
	proxy_tunnel_cb		 pt_cb;
	void			*pt_arg;
	int			 pt_done;
};

static int	tunnel_splice_start(struct proxy_tunnel *);
static void	tunnel_pumpcb(struct proxy_pump *, enum proxy_pump_end,
		    void *);
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
	}
	pt->pt_splice = use_splice && proxy_pump_available();
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
		proxy_pump_stop(&td->td_pump);
		if (td->td_bev != NULL)
			bufferevent_free(td->td_bev);
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
	return (pt->pt_splice ? pt->pt_dir[dir].td_pump.pu_bytes :
	    pt->pt_dir[dir].td_bytes);
}

static int
tunnel_splice_start(struct proxy_tunnel *pt)
{
	struct tunnel_dir	*td;
	int			 i;

	for (i = 0; i < 2; i++) {
		td = &pt->pt_dir[i];
		if (proxy_pump_start(&td->td_pump, td->td_from, td->td_to,
		    PROXY_PUMP_NOLIMIT, pt->pt_highwater, NULL, tunnel_pumpcb,
		    td) == -1)
			return (-1);
	}
	return (0);
}

/* Bytes in the tunnel's splice pipes. */
size_t
proxy_tunnel_queued(const struct proxy_tunnel *pt)
{
	return (pt->pt_splice ? pt->pt_dir[0].td_pump.pu_queued +
	    pt->pt_dir[1].td_pump.pu_queued : 0);
}

/* A direction's pump ended: EOF half-closes; anything else is the end. */
static void
tunnel_pumpcb(struct proxy_pump *pu __unused, enum proxy_pump_end why,
    void *arg)
{
	struct tunnel_dir	*td = arg;

	if (why == PROXY_PUMP_EOF)
		tunnel_eof(td);
	else
		tunnel_end(td->td_tunnel, proxy_pump_why(why,
		    td == &td->td_tunnel->pt_dir[1]));
}

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
	if (!pt->pt_splice &&
	    evbuffer_get_length(bufferevent_get_output(peer->td_bev)) > 0)
		return;			/* the write side finishes it */
	shutdown(td->td_to, SHUT_WR);
	if (peer->td_eof && (pt->pt_splice ||
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
	if (pt->pt_splice) {
		/* The pumps know when they last moved a byte. */
		pt->pt_last = pt->pt_dir[0].td_pump.pu_last;
		if (timercmp(&pt->pt_dir[1].td_pump.pu_last, &pt->pt_last, >))
			pt->pt_last = pt->pt_dir[1].td_pump.pu_last;
	}
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
		if (pt->pt_splice)
			proxy_pump_stop(&pt->pt_dir[i].td_pump);
		else
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
