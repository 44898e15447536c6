/*
 * test_util.c: time and address formatting, sockets, memory for
 * secrets, the uid at the other end of a loopback connection.
 */

#include <sys/types.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "sbxd.h"
#include "unit.h"

static int
test_rfc3339(void)
{
	struct timespec	 ts = { 1795402862, 7000000 };
	char		 buf[32], small[10];
	int		 ret = -1;

	CHECK(util_rfc3339(&ts, buf, sizeof(buf)) == 0);
	CHECK_STR(buf, "2026-11-23T03:01:02.007Z");
	ts.tv_sec = 0;
	ts.tv_nsec = 999999999;
	CHECK(util_rfc3339(&ts, buf, sizeof(buf)) == 0);
	CHECK_STR(buf, "1970-01-01T00:00:00.999Z");
	CHECK(util_rfc3339(&ts, small, sizeof(small)) == -1);
	ret = 0;
end:
	return (ret);
}

static int
test_addr(void)
{
	struct sockaddr_storage	 ss, ss2;
	socklen_t		 len;
	char			 buf[64];
	int			 ret = -1;

	CHECK(util_addr_parse("127.0.0.1", 3128, &ss, &len) == 0);
	CHECK_INT(len, sizeof(struct sockaddr_in));
	CHECK_STR(util_sockaddr_str((struct sockaddr *)&ss, buf, sizeof(buf)),
	    "127.0.0.1:3128");
	CHECK(util_addr_parse("::1", 80, &ss2, &len) == 0);
	CHECK_STR(util_sockaddr_str((struct sockaddr *)&ss2, buf,
	    sizeof(buf)), "[::1]:80");
	CHECK_STR(util_addr_str((struct sockaddr *)&ss2, buf, sizeof(buf)),
	    "::1");
	CHECK(util_sockaddr_cmp((struct sockaddr *)&ss,
	    (struct sockaddr *)&ss2) != 0);
	CHECK(util_addr_parse("127.0.0.1", 3129, &ss2, &len) == 0);
	CHECK(util_sockaddr_cmp((struct sockaddr *)&ss,
	    (struct sockaddr *)&ss2) < 0);
	CHECK(util_addr_parse("127.0.0.1", 3128, &ss2, &len) == 0);
	CHECK(util_sockaddr_cmp((struct sockaddr *)&ss,
	    (struct sockaddr *)&ss2) == 0);
	CHECK(util_addr_parse("localhost", 1, &ss, &len) == -1);
	CHECK(util_addr_parse("[::1]", 1, &ss, &len) == -1);
	CHECK(util_addr_parse("", 1, &ss, &len) == -1);
	ret = 0;
end:
	return (ret);
}

/* A socket for the loop: non-blocking and closed on exec. */
static int
test_socket(void)
{
	int	 ret = -1, fd;

	CHECK((fd = util_socket(AF_INET, SOCK_STREAM)) != -1);
	CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
	CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
	CHECK(util_socket(-1, SOCK_STREAM) == -1);
	ret = 0;
end:
	return (ret);
}

/* Below by whole names: a sibling with a longer name is not below. */
static int
test_path_below(void)
{
	int	 ret = -1;

	CHECK(util_path_below("/var/lib/sbxd/home", "/var/lib/sbxd"));
	CHECK(util_path_below("/var/lib/sbxd/home", "/var/lib/sbxd/"));
	CHECK(util_path_below("/var/lib/sbxd", "/var/lib/sbxd"));
	CHECK(util_path_below("/home", "/"));
	CHECK(!util_path_below("/var/lib/sbxd-home", "/var/lib/sbxd"));
	CHECK(!util_path_below("/var/lib", "/var/lib/sbxd"));
	CHECK(!util_path_below("/srv/home", "/var/lib/sbxd"));
	ret = 0;
end:
	return (ret);
}

/* The parents of a path are made, not the path; a file in the way fails. */
static int
test_mkdir_parents(void)
{
	struct stat	 st;
	char		 path[512], *dir;
	mode_t		 mask;
	int		 ret = -1, fd;

	mask = umask(022);
	umask(mask);
	if ((dir = unit_tmpdir()) == NULL)
		return (-1);
	snprintf(path, sizeof(path), "%s/a/b/c/home", dir);
	CHECK(util_mkdir_parents(path) == 0);
	snprintf(path, sizeof(path), "%s/a/b/c", dir);
	CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
	CHECK((st.st_mode & 07777) == (0755 & ~mask));
	snprintf(path, sizeof(path), "%s/a/b/c/home", dir);
	CHECK(stat(path, &st) == -1 && errno == ENOENT);
	/* Again: all there already. */
	CHECK(util_mkdir_parents(path) == 0);
	snprintf(path, sizeof(path), "%s/f", dir);
	CHECK((fd = open(path, O_CREAT | O_WRONLY, 0600)) != -1);
	close(fd);
	snprintf(path, sizeof(path), "%s/f/x/home", dir);
	CHECK(util_mkdir_parents(path) == -1 && errno == ENOTDIR);
	CHECK(util_mkdir_parents("/") == 0);
	CHECK(util_mkdir_parents("/home") == 0);
	ret = 0;
end:
	unit_rmtree(dir);
	free(dir);
	return (ret);
}

