/*
 * tunnelbench.c: measures CONNECT tunnels through an HTTP proxy, or the
 * same traffic direct, for bench/proxy.sh.
 *
 *   tunnelbench serve PORT            a server: on each connection, the
 *                                     first byte says what to do: 's'
 *                                     streams zeros until the peer closes,
 *                                     'e' echoes
 *   tunnelbench stream HOST:PORT BYTES [PROXY:PORT]
 *                                     read BYTES of the stream; prints
 *                                     "MiB/s"
 *   tunnelbench firstbyte HOST:PORT N [PROXY:PORT]
 *                                     N times: a new connection (through a
 *                                     new tunnel), one byte echoed; prints
 *                                     the median and the 99th percentile
 *                                     in microseconds
 *   tunnelbench idle HOST:PORT N PROXY:PORT
 *                                     open N tunnels, print "ready", hold
 *                                     them until stdin closes
 *   tunnelbench relay PORT            the least a CONNECT proxy can do, as
 *                                     a reference: one tunnel at a time,
 *                                     blocking calls, no checks; answers
 *                                     200 once connected to the target,
 *                                     then copies both ways until either
 *                                     side closes
 */

#define _GNU_SOURCE		/* memmem */

#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <poll.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BUFSZ	(256 * 1024)

static void
die(const char *what)
{
	perror(what);
	exit(1);
}

static double
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec + ts.tv_nsec / 1e9);
}

static void
hostport(const char *s, struct sockaddr_in *sin)
{
	char	 host[64];
	const char *colon = strrchr(s, ':');

	if (colon == NULL || colon - s >= (int)sizeof(host))
		die("host:port");
	memcpy(host, s, colon - s);
	host[colon - s] = '\0';
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(atoi(colon + 1));
	if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
		die("address");
}

/* Connect to target, through proxy's CONNECT when proxy is not NULL. */
static int
dial(const char *target, const char *proxy)
{
	struct sockaddr_in	 sin;
	char			 req[256], resp[1024];
	size_t			 got = 0;
	ssize_t			 n;
	int			 fd, one = 1;

	hostport(proxy != NULL ? proxy : target, &sin);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		die("socket");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		die("connect");
	if (proxy == NULL)
		return (fd);
	n = snprintf(req, sizeof(req), "CONNECT %s HTTP/1.1\r\nHost: %s\r\n"
	    "\r\n", target, target);
	if (write(fd, req, n) != n)
		die("write");
	/*
	 * Read the proxy's answer as a client does, into a buffer until the
	 * blank line.  The server here speaks only after the client, so
	 * nothing can come after the answer yet.
	 */
	while (got < 4 || memcmp(resp + got - 4, "\r\n\r\n", 4) != 0) {
		if (got == sizeof(resp) - 1)
			die("proxy answer too long");
		if ((n = read(fd, resp + got, sizeof(resp) - 1 - got)) <= 0)
			die("proxy closed");
		got += n;
		if (got >= 4 && memmem(resp, got, "\r\n\r\n", 4) !=
		    resp + got - 4) {
			fprintf(stderr, "bytes after the proxy's answer\n");
			exit(1);
		}
	}
	resp[got] = '\0';
	if (strncmp(resp, "HTTP/1.1 200", 12) != 0 &&
	    strncmp(resp, "HTTP/1.0 200", 12) != 0) {
		fprintf(stderr, "proxy refused: %s\n", resp);
		exit(1);
	}
	return (fd);
}

static void *
serve_one(void *arg)
{
	static char	 zeros[BUFSZ];
	char		 c, buf[4096];
	int		 fd = (int)(long)arg;
	ssize_t		 n;

	if (read(fd, &c, 1) != 1)
		goto done;
	if (c == 's') {
		while (write(fd, zeros, sizeof(zeros)) > 0)
			;
	} else {
		if (write(fd, &c, 1) != 1)
			goto done;
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			if (write(fd, buf, n) != n)
				break;
	}
done:
	close(fd);
	return (NULL);
}

