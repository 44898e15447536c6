/*
 * sbxctl_usage.c: sbxctl usage, what the credential gateway relayed:
 * requests, tokens and cost per sandbox, provider and model, a total,
 * and the daily budgets.  --since takes an RFC 3339 time, "today" or a
 * duration ago, and sends it in the form the store keeps times in
 * (UTC, milliseconds), so that sbxd compares them as text.
 */

#include <sys/types.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "sbxctl.h"

#define SBXCTL_TIME_LEN		32	/* 2026-12-05T10:00:00.000Z */

/* The columns of the table that are counts, as the reply names them. */
static const struct sbxctl_usage_col {
	const char	*suc_head;
	const char	*suc_key;
	int		 suc_width;
} sbxctl_usage_cols[] = {
	{ "REQUESTS",	"requests",	8 },
	{ "INPUT",	"input",	11 },
	{ "CACHED",	"cached",	11 },
	{ "OUTPUT",	"output",	11 },
	{ "COST",	"cost",		10 },
	{ "ERRORS",	"errors",	6 },
	{ "CUT",	"truncated",	5 },
	{ "NOUSAGE",	"usage_missing", 7 },
};

static int	 sbxctl_usage_time(const char *, time_t *, long *);
static int	 sbxctl_usage_since(const char *, char *, size_t);
static int	 sbxctl_usage_width(json_t *, const char *, const char *,
		    int);
static void	 sbxctl_usage_row(json_t *, int, int, int);

/*
 * usage [name] [--since when]: when an RFC 3339 time, "today" (local
 * midnight) or a duration ago such as 90m or 7d.
 */
json_t *
sbxctl_build_usage(const struct sbxctl_cmd *cmd, int argc, char **argv)
{
	const char	*name = NULL, *when = NULL;
	char		 since[SBXCTL_TIME_LEN];
	json_t		*req;
	int		 i;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--since") == 0 && i + 1 < argc &&
		    when == NULL)
			when = argv[++i];
		else if (argv[i][0] != '-' && name == NULL)
			name = argv[i];
		else
			sbxctl_cmd_usage(cmd);
	}
	req = json_pack("{s:s}", "command", cmd->name);
	if (name != NULL)
		json_object_set_new(req, "name", json_string(name));
	if (when == NULL)
		return (req);
	if (sbxctl_usage_since(when, since, sizeof(since)) == -1) {
		fprintf(stderr, "sbxctl: --since %s: a time is needed: "
		    "RFC 3339 such as 2026-12-05T10:00:00Z, \"today\", or a "
		    "duration ago such as 90m or 7d\n", when);
		exit(1);
	}
	json_object_set_new(req, "since", json_string(since));
	return (req);
}

/*
 * An RFC 3339 time: date, 'T', hours and minutes, seconds and their
 * fraction if given, then Z or an offset +hh:mm.  The seconds since the
 * epoch and the milliseconds; 0, or -1 if s is no such time.
 */
