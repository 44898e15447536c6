/*
 * test_proxy_tunnel.c: the opaque relay, with splice(2) and with
 * bufferevents: bytes both ways over real TCP sockets, half-close in each
 * direction, the end reported once, and the idle timeout.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "config.h"
#include "sbxd.h"
#include "proxy.h"
#include "unit.h"

#define BIG	(4 * 1024 * 1024 + 17)
#define TUNNELS	100		/* tunnels of the idle-pipes test */
#define POOL	64		/* PUMP_PIPE_POOL in proxy_pump.c */

static struct sbxd	 env;
static const char	*ended;
static int		 ends;

static void
endcb(void *arg __unused, const char *why)
{
	ended = why;
	ends++;
}

/* Two connected TCP pairs: a <-> a2 and b <-> b2. */
static int
pairs(int *a, int *a2, int *b, int *b2)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	int			 l;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((l = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    bind(l, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(l, 4) == -1 ||
	    getsockname(l, (struct sockaddr *)&sin, &len) == -1)
		return (-1);
	*a = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(*a, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		return (-1);
	*a2 = accept(l, NULL, NULL);
	*b = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(*b, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		return (-1);
	*b2 = accept(l, NULL, NULL);
	close(l);
	fcntl(*a, F_SETFL, O_NONBLOCK);
	fcntl(*b, F_SETFL, O_NONBLOCK);
	fcntl(*a2, F_SETFL, O_NONBLOCK);
	fcntl(*b2, F_SETFL, O_NONBLOCK);
	return (*a2 == -1 || *b2 == -1 ? -1 : 0);
}

/*
 * Send len bytes into fd "in" and read them from "out" while the loop
 * runs; then, if half, shut "in" and expect EOF at "out".
 */
static int
move(int in, int out, size_t len, int half)
{
	static char	 buf[65536];
	size_t		 sent = 0, got = 0, n;
	ssize_t		 r;
	int		 spins = 0, eof = 0;

	while ((got < len || (half && !eof)) && spins < 200000) {
		event_base_loop(env.sx_base, EVLOOP_NONBLOCK);
		if (sent < len) {
			n = len - sent < sizeof(buf) ? len - sent : sizeof(buf);
			memset(buf, 'a' + (sent % 26), n);
			if ((r = write(in, buf, n)) > 0)
				sent += r;
			if (sent == len && half)
				shutdown(in, SHUT_WR);
		}
		r = read(out, buf, sizeof(buf));
		if (r > 0)
			got += r;
		else if (r == 0)
			eof = 1;
		else if (errno == EAGAIN)
			spins++;
		else
			return (-1);
	}
	return (got == len && (!half || eof) ? 0 : -1);
}

static int
relay(int use_splice)
{
	struct proxy_tunnel	*pt = NULL;
	struct timeval		 idle = { 30, 0 };
	int			 a = -1, a2 = -1, b = -1, b2 = -1, ret = -1, i;

	env.sx_base = event_base_new();
	sbxd_env = &env;
	if (env.sx_conf == NULL)
		env.sx_conf = config_new();
	ended = NULL;
	ends = 0;
	CHECK(pairs(&a, &a2, &b, &b2) == 0);
	pt = proxy_tunnel_new(a2, b2, use_splice, 256 * 1024, &idle, endcb,
	    NULL);
	CHECK(pt != NULL);
	a2 = b2 = -1;			/* the tunnel has them */
	CHECK(move(a, b, BIG, 0) == 0);
	CHECK(move(b, a, 1000, 0) == 0);
	/* Upstream finishes first; the client can still send. */
	CHECK(move(b, a, 10, 1) == 0);
	CHECK(ends == 0);
	CHECK(move(a, b, 100000, 1) == 0);
	for (i = 0; i < 100 && ends == 0; i++)
		event_base_loop(env.sx_base, EVLOOP_NONBLOCK);
	CHECK_INT(ends, 1);
	CHECK_STR(ended, "closed");
	CHECK_INT(proxy_tunnel_bytes(pt, 0), BIG + 100000);
	CHECK_INT(proxy_tunnel_bytes(pt, 1), 1010);
	ret = 0;
end:
	proxy_tunnel_free(pt);
	if (a != -1)
		close(a);
	if (b != -1)
		close(b);
	if (a2 != -1)
		close(a2);
	if (b2 != -1)
		close(b2);
	event_base_free(env.sx_base);
	return (ret);
}

static int
test_splice(void)
{
	return (relay(1));
}

static int
test_bufferevent(void)
{
	return (relay(0));
}

static int
test_idle(void)
{
	struct proxy_tunnel	*pt = NULL;
	struct timeval		 idle = { 0, 200000 };
	int			 a = -1, a2 = -1, b = -1, b2 = -1, ret = -1, i;

	env.sx_base = event_base_new();
	sbxd_env = &env;
	if (env.sx_conf == NULL)
		env.sx_conf = config_new();
	ended = NULL;
	ends = 0;
	CHECK(pairs(&a, &a2, &b, &b2) == 0);
	pt = proxy_tunnel_new(a2, b2, 1, 65536, &idle, endcb, NULL);
	CHECK(pt != NULL);
	for (i = 0; i < 100 && ends == 0; i++) {
		event_base_loop(env.sx_base, EVLOOP_ONCE);
	}
	CHECK_INT(ends, 1);
	CHECK_STR(ended, "idle timeout");
	ret = 0;
end:
	proxy_tunnel_free(pt);
	if (a != -1)
		close(a);
	if (b != -1)
		close(b);
	event_base_free(env.sx_base);
	return (ret);
}

/* A reset from one side ends the tunnel with an error. */
static int
test_reset(void)
{
	struct proxy_tunnel	*pt = NULL;
	struct timeval		 idle = { 30, 0 };
	struct linger		 lg = { 1, 0 };
	int			 a = -1, a2 = -1, b = -1, b2 = -1, ret = -1, i;

	env.sx_base = event_base_new();
	sbxd_env = &env;
	if (env.sx_conf == NULL)
		env.sx_conf = config_new();
	ended = NULL;
	ends = 0;
	CHECK(pairs(&a, &a2, &b, &b2) == 0);
	pt = proxy_tunnel_new(a2, b2, 1, 65536, &idle, endcb, NULL);
	CHECK(pt != NULL);
	CHECK(move(a, b, 5000, 0) == 0);
	setsockopt(b, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(b);
	b = -1;
	(void)write(a, "x", 1);
	for (i = 0; i < 1000 && ends == 0; i++)
		event_base_loop(env.sx_base, EVLOOP_NONBLOCK);
	CHECK_INT(ends, 1);
	CHECK(strstr(ended, "error") != NULL);
	ret = 0;
end:
	proxy_tunnel_free(pt);
	if (a != -1)
		close(a);
	if (b != -1)
		close(b);
	event_base_free(env.sx_base);
	return (ret);
}

/*
 * Tunnels that moved bytes both ways and went quiet hold no pipes: two
 * sockets each, plus at most the pool of spare pipes in all.
 */
static int
test_idle_pipes(void)
{
	struct proxy_tunnel	*pt[TUNNELS];
	struct timeval		 idle = { 30, 0 };
	int			 a[TUNNELS], b[TUNNELS], a2, b2;
	int			 ret = -1, i, n, base;

	env.sx_base = event_base_new();
	sbxd_env = &env;
	if (env.sx_conf == NULL)
		env.sx_conf = config_new();
	memset(pt, 0, sizeof(pt));
	for (i = 0; i < TUNNELS; i++)
		a[i] = b[i] = -1;
	CHECK((base = unit_nfds()) > 0);
	for (i = 0; i < TUNNELS; i++) {
		CHECK(pairs(&a[i], &a2, &b[i], &b2) == 0);
		pt[i] = proxy_tunnel_new(a2, b2, 1, 65536, &idle, endcb, NULL);
		CHECK(pt[i] != NULL);
		CHECK(move(a[i], b[i], 3000, 0) == 0);
		CHECK(move(b[i], a[i], 200000, 0) == 0);
	}
	n = unit_nfds() - base;
	if (n > 4 * TUNNELS + 2 * POOL) {
		unit_fail(__FILE__, __LINE__, "%d tunnels hold %d "
		    "descriptors", TUNNELS, n);
		goto end;
	}
	ret = 0;
end:
	for (i = 0; i < TUNNELS; i++) {
		proxy_tunnel_free(pt[i]);
		if (a[i] != -1)
			close(a[i]);
		if (b[i] != -1)
			close(b[i]);
	}
	event_base_free(env.sx_base);
	return (ret);
}

static const struct unit_test tests[] = {
	{ "splice", test_splice },
	{ "bufferevent", test_bufferevent },
	{ "idle", test_idle },
	{ "reset", test_reset },
	{ "idle pipes", test_idle_pipes },
};

UNIT_MAIN("proxy_tunnel", tests)
