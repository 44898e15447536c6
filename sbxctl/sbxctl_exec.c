/*
 * sbxctl_exec.c: "sbxctl exec", the client side.  It sends the exec
 * request, reads the one JSON reply line, then relays with poll(2):
 * stdin in STDIN frames (its end in STDIN_EOF), STDOUT and STDERR frames
 * to our stdout and stderr, window size changes in WINSIZE frames, until
 * the EXIT frame, whose status becomes ours.  With a pty the local
 * terminal is raw until we return, whichever way we return.  The frames
 * are described in sbxd_proto.h.
 */

#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"
#include "sbxd_proto.h"
#include "sbxctl.h"

#define SBXCTL_EXEC_USAGE	"name [-t | -T] [-- command [arg ...]]"
#define SBXCTL_EXEC_LOST	255	/* no status: the connection broke
					   (ssh's convention) */
#define SBXCTL_EXEC_SPARE	64	/* outgoing room kept for WINSIZE and
					   STDIN_EOF beside a STDIN frame */

/* The connection and both directions' buffers. */
struct sbxctl_exec {
	int		 x_fd;
	int		 x_tty;
	int		 x_stdin;	/* still reading stdin */
	int		 x_winch;	/* a WINSIZE frame is due */
	int		 x_status;	/* -1 until EXIT */
	uint8_t		 x_in[SANDBOX_EXEC_HDR + SANDBOX_EXEC_FRAME_MAX];
	size_t		 x_inlen;
	uint8_t		 x_out[SANDBOX_EXEC_HDR +
			    SANDBOX_EXEC_FRAME_MAX + SBXCTL_EXEC_SPARE];
	size_t		 x_outoff;
	size_t		 x_outlen;
};

static struct sbxctl_exec	 sbxctl_exec_conn;
static struct termios		 sbxctl_exec_tio;	/* to restore */
static int			 sbxctl_exec_raw;	/* terminal is raw */
static int			 sbxctl_exec_sigfd[2] = { -1, -1 };

static void	 sbxctl_exec_usage(void) __attribute__((__noreturn__));
static json_t	*sbxctl_exec_request(int, char **);
static int	 sbxctl_exec_send(int, json_t *);
static int	 sbxctl_exec_reply(struct sbxctl_exec *);
static int	 sbxctl_exec_signals(int);
static void	 sbxctl_exec_sigcb(int);
static void	 sbxctl_exec_raw_on(void);
static void	 sbxctl_exec_raw_off(void);
static int	 sbxctl_exec_loop(struct sbxctl_exec *);
static int	 sbxctl_exec_signal(struct sbxctl_exec *);
static void	 sbxctl_exec_queue(struct sbxctl_exec *, int, const void *,
		    size_t);
static void	 sbxctl_exec_winsize(struct sbxctl_exec *);
static int	 sbxctl_exec_stdin(struct sbxctl_exec *);
static int	 sbxctl_exec_flush(struct sbxctl_exec *);
static int	 sbxctl_exec_input(struct sbxctl_exec *);
static int	 sbxctl_exec_frames(struct sbxctl_exec *);
static int	 sbxctl_exec_write(int, const uint8_t *, size_t);

/*
 * exec name [-t | -T] [-- command [arg ...]]: run a command, or a login
 * shell, in a sandbox; returns its exit status.
 */
int
sbxctl_exec(const char *sockpath, int argc, char **argv)
{
	struct sbxctl_exec	*x = &sbxctl_exec_conn;
	json_t			*req;
	int			 r;

	if ((req = sbxctl_exec_request(argc, argv)) == NULL) {
		fprintf(stderr, "sbxctl: out of memory\n");
		return (1);
	}
	x->x_tty = json_is_true(json_object_get(req, "tty"));
	x->x_stdin = 1;
	x->x_status = -1;
	signal(SIGPIPE, SIG_IGN);
	if ((x->x_fd = sbxctl_socket(sockpath)) == -1 ||
	    sbxctl_exec_send(x->x_fd, req) == -1) {
		json_decref(req);
		return (1);
	}
	json_decref(req);
	if ((r = sbxctl_exec_reply(x)) != 0)
		return (r);
	if (sbxctl_exec_signals(x->x_tty) == -1) {
		fprintf(stderr, "sbxctl: pipe: %s\n", strerror(errno));
		return (SBXCTL_EXEC_LOST);
	}
	if (x->x_tty && isatty(STDIN_FILENO))
		sbxctl_exec_raw_on();
	r = sbxctl_exec_loop(x);
	sbxctl_exec_raw_off();
	close(x->x_fd);
	return (r);
}

static void
sbxctl_exec_usage(void)
{
	fprintf(stderr, "usage: sbxctl exec %s\n", SBXCTL_EXEC_USAGE);
	exit(1);
}

/*
 * The request from the arguments.  The first word that is not -t or -T
 * is the sandbox's name; the next, or whatever follows "--", starts the
 * command.  A pty by default for a login shell on a terminal.
 */
static json_t *
sbxctl_exec_request(int argc, char **argv)
{
	struct winsize	 ws;
	const char	*name = NULL, *term;
	json_t		*req, *av = NULL;
	int		 i, tty = -1;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "-t") == 0)
			tty = 1;
		else if (strcmp(argv[i], "-T") == 0)
			tty = 0;
		else if (name != NULL && strcmp(argv[i], "--") == 0) {
			i++;
			break;
		} else if (name == NULL && *argv[i] != '-' && *argv[i] != '\0')
			name = argv[i];
		else if (name != NULL && *argv[i] != '-')
			break;
		else
			sbxctl_exec_usage();
	}
	if (name == NULL || (i == argc && i > 0 &&
	    strcmp(argv[i - 1], "--") == 0))
		sbxctl_exec_usage();
	if (i < argc && (av = json_array()) == NULL)
		return (NULL);
	for (; i < argc; i++)
		json_array_append_new(av, json_string(argv[i]));
	if (tty == -1)
		tty = av == NULL && isatty(STDIN_FILENO);
	if ((req = json_pack("{s:s, s:s, s:b}", "command", "exec", "name",
	    name, "tty", tty)) == NULL) {
		json_decref(av);
		return (NULL);
	}
	if (av != NULL)
		json_object_set_new(req, "argv", av);
	if (tty && (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0 ||
	    ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0)) {
		json_object_set_new(req, "rows", json_integer(ws.ws_row));
		json_object_set_new(req, "cols", json_integer(ws.ws_col));
	}
	if (tty && (term = getenv("TERM")) != NULL && *term != '\0')
		json_object_set_new(req, "env", json_pack("{s:s}", "TERM",
		    term));
	return (req);
}

