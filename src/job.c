/*
 * job.c: every child process of the daemon (tmux's job.c is the model).
 * A job is one program, or one function of ours, run in a new session
 * with the credentials, directory and environment its spec gives: the
 * environment is built by the caller from scratch, never the daemon's.
 * Its stdin, stdout and stderr are pipes, or one pty, watched by
 * bufferevents; the caller hears of output through one callback and of
 * the end through another, called last, once the process is reaped and
 * its output has closed.
 *
 * One SIGCHLD event reaps every job, each by its own pid, never with
 * waitpid(-1).  One escalation stops a job: a first signal to its
 * process group, SIGKILL after a grace.  A whole uid is stopped the same
 * way by a helper job that becomes the uid and signals every process it
 * may signal (kill(-1)), which are exactly the uid's, in rounds until
 * none is left; rm and interrupts use it.
 *
 * Setup in the child is checked: a failure (a directory, the
 * credentials, exec) comes back to job_run through a pipe that exec
 * closes, so a job that could not start is an error, not an exit code.
 * While still root, the child joins the cgroups its spec names, so that
 * nothing it starts runs outside them, and takes the limits every job
 * gets (JOB_NOFILE, no core files), never the daemon's raised ones.
 */

#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <jansson.h>

#include "config.h"
#include "log.h"
#include "sbxd.h"

#define JOB_ERR_MAX		256	/* a child's setup error */
#define JOB_LINGER_SECS		2	/* after the exit, wait this long for
					   output a background process still
					   holds open */
#define JOB_LOWAT		(64 * 1024) /* stdin's queue: the caller may
					   write again below this */
#define JOB_EXEC_FAILED		127	/* as sh(1) exits when exec fails */
#define JOB_DEFAULT_PATH	"/usr/bin:/bin"	/* without PATH in envp */
#define JOB_UID_MSECS		100	/* between rounds of a uid stop */
#define JOB_UID_ROUNDS		50	/* SIGKILL rounds before giving up */
#define JOB_ARGS_MAX		65536	/* argv or envp of a spawned job */

enum job_state {
	JOB_RUNNING,	/* the caller hears of it */
	JOB_DETACHED	/* freed by the caller: reaped in the background */
};

struct job {
	TAILQ_ENTRY(job)	 j_entry;
	uint64_t		 j_id;
	uint64_t		 j_rid;		/* the engine's: the job's id
						   in the privileged process */
	int			 j_engine;	/* privileged: the engine's */
	char			 j_name[64];	/* for log lines */
	enum job_state		 j_state;
	int			 j_listed;	/* in jobs: it started */
	int			 j_indone;	/* in its done callback */
	int			 j_flags;
	pid_t			 j_pid;		/* -1 once reaped */
	int			 j_status;	/* wait status; -1: lost */
	int			 j_sig;		/* first signal we sent; 0 */
	int			 j_timedout;
	int			 j_timeout;	/* seconds; 0: none */
	int			 j_grace;	/* seconds to SIGKILL */
	struct bufferevent	*j_in;		/* stdin; a pty's master */
	struct bufferevent	*j_out;		/* stdout; j_in with a pty */
	struct bufferevent	*j_err;		/* stderr; NULL with a pty */
	int			 j_in_end;	/* EOF asked for */
	int			 j_paused;	/* output reading stopped */
	struct event		*j_ev_kill;	/* timeout, then grace */
	struct event		*j_ev_linger;	/* output open after exit */
	job_outputcb		 j_outputcb;
	job_writecb		 j_writecb;
	job_donecb		 j_donecb;
	void			*j_arg;
};
TAILQ_HEAD(jobs, job);

/* What the child needs between fork and exec, made ready before fork. */
struct job_child {
	const struct job_spec	*jc_spec;
	int			 jc_fd[3];	/* a pty's slave thrice */
	int			 jc_errfd;
	const char		*jc_file;	/* what to execute */
	char			*jc_paths;	/* PATH to search, or NULL */
};

/* A stop of every process of a uid. */
struct job_uidstop {
	uid_t			 us_uid;
	gid_t			 us_gid;
	int			 us_sig;	/* what the next round sends */
	int			 us_rounds;
	struct timespec		 us_kill_at;	/* SIGKILL from then on */
	struct job		*us_job;	/* the helper of a round */
	struct event		*us_ev;
	job_uidcb		 us_cb;
	void			*us_arg;
};

static struct jobs	 jobs = TAILQ_HEAD_INITIALIZER(jobs);
static struct event	*job_ev_chld;
static uint64_t		 job_nextid;
static uint64_t		 job_started;
static uint64_t		 job_failed;
static int		 job_count;
static const struct job_fn *job_fns;	/* for the engine's jobs */
static int	(*job_cgroup_ok)(const char *, char *, size_t);

static struct job *job_start(const struct job_spec *, int *, char *,
		    size_t);
static int	job_remote(struct job *, const struct job_spec *, int *,
		    char *, size_t);
static void	job_exitcb(json_t *, int *, int, void *);
static void	job_priv_donecb(struct job *, int, void *);
static void	job_killedcb(json_t *, const char *, int *, int, void *);
static json_t	*job_strings(char *const *);
static int	job_strings_get(json_t *, const char *, char ***, char *,
		    size_t);
static void	job_strings_free(char **);
static int	job_spec_parse(json_t *, struct job_spec *, gid_t *,
		    char *, size_t);
static int	job_prepare(const struct job_spec *, struct job_child *,
		    char *, size_t);
static int	job_pty(const struct job_spec *, struct job_child *, int *,
		    char *, size_t);
static int	job_pipes(const struct job_spec *, struct job_child *, int *,
		    char *, size_t);
static int	job_pipe(int [2], char *, size_t);
static int	job_streams(struct job *, int *);
static pid_t	job_spawn(struct job_child *, char *, size_t);
static void	job_child(struct job_child *) __attribute__((__noreturn__));
static void	job_child_fail(struct job_child *, const char *, ...)
		    __attribute__((__noreturn__, __format__ (printf, 2, 3)));
static void	job_child_stdio(struct job_child *);
static void	job_child_cgroups(struct job_child *);
static void	job_child_limits(struct job_child *);
static void	job_child_creds(struct job_child *);
static void	job_child_closefds(struct job_child *);
static void	job_child_exec(struct job_child *)
		    __attribute__((__noreturn__));
static void	job_child_clear(struct job_child *);
static void	job_readcb(struct bufferevent *, void *);
static void	job_writecb_in(struct bufferevent *, void *);
static void	job_eventcb(struct bufferevent *, short, void *);
static void	job_stream_close(struct job *, struct bufferevent *);
static void	job_killcb(evutil_socket_t, short, void *);
static void	job_lingercb(evutil_socket_t, short, void *);
static void	job_chldcb(evutil_socket_t, short, void *);
static void	job_reaped(struct job *);
static void	job_check(struct job *);
static void	job_destroy(struct job *);
static int	job_uid_round(struct job_uidstop *);
static void	job_uid_donecb(struct job *, int, void *);
static void	job_uid_timercb(evutil_socket_t, short, void *);
static void	job_uid_end(struct job_uidstop *, int);

/*
 * Watch SIGCHLD from before the first fork on, so no exit is missed.  It
 * stays until job_shutdown: freeing a signal event from inside its own
 * callback is not safe in libevent 2.1.
 */
int
job_init(void)
{
	if (job_ev_chld != NULL)
		return (0);
	job_ev_chld = evsignal_new(sbxd_env->sx_base, SIGCHLD, job_chldcb,
	    NULL);
	priv_listen("job.exit", job_exitcb, NULL);
	if (job_ev_chld == NULL || evsignal_add(job_ev_chld, NULL) == -1) {
		if (job_ev_chld != NULL)
			event_free(job_ev_chld);
		job_ev_chld = NULL;
		return (-1);
	}
	return (0);
}

