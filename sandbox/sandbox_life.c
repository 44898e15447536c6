/*
 * sandbox_life.c: creating and removing a sandbox.  Each is a chain of
 * steps on the loop; privileged commands run through sandbox_proc.c,
 * provisioning and the stop of every process of the uid are jobs of the
 * process layer (src/job.c).  Memory running out fails the request, not
 * the daemon.
 *
 * create: check, reserve uid and port, row "creating" -> firewall rules
 * and useradd -> home, cgroup -> provisioning -> runtime rules ->
 * listener -> "ready".  A failure at any step undoes what was done, in
 * the reverse order, firewall last, and forgets the row.
 *
 * rm: "removing", listener closed -> every process of the uid killed ->
 * what is left in its cgroup killed, the cgroup removed -> userdel, home
 * removed -> firewall rules removed -> row forgotten.  The rules go
 * last, so the uid is never without them while it runs.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
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

#include <event2/event.h>
#include <jansson.h>

#include "config.h"
#include "log.h"
#include "sbxd.h"
#include "sandbox.h"

static int	sandbox_uid_pick(struct sandbox_conf *, uid_t *);
static void	sandbox_uid_leftovers(uid_t);
static int	sandbox_port_pick(struct sandbox_conf *, in_port_t *,
		    in_port_t);
static int	sandbox_port_free(in_port_t);
static int	sandbox_create_check(struct control_req *, json_t *,
		    const char **, json_t **, int *);
static int	sandbox_create_providers(struct control_req *, json_t *,
		    int *);
static int	sandbox_phantom(char *, size_t);
static int	sandbox_create_repos_check(struct control_req *, json_t *);
static int	sandbox_create_repos(const char *, json_t *, struct sandbox *);
static struct sandbox *sandbox_create_new(const char *, json_t *, json_t *,
		    const char *, int, const char **);
static void	sandbox_create_usercb(int, const char *, const char *, void *);
static int	sandbox_create_home(struct sandbox *, char *, size_t);
static void	sandbox_create_provcb(const char *, void *);
static void	sandbox_create_done(struct sandbox *);
static void	sandbox_create_undo(struct sandbox *, const char *);
static void	sandbox_create_undocb(int, const char *, const char *, void *);
static int	sandbox_teardown(struct sandbox *, int, sandbox_proc_cb);
static void	sandbox_rm_stopcb(int, void *);
static void	sandbox_rm_cgroup(struct sandbox *);
static void	sandbox_rm_cgroupcb(evutil_socket_t, short, void *);
static void	sandbox_rm_removecb(int, const char *, const char *, void *);
static void	sandbox_req_error(struct sandbox *, const char *);
static void	sandbox_life_wait(struct control_req *, json_t *);

/* A create that waits for the firewall base to load. */
struct sandbox_wait {
	TAILQ_ENTRY(sandbox_wait)	 sw_entry;
	struct control_req		*sw_req;
	json_t				*sw_body;
};
TAILQ_HEAD(sandbox_waits, sandbox_wait);
static struct sandbox_waits	 sandbox_waits =
				    TAILQ_HEAD_INITIALIZER(sandbox_waits);

/* create NAME [restricted] [policy] [allow]: a new sandbox. */
void
sandbox_life_create(struct control_req *cr, json_t *req)
{
	struct sandbox		*sb;
	struct fw_sandbox	 fs;
	const char		*policy, *why;
	json_t			*allow, *ops;
	char			 user[256];
	int			 providers;

	if (sandbox_fw_loading()) {
		sandbox_life_wait(cr, req);
		return;
	}
	if (sandbox_create_check(cr, req, &policy, &allow, &providers) == -1)
		return;
	if ((sb = sandbox_create_new(json_string_value(json_object_get(req,
	    "name")), req, allow, policy, providers, &why)) == NULL) {
		control_req_error(cr, "%s", why);
		return;
	}
	sb->sb_req = cr;
	control_req_progress(cr, "creating %s: user %s, uid %u, proxy port %u",
	    sb->sb_name, sb->sb_user, (unsigned)sb->sb_uid, sb->sb_port);
	if ((ops = json_array()) == NULL) {
		sandbox_create_undo(sb, "out of memory");
		return;
	}
	sandbox_fw_sandbox(sb, &fs);
	sb->sb_done |= SANDBOX_DONE_FW;
	sandbox_op_fw(ops, "fw-apply", &fs);
	snprintf(user, sizeof(user), "sbxd sandbox %s", sb->sb_name);
	sb->sb_done |= SANDBOX_DONE_USER;
	sandbox_op_user_add(ops, sb->sb_user, sb->sb_uid, sb->sb_home, user);
	if ((sb->sb_proc = sandbox_ops_run(ops, SANDBOX_CMD_TIMEOUT,
	    sb->sb_name, sandbox_create_usercb, sb)) == NULL)
		sandbox_create_undo(sb, "out of memory");
}

