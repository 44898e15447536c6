/*
 * test_sandbox_exec.c: "sbxctl exec" end to end.  This program is the
 * daemon: an event loop with the control socket and an "exec" command
 * that runs sandbox_exec_start for a real user.  As root that user is a
 * throwaway one made with useradd (uid 60950 and up) and removed at the
 * end, whatever happens; otherwise it is the current user, with no
 * change of privileges.  The real sbxctl ($SBXCTL) is the client, and a
 * raw client in this file speaks the frames directly for what sbxctl
 * cannot show: window sizes, a client that stops reading, bad frames.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "config.h"
#include "sbxd.h"
#include "sandbox.h"
#include "unit.h"

#define TEST_UID_FIRST	60950	/* throwaway users, as root */
#define TEST_UID_LAST	60999
#define TEST_BIG	(50 * 1024 * 1024)	/* bytes through cat */
#define TEST_RSS_GROWTH	(24 * 1024 * 1024)	/* bound on our growth
						   while TEST_BIG streams */
#define TEST_PEAK_MAX	(1024 * 1024)	/* most bytes sandbox_exec may
					   queue one way */
#define TEST_TIMEOUT_MS	120000		/* one sbxctl run */
#define TEST_SECRET	"SBXD_TEST_SECRET=hunter2"

static struct sbxd		 env;
static struct sbxd_config	*conf;
static char			*dir;
static const char		*sbxctl;

/* The sandbox user. */
static uid_t			 t_uid;
static gid_t			 t_gid;
static char			 t_user[32];
static char			 t_home[1024];
static struct unit_user		 t_made;	/* as root */

static char *extra_env[] = { "HTTP_PROXY=http://127.0.0.1:3128", NULL };

/* Output of one sbxctl run. */
struct run {
	int	 status;	/* exit code, 128 + signal, -1: timeout */
	char	*out;
	char	*err;
};

/* The command a sandbox module would register. */
static void
cmd_exec(struct control_req *cr, json_t *req)
{
	struct sandbox_exec_spec	 spec;
	char				 err[256];

	memset(&spec, 0, sizeof(spec));
	if (sandbox_exec_spec_parse(req, &spec, err, sizeof(err)) == -1) {
		control_req_error(cr, "%s", err);
		return;
	}
	spec.es_as.sa_uid = t_uid;
	spec.es_as.sa_gid = t_gid;
	spec.es_as.sa_user = t_user;
	spec.es_as.sa_home = t_home;
	spec.es_as.sa_shell = "/bin/sh";
	spec.es_as.sa_env = extra_env;
	spec.es_as.sa_name = json_string_value(json_object_get(req, "name"));
	if (sandbox_exec_start(cr, &spec, err, sizeof(err)) == -1)
		control_req_error(cr, "%s", err);
	sandbox_exec_spec_clear(&spec);
}

static int
setup(void)
{
	env.sx_base = event_base_new();
	sbxd_env = &env;
	if ((dir = unit_tmpdir()) == NULL)
		return (-1);
	conf = config_new();
	env.sx_conf = conf;
	free(conf->sc_socket);
	if (asprintf(&conf->sc_socket, "%s/ctl.sock", dir) == -1)
		return (-1);
	if (geteuid() != 0) {
		/* Not root: our own group may use the socket. */
		conf->sc_group = xstrdup("self");
		conf->sc_gid = getgid();
	}
	control_register("exec", cmd_exec, sandbox_exec_fields);
	return (control_init(conf, -1));
}

static void
teardown(void)
{
	sandbox_exec_shutdown();
	job_shutdown();
	control_shutdown();
	config_free(conf);
	conf = NULL;
	unit_rmtree(dir);
	free(dir);
	dir = NULL;
	event_base_free(env.sx_base);
	env.sx_base = NULL;
}

/* Run the loop for about ms milliseconds. */
static void
spin(int ms)
{
	struct timeval	 tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(env.sx_base, &tv);
	event_base_dispatch(env.sx_base);
}

