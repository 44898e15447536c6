/*
 * fuzz_proxy_git_pkt.c: libFuzzer harness for proxy_git_pkt.c.  The
 * first byte picks the target and the second a few flags; the rest is
 * the input.
 * - push (two in four): a receive-pack body fed at once, byte by byte,
 *   in steps and in pseudo-random pieces must give the same answer; a
 *   DONE takes no more than it was given, the command section ends with
 *   a flush-pkt, stays under PROXY_GIT_SECTION_MAX, and every command it
 *   kept is a create or update of a valid refname some glob takes.
 * - route: a routed target names a valid owner/repo, and the target
 *   rebuilt from the result routes to the same thing.
 * - policy: glob and refname checks agree with each other, and the
 *   advertisement check takes no more than it was given.
 */

#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy_git_pkt.h"

#define FUZZ_CHECK(c) do {						\
	if (!(c)) {							\
		fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #c);	\
		abort();						\
	}								\
} while (0)

/* What feeding one body found. */
struct fuzz_run {
	int		 fr_result;
	const char	*fr_reason;
	int		 fr_status;
	size_t		 fr_section;
	size_t		 fr_ncmds;
	size_t		 fr_noptions;
	int		 fr_caps;
};

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void	fuzz_push(const char *, size_t, int);
static void	fuzz_push_run(const char *, size_t, int, uint32_t,
		    const struct proxy_git_policy *, struct fuzz_run *);
static void	fuzz_push_kept(const char *, size_t,
		    const struct proxy_git_push *,
		    const struct proxy_git_policy *);
static size_t	fuzz_piece(int, uint32_t *, size_t);
static void	fuzz_route(const char *, size_t, int);
static void	fuzz_policy(const char *, size_t, int);

static const char *const fuzz_globs[] = {
	"refs/heads/sbx/box/*",
	"refs/heads/exact",
	"refs/tags/*",		/* invalid: must match nothing */
	"refs/heads/a*"		/* invalid too */
};
static const struct proxy_git_policy fuzz_policies[] = {
	{ fuzz_globs, 4, 0 },
	{ fuzz_globs, 4, PROXY_GIT_P_PUSH_OPTIONS },
	{ NULL, 0, 0 },
	{ fuzz_globs, 1, PROXY_GIT_P_PUSH_OPTIONS }
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return (0);
	switch (data[0] % 4) {
	case 0:
	case 1:
		fuzz_push((const char *)data + 2, size - 2, data[1]);
		break;
	case 2:
		fuzz_route((const char *)data + 2, size - 2, data[1]);
		break;
	default:
		fuzz_policy((const char *)data + 2, size - 2, data[1]);
		break;
	}
	return (0);
}

/* The size of the next piece: ways 0 to 2 fixed steps, 3 a PRNG. */
static size_t
fuzz_piece(int way, uint32_t *seed, size_t left)
{
	size_t	 n;

	switch (way) {
	case 0:
		n = left;
		break;
	case 1:
		n = 1;
		break;
	case 2:
		n = 7;
		break;
	default:
		*seed ^= *seed << 13;
		*seed ^= *seed >> 17;
		*seed ^= *seed << 5;
		n = 1 + *seed % 97;
		break;
	}
	return (n < left ? n : left);
}

static void
fuzz_push(const char *buf, size_t len, int flags)
{
	const struct proxy_git_policy	*gp = &fuzz_policies[flags & 3];
	struct fuzz_run			 r0, r;
	int				 way;

	fuzz_push_run(buf, len, 0, 1, gp, &r0);
	for (way = 1; way < 4; way++) {
		fuzz_push_run(buf, len, way, (uint32_t)flags * 2654435761U | 1,
		    gp, &r);
		FUZZ_CHECK(r.fr_result == r0.fr_result);
		if (r0.fr_result == PROXY_GIT_ERROR) {
			FUZZ_CHECK(strcmp(r.fr_reason, r0.fr_reason) == 0);
			FUZZ_CHECK(r.fr_status == r0.fr_status);
		} else {
			FUZZ_CHECK(r.fr_section == r0.fr_section);
			FUZZ_CHECK(r.fr_ncmds == r0.fr_ncmds);
			FUZZ_CHECK(r.fr_noptions == r0.fr_noptions);
			FUZZ_CHECK(r.fr_caps == r0.fr_caps);
		}
	}
}

