/*
 * sandbox_exec.c: "sbxctl exec", the daemon side.  A command runs as a
 * sandbox's user, in its own session, with a fresh environment (never
 * the daemon's), the user's groups and home, on a pty or on three pipes.
 * The request's connection is taken over from control.c and relays the
 * command's stdio in the frames described in sbxd_proto.h, with
 * bounded buffers both ways, until the command has exited and its output
 * is drained; then an EXIT frame ends it.  If the client leaves first,
 * the command's process group is signalled and reaped.
 *
 * Children are reaped from a SIGCHLD event by pid, never waitpid(-1):
 * other parts of the daemon may have children of their own, and
 * libevent runs every event registered for the signal.
 */

#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
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
#include "sandbox.h"

#define SANDBOX_EXEC_PATH	"/usr/local/bin:/usr/bin:/bin" /* PATH in a
					   sandbox: nothing of the host's */
#define SANDBOX_EXEC_HIWAT	(256 * 1024) /* bytes queued toward one side
					   before reading the other pauses */
#define SANDBOX_EXEC_LOWAT	(64 * 1024) /* reading resumes below this */
#define SANDBOX_EXEC_LINGER_SECS 2	/* after the exit, wait this long
					   for output a background process
					   still holds open */
#define SANDBOX_EXEC_FLUSH_SECS	30	/* a client that takes nothing of
					   its last output for this long is
					   dropped */
#define SANDBOX_EXEC_ERR_MAX	256	/* a child's setup error */
#define SANDBOX_EXEC_ENV_BASE	6	/* HOME USER LOGNAME SHELL PATH TERM */
#define SANDBOX_EXEC_GROUPS	64	/* first guess at a user's groups */

/* One running command and its client connection. */
struct sandbox_exec {
	TAILQ_ENTRY(sandbox_exec)	 ex_entry;
	uint64_t			 ex_id;
	char				 ex_name[SBXD_NAME_MAX];
	uid_t				 ex_uid;
	pid_t				 ex_pid;	/* -1: none, or reaped */
	int				 ex_status;	/* code or 128 + signal */
	int				 ex_tty;
	struct bufferevent		*ex_client;	/* NULL once gone */
	struct bufferevent		*ex_stdin;	/* the pty master with a
							   tty; NULL: closed */
	struct bufferevent		*ex_stdout;	/* NULL at EOF */
	struct bufferevent		*ex_stderr;	/* NULL at EOF, or tty */
	int				 ex_stdin_eof;	/* client sent EOF */
	int				 ex_paused;	/* output reading stopped:
							   the client lags */
	int				 ex_done;	/* EXIT queued */
	struct event			*ex_timer;	/* linger, then kill */
	size_t				 ex_peak;	/* most bytes queued */
};
TAILQ_HEAD(sandbox_execs, sandbox_exec);

/* What the child needs between fork and exec, made ready by the parent. */
struct sandbox_exec_child {
	int				 ec_fd[3];	/* stdin, stdout, stderr;
							   a pty's slave thrice */
	int				 ec_tty;
	int				 ec_errfd;	/* setup errors; cloexec */
	uid_t				 ec_uid;
	gid_t				 ec_gid;
	gid_t				*ec_groups;
	int				 ec_ngroups;
	const char			*ec_home;
	const char			*ec_path;	/* no '/': search PATH */
	char *const			*ec_argv;
	char				**ec_envp;
	char				 ec_argv0[PATH_MAX];	/* "-sh" */
	char				*ec_login[2];
};

static struct sandbox_execs	 sandbox_execs =
				    TAILQ_HEAD_INITIALIZER(sandbox_execs);
static struct event		*sandbox_exec_ev_chld;
static uint64_t			 sandbox_exec_nextid;
static int			 sandbox_exec_count;
static uint64_t			 sandbox_exec_started;
static uint64_t			 sandbox_exec_failed;
static uint64_t			 sandbox_exec_badframes;
static size_t			 sandbox_exec_peak_all;

static int	sandbox_exec_spec_check(const struct sandbox_exec_spec *,
		    char *, size_t);
static int	sandbox_exec_sigchld(char *, size_t);
static int	sandbox_exec_prepare(const struct sandbox_exec_spec *,
		    struct sandbox_exec_child *, char *, size_t);
static void	sandbox_exec_child_clear(struct sandbox_exec_child *);
static char	**sandbox_exec_env(const struct sandbox_exec_spec *);
static int	sandbox_exec_env_put(char **, size_t *, char *);
static int	sandbox_exec_env_add(char **, size_t *, const char *,
		    const char *);
static void	sandbox_exec_env_free(char **);
static int	sandbox_exec_groups(const struct sandbox_exec_spec *,
		    struct sandbox_exec_child *);
static int	sandbox_exec_pty(const struct sandbox_exec_spec *,
		    struct sandbox_exec_child *, int *, char *, size_t);
static int	sandbox_exec_pipes(struct sandbox_exec_child *, int *,
		    char *, size_t);
static int	sandbox_exec_streams(struct sandbox_exec *, int *);
static pid_t	sandbox_exec_spawn(struct sandbox_exec_child *, char *,
		    size_t);
static void	sandbox_exec_child(struct sandbox_exec_child *)
		    __attribute__((__noreturn__));
static void	sandbox_exec_child_fail(struct sandbox_exec_child *,
		    const char *, ...)
		    __attribute__((__noreturn__, __format__ (printf, 2, 3)));
static void	sandbox_exec_child_creds(struct sandbox_exec_child *);
static void	sandbox_exec_child_closefds(struct sandbox_exec_child *);
static void	sandbox_exec_child_exec(struct sandbox_exec_child *)
		    __attribute__((__noreturn__));
static struct sandbox_exec *sandbox_exec_new(
		    const struct sandbox_exec_spec *);
static void	sandbox_exec_free(struct sandbox_exec *);
static void	sandbox_exec_attach(struct sandbox_exec *,
		    struct bufferevent *);
static void	sandbox_exec_stream_close(struct sandbox_exec *,
		    struct bufferevent *);
static void	sandbox_exec_client_readcb(struct bufferevent *, void *);
static void	sandbox_exec_client_writecb(struct bufferevent *, void *);
static void	sandbox_exec_client_eventcb(struct bufferevent *, short,
		    void *);
