/*
 * priv.c: privilege separation, after OpenBSD's relayd and OpenSSH.
 *
 * Started as root, sbxd is two processes.  The privileged process keeps
 * root, parses the config itself and does a fixed list of operations
 * (struct priv_op: spawn a job as a sandbox user, run firewall and user
 * commands it builds itself, bind a listener, open the capture, ...),
 * each checking its arguments against its own config.  It parses
 * nothing a sandbox or a network peer wrote: only the engine's frames,
 * strictly.  The engine, every component on one loop, runs as an
 * unprivileged user without capabilities and asks.
 *
 * A frame is one SOCK_SEQPACKET message: a struct priv_hdr, a JSON
 * object, and up to PRIV_FDS_MAX descriptors (SCM_RIGHTS).  The engine
 * waits for some answers (priv_call: the operations that answer at
 * once) and has others called back (priv_send); the privileged process
 * sends notes of its own (a job's exit).  When sbxd is one process (not
 * started as root, and the unit tests), priv_call and priv_send run the
 * same operations in that process, so there is one path either way.
 *
 * The privileged process watches the engine: if it dies, its jobs are
 * killed, what it asked for is forgotten and a new engine starts; the
 * sandboxes stay closed meanwhile, since their firewall rules are the
 * kernel's and their listeners stay bound here.  If the privileged
 * process dies, the engine's socket closes and the engine stops.
 */

#include <sys/types.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <netinet/in.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/syscall.h>
#endif

#include <event2/event.h>
#include <jansson.h>

#include "config.h"
#include "log.h"
#include "sbxd.h"

#define PRIV_BUF		(4 * 1024 * 1024) /* socket buffers: a frame
					   of PRIV_MSG_MAX fits with room */
#define PRIV_CALL_MSECS		30000	/* priv_call waits this long */
#define PRIV_SEND_SECS		5	/* a blocked write to the engine:
					   it is stuck, and is restarted */
#define PRIV_RESTART_MAX	60	/* seconds between engine starts
					   when each dies young */
#define PRIV_YOUNG		10	/* an engine that dies sooner is
					   restarted after a pause */
#define PRIV_STOP_SECS		30	/* SIGTERM to SIGKILL at shutdown */
#define PRIV_OP_MAX		32
#define PRIV_USERADD		"/usr/sbin/useradd"
#define PRIV_NOLOGIN		"/usr/sbin/nologin"

enum priv_role {
	PRIV_ROLE_LOCAL,	/* one process: operations run here */
	PRIV_ROLE_ENGINE,
	PRIV_ROLE_PRIV
};

/* A request of the engine's waiting for its reply (priv_send). */
struct priv_pending {
	TAILQ_ENTRY(priv_pending)	 pp_entry;
	uint64_t			 pp_id;
	priv_replycb			 pp_cb;
	void				*pp_arg;
};
TAILQ_HEAD(priv_pendings, priv_pending);

/* A frame received, or made locally, not yet handed on. */
struct priv_msg {
	TAILQ_ENTRY(priv_msg)		 pm_entry;
	struct priv_hdr			 pm_hdr;
	json_t				*pm_obj;
	int				 pm_fds[PRIV_FDS_MAX];
	int				 pm_nfds;
};
TAILQ_HEAD(priv_msgs, priv_msg);

/* Where a local priv_call wants its answer. */
struct priv_slot {
	int				 ps_done;
	json_t				*ps_obj;
	int				 ps_fds[PRIV_FDS_MAX];
	int				 ps_nfds;
};

/* A request being answered by an operation. */
struct priv_req {
	uint64_t			 pr_id;
	uint64_t			 pr_gen;	/* of the engine */
	char				 pr_op[PRIV_OP_MAX];
	int				 pr_local;
	struct priv_slot		*pr_slot;	/* local priv_call */
};

struct priv_listener {
	char				*pl_note;
	priv_notecb			 pl_cb;
	void				*pl_arg;
};

/* A listening socket bound for the engine; kept across its restarts. */
struct priv_bound {
	TAILQ_ENTRY(priv_bound)		 pb_entry;
	struct sockaddr_storage		 pb_ss;
	socklen_t			 pb_sslen;
	int				 pb_fd;
};
TAILQ_HEAD(priv_bounds, priv_bound);

static enum priv_role		 priv_role = PRIV_ROLE_LOCAL;
static const struct priv_op	*priv_ops;
static int			 priv_fd = -1;
static struct event		*priv_ev_read;
static struct event		*priv_ev_deferred;	/* priv_msgs */
static struct priv_msgs		 priv_queue = TAILQ_HEAD_INITIALIZER(priv_queue);
static struct priv_pendings	 priv_pending =
    TAILQ_HEAD_INITIALIZER(priv_pending);
static struct priv_listener	*priv_listeners;
static size_t			 priv_nlisteners;
static uint64_t			 priv_nextid;
static uint64_t			 priv_gen = 1;	/* engines started */

/* The privileged process. */
static struct sbxd_config	*priv_config;
static struct priv_bounds	 priv_bound = TAILQ_HEAD_INITIALIZER(priv_bound);
static pid_t			 priv_engine = -1;
static int			 priv_ever_ready;	/* sbxd started */
static int			 priv_stopping;
static int			 priv_ctlfd = -1;	/* the control socket */
static int			 priv_readyfd = -1;
static uid_t			 priv_uid;		/* the engine's */
static gid_t			 priv_gid;
static time_t			 priv_started;		/* the engine's */
static int			 priv_delay;
static int			 priv_exitcode;
static struct event		*priv_ev_chld;
static struct event		*priv_ev_hup;
static struct event		*priv_ev_term;
static struct event		*priv_ev_int;
static struct event		*priv_ev_restart;
static struct event		*priv_ev_kill;
static int			 priv_refused;
static int			 priv_pidfd = -1;
static char			**priv_files;	/* the config's, read here */
static size_t			 priv_nfiles;
static void		(*priv_cleanup)(void);	/* the operations'
							   state, at exit */
static int			 priv_exefd = -1;	/* sbxd, to start
							   each engine */
static int			 priv_argc;
static char			**priv_argv;

static int	priv_msg_read(int, struct priv_msg **, int, char *, size_t);
static void	priv_msg_free(struct priv_msg *);
static void	priv_deliver(struct priv_msg *);
static void	priv_fail_pending(uint64_t, const char *);
static void	priv_deferredcb(evutil_socket_t, short, void *);
static void	priv_queue_local(uint32_t, uint64_t, json_t *, const int *,
		    int);
static void	priv_engine_readcb(evutil_socket_t, short, void *);
static void	priv_lost(const char *);
static const struct priv_op *priv_op_find(const char *);
static void	priv_dispatch(struct priv_req *, json_t *, int *, int);
static void	priv_closefds(int *, int);
static void	priv_readcb(evutil_socket_t, short, void *);
static void	priv_serve(struct priv_msg *);
static void	priv_bad_frame(const char *, ...)
		    __attribute__((__format__ (printf, 1, 2)));
static int	priv_user(const char *);
static void	priv_pidfile_remove(void);
static int	priv_state(struct sbxd_config *);
static int	priv_socketpair(int [2]);
static int	priv_fork_engine(void);
static void	priv_engine_child(int) __attribute__((__noreturn__));
static int	priv_drop(void);
#ifdef __linux__
static int	priv_seccomp(void);
#endif
static void	priv_chldcb(evutil_socket_t, short, void *);
static void	priv_signalcb(evutil_socket_t, short, void *);
static void	priv_restartcb(evutil_socket_t, short, void *);
static void	priv_killcb(evutil_socket_t, short, void *);
static void	priv_engine_gone(int);
static void	priv_main(void) __attribute__((__noreturn__));
static int	priv_reparse(void);
static void	priv_op_ready(struct priv_req *, json_t *, int *, int);
static void	priv_op_reload(struct priv_req *, json_t *, int *, int);
static void	priv_op_bind(struct priv_req *, json_t *, int *, int);
static void	priv_op_unbind(struct priv_req *, json_t *, int *, int);
static void	priv_op_config_open(struct priv_req *, json_t *, int *, int);
static void	priv_op_open_log(struct priv_req *, json_t *, int *, int);
static void	priv_op_status(struct priv_req *, json_t *, int *, int);
static FILE	*priv_fopen_record(const char *);
static void	priv_files_reset(void);
static int	priv_bind_ok(const struct sockaddr_storage *, char *, size_t);
static struct priv_bound *priv_bound_find(const struct sockaddr_storage *);
static int	priv_args_addr(json_t *, struct sockaddr_storage *,
		    socklen_t *, char *, size_t);

