/*
 * fw_nft.c: the Linux firewall backend, nftables.  One table, inet
 * <fc_table>, holds a base chain on the output hook.  Its first rule,
 * "meta skuid vmap @sandboxes", sends each restricted sandbox's packets
 * to its own chain uid_<UID>, which accepts TCP to 127.0.0.1 on the
 * sandbox's ports and TCP it sends back on connections others opened to
 * it (not from a listener port), logs the rest to the NFLOG group and
 * rejects it, TCP with a reset and the rest with ICMP administratively
 * prohibited, so that a blocked client fails at once instead of
 * waiting for a timeout: other TCP, all UDP (DNS too), ICMP and every
 * other loopback port.  The next
 * two keep every sandbox's listener ports (set "ports") to the sandbox
 * itself and root (set "owners", uid . port): anyone else's connection
 * to them is dropped.  Each step is one "nft -f -" transaction, so a
 * sandbox is never half filtered.  verify reads "nft -j list table"
 * with jansson.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"
#include "log.h"
#include "sbxd.h"
#include "sandbox.h"

#define FW_NFT_PATH		"/usr/sbin/nft"	/* Debian, Fedora, Arch */
#define FW_NFT_PATH_ALT		"/sbin/nft"	/* systems without merged
						   /usr that install it there */
#define FW_NFT_MAP		"sandboxes"	/* uid : verdict */
#define FW_NFT_BASE		"output"	/* the hooked chain */
#define FW_NFT_GROUP_MAX	65535	/* NFLOG groups are 16 bits */
#define FW_NFT_PORTS		"ports"		/* every sandbox's ports */
#define FW_NFT_OWNERS		"owners"	/* uid . port */
#define FW_NFT_RULES_MAX	5	/* accept, reply, log, reset, icmpx */
/* Nobody but the owner and root reaches a sandbox's listener ports. */
#define FW_NFT_OWNER_RULE(fam, addr)					\
	fam " daddr " addr " tcp dport @" FW_NFT_PORTS " meta skuid != 0 " \
	"meta skuid . tcp dport != @" FW_NFT_OWNERS " drop"
#define FW_NFT_OWNER_RULE4	FW_NFT_OWNER_RULE("ip", "127.0.0.0/8")
#define FW_NFT_OWNER_RULE6	FW_NFT_OWNER_RULE("ip6", "::1")
#define FW_NFT_CHAIN_MAX	32	/* "uid_4294967295" fits */

/* What one rule of a sandbox chain must be; verify fills one per rule. */
struct fw_nft_rule {
	const char	*nr_family;	/* "ip", "ip6" or NULL */
	const char	*nr_daddr;
	int		 nr_ports[SANDBOX_PORTS_MAX];
	int		 nr_nports;
	int		 nr_verdict;	/* FW_NFT_ACCEPT, ... */
	const char	*nr_prefix;	/* log prefix, NULL: no log */
	int		 nr_group;
	int		 nr_reply;	/* ct direction reply */
	const char	*nr_notsport;	/* tcp sport != this set */
	int		 nr_l4tcp;	/* meta l4proto tcp */
};

#define FW_NFT_NONE	0
#define FW_NFT_ACCEPT	1
#define FW_NFT_DROP	2
#define FW_NFT_LOG	3
#define FW_NFT_RESET	4	/* reject with tcp reset */
#define FW_NFT_ICMPX	5	/* reject with icmpx admin-prohibited */
#define FW_NFT_REPLY	6	/* the kind of the reply rule (an accept) */

static const char *fw_nft_path(void);
static int	 fw_nft_conf_ok(const struct fw_conf *);
static void	 fw_nft_cmd(struct sandbox_cmdlist *, int, FILE *, char **);
static void	 fw_nft_ports(FILE *, const struct fw_sandbox *);
static void	 fw_nft_chain(char *, size_t, uid_t);
static void	 fw_nft_elements(FILE *, const char *, const char *,
		    const struct fw_sandbox *);
static int	 fw_nft_init(const struct fw_conf *, struct sandbox_cmdlist *);
static int	 fw_nft_apply(const struct fw_conf *,
		    const struct fw_sandbox *, struct sandbox_cmdlist *);
static int	 fw_nft_remove(const struct fw_conf *,
		    const struct fw_sandbox *, struct sandbox_cmdlist *);
static int	 fw_nft_list(const struct fw_conf *, struct sandbox_cmdlist *);
static int	 fw_nft_verify(const struct fw_conf *,
		    const struct fw_sandbox *, const char *, char *, size_t);
static json_t	*fw_nft_find(json_t *, const char *, const char *,
		    const char *, const json_t *);
static int	 fw_nft_check_base(json_t *, const char *, char *, size_t);
static int	 fw_nft_owner_rule(json_t *, const char *);
static int	 fw_nft_check_sets(json_t *, const char *,
		    const struct fw_sandbox *, char *, size_t);
static int	 fw_nft_check_map(json_t *, const char *, uid_t, char *,
		    size_t);
static int	 fw_nft_check_chain(json_t *, const struct fw_conf *,
		    const struct fw_sandbox *, char *, size_t);
