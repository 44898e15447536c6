/*
 * sbxctl_parser.c: the command table.  Each entry turns the words after
 * the command name into a request object; sbxctl.8 lists the commands in
 * this order, with these usage strings.
 */

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "sbxctl.h"

static json_t	*sbxctl_build_plain(const struct sbxctl_cmd *, int, char **);
static json_t	*sbxctl_build_events(const struct sbxctl_cmd *, int,
		    char **);
static json_t	*sbxctl_build_log(const struct sbxctl_cmd *, int, char **);
static json_t	*sbxctl_build_rule(const struct sbxctl_cmd *, int, char **);
static json_t	*sbxctl_build_listener(const struct sbxctl_cmd *, int,
		    char **);
static json_t	*sbxctl_build_approve(const struct sbxctl_cmd *, int,
		    char **);
static json_t	*sbxctl_build_create(const struct sbxctl_cmd *, int,
		    char **);
static int	 sbxctl_create_repo(json_t *, const char *);
static int	 sbxctl_create_glob(json_t *, const char *);
static int	 sbxctl_github_name(const char *, size_t, size_t);
static json_t	*sbxctl_build_name(const struct sbxctl_cmd *, int, char **);
static json_t	*sbxctl_build_optname(const struct sbxctl_cmd *, int,
		    char **);

static const struct sbxctl_cmd sbxctl_cmds[] = {
	{ "status", "", 0, sbxctl_build_plain, sbxctl_print_status },
	{ "reload", "", 0, sbxctl_build_plain, sbxctl_print_ok },
	{ "events", "[-r] [-n count] [-s name] [-t type]", 1,
	    sbxctl_build_events,
	    sbxctl_print_event },
	{ "log", "verbose | brief", 0, sbxctl_build_log, sbxctl_print_log },
	{ "sessions", "", 0, sbxctl_build_plain, sbxctl_print_sessions },
	{ "create", "name [--open | --restrict-network] [--policy policy] "
	    "[--agent agent] [--allow pattern] ... [--provider provider] ... "
	    "[--no-providers] [--repo owner/repo] ... "
	    "[--push-branches glob] ...", 0, sbxctl_build_create,
	    sbxctl_print_sandbox },
	{ "list", "", 0, sbxctl_build_plain, sbxctl_print_sandboxes },
	{ "show", "name", 0, sbxctl_build_name, sbxctl_print_sandbox },
	{ "rm", "name", 0, sbxctl_build_name, sbxctl_print_ok },
	{ "allow", "name | listener pattern [--for duration]", 0,
	    sbxctl_build_rule, sbxctl_print_ok },
	{ "deny", "name | listener pattern [--for duration]", 0,
	    sbxctl_build_rule, sbxctl_print_ok },
	{ "unallow", "name | listener pattern", 0, sbxctl_build_rule,
	    sbxctl_print_ok },
	{ "rules", "[name | listener]", 0, sbxctl_build_listener,
	    sbxctl_print_rules },
	{ "asks", "[name | listener]", 0, sbxctl_build_listener,
	    sbxctl_print_asks },
	{ "approve", "id once | always | deny", 0, sbxctl_build_approve,
	    sbxctl_print_approve },
	{ "exec", "name [-t | -T] [-- command [arg ...]]", 0, NULL, NULL },
	{ "ask", "name [--mode mode] [--new] [prompt ...]", 1,
	    sbxctl_build_ask, sbxctl_print_ask },
	{ "interrupt", "name", 0, sbxctl_build_name, sbxctl_print_interrupt },
	{ "turns", "name [-n count]", 0, sbxctl_build_turns,
	    sbxctl_print_turns },
	{ "turn", "id", 0, sbxctl_build_turn, sbxctl_print_turn },
	{ "mode", "name [mode]", 0, sbxctl_build_mode, sbxctl_print_mode },
	{ "reset", "name", 0, sbxctl_build_name, sbxctl_print_reset },
	{ "usage", "[name] [--since when]", 0, sbxctl_build_usage,
	    sbxctl_print_usage },
	{ "network", "[name]", 0, sbxctl_build_optname,
	    sbxctl_print_network },
	{ "doctor", "", 0, sbxctl_build_plain, sbxctl_print_doctor },
	{ "completion", "bash | zsh", 0, NULL, NULL },
};
#define SBXCTL_NCMDS	(sizeof(sbxctl_cmds) / sizeof(sbxctl_cmds[0]))

#define SBXCTL_OWNER_MAX	39	/* GitHub's longest user or org name */
#define SBXCTL_REPO_MAX		100	/* and repository name */
#define SBXCTL_GLOB_PREFIX	"refs/heads/"	/* branches only: no tags */

