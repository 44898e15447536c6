/*
 * control.c: the sbxctl socket.  A Unix stream socket, mode 0660 with the
 * control group; every connection is checked again by peer credentials
 * (root or a member of the control group).  Requests and replies are JSON
 * objects, one per line.  A request is {"command": NAME, ...}.  Every
 * reply ends with a line holding "ok"; lines before it carry progress or,
 * for "events", the event stream, which follows until the client leaves.
 *
 * The core and each component register their commands.  A command gets a
 * struct control_req and answers through it, at once or later from the
 * loop: a request outlives its client, so a long operation finishes even
 * if sbxctl went away.  A client's requests run one at a time, in order.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <jansson.h>

#include "config.h"
#include "log.h"
#include "sbxd.h"

#define CONTROL_LINE_MAX	(2 * 1024 * 1024) /* longest request line: an
					   ask of a 256 KiB prompt, every byte
					   escaped */
#define CONTROL_CLIENTS_MAX	64	/* sbxctl connections at once */
#define CONTROL_ROOT_SLOTS	4	/* of them, kept for root */
#define CONTROL_FOLLOW_MAX	(256 * 1024) /* bytes queued to one events
					   follower before events drop */
#define CONTROL_BACKLOG		16
#define CONTROL_EVENTS_LAST_MAX	10000	/* stored events replayed */
#define CONTROL_LINGER_SECS	1	/* a refused client's last reply */
#define CONTROL_END_IDLE	30	/* a client with all it asked for */
#define CONTROL_FLUSH_IOV	64	/* chunks written to a client at exit */
#define CONTROL_COMMANDS_MAX	64	/* registered commands */

struct control_client {
	TAILQ_ENTRY(control_client)	 cc_entry;
	uint64_t			 cc_id;
	struct bufferevent		*cc_bev;
	uid_t				 cc_uid;
	pid_t				 cc_pid;
	struct events_sub		*cc_sub;	/* following events */
	struct control_req		*cc_req;	/* running request */
	int				 cc_inread;	/* in the read callback */
	uint64_t			 cc_dropped;	/* not yet reported */
	int				 cc_closing;	/* refused: say why, then
							   wait for the client
							   to hang up */
	char				*cc_sandbox;	/* events of it only */
	char				*cc_type;	/* of that type only */
	struct event			*cc_linger;	/* closes it regardless */
};
TAILQ_HEAD(control_clients, control_client);

/*
 * One request; it stays valid until answered, whatever the client does.
 * A request made inside the daemon (control_call) has no client: its
 * answer goes to a callback.
 */
struct control_req {
	struct control_client		*cr_client;	/* NULL: client left,
							   or a call */
	uint64_t			 cr_client_id;
	uid_t				 cr_uid;
	char				 cr_command[32];
	control_reply_fn		 cr_reply;	/* a call's; NULL:
							   none, or cancelled */
	void				*cr_arg;
	char				*cr_who;	/* a call's requester */
	TAILQ_ENTRY(control_req)	 cr_entry;	/* in control_calls */
	int				 cr_call;
};
TAILQ_HEAD(control_reqs, control_req);

struct control_cmd {
	const char			*name;
	control_fn			 fn;
	const struct control_field	*fields;	/* NULL: any */
	const char			*off;	/* not NULL: how to turn on */
};

static void	control_cmd_events(struct control_req *, json_t *);

static const struct control_field control_events_fields[] = {
	{ "last", CONTROL_F_INT },
	{ "sandbox", CONTROL_F_STRING },
	{ "type", CONTROL_F_STRING },
	{ "follow", CONTROL_F_BOOL },
	{ NULL, 0 }
};
static struct control_cmd	 control_cmds[CONTROL_COMMANDS_MAX] = {
	{ "events",	control_cmd_events, control_events_fields, NULL },
};
static int			 control_ncmds = 1;

static struct evconnlistener	*control_listener;
static struct event		*control_ev_resume;
static char			*control_path;
static gid_t			 control_gid;
static char			*control_group;
static int			 control_inherited; /* the privileged
						   process owns the socket */
static struct control_clients	 control_clients =
				    TAILQ_HEAD_INITIALIZER(control_clients);
static struct control_reqs	 control_calls =
				    TAILQ_HEAD_INITIALIZER(control_calls);
static uint64_t			 control_ncalls;
static int			 control_nclients;
static int			 control_nusers;	/* of them, not root's */
static uint64_t			 control_nextid;
static uint64_t			 control_accepted;
static uint64_t			 control_denied;
static uint64_t			 control_busy;
static uint64_t			 control_requests;
static uint64_t			 control_bad;
static uint64_t			 control_dropped;

static int	control_bind(const char *);
static int	control_stale(const char *);
static int	control_chown(void);
static void	control_acceptcb(struct evconnlistener *, evutil_socket_t,
		    struct sockaddr *, int, void *);
static void	control_accept_errorcb(struct evconnlistener *, void *);
static void	control_resumecb(evutil_socket_t, short, void *);
static int	control_peer_check(int, uid_t *, pid_t *, char *, size_t);
static int	control_peer_member(int, uid_t, gid_t);
static struct control_client *control_client_new(int, uid_t, pid_t);
static void	control_client_close(struct control_client *);
static void	control_client_flush(struct control_client *);
static void	control_client_refuse(struct control_client *);
static void	control_client_lingercb(evutil_socket_t, short, void *);
static void	control_refuse_fd(int, const char *);
static void	control_client_readcb(struct bufferevent *, void *);
static void	control_client_writecb(struct bufferevent *, void *);
static void	control_client_eventcb(struct bufferevent *, short, void *);
static void	control_request(struct control_client *, const char *,
		    size_t);