static int	 fw_nft_rule_parse(json_t *, struct fw_nft_rule *);
static int	 fw_nft_match_parse(json_t *, struct fw_nft_rule *);
static int	 fw_nft_ports_parse(json_t *, struct fw_nft_rule *);
static int	 fw_nft_rule_check(const struct fw_nft_rule *, int, int,
		    const struct fw_conf *, const struct fw_sandbox *, char *,
		    size_t);
static int	 fw_nft_ports_same(const struct fw_nft_rule *,
		    const struct fw_sandbox *);
static int	 fw_nft_held(const struct fw_conf *, const char *,
		    struct fw_held *, int, int *);
static int	 fw_nft_prune(const struct fw_conf *, const struct fw_prune *,
		    struct sandbox_cmdlist *);
static void	 fw_nft_uidchain(FILE *, const struct fw_conf *,
		    const struct fw_sandbox *);

const struct fw_backend fw_nft_backend = {
	"nft", fw_nft_init, fw_nft_apply, fw_nft_remove, fw_nft_list,
	fw_nft_verify, fw_nft_held, fw_nft_prune
};

/* nft where this system installed it; the usual place if nowhere. */
static const char *
fw_nft_path(void)
{
	if (access(FW_NFT_PATH, X_OK) == 0)
		return (FW_NFT_PATH);
	if (access(FW_NFT_PATH_ALT, X_OK) == 0)
		return (FW_NFT_PATH_ALT);
	return (FW_NFT_PATH);
}

static int
fw_nft_conf_ok(const struct fw_conf *fc)
{
	return (config_fw_table_ok(fc->fc_table) && fc->fc_group >= -1 &&
	    fc->fc_group <= FW_NFT_GROUP_MAX);
}


/*
 * Append "nft -f -" with the script written to fp as its stdin; fp is
 * an open_memstream on *bufp, which is only valid once fp is closed.
 * fp NULL (open_memstream failed) or a failed close fail the list.
 */
static void
fw_nft_cmd(struct sandbox_cmdlist *cl, int flags, FILE *fp, char **bufp)
{
	struct sandbox_cmd	*sc;

	if (fp == NULL || fclose(fp) == EOF) {
		sandbox_cmdlist_fail(cl);
		if (fp != NULL)
			free(*bufp);
		return;
	}
	sc = sandbox_cmd_add(cl, flags, fw_nft_path(), "-f", "-", NULL);
	sandbox_cmd_input(cl, sc, *bufp);
	free(*bufp);
}

/* "3128" or "{ 3128, 8080 }": nft prints a one-port set as the port. */
static void
fw_nft_ports(FILE *fp, const struct fw_sandbox *fs)
{
	int	 i;

	if (fs->fs_nports == 1) {
		fprintf(fp, "%u", fs->fs_ports[0]);
		return;
	}
	fputs("{ ", fp);
	for (i = 0; i < fs->fs_nports; i++)
		fprintf(fp, "%s%u", i > 0 ? ", " : "", fs->fs_ports[i]);
	fputs(" }", fp);
}

/* A uid's chain, which is also its log prefix: "uid_N". */
static void
fw_nft_chain(char *buf, size_t len, uid_t uid)
{
	snprintf(buf, len, SBXD_UID_PREFIX "%lu", (unsigned long)uid);
}

/*
 * The table, the map and the base chain.  "add" leaves what exists, so
 * a restart keeps every sandbox filtered; the base chain is flushed and
 * refilled in the same transaction so its one rule appears once.
 */
static int
fw_nft_init(const struct fw_conf *fc, struct sandbox_cmdlist *cl)
{
	FILE	*fp;
	char	*buf;
	size_t	 len;
	const char *t = fc->fc_table;

	if (!fw_nft_conf_ok(fc))
		return (-1);
	if ((fp = open_memstream(&buf, &len)) == NULL) {
		fw_nft_cmd(cl, 0, NULL, NULL);
		return (0);
	}
	fprintf(fp, "add table inet %s\n", t);
	fprintf(fp, "add map inet %s %s { type uid : verdict; }\n", t,
	    FW_NFT_MAP);
	fprintf(fp, "add set inet %s %s { type inet_service; }\n", t,
	    FW_NFT_PORTS);
	fprintf(fp, "add set inet %s %s { type uid . inet_service; }\n", t,
	    FW_NFT_OWNERS);
	fprintf(fp, "add chain inet %s %s { type filter hook output "
	    "priority filter; policy accept; }\n", t, FW_NFT_BASE);
	fprintf(fp, "flush chain inet %s %s\n", t, FW_NFT_BASE);
	fprintf(fp, "add rule inet %s %s meta skuid vmap @%s\n", t,
	    FW_NFT_BASE, FW_NFT_MAP);
	fprintf(fp, "add rule inet %s %s %s\n", t, FW_NFT_BASE,
	    FW_NFT_OWNER_RULE4);
	fprintf(fp, "add rule inet %s %s %s\n", t, FW_NFT_BASE,
	    FW_NFT_OWNER_RULE6);
	fw_nft_cmd(cl, 0, fp, &buf);
	return (0);
}

/*
 * One transaction: the sandbox's ports and owner elements, then for a
 * restricted sandbox its chain, created if new, emptied and refilled,
 * and the map sending the uid to it.  Adding an element that exists
 * (with the same verdict) is not an error, so running it twice changes
 * nothing.
 */
