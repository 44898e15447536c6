/*
 * sandbox_life.c: creating and removing a sandbox.  Each is a chain of
 * steps on the loop; privileged commands run through sandbox_proc.c.
 *
 * create: check, reserve uid and port, row "creating" -> firewall rules
 * (restricted) and useradd -> home and provisioning -> runtime rules ->
 * listener -> "ready".  A failure at any step undoes what was done, in
 * the reverse order, firewall last, and forgets the row.
 *
 * rm: "removing", listener closed -> every process of the uid killed ->
 * userdel, home removed -> firewall rules removed -> row forgotten.  The
 * rules go last, so the uid is never without them while it runs.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <dirent.h>
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

#ifdef __linux__
#define SANDBOX_RM		"/bin/rm", "-rf", "--one-file-system", "--"
#else
#define SANDBOX_RM		"/bin/rm", "-rfx", "--"
#endif

static int	sandbox_name_ok(const char *);
static int	sandbox_uid_pick(struct sandbox_conf *, uid_t *);
static int	sandbox_port_pick(struct sandbox_conf *, in_port_t *);
static int	sandbox_port_free(in_port_t);
static void	sandbox_uuid(char *, size_t);
static int	sandbox_create_check(struct control_req *, json_t *,
		    const char **, json_t **);
static struct sandbox *sandbox_create_new(const char *, json_t *, json_t *,
		    const char *);
static void	sandbox_create_usercb(int, const char *, const char *, void *);
static int	sandbox_create_home(struct sandbox *, char *, size_t);
static void	sandbox_create_done(struct sandbox *);
static void	sandbox_create_undo(struct sandbox *, const char *);
static void	sandbox_create_undocb(int, const char *, const char *, void *);
static void	sandbox_rm_killcb(evutil_socket_t, short, void *);
static void	sandbox_rm_remove(struct sandbox *);
static void	sandbox_rm_removecb(int, const char *, const char *, void *);
static void	sandbox_req_error(struct sandbox *, const char *);
static int	sandbox_count_uid(uid_t);

/* create NAME [restricted] [policy] [allow]: a new sandbox. */
void
sandbox_life_create(struct control_req *cr, json_t *req)
{
	struct sandbox		*sb;
	struct sandbox_cmdlist	 cl;
	struct fw_sandbox	 fs;
	const char		*policy;
	json_t			*allow;
	char			 user[256];

	if (sandbox_create_check(cr, req, &policy, &allow) == -1)
		return;
	if ((sb = sandbox_create_new(json_string_value(json_object_get(req,
	    "name")), req, allow, policy)) == NULL) {
		control_req_error(cr, "no free uid or port left in the "
		    "configured ranges");
		return;
	}
	sb->sb_req = cr;
	control_req_progress(cr, "creating %s: user %s, uid %u, proxy port %u",
	    sb->sb_name, sb->sb_user, (unsigned)sb->sb_uid, sb->sb_port);
	sandbox_cmdlist_init(&cl);
	if (sb->sb_restricted) {
		sandbox_fw_sandbox(sb, &fs);
		sb->sb_done |= SANDBOX_DONE_FW;
		if (sandbox_fw()->fb_apply(sandbox_fwconf(), &fs, &cl) == -1) {
			sandbox_cmdlist_free(&cl);
			sandbox_create_undo(sb, "cannot build firewall rules");
			return;
		}
	}
	snprintf(user, sizeof(user), "sbxd sandbox %s", sb->sb_name);
	sb->sb_done |= SANDBOX_DONE_USER;
	if (sandbox_user_add(&cl, SANDBOX_OS_HOST, sb->sb_user, sb->sb_uid,
	    sb->sb_home, sbxd_env->sx_conf->sc_sandbox.sbc_shell,
	    user) == -1) {
		sandbox_cmdlist_free(&cl);
		sb->sb_done &= ~SANDBOX_DONE_USER;
		sandbox_create_undo(sb, "cannot build the useradd command");
		return;
	}
	sb->sb_proc = sandbox_proc_run(&cl, SANDBOX_CMD_TIMEOUT, sb->sb_name,
	    sandbox_create_usercb, sb);
}

/* The request's name, policy and patterns, or an error sent. */
static int
sandbox_create_check(struct control_req *cr, json_t *req,
    const char **policy, json_t **allow)
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