/* At exit: kill every job's process group and reap it; forget them. */
void
job_shutdown(void)
{
	struct job	*j;
	int		 status;

	while ((j = TAILQ_FIRST(&jobs)) != NULL) {
		if (j->j_pid != -1 && priv_on()) {
			/* Killed by the privileged process when we go. */
			j->j_pid = -1;
		} else if (j->j_pid != -1) {
			(void)killpg(j->j_pid, SIGKILL);
			(void)kill(j->j_pid, SIGKILL);
			while (waitpid(j->j_pid, &status, 0) == -1 &&
			    errno == EINTR)
				;
			j->j_pid = -1;
		}
		job_destroy(j);
	}
	if (job_ev_chld != NULL) {
		event_free(job_ev_chld);
		job_ev_chld = NULL;
	}
}

/* Counters for sbxctl status. */
json_t *
job_status(void)
{
	return (json_pack("{s:s, s:i, s:I, s:I}",
	    "state", job_ev_chld != NULL ? "up" : "idle",
	    "running", job_count,
	    "started", (json_int_t)job_started,
	    "failed", (json_int_t)job_failed));
}

/*
 * Start a job.  Returns it running, or NULL with err saying why nothing
 * runs: no callback is ever called for a job that did not start.
 */
struct job *
job_run(const struct job_spec *js, char *err, size_t errlen)
{
	return (job_start(js, NULL, err, errlen));
}

/*
 * Start a job.  With handoff, the privileged process starts it for the
 * engine: our ends of its stdio are put there (-1 where none) for the
 * engine, and nothing here reads them.
 */
static struct job *
job_start(const struct job_spec *js, int *handoff, char *err,
    size_t errlen)
{
	struct job_child	 jc;
	struct job		*j = NULL;
	int			 pfd[3] = { -1, -1, -1 }, i;

	memset(&jc, 0, sizeof(jc));
	jc.jc_fd[0] = jc.jc_fd[1] = jc.jc_fd[2] = jc.jc_errfd = -1;
	if (job_init() == -1) {
		snprintf(err, errlen, "cannot watch SIGCHLD");
		goto fail;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	j->j_id = ++job_nextid;
	j->j_pid = -1;
	j->j_flags = js->js_flags;
	j->j_timeout = js->js_timeout;
	j->j_grace = js->js_grace;
	j->j_outputcb = js->js_output;
	j->j_writecb = js->js_write;
	j->j_donecb = js->js_done;
	j->j_arg = js->js_arg;
	snprintf(j->j_name, sizeof(j->j_name), "%s", js->js_name != NULL ?
	    js->js_name : "job");
	if ((j->j_ev_kill = evtimer_new(sbxd_env->sx_base, job_killcb,
	    j)) == NULL || (j->j_ev_linger = evtimer_new(sbxd_env->sx_base,
	    job_lingercb, j)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (priv_on()) {
		if (job_remote(j, js, pfd, err, errlen) == -1 ||
		    job_streams(j, pfd) == -1) {
			if (j->j_pid != -1 && err[0] == '\0')
				snprintf(err, errlen, "out of memory");
			if (j->j_pid != -1)
				job_kill(j, SIGKILL);
			j->j_pid = -1;
			goto fail;
		}
		goto started;
	}
	if (job_prepare(js, &jc, err, errlen) == -1 ||
	    ((js->js_flags & JOB_PTY) ? job_pty(js, &jc, pfd, err, errlen) :
	    job_pipes(js, &jc, pfd, err, errlen)) == -1)
		goto fail;
	if (handoff == NULL && job_streams(j, pfd) == -1) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if ((j->j_pid = job_spawn(&jc, err, errlen)) == -1)
		goto fail;
	job_child_clear(&jc);
	if (handoff != NULL) {
		memcpy(handoff, pfd, sizeof(pfd));
		j->j_engine = 1;
	}
started:
	TAILQ_INSERT_TAIL(&jobs, j, j_entry);
	j->j_listed = 1;
	job_count++;
	job_started++;
	if (j->j_timeout > 0) {
		struct timeval	 tv = { j->j_timeout, 0 };

		evtimer_add(j->j_ev_kill, &tv);
	}
	log_debug("%s: %s %llu: pid %ld", __func__, j->j_name,
	    (unsigned long long)j->j_id, (long)j->j_pid);
	return (j);
fail:
	job_failed++;
	for (i = 0; i < 3; i++)
		if (pfd[i] != -1)
			close(pfd[i]);
	job_child_clear(&jc);
	if (j != NULL)
		job_destroy(j);
	return (NULL);
}

/* The file to execute and the PATH to search for it, before fork. */
static int
job_prepare(const struct job_spec *js, struct job_child *jc, char *err,
    size_t errlen)
{
	char *const	*e;

	jc->jc_spec = js;
	if (js->js_fn != NULL)
		return (0);
	jc->jc_file = js->js_path != NULL ? js->js_path :
	    js->js_argv != NULL ? js->js_argv[0] : NULL;
	if (jc->jc_file == NULL || *jc->jc_file == '\0') {
		snprintf(err, errlen, "nothing to run");
		return (-1);
	}
	if (strchr(jc->jc_file, '/') != NULL)
		return (0);
	for (e = js->js_envp; e != NULL && *e != NULL; e++)
		if (strncmp(*e, "PATH=", 5) == 0)
			break;
	jc->jc_paths = strdup(e != NULL && *e != NULL ? *e + 5 :
	    JOB_DEFAULT_PATH);
	if (jc->jc_paths == NULL) {
		snprintf(err, errlen, "out of memory");
		return (-1);
	}
	return (0);
}

/* A pty of the requested size; the slave belongs to the job's user. */
static int
job_pty(const struct job_spec *js, struct job_child *jc, int *pfd,
    char *err, size_t errlen)
{
	struct winsize	 ws;
	const char	*name;
	int		 m, s = -1;

	if ((m = posix_openpt(O_RDWR | O_NOCTTY)) == -1 ||
	    fcntl(m, F_SETFD, FD_CLOEXEC) == -1 || grantpt(m) == -1 ||
	    unlockpt(m) == -1 || (name = ptsname(m)) == NULL ||
	    (s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)) == -1)
		goto fail;
	/* As login(1) leaves it: nobody else may read the user's typing. */
	if ((js->js_flags & JOB_CREDS) && geteuid() == 0 &&
	    (fchown(s, js->js_uid, (gid_t)-1) == -1 || fchmod(s, 0600) == -1))
		goto fail;
	memset(&ws, 0, sizeof(ws));
	ws.ws_row = js->js_rows;
	ws.ws_col = js->js_cols;
	if (ioctl(m, TIOCSWINSZ, &ws) == -1)
		goto fail;
	jc->jc_fd[0] = jc->jc_fd[1] = jc->jc_fd[2] = s;
	pfd[0] = m;
	return (0);
fail:
	snprintf(err, errlen, "pty: %s", strerror(errno));
	if (m != -1)
		close(m);
	if (s != -1)
		close(s);
	return (-1);
}

/*
 * A pipe for stdin if the job takes input, else /dev/null; pipes for
 * stdout and stderr, so they stay apart, unless the job's output is
 * not wanted.  All close on exec; the child moves its ends to 0-2.
 */
static int
job_pipes(const struct job_spec *js, struct job_child *jc, int *pfd,
    char *err, size_t errlen)
{
	int	 p[2], i, pipe_it;

	for (i = 0; i < 3; i++) {
		pipe_it = i == 0 ? (js->js_flags & JOB_STDIN) :
		    !(js->js_flags & JOB_NOOUTPUT);
		if (!pipe_it) {
			jc->jc_fd[i] = open("/dev/null", (i == 0 ? O_RDONLY :
			    O_WRONLY) | O_CLOEXEC);
			if (jc->jc_fd[i] == -1) {
				snprintf(err, errlen, "/dev/null: %s",
				    strerror(errno));
				return (-1);
			}
			continue;
		}
		if (job_pipe(p, err, errlen) == -1)
			return (-1);
		jc->jc_fd[i] = i == 0 ? p[0] : p[1];
		pfd[i] = i == 0 ? p[1] : p[0];
	}
	return (0);
}

/*
 * A pipe closed on exec, so that no other child inherits it (pipe2 is
 * not everywhere).
 */
static int
job_pipe(int p[2], char *err, size_t errlen)
{
	if (pipe(p) == -1) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return (-1);
	}
	if (fcntl(p[0], F_SETFD, FD_CLOEXEC) == -1 ||
	    fcntl(p[1], F_SETFD, FD_CLOEXEC) == -1) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return (-1);
	}
	return (0);
}

