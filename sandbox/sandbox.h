/*
 * sandbox.h: shared inside the sandbox module (sandbox/sandbox*.c and the
 * firewall backends sandbox/fw_*.c).  Privileged work is a list of commands,
 * each an argv run without a shell and an optional text for its stdin,
 * so that generating a sequence is pure (the tests compare it with
 * golden files) and running it is the runner's job (sandbox_proc.c).
 */

#ifndef SANDBOX_H
#define SANDBOX_H

#include <sys/types.h>
#include <sys/queue.h>

#include <netinet/in.h>

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#define SANDBOX_USER_PREFIX	"sbx-"	/* OS user name: sbx-NAME */
#define SANDBOX_NAME_MAX	32	/* [a-z0-9-], fits a user name */
#define SANDBOX_PROVIDERS	4	/* model APIs the gateway knows */
#define SANDBOX_PORTS_MAX	4	/* loopback ports a sandbox reaches:
					   proxy now, API and bridge later */
#define SANDBOX_ARGV_MAX	32	/* arguments in one command */
#define SANDBOX_PORT_SYSCTL	"/proc/sys/net/ipv4/ip_unprivileged_port_start"

#define SANDBOX_CMD_MAYFAIL	0x01	/* a failure does not stop the list */
#define SANDBOX_CMD_OUTPUT	0x02	/* keep stdout for the caller */

/* One command: argv[0] is an absolute path; input goes to its stdin. */
struct sandbox_cmd {
	TAILQ_ENTRY(sandbox_cmd)	 sc_entry;
	char				*sc_argv[SANDBOX_ARGV_MAX + 1];
	char				*sc_input;	/* NULL: /dev/null */
	int				 sc_flags;
};
TAILQ_HEAD(sandbox_cmds, sandbox_cmd);

/*
 * A list of commands.  Building one never fails outright: a command
 * that cannot be added (memory ran out) marks the list failed, and the
 * runner refuses a failed list, so that generators need not check
 * every step.
 */
struct sandbox_cmdlist {
	struct sandbox_cmds		 cl_cmds;
	int				 cl_failed;
};

/* What the firewall needs to know about one sandbox. */
struct fw_sandbox {
	const char			*fs_name;
	uid_t				 fs_uid;
	in_port_t			 fs_ports[SANDBOX_PORTS_MAX];
	int				 fs_nports;	/* its listeners, on
							   127.0.0.1 */
	int				 fs_restricted;	/* reaches nothing else */
};
/* No ports and restricted: the uid is cut off, it reaches nothing. */

/*
 * What the firewall holds: a uid's chain, anchor or map element (port
 * 0), an owner element (uid and port), or a listener port of the ports
 * set (uid (uid_t)-1).
 */
struct fw_held {
	uid_t				 fh_uid;
	in_port_t			 fh_port;
};
#define FW_HELD_MAX		4096

/* What to take out of the firewall because no sandbox explains it. */
struct fw_prune {
	struct fw_held			*fp_owners;	/* owner elements */
	int				 fp_nowners;
	in_port_t			*fp_ports;	/* ports elements */
	int				 fp_nports;
	uid_t				*fp_cut;	/* cut off, kept */
	int				 fp_ncut;
	uid_t				*fp_gone;	/* removed */
	int				 fp_ngone;
};

/* Settings every backend shares. */
struct fw_conf {
	const char			*fc_table;	/* nft table name, "sbxd" */
	int				 fc_group;	/* nflog group; -1: none */
	const char			*fc_anchor;	/* pf, "com.apple/sbx" */
};

/*
 * A firewall backend.  Each call appends the commands that do the job to
 * a list and returns 0, or -1 if its arguments cannot be expressed.
 * init loads the base (table, chain, parent anchor) idempotently; apply
 * replaces one sandbox's rules atomically; remove deletes them; list
 * dumps what is loaded (one SANDBOX_CMD_OUTPUT command) and verify
 * reads that dump: 0 if the sandbox's rules are there as apply loads
 * them, -1 with a reason otherwise.  held reads the dump for every uid
 * and port it holds (at most max; -1 if unreadable), and prune takes
 * out, in one step, what no sandbox explains.
 */
struct fw_backend {
	const char	*fb_name;
	int		(*fb_init)(const struct fw_conf *,
			    struct sandbox_cmdlist *);
	int		(*fb_apply)(const struct fw_conf *,
			    const struct fw_sandbox *, struct sandbox_cmdlist *);
	int		(*fb_remove)(const struct fw_conf *,
			    const struct fw_sandbox *, struct sandbox_cmdlist *);
	int		(*fb_list)(const struct fw_conf *,
			    struct sandbox_cmdlist *);
	int		(*fb_verify)(const struct fw_conf *,
			    const struct fw_sandbox *, const char *, char *,
			    size_t);
	int		(*fb_held)(const struct fw_conf *, const char *,
			    struct fw_held *, int, int *);
	int		(*fb_prune)(const struct fw_conf *,
			    const struct fw_prune *, struct sandbox_cmdlist *);
};