static int
fw_nft_apply(const struct fw_conf *fc, const struct fw_sandbox *fs,
    struct sandbox_cmdlist *cl)
{
	FILE	*fp;
	char	*buf;
	size_t	 len;

	if (!fw_nft_conf_ok(fc) || !fw_sandbox_ok(fs))
		return (-1);
	if ((fp = open_memstream(&buf, &len)) == NULL) {
		fw_nft_cmd(cl, 0, NULL, NULL);
		return (0);
	}
	if (fs->fs_nports > 0)
		fw_nft_elements(fp, "add", fc->fc_table, fs);
	if (fs->fs_restricted)
		fw_nft_uidchain(fp, fc, fs);
	fw_nft_cmd(cl, 0, fp, &buf);
	return (0);
}

/*
 * A restricted uid's chain, created if new, emptied and refilled: its
 * listener ports, its answers on connections others opened to it
 * (never from a listener port: it does not answer for another
 * sandbox's proxy), the rest logged and rejected; and the map sending
 * the uid to it.  Without ports the uid is cut off: it reaches nothing
 * and answers nobody.
 */
static void
fw_nft_uidchain(FILE *fp, const struct fw_conf *fc,
    const struct fw_sandbox *fs)
{
	char		 c[FW_NFT_CHAIN_MAX];
	const char	*t = fc->fc_table;

	fw_nft_chain(c, sizeof(c), fs->fs_uid);
	fprintf(fp, "add chain inet %s %s\n", t, c);
	fprintf(fp, "flush chain inet %s %s\n", t, c);
	if (fs->fs_nports > 0) {
		fprintf(fp, "add rule inet %s %s ip daddr 127.0.0.1 tcp "
		    "dport ", t, c);
		fw_nft_ports(fp, fs);
		fprintf(fp, " accept\n");
		fprintf(fp, "add rule inet %s %s ct direction reply tcp sport "
		    "!= @%s accept\n", t, c, FW_NFT_PORTS);
	}
	if (fc->fc_group != -1)
		fprintf(fp, "add rule inet %s %s log prefix \"%s\" group %d\n",
		    t, c, c, fc->fc_group);
	fprintf(fp, "add rule inet %s %s meta l4proto tcp reject with tcp "
	    "reset\n", t, c);
	fprintf(fp, "add rule inet %s %s reject with icmpx type "
	    "admin-prohibited\n", t, c);
	fprintf(fp, "add element inet %s %s { %lu : jump %s }\n", t,
	    FW_NFT_MAP, (unsigned long)fs->fs_uid, c);
}

/*
 * Every uid and port in the listing: the uid_N chains, the map's keys,
 * the owner elements and the ports elements.
 */
static int
fw_nft_held(const struct fw_conf *fc, const char *text, struct fw_held *held,
    int max, int *n)
{
	json_error_t	 err;
	json_t		*root, *items, *it, *o, *elems, *e, *k;
	const char	*kind, *name;
	unsigned long	 u;
	size_t		 i, j;
	int		 end, ret = -1;

	*n = 0;
	if (!fw_nft_conf_ok(fc) || text == NULL ||
	    (root = json_loads(text, 0, &err)) == NULL)
		return (-1);
	if ((items = json_object_get(root, "nftables")) == NULL)
		goto done;
	json_array_foreach(items, i, it) {
		kind = json_object_get(it, "chain") != NULL ? "chain" :
		    json_object_get(it, "map") != NULL ? "map" :
		    json_object_get(it, "set") != NULL ? "set" : NULL;
		if (kind == NULL)
			continue;
		o = json_object_get(it, kind);
		if (!json_is_string(json_object_get(o, "table")) ||
		    strcmp(json_string_value(json_object_get(o, "table")),
		    fc->fc_table) != 0 ||
		    (name = json_string_value(json_object_get(o, "name"))) ==
		    NULL)
			continue;
		if (strcmp(kind, "chain") == 0) {
			if (strncmp(name, SBXD_UID_PREFIX,
			    strlen(SBXD_UID_PREFIX)) == 0 &&
			    isdigit((unsigned char)name[strlen(
			    SBXD_UID_PREFIX)]) && sscanf(name, SBXD_UID_PREFIX
			    "%lu%n", &u, &end) == 1 && name[end] == '\0' &&
			    *n < max) {
				held[*n].fh_uid = (uid_t)u;
				held[(*n)++].fh_port = 0;
			}
			continue;
		}
		elems = json_object_get(o, "elem");
		json_array_foreach(elems, j, e) {
			if (*n == max)
				break;
			if (strcmp(name, FW_NFT_MAP) == 0 && json_is_array(e) &&
			    json_is_integer(k = json_array_get(e, 0))) {
				held[*n].fh_uid = (uid_t)json_integer_value(k);
				held[(*n)++].fh_port = 0;
			} else if (strcmp(name, FW_NFT_OWNERS) == 0 &&
			    (k = json_object_get(e, "concat")) != NULL &&
			    json_is_integer(json_array_get(k, 0)) &&
			    json_is_integer(json_array_get(k, 1))) {
				held[*n].fh_uid = (uid_t)json_integer_value(
				    json_array_get(k, 0));
				held[(*n)++].fh_port = (in_port_t)
				    json_integer_value(json_array_get(k, 1));
			} else if (strcmp(name, FW_NFT_PORTS) == 0 &&
			    json_is_integer(e)) {
				held[*n].fh_uid = (uid_t)-1;
				held[(*n)++].fh_port = (in_port_t)
				    json_integer_value(e);
			}
		}
	}
	ret = 0;
 done:
	json_decref(root);
	return (ret);
}

