/*
 * config.c: create, free and print the config tree that parse.y builds.
 * config_print writes the canonical form: every setting, defaults
 * included, in an order that parses back to the same tree.  The checks
 * of names and paths the grammar allows live here too, so that the
 * parser and the components that use them agree.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "config.h"
#include "log.h"
#include "sbxd.h"

static const struct {
	const char	*name;
	int		 level;
} config_loglevels[] = {
	{ "warning",	LOG_WARNING },
	{ "info",	LOG_INFO },
	{ "debug",	LOG_DEBUG },
};

static void	config_print_policy(FILE *, struct policy *);
static void	config_print_proxy(FILE *, struct proxy_conf *);
static void	config_print_pfmon(FILE *, struct pfmon_conf *);
static void	config_print_sandbox(FILE *, struct sandbox_conf *);
static void	config_print_limits(FILE *, struct sandbox_conf *);
static void	config_print_agent(FILE *, const struct agent_conf *);
static void	config_print_bot(FILE *, const struct bot_conf *);
static void	config_print_provider(FILE *, const struct provider_conf *);
static void	config_print_github(FILE *, const struct github_conf *);
static void	config_free_words(char **);
static void	config_print_words(FILE *, char *const *);

/* Size suffixes, each 1024 times the one before. */
static const char	 config_size_units[] = "KMGT";

/* A config holding only the defaults; NULL if memory ran out. */
struct sbxd_config *
config_new(void)
{
	struct sbxd_config	*conf;

	if ((conf = calloc(1, sizeof(*conf))) == NULL)
		return (NULL);
	TAILQ_INIT(&conf->sc_nameservers);
	TAILQ_INIT(&conf->sc_policies);
	TAILQ_INIT(&conf->sc_listens);
	TAILQ_INIT(&conf->sc_agents);
	TAILQ_INIT(&conf->sc_providers);
	conf->sc_loglevel = SBXD_LOGLEVEL;
	conf->sc_proxy.pc_timeout_connect = PROXY_TIMEOUT_CONNECT;
	conf->sc_proxy.pc_timeout_header = PROXY_TIMEOUT_HEADER;
	conf->sc_proxy.pc_timeout_idle = PROXY_TIMEOUT_IDLE;
	conf->sc_proxy.pc_max_sessions = PROXY_MAX_SESSIONS;
	conf->sc_proxy.pc_buffer = PROXY_BUFFER;
	conf->sc_proxy.pc_splice = 1;
	conf->sc_pfmon.pm_buffer = PFMON_BUFFER;
	conf->sc_pfmon.pm_window = PFMON_WINDOW;
	conf->sc_pfmon.pm_limit = PFMON_LIMIT;
	conf->sc_pfmon.pm_nflog_group = -1;
	conf->sc_sandbox.sbc_uid_min = SANDBOX_UID_FIRST;
	conf->sc_sandbox.sbc_uid_max = SANDBOX_UID_LAST;
	conf->sc_sandbox.sbc_port_min = SANDBOX_PORT_FIRST;
	conf->sc_sandbox.sbc_port_max = SANDBOX_PORT_LAST;
	conf->sc_sandbox.sbc_limits = SANDBOX_LIMITS_DEFAULT;
	conf->sc_sandbox.sbc_memory = SANDBOX_MEMORY;
	conf->sc_sandbox.sbc_processes = SANDBOX_PROCESSES;
	conf->sc_sandbox.sbc_cpu_weight = SANDBOX_CPU_WEIGHT;
	conf->sc_sandbox.sbc_max_sessions = SANDBOX_MAX_SESSIONS;
#ifdef __APPLE__
	conf->sc_sandbox.sbc_firewall = SANDBOX_FW_PF;
#else
	conf->sc_sandbox.sbc_firewall = SANDBOX_FW_NFTABLES;
#endif
	if ((conf->sc_state = strdup(SBXD_STATE)) == NULL ||
	    (conf->sc_socket = strdup(SBXD_SOCKET)) == NULL ||
	    (conf->sc_pidfile = strdup(SBXD_PIDFILE)) == NULL ||
	    (conf->sc_user = strdup(PRIV_USER)) == NULL ||
	    (conf->sc_sandbox.sbc_home = strdup(SANDBOX_HOME)) == NULL ||
	    (conf->sc_sandbox.sbc_shell = strdup(SANDBOX_SHELL)) == NULL ||
	    (conf->sc_sandbox.sbc_policy = strdup("default")) == NULL ||
	    (conf->sc_sandbox.sbc_fw_table = strdup(SANDBOX_FW_TABLE)) ==
	    NULL ||
	    (conf->sc_sandbox.sbc_fw_anchor = strdup(SANDBOX_FW_ANCHOR)) ==
	    NULL ||
	    (conf->sc_sandbox.sbc_cgroup = strdup(SANDBOX_CGROUP)) == NULL) {
		config_free(conf);
		return (NULL);
	}
	return (conf);
}