#define SANDBOX_OS_LINUX	1	/* useradd, userdel */
#define SANDBOX_OS_MACOS	2	/* dscl, dseditgroup */

#ifdef __APPLE__
#define SANDBOX_OS_HOST		SANDBOX_OS_MACOS
#else
#define SANDBOX_OS_HOST		SANDBOX_OS_LINUX
#endif

#define SANDBOX_ID_LEN		36	/* a UUID's text */
#define SANDBOX_USER_MAX	(sizeof(SANDBOX_USER_PREFIX) + SANDBOX_NAME_MAX)
#define SANDBOX_UID_NEXT	"sandbox.uid_next"	/* store setting */
#define SANDBOX_CMD_TIMEOUT	60	/* seconds for one privileged
					   command: useradd may wait on a
					   locked /etc/passwd */
#define SANDBOX_CGROUP_DIRS	4	/* a sandbox's cgroup: one directory
					   with cgroup v2, one per hierarchy
					   (memory, pids, cpu, cpuacct) with
					   v1 */
#define SANDBOX_RM_MSECS	100	/* between tries to remove a cgroup */
#define SANDBOX_RM_TRIES	50	/* tries before rm gives up */

enum sandbox_state {
	SANDBOX_CREATING,
	SANDBOX_READY,
	SANDBOX_FAILED,
	SANDBOX_REMOVING
};

struct event;

/*
 * One sandbox: an OS user, its home, its listener, its firewall rules,
 * its cgroup.
 */
struct sandbox {
	TAILQ_ENTRY(sandbox)		 sb_entry;
	char				 sb_id[SANDBOX_ID_LEN + 1];
	char				 sb_name[SANDBOX_NAME_MAX + 1];
	char				 sb_user[SANDBOX_USER_MAX];
	char				*sb_home;
	char				*sb_policy;
	char				*sb_agent;	/* NULL: the config's
							   sandbox agent */
	uid_t				 sb_uid;
	gid_t				 sb_gid;
	in_port_t			 sb_port;
	in_port_t			 sb_gw_port;	/* its credential
							   gateway; 0: none */
	int				 sb_providers;	/* the gateway's, 1 <<
							   provider type */
	char				**sb_repos;	/* "owner/repo", NULL-
							   terminated; NULL:
							   none */
	char				**sb_globs;	/* refs it may push */
	char				 sb_phantom[2 * 32 + 1];
							/* hex of the random
							   bytes its phantom
							   keys are made of */
	int				 sb_restricted;
	enum sandbox_state		 sb_state;
	char				 sb_created[32];
	char				 sb_error[256];	/* why it failed */
	struct sandbox_ask		*sb_proc;	/* root's commands
							   running */
	struct sandbox_provjob		*sb_prov;	/* create: provisioning */
	struct job_uidstop		*sb_stop;	/* rm: stopping the
							   uid's processes */
	struct control_req		*sb_req;	/* who waits on create
							   or rm */
	int				 sb_done;	/* SANDBOX_DONE_* */
	int				 sb_restore;	/* stored: restore it once
							   the firewall base is
							   loaded */
	int				 sb_orphan;	/* its user is here, its
							   row is not: failed,
							   cut off, not stored */
	json_t				*sb_allow;	/* create: --allow */
	char				*sb_cgroups[SANDBOX_CGROUP_DIRS + 1];
							/* its cgroup's
							   directories; none
							   without cgroups */
	struct event			*sb_ev;		/* rm: the next try to
							   remove the cgroup */
	int				 sb_tries;
};
TAILQ_HEAD(sandboxlist, sandbox);

#define SANDBOX_DONE_FW		0x01	/* firewall rules applied */
#define SANDBOX_DONE_USER	0x02	/* useradd ran */
#define SANDBOX_DONE_HOME	0x04	/* home created */
#define SANDBOX_DONE_ROW	0x08	/* row in the store */
#define SANDBOX_DONE_CGROUP	0x10	/* cgroup made */

struct sandbox_as;
struct job_spec;
struct sandbox_conf;

