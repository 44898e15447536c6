/*
 * sandbox_proc.c: runs a list of privileged commands without blocking
 * the loop.  Each command is forked and executed directly (no shell, no
 * PATH search) with a fixed environment.  The loop feeds its stdin from
 * the list and reads its stdout and stderr, logging every line.  A
 * SIGCHLD handler reaps the runner's own children by pid, never with
 * waitpid(-1), so other parts of the daemon may fork and wait for theirs.
 * A command that fails or outlives its timeout stops the list, and the
 * caller hears of the end through one callback, always from the loop.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/wait.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/event_struct.h>

#include "config.h"
#include "log.h"
#include "sbxd.h"
#include "sandbox.h"

#define SANDBOX_PROC_OUTPUT_MAX	(64 * 1024)	/* stdout kept per command:
					   a ruleset dump fits, a runaway
					   command cannot fill memory */
#define SANDBOX_PROC_LINE_MAX	1024	/* longest line logged; a longer
					   one is cut, an unending one is
					   logged in pieces */
#define SANDBOX_PROC_READ	4096	/* bytes per read; keeps the loop
					   fair to the other connections */
#define SANDBOX_PROC_GRACE	5	/* seconds from SIGTERM to SIGKILL
					   on timeout: time to drop a lock
					   such as /etc/passwd.lock */
#define SANDBOX_PROC_EXEC_FAILED 127	/* exit code when exec fails, as
					   in sh(1) */
#define SANDBOX_PROC_ENV_PATH	"PATH=/usr/sbin:/usr/bin:/sbin:/bin"
#define SANDBOX_PROC_ENV_LANG	"LANG=C" /* messages we can quote */

struct sandbox_proc;

/* One of a child's output pipes. */
struct sandbox_proc_stream {
	struct sandbox_proc		*ss_proc;
	int				 ss_fd;		/* -1: closed */
	struct event			 ss_ev;
	struct evbuffer			*ss_line;	/* an unfinished line */
	int				 ss_stderr;
};

struct sandbox_proc {
	TAILQ_ENTRY(sandbox_proc)	 sp_entry;
	struct sandbox_cmdlist		 sp_cmds;
	struct sandbox_cmd		*sp_cmd;	/* running or last run */
	char				*sp_what;	/* log prefix */
	int				 sp_timeout;	/* seconds; 0: none */
	sandbox_proc_cb			 sp_cb;
	void				*sp_arg;

	pid_t				 sp_pid;	/* -1: none running */
	int				 sp_timedout;	/* signal sent, or 0 */
	int				 sp_in;		/* stdin; -1: closed */
	size_t				 sp_in_off;
	struct event			 sp_ev_in;
	struct sandbox_proc_stream	 sp_out;
	struct sandbox_proc_stream	 sp_err;
	struct evbuffer			*sp_output;	/* this command's stdout */
	int				 sp_truncated;
	char				*sp_lasterr;	/* last stderr line */
	char				*sp_result;	/* last OUTPUT stdout */
	struct event			 sp_ev_timer;

	struct event			 sp_ev_done;	/* calls sp_cb */
	int				 sp_status;
	char				*sp_error;
};
TAILQ_HEAD(sandbox_proclist, sandbox_proc);

static struct sandbox_proclist	 sandbox_procs =
				    TAILQ_HEAD_INITIALIZER(sandbox_procs);
static struct event		*sandbox_proc_ev_chld;

static int	sandbox_proc_watch(void);
static int	sandbox_proc_check(struct sandbox_proc *);
static void	sandbox_proc_next(struct sandbox_proc *);
static int	sandbox_proc_start(struct sandbox_proc *);
static void	sandbox_proc_started(struct sandbox_proc *, pid_t, int, int,
		    int);
static void	sandbox_proc_child(struct sandbox_cmd *, int, int, int)
		    __attribute__((__noreturn__));
static void	sandbox_proc_child_say(const char *);
static void	sandbox_proc_closefrom(int);
static int	sandbox_proc_pipe(int [2]);
static void	sandbox_proc_close(int *);
static void	sandbox_proc_writecb(evutil_socket_t, short, void *);
static void	sandbox_proc_in_close(struct sandbox_proc *);
static void	sandbox_proc_stream_open(struct sandbox_proc_stream *, int);
static void	sandbox_proc_readcb(evutil_socket_t, short, void *);
static int	sandbox_proc_stream_read(struct sandbox_proc_stream *);
static void	sandbox_proc_stream_lines(struct sandbox_proc_stream *, int);
static void	sandbox_proc_stream_log(struct sandbox_proc_stream *, char *,
		    size_t);
