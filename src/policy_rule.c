/*
 * policy_rule.c: a policy's rules, matching a request against them, and
 * the class of an address (loopback, private, ...).
 *
 * A pattern is a name (example.com), a wildcard (*.example.com: any name
 * below it), a dotted suffix (.example.com: both), or an address or CIDR
 * ([v6] in brackets), each with an optional :port.  Names and addresses
 * go through policy_host_parse, so a pattern and a request host are
 * compared in the same normal form, on label boundaries only.
 *
 * The most specific matching rule decides: an exact name beats a suffix,
 * a longer suffix a shorter one, a rule with a port one without; at equal
 * specificity block wins; without a match the policy's default decides.
 * An allow rule without a port matches the policy's ports only; a block
 * rule without a port matches every port, since "block x" means x.
 *
 * Rules are indexed, not scanned: names in a hash table keyed by the
 * normalised name, so a lookup probes the host and each of its suffixes
 * (one probe per label); addresses in a hash keyed by the masked address
 * for each prefix length in use.  A lookup costs the same with ten rules
 * or a million, and allocates nothing.  The table is open-addressed and
 * at most half full; each slot keeps its rule's hash, so a probe reads
 * one slot run and touches a rule only when the hash agrees, and a rule
 * keeps its text in the same allocation.  A name's probes are all
 * prefetched before the first: with a million rules, the cache misses
 * of one lookup overlap rather than follow each other.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "sbxd.h"

#define RULES_SLOTS_MIN		16	/* first hash table size */
#define RULES_PROBES_MAX	128	/* suffixes of a name: 253 octets */
#define RULES_FNV_BASIS		2166136261u
#define RULES_FNV_PRIME		16777619u

#if defined(__GNUC__) || defined(__clang__)
#define RULES_PREFETCH(p)	__builtin_prefetch(p)
#else
#define RULES_PREFETCH(p)	((void)(p))
#endif

enum rule_kind {
	RULE_EXACT,		/* example.com */
	RULE_BELOW,		/* *.example.com */
	RULE_DOT,		/* .example.com */
	RULE_ADDR		/* 192.0.2.0/24, [2001:db8::1] */
};

/*
 * A rule.  The fields a lookup reads come last, next to the text, which
 * follows in the same allocation once parsed (rule_pack).
 */
struct policy_rule {
	TAILQ_ENTRY(policy_rule)	 ru_entry;
	char				*ru_text;	/* canonical pattern:
							   ru_buf, or its own
							   while parsing */
	union {
		struct in_addr		 v4;
		struct in6_addr		 v6;
	}				 ru_ip;		/* masked */
	int				 ru_family;
	int				 ru_prefix;
	int				 ru_labels;
	enum policy_action		 ru_action;
	enum rule_kind			 ru_kind;
	uint16_t			 ru_port;	/* 0: none */
	size_t				 ru_namelen;
	const char			*ru_name;	/* in ru_text */
	char				 ru_buf[];
};

/* One slot of the index: a rule and its hash, or empty (NULL). */
struct policy_slot {
	uint32_t			 sl_hash;
	struct policy_rule		*sl_rule;
};

/* A candidate's specificity, compared field by field. */
struct rule_score {
	int	 sc_exact;
	int	 sc_len;	/* labels, or prefix bits */
	int	 sc_port;
};

static struct policy_rule *rule_pack(struct policy_rule *);
static int	rule_parse_port(char *, uint16_t *, char *, size_t);
static int	rule_parse_addr(struct policy_rule *, const char *, char *,
		    size_t);
static int	rule_parse_name(struct policy_rule *, const char *, char *,
		    size_t);
static void	rule_mask(int, void *, int);
static uint32_t	rule_hash(const char *, size_t);
static uint32_t	rule_hash_addr(int, const void *, int);
static uint32_t	rule_bucket(const struct policy_rule *);
static int	rules_grow(struct policy_rules *);
static void	rules_index(struct policy_rules *, struct policy_rule *);
static struct policy_slot *rules_same(const struct policy_rules *,
		    const struct policy_rule *);
static int	rule_port_ok(const struct policy_body *,
		    const struct policy_rule *, uint16_t);
static int	rules_suffixes(const char *, size_t *, uint32_t *);
static void	rules_prefetch(const struct policy_rules *,
		    const uint32_t *, int);
static void	rules_best_name(const struct policy_body *,
		    const struct policy_rules *, const char *, size_t,
		    uint32_t, int, uint16_t, const struct policy_rule **,
		    struct rule_score *);
