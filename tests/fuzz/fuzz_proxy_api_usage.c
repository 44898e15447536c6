/*
 * fuzz_proxy_api_usage.c: libFuzzer harness for proxy_api_usage.c.  The
 * first byte picks the API kind, SSE or JSON framing, a clean or cut
 * end and whether the bounds are lowered so that they are reached; the
 * second the size of the pieces; the rest is the response.  It is read
 * at once, in pieces and byte by byte, and must give the same result
 * each time, with counts that are never negative and parts never above
 * their whole.  The filter must give the same bytes each way, and they
 * must be the input less the one region it says it removed, which must
 * be a whole event and the usage chunk; the framer's events must not
 * depend on the pieces either.  The same bytes, taken as a request
 * body, go through the include_usage rewrite, whose output must read
 * back as asking for usage and say what the input said.
 */

#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "proxy_api_usage.h"

#define FUZZ_CHECK(c) do {						\
	if (!(c)) {							\
		fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #c);	\
		abort();						\
	}								\
} while (0)

#define FUZZ_KINDS	5

/* Growing output. */
struct fuzz_out {
	char	*fo_buf;
	size_t	 fo_len;
	size_t	 fo_size;
	size_t	 fo_events;
	int	 fo_usage;	/* the last event was a usage chunk */
};

/* How one input is run. */
struct fuzz_run {
	enum proxy_api_usage_kind	 fr_kind;
	int				 fr_sse;
	int				 fr_clean;
	int				 fr_small;	/* lowered bounds */
	size_t				 fr_bound;
};

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void	fuzz_add(struct fuzz_out *, const char *, size_t);
static void	fuzz_outcb(const char *, size_t, void *);
static void	fuzz_eventcb(const char *, const char *, size_t, void *);
static void	fuzz_usage(const struct fuzz_run *, const char *, size_t);
static void	fuzz_usage_run(const struct fuzz_run *, const char *, size_t,
		    size_t, struct proxy_api_usage_result *);
static void	fuzz_result(const struct proxy_api_usage_result *);
static int	fuzz_same(const struct proxy_api_usage_result *,
		    const struct proxy_api_usage_result *);
static void	fuzz_filter(const struct fuzz_run *, const char *, size_t,
		    size_t);
static void	fuzz_filter_run(const struct fuzz_run *, const char *,
		    size_t, size_t, struct fuzz_out *,
		    struct proxy_sse_filter *);
static void	fuzz_region(const char *, size_t);
static void	fuzz_sse(const struct fuzz_run *, const char *, size_t,
		    size_t);
static void	fuzz_sse_run(const struct fuzz_run *, int, const char *,
		    size_t, size_t, struct fuzz_out *);
static void	fuzz_request(const struct fuzz_run *, const char *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_run	 fr;
	const char	*buf = (const char *)data + 2;
	size_t		 len, step;

	if (size < 2)
		return (0);
	fr.fr_kind = data[0] % FUZZ_KINDS;
	fr.fr_sse = !((data[0] / FUZZ_KINDS) & 1);
	fr.fr_clean = !((data[0] / FUZZ_KINDS) & 2);
	fr.fr_small = (data[0] / FUZZ_KINDS) & 4;
	fr.fr_bound = 16 + data[1];
	step = 1 + data[1] % 61;
	len = size - 2;
	fuzz_usage(&fr, buf, len);
	fuzz_filter(&fr, buf, len, step);
	fuzz_sse(&fr, buf, len, step);
	fuzz_request(&fr, buf, len);
	return (0);
}

static void
fuzz_add(struct fuzz_out *fo, const char *buf, size_t len)
{
	char	*p;

	if (fo->fo_len + len + 1 > fo->fo_size) {
		fo->fo_size = (fo->fo_len + len + 1) * 2;
		FUZZ_CHECK((p = realloc(fo->fo_buf, fo->fo_size)) != NULL);
		fo->fo_buf = p;
	}
	if (len > 0)
		memcpy(fo->fo_buf + fo->fo_len, buf, len);
	fo->fo_len += len;
	fo->fo_buf[fo->fo_len] = '\0';
}

static void
fuzz_outcb(const char *buf, size_t len, void *arg)
{
	FUZZ_CHECK(len > 0);
	fuzz_add(arg, buf, len);
}