/* Free conf and everything it holds; NULL is fine. */
void
config_free(struct sbxd_config *conf)
{
	struct sbxd_nameserver	*ns;
	struct policy		*pol;
	struct proxy_listen	*pl;
	struct agent_conf	*ac;
	struct provider_conf	*pv;

	if (conf == NULL)
		return;
	while ((ac = TAILQ_FIRST(&conf->sc_agents)) != NULL) {
		TAILQ_REMOVE(&conf->sc_agents, ac, ac_entry);
		config_agent_free(ac);
	}
	while ((pv = TAILQ_FIRST(&conf->sc_providers)) != NULL) {
		TAILQ_REMOVE(&conf->sc_providers, pv, pv_entry);
		config_provider_free(pv);
	}
	while ((ns = TAILQ_FIRST(&conf->sc_nameservers)) != NULL) {
		TAILQ_REMOVE(&conf->sc_nameservers, ns, ns_entry);
		free(ns);
	}
	while ((pl = TAILQ_FIRST(&conf->sc_listens)) != NULL) {
		TAILQ_REMOVE(&conf->sc_listens, pl, pl_entry);
		free(pl);
	}
	while ((pol = TAILQ_FIRST(&conf->sc_policies)) != NULL) {
		TAILQ_REMOVE(&conf->sc_policies, pol, pol_entry);
		config_policy_free(pol);
	}
	free(conf->sc_state);
	free(conf->sc_socket);
	free(conf->sc_pidfile);
	free(conf->sc_user);
	free(conf->sc_group);
	free(conf->sc_hostsfile);
	free(conf->sc_proxy.pc_accesslog);
	free(conf->sc_pfmon.pm_interface);
	free(conf->sc_sandbox.sbc_home);
	free(conf->sc_sandbox.sbc_shell);
	free(conf->sc_sandbox.sbc_ca_file);
	free(conf->sc_sandbox.sbc_ca_pem);
	free(conf->sc_sandbox.sbc_policy);
	free(conf->sc_sandbox.sbc_fw_table);
	free(conf->sc_sandbox.sbc_fw_anchor);
	free(conf->sc_sandbox.sbc_cgroup);
	free(conf->sc_sandbox.sbc_agent);
	config_free_words(conf->sc_sandbox.sbc_providers);
	config_bot_clear(&conf->sc_bot);
	config_github_clear(&conf->sc_github);
	free(conf);
}

static const char	*config_agent_types[] = {
	"claude-code", "codex", "opencode", "gemini", "command"
};

/* The config word of an agent type. */
const char *
config_agent_type_name(enum agent_type type)
{
	return (config_agent_types[type]);
}

/* The agent type a word names, or -1. */
int
config_agent_type_parse(const char *s)
{
	size_t	 i;

	for (i = 0; i < nitems(config_agent_types); i++)
		if (strcmp(config_agent_types[i], s) == 0)
			return ((int)i);
	return (-1);
}

