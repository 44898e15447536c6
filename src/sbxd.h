/*
 * sbxd.h: what crosses components: the daemon's global state, the config
 * tree built by parse.y, the component interface and every prototype
 * another part of the daemon calls.
 */

#ifndef SBXD_H
#define SBXD_H

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <jansson.h>

#include "compat.h"
#include "sbxd_proto.h"

#define SBXD_STATE		"/var/lib/sbxd"	/* default state directory */
#define SBXD_PIDFILE		"/run/sbxd.pid"	/* default pidfile */
#define SBXD_DB			"sbxd.db"	/* store, inside state */
#define SBXD_LOCK		"sbxd.lock"	/* one daemon per state */
#define SBXD_DBDIR		"db"		/* the engine's, inside state:
						   the store and its lock */
#define SBXD_LOGLEVEL		LOG_INFO	/* default log level */
#define SBXD_LOG_FACILITY	LOG_DAEMON
#define SBXD_NAME_MAX		64	/* policy names: fit a log line */
#define SBXD_PATH_MAX		1024	/* paths in the config */
#define PROXY_PORT		3128	/* default proxy listener port */
#define PROXY_TIMEOUT_CONNECT	10	/* seconds to reach an upstream */
#define PROXY_TIMEOUT_HEADER	15	/* seconds for a whole request head:
					   a slowloris client goes after it */
#define PROXY_TIMEOUT_IDLE	300	/* seconds a kept-alive connection or
					   tunnel may carry nothing */
#define PROXY_TIMEOUT_LIMIT	86400	/* largest timeout accepted */
#define PROXY_MAX_SESSIONS	10000	/* sessions at once, all listeners */
#define PROXY_SESSIONS_LIMIT	1000000	/* largest limit accepted */
#define PROXY_BUFFER		(1024 * 1024) /* bytes queued per direction
					   before reading that side pauses */
#define PROXY_BUFFER_MIN	4096
#define PROXY_BUFFER_LIMIT	(64 * 1024 * 1024)
#define RESOLVER_PORT		53	/* default nameserver port */
#define PFMON_IFACE_MAX		64	/* "pflog0", "nflog:5" */
#define PFMON_NFLOG_PREFIX	"nflog:" /* libpcap's name for a group */
#define PFMON_NFLOG_GROUP_MAX	65535
#define PFMON_BUFFER		(2 * 1024 * 1024) /* capture buffer: a
					   burst queues here, not in drops */
#define PFMON_BUFFER_MIN	65536
#define PFMON_BUFFER_LIMIT	(256 * 1024 * 1024)
#define PFMON_WINDOW		2	/* seconds packets of one flow are
					   coalesced into one alert */
#define PFMON_WINDOW_LIMIT	3600
#define PFMON_LIMIT		20	/* alerts per uid per window */
#define PFMON_LIMIT_LIMIT	100000
#define SANDBOX_UID_FIRST	60100	/* default uid-range: far from */
#define SANDBOX_UID_LAST	60999	/* login and system users */
#define SANDBOX_UID_MIN		1000	/* never a system uid */
#define SANDBOX_UID_LIMIT	2147483646
#define SANDBOX_PORT_FIRST	700	/* default port-range of the */
#define SANDBOX_PORT_LAST	999	/* per-sandbox proxy listeners */
#define SANDBOX_MAX_SESSIONS	256	/* a sandbox listener's sessions at
					   once, by default: well under
					   PROXY_MAX_SESSIONS */
#define SANDBOX_PORT_LIMIT	1023	/* only root binds these: nobody
					   else can take a sandbox's
					   listener, even while sbxd is down */
#define SANDBOX_HOME		"/var/lib/sbxd/home"
#define SANDBOX_CA_MAX		(256 * 1024)	/* a sandbox ca-file */
#define SANDBOX_SHELL		"/bin/bash"
#define SANDBOX_FW_TABLE	"sbxd"	/* nftables: table inet sbxd */
#define SANDBOX_FW_ANCHOR	"com.apple/sbx"	/* pf: a child of com.apple,
					   which the stock pf.conf reads */
#define SANDBOX_FW_NAME_MAX	64	/* a table or anchor in the config */
#define SANDBOX_FW_TABLE_MAX	64	/* well under NFT_TABLE_MAXNAMELEN */
#define SANDBOX_FW_ANCHOR_MAX	512	/* well under pfctl's MAXPATHLEN */
#define SANDBOX_MEMORY		(4ULL << 30) /* default memory limit: a fixed
					   4G, so that one config means the
					   same on every host */
