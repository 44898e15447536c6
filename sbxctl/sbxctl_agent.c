/*
 * sbxctl_agent.c: the agent commands of sbxctl: ask (queue a prompt and
 * follow its turn), interrupt, turns, turn, mode and reset, and create's
 * --agent.  ask prints the agent's text on stdout as it streams and its
 * tool use in brief on stderr, and exits 0 when the turn went well, 1
 * when it failed and 130 when it was interrupted.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "sbxctl.h"

#define SBXCTL_PROMPT_MAX	(256 * 1024)	/* as sbxd takes */
#define SBXCTL_TURNS_MAX	10000

static const char	*sbxctl_ask_sock;	/* for the interrupt */
static char		 sbxctl_ask_intr[256];	/* its request line */
static volatile sig_atomic_t sbxctl_ask_sigs;
static int		 sbxctl_ask_newline = 1; /* text ended a line */

static void	sbxctl_ask_sigcb(int);
static char	*sbxctl_read_prompt(void);

/*
 * ask name [--mode mode] [--new] [prompt ...]: without words, the prompt
 * is stdin, whole.
 */
json_t *
sbxctl_build_ask(const struct sbxctl_cmd *cmd, int argc, char **argv)
{
	struct sigaction	 sa;
	json_t			*req, *intr;
	char			*prompt = NULL, *p;
	size_t			 len = 0, n;
	int			 i, new = 0;
	const char		*mode = NULL;

	if (argc < 1 || argv[0][0] == '-')
		sbxctl_cmd_usage(cmd);
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--mode") == 0 && i + 1 < argc)
			mode = argv[++i];
		else if (strcmp(argv[i], "--new") == 0)
			new = 1;
		else if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		} else
			break;
	}
	if (i == argc) {
		if ((prompt = sbxctl_read_prompt()) == NULL)
			exit(1);
	} else {
		for (; i < argc; i++) {
			if ((p = realloc(prompt, len + strlen(argv[i]) + 2)) ==
			    NULL) {
				fprintf(stderr, "sbxctl: out of memory\n");
				exit(1);
			}
			prompt = p;
			if (len > 0)
				prompt[len++] = ' ';
			memcpy(prompt + len, argv[i], strlen(argv[i]) + 1);
			len += strlen(argv[i]);
		}
	}
	req = json_pack("{s:s, s:s, s:s, s:b}", "command", cmd->name, "name",
	    argv[0], "prompt", prompt, "new", new);
	if (req == NULL) {
		fprintf(stderr, "sbxctl: the prompt is not UTF-8 text\n");
		exit(1);
	}
	free(prompt);
	if (mode != NULL)
		json_object_set_new(req, "mode", json_string(mode));
	/* ^C interrupts the turn; a second one leaves it running. */
	intr = json_pack("{s:s, s:s}", "command", "interrupt", "name",
	    argv[0]);
	n = intr != NULL ? json_dumpb(intr, sbxctl_ask_intr,
	    sizeof(sbxctl_ask_intr), JSON_COMPACT) : 0;
	if (n == 0 || n > sizeof(sbxctl_ask_intr) - 2)
		n = 0;		/* no sandbox has such a name */
	else
		sbxctl_ask_intr[n++] = '\n';
	sbxctl_ask_intr[n] = '\0';
	json_decref(intr);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sbxctl_ask_sigcb;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	return (req);
}

/* The socket ask's ^C sends its interrupt to. */
void
sbxctl_ask_socket(const char *path)
{
	sbxctl_ask_sock = path;
}

/*
 * ^C: ask sbxd, on a connection of its own, to interrupt the turn, and
 * go on reading its end.  Only async-signal-safe calls here.
 */
static void
sbxctl_ask_sigcb(int sig __unused)
{
	static const char	 first[] = "\nsbxctl: interrupting the turn "
				    "(^C again leaves it running)\n";
	static const char	 again[] = "\nsbxctl: the turn goes on without "
				    "sbxctl\n";
	struct sockaddr_un	 sun;
	ssize_t			 n;
	int			 fd;

	if (sbxctl_ask_sigs++ > 0 || sbxctl_ask_sock == NULL ||
	    sbxctl_ask_intr[0] == '\0') {
		n = write(STDERR_FILENO, again, sizeof(again) - 1);
		_exit(130);
	}
	n = write(STDERR_FILENO, first, sizeof(first) - 1);
	(void)n;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(sbxctl_ask_sock) >= sizeof(sun.sun_path))
		return;
	memcpy(sun.sun_path, sbxctl_ask_sock, strlen(sbxctl_ask_sock));
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1)
		return;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		n = write(fd, sbxctl_ask_intr, strlen(sbxctl_ask_intr));
	close(fd);
}