static void
config_argv_free(char **av)
{
	size_t	 i;

	for (i = 0; av != NULL && av[i] != NULL; i++)
		free(av[i]);
	free(av);
}

/* Free an agent that is in no config. */
void
config_agent_free(struct agent_conf *ac)
{
	struct agent_mode	*am;

	while ((am = TAILQ_FIRST(&ac->ac_modes)) != NULL) {
		TAILQ_REMOVE(&ac->ac_modes, am, am_entry);
		free(am->am_name);
		config_argv_free(am->am_args);
		free(am);
	}
	free(ac->ac_name);
	free(ac->ac_path);
	config_argv_free(ac->ac_args);
	config_argv_free(ac->ac_env);
	free(ac);
}

/* The agent called name, or NULL. */
struct agent_conf *
config_agent_find(const struct sbxd_config *conf, const char *name)
{
	struct agent_conf	*ac;

	if (name == NULL)
		return (NULL);
	TAILQ_FOREACH(ac, &conf->sc_agents, ac_entry)
		if (strcmp(ac->ac_name, name) == 0)
			return (ac);
	return (NULL);
}

/* The mode of ac called name (NULL: the default, the first), or NULL. */
const struct agent_mode *
config_agent_mode(const struct agent_conf *ac, const char *name)
{
	const struct agent_mode	*am;

	if (name == NULL)
		return (TAILQ_FIRST(&ac->ac_modes));
	TAILQ_FOREACH(am, &ac->ac_modes, am_entry)
		if (strcmp(am->am_name, name) == 0)
			return (am);
	return (NULL);
}

/* Free a provider that is in no config, its key wiped first. */
void
config_provider_free(struct provider_conf *pv)
{
	if (pv == NULL)
		return;
	util_secret_free(pv->pv_key, pv->pv_keysize);
	free(pv->pv_name);
	free(pv->pv_keyfile);
	free(pv->pv_upstream);
	free(pv->pv_up_host);
	free(pv->pv_up_prefix);
	free(pv->pv_cafile);
	free(pv->pv_ca_pem);
	free(pv);
}

/* The provider called name, or NULL. */
struct provider_conf *
config_provider_find(const struct sbxd_config *conf, const char *name)
{
	struct provider_conf	*pv;

	if (name == NULL)
		return (NULL);
	TAILQ_FOREACH(pv, &conf->sc_providers, pv_entry)
		if (strcmp(pv->pv_name, name) == 0)
			return (pv);
	return (NULL);
}

/* Free a policy that is in no config. */
void
config_policy_free(struct policy *pol)
{
	policy_body_free(&pol->pol_body);
	free(pol->pol_name);
	free(pol);
}

/* The policy called name, or NULL. */
struct policy *
config_policy_find(struct sbxd_config *conf, const char *name)
{
	struct policy	*pol;

	TAILQ_FOREACH(pol, &conf->sc_policies, pol_entry)
		if (strcmp(pol->pol_name, name) == 0)
			return (pol);
	return (NULL);
}

/* The config keyword for a syslog level. */
const char *
config_loglevel_name(int level)
{
	size_t	 i;

	for (i = 0; i < sizeof(config_loglevels) /
	    sizeof(config_loglevels[0]); i++)
		if (config_loglevels[i].level == level)
			return (config_loglevels[i].name);
	return ("debug");
}

/* level raised by steps (each -v): warning, info, debug. */
int
config_loglevel_raise(int level, int steps)
{
	size_t	 i, n = sizeof(config_loglevels) / sizeof(config_loglevels[0]);

	for (i = 0; i < n; i++)
		if (config_loglevels[i].level == level)
			break;
	if (i == n)
		return (LOG_DEBUG);
	i += steps;
	return (config_loglevels[i < n ? i : n - 1].level);
}

/* The syslog level for a config keyword, or -1. */
int
config_loglevel_parse(const char *name)
{
	size_t	 i;

	for (i = 0; i < sizeof(config_loglevels) /
	    sizeof(config_loglevels[0]); i++)
		if (strcmp(config_loglevels[i].name, name) == 0)
			return (config_loglevels[i].level);
	return (-1);
}

