/*
 * sandbox.c: the sandbox module.  It keeps the list of sandboxes, brings
 * every one back on start (its cgroup, firewall rules, then the
 * listener) and answers list, show, exec, network and doctor.  Creating
 * and removing live in sandbox_life.c, the limits in sandbox_cgroup.c.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "config.h"
#include "log.h"
#include "sbxd.h"
#include "sandbox.h"

struct sandboxlist		 sandboxes = TAILQ_HEAD_INITIALIZER(sandboxes);
static int			 sandbox_on;
static int			 sandbox_noroot;	/* configured, but sbxd
							   is not root */
static const struct fw_backend	*sandbox_backend;
static struct fw_conf		 sandbox_fwc;
static char			*sandbox_fw_name;	/* table or anchor */
static int			 sandbox_fw_ready;	/* base loaded */
static char			 sandbox_fw_error[256];
static struct sandbox_ask	*sandbox_fw_proc;	/* loading the base */

/* A network or doctor request waiting on the firewall listing. */
struct sandbox_check {
	struct control_req		*ck_req;
	int				 ck_doctor;
	char				*ck_name;	/* NULL: all */
};

static int	sandbox_init(struct sbxd_config *);
static int	sandbox_reload(struct sbxd_config *, json_t *);
static int	sandbox_check_conf(struct sbxd_config *, json_t *);
static int	sandbox_ports_private(const struct sandbox_conf *, json_t *);
static void	sandbox_shutdown(void);
static json_t	*sandbox_status(void);
static const char *sandbox_uid_name(uid_t);
static void	sandbox_resume(void);
static struct sandbox *sandbox_from_row(json_t *);
static void	sandbox_fw_initcb(int, const char *, const char *, void *);
static void	sandbox_restore(struct sandbox *);
static void	sandbox_restorecb(int, const char *, const char *, void *);
static int	sandbox_orphans(const struct sandbox_conf *, size_t);
static int	sandbox_strays(void);
static void	sandbox_strayscb(int, const char *, const char *, void *);
static void	sandbox_prunecb(int, const char *, const char *, void *);
static struct sandbox *sandbox_by_uid(uid_t);
static void	sandbox_ctl_list(struct control_req *, json_t *);
static void	sandbox_ctl_show(struct control_req *, json_t *);
static void	sandbox_ctl_exec(struct control_req *, json_t *);
static void	sandbox_ctl_network(struct control_req *, json_t *);
static void	sandbox_ctl_doctor(struct control_req *, json_t *);
static void	sandbox_check_start(struct control_req *, json_t *, int);
static void	sandbox_checkcb(int, const char *, const char *, void *);
static json_t	*sandbox_check_one(struct sandbox *, const char *,
		    json_t *);
static void	sandbox_check_add(json_t *, const char *, int,
		    const char *, const char *);
static void	sandbox_check_warn(json_t *, const char *, const char *,
		    const char *);
static json_t	*sandbox_doctor_base(int, const char *, const char *);
static void	 sandbox_doctor_strays(json_t *, const char *);
static int	 sandbox_check_healthy(json_t *);
static int	 sandbox_port_alone(in_port_t, char *, size_t);
#ifdef __linux__
static int	 sandbox_fd_is(const char *, char *, size_t);
#endif

const struct sbxd_component sandbox_component = {
	.cm_name = "sandbox",
	.cm_init = sandbox_init,
	.cm_check = sandbox_check_conf,
	.cm_reload = sandbox_reload,
	.cm_shutdown = sandbox_shutdown,
	.cm_status = sandbox_status,
	.cm_uid_name = sandbox_uid_name,
};

/* What the requests of each command may carry. */
static const struct control_field sandbox_create[] = {
	{ "name", CONTROL_F_STRING | CONTROL_F_NEEDED },
	{ "restricted", CONTROL_F_BOOL },
	{ "policy", CONTROL_F_STRING },
	{ "allow", CONTROL_F_STRINGS },
	{ "agent", CONTROL_F_STRING },
	{ "providers", CONTROL_F_STRINGS },
	{ "repos", CONTROL_F_STRINGS },
	{ "push_branches", CONTROL_F_STRINGS },
	{ NULL, 0 }
};
static const struct control_field sandbox_name[] = {
	{ "name", CONTROL_F_STRING | CONTROL_F_NEEDED },
	{ NULL, 0 }
};
static const struct control_field sandbox_optname[] = {
	{ "name", CONTROL_F_STRING },
	{ NULL, 0 }
};
static const struct control_field sandbox_none[] = { { NULL, 0 } };

/* In the order of enum proxy_api_provider, as the config's pv_type. */
static const char *sandbox_provider_names[SANDBOX_PROVIDERS] = {
	"anthropic", "openai", "google", "openrouter"
};
static const char *sandbox_state_names[] = {
	"creating", "ready", "failed", "removing"
};

/*
 * Start the module when the config has sandbox lines: load the firewall
 * base, then bring every stored sandbox back.
 */
/* The commands of sandboxes, and what to do when they are off. */
static const char	*sandbox_cmds[] = { "create", "list", "show", "rm",
			    "exec", "network", "doctor" };
#define SANDBOX_NOROOT	"sbxd does not run as root; start it as root " \
			"for sandboxes"
#define SANDBOX_OFF	"sandboxes are off: add a line such as \"sandbox " \
			"uid-range 60100 60999\" to sbxd.conf (see " \
			"sbxd.conf(5), SANDBOXES) and restart sbxd"

static int
sandbox_init(struct sbxd_config *conf)
{
	struct sandbox_conf	*sbc = &conf->sc_sandbox;
	json_t			*ops;
	size_t			 i;

	if (!sbc->sbc_enabled) {
		for (i = 0; i < nitems(sandbox_cmds); i++)
			control_register_off(sandbox_cmds[i], SANDBOX_OFF);
		return (0);
	}
	if (geteuid() != 0 && !priv_on()) {
		/* A developer's sbxd -d: the proxy alone. */
		sandbox_noroot = 1;
		log_warnx("sandbox: off: %s", SANDBOX_NOROOT);
		for (i = 0; i < nitems(sandbox_cmds); i++)
			control_register_off(sandbox_cmds[i],
			    "sandboxes are off: " SANDBOX_NOROOT);
		return (0);
	}
	if (sandbox_home_parent(sbc->sbc_home) == -1 ||
	    sandbox_ports_private(sbc, NULL) == -1 ||
	    sandbox_cgroup_init(sbc) == -1)
		return (-1);
	sandbox_on = 1;
	if (sandbox_blocked_init() == -1)
		return (-1);
	control_register("create", sandbox_life_create, sandbox_create);
	control_register("list", sandbox_ctl_list, sandbox_none);
	control_register("show", sandbox_ctl_show, sandbox_name);
	control_register("rm", sandbox_life_rm, sandbox_name);
	control_register("exec", sandbox_ctl_exec, sandbox_exec_fields);
	control_register("network", sandbox_ctl_network, sandbox_optname);
	control_register("doctor", sandbox_ctl_doctor, sandbox_optname);
	if (sbc->sbc_firewall == SANDBOX_FW_PF) {
		sandbox_backend = &fw_pf_backend;
		sandbox_fw_name = xstrdup(sbc->sbc_fw_anchor);
	} else {
		sandbox_backend = &fw_nft_backend;
		sandbox_fw_name = xstrdup(sbc->sbc_fw_table);
	}
	sandbox_fwc.fc_table = sandbox_fw_name;
	sandbox_fwc.fc_anchor = sandbox_fw_name;
	/* Without pfmon's NFLOG group blocked packets are still dropped. */
	sandbox_fwc.fc_group = conf->sc_pfmon.pm_nflog_group;
	if (sandbox_fwc.fc_group == -1)
		log_info("sandbox: pfmon does not read an nflog group; "
		    "blocked packets are dropped without an alert");
	sandbox_resume();
	if ((ops = json_array()) == NULL)
		return (-1);
	sandbox_op_simple(ops, "fw-init");
	if ((sandbox_fw_proc = sandbox_ops_run(ops, SANDBOX_CMD_TIMEOUT,
	    "firewall", sandbox_fw_initcb, NULL)) == NULL) {
		log_warnx("sandbox: cannot ask for the firewall base");
		return (-1);
	}
	return (0);
}

