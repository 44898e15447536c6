/*
 * sandbox_ops.c: root's commands for a sandbox, asked for by what they
 * do, not by their argv.  The engine lists operations (a JSON array:
 * load the firewall base, apply a sandbox's rules, add its user, ...)
 * and sends the list to the privileged process ("cmds"), which checks
 * every parameter against its own config (uids in the sandbox
 * uid-range, ports in the port-range, names as sandbox names go, homes
 * directly below the homes directory, the configured shell, the
 * firewall's table from the config alone), builds the commands itself
 * with the same generators (sandbox_user.c, sandbox_uid.c, fw_nft.c,
 * fw_pf.c) and runs them (sandbox_proc.c).  The engine hears the end as
 * before: status, error and output.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"
#include "log.h"
#include "sbxd.h"
#include "sandbox.h"

#ifdef __linux__
#define SANDBOX_RM		"/bin/rm", "-rf", "--one-file-system", "--"
#else
#define SANDBOX_RM		"/bin/rm", "-rfx", "--"
#endif
#define SANDBOX_OPS_MAX		64	/* operations in one list */
#define SANDBOX_COMMENT_MAX	128	/* a user's comment (GECOS) */
#define SANDBOX_TIMEOUT_MAX	600	/* seconds per command */

/* The engine: a list asked for, until its reply. */
struct sandbox_ask {
	uint64_t		 sa_id;
	sandbox_proc_cb		 sa_cb;
	void			*sa_arg;
};

/* The privileged process: a list running for the engine. */
struct sandbox_cmdsrun {
	TAILQ_ENTRY(sandbox_cmdsrun)	 cr_entry;
	struct priv_req			*cr_req;
	struct sandbox_proc		*cr_proc;
};
TAILQ_HEAD(sandbox_cmdsruns, sandbox_cmdsrun);

static struct sandbox_cmdsruns	 sandbox_cmdsruns =
				    TAILQ_HEAD_INITIALIZER(sandbox_cmdsruns);

static void	sandbox_ops_replycb(json_t *, const char *, int *, int,
		    void *);
static int	sandbox_ops_one(json_t *, const struct sbxd_config *,
		    const struct fw_backend *, const struct fw_conf *,
		    struct sandbox_cmdlist *, char *, size_t);

static int	sandbox_ops_port(json_int_t, const struct sandbox_conf *,
		    char *, size_t);
static int	sandbox_ops_fs(json_t *, const struct sandbox_conf *,
		    struct fw_sandbox *, in_port_t *, char *, size_t);
static int	sandbox_ops_user(const char *, const char **, char *,
		    size_t);
static void	sandbox_cmds_donecb(int, const char *, const char *, void *);

static void
sandbox_op_add(json_t *ops, json_t *op)
{
	if (op == NULL || json_array_append_new(ops, op) == -1)
		json_array_append_new(ops, json_null());	/* refused */
}

/* The list: each adds one operation (a null if memory ran out). */
void
sandbox_op_simple(json_t *ops, const char *op)
{
	sandbox_op_add(ops, json_pack("{s:s}", "op", op));
}

void
sandbox_op_fw(json_t *ops, const char *op, const struct fw_sandbox *fs)
{
	json_t	*ports;
	int	 i;

	if ((ports = json_array()) != NULL)
		for (i = 0; i < fs->fs_nports; i++)
			json_array_append_new(ports,
			    json_integer(fs->fs_ports[i]));
	sandbox_op_add(ops, json_pack("{s:s, s:s, s:I, s:o*, s:b}", "op", op,
	    "name", fs->fs_name, "uid", (json_int_t)fs->fs_uid, "ports",
	    ports, "restricted", fs->fs_restricted));
}

