/*
 * test_proxy_git_pkt.c: the git relay's pure parts: request routing,
 * repository and ref policy, and the receive-pack command parser fed
 * real push bodies (captured from git 2.39 pushing through git
 * http-backend, sha1 and sha256 repositories) and hand-made ones, each
 * in one piece, byte by byte, cut in two at every position and in steps,
 * with the same answer every time.  Then the advertisement check.
 */

#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy_git_pkt.h"
#include "unit.h"

#define S(s)	(s), sizeof(s) - 1	/* a literal and its length */

/* Object ids for hand-made bodies. */
#define Z40	"0000000000000000000000000000000000000000"
#define A40	"e25a8a2da0839ca07505c33e3dc7872188faba6a"
#define B40	"951efe95f3a2a8f3aa06974c21b4a4332a586ca8"
#define Z64	Z40 "000000000000000000000000"
#define A64	"c5168abf287d17c35d1507d0211e8952" \
		"d788ec9f5fdaa382e3e85b02f0ff4063"
#define B64	"0e5b3fa33a3a5e39d6e13cb5c3a2b2f0" \
		"bbf0b3a0d0b0c0d0e0f0a1a2a3a4a5a6"
#define CAPS	" report-status-v2 side-band-64k quiet object-format=sha1 " \
		"agent=git/2.39.5"
#define CAPS256	" report-status-v2 side-band-64k quiet object-format=sha256 " \
		"agent=git/2.39.5"
#define BOX	"refs/heads/sbx/box/"
#define NEW1	Z40 " " A40 " " BOX	/* create under the glob */
#define UPD1	A40 " " B40 " " BOX	/* update under the glob */

/* The empty pack git sends for a create of a known commit. */
#define PACK_EMPTY							\
	"PACK\000\000\000\002\000\000\000\000\002\235\010\202;\330"	\
	"\250\352\265\020\255j\307\134\202<\375>\323\036"

/*
 * Real bodies: the command section as git wrote it, then the pack (in
 * full for the first; the others keep their header and the empty pack's
 * checksum, which the parser does not read).
 */
static const char real_create[] =
	"00b60000000000000000000000000000000000000000 e25a8a2da0839ca07"
	"505c33e3dc7872188faba6a refs/heads/sbx/box/one\0 report-status"
	"-v2 side-band-64k quiet object-format=sha1 agent=git/2.39.5000"
	"0"
	"PACK\000\000\000\002\000\000\000\003\224\007x\234}\3121\016"
	"\200 \014\005\320\235Stw\001-\024\022c\274\312\007Jt &\006"
	"\357\257'\360\315o\334\252\004\264&\234\042\227R\252\363\001"
	"\034\022\032\244&dg\225E$k\236\331\340\031\307u\023h\305\236"
	"7r^$.!ZK\223\375\230r\365~\216\241\077\305\300\274\264\324"
	"\037/\255\001x\234340031QHd\250\230!\251\224h\255\365;A\225E"
	"\377\333\336\366\256\2033\375Z\001|i\012f2x\234K\344\002\000"
	"\000\316\000lW[P]\207W\306\206|\312\021\035\356m\016{`\205"
	"\274\210";

static const char real_two[] =
	"00b6e25a8a2da0839ca07505c33e3dc7872188faba6a 951efe95f3a2a8f3a"
	"a06974c21b4a4332a586ca8 refs/heads/sbx/box/one\0 report-status"
	"-v2 side-band-64k quiet object-format=sha1 agent=git/2.39.5006"
	"c0000000000000000000000000000000000000000 951efe95f3a2a8f3aa06"
	"974c21b4a4332a586ca8 refs/heads/sbx/box/two0000"
	"PACK\000\000\000\002\000\000\000\003" PACK_EMPTY;

static const char real_tag[] =
	"00ac0000000000000000000000000000000000000000 951efe95f3a2a8f3a"
	"a06974c21b4a4332a586ca8 refs/tags/v1\0 report-status-v2 side-b"
	"and-64k quiet object-format=sha1 agent=git/2.39.50000"
	PACK_EMPTY;

static const char real_delete[] =
	"00b6951efe95f3a2a8f3aa06974c21b4a4332a586ca8 00000000000000000"
	"00000000000000000000000 refs/heads/sbx/box/two\0 report-status"
	"-v2 side-band-64k quiet object-format=sha1 agent=git/2.39.5000"
	"0";

static const char real_sha256[] =
	"00e80000000000000000000000000000000000000000000000000000000000"
	"000000 c5168abf287d17c35d1507d0211e8952d788ec9f5fdaa382e3e85b0"
	"2f0ff4063 refs/heads/sbx/box/one\0 report-status-v2 side-band-"
	"64k quiet object-format=sha256 agent=git/2.39.50000"
	"PACK\000\000\000\002\000\000\000\003" PACK_EMPTY;

static const char real_options[] =
	"00cc0000000000000000000000000000000000000000 951efe95f3a2a8f3a"
	"a06974c21b4a4332a586ca8 refs/heads/sbx/box/three\0 report-stat"
	"us-v2 side-band-64k quiet atomic push-options object-format=sh"
	"a1 agent=git/2.39.50000000bci.skip0007x y0000"
	PACK_EMPTY;

static const char real_shallow[] =
	"0035shallow 951efe95f3a2a8f3aa06974c21b4a4332a586ca8\n00bb0000"
	"000000000000000000000000000000000000 26592bac17284e2985f4c1b61"
	"06fec3b2798f32d refs/heads/sbx/box/shallow2\0 report-status-v2"
	" side-band-64k quiet object-format=sha1 agent=git/2.39.50000"
	"PACK\000\000\000\002\000\000\000\001" PACK_EMPTY;

static const char *const globs_box[] = {
	"refs/heads/sbx/box/*",
	"refs/heads/exact"
};
static const struct proxy_git_policy policy_box = { globs_box, 2, 0 };
static const struct proxy_git_policy policy_opts = {
	globs_box, 2, PROXY_GIT_P_PUSH_OPTIONS
};

/* A body being built. */
struct body {
	char		*b_buf;
	size_t		 b_len;
	size_t		 b_size;
};

/* What feeding one body found. */
struct run {
	int		 r_result;	/* of the last call */
	int		 r_status;
	const char	*r_reason;
	size_t		 r_section;	/* sum of *used up to DONE */
	size_t		 r_ncmds;
	size_t		 r_noptions;
	size_t		 r_nshallow;
	int		 r_caps;
	size_t		 r_oidlen;
	uint32_t	 r_objects;
};

/* Flags of a table case. */
#define T_NOPACK	0x01	/* no pack after the template */
#define T_OPTIONS	0x02	/* policy_opts instead of policy_box */

/* A hand-made body: '|' separates pkt-lines, '#' starts raw bytes. */
struct push_case {
	const char	*pc_name;
	const char	*pc_tmpl;
	size_t		 pc_len;
	int		 pc_flags;
	int		 pc_status;	/* 0: must pass */
	const char	*pc_reason;
};

