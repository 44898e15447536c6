/*
 * proxy_pump.c: one direction of bytes from one socket to another with
 * splice(2), socket to pipe to socket, never through user space.  A
 * tunnel runs two pumps without a limit; an HTTP body with a
 * Content-Length runs one with the body's length as its limit, so that
 * not one byte of what follows (the next pipelined request or response)
 * is taken.
 *
 * A pump holds a pipe only while bytes are in it; empty pipes go back to
 * a small pool.  It reads when its source is readable and nothing is
 * queued, and writes when bytes are queued and its sink is writable, so
 * it never holds more than one pipe's worth.  It reports its end once,
 * through its callback, as the last thing it does; the callback may free
 * it.
 *
 * splice(2) is Linux's: elsewhere proxy_pump_start fails and callers
 * move bytes through bufferevents.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "config.h"
#include "log.h"
#include "sbxd.h"
#include "proxy.h"

#define PUMP_PIPE_POOL	64	/* empty pipes kept for reuse: idle pumps
				   cost no descriptors, busy ones no pipe2 */

#ifdef __linux__
static int	pump_pipes[PUMP_PIPE_POOL][2];	/* empty, reusable */
static size_t	pump_pipe_size[PUMP_PIPE_POOL];
static int	pump_npipes;

static void	pump_readcb(evutil_socket_t, short, void *);
static void	pump_writecb(evutil_socket_t, short, void *);
static int	pump_flush(struct proxy_pump *);
static int	pump_pipe_get(struct proxy_pump *, size_t);
static void	pump_pipe_put(struct proxy_pump *);
static void	pump_end(struct proxy_pump *, enum proxy_pump_end);

/* Whether pumps work here. */
int
proxy_pump_available(void)
{
	return (1);
}

/*
 * Start moving bytes from the socket "from" to the socket "to": limit
 * bytes, more than none (PROXY_PUMP_NOLIMIT: until EOF), queueing up to about
 * queue bytes (the pipe's size; the system rounds it to a power of two
 * pages).  With idle, a pump that waits that long on either socket ends
 * with PROXY_PUMP_TIMEOUT.
 */
int
proxy_pump_start(struct proxy_pump *pu, int from, int to, uint64_t limit,
    size_t queue, const struct timeval *idle, proxy_pump_cb cb, void *arg)
{
	memset(pu, 0, sizeof(*pu));
	pu->pu_pipesize = queue;
	pu->pu_from = from;
	pu->pu_to = to;
	pu->pu_left = limit;
	pu->pu_pipe[0] = pu->pu_pipe[1] = -1;
	pu->pu_cb = cb;
	pu->pu_arg = arg;
	if (idle != NULL) {
		pu->pu_idle = *idle;
		pu->pu_has_idle = 1;
	}
	event_base_gettimeofday_cached(sbxd_env->sx_base, &pu->pu_last);
	event_assign(&pu->pu_rev, sbxd_env->sx_base, from,
	    EV_READ | EV_PERSIST, pump_readcb, pu);
	event_assign(&pu->pu_wev, sbxd_env->sx_base, to,
	    EV_WRITE | EV_PERSIST, pump_writecb, pu);
	pu->pu_running = 1;
	return (event_add(&pu->pu_rev, pu->pu_has_idle ? &pu->pu_idle :
	    NULL));
}

/* Stop a pump, if it runs; bytes still in its pipe are lost. */
void
proxy_pump_stop(struct proxy_pump *pu)
{
	if (!pu->pu_running)
		return;
	pu->pu_running = 0;
	event_del(&pu->pu_rev);
	event_del(&pu->pu_wev);
	pump_pipe_put(pu);
}

/* The source is readable: move what it has into the pipe, then on. */
static void
pump_readcb(evutil_socket_t fd, short events, void *arg)
{
	struct proxy_pump	*pu = arg;
	size_t			 want;
	ssize_t			 n;

	if (events & EV_TIMEOUT) {
		pump_end(pu, PROXY_PUMP_TIMEOUT);
		return;
	}
	if (pump_pipe_get(pu, pu->pu_pipesize) == -1) {
		pump_end(pu, PROXY_PUMP_PIPE);
		return;
	}
	want = pu->pu_pipelen;
	if (pu->pu_left < want)
		want = pu->pu_left;
	n = splice(fd, NULL, pu->pu_pipe[1], NULL, want,
	    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n == -1) {
		pump_end(pu, PROXY_PUMP_READ);
		return;
	}
	if (n == 0) {
		pump_pipe_put(pu);
		pump_end(pu, PROXY_PUMP_EOF);
		return;
	}
	pu->pu_queued += n;
	if (pu->pu_left != PROXY_PUMP_NOLIMIT)
		pu->pu_left -= n;
	event_base_gettimeofday_cached(sbxd_env->sx_base, &pu->pu_last);
	if (pump_flush(pu) == -1)
		return;
	if (pu->pu_queued > 0) {
		/* The sink is slow: stop reading until the pipe drains. */
		event_del(&pu->pu_rev);
		event_add(&pu->pu_wev, pu->pu_has_idle ? &pu->pu_idle : NULL);
		return;
	}
	pump_pipe_put(pu);
	if (pu->pu_left == 0)
		pump_end(pu, PROXY_PUMP_DONE);
}

