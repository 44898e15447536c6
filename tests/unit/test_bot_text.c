/*
 * test_bot_text.c: the bot's text preparation (bot/bot_text.c): code
 * point counting and topic cuts, splitting at max_message_length with
 * markers and balanced code blocks, mentions made inert outside code,
 * and secrets redacted.  Each check says what a chat user would see.
 * A property loop splits pseudo-random texts and checks every part
 * against a fence model written apart from the module (Zulip's rules).
 */

#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot_text.h"
#include "unit.h"

#define ZW	"\xe2\x80\x8b"		/* what unmention puts after "@" */
/* A code span body of 64 characters: with its backticks, too long. */
#define LONG	"0123456789012345678901234567890123456789" \
		"012345678901234567890123"

/* The fence model once more: Zulip's fenced_code.py, in other words. */
struct fchk {
	char	 f_ch[2];
	size_t	 f_run[2];
	int	 f_code[2];
	int	 f_depth;
	int	 f_poison;
};

/* A property text, grown as needed. */
struct gen {
	char	*g_buf;
	size_t	 g_len;
	size_t	 g_size;
};

static uint32_t	 rng_state = 2463534242U;

static uint32_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return (rng_state);
}

/* One code point of valid UTF-8 at s, or 0. */
static size_t
utf8_one(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t	 need, i;
	uint32_t c;

	if (s[0] < 0x80) {
		*cp = s[0];
		return (1);
	}
	if ((s[0] & 0xe0) == 0xc0) {
		need = 2;
		c = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		need = 3;
		c = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		need = 4;
		c = s[0] & 0x07;
	} else
		return (0);
	if (n < need)
		return (0);
	for (i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return (0);
		c = c << 6 | (s[i] & 0x3f);
	}
	if ((need == 2 && c < 0x80) || (need == 3 && c < 0x800) ||
	    (need == 4 && c < 0x10000) || c > 0x10ffff ||
	    (c >= 0xd800 && c <= 0xdfff))
		return (0);
	*cp = c;
	return (need);
}

static int
utf8_valid(const char *s, size_t n)
{
	size_t	 i, k;
	uint32_t c;

	for (i = 0; i < n; i += k)
		if ((k = utf8_one((const unsigned char *)s + i, n - i,
		    &c)) == 0)
			return (0);
	return (1);
}

/* Python's str.isspace(), by code point. */
static int
py_space(uint32_t c)
{
	static const uint32_t	 sp[] = { 0x85, 0xa0, 0x1680, 0x2028, 0x2029,
	    0x202f, 0x205f, 0x3000 };
	size_t			 i;

	if ((c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) ||
	    (c >= 0x2000 && c <= 0x200a))
		return (1);
	for (i = 0; i < sizeof(sp) / sizeof(sp[0]); i++)
		if (c == sp[i])
			return (1);
	return (0);
}

static int
lang_char(char c)
{
	return (c != '\0' && strchr("abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+,-./#", c) != NULL);
}

/* One line through the model. */
static void
fchk_line(struct fchk *f, const char *l, size_t n)
{
	size_t	 run, i, k, lang;
	uint32_t c;
	char	 name[8];
	int	 fish, top = f->f_depth - 1;

	if (f->f_poison)
		return;
	fish = n >= 3 && (l[0] == '`' || l[0] == '~') && l[1] == l[0] &&
	    l[2] == l[0];
	if (fish && (memchr(l, '@', n) != NULL || bot_text_cp(l, n) > 40)) {
		f->f_poison = 1;
		return;
	}
	if (top >= 0 && n >= f->f_run[top]) {
		for (i = 0; i < f->f_run[top] && l[i] == f->f_ch[top]; i++)
			;
		if (i == f->f_run[top]) {
			while (i < n && (k = utf8_one((const unsigned char *)l +
			    i, n - i, &c)) > 0 && py_space(c))
				i += k;
			if (i == n) {
				f->f_depth--;
				return;
			}
		}
	}
	if ((top >= 0 && f->f_code[top]) || !fish)
		return;
	for (run = 0; run < n && l[run] == l[0]; run++)
		;
	if (memchr(l + run, '`', n - run) || memchr(l + run, '~', n - run))
		return;
	for (i = run; i < n && (l[i] == ' ' || l[i] == '\t'); i++)
		;
	lang = 0;
	if (i < n) {
		i += l[i] == '{';
		if (i + 1 < n && l[i] == '.' && lang_char(l[i + 1]))
			i++;
		while (i + lang < n && lang_char(l[i + lang]))
			lang++;
		if (lang == 0)
			return;
	}
	if (run > 12 || f->f_depth == 2) {
		f->f_poison = 1;
		return;
	}
	memset(name, 0, sizeof(name));
	for (k = 0; k < lang && k < sizeof(name) - 1; k++)
		name[k] = l[i + k] | 0x20;
	f->f_ch[f->f_depth] = l[0];
	f->f_run[f->f_depth] = run;
	f->f_code[f->f_depth] = lang > 7 || (strcmp(name, "quote") != 0 &&
	    strcmp(name, "quoted") != 0 && strcmp(name, "spoiler") != 0);
	f->f_depth++;
}

