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

const struct priv_op sbxd_priv_ops[] = {
	{ "spawn", job_priv_spawn },
	{ "kill", job_priv_kill },
	{ "cmds", sandbox_priv_cmds },
	{ "cancel", sandbox_priv_cancel },
	{ "home", sandbox_priv_home },
	{ "ipc", sandbox_priv_ipc },
	{ "cgroup", sandbox_priv_cgroup },
	{ "blocked", sandbox_priv_blocked },
	{ "capture", pfmon_priv_capture },
	{ NULL, NULL }
};

const struct job_fn sbxd_job_fns[] = {
	{ "provision", sandbox_provision_main },
	{ "uidkill", job_uid_kill },
	{ NULL, NULL }
};

/* A cgroup directory a job of the engine's may join: a sandbox's. */
int
priv_cgroup_dir_ok(const char *dir, char *err, size_t errlen)
{
	return (sandbox_cgroup_dir_check(dir,
	    priv_conf()->sc_sandbox.sbc_cgroup, 0, err, errlen));
}

/* At the privileged process's end: what its operations hold. */
void
priv_ops_cleanup(void)
{
	sandbox_priv_shutdown();
	pfmon_priv_shutdown();
}
