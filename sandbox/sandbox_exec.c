/*
 * sandbox_exec.c: "sbxctl exec", the daemon side.  A command runs as a
 * sandbox's user (sandbox_user_job: its groups and home, a fresh
 * environment, never the daemon's), in its own session, on a pty or on
 * three pipes: a job of the process layer (src/job.c).  The request's
 * connection is taken over from control.c and relays the command's
 * stdio in the frames described in sbxd_proto.h, with bounded buffers
 * both ways, until the command has exited and its output is drained;
 * then an EXIT frame ends it.  If the client leaves first, the
 * command's process group gets SIGHUP (pty) or SIGTERM, then SIGKILL if
 * it stays, and its exit is still logged.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <jansson.h>

#include "config.h"
#include "log.h"
#include "sbxd.h"
#include "sandbox.h"

#define SANDBOX_EXEC_HIWAT	(256 * 1024) /* bytes queued toward one side
					   before reading the other pauses */
#define SANDBOX_EXEC_LOWAT	(64 * 1024) /* reading resumes below this */
#define SANDBOX_EXEC_FLUSH_SECS	30	/* a client that takes nothing of
					   its last output for this long is
					   dropped */
#define SANDBOX_EXEC_ERR_MAX	256	/* why a command did not start */

/* One running command and its client connection. */
struct sandbox_exec {
	TAILQ_ENTRY(sandbox_exec)	 ex_entry;
	uint64_t			 ex_id;
	char				 ex_name[SBXD_NAME_MAX];
	uid_t				 ex_uid;
	struct job			*ex_job;	/* NULL once it ended */
	pid_t				 ex_pid;
	int				 ex_status;	/* code or 128 + signal */
	int				 ex_tty;
	int				 ex_stdin_eof;	/* client sent EOF */
	struct bufferevent		*ex_client;	/* NULL once gone */
	int				 ex_paused;	/* output reading stopped:
							   the client lags */
	int				 ex_done;	/* EXIT queued */
	size_t				 ex_peak;	/* most bytes queued */
};
TAILQ_HEAD(sandbox_execs, sandbox_exec);

static struct sandbox_execs	 sandbox_execs =
				    TAILQ_HEAD_INITIALIZER(sandbox_execs);
static uint64_t			 sandbox_exec_nextid;
static int			 sandbox_exec_count;
static uint64_t			 sandbox_exec_started;
static uint64_t			 sandbox_exec_failed;
static uint64_t			 sandbox_exec_badframes;
static size_t			 sandbox_exec_peak_all;

static struct sandbox_exec *sandbox_exec_new(
		    const struct sandbox_exec_spec *);
static void	sandbox_exec_free(struct sandbox_exec *);
static void	sandbox_exec_attach(struct sandbox_exec *,
		    struct bufferevent *);
static void	sandbox_exec_client_readcb(struct bufferevent *, void *);
static void	sandbox_exec_client_writecb(struct bufferevent *, void *);
static void	sandbox_exec_client_eventcb(struct bufferevent *, short,
		    void *);
static int	sandbox_exec_frame_check(struct sandbox_exec *, int,
		    uint32_t);
static void	sandbox_exec_frame(struct sandbox_exec *, int, uint32_t,
		    struct evbuffer *);
static void	sandbox_exec_winsize(struct sandbox_exec *,
		    struct evbuffer *);
static int	sandbox_exec_frame_hdr(struct evbuffer *, int, uint32_t);
static void	sandbox_exec_outputcb(struct job *, int, struct evbuffer *,
		    void *);
static void	sandbox_exec_writecb(struct job *, void *);
static void	sandbox_exec_donecb(struct job *, int, void *);
static void	sandbox_exec_stdin_check(struct sandbox_exec *);
static void	sandbox_exec_peak(struct sandbox_exec *, struct evbuffer *);
static void	sandbox_exec_finish(struct sandbox_exec *);
static void	sandbox_exec_hangup(struct sandbox_exec *, const char *);