static int
sbxctl_usage_time(const char *s, time_t *t, long *ms)
{
	static const char	 pat[] = "dddd-dd-ddTdd:dd";
	struct tm		 tm, chk;
	const char		*p;
	long			 scale = 100;
	int			 i, oh, om, off = 0;

	for (i = 0; pat[i] != '\0'; i++)
		if (pat[i] == 'd' ? !isdigit((unsigned char)s[i]) :
		    toupper((unsigned char)s[i]) != pat[i])
			return (-1);
	memset(&tm, 0, sizeof(tm));
	sscanf(s, "%4d-%2d-%2d%*c%2d:%2d", &tm.tm_year, &tm.tm_mon,
	    &tm.tm_mday, &tm.tm_hour, &tm.tm_min);
	p = s + 16;
	if (p[0] == ':' && isdigit((unsigned char)p[1]) &&
	    isdigit((unsigned char)p[2])) {
		tm.tm_sec = (p[1] - '0') * 10 + p[2] - '0';
		p += 3;
	}
	*ms = 0;
	if (*p == '.' && isdigit((unsigned char)p[1]))
		for (p++; isdigit((unsigned char)*p); p++, scale /= 10)
			*ms += (*p - '0') * scale;	/* past ms: cut */
	if (toupper((unsigned char)*p) == 'Z')
		p++;
	else if ((*p == '+' || *p == '-') && strlen(p) == 6 &&
	    isdigit((unsigned char)p[1]) && isdigit((unsigned char)p[2]) &&
	    p[3] == ':' && isdigit((unsigned char)p[4]) &&
	    isdigit((unsigned char)p[5])) {
		oh = (p[1] - '0') * 10 + p[2] - '0';
		om = (p[4] - '0') * 10 + p[5] - '0';
		if (oh > 23 || om > 59)
			return (-1);
		off = (*p == '-' ? -1 : 1) * (oh * 3600 + om * 60);
		p += 6;
	} else
		return (-1);
	if (*p != '\0' || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_hour > 23 ||
	    tm.tm_min > 59 || tm.tm_sec > 59)
		return (-1);
	tm.tm_year -= 1900;
	tm.tm_mon--;
	chk = tm;
	if ((*t = timegm(&tm)) == -1 || gmtime_r(t, &tm) == NULL ||
	    tm.tm_mday != chk.tm_mday || tm.tm_mon != chk.tm_mon)
		return (-1);	/* such as February 30 */
	*t -= off;
	return (0);
}

/* when, as --since takes it, in the store's form into buf; 0 or -1. */
static int
sbxctl_usage_since(const char *when, char *buf, size_t len)
{
	struct tm	 tm;
	time_t		 t;
	long		 ms = 0;
	long long	 secs;
	size_t		 n = strlen(when);
	int		 r;

	if (strcmp(when, "today") == 0) {
		t = time(NULL);
		if (localtime_r(&t, &tm) == NULL)
			return (-1);
		tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
		tm.tm_isdst = -1;
		if ((t = mktime(&tm)) == -1)
			return (-1);
	} else if (n >= 2 && strspn(when, "0123456789") == n - 1 &&
	    strchr("smhd", when[n - 1]) != NULL) {
		if ((secs = sbxctl_duration(when)) == -1)
			return (-1);
		t = time(NULL) - (time_t)secs;
	} else if (sbxctl_usage_time(when, &t, &ms) == -1)
		return (-1);
	if (gmtime_r(&t, &tm) == NULL)
		return (-1);
	r = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, ms);
	return (r < 0 || (size_t)r >= len ? -1 : 0);
}

/* The width of a text column: its head, its total and its rows'. */
static int
sbxctl_usage_width(json_t *rows, const char *key, const char *head,
    int min)
{
	json_t	*o;
	size_t	 i;
	int	 w = (int)strlen(head);

	if (w < min)
		w = min;
	json_array_foreach(rows, i, o)
		if (json_is_string(json_object_get(o, key)) &&
		    (int)json_string_length(json_object_get(o, key)) > w)
			w = (int)json_string_length(json_object_get(o, key));
	return (w);
}

/*
 * One line of the table: the names, then the counts; "-" for none, but
 * nothing for the model of the total, which has none.
 */
