/*
 * test_sandbox_provision.c: provisioning a home: the files a restricted
 * sandbox gets, a second run that changes nothing, switching to
 * unrestricted, the user's own lines kept, planted symlinks refused,
 * the gh shim of a sandbox with repositories, and, as root, a real
 * throwaway user whose files it owns.  Provisioning
 * is a job as the home's user: the user tests run as that user (as
 * ourselves without root, as a throwaway user with it).
 */

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "sbxd.h"
#include "sandbox.h"
#include "unit.h"

#define T_URL		"http://127.0.0.1:3128"
#define T_UID_FIRST	60925	/* throwaway user: an unused uid here */
#define T_UID_LAST	60949

/* Every file provisioning may write, below the home. */
static const char *t_files[] = {
	".sbx/env.sh", ".bashrc", ".profile", ".zshrc", ".zprofile",
	".gitconfig", ".npmrc", ".config/pip/pip.conf", ".wgetrc",
	".ssh/config", ".sbx/connect", ".sbx/ca.pem", ".sbx/ca-bundle.pem"
};
#define T_NFILES	(sizeof(t_files) / sizeof(*t_files))

/* What a file was: its content, inode and mtime. */
struct t_snap {
	char		*text;		/* NULL: absent */
	ino_t		 ino;
	struct timespec	 mtime;
};

static struct sbxd	 env;
static struct unit_user	 t_user;
static char	*dir;		/* the test's temp dir */
static char	*home;		/* dir/home */
static char	*outside;	/* dir/outside: where symlinks point */

struct provres {
	int	 done;
	char	*error;
};

static void
provcb(const char *error, void *arg)
{
	struct provres	*pr = arg;

	pr->done++;
	pr->error = error != NULL ? strdup(error) : NULL;
}

/*
 * Provision sp and wait for the job: 0, or -1 with err.  The callback
 * must come once, from the loop, never from inside sandbox_provision.
 */
static int
provision(const struct sandbox_prov *sp, char *err, size_t errlen)
{
	struct provres	 pr = { 0, NULL };
	time_t		 end = time(NULL) + 30;
	int		 r = -1;

	if (sandbox_provision(sp, provcb, &pr, err, errlen) == NULL)
		return (-1);
	if (pr.done != 0) {
		snprintf(err, errlen, "callback from inside the call");
		return (-1);
	}
	while (pr.done == 0 && time(NULL) < end)
		event_base_loop(env.sx_base, EVLOOP_ONCE);
	if (pr.done != 1)
		snprintf(err, errlen, "no end after 30 s");
	else if (pr.error != NULL)
		snprintf(err, errlen, "%s", pr.error);
	else
		r = 0;
	free(pr.error);
	return (r);
}

static int
setup(struct sandbox_prov *sp)
{
	if (env.sx_base == NULL)
		env.sx_base = event_base_new();
	sbxd_env = &env;
	if ((dir = unit_tmpdir()) == NULL ||
	    asprintf(&home, "%s/home", dir) == -1 ||
	    asprintf(&outside, "%s/outside", dir) == -1 ||
	    mkdir(home, 0755) == -1 || mkdir(outside, 0755) == -1)
		return (-1);
	memset(sp, 0, sizeof(*sp));
	sp->sp_as.sa_user = "tester";
	sp->sp_as.sa_uid = getuid();
	sp->sp_as.sa_gid = getgid();
	sp->sp_as.sa_home = home;
	sp->sp_as.sa_shell = "/bin/sh";
	sp->sp_restricted = 1;
	sp->sp_proxy_url = T_URL;
	sp->sp_port = 3128;
	return (0);
}

static void
teardown(void)
{
	unit_rmtree(dir);
	free(dir);
	free(home);
	free(outside);
	dir = home = outside = NULL;
}

/* base/name's content, or NULL. */
static char *
t_read(const char *base, const char *name)
{
	char	*path, *text = NULL;
	FILE	*fp;
	long	 len;

	if (asprintf(&path, "%s/%s", base, name) == -1)
		return (NULL);
	if ((fp = fopen(path, "r")) != NULL) {
		if (fseek(fp, 0, SEEK_END) == 0 && (len = ftell(fp)) >= 0 &&
		    fseek(fp, 0, SEEK_SET) == 0 &&
		    (text = calloc(1, len + 1)) != NULL &&
		    fread(text, 1, len, fp) != (size_t)len) {
			free(text);
			text = NULL;
		}
		fclose(fp);
	}
	free(path);
	return (text);
}

static int
t_write(const char *base, const char *name, const char *text)
{
	char	*path;
	int	 r;

	if (asprintf(&path, "%s/%s", base, name) == -1)
		return (-1);
	r = unit_write(path, text);
	free(path);
	return (r);
}

static int
t_stat(const char *base, const char *name, struct stat *st)
{
	char	*path;
	int	 r;

	if (asprintf(&path, "%s/%s", base, name) == -1)
		return (-1);
	r = lstat(path, st);
	free(path);
	return (r);
}

static int
t_symlink(const char *target, const char *name)
{
	char	*path;
	int	 r;

	if (asprintf(&path, "%s/%s", home, name) == -1)
		return (-1);
	r = symlink(target, path);
	free(path);
	return (r);
}

