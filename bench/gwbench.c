/*
 * gwbench.c: the HTTP client of bench/gateway.sh.  It sends one fixed
 * request, read from a file (a complete HTTP/1.1 request with
 * Content-Length), over keep-alive connections, in plain text or over
 * TLS (OpenSSL, verifying the server against GWBENCH_CAFILE when it is
 * set), and reads whole responses, framed by Content-Length or chunked.
 *
 *   gwbench rps HOST PORT TLS CONC SECONDS REQFILE
 *	CONC connections, one thread each, send the request back to back
 *	for SECONDS.  Prints "requests R total A seconds S rps X errors
 *	E": R answers of status 200 completed within the SECONDS, A all
 *	those completed (the ones under way at the end are finished, and
 *	CPU is charged per A), E errors (another status, a closed or
 *	stalled connection, bad framing; the connection is opened anew).
 *
 *   gwbench ttfb HOST PORT TLS N REQFILE
 *	N requests for an SSE stream, one after another on one
 *	connection, after GW_WARMUP untimed ones.  Each is timed from just
 *	before its write to the read that brings the start of its first
 *	event ("data:" or "event:" at the start of a line of the body, the
 *	framing taken off) and to the end of the body.  Prints "first P50
 *	P99 end P50 P99 events E eventsps X n N", times in microseconds,
 *	E the events of one response (blank-line terminated) and X all
 *	events over the time spent in all responses.
 *
 *   gwbench once HOST PORT TLS REQFILE
 *	One request; prints the status line and the body.  Exits 1 unless
 *	the status is 200.
 */

#define _GNU_SOURCE

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define GW_BUF_SIZE	65536	/* read buffer; a head must fit */
#define GW_IO_TIMEOUT	10	/* seconds without a byte: a stall */
#define GW_CONC_MAX	256	/* connections of one rps run */
#define GW_WARMUP	20	/* untimed requests before a ttfb run */
#define GW_SSE_PREFIX	6	/* strlen("event:"), the longest marker */

/* One keep-alive connection and what was read on it but not used. */
struct gw_conn {
	int	 gc_fd;
	SSL	*gc_ssl;
	char	 gc_buf[GW_BUF_SIZE];
	size_t	 gc_off;		/* first unused byte */
	size_t	 gc_len;		/* end of what was read */
	double	 gc_tread;		/* when the last read returned */
};

/* What reading one response found. */
struct gw_resp {
	int	 gr_status;
	int	 gr_close;		/* "Connection: close", or no
					   framing: read to the end */
	size_t	 gr_body;		/* body bytes, framing taken off */
	int	 gr_events;		/* blank lines ending an event */
	int	 gr_nl;			/* the last byte was a newline */
	int	 gr_bol;		/* at the start of a line */
	char	 gr_pre[GW_SSE_PREFIX];
	size_t	 gr_npre;
	double	 gr_tfirst;		/* first event seen; 0 if none */
	char	*gr_save;		/* the body is kept here if set */
	size_t	 gr_savesize;
	int	 gr_print;		/* print the status line */
};

/* One rps thread's connection and counts. */
struct gw_worker {
	pthread_t	 gw_thread;
	struct gw_conn	*gw_conn;
	long		 gw_in;		/* 200s before the end */
	long		 gw_all;	/* every response completed */
	long		 gw_errors;
};

static const char	*host;
static int		 port;
static int		 tls;
static SSL_CTX		*ctx;
static char		*req;
static size_t		 reqlen;
static int		 stop;
static pthread_barrier_t barrier;
static pthread_mutex_t	 errlock = PTHREAD_MUTEX_INITIALIZER;
static int		 errshown;

static void	die(const char *, ...)
		    __attribute__((__noreturn__, __format__ (printf, 1, 2)));
static double	now(void);
static void	tls_init(void);
static int	conn_open(struct gw_conn *);
static void	conn_close(struct gw_conn *);
static int	conn_write(struct gw_conn *, const char *, size_t);
static int	conn_fill(struct gw_conn *);
static char	*conn_line(struct gw_conn *);
static void	body_feed(struct gw_resp *, const char *, size_t, double);
static int	resp_head(struct gw_conn *, struct gw_resp *, long long *,
		    int *);