static const struct push_case push_good[] = {
	{ "nocaps", S(NEW1 "a|#0000"), 0, 0, NULL },
	{ "lf", S(NEW1 "a\0" CAPS "\n|" UPD1 "b\n|#0000"), 0, 0, NULL },
	{ "upper-len", S("#00B6" Z40 " " A40 " " BOX "one\0" CAPS "|#0000"),
	    0, 0, NULL },
	{ "libgit2", S(NEW1 "a\0report-status side-band-64k |#0000"), 0, 0,
	    NULL },
	{ "jgit", S(NEW1 "a\0 report-status delete-refs side-band-64k quiet "
	    "atomic ofs-delta agent=JGit/6.6.0|#0000"), 0, 0, NULL },
	{ "session-id", S(NEW1 "a\0report-status side-band session-id="
	    "git-b5d3a1c2-123|#0000"), 0, 0, NULL },
	{ "exact", S(Z40 " " A40 " refs/heads/exact\0" CAPS "|#0000"), 0, 0,
	    NULL },
	{ "deep", S(NEW1 "a/b/c.d/e-f_g\0" CAPS "|#0000"), 0, 0, NULL },
	{ "three", S(NEW1 "a\0" CAPS "|" UPD1 "b|" NEW1 "c|#0000"), 0, 0,
	    NULL },
	{ "sha256-shallow", S("shallow " B64 "\n|shallow " A64 "|" Z64 " " A64
	    " " BOX "a\0" CAPS256 "|" A64 " " B64 " " BOX "b|#0000"), 0, 0,
	    NULL },
	{ "options-none", S(NEW1 "a\0" CAPS " push-options|#0000|#0000"),
	    T_OPTIONS, 0, NULL },
	{ "options-two", S(NEW1 "a\0 push-options|#0000|ci.skip\n|x y|#0000"),
	    T_OPTIONS, 0, NULL },
	{ "lock-inside", S(NEW1 "a.locked\0" CAPS "|#0000"), 0, 0, NULL },
};

