/*
 * sandbox_user.c: the commands that create and delete the OS user a
 * sandbox runs as, sbx-NAME with a group of the same name and id, for
 * Linux (shadow's useradd) and macOS (Directory Services).  The user
 * has no password anyone can log in with and no supplementary groups;
 * the daemon creates and removes the home directory itself.  Nothing
 * here runs a command: the lists go to the runner, and the arguments
 * are checked first because they end up in passwd and in the directory.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "sbxd.h"
#include "sandbox.h"

#define SANDBOX_USERADD		"/usr/sbin/useradd"
#define SANDBOX_USERDEL		"/usr/sbin/userdel"
#define SANDBOX_GROUPDEL	"/usr/sbin/groupdel"
#define SANDBOX_DSCL		"/usr/bin/dscl"
#define SANDBOX_DSEDITGROUP	"/usr/sbin/dseditgroup"
#define SANDBOX_UID_NOBODY	65534U	/* Linux nobody: never a sandbox */
#define SANDBOX_COMMENT_MAX	64	/* GECOS / RealName */
#define SANDBOX_USER_IDLEN	16	/* a uid in decimal, and its NUL */

static int	sandbox_user_name_ok(const char *);
static int	sandbox_user_comment_ok(const char *);
static void	sandbox_user_add_linux(struct sandbox_cmdlist *, const char *,
		    const char *, const char *, const char *, const char *);
static void	sandbox_user_add_macos(struct sandbox_cmdlist *, const char *,
		    const char *, const char *, const char *, const char *);

/* sbx- and 1 to SANDBOX_NAME_MAX of [a-z0-9-], not starting with '-'. */
static int
sandbox_user_name_ok(const char *user)
{
	size_t		 plen = strlen(SANDBOX_USER_PREFIX), n;
	const char	*p;

	if (user == NULL || strncmp(user, SANDBOX_USER_PREFIX, plen) != 0)
		return (0);
	p = user + plen;
	n = strlen(p);
	if (n < 1 || n > SANDBOX_NAME_MAX || *p == '-')
		return (0);
	return (strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789-") == n);
}

/* Printable ASCII without ':' (the passwd separator); may be NULL. */
static int
sandbox_user_comment_ok(const char *comment)
{
	const char	*p;

	if (comment == NULL)
		return (1);
	if (strlen(comment) > SANDBOX_COMMENT_MAX)
		return (0);
	for (p = comment; *p != '\0'; p++)
		if (*p < 0x20 || *p > 0x7e || *p == ':')
			return (0);
	return (1);
}

/*
 * Create user with uid (SANDBOX_UID_MIN to SANDBOX_UID_LIMIT), a group
 * of the same name, home (made by the caller), shell and comment (NULL
 * or "": none).
 */
int
sandbox_user_add(struct sandbox_cmdlist *cl, int os, const char *user,
    uid_t uid, const char *home, const char *shell, const char *comment)
{
	char	 id[SANDBOX_USER_IDLEN];

	if (!sandbox_user_name_ok(user) || uid < SANDBOX_UID_MIN ||
	    uid == SANDBOX_UID_NOBODY || uid > SANDBOX_UID_LIMIT ||
	    !config_path_ok(home) || !config_path_ok(shell) ||
	    !sandbox_user_comment_ok(comment))
		return (-1);
	if (comment != NULL && *comment == '\0')
		comment = NULL;
	snprintf(id, sizeof(id), "%lu", (unsigned long)uid);
	switch (os) {
	case SANDBOX_OS_LINUX:
		sandbox_user_add_linux(cl, user, id, home, shell, comment);
		return (0);
	case SANDBOX_OS_MACOS:
		sandbox_user_add_macos(cl, user, id, home, shell, comment);
		return (0);
	}
	return (-1);
}

/*
 * useradd leaves the password locked ("!" in shadow) unless given -p,
 * and adds no supplementary groups unless given -G.  -U makes the user
 * group (shadow 4.13 gives it the next free gid, not the uid); -M as
 * the daemon makes the home; -l keeps large uids out of lastlog and
 * faillog, which would otherwise grow sparse up to the uid's offset.
 * A uid above login.defs' UID_MAX only draws a warning.
 */
static void
sandbox_user_add_linux(struct sandbox_cmdlist *cl, const char *user,
    const char *id, const char *home, const char *shell, const char *comment)
{
	if (comment != NULL)
		sandbox_cmd_add(cl, 0, SANDBOX_USERADD, "-u", id, "-U", "-d",
		    home, "-M", "-s", shell, "-l", "-c", comment, user, NULL);
	else
		sandbox_cmd_add(cl, 0, SANDBOX_USERADD, "-u", id, "-U", "-d",
		    home, "-M", "-s", shell, "-l", user, NULL);
}

/*
 * The group first (gid = uid), then the user record attribute by
 * attribute.  Password "*" and no AuthenticationAuthority: no password
 * can ever match.  IsHidden keeps it off the login window.
 */
static void
sandbox_user_add_macos(struct sandbox_cmdlist *cl, const char *user,
    const char *id, const char *home, const char *shell, const char *comment)
{
	char	*rec;

	xasprintf(&rec, "/Users/%s", user);
	sandbox_cmd_add(cl, 0, SANDBOX_DSEDITGROUP, "-o", "create", "-i", id,
	    "-r", comment != NULL ? comment : user, user, NULL);
	sandbox_cmd_add(cl, 0, SANDBOX_DSCL, ".", "-create", rec, NULL);
	sandbox_cmd_add(cl, 0, SANDBOX_DSCL, ".", "-create", rec, "UniqueID",
	    id, NULL);
	sandbox_cmd_add(cl, 0, SANDBOX_DSCL, ".", "-create", rec,
	    "PrimaryGroupID", id, NULL);
	sandbox_cmd_add(cl, 0, SANDBOX_DSCL, ".", "-create", rec,
	    "NFSHomeDirectory", home, NULL);
	sandbox_cmd_add(cl, 0, SANDBOX_DSCL, ".", "-create", rec, "UserShell",
	    shell, NULL);
	sandbox_cmd_add(cl, 0, SANDBOX_DSCL, ".", "-create", rec, "RealName",
	    comment != NULL ? comment : user, NULL);
	sandbox_cmd_add(cl, 0, SANDBOX_DSCL, ".", "-create", rec, "Password",
	    "*", NULL);
	sandbox_cmd_add(cl, 0, SANDBOX_DSCL, ".", "-create", rec, "IsHidden",
	    "1", NULL);
	free(rec);
}

/*
 * Delete user and its group, not its home (the daemon removes that).
 * userdel already drops the user group where USERGROUPS_ENAB is set,
 * so groupdel may find nothing to do.
 */
int
sandbox_user_del(struct sandbox_cmdlist *cl, int os, const char *user)
{
	char	*rec;

	if (!sandbox_user_name_ok(user))
		return (-1);
	switch (os) {
	case SANDBOX_OS_LINUX:
		sandbox_cmd_add(cl, 0, SANDBOX_USERDEL, user, NULL);
		sandbox_cmd_add(cl, SANDBOX_CMD_MAYFAIL, SANDBOX_GROUPDEL,
		    user, NULL);
		return (0);
	case SANDBOX_OS_MACOS:
		xasprintf(&rec, "/Users/%s", user);
		sandbox_cmd_add(cl, 0, SANDBOX_DSCL, ".", "-delete", rec,
		    NULL);
		sandbox_cmd_add(cl, 0, SANDBOX_DSEDITGROUP, "-o", "delete",
		    user, NULL);
		free(rec);
		return (0);
	}
	return (-1);
}
