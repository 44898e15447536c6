/*
 * test_fw.c: the command lists of the nftables and PF backends and of
 * the OS user calls, compared byte for byte with the golden files
 * (UPDATE_GOLDEN=1 rewrites those), the arguments they refuse, and
 * verify() on saved listings, good and broken in known ways.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config.h"
#include "sbxd.h"
#include "sandbox.h"
#include "unit.h"

#define FW_NFT_CANON	"/usr/sbin/nft"	/* golden files name nft here */
#define FW_FILE_MAX	(1024 * 1024)	/* largest file a test reads */

static const struct fw_conf	 conf = { "sbxd", 1, "com.apple/sbx" };
static const struct fw_conf	 conf_nolog = { "sbxd", -1, "com.apple/sbx" };
static const struct fw_sandbox	 one = { "demo", 60123, { 3128 }, 1, 1 };
static const struct fw_sandbox	 three = { "work", 60124,
				    { 3128, 443, 8080 }, 3, 1 };
static const struct fw_sandbox	 open1 = { "open", 60126, { 3129 }, 1, 0 };

static char	*fw_path(const char *);
static char	*fw_read(const char *);
static void	 fw_canon(struct sandbox_cmdlist *);
static int	 fw_golden(const char *, struct sandbox_cmdlist *);
static int	 fw_backend_golden(const char *, const struct fw_backend *,
		    const struct fw_conf *, const struct fw_sandbox *);
static int	 test_nft_golden(void);
static int	 test_pf_golden(void);
static int	 test_fw_refuse(void);
static int	 test_user_golden(void);
static int	 test_user_refuse(void);
static int	 test_nft_verify(void);
static int	 test_nft_broken_rules(void);
static int	 test_nft_broken_map(void);
static int	 test_pf_verify(void);
static int	 nft_verify(json_t *, const struct fw_conf *,
		    const struct fw_sandbox *, const char *);
static json_t	*nft_load(const char *);
static json_t	*nft_rule(json_t *, const char *, int, size_t *);
static int	 pf_verify(const char *, const struct fw_sandbox *,
		    const char *);
static char	*replace(const char *, const char *, const char *);

/* A file under tests/fw of the source tree. */
static char *
fw_path(const char *name)
{
	const char	*top = getenv("top_srcdir");
	char		*p;

	if (top == NULL || *top == '\0')
		top = ".";
	if (asprintf(&p, "%s/tests/fw/%s", top, name) == -1)
		return (NULL);
	return (p);
}

/* A whole file, or NULL. */
static char *
fw_read(const char *name)
{
	FILE	*fp;
	char	*path, *buf = NULL;
	size_t	 n;

	if ((path = fw_path(name)) == NULL)
		return (NULL);
	if ((fp = fopen(path, "r")) != NULL) {
		buf = malloc(FW_FILE_MAX + 1);
		if (buf != NULL) {
			n = fread(buf, 1, FW_FILE_MAX, fp);
			buf[n] = '\0';
		}
		fclose(fp);
	}
	free(path);
	return (buf);
}

/* nft lives in /usr/sbin or /sbin: name it one way in golden files. */
static void
fw_canon(struct sandbox_cmdlist *cl)
{
	struct sandbox_cmd	*sc;
	size_t			 n;

	TAILQ_FOREACH(sc, &cl->cl_cmds, sc_entry) {
		n = strlen(sc->sc_argv[0]);
		if (n >= 4 && strcmp(sc->sc_argv[0] + n - 4, "/nft") == 0) {
			free(sc->sc_argv[0]);
			sc->sc_argv[0] = strdup(FW_NFT_CANON);
		}
	}
}