/* A text through the model, line by line ("\n", "\r\n" or "\r"). */
static void
fchk_text(struct fchk *f, const char *s, size_t n)
{
	size_t	 i = 0, e;

	while (i < n) {
		for (e = i; e < n && s[e] != '\n' && s[e] != '\r'; e++)
			;
		fchk_line(f, s + i, e - i);
		if (e + 1 < n && s[e] == '\r' && s[e + 1] == '\n')
			e++;
		i = e + 1;
	}
}

static int
is_ws(char c)
{
	return (c == ' ' || c == '\t' || c == '\n' || c == '\r');
}

/*
 * Whether text is, but for white space between them, the parts' texts
 * in order: part k's own text is part k less its marker, the nopen
 * lines reopening blocks at its start and the m lines closing them at
 * its end, and the next part reopens m.  Tries each m.
 */
static int
recon(const char *t, size_t tlen, char **parts, int n, int k, size_t p,
    int nopen, unsigned char *seen)
{
	const char	*b = parts[k], *nl;
	size_t		 blen = strlen(parts[k]), clen, q;
	int		 m, j;

	/* Each (k, p, nopen) fails or not whatever the way to it. */
	q = ((size_t)k * 3 + nopen) * (tlen + 1) + p;
	if (seen[q / 8] & (1 << q % 8))
		return (0);
	seen[q / 8] |= 1 << q % 8;
	if (n > 1)
		blen = strrchr(b, '\n') - b;	/* the marker */
	for (j = 0; j < nopen; j++) {
		if ((nl = memchr(b, '\n', blen)) == NULL)
			return (0);
		blen -= nl + 1 - b;
		b = nl + 1;
	}
	for (m = k == n - 1 ? 0 : 2; m >= 0; m--) {
		clen = blen;
		for (j = 0; j < m; j++) {
			while (clen > 0 && b[clen - 1] != '\n')
				clen--;
			if (clen-- == 0)
				break;
		}
		if (j < m)
			continue;
		for (q = p;; q++) {
			if (q + clen <= tlen && memcmp(t + q, b, clen) == 0) {
				if (k < n - 1 && recon(t, tlen, parts, n,
				    k + 1, q + clen, m, seen))
					return (1);
				if (k == n - 1) {
					for (q += clen; q < tlen && is_ws(t[q]);
					    q++)
						;
					if (q == tlen)
						return (1);
					break;
				}
			}
			if (q >= tlen || !is_ws(t[q]))
				break;
		}
	}
	return (0);
}

/* recon from the start, with room to remember the failed states. */
static int
recon_all(const char *t, size_t tlen, char **parts, int n)
{
	unsigned char	*seen;
	int		 r;

	if ((seen = calloc(((size_t)n * 3 * (tlen + 1) + 7) / 8, 1)) == NULL)
		return (1);	/* cannot tell */
	r = recon(t, tlen, parts, n, 0, 0, 0, seen);
	free(seen);
	return (r);
}

/*
 * Everything a user must be able to rely on for split(text): parts of
 * at most max code points with markers (k/n), on code point boundaries
 * of valid text, balanced code blocks, and no text lost.  0 if so.
 */
static int
check_split(const char *text, size_t len, size_t max, char **parts, int n)
{
	struct fchk	 whole, f;
	char		 want[32];
	size_t		 plen;
	int		 k, poisoned = 0, valid = utf8_valid(text, len);

	memset(&whole, 0, sizeof(whole));
	fchk_text(&whole, text, len);
	for (k = 0; k < n; k++) {
		plen = strlen(parts[k]);
		if (bot_text_cp(parts[k], plen) > max)
			return (-1);
		if (valid && !utf8_valid(parts[k], plen))
			return (-2);
		snprintf(want, sizeof(want), "\n(%d/%d)", k + 1, n);
		if (n > 1 && (plen < strlen(want) ||
		    strcmp(parts[k] + plen - strlen(want), want) != 0))
			return (-3);
		memset(&f, 0, sizeof(f));
		fchk_text(&f, parts[k], plen);
		poisoned |= f.f_poison;
		if (poisoned)
			continue;
		if (k < n - 1 && f.f_depth != 0)
			return (-4);
		if (k == n - 1 && !whole.f_poison && f.f_depth != whole.f_depth)
			return (-5);
	}
	if (n == 1 && bot_text_cp(text, len) <= max &&
	    (strlen(parts[0]) != len || memcmp(parts[0], text, len) != 0))
		return (-6);
	if (!recon_all(text, len, parts, n))
		return (-7);
	return (0);
}

