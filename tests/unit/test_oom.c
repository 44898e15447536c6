/*
 * test_oom.c: running out of memory while serving a command fails that
 * command, never the daemon.  The real daemon (src/sbxd.c, its main
 * renamed) runs in a child; every allocation of the daemon's own code
 * (malloc and its kin, wrapped by the linker) and of jansson's goes
 * through a counter in memory shared with this process.  For each
 * control command, the test makes the first allocation fail, then the
 * second, and so on, until the command runs without meeting the
 * failure.  After each try the daemon must have answered (ok or an
 * error, or closed the connection) and must answer the next request
 * correctly; a reload that failed must have kept the running config.
 * At the end the daemon must exit 0 on SIGTERM, which under
 * LeakSanitizer also means no error path leaked.
 */

#include <sys/types.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"
#include "sbxd.h"
#include "unit.h"

#define T_REPLY_MS	5000	/* one answer, even a failed one */
#define T_TRIES_MAX	5000	/* allocations one command may make */

int	sbxd_main(int, char *[]);

/* Shared with the daemon child. */
struct oom_state {
	pid_t		 os_pid;	/* the daemon: only it fails */
	long		 os_fail_at;	/* allocation to fail; -1: none */
	long		 os_count;	/* allocations since armed */
	int		 os_failed;	/* the armed one was reached */
};

static struct oom_state	*oom;
static char		*dir;
static char		 sock[256], conf[256], logf[256];
static uid_t	 nobody_uid;	/* the daemon runs as nobody */
static gid_t	 nobody_gid;
static pid_t		 daemon_pid = -1;
static int		 port;

void	*__real_malloc(size_t);
void	*__real_calloc(size_t, size_t);
void	*__real_realloc(void *, size_t);
void	*__real_reallocarray(void *, size_t, size_t);
char	*__real_strdup(const char *);
char	*__real_strndup(const char *, size_t);
int	 __real_vasprintf(char **, const char *, va_list);

/* Whether this allocation, in the daemon, is the one to fail. */
static int
oom_fail(void)
{
	if (oom == NULL || oom->os_fail_at < 0 || oom->os_pid != getpid())
		return (0);
	if (oom->os_count++ != oom->os_fail_at)
		return (0);
	oom->os_failed = 1;
	errno = ENOMEM;
	return (1);
}

void *
__wrap_malloc(size_t n)
{
	return (oom_fail() ? NULL : __real_malloc(n));
}

void *
__wrap_calloc(size_t n, size_t s)
{
	return (oom_fail() ? NULL : __real_calloc(n, s));
}

void *
__wrap_realloc(void *p, size_t n)
{
	return (oom_fail() ? NULL : __real_realloc(p, n));
}

void *
__wrap_reallocarray(void *p, size_t n, size_t s)
{
	return (oom_fail() ? NULL : __real_reallocarray(p, n, s));
}

char *
__wrap_strdup(const char *s)
{
	return (oom_fail() ? NULL : __real_strdup(s));
}

char *
__wrap_strndup(const char *s, size_t n)
{
	return (oom_fail() ? NULL : __real_strndup(s, n));
}

int
__wrap_vasprintf(char **ret, const char *fmt, va_list ap)
{
	if (oom_fail()) {
		*ret = NULL;
		return (-1);
	}
	return (__real_vasprintf(ret, fmt, ap));
}

int
__wrap_asprintf(char **ret, const char *fmt, ...)
{
	va_list	 ap;
	int	 r;

	va_start(ap, fmt);
	r = __wrap_vasprintf(ret, fmt, ap);
	va_end(ap);
	return (r);
}

static void *
json_malloc(size_t n)
{
	return (oom_fail() ? NULL : __real_malloc(n));
}

static void
json_free(void *p)
{
	free(p);
}