/* stdin, whole, as the prompt; NULL with why printed. */
static char *
sbxctl_read_prompt(void)
{
	char	*buf;
	size_t	 len = 0, n;

	if ((buf = malloc(SBXCTL_PROMPT_MAX + 2)) == NULL) {
		fprintf(stderr, "sbxctl: out of memory\n");
		return (NULL);
	}
	while (len <= SBXCTL_PROMPT_MAX && (n = fread(buf + len, 1,
	    SBXCTL_PROMPT_MAX + 1 - len, stdin)) > 0)
		len += n;
	if (ferror(stdin)) {
		fprintf(stderr, "sbxctl: stdin: %s\n", strerror(errno));
		free(buf);
		return (NULL);
	}
	if (len > SBXCTL_PROMPT_MAX) {
		fprintf(stderr, "sbxctl: the prompt is over %d bytes "
		    "(256 KiB)\n", SBXCTL_PROMPT_MAX);
		free(buf);
		return (NULL);
	}
	if (memchr(buf, '\0', len) != NULL) {
		fprintf(stderr, "sbxctl: the prompt holds a NUL byte\n");
		free(buf);
		return (NULL);
	}
	buf[len] = '\0';
	return (buf);
}

/*
 * A line of an ask: the reply, then the turn's events.  Text goes to
 * stdout as it comes; the rest to stderr in brief.
 */
void
sbxctl_print_ask(json_t *line)
{
	const char	*type = json_string_value(json_object_get(line, "type"));
	const char	*s, *st;
	json_t		*v;
	long long	 pos;

	if (json_is_true(json_object_get(line, "ok"))) {
		pos = json_integer_value(json_object_get(line, "position"));
		if (pos > 0)
			fprintf(stderr, "sbxctl: turn %lld queued #%lld in "
			    "%s\n", json_integer_value(json_object_get(line,
			    "turn")), pos, json_string_value(json_object_get(
			    line, "sandbox")));
		sbxctl_set_exit(1);	/* until its end says otherwise */
		return;
	}
	if (type == NULL)
		return;
	if (strcmp(type, "agent.text") == 0) {
		s = json_string_value(json_object_get(line, "text"));
		if (s == NULL)
			return;
		fputs(s, stdout);
		sbxctl_ask_newline = *s != '\0' && s[strlen(s) - 1] == '\n';
		fflush(stdout);
	} else if (strcmp(type, "agent.tool") == 0) {
		if (!sbxctl_ask_newline) {
			putchar('\n');
			fflush(stdout);
			sbxctl_ask_newline = 1;
		}
		s = json_string_value(json_object_get(line, "summary"));
		fprintf(stderr, "[%s] %s%s%s\n", json_string_value(
		    json_object_get(line, "name")), json_string_value(
		    json_object_get(line, "status")), s != NULL && *s != '\0' ?
		    ": " : "", s != NULL ? s : "");
	} else if (strcmp(type, "agent.started") == 0) {
		if (sbxctl_ask_sigs == 0 && json_is_string(json_object_get(
		    line, "resumed")))
			fprintf(stderr, "sbxctl: turn %lld started, continuing "
			    "session %s\n", json_integer_value(
			    json_object_get(line, "turn")), json_string_value(
			    json_object_get(line, "resumed")));
	} else if (strcmp(type, "agent.done") == 0) {
		if (!sbxctl_ask_newline) {
			putchar('\n');
			fflush(stdout);
		}
		st = json_string_value(json_object_get(line, "status"));
		fprintf(stderr, "sbxctl: turn %lld %s",
		    json_integer_value(json_object_get(line, "turn")),
		    st != NULL ? st : "ended");
		if ((s = json_string_value(json_object_get(line, "reason"))) !=
		    NULL)
			fprintf(stderr, ": %s", s);
		if ((v = json_object_get(line, "duration_ms")) != NULL)
			fprintf(stderr, " (%.1f s, %lld tokens in, %lld out",
			    json_integer_value(v) / 1000.0,
			    json_integer_value(json_object_get(line,
			    "tokens_in")), json_integer_value(
			    json_object_get(line, "tokens_out")));
		if ((v = json_object_get(line, "cost")) != NULL)
			fprintf(stderr, ", $%.4f", json_number_value(v));
		if (json_object_get(line, "duration_ms") != NULL)
			fprintf(stderr, ")");
		fprintf(stderr, "\n");
		if (st != NULL && strcmp(st, "ok") == 0)
			sbxctl_set_exit(0);
		else if (st != NULL && strcmp(st, "interrupted") == 0)
			sbxctl_set_exit(130);
		else
			sbxctl_set_exit(1);
		sbxctl_set_done();
	}
}

