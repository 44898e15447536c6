/*
 * test_sandbox_ops.c: what the privileged process builds from the
 * engine's list of a sandbox's operations (sandbox/sandbox_ops.c): the
 * same commands as the generators give, and a refusal with its reason
 * for a uid outside the range, a port outside the range, a user that is
 * not a sandbox's, a home outside the homes directory, a shell asked
 * for, an unknown operation or field.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <jansson.h>

#include "config.h"
#include "sbxd.h"
#include "sandbox.h"
#include "unit.h"

/* sandbox.o asks the core of sbxd.c for a component's status. */
json_t *
sbxd_component_status(const char *name __unused)
{
	return (NULL);
}

static struct sbxd_config *
conf_new(void)
{
	struct sbxd_config	*conf;

	if ((conf = config_new()) == NULL)
		return (NULL);
	conf->sc_sandbox.sbc_enabled = 1;
	conf->sc_sandbox.sbc_uid_min = 60100;
	conf->sc_sandbox.sbc_uid_max = 60199;
	conf->sc_sandbox.sbc_port_min = 700;
	conf->sc_sandbox.sbc_port_max = 709;
	conf->sc_sandbox.sbc_firewall = SANDBOX_FW_NFTABLES;
	conf->sc_pfmon.pm_nflog_group = 5;
	return (conf);
}

/* The commands of a list as text, one per line, inputs included. */
static char *
cmds_text(struct sandbox_cmdlist *cl)
{
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*fp;

	if ((fp = open_memstream(&buf, &len)) == NULL)
		return (NULL);
	sandbox_cmdlist_print(fp, cl);
	fclose(fp);
	return (buf);
}

/* Good operations: exactly the generators' commands. */
static int
test_same(void)
{
	struct sbxd_config	*conf = NULL;
	struct sandbox_cmdlist	 a, b;
	struct fw_sandbox	 fs = { "demo", 60123, { 700 }, 1, 1 };
	struct fw_conf		 fc = { "sbxd", 5, "com.apple/sbx" };
	json_t			*ops = NULL;
	char			 err[256], *ta = NULL, *tb = NULL;
	int			 ret = -1;

	sandbox_cmdlist_init(&a);
	sandbox_cmdlist_init(&b);
	CHECK((conf = conf_new()) != NULL);
	CHECK((ops = json_array()) != NULL);
	sandbox_op_simple(ops, "fw-init");
	sandbox_op_fw(ops, "fw-apply", &fs);
	sandbox_op_user_add(ops, "sbx-demo", 60123,
	    "/var/lib/sbxd/home/demo", "sbxd sandbox demo");
	sandbox_op_files(ops, 60123);
	sandbox_op_user_del(ops, "sbx-demo", 1);
	sandbox_op_home_rm(ops, "/var/lib/sbxd/home/demo");
	sandbox_op_fw(ops, "fw-remove", &fs);
	if (sandbox_ops_build(ops, conf, &a, err, sizeof(err)) == -1) {
		unit_fail(__FILE__, __LINE__, "refused: %s", err);
		goto end;
	}
	CHECK(fw_nft_backend.fb_init(&fc, &b) == 0);
	CHECK(fw_nft_backend.fb_apply(&fc, &fs, &b) == 0);
	CHECK(sandbox_user_add(&b, SANDBOX_OS_HOST, "sbx-demo", 60123,
	    "/var/lib/sbxd/home/demo", SANDBOX_SHELL, "sbxd sandbox demo") ==
	    0);
	CHECK(sandbox_uid_files_cmds(&b, 60123) == 0);
	CHECK(sandbox_user_del(&b, SANDBOX_OS_HOST, "sbx-demo", 1) == 0);
	CHECK(sandbox_cmd_add(&b, SANDBOX_CMD_MAYFAIL, "/bin/rm", "-rf",
	    "--one-file-system", "--", "/var/lib/sbxd/home/demo",
	    (char *)NULL) != NULL);
	CHECK(fw_nft_backend.fb_remove(&fc, &fs, &b) == 0);
	CHECK((ta = cmds_text(&a)) != NULL && (tb = cmds_text(&b)) != NULL);
	CHECK_STR(ta, tb);
	ret = 0;
end:
	free(ta);
	free(tb);
	sandbox_cmdlist_free(&a);
	sandbox_cmdlist_free(&b);
	json_decref(ops);
	config_free(conf);
	return (ret);
}