/*
 * Right after start the firewall base is still loading, and a sandbox's
 * rules need it: the create waits, and goes on once it is loaded.
 */
static void
sandbox_life_wait(struct control_req *cr, json_t *req)
{
	struct sandbox_wait	*sw;

	if ((sw = calloc(1, sizeof(*sw))) == NULL ||
	    (sw->sw_body = json_deep_copy(req)) == NULL) {
		free(sw);
		control_req_error(cr, "out of memory");
		return;
	}
	sw->sw_req = cr;
	TAILQ_INSERT_TAIL(&sandbox_waits, sw, sw_entry);
	control_req_progress(cr, "waiting for the firewall base to load");
}

/*
 * The firewall base is loaded (error NULL) or failed: the waiting
 * creates go on, or are refused with why.
 */
void
sandbox_life_waiting(const char *error)
{
	struct sandbox_wait	*sw;

	while ((sw = TAILQ_FIRST(&sandbox_waits)) != NULL) {
		TAILQ_REMOVE(&sandbox_waits, sw, sw_entry);
		if (error != NULL)
			control_req_error(sw->sw_req, "the firewall base did "
			    "not load: %s", error);
		else
			sandbox_life_create(sw->sw_req, sw->sw_body);
		json_decref(sw->sw_body);
		free(sw);
	}
}

/* At shutdown: the waiting creates are refused. */
void
sandbox_life_shutdown(void)
{
	sandbox_life_waiting("sbxd is shutting down");
}

/* The request's name, policy and patterns, or an error sent. */
static int
sandbox_create_check(struct control_req *cr, json_t *req,
    const char **policy, json_t **allow, int *providers)
{
	struct sbxd_config	*conf = sbxd_env->sx_conf;
	struct policy_rule	*ru;
	struct passwd		*pw;
	struct stat		 st;
	const char		*name;
	char			 err[256], path[SBXD_PATH_MAX];
	json_t			*p;
	size_t			 i;

	name = json_string_value(json_object_get(req, "name"));
	*policy = json_string_value(json_object_get(req, "policy"));
	if (*policy == NULL)
		*policy = conf->sc_sandbox.sbc_policy;
	*allow = json_object_get(req, "allow");
	if (name == NULL || !sandbox_name_ok(name)) {
		control_req_error(cr, "a sandbox name is 1 to %d characters "
		    "of a-z, 0-9 and '-', not starting with '-'",
		    SANDBOX_NAME_MAX);
		return (-1);
	}
	if (sandbox_find(name) != NULL) {
		control_req_error(cr, "sandbox %s exists", name);
		return (-1);
	}
	if (config_policy_find(conf, *policy) == NULL) {
		control_req_error(cr, "no policy \"%s\" in the config",
		    *policy);
		return (-1);
	}
	p = json_object_get(req, "agent");
	if (p != NULL && config_agent_find(conf, json_string_value(p)) ==
	    NULL) {
		control_req_error(cr, "no agent \"%s\" in the config",
		    json_string_value(p));
		return (-1);
	}
	if (sandbox_create_providers(cr, req, providers) == -1 ||
	    sandbox_create_repos_check(cr, req) == -1)
		return (-1);
	if (*allow != NULL && !json_is_array(*allow)) {
		control_req_error(cr, "\"allow\" must be a list of patterns");
		return (-1);
	}
	json_array_foreach(*allow, i, p) {
		if (!json_is_string(p) || policy_rule_parse(
		    json_string_value(p), POLICY_ALLOW, &ru, err,
		    sizeof(err)) == -1) {
			control_req_error(cr, "--allow \"%s\": %s",
			    json_is_string(p) ? json_string_value(p) : "?",
			    json_is_string(p) ? err : "not a string");
			return (-1);
		}
		policy_rule_free(ru);
	}
	snprintf(err, sizeof(err), "%s%s", SANDBOX_USER_PREFIX, name);
	if ((pw = getpwnam(err)) != NULL) {
		control_req_error(cr, "OS user %s exists already (uid %u); "
		    "remove it or choose another name", err,
		    (unsigned)pw->pw_uid);
		return (-1);
	}
	snprintf(path, sizeof(path), "%s/%s", conf->sc_sandbox.sbc_home, name);
	if (lstat(path, &st) == 0) {
		control_req_error(cr, "%s exists already; move it away or "
		    "choose another name", path);
		return (-1);
	}
	return (0);
}