static void	sandbox_proc_stream_close(struct sandbox_proc_stream *);
static void	sandbox_proc_keep(struct sandbox_proc *, const char *,
		    size_t);
static void	sandbox_proc_timercb(evutil_socket_t, short, void *);
static void	sandbox_proc_kill(struct sandbox_proc *, int);
static void	sandbox_proc_chldcb(evutil_socket_t, short, void *);
static void	sandbox_proc_end(struct sandbox_proc *);
static void	sandbox_proc_reaped(struct sandbox_proc *, int);
static void	sandbox_proc_finish(struct sandbox_proc *, int, const char *,
		    ...) __attribute__((__format__ (printf, 3, 4)));
static void	sandbox_proc_donecb(evutil_socket_t, short, void *);
static void	sandbox_proc_free(struct sandbox_proc *);
static const char *sandbox_proc_name(const struct sandbox_proc *);

/*
 * Run the commands of cl one after another; takes them, leaving cl
 * empty.  cb is called once from the loop, whatever happens, unless the
 * run is cancelled first.  timeout applies to each command (0: none).
 */
struct sandbox_proc *
sandbox_proc_run(struct sandbox_cmdlist *cl, int timeout, const char *what,
    sandbox_proc_cb cb, void *arg)
{
	struct sandbox_proc	*sp;
	struct sandbox_cmd	*sc;
	struct event_base	*base = sbxd_env->sx_base;

	sp = xcalloc(1, sizeof(*sp));
	TAILQ_INIT(&sp->sp_cmds);
	while ((sc = TAILQ_FIRST(cl)) != NULL) {
		TAILQ_REMOVE(cl, sc, sc_entry);
		TAILQ_INSERT_TAIL(&sp->sp_cmds, sc, sc_entry);
	}
	sp->sp_what = xstrdup(what != NULL ? what : "sandbox");
	sp->sp_timeout = timeout > 0 ? timeout : 0;
	sp->sp_cb = cb;
	sp->sp_arg = arg;
	sp->sp_pid = -1;
	sp->sp_in = sp->sp_out.ss_fd = sp->sp_err.ss_fd = -1;
	sp->sp_out.ss_proc = sp->sp_err.ss_proc = sp;
	sp->sp_err.ss_stderr = 1;
	if ((sp->sp_out.ss_line = evbuffer_new()) == NULL ||
	    (sp->sp_err.ss_line = evbuffer_new()) == NULL ||
	    (sp->sp_output = evbuffer_new()) == NULL)
		fatal("%s: evbuffer_new", __func__);
	evtimer_assign(&sp->sp_ev_timer, base, sandbox_proc_timercb, sp);
	event_assign(&sp->sp_ev_done, base, -1, 0, sandbox_proc_donecb, sp);
	TAILQ_INSERT_TAIL(&sandbox_procs, sp, sp_entry);

	if (sandbox_proc_watch() == -1)
		sandbox_proc_finish(sp, -1, "cannot watch child processes");
	else if (sandbox_proc_check(sp) == 0)
		sandbox_proc_next(sp);
	return (sp);
}

/* The pid of the running command, or -1. */
pid_t
sandbox_proc_pid(const struct sandbox_proc *sp)
{
	return (sp->sp_pid);
}

/* Kill the running command and forget the list; cb is not called. */
void
sandbox_proc_cancel(struct sandbox_proc *sp)
{
	if (sp == NULL)
		return;
	TAILQ_REMOVE(&sandbox_procs, sp, sp_entry);
	sandbox_proc_free(sp);
}

/* Cancel every list and stop watching SIGCHLD. */
void
sandbox_proc_shutdown(void)
{
	struct sandbox_proc	*sp;

	while ((sp = TAILQ_FIRST(&sandbox_procs)) != NULL)
		sandbox_proc_cancel(sp);
	if (sandbox_proc_ev_chld != NULL) {
		event_free(sandbox_proc_ev_chld);
		sandbox_proc_ev_chld = NULL;
	}
}

