/*
 * test_job.c: the process layer with real children: output and exit
 * status, an environment built from scratch, what a child inherits
 * (descriptors, signals), the limits every job gets instead of the
 * daemon's, the cgroups it joins, setup failures, PATH search, stdin, a pty,
 * timeouts and the TERM-then-KILL escalation, reaping by pid only,
 * freeing a running job, output held open after the exit, many jobs at
 * once; as root also credentials and a whole-uid stop that spares
 * every other uid.  The root tests make throwaway users (uid 60700 and
 * up) and remove them, whatever happens; without root they are skipped,
 * except under CI=true, where that is a failure.
 */

#include <sys/types.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "config.h"
#include "sbxd.h"
#include "unit.h"

#define T_WAIT		20	/* seconds a job may take in a test */
#define T_UID_FIRST	60700	/* throwaway users, as root */
#define T_UID_LAST	60749
#define T_MANY		20	/* jobs at once */
#define T_SECRET	"SBXD_JOB_TEST_SECRET=hunter2"

/* What a job left: its output and its end. */
struct result {
	int		 done;
	int		 status;
	struct evbuffer	*out;
	struct evbuffer	*err;
	char		*text;		/* out, as a string, once done */
	char		*etext;
};


static struct sbxd	 env;
static struct unit_user	 users[2];

static void
setup(void)
{
	env.sx_base = unit_loop_start(20);
	sbxd_env = &env;
}

static void
teardown(void)
{
	job_shutdown();
	unit_loop_stop(env.sx_base);
	env.sx_base = NULL;
}

static void
spin(double secs)
{
	double	 end = unit_now() + secs;

	while (unit_now() < end)
		event_base_loop(env.sx_base, EVLOOP_ONCE);
}

static void
outputcb(struct job *j __unused, int which, struct evbuffer *in, void *arg)
{
	struct result	*r = arg;

	evbuffer_add_buffer(which == JOB_ERR ? r->err : r->out, in);
}

static char *
text_of(struct evbuffer *b)
{
	size_t	 len = evbuffer_get_length(b);
	char	*s = malloc(len + 1);

	if (s == NULL)
		abort();
	evbuffer_remove(b, s, len);
	s[len] = '\0';
	return (s);
}

static void
donecb(struct job *j __unused, int status, void *arg)
{
	struct result	*r = arg;

	r->done++;
	r->status = status;
	r->text = text_of(r->out);
	r->etext = text_of(r->err);
}

static void
result_init(struct result *r)
{
	memset(r, 0, sizeof(*r));
	r->out = evbuffer_new();
	r->err = evbuffer_new();
	r->status = -2;
}

static void
result_free(struct result *r)
{
	evbuffer_free(r->out);
	evbuffer_free(r->err);
	free(r->text);
	free(r->etext);
	memset(r, 0, sizeof(*r));
}

/* Run the loop until each of n results is in, once, or T_WAIT passed. */
static int
wait_done(struct result *r, int n)
{
	return (unit_loop_counts(env.sx_base, r, sizeof(*r), n, T_WAIT));
}

/* A job spec for argv with the result's callbacks. */
static void
spec(struct job_spec *js, char **argv, char **envp, struct result *r)
{
	memset(js, 0, sizeof(*js));
	js->js_name = "test";
	js->js_argv = argv;
	js->js_envp = envp;
	js->js_grace = 1;
	js->js_output = outputcb;
	js->js_done = donecb;
	js->js_arg = r;
}

/* Whether pid is gone: no process, or a zombie nobody will reap. */
static int
gone(pid_t pid)
{
	char	 path[64], line[256];
	FILE	*fp;
	int	 zombie = 0;

	if (kill(pid, 0) == -1 && errno == ESRCH)
		return (1);
	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return (1);
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strncmp(line, "State:", 6) == 0 && strchr(line, 'Z'))
			zombie = 1;
	fclose(fp);
	return (zombie);
}