/*
 * The providers a new sandbox's gateway serves: those the request
 * names ("providers", [] for none), else the config's sandbox
 * providers.  Each must have a provider block.
 */
static int
sandbox_create_providers(struct control_req *cr, json_t *req, int *mask)
{
	struct sbxd_config		*conf = sbxd_env->sx_conf;
	const struct provider_conf	*pv;
	json_t				*list, *p;
	size_t				 i;
	char				**names;
	const char			*name;

	*mask = 0;
	if ((list = json_object_get(req, "providers")) != NULL) {
		json_array_foreach(list, i, p) {
			name = json_string_value(p);
			TAILQ_FOREACH(pv, &conf->sc_providers, pv_entry)
				if (strcmp(pv->pv_name, name) == 0)
					break;
			if (pv == NULL) {
				control_req_error(cr, "no provider \"%s\" in "
				    "the config", name);
				return (-1);
			}
			*mask |= 1 << pv->pv_type;
		}
		return (0);
	}
	for (names = conf->sc_sandbox.sbc_providers; names != NULL &&
	    *names != NULL; names++)
		TAILQ_FOREACH(pv, &conf->sc_providers, pv_entry)
			if (strcmp(pv->pv_name, *names) == 0)
				*mask |= 1 << pv->pv_type;
	return (0);
}

/*
 * The GitHub repositories of a new sandbox ("repos") and the refs it may
 * push ("push_branches"): each well formed, at most GITHUB_REPOS_MAX and
 * GITHUB_GLOBS_MAX, and a github block to reach them.
 */
static int
sandbox_create_repos_check(struct control_req *cr, json_t *req)
{
	json_t		*repos = json_object_get(req, "repos");
	json_t		*globs = json_object_get(req, "push_branches");
	json_t		*v;
	const char	*why;
	size_t		 i;

	if (json_array_size(globs) > 0 && json_array_size(repos) == 0) {
		control_req_error(cr, "push branches without a repository");
		return (-1);
	}
	if (json_array_size(repos) == 0)
		return (0);
	if (!sbxd_env->sx_conf->sc_github.gh_on) {
		control_req_error(cr, "no github block in the config: a "
		    "sandbox with repositories reaches GitHub through it");
		return (-1);
	}
	if (json_array_size(repos) > GITHUB_REPOS_MAX ||
	    json_array_size(globs) > GITHUB_GLOBS_MAX) {
		control_req_error(cr, "at most %d repositories and %d push "
		    "branches", GITHUB_REPOS_MAX, GITHUB_GLOBS_MAX);
		return (-1);
	}
	json_array_foreach(repos, i, v)
		if ((why = proxy_gw_repo_why(json_string_value(v))) != NULL) {
			control_req_error(cr, "repository \"%s\": %s",
			    json_string_value(v), why);
			return (-1);
		}
	json_array_foreach(globs, i, v)
		if ((why = proxy_gw_glob_why(json_string_value(v))) != NULL) {
			control_req_error(cr, "push branches \"%s\": %s",
			    json_string_value(v), why);
			return (-1);
		}
	return (0);
}

/* Copy the checked repositories and globs; the default glob if none. */
static int
sandbox_create_repos(const char *name, json_t *req, struct sandbox *sb)
{
	json_t	*globs = json_object_get(req, "push_branches");
	char	 dflt[SBXD_PATH_MAX];

	if ((sb->sb_repos = sandbox_strv(json_object_get(req, "repos"))) ==
	    NULL)
		return (0);
	if (json_array_size(globs) > 0)
		sb->sb_globs = sandbox_strv(globs);
	else {
		if (proxy_gw_glob_default(dflt, sizeof(dflt), name) == -1)
			return (-1);
		sb->sb_globs = xcalloc(2, sizeof(char *));
		sb->sb_globs[0] = xstrdup(dflt);
	}
	return (0);
}