static int	sandbox_exec_frame_check(struct sandbox_exec *, int,
		    uint32_t);
static void	sandbox_exec_frame(struct sandbox_exec *, int, uint32_t,
		    struct evbuffer *);
static void	sandbox_exec_stdin_eof(struct sandbox_exec *);
static void	sandbox_exec_winsize(struct sandbox_exec *,
		    struct evbuffer *);
static int	sandbox_exec_frame_hdr(struct evbuffer *, int, uint32_t);
static void	sandbox_exec_stdout_readcb(struct bufferevent *, void *);
static void	sandbox_exec_stderr_readcb(struct bufferevent *, void *);
static void	sandbox_exec_relay(struct sandbox_exec *,
		    struct bufferevent *, int);
static void	sandbox_exec_stdin_writecb(struct bufferevent *, void *);
static void	sandbox_exec_stream_eventcb(struct bufferevent *, short,
		    void *);
static void	sandbox_exec_peak(struct sandbox_exec *, struct evbuffer *);
static void	sandbox_exec_pause(struct sandbox_exec *, int);
static void	sandbox_exec_chldcb(evutil_socket_t, short, void *);
static void	sandbox_exec_check(struct sandbox_exec *);
static void	sandbox_exec_finish(struct sandbox_exec *);
static void	sandbox_exec_hangup(struct sandbox_exec *, const char *);
static void	sandbox_exec_timercb(evutil_socket_t, short, void *);

/*
 * Fill the request's part of spec from an exec request: argv, tty, rows,
 * cols and TERM (the only variable a client may set).  The strings stay
 * in req; sandbox_exec_spec_clear frees the rest.  -1: err says why.
 */
int
sandbox_exec_spec_parse(json_t *req, struct sandbox_exec_spec *spec,
    char *err, size_t errlen)
{
	json_t		*argv = json_object_get(req, "argv"), *v;
	json_t		*tty = json_object_get(req, "tty"), *term;
	const char	*key[2] = { "rows", "cols" };
	uint16_t	*dst[2] = { &spec->es_rows, &spec->es_cols };
	char		**av;
	size_t		 i;

	spec->es_argv = NULL;
	if (argv != NULL && !json_is_null(argv)) {
		if (!json_is_array(argv) || json_array_size(argv) == 0 ||
		    json_array_size(argv) > SANDBOX_EXEC_ARGV_MAX) {
			snprintf(err, errlen, "\"argv\" must be a list of 1 "
			    "to %d strings", SANDBOX_EXEC_ARGV_MAX);
			return (-1);
		}
		if ((av = calloc(json_array_size(argv) + 1,
		    sizeof(*av))) == NULL) {
			snprintf(err, errlen, "out of memory");
			return (-1);
		}
		spec->es_argv = av;
		json_array_foreach(argv, i, v) {
			if (!json_is_string(v) || strlen(json_string_value(v))
			    != json_string_length(v) || (i == 0 &&
			    json_string_length(v) == 0)) {
				snprintf(err, errlen, "\"argv\": word %zu is "
				    "not a string without NUL bytes", i);
				goto fail;
			}
			av[i] = (char *)json_string_value(v);
		}
	}
	if (tty != NULL && !json_is_boolean(tty)) {
		snprintf(err, errlen, "\"tty\" must be true or false");
		goto fail;
	}
	spec->es_tty = json_is_true(tty);
	for (i = 0; i < 2; i++) {
		*dst[i] = 0;
		if ((v = json_object_get(req, key[i])) == NULL)
			continue;
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > UINT16_MAX) {
			snprintf(err, errlen, "\"%s\" must be a number from 0 "
			    "to %d", key[i], UINT16_MAX);
			goto fail;
		}
		*dst[i] = (uint16_t)json_integer_value(v);
	}
	spec->es_term = NULL;
	term = json_object_get(json_object_get(req, "env"), "TERM");
	if (term != NULL) {
		spec->es_term = json_string_value(term);
		if (spec->es_term == NULL || *spec->es_term == '\0' ||
		    strlen(spec->es_term) > SANDBOX_EXEC_TERM_MAX ||
		    strspn(spec->es_term, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.+-_") !=
		    strlen(spec->es_term)) {
			snprintf(err, errlen, "\"env\": bad TERM");
			goto fail;
		}
	}
	return (0);
fail:
	sandbox_exec_spec_clear(spec);
	return (-1);
}

/* Free what sandbox_exec_spec_parse allocated. */
void
sandbox_exec_spec_clear(struct sandbox_exec_spec *spec)
{
	free((void *)spec->es_argv);
	spec->es_argv = NULL;
}

/*
 * Start spec's command for cr.  On success the command runs, cr is
 * answered {"ok":true} and its connection belongs to the new session;
 * returns 0.  On failure cr is untouched and err says why: the caller
 * answers it with control_req_error.
 */
