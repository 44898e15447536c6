/*
 * util.c: allocation wrappers that fail loudly at startup, locked memory
 * for secrets, time and address formatting shared by the daemon, sbxctl
 * and the tests.
 */

#include <sys/types.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#ifdef __linux__
#include <sys/uio.h>
#endif

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#endif

#include "config.h"
#include "log.h"
#include "sbxd.h"

#define UTIL_LOCAL_MSECS	1000	/* how long the host's addresses are
					   trusted before they are read again */
#define UTIL_LOCAL_MAX		256	/* addresses kept; more are read
					   again at every question */
#define UTIL_DIAG_REPLY		8192	/* one socket's inet_diag_msg and
					   the few attributes always sent */

struct sbxd	*sbxd_env;

/* This host's interface addresses, read by util_local_read. */
static struct {
	struct timespec	 lc_read;	/* when; 0: never */
	int		 lc_full;	/* more than fit */
	int		 lc_warned;
	int		 lc_n4, lc_n6;
	struct in_addr	 lc_v4[UTIL_LOCAL_MAX];
	struct in6_addr	 lc_v6[UTIL_LOCAL_MAX];
} util_local;

static int	util_local_read(void);
static size_t	util_secret_size(size_t);
#ifdef __linux__
static int	util_diag_addr(const struct sockaddr_storage *, uint32_t *,
		    uint16_t *);
static int	util_diag_same(int, const uint32_t *, int, const uint32_t *);
#endif

/* malloc or die: for startup and config parsing only. */
void *
xmalloc(size_t len)
{
	void	*p;

	if ((p = malloc(len)) == NULL)
		fatal("%s", __func__);
	return (p);
}

/* calloc or die. */
void *
xcalloc(size_t n, size_t len)
{
	void	*p;

	if ((p = calloc(n, len)) == NULL)
		fatal("%s", __func__);
	return (p);
}

/* strdup or die. */
char *
xstrdup(const char *s)
{
	char	*p;

	if ((p = strdup(s)) == NULL)
		fatal("%s", __func__);
	return (p);
}

/* asprintf or die. */
int
xasprintf(char **ret, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vasprintf(ret, fmt, ap);
	va_end(ap);
	if (n == -1)
		fatal("%s", __func__);
	return (n);
}

/* An error message into buf (which may be NULL), and -1 to return. */
int
util_err(char *buf, size_t len, const char *fmt, ...)
{
	va_list	 ap;

	if (buf != NULL && len > 0) {
		va_start(ap, fmt);
		vsnprintf(buf, len, fmt, ap);
		va_end(ap);
	}
	return (-1);
}

/* The monotonic clock, for durations and timeouts. */
void
util_monotime(struct timespec *ts)
{
	if (clock_gettime(CLOCK_MONOTONIC, ts) == -1)
		fatal("clock_gettime");
}

/* Format ts as RFC 3339 UTC with milliseconds: 2026-01-02T03:04:05.678Z. */
int
util_rfc3339(const struct timespec *ts, char *buf, size_t len)
{
	struct tm	 tm;
	time_t		 t = ts->tv_sec;
	int		 n;

	if (gmtime_r(&t, &tm) == NULL)
		return (-1);
	n = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, ts->tv_nsec / 1000000L);
	if (n < 0 || (size_t)n >= len)
		return (-1);
	return (0);
}

/*
 * Parse a numeric IPv4 or IPv6 address (no names, no brackets) and a
 * port into ss.  Returns -1 if s is not an address.
 */
int
util_addr_parse(const char *s, in_port_t port, struct sockaddr_storage *ss,
    socklen_t *sslen)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		*sslen = sizeof(*sin);
		return (0);
	}
	if (inet_pton(AF_INET6, s, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		*sslen = sizeof(*sin6);
		return (0);
	}
	return (-1);
}