#define SANDBOX_MEMORY_MIN	(16ULL << 20) /* a shell and a command */
#define SANDBOX_MEMORY_LIMIT	(1ULL << 50) /* 1024T: larger is no limit */
#define SANDBOX_PROCESSES	1024	/* default tasks (threads count) */
#define SANDBOX_PROCESSES_MIN	8	/* a shell, a pipeline, a command */
#define SANDBOX_PROCESSES_LIMIT	4194304	/* the kernel's PID_MAX_LIMIT */
#define SANDBOX_CPU_WEIGHT	100	/* cgroup v2's default: an even share */
#define SANDBOX_CPU_WEIGHT_MIN	1	/* cgroup v2's range */
#define SANDBOX_CPU_WEIGHT_LIMIT 10000
#define SANDBOX_CGROUP		"/sbxd.slice" /* parent of the sandboxes'
					   cgroups: a slice of its own, beside
					   systemd's */
#define SANDBOX_CGROUP_MAX	256	/* the parent's path in the config */

#define AGENT_TURN_TIMEOUT	1800	/* seconds one turn may run: 30m */
#define AGENT_TIMEOUT_LIMIT	(7 * 86400)
#define AGENT_QUEUE		10	/* prompts waiting per sandbox */
#define AGENT_QUEUE_LIMIT	1000
#define AGENT_ARGS_MAX		64	/* words in one args line, all lines */
#define AGENT_ENV_MAX		32	/* env lines of one agent */
#define AGENT_MODES_MAX		16	/* modes of one agent */

#define SBXD_UID_PREFIX		"uid_"	/* uid_N: the firewall's chain or anchor
					   and log prefix of uid N, which pfmon
					   reads back */

#define SBXD_OPT_NOACTION	0x01	/* -n: check the config only */
#define SBXD_OPT_VERBOSE	0x02	/* -v given at least once */
#define SBXD_OPT_FOREGROUND	0x04	/* -d: no fork, log to stderr */

/* A nameserver the resolver asks instead of /etc/resolv.conf's. */
struct sbxd_nameserver {
	TAILQ_ENTRY(sbxd_nameserver)	 ns_entry;
	struct sockaddr_storage		 ns_ss;
	socklen_t			 ns_sslen;
};
TAILQ_HEAD(nameserverlist, sbxd_nameserver);

/* A host as a request or a pattern names it, in its one normal form. */
struct sbxd_host {
	char				 h_name[256];	/* lowercase name, or
							   address text */
	int				 h_family;	/* 0 for a name */
	union {
		struct in_addr		 v4;
		struct in6_addr		 v6;
	}				 h_ip;		/* not h_addr: <netdb.h>
							   defines that */
};

enum policy_action {
	POLICY_BLOCK,
	POLICY_ALLOW
};

/* The class of a destination address. */
enum policy_addr_class {
	POLICY_ADDR_PUBLIC,
	POLICY_ADDR_LOOPBACK,	/* 127/8, ::1 */
	POLICY_ADDR_PRIVATE,	/* RFC 1918, CGNAT, link-local, ULA, ... */
	POLICY_ADDR_MULTICAST,
	POLICY_ADDR_RESERVED	/* unspecified, documentation, future */
};

#define POLICY_PORTS_MAX	64	/* ports in one "ports" line */

/* A set of rules and its hash index (one rule lives in one set). */
struct policy_rule;
struct policy_slot;
TAILQ_HEAD(policy_rulelist, policy_rule);
struct policy_rules {
	struct policy_rulelist		 rs_list;	/* in order given */
	struct policy_slot		*rs_table;	/* open addressing */
	size_t				 rs_size;	/* slots, power of 2 */
	size_t				 rs_count;
	uint32_t			 rs_v4len[33];	/* rules per prefix */
	uint32_t			 rs_v6len[129];
};

/* What a policy says. */
struct policy_body {
	enum policy_action		 pb_default;
	struct policy_rules		 pb_rules;
	uint16_t			 pb_ports[POLICY_PORTS_MAX];
	int				 pb_nports;
	int				 pb_loopback;
	int				 pb_private;
	int				 pb_sni_check;
	int				 pb_ask;	/* seconds a request
							   no rule allows is
							   held while asking;
							   0: not asked */
	int				 pb_ask_once;	/* seconds an "allow
							   once" lasts */
};
#define POLICY_ASK_MAX		3600
#define POLICY_ASK_ONCE		600
#define POLICY_ASK_ONCE_MAX	86400

/* A named set of rules a listener enforces. */
struct policy {
	TAILQ_ENTRY(policy)		 pol_entry;
	char				*pol_name;
	struct policy_body		 pol_body;
};
TAILQ_HEAD(policylist, policy);

/* One proxy listen statement. */
struct proxy_listen {
	TAILQ_ENTRY(proxy_listen)	 pl_entry;
	struct sockaddr_storage		 pl_ss;	/* address and port */
	socklen_t			 pl_sslen;
	struct policy			*pl_policy;
	int				 pl_max_sessions; /* 0: no own limit */
};
TAILQ_HEAD(listenlist, proxy_listen);