void
sandbox_op_fw_prune(json_t *ops, const struct fw_prune *fp)
{
	json_t	*owners, *ports, *cut, *gone;
	int	 i;

	owners = json_array();
	ports = json_array();
	cut = json_array();
	gone = json_array();
	for (i = 0; owners != NULL && i < fp->fp_nowners; i++)
		json_array_append_new(owners, json_pack("[I, i]",
		    (json_int_t)fp->fp_owners[i].fh_uid,
		    (int)fp->fp_owners[i].fh_port));
	for (i = 0; ports != NULL && i < fp->fp_nports; i++)
		json_array_append_new(ports, json_integer(fp->fp_ports[i]));
	for (i = 0; cut != NULL && i < fp->fp_ncut; i++)
		json_array_append_new(cut, json_integer(fp->fp_cut[i]));
	for (i = 0; gone != NULL && i < fp->fp_ngone; i++)
		json_array_append_new(gone, json_integer(fp->fp_gone[i]));
	sandbox_op_add(ops, json_pack("{s:s, s:o*, s:o*, s:o*, s:o*}", "op",
	    "fw-prune", "owners", owners, "ports", ports, "cut", cut, "gone",
	    gone));
}

void
sandbox_op_user_add(json_t *ops, const char *user, uid_t uid,
    const char *home, const char *comment)
{
	sandbox_op_add(ops, json_pack("{s:s, s:s, s:I, s:s, s:s}", "op",
	    "user-add", "user", user, "uid", (json_int_t)uid, "home", home,
	    "comment", comment));
}

void
sandbox_op_user_del(json_t *ops, const char *user, int present)
{
	sandbox_op_add(ops, json_pack("{s:s, s:s, s:b}", "op", "user-del",
	    "user", user, "present", present));
}

void
sandbox_op_files(json_t *ops, uid_t uid)
{
	sandbox_op_add(ops, json_pack("{s:s, s:I}", "op", "files", "uid",
	    (json_int_t)uid));
}

void
sandbox_op_home_rm(json_t *ops, const char *home)
{
	sandbox_op_add(ops, json_pack("{s:s, s:s}", "op", "home-rm", "home",
	    home));
}

/*
 * The engine: have the list run; takes ops.  cb hears the end once,
 * from the loop, unless cancelled first.  NULL if it cannot be asked.
 */
struct sandbox_ask *
sandbox_ops_run(json_t *ops, int timeout, const char *what,
    sandbox_proc_cb cb, void *arg)
{
	struct sandbox_ask	*sa;

	if ((sa = calloc(1, sizeof(*sa))) == NULL) {
		json_decref(ops);
		return (NULL);
	}
	sa->sa_cb = cb;
	sa->sa_arg = arg;
	sa->sa_id = priv_send("cmds", json_pack("{s:o, s:i, s:s}", "ops",
	    ops, "timeout", timeout, "what", what != NULL ? what : "sandbox"),
	    sandbox_ops_replycb, sa);
	if (sa->sa_id == 0) {
		free(sa);
		return (NULL);
	}
	return (sa);
}

/* Forget a list; the privileged process stops it, cb is not called. */
void
sandbox_ops_cancel(struct sandbox_ask *sa)
{
	if (sa == NULL)
		return;
	priv_forget(sa->sa_id);
	(void)priv_send("cancel", json_pack("{s:I}", "id",
	    (json_int_t)sa->sa_id), NULL, NULL);
	free(sa);
}

static void
sandbox_ops_replycb(json_t *reply, const char *err, int *fds, int nfds,
    void *arg)
{
	struct sandbox_ask	*sa = arg;
	sandbox_proc_cb		 cb = sa->sa_cb;
	void			*cbarg = sa->sa_arg;
	const char		*error = NULL, *output = NULL;
	json_int_t		 status = -1;

	while (nfds > 0)
		close(fds[--nfds]);
	free(sa);
	if (reply == NULL) {
		cb(-1, err, NULL, cbarg);
		return;
	}
	if (!json_is_integer(json_object_get(reply, "status"))) {
		cb(-1, "a bad reply to cmds", NULL, cbarg);
		return;
	}
	status = json_integer_value(json_object_get(reply, "status"));
	error = json_string_value(json_object_get(reply, "message"));
	output = json_string_value(json_object_get(reply, "output"));
	cb((int)status, status == 0 ? NULL : error != NULL ? error : "failed",
	    status == 0 ? output : NULL, cbarg);
}

/*
 * Check every operation of ops against conf and add its commands to
 * cl; -1 with err at the first that is wrong (cl holds what came
 * before: free it).
 */