/* The address of sa alone, as inet_ntop writes it. */
const char *
util_addr_str(const struct sockaddr *sa, char *buf, size_t len)
{
	const void	*addr;

	switch (sa->sa_family) {
	case AF_INET:
		addr = &((const struct sockaddr_in *)sa)->sin_addr;
		break;
	case AF_INET6:
		addr = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		break;
	default:
		snprintf(buf, len, "(family %d)", sa->sa_family);
		return (buf);
	}
	if (inet_ntop(sa->sa_family, addr, buf, len) == NULL)
		snprintf(buf, len, "(invalid)");
	return (buf);
}

/* The port of an AF_INET or AF_INET6 address, in host order. */
in_port_t
util_sockaddr_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohs(((const struct sockaddr_in *)sa)->sin_port));
	if (sa->sa_family == AF_INET6)
		return (ntohs(((const struct sockaddr_in6 *)sa)->sin6_port));
	return (0);
}

/*
 * A non-blocking socket closed on exec, in one call where the system
 * has the flags for it (Linux, the BSDs) and with fcntl(2) elsewhere.
 */
int
util_socket(int domain, int type)
{
	int	 fd;

#if defined(SOCK_NONBLOCK) && defined(SOCK_CLOEXEC)
	fd = socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
#else
	if ((fd = socket(domain, type, 0)) != -1 &&
	    (fcntl(fd, F_SETFD, FD_CLOEXEC) == -1 ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == -1)) {
		close(fd);
		fd = -1;
	}
#endif
	return (fd);
}

/* Set the port of an AF_INET or AF_INET6 address. */
void
util_sockaddr_setport(struct sockaddr *sa, in_port_t port)
{
	if (sa->sa_family == AF_INET)
		((struct sockaddr_in *)sa)->sin_port = htons(port);
	else if (sa->sa_family == AF_INET6)
		((struct sockaddr_in6 *)sa)->sin6_port = htons(port);
}

/* Address and port: 127.0.0.1:3128 or [::1]:3128. */
const char *
util_sockaddr_str(const struct sockaddr *sa, char *buf, size_t len)
{
	char	 addr[INET6_ADDRSTRLEN + 16];

	util_addr_str(sa, addr, sizeof(addr));
	snprintf(buf, len, sa->sa_family == AF_INET6 ? "[%s]:%u" : "%s:%u",
	    addr, util_sockaddr_port(sa));
	return (buf);
}

/* Order two addresses: family, address bytes, then port. */
int
util_sockaddr_cmp(const struct sockaddr *a, const struct sockaddr *b)
{
	const struct sockaddr_in	*a4, *b4;
	const struct sockaddr_in6	*a6, *b6;
	int				 r;

	if (a->sa_family != b->sa_family)
		return (a->sa_family < b->sa_family ? -1 : 1);
	switch (a->sa_family) {
	case AF_INET:
		a4 = (const struct sockaddr_in *)a;
		b4 = (const struct sockaddr_in *)b;
		r = memcmp(&a4->sin_addr, &b4->sin_addr, sizeof(a4->sin_addr));
		break;
	case AF_INET6:
		a6 = (const struct sockaddr_in6 *)a;
		b6 = (const struct sockaddr_in6 *)b;
		r = memcmp(&a6->sin6_addr, &b6->sin6_addr,
		    sizeof(a6->sin6_addr));
		break;
	default:
		return (0);
	}
	if (r != 0)
		return (r < 0 ? -1 : 1);
	if (util_sockaddr_port(a) != util_sockaddr_port(b))
		return (util_sockaddr_port(a) < util_sockaddr_port(b) ? -1 : 1);
	return (0);
}

/* Clear memory the compiler may not optimise away (key material). */
void
util_zero(void *p, size_t len)
{
#ifdef HAVE_EXPLICIT_BZERO
	explicit_bzero(p, len);
#else
	volatile unsigned char	*v = p;

	while (len-- > 0)
		*v++ = 0;
#endif
}