/* The command called name, or NULL. */
const struct sbxctl_cmd *
sbxctl_cmd_find(const char *name)
{
	size_t	 i;

	for (i = 0; i < SBXCTL_NCMDS; i++)
		if (strcmp(sbxctl_cmds[i].name, name) == 0)
			return (&sbxctl_cmds[i]);
	return (NULL);
}

/* Command i of the table, or NULL past its end. */
const struct sbxctl_cmd *
sbxctl_cmd_at(size_t i)
{
	return (i < SBXCTL_NCMDS ? &sbxctl_cmds[i] : NULL);
}

/* Every command's usage line, in table order. */
void
sbxctl_usage_cmds(FILE *fp)
{
	size_t	 i;

	fprintf(fp, "commands:\n");
	for (i = 0; i < SBXCTL_NCMDS; i++)
		fprintf(fp, "\t%s%s%s\n", sbxctl_cmds[i].name,
		    *sbxctl_cmds[i].usage != '\0' ? " " : "",
		    sbxctl_cmds[i].usage);
}

/* Wrong arguments for cmd. */
void
sbxctl_cmd_usage(const struct sbxctl_cmd *cmd)
{
	fprintf(stderr, "usage: sbxctl %s%s%s\n", cmd->name,
	    *cmd->usage != '\0' ? " " : "", cmd->usage);
	exit(1);
}

/* A command without arguments. */
static json_t *
sbxctl_build_plain(const struct sbxctl_cmd *cmd, int argc,
    char **argv __unused)
{
	if (argc != 0)
		sbxctl_cmd_usage(cmd);
	return (json_pack("{s:s}", "command", cmd->name));
}

/* events [-n count]: replay the last count events, then follow. */
static json_t *
sbxctl_build_events(const struct sbxctl_cmd *cmd, int argc, char **argv)
{
	const char	*sb = NULL, *type = NULL;
	char		*end;
	long		 n = -1;
	int		 i, recent = 0;
	json_t		*req;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "-r") == 0)
			recent = 1;
		else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
			n = strtol(argv[++i], &end, 10);
			if (*argv[i] == '\0' || *end != '\0' || n < 0 ||
			    n > 10000) {
				fprintf(stderr, "sbxctl: events: count must be "
				    "a number from 0 to 10000\n");
				exit(1);
			}
		} else if (strcmp(argv[i], "-s") == 0 && i + 1 < argc)
			sb = argv[++i];
		else if (strcmp(argv[i], "-t") == 0 && i + 1 < argc)
			type = argv[++i];
		else
			sbxctl_cmd_usage(cmd);
	}
	if (n == -1)
		n = recent ? SBXCTL_EVENTS_RECENT : 0;
	req = json_pack("{s:s, s:i}", "command", cmd->name, "last", (int)n);
	if (sb != NULL)
		json_object_set_new(req, "sandbox", json_string(sb));
	if (type != NULL)
		json_object_set_new(req, "type", json_string(type));
	if (recent)
		json_object_set_new(req, "follow", json_false());
	return (req);
}

/* log verbose | brief */
static json_t *
sbxctl_build_log(const struct sbxctl_cmd *cmd, int argc, char **argv)
{
	if (argc != 1 || (strcmp(argv[0], "verbose") != 0 &&
	    strcmp(argv[0], "brief") != 0))
		sbxctl_cmd_usage(cmd);
	return (json_pack("{s:s, s:s}", "command", cmd->name, "level",
	    argv[0]));
}

/* allow|deny listener pattern */
static json_t *
sbxctl_build_rule(const struct sbxctl_cmd *cmd, int argc, char **argv)
{
	json_t		*req;
	long long	 secs;

	if (argc != 2 && !(argc == 4 && strcmp(argv[2], "--for") == 0 &&
	    strcmp(cmd->name, "unallow") != 0))
		sbxctl_cmd_usage(cmd);
	req = json_pack("{s:s, s:s, s:s}", "command", cmd->name, "listener",
	    argv[0], "pattern", argv[1]);
	if (argc == 4) {
		if ((secs = sbxctl_duration(argv[3])) == -1) {
			fprintf(stderr, "sbxctl: --for %s: a duration from 1s to "
			    "366d is needed, such as 90s, 10m, 2h or 1d\n",
			    argv[3]);
			exit(1);
		}
		json_object_set_new(req, "for", json_integer(secs));
	}
	return (req);
}

