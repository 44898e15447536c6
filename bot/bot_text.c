/*
 * bot_text.c: agent text made fit for Zulip.  Zulip measures a message
 * and a topic in code points (max_message_length, max_topic_length), so
 * everything here counts code points of UTF-8; a byte that starts no
 * valid sequence counts as one and is copied unchanged.
 *
 * Splitting follows openclaw's chunker (src/auto-reply/chunk.ts): cut at
 * the last paragraph break, else line break, else space, else anywhere
 * on a code point boundary; close a code block the cut falls in and
 * reopen it, with its language, at the start of the next part; always
 * make progress; drop the blank lines at the start of a part.  One
 * change: a break in the second half of the window is preferred to a
 * better kind of break in the first half, so parts come out full.
 *
 * Code blocks are found as Zulip's server finds them (zerver/lib/
 * markdown/fenced_code.py), not as CommonMark does, since the server
 * decides whether a mention notifies: a fence starts in column 0 (an
 * indented one is text), only a line equal to the opening fence closes
 * it (trailing white space aside), "```quote", "```quoted" and
 * "```spoiler" hold Markdown and may hold code blocks, and a block left
 * open runs to the end.  Code spans are paired as Python-Markdown's
 * backtick pattern pairs them, which runs before the mention pattern.
 *
 * Where this model could diverge from what Zulip renders, it treats
 * the text as not code, so that a mention is made inert rather than
 * left live.  A fence line it cannot carry over a cut (a fence longer
 * than BOT_TEXT_RUN_MAX, a fence line longer than BOT_TEXT_FENCE_MAX or
 * holding an "@", blocks nested deeper than BOT_TEXT_DEPTH_MAX)
 * "poisons" the rest of the text: from there on every mention is made
 * inert, code or not, and split stops tracking blocks.
 */

#include <sys/types.h>

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot_text.h"

#define BOT_TEXT_MAX_MIN	200	/* smallest max: a marker, two blocks
					   closed and reopened, a code span */
#define BOT_TEXT_MARKER_MAX	24	/* "\n(k/n)" with ten-digit k and n */
#define BOT_TEXT_RUN_MAX	12	/* longest fence we reopen; agents use
					   3 to 5 */
#define BOT_TEXT_FENCE_MAX	40	/* longest fence line, in code points;
					   never cut, reopened as it is */
#define BOT_TEXT_DEPTH_MAX	2	/* a code block inside a quote or a
					   spoiler */
#define BOT_TEXT_SPAN_MAX	64	/* longest code span kept untouched;
					   split never cuts one */
#define BOT_TEXT_SECRET_MIN	8	/* shorter secrets would redact words */
#define BOT_TEXT_REDACTED	"[redacted]"	/* what shows instead */
#define BOT_TEXT_ZWSP		"\xe2\x80\x8b"	/* U+200B: "@" then this is
						   no mention */
#define BOT_TEXT_ZWSP_LEN	3		/* its bytes */

/*
 * The smallest part must hold its marker, the fence lines it reopens and
 * closes, and still have room for the longest code span and fence line,
 * so that split never has to cut either.
 */
#if BOT_TEXT_MARKER_MAX + BOT_TEXT_DEPTH_MAX * (BOT_TEXT_FENCE_MAX + 1) + \
    BOT_TEXT_DEPTH_MAX * (1 + BOT_TEXT_RUN_MAX) + BOT_TEXT_SPAN_MAX > \
    BOT_TEXT_MAX_MIN
#error "BOT_TEXT_MAX_MIN is too small for the fence and span limits"
#endif
#if BOT_TEXT_SPAN_MAX < BOT_TEXT_FENCE_MAX
#error "a fence line must fit where a code span fits"
#endif

/* What one line does to the blocks open before it. */
enum bot_text_ev {
	BOT_TEXT_PLAIN,
	BOT_TEXT_OPEN,
	BOT_TEXT_CLOSE,
	BOT_TEXT_POISON
};

/* What a stretch of text is, for unmention. */
enum bot_text_seg {
	BOT_TEXT_SEG_TEXT,	/* Markdown: mentions render */
	BOT_TEXT_SEG_CODE,	/* a line of a code block */
	BOT_TEXT_SEG_SPAN	/* a code span */
};

struct bot_text_fence {
	size_t		 bf_off;	/* the opening line, reopened as is */
	size_t		 bf_len;
	size_t		 bf_cp;
	size_t		 bf_run;	/* the fence is bf_run of bf_char */
	char		 bf_char;
	int		 bf_code;	/* 0 for quote, spoiler: Markdown */
};

struct bot_text_state {
	struct bot_text_fence	 bs_open[BOT_TEXT_DEPTH_MAX];
	int			 bs_depth;
	int			 bs_poison;
};

struct bot_text_range {
	size_t		 br_start;
	size_t		 br_end;
};

struct bot_text_part {
	size_t			 bp_start;	/* the text's bytes */
	size_t			 bp_end;
	struct bot_text_state	 bp_reopen;	/* blocks reopened first */
	struct bot_text_state	 bp_close;	/* blocks closed at the end */
};