/* Proxy settings shared by every listener. */
struct proxy_conf {
	int				 pc_timeout_connect;
	int				 pc_timeout_header;
	int				 pc_timeout_idle;
	int				 pc_max_sessions;
	size_t				 pc_buffer;
	char				*pc_accesslog;	/* NULL: off */
	int				 pc_splice;	/* splice(2) tunnels */
};

/* The firewall log monitor; off without an interface. */
struct pfmon_conf {
	char				*pm_interface;	/* NULL: off */
	int				 pm_nflog_group; /* of "nflog:N"; -1: not
							   an nflog interface */
	int				 pm_buffer;	/* bytes */
	int				 pm_window;	/* seconds */
	int				 pm_limit;	/* alerts/uid/window */
};

enum sandbox_fw {
	SANDBOX_FW_NFTABLES,
	SANDBOX_FW_PF
};

/* Whether sandbox limits were given, and so must be applied. */
enum sandbox_limits {
	SANDBOX_LIMITS_DEFAULT,	/* no line: applied where the host can */
	SANDBOX_LIMITS_SET,	/* a line: sbxd does not start without */
	SANDBOX_LIMITS_OFF	/* "sandbox limits off" */
};

/* The CLIs sbxd knows how to drive; command is a plain program. */
enum agent_type {
	AGENT_CLAUDE,		/* claude-code */
	AGENT_CODEX,
	AGENT_OPENCODE,
	AGENT_GEMINI,
	AGENT_COMMAND
};

/* A mode of an agent: its name and the arguments it adds. */
struct agent_mode {
	TAILQ_ENTRY(agent_mode)		 am_entry;
	char				*am_name;
	char				**am_args;	/* NULL-terminated */
};
TAILQ_HEAD(agent_modelist, agent_mode);

/* An agent block: a coding-agent CLI and how to run it. */
struct agent_conf {
	TAILQ_ENTRY(agent_conf)		 ac_entry;
	char				*ac_name;
	enum agent_type			 ac_type;
	int				 ac_type_set;
	char				*ac_path;
	char				**ac_args;	/* NULL-terminated */
	char				**ac_env;	/* NAME=value, NULL-
							   terminated */
	struct agent_modelist		 ac_modes;	/* the first is the
							   default */
	int				 ac_timeout;	/* seconds */
	int				 ac_queue;
	char				 ac_where[SBXD_PATH_MAX + 16];
							/* file:line */
};
TAILQ_HEAD(agentlist, agent_conf);

/*
 * A model API whose key the credential gateway injects: provider "NAME"
 * { ... }.  NAME is one of proxy_api_provider_name()'s.  The key is read
 * with the config from a root-only file into locked memory
 * (util_secret_alloc) and zeroed when the config is freed.
 */
#define PROVIDER_KEY_MAX	1024	/* bytes of a key (PROXY_API_KEY_MAX) */
#define PROVIDER_BUDGET_LIMIT	((int64_t)1 << 48)	/* tokens */
struct provider_conf {
	TAILQ_ENTRY(provider_conf)	 pv_entry;
	char				*pv_name;	/* "anthropic", "openai",
							   "google", "openrouter" */
	int				 pv_type;	/* its enum
							   proxy_api_provider */
	char				*pv_keyfile;
	char				*pv_key;	/* util_secret_alloc'd,
							   NUL terminated */
	size_t				 pv_keylen;
	size_t				 pv_keysize;	/* of the allocation */
	char				*pv_upstream;	/* as written; NULL: the
							   provider's default */
	char				*pv_up_host;	/* name, or address
							   without brackets */
	in_port_t			 pv_up_port;	/* 443 by default */
	char				*pv_up_prefix;	/* path before the API's,
							   "" or "/a/b" */
	int				 pv_up_trusted;	/* written in the config:
							   its addresses are not
							   filtered */
	char				*pv_cafile;	/* NULL: the system's */
	char				*pv_ca_pem;	/* its certificates */
	int64_t				 pv_budget;	/* tokens per sandbox per
							   day; 0: none */
	char				 pv_where[SBXD_PATH_MAX + 16];
							/* file:line */
};
TAILQ_HEAD(providerlist, provider_conf);

/*
 * GitHub for sandboxes with repositories: github { ... }.  git runs in
 * the sandbox; the credential gateway relays its smart HTTP to
 * gh_upstream with the token injected.  The token is read like a
 * provider's key (util_secret_alloc).
 */