/* Unmention must find nothing left to do in any part of unmented text. */
static int
check_inert(char **parts, int n)
{
	char	*u;
	size_t	 ulen;
	int	 k, ok;

	for (k = 0; k < n; k++) {
		if ((u = bot_text_unmention(parts[k], strlen(parts[k]),
		    &ulen)) == NULL)
			return (-1);
		ok = ulen == strlen(parts[k]) && memcmp(u, parts[k], ulen) == 0;
		free(u);
		if (!ok)
			return (-1);
	}
	return (0);
}

static void
gen_add(struct gen *g, const char *s)
{
	size_t	 n = strlen(s);
	char	*p;

	if (g->g_len + n + 1 > g->g_size) {
		g->g_size = (g->g_len + n + 1) * 2;
		if ((p = realloc(g->g_buf, g->g_size)) == NULL)
			abort();
		g->g_buf = p;
	}
	memcpy(g->g_buf + g->g_len, s, n + 1);
	g->g_len += n;
}

/* A text of words, lines, paragraphs, code blocks, spans and mentions. */
static void
gen_text(struct gen *g, size_t lines)
{
	static const char	*words[] = { "the", "agent", "wrote", "é",
	    "日本", "😀", "@**all**", "`make`", "a@b.c", "`x @**y** z`",
	    "@_*group*", "x", "``a`b``", "longerwordthanmost", "~", "`" };
	static const char	*opens[] = { "```python", "```", "~~~",
	    "````", "```quote", "```spoiler Title", "~~~~ js", "  ```" };
	static const char	*closes[] = { "```", "```", "~~~", "````",
	    "```", "```", "~~~~", "  ```" };
	size_t			 i, w, nw;
	int			 open = -1, o;
	char			 buf[64];

	g->g_len = 0;
	gen_add(g, "");
	for (i = 0; i < lines; i++) {
		if (rng() % 10 == 0) {
			gen_add(g, "\n");
			continue;
		}
		if (open < 0 && rng() % 12 == 0) {
			open = o = rng() % (sizeof(opens) / sizeof(opens[0]));
			gen_add(g, opens[o]);
			gen_add(g, "\n");
			continue;
		}
		if (open >= 0 && rng() % 8 == 0) {
			gen_add(g, closes[open]);
			gen_add(g, rng() % 4 ? "\n" : "  \r\n");
			open = -1;
			continue;
		}
		nw = rng() % 14;
		if (rng() % 5 == 0)
			gen_add(g, rng() % 2 ? "  " : "\t");
		for (w = 0; w < nw; w++) {
			gen_add(g, words[rng() % (sizeof(words) /
			    sizeof(words[0]))]);
			gen_add(g, rng() % 7 ? " " : "  ");
		}
		if (rng() % 40 == 0) {
			for (w = rng() % 300; w > 0; w--)
				gen_add(g, "z");
		}
		snprintf(buf, sizeof(buf), "%u.\n", (unsigned)(rng() % 100));
		gen_add(g, buf);
	}
}

static int
test_cp(void)
{
	int	 ret = -1;

	CHECK_INT(bot_text_cp("", 0), 0);
	CHECK_INT(bot_text_cp("abc", 3), 3);
	/* h é l l o, space, 日 本 😀: 9 code points in 17 bytes. */
	CHECK_INT(bot_text_cp("h\xc3\xa9llo \xe6\x97\xa5\xe6\x9c\xac"
	    "\xf0\x9f\x98\x80", 17), 9);
	/* Each byte of a bad sequence counts one: a stray byte, a cut
	   sequence, an overlong "/", a surrogate. */
	CHECK_INT(bot_text_cp("\xff", 1), 1);
	CHECK_INT(bot_text_cp("\xe2\x82", 2), 2);
	CHECK_INT(bot_text_cp("\xc0\xaf", 2), 2);
	CHECK_INT(bot_text_cp("\xed\xa0\x80", 3), 3);
	CHECK_INT(bot_text_cp("a\0b", 3), 3);
	ret = 0;
end:
	return (ret);
}