/*
 * The listener ports must be ones only root may bind (Linux: below
 * net.ipv4.ip_unprivileged_port_start, of this network namespace), so
 * that no other user can take a sandbox's listener while sbxd is down.
 * -1 with the reason logged and, if errors is given, appended.
 */
static int
sandbox_ports_private(const struct sandbox_conf *sbc, json_t *errors)
{
#ifdef __linux__
	FILE	*fp;
	long	 start = 1024;
	char	 msg[512];

	if ((fp = fopen(SANDBOX_PORT_SYSCTL, "re")) != NULL) {
		if (fscanf(fp, "%ld", &start) != 1)
			start = 1024;
		fclose(fp);
	}
	if (sbc->sbc_port_max < start)
		return (0);
	snprintf(msg, sizeof(msg), "sandbox port-range %u %u: any user may "
	    "bind ports from %ld up here (%s), and could take a sandbox's "
	    "listener; choose ports below it", sbc->sbc_port_min,
	    sbc->sbc_port_max, start, SANDBOX_PORT_SYSCTL);
	log_warnx("%s", msg);
	if (errors != NULL)
		json_array_append_new(errors, json_string(msg));
	return (-1);
#else
	(void)sbc;
	(void)errors;
	return (0);
#endif
}

/*
 * The directory that holds the homes: root's, not writable by others,
 * and not readable either: a sandbox passes through it to its home but
 * does not list the others.
 */
int
sandbox_home_parent(const char *dir)
{
	struct stat	 st;

	/* The privileged process made it for the engine, which checks. */
	if (!priv_on() && (util_mkdir_parents(dir) == -1 ||
	    (mkdir(dir, 0711) == -1 && errno != EEXIST))) {
		log_warn("sandbox home %s", dir);
		return (-1);
	}
	if (lstat(dir, &st) == -1 || !S_ISDIR(st.st_mode) || st.st_uid != 0 ||
	    (st.st_mode & (S_IWGRP | S_IWOTH))) {
		log_warnx("sandbox home %s: must be a directory owned by "
		    "root and writable only by it", dir);
		return (-1);
	}
	if ((st.st_mode & (S_IRGRP | S_IROTH)) &&
	    chmod(dir, st.st_mode & 07711) == -1) {
		log_warn("sandbox home %s: chmod", dir);
		return (-1);
	}
	return (0);
}

/*
 * Before a reload: every sandbox keeps its policy.  Those with a
 * listener open are the proxy's to check; the others (failed, or being
 * made or removed) are checked here, so that none is restored later
 * without one.
 */
static int
sandbox_check_conf(struct sbxd_config *conf, json_t *errors)
{
	struct sandbox	*sb;
	int		 r = 0;

	if (conf->sc_sandbox.sbc_enabled &&
	    sandbox_ports_private(&conf->sc_sandbox, errors) == -1)
		r = -1;
	if (sandbox_on && conf->sc_sandbox.sbc_enabled &&
	    sandbox_cgroup_check(&conf->sc_sandbox, errors) == -1)
		r = -1;
	TAILQ_FOREACH(sb, &sandboxes, sb_entry) {
		if (proxy_listener_up(sb->sb_name) ||
		    config_policy_find(conf, sb->sb_policy) != NULL)
			continue;
		json_array_append_new(errors, json_sprintf("%s: policy \"%s\" "
		    "is not defined, and sandbox %s uses it",
		    sbxd_env->sx_conffile, sb->sb_policy, sb->sb_name));
		r = -1;
	}
	return (r);
}

/*
 * Reload: new sandboxes use the new settings, every sandbox the new
 * limits; the firewall stays.
 */
static int
sandbox_reload(struct sbxd_config *conf, json_t *errors __unused)
{
	struct sandbox_conf	*sbc = &conf->sc_sandbox;
	struct sandbox		*sb;
	const char		*name;
	char			 err[256];

	if (sbc->sbc_enabled != sandbox_on && !sandbox_noroot) {
		log_warnx("sandbox: turning the module %s takes a restart",
		    sandbox_on ? "off" : "on");
		return (0);
	}
	if (!sandbox_on)
		return (0);
	name = sbc->sbc_firewall == SANDBOX_FW_PF ? sbc->sbc_fw_anchor :
	    sbc->sbc_fw_table;
	if (strcmp(name, sandbox_fw_name) != 0)
		log_warnx("sandbox: a new firewall table or anchor takes a "
		    "restart");
	sandbox_cgroup_reload(sbc);
	TAILQ_FOREACH(sb, &sandboxes, sb_entry)
		if (sandbox_cgroup_update(sb, err, sizeof(err)) == -1)
			log_warnx("sandbox %s: limits: %s", sb->sb_name, err);
	return (0);
}

/*
 * Stop: the firewall rules stay loaded, so that while sbxd is down a
 * restricted sandbox has no network at all.
 */
static void
sandbox_shutdown(void)
{
	struct sandbox	*sb;

	if (sandbox_fw_proc != NULL)
		sandbox_ops_cancel(sandbox_fw_proc);
	sandbox_fw_proc = NULL;
	sandbox_life_shutdown();
	while ((sb = TAILQ_FIRST(&sandboxes)) != NULL)
		sandbox_free(sb);
	sandbox_exec_shutdown();
	sandbox_proc_shutdown();
	sandbox_cgroup_shutdown();
	sandbox_blocked_shutdown();
	free(sandbox_fw_name);
	sandbox_fw_name = NULL;
	sandbox_on = 0;
}

static json_t *
sandbox_status(void)
{
	struct sandbox	*sb;
	int		 n[4] = { 0, 0, 0, 0 };

	if (!sandbox_on)
		return (json_pack("{s:s, s:s*}", "state", "off", "reason",
		    sandbox_noroot ? SANDBOX_NOROOT : NULL));
	TAILQ_FOREACH(sb, &sandboxes, sb_entry)
		n[sb->sb_state]++;
	return (json_pack("{s:s, s:s, s:s, s:s?, s:i, s:i, s:i, s:i, s:o, "
	    "s:o}",
	    "state", sandbox_fw_ready ? "up" : *sandbox_fw_error ? "down" :
	    "starting",
	    "firewall", sandbox_backend->fb_name, "table", sandbox_fw_name,
	    "firewall_error", *sandbox_fw_error ? sandbox_fw_error : NULL,
	    "ready", n[SANDBOX_READY], "failed", n[SANDBOX_FAILED],
	    "creating", n[SANDBOX_CREATING], "removing", n[SANDBOX_REMOVING],
	    "exec", sandbox_exec_status(), "limits", sandbox_cgroup_status()));
}