static void	rules_best_addr(const struct policy_body *,
		    const struct policy_rules *, int, const void *,
		    uint16_t, const struct policy_rule **,
		    struct rule_score *);
static void	rule_consider(const struct policy_rule *,
		    const struct rule_score *, const struct policy_rule **,
		    struct rule_score *);
static int	addr_v4_class(uint32_t);

/*
 * Parse pattern into a new rule.  Returns 0, or -1 with a message in
 * err for file:line.
 */
int
policy_rule_parse(const char *pattern, enum policy_action action,
    struct policy_rule **rp, char *err, size_t errlen)
{
	struct policy_rule	*ru;
	char			 buf[300], port[8], *text;
	int			 r;

	*rp = NULL;
	if (strlen(pattern) >= sizeof(buf) - 8) {
		snprintf(err, errlen, "pattern too long");
		return (-1);
	}
	snprintf(buf, sizeof(buf), "%s", pattern);
	if ((ru = calloc(1, sizeof(*ru))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return (-1);
	}
	ru->ru_action = action;
	if (rule_parse_port(buf, &ru->ru_port, err, errlen) == -1)
		goto fail;
	if (buf[0] == '[' || (strchr(buf, '/') != NULL) ||
	    (isdigit((unsigned char)buf[0]) && strspn(buf, "0123456789.") ==
	    strlen(buf) && strchr(buf, '.') != NULL &&
	    buf[strlen(buf) - 1] != '.'))
		r = rule_parse_addr(ru, buf, err, errlen);
	else
		r = rule_parse_name(ru, buf, err, errlen);
	if (r == -1)
		goto fail;
	if (ru->ru_port != 0) {
		snprintf(port, sizeof(port), ":%u", ru->ru_port);
		if (asprintf(&text, "%s%s", ru->ru_text, port) == -1)
			goto fail;
		if (ru->ru_name != NULL)
			ru->ru_name = text + (ru->ru_name - ru->ru_text);
		free(ru->ru_text);
		ru->ru_text = text;
	}
	if ((*rp = rule_pack(ru)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	return (0);
fail:
	policy_rule_free(ru);
	return (-1);
}

/* The parsed rule ru and its text in one allocation; frees ru. */
static struct policy_rule *
rule_pack(struct policy_rule *ru)
{
	struct policy_rule	*pk;
	size_t			 len = strlen(ru->ru_text) + 1;

	if ((pk = malloc(sizeof(*pk) + len)) == NULL)
		return (NULL);
	memcpy(pk, ru, sizeof(*pk));
	memcpy(pk->ru_buf, ru->ru_text, len);
	pk->ru_text = pk->ru_buf;
	if (ru->ru_name != NULL)
		pk->ru_name = pk->ru_buf + (ru->ru_name - ru->ru_text);
	policy_rule_free(ru);
	return (pk);
}

/* Take a trailing :port off buf (not inside brackets). */
static int
rule_parse_port(char *buf, uint16_t *port, char *err, size_t errlen)
{
	char		*colon, *close, *p;
	unsigned long	 v = 0;

	close = strrchr(buf, ']');
	colon = strrchr(close != NULL ? close : buf, ':');
	if (close == NULL && colon != NULL && strchr(buf, ':') != colon) {
		snprintf(err, errlen, "an IPv6 address must be in brackets: "
		    "[%s]", buf);
		return (-1);
	}
	if (colon == NULL)
		return (0);
	*colon = '\0';
	for (p = colon + 1; *p != '\0'; p++) {
		if (!isdigit((unsigned char)*p) || p - colon > 5) {
			snprintf(err, errlen, "port \"%s\" is not a number "
			    "from 1 to 65535", colon + 1);
			return (-1);
		}
		v = v * 10 + (*p - '0');
	}
	if (colon[1] == '\0' || colon[1] == '0' || v > 65535) {
		snprintf(err, errlen, "port \"%s\" is not a number from 1 to "
		    "65535%s", colon + 1, colon[1] == '0' && v != 0 ?
		    " without leading zeros" : "");
		return (-1);
	}
	*port = v;
	return (0);
}

/* An address or CIDR: a.b.c.d[/n] or [v6][/n]; host bits must be zero. */
static int
rule_parse_addr(struct policy_rule *ru, const char *buf, char *err,
    size_t errlen)
{
	struct sbxd_host	 h;
	const char		*slash, *why = NULL, *p;
	char			 masked[INET6_ADDRSTRLEN], text[300];
	int			 max, prefix = -1;

	slash = strchr(buf, '/');
	if (policy_host_parse(buf, slash != NULL ? (size_t)(slash - buf) :
	    strlen(buf), &h, &why) == -1 || h.h_family == 0) {
		snprintf(err, errlen, "\"%s\" is not an address: %s", buf,
		    why == NULL ? "a name" : why);
		return (-1);
	}
	max = h.h_family == AF_INET ? 32 : 128;
	if (slash != NULL) {
		for (p = slash + 1, prefix = 0; isdigit((unsigned char)*p) &&
		    p - slash <= 4; p++)
			prefix = prefix * 10 + (*p - '0');
		if (*p != '\0' || p == slash + 1 || p - slash > 4 ||
		    (slash[1] == '0' && p - slash > 2) || prefix > max) {
			snprintf(err, errlen, "prefix length \"%s\" is not a "
			    "number from 0 to %d", slash + 1, max);
			return (-1);
		}
	}
	ru->ru_kind = RULE_ADDR;
	ru->ru_family = h.h_family;
	ru->ru_prefix = prefix == -1 ? max : prefix;
	memcpy(&ru->ru_ip, &h.h_ip, sizeof(ru->ru_ip));
	rule_mask(ru->ru_family, &ru->ru_ip, ru->ru_prefix);
	if (memcmp(&ru->ru_ip, &h.h_ip, h.h_family == AF_INET ? 4 : 16)) {
		inet_ntop(h.h_family, &ru->ru_ip, masked, sizeof(masked));
		snprintf(err, errlen, "%s has bits set past the /%d prefix; "
		    "did you mean %s/%d?", buf, ru->ru_prefix, masked,
		    ru->ru_prefix);
		return (-1);
	}
	snprintf(text, sizeof(text), h.h_family == AF_INET6 ? "[%s]" : "%s",
	    h.h_name);
	if (prefix != -1)
		snprintf(text + strlen(text), sizeof(text) - strlen(text),
		    "/%d", prefix);
	if ((ru->ru_text = strdup(text)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return (-1);
	}
	return (0);
}

/* example.com, *.example.com or .example.com. */
static int
rule_parse_name(struct policy_rule *ru, const char *buf, char *err,
    size_t errlen)
{
	struct sbxd_host	 h;
	const char		*name = buf, *why, *p;

	ru->ru_kind = RULE_EXACT;
	if (strncmp(buf, "*.", 2) == 0) {
		ru->ru_kind = RULE_BELOW;
		name = buf + 2;
	} else if (buf[0] == '.') {
		ru->ru_kind = RULE_DOT;
		name = buf + 1;
	}
	if (strchr(name, '*') != NULL) {
		snprintf(err, errlen, "\"%s\": '*' is allowed only as a whole "
		    "first label, as in *.example.com", buf);
		return (-1);
	}
	if (policy_host_parse(name, strlen(name), &h, &why) == -1) {
		snprintf(err, errlen, "\"%s\": %s", buf, why);
		return (-1);
	}
	if (h.h_family != 0) {
		snprintf(err, errlen, "\"%s\": an address takes no '*' or "
		    "leading '.'", buf);
		return (-1);
	}
	if (ru->ru_kind != RULE_EXACT && strchr(h.h_name, '.') == NULL) {
		snprintf(err, errlen, "\"%s\" would match a whole top-level "
		    "domain; name at least two labels", buf);
		return (-1);
	}
	if (asprintf(&ru->ru_text, "%s%s", ru->ru_kind == RULE_BELOW ? "*." :
	    ru->ru_kind == RULE_DOT ? "." : "", h.h_name) == -1) {
		ru->ru_text = NULL;
		snprintf(err, errlen, "out of memory");
		return (-1);
	}
	ru->ru_name = ru->ru_text + (ru->ru_kind == RULE_BELOW ? 2 :
	    ru->ru_kind == RULE_DOT ? 1 : 0);
	ru->ru_namelen = strlen(ru->ru_name);
	ru->ru_labels = 1;
	for (p = ru->ru_name; *p != '\0'; p++)
		ru->ru_labels += *p == '.';
	return (0);
}

/* Clear the bits of addr past prefix. */
static void
rule_mask(int family, void *addr, int prefix)
{
	uint8_t	*b = addr;
	int	 i, len = family == AF_INET ? 4 : 16;

	for (i = 0; i < len; i++) {
		if (prefix >= 8)
			prefix -= 8;
		else {
			b[i] &= (uint8_t)(0xff00 >> prefix);
			prefix = 0;
		}
	}
}

/* The pattern in canonical form, as sbxd -nv prints it. */
const char *
policy_rule_text(const struct policy_rule *ru)
{
	return (ru->ru_text);
}

/* allow or block. */
enum policy_action
policy_rule_action(const struct policy_rule *ru)
{
	return (ru->ru_action);
}

/* Free a rule that is in no set. */
void
policy_rule_free(struct policy_rule *ru)
{
	if (ru == NULL)
		return;
	if (ru->ru_text != ru->ru_buf)
		free(ru->ru_text);
	free(ru);
}

/*
 * FNV-1a over a name, last byte first: the hash of each suffix is on the
 * way to the next longer one (rules_suffixes).
 */
static uint32_t
rule_hash(const char *s, size_t len)
{
	uint32_t	 h = RULES_FNV_BASIS;

	while (len-- > 0)
		h = (h ^ (uint8_t)s[len]) * RULES_FNV_PRIME;
	return (h);
}

static uint32_t
rule_hash_addr(int family, const void *addr, int prefix)
{
	const uint8_t	*b = addr;
	uint32_t	 h = RULES_FNV_BASIS ^ (uint32_t)(family * 131 + prefix);
	int		 i, len = family == AF_INET ? 4 : 16;

	for (i = 0; i < len; i++)
		h = (h ^ b[i]) * RULES_FNV_PRIME;
	return (h);
}

/* An empty rule set. */
void
policy_rules_init(struct policy_rules *rs)
{
	memset(rs, 0, sizeof(*rs));
	TAILQ_INIT(&rs->rs_list);
}

/* Free every rule of rs and its index. */
void
policy_rules_clear(struct policy_rules *rs)
{
	struct policy_rule	*ru;

	while ((ru = TAILQ_FIRST(&rs->rs_list)) != NULL) {
		TAILQ_REMOVE(&rs->rs_list, ru, ru_entry);
		policy_rule_free(ru);
	}
	free(rs->rs_table);
	policy_rules_init(rs);
}

/* One "allow" or "block" line per rule, in order, for sbxd -nv. */
void
policy_rules_print(FILE *fp, const struct policy_rules *rs)
{
	const struct policy_rule	*ru;

	TAILQ_FOREACH(ru, &rs->rs_list, ru_entry) {
		fprintf(fp, "\t%s ", ru->ru_action == POLICY_ALLOW ? "allow" :
		    "block");
		config_print_string(fp, ru->ru_text);
		fputc('\n', fp);
	}
}

/* A new empty set, for a listener's runtime rules. */
struct policy_rules *
policy_rules_new(void)
{
	struct policy_rules	*rs;

	if ((rs = malloc(sizeof(*rs))) != NULL)
		policy_rules_init(rs);
	return (rs);
}

/* Free a set made by policy_rules_new; NULL is fine. */
void
policy_rules_free(struct policy_rules *rs)
{
	if (rs == NULL)
		return;
	policy_rules_clear(rs);
	free(rs);
}

/* The rule with this canonical text, or NULL. */
const struct policy_rule *
policy_rules_find(const struct policy_rules *rs, const char *text)
{
	struct policy_rule		*ru;
	const struct policy_rule	*found;
	const struct policy_slot	*sl;
	char				 err[64];

	if (policy_rule_parse(text, POLICY_ALLOW, &ru, err, sizeof(err)) == -1)
		return (NULL);
	sl = rules_same(rs, ru);
	found = sl != NULL ? sl->sl_rule : NULL;
	policy_rule_free(ru);
	return (found);
}

/* The slot of the rule in rs with ru's pattern, or NULL. */
static struct policy_slot *
rules_same(const struct policy_rules *rs, const struct policy_rule *ru)
{
	struct policy_slot	*sl;
	uint32_t		 h = rule_bucket(ru);
	size_t			 mask = rs->rs_size - 1, i;

	if (rs->rs_size == 0)
		return (NULL);
	for (i = h & mask; (sl = &rs->rs_table[i])->sl_rule != NULL;
	    i = (i + 1) & mask)
		if (sl->sl_hash == h && strcmp(sl->sl_rule->ru_text,
		    ru->ru_text) == 0)
			return (sl);
	return (NULL);
}

/*
 * Add ru to rs.  Takes ru.  Returns -1 if rs holds the same pattern
 * already (ru is then freed) or memory ran out.
 */
int
policy_rules_add(struct policy_rules *rs, struct policy_rule *ru)
{
	if (rules_same(rs, ru) != NULL ||
	    (rs->rs_count + 1 > rs->rs_size / 2 && rules_grow(rs) == -1)) {
		policy_rule_free(ru);
		return (-1);
	}
	TAILQ_INSERT_TAIL(&rs->rs_list, ru, ru_entry);
	rs->rs_count++;
	rules_index(rs, ru);
	return (0);
}

/*
 * Set pattern to action in rs, replacing the rule for the same pattern
 * in its slot (the new one goes last in order): for runtime rules.
 * Returns 0, or -1 with err.
 */
int
policy_rules_set(struct policy_rules *rs, const char *pattern,
    enum policy_action action, char *err, size_t errlen)
{
	struct policy_rule	*ru;
	struct policy_slot	*sl;

	if (policy_rule_parse(pattern, action, &ru, err, errlen) == -1)
		return (-1);
	if ((sl = rules_same(rs, ru)) != NULL) {
		TAILQ_REMOVE(&rs->rs_list, sl->sl_rule, ru_entry);
		policy_rule_free(sl->sl_rule);
		sl->sl_rule = ru;
		TAILQ_INSERT_TAIL(&rs->rs_list, ru, ru_entry);
		return (0);
	}
	if (policy_rules_add(rs, ru) == -1) {
		snprintf(err, errlen, "out of memory");
		return (-1);
	}
	return (0);
}

/*
 * Take pattern's rule out of rs: for runtime rules.  The table is then
 * indexed again in place, since linear probing leaves no hole.  0 if it
 * was there, 1 if not, -1 with err for a bad pattern.
 */
int
policy_rules_remove(struct policy_rules *rs, const char *pattern, char *err,
    size_t errlen)
{
	struct policy_rule	*ru, *old;
	struct policy_slot	*sl;

	if (policy_rule_parse(pattern, POLICY_ALLOW, &ru, err, errlen) == -1)
		return (-1);
	sl = rules_same(rs, ru);
	policy_rule_free(ru);
	if (sl == NULL)
		return (1);
	old = sl->sl_rule;
	TAILQ_REMOVE(&rs->rs_list, old, ru_entry);
	policy_rule_free(old);
	rs->rs_count--;
	memset(rs->rs_table, 0, rs->rs_size * sizeof(*rs->rs_table));
	memset(rs->rs_v4len, 0, sizeof(rs->rs_v4len));
	memset(rs->rs_v6len, 0, sizeof(rs->rs_v6len));
	TAILQ_FOREACH(ru, &rs->rs_list, ru_entry)
		rules_index(rs, ru);
	return (0);
}

/* Double the hash table (both kinds share one) and rehash. */
static int
rules_grow(struct policy_rules *rs)
{
	struct policy_slot	*table;
	struct policy_rule	*ru;
	size_t			 size;

	size = rs->rs_size == 0 ? RULES_SLOTS_MIN : rs->rs_size * 2;
	if ((table = calloc(size, sizeof(*table))) == NULL)
		return (-1);
	free(rs->rs_table);
	rs->rs_table = table;
	rs->rs_size = size;
	memset(rs->rs_v4len, 0, sizeof(rs->rs_v4len));
	memset(rs->rs_v6len, 0, sizeof(rs->rs_v6len));
	TAILQ_FOREACH(ru, &rs->rs_list, ru_entry)
		rules_index(rs, ru);
	return (0);
}

static uint32_t
rule_bucket(const struct policy_rule *ru)
{
	if (ru->ru_kind == RULE_ADDR)
		return (rule_hash_addr(ru->ru_family, &ru->ru_ip,
		    ru->ru_prefix));
	return (rule_hash(ru->ru_name, ru->ru_namelen));
}

/* Put ru in the first free slot from its hash on (linear probing). */
static void
rules_index(struct policy_rules *rs, struct policy_rule *ru)
{
	uint32_t	 h = rule_bucket(ru);
	size_t		 mask = rs->rs_size - 1, i;

	for (i = h & mask; rs->rs_table[i].sl_rule != NULL; i = (i + 1) & mask)
		;	/* nothing */
	rs->rs_table[i].sl_hash = h;
	rs->rs_table[i].sl_rule = ru;
	if (ru->ru_kind == RULE_ADDR && ru->ru_family == AF_INET)
		rs->rs_v4len[ru->ru_prefix]++;
	else if (ru->ru_kind == RULE_ADDR)
		rs->rs_v6len[ru->ru_prefix]++;
}

/* A policy with the defaults: block, ports 80 443, sni check. */
void
policy_body_init(struct policy_body *pb)
{
	memset(pb, 0, sizeof(*pb));
	pb->pb_default = POLICY_BLOCK;
	policy_rules_init(&pb->pb_rules);
	pb->pb_ports[0] = 80;
	pb->pb_ports[1] = 443;
	pb->pb_nports = 2;
	pb->pb_sni_check = 1;
	pb->pb_ask_once = POLICY_ASK_ONCE;
}

/* Free what the policy holds. */
void
policy_body_free(struct policy_body *pb)
{
	policy_rules_clear(&pb->pb_rules);
}

/* Whether ru's port condition holds for port. */
static int
rule_port_ok(const struct policy_body *pb, const struct policy_rule *ru,
    uint16_t port)
{
	int	 i;

	if (ru->ru_port != 0)
		return (ru->ru_port == port);
	if (ru->ru_action == POLICY_BLOCK)
		return (1);
	for (i = 0; i < pb->pb_nports; i++)
		if (pb->pb_ports[i] == port)
			return (1);
	return (0);
}

/* Keep ru if it beats *best: more specific, or as specific and block. */
static void
rule_consider(const struct policy_rule *ru, const struct rule_score *sc,
    const struct policy_rule **best, struct rule_score *bsc)
{
	int	 c = 0;

	if (*best != NULL) {
		c = sc->sc_exact - bsc->sc_exact;
		if (c == 0)
			c = sc->sc_len - bsc->sc_len;
		if (c == 0)
			c = sc->sc_port - bsc->sc_port;
		if (c == 0 && ru->ru_action == POLICY_BLOCK &&
		    (*best)->ru_action != POLICY_BLOCK)
			c = 1;
	}
	if (*best == NULL || c > 0) {
		*best = ru;
		*bsc = *sc;
	}
}

/*
 * The suffixes of name to probe: each one's offset and hash, found in
 * one pass from the end and stored from the end of the arrays (of
 * RULES_PROBES_MAX), so the longest is first.  Returns its index.
 */
static int
rules_suffixes(const char *name, size_t *off, uint32_t *hash)
{
	size_t		 i = strlen(name);
	uint32_t	 h = RULES_FNV_BASIS;
	int		 n = RULES_PROBES_MAX;

	if (i == 0) {
		off[--n] = 0;
		hash[n] = h;
	}
	while (i > 0 && n > 0) {
		h = (h ^ (uint8_t)name[--i]) * RULES_FNV_PRIME;
		if (i == 0 || name[i - 1] == '.') {
			off[--n] = i;
			hash[n] = h;
		}
	}
	return (n);
}

/* Ask for the first slot of each probe before any is read. */
static void
rules_prefetch(const struct policy_rules *rs, const uint32_t *hash,
    int first)
{
	int	 i;

	if (rs == NULL || rs->rs_size == 0)
		return;
	for (i = first; i < RULES_PROBES_MAX; i++)
		RULES_PREFETCH(&rs->rs_table[hash[i] & (rs->rs_size - 1)]);
}

/*
 * The best rule of rs for the name's suffix s (len bytes, hash h; whole
 * when it is the full name).
 */
static void
rules_best_name(const struct policy_body *pb, const struct policy_rules *rs,
    const char *s, size_t len, uint32_t h, int whole, uint16_t port,
    const struct policy_rule **best, struct rule_score *bsc)
{
	const struct policy_slot	*sl;
	const struct policy_rule	*ru;
	struct rule_score		 sc;
	size_t				 mask, i;

	if (rs == NULL || rs->rs_size == 0)
		return;
	mask = rs->rs_size - 1;
	for (i = h & mask; (ru = (sl = &rs->rs_table[i])->sl_rule) != NULL;
	    i = (i + 1) & mask) {
		if (sl->sl_hash != h || ru->ru_kind == RULE_ADDR ||
		    ru->ru_namelen != len || memcmp(ru->ru_name, s, len) != 0)
			continue;
		if ((whole && ru->ru_kind == RULE_BELOW) ||
		    (!whole && ru->ru_kind == RULE_EXACT) ||
		    !rule_port_ok(pb, ru, port))
			continue;
		sc.sc_exact = ru->ru_kind == RULE_EXACT;
		sc.sc_len = ru->ru_labels;
		sc.sc_port = ru->ru_port != 0;
		rule_consider(ru, &sc, best, bsc);
	}
}

/* The best address rule of rs for addr, longest prefix first. */
static void
rules_best_addr(const struct policy_body *pb, const struct policy_rules *rs,
    int family, const void *addr, uint16_t port,
    const struct policy_rule **best, struct rule_score *bsc)
{
	const struct policy_slot	*sl;
	const struct policy_rule	*ru;
	const uint32_t			*lens;
	struct rule_score		 sc;
	uint8_t				 m[16];
	uint32_t			 h;
	size_t				 mask, i;
	int				 p, max = family == AF_INET ? 32 : 128;

	if (rs == NULL || rs->rs_size == 0)
		return;
	mask = rs->rs_size - 1;
	lens = family == AF_INET ? rs->rs_v4len : rs->rs_v6len;
	for (p = max; p >= 0; p--) {
		if (lens[p] == 0)
			continue;
		memcpy(m, addr, max / 8);
		rule_mask(family, m, p);
		h = rule_hash_addr(family, m, p);
		for (i = h & mask; (ru = (sl = &rs->rs_table[i])->sl_rule) !=
		    NULL; i = (i + 1) & mask) {
			if (sl->sl_hash != h || ru->ru_kind != RULE_ADDR ||
			    ru->ru_family != family || ru->ru_prefix != p ||
			    memcmp(&ru->ru_ip, m, max / 8) != 0 ||
			    !rule_port_ok(pb, ru, port))
				continue;
			sc.sc_exact = p == max;
			sc.sc_len = p;
			sc.sc_port = ru->ru_port != 0;
			rule_consider(ru, &sc, best, bsc);
		}
	}
}

/*
 * Judge host:port by the policy and the extra rules (may be NULL).
 * Returns the deciding rule, or NULL when the default decided; *action
 * is the verdict.
 */
const struct policy_rule *
policy_match(const struct policy_body *pb, const struct policy_rules *extra,
    const struct sbxd_host *h, uint16_t port, enum policy_action *action)
{
	const struct policy_rule	*best = NULL;
	struct rule_score		 bsc;
	const char			*s;
	size_t				 len, off[RULES_PROBES_MAX];
	uint32_t			 hash[RULES_PROBES_MAX];
	int				 i, first;

	if (h->h_family != 0) {
		rules_best_addr(pb, &pb->pb_rules, h->h_family, &h->h_ip,
		    port, &best, &bsc);
		rules_best_addr(pb, extra, h->h_family, &h->h_ip, port,
		    &best, &bsc);
	} else {
		first = rules_suffixes(h->h_name, off, hash);
		rules_prefetch(&pb->pb_rules, hash, first);
		rules_prefetch(extra, hash, first);
		len = strlen(h->h_name);
		/* The longest suffix with a match wins; stop there. */
		for (i = first; i < RULES_PROBES_MAX && best == NULL; i++) {
			s = h->h_name + off[i];
			rules_best_name(pb, &pb->pb_rules, s, len - off[i],
			    hash[i], i == first, port, &best, &bsc);
			rules_best_name(pb, extra, s, len - off[i], hash[i],
			    i == first, port, &best, &bsc);
		}
	}
	*action = best != NULL ? best->ru_action : pb->pb_default;
	return (best);
}

/*
 * Special address ranges (IANA special-purpose registries).  Ranges that
 * carry an IPv4 address are judged by it, in policy_addr_class.
 */
static const struct {
	uint32_t	 net;
	int		 prefix;
	int		 class;
} addr_v4_table[] = {
	{ 0x00000000, 8, POLICY_ADDR_RESERVED },	/* "this network" */
	{ 0x0a000000, 8, POLICY_ADDR_PRIVATE },		/* RFC 1918 */
	{ 0x64400000, 10, POLICY_ADDR_PRIVATE },	/* CGNAT, RFC 6598 */
	{ 0x7f000000, 8, POLICY_ADDR_LOOPBACK },
	{ 0xa9fe0000, 16, POLICY_ADDR_PRIVATE },	/* link-local */
	{ 0xac100000, 12, POLICY_ADDR_PRIVATE },	/* RFC 1918 */
	{ 0xc0000000, 24, POLICY_ADDR_PRIVATE },	/* IETF protocol use */
	{ 0xc0000200, 24, POLICY_ADDR_RESERVED },	/* TEST-NET-1 */
	{ 0xc0586300, 24, POLICY_ADDR_RESERVED },	/* 6to4 relay, gone */
	{ 0xc0a80000, 16, POLICY_ADDR_PRIVATE },	/* RFC 1918 */
	{ 0xc6120000, 15, POLICY_ADDR_PRIVATE },	/* benchmarking */
	{ 0xc6336400, 24, POLICY_ADDR_RESERVED },	/* TEST-NET-2 */
	{ 0xcb007100, 24, POLICY_ADDR_RESERVED },	/* TEST-NET-3 */
	{ 0xe0000000, 4, POLICY_ADDR_MULTICAST },
	{ 0xf0000000, 4, POLICY_ADDR_RESERVED },	/* incl. broadcast */
};

static int
addr_v4_class(uint32_t a)
{
	size_t	 i;

	for (i = 0; i < sizeof(addr_v4_table) / sizeof(addr_v4_table[0]);
	    i++)
		if ((a >> (32 - addr_v4_table[i].prefix)) ==
		    (addr_v4_table[i].net >> (32 - addr_v4_table[i].prefix)))
			return (addr_v4_table[i].class);
	return (POLICY_ADDR_PUBLIC);
}

/* Whether the first bits of a (16 bytes) are those of p. */
static int
addr_v6_in(const uint8_t *a, const char *net, int prefix)
{
	struct in6_addr	 n;
	uint8_t		 m[16];

	inet_pton(AF_INET6, net, &n);
	memcpy(m, a, 16);
	rule_mask(AF_INET6, m, prefix);
	return (memcmp(m, &n, 16) == 0);
}

/* The class of an IPv4 or IPv6 address. */
int
policy_addr_class(int family, const void *addr)
{
	const uint8_t	*a = addr;
	uint32_t	 v4;
	int		 i;

	if (family == AF_INET) {
		memcpy(&v4, a, 4);
		return (addr_v4_class(ntohl(v4)));
	}
	for (i = 0; i < 15 && a[i] == 0; i++)
		;	/* nothing */
	if (i == 15)
		return (a[15] == 1 ? POLICY_ADDR_LOOPBACK :
		    POLICY_ADDR_RESERVED);		/* ::1, :: */
	/* v4-mapped, v4-compatible, NAT64: the IPv4 address inside. */
	if (addr_v6_in(a, "::ffff:0:0", 96) || addr_v6_in(a, "::", 96) ||
	    addr_v6_in(a, "64:ff9b::", 96)) {
		memcpy(&v4, a + 12, 4);
		return (addr_v4_class(ntohl(v4)));
	}
	if (addr_v6_in(a, "2002::", 16)) {		/* 6to4 */
		memcpy(&v4, a + 2, 4);
		return (addr_v4_class(ntohl(v4)));
	}
	if (addr_v6_in(a, "ff00::", 8))
		return (POLICY_ADDR_MULTICAST);
	if (addr_v6_in(a, "fc00::", 7) || addr_v6_in(a, "fe80::", 10) ||
	    addr_v6_in(a, "fec0::", 10) || addr_v6_in(a, "64:ff9b:1::", 48))
		return (POLICY_ADDR_PRIVATE);	/* ULA, link/site-local */
	if (addr_v6_in(a, "100::", 64) || addr_v6_in(a, "2001::", 23) ||
	    addr_v6_in(a, "2001:db8::", 32) || addr_v6_in(a, "3fff::", 20))
		return (POLICY_ADDR_RESERVED);	/* discard, IETF, docs */
	return (POLICY_ADDR_PUBLIC);
}

/* The name of a class, as in proxy.block reasons. */
const char *
policy_addr_class_name(int class)
{
	switch (class) {
	case POLICY_ADDR_PUBLIC:
		return ("public");
	case POLICY_ADDR_LOOPBACK:
		return ("loopback");
	case POLICY_ADDR_PRIVATE:
		return ("private");
	case POLICY_ADDR_MULTICAST:
		return ("multicast");
	default:
		return ("reserved");
	}
}

/*
 * May a connection go to addr:port, whatever name led there?  The most
 * specific address rule covering addr:port decides, block or allow.
 * Without one, a public address may; a loopback one, or one of this
 * host's own (local), needs "loopback yes", the private ranges "private
 * yes", and multicast or reserved addresses a rule.  Returns 0, or -1
 * with *why ("policy" for a rule, else the class) and *rule (the rule,
 * or NULL).
 */
int
policy_addr_check(const struct policy_body *pb,
    const struct policy_rules *extra, int family, const void *addr,
    uint16_t port, int local, const char **why,
    const struct policy_rule **rule)
{
	const struct policy_rule	*best = NULL;
	struct rule_score		 bsc;
	int				 class;

	*rule = NULL;
	rules_best_addr(pb, &pb->pb_rules, family, addr, port, &best, &bsc);
	rules_best_addr(pb, extra, family, addr, port, &best, &bsc);
	if (best != NULL && best->ru_action == POLICY_ALLOW)
		return (0);
	if (best != NULL) {
		*why = "policy";
		*rule = best;
		return (-1);
	}
	class = local ? POLICY_ADDR_LOOPBACK : policy_addr_class(family, addr);
	if (class == POLICY_ADDR_PUBLIC ||
	    (class == POLICY_ADDR_LOOPBACK && pb->pb_loopback) ||
	    (class == POLICY_ADDR_PRIVATE && pb->pb_private))
		return (0);
	*why = policy_addr_class_name(class);
	return (-1);
}
