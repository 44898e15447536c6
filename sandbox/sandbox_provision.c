/*
 * sandbox_provision.c: sets up a sandbox's home so that its shells and
 * tools get the sandbox environment: ~/.sbx/env.sh with what
 * sandbox_env() gives every job of the sandbox (TMPDIR and, for a
 * restricted sandbox, the proxy); a marked block in the bash and zsh
 * profiles that sources it; the proxy for git, npm, pip and wget in
 * their own files, for the programs that do not read the environment;
 * for ssh, which never does, a ProxyCommand that tunnels through the
 * proxy with CONNECT; with a sandbox ca-file, its certificates and a
 * bundle of the system's and its own, named in the same files; and
 * with repositories, ~/.sbx/bin/gh (sandbox/gh.sh), first in PATH,
 * which relays gh's pull request commands through the gateway.
 *
 * The home belongs to the untrusted user, who may have planted symlinks
 * in it.  So the work is a job (src/job.c) that has become that user
 * (sandbox_user_job) before it touches anything inside the home: a
 * function of ours run in the child, with nothing of the daemon's open.
 * Every path is opened relative to a directory fd without following
 * symlinks; a symlink where we expect a file or directory is refused.
 * Files are replaced with a rename, and only when their content
 * changes, so provisioning again changes nothing, mtimes included.  The
 * child reports a failure on its stderr, which becomes the error.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "config.h"
#include "log.h"
#include "sbxd.h"
#include "sandbox.h"
#include "sandbox/gh_shim.h"

#define PROV_BEGIN	"# >>> sbxd >>>"	/* our block in a user file */
#define PROV_END	"# <<< sbxd <<<"
#define PROV_FILE_MAX	(1024 * 1024)	/* largest file we edit: profiles
					   are small, and a bigger one is
					   no profile of ours to rewrite */
#define PROV_URL_MAX	256		/* proxy URL, "http://host:port" */
#define PROV_ERR_MAX	512		/* error text from the child */
#define PROV_DIR_MODE	0700		/* directories we create */
#define PROV_FILE_MODE	0644		/* new profiles, as /etc/skel's */
#define PROV_ENV_MODE	0600		/* ~/.sbx/env.sh */
#define PROV_CONNECT	".sbx/connect"	/* ssh's ProxyCommand */
#define PROV_EXEC_MODE	0700		/* ~/.sbx/connect, ~/.sbx/bin/gh */
#define PROV_GH		SANDBOX_GH_BIN "/gh"	/* the gh shim */
#define PROV_CODEX_DIR	".codex"	/* Codex's CODEX_HOME by default */
#define PROV_CA_MODE	0644		/* ~/.sbx/ca.pem, ca-bundle.pem */
#define PROV_ABSENT	(-2)		/* prov_opendir_at: no such dir */
#define PROV_NOWHERE	((size_t)-1)	/* prov_block_strip: no block */
#define PROV_URL_CHARS	"abcdefghijklmnopqrstuvwxyz" \
			"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.:/[]-_%"
					/* nothing to quote in any file */

/* One provisioning, as the daemon sees it. */
struct sandbox_provjob {
	struct job		*pj_job;
	char			 pj_user[SANDBOX_USER_MAX];
	struct evbuffer		*pj_err;	/* the child's stderr */
	sandbox_prov_cb		 pj_cb;
	void			*pj_arg;
};

/* One provisioning, in the child. */
struct prov {
	const struct sandbox_prov	*pv_sp;
	int				 pv_home;	/* fd */
	char				 pv_err[PROV_ERR_MAX];
};

/*
 * A tool's own file for the proxy and the certificates, edited through
 * a marked block: pt_proxy when restricted, then pt_ca with a ca-file.
 * %1$s is the proxy URL, %2$s the home.
 */
struct prov_tool {
	const char	*pt_dir;	/* below home; NULL: home itself */
	const char	*pt_name;
	int		 pt_top;	/* a new block goes first, not last */
	const char	*pt_section;	/* our block opens this section,
					   unless the file already has it */
	const char	*pt_head;	/* opens the block, if any */
	const char	*pt_proxy;
	const char	*pt_ca;
};

/*
 * git reads repeated sections, and the last value wins: ours goes last.
 * npm's keys belong before any section.  Python's configparser refuses
 * a section given twice, so pip's joins an existing [global].  ssh
 * takes the first value it reads: ours goes first.
 */
static const struct prov_tool prov_tools[] = {
	{ NULL, ".gitconfig", 0, NULL, "[http]\n", "\tproxy = %1$s\n",
	    "\tsslCAInfo = %2$s/" SANDBOX_CA_BUNDLE "\n" },
	{ NULL, ".npmrc", 1, NULL, NULL, "proxy=%1$s\nhttps-proxy=%1$s\n",
	    "cafile=%2$s/" SANDBOX_CA_BUNDLE "\n" },
	{ ".config/pip", "pip.conf", 0, "[global]", NULL, "proxy = %1$s\n",
	    "cert = %2$s/" SANDBOX_CA_BUNDLE "\n" },
	{ NULL, ".wgetrc", 0, NULL, NULL,
	    "use_proxy = on\nhttp_proxy = %1$s\nhttps_proxy = %1$s\n",
	    "ca_certificate = %2$s/" SANDBOX_CA_BUNDLE "\n" },
	{ ".ssh", "config", 1, NULL, NULL,
	    "Host *\n\tProxyCommand /bin/bash %2$s/" PROV_CONNECT " %%h %%p\n",
	    NULL }
};