const struct fw_backend *
sandbox_fw(void)
{
	return (sandbox_backend);
}

const struct fw_conf *
sandbox_fwconf(void)
{
	return (&sandbox_fwc);
}

/* Load every stored sandbox; each waits for the firewall base. */
static void
sandbox_resume(void)
{
	struct sandbox	*sb;
	json_t		*rows, *row;
	size_t		 i;

	if ((rows = store_sandbox_list()) == NULL) {
		log_warnx("sandbox: cannot read the sandboxes from the store");
		return;
	}
	json_array_foreach(rows, i, row)
		if ((sb = sandbox_from_row(row)) != NULL)
			TAILQ_INSERT_TAIL(&sandboxes, sb, sb_entry);
	(void)sandbox_orphans(&sbxd_env->sx_conf->sc_sandbox,
	    json_array_size(rows));
	json_decref(rows);
}

/*
 * The OS users of sandboxes that the store has no row for: a lost or
 * replaced database, a write that did not happen.  Each is kept as a
 * failed sandbox that list and doctor show and rm removes, cut off
 * from the network once the firewall base is loaded, and never stored.
 * An empty store is never taken for a host without sandboxes.
 */
static int
sandbox_orphans(const struct sandbox_conf *sbc, size_t stored)
{
	struct sandbox	*sb;
	struct passwd	*pw;
	const char	*name;
	char		 comment[SANDBOX_NAME_MAX + 32];
	size_t		 plen = strlen(SANDBOX_USER_PREFIX);
	int		 n = 0;

	setpwent();
	while ((pw = getpwent()) != NULL) {
		if (pw->pw_uid < sbc->sbc_uid_min ||
		    pw->pw_uid > sbc->sbc_uid_max ||
		    strncmp(pw->pw_name, SANDBOX_USER_PREFIX, plen) != 0)
			continue;
		name = pw->pw_name + plen;
		snprintf(comment, sizeof(comment), "sbxd sandbox %s", name);
		if (!sandbox_name_ok(name) || pw->pw_gecos == NULL ||
		    strcmp(pw->pw_gecos, comment) != 0 ||
		    sandbox_find(name) != NULL ||
		    sandbox_by_uid(pw->pw_uid) != NULL)
			continue;
		if ((sb = calloc(1, sizeof(*sb))) == NULL ||
		    (sb->sb_home = strdup(pw->pw_dir)) == NULL ||
		    (sb->sb_policy = strdup(sbc->sbc_policy)) == NULL ||
		    sandbox_uuid(sb->sb_id, sizeof(sb->sb_id)) == -1) {
			if (sb != NULL) {
				free(sb->sb_home);
				free(sb->sb_policy);
			}
			free(sb);
			endpwent();
			log_warnx("sandbox: out of memory reading the users");
			return (-1);
		}
		snprintf(sb->sb_name, sizeof(sb->sb_name), "%s", name);
		snprintf(sb->sb_user, sizeof(sb->sb_user), "%s",
		    pw->pw_name);
		sb->sb_uid = pw->pw_uid;
		sb->sb_gid = pw->pw_gid;
		sb->sb_restricted = 1;
		sb->sb_orphan = 1;
		TAILQ_INSERT_TAIL(&sandboxes, sb, sb_entry);
		sandbox_fail(sb, "orphan: user %s (uid %u) and its home %s "
		    "are here but the store has no row for them; cut off "
		    "from the network; \"sbxctl rm %s\" removes them",
		    sb->sb_user, (unsigned)sb->sb_uid, sb->sb_home,
		    sb->sb_name);
		n++;
	}
	endpwent();
	if (n > 0)
		log_warnx("sandbox: %d sandbox users have no row in the "
		    "store%s; they are kept failed until removed", n,
		    stored == 0 ? " (the store has none: was sbxd.db "
		    "replaced?)" : "");
	return (n);
}

static struct sandbox *
sandbox_by_uid(uid_t uid)
{
	struct sandbox	*sb;

	TAILQ_FOREACH(sb, &sandboxes, sb_entry)
		if (sb->sb_uid == uid)
			return (sb);
	return (NULL);
}

/*
 * A sandbox from its row.  One left creating or removing by a crash, or
 * whose OS user or home went, is failed: sbxctl rm clears it.  One that
 * had failed is restored only if its user and home are there again:
 * failed stays failed until it is fixed or removed.
 */
static struct sandbox *
sandbox_from_row(json_t *row)
{
	struct sandbox	*sb;
	struct passwd	*pw;
	struct stat	 st;
	const char	*state;
	json_t		*pj;
	size_t		 i;
	int		 p;

	sb = xcalloc(1, sizeof(*sb));
	snprintf(sb->sb_id, sizeof(sb->sb_id), "%s",
	    json_string_value(json_object_get(row, "id")));
	snprintf(sb->sb_name, sizeof(sb->sb_name), "%s",
	    json_string_value(json_object_get(row, "name")));
	snprintf(sb->sb_user, sizeof(sb->sb_user), "%s%s",
	    SANDBOX_USER_PREFIX, sb->sb_name);
	snprintf(sb->sb_created, sizeof(sb->sb_created), "%s",
	    json_string_value(json_object_get(row, "created_at")));
	sb->sb_uid = json_integer_value(json_object_get(row, "uid"));
	sb->sb_port = json_integer_value(json_object_get(row, "port"));
	sb->sb_gw_port = json_integer_value(json_object_get(row,
	    "gateway_port"));
	json_array_foreach(json_object_get(row, "providers"), i, pj)
		if ((p = sandbox_provider_type(json_string_value(pj))) != -1)
			sb->sb_providers |= 1 << p;
	snprintf(sb->sb_phantom, sizeof(sb->sb_phantom), "%s",
	    json_is_string(json_object_get(row, "phantom")) ?
	    json_string_value(json_object_get(row, "phantom")) : "");
	sb->sb_repos = sandbox_strv(json_object_get(row, "repos"));
	sb->sb_globs = sandbox_strv(json_object_get(row, "push_branches"));
	if (sb->sb_gw_port == 0 || strlen(sb->sb_phantom) != 64) {
		sb->sb_gw_port = 0;
		sb->sb_providers = 0;
		sandbox_strv_free(sb->sb_repos);
		sandbox_strv_free(sb->sb_globs);
		sb->sb_repos = sb->sb_globs = NULL;
	}
	sb->sb_restricted = json_is_true(json_object_get(row, "restricted"));
	sb->sb_policy = xstrdup(json_string_value(json_object_get(row,
	    "policy")));
	if (json_is_string(json_object_get(row, "agent")))
		sb->sb_agent = xstrdup(json_string_value(json_object_get(row,
		    "agent")));
	xasprintf(&sb->sb_home, "%s/%s",
	    sbxd_env->sx_conf->sc_sandbox.sbc_home, sb->sb_name);
	state = json_string_value(json_object_get(row, "state"));
	sb->sb_state = SANDBOX_FAILED;
	for (i = 0; i < 4; i++)
		if (strcmp(state, sandbox_state_names[i]) == 0)
			sb->sb_state = i;
	if (sb->sb_state == SANDBOX_CREATING ||
	    sb->sb_state == SANDBOX_REMOVING)
		sandbox_fail(sb, "interrupted while %s", state);
	else if ((pw = getpwnam(sb->sb_user)) == NULL ||
	    pw->pw_uid != sb->sb_uid)
		sandbox_fail(sb, "OS user %s (uid %u) is gone", sb->sb_user,
		    (unsigned)sb->sb_uid);
	else if (lstat(sb->sb_home, &st) == -1 || !S_ISDIR(st.st_mode) ||
	    st.st_uid != sb->sb_uid)
		sandbox_fail(sb, "home %s is gone or not the user's",
		    sb->sb_home);
	else {
		sb->sb_gid = pw->pw_gid;
		sb->sb_state = SANDBOX_CREATING;	/* until restored */
		sb->sb_restore = 1;
	}
	return (sb);
}