/*
 * One transaction: the stale owner and ports elements go, the uids to
 * cut off get a chain that drops all, the others lose chain and map
 * element.  Each element is added before it is deleted, so that one
 * gone already is no error.
 */
static int
fw_nft_prune(const struct fw_conf *fc, const struct fw_prune *fp_,
    struct sandbox_cmdlist *cl)
{
	struct fw_sandbox	 cut;
	FILE			*fp;
	char			*buf, c[FW_NFT_CHAIN_MAX];
	size_t			 len;
	const char		*t = fc->fc_table;
	unsigned long		 u;
	int			 i;

	if (!fw_nft_conf_ok(fc))
		return (-1);
	if ((fp = open_memstream(&buf, &len)) == NULL) {
		fw_nft_cmd(cl, 0, NULL, NULL);
		return (0);
	}
	for (i = 0; i < fp_->fp_nowners; i++) {
		u = (unsigned long)fp_->fp_owners[i].fh_uid;
		fprintf(fp, "add element inet %s %s { %lu . %u }\n", t,
		    FW_NFT_OWNERS, u, fp_->fp_owners[i].fh_port);
		fprintf(fp, "delete element inet %s %s { %lu . %u }\n", t,
		    FW_NFT_OWNERS, u, fp_->fp_owners[i].fh_port);
	}
	for (i = 0; i < fp_->fp_nports; i++) {
		fprintf(fp, "add element inet %s %s { %u }\n", t, FW_NFT_PORTS,
		    fp_->fp_ports[i]);
		fprintf(fp, "delete element inet %s %s { %u }\n", t,
		    FW_NFT_PORTS, fp_->fp_ports[i]);
	}
	memset(&cut, 0, sizeof(cut));
	cut.fs_restricted = 1;
	for (i = 0; i < fp_->fp_ncut; i++) {
		cut.fs_uid = fp_->fp_cut[i];
		fw_nft_uidchain(fp, fc, &cut);
	}
	for (i = 0; i < fp_->fp_ngone; i++) {
		u = (unsigned long)fp_->fp_gone[i];
		fw_nft_chain(c, sizeof(c), fp_->fp_gone[i]);
		fprintf(fp, "add chain inet %s %s\n", t, c);
		fprintf(fp, "add element inet %s %s { %lu : jump %s }\n", t,
		    FW_NFT_MAP, u, c);
		fprintf(fp, "delete element inet %s %s { %lu }\n", t,
		    FW_NFT_MAP, u);
		fprintf(fp, "flush chain inet %s %s\n", t, c);
		fprintf(fp, "delete chain inet %s %s\n", t, c);
	}
	fw_nft_cmd(cl, 0, fp, &buf);
	return (0);
}

/*
 * Delete the elements, then the chain.  nft 1.0.6 has no "destroy", so
 * the transaction first adds them all (a no-op when they exist):
 * deleting then never fails on a sandbox that is already gone, or an
 * unrestricted one that never had a chain.
 */
static int
fw_nft_remove(const struct fw_conf *fc, const struct fw_sandbox *fs,
    struct sandbox_cmdlist *cl)
{
	FILE		*fp;
	char		*buf, c[FW_NFT_CHAIN_MAX];
	size_t		 len;
	const char	*t = fc->fc_table;
	unsigned long	 u = (unsigned long)fs->fs_uid;

	if (!fw_nft_conf_ok(fc) || fs->fs_uid == 0 || fs->fs_uid == (uid_t)-1)
		return (-1);
	fw_nft_chain(c, sizeof(c), fs->fs_uid);
	if ((fp = open_memstream(&buf, &len)) == NULL) {
		fw_nft_cmd(cl, 0, NULL, NULL);
		return (0);
	}
	if (fs->fs_nports > 0) {
		fw_nft_elements(fp, "add", t, fs);
		fw_nft_elements(fp, "delete", t, fs);
	}
	fprintf(fp, "add chain inet %s %s\n", t, c);
	fprintf(fp, "add element inet %s %s { %lu : jump %s }\n", t,
	    FW_NFT_MAP, u, c);
	fprintf(fp, "delete element inet %s %s { %lu }\n", t, FW_NFT_MAP, u);
	fprintf(fp, "flush chain inet %s %s\n", t, c);
	fprintf(fp, "delete chain inet %s %s\n", t, c);
	fw_nft_cmd(cl, 0, fp, &buf);
	return (0);
}

/* "add" or "delete" the sandbox's elements of the ports and owners sets. */
static void
fw_nft_elements(FILE *fp, const char *verb, const char *t,
    const struct fw_sandbox *fs)
{
	int	 i;

	fprintf(fp, "%s element inet %s %s { ", verb, t, FW_NFT_PORTS);
	for (i = 0; i < fs->fs_nports; i++)
		fprintf(fp, "%s%u", i > 0 ? ", " : "", fs->fs_ports[i]);
	fprintf(fp, " }\n%s element inet %s %s { ", verb, t, FW_NFT_OWNERS);
	for (i = 0; i < fs->fs_nports; i++)
		fprintf(fp, "%s%lu . %u", i > 0 ? ", " : "",
		    (unsigned long)fs->fs_uid, fs->fs_ports[i]);
	fprintf(fp, " }\n");
}

