/*
 * test_sandbox_proc.c: the command runner with real children: exit
 * codes, may-fail commands, stdin and captured stdout, the output bound,
 * timeouts with SIGTERM and SIGKILL, refused lists, cancel, many lists
 * at once, and what a child inherits: fds, environment, signals.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "sbxd.h"
#include "sandbox.h"
#include "unit.h"

#define T_WAIT		20	/* seconds a list may take in a test */
#define T_OUTPUT_MAX	(64 * 1024)	/* SANDBOX_PROC_OUTPUT_MAX */
#define T_PARALLEL	5	/* lists running at once */

struct result {
	int	 done;
	int	 status;
	char	*error;
	char	*output;
};

static struct sbxd	 env;

static void
setup(void)
{
	signal(SIGPIPE, SIG_IGN);	/* as sbxd does */
	env.sx_base = unit_loop_start(50);
	sbxd_env = &env;
}

static void
teardown(void)
{
	sandbox_proc_shutdown();
	job_shutdown();
	unit_loop_stop(env.sx_base);
	env.sx_base = NULL;
}

static void
result_cb(int status, const char *error, const char *output, void *arg)
{
	struct result	*r = arg;

	r->done++;
	r->status = status;
	free(r->error);
	free(r->output);
	r->error = error != NULL ? strdup(error) : NULL;
	r->output = output != NULL ? strdup(output) : NULL;
}

static void
result_free(struct result *r)
{
	free(r->error);
	free(r->output);
	memset(r, 0, sizeof(*r));
}

/* Run the loop until each of n results is in, once, or T_WAIT passed. */
static int
wait_all(struct result *r, int n)
{
	return (unit_loop_counts(env.sx_base, r, sizeof(*r), n, T_WAIT));
}

/* Run cl and wait; the callback must not come from inside run. */
static int
run(struct sandbox_cmdlist *cl, int timeout, struct result *r)
{
	sandbox_proc_run(cl, timeout, "test", result_cb, r);
	if (r->done != 0 || !TAILQ_EMPTY(&cl->cl_cmds))
		return (-1);
	return (wait_all(r, 1));
}

/* Run the loop until sp has a child; its pid. */
static pid_t
wait_pid(struct sandbox_proc *sp)
{
	double	 end = unit_now() + T_WAIT;

	while (sandbox_proc_pid(sp) == -1 && unit_now() < end)
		event_base_loop(env.sx_base, EVLOOP_ONCE);
	return (sandbox_proc_pid(sp));
}

/*
 * Whether pid is gone and reaped, not even a zombie of ours, once the
 * loop has run for at most T_WAIT seconds: the process layer reaps a
 * cancelled command in the background.
 */
static int
reaped(pid_t pid)
{
	double	 end = unit_now() + T_WAIT;

	do {
		if (kill(pid, 0) == -1 && errno == ESRCH &&
		    waitpid(pid, NULL, WNOHANG) == -1 && errno == ECHILD)
			return (1);
		event_base_loop(env.sx_base, EVLOOP_ONCE);
	} while (unit_now() < end);
	return (0);
}

/*
 * Whether no live process is left in process group pgid.  An orphan
 * killed with the group may stay a zombie until init reaps it, so
 * zombies do not count.  Linux only: elsewhere, true.
 */
static int
group_gone(pid_t pgid)
{
	DIR		*d;
	struct dirent	*de;
	FILE		*fp;
	char		 path[300], buf[512], *p, state;
	long		 ppid, pgrp;
	double		 end = unit_now() + 3;
	int		 alive;

	do {
		if ((d = opendir("/proc")) == NULL)
			return (1);
		alive = 0;
		while ((de = readdir(d)) != NULL) {
			snprintf(path, sizeof(path), "/proc/%s/stat",
			    de->d_name);
			if ((fp = fopen(path, "r")) == NULL)
				continue;
			if (fgets(buf, sizeof(buf), fp) != NULL &&
			    (p = strrchr(buf, ')')) != NULL &&
			    sscanf(p + 1, " %c %ld %ld", &state, &ppid,
			    &pgrp) == 3 && pgrp == pgid && state != 'Z')
				alive++;
			fclose(fp);
		}
		closedir(d);
		if (alive == 0)
			return (1);
		usleep(100000);
	} while (unit_now() < end);
	return (0);
}

