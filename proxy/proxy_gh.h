/*
 * proxy_gh.h: pull requests through the credential gateway
 * (proxy/proxy_gh.c).  The sandbox's gh shim asks /gh/pr/list, view or
 * create; the request is parsed strictly, held to the sandbox's
 * repositories and push globs, and GitHub's REST API is called with
 * libcurl and the token; the answer is what gh prints.  Shared only
 * inside proxy/.
 */

#ifndef SBXD_PROXY_GH_H
#define SBXD_PROXY_GH_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "proxy_git_pkt.h"

#define PROXY_GH_FORM_MAX	(1024 * 1024)	/* a create's form: a body
					   of GitHub's 65536 characters,
					   escaped, fits */
#define PROXY_GH_TITLE_MAX	1024	/* bytes; GitHub takes 256
					   characters */
#define PROXY_GH_TEXT_MAX	(256 * 1024) /* bytes of a body: 65536
					   characters of 4 bytes */
#define PROXY_GH_LIMIT_MAX	100	/* GitHub's largest page */
#define PROXY_GH_LIMIT_DEFAULT	30	/* gh pr list's */

enum proxy_gh_op {
	PROXY_GH_LIST = 1,
	PROXY_GH_VIEW,
	PROXY_GH_CREATE,
	PROXY_GH_MINT		/* sbxd's own: a GitHub App's token */
};

enum proxy_gh_state {
	PROXY_GH_OPEN = 1,
	PROXY_GH_CLOSED,
	PROXY_GH_MERGED,
	PROXY_GH_ALL
};

/* --json fields, gq_json: gh's names. */
#define PROXY_GH_J_NUMBER	0x0001
#define PROXY_GH_J_TITLE	0x0002
#define PROXY_GH_J_BODY		0x0004
#define PROXY_GH_J_STATE	0x0008
#define PROXY_GH_J_URL		0x0010
#define PROXY_GH_J_HEAD		0x0020	/* headRefName */
#define PROXY_GH_J_BASE		0x0040	/* baseRefName */
#define PROXY_GH_J_DRAFT	0x0080	/* isDraft */
#define PROXY_GH_J_AUTHOR	0x0100
#define PROXY_GH_J_CREATED	0x0200	/* createdAt */
#define PROXY_GH_J_UPDATED	0x0400	/* updatedAt */

/* One request of the shim, parsed. */
struct proxy_gh_req {
	int		 gq_op;		/* enum proxy_gh_op */
	char		 gq_repo[PROXY_GIT_NAME_LEN];	/* owner/name */
	char		 gq_owner[PROXY_GIT_OWNER_MAX + 1];
	int		 gq_state;	/* list: enum proxy_gh_state */
	char		*gq_head;	/* a branch, or NULL */
	char		*gq_base;
	long		 gq_number;	/* view: 0 is by head */
	int		 gq_limit;
	char		*gq_title;	/* create */
	char		*gq_body;
	int		 gq_draft;
	unsigned int	 gq_json;	/* PROXY_GH_J_*; 0: text */
};

/* Why a request was refused: proxy_git_error's shape. */
typedef struct proxy_git_error proxy_gh_error;

/* The end of a call: the answer for the shim. */
typedef void	(*proxy_gh_cb)(void *, int, const char *, const char *,
		    const char *, size_t);

/* The token a call is to send, when it needs it; NULL: none now. */
typedef const char *(*proxy_gh_tokfn)(void *, size_t *);

struct proxy_gh_call;

/* proxy/proxy_gh_form.c */
int		 proxy_gh_parse(const char *, const char *, size_t,
		    const char *, size_t, const char *,
		    struct proxy_gh_req *, proxy_gh_error *);
void		 proxy_gh_req_free(struct proxy_gh_req *);
int		 proxy_gh_check(const struct proxy_gh_req *,
		    const char *const *, size_t, const char *const *, size_t,
		    proxy_gh_error *);
int		 proxy_gh_format(const struct proxy_gh_req *, json_t *,
		    char **, size_t *, proxy_gh_error *);
int		 proxy_gh_upstream_error(int, const char *, size_t, char *,
		    size_t);
int		 proxy_gh_branch(const char *, char **, proxy_gh_error *);

/* proxy/proxy_gh.c: the calls */
int		 proxy_gh_init(void);
void		 proxy_gh_shutdown(void);
struct proxy_gh_call *proxy_gh_new(struct proxy_gh_req *, proxy_gh_tokfn,
		    proxy_gh_cb, void *);
struct proxy_gh_call *proxy_gh_mint(char *, int64_t, char *, proxy_gh_cb,
		    void *);
char		*proxy_gh_jwt(int64_t, const char *, size_t, time_t);
void		 proxy_gh_start(struct proxy_gh_call *);
void		 proxy_gh_cancel(struct proxy_gh_call *);
int		 proxy_gh_number(const struct proxy_gh_call *);
const struct proxy_gh_req *proxy_gh_req_of(const struct proxy_gh_call *);

#endif /* SBXD_PROXY_GH_H */
