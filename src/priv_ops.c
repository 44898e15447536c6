/*
 * priv_ops.c: what the privileged process does for the engine, by name,
 * and the functions a job it starts may run instead of a program.  The
 * list is fixed here; each operation checks its own arguments.
 */

#include <sys/types.h>

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "config.h"
#include "sbxd.h"

#define PRIV_CGROUP_ROOT	"/sys/fs/cgroup"

const struct priv_op sbxd_priv_ops[] = {
	{ "spawn", job_priv_spawn },
	{ "kill", job_priv_kill },
	{ NULL, NULL }
};

const struct job_fn sbxd_job_fns[] = {
	{ "provision", sandbox_provision_main },
	{ "uidkill", job_uid_kill },
	{ NULL, NULL }
};

/*
 * A cgroup directory a job of the engine's may join: strictly below the
 * sandboxes' parent (sandbox cgroup), under the cgroup v2 mount or one
 * v1 hierarchy of /sys/fs/cgroup, with no "." or ".." step.
 */
int
priv_cgroup_dir_ok(const char *dir, char *err, size_t errlen)
{
	const struct sbxd_config	*conf = priv_conf();
	const char			*parent = conf->sc_sandbox.sbc_cgroup;
	const char			*p, *rest;
	size_t				 len;

	if (strncmp(dir, PRIV_CGROUP_ROOT "/", sizeof(PRIV_CGROUP_ROOT)) != 0 ||
	    strstr(dir, "/./") != NULL || strstr(dir, "/../") != NULL ||
	    strstr(dir, "//") != NULL ||
	    ((len = strlen(dir)) >= 2 && strcmp(dir + len - 2, "/.") == 0) ||
	    (len >= 3 && strcmp(dir + len - 3, "/..") == 0))
		goto bad;
	rest = dir + sizeof(PRIV_CGROUP_ROOT) - 1;	/* "/..." */
	len = strlen(parent);
	if (strncmp(rest, parent, len) == 0 && rest[len] == '/' &&
	    rest[len + 1] != '\0')
		return (0);
	/* cgroup v1: one hierarchy's mount, then the parent. */
	if ((p = strchr(rest + 1, '/')) != NULL &&
	    strncmp(p, parent, len) == 0 && p[len] == '/' && p[len + 1] != '\0')
		return (0);
bad:
	return (util_err(err, errlen, "cgroup %s is not below the sandboxes' "
	    "parent %s", dir, parent));
}