/* Where the system keeps its certificate bundle, by system. */
static const char *prov_system_cas[] = {
	"/etc/ssl/certs/ca-certificates.crt",	/* Debian, Alpine */
	"/etc/pki/tls/certs/ca-bundle.crt",	/* Fedora */
	"/etc/ssl/cert.pem"			/* macOS, the BSDs */
};

/*
 * ssh's ProxyCommand: "CONNECT host:port" to the sandbox's proxy over
 * bash's /dev/tcp, the refusal shown on stderr, else the bytes relayed
 * both ways.  %1$u is the proxy's port.
 */
static const char prov_connect[] =
    "#!/bin/bash\n"
    "# Written by sbxd: ssh's ProxyCommand, through the sandbox's proxy.\n"
    "# usage: connect host port\n"
    "exec 3<>/dev/tcp/127.0.0.1/%1$u || exit 1\n"
    "printf 'CONNECT %%s:%%s HTTP/1.1\\r\\nHost: %%s:%%s\\r\\n\\r\\n' "
    "\"$1\" \"$2\" \"$1\" \"$2\" >&3\n"
    "IFS= read -r status <&3 || exit 1\n"
    "case $status in\n"
    "\"HTTP/1.\"[01]\" 200 \"*) ;;\n"
    "*)\techo \"sbxd proxy: ${status%%$'\\r'}\" >&2\n"
    "\twhile IFS= read -r -t 5 line <&3; do\n"
    "\t\techo \"sbxd proxy: ${line%%$'\\r'}\" >&2\n"
    "\tdone\n"
    "\texit 1 ;;\n"
    "esac\n"
    "while IFS= read -r line <&3; do\n"
    "\t[ -z \"${line%%$'\\r'}\" ] && break\n"
    "done\n"
    "cat <&3 &\n"
    "exec cat >&3\n";


/*
 * Profiles that source env.sh.  The block goes first: Debian's .bashrc
 * returns early for a non-interactive shell.  bash reads .bash_profile
 * or .bash_login instead of .profile when they exist, so those get the
 * block too, but are never created.
 */
static const char *prov_profiles[] = {
	".bashrc", ".profile", ".zshrc", ".zprofile"
};
static const char *prov_profiles_ifany[] = {
	".bash_profile", ".bash_login"
};

static int	prov_check(const struct sandbox_prov *, char *, size_t);
static void	prov_outputcb(struct job *, int, struct evbuffer *, void *);
static void	prov_donecb(struct job *, int, void *);
static int	prov_run(struct prov *);
static int	prov_profile(struct prov *, const char *, int);
static int	prov_tool(struct prov *, const struct prov_tool *);
static char	*prov_env(const struct sandbox_prov *);
static char	**prov_strings(json_t *);
static int	prov_connect_write(struct prov *, int);
static int	prov_gh(struct prov *, int);
static int	prov_codex(struct prov *);
static int	prov_unlink(struct prov *, int, const char *, const char *);
static int	prov_ca(struct prov *, int);
static void	prov_quote(FILE *, const char *);
static int	prov_opendir(struct prov *, const char *, int, int *);
static int	prov_opendir_at(struct prov *, int, const char *,
		    const char *, int);
static int	prov_read(struct prov *, int, const char *, const char *,
		    char **, mode_t *);
static int	prov_edit(struct prov *, int, const char *, const char *,
		    const char *, int, const char *, int);
static char	*prov_block(const char *, const char *, int, const char *,
		    int *);
static char	*prov_block_strip(const char *, size_t *, int *);
static int	prov_line_is(const char *, const char *);
static const char *prov_line_next(const char *);
static int	prov_blank(const char *);
static int	prov_write(struct prov *, int, const char *, const char *,
		    const char *, mode_t);
static int	prov_replace(struct prov *, int, const char *, const char *,
		    const char *, mode_t);
static int	prov_error(struct prov *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));

/*
 * Provision sp's home: start a job as the sandbox user.  cb hears once,
 * from the loop, NULL when it is done or why it failed.  NULL with err
 * if it cannot start; cb is not called then.
 */
