/*
 * fw_pf.c: the macOS firewall backend, PF.  Each sandbox has an anchor
 * <fc_anchor>/uid_<UID> that passes TCP to 127.0.0.1 on its listener
 * ports from it and from root, and blocks that from anyone else; for a
 * restricted sandbox it then blocks, logging to pflog0, the rest of the
 * sandbox's TCP and UDP, with "return": a TCP reset or an ICMP
 * unreachable, so that a blocked client fails at once.  Connections
 * others open to the sandbox pass: their state is made on the way in.
 * The parent anchor holds only 'anchor "*"', since the stock pf.conf
 * evaluates the anchors right under com.apple, not their children.
 * Loading one anchor with "pfctl -f" replaces its rules at once.  PF
 * is enabled after a sandbox's anchor is loaded, so only once a
 * sandbox exists, and never disabled: other software on the
 * host may rely on it.  fc_group does not apply: "log" rules go to
 * pflog0.
 *
 * PF's "user" matches TCP and UDP only: pf_socket_lookup() finds no
 * socket for other protocols and leaves the uid at UID_MAX, so "user =
 * N" never matches ICMP and a "block ... proto icmp user N" rule would
 * be dead.  The ruleset therefore has no ICMP rules, and a sandbox can
 * still send ICMP through macOS's unprivileged ICMP datagram sockets.
 * Likewise its DNS lookups go through mDNSResponder, another user.
 *
 * Nothing here needs PF itself, so it builds and is tested on Linux.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "sbxd.h"
#include "sandbox.h"

#define FW_PF_PFCTL		"/sbin/pfctl"
#define FW_PF_IFCONFIG		"/sbin/ifconfig"
#define FW_PF_PFLOG		"pflog0"	/* where "log" rules go */
#define FW_PF_RULES_MAX		(3 * SANDBOX_PORTS_MAX + 4) /* 3 per
					   port, 4 blocks */
#define FW_PF_TOKENS		32	/* words read from one rule */
#define FW_PF_DEPTH		8	/* anchor nesting in a listing */
#define FW_PF_NAME_MAX		32	/* "uid_4294967295" fits */
#define FW_PF_PATH_MAX		(SANDBOX_FW_ANCHOR_MAX + FW_PF_NAME_MAX + 1)

/* One rule as pfctl prints it, reduced to what sbxd writes. */
struct fw_pf_rule {
	int	 pr_pass;		/* 1: pass, 0: block */
	int	 pr_return;		/* block return, not drop */
	int	 pr_out;
	int	 pr_log;
	int	 pr_quick;
	char	 pr_af[8];		/* "inet", "inet6" */
	char	 pr_proto[8];
	char	 pr_to[48];		/* "any" for "all" */
	long	 pr_port;		/* 0: any */
	long	 pr_uid;		/* -1: any */
};

static void	 fw_pf_name(char *, size_t, uid_t);
static void	 fw_pf_path(char *, size_t, const struct fw_conf *, uid_t);
static char	*fw_pf_ruleset(const struct fw_sandbox *);
static int	 fw_pf_enable(struct sandbox_cmdlist *);
static int	 fw_pf_init(const struct fw_conf *, struct sandbox_cmdlist *);
static int	 fw_pf_apply(const struct fw_conf *,
		    const struct fw_sandbox *, struct sandbox_cmdlist *);
static int	 fw_pf_remove(const struct fw_conf *,
		    const struct fw_sandbox *, struct sandbox_cmdlist *);
static int	 fw_pf_list(const struct fw_conf *, struct sandbox_cmdlist *);
static int	 fw_pf_list_uid(const struct fw_conf *, uid_t,
		    struct sandbox_cmdlist *);
static int	 fw_pf_verify(const struct fw_conf *,
		    const struct fw_sandbox *, const char *, char *, size_t);
static int	 fw_pf_rules(const char *, uid_t, struct fw_pf_rule *, int *,
		    int *);
static int	 fw_pf_anchor_line(const char *, char *, size_t);
static int	 fw_pf_rule_parse(char *, struct fw_pf_rule *);
static int	 fw_pf_rule_addr(char **, int, int *, struct fw_pf_rule *);
static void	 fw_pf_rule_str(const struct fw_pf_rule *, char *, size_t);
static int	 fw_pf_held(const struct fw_conf *, const char *,
		    struct fw_held *, int, int *);
static int	 fw_pf_prune(const struct fw_conf *, const struct fw_prune *,
		    struct sandbox_cmdlist *);