/* With -j: the lines are printed as they are; the end sets the exit. */
void
sbxctl_ask_json(json_t *line)
{
	const char	*type = json_string_value(json_object_get(line, "type"));
	const char	*st = json_string_value(json_object_get(line, "status"));

	if (type == NULL || strcmp(type, "agent.done") != 0)
		return;
	sbxctl_set_exit(st == NULL ? 1 : strcmp(st, "ok") == 0 ? 0 :
	    strcmp(st, "interrupted") == 0 ? 130 : 1);
	sbxctl_set_done();
}

/* interrupt name: the end of the turn it stopped. */
void
sbxctl_print_interrupt(json_t *reply)
{
	json_t		*d = json_object_get(reply, "done");
	const char	*s = json_string_value(json_object_get(d, "reason"));

	printf("turn %lld %s%s%s\n", json_integer_value(json_object_get(reply,
	    "turn")), json_string_value(json_object_get(d, "status")),
	    s != NULL ? ": " : "", s != NULL ? s : "");
}

/* turns name [-n count] */
json_t *
sbxctl_build_turns(const struct sbxctl_cmd *cmd, int argc, char **argv)
{
	char	*end;
	long	 n;

	if (argc == 1)
		return (json_pack("{s:s, s:s}", "command", cmd->name, "name",
		    argv[0]));
	if (argc != 3 || strcmp(argv[1], "-n") != 0)
		sbxctl_cmd_usage(cmd);
	n = strtol(argv[2], &end, 10);
	if (*argv[2] == '\0' || *end != '\0' || n < 1 ||
	    n > SBXCTL_TURNS_MAX) {
		fprintf(stderr, "sbxctl: turns: count must be a number from 1 "
		    "to %d\n", SBXCTL_TURNS_MAX);
		exit(1);
	}
	return (json_pack("{s:s, s:s, s:i}", "command", cmd->name, "name",
	    argv[0], "last", (int)n));
}

static const char *
sbxctl_turn_str(json_t *t, const char *key)
{
	const char	*s = json_string_value(json_object_get(t, key));

	return (s != NULL ? s : "-");
}

/* The time part of an RFC 3339 stamp, or "-". */
static const char *
sbxctl_turn_time(json_t *t, const char *key, char *buf, size_t len)
{
	const char	*s = json_string_value(json_object_get(t, key));

	if (s == NULL || strlen(s) < 19)
		return ("-");
	snprintf(buf, len, "%.10s %.8s", s, s + 11);
	return (buf);
}

/* turns: one line per turn, oldest first. */
void
sbxctl_print_turns(json_t *reply)
{
	json_t		*t, *cost;
	size_t		 i;
	char		 tb[32], cb[16];

	printf("%-6s %-11s %-19s %-9s %-7s %-7s %-8s %-8s %s\n", "ID",
	    "STATUS", "QUEUED", "MODE", "IN", "OUT", "COST", "EXIT",
	    "REQUESTER");
	json_array_foreach(json_object_get(reply, "turns"), i, t) {
		cost = json_object_get(t, "cost");
		if (json_is_number(cost))
			snprintf(cb, sizeof(cb), "$%.4f",
			    json_number_value(cost));
		else
			snprintf(cb, sizeof(cb), "-");
		printf("%-6lld %-11s %-19s %-9s %-7lld %-7lld %-8s ",
		    json_integer_value(json_object_get(t, "id")),
		    sbxctl_turn_str(t, "status"),
		    sbxctl_turn_time(t, "queued_at", tb, sizeof(tb)),
		    sbxctl_turn_str(t, "mode"),
		    json_integer_value(json_object_get(t, "tokens_in")),
		    json_integer_value(json_object_get(t, "tokens_out")), cb);
		if (json_is_integer(json_object_get(t, "exit")))
			printf("%-8lld ", json_integer_value(json_object_get(t,
			    "exit")));
		else
			printf("%-8s ", "-");
		printf("%s\n", sbxctl_turn_str(t, "requester"));
	}
}