/* Root-only tests: skipped without root, unless CI says root is there. */
static int
need_root(void)
{
	const char	*ci = getenv("CI");

	if (geteuid() == 0)
		return (1);
	if (ci != NULL && strcmp(ci, "true") == 0) {
		fprintf(stderr, "  CI=true, but not root\n");
		return (-1);
	}
	fprintf(stderr, "  skipped: not root\n");
	return (0);
}

static int
test_output_status(void)
{
	struct job_spec	 js;
	struct result	 r;
	char		*argv[] = { "/bin/sh", "-c",
			    "echo out; echo err >&2; exit 7", NULL };
	int		 ret = -1;

	setup();
	result_init(&r);
	spec(&js, argv, NULL, &r);
	CHECK(job_run(&js, NULL, 0) != NULL);
	CHECK(wait_done(&r, 1) == 0);
	CHECK(WIFEXITED(r.status));
	CHECK_INT(WEXITSTATUS(r.status), 7);
	CHECK_STR(r.text, "out\n");
	CHECK_STR(r.etext, "err\n");
	ret = 0;
end:
	result_free(&r);
	teardown();
	return (ret);
}

/* The environment is exactly envp: nothing of ours leaks in. */
static int
test_env(void)
{
	struct job_spec	 js;
	struct result	 r;
	char		*argv[] = { "/usr/bin/env", NULL };
	char		*envp[] = { "A=1", "PATH=/nowhere", NULL };
	char		*none[] = { "/usr/bin/env", NULL };
	int		 ret = -1;

	setup();
	result_init(&r);
	putenv(T_SECRET);
	spec(&js, argv, envp, &r);
	CHECK(job_run(&js, NULL, 0) != NULL);
	CHECK(wait_done(&r, 1) == 0);
	CHECK_STR(r.text, "A=1\nPATH=/nowhere\n");
	result_free(&r);
	/* No envp: an empty environment, not the daemon's. */
	result_init(&r);
	spec(&js, none, NULL, &r);
	CHECK(job_run(&js, NULL, 0) != NULL);
	CHECK(wait_done(&r, 1) == 0);
	CHECK_STR(r.text, "");
	ret = 0;
end:
	unsetenv("SBXD_JOB_TEST_SECRET");
	result_free(&r);
	teardown();
	return (ret);
}

/* A function job reports what it inherits: descriptors, signals, cwd. */
static int
inherit_fn(json_t *arg __unused)
{
	struct sigaction	 sa;
	sigset_t		 set;
	DIR			*d;
	struct dirent		*de;
	char			 cwd[256];
	int			 sig, n = 0;

	if ((d = opendir("/proc/self/fd")) != NULL) {
		while ((de = readdir(d)) != NULL)
			if (de->d_name[0] != '.' &&
			    atoi(de->d_name) != dirfd(d))
				printf("fd %s\n", de->d_name);
		closedir(d);
	}
	for (sig = 1; sig < NSIG; sig++)
		if (sigaction(sig, NULL, &sa) == 0 &&
		    sa.sa_handler != SIG_DFL)
			n++;
	sigprocmask(SIG_SETMASK, NULL, &set);
	for (sig = 1; sig < NSIG; sig++)
		if (sigismember(&set, sig) == 1)
			n++;
	printf("signals %d\n", n);
	printf("cwd %s\n", getcwd(cwd, sizeof(cwd)) != NULL ? cwd : "?");
	printf("sid %d\n", getsid(0) == getpid());
	fflush(stdout);
	return (0);
}