int
sandbox_exec_start(struct control_req *cr,
    const struct sandbox_exec_spec *spec, char *err, size_t errlen)
{
	struct sandbox_exec_child	 ec;
	struct sandbox_exec		*ex = NULL;
	struct bufferevent		*bev;
	int				 pfd[3] = { -1, -1, -1 }, i;
	pid_t				 pid;

	memset(&ec, 0, sizeof(ec));
	ec.ec_fd[0] = ec.ec_fd[1] = ec.ec_fd[2] = ec.ec_errfd = -1;
	if (sandbox_exec_spec_check(spec, err, errlen) == -1 ||
	    sandbox_exec_sigchld(err, errlen) == -1)
		goto fail;
	if ((ex = sandbox_exec_new(spec)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (sandbox_exec_prepare(spec, &ec, err, errlen) == -1 ||
	    (spec->es_tty ? sandbox_exec_pty(spec, &ec, pfd, err, errlen) :
	    sandbox_exec_pipes(&ec, pfd, err, errlen)) == -1)
		goto fail;
	if (sandbox_exec_streams(ex, pfd) == -1) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if ((pid = sandbox_exec_spawn(&ec, err, errlen)) == -1)
		goto fail;
	sandbox_exec_child_clear(&ec);
	ex->ex_pid = pid;
	sandbox_exec_started++;
	log_info("sandbox %s: exec %llu: pid %ld uid %ld%s: %s", ex->ex_name,
	    (unsigned long long)ex->ex_id, (long)pid, (long)ex->ex_uid,
	    ex->ex_tty ? " pty" : "", ec.ec_path);
	events_publish("sandbox.exec", json_pack("{s:s, s:I, s:I, s:b, "
	    "s:s}", "sandbox", ex->ex_name, "uid", (json_int_t)ex->ex_uid,
	    "pid", (json_int_t)pid, "tty", ex->ex_tty, "command",
	    ec.ec_path));
	if (control_req_takeover(cr, &bev) == -1) {
		sandbox_exec_hangup(ex, "client went away");
		snprintf(err, errlen, "client went away");
		return (-1);
	}
	sandbox_exec_attach(ex, bev);
	return (0);
fail:
	sandbox_exec_failed++;
	for (i = 0; i < 3; i++)
		if (pfd[i] != -1)
			close(pfd[i]);
	sandbox_exec_child_clear(&ec);
	if (ex != NULL)
		sandbox_exec_free(ex);
	return (-1);
}

/* Never root, and everything a login needs. */
static int
sandbox_exec_spec_check(const struct sandbox_exec_spec *spec, char *err,
    size_t errlen)
{
	char *const	*e;
	int		 n = 0;

	if (spec->es_uid == 0 || spec->es_gid == 0) {
		snprintf(err, errlen, "refusing to run a command as root");
		return (-1);
	}
	if (spec->es_user == NULL || spec->es_home == NULL ||
	    spec->es_shell == NULL || *spec->es_home != '/' ||
	    *spec->es_shell != '/') {
		snprintf(err, errlen, "no user, home or shell");
		return (-1);
	}
	for (e = spec->es_env; e != NULL && *e != NULL; e++)
		if (++n > SANDBOX_EXEC_ENV_MAX || strchr(*e, '=') == NULL ||
		    **e == '=') {
			snprintf(err, errlen, "bad environment");
			return (-1);
		}
	return (0);
}

/* Watch SIGCHLD from the first exec on. */
static int
sandbox_exec_sigchld(char *err, size_t errlen)
{
	if (sandbox_exec_ev_chld != NULL)
		return (0);
	sandbox_exec_ev_chld = evsignal_new(sbxd_env->sx_base, SIGCHLD,
	    sandbox_exec_chldcb, NULL);
	if (sandbox_exec_ev_chld == NULL ||
	    evsignal_add(sandbox_exec_ev_chld, NULL) == -1) {
		if (sandbox_exec_ev_chld != NULL)
			event_free(sandbox_exec_ev_chld);
		sandbox_exec_ev_chld = NULL;
		snprintf(err, errlen, "cannot watch SIGCHLD");
		return (-1);
	}
	return (0);
}

/*
 * Everything the child needs, computed before fork: after it the child
 * only makes system calls, no name service lookups.
 */
static int
sandbox_exec_prepare(const struct sandbox_exec_spec *spec,
    struct sandbox_exec_child *ec, char *err, size_t errlen)
{
	const char	*base;

	ec->ec_tty = spec->es_tty;
	ec->ec_uid = spec->es_uid;
	ec->ec_gid = spec->es_gid;
	ec->ec_home = spec->es_home;
	if (spec->es_argv != NULL) {
		ec->ec_path = spec->es_argv[0];
		ec->ec_argv = spec->es_argv;
	} else {
		/* A login shell: argv[0] is "-" and the shell's name. */
		base = strrchr(spec->es_shell, '/') + 1;
		snprintf(ec->ec_argv0, sizeof(ec->ec_argv0), "-%s", base);
		ec->ec_login[0] = ec->ec_argv0;
		ec->ec_login[1] = NULL;
		ec->ec_path = spec->es_shell;
		ec->ec_argv = ec->ec_login;
	}
	if ((ec->ec_envp = sandbox_exec_env(spec)) == NULL ||
	    sandbox_exec_groups(spec, ec) == -1) {
		snprintf(err, errlen, "out of memory");
		return (-1);
	}
	return (0);
}

/* Close the child's ends and free what prepare allocated. */
static void
sandbox_exec_child_clear(struct sandbox_exec_child *ec)
{
	int	 i;

	for (i = 0; i < 3; i++) {
		if (ec->ec_fd[i] != -1 && (i == 0 ||
		    ec->ec_fd[i] != ec->ec_fd[0]))
			close(ec->ec_fd[i]);
		ec->ec_fd[i] = -1;
	}
	sandbox_exec_env_free(ec->ec_envp);
	ec->ec_envp = NULL;
	free(ec->ec_groups);
	ec->ec_groups = NULL;
}

/*
 * HOME, USER, LOGNAME, SHELL, PATH, TERM with a pty, then the caller's
 * variables, which replace a base one of the same name.
 */
static char **
sandbox_exec_env(const struct sandbox_exec_spec *spec)
{
	char *const	*e;
	char		**env, *kv;
	size_t		 n = 0;

	env = calloc(SANDBOX_EXEC_ENV_BASE + SANDBOX_EXEC_ENV_MAX + 1,
	    sizeof(*env));
	if (env == NULL)
		return (NULL);
	if (sandbox_exec_env_add(env, &n, "HOME", spec->es_home) == -1 ||
	    sandbox_exec_env_add(env, &n, "USER", spec->es_user) == -1 ||
	    sandbox_exec_env_add(env, &n, "LOGNAME", spec->es_user) == -1 ||
	    sandbox_exec_env_add(env, &n, "SHELL", spec->es_shell) == -1 ||
	    sandbox_exec_env_add(env, &n, "PATH", SANDBOX_EXEC_PATH) == -1 ||
	    (spec->es_tty && spec->es_term != NULL &&
	    sandbox_exec_env_add(env, &n, "TERM", spec->es_term) == -1))
		goto fail;
	for (e = spec->es_env; e != NULL && *e != NULL; e++)
		if ((kv = strdup(*e)) == NULL ||
		    sandbox_exec_env_put(env, &n, kv) == -1)
			goto fail;
	return (env);
fail:
	sandbox_exec_env_free(env);
	return (NULL);
}

/* Set NAME=value, replacing a variable of the same name.  Takes kv. */
static int
sandbox_exec_env_put(char **env, size_t *n, char *kv)
{
	size_t	 i, len = strcspn(kv, "=") + 1;

	for (i = 0; i < *n; i++)
		if (strncmp(env[i], kv, len) == 0) {
			free(env[i]);
			env[i] = kv;
			return (0);
		}
	env[(*n)++] = kv;
	return (0);
}

static int
sandbox_exec_env_add(char **env, size_t *n, const char *name,
    const char *value)
{
	char	*kv;

	if (asprintf(&kv, "%s=%s", name, value) == -1)
		return (-1);
	return (sandbox_exec_env_put(env, n, kv));
}

static void
sandbox_exec_env_free(char **env)
{
	size_t	 i;

	for (i = 0; env != NULL && env[i] != NULL; i++)
		free(env[i]);
	free(env);
}

/* The user's groups from the group database, or its gid alone. */
static int
sandbox_exec_groups(const struct sandbox_exec_spec *spec,
    struct sandbox_exec_child *ec)
{
	int	 n = SANDBOX_EXEC_GROUPS;

	if ((ec->ec_groups = calloc(n, sizeof(gid_t))) == NULL)
		return (-1);
	if (getgrouplist(spec->es_user, spec->es_gid, ec->ec_groups,
	    &n) == -1) {
		free(ec->ec_groups);
		if ((ec->ec_groups = calloc(n, sizeof(gid_t))) == NULL)
			return (-1);
		if (getgrouplist(spec->es_user, spec->es_gid, ec->ec_groups,
		    &n) == -1)
			n = 0;
	}
	if (n < 1) {
		ec->ec_groups[0] = spec->es_gid;
		n = 1;
	}
	ec->ec_ngroups = n;
	return (0);
}

/* A pty of the requested size; the slave belongs to the user. */
static int
sandbox_exec_pty(const struct sandbox_exec_spec *spec,
    struct sandbox_exec_child *ec, int *pfd, char *err, size_t errlen)
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
	if (geteuid() == 0 && (fchown(s, spec->es_uid, (gid_t)-1) == -1 ||
	    fchmod(s, 0600) == -1))
		goto fail;
	memset(&ws, 0, sizeof(ws));
	ws.ws_row = spec->es_rows;
	ws.ws_col = spec->es_cols;
	if (ioctl(m, TIOCSWINSZ, &ws) == -1)
		goto fail;
	ec->ec_fd[0] = ec->ec_fd[1] = ec->ec_fd[2] = s;
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

/* Three pipes, so stdout and stderr stay apart. */
static int
sandbox_exec_pipes(struct sandbox_exec_child *ec, int *pfd, char *err,
    size_t errlen)
{
	int	 p[2], i;

	for (i = 0; i < 3; i++) {
		if (pipe2(p, O_CLOEXEC) == -1) {
			snprintf(err, errlen, "pipe: %s", strerror(errno));
			return (-1);
		}
		ec->ec_fd[i] = i == 0 ? p[0] : p[1];
		pfd[i] = i == 0 ? p[1] : p[0];
	}
	return (0);
}

/* Bufferevents on our ends of the pty or pipes; takes the fds. */
static int
sandbox_exec_streams(struct sandbox_exec *ex, int *pfd)
{
	struct bufferevent	**bevp[3] = { &ex->ex_stdin, &ex->ex_stdout,
				    &ex->ex_stderr };
	int			 i;

	for (i = 0; i < 3; i++) {
		if (pfd[i] == -1)
			continue;
		if (evutil_make_socket_nonblocking(pfd[i]) == -1 ||
		    (*bevp[i] = bufferevent_socket_new(sbxd_env->sx_base,
		    pfd[i], BEV_OPT_CLOSE_ON_FREE)) == NULL)
			return (-1);
		pfd[i] = -1;
	}
	if (ex->ex_tty)
		ex->ex_stdout = ex->ex_stdin;	/* the master, both ways */
	return (0);
}

/*
 * Fork the child and wait for its exec: it writes why it failed, or the
 * pipe closes when exec succeeds.  Until then the child makes only a few
 * local system calls, so the wait is short.
 */
static pid_t
sandbox_exec_spawn(struct sandbox_exec_child *ec, char *err, size_t errlen)
{
	char	 msg[SANDBOX_EXEC_ERR_MAX];
	size_t	 len = 0;
	ssize_t	 n;
	int	 p[2], status;
	pid_t	 pid;

	if (pipe2(p, O_CLOEXEC) == -1) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return (-1);
	}
	if ((pid = fork()) == -1) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return (-1);
	}
	if (pid == 0) {
		close(p[0]);
		ec->ec_errfd = p[1];
		sandbox_exec_child(ec);
		/* NOTREACHED */
	}
	close(p[1]);
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

/* In the child: become the user in a new session, then exec. */
static void
sandbox_exec_child(struct sandbox_exec_child *ec)
{
	sigset_t	 set;
	int		 i;

	/* The daemon ignores SIGPIPE; exec would pass that on. */
	for (i = 1; i < NSIG; i++)
		(void)signal(i, SIG_DFL);
	sigemptyset(&set);
	if (sigprocmask(SIG_SETMASK, &set, NULL) == -1)
		sandbox_exec_child_fail(ec, "sigprocmask");
	if (setsid() == -1)
		sandbox_exec_child_fail(ec, "setsid");
	if (ec->ec_tty && ioctl(ec->ec_fd[0], TIOCSCTTY, 0) == -1)
		sandbox_exec_child_fail(ec, "TIOCSCTTY");
	/* Our fds are above 2: the daemon keeps 0-2 on /dev/null. */
	for (i = 0; i < 3; i++)
		if (dup2(ec->ec_fd[i], i) == -1)
			sandbox_exec_child_fail(ec, "dup2");
	sandbox_exec_child_creds(ec);
	if (chdir(ec->ec_home) == -1)
		sandbox_exec_child_fail(ec, "chdir %s", ec->ec_home);
	sandbox_exec_child_closefds(ec);
	sandbox_exec_child_exec(ec);
}

/* Tell the parent what failed, with errno, and die. */
static void
sandbox_exec_child_fail(struct sandbox_exec_child *ec, const char *fmt, ...)
{
	char	 msg[SANDBOX_EXEC_ERR_MAX];
	va_list	 ap;
	int	 saved = errno, len;

	va_start(ap, fmt);
	len = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (len >= 0 && (size_t)len < sizeof(msg))
		snprintf(msg + len, sizeof(msg) - len, ": %s",
		    strerror(saved));
	(void)write(ec->ec_errfd, msg, strlen(msg));
	_exit(127);
}

/*
 * The user's groups, gid and uid, each checked, and proof that root
 * cannot be had back.  Not root (the tests): stay who we are.
 */
static void
sandbox_exec_child_creds(struct sandbox_exec_child *ec)
{
	if (geteuid() != 0) {
		if (geteuid() != ec->ec_uid) {
			errno = EPERM;
			sandbox_exec_child_fail(ec, "setuid %ld",
			    (long)ec->ec_uid);
		}
		return;
	}
	if (setgroups(ec->ec_ngroups, ec->ec_groups) == -1)
		sandbox_exec_child_fail(ec, "setgroups");
	if (setgid(ec->ec_gid) == -1)
		sandbox_exec_child_fail(ec, "setgid %ld", (long)ec->ec_gid);
	if (setuid(ec->ec_uid) == -1)
		sandbox_exec_child_fail(ec, "setuid %ld", (long)ec->ec_uid);
	if (getuid() != ec->ec_uid || geteuid() != ec->ec_uid ||
	    getgid() != ec->ec_gid || getegid() != ec->ec_gid) {
		errno = EPERM;
		sandbox_exec_child_fail(ec, "credentials did not change");
	}
	if (setuid(0) != -1) {
		errno = EPERM;
		sandbox_exec_child_fail(ec, "root regained after setuid");
	}
}

/* Nothing of the daemon's stays open but the error pipe, as fd 3. */
static void
sandbox_exec_child_closefds(struct sandbox_exec_child *ec)
{
	int	 fd, max;

	if (ec->ec_errfd != 3) {
		if (dup2(ec->ec_errfd, 3) == -1)
			sandbox_exec_child_fail(ec, "dup2");
		ec->ec_errfd = 3;
	}
	if (fcntl(3, F_SETFD, FD_CLOEXEC) == -1)
		sandbox_exec_child_fail(ec, "fcntl");
#if defined(__OpenBSD__)
	closefrom(4);
	return;
#elif defined(SYS_close_range)
	if (syscall(SYS_close_range, 4U, ~0U, 0) == 0)
		return;
#endif
	if ((max = sysconf(_SC_OPEN_MAX)) == -1)
		max = 1024;
	for (fd = 4; fd < max; fd++)
		(void)close(fd);
}

/* execve, searching the sandbox's PATH for a bare name. */
static void
sandbox_exec_child_exec(struct sandbox_exec_child *ec)
{
	char		 path[PATH_MAX];
	const char	*dir, *end;
	int		 eacces = 0, len;

	if (strchr(ec->ec_path, '/') != NULL) {
		execve(ec->ec_path, ec->ec_argv, ec->ec_envp);
		sandbox_exec_child_fail(ec, "%s", ec->ec_path);
	}
	for (dir = SANDBOX_EXEC_PATH; *dir != '\0'; dir = end + 1) {
		if ((end = strchr(dir, ':')) == NULL)
			end = dir + strlen(dir);
		len = snprintf(path, sizeof(path), "%.*s/%s",
		    (int)(end - dir), dir, ec->ec_path);
		if (len > 0 && (size_t)len < sizeof(path)) {
			execve(path, ec->ec_argv, ec->ec_envp);
			if (errno == EACCES)
				eacces = 1;
		}
		if (*end == '\0')
			break;
	}
	errno = eacces ? EACCES : ENOENT;
	sandbox_exec_child_fail(ec, "%s", ec->ec_path);
}

static struct sandbox_exec *
sandbox_exec_new(const struct sandbox_exec_spec *spec)
{
	struct sandbox_exec	*ex;

	if ((ex = calloc(1, sizeof(*ex))) == NULL)
		return (NULL);
	ex->ex_id = ++sandbox_exec_nextid;
	ex->ex_pid = -1;
	ex->ex_uid = spec->es_uid;
	ex->ex_tty = spec->es_tty;
	snprintf(ex->ex_name, sizeof(ex->ex_name), "%s",
	    spec->es_name != NULL ? spec->es_name : spec->es_user);
	ex->ex_timer = evtimer_new(sbxd_env->sx_base, sandbox_exec_timercb,
	    ex);
	if (ex->ex_timer == NULL) {
		free(ex);
		return (NULL);
	}
	TAILQ_INSERT_TAIL(&sandbox_execs, ex, ex_entry);
	sandbox_exec_count++;
	return (ex);
}

/* The one teardown path; the child must be reaped or killed already. */
static void
sandbox_exec_free(struct sandbox_exec *ex)
{
	log_debug("%s: exec %llu", __func__, (unsigned long long)ex->ex_id);
	TAILQ_REMOVE(&sandbox_execs, ex, ex_entry);
	sandbox_exec_count--;
	sandbox_exec_stream_close(ex, ex->ex_stdin);
	sandbox_exec_stream_close(ex, ex->ex_stdout);
	sandbox_exec_stream_close(ex, ex->ex_stderr);
	if (ex->ex_client != NULL)
		bufferevent_free(ex->ex_client);
	event_free(ex->ex_timer);
	free(ex);
}

/* The command runs: answer the request, then relay. */
static void
sandbox_exec_attach(struct sandbox_exec *ex, struct bufferevent *bev)
{
	struct evbuffer	*out = bufferevent_get_output(bev);

	ex->ex_client = bev;
	bufferevent_setcb(bev, sandbox_exec_client_readcb,
	    sandbox_exec_client_writecb, sandbox_exec_client_eventcb, ex);
	bufferevent_setwatermark(bev, EV_WRITE, SANDBOX_EXEC_LOWAT, 0);
	bufferevent_set_timeouts(bev, NULL, NULL);
	evbuffer_add_printf(out, "{\"ok\":true,\"pid\":%ld,\"tty\":%s}\n",
	    (long)ex->ex_pid, ex->ex_tty ? "true" : "false");
	bufferevent_setcb(ex->ex_stdin, ex->ex_tty ?
	    sandbox_exec_stdout_readcb : NULL, sandbox_exec_stdin_writecb,
	    sandbox_exec_stream_eventcb, ex);
	bufferevent_setwatermark(ex->ex_stdin, EV_WRITE, SANDBOX_EXEC_LOWAT,
	    0);
	bufferevent_enable(ex->ex_stdin, ex->ex_tty ? EV_READ | EV_WRITE :
	    EV_WRITE);
	if (!ex->ex_tty) {
		bufferevent_setcb(ex->ex_stdout, sandbox_exec_stdout_readcb,
		    NULL, sandbox_exec_stream_eventcb, ex);
		bufferevent_setcb(ex->ex_stderr, sandbox_exec_stderr_readcb,
		    NULL, sandbox_exec_stream_eventcb, ex);
		bufferevent_disable(ex->ex_stdout, EV_WRITE);
		bufferevent_disable(ex->ex_stderr, EV_WRITE);
		bufferevent_enable(ex->ex_stdout, EV_READ);
		bufferevent_enable(ex->ex_stderr, EV_READ);
	}
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	/* Frames sent right after the request line are already here. */
	if (evbuffer_get_length(bufferevent_get_input(bev)) > 0)
		bufferevent_trigger(bev, EV_READ, BEV_TRIG_DEFER_CALLBACKS);
}

/* Free one of the command's streams; a pty's master is two of them. */
static void
sandbox_exec_stream_close(struct sandbox_exec *ex, struct bufferevent *bev)
{
	if (bev == NULL)
		return;
	if (ex->ex_stdin == bev)
		ex->ex_stdin = NULL;
	if (ex->ex_stdout == bev)
		ex->ex_stdout = NULL;
	if (ex->ex_stderr == bev)
		ex->ex_stderr = NULL;
	bufferevent_free(bev);
}

/* Frames from the client; reading pauses while stdin is backed up. */
static void
sandbox_exec_client_readcb(struct bufferevent *bev, void *arg)
{
	struct sandbox_exec	*ex = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	uint8_t			 hdr[SANDBOX_EXEC_HDR];
	uint32_t		 len;
	size_t			 have;

	if (ex->ex_done) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	while ((have = evbuffer_get_length(in)) >= SANDBOX_EXEC_HDR) {
		evbuffer_copyout(in, hdr, sizeof(hdr));
		len = (uint32_t)hdr[1] << 24 | (uint32_t)hdr[2] << 16 |
		    (uint32_t)hdr[3] << 8 | hdr[4];
		if (sandbox_exec_frame_check(ex, hdr[0], len) == -1)
			return;
		if (have < SANDBOX_EXEC_HDR + len)
			break;
		evbuffer_drain(in, SANDBOX_EXEC_HDR);
		sandbox_exec_frame(ex, hdr[0], len, in);
	}
	if (ex->ex_stdin != NULL && evbuffer_get_length(
	    bufferevent_get_output(ex->ex_stdin)) >= SANDBOX_EXEC_HIWAT)
		bufferevent_disable(bev, EV_READ);
}

/* Strict: a frame that cannot be right ends the session. */
static int
sandbox_exec_frame_check(struct sandbox_exec *ex, int type, uint32_t len)
{
	const char	*why = NULL;

	if (len > SANDBOX_EXEC_FRAME_MAX)
		why = "frame too long";
	else if (type != SANDBOX_EXEC_STDIN &&
	    type != SANDBOX_EXEC_STDIN_EOF && type != SANDBOX_EXEC_WINSIZE)
		why = "unknown frame type";
	else if ((type == SANDBOX_EXEC_STDIN_EOF && len != 0) ||
	    (type == SANDBOX_EXEC_WINSIZE && len != 4))
		why = "bad frame length";
	else if (type != SANDBOX_EXEC_WINSIZE && ex->ex_stdin_eof)
		why = "stdin after its EOF";
	if (why == NULL)
		return (0);
	sandbox_exec_badframes++;
	log_warnx("%s: exec %llu: %s (type 0x%02x, length %lu)", __func__,
	    (unsigned long long)ex->ex_id, why, type, (unsigned long)len);
	sandbox_exec_hangup(ex, why);
	return (-1);
}

/* One whole, checked frame; its payload is at the head of in. */
static void
sandbox_exec_frame(struct sandbox_exec *ex, int type, uint32_t len,
    struct evbuffer *in)
{
	struct evbuffer	*out;

	switch (type) {
	case SANDBOX_EXEC_STDIN:
		/* Stdin closed by the child: drop what comes. */
		if (ex->ex_stdin == NULL) {
			evbuffer_drain(in, len);
			break;
		}
		out = bufferevent_get_output(ex->ex_stdin);
		evbuffer_remove_buffer(in, out, len);
		sandbox_exec_peak(ex, out);
		break;
	case SANDBOX_EXEC_STDIN_EOF:
		sandbox_exec_stdin_eof(ex);
		break;
	case SANDBOX_EXEC_WINSIZE:
		sandbox_exec_winsize(ex, in);
		break;
	default:
		fatalx("%s: frame type 0x%02x", __func__, type);
		/* NOTREACHED */
	}
}

/*
 * Close stdin once what is queued is written.  A pty cannot be closed
 * one way: send its EOF character, as a terminal would.
 */
static void
sandbox_exec_stdin_eof(struct sandbox_exec *ex)
{
	struct termios	 t;
	int		 fd;

	ex->ex_stdin_eof = 1;
	if (ex->ex_stdin == NULL)
		return;
	if (ex->ex_tty) {
		fd = bufferevent_getfd(ex->ex_stdin);
		if (tcgetattr(fd, &t) == 0 && t.c_cc[VEOF] != _POSIX_VDISABLE)
			bufferevent_write(ex->ex_stdin, &t.c_cc[VEOF], 1);
		return;
	}
	if (evbuffer_get_length(bufferevent_get_output(ex->ex_stdin)) == 0)
		sandbox_exec_stream_close(ex, ex->ex_stdin);
	else
		bufferevent_setwatermark(ex->ex_stdin, EV_WRITE, 0, 0);
}

/* The client's terminal changed size; the kernel sends SIGWINCH. */
static void
sandbox_exec_winsize(struct sandbox_exec *ex, struct evbuffer *in)
{
	struct winsize	 ws;
	uint8_t		 b[4];

	evbuffer_remove(in, b, sizeof(b));
	if (!ex->ex_tty || ex->ex_stdin == NULL)
		return;
	memset(&ws, 0, sizeof(ws));
	ws.ws_row = (uint16_t)(b[0] << 8 | b[1]);
	ws.ws_col = (uint16_t)(b[2] << 8 | b[3]);
	if (ioctl(bufferevent_getfd(ex->ex_stdin), TIOCSWINSZ, &ws) == -1)
		log_warn("%s: exec %llu", __func__,
		    (unsigned long long)ex->ex_id);
}

static int
sandbox_exec_frame_hdr(struct evbuffer *out, int type, uint32_t len)
{
	uint8_t	 hdr[SANDBOX_EXEC_HDR];

	hdr[0] = (uint8_t)type;
	hdr[1] = len >> 24;
	hdr[2] = len >> 16;
	hdr[3] = len >> 8;
	hdr[4] = len;
	return (evbuffer_add(out, hdr, sizeof(hdr)));
}

static void
sandbox_exec_stdout_readcb(struct bufferevent *bev, void *arg)
{
	sandbox_exec_relay(arg, bev, SANDBOX_EXEC_STDOUT);
}

static void
sandbox_exec_stderr_readcb(struct bufferevent *bev, void *arg)
{
	sandbox_exec_relay(arg, bev, SANDBOX_EXEC_STDERR);
}

/* Output to the client in frames; pause the command when it lags. */
static void
sandbox_exec_relay(struct sandbox_exec *ex, struct bufferevent *bev,
    int type)
{
	struct evbuffer	*in = bufferevent_get_input(bev), *out;
	size_t		 len;

	if (ex->ex_client == NULL || ex->ex_done) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	out = bufferevent_get_output(ex->ex_client);
	while ((len = evbuffer_get_length(in)) > 0) {
		if (len > SANDBOX_EXEC_FRAME_MAX)
			len = SANDBOX_EXEC_FRAME_MAX;
		if (sandbox_exec_frame_hdr(out, type, len) == -1 ||
		    evbuffer_remove_buffer(in, out, len) != (int)len) {
			sandbox_exec_hangup(ex, "out of memory");
			return;
		}
	}
	sandbox_exec_peak(ex, out);
	if (evbuffer_get_length(out) >= SANDBOX_EXEC_HIWAT)
		sandbox_exec_pause(ex, 1);
}

/* The client took output, or the last of it. */
static void
sandbox_exec_client_writecb(struct bufferevent *bev, void *arg)
{
	struct sandbox_exec	*ex = arg;

	if (ex->ex_done) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			sandbox_exec_free(ex);
		return;
	}
	if (ex->ex_paused)
		sandbox_exec_pause(ex, 0);
}