/* Occurrences of s in text. */
static int
t_count(const char *text, const char *s)
{
	int	 n = 0;

	while (text != NULL && (text = strstr(text, s)) != NULL) {
		n++;
		text += strlen(s);
	}
	return (n);
}

static void
t_snap_take(struct t_snap *snap)
{
	struct stat	 st;
	size_t		 i;

	for (i = 0; i < T_NFILES; i++) {
		memset(&snap[i], 0, sizeof(snap[i]));
		if (t_stat(home, t_files[i], &st) == -1)
			continue;
		snap[i].text = t_read(home, t_files[i]);
		snap[i].ino = st.st_ino;
		snap[i].mtime = st.st_mtim;
	}
}

static void
t_snap_free(struct t_snap *snap)
{
	size_t	 i;

	for (i = 0; i < T_NFILES; i++) {
		free(snap[i].text);
		snap[i].text = NULL;
	}
}

/* The index of the first file that differs from snap, or -1. */
static int
t_snap_diff(const struct t_snap *snap)
{
	struct t_snap	 now[T_NFILES];
	size_t		 i;
	int		 diff = -1;

	t_snap_take(now);
	for (i = 0; i < T_NFILES && diff == -1; i++) {
		if ((snap[i].text == NULL) != (now[i].text == NULL) ||
		    (snap[i].text != NULL &&
		    (strcmp(snap[i].text, now[i].text) != 0 ||
		    snap[i].ino != now[i].ino ||
		    snap[i].mtime.tv_sec != now[i].mtime.tv_sec ||
		    snap[i].mtime.tv_nsec != now[i].mtime.tv_nsec)))
			diff = i;
	}
	t_snap_free(now);
	if (diff != -1)
		fprintf(stderr, "  changed: %s\n", t_files[diff]);
	return (diff);
}

/* Whether no file in the home mentions the proxy. */
static int
t_no_proxy(void)
{
	char	*text;
	size_t	 i;
	int	 n = 0;

	for (i = 0; i < T_NFILES; i++) {
		text = t_read(home, t_files[i]);
		n += t_count(text, "3128") + t_count(text, "PROXY") +
		    t_count(text, "proxy");
		free(text);
	}
	return (n == 0);
}

/* Each profile holds exactly one block. */
static int
t_blocks_single(void)
{
	char	*text;
	size_t	 i;
	int	 bad = 0;

	for (i = 1; i <= 4; i++) {
		text = t_read(home, t_files[i]);
		if (t_count(text, "# >>> sbxd >>>\n") != 1 ||
		    t_count(text, "# <<< sbxd <<<\n") != 1 ||
		    t_count(text, "/.sbx/env.sh'") != 2)
			bad++;
		free(text);
	}
	return (bad == 0);
}