static const struct push_case push_bad[] = {
	/* pkt-line framing */
	{ "hex-g", S("#00g0"), 0, 400, "bad-pkt-length" },
	{ "hex-space", S("# 0b6"), 0, 400, "bad-pkt-length" },
	{ "len-3", S("#0003"), 0, 400, "bad-pkt-length" },
	{ "delim", S("#0001"), 0, 400, "special-pkt" },
	{ "response-end", S("#0002"), 0, 400, "special-pkt" },
	{ "delim-after", S(NEW1 "a\0" CAPS "|#0001"), 0, 400, "special-pkt" },
	{ "empty-0004", S("#0004"), 0, 400, "empty-pkt" },
	{ "empty-lf", S("\n"), 0, 400, "empty-pkt" },
	{ "empty-later", S(NEW1 "a\0" CAPS "|#0004"), 0, 400, "empty-pkt" },
	{ "pkt-65521", S("#fff1"), 0, 400, "pkt-too-long" },
	{ "pkt-ffff", S("#ffff"), 0, 400, "pkt-too-long" },
	{ "pkt-65520", S("#fff0"), 0, 400, "line-too-long" },
	{ "line-8193", S("#2005"), 0, 400, "line-too-long" },
	{ "gzip", S("#\037\213\010\000"), 0, 400, "bad-pkt-length" },
	/* what is pushed */
	{ "no-commands", S("#0000"), 0, 400, "no-commands" },
	{ "shallow-only", S("shallow " A40 "|#0000"), 0, 400,
	    "no-commands" },
	{ "old-short", S(Z40 " " A40 "1 " BOX "a|#0000"), 0, 400, "bad-oid" },
	{ "old-39", S("000000000000000000000000000000000000000 " A40 " " BOX
	    "a|#0000"), 0, 400, "bad-oid" },
	{ "old-upper", S("E25A8A2DA0839CA07505C33E3DC7872188FABA6A " B40 " "
	    BOX "a|#0000"), 0, 400, "bad-oid" },
	{ "new-upper", S(Z40 " e25a8a2da0839ca07505c33e3dc7872188fabA6a " BOX
	    "a|#0000"), 0, 400, "bad-oid" },
	{ "new-nonhex", S(Z40 " g25a8a2da0839ca07505c33e3dc7872188faba6a " BOX
	    "a|#0000"), 0, 400, "bad-oid" },
	{ "oid-empty", S(" " A40 " " BOX "a|#0000"), 0, 400, "bad-oid" },
	{ "shallow-bad", S("shallow xyz|" NEW1 "a|#0000"), 0, 400,
	    "bad-oid" },
	{ "shallow-upper", S("shallow E25A8A2DA0839CA07505C33E3DC7872188FABA6A|"
	    NEW1 "a|#0000"), 0, 400, "bad-oid" },
	{ "mixed-in-line", S(Z40 " " A64 " " BOX "a\0" CAPS256 "|#0000"), 0,
	    400, "mixed-oid-length" },
	{ "mixed-lines", S(NEW1 "a\0" CAPS "|" Z64 " " A64 " " BOX
	    "b|#0000"), 0, 400, "mixed-oid-length" },
	{ "format-256-ids-40", S(NEW1 "a\0" CAPS256 "|#0000"), 0, 400,
	    "mixed-oid-length" },
	{ "nocaps-ids-64", S(Z64 " " A64 " " BOX "a|#0000"), 0, 400,
	    "mixed-oid-length" },
	{ "shallow-64-ids-40", S("shallow " A64 "|" NEW1 "a\0" CAPS
	    "|#0000"), 0, 400, "mixed-oid-length" },
	{ "shallow-mixed", S("shallow " A64 "|shallow " A40 "|#0000"), 0,
	    400, "mixed-oid-length" },
	{ "one-field", S("hello|#0000"), 0, 400, "bad-command" },
	{ "two-fields", S(Z40 " " A40 "|#0000"), 0, 400, "bad-command" },
	{ "shallow-after", S(NEW1 "a\0" CAPS "|shallow " A40 "|#0000"), 0,
	    400, "bad-command" },
	{ "caps-second", S(NEW1 "a\0" CAPS "|" NEW1 "b\0" CAPS "|#0000"), 0,
	    400, "bad-command" },
	{ "ref-head", S(Z40 " " A40 " HEAD|#0000"), 0, 400, "bad-refname" },
	{ "ref-empty", S(Z40 " " A40 " |#0000"), 0, 400, "bad-refname" },
	{ "ref-refs", S(Z40 " " A40 " refs/|#0000"), 0, 400, "bad-refname" },
	{ "ref-dotdot", S(NEW1 "a..b|#0000"), 0, 400, "bad-refname" },
	{ "ref-space", S(NEW1 "a b|#0000"), 0, 400, "bad-refname" },
	{ "ref-tilde", S(NEW1 "a~1|#0000"), 0, 400, "bad-refname" },
	{ "ref-caret", S(NEW1 "a^|#0000"), 0, 400, "bad-refname" },
	{ "ref-colon", S(NEW1 "a:b|#0000"), 0, 400, "bad-refname" },
	{ "ref-question", S(NEW1 "a?|#0000"), 0, 400, "bad-refname" },
	{ "ref-star", S(NEW1 "a*|#0000"), 0, 400, "bad-refname" },
	{ "ref-bracket", S(NEW1 "a[|#0000"), 0, 400, "bad-refname" },
	{ "ref-backslash", S(NEW1 "a\\b|#0000"), 0, 400, "bad-refname" },
	{ "ref-at-brace", S(NEW1 "a@{1}|#0000"), 0, 400, "bad-refname" },
	{ "ref-lock", S(NEW1 "a.lock|#0000"), 0, 400, "bad-refname" },
	{ "ref-lock-mid", S(NEW1 "a.lock/b|#0000"), 0, 400, "bad-refname" },
	{ "ref-dot-comp", S(NEW1 ".a|#0000"), 0, 400, "bad-refname" },
	{ "ref-double-slash", S(NEW1 "a//b|#0000"), 0, 400, "bad-refname" },
	{ "ref-trailing-slash", S(NEW1 "a/|#0000"), 0, 400, "bad-refname" },
	{ "ref-trailing-dot", S(NEW1 "a.|#0000"), 0, 400, "bad-refname" },
	{ "ref-tab", S(NEW1 "a\tb|#0000"), 0, 400, "bad-refname" },
	{ "ref-cr", S(NEW1 "a\r\n|#0000"), 0, 400, "bad-refname" },
	{ "ref-del", S(NEW1 "a\177|#0000"), 0, 400, "bad-refname" },
	{ "ref-utf8", S(NEW1 "caf\303\251|#0000"), 0, 400, "bad-refname" },
	{ "ref-two-lf", S(NEW1 "a\n\n|#0000"), 0, 400, "bad-refname" },
	{ "duplicate", S(NEW1 "a\0" CAPS "|" UPD1 "a|#0000"), 0, 400,
	    "duplicate-ref" },
	{ "push-cert", S("push-cert\0 report-status side-band-64k|certificate "
	    "version 0.1\n|#0000"), 0, 403, "push-cert" },
	{ "push-cert-shallow", S("shallow " A40 "|push-cert\0 report-status|"
	    "#0000"), 0, 403, "push-cert" },
	{ "delete", S(A40 " " Z40 " " BOX "a\0" CAPS "|#0000"), 0, 403,
	    "delete" },
	{ "delete-zero", S(Z40 " " Z40 " " BOX "a\0" CAPS "|#0000"), 0, 403,
	    "delete" },
	{ "delete-second", S(NEW1 "a\0" CAPS "|" B40 " " Z40 " " BOX
	    "b|#0000"), 0, 403, "delete" },
	{ "delete-256", S(A64 " " Z64 " " BOX "a\0" CAPS256 "|#0000"), 0,
	    403, "delete" },
	{ "tag-create", S(Z40 " " A40 " refs/tags/v1\0" CAPS "|#0000"), 0,
	    403, "tag" },
	{ "tag-update", S(A40 " " B40 " refs/tags/sbx/box/v1|#0000"), 0, 403,
	    "tag" },
	{ "outside-main", S(Z40 " " A40 " refs/heads/main\0" CAPS "|#0000"),
	    0, 403, "ref-not-allowed" },
	{ "outside-prefix", S(Z40 " " A40 " refs/heads/sbx/boxer/a|#0000"), 0,
	    403, "ref-not-allowed" },
	{ "outside-base", S(Z40 " " A40 " refs/heads/sbx/box|#0000"), 0, 403,
	    "ref-not-allowed" },
	{ "outside-case", S(Z40 " " A40 " refs/heads/SBX/box/a|#0000"), 0,
	    403, "ref-not-allowed" },
	{ "outside-notes", S(Z40 " " A40 " refs/notes/commits|#0000"), 0, 403,
	    "ref-not-allowed" },
	{ "outside-exact", S(Z40 " " A40 " refs/heads/exact/x|#0000"), 0, 403,
	    "ref-not-allowed" },
	{ "outside-second", S(NEW1 "a\0" CAPS "|" Z40 " " A40
	    " refs/heads/main|#0000"), 0, 403, "ref-not-allowed" },
	/* capabilities */
	{ "cap-unknown", S(NEW1 "a\0report-status foo|#0000"), 0, 403,
	    "capability" },
	{ "cap-push-cert", S(NEW1 "a\0push-cert=1234|#0000"), 0, 403,
	    "capability" },
	{ "cap-upper", S(NEW1 "a\0Quiet|#0000"), 0, 403, "capability" },
	{ "cap-dup", S(NEW1 "a\0quiet quiet|#0000"), 0, 400,
	    "bad-capability" },
	{ "cap-dup-format", S(NEW1 "a\0object-format=sha1 "
	    "object-format=sha256|#0000"), 0, 400, "bad-capability" },
	{ "cap-sidebands", S(NEW1 "a\0side-band side-band-64k|#0000"), 0, 400,
	    "bad-capability" },
	{ "cap-agent-empty", S(NEW1 "a\0agent=|#0000"), 0, 400,
	    "bad-capability" },
	{ "cap-agent-bare", S(NEW1 "a\0agent|#0000"), 0, 400,
	    "bad-capability" },
	{ "cap-quiet-value", S(NEW1 "a\0quiet=1|#0000"), 0, 400,
	    "bad-capability" },
	{ "cap-format-md5", S(NEW1 "a\0object-format=md5|#0000"), 0, 400,
	    "bad-capability" },
	{ "cap-agent-tab", S(NEW1 "a\0agent=a\tb|#0000"), 0, 400,
	    "bad-capability" },
	{ "cap-agent-nul", S(NEW1 "a\0agent=a\0b|#0000"), 0, 400,
	    "bad-capability" },
	{ "cap-agent-8bit", S(NEW1 "a\0agent=\303\251|#0000"), 0, 400,
	    "bad-capability" },
	{ "push-options", S(NEW1 "a\0" CAPS " push-options|#0000|#0000"), 0,
	    403, "push-options" },
	{ "option-tab", S(NEW1 "a\0push-options|#0000|a\tb|#0000"),
	    T_OPTIONS, 400, "bad-push-option" },
	{ "option-8bit", S(NEW1 "a\0push-options|#0000|\303\251|#0000"),
	    T_OPTIONS, 400, "bad-push-option" },
	{ "option-empty", S(NEW1 "a\0push-options|#0000|#0004|#0000"),
	    T_OPTIONS, 400, "empty-pkt" },
	/* where the body ends */
	{ "end-empty", S(""), T_NOPACK, 400, "truncated" },
	{ "end-in-len", S(NEW1 "a\0" CAPS "|#00"), T_NOPACK, 400,
	    "truncated" },
	{ "end-in-payload", S("#00b6" Z40 " " A40), T_NOPACK, 400,
	    "truncated" },
	{ "end-no-flush", S(NEW1 "a\0" CAPS), T_NOPACK, 400, "truncated" },
	{ "end-in-options", S(NEW1 "a\0push-options|#0000|x"), T_NOPACK |
	    T_OPTIONS, 400, "truncated" },
	{ "end-no-pack", S(NEW1 "a\0" CAPS "|#0000"), T_NOPACK, 400,
	    "truncated-pack" },
	{ "end-short-pack", S(NEW1 "a\0" CAPS "|#0000|#PACK\0\0\0\2\0\0\0"),
	    T_NOPACK, 400, "truncated-pack" },
	{ "pack-flush", S(NEW1 "a\0" CAPS "|#0000|#0000"), 0, 400,
	    "bad-pack" },
	{ "pack-extra-pkt", S(NEW1 "a\0" CAPS "|#0000|hello"), 0, 400,
	    "bad-pack" },
	{ "pack-unannounced-options", S(NEW1 "a\0" CAPS "|#0000|ci.skip|"
	    "#0000"), T_OPTIONS, 400, "bad-pack" },
	{ "pack-gzip", S(NEW1 "a\0" CAPS "|#0000|#\037\213\010"), T_NOPACK,
	    400, "bad-pack" },
	{ "pack-pacx", S(NEW1 "a\0" CAPS "|#0000|#PACX\0\0\0\2\0\0\0\0"),
	    T_NOPACK, 400, "bad-pack" },
	{ "pack-v4", S(NEW1 "a\0" CAPS "|#0000|#PACK\0\0\0\4\0\0\0\0"),
	    T_NOPACK, 400, "bad-pack" },
	{ "pack-v1", S(NEW1 "a\0" CAPS "|#0000|#PACK\0\0\0\1\0\0\0\0"),
	    T_NOPACK, 400, "bad-pack" },
};

static int	body_add(struct body *, const char *, size_t);
static int	body_pkt(struct body *, const char *, size_t);
static int	body_tmpl(struct body *, const char *, size_t, int);
static int	push_run(const char *, size_t, size_t, size_t,
		    const struct proxy_git_policy *, struct run *);
static int	push_check(const char *, size_t,
		    const struct proxy_git_policy *, struct run *);
static int	push_same(const struct run *, const struct run *);

