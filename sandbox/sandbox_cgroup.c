/*
 * sandbox_cgroup.c: the resource limits of sandboxes.  Each sandbox has
 * a cgroup of its own, sbx-NAME.scope, under the parent that "sandbox
 * cgroup" names (by default /sbxd.slice: a slice of its own beside
 * systemd's system.slice and user.slice), with the memory, pids and cpu
 * controllers; "sandbox limits" gives memory.max, pids.max and
 * cpu.weight.  Every job run as a sandbox's user joins it before it
 * gives up root (sandbox_user_job, src/job.c), so that whatever a
 * sandbox starts stays inside; rm kills what is left in it and removes
 * it.
 *
 * cgroup v2 is the layout this is made for.  sbxd creates the parent
 * and enables the controllers on the way down from the root of the
 * hierarchy; cgroup v2 gives a cgroup's children controllers only while
 * it holds no process of its own (the root excepted), and the parent
 * never does.  A host that still binds the controllers to cgroup v1
 * hierarchies (a "hybrid" host) gets the same path in each of the
 * memory, pids, cpu and cpuacct hierarchies, with the v1 files.  Where
 * neither works, the reason is logged at start and shown by status and
 * doctor; sbxd refuses to start only when the configuration asks for
 * the limits with a line of its own.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"
#include "log.h"
#include "sbxd.h"
#include "sandbox.h"

#define CG_ROOT		"/sys/fs/cgroup"	/* where cgroup file systems are
					   mounted */
#define CG_MOUNTINFO		"/proc/self/mountinfo"
#define CG_PREFIX		"sbx-"		/* sbx-NAME.scope, as the user */
#define CG_SUFFIX		".scope"
#define CG_FIELDS_MAX		32	/* words of one mountinfo line */
#define CG_LINE_MAX		4096	/* a mountinfo line, a cgroup file */
#define CG_V1_SHARES_MIN	2	/* cpu.shares' range */
#define CG_V1_SHARES_MAX	262144

/* The controllers, and the v1 hierarchies that may hold them. */
enum cg_ctl {
	CG_MEMORY,
	CG_PIDS,
	CG_CPU,
	CG_CPUACCT,	/* v1 only, for the CPU time; optional */
	CG_NCTL
};

enum cg_state {
	CG_OFF,		/* sandbox limits off */
	CG_ON,
	CG_DOWN		/* the host cannot: cg_error says why */
};

static const char	*cg_ctl_names[CG_NCTL] = {
	"memory", "pids", "cpu", "cpuacct"
};
static const char	*cg_state_names[] = { "off", "on", "unavailable" };

static const char	*cg_mountinfo = CG_MOUNTINFO;
static enum cg_state	 cg_state;
static int		 cg_version;		/* 1 or 2, when on */
static char		*cg_parent[CG_NCTL];	/* the parent's directory,
						   per controller */
static char		*cg_path;		/* the parent, as configured */
static char		 cg_error[512];
static int		 cg_required;		/* a limits line was given */
static uint64_t		 cg_memory;		/* the limits; 0: none */
static int		 cg_processes;
static int		 cg_cpu_weight;

static int	cg_find(char **, char **, char *, size_t);
static int	cg_choose(const char *, char **, char *, size_t);
static int	cg_mountinfo_line(char *, char **, char **);
static void	cg_unescape(char *);
static int	cg_has(const char *, const char *, char);
static int	cg_prepare_v2(const char *, const char *, char *, size_t);
static int	cg_enable(const char *, char *, size_t);
static int	cg_prepare_v1(char **, const char *, char *, size_t);
static int	cg_mkdir(const char *, char *, size_t);
static int	cg_priv(const char *, const char *, const char *,
		    const char *, char *, size_t);
static void	cg_limits_set(const struct sandbox_conf *);
static int	cg_dir(const struct sandbox *, int, char *, size_t);
static int	cg_apply(const struct sandbox *, char *, size_t);
static int	cg_write(const char *, const char *, const char *, int,
		    char *, size_t);
static int	cg_read(const char *, const char *, char *, size_t);
static int	cg_number(const struct sandbox *, int, const char *,
		    const char *, long long *);
static json_t	*cg_usage(const struct sandbox *);
static void	cg_usage_add(json_t *, const char *, int, long long);

/*
 * Find the controllers and make the parent; say what limits apply.  -1
 * only when a limits line asks for them and the host cannot apply them.
 */