static int
test_restricted(void)
{
	struct sandbox_prov	 sp;
	struct t_snap		 snap[T_NFILES];
	struct stat		 st;
	char			 err[256], *text = NULL, *want = NULL;
	int			 ret = -1;

	memset(snap, 0, sizeof(snap));
	CHECK(setup(&sp) == 0);
	CHECK_INT(provision(&sp, err, sizeof(err)), 0);

	CHECK((text = t_read(home, ".sbx/env.sh")) != NULL);
	CHECK(asprintf(&want, "export TMPDIR='%s/tmp'\n", home) != -1);
	CHECK(strstr(text, want) != NULL);
	CHECK(strstr(text, "export HTTP_PROXY='" T_URL "'\n") != NULL);
	CHECK(strstr(text, "export HTTPS_PROXY='" T_URL "'\n") != NULL);
	CHECK(strstr(text, "export http_proxy='" T_URL "'\n") != NULL);
	CHECK(strstr(text, "export https_proxy='" T_URL "'\n") != NULL);
	CHECK(strstr(text, "unset NO_PROXY no_proxy\n") != NULL);
	CHECK(strstr(text, "export NODE_USE_ENV_PROXY='1'\n") != NULL);
	CHECK(strstr(text, "SSL_CERT_FILE") == NULL);
	free(text);
	text = NULL;
	CHECK((text = t_read(home, ".wgetrc")) != NULL);
	CHECK_STR(text, "# >>> sbxd >>>\nuse_proxy = on\nhttp_proxy = " T_URL
	    "\nhttps_proxy = " T_URL "\n# <<< sbxd <<<\n");
	free(text);
	free(want);
	CHECK(asprintf(&want, "# >>> sbxd >>>\nHost *\n\tProxyCommand "
	    "/bin/bash %s/.sbx/connect %%h %%p\n# <<< sbxd <<<\n", home) != -1);
	CHECK((text = t_read(home, ".ssh/config")) != NULL);
	CHECK_STR(text, want);
	free(text);
	CHECK(t_stat(home, ".ssh", &st) == 0 && S_ISDIR(st.st_mode));
	CHECK_INT(st.st_mode & 07777, 0700);
	CHECK((text = t_read(home, ".sbx/connect")) != NULL);
	CHECK(strncmp(text, "#!/bin/bash\n", 12) == 0);
	CHECK(strstr(text, "exec 3<>/dev/tcp/127.0.0.1/3128 ") != NULL);
	free(text);
	CHECK(t_stat(home, ".sbx/connect", &st) == 0);
	CHECK_INT(st.st_mode & 07777, 0700);
	free(want);
	CHECK(asprintf(&want, "export TMPDIR='%s/tmp'\n", home) != -1);
	text = NULL;
	CHECK(t_stat(home, ".sbx", &st) == 0 && S_ISDIR(st.st_mode));
	CHECK_INT(st.st_mode & 07777, 0700);
	CHECK(t_stat(home, "tmp", &st) == 0 && S_ISDIR(st.st_mode));
	CHECK_INT(st.st_mode & 07777, 0700);
	CHECK(t_blocks_single());

	CHECK((text = t_read(home, ".gitconfig")) != NULL);
	CHECK_STR(text, "# >>> sbxd >>>\n[http]\n\tproxy = " T_URL "\n"
	    "# <<< sbxd <<<\n");
	free(text);
	CHECK((text = t_read(home, ".npmrc")) != NULL);
	CHECK_STR(text, "# >>> sbxd >>>\nproxy=" T_URL "\nhttps-proxy="
	    T_URL "\n# <<< sbxd <<<\n");
	free(text);
	CHECK((text = t_read(home, ".config/pip/pip.conf")) != NULL);
	CHECK_STR(text, "# >>> sbxd >>>\n[global]\nproxy = " T_URL "\n"
	    "# <<< sbxd <<<\n");
	free(text);
	text = NULL;

	/* Again: not one file touched, not even renamed over. */
	t_snap_take(snap);
	CHECK_INT(provision(&sp, err, sizeof(err)), 0);
	CHECK_INT(t_snap_diff(snap), -1);
	t_snap_free(snap);

	/* Unrestricted: the proxy is gone, the profiles keep one block. */
	sp.sp_restricted = 0;
	sp.sp_proxy_url = NULL;
	CHECK_INT(provision(&sp, err, sizeof(err)), 0);
	CHECK(t_no_proxy());
	CHECK(t_blocks_single());
	CHECK(t_stat(home, ".gitconfig", &st) == -1 && errno == ENOENT);
	CHECK(t_stat(home, ".npmrc", &st) == -1 && errno == ENOENT);
	CHECK(t_stat(home, ".config/pip/pip.conf", &st) == -1 &&
	    errno == ENOENT);
	CHECK(t_stat(home, ".wgetrc", &st) == -1 && errno == ENOENT);
	CHECK(t_stat(home, ".ssh/config", &st) == -1 && errno == ENOENT);
	CHECK(t_stat(home, ".sbx/connect", &st) == -1 && errno == ENOENT);
	CHECK((text = t_read(home, ".sbx/env.sh")) != NULL);
	CHECK(strstr(text, want) != NULL);
	t_snap_take(snap);
	CHECK_INT(provision(&sp, err, sizeof(err)), 0);
	CHECK_INT(t_snap_diff(snap), -1);
	t_snap_free(snap);

	/* And back. */
	sp.sp_restricted = 1;
	sp.sp_proxy_url = T_URL;
	CHECK_INT(provision(&sp, err, sizeof(err)), 0);
	CHECK(t_blocks_single());
	free(text);
	CHECK((text = t_read(home, ".npmrc")) != NULL);
	CHECK_INT(t_count(text, "https-proxy=" T_URL "\n"), 1);
	ret = 0;
end:
	if (ret == -1)
		fprintf(stderr, "  provision: %s\n", err);
	t_snap_free(snap);
	free(text);
	free(want);
	teardown();
	return (ret);
}

/*
 * With a ca-file: its certificates, the system's bundle with them, and
 * every client told, restricted or not; without, all of it goes.
 */
