/*
 * bot_text.h: text an agent wrote, made fit to post into Zulip: counted
 * and cut in code points, split at the server's max_message_length with
 * the code blocks of each part balanced, mentions made inert and known
 * secrets removed.  Pure functions: no I/O, no state, only libc.
 *
 * Call them in this order: bot_text_redact, bot_text_unmention, then
 * bot_text_split on what unmention returned.  Split never cuts a code
 * span that unmention left untouched and closes and reopens each code
 * block it cuts, so that every part still shows that code as code and
 * no part holds a live mention.
 *
 * A NUL byte is copied like any other byte; a split part that holds one
 * reads short with strlen, and Zulip refuses it anyway.
 */

#ifndef BOT_TEXT_H
#define BOT_TEXT_H

#include <stddef.h>

/* Code points in s[0..len); each byte of an invalid sequence counts one. */
size_t	 bot_text_cp(const char *s, size_t len);

/*
 * The longest prefix of s, in bytes, holding at most max code points and
 * ending on a code point boundary (for topics: max_topic_length).
 */
size_t	 bot_text_cut(const char *s, size_t len, size_t max);

/*
 * Split text into parts of at most max code points each (max is the
 * server's max_message_length, e.g. 10000; max must be at least 200,
 * else -1).  Text that fits is one part, unchanged.  Otherwise each part
 * ends with a line "(k/n)", a code block cut in two is closed at the end
 * of one part and reopened with its own opening line at the start of
 * the next, and the white space at a cut is dropped.  Returns the
 * number of parts (>= 1, even for empty text, where the one part is
 * empty) and sets *parts to a malloc'd array of malloc'd NUL-terminated
 * strings (free with bot_text_free), or -1 on allocation failure with
 * nothing allocated.
 */
int	 bot_text_split(const char *text, size_t len, size_t max,
	    char ***parts);

/* Free what bot_text_split returned. */
void	 bot_text_free(char **parts, int n);

/*
 * Neutralise Zulip mentions (@**name**, @_**name**, @*group*, @_*group*
 * and the wildcards) so that agent output never notifies anyone, by a
 * U+200B after the "@"; code blocks and code spans keep their bytes.
 * Line ends become "\n" and the bytes 0x02 and 0x03 go, as Zulip's
 * renderer does before it looks at the text.  Returns a malloc'd
 * NUL-terminated copy (length in *outlen), or NULL.
 */
char	*bot_text_unmention(const char *text, size_t len, size_t *outlen);

/*
 * Replace every exact occurrence of each secret (secrets is an array of
 * n NUL-terminated strings; NULL entries and secrets shorter than 8
 * bytes, which would redact ordinary words, are ignored) by
 * "[redacted]".  Overlapping or adjacent occurrences become one
 * "[redacted]", so no secret byte survives.  Returns a malloc'd
 * NUL-terminated copy (length in *outlen), or NULL.
 */
char	*bot_text_redact(const char *text, size_t len,
	    const char *const *secrets, size_t n, size_t *outlen);

#endif /* BOT_TEXT_H */