static int
body_add(struct body *b, const char *p, size_t n)
{
	char	*nb;
	size_t	 ns;

	if (b->b_len + n > b->b_size) {
		ns = (b->b_len + n) * 2 + 64;
		if ((nb = realloc(b->b_buf, ns)) == NULL)
			return (-1);
		b->b_buf = nb;
		b->b_size = ns;
	}
	memcpy(b->b_buf + b->b_len, p, n);
	b->b_len += n;
	return (0);
}

/* Append one pkt-line with payload p. */
static int
body_pkt(struct body *b, const char *p, size_t n)
{
	char	 hdr[5];

	snprintf(hdr, sizeof(hdr), "%04zx", n + 4);
	if (body_add(b, hdr, 4) == -1)
		return (-1);
	return (body_add(b, p, n));
}

/* Expand a template: '|' between pkt-lines, '#' starts raw bytes. */
static int
body_tmpl(struct body *b, const char *t, size_t n, int flags)
{
	const char	*s = t, *e, *end = t + n;

	while (s < end) {
		if ((e = memchr(s, '|', end - s)) == NULL)
			e = end;
		if (*s == '#') {
			if (body_add(b, s + 1, e - s - 1) == -1)
				return (-1);
		} else if (body_pkt(b, s, e - s) == -1)
			return (-1);
		s = e + 1;
	}
	if (!(flags & T_NOPACK))
		return (body_add(b, S(PACK_EMPTY)));
	return (0);
}

/*
 * Feed buf: cut in two at cut if it is not 0, else in pieces of step.
 * The command section, then the pack header, then the end.
 */
static int
push_run(const char *buf, size_t len, size_t step, size_t cut,
    const struct proxy_git_policy *gp, struct run *rn)
{
	struct proxy_git_push	 pu;
	struct proxy_git_error	 err;
	size_t			 off = 0, n, used;
	int			 r = PROXY_GIT_MORE, pack = 0;

	memset(rn, 0, sizeof(*rn));
	memset(&err, 0, sizeof(err));
	proxy_git_push_init(&pu, gp);
	while (off < len && r != PROXY_GIT_ERROR) {
		n = cut != 0 ? (off < cut ? cut : len) - off : step;
		n = n < len - off ? n : len - off;
		if (!pack) {
			r = proxy_git_push_feed(&pu, buf + off, n, &used,
			    &err);
			if (used > n || (r == PROXY_GIT_MORE && used != n))
				return (-1);
			if (r != PROXY_GIT_ERROR)
				rn->r_section += used;
			if (r == PROXY_GIT_DONE) {
				pack = 1;
				r = proxy_git_push_pack(&pu, buf + off + used,
				    n - used, &err);
			}
		} else
			r = proxy_git_push_pack(&pu, buf + off, n, &err);
		off += n;
	}
	if (r != PROXY_GIT_ERROR)
		r = proxy_git_push_end(&pu, &err);
	rn->r_result = r;
	if (r == PROXY_GIT_ERROR) {
		rn->r_status = err.status;
		rn->r_reason = err.reason;
	} else if (rn->r_section != pu.pu_section)
		return (-1);
	rn->r_ncmds = pu.pu_ncmds;
	rn->r_noptions = pu.pu_noptions;
	rn->r_nshallow = pu.pu_nshallow;
	rn->r_caps = pu.pu_caps;
	rn->r_oidlen = pu.pu_oidlen;
	rn->r_objects = pu.pu_packobjects;
	proxy_git_push_free(&pu);
	return (0);
}

static int
push_same(const struct run *a, const struct run *b)
{
	if (a->r_result != b->r_result || a->r_status != b->r_status)
		return (0);
	if (a->r_result == PROXY_GIT_ERROR)
		return (strcmp(a->r_reason, b->r_reason) == 0);
	return (a->r_section == b->r_section && a->r_ncmds == b->r_ncmds &&
	    a->r_noptions == b->r_noptions && a->r_caps == b->r_caps &&
	    a->r_objects == b->r_objects);
}

/*
 * Feed buf at once, byte by byte, cut at every position (short bodies)
 * and in a few steps: -1 unless every way says the same; *rn is the
 * first.
 */
static int
push_check(const char *buf, size_t len, const struct proxy_git_policy *gp,
    struct run *rn)
{
	static const size_t	 steps[] = { 1, 2, 3, 5, 7, 64, 4096 };
	struct run		 r2;
	size_t			 i;

	if (push_run(buf, len, len + 1, 0, gp, rn) == -1)
		return (-1);
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if (push_run(buf, len, steps[i], 0, gp, &r2) == -1 ||
		    !push_same(rn, &r2)) {
			unit_fail(__FILE__, __LINE__, "step %zu differs",
			    steps[i]);
			return (-1);
		}
	for (i = 1; len <= 8192 && i < len; i++)
		if (push_run(buf, len, 0, i, gp, &r2) == -1 ||
		    !push_same(rn, &r2)) {
			unit_fail(__FILE__, __LINE__, "cut at %zu differs", i);
			return (-1);
		}
	return (0);
}

static int
test_real_create(void)
{
	struct proxy_git_push	 pu;
	struct proxy_git_error	 err;
	struct run		 rn;
	size_t			 used;
	int			 ok = -1;

	proxy_git_push_init(&pu, &policy_box);
	CHECK(push_check(S(real_create), &policy_box, &rn) == 0);
	CHECK_INT(rn.r_result, PROXY_GIT_DONE);
	CHECK_INT(rn.r_section, 0xb6 + 4);
	CHECK_INT(rn.r_ncmds, 1);
	CHECK_INT(rn.r_oidlen, 40);
	CHECK_INT(rn.r_objects, 3);
	CHECK_INT(rn.r_caps, PROXY_GIT_CAP_REPORT_STATUS_V2 |
	    PROXY_GIT_CAP_SIDE_BAND_64K | PROXY_GIT_CAP_QUIET |
	    PROXY_GIT_CAP_OBJECT_FORMAT | PROXY_GIT_CAP_AGENT);
	/* The same by hand, to look at the command and the agent. */
	CHECK_INT(proxy_git_push_feed(&pu, S(real_create), &used, &err),
	    PROXY_GIT_DONE);
	CHECK_INT(used, 0xba);
	CHECK_STR(pu.pu_cmds[0].gc_ref, "refs/heads/sbx/box/one");
	CHECK_STR(pu.pu_cmds[0].gc_old, Z40);
	CHECK_STR(pu.pu_cmds[0].gc_new, A40);
	CHECK_INT(pu.pu_cmds[0].gc_create, 1);
	CHECK_STR(pu.pu_agent, "git/2.39.5");
	/* Fed again after DONE: DONE, nothing taken. */
	CHECK_INT(proxy_git_push_feed(&pu, "x", 1, &used, &err),
	    PROXY_GIT_DONE);
	CHECK_INT(used, 0);
	CHECK_INT(proxy_git_push_pack(&pu, real_create + 0xba,
	    sizeof(real_create) - 1 - 0xba, &err), PROXY_GIT_DONE);
	CHECK_INT(pu.pu_packversion, 2);
	CHECK_INT(proxy_git_push_end(&pu, &err), PROXY_GIT_DONE);
	ok = 0;
 end:
	proxy_git_push_free(&pu);
	return (ok);
}