/*
 * Watch SIGCHLD from before the first fork on, so no exit is missed.
 * It stays until shutdown: freeing a signal event from inside its own
 * callback is not safe in libevent 2.1.
 */
static int
sandbox_proc_watch(void)
{
	if (sandbox_proc_ev_chld != NULL)
		return (0);
	sandbox_proc_ev_chld = evsignal_new(sbxd_env->sx_base, SIGCHLD,
	    sandbox_proc_chldcb, NULL);
	if (sandbox_proc_ev_chld == NULL)
		return (-1);
	if (evsignal_add(sandbox_proc_ev_chld, NULL) == -1) {
		event_free(sandbox_proc_ev_chld);
		sandbox_proc_ev_chld = NULL;
		return (-1);
	}
	return (0);
}

/* Refuse the whole list before running any of it. */
static int
sandbox_proc_check(struct sandbox_proc *sp)
{
	struct sandbox_cmd	*sc;
	const char		*path;

	TAILQ_FOREACH(sc, &sp->sp_cmds, sc_entry) {
		path = sc->sc_argv[0];
		if (path == NULL || *path != '/') {
			sandbox_proc_finish(sp, -1, "%s: not an absolute path",
			    path != NULL ? path : "(empty command)");
			return (-1);
		}
	}
	return (0);
}

/* Start the next command, or end the list when none is left. */
static void
sandbox_proc_next(struct sandbox_proc *sp)
{
	if (sp->sp_cmd == NULL)
		sp->sp_cmd = TAILQ_FIRST(&sp->sp_cmds);
	else
		sp->sp_cmd = TAILQ_NEXT(sp->sp_cmd, sc_entry);
	if (sp->sp_cmd == NULL) {
		sandbox_proc_finish(sp, 0, NULL);
		return;
	}
	if (sandbox_proc_start(sp) == -1)
		sandbox_proc_finish(sp, -1, "cannot run %s: %s",
		    sp->sp_cmd->sc_argv[0], strerror(errno));
}

/*
 * Fork the current command.  Every signal is blocked across fork so
 * that no handler of ours runs in the child before it resets them.
 */
static int
sandbox_proc_start(struct sandbox_proc *sp)
{
	struct sandbox_cmd	*sc = sp->sp_cmd;
	int			 in[2] = { -1, -1 }, out[2] = { -1, -1 };
	int			 err[2] = { -1, -1 }, saved;
	sigset_t		 all, old;
	pid_t			 pid;

	log_debug("%s: running %s", sp->sp_what, sc->sc_argv[0]);
	if ((sc->sc_input != NULL && sandbox_proc_pipe(in) == -1) ||
	    sandbox_proc_pipe(out) == -1 || sandbox_proc_pipe(err) == -1)
		goto fail;
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	if ((pid = fork()) == 0)
		sandbox_proc_child(sc, in[0], out[1], err[1]);
	saved = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid == -1) {
		errno = saved;
		goto fail;
	}
	sandbox_proc_close(&in[0]);
	sandbox_proc_close(&out[1]);
	sandbox_proc_close(&err[1]);
	sandbox_proc_started(sp, pid, in[1], out[0], err[0]);
	return (0);
fail:
	saved = errno;
	sandbox_proc_close(&in[0]);
	sandbox_proc_close(&in[1]);
	sandbox_proc_close(&out[0]);
	sandbox_proc_close(&out[1]);
	sandbox_proc_close(&err[0]);
	sandbox_proc_close(&err[1]);
	errno = saved;
	return (-1);
}

/* Watch a new child: its pipes and its timeout. */
static void
sandbox_proc_started(struct sandbox_proc *sp, pid_t pid, int in, int out,
    int err)
{
	struct timeval	 tv;

	sp->sp_pid = pid;
	sp->sp_timedout = 0;
	sp->sp_truncated = 0;
	free(sp->sp_lasterr);
	sp->sp_lasterr = NULL;
	evbuffer_drain(sp->sp_output, evbuffer_get_length(sp->sp_output));
	sandbox_proc_stream_open(&sp->sp_out, out);
	sandbox_proc_stream_open(&sp->sp_err, err);
	if (in != -1) {
		sp->sp_in = in;
		sp->sp_in_off = 0;
		evutil_make_socket_nonblocking(in);
		event_assign(&sp->sp_ev_in, sbxd_env->sx_base, in,
		    EV_WRITE | EV_PERSIST, sandbox_proc_writecb, sp);
		event_add(&sp->sp_ev_in, NULL);
	}
	if (sp->sp_timeout > 0) {
		tv.tv_sec = sp->sp_timeout;
		tv.tv_usec = 0;
		evtimer_add(&sp->sp_ev_timer, &tv);
	}
}

