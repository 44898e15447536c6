/*
 * agentbench.c: the two ends of bench/agent.sh.
 *
 * agentbench agent
 *	A "command" agent: it writes, to $HOME/stamp, the time its first
 *	byte of stdin arrived; reads the prompt to its end ("LINES n
 *	INTERVAL usecs"); then writes n lines "L seq nanoseconds", one
 *	every usecs microseconds, each stamped with the time it is written.
 *
 * agentbench drive START-FILE [--stdin TEXT] -- command [arg ...]
 *	Runs command, writing the time just before it started to
 *	START-FILE, and TEXT on its stdin; reads its stdout, and for every
 *	"L" line the time from its stamp to now.  Prints one line:
 *	"lines N p50 P p99 Q max M span S", latencies in microseconds and
 *	the span from the first line to the last in milliseconds.
 *
 * Times are CLOCK_REALTIME nanoseconds: both ends run on one host.
 */

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int64_t
now_ns(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
}

static int
agent(void)
{
	struct timespec	 next;
	char		 buf[4096], path[1024];
	const char	*home = getenv("HOME");
	ssize_t		 n;
	size_t		 len = 0;
	long		 lines = 100, usecs = 1000, i;
	int64_t		 first;
	FILE		*fp;

	if ((n = read(STDIN_FILENO, buf, sizeof(buf) - 1)) <= 0)
		return (1);
	first = now_ns();
	len = n;
	while (len < sizeof(buf) - 1 &&
	    (n = read(STDIN_FILENO, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += n;
	buf[len] = '\0';
	snprintf(path, sizeof(path), "%s/stamp", home != NULL ? home : "/tmp");
	if ((fp = fopen(path, "w")) != NULL) {
		fprintf(fp, "%lld\n", (long long)first);
		fclose(fp);
	}
	sscanf(buf, "LINES %ld INTERVAL %ld", &lines, &usecs);
	setvbuf(stdout, NULL, _IONBF, 0);
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (i = 0; i < lines; i++) {
		next.tv_nsec += usecs * 1000;
		while (next.tv_nsec >= 1000000000) {
			next.tv_nsec -= 1000000000;
			next.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
		printf("L %ld %lld\n", i, (long long)now_ns());
	}
	return (0);
}

static int
cmp64(const void *a, const void *b)
{
	int64_t	 x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x < y ? -1 : x > y);
}

static int
drive(int argc, char **argv)
{
	const char	*text = NULL, *startfile;
	int		 in[2], out[2], i, status;
	int64_t		*lat = NULL, t0, first = 0, last = 0, stamp;
	size_t		 n = 0, cap = 0;
	char		 line[8192];
	long		 seq;
	pid_t		 pid;
	FILE		*fp;

	if (argc < 4)
		return (2);
	startfile = argv[2];
	for (i = 3; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--stdin") == 0 && i + 1 < argc)
			text = argv[++i];
	if (i++ == argc)
		return (2);
	if (pipe(in) == -1 || pipe(out) == -1)
		return (1);
	t0 = now_ns();
	if ((pid = fork()) == 0) {
		dup2(in[0], STDIN_FILENO);
		dup2(out[1], STDOUT_FILENO);
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		execvp(argv[i], argv + i);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	if (text != NULL && write(in[1], text, strlen(text)) == -1)
		return (1);
	close(in[1]);
	if ((fp = fdopen(out[0], "r")) == NULL)
		return (1);
	while (fgets(line, sizeof(line), fp) != NULL) {
		int64_t	 t = now_ns();
		long long ns;

		if (sscanf(line, "L %ld %lld", &seq, &ns) != 2)
			continue;
		stamp = ns;
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			if ((lat = realloc(lat, cap * sizeof(*lat))) == NULL)
				return (1);
		}
		lat[n++] = t - stamp;
		if (first == 0)
			first = t;
		last = t;
	}
	waitpid(pid, &status, 0);
	if ((fp = fopen(startfile, "w")) != NULL) {
		fprintf(fp, "%lld\n", (long long)t0);
		fclose(fp);
	}
	if (n == 0) {
		printf("lines 0\n");
		return (1);
	}
	qsort(lat, n, sizeof(*lat), cmp64);
	printf("lines %zu p50 %.1f p99 %.1f max %.1f span %.1f\n", n,
	    lat[n / 2] / 1000.0, lat[(n * 99) / 100] / 1000.0,
	    lat[n - 1] / 1000.0, (last - first) / 1e6);
	free(lat);
	return (WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1);
}

int
main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "agent") == 0)
		return (agent());
	if (argc >= 2 && strcmp(argv[1], "drive") == 0)
		return (drive(argc, argv));
	fprintf(stderr, "usage: agentbench agent | drive START-FILE "
	    "[--stdin TEXT] -- command [arg ...]\n");
	return (2);
}