static int
test_true(void)
{
	struct sandbox_cmdlist	 cl;
	struct result		 r = { 0 };
	int			 ret = -1;

	setup();
	sandbox_cmdlist_init(&cl);
	sandbox_cmd_add(&cl, 0, "/bin/true", NULL);
	CHECK(run(&cl, 5, &r) == 0);
	CHECK_INT(r.status, 0);
	CHECK(r.error == NULL);
	CHECK(r.output == NULL);
	ret = 0;
end:
	result_free(&r);
	teardown();
	return (ret);
}

/* An empty list succeeds, from the loop too. */
static int
test_empty(void)
{
	struct sandbox_cmdlist	 cl;
	struct result		 r = { 0 };
	int			 ret = -1;

	setup();
	sandbox_cmdlist_init(&cl);
	CHECK(run(&cl, 5, &r) == 0);
	CHECK_INT(r.status, 0);
	CHECK(r.error == NULL);
	ret = 0;
end:
	result_free(&r);
	teardown();
	return (ret);
}

/* A failure stops the list and quotes the last stderr line. */
static int
test_exit(void)
{
	struct sandbox_cmdlist	 cl;
	struct result		 r = { 0 };
	char			*dir = NULL, *mark = NULL;
	struct stat		 st;
	int			 ret = -1;

	setup();
	CHECK((dir = unit_tmpdir()) != NULL);
	CHECK(asprintf(&mark, "%s/mark", dir) != -1);
	sandbox_cmdlist_init(&cl);
	sandbox_cmd_add(&cl, 0, "/bin/sh", "-c",
	    "echo first >&2; echo no such user >&2; exit 3", NULL);
	sandbox_cmd_add(&cl, 0, "/usr/bin/touch", mark, NULL);
	CHECK(run(&cl, 5, &r) == 0);
	CHECK_INT(r.status, 3);
	CHECK_STR(r.error, "/bin/sh exited 3: no such user");
	CHECK(r.output == NULL);
	CHECK(stat(mark, &st) == -1 && errno == ENOENT);
	ret = 0;
end:
	result_free(&r);
	teardown();
	unit_rmtree(dir);
	free(dir);
	free(mark);
	return (ret);
}

/* A may-fail command goes on; the output is the last OUTPUT one's. */
static int
test_mayfail(void)
{
	struct sandbox_cmdlist	 cl;
	struct result		 r = { 0 };
	int			 ret = -1;

	setup();
	sandbox_cmdlist_init(&cl);
	sandbox_cmd_add(&cl, SANDBOX_CMD_OUTPUT, "/bin/echo", "first", NULL);
	sandbox_cmd_add(&cl, SANDBOX_CMD_MAYFAIL, "/bin/sh", "-c",
	    "echo failing >&2; exit 1", NULL);
	sandbox_cmd_add(&cl, SANDBOX_CMD_MAYFAIL, "/bin/sh", "-c",
	    "kill -9 $$", NULL);
	sandbox_cmd_add(&cl, SANDBOX_CMD_OUTPUT, "/bin/echo", "last", NULL);
	sandbox_cmd_add(&cl, 0, "/bin/echo", "not kept", NULL);
	CHECK(run(&cl, 5, &r) == 0);
	CHECK_INT(r.status, 0);
	CHECK(r.error == NULL);
	CHECK_STR(r.output, "last\n");
	ret = 0;
end:
	result_free(&r);
	teardown();
	return (ret);
}

/* A command killed by a signal fails the list with status -1. */
static int
test_signal(void)
{
	struct sandbox_cmdlist	 cl;
	struct result		 r = { 0 };
	int			 ret = -1;

	setup();
	sandbox_cmdlist_init(&cl);
	sandbox_cmd_add(&cl, 0, "/bin/sh", "-c", "kill -9 $$", NULL);
	CHECK(run(&cl, 5, &r) == 0);
	CHECK_INT(r.status, -1);
	CHECK_STR(r.error, "/bin/sh killed by signal 9");
	ret = 0;
end:
	result_free(&r);
	teardown();
	return (ret);
}

