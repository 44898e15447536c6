/*
 * test_sandbox_cgroup.c: the limits of sandboxes against cgroup trees
 * laid out in a temporary directory, named by a mountinfo file of the
 * test's own: which layout is chosen (cgroup v2, v1, none) and why not,
 * the parent made and the controllers enabled on the way down, the
 * limit files each layout gets, usage read back, the directories jobs
 * join, RLIMIT_NPROC where there is no cgroup, and removal.  The kernel's
 * own behaviour is tests/regress/harden_limits.sh's.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"
#include "sbxd.h"
#include "sandbox.h"
#include "unit.h"

static struct sbxd	 env;
static char		*tmp;

/* A fresh directory and the defaults, with limits set as the test asks. */
static int
setup(struct sandbox_conf *sbc, struct sandbox *sb, int mode)
{
	static struct sbxd_config	 conf;

	memset(&env, 0, sizeof(env));
	memset(&conf, 0, sizeof(conf));
	env.sx_conf = &conf;
	env.sx_conffile = "test.conf";
	sbxd_env = &env;
	memset(sbc, 0, sizeof(*sbc));
	sbc->sbc_limits = mode;
	sbc->sbc_memory = 64ULL << 20;
	sbc->sbc_processes = 20;
	sbc->sbc_cpu_weight = 50;
	sbc->sbc_cgroup = "/sbxd.slice";
	memset(sb, 0, sizeof(*sb));
	snprintf(sb->sb_name, sizeof(sb->sb_name), "one");
	if ((tmp = unit_tmpdir()) == NULL)
		return (-1);
	return (0);
}

static void
teardown(struct sandbox *sb)
{
	sandbox_cgroup_forget(sb);
	sandbox_cgroup_shutdown();
	sandbox_cgroup_mountinfo(NULL);
	unit_rmtree(tmp);
	free(tmp);
	tmp = NULL;
}

/* tmp/rel, made. */
static int
dir(const char *rel)
{
	char	 path[1024];

	snprintf(path, sizeof(path), "%s/%s", tmp, rel);
	return (mkdir(path, 0755) == -1 && errno != EEXIST ? -1 : 0);
}

/* tmp/rel holds text. */
static int
put(const char *rel, const char *text)
{
	char	 path[1024];

	snprintf(path, sizeof(path), "%s/%s", tmp, rel);
	return (unit_write(path, text));
}

/* The first line of tmp/rel, in a static buffer; "" if none. */
static const char *
get(const char *rel)
{
	static char	 buf[256];
	char		 path[1024];
	FILE		*fp;

	*buf = '\0';
	snprintf(path, sizeof(path), "%s/%s", tmp, rel);
	if ((fp = fopen(path, "r")) == NULL)
		return (buf);
	if (fgets(buf, sizeof(buf), fp) == NULL)
		*buf = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	fclose(fp);
	return (buf);
}

static int
exists(const char *rel)
{
	char		 path[1024];
	struct stat	 st;

	snprintf(path, sizeof(path), "%s/%s", tmp, rel);
	return (stat(path, &st) == 0);
}

/* A mountinfo file of the given lines, each "TYPE DIR OPTIONS". */
static int
mountinfo(const char *const *mounts)
{
	static char	 path[1024];	/* the module keeps it */
	char		 type[32], where[256], opts[64];
	FILE		*fp;
	int		 i;

	snprintf(path, sizeof(path), "%s/mountinfo", tmp);
	if ((fp = fopen(path, "w")) == NULL)
		return (-1);
	fprintf(fp, "22 1 0:21 / /sys rw,nosuid shared:7 - sysfs sysfs rw\n");
	for (i = 0; mounts[i] != NULL; i++) {
		if (sscanf(mounts[i], "%31s %255s %63s", type, where,
		    opts) != 3)
			return (-1);
		fprintf(fp, "%d 22 0:%d / %s/%s rw,relatime shared:%d - %s %s "
		    "%s\n", 30 + i, 30 + i, tmp, where, i + 8, type, type,
		    opts);
	}
	fclose(fp);
	sandbox_cgroup_mountinfo(path);
	return (0);
}

