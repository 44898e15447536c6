/*
 * sandbox_run.h: carrying out the sandbox module's privileged work: the
 * asynchronous runner for command lists (sandbox_proc.c) and the
 * provisioning of a sandbox's home directory (sandbox_provision.c).
 */

#ifndef SANDBOX_RUN_H
#define SANDBOX_RUN_H

#include <sys/types.h>

struct sandbox_cmdlist;
struct sandbox_proc;

/*
 * The end of a command list, called once from the loop.  status is 0 on
 * success, else the exit code of the command that stopped the list, or
 * -1 if it did not exit by itself (timed out, killed, never started);
 * error says why (NULL on success).  output is the stdout of the last
 * SANDBOX_CMD_OUTPUT command on success, else NULL.  Neither string
 * outlives the call.
 */
typedef void	(*sandbox_proc_cb)(int, const char *, const char *, void *);

/* What provisioning a sandbox's home needs. */
struct sandbox_prov {
	const char	*sp_user;
	uid_t		 sp_uid;
	gid_t		 sp_gid;
	const char	*sp_home;	/* absolute; owned by sp_uid */
	int		 sp_restricted;	/* traffic goes through the proxy */
	const char	*sp_proxy_url;	/* "http://127.0.0.1:PORT" */
};

/* src/sandbox_proc.c */
struct sandbox_proc *sandbox_proc_run(struct sandbox_cmdlist *, int,
		    const char *, sandbox_proc_cb, void *);
pid_t		 sandbox_proc_pid(const struct sandbox_proc *);
void		 sandbox_proc_cancel(struct sandbox_proc *);
void		 sandbox_proc_shutdown(void);

/* src/sandbox_provision.c */
int		 sandbox_provision(const struct sandbox_prov *, char *, size_t);

#endif /* SANDBOX_RUN_H */