#define GITHUB_TOKEN_MAX	1024	/* bytes of a token */
#define GITHUB_APP_KEY_MAX	16384	/* bytes of an App's PEM key */
#define GITHUB_REPOS_MAX	64	/* repositories of one sandbox */
#define GITHUB_GLOBS_MAX	16	/* push globs of one sandbox */
#define GITHUB_HOST		"github.com"	 /* without an upstream line */
#define GITHUB_API_HOST		"api.github.com" /* without api-upstream */
struct github_conf {
	int				 gh_on;
	char				*gh_tokenfile;
	char				*gh_token;	/* util_secret_alloc'd,
							   NUL terminated */
	size_t				 gh_tokenlen;
	size_t				 gh_tokensize;
	int64_t				 gh_app_id;	/* a GitHub App, or 0 */
	int64_t				 gh_installation_id;
	char				*gh_app_keyfile;
	char				*gh_app_key;	/* PEM, util_secret_alloc'd,
							   NUL terminated */
	size_t				 gh_app_keylen;
	size_t				 gh_app_keysize;
	char				*gh_upstream;	/* as written; NULL:
							   https://github.com */
	char				*gh_up_host;
	in_port_t			 gh_up_port;
	char				*gh_up_prefix;	/* "" or "/a/b" */
	int				 gh_up_trusted;
	char				*gh_api_upstream; /* as written; NULL:
							   https://api.github.com */
	char				*gh_api_host;
	in_port_t			 gh_api_port;
	char				*gh_api_prefix;
	int				 gh_api_trusted;
	char				*gh_cafile;
	char				*gh_ca_pem;
	char				 gh_where[SBXD_PATH_MAX + 16];
};

/* Sandbox settings; the module is off unless a sandbox line is given. */
struct sandbox_conf {
	int				 sbc_enabled;
	uid_t				 sbc_uid_min;
	uid_t				 sbc_uid_max;
	in_port_t			 sbc_port_min;
	in_port_t			 sbc_port_max;
	char				*sbc_home;
	int				 sbc_home_set;	/* else below sc_state */
	char				*sbc_shell;
	char				*sbc_ca_file;	/* NULL: none */
	char				*sbc_ca_pem;	/* its certificates */
	char				*sbc_policy;	/* for create without
							   --policy */
	enum sandbox_fw			 sbc_firewall;
	char				*sbc_fw_table;
	char				*sbc_fw_anchor;
	enum sandbox_limits		 sbc_limits;
	uint64_t			 sbc_memory;	/* bytes; 0: none */
	int				 sbc_processes;	/* 0: none */
	int				 sbc_cpu_weight;
	int				 sbc_max_sessions; /* per listener */
	char				*sbc_cgroup;	/* parent cgroup, from
							   the hierarchy's root */
	char				*sbc_agent;	/* of new sandboxes;
							   NULL: none */
	char				**sbc_providers; /* of new sandboxes,
							   NULL-terminated;
							   NULL: none */
};

/* The parsed configuration; reload builds a new one and swaps it in. */
/* The chat bot: bot zulip { ... }. */
#define BOT_KEY_MAX		256	/* bytes of an API key (Zulip's are 32) */
#define BOT_ENTRIES_MAX		256	/* admins and users, each */
struct bot_conf {
	int				 bc_on;
	char				*bc_site;	/* https://host[:port],
							   no trailing '/' */
	char				*bc_email;
	char				*bc_keyfile;
	char				*bc_key;	/* read with the config */
	char				*bc_stream;
	char				**bc_admins;	/* emails or user ids,
							   NULL-terminated */
	char				**bc_users;
	char				*bc_cafile;
	char				*bc_ca_pem;	/* its certificates */
};

struct sbxd_config {
	char				*sc_state;
	char				*sc_socket;
	char				*sc_pidfile;
	char				*sc_user;	/* the engine's; NULL:
							   one process */
	char				*sc_group;	/* NULL: root only */
	gid_t				 sc_gid;
	int				 sc_loglevel;
	char				*sc_hostsfile;	/* NULL: none */
	struct nameserverlist		 sc_nameservers;
	struct policylist		 sc_policies;
	struct listenlist		 sc_listens;
	struct proxy_conf		 sc_proxy;
	struct pfmon_conf		 sc_pfmon;
	struct sandbox_conf		 sc_sandbox;
	struct agentlist		 sc_agents;
	struct bot_conf			 sc_bot;
	struct providerlist		 sc_providers;
	struct github_conf		 sc_github;
};

/* The running daemon. */
struct sbxd {
	struct event_base		*sx_base;
	struct sbxd_config		*sx_conf;
	const char			*sx_conffile;
	int				 sx_opts;
	int				 sx_verbose;	/* -v count */
	struct timespec			 sx_start;	/* monotonic */
	struct timespec			 sx_start_wall;
};
extern struct sbxd		*sbxd_env;

/*
 * A component of the daemon.  init starts it if the config uses it (an
 * unconfigured component stays off and says so in its status); reload
 * moves it to a new config; shutdown stops it for good; status returns
 * a JSON object with at least "state".  The rest is optional (NULL):
 * check says, before a reload, whether the component's running state
 * can move to the new config (-1 with messages in errors: the reload is
 * refused); uid_name names a uid the component owns (a sandbox's user);
 * offline reads a saved file and prints it, without a config (sbxd -r).
 */
