/*
 * log.h: logging to stderr or syslog, shared by sbxd, sbxctl and the tests.
 */

#ifndef SBXD_LOG_H
#define SBXD_LOG_H

#include <stdarg.h>
#include <syslog.h>

void	log_init(int, int);
void	log_procname(const char *);
void	log_setlevel(int);
int	log_getlevel(void);
void	log_setstderr(int);
void	log_settime(int);
void	log_warn(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
void	log_warnx(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
void	log_info(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
void	log_debug(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
void	vlog(int, const char *, va_list)
	    __attribute__((__format__ (printf, 2, 0)));
void	fatal(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2), __noreturn__));
void	fatalx(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2), __noreturn__));

#endif /* SBXD_LOG_H */