static int
test_cut(void)
{
	const char	*t = "d\xc3\xa9ploy \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f"
			    "\x98\x80!";
	size_t		 len = strlen(t);
	int		 ret = -1;

	/* A topic of max_topic_length 60 keeps a short name whole. */
	CHECK_INT(bot_text_cut(t, len, 60), len);
	CHECK_INT(bot_text_cut(t, len, 0), 0);
	CHECK_INT(bot_text_cut(t, len, 1), 1);		/* "d" */
	CHECK_INT(bot_text_cut(t, len, 2), 3);		/* "dé" */
	CHECK_INT(bot_text_cut(t, len, 8), 11);		/* "déploy 日" */
	CHECK_INT(bot_text_cut(t, len, 11), 19);	/* ... "本 😀" */
	CHECK_INT(bot_text_cut("\xf0\x9f\x98", 3, 1), 1); /* cut sequence */
	ret = 0;
end:
	return (ret);
}

static int
test_short(void)
{
	const char	*t = "Done: 3 files changed.\n\n```\nok\n```";
	char		**p = NULL;
	int		 n = 0, ret = -1;

	CHECK((n = bot_text_split(t, strlen(t), 10000, &p)) == 1);
	CHECK_STR(p[0], t);
	bot_text_free(p, n);
	/* Exactly max code points is still one part, with no marker. */
	CHECK((n = bot_text_split("\xc3\xa9\xc3\xa9", 4, 200, &p)) == 1);
	CHECK_STR(p[0], "\xc3\xa9\xc3\xa9");
	bot_text_free(p, n);
	p = NULL;
	CHECK_INT(bot_text_split("x", 1, 199, &p), -1);
	CHECK(p == NULL);
	ret = 0;
end:
	bot_text_free(p, n);
	return (ret);
}

static int
test_empty(void)
{
	char	**p = NULL;
	int	 n = 0, ret = -1;

	CHECK((n = bot_text_split("", 0, 10000, &p)) == 1);
	CHECK_STR(p[0], "");
	ret = 0;
end:
	bot_text_free(p, n);
	return (ret);
}

static int
test_paragraphs(void)
{
	char	 para[499], *t, **p = NULL;
	size_t	 i, len = 0;
	int	 n = 0, ret = -1;

	/* 50 paragraphs of 498 characters and a blank line: 25 000. */
	if ((t = malloc(25001)) == NULL)
		return (-1);
	for (i = 0; i < 50; i++) {
		memset(para, 'a' + i % 26, 498);
		para[497] = '.';
		memcpy(t + len, para, 498);
		memcpy(t + len + 498, "\n\n", 2);
		len += 500;
	}
	t[len] = '\0';
	CHECK_INT(bot_text_cp(t, len), 25000);
	CHECK((n = bot_text_split(t, len, 10000, &p)) == 3);
	for (i = 0; i < 3; i++)
		CHECK(bot_text_cp(p[i], strlen(p[i])) <= 10000);
	/* 19 paragraphs in each of the first two, cut at the break. */
	CHECK_INT(strlen(p[0]), 19 * 500 - 2 + 6);
	CHECK(memcmp(p[0] + 19 * 500 - 3, ".\n(1/3)", 8) == 0);
	CHECK(p[1][0] == 't' && memcmp(p[1], t + 9500, 498) == 0);
	CHECK(memcmp(p[1] + 19 * 500 - 3, ".\n(2/3)", 8) == 0);
	CHECK(p[2][0] == 'm' && memcmp(p[2], t + 19000, 498) == 0);
	CHECK_INT(strlen(p[2]), 12 * 500 + 6);
	CHECK_STR(p[2] + 12 * 500 - 3, ".\n\n\n(3/3)");
	CHECK_INT(check_split(t, len, 10000, p, n), 0);
	ret = 0;
end:
	bot_text_free(p, n);
	free(t);
	return (ret);
}

