/*
 * test_priv.c: the frames between the engine and the privileged
 * process (src/priv.c), and the operations in one process: a frame
 * and its descriptors arrive whole, every malformed frame is told
 * apart, and a request for a job outside the sandbox range, a
 * directory outside the homes or a port that is no listener's is
 * refused with its reason.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "config.h"
#include "sbxd.h"
#include "unit.h"

static struct sbxd	 env;

/* The operations of src/priv_ops.c this test needs, and their checks. */
static const struct priv_op ops[] = {
	{ "spawn", job_priv_spawn },
	{ "kill", job_priv_kill },
	{ NULL, NULL }
};
static const struct job_fn fns[] = {
	{ "uidkill", job_uid_kill },
	{ NULL, NULL }
};

static int
cgroup_ok(const char *dir, char *err, size_t errlen)
{
	return (sandbox_cgroup_dir_check(dir,
	    priv_conf()->sc_sandbox.sbc_cgroup, 0, err, errlen));
}

static int
pair(int sp[2])
{
	return (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp));
}

/* One frame, with two descriptors, arrives as it was sent. */
static int
test_frame(void)
{
	struct priv_hdr	 hdr;
	json_t		*obj = NULL, *got = NULL;
	char		 err[256], buf[8];
	int		 sp[2] = { -1, -1 }, p[2] = { -1, -1 }, fds[4], nfds = 0;
	int		 ret = -1, i;

	CHECK(pair(sp) == 0);
	CHECK(pipe(p) == 0);
	CHECK((obj = json_pack("{s:s, s:i}", "op", "bind", "port", 700)) !=
	    NULL);
	CHECK(priv_frame_send(sp[0], PRIV_REQ, 42, obj, p, 2) == 0);
	CHECK_INT(priv_frame_recv(sp[1], &hdr, &got, fds, &nfds, err,
	    sizeof(err)), 1);
	CHECK_INT(hdr.ph_magic, PRIV_MAGIC);
	CHECK_INT(hdr.ph_type, PRIV_REQ);
	CHECK_INT(hdr.ph_id, 42);
	CHECK_INT(nfds, 2);
	CHECK(json_equal(obj, got));
	/* The descriptors are the pipe's ends. */
	CHECK_INT(write(fds[1], "hi", 2), 2);
	CHECK_INT(read(p[0], buf, sizeof(buf)), 2);
	/* The end of the stream. */
	close(sp[0]);
	sp[0] = -1;
	json_decref(got);
	got = NULL;
	CHECK_INT(priv_frame_recv(sp[1], &hdr, &got, fds + 2, &i, err,
	    sizeof(err)), 0);
	ret = 0;
end:
	for (i = 0; i < nfds; i++)
		close(fds[i]);
	json_decref(obj);
	json_decref(got);
	for (i = 0; i < 2; i++) {
		if (sp[i] != -1)
			close(sp[i]);
		if (p[i] != -1)
			close(p[i]);
	}
	return (ret);
}

/* Send raw bytes, perhaps with descriptors; expect -2 and the text. */
static int
bad(const void *data, size_t len, int nfds, const char *want)
{
	struct priv_hdr	 hdr;
	struct msghdr	 msg;
	struct iovec	 iov;
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(int) * 8)];
	} cm;
	struct cmsghdr	*c;
	json_t		*got = NULL;
	char		 err[256];
	int		 sp[2] = { -1, -1 }, fds[8], out[PRIV_FDS_MAX], nout;
	int		 ret = -1, i, before;

	before = unit_nfds();
	CHECK(pair(sp) == 0);
	for (i = 0; i < nfds; i++)
		CHECK((fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC)) != -1);
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = (void *)data;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (nfds > 0) {
		memset(&cm, 0, sizeof(cm));
		msg.msg_control = cm.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	CHECK(sendmsg(sp[0], &msg, 0) == (ssize_t)len);
	for (i = 0; i < nfds; i++)
		close(fds[i]);
	CHECK_INT(priv_frame_recv(sp[1], &hdr, &got, out, &nout, err,
	    sizeof(err)), -2);
	CHECK(got == NULL);
	CHECK_INT(nout, 0);
	if (strstr(err, want) == NULL) {
		unit_fail(__FILE__, __LINE__, "\"%s\" lacks \"%s\"", err, want);
		goto end;
	}
	ret = 0;
end:
	if (sp[0] != -1)
		close(sp[0]);
	if (sp[1] != -1)
		close(sp[1]);
	/* What came with a malformed frame is closed. */
	if (ret == 0 && unit_nfds() != before) {
		unit_fail(__FILE__, __LINE__, "descriptors leaked");
		ret = -1;
	}
	return (ret);
}

