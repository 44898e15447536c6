/*
 * test_config.c: the config parser and printer: keyword table order,
 * macros from the command line, relative paths, include paths, error
 * lists with file:line, and the printed form parsing back to itself.
 */

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"
#include "sbxd.h"
#include "unit.h"

/* Parse text from a file in a fresh directory. */
static struct sbxd_config *
parse_text(const char *text, json_t *errors, char **dirp)
{
	struct sbxd_config	*conf = NULL;
	char			*path = NULL;

	if ((*dirp = unit_tmpdir()) == NULL)
		return (NULL);
	if (asprintf(&path, "%s/t.conf", *dirp) == -1)
		return (NULL);
	if (unit_write(path, text) == 0)
		conf = parse_config(path, errors);
	free(path);
	return (conf);
}

/* The one error message, without its directory. */
static const char *
first_error(json_t *errors)
{
	const char	*s = json_string_value(json_array_get(errors, 0));
	const char	*slash;

	if (s == NULL)
		return ("");
	return ((slash = strrchr(s, '/')) != NULL ? slash + 1 : s);
}

static int
test_keywords_sorted(void)
{
	int	 ret = -1;

	CHECK(parse_keywords_sorted());
	ret = 0;
end:
	return (ret);
}

static int
test_defaults(void)
{
	struct sbxd_config	*conf;
	json_t			*errors = json_array();
	char			*dir = NULL;
	int			 ret = -1;

	conf = parse_text("# nothing\n", errors, &dir);
	CHECK(conf != NULL);
	CHECK_STR(conf->sc_state, SBXD_STATE);
	CHECK_STR(conf->sc_socket, SBXD_SOCKET);
	CHECK_STR(conf->sc_pidfile, SBXD_PIDFILE);
	CHECK(conf->sc_group == NULL);
	CHECK_INT(conf->sc_loglevel, LOG_INFO);
	CHECK(TAILQ_EMPTY(&conf->sc_listens));
	ret = 0;
end:
	config_free(conf);
	json_decref(errors);
	unit_rmtree(dir);
	free(dir);
	return (ret);
}

static int
test_values(void)
{
	struct sbxd_config	*conf;
	struct proxy_listen	*pl;
	json_t			*errors = json_array();
	char			*dir = NULL, buf[64];
	int			 ret = -1;

	conf = parse_text("state \"/srv/x\"\ncontrol group 0\n"
	    "log level warning\npolicy \"p\" { }\n"
	    "proxy listen on ::1 port 8080 policy \"p\"\n"
	    "resolver nameserver 10.0.0.1 port 5353\n", errors, &dir);
	CHECK(conf != NULL);
	CHECK_STR(conf->sc_state, "/srv/x");
	CHECK_STR(conf->sc_group, "root");
	CHECK_INT(conf->sc_gid, 0);
	CHECK_INT(conf->sc_loglevel, LOG_WARNING);
	pl = TAILQ_FIRST(&conf->sc_listens);
	CHECK(pl != NULL);
	CHECK_STR(util_sockaddr_str((struct sockaddr *)&pl->pl_ss, buf,
	    sizeof(buf)), "[::1]:8080");
	CHECK_STR(pl->pl_policy->pol_name, "p");
	CHECK_STR(util_sockaddr_str((struct sockaddr *)&TAILQ_FIRST(
	    &conf->sc_nameservers)->ns_ss, buf, sizeof(buf)), "10.0.0.1:5353");
	ret = 0;
end:
	config_free(conf);
	json_decref(errors);
	unit_rmtree(dir);
	free(dir);
	return (ret);
}

/* -D overrides the file's definition and survives into the next parse. */
static int
test_cmdline_macro(void)
{
	struct sbxd_config	*conf = NULL;
	json_t			*errors = json_array();
	char			*dir = NULL;
	int			 ret = -1;

	CHECK(cmdline_symset("where=/from/cmdline") == 0);
	CHECK(cmdline_symset("=x") == -1);
	CHECK(cmdline_symset("no-equals") == -1);
	CHECK(cmdline_symset("bad-name=x") == -1);
	conf = parse_text("where = \"/from/file\"\nstate $where\n", errors,
	    &dir);
	CHECK(conf != NULL);
	CHECK_STR(conf->sc_state, "/from/cmdline");
	ret = 0;
end:
	config_free(conf);
	json_decref(errors);
	unit_rmtree(dir);
	free(dir);
	return (ret);
}

/* A relative path is made absolute against the current directory. */
static int
test_relative_path(void)
{
	struct sbxd_config	*conf = NULL;
	json_t			*errors = json_array();
	char			*dir = NULL, *want = NULL, cwd[1024];
	int			 ret = -1;

	CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
	conf = parse_text("state \"./run/state\"\n", errors, &dir);
	CHECK(conf != NULL);
	CHECK(asprintf(&want, "%s/run/state", cwd) != -1);
	CHECK_STR(conf->sc_state, want);
	ret = 0;
end:
	free(want);
	config_free(conf);
	json_decref(errors);
	unit_rmtree(dir);
	free(dir);
	return (ret);
}