struct bot_text_plan {
	const char		*pl_s;
	size_t			 pl_len;
	size_t			 pl_max;
	struct bot_text_range	*pl_spans;	/* code spans: never cut */
	size_t			 pl_nspans;
	size_t			 pl_spansize;
	struct bot_text_part	*pl_parts;
	size_t			 pl_nparts;
	size_t			 pl_partsize;
};

/* Where one part may end: byte offsets, 0 for none. */
struct bot_text_win {
	size_t		 bw_half;	/* the window's second half */
	size_t		 bw_limit;	/* the window's end */
	size_t		 bw_cand[3];	/* paragraph break, line break, space */
	size_t		 bw_hard;	/* last place for a hard cut */
};

struct bot_text_buf {
	const char	*bb_src;
	size_t		 bb_srclen;
	char		*bb_out;
	size_t		 bb_len;
};

typedef int	(*bot_text_segcb)(void *, size_t, size_t, int);

static size_t	bot_text_cplen(const unsigned char *, size_t);
static void	bot_text_unfence(const struct bot_text_plan *, size_t,
		    size_t *, size_t *);
static size_t	bot_text_pyspace(const unsigned char *, size_t);
static size_t	bot_text_eol(const char *, size_t, size_t);
static size_t	bot_text_nextline(const char *, size_t, size_t);
static size_t	bot_text_skip_sp(const char *, size_t, size_t);
static size_t	bot_text_skip_blank(const char *, size_t, size_t);
static int	bot_text_blank(const char *, size_t);
static int	bot_text_fenceish(const char *, size_t);
static size_t	bot_text_langlen(const char *, size_t);
static int	bot_text_is(const char *, size_t, const char *);
static int	bot_text_opener(const char *, size_t, size_t *, int *);
static int	bot_text_closes(const char *, size_t,
		    const struct bot_text_fence *);
static int	bot_text_line(const char *, size_t, size_t,
		    const struct bot_text_state *, struct bot_text_fence *);
static void	bot_text_apply(struct bot_text_state *, int,
		    const struct bot_text_fence *);
static void	bot_text_parse(const char *, size_t, size_t,
		    struct bot_text_state *);
static int	bot_text_span_next(const char *, size_t, size_t, size_t,
		    size_t *, size_t *);
static int	bot_text_clean(const char *, size_t, size_t);
static int	bot_text_spans(const char *, size_t, size_t, bot_text_segcb,
		    void *);
static int	bot_text_walk(const char *, size_t, bot_text_segcb, void *);
static int	bot_text_mention(const char *, size_t, size_t);
static int	bot_text_unmention_seg(void *, size_t, size_t, int);
static size_t	bot_text_normalise(const char *, size_t, char *);
static void	bot_text_mark(const char *, size_t, const char *,
		    unsigned char *);
static int	bot_text_span_add(void *, size_t, size_t, int);
static size_t	bot_text_span_first(const struct bot_text_plan *, size_t);
static size_t	bot_text_reopen_cp(const struct bot_text_state *);
static size_t	bot_text_close_cp(const struct bot_text_state *);
static void	bot_text_consider(const struct bot_text_plan *, size_t,
		    int, size_t, size_t *, struct bot_text_win *);
static void	bot_text_window(const struct bot_text_plan *, size_t, size_t,
		    struct bot_text_win *);
static void	bot_text_choose(const struct bot_text_plan *,
		    const struct bot_text_win *, size_t *, size_t *);
static int	bot_text_add(struct bot_text_plan *, size_t, size_t,
		    const struct bot_text_state *,
		    const struct bot_text_state *);
static int	bot_text_plan(struct bot_text_plan *, size_t);
static size_t	bot_text_digits(size_t);
static char	*bot_text_build(const struct bot_text_plan *, size_t);
static int	bot_text_one(const char *, size_t, char ***);

/*
 * Bytes in the code point at p (n bytes left): 2 to 4 for a valid
 * sequence (no overlong forms, surrogates or values past U+10FFFF),
 * else 1.
 */
static size_t
bot_text_cplen(const unsigned char *p, size_t n)
{
	unsigned char	 lo = 0x80, hi = 0xbf;
	size_t		 need, i;

	if (p[0] < 0xc2 || p[0] > 0xf4)
		return (1);
	need = p[0] < 0xe0 ? 2 : p[0] < 0xf0 ? 3 : 4;
	if (p[0] == 0xe0)
		lo = 0xa0;
	else if (p[0] == 0xed)
		hi = 0x9f;
	else if (p[0] == 0xf0)
		lo = 0x90;
	else if (p[0] == 0xf4)
		hi = 0x8f;
	if (n < need || p[1] < lo || p[1] > hi)
		return (1);
	for (i = 2; i < need; i++)
		if ((p[i] & 0xc0) != 0x80)
			return (1);
	return (need);
}

/* Count code points. */
size_t
bot_text_cp(const char *s, size_t len)
{
	size_t	 i, n = 0;

	for (i = 0; i < len; n++)
		i += bot_text_cplen((const unsigned char *)s + i, len - i);
	return (n);
}

/* Cut to max code points on a code point boundary. */
size_t
bot_text_cut(const char *s, size_t len, size_t max)
{
	size_t	 i = 0, n;

	for (n = 0; n < max && i < len; n++)
		i += bot_text_cplen((const unsigned char *)s + i, len - i);
	return (i);
}