/* The base is loaded (or not): restore every sandbox's rules. */
static void
sandbox_fw_initcb(int status, const char *error, const char *output __unused,
    void *arg __unused)
{
	struct sandbox	*sb;

	sandbox_fw_proc = NULL;
	if (status != 0) {
		snprintf(sandbox_fw_error, sizeof(sandbox_fw_error), "%s",
		    error != NULL ? error : "failed");
		log_warnx("sandbox: firewall base: %s", sandbox_fw_error);
	} else {
		sandbox_fw_ready = 1;
		log_info("sandbox: firewall %s %s loaded",
		    sandbox_backend->fb_name, sandbox_fw_name);
	}
	/* Only the stored ones: a create under way goes its own way. */
	TAILQ_FOREACH(sb, &sandboxes, sb_entry) {
		if (!sb->sb_restore)
			continue;
		sb->sb_restore = 0;
		if (!sandbox_fw_ready)
			sandbox_fail(sb, "firewall: %s", sandbox_fw_error);
		else
			sandbox_restore(sb);
	}
	/* Creates wait until what no sandbox explains is cut off. */
	if (!sandbox_fw_ready || sandbox_strays() == -1)
		sandbox_life_waiting(sandbox_fw_ready ? NULL :
		    sandbox_fw_error);
}

/*
 * List the firewall for what no stored sandbox explains: the rules of
 * an orphan's uid, of a uid with no sandbox, owner and port elements
 * left behind.  -1 if the listing cannot start.
 */
static int
sandbox_strays(void)
{
	json_t	*ops;

	if ((ops = json_array()) != NULL)
		sandbox_op_simple(ops, "fw-list");
	if (ops == NULL || (sandbox_fw_proc = sandbox_ops_run(ops,
	    SANDBOX_CMD_TIMEOUT, "firewall", sandbox_strayscb, NULL)) ==
	    NULL) {
		log_warnx("sandbox: cannot list the firewall for rules that "
		    "no sandbox has");
		return (-1);
	}
	return (0);
}

/* Add v to a set of at most max. */
#define SANDBOX_ADD_ONCE(set, n, v, max) do {				\
	int	 i_;							\
	for (i_ = 0; i_ < (n) && (set)[i_] != (v); i_++)		\
		;							\
	if (i_ == (n) && (n) < (max))					\
		(set)[(n)++] = (v);					\
} while (0)

/*
 * Cut off the uids of orphans and the uids with processes; remove the
 * rules of uids nothing runs as; drop owner and port elements that no
 * sandbox has.  Creates wait until it is done.
 */
static void
sandbox_strayscb(int status, const char *error, const char *output,
    void *arg __unused)
{
	static struct fw_held	 held[FW_HELD_MAX], owners[FW_HELD_MAX];
	static in_port_t	 ports[FW_HELD_MAX];
	static uid_t		 cut[FW_HELD_MAX], gone[FW_HELD_MAX];
	json_t			*ops;
	struct fw_prune		 fp;
	struct sandbox		*sb, *psb;
	uid_t			 strays[FW_HELD_MAX];
	int			 n, i, nstrays = 0;

	sandbox_fw_proc = NULL;
	memset(&fp, 0, sizeof(fp));
	fp.fp_owners = owners;
	fp.fp_ports = ports;
	fp.fp_cut = cut;
	fp.fp_gone = gone;
	if (status != 0 || sandbox_backend->fb_held(&sandbox_fwc, output,
	    held, FW_HELD_MAX, &n) == -1) {
		log_warnx("sandbox: cannot read the firewall listing: %s",
		    error != NULL ? error : "unreadable");
		n = 0;
	}
	for (i = 0; i < n; i++) {
		if (held[i].fh_uid == (uid_t)-1) {
			TAILQ_FOREACH(psb, &sandboxes, sb_entry)
				if (psb->sb_port == held[i].fh_port ||
				    (psb->sb_gw_port != 0 &&
				    psb->sb_gw_port == held[i].fh_port))
					break;
			if (psb == NULL)
				SANDBOX_ADD_ONCE(ports, fp.fp_nports,
				    held[i].fh_port, FW_HELD_MAX);
			continue;
		}
		sb = sandbox_by_uid(held[i].fh_uid);
		if (sb != NULL && !sb->sb_orphan &&
		    (held[i].fh_port == 0 || held[i].fh_port == sb->sb_port ||
		    (sb->sb_gw_port != 0 && held[i].fh_port == sb->sb_gw_port)))
			continue;
		if (held[i].fh_port != 0 && fp.fp_nowners < FW_HELD_MAX)
			owners[fp.fp_nowners++] = held[i];
		if (sb == NULL || sb->sb_orphan)
			SANDBOX_ADD_ONCE(strays, nstrays, held[i].fh_uid,
			    FW_HELD_MAX);
	}
	/* An orphan is cut off whether or not rules of its are there. */
	TAILQ_FOREACH(sb, &sandboxes, sb_entry)
		if (sb->sb_orphan)
			SANDBOX_ADD_ONCE(strays, nstrays, sb->sb_uid,
			    FW_HELD_MAX);
	for (i = 0; i < nstrays; i++) {
		if (sandbox_by_uid(strays[i]) != NULL ||
		    getpwuid(strays[i]) != NULL ||
		    job_uid_count(strays[i]) != 0) {
			cut[fp.fp_ncut++] = strays[i];
			log_warnx("sandbox: uid %u has no sandbox in the store; "
			    "cut off from the network", (unsigned)strays[i]);
		} else {
			gone[fp.fp_ngone++] = strays[i];
			log_warnx("sandbox: uid %u has firewall rules but no "
			    "sandbox, user or process; its rules are removed",
			    (unsigned)strays[i]);
		}
	}
	for (i = 0; i < fp.fp_nowners; i++)
		log_warnx("sandbox: owner %u . %u belongs to no sandbox; "
		    "removed", (unsigned)owners[i].fh_uid, owners[i].fh_port);
	for (i = 0; i < fp.fp_nports; i++)
		log_warnx("sandbox: listener port %u belongs to no sandbox; "
		    "removed", ports[i]);
	if (fp.fp_nowners + fp.fp_nports + fp.fp_ncut + fp.fp_ngone == 0) {
		sandbox_life_waiting(NULL);
		return;
	}
	if ((ops = json_array()) != NULL)
		sandbox_op_fw_prune(ops, &fp);
	if (ops == NULL || (sandbox_fw_proc = sandbox_ops_run(ops,
	    SANDBOX_CMD_TIMEOUT, "firewall", sandbox_prunecb, NULL)) ==
	    NULL) {
		log_warnx("sandbox: cannot build the removal of rules that no "
		    "sandbox has");
		sandbox_life_waiting(NULL);
	}
}