/* s as a quoted string the lexer reads back unchanged. */
void
config_print_string(FILE *fp, const char *s)
{
	fputc('"', fp);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', fp);
		fputc(*s, fp);
	}
	fputc('"', fp);
}

static void
config_print_policy(FILE *fp, struct policy *pol)
{
	struct policy_body	*pb = &pol->pol_body;
	int			 i;

	fprintf(fp, "policy ");
	config_print_string(fp, pol->pol_name);
	fprintf(fp, " {\n\tdefault %s\n\tports",
	    pb->pb_default == POLICY_ALLOW ? "allow" : "block");
	for (i = 0; i < pb->pb_nports; i++)
		fprintf(fp, " %u", pb->pb_ports[i]);
	fprintf(fp, "\n\tloopback %s\n\tprivate %s\n\tsni check %s\n",
	    pb->pb_loopback ? "yes" : "no", pb->pb_private ? "yes" : "no",
	    pb->pb_sni_check ? "yes" : "no");
	if (pb->pb_ask != 0)
		fprintf(fp, "\task %ds once %ds\n", pb->pb_ask,
		    pb->pb_ask_once);
	policy_rules_print(fp, &pb->pb_rules);
	fprintf(fp, "}\n");
}

static void
config_print_proxy(FILE *fp, struct proxy_conf *pc)
{
	fprintf(fp, "proxy timeout connect %d\n", pc->pc_timeout_connect);
	fprintf(fp, "proxy timeout header %d\n", pc->pc_timeout_header);
	fprintf(fp, "proxy timeout idle %d\n", pc->pc_timeout_idle);
	fprintf(fp, "proxy max sessions %d\n", pc->pc_max_sessions);
	fprintf(fp, "proxy buffer %zu\n", pc->pc_buffer);
	fprintf(fp, "proxy splice %s\n", pc->pc_splice ? "yes" : "no");
	if (pc->pc_accesslog != NULL) {
		fprintf(fp, "proxy access log ");
		config_print_string(fp, pc->pc_accesslog);
		fputc('\n', fp);
	}
}

/* Print conf in canonical form. */
void
config_print(FILE *fp, struct sbxd_config *conf)
{
	struct sbxd_nameserver	*ns;
	struct policy		*pol;
	struct proxy_listen	*pl;
	struct agent_conf	*ac;
	struct provider_conf	*pv;
	char			 buf[128];

	fprintf(fp, "state ");
	config_print_string(fp, conf->sc_state);
	fprintf(fp, "\npidfile ");
	config_print_string(fp, conf->sc_pidfile);
	fprintf(fp, "\nuser ");
	config_print_string(fp, conf->sc_user);
	fprintf(fp, "\ncontrol socket ");
	config_print_string(fp, conf->sc_socket);
	fputc('\n', fp);
	if (conf->sc_group != NULL) {
		fprintf(fp, "control group ");
		config_print_string(fp, conf->sc_group);
		fputc('\n', fp);
	}
	fprintf(fp, "log level %s\n", config_loglevel_name(conf->sc_loglevel));
	if (conf->sc_hostsfile != NULL) {
		fprintf(fp, "resolver hosts-file ");
		config_print_string(fp, conf->sc_hostsfile);
		fputc('\n', fp);
	}
	TAILQ_FOREACH(ns, &conf->sc_nameservers, ns_entry)
		fprintf(fp, "resolver nameserver %s port %u\n",
		    util_addr_str((struct sockaddr *)&ns->ns_ss, buf,
		    sizeof(buf)),
		    util_sockaddr_port((struct sockaddr *)&ns->ns_ss));
	TAILQ_FOREACH(pol, &conf->sc_policies, pol_entry) {
		fputc('\n', fp);
		config_print_policy(fp, pol);
	}
	fputc('\n', fp);
	config_print_proxy(fp, &conf->sc_proxy);
	TAILQ_FOREACH(pl, &conf->sc_listens, pl_entry) {
		fprintf(fp, "proxy listen on %s port %u policy ",
		    util_addr_str((struct sockaddr *)&pl->pl_ss, buf,
		    sizeof(buf)),
		    util_sockaddr_port((struct sockaddr *)&pl->pl_ss));
		config_print_string(fp, pl->pl_policy->pol_name);
		if (pl->pl_max_sessions > 0)
			fprintf(fp, " max sessions %d", pl->pl_max_sessions);
		fputc('\n', fp);
	}
	config_print_pfmon(fp, &conf->sc_pfmon);
	/* Agents before the sandbox agent line that names one. */
	TAILQ_FOREACH(ac, &conf->sc_agents, ac_entry)
		config_print_agent(fp, ac);
	TAILQ_FOREACH(pv, &conf->sc_providers, pv_entry)
		config_print_provider(fp, pv);
	config_print_github(fp, &conf->sc_github);
	config_print_sandbox(fp, &conf->sc_sandbox);
	config_print_bot(fp, &conf->sc_bot);
}