/* stdin reaches the command; a big input is written in pieces. */
static int
test_input(void)
{
	struct sandbox_cmdlist	 cl;
	struct sandbox_cmd	*sc;
	struct result		 r = { 0 };
	char			*big = NULL;
	size_t			 i, len = 200 * 1024;
	int			 ret = -1;

	setup();
	sandbox_cmdlist_init(&cl);
	sc = sandbox_cmd_add(&cl, SANDBOX_CMD_OUTPUT, "/bin/cat", NULL);
	sandbox_cmd_input(&cl, sc, "line one\nline two\n");
	CHECK(run(&cl, 5, &r) == 0);
	CHECK_INT(r.status, 0);
	CHECK_STR(r.output, "line one\nline two\n");
	result_free(&r);

	/* Through wc: no output bound in the way, every byte counted. */
	CHECK((big = malloc(len + 1)) != NULL);
	for (i = 0; i < len; i++)
		big[i] = i % 64 == 63 ? '\n' : 'a' + i % 26;
	big[len] = '\0';
	sc = sandbox_cmd_add(&cl, SANDBOX_CMD_OUTPUT, "/usr/bin/wc", "-c",
	    NULL);
	sandbox_cmd_input(&cl, sc, big);
	CHECK(run(&cl, 5, &r) == 0);
	CHECK_INT(r.status, 0);
	CHECK_INT(atoi(r.output), len);
	result_free(&r);

	/* A command that reads nothing: EPIPE, not a dead test. */
	sc = sandbox_cmd_add(&cl, 0, "/bin/true", NULL);
	sandbox_cmd_input(&cl, sc, big);
	CHECK(run(&cl, 5, &r) == 0);
	CHECK_INT(r.status, 0);
	ret = 0;
end:
	free(big);
	result_free(&r);
	teardown();
	return (ret);
}

/* Output past the bound is dropped, and the command still finishes. */
static int
test_bound(void)
{
	struct sandbox_cmdlist	 cl;
	struct result		 r = { 0 };
	size_t			 i;
	int			 ret = -1;

	setup();
	sandbox_cmdlist_init(&cl);
	sandbox_cmd_add(&cl, SANDBOX_CMD_OUTPUT, "/bin/sh", "-c",
	    "yes 0123456789abcdef | head -c 1000000", NULL);
	CHECK(run(&cl, 10, &r) == 0);
	CHECK_INT(r.status, 0);
	CHECK(r.output != NULL);
	CHECK_INT(strlen(r.output), T_OUTPUT_MAX);
	for (i = 0; i < T_OUTPUT_MAX; i++)
		CHECK(r.output[i] == "0123456789abcdef\n"[i % 17]);
	result_free(&r);

	/* One endless line on stderr is logged in pieces, not kept. */
	sandbox_cmd_add(&cl, 0, "/bin/sh", "-c",
	    "head -c 5000 /dev/zero | tr '\\0' x >&2; exit 2", NULL);
	CHECK(run(&cl, 10, &r) == 0);
	CHECK_INT(r.status, 2);
	CHECK(r.error != NULL && strlen(r.error) < 2000);
	ret = 0;
end:
	result_free(&r);
	teardown();
	return (ret);
}

/* A timeout kills the command with SIGTERM and reaps it. */
static int
test_timeout(void)
{
	struct sandbox_cmdlist	 cl;
	struct sandbox_proc	*sp;
	struct result		 r = { 0 };
	pid_t			 pid;
	double			 start = unit_now();
	int			 ret = -1;

	setup();
	sandbox_cmdlist_init(&cl);
	sandbox_cmd_add(&cl, 0, "/bin/sleep", "30", NULL);
	sp = sandbox_proc_run(&cl, 1, "test", result_cb, &r);
	CHECK((pid = wait_pid(sp)) > 0);
	CHECK(wait_all(&r, 1) == 0);
	CHECK_INT(r.status, -1);
	CHECK(r.error != NULL && strstr(r.error, "timed out") != NULL);
	CHECK_STR(r.error, "/bin/sleep timed out after 1 s");
	CHECK(unit_now() - start < 5);
	CHECK(reaped(pid));
	ret = 0;
end:
	result_free(&r);
	teardown();
	return (ret);
}