int
sandbox_cgroup_init(const struct sandbox_conf *sbc)
{
	char	*v2 = NULL, *v1[CG_NCTL] = { NULL, NULL, NULL, NULL };
	int	 i, r = 0;

	cg_limits_set(sbc);
	cg_required = sbc->sbc_limits == SANDBOX_LIMITS_SET;
	cg_path = xstrdup(sbc->sbc_cgroup);
	*cg_error = '\0';
	if (sbc->sbc_limits == SANDBOX_LIMITS_OFF) {
		cg_state = CG_OFF;
		log_info("sandbox: limits off");
		return (0);
	}
	cg_state = CG_DOWN;
	if ((cg_version = cg_find(&v2, v1, cg_error, sizeof(cg_error))) == 2)
		r = cg_prepare_v2(v2, cg_path, cg_error, sizeof(cg_error));
	else if (cg_version == 1)
		r = cg_prepare_v1(v1, cg_path, cg_error, sizeof(cg_error));
	free(v2);
	for (i = 0; i < CG_NCTL; i++)
		free(v1[i]);
	if (cg_version != 0 && r == 0) {
		cg_state = CG_ON;
		log_info("sandbox: limits through cgroup v%d, under %s",
		    cg_version, cg_parent[CG_MEMORY]);
		return (0);
	}
	cg_version = 0;
	for (i = 0; i < CG_NCTL; i++) {
		free(cg_parent[i]);
		cg_parent[i] = NULL;
	}
	if (cg_required) {
		log_warnx("sandbox limits cannot be applied: %s", cg_error);
		return (-1);
	}
	log_warnx("sandbox: no resource limits: %s", cg_error);
	return (0);
}

/*
 * The mounts of the cgroup file systems: a cgroup2 one that offers
 * memory, pids and cpu (returns 2, its directory in *v2), or else v1
 * hierarchies with them (returns 1, a directory per controller in v1).
 * 0 with why in err when there is neither.
 */
static int
cg_find(char **v2, char **v1, char *err, size_t errlen)
{
	FILE		*fp;
	char		 line[CG_LINE_MAX], *dir, *opts;
	int		 i, type;

	if ((fp = fopen(cg_mountinfo, "re")) == NULL) {
		util_err(err, errlen, "%s: %s", cg_mountinfo, strerror(errno));
		return (0);
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		if ((type = cg_mountinfo_line(line, &dir, &opts)) == 2 &&
		    *v2 == NULL)
			*v2 = xstrdup(dir);
		for (i = 0; type == 1 && i < CG_NCTL; i++)
			if (v1[i] == NULL && cg_has(opts, cg_ctl_names[i], ','))
				v1[i] = xstrdup(dir);
	}
	fclose(fp);
	return (cg_choose(*v2, v1, err, errlen));
}

/* v2 if it offers the three controllers, else v1 if it has them. */
static int
cg_choose(const char *v2, char **v1, char *err, size_t errlen)
{
	char	 ctls[CG_LINE_MAX], miss2[64], miss1[64];
	int	 i;

	*miss1 = *miss2 = '\0';
	if (v2 == NULL || cg_read(v2, "cgroup.controllers", ctls,
	    sizeof(ctls)) == -1)
		*ctls = '\0';
	for (i = 0; i < CG_CPUACCT; i++) {
		if (v2 == NULL || !cg_has(ctls, cg_ctl_names[i], ' '))
			snprintf(miss2 + strlen(miss2), sizeof(miss2) -
			    strlen(miss2), " %s", cg_ctl_names[i]);
		if (v1[i] == NULL)
			snprintf(miss1 + strlen(miss1), sizeof(miss1) -
			    strlen(miss1), " %s", cg_ctl_names[i]);
	}
	if (v2 != NULL && *miss2 == '\0')
		return (2);
	if (*miss1 == '\0')
		return (1);
	if (v2 == NULL && v1[CG_MEMORY] == NULL && v1[CG_PIDS] == NULL &&
	    v1[CG_CPU] == NULL)
		util_err(err, errlen, "no cgroup file system with the memory, "
		    "pids and cpu controllers is mounted (%s)", cg_mountinfo);
	else if (v2 != NULL)
		util_err(err, errlen, "cgroup v2 at %s lacks the controllers"
		    "%s (it offers \"%s\"), and no cgroup v1 hierarchy has%s",
		    v2, miss2, ctls, miss1);
	else
		util_err(err, errlen, "no cgroup v2 is mounted, and no cgroup "
		    "v1 hierarchy has%s", miss1);
	return (0);
}