int
sandbox_ops_build(json_t *ops, const struct sbxd_config *conf,
    struct sandbox_cmdlist *cl, char *err, size_t errlen)
{
	const struct sandbox_conf	*sbc = &conf->sc_sandbox;
	const struct fw_backend		*fb;
	struct fw_conf			 fc;
	json_t				*op;
	size_t				 i;

	if (!sbc->sbc_enabled)
		return (util_err(err, errlen, "sandboxes are off"));
	if (!json_is_array(ops) || json_array_size(ops) > SANDBOX_OPS_MAX)
		return (util_err(err, errlen, "ops: not a list of at most %d "
		    "operations", SANDBOX_OPS_MAX));
	memset(&fc, 0, sizeof(fc));
	if (sbc->sbc_firewall == SANDBOX_FW_PF) {
		fb = &fw_pf_backend;
		fc.fc_anchor = sbc->sbc_fw_anchor;
	} else {
		fb = &fw_nft_backend;
		fc.fc_table = sbc->sbc_fw_table;
	}
	fc.fc_group = conf->sc_pfmon.pm_nflog_group;
	json_array_foreach(ops, i, op) {
		if (sandbox_ops_one(op, conf, fb, &fc, cl, err, errlen) == -1)
			return (-1);
		if (cl->cl_failed)
			return (util_err(err, errlen, "out of memory"));
	}
	return (0);
}

static int
sandbox_ops_one(json_t *op, const struct sbxd_config *conf,
    const struct fw_backend *fb, const struct fw_conf *fc,
    struct sandbox_cmdlist *cl, char *err, size_t errlen)
{
	const struct sandbox_conf	*sbc = &conf->sc_sandbox;
	struct fw_sandbox		 fs;
	struct fw_prune			 fp;
	static struct fw_held		 owners[FW_HELD_MAX];
	static in_port_t		 pports[FW_HELD_MAX];
	static uid_t			 cut[FW_HELD_MAX], gone[FW_HELD_MAX];
	in_port_t			 ports[SANDBOX_PORTS_MAX];
	json_error_t			 jerr;
	json_t				*jo, *jp, *jc, *jg, *v;
	json_int_t			 uid, port;
	const char			*kind, *user, *home, *comment, *name;
	size_t				 i;
	int				 present, r;

