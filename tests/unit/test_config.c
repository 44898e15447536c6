/*
 * test_config.c: the config parser and printer: keyword table order,
 * macros from the command line, relative paths, include paths, error
 * lists with file:line, the printed form parsing back to itself, and
 * the provider and github blocks with their keys.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/ec.h>

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

/* A root-only key file dir/name holding text. */
static int
write_key(const char *dir, const char *name, const char *text)
{
	char	*path;
	int	 r;

	if (asprintf(&path, "%s/%s", dir, name) == -1)
		return (-1);
	r = unit_write(path, text) == 0 && chmod(path, 0600) == 0 ? 0 : -1;
	free(path);
	return (r);
}

/*
 * Provider blocks: the keys read into locked memory, upstreams split,
 * the defaults without one, and nothing of a key in the printed form.
 */
static int
test_providers(void)
{
	struct sbxd_config	*conf = NULL;
	struct provider_conf	*pv;
	json_t			*errors = json_array();
	char			*dir = NULL, *path = NULL, *text = NULL;
	char			*out = NULL;
	size_t			 outlen;
	FILE			*fp;
	int			 ret = -1;

	if (geteuid() != 0) {
		printf("      (providers skipped: key files must be root's)\n");
		ret = 0;
		goto end;
	}
	CHECK((dir = unit_tmpdir()) != NULL);
	CHECK(write_key(dir, "a", "sk-ant-1\nsecond line\n") == 0);
	CHECK(write_key(dir, "o", "sk-oa-2\r\n") == 0);
	CHECK(write_key(dir, "g", "AIza-3") == 0);
	CHECK(asprintf(&text, "sandbox providers \"google\" \"anthropic\"\n"
	    "policy \"default\" { }\n"
	    "provider \"anthropic\" {\n\tkey-file \"%s/a\"\n"
	    "\tupstream \"https://127.0.0.1:8443\"\n"
	    "\tbudget 5000000 tokens per day\n}\n"
	    "provider \"openai\" {\n\tkey-file \"%s/o\"\n"
	    "\tupstream \"https://[::1]:9000/v1/\"\n}\n"
	    "provider \"google\" {\n\tkey-file \"%s/g\"\n}\n"
	    "provider \"openrouter\" {\n\tkey-file \"%s/g\"\n"
	    "\tupstream \"https://gw.example.com/a%%2Fb/c/\"\n}\n",
	    dir, dir, dir, dir) != -1);
	CHECK(asprintf(&path, "%s/t.conf", dir) != -1);
	CHECK(unit_write(path, text) == 0);
	CHECK((conf = parse_config(path, errors)) != NULL);

	CHECK((pv = config_provider_find(conf, "anthropic")) != NULL);
	CHECK_INT(pv->pv_type, 0);
	CHECK_STR(pv->pv_key, "sk-ant-1");
	CHECK_INT(pv->pv_keylen, 8);
	CHECK_INT(pv->pv_keysize, PROVIDER_KEY_MAX + 1);
	CHECK_STR(pv->pv_upstream, "https://127.0.0.1:8443");
	CHECK_STR(pv->pv_up_host, "127.0.0.1");
	CHECK_INT(pv->pv_up_port, 8443);
	CHECK_STR(pv->pv_up_prefix, "");
	CHECK_INT(pv->pv_up_trusted, 1);
	CHECK_INT(pv->pv_budget, 5000000);
	CHECK(strstr(pv->pv_where, "/t.conf:3") != NULL);

	CHECK((pv = config_provider_find(conf, "openai")) != NULL);
	CHECK_INT(pv->pv_type, 1);
	CHECK_STR(pv->pv_key, "sk-oa-2");
	CHECK_STR(pv->pv_up_host, "::1");
	CHECK_INT(pv->pv_up_port, 9000);
	CHECK_STR(pv->pv_up_prefix, "/v1");
	CHECK_INT(pv->pv_budget, 0);

	CHECK((pv = config_provider_find(conf, "google")) != NULL);
	CHECK_INT(pv->pv_type, 2);
	CHECK_STR(pv->pv_key, "AIza-3");
	CHECK(pv->pv_upstream == NULL);
	CHECK_STR(pv->pv_up_host, "generativelanguage.googleapis.com");
	CHECK_INT(pv->pv_up_port, 443);
	CHECK_STR(pv->pv_up_prefix, "");
	CHECK_INT(pv->pv_up_trusted, 0);

	CHECK((pv = config_provider_find(conf, "openrouter")) != NULL);
	CHECK_INT(pv->pv_type, 3);
	CHECK_STR(pv->pv_up_host, "gw.example.com");
	CHECK_INT(pv->pv_up_port, 443);
	CHECK_STR(pv->pv_up_prefix, "/a%2Fb/c");

	CHECK(config_provider_find(conf, "mistral") == NULL);
	CHECK(conf->sc_sandbox.sbc_providers != NULL);
	CHECK_STR(conf->sc_sandbox.sbc_providers[0], "google");
	CHECK_STR(conf->sc_sandbox.sbc_providers[1], "anthropic");
	CHECK(conf->sc_sandbox.sbc_providers[2] == NULL);

	CHECK((fp = open_memstream(&out, &outlen)) != NULL);
	config_print(fp, conf);
	fclose(fp);
	CHECK(strstr(out, "key-file") != NULL);
	CHECK(strstr(out, "sk-ant-1") == NULL);
	CHECK(strstr(out, "sk-oa-2") == NULL);
	CHECK(strstr(out, "AIza-3") == NULL);
	CHECK(strstr(out, "\nsandbox providers \"google\" \"anthropic\"\n") !=
	    NULL);
	ret = 0;
end:
	free(out);
	free(text);
	free(path);
	config_free(conf);
	json_decref(errors);
	if (dir != NULL)
		unit_rmtree(dir);
	free(dir);
	return (ret);
}