/*
 * One line of mountinfo: 2 for cgroup2, 1 for a cgroup v1 hierarchy
 * (opts: its super options, which name its controllers), else 0; dir is
 * the mount point.  Fields: id parent dev root point options [tags] -
 * type source super-options.
 */
static int
cg_mountinfo_line(char *line, char **dir, char **opts)
{
	char	*f[CG_FIELDS_MAX], *p, *last;
	int	 n = 0, i;

	for (p = strtok_r(line, " \n", &last); p != NULL && n < CG_FIELDS_MAX;
	    p = strtok_r(NULL, " \n", &last))
		f[n++] = p;
	for (i = 6; i < n && strcmp(f[i], "-") != 0; i++)
		;	/* the optional tags */
	if (n < 5 || i + 3 >= n)
		return (0);
	*dir = f[4];
	*opts = f[i + 3];
	cg_unescape(*dir);
	if (strcmp(f[i + 1], "cgroup2") == 0)
		return (2);
	if (strcmp(f[i + 1], "cgroup") == 0)
		return (1);
	return (0);
}

/* mountinfo writes a blank, tab, newline or backslash as \ooo. */
static void
cg_unescape(char *s)
{
	char	*d = s;

	for (; *s != '\0'; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*d++ = (s[1] - '0') << 6 | (s[2] - '0') << 3 |
			    (s[3] - '0');
			s += 3;
		} else
			*d++ = *s;
	}
	*d = '\0';
}

/* Whether list, words separated by sep, holds word. */
static int
cg_has(const char *list, const char *word, char sep)
{
	size_t		 len = strlen(word);
	const char	*p;

	for (p = list; (p = strstr(p, word)) != NULL; p += len)
		if ((p == list || p[-1] == sep) && (p[len] == '\0' ||
		    p[len] == sep || p[len] == '\n'))
			return (1);
	return (0);
}

/*
 * cgroup v2: from the root of the hierarchy down to the parent, each
 * cgroup made and its children given memory, pids and cpu.
 */
static int
cg_prepare_v2(const char *root, const char *path, char *err, size_t errlen)
{
	char		 dir[PATH_MAX];
	const char	*p;
	size_t		 n;
	int		 i;

	if (snprintf(dir, sizeof(dir), "%s", root) >= (int)sizeof(dir) ||
	    cg_enable(dir, err, errlen) == -1)
		return (-1);
	for (p = path + 1; *p != '\0'; p += n + (p[n] == '/')) {
		n = strcspn(p, "/");
		if (strlen(dir) + 1 + n >= sizeof(dir))
			return (util_err(err, errlen, "%s%s: too long", root,
			    path));
		snprintf(dir + strlen(dir), sizeof(dir) - strlen(dir), "/%.*s",
		    (int)n, p);
		if (cg_mkdir(dir, err, errlen) == -1 ||
		    cg_enable(dir, err, errlen) == -1)
			return (-1);
	}
	for (i = 0; i < CG_NCTL; i++)
		cg_parent[i] = i == CG_CPUACCT ? NULL : xstrdup(dir);
	return (0);
}

/*
 * Give the children of dir the controllers it does not give them yet,
 * one by one, so that an error names the one that failed.
 */
static int
cg_enable(const char *dir, char *err, size_t errlen)
{
	char	 on[CG_LINE_MAX], word[16];
	int	 i;

	if (cg_read(dir, "cgroup.subtree_control", on, sizeof(on)) == -1)
		return (util_err(err, errlen, "%s/cgroup.subtree_control: %s",
		    dir, strerror(errno)));
	for (i = 0; i < CG_CPUACCT; i++) {
		if (cg_has(on, cg_ctl_names[i], ' '))
			continue;
		snprintf(word, sizeof(word), "+%s", cg_ctl_names[i]);
		if (cg_write(dir, "cgroup.subtree_control", word, 0, err,
		    errlen) == 0)
			continue;
		if (errno == EBUSY)
			snprintf(err + strlen(err), errlen - strlen(err),
			    " (the cgroup holds processes, and cgroup v2 "
			    "gives controllers only to the children of a "
			    "cgroup without any: move them to a cgroup of "
			    "their own, or name another parent with sandbox "
			    "cgroup)");
		else if (errno == EPERM || errno == EACCES)
			snprintf(err + strlen(err), errlen - strlen(err),
			    " (sbxd needs root; the root of a cgroup "
			    "namespace is its owner's to change)");
		return (-1);
	}
	return (0);
}

