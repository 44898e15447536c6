/*
 * sbxd.c: main, daemonizing, signals, reload and the component table.
 * Everything runs on one event_base: the control socket, the store's
 * timer and each component's sockets and timers.
 */

#include <sys/types.h>
#include <sys/file.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "config.h"
#include "log.h"
#include "sbxd.h"

/* Started in this order, stopped in the reverse. */
static const struct sbxd_component *sbxd_components[] = {
	&proxy_component,
	&pfmon_component,
	&sandbox_component,
	&agent_component,
	&bot_component,
};
#define SBXD_NCOMPONENTS \
	(sizeof(sbxd_components) / sizeof(sbxd_components[0]))

static struct sbxd	 sbxd_global;
static const struct control_field sbxd_no_fields[] = { { NULL, 0 } };
static const struct control_field sbxd_log_fields[] = {
	{ "level", CONTROL_F_STRING | CONTROL_F_NEEDED },
	{ NULL, 0 }
};
static struct event	*sbxd_ev_hup;
static struct event	*sbxd_ev_term;
static struct event	*sbxd_ev_int;
static struct events_sub *sbxd_logsub;
static int		 sbxd_pidfd = -1;
static char		*sbxd_pidpath;
static int		 sbxd_readyfd = -1;	/* to the waiting parent */
static int		 sbxd_stopping;

static void	usage(void) __attribute__((__noreturn__));
static void	sbxd_nodump(void);
static int	sbxd_offline(const char *);
static void	sbxd_daemonize(void);
static void	sbxd_ready(void);
static struct event_base *sbxd_base_new(void);
static int	sbxd_start(struct sbxd_config *, int);
static int	sbxd_engine(struct sbxd_config *, int);
static int	sbxd_store(struct sbxd_config *);
static int	sbxd_pidfile(const char *);
static int	sbxd_check(struct sbxd_config *, json_t *);
static void	sbxd_keep_restart(struct sbxd_config *, struct sbxd_config *);
static void	sbxd_apply_loglevel(struct sbxd_config *);
static void	sbxd_log_errors(json_t *);
static void	sbxd_signalcb(evutil_socket_t, short, void *);
static void	sbxd_libevent_logcb(int, const char *);
static void	sbxd_event_logcb(json_t *, void *);
static json_t	*sbxd_status_entry(const char *, json_t *);
static json_t	*sbxd_status(void);
static void	sbxd_ctl_status(struct control_req *, json_t *);
static void	sbxd_ctl_reload(struct control_req *, json_t *);
static void	sbxd_ctl_log(struct control_req *, json_t *);

static const struct option sbxd_longopts[] = {
	{ "foreground",	no_argument,	NULL,	'd' },
	{ "help",	no_argument,	NULL,	'h' },
	{ "version",	no_argument,	NULL,	'V' },
	{ "engine",	required_argument, NULL, 'E' },	/* the privileged
							   process's, not
							   for people */
	{ NULL,		0,		NULL,	0 }
};

/* The usage on fp; -h asks for it on stdout, a bad option on stderr. */
static void
usage_print(FILE *fp)
{
	fprintf(fp, "usage: sbxd [-dnv] [-D macro=value] [-f file]\n"
	    "       sbxd -r file\n"
	    "       sbxd -h | -V\n");
}

static void
usage(void)
{
	usage_print(stderr);
	exit(1);
}