static int
test_multibyte(void)
{
	const char	*unit = "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac "
			    "\xf0\x9f\x98\x80 ";	/* 10 code points */
	struct gen	 g = { NULL, 0, 0 };
	char		**p = NULL;
	size_t		 i;
	int		 k, n = 0, ret = -1;

	gen_add(&g, "");
	for (i = 0; i < 1500; i++)
		gen_add(&g, unit);
	CHECK_INT(bot_text_cp(g.g_buf, g.g_len), 15000);
	CHECK((n = bot_text_split(g.g_buf, g.g_len, 10000, &p)) == 2);
	for (k = 0; k < n; k++) {
		CHECK(bot_text_cp(p[k], strlen(p[k])) <= 10000);
		CHECK(utf8_valid(p[k], strlen(p[k])));
	}
	/* Cut at a space in the second half, not inside a character. */
	CHECK(bot_text_cp(p[0], strlen(p[0])) > 9900);
	CHECK(strncmp(p[1], "caf\xc3\xa9", 5) == 0 ||
	    strncmp(p[1], "\xe6\x97\xa5", 3) == 0 ||
	    strncmp(p[1], "\xf0\x9f\x98\x80", 4) == 0);
	CHECK_INT(check_split(g.g_buf, g.g_len, 10000, p, n), 0);
	bot_text_free(p, n);
	p = NULL;
	/* One word of 15 000 emoji: hard cuts between whole emoji. */
	g.g_len = 0;
	gen_add(&g, "");
	for (i = 0; i < 15000; i++)
		gen_add(&g, "\xf0\x9f\x98\x80");
	CHECK((n = bot_text_split(g.g_buf, g.g_len, 10000, &p)) == 2);
	CHECK_INT(strlen(p[0]), 9994 * 4 + 6);
	CHECK(utf8_valid(p[0], strlen(p[0])) && utf8_valid(p[1],
	    strlen(p[1])));
	CHECK_STR(p[0] + 9994 * 4, "\n(1/2)");
	CHECK_INT(check_split(g.g_buf, g.g_len, 10000, p, n), 0);
	ret = 0;
end:
	bot_text_free(p, n);
	free(g.g_buf);
	return (ret);
}

static int
test_fence(void)
{
	struct gen	 g = { NULL, 0, 0 };
	char		**p = NULL, line[64];
	size_t		 i;
	int		 n = 0, ret = -1;

	gen_add(&g, "Here is the script:\n\n```python\n");
	for (i = 0; i < 400; i++) {
		snprintf(line, sizeof(line), "print(\"line %03zu\")\n", i);
		gen_add(&g, line);	/* 19 code points and a newline */
	}
	gen_add(&g, "```\n\nThat is all.");
	CHECK((n = bot_text_split(g.g_buf, g.g_len, 5000, &p)) == 2);
	/* Part 1 closes the block; part 2 reopens it as python. */
	CHECK(strlen(p[0]) > 10);
	CHECK_STR(p[0] + strlen(p[0]) - 10, "\n```\n(1/2)");
	CHECK(strncmp(p[0], "Here is the script:\n\n```python\nprint(", 37) ==
	    0);
	CHECK(strncmp(p[1], "```python\nprint(\"line ", 22) == 0);
	CHECK(strstr(p[1], "```\n\nThat is all.\n(2/2)") != NULL);
	CHECK(bot_text_cp(p[0], strlen(p[0])) <= 5000);
	CHECK(bot_text_cp(p[1], strlen(p[1])) <= 5000);
	CHECK_INT(check_split(g.g_buf, g.g_len, 5000, p, n), 0);
	ret = 0;
end:
	bot_text_free(p, n);
	free(g.g_buf);
	return (ret);
}