/* Print cl and compare it with NAME.golden, or write it there. */
static int
fw_golden(const char *name, struct sandbox_cmdlist *cl)
{
	char	*text = NULL, *want = NULL, *file = NULL, *path = NULL;
	size_t	 len;
	FILE	*fp;
	int	 ret = -1;

	fw_canon(cl);
	CHECK((fp = open_memstream(&text, &len)) != NULL);
	sandbox_cmdlist_print(fp, cl);
	CHECK(fclose(fp) == 0);
	CHECK(asprintf(&file, "%s.golden", name) != -1);
	if (getenv("UPDATE_GOLDEN") != NULL &&
	    strcmp(getenv("UPDATE_GOLDEN"), "1") == 0) {
		CHECK((path = fw_path(file)) != NULL);
		CHECK(unit_write(path, text) == 0);
		ret = 0;
		goto end;
	}
	want = fw_read(file);
	if (want == NULL) {
		unit_fail(__FILE__, __LINE__, "cannot read %s", file);
		goto end;
	}
	if (strcmp(text, want) != 0) {
		unit_fail(__FILE__, __LINE__, "%s differs; got:\n%s", file,
		    text);
		goto end;
	}
	ret = 0;
 end:
	free(text);
	free(want);
	free(file);
	free(path);
	return (ret);
}

/* init, apply, remove and list of one backend, in one golden file. */
static int
fw_backend_golden(const char *name, const struct fw_backend *fb,
    const struct fw_conf *fc, const struct fw_sandbox *fs)
{
	struct sandbox_cmdlist	 cl;
	int			 ret = -1;

	sandbox_cmdlist_init(&cl);
	CHECK(fb->fb_init(fc, &cl) == 0);
	CHECK(fb->fb_apply(fc, fs, &cl) == 0);
	CHECK(fb->fb_remove(fc, fs, &cl) == 0);
	CHECK(fb->fb_list(fc, &cl) == 0);
	if (fb == &fw_pf_backend)
		CHECK(fw_pf_list_sandbox(fc, fs, &cl) == 0);
	ret = fw_golden(name, &cl);
 end:
	sandbox_cmdlist_free(&cl);
	return (ret);
}

static int
test_nft_golden(void)
{
	int	 ret = -1;

	CHECK(fw_backend_golden("nft-one-port", &fw_nft_backend, &conf,
	    &one) == 0);
	CHECK(fw_backend_golden("nft-three-ports", &fw_nft_backend, &conf,
	    &three) == 0);
	CHECK(fw_backend_golden("nft-no-log", &fw_nft_backend, &conf_nolog,
	    &one) == 0);
	CHECK(fw_backend_golden("nft-open", &fw_nft_backend, &conf,
	    &open1) == 0);
	ret = 0;
 end:
	return (ret);
}

static int
test_pf_golden(void)
{
	int	 ret = -1;

	CHECK(fw_backend_golden("pf-one-port", &fw_pf_backend, &conf,
	    &one) == 0);
	CHECK(fw_backend_golden("pf-three-ports", &fw_pf_backend, &conf,
	    &three) == 0);
	CHECK(fw_backend_golden("pf-no-log", &fw_pf_backend, &conf_nolog,
	    &one) == 0);
	CHECK(fw_backend_golden("pf-open", &fw_pf_backend, &conf,
	    &open1) == 0);
	ret = 0;
 end:
	return (ret);
}