static json_t *
usage(const struct sandbox *sb)
{
	json_t	*o = json_object(), *u;

	sandbox_cgroup_json(sb, o);
	u = json_incref(json_object_get(o, "usage"));
	json_decref(o);
	return (u);
}

static long long
num(json_t *o, const char *key)
{
	json_t	*v = json_object_get(o, key);

	return (json_is_integer(v) ? json_integer_value(v) : -1);
}

/*
 * cgroup v2: the parent made and given the controllers the root does
 * not give yet, the limits written, usage read, jobs join one directory.
 */
static int
test_v2(void)
{
	struct sandbox_conf	 sbc;
	struct sandbox		 sb;
	const char		*m[] = { "cgroup2 cg rw", NULL };
	char			 err[256], want[1024];
	json_t			*u = NULL, *st = NULL;
	int			 ret = -1;

	CHECK(setup(&sbc, &sb, SANDBOX_LIMITS_SET) == 0);
	CHECK(dir("cg") == 0 && dir("cg/sbxd.slice") == 0);
	CHECK(put("cg/cgroup.controllers", "cpuset cpu io memory pids\n") == 0);
	CHECK(put("cg/cgroup.subtree_control", "memory pids\n") == 0);
	CHECK(put("cg/sbxd.slice/cgroup.subtree_control",
	    "cpu memory pids\n") == 0);
	CHECK(mountinfo(m) == 0);
	CHECK_INT(sandbox_cgroup_init(&sbc), 0);
	/* Only cpu was missing at the root: only cpu was written. */
	CHECK(strncmp(get("cg/cgroup.subtree_control"), "+cpu", 4) == 0);
	st = sandbox_cgroup_status();
	CHECK_STR(json_string_value(json_object_get(st, "state")), "on");
	CHECK_INT(num(st, "version"), 2);
	/* What the kernel would give the new cgroup. */
	CHECK(dir("cg/sbxd.slice/sbx-one.scope") == 0);
	CHECK(put("cg/sbxd.slice/sbx-one.scope/memory.max", "") == 0);
	CHECK(put("cg/sbxd.slice/sbx-one.scope/memory.swap.max", "") == 0);
	CHECK(put("cg/sbxd.slice/sbx-one.scope/pids.max", "") == 0);
	CHECK(put("cg/sbxd.slice/sbx-one.scope/cpu.weight", "") == 0);
	CHECK_INT(sandbox_cgroup_create(&sb, err, sizeof(err)), 0);
	snprintf(want, sizeof(want), "%s/cg/sbxd.slice/sbx-one.scope", tmp);
	CHECK_STR(sb.sb_cgroups[0], want);
	CHECK(sb.sb_cgroups[1] == NULL);
	CHECK_STR(get("cg/sbxd.slice/sbx-one.scope/memory.max"), "67108864");
	CHECK_STR(get("cg/sbxd.slice/sbx-one.scope/memory.swap.max"), "0");
	CHECK_STR(get("cg/sbxd.slice/sbx-one.scope/pids.max"), "20");
	CHECK_STR(get("cg/sbxd.slice/sbx-one.scope/cpu.weight"), "50");
	CHECK_INT(sandbox_cgroup_nproc(&sb), 0);	/* pids.max holds it */
	/* Usage. */
	CHECK(put("cg/sbxd.slice/sbx-one.scope/memory.current", "12345\n") ==
	    0);
	CHECK(put("cg/sbxd.slice/sbx-one.scope/pids.current", "3\n") == 0);
	CHECK(put("cg/sbxd.slice/sbx-one.scope/cpu.stat",
	    "usage_usec 777\nuser_usec 700\nsystem_usec 77\n") == 0);
	CHECK(put("cg/sbxd.slice/sbx-one.scope/memory.events",
	    "low 0\nhigh 0\nmax 9\noom 2\noom_kill 2\n") == 0);
	CHECK(put("cg/sbxd.slice/sbx-one.scope/pids.events", "max 5\n") == 0);
	CHECK((u = usage(&sb)) != NULL);
	CHECK_INT(num(u, "memory"), 12345);
	CHECK_INT(num(u, "memory_peak"), -1);	/* no memory.peak: null */
	CHECK_INT(num(u, "processes"), 3);
	CHECK_INT(num(u, "cpu_usec"), 777);
	CHECK_INT(num(u, "oom_kills"), 2);
	CHECK_INT(num(u, "forks_refused"), 5);
	/* No limit: "max", and swap as the kernel likes. */
	sbc.sbc_memory = 0;
	sbc.sbc_processes = 0;
	sandbox_cgroup_reload(&sbc);
	CHECK(put("cg/sbxd.slice/sbx-one.scope/memory.max", "") == 0);
	CHECK(put("cg/sbxd.slice/sbx-one.scope/memory.swap.max", "") == 0);
	CHECK(put("cg/sbxd.slice/sbx-one.scope/pids.max", "") == 0);
	CHECK_INT(sandbox_cgroup_update(&sb, err, sizeof(err)), 0);
	CHECK_STR(get("cg/sbxd.slice/sbx-one.scope/memory.max"), "max");
	CHECK_STR(get("cg/sbxd.slice/sbx-one.scope/memory.swap.max"), "max");
	CHECK_STR(get("cg/sbxd.slice/sbx-one.scope/pids.max"), "max");
	/* A cgroup that still holds something is not removed. */
	CHECK_INT(sandbox_cgroup_remove(&sb), -1);
	CHECK(sb.sb_cgroups[0] != NULL);
	unit_rmtree(want);
	CHECK(dir("cg/sbxd.slice/sbx-one.scope") == 0);
	CHECK_INT(sandbox_cgroup_remove(&sb), 0);
	CHECK(!exists("cg/sbxd.slice/sbx-one.scope"));
	CHECK(sb.sb_cgroups[0] == NULL);
	CHECK_INT(sandbox_cgroup_remove(&sb), 0);	/* gone already */
	ret = 0;
end:
	json_decref(u);
	json_decref(st);
	teardown(&sb);
	return (ret);
}

