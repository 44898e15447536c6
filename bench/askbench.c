/*
 * askbench.c: held requests ("ask" policies) through sbxd's proxy, for
 * bench/ask.sh.  Everything is on 127.0.0.1; the control socket is
 * spoken to directly, one JSON object a line.
 *
 *   askbench hold PROXYPORT N HOST:PORT SOCK
 *	N clients each send "CONNECT HOST:PORT" to 127.0.0.1:PROXYPORT,
 *	which asks about it; once "asks" shows one question with N
 *	waiting and no client has had an answer, prints "ready ID" and
 *	holds them until stdin closes.  Then it denies the question and
 *	checks that every client gets its 403 (the sessions were still
 *	held): prints "denied N".
 *
 *   askbench latency SOCK UPPORT Q R BASEPORT BASEHOST PORT...
 *	Runs an HTTP upstream on 127.0.0.1:UPPORT that answers every
 *	request with "Connection: close" (no upstream connection is kept
 *	for reuse) and prints, each as "NAME p50 p99 max count" in ms:
 *	ctl	R round trips of {"command":"asks"} on one control
 *		connection;
 *	base	Q plain GETs of http://BASEHOST:UPPORT/ through
 *		127.0.0.1:BASEPORT, a host a rule allows: from the client's
 *		write to the upstream's first byte of the request;
 *	ask	Q plain GETs of http://hI.test:UPPORT/ (I from 1 to Q), one
 *		at a time, question I through listener PORT[(I-1) % L]:
 *		once the proxy.ask event of the question is read (on a
 *		follower of "events"), from just before the approve "once"
 *		line is written to the upstream's first byte;
 *	event	for the same requests, from the client's write to the
 *		proxy.ask event read;
 *	reply	from the approve line's write to its reply read.
 *	Each figure's samples come first, in order, as "sample NAME I MS".
 */

#define _GNU_SOURCE

#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TIMEOUT_MS	20000	/* the longest wait for anything */
#define LINE_MAX_LEN	(1024 * 1024)

/* A control connection: a buffer of what came after the last line. */
struct ctl {
	int	 fd;
	char	*buf;
	size_t	 len;
};

