/*
 * sandbox_proc.c: runs a list of privileged commands without blocking
 * the loop.  Each command is a job (src/job.c): executed directly, with
 * no shell and no PATH search, as root, with a fixed environment.  The
 * job is fed its stdin from the list, and every line it writes is
 * logged.  A command that fails or outlives its timeout stops the list,
 * and the caller hears of the end through one callback, always from the
 * loop.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/wait.h>

#include <errno.h>
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
#define SANDBOX_PROC_GRACE	5	/* seconds from SIGTERM to SIGKILL
					   on timeout: time to drop a lock
					   such as /etc/passwd.lock */
#define SANDBOX_PROC_ERR_MAX	256	/* why a command did not start */

struct sandbox_proc {
	TAILQ_ENTRY(sandbox_proc)	 sp_entry;
	struct sandbox_cmdlist		 sp_cmds;
	struct sandbox_cmd		*sp_cmd;	/* running or last run */
	char				*sp_what;	/* log prefix */
	int				 sp_timeout;	/* seconds; 0: none */
	sandbox_proc_cb			 sp_cb;
	void				*sp_arg;

	struct job			*sp_job;	/* NULL: none running */
	struct evbuffer			*sp_line[2];	/* unfinished lines of
							   stdout, stderr */
	struct evbuffer			*sp_output;	/* this command's stdout */
	int				 sp_truncated;
	char				*sp_lasterr;	/* last stderr line */
	char				*sp_result;	/* last OUTPUT stdout */

	struct event			 sp_ev_done;	/* calls sp_cb */
	int				 sp_status;
	char				*sp_error;
};
TAILQ_HEAD(sandbox_proclist, sandbox_proc);

static struct sandbox_proclist	 sandbox_procs =
				    TAILQ_HEAD_INITIALIZER(sandbox_procs);

static int	sandbox_proc_check(struct sandbox_proc *);
static void	sandbox_proc_next(struct sandbox_proc *);
static int	sandbox_proc_start(struct sandbox_proc *);
static void	sandbox_proc_outputcb(struct job *, int, struct evbuffer *,
		    void *);
static void	sandbox_proc_lines(struct sandbox_proc *, int, int);
static void	sandbox_proc_log(struct sandbox_proc *, int, char *, size_t);
static void	sandbox_proc_keep(struct sandbox_proc *, struct evbuffer *);
static void	sandbox_proc_jobcb(struct job *, int, void *);
static void	sandbox_proc_finish(struct sandbox_proc *, int, const char *,
		    ...) __attribute__((__format__ (printf, 3, 4)));
static void	sandbox_proc_donecb(evutil_socket_t, short, void *);
static void	sandbox_proc_free(struct sandbox_proc *);
static const char *sandbox_proc_name(const struct sandbox_proc *);

/*
 * Run the commands of cl one after another; takes them, leaving cl
 * empty.  cb is called once from the loop, whatever happens, unless the
 * run is cancelled first.  timeout applies to each command (0: none).
 * NULL if memory ran out: cl is freed and cb is not called.
 */
struct sandbox_proc *
sandbox_proc_run(struct sandbox_cmdlist *cl, int timeout, const char *what,
    sandbox_proc_cb cb, void *arg)
{
	struct sandbox_proc	*sp;
	struct sandbox_cmd	*sc;

	if ((sp = calloc(1, sizeof(*sp))) == NULL) {
		sandbox_cmdlist_free(cl);
		return (NULL);
	}
	sandbox_cmdlist_init(&sp->sp_cmds);
	while ((sc = TAILQ_FIRST(&cl->cl_cmds)) != NULL) {
		TAILQ_REMOVE(&cl->cl_cmds, sc, sc_entry);
		TAILQ_INSERT_TAIL(&sp->sp_cmds.cl_cmds, sc, sc_entry);
	}
	sp->sp_cmds.cl_failed = cl->cl_failed;
	cl->cl_failed = 0;
	sp->sp_timeout = timeout > 0 ? timeout : 0;
	sp->sp_cb = cb;
	sp->sp_arg = arg;
	event_assign(&sp->sp_ev_done, sbxd_env->sx_base, -1, 0,
	    sandbox_proc_donecb, sp);
	TAILQ_INSERT_TAIL(&sandbox_procs, sp, sp_entry);
	if ((sp->sp_what = strdup(what != NULL ? what : "sandbox")) == NULL ||
	    (sp->sp_line[0] = evbuffer_new()) == NULL ||
	    (sp->sp_line[1] = evbuffer_new()) == NULL ||
	    (sp->sp_output = evbuffer_new()) == NULL) {
		sandbox_proc_cancel(sp);
		return (NULL);
	}
	if (sandbox_proc_check(sp) == 0)
		sandbox_proc_next(sp);
	return (sp);
}