static int
test_fence_kinds(void)
{
	struct gen	 g = { NULL, 0, 0 };
	char		**p = NULL;
	size_t		 i;
	int		 k, n = 0, ret = -1;

	/* A tilde fence with its info string, cut in the middle. */
	gen_add(&g, "~~~~ js\n");
	for (i = 0; i < 100; i++)
		gen_add(&g, "let x = 1; // ``` is text here\n");
	gen_add(&g, "~~~~\ndone");
	CHECK((n = bot_text_split(g.g_buf, g.g_len, 1000, &p)) >= 3);
	for (k = 0; k < n; k++) {
		if (k > 0)
			CHECK(strncmp(p[k], "~~~~ js\n", 8) == 0);
		if (k < n - 1)
			CHECK(strstr(p[k], "\n~~~~\n(") != NULL);
	}
	CHECK_INT(check_split(g.g_buf, g.g_len, 1000, p, n), 0);
	bot_text_free(p, n);
	p = NULL;
	/* Four backticks around a Markdown file that holds ``` blocks:
	   only ```` closes, so the inner fences are text. */
	g.g_len = 0;
	gen_add(&g, "````markdown\n");
	for (i = 0; i < 60; i++)
		gen_add(&g, "```sh\nmake check\n```\n\n");
	gen_add(&g, "````\nafter");
	CHECK((n = bot_text_split(g.g_buf, g.g_len, 400, &p)) >= 3);
	for (k = 0; k < n; k++) {
		if (k > 0)
			CHECK(strncmp(p[k], "````markdown\n", 13) == 0);
		if (k < n - 1)
			CHECK(strstr(p[k], "\n````\n(") != NULL);
	}
	CHECK(strstr(p[n - 1], "````\nafter\n(") != NULL);
	CHECK_INT(check_split(g.g_buf, g.g_len, 400, p, n), 0);
	bot_text_free(p, n);
	p = NULL;
	/* A code block inside a quote: both close, both reopen. */
	g.g_len = 0;
	gen_add(&g, "```quote\nThe agent said:\n```c\n");
	for (i = 0; i < 40; i++)
		gen_add(&g, "int i = 0;\n");
	gen_add(&g, "```\n```\n");
	CHECK((n = bot_text_split(g.g_buf, g.g_len, 250, &p)) >= 2);
	CHECK(strstr(p[0], "\n```\n```\n(1/") != NULL);
	CHECK(strncmp(p[1], "```quote\n```c\n", 14) == 0);
	CHECK_INT(check_split(g.g_buf, g.g_len, 250, p, n), 0);
	bot_text_free(p, n);
	p = NULL;
	/* The text's own block left open stays open in its last part. */
	g.g_len = 0;
	gen_add(&g, "```\n");
	for (i = 0; i < 40; i++)
		gen_add(&g, "still code\n");
	CHECK((n = bot_text_split(g.g_buf, g.g_len, 250, &p)) == 2);
	CHECK(strncmp(p[1], "```\n", 4) == 0);
	CHECK(strstr(p[1], "\n```") == NULL);
	CHECK_INT(check_split(g.g_buf, g.g_len, 250, p, n), 0);
	ret = 0;
end:
	bot_text_free(p, n);
	free(g.g_buf);
	return (ret);
}

static int
test_word(void)
{
	char	*t, **p = NULL;
	size_t	 total = 0;
	int	 k, n = 0, ret = -1;

	if ((t = malloc(30000)) == NULL)
		return (-1);
	memset(t, 'w', 30000);
	/* No white space at all: hard cuts of 9994 and the marker. */
	CHECK((n = bot_text_split(t, 30000, 10000, &p)) == 4);
	for (k = 0; k < n; k++) {
		CHECK(bot_text_cp(p[k], strlen(p[k])) <= 10000);
		total += strlen(p[k]) - 6;
	}
	CHECK_INT(total, 30000);
	CHECK_INT(strlen(p[0]), 10000);
	CHECK_STR(p[3], "wwwwwwwwwwwwwwwwww\n(4/4)");
	CHECK_INT(check_split(t, 30000, 10000, p, n), 0);
	bot_text_free(p, n);
	p = NULL;
	/* Many parts: markers grow to three digits and still fit. */
	CHECK((n = bot_text_split(t, 30000, 200, &p)) > 100);
	CHECK(strstr(p[0], "\n(1/") != NULL);
	CHECK_INT(check_split(t, 30000, 200, p, n), 0);
	ret = 0;
end:
	bot_text_free(p, n);
	free(t);
	return (ret);
}

static int
test_invalid(void)
{
	struct gen	 g = { NULL, 0, 0 };
	char		**p = NULL;
	size_t		 i, total = 0;
	int		 k, n = 0, ret = -1;

	gen_add(&g, "");
	for (i = 0; i < 300; i++)
		gen_add(&g, "ok\xff\xfe\xe2\x82 \xc0\xaf\xed\xa0\x80 ");
	/* 300 times 13 bytes, each byte one code point. */
	CHECK_INT(bot_text_cp(g.g_buf, g.g_len), 3900);
	CHECK((n = bot_text_split(g.g_buf, g.g_len, 1000, &p)) == 4);
	for (k = 0; k < n; k++) {
		CHECK(bot_text_cp(p[k], strlen(p[k])) <= 1000);
		total += strlen(p[k]);
	}
	CHECK(total <= g.g_len + 4 * 6);
	CHECK_INT(check_split(g.g_buf, g.g_len, 1000, p, n), 0);
	ret = 0;
end:
	bot_text_free(p, n);
	free(g.g_buf);
	return (ret);
}

