/*
 * sandbox_user.c: the OS user a sandbox runs as.  The commands that
 * create and delete it, sbx-NAME with a group of the same name and id,
 * for Linux (shadow's useradd) and macOS (Directory Services): the user
 * has no password anyone can log in with and no supplementary groups;
 * the daemon creates and removes the home directory itself.  Nothing
 * here runs a command: the lists go to the runner, and the arguments
 * are checked first because they end up in passwd and in the directory.
 *
 * And the one definition of running as that user (sandbox_user_job):
 * every job of a sandbox, exec, provisioning or an agent, gets its
 * credentials, cgroup, home and environment from here.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "sbxd.h"
#include "sandbox.h"

#define SANDBOX_USERADD		"/usr/sbin/useradd"
#define SANDBOX_GROUPADD	"/usr/sbin/groupadd"
#define SANDBOX_USERDEL		"/usr/sbin/userdel"
#define SANDBOX_GROUPDEL	"/usr/sbin/groupdel"
#define SANDBOX_DSCL		"/usr/bin/dscl"
#define SANDBOX_DSEDITGROUP	"/usr/sbin/dseditgroup"
#define SANDBOX_UID_NOBODY	65534U	/* Linux nobody: never a sandbox */
#define SANDBOX_COMMENT_MAX	64	/* GECOS / RealName */
#define SANDBOX_USER_IDLEN	16	/* a uid in decimal, and its NUL */
#define SANDBOX_USER_RECMAX	(sizeof("/Users/") + SANDBOX_USER_MAX)
#define SANDBOX_USER_PATH	"/usr/local/bin:/usr/bin:/bin" /* PATH in a
					   sandbox: nothing of the host's */
#define SANDBOX_USER_ENV_BASE	6	/* HOME USER LOGNAME SHELL PATH TERM */
#define SANDBOX_USER_GROUPS	64	/* first guess at a user's groups */

static int	sandbox_user_as_ok(const struct sandbox_as *, char *, size_t);
static char	**sandbox_user_env(const struct sandbox_as *, const char *);
static int	sandbox_user_env_put(char **, size_t *, char *);
static int	sandbox_user_env_add(char **, size_t *, const char *,
		    const char *);
static void	sandbox_user_env_free(char **);
static gid_t	*sandbox_user_groups(const struct sandbox_as *, int *);
static int	sandbox_user_name_ok(const char *);
static int	sandbox_user_comment_ok(const char *);
static void	sandbox_user_add_linux(struct sandbox_cmdlist *, const char *,
		    const char *, const char *, const char *, const char *);
static void	sandbox_user_add_macos(struct sandbox_cmdlist *, const char *,
		    const char *, const char *, const char *, const char *);

/*
 * Fill js to run as sa's user: its groups, gid and uid, its cgroup and
 * process limit, its home as the directory, and an environment built
 * from scratch: HOME, USER, LOGNAME, SHELL, PATH, TERM if term is given,
 * then sa_env, whose variables replace a base one of the same name.
 * What it allocates is in uj, for sandbox_user_job_clear once the job
 * runs.  -1: err says why.
 */
int
sandbox_user_job(const struct sandbox_as *sa, const char *term,
    struct job_spec *js, struct sandbox_userjob *uj, char *err,
    size_t errlen)
{
	memset(uj, 0, sizeof(*uj));
	if (sandbox_user_as_ok(sa, err, errlen) == -1)
		return (-1);
	if ((uj->uj_env = sandbox_user_env(sa, term)) == NULL ||
	    (uj->uj_groups = sandbox_user_groups(sa,
	    &js->js_ngroups)) == NULL) {
		sandbox_user_job_clear(uj);
		snprintf(err, errlen, "out of memory");
		return (-1);
	}
	js->js_flags |= JOB_CREDS;
	js->js_uid = sa->sa_uid;
	js->js_gid = sa->sa_gid;
	js->js_groups = uj->uj_groups;
	js->js_cwd = sa->sa_home;
	js->js_envp = uj->uj_env;
	js->js_cgroups = sa->sa_cgroups;
	js->js_nproc = sa->sa_nproc;
	return (0);
}

/* Free what sandbox_user_job allocated. */
void
sandbox_user_job_clear(struct sandbox_userjob *uj)
{
	sandbox_user_env_free(uj->uj_env);
	uj->uj_env = NULL;
	free(uj->uj_groups);
	uj->uj_groups = NULL;
}