static int
test_ca(void)
{
	static const char	*pem = "-----BEGIN CERTIFICATE-----\nTEST\n"
				    "-----END CERTIFICATE-----\n";
	struct sandbox_prov	 sp;
	struct stat		 st;
	char			 err[256], *text = NULL, *want = NULL;
	const char		*p;
	int			 ret = -1;

	CHECK(setup(&sp) == 0);
	sp.sp_ca_pem = pem;
	CHECK_INT(provision(&sp, err, sizeof(err)), 0);
	CHECK((text = t_read(home, ".sbx/ca.pem")) != NULL);
	CHECK_STR(text, pem);
	free(text);
	CHECK(t_stat(home, ".sbx/ca.pem", &st) == 0);
	CHECK_INT(st.st_mode & 07777, 0644);
	CHECK((text = t_read(home, ".sbx/ca-bundle.pem")) != NULL);
	CHECK(strlen(text) >= strlen(pem) &&
	    strcmp(text + strlen(text) - strlen(pem), pem) == 0);
	if (access("/etc/ssl/certs/ca-certificates.crt", R_OK) == 0)
		CHECK(t_count(text, "-----BEGIN CERTIFICATE-----") > 10);
	free(text);
	CHECK((text = t_read(home, ".sbx/env.sh")) != NULL);
	for (p = "SSL_CERT_FILE\0CURL_CA_BUNDLE\0GIT_SSL_CAINFO\0"
	    "REQUESTS_CA_BUNDLE\0PIP_CERT\0"; *p != '\0'; p += strlen(p) + 1) {
		free(want);
		CHECK(asprintf(&want, "export %s='%s/.sbx/ca-bundle.pem'\n", p,
		    home) != -1);
		CHECK(strstr(text, want) != NULL);
	}
	free(want);
	CHECK(asprintf(&want, "export NODE_EXTRA_CA_CERTS='%s/.sbx/ca.pem'\n",
	    home) != -1);
	CHECK(strstr(text, want) != NULL);
	free(text);
	free(want);
	CHECK(asprintf(&want, "# >>> sbxd >>>\n[http]\n\tproxy = " T_URL
	    "\n\tsslCAInfo = %s/.sbx/ca-bundle.pem\n# <<< sbxd <<<\n",
	    home) != -1);
	CHECK((text = t_read(home, ".gitconfig")) != NULL);
	CHECK_STR(text, want);
	free(text);
	free(want);
	CHECK(asprintf(&want, "cert = %s/.sbx/ca-bundle.pem\n", home) != -1);
	CHECK((text = t_read(home, ".config/pip/pip.conf")) != NULL);
	CHECK(strstr(text, want) != NULL);
	free(text);
	free(want);
	CHECK(asprintf(&want, "cafile=%s/.sbx/ca-bundle.pem\n", home) != -1);
	CHECK((text = t_read(home, ".npmrc")) != NULL);
	CHECK(strstr(text, want) != NULL);
	free(text);
	free(want);
	CHECK(asprintf(&want, "ca_certificate = %s/.sbx/ca-bundle.pem\n",
	    home) != -1);
	CHECK((text = t_read(home, ".wgetrc")) != NULL);
	CHECK(strstr(text, want) != NULL);
	free(text);

	/* Open: the certificates stay, the proxy goes. */
	sp.sp_restricted = 0;
	sp.sp_proxy_url = NULL;
	CHECK_INT(provision(&sp, err, sizeof(err)), 0);
	free(want);
	CHECK(asprintf(&want, "# >>> sbxd >>>\n[http]\n\tsslCAInfo = "
	    "%s/.sbx/ca-bundle.pem\n# <<< sbxd <<<\n", home) != -1);
	CHECK((text = t_read(home, ".gitconfig")) != NULL);
	CHECK_STR(text, want);
	free(text);
	text = NULL;
	CHECK(t_stat(home, ".ssh/config", &st) == -1 && errno == ENOENT);

	/* No ca-file: all of it goes. */
	sp.sp_ca_pem = NULL;
	CHECK_INT(provision(&sp, err, sizeof(err)), 0);
	CHECK(t_stat(home, ".sbx/ca.pem", &st) == -1 && errno == ENOENT);
	CHECK(t_stat(home, ".sbx/ca-bundle.pem", &st) == -1 &&
	    errno == ENOENT);
	CHECK(t_stat(home, ".gitconfig", &st) == -1 && errno == ENOENT);
	CHECK((text = t_read(home, ".sbx/env.sh")) != NULL);
	CHECK(strstr(text, "CA") == NULL && strstr(text, "CERT") == NULL);
	ret = 0;
end:
	if (ret == -1)
		fprintf(stderr, "  provision: %s\n", err);
	free(text);
	free(want);
	teardown();
	return (ret);
}