static void	control_reply(struct control_client *, json_t *);
static void	control_error(struct control_client *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
static const struct control_cmd *control_cmd_find(const char *);
static void	control_req_free(struct control_req *);
static const struct control_cmd *control_cmd_check(json_t *, char *,
		    size_t, int *);
static int	control_fields_check(const struct control_cmd *, json_t *,
		    char *, size_t);
static int	control_dumpcb(const char *, size_t, void *);
static int	control_line(struct evbuffer *, json_t *);
static void	control_follow_eventcb(json_t *, void *);
static int	control_follow_match(struct control_client *, json_t *);
static void	control_client_end(struct control_client *);
static void	control_follow_write(struct control_client *, json_t *);

/*
 * Create the socket named in conf, for another process to accept on:
 * the privileged process binds it for the engine.  The fd, or -1.
 */
int
control_socket_bind(struct sbxd_config *conf)
{
	int	 fd;

	free(control_path);
	free(control_group);
	control_path = xstrdup(conf->sc_socket);
	control_gid = conf->sc_gid;
	control_group = conf->sc_group != NULL ? xstrdup(conf->sc_group) :
	    NULL;
	fd = control_bind(control_path);
	if (fd != -1 && fcntl(fd, F_SETFD, 0) == -1) {
		log_warn("control socket %s", control_path);
		close(fd);
		unlink(control_path);
		return (-1);
	}
	return (fd);
}

/* Give the socket the control group of conf (the privileged process). */
int
control_socket_group(struct sbxd_config *conf)
{
	free(control_group);
	control_group = conf->sc_group != NULL ? xstrdup(conf->sc_group) :
	    NULL;
	control_gid = conf->sc_gid;
	if (control_path != NULL && control_chown() == -1) {
		log_warn("control socket %s", control_path);
		return (-1);
	}
	return (0);
}

/*
 * Start accepting on the socket named in conf: fd when the privileged
 * process made it (-1: make it here).  The engine neither gives it its
 * group nor removes it: the privileged process does.
 */
int
control_init(struct sbxd_config *conf, int fd)
{
	control_path = xstrdup(conf->sc_socket);
	control_gid = conf->sc_gid;
	control_group = conf->sc_group != NULL ? xstrdup(conf->sc_group) :
	    NULL;
	control_inherited = fd != -1;
	if (fd != -1 && (fcntl(fd, F_SETFD, FD_CLOEXEC) == -1 ||
	    evutil_make_socket_nonblocking(fd) == -1)) {
		log_warn("control socket %s", control_path);
		close(fd);
		goto fail;
	}
	if (fd == -1 && (fd = control_bind(control_path)) == -1)
		goto fail;
	control_listener = evconnlistener_new(sbxd_env->sx_base,
	    control_acceptcb, NULL, LEV_OPT_CLOSE_ON_FREE |
	    LEV_OPT_CLOSE_ON_EXEC, 0, fd);
	if (control_listener == NULL) {
		log_warnx("control socket %s: cannot listen", control_path);
		close(fd);
		if (!control_inherited)
			unlink(control_path);
		goto fail;
	}
	evconnlistener_set_error_cb(control_listener, control_accept_errorcb);
	control_ev_resume = evtimer_new(sbxd_env->sx_base, control_resumecb,
	    NULL);
	if (control_ev_resume == NULL)
		goto fail;
	log_debug("%s: listening on %s", __func__, control_path);
	return (0);
fail:
	control_shutdown();
	return (-1);
}

/* Bind path with mode 0660 and the control group; returns the fd. */
static int
control_bind(const char *path)
{
	struct sockaddr_un	 sun;
	mode_t			 omask;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		log_warnx("control socket %s: path longer than %zu", path,
		    sizeof(sun.sun_path) - 1);
		return (-1);
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if (control_stale(path) == -1)
		return (-1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		log_warn("control socket %s", path);
		return (-1);
	}
	/* Never accessible to others, not even between bind and chmod. */
	omask = umask(S_IXUSR | S_IXGRP | S_IRWXO);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		umask(omask);
		log_warn("control socket %s: bind", path);
		close(fd);
		return (-1);
	}
	umask(omask);
	if (control_chown() == -1 || listen(fd, CONTROL_BACKLOG) == -1) {
		log_warn("control socket %s", path);
		unlink(path);
		close(fd);
		return (-1);
	}
	return (fd);
}

/*
 * Refuse to take over a socket another daemon still answers on; remove
 * one left behind by a daemon that died.
 */
static int
control_stale(const char *path)
{
	struct sockaddr_un	 sun;
	struct stat		 st;
	int			 fd, r;

	if (lstat(path, &st) == -1)
		return (errno == ENOENT ? 0 : (log_warn("control socket %s",
		    path), -1));
	if (!S_ISSOCK(st.st_mode)) {
		log_warnx("control socket %s exists and is not a socket",
		    path);
		return (-1);
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		log_warn("control socket %s", path);
		return (-1);
	}
	r = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	if (r == 0) {
		log_warnx("control socket %s is in use: another sbxd is "
		    "running", path);
		return (-1);
	}
	log_info("removing stale control socket %s", path);
	if (unlink(path) == -1) {
		log_warn("control socket %s: unlink", path);
		return (-1);
	}
	return (0);
}