/*
 * The github block: the token read into locked memory, GitHub's hosts
 * without upstream lines, written ones split and trusted, and nothing
 * of the token in the printed form.
 */
static int
test_github(void)
{
	struct sbxd_config	*conf = NULL;
	struct github_conf	*gh;
	json_t			*errors = json_array();
	char			*dir = NULL, *path = NULL, *text = NULL;
	char			*out = NULL;
	size_t			 outlen;
	FILE			*fp;
	int			 ret = -1;

	if (geteuid() != 0) {
		printf("      (github skipped: token files must be root's)\n");
		ret = 0;
		goto end;
	}
	CHECK((dir = unit_tmpdir()) != NULL);
	CHECK(write_key(dir, "t", "github_pat_11AB\n") == 0);
	CHECK(asprintf(&text, "policy \"default\" { }\n"
	    "github {\n\ttoken-file \"%s/t\"\n}\n", dir) != -1);
	CHECK(asprintf(&path, "%s/t.conf", dir) != -1);
	CHECK(unit_write(path, text) == 0);
	CHECK((conf = parse_config(path, errors)) != NULL);
	gh = &conf->sc_github;
	CHECK_INT(gh->gh_on, 1);
	CHECK_STR(gh->gh_token, "github_pat_11AB");
	CHECK_INT(gh->gh_tokenlen, 15);
	CHECK_INT(gh->gh_tokensize, GITHUB_TOKEN_MAX + 1);
	CHECK(gh->gh_upstream == NULL);
	CHECK_STR(gh->gh_up_host, "github.com");
	CHECK_INT(gh->gh_up_port, 443);
	CHECK_STR(gh->gh_up_prefix, "");
	CHECK_INT(gh->gh_up_trusted, 0);
	CHECK(gh->gh_api_upstream == NULL);
	CHECK_STR(gh->gh_api_host, "api.github.com");
	CHECK_INT(gh->gh_api_port, 443);
	CHECK_STR(gh->gh_api_prefix, "");
	CHECK_INT(gh->gh_api_trusted, 0);
	CHECK(gh->gh_ca_pem == NULL);
	CHECK(strstr(gh->gh_where, "/t.conf:2") != NULL);
	config_free(conf);
	conf = NULL;

	free(text);
	CHECK(asprintf(&text, "policy \"default\" { }\n"
	    "github {\n\tupstream \"https://127.0.0.1:8443/gh/\"\n"
	    "\tapi-upstream \"https://[::1]:9443/api/v3\"\n"
	    "\ttoken-file \"%s/t\"\n}\n", dir) != -1);
	CHECK(unit_write(path, text) == 0);
	CHECK((conf = parse_config(path, errors)) != NULL);
	gh = &conf->sc_github;
	CHECK_STR(gh->gh_upstream, "https://127.0.0.1:8443/gh/");
	CHECK_STR(gh->gh_up_host, "127.0.0.1");
	CHECK_INT(gh->gh_up_port, 8443);
	CHECK_STR(gh->gh_up_prefix, "/gh");
	CHECK_INT(gh->gh_up_trusted, 1);
	CHECK_STR(gh->gh_api_upstream, "https://[::1]:9443/api/v3");
	CHECK_STR(gh->gh_api_host, "::1");
	CHECK_INT(gh->gh_api_port, 9443);
	CHECK_STR(gh->gh_api_prefix, "/api/v3");
	CHECK_INT(gh->gh_api_trusted, 1);

	CHECK((fp = open_memstream(&out, &outlen)) != NULL);
	config_print(fp, conf);
	fclose(fp);
	CHECK(strstr(out, "\ngithub {\n\ttoken-file ") != NULL);
	CHECK(strstr(out, "github_pat") == NULL);
	ret = 0;
end:
	free(out);
	free(text);
	free(path);
	config_free(conf);
	json_decref(errors);
	if (dir != NULL)
		unit_rmtree(dir);
	free(dir);
	return (ret);
}