/*
 * A deeper parent: each cgroup on the way is made and gives its
 * children the controllers.
 */
static int
test_v2_path(void)
{
	struct sandbox_conf	 sbc;
	struct sandbox		 sb;
	const char		*m[] = { "cgroup2 cg rw", NULL };
	int			 ret = -1;

	CHECK(setup(&sbc, &sb, SANDBOX_LIMITS_SET) == 0);
	sbc.sbc_cgroup = "/a.slice/b";
	CHECK(dir("cg") == 0 && dir("cg/a.slice") == 0 &&
	    dir("cg/a.slice/b") == 0);
	CHECK(put("cg/cgroup.controllers", "cpu memory pids\n") == 0);
	CHECK(put("cg/cgroup.subtree_control", "cpu memory pids\n") == 0);
	CHECK(put("cg/a.slice/cgroup.subtree_control", "\n") == 0);
	CHECK(put("cg/a.slice/b/cgroup.subtree_control", "pids cpu\n") == 0);
	CHECK(mountinfo(m) == 0);
	CHECK_INT(sandbox_cgroup_init(&sbc), 0);
	CHECK(strncmp(get("cg/a.slice/cgroup.subtree_control"), "+cpu",
	    4) == 0);	/* memory, pids, then cpu: the last write shows */
	CHECK(strncmp(get("cg/a.slice/b/cgroup.subtree_control"), "+memory",
	    7) == 0);
	ret = 0;
end:
	teardown(&sb);
	return (ret);
}

/*
 * cgroup v1 (a hybrid host): the v2 hierarchy lacks the controllers,
 * so each v1 hierarchy gets the path; cpu and cpuacct share one.
 */