const struct fw_backend fw_pf_backend = {
	"pf", fw_pf_init, fw_pf_apply, fw_pf_remove, fw_pf_list, fw_pf_verify,
	fw_pf_held, fw_pf_prune
};


/* A uid's anchor below ours, which is also its log name: "uid_N". */
static void
fw_pf_name(char *buf, size_t len, uid_t uid)
{
	snprintf(buf, len, SBXD_UID_PREFIX "%lu", (unsigned long)uid);
}

/* "<anchor>/uid_<uid>", or with uid -1 the pattern of every child. */
static void
fw_pf_path(char *buf, size_t len, const struct fw_conf *fc, uid_t uid)
{
	char	 name[FW_PF_NAME_MAX];

	if (uid == (uid_t)-1)
		snprintf(name, sizeof(name), "*");
	else
		fw_pf_name(name, sizeof(name), uid);
	snprintf(buf, len, "%s/%s", fc->fc_anchor, name);
}

/*
 * The sandbox's anchor, one rule per port so that pfctl prints back
 * exactly these rules (it expands { } lists the same way).  Its
 * listener ports take the sandbox and root, nobody else; a restricted
 * sandbox reaches nothing else.  pass rules keep state by default:
 * replies on lo0 pass by the state.  NULL if memory ran out.
 */
static char *
fw_pf_ruleset(const struct fw_sandbox *fs)
{
	static const char *const af[] = { "inet", "inet6" };
	static const char *const proto[] = { "tcp", "udp" };
	FILE		*fp;
	char		*buf;
	size_t		 len;
	unsigned long	 u = (unsigned long)fs->fs_uid;
	int		 a, i;

	if ((fp = open_memstream(&buf, &len)) == NULL)
		return (NULL);
	for (i = 0; i < fs->fs_nports; i++)
		fprintf(fp, "pass out quick inet proto tcp from any to "
		    "127.0.0.1 port %u user %lu\n"
		    "pass out quick inet proto tcp from any to "
		    "127.0.0.1 port %u user 0\n"
		    "block out quick inet proto tcp from any to "
		    "127.0.0.1 port %u\n", fs->fs_ports[i], u,
		    fs->fs_ports[i], fs->fs_ports[i]);
	for (a = 0; fs->fs_restricted && a < 2; a++)
		for (i = 0; i < 2; i++)
			fprintf(fp, "block return out log quick %s proto %s all "
			    "user %lu\n", af[a], proto[i], u);
	if (fclose(fp) == EOF) {
		free(buf);
		return (NULL);
	}
	return (buf);
}

/*
 * pflog0 (it may exist already), then the parent anchor that evaluates
 * every sandbox's anchor.
 */
static int
fw_pf_init(const struct fw_conf *fc, struct sandbox_cmdlist *cl)
{
	struct sandbox_cmd	*sc;

	if (!config_fw_anchor_ok(fc->fc_anchor))
		return (-1);
	sandbox_cmd_add(cl, SANDBOX_CMD_MAYFAIL, FW_PF_IFCONFIG, FW_PF_PFLOG,
	    "create", NULL);
	sc = sandbox_cmd_add(cl, 0, FW_PF_PFCTL, "-a", fc->fc_anchor, "-f",
	    "-", NULL);
	sandbox_cmd_input(cl, sc, "anchor \"*\"\n");
	return (0);
}

/* Take a reference on PF being enabled (pfctl -E counts them). */
static int
fw_pf_enable(struct sandbox_cmdlist *cl)
{
	sandbox_cmd_add(cl, 0, FW_PF_PFCTL, "-E", NULL);
	return (0);
}

/* Replace the sandbox's anchor with its rules in one load. */
static int
fw_pf_apply(const struct fw_conf *fc, const struct fw_sandbox *fs,
    struct sandbox_cmdlist *cl)
{
	struct sandbox_cmd	*sc;
	char			 path[FW_PF_PATH_MAX], *rules;

	if (!config_fw_anchor_ok(fc->fc_anchor) || !fw_sandbox_ok(fs))
		return (-1);
	fw_pf_path(path, sizeof(path), fc, fs->fs_uid);
	if ((rules = fw_pf_ruleset(fs)) == NULL) {
		sandbox_cmdlist_fail(cl);
		return (0);
	}
	sc = sandbox_cmd_add(cl, 0, FW_PF_PFCTL, "-a", path, "-f", "-", NULL);
	sandbox_cmd_input(cl, sc, rules);
	free(rules);
	return (fw_pf_enable(cl));
}