/* The whole table as JSON, for verify. */
static int
fw_nft_list(const struct fw_conf *fc, struct sandbox_cmdlist *cl)
{
	if (!fw_nft_conf_ok(fc))
		return (-1);
	sandbox_cmd_add(cl, SANDBOX_CMD_OUTPUT, fw_nft_path(), "-j", "list",
	    "table", "inet", fc->fc_table, NULL);
	return (0);
}

/*
 * Check the listing against what apply loads for fs: the table, the
 * base chain and its rules, the sandbox's ports and owner elements,
 * and for a restricted sandbox the map element and the chain's rules.
 */
static int
fw_nft_verify(const struct fw_conf *fc, const struct fw_sandbox *fs,
    const char *text, char *why, size_t len)
{
	json_t		*root, *items;
	json_error_t	 err;
	int		 ret = -1;

	if (!fw_nft_conf_ok(fc) || !fw_sandbox_ok(fs))
		return (util_err(why, len, "bad table, group, uid or ports"));
	if (text == NULL || *text == '\0')
		return (util_err(why, len, "table inet %s missing: empty "
		    "listing", fc->fc_table));
	if ((root = json_loads(text, 0, &err)) == NULL)
		return (util_err(why, len, "listing is not JSON: line %d: "
		    "%s", err.line, err.text));
	items = json_object_get(root, "nftables");
	if (!json_is_array(items)) {
		util_err(why, len, "listing has no \"nftables\" array");
		goto end;
	}
	if (fw_nft_find(items, "table", fc->fc_table, NULL, NULL) == NULL) {
		util_err(why, len, "table inet %s missing", fc->fc_table);
		goto end;
	}
	if (fw_nft_check_base(items, fc->fc_table, why, len) == -1 ||
	    fw_nft_check_sets(items, fc->fc_table, fs, why, len) == -1)
		goto end;
	if (fs->fs_restricted && (fw_nft_check_map(items, fc->fc_table,
	    fs->fs_uid, why, len) == -1 ||
	    fw_nft_check_chain(items, fc, fs, why, len) == -1))
		goto end;
	ret = 0;
 end:
	json_decref(root);
	return (ret);
}

/*
 * The first object of kind ("table", "chain", "map", "rule") in the
 * inet table, with that name (tables, chains, maps) or chain (rules).
 */
static json_t *
fw_nft_find(json_t *items, const char *kind, const char *table,
    const char *name, const json_t *after)
{
	json_t		*it, *o;
	size_t		 i;
	const char	*key, *tkey;
	int		 past = after == NULL;

	key = strcmp(kind, "rule") == 0 ? "chain" : "name";
	tkey = strcmp(kind, "table") == 0 ? "name" : "table";
	json_array_foreach(items, i, it) {
		if ((o = json_object_get(it, kind)) == NULL)
			continue;
		if (!past) {
			past = o == after;
			continue;
		}
		if (json_is_string(json_object_get(o, "family")) &&
		    strcmp(json_string_value(json_object_get(o, "family")),
		    "inet") != 0)
			continue;
		if (!json_is_string(json_object_get(o, tkey)) ||
		    strcmp(json_string_value(json_object_get(o, tkey)),
		    table) != 0)
			continue;
		if (name == NULL || (json_is_string(json_object_get(o, key)) &&
		    strcmp(json_string_value(json_object_get(o, key)),
		    name) == 0))
			return (o);
	}
	return (NULL);
}

/*
 * The output hook chain: its "meta skuid vmap @sandboxes" rule, and for
 * each of ip and ip6 a rule that drops what is not in @owners.
 */
static int
fw_nft_check_base(json_t *items, const char *t, char *why, size_t len)
{
	json_t		*c, *r, *vmap;
	const char	*hook, *data, *key;
	int		 have_vmap = 0, have4 = 0, have6 = 0;

	if ((c = fw_nft_find(items, "chain", t, FW_NFT_BASE, NULL)) == NULL)
		return (util_err(why, len, "chain %s missing", FW_NFT_BASE));
	hook = json_string_value(json_object_get(c, "hook"));
	if (hook == NULL || strcmp(hook, "output") != 0)
		return (util_err(why, len, "chain %s is not on the output "
		    "hook", FW_NFT_BASE));
	for (r = fw_nft_find(items, "rule", t, FW_NFT_BASE, NULL); r != NULL;
	    r = fw_nft_find(items, "rule", t, FW_NFT_BASE, r)) {
		vmap = json_object_get(json_array_get(json_object_get(r,
		    "expr"), 0), "vmap");
		key = json_string_value(json_object_get(json_object_get(
		    json_object_get(vmap, "key"), "meta"), "key"));
		data = json_string_value(json_object_get(vmap, "data"));
		if (key != NULL && data != NULL &&
		    strcmp(key, "skuid") == 0 &&
		    strcmp(data, "@" FW_NFT_MAP) == 0)
			have_vmap = 1;
		else if (fw_nft_owner_rule(json_object_get(r, "expr"), "ip"))
			have4 = 1;
		else if (fw_nft_owner_rule(json_object_get(r, "expr"), "ip6"))
			have6 = 1;
	}
	if (!have_vmap)
		return (util_err(why, len, "chain %s lacks meta skuid vmap "
		    "@%s", FW_NFT_BASE, FW_NFT_MAP));
	if (!have4 || !have6)
		return (util_err(why, len, "chain %s lacks the %s rule that "
		    "keeps others off the sandboxes' listeners", FW_NFT_BASE,
		    !have4 ? "ip" : "ip6"));
	return (0);
}