/* What the privileged process does itself. */
static const struct priv_op priv_builtin[] = {
	{ "ready", priv_op_ready },
	{ "reload", priv_op_reload },
	{ "bind", priv_op_bind },
	{ "unbind", priv_op_unbind },
	{ "config-open", priv_op_config_open },
	{ "open-log", priv_op_open_log },
	{ "status", priv_op_status },
	{ NULL, NULL }
};

/* Whether this is the engine of a privilege-separated sbxd. */
int
priv_on(void)
{
	return (priv_role == PRIV_ROLE_ENGINE);
}

/* The daemon's pid: the privileged process's when there is one. */
pid_t
priv_daemon_pid(void)
{
	return (priv_role == PRIV_ROLE_ENGINE ? getppid() : getpid());
}

/* The engine's status entry: who does root's work, and how it went. */
json_t *
priv_status(void)
{
	json_t	*r;
	char	 err[256];

	if (priv_role != PRIV_ROLE_ENGINE)
		return (json_pack("{s:s, s:s}", "state", "off", "reason",
		    getuid() == 0 ? "no engine user" : "not started as root: "
		    "one process, no privileges"));
	if ((r = priv_call("status", NULL, NULL, NULL, err, sizeof(err))) ==
	    NULL)
		return (json_pack("{s:s, s:s}", "state", "failed", "reason",
		    err));
	json_object_del(r, "ok");
	json_object_set_new(r, "state", json_string("up"));
	json_object_set_new(r, "engine_pid", json_integer(getpid()));
	return (r);
}

/* The config the operations check against. */
const struct sbxd_config *
priv_conf(void)
{
	return (priv_role == PRIV_ROLE_PRIV ? priv_config : sbxd_env->sx_conf);
}

/*
 * Frames.  One sendmsg is one frame; the receiver gets it whole or
 * learns it was cut (MSG_TRUNC, MSG_CTRUNC).
 */
int
priv_frame_send(int fd, uint32_t type, uint64_t id, json_t *obj,
    const int *fds, int nfds)
{
	struct priv_hdr	 hdr;
	struct msghdr	 msg;
	struct iovec	 iov[2];
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(int) * PRIV_FDS_MAX)];
	} cmsgbuf;
	struct cmsghdr	*cmsg;
	char		*text;
	ssize_t		 n;

	if (nfds < 0 || nfds > PRIV_FDS_MAX) {
		errno = EINVAL;
		return (-1);
	}
	if ((text = json_dumps(obj, JSON_COMPACT)) == NULL) {
		errno = ENOMEM;
		return (-1);
	}
	if (strlen(text) > PRIV_MSG_MAX) {
		free(text);
		errno = EMSGSIZE;
		return (-1);
	}
	memset(&hdr, 0, sizeof(hdr));
	hdr.ph_magic = PRIV_MAGIC;
	hdr.ph_type = type;
	hdr.ph_id = id;
	iov[0].iov_base = &hdr;
	iov[0].iov_len = sizeof(hdr);
	iov[1].iov_base = text;
	iov[1].iov_len = strlen(text);
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	msg.msg_iovlen = 2;
	if (nfds > 0) {
		memset(&cmsgbuf, 0, sizeof(cmsgbuf));
		msg.msg_control = cmsgbuf.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * nfds);
	}
	for (;;) {
		struct pollfd	 pfd = { fd, POLLOUT, 0 };

		if ((n = sendmsg(fd, &msg, MSG_NOSIGNAL)) != -1 ||
		    (errno != EINTR && errno != EAGAIN))
			break;
		/* The engine's socket does not block: wait here. */
		if (errno == EAGAIN && (priv_role != PRIV_ROLE_ENGINE ||
		    poll(&pfd, 1, PRIV_CALL_MSECS) <= 0))
			break;
	}
	free(text);
	return (n == -1 ? -1 : 0);
}

/*
 * Receive one frame: 1 with it, 0 at the end of the stream, -1 with
 * errno when nothing could be read (EAGAIN without flags MSG_DONTWAIT
 * cannot happen), -2 with err when a frame came but is malformed:
 * its descriptors are closed then, and *hdr is what could be read.
 */
int
priv_frame_recv(int fd, struct priv_hdr *hdr, json_t **obj, int *fds,
    int *nfds, char *err, size_t errlen)
{
	struct priv_msg	*pm;
	int		 r;

	*obj = NULL;
	*nfds = 0;
	r = priv_msg_read(fd, &pm, 0, err, errlen);
	if (pm != NULL) {
		*hdr = pm->pm_hdr;
		*obj = pm->pm_obj;
		pm->pm_obj = NULL;
		memcpy(fds, pm->pm_fds, sizeof(int) * pm->pm_nfds);
		*nfds = pm->pm_nfds;
		pm->pm_nfds = 0;
		priv_msg_free(pm);
	}
	return (r);
}

/* As priv_frame_recv, into a new priv_msg (also for a malformed one). */
static int
priv_msg_read(int fd, struct priv_msg **pmp, int flags, char *err,
    size_t errlen)
{
	struct priv_msg	*pm;
	struct msghdr	 msg;
	struct iovec	 iov;
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(int) * PRIV_FDS_MAX)];
	} cmsgbuf;
	struct cmsghdr	*cmsg;
	json_error_t	 jerr;
	char		*buf;
	ssize_t		 n;
	size_t		 len, i, nfd;

	*pmp = NULL;
	/* Both before the frame is taken, so that none is lost. */
	if ((buf = malloc(sizeof(struct priv_hdr) + PRIV_MSG_MAX + 1)) ==
	    NULL || (pm = calloc(1, sizeof(*pm))) == NULL) {
		free(buf);
		errno = ENOMEM;
		return (-1);
	}
	iov.iov_base = buf;
	iov.iov_len = sizeof(struct priv_hdr) + PRIV_MSG_MAX + 1;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);
	while ((n = recvmsg(fd, &msg, flags | MSG_CMSG_CLOEXEC)) == -1 &&
	    errno == EINTR)
		;
	if (n <= 0) {
		free(buf);
		free(pm);
		return (n == 0 ? 0 : -1);
	}
	*pmp = pm;
	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg != NULL;
	    cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		if (cmsg->cmsg_level != SOL_SOCKET ||
		    cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		nfd = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < nfd; i++) {
			int	 f;

			memcpy(&f, CMSG_DATA(cmsg) + i * sizeof(int),
			    sizeof(int));
			if (pm->pm_nfds < PRIV_FDS_MAX)
				pm->pm_fds[pm->pm_nfds++] = f;
			else
				close(f);
		}
	}
	if ((size_t)n >= sizeof(struct priv_hdr))
		memcpy(&pm->pm_hdr, buf, sizeof(struct priv_hdr));
	len = (size_t)n < sizeof(struct priv_hdr) ? 0 :
	    (size_t)n - sizeof(struct priv_hdr);
	if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
		snprintf(err, errlen, "a frame was cut: more than %d bytes "
		    "or %d descriptors", PRIV_MSG_MAX, PRIV_FDS_MAX);
	else if ((size_t)n < sizeof(struct priv_hdr))
		snprintf(err, errlen, "a frame of %zd bytes is shorter than "
		    "its header", n);
	else if (pm->pm_hdr.ph_magic != PRIV_MAGIC)
		snprintf(err, errlen, "a frame has the wrong magic number "
		    "0x%08x", pm->pm_hdr.ph_magic);
	else if (pm->pm_hdr.ph_type < PRIV_REQ ||
	    pm->pm_hdr.ph_type > PRIV_NOTE)
		snprintf(err, errlen, "a frame has the unknown type %u",
		    pm->pm_hdr.ph_type);
	else if (len > PRIV_MSG_MAX)
		snprintf(err, errlen, "a frame is longer than %d bytes",
		    PRIV_MSG_MAX);
	else if ((pm->pm_obj = json_loadb(buf + sizeof(struct priv_hdr), len,
	    JSON_REJECT_DUPLICATES, &jerr)) ==
	    NULL)
		snprintf(err, errlen, "a frame is not JSON: %s at byte %d",
		    jerr.text[0] != '\0' ? jerr.text : "out of memory",
		    jerr.position);
	else if (!json_is_object(pm->pm_obj))
		snprintf(err, errlen, "a frame is not a JSON object");
	else {
		free(buf);
		return (1);
	}
	free(buf);
	priv_closefds(pm->pm_fds, pm->pm_nfds);
	pm->pm_nfds = 0;
	json_decref(pm->pm_obj);
	pm->pm_obj = NULL;
	return (-2);
}

static void
priv_msg_free(struct priv_msg *pm)
{
	if (pm == NULL)
		return;
	priv_closefds(pm->pm_fds, pm->pm_nfds);
	json_decref(pm->pm_obj);
	free(pm);
}

static void
priv_closefds(int *fds, int nfds)
{
	int	 i;

	for (i = 0; i < nfds; i++)
		if (fds[i] != -1)
			close(fds[i]);
}