static void
sandbox_exec_client_eventcb(struct bufferevent *bev __unused, short what,
    void *arg)
{
	struct sandbox_exec	*ex = arg;

	if (ex->ex_done)
		sandbox_exec_free(ex);
	else if (what & BEV_EVENT_EOF)
		sandbox_exec_hangup(ex, "client went away");
	else
		sandbox_exec_hangup(ex, "client connection failed");
}

/* Stdin drained below the low watermark, or entirely after EOF. */
static void
sandbox_exec_stdin_writecb(struct bufferevent *bev, void *arg)
{
	struct sandbox_exec	*ex = arg;

	if (ex->ex_stdin_eof && !ex->ex_tty &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		sandbox_exec_stream_close(ex, bev);
	if (ex->ex_client != NULL && !ex->ex_done)
		bufferevent_enable(ex->ex_client, EV_READ);
}

/*
 * EOF or an error on one of the command's streams.  A pty's master
 * reads EIO once every slave is closed: that is its EOF.
 */
static void
sandbox_exec_stream_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct sandbox_exec	*ex = arg;
	int			 output = bev == ex->ex_stdout ||
				    bev == ex->ex_stderr;

	log_debug("%s: exec %llu: %s %s", __func__,
	    (unsigned long long)ex->ex_id, bev == ex->ex_stderr ? "stderr" :
	    bev == ex->ex_stdout ? "stdout" : "stdin",
	    (what & BEV_EVENT_EOF) ? "closed" : strerror(errno));
	sandbox_exec_stream_close(ex, bev);
	if (!output) {
		/* Stdin is gone: what the client sends now is dropped. */
		if (ex->ex_client != NULL && !ex->ex_done)
			bufferevent_enable(ex->ex_client, EV_READ);
		return;
	}
	sandbox_exec_check(ex);
}