static int
test_property(void)
{
	static const size_t	 maxes[] = { 200, 257, 1000 };
	struct gen		 g = { NULL, 0, 0 };
	char			**p = NULL, *u = NULL;
	size_t			 m, ulen;
	int			 i, n = 0, r, ret = -1, split = 0;

	for (i = 0; i < 3000; i++) {
		gen_text(&g, rng() % 120);
		for (m = 0; m < 3; m++) {
			CHECK((n = bot_text_split(g.g_buf, g.g_len, maxes[m],
			    &p)) >= 1);
			split += n > 1;
			if ((r = check_split(g.g_buf, g.g_len, maxes[m], p,
			    n)) != 0)
				unit_fail(__FILE__, __LINE__, "text %d max %zu:"
				    " %d", i, maxes[m], r);
			CHECK(r == 0);
			bot_text_free(p, n);
			p = NULL;
			/* As the bot does it: unmention, then split. */
			CHECK((u = bot_text_unmention(g.g_buf, g.g_len,
			    &ulen)) != NULL);
			CHECK((n = bot_text_split(u, ulen, maxes[m], &p)) >= 1);
			CHECK_INT(check_split(u, ulen, maxes[m], p, n), 0);
			if (check_inert(p, n) != 0)
				unit_fail(__FILE__, __LINE__, "text %d max %zu:"
				    " a part holds a live mention", i,
				    maxes[m]);
			CHECK_INT(check_inert(p, n), 0);
			bot_text_free(p, n);
			p = NULL;
			free(u);
			u = NULL;
		}
	}
	CHECK(split > 3000);	/* most texts needed cutting */
	ret = 0;
end:
	bot_text_free(p, n);
	free(u);
	free(g.g_buf);
	return (ret);
}

/* Unmention s and compare with want. */
static int
unmention_is(const char *s, const char *want)
{
	char	*u;
	size_t	 len;
	int	 ok;

	if ((u = bot_text_unmention(s, strlen(s), &len)) == NULL)
		return (0);
	ok = len == strlen(want) && strcmp(u, want) == 0;
	if (!ok)
		fprintf(stderr, "    unmention(\"%s\") = \"%s\"\n", s, u);
	free(u);
	return (ok);
}

static int
test_unmention(void)
{
	int	 ret = -1;

	CHECK(unmention_is("hi @**all**", "hi @" ZW "**all**"));
	CHECK(unmention_is("@**Full Name** @**Full Name|123** @_**Name**",
	    "@" ZW "**Full Name** @" ZW "**Full Name|123** @" ZW "_**Name**"));
	CHECK(unmention_is("(@*group*, @_*group*)",
	    "(@" ZW "*group*, @" ZW "_*group*)"));
	CHECK(unmention_is("@**everyone** @**stream** @**channel** @**topic**",
	    "@" ZW "**everyone** @" ZW "**stream** @" ZW "**channel** @" ZW
	    "**topic**"));
	/* Not mentions: mail, a lone "@", "@@", "@_x". */
	CHECK(unmention_is("mail a@b.c or root@host, @ alone, @@, @_x",
	    "mail a@b.c or root@host, @ alone, @@, @_x"));
	CHECK(unmention_is("", ""));
	ret = 0;
end:
	return (ret);
}

static int
test_unmention_code(void)
{
	int	 ret = -1;

	/* Code keeps its bytes; the text after it does not. */
	CHECK(unmention_is("```\n@**all**\n```\nthen @**all**",
	    "```\n@**all**\n```\nthen @" ZW "**all**"));
	CHECK(unmention_is("~~~ sh\necho @*team*\n~~~",
	    "~~~ sh\necho @*team*\n~~~"));
	CHECK(unmention_is("use `@**Name|12**` like @**this**",
	    "use `@**Name|12**` like @" ZW "**this**"));
	CHECK(unmention_is("``a ` @**all** b`` and @**all**",
	    "``a ` @**all** b`` and @" ZW "**all**"));
	/* A block left open runs to the end, as Zulip renders it. */
	CHECK(unmention_is("```\n@**all**", "```\n@**all**"));
	/* Only the same fence closes: ```` inside ``` is code. */
	CHECK(unmention_is("```\n````\n@**all**\n```\n@**all**",
	    "```\n````\n@**all**\n```\n@" ZW "**all**"));
	CHECK(unmention_is("````\n```\n@**all**\n````",
	    "````\n```\n@**all**\n````"));
	/* A code block in a quote is code; the quote is Markdown. */
	CHECK(unmention_is("```quote\n@**all**\n```c\n@**all**\n```\n```",
	    "```quote\n@" ZW "**all**\n```c\n@**all**\n```\n```"));
	CHECK(unmention_is("```spoiler Hi\n@**all**\n```",
	    "```spoiler Hi\n@" ZW "**all**\n```"));
	CHECK(unmention_is("```math\n@**all**\n```", "```math\n@**all**\n```"));
	ret = 0;
end:
	return (ret);
}