static void __attribute__((__noreturn__, __format__ (printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list	 ap;
	int	 e = errno;

	fprintf(stderr, "askbench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (e != 0)
		fprintf(stderr, ": %s", strerror(e));
	fprintf(stderr, "\n");
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
nofile_max(void)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Wait for events on one fd; dies after TIMEOUT_MS. */
static void
wait_fd(int fd, short events, const char *what)
{
	struct pollfd	 pfd;
	int		 n;

	pfd.fd = fd;
	pfd.events = events;
	while ((n = poll(&pfd, 1, TIMEOUT_MS)) == -1 && errno == EINTR)
		;
	if (n == 0) {
		errno = 0;
		die("timed out waiting for %s", what);
	}
	if (n == -1)
		die("poll");
}

static int
tcp_connect(int port)
{
	struct sockaddr_in	 sin;
	int			 fd, one = 1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		die("socket");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		die("connect to 127.0.0.1:%d", port);
	return (fd);
}

static int
tcp_listen(int port)
{
	struct sockaddr_in	 sin;
	int			 fd, one = 1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(fd, 1024) == -1)
		die("listen on 127.0.0.1:%d", port);
	return (fd);
}

static void
write_all(int fd, const char *s, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		if ((n = write(fd, s, len)) == -1) {
			if (errno == EINTR)
				continue;
			die("write");
		}
		s += n;
		len -= n;
	}
}

static void
ctl_open(struct ctl *c, const char *path)
{
	struct sockaddr_un	 sun;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = 0;
		die("%s: path too long", path);
	}
	strcpy(sun.sun_path, path);
	if ((c->fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1)
		die("socket");
	if (connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		die("connect to %s", path);
	if ((c->buf = malloc(LINE_MAX_LEN + 1)) == NULL)
		die("malloc");
	c->len = 0;
}

/*
 * The next line of c, NUL-terminated, valid until the next call.  What
 * follows it in the buffer is kept.
 */
static char *
ctl_line(struct ctl *c)
{
	static char	*line;
	char		*nl;
	size_t		 n;
	ssize_t		 r;

	if (line == NULL && (line = malloc(LINE_MAX_LEN + 1)) == NULL)
		die("malloc");
	while ((nl = memchr(c->buf, '\n', c->len)) == NULL) {
		if (c->len == LINE_MAX_LEN) {
			errno = 0;
			die("control line too long");
		}
		wait_fd(c->fd, POLLIN, "the control socket");
		if ((r = read(c->fd, c->buf + c->len, LINE_MAX_LEN - c->len))
		    <= 0) {
			if (r == 0)
				errno = 0;
			die("control socket closed");
		}
		c->len += r;
	}
	n = nl - c->buf;
	memcpy(line, c->buf, n);
	line[n] = '\0';
	memmove(c->buf, nl + 1, c->len - n - 1);
	c->len -= n + 1;
	return (line);
}

/* A control reply: dies unless it holds "ok":true. */
static char *
ctl_ok(struct ctl *c, const char *what)
{
	char	*l = ctl_line(c);

	if (strstr(l, "\"ok\":true") == NULL) {
		errno = 0;
		die("%s: %s", what, l);
	}
	return (l);
}

/* The number after "KEY": in s, from, or -1. */
static long long
json_num(const char *s, const char *key, const char **end)
{
	char		 pat[64];
	const char	*p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	if ((p = strstr(s, pat)) == NULL)
		return (-1);
	p += strlen(pat);
	if (end != NULL)
		*end = p;
	return (strtoll(p, NULL, 10));
}

static int
cmp(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return (x < y ? -1 : x > y);
}

/*
 * "sample NAME I MS" for each, in order, then "NAME p50 p99 max count",
 * in ms; nearest rank.
 */
static void
report(const char *name, double *v, int n)
{
	int	 i, i50, i99;

	for (i = 0; i < n; i++)
		printf("sample %s %d %.3f\n", name, i + 1, v[i] * 1e3);
	qsort(v, n, sizeof(*v), cmp);
	i50 = (n + 1) / 2 - 1;
	i99 = (int)((n * 99 + 99) / 100) - 1;
	printf("%s %.3f %.3f %.3f %d\n", name, v[i50] * 1e3, v[i99] * 1e3,
	    v[n - 1] * 1e3, n);
	fflush(stdout);
}

/* A client's whole answer (the proxy closes), NUL-terminated. */
static char *
read_answer(int fd, char *buf, size_t size)
{
	size_t	 got = 0;
	ssize_t	 n;

	for (;;) {
		wait_fd(fd, POLLIN, "the proxy's answer");
		if ((n = read(fd, buf + got, size - 1 - got)) == -1) {
			if (errno == ECONNRESET)
				break;
			die("read");
		}
		if (n == 0)
			break;
		got += n;
		if (got == size - 1)
			break;
	}
	buf[got] = '\0';
	return (buf);
}

static int
hold(int proxyport, int count, const char *target, const char *sock)
{
	struct ctl	 c;
	struct pollfd	*pfd;
	char		 req[512], buf[4096], *l;
	const char	*p;
	long long	 id = -1, waiting = -1;
	double		 t0;
	int		*fds, i, n, denied = 0;

	nofile_max();
	if ((fds = calloc(count, sizeof(*fds))) == NULL ||
	    (pfd = calloc(count, sizeof(*pfd))) == NULL)
		die("calloc");
	ctl_open(&c, sock);
	n = snprintf(req, sizeof(req), "CONNECT %s HTTP/1.1\r\nHost: %s\r\n"
	    "\r\n", target, target);
	for (i = 0; i < count; i++) {
		fds[i] = tcp_connect(proxyport);
		write_all(fds[i], req, n);
	}
	/* Held: one question, all waiting. */
	snprintf(req, sizeof(req), "{\"command\":\"asks\",\"listener\":"
	    "\"127.0.0.1:%d\"}\n", proxyport);
	t0 = now();
	for (;;) {
		write_all(c.fd, req, strlen(req));
		l = ctl_ok(&c, "asks");
		if ((id = json_num(l, "id", &p)) != -1 &&
		    (waiting = json_num(p, "waiting", NULL)) == count) {
			if (json_num(p, "id", NULL) != -1) {
				errno = 0;
				die("more than one question: %s", l);
			}
			break;
		}
		if (now() - t0 > TIMEOUT_MS / 1000) {
			errno = 0;
			die("%lld of %d held after %d s: %s", waiting, count,
			    TIMEOUT_MS / 1000, l);
		}
		usleep(50000);
	}
	/* Nobody has an answer yet. */
	for (i = 0; i < count; i++) {
		pfd[i].fd = fds[i];
		pfd[i].events = POLLIN;
	}
	if ((n = poll(pfd, count, 0)) != 0) {
		for (i = 0; i < count && pfd[i].revents == 0; i++)
			;
		errno = 0;
		die("%d clients have an answer while held; one: %s", n,
		    i < count ? read_answer(fds[i], buf, sizeof(buf)) : "?");
	}
	printf("ready %lld\n", id);
	fflush(stdout);
	while (read(0, buf, sizeof(buf)) > 0)
		;
	/* Still held: the denial reaches every one of them. */
	snprintf(req, sizeof(req), "{\"command\":\"approve\",\"id\":%lld,"
	    "\"decision\":\"deny\"}\n", id);
	write_all(c.fd, req, strlen(req));
	l = ctl_ok(&c, "approve deny");
	if ((waiting = json_num(l, "waiting", NULL)) != count) {
		errno = 0;
		die("%lld of %d were still held: %s", waiting, count, l);
	}
	for (i = 0; i < count; i++) {
		read_answer(fds[i], buf, sizeof(buf));
		if (strncmp(buf, "HTTP/1.1 403", 12) == 0 &&
		    strcasestr(buf, "X-Sbx-Block: denied") != NULL)
			denied++;
		else if (denied == i)
			fprintf(stderr, "askbench: a held client got: %.200s\n",
			    buf);
		close(fds[i]);
	}
	printf("denied %d\n", denied);
	return (denied == count ? 0 : 1);
}

/*
 * The upstream.  upstream_first: wait for the proxy's connection on l
 * and the first bytes of the request on it; the connection, and the
 * time they arrived in *t1.  upstream_finish: read the rest of the
 * head, answer, close.
 */
static char	 up_buf[8192];
static size_t	 up_got;

static int
upstream_read(int fd)
{
	ssize_t	 n;

	wait_fd(fd, POLLIN, "the forwarded request");
	if ((n = read(fd, up_buf + up_got, sizeof(up_buf) - 1 - up_got)) <=
	    0) {
		if (n == 0)
			errno = 0;
		die("the proxy's upstream connection closed");
	}
	up_got += n;
	up_buf[up_got] = '\0';
	return (strstr(up_buf, "\r\n\r\n") != NULL);
}

static int
upstream_first(int l, double *t1)
{
	int	 fd;

	wait_fd(l, POLLIN, "the upstream connection");
	if ((fd = accept(l, NULL, NULL)) == -1)
		die("accept");
	up_got = 0;
	upstream_read(fd);
	*t1 = now();
	return (fd);
}

static void
upstream_finish(int fd)
{
	static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
	    "Connection: close\r\n\r\nok";

	while (strstr(up_buf, "\r\n\r\n") == NULL) {
		if (up_got == sizeof(up_buf) - 1) {
			errno = 0;
			die("forwarded head too long");
		}
		upstream_read(fd);
	}
	write_all(fd, resp, sizeof(resp) - 1);
	close(fd);
}

/* The client's answer must be the upstream's. */
static void
client_done(int fd, const char *host)
{
	char	 buf[4096];

	read_answer(fd, buf, sizeof(buf));
	if (strncmp(buf, "HTTP/1.1 200", 12) != 0 ||
	    strstr(buf, "\r\n\r\nok") == NULL) {
		errno = 0;
		die("%s: the client got: %.300s", host, buf);
	}
	close(fd);
}

static int
get_request(char *buf, size_t size, const char *host, int port)
{
	return (snprintf(buf, size, "GET http://%s:%d/ HTTP/1.1\r\n"
	    "Host: %s:%d\r\nUser-Agent: askbench\r\nConnection: close\r\n\r\n",
	    host, port, host, port));
}

static int
latency(int argc, char *argv[])
{
	struct ctl	 ev, c;
	struct pollfd	 pfd[2];
	const char	*sock = argv[0], *basehost = argv[5];
	char		 req[1024], host[64], *l;
	double		*v_ctl, *v_base, *v_ask, *v_event, *v_reply;
	double		 t0, tw, t1, t2;
	long long	 id;
	int		 upport, q, r, baseport, nports, *ports;
	int		 i, n, fd, lfd, ufd = -1;

	upport = atoi(argv[1]);
	q = atoi(argv[2]);
	r = atoi(argv[3]);
	baseport = atoi(argv[4]);
	nports = argc - 6;
	if (q < 1 || r < 1 || nports < 1 || q > nports * 10) {
		errno = 0;
		die("latency: Q from 1 to 10 per listener, R from 1");
	}
	if ((ports = calloc(nports, sizeof(*ports))) == NULL)
		die("calloc");
	for (i = 0; i < nports; i++)
		ports[i] = atoi(argv[6 + i]);
	if ((v_ctl = calloc(r, sizeof(double))) == NULL ||
	    (v_base = calloc(q, sizeof(double))) == NULL ||
	    (v_ask = calloc(q, sizeof(double))) == NULL ||
	    (v_event = calloc(q, sizeof(double))) == NULL ||
	    (v_reply = calloc(q, sizeof(double))) == NULL)
		die("calloc");
	lfd = tcp_listen(upport);

	/* A follower of the questions, and a connection for requests. */
	ctl_open(&ev, sock);
	n = snprintf(req, sizeof(req), "{\"command\":\"events\",\"type\":"
	    "\"proxy.ask\",\"follow\":true}\n");
	write_all(ev.fd, req, n);
	ctl_ok(&ev, "events");
	ctl_open(&c, sock);

	/* The control round trip alone. */
	n = snprintf(req, sizeof(req), "{\"command\":\"asks\"}\n");
	for (i = 0; i < r; i++) {
		t0 = now();
		write_all(c.fd, req, n);
		ctl_ok(&c, "asks");
		v_ctl[i] = now() - t0;
	}
	report("ctl", v_ctl, r);

	/* The baseline: a rule allows the host from the start. */
	for (i = 0; i < q; i++) {
		fd = tcp_connect(baseport);
		n = get_request(req, sizeof(req), basehost, upport);
		t0 = now();
		write_all(fd, req, n);
		ufd = upstream_first(lfd, &t1);
		v_base[i] = t1 - t0;
		upstream_finish(ufd);
		client_done(fd, basehost);
	}
	report("base", v_base, q);

	/* Held, then approved once. */
	for (i = 0; i < q; i++) {
		snprintf(host, sizeof(host), "h%d.test", i + 1);
		fd = tcp_connect(ports[i % nports]);
		n = get_request(req, sizeof(req), host, upport);
		tw = now();
		write_all(fd, req, n);
		l = ctl_line(&ev);
		t0 = now();
		v_event[i] = t0 - tw;
		snprintf(req, sizeof(req), "\"host\":\"%s\"", host);
		if (strstr(l, "\"type\":\"proxy.ask\"") == NULL ||
		    strstr(l, req) == NULL ||
		    (id = json_num(l, "id", NULL)) == -1) {
			errno = 0;
			die("%s: not its question: %s", host, l);
		}
		n = snprintf(req, sizeof(req), "{\"command\":\"approve\","
		    "\"id\":%lld,\"decision\":\"once\"}\n", id);
		t0 = now();
		write_all(c.fd, req, n);
		/* Whichever comes first: the reply or the connection. */
		t1 = t2 = 0;
		pfd[0].fd = c.fd;
		pfd[0].events = POLLIN;
		pfd[1].fd = lfd;
		pfd[1].events = POLLIN;
		while (t1 == 0 || t2 == 0) {
			if (t2 == 0 && c.len > 0 && memchr(c.buf, '\n', c.len)
			    != NULL) {
				ctl_ok(&c, "approve");
				t2 = now();
				continue;
			}
			pfd[0].fd = t2 == 0 ? c.fd : -1;
			pfd[1].fd = t1 == 0 ? lfd : -1;
			if ((n = poll(pfd, 2, TIMEOUT_MS)) == -1 &&
			    errno != EINTR)
				die("poll");
			if (n == 0) {
				errno = 0;
				die("%s: no %s after the approval", host,
				    t1 == 0 ? "upstream request" : "reply");
			}
			if (t2 == 0 && pfd[0].revents != 0) {
				ctl_ok(&c, "approve");
				t2 = now();
			}
			if (t1 == 0 && pfd[1].revents != 0)
				ufd = upstream_first(lfd, &t1);
		}
		upstream_finish(ufd);
		v_ask[i] = t1 - t0;
		v_reply[i] = t2 - t0;
		client_done(fd, host);
	}
	report("ask", v_ask, q);
	report("event", v_event, q);
	report("reply", v_reply, q);
	return (0);
}

int
main(int argc, char *argv[])
{
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 6 && strcmp(argv[1], "hold") == 0)
		return (hold(atoi(argv[2]), atoi(argv[3]), argv[4], argv[5]));
	if (argc >= 9 && strcmp(argv[1], "latency") == 0)
		return (latency(argc - 2, argv + 2));
	fprintf(stderr, "usage: askbench hold PROXYPORT N HOST:PORT SOCK\n"
	    "       askbench latency SOCK UPPORT Q R BASEPORT BASEHOST "
	    "PORT...\n");
	return (1);
}