/* Give the socket to the control group, or to root alone. */
static int
control_chown(void)
{
	mode_t	 mode = control_group != NULL ? 0660 : 0600;

	if (chown(control_path, 0, control_group != NULL ? control_gid : 0)
	    == -1 && geteuid() == 0)
		return (-1);
	return (chmod(control_path, mode));
}

/* Apply a new control group; the socket path needs a restart. */
int
control_reload(struct sbxd_config *conf, json_t *errors)
{
	char	*group = NULL;

	if (conf->sc_group != NULL && (group = strdup(conf->sc_group)) ==
	    NULL) {
		json_array_append_new(errors, json_string("control group: "
		    "out of memory; keeping the old one"));
		return (-1);
	}
	free(control_group);
	control_group = group;
	control_gid = conf->sc_gid;
	if (control_path != NULL && !control_inherited &&
	    control_chown() == -1) {
		log_warn("control socket %s", control_path);
		return (-1);
	}
	return (0);
}

/* Close every client and the socket, and remove it. */
void
control_shutdown(void)
{
	struct control_client	*cc, *next;

	TAILQ_FOREACH_SAFE(cc, &control_clients, cc_entry, next) {
		control_client_flush(cc);
		control_client_close(cc);
	}
	if (control_ev_resume != NULL) {
		event_free(control_ev_resume);
		control_ev_resume = NULL;
	}
	if (control_listener != NULL) {
		evconnlistener_free(control_listener);
		control_listener = NULL;
		if (!control_inherited && unlink(control_path) == -1)
			log_warn("control socket %s: unlink", control_path);
	}
	free(control_path);
	control_path = NULL;
	free(control_group);
	control_group = NULL;
}

static void
control_acceptcb(struct evconnlistener *l __unused, evutil_socket_t fd,
    struct sockaddr *sa __unused, int salen __unused, void *arg __unused)
{
	char			 why[256];
	uid_t			 uid;
	pid_t			 pid;

	control_accepted++;
	if (control_peer_check(fd, &uid, &pid, why, sizeof(why)) == -1) {
		control_denied++;
		log_warnx("control: refused %s", why);
		events_publish("control.denied", json_pack("{s:i, s:i, s:s}",
		    "uid", (int)uid, "pid", (int)pid, "reason", why));
	} else if (control_nclients >= CONTROL_CLIENTS_MAX ||
	    (uid != 0 && control_nusers >= CONTROL_CLIENTS_MAX -
	    CONTROL_ROOT_SLOTS)) {
		control_busy++;
		log_warnx("control: refused uid %d: %d clients already",
		    (int)uid, control_nclients);
		snprintf(why, sizeof(why), "too many control clients");
	} else {
		(void)control_client_new(fd, uid, pid);
		return;
	}
	control_refuse_fd(fd, why);
}

/*
 * A refused connection never becomes a client: it gets one line saying
 * why, written now (a fresh socket's buffer holds it), and is closed.
 * What it already sent is read first, so that the close is an orderly
 * end rather than a reset that could discard the line.
 */
static void
control_refuse_fd(int fd, const char *why)
{
	char	 buf[512];
	json_t	*reply;
	char	*s;
	ssize_t	 n;
	int	 i;

	reply = json_pack("{s:b, s:s}", "ok", 0, "error", why);
	if (reply != NULL && (s = json_dumps(reply, JSON_COMPACT)) != NULL) {
		n = snprintf(buf, sizeof(buf), "%s\n", s);
		if (n > 0 && (size_t)n < sizeof(buf))
			(void)send(fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		free(s);
	}
	json_decref(reply);
	(void)shutdown(fd, SHUT_WR);
	for (i = 0; i < 16; i++)
		if (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) <= 0)
			break;
	close(fd);
}

/*
 * The last reply is queued.  Closing now, with the client's request
 * still unread, could reset the connection before the client reads why;
 * so once the reply is out we shut our side and wait for the client to
 * hang up, discarding what it sends, for a second at most: however
 * much the client writes, the timer is not put off.
 */
static void
control_client_refuse(struct control_client *cc)
{
	struct timeval	 tv = { CONTROL_LINGER_SECS, 0 };

	cc->cc_closing = 1;
	if (cc->cc_linger == NULL)
		cc->cc_linger = evtimer_new(sbxd_env->sx_base,
		    control_client_lingercb, cc);
	if (cc->cc_linger != NULL)
		evtimer_add(cc->cc_linger, &tv);
	else	/* out of memory: idle time, at least */
		bufferevent_set_timeouts(cc->cc_bev, &tv, &tv);
}

static void
control_client_lingercb(evutil_socket_t fd __unused, short events __unused,
    void *arg)
{
	control_client_close(arg);
}

/* Out of descriptors: pause accepting for a second (relayd, tmux). */
static void
control_accept_errorcb(struct evconnlistener *l, void *arg __unused)
{
	struct timeval	 tv = { 1, 0 };

	log_warn("control: accept");
	if (errno == EMFILE || errno == ENFILE) {
		evconnlistener_disable(l);
		evtimer_add(control_ev_resume, &tv);
	}
}