/*
 * Memory for secrets: zeroed, page aligned, writable over the whole
 * size asked for, and (on Linux) wiped in a forked child.
 */
static int
test_secret(void)
{
	char	*p = NULL, *q = NULL;
	size_t	 i, page = (size_t)sysconf(_SC_PAGESIZE);
	pid_t	 pid;
	int	 ret = -1, status;

	CHECK(util_secret_alloc(0) == NULL);
	CHECK((p = util_secret_alloc(100)) != NULL);
	CHECK(((uintptr_t)p % page) == 0);
	for (i = 0; i < page; i++)
		CHECK(p[i] == 0);
	memcpy(p, "sk-secret", 10);
	CHECK_STR(p, "sk-secret");
	CHECK((q = util_secret_alloc(page + 1)) != NULL);
	for (i = 0; i < 2 * page; i++)
		CHECK(q[i] == 0);
	memset(q, 'k', 2 * page);
	CHECK(q[2 * page - 1] == 'k');
#ifdef MADV_WIPEONFORK
	CHECK((pid = fork()) != -1);
	if (pid == 0)
		_exit(p[0] == '\0' ? 0 : 1);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
#else
	(void)pid;
	(void)status;
#endif
	CHECK_STR(p, "sk-secret");
	ret = 0;
end:
	util_secret_free(p, 100);
	util_secret_free(q, page + 1);
	util_secret_free(NULL, 100);
	return (ret);
}

/*
 * A listener of family on addr (v6only 0: IPv4 too), port 0; its fd,
 * or -1 with errno.
 */
static int
t_listen(int family, const char *addr, int v6only)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	int			 fd, saved;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		inet_pton(AF_INET, addr, &sin->sin_addr);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, addr, &sin6->sin6_addr);
		len = sizeof(*sin6);
	}
	if ((fd = socket(family, SOCK_STREAM, 0)) == -1)
		return (-1);
	if ((family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY,
	    &v6only, sizeof(v6only)) == -1) ||
	    bind(fd, (struct sockaddr *)&ss, len) == -1 ||
	    listen(fd, 8) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return (-1);
	}
	return (fd);
}

/*
 * A child process, as uid as unless it is -1, connects from a socket
 * of family cfam to the port of lfd at addr; the accepted end is put to
 * util_peer_uid.  Its return, with *uid and *err (errno) set.
 */
static int
t_peer(int lfd, int cfam, const char *addr, uid_t as, uid_t *uid, int *err)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t		 len = sizeof(ss);
	in_port_t		 port;
	pid_t			 pid;
	char			 c;
	int			 p[2], fd, r = -1, status;

	*err = 0;
	if (getsockname(lfd, (struct sockaddr *)&ss, &len) == -1)
		return (-2);
	port = util_sockaddr_port((struct sockaddr *)&ss);
	memset(&ss, 0, sizeof(ss));
	if (cfam == AF_INET) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		inet_pton(AF_INET, addr, &sin->sin_addr);
		len = sizeof(*sin);
	} else {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		inet_pton(AF_INET6, addr, &sin6->sin6_addr);
		len = sizeof(*sin6);
	}
	if (pipe(p) == -1 || (pid = fork()) == -1)
		return (-2);
	if (pid == 0) {
		close(p[1]);
		if ((as != (uid_t)-1 && setuid(as) == -1) ||
		    (fd = socket(cfam, SOCK_STREAM, 0)) == -1 ||
		    connect(fd, (struct sockaddr *)&ss, len) == -1)
			_exit(1);
		(void)read(p[0], &c, 1);	/* until the parent is done */
		_exit(0);
	}
	close(p[0]);
	if ((fd = accept(lfd, NULL, NULL)) != -1) {
		r = util_peer_uid(fd, uid);
		*err = errno;
		close(fd);
	} else
		r = -2;
	close(p[1]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		r = -2;
	return (r);
}