static void
sbxctl_usage_row(json_t *o, int ws, int wp, int wm)
{
	const struct sbxctl_usage_col	*c;
	const char			*m;
	json_t				*v;
	size_t				 i;

	m = json_string_value(json_object_get(o, "model"));
	printf("%-*s %-*s %-*s", ws, json_string_value(json_object_get(o,
	    "sandbox")) != NULL ? json_string_value(json_object_get(o,
	    "sandbox")) : "-", wp, json_string_value(json_object_get(o,
	    "provider")) != NULL ? json_string_value(json_object_get(o,
	    "provider")) : "", wm, m == NULL ? "" : *m != '\0' ? m : "-");
	for (i = 0; i < nitems(sbxctl_usage_cols); i++) {
		c = &sbxctl_usage_cols[i];
		v = json_object_get(o, c->suc_key);
		if (strcmp(c->suc_key, "cost") == 0 && json_is_number(v))
			printf(" %*.4f", c->suc_width, json_number_value(v));
		else if (json_is_integer(v))
			printf(" %*" JSON_INTEGER_FORMAT, c->suc_width,
			    json_integer_value(v));
		else
			printf(" %*s", c->suc_width, "-");
	}
	putchar('\n');
}

/*
 * usage: a line per sandbox, provider and model, a total, then each
 * budget with what was charged against it today.
 */
void
sbxctl_print_usage(json_t *reply)
{
	const struct sbxctl_usage_col	*c;
	json_t				*rows, *o, *b, *total, *v, *sum;
	const char			*since;
	size_t				 i, j;
	int				 ws, wp, wm;

	rows = json_object_get(reply, "usage");
	since = json_string_value(json_object_get(reply, "since"));
	if (json_array_size(rows) == 0)
		printf("no usage%s%s\n", since != NULL ? " since " : "",
		    since != NULL ? since : "");
	else {
		if (since != NULL)
			printf("since %s\n", since);
		ws = sbxctl_usage_width(rows, "sandbox", "SANDBOX", 5);
		wp = sbxctl_usage_width(rows, "provider", "PROVIDER", 0);
		wm = sbxctl_usage_width(rows, "model", "MODEL", 0);
		printf("%-*s %-*s %-*s", ws, "SANDBOX", wp, "PROVIDER", wm,
		    "MODEL");
		for (i = 0; i < nitems(sbxctl_usage_cols); i++)
			printf(" %*s", sbxctl_usage_cols[i].suc_width,
			    sbxctl_usage_cols[i].suc_head);
		putchar('\n');
		total = json_pack("{s:s, s:s}", "sandbox", "total",
		    "provider", "");
		json_array_foreach(rows, i, o) {
			sbxctl_usage_row(o, ws, wp, wm);
			for (j = 0; j < nitems(sbxctl_usage_cols); j++) {
				c = &sbxctl_usage_cols[j];
				v = json_object_get(o, c->suc_key);
				if (!json_is_number(v))
					continue;	/* no cost */
				sum = json_object_get(total, c->suc_key);
				json_object_set_new(total, c->suc_key,
				    strcmp(c->suc_key, "cost") == 0 ?
				    json_real(json_number_value(sum) +
				    json_number_value(v)) : json_integer(
				    json_integer_value(sum) +
				    json_integer_value(v)));
			}
		}
		if (total != NULL) {
			/* A count no row had is 0; a cost none had, "-". */
			for (j = 0; j < nitems(sbxctl_usage_cols); j++)
				if (json_object_get(total,
				    sbxctl_usage_cols[j].suc_key) == NULL &&
				    strcmp(sbxctl_usage_cols[j].suc_key,
				    "cost") != 0)
					json_object_set_new(total,
					    sbxctl_usage_cols[j].suc_key,
					    json_integer(0));
			sbxctl_usage_row(total, ws, wp, wm);
			json_decref(total);
		}
	}
	json_array_foreach(json_object_get(reply, "budgets"), i, b)
		printf("budget %s %s: %" JSON_INTEGER_FORMAT " of %"
		    JSON_INTEGER_FORMAT " tokens today\n",
		    json_string_value(json_object_get(b, "sandbox")) != NULL ?
		    json_string_value(json_object_get(b, "sandbox")) : "-",
		    json_string_value(json_object_get(b, "provider")) != NULL ?
		    json_string_value(json_object_get(b, "provider")) : "-",
		    json_integer_value(json_object_get(b, "charged")),
		    json_integer_value(json_object_get(b, "budget")));
}