/* Flush the sandbox's anchor; an anchor that is gone flushes fine. */
static int
fw_pf_remove(const struct fw_conf *fc, const struct fw_sandbox *fs,
    struct sandbox_cmdlist *cl)
{
	char	 path[FW_PF_PATH_MAX];

	if (!config_fw_anchor_ok(fc->fc_anchor) || fs->fs_uid == 0 ||
	    fs->fs_uid == (uid_t)-1)
		return (-1);
	fw_pf_path(path, sizeof(path), fc, fs->fs_uid);
	sandbox_cmd_add(cl, 0, FW_PF_PFCTL, "-a", path, "-F", "all", NULL);
	return (0);
}

/*
 * Every sandbox's rules: an anchor path ending in a star makes pfctl
 * recurse, printing each child as 'anchor "uid_N" all {' ... '}'.
 */
static int
fw_pf_list(const struct fw_conf *fc, struct sandbox_cmdlist *cl)
{
	return (fw_pf_list_uid(fc, (uid_t)-1, cl));
}

/* One sandbox's rules, unnested; verify reads this form too. */
int
fw_pf_list_sandbox(const struct fw_conf *fc, const struct fw_sandbox *fs,
    struct sandbox_cmdlist *cl)
{
	if (fs->fs_uid == 0 || fs->fs_uid == (uid_t)-1)
		return (-1);
	return (fw_pf_list_uid(fc, fs->fs_uid, cl));
}

/* The rules of uid's anchor, or of every one ((uid_t)-1). */
static int
fw_pf_list_uid(const struct fw_conf *fc, uid_t uid, struct sandbox_cmdlist *cl)
{
	char	 path[FW_PF_PATH_MAX];

	if (!config_fw_anchor_ok(fc->fc_anchor))
		return (-1);
	fw_pf_path(path, sizeof(path), fc, uid);
	sandbox_cmd_add(cl, SANDBOX_CMD_OUTPUT, FW_PF_PFCTL, "-a", path, "-sr",
	    NULL);
	return (0);
}

/*
 * Compare the sandbox's rules in the listing, in order, with the rules
 * apply loads, both read by the same parser.
 */
static int
fw_pf_verify(const struct fw_conf *fc, const struct fw_sandbox *fs,
    const char *text, char *why, size_t len)
{
	struct fw_pf_rule	 want[FW_PF_RULES_MAX], got[FW_PF_RULES_MAX];
	char			*rules, a[128], b[128], u[FW_PF_NAME_MAX];
	int			 nwant, ngot, i, found, r;

	if (!config_fw_anchor_ok(fc->fc_anchor) || !fw_sandbox_ok(fs))
		return (util_err(why, len, "bad anchor, uid or ports"));
	fw_pf_name(u, sizeof(u), fs->fs_uid);
	if ((rules = fw_pf_ruleset(fs)) == NULL)
		return (util_err(why, len, "out of memory"));
	r = fw_pf_rules(rules, fs->fs_uid, want, &nwant, &found);
	free(rules);
	if (r == -2)
		return (util_err(why, len, "out of memory"));
	if (r == -1)
		return (util_err(why, len, "cannot read the rules sbxd writes"));
	if (text == NULL)
		text = "";
	if ((r = fw_pf_rules(text, fs->fs_uid, got, &ngot, &found)) == -2)
		return (util_err(why, len, "out of memory"));
	if (r == -1)
		return (util_err(why, len, "anchor %s/%s: more rules than "
		    "sbxd writes", fc->fc_anchor, u));
	if (!found)
		return (util_err(why, len, "anchor %s/%s missing",
		    fc->fc_anchor, u));
	for (i = 0; i < nwant && i < ngot; i++) {
		fw_pf_rule_str(&want[i], a, sizeof(a));
		fw_pf_rule_str(&got[i], b, sizeof(b));
		if (strcmp(a, b) != 0)
			return (util_err(why, len, "anchor %s: rule %d is "
			    "\"%s\", want \"%s\"", u, i + 1, b, a));
	}
	if (ngot != nwant)
		return (util_err(why, len, "anchor %s has %d rules, want "
		    "%d%s", u, ngot, nwant,
		    ngot < nwant ? " (block rules missing)" : ""));
	return (0);
}

/*
 * The rules of uid's anchor in a listing: the lines inside its
 * 'anchor "...uid_N" ... {' block, or every line when the listing has
 * no anchor blocks (pfctl -a anchor/uid_N -sr).  found says whether
 * the anchor is there at all.  -1 if there are more than sbxd writes,
 * -2 if memory ran out.
 */