static void
control_resumecb(evutil_socket_t fd __unused, short events __unused,
    void *arg __unused)
{
	if (control_listener != NULL)
		evconnlistener_enable(control_listener);
}

/*
 * Root, or a member of the control group.  The socket's mode already
 * keeps others out; this check holds even if somebody loosens it.
 */
static int
control_peer_check(int fd, uid_t *uid, pid_t *pid, char *why, size_t len)
{
#if HAVE_DECL_SO_PEERCRED
	struct ucred	 uc;
	socklen_t	 ulen = sizeof(uc);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &ulen) == -1) {
		*uid = (uid_t)-1;
		*pid = -1;
		snprintf(why, len, "peer credentials: %s", strerror(errno));
		return (-1);
	}
	*uid = uc.uid;
	*pid = uc.pid;
#else
	gid_t		 gid;

	*pid = -1;
	if (getpeereid(fd, uid, &gid) == -1) {
		*uid = (uid_t)-1;
		snprintf(why, len, "peer credentials: %s", strerror(errno));
		return (-1);
	}
#endif
	if (*uid == 0)
		return (0);
	if (control_group != NULL && control_peer_member(fd, *uid,
	    control_gid))
		return (0);
	if (control_group != NULL)
		snprintf(why, len, "permission denied: uid %d is not root or "
		    "in group %s", (int)*uid, control_group);
	else
		snprintf(why, len, "permission denied: uid %d is not root "
		    "(no control group is set)", (int)*uid);
	return (-1);
}

/* Whether the peer holds gid, by its own credentials if we can. */
static int
control_peer_member(int fd __unused, uid_t uid, gid_t gid)
{
	struct passwd	*pw;
	gid_t		*groups;
	int		 i, n = 64, member = 0;

#if HAVE_DECL_SO_PEERCRED && HAVE_DECL_SO_PEERGROUPS
	struct ucred	 uc;
	socklen_t	 len = sizeof(uc);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) == 0 &&
	    uc.gid == gid)
		return (1);
	len = 0;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, NULL, &len) == -1 &&
	    errno == ERANGE) {
		if ((groups = malloc(len > 0 ? len : 1)) == NULL)
			return (0);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups,
		    &len) == 0) {
			for (i = 0; i < (int)(len / sizeof(gid_t)); i++)
				if (groups[i] == gid)
					member = 1;
			free(groups);
			return (member);
		}
		free(groups);
	}
#endif
	/* No per-process groups: ask the group database. */
	if ((pw = getpwuid(uid)) == NULL)
		return (0);
	if (pw->pw_gid == gid)
		return (1);
	if ((groups = calloc(n, sizeof(*groups))) == NULL)
		return (0);
	if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) == -1) {
		free(groups);
		if ((groups = calloc(n, sizeof(*groups))) == NULL ||
		    getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) == -1) {
			free(groups);
			return (0);
		}
	}
	for (i = 0; i < n; i++)
		if (groups[i] == gid)
			member = 1;
	free(groups);
	return (member);
}

static struct control_client *
control_client_new(int fd, uid_t uid, pid_t pid)
{
	struct control_client	*cc;

	if ((cc = calloc(1, sizeof(*cc))) == NULL) {
		log_warn("%s", __func__);
		close(fd);
		return (NULL);
	}
	cc->cc_id = ++control_nextid;
	cc->cc_uid = uid;
	cc->cc_pid = pid;
	cc->cc_bev = bufferevent_socket_new(sbxd_env->sx_base, fd,
	    BEV_OPT_CLOSE_ON_FREE);
	if (cc->cc_bev == NULL) {
		log_warnx("%s: bufferevent failed", __func__);
		close(fd);
		free(cc);
		return (NULL);
	}
	bufferevent_setcb(cc->cc_bev, control_client_readcb,
	    control_client_writecb, control_client_eventcb, cc);
	bufferevent_enable(cc->cc_bev, EV_READ);
	TAILQ_INSERT_TAIL(&control_clients, cc, cc_entry);
	control_nclients++;
	if (uid != 0)
		control_nusers++;
	log_debug("%s: client %llu: uid %d pid %d", __func__,
	    (unsigned long long)cc->cc_id, (int)uid, (int)pid);
	return (cc);
}

/*
 * At shutdown: hand the client what is queued, if its socket takes it
 * now, so followers see the last events.  The bufferevent's output can
 * only be drained by its own write callback, so write a view of it.
 */
static void
control_client_flush(struct control_client *cc)
{
	struct evbuffer	*out = bufferevent_get_output(cc->cc_bev);
	struct iovec	 iov[CONTROL_FLUSH_IOV];
	int		 n;

	n = evbuffer_peek(out, -1, NULL, iov, CONTROL_FLUSH_IOV);
	if (n > CONTROL_FLUSH_IOV)
		n = CONTROL_FLUSH_IOV;
	if (n > 0)
		(void)writev(bufferevent_getfd(cc->cc_bev), iov, n);
}

/* The one teardown path of a client. */
static void
control_client_close(struct control_client *cc)
{
	log_debug("%s: client %llu", __func__, (unsigned long long)cc->cc_id);
	events_unsubscribe(cc->cc_sub);
	if (cc->cc_req != NULL)
		cc->cc_req->cr_client = NULL;	/* it finishes without us */
	TAILQ_REMOVE(&control_clients, cc, cc_entry);
	control_nclients--;
	if (cc->cc_uid != 0)
		control_nusers--;
	if (cc->cc_linger != NULL)
		event_free(cc->cc_linger);
	bufferevent_free(cc->cc_bev);
	free(cc->cc_sandbox);
	free(cc->cc_type);
	free(cc);
}