/*
 * Bytes of the white space character at p, as Python's str.rstrip()
 * sees white space (Zulip compares line.rstrip() with the fence), or 0.
 */
static size_t
bot_text_pyspace(const unsigned char *p, size_t n)
{
	if ((p[0] >= 0x09 && p[0] <= 0x0d) || (p[0] >= 0x1c && p[0] <= 0x20))
		return (1);
	if (n >= 2 && p[0] == 0xc2 && (p[1] == 0x85 || p[1] == 0xa0))
		return (2);
	if (n < 3)
		return (0);
	if (p[0] == 0xe1 && p[1] == 0x9a && p[2] == 0x80)	/* U+1680 */
		return (3);
	if (p[0] == 0xe2 && p[1] == 0x80 && ((p[2] >= 0x80 && p[2] <= 0x8a) ||
	    p[2] == 0xa8 || p[2] == 0xa9 || p[2] == 0xaf))	/* U+2000.. */
		return (3);
	if (p[0] == 0xe2 && p[1] == 0x81 && p[2] == 0x9f)	/* U+205F */
		return (3);
	if (p[0] == 0xe3 && p[1] == 0x80 && p[2] == 0x80)	/* U+3000 */
		return (3);
	return (0);
}

/* The end of the line starting at i: its "\n" or "\r", or len. */
static size_t
bot_text_eol(const char *s, size_t len, size_t i)
{
	while (i < len && s[i] != '\n' && s[i] != '\r')
		i++;
	return (i);
}

/* The start of the line after the one ending at e ("\r\n" is one end). */
static size_t
bot_text_nextline(const char *s, size_t len, size_t e)
{
	if (e >= len)
		return (len);
	if (s[e] == '\r' && e + 1 < len && s[e + 1] == '\n')
		return (e + 2);
	return (e + 1);
}

static size_t
bot_text_skip_sp(const char *s, size_t len, size_t i)
{
	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	return (i);
}

/* Skip the blank lines from line start i, keeping the next one's indent. */
static size_t
bot_text_skip_blank(const char *s, size_t len, size_t i)
{
	size_t	 t;

	for (;;) {
		t = bot_text_skip_sp(s, len, i);
		if (t == len)
			return (len);
		if (s[t] != '\n' && s[t] != '\r')
			return (i);
		i = bot_text_nextline(s, len, t);
	}
}

/* A blank line: Python-Markdown turns it into a paragraph break. */
static int
bot_text_blank(const char *l, size_t len)
{
	return (bot_text_skip_sp(l, len, 0) == len);
}

/* A line that starts like a fence: three backticks or three tildes. */
static int
bot_text_fenceish(const char *l, size_t len)
{
	return (len >= 3 && (l[0] == '`' || l[0] == '~') && l[1] == l[0] &&
	    l[2] == l[0]);
}

/* The length of the language name at l: FENCE_RE's [a-zA-Z0-9_+-./#]+. */
static size_t
bot_text_langlen(const char *l, size_t len)
{
	size_t	 i;
	char	 c;

	for (i = 0; i < len; i++) {
		c = l[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '+' ||
		    c == ',' || c == '-' || c == '.' || c == '/' || c == '#'))
			break;
	}
	return (i);
}

/* Whether the language l (n bytes) is word, ignoring ASCII case. */
static int
bot_text_is(const char *l, size_t n, const char *word)
{
	size_t	 i;
	char	 c;

	if (n != strlen(word))
		return (0);
	for (i = 0; i < n; i++) {
		c = l[i];
		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		if (c != word[i])
			return (0);
	}
	return (1);
}

/*
 * Whether the line l opens a block as FENCE_RE matches: three or more
 * backticks or tildes in column 0, no backtick or tilde after them,
 * spaces, then nothing or an optional "{" and "." before a language and
 * any header.  Sets the fence's length and whether the block is code.
 */
static int
bot_text_opener(const char *l, size_t len, size_t *run, int *code)
{
	size_t	 i, j, lang;

	if (!bot_text_fenceish(l, len))
		return (0);
	for (i = 0; i < len && l[i] == l[0]; i++)
		;
	*run = i;
	for (j = i; j < len; j++)
		if (l[j] == '`' || l[j] == '~')
			return (0);
	i = bot_text_skip_sp(l, len, i);	/* tabs are spaces by now */
	*code = 1;
	if (i == len)
		return (1);
	if (l[i] == '{')
		i++;
	/* "\.?" gives its dot back when no language follows it. */
	if (i < len && l[i] == '.' &&
	    bot_text_langlen(l + i + 1, len - i - 1) > 0)
		i++;
	if ((lang = bot_text_langlen(l + i, len - i)) == 0)
		return (0);
	/* XXX a realm whose default code block language is quote differs. */
	*code = !bot_text_is(l + i, lang, "quote") &&
	    !bot_text_is(l + i, lang, "quoted") &&
	    !bot_text_is(l + i, lang, "spoiler");
	return (1);
}