static const struct priv_op *
priv_op_find(const char *name)
{
	const struct priv_op	*po;

	for (po = priv_builtin; po->po_name != NULL; po++)
		if (strcmp(po->po_name, name) == 0)
			return (po);
	for (po = priv_ops; po != NULL && po->po_name != NULL; po++)
		if (strcmp(po->po_name, name) == 0)
			return (po);
	return (NULL);
}

/*
 * Ask and wait.  The engine blocks on the socket until the reply comes;
 * other frames that arrive meanwhile are kept for the loop.
 */
json_t *
priv_call(const char *op, json_t *args, int *fds, int *nfds, char *err,
    size_t errlen)
{
	struct priv_slot	 slot;
	struct priv_req		*pr;
	struct priv_msg		*pm;
	struct pollfd		 pfd;
	const struct priv_op	*po;
	const char		*e;
	uint64_t		 id;
	int			 r, n, tmp[PRIV_FDS_MAX];

	if (nfds == NULL)
		nfds = &n;
	if (fds == NULL)
		fds = tmp;
	*nfds = 0;
	if (args == NULL)
		args = json_object();
	if (args == NULL || json_object_set_new(args, "op",
	    json_string(op)) == -1) {
		json_decref(args);
		snprintf(err, errlen, "out of memory");
		return (NULL);
	}
	if (priv_role != PRIV_ROLE_ENGINE) {
		/* One process: the operation runs here and now. */
		if ((po = priv_op_find(op)) == NULL ||
		    (pr = calloc(1, sizeof(*pr))) == NULL) {
			json_decref(args);
			snprintf(err, errlen, po == NULL ? "no such operation %s" :
			    "out of memory", op);
			return (NULL);
		}
		memset(&slot, 0, sizeof(slot));
		pr->pr_id = ++priv_nextid;
		pr->pr_gen = priv_gen;
		pr->pr_local = 1;
		pr->pr_slot = &slot;
		snprintf(pr->pr_op, sizeof(pr->pr_op), "%s", op);
		json_object_del(args, "op");
		priv_dispatch(pr, args, NULL, 0);
		json_decref(args);
		if (!slot.ps_done) {
			pr->pr_slot = NULL;	/* its answer is dropped */
			snprintf(err, errlen, "%s did not answer at once", op);
			return (NULL);
		}
		goto answer_slot;
	}
	id = ++priv_nextid;
	r = priv_frame_send(priv_fd, PRIV_REQ, id, args, NULL, 0);
	json_decref(args);
	if (r == -1) {
		snprintf(err, errlen, "%s: cannot ask the privileged "
		    "process: %s", op, strerror(errno));
		return (NULL);
	}
	for (;;) {
		pfd.fd = priv_fd;
		pfd.events = POLLIN;
		if ((r = poll(&pfd, 1, PRIV_CALL_MSECS)) == -1 &&
		    errno == EINTR)
			continue;
		if (r <= 0) {
			snprintf(err, errlen, "%s: the privileged process "
			    "did not answer", op);
			return (NULL);
		}
		r = priv_msg_read(priv_fd, &pm, MSG_DONTWAIT, err, errlen);
		if (r == -1 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r == -1 && errno == ENOMEM) {
			/* The reply stays queued; the loop drops it later. */
			snprintf(err, errlen, "out of memory");
			return (NULL);
		}
		if (r == 0 || r == -1) {
			priv_lost(r == 0 ? "closed" : strerror(errno));
			snprintf(err, errlen, "%s: the privileged process is "
			    "gone", op);
			return (NULL);
		}
		if (r == -2) {
			log_warnx("privileged process: %s", err);
			if (pm->pm_hdr.ph_type == PRIV_REPLY &&
			    pm->pm_hdr.ph_id == id) {
				priv_msg_free(pm);
				return (NULL);	/* err says why */
			}
			priv_msg_free(pm);
			continue;
		}
		if (pm->pm_hdr.ph_type == PRIV_REPLY &&
		    pm->pm_hdr.ph_id == id)
			break;
		TAILQ_INSERT_TAIL(&priv_queue, pm, pm_entry);
		if (priv_ev_deferred != NULL)
			event_active(priv_ev_deferred, EV_TIMEOUT, 0);
	}
	memset(&slot, 0, sizeof(slot));
	slot.ps_obj = pm->pm_obj;
	pm->pm_obj = NULL;
	memcpy(slot.ps_fds, pm->pm_fds, sizeof(int) * pm->pm_nfds);
	slot.ps_nfds = pm->pm_nfds;
	pm->pm_nfds = 0;
	priv_msg_free(pm);
answer_slot:
	if ((e = json_string_value(json_object_get(slot.ps_obj, "error"))) !=
	    NULL || !json_is_true(json_object_get(slot.ps_obj, "ok"))) {
		snprintf(err, errlen, "%s", e != NULL ? e :
		    "a reply without ok");
		priv_closefds(slot.ps_fds, slot.ps_nfds);
		json_decref(slot.ps_obj);
		return (NULL);
	}
	if (slot.ps_nfds > 0)
		memcpy(fds, slot.ps_fds, sizeof(int) * slot.ps_nfds);
	*nfds = slot.ps_nfds;
	if (fds == tmp) {
		/* The caller wants none of them. */
		priv_closefds(tmp, *nfds);
		*nfds = 0;
	}
	return (slot.ps_obj);
}

/* Ask; cb hears the reply from the loop.  0 if it could not be sent. */
uint64_t
priv_send(const char *op, json_t *args, priv_replycb cb, void *arg)
{
	struct priv_pending	*pp;
	struct priv_req		*pr;
	const struct priv_op	*po;
	uint64_t		 id;

	if (args == NULL)
		args = json_object();
	if (args == NULL || json_object_set_new(args, "op",
	    json_string(op)) == -1 || priv_ev_deferred == NULL ||
	    (pp = calloc(1, sizeof(*pp))) == NULL) {
		json_decref(args);
		return (0);
	}
	id = ++priv_nextid;
	pp->pp_id = id;
	pp->pp_cb = cb;
	pp->pp_arg = arg;
	if (priv_role == PRIV_ROLE_ENGINE) {
		if (priv_frame_send(priv_fd, PRIV_REQ, id, args, NULL, 0) ==
		    -1) {
			log_warn("%s: cannot ask the privileged process", op);
			json_decref(args);
			free(pp);
			return (0);
		}
		json_decref(args);
		TAILQ_INSERT_TAIL(&priv_pending, pp, pp_entry);
		return (id);
	}
	if ((po = priv_op_find(op)) == NULL ||
	    (pr = calloc(1, sizeof(*pr))) == NULL) {
		json_decref(args);
		free(pp);
		return (0);
	}
	TAILQ_INSERT_TAIL(&priv_pending, pp, pp_entry);
	pr->pr_id = id;
	pr->pr_gen = priv_gen;
	pr->pr_local = 1;
	snprintf(pr->pr_op, sizeof(pr->pr_op), "%s", op);
	json_object_del(args, "op");
	priv_dispatch(pr, args, NULL, 0);
	json_decref(args);
	return (id);
}

/* Its callback will not be called. */
void
priv_forget(uint64_t id)
{
	struct priv_pending	*pp;

	TAILQ_FOREACH(pp, &priv_pending, pp_entry)
		if (pp->pp_id == id) {
			TAILQ_REMOVE(&priv_pending, pp, pp_entry);
			free(pp);
			return;
		}
}

void
priv_listen(const char *note, priv_notecb cb, void *arg)
{
	struct priv_listener	*pl;
	size_t			 i;

	for (i = 0; i < priv_nlisteners; i++)
		if (strcmp(priv_listeners[i].pl_note, note) == 0) {
			priv_listeners[i].pl_cb = cb;
			priv_listeners[i].pl_arg = arg;
			return;
		}
	pl = reallocarray(priv_listeners, priv_nlisteners + 1, sizeof(*pl));
	if (pl == NULL)
		fatalx("out of memory");
	priv_listeners = pl;
	pl[priv_nlisteners].pl_note = xstrdup(note);
	pl[priv_nlisteners].pl_cb = cb;
	pl[priv_nlisteners].pl_arg = arg;
	priv_nlisteners++;
}