/* What the backends refuse to turn into commands. */
static int
test_fw_refuse(void)
{
	struct sandbox_cmdlist	 cl;
	struct fw_conf		 fc = conf;
	struct fw_sandbox	 fs = three;
	const char		*tables[] = { "", "sb xd", "1sbxd", "a;b",
				    "sbxd}" };
	const char		*anchors[] = { "", "/sbx", "sbx/", "a//b",
				    "../x", "a/./b", "_sbx", "a/_b", "a b",
				    "a\"b", "a/*" };
	size_t			 i;
	int			 ret = -1;

	sandbox_cmdlist_init(&cl);
	for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		fc.fc_table = tables[i];
		CHECK(fw_nft_backend.fb_init(&fc, &cl) == -1);
		CHECK(fw_nft_backend.fb_apply(&fc, &one, &cl) == -1);
	}
	fc = conf;
	fc.fc_group = 65536;
	CHECK(fw_nft_backend.fb_init(&fc, &cl) == -1);
	fc = conf;
	for (i = 0; i < sizeof(anchors) / sizeof(anchors[0]); i++) {
		fc.fc_anchor = anchors[i];
		CHECK(fw_pf_backend.fb_init(&fc, &cl) == -1);
		CHECK(fw_pf_backend.fb_apply(&fc, &one, &cl) == -1);
	}
	fs.fs_ports[2] = 3128;		/* twice */
	CHECK(fw_nft_backend.fb_apply(&conf, &fs, &cl) == -1);
	CHECK(fw_pf_backend.fb_apply(&conf, &fs, &cl) == -1);
	fs = open1;		/* no ports: only a restricted one, cut off */
	fs.fs_nports = 0;
	CHECK(fw_nft_backend.fb_apply(&conf, &fs, &cl) == -1);
	CHECK(fw_pf_backend.fb_apply(&conf, &fs, &cl) == -1);
	fs.fs_nports = SANDBOX_PORTS_MAX + 1;
	CHECK(fw_pf_backend.fb_apply(&conf, &fs, &cl) == -1);
	fs = one;
	fs.fs_ports[0] = 0;
	CHECK(fw_nft_backend.fb_apply(&conf, &fs, &cl) == -1);
	fs = one;
	fs.fs_uid = 0;
	CHECK(fw_nft_backend.fb_apply(&conf, &fs, &cl) == -1);
	CHECK(fw_nft_backend.fb_remove(&conf, &fs, &cl) == -1);
	CHECK(fw_pf_backend.fb_apply(&conf, &fs, &cl) == -1);
	CHECK(fw_pf_backend.fb_remove(&conf, &fs, &cl) == -1);
	CHECK(TAILQ_EMPTY(&cl.cl_cmds) && !cl.cl_failed);
	ret = 0;
 end:
	sandbox_cmdlist_free(&cl);
	return (ret);
}

static int
test_user_golden(void)
{
	struct sandbox_cmdlist	 cl;
	int			 os, ret = -1;
	const char		*name;

	for (os = SANDBOX_OS_LINUX; os <= SANDBOX_OS_MACOS; os++) {
		sandbox_cmdlist_init(&cl);
		name = os == SANDBOX_OS_LINUX ? "user-linux" : "user-macos";
		CHECK(sandbox_user_add(&cl, os, "sbx-demo", 60123,
		    "/var/lib/sbxd/home/demo", "/bin/bash",
		    "sbxd sandbox demo") == 0);
		CHECK(sandbox_user_add(&cl, os, "sbx-a-1", 60124,
		    "/var/lib/sbxd/home/a-1", "/bin/sh", NULL) == 0);
		CHECK(sandbox_user_del(&cl, os, "sbx-demo", 1) == 0);
		/* A create undone between the group and the user. */
		CHECK(sandbox_user_del(&cl, os, "sbx-a-1", 0) == 0);
		CHECK(fw_golden(name, &cl) == 0);
		sandbox_cmdlist_free(&cl);
	}
	sandbox_cmdlist_init(&cl);
	ret = 0;
 end:
	sandbox_cmdlist_free(&cl);
	return (ret);
}