static int
test_v1(void)
{
	struct sandbox_conf	 sbc;
	struct sandbox		 sb;
	const char		*m[] = { "cgroup2 unified rw",
				    "cgroup memory rw,memory",
				    "cgroup pids rw,pids",
				    "cgroup cpu,cpuacct rw,cpu,cpuacct",
				    "cgroup cpuset rw,cpuset", NULL };
	const char		*d[] = { "unified", "memory", "pids",
				    "cpu,cpuacct", "cpuset", NULL };
	char			 err[256], want[1024];
	json_t			*u = NULL;
	int			 ret = -1, i;

	CHECK(setup(&sbc, &sb, SANDBOX_LIMITS_SET) == 0);
	for (i = 0; d[i] != NULL; i++)
		CHECK(dir(d[i]) == 0);
	CHECK(put("unified/cgroup.controllers", "hugetlb\n") == 0);
	CHECK(mountinfo(m) == 0);
	CHECK_INT(sandbox_cgroup_init(&sbc), 0);
	CHECK(exists("memory/sbxd.slice") && exists("pids/sbxd.slice") &&
	    exists("cpu,cpuacct/sbxd.slice"));
	CHECK(!exists("cpuset/sbxd.slice") && !exists("unified/sbxd.slice"));
	for (i = 1; i < 4; i++) {
		snprintf(want, sizeof(want), "%s/sbxd.slice/sbx-one.scope",
		    d[i]);
		CHECK(dir(want) == 0);
	}
	CHECK(put("memory/sbxd.slice/sbx-one.scope/memory.limit_in_bytes",
	    "") == 0);
	CHECK(put("pids/sbxd.slice/sbx-one.scope/pids.max", "") == 0);
	CHECK(put("cpu,cpuacct/sbxd.slice/sbx-one.scope/cpu.shares", "") == 0);
	CHECK_INT(sandbox_cgroup_create(&sb, err, sizeof(err)), 0);
	CHECK(sb.sb_cgroups[0] != NULL && sb.sb_cgroups[1] != NULL &&
	    sb.sb_cgroups[2] != NULL && sb.sb_cgroups[3] == NULL);
	snprintf(want, sizeof(want), "%s/cpu,cpuacct/sbxd.slice/sbx-one.scope",
	    tmp);
	CHECK_STR(sb.sb_cgroups[2], want);
	CHECK_STR(get("memory/sbxd.slice/sbx-one.scope/memory.limit_in_bytes"),
	    "67108864");
	CHECK_STR(get("pids/sbxd.slice/sbx-one.scope/pids.max"), "20");
	CHECK_STR(get("cpu,cpuacct/sbxd.slice/sbx-one.scope/cpu.shares"),
	    "512");
	CHECK(put("memory/sbxd.slice/sbx-one.scope/memory.usage_in_bytes",
	    "4096\n") == 0);
	CHECK(put("memory/sbxd.slice/sbx-one.scope/memory.max_usage_in_bytes",
	    "8192\n") == 0);
	CHECK(put("memory/sbxd.slice/sbx-one.scope/memory.oom_control",
	    "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n") == 0);
	CHECK(put("cpu,cpuacct/sbxd.slice/sbx-one.scope/cpuacct.usage",
	    "5000000\n") == 0);
	CHECK((u = usage(&sb)) != NULL);
	CHECK_INT(num(u, "memory"), 4096);
	CHECK_INT(num(u, "memory_peak"), 8192);
	CHECK_INT(num(u, "cpu_usec"), 5000);
	CHECK_INT(num(u, "oom_kills"), 3);
	CHECK_INT(num(u, "processes"), -1);	/* no pids.current: null */
	/* cpu.shares is the weight as 100 is to 1024; no memory limit. */
	sbc.sbc_cpu_weight = 1;
	sbc.sbc_memory = 0;
	sandbox_cgroup_reload(&sbc);
	CHECK(put("memory/sbxd.slice/sbx-one.scope/memory.limit_in_bytes",
	    "") == 0);
	CHECK(put("cpu,cpuacct/sbxd.slice/sbx-one.scope/cpu.shares", "") == 0);
	CHECK_INT(sandbox_cgroup_update(&sb, err, sizeof(err)), 0);
	CHECK_STR(get("cpu,cpuacct/sbxd.slice/sbx-one.scope/cpu.shares"), "10");
	CHECK_STR(get("memory/sbxd.slice/sbx-one.scope/memory.limit_in_bytes"),
	    "-1");
	ret = 0;
end:
	json_decref(u);
	teardown(&sb);
	return (ret);
}