/*
 * In the child: default signals, a new session (so a timeout reaches
 * the whole process group), the pipes on 0, 1 and 2, nothing else open,
 * a fixed environment.  Only async-signal-safe calls from here on.
 * sigaction refuses SIGKILL and SIGSTOP, and glibc refuses its own two
 * below SIGRTMIN; glibc installs handlers for those when it needs them.
 */
static void
sandbox_proc_child(struct sandbox_cmd *sc, int in, int out, int err)
{
	static char		 env_path[] = SANDBOX_PROC_ENV_PATH;
	static char		 env_lang[] = SANDBOX_PROC_ENV_LANG;
	char			*env[] = { env_path, env_lang, NULL };
	struct sigaction	 sa;
	sigset_t		 none;
	const char		*msg;
	int			 sig;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (sig = 1; sig < NSIG; sig++)
		(void)sigaction(sig, &sa, NULL);	/* see below */
	(void)setsid();
	if (in == -1)
		in = open("/dev/null", O_RDONLY);
	/* First move all three above 2, so no dup2 clobbers another. */
	if (in == -1 || (in = fcntl(in, F_DUPFD, 3)) == -1 ||
	    (out = fcntl(out, F_DUPFD, 3)) == -1 ||
	    (err = fcntl(err, F_DUPFD, 3)) == -1 ||
	    dup2(in, 0) == -1 || dup2(out, 1) == -1 || dup2(err, 2) == -1)
		_exit(SANDBOX_PROC_EXEC_FAILED);
	sandbox_proc_closefrom(3);
	if (chdir("/") == -1)
		_exit(SANDBOX_PROC_EXEC_FAILED);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execve(sc->sc_argv[0], sc->sc_argv, env);

	msg = strerror(errno);
	sandbox_proc_child_say("cannot execute ");
	sandbox_proc_child_say(sc->sc_argv[0]);
	sandbox_proc_child_say(": ");
	sandbox_proc_child_say(msg);
	sandbox_proc_child_say("\n");
	_exit(SANDBOX_PROC_EXEC_FAILED);
}

/* Write to stderr in the child; the parent logs and quotes it. */
static void
sandbox_proc_child_say(const char *s)
{
	if (write(2, s, strlen(s)) == -1)
		return;		/* nobody to tell */
}

/* Close every fd from lowfd up, in the child. */
static void
sandbox_proc_closefrom(int lowfd)
{
	long	 fd, max;

#ifdef SYS_close_range
	if (syscall(SYS_close_range, lowfd, ~0U, 0) == 0)
		return;		/* else an old kernel: loop */
#endif
	if ((max = sysconf(_SC_OPEN_MAX)) == -1)
		max = 1024;
	for (fd = lowfd; fd < max; fd++)
		(void)close(fd);
}

/* A pipe closed on exec, so other children do not inherit it. */
static int
sandbox_proc_pipe(int fds[2])
{
	if (pipe(fds) == -1)
		return (-1);
	if (fcntl(fds[0], F_SETFD, FD_CLOEXEC) == -1 ||
	    fcntl(fds[1], F_SETFD, FD_CLOEXEC) == -1) {
		sandbox_proc_close(&fds[0]);
		sandbox_proc_close(&fds[1]);
		return (-1);
	}
	return (0);
}

static void
sandbox_proc_close(int *fd)
{
	if (*fd != -1) {
		close(*fd);
		*fd = -1;
	}
}

/*
 * Feed the child's stdin.  A child that exits without reading it all
 * makes write fail with EPIPE: the daemon ignores SIGPIPE (sbxd.c).
 */