/* [a-z0-9-], 1 to SANDBOX_NAME_MAX, not starting with '-'. */
static int
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

/* Reserve a uid and a port and write the row: NULL if none is free. */
static struct sandbox *
sandbox_create_new(const char *name, json_t *req, json_t *allow,
    const char *policy)
{
	struct sandbox_conf	*sbc = &sbxd_env->sx_conf->sc_sandbox;
	struct sandbox		*sb;
	struct timespec		 ts;

	sb = xcalloc(1, sizeof(*sb));
	if (sandbox_uid_pick(sbc, &sb->sb_uid) == -1 ||
	    sandbox_port_pick(sbc, &sb->sb_port) == -1) {
		free(sb);
		return (NULL);
	}
	snprintf(sb->sb_name, sizeof(sb->sb_name), "%s", name);
	snprintf(sb->sb_user, sizeof(sb->sb_user), "%s%s",
	    SANDBOX_USER_PREFIX, name);
	xasprintf(&sb->sb_home, "%s/%s", sbc->sbc_home, name);
	sb->sb_policy = xstrdup(policy);
	sb->sb_restricted = json_is_true(json_object_get(req, "restricted"));
	sb->sb_allow = json_incref(allow);
	sb->sb_state = SANDBOX_CREATING;
	sandbox_uuid(sb->sb_id, sizeof(sb->sb_id));
	clock_gettime(CLOCK_REALTIME, &ts);
	util_rfc3339(&ts, sb->sb_created, sizeof(sb->sb_created));
	TAILQ_INSERT_TAIL(&sandboxes, sb, sb_entry);
	sandbox_store(sb);
	sb->sb_done |= SANDBOX_DONE_ROW;
	return (sb);
}

/* The first uid of the range no sandbox and no OS user or group has. */
static int
sandbox_uid_pick(struct sandbox_conf *sbc, uid_t *uidp)
{
	struct sandbox	*sb;
	uid_t		 uid;

	for (uid = sbc->sbc_uid_min; uid <= sbc->sbc_uid_max; uid++) {
		TAILQ_FOREACH(sb, &sandboxes, sb_entry)
			if (sb->sb_uid == uid)
				break;
		if (sb == NULL && getpwuid(uid) == NULL &&
		    getgrgid(uid) == NULL) {
			*uidp = uid;
			return (0);
		}
	}
	return (-1);
}