/* sandbox/sandbox.c */
extern struct sandboxlist	 sandboxes;
const struct fw_backend	*sandbox_fw(void);
const struct fw_conf	*sandbox_fwconf(void);
struct sandbox	*sandbox_find(const char *);
const char	*sandbox_state_name(enum sandbox_state);
json_t		*sandbox_strv_json(char *const *);
char		**sandbox_strv(json_t *);
void		 sandbox_strv_free(char **);
json_t		*sandbox_providers_json(int);
int		 sandbox_provider_type(const char *);
json_t		*sandbox_json(const struct sandbox *);
int		 sandbox_store(struct sandbox *);
void		 sandbox_fail(struct sandbox *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
void		 sandbox_free(struct sandbox *);
int		 sandbox_busy(const struct sandbox *);
int		 sandbox_fw_loading(void);
void		 sandbox_fw_sandbox(const struct sandbox *, struct fw_sandbox *);
int		 sandbox_open(struct sandbox *);
int		 sandbox_as(const struct sandbox *, struct sandbox_as *,
		    char ***);
void		 sandbox_env_free(char **);
char		**sandbox_env(const char *, int, in_port_t, int);
char		**sandbox_env_gateway(char **, const char *, int, const char *,
		    in_port_t, int);

/* sandbox/sandbox_life.c */
int		 sandbox_name_ok(const char *);
int		 sandbox_uuid(char *, size_t);
void		 sandbox_life_create(struct control_req *, json_t *);
void		 sandbox_life_rm(struct control_req *, json_t *);
void		 sandbox_life_waiting(const char *);
void		 sandbox_life_shutdown(void);

/* What belongs to the uids of a range on the host (sandbox_uid.c). */
struct sandbox_uidset {
	uid_t		  us_min;
	uid_t		  us_max;
	char		**us_why;	/* per uid: NULL, or what it holds */
	size_t		  us_found;
};

/* sandbox/sandbox_uid.c */
int		 sandbox_uid_scan(struct sandbox_uidset *, uid_t, uid_t);
void		 sandbox_uid_scan_free(struct sandbox_uidset *);
const char	*sandbox_uid_held(const struct sandbox_uidset *, uid_t);
int		 sandbox_uid_ipc_remove(uid_t);
void		 sandbox_ipc_remove(uid_t);
int		 sandbox_uid_files_cmds(struct sandbox_cmdlist *, uid_t);

/* sandbox/sandbox_cgroup.c */
int		 sandbox_cgroup_init(const struct sandbox_conf *);
int		 sandbox_cgroup_check(const struct sandbox_conf *, json_t *);
void		 sandbox_cgroup_reload(const struct sandbox_conf *);
void		 sandbox_cgroup_shutdown(void);
void		 sandbox_cgroup_mountinfo(const char *);
int		 sandbox_cgroup_create(struct sandbox *, char *, size_t);
int		 sandbox_cgroup_update(const struct sandbox *, char *, size_t);
void		 sandbox_cgroup_forget(struct sandbox *);
void		 sandbox_cgroup_kill(const struct sandbox *);
int		 sandbox_cgroup_remove(struct sandbox *);
int		 sandbox_cgroup_nproc(const struct sandbox *);
void		 sandbox_cgroup_json(const struct sandbox *, json_t *);
json_t		*sandbox_cgroup_status(void);
int		 sandbox_cgroup_health(char *, size_t);
int		 sandbox_cgroup_present(const struct sandbox *);

/* sandbox/sandbox_cmd.c */
int		 fw_sandbox_ok(const struct fw_sandbox *);
struct sandbox_cmd *sandbox_cmd_add(struct sandbox_cmdlist *, int,
		    const char *, ...) __attribute__((__sentinel__));
void		 sandbox_cmd_input(struct sandbox_cmdlist *,
		    struct sandbox_cmd *, const char *);
void		 sandbox_cmdlist_init(struct sandbox_cmdlist *);
void		 sandbox_cmdlist_fail(struct sandbox_cmdlist *);
void		 sandbox_cmdlist_free(struct sandbox_cmdlist *);
void		 sandbox_cmdlist_print(FILE *, const struct sandbox_cmdlist *);

/* sandbox/fw_nft.c, sandbox/fw_pf.c */
extern const struct fw_backend fw_nft_backend;
extern const struct fw_backend fw_pf_backend;
int		 fw_pf_list_sandbox(const struct fw_conf *,
		    const struct fw_sandbox *, struct sandbox_cmdlist *);

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

/*
 * Whom a job runs as: a sandbox's OS user, its home and its shell, and
 * what the sandbox adds to the environment.  Nothing is copied.
 */
struct sandbox_as {
	uid_t		 sa_uid;	/* never 0 */
	gid_t		 sa_gid;
	const char	*sa_user;
	const char	*sa_home;
	const char	*sa_shell;
	char *const	*sa_env;	/* more NAME=value, NULL-terminated,
					   may be NULL (TMPDIR, the proxy) */
	const char	*sa_name;	/* the sandbox, for logs and events */
	char *const	*sa_cgroups;	/* cgroup directories its jobs join;
					   NULL-terminated, may be NULL */
	int		 sa_nproc;	/* RLIMIT_NPROC of its jobs; 0: none */
};

/* What provisioning a sandbox's home needs. */
struct sandbox_prov {
	struct sandbox_as sp_as;	/* the home is absolute, the user's */
	int		 sp_restricted;	/* traffic goes through the proxy */
	const char	*sp_proxy_url;	/* "http://127.0.0.1:PORT" */
	in_port_t	 sp_port;	/* its port */
	char *const	*sp_gw_env;	/* its gateway's variables, or
					   NULL */
	const char	*sp_ca_pem;	/* sandbox ca-file's, or NULL */
	int		 sp_gh;		/* it has repositories: the gh shim */
};
/* Below the home: the ca-file's certificates, and the system's with them. */
#define SANDBOX_CA_CERTS	".sbx/ca.pem"
#define SANDBOX_CA_BUNDLE	".sbx/ca-bundle.pem"
/* Below the home: the gh shim's directory, first in PATH. */
#define SANDBOX_GH_BIN		".sbx/bin"
struct sandbox_provjob;
/* The end of a provisioning: NULL when done, else why it failed. */
typedef void	(*sandbox_prov_cb)(const char *, void *);

/* sandbox/sandbox_proc.c */
struct sandbox_proc *sandbox_proc_run(struct sandbox_cmdlist *, int,
		    const char *, sandbox_proc_cb, void *);
pid_t		 sandbox_proc_pid(const struct sandbox_proc *);
void		 sandbox_proc_cancel(struct sandbox_proc *);
void		 sandbox_proc_shutdown(void);

/* sandbox/sandbox_ops.c */
struct sandbox_ask;
void		 sandbox_op_simple(json_t *, const char *);
void		 sandbox_op_fw(json_t *, const char *, const struct fw_sandbox *);
void		 sandbox_op_fw_prune(json_t *, const struct fw_prune *);
void		 sandbox_op_user_add(json_t *, const char *, uid_t, const char *,
		    const char *);
void		 sandbox_op_user_del(json_t *, const char *, int);
void		 sandbox_op_files(json_t *, uid_t);
void		 sandbox_op_home_rm(json_t *, const char *);
struct sandbox_ask *sandbox_ops_run(json_t *, int, const char *,
		    sandbox_proc_cb, void *);
void		 sandbox_ops_cancel(struct sandbox_ask *);
struct sbxd_config;
int		 sandbox_ops_build(json_t *, const struct sbxd_config *,
		    struct sandbox_cmdlist *, char *, size_t);
int		 sandbox_ops_uid(json_int_t, const struct sandbox_conf *,
		    char *, size_t);
int		 sandbox_ops_home(const char *, const char *,
		    const struct sandbox_conf *, char *, size_t);
int		 sandbox_cgroup_dir_check(const char *, const char *, int,
		    char *, size_t);

/* sandbox/sandbox_provision.c */
struct sandbox_provjob *sandbox_provision(const struct sandbox_prov *,
		    sandbox_prov_cb, void *, char *, size_t);
void		 sandbox_provision_cancel(struct sandbox_provjob *);

/* What sandbox_user_job allocated for a job's spec. */
struct sandbox_userjob {
	gid_t		*uj_groups;
	char		**uj_env;
};

/*
 * What exec runs, as whom.  Only what sandbox_exec_start needs while it
 * runs: it copies nothing it keeps.
 */
struct sandbox_exec_spec {
	struct sandbox_as es_as;
	char *const	*es_argv;	/* NULL: the login shell */
	int		 es_tty;	/* run on a pty */
	uint16_t	 es_rows;	/* pty size; 0: the kernel default */
	uint16_t	 es_cols;
	const char	*es_term;	/* TERM with a pty; NULL: none */
};

struct control_req;

/* sandbox/sandbox_exec.c */
extern const struct control_field sandbox_exec_fields[];
int		 sandbox_exec_spec_parse(json_t *, struct sandbox_exec_spec *,
		    char *, size_t);
void		 sandbox_exec_spec_clear(struct sandbox_exec_spec *);
int		 sandbox_exec_start(struct control_req *,
		    const struct sandbox_exec_spec *, char *, size_t);
void		 sandbox_exec_shutdown(void);
json_t		*sandbox_exec_status(void);

/* sandbox/sandbox_user.c */
int		 sandbox_user_job(const struct sandbox_as *, const char *,
		    struct job_spec *, struct sandbox_userjob *, char *,
		    size_t);
void		 sandbox_user_job_clear(struct sandbox_userjob *);
int		 sandbox_user_add(struct sandbox_cmdlist *, int, const char *,
		    uid_t, const char *, const char *, const char *);
int		 sandbox_user_del(struct sandbox_cmdlist *, int, const char *,
		    int);

/* sandbox/sandbox_blocked.c */
int		 sandbox_blocked_init(void);
void		 sandbox_blocked_shutdown(void);

#endif /* SANDBOX_H */