static void
sandbox_proc_writecb(evutil_socket_t fd, short events __unused, void *arg)
{
	struct sandbox_proc	*sp = arg;
	const char		*input = sp->sp_cmd->sc_input;
	size_t			 len = strlen(input);
	ssize_t			 n;

	n = write(fd, input + sp->sp_in_off, len - sp->sp_in_off);
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		log_debug("%s: %s: stdin: %s", sp->sp_what,
		    sandbox_proc_name(sp), strerror(errno));
		sandbox_proc_in_close(sp);
		return;
	}
	sp->sp_in_off += n;
	if (sp->sp_in_off == len)
		sandbox_proc_in_close(sp);	/* EOF for the child */
}

static void
sandbox_proc_in_close(struct sandbox_proc *sp)
{
	if (sp->sp_in == -1)
		return;
	event_del(&sp->sp_ev_in);
	sandbox_proc_close(&sp->sp_in);
}

static void
sandbox_proc_stream_open(struct sandbox_proc_stream *ss, int fd)
{
	ss->ss_fd = fd;
	evutil_make_socket_nonblocking(fd);
	event_assign(&ss->ss_ev, sbxd_env->sx_base, fd, EV_READ | EV_PERSIST,
	    sandbox_proc_readcb, ss);
	event_add(&ss->ss_ev, NULL);
}

static void
sandbox_proc_readcb(evutil_socket_t fd __unused, short events __unused,
    void *arg)
{
	sandbox_proc_stream_read(arg);
}

/* Read once: 1 if data came, 0 if the stream closed, -1 if none yet. */
static int
sandbox_proc_stream_read(struct sandbox_proc_stream *ss)
{
	struct sandbox_proc	*sp = ss->ss_proc;
	char			 buf[SANDBOX_PROC_READ];
	ssize_t			 n;

	if ((n = read(ss->ss_fd, buf, sizeof(buf))) == -1 &&
	    (errno == EAGAIN || errno == EINTR))
		return (-1);
	if (n <= 0) {
		if (n == -1)
			log_warn("%s: %s: read", sp->sp_what,
			    sandbox_proc_name(sp));
		sandbox_proc_stream_close(ss);
		return (0);
	}
	if (!ss->ss_stderr)
		sandbox_proc_keep(sp, buf, n);
	evbuffer_add(ss->ss_line, buf, n);
	sandbox_proc_stream_lines(ss, 0);
	return (1);
}

/* Log the whole lines read so far; with flush, the rest too. */
static void
sandbox_proc_stream_lines(struct sandbox_proc_stream *ss, int flush)
{
	char	*line;
	size_t	 len;

	for (;;) {
		line = evbuffer_readln(ss->ss_line, &len, EVBUFFER_EOL_LF);
		if (line == NULL) {
			len = evbuffer_get_length(ss->ss_line);
			if (len == 0 || (!flush && len < SANDBOX_PROC_LINE_MAX))
				return;
			if (len > SANDBOX_PROC_LINE_MAX)
				len = SANDBOX_PROC_LINE_MAX;
			line = xmalloc(len + 1);
			evbuffer_remove(ss->ss_line, line, len);
			line[len] = '\0';
		}
		sandbox_proc_stream_log(ss, line, len);
		free(line);
	}
}

/*
 * Log one line, cut and with control characters replaced.  stderr is a
 * warning and its last line explains a failure; an OUTPUT command's
 * stdout is data for the caller, so it is only debug.
 */
static void
sandbox_proc_stream_log(struct sandbox_proc_stream *ss, char *line,
    size_t len)
{
	struct sandbox_proc	*sp = ss->ss_proc;
	size_t			 i;

	if (len > SANDBOX_PROC_LINE_MAX)
		len = SANDBOX_PROC_LINE_MAX;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	line[len] = '\0';
	for (i = 0; i < len; i++)
		if (((unsigned char)line[i] < 0x20 && line[i] != '\t') ||
		    line[i] == 0x7f)
			line[i] = '?';
	if (len == 0)
		return;
	if (ss->ss_stderr) {
		/* a command allowed to fail only explains itself */
		if (sp->sp_cmd->sc_flags & SANDBOX_CMD_MAYFAIL)
			log_debug("%s: %s: %s", sp->sp_what,
			    sandbox_proc_name(sp), line);
		else
			log_warnx("%s: %s: %s", sp->sp_what,
			    sandbox_proc_name(sp), line);
		free(sp->sp_lasterr);
		sp->sp_lasterr = xstrdup(line);
	} else if (sp->sp_cmd->sc_flags & SANDBOX_CMD_OUTPUT)
		log_debug("%s: %s: %s", sp->sp_what, sandbox_proc_name(sp),
		    line);
	else
		log_info("%s: %s: %s", sp->sp_what, sandbox_proc_name(sp),
		    line);
}