static int
write_conf(const char *policy)
{
	char	 text[1024];

	snprintf(text, sizeof(text),
	    "state \"%s/state\"\n"
	    "control socket \"%s\"\n"
	    "policy \"%s\" {\n\tallow \"example.org\" \"*.example.net\"\n"
	    "\tports 80 443\n}\n"
	    "policy \"default\" {\n}\n"
	    "proxy listen on 127.0.0.1 port %d policy \"%s\"\n",
	    dir, sock, policy, port, policy);
	return (unit_write(conf, text));
}

/* A free loopback port, for the daemon's listener. */
static int
free_port(void)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	int			 fd, p = -1;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return (-1);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
		p = ntohs(sin.sin_port);
	close(fd);
	return (p);
}

/* Connect to the control socket, waiting for it to appear. */
static int
ctl_connect(int wait_ms)
{
	struct sockaddr_un	 sun;
	int			 fd, i;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(sock) >= sizeof(sun.sun_path))
		return (-1);
	memcpy(sun.sun_path, sock, strlen(sock) + 1);
	for (i = 0; i <= wait_ms / 20; i++) {
		if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1)
			return (-1);
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
			return (fd);
		close(fd);
		usleep(20000);
	}
	return (-1);
}

/*
 * Send one request line; the last line of the answer, the one with
 * "ok", or NULL if the daemon closed the connection first.  *hung says
 * whether nothing came in time.
 */
static json_t *
ctl_request(const char *line, int *hung)
{
	struct pollfd	 pfd;
	char		 buf[65536], *nl, *start;
	size_t		 len = 0;
	ssize_t		 n;
	json_t		*reply = NULL, *j;
	int		 fd;

	*hung = 0;
	if ((fd = ctl_connect(0)) == -1) {
		*hung = 1;
		return (NULL);
	}
	if (write(fd, line, strlen(line)) != (ssize_t)strlen(line) ||
	    write(fd, "\n", 1) != 1)
		goto done;
	pfd.fd = fd;
	pfd.events = POLLIN;
	for (;;) {
		if (poll(&pfd, 1, T_REPLY_MS) != 1) {
			*hung = 1;
			goto done;
		}
		if ((n = read(fd, buf + len, sizeof(buf) - 1 - len)) <= 0)
			goto done;
		len += n;
		buf[len] = '\0';
		start = buf;
		while ((nl = strchr(start, '\n')) != NULL) {
			*nl = '\0';
			j = json_loads(start, 0, NULL);
			if (json_object_get(j, "ok") != NULL) {
				reply = j;
				goto done;
			}
			json_decref(j);
			start = nl + 1;
		}
		memmove(buf, start, len - (start - buf));
		len -= start - buf;
		if (len == sizeof(buf) - 1)
			goto done;
	}
done:
	close(fd);
	return (reply);
}

static int
daemon_alive(void)
{
	return (daemon_pid > 0 && waitpid(daemon_pid, NULL, WNOHANG) == 0);
}

/* status answers ok with the listener's policy as configured. */
static int
daemon_sound(const char *policy)
{
	json_t		*r, *c, *l;
	size_t		 i, k;
	int		 hung, ok = 0;
	const char	*p;

	if ((r = ctl_request("{\"command\":\"status\"}", &hung)) == NULL)
		return (0);
	json_array_foreach(json_object_get(r, "components"), i, c) {
		json_array_foreach(json_object_get(c, "listeners"), k, l) {
			p = json_string_value(json_object_get(l, "policy"));
			if (p != NULL && strcmp(p, policy) == 0)
				ok = 1;
		}
	}
	ok = ok && json_is_true(json_object_get(r, "ok"));
	json_decref(r);
	return (ok);
}

/* One command to run with each allocation failing in turn. */
struct walk {
	const char	 *w_line;
	void		(*w_before)(void);	/* before each try */
	const char	 *w_failed[2];		/* policies a failed try may
						   leave; NULL: none */
	const char	 *w_clean;		/* the policy after a clean run */
};

/*
 * Run w's line with the 1st, 2nd, ... allocation failing until it runs
 * clean; after each, the daemon answered and still serves.  The number
 * of allocations the command made goes to *allocs.
 */