/* Whether line l closes block f: the fence, then only white space. */
static int
bot_text_closes(const char *l, size_t len, const struct bot_text_fence *f)
{
	size_t	 i, n;

	if (len < f->bf_run)
		return (0);
	for (i = 0; i < f->bf_run; i++)
		if (l[i] != f->bf_char)
			return (0);
	for (; i < len; i += n)
		if ((n = bot_text_pyspace((const unsigned char *)l + i,
		    len - i)) == 0)
			return (0);
	return (1);
}

/*
 * What the line s[off..off+len) does given the blocks open in bs; for
 * BOT_TEXT_OPEN, bf is the new block.
 */
static int
bot_text_line(const char *s, size_t off, size_t len,
    const struct bot_text_state *bs, struct bot_text_fence *bf)
{
	const struct bot_text_fence	*top;
	const char			*l = s + off;
	size_t				 run;
	int				 code, fish;

	if ((fish = bot_text_fenceish(l, len)) && (memchr(l, '@', len) !=
	    NULL || bot_text_cp(l, len) > BOT_TEXT_FENCE_MAX))
		return (BOT_TEXT_POISON);
	if (bs->bs_depth > 0) {
		top = &bs->bs_open[bs->bs_depth - 1];
		if (bot_text_closes(l, len, top))
			return (BOT_TEXT_CLOSE);
		if (top->bf_code)
			return (BOT_TEXT_PLAIN);
	}
	if (!fish || !bot_text_opener(l, len, &run, &code))
		return (BOT_TEXT_PLAIN);
	if (run > BOT_TEXT_RUN_MAX || bs->bs_depth == BOT_TEXT_DEPTH_MAX)
		return (BOT_TEXT_POISON);
	bf->bf_off = off;
	bf->bf_len = len;
	bf->bf_cp = bot_text_cp(l, len);
	bf->bf_run = run;
	bf->bf_char = l[0];
	bf->bf_code = code;
	return (BOT_TEXT_OPEN);
}

static void
bot_text_apply(struct bot_text_state *bs, int ev,
    const struct bot_text_fence *bf)
{
	switch (ev) {
	case BOT_TEXT_OPEN:
		bs->bs_open[bs->bs_depth++] = *bf;
		break;
	case BOT_TEXT_CLOSE:
		bs->bs_depth--;
		break;
	case BOT_TEXT_POISON:
		bs->bs_poison = 1;
		bs->bs_depth = 0;
		break;
	}
}

/*
 * Carry bs over the lines of s[pos..e); a last line cut short counts as
 * a line, since that is how the part shows it.
 */
static void
bot_text_parse(const char *s, size_t pos, size_t e, struct bot_text_state *bs)
{
	struct bot_text_fence	 bf;
	size_t			 ls, le;

	for (ls = pos; ls < e && !bs->bs_poison;
	    ls = bot_text_nextline(s, e, le)) {
		le = bot_text_eol(s, e, ls);
		bot_text_apply(bs, bot_text_line(s, ls, le - ls, bs, &bf), &bf);
	}
}

/*
 * The next code span in line s[ls..le) from i, as Python-Markdown's
 * BACKTICK_RE finds it: a run of backticks, then the first run of
 * exactly as many.  1 and [*a, *b), or 0 if there is none.  -1 when the
 * line is not clean: a run without a partner or a run after a backslash.
 * Zulip might pair the runs of such a line otherwise, so none of its
 * spans is trusted.  On a clean line the table extension pairs runs the
 * same way and so never takes a "|" inside a span for a cell border.
 */
static int
bot_text_span_next(const char *s, size_t ls, size_t i, size_t le, size_t *a,
    size_t *b)
{
	size_t	 run, j, n;

	while (i < le && s[i] != '`')
		i++;
	if (i == le)
		return (0);
	if (i > ls && s[i - 1] == '\\')
		return (-1);
	for (run = 0; i + run < le && s[i + run] == '`'; run++)
		;
	for (j = i + run; j < le; j += n) {
		n = 1;
		if (s[j] != '`')
			continue;
		if (s[j - 1] == '\\')
			return (-1);
		for (n = 0; j + n < le && s[j + n] == '`'; n++)
			;
		if (n == run)
			break;
	}
	if (j >= le)
		return (-1);
	*a = i;
	*b = j + run;
	return (1);
}

/*
 * Whether every backtick run of line s[ls..le) pairs up cleanly into
 * spans short enough that split never cuts one: a cut inside a span
 * would leave its halves unpaired and change the pairing after it.
 */
static int
bot_text_clean(const char *s, size_t ls, size_t le)
{
	size_t	 i = ls, a, b;
	int	 r;

	while ((r = bot_text_span_next(s, ls, i, le, &a, &b)) == 1) {
		if (bot_text_cp(s + a, b - a) > BOT_TEXT_SPAN_MAX)
			return (0);
		i = b;
	}
	return (r == 0);
}

/* Report the clean line s[ls..le) as text and code spans. */
static int
bot_text_spans(const char *s, size_t ls, size_t le, bot_text_segcb cb,
    void *arg)
{
	size_t	 i = ls, a, b;

	while (bot_text_span_next(s, ls, i, le, &a, &b) == 1) {
		if (cb(arg, i, a, BOT_TEXT_SEG_TEXT) == -1 ||
		    cb(arg, a, b, BOT_TEXT_SEG_SPAN) == -1)
			return (-1);
		i = b;
	}
	return (cb(arg, i, le, BOT_TEXT_SEG_TEXT));
}