static long
rss_anon(void)
{
	char	 line[256];
	FILE	*fp;
	long	 kb = -1;

	if ((fp = fopen("/proc/self/status", "r")) == NULL)
		return (-1);
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "RssAnon: %ld kB", &kb) == 1)
			break;
	fclose(fp);
	return (kb * 1024);
}

static char *
slurp(const char *path)
{
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*fp;

	if ((fp = fopen(path, "r")) == NULL)
		return (strdup(""));
	if (getdelim(&buf, &len, '\0', fp) == -1) {
		free(buf);
		buf = strdup("");
	}
	fclose(fp);
	return (buf);
}

/*
 * Start argv (sbxctl's arguments after -s socket, or a whole command
 * line if wrap is set) with stdin from in; stdout and stderr go to files.
 */
static pid_t
spawn(const char *in, const char **args, const char *wrap)
{
	char		 path[1024], *cmd = NULL;
	const char	*argv[64];
	int		 i, n = 0, fd;
	pid_t		 pid;

	if (wrap != NULL) {
		if (asprintf(&cmd, wrap, sbxctl, conf->sc_socket) == -1)
			return (-1);
		argv[n++] = "/bin/sh";
		argv[n++] = "-c";
		argv[n++] = cmd;
	} else {
		argv[n++] = sbxctl;
		argv[n++] = "-s";
		argv[n++] = conf->sc_socket;
		for (i = 0; args[i] != NULL && n < 63; i++)
			argv[n++] = args[i];
	}
	argv[n] = NULL;
	if ((pid = fork()) != 0) {
		free(cmd);
		return (pid);
	}
	if ((fd = open(in != NULL ? in : "/dev/null", O_RDONLY)) == -1)
		_exit(99);
	dup2(fd, 0);
	snprintf(path, sizeof(path), "%s/out", dir);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644)) == -1)
		_exit(99);
	dup2(fd, 1);
	snprintf(path, sizeof(path), "%s/err", dir);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644)) == -1)
		_exit(99);
	dup2(fd, 2);
	setenv("TERM", "xterm", 1);
	execv(argv[0], (char **)argv);
	_exit(98);
}