/* Bufferevents on our ends of the pty or pipes; takes the fds. */
static int
job_streams(struct job *j, int *pfd)
{
	struct bufferevent	**bevp[3] = { &j->j_in, &j->j_out, &j->j_err };
	int			 i;

	for (i = 0; i < 3; i++) {
		if (pfd[i] == -1)
			continue;
		if (evutil_make_socket_nonblocking(pfd[i]) == -1 ||
		    (*bevp[i] = bufferevent_socket_new(sbxd_env->sx_base,
		    pfd[i], BEV_OPT_CLOSE_ON_FREE)) == NULL)
			return (-1);
		pfd[i] = -1;
		bufferevent_setcb(*bevp[i], i == 0 ? NULL : job_readcb,
		    i == 0 ? job_writecb_in : NULL, job_eventcb, j);
	}
	if (j->j_flags & JOB_PTY) {
		j->j_out = j->j_in;	/* the master, both ways */
		bufferevent_setcb(j->j_in, job_readcb, job_writecb_in,
		    job_eventcb, j);
	}
	if (j->j_in != NULL) {
		bufferevent_setwatermark(j->j_in, EV_WRITE, JOB_LOWAT, 0);
		bufferevent_enable(j->j_in, EV_WRITE);
	}
	if (j->j_out != NULL)
		bufferevent_enable(j->j_out, EV_READ);
	if (j->j_err != NULL)
		bufferevent_enable(j->j_err, EV_READ);
	return (0);
}

/*
 * Fork and wait for the child to exec: it writes why setup failed, or
 * the pipe closes when exec succeeds (or, for a function, just before
 * it runs).  Until then the child makes only a few local system calls,
 * so the wait is short.  Every signal is blocked across fork so that no
 * handler of the loop's runs in the child before it resets them.
 */
static pid_t
job_spawn(struct job_child *jc, char *err, size_t errlen)
{
	char		 msg[JOB_ERR_MAX];
	sigset_t	 all, old;
	size_t		 len = 0;
	ssize_t		 n;
	int		 p[2], status, saved;
	pid_t		 pid;

	if (job_pipe(p, err, errlen) == -1)
		return (-1);
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	if ((pid = fork()) == 0) {
		close(p[0]);
		jc->jc_errfd = p[1];
		job_child(jc);
		/* NOTREACHED */
	}
	saved = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(p[1]);
	if (pid == -1) {
		snprintf(err, errlen, "fork: %s", strerror(saved));
		close(p[0]);
		return (-1);
	}
	while (len < sizeof(msg) - 1 && ((n = read(p[0], msg + len,
	    sizeof(msg) - 1 - len)) > 0 || (n == -1 && errno == EINTR)))
		if (n > 0)
			len += n;
	close(p[0]);
	if (len == 0)
		return (pid);
	msg[len] = '\0';
	snprintf(err, errlen, "%s", msg);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	return (-1);
}

/*
 * In the child: default signals, a new session (so a signal reaches the
 * whole process group), stdio, the cgroups and limits, the credentials,
 * the directory, nothing else open, then exec or the function.
 */
static void
job_child(struct job_child *jc)
{
	const struct job_spec	*js = jc->jc_spec;
	sigset_t		 none;
	int			 sig;

	/* The daemon ignores SIGPIPE; exec would pass that on. */
	for (sig = 1; sig < NSIG; sig++)
		(void)signal(sig, SIG_DFL);
	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) == -1)
		job_child_fail(jc, "sigprocmask");
	/* A daemon started with 0-2 closed may have had the pipe there. */
	if (jc->jc_errfd < 3 &&
	    (jc->jc_errfd = fcntl(jc->jc_errfd, F_DUPFD_CLOEXEC, 3)) == -1)
		_exit(JOB_EXEC_FAILED);
	if (setsid() == -1)
		job_child_fail(jc, "setsid");
	if ((js->js_flags & JOB_PTY) &&
	    ioctl(jc->jc_fd[0], TIOCSCTTY, 0) == -1)
		job_child_fail(jc, "TIOCSCTTY");
	job_child_stdio(jc);
	job_child_cgroups(jc);
	job_child_limits(jc);
	if (js->js_flags & JOB_CREDS)
		job_child_creds(jc);
	if (chdir(js->js_cwd != NULL ? js->js_cwd : "/") == -1)
		job_child_fail(jc, "chdir %s", js->js_cwd != NULL ?
		    js->js_cwd : "/");
	job_child_closefds(jc);
	if (js->js_fn != NULL) {
		close(jc->jc_errfd);	/* started: job_run returns */
		_exit(js->js_fn(js->js_fnarg) == 0 ? 0 : 1);
	}
	job_child_exec(jc);
}

/* Tell the parent what failed, with errno, and die. */
static void
job_child_fail(struct job_child *jc, const char *fmt, ...)
{
	char	 msg[JOB_ERR_MAX];
	va_list	 ap;
	int	 saved = errno, len;

	va_start(ap, fmt);
	len = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (len >= 0 && (size_t)len < sizeof(msg))
		snprintf(msg + len, sizeof(msg) - len, ": %s",
		    strerror(saved));
	(void)write(jc->jc_errfd, msg, strlen(msg));
	_exit(JOB_EXEC_FAILED);
}

/*
 * The three ends on 0, 1 and 2.  Each is first moved above 2, so that
 * no dup2 clobbers another (a daemon keeps 0-2 on /dev/null, but a test
 * may not).
 */
static void
job_child_stdio(struct job_child *jc)
{
	int	 fd[3], i;

	for (i = 0; i < 3; i++)
		if ((fd[i] = fcntl(jc->jc_fd[i], F_DUPFD, 3)) == -1)
			job_child_fail(jc, "dup");
	for (i = 0; i < 3; i++)
		if (dup2(fd[i], i) == -1)
			job_child_fail(jc, "dup2");
}

/*
 * Join each cgroup of the spec: writing 0 to its cgroup.procs moves this
 * process, and so everything it will start.  Done while still root,
 * since a sandbox's user may not write there.
 */
static void
job_child_cgroups(struct job_child *jc)
{
	char *const	*cg;
	char		 path[PATH_MAX];
	int		 fd, len;

	for (cg = jc->jc_spec->js_cgroups; cg != NULL && *cg != NULL; cg++) {
		len = snprintf(path, sizeof(path), "%s/cgroup.procs", *cg);
		if (len < 0 || (size_t)len >= sizeof(path)) {
			errno = ENAMETOOLONG;
			job_child_fail(jc, "cgroup %s", *cg);
		}
		if ((fd = open(path, O_WRONLY | O_CLOEXEC)) == -1 ||
		    write(fd, "0", 1) != 1)
			job_child_fail(jc, "cgroup %s", *cg);
		close(fd);
	}
}