/*
 * Whether expr is the owners rule for family fam: a daddr match of fam,
 * tcp dport in @ports, skuid not 0, skuid . dport not in @owners, drop.
 */
static int
fw_nft_owner_rule(json_t *expr, const char *fam)
{
	json_t		*e, *m, *pl;
	size_t		 i;
	const char	*proto, *right, *op;
	int		 daddr = 0, ports = 0, owners = 0, drop = 0;

	json_array_foreach(expr, i, e) {
		if (json_object_get(e, "drop") != NULL) {
			drop = i == json_array_size(expr) - 1;
			continue;
		}
		if ((m = json_object_get(e, "match")) == NULL)
			return (0);
		op = json_string_value(json_object_get(m, "op"));
		right = json_string_value(json_object_get(m, "right"));
		pl = json_object_get(json_object_get(m, "left"), "payload");
		proto = json_string_value(json_object_get(pl, "protocol"));
		if (proto != NULL && strcmp(proto, fam) == 0)
			daddr = 1;
		else if (right != NULL && op != NULL &&
		    strcmp(right, "@" FW_NFT_PORTS) == 0)
			ports = strcmp(op, "==") == 0;
		else if (right != NULL && op != NULL &&
		    strcmp(right, "@" FW_NFT_OWNERS) == 0)
			owners = strcmp(op, "!=") == 0;
	}
	return (daddr && ports && owners && drop);
}

/* The sandbox's ports in @ports, and uid . port for each in @owners. */
static int
fw_nft_check_sets(json_t *items, const char *t, const struct fw_sandbox *fs,
    char *why, size_t len)
{
	json_t		*ports, *owners, *e, *c;
	size_t		 k;
	int		 i, found;

	ports = json_object_get(fw_nft_find(items, "set", t, FW_NFT_PORTS,
	    NULL), "elem");
	owners = json_object_get(fw_nft_find(items, "set", t, FW_NFT_OWNERS,
	    NULL), "elem");
	for (i = 0; i < fs->fs_nports; i++) {
		found = 0;
		json_array_foreach(ports, k, e)
			if (json_is_integer(e) &&
			    json_integer_value(e) == fs->fs_ports[i])
				found = 1;
		if (!found)
			return (util_err(why, len, "set %s lacks port %u",
			    FW_NFT_PORTS, fs->fs_ports[i]));
		found = 0;
		json_array_foreach(owners, k, e) {
			c = json_object_get(e, "concat");
			if (json_integer_value(json_array_get(c, 0)) ==
			    (json_int_t)fs->fs_uid &&
			    json_integer_value(json_array_get(c, 1)) ==
			    fs->fs_ports[i])
				found = 1;
		}
		if (!found)
			return (util_err(why, len, "set %s lacks %lu . %u",
			    FW_NFT_OWNERS, (unsigned long)fs->fs_uid,
			    fs->fs_ports[i]));
	}
	return (0);
}

/* The map sends uid to "jump uid_<uid>". */
static int
fw_nft_check_map(json_t *items, const char *t, uid_t uid, char *why,
    size_t len)
{
	json_t		*m, *elems, *e;
	size_t		 i;
	const char	*target;
	char		 want[FW_NFT_CHAIN_MAX];

	if ((m = fw_nft_find(items, "map", t, FW_NFT_MAP, NULL)) == NULL)
		return (util_err(why, len, "map %s missing", FW_NFT_MAP));
	fw_nft_chain(want, sizeof(want), uid);
	elems = json_object_get(m, "elem");
	json_array_foreach(elems, i, e) {
		if (!json_is_integer(json_array_get(e, 0)) ||
		    json_integer_value(json_array_get(e, 0)) != (json_int_t)uid)
			continue;
		target = json_string_value(json_object_get(json_object_get(
		    json_array_get(e, 1), "jump"), "target"));
		if (target == NULL || strcmp(target, want) != 0)
			return (util_err(why, len, "map %s sends uid %lu "
			    "elsewhere than jump %s", FW_NFT_MAP,
			    (unsigned long)uid, want));
		return (0);
	}
	return (util_err(why, len, "map %s has no element for uid %lu",
	    FW_NFT_MAP, (unsigned long)uid));
}