/* A listening socket on 127.0.0.1:port; a closed peer is no signal. */
static int
listen_loopback(int port)
{
	struct sockaddr_in	 sin;
	int			 l, one = 1;

	signal(SIGPIPE, SIG_IGN);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((l = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		die("socket");
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(l, 4096) == -1)
		die("listen");
	return (l);
}

static void __attribute__((__noreturn__))
serve(int port)
{
	pthread_t	 t;
	int		 l, fd, one = 1;

	l = listen_loopback(port);
	for (;;) {
		if ((fd = accept(l, NULL, NULL)) == -1)
			continue;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (pthread_create(&t, NULL, serve_one, (void *)(long)fd) != 0)
			close(fd);
		else
			pthread_detach(t);
	}
}

/* Copy what one side has to the other; 0 once either side is done. */
static int
relay_copy(int from, int to)
{
	static char	 buf[BUFSZ];
	ssize_t		 n;

	if ((n = read(from, buf, sizeof(buf))) <= 0)
		return (0);
	return (write(to, buf, n) == n);
}

/* One tunnel for client c, from its CONNECT to either side's close. */
static void
relay_one(int c)
{
	struct sockaddr_in	 sin;
	struct pollfd		 pfd[2];
	char			 head[1024], *end;
	ssize_t			 n;
	int			 u, one = 1;

	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* The whole head comes in one segment from tunnelbench. */
	if ((n = read(c, head, sizeof(head) - 1)) <= 0)
		return;
	head[n] = '\0';
	if (strncmp(head, "CONNECT ", 8) != 0 ||
	    (end = strchr(head + 8, ' ')) == NULL)
		return;
	*end = '\0';
	hostport(head + 8, &sin);
	if ((u = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return;
	setsockopt(u, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(u, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    write(c, "HTTP/1.1 200 OK\r\n\r\n", 19) == 19) {
		pfd[0].fd = c;
		pfd[1].fd = u;
		pfd[0].events = pfd[1].events = POLLIN;
		while (poll(pfd, 2, -1) > 0) {
			if (pfd[0].revents != 0 && !relay_copy(c, u))
				break;
			if (pfd[1].revents != 0 && !relay_copy(u, c))
				break;
		}
	}
	close(u);
}

static void __attribute__((__noreturn__))
relay(int port)
{
	int	 l, c;

	l = listen_loopback(port);
	for (;;) {
		if ((c = accept(l, NULL, NULL)) == -1)
			continue;
		relay_one(c);
		close(c);
	}
}

static int
stream(const char *target, long long bytes, const char *proxy)
{
	static char	 buf[BUFSZ];
	long long	 got = 0;
	double		 t0, t1;
	ssize_t		 n;
	int		 fd;

	fd = dial(target, proxy);
	if (write(fd, "s", 1) != 1)
		die("write");
	t0 = now();
	while (got < bytes && (n = read(fd, buf, sizeof(buf))) > 0)
		got += n;
	t1 = now();
	close(fd);
	if (got < bytes)
		die("short stream");
	printf("%.1f\n", got / (t1 - t0) / (1024 * 1024));
	return (0);
}

static int
cmp(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return (x < y ? -1 : x > y);
}

static int
firstbyte(const char *target, int count, const char *proxy)
{
	double	*lat, t0;
	char	 c = 'e';
	int	 i, fd;

	if ((lat = calloc(count, sizeof(*lat))) == NULL)
		die("calloc");
	for (i = 0; i < count; i++) {
		t0 = now();
		fd = dial(target, proxy);
		if (write(fd, &c, 1) != 1 || read(fd, &c, 1) != 1)
			die("echo");
		lat[i] = (now() - t0) * 1e6;
		close(fd);
	}
	qsort(lat, count, sizeof(*lat), cmp);
	printf("%.0f %.0f\n", lat[count / 2], lat[count * 99 / 100]);
	free(lat);
	return (0);
}

static int
idle(const char *target, int count, const char *proxy)
{
	struct rlimit	 rl;
	char		 c = 'e', buf[16];
	int		 i, fd;

	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	for (i = 0; i < count; i++) {
		fd = dial(target, proxy);
		/* One echo: the tunnel is fully set up on both sides. */
		if (write(fd, &c, 1) != 1 || read(fd, &c, 1) != 1)
			die("echo");
	}
	printf("ready\n");
	fflush(stdout);
	while (read(0, buf, sizeof(buf)) > 0)
		;
	return (0);
}

int
main(int argc, char *argv[])
{
	if (argc >= 3 && strcmp(argv[1], "serve") == 0)
		serve(atoi(argv[2]));
	if (argc >= 3 && strcmp(argv[1], "relay") == 0)
		relay(atoi(argv[2]));
	if (argc >= 4 && strcmp(argv[1], "stream") == 0)
		return (stream(argv[2], atoll(argv[3]), argc > 4 ? argv[4] :
		    NULL));
	if (argc >= 4 && strcmp(argv[1], "firstbyte") == 0)
		return (firstbyte(argv[2], atoi(argv[3]), argc > 4 ? argv[4] :
		    NULL));
	if (argc >= 5 && strcmp(argv[1], "idle") == 0)
		return (idle(argv[2], atoi(argv[3]), argv[4]));
	fprintf(stderr, "usage: tunnelbench serve PORT | relay PORT | stream "
	    "HOST:PORT BYTES [PROXY] | firstbyte HOST:PORT N [PROXY] | idle "
	    "HOST:PORT N PROXY\n");
	return (1);
}