/* Never root, and everything a login needs. */
static int
sandbox_user_as_ok(const struct sandbox_as *sa, char *err, size_t errlen)
{
	char *const	*e;
	int		 n = 0;

	if (sa->sa_uid == 0 || sa->sa_gid == 0) {
		snprintf(err, errlen, "refusing to run a command as root");
		return (-1);
	}
	if (sa->sa_user == NULL || sa->sa_home == NULL ||
	    sa->sa_shell == NULL || *sa->sa_home != '/' ||
	    *sa->sa_shell != '/') {
		snprintf(err, errlen, "no user, home or shell");
		return (-1);
	}
	for (e = sa->sa_env; e != NULL && *e != NULL; e++)
		if (++n > SANDBOX_EXEC_ENV_MAX || strchr(*e, '=') == NULL ||
		    **e == '=') {
			snprintf(err, errlen, "bad environment");
			return (-1);
		}
	return (0);
}

static char **
sandbox_user_env(const struct sandbox_as *sa, const char *term)
{
	char *const	*e;
	char		**env, *kv;
	size_t		 n = 0;

	env = calloc(SANDBOX_USER_ENV_BASE + SANDBOX_EXEC_ENV_MAX + 1,
	    sizeof(*env));
	if (env == NULL)
		return (NULL);
	if (sandbox_user_env_add(env, &n, "HOME", sa->sa_home) == -1 ||
	    sandbox_user_env_add(env, &n, "USER", sa->sa_user) == -1 ||
	    sandbox_user_env_add(env, &n, "LOGNAME", sa->sa_user) == -1 ||
	    sandbox_user_env_add(env, &n, "SHELL", sa->sa_shell) == -1 ||
	    sandbox_user_env_add(env, &n, "PATH", SANDBOX_USER_PATH) == -1 ||
	    (term != NULL &&
	    sandbox_user_env_add(env, &n, "TERM", term) == -1))
		goto fail;
	for (e = sa->sa_env; e != NULL && *e != NULL; e++)
		if ((kv = strdup(*e)) == NULL ||
		    sandbox_user_env_put(env, &n, kv) == -1)
			goto fail;
	return (env);
fail:
	sandbox_user_env_free(env);
	return (NULL);
}

/* Set NAME=value, replacing a variable of the same name.  Takes kv. */
static int
sandbox_user_env_put(char **env, size_t *n, char *kv)
{
	size_t	 i, len = strcspn(kv, "=") + 1;

	for (i = 0; i < *n; i++)
		if (strncmp(env[i], kv, len) == 0) {
			free(env[i]);
			env[i] = kv;
			return (0);
		}
	env[(*n)++] = kv;
	return (0);
}

static int
sandbox_user_env_add(char **env, size_t *n, const char *name,
    const char *value)
{
	char	*kv;

	if (asprintf(&kv, "%s=%s", name, value) == -1)
		return (-1);
	return (sandbox_user_env_put(env, n, kv));
}

static void
sandbox_user_env_free(char **env)
{
	size_t	 i;

	for (i = 0; env != NULL && env[i] != NULL; i++)
		free(env[i]);
	free(env);
}

/* The user's groups from the group database, or its gid alone. */
static gid_t *
sandbox_user_groups(const struct sandbox_as *sa, int *ngroups)
{
	gid_t	*groups;
	int	 n = SANDBOX_USER_GROUPS;

	if ((groups = calloc(n, sizeof(gid_t))) == NULL)
		return (NULL);
	if (getgrouplist(sa->sa_user, sa->sa_gid, groups, &n) == -1) {
		free(groups);
		if ((groups = calloc(n, sizeof(gid_t))) == NULL)
			return (NULL);
		if (getgrouplist(sa->sa_user, sa->sa_gid, groups, &n) == -1)
			n = 0;
	}
	if (n < 1) {
		groups[0] = sa->sa_gid;
		n = 1;
	}
	*ngroups = n;
	return (groups);
}

