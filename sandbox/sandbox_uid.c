/*
 * sandbox_uid.c: what belongs to a uid on the host, beyond its user and
 * home.  A sandbox leaves files in the shared temporary directories and
 * System V IPC objects; rm removes them, and a uid is handed to a new
 * sandbox only when nothing on the host belongs to it any more, so that
 * no tenant finds what a former one left.
 *
 * The temporary directories are walked without following links or
 * crossing into other file systems.  Linux lists the IPC objects in
 * /proc/sysvipc; elsewhere they are not seen.
 */

#include <sys/types.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>

#include <errno.h>
#include <fts.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "config.h"
#include "log.h"
#include "sbxd.h"
#include "sandbox.h"

#define SANDBOX_FIND	"/usr/bin/find"

/* Where any user may leave files. */
static const char *sandbox_tmpdirs[] = {
	"/tmp", "/var/tmp", "/dev/shm", "/dev/mqueue"
};

/* The System V IPC kinds: /proc/sysvipc file, id and uid columns. */
static const struct {
	const char	*name;
	int		 idcol;		/* 0-based */
	int		 uidcol;	/* owner; the creator follows at +2 */
} sandbox_ipc[] = {
	{ "shm", 1, 7 },
	{ "msg", 1, 7 },
	{ "sem", 1, 4 },
};

static void	sandbox_uid_mark(struct sandbox_uidset *, uid_t, const char *,
		    const char *);
static void	sandbox_uid_files(struct sandbox_uidset *);
static void	sandbox_uid_proccb(const char *, const uid_t [3], void *);
static int	sandbox_uid_ipc(struct sandbox_uidset *, uid_t, int);

/*
 * Mark every uid of [us_min, us_max] that something on the host belongs
 * to: a process, a file in a temporary directory, an IPC object.  The
 * first thing found for each is kept, to say why.
 */
int
sandbox_uid_scan(struct sandbox_uidset *us, uid_t min, uid_t max)
{
	memset(us, 0, sizeof(*us));
	us->us_min = min;
	us->us_max = max;
	if ((us->us_why = calloc((size_t)(max - min) + 1,
	    sizeof(*us->us_why))) == NULL)
		return (-1);
	(void)job_proc_walk(sandbox_uid_proccb, us);
	sandbox_uid_files(us);
	(void)sandbox_uid_ipc(us, 0, 0);
	return (0);
}

void
sandbox_uid_scan_free(struct sandbox_uidset *us)
{
	size_t	 i;

	if (us->us_why == NULL)
		return;
	for (i = 0; i <= (size_t)(us->us_max - us->us_min); i++)
		free(us->us_why[i]);
	free(us->us_why);
	us->us_why = NULL;
}

/* What uid holds, as found by the scan, or NULL if nothing. */
const char *
sandbox_uid_held(const struct sandbox_uidset *us, uid_t uid)
{
	if (us->us_why == NULL || uid < us->us_min || uid > us->us_max)
		return (NULL);
	return (us->us_why[uid - us->us_min]);
}

static void
sandbox_uid_mark(struct sandbox_uidset *us, uid_t uid, const char *what,
    const char *where)
{
	char	**w;

	if (uid < us->us_min || uid > us->us_max)
		return;
	w = &us->us_why[uid - us->us_min];
	if (*w == NULL && asprintf(w, "%s %s", what, where) == -1)
		*w = NULL;
	us->us_found++;
}

/* Files, directories, links and sockets in the temporary directories. */
static void
sandbox_uid_files(struct sandbox_uidset *us)
{
	char		*paths[nitems(sandbox_tmpdirs) + 1];
	struct stat	 st;
	FTS		*fts;
	FTSENT		*e;
	size_t		 i, n = 0;

	for (i = 0; i < nitems(sandbox_tmpdirs); i++)
		if (lstat(sandbox_tmpdirs[i], &st) == 0 && S_ISDIR(st.st_mode))
			paths[n++] = (char *)sandbox_tmpdirs[i];
	paths[n] = NULL;
	if (n == 0)
		return;
	if ((fts = fts_open(paths, FTS_PHYSICAL | FTS_XDEV | FTS_NOCHDIR,
	    NULL)) == NULL) {
		log_warn("sandbox: walking the temporary directories");
		return;
	}
	while ((e = fts_read(fts)) != NULL) {
		if (e->fts_info == FTS_DP || e->fts_info == FTS_NS ||
		    e->fts_info == FTS_ERR || e->fts_info == FTS_DNR ||
		    e->fts_level == 0)
			continue;
		sandbox_uid_mark(us, e->fts_statp->st_uid, "owns",
		    e->fts_path);
	}
	fts_close(fts);
}