static void
sandbox_exec_peak(struct sandbox_exec *ex, struct evbuffer *buf)
{
	size_t	 len = evbuffer_get_length(buf);

	if (len > ex->ex_peak)
		ex->ex_peak = len;
	if (len > sandbox_exec_peak_all)
		sandbox_exec_peak_all = len;
}

/* Stop or restart reading the command's output. */
static void
sandbox_exec_pause(struct sandbox_exec *ex, int pause)
{
	struct bufferevent	*bev[2] = { ex->ex_stdout, ex->ex_stderr };
	int			 i;

	ex->ex_paused = pause;
	for (i = 0; i < 2; i++) {
		if (bev[i] == NULL)
			continue;
		if (pause)
			bufferevent_disable(bev[i], EV_READ);
		else
			bufferevent_enable(bev[i], EV_READ);
	}
}

/* Reap our own children, each by its pid. */
static void
sandbox_exec_chldcb(evutil_socket_t sig __unused, short what __unused,
    void *arg __unused)
{
	struct sandbox_exec	*ex, *next;
	int			 status;
	pid_t			 r;

	TAILQ_FOREACH_SAFE(ex, &sandbox_execs, ex_entry, next) {
		if (ex->ex_pid == -1)
			continue;
		while ((r = waitpid(ex->ex_pid, &status, WNOHANG)) == -1 &&
		    errno == EINTR)
			;
		if (r == 0)
			continue;
		if (r == -1) {
			log_warn("%s: exec %llu: pid %ld", __func__,
			    (unsigned long long)ex->ex_id, (long)ex->ex_pid);
			ex->ex_status = 255;
		} else if (WIFSIGNALED(status))
			ex->ex_status = 128 + WTERMSIG(status);
		else
			ex->ex_status = WEXITSTATUS(status);
		log_info("sandbox %s: exec %llu: pid %ld exited %d",
		    ex->ex_name, (unsigned long long)ex->ex_id,
		    (long)ex->ex_pid, ex->ex_status);
		events_publish("sandbox.exec.exit", json_pack("{s:s, s:I, "
		    "s:i}", "sandbox", ex->ex_name, "pid", (json_int_t)ex->ex_pid,
		    "status", ex->ex_status));
		ex->ex_pid = -1;
		sandbox_exec_check(ex);
	}
}