/* size rounded up to whole pages; 0 if it is 0 or does not fit. */
static size_t
util_secret_size(size_t size)
{
	long	 pg = sysconf(_SC_PAGESIZE);
	size_t	 page = pg > 0 ? (size_t)pg : 4096;

	if (size == 0 || size > SIZE_MAX - (page - 1))
		return (0);
	return ((size + page - 1) / page * page);
}

/*
 * Zeroed memory for a secret (an API key): whole pages of their own,
 * locked so that they are not swapped, left out of core dumps and, on
 * Linux, wiped in forked children.  A host that refuses the lock (a
 * small RLIMIT_MEMLOCK) is told once and the memory used anyway.  Freed
 * with util_secret_free and the same size; NULL on failure.
 */
void *
util_secret_alloc(size_t size)
{
	static int	 warned;
	size_t		 len;
	void		*p;

	if ((len = util_secret_size(size)) == 0) {
		errno = EINVAL;
		return (NULL);
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANON,
	    -1, 0);
	if (p == MAP_FAILED)
		return (NULL);
	if (mlock(p, len) == -1 && !warned) {
		log_warnx("%s: mlock: %s: keys are not locked in memory and "
		    "may be swapped", __func__, strerror(errno));
		warned = 1;
	}
#if defined(MADV_DONTDUMP)
	(void)madvise(p, len, MADV_DONTDUMP);
#elif defined(MADV_NOCORE)
	(void)madvise(p, len, MADV_NOCORE);
#endif
#ifdef MADV_WIPEONFORK
	(void)madvise(p, len, MADV_WIPEONFORK);
#endif
	return (p);
}

/* Wipe, unlock and unmap what util_secret_alloc(size) gave; NULL is fine. */
void
util_secret_free(void *p, size_t size)
{
	size_t	 len;

	if (p == NULL || (len = util_secret_size(size)) == 0)
		return;
	util_zero(p, len);
	(void)munlock(p, len);
	(void)munmap(p, len);
}

/*
 * Whether path names dir or something below it, by the names as
 * written (both absolute, as the configuration requires): "/a/bc" is
 * not below "/a/b".
 */
int
util_path_below(const char *path, const char *dir)
{
	size_t	 len = strlen(dir);

	while (len > 1 && dir[len - 1] == '/')
		len--;
	if (strncmp(path, dir, len) != 0)
		return (0);
	return (path[len] == '\0' || path[len] == '/' || len == 1);
}

/*
 * Make the missing directories above path (absolute, as the
 * configuration requires), mode 0755, as mkdir -p would; path itself is
 * left to the caller, who gives it its own mode.  0, or -1 with errno
 * and the directory that could not be made logged.
 */
int
util_mkdir_parents(const char *path)
{
	char	 dir[SBXD_PATH_MAX];
	char	*p, *end;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir)) {
		errno = ENAMETOOLONG;
		return (-1);
	}
	if ((end = strrchr(dir, '/')) == NULL || end == dir)
		return (0);
	*end = '\0';
	for (p = dir + 1; p <= end; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) == -1 && errno != EEXIST) {
			log_warn("%s", dir);
			return (-1);
		}
		if (p != end)
			*p = '/';
	}
	return (0);
}

/*
 * An IPv6 address that carries an IPv4 one, v4-mapped (::ffff:a.b.c.d)
 * or v4-compatible (::a.b.c.d, but not :: or ::1), becomes that AF_INET
 * address, port kept, so that it compares and is judged as what it
 * reaches.  Returns 1 if ss changed.
 */
int
util_sockaddr_unmap(struct sockaddr_storage *ss, socklen_t *len)
{
	static const uint8_t	 mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0,
				    0, 0xff, 0xff };
	static const uint8_t	 zero[12];
	struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in	 sin;
	const uint8_t		*a = s6->sin6_addr.s6_addr;
	int			 v4mapped, v4compat;

	if (ss->ss_family != AF_INET6)
		return (0);
	v4mapped = memcmp(a, mapped, 12) == 0;
	v4compat = memcmp(a, zero, 12) == 0 && !(a[12] == 0 && a[13] == 0 &&
	    a[14] == 0 && a[15] <= 1);
	if (!v4mapped && !v4compat)
		return (0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = s6->sin6_port;
	memcpy(&sin.sin_addr, a + 12, 4);
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, &sin, sizeof(sin));
	*len = sizeof(sin);
	return (1);
}