/* The bot block; never the key, only where it is. */
static void
config_print_bot(FILE *fp, const struct bot_conf *bc)
{
	if (!bc->bc_on)
		return;
	fprintf(fp, "\nbot zulip {\n\tsite ");
	config_print_string(fp, bc->bc_site);
	fprintf(fp, "\n\temail ");
	config_print_string(fp, bc->bc_email);
	fprintf(fp, "\n\tkey-file ");
	config_print_string(fp, bc->bc_keyfile);
	fprintf(fp, "\n\tstream ");
	config_print_string(fp, bc->bc_stream);
	fprintf(fp, "\n\tadmins");
	config_print_words(fp, bc->bc_admins);
	fputc('\n', fp);
	if (bc->bc_users != NULL) {
		fprintf(fp, "\tusers");
		config_print_words(fp, bc->bc_users);
		fputc('\n', fp);
	}
	if (bc->bc_cafile != NULL) {
		fprintf(fp, "\tca-file ");
		config_print_string(fp, bc->bc_cafile);
		fputc('\n', fp);
	}
	fprintf(fp, "}\n");
}

/* A provider block; never the key, only where it is. */
static void
config_print_provider(FILE *fp, const struct provider_conf *pv)
{
	fprintf(fp, "\nprovider ");
	config_print_string(fp, pv->pv_name);
	fprintf(fp, " {\n\tkey-file ");
	config_print_string(fp, pv->pv_keyfile);
	fputc('\n', fp);
	if (pv->pv_upstream != NULL) {
		fprintf(fp, "\tupstream ");
		config_print_string(fp, pv->pv_upstream);
		fputc('\n', fp);
	}
	if (pv->pv_cafile != NULL) {
		fprintf(fp, "\tca-file ");
		config_print_string(fp, pv->pv_cafile);
		fputc('\n', fp);
	}
	if (pv->pv_budget != 0)
		fprintf(fp, "\tbudget %lld tokens per day\n",
		    (long long)pv->pv_budget);
	fprintf(fp, "}\n");
}

/* The github block; never the token, only where it is. */
static void
config_print_github(FILE *fp, const struct github_conf *gh)
{
	if (!gh->gh_on)
		return;
	fprintf(fp, "\ngithub {\n");
	if (gh->gh_tokenfile != NULL) {
		fprintf(fp, "\ttoken-file ");
		config_print_string(fp, gh->gh_tokenfile);
		fputc('\n', fp);
	} else {
		fprintf(fp, "\tapp-id %lld\n\tinstallation-id %lld\n"
		    "\tapp-key-file ", (long long)gh->gh_app_id,
		    (long long)gh->gh_installation_id);
		config_print_string(fp, gh->gh_app_keyfile);
		fputc('\n', fp);
	}
	if (gh->gh_upstream != NULL) {
		fprintf(fp, "\tupstream ");
		config_print_string(fp, gh->gh_upstream);
		fputc('\n', fp);
	}
	if (gh->gh_api_upstream != NULL) {
		fprintf(fp, "\tapi-upstream ");
		config_print_string(fp, gh->gh_api_upstream);
		fputc('\n', fp);
	}
	if (gh->gh_cafile != NULL) {
		fprintf(fp, "\tca-file ");
		config_print_string(fp, gh->gh_cafile);
		fputc('\n', fp);
	}
	fprintf(fp, "}\n");
}