/* Finish once the command is reaped and its output is drained. */
static void
sandbox_exec_check(struct sandbox_exec *ex)
{
	struct timeval	 tv = { SANDBOX_EXEC_LINGER_SECS, 0 };

	if (ex->ex_pid != -1 || ex->ex_done)
		return;
	if (ex->ex_client == NULL) {
		sandbox_exec_free(ex);
		return;
	}
	if (ex->ex_stdout != NULL || ex->ex_stderr != NULL) {
		if (!evtimer_pending(ex->ex_timer, NULL))
			evtimer_add(ex->ex_timer, &tv);
		return;
	}
	sandbox_exec_finish(ex);
}

/* Send EXIT; the client's write callback frees us once it is out. */
static void
sandbox_exec_finish(struct sandbox_exec *ex)
{
	struct timeval	 tv = { SANDBOX_EXEC_FLUSH_SECS, 0 };
	struct evbuffer	*out = bufferevent_get_output(ex->ex_client);
	uint8_t		 st[4];

	evtimer_del(ex->ex_timer);
	ex->ex_done = 1;
	sandbox_exec_stream_close(ex, ex->ex_stdin);
	sandbox_exec_stream_close(ex, ex->ex_stdout);
	sandbox_exec_stream_close(ex, ex->ex_stderr);
	st[0] = (uint32_t)ex->ex_status >> 24;
	st[1] = (uint32_t)ex->ex_status >> 16;
	st[2] = (uint32_t)ex->ex_status >> 8;
	st[3] = (uint32_t)ex->ex_status;
	sandbox_exec_frame_hdr(out, SANDBOX_EXEC_EXIT, sizeof(st));
	evbuffer_add(out, st, sizeof(st));
	bufferevent_setwatermark(ex->ex_client, EV_WRITE, 0, 0);
	bufferevent_set_timeouts(ex->ex_client, NULL, &tv);
	bufferevent_enable(ex->ex_client, EV_READ | EV_WRITE);
	log_debug("%s: exec %llu: status %d, peak %zu bytes queued", __func__,
	    (unsigned long long)ex->ex_id, ex->ex_status, ex->ex_peak);
}

