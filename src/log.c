/*
 * log.c: the daemon's log.  In the foreground every line goes to stderr;
 * as a daemon it goes to syslog, and also to stderr until the parent that
 * started us has been told we are up.  The level is a syslog priority:
 * messages above it are dropped.  A running daemon's stderr lines start
 * with the time, in UTC to the millisecond as in events; syslog adds its
 * own.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "log.h"

static void	 log_time(FILE *);

static int	 log_foreground = 1;	/* stderr instead of syslog */
static int	 log_tostderr;		/* syslog and stderr */
static int	 log_stamp;		/* stderr lines start with the time */
static int	 log_level = LOG_INFO;
static const char *log_name = "sbxd";

/* Start logging: to stderr when foreground, else to syslog. */
void
log_init(int foreground, int facility)
{
	log_foreground = foreground;
	if (!foreground) {
		openlog(log_name, LOG_PID | LOG_NDELAY, facility);
		tzset();
	}
}

/* Name used on stderr lines and in syslog. */
void
log_procname(const char *name)
{
	log_name = name;
}

/* Drop messages less important than pri. */
void
log_setlevel(int pri)
{
	if (pri < LOG_WARNING)
		pri = LOG_WARNING;
	if (pri > LOG_DEBUG)
		pri = LOG_DEBUG;
	log_level = pri;
}

/* The current level. */
int
log_getlevel(void)
{
	return (log_level);
}

/* From now on, stderr lines start with the time. */
void
log_settime(int on)
{
	log_stamp = on;
}

/* While daemonizing, copy syslog lines to stderr too. */
void
log_setstderr(int on)
{
	log_tostderr = on;
}

/* "2026-12-05T09:30:00.123Z ", as an event's time. */
static void
log_time(FILE *fp)
{
	struct timespec	 ts;
	struct tm	 tm;
	char		 buf[32];

	if (clock_gettime(CLOCK_REALTIME, &ts) == -1 ||
	    gmtime_r(&ts.tv_sec, &tm) == NULL ||
	    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		return;
	fprintf(fp, "%s.%03ldZ ", buf, ts.tv_nsec / 1000000);
}

/* Write one message at priority pri. */
void
vlog(int pri, const char *fmt, va_list ap)
{
	va_list	 ap2;
	int	 saved_errno = errno;

	if (pri > log_level && pri > LOG_WARNING)
		return;
	if (log_foreground || log_tostderr) {
		va_copy(ap2, ap);
		if (log_stamp)
			log_time(stderr);
		fprintf(stderr, "%s: ", log_name);
		vfprintf(stderr, fmt, ap2);
		fputc('\n', stderr);
		fflush(stderr);
		va_end(ap2);
	}
	if (!log_foreground)
		vsyslog(pri, fmt, ap);
	errno = saved_errno;
}

/* Write one message at priority pri. */
static void
log_emit(int pri, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(pri, fmt, ap);
	va_end(ap);
}

/* Write fmt followed by the text of errno code. */
static void
log_errno(int pri, int code, const char *fmt, va_list ap)
{
	char	 buf[2048];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	log_emit(pri, "%s: %s", buf, strerror(code));
}

/* A warning with strerror(errno) appended. */
void
log_warn(const char *fmt, ...)
{
	va_list	 ap;
	int	 code = errno;

	va_start(ap, fmt);
	log_errno(LOG_WARNING, code, fmt, ap);
	va_end(ap);
	errno = code;
}

/* A warning. */
void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap);
	va_end(ap);
}

/* An informational message. */
void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap);
	va_end(ap);
}

/* A debugging message. */
void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap);
	va_end(ap);
}

/* Log with strerror(errno) and exit. */
void
fatal(const char *fmt, ...)
{
	va_list	 ap;
	int	 code = errno;

	va_start(ap, fmt);
	log_errno(LOG_CRIT, code, fmt, ap);
	va_end(ap);
	exit(1);
}

/* Log and exit. */
void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(1);
}