static int
fw_pf_rules(const char *text, uid_t uid, struct fw_pf_rule *rules, int *n,
    int *found)
{
	char	*copy, *line, *next, name[FW_PF_NAME_MAX], anchor[48];
	char	 stack[FW_PF_DEPTH][48];
	int	 depth = 0, blocks = 0, ret = 0;

	fw_pf_name(name, sizeof(name), uid);
	*n = 0;
	*found = 0;
	if ((copy = strdup(text)) == NULL)
		return (-2);
	for (line = copy; line != NULL && ret == 0; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		line += strspn(line, " \t");
		if (*line == '\0')
			continue;
		if (strcmp(line, "}") == 0) {
			depth -= depth > 0;
			continue;
		}
		if (fw_pf_anchor_line(line, anchor, sizeof(anchor))) {
			blocks++;
			if (strchr(line, '{') == NULL)
				continue;
			if (depth == FW_PF_DEPTH) {
				ret = -1;
				break;
			}
			snprintf(stack[depth++], sizeof(stack[0]), "%s", anchor);
			*found |= strcmp(anchor, name) == 0;
			continue;
		}
		if (blocks > 0 && (depth == 0 ||
		    strcmp(stack[depth - 1], name) != 0))
			continue;	/* another anchor's rule */
		if (*n == FW_PF_RULES_MAX) {
			ret = -1;
			break;
		}
		fw_pf_rule_parse(line, &rules[(*n)++]);
	}
	if (blocks == 0 && *n > 0)
		*found = 1;
	free(copy);
	return (ret);
}

/*
 * Every uid in the listing, by its anchor, and the listener ports its
 * pass rules name.  Owner and port are held inside the uid's anchor:
 * there are no ports elements.
 */
static int
fw_pf_held(const struct fw_conf *fc, const char *text, struct fw_held *held,
    int max, int *n)
{
	struct fw_pf_rule	 pr;
	char			*copy, *line, *next, name[48];
	unsigned long		 u;
	int			 end;

	*n = 0;
	if (!config_fw_anchor_ok(fc->fc_anchor) || text == NULL)
		return (-1);
	if ((copy = strdup(text)) == NULL)
		return (-1);
	for (line = copy; line != NULL && *n < max; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		line += strspn(line, " \t");
		if (fw_pf_anchor_line(line, name, sizeof(name))) {
			if (strncmp(name, SBXD_UID_PREFIX,
			    strlen(SBXD_UID_PREFIX)) == 0 &&
			    isdigit((unsigned char)name[strlen(
			    SBXD_UID_PREFIX)]) && sscanf(name, SBXD_UID_PREFIX
			    "%lu%n", &u, &end) == 1 && name[end] == '\0') {
				held[*n].fh_uid = (uid_t)u;
				held[(*n)++].fh_port = 0;
			}
			continue;
		}
		if (fw_pf_rule_parse(line, &pr) == 0 && pr.pr_pass &&
		    pr.pr_uid > 0 && pr.pr_port > 0) {
			held[*n].fh_uid = (uid_t)pr.pr_uid;
			held[(*n)++].fh_port = (in_port_t)pr.pr_port;
		}
	}
	free(copy);
	return (0);
}

/*
 * The uids to cut off get an anchor that blocks all they send; the
 * others' anchors are flushed.  Their ports went with their anchors.
 */
static int
fw_pf_prune(const struct fw_conf *fc, const struct fw_prune *fp,
    struct sandbox_cmdlist *cl)
{
	struct fw_sandbox	 fs;
	int			 i;

	memset(&fs, 0, sizeof(fs));
	fs.fs_restricted = 1;
	for (i = 0; i < fp->fp_ncut; i++) {
		fs.fs_uid = fp->fp_cut[i];
		if (fw_pf_apply(fc, &fs, cl) == -1)
			return (-1);
	}
	for (i = 0; i < fp->fp_ngone; i++) {
		fs.fs_uid = fp->fp_gone[i];
		if (fw_pf_remove(fc, &fs, cl) == -1)
			return (-1);
	}
	return (0);
}

/* 'anchor "a/b/uid_N" all {': put the last component in name. */
static int
fw_pf_anchor_line(const char *line, char *name, size_t len)
{
	const char	*q, *e, *s;

	if (strncmp(line, "anchor ", 7) != 0)
		return (0);
	*name = '\0';
	if ((q = strchr(line, '"')) == NULL ||
	    (e = strchr(q + 1, '"')) == NULL)
		return (1);
	for (s = e; s > q + 1 && s[-1] != '/'; s--)
		;
	snprintf(name, len, "%.*s", (int)(e - s), s);
	return (1);
}