static void
sandbox_proc_stream_close(struct sandbox_proc_stream *ss)
{
	if (ss->ss_fd == -1)
		return;
	sandbox_proc_stream_lines(ss, 1);
	event_del(&ss->ss_ev);
	sandbox_proc_close(&ss->ss_fd);
}

/* Keep an OUTPUT command's stdout, up to the bound. */
static void
sandbox_proc_keep(struct sandbox_proc *sp, const char *buf, size_t len)
{
	size_t	 room;

	if (!(sp->sp_cmd->sc_flags & SANDBOX_CMD_OUTPUT))
		return;
	room = SANDBOX_PROC_OUTPUT_MAX - evbuffer_get_length(sp->sp_output);
	if (len > room) {
		if (!sp->sp_truncated)
			log_warnx("%s: %s: output cut at %d bytes",
			    sp->sp_what, sandbox_proc_name(sp),
			    SANDBOX_PROC_OUTPUT_MAX);
		sp->sp_truncated = 1;
		len = room;
	}
	evbuffer_add(sp->sp_output, buf, len);
}

/* Timeout: SIGTERM first, SIGKILL if it is still there after a grace. */
static void
sandbox_proc_timercb(evutil_socket_t fd __unused, short events __unused,
    void *arg)
{
	struct sandbox_proc	*sp = arg;
	struct timeval		 tv = { SANDBOX_PROC_GRACE, 0 };
	int			 sig;

	if (sp->sp_pid == -1)
		return;
	sig = sp->sp_timedout == 0 ? SIGTERM : SIGKILL;
	log_warnx("%s: %s timed out after %d s, sending %s", sp->sp_what,
	    sp->sp_cmd->sc_argv[0], sp->sp_timeout,
	    sig == SIGTERM ? "SIGTERM" : "SIGKILL");
	sandbox_proc_kill(sp, sig);
	sp->sp_timedout = sig;
	if (sig == SIGTERM)
		evtimer_add(&sp->sp_ev_timer, &tv);
}

/*
 * Signal the child and its process group.  The child may not have
 * called setsid yet, so the pid itself is signalled too.  It is not
 * reaped yet, so the pid is still ours.
 */
static void
sandbox_proc_kill(struct sandbox_proc *sp, int sig)
{
	(void)kill(-sp->sp_pid, sig);
	(void)kill(sp->sp_pid, sig);
}

/* Reap our children that have exited; each is asked for by its pid. */
static void
sandbox_proc_chldcb(evutil_socket_t sig __unused, short events __unused,
    void *arg __unused)
{
	struct sandbox_proc	*sp, *next;
	pid_t			 pid;
	int			 status;

	TAILQ_FOREACH_SAFE(sp, &sandbox_procs, sp_entry, next) {
		if (sp->sp_pid == -1)
			continue;
		if ((pid = waitpid(sp->sp_pid, &status, WNOHANG)) == 0 ||
		    (pid == -1 && errno == EINTR))
			continue;
		if (pid == -1) {
			log_warn("%s: waitpid %ld", sp->sp_what,
			    (long)sp->sp_pid);
			sandbox_proc_end(sp);
			sandbox_proc_finish(sp, -1, "%s: exit status lost",
			    sp->sp_cmd->sc_argv[0]);
			continue;
		}
		sandbox_proc_reaped(sp, status);
	}
}

/*
 * The child is gone: take what it left in the pipes and close them.  A
 * grandchild holding them open gets no more reading.
 */
static void
sandbox_proc_end(struct sandbox_proc *sp)
{
	sp->sp_pid = -1;
	evtimer_del(&sp->sp_ev_timer);
	sandbox_proc_in_close(sp);
	while (sp->sp_out.ss_fd != -1 &&
	    sandbox_proc_stream_read(&sp->sp_out) == 1)
		;
	while (sp->sp_err.ss_fd != -1 &&
	    sandbox_proc_stream_read(&sp->sp_err) == 1)
		;
	sandbox_proc_stream_close(&sp->sp_out);
	sandbox_proc_stream_close(&sp->sp_err);
}

