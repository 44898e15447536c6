/*
 * sandbox_blocked.c: every block of a sandbox, by its proxy (proxy.block)
 * or by the kernel firewall (pfmon.block), is appended as one line to
 * ~/.sbx/blocked.log in the sandbox's home: when, what, why and the one
 * command that would allow it.  An agent that only saw a 403 or a reset
 * reads there why, and what to ask for.
 *
 * The home belongs to the sandbox, which may put a link, a FIFO or a
 * hard link where the file should be.  The file is reached from the home
 * with openat() and O_NOFOLLOW at each step, and written only if it is
 * a regular file of the sandbox's user with one link: whatever the
 * sandbox does, the daemon writes nothing but a file the sandbox owns
 * already.  A file created here is given to the sandbox's user.  Past
 * SANDBOX_BLOCKED_MAX bytes the file starts again.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"
#include "log.h"
#include "sbxd.h"
#include "sandbox.h"

#define SANDBOX_BLOCKED_DIR	".sbx"
#define SANDBOX_BLOCKED_FILE	"blocked.log"
#define SANDBOX_BLOCKED_MAX	(1024 * 1024)	/* then it starts again */
#define SANDBOX_BLOCKED_LINE	2048

static struct events_sub	*sandbox_blocked_proxy, *sandbox_blocked_pfmon;

static void	sandbox_blocked_proxycb(json_t *, void *);
static void	sandbox_blocked_pfmoncb(json_t *, void *);
static int	sandbox_blocked_open(const struct sandbox *);
static void	sandbox_blocked_write(const struct sandbox *, const char *);

/* Follow the blocks; 0 or -1 (out of memory). */
int
sandbox_blocked_init(void)
{
	if (sandbox_blocked_proxy == NULL && (sandbox_blocked_proxy =
	    events_subscribe("sandbox-blocked", sandbox_blocked_proxycb,
	    NULL)) == NULL)
		return (-1);
	if (sandbox_blocked_pfmon == NULL && (sandbox_blocked_pfmon =
	    events_subscribe("sandbox-blocked", sandbox_blocked_pfmoncb,
	    NULL)) == NULL)
		return (-1);
	return (0);
}

void
sandbox_blocked_shutdown(void)
{
	if (sandbox_blocked_proxy != NULL)
		events_unsubscribe(sandbox_blocked_proxy);
	if (sandbox_blocked_pfmon != NULL)
		events_unsubscribe(sandbox_blocked_pfmon);
	sandbox_blocked_proxy = sandbox_blocked_pfmon = NULL;
}

static const char *
sandbox_blocked_time(json_t *ev)
{
	const char	*t = json_string_value(json_object_get(ev, "time"));

	return (t != NULL ? t : "-");
}

/* The sandbox an event names, if it is there and has a home. */
static struct sandbox *
sandbox_blocked_sandbox(json_t *ev, const char *type)
{
	struct sandbox	*sb;
	const char	*t, *name;

	t = json_string_value(json_object_get(ev, "type"));
	name = json_string_value(json_object_get(ev, "sandbox"));
	if (t == NULL || strcmp(t, type) != 0 || name == NULL ||
	    (sb = sandbox_find(name)) == NULL)
		return (NULL);
	if (sb->sb_state != SANDBOX_READY || sb->sb_orphan)
		return (NULL);
	return (sb);
}

/*
 * "TIME proxy METHOD HOST:PORT blocked (REASON): CAUSE; to allow it:
 * ADVICE", as the proxy explained the refusal.
 */