	if ((kind = json_string_value(json_object_get(op, "op"))) == NULL)
		return (util_err(err, errlen, "an operation without op"));
	if (strcmp(kind, "fw-init") == 0 || strcmp(kind, "fw-list") == 0) {
		if (json_object_size(op) != 1)
			return (util_err(err, errlen, "%s: takes nothing",
			    kind));
		r = kind[3] == 'i' ? fb->fb_init(fc, cl) : fb->fb_list(fc, cl);
	} else if (strcmp(kind, "fw-apply") == 0 ||
	    strcmp(kind, "fw-remove") == 0 ||
	    strcmp(kind, "fw-list-sandbox") == 0) {
		if (sandbox_ops_fs(op, sbc, &fs, ports, err, errlen) == -1)
			return (-1);
		if (kind[3] == 'a')
			r = fb->fb_apply(fc, &fs, cl);
		else if (kind[3] == 'r')
			r = fb->fb_remove(fc, &fs, cl);
		else if (fb == &fw_pf_backend)
			r = fw_pf_list_sandbox(fc, &fs, cl);
		else
			r = fb->fb_list(fc, cl);
	} else if (strcmp(kind, "fw-prune") == 0) {
		if (json_unpack_ex(op, &jerr, JSON_STRICT, "{s:s, s:o, s:o, "
		    "s:o, s:o}", "op", &kind, "owners", &jo, "ports", &jp,
		    "cut", &jc, "gone", &jg) == -1)
			return (util_err(err, errlen, "fw-prune: %s",
			    jerr.text));
		memset(&fp, 0, sizeof(fp));
		if (!json_is_array(jo) || !json_is_array(jp) ||
		    !json_is_array(jc) || !json_is_array(jg) ||
		    json_array_size(jo) > FW_HELD_MAX ||
		    json_array_size(jp) > FW_HELD_MAX ||
		    json_array_size(jc) > FW_HELD_MAX ||
		    json_array_size(jg) > FW_HELD_MAX)
			return (util_err(err, errlen, "fw-prune: lists of at "
			    "most %d", FW_HELD_MAX));
		json_array_foreach(jo, i, v) {
			if (json_unpack(v, "[I, I]", &uid, &port) == -1 ||
			    json_array_size(v) != 2 ||
			    sandbox_ops_uid(uid, sbc, err, errlen) == -1 ||
			    sandbox_ops_port(port, sbc, err, errlen) == -1)
				return (util_err(err, errlen, "fw-prune: "
				    "owner %zu: %s", i, *err != '\0' ? err :
				    "not [uid, port]"));
			owners[i].fh_uid = (uid_t)uid;
			owners[i].fh_port = (in_port_t)port;
		}
		json_array_foreach(jp, i, v) {
			if (sandbox_ops_port(json_is_integer(v) ?
			    json_integer_value(v) : -1, sbc, err, errlen) == -1)
				return (-1);
			pports[i] = (in_port_t)json_integer_value(v);
		}
		json_array_foreach(jc, i, v) {
			if (sandbox_ops_uid(json_is_integer(v) ?
			    json_integer_value(v) : -1, sbc, err, errlen) == -1)
				return (-1);
			cut[i] = (uid_t)json_integer_value(v);
		}
		json_array_foreach(jg, i, v) {
			if (sandbox_ops_uid(json_is_integer(v) ?
			    json_integer_value(v) : -1, sbc, err, errlen) == -1)
				return (-1);
			gone[i] = (uid_t)json_integer_value(v);
		}
		fp.fp_owners = owners;
		fp.fp_nowners = (int)json_array_size(jo);
		fp.fp_ports = pports;
		fp.fp_nports = (int)json_array_size(jp);
		fp.fp_cut = cut;
		fp.fp_ncut = (int)json_array_size(jc);
		fp.fp_gone = gone;
		fp.fp_ngone = (int)json_array_size(jg);
		r = fb->fb_prune(fc, &fp, cl);
	} else if (strcmp(kind, "user-add") == 0) {
		if (json_unpack_ex(op, &jerr, JSON_STRICT, "{s:s, s:s, s:I, "
		    "s:s, s:s}", "op", &kind, "user", &user, "uid", &uid,
		    "home", &home, "comment", &comment) == -1)
			return (util_err(err, errlen, "user-add: %s",
			    jerr.text));
		if (sandbox_ops_user(user, &name, err, errlen) == -1 ||
		    sandbox_ops_uid(uid, sbc, err, errlen) == -1 ||
		    sandbox_ops_home(home, name, sbc, err, errlen) == -1)
			return (-1);
		for (i = 0; comment[i] != '\0'; i++)
			if (!isprint((unsigned char)comment[i]) ||
			    comment[i] == ':')
				break;
		if (comment[i] != '\0' || i > SANDBOX_COMMENT_MAX)
			return (util_err(err, errlen, "user-add: a comment of "
			    "printable characters but ':', at most %d",
			    SANDBOX_COMMENT_MAX));
		r = sandbox_user_add(cl, SANDBOX_OS_HOST, user, (uid_t)uid,
		    home, sbc->sbc_shell, comment);
	} else if (strcmp(kind, "user-del") == 0) {
		if (json_unpack_ex(op, &jerr, JSON_STRICT, "{s:s, s:s, s:b}",
		    "op", &kind, "user", &user, "present", &present) == -1)
			return (util_err(err, errlen, "user-del: %s",
			    jerr.text));
		if (sandbox_ops_user(user, &name, err, errlen) == -1)
			return (-1);
		r = sandbox_user_del(cl, SANDBOX_OS_HOST, user, present);
	} else if (strcmp(kind, "files") == 0) {
		if (json_unpack_ex(op, &jerr, JSON_STRICT, "{s:s, s:I}", "op",
		    &kind, "uid", &uid) == -1)
			return (util_err(err, errlen, "files: %s", jerr.text));
		if (sandbox_ops_uid(uid, sbc, err, errlen) == -1)
			return (-1);
		r = sandbox_uid_files_cmds(cl, (uid_t)uid);
	} else if (strcmp(kind, "home-rm") == 0) {
		if (json_unpack_ex(op, &jerr, JSON_STRICT, "{s:s, s:s}", "op",
		    &kind, "home", &home) == -1)
			return (util_err(err, errlen, "home-rm: %s",
			    jerr.text));
		name = strrchr(home, '/') != NULL ? strrchr(home, '/') + 1 :
		    home;
		if (sandbox_ops_home(home, name, sbc, err, errlen) == -1)
			return (-1);
		r = sandbox_cmd_add(cl, SANDBOX_CMD_MAYFAIL, SANDBOX_RM, home,
		    (char *)NULL) == NULL ? -1 : 0;
	} else
		return (util_err(err, errlen, "no operation %s", kind));
	if (r == -1)
		return (util_err(err, errlen, "%s: cannot be built", kind));
	return (0);
}

