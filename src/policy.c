/*
 * policy.c: hosts and the policies that judge them.  One function decides
 * what a host string is: a name (ASCII letters, digits and hyphens in
 * labels of 1 to 63 octets, at most 253 octets, case folded, one trailing
 * dot dropped), a dotted-quad IPv4 literal, or a bracketed IPv6 literal
 * (v4-mapped addresses become IPv4).  Requests and policy patterns both go
 * through it, so a name is compared in exactly one form.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "sbxd.h"

#define HOST_LABEL_MAX		63	/* RFC 1035 */
#define HOST_NAME_MAX_LEN	253	/* RFC 1035, without the final dot */

static int	host_parse_v4(const char *, size_t, struct in_addr *);
static int	host_parse_v6(const char *, size_t, struct sbxd_host *,
		    const char **);
static int	host_parse_name(const char *, size_t, struct sbxd_host *,
		    const char **);
static int	host_label_numeric(const char *, size_t);

/*
 * Parse the host s (len bytes, not NUL-terminated) into h.  Returns 0,
 * or -1 with *why set to a short reason.
 */
int
policy_host_parse(const char *s, size_t len, struct sbxd_host *h,
    const char **why)
{
	size_t	 i;

	memset(h, 0, sizeof(*h));
	if (len == 0) {
		*why = "empty host";
		return (-1);
	}
	for (i = 0; i < len; i++) {
		if ((unsigned char)s[i] >= 0x80) {
			*why = "non-ASCII byte in host";
			return (-1);
		}
		if (s[i] == '%' || s[i] == '\\' || s[i] == '@') {
			*why = "'%', '\\' or '@' in host";
			return (-1);
		}
	}
	if (s[0] == '[')
		return (host_parse_v6(s, len, h, why));
	if (memchr(s, ':', len) != NULL) {
		*why = "IPv6 address without brackets";
		return (-1);
	}
	if (host_parse_v4(s, len, &h->h_ip.v4) == 0) {
		h->h_family = AF_INET;
		inet_ntop(AF_INET, &h->h_ip.v4, h->h_name,
		    sizeof(h->h_name));
		return (0);
	}
	return (host_parse_name(s, len, h, why));
}

/* Strict dotted quad: four decimal parts 0-255, no leading zeros. */
static int
host_parse_v4(const char *s, size_t len, struct in_addr *in)
{
	unsigned char	 b[4];
	size_t		 i = 0, part, digits;
	unsigned int	 v;

	for (part = 0; part < 4; part++) {
		if (part > 0) {
			if (i >= len || s[i] != '.')
				return (-1);
			i++;
		}
		for (v = 0, digits = 0; i < len && isdigit((unsigned char)s[i]);
		    i++, digits++) {
			if (digits > 0 && v == 0)
				return (-1);	/* leading zero */
			v = v * 10 + (s[i] - '0');
			if (v > 255)
				return (-1);
		}
		if (digits == 0)
			return (-1);
		b[part] = v;
	}
	if (i != len)
		return (-1);
	memcpy(in, b, sizeof(b));
	return (0);
}

/* [IPv6]; a v4-mapped address is normalised to its IPv4 form. */
static int
host_parse_v6(const char *s, size_t len, struct sbxd_host *h,
    const char **why)
{
	char	 buf[INET6_ADDRSTRLEN + 1];

	if (len < 3 || s[len - 1] != ']' || len - 2 >= sizeof(buf)) {
		*why = "malformed bracketed IPv6 address";
		return (-1);
	}
	memcpy(buf, s + 1, len - 2);
	buf[len - 2] = '\0';
	if (inet_pton(AF_INET6, buf, &h->h_ip.v6) != 1) {
		*why = "malformed IPv6 address";
		return (-1);
	}
	if (IN6_IS_ADDR_V4MAPPED(&h->h_ip.v6)) {
		memcpy(&h->h_ip.v4, &h->h_ip.v6.s6_addr[12], 4);
		h->h_family = AF_INET;
		inet_ntop(AF_INET, &h->h_ip.v4, h->h_name,
		    sizeof(h->h_name));
		return (0);
	}
	h->h_family = AF_INET6;
	inet_ntop(AF_INET6, &h->h_ip.v6, h->h_name, sizeof(h->h_name));
	return (0);
}

/*
 * An LDH name.  A last label that is all digits or 0x-hex is an attempt
 * at an IPv4 address in another notation (127.1, 2130706433, 0x7f.1,
 * 0177.0.0.1) and is refused rather than guessed at.
 */
static int
host_parse_name(const char *s, size_t len, struct sbxd_host *h,
    const char **why)
{
	size_t	 i, label = 0, last = 0;

	if (s[len - 1] == '.')
		len--;			/* one trailing dot is ignored */
	if (len == 0 || len > HOST_NAME_MAX_LEN) {
		*why = len == 0 ? "empty host" : "host name over 253 octets";
		return (-1);
	}
	for (i = 0; i <= len; i++) {
		if (i == len || s[i] == '.') {
			if (label == 0) {
				*why = "empty label in host";
				return (-1);
			}
			if (s[i - 1] == '-' || s[i - label] == '-') {
				*why = "label starts or ends with '-'";
				return (-1);
			}
			last = i - label;
			label = 0;
			if (i < len)
				h->h_name[i] = '.';
			continue;
		}
		if (!isalnum((unsigned char)s[i]) && s[i] != '-') {
			*why = "host label not letters, digits and '-'";
			return (-1);
		}
		if (++label > HOST_LABEL_MAX) {
			*why = "host label over 63 octets";
			return (-1);
		}
		h->h_name[i] = tolower((unsigned char)s[i]);
	}
	if (host_label_numeric(s + last, len - last)) {
		*why = "numeric host that is not a dotted-quad address";
		return (-1);
	}
	h->h_name[len] = '\0';
	h->h_family = 0;
	return (0);
}

/* All digits, or 0x followed by hex digits. */
static int
host_label_numeric(const char *s, size_t len)
{
	size_t	 i = 0;

	if (len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		for (i = 2; i < len; i++)
			if (!isxdigit((unsigned char)s[i]))
				return (0);
		return (1);
	}
	for (; i < len; i++)
		if (!isdigit((unsigned char)s[i]))
			return (0);
	return (1);
}

/* h as it appears in a URL authority: brackets around IPv6. */
const char *
policy_host_str(const struct sbxd_host *h, char *buf, size_t len)
{
	snprintf(buf, len, h->h_family == AF_INET6 ? "[%s]" : "%s",
	    h->h_name);
	return (buf);
}
