/*
 * pfmon_flood.c: sends UDP datagrams as fast as asked, for the pfmon
 * flood benchmark (bench/pfmon.sh).  Run as a user whose packets the
 * firewall logs and drops: sendto then fails with EPERM, which is
 * expected and counted.  The rate is paced per millisecond.
 *
 * usage: pfmon_flood addr port rate seconds [nports]
 *	nports	cycle the destination port over that many ports (1)
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FLOOD_TICK_NS	1000000	/* pacing step: 1 ms */

static double
flood_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec + ts.tv_nsec / 1e9);
}

int
main(int argc, char *argv[])
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	struct timespec		 tick = { 0, FLOOD_TICK_NS };
	unsigned long		 sent = 0, refused = 0, other = 0;
	double			 t0, now, rate, secs;
	int			 s, port, nports = 1;
	socklen_t		 len;

	if (argc < 5) {
		fprintf(stderr, "usage: pfmon_flood addr port rate seconds "
		    "[nports]\n");
		return (2);
	}
	memset(&ss, 0, sizeof(ss));
	port = atoi(argv[2]);
	rate = atof(argv[3]);
	secs = atof(argv[4]);
	if (argc > 5)
		nports = atoi(argv[5]);
	if (inet_pton(AF_INET, argv[1], &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, argv[1], &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		len = sizeof(*sin6);
	} else {
		fprintf(stderr, "bad address %s\n", argv[1]);
		return (2);
	}
	if ((s = socket(ss.ss_family, SOCK_DGRAM, 0)) == -1) {
		perror("socket");
		return (1);
	}
	t0 = flood_now();
	while ((now = flood_now()) - t0 < secs) {
		/* Catch up to where the rate says we should be. */
		while (sent < (now - t0) * rate) {
			in_port_t p = htons(port + sent % nports);

			if (ss.ss_family == AF_INET)
				sin->sin_port = p;
			else
				sin6->sin6_port = p;
			if (sendto(s, "x", 1, 0, (struct sockaddr *)&ss,
			    len) == -1) {
				if (errno == EPERM)
					refused++;
				else
					other++;
			}
			sent++;
		}
		nanosleep(&tick, NULL);
	}
	now = flood_now();
	printf("%lu sent in %.2f s: %.0f/s (%lu dropped by the firewall, "
	    "%lu other errors)\n", sent, now - t0, sent / (now - t0),
	    refused, other);
	close(s);
	return (0);
}