static void
sandbox_blocked_proxycb(json_t *ev, void *arg __unused)
{
	struct sandbox	*sb;
	const char	*dest, *advice, *reason, *method, *cause;
	char		 line[SANDBOX_BLOCKED_LINE];

	if ((sb = sandbox_blocked_sandbox(ev, "proxy.block")) == NULL)
		return;
	dest = json_string_value(json_object_get(ev, "destination"));
	method = json_string_value(json_object_get(ev, "method"));
	reason = json_string_value(json_object_get(ev, "reason"));
	cause = json_string_value(json_object_get(ev, "cause"));
	advice = json_string_value(json_object_get(ev, "advice"));
	snprintf(line, sizeof(line), "%s proxy %s %s blocked (%s): %s; %s%s\n",
	    sandbox_blocked_time(ev), method != NULL ? method : "?",
	    dest != NULL ? dest : "?", reason != NULL ? reason : "?",
	    cause != NULL ? cause : "refused",
	    advice != NULL ? "to allow it: " : "no rule can allow it",
	    advice != NULL ? advice : "");
	sandbox_blocked_write(sb, line);
}

/*
 * "TIME kernel PROTO DST:DPORT blocked (direct): ADVICE": a restricted
 * sandbox reaches the network only through its proxy, so the advice is
 * to use it, and, for HTTP and HTTPS, the rule to ask for.
 */
static void
sandbox_blocked_pfmoncb(json_t *ev, void *arg __unused)
{
	struct sandbox	*sb;
	json_t		*p, *dport;
	const char	*dst, *proto;
	char		 line[SANDBOX_BLOCKED_LINE], pbuf[16], dest[80];

	if ((sb = sandbox_blocked_sandbox(ev, "pfmon.block")) == NULL)
		return;
	dst = json_string_value(json_object_get(ev, "dst"));
	p = json_object_get(ev, "proto");
	if ((proto = json_string_value(p)) == NULL) {
		snprintf(pbuf, sizeof(pbuf), "proto-%lld",
		    (long long)json_integer_value(p));
		proto = pbuf;
	}
	dport = json_object_get(ev, "dport");
	if (dst == NULL)
		dst = "?";
	if (!json_is_integer(dport))
		snprintf(dest, sizeof(dest), "%s", dst);
	else if (strchr(dst, ':') != NULL)
		snprintf(dest, sizeof(dest), "[%s]:%lld", dst,
		    (long long)json_integer_value(dport));
	else
		snprintf(dest, sizeof(dest), "%s:%lld", dst,
		    (long long)json_integer_value(dport));
	snprintf(line, sizeof(line), "%s kernel %s %s blocked (direct): only "
	    "the proxy http://127.0.0.1:%u is reachable (HTTP_PROXY and "
	    "HTTPS_PROXY in ~/.sbx/env.sh); for a host it blocks, ask for "
	    "\"sbxctl allow %s HOST:PORT\"\n",
	    sandbox_blocked_time(ev), proto, dest,
	    sb->sb_port, sb->sb_name);
	sandbox_blocked_write(sb, line);
}

/*
 * The sandbox's blocked.log, open for appending, or -1: reached from
 * its home one name at a time, never through a link, and only a
 * regular file of the sandbox's user with one link.
 */