/* Free what a github block holds, the token wiped first, and zero it. */
void
config_github_clear(struct github_conf *gh)
{
	util_secret_free(gh->gh_token, gh->gh_tokensize);
	util_secret_free(gh->gh_app_key, gh->gh_app_keysize);
	free(gh->gh_app_keyfile);
	free(gh->gh_tokenfile);
	free(gh->gh_upstream);
	free(gh->gh_up_host);
	free(gh->gh_up_prefix);
	free(gh->gh_api_upstream);
	free(gh->gh_api_host);
	free(gh->gh_api_prefix);
	free(gh->gh_cafile);
	free(gh->gh_ca_pem);
	memset(gh, 0, sizeof(*gh));
}

/* Free what a bot block holds, the key wiped first, and zero it. */
void
config_bot_clear(struct bot_conf *bc)
{
	free(bc->bc_site);
	free(bc->bc_email);
	free(bc->bc_keyfile);
	if (bc->bc_key != NULL) {
		explicit_bzero(bc->bc_key, strlen(bc->bc_key));
		free(bc->bc_key);
	}
	free(bc->bc_stream);
	config_free_words(bc->bc_admins);
	config_free_words(bc->bc_users);
	free(bc->bc_cafile);
	free(bc->bc_ca_pem);
	memset(bc, 0, sizeof(*bc));
}

static void
config_free_words(char **av)
{
	char	**p;

	for (p = av; p != NULL && *p != NULL; p++)
		free(*p);
	free(av);
}

static void
config_print_words(FILE *fp, char *const *av)
{
	for (; av != NULL && *av != NULL; av++) {
		fputc(' ', fp);
		config_print_string(fp, *av);
	}
}

/* An agent block. */
static void
config_print_agent(FILE *fp, const struct agent_conf *ac)
{
	const struct agent_mode	*am;
	char *const		*e;
	const char		*eq;

	fprintf(fp, "\nagent ");
	config_print_string(fp, ac->ac_name);
	fprintf(fp, " {\n\ttype %s\n\tpath ",
	    config_agent_type_name(ac->ac_type));
	config_print_string(fp, ac->ac_path);
	fputc('\n', fp);
	if (ac->ac_args != NULL && ac->ac_args[0] != NULL) {
		fprintf(fp, "\targs");
		config_print_words(fp, ac->ac_args);
		fputc('\n', fp);
	}
	for (e = ac->ac_env; e != NULL && *e != NULL; e++) {
		eq = strchr(*e, '=');
		fprintf(fp, "\tenv \"%.*s\" ", (int)(eq - *e), *e);
		config_print_string(fp, eq + 1);
		fputc('\n', fp);
	}
	TAILQ_FOREACH(am, &ac->ac_modes, am_entry) {
		fprintf(fp, "\tmode ");
		config_print_string(fp, am->am_name);
		if (am->am_args != NULL && am->am_args[0] != NULL) {
			fprintf(fp, " args");
			config_print_words(fp, am->am_args);
		}
		fputc('\n', fp);
	}
	fprintf(fp, "\ttimeout %d\n\tqueue %d\n}\n", ac->ac_timeout,
	    ac->ac_queue);
}

/* pfmon lines, when it is on. */
static void
config_print_pfmon(FILE *fp, struct pfmon_conf *pm)
{
	if (pm->pm_interface == NULL)
		return;
	fprintf(fp, "\npfmon interface ");
	config_print_string(fp, pm->pm_interface);
	fprintf(fp, "\npfmon buffer %d\npfmon window %d\npfmon limit %d\n",
	    pm->pm_buffer, pm->pm_window, pm->pm_limit);
}

