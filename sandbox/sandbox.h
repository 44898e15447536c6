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
#define SANDBOX_PORTS_MAX	4	/* loopback ports a sandbox reaches:
					   proxy now, API and bridge later */
#define SANDBOX_ARGV_MAX	32	/* arguments in one command */

#define SANDBOX_CMD_MAYFAIL	0x01	/* a failure does not stop the list */
#define SANDBOX_CMD_OUTPUT	0x02	/* keep stdout for the caller */

/* One command: argv[0] is an absolute path; input goes to its stdin. */
struct sandbox_cmd {
	TAILQ_ENTRY(sandbox_cmd)	 sc_entry;
	char				*sc_argv[SANDBOX_ARGV_MAX + 1];
	char				*sc_input;	/* NULL: /dev/null */
	int				 sc_flags;
};
TAILQ_HEAD(sandbox_cmdlist, sandbox_cmd);

/* What the firewall needs to know about one sandbox. */
struct fw_sandbox {
	const char			*fs_name;
	uid_t				 fs_uid;
	in_port_t			 fs_ports[SANDBOX_PORTS_MAX];
	int				 fs_nports;	/* TCP to 127.0.0.1 and
							   ::1 on these ports */
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
 * them, -1 with a reason otherwise.
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
#define SANDBOX_CMD_TIMEOUT	60	/* seconds for one privileged
					   command: useradd may wait on a
					   locked /etc/passwd */
#define SANDBOX_KILL_ROUNDS	50	/* rm: rounds of SIGKILL to every
					   process of the uid ... */
#define SANDBOX_KILL_MSECS	100	/* ... this far apart */

enum sandbox_state {
	SANDBOX_CREATING,
	SANDBOX_READY,
	SANDBOX_FAILED,
	SANDBOX_REMOVING
};

/* One sandbox: an OS user, its home, its listener, its firewall rules. */
struct sandbox {
	TAILQ_ENTRY(sandbox)		 sb_entry;
	char				 sb_id[SANDBOX_ID_LEN + 1];
	char				 sb_name[SANDBOX_NAME_MAX + 1];
	char				 sb_user[SANDBOX_USER_MAX];
	char				*sb_home;
	char				*sb_policy;
	uid_t				 sb_uid;
	gid_t				 sb_gid;
	in_port_t			 sb_port;
	int				 sb_restricted;
	enum sandbox_state		 sb_state;
	char				 sb_created[32];
	char				 sb_error[256];	/* why it failed */
	struct sandbox_proc		*sb_proc;	/* commands running */
	struct control_req		*sb_req;	/* who waits on create
							   or rm */
	int				 sb_done;	/* SANDBOX_DONE_* */
	int				 sb_rounds;	/* rm: kill rounds */
	struct event			*sb_ev;		/* rm: kill timer */
	json_t				*sb_allow;	/* create: --allow */
};
TAILQ_HEAD(sandboxlist, sandbox);

#define SANDBOX_DONE_FW		0x01	/* firewall rules applied */
#define SANDBOX_DONE_USER	0x02	/* useradd ran */
#define SANDBOX_DONE_HOME	0x04	/* home created */
#define SANDBOX_DONE_ROW	0x08	/* row in the store */

/* sandbox/sandbox.c */
extern struct sandboxlist	 sandboxes;
const struct fw_backend	*sandbox_fw(void);
const struct fw_conf	*sandbox_fwconf(void);
struct sandbox	*sandbox_find(const char *);
const char	*sandbox_state_name(enum sandbox_state);
json_t		*sandbox_json(const struct sandbox *);
void		 sandbox_store(struct sandbox *);
void		 sandbox_fail(struct sandbox *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
void		 sandbox_free(struct sandbox *);
void		 sandbox_fw_sandbox(const struct sandbox *, struct fw_sandbox *);
void		 sandbox_open(struct sandbox *);

/* sandbox/sandbox_life.c */
void		 sandbox_life_create(struct control_req *, json_t *);
void		 sandbox_life_rm(struct control_req *, json_t *);
int		 sandbox_life_kill(uid_t);

/* sandbox/sandbox_cmd.c */
struct sandbox_cmd *sandbox_cmd_add(struct sandbox_cmdlist *, int,
		    const char *, ...) __attribute__((__sentinel__));
void		 sandbox_cmd_input(struct sandbox_cmd *, const char *);
void		 sandbox_cmdlist_init(struct sandbox_cmdlist *);
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

/* What provisioning a sandbox's home needs. */
struct sandbox_prov {
	const char	*sp_user;
	uid_t		 sp_uid;
	gid_t		 sp_gid;
	const char	*sp_home;	/* absolute; owned by sp_uid */
	int		 sp_restricted;	/* traffic goes through the proxy */
	const char	*sp_proxy_url;	/* "http://127.0.0.1:PORT" */
};

/* sandbox/sandbox_proc.c */
struct sandbox_proc *sandbox_proc_run(struct sandbox_cmdlist *, int,
		    const char *, sandbox_proc_cb, void *);
pid_t		 sandbox_proc_pid(const struct sandbox_proc *);
void		 sandbox_proc_cancel(struct sandbox_proc *);
void		 sandbox_proc_shutdown(void);

/* sandbox/sandbox_provision.c */
int		 sandbox_provision(const struct sandbox_prov *, char *, size_t);

/*
 * What to run and as whom.  Only what sandbox_exec_start needs while it
 * runs: it copies nothing it keeps.  The environment is built from these
 * fields and env alone, never from the daemon's own.
 */
struct sandbox_exec_spec {
	uid_t		 es_uid;	/* never 0 */
	gid_t		 es_gid;
	const char	*es_user;
	const char	*es_home;
	const char	*es_shell;
	char *const	*es_argv;	/* NULL: the login shell */
	int		 es_tty;	/* run on a pty */
	uint16_t	 es_rows;	/* pty size; 0: the kernel default */
	uint16_t	 es_cols;
	const char	*es_term;	/* TERM with a pty; NULL: none */
	char *const	*es_env;	/* more NAME=value, NULL-terminated,
					   may be NULL (proxy settings) */
	const char	*es_name;	/* the sandbox, for logs and events */
};

struct control_req;

/* sandbox/sandbox_exec.c */
int		 sandbox_exec_spec_parse(json_t *, struct sandbox_exec_spec *,
		    char *, size_t);
void		 sandbox_exec_spec_clear(struct sandbox_exec_spec *);
int		 sandbox_exec_start(struct control_req *,
		    const struct sandbox_exec_spec *, char *, size_t);
void		 sandbox_exec_shutdown(void);
json_t		*sandbox_exec_status(void);

/* sandbox/sandbox_user.c */
int		 sandbox_user_add(struct sandbox_cmdlist *, int, const char *,
		    uid_t, const char *, const char *, const char *);
int		 sandbox_user_del(struct sandbox_cmdlist *, int, const char *);

#endif /* SANDBOX_H */