/* Processes, by their real, effective or saved uid. */
static void
sandbox_uid_proccb(const char *pid, const uid_t ids[3], void *arg)
{
	char	 what[64];
	int	 i;

	snprintf(what, sizeof(what), "process %s", pid);
	for (i = 0; i < 3; i++)
		sandbox_uid_mark(arg, ids[i], "runs", what);
}

/*
 * The System V IPC objects whose owner or creator is in the set (us
 * not NULL), or remove those of uid (us NULL, remove set).  Returns how
 * many were removed, or -1 if one could not be.
 */
static int
sandbox_uid_ipc(struct sandbox_uidset *us, uid_t uid, int remove)
{
#ifdef __linux__
	FILE		*fp;
	char		 path[64], line[512], what[64], *f[16], *p;
	unsigned long	 owner, creator;
	size_t		 i;
	int		 nf, id, n = 0, failed = 0, r;

	for (i = 0; i < nitems(sandbox_ipc); i++) {
		snprintf(path, sizeof(path), "/proc/sysvipc/%s",
		    sandbox_ipc[i].name);
		if ((fp = fopen(path, "re")) == NULL)
			continue;
		/* The first line names the columns. */
		if (fgets(line, sizeof(line), fp) == NULL) {
			fclose(fp);
			continue;
		}
		while (fgets(line, sizeof(line), fp) != NULL) {
			nf = 0;
			for (p = strtok(line, " \t\n"); p != NULL && nf < 16;
			    p = strtok(NULL, " \t\n"))
				f[nf++] = p;
			if (nf <= sandbox_ipc[i].uidcol + 2)
				continue;
			id = atoi(f[sandbox_ipc[i].idcol]);
			owner = strtoul(f[sandbox_ipc[i].uidcol], NULL, 10);
			creator = strtoul(f[sandbox_ipc[i].uidcol + 2], NULL,
			    10);
			if (!remove) {
				snprintf(what, sizeof(what), "System V %s %d",
				    sandbox_ipc[i].name, id);
				sandbox_uid_mark(us, owner, "owns", what);
				sandbox_uid_mark(us, creator, "made", what);
				continue;
			}
			if (owner != uid && creator != uid)
				continue;
			if (i == 0)
				r = shmctl(id, IPC_RMID, NULL);
			else if (i == 1)
				r = msgctl(id, IPC_RMID, NULL);
			else
				r = semctl(id, 0, IPC_RMID);
			if (r == -1 && errno != EINVAL && errno != EIDRM) {
				log_warn("sandbox: uid %u: System V %s %d",
				    (unsigned)uid, sandbox_ipc[i].name, id);
				failed = 1;
			} else
				n++;
		}
		fclose(fp);
	}
	return (failed ? -1 : n);
#else
	(void)us;
	(void)uid;
	(void)remove;
	return (0);
#endif
}

/* Remove the System V IPC objects uid owns or made; -1 if one stays. */
int
sandbox_uid_ipc_remove(uid_t uid)
{
	int	 n;

	if ((n = sandbox_uid_ipc(NULL, uid, 1)) > 0)
		log_info("sandbox: uid %u: %d System V IPC objects removed",
		    (unsigned)uid, n);
	return (n == -1 ? -1 : 0);
}

/*
 * The same, from the engine: root removes them (the engine may not);
 * a failure is logged.
 */
void
sandbox_ipc_remove(uid_t uid)
{
	json_t	*r;
	char	 err[256];

	if (!priv_on()) {
		(void)sandbox_uid_ipc_remove(uid);
		return;
	}
	if ((r = priv_call("ipc", json_pack("{s:I}", "uid", (json_int_t)uid),
	    NULL, NULL, err, sizeof(err))) == NULL)
		log_warnx("sandbox: uid %u: System V IPC: %s", (unsigned)uid,
		    err);
	json_decref(r);
}

/*
 * Add to cl the removal of what uid owns in the temporary directories:
 * find(1) deletes depth first, never following a link or leaving the
 * file system; a directory of the uid that holds another user's files
 * stays, and keeps the uid from being reused.
 */
int
sandbox_uid_files_cmds(struct sandbox_cmdlist *cl, uid_t uid)
{
	struct stat	 st;
	char		 u[24];
	size_t		 i;

	snprintf(u, sizeof(u), "%lu", (unsigned long)uid);
	for (i = 0; i < nitems(sandbox_tmpdirs); i++) {
		if (lstat(sandbox_tmpdirs[i], &st) == -1 ||
		    !S_ISDIR(st.st_mode))
			continue;
		if (sandbox_cmd_add(cl, SANDBOX_CMD_MAYFAIL, SANDBOX_FIND,
		    sandbox_tmpdirs[i], "-xdev", "-mindepth", "1", "-user", u,
		    "-delete", (char *)NULL) == NULL)
			return (-1);
	}
	return (0);
}