static int
sandbox_blocked_open(const struct sandbox *sb)
{
	struct stat	 st;
	int		 home, dir = -1, fd = -1, made = 0;

	if ((home = open(sb->sb_home, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return (-1);
	if (fstat(home, &st) == -1 || st.st_uid != sb->sb_uid)
		goto fail;
	if ((dir = openat(home, SANDBOX_BLOCKED_DIR, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) == -1)
		goto fail;
	if (fstat(dir, &st) == -1 || st.st_uid != sb->sb_uid)
		goto fail;
	fd = openat(dir, SANDBOX_BLOCKED_FILE, O_WRONLY | O_APPEND |
	    O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT) {
		fd = openat(dir, SANDBOX_BLOCKED_FILE, O_WRONLY | O_APPEND |
		    O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
		    0644);
		made = fd != -1;
	}
	if (fd == -1)
		goto fail;
	if (made && fchown(fd, sb->sb_uid, sb->sb_gid) == -1)
		goto fail;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_uid != sb->sb_uid || st.st_nlink != 1)
		goto fail;
	if (st.st_size > SANDBOX_BLOCKED_MAX && ftruncate(fd, 0) == -1)
		goto fail;
	close(dir);
	close(home);
	return (fd);
fail:
	if (fd != -1)
		close(fd);
	if (dir != -1)
		close(dir);
	close(home);
	return (-1);
}

static void
sandbox_blocked_sentcb(json_t *r __unused, const char *err, int *fds,
    int nfds, void *arg __unused)
{
	while (nfds > 0)
		close(fds[--nfds]);
	if (err != NULL)
		log_debug("blocked.log: %s", err);
}

static void
sandbox_blocked_write(const struct sandbox *sb, const char *line)
{
	size_t	 len = strlen(line);
	int	 fd;

	if (priv_on()) {
		/* The home is the sandbox's alone: root writes there. */
		if (priv_send("blocked", json_pack("{s:I, s:I, s:s, s:s}",
		    "uid", (json_int_t)sb->sb_uid, "gid",
		    (json_int_t)sb->sb_gid, "home", sb->sb_home, "line", line),
		    sandbox_blocked_sentcb, NULL) == 0)
			log_debug("sandbox %s: blocked.log: cannot ask",
			    sb->sb_name);
		return;
	}

	if ((fd = sandbox_blocked_open(sb)) == -1) {
		log_debug("sandbox %s: no %s/%s/%s: %s", sb->sb_name,
		    sb->sb_home, SANDBOX_BLOCKED_DIR, SANDBOX_BLOCKED_FILE,
		    strerror(errno));
		return;
	}
	if (write(fd, line, len) != (ssize_t)len)
		log_debug("sandbox %s: %s: short write", sb->sb_name,
		    SANDBOX_BLOCKED_FILE);
	close(fd);
}

/*
 * "blocked": one line for a sandbox's blocked.log, written as root with
 * the checks of sandbox_blocked_open.  The line is printable text and
 * one newline, the home a sandbox's below the homes directory.
 */
void
sandbox_priv_blocked(struct priv_req *pr, json_t *args, int *fds, int nfds)
{
	const struct sandbox_conf	*sbc = &priv_conf()->sc_sandbox;
	struct sandbox			 sb;
	json_int_t			 uid, gid;
	const char			*home, *line, *name;
	char				 err[512];
	size_t				 i, len;
	int				 fd;

	while (nfds > 0)
		close(fds[--nfds]);
	if (json_unpack(args, "{s:I, s:I, s:s, s:s !}", "uid", &uid, "gid",
	    &gid, "home", &home, "line", &line) == -1) {
		priv_refuse(pr, "bad arguments");
		return;
	}
	name = strrchr(home, '/') != NULL ? strrchr(home, '/') + 1 : home;
	if (!sbc->sbc_enabled || sandbox_ops_uid(uid, sbc, err,
	    sizeof(err)) == -1 || sandbox_ops_uid(gid, sbc, err,
	    sizeof(err)) == -1 || sandbox_ops_home(home, name, sbc, err,
	    sizeof(err)) == -1) {
		priv_refuse(pr, "%s", sbc->sbc_enabled ? err :
		    "sandboxes are off");
		return;
	}
	len = strlen(line);
	for (i = 0; i + 1 < len; i++)
		if (!isprint((unsigned char)line[i]))
			break;
	if (len == 0 || len > SANDBOX_BLOCKED_LINE || i + 1 != len ||
	    line[len - 1] != '\n') {
		priv_refuse(pr, "a line of printable text and a newline, at "
		    "most %d bytes", SANDBOX_BLOCKED_LINE);
		return;
	}
	memset(&sb, 0, sizeof(sb));
	sb.sb_home = (char *)home;
	sb.sb_uid = (uid_t)uid;
	sb.sb_gid = (gid_t)gid;
	if ((fd = sandbox_blocked_open(&sb)) == -1) {
		priv_reply(pr, json_pack("{s:s}", "error", strerror(errno)),
		    NULL, 0);
		return;
	}
	if (write(fd, line, len) != (ssize_t)len)
		log_debug("%s/%s/%s: short write", home, SANDBOX_BLOCKED_DIR,
		    SANDBOX_BLOCKED_FILE);
	close(fd);
	priv_reply(pr, NULL, NULL, 0);
}
