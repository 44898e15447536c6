/*
 * sbxctl.c: the control client.  It sends one request line to sbxd's
 * control socket and prints the reply as a table, or as the JSON lines
 * it received with -j.  "events" keeps printing until interrupted.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"
#include "sbxd_proto.h"
#include "sbxctl.h"

static int	 sbxctl_json;		/* -j */
static int	 sbxctl_exitcode;	/* 1: the reply reports a problem */
static int	 sbxctl_done;		/* a followed stream said its end */

static void	 usage(void) __attribute__((__noreturn__));
static void	 usage_print(FILE *);

static const struct option sbxctl_longopts[] = {
	{ "help",	no_argument,	NULL,	'h' },
	{ "version",	no_argument,	NULL,	'V' },
	{ NULL,		0,		NULL,	0 }
};
static FILE	*sbxctl_connect(const char *);
static int	 sbxctl_run(FILE *, const struct sbxctl_cmd *, json_t *);
static void	 sbxctl_print_value(const char *, json_t *);
static void	 sbxctl_print_progress(json_t *);
static void	 sbxctl_print_fields(json_t *, const char **);
static void	 sbxctl_print_uptime(json_int_t);
static const char *sbxctl_size(json_t *, char *, size_t);
static void	 sbxctl_print_limits(json_t *);
static void	 sbxctl_print_rule(const char *, json_t *);
static void	 sbxctl_print_ask_lines(json_t *);
static void	 sbxctl_print_strings(json_t *, const char *, const char *);
static void	 sbxctl_print_github(json_t *);
static const char *sbxctl_str(json_t *, const char *);
static const char *sbxctl_left(json_t *, char *, size_t);
static void	 sbxctl_sigcb(int);

static void
usage(void)
{
	usage_print(stderr);
	exit(1);
}

/* The usage on fp; -h asks for it on stdout, a bad option on stderr. */
static void
usage_print(FILE *fp)
{
	fprintf(fp, "usage: sbxctl [-j] [-s socket] command [arg ...]\n"
	    "       sbxctl -h | -V\n");
	sbxctl_usage_cmds(fp);
}

int
main(int argc, char *argv[])
{
	const struct sbxctl_cmd	*cmd;
	const char		*sock = SBXD_SOCKET;
	json_t			*req;
	FILE			*fp;
	int			 ch, r;

	while ((ch = getopt_long(argc, argv, "+hjs:V", sbxctl_longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'h':
			usage_print(stdout);
			exit(0);
		case 'V':
			printf("sbxctl %s\n", PACKAGE_VERSION);
			exit(0);
		case 'j':
			sbxctl_json = 1;
			break;
		case 's':
			sock = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	if ((cmd = sbxctl_cmd_find(argv[0])) == NULL) {
		fprintf(stderr, "sbxctl: unknown command \"%s\"\n", argv[0]);
		usage();
	}
	/* completion needs no daemon; exec speaks its own protocol. */
	if (strcmp(cmd->name, "completion") == 0)
		return (sbxctl_completion(argc - 1, argv + 1));
	if (cmd->build == NULL)
		return (sbxctl_exec(sock, argc - 1, argv + 1));
	if ((req = cmd->build(cmd, argc - 1, argv + 1)) == NULL) {
		fprintf(stderr, "sbxctl: out of memory\n");
		return (1);
	}
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(cmd->name, "ask") == 0)
		sbxctl_ask_socket(sock);	/* ^C interrupts the turn */
	else
		signal(SIGINT, sbxctl_sigcb);
	signal(SIGTERM, sbxctl_sigcb);
	if ((fp = sbxctl_connect(sock)) == NULL)
		return (1);
	r = sbxctl_run(fp, cmd, req);
	json_decref(req);
	fclose(fp);
	return (r != 0 ? r : sbxctl_exitcode);
}

/* The exit code a followed stream decided. */
void
sbxctl_set_exit(int code)
{
	sbxctl_exitcode = code;
}

/* The followed stream said its end: sbxd closing now is normal. */
void
sbxctl_set_done(void)
{
	sbxctl_done = 1;
}

/* Interrupted while following: a normal end. */
static void
sbxctl_sigcb(int sig __unused)
{
	_exit(0);
}

/* A connection to sbxd's control socket, or -1 with why printed. */
int
sbxctl_socket(const char *path)
{
	struct sockaddr_un	 sun;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "sbxctl: %s: socket path too long\n", path);
		return (-1);
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		fprintf(stderr, "sbxctl: %s: %s%s\n", path, strerror(errno),
		    errno == ENOENT || errno == ECONNREFUSED ?
		    " (is sbxd running?)" : errno == EACCES ? " (only root and "
		    "the members of the group named by \"control group\" in "
		    "sbxd.conf may use sbxd)" : "");
		if (fd != -1)
			close(fd);
		return (-1);
	}
	return (fd);
}