/* The user's own lines stay, in order; ours come and go around them. */
static int
test_user_lines(void)
{
	static const char	*bashrc = "# my bashrc\nalias ll='ls -l'\n";
	static const char	*gitconfig = "[user]\n\tname = A User\n";
	static const char	*npmrc = "registry=https://r.example/";
	static const char	*pip = "[global]\ntimeout = 10\n";
	struct sandbox_prov	 sp;
	char			 err[256], *text = NULL, *p;
	int			 ret = -1;

	CHECK(setup(&sp) == 0);
	CHECK(t_write(home, ".bashrc", bashrc) == 0);
	CHECK(t_write(home, ".gitconfig", gitconfig) == 0);
	CHECK(t_write(home, ".npmrc", npmrc) == 0);
	CHECK(t_write(home, ".bash_profile", "# mine\n") == 0);
	CHECK(asprintf(&p, "%s/.config", home) != -1 && mkdir(p, 0700) == 0);
	free(p);
	CHECK(asprintf(&p, "%s/.config/pip", home) != -1 &&
	    mkdir(p, 0700) == 0);
	free(p);
	CHECK(t_write(home, ".config/pip/pip.conf", pip) == 0);

	CHECK_INT(provision(&sp, err, sizeof(err)), 0);
	CHECK(t_blocks_single());
	CHECK((text = t_read(home, ".bashrc")) != NULL);
	CHECK((p = strstr(text, "# <<< sbxd <<<\n")) != NULL);
	CHECK_STR(p + strlen("# <<< sbxd <<<\n"), bashrc);	/* first */
	free(text);
	CHECK((text = t_read(home, ".bash_profile")) != NULL);
	CHECK_INT(t_count(text, "# >>> sbxd >>>\n"), 1);
	CHECK(strstr(text, "# mine\n") != NULL);
	free(text);
	CHECK((text = t_read(home, ".gitconfig")) != NULL);
	CHECK(strncmp(text, gitconfig, strlen(gitconfig)) == 0); /* last */
	free(text);
	CHECK((text = t_read(home, ".npmrc")) != NULL);
	CHECK(strstr(text, "# <<< sbxd <<<\nregistry=https://r.example/") !=
	    NULL);
	free(text);
	/* pip: one [global], ours inside it. */
	CHECK((text = t_read(home, ".config/pip/pip.conf")) != NULL);
	CHECK_STR(text, "[global]\n# >>> sbxd >>>\nproxy = " T_URL "\n"
	    "# <<< sbxd <<<\ntimeout = 10\n");
	free(text);
	text = NULL;

	/* A block the user moved and edited is replaced where it is. */
	CHECK(t_write(home, ".zshrc", "setopt x\n# >>> sbxd >>>\nedited\n"
	    "# <<< sbxd <<<\nsetopt y\n") == 0);
	CHECK_INT(provision(&sp, err, sizeof(err)), 0);
	CHECK((text = t_read(home, ".zshrc")) != NULL);
	CHECK(strncmp(text, "setopt x\n# >>> sbxd >>>\n", 24) == 0);
	CHECK(strstr(text, "edited") == NULL);
	CHECK((p = strstr(text, "# <<< sbxd <<<\n")) != NULL);
	CHECK_STR(p + strlen("# <<< sbxd <<<\n"), "setopt y\n");
	free(text);
	text = NULL;

	/* Unrestricted: the tools' files are exactly the user's again. */
	sp.sp_restricted = 0;
	CHECK_INT(provision(&sp, err, sizeof(err)), 0);
	CHECK(t_no_proxy());
	CHECK((text = t_read(home, ".gitconfig")) != NULL);
	CHECK_STR(text, gitconfig);
	free(text);
	CHECK((text = t_read(home, ".npmrc")) != NULL);
	CHECK_STR(text, npmrc);
	free(text);
	CHECK((text = t_read(home, ".config/pip/pip.conf")) != NULL);
	CHECK_STR(text, pip);
	free(text);
	text = NULL;

	/* A block left open is an error, and the file is left alone. */
	CHECK(t_write(home, ".zprofile", "a\n# >>> sbxd >>>\nb\n") == 0);
	CHECK_INT(provision(&sp, err, sizeof(err)), -1);
	CHECK(strstr(err, ".zprofile") != NULL);
	CHECK((text = t_read(home, ".zprofile")) != NULL);
	CHECK_STR(text, "a\n# >>> sbxd >>>\nb\n");
	ret = 0;
end:
	if (ret == -1)
		fprintf(stderr, "  provision: %s\n", err);
	free(text);
	teardown();
	return (ret);
}

/*
 * The first line a shell command printed, or NULL.  Its exit status is
 * not known: the job module's SIGCHLD handler may reap it first.
 */
static char *
t_sh(const char *fmt, const char *arg)
{
	FILE	*fp;
	char	*cmd, line[4096];

	if (asprintf(&cmd, fmt, arg, arg) == -1)
		return (NULL);
	fp = popen(cmd, "r");
	free(cmd);
	if (fp == NULL)
		return (NULL);
	if (fgets(line, sizeof(line), fp) == NULL)
		line[0] = '\0';
	line[strcspn(line, "\n")] = '\0';
	pclose(fp);
	return (strdup(line));
}

/*
 * With repositories: ~/.sbx/bin/gh, the shim, and env.sh putting it
 * first in PATH, once however often it is sourced; written once; not
 * through a planted symlink; gone again without repositories.
 */