/* An RSA (or, with ec, an EC) private key in PEM at dir/name, 0600. */
static int
write_pem_key(const char *dir, const char *name, int ec)
{
	EVP_PKEY	*pk;
	FILE		*fp;
	char		*path;
	int		 r = -1;

	if (asprintf(&path, "%s/%s", dir, name) == -1)
		return (-1);
	pk = ec ? EVP_EC_gen("P-256") : EVP_RSA_gen(2048);
	if (pk != NULL && (fp = fopen(path, "w")) != NULL) {
		if (PEM_write_PrivateKey(fp, pk, NULL, NULL, 0, NULL,
		    NULL) == 1)
			r = 0;
		if (fclose(fp) == EOF || chmod(path, 0600) == -1)
			r = -1;
	}
	EVP_PKEY_free(pk);
	free(path);
	return (r);
}

/* A config of text at path: NULL, and the first error in *err, or it. */
static struct sbxd_config *
parse_at(const char *path, const char *text, char *err, size_t errlen)
{
	struct sbxd_config	*conf;
	json_t			*errors = json_array();

	err[0] = '\0';
	if (unit_write(path, text) != 0)
		return (NULL);
	conf = parse_config(path, errors);
	if (json_array_size(errors) > 0)
		snprintf(err, errlen, "%s",
		    json_string_value(json_array_get(errors, 0)));
	json_decref(errors);
	return (conf);
}

/*
 * A GitHub App instead of a token: the key read and checked (RSA in PEM,
 * root-only), the three lines needed together, never with a token-file,
 * and the printed form without the key.
 */