/* Each event as type, NUL, data, NUL; and is it the usage chunk? */
static void
fuzz_eventcb(const char *type, const char *data, size_t len, void *arg)
{
	struct fuzz_out	*fo = arg;
	json_t		*o;

	FUZZ_CHECK(strlen(type) < PROXY_SSE_TYPE_MAX);
	FUZZ_CHECK(data[len] == '\0');
	fuzz_add(fo, type, strlen(type) + 1);
	fuzz_add(fo, data, len);
	fuzz_add(fo, "", 1);
	fo->fo_events++;
	fo->fo_usage = 0;
	if ((o = json_loadb(data, len, 0, NULL)) != NULL) {
		fo->fo_usage = json_is_array(json_object_get(o, "choices")) &&
		    json_array_size(json_object_get(o, "choices")) == 0 &&
		    json_is_object(json_object_get(o, "usage"));
		json_decref(o);
	}
}

/* At once, in pieces of 1 and 7: one result. */
static void
fuzz_usage(const struct fuzz_run *fr, const char *buf, size_t len)
{
	struct proxy_api_usage_result	 r, r2;

	fuzz_usage_run(fr, buf, len, 0, &r);
	fuzz_result(&r);
	fuzz_usage_run(fr, buf, len, 1, &r2);
	FUZZ_CHECK(fuzz_same(&r, &r2));
	fuzz_usage_run(fr, buf, len, 7, &r2);
	FUZZ_CHECK(fuzz_same(&r, &r2));
}

static void
fuzz_usage_run(const struct fuzz_run *fr, const char *buf, size_t len,
    size_t step, struct proxy_api_usage_result *r)
{
	struct proxy_api_usage	 u;
	size_t			 off, n;
	int			 stopped = 0;

	proxy_api_usage_init(&u, fr->fr_kind, 1, fr->fr_sse ?
	    "text/event-stream" : "application/json");
	if (fr->fr_small) {
		u.pu_ss.ss_line_max = fr->fr_bound;
		u.pu_ss.ss_data.sd_max = fr->fr_bound;
		u.pu_json.sd_max = fr->fr_bound;
	}
	if (step == 0)
		step = len > 0 ? len : 1;
	for (off = 0; off < len; off += n) {
		n = len - off < step ? len - off : step;
		if (proxy_api_usage_feed(&u, buf + off, n) == -1)
			stopped = 1;
		else
			FUZZ_CHECK(!stopped);	/* once stopped, stays */
	}
	FUZZ_CHECK(stopped == (u.pu_result.ur_oversized ||
	    u.pu_result.ur_nomem));
	proxy_api_usage_end(&u, fr->fr_clean);
	proxy_api_usage_end(&u, fr->fr_clean);	/* twice is harmless */
	FUZZ_CHECK(proxy_api_usage_feed(&u, "x", 1) == (stopped ? -1 : 0));
	*r = *proxy_api_usage_result(&u);
	proxy_api_usage_clear(&u);
	proxy_api_usage_clear(&u);
}

/* What any result must be. */
static void
fuzz_result(const struct proxy_api_usage_result *r)
{
	size_t	 i, n;

	FUZZ_CHECK(r->ur_input >= 0 && r->ur_output >= 0);
	FUZZ_CHECK(r->ur_cached_input >= 0 && r->ur_cache_creation >= 0 &&
	    r->ur_reasoning >= 0);
	FUZZ_CHECK(r->ur_cached_input + r->ur_cache_creation <= r->ur_input);
	FUZZ_CHECK(r->ur_reasoning <= r->ur_output);
	FUZZ_CHECK(r->ur_input <= 3 * PROXY_API_USAGE_COUNT_MAX);
	FUZZ_CHECK(r->ur_output <= 2 * PROXY_API_USAGE_COUNT_MAX);
	FUZZ_CHECK(!r->ur_cost_seen || r->ur_cost >= 0);
	FUZZ_CHECK(r->ur_cost_seen || r->ur_cost == 0);
	FUZZ_CHECK(r->ur_usage_seen || (r->ur_input == 0 &&
	    r->ur_output == 0 && !r->ur_cost_seen));
	n = strnlen(r->ur_model, sizeof(r->ur_model));
	FUZZ_CHECK(n < sizeof(r->ur_model));
	for (i = 0; i < n; i++)
		FUZZ_CHECK(r->ur_model[i] > ' ' && r->ur_model[i] < 0x7f);
	FUZZ_CHECK((r->ur_usage_seen | r->ur_complete | r->ur_error_seen |
	    r->ur_oversized | r->ur_nomem | r->ur_cost_seen) <= 1);
	FUZZ_CHECK(!(r->ur_oversized && r->ur_nomem));
}