/* The sink is writable again: drain the pipe, then read again. */
static void
pump_writecb(evutil_socket_t fd __unused, short events, void *arg)
{
	struct proxy_pump	*pu = arg;

	if (events & EV_TIMEOUT) {
		pump_end(pu, PROXY_PUMP_TIMEOUT);
		return;
	}
	if (pump_flush(pu) == -1 || pu->pu_queued > 0)
		return;
	pump_pipe_put(pu);
	event_del(&pu->pu_wev);
	if (pu->pu_left == 0) {
		pump_end(pu, PROXY_PUMP_DONE);
		return;
	}
	event_add(&pu->pu_rev, pu->pu_has_idle ? &pu->pu_idle : NULL);
}

/* Move the pipe's bytes to the sink; -1 if the pump ended. */
static int
pump_flush(struct proxy_pump *pu)
{
	ssize_t	 n;

	while (pu->pu_queued > 0) {
		n = splice(pu->pu_pipe[0], NULL, pu->pu_to, NULL,
		    pu->pu_queued, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return (0);
		if (n <= 0) {
			pump_end(pu, PROXY_PUMP_WRITE);
			return (-1);
		}
		pu->pu_queued -= n;
		pu->pu_bytes += n;
		event_base_gettimeofday_cached(sbxd_env->sx_base,
		    &pu->pu_last);
	}
	return (0);
}

/*
 * Give the pump a pipe of about size bytes: a spare one from the pool,
 * or a new one.  Fewer, larger splices move a stream with less work;
 * a pipe the system will not grow keeps the size it has.
 */
static int
pump_pipe_get(struct proxy_pump *pu, size_t size)
{
	int	 sz;

	if (pu->pu_pipe[0] != -1)
		return (0);
	if (pump_npipes > 0) {
		pump_npipes--;
		pu->pu_pipe[0] = pump_pipes[pump_npipes][0];
		pu->pu_pipe[1] = pump_pipes[pump_npipes][1];
		pu->pu_pipelen = pump_pipe_size[pump_npipes];
	} else if (pipe2(pu->pu_pipe, O_NONBLOCK | O_CLOEXEC) == -1 ||
	    !proxy_fd_ok(pu->pu_pipe[1], 0)) {
		if (pu->pu_pipe[0] != -1) {
			close(pu->pu_pipe[0]);
			close(pu->pu_pipe[1]);
		}
		pu->pu_pipe[0] = pu->pu_pipe[1] = -1;
		return (-1);
	} else
		pu->pu_pipelen = 0;
	if (pu->pu_pipelen != size) {
		if (size > INT_MAX ||
		    (sz = fcntl(pu->pu_pipe[1], F_SETPIPE_SZ, (int)size)) == -1)
			sz = fcntl(pu->pu_pipe[1], F_GETPIPE_SZ);
		pu->pu_pipelen = sz > 0 ? (size_t)sz : 65536;
	}
	return (0);
}

/* Take the pump's pipe: to the pool if empty and there is room. */
static void
pump_pipe_put(struct proxy_pump *pu)
{
	if (pu->pu_pipe[0] == -1)
		return;
	if (pu->pu_queued == 0 && pump_npipes < PUMP_PIPE_POOL) {
		pump_pipes[pump_npipes][0] = pu->pu_pipe[0];
		pump_pipes[pump_npipes][1] = pu->pu_pipe[1];
		pump_pipe_size[pump_npipes] = pu->pu_pipelen;
		pump_npipes++;
	} else {
		close(pu->pu_pipe[0]);
		close(pu->pu_pipe[1]);
	}
	pu->pu_pipe[0] = pu->pu_pipe[1] = -1;
	pu->pu_queued = 0;
}

/* Stop and report; the callback may free the pump. */
static void
pump_end(struct proxy_pump *pu, enum proxy_pump_end why)
{
	proxy_pump_stop(pu);
	pu->pu_cb(pu, why, pu->pu_arg);
}

#else	/* !__linux__ */

int
proxy_pump_available(void)
{
	return (0);
}

int
proxy_pump_start(struct proxy_pump *pu, int from __unused, int to __unused,
    uint64_t limit __unused, size_t queue __unused,
    const struct timeval *idle __unused,
    proxy_pump_cb cb __unused, void *arg __unused)
{
	memset(pu, 0, sizeof(*pu));
	return (-1);
}

void
proxy_pump_stop(struct proxy_pump *pu)
{
	pu->pu_running = 0;
}
#endif	/* __linux__ */

/* Why a pump ended, for logs. */
const char *
proxy_pump_why(enum proxy_pump_end why, int upstream_from)
{
	switch (why) {
	case PROXY_PUMP_DONE:
		return ("done");
	case PROXY_PUMP_EOF:
		return (upstream_from ? "upstream closed" : "client closed");
	case PROXY_PUMP_READ:
		return (upstream_from ? "upstream read error" :
		    "client read error");
	case PROXY_PUMP_WRITE:
		return (upstream_from ? "client write error" :
		    "upstream write error");
	case PROXY_PUMP_TIMEOUT:
		return ("timeout");
	case PROXY_PUMP_PIPE:
		break;
	}
	return ("pipe failed");
}