/*
 * The limits every job starts with, not the daemon's: it raised its
 * descriptors to the hard limit for the proxy, which no child needs.  A
 * core file of a child could hold what it read of the daemon's or a
 * sandbox's files, and fill a disk: none.  RLIMIT_NPROC when the spec
 * asks.  Set before the credentials change, while the hard limits may
 * still be set at all.
 */
static void
job_child_limits(struct job_child *jc)
{
	const struct job_spec	*js = jc->jc_spec;
	struct rlimit		 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		job_child_fail(jc, "getrlimit");
	if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max > JOB_NOFILE_MAX)
		rl.rlim_max = JOB_NOFILE_MAX;
	rl.rlim_cur = rl.rlim_max < JOB_NOFILE ? rl.rlim_max : JOB_NOFILE;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		job_child_fail(jc, "setrlimit RLIMIT_NOFILE");
	rl.rlim_cur = rl.rlim_max = 0;
	if (setrlimit(RLIMIT_CORE, &rl) == -1)
		job_child_fail(jc, "setrlimit RLIMIT_CORE");
	if (js->js_nproc > 0) {
		rl.rlim_cur = rl.rlim_max = js->js_nproc;
		if (setrlimit(RLIMIT_NPROC, &rl) == -1)
			job_child_fail(jc, "setrlimit RLIMIT_NPROC");
	}
}

/*
 * The groups, gid and uid, each checked, and proof that root cannot be
 * had back.  A daemon that is not root (the tests) can only stay who it
 * is, and may run jobs only as itself.
 */
static void
job_child_creds(struct job_child *jc)
{
	const struct job_spec	*js = jc->jc_spec;

	if (js->js_uid == 0) {
		errno = EPERM;
		job_child_fail(jc, "refusing to run as root");
	}
	if (geteuid() != 0) {
		if (geteuid() != js->js_uid) {
			errno = EPERM;
			job_child_fail(jc, "setuid %ld", (long)js->js_uid);
		}
		return;
	}
	if (setgroups(js->js_ngroups, js->js_groups) == -1)
		job_child_fail(jc, "setgroups");
	if (setresgid(js->js_gid, js->js_gid, js->js_gid) == -1)
		job_child_fail(jc, "setgid %ld", (long)js->js_gid);
	if (setresuid(js->js_uid, js->js_uid, js->js_uid) == -1)
		job_child_fail(jc, "setuid %ld", (long)js->js_uid);
	if (getuid() != js->js_uid || geteuid() != js->js_uid ||
	    getgid() != js->js_gid || getegid() != js->js_gid) {
		errno = EPERM;
		job_child_fail(jc, "credentials did not change");
	}
	if (setuid(0) != -1) {
		errno = EPERM;
		job_child_fail(jc, "root regained after setuid");
	}
}

/* Nothing of the daemon's stays open but the error pipe, as fd 3. */
static void
job_child_closefds(struct job_child *jc)
{
	long	 fd, max;

	if (jc->jc_errfd != 3) {
		if (dup2(jc->jc_errfd, 3) == -1)
			job_child_fail(jc, "dup2");
		jc->jc_errfd = 3;
	}
	if (fcntl(3, F_SETFD, FD_CLOEXEC) == -1)
		job_child_fail(jc, "fcntl");
#if defined(__OpenBSD__)
	closefrom(4);
	return;
#elif defined(SYS_close_range)
	if (syscall(SYS_close_range, 4U, ~0U, 0) == 0)
		return;		/* else an old kernel: loop */
#endif
	if ((max = sysconf(_SC_OPEN_MAX)) == -1)
		max = 1024;
	for (fd = 4; fd < max; fd++)
		(void)close(fd);
}

/* execve, searching the job's PATH for a bare name. */
static void
job_child_exec(struct job_child *jc)
{
	const struct job_spec	*js = jc->jc_spec;
	static char		*noenv[] = { NULL };
	char *const		*envp = js->js_envp != NULL ? js->js_envp :
				    noenv;
	char			 path[PATH_MAX];
	const char		*dir, *end;
	int			 eacces = 0, len;

	if (jc->jc_paths == NULL) {
		execve(jc->jc_file, js->js_argv, envp);
		job_child_fail(jc, "%s", jc->jc_file);
	}
	for (dir = jc->jc_paths; ; dir = end + 1) {
		if ((end = strchr(dir, ':')) == NULL)
			end = dir + strlen(dir);
		len = snprintf(path, sizeof(path), "%.*s/%s",
		    (int)(end - dir), dir, jc->jc_file);
		if (end > dir && len > 0 && (size_t)len < sizeof(path)) {
			execve(path, js->js_argv, envp);
			if (errno == EACCES)
				eacces = 1;
		}
		if (*end == '\0')
			break;
	}
	errno = eacces ? EACCES : ENOENT;
	job_child_fail(jc, "%s", jc->jc_file);
}

/* Close the child's ends and free what prepare allocated. */
static void
job_child_clear(struct job_child *jc)
{
	int	 i;

	for (i = 0; i < 3; i++) {
		if (jc->jc_fd[i] != -1 && (i == 0 ||
		    jc->jc_fd[i] != jc->jc_fd[0]))
			close(jc->jc_fd[i]);
		jc->jc_fd[i] = -1;
	}
	free(jc->jc_paths);
	jc->jc_paths = NULL;
}

/* The pid, or -1 once the job is reaped. */
pid_t
job_pid(const struct job *j)
{
	return (j->j_pid);
}

/* Whether the job's timeout stopped it. */
int
job_timedout(const struct job *j)
{
	return (j->j_timedout);
}

/*
 * stdin's queue, for the caller to add to, or NULL once stdin is
 * closed (the job closed it, or EOF was sent).
 */
struct evbuffer *
job_input(struct job *j)
{
	if (j->j_in == NULL || j->j_in_end)
		return (NULL);
	return (bufferevent_get_output(j->j_in));
}

/* Queue bytes for stdin; dropped once stdin is closed.  0 or -1. */
int
job_write(struct job *j, const void *buf, size_t len)
{
	struct evbuffer	*in;

	if ((in = job_input(j)) == NULL)
		return (0);
	return (evbuffer_add(in, buf, len));
}

/*
 * No more input: stdin closes once what is queued is written.  A pty
 * cannot be closed one way: it gets its EOF character instead, as a
 * terminal would send.
 */
void
job_input_end(struct job *j)
{
	struct termios	 t;
	int		 fd;

	if (j->j_in == NULL || j->j_in_end)
		return;
	if (j->j_flags & JOB_PTY) {
		fd = bufferevent_getfd(j->j_in);
		if (tcgetattr(fd, &t) == 0 && t.c_cc[VEOF] != _POSIX_VDISABLE)
			bufferevent_write(j->j_in, &t.c_cc[VEOF], 1);
		return;
	}
	j->j_in_end = 1;
	if (evbuffer_get_length(bufferevent_get_output(j->j_in)) == 0)
		job_stream_close(j, j->j_in);
	else
		bufferevent_setwatermark(j->j_in, EV_WRITE, 0, 0);
}

/* Stop or restart reading the job's output, for a caller that lags. */
void
job_output_pause(struct job *j, int pause)
{
	struct bufferevent	*bev[2] = { j->j_out, j->j_err };
	int			 i;

	j->j_paused = pause;
	for (i = 0; i < 2; i++) {
		if (bev[i] == NULL)
			continue;
		if (pause)
			bufferevent_disable(bev[i], EV_READ);
		else
			bufferevent_enable(bev[i], EV_READ);
	}
}