/* A command that ignores SIGTERM gets SIGKILL after the grace period. */
static int
test_timeout_kill(void)
{
	struct sandbox_cmdlist	 cl;
	struct sandbox_proc	*sp;
	struct result		 r = { 0 };
	pid_t			 pid;
	int			 ret = -1;

	setup();
	sandbox_cmdlist_init(&cl);
	sandbox_cmd_add(&cl, 0, "/bin/sh", "-c", "trap '' TERM; sleep 30",
	    NULL);
	sp = sandbox_proc_run(&cl, 1, "test", result_cb, &r);
	CHECK((pid = wait_pid(sp)) > 0);
	CHECK(wait_all(&r, 1) == 0);
	CHECK_INT(r.status, -1);
	CHECK_STR(r.error, "/bin/sh timed out after 1 s");
	CHECK(reaped(pid));
	/* The sleep, in the same process group, is gone too. */
	CHECK(group_gone(pid));
	ret = 0;
end:
	result_free(&r);
	teardown();
	return (ret);
}

/* A relative argv[0] refuses the whole list before anything runs. */
static int
test_relative(void)
{
	struct sandbox_cmdlist	 cl;
	struct result		 r = { 0 };
	char			*dir = NULL, *mark = NULL;
	struct stat		 st;
	int			 ret = -1;

	setup();
	CHECK((dir = unit_tmpdir()) != NULL);
	CHECK(asprintf(&mark, "%s/mark", dir) != -1);
	sandbox_cmdlist_init(&cl);
	sandbox_cmd_add(&cl, 0, "/usr/bin/touch", mark, NULL);
	sandbox_cmd_add(&cl, 0, "true", NULL);
	CHECK(run(&cl, 5, &r) == 0);
	CHECK_INT(r.status, -1);
	CHECK_STR(r.error, "true: not an absolute path");
	CHECK(stat(mark, &st) == -1 && errno == ENOENT);
	result_free(&r);

	/* A list that lost a command (memory ran out) runs nothing. */
	sandbox_cmd_add(&cl, 0, "/usr/bin/touch", mark, NULL);
	sandbox_cmdlist_fail(&cl);
	CHECK(run(&cl, 5, &r) == 0);
	CHECK_INT(r.status, -1);
	CHECK_STR(r.error, "out of memory");
	CHECK(stat(mark, &st) == -1 && errno == ENOENT);
	CHECK(!cl.cl_failed);
	result_free(&r);

	/* A missing program: it never starts, and the list says why. */
	sandbox_cmd_add(&cl, 0, "/nonexistent/useradd", NULL);
	CHECK(run(&cl, 5, &r) == 0);
	CHECK_INT(r.status, -1);
	CHECK_STR(r.error, "/nonexistent/useradd: No such file or directory");
	ret = 0;
end:
	result_free(&r);
	teardown();
	unit_rmtree(dir);
	free(dir);
	free(mark);
	return (ret);
}

