/*
 * proxy_pool.c: upstream connections kept between sessions.  When a
 * client goes away and leaves behind an upstream connection that could
 * carry another request, the connection waits here, for its listener and
 * its destination (host:port as the request named it).  A later session
 * of the same listener to the same destination takes it instead of
 * connecting again, once the address it goes to passes the policy as it
 * is then.  Connections are never shared between listeners, so never
 * between sandboxes.
 *
 * A parked connection that sends anything, closes, or waits longer than
 * the pool's idle time is dropped; so is the oldest one when the pool is
 * full, and every one of a listener that goes away.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "config.h"
#include "log.h"
#include "sbxd.h"
#include "proxy.h"

#define POOL_MAX	256	/* parked connections in all */
#define POOL_IDLE	30	/* seconds one waits at most */

struct pool_conn {
	TAILQ_ENTRY(pool_conn)	 pk_entry;
	struct proxy_listener	*pk_listener;
	char			 pk_dest[PROXY_HTTP_AUTHORITY_LEN];
	struct sockaddr_storage	 pk_ss;
	socklen_t		 pk_sslen;
	struct bufferevent	*pk_bev;
	int			 pk_fd;
};
TAILQ_HEAD(pool_conns, pool_conn);

static struct pool_conns pool_conns = TAILQ_HEAD_INITIALIZER(pool_conns);
static int		 pool_nconns;

static void	pool_drop(struct pool_conn *);
static void	pool_readcb(struct bufferevent *, void *);
static void	pool_eventcb(struct bufferevent *, short, void *);

/*
 * Park the upstream connection (bev on fd, connected to ss for dest) of
 * a session of pr.  The pool takes bev and fd in every case.
 */
void
proxy_pool_put(struct proxy_listener *pr, const char *dest,
    const struct sockaddr_storage *ss, socklen_t sslen,
    struct bufferevent *bev, int fd)
{
	struct pool_conn	*pk;
	struct timeval		 idle = { POOL_IDLE, 0 };

	if (idle.tv_sec > proxy_conf()->pc_timeout_idle)
		idle.tv_sec = proxy_conf()->pc_timeout_idle;
	if (evbuffer_get_length(bufferevent_get_input(bev)) > 0 ||
	    evbuffer_get_length(bufferevent_get_output(bev)) > 0 ||
	    (pk = calloc(1, sizeof(*pk))) == NULL) {
		bufferevent_free(bev);
		close(fd);
		return;
	}
	if (pool_nconns >= POOL_MAX)
		pool_drop(TAILQ_FIRST(&pool_conns));
	pk->pk_listener = pr;
	snprintf(pk->pk_dest, sizeof(pk->pk_dest), "%s", dest);
	memcpy(&pk->pk_ss, ss, sizeof(pk->pk_ss));
	pk->pk_sslen = sslen;
	pk->pk_bev = bev;
	pk->pk_fd = fd;
	bufferevent_setcb(bev, pool_readcb, NULL, pool_eventcb, pk);
	bufferevent_set_timeouts(bev, &idle, NULL);
	bufferevent_enable(bev, EV_READ);
	TAILQ_INSERT_TAIL(&pool_conns, pk, pk_entry);
	pool_nconns++;
}

/*
 * The most recently parked connection of pr to dest: its bufferevent,
 * whose callbacks the caller sets, with its fd and address; NULL if
 * there is none.
 */
struct bufferevent *
proxy_pool_take(struct proxy_listener *pr, const char *dest, int *fd,
    struct sockaddr_storage *ss, socklen_t *sslen)
{
	struct pool_conn	*pk;
	struct bufferevent	*bev;

	TAILQ_FOREACH_REVERSE(pk, &pool_conns, pool_conns, pk_entry) {
		if (pk->pk_listener == pr && strcmp(pk->pk_dest, dest) == 0)
			break;
	}
	if (pk == NULL)
		return (NULL);
	bev = pk->pk_bev;
	*fd = pk->pk_fd;
	memcpy(ss, &pk->pk_ss, sizeof(*ss));
	*sslen = pk->pk_sslen;
	bufferevent_disable(bev, EV_READ);
	bufferevent_set_timeouts(bev, NULL, NULL);
	TAILQ_REMOVE(&pool_conns, pk, pk_entry);
	pool_nconns--;
	free(pk);
	return (bev);
}

/* Drop the parked connections of pr, or all of them (NULL). */
void
proxy_pool_flush(struct proxy_listener *pr)
{
	struct pool_conn	*pk, *next;

	TAILQ_FOREACH_SAFE(pk, &pool_conns, pk_entry, next) {
		if (pr == NULL || pk->pk_listener == pr)
			pool_drop(pk);
	}
}

/* How many connections are parked. */
int
proxy_pool_count(void)
{
	return (pool_nconns);
}

static void
pool_drop(struct pool_conn *pk)
{
	TAILQ_REMOVE(&pool_conns, pk, pk_entry);
	pool_nconns--;
	bufferevent_free(pk->pk_bev);
	close(pk->pk_fd);
	free(pk);
}

/* A parked connection has nothing to say: anything it sends ends it. */
static void
pool_readcb(struct bufferevent *bev __unused, void *arg)
{
	pool_drop(arg);
}

static void
pool_eventcb(struct bufferevent *bev __unused, short events __unused,
    void *arg)
{
	pool_drop(arg);
}