/*
 * The client is gone or broke the protocol: drop it and the streams,
 * and signal the command's process group; SIGKILL follows if it stays.
 */
static void
sandbox_exec_hangup(struct sandbox_exec *ex, const char *reason)
{
	struct timeval	 tv = { SANDBOX_EXEC_KILL_SECS, 0 };
	int		 sig = ex->ex_tty ? SIGHUP : SIGTERM;

	log_info("sandbox %s: exec %llu: %s", ex->ex_name,
	    (unsigned long long)ex->ex_id, reason);
	if (ex->ex_client != NULL) {
		bufferevent_free(ex->ex_client);
		ex->ex_client = NULL;
	}
	sandbox_exec_stream_close(ex, ex->ex_stdin);
	sandbox_exec_stream_close(ex, ex->ex_stdout);
	sandbox_exec_stream_close(ex, ex->ex_stderr);
	if (ex->ex_pid == -1) {
		sandbox_exec_free(ex);
		return;
	}
	/* setsid made the child its group's leader. */
	if (kill(-ex->ex_pid, sig) == -1 && errno != ESRCH)
		log_warn("%s: exec %llu: kill", __func__,
		    (unsigned long long)ex->ex_id);
	evtimer_del(ex->ex_timer);
	evtimer_add(ex->ex_timer, &tv);
}