/*
 * A duration: a number with s, m, h or d (seconds when bare), from one
 * second to 366 days; -1 otherwise.
 */
long long
sbxctl_duration(const char *s)
{
	long long	 n;
	char		*end;
	int		 unit = 1;

	if (*s < '0' || *s > '9')
		return (-1);
	n = strtoll(s, &end, 10);
	if (end[0] != '\0' && end[1] != '\0')
		return (-1);
	switch (*end) {
	case '\0':
	case 's':
		break;
	case 'm':
		unit = 60;
		break;
	case 'h':
		unit = 3600;
		break;
	case 'd':
		unit = 86400;
		break;
	default:
		return (-1);
	}
	if (n < 1 || n > 366LL * 86400 / unit)
		return (-1);
	return (n * unit);
}

/* approve id once|always|deny */
static json_t *
sbxctl_build_approve(const struct sbxctl_cmd *cmd, int argc, char **argv)
{
	long long	 id;
	char		*end;

	if (argc != 2 || (strcmp(argv[1], "once") != 0 &&
	    strcmp(argv[1], "always") != 0 && strcmp(argv[1], "deny") != 0))
		sbxctl_cmd_usage(cmd);
	errno = 0;
	id = strtoll(argv[0], &end, 10);
	if (argv[0][0] < '0' || argv[0][0] > '9' || *end != '\0' ||
	    errno != 0 || id < 1) {
		fprintf(stderr, "sbxctl: approve: \"%s\" is not a question "
		    "id (sbxctl asks lists them)\n", argv[0]);
		exit(1);
	}
	return (json_pack("{s:s, s:I, s:s}", "command", cmd->name, "id",
	    (json_int_t)id, "decision", argv[1]));
}

/* rules [listener] */
static json_t *
sbxctl_build_listener(const struct sbxctl_cmd *cmd, int argc, char **argv)
{
	if (argc > 1)
		sbxctl_cmd_usage(cmd);
	if (argc == 0)
		return (json_pack("{s:s}", "command", cmd->name));
	return (json_pack("{s:s, s:s}", "command", cmd->name, "listener",
	    argv[0]));
}

/*
 * create name [--open | --restrict-network] [--policy policy]
 * [--allow pattern] ... [--provider provider] ... [--no-providers]
 * [--repo owner/repo] ... [--push-branches glob] ...: restricted unless
 * --open; without --provider or --no-providers, the gateway's providers
 * are sbxd's choice, and without --push-branches, the push globs.
 */
static json_t *
sbxctl_build_create(const struct sbxctl_cmd *cmd, int argc, char **argv)
{
	json_t	*req, *allow, *prov = NULL, *repos = NULL, *globs = NULL;
	int	 i, isopen = 0, closed = 0, noprov = 0;

	if (argc < 1 || argv[0][0] == '-')
		sbxctl_cmd_usage(cmd);
	allow = json_array();
	req = json_pack("{s:s, s:s, s:o}", "command", cmd->name, "name",
	    argv[0], "allow", allow);
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--restrict-network") == 0)
			closed = 1;
		else if (strcmp(argv[i], "--open") == 0)
			isopen = 1;
		else if (strcmp(argv[i], "--policy") == 0 && i + 1 < argc)
			json_object_set_new(req, "policy",
			    json_string(argv[++i]));
		else if (strcmp(argv[i], "--agent") == 0 && i + 1 < argc)
			json_object_set_new(req, "agent",
			    json_string(argv[++i]));
		else if (strcmp(argv[i], "--allow") == 0 && i + 1 < argc)
			json_array_append_new(allow, json_string(argv[++i]));
		else if (strcmp(argv[i], "--provider") == 0 && i + 1 < argc) {
			if (prov == NULL)
				prov = json_array();
			json_array_append_new(prov, json_string(argv[++i]));
		} else if (strcmp(argv[i], "--no-providers") == 0)
			noprov = 1;
		else if (strcmp(argv[i], "--repo") == 0 && i + 1 < argc) {
			if (repos == NULL)
				repos = json_array();
			if (sbxctl_create_repo(repos, argv[++i]) == -1)
				exit(1);
		} else if (strcmp(argv[i], "--push-branches") == 0 &&
		    i + 1 < argc) {
			if (globs == NULL)
				globs = json_array();
			if (sbxctl_create_glob(globs, argv[++i]) == -1)
				exit(1);
		} else
			sbxctl_cmd_usage(cmd);
	}
	if ((isopen && closed) || (noprov && prov != NULL))
		sbxctl_cmd_usage(cmd);
	if (globs != NULL && repos == NULL) {
		fprintf(stderr, "sbxctl: create: --push-branches needs a "
		    "--repo to push to\n");
		exit(1);
	}
	if (noprov)
		prov = json_array();
	if (prov != NULL)
		json_object_set_new(req, "providers", prov);
	if (repos != NULL)
		json_object_set_new(req, "repos", repos);
	if (globs != NULL)
		json_object_set_new(req, "push_branches", globs);
	json_object_set_new(req, "restricted", json_boolean(!isopen));
	return (req);
}