static int
test_malformed(void)
{
	struct priv_hdr	 h;
	char		 buf[64];
	int		 ret = -1;

	CHECK(bad("\x01\x02", 2, 0, "shorter than its header") == 0);
	memset(&h, 0, sizeof(h));
	h.ph_magic = 0xdeadbeef;
	h.ph_type = PRIV_REQ;
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), "{}", 2);
	CHECK(bad(buf, sizeof(h) + 2, 1, "wrong magic") == 0);
	h.ph_magic = PRIV_MAGIC;
	h.ph_type = 9;
	memcpy(buf, &h, sizeof(h));
	CHECK(bad(buf, sizeof(h) + 2, 0, "unknown type 9") == 0);
	h.ph_type = PRIV_REQ;
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), "{\"op\":", 6);
	CHECK(bad(buf, sizeof(h) + 6, 2, "not JSON") == 0);
	memcpy(buf + sizeof(h), "[1, 2]", 6);
	CHECK(bad(buf, sizeof(h) + 6, 0, "not a JSON object") == 0);
	memcpy(buf + sizeof(h), "{\"a\":1,\"a\":2}", 13);
	CHECK(bad(buf, sizeof(h) + 13, 0, "not JSON") == 0);
	/* More descriptors than a frame may carry: cut, all closed. */
	memcpy(buf + sizeof(h), "{}", 2);
	CHECK(bad(buf, sizeof(h) + 2, 8, "was cut") == 0);
	ret = 0;
end:
	return (ret);
}

/* One process: the operations run here, with their checks. */
static struct sbxd_config *
conf_sandbox(const char *home)
{
	struct sbxd_config	*conf;

	if ((conf = config_new()) == NULL)
		return (NULL);
	conf->sc_sandbox.sbc_enabled = 1;
	conf->sc_sandbox.sbc_uid_min = 60100;
	conf->sc_sandbox.sbc_uid_max = 60199;
	conf->sc_sandbox.sbc_port_min = 700;
	conf->sc_sandbox.sbc_port_max = 709;
	free(conf->sc_sandbox.sbc_home);
	conf->sc_sandbox.sbc_home = strdup(home);
	return (conf);
}

static int
refused(const char *op, json_t *args, const char *want)
{
	json_t	*r;
	char	 err[512];

	if ((r = priv_call(op, args, NULL, NULL, err, sizeof(err))) != NULL) {
		json_decref(r);
		unit_fail(__FILE__, __LINE__, "%s was not refused", op);
		return (-1);
	}
	if (strstr(err, want) == NULL) {
		unit_fail(__FILE__, __LINE__, "%s: \"%s\" lacks \"%s\"", op,
		    err, want);
		return (-1);
	}
	return (0);
}

static json_t *
spawn(json_int_t uid, const char *cwd, const char *cgroup)
{
	return (json_pack("{s:s, s:i, s:I, s:I, s:[], s:s*, s:[s*], s:i, "
	    "s:[s], s:[], s:i, s:i}", "name", "t", "flags", JOB_CREDS,
	    "uid", uid, "gid", uid, "groups", "cwd", cwd, "cgroups", cgroup,
	    "nproc", 0, "argv", "/bin/true", "envp", "rows", 0, "cols", 0));
}

static int
test_checks(void)
{
	char	*dir = NULL, home[1024], below[1100];
	int	 ret = -1;

	sbxd_env = &env;
	CHECK((dir = unit_tmpdir()) != NULL);
	snprintf(home, sizeof(home), "%s/home", dir);
	CHECK((env.sx_base = event_base_new()) != NULL);
	CHECK((env.sx_conf = conf_sandbox(home)) != NULL);
	CHECK(priv_init(ops) == 0);
	job_fns_set(fns);
	job_cgroup_check_set(cgroup_ok);
	CHECK(refused("spawn", spawn(0, NULL, NULL),
	    "uid 0 or gid 0 is outside the sandbox uid-range 60100-60199") ==
	    0);
	CHECK(refused("spawn", spawn(60200, NULL, NULL),
	    "is outside the sandbox uid-range") == 0);
	CHECK(refused("spawn", spawn(60100, "/etc", NULL),
	    "directory /etc is not below the sandbox homes") == 0);
	snprintf(below, sizeof(below), "%s/../../etc", home);
	CHECK(refused("spawn", spawn(60100, below, NULL),
	    "is not below the sandbox homes") == 0);
	CHECK(refused("spawn", spawn(60100, NULL, "/sys/fs/cgroup"),
	    "is not below the sandboxes' parent /sbxd.slice") == 0);
	CHECK(refused("spawn", spawn(60100, NULL,
	    "/sys/fs/cgroup/sbxd.slice/../x"), "is not below") == 0);
	CHECK(refused("spawn", json_pack("{s:s}", "name", "t"),
	    "bad arguments") == 0);
	CHECK(refused("bind", json_pack("{s:s, s:i}", "address", "0.0.0.0",
	    "port", 22), "neither a listener of the config") == 0);
	CHECK(refused("bind", json_pack("{s:s, s:i}", "address",
	    "127.0.0.1", "port", 710), "outside the sandbox port-range "
	    "700-709") == 0);
	CHECK(refused("bind", json_pack("{s:s, s:i, s:i}", "address",
	    "127.0.0.1", "port", 700, "extra", 1), "bad arguments") == 0);
	CHECK(refused("config-open", json_pack("{s:s}", "path",
	    "/etc/shadow"), "not a file of the config") == 0);
	CHECK(refused("open-log", json_pack("{s:s}", "path", "/etc/passwd"),
	    "not the access log of the config") == 0);
	CHECK(refused("nosuch", NULL, "no such operation") == 0);
	ret = 0;
end:
	priv_shutdown();
	config_free(env.sx_conf);
	env.sx_conf = NULL;
	if (dir != NULL) {
		unit_rmtree(dir);
		free(dir);
	}
	return (ret);
}

static const struct unit_test tests[] = {
	{ "frame", test_frame },
	{ "malformed", test_malformed },
	{ "checks", test_checks },
};

UNIT_MAIN("priv", tests)