/* turn id */
json_t *
sbxctl_build_turn(const struct sbxctl_cmd *cmd, int argc, char **argv)
{
	char		*end;
	long long	 id;

	if (argc != 1)
		sbxctl_cmd_usage(cmd);
	id = strtoll(argv[0], &end, 10);
	if (*argv[0] == '\0' || *end != '\0' || id < 1) {
		fprintf(stderr, "sbxctl: turn: a turn number is needed\n");
		exit(1);
	}
	return (json_pack("{s:s, s:I}", "command", cmd->name, "id",
	    (json_int_t)id));
}

/* turn: its record, its prompt and its transcript. */
void
sbxctl_print_turn(json_t *reply)
{
	static const char	*keys[] = { "sandbox", "agent", "mode",
				    "requester", "status", "reason",
				    "queued_at", "started_at", "ended_at",
				    "exit", "session", "tokens_in",
				    "tokens_out", "cost", "output_bytes" };
	json_t			*t = json_object_get(reply, "turn"), *v, *it;
	const char		*s;
	size_t			 i;
	int			 nl = 1;

	printf("turn %lld\n", json_integer_value(json_object_get(t, "id")));
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		v = json_object_get(t, keys[i]);
		if (v == NULL || json_is_null(v))
			continue;
		printf("%-13s ", keys[i]);
		if (json_is_string(v))
			printf("%s\n", json_string_value(v));
		else if (json_is_real(v))
			printf("%.4f\n", json_real_value(v));
		else
			printf("%lld\n", json_integer_value(v));
	}
	printf("\n--- prompt\n%s", sbxctl_turn_str(t, "prompt"));
	s = json_string_value(json_object_get(t, "prompt"));
	if (s != NULL && *s != '\0' && s[strlen(s) - 1] != '\n')
		putchar('\n');
	printf("--- transcript\n");
	json_array_foreach(json_object_get(t, "transcript"), i, it) {
		if ((s = json_string_value(json_object_get(it, "text"))) !=
		    NULL) {
			fputs(s, stdout);
			nl = *s != '\0' && s[strlen(s) - 1] == '\n';
		} else if ((s = json_string_value(json_object_get(it,
		    "tool"))) != NULL) {
			if (!nl)
				putchar('\n');
			printf("[%s] %s: %s\n", s, sbxctl_turn_str(it,
			    "status"), sbxctl_turn_str(it, "summary"));
			nl = 1;
		} else if (json_is_true(json_object_get(it, "truncated"))) {
			if (!nl)
				putchar('\n');
			printf("[transcript cut: over 1 MiB]\n");
			nl = 1;
		}
	}
	if (!nl)
		putchar('\n');
}

/* mode name [mode] */
json_t *
sbxctl_build_mode(const struct sbxctl_cmd *cmd, int argc, char **argv)
{
	if (argc < 1 || argc > 2)
		sbxctl_cmd_usage(cmd);
	return (json_pack("{s:s, s:s, s:s*}", "command", cmd->name, "name",
	    argv[0], "mode", argc == 2 ? argv[1] : NULL));
}

void
sbxctl_print_mode(json_t *reply)
{
	json_t	*m;
	size_t	 i;

	printf("%s: agent %s, mode %s (modes:", json_string_value(
	    json_object_get(reply, "sandbox")), json_string_value(
	    json_object_get(reply, "agent")), json_string_value(
	    json_object_get(reply, "mode")));
	json_array_foreach(json_object_get(reply, "modes"), i, m)
		printf(" %s", json_string_value(m));
	printf(")\n");
}

void
sbxctl_print_reset(json_t *reply)
{
	const char	*s = json_string_value(json_object_get(reply,
			    "forgot"));

	if (s != NULL)
		printf("%s: session %s forgotten; the next turn starts a new "
		    "conversation\n", json_string_value(json_object_get(reply,
		    "sandbox")), s);
	else
		printf("%s: no session; the next turn starts a new "
		    "conversation\n", json_string_value(json_object_get(reply,
		    "sandbox")));
}