/* The request line, before the socket turns non-blocking. */
static int
sbxctl_exec_send(int fd, json_t *req)
{
	char	*s;
	int	 r;

	if ((s = json_dumps(req, JSON_COMPACT)) == NULL) {
		fprintf(stderr, "sbxctl: out of memory\n");
		return (-1);
	}
	r = sbxctl_exec_write(fd, (uint8_t *)s, strlen(s)) == -1 ||
	    sbxctl_exec_write(fd, (const uint8_t *)"\n", 1) == -1 ? -1 : 0;
	if (r == -1 && sbxctl_refused(fd) == -1)
		fprintf(stderr, "sbxctl: send: %s\n", strerror(errno));
	free(s);
	return (r);
}

/*
 * Read up to the line holding "ok"; bytes after it are frames and stay
 * in x_in.  Returns 0 when the command runs, else 1 with the error told.
 */
static int
sbxctl_exec_reply(struct sbxctl_exec *x)
{
	json_t		*line;
	uint8_t		*nl;
	size_t		 len;
	ssize_t		 n;
	int		 ok;

	for (;;) {
		while ((nl = memchr(x->x_in, '\n', x->x_inlen)) == NULL) {
			if (x->x_inlen == sizeof(x->x_in)) {
				fprintf(stderr, "sbxctl: reply too long\n");
				return (1);
			}
			n = read(x->x_fd, x->x_in + x->x_inlen,
			    sizeof(x->x_in) - x->x_inlen);
			if (n == -1 && errno == EINTR)
				continue;
			if (n <= 0) {
				fprintf(stderr, "sbxctl: sbxd closed the "
				    "connection\n");
				return (1);
			}
			x->x_inlen += n;
		}
		len = nl - x->x_in + 1;
		line = json_loadb((char *)x->x_in, len, 0, NULL);
		x->x_inlen -= len;
		memmove(x->x_in, x->x_in + len, x->x_inlen);
		if (line == NULL) {
			fprintf(stderr, "sbxctl: bad reply from sbxd\n");
			return (1);
		}
		if (json_object_get(line, "ok") != NULL)
			break;
		if (json_string_value(json_object_get(line, "progress")))
			fprintf(stderr, "%s\n", json_string_value(
			    json_object_get(line, "progress")));
		json_decref(line);
	}
	ok = json_is_true(json_object_get(line, "ok"));
	if (!ok)
		fprintf(stderr, "sbxctl: %s\n", json_string_value(
		    json_object_get(line, "error")) != NULL ?
		    json_string_value(json_object_get(line, "error")) :
		    "failed");
	json_decref(line);
	return (ok ? 0 : 1);
}