static int
test_gh(void)
{
	struct sandbox_prov	 sp;
	struct stat		 st, st2;
	char			 err[256], *text = NULL, *want = NULL;
	char			*target = NULL;
	int			 ret = -1;

	CHECK(setup(&sp) == 0);
	sp.sp_gh = 1;
	CHECK_INT(provision(&sp, err, sizeof(err)), 0);
	CHECK(t_stat(home, ".sbx/bin", &st) == 0 && S_ISDIR(st.st_mode));
	CHECK_INT(st.st_mode & 07777, 0700);
	CHECK(t_stat(home, ".sbx/bin/gh", &st) == 0 && S_ISREG(st.st_mode));
	CHECK_INT(st.st_mode & 07777, 0700);
	CHECK((text = t_read(home, ".sbx/bin/gh")) != NULL);
	CHECK(strncmp(text, "#!/bin/sh\n", 10) == 0);
	CHECK(strstr(text, "SBXD_GH_URL") != NULL);
	CHECK(strstr(text, "SBXD_GH_KEY") != NULL);
	free(text);
	CHECK((text = t_sh("sh %s/.sbx/bin/gh --version", home)) != NULL);
	CHECK(strncmp(text, "gh version ", 11) == 0);
	free(text);
	CHECK(asprintf(&want, "%s/.sbx/bin:/usr/bin:/bin", home) != -1);
	CHECK((text = t_sh("PATH=/usr/bin:/bin; . %s/.sbx/env.sh; "
	    ". %s/.sbx/env.sh; echo \"$PATH\"", home)) != NULL);
	CHECK_STR(text, want);
	free(text);
	text = NULL;

	/* Again: the shim is not written anew. */
	CHECK_INT(provision(&sp, err, sizeof(err)), 0);
	CHECK(t_stat(home, ".sbx/bin/gh", &st2) == 0);
	CHECK(st2.st_ino == st.st_ino &&
	    st2.st_mtim.tv_sec == st.st_mtim.tv_sec &&
	    st2.st_mtim.tv_nsec == st.st_mtim.tv_nsec);

	/* Without repositories it goes, and env.sh does not name it. */
	sp.sp_gh = 0;
	CHECK_INT(provision(&sp, err, sizeof(err)), 0);
	CHECK(t_stat(home, ".sbx/bin/gh", &st) == -1 && errno == ENOENT);
	CHECK((text = t_read(home, ".sbx/env.sh")) != NULL);
	CHECK(strstr(text, ".sbx/bin") == NULL);
	free(text);
	text = NULL;

	/* A planted ~/.sbx/bin is refused, with repositories or not. */
	CHECK(asprintf(&target, "%s/.sbx/bin", home) != -1);
	CHECK(rmdir(target) == 0);
	CHECK(symlink(outside, target) == 0);
	sp.sp_gh = 1;
	err[0] = '\0';
	CHECK_INT(provision(&sp, err, sizeof(err)), -1);
	CHECK(strstr(err, ".sbx/bin") != NULL);
	CHECK(strstr(err, "symlink") != NULL);
	CHECK(t_stat(outside, "gh", &st) == -1 && errno == ENOENT);
	CHECK(t_write(outside, "gh", "the user's\n") == 0);
	sp.sp_gh = 0;
	CHECK_INT(provision(&sp, err, sizeof(err)), -1);
	CHECK((text = t_read(outside, "gh")) != NULL);
	CHECK_STR(text, "the user's\n");
	ret = 0;
end:
	if (ret == -1)
		fprintf(stderr, "  provision: %s\n", err);
	free(text);
	free(want);
	free(target);
	teardown();
	return (ret);
}

/*
 * With the OpenAI provider: ~/.codex/config.toml begins with the
 * gateway as Codex's provider, without WebSockets, above the user's own
 * lines, which stay; written once; gone without the provider, the
 * user's lines kept.
 */
static int
test_codex(void)
{
	static char		 url[] = "OPENAI_BASE_URL=http://127.0.0.1:961/"
				    "openai/v1";
	char			*gwenv[] = { url, NULL };
	struct sandbox_prov	 sp;
	struct stat		 st, st2;
	char			 err[256], *text = NULL;
	int			 ret = -1;

	CHECK(setup(&sp) == 0);
	CHECK(asprintf(&text, "%s/.codex", home) != -1);
	CHECK(mkdir(text, 0700) == 0);
	free(text);
	text = NULL;
	CHECK(t_write(home, ".codex/config.toml", "model = \"gpt-5\"\n"
	    "[profiles.x]\nmodel = \"o3\"\n") == 0);
	sp.sp_gw_env = gwenv;
	CHECK_INT(provision(&sp, err, sizeof(err)), 0);
	CHECK((text = t_read(home, ".codex/config.toml")) != NULL);
	CHECK(strstr(text, "model_provider = \"sbxd\"\nmodel_providers.sbxd = "
	    "{ name = \"sbxd gateway\", base_url = \"http://127.0.0.1:961/"
	    "openai/v1\", env_key = \"OPENAI_API_KEY\", wire_api = "
	    "\"responses\", supports_websockets = false }\n") != NULL);
	/* Ours first, the user's after, whole. */
	CHECK(strstr(text, "model_provider") < strstr(text, "model = "));
	CHECK(strstr(text, "model = \"gpt-5\"\n[profiles.x]\nmodel = "
	    "\"o3\"\n") != NULL);
	free(text);
	text = NULL;
	CHECK(t_stat(home, ".codex/config.toml", &st) == 0);
	CHECK_INT(provision(&sp, err, sizeof(err)), 0);
	CHECK(t_stat(home, ".codex/config.toml", &st2) == 0);
	CHECK(st2.st_ino == st.st_ino);

	sp.sp_gw_env = NULL;
	CHECK_INT(provision(&sp, err, sizeof(err)), 0);
	CHECK((text = t_read(home, ".codex/config.toml")) != NULL);
	CHECK_STR(text, "model = \"gpt-5\"\n[profiles.x]\nmodel = \"o3\"\n");
	ret = 0;
end:
	if (ret == -1)
		fprintf(stderr, "  provision: %s\n", err);
	free(text);
	teardown();
	return (ret);
}

/*
 * A job's environment in a sandbox with repositories: the gateway's
 * variables for gh, and PATH with the gh shim first, in the base PATH's
 * place; without repositories, neither.
 */