/* cgroup v1: the parent in each hierarchy, cpuacct if there is one. */
static int
cg_prepare_v1(char **v1, const char *path, char *err, size_t errlen)
{
	char	 dir[PATH_MAX];
	char	*p;
	int	 i;

	for (i = 0; i < CG_NCTL; i++) {
		if (v1[i] == NULL)
			continue;
		if (snprintf(dir, sizeof(dir), "%s%s", v1[i], path) >=
		    (int)sizeof(dir))
			return (util_err(err, errlen, "%s%s: too long", v1[i],
			    path));
		for (p = dir + strlen(v1[i]) + 1; (p = strchr(p, '/')) != NULL;
		    p++) {
			*p = '\0';
			if (cg_mkdir(dir, err, errlen) == -1)
				return (-1);
			*p = '/';
		}
		if (cg_mkdir(dir, err, errlen) == -1)
			return (-1);
		cg_parent[i] = xstrdup(dir);
	}
	return (0);
}

static int
cg_mkdir(const char *dir, char *err, size_t errlen)
{
	if (priv_on())
		return (cg_priv("mkdir", dir, NULL, NULL, err, errlen));
	if (mkdir(dir, 0755) == -1 && errno != EEXIST)
		return (util_err(err, errlen, "mkdir %s: %s", dir,
		    strerror(errno)));
	return (0);
}

static void
cg_limits_set(const struct sandbox_conf *sbc)
{
	cg_memory = sbc->sbc_memory;
	cg_processes = sbc->sbc_processes;
	cg_cpu_weight = sbc->sbc_cpu_weight;
}

/*
 * Before a reload: a limits line where the running daemon found no way
 * to apply limits would keep it from starting again.
 */
int
sandbox_cgroup_check(const struct sandbox_conf *sbc, json_t *errors)
{
	if (sbc->sbc_limits != SANDBOX_LIMITS_SET || cg_state != CG_DOWN)
		return (0);
	json_array_append_new(errors, json_sprintf("%s: sandbox limits cannot "
	    "be applied: %s", sbxd_env->sx_conffile, cg_error));
	return (-1);
}

/*
 * Reload: the new limits, which sandbox_cgroup_update then writes into
 * each sandbox's cgroup.  Turning them on or off and another parent
 * take a restart.
 */
void
sandbox_cgroup_reload(const struct sandbox_conf *sbc)
{
	if ((sbc->sbc_limits == SANDBOX_LIMITS_OFF) != (cg_state == CG_OFF))
		log_warnx("sandbox: turning the limits %s takes a restart",
		    cg_state == CG_OFF ? "on" : "off");
	if (strcmp(sbc->sbc_cgroup, cg_path) != 0)
		log_warnx("sandbox: another cgroup takes a restart");
	if (cg_state == CG_OFF || sbc->sbc_limits == SANDBOX_LIMITS_OFF)
		return;
	cg_required = sbc->sbc_limits == SANDBOX_LIMITS_SET;
	cg_limits_set(sbc);
}

/* At exit: the cgroups stay, with what runs in them. */
void
sandbox_cgroup_shutdown(void)
{
	int	 i;

	for (i = 0; i < CG_NCTL; i++) {
		free(cg_parent[i]);
		cg_parent[i] = NULL;
	}
	free(cg_path);
	cg_path = NULL;
	cg_state = CG_OFF;
	cg_version = 0;
}

/* Read the mounts from path (kept, not copied), for the unit tests. */
void
sandbox_cgroup_mountinfo(const char *path)
{
	cg_mountinfo = path != NULL ? path : CG_MOUNTINFO;
}

/*
 * sb's directory for controller ctl, in buf; -1 if there is none (no
 * cgroups, or no cpuacct hierarchy).
 */
static int
cg_dir(const struct sandbox *sb, int ctl, char *buf, size_t len)
{
	int	 n;

	if (cg_state != CG_ON || cg_parent[ctl] == NULL)
		return (-1);
	n = snprintf(buf, len, "%s/%s%s%s", cg_parent[ctl], CG_PREFIX,
	    sb->sb_name, CG_SUFFIX);
	return (n < 0 || (size_t)n >= len ? -1 : 0);
}

/*
 * Make sb's cgroup, or find it made, and write its limits; its
 * directories go to sb_cgroups, for its jobs to join.  0 without
 * cgroups too: the sandbox then has none.  -1 with err.
 */