static int
test_inherit(void)
{
	struct job_spec	 js;
	struct result	 r;
	int		 fd = -1, ret = -1;

	setup();
	result_init(&r);
	/* An fd of ours without close-on-exec must not reach the child. */
	fd = open("/dev/null", O_RDONLY);
	signal(SIGUSR1, SIG_IGN);
	spec(&js, NULL, NULL, &r);
	js.js_fn = inherit_fn;
	js.js_cwd = "/tmp";
	CHECK(fd > 2);
	CHECK(job_run(&js, NULL, 0) != NULL);
	CHECK(wait_done(&r, 1) == 0);
	CHECK(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
	CHECK_STR(r.text, "fd 0\nfd 1\nfd 2\nsignals 0\ncwd /tmp\nsid 1\n");
	ret = 0;
end:
	signal(SIGUSR1, SIG_DFL);
	if (fd != -1)
		close(fd);
	result_free(&r);
	teardown();
	return (ret);
}

/*
 * Every job gets JOB_NOFILE descriptors (hard JOB_NOFILE_MAX) and no
 * core files, whatever the daemon raised its own to; RLIMIT_NPROC when
 * the spec asks.
 */
static int
nproc_fn(json_t *arg __unused)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NPROC, &rl) == -1)
		return (-1);
	printf("%llu %llu\n", (unsigned long long)rl.rlim_cur,
	    (unsigned long long)rl.rlim_max);
	fflush(stdout);
	return (0);
}

static int
test_limits(void)
{
	struct job_spec	 js;
	struct result	 r;
	struct rlimit	 saved, rl;
	char		 want[128];
	char		*argv[] = { "/bin/sh", "-c",
			    "ulimit -Sn; ulimit -Hn; ulimit -Sc; ulimit -Hc",
			    NULL };
	unsigned long long hard;
	int		 ret = -1, got = 0;

	setup();
	result_init(&r);
	/* As the proxy does: all the descriptors the hard limit allows. */
	CHECK(getrlimit(RLIMIT_NOFILE, &saved) == 0);
	got = 1;
	rl = saved;
	rl.rlim_cur = rl.rlim_max;
	CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
	hard = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > JOB_NOFILE_MAX ?
	    JOB_NOFILE_MAX : rl.rlim_max;
	snprintf(want, sizeof(want), "%llu\n%llu\n0\n0\n", hard < JOB_NOFILE ?
	    hard : JOB_NOFILE, hard);
	spec(&js, argv, NULL, &r);
	CHECK(job_run(&js, NULL, 0) != NULL);
	CHECK(wait_done(&r, 1) == 0);
	CHECK_STR(r.text, want);
	result_free(&r);
	result_init(&r);
	spec(&js, NULL, NULL, &r);
	js.js_fn = nproc_fn;
	js.js_nproc = 7;
	CHECK(job_run(&js, NULL, 0) != NULL);
	CHECK(wait_done(&r, 1) == 0);
	CHECK_STR(r.text, "7 7\n");
	ret = 0;
end:
	if (got)
		setrlimit(RLIMIT_NOFILE, &saved);
	result_free(&r);
	teardown();
	return (ret);
}

/*
 * The child joins each cgroup of its spec, writing 0 to its
 * cgroup.procs, before anything runs; one it cannot join keeps the job
 * from starting.  Plain files stand in for the cgroups here.
 */