struct sandbox_provjob *
sandbox_provision(const struct sandbox_prov *sp, sandbox_prov_cb cb,
    void *arg, char *err, size_t errlen)
{
	struct sandbox_provjob	*pj;
	struct sandbox_userjob	 uj;
	struct job_spec		 js;

	if (prov_check(sp, err, errlen) == -1)
		return (NULL);
	if ((pj = calloc(1, sizeof(*pj))) == NULL ||
	    (pj->pj_err = evbuffer_new()) == NULL) {
		free(pj);
		snprintf(err, errlen, "out of memory");
		return (NULL);
	}
	snprintf(pj->pj_user, sizeof(pj->pj_user), "%s", sp->sp_as.sa_user);
	pj->pj_cb = cb;
	pj->pj_arg = arg;
	memset(&js, 0, sizeof(js));
	if (sandbox_user_job(&sp->sp_as, NULL, &js, &uj, err, errlen) == -1) {
		sandbox_provision_cancel(pj);
		return (NULL);
	}
	js.js_name = "provision";
	js.js_fn = sandbox_provision_main;
	js.js_fnname = "provision";
	js.js_fnarg = json_pack("{s:s, s:s, s:I, s:b, s:s*, s:i, s:s*, s:b}",
	    "user", sp->sp_as.sa_user, "home", sp->sp_as.sa_home,
	    "uid", (json_int_t)sp->sp_as.sa_uid, "restricted",
	    sp->sp_restricted, "proxy_url", sp->sp_proxy_url,
	    "port", (int)sp->sp_port, "ca_pem", sp->sp_ca_pem, "gh",
	    sp->sp_gh);
	if (js.js_fnarg != NULL && sp->sp_gw_env != NULL) {
		json_t	*a = json_array();
		size_t	 i;

		for (i = 0; sp->sp_gw_env[i] != NULL; i++)
			json_array_append_new(a, json_string(sp->sp_gw_env[i]));
		json_object_set_new(js.js_fnarg, "gw_env", a);
	}
	if (js.js_fnarg == NULL) {
		snprintf(err, errlen, "out of memory");
		sandbox_user_job_clear(&uj);
		sandbox_provision_cancel(pj);
		return (NULL);
	}
	js.js_timeout = SANDBOX_CMD_TIMEOUT;
	js.js_grace = 1;
	js.js_output = prov_outputcb;
	js.js_done = prov_donecb;
	js.js_arg = pj;
	pj->pj_job = job_run(&js, err, errlen);
	json_decref(js.js_fnarg);
	sandbox_user_job_clear(&uj);
	if (pj->pj_job == NULL) {
		sandbox_provision_cancel(pj);
		return (NULL);
	}
	return (pj);
}

/* Stop a provisioning; its callback is not called. */
void
sandbox_provision_cancel(struct sandbox_provjob *pj)
{
	if (pj == NULL)
		return;
	job_free(pj->pj_job);
	evbuffer_free(pj->pj_err);
	free(pj);
}

/* The child's error text, up to PROV_ERR_MAX; stdout is not used. */
static void
prov_outputcb(struct job *j __unused, int which, struct evbuffer *in,
    void *arg)
{
	struct sandbox_provjob	*pj = arg;
	size_t			 room, len = evbuffer_get_length(in);

	room = PROV_ERR_MAX - 1 - evbuffer_get_length(pj->pj_err);
	if (which == JOB_ERR && room > 0)
		evbuffer_remove_buffer(in, pj->pj_err, len < room ? len :
		    room);
	evbuffer_drain(in, evbuffer_get_length(in));
}

static void
prov_donecb(struct job *j, int status, void *arg)
{
	struct sandbox_provjob	*pj = arg;
	char			 msg[PROV_ERR_MAX], err[PROV_ERR_MAX + 64];
	size_t			 len;

	pj->pj_job = NULL;
	len = evbuffer_remove(pj->pj_err, msg, sizeof(msg) - 1);
	msg[len > 0 ? len : 0] = '\0';
	msg[strcspn(msg, "\n")] = '\0';
	if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		pj->pj_cb(NULL, pj->pj_arg);
	else {
		if (job_timedout(j))
			snprintf(err, sizeof(err), "%s: provisioning timed "
			    "out", pj->pj_user);
		else if (msg[0] != '\0')
			snprintf(err, sizeof(err), "%s: %s", pj->pj_user, msg);
		else
			snprintf(err, sizeof(err), "%s: provisioning failed "
			    "(status %d)", pj->pj_user, status);
		pj->pj_cb(err, pj->pj_arg);
	}
	sandbox_provision_cancel(pj);
}

/* What goes into shell and ini files must need no quoting there. */
static int
prov_check(const struct sandbox_prov *sp, char *err, size_t errlen)
{
	const char	*url = sp->sp_proxy_url, *home = sp->sp_as.sa_home, *p;
	struct stat	 st;

	if (sp->sp_as.sa_user == NULL || home == NULL || home[0] != '/') {
		snprintf(err, errlen, "provisioning needs a user and an "
		    "absolute home");
		return (-1);
	}
	for (p = home; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			snprintf(err, errlen, "%s: control character in home",
			    sp->sp_as.sa_user);
			return (-1);
		}
	/* The child checks again, as the user, on the directory it opens. */
	if (lstat(home, &st) == -1 || !S_ISDIR(st.st_mode) ||
	    st.st_uid != sp->sp_as.sa_uid) {
		snprintf(err, errlen, "%s: not owned by uid %ld, or not a "
		    "directory", home, (long)sp->sp_as.sa_uid);
		return (-1);
	}
	if (sp->sp_restricted && (url == NULL ||
	    strncmp(url, "http://", 7) != 0 || strlen(url) > PROV_URL_MAX ||
	    url[strspn(url, PROV_URL_CHARS)] != '\0')) {
		snprintf(err, errlen, "%s: bad proxy URL", sp->sp_as.sa_user);
		return (-1);
	}
	return (0);
}

/*
 * In the child, as the user, in the home: open it (not through a
 * symlink, and it must be the user's), do the work, and write any error
 * to stderr.  The kernel makes a process that changed its credentials
 * undumpable, so the user cannot reach it through ptrace or /proc.
 */