int
sandbox_ops_uid(json_int_t uid, const struct sandbox_conf *sbc, char *err,
    size_t errlen)
{
	if (uid <= 0 || uid < sbc->sbc_uid_min || uid > sbc->sbc_uid_max)
		return (util_err(err, errlen, "uid %lld is outside the "
		    "sandbox uid-range %lu-%lu", (long long)uid,
		    (unsigned long)sbc->sbc_uid_min,
		    (unsigned long)sbc->sbc_uid_max));
	return (0);
}

static int
sandbox_ops_port(json_int_t port, const struct sandbox_conf *sbc, char *err,
    size_t errlen)
{
	if (port < sbc->sbc_port_min || port > sbc->sbc_port_max)
		return (util_err(err, errlen, "port %lld is outside the "
		    "sandbox port-range %u-%u", (long long)port,
		    (unsigned)sbc->sbc_port_min, (unsigned)sbc->sbc_port_max));
	return (0);
}

/* A sandbox as the firewall sees it: its name, uid and ports, checked. */
static int
sandbox_ops_fs(json_t *op, const struct sandbox_conf *sbc,
    struct fw_sandbox *fs, in_port_t *ports, char *err, size_t errlen)
{
	json_error_t	 jerr;
	json_t		*jp, *v;
	json_int_t	 uid;
	const char	*kind, *name;
	size_t		 i;
	int		 restricted;

	if (json_unpack_ex(op, &jerr, JSON_STRICT, "{s:s, s:s, s:I, s:o, "
	    "s:b}", "op", &kind, "name", &name, "uid", &uid, "ports", &jp,
	    "restricted", &restricted) == -1)
		return (util_err(err, errlen, "%s: %s",
		    json_string_value(json_object_get(op, "op")), jerr.text));
	if (!sandbox_name_ok(name))
		return (util_err(err, errlen, "\"%s\" is not a sandbox name",
		    name));
	if (sandbox_ops_uid(uid, sbc, err, errlen) == -1)
		return (-1);
	if (!json_is_array(jp) || json_array_size(jp) > SANDBOX_PORTS_MAX)
		return (util_err(err, errlen, "ports: a list of at most %d",
		    SANDBOX_PORTS_MAX));
	memset(fs, 0, sizeof(*fs));
	json_array_foreach(jp, i, v) {
		if (sandbox_ops_port(json_is_integer(v) ?
		    json_integer_value(v) : -1, sbc, err, errlen) == -1)
			return (-1);
		fs->fs_ports[i] = ports[i] = (in_port_t)json_integer_value(v);
	}
	fs->fs_name = name;
	fs->fs_uid = (uid_t)uid;
	fs->fs_nports = (int)json_array_size(jp);
	fs->fs_restricted = restricted;
	if (!fw_sandbox_ok(fs))
		return (util_err(err, errlen, "sandbox %s: its firewall "
		    "settings cannot be expressed", name));
	return (0);
}

/* sbx-NAME, NAME a sandbox name; *name points at NAME. */
static int
sandbox_ops_user(const char *user, const char **name, char *err,
    size_t errlen)
{
	size_t	 len = strlen(SANDBOX_USER_PREFIX);

	if (strncmp(user, SANDBOX_USER_PREFIX, len) != 0 ||
	    !sandbox_name_ok(user + len))
		return (util_err(err, errlen, "\"%s\" is not a sandbox's user "
		    "(%sNAME)", user, SANDBOX_USER_PREFIX));
	*name = user + len;
	return (0);
}