/* What an exec request may carry (sbxd_proto.h). */
const struct control_field sandbox_exec_fields[] = {
	{ "name", CONTROL_F_STRING | CONTROL_F_NEEDED },
	{ "argv", CONTROL_F_ARGV },
	{ "tty", CONTROL_F_BOOL },
	{ "rows", CONTROL_F_INT },
	{ "cols", CONTROL_F_INT },
	{ "env", CONTROL_F_OBJECT },
	{ NULL, 0 }
};

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
	struct sandbox_userjob	 uj;
	struct job_spec		 js;
	struct sandbox_exec	*ex = NULL;
	struct bufferevent	*bev;
	const char		*base;
	char			 argv0[SBXD_PATH_MAX], *login[2];

	memset(&uj, 0, sizeof(uj));
	memset(&js, 0, sizeof(js));
	if (sandbox_user_job(&spec->es_as, spec->es_tty ? spec->es_term :
	    NULL, &js, &uj, err, errlen) == -1)
		goto fail;
	if ((ex = sandbox_exec_new(spec)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (spec->es_argv != NULL)
		js.js_argv = spec->es_argv;
	else {
		/* A login shell: argv[0] is "-" and the shell's name. */
		base = strrchr(spec->es_as.sa_shell, '/') + 1;
		snprintf(argv0, sizeof(argv0), "-%s", base);
		login[0] = argv0;
		login[1] = NULL;
		js.js_path = spec->es_as.sa_shell;
		js.js_argv = login;
	}
	js.js_name = ex->ex_name;
	js.js_flags |= spec->es_tty ? JOB_PTY : JOB_STDIN;
	js.js_rows = spec->es_rows;
	js.js_cols = spec->es_cols;
	js.js_grace = SANDBOX_EXEC_KILL_SECS;
	js.js_output = sandbox_exec_outputcb;
	js.js_write = sandbox_exec_writecb;
	js.js_done = sandbox_exec_donecb;
	js.js_arg = ex;
	if ((ex->ex_job = job_run(&js, err, errlen)) == NULL)
		goto fail;
	sandbox_user_job_clear(&uj);
	ex->ex_pid = job_pid(ex->ex_job);
	sandbox_exec_started++;
	log_info("sandbox %s: exec %llu: pid %ld uid %ld%s: %s", ex->ex_name,
	    (unsigned long long)ex->ex_id, (long)ex->ex_pid, (long)ex->ex_uid,
	    ex->ex_tty ? " pty" : "", js.js_path != NULL ? js.js_path :
	    js.js_argv[0]);
	events_publish("sandbox.exec", json_pack("{s:s, s:I, s:I, s:b, "
	    "s:s}", "sandbox", ex->ex_name, "uid", (json_int_t)ex->ex_uid,
	    "pid", (json_int_t)ex->ex_pid, "tty", ex->ex_tty, "command",
	    js.js_path != NULL ? js.js_path : js.js_argv[0]));
	if (control_req_takeover(cr, &bev) == -1) {
		sandbox_exec_hangup(ex, "client went away");
		snprintf(err, errlen, "client went away");
		return (-1);
	}
	sandbox_exec_attach(ex, bev);
	return (0);
fail:
	sandbox_exec_failed++;
	sandbox_user_job_clear(&uj);
	if (ex != NULL)
		sandbox_exec_free(ex);
	return (-1);
}

static struct sandbox_exec *
sandbox_exec_new(const struct sandbox_exec_spec *spec)
{
	struct sandbox_exec	*ex;

	if ((ex = calloc(1, sizeof(*ex))) == NULL)
		return (NULL);
	ex->ex_id = ++sandbox_exec_nextid;
	ex->ex_pid = -1;
	ex->ex_uid = spec->es_as.sa_uid;
	ex->ex_tty = spec->es_tty;
	snprintf(ex->ex_name, sizeof(ex->ex_name), "%s",
	    spec->es_as.sa_name != NULL ? spec->es_as.sa_name :
	    spec->es_as.sa_user);
	TAILQ_INSERT_TAIL(&sandbox_execs, ex, ex_entry);
	sandbox_exec_count++;
	return (ex);
}

/* The one teardown path; a command still running is killed. */
static void
sandbox_exec_free(struct sandbox_exec *ex)
{
	log_debug("%s: exec %llu", __func__, (unsigned long long)ex->ex_id);
	TAILQ_REMOVE(&sandbox_execs, ex, ex_entry);
	sandbox_exec_count--;
	job_free(ex->ex_job);
	if (ex->ex_client != NULL)
		bufferevent_free(ex->ex_client);
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
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	/* Frames sent right after the request line are already here. */
	if (evbuffer_get_length(bufferevent_get_input(bev)) > 0)
		bufferevent_trigger(bev, EV_READ, BEV_TRIG_DEFER_CALLBACKS);
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
	sandbox_exec_stdin_check(ex);
}

/* Read the client while the command's stdin has room. */
static void
sandbox_exec_stdin_check(struct sandbox_exec *ex)
{
	struct evbuffer	*sin;

	if (ex->ex_client == NULL || ex->ex_done)
		return;
	sin = ex->ex_job != NULL ? job_input(ex->ex_job) : NULL;
	if (sin != NULL && evbuffer_get_length(sin) >= SANDBOX_EXEC_HIWAT)
		bufferevent_disable(ex->ex_client, EV_READ);
	else
		bufferevent_enable(ex->ex_client, EV_READ);
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

/*
 * One whole, checked frame; its payload is at the head of in.  Input
 * for a stdin the command closed is dropped.
 */
static void
sandbox_exec_frame(struct sandbox_exec *ex, int type, uint32_t len,
    struct evbuffer *in)
{
	struct evbuffer	*sin;

	switch (type) {
	case SANDBOX_EXEC_STDIN:
		sin = ex->ex_job != NULL ? job_input(ex->ex_job) : NULL;
		if (sin == NULL) {
			evbuffer_drain(in, len);
			break;
		}
		evbuffer_remove_buffer(in, sin, len);
		sandbox_exec_peak(ex, sin);
		break;
	case SANDBOX_EXEC_STDIN_EOF:
		ex->ex_stdin_eof = 1;
		if (ex->ex_job != NULL)
			job_input_end(ex->ex_job);
		break;
	case SANDBOX_EXEC_WINSIZE:
		sandbox_exec_winsize(ex, in);
		break;
	default:
		fatalx("%s: frame type 0x%02x", __func__, type);
		/* NOTREACHED */
	}
}

/* The client's terminal changed size. */
static void
sandbox_exec_winsize(struct sandbox_exec *ex, struct evbuffer *in)
{
	uint8_t	 b[4];

	evbuffer_remove(in, b, sizeof(b));
	if (ex->ex_job != NULL && job_winsize(ex->ex_job,
	    (uint16_t)(b[0] << 8 | b[1]), (uint16_t)(b[2] << 8 | b[3])) == -1)
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

/* Output to the client in frames; pause the command when it lags. */
static void
sandbox_exec_outputcb(struct job *j, int which, struct evbuffer *in,
    void *arg)
{
	struct sandbox_exec	*ex = arg;
	struct evbuffer		*out;
	int			 type = which == JOB_ERR ? SANDBOX_EXEC_STDERR :
				    SANDBOX_EXEC_STDOUT;
	size_t			 len;

	if (ex->ex_client == NULL) {
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
	if (evbuffer_get_length(out) >= SANDBOX_EXEC_HIWAT) {
		ex->ex_paused = 1;
		job_output_pause(j, 1);
	}
}

/* The command's stdin took what was queued, or closed. */
static void
sandbox_exec_writecb(struct job *j __unused, void *arg)
{
	sandbox_exec_stdin_check(arg);
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
	if (ex->ex_paused && ex->ex_job != NULL) {
		ex->ex_paused = 0;
		job_output_pause(ex->ex_job, 0);
	}
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

static void
sandbox_exec_peak(struct sandbox_exec *ex, struct evbuffer *buf)
{
	size_t	 len = evbuffer_get_length(buf);

	if (len > ex->ex_peak)
		ex->ex_peak = len;
	if (len > sandbox_exec_peak_all)
		sandbox_exec_peak_all = len;
}

/*
 * The command exited and its output is drained: log it, and tell the
 * client if it is still there.
 */
static void
sandbox_exec_donecb(struct job *j __unused, int status, void *arg)
{
	struct sandbox_exec	*ex = arg;

	ex->ex_job = NULL;
	if (status == -1)
		ex->ex_status = 255;
	else if (WIFSIGNALED(status))
		ex->ex_status = 128 + WTERMSIG(status);
	else
		ex->ex_status = WEXITSTATUS(status);
	log_info("sandbox %s: exec %llu: pid %ld exited %d", ex->ex_name,
	    (unsigned long long)ex->ex_id, (long)ex->ex_pid, ex->ex_status);
	events_publish("sandbox.exec.exit", json_pack("{s:s, s:I, s:i}",
	    "sandbox", ex->ex_name, "pid", (json_int_t)ex->ex_pid, "status",
	    ex->ex_status));
	if (ex->ex_client == NULL)
		sandbox_exec_free(ex);
	else
		sandbox_exec_finish(ex);
}

/* Send EXIT; the client's write callback frees us once it is out. */
static void
sandbox_exec_finish(struct sandbox_exec *ex)
{
	struct timeval	 tv = { SANDBOX_EXEC_FLUSH_SECS, 0 };
	struct evbuffer	*out = bufferevent_get_output(ex->ex_client);
	uint8_t		 st[4];

	ex->ex_done = 1;
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
 * The client is gone or broke the protocol: drop it, and signal the
 * command's process group; SIGKILL follows if it stays.  The session
 * lives on without a client until the command's end is logged.
 */
static void
sandbox_exec_hangup(struct sandbox_exec *ex, const char *reason)
{
	log_info("sandbox %s: exec %llu: %s", ex->ex_name,
	    (unsigned long long)ex->ex_id, reason);
	if (ex->ex_client != NULL) {
		bufferevent_free(ex->ex_client);
		ex->ex_client = NULL;
	}
	if (ex->ex_job == NULL) {
		sandbox_exec_free(ex);
		return;
	}
	if (ex->ex_paused) {
		ex->ex_paused = 0;
		job_output_pause(ex->ex_job, 0);	/* drained from now on */
	}
	job_kill(ex->ex_job, ex->ex_tty ? SIGHUP : SIGTERM);
}

/* At daemon exit: kill every command and drop its client. */
void
sandbox_exec_shutdown(void)
{
	struct sandbox_exec	*ex;

	while ((ex = TAILQ_FIRST(&sandbox_execs)) != NULL)
		sandbox_exec_free(ex);
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