/* The first port of the range no sandbox and no other socket uses. */
static int
sandbox_port_pick(struct sandbox_conf *sbc, in_port_t *portp)
{
	struct sandbox	*sb;
	unsigned int	 port;

	for (port = sbc->sbc_port_min; port <= sbc->sbc_port_max; port++) {
		TAILQ_FOREACH(sb, &sandboxes, sb_entry)
			if (sb->sb_port == port)
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
	int			 fd, ok;

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

/* A random (version 4) UUID. */
static void
sandbox_uuid(char *buf, size_t len)
{
	unsigned char	 b[16];
	int		 fd;

	if ((fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)) == -1 ||
	    read(fd, b, sizeof(b)) != sizeof(b))
		fatal("/dev/urandom");
	close(fd);
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(buf, len, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5],
	    b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

/* Rules and user are in: the home, its files, the rules, the listener. */
static void
sandbox_create_usercb(int status, const char *error,
    const char *output __unused, void *arg)
{
	struct sandbox	*sb = arg;
	char		 err[256];
	json_t		*p;
	size_t		 i;

	sb->sb_proc = NULL;
	if (status != 0) {
		sandbox_create_undo(sb, error);
		return;
	}
	control_req_progress(sb->sb_req, "provisioning %s", sb->sb_home);
	if (sandbox_create_home(sb, err, sizeof(err)) == -1) {
		sandbox_create_undo(sb, err);
		return;
	}
	json_array_foreach(sb->sb_allow, i, p)
		if (store_rule_put(sb->sb_name, json_string_value(p),
		    "allow") == -1) {
			sandbox_create_undo(sb, "the store did not take its "
			    "rules");
			return;
		}
	sandbox_open(sb);
	if (sb->sb_state != SANDBOX_READY) {
		snprintf(err, sizeof(err), "%s", sb->sb_error);
		sandbox_create_undo(sb, err);
		return;
	}
	sandbox_create_done(sb);
}

/* The OS user's home: 0700, its own; then the profile files. */
static int
sandbox_create_home(struct sandbox *sb, char *err, size_t errlen)
{
	struct sandbox_prov	 sp;
	struct passwd		*pw;
	char			 url[64];

	if ((pw = getpwnam(sb->sb_user)) == NULL || pw->pw_uid != sb->sb_uid) {
		snprintf(err, errlen, "OS user %s is not there after useradd",
		    sb->sb_user);
		return (-1);
	}
	sb->sb_gid = pw->pw_gid;
	if (mkdir(sb->sb_home, 0700) == -1) {
		snprintf(err, errlen, "mkdir %s: %s", sb->sb_home,
		    strerror(errno));
		return (-1);
	}
	sb->sb_done |= SANDBOX_DONE_HOME;
	if (chown(sb->sb_home, sb->sb_uid, sb->sb_gid) == -1 ||
	    chmod(sb->sb_home, 0700) == -1) {
		snprintf(err, errlen, "chown %s: %s", sb->sb_home,
		    strerror(errno));
		return (-1);
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", sb->sb_port);
	memset(&sp, 0, sizeof(sp));
	sp.sp_user = sb->sb_user;
	sp.sp_uid = sb->sb_uid;
	sp.sp_gid = sb->sb_gid;
	sp.sp_home = sb->sb_home;
	sp.sp_restricted = sb->sb_restricted;
	sp.sp_proxy_url = url;
	return (sandbox_provision(&sp, err, errlen));
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
	struct sandbox_cmdlist	 cl;
	struct fw_sandbox	 fs;

	snprintf(sb->sb_error, sizeof(sb->sb_error), "%s", why != NULL ?
	    why : "failed");
	log_warnx("sandbox %s: create failed: %s; undoing it", sb->sb_name,
	    sb->sb_error);
	control_req_progress(sb->sb_req, "failed: %s; undoing", sb->sb_error);
	proxy_listener_remove(sb->sb_name);
	sandbox_cmdlist_init(&cl);
	if (sb->sb_done & SANDBOX_DONE_USER)
		sandbox_user_del(&cl, SANDBOX_OS_HOST, sb->sb_user);
	if (sb->sb_done & SANDBOX_DONE_HOME)
		sandbox_cmd_add(&cl, SANDBOX_CMD_MAYFAIL, SANDBOX_RM,
		    sb->sb_home, (char *)NULL);
	if (sb->sb_done & SANDBOX_DONE_FW) {
		sandbox_fw_sandbox(sb, &fs);
		sandbox_fw()->fb_remove(sandbox_fwconf(), &fs, &cl);
	}
	sb->sb_proc = sandbox_proc_run(&cl, SANDBOX_CMD_TIMEOUT, sb->sb_name,
	    sandbox_create_undocb, sb);
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
	if (store_sandbox_delete(sb->sb_name) == -1)
		log_warnx("sandbox %s: its row stays in the store",
		    sb->sb_name);
	snprintf(msg, sizeof(msg), "create %s failed: %s%s", sb->sb_name,
	    sb->sb_error, status != 0 ? " (and undoing it failed: see the "
	    "log)" : "; undone");
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
	if (sb->sb_req != NULL || sb->sb_proc != NULL || sb->sb_ev != NULL) {
		control_req_error(cr, "sandbox %s is busy (%s)", sb->sb_name,
		    sandbox_state_name(sb->sb_state));
		return;
	}
	sb->sb_req = cr;
	sb->sb_state = SANDBOX_REMOVING;
	sandbox_store(sb);
	proxy_listener_remove(sb->sb_name);
	control_req_progress(cr, "stopping the processes of %s (uid %u)",
	    sb->sb_user, (unsigned)sb->sb_uid);
	sb->sb_rounds = 0;
	sb->sb_ev = evtimer_new(sbxd_env->sx_base, sandbox_rm_killcb, sb);
	sandbox_rm_killcb(-1, 0, sb);
}

/* One round: kill every process of the uid; done when none is left. */
static void
sandbox_rm_killcb(evutil_socket_t fd __unused, short events __unused,
    void *arg)
{
	struct sandbox	*sb = arg;
	struct timeval	 tv = { 0, SANDBOX_KILL_MSECS * 1000 };
	int		 n;

	if ((n = sandbox_life_kill(sb->sb_uid)) == 0) {
		event_free(sb->sb_ev);
		sb->sb_ev = NULL;
		sandbox_rm_remove(sb);
		return;
	}
	if (n == -1 || ++sb->sb_rounds >= SANDBOX_KILL_ROUNDS) {
		event_free(sb->sb_ev);
		sb->sb_ev = NULL;
		sandbox_fail(sb, "processes of uid %u cannot be stopped; its "
		    "user and firewall rules stay", (unsigned)sb->sb_uid);
		sandbox_req_error(sb, sb->sb_error);
		return;
	}
	evtimer_add(sb->sb_ev, &tv);
}

/*
 * Send SIGKILL to every process of uid, from a child that becomes uid:
 * kill(-1) then reaches exactly the processes uid may signal, never
 * another user's.  Returns how many were still running before (Linux
 * counts through /proc; elsewhere two rounds are done), or -1.
 */
int
sandbox_life_kill(uid_t uid)
{
	pid_t	 pid;
	int	 n, status;

	if (uid == 0)
		fatalx("%s: uid 0", __func__);
	if ((n = sandbox_count_uid(uid)) == 0)
		return (0);
	switch ((pid = fork())) {
	case -1:
		log_warn("sandbox: fork");
		return (-1);
	case 0:
		if (setgroups(0, NULL) == -1 || setresgid(uid, uid, uid) ==
		    -1 || setresuid(uid, uid, uid) == -1)
			_exit(1);
		kill(-1, SIGKILL);
		_exit(0);
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return (-1);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return (-1);
	return (n);
}

/* Processes, not zombies, whose real, effective or saved uid is uid. */
static int
sandbox_count_uid(uid_t uid)
{
#ifdef __linux__
	DIR		*d;
	struct dirent	*de;
	FILE		*fp;
	char		 path[300], line[256], state = 0;
	unsigned int	 r, e, s;
	int		 n = 0, match;

	if ((d = opendir("/proc")) == NULL)
		return (-1);
	while ((de = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/status", de->d_name);
		if ((fp = fopen(path, "re")) == NULL)
			continue;
		match = 0;
		while (fgets(line, sizeof(line), fp) != NULL) {
			if (strncmp(line, "State:", 6) == 0)
				sscanf(line, "State: %c", &state);
			else if (sscanf(line, "Uid: %u %u %u", &r, &e,
			    &s) == 3)
				match = r == uid || e == uid || s == uid;
		}
		fclose(fp);
		if (match && state != 'Z' && state != 'X')
			n++;
	}
	closedir(d);
	return (n);
#else
	static int	 rounds;

	(void)uid;
	return (rounds++ % 2 == 0);
#endif
}

/* No process left: user, home, then the firewall rules. */
static void
sandbox_rm_remove(struct sandbox *sb)
{
	struct sandbox_cmdlist	 cl;
	struct fw_sandbox	 fs;

	control_req_progress(sb->sb_req, "removing user %s and %s",
	    sb->sb_user, sb->sb_home);
	sandbox_cmdlist_init(&cl);
	if (getpwnam(sb->sb_user) != NULL)
		sandbox_user_del(&cl, SANDBOX_OS_HOST, sb->sb_user);
	sandbox_cmd_add(&cl, SANDBOX_CMD_MAYFAIL, SANDBOX_RM, sb->sb_home,
	    (char *)NULL);
	if (sb->sb_restricted) {
		sandbox_fw_sandbox(sb, &fs);
		sandbox_fw()->fb_remove(sandbox_fwconf(), &fs, &cl);
	}
	sb->sb_proc = sandbox_proc_run(&cl, SANDBOX_CMD_TIMEOUT, sb->sb_name,
	    sandbox_rm_removecb, sb);
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
	if (store_sandbox_delete(sb->sb_name) == -1)
		log_warnx("sandbox %s: its row stays in the store",
		    sb->sb_name);
	log_info("sandbox %s: removed", sb->sb_name);
	events_publish("sandbox.removed", json_pack("{s:s, s:s, s:i}",
	    "sandbox", sb->sb_name, "id", sb->sb_id, "uid", (int)sb->sb_uid));
	control_req_ok(sb->sb_req, NULL);
	sb->sb_req = NULL;
	sandbox_free(sb);
}