static int
test_real_more(void)
{
	struct proxy_git_push	 pu;
	struct proxy_git_error	 err;
	struct run		 rn;
	size_t			 used;
	int			 ok = -1;

	proxy_git_push_init(&pu, &policy_box);
	CHECK(push_check(S(real_two), &policy_box, &rn) == 0);
	CHECK_INT(rn.r_result, PROXY_GIT_DONE);
	CHECK_INT(rn.r_ncmds, 2);
	CHECK_INT(rn.r_section, 0xb6 + 0x6c + 4);
	CHECK_INT(proxy_git_push_feed(&pu, S(real_two), &used, &err),
	    PROXY_GIT_DONE);
	CHECK_INT(pu.pu_cmds[0].gc_create, 0);
	CHECK_STR(pu.pu_cmds[0].gc_old, A40);
	CHECK_INT(pu.pu_cmds[1].gc_create, 1);
	CHECK_STR(pu.pu_cmds[1].gc_ref, "refs/heads/sbx/box/two");

	CHECK(push_check(S(real_sha256), &policy_box, &rn) == 0);
	CHECK_INT(rn.r_result, PROXY_GIT_DONE);
	CHECK_INT(rn.r_oidlen, 64);
	CHECK_INT(rn.r_section, 0xe8 + 4);

	CHECK(push_check(S(real_shallow), &policy_box, &rn) == 0);
	CHECK_INT(rn.r_result, PROXY_GIT_DONE);
	CHECK_INT(rn.r_nshallow, 1);
	CHECK_INT(rn.r_section, 0x35 + 0xbb + 4);

	CHECK(push_check(S(real_options), &policy_opts, &rn) == 0);
	CHECK_INT(rn.r_result, PROXY_GIT_DONE);
	CHECK_INT(rn.r_noptions, 2);
	CHECK_INT(rn.r_section, 0xcc + 4 + 0xb + 7 + 4);
	CHECK(rn.r_caps & PROXY_GIT_CAP_PUSH_OPTIONS);
	CHECK(rn.r_caps & PROXY_GIT_CAP_ATOMIC);
	CHECK(push_check(S(real_options), &policy_box, &rn) == 0);
	CHECK_INT(rn.r_result, PROXY_GIT_ERROR);
	CHECK_STR(rn.r_reason, "push-options");
	CHECK_INT(rn.r_status, 403);

	CHECK(push_check(S(real_tag), &policy_box, &rn) == 0);
	CHECK_STR(rn.r_reason, "tag");
	CHECK_INT(rn.r_status, 403);
	CHECK(push_check(S(real_delete), &policy_box, &rn) == 0);
	CHECK_STR(rn.r_reason, "delete");
	CHECK_INT(rn.r_status, 403);
	/* No policy: nothing may be pushed. */
	CHECK(push_check(S(real_create), NULL, &rn) == 0);
	CHECK_STR(rn.r_reason, "ref-not-allowed");
	ok = 0;
 end:
	proxy_git_push_free(&pu);
	return (ok);
}

/* The table cases: each split the same way, with the answer wanted. */
static int
push_table(const struct push_case *pc, size_t n)
{
	struct body	 b;
	struct run	 rn;
	size_t		 i;
	int		 ok = -1;

	memset(&b, 0, sizeof(b));
	for (i = 0; i < n; i++, pc++) {
		b.b_len = 0;
		CHECK(body_tmpl(&b, pc->pc_tmpl, pc->pc_len,
		    pc->pc_flags) == 0);
		if (push_check(b.b_buf, b.b_len, (pc->pc_flags & T_OPTIONS) ?
		    &policy_opts : &policy_box, &rn) == -1) {
			unit_fail(__FILE__, __LINE__, "%s: splits differ",
			    pc->pc_name);
			goto end;
		}
		if (pc->pc_status == 0 && rn.r_result != PROXY_GIT_DONE) {
			unit_fail(__FILE__, __LINE__, "%s: refused: %s",
			    pc->pc_name, rn.r_reason);
			goto end;
		}
		if (pc->pc_status != 0 && (rn.r_result != PROXY_GIT_ERROR ||
		    rn.r_status != pc->pc_status ||
		    strcmp(rn.r_reason, pc->pc_reason) != 0)) {
			unit_fail(__FILE__, __LINE__, "%s: %d %s, want %d %s",
			    pc->pc_name, rn.r_status, rn.r_result ==
			    PROXY_GIT_ERROR ? rn.r_reason : "(passed)",
			    pc->pc_status, pc->pc_reason);
			goto end;
		}
		if (pc->pc_status == 0 && (pc->pc_flags & T_NOPACK) == 0 &&
		    rn.r_section != b.b_len - (sizeof(PACK_EMPTY) - 1)) {
			unit_fail(__FILE__, __LINE__, "%s: section %zu",
			    pc->pc_name, rn.r_section);
			goto end;
		}
	}
	ok = 0;
 end:
	free(b.b_buf);
	return (ok);
}

static int
test_push_good(void)
{
	return (push_table(push_good, sizeof(push_good) /
	    sizeof(push_good[0])));
}

static int
test_push_bad(void)
{
	return (push_table(push_bad, sizeof(push_bad) / sizeof(push_bad[0])));
}

/* Limits: commands, push options, section size, line length. */
static int
test_push_limits(void)
{
	struct body	 b;
	struct run	 rn;
	char		 line[PROXY_GIT_LINE_MAX + 1];
	size_t		 i;
	int		 ok = -1, k;

	memset(&b, 0, sizeof(b));
	for (i = 0; i <= PROXY_GIT_COMMANDS_MAX; i++) {
		k = snprintf(line, sizeof(line), Z40 " " A40 " " BOX "%zu", i);
		if (i == PROXY_GIT_COMMANDS_MAX) {
			CHECK(body_add(&b, "0000", 4) == 0);
			CHECK(body_add(&b, S(PACK_EMPTY)) == 0);
			CHECK(push_check(b.b_buf, b.b_len, &policy_box,
			    &rn) == 0);
			CHECK_INT(rn.r_result, PROXY_GIT_DONE);
			CHECK_INT(rn.r_ncmds, PROXY_GIT_COMMANDS_MAX);
			b.b_len -= 4 + sizeof(PACK_EMPTY) - 1;
		}
		CHECK(body_pkt(&b, line, k) == 0);
	}
	CHECK(body_add(&b, "0000", 4) == 0);
	CHECK(push_check(b.b_buf, b.b_len, &policy_box, &rn) == 0);
	CHECK_STR(rn.r_reason, "too-many-commands");
	CHECK_INT(rn.r_status, 413);

	/* Shallow lines past PROXY_GIT_SECTION_MAX. */
	b.b_len = 0;
	for (i = 0; b.b_len <= PROXY_GIT_SECTION_MAX; i++)
		CHECK(body_pkt(&b, S("shallow " A40)) == 0);
	CHECK(push_check(b.b_buf, b.b_len, &policy_box, &rn) == 0);
	CHECK_STR(rn.r_reason, "section-too-large");
	CHECK_INT(rn.r_status, 413);

	/* PROXY_GIT_OPTIONS_MAX options, then one more. */
	b.b_len = 0;
	CHECK(body_pkt(&b, S(NEW1 "a\0push-options")) == 0);
	CHECK(body_add(&b, "0000", 4) == 0);
	for (i = 0; i < PROXY_GIT_OPTIONS_MAX; i++)
		CHECK(body_pkt(&b, S("opt")) == 0);
	CHECK(body_add(&b, "0000" PACK_EMPTY, 4 + sizeof(PACK_EMPTY) - 1) ==
	    0);
	CHECK(push_check(b.b_buf, b.b_len, &policy_opts, &rn) == 0);
	CHECK_INT(rn.r_result, PROXY_GIT_DONE);
	CHECK_INT(rn.r_noptions, PROXY_GIT_OPTIONS_MAX);
	b.b_len -= 4 + sizeof(PACK_EMPTY) - 1;
	CHECK(body_pkt(&b, S("opt")) == 0);
	CHECK(body_add(&b, "0000", 4) == 0);
	CHECK(push_check(b.b_buf, b.b_len, &policy_opts, &rn) == 0);
	CHECK_STR(rn.r_reason, "too-many-options");

	/* A line of PROXY_GIT_LINE_MAX passes the framing. */
	b.b_len = 0;
	memset(line, 'a', sizeof(line));
	memcpy(line, NEW1, sizeof(NEW1) - 1);
	CHECK(body_pkt(&b, line, PROXY_GIT_LINE_MAX) == 0);
	CHECK(body_add(&b, "0000" PACK_EMPTY, 4 + sizeof(PACK_EMPTY) - 1) ==
	    0);
	CHECK(push_check(b.b_buf, b.b_len, &policy_box, &rn) == 0);
	CHECK_STR(rn.r_reason, "bad-refname");	/* too long a name */
	b.b_len = 0;
	CHECK(body_pkt(&b, line, PROXY_GIT_LINE_MAX + 1) == 0);
	CHECK(push_check(b.b_buf, b.b_len, &policy_box, &rn) == 0);
	CHECK_STR(rn.r_reason, "line-too-long");
	ok = 0;
 end:
	free(b.b_buf);
	return (ok);
}