int
sandbox_cgroup_create(struct sandbox *sb, char *err, size_t errlen)
{
	char	 dir[PATH_MAX];
	int	 i, j, n = 0;

	sandbox_cgroup_forget(sb);
	if (cg_state != CG_ON)
		return (0);
	for (i = 0; i < CG_NCTL; i++) {
		if (cg_dir(sb, i, dir, sizeof(dir)) == -1)
			continue;
		for (j = 0; j < n && strcmp(sb->sb_cgroups[j], dir) != 0; j++)
			;	/* cpu and cpuacct may share a hierarchy */
		if (j < n)
			continue;
		if (cg_mkdir(dir, err, errlen) == -1)
			goto fail;
		if ((sb->sb_cgroups[n] = strdup(dir)) == NULL) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		n++;
	}
	if (cg_apply(sb, err, errlen) == -1)
		goto fail;
	return (0);
fail:
	sandbox_cgroup_forget(sb);
	return (-1);
}

/*
 * Reload: sb's cgroup made again if it went, and the limits written
 * anew.  A failure leaves sb's directories known, so that its jobs
 * still join them, or do not start.
 */
int
sandbox_cgroup_update(const struct sandbox *sb, char *err, size_t errlen)
{
	int	 i;

	for (i = 0; i < SANDBOX_CGROUP_DIRS && sb->sb_cgroups[i] != NULL; i++)
		if (cg_mkdir(sb->sb_cgroups[i], err, errlen) == -1)
			return (-1);
	if (sb->sb_cgroups[0] == NULL)
		return (0);
	return (cg_apply(sb, err, errlen));
}

/* Forget sb's directories; the cgroups stay. */
void
sandbox_cgroup_forget(struct sandbox *sb)
{
	int	 i;

	for (i = 0; i < SANDBOX_CGROUP_DIRS && sb->sb_cgroups[i] != NULL;
	    i++) {
		free(sb->sb_cgroups[i]);
		sb->sb_cgroups[i] = NULL;
	}
}

/*
 * The limits into sb's cgroup.  cgroup v2: memory.max, and no swap,
 * so that the limit holds (memory.swap.max, where the kernel swaps);
 * pids.max; cpu.weight.  v1: memory.limit_in_bytes, pids.max, and
 * cpu.shares, the weight scaled as 100 is to 1024.
 */
static int
cg_apply(const struct sandbox *sb, char *err, size_t errlen)
{
	char	 mem[PATH_MAX], pids[PATH_MAX], cpu[PATH_MAX], v[32], sw[32];
	long	 shares;

	if (cg_dir(sb, CG_MEMORY, mem, sizeof(mem)) == -1 ||
	    cg_dir(sb, CG_PIDS, pids, sizeof(pids)) == -1 ||
	    cg_dir(sb, CG_CPU, cpu, sizeof(cpu)) == -1) {
		snprintf(err, errlen, "no cgroup");
		return (-1);
	}
	if (cg_version == 2) {
		snprintf(v, sizeof(v), "%llu", (unsigned long long)cg_memory);
		snprintf(sw, sizeof(sw), "%s", cg_memory > 0 ? "0" : "max");
		if (cg_write(mem, "memory.max", cg_memory > 0 ? v : "max", 0,
		    err, errlen) == -1 || cg_write(mem, "memory.swap.max", sw,
		    1, err, errlen) == -1)
			return (-1);
		snprintf(v, sizeof(v), "%d", cg_cpu_weight);
		if (cg_write(cpu, "cpu.weight", v, 0, err, errlen) == -1)
			return (-1);
	} else {
		snprintf(v, sizeof(v), "%llu", (unsigned long long)cg_memory);
		if (cg_write(mem, "memory.limit_in_bytes", cg_memory > 0 ? v :
		    "-1", 0, err, errlen) == -1)
			return (-1);
		shares = (long)cg_cpu_weight * 1024 / 100;
		if (shares < CG_V1_SHARES_MIN)
			shares = CG_V1_SHARES_MIN;
		if (shares > CG_V1_SHARES_MAX)
			shares = CG_V1_SHARES_MAX;
		snprintf(v, sizeof(v), "%ld", shares);
		if (cg_write(cpu, "cpu.shares", v, 0, err, errlen) == -1)
			return (-1);
	}
	snprintf(v, sizeof(v), "%d", cg_processes);
	return (cg_write(pids, "pids.max", cg_processes > 0 ? v : "max", 0,
	    err, errlen));
}