/*
 * Report all of s, in order, as text, code block lines and code spans.
 * Code spans count only in a paragraph whose lines so far are all clean
 * (a run left open on an earlier line would shift Zulip's pairing), and
 * blank lines and fence lines end a paragraph.  After a poisoning line
 * everything is text.  Returns 0, or -1 if cb failed.
 */
static int
bot_text_walk(const char *s, size_t len, bot_text_segcb cb, void *arg)
{
	struct bot_text_state	 bs;
	struct bot_text_fence	 bf;
	size_t			 ls, le, nx;
	int			 ev, clean = 1;

	memset(&bs, 0, sizeof(bs));
	for (ls = 0; ls < len; ls = nx) {
		le = bot_text_eol(s, len, ls);
		nx = bot_text_nextline(s, len, le);
		if ((ev = bot_text_line(s, ls, le - ls, &bs, &bf)) ==
		    BOT_TEXT_POISON)
			return (cb(arg, ls, len, BOT_TEXT_SEG_TEXT));
		if (ev != BOT_TEXT_PLAIN) {
			bot_text_apply(&bs, ev, &bf);
			clean = 1;
		} else if (bs.bs_depth > 0 &&
		    bs.bs_open[bs.bs_depth - 1].bf_code) {
			if (cb(arg, ls, le, BOT_TEXT_SEG_CODE) == -1)
				return (-1);
			ls = le;
		} else if (bot_text_blank(s + ls, le - ls))
			clean = 1;
		else if (clean && bot_text_clean(s, ls, le)) {
			if (bot_text_spans(s, ls, le, cb, arg) == -1)
				return (-1);
			ls = le;
		} else
			clean = 0;
		if (cb(arg, ls, nx, BOT_TEXT_SEG_TEXT) == -1)
			return (-1);
	}
	return (0);
}

/* Whether the "@" at s[i] starts a mention: "@*" or "@_*". */
static int
bot_text_mention(const char *s, size_t len, size_t i)
{
	if (s[i] != '@' || i + 1 >= len)
		return (0);
	if (s[i + 1] == '*')
		return (1);
	return (s[i + 1] == '_' && i + 2 < len && s[i + 2] == '*');
}

static int
bot_text_unmention_seg(void *arg, size_t a, size_t b, int kind)
{
	struct bot_text_buf	*bb = arg;
	size_t			 i;

	for (i = a; i < b; i++) {
		bb->bb_out[bb->bb_len++] = bb->bb_src[i];
		if (kind == BOT_TEXT_SEG_TEXT &&
		    bot_text_mention(bb->bb_src, bb->bb_srclen, i)) {
			memcpy(bb->bb_out + bb->bb_len, BOT_TEXT_ZWSP,
			    BOT_TEXT_ZWSP_LEN);
			bb->bb_len += BOT_TEXT_ZWSP_LEN;
		}
	}
	return (0);
}

/*
 * What Python-Markdown's NormalizeWhitespace does first: drop 0x02 and
 * 0x03 (its placeholder markers), then make "\r\n" and "\r" into "\n".
 * Doing it here means we judge the text Zulip will judge.
 */
static size_t
bot_text_normalise(const char *s, size_t len, char *out)
{
	size_t	 i, n = 0, m = 0;

	for (i = 0; i < len; i++)
		if (s[i] != '\x02' && s[i] != '\x03')
			out[n++] = s[i];
	for (i = 0; i < n; i++) {
		if (out[i] == '\r') {
			out[m++] = '\n';
			if (i + 1 < n && out[i + 1] == '\n')
				i++;
		} else
			out[m++] = out[i];
	}
	return (m);
}

/* Make every mention outside code inert; code keeps its bytes. */
char *
bot_text_unmention(const char *text, size_t len, size_t *outlen)
{
	struct bot_text_buf	 bb;
	char			*norm;
	size_t			 n, i, at = 0;

	if (len > (SIZE_MAX - 1) / (BOT_TEXT_ZWSP_LEN + 1))
		return (NULL);
	if ((norm = malloc(len + 1)) == NULL)
		return (NULL);
	n = bot_text_normalise(text, len, norm);
	for (i = 0; i < n; i++)
		at += norm[i] == '@';
	memset(&bb, 0, sizeof(bb));
	bb.bb_src = norm;
	bb.bb_srclen = n;
	if ((bb.bb_out = malloc(n + at * BOT_TEXT_ZWSP_LEN + 1)) == NULL) {
		free(norm);
		return (NULL);
	}
	(void)bot_text_walk(norm, n, bot_text_unmention_seg, &bb);
	bb.bb_out[bb.bb_len] = '\0';
	*outlen = bb.bb_len;
	free(norm);
	return (bb.bb_out);
}

/* Mark in hit every byte of text inside an occurrence of secret. */
static void
bot_text_mark(const char *text, size_t len, const char *secret,
    unsigned char *hit)
{
	const char	*q;
	size_t		 slen = strlen(secret), p, i, done = 0;

	if (slen < BOT_TEXT_SECRET_MIN || slen > len)
		return;
	for (p = 0; p + slen <= len; p++) {
		if ((q = memchr(text + p, secret[0], len - slen + 1 - p)) ==
		    NULL)
			break;
		p = q - text;
		if (memcmp(text + p, secret, slen) != 0)
			continue;
		for (i = p > done ? p : done; i < p + slen; i++)
			hit[i] = 1;
		done = p + slen;
	}
}