/* The home of sandbox name: directly below the homes directory. */
int
sandbox_ops_home(const char *home, const char *name,
    const struct sandbox_conf *sbc, char *err, size_t errlen)
{
	char	 want[SBXD_PATH_MAX];
	size_t	 len;

	len = strlen(sbc->sbc_home);
	while (len > 1 && sbc->sbc_home[len - 1] == '/')
		len--;
	snprintf(want, sizeof(want), "%.*s/%s", (int)len, sbc->sbc_home,
	    name);
	if (!sandbox_name_ok(name) || strcmp(home, want) != 0)
		return (util_err(err, errlen, "home %s is not a sandbox's "
		    "home below %s", home, sbc->sbc_home));
	return (0);
}

/* "cmds": build the list from its operations and run it. */
void
sandbox_priv_cmds(struct priv_req *pr, json_t *args, int *fds, int nfds)
{
	struct sandbox_cmdsrun	*cr;
	struct sandbox_cmdlist	 cl;
	json_error_t		 jerr;
	json_t			*ops;
	const char		*what;
	char			 err[512];
	int			 timeout;

	while (nfds > 0)
		close(fds[--nfds]);
	if (json_unpack_ex(args, &jerr, JSON_STRICT, "{s:o, s:i, s:s}",
	    "ops", &ops, "timeout", &timeout, "what", &what) == -1) {
		priv_refuse(pr, "bad arguments: %s", jerr.text);
		return;
	}
	if (timeout < 1 || timeout > SANDBOX_TIMEOUT_MAX || strlen(what) >
	    SANDBOX_NAME_MAX) {
		priv_refuse(pr, "bad timeout or what");
		return;
	}
	sandbox_cmdlist_init(&cl);
	if (sandbox_ops_build(ops, priv_conf(), &cl, err, sizeof(err)) ==
	    -1) {
		sandbox_cmdlist_free(&cl);
		priv_refuse(pr, "%s", err);
		return;
	}
	if ((cr = calloc(1, sizeof(*cr))) == NULL) {
		sandbox_cmdlist_free(&cl);
		priv_refuse(pr, "out of memory");
		return;
	}
	cr->cr_req = pr;
	TAILQ_INSERT_TAIL(&sandbox_cmdsruns, cr, cr_entry);
	if ((cr->cr_proc = sandbox_proc_run(&cl, timeout, what,
	    sandbox_cmds_donecb, cr)) == NULL) {
		TAILQ_REMOVE(&sandbox_cmdsruns, cr, cr_entry);
		free(cr);
		priv_refuse(pr, "out of memory");
	}
}

static void
sandbox_cmds_donecb(int status, const char *error, const char *output,
    void *arg)
{
	struct sandbox_cmdsrun	*cr = arg;

	TAILQ_REMOVE(&sandbox_cmdsruns, cr, cr_entry);
	priv_reply(cr->cr_req, json_pack("{s:i, s:s?, s:s?}", "status",
	    status, "message", error, "output", output), NULL, 0);
	free(cr);
}

/* "cancel": stop the list of a cmds request, which gets no answer. */
void
sandbox_priv_cancel(struct priv_req *pr, json_t *args, int *fds, int nfds)
{
	struct sandbox_cmdsrun	*cr;
	json_int_t		 id;

	while (nfds > 0)
		close(fds[--nfds]);
	if (json_unpack(args, "{s:I !}", "id", &id) == -1) {
		priv_refuse(pr, "bad arguments: want id");
		return;
	}
	TAILQ_FOREACH(cr, &sandbox_cmdsruns, cr_entry)
		if (priv_req_id(cr->cr_req) == (uint64_t)id)
			break;
	if (cr != NULL) {
		TAILQ_REMOVE(&sandbox_cmdsruns, cr, cr_entry);
		sandbox_proc_cancel(cr->cr_proc);
		priv_refuse(cr->cr_req, "cancelled");
		free(cr);
	}
	/* Ended already, or never: nothing runs for it now. */
	priv_reply(pr, NULL, NULL, 0);
}