/* Hand a reply or note on: to its callback or its listener. */
static void
priv_deliver(struct priv_msg *pm)
{
	struct priv_pending	*pp;
	const char		*note, *e;
	size_t			 i;

	if (pm->pm_hdr.ph_type == PRIV_NOTE) {
		note = json_string_value(json_object_get(pm->pm_obj, "note"));
		for (i = 0; note != NULL && i < priv_nlisteners; i++)
			if (strcmp(priv_listeners[i].pl_note, note) == 0) {
				priv_listeners[i].pl_cb(pm->pm_obj,
				    pm->pm_fds, pm->pm_nfds,
				    priv_listeners[i].pl_arg);
				pm->pm_nfds = 0;
				break;
			}
		if (note == NULL || i == priv_nlisteners)
			log_debug("%s: a note nobody listens to", __func__);
		return;
	}
	if (pm->pm_hdr.ph_type != PRIV_REPLY)
		return;
	TAILQ_FOREACH(pp, &priv_pending, pp_entry)
		if (pp->pp_id == pm->pm_hdr.ph_id)
			break;
	if (pp == NULL)
		return;		/* forgotten */
	TAILQ_REMOVE(&priv_pending, pp, pp_entry);
	e = json_string_value(json_object_get(pm->pm_obj, "error"));
	if (pp->pp_cb == NULL)
		;	/* nobody waits for it */
	else if (e != NULL ||
	    !json_is_true(json_object_get(pm->pm_obj, "ok")))
		pp->pp_cb(NULL, e != NULL ? e : "a reply without ok",
		    pm->pm_fds, 0, pp->pp_arg);
	else {
		pp->pp_cb(pm->pm_obj, NULL, pm->pm_fds, pm->pm_nfds,
		    pp->pp_arg);
		pm->pm_nfds = 0;
	}
	free(pp);
}

/* A reply that could not be read: its request failed. */
static void
priv_fail_pending(uint64_t id, const char *err)
{
	struct priv_pending	*pp;

	TAILQ_FOREACH(pp, &priv_pending, pp_entry)
		if (pp->pp_id == id)
			break;
	if (pp == NULL)
		return;
	TAILQ_REMOVE(&priv_pending, pp, pp_entry);
	if (pp->pp_cb != NULL)
		pp->pp_cb(NULL, err, NULL, 0, pp->pp_arg);
	free(pp);
}

/* Frames kept by priv_call, and local replies, one loop turn later. */
static void
priv_deferredcb(evutil_socket_t fd __unused, short events __unused,
    void *arg __unused)
{
	struct priv_msg	*pm;
	struct priv_msgs queue = TAILQ_HEAD_INITIALIZER(queue);

	/* What a callback queues now waits for the next turn. */
	TAILQ_CONCAT(&queue, &priv_queue, pm_entry);
	while ((pm = TAILQ_FIRST(&queue)) != NULL) {
		TAILQ_REMOVE(&queue, pm, pm_entry);
		priv_deliver(pm);
		priv_msg_free(pm);
	}
}

static void
priv_queue_local(uint32_t type, uint64_t id, json_t *obj, const int *fds,
    int nfds)
{
	struct priv_msg	*pm;

	if ((pm = calloc(1, sizeof(*pm))) == NULL) {
		json_decref(obj);
		priv_closefds((int *)fds, nfds);
		return;
	}
	pm->pm_hdr.ph_magic = PRIV_MAGIC;
	pm->pm_hdr.ph_type = type;
	pm->pm_hdr.ph_id = id;
	pm->pm_obj = obj;
	if (nfds > 0)
		memcpy(pm->pm_fds, fds, sizeof(int) * nfds);
	pm->pm_nfds = nfds;
	TAILQ_INSERT_TAIL(&priv_queue, pm, pm_entry);
	if (priv_ev_deferred != NULL)
		event_active(priv_ev_deferred, EV_TIMEOUT, 0);
}

/* The engine: replies and notes from the privileged process. */
static void
priv_engine_readcb(evutil_socket_t fd, short events __unused,
    void *arg __unused)
{
	struct priv_msg	*pm;
	char		 err[256];
	int		 r;

	for (;;) {
		r = priv_msg_read(fd, &pm, MSG_DONTWAIT, err, sizeof(err));
		if (r == -1 && (errno == EAGAIN || errno == EINTR ||
		    errno == ENOMEM))
			return;		/* ENOMEM: the next turn tries again */
		if (r == 0 || r == -1) {
			priv_lost(r == 0 ? "closed" : strerror(errno));
			return;
		}
		if (r == -2) {
			log_warnx("privileged process: %s", err);
			if (pm->pm_hdr.ph_type == PRIV_REPLY)
				priv_fail_pending(pm->pm_hdr.ph_id, err);
			priv_msg_free(pm);
			continue;
		}
		priv_deliver(pm);
		priv_msg_free(pm);
	}
}

/* The privileged process is gone: the engine cannot go on alone. */
static void
priv_lost(const char *why)
{
	if (priv_ev_read != NULL) {
		event_free(priv_ev_read);
		priv_ev_read = NULL;
	}
	log_warnx("the privileged process is gone (%s): stopping", why);
	(void)kill(getpid(), SIGTERM);
}

/*
 * In the operation: answer.  The descriptors are sent, then closed
 * here; a reply to an engine that has since been replaced is dropped.
 */
void
priv_reply(struct priv_req *pr, json_t *reply, const int *fds, int nfds)
{
	if (reply == NULL)
		reply = json_object();
	if (reply != NULL && !json_is_string(json_object_get(reply, "error")))
		json_object_set_new(reply, "ok", json_true());
	if (nfds < 0 || nfds > PRIV_FDS_MAX)
		nfds = 0;
	if (pr->pr_local) {
		if (pr->pr_slot != NULL) {
			pr->pr_slot->ps_done = 1;
			pr->pr_slot->ps_obj = reply;
			if (nfds > 0)
				memcpy(pr->pr_slot->ps_fds, fds,
				    sizeof(int) * nfds);
			pr->pr_slot->ps_nfds = nfds;
		} else if (pr->pr_gen == priv_gen && reply != NULL)
			priv_queue_local(PRIV_REPLY, pr->pr_id, reply, fds,
			    nfds);
		else {
			json_decref(reply);
			priv_closefds((int *)fds, nfds);
		}
		free(pr);
		return;
	}
	if (reply == NULL)
		reply = json_pack("{s:s}", "error", "out of memory");
	if (pr->pr_gen == priv_gen && priv_fd != -1 && reply != NULL &&
	    priv_frame_send(priv_fd, PRIV_REPLY, pr->pr_id, reply, fds,
	    nfds) == -1) {
		log_warn("privileged process: reply to %s", pr->pr_op);
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			priv_engine_gone(SIGKILL);	/* it is stuck */
	}
	json_decref(reply);
	priv_closefds((int *)fds, nfds);
	free(pr);
}

/* In the operation: refuse, say why, and log it. */
void
priv_refuse(struct priv_req *pr, const char *fmt, ...)
{
	char	 msg[512];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!pr->pr_local || priv_role == PRIV_ROLE_PRIV)
		log_warnx("privileged process: refused %s: %s", pr->pr_op,
		    msg);
	else
		log_debug("%s: %s: %s", __func__, pr->pr_op, msg);
	priv_refused++;
	priv_reply(pr, json_pack("{s:s}", "error", msg), NULL, 0);
}

uint64_t
priv_req_id(const struct priv_req *pr)
{
	return (pr->pr_id);
}

/* In the privileged process: news for the engine. */
void
priv_note(const char *note, json_t *args, const int *fds, int nfds)
{
	if (args == NULL)
		args = json_object();
	if (args == NULL || json_object_set_new(args, "note",
	    json_string(note)) == -1) {
		json_decref(args);
		priv_closefds((int *)fds, nfds);
		return;
	}
	if (priv_role != PRIV_ROLE_PRIV) {
		priv_queue_local(PRIV_NOTE, 0, args, fds, nfds);
		return;
	}
	if (priv_fd != -1 && priv_frame_send(priv_fd, PRIV_NOTE, 0, args,
	    fds, nfds) == -1) {
		log_warn("privileged process: note %s", note);
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			priv_engine_gone(SIGKILL);
	}
	json_decref(args);
	priv_closefds((int *)fds, nfds);
}

static void
priv_dispatch(struct priv_req *pr, json_t *args, int *fds, int nfds)
{
	const struct priv_op	*po;

	if ((po = priv_op_find(pr->pr_op)) == NULL) {
		priv_closefds(fds, nfds);
		priv_refuse(pr, "no such operation");
		return;
	}
	po->po_fn(pr, args, fds, nfds);
}