/* Replace each occurrence of a secret by BOT_TEXT_REDACTED. */
char *
bot_text_redact(const char *text, size_t len, const char *const *secrets,
    size_t n, size_t *outlen)
{
	const size_t	 rlen = sizeof(BOT_TEXT_REDACTED) - 1;
	unsigned char	*hit;
	char		*out;
	size_t		 i, k, size = 0;

	if (len > (SIZE_MAX - 1) / 2 || (hit = calloc(len + 1, 1)) == NULL)
		return (NULL);
	for (k = 0; k < n; k++)
		if (secrets[k] != NULL)
			bot_text_mark(text, len, secrets[k], hit);
	/* A run of hidden bytes is at least 8 long, so this cannot grow. */
	for (i = 0; i < len; i++)
		size += !hit[i] ? 1 : (i == 0 || !hit[i - 1]) ? rlen : 0;
	if ((out = malloc(size + 1)) == NULL) {
		free(hit);
		return (NULL);
	}
	for (i = k = 0; i < len; i++) {
		if (!hit[i])
			out[k++] = text[i];
		else if (i == 0 || !hit[i - 1]) {
			memcpy(out + k, BOT_TEXT_REDACTED, rlen);
			k += rlen;
		}
	}
	out[k] = '\0';
	*outlen = k;
	free(hit);
	return (out);
}

/* Keep the code spans unmention leaves untouched: split must not cut them. */
static int
bot_text_span_add(void *arg, size_t a, size_t b, int kind)
{
	struct bot_text_plan	*pl = arg;
	struct bot_text_range	*r;
	size_t			 size;

	if (kind != BOT_TEXT_SEG_SPAN)
		return (0);
	if (pl->pl_nspans == pl->pl_spansize) {
		size = pl->pl_spansize == 0 ? 16 : pl->pl_spansize * 2;
		if (size > SIZE_MAX / sizeof(*r) ||
		    (r = realloc(pl->pl_spans, size * sizeof(*r))) == NULL)
			return (-1);
		pl->pl_spans = r;
		pl->pl_spansize = size;
	}
	pl->pl_spans[pl->pl_nspans].br_start = a;
	pl->pl_spans[pl->pl_nspans].br_end = b;
	pl->pl_nspans++;
	return (0);
}

/* The first code span that ends after pos. */
static size_t
bot_text_span_first(const struct bot_text_plan *pl, size_t pos)
{
	size_t	 lo = 0, hi = pl->pl_nspans, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (pl->pl_spans[mid].br_end <= pos)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (lo);
}

/* Code points the lines reopening bs take. */
static size_t
bot_text_reopen_cp(const struct bot_text_state *bs)
{
	size_t	 n = 0;
	int	 i;

	for (i = 0; i < bs->bs_depth; i++)
		n += bs->bs_open[i].bf_cp + 1;
	return (n);
}

/* Code points the lines closing bs take. */
static size_t
bot_text_close_cp(const struct bot_text_state *bs)
{
	size_t	 n = 0;
	int	 i;

	for (i = 0; i < bs->bs_depth; i++)
		n += 1 + bs->bs_open[i].bf_run;
	return (n);
}

/*
 * Whether a part may end at c (c > its start), the line being cut
 * starting at ls (fish if it starts like a fence).  A cut inside a line
 * makes its two halves lines of their own, so it must not fall in a
 * code span, nor in a line that starts like a fence, nor leave a rest
 * that starts like one: either would change which lines are code.
 */
static void
bot_text_consider(const struct bot_text_plan *pl, size_t ls, int fish,
    size_t c, size_t *k, struct bot_text_win *bw)
{
	const char	*s = pl->pl_s;
	size_t		 len = pl->pl_len, t;
	int		 inspan, mid;

	while (*k < pl->pl_nspans && pl->pl_spans[*k].br_end <= c)
		(*k)++;
	inspan = *k < pl->pl_nspans && pl->pl_spans[*k].br_start < c;
	mid = c > ls && c < len && s[c] != '\n' && s[c] != '\r';
	if (!mid || (!fish && !inspan && !bot_text_fenceish(s + c, len - c)))
		bw->bw_hard = c;
	if (c >= len)
		return;
	if (s[c] == '\n') {
		bw->bw_cand[1] = c;
		t = bot_text_skip_sp(s, len, c + 1);
		if (t == len || s[t] == '\n' || s[t] == '\r')
			bw->bw_cand[0] = c;
	} else if ((s[c] == ' ' || s[c] == '\t') && s[c - 1] != ' ' &&
	    s[c - 1] != '\t' && s[c - 1] != '\n' && s[c - 1] != '\r') {
		t = bot_text_skip_sp(s, len, c);
		if (t == len || s[t] == '\n' || s[t] == '\r' ||
		    (!fish && !inspan && !bot_text_fenceish(s + t, len - t)))
			bw->bw_cand[2] = c;
	}
}

