/*
 * unit.c: runs a table of unit tests, names the ones that fail with the
 * file and line of the failed check, and exits 1 if any failed.  Given
 * test names as arguments, it runs only those.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "unit.h"

static const char	*unit_current;

/* Report a failed check in the running test. */
void
unit_fail(const char *file, int line, const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "  %s: %s:%d: ", unit_current, file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Run the tests named in argv, or all of them. */
int
unit_main(const char *suite, const struct unit_test *tests, size_t n,
    int argc, char *argv[])
{
	size_t	 i;
	int	 j, run, failed = 0, passed = 0;

	for (i = 0; i < n; i++) {
		run = argc < 2;
		for (j = 1; j < argc; j++)
			if (strcmp(argv[j], tests[i].name) == 0)
				run = 1;
		if (!run)
			continue;
		unit_current = tests[i].name;
		if (tests[i].fn() == 0) {
			printf("ok    %s/%s\n", suite, tests[i].name);
			passed++;
		} else {
			printf("FAIL  %s/%s\n", suite, tests[i].name);
			failed++;
		}
		fflush(stdout);
	}
	printf("%s: %d passed, %d failed\n", suite, passed, failed);
	return (failed > 0 ? 1 : 0);
}

/* A new private directory for one test; the caller frees the name. */
char *
unit_tmpdir(void)
{
	const char	*base = getenv("TMPDIR");
	char		*dir;

	if (base == NULL || *base == '\0')
		base = "/tmp";
	if (asprintf(&dir, "%s/sbxd-unit.XXXXXX", base) == -1)
		return (NULL);
	if (mkdtemp(dir) == NULL) {
		free(dir);
		return (NULL);
	}
	/* A daemon started as root has an engine that must pass through. */
	if (chmod(dir, 0711) == -1) {
		rmdir(dir);
		free(dir);
		return (NULL);
	}
	return (dir);
}

/*
 * Make a user named prefix and its uid, with the first uid of
 * [first, last] that is free, a group of its own, and home (made with
 * it) or "/" if home is NULL.  0 or -1.
 */
int
unit_user_make(struct unit_user *u, const char *prefix, uid_t first,
    uid_t last, const char *home)
{
	struct passwd	*pw;
	char		 cmd[1024];
	uid_t		 uid;

	memset(u, 0, sizeof(*u));
	for (uid = first; uid <= last; uid++)
		if (getpwuid(uid) == NULL)
			break;
	if (uid > last)
		return (-1);
	snprintf(u->uu_name, sizeof(u->uu_name), "%s%ld", prefix, (long)uid);
	snprintf(cmd, sizeof(cmd), "/usr/sbin/useradd -K UID_MAX=%ld -u %ld "
	    "-U %s -d %s -s /bin/sh %s", (long)last, (long)uid,
	    home != NULL ? "-m" : "-M", home != NULL ? home : "/",
	    u->uu_name);
	if (system(cmd) != 0)
		return (-1);
	u->uu_made = 1;
	if ((pw = getpwnam(u->uu_name)) == NULL)
		return (-1);
	u->uu_uid = pw->pw_uid;
	u->uu_gid = pw->pw_gid;
	return (0);
}

/* Kill what runs as a user made by unit_user_make, then remove it. */
void
unit_user_remove(struct unit_user *u)
{
	char	 cmd[256];

	if (!u->uu_made || geteuid() != 0)
		return;
	u->uu_made = 0;
	snprintf(cmd, sizeof(cmd), "pkill -KILL -u %ld; /usr/sbin/userdel %s",
	    (long)u->uu_uid, u->uu_name);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove user %s\n", u->uu_name);
}

/* Write text to path; returns 0 or -1. */
int
unit_write(const char *path, const char *text)
{
	FILE	*fp;
	int	 r;

	if ((fp = fopen(path, "w")) == NULL)
		return (-1);
	r = fputs(text, fp) == EOF ? -1 : 0;
	if (fclose(fp) == EOF)
		r = -1;
	return (r);
}

/* Remove dir and everything below it (one level of subdirectories). */
void
unit_rmtree(const char *dir)
{
	struct dirent	*de;
	struct stat	 st;
	DIR		*d;
	char		*p;

	if (dir == NULL || (d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (asprintf(&p, "%s/%s", dir, de->d_name) == -1)
			continue;
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
			unit_rmtree(p);
		else
			unlink(p);
		free(p);
	}
	closedir(d);
	rmdir(dir);
}

/* How many descriptors this process has open (Linux: /proc); -1 if unknown. */
int
unit_nfds(void)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return (-1);
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return (n - 1);		/* the DIR's own */
}

/* A tick, so that EVLOOP_ONCE returns while a test waits. */
static struct event	*unit_tick;

static void
unit_tickcb(evutil_socket_t fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
}

/* A new base with a tick of tick_ms; NULL if it cannot be made. */
struct event_base *
unit_loop_start(int tick_ms)
{
	struct event_base	*base;
	struct timeval		 tv = { 0, tick_ms * 1000 };

	if ((base = event_base_new()) == NULL)
		return (NULL);
	unit_tick = event_new(base, -1, EV_PERSIST, unit_tickcb, NULL);
	if (unit_tick == NULL || event_add(unit_tick, &tv) == -1) {
		if (unit_tick != NULL)
			event_free(unit_tick);
		unit_tick = NULL;
		event_base_free(base);
		return (NULL);
	}
	return (base);
}

void
unit_loop_stop(struct event_base *base)
{
	if (unit_tick != NULL)
		event_free(unit_tick);
	unit_tick = NULL;
	if (base != NULL)
		event_base_free(base);
}

/* Seconds on the monotonic clock. */
double
unit_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec + ts.tv_nsec / 1e9);
}

/*
 * Run the loop until left(arg) is 0, or for secs seconds; then a few
 * turns more, so that a callback that comes twice shows.  Returns what
 * is left.
 */
int
unit_loop_until(struct event_base *base, int (*left)(void *), void *arg,
    double secs)
{
	double	 end = unit_now() + secs;
	int	 i;

	while (left(arg) != 0 && unit_now() < end)
		event_base_loop(base, EVLOOP_ONCE);
	for (i = 0; i < 3; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
	return (left(arg));
}

struct unit_counts {
	const char	*uc_first;
	size_t		 uc_size;
	int		 uc_n;
};

static int
unit_counts_left(void *arg)
{
	struct unit_counts	*uc = arg;
	int			 i, left = 0;

	for (i = 0; i < uc->uc_n; i++)
		left += *(const int *)(const void *)(uc->uc_first +
		    i * uc->uc_size) == 0;
	return (left);
}

/*
 * Run the loop until each of n results, structures of size bytes that
 * start with an int counting their callbacks, has been called, or for
 * secs seconds.  0 if each was called exactly once.
 */
int
unit_loop_counts(struct event_base *base, const void *results, size_t size,
    int n, double secs)
{
	struct unit_counts	 uc = { results, size, n };
	int			 i;

	(void)unit_loop_until(base, unit_counts_left, &uc, secs);
	for (i = 0; i < n; i++)
		if (*(const int *)(const void *)(uc.uc_first + i * size) != 1)
			return (-1);
	return (0);
}