/* Errors stay; the pack is not checked early; free is safe. */
static int
test_push_sticky(void)
{
	struct proxy_git_push	 pu, zero;
	struct proxy_git_error	 err;
	size_t			 used;
	int			 ok = -1;

	memset(&zero, 0, sizeof(zero));
	proxy_git_push_free(&zero);
	proxy_git_push_init(&pu, &policy_box);
	CHECK_INT(proxy_git_push_pack(&pu, "PACK", 4, &err), PROXY_GIT_ERROR);
	CHECK_STR(err.reason, "pack-early");
	CHECK_INT(proxy_git_push_feed(&pu, S("0001"), &used, &err),
	    PROXY_GIT_ERROR);
	CHECK_STR(err.reason, "special-pkt");
	memset(&err, 0, sizeof(err));
	CHECK_INT(proxy_git_push_feed(&pu, S("0000"), &used, &err),
	    PROXY_GIT_ERROR);
	CHECK_STR(err.reason, "special-pkt");
	CHECK_INT(proxy_git_push_end(&pu, &err), PROXY_GIT_ERROR);
	CHECK_STR(err.reason, "special-pkt");
	CHECK_INT(proxy_git_push_pack(&pu, "PACK", 4, &err), PROXY_GIT_ERROR);
	proxy_git_push_free(&pu);
	/* A refused command is not kept as accepted. */
	proxy_git_push_init(&pu, &policy_box);
	CHECK_INT(proxy_git_push_feed(&pu, S(real_delete), &used, &err),
	    PROXY_GIT_ERROR);
	CHECK_INT(pu.pu_ncmds, 0);
	ok = 0;
 end:
	proxy_git_push_free(&pu);
	return (ok);
}

static int
test_refname(void)
{
	static const char *good[] = {
		"refs/heads/main", "refs/heads/sbx/box/a", "refs/x",
		"refs/heads/a.b", "refs/heads/a@b", "refs/heads/a{b}",
		"refs/heads/a-b_c+d=e,f", "refs/heads/a.lock2/x.lo",
	};
	static const char *bad[] = {
		"", "HEAD", "refs", "refs/", "/refs/heads/a", "refs//a",
		"refs/heads/a/", "refs/heads/a.", "refs/heads/.a",
		"refs/heads/a.lock", "refs/heads/a..b", "refs/heads/a@{u}",
		"refs/heads/a b", "refs/heads/a~", "refs/heads/a^",
		"refs/heads/a:", "refs/heads/a?", "refs/heads/a*",
		"refs/heads/a[", "refs/heads/a\\", "refs/heads/a\x01",
		"refs/heads/a\x7f", "refs/heads/\xc3\xa9", "Refs/heads/a",
	};
	char		 longref[PROXY_GIT_REFNAME_MAX + 2];
	const char	*why = NULL;
	size_t		 i;
	int		 ok = -1;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (proxy_git_refname_check(good[i], strlen(good[i]),
		    &why) != 0) {
			unit_fail(__FILE__, __LINE__, "%s: %s", good[i], why);
			goto end;
		}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (proxy_git_refname_check(bad[i], strlen(bad[i]),
		    &why) != -1) {
			unit_fail(__FILE__, __LINE__, "%s passed", bad[i]);
			goto end;
		}
	CHECK_INT(proxy_git_refname_check("refs/heads/a\0b", 14, &why), -1);
	CHECK_STR(why, "control character in refname");
	memset(longref, 'a', sizeof(longref));
	memcpy(longref, "refs/", 5);
	CHECK_INT(proxy_git_refname_check(longref, PROXY_GIT_REFNAME_MAX,
	    &why), 0);
	CHECK_INT(proxy_git_refname_check(longref, PROXY_GIT_REFNAME_MAX + 1,
	    &why), -1);
	ok = 0;
 end:
	return (ok);
}

static int
test_glob(void)
{
	char		 buf[64];
	const char	*why;
	int		 ok = -1;

	CHECK_INT(proxy_git_glob_check("refs/heads/sbx/box/*", &why), 0);
	CHECK_INT(proxy_git_glob_check("refs/heads/*", &why), 0);
	CHECK_INT(proxy_git_glob_check("refs/heads/main", &why), 0);
	CHECK_INT(proxy_git_glob_check("refs/*", &why), -1);
	CHECK_INT(proxy_git_glob_check("*", &why), -1);
	CHECK_INT(proxy_git_glob_check("refs/heads/sbx-*", &why), -1);
	CHECK_INT(proxy_git_glob_check("refs/heads/*/x", &why), -1);
	CHECK_INT(proxy_git_glob_check("refs/heads/**", &why), -1);
	CHECK_INT(proxy_git_glob_check("refs/heads/a/*/*", &why), -1);
	CHECK_INT(proxy_git_glob_check("refs/tags/*", &why), -1);
	CHECK_STR(why, "tags are never pushed");
	CHECK_INT(proxy_git_glob_check("refs/tags/v1", &why), -1);
	CHECK_INT(proxy_git_glob_check("refs/heads/a..b/*", &why), -1);
	CHECK_INT(proxy_git_glob_check("refs/heads/a/", &why), -1);
	CHECK_INT(proxy_git_glob_check("", &why), -1);

	CHECK(proxy_git_glob_match("refs/heads/sbx/box/*",
	    "refs/heads/sbx/box/a"));
	CHECK(proxy_git_glob_match("refs/heads/sbx/box/*",
	    "refs/heads/sbx/box/a/b/c"));
	CHECK(!proxy_git_glob_match("refs/heads/sbx/box/*",
	    "refs/heads/sbx/box/"));
	CHECK(!proxy_git_glob_match("refs/heads/sbx/box/*",
	    "refs/heads/sbx/box"));
	CHECK(!proxy_git_glob_match("refs/heads/sbx/box/*",
	    "refs/heads/sbx/boxer/a"));
	CHECK(!proxy_git_glob_match("refs/heads/sbx/box/*",
	    "refs/heads/sbx/Box/a"));
	CHECK(proxy_git_glob_match("refs/heads/main", "refs/heads/main"));
	CHECK(!proxy_git_glob_match("refs/heads/main", "refs/heads/main2"));
	CHECK(!proxy_git_glob_match("refs/heads/*/x", "refs/heads/a/x"));
	CHECK(!proxy_git_glob_match("refs/tags/*", "refs/tags/v1"));

	CHECK_INT(proxy_git_glob_default(buf, sizeof(buf), "box"), 0);
	CHECK_STR(buf, "refs/heads/sbx/box/*");
	CHECK_INT(proxy_git_glob_default(buf, sizeof(buf), "a/b"), -1);
	CHECK_INT(proxy_git_glob_default(buf, sizeof(buf), ""), -1);
	CHECK_INT(proxy_git_glob_default(buf, sizeof(buf), ".x"), -1);
	CHECK_INT(proxy_git_glob_default(buf, sizeof(buf), "x.lock"), -1);
	CHECK_INT(proxy_git_glob_default(buf, sizeof(buf), "a b"), -1);
	CHECK_INT(proxy_git_glob_default(buf, 20, "box"), -1);
	ok = 0;
 end:
	return (ok);
}