/* Find where a part starting at pos and holding w code points may end. */
static void
bot_text_window(const struct bot_text_plan *pl, size_t pos, size_t w,
    struct bot_text_win *bw)
{
	const char	*s = pl->pl_s;
	size_t		 len = pl->pl_len, i = pos, cp = 0, ls = pos, k;
	int		 fish;

	memset(bw, 0, sizeof(*bw));
	k = bot_text_span_first(pl, pos);
	fish = bot_text_fenceish(s + pos, len - pos);
	for (;;) {
		if (cp == w / 2)
			bw->bw_half = i;
		if (i > pos)
			bot_text_consider(pl, ls, fish, i, &k, bw);
		if (cp == w || i >= len)
			break;
		if (s[i] == '\n' || s[i] == '\r') {
			ls = bot_text_nextline(s, len, i);
			fish = bot_text_fenceish(s + ls, len - ls);
		}
		i += bot_text_cplen((const unsigned char *)s + i, len - i);
		cp++;
	}
	bw->bw_limit = i;
}

/*
 * Pick the cut: the last paragraph break, line break or space in the
 * second half of the window, in that order, else in the first half,
 * else a hard cut.  Sets where this part ends and where the next starts.
 */
static void
bot_text_choose(const struct bot_text_plan *pl, const struct bot_text_win *bw,
    size_t *end, size_t *next)
{
	const char	*s = pl->pl_s;
	size_t		 len = pl->pl_len, c, t;
	int		 pass, i;

	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < 3; i++) {
			c = bw->bw_cand[i];
			if (c == 0 || (pass == 0 && c < bw->bw_half))
				continue;
			*end = c;
			t = i < 2 ? c : bot_text_skip_sp(s, len, c);
			if (t < len && (s[t] == '\n' || s[t] == '\r'))
				t = bot_text_skip_blank(s, len,
				    bot_text_nextline(s, len, t));
			*next = t;
			return;
		}
	}
	/* With no place left (a poisoned line), cut at the limit anyway. */
	*end = *next = bw->bw_hard != 0 ? bw->bw_hard : bw->bw_limit;
}

/*
 * A cut inside a line makes the rest of the line the next part's first
 * line.  If that rest starts (after blanks) with a fence, ``` or ~~~,
 * which was none where it stood, the next part would open a code
 * block: cut instead before the last other character before it, so
 * that the line the next part starts with is no fence either.  A run
 * of ` or ~ longer than a part cannot be kept whole: it is cut where
 * the part is full, and its rest may read as a fence in the next part.
 */
static void
bot_text_unfence(const struct bot_text_plan *pl, size_t pos, size_t *end,
    size_t *next)
{
	const char	*s = pl->pl_s;
	size_t		 len = pl->pl_len, t, q;
	char		 c;

	if (*next == 0 || *next >= len || s[*next - 1] == '\n' ||
	    s[*next - 1] == '\r')
		return;		/* a line start of the text itself */
	t = bot_text_skip_sp(s, len, *next);
	if (t + 3 > len || !((s[t] == '`' && s[t + 1] == '`' &&
	    s[t + 2] == '`') || (s[t] == '~' && s[t + 1] == '~' &&
	    s[t + 2] == '~')))
		return;
	for (q = t; q > pos; q--) {
		c = s[q - 1];
		if (c != ' ' && c != '\t' && c != '`' && c != '~')
			break;
	}
	while (q > pos + 1 && ((unsigned char)s[q - 1] & 0xc0) == 0x80)
		q--;		/* the character's first byte */
	if (q <= pos + 1 || s[q - 1] == '\n' || s[q - 1] == '\r')
		return;
	*end = *next = q - 1;
}

static int
bot_text_add(struct bot_text_plan *pl, size_t start, size_t end,
    const struct bot_text_state *reopen, const struct bot_text_state *close)
{
	struct bot_text_part	*bp;
	size_t			 size;

	if (pl->pl_nparts >= INT_MAX)
		return (-1);
	if (pl->pl_nparts == pl->pl_partsize) {
		size = pl->pl_partsize == 0 ? 4 : pl->pl_partsize * 2;
		if (size > SIZE_MAX / sizeof(*bp) ||
		    (bp = realloc(pl->pl_parts, size * sizeof(*bp))) == NULL)
			return (-1);
		pl->pl_parts = bp;
		pl->pl_partsize = size;
	}
	bp = &pl->pl_parts[pl->pl_nparts++];
	bp->bp_start = start;
	bp->bp_end = end;
	bp->bp_reopen = *reopen;
	if (close != NULL)
		bp->bp_close = *close;
	else
		memset(&bp->bp_close, 0, sizeof(bp->bp_close));
	return (0);
}

/*
 * Plan the parts with markers of up to digits digits per number.  The
 * room for a part's text is what max leaves after its marker and the
 * lines reopening blocks; closing lines need room only if the cut falls
 * in a block, so cut once without it and again with it if so.
 */