/*
 * Without a client: the command outlived its hangup signal.  With one:
 * the command exited but something still holds its output open.
 */
static void
sandbox_exec_timercb(evutil_socket_t fd __unused, short what __unused,
    void *arg)
{
	struct sandbox_exec	*ex = arg;
	struct timeval		 tv = { SANDBOX_EXEC_LINGER_SECS, 0 };

	if (ex->ex_client == NULL) {
		log_info("sandbox %s: exec %llu: killing process group %ld",
		    ex->ex_name, (unsigned long long)ex->ex_id,
		    (long)ex->ex_pid);
		if (ex->ex_pid != -1 && kill(-ex->ex_pid, SIGKILL) == -1 &&
		    errno != ESRCH)
			log_warn("%s: kill", __func__);
		return;
	}
	/* Output is paused for the client, not held open: wait on. */
	if (ex->ex_paused) {
		evtimer_add(ex->ex_timer, &tv);
		return;
	}
	log_debug("%s: exec %llu: output still open after exit", __func__,
	    (unsigned long long)ex->ex_id);
	sandbox_exec_finish(ex);
}

/* At daemon exit: kill every command and drop its client. */
void
sandbox_exec_shutdown(void)
{
	struct sandbox_exec	*ex, *next;

	TAILQ_FOREACH_SAFE(ex, &sandbox_execs, ex_entry, next) {
		if (ex->ex_pid != -1)
			(void)kill(-ex->ex_pid, SIGKILL);
		sandbox_exec_free(ex);
	}
	if (sandbox_exec_ev_chld != NULL) {
		event_free(sandbox_exec_ev_chld);
		sandbox_exec_ev_chld = NULL;
	}
}

/* Counters for sbxctl status. */
json_t *
sandbox_exec_status(void)
{
	return (json_pack("{s:i, s:I, s:I, s:I, s:I}",
	    "sessions", sandbox_exec_count,
	    "started", (json_int_t)sandbox_exec_started,
	    "failed", (json_int_t)sandbox_exec_failed,
	    "bad_frames", (json_int_t)sandbox_exec_badframes,
	    "buffer_peak", (json_int_t)sandbox_exec_peak_all));
}