/* Go on with the list or stop it, by how the command ended. */
static void
sandbox_proc_reaped(struct sandbox_proc *sp, int status)
{
	struct sandbox_cmd	*sc = sp->sp_cmd;
	const char		*path = sc->sc_argv[0], *why;
	char			 how[64];
	int			 code = -1;

	sandbox_proc_end(sp);
	if (sp->sp_timedout) {
		sandbox_proc_finish(sp, -1, "%s timed out after %d s", path,
		    sp->sp_timeout);
		return;
	}
	if (sc->sc_flags & SANDBOX_CMD_OUTPUT) {
		free(sp->sp_result);
		sp->sp_result = xmalloc(evbuffer_get_length(sp->sp_output) + 1);
		sp->sp_result[evbuffer_remove(sp->sp_output, sp->sp_result,
		    evbuffer_get_length(sp->sp_output))] = '\0';
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		sandbox_proc_next(sp);
		return;
	}
	if (WIFEXITED(status)) {
		code = WEXITSTATUS(status);
		snprintf(how, sizeof(how), "exited %d", code);
	} else
		snprintf(how, sizeof(how), "killed by signal %d",
		    WTERMSIG(status));
	if (sc->sc_flags & SANDBOX_CMD_MAYFAIL) {
		log_debug("%s: %s %s, may fail: going on", sp->sp_what, path,
		    how);
		sandbox_proc_next(sp);
		return;
	}
	why = sp->sp_lasterr;
	sandbox_proc_finish(sp, code, "%s %s%s%s", path, how,
	    why != NULL ? ": " : "", why != NULL ? why : "");
}

/* Record how the list ended; the callback runs from the loop. */
static void
sandbox_proc_finish(struct sandbox_proc *sp, int status, const char *fmt,
    ...)
{
	va_list	 ap;

	sp->sp_status = status;
	free(sp->sp_error);
	sp->sp_error = NULL;
	if (fmt != NULL) {
		va_start(ap, fmt);
		if (vasprintf(&sp->sp_error, fmt, ap) == -1)
			sp->sp_error = NULL;
		va_end(ap);
	}
	event_active(&sp->sp_ev_done, EV_TIMEOUT, 0);
}

static void
sandbox_proc_donecb(evutil_socket_t fd __unused, short events __unused,
    void *arg)
{
	struct sandbox_proc	*sp = arg;
	const char		*error = sp->sp_error;

	if (sp->sp_status != 0 && error == NULL)
		error = "failed";
	if (error != NULL)
		log_warnx("%s: %s", sp->sp_what, error);
	else
		log_debug("%s: done", sp->sp_what);
	TAILQ_REMOVE(&sandbox_procs, sp, sp_entry);
	sp->sp_cb(sp->sp_status, error,
	    sp->sp_status == 0 ? sp->sp_result : NULL, sp->sp_arg);
	sandbox_proc_free(sp);
}

/*
 * The one teardown.  A running child is killed and waited for here:
 * SIGKILL cannot be caught, so the wait is short, and nothing is left
 * behind for a handler that may be gone by then.
 */
static void
sandbox_proc_free(struct sandbox_proc *sp)
{
	int	 status;

	if (sp->sp_pid != -1) {
		sandbox_proc_kill(sp, SIGKILL);
		while (waitpid(sp->sp_pid, &status, 0) == -1 &&
		    errno == EINTR)
			;
		sandbox_proc_end(sp);
	}
	sandbox_proc_in_close(sp);
	sandbox_proc_stream_close(&sp->sp_out);
	sandbox_proc_stream_close(&sp->sp_err);
	event_del(&sp->sp_ev_timer);
	event_del(&sp->sp_ev_done);
	evbuffer_free(sp->sp_out.ss_line);
	evbuffer_free(sp->sp_err.ss_line);
	evbuffer_free(sp->sp_output);
	sandbox_cmdlist_free(&sp->sp_cmds);
	free(sp->sp_what);
	free(sp->sp_lasterr);
	free(sp->sp_result);
	free(sp->sp_error);
	free(sp);
}

/* The running command's name for log lines: argv[0] without its path. */
static const char *
sandbox_proc_name(const struct sandbox_proc *sp)
{
	const char	*path = sp->sp_cmd->sc_argv[0], *p;

	return ((p = strrchr(path, '/')) != NULL ? p + 1 : path);
}