/*
 * Feed buf in pieces of the given way: commands, then the pack header,
 * then the end; check what each call may say.
 */
static void
fuzz_push_run(const char *buf, size_t len, int way, uint32_t seed,
    const struct proxy_git_policy *gp, struct fuzz_run *fr)
{
	struct proxy_git_push	 pu;
	struct proxy_git_error	 err;
	size_t			 off = 0, n, used;
	int			 r = PROXY_GIT_MORE, pack = 0;

	memset(fr, 0, sizeof(*fr));
	proxy_git_push_init(&pu, gp);
	while (off < len && r != PROXY_GIT_ERROR) {
		n = fuzz_piece(way, &seed, len - off);
		if (!pack) {
			r = proxy_git_push_feed(&pu, buf + off, n, &used,
			    &err);
			FUZZ_CHECK(used <= n);
			FUZZ_CHECK(r != PROXY_GIT_MORE || used == n);
			if (r != PROXY_GIT_ERROR)
				fr->fr_section += used;
			if (r == PROXY_GIT_DONE) {
				pack = 1;
				fuzz_push_kept(buf, len, &pu, gp);
				FUZZ_CHECK(fr->fr_section == pu.pu_section);
				r = proxy_git_push_pack(&pu, buf + off + used,
				    n - used, &err);
			}
		} else
			r = proxy_git_push_pack(&pu, buf + off, n, &err);
		off += n;
	}
	if (r != PROXY_GIT_ERROR)
		r = proxy_git_push_end(&pu, &err);
	FUZZ_CHECK(r == PROXY_GIT_DONE || r == PROXY_GIT_ERROR);
	fr->fr_result = r;
	if (r == PROXY_GIT_ERROR) {
		FUZZ_CHECK(err.reason != NULL && err.detail != NULL);
		FUZZ_CHECK(err.status >= 400 && err.status <= 500);
		fr->fr_reason = err.reason;
		fr->fr_status = err.status;
		FUZZ_CHECK(proxy_git_push_end(&pu, &err) == PROXY_GIT_ERROR &&
		    strcmp(err.reason, fr->fr_reason) == 0);
	} else
		FUZZ_CHECK(pu.pu_packlen == PROXY_GIT_PACK_HDR);
	fr->fr_ncmds = pu.pu_ncmds;
	fr->fr_noptions = pu.pu_noptions;
	fr->fr_caps = pu.pu_caps;
	proxy_git_push_free(&pu);
}

/* At DONE: the section and every command kept are what may go on. */
static void
fuzz_push_kept(const char *buf, size_t len, const struct proxy_git_push *pu,
    const struct proxy_git_policy *gp)
{
	const struct proxy_git_cmd	*gc;
	const char			*why;
	size_t				 i, k;
	int				 ok;

	FUZZ_CHECK(pu->pu_section >= 4 && pu->pu_section <= len);
	FUZZ_CHECK(pu->pu_section <= PROXY_GIT_SECTION_MAX);
	FUZZ_CHECK(memcmp(buf + pu->pu_section - 4, "0000", 4) == 0);
	FUZZ_CHECK(pu->pu_ncmds >= 1 && pu->pu_ncmds <= PROXY_GIT_COMMANDS_MAX);
	FUZZ_CHECK(pu->pu_oidlen == 40 || pu->pu_oidlen == 64);
	FUZZ_CHECK(pu->pu_noptions <= PROXY_GIT_OPTIONS_MAX);
	FUZZ_CHECK(pu->pu_noptions == 0 ||
	    (gp->gp_flags & PROXY_GIT_P_PUSH_OPTIONS));
	for (i = 0; i < pu->pu_ncmds; i++) {
		gc = &pu->pu_cmds[i];
		FUZZ_CHECK(strlen(gc->gc_ref) == gc->gc_reflen);
		FUZZ_CHECK(proxy_git_refname_check(gc->gc_ref, gc->gc_reflen,
		    &why) == 0);
		FUZZ_CHECK(strncmp(gc->gc_ref, "refs/tags/", 10) != 0);
		FUZZ_CHECK(strlen(gc->gc_new) == pu->pu_oidlen);
		FUZZ_CHECK(strspn(gc->gc_new, "0") != pu->pu_oidlen);
		FUZZ_CHECK(gc->gc_create == (strspn(gc->gc_old, "0") ==
		    pu->pu_oidlen));
		for (k = 0, ok = 0; k < gp->gp_nglobs; k++)
			ok |= proxy_git_glob_match(gp->gp_globs[k], gc->gc_ref);
		FUZZ_CHECK(ok);
		for (k = 0; k < i; k++)
			FUZZ_CHECK(strcmp(pu->pu_cmds[k].gc_ref,
			    gc->gc_ref) != 0);
	}
}