static int
oom_walk(const struct walk *w, long *allocs)
{
	json_t		*r;
	const char	*why;
	long		 k;
	int		 hung, failed;

	for (k = 0; k < T_TRIES_MAX; k++) {
		if (w->w_before != NULL)
			w->w_before();
		oom->os_count = 0;
		oom->os_failed = 0;
		oom->os_fail_at = k;
		r = ctl_request(w->w_line, &hung);
		oom->os_fail_at = -1;
		failed = oom->os_failed;
		why = NULL;
		if (hung)
			why = "no answer";
		else if (!daemon_alive())
			why = "the daemon died";
		else if (r != NULL && !json_is_boolean(json_object_get(r,
		    "ok")))
			why = "a bad answer";
		else if (!failed && !daemon_sound(w->w_clean))
			why = "a clean run did not apply";
		else if (failed && !daemon_sound(w->w_failed[0]) &&
		    (w->w_failed[1] == NULL || !daemon_sound(w->w_failed[1])))
			why = "the daemon is not sound";
		json_decref(r);
		if (why != NULL) {
			fprintf(stderr, "  %s: %s with allocation %ld "
			    "failing\n", w->w_line, why, k);
			return (-1);
		}
		if (!failed) {
			*allocs = k;
			return (0);
		}
	}
	fprintf(stderr, "  %s: more than %d allocations\n", w->w_line,
	    T_TRIES_MAX);
	return (-1);
}

static int
daemon_start(void)
{
	char	*argv[] = { "sbxd", "-d", "-f", conf, NULL };
	json_t	*r;
	int	 fd, hung, ok;

	if ((daemon_pid = fork()) == -1)
		return (-1);
	if (daemon_pid == 0) {
		if ((fd = open(logf, O_WRONLY | O_CREAT | O_TRUNC, 0600)) != -1)
			dup2(fd, STDERR_FILENO);
		/*
		 * As root, sbxd would run its engine as a program of its
		 * own (privilege separation), out of this walk's reach: run
		 * it as one process, not root, the engine's code alone.
		 */
		if (geteuid() == 0 && (setgroups(0, NULL) == -1 ||
		    setgid(nobody_gid) == -1 || setuid(nobody_uid) == -1))
			_exit(1);
		oom->os_pid = getpid();
		_exit(sbxd_main(4, argv));
	}
	if ((fd = ctl_connect(30000)) == -1)
		return (-1);
	close(fd);
	/*
	 * The socket is there before the daemon's start is over: an
	 * answer comes only from its loop, once every component started,
	 * so that no walk arms a failure inside the start.
	 */
	r = ctl_request("{\"command\":\"status\"}", &hung);
	ok = r != NULL && !hung && json_is_true(json_object_get(r, "ok"));
	json_decref(r);
	return (ok ? 0 : -1);
}

/* SIGTERM: the daemon must stop cleanly (and, with LSan, leak-free). */
static int
daemon_stop(void)
{
	int	 status;

	if (daemon_pid <= 0)
		return (0);
	kill(daemon_pid, SIGTERM);
	if (waitpid(daemon_pid, &status, 0) != daemon_pid) {
		daemon_pid = -1;
		return (-1);
	}
	daemon_pid = -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "  daemon exit status %d\n", status);
		return (-1);
	}
	return (0);
}

static void
dump_log(void)
{
	char	 cmd[512];

	snprintf(cmd, sizeof(cmd), "tail -30 %s >&2", logf);
	if (system(cmd) != 0)
		return;
}