static void
control_client_readcb(struct bufferevent *bev, void *arg)
{
	struct control_client	*cc = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	char			*line;
	size_t			 len;
	int			 toolong = 0;

	if (cc->cc_sub != NULL || cc->cc_closing) {
		/* A follower only listens; its input is ignored. */
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	cc->cc_inread = 1;
	while (cc->cc_req == NULL &&
	    (line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF)) != NULL) {
		if (len > CONTROL_LINE_MAX) {
			free(line);
			toolong = 1;
			break;
		}
		control_request(cc, line, len);
		free(line);
		if (cc->cc_bev == NULL) {
			free(cc);	/* taken over by its request */
			return;
		}
		if (cc->cc_sub != NULL || cc->cc_closing) {
			cc->cc_inread = 0;
			return;
		}
	}
	cc->cc_inread = 0;
	if (toolong || evbuffer_get_length(in) > CONTROL_LINE_MAX) {
		control_bad++;
		control_error(cc, "request longer than %d bytes",
		    CONTROL_LINE_MAX);
		evbuffer_drain(in, evbuffer_get_length(in));
		control_client_refuse(cc);
	}
}

/*
 * The output drained: report events a follower missed, or finish
 * closing a client whose last reply is out.
 */
static void
control_client_writecb(struct bufferevent *bev __unused, void *arg)
{
	struct control_client	*cc = arg;
	json_t			*note;

	if (cc->cc_closing) {
		shutdown(bufferevent_getfd(cc->cc_bev), SHUT_WR);
		return;
	}
	if (cc->cc_dropped > 0) {
		note = json_pack("{s:s, s:I}", "type", "events.dropped",
		    "dropped", (json_int_t)cc->cc_dropped);
		cc->cc_dropped = 0;
		control_follow_write(cc, note);
		json_decref(note);
	}
}

static void
control_client_eventcb(struct bufferevent *bev __unused, short events,
    void *arg)
{
	struct control_client	*cc = arg;

	if (events & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
		control_client_close(cc);
}

/*
 * Make command name run fn for requests that carry only fields (an
 * array ending with a NULL name; NULL: any), each of its type.  For
 * startup: a full table is fatal.
 */
void
control_register(const char *name, control_fn fn,
    const struct control_field *fields)
{
	struct control_cmd	*cmd;

	if ((cmd = (struct control_cmd *)control_cmd_find(name)) == NULL) {
		if (control_ncmds == CONTROL_COMMANDS_MAX)
			fatalx("%s: too many commands", __func__);
		cmd = &control_cmds[control_ncmds++];
		cmd->name = name;
	}
	cmd->fn = fn;
	cmd->fields = fields;
	cmd->off = NULL;
}

/*
 * Command name belongs to a component that the configuration leaves
 * off: it is answered with why, which says what turns it on.
 */
void
control_register_off(const char *name, const char *why)
{
	control_register(name, NULL, NULL);
	((struct control_cmd *)control_cmd_find(name))->off = why;
}

/*
 * Whether req carries only cmd's fields, each of its type, and those it
 * needs; else why, in err.
 */
static int
control_fields_check(const struct control_cmd *cmd, json_t *req, char *err,
    size_t errlen)
{
	static const char		*what[] = { NULL, "a string",
					    "true or false", "a number",
					    "a list of strings",
					    "a list of strings or null",
					    "an object" };
	const struct control_field	*f;
	const char			*key;
	json_t				*v, *e;
	size_t				 i;
	int				 ok, t;

	if (cmd->fields == NULL)
		return (0);
	json_object_foreach(req, key, v) {
		if (strcmp(key, "command") == 0)
			continue;
		for (f = cmd->fields; f->cf_name != NULL; f++)
			if (strcmp(f->cf_name, key) == 0)
				break;
		if (f->cf_name == NULL) {
			snprintf(err, errlen, "%s: unknown field \"%.64s\"",
			    cmd->name, key);
			return (-1);
		}
		t = f->cf_type & CONTROL_F_TYPE;
		ok = (t == CONTROL_F_STRING && json_is_string(v)) ||
		    (t == CONTROL_F_BOOL && json_is_boolean(v)) ||
		    (t == CONTROL_F_INT && json_is_integer(v)) ||
		    (t == CONTROL_F_OBJECT && json_is_object(v)) ||
		    ((t == CONTROL_F_STRINGS || t == CONTROL_F_ARGV) &&
		    json_is_array(v)) ||
		    (t == CONTROL_F_ARGV && json_is_null(v));
		json_array_foreach(json_is_array(v) ? v : NULL, i, e)
			ok = ok && json_is_string(e);
		if (!ok) {
			snprintf(err, errlen, "%s: \"%s\" must be %s",
			    cmd->name, key, what[t]);
			return (-1);
		}
	}
	for (f = cmd->fields; f->cf_name != NULL; f++)
		if ((f->cf_type & CONTROL_F_NEEDED) &&
		    json_object_get(req, f->cf_name) == NULL) {
			snprintf(err, errlen, "%s: \"%s\" is needed",
			    cmd->name, f->cf_name);
			return (-1);
		}
	return (0);
}

static const struct control_cmd *
control_cmd_find(const char *name)
{
	int	 i;

	for (i = 0; i < control_ncmds; i++)
		if (strcmp(control_cmds[i].name, name) == 0)
			return (&control_cmds[i]);
	return (NULL);
}

/*
 * The command req names, if it may run: NULL, with why in msg, if req
 * is not a request of a known command with fields it takes, or if the
 * command is off (*bad 0: the request itself is right).
 */
static const struct control_cmd *
control_cmd_check(json_t *req, char *msg, size_t len, int *bad)
{
	const struct control_cmd	*cmd;
	const char			*name;

	*bad = 1;
	name = json_string_value(json_object_get(req, "command"));
	if (!json_is_object(req) || name == NULL) {
		snprintf(msg, len, "request must be an object with a "
		    "\"command\" string");
		return (NULL);
	}
	if ((cmd = control_cmd_find(name)) == NULL) {
		snprintf(msg, len, "unknown command \"%.64s\"", name);
		return (NULL);
	}
	if (cmd->off != NULL) {
		*bad = 0;
		snprintf(msg, len, "%s: %s", name, cmd->off);
		return (NULL);
	}
	if (control_fields_check(cmd, req, msg, len) == -1)
		return (NULL);
	return (cmd);
}

/* Parse one request line and run its command. */
static void
control_request(struct control_client *cc, const char *line, size_t len)
{
	const struct control_cmd	*cmd;
	struct control_req		*cr;
	json_error_t			 err;
	json_t				*req;
	char				 msg[256];
	int				 bad;

	control_requests++;
	req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &err);
	if (req == NULL) {
		control_bad++;
		control_error(cc, "invalid JSON at column %d: %s", err.column,
		    err.text);
		return;
	}
	if ((cmd = control_cmd_check(req, msg, sizeof(msg), &bad)) == NULL) {
		control_bad += bad;
		control_error(cc, "%s", msg);
	} else if ((cr = calloc(1, sizeof(*cr))) == NULL)
		control_error(cc, "out of memory");
	else {
		log_debug("control: client %llu: %s", (unsigned long long)
		    cc->cc_id, cmd->name);
		cr->cr_client = cc;
		cr->cr_client_id = cc->cc_id;
		cr->cr_uid = cc->cc_uid;
		snprintf(cr->cr_command, sizeof(cr->cr_command), "%s", cmd->name);
		cc->cc_req = cr;
		cmd->fn(cr, req);
	}
	json_decref(req);
}