static int
fuzz_same(const struct proxy_api_usage_result *a,
    const struct proxy_api_usage_result *b)
{
	return (a->ur_input == b->ur_input &&
	    a->ur_cached_input == b->ur_cached_input &&
	    a->ur_cache_creation == b->ur_cache_creation &&
	    a->ur_output == b->ur_output &&
	    a->ur_reasoning == b->ur_reasoning &&
	    memcmp(&a->ur_cost, &b->ur_cost, sizeof(a->ur_cost)) == 0 &&
	    strcmp(a->ur_model, b->ur_model) == 0 &&
	    a->ur_events == b->ur_events &&
	    a->ur_usage_seen == b->ur_usage_seen &&
	    a->ur_complete == b->ur_complete &&
	    a->ur_error_seen == b->ur_error_seen &&
	    a->ur_oversized == b->ur_oversized &&
	    a->ur_nomem == b->ur_nomem &&
	    a->ur_cost_seen == b->ur_cost_seen);
}

/*
 * The filter, at once and in pieces: the same bytes, the input less
 * the one region it removed, if any, and that region one usage event.
 */
static void
fuzz_filter(const struct fuzz_run *fr, const char *buf, size_t len,
    size_t step)
{
	struct proxy_sse_filter	 sf, sf2;
	struct fuzz_out		 o, o2;
	uint64_t		 off, rl;

	memset(&o, 0, sizeof(o));
	memset(&o2, 0, sizeof(o2));
	fuzz_filter_run(fr, buf, len, 0, &o, &sf);
	fuzz_filter_run(fr, buf, len, step, &o2, &sf2);
	FUZZ_CHECK(o.fo_len == o2.fo_len);
	FUZZ_CHECK(o.fo_len == 0 || memcmp(o.fo_buf, o2.fo_buf,
	    o.fo_len) == 0);
	FUZZ_CHECK(sf.sf_removed == sf2.sf_removed &&
	    sf.sf_gaveup == sf2.sf_gaveup);
	FUZZ_CHECK(!(sf.sf_removed && sf.sf_gaveup));
	FUZZ_CHECK(o.fo_len <= len);
	if (!sf.sf_removed) {
		FUZZ_CHECK(o.fo_len == len);
		FUZZ_CHECK(len == 0 || memcmp(o.fo_buf, buf, len) == 0);
	} else {
		off = sf.sf_removed_off;
		rl = sf.sf_removed_len;
		FUZZ_CHECK(off == sf2.sf_removed_off &&
		    rl == sf2.sf_removed_len);
		FUZZ_CHECK(rl > 0 && off + rl <= len && o.fo_len == len - rl);
		FUZZ_CHECK(o.fo_len == 0 || (memcmp(o.fo_buf, buf, off) == 0 &&
		    memcmp(o.fo_buf + off, buf + off + rl, len - off - rl) ==
		    0));	/* all of it may be the one event */
		/* It starts a line and ends a blank line. */
		FUZZ_CHECK(off == 0 || buf[off - 1] == '\n' ||
		    buf[off - 1] == '\r');
		FUZZ_CHECK(buf[off + rl - 1] == '\n' ||
		    buf[off + rl - 1] == '\r');
		fuzz_region(buf + off, rl);
	}
	free(o.fo_buf);
	free(o2.fo_buf);
}

static void
fuzz_filter_run(const struct fuzz_run *fr, const char *buf, size_t len,
    size_t step, struct fuzz_out *o, struct proxy_sse_filter *sf)
{
	size_t	 off, n;

	proxy_sse_filter_init(sf);
	if (fr->fr_small) {
		sf->sf_hold_max = fr->fr_bound;
		sf->sf_ss.ss_line_max = fr->fr_bound * 2;
	}
	if (step == 0)
		step = len > 0 ? len : 1;
	for (off = 0; off < len; off += n) {
		n = len - off < step ? len - off : step;
		proxy_sse_filter_feed(sf, buf + off, n, fuzz_outcb, o);
	}
	proxy_sse_filter_end(sf, fuzz_outcb, o);
	proxy_sse_filter_clear(sf);
	proxy_sse_filter_clear(sf);
}