static int
test_env_gateway(void)
{
	struct sandbox_as	 sa;
	struct sandbox_userjob	 uj;
	struct job_spec		 js;
	char			 err[256], phantom[65], **env = NULL;
	char *const		*e;
	int			 git, npath, ngh, ret = -1;

	memset(&uj, 0, sizeof(uj));
	memset(phantom, 'a', 64);
	phantom[64] = '\0';
	memset(&sa, 0, sizeof(sa));
	sa.sa_uid = T_UID_LAST;
	sa.sa_gid = T_UID_LAST;
	sa.sa_user = "tester";
	sa.sa_home = "/h";
	sa.sa_shell = "/bin/sh";
	for (git = 0; git <= 1; git++) {
		CHECK((env = sandbox_env("/h", 1, 3128, 0)) != NULL);
		CHECK((env = sandbox_env_gateway(env, "/h", 0, phantom, 4100,
		    git)) != NULL);
		sa.sa_env = env;
		memset(&js, 0, sizeof(js));
		CHECK_INT(sandbox_user_job(&sa, NULL, &js, &uj, err,
		    sizeof(err)), 0);
		CHECK_STR(js.js_envp[4], git ?
		    "PATH=/h/.sbx/bin:/usr/local/bin:/usr/bin:/bin" :
		    "PATH=/usr/local/bin:/usr/bin:/bin");
		npath = ngh = 0;
		for (e = js.js_envp; *e != NULL; e++) {
			npath += strncmp(*e, "PATH=", 5) == 0;
			ngh += strcmp(*e, "SBXD_GH_URL=http://127.0.0.1:4100/"
			    "gh") == 0;
		}
		CHECK_INT(npath, 1);
		CHECK_INT(ngh, git);
		sandbox_user_job_clear(&uj);
		sandbox_env_free(env);
		env = NULL;
	}
	ret = 0;
end:
	sandbox_user_job_clear(&uj);
	sandbox_env_free(env);
	return (ret);
}

/* Symlinks planted in the home are refused, never written through. */
static int
test_symlinks(void)
{
	static const struct {
		const char	*name;
		const char	*target;	/* below outside */
	} planted[] = {
		{ ".sbx", "" }, { ".npmrc", "/victim" },
		{ ".bashrc", "/victim" }, { ".config", "" }, { "tmp", "" },
		{ ".gitconfig", "/victim" }
	};
	struct sandbox_prov	 sp;
	struct stat		 st;
	char			 err[256], *target = NULL, *text = NULL;
	size_t			 i;
	int			 ret = -1;

	CHECK(setup(&sp) == 0);
	for (i = 0; i < sizeof(planted) / sizeof(*planted); i++) {
		unit_rmtree(home);
		unit_rmtree(outside);
		CHECK(mkdir(home, 0755) == 0 && mkdir(outside, 0755) == 0);
		CHECK(t_write(outside, "victim", "root's\n") == 0);
		free(target);
		CHECK(asprintf(&target, "%s%s", outside,
		    planted[i].target) != -1);
		CHECK(t_symlink(target, planted[i].name) == 0);
		err[0] = '\0';
		CHECK_INT(provision(&sp, err, sizeof(err)), -1);
		CHECK(strstr(err, planted[i].name) != NULL);
		CHECK(strstr(err, "symlink") != NULL);
		/* Nothing new outside, the victim as it was. */
		CHECK(t_stat(outside, "env.sh", &st) == -1);
		CHECK(t_stat(outside, "pip", &st) == -1);
		CHECK((text = t_read(outside, "victim")) != NULL);
		CHECK_STR(text, "root's\n");
		free(text);
		text = NULL;
		CHECK(t_stat(home, planted[i].name, &st) == 0 &&
		    S_ISLNK(st.st_mode));
	}

	/* A dangling one would create its target: refused too. */
	unit_rmtree(home);
	CHECK(mkdir(home, 0755) == 0);
	free(target);
	CHECK(asprintf(&target, "%s/created", outside) != -1);
	CHECK(t_symlink(target, ".zshrc") == 0);
	CHECK_INT(provision(&sp, err, sizeof(err)), -1);
	CHECK(t_stat(outside, "created", &st) == -1 && errno == ENOENT);

	/* A home its user does not own is refused before anything. */
	unit_rmtree(home);
	CHECK(mkdir(home, 0755) == 0);
	sp.sp_as.sa_uid = getuid() + 1;
	CHECK_INT(provision(&sp, err, sizeof(err)), -1);
	CHECK(strstr(err, "not owned") != NULL);
	CHECK(t_stat(home, ".sbx", &st) == -1 && errno == ENOENT);
	ret = 0;
end:
	if (ret == -1)
		fprintf(stderr, "  provision: %s\n", err);
	free(target);
	free(text);
	teardown();
	return (ret);
}

/* Every file provisioning wrote belongs to uid:gid. */
static int
t_owned(uid_t uid, gid_t gid)
{
	static const char	*dirs[] = { ".sbx", "tmp", ".config",
				    ".config/pip", ".ssh" };
	struct stat		 st;
	size_t			 i;
	int			 bad = 0;

	/* All but the last two, written only with a ca-file. */
	for (i = 0; i < T_NFILES - 2; i++)
		if (t_stat(home, t_files[i], &st) == -1 ||
		    st.st_uid != uid || st.st_gid != gid)
			bad++;
	for (i = 0; i < sizeof(dirs) / sizeof(*dirs); i++)
		if (t_stat(home, dirs[i], &st) == -1 ||
		    st.st_uid != uid || st.st_gid != gid)
			bad++;
	return (bad == 0);
}