static int
test_repo(void)
{
	static const char *const list[] = {
		"Octo/Hello", "acme/*", "bad_owner/x", "x/..", "-x/y"
	};
	const char	*why;
	int		 ok = -1;

	CHECK_INT(proxy_git_repo_check("octo/hello", &why), 0);
	CHECK_INT(proxy_git_repo_check("octo/*", &why), 0);
	CHECK_INT(proxy_git_repo_check("octo/.github", &why), 0);
	CHECK_INT(proxy_git_repo_check("octo", &why), -1);
	CHECK_INT(proxy_git_repo_check("octo/", &why), -1);
	CHECK_INT(proxy_git_repo_check("/hello", &why), -1);
	CHECK_INT(proxy_git_repo_check("octo/hello/x", &why), -1);
	CHECK_INT(proxy_git_repo_check("octo/hello.git", &why), -1);
	CHECK_INT(proxy_git_repo_check("octo/a*", &why), -1);
	CHECK_INT(proxy_git_repo_check("oc_to/a", &why), -1);
	CHECK(proxy_git_repo_match("octo/hello", list, 5));
	CHECK(proxy_git_repo_match("OCTO/HELLO", list, 5));
	CHECK(!proxy_git_repo_match("octo/hello2", list, 5));
	CHECK(!proxy_git_repo_match("octo2/hello", list, 5));
	CHECK(proxy_git_repo_match("acme/anything", list, 5));
	CHECK(proxy_git_repo_match("ACME/x", list, 5));
	CHECK(!proxy_git_repo_match("acmex/x", list, 5));
	CHECK(!proxy_git_repo_match("bad_owner/x", list, 5));
	CHECK(!proxy_git_repo_match("x/..", list, 5));
	CHECK(!proxy_git_repo_match("octo", list, 5));
	CHECK(!proxy_git_repo_match("octo/hello", list, 0));
	ok = 0;
 end:
	return (ok);
}

/* A request target the relay must route, and how. */
struct route_good {
	const char	*rg_method;
	const char	*rg_target;
	int		 rg_service;
	int		 rg_advert;
	const char	*rg_name;
	const char	*rg_upstream;
};

static const struct route_good route_good[] = {
	{ "GET", "/git/octo/hello.git/info/refs?service=git-upload-pack",
	    PROXY_GIT_UPLOAD_PACK, 1, "octo/hello",
	    "/octo/hello.git/info/refs?service=git-upload-pack" },
	{ "GET", "/git/octo/hello/info/refs?service=git-receive-pack",
	    PROXY_GIT_RECEIVE_PACK, 1, "octo/hello",
	    "/octo/hello.git/info/refs?service=git-receive-pack" },
	{ "POST", "/git/octo/hello.git/git-upload-pack",
	    PROXY_GIT_UPLOAD_PACK, 0, "octo/hello",
	    "/octo/hello.git/git-upload-pack" },
	{ "POST", "/git/octo/hello/git-receive-pack",
	    PROXY_GIT_RECEIVE_PACK, 0, "octo/hello",
	    "/octo/hello.git/git-receive-pack" },
	{ "POST", "/git/Octo-Cat9/.github.git/git-receive-pack",
	    PROXY_GIT_RECEIVE_PACK, 0, "Octo-Cat9/.github",
	    "/Octo-Cat9/.github.git/git-receive-pack" },
	{ "GET", "/git/a/b.c_d-e/info/refs?service=git-upload-pack",
	    PROXY_GIT_UPLOAD_PACK, 1, "a/b.c_d-e",
	    "/a/b.c_d-e.git/info/refs?service=git-upload-pack" },
	{ "POST", "/git/a/....git/git-upload-pack", PROXY_GIT_UPLOAD_PACK, 0,
	    "a/...", "/a/....git/git-upload-pack" },
};

/* A request target the relay must refuse, and how. */
struct route_bad {
	const char	*rb_method;
	const char	*rb_target;
	int		 rb_status;
	const char	*rb_reason;
};

#define R	"/git/o/r.git"
#define SVC	"?service=git-upload-pack"

static const struct route_bad route_bad[] = {
	{ "PUT", R "/git-receive-pack", 405, "method" },
	{ "get", R "/info/refs" SVC, 405, "method" },
	{ "HEAD", R "/info/refs" SVC, 405, "method" },
	{ "POST", R "/info/refs" SVC, 405, "method" },
	{ "GET", R "/git-upload-pack", 405, "method" },
	{ "GET", R "/info/refs", 403, "dumb-http" },
	{ "GET", R "/HEAD", 403, "not-smart-http" },
	{ "GET", R "/objects/info/packs", 403, "not-smart-http" },
	{ "GET", R "/objects/d0/49f6c27a2244e12041955e262a404c7faba355", 403,
	    "not-smart-http" },
	{ "POST", R "/info/lfs/objects/batch", 403, "lfs" },
	{ "GET", R "/info/lfs/locks", 403, "lfs" },
	{ "GET", "/git/o/r/x/info/refs" SVC, 403, "not-smart-http" },
	{ "GET", "/git/o/r", 403, "not-smart-http" },
	{ "GET", R, 403, "not-smart-http" },
	{ "GET", R "/info/refs?service=git-upload-archive", 403,
	    "bad-query" },
	{ "GET", R "/info/refs" SVC "&x=1", 403, "bad-query" },
	{ "GET", R "/info/refs?", 403, "bad-query" },
	{ "GET", R "/info/refs?service=", 403, "bad-query" },
	{ "GET", R "/info/refs?x=1&service=git-upload-pack", 403,
	    "bad-query" },
	{ "POST", R "/git-receive-pack?x", 403, "bad-query" },
	{ "POST", R "/git-receive-pack?", 403, "bad-query" },
	{ "GET", "/git/o/../r.git/info/refs" SVC, 400, "dot-segment" },
	{ "GET", R "/../info/refs" SVC, 400, "dot-segment" },
	{ "GET", "/git/o/./r/info/refs" SVC, 400, "dot-segment" },
	{ "GET", "/git/o/../../etc/info/refs" SVC, 400, "dot-segment" },
	{ "GET", "/git//o/r/info/refs" SVC, 400, "empty-segment" },
	{ "GET", "/git/o//r/info/refs" SVC, 400, "empty-segment" },
	{ "GET", R "/info/refs/" SVC, 400, "empty-segment" },
	{ "POST", R "/git-receive-pack/", 400, "empty-segment" },
	{ "GET", "/git/", 400, "empty-segment" },
	{ "GET", "/git/o/r%2egit/info/refs" SVC, 400, "percent-encoding" },
	{ "GET", R "/info/refs?service=git%2dupload-pack", 400,
	    "percent-encoding" },
	{ "GET", "/git/o/r%2f..%2f/info/refs" SVC, 400, "percent-encoding" },
	{ "GET", "/git/o/r\r\nX: y/info/refs" SVC, 400, "bad-char" },
	{ "GET", "/git/o/r x/info/refs" SVC, 400, "bad-char" },
	{ "GET", R "/info/refs" SVC "#x", 400, "bad-char" },
	{ "GET", "/git/o/r\\x/info/refs" SVC, 400, "bad-char" },
	{ "GET", "/git/o/r\xc3\xa9/info/refs" SVC, 400, "bad-char" },
	{ "GET", "/git/o/r;x/info/refs" SVC, 400, "bad-char" },
	{ "GET", "/git/o/r@x/info/refs" SVC, 400, "bad-char" },
	{ "GET", "/git/o/r:x/info/refs" SVC, 400, "bad-char" },
	{ "GET", "/git/o/r\x7f/info/refs" SVC, 400, "bad-char" },
	{ "GET", "/other/o/r/info/refs" SVC, 404, "not-git" },
	{ "GET", "/git", 404, "not-git" },
	{ "GET", "/gitx/o/r/info/refs" SVC, 404, "not-git" },
	{ "GET", "", 404, "not-git" },
	{ "GET", "/git/-o/r/info/refs" SVC, 400, "bad-owner" },
	{ "GET", "/git/o_x/r/info/refs" SVC, 400, "bad-owner" },
	{ "GET", "/git/o.x/r/info/refs" SVC, 400, "bad-owner" },
	{ "GET", "/git/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/r/info/refs"
	    SVC, 400, "bad-owner" },
	{ "GET", "/git/o/.git/info/refs" SVC, 400, "bad-repo" },
	{ "GET", "/git/o/r.git.git/info/refs" SVC, 400, "bad-repo" },
	{ "GET", "/git/o/r.GIT/info/refs" SVC, 400, "bad-repo" },
	{ "GET", "/git/o/..git/info/refs" SVC, 400, "bad-repo" },
	{ "GET", "/git/o/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/info/refs"
	    SVC, 400, "bad-repo" },
};

