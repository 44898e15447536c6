/*
 * sandbox_user.h: the OS users sandboxes run as (src/sandbox_user.c),
 * and the PF calls that go beyond struct fw_backend (src/fw_pf.c).
 */

#ifndef SANDBOX_USER_H
#define SANDBOX_USER_H

#include <sys/types.h>

#define SANDBOX_OS_LINUX	1	/* useradd, userdel */
#define SANDBOX_OS_MACOS	2	/* dscl, dseditgroup */

#ifdef __APPLE__
#define SANDBOX_OS_HOST		SANDBOX_OS_MACOS
#else
#define SANDBOX_OS_HOST		SANDBOX_OS_LINUX
#endif

struct sandbox_cmdlist;
struct fw_conf;
struct fw_sandbox;

/* src/sandbox_user.c */
int	sandbox_user_add(struct sandbox_cmdlist *, int, const char *, uid_t,
	    const char *, const char *, const char *);
int	sandbox_user_del(struct sandbox_cmdlist *, int, const char *);

#endif /* SANDBOX_USER_H */