/* json_dump_callback into an evbuffer. */
static int
control_dumpcb(const char *buf, size_t len, void *arg)
{
	return (evbuffer_add(arg, buf, len));
}

/*
 * One JSON line into out, whole or not at all: a dump that fails
 * halfway leaves nothing behind.
 */
static int
control_line(struct evbuffer *out, json_t *j)
{
	struct evbuffer	*line;
	int		 r = -1;

	if (j == NULL || (line = evbuffer_new()) == NULL)
		return (-1);
	if (json_dump_callback(j, control_dumpcb, line, JSON_COMPACT) == 0 &&
	    evbuffer_add(line, "\n", 1) == 0 &&
	    evbuffer_add_buffer(out, line) == 0)
		r = 0;
	evbuffer_free(line);
	return (r);
}

/*
 * Send one reply line.  Takes reply.  If it cannot be encoded, the
 * client gets the line below, which needs no memory but the buffer's;
 * if even that fails the client is dropped, so that it never waits.
 */
static void
control_reply(struct control_client *cc, json_t *reply)
{
	static const char	 oom[] = "{\"ok\":false,\"error\":"
				    "\"out of memory\"}\n";
	struct evbuffer		*out = bufferevent_get_output(cc->cc_bev);

	if (control_line(out, reply) == -1) {
		log_warnx("%s: client %llu: cannot encode reply", __func__,
		    (unsigned long long)cc->cc_id);
		if (evbuffer_add_reference(out, oom, sizeof(oom) - 1, NULL,
		    NULL) == -1)
			control_client_refuse(cc);
	}
	json_decref(reply);
}

/* Reply {"ok": false, "error": message}. */
static void
control_error(struct control_client *cc, const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	control_reply(cc, json_pack("{s:b, s:s}", "ok", 0, "error", msg));
}

/*
 * Answer cr with reply, which must hold "ok", and free cr; the client, if
 * still there, may send its next request.  Takes reply.
 */
void
control_req_done(struct control_req *cr, json_t *reply)
{
	struct control_client	*cc = cr->cr_client;

	if (cr->cr_call) {
		if (cr->cr_reply != NULL)
			cr->cr_reply(reply, 1, cr->cr_arg);
		json_decref(reply);
		control_req_free(cr);
		return;
	}
	if (cc == NULL) {
		json_decref(reply);
		free(cr);
		return;
	}
	control_reply(cc, reply);
	cc->cc_req = NULL;
	free(cr);
	/* Requests that arrived meanwhile wait in the input buffer. */
	if (!cc->cc_inread && cc->cc_sub == NULL && !cc->cc_closing)
		bufferevent_trigger(cc->cc_bev, EV_READ, 0);
}

/* Answer cr with {"ok": false, "error": message}. */
void
control_req_error(struct control_req *cr, const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	control_req_done(cr, json_pack("{s:b, s:s}", "ok", 0, "error", msg));
}