static int
refused(struct sbxd_config *conf, const char *text, const char *want)
{
	struct sandbox_cmdlist	 cl;
	json_t			*ops;
	char			 err[512];
	int			 r;

	sandbox_cmdlist_init(&cl);
	if ((ops = json_loads(text, 0, NULL)) == NULL) {
		unit_fail(__FILE__, __LINE__, "bad JSON in the test: %s", text);
		return (-1);
	}
	r = sandbox_ops_build(ops, conf, &cl, err, sizeof(err));
	json_decref(ops);
	sandbox_cmdlist_free(&cl);
	if (r != -1) {
		unit_fail(__FILE__, __LINE__, "not refused: %s", text);
		return (-1);
	}
	if (strstr(err, want) == NULL) {
		unit_fail(__FILE__, __LINE__, "%s: \"%s\" lacks \"%s\"", text,
		    err, want);
		return (-1);
	}
	return (0);
}

static int
test_refuse(void)
{
	struct sbxd_config	*conf = NULL;
	int			 ret = -1;

	CHECK((conf = conf_new()) != NULL);
	CHECK(refused(conf, "[{\"op\":\"fw-apply\",\"name\":\"x\",\"uid\":0,"
	    "\"ports\":[700],\"restricted\":true}]",
	    "uid 0 is outside the sandbox uid-range 60100-60199") == 0);
	CHECK(refused(conf, "[{\"op\":\"fw-apply\",\"name\":\"x\",\"uid\":"
	    "60200,\"ports\":[700],\"restricted\":true}]",
	    "uid 60200 is outside") == 0);
	CHECK(refused(conf, "[{\"op\":\"fw-remove\",\"name\":\"x\",\"uid\":"
	    "60100,\"ports\":[22],\"restricted\":true}]",
	    "port 22 is outside the sandbox port-range 700-709") == 0);
	CHECK(refused(conf, "[{\"op\":\"fw-apply\",\"name\":\"X; drop\","
	    "\"uid\":60100,\"ports\":[700],\"restricted\":true}]",
	    "is not a sandbox name") == 0);
	CHECK(refused(conf, "[{\"op\":\"user-add\",\"user\":\"root\",\"uid\":"
	    "60100,\"home\":\"/var/lib/sbxd/home/root\",\"comment\":\"c\"}]",
	    "\"root\" is not a sandbox's user") == 0);
	CHECK(refused(conf, "[{\"op\":\"user-add\",\"user\":\"sbx-a\",\"uid\":"
	    "60100,\"home\":\"/etc\",\"comment\":\"c\"}]",
	    "home /etc is not a sandbox's home below /var/lib/sbxd/home") ==
	    0);
	CHECK(refused(conf, "[{\"op\":\"user-add\",\"user\":\"sbx-a\",\"uid\":"
	    "60100,\"home\":\"/var/lib/sbxd/home/../../../etc\",\"comment\":"
	    "\"c\"}]", "is not a sandbox's home") == 0);
	CHECK(refused(conf, "[{\"op\":\"user-add\",\"user\":\"sbx-a\",\"uid\":"
	    "60100,\"home\":\"/var/lib/sbxd/home/a\",\"comment\":\"c\","
	    "\"shell\":\"/bin/evil\"}]", "user-add:") == 0);
	CHECK(refused(conf, "[{\"op\":\"user-add\",\"user\":\"sbx-a\",\"uid\":"
	    "60100,\"home\":\"/var/lib/sbxd/home/a\",\"comment\":\"a:b\"}]",
	    "a comment of printable characters") == 0);
	CHECK(refused(conf, "[{\"op\":\"home-rm\",\"home\":\"/\"}]",
	    "is not a sandbox's home") == 0);
	CHECK(refused(conf, "[{\"op\":\"files\",\"uid\":1}]",
	    "uid 1 is outside") == 0);
	CHECK(refused(conf, "[{\"op\":\"fw-prune\",\"owners\":[[0,700]],"
	    "\"ports\":[],\"cut\":[],\"gone\":[]}]", "owner 0") == 0);
	CHECK(refused(conf, "[{\"op\":\"fw-init\",\"table\":\"filter\"}]",
	    "fw-init: takes nothing") == 0);
	CHECK(refused(conf, "[{\"op\":\"shell\",\"argv\":[\"/bin/sh\"]}]",
	    "no operation shell") == 0);
	CHECK(refused(conf, "[{\"oops\":1}]", "an operation without op") ==
	    0);
	CHECK(refused(conf, "{\"op\":\"fw-init\"}", "not a list") == 0);
	conf->sc_sandbox.sbc_enabled = 0;
	CHECK(refused(conf, "[{\"op\":\"fw-init\"}]", "sandboxes are off") ==
	    0);
	ret = 0;
end:
	config_free(conf);
	return (ret);
}