static int	resp_chunked(struct gw_conn *, struct gw_resp *);
static int	resp_length(struct gw_conn *, struct gw_resp *, long long);
static int	resp_read(struct gw_conn *, struct gw_resp *);
static void	req_load(const char *);
static void	*rps_worker(void *);
static void	err_show(const char *, struct gw_resp *);
static int	rps(int, int);
static int	ttfb(int);
static int	once(void);
static int	cmp(const void *, const void *);
static void	usage(void);

static void
die(const char *fmt, ...)
{
	va_list	 ap;
	int	 e = errno;

	fprintf(stderr, "gwbench: ");
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
tls_init(void)
{
	const char	*ca = getenv("GWBENCH_CAFILE");

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		die("SSL_CTX_new");
	if (ca != NULL && *ca != '\0') {
		if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
			errno = 0;
			die("%s: %s", ca,
			    ERR_error_string(ERR_get_error(), NULL));
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
}

/* Connect, and shake hands if TLS; 0 or -1 (errno or the SSL queue). */
static int
conn_open(struct gw_conn *c)
{
	struct sockaddr_in	 sin;
	struct timeval		 tv = { GW_IO_TIMEOUT, 0 };
	int			 one = 1;

	c->gc_fd = -1;
	c->gc_ssl = NULL;
	c->gc_off = c->gc_len = 0;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
		errno = EINVAL;
		return (-1);
	}
	if ((c->gc_fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return (-1);
	setsockopt(c->gc_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(c->gc_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->gc_fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(c->gc_fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		goto fail;
	if (!tls)
		return (0);
	if ((c->gc_ssl = SSL_new(ctx)) == NULL ||
	    SSL_set_fd(c->gc_ssl, c->gc_fd) != 1 ||
	    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->gc_ssl),
	    host) != 1 ||
	    SSL_connect(c->gc_ssl) != 1)
		goto fail;
	return (0);
fail:
	conn_close(c);
	return (-1);
}

static void
conn_close(struct gw_conn *c)
{
	if (c->gc_ssl != NULL) {
		SSL_free(c->gc_ssl);
		c->gc_ssl = NULL;
	}
	if (c->gc_fd != -1) {
		close(c->gc_fd);
		c->gc_fd = -1;
	}
	c->gc_off = c->gc_len = 0;
}

static int
conn_write(struct gw_conn *c, const char *p, size_t n)
{
	ssize_t	 w;
	int	 r;

	while (n > 0) {
		if (c->gc_ssl != NULL) {
			if ((r = SSL_write(c->gc_ssl, p, n)) <= 0)
				return (-1);
			w = r;
		} else if ((w = write(c->gc_fd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		p += w;
		n -= w;
	}
	return (0);
}

/*
 * Read more after what is buffered, moving the unused part to the front
 * first; the bytes read, 0 at the end of the stream, -1 on an error or
 * a stall of GW_IO_TIMEOUT.
 */
static int
conn_fill(struct gw_conn *c)
{
	ssize_t	 n;
	int	 r;

	if (c->gc_off > 0) {
		memmove(c->gc_buf, c->gc_buf + c->gc_off,
		    c->gc_len - c->gc_off);
		c->gc_len -= c->gc_off;
		c->gc_off = 0;
	}
	if (c->gc_len == sizeof(c->gc_buf)) {
		errno = EMSGSIZE;
		return (-1);
	}
	for (;;) {
		if (c->gc_ssl != NULL) {
			r = SSL_read(c->gc_ssl, c->gc_buf + c->gc_len,
			    sizeof(c->gc_buf) - c->gc_len);
			if (r <= 0) {
				if (SSL_get_error(c->gc_ssl, r) ==
				    SSL_ERROR_ZERO_RETURN)
					return (0);
				return (-1);
			}
			n = r;
		} else if ((n = read(c->gc_fd, c->gc_buf + c->gc_len,
		    sizeof(c->gc_buf) - c->gc_len)) == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		break;
	}
	c->gc_tread = now();
	c->gc_len += n;
	return (n);
}

/* The next CRLF-ended line, NUL-terminated in place, or NULL. */
static char *
conn_line(struct gw_conn *c)
{
	char	*p, *l;

	while ((p = memmem(c->gc_buf + c->gc_off, c->gc_len - c->gc_off,
	    "\r\n", 2)) == NULL)
		if (conn_fill(c) <= 0)
			return (NULL);
	l = c->gc_buf + c->gc_off;
	*p = '\0';
	c->gc_off = p + 2 - c->gc_buf;
	return (l);
}

/*
 * Body bytes that arrived at t: count them, count the events they end,
 * and note when the first event starts.
 */
static void
body_feed(struct gw_resp *r, const char *p, size_t n, double t)
{
	size_t	 i, k;
	char	 ch;

	if (r->gr_save != NULL && r->gr_body < r->gr_savesize) {
		k = r->gr_savesize - r->gr_body;
		memcpy(r->gr_save + r->gr_body, p, n < k ? n : k);
	}
	r->gr_body += n;
	for (i = 0; i < n; i++) {
		if ((ch = p[i]) == '\r')
			continue;
		if (ch == '\n') {
			if (r->gr_nl)
				r->gr_events++;
			r->gr_nl = r->gr_bol = 1;
			r->gr_npre = 0;
			continue;
		}
		r->gr_nl = 0;
		if (!r->gr_bol || r->gr_tfirst != 0)
			continue;
		r->gr_pre[r->gr_npre++] = ch;
		if ((r->gr_npre == 5 &&
		    memcmp(r->gr_pre, "data:", 5) == 0) ||
		    (r->gr_npre == 6 && memcmp(r->gr_pre, "event:", 6) == 0))
			r->gr_tfirst = t;
		else if (r->gr_npre == GW_SSE_PREFIX ||
		    (memcmp(r->gr_pre, "data:", r->gr_npre) != 0 &&
		    memcmp(r->gr_pre, "event:", r->gr_npre) != 0))
			r->gr_bol = 0;
	}
}

/* The status line and header fields; the framing in *len or *chunked. */
static int
resp_head(struct gw_conn *c, struct gw_resp *r, long long *len, int *chunked)
{
	char	*l, *v;

	*len = -1;
	*chunked = 0;
	if ((l = conn_line(c)) == NULL)
		return (-1);
	if (strncmp(l, "HTTP/1.", 7) != 0 || strlen(l) < 12)
		return (-1);
	r->gr_status = atoi(l + 9);
	if (r->gr_print)
		printf("%s\n", l);
	while ((l = conn_line(c)) != NULL && *l != '\0') {
		if ((v = strchr(l, ':')) == NULL)
			return (-1);
		*v++ = '\0';
		v += strspn(v, " \t");
		if (strcasecmp(l, "content-length") == 0)
			*len = strtoll(v, NULL, 10);
		else if (strcasecmp(l, "transfer-encoding") == 0 &&
		    strcasestr(v, "chunked") != NULL)
			*chunked = 1;
		else if (strcasecmp(l, "connection") == 0 &&
		    strcasestr(v, "close") != NULL)
			r->gr_close = 1;
	}
	return (l == NULL ? -1 : 0);
}

static int
resp_chunked(struct gw_conn *c, struct gw_resp *r)
{
	unsigned long long	 size;
	size_t			 k;
	char			*l, *end;

	for (;;) {
		if ((l = conn_line(c)) == NULL)
			return (-1);
		size = strtoull(l, &end, 16);
		if (end == l)
			return (-1);
		if (size == 0)
			break;
		while (size > 0) {
			if (c->gc_off == c->gc_len && conn_fill(c) <= 0)
				return (-1);
			k = c->gc_len - c->gc_off;
			if (k > size)
				k = size;
			body_feed(r, c->gc_buf + c->gc_off, k, c->gc_tread);
			c->gc_off += k;
			size -= k;
		}
		if ((l = conn_line(c)) == NULL || *l != '\0')
			return (-1);
	}
	/* Trailer fields, then the blank line. */
	while ((l = conn_line(c)) != NULL && *l != '\0')
		;
	return (l == NULL ? -1 : 0);
}

/* A body of len bytes, or to the end of the stream if len is -1. */
static int
resp_length(struct gw_conn *c, struct gw_resp *r, long long len)
{
	size_t	 k;
	int	 n;

	while (len != 0) {
		if (c->gc_off == c->gc_len) {
			if ((n = conn_fill(c)) < 0)
				return (-1);
			if (n == 0)
				return (len == -1 ? 0 : -1);
		}
		k = c->gc_len - c->gc_off;
		if (len != -1 && (long long)k > len)
			k = len;
		body_feed(r, c->gc_buf + c->gc_off, k, c->gc_tread);
		c->gc_off += k;
		if (len != -1)
			len -= k;
	}
	return (0);
}

/*
 * One whole response: 0, with gr_close set if the connection is of no
 * more use, or -1 if it could not be read whole.
 */
static int
resp_read(struct gw_conn *c, struct gw_resp *r)
{
	long long	 len;
	int		 chunked;

	r->gr_status = r->gr_close = 0;
	r->gr_body = 0;
	r->gr_events = r->gr_nl = 0;
	r->gr_bol = 1;
	r->gr_npre = 0;
	r->gr_tfirst = 0;
	if (resp_head(c, r, &len, &chunked) == -1)
		return (-1);
	if (chunked) {
		if (resp_chunked(c, r) == -1)
			return (-1);
	} else {
		if (len == -1)
			r->gr_close = 1;
		if (resp_length(c, r, len) == -1)
			return (-1);
	}
	return (0);
}

static void
req_load(const char *path)
{
	struct stat	 st;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY)) == -1 || fstat(fd, &st) == -1)
		die("%s", path);
	if ((req = malloc(st.st_size + 1)) == NULL)
		die("malloc");
	if ((n = read(fd, req, st.st_size)) != st.st_size)
		die("%s: short read", path);
	reqlen = n;
	req[n] = '\0';
	close(fd);
	if (strstr(req, "\r\n\r\n") == NULL) {
		errno = 0;
		die("%s: not an HTTP request (no CRLF CRLF)", path);
	}
}

/* The first error of a run, on stderr, with what came back. */
static void
err_show(const char *what, struct gw_resp *r)
{
	pthread_mutex_lock(&errlock);
	if (!errshown) {
		errshown = 1;
		fprintf(stderr, "gwbench: first error: %s (status %d, %zu "
		    "body bytes%s)\n", what, r->gr_status, r->gr_body,
		    r->gr_save != NULL ? ": " : "");
		if (r->gr_save != NULL)
			fprintf(stderr, "%.*s\n", (int)(r->gr_body <
			    r->gr_savesize ? r->gr_body : r->gr_savesize),
			    r->gr_save);
	}
	pthread_mutex_unlock(&errlock);
}

static void *
rps_worker(void *arg)
{
	struct gw_worker	*w = arg;
	struct gw_conn		*c = w->gw_conn;
	struct gw_resp		 r;
	char			 save[512];
	int			 up;

	memset(&r, 0, sizeof(r));
	r.gr_save = save;
	r.gr_savesize = sizeof(save);
	up = conn_open(c) == 0;
	if (!up) {
		w->gw_errors++;
		err_show("connect", &r);
	}
	pthread_barrier_wait(&barrier);
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		if (!up) {
			if (conn_open(c) == -1) {
				w->gw_errors++;
				usleep(10000);
				continue;
			}
			up = 1;
		}
		if (conn_write(c, req, reqlen) == -1) {
			w->gw_errors++;
			err_show("write", &r);
			conn_close(c);
			up = 0;
			continue;
		}
		if (resp_read(c, &r) == -1) {
			w->gw_errors++;
			err_show("read", &r);
			conn_close(c);
			up = 0;
			continue;
		}
		if (r.gr_close) {
			conn_close(c);
			up = 0;
		}
		w->gw_all++;
		if (r.gr_status != 200) {
			w->gw_errors++;
			err_show("status", &r);
		} else if (!__atomic_load_n(&stop, __ATOMIC_RELAXED))
			w->gw_in++;
	}
	conn_close(c);
	return (NULL);
}

static int
rps(int conc, int secs)
{
	struct gw_worker	*w;
	double			 t0, t1;
	long			 in = 0, all = 0, errors = 0;
	int			 i;

	if (conc < 1 || conc > GW_CONC_MAX || secs < 1)
		usage();
	if ((w = calloc(conc, sizeof(*w))) == NULL)
		die("calloc");
	pthread_barrier_init(&barrier, NULL, conc + 1);
	for (i = 0; i < conc; i++) {
		if ((w[i].gw_conn = malloc(sizeof(*w[i].gw_conn))) == NULL)
			die("malloc");
		if ((errno = pthread_create(&w[i].gw_thread, NULL, rps_worker,
		    &w[i])) != 0)
			die("pthread_create");
	}
	pthread_barrier_wait(&barrier);
	t0 = now();
	sleep(secs);
	t1 = now();
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < conc; i++) {
		pthread_join(w[i].gw_thread, NULL);
		in += w[i].gw_in;
		all += w[i].gw_all;
		errors += w[i].gw_errors;
		free(w[i].gw_conn);
	}
	printf("requests %ld total %ld seconds %.3f rps %.0f errors %ld\n",
	    in, all, t1 - t0, in / (t1 - t0), errors);
	free(w);
	return (0);
}

static int
cmp(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return (x < y ? -1 : x > y);
}

static int
ttfb(int n)
{
	struct gw_conn	*c;
	struct gw_resp	 r;
	double		*first, *end, t0, busy = 0;
	long		 events = 0;
	char		 save[512];
	int		 i, i50, i99;

	if (n < 1)
		usage();
	if ((c = malloc(sizeof(*c))) == NULL ||
	    (first = calloc(n, sizeof(*first))) == NULL ||
	    (end = calloc(n, sizeof(*end))) == NULL)
		die("malloc");
	memset(&r, 0, sizeof(r));
	r.gr_save = save;
	r.gr_savesize = sizeof(save);
	if (conn_open(c) == -1)
		die("connect to %s:%d%s", host, port,
		    tls ? " (TLS)" : "");
	for (i = -GW_WARMUP; i < n; i++) {
		t0 = now();
		if (conn_write(c, req, reqlen) == -1)
			die("request %d: write", i);
		if (resp_read(c, &r) == -1 || r.gr_close ||
		    r.gr_status != 200 || r.gr_tfirst == 0) {
			errno = 0;
			err_show("ttfb", &r);
			die("request %d: status %d, %zu body bytes, %s", i,
			    r.gr_status, r.gr_body, r.gr_tfirst == 0 ?
			    "no event" : "connection lost or closed");
		}
		if (i < 0)
			continue;
		first[i] = (r.gr_tfirst - t0) * 1e6;
		end[i] = (c->gc_tread - t0) * 1e6;
		busy += c->gc_tread - t0;
		events += r.gr_events;
	}
	conn_close(c);
	qsort(first, n, sizeof(*first), cmp);
	qsort(end, n, sizeof(*end), cmp);
	i50 = (n + 1) / 2 - 1;
	i99 = (n * 99 + 99) / 100 - 1;
	printf("first %.0f %.0f end %.0f %.0f events %d eventsps %.0f n %d\n",
	    first[i50], first[i99], end[i50], end[i99], r.gr_events,
	    events / busy, n);
	free(first);
	free(end);
	free(c);
	return (0);
}

static int
once(void)
{
	struct gw_conn	*c;
	struct gw_resp	 r;
	char		 save[GW_BUF_SIZE];

	if ((c = malloc(sizeof(*c))) == NULL)
		die("malloc");
	memset(&r, 0, sizeof(r));
	r.gr_save = save;
	r.gr_savesize = sizeof(save);
	r.gr_print = 1;
	if (conn_open(c) == -1)
		die("connect to %s:%d%s", host, port,
		    tls ? " (TLS)" : "");
	if (conn_write(c, req, reqlen) == -1)
		die("write");
	if (resp_read(c, &r) == -1) {
		errno = 0;
		die("no whole response (status %d, %zu body bytes)",
		    r.gr_status, r.gr_body);
	}
	fwrite(save, 1, r.gr_body < sizeof(save) ? r.gr_body : sizeof(save),
	    stdout);
	printf("\n");
	conn_close(c);
	free(c);
	return (r.gr_status == 200 ? 0 : 1);
}

static void
usage(void)
{
	fprintf(stderr, "usage: gwbench rps host port tls conc seconds "
	    "reqfile\n"
	    "       gwbench ttfb host port tls n reqfile\n"
	    "       gwbench once host port tls reqfile\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	if (argc < 6)
		usage();
	signal(SIGPIPE, SIG_IGN);
	host = argv[2];
	port = atoi(argv[3]);
	tls = atoi(argv[4]);
	if (tls)
		tls_init();
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(argv[1], "rps") == 0 && argc == 8) {
		req_load(argv[7]);
		return (rps(atoi(argv[5]), atoi(argv[6])));
	}
	if (strcmp(argv[1], "ttfb") == 0 && argc == 7) {
		req_load(argv[6]);
		return (ttfb(atoi(argv[5])));
	}
	if (strcmp(argv[1], "once") == 0 && argc == 6) {
		req_load(argv[5]);
		return (once());
	}
	usage();
}