/*
 * As root, for a real user: the job becomes that user, so what it
 * writes is the user's, and what the user cannot read stops it.  The
 * test directory is searchable, as the homes' parent is.  Skipped when
 * not root, except under CI, which runs as root.
 */
static int
test_root_user(void)
{
	struct sandbox_prov	 sp;
	struct stat		 st;
	char			 err[256];
	char			*path = NULL;
	int			 ret = -1;
	const char		*ci = getenv("CI");

	err[0] = '\0';
	if (getuid() != 0) {
		if (ci != NULL && strcmp(ci, "true") == 0) {
			fprintf(stderr, "  CI=true, but not root\n");
			return (-1);
		}
		fprintf(stderr, "  not root: skipped\n");
		return (0);
	}
	CHECK(setup(&sp) == 0);
	CHECK(chmod(dir, 0755) == 0);
	sp.sp_as.sa_user = t_user.uu_name;
	sp.sp_as.sa_uid = t_user.uu_uid;
	sp.sp_as.sa_gid = t_user.uu_gid;
	CHECK(chown(home, t_user.uu_uid, t_user.uu_gid) == 0);

	/* Root's own home: a sandbox job never runs as root. */
	sp.sp_as.sa_uid = 0;
	sp.sp_as.sa_gid = 0;
	CHECK(chown(home, 0, 0) == 0);
	CHECK_INT(provision(&sp, err, sizeof(err)), -1);
	CHECK_STR(err, "refusing to run a command as root");
	sp.sp_as.sa_uid = t_user.uu_uid;
	sp.sp_as.sa_gid = t_user.uu_gid;
	CHECK(chown(home, t_user.uu_uid, t_user.uu_gid) == 0);

	/* A root-only file in the home: the user's job cannot read it. */
	CHECK(t_write(home, ".zshrc", "secret\n") == 0);
	CHECK(asprintf(&path, "%s/.zshrc", home) != -1);
	CHECK(chmod(path, 0600) == 0);
	CHECK_INT(provision(&sp, err, sizeof(err)), -1);
	CHECK(strstr(err, ".zshrc") != NULL);
	CHECK(strstr(err, "Permission denied") != NULL);
	CHECK(unlink(path) == 0);

	CHECK_INT(provision(&sp, err, sizeof(err)), 0);
	CHECK(t_owned(t_user.uu_uid, t_user.uu_gid));
	CHECK(t_stat(home, ".zshrc", &st) == 0 && st.st_uid != 0);
	CHECK(t_blocks_single());

	sp.sp_restricted = 0;
	CHECK_INT(provision(&sp, err, sizeof(err)), 0);
	CHECK(t_no_proxy());
	ret = 0;
end:
	if (ret == -1)
		fprintf(stderr, "  provision: %s\n", err);
	free(path);
	teardown();
	return (ret);
}

static void
t_user_remove(void)
{
	unit_user_remove(&t_user);
}

static void
t_user_signal(int sig)
{
	t_user_remove();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Provisioning as the user itself: what a home's owner may do. */
static const struct unit_test user_tests[] = {
	{ "restricted", test_restricted },
	{ "ca", test_ca },
	{ "user_lines", test_user_lines },
	{ "symlinks", test_symlinks },
	{ "gh", test_gh },
	{ "codex", test_codex },
	{ "env_gateway", test_env_gateway },
};
static const struct unit_test root_tests[] = {
	{ "root_user", test_root_user }
};

/*
 * Without root, the user tests run as ourselves.  As root they run in a
 * child that has become the throwaway user, so that the jobs they start
 * run as their caller, as they do without root; root_user runs here.
 */
int
main(int argc, char *argv[])
{
	pid_t	 pid;
	int	 status, r;

	if (getuid() != 0)
		return (unit_main("sandbox_provision", user_tests,
		    nitems(user_tests), argc, argv) |
		    unit_main("sandbox_provision", root_tests,
		    nitems(root_tests), argc, argv));
	atexit(t_user_remove);
	signal(SIGINT, t_user_signal);
	signal(SIGTERM, t_user_signal);
	if (unit_user_make(&t_user, "sbxprov", T_UID_FIRST, T_UID_LAST,
	    NULL) == -1) {
		fprintf(stderr, "cannot make a test user\n");
		return (1);
	}
	fflush(stdout);
	if ((pid = fork()) == -1)
		return (1);
	if (pid == 0) {
		uid_t	 uid = t_user.uu_uid;
		gid_t	 gid = t_user.uu_gid;

		if (setgroups(1, &gid) == -1 ||
		    setresgid(gid, gid, gid) == -1 ||
		    setresuid(uid, uid, uid) == -1)
			_exit(1);
		r = unit_main("sandbox_provision", user_tests,
		    nitems(user_tests), argc, argv);
		fflush(stdout);
		_exit(r);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		status = 1;
	else
		status = WEXITSTATUS(status);
	r = unit_main("sandbox_provision", root_tests, nitems(root_tests),
	    argc, argv);
	return (status != 0 || r != 0);
}