/* A pty's new size; the kernel sends the job SIGWINCH. */
int
job_winsize(struct job *j, uint16_t rows, uint16_t cols)
{
	struct winsize	 ws;

	if (!(j->j_flags & JOB_PTY) || j->j_in == NULL)
		return (0);
	memset(&ws, 0, sizeof(ws));
	ws.ws_row = rows;
	ws.ws_col = cols;
	return (ioctl(bufferevent_getfd(j->j_in), TIOCSWINSZ, &ws));
}

/*
 * Stop the job: sig to its process group now, SIGKILL after the grace
 * if it is still there.  Its end is reported as usual.
 */
void
job_kill(struct job *j, int sig)
{
	struct timeval	 tv = { j->j_grace, 0 };

	if (j->j_pid == -1)
		return;
	log_debug("%s: %s %llu: signal %d", __func__, j->j_name,
	    (unsigned long long)j->j_id, sig);
	if (priv_on()) {
		/* The privileged process started it; it signals it. */
		if (priv_send("kill", json_pack("{s:I, s:i}", "job",
		    (json_int_t)j->j_rid, "signal", sig), job_killedcb,
		    NULL) == 0)
			log_warnx("%s: %s %llu: cannot ask for signal %d",
			    __func__, j->j_name, (unsigned long long)j->j_id,
			    sig);
	/* setsid made the child its group's leader before job_run ended. */
	} else if (killpg(j->j_pid, sig) == -1 && errno != ESRCH)
		log_warn("%s: %s %llu: kill", __func__, j->j_name,
		    (unsigned long long)j->j_id);
	if (j->j_sig == 0)
		j->j_sig = sig;
	evtimer_del(j->j_ev_kill);
	if (sig != SIGKILL)
		evtimer_add(j->j_ev_kill, &tv);
}

/*
 * The caller is done with the job: no callback runs again and its
 * streams close.  A job still running gets SIGKILL, unless a job_kill
 * is under way, which then goes on to SIGKILL after its grace; either
 * way it is reaped and freed in the background.
 */
void
job_free(struct job *j)
{
	if (j == NULL || j->j_indone)
		return;		/* in its done callback: freed after it */
	j->j_state = JOB_DETACHED;
	j->j_outputcb = NULL;
	j->j_writecb = NULL;
	j->j_donecb = NULL;
	job_stream_close(j, j->j_in);
	job_stream_close(j, j->j_out);
	job_stream_close(j, j->j_err);
	evtimer_del(j->j_ev_linger);
	if (j->j_pid == -1) {
		job_destroy(j);
		return;
	}
	if (j->j_sig == 0)
		job_kill(j, SIGKILL);
}

static void
job_readcb(struct bufferevent *bev, void *arg)
{
	struct job	*j = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);

	if (j->j_outputcb == NULL) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	j->j_outputcb(j, bev == j->j_err ? JOB_ERR : JOB_OUT, in, j->j_arg);
}

/* stdin drained below the low mark, or entirely after EOF was asked. */
static void
job_writecb_in(struct bufferevent *bev, void *arg)
{
	struct job	*j = arg;

	if (j->j_in_end &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		job_stream_close(j, bev);
	if (j->j_writecb != NULL)
		j->j_writecb(j, j->j_arg);
}

/*
 * EOF or an error on one of the streams.  A pty's master reads EIO once
 * every slave is closed: that is its EOF.  stdin failing (EPIPE) means
 * the job closed it: what comes for it now is dropped.
 */
static void
job_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct job	*j = arg;
	int		 output = bev == j->j_out || bev == j->j_err;

	log_debug("%s: %s %llu: %s %s", __func__, j->j_name,
	    (unsigned long long)j->j_id, bev == j->j_err ? "stderr" :
	    bev == j->j_out ? "stdout" : "stdin",
	    (what & BEV_EVENT_EOF) ? "closed" : strerror(errno));
	job_stream_close(j, bev);
	if (!output) {
		if (j->j_writecb != NULL)
			j->j_writecb(j, j->j_arg);
		return;
	}
	job_check(j);
}

/* Free one of the streams; a pty's master is two of them. */
static void
job_stream_close(struct job *j, struct bufferevent *bev)
{
	if (bev == NULL)
		return;
	if (j->j_in == bev)
		j->j_in = NULL;
	if (j->j_out == bev)
		j->j_out = NULL;
	if (j->j_err == bev)
		j->j_err = NULL;
	bufferevent_free(bev);
}

/* The timeout, or the end of a grace: escalate. */
static void
job_killcb(evutil_socket_t fd __unused, short events __unused, void *arg)
{
	struct job	*j = arg;

	if (j->j_pid == -1)
		return;
	if (j->j_sig == 0) {
		log_warnx("%s %llu: timed out after %d s, sending SIGTERM",
		    j->j_name, (unsigned long long)j->j_id, j->j_timeout);
		j->j_timedout = 1;
		job_kill(j, SIGTERM);
		return;
	}
	log_warnx("%s %llu: still running %d s after signal %d, sending "
	    "SIGKILL", j->j_name, (unsigned long long)j->j_id, j->j_grace,
	    j->j_sig);
	job_kill(j, SIGKILL);
}

/*
 * The job exited but something still holds its output open.  Output
 * paused for a slow caller is not held open: wait on.
 */
static void
job_lingercb(evutil_socket_t fd __unused, short events __unused, void *arg)
{
	struct job	*j = arg;
	struct timeval	 tv = { JOB_LINGER_SECS, 0 };

	if (j->j_paused) {
		evtimer_add(j->j_ev_linger, &tv);
		return;
	}
	log_debug("%s: %s %llu: output still open after exit", __func__,
	    j->j_name, (unsigned long long)j->j_id);
	job_stream_close(j, j->j_out);
	job_stream_close(j, j->j_err);
	job_check(j);
}

/*
 * Reap our children that have exited, each asked for by its pid.  A
 * callback may start or free jobs, so after each one the scan starts
 * over; every turn reaps one, so it ends.
 */
static void
job_chldcb(evutil_socket_t sig __unused, short events __unused,
    void *arg __unused)
{
	struct job	*j;
	pid_t		 r;
	int		 status;

again:
	TAILQ_FOREACH(j, &jobs, j_entry) {
		if (j->j_pid == -1)
			continue;
		while ((r = waitpid(j->j_pid, &status, WNOHANG)) == -1 &&
		    errno == EINTR)
			;
		if (r == 0)
			continue;
		if (r == -1) {
			log_warn("%s: %s %llu: waitpid %ld", __func__,
			    j->j_name, (unsigned long long)j->j_id,
			    (long)j->j_pid);
			status = -1;
		}
		j->j_pid = -1;
		j->j_status = status;
		job_reaped(j);
		goto again;
	}
}

static void
job_reaped(struct job *j)
{
	log_debug("%s: %s %llu: status %d", __func__, j->j_name,
	    (unsigned long long)j->j_id, j->j_status);
	evtimer_del(j->j_ev_kill);
	job_count--;
	if (j->j_state == JOB_DETACHED) {
		job_destroy(j);
		return;
	}
	job_check(j);
}

/*
 * Report the end once the job is reaped and its output has closed (or
 * lingered too long).  The job is freed after its callback.
 */
static void
job_check(struct job *j)
{
	struct timeval	 tv = { JOB_LINGER_SECS, 0 };
	job_donecb	 cb = j->j_donecb;

	if (j->j_pid != -1 || j->j_state != JOB_RUNNING)
		return;
	if (j->j_out != NULL || j->j_err != NULL) {
		if (!evtimer_pending(j->j_ev_linger, NULL))
			evtimer_add(j->j_ev_linger, &tv);
		return;
	}
	j->j_state = JOB_DETACHED;
	j->j_indone = 1;
	if (cb != NULL)
		cb(j, j->j_status, j->j_arg);
	job_destroy(j);
}