/* Answer cr with {"ok": true}, plus the members of result if any. */
void
control_req_ok(struct control_req *cr, json_t *result)
{
	json_t	*reply = json_pack("{s:b}", "ok", 1);

	if (reply != NULL && result != NULL)
		json_object_update(reply, result);
	json_decref(result);
	control_req_done(cr, reply);
}

/* A progress line for a long request: {"progress": message}. */
void
control_req_progress(struct control_req *cr, const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[512];
	json_t	*line;

	if (cr->cr_client == NULL && cr->cr_reply == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	line = json_pack("{s:s}", "progress", msg);
	if (cr->cr_client == NULL) {
		if (line != NULL)
			cr->cr_reply(line, 0, cr->cr_arg);
		json_decref(line);
	} else
		control_reply(cr->cr_client, line);
}

/*
 * Give cr's connection to the command, for one that speaks its own
 * protocol after the request line (exec).  Nothing is sent; bytes the
 * client sent after the request line stay in the input.  The caller owns
 * *bevp from now on and sets its callbacks; the client leaves control's
 * list and cr is freed.  Returns -1, keeping cr, if the client is gone.
 */
int
control_req_takeover(struct control_req *cr, struct bufferevent **bevp)
{
	struct control_client	*cc = cr->cr_client;

	if (cr->cr_call || cc == NULL || cc->cc_closing || cc->cc_sub != NULL)
		return (-1);
	log_debug("%s: client %llu: %s", __func__,
	    (unsigned long long)cc->cc_id, cr->cr_command);
	bufferevent_setcb(cc->cc_bev, NULL, NULL, NULL, NULL);
	*bevp = cc->cc_bev;
	cc->cc_bev = NULL;
	cc->cc_req = NULL;
	free(cr);
	TAILQ_REMOVE(&control_clients, cc, cc_entry);
	control_nclients--;
	if (cc->cc_uid != 0)
		control_nusers--;
	if (!cc->cc_inread)
		free(cc);	/* else the read callback still uses it */
	return (0);
}

/* Who asked: the peer's uid, for logs and events. */
uid_t
control_req_uid(const struct control_req *cr)
{
	return (cr->cr_uid);
}

/*
 * Who asked, by name, for a request made inside the daemon on someone's
 * behalf ("zulip Alice <alice@example.org>"); NULL for sbxctl's.
 */
const char *
control_req_who(const struct control_req *cr)
{
	return (cr->cr_who);
}

static void
control_req_free(struct control_req *cr)
{
	if (cr->cr_call) {
		TAILQ_REMOVE(&control_calls, cr, cr_entry);
		free(cr->cr_who);
	}
	free(cr);
}

/*
 * Run a command from inside the daemon, as root would from sbxctl, on
 * behalf of who.  req is the request object sbxctl would send; it is
 * checked the same way.  Every line of the answer goes to fn: progress
 * lines with last 0, then the final one (holding "ok") with last 1.  fn
 * does not own the line.  fn may run before control_call returns, and
 * never runs after control_call_cancel(arg).  Commands that take the
 * connection over (exec) answer a call with an error.
 */
void
control_call(const char *who, json_t *req, control_reply_fn fn, void *arg)
{
	const struct control_cmd	*cmd;
	struct control_req		*cr;
	json_t				*reply = NULL;
	char				 msg[256];
	int				 bad;

	cmd = control_cmd_check(req, msg, sizeof(msg), &bad);
	if (cmd != NULL && cmd->fn == control_cmd_events) {
		/* It follows a connection; a call has none. */
		snprintf(msg, sizeof(msg), "unknown command \"%s\"",
		    cmd->name);
		cmd = NULL;
	}
	if (cmd == NULL)
		reply = json_pack("{s:b, s:s}", "ok", 0, "error", msg);
	else if ((cr = calloc(1, sizeof(*cr))) == NULL ||
	    (who != NULL && (cr->cr_who = strdup(who)) == NULL)) {
		free(cr);
		reply = json_pack("{s:b, s:s}", "ok", 0, "error",
		    "out of memory");
	} else {
		log_debug("control: call by %s: %s", who != NULL ? who : "-",
		    cmd->name);
		control_ncalls++;
		cr->cr_call = 1;
		cr->cr_reply = fn;
		cr->cr_arg = arg;
		snprintf(cr->cr_command, sizeof(cr->cr_command), "%s",
		    cmd->name);
		TAILQ_INSERT_TAIL(&control_calls, cr, cr_entry);
		cmd->fn(cr, req);
		return;
	}
	if (reply == NULL)
		reply = json_pack("{s:b, s:s}", "ok", 0, "error",
		    "out of memory");
	if (reply != NULL)
		fn(reply, 1, arg);
	json_decref(reply);
}

/* Answers to calls made with arg go nowhere from now on. */
void
control_call_cancel(void *arg)
{
	struct control_req	*cr;

	TAILQ_FOREACH(cr, &control_calls, cr_entry)
		if (cr->cr_arg == arg)
			cr->cr_reply = NULL;
}

/*
 * events: reply ok, replay the last "last" stored events if asked, then
 * follow the bus until the client goes away, or with "follow" false
 * end there.  "sandbox" and "type" keep only the events of that sandbox
 * and of that type or a type below it ("proxy" takes "proxy.block"); a
 * trailing ".*" or "." is the same.
 */
static void
control_cmd_events(struct control_req *cr, json_t *req)
{
	struct control_client	*cc = cr->cr_client;
	json_t			*last = json_object_get(req, "last"), *list;
	json_t			*ev, *follow = json_object_get(req, "follow");
	const char		*sb, *type;
	json_int_t		 n = 0;
	size_t			 i, len;

	if (last != NULL && (!json_is_integer(last) ||
	    (n = json_integer_value(last)) < 0 ||
	    n > CONTROL_EVENTS_LAST_MAX)) {
		control_req_error(cr, "events: \"last\" must be a number "
		    "from 0 to %d", CONTROL_EVENTS_LAST_MAX);
		return;
	}
	sb = json_string_value(json_object_get(req, "sandbox"));
	type = json_string_value(json_object_get(req, "type"));
	/* A client may ask again after an error: its old filters go. */
	free(cc->cc_sandbox);
	free(cc->cc_type);
	cc->cc_sandbox = cc->cc_type = NULL;
	if ((sb != NULL && (cc->cc_sandbox = strdup(sb)) == NULL) ||
	    (type != NULL && (cc->cc_type = strdup(type)) == NULL)) {
		control_req_error(cr, "out of memory");
		return;
	}
	if (cc->cc_type != NULL) {
		len = strlen(cc->cc_type);
		if (len >= 2 && strcmp(cc->cc_type + len - 2, ".*") == 0)
			cc->cc_type[len - 2] = '\0';
		else if (len >= 1 && cc->cc_type[len - 1] == '.')
			cc->cc_type[len - 1] = '\0';
		if (cc->cc_type[0] == '\0') {
			control_req_error(cr, "events: \"type\" names no "
			    "type");
			return;
		}
	}
	if (!json_is_false(follow)) {
		cc->cc_sub = events_subscribe("control",
		    control_follow_eventcb, cc);
		if (cc->cc_sub == NULL) {
			control_req_error(cr, "out of memory");
			return;
		}
	}
	control_req_ok(cr, NULL);
	if (n > 0) {
		store_flush();
		if ((list = store_events_recent((int)n, cc->cc_sandbox,
		    cc->cc_type)) != NULL) {
			json_array_foreach(list, i, ev)
				control_follow_write(cc, ev);
			json_decref(list);
		}
	}
	if (json_is_false(follow))
		control_client_end(cc);
}

/*
 * The client has all it asked for: shut our side once the output is
 * out, and close when it hangs up (or stays idle too long).
 */
static void
control_client_end(struct control_client *cc)
{
	struct timeval	 tv = { CONTROL_END_IDLE, 0 };

	cc->cc_closing = 1;
	bufferevent_set_timeouts(cc->cc_bev, &tv, &tv);
	if (evbuffer_get_length(bufferevent_get_output(cc->cc_bev)) == 0)
		shutdown(bufferevent_getfd(cc->cc_bev), SHUT_WR);
}

/* Whether ev passes the client's filters. */
static int
control_follow_match(struct control_client *cc, json_t *ev)
{
	const char	*v;
	size_t		 len;

	if (cc->cc_sandbox != NULL && ((v = json_string_value(
	    json_object_get(ev, "sandbox"))) == NULL ||
	    strcmp(v, cc->cc_sandbox) != 0))
		return (0);
	if (cc->cc_type != NULL) {
		len = strlen(cc->cc_type);
		if ((v = json_string_value(json_object_get(ev, "type"))) ==
		    NULL || strncmp(v, cc->cc_type, len) != 0 ||
		    (v[len] != '\0' && v[len] != '.'))
			return (0);
	}
	return (1);
}

/* A bus event for one follower; dropped if the follower lags. */
static void
control_follow_eventcb(json_t *ev, void *arg)
{
	struct control_client	*cc = arg;
	struct evbuffer		*out = bufferevent_get_output(cc->cc_bev);

	if (!control_follow_match(cc, ev))
		return;
	if (evbuffer_get_length(out) >= CONTROL_FOLLOW_MAX) {
		cc->cc_dropped++;
		control_dropped++;
		return;
	}
	control_follow_write(cc, ev);
}

static void
control_follow_write(struct control_client *cc, json_t *ev)
{
	if (control_line(bufferevent_get_output(cc->cc_bev), ev) == -1) {
		cc->cc_dropped++;
		control_dropped++;
	}
}

/* Counters for sbxctl status. */
json_t *
control_status(void)
{
	struct control_client	*cc;
	int			 followers = 0;

	TAILQ_FOREACH(cc, &control_clients, cc_entry)
		if (cc->cc_sub != NULL)
			followers++;
	return (json_pack("{s:s, s:s?, s:s?, s:i, s:i, s:I, s:I, s:I, s:I, "
	    "s:I, s:I, s:I}",
	    "state", control_listener != NULL ? "up" : "down",
	    "socket", control_path,
	    "group", control_group,
	    "clients", control_nclients,
	    "followers", followers,
	    "accepted", (json_int_t)control_accepted,
	    "denied", (json_int_t)control_denied,
	    "busy", (json_int_t)control_busy,
	    "requests", (json_int_t)control_requests,
	    "bad_requests", (json_int_t)control_bad,
	    "calls", (json_int_t)control_ncalls,
	    "events_dropped", (json_int_t)control_dropped));
}