/* The privileged process: the engine's requests. */
static void
priv_readcb(evutil_socket_t fd, short events __unused, void *arg __unused)
{
	struct priv_msg	*pm;
	char		 err[256];
	int		 r, i;

	for (i = 0; i < 64 && priv_fd == fd; i++) {
		r = priv_msg_read(fd, &pm, MSG_DONTWAIT, err, sizeof(err));
		if (r == -1 && (errno == EAGAIN || errno == EINTR ||
		    errno == ENOMEM))
			return;
		if (r == 0 || r == -1) {
			/* The engine closed; SIGCHLD tells how it ended. */
			event_del(priv_ev_read);
			return;
		}
		if (r == -2) {
			priv_bad_frame("%s", err);
			if (pm != NULL && pm->pm_hdr.ph_magic == PRIV_MAGIC &&
			    pm->pm_hdr.ph_type == PRIV_REQ) {
				json_t	*e = json_pack("{s:s}", "error", err);

				if (e != NULL)
					(void)priv_frame_send(fd, PRIV_REPLY,
					    pm->pm_hdr.ph_id, e, NULL, 0);
				json_decref(e);
			}
			priv_msg_free(pm);
			continue;
		}
		priv_serve(pm);
	}
}

static void
priv_bad_frame(const char *fmt, ...)
{
	char	 msg[512];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	priv_refused++;
	log_warnx("privileged process: refused a frame from the engine: %s",
	    msg);
}

/* One well-formed frame: a request, else refused. */
static void
priv_serve(struct priv_msg *pm)
{
	struct priv_req	*pr;
	const char	*op;
	json_t		*e;

	if (pm->pm_hdr.ph_type != PRIV_REQ ||
	    (op = json_string_value(json_object_get(pm->pm_obj, "op"))) ==
	    NULL || strlen(op) >= PRIV_OP_MAX) {
		priv_bad_frame(pm->pm_hdr.ph_type != PRIV_REQ ? "a frame of "
		    "type %u is not a request" : "a request without an "
		    "operation", pm->pm_hdr.ph_type);
		if (pm->pm_hdr.ph_type == PRIV_REQ &&
		    (e = json_pack("{s:s}", "error", "a request without an "
		    "operation")) != NULL) {
			(void)priv_frame_send(priv_fd, PRIV_REPLY,
			    pm->pm_hdr.ph_id, e, NULL, 0);
			json_decref(e);
		}
		priv_msg_free(pm);
		return;
	}
	if ((pr = calloc(1, sizeof(*pr))) == NULL) {
		priv_msg_free(pm);
		return;
	}
	pr->pr_id = pm->pm_hdr.ph_id;
	pr->pr_gen = priv_gen;
	snprintf(pr->pr_op, sizeof(pr->pr_op), "%s", op);
	json_object_del(pm->pm_obj, "op");
	priv_dispatch(pr, pm->pm_obj, pm->pm_fds, pm->pm_nfds);
	pm->pm_nfds = 0;
	priv_msg_free(pm);
}

/* What the privileged process calls at its end, before jobs go. */
void
priv_atexit(void (*fn)(void))
{
	priv_cleanup = fn;
}

/* At the end: what priv_init and the requests made is freed. */
void
priv_shutdown(void)
{
	struct priv_pending	*pp;
	struct priv_msg		*pm;
	size_t			 i;

	while ((pp = TAILQ_FIRST(&priv_pending)) != NULL) {
		TAILQ_REMOVE(&priv_pending, pp, pp_entry);
		free(pp);
	}
	while ((pm = TAILQ_FIRST(&priv_queue)) != NULL) {
		TAILQ_REMOVE(&priv_queue, pm, pm_entry);
		priv_msg_free(pm);
	}
	for (i = 0; i < priv_nlisteners; i++)
		free(priv_listeners[i].pl_note);
	free(priv_listeners);
	priv_listeners = NULL;
	priv_nlisteners = 0;
	if (priv_ev_read != NULL)
		event_free(priv_ev_read);
	if (priv_ev_deferred != NULL)
		event_free(priv_ev_deferred);
	priv_ev_read = priv_ev_deferred = NULL;
}

/*
 * On the loop of sbxd_env: what the engine or the one process needs to
 * hear replies and notes.  ops, if not NULL, are what runs here when
 * sbxd is one process.
 */
int
priv_init(const struct priv_op *ops)
{
	if (ops != NULL)
		priv_ops = ops;
	if (priv_ev_deferred == NULL && (priv_ev_deferred = event_new(
	    sbxd_env->sx_base, -1, 0, priv_deferredcb, NULL)) == NULL)
		return (-1);
	if (!TAILQ_EMPTY(&priv_queue))
		event_active(priv_ev_deferred, EV_TIMEOUT, 0);
	if (priv_role == PRIV_ROLE_ENGINE && priv_ev_read == NULL) {
		if (evutil_make_socket_nonblocking(priv_fd) == -1 ||
		    (priv_ev_read = event_new(sbxd_env->sx_base, priv_fd,
		    EV_READ | EV_PERSIST, priv_engine_readcb, NULL)) == NULL ||
		    event_add(priv_ev_read, NULL) == -1)
			return (-1);
	}
	return (0);
}

/*
 * Start.  Not root, or no engine user: one process, and the operations
 * run in it; 0.  Root: prepare what the engine may not do itself (its
 * user, its directory, the control socket), then start the engine: sbxd
 * again, argv with --engine, as the engine's user.  This process stays
 * privileged, serves it and never returns.  -1 if that cannot start.
 */
int
priv_start(struct sbxd_config *conf, const struct priv_op *ops,
    int readyfd, int argc, char **argv)
{
	priv_ops = ops;
	if (getuid() != 0 || geteuid() != 0 || conf->sc_user == NULL) {
		priv_role = PRIV_ROLE_LOCAL;
		return (0);
	}
#ifndef __linux__
	/* The engine's start (fexecve of /proc/self/exe) is Linux's. */
	log_warnx("privilege separation is not built for this system: "
	    "sbxd runs as one process, as root");
	priv_role = PRIV_ROLE_LOCAL;
	return (0);
#endif
	priv_config = conf;
	priv_argc = argc;
	priv_argv = argv;
	if ((priv_exefd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC)) ==
	    -1) {
		log_warn("/proc/self/exe");
		return (-1);
	}
	/* Which files the config reads: the engine may ask for those. */
	if (priv_reparse() == -1) {
		log_warnx("%s: cannot read it again", sbxd_env->sx_conffile);
		return (-1);
	}
	conf = priv_config;
	if (!(sbxd_env->sx_opts & SBXD_OPT_FOREGROUND) &&
	    (priv_pidfd = util_pidfile(conf->sc_pidfile)) == -1)
		return (-1);
	if (priv_user(conf->sc_user) == -1 || priv_state(conf) == -1 ||
	    (priv_ctlfd = control_socket_bind(conf)) == -1) {
		priv_pidfile_remove();
		return (-1);
	}
	priv_readyfd = readyfd;
	priv_role = PRIV_ROLE_PRIV;
	if ((sbxd_env->sx_base = event_base_new()) == NULL)
		fatalx("cannot create the event loop");
	priv_ev_deferred = event_new(sbxd_env->sx_base, -1, 0,
	    priv_deferredcb, NULL);
	priv_ev_chld = evsignal_new(sbxd_env->sx_base, SIGCHLD, priv_chldcb,
	    NULL);
	priv_ev_hup = evsignal_new(sbxd_env->sx_base, SIGHUP, priv_signalcb,
	    NULL);
	priv_ev_term = evsignal_new(sbxd_env->sx_base, SIGTERM,
	    priv_signalcb, NULL);
	priv_ev_int = evsignal_new(sbxd_env->sx_base, SIGINT, priv_signalcb,
	    NULL);
	priv_ev_restart = evtimer_new(sbxd_env->sx_base, priv_restartcb,
	    NULL);
	priv_ev_kill = evtimer_new(sbxd_env->sx_base, priv_killcb, NULL);
	if (priv_ev_deferred == NULL || priv_ev_chld == NULL ||
	    priv_ev_hup == NULL || priv_ev_term == NULL ||
	    priv_ev_int == NULL || priv_ev_restart == NULL ||
	    priv_ev_kill == NULL || evsignal_add(priv_ev_chld, NULL) == -1 ||
	    evsignal_add(priv_ev_hup, NULL) == -1 ||
	    evsignal_add(priv_ev_term, NULL) == -1 ||
	    evsignal_add(priv_ev_int, NULL) == -1 || job_init() == -1)
		fatalx("privileged process: cannot watch signals");
	log_procname("sbxd [priv]");
	if (priv_fork_engine() == -1)
		return (-1);
	priv_main();
}

static void
priv_pidfile_remove(void)
{
	if (priv_pidfd == -1)
		return;
	(void)unlink(priv_config->sc_pidfile);
	close(priv_pidfd);
	priv_pidfd = -1;
}