/* The last of a job: it is reaped, or never started. */
static void
job_destroy(struct job *j)
{
	if (j->j_pid != -1)
		return;		/* still to be reaped */
	if (j->j_listed)
		TAILQ_REMOVE(&jobs, j, j_entry);
	job_stream_close(j, j->j_in);
	job_stream_close(j, j->j_out);
	job_stream_close(j, j->j_err);
	if (j->j_ev_kill != NULL)
		event_free(j->j_ev_kill);
	if (j->j_ev_linger != NULL)
		event_free(j->j_ev_linger);
	free(j);
}

/*
 * Stop every process of uid: sig first (none: straight to SIGKILL), and
 * SIGKILL from grace seconds later, in rounds JOB_UID_MSECS apart until
 * none is left.  cb hears 0 then, or -1 if some outlived JOB_UID_ROUNDS
 * rounds of SIGKILL or a round could not run; always from the loop.
 */
struct job_uidstop *
job_stop_uid(uid_t uid, int sig, int grace, job_uidcb cb, void *arg)
{
	struct job_uidstop	*us;
	struct passwd		*pw;
	struct timeval		 tv = { 0, 0 };

	if (uid == 0 || (us = calloc(1, sizeof(*us))) == NULL)
		return (NULL);
	us->us_uid = uid;
	us->us_gid = (pw = getpwuid(uid)) != NULL ? pw->pw_gid : (gid_t)uid;
	us->us_sig = sig != 0 ? sig : SIGKILL;
	util_monotime(&us->us_kill_at);
	if (us->us_sig != SIGKILL)
		us->us_kill_at.tv_sec += grace;
	us->us_cb = cb;
	us->us_arg = arg;
	if ((us->us_ev = evtimer_new(sbxd_env->sx_base, job_uid_timercb,
	    us)) == NULL) {
		free(us);
		return (NULL);
	}
	evtimer_add(us->us_ev, &tv);	/* the first round, from the loop */
	return (us);
}

/* Forget a uid stop; its callback is not called. */
void
job_stop_uid_cancel(struct job_uidstop *us)
{
	if (us == NULL)
		return;
	job_free(us->us_job);
	event_free(us->us_ev);
	free(us);
}

static void
job_uid_timercb(evutil_socket_t fd __unused, short events __unused,
    void *arg)
{
	struct job_uidstop	*us = arg;
	int			 r;

	if ((r = job_uid_round(us)) != 1)
		job_uid_end(us, r);
}

/*
 * One round: 0 when no process of the uid is left, 1 when a helper was
 * started or the grace is still running, -1 when it cannot go on.
 */
static int
job_uid_round(struct job_uidstop *us)
{
	struct job_spec		 js;
	struct timespec		 now;
	struct timeval		 tv = { 0, JOB_UID_MSECS * 1000 };
	char			 name[32], err[JOB_ERR_MAX];
	int			 n;

	if ((n = job_uid_count(us->us_uid)) <= 0)
		return (n);
	util_monotime(&now);
	if (now.tv_sec >= us->us_kill_at.tv_sec)
		us->us_sig = SIGKILL;
	if (us->us_sig == 0) {
		/* A TERM was sent: give it the grace. */
		evtimer_add(us->us_ev, &tv);
		return (1);
	}
	if (us->us_sig == SIGKILL && us->us_rounds++ >= JOB_UID_ROUNDS) {
		log_warnx("uid %lu: %d processes outlived %d rounds of SIGKILL",
		    (unsigned long)us->us_uid, n, JOB_UID_ROUNDS);
		return (-1);
	}
	log_debug("%s: uid %lu: %d processes, signal %d", __func__,
	    (unsigned long)us->us_uid, n, us->us_sig);
	snprintf(name, sizeof(name), "kill uid %lu", (unsigned long)us->us_uid);
	memset(&js, 0, sizeof(js));
	js.js_name = name;
	js.js_flags = JOB_CREDS | JOB_NOOUTPUT;
	js.js_uid = us->us_uid;
	js.js_gid = us->us_gid;
	js.js_fn = job_uid_kill;
	js.js_fnname = "uidkill";
	if ((js.js_fnarg = json_pack("{s:i}", "signal", us->us_sig)) == NULL)
		return (-1);
	js.js_done = job_uid_donecb;
	js.js_arg = us;
	us->us_job = job_run(&js, err, sizeof(err));
	json_decref(js.js_fnarg);
	if (us->us_job == NULL) {
		log_warnx("uid %lu: cannot stop its processes: %s",
		    (unsigned long)us->us_uid, err);
		return (-1);
	}
	return (1);
}

/*
 * In the helper, as the uid: signal every process this uid may signal,
 * which are the uid's own (kill(-1) spares the caller).  Only the
 * signal of the round is sent; a TERM round is not repeated.
 */
int
job_uid_kill(json_t *arg)
{
	int	 sig;

	if (json_unpack(arg, "{s:i}", "signal", &sig) == -1 || sig <= 0 ||
	    sig >= NSIG)
		return (-1);
	if (kill(-1, sig) == -1 && errno != ESRCH)
		return (-1);
	return (0);
}

static void
job_uid_donecb(struct job *j __unused, int status, void *arg)
{
	struct job_uidstop	*us = arg;
	struct timeval		 tv = { 0, JOB_UID_MSECS * 1000 };

	us->us_job = NULL;
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		log_warnx("uid %lu: the helper that signals its processes "
		    "failed (status %d)", (unsigned long)us->us_uid, status);
		job_uid_end(us, -1);
		return;
	}
	/* After a TERM, the next rounds only count until the grace ends. */
	if (us->us_sig != SIGKILL)
		us->us_sig = 0;
	evtimer_add(us->us_ev, &tv);
}

static void
job_uid_end(struct job_uidstop *us, int r)
{
	job_uidcb	 cb = us->us_cb;
	void		*arg = us->us_arg;

	job_stop_uid_cancel(us);
	cb(r, arg);
}

/*
 * Call cb for every process that is not a zombie, with its pid and its
 * real, effective and saved uids.  Linux reads /proc; elsewhere -1.
 */