/* Chain uid_<uid> (fw_nft_chain) holds exactly the rules apply writes, in order. */
static int
fw_nft_check_chain(json_t *items, const struct fw_conf *fc,
    const struct fw_sandbox *fs, char *why, size_t len)
{
	struct fw_nft_rule	 rules[FW_NFT_RULES_MAX];
	json_t			*r;
	char			 name[FW_NFT_CHAIN_MAX];
	int			 kinds[FW_NFT_RULES_MAX];
	int			 n = 0, want, i, cut = fs->fs_nports == 0;

	fw_nft_chain(name, sizeof(name), fs->fs_uid);
	if (fw_nft_find(items, "chain", fc->fc_table, name, NULL) == NULL)
		return (util_err(why, len, "chain %s missing", name));
	/* The rules apply writes, in order (fw_nft_uidchain). */
	want = 0;
	if (!cut) {
		kinds[want++] = FW_NFT_ACCEPT;
		kinds[want++] = FW_NFT_REPLY;
	}
	if (fc->fc_group != -1)
		kinds[want++] = FW_NFT_LOG;
	kinds[want++] = FW_NFT_RESET;
	kinds[want++] = FW_NFT_ICMPX;
	for (r = fw_nft_find(items, "rule", fc->fc_table, name, NULL);
	    r != NULL; r = fw_nft_find(items, "rule", fc->fc_table, name,
	    r)) {
		if (n == FW_NFT_RULES_MAX) {
			n++;
			break;
		}
		if (fw_nft_rule_parse(json_object_get(r, "expr"),
		    &rules[n]) == -1)
			return (util_err(why, len, "chain %s: rule %d is "
			    "not one sbxd writes", name, n + 1));
		n++;
	}
	if (n != want)
		return (util_err(why, len, "chain %s has %s%d rules, want %d",
		    name, n > FW_NFT_RULES_MAX ? "more than " : "",
		    n > FW_NFT_RULES_MAX ? FW_NFT_RULES_MAX : n, want));
	for (i = 0; i < n; i++)
		if (fw_nft_rule_check(&rules[i], kinds[i], i, fc, fs, why,
		    len) == -1)
			return (-1);
	return (0);
}

/* Read one rule's expressions: matches, then log, accept, drop or reject. */
static int
fw_nft_rule_parse(json_t *expr, struct fw_nft_rule *nr)
{
	json_t		*e, *log, *rej;
	const char	*type, *what;
	size_t		 i;

	memset(nr, 0, sizeof(*nr));
	nr->nr_group = -1;
	if (!json_is_array(expr))
		return (-1);
	json_array_foreach(expr, i, e) {
		if (nr->nr_verdict != FW_NFT_NONE &&
		    nr->nr_verdict != FW_NFT_LOG)
			return (-1);	/* nothing after a verdict */
		if (json_object_get(e, "match") != NULL) {
			if (fw_nft_match_parse(json_object_get(e, "match"),
			    nr) == -1)
				return (-1);
		} else if ((log = json_object_get(e, "log")) != NULL) {
			nr->nr_verdict = FW_NFT_LOG;
			nr->nr_prefix = json_string_value(json_object_get(log,
			    "prefix"));
			if (json_is_integer(json_object_get(log, "group")))
				nr->nr_group = json_integer_value(
				    json_object_get(log, "group"));
		} else if (json_object_get(e, "accept") != NULL)
			nr->nr_verdict = FW_NFT_ACCEPT;
		else if (json_object_get(e, "drop") != NULL)
			nr->nr_verdict = FW_NFT_DROP;
		else if ((rej = json_object_get(e, "reject")) != NULL) {
			type = json_string_value(json_object_get(rej, "type"));
			what = json_string_value(json_object_get(rej, "expr"));
			if (type != NULL && strcmp(type, "tcp reset") == 0 &&
			    what == NULL)
				nr->nr_verdict = FW_NFT_RESET;
			else if (type != NULL && strcmp(type, "icmpx") == 0 &&
			    what != NULL && strcmp(what, "admin-prohibited") == 0)
				nr->nr_verdict = FW_NFT_ICMPX;
			else
				return (-1);
		} else
			return (-1);
	}
	return (0);
}

/*
 * "ip daddr 127.0.0.1", "ip6 daddr ::1", "tcp dport ...", "ct direction
 * reply", "tcp sport != @set" or "meta l4proto tcp".
 */
static int
fw_nft_match_parse(json_t *m, struct fw_nft_rule *nr)
{
	json_t		*l, *pl;
	const char	*op, *proto, *field, *key, *right;

	op = json_string_value(json_object_get(m, "op"));
	l = json_object_get(m, "left");
	right = json_string_value(json_object_get(m, "right"));
	if (op == NULL)
		return (-1);
	if ((key = json_string_value(json_object_get(json_object_get(l, "ct"),
	    "key"))) != NULL) {
		if (strcmp(op, "==") != 0 || strcmp(key, "direction") != 0 ||
		    right == NULL || strcmp(right, "reply") != 0 ||
		    nr->nr_reply)
			return (-1);
		nr->nr_reply = 1;
		return (0);
	}
	if ((key = json_string_value(json_object_get(json_object_get(l,
	    "meta"), "key"))) != NULL) {
		if (strcmp(op, "==") != 0 || strcmp(key, "l4proto") != 0 ||
		    right == NULL || strcmp(right, "tcp") != 0 || nr->nr_l4tcp)
			return (-1);
		nr->nr_l4tcp = 1;
		return (0);
	}
	pl = json_object_get(l, "payload");
	proto = json_string_value(json_object_get(pl, "protocol"));
	field = json_string_value(json_object_get(pl, "field"));
	if (proto == NULL || field == NULL)
		return (-1);
	if (strcmp(op, "!=") == 0 && strcmp(proto, "tcp") == 0 &&
	    strcmp(field, "sport") == 0 && right != NULL &&
	    right[0] == '@' && nr->nr_notsport == NULL) {
		nr->nr_notsport = right + 1;
		return (0);
	}
	if (strcmp(op, "==") != 0)
		return (-1);
	if ((strcmp(proto, "ip") == 0 || strcmp(proto, "ip6") == 0) &&
	    strcmp(field, "daddr") == 0 && nr->nr_family == NULL) {
		nr->nr_family = strcmp(proto, "ip") == 0 ? "ip" : "ip6";
		nr->nr_daddr = right;
		return (nr->nr_daddr != NULL ? 0 : -1);
	}
	if (strcmp(proto, "tcp") == 0 && strcmp(field, "dport") == 0 &&
	    nr->nr_nports == 0)
		return (fw_nft_ports_parse(json_object_get(m, "right"), nr));
	return (-1);
}