static void
fuzz_route(const char *buf, size_t len, int flags)
{
	struct proxy_git_route	 rt, rt2;
	struct proxy_git_error	 err;
	const char		*method = (flags & 1) ? "POST" : "GET", *why;
	char			 t[512];
	int			 n;

	if (proxy_git_route_parse(method, buf, len, &rt, &err) == -1) {
		FUZZ_CHECK(err.status >= 400 && err.status <= 405);
		FUZZ_CHECK(err.reason != NULL && err.detail != NULL);
		return;
	}
	FUZZ_CHECK(memchr(buf, '%', len) == NULL);
	FUZZ_CHECK(proxy_git_repo_check(rt.gr_name, &why) == 0);
	FUZZ_CHECK(rt.gr_service == PROXY_GIT_UPLOAD_PACK ||
	    rt.gr_service == PROXY_GIT_RECEIVE_PACK);
	FUZZ_CHECK(rt.gr_advert == !(flags & 1));
	n = snprintf(t, sizeof(t), "/%s.git/", rt.gr_name);
	FUZZ_CHECK(strncmp(rt.gr_upstream, t, n) == 0);
	/* Route the target rebuilt from the upstream path: the same. */
	n = snprintf(t, sizeof(t), "/git%s", rt.gr_upstream);
	FUZZ_CHECK(proxy_git_route_parse(method, t, n, &rt2, &err) == 0);
	FUZZ_CHECK(memcmp(&rt, &rt2, sizeof(rt)) == 0);
	FUZZ_CHECK(proxy_git_repo_match(rt.gr_name,
	    (const char *const []){ rt2.gr_name }, 1));
}

static void
fuzz_policy(const char *buf, size_t len, int flags)
{
	struct proxy_git_error	 err;
	const char		*nul, *why;
	char			 glob[256], ref[PROXY_GIT_REFNAME_MAX + 2];
	size_t			 gl, rl, used;
	int			 r;

	r = proxy_git_advert_check(1 + (flags & 1), buf, len, &used, &err);
	FUZZ_CHECK(r != PROXY_GIT_DONE || (used > 0 && used <= len));
	if (r == PROXY_GIT_DONE)
		FUZZ_CHECK(proxy_git_advert_check(1 + (flags & 1), buf, used,
		    &used, &err) == PROXY_GIT_DONE);
	if ((nul = memchr(buf, '\0', len)) == NULL)
		return;
	gl = nul - buf;
	rl = len - gl - 1;
	if (gl >= sizeof(glob) || rl >= sizeof(ref))
		return;
	memcpy(glob, buf, gl);
	glob[gl] = '\0';
	memcpy(ref, nul + 1, rl);
	ref[rl] = '\0';
	if (proxy_git_glob_match(glob, ref)) {
		FUZZ_CHECK(proxy_git_glob_check(glob, &why) == 0);
		FUZZ_CHECK(strncmp(ref, "refs/tags/", 10) != 0);
		if (gl > 0 && glob[gl - 1] == '*')
			FUZZ_CHECK(strlen(ref) >= gl &&
			    strncmp(ref, glob, gl - 1) == 0);
		else
			FUZZ_CHECK(strcmp(ref, glob) == 0);
	}
	if (proxy_git_refname_check(ref, rl, &why) == 0) {
		FUZZ_CHECK(strncmp(ref, "refs/", 5) == 0);
		FUZZ_CHECK(strstr(ref, "..") == NULL);
		FUZZ_CHECK(strstr(ref, "//") == NULL);
		FUZZ_CHECK(strstr(ref, "@{") == NULL);
		FUZZ_CHECK(strpbrk(ref, " ~^:?*[\\") == NULL);
		FUZZ_CHECK(ref[rl - 1] != '/' && ref[rl - 1] != '.');
	}
}
