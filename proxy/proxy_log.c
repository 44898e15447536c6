/*
 * proxy_log.c: the access log, one line per request or tunnel:
 *
 *	time client listener method host:port status up down ms [note]
 *
 * up and down are the bytes each way, head and body; note says why a
 * request was refused or ended early.  The file is opened on start and
 * on every reload, so a rotated log is picked up with SIGHUP.
 */

#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"
#include "log.h"
#include "sbxd.h"
#include "proxy.h"

#define PROXY_LOG_LINE	1024	/* one access log line */

static int	 proxy_log_fd = -1;
static uint64_t	 proxy_log_failures;

/* Open path for appending (NULL: logging off); the old file is closed. */
int
proxy_log_open(const char *path)
{
	int	 fd;

	if (path == NULL) {
		proxy_log_close();
		return (0);
	}
	if (priv_on()) {
		/* Its directory may be root's: the privileged one opens it. */
		json_t	*r;
		char	 err[256];
		int	 fds[PRIV_FDS_MAX], nfds;

		r = priv_call("open-log", json_pack("{s:s}", "path", path),
		    fds, &nfds, err, sizeof(err));
		json_decref(r);
		if (r == NULL || nfds != 1) {
			while (nfds > 0)
				close(fds[--nfds]);
			log_warnx("proxy: access log %s: %s", path, r == NULL ?
			    err : "no file");
			return (-1);
		}
		fd = fds[0];
	} else
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
		    0640);
	if (fd == -1) {
		log_warn("proxy: access log %s", path);
		return (-1);
	}
	proxy_log_close();
	proxy_log_fd = fd;
	return (0);
}

/* Stop logging. */
void
proxy_log_close(void)
{
	if (proxy_log_fd != -1)
		close(proxy_log_fd);
	proxy_log_fd = -1;
}

/* The line for the request of ps that just ended. */
void
proxy_log_write(struct proxy_session *ps, const char *note)
{
	struct timespec	 now, mono;
	char		 line[PROXY_LOG_LINE], tbuf[32];
	long long	 ms;
	int		 n;

	if (proxy_log_fd == -1)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	util_rfc3339(&now, tbuf, sizeof(tbuf));
	util_monotime(&mono);
	ms = (mono.tv_sec - ps->ps_tv_req.tv_sec) * 1000LL +
	    (mono.tv_nsec - ps->ps_tv_req.tv_nsec) / 1000000L;
	n = snprintf(line, sizeof(line), "%s %s %s %s %s %d %llu %llu %lld%s%s"
	    "\n", tbuf, ps->ps_client, ps->ps_listener->pr_name,
	    ps->ps_req.rq_method != NULL ? ps->ps_req.rq_method : "-",
	    ps->ps_dest[0] != '\0' ? ps->ps_dest : "-", ps->ps_status,
	    (unsigned long long)ps->ps_bytes_up,
	    (unsigned long long)ps->ps_bytes_down, ms,
	    note != NULL ? " " : "", note != NULL ? note : "");
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	if (write(proxy_log_fd, line, n) != n && proxy_log_failures++ == 0)
		log_warn("proxy: access log write");
}