int
sandbox_provision_main(json_t *arg)
{
	struct sandbox_prov		 sp;
	struct prov			 pv;
	struct stat			 st;
	json_int_t			 uid;
	json_t				*gwenv = NULL;
	int				 port, r = -1;

	memset(&sp, 0, sizeof(sp));
	memset(&pv, 0, sizeof(pv));
	pv.pv_sp = &sp;
	pv.pv_home = -1;
	if (json_unpack(arg, "{s:s, s:s, s:I, s:b, s?s, s:i, s?s, s?o, s:b}",
	    "user", &sp.sp_as.sa_user, "home", &sp.sp_as.sa_home, "uid", &uid,
	    "restricted", &sp.sp_restricted, "proxy_url", &sp.sp_proxy_url,
	    "port", &port, "ca_pem", &sp.sp_ca_pem, "gw_env", &gwenv, "gh",
	    &sp.sp_gh) == -1 ||
	    sp.sp_as.sa_home[0] != '/' || uid <= 0 || port < 0 ||
	    port > 65535) {
		prov_error(&pv, "bad provisioning arguments");
		goto done;
	}
	sp.sp_as.sa_uid = (uid_t)uid;
	sp.sp_port = (in_port_t)port;
	if (json_is_array(json_object_get(arg, "gw_env")) &&
	    (sp.sp_gw_env = prov_strings(json_object_get(arg, "gw_env"))) ==
	    NULL) {
		prov_error(&pv, "bad provisioning arguments");
		goto done;
	}
	pv.pv_home = open(sp.sp_as.sa_home, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC);
	if (pv.pv_home == -1)
		prov_error(&pv, "%s: %s", sp.sp_as.sa_home, strerror(errno));
	else if (fstat(pv.pv_home, &st) == -1 ||
	    st.st_uid != sp.sp_as.sa_uid)
		prov_error(&pv, "%s: not owned by uid %ld", sp.sp_as.sa_home,
		    (long)sp.sp_as.sa_uid);
	else
		r = prov_run(&pv);
done:
	if (r == -1 && write(STDERR_FILENO, pv.pv_err,
	    strlen(pv.pv_err)) == -1)
		r = -1;		/* the exit status still tells */
	return (r);
}

/* The work, as the user. */
static int
prov_run(struct prov *pv)
{
	char	*env;
	size_t	 i;
	int	 fd, r;

	if (prov_opendir(pv, "tmp", 1, &fd) == -1)
		return (-1);
	close(fd);
	if (prov_opendir(pv, ".sbx", 1, &fd) == -1)
		return (-1);
	if ((env = prov_env(pv->pv_sp)) == NULL) {
		close(fd);
		return (prov_error(pv, "out of memory"));
	}
	r = prov_write(pv, fd, "env.sh", ".sbx/env.sh", env, PROV_ENV_MODE);
	free(env);
	if (r == 0)
		r = pv->pv_sp->sp_restricted ? prov_connect_write(pv, fd) :
		    prov_unlink(pv, fd, "connect", PROV_CONNECT);
	if (r == 0 && pv->pv_sp->sp_ca_pem != NULL)
		r = prov_ca(pv, fd);
	else if (r == 0 && (r = prov_unlink(pv, fd, "ca.pem",
	    SANDBOX_CA_CERTS)) == 0)
		r = prov_unlink(pv, fd, "ca-bundle.pem", SANDBOX_CA_BUNDLE);
	if (r == 0)
		r = prov_gh(pv, fd);
	close(fd);
	if (r == -1)
		return (-1);
	for (i = 0; i < sizeof(prov_profiles) / sizeof(*prov_profiles); i++)
		if (prov_profile(pv, prov_profiles[i], 1) == -1)
			return (-1);
	for (i = 0; i < sizeof(prov_profiles_ifany) /
	    sizeof(*prov_profiles_ifany); i++)
		if (prov_profile(pv, prov_profiles_ifany[i], 0) == -1)
			return (-1);
	for (i = 0; i < sizeof(prov_tools) / sizeof(*prov_tools); i++)
		if (prov_tool(pv, &prov_tools[i]) == -1)
			return (-1);
	return (prov_codex(pv));
}

/*
 * Codex, with the OpenAI provider: ~/.codex/config.toml's first lines
 * make the gateway Codex's model provider, a custom one, because the
 * built-in one cannot be told supports_websockets = false, without which
 * Codex tries a WebSocket five times before each session's HTTP.  Dotted
 * keys, not a [table], so that the user's own top-level keys after the
 * block stay where they are.
 */
static int
prov_codex(struct prov *pv)
{
	const struct sandbox_prov	*sp = pv->pv_sp;
	const char			*url = NULL;
	char				*body = NULL;
	size_t				 i;
	int				 fd, r;

	for (i = 0; sp->sp_gw_env != NULL && sp->sp_gw_env[i] != NULL; i++)
		if (strncmp(sp->sp_gw_env[i], "OPENAI_BASE_URL=", 16) == 0)
			url = sp->sp_gw_env[i] + 16;
	if (url != NULL && strspn(url, PROV_URL_CHARS) != strlen(url))
		return (prov_error(pv, "a gateway URL with odd characters"));
	if ((r = prov_opendir(pv, PROV_CODEX_DIR, url != NULL, &fd)) != 0)
		return (r == 1 ? 0 : -1);
	if (url != NULL && asprintf(&body, "model_provider = \"sbxd\"\n"
	    "model_providers.sbxd = { name = \"sbxd gateway\", base_url = "
	    "\"%s\", env_key = \"OPENAI_API_KEY\", wire_api = \"responses\", "
	    "supports_websockets = false }\n", url) == -1) {
		close(fd);
		return (prov_error(pv, "out of memory"));
	}
	r = prov_edit(pv, fd, "config.toml", PROV_CODEX_DIR "/config.toml",
	    body, 1, NULL, url != NULL);
	free(body);
	close(fd);
	return (r);
}