/*
 * --repo owner/repo: a GitHub repository, a trailing ".git" dropped,
 * added to repos unless it is there already (GitHub's names ignore
 * case).
 */
static int
sbxctl_create_repo(json_t *repos, const char *arg)
{
	const char	*slash;
	json_t		*v;
	size_t		 len = strlen(arg), i;
	char		 repo[SBXCTL_OWNER_MAX + SBXCTL_REPO_MAX + 2];

	if (len > 4 && strcmp(arg + len - 4, ".git") == 0)
		len -= 4;
	if ((slash = memchr(arg, '/', len)) == NULL ||
	    !sbxctl_github_name(arg, slash - arg, SBXCTL_OWNER_MAX) ||
	    !sbxctl_github_name(slash + 1, len - (slash + 1 - arg),
	    SBXCTL_REPO_MAX)) {
		fprintf(stderr, "sbxctl: --repo %s: owner/repo is needed, such "
		    "as octo/app: names of letters, digits, '.', '_' and '-', "
		    "an owner's up to %d, a repository's up to %d\n", arg,
		    SBXCTL_OWNER_MAX, SBXCTL_REPO_MAX);
		return (-1);
	}
	memcpy(repo, arg, len);
	repo[len] = '\0';
	json_array_foreach(repos, i, v)
		if (strcasecmp(json_string_value(v), repo) == 0) {
			fprintf(stderr, "sbxctl: --repo %s: given twice\n",
			    repo);
			return (-1);
		}
	return (json_array_append_new(repos, json_string(repo)));
}

/* Whether s, len bytes, is an owner or repository name of max at most. */
static int
sbxctl_github_name(const char *s, size_t len, size_t max)
{
	size_t	 i;

	if (len == 0 || len > max || (len == 1 && s[0] == '.') ||
	    (len == 2 && s[0] == '.' && s[1] == '.'))
		return (0);
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '.' &&
		    s[i] != '_' && s[i] != '-')
			return (0);
	return (1);
}

/*
 * --push-branches glob: the branches the sandbox may push to, a glob of
 * refs under refs/heads/ ('*' for any part), added to globs unless it
 * is there already.
 */
static int
sbxctl_create_glob(json_t *globs, const char *arg)
{
	const char	*rest = "";
	json_t		*v;
	size_t		 len = strlen(arg), i;

	if (strncmp(arg, SBXCTL_GLOB_PREFIX, strlen(SBXCTL_GLOB_PREFIX)) == 0)
		rest = arg + strlen(SBXCTL_GLOB_PREFIX);
	if (*rest == '\0' || arg[len - 1] == '/' || strspn(rest,
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789._/*-") != strlen(rest) || strstr(arg, "..") != NULL ||
	    strstr(arg, "//") != NULL) {
		fprintf(stderr, "sbxctl: --push-branches %s: a glob of "
		    "branches is needed, such as refs/heads/sbx/app/*: "
		    "refs/heads/ then letters, digits, '.', '_', '-', '/' and "
		    "'*', without \"..\", \"//\" or a final '/'\n", arg);
		return (-1);
	}
	json_array_foreach(globs, i, v)
		if (strcmp(json_string_value(v), arg) == 0) {
			fprintf(stderr, "sbxctl: --push-branches %s: given "
			    "twice\n", arg);
			return (-1);
		}
	return (json_array_append_new(globs, json_string(arg)));
}

/* A command taking one sandbox name. */
static json_t *
sbxctl_build_name(const struct sbxctl_cmd *cmd, int argc, char **argv)
{
	if (argc != 1)
		sbxctl_cmd_usage(cmd);
	return (json_pack("{s:s, s:s}", "command", cmd->name, "name",
	    argv[0]));
}

/* A command taking an optional sandbox name. */
static json_t *
sbxctl_build_optname(const struct sbxctl_cmd *cmd, int argc, char **argv)
{
	if (argc > 1)
		sbxctl_cmd_usage(cmd);
	return (json_pack("{s:s, s:s*}", "command", cmd->name, "name",
	    argc == 1 ? argv[0] : NULL));
}