/* The cgroup operation, in one process: only what the module writes. */
static const struct priv_op ops_cgroup[] = {
	{ "cgroup", sandbox_priv_cgroup },
	{ NULL, NULL }
};

static int
cgroup_refused(const char *action, const char *dir, const char *file,
    const char *value, const char *want)
{
	json_t	*r;
	char	 err[512];

	r = priv_call("cgroup", json_pack("{s:s, s:s, s:s*, s:s*}", "action",
	    action, "dir", dir, "file", file, "value", value), NULL, NULL, err,
	    sizeof(err));
	if (r != NULL) {
		json_decref(r);
		unit_fail(__FILE__, __LINE__, "%s %s %s: not refused", action,
		    dir, file != NULL ? file : "");
		return (-1);
	}
	if (strstr(err, want) == NULL) {
		unit_fail(__FILE__, __LINE__, "\"%s\" lacks \"%s\"", err,
		    want);
		return (-1);
	}
	return (0);
}

static int
test_cgroup(void)
{
	static struct sbxd	 env;
	int			 ret = -1;

	sbxd_env = &env;
	CHECK((env.sx_base = event_base_new()) != NULL);
	CHECK((env.sx_conf = conf_new()) != NULL);
	CHECK(priv_init(ops_cgroup) == 0);
	CHECK(cgroup_refused("write", "/sys/fs/cgroup/sbxd.slice/sbx-a.scope",
	    "cgroup.procs", "1", "is not a file sbxd writes") == 0);
	CHECK(cgroup_refused("write", "/sys/fs/cgroup/sbxd.slice/sbx-a.scope",
	    "release_agent", "/tmp/x", "is not a file sbxd writes") == 0);
	CHECK(cgroup_refused("write", "/sys/fs/cgroup/sbxd.slice/sbx-a.scope",
	    "memory.max", "1 2", "a bad value") == 0);
	CHECK(cgroup_refused("write", "/sys/fs/cgroup/other/x",
	    "memory.max", "1", "is not below the sandboxes' parent") == 0);
	CHECK(cgroup_refused("write", "/sys/fs/cgroup", "memory.max", "1",
	    "is not below the sandboxes' parent") == 0);
	CHECK(cgroup_refused("write", "/sys/fs/cgroup",
	    "cgroup.subtree_control", "-memory", "a bad value") == 0);
	CHECK(cgroup_refused("rmdir", "/sys/fs/cgroup/sbxd.slice", NULL, NULL,
	    "is not below the sandboxes' parent") == 0);
	CHECK(cgroup_refused("mkdir", "/sys/fs/cgroup/sbxd.slice/../../etc",
	    NULL, NULL, "the sandboxes' parent") == 0);
	CHECK(cgroup_refused("mkdir", "/etc/cron.d", NULL, NULL,
	    "the sandboxes' parent") == 0);
	CHECK(cgroup_refused("chmod", "/sys/fs/cgroup/sbxd.slice/x", NULL,
	    NULL, "not mkdir, rmdir or write") == 0);
	ret = 0;
end:
	priv_shutdown();
	config_free(env.sx_conf);
	env.sx_conf = NULL;
	if (env.sx_base != NULL)
		event_base_free(env.sx_base);
	env.sx_base = NULL;
	return (ret);
}

static const struct unit_test tests[] = {
	{ "same", test_same },
	{ "refuse", test_refuse },
	{ "cgroup", test_cgroup },
};

UNIT_MAIN("sandbox_ops", tests)