static void
sandbox_prunecb(int status, const char *error, const char *output __unused,
    void *arg __unused)
{
	sandbox_fw_proc = NULL;
	if (status != 0)
		log_warnx("sandbox: removing rules that no sandbox has: %s",
		    error != NULL ? error : "failed");
	sandbox_life_waiting(NULL);
}

/* Whether the firewall base is still loading: creates wait for it. */
int
sandbox_fw_loading(void)
{
	return (sandbox_fw_proc != NULL);
}

/*
 * Its cgroup (made again if it went), the rules, then the listener:
 * fail closed.
 */
static void
sandbox_restore(struct sandbox *sb)
{
	json_t			*ops;
	struct fw_sandbox	 fs;
	char			 err[256];

	if (sandbox_cgroup_create(sb, err, sizeof(err)) == -1) {
		sandbox_fail(sb, "cgroup: %s", err);
		return;
	}
	sandbox_fw_sandbox(sb, &fs);
	if ((ops = json_array()) != NULL)
		sandbox_op_fw(ops, "fw-apply", &fs);
	if (ops == NULL || (sb->sb_proc = sandbox_ops_run(ops,
	    SANDBOX_CMD_TIMEOUT, sb->sb_name, sandbox_restorecb, sb)) == NULL)
		sandbox_fail(sb, "firewall: out of memory");
}

static void
sandbox_restorecb(int status, const char *error, const char *output __unused,
    void *arg)
{
	struct sandbox	*sb = arg;

	sb->sb_proc = NULL;
	if (status != 0) {
		sandbox_fail(sb, "firewall: %s", error);
		return;
	}
	(void)sandbox_open(sb);
}

/*
 * Open the sandbox's listener and call it ready.  -1 if it failed, or
 * if the store did not take the state (the sandbox is ready all the
 * same; a create takes that as a failure).
 */
int
sandbox_open(struct sandbox *sb)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	char			 err[256];

	if (util_addr_parse("127.0.0.1", sb->sb_port, &ss, &sslen) == -1 ||
	    proxy_listener_add(sb->sb_name, &ss, sslen, sb->sb_policy, err,
	    sizeof(err)) == -1) {
		sandbox_fail(sb, "listener: %s", err);
		return (-1);
	}
	if (sb->sb_gw_port != 0 && (util_addr_parse("127.0.0.1",
	    sb->sb_gw_port, &ss, &sslen) == -1 || proxy_gw_add(sb->sb_name,
	    sb->sb_uid, &ss, sslen, sb->sb_providers, sb->sb_phantom,
	    sb->sb_repos, sb->sb_globs, err, sizeof(err)) == -1)) {
		proxy_listener_remove(sb->sb_name);
		sandbox_fail(sb, "gateway: %s", err);
		return (-1);
	}
	if (sb->sb_repos != NULL)
		(void)proxy_listener_github(sb->sb_name, 1);
	sb->sb_state = SANDBOX_READY;
	*sb->sb_error = '\0';
	if (sandbox_store(sb) == -1)
		return (-1);
	log_info("sandbox %s: ready (uid %u, proxy 127.0.0.1:%u%s)",
	    sb->sb_name, (unsigned)sb->sb_uid, sb->sb_port,
	    sb->sb_restricted ? ", restricted" : "");
	return (0);
}

/* Mark sb failed with a reason, in the log, the store and an event. */
void
sandbox_fail(struct sandbox *sb, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(sb->sb_error, sizeof(sb->sb_error), fmt, ap);
	va_end(ap);
	sb->sb_state = SANDBOX_FAILED;
	sandbox_store(sb);
	log_warnx("sandbox %s: failed: %s", sb->sb_name, sb->sb_error);
	events_publish("sandbox.failed", json_pack("{s:s, s:s, s:i, s:s}",
	    "sandbox", sb->sb_name, "id", sb->sb_id, "uid", (int)sb->sb_uid,
	    "error", sb->sb_error));
}

/* Write sb's row; -1, logged, if the store did not take it. */
int
sandbox_store(struct sandbox *sb)
{
	json_t	*row;
	int	 r;

	if (sb->sb_orphan)
		return (0);	/* no row, until rm */
	row = sandbox_json(sb);
	if (row != NULL && sb->sb_gw_port != 0) {
		json_object_del(row, "gateway");
		json_object_set_new(row, "phantom",
		    json_string(sb->sb_phantom));
	}
	if ((r = row != NULL ? store_sandbox_put(row) : -1) == -1)
		log_warnx("sandbox %s: the store did not take its state: %s",
		    sb->sb_name, row != NULL ? store_error() :
		    "out of memory");
	json_decref(row);
	return (r);
}

void
sandbox_free(struct sandbox *sb)
{
	TAILQ_REMOVE(&sandboxes, sb, sb_entry);
	sandbox_ops_cancel(sb->sb_proc);
	sandbox_provision_cancel(sb->sb_prov);
	job_stop_uid_cancel(sb->sb_stop);
	if (sb->sb_req != NULL)
		control_req_error(sb->sb_req, "sbxd is shutting down");
	json_decref(sb->sb_allow);
	sandbox_cgroup_forget(sb);
	if (sb->sb_ev != NULL)
		event_free(sb->sb_ev);
	free(sb->sb_home);
	free(sb->sb_policy);
	free(sb->sb_agent);
	sandbox_strv_free(sb->sb_repos);
	sandbox_strv_free(sb->sb_globs);
	free(sb);
}

/* Whether something runs for sb: a request, commands or a job. */
int
sandbox_busy(const struct sandbox *sb)
{
	return (sb->sb_req != NULL || sb->sb_proc != NULL ||
	    sb->sb_prov != NULL || sb->sb_stop != NULL);
}

struct sandbox *
sandbox_find(const char *name)
{
	struct sandbox	*sb;

	if (name == NULL)
		return (NULL);
	TAILQ_FOREACH(sb, &sandboxes, sb_entry)
		if (strcmp(sb->sb_name, name) == 0)
			return (sb);
	return (NULL);
}

/* The name of the sandbox whose OS user has uid, or NULL. */
static const char *
sandbox_uid_name(uid_t uid)
{
	struct sandbox	*sb;

	TAILQ_FOREACH(sb, &sandboxes, sb_entry)
		if (sb->sb_uid == uid)
			return (sb->sb_name);
	return (NULL);
}

const char *
sandbox_state_name(enum sandbox_state state)
{
	return (sandbox_state_names[state]);
}

/* What the firewall needs: the uid, its one proxy port, restricted. */
void
sandbox_fw_sandbox(const struct sandbox *sb, struct fw_sandbox *fs)
{
	memset(fs, 0, sizeof(*fs));
	fs->fs_name = sb->sb_name;
	fs->fs_uid = sb->sb_uid;
	fs->fs_ports[0] = sb->sb_port;
	fs->fs_nports = sb->sb_port != 0;	/* 0: cut off (an orphan) */
	if (fs->fs_nports > 0 && sb->sb_gw_port != 0)
		fs->fs_ports[fs->fs_nports++] = sb->sb_gw_port;
	fs->fs_restricted = sb->sb_restricted;
}

