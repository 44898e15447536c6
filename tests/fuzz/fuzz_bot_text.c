/*
 * fuzz_bot_text.c: libFuzzer harness for the bot's text preparation.
 * The first byte picks max (200 + byte * 40); the rest is agent text.
 * It is split as it comes (NUL bytes made spaces, since a part is a C
 * string) and, as the bot does it, after unmention:
 * every part must hold at most max code points, end with its "(k/n)"
 * marker, close every code block it opens (Zulip's rules, written here
 * apart from bot_text.c), lose no text but white space at the cuts, and
 * leave unmention nothing to do once the whole text went through it.  Redact runs with a fixed secret and must
 * leave no copy of it.
 */

#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot_text.h"

#define FUZZ_SECRET	"sk-fuzz-12345678"

struct fchk {
	char	 f_ch[2];
	size_t	 f_run[2];
	int	 f_code[2];
	int	 f_depth;
	int	 f_poison;
};

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Whether s[0..n) holds the string w. */
static int
has(const char *s, size_t n, const char *w)
{
	size_t	 i, k = strlen(w);

	for (i = 0; i + k <= n; i++)
		if (memcmp(s + i, w, k) == 0)
			return (1);
	return (0);
}

/* Python's str.isspace() for the UTF-8 character at s, in bytes, or 0. */
static size_t
py_space(const unsigned char *s, size_t n)
{
	static const char	*multi[] = { "\xc2\x85", "\xc2\xa0",
	    "\xe1\x9a\x80", "\xe2\x80\xa8", "\xe2\x80\xa9", "\xe2\x80\xaf",
	    "\xe2\x81\x9f", "\xe3\x80\x80" };
	size_t			 i, k;

	if ((s[0] >= 0x09 && s[0] <= 0x0d) || (s[0] >= 0x1c && s[0] <= 0x20))
		return (1);
	if (n >= 3 && s[0] == 0xe2 && s[1] == 0x80 && s[2] >= 0x80 &&
	    s[2] <= 0x8a)
		return (3);
	for (i = 0; i < sizeof(multi) / sizeof(multi[0]); i++) {
		k = strlen(multi[i]);
		if (n >= k && memcmp(s, multi[i], k) == 0)
			return (k);
	}
	return (0);
}

static int
lang_char(char c)
{
	return (c != '\0' && strchr("abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+,-./#", c) != NULL);
}

/* Whether line l closes the innermost block. */
static int
fchk_closes(const struct fchk *f, const char *l, size_t n)
{
	int	 top = f->f_depth - 1;
	size_t	 i, k;

	for (i = 0; i < f->f_run[top]; i++)
		if (i >= n || l[i] != f->f_ch[top])
			return (0);
	for (; i < n; i += k)
		if ((k = py_space((const unsigned char *)l + i, n - i)) == 0)
			return (0);
	return (1);
}