static FILE *
sbxctl_connect(const char *path)
{
	FILE	*fp;
	int	 fd;

	if ((fd = sbxctl_socket(path)) == -1)
		return (NULL);
	if ((fp = fdopen(fd, "r+")) == NULL) {
		fprintf(stderr, "sbxctl: %s\n", strerror(errno));
		close(fd);
	}
	return (fp);
}

/*
 * Send req, then read lines: progress lines until the one holding "ok";
 * for a following command, the stream after it until the daemon closes.
 */
static int
sbxctl_run(FILE *fp, const struct sbxctl_cmd *cmd, json_t *req)
{
	json_error_t	 err;
	json_t		*line, *ok;
	char		*buf = NULL;
	size_t		 bufsz = 0;
	ssize_t		 n;
	int		 r = 1, done = 0;

	if (json_dumpf(req, fp, JSON_COMPACT) == -1 || fputc('\n', fp) ==
	    EOF || fflush(fp) == EOF) {
		if (sbxctl_refused(fileno(fp)) == -1)
			fprintf(stderr, "sbxctl: send: %s\n", strerror(errno));
		return (1);
	}
	while ((n = getline(&buf, &bufsz, fp)) > 0) {
		if ((line = json_loads(buf, 0, &err)) == NULL) {
			fprintf(stderr, "sbxctl: bad reply from sbxd: %s\n",
			    err.text);
			break;
		}
		if (done || (ok = json_object_get(line, "ok")) == NULL) {
			/* Progress, or the followed stream. */
			if (sbxctl_json) {
				fputs(buf, stdout);
				if (strcmp(cmd->name, "ask") == 0)
					sbxctl_ask_json(line);
			} else if (done)
				cmd->print(line);
			else
				sbxctl_print_progress(line);
			fflush(stdout);
			json_decref(line);
			continue;
		}
		r = json_is_true(ok) ? 0 : 1;
		/* network, doctor: a problem found is a failure too */
		if (json_is_false(json_object_get(line, "healthy")))
			sbxctl_exitcode = 1;
		if (sbxctl_json && (r != 0 || !cmd->follow))
			fputs(buf, stdout);
		else if (r != 0)
			sbxctl_print_ok(line);
		else if (!cmd->follow || strcmp(cmd->name, "ask") == 0)
			cmd->print(line);
		json_decref(line);
		if (r != 0 || !cmd->follow)
			break;
		done = 1;
	}
	if (done && strcmp(cmd->name, "ask") == 0 && !sbxctl_done) {
		fprintf(stderr, "sbxctl: sbxd closed the connection before "
		    "the turn ended\n");
		sbxctl_exitcode = 1;
	}
	if (n == -1 && !done && r != 0 && ferror(fp))
		fprintf(stderr, "sbxctl: read: %s\n", strerror(errno));
	else if (n == -1 && !done && r != 0)
		fprintf(stderr, "sbxctl: sbxd closed the connection\n");
	free(buf);
	return (r);
}

/*
 * The request could not be sent: sbxd may have refused the connection
 * and closed it, saying why first.  Print that, if it is there.
 */