static int
test_github_app(void)
{
	struct sbxd_config	*conf = NULL;
	struct github_conf	*gh;
	char			*dir = NULL, *path = NULL, *text = NULL;
	char			*out = NULL, err[512];
	size_t			 outlen;
	FILE			*fp;
	int			 ret = -1;

	if (geteuid() != 0) {
		printf("      (github_app skipped: key files must be "
		    "root's)\n");
		ret = 0;
		goto end;
	}
	CHECK((dir = unit_tmpdir()) != NULL);
	CHECK(write_pem_key(dir, "app.pem", 0) == 0);
	CHECK(write_pem_key(dir, "ec.pem", 1) == 0);
	CHECK(write_key(dir, "junk", "not a key\n") == 0);
	CHECK(write_key(dir, "t", "github_pat_11AB\n") == 0);
	CHECK(asprintf(&path, "%s/a.conf", dir) != -1);

	CHECK(asprintf(&text, "policy \"default\" { }\ngithub {\n"
	    "\tapp-id 12345\n\tinstallation-id 678\n"
	    "\tapp-key-file \"%s/app.pem\"\n}\n", dir) != -1);
	CHECK((conf = parse_at(path, text, err, sizeof(err))) != NULL);
	gh = &conf->sc_github;
	CHECK_INT(gh->gh_app_id, 12345);
	CHECK_INT(gh->gh_installation_id, 678);
	CHECK(gh->gh_token == NULL);
	CHECK(gh->gh_app_key != NULL);
	CHECK(strncmp(gh->gh_app_key, "-----BEGIN PRIVATE KEY-----", 27) ==
	    0);
	CHECK_INT(strlen(gh->gh_app_key), gh->gh_app_keylen);
	CHECK((fp = open_memstream(&out, &outlen)) != NULL);
	config_print(fp, conf);
	fclose(fp);
	CHECK(strstr(out, "\tapp-id 12345\n\tinstallation-id 678\n"
	    "\tapp-key-file ") != NULL);
	CHECK(strstr(out, "PRIVATE KEY") == NULL);
	config_free(conf);
	conf = NULL;

	free(text);
	CHECK(asprintf(&text, "policy \"default\" { }\ngithub {\n"
	    "\ttoken-file \"%s/t\"\n\tapp-id 1\n\tinstallation-id 2\n"
	    "\tapp-key-file \"%s/app.pem\"\n}\n", dir, dir) != -1);
	CHECK((conf = parse_at(path, text, err, sizeof(err))) == NULL);
	CHECK(strstr(err, "a.conf:7: github: token-file or a GitHub App") !=
	    NULL);

	free(text);
	CHECK(asprintf(&text, "policy \"default\" { }\ngithub {\n"
	    "\tapp-id 1\n\tapp-key-file \"%s/app.pem\"\n}\n", dir) != -1);
	CHECK((conf = parse_at(path, text, err, sizeof(err))) == NULL);
	CHECK(strstr(err, "a.conf:5: github: a GitHub App needs app-id, "
	    "app-key-file and installation-id") != NULL);

	free(text);
	CHECK(asprintf(&text, "policy \"default\" { }\ngithub {\n"
	    "\tapp-id 1\n\tinstallation-id 2\n"
	    "\tapp-key-file \"%s/junk\"\n}\n", dir) != -1);
	CHECK((conf = parse_at(path, text, err, sizeof(err))) == NULL);
	CHECK(strstr(err, "a.conf:5: github app-key-file") != NULL);
	CHECK(strstr(err, "no RSA private key in PEM") != NULL);

	free(text);
	CHECK(asprintf(&text, "policy \"default\" { }\ngithub {\n"
	    "\tapp-id 1\n\tinstallation-id 2\n"
	    "\tapp-key-file \"%s/ec.pem\"\n}\n", dir) != -1);
	CHECK((conf = parse_at(path, text, err, sizeof(err))) == NULL);
	CHECK(strstr(err, "no RSA private key in PEM") != NULL);

	free(text);
	CHECK(asprintf(&text, "policy \"default\" { }\ngithub {\n"
	    "\tapp-id 0\n}\n") != -1);
	CHECK((conf = parse_at(path, text, err, sizeof(err))) == NULL);
	CHECK(strstr(err, "a.conf:3: github app-id 0: a positive number") !=
	    NULL);
	ret = 0;
end:
	free(out);
	free(text);
	free(path);
	config_free(conf);
	if (dir != NULL)
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
	{ "providers", test_providers },
	{ "github", test_github },
	{ "github_app", test_github_app },
	{ "loglevel", test_loglevel },
};

UNIT_MAIN("config", tests)