/* sbx- and 1 to SANDBOX_NAME_MAX of [a-z0-9-], not starting with '-'. */
static int
sandbox_user_name_ok(const char *user)
{
	size_t		 plen = strlen(SANDBOX_USER_PREFIX), n;
	const char	*p;

	if (user == NULL || strncmp(user, SANDBOX_USER_PREFIX, plen) != 0)
		return (0);
	p = user + plen;
	n = strlen(p);
	if (n < 1 || n > SANDBOX_NAME_MAX || *p == '-')
		return (0);
	return (strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789-") == n);
}

/* Printable ASCII without ':' (the passwd separator); may be NULL. */
static int
sandbox_user_comment_ok(const char *comment)
{
	const char	*p;

	if (comment == NULL)
		return (1);
	if (strlen(comment) > SANDBOX_COMMENT_MAX)
		return (0);
	for (p = comment; *p != '\0'; p++)
		if (*p < 0x20 || *p > 0x7e || *p == ':')
			return (0);
	return (1);
}

/*
 * Create user with uid (SANDBOX_UID_MIN to SANDBOX_UID_LIMIT), a group
 * of the same name, home (made by the caller), shell and comment (NULL
 * or "": none).
 */
int
sandbox_user_add(struct sandbox_cmdlist *cl, int os, const char *user,
    uid_t uid, const char *home, const char *shell, const char *comment)
{
	char	 id[SANDBOX_USER_IDLEN];

	if (!sandbox_user_name_ok(user) || uid < SANDBOX_UID_MIN ||
	    uid == SANDBOX_UID_NOBODY || uid > SANDBOX_UID_LIMIT ||
	    !config_path_ok(home) || !config_path_ok(shell) ||
	    !sandbox_user_comment_ok(comment))
		return (-1);
	if (comment != NULL && *comment == '\0')
		comment = NULL;
	snprintf(id, sizeof(id), "%lu", (unsigned long)uid);
	switch (os) {
	case SANDBOX_OS_LINUX:
		sandbox_user_add_linux(cl, user, id, home, shell, comment);
		return (0);
	case SANDBOX_OS_MACOS:
		sandbox_user_add_macos(cl, user, id, home, shell, comment);
		return (0);
	}
	return (-1);
}

/*
 * The group first, with the uid as its gid (useradd -U would take the
 * next free gid instead), then the user in it.  useradd leaves the
 * password locked ("!" in shadow) unless given -p, and adds no
 * supplementary groups unless given -G; -M as the daemon makes the
 * home; -l keeps large uids out of lastlog and faillog, which would
 * otherwise grow sparse up to the uid's offset.  A uid above
 * login.defs' UID_MAX only draws a warning.
 */
static void
sandbox_user_add_linux(struct sandbox_cmdlist *cl, const char *user,
    const char *id, const char *home, const char *shell, const char *comment)
{
	sandbox_cmd_add(cl, 0, SANDBOX_GROUPADD, "-g", id, user, NULL);
	if (comment != NULL)
		sandbox_cmd_add(cl, 0, SANDBOX_USERADD, "-u", id, "-g", id,
		    "-d", home, "-M", "-s", shell, "-l", "-c", comment, user,
		    NULL);
	else
		sandbox_cmd_add(cl, 0, SANDBOX_USERADD, "-u", id, "-g", id,
		    "-d", home, "-M", "-s", shell, "-l", user, NULL);
}

/*
 * The group first (gid = uid), then the user record attribute by
 * attribute.  Password "*" and no AuthenticationAuthority: no password
 * can ever match.  IsHidden keeps it off the login window.
 */
static void
sandbox_user_add_macos(struct sandbox_cmdlist *cl, const char *user,
    const char *id, const char *home, const char *shell, const char *comment)
{
	char	 rec[SANDBOX_USER_RECMAX];

	snprintf(rec, sizeof(rec), "/Users/%s", user);
	sandbox_cmd_add(cl, 0, SANDBOX_DSEDITGROUP, "-o", "create", "-i", id,
	    "-r", comment != NULL ? comment : user, user, NULL);
	sandbox_cmd_add(cl, 0, SANDBOX_DSCL, ".", "-create", rec, NULL);
	sandbox_cmd_add(cl, 0, SANDBOX_DSCL, ".", "-create", rec, "UniqueID",
	    id, NULL);
	sandbox_cmd_add(cl, 0, SANDBOX_DSCL, ".", "-create", rec,
	    "PrimaryGroupID", id, NULL);
	sandbox_cmd_add(cl, 0, SANDBOX_DSCL, ".", "-create", rec,
	    "NFSHomeDirectory", home, NULL);
	sandbox_cmd_add(cl, 0, SANDBOX_DSCL, ".", "-create", rec, "UserShell",
	    shell, NULL);
	sandbox_cmd_add(cl, 0, SANDBOX_DSCL, ".", "-create", rec, "RealName",
	    comment != NULL ? comment : user, NULL);
	sandbox_cmd_add(cl, 0, SANDBOX_DSCL, ".", "-create", rec, "Password",
	    "*", NULL);
	sandbox_cmd_add(cl, 0, SANDBOX_DSCL, ".", "-create", rec, "IsHidden",
	    "1", NULL);
}

/*
 * Delete user (if present: a create undone after its group was made
 * has no user yet) and its group, not its home (the daemon removes
 * that).  userdel already drops the user group where USERGROUPS_ENAB is
 * set, so groupdel may find nothing to do.
 */
int
sandbox_user_del(struct sandbox_cmdlist *cl, int os, const char *user,
    int present)
{
	char	 rec[SANDBOX_USER_RECMAX];

	if (!sandbox_user_name_ok(user))
		return (-1);
	switch (os) {
	case SANDBOX_OS_LINUX:
		if (present)
			sandbox_cmd_add(cl, 0, SANDBOX_USERDEL, user, NULL);
		sandbox_cmd_add(cl, SANDBOX_CMD_MAYFAIL, SANDBOX_GROUPDEL,
		    user, NULL);
		return (0);
	case SANDBOX_OS_MACOS:
		snprintf(rec, sizeof(rec), "/Users/%s", user);
		if (present)
			sandbox_cmd_add(cl, 0, SANDBOX_DSCL, ".", "-delete",
			    rec, NULL);
		sandbox_cmd_add(cl, 0, SANDBOX_DSEDITGROUP, "-o", "delete",
		    user, NULL);
		return (0);
	}
	return (-1);
}

/*
 * The sandbox environment, as NAME=VALUE strings (NULL-terminated, for
 * sandbox_env_free), the same for every job of the sandbox and for its
 * shells (env.sh): TMPDIR; for a restricted sandbox the proxy (loopback
 * included: the proxy refuses it unless the policy allows it), in both
 * cases, and for Node's own fetch; with a ca-file, the bundle of the
 * system's and its certificates for OpenSSL, curl, git, Python's
 * requests and pip, and its certificates for Node.  NULL if memory ran
 * out.
 */
char **
sandbox_env(const char *home, int restricted, in_port_t port, int ca)
{
	static const char	*proxyvars[] = { "HTTP_PROXY", "HTTPS_PROXY",
				    "http_proxy", "https_proxy" };
	static const char	*bundlevars[] = { "SSL_CERT_FILE",
				    "CURL_CA_BUNDLE", "GIT_SSL_CAINFO",
				    "REQUESTS_CA_BUNDLE", "PIP_CERT" };
	char			**env;
	size_t			 i, n = 0;
	int			 r = 0;

	if ((env = calloc(1 + nitems(proxyvars) + 1 + nitems(bundlevars) +
	    1 + 1, sizeof(*env))) == NULL)
		return (NULL);
	if (asprintf(&env[n++], "TMPDIR=%s/tmp", home) == -1)
		goto fail;
	for (i = 0; restricted && i < nitems(proxyvars); i++)
		if (asprintf(&env[n++], "%s=http://127.0.0.1:%u",
		    proxyvars[i], port) == -1)
			goto fail;
	if (restricted && (env[n++] = strdup("NODE_USE_ENV_PROXY=1")) == NULL)
		goto fail;
	for (i = 0; ca && i < nitems(bundlevars); i++)
		if (asprintf(&env[n++], "%s=%s/%s", bundlevars[i], home,
		    SANDBOX_CA_BUNDLE) == -1)
			goto fail;
	if (ca)
		r = asprintf(&env[n++], "NODE_EXTRA_CA_CERTS=%s/%s", home,
		    SANDBOX_CA_CERTS);
	if (r == -1)
		goto fail;
	return (env);
fail:
	env[n - 1] = NULL;	/* asprintf left it undefined */
	sandbox_env_free(env);
	return (NULL);
}

/*
 * env (from sandbox_env) with the variables that point the agent CLIs
 * at the sandbox's credential gateway on port, with its phantom keys
 * (proxy_gw_env); with git, also a PATH that has home's gh shim first
 * (sandbox_user_job lets it replace the base PATH).  env is freed.
 * NULL if memory ran out.
 */
char **
sandbox_env_gateway(char **env, const char *home, int providers,
    const char *phantom, in_port_t port, int git)
{
	char	**gw, **all;
	size_t	 n = 0, m = 0, i;

	if ((gw = proxy_gw_env(providers, phantom, port, git)) == NULL) {
		sandbox_env_free(env);
		return (NULL);
	}
	while (env[n] != NULL)
		n++;
	while (gw[m] != NULL)
		m++;
	if ((all = calloc(n + m + 2, sizeof(*all))) == NULL) {
		sandbox_env_free(env);
		sandbox_env_free(gw);
		return (NULL);
	}
	for (i = 0; i < n; i++)
		all[i] = env[i];
	for (i = 0; i < m; i++)
		all[n + i] = gw[i];
	free(env);
	free(gw);
	if (git && asprintf(&all[n + m], "PATH=%s/" SANDBOX_GH_BIN ":"
	    SANDBOX_USER_PATH, home) == -1) {
		all[n + m] = NULL;	/* asprintf left it undefined */
		sandbox_env_free(all);
		return (NULL);
	}
	return (all);
}

/* Free an environment from sandbox_env or sandbox_as. */
void
sandbox_env_free(char **env)
{
	size_t	 i;

	for (i = 0; env != NULL && env[i] != NULL; i++)
		free(env[i]);
	free(env);
}