/* sandbox lines, when the module is on. */
static void
config_print_sandbox(FILE *fp, struct sandbox_conf *sbc)
{
	if (!sbc->sbc_enabled)
		return;
	fprintf(fp, "\nsandbox uid-range %u %u\n", (unsigned)sbc->sbc_uid_min,
	    (unsigned)sbc->sbc_uid_max);
	fprintf(fp, "sandbox port-range %u %u\nsandbox home ",
	    sbc->sbc_port_min, sbc->sbc_port_max);
	config_print_string(fp, sbc->sbc_home);
	fprintf(fp, "\nsandbox shell ");
	config_print_string(fp, sbc->sbc_shell);
	if (sbc->sbc_ca_file != NULL) {
		fprintf(fp, "\nsandbox ca-file ");
		config_print_string(fp, sbc->sbc_ca_file);
	}
	fprintf(fp, "\nsandbox policy ");
	config_print_string(fp, sbc->sbc_policy);
	if (sbc->sbc_agent != NULL) {
		fprintf(fp, "\nsandbox agent ");
		config_print_string(fp, sbc->sbc_agent);
	}
	if (sbc->sbc_providers != NULL) {
		fprintf(fp, "\nsandbox providers");
		config_print_words(fp, sbc->sbc_providers);
	}
	if (sbc->sbc_firewall == SANDBOX_FW_NFTABLES) {
		fprintf(fp, "\nsandbox firewall nftables table ");
		config_print_string(fp, sbc->sbc_fw_table);
	} else {
		fprintf(fp, "\nsandbox firewall pf anchor ");
		config_print_string(fp, sbc->sbc_fw_anchor);
	}
	fprintf(fp, "\nsandbox cgroup ");
	config_print_string(fp, sbc->sbc_cgroup);
	fprintf(fp, "\nsandbox max sessions %d\n", sbc->sbc_max_sessions);
	config_print_limits(fp, sbc);
}

/*
 * The limits line.  Defaults print as a comment: a line, even one that
 * repeats them, makes them required, and sbxd then does not start on a
 * host that cannot apply them.
 */
static void
config_print_limits(FILE *fp, struct sandbox_conf *sbc)
{
	char	 size[32];

	if (sbc->sbc_limits == SANDBOX_LIMITS_OFF) {
		fprintf(fp, "sandbox limits off\n");
		return;
	}
	if (sbc->sbc_limits == SANDBOX_LIMITS_DEFAULT)
		fprintf(fp, "# default, applied where the host has cgroups:\n# ");
	fprintf(fp, "sandbox limits memory %s",
	    config_size_str(sbc->sbc_memory, size, sizeof(size)));
	if (sbc->sbc_processes == 0)
		fprintf(fp, " processes none");
	else
		fprintf(fp, " processes %d", sbc->sbc_processes);
	fprintf(fp, " cpu-weight %d\n", sbc->sbc_cpu_weight);
}

/*
 * A size: a number of bytes, or of K, M, G or T (1024 to the power 1 to
 * 4, either case).  -1 if it is not one, or does not fit.
 */
int
config_size_parse(const char *s, uint64_t *bytes)
{
	const char	*u;
	uint64_t	 n = 0;
	int		 shift = 0;

	if (!isdigit((unsigned char)*s))
		return (-1);
	for (; isdigit((unsigned char)*s); s++) {
		if (n > (UINT64_MAX - 9) / 10)
			return (-1);
		n = n * 10 + (*s - '0');
	}
	if (*s != '\0') {
		if ((u = strchr(config_size_units,
		    toupper((unsigned char)*s))) == NULL || s[1] != '\0')
			return (-1);
		shift = 10 * (u - config_size_units + 1);
	}
	if (shift > 0 && n > (UINT64_MAX >> shift))
		return (-1);
	*bytes = n << shift;
	return (0);
}