/* Each error is file:line: message, and parsing goes on after it. */
static int
test_errors(void)
{
	struct sbxd_config	*conf;
	json_t			*errors = json_array();
	char			*dir = NULL;
	int			 ret = -1;

	conf = parse_text("log level info\nbogus 1\n\nstate\n", errors,
	    &dir);
	CHECK(conf == NULL);
	CHECK_INT(json_array_size(errors), 2);
	CHECK_STR(first_error(errors), "t.conf:2: unknown keyword \"bogus\"");
	json_array_remove(errors, 0);
	CHECK_STR(first_error(errors), "t.conf:4: syntax error at end of "
	    "line");
	ret = 0;
end:
	json_decref(errors);
	unit_rmtree(dir);
	free(dir);
	return (ret);
}

/* A missing file is one message naming it. */
static int
test_missing_file(void)
{
	json_t	*errors = json_array();
	int	 ret = -1;

	CHECK(parse_config("/nonexistent/sbxd.conf", errors) == NULL);
	CHECK_INT(json_array_size(errors), 1);
	CHECK_STR(json_string_value(json_array_get(errors, 0)),
	    "/nonexistent/sbxd.conf: No such file or directory");
	ret = 0;
end:
	json_decref(errors);
	return (ret);
}

/* An include that includes itself stops at the depth limit. */
static int
test_include_loop(void)
{
	struct sbxd_config	*conf;
	json_t			*errors = json_array();
	char			*dir = NULL;
	int			 ret = -1;

	conf = parse_text("include \"t.conf\"\n", errors, &dir);
	CHECK(conf == NULL);
	CHECK(json_array_size(errors) >= 1);
	CHECK(strstr(json_string_value(json_array_get(errors, 0)),
	    "nested too deeply") != NULL);
	ret = 0;
end:
	json_decref(errors);
	unit_rmtree(dir);
	free(dir);
	return (ret);
}

/* The printed form parses to a config that prints the same. */
static int
test_print_roundtrip(void)
{
	struct sbxd_config	*conf = NULL, *again = NULL;
	json_t			*errors = json_array();
	char			*dir = NULL, *path = NULL, *a = NULL, *b = NULL;
	size_t			 alen, blen;
	FILE			*fp;
	int			 ret = -1;

	conf = parse_text("state \"/q\\\"uote\"\npolicy \"x\" { }\n"
	    "proxy listen on 127.0.0.1 policy x\nlog level debug\n",
	    errors, &dir);
	CHECK(conf != NULL);
	CHECK((fp = open_memstream(&a, &alen)) != NULL);
	config_print(fp, conf);
	fclose(fp);
	CHECK(asprintf(&path, "%s/printed.conf", dir) != -1);
	CHECK(unit_write(path, a) == 0);
	CHECK((again = parse_config(path, errors)) != NULL);
	CHECK((fp = open_memstream(&b, &blen)) != NULL);
	config_print(fp, again);
	fclose(fp);
	CHECK_STR(a, b);
	CHECK(strstr(a, "state \"/q\\\"uote\"\n") != NULL);
	ret = 0;
end:
	free(a);
	free(b);
	free(path);
	config_free(conf);
	config_free(again);
	json_decref(errors);
	unit_rmtree(dir);
	free(dir);
	return (ret);
}

static int
test_loglevel(void)
{
	int	 ret = -1;

	CHECK_INT(config_loglevel_parse("warning"), LOG_WARNING);
	CHECK_INT(config_loglevel_parse("debug"), LOG_DEBUG);
	CHECK_INT(config_loglevel_parse("loud"), -1);
	CHECK_INT(config_loglevel_raise(LOG_WARNING, 1), LOG_INFO);
	CHECK_INT(config_loglevel_raise(LOG_WARNING, 5), LOG_DEBUG);
	CHECK_INT(config_loglevel_raise(LOG_INFO, 0), LOG_INFO);
	CHECK_STR(config_loglevel_name(LOG_INFO), "info");
	ret = 0;
end:
	return (ret);
}

static const struct unit_test tests[] = {
	{ "keywords_sorted", test_keywords_sorted },
	{ "defaults", test_defaults },
	{ "values", test_values },
	{ "cmdline_macro", test_cmdline_macro },
	{ "relative_path", test_relative_path },
	{ "errors", test_errors },
	{ "missing_file", test_missing_file },
	{ "include_loop", test_include_loop },
	{ "print_roundtrip", test_print_roundtrip },
	{ "loglevel", test_loglevel },
};

UNIT_MAIN("config", tests)