int
sbxctl_refused(int fd)
{
	char	 buf[1024];
	json_t	*reply;
	size_t	 len = 0;
	ssize_t	 n;
	int	 serrno = errno;

	while (len < sizeof(buf) - 1 &&
	    (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += n;
	buf[len] = '\0';
	if ((reply = json_loads(buf, JSON_DISABLE_EOF_CHECK, NULL)) == NULL ||
	    !json_is_false(json_object_get(reply, "ok"))) {
		json_decref(reply);
		errno = serrno;
		return (-1);
	}
	if (sbxctl_json)
		fputs(buf, stdout);
	else
		sbxctl_print_ok(reply);
	json_decref(reply);
	return (0);
}

/* A plain reply: nothing on success, the error and its details if not. */
void
sbxctl_print_ok(json_t *reply)
{
	json_t	*e;
	size_t	 i;

	if (json_is_true(json_object_get(reply, "ok")))
		return;
	fprintf(stderr, "sbxctl: %s\n", json_string_value(json_object_get(
	    reply, "error")) != NULL ? json_string_value(json_object_get(
	    reply, "error")) : "failed");
	json_array_foreach(json_object_get(reply, "errors"), i, e)
		fprintf(stderr, "%s\n", json_string_value(e));
}

void
sbxctl_print_log(json_t *reply)
{
	printf("log level %s\n", json_string_value(json_object_get(reply,
	    "level")));
}

/* A progress line of a long command, such as create or rm. */
static void
sbxctl_print_progress(json_t *line)
{
	sbxctl_print_value("", json_object_get(line, "progress"));
	putchar('\n');
}

/* One value as text: strings bare, others as JSON. */
static void
sbxctl_print_value(const char *prefix, json_t *v)
{
	char	*s;

	if (v == NULL)
		return;
	if (json_is_string(v)) {
		printf("%s%s", prefix, json_string_value(v));
		return;
	}
	if ((s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY)) != NULL) {
		printf("%s%s", prefix, s);
		free(s);
	}
}

/* key=value for every member but those in skip. */
static void
sbxctl_print_fields(json_t *obj, const char **skip)
{
	const char	*key, **sk;
	json_t		*v;

	json_object_foreach(obj, key, v) {
		for (sk = skip; *sk != NULL; sk++)
			if (strcmp(*sk, key) == 0)
				break;
		if (*sk != NULL || json_is_array(v) || json_is_null(v))
			continue;
		printf(" %s=", key);
		sbxctl_print_value("", v);
	}
}

static void
sbxctl_print_uptime(json_int_t s)
{
	if (s >= 86400)
		printf("%lldd", (long long)(s / 86400));
	if (s >= 3600)
		printf("%lldh", (long long)(s % 86400 / 3600));
	if (s >= 60)
		printf("%lldm", (long long)(s % 3600 / 60));
	printf("%llds", (long long)(s % 60));
}

/*
 * status: a header line, then one line per component with its state and
 * counters; list members (listeners, ...) go on indented lines below.
 */
void
sbxctl_print_status(json_t *st)
{
	static const char	*skip[] = { "name", "state", NULL };
	static const char	*skipnone[] = { NULL };
	const char		*key;
	json_t			*c, *list, *e;
	size_t			 i, j;

	printf("sbxd %s, pid %lld, up ", json_string_value(json_object_get(st,
	    "version")), (long long)json_integer_value(json_object_get(st,
	    "pid")));
	sbxctl_print_uptime(json_integer_value(json_object_get(st, "uptime")));
	printf(" since %s, log level %s\n", json_string_value(
	    json_object_get(st, "started")), json_string_value(
	    json_object_get(st, "log_level")));
	printf("%-10s %-9s %s\n", "COMPONENT", "STATE", "DETAILS");
	json_array_foreach(json_object_get(st, "components"), i, c) {
		printf("%-10s %-9s", json_string_value(json_object_get(c,
		    "name")), json_string_value(json_object_get(c, "state")));
		sbxctl_print_fields(c, skip);
		printf("\n");
		json_object_foreach(c, key, list) {
			if (!json_is_array(list))
				continue;
			json_array_foreach(list, j, e) {
				printf("%-20s %s:", "", key);
				if (json_is_object(e))
					sbxctl_print_fields(e, skipnone);
				else
					sbxctl_print_value(" ", e);
				printf("\n");
			}
		}
	}
}

/* One event: time, type, then its fields. */
void
sbxctl_print_event(json_t *ev)
{
	static const char	*skip[] = { "time", "type", NULL };
	const char		*key;
	json_t			*v;

	printf("%s %s", json_string_value(json_object_get(ev, "time")) != NULL ?
	    json_string_value(json_object_get(ev, "time")) : "-",
	    json_string_value(json_object_get(ev, "type")) != NULL ?
	    json_string_value(json_object_get(ev, "type")) : "-");
	sbxctl_print_fields(ev, skip);
	json_object_foreach(ev, key, v) {
		if (!json_is_array(v))
			continue;
		printf(" %s=", key);
		sbxctl_print_value("", v);
	}
	printf("\n");
}

/* sessions: one line per live session. */
void
sbxctl_print_sessions(json_t *reply)
{
	json_t	*ps;
	size_t	 i;

	printf("%-8s %-22s %-22s %-8s %6s %5s %s\n", "ID", "LISTENER",
	    "CLIENT", "STATE", "AGE", "REQS", "DESTINATION");
	json_array_foreach(json_object_get(reply, "sessions"), i, ps)
		printf("%-8lld %-22s %-22s %-8s %5llds %5lld %s\n",
		    (long long)json_integer_value(json_object_get(ps, "id")),
		    json_string_value(json_object_get(ps, "listener")),
		    json_string_value(json_object_get(ps, "client")),
		    json_string_value(json_object_get(ps, "state")),
		    (long long)json_integer_value(json_object_get(ps, "age")),
		    (long long)json_integer_value(json_object_get(ps,
		    "requests")),
		    json_string_value(json_object_get(ps, "destination")) !=
		    NULL ? json_string_value(json_object_get(ps,
		    "destination")) : "-");
}

static const char *
sbxctl_str(json_t *o, const char *key)
{
	const char	*s = json_string_value(json_object_get(o, key));

	return (s != NULL ? s : "-");
}

/*
 * The time a rule with the expiry exp has left, as 1d2h3m4s: the
 * daemon's count when it sent one (rules), else from the expiry and
 * this host's clock (show); sbxd is on this host.
 */
static const char *
sbxctl_left(json_t *exp, char *buf, size_t len)
{
	long long	 s;

	if (json_is_integer(json_object_get(exp, "left")))
		s = json_integer_value(json_object_get(exp, "left"));
	else
		s = json_integer_value(json_object_get(exp, "seconds")) -
		    (long long)time(NULL);
	if (s < 0)
		s = 0;
	if (s >= 86400)
		snprintf(buf, len, "%lldd%lldh%lldm%llds", s / 86400,
		    s % 86400 / 3600, s % 3600 / 60, s % 60);
	else if (s >= 3600)
		snprintf(buf, len, "%lldh%lldm%llds", s / 3600, s % 3600 / 60,
		    s % 60);
	else if (s >= 60)
		snprintf(buf, len, "%lldm%llds", s / 60, s % 60);
	else
		snprintf(buf, len, "%llds", s);
	return (buf);
}

/* rules: the listener's policy, then its runtime rules. */
void
sbxctl_print_rules(json_t *reply)
{
	json_t	*all, *one, *r;
	size_t	 i, j;

	if ((all = json_object_get(reply, "listeners")) == NULL) {
		printf("listener %s, policy %s\n", json_string_value(
		    json_object_get(reply, "listener")), json_string_value(
		    json_object_get(reply, "policy")));
		json_array_foreach(json_object_get(reply, "rules"), i, r)
			sbxctl_print_rule("", r);
		sbxctl_print_ask_lines(reply);
		return;
	}
	printf("%-20s %-6s %-40s %s\n", "LISTENER", "ACTION", "PATTERN",
	    "CREATED");
	json_array_foreach(all, i, one) {
		json_array_foreach(json_object_get(one, "rules"), j, r)
			sbxctl_print_rule(json_string_value(json_object_get(
			    one, "listener")), r);
	}
}

/*
 * A listener's open questions and last decisions, under its rules.
 */
static void
sbxctl_print_ask_lines(json_t *one)
{
	json_t		*a;
	const char	*by;
	size_t		 i;

	json_array_foreach(json_object_get(one, "asks"), i, a) {
		if (i == 0)
			printf("asking:\n");
		printf("  #%-6" JSON_INTEGER_FORMAT " %s %s, %"
		    JSON_INTEGER_FORMAT " waiting, %" JSON_INTEGER_FORMAT
		    "s left\n", json_integer_value(json_object_get(a, "id")),
		    sbxctl_str(a, "method"), sbxctl_str(a, "destination"),
		    json_integer_value(json_object_get(a, "waiting")),
		    json_integer_value(json_object_get(a, "left")));
	}
	json_array_foreach(json_object_get(one, "decisions"), i, a) {
		if (i == 0)
			printf("decisions:\n");
		by = json_string_value(json_object_get(a, "by"));
		printf("  #%-6" JSON_INTEGER_FORMAT " %s %s:%"
		    JSON_INTEGER_FORMAT " %-9s %s%s%s, %" JSON_INTEGER_FORMAT
		    " waited\n", json_integer_value(json_object_get(a, "id")),
		    sbxctl_str(a, "method"), sbxctl_str(a, "host"),
		    json_integer_value(json_object_get(a, "port")),
		    sbxctl_str(a, "decision"), sbxctl_str(a, "decided_at"),
		    by != NULL ? " by " : "", by != NULL ? by : "",
		    json_integer_value(json_object_get(a, "waiting")));
	}
}

/* asks: the open questions, one a line. */
void
sbxctl_print_asks(json_t *reply)
{
	json_t	*a;
	size_t	 i;

	if (json_array_size(json_object_get(reply, "asks")) == 0) {
		printf("no open questions\n");
		return;
	}
	printf("%-6s %-20s %-7s %-40s %7s %5s\n", "ID", "SANDBOX", "METHOD",
	    "DESTINATION", "WAITING", "LEFT");
	json_array_foreach(json_object_get(reply, "asks"), i, a)
		printf("%-6" JSON_INTEGER_FORMAT " %-20s %-7s %-40s %7"
		    JSON_INTEGER_FORMAT " %4" JSON_INTEGER_FORMAT "s\n",
		    json_integer_value(json_object_get(a, "id")),
		    json_string_value(json_object_get(a, "sandbox")) != NULL ?
		    sbxctl_str(a, "sandbox") : sbxctl_str(a, "listener"),
		    sbxctl_str(a, "method"), sbxctl_str(a, "destination"),
		    json_integer_value(json_object_get(a, "waiting")),
		    json_integer_value(json_object_get(a, "left")));
}

/* approve: what the decision did. */
void
sbxctl_print_approve(json_t *reply)
{
	const char	*d = sbxctl_str(reply, "decision");
	json_int_t	 n = json_integer_value(json_object_get(reply,
			    "waiting"));

	char		 until[64] = "";

	if (json_is_string(json_object_get(reply, "expires")))
		snprintf(until, sizeof(until), " until %s",
		    sbxctl_str(reply, "expires"));
	printf("question %" JSON_INTEGER_FORMAT ": %s %s%s; %"
	    JSON_INTEGER_FORMAT " waiting request%s %s\n",
	    json_integer_value(json_object_get(reply, "id")),
	    strcmp(d, "deny") == 0 ? "deny" : "allow", sbxctl_str(reply,
	    "rule"), until, n, n == 1 ? "" : "s", strcmp(d, "deny") == 0 ?
	    "refused" : n == 1 ? "goes on" : "go on");
}

/*
 * One runtime rule: its listener (or ""), action, pattern, when it was
 * made, and when it goes.
 */
static void
sbxctl_print_rule(const char *listener, json_t *r)
{
	json_t	*exp = json_object_get(r, "expires");
	char	 left[96] = "", d[32];

	if (json_is_object(exp))
		snprintf(left, sizeof(left), "  expires %s (%s left)",
		    sbxctl_str(exp, "at"), sbxctl_left(exp, d, sizeof(d)));
	if (*listener != '\0')
		printf("%-20s ", listener);
	printf("%-6s %-40s %s%s\n", json_string_value(json_object_get(r,
	    "action")), json_string_value(json_object_get(r, "pattern")),
	    json_string_value(json_object_get(r, "created")), left);
}


/* create, show: one sandbox, a field per line. */
void
sbxctl_print_sandbox(json_t *reply)
{
	json_t		*sb = json_object_get(reply, "sandbox"), *r, *exp;
	const char	*fields[] = { "name", "id", "state", "error", "user",
			    "uid", "home", "restricted", "policy", "port",
			    "proxy", "gateway", "created_at", NULL };
	char		 d[32];
	size_t		 i;
	json_t		*v;

	for (i = 0; fields[i] != NULL; i++) {
		if ((v = json_object_get(sb, fields[i])) == NULL ||
		    json_is_null(v))
			continue;
		printf("%-12s ", fields[i]);
		if (json_is_string(v) && strcmp(fields[i], "gateway") == 0 &&
		    json_array_size(json_object_get(sb, "providers")) > 0) {
			printf("%s (", json_string_value(v));
			sbxctl_print_strings(sb, "providers", ", ");
			printf(")\n");
		} else if (json_is_string(v))
			printf("%s\n", json_string_value(v));
		else if (json_is_integer(v))
			printf("%lld\n", (long long)json_integer_value(v));
		else
			printf("%s\n", json_is_true(v) ? "yes" : "no");
	}
	sbxctl_print_github(sb);
	sbxctl_print_limits(sb);
	json_array_foreach(json_object_get(sb, "rules"), i, r) {
		printf("%-12s %s %s", i == 0 ? "rules:" : "",
		    sbxctl_str(r, "action"), sbxctl_str(r, "pattern"));
		if (json_is_object(exp = json_object_get(r, "expires")))
			printf(" until %s (%s left)", sbxctl_str(exp, "at"),
			    sbxctl_left(exp, d, sizeof(d)));
		putchar('\n');
	}
}

/*
 * show: a sandbox's GitHub repositories and the branches it may push
 * to; without push_branches, the default sbxd applies.
 */
static void
sbxctl_print_github(json_t *sb)
{
	json_t	*push = json_object_get(sb, "push_branches");

	if (!json_is_array(json_object_get(sb, "repos")))
		return;
	printf("%-12s ", "repos");
	sbxctl_print_strings(sb, "repos", ", ");
	printf("\n%-12s ", "push");
	if (json_array_size(push) > 0)
		sbxctl_print_strings(sb, "push_branches", ", ");
	else if (json_is_array(push))
		printf("none");
	else
		printf("refs/heads/sbx/%s/*", sbxctl_str(sb, "name"));
	putchar('\n');
}

/* A number of bytes the short way: 4G, 12.3M; null is "none". */
static const char *
sbxctl_size(json_t *v, char *buf, size_t len)
{
	const char	*units = "KMGT";
	double		 n;
	int		 i;

	if (!json_is_integer(v)) {
		snprintf(buf, len, "none");
		return (buf);
	}
	n = (double)json_integer_value(v);
	if (n < 1024) {
		snprintf(buf, len, "%.0f", n);
		return (buf);
	}
	for (i = 0, n /= 1024; n >= 1024 && units[i + 1] != '\0'; i++)
		n /= 1024;
	snprintf(buf, len, n == (double)(long long)n ? "%.0f%c" : "%.1f%c", n,
	    units[i]);
	return (buf);
}

/*
 * show: the limits, the cgroup and what the sandbox uses, when sbxd
 * sent them (create does not).
 */
static void
sbxctl_print_limits(json_t *sb)
{
	json_t		*l = json_object_get(sb, "limits");
	json_t		*u = json_object_get(sb, "usage"), *d;
	char		 a[32], b[32];
	size_t		 i;

	if (l == NULL)
		return;
	if (json_is_null(l))
		printf("%-12s off\n", "limits");
	else {
		printf("%-12s memory %s, processes ", "limits",
		    sbxctl_size(json_object_get(l, "memory"), a, sizeof(a)));
		if (json_is_integer(json_object_get(l, "processes")))
			printf("%lld", (long long)json_integer_value(
			    json_object_get(l, "processes")));
		else
			printf("none");
		printf(", cpu-weight %lld\n", (long long)json_integer_value(
		    json_object_get(l, "cpu_weight")));
	}
	json_array_foreach(json_object_get(sb, "cgroups"), i, d)
		printf("%-12s %s\n", i == 0 ? "cgroup" : "",
		    json_string_value(d));
	if (json_is_string(json_object_get(sb, "limits_error")))
		printf("%-12s none: %s\n", "cgroup",
		    sbxctl_str(sb, "limits_error"));
	if (!json_is_object(u))
		return;
	printf("%-12s memory %s (peak %s), processes %lld", "usage",
	    sbxctl_size(json_object_get(u, "memory"), a, sizeof(a)),
	    sbxctl_size(json_object_get(u, "memory_peak"), b, sizeof(b)),
	    (long long)json_integer_value(json_object_get(u, "processes")));
	if (json_is_integer(json_object_get(u, "processes_peak")))
		printf(" (peak %lld)", (long long)json_integer_value(
		    json_object_get(u, "processes_peak")));
	if (json_is_integer(json_object_get(u, "cpu_usec")))
		printf(", cpu %.2fs", (double)json_integer_value(
		    json_object_get(u, "cpu_usec")) / 1e6);
	printf(", OOM kills %lld, forks refused %lld\n",
	    (long long)json_integer_value(json_object_get(u, "oom_kills")),
	    (long long)json_integer_value(json_object_get(u,
	    "forks_refused")));
}

/* list: a line per sandbox. */
void
sbxctl_print_sandboxes(json_t *reply)
{
	json_t	*sb;
	size_t	 i;

	printf("%-20s %-9s %6s %5s %-10s %-12s %-24s %s\n", "NAME", "STATE",
	    "UID", "PORT", "NETWORK", "POLICY", "CREATED", "PROVIDERS");
	json_array_foreach(json_object_get(reply, "sandboxes"), i, sb) {
		printf("%-20s %-9s %6lld %5lld %-10s %-12s %-24s ",
		    sbxctl_str(sb, "name"), sbxctl_str(sb, "state"),
		    (long long)json_integer_value(json_object_get(sb, "uid")),
		    (long long)json_integer_value(json_object_get(sb,
		    "port")), json_is_true(json_object_get(sb,
		    "restricted")) ? "restricted" : "open",
		    sbxctl_str(sb, "policy"), sbxctl_str(sb, "created_at"));
		if (json_is_string(json_object_get(sb, "gateway")) &&
		    json_array_size(json_object_get(sb, "providers")) > 0)
			sbxctl_print_strings(sb, "providers", ",");
		else
			putchar('-');
		putchar('\n');
	}
}

/* Member key of sandbox sb, an array of strings, joined by sep. */
static void
sbxctl_print_strings(json_t *sb, const char *key, const char *sep)
{
	json_t	*p;
	size_t	 i;

	json_array_foreach(json_object_get(sb, key), i, p)
		printf("%s%s", i > 0 ? sep : "", json_is_string(p) ?
		    json_string_value(p) : "?");
}

/* network: listener, firewall and rules per sandbox. */
void
sbxctl_print_network(json_t *reply)
{
	json_t	*sb, *r;
	size_t	 i, j;

	if (json_is_string(json_object_get(reply, "error")))
		printf("firewall %s: %s\n", sbxctl_str(reply, "firewall"),
		    sbxctl_str(reply, "error"));
	printf("%-20s %-9s %5s %-8s %-12s %s\n", "NAME", "STATE", "PORT",
	    "LISTENER", "POLICY", "FIREWALL");
	json_array_foreach(json_object_get(reply, "sandboxes"), i, sb) {
		printf("%-20s %-9s %5lld %-8s %-12s %s\n",
		    sbxctl_str(sb, "name"), sbxctl_str(sb, "state"),
		    (long long)json_integer_value(json_object_get(sb,
		    "port")), json_is_true(json_object_get(sb, "listener")) ?
		    "up" : "down", sbxctl_str(sb, "policy"),
		    sbxctl_str(sb, "firewall"));
		if (json_is_string(json_object_get(sb, "port_other")))
			printf("%20s port: %s\n", "",
			    sbxctl_str(sb, "port_other"));
		json_array_foreach(json_object_get(sb, "rules"), j, r)
			printf("%20s %s %s\n", "", sbxctl_str(r, "action"),
			    sbxctl_str(r, "pattern"));
	}
}

/* doctor: each check, and how to fix a failed one or a warning. */
void
sbxctl_print_doctor(json_t *reply)
{
	json_t	*c;
	size_t	 i;
	int	 warn;

	json_array_foreach(json_object_get(reply, "checks"), i, c) {
		warn = json_is_true(json_object_get(c, "warn"));
		printf("%-4s %-40s %s\n", warn ? "warn" :
		    json_is_true(json_object_get(c, "ok")) ? "ok" : "FAIL",
		    sbxctl_str(c, "check"), sbxctl_str(c, "detail"));
		if (json_is_true(json_object_get(c, "ok")) && !warn)
			continue;
		printf("     fix: %s\n", sbxctl_str(c, "fix"));
	}
}