int
job_proc_walk(job_proccb cb, void *arg)
{
#ifdef __linux__
	DIR		*d;
	struct dirent	*de;
	FILE		*fp;
	char		 path[300], line[256], state;
	unsigned int	 r, e, s;
	uid_t		 ids[3];

	if ((d = opendir("/proc")) == NULL)
		return (-1);
	while ((de = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/status", de->d_name);
		if ((fp = fopen(path, "re")) == NULL)
			continue;
		state = 0;
		r = e = s = (unsigned int)-1;
		while (fgets(line, sizeof(line), fp) != NULL) {
			if (strncmp(line, "State:", 6) == 0)
				sscanf(line, "State: %c", &state);
			else
				sscanf(line, "Uid: %u %u %u", &r, &e, &s);
		}
		fclose(fp);
		if (state == 'Z' || state == 'X' || r == (unsigned int)-1)
			continue;
		ids[0] = r;
		ids[1] = e;
		ids[2] = s;
		cb(de->d_name, ids, arg);
	}
	closedir(d);
	return (0);
#else
	(void)cb;
	(void)arg;
	return (-1);
#endif
}

#ifdef __linux__
struct job_count {
	uid_t	 jc_uid;
	int	 jc_n;
};

static void
job_countcb(const char *pid __unused, const uid_t ids[3], void *arg)
{
	struct job_count	*c = arg;

	if (ids[0] == c->jc_uid || ids[1] == c->jc_uid ||
	    ids[2] == c->jc_uid)
		c->jc_n++;
}
#endif

/*
 * Processes, not zombies, whose real, effective or saved uid is uid, or
 * -1.  Linux counts through /proc; elsewhere the answer is 1 then 0, so
 * that a stop makes two rounds.
 */
int
job_uid_count(uid_t uid)
{
#ifdef __linux__
	struct job_count	 c = { uid, 0 };

	return (job_proc_walk(job_countcb, &c) == 0 ? c.jc_n : -1);
#else
	static int		 rounds;

	(void)uid;
	return (rounds++ % 2 == 0);
#endif
}

/* The functions a job started for the engine may run, by name. */
void
job_fns_set(const struct job_fn *fns)
{
	job_fns = fns;
}

/*
 * The engine: the privileged process starts the job, with the spec as
 * JSON, and hands over our ends of its stdio.
 */
static int
job_remote(struct job *j, const struct job_spec *js, int *pfd, char *err,
    size_t errlen)
{
	json_t		*req, *r, *which, *v;
	int		 fds[PRIV_FDS_MAX], nfds = 0, i, k;
	size_t		 n;

	err[0] = '\0';
	req = json_pack("{s:s, s:i, s:I, s:I, s:[], s:s*, s:o, s:i, s:s*, "
	    "s:o, s:o, s:s*, s:O*, s:i, s:i}",
	    "name", j->j_name, "flags", js->js_flags,
	    "uid", (json_int_t)js->js_uid, "gid", (json_int_t)js->js_gid,
	    "groups", "cwd", js->js_cwd,
	    "cgroups", js->js_cgroups != NULL ? job_strings(js->js_cgroups) :
	    json_array(), "nproc", js->js_nproc, "path", js->js_path,
	    "argv", js->js_argv != NULL ? job_strings(js->js_argv) :
	    json_array(), "envp", js->js_envp != NULL ?
	    job_strings(js->js_envp) : json_array(),
	    "fn", js->js_fn != NULL ? js->js_fnname : NULL,
	    "fnarg", js->js_fn != NULL ? js->js_fnarg : NULL,
	    "rows", js->js_rows, "cols", js->js_cols);
	if (req == NULL || js->js_ngroups < 0 ||
	    js->js_ngroups > NGROUPS_MAX || (js->js_fn != NULL &&
	    js->js_fnname == NULL)) {
		json_decref(req);
		return (util_err(err, errlen, "cannot describe the job"));
	}
	for (i = 0; i < js->js_ngroups; i++)
		json_array_append_new(json_object_get(req, "groups"),
		    json_integer(js->js_groups[i]));
	if ((r = priv_call("spawn", req, fds, &nfds, err, errlen)) == NULL)
		return (-1);
	which = json_object_get(r, "fds");
	n = json_array_size(which);
	if (!json_is_integer(json_object_get(r, "pid")) ||
	    !json_is_integer(json_object_get(r, "job")) ||
	    n != (size_t)nfds) {
		for (i = 0; i < nfds; i++)
			close(fds[i]);
		json_decref(r);
		return (util_err(err, errlen, "a bad reply to spawn"));
	}
	j->j_pid = (pid_t)json_integer_value(json_object_get(r, "pid"));
	j->j_rid = (uint64_t)json_integer_value(json_object_get(r, "job"));
	json_array_foreach(which, n, v) {
		k = (int)json_integer_value(v);
		if (k >= 0 && k < 3 && pfd[k] == -1)
			pfd[k] = fds[n];
		else
			close(fds[n]);
	}
	json_decref(r);
	return (0);
}

/* The engine: a job of ours ended in the privileged process. */
static void
job_exitcb(json_t *note, int *fds, int nfds, void *arg __unused)
{
	struct job	*j;
	json_int_t	 id, status;
	int		 i;

	for (i = 0; i < nfds; i++)
		close(fds[i]);
	if (json_unpack(note, "{s:I, s:I}", "job", &id, "status", &status) ==
	    -1)
		return;
	TAILQ_FOREACH(j, &jobs, j_entry)
		if (j->j_pid != -1 && j->j_rid == (uint64_t)id)
			break;
	if (j == NULL)
		return;
	j->j_pid = -1;
	j->j_status = (int)status;
	job_reaped(j);
}

static void
job_killedcb(json_t *reply __unused, const char *err, int *fds, int nfds,
    void *arg __unused)
{
	int	 i;

	for (i = 0; i < nfds; i++)
		close(fds[i]);
	if (err != NULL)
		log_debug("%s: %s", __func__, err);
}

static json_t *
job_strings(char *const *v)
{
	json_t	*a;
	size_t	 i;

	if ((a = json_array()) == NULL)
		return (NULL);
	for (i = 0; v[i] != NULL; i++)
		if (json_array_append_new(a, json_string(v[i])) == -1) {
			json_decref(a);
			return (NULL);
		}
	return (a);
}

/* A NULL-terminated copy of an array of strings without NUL in them. */
static int
job_strings_get(json_t *args, const char *key, char ***out, char *err,
    size_t errlen)
{
	json_t	*a = json_object_get(args, key), *v;
	char	**r;
	size_t	 i;

	*out = NULL;
	if (!json_is_array(a) || json_array_size(a) > JOB_ARGS_MAX)
		return (util_err(err, errlen, "%s: not an array of at most "
		    "%d strings", key, JOB_ARGS_MAX));
	if ((r = calloc(json_array_size(a) + 1, sizeof(*r))) == NULL)
		return (util_err(err, errlen, "out of memory"));
	json_array_foreach(a, i, v) {
		if (!json_is_string(v) ||
		    strlen(json_string_value(v)) != json_string_length(v) ||
		    (r[i] = strdup(json_string_value(v))) == NULL) {
			job_strings_free(r);
			return (util_err(err, errlen, "%s[%zu]: not a string "
			    "without NUL", key, i));
		}
	}
	*out = r;
	return (0);
}

static void
job_strings_free(char **v)
{
	size_t	 i;

	for (i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/*
 * The privileged process: a spawn request, checked.  Only a sandbox
 * user's job: its uid, gid and groups in the sandbox uid-range, its
 * directory below the sandbox homes, its cgroups below the sandboxes'
 * parent, a function only one of the list.  What it runs is the
 * sandbox user's business: it gets nothing that user does not have.
 */
static int
job_spec_parse(json_t *args, struct job_spec *js, gid_t *groups, char *err,
    size_t errlen)
{
	const struct sbxd_config	*conf = priv_conf();
	const struct sandbox_conf	*sbc = &conf->sc_sandbox;
	json_error_t			 jerr;
	json_t				*jgroups, *v, *fnarg = NULL;
	json_int_t			 uid, gid;
	const char			*name, *cwd = NULL, *path = NULL;
	const char			*fn = NULL;
	char				**cg = NULL, **argv = NULL, **envp = NULL;
	size_t				 i;
	int				 flags, nproc, rows, cols;

	if (json_unpack_ex(args, &jerr, JSON_STRICT, "{s:s, s:i, s:I, s:I, "
	    "s:o, s?s, s:o, s:i, s?s, s:o, s:o, s?s, s?o, s:i, s:i}",
	    "name", &name, "flags", &flags, "uid", &uid, "gid", &gid,
	    "groups", &jgroups, "cwd", &cwd, "cgroups", &v, "nproc", &nproc,
	    "path", &path, "argv", &v, "envp", &v, "fn", &fn, "fnarg", &fnarg,
	    "rows", &rows, "cols", &cols) == -1)
		return (util_err(err, errlen, "bad arguments: %s", jerr.text));
	if (!sbc->sbc_enabled)
		return (util_err(err, errlen, "sandboxes are off"));
	if (flags & ~(JOB_CREDS | JOB_PTY | JOB_STDIN | JOB_NOOUTPUT))
		return (util_err(err, errlen, "unknown flags 0x%x", flags));
	if (!(flags & JOB_CREDS))
		return (util_err(err, errlen, "a job must run as a sandbox "
		    "user, not as root"));
	if (uid < sbc->sbc_uid_min || uid > sbc->sbc_uid_max ||
	    gid < sbc->sbc_uid_min || gid > sbc->sbc_uid_max)
		return (util_err(err, errlen, "uid %lld or gid %lld is outside "
		    "the sandbox uid-range %lu-%lu", (long long)uid,
		    (long long)gid, (unsigned long)sbc->sbc_uid_min,
		    (unsigned long)sbc->sbc_uid_max));
	if (!json_is_array(jgroups) || json_array_size(jgroups) > 1)
		return (util_err(err, errlen, "groups: at most one"));
	json_array_foreach(jgroups, i, v) {
		if (!json_is_integer(v) ||
		    json_integer_value(v) < sbc->sbc_uid_min ||
		    json_integer_value(v) > sbc->sbc_uid_max)
			return (util_err(err, errlen, "group %lld is outside "
			    "the sandbox uid-range", (long long)
			    json_integer_value(v)));
		groups[i] = (gid_t)json_integer_value(v);
	}
	if (cwd != NULL && (cwd[0] != '/' || strstr(cwd, "/..") != NULL ||
	    !util_path_below(cwd, sbc->sbc_home)))
		return (util_err(err, errlen, "directory %s is not below the "
		    "sandbox homes %s", cwd, sbc->sbc_home));
	if (nproc < 0 || rows < 0 || rows > 65535 || cols < 0 ||
	    cols > 65535)
		return (util_err(err, errlen, "bad nproc, rows or cols"));
	if (fn != NULL) {
		for (i = 0; job_fns != NULL && job_fns[i].jf_name != NULL; i++)
			if (strcmp(job_fns[i].jf_name, fn) == 0)
				break;
		if (job_fns == NULL || job_fns[i].jf_name == NULL)
			return (util_err(err, errlen, "no function %s", fn));
		if (!json_is_object(fnarg))
			return (util_err(err, errlen, "fnarg: not an object"));
		js->js_fn = job_fns[i].jf_fn;
		js->js_fnarg = fnarg;
		js->js_fnname = fn;
	} else if (fnarg != NULL)
		return (util_err(err, errlen, "fnarg without fn"));
	if (job_strings_get(args, "cgroups", &cg, err, errlen) == -1 ||
	    job_strings_get(args, "argv", &argv, err, errlen) == -1 ||
	    job_strings_get(args, "envp", &envp, err, errlen) == -1)
		goto fail;
	for (i = 0; cg[i] != NULL; i++)
		if (job_cgroup_ok == NULL ||
		    job_cgroup_ok(cg[i], err, errlen) == -1) {
			if (job_cgroup_ok == NULL)
				util_err(err, errlen, "no cgroups here");
			goto fail;
		}
	if (fn == NULL && (argv[0] == NULL || (path != NULL &&
	    path[0] != '/'))) {
		util_err(err, errlen, "nothing to run");
		goto fail;
	}
	js->js_name = name;
	js->js_flags = flags;
	js->js_uid = (uid_t)uid;
	js->js_gid = (gid_t)gid;
	js->js_groups = groups;
	js->js_ngroups = (int)json_array_size(jgroups);
	js->js_cwd = cwd;
	js->js_cgroups = cg[0] != NULL ? cg : NULL;
	js->js_nproc = nproc;
	js->js_path = path;
	js->js_argv = argv;
	js->js_envp = envp;
	js->js_rows = (uint16_t)rows;
	js->js_cols = (uint16_t)cols;
	if (js->js_cgroups == NULL)
		job_strings_free(cg);
	return (0);
fail:
	job_strings_free(cg);
	job_strings_free(argv);
	job_strings_free(envp);
	return (-1);
}

/* "spawn": start a job for the engine and hand it its stdio. */
void
job_priv_spawn(struct priv_req *pr, json_t *args, int *fds, int nfds)
{
	struct job_spec	 js;
	struct job	*j;
	gid_t		 groups[1];
	json_t		*which;
	char		 err[JOB_ERR_MAX];
	int		 pfd[3] = { -1, -1, -1 }, out[3], nout = 0, i;

	for (i = 0; i < nfds; i++)
		close(fds[i]);
	memset(&js, 0, sizeof(js));
	if (job_spec_parse(args, &js, groups, err, sizeof(err)) == -1) {
		priv_refuse(pr, "%s", err);
		return;
	}
	js.js_done = job_priv_donecb;
	j = job_start(&js, pfd, err, sizeof(err));
	job_strings_free((char **)js.js_cgroups);
	job_strings_free((char **)js.js_argv);
	job_strings_free((char **)js.js_envp);
	if (j == NULL) {
		priv_reply(pr, json_pack("{s:s}", "error", err), NULL, 0);
		return;
	}
	j->j_arg = j;
	if ((which = json_array()) == NULL) {
		job_free(j);
		for (i = 0; i < 3; i++)
			if (pfd[i] != -1)
				close(pfd[i]);
		priv_reply(pr, NULL, NULL, 0);
		return;
	}
	for (i = 0; i < 3; i++)
		if (pfd[i] != -1) {
			out[nout++] = pfd[i];
			json_array_append_new(which, json_integer(i));
		}
	priv_reply(pr, json_pack("{s:I, s:I, s:o}", "job",
	    (json_int_t)j->j_id, "pid", (json_int_t)j->j_pid, "fds", which),
	    out, nout);
}

static void
job_priv_donecb(struct job *j, int status, void *arg __unused)
{
	priv_note("job.exit", json_pack("{s:I, s:i}", "job",
	    (json_int_t)j->j_id, "status", status), NULL, 0);
}

/* "kill": a signal to the process group of a job of the engine's. */
void
job_priv_kill(struct priv_req *pr, json_t *args, int *fds, int nfds)
{
	struct job	*j;
	json_int_t	 id;
	int		 sig, i;

	for (i = 0; i < nfds; i++)
		close(fds[i]);
	if (json_unpack(args, "{s:I, s:i !}", "job", &id, "signal", &sig) ==
	    -1 || sig <= 0 || sig >= NSIG) {
		priv_refuse(pr, "bad arguments: want job and signal");
		return;
	}
	TAILQ_FOREACH(j, &jobs, j_entry)
		if (j->j_engine && j->j_id == (uint64_t)id && j->j_pid != -1)
			break;
	if (j == NULL) {
		/* It may have ended a moment ago. */
		priv_reply(pr, json_pack("{s:b}", "running", 0), NULL, 0);
		return;
	}
	if (killpg(j->j_pid, sig) == -1 && errno != ESRCH) {
		priv_refuse(pr, "kill: %s", strerror(errno));
		return;
	}
	priv_reply(pr, json_pack("{s:b}", "running", 1), NULL, 0);
}

/* The engine is gone: every job it had is killed, and reaped here. */
void
job_priv_engine_gone(void)
{
	struct job	*j;

	TAILQ_FOREACH(j, &jobs, j_entry) {
		if (!j->j_engine || j->j_pid == -1)
			continue;
		(void)killpg(j->j_pid, SIGKILL);
		j->j_donecb = NULL;
	}
}

void
job_cgroup_check_set(int (*fn)(const char *, char *, size_t))
{
	job_cgroup_ok = fn;
}