/* 32 random bytes in hex: what a sandbox's phantom keys are made of. */
static int
sandbox_phantom(char *buf, size_t len)
{
	unsigned char	 b[32];
	size_t		 i;

	if (len < 2 * sizeof(b) + 1 || getentropy(b, sizeof(b)) == -1)
		return (-1);
	for (i = 0; i < sizeof(b); i++)
		snprintf(buf + 2 * i, 3, "%02x", b[i]);
	explicit_bzero(b, sizeof(b));
	return (0);
}

/* [a-z0-9-], 1 to SANDBOX_NAME_MAX, not starting with '-'. */
int
sandbox_name_ok(const char *name)
{
	size_t	 i, len = strlen(name);

	if (len == 0 || len > SANDBOX_NAME_MAX || name[0] == '-')
		return (0);
	for (i = 0; i < len; i++)
		if (!(islower((unsigned char)name[i]) ||
		    isdigit((unsigned char)name[i]) || name[i] == '-'))
			return (0);
	return (1);
}

/* Reserve a uid and a port and write the row; NULL with why if not. */
static struct sandbox *
sandbox_create_new(const char *name, json_t *req, json_t *allow,
    const char *policy, int providers, const char **why)
{
	struct sandbox_conf	*sbc = &sbxd_env->sx_conf->sc_sandbox;
	struct sandbox		*sb;
	struct timespec		 ts;
	char			 uidnext[24];
	static char		 msg[320];	/* *why, until the next */

	*why = "out of memory";
	if ((sb = calloc(1, sizeof(*sb))) == NULL)
		return (NULL);
	if (sandbox_uid_pick(sbc, &sb->sb_uid) == -1 ||
	    sandbox_port_pick(sbc, &sb->sb_port, 0) == -1) {
		*why = "no free uid or port left in the configured ranges";
		free(sb);
		return (NULL);
	}
	sb->sb_providers = providers;
	if (sandbox_create_repos(name, req, sb) == -1) {
		*why = "out of memory";
		free(sb);
		return (NULL);
	}
	if ((providers != 0 || sb->sb_repos != NULL) &&
	    (sandbox_port_pick(sbc, &sb->sb_gw_port,
	    sb->sb_port) == -1 || sandbox_phantom(sb->sb_phantom,
	    sizeof(sb->sb_phantom)) == -1)) {
		*why = "no free port left in the configured range for its "
		    "gateway";
		sandbox_strv_free(sb->sb_repos);
		sandbox_strv_free(sb->sb_globs);
		free(sb);
		return (NULL);
	}
	snprintf(uidnext, sizeof(uidnext), "%lu", sb->sb_uid ==
	    sbc->sbc_uid_max ? (unsigned long)sbc->sbc_uid_min :
	    (unsigned long)sb->sb_uid + 1);
	if (store_setting_put(SANDBOX_UID_NEXT, uidnext) == -1) {
		snprintf(msg, sizeof(msg), "the store did not take the next "
		    "uid: %s", store_error());
		*why = msg;
		free(sb);
		return (NULL);
	}
	if (asprintf(&sb->sb_home, "%s/%s", sbc->sbc_home, name) == -1) {
		free(sb);
		return (NULL);
	}
	if (json_is_string(json_object_get(req, "agent")) &&
	    (sb->sb_agent = strdup(json_string_value(json_object_get(req,
	    "agent")))) == NULL) {
		free(sb->sb_home);
		free(sb);
		return (NULL);
	}
	if ((sb->sb_policy = strdup(policy)) == NULL ||
	    sandbox_uuid(sb->sb_id, sizeof(sb->sb_id)) == -1) {
		if (sb->sb_policy != NULL)
			*why = "no random bytes for its id";
		free(sb->sb_agent);
		free(sb->sb_policy);
		free(sb->sb_home);
		free(sb);
		return (NULL);
	}
	snprintf(sb->sb_name, sizeof(sb->sb_name), "%s", name);
	snprintf(sb->sb_user, sizeof(sb->sb_user), "%s%s",
	    SANDBOX_USER_PREFIX, name);
	/* Restricted unless asked open. */
	sb->sb_restricted = !json_is_false(json_object_get(req, "restricted"));
	sb->sb_allow = json_incref(allow);
	sb->sb_state = SANDBOX_CREATING;
	clock_gettime(CLOCK_REALTIME, &ts);
	util_rfc3339(&ts, sb->sb_created, sizeof(sb->sb_created));
	TAILQ_INSERT_TAIL(&sandboxes, sb, sb_entry);
	if (sandbox_store(sb) == -1) {
		snprintf(msg, sizeof(msg), "the store did not take its row: "
		    "%s", store_error());
		*why = msg;
		sandbox_free(sb);
		return (NULL);
	}
	sb->sb_done |= SANDBOX_DONE_ROW;
	return (sb);
}