/* The engine's user: found, or made (a system user, no login). */
static int
priv_user(const char *name)
{
	struct passwd	*pw;
	pid_t		 pid;
	int		 status;

	if ((pw = getpwnam(name)) == NULL) {
		log_info("creating the system user %s for sbxd's engine",
		    name);
		if ((pid = fork()) == -1) {
			log_warn("fork");
			return (-1);
		}
		if (pid == 0) {
			execl(PRIV_USERADD, "useradd", "--system",
			    "--user-group", "--no-create-home", "--home-dir",
			    "/nonexistent", "--shell", PRIV_NOLOGIN,
			    "--comment", "sbxd engine", name, (char *)NULL);
			_exit(127);
		}
		while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
			;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
		    (pw = getpwnam(name)) == NULL) {
			log_warnx("cannot create the user %s (useradd status "
			    "%d): create it, or name another with \"user\" "
			    "in the config", name, status);
			return (-1);
		}
	}
	if (pw->pw_uid == 0 || pw->pw_gid == 0) {
		log_warnx("user %s is root's uid or gid: the engine must not "
		    "be privileged", name);
		return (-1);
	}
	priv_uid = pw->pw_uid;
	priv_gid = pw->pw_gid;
	return (0);
}

/*
 * The state directory stays root's and locked here (the homes may be
 * below it); the engine gets its database directory in it.
 */
static int
priv_state(struct sbxd_config *conf)
{
	char	*dbdir;

	/* The engine passes through it to its own. */
	if (store_state_prepare(conf->sc_state, 0711) == -1 ||
	    (dbdir = store_dbdir(conf->sc_state, priv_uid, priv_gid)) ==
	    NULL)
		return (-1);
	free(dbdir);
	return (0);
}

/* Big buffers, so that a frame of PRIV_MSG_MAX always fits. */
static int
priv_socketpair(int sp[2])
{
	int	 i, size = PRIV_BUF;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) == -1) {
		log_warn("socketpair");
		return (-1);
	}
	for (i = 0; i < 2; i++) {
#ifdef SO_SNDBUFFORCE
		if (setsockopt(sp[i], SOL_SOCKET, SO_SNDBUFFORCE, &size,
		    sizeof(size)) == -1 || setsockopt(sp[i], SOL_SOCKET,
		    SO_RCVBUFFORCE, &size, sizeof(size)) == -1)
#endif
		{
			(void)setsockopt(sp[i], SOL_SOCKET, SO_SNDBUF, &size,
			    sizeof(size));
			(void)setsockopt(sp[i], SOL_SOCKET, SO_RCVBUF, &size,
			    sizeof(size));
		}
	}
	return (0);
}

/* A new engine and its socket; -1 if it could not be forked. */
static int
priv_fork_engine(void)
{
	struct timeval	 tv = { PRIV_SEND_SECS, 0 };
	int		 sp[2];
	pid_t		 pid;

	if (priv_socketpair(sp) == -1)
		return (-1);
	switch ((pid = fork())) {
	case -1:
		log_warn("fork");
		close(sp[0]);
		close(sp[1]);
		return (-1);
	case 0:
		close(sp[0]);
		priv_engine_child(sp[1]);
		/* NOTREACHED */
	}
	close(sp[1]);
	if (priv_readyfd != -1) {
		close(priv_readyfd);	/* the engine says when it is up */
		priv_readyfd = -1;
	}
	(void)setsockopt(sp[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	priv_fd = sp[0];
	priv_engine = pid;
	priv_started = time(NULL);
	priv_ev_read = event_new(sbxd_env->sx_base, priv_fd,
	    EV_READ | EV_PERSIST, priv_readcb, NULL);
	if (priv_ev_read == NULL || event_add(priv_ev_read, NULL) == -1)
		fatalx("privileged process: cannot watch the engine");
	log_info("engine started, pid %ld, user %s", (long)pid,
	    priv_config->sc_user);
	return (0);
}

/*
 * In the new engine's child: nothing of the privileged process's is
 * kept but the socket to it, the control socket, the pipe to whoever
 * waits for the start and stdio; root is given up for good; then sbxd
 * runs again from the start, with the same arguments and the
 * descriptors named in --engine, so that no memory of the privileged
 * process's (its loop, its jobs, the capture) is the engine's.
 */
static void
priv_engine_child(int fd)
{
	DIR		*d;
	struct dirent	*de;
	char		**argv, arg[64];
	int		 sig, n, keep, i;

	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)signal(sig, sig == SIGPIPE ? SIG_IGN : SIG_DFL);
	if ((d = opendir("/proc/self/fd")) != NULL) {
		keep = dirfd(d);
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] < '0' || de->d_name[0] > '9')
				continue;
			n = atoi(de->d_name);
			if (n > 2 && n != keep && n != fd &&
			    n != priv_ctlfd && n != priv_readyfd &&
			    n != priv_exefd)
				close(n);
		}
		closedir(d);
	}
	if (fcntl(fd, F_SETFD, 0) == -1 || fcntl(priv_ctlfd, F_SETFD, 0) ==
	    -1 || (priv_readyfd != -1 && fcntl(priv_readyfd, F_SETFD, 0) ==
	    -1) || priv_drop() == -1)
		_exit(1);
	if ((argv = calloc(priv_argc + 3, sizeof(*argv))) == NULL)
		_exit(1);
	for (i = 0; i < priv_argc; i++)
		argv[i] = priv_argv[i];
	snprintf(arg, sizeof(arg), "%d,%d,%d", fd, priv_ctlfd,
	    priv_readyfd);
	argv[i++] = "--engine";
	argv[i++] = arg;
	argv[i] = NULL;
#ifdef __linux__
	fexecve(priv_exefd, argv, environ);
#endif
	log_warn("engine: exec");
	_exit(1);
}

/*
 * sbxd --engine FD,CTLFD,READYFD: this is a new engine, and FD its
 * socket to the privileged process.  Not dumpable, under the seccomp
 * filter from now on (exec made it dumpable again).  -1 if the
 * argument is wrong or that fails.
 */
int
priv_engine_attach(const char *arg, int *ctlfd, int *readyfd)
{
	int	 fd;

	if (sscanf(arg, "%d,%d,%d", &fd, ctlfd, readyfd) != 3 || fd < 3 ||
	    *ctlfd < 3 || fcntl(fd, F_SETFD, FD_CLOEXEC) == -1 ||
	    fcntl(*ctlfd, F_GETFD) == -1 || getuid() == 0 || geteuid() == 0)
		return (-1);
	if (*readyfd != -1 && fcntl(*readyfd, F_SETFD, FD_CLOEXEC) == -1)
		*readyfd = -1;
#ifdef __linux__
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1 || priv_seccomp() == -1) {
		log_warn("engine: prctl");
		return (-1);
	}
#endif
	priv_role = PRIV_ROLE_ENGINE;
	priv_fd = fd;
	log_procname("sbxd [engine]");
	return (0);
}

/*
 * Become the engine's user for good: no supplementary groups, real,
 * effective and saved ids changed, no capabilities even in the
 * bounding set, no way back through exec, and not dumpable.
 */
static int
priv_drop(void)
{
#ifdef __linux__
	int	 cap;

	for (cap = 0; cap <= CAP_LAST_CAP; cap++)
		(void)prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
#endif
	if (setgroups(1, &priv_gid) == -1 ||
#ifdef __linux__
	    setresgid(priv_gid, priv_gid, priv_gid) == -1 ||
	    setresuid(priv_uid, priv_uid, priv_uid) == -1) {
#else
	    setgid(priv_gid) == -1 || setuid(priv_uid) == -1) {
#endif
		log_warn("engine: cannot become uid %lu",
		    (unsigned long)priv_uid);
		return (-1);
	}
	if (setuid(0) != -1 || seteuid(0) != -1) {
		log_warnx("engine: root regained after setuid");
		return (-1);
	}
#ifdef __linux__
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		log_warn("engine: prctl");
		return (-1);
	}
#endif
	return (0);
}

#ifdef __linux__
#if defined(__x86_64__)
#define PRIV_AUDIT_ARCH		AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define PRIV_AUDIT_ARCH		AUDIT_ARCH_AARCH64
#endif
#define PRIV_DENY(nr)							\
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1),		\
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM)

/*
 * A short list of what the engine never does, refused with EPERM: run
 * a program (the privileged process starts every job), enter or make
 * namespaces, mount, load kernel code or BPF, and the rarely needed
 * system calls that kernel exploits favour.  Everything else is left
 * alone: the filter is a second wall, not the first.
 */
static int
priv_seccomp(void)
{
#ifdef PRIV_AUDIT_ARCH
	struct sock_filter	 filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		    offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PRIV_AUDIT_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		    offsetof(struct seccomp_data, nr)),