/* A sandbox as the store keeps it and list shows it. */
json_t *
sandbox_json(const struct sandbox *sb)
{
	json_t	*o;

	o = json_pack("{s:s, s:s, s:s, s:I, s:s, s:b, s:s, s:I, s:s, "
	    "s:s, s:s?, s:s?}", "id", sb->sb_id, "name", sb->sb_name, "user",
	    sb->sb_user, "uid", (json_int_t)sb->sb_uid, "state",
	    sandbox_state_names[sb->sb_state], "restricted", sb->sb_restricted,
	    "policy", sb->sb_policy, "port", (json_int_t)sb->sb_port,
	    "created_at", sb->sb_created, "home", sb->sb_home,
	    "error", *sb->sb_error ? sb->sb_error : NULL,
	    "agent", sb->sb_agent);
	if (o != NULL && sb->sb_gw_port != 0) {
		json_object_set_new(o, "gateway_port",
		    json_integer(sb->sb_gw_port));
		json_object_set_new(o, "gateway",
		    json_sprintf("http://127.0.0.1:%u", sb->sb_gw_port));
		json_object_set_new(o, "providers",
		    sandbox_providers_json(sb->sb_providers));
	}
	if (o != NULL && sb->sb_repos != NULL) {
		json_object_set_new(o, "repos", sandbox_strv_json(sb->sb_repos));
		json_object_set_new(o, "push_branches",
		    sandbox_strv_json(sb->sb_globs));
	}
	return (o);
}

/* A NULL-terminated vector as a JSON array. */
json_t *
sandbox_strv_json(char *const *v)
{
	json_t	*a = json_array();

	while (v != NULL && *v != NULL)
		json_array_append_new(a, json_string(*v++));
	return (a);
}

/* A JSON array of strings as a NULL-terminated vector; NULL if none. */
char **
sandbox_strv(json_t *a)
{
	json_t	*v;
	char	**out;
	size_t	 i, n = json_array_size(a);

	if (n == 0)
		return (NULL);
	out = xcalloc(n + 1, sizeof(*out));
	json_array_foreach(a, i, v)
		out[i] = xstrdup(json_is_string(v) ? json_string_value(v) : "");
	return (out);
}