/*
 * Read a rule as written ("port 3128", "user 501") or as pfctl -sr
 * prints it ("block drop", "port = 3128", "user = 501", then "flags
 * S/SA keep state", which is ignored).  -1 for anything sbxd does not
 * write: it then compares unequal.
 */
static int
fw_pf_rule_parse(char *line, struct fw_pf_rule *pr)
{
	char	*tok[FW_PF_TOKENS + 1], *p;
	int	 n = 0, i = 0;

	memset(pr, 0, sizeof(*pr));
	pr->pr_uid = -1;
	snprintf(pr->pr_to, sizeof(pr->pr_to), "?");
	for (p = strtok(line, " \t"); p != NULL && n < FW_PF_TOKENS;
	    p = strtok(NULL, " \t"))
		tok[n++] = p;
	tok[n] = NULL;
	if (n == 0 || (strcmp(tok[0], "pass") != 0 &&
	    strcmp(tok[0], "block") != 0))
		return (-1);
	pr->pr_pass = strcmp(tok[i++], "pass") == 0;
	if (!pr->pr_pass && i < n && strcmp(tok[i], "drop") == 0)
		i++;
	else if (!pr->pr_pass && i < n && strcmp(tok[i], "return") == 0)
		pr->pr_return = 1, i++;
	if (i < n && strcmp(tok[i], "out") == 0)
		pr->pr_out = 1, i++;
	if (i < n && strcmp(tok[i], "log") == 0)
		pr->pr_log = 1, i++;
	if (i < n && strcmp(tok[i], "quick") == 0)
		pr->pr_quick = 1, i++;
	if (i < n && (strcmp(tok[i], "inet") == 0 ||
	    strcmp(tok[i], "inet6") == 0))
		snprintf(pr->pr_af, sizeof(pr->pr_af), "%s", tok[i++]);
	if (i + 1 < n && strcmp(tok[i], "proto") == 0) {
		snprintf(pr->pr_proto, sizeof(pr->pr_proto), "%s", tok[i + 1]);
		i += 2;
	}
	if (fw_pf_rule_addr(tok, n, &i, pr) == -1)
		return (-1);
	if (i + 1 < n && strcmp(tok[i], "user") == 0) {
		if (strcmp(tok[++i], "=") == 0 && i + 1 < n)
			i++;
		pr->pr_uid = strtol(tok[i++], &p, 10);
		if (*p != '\0')
			return (-1);
	}
	return (i == n || strcmp(tok[i], "flags") == 0 ||
	    strcmp(tok[i], "keep") == 0 ? 0 : -1);
}

/* "all", or "from any to ADDR [port [=] N]". */
static int
fw_pf_rule_addr(char **tok, int n, int *ip, struct fw_pf_rule *pr)
{
	int	 i = *ip;
	char	*end;

	if (i < n && strcmp(tok[i], "all") == 0) {
		snprintf(pr->pr_to, sizeof(pr->pr_to), "any");
		*ip = i + 1;
		return (0);
	}
	if (i + 3 >= n || strcmp(tok[i], "from") != 0 ||
	    strcmp(tok[i + 1], "any") != 0 || strcmp(tok[i + 2], "to") != 0)
		return (-1);
	snprintf(pr->pr_to, sizeof(pr->pr_to), "%s", tok[i + 3]);
	i += 4;
	if (i + 1 < n && strcmp(tok[i], "port") == 0) {
		if (strcmp(tok[++i], "=") == 0 && i + 1 < n)
			i++;
		pr->pr_port = strtol(tok[i++], &end, 10);
		if (*end != '\0' || pr->pr_port <= 0)
			return (-1);
	}
	*ip = i;
	return (0);
}

/* A rule in one canonical form, for comparing and for the reason. */
static void
fw_pf_rule_str(const struct fw_pf_rule *pr, char *buf, size_t len)
{
	char	 port[16] = "", user[24] = "";

	if (pr->pr_port != 0)
		snprintf(port, sizeof(port), " port %ld", pr->pr_port);
	if (pr->pr_uid != -1)
		snprintf(user, sizeof(user), " user %ld", pr->pr_uid);
	snprintf(buf, len, "%s%s%s%s%s %s proto %s to %s%s%s",
	    pr->pr_pass ? "pass" : "block", pr->pr_return ? " return" : "",
	    pr->pr_out ? " out" : " in",
	    pr->pr_log ? " log" : "", pr->pr_quick ? " quick" : "",
	    *pr->pr_af ? pr->pr_af : "any-af",
	    *pr->pr_proto ? pr->pr_proto : "any", pr->pr_to, port, user);
}