/* The removed region, framed alone, is one event: a usage chunk. */
static void
fuzz_region(const char *buf, size_t len)
{
	struct proxy_sse	 ss;
	struct fuzz_out		 o;

	memset(&o, 0, sizeof(o));
	proxy_sse_init(&ss, PROXY_SSE_JSON);
	FUZZ_CHECK(proxy_sse_feed(&ss, buf, len, fuzz_eventcb, &o) == 0);
	FUZZ_CHECK(o.fo_events == 1 && o.fo_usage);
	proxy_sse_end(&ss, 1, fuzz_eventcb, &o);
	FUZZ_CHECK(o.fo_events == 1);
	proxy_sse_clear(&ss);
	free(o.fo_buf);
}

/* The framer, raw and as JSON: the same events whatever the pieces. */
static void
fuzz_sse(const struct fuzz_run *fr, const char *buf, size_t len,
    size_t step)
{
	struct fuzz_out	 o, o2;
	int		 flags;

	for (flags = 0; flags <= PROXY_SSE_JSON; flags += PROXY_SSE_JSON) {
		memset(&o, 0, sizeof(o));
		memset(&o2, 0, sizeof(o2));
		fuzz_sse_run(fr, flags, buf, len, 0, &o);
		fuzz_sse_run(fr, flags, buf, len, step, &o2);
		FUZZ_CHECK(o.fo_events == o2.fo_events);
		FUZZ_CHECK(o.fo_len == o2.fo_len);
		FUZZ_CHECK(o.fo_len == 0 ||
		    memcmp(o.fo_buf, o2.fo_buf, o.fo_len) == 0);
		/* Raw data is never longer than the input. */
		FUZZ_CHECK(flags != 0 || o.fo_len <= len + 2 * o.fo_events +
		    PROXY_SSE_TYPE_MAX * o.fo_events);
		free(o.fo_buf);
		free(o2.fo_buf);
	}
}

static void
fuzz_sse_run(const struct fuzz_run *fr, int flags, const char *buf,
    size_t len, size_t step, struct fuzz_out *o)
{
	struct proxy_sse	 ss;
	size_t			 off, n;

	proxy_sse_init(&ss, flags);
	if (fr->fr_small) {
		ss.ss_line_max = fr->fr_bound;
		ss.ss_data.sd_max = fr->fr_bound;
	}
	if (step == 0)
		step = len > 0 ? len : 1;
	for (off = 0; off < len; off += n) {
		n = len - off < step ? len - off : step;
		proxy_sse_feed(&ss, buf + off, n, fuzz_eventcb, o);
	}
	proxy_sse_end(&ss, fr->fr_clean, fuzz_eventcb, o);
	proxy_sse_clear(&ss);
}

/* The bytes as a request body: read, and rewritten for usage. */
static void
fuzz_request(const struct fuzz_run *fr, const char *buf, size_t len)
{
	struct proxy_api_usage_req	 rq, rq2;
	char				*out, *out2;
	size_t				 outlen, len2;
	int				 r, r2, inj, inj2;

	r = proxy_api_usage_request(fr->fr_kind, buf, len, &rq);
	FUZZ_CHECK(rq.uq_max_output >= -1 && rq.uq_choices >= 1);
	FUZZ_CHECK(strlen(rq.uq_model) < sizeof(rq.uq_model));
	FUZZ_CHECK(!(rq.uq_model_bad && rq.uq_model[0] != '\0'));
	r2 = proxy_api_usage_inject(buf, len, &out, &outlen, &inj);
	FUZZ_CHECK(r == r2);
	if (r2 == -1 || !inj) {
		FUZZ_CHECK(out == NULL && !inj);
		return;
	}
	FUZZ_CHECK(rq.uq_stream && !rq.uq_include_usage);
	FUZZ_CHECK(out != NULL && outlen == strlen(out));
	FUZZ_CHECK(proxy_api_usage_request(fr->fr_kind, out, outlen,
	    &rq2) == 0);
	FUZZ_CHECK(rq2.uq_stream && rq2.uq_include_usage);
	FUZZ_CHECK(strcmp(rq.uq_model, rq2.uq_model) == 0 &&
	    rq.uq_model_bad == rq2.uq_model_bad);
	FUZZ_CHECK(rq.uq_max_output == rq2.uq_max_output &&
	    rq.uq_choices == rq2.uq_choices);
	/* Once asked, it is not asked again. */
	FUZZ_CHECK(proxy_api_usage_inject(out, outlen, &out2, &len2,
	    &inj2) == 0 && !inj2 && out2 == NULL);
	free(out);
}