/* A port, or a set of ports (no ranges: apply writes none). */
static int
fw_nft_ports_parse(json_t *right, struct fw_nft_rule *nr)
{
	json_t	*set, *p;
	size_t	 i;

	if (json_is_integer(right)) {
		nr->nr_ports[nr->nr_nports++] = json_integer_value(right);
		return (0);
	}
	set = json_object_get(right, "set");
	if (!json_is_array(set) || json_array_size(set) == 0 ||
	    json_array_size(set) > SANDBOX_PORTS_MAX)
		return (-1);
	json_array_foreach(set, i, p) {
		if (!json_is_integer(p))
			return (-1);
		nr->nr_ports[nr->nr_nports++] = json_integer_value(p);
	}
	return (0);
}

/* Rule i of the chain, against the one of kind apply writes there. */
static int
fw_nft_rule_check(const struct fw_nft_rule *nr, int kind, int i,
    const struct fw_conf *fc, const struct fw_sandbox *fs, char *why,
    size_t len)
{
	char		 c[FW_NFT_CHAIN_MAX];
	int		 plain;

	fw_nft_chain(c, sizeof(c), fs->fs_uid);
	plain = nr->nr_family == NULL && nr->nr_nports == 0 && !nr->nr_reply &&
	    nr->nr_notsport == NULL && !nr->nr_l4tcp;
	switch (kind) {
	case FW_NFT_ACCEPT:
		if (nr->nr_verdict != FW_NFT_ACCEPT || nr->nr_family == NULL ||
		    strcmp(nr->nr_family, "ip") != 0 ||
		    strcmp(nr->nr_daddr, "127.0.0.1") != 0 || nr->nr_reply ||
		    nr->nr_notsport != NULL || nr->nr_l4tcp)
			return (util_err(why, len, "chain %s: rule 1 is not "
			    "ip daddr 127.0.0.1 tcp dport ... accept", c));
		if (!fw_nft_ports_same(nr, fs))
			return (util_err(why, len, "chain %s: rule 1 accepts "
			    "other ports than the sandbox's", c));
		return (0);
	case FW_NFT_REPLY:
		if (nr->nr_verdict != FW_NFT_ACCEPT || !nr->nr_reply ||
		    nr->nr_notsport == NULL ||
		    strcmp(nr->nr_notsport, FW_NFT_PORTS) != 0 ||
		    nr->nr_family != NULL || nr->nr_nports != 0 ||
		    nr->nr_l4tcp)
			return (util_err(why, len, "chain %s: rule %d is not "
			    "ct direction reply tcp sport != @%s accept", c,
			    i + 1, FW_NFT_PORTS));
		return (0);
	case FW_NFT_LOG:
		if (!plain || nr->nr_verdict != FW_NFT_LOG ||
		    nr->nr_prefix == NULL || strcmp(nr->nr_prefix, c) != 0 ||
		    nr->nr_group != fc->fc_group)
			return (util_err(why, len, "chain %s: rule %d is not "
			    "log prefix \"%s\" group %d", c, i + 1, c,
			    fc->fc_group));
		return (0);
	case FW_NFT_RESET:
		if (nr->nr_verdict != FW_NFT_RESET || !nr->nr_l4tcp ||
		    nr->nr_family != NULL || nr->nr_nports != 0 ||
		    nr->nr_reply || nr->nr_notsport != NULL)
			return (util_err(why, len, "chain %s: rule %d is not "
			    "meta l4proto tcp reject with tcp reset", c, i + 1));
		return (0);
	}
	if (!plain || nr->nr_verdict != FW_NFT_ICMPX)
		return (util_err(why, len, "chain %s: last rule is not reject "
		    "with icmpx admin-prohibited", c));
	return (0);
}

/* The same ports, in any order. */
static int
fw_nft_ports_same(const struct fw_nft_rule *nr, const struct fw_sandbox *fs)
{
	int	 i, j;

	if (nr->nr_nports != fs->fs_nports)
		return (0);
	for (i = 0; i < fs->fs_nports; i++) {
		for (j = 0; j < nr->nr_nports; j++)
			if (nr->nr_ports[j] == fs->fs_ports[i])
				break;
		if (j == nr->nr_nports)
			return (0);
	}
	return (1);
}