/*
 * Whether addr is this host's own: loopback, unspecified, or an address
 * of one of its interfaces.  Connecting to any of them reaches the
 * host's own services, whatever the address looks like.
 */
int
util_addr_local(int family, const void *addr)
{
	struct timespec	 now;
	long long	 age;
	int		 i;

	if (family == AF_INET) {
		const uint8_t	*a = addr;

		if (a[0] == 127 || (a[0] == 0 && a[1] == 0 && a[2] == 0 &&
		    a[3] == 0))
			return (1);
	} else if (family == AF_INET6) {
		if (IN6_IS_ADDR_LOOPBACK((const struct in6_addr *)addr) ||
		    IN6_IS_ADDR_UNSPECIFIED((const struct in6_addr *)addr))
			return (1);
	} else
		return (0);
	util_monotime(&now);
	age = (now.tv_sec - util_local.lc_read.tv_sec) * 1000LL +
	    (now.tv_nsec - util_local.lc_read.tv_nsec) / 1000000;
	if ((util_local.lc_read.tv_sec == 0 && util_local.lc_read.tv_nsec ==
	    0) || age >= UTIL_LOCAL_MSECS) {
		if (util_local_read() == -1)
			return (1);	/* unknown: the careful answer */
	}
	if (family == AF_INET) {
		for (i = 0; i < util_local.lc_n4; i++)
			if (memcmp(&util_local.lc_v4[i], addr, 4) == 0)
				return (1);
	} else {
		for (i = 0; i < util_local.lc_n6; i++)
			if (memcmp(&util_local.lc_v6[i], addr, 16) == 0)
				return (1);
	}
	return (util_local.lc_full);	/* not all known: careful */
}