struct sbxd_component {
	const char	 *cm_name;
	int		(*cm_init)(struct sbxd_config *);
	int		(*cm_check)(struct sbxd_config *, json_t *);
	int		(*cm_reload)(struct sbxd_config *, json_t *);
	void		(*cm_shutdown)(void);
	json_t		*(*cm_status)(void);
	const char	*(*cm_uid_name)(uid_t);
	int		(*cm_offline)(const char *, FILE *);
};

/* src/sbxd.c */
int		 sbxd_reload(json_t *);
void		 sbxd_shutdown(const char *);
json_t		*sbxd_component_status(const char *);
const char	*sbxd_uid_name(uid_t);

/* src/job.c */
struct job;
struct job_uidstop;
struct evbuffer;
#define JOB_OUT		1	/* output from stdout (or a pty) */
#define JOB_ERR		2	/* output from stderr */
#define JOB_CREDS	0x01	/* become js_uid, js_gid and js_groups */
#define JOB_PTY		0x02	/* stdio on a new pty, its terminal */
#define JOB_STDIN	0x04	/* stdin from the caller; else /dev/null */
#define JOB_NOOUTPUT	0x08	/* stdout, stderr to /dev/null */
#define JOB_NOFILE	1024	/* RLIMIT_NOFILE of every job, not the
				   daemon's raised one: select(2) breaks
				   above FD_SETSIZE */
#define JOB_NOFILE_MAX	4096	/* its hard limit, what a job may raise
				   it to: enough for builds and file
				   watchers, and bounded */
/* Output to take from the evbuffer; JOB_OUT or JOB_ERR. */
typedef void	(*job_outputcb)(struct job *, int, struct evbuffer *, void *);
/* stdin can take more: its queue ran low, or it closed. */
typedef void	(*job_writecb)(struct job *, void *);
/* The end, last: the wait status, or -1 if lost; the job is freed after. */
typedef void	(*job_donecb)(struct job *, int, void *);
/* A uid stop ended: 0 when no process is left, else -1. */
typedef void	(*job_uidcb)(int, void *);
/*
 * What to run and how.  Nothing is kept after job_run returns.  envp is
 * the whole environment (NULL: an empty one); a bare argv[0] is searched
 * in its PATH.  With js_fn, the child calls it instead of exec, once
 * set up, and exits 0 if it returns 0, else 1.  Every job starts with
 * RLIMIT_NOFILE JOB_NOFILE (hard JOB_NOFILE_MAX) and no core files,
 * whatever the daemon has.
 */
struct job_spec {
	const char	 *js_name;	/* for log lines */
	int		  js_flags;	/* JOB_* */
	uid_t		  js_uid;	/* JOB_CREDS: never 0 */
	gid_t		  js_gid;
	const gid_t	 *js_groups;
	int		  js_ngroups;
	const char	 *js_cwd;	/* NULL: / */
	char *const	 *js_cgroups;	/* cgroup directories to join before
					   the credentials change; NULL or
					   NULL-terminated */
	int		  js_nproc;	/* RLIMIT_NPROC; 0: the daemon's */
	const char	 *js_path;	/* what to exec; NULL: js_argv[0] */
	char *const	 *js_argv;
	char *const	 *js_envp;
	int		(*js_fn)(json_t *);
	json_t		 *js_fnarg;	/* js_fn's argument, borrowed */
	const char	 *js_fnname;	/* its name in the privileged
					   process's list (job_fns) */
	uint16_t	  js_rows;	/* JOB_PTY; 0: the kernel default */
	uint16_t	  js_cols;
	int		  js_timeout;	/* seconds to SIGTERM; 0: none */
	int		  js_grace;	/* seconds from a signal to SIGKILL */
	job_outputcb	  js_output;
	job_writecb	  js_write;
	job_donecb	  js_done;
	void		 *js_arg;
};
/* A function a job may run instead of a program (js_fn), by name. */
struct job_fn {
	const char	*jf_name;
	int		(*jf_fn)(json_t *);
};
void		 job_fns_set(const struct job_fn *);
void		 job_priv_engine_gone(void);
void		 job_cgroup_check_set(int (*)(const char *, char *, size_t));
int		 job_uid_kill(json_t *);
int		 job_init(void);
void		 job_shutdown(void);
json_t		*job_status(void);
struct job	*job_run(const struct job_spec *, char *, size_t);
pid_t		 job_pid(const struct job *);
int		 job_timedout(const struct job *);
struct evbuffer	*job_input(struct job *);
int		 job_write(struct job *, const void *, size_t);
void		 job_input_end(struct job *);
void		 job_output_pause(struct job *, int);
int		 job_winsize(struct job *, uint16_t, uint16_t);
void		 job_kill(struct job *, int);
void		 job_free(struct job *);
struct job_uidstop *job_stop_uid(uid_t, int, int, job_uidcb, void *);
void		 job_stop_uid_cancel(struct job_uidstop *);
int		 job_uid_count(uid_t);
typedef void	(*job_proccb)(const char *, const uid_t [3], void *);
int		 job_proc_walk(job_proccb, void *);