static int
test_unmention_zulip(void)
{
	int	 ret = -1;

	/* Zulip sees no fence when it is indented (inside a list). */
	CHECK(unmention_is("1. run:\n  ```\n  @**all**\n  ```",
	    "1. run:\n  ```\n  @" ZW "**all**\n  ```"));
	/* Runs Zulip may pair otherwise: an open one earlier in the
	   paragraph, a backslash.  A "|" in a span is no cell border. */
	CHECK(unmention_is("a `b\nc` @**all** `d`",
	    "a `b\nc` @" ZW "**all** `d`"));
	CHECK(unmention_is("a `b\n\nc `@**all**`",
	    "a `b\n\nc `@**all**`"));
	CHECK(unmention_is("\\`@**all**`", "\\`@" ZW "**all**`"));
	/* A span too long to keep whole in a part is not trusted, nor
	   what follows it in the paragraph: a cut in it would shift the
	   pairing. */
	CHECK(unmention_is("`" LONG "` `@*a*`\n`@*b*`\n\n`@*c*`",
	    "`" LONG "` `@" ZW "*a*`\n`@" ZW "*b*`\n\n`@*c*`"));
	CHECK(unmention_is("| `a | @**all**` |", "| `a | @**all**` |"));
	/* Zulip drops 0x02 and 0x03 and reads "\r" as a line end. */
	CHECK(unmention_is("@\x02**all**", "@" ZW "**all**"));
	CHECK(unmention_is("```\r\n@**all**\r\n```\r\n@*g*",
	    "```\n@**all**\n```\n@" ZW "*g*"));
	CHECK(unmention_is("x\r```\r@**all**", "x\n```\n@**all**"));
	/* A fence line we could not carry over a cut: no code after it. */
	CHECK(unmention_is("```spoiler @**all**\n@**all**\n```\n`@*g*`",
	    "```spoiler @" ZW "**all**\n@" ZW "**all**\n```\n`@" ZW "*g*`"));
	ret = 0;
end:
	return (ret);
}

/* Redact s and compare with want. */
static int
redact_is(const char *s, const char *const *sec, size_t n, const char *want)
{
	char	*r;
	size_t	 len;
	int	 ok;

	if ((r = bot_text_redact(s, strlen(s), sec, n, &len)) == NULL)
		return (0);
	ok = len == strlen(want) && strcmp(r, want) == 0;
	if (!ok)
		fprintf(stderr, "    redact(\"%s\") = \"%s\"\n", s, r);
	free(r);
	return (ok);
}

static int
test_redact(void)
{
	const char	*two[] = { "sk-ant-0123456789", "ghp_abcdefgh" };
	const char	*lap[] = { "abcdefgh12", "12345678xy" };
	const char	*odd[] = { NULL, "abc", "", "aaaaaaaa" };
	int		 ret = -1;

	CHECK(redact_is("key sk-ant-0123456789 and ghp_abcdefgh.", two, 2,
	    "key [redacted] and [redacted]."));
	/* At the start and the end, and touching: no byte survives. */
	CHECK(redact_is("sk-ant-0123456789 x sk-ant-0123456789", two, 2,
	    "[redacted] x [redacted]"));
	CHECK(redact_is("ghp_abcdefghsk-ant-0123456789", two, 2,
	    "[redacted]"));
	/* Two secrets overlapping: one redaction covers both. */
	CHECK(redact_is("<abcdefgh12345678xy>", lap, 2, "<[redacted]>"));
	/* A secret overlapping itself; short ones are ignored. */
	CHECK(redact_is("abc aaaaaaaaaa abc", odd, 4, "abc [redacted] abc"));
	CHECK(redact_is("nothing here", two, 0, "nothing here"));
	CHECK(redact_is("sk-ant-012345678", two, 2, "sk-ant-012345678"));
	ret = 0;
end:
	return (ret);
}

static const struct unit_test tests[] = {
	{ "cp", test_cp },
	{ "cut", test_cut },
	{ "short", test_short },
	{ "empty", test_empty },
	{ "paragraphs", test_paragraphs },
	{ "multibyte", test_multibyte },
	{ "fence", test_fence },
	{ "fence_kinds", test_fence_kinds },
	{ "word", test_word },
	{ "invalid", test_invalid },
	{ "property", test_property },
	{ "unmention", test_unmention },
	{ "unmention_code", test_unmention_code },
	{ "unmention_zulip", test_unmention_zulip },
	{ "redact", test_redact },
};

UNIT_MAIN("bot_text", tests)