int
main(int argc, char *argv[])
{
	struct sbxd_config	*conf;
	json_t			*errors;
	const char		*rfile = NULL, *engine = NULL;
	int			 ch, nopts = 0, ctlfd, readyfd;

	sbxd_env = &sbxd_global;
	sbxd_env->sx_conffile = SBXD_CONF;
	log_init(1, SBXD_LOG_FACILITY);
	while ((ch = getopt_long(argc, argv, "dD:f:hnr:vV", sbxd_longopts,
	    NULL)) != -1) {
		nopts++;
		switch (ch) {
		case 'h':
			usage_print(stdout);
			exit(0);
		case 'V':
			printf("sbxd %s\n", PACKAGE_VERSION);
			exit(0);
		case 'd':
			sbxd_env->sx_opts |= SBXD_OPT_FOREGROUND;
			break;
		case 'D':
			if (cmdline_symset(optarg) == -1)
				fatalx("could not parse macro definition %s",
				    optarg);
			break;
		case 'f':
			sbxd_env->sx_conffile = optarg;
			break;
		case 'n':
			sbxd_env->sx_opts |= SBXD_OPT_NOACTION;
			break;
		case 'r':
			rfile = optarg;
			break;
		case 'E':
			engine = optarg;
			break;
		case 'v':
			sbxd_env->sx_opts |= SBXD_OPT_VERBOSE;
			sbxd_env->sx_verbose++;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (rfile != NULL) {
		/* Read a saved capture: no config, no privileges. */
		if (nopts != 1)
			usage();
		exit(sbxd_offline(rfile));
	}
	sbxd_nodump();

	if (engine != NULL) {
		/* Started by the privileged process: it opens the config. */
		if (!(sbxd_env->sx_opts & SBXD_OPT_FOREGROUND))
			log_init(0, SBXD_LOG_FACILITY);
		if (priv_engine_attach(engine, &ctlfd, &readyfd) == -1)
			fatalx("--engine is for the privileged process");
		if ((sbxd_readyfd = readyfd) != -1 &&
		    !(sbxd_env->sx_opts & SBXD_OPT_FOREGROUND))
			log_setstderr(1);
		parse_fopen_hook = priv_config_fopen;
	}
	if ((errors = json_array()) == NULL)
		fatalx("out of memory");
	conf = parse_config(sbxd_env->sx_conffile, errors);
	if (conf == NULL) {
		sbxd_log_errors(errors);
		exit(1);
	}
	json_decref(errors);
	if (sbxd_env->sx_opts & SBXD_OPT_NOACTION) {
		if (sbxd_env->sx_opts & SBXD_OPT_VERBOSE)
			config_print(stdout, conf);
		fprintf(stderr, "configuration OK\n");
		config_free(conf);
		exit(0);
	}

	umask(022);
	signal(SIGPIPE, SIG_IGN);
	log_settime(1);
	if (engine != NULL)
		return (sbxd_engine(conf, ctlfd));
	if (!(sbxd_env->sx_opts & SBXD_OPT_FOREGROUND))
		sbxd_daemonize();
	job_fns_set(sbxd_job_fns);
	priv_atexit(priv_ops_cleanup);
	if (getuid() == 0 && conf->sc_sandbox.sbc_enabled &&
	    sandbox_home_parent(conf->sc_sandbox.sbc_home) == -1)
		exit(1);
	job_cgroup_check_set(priv_cgroup_dir_ok);
	/*
	 * As root: the privileged process stays here and the engine runs
	 * sbxd_engine in a child of its own.  Else one process does all.
	 */
	if (priv_start(conf, sbxd_priv_ops, sbxd_readyfd, argc, argv) == -1) {
		log_warnx("startup failed");
		exit(1);
	}
	return (sbxd_engine(conf, -1));
}

/*
 * No core dumps and, on Linux, not dumpable: the config holds API keys
 * (providers, the bot), so no core file, ptrace or /proc/PID/mem of the
 * same user may show them.  Before the config is read, in every process
 * that reads it: the engine, the privileged process and the one-process
 * daemon.  Jobs set their own limits, and exec makes them dumpable.
 */
static void
sbxd_nodump(void)
{
	struct rlimit	 rl = { 0, 0 };

	if (setrlimit(RLIMIT_CORE, &rl) == -1)
		log_warn("setrlimit RLIMIT_CORE");
#ifdef __linux__
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		log_warn("prctl PR_SET_DUMPABLE");
#endif
}

/*
 * The engine: every component on one loop.  ctlfd is the control
 * socket when the privileged process made it.  The exit status.
 */
static int
sbxd_engine(struct sbxd_config *conf, int ctlfd)
{
	if (sbxd_start(conf, ctlfd) == -1) {
		log_warnx("startup failed");
		sbxd_shutdown("startup failed");
		event_base_free(sbxd_env->sx_base);
		return (1);
	}
	sbxd_ready();
	event_base_dispatch(sbxd_env->sx_base);

	event_base_free(sbxd_env->sx_base);
	config_free(sbxd_env->sx_conf);
	log_info("exiting");
	return (0);
}

/* sbxd -r: the component that reads saved files prints this one. */
static int
sbxd_offline(const char *path)
{
	size_t	 i;

	for (i = 0; i < SBXD_NCOMPONENTS; i++)
		if (sbxd_components[i]->cm_offline != NULL)
			return (sbxd_components[i]->cm_offline(path, stdout));
	fprintf(stderr, "sbxd: no component reads saved files\n");
	return (1);
}

/* Print or log each parse error: file:line: message. */
static void
sbxd_log_errors(json_t *errors)
{
	size_t	 i;
	json_t	*e;

	json_array_foreach(errors, i, e) {
		if (sbxd_env->sx_base == NULL)
			fprintf(stderr, "%s\n", json_string_value(e));
		else
			log_warnx("%s", json_string_value(e));
	}
}

/*
 * Fork; the parent waits until the child says it is up and exits 0, or
 * exits 1 if the child failed.  The child logs to syslog and, until it
 * is up, to the terminal too, so startup errors are seen where sbxd was
 * started.
 */
static void
sbxd_daemonize(void)
{
	int	 fds[2], status;
	pid_t	 pid;
	char	 c;

	if (pipe(fds) == -1)
		fatal("pipe");
	switch ((pid = fork())) {
	case -1:
		fatal("fork");
	case 0:
		close(fds[0]);
		sbxd_readyfd = fds[1];
		if (fcntl(sbxd_readyfd, F_SETFD, FD_CLOEXEC) == -1 ||
		    setsid() == -1)
			fatal("setsid");
		if (chdir("/") == -1)
			fatal("chdir /");
		log_init(0, SBXD_LOG_FACILITY);
		log_setstderr(1);
		return;
	default:
		close(fds[1]);
		if (read(fds[0], &c, 1) == 1)
			_exit(0);
		waitpid(pid, &status, 0);
		_exit(1);
	}
}

/* Tell the parent we are up and let go of the terminal. */
static void
sbxd_ready(void)
{
	int	 fd;

	if (priv_on())
		log_info("sbxd %s started, pid %ld, engine pid %ld",
		    PACKAGE_VERSION, (long)priv_daemon_pid(), (long)getpid());
	else
		log_info("sbxd %s started, pid %ld", PACKAGE_VERSION,
		    (long)getpid());
	if (priv_on()) {
		char	 err[256];
		json_t	*r;

		if ((r = priv_call("ready", NULL, NULL, NULL, err,
		    sizeof(err))) == NULL)
			log_warnx("ready: %s", err);
		json_decref(r);
	}
	events_publish("sbxd.started", json_pack("{s:s, s:I, s:s}",
	    "version", PACKAGE_VERSION, "pid", (json_int_t)priv_daemon_pid(),
	    "config", sbxd_env->sx_conffile));
	if (sbxd_readyfd == -1)
		return;
	if ((fd = open("/dev/null", O_RDWR)) != -1) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	log_setstderr(0);
	if (write(sbxd_readyfd, "1", 1) != 1)
		log_warn("%s: tell parent", __func__);
	close(sbxd_readyfd);
	sbxd_readyfd = -1;
}

/*
 * The loop.  With epoll, changes to the events of a descriptor are
 * batched until the loop next waits, so a write event that is asked for
 * and taken back in one turn (the proxy writes at once) costs no system
 * call.  That is only unsafe for descriptors cloned with dup(2) and
 * watched twice, which sbxd never does.
 */
static struct event_base *
sbxd_base_new(void)
{
	struct event_config	*cfg;
	struct event_base	*base;

	if ((cfg = event_config_new()) == NULL)
		return (NULL);
	event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return (base);
}

/* Bring up the core and every configured component. */
static int
sbxd_start(struct sbxd_config *conf, int ctlfd)
{
	size_t	 i;

	util_monotime(&sbxd_env->sx_start);
	clock_gettime(CLOCK_REALTIME, &sbxd_env->sx_start_wall);
	sbxd_env->sx_conf = conf;
	sbxd_apply_loglevel(conf);
	event_set_log_callback(sbxd_libevent_logcb);
	if ((sbxd_env->sx_base = sbxd_base_new()) == NULL) {
		log_warnx("cannot create the event loop");
		return (-1);
	}
	sbxd_ev_hup = evsignal_new(sbxd_env->sx_base, SIGHUP, sbxd_signalcb,
	    NULL);
	sbxd_ev_term = evsignal_new(sbxd_env->sx_base, SIGTERM,
	    sbxd_signalcb, NULL);
	sbxd_ev_int = evsignal_new(sbxd_env->sx_base, SIGINT, sbxd_signalcb,
	    NULL);
	if (sbxd_ev_hup == NULL || sbxd_ev_term == NULL ||
	    sbxd_ev_int == NULL || evsignal_add(sbxd_ev_hup, NULL) == -1 ||
	    evsignal_add(sbxd_ev_term, NULL) == -1 ||
	    evsignal_add(sbxd_ev_int, NULL) == -1) {
		log_warnx("cannot watch signals");
		return (-1);
	}
	sbxd_logsub = events_subscribe("log", sbxd_event_logcb, NULL);
	if (priv_init(NULL) == -1) {
		log_warnx("cannot hear the privileged process");
		return (-1);
	}
	if (!priv_on() && !(sbxd_env->sx_opts & SBXD_OPT_FOREGROUND) &&
	    sbxd_pidfile(conf->sc_pidfile) == -1)
		return (-1);
	control_register("status", sbxd_ctl_status, sbxd_no_fields);
	control_register("reload", sbxd_ctl_reload, sbxd_no_fields);
	control_register("log", sbxd_ctl_log, sbxd_log_fields);
	if (job_init() == -1) {
		log_warnx("cannot watch child processes");
		return (-1);
	}
	if (sbxd_store(conf) == -1 || control_init(conf, ctlfd) == -1)
		return (-1);
	for (i = 0; i < SBXD_NCOMPONENTS; i++) {
		if (sbxd_components[i]->cm_init(conf) == -1) {
			log_warnx("%s: cannot start",
			    sbxd_components[i]->cm_name);
			return (-1);
		}
	}
	return (0);
}

/*
 * The store, in the database directory of the state directory.  Nobody
 * else may list the state directory; sandbox users must pass through
 * it when their homes are below it.  The privileged process prepared
 * both for the engine; one process does it here.
 */
static int
sbxd_store(struct sbxd_config *conf)
{
	char	*dbdir;
	int	 r;

	if (!priv_on() && (store_state_prepare(conf->sc_state,
	    util_path_below(conf->sc_sandbox.sbc_home, conf->sc_state) ?
	    0711 : 0700) == -1 || (dbdir = store_dbdir(conf->sc_state,
	    (uid_t)-1, (gid_t)-1)) == NULL))
		return (-1);
	if (priv_on())
		xasprintf(&dbdir, "%s/%s", conf->sc_state, SBXD_DBDIR);
	r = store_open(dbdir, 0700);
	free(dbdir);
	return (r);
}

/* Write our pid into a locked pidfile; a held lock means we run. */
static int
sbxd_pidfile(const char *path)
{
	if ((sbxd_pidfd = util_pidfile(path)) == -1)
		return (-1);
	sbxd_pidpath = xstrdup(path);
	return (0);
}

/* Level from the config, raised by each -v. */
static void
sbxd_apply_loglevel(struct sbxd_config *conf)
{
	log_setlevel(config_loglevel_raise(conf->sc_loglevel,
	    sbxd_env->sx_verbose));
}

/*
 * Reload the config file.  Returns 0 when it was applied, -1 when it had
 * errors (the running config stays, every error is logged and appended
 * to errors), -2 when it was applied but a component reported errors.
 */
int
sbxd_reload(json_t *errors)
{
	struct sbxd_config	*conf, *old = sbxd_env->sx_conf;
	json_t			*errs;
	size_t			 i;
	int			 r = 0;

	if ((errs = json_array()) == NULL)
		return (-1);
	log_info("reloading %s", sbxd_env->sx_conffile);
	if (priv_on()) {
		char	 err[256];
		json_t	*r;

		/* It reads the config too, and opens its files for us. */
		if ((r = priv_call("reload", NULL, NULL, NULL, err,
		    sizeof(err))) == NULL)
			log_warnx("reload: %s", err);
		json_decref(r);
	}
	if ((conf = parse_config(sbxd_env->sx_conffile, errs)) == NULL ||
	    sbxd_check(conf, errs) == -1) {
		config_free(conf);
		sbxd_log_errors(errs);
		log_warnx("reload failed: %zu errors; the running "
		    "configuration is kept", json_array_size(errs));
		events_publish("sbxd.reload", json_pack("{s:b, s:O}", "ok", 0,
		    "errors", errs));
		if (errors != NULL)
			json_array_extend(errors, errs);
		json_decref(errs);
		return (-1);
	}
	sbxd_keep_restart(old, conf);
	if (control_reload(conf, errs) == -1)
		r = -2;
	for (i = 0; i < SBXD_NCOMPONENTS; i++)
		if (sbxd_components[i]->cm_reload(conf, errs) == -1)
			r = -2;
	sbxd_env->sx_conf = conf;
	config_free(old);
	sbxd_apply_loglevel(conf);
	if (r == 0)
		log_info("reload done");
	else
		log_warnx("reload applied with errors");
	events_publish("sbxd.reload", json_pack("{s:b, s:O}", "ok", r == 0,
	    "errors", errs));
	if (errors != NULL)
		json_array_extend(errors, errs);
	json_decref(errs);
	return (r);
}

/*
 * Whether every component can move to conf: no listener or sandbox may
 * be left without its policy.  -1 with the reasons in errs.
 */
static int
sbxd_check(struct sbxd_config *conf, json_t *errs)
{
	size_t	 i;
	int	 r = 0;

	for (i = 0; i < SBXD_NCOMPONENTS; i++)
		if (sbxd_components[i]->cm_check != NULL &&
		    sbxd_components[i]->cm_check(conf, errs) == -1)
			r = -1;
	return (r);
}

/* Settings a running daemon cannot change: keep them, say so. */
static void
sbxd_keep_restart(struct sbxd_config *old, struct sbxd_config *conf)
{
	struct {
		const char	 *what;
		char		**cur, **next;
	} keep[] = {
		{ "state", &old->sc_state, &conf->sc_state },
		{ "control socket", &old->sc_socket, &conf->sc_socket },
		{ "pidfile", &old->sc_pidfile, &conf->sc_pidfile },
	};
	size_t	 i;
	char	*tmp;

	for (i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
		if (strcmp(*keep[i].cur, *keep[i].next) == 0)
			continue;
		log_warnx("reload: %s %s takes effect after a restart; "
		    "still using %s", keep[i].what, *keep[i].next,
		    *keep[i].cur);
		/* Swap, so that config_free(old) frees the new value. */
		tmp = *keep[i].next;
		*keep[i].next = *keep[i].cur;
		*keep[i].cur = tmp;
	}
}

/*
 * Stop gracefully: components stop accepting and close their sessions,
 * child processes left are killed, control clients go, the store writes
 * what it holds, the socket and pidfile are removed.  The loop then
 * ends.
 */
void
sbxd_shutdown(const char *why)
{
	size_t	 i;

	if (sbxd_stopping++)
		return;
	log_info("shutting down: %s", why);
	events_publish("sbxd.stopping", json_pack("{s:s}", "reason", why));
	for (i = SBXD_NCOMPONENTS; i > 0; i--)
		sbxd_components[i - 1]->cm_shutdown();
	job_shutdown();
	control_shutdown();
	priv_shutdown();
	events_unsubscribe(sbxd_logsub);
	sbxd_logsub = NULL;
	store_close();
	if (sbxd_pidfd != -1) {
		unlink(sbxd_pidpath);
		close(sbxd_pidfd);
		sbxd_pidfd = -1;
		free(sbxd_pidpath);
		sbxd_pidpath = NULL;
	}
	if (sbxd_ev_hup != NULL)
		event_free(sbxd_ev_hup);
	if (sbxd_ev_term != NULL)
		event_free(sbxd_ev_term);
	if (sbxd_ev_int != NULL)
		event_free(sbxd_ev_int);
	sbxd_ev_hup = sbxd_ev_term = sbxd_ev_int = NULL;
	if (sbxd_env->sx_base != NULL)
		event_base_loopexit(sbxd_env->sx_base, NULL);
}

/* The status of the component called name, or NULL. */
json_t *
sbxd_component_status(const char *name)
{
	size_t	 i;

	for (i = 0; i < SBXD_NCOMPONENTS; i++)
		if (strcmp(sbxd_components[i]->cm_name, name) == 0)
			return (sbxd_components[i]->cm_status());
	return (NULL);
}

/* The name a component gives uid (a sandbox's), or NULL. */
const char *
sbxd_uid_name(uid_t uid)
{
	const char	*name;
	size_t		 i;

	for (i = 0; i < SBXD_NCOMPONENTS; i++)
		if (sbxd_components[i]->cm_uid_name != NULL &&
		    (name = sbxd_components[i]->cm_uid_name(uid)) != NULL)
			return (name);
	return (NULL);
}

/* One component's status with its name first.  Takes st. */
static json_t *
sbxd_status_entry(const char *name, json_t *st)
{
	json_t	*c;

	if ((c = json_pack("{s:s}", "name", name)) != NULL && st != NULL)
		json_object_update(c, st);
	json_decref(st);
	return (c);
}

/* Version, uptime and every component's state, for sbxctl status. */
static json_t *
sbxd_status(void)
{
	struct timespec	 now;
	char		 started[32];
	json_t		*st, *list;
	size_t		 i;
	struct {
		const char	 *name;
		json_t		*(*fn)(void);
	} core[] = {
		{ "control", control_status },
		{ "events", events_status },
		{ "jobs", job_status },
		{ "priv", priv_status },
		{ "store", store_status },
	};

	util_monotime(&now);
	util_rfc3339(&sbxd_env->sx_start_wall, started, sizeof(started));
	if ((list = json_array()) == NULL)
		return (NULL);
	for (i = 0; i < sizeof(core) / sizeof(core[0]); i++)
		json_array_append_new(list, sbxd_status_entry(core[i].name,
		    core[i].fn()));
	for (i = 0; i < SBXD_NCOMPONENTS; i++)
		json_array_append_new(list, sbxd_status_entry(
		    sbxd_components[i]->cm_name,
		    sbxd_components[i]->cm_status()));
	st = json_pack("{s:s, s:I, s:s, s:I, s:s, s:s, s:o}",
	    "version", PACKAGE_VERSION,
	    "pid", (json_int_t)priv_daemon_pid(),
	    "started", started,
	    "uptime", (json_int_t)(now.tv_sec - sbxd_env->sx_start.tv_sec),
	    "config", sbxd_env->sx_conffile,
	    "log_level", config_loglevel_name(log_getlevel()),
	    "components", list);
	return (st);
}

static void
sbxd_ctl_status(struct control_req *cr, json_t *req __unused)
{
	json_t	*st;

	if ((st = sbxd_status()) == NULL)
		control_req_error(cr, "out of memory");
	else
		control_req_ok(cr, st);
}

static void
sbxd_ctl_reload(struct control_req *cr, json_t *req __unused)
{
	json_t		*errors = json_array();
	const char	*msg;

	log_info("reload asked by uid %d", (int)control_req_uid(cr));
	switch (sbxd_reload(errors)) {
	case 0:
		json_decref(errors);
		control_req_ok(cr, NULL);
		return;
	case -1:
		msg = "configuration has errors; the running configuration "
		    "is kept";
		break;
	default:
		msg = "configuration applied with errors";
		break;
	}
	control_req_done(cr, json_pack("{s:b, s:s, s:o}", "ok", 0, "error",
	    msg, "errors", errors));
}

/* log verbose|brief: debug logging on or back to the configured level. */
static void
sbxd_ctl_log(struct control_req *cr, json_t *req)
{
	const char	*level = json_string_value(json_object_get(req,
			    "level"));
	int		 pri;

	if (level != NULL && strcmp(level, "verbose") == 0)
		pri = LOG_DEBUG;
	else if (level != NULL && strcmp(level, "brief") == 0)
		pri = config_loglevel_raise(sbxd_env->sx_conf->sc_loglevel,
		    sbxd_env->sx_verbose);
	else {
		control_req_error(cr, "log: \"level\" must be \"verbose\" "
		    "or \"brief\"");
		return;
	}
	log_setlevel(pri);
	log_info("log level %s by uid %d", config_loglevel_name(pri),
	    (int)control_req_uid(cr));
	control_req_ok(cr, json_pack("{s:s}", "level",
	    config_loglevel_name(pri)));
}

static void
sbxd_signalcb(evutil_socket_t sig, short events __unused, void *arg __unused)
{
	switch (sig) {
	case SIGHUP:
		log_info("SIGHUP received");
		sbxd_reload(NULL);
		break;
	case SIGTERM:
		sbxd_shutdown("SIGTERM");
		break;
	case SIGINT:
		sbxd_shutdown("SIGINT");
		break;
	default:
		fatalx("unexpected signal %d", (int)sig);
		/* NOTREACHED */
	}
}

/* libevent's own messages are only of interest when debugging. */
static void
sbxd_libevent_logcb(int severity, const char *msg)
{
	if (severity >= EVENT_LOG_WARN)
		log_warnx("libevent: %s", msg);
	else
		log_debug("libevent: %s", msg);
}

/* Every event goes to the log. */
static void
sbxd_event_logcb(json_t *ev, void *arg __unused)
{
	char		*s;
	const char	*type = json_string_value(json_object_get(ev, "type"));

	/* An agent's text is its turn's, not the log's. */
	int		 debug = type != NULL && strcmp(type, "agent.text") == 0;

	if (debug && log_getlevel() < LOG_DEBUG)
		return;
	if ((s = json_dumps(ev, JSON_COMPACT)) == NULL)
		return;
	if (debug)
		log_debug("event %s", s);
	else
		log_info("event %s", s);
	free(s);
}