/* Cancel kills, reaps and frees, and the callback never comes. */
static int
test_cancel(void)
{
	struct sandbox_cmdlist	 cl;
	struct sandbox_proc	*sp;
	struct result		 r = { 0 };
	pid_t			 pid;
	int			 i, ret = -1;

	setup();
	sandbox_cmdlist_init(&cl);
	sandbox_cmd_add(&cl, 0, "/bin/sleep", "30", NULL);
	sandbox_cmd_add(&cl, 0, "/bin/true", NULL);
	sp = sandbox_proc_run(&cl, 30, "test", result_cb, &r);
	CHECK((pid = wait_pid(sp)) > 0);
	sandbox_proc_cancel(sp);
	CHECK(reaped(pid));

	/* Cancelled with its result pending: no callback either. */
	sandbox_cmd_add(&cl, 0, "relative", NULL);
	sp = sandbox_proc_run(&cl, 30, "test", result_cb, &r);
	sandbox_proc_cancel(sp);

	/* Left running: shutdown takes it. */
	sandbox_cmd_add(&cl, 0, "/bin/sleep", "30", NULL);
	sp = sandbox_proc_run(&cl, 30, "test", result_cb, &r);
	CHECK((pid = wait_pid(sp)) > 0);
	sandbox_proc_shutdown();
	CHECK(reaped(pid));
	for (i = 0; i < 5; i++)
		event_base_loop(env.sx_base, EVLOOP_NONBLOCK);
	CHECK_INT(r.done, 0);
	ret = 0;
end:
	result_free(&r);
	teardown();
	return (ret);
}

/* Long lists, several at once, each child reaped by its own list. */
static int
test_sequence(void)
{
	struct sandbox_cmdlist	 cl;
	struct result		 r[T_PARALLEL];
	char			 n[16], want[16];
	int			 i, j, ret = -1;

	setup();
	memset(r, 0, sizeof(r));
	for (i = 0; i < T_PARALLEL; i++) {
		sandbox_cmdlist_init(&cl);
		for (j = 0; j < 40; j++) {
			snprintf(n, sizeof(n), "%d", i * 100 + j);
			sandbox_cmd_add(&cl, SANDBOX_CMD_OUTPUT, "/bin/echo",
			    n, NULL);
		}
		sandbox_proc_run(&cl, 5, "test", result_cb, &r[i]);
	}
	CHECK(wait_all(r, T_PARALLEL) == 0);
	for (i = 0; i < T_PARALLEL; i++) {
		snprintf(want, sizeof(want), "%d\n", i * 100 + 39);
		CHECK_INT(r[i].status, 0);
		CHECK_STR(r[i].output, want);
	}
	ret = 0;
end:
	for (i = 0; i < T_PARALLEL; i++)
		result_free(&r[i]);
	teardown();
	return (ret);
}

/* Someone else's child survives our SIGCHLD handling unreaped. */
static int
test_foreign_child(void)
{
	struct sandbox_cmdlist	 cl;
	struct result		 r = { 0 };
	pid_t			 pid, got;
	int			 status, ret = -1;

	setup();
	if ((pid = fork()) == 0)
		_exit(7);
	CHECK(pid > 0);
	sandbox_cmdlist_init(&cl);
	sandbox_cmd_add(&cl, 0, "/bin/sleep", "0.2", NULL);
	CHECK(run(&cl, 5, &r) == 0);
	CHECK_INT(r.status, 0);
	got = waitpid(pid, &status, 0);
	CHECK_INT(got, pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 7);
	ret = 0;
end:
	result_free(&r);
	teardown();
	return (ret);
}

/* The child gets 0, 1 and 2 only, a fixed environment, clean signals. */
static int
test_child(void)
{
	struct sandbox_cmdlist	 cl;
	struct result		 r = { 0 };
	sigset_t		 set, old;
	unsigned long long	 blk, ign;
	int			 sig, ret = -1, masked = 0;

	setup();
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, &old);
	masked = 1;
	sandbox_cmdlist_init(&cl);
	sandbox_cmd_add(&cl, SANDBOX_CMD_OUTPUT, "/usr/bin/env", NULL);
	CHECK(run(&cl, 5, &r) == 0);
	CHECK_STR(r.output, "PATH=/usr/sbin:/usr/bin:/sbin:/bin\nLANG=C\n");
	result_free(&r);

	if (access("/proc/self/fd", R_OK) == 0) {
		/* ls's own directory fd is the 3. */
		sandbox_cmd_add(&cl, SANDBOX_CMD_OUTPUT, "/bin/ls",
		    "/proc/self/fd", NULL);
		CHECK(run(&cl, 5, &r) == 0);
		CHECK_STR(r.output, "0\n1\n2\n3\n");
		result_free(&r);

		/* SIGPIPE ignored and SIGUSR1 blocked here, not there. */
		sandbox_cmd_add(&cl, SANDBOX_CMD_OUTPUT, "/bin/grep", "-E",
		    "^Sig(Blk|Ign):", "/proc/self/status", NULL);
		CHECK(run(&cl, 5, &r) == 0);
		CHECK(r.output != NULL && sscanf(r.output,
		    "SigBlk: %llx SigIgn: %llx", &blk, &ign) == 2);
		CHECK_INT(blk, 0);
		/* glibc's own signals below SIGRTMIN refuse sigaction. */
		for (sig = 32; sig < SIGRTMIN && sig <= 64; sig++)
			ign &= ~(1ULL << (sig - 1));
		CHECK_INT(ign, 0);
		result_free(&r);
	}

	sandbox_cmd_add(&cl, SANDBOX_CMD_OUTPUT, "/bin/pwd", NULL);
	CHECK(run(&cl, 5, &r) == 0);
	CHECK_STR(r.output, "/\n");
	ret = 0;