#ifdef __x86_64__
		/* The x32 numbers of the same calls. */
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
#endif
		PRIV_DENY(__NR_execve),
		PRIV_DENY(__NR_execveat),
		PRIV_DENY(__NR_unshare),
		PRIV_DENY(__NR_setns),
		PRIV_DENY(__NR_mount),
		PRIV_DENY(__NR_umount2),
		PRIV_DENY(__NR_pivot_root),
		PRIV_DENY(__NR_chroot),
		PRIV_DENY(__NR_init_module),
		PRIV_DENY(__NR_finit_module),
		PRIV_DENY(__NR_kexec_load),
		PRIV_DENY(__NR_bpf),
		PRIV_DENY(__NR_perf_event_open),
		PRIV_DENY(__NR_userfaultfd),
		PRIV_DENY(__NR_keyctl),
		PRIV_DENY(__NR_add_key),
		PRIV_DENY(__NR_request_key),
		PRIV_DENY(__NR_process_vm_writev),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)
	};
	struct sock_fprog	 prog = {
		sizeof(filter) / sizeof(filter[0]), filter
	};

	return (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0));
#else
	return (0);
#endif
}
#endif

/* The privileged process's loop; at its end, sbxd is over. */
static void
priv_main(void)
{
	struct priv_bound	*pb;

	event_base_dispatch(sbxd_env->sx_base);
	if (priv_cleanup != NULL)
		priv_cleanup();
	job_shutdown();
	while ((pb = TAILQ_FIRST(&priv_bound)) != NULL) {
		TAILQ_REMOVE(&priv_bound, pb, pb_entry);
		close(pb->pb_fd);
		free(pb);
	}
	if (priv_ctlfd != -1) {
		close(priv_ctlfd);
		if (unlink(priv_config->sc_socket) == -1 && errno != ENOENT)
			log_warn("control socket %s", priv_config->sc_socket);
	}
	priv_pidfile_remove();
	control_shutdown();
	priv_shutdown();
	event_free(priv_ev_chld);
	event_free(priv_ev_hup);
	event_free(priv_ev_term);
	event_free(priv_ev_int);
	event_free(priv_ev_restart);
	event_free(priv_ev_kill);
	priv_files_reset();
	config_free(priv_config);
	event_base_free(sbxd_env->sx_base);
	log_info("exiting");
	exit(priv_exitcode);
}

static void
priv_chldcb(evutil_socket_t fd __unused, short events __unused,
    void *arg __unused)
{
	int	 status;

	if (priv_engine == -1 || waitpid(priv_engine, &status, WNOHANG) <= 0)
		return;
	if (WIFSIGNALED(status))
		log_warnx("engine (pid %ld) killed by signal %d",
		    (long)priv_engine, WTERMSIG(status));
	else if (!priv_stopping || WEXITSTATUS(status) != 0)
		log_warnx("engine (pid %ld) exited with status %d",
		    (long)priv_engine, WEXITSTATUS(status));
	priv_engine = -1;
	priv_engine_gone(0);
	if (priv_stopping || !priv_ever_ready) {
		/* Stopped, or it never came up at all: sbxd is over. */
		if (!priv_stopping)
			priv_exitcode = 1;
		else if (WIFEXITED(status))
			priv_exitcode = WEXITSTATUS(status);
		event_base_loopexit(sbxd_env->sx_base, NULL);
		return;
	}
	/* The sandboxes stay closed: restart, at once unless it died young. */
	if (time(NULL) - priv_started >= PRIV_YOUNG)
		priv_delay = 0;
	else
		priv_delay = priv_delay == 0 ? 1 : (priv_delay * 2 >
		    PRIV_RESTART_MAX ? PRIV_RESTART_MAX : priv_delay * 2);
	if (priv_delay > 0)
		log_warnx("starting a new engine in %d s", priv_delay);
	{
		struct timeval	 tv = { priv_delay, 0 };

		evtimer_add(priv_ev_restart, &tv);
	}
}

static void
priv_restartcb(evutil_socket_t fd __unused, short events __unused,
    void *arg __unused)
{
	struct timeval	 tv = { 5, 0 };

	if (priv_stopping || priv_engine != -1)
		return;
	if (priv_fork_engine() == -1)
		evtimer_add(priv_ev_restart, &tv);
}

/*
 * The engine is gone, or must go (sig: it is stuck): its jobs are
 * killed and what it asked is forgotten.
 */
static void
priv_engine_gone(int sig)
{
	if (sig != 0 && priv_engine != -1) {
		log_warnx("engine (pid %ld) does not read its socket: "
		    "killing it", (long)priv_engine);
		(void)kill(priv_engine, sig);
	}
	priv_gen++;
	if (priv_ev_read != NULL) {
		event_free(priv_ev_read);
		priv_ev_read = NULL;
	}
	if (priv_fd != -1) {
		close(priv_fd);
		priv_fd = -1;
	}
	job_priv_engine_gone();
}

static void
priv_signalcb(evutil_socket_t sig, short events __unused, void *arg __unused)
{
	struct timeval	 tv = { PRIV_STOP_SECS, 0 };

	switch (sig) {
	case SIGHUP:
		/* The engine reloads and tells us (op "reload"). */
		if (priv_engine != -1)
			(void)kill(priv_engine, SIGHUP);
		break;
	case SIGTERM:
	case SIGINT:
		if (priv_stopping++)
			break;
		if (priv_engine == -1) {
			event_base_loopexit(sbxd_env->sx_base, NULL);
			break;
		}
		(void)kill(priv_engine, SIGTERM);
		evtimer_add(priv_ev_kill, &tv);
		break;
	}
}

static void
priv_killcb(evutil_socket_t fd __unused, short events __unused,
    void *arg __unused)
{
	if (priv_engine != -1) {
		log_warnx("engine (pid %ld) did not stop in %d s: killing it",
		    (long)priv_engine, PRIV_STOP_SECS);
		(void)kill(priv_engine, SIGKILL);
	}
}

/* Read the config again, for the checks; the old one stays on error. */
static int
priv_reparse(void)
{
	struct sbxd_config	*conf;
	json_t			*errors;

	if ((errors = json_array()) == NULL)
		return (-1);
	priv_files_reset();
	parse_fopen_hook = priv_fopen_record;
	conf = parse_config(sbxd_env->sx_conffile, errors);
	parse_fopen_hook = NULL;
	json_decref(errors);
	if (conf == NULL)
		return (-1);
	config_free(priv_config);
	priv_config = conf;
	(void)control_socket_group(conf);
	return (0);
}

/* "status": what the privileged process has done. */
static void
priv_op_status(struct priv_req *pr, json_t *args __unused, int *fds,
    int nfds)
{
	struct priv_bound	*pb;
	int			 n = 0;

	priv_closefds(fds, nfds);
	TAILQ_FOREACH(pb, &priv_bound, pb_entry)
		n++;
	priv_reply(pr, json_pack("{s:I, s:s, s:I, s:i, s:i}", "pid",
	    (json_int_t)getpid(), "user", priv_role == PRIV_ROLE_PRIV ?
	    priv_config->sc_user : "", "engines", (json_int_t)priv_gen,
	    "refused", priv_refused, "bound", n), NULL, 0);
}

/* "ready": the engine is up; tell whoever waits for the start. */
static void
priv_op_ready(struct priv_req *pr, json_t *args __unused, int *fds,
    int nfds)
{
	priv_closefds(fds, nfds);
	if (priv_role == PRIV_ROLE_PRIV && !priv_ever_ready &&
	    !(sbxd_env->sx_opts & SBXD_OPT_FOREGROUND)) {
		/* Started: let go of the terminal, as the engine does. */
		int	 fd;

		if ((fd = open("/dev/null", O_RDWR)) != -1) {
			(void)dup2(fd, STDIN_FILENO);
			(void)dup2(fd, STDOUT_FILENO);
			(void)dup2(fd, STDERR_FILENO);
			if (fd > STDERR_FILENO)
				close(fd);
		}
		log_setstderr(0);
	}
	if (priv_role == PRIV_ROLE_PRIV) {
		priv_ever_ready = 1;
	}
	priv_reply(pr, NULL, NULL, 0);
}

/* "reload": the engine is about to read the config again; so do we. */
static void
priv_op_reload(struct priv_req *pr, json_t *args __unused, int *fds,
    int nfds)
{
	priv_closefds(fds, nfds);
	if (priv_role == PRIV_ROLE_PRIV && priv_reparse() == -1)
		log_warnx("privileged process: the config has errors; "
		    "checking against the last good one");
	priv_reply(pr, NULL, NULL, 0);
}

/* A file the config reads: recorded while the privileged one parses. */
static FILE *
priv_fopen_record(const char *path)
{
	char	**files;

	files = reallocarray(priv_files, priv_nfiles + 1, sizeof(*files));
	if (files != NULL) {
		priv_files = files;
		if ((priv_files[priv_nfiles] = strdup(path)) != NULL)
			priv_nfiles++;
	}
	return (fopen(path, "re"));
}