/* A size in the largest unit that holds it exactly; 0 is "none". */
const char *
config_size_str(uint64_t bytes, char *buf, size_t len)
{
	int	 i = -1;

	if (bytes == 0) {
		snprintf(buf, len, "none");
		return (buf);
	}
	while (i + 1 < (int)sizeof(config_size_units) - 1 &&
	    (bytes & 1023) == 0) {
		bytes >>= 10;
		i++;
	}
	if (i < 0)
		snprintf(buf, len, "%llu", (unsigned long long)bytes);
	else
		snprintf(buf, len, "%llu%c", (unsigned long long)bytes,
		    config_size_units[i]);
	return (buf);
}

/*
 * A cgroup path from the root of the hierarchy: absolute, not the root
 * itself, parts of letters, digits, '_', '.', '-' and '@', none empty,
 * "." or "..".  The parser checks sandbox cgroup with it.
 */
int
config_cgroup_ok(const char *path)
{
	const char	*c;
	size_t		 n;

	if (path == NULL || path[0] != '/' || path[1] == '\0' ||
	    strlen(path) > SANDBOX_CGROUP_MAX)
		return (0);
	for (c = path + 1; *c != '\0'; c++)
		if (!isalnum((unsigned char)*c) && strchr("_.-@/", *c) == NULL)
			return (0);
	for (c = path + 1; ; c += n + 1) {
		n = strcspn(c, "/");
		if (n == 0 || (n == 1 && c[0] == '.') ||
		    (n == 2 && c[0] == '.' && c[1] == '.'))
			return (0);
		if (c[n] == '\0')
			return (1);
	}
}

/*
 * The table name goes into nft's input: a letter, then letters, digits
 * and '_'.  The parser checks sandbox firewall
 * lines with it; fw_nft.c checks it again.
 */
int
config_fw_table_ok(const char *table)
{
	const char	*p;

	if (table == NULL || !isalpha((unsigned char)*table) ||
	    strlen(table) > SANDBOX_FW_TABLE_MAX)
		return (0);
	for (p = table; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '_')
			return (0);
	return (1);
}

/*
 * An anchor path pfctl takes as given: components of [A-Za-z0-9_.-],
 * none empty, "." or "..", none starting with '_' (reserved by pfctl).
 * The parser checks sandbox firewall
 * lines with it; fw_pf.c checks it again.
 */
int
config_fw_anchor_ok(const char *a)
{
	const char	*c;
	size_t		 n;

	if (a == NULL || *a == '\0' || strlen(a) > SANDBOX_FW_ANCHOR_MAX)
		return (0);
	for (c = a; *c != '\0'; c++)
		if (!isalnum((unsigned char)*c) && strchr("_.-/", *c) == NULL)
			return (0);
	for (c = a; ; c += n + 1) {
		n = strcspn(c, "/");
		if (n == 0 || *c == '_' || (n == 1 && c[0] == '.') ||
		    (n == 2 && c[0] == '.' && c[1] == '.'))
			return (0);
		if (c[n] == '\0')
			return (1);
	}
}

/*
 * Absolute, not "/", no "." or ".." component, no empty component, and
 * nothing passwd or a shell would split on.  The parser checks sandbox
 * home and shell with it; sandbox_user.c checks them again.
 */
int
config_path_ok(const char *path)
{
	const char	*p, *c;
	size_t		 n;

	if (path == NULL || path[0] != '/' || path[1] == '\0' ||
	    strlen(path) >= SBXD_PATH_MAX)
		return (0);
	for (p = path; *p != '\0'; p++)
		if (*p < 0x21 || *p > 0x7e || *p == ':' || *p == '\\')
			return (0);
	for (c = path + 1; *c != '\0'; c += n + (c[n] == '/')) {
		n = strcspn(c, "/");
		if (n == 0 || (n == 1 && c[0] == '.') ||
		    (n == 2 && c[0] == '.' && c[1] == '.'))
			return (0);
	}
	return (path[strlen(path) - 1] != '/');
}