/* Make a profile source env.sh. */
static int
prov_profile(struct prov *pv, const char *name, int create)
{
	FILE	*fp;
	char	*body, *path;
	size_t	 len;
	int	 r;

	if (asprintf(&path, "%s/.sbx/env.sh", pv->pv_sp->sp_as.sa_home) == -1)
		return (prov_error(pv, "out of memory"));
	if ((fp = open_memstream(&body, &len)) == NULL) {
		free(path);
		return (prov_error(pv, "out of memory"));
	}
	fputs("# Written by sbxd: the sandbox environment.\nif [ -r ", fp);
	prov_quote(fp, path);
	fputs(" ]; then . ", fp);
	prov_quote(fp, path);
	fputs("; fi\n", fp);
	if (fclose(fp) == EOF) {
		free(path);
		return (prov_error(pv, "out of memory"));
	}
	r = prov_edit(pv, pv->pv_home, name, name, body, 1, NULL, create);
	free(body);
	free(path);
	return (r);
}

/*
 * Set a tool's proxy and certificates, or take ours out of its file
 * when it needs neither.  Then it never creates a file or directory.
 */
static int
prov_tool(struct prov *pv, const struct prov_tool *pt)
{
	const struct sandbox_prov	*sp = pv->pv_sp;
	const char			*home = sp->sp_as.sa_home;
	FILE				*fp;
	char				*body = NULL, *shown = NULL;
	size_t				 len;
	int				 fd = pv->pv_home, r, want;

	want = sp->sp_restricted || (sp->sp_ca_pem != NULL && pt->pt_ca);
	if (pt->pt_dir != NULL &&
	    (r = prov_opendir(pv, pt->pt_dir, want, &fd)) != 0)
		return (r == 1 ? 0 : -1);
	if (want) {
		if ((fp = open_memstream(&body, &len)) == NULL)
			goto nomem;
		if (pt->pt_head != NULL)
			fputs(pt->pt_head, fp);
		if (sp->sp_restricted)
			fprintf(fp, pt->pt_proxy, sp->sp_proxy_url, home);
		if (sp->sp_ca_pem != NULL && pt->pt_ca != NULL)
			fprintf(fp, pt->pt_ca, sp->sp_proxy_url, home);
		if (fclose(fp) == EOF) {
			free(body);
			body = NULL;
			goto nomem;
		}
	}
	if (pt->pt_dir != NULL ? asprintf(&shown, "%s/%s", pt->pt_dir,
	    pt->pt_name) == -1 : (shown = strdup(pt->pt_name)) == NULL)
		goto nomem;
	r = prov_edit(pv, fd, pt->pt_name, shown, body, pt->pt_top,
	    pt->pt_section, want);
	free(shown);
	free(body);
	if (fd != pv->pv_home)
		close(fd);
	return (r);
nomem:
	free(body);
	if (fd != pv->pv_home)
		close(fd);
	return (prov_error(pv, "out of memory"));
}

/* Remove a file of ours that is no longer wanted; gone already is fine. */
static int
prov_unlink(struct prov *pv, int dirfd, const char *name, const char *shown)
{
	if (unlinkat(dirfd, name, 0) == -1 && errno != ENOENT)
		return (prov_error(pv, "%s: %s", shown, strerror(errno)));
	return (0);
}

/* ~/.sbx/connect, ssh's ProxyCommand. */
static int
prov_connect_write(struct prov *pv, int dirfd)
{
	char	*text;
	int	 r;

	if (asprintf(&text, prov_connect, (unsigned)pv->pv_sp->sp_port) == -1)
		return (prov_error(pv, "out of memory"));
	r = prov_write(pv, dirfd, "connect", PROV_CONNECT, text,
	    PROV_EXEC_MODE);
	free(text);
	return (r);
}

/*
 * ~/.sbx/bin/gh, the gh shim, in a sandbox with repositories; taken out
 * of one without (its directory stays).
 */
static int
prov_gh(struct prov *pv, int dirfd)
{
	int	 fd, r;

	fd = prov_opendir_at(pv, dirfd, "bin", SANDBOX_GH_BIN,
	    pv->pv_sp->sp_gh);
	if (fd == PROV_ABSENT)
		return (0);
	if (fd == -1)
		return (-1);
	if (pv->pv_sp->sp_gh)
		r = prov_write(pv, fd, "gh", PROV_GH, prov_gh_shim,
		    PROV_EXEC_MODE);
	else
		r = prov_unlink(pv, fd, "gh", PROV_GH);
	close(fd);
	return (r);
}