void
sandbox_strv_free(char **v)
{
	size_t	 i;

	for (i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/* The names of the providers in mask, as a JSON array. */
json_t *
sandbox_providers_json(int mask)
{
	json_t	*a = json_array();
	int	 p;

	for (p = 0; p < SANDBOX_PROVIDERS; p++)
		if (mask & (1 << p))
			json_array_append_new(a,
			    json_string(sandbox_provider_names[p]));
	return (a);
}

/* The provider type of name, or -1. */
int
sandbox_provider_type(const char *name)
{
	int	 p;

	for (p = 0; p < SANDBOX_PROVIDERS; p++)
		if (name != NULL && strcmp(name, sandbox_provider_names[p]) == 0)
			return (p);
	return (-1);
}

/* list: every sandbox. */
static void
sandbox_ctl_list(struct control_req *cr, json_t *req __unused)
{
	struct sandbox	*sb;
	json_t		*list = json_array();

	TAILQ_FOREACH(sb, &sandboxes, sb_entry)
		json_array_append_new(list, sandbox_json(sb));
	control_req_ok(cr, json_pack("{s:o}", "sandboxes", list));
}

/* show NAME: one sandbox, with its runtime rules, limits and usage. */
static void
sandbox_ctl_show(struct control_req *cr, json_t *req)
{
	struct sandbox	*sb;
	const char	*name = json_string_value(json_object_get(req, "name"));
	json_t		*o, *rules;

	if ((sb = sandbox_find(name)) == NULL) {
		control_req_error(cr, "no sandbox \"%s\"", name != NULL ?
		    name : "");
		return;
	}
	o = sandbox_json(sb);
	if ((rules = store_rule_list(sb->sb_name)) == NULL)
		rules = json_array();
	json_object_set_new(o, "rules", rules);
	json_object_set_new(o, "proxy", sb->sb_restricted ?
	    json_sprintf("http://127.0.0.1:%u", sb->sb_port) : json_null());
	sandbox_cgroup_json(sb, o);
	control_req_ok(cr, json_pack("{s:o}", "sandbox", o));
}

/* exec NAME [argv]: a command or a login shell as the sandbox's user. */
static void
sandbox_ctl_exec(struct control_req *cr, json_t *req)
{
	struct sandbox_exec_spec	 spec;
	struct sandbox			*sb;
	const char			*name;
	char				 err[256], **env;

	name = json_string_value(json_object_get(req, "name"));
	if ((sb = sandbox_find(name)) == NULL) {
		control_req_error(cr, "no sandbox \"%s\"", name != NULL ?
		    name : "");
		return;
	}
	if (sb->sb_state != SANDBOX_READY) {
		control_req_error(cr, "sandbox %s is %s", sb->sb_name,
		    sandbox_state_names[sb->sb_state]);
		return;
	}
	memset(&spec, 0, sizeof(spec));
	if (sandbox_exec_spec_parse(req, &spec, err, sizeof(err)) == -1) {
		control_req_error(cr, "%s", err);
		return;
	}
	if (sandbox_as(sb, &spec.es_as, &env) == -1)
		control_req_error(cr, "out of memory");
	else if (sandbox_exec_start(cr, &spec, err, sizeof(err)) == -1)
		control_req_error(cr, "%s", err);
	sandbox_env_free(env);
	sandbox_exec_spec_clear(&spec);
}

/*
 * Whom sb's jobs run as, in its cgroup, and their environment
 * (sandbox_env), allocated in *envp for sandbox_env_free.  -1 if memory
 * ran out (*envp is NULL then).
 */
int
sandbox_as(const struct sandbox *sb, struct sandbox_as *sa, char ***envp)
{
	char	**env;

	memset(sa, 0, sizeof(*sa));
	*envp = NULL;
	if ((env = sandbox_env(sb->sb_home, sb->sb_restricted, sb->sb_port,
	    sbxd_env->sx_conf->sc_sandbox.sbc_ca_pem != NULL)) == NULL)
		return (-1);
	if (sb->sb_gw_port != 0 && (env = sandbox_env_gateway(env,
	    sb->sb_home, sb->sb_providers, sb->sb_phantom, sb->sb_gw_port,
	    sb->sb_repos != NULL)) == NULL)
		return (-1);
	sa->sa_uid = sb->sb_uid;
	sa->sa_gid = sb->sb_gid;
	sa->sa_user = sb->sb_user;
	sa->sa_home = sb->sb_home;
	sa->sa_shell = sbxd_env->sx_conf->sc_sandbox.sbc_shell;
	sa->sa_env = env;
	sa->sa_name = sb->sb_name;
	sa->sa_cgroups = sb->sb_cgroups;
	sa->sa_nproc = sandbox_cgroup_nproc(sb);
	*envp = env;
	return (0);
}


/* network [NAME]: the firewall's view of each sandbox. */
static void
sandbox_ctl_network(struct control_req *cr, json_t *req)
{
	sandbox_check_start(cr, req, 0);
}

/* doctor: everything network checks, and the base, pfmon, users. */
static void
sandbox_ctl_doctor(struct control_req *cr, json_t *req)
{
	sandbox_check_start(cr, req, 1);
}

/* List what the firewall holds, then judge each sandbox against it. */
static void
sandbox_check_start(struct control_req *cr, json_t *req, int doctor)
{
	struct sandbox_check	*ck = NULL;
	json_t			*ops = NULL;
	const char		*name;

	name = json_string_value(json_object_get(req, "name"));
	if (name != NULL && sandbox_find(name) == NULL) {
		control_req_error(cr, "no sandbox \"%s\"", name);
		return;
	}
	if ((ops = json_array()) == NULL ||
	    (ck = calloc(1, sizeof(*ck))) == NULL || (name != NULL &&
	    (ck->ck_name = strdup(name)) == NULL))
		goto fail;
	sandbox_op_simple(ops, "fw-list");
	ck->ck_req = cr;
	ck->ck_doctor = doctor;
	control_req_progress(cr, "reading the %s rules",
	    sandbox_backend->fb_name);
	if (sandbox_ops_run(ops, SANDBOX_CMD_TIMEOUT, "network",
	    sandbox_checkcb, ck) == NULL) {
		ops = NULL;	/* taken */
		goto fail;
	}
	return;
fail:
	json_decref(ops);
	if (ck != NULL)
		free(ck->ck_name);
	free(ck);
	control_req_error(cr, "out of memory");
}

static void
sandbox_checkcb(int status, const char *error, const char *output,
    void *arg)
{
	struct sandbox_check	*ck = arg;
	struct sandbox		*sb;
	json_t			*list = json_array(), *checks = NULL, *reply;

	if (status != 0)
		output = NULL;
	if (ck->ck_doctor)
		checks = sandbox_doctor_base(status, error, output);
	TAILQ_FOREACH(sb, &sandboxes, sb_entry)
		if (ck->ck_name == NULL || strcmp(ck->ck_name,
		    sb->sb_name) == 0)
			json_array_append_new(list, sandbox_check_one(sb,
			    output, checks));
	if (ck->ck_doctor) {
		json_decref(list);
		reply = json_pack("{s:b, s:o}", "healthy",
		    sandbox_check_healthy(checks), "checks", checks);
	} else {
		reply = json_pack("{s:b, s:o, s:s}", "healthy", status == 0 &&
		    sandbox_check_healthy(list), "sandboxes", list, "firewall",
		    sandbox_backend->fb_name);
		if (status != 0)
			json_object_set_new(reply, "error", json_string(
			    error != NULL ? error : "cannot list the rules"));
	}
	control_req_ok(ck->ck_req, reply);
	free(ck->ck_name);
	free(ck);
}

/*
 * One sandbox's network health: its listener, its rules against the
 * listing (output NULL: the listing failed).  Doctor findings go to
 * checks when it is not NULL.
 */
static json_t *
sandbox_check_one(struct sandbox *sb, const char *output, json_t *checks)
{
	struct fw_sandbox	 fs;
	struct passwd		*pw;
	char			 why[256], what[128], other[128];
	const char		*fw;
	int			 listener, fwok, alone, cgok;
	json_t			*rules;

	listener = proxy_listener_up(sb->sb_name);
	alone = sandbox_port_alone(sb->sb_port, other, sizeof(other));
	sandbox_fw_sandbox(sb, &fs);
	if (output == NULL) {
		fwok = 0;
		snprintf(why, sizeof(why), "cannot list the rules");
	} else
		fwok = sandbox_backend->fb_verify(&sandbox_fwc, &fs, output,
		    why, sizeof(why)) == 0;
	fw = fwok ? "ok" : why;
	if (checks != NULL) {
		snprintf(what, sizeof(what), "%s: firewall rules", sb->sb_name);
		sandbox_check_add(checks, what, fwok, fwok ? fw : why,
		    "sbxctl rm and create it again, or restart sbxd to "
		    "restore every sandbox's rules");
		snprintf(what, sizeof(what), "%s: proxy listener", sb->sb_name);
		sandbox_check_add(checks, what, listener || sb->sb_state !=
		    SANDBOX_READY, listener ? "127.0.0.1 port open" :
		    sb->sb_state == SANDBOX_READY ? "not listening" :
		    sandbox_state_names[sb->sb_state], "restart sbxd");
		snprintf(what, sizeof(what), "%s: state", sb->sb_name);
		sandbox_check_add(checks, what, sb->sb_state != SANDBOX_FAILED,
		    sb->sb_state == SANDBOX_FAILED ? sb->sb_error :
		    sandbox_state_names[sb->sb_state], "see the log, then "
		    "sbxctl rm it and create it again");
		snprintf(what, sizeof(what), "%s: port %u", sb->sb_name,
		    sb->sb_port);
		sandbox_check_add(checks, what, alone, alone ? "sbxd alone "
		    "listens on it" : other, "find who listens with ss -ltnp "
		    "'sport = :PORT' and stop it, then restart sbxd");
		snprintf(what, sizeof(what), "%s: OS user", sb->sb_name);
		pw = getpwnam(sb->sb_user);
		sandbox_check_add(checks, what, pw != NULL && pw->pw_uid ==
		    sb->sb_uid, pw != NULL ? "present" : "missing",
		    "sbxctl rm the sandbox and create it again");
		snprintf(what, sizeof(what), "%s: cgroup", sb->sb_name);
		cgok = sb->sb_state != SANDBOX_READY ||
		    sandbox_cgroup_present(sb);
		sandbox_check_add(checks, what, cgok, sb->sb_cgroups[0] !=
		    NULL ? sb->sb_cgroups[0] : "none", cgok ? NULL :
		    "sbxctl reload, which makes it again");
	}
	if ((rules = store_rule_list(sb->sb_name)) == NULL)
		rules = json_array();
	return (json_pack("{s:s, s:s, s:b, s:I, s:b, s:b, s:s?, s:s, s:b, "
	    "s:s, s:o}",
	    "name", sb->sb_name, "state", sandbox_state_names[sb->sb_state],
	    "restricted", sb->sb_restricted, "port", (json_int_t)sb->sb_port,
	    "listener", listener, "port_alone", alone,
	    "port_other", alone ? NULL : other, "firewall", fw,
	    "firewall_ok", fwok, "policy", sb->sb_policy, "rules", rules));
}

/*
 * Rules in the listing that no sandbox has: an owner or a chain of a
 * uid without a sandbox, another port for a sandbox's uid.
 */
static void
sandbox_doctor_strays(json_t *checks, const char *output)
{
	static struct fw_held	 held[FW_HELD_MAX];
	struct sandbox		*sb;
	char			 what[64], msg[128];
	int			 n, i, j, bad = 0;

	if (sandbox_backend->fb_held(&sandbox_fwc, output, held, FW_HELD_MAX,
	    &n) == -1)
		return;
	for (i = 0; i < n && bad < 8; i++) {
		if (held[i].fh_uid == (uid_t)-1) {
			TAILQ_FOREACH(sb, &sandboxes, sb_entry)
				if (sb->sb_port == held[i].fh_port ||
				    (sb->sb_gw_port != 0 &&
				    sb->sb_gw_port == held[i].fh_port))
					break;
		} else if ((sb = sandbox_by_uid(held[i].fh_uid)) != NULL &&
		    held[i].fh_port != 0 && held[i].fh_port != sb->sb_port &&
		    (sb->sb_gw_port == 0 || held[i].fh_port != sb->sb_gw_port))
			sb = NULL;
		if (sb != NULL)
			continue;
		for (j = 0; j < i; j++)
			if (held[j].fh_uid == held[i].fh_uid &&
			    held[j].fh_port == held[i].fh_port)
				break;
		if (j < i)
			continue;
		if (held[i].fh_uid == (uid_t)-1)
			snprintf(what, sizeof(what), "firewall: port %u",
			    held[i].fh_port);
		else
			snprintf(what, sizeof(what), "firewall: uid %u%s",
			    (unsigned)held[i].fh_uid, held[i].fh_port != 0 ?
			    " and a port" : "");
		snprintf(msg, sizeof(msg), "rules that no sandbox has%s",
		    held[i].fh_port != 0 ? "" : " (cut off, if the uid runs)");
		sandbox_check_add(checks, what, 0, msg, "restart sbxd: at "
		    "start it removes rules that no sandbox has, and cuts "
		    "off a uid that still has a user or processes");
		bad++;
	}
}

/*
 * Whether every entry is healthy: a doctor check with "ok", a network
 * entry that is not failed, with its firewall rules right, nobody else
 * on its port and, when ready, its listener up.
 */
static int
sandbox_check_healthy(json_t *entries)
{
	json_t		*e;
	const char	*state;
	size_t		 i;

	json_array_foreach(entries, i, e) {
		if (json_object_get(e, "check") != NULL) {
			if (!json_is_true(json_object_get(e, "ok")))
				return (0);
			continue;
		}
		state = json_string_value(json_object_get(e, "state"));
		if (!json_is_true(json_object_get(e, "firewall_ok")) ||
		    !json_is_true(json_object_get(e, "port_alone")) ||
		    (state != NULL && strcmp(state, "failed") == 0) ||
		    (state != NULL && strcmp(state, "ready") == 0 &&
		    !json_is_true(json_object_get(e, "listener"))))
			return (0);
	}
	return (1);
}

/*
 * Whether sbxd alone listens on TCP port, on any address: a socket of
 * another process there could take a sandbox's traffic.  Linux reads
 * /proc/net/tcp and tcp6 and compares their inodes with its own
 * sockets'; other is filled with who else listens.  Elsewhere: 1.
 */
static int
sandbox_port_alone(in_port_t port, char *other, size_t len)
{
#ifdef __linux__
	static const char	*files[] = { "/proc/net/tcp", "/proc/net/tcp6" };
	FILE			*fp;
	char			 line[512], link[64], want[64];
	unsigned int		 lport, st;
	unsigned long		 uid, inode;
	size_t			 i;
	int			 alone = 1;

	*other = '\0';
	for (i = 0; i < nitems(files); i++) {
		if ((fp = fopen(files[i], "re")) == NULL)
			continue;
		while (fgets(line, sizeof(line), fp) != NULL) {
			/* sl local rem st tx:rx tr:tm retr uid timeout inode */
			if (sscanf(line, " %*d: %*[0-9A-Fa-f]:%x %*s %x %*s "
			    "%*s %*s %lu %*d %lu", &lport, &st, &uid,
			    &inode) != 4 || lport != port || st != 0x0a)
				continue;
			snprintf(want, sizeof(want), "socket:[%lu]", inode);
			if (sandbox_fd_is(want, link, sizeof(link)))
				continue;
			alone = 0;
			snprintf(other, len, "uid %lu listens on it too (%s, "
			    "inode %lu)", uid, i == 0 ? "tcp" : "tcp6", inode);
		}
		fclose(fp);
	}
	return (alone);
#else
	(void)port;
	snprintf(other, len, "not checked on this system");
	return (1);
#endif
}

#ifdef __linux__
/* Whether one of our descriptors is want ("socket:[N]"). */
static int
sandbox_fd_is(const char *want, char *link, size_t len)
{
	DIR		*d;
	struct dirent	*de;
	char		 path[300];
	ssize_t		 n;
	int		 found = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return (0);
	while (!found && (de = readdir(d)) != NULL) {
		snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
		if ((n = readlink(path, link, len - 1)) <= 0)
			continue;
		link[n] = '\0';
		found = strcmp(link, want) == 0;
	}
	closedir(d);
	return (found);
}
#endif

static void
sandbox_check_add(json_t *checks, const char *what, int ok,
    const char *detail, const char *fix)
{
	json_array_append_new(checks, json_pack("{s:s, s:b, s:s, s:s?}",
	    "check", what, "ok", ok, "detail", detail, "fix", ok ? NULL :
	    fix));
}

/* A finding that is no fault, but that the operator should know. */
static void
sandbox_check_warn(json_t *checks, const char *what, const char *detail,
    const char *fix)
{
	json_array_append_new(checks, json_pack("{s:s, s:b, s:b, s:s, s:s}",
	    "check", what, "ok", 1, "warn", 1, "detail", detail, "fix", fix));
}

/*
 * Doctor's checks of the base: backend, table or anchor, pfmon, the
 * limits.  Limits the host cannot apply are a warning: a limits line
 * would have kept sbxd from starting, so they are the defaults.
 */
static json_t *
sandbox_doctor_base(int status, const char *error, const char *output)
{
	json_t				*checks = json_array(), *st;
	const char			*pstate;
	char				 fix[256], limits[600];

	snprintf(fix, sizeof(fix), "%s", sandbox_backend == &fw_pf_backend ?
	    "check that /etc/pf.conf has anchor \"com.apple/*\", then "
	    "restart sbxd" : "apt-get install nftables, then restart sbxd");
	sandbox_check_add(checks, "firewall base loaded", sandbox_fw_ready,
	    sandbox_fw_ready ? sandbox_fw_name : sandbox_fw_error, fix);
	sandbox_check_add(checks, "firewall rules readable", status == 0 &&
	    output != NULL, status == 0 ? "listed" : error != NULL ? error :
	    "failed", fix);
	if (status == 0 && output != NULL)
		sandbox_doctor_strays(checks, output);
	st = sbxd_component_status("pfmon");
	pstate = json_string_value(json_object_get(st, "state"));
	sandbox_check_add(checks, "pfmon capturing", pstate != NULL &&
	    strcmp(pstate, "up") == 0, pstate != NULL ? pstate : "unknown",
	    sandbox_backend == &fw_pf_backend ? "add pfmon interface "
	    "\"pflog0\" to sbxd.conf, then sbxctl reload" :
	    sandbox_fwc.fc_group == -1 ? "add pfmon interface \"nflog:N\" "
	    "to sbxd.conf, then restart sbxd" : "check the pfmon interface "
	    "in sbxctl status and that sbxd runs as root");
	json_decref(st);
	if (sandbox_cgroup_health(limits, sizeof(limits)))
		sandbox_check_add(checks, "resource limits", 1, limits, NULL);
	else
		sandbox_check_warn(checks, "resource limits", limits, "mount "
		    "cgroup2 with the memory, pids and cpu controllers, or "
		    "name a cgroup sbxd may manage with sandbox cgroup, then "
		    "restart sbxd; or sandbox limits off");
	return (checks);
}