/* One line through Zulip's fence rules. */
static void
fchk_line(struct fchk *f, const char *l, size_t n)
{
	size_t	 run, i, lang, k;
	char	 name[8];
	int	 fish;

	if (f->f_poison)
		return;
	fish = n >= 3 && (l[0] == '`' || l[0] == '~') && l[1] == l[0] &&
	    l[2] == l[0];
	if (fish && (memchr(l, '@', n) != NULL || bot_text_cp(l, n) > 40)) {
		f->f_poison = 1;
		return;
	}
	if (f->f_depth > 0 && fchk_closes(f, l, n)) {
		f->f_depth--;
		return;
	}
	if ((f->f_depth > 0 && f->f_code[f->f_depth - 1]) || !fish)
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
 * Whether text is, but for white space between them, the parts' own
 * texts in order: part k less its marker, the nopen lines reopening
 * blocks at its start and the m closing them at its end.  Tries each m.
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
		blen = strrchr(b, '\n') - b;
	for (j = 0; j < nopen; j++) {
		if ((nl = memchr(b, '\n', blen)) == NULL)
			return (0);
		blen -= nl + 1 - b;
		b = nl + 1;
	}
	for (m = k == n - 1 ? 0 : 2; m >= 0; m--) {
		clen = blen;
		for (j = 0; j < m && clen > 0; j++) {
			while (clen > 0 && b[clen - 1] != '\n')
				clen--;
			if (clen > 0)
				clen--;
		}
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
 * Whether part k starts with the rest of a run of ` or ~ that the end of
 * part k - 1 cut, a run too long for any part to hold with the character
 * before it: the one place a part may open a block the text did not.
 */
static int
cut_run(char **parts, int k, size_t max, size_t mark)
{
	const char	*a = parts[k - 1], *b = parts[k], *nl;
	size_t		 alen, r1 = 0, r2 = 0;

	if ((b[0] != '`' && b[0] != '~') || (nl = strrchr(a, '\n')) == NULL)
		return (0);
	alen = nl - a;
	while (r1 < alen && a[alen - 1 - r1] == b[0])
		r1++;
	while (b[r2] == b[0])
		r2++;
	return (r1 > 0 && r2 >= 3 && r1 + r2 + 1 + mark > max);
}

/* Split text and check each part; inert: unmention must change none. */
static void
check(const char *text, size_t len, size_t max, int inert)
{
	struct fchk	 whole, f;
	char		**parts, want[32], *u;
	size_t		 plen, ulen;
	int		 n, k, poisoned = 0;

	if ((n = bot_text_split(text, len, max, &parts)) < 1)
		return;		/* out of memory */
	memset(&whole, 0, sizeof(whole));
	fchk_text(&whole, text, len);
	for (k = 0; k < n; k++) {
		plen = strlen(parts[k]);
		if (bot_text_cp(parts[k], plen) > max)
			abort();
		snprintf(want, sizeof(want), "\n(%d/%d)", k + 1, n);
		if (n > 1 && (plen < strlen(want) ||
		    strcmp(parts[k] + plen - strlen(want), want) != 0))
			abort();
		memset(&f, 0, sizeof(f));
		if (k > 0 && cut_run(parts, k, max, strlen(want)))
			poisoned = 1;
		fchk_text(&f, parts[k], plen);
		if ((poisoned |= f.f_poison) == 0 && ((k < n - 1 &&
		    f.f_depth != 0) || (k == n - 1 && !whole.f_poison &&
		    f.f_depth != whole.f_depth)))
			abort();
		if (!inert)
			continue;
		if ((u = bot_text_unmention(parts[k], plen, &ulen)) == NULL)
			continue;
		if (ulen != plen || memcmp(u, parts[k], plen) != 0)
			abort();
		free(u);
	}
	if (n == 1 && bot_text_cp(text, len) <= max &&
	    (strlen(parts[0]) != len || memcmp(parts[0], text, len) != 0))
		abort();
	if (!recon_all(text, len, parts, n))
		abort();
	bot_text_free(parts, n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	const char	*secrets[] = { FUZZ_SECRET, "short" };
	char		*text, *u, *r, **parts;
	size_t		 max, tlen, ulen, rlen, i;
	int		 n;

	if (len < 1)
		return (0);
	max = 200 + (size_t)data[0] * 40;
	tlen = len - 1;
	/* A part is a C string, which a NUL would end early: split raw
	   bytes with one only for memory errors. */
	if ((text = malloc(tlen + 1)) == NULL)
		return (0);
	memcpy(text, data + 1, tlen);
	if (memchr(text, '\0', tlen) != NULL &&
	    (n = bot_text_split(text, tlen, max, &parts)) > 0)
		bot_text_free(parts, n);
	for (i = 0; i < tlen; i++)
		if (text[i] == '\0')
			text[i] = ' ';
	check(text, tlen, max, 0);
	if ((u = bot_text_unmention(text, tlen, &ulen)) != NULL) {
		if (memchr(u, '\0', ulen) == NULL)
			check(u, ulen, max, 1);
		free(u);
	}
	if ((r = bot_text_redact(text, tlen, secrets, 2, &rlen)) != NULL) {
		if (rlen > tlen || has(r, rlen, FUZZ_SECRET))
			abort();
		free(r);
	}
	free(text);
	return (0);
}