/*
 * ~/.sbx/ca.pem, the ca-file's certificates, and ~/.sbx/ca-bundle.pem,
 * the system's bundle (read as the user: it is readable by all) with
 * them: the clients that take one file get the public CAs too.
 */
static int
prov_ca(struct prov *pv, int dirfd)
{
	const char	*pem = pv->pv_sp->sp_ca_pem;
	FILE		*in, *fp;
	char		*bundle, buf[8192];
	size_t		 len, n, i;
	int		 r;

	if (prov_write(pv, dirfd, "ca.pem", SANDBOX_CA_CERTS, pem,
	    PROV_CA_MODE) == -1)
		return (-1);
	if ((fp = open_memstream(&bundle, &len)) == NULL)
		return (prov_error(pv, "out of memory"));
	for (i = 0; i < nitems(prov_system_cas); i++) {
		if ((in = fopen(prov_system_cas[i], "re")) == NULL)
			continue;
		while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
			fwrite(buf, 1, n, fp);
		fclose(in);
		fputc('\n', fp);
		break;
	}
	fputs(pem, fp);
	if (fclose(fp) == EOF) {
		free(bundle);
		return (prov_error(pv, "out of memory"));
	}
	r = prov_write(pv, dirfd, "ca-bundle.pem", SANDBOX_CA_BUNDLE, bundle,
	    PROV_CA_MODE);
	free(bundle);
	return (r);
}

/*
 * env.sh.  When restricted, NO_PROXY and no_proxy are unset, not set to
 * "localhost,127.0.0.1" as is usual: loopback goes to the proxy too,
 * which allows the loopback ports the sandbox may reach and refuses the
 * rest, where a direct connection would meet only the firewall and fail
 * without a reason.  (Some clients, Go's among them, never proxy
 * loopback; for them the firewall decides.)  NULL if memory ran out.
 */
static char *
prov_env(const struct sandbox_prov *sp)
{
	FILE			*fp;
	char			*text, **env, *eq;
	size_t			 len, i;

	if ((env = sandbox_env(sp->sp_as.sa_home, sp->sp_restricted,
	    sp->sp_port, sp->sp_ca_pem != NULL)) == NULL)
		return (NULL);
	if ((fp = open_memstream(&text, &len)) == NULL) {
		sandbox_env_free(env);
		return (NULL);
	}
	fputs("# The sandbox environment, sourced by the shell profiles.\n"
	    "# Written by sbxd: changes here are lost.\n", fp);
	for (i = 0; env[i] != NULL; i++) {
		eq = strchr(env[i], '=');
		fprintf(fp, "export %.*s=", (int)(eq - env[i]), env[i]);
		prov_quote(fp, eq + 1);
		fputc('\n', fp);
	}
	for (i = 0; sp->sp_gw_env != NULL && sp->sp_gw_env[i] != NULL; i++) {
		eq = strchr(sp->sp_gw_env[i], '=');
		fprintf(fp, "export %.*s=", (int)(eq - sp->sp_gw_env[i]),
		    sp->sp_gw_env[i]);
		prov_quote(fp, eq + 1);
		fputc('\n', fp);
	}
	/* The gateway is reached directly: its variables set NO_PROXY. */
	if (sp->sp_restricted && sp->sp_gw_env == NULL)
		fputs("unset NO_PROXY no_proxy\n", fp);
	/* The gh shim first in PATH (/etc/profile may reset it), once. */
	if (sp->sp_gh) {
		fputs("case \":$PATH:\" in\n*:", fp);
		prov_quote(fp, sp->sp_as.sa_home);
		fputs("/" SANDBOX_GH_BIN ":*) ;;\n*) export PATH=", fp);
		prov_quote(fp, sp->sp_as.sa_home);
		fputs("/" SANDBOX_GH_BIN ":\"$PATH\" ;;\nesac\n", fp);
	}
	sandbox_env_free(env);
	if (fclose(fp) == EOF) {
		free(text);
		return (NULL);
	}
	return (text);
}

/*
 * The NAME=VALUE strings of an array, each of them with its '=', as a
 * NULL-terminated vector borrowing the array's strings; NULL if one is
 * not such a string.  The child exits soon after: never freed.
 */
static char **
prov_strings(json_t *a)
{
	json_t	*v;
	char	**out;
	size_t	 i;

	if ((out = calloc(json_array_size(a) + 1, sizeof(*out))) == NULL)
		return (NULL);
	json_array_foreach(a, i, v) {
		if (!json_is_string(v) || strchr(json_string_value(v), '=') ==
		    NULL || strchr(json_string_value(v), '\n') != NULL) {
			free(out);
			return (NULL);
		}
		out[i] = (char *)json_string_value(v);
	}
	return (out);
}

/* s in single quotes for sh. */
static void
prov_quote(FILE *fp, const char *s)
{
	fputc('\'', fp);
	for (; *s != '\0'; s++) {
		if (*s == '\'')
			fputs("'\\''", fp);
		else
			fputc(*s, fp);
	}
	fputc('\'', fp);
}

/*
 * Open (and with create, make) the directory path below the home, one
 * component at a time.  0 with *fdp, 1 if it does not exist and create
 * is off, or -1.
 */