/*
 * src/priv.c: privilege separation.  Started as root, sbxd is two
 * processes: the privileged one keeps root and does a fixed list of
 * operations, each checked against its own copy of the config; the
 * engine (everything else) runs as an unprivileged user and asks.  A
 * frame on their SOCK_SEQPACKET socketpair is a struct priv_hdr and a
 * JSON object; descriptors travel with it (SCM_RIGHTS).  A request is
 * {"op": NAME, ...}; its reply {"ok": true, ...} or {"error": TEXT}; a
 * note (unasked news, "job.exit") {"note": NAME, ...}.
 */
#define PRIV_MAGIC		0x53425850	/* "SBXP" */
#define PRIV_REQ		1
#define PRIV_REPLY		2
#define PRIV_NOTE		3
#define PRIV_MSG_MAX		(1024 * 1024)	/* a frame's JSON */
#define PRIV_FDS_MAX		4	/* descriptors with one frame */
#define PRIV_USER		"_sbxd"	/* the engine's user by default */
struct priv_hdr {
	uint32_t	 ph_magic;
	uint32_t	 ph_type;	/* PRIV_REQ, PRIV_REPLY, PRIV_NOTE */
	uint64_t	 ph_id;		/* of the request; 0 for a note */
};
struct priv_req;
/* An operation of the privileged process: the request's fds are its. */
typedef void	(*priv_opfn)(struct priv_req *, json_t *, int *, int);
/* An asynchronous reply: the object, or NULL and why. */
typedef void	(*priv_replycb)(json_t *, const char *, int *, int, void *);
/* A note from the privileged process. */
typedef void	(*priv_notecb)(json_t *, int *, int, void *);
/* The privileged process's operations, by name. */
struct priv_op {
	const char	*po_name;
	priv_opfn	 po_fn;
};
int		 priv_on(void);
int		 priv_start(struct sbxd_config *, const struct priv_op *, int,
		    int, char **);
int		 priv_engine_attach(const char *, int *, int *);
FILE		*priv_config_fopen(const char *);
int		 priv_init(const struct priv_op *);
void		 priv_shutdown(void);
void		 priv_atexit(void (*)(void));
pid_t		 priv_daemon_pid(void);
json_t		*priv_status(void);
/* sandbox/sandbox.c */
int		 sandbox_home_parent(const char *);
/* src/priv_ops.c */
extern const struct priv_op sbxd_priv_ops[];
extern const struct job_fn sbxd_job_fns[];
int		 priv_cgroup_dir_ok(const char *, char *, size_t);
void		 priv_ops_cleanup(void);
void		 sandbox_priv_shutdown(void);
void		 pfmon_priv_shutdown(void);
int		 sandbox_cgroup_dir_check(const char *, const char *, int,
		    char *, size_t);
json_t		*priv_call(const char *, json_t *, int *, int *, char *,
		    size_t);