end:
	if (masked)
		sigprocmask(SIG_SETMASK, &old, NULL);
	result_free(&r);
	teardown();
	return (ret);
}

/* No fd is left behind by any way a list can end. */
static int
test_fds(void)
{
	struct sandbox_cmdlist	 cl;
	struct sandbox_cmd	*sc;
	struct sandbox_proc	*sp;
	struct result		 r[4];
	int			 before, i, ret = -1;

	memset(r, 0, sizeof(r));
	setup();
	CHECK((before = unit_nfds()) > 0);
	sandbox_cmdlist_init(&cl);
	sc = sandbox_cmd_add(&cl, SANDBOX_CMD_OUTPUT, "/bin/cat", NULL);
	sandbox_cmd_input(&cl, sc, "x\n");
	sandbox_cmd_add(&cl, SANDBOX_CMD_MAYFAIL, "/bin/false", NULL);
	sandbox_proc_run(&cl, 5, "test", result_cb, &r[0]);
	sandbox_cmd_add(&cl, 0, "/bin/sh", "-c", "exit 4", NULL);
	sandbox_proc_run(&cl, 5, "test", result_cb, &r[1]);
	sandbox_cmd_add(&cl, 0, "/nonexistent", NULL);
	sandbox_proc_run(&cl, 5, "test", result_cb, &r[2]);
	sandbox_cmd_add(&cl, 0, "relative", NULL);
	sandbox_proc_run(&cl, 5, "test", result_cb, &r[3]);
	CHECK(wait_all(r, 4) == 0);
	CHECK_INT(r[0].status, 0);
	CHECK_INT(r[1].status, 4);
	CHECK_INT(r[2].status, -1);
	CHECK_INT(r[3].status, -1);

	sc = sandbox_cmd_add(&cl, 0, "/bin/sleep", "30", NULL);
	sandbox_cmd_input(&cl, sc, "unread");
	sp = sandbox_proc_run(&cl, 5, "test", result_cb, &r[0]);
	CHECK(wait_pid(sp) > 0);
	sandbox_proc_cancel(sp);
	for (i = 0; i < 3; i++)
		event_base_loop(env.sx_base, EVLOOP_NONBLOCK);
	CHECK_INT(unit_nfds(), before);
	ret = 0;
end:
	for (i = 0; i < 4; i++)
		result_free(&r[i]);
	teardown();
	return (ret);
}

static const struct unit_test tests[] = {
	{ "true", test_true },
	{ "empty", test_empty },
	{ "exit", test_exit },
	{ "mayfail", test_mayfail },
	{ "signal", test_signal },
	{ "input", test_input },
	{ "bound", test_bound },
	{ "timeout", test_timeout },
	{ "timeout_kill", test_timeout_kill },
	{ "relative", test_relative },
	{ "cancel", test_cancel },
	{ "sequence", test_sequence },
	{ "foreign_child", test_foreign_child },
	{ "child", test_child },
	{ "fds", test_fds }
};

UNIT_MAIN("sandbox_proc", tests)