static void
priv_files_reset(void)
{
	size_t	 i;

	for (i = 0; i < priv_nfiles; i++)
		free(priv_files[i]);
	free(priv_files);
	priv_files = NULL;
	priv_nfiles = 0;
}

/*
 * In the engine: a file of the config, which may be readable by root
 * alone, opened by the privileged process.  It opens only what its
 * own reading of the config opened.
 */
FILE *
priv_config_fopen(const char *path)
{
	FILE	*fp;
	json_t	*r;
	char	 err[512];
	int	 fds[PRIV_FDS_MAX], nfds;

	if ((r = priv_call("config-open", json_pack("{s:s}", "path", path),
	    fds, &nfds, err, sizeof(err))) == NULL) {
		log_debug("%s: %s", path, err);
		errno = EACCES;
		return (NULL);
	}
	json_decref(r);
	if (nfds != 1) {
		priv_closefds(fds, nfds);
		errno = EIO;
		return (NULL);
	}
	if ((fp = fdopen(fds[0], "r")) == NULL)
		close(fds[0]);
	return (fp);
}

static void
priv_op_config_open(struct priv_req *pr, json_t *args, int *fds, int nfds)
{
	const char	*path;
	size_t		 i;
	int		 fd;

	priv_closefds(fds, nfds);
	if (json_unpack(args, "{s:s !}", "path", &path) == -1) {
		priv_refuse(pr, "bad arguments");
		return;
	}
	for (i = 0; i < priv_nfiles; i++)
		if (strcmp(priv_files[i], path) == 0)
			break;
	if (i == priv_nfiles) {
		priv_refuse(pr, "%s is not a file of the config", path);
		return;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		priv_refuse(pr, "%s: %s", path, strerror(errno));
		return;
	}
	priv_reply(pr, NULL, &fd, 1);
}

/* "open-log": the proxy's access log of the config, for appending. */
static void
priv_op_open_log(struct priv_req *pr, json_t *args, int *fds, int nfds)
{
	const char	*path, *want = priv_conf()->sc_proxy.pc_accesslog;
	int		 fd;

	priv_closefds(fds, nfds);
	if (json_unpack(args, "{s:s !}", "path", &path) == -1) {
		priv_refuse(pr, "bad arguments");
		return;
	}
	if (want == NULL || strcmp(path, want) != 0) {
		priv_refuse(pr, "%s is not the access log of the config", path);
		return;
	}
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW |
	    O_CLOEXEC, 0640)) == -1) {
		priv_refuse(pr, "%s: %s", path, strerror(errno));
		return;
	}
	priv_reply(pr, NULL, &fd, 1);
}

/* An address and port from a request's "address" and "port". */
static int
priv_args_addr(json_t *args, struct sockaddr_storage *ss, socklen_t *sslen,
    char *err, size_t errlen)
{
	const char	*addr;
	int		 port;

	if (json_unpack(args, "{s:s, s:i !}", "address", &addr, "port",
	    &port) == -1)
		return (util_err(err, errlen, "bad arguments: want address "
		    "and port"));
	if (port <= 0 || port > 65535)
		return (util_err(err, errlen, "port %d is out of range",
		    port));
	if (util_addr_parse(addr, (in_port_t)port, ss, sslen) == -1)
		return (util_err(err, errlen, "%s is not an address", addr));
	return (0);
}

/*
 * What the engine may have bound: a proxy listener of the config, or
 * a sandbox's on 127.0.0.1 in the sandbox port range.
 */
static int
priv_bind_ok(const struct sockaddr_storage *ss, char *err, size_t errlen)
{
	const struct sbxd_config	*conf = priv_conf();
	const struct sandbox_conf	*sbc = &conf->sc_sandbox;
	struct proxy_listen		*pl;
	const struct sockaddr_in	*sin;
	in_port_t			 port;
	char				 addr[128];

	TAILQ_FOREACH(pl, &conf->sc_listens, pl_entry)
		if (util_sockaddr_cmp((const struct sockaddr *)&pl->pl_ss,
		    (const struct sockaddr *)ss) == 0)
			return (0);
	port = util_sockaddr_port((const struct sockaddr *)ss);
	sin = (const struct sockaddr_in *)ss;
	util_sockaddr_str((const struct sockaddr *)ss, addr, sizeof(addr));
	if (!sbc->sbc_enabled || ss->ss_family != AF_INET ||
	    sin->sin_addr.s_addr != htonl(INADDR_LOOPBACK))
		return (util_err(err, errlen, "%s is neither a listener of "
		    "the config nor a sandbox's (127.0.0.1)", addr));
	if (port < sbc->sbc_port_min || port > sbc->sbc_port_max)
		return (util_err(err, errlen, "port %u is outside the sandbox "
		    "port-range %u-%u", (unsigned)port,
		    (unsigned)sbc->sbc_port_min, (unsigned)sbc->sbc_port_max));
	return (0);
}

static struct priv_bound *
priv_bound_find(const struct sockaddr_storage *ss)
{
	struct priv_bound	*pb;

	TAILQ_FOREACH(pb, &priv_bound, pb_entry)
		if (util_sockaddr_cmp((struct sockaddr *)&pb->pb_ss,
		    (const struct sockaddr *)ss) == 0)
			return (pb);
	return (NULL);
}

/*
 * "bind": a listening TCP socket for the engine.  It is kept here
 * until "unbind", so that it stays bound (and connections wait in its
 * backlog) while a new engine starts.
 */
static void
priv_op_bind(struct priv_req *pr, json_t *args, int *fds, int nfds)
{
	struct sockaddr_storage	 ss;
	struct priv_bound	*pb;
	socklen_t		 sslen;
	char			 err[256];
	int			 fd, on = 1, backlog, probe, r;

	priv_closefds(fds, nfds);
	backlog = json_integer_value(json_object_get(args, "backlog"));
	probe = json_is_true(json_object_get(args, "probe"));
	json_object_del(args, "backlog");
	json_object_del(args, "probe");
	if (priv_args_addr(args, &ss, &sslen, err, sizeof(err)) == -1 ||
	    priv_bind_ok(&ss, err, sizeof(err)) == -1) {
		priv_refuse(pr, "%s", err);
		return;
	}
	if ((pb = priv_bound_find(&ss)) != NULL) {
		if (probe) {
			priv_refuse(pr, "%s", strerror(EADDRINUSE));
			return;
		}
		if ((fd = fcntl(pb->pb_fd, F_DUPFD_CLOEXEC, 3)) == -1) {
			priv_refuse(pr, "dup: %s", strerror(errno));
			return;
		}
		priv_reply(pr, NULL, &fd, 1);
		return;
	}
	if ((fd = util_socket(ss.ss_family, SOCK_STREAM)) == -1) {
		priv_refuse(pr, "socket: %s", strerror(errno));
		return;
	}
	if (probe) {
		r = bind(fd, (struct sockaddr *)&ss, sslen);
		close(fd);
		if (r == -1)
			priv_refuse(pr, "%s", strerror(errno));
		else
			priv_reply(pr, NULL, NULL, 0);
		return;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1 ||
	    bind(fd, (struct sockaddr *)&ss, sslen) == -1 ||
	    listen(fd, backlog > 0 && backlog < 65536 ? backlog : 511) ==
	    -1) {
		priv_refuse(pr, "%s", strerror(errno));
		close(fd);
		return;
	}
	if ((pb = calloc(1, sizeof(*pb))) == NULL) {
		close(fd);
		priv_refuse(pr, "out of memory");
		return;
	}
	memcpy(&pb->pb_ss, &ss, sizeof(ss));
	pb->pb_sslen = sslen;
	pb->pb_fd = fd;
	if (priv_role == PRIV_ROLE_PRIV) {
		TAILQ_INSERT_TAIL(&priv_bound, pb, pb_entry);
		if ((fd = fcntl(fd, F_DUPFD_CLOEXEC, 3)) == -1) {
			priv_refuse(pr, "dup: %s", strerror(errno));
			return;
		}
	} else
		free(pb);	/* one process: the caller has it */
	priv_reply(pr, NULL, &fd, 1);
}

/* "unbind": the engine closed that listener for good. */
static void
priv_op_unbind(struct priv_req *pr, json_t *args, int *fds, int nfds)
{
	struct sockaddr_storage	 ss;
	struct priv_bound	*pb;
	socklen_t		 sslen;
	char			 err[256];

	priv_closefds(fds, nfds);
	if (priv_args_addr(args, &ss, &sslen, err, sizeof(err)) == -1) {
		priv_refuse(pr, "%s", err);
		return;
	}
	if ((pb = priv_bound_find(&ss)) != NULL) {
		TAILQ_REMOVE(&priv_bound, pb, pb_entry);
		close(pb->pb_fd);
		free(pb);
	}
	priv_reply(pr, NULL, NULL, 0);
}
