/*
 * compat.h: what some C libraries lack, for the daemon and sbxctl alike
 * (tmux keeps the same in its compat.h).
 */

#ifndef SBXD_COMPAT_H
#define SBXD_COMPAT_H

#include <sys/queue.h>

#ifndef __unused
#define __unused	__attribute__((__unused__))
#endif

#ifndef nitems			/* OpenBSD's <sys/param.h> */
#define nitems(a)	(sizeof((a)) / sizeof((a)[0]))
#endif

#ifndef TAILQ_FOREACH_SAFE	/* glibc's sys/queue.h lacks it */
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = TAILQ_FIRST(head);					\
	    (var) != NULL && ((tvar) = TAILQ_NEXT(var, field), 1);	\
	    (var) = (tvar))
#endif

#endif /* SBXD_COMPAT_H */