/* Signals arrive in the poll loop through a pipe. */
static int
sbxctl_exec_signals(int tty)
{
	struct sigaction	 sa;
	int			 i, sigs[] = { SIGINT, SIGTERM, SIGHUP,
				    SIGWINCH };

	if (pipe2(sbxctl_exec_sigfd, O_CLOEXEC | O_NONBLOCK) == -1)
		return (-1);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sbxctl_exec_sigcb;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < 4; i++)
		if (sigs[i] != SIGWINCH || tty)
			sigaction(sigs[i], &sa, NULL);
	return (0);
}

static void
sbxctl_exec_sigcb(int sig)
{
	int		 saved = errno;
	unsigned char	 c = sig;

	(void)write(sbxctl_exec_sigfd[1], &c, 1);
	errno = saved;
}

/* Keys go to the sandbox's pty as typed. */
static void
sbxctl_exec_raw_on(void)
{
	struct termios	 tio;

	if (tcgetattr(STDIN_FILENO, &sbxctl_exec_tio) == -1)
		return;
	tio = sbxctl_exec_tio;
	cfmakeraw(&tio);
	if (tcsetattr(STDIN_FILENO, TCSADRAIN, &tio) == 0) {
		sbxctl_exec_raw = 1;
		atexit(sbxctl_exec_raw_off);
	}
}

static void
sbxctl_exec_raw_off(void)
{
	if (!sbxctl_exec_raw)
		return;
	tcsetattr(STDIN_FILENO, TCSADRAIN, &sbxctl_exec_tio);
	sbxctl_exec_raw = 0;
}

/* Relay until EXIT; returns its status. */
static int
sbxctl_exec_loop(struct sbxctl_exec *x)
{
	struct pollfd	 pfd[3];
	int		 r;

	if (fcntl(x->x_fd, F_SETFL, O_NONBLOCK) == -1 ||
	    sbxctl_exec_frames(x) == -1)
		return (SBXCTL_EXEC_LOST);
	while (x->x_status == -1) {
		if (x->x_winch && sizeof(x->x_out) - x->x_outlen >=
		    SANDBOX_EXEC_HDR + 4)
			sbxctl_exec_winsize(x);
		pfd[0].fd = x->x_fd;
		pfd[0].events = POLLIN | (x->x_outlen > x->x_outoff ?
		    POLLOUT : 0);
		/* Read stdin only once the last frame is out. */
		pfd[1].fd = x->x_stdin && x->x_outlen == 0 ? STDIN_FILENO : -1;
		pfd[1].events = POLLIN;
		pfd[2].fd = sbxctl_exec_sigfd[0];
		pfd[2].events = POLLIN;
		if (poll(pfd, 3, -1) == -1) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "sbxctl: poll: %s\n", strerror(errno));
			return (SBXCTL_EXEC_LOST);
		}
		if ((pfd[2].revents & POLLIN) &&
		    (r = sbxctl_exec_signal(x)) != -1)
			return (r);
		if ((pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    (r = sbxctl_exec_stdin(x)) != 0)
			return (r);
		if ((pfd[0].revents & POLLOUT) && sbxctl_exec_flush(x) == -1)
			return (SBXCTL_EXEC_LOST);
		if ((pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    (r = sbxctl_exec_input(x)) != 0)
			return (r);
	}
	return (x->x_status);
}

/* A signal: a new window size, or the end of us (-1: carry on). */
static int
sbxctl_exec_signal(struct sbxctl_exec *x)
{
	unsigned char	 c;

	while (read(sbxctl_exec_sigfd[0], &c, 1) == 1) {
		if (c == SIGWINCH)
			x->x_winch = 1;
		else
			return (128 + c);
	}
	return (-1);
}

/* Append a frame to the outgoing buffer, which has room for it. */
static void
sbxctl_exec_queue(struct sbxctl_exec *x, int type, const void *data,
    size_t len)
{
	uint8_t	*p = x->x_out + x->x_outlen;

	p[0] = type;
	p[1] = (uint32_t)len >> 24;
	p[2] = (uint32_t)len >> 16;
	p[3] = (uint32_t)len >> 8;
	p[4] = (uint32_t)len;
	if (len > 0 && data != p + SANDBOX_EXEC_HDR)
		memcpy(p + SANDBOX_EXEC_HDR, data, len);
	x->x_outlen += SANDBOX_EXEC_HDR + len;
}

static void
sbxctl_exec_winsize(struct sbxctl_exec *x)
{
	struct winsize	 ws;
	uint8_t		 b[4];

	x->x_winch = 0;
	if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == -1 &&
	    ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == -1)
		return;
	b[0] = ws.ws_row >> 8;
	b[1] = ws.ws_row;
	b[2] = ws.ws_col >> 8;
	b[3] = ws.ws_col;
	sbxctl_exec_queue(x, SANDBOX_EXEC_WINSIZE, b, sizeof(b));
}