static int
test_user_refuse(void)
{
	struct sandbox_cmdlist	 cl;
	const char		*names[] = { "demo", "sbx-", "sbx-Demo",
				    "sbx-a_b", "sbx--a", "sbx-a b", "sbx-a:b",
				    "root", "sbx-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
				    NULL };
	const char		*paths[] = { "home", "", "/", "/a/../b",
				    "/a/./b", "/a//b", "/a/", "/a b", "/a:b",
				    "/a\nb", "/..", NULL };
	const char		*h = "/var/lib/sbxd/home/x", *s = "/bin/sh";
	size_t			 i;
	int			 ret = -1;

	sandbox_cmdlist_init(&cl);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		CHECK(sandbox_user_add(&cl, SANDBOX_OS_LINUX, names[i], 60123,
		    h, s, NULL) == -1);
		CHECK(sandbox_user_del(&cl, SANDBOX_OS_MACOS, names[i], 1) == -1);
	}
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		CHECK(sandbox_user_add(&cl, SANDBOX_OS_LINUX, "sbx-x", 60123,
		    paths[i], s, NULL) == -1);
		CHECK(sandbox_user_add(&cl, SANDBOX_OS_MACOS, "sbx-x", 60123,
		    h, paths[i], NULL) == -1);
	}
	CHECK(sandbox_user_add(&cl, SANDBOX_OS_LINUX, "sbx-x", 0, h, s,
	    NULL) == -1);
	CHECK(sandbox_user_add(&cl, SANDBOX_OS_LINUX, "sbx-x", 999, h, s,
	    NULL) == -1);
	CHECK(sandbox_user_add(&cl, SANDBOX_OS_LINUX, "sbx-x", 65534, h, s,
	    NULL) == -1);
	CHECK(sandbox_user_add(&cl, SANDBOX_OS_LINUX, "sbx-x", (uid_t)-1, h,
	    s, NULL) == -1);
	CHECK(sandbox_user_add(&cl, SANDBOX_OS_LINUX, "sbx-x", 60123, h, s,
	    "a:b") == -1);
	CHECK(sandbox_user_add(&cl, SANDBOX_OS_LINUX, "sbx-x", 60123, h, s,
	    "a\nb") == -1);
	CHECK(sandbox_user_add(&cl, 3, "sbx-x", 60123, h, s, NULL) == -1);
	CHECK(sandbox_user_del(&cl, 0, "sbx-x", 1) == -1);
	CHECK(TAILQ_EMPTY(&cl.cl_cmds) && !cl.cl_failed);
	CHECK(sandbox_user_add(&cl, SANDBOX_OS_HOST, "sbx-x", 60123, h, s,
	    "") == 0);
	CHECK(sandbox_user_add(&cl, SANDBOX_OS_LINUX,
	    "sbx-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 60123, h, s, NULL) == 0);
	ret = 0;
 end:
	sandbox_cmdlist_free(&cl);
	return (ret);
}

/* Verify the listing in root; want NULL: it passes, else the reason. */
static int
nft_verify(json_t *root, const struct fw_conf *fc,
    const struct fw_sandbox *fs, const char *want)
{
	char	*text, why[256] = "";
	int	 r;

	text = root != NULL ? json_dumps(root, JSON_COMPACT) : strdup("");
	r = fw_nft_backend.fb_verify(fc, fs, text, why, sizeof(why));
	free(text);
	if (want == NULL && r != 0) {
		unit_fail(__FILE__, __LINE__, "uid %lu refused: %s",
		    (unsigned long)fs->fs_uid, why);
		return (0);
	}
	if (want != NULL && (r != -1 || strcmp(why, want) != 0)) {
		unit_fail(__FILE__, __LINE__, "uid %lu: got %d \"%s\", want "
		    "\"%s\"", (unsigned long)fs->fs_uid, r, why, want);
		return (0);
	}
	return (1);
}

static json_t *
nft_load(const char *name)
{
	char	*text;
	json_t	*root;

	if ((text = fw_read(name)) == NULL)
		return (NULL);
	root = json_loads(text, 0, NULL);
	free(text);
	return (root);
}

/* Rule n (from 0) of chain in the listing, and its index there. */
static json_t *
nft_rule(json_t *root, const char *chain, int n, size_t *idx)
{
	json_t		*items, *it, *r;
	size_t		 i;
	const char	*c;

	items = json_object_get(root, "nftables");
	json_array_foreach(items, i, it) {
		if ((r = json_object_get(it, "rule")) == NULL)
			continue;
		c = json_string_value(json_object_get(r, "chain"));
		if (c != NULL && strcmp(c, chain) == 0 && n-- == 0) {
			*idx = i;
			return (r);
		}
	}
	return (NULL);
}

static int
test_nft_verify(void)
{
	json_t			*root = NULL;
	struct fw_sandbox	 fs;
	struct fw_conf		 fc = conf;
	int			 ret = -1;

	CHECK((root = nft_load("nft-list.json")) != NULL);
	CHECK(nft_verify(root, &conf, &one, NULL));
	CHECK(nft_verify(root, &conf, &three, NULL));
	fs = three;			/* the order does not matter */
	fs.fs_ports[0] = 8080;
	fs.fs_ports[2] = 3128;
	CHECK(nft_verify(root, &conf, &fs, NULL));
	CHECK(nft_verify(NULL, &conf, &one,
	    "table inet sbxd missing: empty listing"));
	fc.fc_table = "other";
	CHECK(nft_verify(root, &fc, &one, "table inet other missing"));
	fs = one;
	fs.fs_ports[0] = 4000;
	CHECK(nft_verify(root, &conf, &fs, "set ports lacks port 4000"));
	fs = three;
	fs.fs_nports = 2;
	CHECK(nft_verify(root, &conf, &fs, "chain uid_60124: rule 1 accepts "
	    "other ports than the sandbox's"));
	fs = one;
	fs.fs_uid = 60125;
	CHECK(nft_verify(root, &conf, &fs, "set owners lacks 60125 . 3128"));
	CHECK(nft_verify(root, &conf_nolog, &one,
	    "chain uid_60123 has 5 rules, want 4"));
	fc = conf;
	fc.fc_group = 2;
	CHECK(nft_verify(root, &fc, &one, "chain uid_60123: rule 3 is not "
	    "log prefix \"uid_60123\" group 2"));
	/* An open sandbox: its listener's elements, no chain. */
	CHECK(nft_verify(root, &conf, &open1, NULL));
	fs = open1;
	fs.fs_uid = 60127;
	CHECK(nft_verify(root, &conf, &fs, "set owners lacks 60127 . 3129"));
	fs = open1;
	fs.fs_ports[0] = 3130;
	CHECK(nft_verify(root, &conf, &fs, "set ports lacks port 3130"));
	fs = open1;
	fs.fs_restricted = 1;
	CHECK(nft_verify(root, &conf, &fs,
	    "map sandboxes has no element for uid 60126"));
	json_decref(root);

	/* Without a log group. */
	CHECK((root = nft_load("nft-list-nolog.json")) != NULL);
	fs = one;
	fs.fs_uid = 60125;
	CHECK(nft_verify(root, &conf_nolog, &fs, NULL));
	CHECK(nft_verify(root, &conf, &fs,
	    "chain uid_60125 has 4 rules, want 5"));
	CHECK(fw_nft_backend.fb_verify(&conf, &one, "[1, 2", NULL, 0) == -1);
	ret = 0;
 end:
	json_decref(root);
	return (ret);
}

/* A good listing broken one rule at a time. */
static int
test_nft_broken_rules(void)
{
	json_t	*root = NULL, *r, *items, *m;
	size_t	 i;
	int	 ret = -1;

	/* The last reject turned into accept, then gone. */
	CHECK((root = nft_load("nft-list.json")) != NULL);
	CHECK((r = nft_rule(root, "uid_60123", 4, &i)) != NULL);
	CHECK(json_array_set_new(json_object_get(r, "expr"), 0,
	    json_pack("{s:n}", "accept")) == 0);
	CHECK(nft_verify(root, &conf, &one, "chain uid_60123: last rule is "
	    "not reject with icmpx admin-prohibited"));
	items = json_object_get(root, "nftables");
	CHECK(json_array_remove(items, i) == 0);
	CHECK(nft_verify(root, &conf, &one,
	    "chain uid_60123 has 4 rules, want 5"));
	CHECK(nft_verify(root, &conf, &three, NULL));
	json_decref(root);

	/* The reset turned into a drop: blocked TCP would hang again. */
	CHECK((root = nft_load("nft-list.json")) != NULL);
	CHECK((r = nft_rule(root, "uid_60123", 3, &i)) != NULL);
	CHECK(json_array_set_new(json_object_get(r, "expr"), 1,
	    json_pack("{s:n}", "drop")) == 0);
	CHECK(nft_verify(root, &conf, &one, "chain uid_60123: rule 4 is not "
	    "meta l4proto tcp reject with tcp reset"));
	json_decref(root);

	/* Replies accepted from any port: it could answer for a listener. */
	CHECK((root = nft_load("nft-list.json")) != NULL);
	CHECK((r = nft_rule(root, "uid_60123", 1, &i)) != NULL);
	CHECK(json_array_remove(json_object_get(r, "expr"), 1) == 0);
	CHECK(nft_verify(root, &conf, &one, "chain uid_60123: rule 2 is not "
	    "ct direction reply tcp sport != @ports accept"));
	json_decref(root);
	CHECK((root = nft_load("nft-list.json")) != NULL);

	/* The accept rule's address changed. */
	CHECK((r = nft_rule(root, "uid_60124", 0, &i)) != NULL);
	m = json_object_get(json_array_get(json_object_get(r, "expr"), 0),
	    "match");
	CHECK(json_object_set_new(m, "right", json_string("127.0.0.2")) == 0);
	CHECK(nft_verify(root, &conf, &three, "chain uid_60124: rule 1 is "
	    "not ip daddr 127.0.0.1 tcp dport ... accept"));
	ret = 0;
 end:
	json_decref(root);
	return (ret);
}

/* A good listing without its map element, vmap rule or chain. */
static int
test_nft_broken_map(void)
{
	json_t	*root = NULL, *r, *items, *m = NULL, *elem;
	size_t	 i;
	int	 ret = -1;

	/* Map element sent elsewhere, then gone; the vmap rule gone. */
	CHECK((root = nft_load("nft-list.json")) != NULL);
	items = json_object_get(root, "nftables");
	json_array_foreach(items, i, r)
		if ((m = json_object_get(r, "map")) != NULL)
			break;
	CHECK(m != NULL);
	elem = json_object_get(m, "elem");
	CHECK(json_array_size(elem) == 2);
	CHECK(json_object_set_new(json_object_get(json_array_get(
	    json_array_get(elem, 0), 1), "jump"), "target",
	    json_string("uid_60124")) == 0);
	CHECK(nft_verify(root, &conf, &one, "map sandboxes sends uid 60123 "
	    "elsewhere than jump uid_60123"));
	CHECK(json_array_remove(elem, 0) == 0);
	CHECK(nft_verify(root, &conf, &one,
	    "map sandboxes has no element for uid 60123"));
	CHECK(nft_rule(root, "output", 0, &i) != NULL);
	CHECK(json_array_remove(items, i) == 0);
	CHECK(nft_verify(root, &conf, &three,
	    "chain output lacks meta skuid vmap @sandboxes"));
	json_decref(root);

	/* The rule that keeps others off the listeners, gone for ip6. */
	CHECK((root = nft_load("nft-list.json")) != NULL);
	items = json_object_get(root, "nftables");
	CHECK(nft_rule(root, "output", 2, &i) != NULL);
	CHECK(json_array_remove(items, i) == 0);
	CHECK(nft_verify(root, &conf, &open1, "chain output lacks the ip6 "
	    "rule that keeps others off the sandboxes' listeners"));
	json_decref(root);

	/* Chain uid_60124 gone with its rules. */
	CHECK((root = nft_load("nft-list.json")) != NULL);
	items = json_object_get(root, "nftables");
	while (nft_rule(root, "uid_60124", 0, &i) != NULL)
		CHECK(json_array_remove(items, i) == 0);
	json_array_foreach(items, i, r)
		if ((m = json_object_get(r, "chain")) != NULL &&
		    strcmp(json_string_value(json_object_get(m, "name")),
		    "uid_60124") == 0)
			break;
	CHECK(json_array_remove(items, i) == 0);
	CHECK(nft_verify(root, &conf, &three, "chain uid_60124 missing"));
	CHECK(nft_verify(root, &conf, &one, NULL));
	ret = 0;
 end:
	json_decref(root);
	return (ret);
}

/* Verify a PF listing; want NULL: it passes, else the reason. */
static int
pf_verify(const char *text, const struct fw_sandbox *fs, const char *want)
{
	char	 why[256] = "";
	int	 r;

	r = fw_pf_backend.fb_verify(&conf, fs, text, why, sizeof(why));
	if (want == NULL && r != 0) {
		unit_fail(__FILE__, __LINE__, "uid %lu refused: %s",
		    (unsigned long)fs->fs_uid, why);
		return (0);
	}
	if (want != NULL && (r != -1 || strcmp(why, want) != 0)) {
		unit_fail(__FILE__, __LINE__, "uid %lu: got %d \"%s\", want "
		    "\"%s\"", (unsigned long)fs->fs_uid, r, why, want);
		return (0);
	}
	return (1);
}

/* s with the first from replaced by to; the caller frees it. */
static char *
replace(const char *s, const char *from, const char *to)
{
	const char	*p;
	char		*r;

	if ((p = strstr(s, from)) == NULL)
		return (strdup(s));
	if (asprintf(&r, "%.*s%s%s", (int)(p - s), s, to,
	    p + strlen(from)) == -1)
		return (NULL);
	return (r);
}

static int
test_pf_verify(void)
{
	char			*all = NULL, *one_text = NULL, *bad = NULL;
	struct fw_sandbox	 fs;
	int			 ret = -1;

	CHECK((all = fw_read("pf-list.txt")) != NULL);
	CHECK((one_text = fw_read("pf-list-one.txt")) != NULL);
	CHECK(pf_verify(one_text, &one, NULL));
	CHECK(pf_verify(all, &one, NULL));
	CHECK(pf_verify(all, &three, NULL));
	CHECK(pf_verify("", &one, "anchor com.apple/sbx/uid_60123 missing"));
	fs = one;
	fs.fs_uid = 60125;
	CHECK(pf_verify(all, &fs, "anchor com.apple/sbx/uid_60125 missing"));
	CHECK(pf_verify(one_text, &fs, "anchor uid_60125: rule 1 is \"pass "
	    "out quick inet proto tcp to 127.0.0.1 port 3128 user 60123\", "
	    "want \"pass out quick inet proto tcp to 127.0.0.1 port 3128 "
	    "user 60125\""));
	fs = one;
	fs.fs_ports[0] = 4000;
	CHECK(pf_verify(all, &fs, "anchor uid_60123: rule 1 is \"pass out "
	    "quick inet proto tcp to 127.0.0.1 port 3128 user 60123\", want "
	    "\"pass out quick inet proto tcp to 127.0.0.1 port 4000 user "
	    "60123\""));
	CHECK((bad = replace(all, "block return out log quick inet6 proto udp "
	    "all user = 60123\n", "")) != NULL);
	CHECK(pf_verify(bad, &one, "anchor uid_60123 has 6 rules, want 7 "
	    "(block rules missing)"));
	CHECK(pf_verify(bad, &three, NULL));
	free(bad);
	CHECK((bad = replace(one_text, "block return out log quick inet proto "
	    "tcp", "block return out quick inet proto tcp")) != NULL);
	CHECK(pf_verify(bad, &one, "anchor uid_60123: rule 4 is \"block "
	    "return out quick inet proto tcp to any user 60123\", want \"block "
	    "return out log quick inet proto tcp to any user 60123\""));
	free(bad);
	/* Dropped instead of refused: blocked clients would hang. */
	CHECK((bad = replace(one_text, "block return out log quick inet proto "
	    "udp", "block drop out log quick inet proto udp")) != NULL);
	CHECK(pf_verify(bad, &one, "anchor uid_60123: rule 5 is \"block out "
	    "log quick inet proto udp to any user 60123\", want \"block "
	    "return out log quick inet proto udp to any user 60123\""));
	free(bad);
	CHECK((bad = replace(one_text, "port = 3128 user = 60123 flags",
	    "port = 3128 flags")) != NULL);
	CHECK(pf_verify(bad, &one, "anchor uid_60123: rule 1 is \"pass out "
	    "quick inet proto tcp to 127.0.0.1 port 3128\", want \"pass out "
	    "quick inet proto tcp to 127.0.0.1 port 3128 user 60123\""));
	free(bad);
	CHECK((bad = replace(one_text, "to 127.0.0.1 port = 3128 user = 0",
	    "to 127.0.0.2 port = 3128 user = 0")) != NULL);
	CHECK(pf_verify(bad, &one, "anchor uid_60123: rule 2 is \"pass out "
	    "quick inet proto tcp to 127.0.0.2 port 3128 user 0\", want "
	    "\"pass out quick inet proto tcp to 127.0.0.1 port 3128 user "
	    "0\""));
	free(bad);
	/* The rule that keeps others off the listener, gone. */
	CHECK((bad = replace(all, "block drop out quick inet proto tcp from "
	    "any to 127.0.0.1 port = 3129\n", "")) != NULL);
	CHECK(pf_verify(bad, &open1, "anchor uid_60126 has 2 rules, want "
	    "3 (block rules missing)"));
	CHECK(pf_verify(all, &open1, NULL));
	ret = 0;
 end:
	free(all);
	free(one_text);
	free(bad);
	return (ret);
}

/*
 * Cutting a uid off and pruning what no sandbox has, in one nft
 * transaction; pf loads a blocking anchor and flushes the others.
 */
static int
test_prune_golden(void)
{
	struct sandbox_cmdlist	 cl;
	struct fw_held		 owners[] = { { 60123, 3128 }, { 60124, 443 } };
	in_port_t		 ports[] = { 443 };
	uid_t			 cut[] = { 60123 }, gone[] = { 60130 };
	struct fw_prune		 fp = { owners, 2, ports, 1, cut, 1, gone, 1 };
	struct fw_sandbox	 fs = one;
	int			 ret = -1;

	sandbox_cmdlist_init(&cl);
	fs.fs_nports = 0;
	CHECK(fw_nft_backend.fb_apply(&conf, &fs, &cl) == 0);
	CHECK(fw_nft_backend.fb_prune(&conf, &fp, &cl) == 0);
	CHECK(fw_golden("nft-prune", &cl) == 0);
	sandbox_cmdlist_free(&cl);
	sandbox_cmdlist_init(&cl);
	CHECK(fw_pf_backend.fb_apply(&conf, &fs, &cl) == 0);
	CHECK(fw_pf_backend.fb_prune(&conf, &fp, &cl) == 0);
	CHECK(fw_golden("pf-prune", &cl) == 0);
	ret = 0;
 end:
	sandbox_cmdlist_free(&cl);
	return (ret);
}

/* Whether (uid, port) is among the n held. */
static int
held_has(const struct fw_held *h, int n, uid_t uid, in_port_t port)
{
	int	 i;

	for (i = 0; i < n; i++)
		if (h[i].fh_uid == uid && h[i].fh_port == port)
			return (1);
	return (0);
}

/* Every uid and port the listings hold, and nothing else. */
static int
test_held(void)
{
	static struct fw_held	 h[FW_HELD_MAX];
	char			*text = NULL;
	int			 n, ret = -1;

	CHECK((text = fw_read("nft-list.json")) != NULL);
	CHECK(fw_nft_backend.fb_held(&conf, text, h, FW_HELD_MAX, &n) == 0);
	/* 2 chains, 2 map keys, 5 owners, 4 ports. */
	CHECK_INT(n, 13);
	CHECK(held_has(h, n, 60123, 0));
	CHECK(held_has(h, n, 60124, 0));
	CHECK(held_has(h, n, 60126, 3129));
	CHECK(held_has(h, n, 60124, 443));
	CHECK(held_has(h, n, (uid_t)-1, 8080));
	CHECK(!held_has(h, n, 60126, 0));	/* open: no chain */
	CHECK(fw_nft_backend.fb_held(&conf, text, h, 3, &n) == 0);
	CHECK_INT(n, 3);
	CHECK(fw_nft_backend.fb_held(&conf, "not json", h, FW_HELD_MAX,
	    &n) == -1);
	free(text);
	CHECK((text = fw_read("pf-list.txt")) != NULL);
	CHECK(fw_pf_backend.fb_held(&conf, text, h, FW_HELD_MAX, &n) == 0);
	CHECK(held_has(h, n, 60123, 0));
	CHECK(held_has(h, n, 60124, 0));
	CHECK(held_has(h, n, 60126, 0));
	CHECK(held_has(h, n, 60123, 3128));
	CHECK(held_has(h, n, 60124, 8080));
	CHECK(held_has(h, n, 60126, 3129));
	CHECK(!held_has(h, n, 0, 3128));	/* root's pass rules */
	ret = 0;
 end:
	free(text);
	return (ret);
}

static const struct unit_test tests[] = {
	{ "prune_golden", test_prune_golden },
	{ "held", test_held },
	{ "nft_golden", test_nft_golden },
	{ "pf_golden", test_pf_golden },
	{ "fw_refuse", test_fw_refuse },
	{ "user_golden", test_user_golden },
	{ "user_refuse", test_user_refuse },
	{ "nft_verify", test_nft_verify },
	{ "nft_broken_rules", test_nft_broken_rules },
	{ "nft_broken_map", test_nft_broken_map },
	{ "pf_verify", test_pf_verify },
};

UNIT_MAIN("fw", tests)