static int
test_commands(void)
{
	static const char *lines[] = {
		"{\"command\":\"status\"}",
		"{\"command\":\"log\",\"level\":\"verbose\"}",
		"{\"command\":\"log\",\"level\":\"brief\"}",
		"{\"command\":\"events\",\"last\":5}",
		"{\"command\":\"rules\",\"listener\":\"127.0.0.1:%d\"}",
		"{\"command\":\"allow\",\"listener\":\"127.0.0.1:%d\","
		    "\"pattern\":\"*.oom.example\"}",
		"{\"command\":\"deny\",\"listener\":\"127.0.0.1:%d\","
		    "\"pattern\":\"10.0.0.0/8\"}",
		"{\"command\":\"allow\",\"listener\":\"127.0.0.1:%d\","
		    "\"pattern\":\"timed.oom.example\",\"for\":3600}",
		"{\"command\":\"deny\",\"listener\":\"127.0.0.1:%d\","
		    "\"pattern\":\"Timed.OOM.example\",\"for\":60}",
		"{\"command\":\"rules\"}",
		"{\"command\":\"unallow\",\"listener\":\"127.0.0.1:%d\","
		    "\"pattern\":\"timed.oom.example\"}",
		"{\"command\":\"sessions\"}",
		"{\"command\":\"nosuch\"}",
		"{\"command\":",
	};
	struct walk	 w = { NULL, NULL, { "web", NULL }, "web" };
	char		 line[512];
	long		 allocs;
	size_t		 i;
	int		 ret = -1;

	CHECK(write_conf("web") == 0);
	CHECK(daemon_start() == 0);
	for (i = 0; i < nitems(lines); i++) {
		snprintf(line, sizeof(line), lines[i], port);
		w.w_line = line;
		CHECK(oom_walk(&w, &allocs) == 0);
		printf("      %s: %ld allocations, each failed once\n", line,
		    allocs);
	}
	ret = 0;
end:
	if (daemon_stop() == -1)
		ret = -1;
	if (ret == -1)
		dump_log();
	return (ret);
}

/* Before each reload try: running "web", the file says "web2". */
static void
reload_before(void)
{
	json_t	*r;
	int	 hung;

	if (write_conf("web") == -1)
		return;
	r = ctl_request("{\"command\":\"reload\"}", &hung);
	json_decref(r);
	write_conf("web2");
}

/*
 * A reload that runs out of memory keeps the running config, or applies
 * the new one with errors; either way the daemon serves on.  A clean
 * one applies it.
 */
static int
test_reload(void)
{
	struct walk	 w = { "{\"command\":\"reload\"}", reload_before,
			    { "web", "web2" }, "web2" };
	long		 allocs;
	int		 ret = -1;

	CHECK(write_conf("web") == 0);
	CHECK(daemon_start() == 0);
	CHECK(daemon_sound("web"));
	CHECK(oom_walk(&w, &allocs) == 0);
	printf("      reload: %ld allocations, each failed once\n", allocs);
	ret = 0;
end:
	if (daemon_stop() == -1)
		ret = -1;
	if (ret == -1)
		dump_log();
	return (ret);
}

static const struct unit_test tests[] = {
	{ "commands", test_commands },
	{ "reload", test_reload },
};

int
main(int argc, char *argv[])
{
	int	 r;

	signal(SIGPIPE, SIG_IGN);
	oom = mmap(NULL, sizeof(*oom), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (oom == MAP_FAILED)
		return (1);
	oom->os_pid = -1;
	oom->os_fail_at = -1;
	json_set_alloc_funcs(json_malloc, json_free);
	if ((dir = unit_tmpdir()) == NULL || (port = free_port()) == -1)
		return (1);
	if (geteuid() == 0) {
		struct passwd	*pw;

		if ((pw = getpwnam("nobody")) == NULL)
			return (1);
		nobody_uid = pw->pw_uid;
		nobody_gid = pw->pw_gid;
		if (chown(dir, nobody_uid, nobody_gid) == -1)
			return (1);
	}
	snprintf(sock, sizeof(sock), "%s/ctl.sock", dir);
	snprintf(conf, sizeof(conf), "%s/sbxd.conf", dir);
	snprintf(logf, sizeof(logf), "%s/sbxd.log", dir);
	r = unit_main("oom", tests, nitems(tests), argc, argv);
	if (daemon_pid > 0) {
		kill(daemon_pid, SIGKILL);
		waitpid(daemon_pid, NULL, 0);
	}
	unit_rmtree(dir);
	free(dir);
	return (r);
}