/*
 * The next uid of the range, round-robin from the one after the last
 * picked (kept in the store), that no sandbox, OS user or group has and
 * that nothing on the host belongs to: a new tenant never gets a uid
 * whose files or IPC objects a former one left.
 */
static int
sandbox_uid_pick(struct sandbox_conf *sbc, uid_t *uidp)
{
	struct sandbox_uidset	 us;
	struct sandbox		*sb;
	unsigned long long	 span, i, next;
	const char		*held;
	char			 buf[32];
	uid_t			 uid;
	int			 r = -1;

	next = sbc->sbc_uid_min;
	if (store_setting_get(SANDBOX_UID_NEXT, buf, sizeof(buf)) == 1)
		next = strtoull(buf, NULL, 10);
	if (next < sbc->sbc_uid_min || next > sbc->sbc_uid_max)
		next = sbc->sbc_uid_min;
	if (sandbox_uid_scan(&us, sbc->sbc_uid_min, sbc->sbc_uid_max) == -1)
		return (-1);
	span = (unsigned long long)sbc->sbc_uid_max - sbc->sbc_uid_min + 1;
	for (i = 0; i < span && r == -1; i++) {
		uid = sbc->sbc_uid_min + (next - sbc->sbc_uid_min + i) % span;
		TAILQ_FOREACH(sb, &sandboxes, sb_entry)
			if (sb->sb_uid == uid)
				break;
		if (sb != NULL || getpwuid(uid) != NULL ||
		    getgrgid(uid) != NULL)
			continue;
		if ((held = sandbox_uid_held(&us, uid)) != NULL) {
			log_info("sandbox: uid %u is not reused yet: it %s",
			    (unsigned)uid, held);
			continue;
		}
		*uidp = uid;
		r = 0;
	}
	sandbox_uid_scan_free(&us);
	return (r);
}

/* After rm: say what still holds uid, and so keeps it from reuse. */
static void
sandbox_uid_leftovers(uid_t uid)
{
	struct sandbox_uidset	 us;
	const char		*held;

	if (sandbox_uid_scan(&us, uid, uid) == -1)
		return;
	if ((held = sandbox_uid_held(&us, uid)) != NULL)
		log_warnx("sandbox: uid %u still %s (and %zu more); it is not "
		    "given to a new sandbox until nothing belongs to it",
		    (unsigned)uid, held, us.us_found - 1);
	sandbox_uid_scan_free(&us);
}

/* The first port of the range no sandbox and no other socket uses. */
static int
sandbox_port_pick(struct sandbox_conf *sbc, in_port_t *portp, in_port_t not)
{
	struct sandbox	*sb;
	unsigned int	 port;

	for (port = sbc->sbc_port_min; port <= sbc->sbc_port_max; port++) {
		if (port == not)
			continue;
		TAILQ_FOREACH(sb, &sandboxes, sb_entry)
			if (sb->sb_port == port || sb->sb_gw_port == port)
				break;
		if (sb == NULL && sandbox_port_free(port)) {
			*portp = port;
			return (0);
		}
	}
	return (-1);
}