/* The pid of the running command, or -1. */
pid_t
sandbox_proc_pid(const struct sandbox_proc *sp)
{
	return (sp->sp_job != NULL ? job_pid(sp->sp_job) : -1);
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

/* Cancel every list. */
void
sandbox_proc_shutdown(void)
{
	struct sandbox_proc	*sp;

	while ((sp = TAILQ_FIRST(&sandbox_procs)) != NULL)
		sandbox_proc_cancel(sp);
}

/* Refuse the whole list before running any of it. */
static int
sandbox_proc_check(struct sandbox_proc *sp)
{
	struct sandbox_cmd	*sc;
	const char		*path;

	if (sp->sp_cmds.cl_failed) {
		sandbox_proc_finish(sp, -1, "out of memory");
		return (-1);
	}
	TAILQ_FOREACH(sc, &sp->sp_cmds.cl_cmds, sc_entry) {
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
		sp->sp_cmd = TAILQ_FIRST(&sp->sp_cmds.cl_cmds);
	else
		sp->sp_cmd = TAILQ_NEXT(sp->sp_cmd, sc_entry);
	if (sp->sp_cmd == NULL) {
		sandbox_proc_finish(sp, 0, NULL);
		return;
	}
	sandbox_proc_start(sp);
}

/* Run the current command as a job, as root, with its input queued. */
static int
sandbox_proc_start(struct sandbox_proc *sp)
{
	static char		 env_path[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
	static char		 env_lang[] = "LANG=C";	/* messages we can quote */
	static char		*env[] = { env_path, env_lang, NULL };
	struct sandbox_cmd	*sc = sp->sp_cmd;
	struct job_spec		 js;
	char			 err[SANDBOX_PROC_ERR_MAX];

	log_debug("%s: running %s", sp->sp_what, sc->sc_argv[0]);
	sp->sp_truncated = 0;
	free(sp->sp_lasterr);
	sp->sp_lasterr = NULL;
	evbuffer_drain(sp->sp_output, evbuffer_get_length(sp->sp_output));
	memset(&js, 0, sizeof(js));
	js.js_name = sandbox_proc_name(sp);
	js.js_flags = sc->sc_input != NULL ? JOB_STDIN : 0;
	js.js_argv = sc->sc_argv;
	js.js_envp = env;
	js.js_timeout = sp->sp_timeout;
	js.js_grace = SANDBOX_PROC_GRACE;
	js.js_output = sandbox_proc_outputcb;
	js.js_done = sandbox_proc_jobcb;
	js.js_arg = sp;
	if ((sp->sp_job = job_run(&js, err, sizeof(err))) == NULL) {
		sandbox_proc_finish(sp, -1, "%s", err);
		return (-1);
	}
	/*
	 * A child that exits without reading its input makes the write
	 * fail with EPIPE: the daemon ignores SIGPIPE (sbxd.c).
	 */
	if (sc->sc_input != NULL) {
		if (job_write(sp->sp_job, sc->sc_input,
		    strlen(sc->sc_input)) == -1)
			log_warnx("%s: %s: stdin: out of memory", sp->sp_what,
			    sandbox_proc_name(sp));
		job_input_end(sp->sp_job);
	}
	return (0);
}

static void
sandbox_proc_outputcb(struct job *j __unused, int which,
    struct evbuffer *in, void *arg)
{
	struct sandbox_proc	*sp = arg;
	int			 err = which == JOB_ERR;

	if (!err)
		sandbox_proc_keep(sp, in);
	evbuffer_add_buffer(sp->sp_line[err], in);
	sandbox_proc_lines(sp, err, 0);
}

/* Log the whole lines read so far; with flush, the rest too. */
static void
sandbox_proc_lines(struct sandbox_proc *sp, int err, int flush)
{
	struct evbuffer	*b = sp->sp_line[err];
	char		 line[SANDBOX_PROC_LINE_MAX + 1];
	struct evbuffer_ptr p;
	size_t		 len, eol;

	for (;;) {
		len = evbuffer_get_length(b);
		p = evbuffer_search(b, "\n", 1, NULL);
		if (p.pos == -1 && (len == 0 || (!flush &&
		    len < SANDBOX_PROC_LINE_MAX)))
			return;
		eol = p.pos == -1 ? len : (size_t)p.pos;
		len = eol > SANDBOX_PROC_LINE_MAX ? SANDBOX_PROC_LINE_MAX :
		    eol;
		evbuffer_remove(b, line, len);
		if (eol == len && p.pos != -1)
			evbuffer_drain(b, 1);	/* the newline */
		line[len] = '\0';
		sandbox_proc_log(sp, err, line, len);
	}
}

/*
 * Log one line, with control characters replaced.  stderr is a warning
 * and its last line explains a failure; an OUTPUT command's stdout is
 * data for the caller, so it is only debug.
 */
static void
sandbox_proc_log(struct sandbox_proc *sp, int err, char *line, size_t len)
{
	size_t	 i;
	char	*copy;

	if (len > 0 && line[len - 1] == '\r')
		line[--len] = '\0';
	for (i = 0; i < len; i++)
		if (((unsigned char)line[i] < 0x20 && line[i] != '\t') ||
		    line[i] == 0x7f)
			line[i] = '?';
	if (len == 0)
		return;
	if (err) {
		/* a command allowed to fail only explains itself */
		if (sp->sp_cmd->sc_flags & SANDBOX_CMD_MAYFAIL)
			log_debug("%s: %s: %s", sp->sp_what,
			    sandbox_proc_name(sp), line);
		else
			log_warnx("%s: %s: %s", sp->sp_what,
			    sandbox_proc_name(sp), line);
		if ((copy = strdup(line)) != NULL) {
			free(sp->sp_lasterr);
			sp->sp_lasterr = copy;
		}
	} else if (sp->sp_cmd->sc_flags & SANDBOX_CMD_OUTPUT)
		log_debug("%s: %s: %s", sp->sp_what, sandbox_proc_name(sp),
		    line);
	else
		log_info("%s: %s: %s", sp->sp_what, sandbox_proc_name(sp),
		    line);
}

/* Keep a copy of an OUTPUT command's stdout, up to the bound. */
static void
sandbox_proc_keep(struct sandbox_proc *sp, struct evbuffer *in)
{
	struct evbuffer_ptr	 pos;
	char			 buf[4096];
	size_t			 len = evbuffer_get_length(in), room;
	ev_ssize_t		 n;

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
	evbuffer_ptr_set(in, &pos, 0, EVBUFFER_PTR_SET);
	while (len > 0) {
		n = evbuffer_copyout_from(in, &pos, buf, len < sizeof(buf) ?
		    len : sizeof(buf));
		if (n <= 0 || evbuffer_add(sp->sp_output, buf, n) == -1) {
			sp->sp_truncated = 1;
			return;
		}
		evbuffer_ptr_set(in, &pos, n, EVBUFFER_PTR_ADD);
		len -= n;
	}
}

/* The command ended: go on with the list or stop it. */
static void
sandbox_proc_jobcb(struct job *j, int status, void *arg)
{
	struct sandbox_proc	*sp = arg;
	struct sandbox_cmd	*sc = sp->sp_cmd;
	const char		*path = sc->sc_argv[0], *why;
	char			 how[64];
	size_t			 len;
	int			 code = -1;

	sp->sp_job = NULL;
	sandbox_proc_lines(sp, 0, 1);
	sandbox_proc_lines(sp, 1, 1);
	if (job_timedout(j)) {
		sandbox_proc_finish(sp, -1, "%s timed out after %d s", path,
		    sp->sp_timeout);
		return;
	}
	if (status == -1) {
		sandbox_proc_finish(sp, -1, "%s: exit status lost", path);
		return;
	}
	if (sc->sc_flags & SANDBOX_CMD_OUTPUT) {
		free(sp->sp_result);
		len = evbuffer_get_length(sp->sp_output);
		if ((sp->sp_result = malloc(len + 1)) == NULL) {
			sandbox_proc_finish(sp, -1, "%s: out of memory", path);
			return;
		}
		sp->sp_result[evbuffer_remove(sp->sp_output, sp->sp_result,
		    len)] = '\0';
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
 * The one teardown.  A running command is killed; the process layer
 * reaps it.
 */
static void
sandbox_proc_free(struct sandbox_proc *sp)
{
	int	 i;

	job_free(sp->sp_job);
	event_del(&sp->sp_ev_done);
	for (i = 0; i < 2; i++)
		if (sp->sp_line[i] != NULL)
			evbuffer_free(sp->sp_line[i]);
	if (sp->sp_output != NULL)
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