static int
prov_opendir(struct prov *pv, const char *path, int create, int *fdp)
{
	char	*copy, *comp, *rest;
	int	 fd = pv->pv_home, nfd = -1;

	if ((copy = rest = strdup(path)) == NULL)
		return (prov_error(pv, "out of memory"));
	while ((comp = strsep(&rest, "/")) != NULL) {
		nfd = prov_opendir_at(pv, fd, comp, path, create);
		if (fd != pv->pv_home)
			close(fd);
		if (nfd < 0)
			break;
		fd = nfd;
	}
	free(copy);
	if (nfd < 0)
		return (nfd == PROV_ABSENT ? 1 : -1);
	*fdp = nfd;
	return (0);
}

/*
 * One step of prov_opendir: comp below fd, refusing a symlink and what
 * the user does not own.  The fd, PROV_ABSENT, or -1.
 */
static int
prov_opendir_at(struct prov *pv, int fd, const char *comp, const char *path,
    int create)
{
	struct stat	 st;
	int		 nfd;

	if (create && mkdirat(fd, comp, PROV_DIR_MODE) == -1 &&
	    errno != EEXIST)
		return (prov_error(pv, "~/%s: %s", path, strerror(errno)));
	nfd = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (nfd == -1 && errno == ENOENT && !create)
		return (PROV_ABSENT);
	if (nfd == -1 && fstatat(fd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISLNK(st.st_mode))
		return (prov_error(pv, "~/%s is a symlink: refused", path));
	if (nfd == -1)
		return (prov_error(pv, "~/%s: %s", path, strerror(errno)));
	if (fstat(nfd, &st) == -1 || st.st_uid != geteuid()) {
		close(nfd);
		return (prov_error(pv, "~/%s: not owned by the user", path));
	}
	/* Ours are private; a user's own keeps its mode. */
	if ((strcmp(path, ".sbx") == 0 || strcmp(path, "tmp") == 0 ||
	    strcmp(path, SANDBOX_GH_BIN) == 0) &&
	    (st.st_mode & 07777) != PROV_DIR_MODE &&
	    fchmod(nfd, PROV_DIR_MODE) == -1) {
		close(nfd);
		return (prov_error(pv, "~/%s: %s", path, strerror(errno)));
	}
	return (nfd);
}

/*
 * Read a regular file, not through a symlink.  0 with *text (the
 * caller frees it) and *mode, 1 if there is none, or -1.
 */
static int
prov_read(struct prov *pv, int dirfd, const char *name, const char *shown,
    char **text, mode_t *mode)
{
	struct stat	 st;
	ssize_t		 n;
	size_t		 len = 0;
	int		 fd;

	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_NOCTTY | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT)
		return (1);
	if (fd == -1 && (errno == ELOOP || errno == EMLINK))
		return (prov_error(pv, "~/%s is a symlink: refused", shown));
	if (fd == -1)
		return (prov_error(pv, "~/%s: %s", shown, strerror(errno)));
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > PROV_FILE_MAX) {
		close(fd);
		return (prov_error(pv, "~/%s: not a regular file of at most "
		    "%d bytes", shown, PROV_FILE_MAX));
	}
	if ((*text = malloc(st.st_size + 1)) == NULL) {
		close(fd);
		return (prov_error(pv, "out of memory"));
	}
	while ((size_t)st.st_size > len &&
	    (n = read(fd, *text + len, st.st_size - len)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			close(fd);
			free(*text);
			return (prov_error(pv, "~/%s: %s", shown,
			    strerror(errno)));
		}
		len += n;
	}
	(*text)[len] = '\0';
	*mode = st.st_mode & 07777;
	close(fd);
	return (0);
}

/*
 * Put body into name's marked block, or with body NULL take the block
 * out (and the file, if nothing else is left in it).
 */
static int
prov_edit(struct prov *pv, int dirfd, const char *name, const char *shown,
    const char *body, int top, const char *section, int create)
{
	char	*old = NULL, *new = NULL;
	mode_t	 mode = PROV_FILE_MODE;
	int	 r, unclosed;

	if ((r = prov_read(pv, dirfd, name, shown, &old, &mode)) == -1)
		return (-1);
	if (r == 1 && (!create || body == NULL))
		return (0);
	if ((new = prov_block(r == 1 ? "" : old, body, top, section,
	    &unclosed)) == NULL && unclosed)
		r = prov_error(pv, "~/%s: \"%s\" without \"%s\"", shown,
		    PROV_BEGIN, PROV_END);
	else if (new == NULL)
		r = prov_error(pv, "out of memory");
	else if (r == 0 && strcmp(old, new) == 0)
		r = 0;
	else if (body == NULL && prov_blank(new) &&
	    unlinkat(dirfd, name, 0) == -1)
		r = prov_error(pv, "~/%s: %s", shown, strerror(errno));
	else if (body == NULL && prov_blank(new))
		r = 0;
	else
		r = prov_replace(pv, dirfd, name, shown, new, mode);
	free(old);
	free(new);
	return (r);
}

/*
 * text with our blocks taken out and, unless body is NULL, one block
 * put back: where the first one was, else after the user's own section
 * header, else first or last.  NULL if a block is not closed
 * (*unclosed is 1) or memory ran out.
 */