/* Stdin into one STDIN frame, read straight into the buffer. */
static int
sbxctl_exec_stdin(struct sbxctl_exec *x)
{
	ssize_t	 n;

	n = read(STDIN_FILENO, x->x_out + x->x_outlen + SANDBOX_EXEC_HDR,
	    SANDBOX_EXEC_FRAME_MAX);
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return (0);
	if (n > 0) {
		sbxctl_exec_queue(x, SANDBOX_EXEC_STDIN,
		    x->x_out + x->x_outlen + SANDBOX_EXEC_HDR, n);
		return (sbxctl_exec_flush(x) == -1 ? SBXCTL_EXEC_LOST : 0);
	}
	/* EOF, or a terminal hung up: either way no more input. */
	x->x_stdin = 0;
	sbxctl_exec_queue(x, SANDBOX_EXEC_STDIN_EOF, NULL, 0);
	return (sbxctl_exec_flush(x) == -1 ? SBXCTL_EXEC_LOST : 0);
}

/* Write what the socket takes now. */
static int
sbxctl_exec_flush(struct sbxctl_exec *x)
{
	ssize_t	 n;

	while (x->x_outoff < x->x_outlen) {
		n = send(x->x_fd, x->x_out + x->x_outoff,
		    x->x_outlen - x->x_outoff, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return (0);
		if (n == -1) {
			/* The daemon closed: its frames may still be due. */
			x->x_outoff = x->x_outlen = 0;
			x->x_stdin = 0;
			return (0);
		}
		x->x_outoff += n;
	}
	x->x_outoff = x->x_outlen = 0;
	return (0);
}

/* Read from the daemon and handle every whole frame. */
static int
sbxctl_exec_input(struct sbxctl_exec *x)
{
	ssize_t	 n;

	n = read(x->x_fd, x->x_in + x->x_inlen,
	    sizeof(x->x_in) - x->x_inlen);
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return (0);
	if (n <= 0) {
		fprintf(stderr, "sbxctl: connection to sbxd lost%s%s\n",
		    n == -1 ? ": " : "", n == -1 ? strerror(errno) : "");
		return (SBXCTL_EXEC_LOST);
	}
	x->x_inlen += n;
	return (sbxctl_exec_frames(x) == -1 ? SBXCTL_EXEC_LOST : 0);
}

static int
sbxctl_exec_frames(struct sbxctl_exec *x)
{
	uint8_t		*p = x->x_in;
	uint32_t	 len;
	size_t		 left = x->x_inlen;

	while (left >= SANDBOX_EXEC_HDR && x->x_status == -1) {
		len = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 |
		    (uint32_t)p[3] << 8 | p[4];
		if (len > SANDBOX_EXEC_FRAME_MAX ||
		    (p[0] != SANDBOX_EXEC_STDOUT &&
		    p[0] != SANDBOX_EXEC_STDERR && p[0] != SANDBOX_EXEC_EXIT) ||
		    (p[0] == SANDBOX_EXEC_EXIT && len != 4)) {
			fprintf(stderr, "sbxctl: bad frame from sbxd (type "
			    "0x%02x, length %lu)\n", p[0], (unsigned long)len);
			return (-1);
		}
		if (left < SANDBOX_EXEC_HDR + len)
			break;
		if (p[0] == SANDBOX_EXEC_EXIT)
			x->x_status = (int)((uint32_t)p[5] << 24 |
			    (uint32_t)p[6] << 16 | (uint32_t)p[7] << 8 | p[8]);
		else if (sbxctl_exec_write(p[0] == SANDBOX_EXEC_STDOUT ?
		    STDOUT_FILENO : STDERR_FILENO, p + SANDBOX_EXEC_HDR,
		    len) == -1) {
			/* A reader went away, as with SIGPIPE. */
			x->x_status = 128 + SIGPIPE;
		}
		p += SANDBOX_EXEC_HDR + len;
		left -= SANDBOX_EXEC_HDR + len;
	}
	memmove(x->x_in, p, left);
	x->x_inlen = left;
	return (0);
}

/* All of buf to fd, waiting if it is non-blocking. */
static int
sbxctl_exec_write(int fd, const uint8_t *buf, size_t len)
{
	struct pollfd	 pfd = { fd, POLLOUT, 0 };
	ssize_t		 n;

	while (len > 0) {
		if ((n = write(fd, buf, len)) == -1) {
			if (errno == EAGAIN)
				(void)poll(&pfd, 1, -1);
			else if (errno != EINTR)
				return (-1);
			continue;
		}
		buf += n;
		len -= n;
	}
	return (0);
}