/* Write value to dir/file; a missing file is fine if optional. */
static int
cg_write(const char *dir, const char *file, const char *value, int optional,
    char *err, size_t errlen)
{
	char	 path[PATH_MAX];
	size_t	 len = strlen(value);
	int	 fd, saved;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (priv_on()) {
		if (cg_priv("write", dir, file, value, err, errlen) == 0 ||
		    (optional && errno == ENOENT))
			return (0);
		return (-1);
	}
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) == -1) {
		if (optional && errno == ENOENT)
			return (0);
		goto fail;
	}
	if (write(fd, value, len) != (ssize_t)len) {
		saved = errno;
		close(fd);
		errno = saved;
		goto fail;
	}
	close(fd);
	return (0);
fail:
	saved = errno;
	util_err(err, errlen, "%s: %s: %s", path, value, strerror(saved));
	errno = saved;
	return (-1);
}

/* The text of dir/file, without its last newline.  -1 with errno. */
static int
cg_read(const char *dir, const char *file, char *buf, size_t len)
{
	char	 path[PATH_MAX];
	ssize_t	 n;
	int	 fd, saved;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (-1);
	n = read(fd, buf, len - 1);
	saved = errno;
	close(fd);
	if (n == -1) {
		errno = saved;
		return (-1);
	}
	buf[n] = '\0';
	if (n > 0 && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	return (0);
}

/*
 * Kill whatever is left in sb's cgroup: what the stop of its uid could
 * not see, a process that changed its user with a set-user-ID program.
 * cgroup v2 kills it all at once (cgroup.kill, Linux 5.14); elsewhere
 * each process listed is sent SIGKILL.
 */
void
sandbox_cgroup_kill(const struct sandbox *sb)
{
	char	 dir[PATH_MAX], err[256];
	FILE	*fp;
	long	 pid;

	if (cg_dir(sb, CG_PIDS, dir, sizeof(dir)) == -1)
		return;
	if (cg_version == 2 && cg_write(dir, "cgroup.kill", "1", 0, err,
	    sizeof(err)) == 0)
		return;
	if (strlen(dir) + sizeof("/cgroup.procs") > sizeof(dir))
		return;
	strcat(dir, "/cgroup.procs");
	if ((fp = fopen(dir, "re")) == NULL)
		return;
	while (fscanf(fp, "%ld", &pid) == 1)
		if (pid > 1 && kill((pid_t)pid, SIGKILL) == -1 &&
		    errno != ESRCH)
			log_warn("sandbox %s: kill %ld", sb->sb_name, pid);
	fclose(fp);
}

/*
 * The engine: root makes, writes and removes cgroups.  -1 with errno
 * and err (if not NULL) when that failed or was refused (EPERM).
 */
static int
cg_priv(const char *action, const char *dir, const char *file,
    const char *value, char *err, size_t errlen)
{
	json_t	*r;
	char	 e[512];
	int	 no;

	if ((r = priv_call("cgroup", json_pack("{s:s, s:s, s:s*, s:s*}",
	    "action", action, "dir", dir, "file", file, "value", value),
	    NULL, NULL, e, sizeof(e))) == NULL) {
		if (err != NULL)
			util_err(err, errlen, "%s", e);
		errno = EPERM;
		return (-1);
	}
	no = (int)json_integer_value(json_object_get(r, "errno"));
	if (no != 0 && err != NULL)
		util_err(err, errlen, "%s %s%s%s: %s", action, dir,
		    file != NULL ? "/" : "", file != NULL ? file : "",
		    json_string_value(json_object_get(r, "message")));
	json_decref(r);
	errno = no;
	return (no != 0 ? -1 : 0);
}

/*
 * Remove sb's cgroup, in every hierarchy; one already gone is fine.
 * -1 with errno (EBUSY: processes are still in it).
 */
int
sandbox_cgroup_remove(struct sandbox *sb)
{
	char	 dir[PATH_MAX];
	int	 i, r = 0, saved = 0;

	for (i = 0; i < CG_NCTL; i++) {
		if (cg_dir(sb, i, dir, sizeof(dir)) == -1)
			continue;
		if (priv_on() ? cg_priv("rmdir", dir, NULL, NULL, NULL, 0) ==
		    -1 : rmdir(dir) == -1 && errno != ENOENT) {
			saved = errno;
			r = -1;
		}
	}
	if (r == 0)
		sandbox_cgroup_forget(sb);
	errno = saved;
	return (r);
}

/*
 * RLIMIT_NPROC for sb's jobs: the processes limit of a sandbox without
 * a cgroup, for its user, so that it holds there too.  With a cgroup,
 * pids.max holds it, and its counters say when it did.
 */
int
sandbox_cgroup_nproc(const struct sandbox *sb)
{
	if (cg_state == CG_OFF || sb->sb_cgroups[0] != NULL)
		return (0);
	return (cg_processes);
}

/*
 * A number from dir/file of controller ctl: the first word, or the one
 * after key on its line.  -1 when there is none.
 */
static int
cg_number(const struct sandbox *sb, int ctl, const char *file,
    const char *key, long long *v)
{
	char		 dir[PATH_MAX], buf[CG_LINE_MAX], *p = buf, *end;
	size_t		 klen;

	if (cg_dir(sb, ctl, dir, sizeof(dir)) == -1 ||
	    cg_read(dir, file, buf, sizeof(buf)) == -1)
		return (-1);
	if (key != NULL) {
		klen = strlen(key);
		for (p = buf; p != NULL; p = (p = strchr(p, '\n')) != NULL ?
		    p + 1 : NULL)
			if (strncmp(p, key, klen) == 0 && p[klen] == ' ')
				break;
		if (p == NULL)
			return (-1);
		p += klen + 1;
	}
	errno = 0;
	*v = strtoll(p, &end, 10);
	if (end == p || errno != 0 || *v < 0)
		return (-1);
	return (0);
}

static void
cg_usage_add(json_t *o, const char *key, int ok, long long v)
{
	json_object_set_new(o, key, ok ? json_integer(v) : json_null());
}

/*
 * What show adds: the limits (null when off), sb's cgroup directories,
 * and what it uses (null without a cgroup): memory now and at its peak,
 * processes (threads count), CPU time, the processes the OOM killer
 * took, and the forks pids.max refused.  Why there is no cgroup, when
 * the host has none to give.
 */
void
sandbox_cgroup_json(const struct sandbox *sb, json_t *o)
{
	json_t		*dirs = json_array();
	int		 i;

	json_object_set_new(o, "limits", cg_state == CG_OFF ? json_null() :
	    json_pack("{s:o, s:o, s:i}", "memory", cg_memory > 0 ?
	    json_integer((json_int_t)cg_memory) : json_null(), "processes",
	    cg_processes > 0 ? json_integer(cg_processes) : json_null(),
	    "cpu_weight", cg_cpu_weight));
	for (i = 0; i < SANDBOX_CGROUP_DIRS && sb->sb_cgroups[i] != NULL;
	    i++)
		json_array_append_new(dirs, json_string(sb->sb_cgroups[i]));
	json_object_set_new(o, "cgroups", dirs);
	if (cg_state == CG_DOWN)
		json_object_set_new(o, "limits_error", json_string(cg_error));
	json_object_set_new(o, "usage", sb->sb_cgroups[0] != NULL ?
	    cg_usage(sb) : json_null());
}

/* What sb's cgroup says it uses; a counter the kernel lacks is null. */
static json_t *
cg_usage(const struct sandbox *sb)
{
	json_t		*u = json_object();
	long long	 v;
	int		 ok, v2 = cg_version == 2;

	ok = cg_number(sb, CG_MEMORY, v2 ? "memory.current" :
	    "memory.usage_in_bytes", NULL, &v) == 0;
	cg_usage_add(u, "memory", ok, v);
	ok = cg_number(sb, CG_MEMORY, v2 ? "memory.peak" :
	    "memory.max_usage_in_bytes", NULL, &v) == 0;
	cg_usage_add(u, "memory_peak", ok, v);
	ok = cg_number(sb, CG_PIDS, "pids.current", NULL, &v) == 0;
	cg_usage_add(u, "processes", ok, v);
	ok = cg_number(sb, CG_PIDS, "pids.peak", NULL, &v) == 0;
	cg_usage_add(u, "processes_peak", ok, v);
	if (v2)
		ok = cg_number(sb, CG_CPU, "cpu.stat", "usage_usec", &v) == 0;
	else if ((ok = cg_number(sb, CG_CPUACCT, "cpuacct.usage", NULL,
	    &v) == 0))
		v /= 1000;
	cg_usage_add(u, "cpu_usec", ok, v);
	ok = cg_number(sb, CG_MEMORY, v2 ? "memory.events" :
	    "memory.oom_control", "oom_kill", &v) == 0;
	cg_usage_add(u, "oom_kills", ok, v);
	ok = cg_number(sb, CG_PIDS, "pids.events", "max", &v) == 0;
	cg_usage_add(u, "forks_refused", ok, v);
	return (u);
}

/* The limits in sbxctl status. */
json_t *
sandbox_cgroup_status(void)
{
	json_t	*o;

	o = json_pack("{s:s, s:b, s:s?}", "state", cg_state_names[cg_state],
	    "required", cg_required, "cgroup", cg_path);
	if (cg_state == CG_ON) {
		json_object_set_new(o, "version", json_integer(cg_version));
		json_object_set_new(o, "parent",
		    json_string(cg_parent[CG_MEMORY]));
	}
	if (cg_state == CG_DOWN)
		json_object_set_new(o, "error", json_string(cg_error));
	if (cg_state != CG_OFF) {
		json_object_set_new(o, "memory", cg_memory > 0 ?
		    json_integer((json_int_t)cg_memory) : json_null());
		json_object_set_new(o, "processes", cg_processes > 0 ?
		    json_integer(cg_processes) : json_null());
		json_object_set_new(o, "cpu_weight",
		    json_integer(cg_cpu_weight));
	}
	return (o);
}

/*
 * For doctor: 1 when the limits apply or are off, 0 when the host
 * cannot apply them; what to say in detail.
 */
int
sandbox_cgroup_health(char *detail, size_t len)
{
	switch (cg_state) {
	case CG_OFF:
		snprintf(detail, len, "off in the configuration");
		return (1);
	case CG_ON:
		snprintf(detail, len, "cgroup v%d, under %s", cg_version,
		    cg_parent[CG_MEMORY]);
		return (1);
	case CG_DOWN:
		snprintf(detail, len, "not applied: %s", cg_error);
		return (0);
	}
	fatalx("%s: state %d", __func__, cg_state);
	/* NOTREACHED */
}

/* Whether sb has the cgroup it should have, for doctor. */
int
sandbox_cgroup_present(const struct sandbox *sb)
{
	struct stat	 st;
	int		 i;

	if (cg_state != CG_ON)
		return (1);
	if (sb->sb_cgroups[0] == NULL)
		return (0);
	for (i = 0; i < SANDBOX_CGROUP_DIRS && sb->sb_cgroups[i] != NULL; i++)
		if (stat(sb->sb_cgroups[i], &st) == -1 || !S_ISDIR(st.st_mode))
			return (0);
	return (1);
}

/*
 * A cgroup directory the sandbox module may change: the sandboxes'
 * parent, its ancestors (anc: to make them and give them controllers)
 * or, with anc 0, a cgroup below the parent.  Under /sys/fs/cgroup (v2)
 * or one hierarchy of it (v1), with no "." or ".." step.
 */
int
sandbox_cgroup_dir_check(const char *dir, const char *parent, int anc,
    char *err, size_t errlen)
{
	const char	*rest, *p;
	size_t		 len, plen = strlen(parent);
	int		 pass;

	len = strlen(dir);
	if (strncmp(dir, CG_ROOT, strlen(CG_ROOT)) !=
	    0 || strstr(dir, "/./") != NULL || strstr(dir, "/../") != NULL ||
	    strstr(dir, "//") != NULL || (len >= 2 &&
	    strcmp(dir + len - 2, "/.") == 0) || (len >= 3 &&
	    strcmp(dir + len - 3, "/..") == 0) || dir[len - 1] == '/')
		goto bad;
	rest = dir + strlen(CG_ROOT);	/* "", or "/..." */
	for (pass = 0; pass < 2; pass++) {
		if (pass == 1) {
			/* v1: the hierarchy's mount, then the path. */
			if (*rest != '/' || (p = strchr(rest + 1, '/')) ==
			    NULL) {
				if (anc && *rest == '/' && p == NULL)
					return (0);	/* a hierarchy */
				break;
			}
			rest = p;
		}
		if (anc) {
			/* "" or a whole-step prefix of parent, or parent. */
			len = strlen(rest);
			if (len == 0 || (strncmp(parent, rest, len) == 0 &&
			    (parent[len] == '\0' || parent[len] == '/')))
				return (0);
		} else if (strncmp(rest, parent, plen) == 0 &&
		    rest[plen] == '/' && rest[plen + 1] != '\0')
			return (0);
	}
bad:
	return (util_err(err, errlen, "cgroup %s is not %s the sandboxes' "
	    "parent %s", dir, anc ? "above or" : "below", parent));
}