static int
test_route(void)
{
	const struct route_good	*rg;
	const struct route_bad	*rb;
	struct proxy_git_route	 rt;
	struct proxy_git_error	 err;
	char			 t[256];
	size_t			 i;
	int			 ok = -1;

	for (i = 0; i < sizeof(route_good) / sizeof(route_good[0]); i++) {
		rg = &route_good[i];
		if (proxy_git_route_parse(rg->rg_method, rg->rg_target,
		    strlen(rg->rg_target), &rt, &err) != 0) {
			unit_fail(__FILE__, __LINE__, "%s: %s", rg->rg_target,
			    err.reason);
			goto end;
		}
		CHECK_INT(rt.gr_service, rg->rg_service);
		CHECK_INT(rt.gr_advert, rg->rg_advert);
		CHECK_STR(rt.gr_name, rg->rg_name);
		CHECK_STR(rt.gr_upstream, rg->rg_upstream);
	}
	for (i = 0; i < sizeof(route_bad) / sizeof(route_bad[0]); i++) {
		rb = &route_bad[i];
		memset(&err, 0, sizeof(err));
		if (proxy_git_route_parse(rb->rb_method, rb->rb_target,
		    strlen(rb->rb_target), &rt, &err) != -1 ||
		    err.status != rb->rb_status ||
		    strcmp(err.reason, rb->rb_reason) != 0) {
			unit_fail(__FILE__, __LINE__, "%s %s: %d %s, want "
			    "%d %s", rb->rb_method, rb->rb_target, err.status,
			    err.reason ? err.reason : "(passed)",
			    rb->rb_status, rb->rb_reason);
			goto end;
		}
	}
	/* A refusal leaves nothing half routed. */
	CHECK_INT(proxy_git_route_parse("GET", S(R "/git-upload-pack"), &rt,
	    &err), -1);
	CHECK_INT(rt.gr_service, 0);
	CHECK_STR(rt.gr_name, "");
	/* The names at their longest; a NUL in the target. */
	snprintf(t, sizeof(t), "/git/%.39s/%.100s.git/git-receive-pack",
	    "ooooooooooooooooooooooooooooooooooooooooooooo",
	    "rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr"
	    "rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr");
	CHECK_INT(proxy_git_route_parse("POST", t, strlen(t), &rt, &err), 0);
	CHECK_INT(strlen(rt.gr_name), 39 + 1 + 100);
	CHECK_INT(proxy_git_route_parse("POST", R "/git-receive-pack\0x",
	    sizeof(R "/git-receive-pack\0x") - 1, &rt, &err), -1);
	CHECK_STR(err.reason, "bad-char");
	CHECK_STR(proxy_git_service_name(PROXY_GIT_RECEIVE_PACK),
	    "git-receive-pack");
	CHECK_STR(proxy_git_service_name(0), "");
	ok = 0;
 end:
	return (ok);
}

static int
test_advert(void)
{
	static const char rp[] = "001f# service=git-receive-pack\n0000"
	    "00c5951efe95f3a2a8f3aa06974c21b4a4332a586ca8 refs/heads/x\0";
	static const char v2[] = "000eversion 2\n0015agent=git/2.39.5\n";
	struct proxy_git_error	 err;
	size_t			 used, i;
	int			 ok = -1;

	CHECK_INT(proxy_git_advert_check(PROXY_GIT_RECEIVE_PACK, S(rp), &used,
	    &err), PROXY_GIT_DONE);
	CHECK_INT(used, 0x1f + 4);
	for (i = 0; i < 0x1f + 4; i++)
		CHECK_INT(proxy_git_advert_check(PROXY_GIT_RECEIVE_PACK, rp, i,
		    &used, &err), PROXY_GIT_MORE);
	CHECK_INT(proxy_git_advert_check(PROXY_GIT_UPLOAD_PACK, S(rp), &used,
	    &err), PROXY_GIT_ERROR);
	CHECK_STR(err.reason, "bad-advert");
	CHECK_INT(err.status, 502);
	CHECK_INT(proxy_git_advert_check(PROXY_GIT_UPLOAD_PACK,
	    S("001e# service=git-upload-pack\n0000"), &used, &err),
	    PROXY_GIT_DONE);
	CHECK_INT(proxy_git_advert_check(PROXY_GIT_UPLOAD_PACK,
	    S("001d# service=git-upload-pack0000"), &used, &err),
	    PROXY_GIT_DONE);
	CHECK_INT(proxy_git_advert_check(PROXY_GIT_UPLOAD_PACK, S(v2), &used,
	    &err), PROXY_GIT_DONE);
	CHECK_INT(used, 0xe);
	CHECK_INT(proxy_git_advert_check(PROXY_GIT_RECEIVE_PACK, S(v2), &used,
	    &err), PROXY_GIT_ERROR);
	CHECK_INT(proxy_git_advert_check(PROXY_GIT_RECEIVE_PACK,
	    S("001f# service=git-receive-pack\n0001"), &used, &err),
	    PROXY_GIT_ERROR);
	CHECK_INT(proxy_git_advert_check(PROXY_GIT_RECEIVE_PACK,
	    S("<html>404</html>"), &used, &err), PROXY_GIT_ERROR);
	CHECK_INT(proxy_git_advert_check(PROXY_GIT_RECEIVE_PACK,
	    S("0004"), &used, &err), PROXY_GIT_ERROR);
	CHECK_INT(proxy_git_advert_check(PROXY_GIT_RECEIVE_PACK,
	    S("0020# service=git-receive-packs\n0000"), &used, &err),
	    PROXY_GIT_ERROR);
	CHECK_INT(proxy_git_advert_check(0, S(rp), &used, &err),
	    PROXY_GIT_ERROR);
	ok = 0;
 end:
	return (ok);
}

static const struct unit_test tests[] = {
	{ "real_create", test_real_create },
	{ "real_more", test_real_more },
	{ "push_good", test_push_good },
	{ "push_bad", test_push_bad },
	{ "push_limits", test_push_limits },
	{ "push_sticky", test_push_sticky },
	{ "refname", test_refname },
	{ "glob", test_glob },
	{ "repo", test_repo },
	{ "route", test_route },
	{ "advert", test_advert },
};

UNIT_MAIN("proxy_git_pkt", tests)