/* Read the host's interface addresses into util_local. */
static int
util_local_read(void)
{
	struct ifaddrs	*ifa, *i;

	if (getifaddrs(&ifa) == -1) {
		log_warn("%s: getifaddrs", __func__);
		return (-1);
	}
	util_local.lc_n4 = util_local.lc_n6 = util_local.lc_full = 0;
	for (i = ifa; i != NULL; i = i->ifa_next) {
		if (i->ifa_addr == NULL)
			continue;
		if (i->ifa_addr->sa_family == AF_INET) {
			if (util_local.lc_n4 == UTIL_LOCAL_MAX) {
				util_local.lc_full = 1;	/* logged below */
				continue;
			}
			util_local.lc_v4[util_local.lc_n4++] =
			    ((struct sockaddr_in *)i->ifa_addr)->sin_addr;
		} else if (i->ifa_addr->sa_family == AF_INET6) {
			if (util_local.lc_n6 == UTIL_LOCAL_MAX) {
				util_local.lc_full = 1;
				continue;
			}
			util_local.lc_v6[util_local.lc_n6++] =
			    ((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
		}
	}
	freeifaddrs(ifa);
	if (util_local.lc_full && !util_local.lc_warned++)
		log_warnx("more than %d addresses on one family's interfaces: "
		    "every other address is taken for one of them",
		    UTIL_LOCAL_MAX);
	util_monotime(&util_local.lc_read);
	return (0);
}

/*
 * Write our pid into a locked pidfile; a held lock means another sbxd
 * runs.  The fd, which holds the lock, or -1.
 */
int
util_pidfile(const char *path)
{
	char	 buf[32];
	ssize_t	 n;
	int	 fd;

	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd == -1) {
		log_warn("pidfile %s", path);
		return (-1);
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		n = read(fd, buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		log_warnx("pidfile %s is locked by pid %s: sbxd is already "
		    "running", path, *buf != '\0' ? buf : "unknown");
		close(fd);
		return (-1);
	}
	snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == -1 ||
	    write(fd, buf, strlen(buf)) != (ssize_t)strlen(buf)) {
		log_warn("pidfile %s", path);
		close(fd);
		return (-1);
	}
	return (fd);
}

/*
 * The uid owning the other end of fd, a TCP connection accepted from
 * this host: the kernel's socket table (NETLINK_SOCK_DIAG) is asked for
 * the one socket whose local address is fd's peer and whose remote
 * address is fd's own, and says which uid made it, the uid the
 * firewall's owner rules match.  One netlink socket per call, and no
 * call that can block: the kernel answers while the request is sent.
 * 0, or -1 with errno: ENOTSUP off Linux; ENOENT if no such socket (the
 * peer is gone, or is not on this host); ENOTCONN if its process closed
 * it, so that no uid holds it any more (a TIME_WAIT reports uid 0);
 * EPROTO if the reply is not the answer to the question.
 */
int
util_peer_uid(int fd, uid_t *uid)
{
#ifdef __linux__
	struct {
		struct nlmsghdr		 nlh;
		struct inet_diag_req_v2	 r;
	}			 req;
	union {
		struct nlmsghdr		 nlh;
		char			 buf[UTIL_DIAG_REPLY];
	}			 rep;
	static uint32_t		 seq;
	struct sockaddr_storage	 self, peer;
	struct sockaddr_nl	 nl;
	struct inet_diag_msg	 m;
	struct nlmsgerr		 e;
	struct msghdr		 msg;
	struct iovec		 iov;
	socklen_t		 len;
	ssize_t			 n;
	int			 s, family, proto, saved;

	len = sizeof(proto);
	if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) == -1)
		return (-1);
	if (proto != IPPROTO_TCP) {
		errno = EPROTOTYPE;
		return (-1);
	}
	len = sizeof(self);
	if (getsockname(fd, (struct sockaddr *)&self, &len) == -1)
		return (-1);
	len = sizeof(peer);
	if (getpeername(fd, (struct sockaddr *)&peer, &len) == -1)
		return (-1);

	/* The peer's socket: its source is our peer, its destination us. */
	memset(&req, 0, sizeof(req));
	req.nlh.nlmsg_len = sizeof(req);
	req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.nlh.nlmsg_flags = NLM_F_REQUEST;
	req.nlh.nlmsg_seq = ++seq;
	req.r.sdiag_protocol = IPPROTO_TCP;
	req.r.idiag_states = ~0U;
	req.r.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
	req.r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
	if ((family = util_diag_addr(&peer, req.r.id.idiag_src,
	    &req.r.id.idiag_sport)) == -1 || util_diag_addr(&self,
	    req.r.id.idiag_dst, &req.r.id.idiag_dport) != family) {
		errno = EAFNOSUPPORT;
		return (-1);
	}
	req.r.sdiag_family = family;

	if ((s = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC,
	    NETLINK_SOCK_DIAG)) == -1)
		return (-1);
	memset(&nl, 0, sizeof(nl));
	nl.nl_family = AF_NETLINK;
	if (sendto(s, &req, sizeof(req), 0, (struct sockaddr *)&nl,
	    sizeof(nl)) != (ssize_t)sizeof(req))
		goto fail;
	memset(&msg, 0, sizeof(msg));
	memset(&nl, 0, sizeof(nl));
	iov.iov_base = rep.buf;
	iov.iov_len = sizeof(rep.buf);
	msg.msg_name = &nl;
	msg.msg_namelen = sizeof(nl);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	/* The kernel replied within sendto: nothing to wait for. */
	if ((n = recvmsg(s, &msg, MSG_DONTWAIT)) == -1)
		goto fail;
	close(s);

	/* One message, from the kernel, answering this request. */
	if ((msg.msg_flags & MSG_TRUNC) || msg.msg_namelen != sizeof(nl) ||
	    nl.nl_family != AF_NETLINK || nl.nl_pid != 0 ||
	    (size_t)n < sizeof(rep.nlh) ||
	    rep.nlh.nlmsg_len < sizeof(rep.nlh) ||
	    rep.nlh.nlmsg_len > (size_t)n ||
	    NLMSG_ALIGN(rep.nlh.nlmsg_len) < (size_t)n ||
	    rep.nlh.nlmsg_seq != req.nlh.nlmsg_seq)
		goto proto;
	if (rep.nlh.nlmsg_type == NLMSG_ERROR) {
		if (rep.nlh.nlmsg_len < NLMSG_LENGTH(sizeof(e)))
			goto proto;
		memcpy(&e, NLMSG_DATA(&rep.nlh), sizeof(e));
		if (e.error >= 0)
			goto proto;	/* an ack was not asked for */
		errno = -e.error;
		return (-1);
	}
	if (rep.nlh.nlmsg_type != SOCK_DIAG_BY_FAMILY ||
	    rep.nlh.nlmsg_len < NLMSG_LENGTH(sizeof(m)))
		goto proto;
	memcpy(&m, NLMSG_DATA(&rep.nlh), sizeof(m));
	if (!util_diag_same(family, req.r.id.idiag_src, m.idiag_family,
	    m.id.idiag_src) || !util_diag_same(family, req.r.id.idiag_dst,
	    m.idiag_family, m.id.idiag_dst) ||
	    m.id.idiag_sport != req.r.id.idiag_sport ||
	    m.id.idiag_dport != req.r.id.idiag_dport)
		goto proto;
	/*
	 * A TIME_WAIT (or a FIN_WAIT2 the kernel keeps in that form) says
	 * uid 0, and an orphan no longer belongs to anyone: no inode.
	 */
	if (m.idiag_state == TCP_TIME_WAIT || m.idiag_inode == 0) {
		errno = ENOTCONN;
		return (-1);
	}
	*uid = m.idiag_uid;
	return (0);