/* Run the loop until pid exits; its status, or -1 after ms. */
static int
reap(pid_t pid, int ms, long *rss_max)
{
	int	 status, waited;
	long	 rss;

	for (waited = 0; waited < ms; waited += 20) {
		spin(20);
		if (rss_max != NULL && (rss = rss_anon()) > *rss_max)
			*rss_max = rss;
		if (waitpid(pid, &status, WNOHANG) == pid)
			return (WIFEXITED(status) ? WEXITSTATUS(status) :
			    128 + WTERMSIG(status));
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return (-1);
}

/* sbxctl -s socket args...; fills r. */
static void
ctl(struct run *r, const char *in, const char **args, const char *wrap)
{
	char	 path[1024];
	pid_t	 pid;

	memset(r, 0, sizeof(*r));
	r->status = -1;
	if ((pid = spawn(in, args, wrap)) == -1)
		return;
	r->status = reap(pid, TEST_TIMEOUT_MS, NULL);
	snprintf(path, sizeof(path), "%s/out", dir);
	r->out = slurp(path);
	snprintf(path, sizeof(path), "%s/err", dir);
	r->err = slurp(path);
}

static void
run_free(struct run *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

/* Live sessions, from sandbox_exec_status. */
static json_int_t
exec_stat(const char *key)
{
	json_t		*st = sandbox_exec_status();
	json_int_t	 v = json_integer_value(json_object_get(st, key));

	json_decref(st);
	return (v);
}

/*
 * Whether a live process (zombies do not count: nothing reaps orphans
 * in some containers) of the test user has pattern in its command line;
 * any process of the user if pattern is NULL.
 */
static int
user_procs(const char *pattern)
{
	struct dirent	*de;
	char		 path[300], buf[4096];
	uid_t		 uid;
	char		 state;
	size_t		 n, i;
	FILE		*fp;
	DIR		*d;
	int		 found = 0;

	if ((d = opendir("/proc")) == NULL)
		return (1);
	while (!found && (de = readdir(d)) != NULL) {
		if (strspn(de->d_name, "0123456789") != strlen(de->d_name) ||
		    atol(de->d_name) == (long)getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%s/status", de->d_name);
		if ((fp = fopen(path, "r")) == NULL)
			continue;
		uid = (uid_t)-1;
		state = 'Z';
		while (fgets(buf, sizeof(buf), fp) != NULL) {
			if (strncmp(buf, "State:", 6) == 0)
				state = buf[6 + strspn(buf + 6, " \t")];
			if (strncmp(buf, "Uid:", 4) == 0)
				uid = (uid_t)strtoul(buf + 4, NULL, 10);
		}
		fclose(fp);
		if (uid != t_uid || state == 'Z')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
		if ((fp = fopen(path, "r")) == NULL)
			continue;
		n = fread(buf, 1, sizeof(buf) - 1, fp);
		fclose(fp);
		for (i = 0; i + 1 < n; i++)
			if (buf[i] == '\0')
				buf[i] = ' ';
		buf[n] = '\0';
		found = pattern == NULL || strstr(buf, pattern) != NULL;
	}
	closedir(d);
	return (found);
}

static int
test_echo(void)
{
	const char	*args[] = { "exec", "x", "--", "/bin/echo", "hi",
	    NULL };
	struct run	 r = { 0, NULL, NULL };
	int		 ret = -1;

	CHECK(setup() == 0);
	ctl(&r, NULL, args, NULL);
	CHECK_INT(r.status, 0);
	CHECK_STR(r.out, "hi\n");
	CHECK_STR(r.err, "");
	ret = 0;
end:
	run_free(&r);
	teardown();
	return (ret);
}

static int
test_stderr_status(void)
{
	const char	*args[] = { "exec", "x", "--", "/bin/sh", "-c",
	    "echo out; echo err >&2; exit 7", NULL };
	struct run	 r = { 0, NULL, NULL };
	int		 ret = -1;

	CHECK(setup() == 0);
	ctl(&r, NULL, args, NULL);
	CHECK_INT(r.status, 7);
	CHECK_STR(r.out, "out\n");
	CHECK_STR(r.err, "err\n");
	ret = 0;
end:
	run_free(&r);
	teardown();
	return (ret);
}

static int
test_stdin(void)
{
	const char	*args[] = { "exec", "x", "--", "/bin/cat", NULL };
	struct run	 r = { 0, NULL, NULL };
	char		 in[1024];
	int		 ret = -1;

	CHECK(setup() == 0);
	snprintf(in, sizeof(in), "%s/in", dir);
	CHECK(unit_write(in, "abc") == 0);
	ctl(&r, in, args, NULL);
	CHECK_INT(r.status, 0);
	CHECK_STR(r.out, "abc");
	ret = 0;
end:
	run_free(&r);
	teardown();
	return (ret);
}

/* FNV-1a over a file, read in small pieces. */
static uint64_t
checksum(const char *path, off_t *len)
{
	unsigned char	 buf[65536];
	uint64_t	 h = 14695981039346656037ULL;
	ssize_t		 n, i;
	int		 fd;

	*len = 0;
	if ((fd = open(path, O_RDONLY)) == -1)
		return (0);
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (i = 0; i < n; i++)
			h = (h ^ buf[i]) * 1099511628211ULL;
		*len += n;
	}
	close(fd);
	return (h);
}

/* Not a repeating pattern: a lost or doubled chunk changes the sum. */
static int
make_big(const char *path)
{
	unsigned char	 buf[65536];
	uint64_t	 x = 88172645463325252ULL;
	size_t		 done, i;
	FILE		*fp;

	if ((fp = fopen(path, "w")) == NULL)
		return (-1);
	for (done = 0; done < TEST_BIG; done += sizeof(buf)) {
		for (i = 0; i < sizeof(buf); i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[i] = x;
		}
		if (fwrite(buf, sizeof(buf), 1, fp) != 1)
			break;
	}
	return (fclose(fp) == 0 && done == TEST_BIG ? 0 : -1);
}

/* 50 MiB through cat arrive intact, and our memory stays flat. */
static int
test_big(void)
{
	const char	*args[] = { "exec", "x", "--", "/bin/cat", NULL };
	char		 in[1024], out[1024];
	uint64_t	 hin, hout;
	off_t		 lin, lout;
	long		 rss0, rss_max;
	pid_t		 pid;
	int		 ret = -1, status;

	CHECK(setup() == 0);
	snprintf(in, sizeof(in), "%s/in", dir);
	snprintf(out, sizeof(out), "%s/out", dir);
	CHECK(make_big(in) == 0);
	spin(10);
	rss_max = rss0 = rss_anon();
	CHECK((pid = spawn(in, args, NULL)) != -1);
	status = reap(pid, TEST_TIMEOUT_MS, &rss_max);
	CHECK_INT(status, 0);
	hin = checksum(in, &lin);
	hout = checksum(out, &lout);
	CHECK_INT(lout, TEST_BIG);
	CHECK(hin == hout);
	CHECK(exec_stat("buffer_peak") <= TEST_PEAK_MAX);
	printf("      big: %d bytes, peak queued %lld, rss growth %ld\n",
	    TEST_BIG, (long long)exec_stat("buffer_peak"), rss_max - rss0);
#ifndef __SANITIZE_ADDRESS__
	CHECK(rss_max - rss0 < TEST_RSS_GROWTH);
#endif
	ret = 0;
end:
	teardown();
	return (ret);
}

/* The command runs as the sandbox's user and nobody else. */
static int
test_uid(void)
{
	const char	*args[] = { "exec", "x", "--", "/bin/sh", "-c",
	    "id -u; id -g; id -G; pwd", NULL };
	struct run	 r = { 0, NULL, NULL };
	char		 want[2048];
	int		 ret = -1;

	CHECK(setup() == 0);
	ctl(&r, NULL, args, NULL);
	CHECK_INT(r.status, 0);
	if (geteuid() == 0)
		snprintf(want, sizeof(want), "%ld\n%ld\n%ld\n%s\n",
		    (long)t_uid, (long)t_gid, (long)t_gid, t_home);
	else
		snprintf(want, sizeof(want), "%ld\n", (long)t_uid);
	if (geteuid() == 0)
		CHECK_STR(r.out, want);
	else
		CHECK(strncmp(r.out, want, strlen(want)) == 0);
	ret = 0;
end:
	run_free(&r);
	teardown();
	return (ret);
}

/* Only the environment sandbox_exec builds; nothing of ours. */
static int
test_env(void)
{
	const char	*args[] = { "exec", "x", "--", "env", NULL };
	struct run	 r = { 0, NULL, NULL };
	char		 want[2048];
	int		 ret = -1;

	CHECK(setup() == 0);
	CHECK(getenv("SBXD_TEST_SECRET") != NULL);
	ctl(&r, NULL, args, NULL);
	CHECK_INT(r.status, 0);
	CHECK(strstr(r.out, "SBXD_TEST_SECRET") == NULL);
	CHECK(strstr(r.out, "hunter2") == NULL);
	CHECK(strstr(r.out, "TERM=") == NULL);	/* no pty */
	snprintf(want, sizeof(want), "HOME=%s\nUSER=%s\nLOGNAME=%s\n"
	    "SHELL=/bin/sh\nPATH=/usr/local/bin:/usr/bin:/bin\n"
	    "HTTP_PROXY=http://127.0.0.1:3128\n", t_home, t_user, t_user);
	CHECK_STR(r.out, want);
	ret = 0;
end:
	run_free(&r);
	teardown();
	return (ret);
}

/* -t under script(1): a pty, raw mode restored, TERM passed. */
static int
test_pty(void)
{
	struct run	 r = { 0, NULL, NULL };
	char		*first, *last = NULL, *p;
	int		 ret = -1;

	CHECK(setup() == 0);
	ctl(&r, NULL, NULL, "script -qec 'stty -g; %s -s %s exec x -t -- "
	    "/bin/sh -c \"tty; echo TERM=\\$TERM; exit 3\"; r=$?; stty -g; "
	    "exit $r' /dev/null");
	CHECK_INT(r.status, 3);
	CHECK(strstr(r.out, "/dev/pts/") != NULL);
	CHECK(strstr(r.out, "TERM=xterm\r\n") != NULL);
	/* The terminal's settings before and after are the same. */
	CHECK((first = strtok(r.out, "\r\n")) != NULL);
	while ((p = strtok(NULL, "\r\n")) != NULL)
		last = p;
	CHECK(last != NULL && strchr(last, ':') != NULL);
	CHECK_STR(last, first);
	ret = 0;
end:
	if (ret == -1 && r.out != NULL)
		fprintf(stderr, "out: %s\nerr: %s\n", r.out, r.err);
	run_free(&r);
	teardown();
	return (ret);
}

/*
 * The command closes its stdin and exits while sbxctl still has input
 * (yes | sbxctl exec x -- head): the rest is dropped, the status comes.
 */
static int
test_stdin_closed(void)
{
	const char	*args[] = { "exec", "x", "--", "head", "-c",
	    "1000000", NULL };
	struct run	 r = { 0, NULL, NULL };
	struct stat	 st;
	char		 path[1024];
	int		 ret = -1;

	CHECK(setup() == 0);
	ctl(&r, "/dev/zero", args, NULL);
	CHECK_INT(r.status, 0);
	CHECK_STR(r.err, "");
	snprintf(path, sizeof(path), "%s/out", dir);
	CHECK(stat(path, &st) == 0);
	CHECK_INT(st.st_size, 1000000);
	CHECK(exec_stat("buffer_peak") <= TEST_PEAK_MAX);
	ret = 0;
end:
	run_free(&r);
	teardown();
	return (ret);
}

/* No command on a terminal: a login shell on a pty, typed at. */
static int
test_interactive(void)
{
	struct run	 r = { 0, NULL, NULL };
	char		 in[1024];
	int		 ret = -1;

	CHECK(setup() == 0);
	snprintf(in, sizeof(in), "%s/in", dir);
	CHECK(unit_write(in, "echo hi-$((1+2)) $0; exit 5\n") == 0);
	ctl(&r, in, NULL, "script -qec '%s -s %s exec x' /dev/null");
	CHECK_INT(r.status, 5);
	CHECK(strstr(r.out, "hi-3 -sh\r\n") != NULL);
	ret = 0;
end:
	if (ret == -1 && r.out != NULL)
		fprintf(stderr, "out: %s\nerr: %s\n", r.out, r.err);
	run_free(&r);
	teardown();
	return (ret);
}

/* No command and -T: the login shell reads its commands from stdin. */
static int
test_login_shell(void)
{
	const char	*args[] = { "exec", "x", "-T", NULL };
	struct run	 r = { 0, NULL, NULL };
	char		 in[1024];
	int		 ret = -1;

	CHECK(setup() == 0);
	snprintf(in, sizeof(in), "%s/in", dir);
	CHECK(unit_write(in, "echo $0; exit 4\n") == 0);
	ctl(&r, in, args, NULL);
	CHECK_INT(r.status, 4);
	CHECK_STR(r.out, "-sh\n");
	ret = 0;
end:
	run_free(&r);
	teardown();
	return (ret);
}

static int
test_signal_status(void)
{
	const char	*args[] = { "exec", "x", "--", "/bin/sh", "-c",
	    "kill -TERM $$", NULL };
	struct run	 r = { 0, NULL, NULL };
	int		 ret = -1;

	CHECK(setup() == 0);
	ctl(&r, NULL, args, NULL);
	CHECK_INT(r.status, 128 + SIGTERM);
	ret = 0;
end:
	run_free(&r);
	teardown();
	return (ret);
}

/* A command that cannot start is an error reply, status 1. */
static int
test_not_found(void)
{
	const char	*args[] = { "exec", "x", "--", "/nonexistent/cmd",
	    NULL };
	const char	*args2[] = { "exec", "x", "--", "no-such-cmd", NULL };
	struct run	 r = { 0, NULL, NULL };
	int		 ret = -1;

	CHECK(setup() == 0);
	ctl(&r, NULL, args, NULL);
	CHECK_INT(r.status, 1);
	CHECK(strstr(r.err, "/nonexistent/cmd: No such file") != NULL);
	run_free(&r);
	ctl(&r, NULL, args2, NULL);
	CHECK_INT(r.status, 1);
	CHECK(strstr(r.err, "no-such-cmd: No such file") != NULL);
	CHECK_INT(exec_stat("sessions"), 0);
	ret = 0;
end:
	run_free(&r);
	teardown();
	return (ret);
}

/* Killing sbxctl mid-run leaves nothing of the user's behind. */
static int
test_client_killed(void)
{
	const char	*args[] = { "exec", "x", "--", "/bin/sh", "-c",
	    "sleep 3601 & sleep 3602", NULL };
	pid_t		 pid;
	int		 i, ret = -1;

	CHECK(setup() == 0);
	CHECK((pid = spawn(NULL, args, NULL)) != -1);
	for (i = 0; i < 250 && !user_procs("sleep 3602"); i++)
		spin(20);
	CHECK(user_procs("sleep 3601"));
	kill(pid, SIGKILL);
	CHECK_INT(reap(pid, 5000, NULL), 128 + SIGKILL);
	for (i = 0; i < 500 && exec_stat("sessions") > 0; i++)
		spin(20);
	CHECK_INT(exec_stat("sessions"), 0);
	CHECK(!user_procs("sleep 360"));
	if (geteuid() == 0)
		CHECK(!user_procs(NULL));
	ret = 0;
end:
	teardown();
	return (ret);
}

/* Connect and send the request; the socket is non-blocking. */
static int
raw_connect(const char *req)
{
	struct sockaddr_un	 sun;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", conf->sc_socket);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1)
		return (-1);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		close(fd);
		return (-1);
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return (fd);
}

/* A raw client: the request, then the reply line, read byte by byte. */
static int
raw_open(const char *req)
{
	char	 c;
	int	 fd, i;

	if ((fd = raw_connect(req)) == -1)
		return (-1);
	for (i = 0; i < 5000; i++) {
		spin(1);
		if (read(fd, &c, 1) == 1 && c == '\n')
			return (fd);
	}
	close(fd);
	return (-1);
}

static int
raw_frame(int fd, int type, const void *data, uint32_t len)
{
	uint8_t	 hdr[5] = { type, len >> 24, len >> 16, len >> 8, len };

	if (write(fd, hdr, 5) != 5 || (len > 0 &&
	    write(fd, data, len) != (ssize_t)len))
		return (-1);
	return (0);
}

/*
 * Read frames until EXIT; STDOUT goes to out (if given) and is counted.
 * Returns the status, or -1 if the connection closed first.
 */
static int
raw_collect(int fd, char *out, size_t outsz, size_t *count)
{
	static uint8_t	 buf[2 * 65536];
	size_t		 have = 0, len;
	ssize_t		 n;
	int		 i;

	*count = 0;
	for (i = 0; i < 20000; i++) {
		spin(1);
		while ((n = read(fd, buf + have, sizeof(buf) - have)) > 0)
			have += n;
		while (have >= 5) {
			len = (size_t)buf[1] << 24 | buf[2] << 16 |
			    buf[3] << 8 | buf[4];
			if (have < 5 + len)
				break;
			if (buf[0] == SANDBOX_EXEC_EXIT)
				return (buf[5] << 24 | buf[6] << 16 |
				    buf[7] << 8 | buf[8]);
			if (buf[0] == SANDBOX_EXEC_STDOUT && out != NULL &&
			    *count + len < outsz) {
				memcpy(out + *count, buf + 5, len);
				out[*count + len] = '\0';
			}
			if (buf[0] == SANDBOX_EXEC_STDOUT)
				*count += len;
			memmove(buf, buf + 5 + len, have - 5 - len);
			have -= 5 + len;
		}
		if (n == 0)
			return (-1);
	}
	return (-1);
}

/* The pty's size from the request, then from a WINSIZE frame. */
static int
test_winsize(void)
{
	const uint8_t	 ws[4] = { 0, 40, 0, 120 };
	char		 out[4096];
	size_t		 n;
	int		 fd = -1, ret = -1;

	CHECK(setup() == 0);
	fd = raw_open("{\"command\":\"exec\",\"name\":\"x\",\"tty\":true,"
	    "\"rows\":33,\"cols\":99,\"argv\":[\"/bin/sh\",\"-c\","
	    "\"stty size; read x; stty size\"]}\n");
	CHECK(fd != -1);
	spin(200);
	CHECK(raw_frame(fd, SANDBOX_EXEC_WINSIZE, ws, 4) == 0);
	spin(50);
	CHECK(raw_frame(fd, SANDBOX_EXEC_STDIN, "go\n", 3) == 0);
	CHECK_INT(raw_collect(fd, out, sizeof(out), &n), 0);
	CHECK(strstr(out, "33 99\r\n") != NULL);
	CHECK(strstr(out, "40 120\r\n") != NULL);
	ret = 0;
end:
	if (fd != -1)
		close(fd);
	teardown();
	return (ret);
}

/*
 * A client that stops reading: the command is paused, not buffered;
 * everything arrives once the client reads again.
 */
static int
test_slow_client(void)
{
	size_t	 n;
	int	 fd = -1, ret = -1;

	CHECK(setup() == 0);
	fd = raw_open("{\"command\":\"exec\",\"name\":\"x\",\"argv\":"
	    "[\"head\",\"-c\",\"20000000\",\"/dev/zero\"]}\n");
	CHECK(fd != -1);
	spin(500);
	CHECK(exec_stat("buffer_peak") <= TEST_PEAK_MAX);
	CHECK_INT(raw_collect(fd, NULL, 0, &n), 0);
	CHECK_INT(n, 20000000);
	CHECK(exec_stat("buffer_peak") <= TEST_PEAK_MAX);
	ret = 0;
end:
	if (fd != -1)
		close(fd);
	teardown();
	return (ret);
}

/* An unknown frame type ends the session; its command goes too. */
static int
test_bad_frame(void)
{
	size_t	 n;
	int	 fd = -1, i, ret = -1;

	CHECK(setup() == 0);
	fd = raw_open("{\"command\":\"exec\",\"name\":\"x\",\"tty\":true,"
	    "\"argv\":[\"/bin/sleep\",\"3603\"]}\n");
	CHECK(fd != -1);
	CHECK(raw_frame(fd, 0x7f, "x", 1) == 0);
	CHECK_INT(raw_collect(fd, NULL, 0, &n), -1);
	for (i = 0; i < 500 && exec_stat("sessions") > 0; i++)
		spin(20);
	CHECK_INT(exec_stat("sessions"), 0);
	CHECK(!user_procs("sleep 3603"));
	CHECK(exec_stat("bad_frames") >= 1);
	close(fd);
	/* An oversized length too, on a pipe session. */
	fd = raw_open("{\"command\":\"exec\",\"name\":\"x\","
	    "\"argv\":[\"/bin/cat\"]}\n");
	CHECK(fd != -1);
	CHECK(raw_frame(fd, SANDBOX_EXEC_STDIN, NULL, 0) == 0);
	CHECK(write(fd, "\x01\x00\x01\x00\x01", 5) == 5);	/* 65537 */
	CHECK_INT(raw_collect(fd, NULL, 0, &n), -1);
	for (i = 0; i < 500 && exec_stat("sessions") > 0; i++)
		spin(20);
	CHECK_INT(exec_stat("sessions"), 0);
	ret = 0;
end:
	if (fd != -1)
		close(fd);
	teardown();
	return (ret);
}

/* Requests the spec parser refuses get an error and start nothing. */
static int
test_bad_request(void)
{
	const char	*bad[] = {
		"\"argv\":[]", "\"argv\":\"ls\"", "\"argv\":[1]",
		"\"argv\":[\"\"]", "\"tty\":1", "\"rows\":70000",
		"\"cols\":-1", "\"env\":{\"TERM\":\"x;rm\"}",
	};
	char		 req[256], line[1024];
	json_int_t	 started = exec_stat("started");
	json_t		*r = NULL;
	size_t		 i, len;
	ssize_t		 n;
	int		 fd = -1, j, ret = -1;

	CHECK(setup() == 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(req, sizeof(req), "{\"command\":\"exec\","
		    "\"name\":\"x\",%s}\n", bad[i]);
		CHECK((fd = raw_connect(req)) != -1);
		for (j = 0, len = 0; j < 2000 && memchr(line, '\n', len) ==
		    NULL && len < sizeof(line) - 1; j++) {
			spin(1);
			if ((n = read(fd, line + len, sizeof(line) - 1 -
			    len)) > 0)
				len += n;
		}
		close(fd);
		fd = -1;
		CHECK((r = json_loadb(line, len, JSON_DISABLE_EOF_CHECK,
		    NULL)) != NULL);
		CHECK(json_is_false(json_object_get(r, "ok")));
		json_decref(r);
		r = NULL;
	}
	CHECK_INT(exec_stat("started"), started);
	CHECK_INT(exec_stat("sessions"), 0);
	ret = 0;
end:
	json_decref(r);
	if (fd != -1)
		close(fd);
	teardown();
	return (ret);
}

/* A throwaway user as root; the current user otherwise. */
static int
user_make(void)
{
	struct passwd	*pw;
	char		*base;

	if (geteuid() != 0) {
		if ((pw = getpwuid(getuid())) == NULL)
			return (-1);
		t_uid = pw->pw_uid;
		t_gid = pw->pw_gid;
		snprintf(t_user, sizeof(t_user), "%s", pw->pw_name);
		snprintf(t_home, sizeof(t_home), "%s",
		    access(pw->pw_dir, X_OK) == 0 ? pw->pw_dir : "/");
		return (0);
	}
	if ((base = unit_tmpdir()) == NULL)
		return (-1);
	chmod(base, 0755);
	snprintf(t_home, sizeof(t_home), "%s/home", base);
	free(base);
	if (unit_user_make(&t_made, "sbxtest", TEST_UID_FIRST, TEST_UID_LAST,
	    t_home) == -1)
		return (-1);
	snprintf(t_user, sizeof(t_user), "%s", t_made.uu_name);
	t_uid = t_made.uu_uid;
	t_gid = t_made.uu_gid;
	return (0);
}

static void
user_remove(void)
{
	char	*slash;

	if (!t_made.uu_made)
		return;
	unit_user_remove(&t_made);
	if ((slash = strrchr(t_home, '/')) != NULL) {
		unit_rmtree(t_home);
		*slash = '\0';
		rmdir(t_home);
	}
}

/* Interrupted: remove the user and the running test's files. */
static void
user_signal(int sig)
{
	user_remove();
	unit_rmtree(dir);
	signal(sig, SIG_DFL);
	raise(sig);
}

static const struct unit_test tests[] = {
	{ "echo", test_echo },
	{ "stderr_status", test_stderr_status },
	{ "stdin", test_stdin },
	{ "stdin_closed", test_stdin_closed },
	{ "big", test_big },
	{ "uid", test_uid },
	{ "env", test_env },
	{ "pty", test_pty },
	{ "interactive", test_interactive },
	{ "login_shell", test_login_shell },
	{ "signal_status", test_signal_status },
	{ "not_found", test_not_found },
	{ "client_killed", test_client_killed },
	{ "winsize", test_winsize },
	{ "slow_client", test_slow_client },
	{ "bad_frame", test_bad_frame },
	{ "bad_request", test_bad_request },
};

int
main(int argc, char *argv[])
{
	int	 r;

	if ((sbxctl = getenv("SBXCTL")) == NULL || access(sbxctl, X_OK) != 0) {
		printf("SKIP: set SBXCTL to the sbxctl binary\n");
		return (77);
	}
	signal(SIGPIPE, SIG_IGN);
	if (putenv(TEST_SECRET) != 0)
		return (1);
	if (user_make() == -1) {
		fprintf(stderr, "cannot make a test user\n");
		user_remove();
		return (1);
	}
	atexit(user_remove);
	signal(SIGINT, user_signal);
	signal(SIGTERM, user_signal);
	signal(SIGABRT, user_signal);
	r = unit_main("sandbox_exec", tests, sizeof(tests) / sizeof(tests[0]),
	    argc, argv);
	user_remove();
	return (r);
}