/* The privileged process's end: every list stops, unanswered. */
void
sandbox_priv_shutdown(void)
{
	struct sandbox_cmdsrun	*cr;

	while ((cr = TAILQ_FIRST(&sandbox_cmdsruns)) != NULL) {
		TAILQ_REMOVE(&sandbox_cmdsruns, cr, cr_entry);
		sandbox_proc_cancel(cr->cr_proc);
		priv_refuse(cr->cr_req, "sbxd is stopping");
		free(cr);
	}
}

/*
 * "home": a sandbox's home, made as root: 0700, its user's.  Below the
 * homes directory (root's, writable by nobody else), never through a
 * link; one that is there already is an error, as today's create says.
 */
void
sandbox_priv_home(struct priv_req *pr, json_t *args, int *fds, int nfds)
{
	const struct sandbox_conf	*sbc = &priv_conf()->sc_sandbox;
	struct passwd			*pw;
	struct stat			 st;
	json_error_t			 jerr;
	json_int_t			 uid, gid;
	const char			*user, *home, *name;
	char				 err[512];
	int				 dir = -1, fd = -1;

	while (nfds > 0)
		close(fds[--nfds]);
	if (json_unpack_ex(args, &jerr, JSON_STRICT, "{s:s, s:I, s:I, s:s}",
	    "user", &user, "uid", &uid, "gid", &gid, "home", &home) == -1) {
		priv_refuse(pr, "bad arguments: %s", jerr.text);
		return;
	}
	if (!sbc->sbc_enabled ||
	    sandbox_ops_user(user, &name, err, sizeof(err)) == -1 ||
	    sandbox_ops_uid(uid, sbc, err, sizeof(err)) == -1 ||
	    sandbox_ops_uid(gid, sbc, err, sizeof(err)) == -1 ||
	    sandbox_ops_home(home, name, sbc, err, sizeof(err)) == -1) {
		priv_refuse(pr, "%s", sbc->sbc_enabled ? err :
		    "sandboxes are off");
		return;
	}
	if ((pw = getpwnam(user)) == NULL || pw->pw_uid != (uid_t)uid ||
	    pw->pw_gid != (gid_t)gid) {
		priv_refuse(pr, "user %s is not uid %lld, gid %lld", user,
		    (long long)uid, (long long)gid);
		return;
	}
	if ((dir = open(sbc->sbc_home, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1 || fstat(dir, &st) == -1) {
		priv_refuse(pr, "%s: %s", sbc->sbc_home, strerror(errno));
		goto done;
	}
	if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		priv_refuse(pr, "%s: not root's alone", sbc->sbc_home);
		goto done;
	}
	if (mkdirat(dir, name, 0700) == -1) {
		snprintf(err, sizeof(err), "mkdir %s: %s", home,
		    strerror(errno));
		priv_reply(pr, json_pack("{s:s}", "error", err), NULL, 0);
		goto done;
	}
	if ((fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1 || fchown(fd, (uid_t)uid, (gid_t)gid) == -1 ||
	    fchmod(fd, 0700) == -1) {
		snprintf(err, sizeof(err), "chown %s: %s", home,
		    strerror(errno));
		(void)unlinkat(dir, name, AT_REMOVEDIR);
		priv_reply(pr, json_pack("{s:s}", "error", err), NULL, 0);
		goto done;
	}
	priv_reply(pr, NULL, NULL, 0);
done:
	if (fd != -1)
		close(fd);
	if (dir != -1)
		close(dir);
}

/* "ipc": the System V IPC objects of a sandbox's uid, removed. */
void
sandbox_priv_ipc(struct priv_req *pr, json_t *args, int *fds, int nfds)
{
	const struct sandbox_conf	*sbc = &priv_conf()->sc_sandbox;
	json_int_t			 uid;
	char				 err[256];

	while (nfds > 0)
		close(fds[--nfds]);
	if (json_unpack(args, "{s:I !}", "uid", &uid) == -1) {
		priv_refuse(pr, "bad arguments: want uid");
		return;
	}
	if (!sbc->sbc_enabled || sandbox_ops_uid(uid, sbc, err,
	    sizeof(err)) == -1) {
		priv_refuse(pr, "%s", sbc->sbc_enabled ? err :
		    "sandboxes are off");
		return;
	}
	priv_reply(pr, json_pack("{s:i}", "removed",
	    sandbox_uid_ipc_remove((uid_t)uid)), NULL, 0);
}

/*
 * "cgroup": make or remove a cgroup directory, or write one of the
 * files the sandbox module writes.  What fails in the kernel is told
 * with its errno (EBUSY: processes still in it), not refused.
 */
void
sandbox_priv_cgroup(struct priv_req *pr, json_t *args, int *fds, int nfds)
{
	static const char	*files[] = { "memory.max", "memory.swap.max",
				    "cpu.weight", "pids.max", "cgroup.kill",
				    "memory.limit_in_bytes",
				    "memory.memsw.limit_in_bytes",
				    "cpu.shares" };
	const struct sandbox_conf *sbc = &priv_conf()->sc_sandbox;
	json_error_t		 jerr;
	const char		*action, *dir, *file = NULL, *value = NULL;
	char			 err[512], path[PATH_MAX];
	size_t			 i;
	int			 fd, r, e = 0, sub = 0;

	while (nfds > 0)
		close(fds[--nfds]);
	if (json_unpack_ex(args, &jerr, JSON_STRICT, "{s:s, s:s, s?s, s?s}",
	    "action", &action, "dir", &dir, "file", &file, "value",
	    &value) == -1) {
		priv_refuse(pr, "bad arguments: %s", jerr.text);
		return;
	}
	if (!sbc->sbc_enabled) {
		priv_refuse(pr, "sandboxes are off");
		return;
	}
	if (strcmp(action, "write") == 0) {
		if (file == NULL || value == NULL) {
			priv_refuse(pr, "write: needs file and value");
			return;
		}
		sub = strcmp(file, "cgroup.subtree_control") == 0;
		for (i = 0; !sub && i < nitems(files); i++)
			if (strcmp(file, files[i]) == 0)
				break;
		if (!sub && i == nitems(files)) {
			priv_refuse(pr, "%s is not a file sbxd writes", file);
			return;
		}
		for (i = 0; value[i] != '\0'; i++)
			if (!isalnum((unsigned char)value[i]) &&
			    value[i] != '+' && value[i] != '-')
				break;
		if (value[i] != '\0' || i == 0 || i > 32 || (sub &&
		    value[0] != '+')) {
			priv_refuse(pr, "%s: a bad value", file);
			return;
		}
	} else if ((strcmp(action, "mkdir") != 0 &&
	    strcmp(action, "rmdir") != 0) || file != NULL || value != NULL) {
		priv_refuse(pr, "action %s: not mkdir, rmdir or write",
		    action);
		return;
	}
	/* Made on the way to the parent, enabled there; else below it. */
	if (sandbox_cgroup_dir_check(dir, sbc->sbc_cgroup, 0, err,
	    sizeof(err)) == -1 && ((strcmp(action, "rmdir") == 0 || (!sub &&
	    strcmp(action, "mkdir") != 0)) || sandbox_cgroup_dir_check(dir,
	    sbc->sbc_cgroup, 1, err, sizeof(err)) == -1)) {
		priv_refuse(pr, "%s", err);
		return;
	}
	if (strcmp(action, "mkdir") == 0)
		r = mkdir(dir, 0755) == -1 && errno != EEXIST ? -1 : 0;
	else if (strcmp(action, "rmdir") == 0)
		r = rmdir(dir) == -1 && errno != ENOENT ? -1 : 0;
	else {
		snprintf(path, sizeof(path), "%s/%s", dir, file);
		r = -1;
		if ((fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC)) !=
		    -1) {
			if (write(fd, value, strlen(value)) ==
			    (ssize_t)strlen(value))
				r = 0;
			e = errno;
			close(fd);
			errno = e;
		}
	}
	e = r == -1 ? errno : 0;
	priv_reply(pr, json_pack("{s:i, s:s}", "errno", e, "message",
	    e != 0 ? strerror(e) : ""), NULL, 0);
}
