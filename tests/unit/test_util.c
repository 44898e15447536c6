/*
 * test_util.c: time and address formatting, sockets, memory for
 * secrets.
 */

#include <sys/types.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <netinet/in.h>

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

static const struct unit_test tests[] = {
	{ "rfc3339", test_rfc3339 },
	{ "addr", test_addr },
	{ "socket", test_socket },
	{ "path_below", test_path_below },
	{ "mkdir_parents", test_mkdir_parents },
	{ "secret", test_secret },
};

UNIT_MAIN("util", tests)