/* Whether 127.0.0.1:port can be bound now. */
static int
sandbox_port_free(in_port_t port)
{
	struct sockaddr_in	 sin;
	json_t			*r;
	char			 err[256];
	int			 fd, ok;

	if (priv_on()) {
		/* Ports below 1024 are root's: it tries. */
		r = priv_call("bind", json_pack("{s:s, s:i, s:b}", "address",
		    "127.0.0.1", "port", (int)port, "probe", 1), NULL, NULL,
		    err, sizeof(err));
		json_decref(r);
		return (r != NULL);
	}
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return (0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;
	close(fd);
	return (ok);
}

/* A random (version 4) UUID; -1 if the kernel gives no random bytes. */
int
sandbox_uuid(char *buf, size_t len)
{
	unsigned char	 b[16];

	if (getentropy(b, sizeof(b)) == -1) {
		log_warn("sandbox: getentropy");
		return (-1);
	}
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(buf, len, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5],
	    b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
	return (0);
}

/* Rules and user are in: the home, then its files. */
static void
sandbox_create_usercb(int status, const char *error,
    const char *output __unused, void *arg)
{
	struct sandbox	*sb = arg;
	char		 err[256];

	sb->sb_proc = NULL;
	if (status != 0) {
		sandbox_create_undo(sb, error);
		return;
	}
	control_req_progress(sb->sb_req, "provisioning %s", sb->sb_home);
	if (sandbox_create_home(sb, err, sizeof(err)) == -1)
		sandbox_create_undo(sb, err);
}

/*
 * The OS user's home: 0700, its own; its cgroup; then the profile
 * files, by a job as the user, in the cgroup.
 */
static int
sandbox_create_home(struct sandbox *sb, char *err, size_t errlen)
{
	struct sandbox_prov	 sp;
	struct passwd		*pw;
	json_t			*r;
	char			 url[64], **env, **gwenv;

	if ((pw = getpwnam(sb->sb_user)) == NULL || pw->pw_uid != sb->sb_uid) {
		snprintf(err, errlen, "OS user %s is not there after useradd",
		    sb->sb_user);
		return (-1);
	}
	sb->sb_gid = pw->pw_gid;
	/* Root's: the homes directory is root's alone. */
	if ((r = priv_call("home", json_pack("{s:s, s:I, s:I, s:s}", "user",
	    sb->sb_user, "uid", (json_int_t)sb->sb_uid, "gid",
	    (json_int_t)sb->sb_gid, "home", sb->sb_home), NULL, NULL, err,
	    errlen)) == NULL)
		return (-1);
	json_decref(r);
	sb->sb_done |= SANDBOX_DONE_HOME;
	sb->sb_done |= SANDBOX_DONE_CGROUP;
	if (sandbox_cgroup_create(sb, err, errlen) == -1)
		return (-1);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", sb->sb_port);
	memset(&sp, 0, sizeof(sp));
	if (sandbox_as(sb, &sp.sp_as, &env) == -1) {
		snprintf(err, errlen, "out of memory");
		return (-1);
	}
	sp.sp_restricted = sb->sb_restricted;
	sp.sp_proxy_url = url;
	sp.sp_port = sb->sb_port;
	sp.sp_ca_pem = sbxd_env->sx_conf->sc_sandbox.sbc_ca_pem;
	sp.sp_gh = sb->sb_repos != NULL;
	gwenv = NULL;
	if (sb->sb_gw_port != 0 && (gwenv = proxy_gw_env(sb->sb_providers,
	    sb->sb_phantom, sb->sb_gw_port, sb->sb_repos != NULL)) == NULL) {
		sandbox_env_free(env);
		snprintf(err, errlen, "out of memory");
		return (-1);
	}
	sp.sp_gw_env = gwenv;
	sb->sb_prov = sandbox_provision(&sp, sandbox_create_provcb, sb, err,
	    errlen);
	sandbox_env_free(gwenv);
	sandbox_env_free(env);
	return (sb->sb_prov != NULL ? 0 : -1);
}

/* The home is ready: its runtime rules, then the listener. */
static void
sandbox_create_provcb(const char *error, void *arg)
{
	struct sandbox	*sb = arg;
	char		 err[256];
	json_t		*p;
	size_t		 i;

	sb->sb_prov = NULL;
	if (error != NULL) {
		sandbox_create_undo(sb, error);
		return;
	}
	json_array_foreach(sb->sb_allow, i, p)
		if (store_rule_put(sb->sb_name, json_string_value(p),
		    "allow", 0) == -1) {
			sandbox_create_undo(sb, "the store did not take its "
			    "rules");
			return;
		}
	if (sandbox_open(sb) == -1) {
		if (sb->sb_state == SANDBOX_READY)
			snprintf(err, sizeof(err), "the store did not take its "
			    "state: %s", store_error());
		else
			snprintf(err, sizeof(err), "%s", sb->sb_error);
		sandbox_create_undo(sb, err);
		return;
	}
	sandbox_create_done(sb);
}

static void
sandbox_create_done(struct sandbox *sb)
{
	json_decref(sb->sb_allow);
	sb->sb_allow = NULL;
	events_publish("sandbox.created", json_pack("{s:s, s:s, s:i, s:b, "
	    "s:i}", "sandbox", sb->sb_name, "id", sb->sb_id, "uid",
	    (int)sb->sb_uid, "restricted", sb->sb_restricted, "port",
	    (int)sb->sb_port));
	control_req_ok(sb->sb_req, json_pack("{s:o}", "sandbox",
	    sandbox_json(sb)));
	sb->sb_req = NULL;
}

/* Undo a create that failed: user, home, then the firewall rules. */
static void
sandbox_create_undo(struct sandbox *sb, const char *why)
{
	snprintf(sb->sb_error, sizeof(sb->sb_error), "%s", why != NULL ?
	    why : "failed");
	log_warnx("sandbox %s: create failed: %s; undoing it", sb->sb_name,
	    sb->sb_error);
	control_req_progress(sb->sb_req, "failed: %s; undoing", sb->sb_error);
	proxy_listener_remove(sb->sb_name);
	proxy_gw_remove(sb->sb_name);
	if (sandbox_teardown(sb, sb->sb_done, sandbox_create_undocb) == -1)
		sandbox_create_undocb(-1, "out of memory", NULL, sb);
}

/*
 * Remove what done says was made: the cgroup, at once, with whatever a
 * failed provisioning left in it, the user, the home, then the firewall
 * rules, last, so the uid is never without them while it may run.  cb
 * hears the end.  -1 if memory ran out (cb is not called).
 */
static int
sandbox_teardown(struct sandbox *sb, int done, sandbox_proc_cb cb)
{
	struct fw_sandbox	 fs;
	json_t			*ops;

	if (done & SANDBOX_DONE_CGROUP) {
		sandbox_cgroup_kill(sb);
		if (sandbox_cgroup_remove(sb) == -1)
			log_warn("sandbox %s: its cgroup stays", sb->sb_name);
	}
	if ((ops = json_array()) == NULL)
		return (-1);
	if (done & SANDBOX_DONE_USER) {
		sandbox_ipc_remove(sb->sb_uid);
		sandbox_op_files(ops, sb->sb_uid);
		sandbox_op_user_del(ops, sb->sb_user,
		    getpwnam(sb->sb_user) != NULL);
	}
	if (done & SANDBOX_DONE_HOME)
		sandbox_op_home_rm(ops, sb->sb_home);
	if (done & SANDBOX_DONE_FW) {
		sandbox_fw_sandbox(sb, &fs);
		sandbox_op_fw(ops, "fw-remove", &fs);
	}
	sb->sb_proc = sandbox_ops_run(ops, SANDBOX_CMD_TIMEOUT, sb->sb_name,
	    cb, sb);
	return (sb->sb_proc != NULL ? 0 : -1);
}

static void
sandbox_create_undocb(int status, const char *error,
    const char *output __unused, void *arg)
{
	struct sandbox	*sb = arg;
	char		 msg[512];

	sb->sb_proc = NULL;
	if (status != 0)
		log_warnx("sandbox %s: undoing the create: %s", sb->sb_name,
		    error);
	snprintf(msg, sizeof(msg), "create %s failed: %s%s", sb->sb_name,
	    sb->sb_error, status != 0 ? " (and undoing it failed: see the "
	    "log)" : "; undone");
	if (store_sandbox_delete(sb->sb_name) == -1) {
		/* Kept, failed, where list shows it and rm clears it. */
		sandbox_fail(sb, "%s, but the store still has its row: %s",
		    msg, store_error());
		sandbox_req_error(sb, sb->sb_error);
		return;
	}
	sandbox_req_error(sb, msg);
	sandbox_free(sb);
}

static void
sandbox_req_error(struct sandbox *sb, const char *msg)
{
	if (sb->sb_req != NULL)
		control_req_error(sb->sb_req, "%s", msg);
	sb->sb_req = NULL;
}

/* rm NAME: stop everything of the sandbox and forget it. */
void
sandbox_life_rm(struct control_req *cr, json_t *req)
{
	struct sandbox	*sb;
	const char	*name;

	name = json_string_value(json_object_get(req, "name"));
	if ((sb = sandbox_find(name)) == NULL) {
		control_req_error(cr, "no sandbox \"%s\"", name != NULL ?
		    name : "");
		return;
	}
	if (sandbox_busy(sb)) {
		control_req_error(cr, "sandbox %s is busy (%s)", sb->sb_name,
		    sandbox_state_name(sb->sb_state));
		return;
	}
	if ((sb->sb_stop = job_stop_uid(sb->sb_uid, SIGKILL, 0,
	    sandbox_rm_stopcb, sb)) == NULL) {
		control_req_error(cr, "out of memory");
		return;
	}
	sb->sb_req = cr;
	sb->sb_state = SANDBOX_REMOVING;
	sandbox_store(sb);
	/* Its agent's turn, if one runs, ends with it: say so first. */
	events_publish("sandbox.removing", json_pack("{s:s, s:s, s:i}",
	    "sandbox", sb->sb_name, "id", sb->sb_id, "uid", (int)sb->sb_uid));
	proxy_listener_remove(sb->sb_name);
	proxy_gw_remove(sb->sb_name);
	control_req_progress(cr, "stopping the processes of %s (uid %u)",
	    sb->sb_user, (unsigned)sb->sb_uid);
}

/* No process of the uid is left: the cgroup's are killed too. */
static void
sandbox_rm_stopcb(int r, void *arg)
{
	struct sandbox	*sb = arg;

	sb->sb_stop = NULL;
	if (r == -1) {
		sandbox_fail(sb, "processes of uid %u cannot be stopped; its "
		    "user and firewall rules stay", (unsigned)sb->sb_uid);
		sandbox_req_error(sb, sb->sb_error);
		return;
	}
	sandbox_cgroup_kill(sb);
	sb->sb_tries = 0;
	sandbox_rm_cgroup(sb);
}

/*
 * The cgroup goes first: the kernel may take a moment to let go of the
 * processes just killed, so it is tried again, SANDBOX_RM_MSECS apart.
 * One that stays holds something running: the user and the firewall
 * rules stay with it.  Then user, home, and the rules.
 */
static void
sandbox_rm_cgroup(struct sandbox *sb)
{
	struct timeval	 tv = { 0, SANDBOX_RM_MSECS * 1000 };
	int		 done = SANDBOX_DONE_HOME, saved;

	if (sandbox_cgroup_remove(sb) == -1) {
		saved = errno;
		if (saved == EBUSY && sb->sb_tries++ < SANDBOX_RM_TRIES &&
		    (sb->sb_ev != NULL || (sb->sb_ev = evtimer_new(
		    sbxd_env->sx_base, sandbox_rm_cgroupcb, sb)) != NULL)) {
			sandbox_cgroup_kill(sb);	/* one forked meanwhile */
			evtimer_add(sb->sb_ev, &tv);
			return;
		}
		sandbox_fail(sb, "its cgroup cannot be removed (%s); its user "
		    "and firewall rules stay", strerror(saved));
		sandbox_req_error(sb, sb->sb_error);
		return;
	}
	control_req_progress(sb->sb_req, "removing user %s and %s",
	    sb->sb_user, sb->sb_home);
	if (getpwnam(sb->sb_user) != NULL)
		done |= SANDBOX_DONE_USER;
	done |= SANDBOX_DONE_FW;	/* every sandbox has its listener's */
	if (sandbox_teardown(sb, done, sandbox_rm_removecb) == -1)
		sandbox_rm_removecb(-1, "out of memory", NULL, sb);
}

static void
sandbox_rm_cgroupcb(evutil_socket_t fd __unused, short events __unused,
    void *arg)
{
	sandbox_rm_cgroup(arg);
}

static void
sandbox_rm_removecb(int status, const char *error,
    const char *output __unused, void *arg)
{
	struct sandbox	*sb = arg;

	sb->sb_proc = NULL;
	if (status != 0 || getpwnam(sb->sb_user) != NULL) {
		sandbox_fail(sb, "rm: %s", error != NULL ? error :
		    "the OS user is still there");
		sandbox_req_error(sb, sb->sb_error);
		return;
	}
	if (store_sandbox_delete(sb->sb_name) == -1) {
		sandbox_fail(sb, "removed, but the store did not forget it "
		    "(%s); rm again once the store takes writes",
		    store_error());
		sandbox_req_error(sb, sb->sb_error);
		return;
	}
	log_info("sandbox %s: removed", sb->sb_name);
	sandbox_uid_leftovers(sb->sb_uid);
	events_publish("sandbox.removed", json_pack("{s:s, s:s, s:i}",
	    "sandbox", sb->sb_name, "id", sb->sb_id, "uid", (int)sb->sb_uid));
	control_req_ok(sb->sb_req, NULL);
	sb->sb_req = NULL;
	sandbox_free(sb);
}