/*
 * No way to apply limits: a limits line keeps sbxd from starting, the
 * defaults say why and go on; RLIMIT_NPROC then holds the processes.
 */
static int
test_none(void)
{
	struct sandbox_conf	 sbc;
	struct sandbox		 sb;
	const char		*hybrid[] = { "cgroup2 unified rw",
				    "cgroup pids rw,pids", NULL };
	const char		*nothing[] = { NULL };
	char			 err[256];
	const char		*e;
	json_t			*st = NULL, *errs = json_array(), *o = NULL;
	int			 ret = -1;

	CHECK(setup(&sbc, &sb, SANDBOX_LIMITS_SET) == 0);
	CHECK(dir("unified") == 0 && dir("pids") == 0);
	CHECK(put("unified/cgroup.controllers", "hugetlb\n") == 0);
	CHECK(mountinfo(hybrid) == 0);
	CHECK_INT(sandbox_cgroup_init(&sbc), -1);
	sandbox_cgroup_shutdown();
	sbc.sbc_limits = SANDBOX_LIMITS_DEFAULT;
	CHECK_INT(sandbox_cgroup_init(&sbc), 0);
	st = sandbox_cgroup_status();
	CHECK_STR(json_string_value(json_object_get(st, "state")),
	    "unavailable");
	CHECK((e = json_string_value(json_object_get(st, "error"))) != NULL);
	CHECK(strstr(e, "lacks the controllers memory pids cpu") != NULL);
	CHECK(strstr(e, "\"hugetlb\"") != NULL);
	CHECK(strstr(e, "no cgroup v1 hierarchy has memory cpu") != NULL);
	CHECK(sandbox_cgroup_health(err, sizeof(err)) == 0);
	CHECK(!exists("pids/sbxd.slice"));
	CHECK_INT(sandbox_cgroup_create(&sb, err, sizeof(err)), 0);
	CHECK(sb.sb_cgroups[0] == NULL);
	CHECK_INT(sandbox_cgroup_nproc(&sb), 20);
	o = json_object();
	sandbox_cgroup_json(&sb, o);
	CHECK(json_is_null(json_object_get(o, "usage")));
	CHECK(json_is_string(json_object_get(o, "limits_error")));
	/* A reload that asks for them is refused, saying why. */
	sbc.sbc_limits = SANDBOX_LIMITS_SET;
	CHECK_INT(sandbox_cgroup_check(&sbc, errs), -1);
	CHECK(strstr(json_string_value(json_array_get(errs, 0)),
	    "sandbox limits cannot be applied") != NULL);
	sandbox_cgroup_shutdown();
	CHECK(mountinfo(nothing) == 0);
	sbc.sbc_limits = SANDBOX_LIMITS_DEFAULT;
	CHECK_INT(sandbox_cgroup_init(&sbc), 0);
	json_decref(st);
	st = sandbox_cgroup_status();
	CHECK(strstr(json_string_value(json_object_get(st, "error")),
	    "no cgroup file system") != NULL);
	ret = 0;
end:
	json_decref(o);
	json_decref(st);
	json_decref(errs);
	teardown(&sb);
	return (ret);
}