/*
 * util_peer_uid: who holds the client end, over IPv4, IPv6 and an IPv6
 * socket talking IPv4 either way; as root, a client of another uid;
 * and the failures: not a connection, not TCP, a peer gone.
 */
static int
test_peer_uid(void)
{
	uid_t	 uid;
	int	 lfd = -1, fd = -1, cfd = -1, err, have6, ret = -1;

#ifdef __linux__
	CHECK((lfd = t_listen(AF_INET, "127.0.0.1", 1)) != -1);
	uid = (uid_t)-2;
	CHECK_INT(t_peer(lfd, AF_INET, "127.0.0.1", -1, &uid, &err), 0);
	CHECK_INT(uid, getuid());
	if (geteuid() == 0) {
		uid = (uid_t)-2;
		CHECK_INT(t_peer(lfd, AF_INET, "127.0.0.1", 65534, &uid,
		    &err), 0);
		CHECK_INT(uid, 65534);
	} else
		printf("      (another uid skipped: needs root)\n");

	/* An IPv6 socket to ::ffff:127.0.0.1: reported mapped. */
	have6 = (fd = t_listen(AF_INET6, "::1", 1)) != -1;
	if (have6) {
		uid = (uid_t)-2;
		CHECK_INT(t_peer(lfd, AF_INET6, "::ffff:127.0.0.1", -1, &uid,
		    &err), 0);
		CHECK_INT(uid, getuid());
		uid = (uid_t)-2;
		CHECK_INT(t_peer(fd, AF_INET6, "::1", -1, &uid, &err), 0);
		CHECK_INT(uid, getuid());
		if (geteuid() == 0) {
			uid = (uid_t)-2;
			CHECK_INT(t_peer(fd, AF_INET6, "::1", 65534, &uid,
			    &err), 0);
			CHECK_INT(uid, 65534);
		}
		close(fd);
		/* A dual-stack listener: IPv4 accepted as mapped. */
		CHECK((fd = t_listen(AF_INET6, "::", 0)) != -1);
		uid = (uid_t)-2;
		CHECK_INT(t_peer(fd, AF_INET, "127.0.0.1", -1, &uid, &err),
		    0);
		CHECK_INT(uid, getuid());
		close(fd);
		fd = -1;
	} else
		printf("      (IPv6 skipped: no ::1: %s)\n", strerror(errno));

	/* Not a connection, not TCP, not a socket, no fd. */
	CHECK(util_peer_uid(lfd, &uid) == -1 && errno == ENOTCONN);
	CHECK(util_peer_uid(-1, &uid) == -1 && errno == EBADF);
	CHECK((fd = open("/dev/null", O_RDONLY)) != -1);
	CHECK(util_peer_uid(fd, &uid) == -1 && errno == ENOTSOCK);
	close(fd);
	CHECK((fd = socket(AF_INET, SOCK_DGRAM, 0)) != -1);
	CHECK(util_peer_uid(fd, &uid) == -1 && errno == EPROTOTYPE);
	close(fd);
	fd = -1;

	/* The client closed: its end belongs to nobody any more. */
	CHECK((cfd = socket(AF_INET, SOCK_STREAM, 0)) != -1);
	{
		struct sockaddr_storage	 ss;
		socklen_t		 len = sizeof(ss);

		CHECK(getsockname(lfd, (struct sockaddr *)&ss, &len) == 0);
		CHECK(connect(cfd, (struct sockaddr *)&ss, len) == 0);
	}
	CHECK((fd = accept(lfd, NULL, NULL)) != -1);
	CHECK(util_peer_uid(fd, &uid) == 0 && uid == getuid());
	close(cfd);
	cfd = -1;
	usleep(100000);
	CHECK(util_peer_uid(fd, &uid) == -1 && errno == ENOTCONN);
#else
	(void)have6;
	(void)err;
	CHECK((lfd = t_listen(AF_INET, "127.0.0.1", 1)) != -1);
	CHECK(t_peer(lfd, AF_INET, "127.0.0.1", -1, &uid, &err) == -1 &&
	    err == ENOTSUP);
#endif
	ret = 0;
end:
	if (cfd != -1)
		close(cfd);
	if (fd != -1)
		close(fd);
	if (lfd != -1)
		close(lfd);
	return (ret);
}

static const struct unit_test tests[] = {
	{ "rfc3339", test_rfc3339 },
	{ "addr", test_addr },
	{ "socket", test_socket },
	{ "path_below", test_path_below },
	{ "mkdir_parents", test_mkdir_parents },
	{ "secret", test_secret },
	{ "peer_uid", test_peer_uid },
};

UNIT_MAIN("util", tests)