static int
test_cgroups(void)
{
	struct job_spec	 js;
	struct result	 r;
	char		*dir = NULL, a[512], b[512], p[600], err[256], want[700];
	char		*cgs[3] = { a, b, NULL }, *bad[2] = { NULL, NULL };
	char		*argv[] = { "/bin/true", NULL };
	char		 buf[16];
	FILE		*fp = NULL;
	int		 ret = -1, i;

	setup();
	result_init(&r);
	CHECK((dir = unit_tmpdir()) != NULL);
	snprintf(a, sizeof(a), "%s/a", dir);
	snprintf(b, sizeof(b), "%s/b", dir);
	for (i = 0; i < 2; i++) {
		CHECK(mkdir(cgs[i], 0755) == 0);
		snprintf(p, sizeof(p), "%s/cgroup.procs", cgs[i]);
		CHECK(unit_write(p, "") == 0);
	}
	spec(&js, argv, NULL, &r);
	js.js_cgroups = cgs;
	CHECK(job_run(&js, NULL, 0) != NULL);
	CHECK(wait_done(&r, 1) == 0);
	CHECK(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
	for (i = 0; i < 2; i++) {
		snprintf(p, sizeof(p), "%s/cgroup.procs", cgs[i]);
		CHECK((fp = fopen(p, "r")) != NULL);
		CHECK(fgets(buf, sizeof(buf), fp) != NULL);
		CHECK_STR(buf, "0");
		fclose(fp);
		fp = NULL;
	}
	snprintf(p, sizeof(p), "%s/c", dir);
	bad[0] = p;
	spec(&js, argv, NULL, &r);
	js.js_cgroups = bad;
	CHECK(job_run(&js, err, sizeof(err)) == NULL);
	snprintf(want, sizeof(want), "cgroup %s: No such file or directory",
	    p);
	CHECK_STR(err, want);
	ret = 0;
end:
	if (fp != NULL)
		fclose(fp);
	unit_rmtree(dir);
	free(dir);
	result_free(&r);
	teardown();
	return (ret);
}

/* What cannot start is an error from job_run, not an exit code. */
static int
test_setup_fails(void)
{
	struct job_spec	 js;
	struct result	 r;
	char		 err[256];
	char		*missing[] = { "/nonexistent/prog", NULL };
	char		*bare[] = { "sbxd-no-such-program", NULL };
	char		*ok[] = { "/bin/true", NULL };
	int		 ret = -1;

	setup();
	result_init(&r);
	spec(&js, missing, NULL, &r);
	CHECK(job_run(&js, err, sizeof(err)) == NULL);
	CHECK_STR(err, "/nonexistent/prog: No such file or directory");
	spec(&js, bare, NULL, &r);
	CHECK(job_run(&js, err, sizeof(err)) == NULL);
	CHECK_STR(err, "sbxd-no-such-program: No such file or directory");
	spec(&js, ok, NULL, &r);
	js.js_cwd = "/nonexistent";
	CHECK(job_run(&js, err, sizeof(err)) == NULL);
	CHECK_STR(err, "chdir /nonexistent: No such file or directory");
	/* As root, never root: a spec with uid 0 is refused. */
	spec(&js, ok, NULL, &r);
	js.js_flags = JOB_CREDS;
	CHECK(job_run(&js, err, sizeof(err)) == NULL);
	CHECK_STR(err, "refusing to run as root: Operation not permitted");
	spin(0.2);
	CHECK_INT(r.done, 0);
	ret = 0;
end:
	result_free(&r);
	teardown();
	return (ret);
}

/* A bare name is searched in the job's own PATH, not the daemon's. */
static int
test_path(void)
{
	struct job_spec	 js;
	struct result	 r;
	char		 err[256];
	char		*argv[] = { "echo", "found", NULL };
	char		*envp[] = { "PATH=/nonexistent:/bin:/usr/bin", NULL };
	char		*bad[] = { "PATH=/nonexistent", NULL };
	int		 ret = -1;

	setup();
	result_init(&r);
	spec(&js, argv, envp, &r);
	CHECK(job_run(&js, NULL, 0) != NULL);
	CHECK(wait_done(&r, 1) == 0);
	CHECK_STR(r.text, "found\n");
	spec(&js, argv, bad, &r);
	CHECK(job_run(&js, err, sizeof(err)) == NULL);
	CHECK_STR(err, "echo: No such file or directory");
	ret = 0;
end:
	result_free(&r);
	teardown();
	return (ret);
}

static int
test_stdin(void)
{
	struct job_spec	 js;
	struct result	 r;
	struct job	*j;
	char		*argv[] = { "/bin/cat", NULL };
	char		 big[200000];
	size_t		 i;
	int		 ret = -1;

	setup();
	result_init(&r);
	for (i = 0; i < sizeof(big); i++)
		big[i] = 'a' + i % 26;
	spec(&js, argv, NULL, &r);
	js.js_flags = JOB_STDIN;
	CHECK((j = job_run(&js, NULL, 0)) != NULL);
	CHECK(job_write(j, big, sizeof(big)) == 0);
	job_input_end(j);
	CHECK(job_input(j) == NULL);
	CHECK(wait_done(&r, 1) == 0);
	CHECK(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
	CHECK_INT(strlen(r.text), sizeof(big));
	CHECK(memcmp(r.text, big, sizeof(big)) == 0);
	result_free(&r);
	/* Without JOB_STDIN, stdin is /dev/null. */
	result_init(&r);
	spec(&js, argv, NULL, &r);
	CHECK((j = job_run(&js, NULL, 0)) != NULL);
	CHECK(job_input(j) == NULL);
	CHECK(wait_done(&r, 1) == 0);
	CHECK_STR(r.text, "");
	ret = 0;
end:
	result_free(&r);
	teardown();
	return (ret);
}

static int
test_pty(void)
{
	struct job_spec	 js;
	struct result	 r;
	struct job	*j;
	char		*argv[] = { "/bin/sh", "-c",
			    "test -t 0 && test -t 1 && test -t 2 && stty size; "
			    "read x; echo got $x", NULL };
	int		 ret = -1;

	setup();
	result_init(&r);
	spec(&js, argv, NULL, &r);
	js.js_flags = JOB_PTY;
	js.js_rows = 33;
	js.js_cols = 111;
	CHECK((j = job_run(&js, NULL, 0)) != NULL);
	CHECK(job_write(j, "hello\n", 6) == 0);
	CHECK(wait_done(&r, 1) == 0);
	CHECK(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
	CHECK(strstr(r.text, "33 111\r\n") != NULL);
	CHECK(strstr(r.text, "got hello\r\n") != NULL);
	CHECK_STR(r.etext, "");
	ret = 0;
end:
	result_free(&r);
	teardown();
	return (ret);
}

/* A timeout: SIGTERM; one that ignores it gets SIGKILL after the grace. */
static int
test_timeout(void)
{
	struct job_spec	 js;
	struct result	 r[2];
	struct job	*j[2];
	char		*plain[] = { "/bin/sleep", "30", NULL };
	char		*stubborn[] = { "/bin/sh", "-c",
			    "trap '' TERM; echo armed; sleep 30", NULL };
	double		 t0;
	int		 ret = -1;

	setup();
	result_init(&r[0]);
	result_init(&r[1]);
	t0 = unit_now();
	spec(&js, plain, NULL, &r[0]);
	js.js_timeout = 1;
	CHECK((j[0] = job_run(&js, NULL, 0)) != NULL);
	spec(&js, stubborn, NULL, &r[1]);
	js.js_timeout = 1;
	js.js_grace = 1;
	CHECK((j[1] = job_run(&js, NULL, 0)) != NULL);
	CHECK(wait_done(r, 2) == 0);
	CHECK(WIFSIGNALED(r[0].status));
	CHECK_INT(WTERMSIG(r[0].status), SIGTERM);
	CHECK(WIFSIGNALED(r[1].status));
	CHECK_INT(WTERMSIG(r[1].status), SIGKILL);
	CHECK_STR(r[1].text, "armed\n");
	CHECK(unit_now() - t0 < 5);
	ret = 0;
end:
	result_free(&r[0]);
	result_free(&r[1]);
	teardown();
	return (ret);
}

/* job_kill: the signal to the whole group, then SIGKILL. */
static int
test_kill(void)
{
	struct job_spec	 js;
	struct result	 r;
	struct job	*j;
	char		*argv[] = { "/bin/sh", "-c",
			    "trap '' HUP; sleep 30 & echo $!; wait", NULL };
	char		*nl;
	pid_t		 bg;
	int		 ret = -1;

	setup();
	result_init(&r);
	spec(&js, argv, NULL, &r);
	js.js_grace = 1;
	CHECK((j = job_run(&js, NULL, 0)) != NULL);
	while (evbuffer_search(r.out, "\n", 1, NULL).pos == -1 &&
	    job_pid(j) != -1)
		event_base_loop(env.sx_base, EVLOOP_ONCE);
	job_kill(j, SIGHUP);
	CHECK(wait_done(&r, 1) == 0);
	CHECK(WIFSIGNALED(r.status));
	CHECK_INT(WTERMSIG(r.status), SIGKILL);
	CHECK((nl = strchr(r.text, '\n')) != NULL);
	bg = atol(r.text);
	CHECK(bg > 1);
	spin(0.2);
	CHECK(gone(bg));	/* the group's SIGKILL reached it */
	ret = 0;
end:
	result_free(&r);
	teardown();
	return (ret);
}

/* Our own children are not the process layer's to reap. */
static int
test_reap_by_pid(void)
{
	struct job_spec	 js;
	struct result	 r;
	char		*argv[] = { "/bin/true", NULL };
	pid_t		 mine;
	int		 status, ret = -1;

	setup();
	result_init(&r);
	if ((mine = fork()) == 0)
		_exit(42);
	CHECK(mine > 0);
	spec(&js, argv, NULL, &r);
	CHECK(job_run(&js, NULL, 0) != NULL);
	CHECK(wait_done(&r, 1) == 0);
	spin(0.2);
	CHECK_INT(waitpid(mine, &status, 0), mine);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 42);
	ret = 0;
end:
	result_free(&r);
	teardown();
	return (ret);
}

/* Freeing a running job kills it and reaps it; no callback comes. */
static int
test_free_running(void)
{
	struct job_spec	 js;
	struct result	 r;
	struct job	*j;
	char		*argv[] = { "/bin/sleep", "30", NULL };
	pid_t		 pid;
	double		 end;
	int		 ret = -1;

	setup();
	result_init(&r);
	spec(&js, argv, NULL, &r);
	CHECK((j = job_run(&js, NULL, 0)) != NULL);
	pid = job_pid(j);
	job_free(j);
	for (end = unit_now() + 5; unit_now() < end && !gone(pid);)
		event_base_loop(env.sx_base, EVLOOP_ONCE);
	CHECK(gone(pid));
	spin(0.2);	/* a zombie is gone; SIGCHLD may come in a turn */
	CHECK_INT(waitpid(pid, NULL, WNOHANG), -1);	/* reaped */
	CHECK_INT(r.done, 0);
	ret = 0;
end:
	result_free(&r);
	teardown();
	return (ret);
}

/* A background process holding stdout delays the end by the linger only. */
static int
test_linger(void)
{
	struct job_spec	 js;
	struct result	 r;
	char		*argv[] = { "/bin/sh", "-c", "sleep 30 & echo $!", NULL };
	double		 t0;
	pid_t		 bg = -1;
	int		 ret = -1;

	setup();
	result_init(&r);
	spec(&js, argv, NULL, &r);
	t0 = unit_now();
	CHECK(job_run(&js, NULL, 0) != NULL);
	CHECK(wait_done(&r, 1) == 0);
	CHECK(unit_now() - t0 < 6);
	bg = atol(r.text);
	CHECK(bg > 1);
	CHECK(!gone(bg));	/* it still runs: the job ended all the same */
	ret = 0;
end:
	if (bg > 1)
		kill(bg, SIGKILL);
	result_free(&r);
	teardown();
	return (ret);
}

/* Many at once, each with its own status and output. */
static int
test_many(void)
{
	struct job_spec	 js;
	struct result	 r[T_MANY];
	char		 cmd[T_MANY][64];
	char		*argv[T_MANY][4];
	int		 i, ret = -1;

	setup();
	for (i = 0; i < T_MANY; i++) {
		result_init(&r[i]);
		snprintf(cmd[i], sizeof(cmd[i]), "echo %d; exit %d", i, i);
		argv[i][0] = "/bin/sh";
		argv[i][1] = "-c";
		argv[i][2] = cmd[i];
		argv[i][3] = NULL;
		spec(&js, argv[i], NULL, &r[i]);
		CHECK(job_run(&js, NULL, 0) != NULL);
	}
	CHECK(wait_done(r, T_MANY) == 0);
	for (i = 0; i < T_MANY; i++) {
		CHECK(WIFEXITED(r[i].status));
		CHECK_INT(WEXITSTATUS(r[i].status), i);
		CHECK_INT(atoi(r[i].text), i);
	}
	ret = 0;
end:
	for (i = 0; i < T_MANY; i++)
		result_free(&r[i]);
	teardown();
	return (ret);
}

static void
tusers_remove(void)
{
	unit_user_remove(&users[0]);
	unit_user_remove(&users[1]);
}

static void
tusers_signal(int sig)
{
	tusers_remove();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* A job as another user: ids, groups, its pty, and no way back. */
static int
creds_fn(json_t *arg __unused)
{
	gid_t	 g[8];
	int	 n = getgroups(8, g), i;

	printf("%ld %ld %ld %ld", (long)getuid(), (long)geteuid(),
	    (long)getgid(), (long)getegid());
	for (i = 0; i < n; i++)
		printf(" g%ld", (long)g[i]);
	printf(" root:%d\n", setuid(0) == 0 || seteuid(0) == 0);
	fflush(stdout);
	return (0);
}

static int
test_creds(void)
{
	struct job_spec	 js;
	struct result	 r;
	struct unit_user	*u = &users[0];
	char		 want[128];
	char		*argv[] = { "/bin/sh", "-c",
			    "stat -c %u $(tty)", NULL };
	int		 ret = -1, root;

	setup();
	result_init(&r);
	if ((root = need_root()) != 1) {
		ret = root;
		goto end;
	}
	CHECK(unit_user_make(u, "sbxjob", T_UID_FIRST, T_UID_LAST,
	    NULL) == 0);
	spec(&js, NULL, NULL, &r);
	js.js_flags = JOB_CREDS;
	js.js_uid = u->uu_uid;
	js.js_gid = u->uu_gid;
	js.js_groups = &u->uu_gid;
	js.js_ngroups = 1;
	js.js_fn = creds_fn;
	CHECK(job_run(&js, NULL, 0) != NULL);
	CHECK(wait_done(&r, 1) == 0);
	snprintf(want, sizeof(want), "%ld %ld %ld %ld g%ld root:0\n",
	    (long)u->uu_uid, (long)u->uu_uid, (long)u->uu_gid, (long)u->uu_gid,
	    (long)u->uu_gid);
	CHECK_STR(r.text, want);
	result_free(&r);
	/* The pty's slave belongs to the user. */
	result_init(&r);
	spec(&js, argv, NULL, &r);
	js.js_flags = JOB_CREDS | JOB_PTY;
	js.js_uid = u->uu_uid;
	js.js_gid = u->uu_gid;
	js.js_groups = &u->uu_gid;
	js.js_ngroups = 1;
	CHECK(job_run(&js, NULL, 0) != NULL);
	CHECK(wait_done(&r, 1) == 0);
	snprintf(want, sizeof(want), "%ld\r\n", (long)u->uu_uid);
	CHECK_STR(r.text, want);
	ret = 0;
end:
	tusers_remove();
	result_free(&r);
	teardown();
	return (ret);
}

/* Start sh -c cmd as u, in the background; its pid. */
static pid_t
spawn_as(struct unit_user *u, const char *cmd)
{
	pid_t	 pid;

	if ((pid = fork()) == 0) {
		if (setgroups(1, &u->uu_gid) == -1 ||
		    setresgid(u->uu_gid, u->uu_gid, u->uu_gid) == -1 ||
		    setresuid(u->uu_uid, u->uu_uid, u->uu_uid) == -1)
			_exit(1);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	return (pid);
}

struct uidres {
	int	 done;
	int	 r;
};

static void
uidcb(int r, void *arg)
{
	struct uidres	*ur = arg;

	ur->done++;
	ur->r = r;
}

/*
 * Every process of one uid stops, those that ignore SIGTERM and those
 * that left the group included; another uid's keep running.
 */
static int
test_stop_uid(void)
{
	struct unit_user	*a = &users[0], *b = &users[1];
	struct uidres	 ur;
	pid_t		 pa[3] = { -1, -1, -1 }, pb = -1;
	double		 end;
	int		 ret = -1, root, i, status;

	setup();
	memset(&ur, 0, sizeof(ur));
	if ((root = need_root()) != 1) {
		ret = root;
		goto end;
	}
	CHECK(unit_user_make(a, "sbxjob", T_UID_FIRST, T_UID_LAST,
	    NULL) == 0);
	CHECK(unit_user_make(b, "sbxjob", T_UID_FIRST, T_UID_LAST,
	    NULL) == 0);
	pa[0] = spawn_as(a, "exec sleep 60");
	pa[1] = spawn_as(a, "trap '' TERM; sleep 60; sleep 60");
	pa[2] = spawn_as(a, "setsid sleep 60 & sleep 60");
	pb = spawn_as(b, "exec sleep 60");
	for (i = 0; i < 3; i++)
		CHECK(pa[i] > 0);
	CHECK(pb > 0);
	for (end = unit_now() + 5; unit_now() < end && job_uid_count(a->uu_uid) < 6;)
		spin(0.05);
	CHECK_INT(job_uid_count(a->uu_uid), 6);	/* 3 shells, 3 sleeps */
	CHECK(job_stop_uid(a->uu_uid, SIGTERM, 1, uidcb, &ur) != NULL);
	for (end = unit_now() + T_WAIT; unit_now() < end && ur.done == 0;)
		event_base_loop(env.sx_base, EVLOOP_ONCE);
	CHECK_INT(ur.done, 1);
	CHECK_INT(ur.r, 0);
	CHECK_INT(job_uid_count(a->uu_uid), 0);
	for (i = 0; i < 3; i++) {
		CHECK_INT(waitpid(pa[i], &status, 0), pa[i]);
		CHECK(WIFSIGNALED(status));
	}
	CHECK(!gone(pb));
	CHECK_INT(job_uid_count(b->uu_uid), 1);
	/* The other uid stops too, at once with SIGKILL. */
	memset(&ur, 0, sizeof(ur));
	CHECK(job_stop_uid(b->uu_uid, 0, 0, uidcb, &ur) != NULL);
	for (end = unit_now() + T_WAIT; unit_now() < end && ur.done == 0;)
		event_base_loop(env.sx_base, EVLOOP_ONCE);
	CHECK_INT(ur.r, 0);
	CHECK_INT(waitpid(pb, &status, 0), pb);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	pb = -1;
	/* Root is never a uid to stop. */
	CHECK(job_stop_uid(0, SIGKILL, 0, uidcb, &ur) == NULL);
	ret = 0;
end:
	tusers_remove();
	for (i = 0; i < 3; i++)
		if (pa[i] > 0)
			waitpid(pa[i], NULL, WNOHANG);
	if (pb > 0)
		waitpid(pb, NULL, WNOHANG);
	teardown();
	return (ret);
}

static const struct unit_test tests[] = {
	{ "output_status", test_output_status },
	{ "env", test_env },
	{ "inherit", test_inherit },
	{ "limits", test_limits },
	{ "cgroups", test_cgroups },
	{ "setup_fails", test_setup_fails },
	{ "path", test_path },
	{ "stdin", test_stdin },
	{ "pty", test_pty },
	{ "timeout", test_timeout },
	{ "kill", test_kill },
	{ "reap_by_pid", test_reap_by_pid },
	{ "free_running", test_free_running },
	{ "linger", test_linger },
	{ "many", test_many },
	{ "creds", test_creds },
	{ "stop_uid", test_stop_uid },
};

int
main(int argc, char *argv[])
{
	signal(SIGPIPE, SIG_IGN);	/* as sbxd does */
	atexit(tusers_remove);
	signal(SIGINT, tusers_signal);
	signal(SIGTERM, tusers_signal);
	return (unit_main("job", tests, sizeof(tests) / sizeof(tests[0]),
	    argc, argv));
}