static int
bot_text_plan(struct bot_text_plan *pl, size_t digits)
{
	const char		*s = pl->pl_s;
	struct bot_text_state	 st, end;
	struct bot_text_win	 bw;
	size_t			 len = pl->pl_len, pos, room, r, need, e, nx;

	pl->pl_nparts = 0;
	memset(&st, 0, sizeof(st));
	pos = bot_text_skip_blank(s, len, 0);
	for (;;) {
		room = pl->pl_max - (4 + 2 * digits) - bot_text_reopen_cp(&st);
		if (bot_text_cut(s + pos, len - pos, room) == len - pos)
			return (bot_text_add(pl, pos, len, &st, NULL));
		for (r = 0;; r = need) {
			bot_text_window(pl, pos, room - r, &bw);
			bot_text_choose(pl, &bw, &e, &nx);
			bot_text_unfence(pl, pos, &e, &nx);
			end = st;
			bot_text_parse(s, pos, e, &end);
			if (nx >= len)
				return (bot_text_add(pl, pos, e, &st, NULL));
			if ((need = bot_text_close_cp(&end)) <= r)
				break;
		}
		if (bot_text_add(pl, pos, e, &st, &end) == -1)
			return (-1);
		st = end;
		pos = nx;
	}
}

static size_t
bot_text_digits(size_t n)
{
	size_t	 d = 1;

	while (n >= 10) {
		n /= 10;
		d++;
	}
	return (d);
}

/* Part k: reopening lines, its text, closing lines, the marker. */
static char *
bot_text_build(const struct bot_text_plan *pl, size_t k)
{
	const struct bot_text_part	*bp = &pl->pl_parts[k];
	const struct bot_text_fence	*bf;
	char				 marker[BOT_TEXT_MARKER_MAX + 1];
	char				*out, *p;
	size_t				 size, mlen = 0;
	int				 i, r;

	if (pl->pl_nparts > 1) {
		r = snprintf(marker, sizeof(marker), "\n(%zu/%zu)", k + 1,
		    pl->pl_nparts);
		if (r < 0 || (size_t)r >= sizeof(marker))
			return (NULL);
		mlen = r;
	}
	size = bp->bp_end - bp->bp_start + mlen + 1;
	for (i = 0; i < bp->bp_reopen.bs_depth; i++)
		size += bp->bp_reopen.bs_open[i].bf_len + 1;
	for (i = 0; i < bp->bp_close.bs_depth; i++)
		size += 1 + bp->bp_close.bs_open[i].bf_run;
	if ((out = p = malloc(size)) == NULL)
		return (NULL);
	for (i = 0; i < bp->bp_reopen.bs_depth; i++) {
		bf = &bp->bp_reopen.bs_open[i];
		memcpy(p, pl->pl_s + bf->bf_off, bf->bf_len);
		p += bf->bf_len;
		*p++ = '\n';
	}
	memcpy(p, pl->pl_s + bp->bp_start, bp->bp_end - bp->bp_start);
	p += bp->bp_end - bp->bp_start;
	for (i = bp->bp_close.bs_depth - 1; i >= 0; i--) {
		bf = &bp->bp_close.bs_open[i];
		*p++ = '\n';
		memset(p, bf->bf_char, bf->bf_run);
		p += bf->bf_run;
	}
	memcpy(p, marker, mlen);
	p[mlen] = '\0';
	return (out);
}

/* The text as the one part. */
static int
bot_text_one(const char *text, size_t len, char ***parts)
{
	char	**v;

	if ((v = malloc(sizeof(*v))) == NULL)
		return (-1);
	if ((v[0] = malloc(len + 1)) == NULL) {
		free(v);
		return (-1);
	}
	if (len > 0)
		memcpy(v[0], text, len);
	v[0][len] = '\0';
	*parts = v;
	return (1);
}

/* Split text into marked parts of at most max code points. */
int
bot_text_split(const char *text, size_t len, size_t max, char ***parts)
{
	struct bot_text_plan	 pl;
	char			**v = NULL;
	size_t			 digits = 1, k;
	int			 n = -1;

	*parts = NULL;
	if (max < BOT_TEXT_MAX_MIN)
		return (-1);
	if (bot_text_cp(text, len) <= max)
		return (bot_text_one(text, len, parts));
	memset(&pl, 0, sizeof(pl));
	pl.pl_s = text;
	pl.pl_len = len;
	pl.pl_max = max;
	if (bot_text_walk(text, len, bot_text_span_add, &pl) == -1)
		goto fail;
	/* Markers widen with the count of parts: plan until it holds. */
	for (;;) {
		if (bot_text_plan(&pl, digits) == -1)
			goto fail;
		if (bot_text_digits(pl.pl_nparts) <= digits)
			break;
		digits = bot_text_digits(pl.pl_nparts);
	}
	if ((v = calloc(pl.pl_nparts, sizeof(*v))) == NULL)
		goto fail;
	for (k = 0; k < pl.pl_nparts; k++) {
		if ((v[k] = bot_text_build(&pl, k)) == NULL) {
			bot_text_free(v, (int)k);
			goto fail;
		}
	}
	*parts = v;
	n = (int)pl.pl_nparts;
fail:
	free(pl.pl_spans);
	free(pl.pl_parts);
	return (n);
}

/* Free the n parts of a split. */
void
bot_text_free(char **parts, int n)
{
	int	 i;

	if (parts == NULL)
		return;
	for (i = 0; i < n; i++)
		free(parts[i]);
	free(parts);
}