/* limits off: nothing is looked at, made or limited. */
static int
test_off(void)
{
	struct sandbox_conf	 sbc;
	struct sandbox		 sb;
	const char		*m[] = { "cgroup2 cg rw", NULL };
	char			 err[256];
	json_t			*o = NULL;
	int			 ret = -1;

	CHECK(setup(&sbc, &sb, SANDBOX_LIMITS_OFF) == 0);
	CHECK(dir("cg") == 0);
	CHECK(put("cg/cgroup.controllers", "cpu memory pids\n") == 0);
	CHECK(mountinfo(m) == 0);
	CHECK_INT(sandbox_cgroup_init(&sbc), 0);
	CHECK(!exists("cg/sbxd.slice"));
	CHECK_INT(sandbox_cgroup_create(&sb, err, sizeof(err)), 0);
	CHECK(sb.sb_cgroups[0] == NULL);
	CHECK_INT(sandbox_cgroup_nproc(&sb), 0);
	CHECK(sandbox_cgroup_health(err, sizeof(err)) == 1);
	o = json_object();
	sandbox_cgroup_json(&sb, o);
	CHECK(json_is_null(json_object_get(o, "limits")));
	ret = 0;
end:
	json_decref(o);
	teardown(&sb);
	return (ret);
}

/* A mount point with a blank, as mountinfo writes it (\040). */
static int
test_escape(void)
{
	struct sandbox_conf	 sbc;
	struct sandbox		 sb;
	const char		*m[] = { "cgroup2 c\\040g rw", NULL };
	int			 ret = -1;

	CHECK(setup(&sbc, &sb, SANDBOX_LIMITS_SET) == 0);
	CHECK(dir("c g") == 0 && dir("c g/sbxd.slice") == 0);
	CHECK(put("c g/cgroup.controllers", "cpu memory pids\n") == 0);
	CHECK(put("c g/cgroup.subtree_control", "cpu memory pids\n") == 0);
	CHECK(put("c g/sbxd.slice/cgroup.subtree_control",
	    "cpu memory pids\n") == 0);
	CHECK(mountinfo(m) == 0);
	CHECK_INT(sandbox_cgroup_init(&sbc), 0);
	ret = 0;
end:
	teardown(&sb);
	return (ret);
}

/* Sizes as the configuration writes them, both ways. */
static int
test_size(void)
{
	struct {
		const char	*in;
		uint64_t	 bytes;
		const char	*out;
	} t[] = {
		{ "4G", 4ULL << 30, "4G" },
		{ "1536m", 1536ULL << 20, "1536M" },
		{ "2048k", 2ULL << 20, "2M" },
		{ "17000000", 17000000, "17000000" },
		{ "1024T", 1ULL << 50, "1024T" },
		{ "0", 0, "none" },
	};
	const char	*bad[] = { "", "G", "4GB", "4 G", "-4G", "4X", "1.5G",
			    "99999999999999999999", "20000000T" };
	char		 buf[32];
	uint64_t	 n;
	size_t		 i;
	int		 ret = -1;

	for (i = 0; i < nitems(t); i++) {
		CHECK_INT(config_size_parse(t[i].in, &n), 0);
		CHECK_INT(n, t[i].bytes);
		CHECK_STR(config_size_str(n, buf, sizeof(buf)), t[i].out);
	}
	for (i = 0; i < nitems(bad); i++)
		CHECK_INT(config_size_parse(bad[i], &n), -1);
	CHECK(config_cgroup_ok("/sbxd.slice"));
	CHECK(config_cgroup_ok("/a/b-c_d.e@f"));
	CHECK(!config_cgroup_ok("/"));
	CHECK(!config_cgroup_ok("sbxd.slice"));
	CHECK(!config_cgroup_ok("/a//b"));
	CHECK(!config_cgroup_ok("/a/"));
	CHECK(!config_cgroup_ok("/a/../b"));
	CHECK(!config_cgroup_ok("/a b"));
	ret = 0;
end:
	return (ret);
}

static const struct unit_test tests[] = {
	{ "v2", test_v2 },
	{ "v2_path", test_v2_path },
	{ "v1", test_v1 },
	{ "none", test_none },
	{ "off", test_off },
	{ "escape", test_escape },
	{ "size", test_size },
};

UNIT_MAIN("sandbox_cgroup", tests)