static char *
prov_block(const char *text, const char *body, int top, const char *section,
    int *unclosed)
{
	FILE		*fp;
	char		*out, *user;
	const char	*p, *at = NULL, *header = NULL;
	size_t		 len, pos;

	if ((user = prov_block_strip(text, &pos, unclosed)) == NULL ||
	    body == NULL)
		return (user);
	for (p = user; section != NULL && *p != '\0'; p = prov_line_next(p))
		if (prov_line_is(p, section)) {
			at = prov_line_next(p);
			break;
		}
	if (at == NULL) {
		header = section;
		at = pos != PROV_NOWHERE ? user + pos : top ? user :
		    user + strlen(user);
	}
	if ((fp = open_memstream(&out, &len)) == NULL) {
		free(user);
		return (NULL);
	}
	fwrite(user, 1, at - user, fp);
	if (at > user && at[-1] != '\n')
		fputc('\n', fp);
	fprintf(fp, "%s\n%s%s%s%s\n%s", PROV_BEGIN,
	    header != NULL ? header : "", header != NULL ? "\n" : "", body,
	    PROV_END, at);
	free(user);
	if (fclose(fp) == EOF) {
		free(out);
		return (NULL);
	}
	return (out);
}

/*
 * text without our blocks, and in *pos where the first one was (or
 * PROV_NOWHERE).  NULL if a block is not closed (*unclosed is 1) or
 * memory ran out.
 */
static char *
prov_block_strip(const char *text, size_t *pos, int *unclosed)
{
	FILE		*fp;
	char		*user;
	const char	*p, *end;
	size_t		 len;

	*pos = PROV_NOWHERE;
	*unclosed = 0;
	if ((fp = open_memstream(&user, &len)) == NULL)
		return (NULL);
	for (p = text; *p != '\0'; p = prov_line_next(p)) {
		if (!prov_line_is(p, PROV_BEGIN)) {
			fwrite(p, 1, prov_line_next(p) - p, fp);
			continue;
		}
		for (end = p; *end != '\0' && !prov_line_is(end, PROV_END);)
			end = prov_line_next(end);
		if (*end == '\0') {
			fclose(fp);
			free(user);
			*unclosed = 1;
			return (NULL);
		}
		if (*pos == PROV_NOWHERE && fflush(fp) == 0)
			*pos = len;
		p = end;
	}
	if (fclose(fp) == EOF) {
		free(user);
		return (NULL);
	}
	return (user);
}

/* Whether the line at p is s, give or take trailing blanks. */
static int
prov_line_is(const char *p, const char *s)
{
	size_t	 len = strlen(s);

	if (strncmp(p, s, len) != 0)
		return (0);
	p += len;
	p += strspn(p, " \t\r");
	return (*p == '\n' || *p == '\0');
}

/* The start of the next line, or the terminating NUL. */
static const char *
prov_line_next(const char *p)
{
	const char	*nl = strchr(p, '\n');

	return (nl != NULL ? nl + 1 : p + strlen(p));
}

static int
prov_blank(const char *s)
{
	return (s[strspn(s, " \t\r\n")] == '\0');
}

/* Give name the content text, unless it has it already. */
static int
prov_write(struct prov *pv, int dirfd, const char *name, const char *shown,
    const char *text, mode_t mode)
{
	char	*old = NULL;
	mode_t	 oldmode;
	int	 r;

	if ((r = prov_read(pv, dirfd, name, shown, &old, &oldmode)) == -1)
		return (-1);
	if (r == 0 && strcmp(old, text) == 0 && oldmode == mode)
		r = 0;
	else
		r = prov_replace(pv, dirfd, name, shown, text, mode);
	free(old);
	return (r);
}

/*
 * Replace name atomically: a new file, never an existing one (O_EXCL,
 * O_NOFOLLOW), synced, then renamed over it.
 */
static int
prov_replace(struct prov *pv, int dirfd, const char *name, const char *shown,
    const char *text, mode_t mode)
{
	char		 tmp[256];
	size_t		 len = strlen(text), off = 0;
	ssize_t		 n;
	int		 fd, tries;

	snprintf(tmp, sizeof(tmp), ".%s.sbxd-%ld", name, (long)getpid());
	for (tries = 0; tries < 2; tries++) {
		fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, mode);
		if (fd != -1 || errno != EEXIST)
			break;
		(void)unlinkat(dirfd, tmp, 0);	/* a crashed run's */
	}
	if (fd == -1)
		return (prov_error(pv, "~/%s: %s", shown, strerror(errno)));
	while (off < len) {
		if ((n = write(fd, text + off, len - off)) == -1 &&
		    errno != EINTR)
			break;
		off += n > 0 ? n : 0;
	}
	if (off < len || fchmod(fd, mode) == -1 || fsync(fd) == -1) {
		prov_error(pv, "~/%s: %s", shown, strerror(errno));
		close(fd);
		(void)unlinkat(dirfd, tmp, 0);
		return (-1);
	}
	if (close(fd) == -1 || renameat(dirfd, tmp, dirfd, name) == -1) {
		prov_error(pv, "~/%s: %s", shown, strerror(errno));
		(void)unlinkat(dirfd, tmp, 0);
		return (-1);
	}
	(void)fsync(dirfd);	/* the rename itself; best effort */
	return (0);
}

static int
prov_error(struct prov *pv, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(pv->pv_err, sizeof(pv->pv_err), fmt, ap);
	va_end(ap);
	return (-1);
}