uint64_t	 priv_send(const char *, json_t *, priv_replycb, void *);
void		 priv_forget(uint64_t);
void		 priv_listen(const char *, priv_notecb, void *);
const struct sbxd_config *priv_conf(void);
void		 priv_reply(struct priv_req *, json_t *, const int *, int);
void		 priv_refuse(struct priv_req *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
void		 priv_note(const char *, json_t *, const int *, int);
uint64_t	 priv_req_id(const struct priv_req *);
int		 priv_frame_send(int, uint32_t, uint64_t, json_t *,
		    const int *, int);
int		 priv_frame_recv(int, struct priv_hdr *, json_t **, int *,
		    int *, char *, size_t);

/* The privileged process's operations, by the module that does each. */
int		 sandbox_provision_main(json_t *);
void		 job_priv_spawn(struct priv_req *, json_t *, int *, int);
void		 job_priv_kill(struct priv_req *, json_t *, int *, int);
void		 pfmon_priv_capture(struct priv_req *, json_t *, int *, int);
void		 sandbox_priv_cmds(struct priv_req *, json_t *, int *, int);
void		 sandbox_priv_cancel(struct priv_req *, json_t *, int *, int);
void		 sandbox_priv_home(struct priv_req *, json_t *, int *, int);
void		 sandbox_priv_blocked(struct priv_req *, json_t *, int *,
		    int);
void		 sandbox_priv_ipc(struct priv_req *, json_t *, int *, int);
void		 sandbox_priv_cgroup(struct priv_req *, json_t *, int *, int);

/* src/parse.y */
struct sbxd_config *parse_config(const char *, json_t *);
extern FILE	*(*parse_fopen_hook)(const char *);
int		 cmdline_symset(const char *);
int		 parse_keywords_sorted(void);

/* src/config.c */
struct sbxd_config *config_new(void);
void		 config_free(struct sbxd_config *);
void		 config_print(FILE *, struct sbxd_config *);
struct policy	*config_policy_find(struct sbxd_config *, const char *);
struct agent_conf *config_agent_find(const struct sbxd_config *,
		    const char *);
const struct agent_mode *config_agent_mode(const struct agent_conf *,
		    const char *);
void		 config_agent_free(struct agent_conf *);
void		 config_bot_clear(struct bot_conf *);
struct provider_conf *config_provider_find(const struct sbxd_config *,
		    const char *);
void		 config_provider_free(struct provider_conf *);
void		 config_github_clear(struct github_conf *);
const char	*config_agent_type_name(enum agent_type);
int		 config_agent_type_parse(const char *);
void		 config_policy_free(struct policy *);
const char	*config_loglevel_name(int);
int		 config_loglevel_parse(const char *);
int		 config_loglevel_raise(int, int);
void		 config_print_string(FILE *, const char *);
int		 config_fw_table_ok(const char *);
int		 config_fw_anchor_ok(const char *);
int		 config_path_ok(const char *);
int		 config_cgroup_ok(const char *);
int		 config_size_parse(const char *, uint64_t *);
const char	*config_size_str(uint64_t, char *, size_t);

/* src/control.c */
struct control_req;
typedef void	(*control_fn)(struct control_req *, json_t *);
/* A field a request of a command may carry, and its type. */
struct control_field {
	const char	*cf_name;
	int		 cf_type;	/* CONTROL_F_*, | CONTROL_F_NEEDED */
};
#define CONTROL_F_STRING	1
#define CONTROL_F_BOOL		2
#define CONTROL_F_INT		3
#define CONTROL_F_STRINGS	4	/* an array of strings */
#define CONTROL_F_ARGV		5	/* an array of strings, or null */
#define CONTROL_F_OBJECT	6
#define CONTROL_F_TYPE		0xff
#define CONTROL_F_NEEDED	0x100	/* a request without it is wrong */
void		 control_register(const char *, control_fn,
		    const struct control_field *);
void		 control_register_off(const char *, const char *);
void		 control_req_done(struct control_req *, json_t *);
void		 control_req_ok(struct control_req *, json_t *);
void		 control_req_error(struct control_req *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
void		 control_req_progress(struct control_req *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
uid_t		 control_req_uid(const struct control_req *);
const char	*control_req_who(const struct control_req *);
typedef void	(*control_reply_fn)(json_t *, int, void *);
void		 control_call(const char *, json_t *, control_reply_fn,
		    void *);
void		 control_call_cancel(void *);
struct bufferevent;
int		 control_req_takeover(struct control_req *,
		    struct bufferevent **);
int		 control_init(struct sbxd_config *, int);
int		 control_socket_bind(struct sbxd_config *);
int		 control_socket_group(struct sbxd_config *);
int		 control_reload(struct sbxd_config *, json_t *);
void		 control_shutdown(void);
json_t		*control_status(void);

/* src/events.c */
struct events_sub;
typedef void	(*events_cb)(json_t *, void *);
void		 events_publish(const char *, json_t *);
struct events_sub *events_subscribe(const char *, events_cb, void *);
void		 events_unsubscribe(struct events_sub *);
json_t		*events_status(void);

/* src/policy.c */
int		 policy_host_parse(const char *, size_t, struct sbxd_host *,
		    const char **);
const char	*policy_host_str(const struct sbxd_host *, char *, size_t);

/* src/policy_rule.c */
int		 policy_rule_parse(const char *, enum policy_action,
		    struct policy_rule **, char *, size_t);
const char	*policy_rule_text(const struct policy_rule *);
enum policy_action policy_rule_action(const struct policy_rule *);
void		 policy_rule_free(struct policy_rule *);
void		 policy_rules_init(struct policy_rules *);
void		 policy_rules_print(FILE *, const struct policy_rules *);
void		 policy_rules_clear(struct policy_rules *);
struct policy_rules *policy_rules_new(void);
void		 policy_rules_free(struct policy_rules *);
const struct policy_rule *policy_rules_find(const struct policy_rules *,
		    const char *);
int		 policy_rules_add(struct policy_rules *, struct policy_rule *);
int		 policy_rules_set(struct policy_rules *, const char *,
		    enum policy_action, char *, size_t);
int		 policy_rules_remove(struct policy_rules *, const char *,
		    char *, size_t);
void		 policy_body_init(struct policy_body *);
void		 policy_body_free(struct policy_body *);
const struct policy_rule *policy_match(const struct policy_body *,
		    const struct policy_rules *, const struct sbxd_host *,
		    uint16_t, enum policy_action *);
int		 policy_addr_class(int, const void *);
const char	*policy_addr_class_name(int);
int		 policy_addr_check(const struct policy_body *,
		    const struct policy_rules *, int, const void *, uint16_t,
		    int, const char **, const struct policy_rule **);

/* src/store.c */
int		 store_state_prepare(const char *, mode_t);
char		*store_dbdir(const char *, uid_t, gid_t);
int		 store_open(const char *, mode_t);
void		 store_close(void);
int		 store_flush(void);
int		 store_event_add(json_t *);
json_t		*store_status(void);
json_t		*store_events_recent(int, const char *, const char *);
int		 store_rule_put(const char *, const char *, const char *,
		    time_t);
int		 store_rule_delete(const char *, const char *);
json_t		*store_rule_list(const char *);
int		 store_sandbox_put(json_t *);
int		 store_sandbox_state(const char *, const char *);
int		 store_sandbox_delete(const char *);
json_t		*store_sandbox_list(void);
int		 store_setting_put(const char *, const char *);
const char	*store_error(void);
int64_t		 store_turn_add(json_t *);
int		 store_turn_update(int64_t, json_t *);
json_t		*store_turn_get(int64_t, int);
json_t		*store_turn_list(const char *, const char *, int, int);
int		 store_turns_interrupted(const char *);
int		 store_agent_state_put(const char *, const char *,
		    const char *);
json_t		*store_agent_state_get(const char *);
int		 store_agent_state_delete(const char *);
int		 store_setting_get(const char *, char *, size_t);
int		 store_bot_topic_put(const char *, const char *);
int		 store_bot_topic_delete(const char *);
json_t		*store_bot_topics(void);
int64_t		 store_ask_add(const char *, const char *, const char *,
		    const char *, int);
int		 store_ask_decided(int64_t, const char *, const char *,
		    const char *, int);
int		 store_asks_orphaned(void);
json_t		*store_ask_get(int64_t);
json_t		*store_ask_list(const char *, int);
int		 store_usage_add(json_t *);
int		 store_usage_add_many(json_t *);
json_t		*store_usage_sum(const char *, const char *);
int64_t		 store_usage_charged(const char *, const char *,
		    const char *);

/* src/util.c */
void		*xmalloc(size_t);
void		*xcalloc(size_t, size_t);
char		*xstrdup(const char *);
int		 xasprintf(char **, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
int		 util_err(char *, size_t, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));
void		 util_monotime(struct timespec *);
int		 util_rfc3339(const struct timespec *, char *, size_t);
int		 util_addr_parse(const char *, in_port_t,
		    struct sockaddr_storage *, socklen_t *);
const char	*util_addr_str(const struct sockaddr *, char *, size_t);
const char	*util_sockaddr_str(const struct sockaddr *, char *, size_t);
int		 util_sockaddr_cmp(const struct sockaddr *,
		    const struct sockaddr *);
in_port_t	 util_sockaddr_port(const struct sockaddr *);
void		 util_sockaddr_setport(struct sockaddr *, in_port_t);
int		 util_socket(int, int);
void		 util_zero(void *, size_t);
void		*util_secret_alloc(size_t);
void		 util_secret_free(void *, size_t);
int		 util_sockaddr_unmap(struct sockaddr_storage *, socklen_t *);
int		 util_path_below(const char *, const char *);
int		 util_mkdir_parents(const char *);
int		 util_pidfile(const char *);
int		 util_addr_local(int, const void *);
int		 util_peer_uid(int, uid_t *);

/* proxy/proxy.c */
int		 proxy_listener_add(const char *,
		    const struct sockaddr_storage *, socklen_t, const char *,
		    char *, size_t);
int		 proxy_listener_remove(const char *);
int		 proxy_listener_up(const char *);
int		 proxy_listener_github(const char *, int);
/* proxy/proxy_gw.c: the credential gateway of a sandbox */
int		 proxy_gw_add(const char *, uid_t,
		    const struct sockaddr_storage *, socklen_t, int,
		    const char *, char *const *, char *const *, char *, size_t);
int		 proxy_gw_remove(const char *);
/* What a sandbox's gateway relayed of model APIs since it opened. */
struct proxy_gw_counters {
	uint64_t	 gc_requests;
	int64_t		 gc_input;
	int64_t		 gc_cached;
	int64_t		 gc_output;
	double		 gc_cost;	/* as reported, where reported */
	uint64_t	 gc_costs;	/* requests that reported a cost */
};
int		 proxy_gw_counters(const char *, struct proxy_gw_counters *);
const char	*proxy_gw_repo_why(const char *);
const char	*proxy_gw_glob_why(const char *);
int		 proxy_gw_glob_default(char *, size_t, const char *);
char		**proxy_gw_env(int, const char *, in_port_t, int);

/* proxy/proxy.c, pfmon/pfmon.c, sandbox/sandbox.c, agent/agent.c,
   bot/bot.c */
extern const struct sbxd_component agent_component;
extern const struct sbxd_component proxy_component;
extern const struct sbxd_component pfmon_component;
extern const struct sbxd_component sandbox_component;
extern const struct sbxd_component bot_component;

#endif /* SBXD_H */