fail:
	saved = errno;
	close(s);
	errno = saved;
	return (-1);
proto:
	errno = EPROTO;
	return (-1);
#else
	(void)fd;
	(void)uid;
	errno = ENOTSUP;
	return (-1);
#endif
}

#ifdef __linux__
/*
 * ss's address and port as a sock_diag id has them; an IPv4-mapped
 * IPv6 address is the IPv4 one, as the kernel's tables hold it.  The
 * family to ask in, or -1.
 */
static int
util_diag_addr(const struct sockaddr_storage *ss, uint32_t *addr,
    uint16_t *port)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;

	memset(addr, 0, 16);
	switch (ss->ss_family) {
	case AF_INET:
		sin = (const struct sockaddr_in *)ss;
		memcpy(addr, &sin->sin_addr, 4);
		*port = sin->sin_port;
		return (AF_INET);
	case AF_INET6:
		sin6 = (const struct sockaddr_in6 *)ss;
		*port = sin6->sin6_port;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			memcpy(addr, &sin6->sin6_addr.s6_addr[12], 4);
			return (AF_INET);
		}
		memcpy(addr, &sin6->sin6_addr, 16);
		return (AF_INET6);
	}
	return (-1);
}

/*
 * Whether a reply's address, a in family rfam, is want in family: an
 * IPv6 socket talking IPv4 is reported with mapped addresses.
 */
static int
util_diag_same(int family, const uint32_t *want, int rfam,
    const uint32_t *a)
{
	if (rfam == AF_INET6 && a[0] == 0 && a[1] == 0 &&
	    a[2] == htonl(0xffff)) {
		rfam = AF_INET;
		a += 3;
	}
	if (rfam != family)
		return (0);
	return (memcmp(want, a, family == AF_INET ? 4 : 16) == 0);
}
#endif
