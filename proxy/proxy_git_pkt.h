/*
 * proxy_git_pkt.h: the pure parts of the git smart-HTTP relay in
 * proxy_git_pkt.c: request routing, repository and ref policy, the
 * incremental receive-pack command parser and the advertisement check.
 * Needs only libc.  Shared only inside proxy/.
 */

#ifndef SBXD_PROXY_GIT_PKT_H
#define SBXD_PROXY_GIT_PKT_H

#include <stddef.h>
#include <stdint.h>

#define PROXY_GIT_OWNER_MAX	39	/* GitHub's longest login */
#define PROXY_GIT_REPO_MAX	100	/* GitHub's longest repository name */
#define PROXY_GIT_NAME_LEN	(PROXY_GIT_OWNER_MAX + 1 + \
				    PROXY_GIT_REPO_MAX + 1) /* "owner/repo"
					   and a NUL */
#define PROXY_GIT_UPSTREAM_LEN	192	/* "/owner/repo.git/info/refs?
					   service=git-receive-pack" and a
					   NUL fit with room to spare */
#define PROXY_GIT_PKT_MAX	65520	/* largest pkt-line, length
					   included (gitprotocol-common) */
#define PROXY_GIT_LINE_MAX	8192	/* payload of one pkt-line in the
					   command section: two ids, a
					   refname of PROXY_GIT_REFNAME_MAX
					   and the capabilities fit; git
					   sends under 300 bytes */
#define PROXY_GIT_SECTION_MAX	(1024 * 1024) /* command section with
					   shallow lines and push options:
					   what the relay buffers before
					   sending a byte upstream */
#define PROXY_GIT_COMMANDS_MAX	1000	/* ref updates in one push; a
					   sandbox pushes a handful */
#define PROXY_GIT_OPTIONS_MAX	32	/* push options, when allowed */
#define PROXY_GIT_REFNAME_MAX	1024	/* bytes of a refname */
#define PROXY_GIT_OID_MAX	64	/* hex digits of a SHA-256 id */
#define PROXY_GIT_AGENT_LEN	64	/* agent= value kept for the log,
					   truncated, with a NUL */
#define PROXY_GIT_PACK_HDR	12	/* "PACK", version, object count */

/* What a feed or a check found. */
enum proxy_git_result {
	PROXY_GIT_MORE,		/* incomplete: call again with more bytes */
	PROXY_GIT_DONE,		/* complete */
	PROXY_GIT_ERROR		/* refused: see the proxy_git_error */
};

/* The two smart-HTTP services. */
enum proxy_git_service {
	PROXY_GIT_UPLOAD_PACK = 1,	/* fetch, clone, ls-remote */
	PROXY_GIT_RECEIVE_PACK		/* push */
};

/* Capabilities on the first command, pu_caps. */
#define PROXY_GIT_CAP_REPORT_STATUS	0x0001
#define PROXY_GIT_CAP_REPORT_STATUS_V2	0x0002
#define PROXY_GIT_CAP_SIDE_BAND_64K	0x0004
#define PROXY_GIT_CAP_SIDE_BAND		0x0008
#define PROXY_GIT_CAP_QUIET		0x0010
#define PROXY_GIT_CAP_ATOMIC		0x0020
#define PROXY_GIT_CAP_OFS_DELTA		0x0040
#define PROXY_GIT_CAP_DELETE_REFS	0x0080	/* JGit echoes it back */
#define PROXY_GIT_CAP_AGENT		0x0100
#define PROXY_GIT_CAP_SESSION_ID	0x0200
#define PROXY_GIT_CAP_OBJECT_FORMAT	0x0400
#define PROXY_GIT_CAP_PUSH_OPTIONS	0x0800

/* Policy flags, gp_flags. */
#define PROXY_GIT_P_PUSH_OPTIONS	0x01	/* accept up to
						   PROXY_GIT_OPTIONS_MAX push
						   options; else refuse the
						   push-options capability */

/* Why a request was refused. */
struct proxy_git_error {
	int			 status;	/* HTTP status to answer */
	const char		*reason;	/* short stable token for
						   the log */
	const char		*detail;	/* longer text, static */
};

/* A routed relay request; see proxy_git_route_parse. */
struct proxy_git_route {
	int			 gr_service;	/* enum proxy_git_service */
	int			 gr_advert;	/* 1: GET info/refs, 0: POST */
	char			 gr_owner[PROXY_GIT_OWNER_MAX + 1];
	char			 gr_repo[PROXY_GIT_REPO_MAX + 1]; /* no .git */
	char			 gr_name[PROXY_GIT_NAME_LEN];	/* owner/repo */
	char			 gr_upstream[PROXY_GIT_UPSTREAM_LEN];
};

/* What a sandbox may push; the caller keeps it alive while parsing. */
struct proxy_git_policy {
	const char *const	*gp_globs;	/* ref globs; see
						   proxy_git_glob_match */
	size_t			 gp_nglobs;
	int			 gp_flags;	/* PROXY_GIT_P_* */
};

/* One accepted ref update. */
struct proxy_git_cmd {
	char			 gc_old[PROXY_GIT_OID_MAX + 1];
	char			 gc_new[PROXY_GIT_OID_MAX + 1];
	char			*gc_ref;
	size_t			 gc_reflen;
	int			 gc_create;	/* old id is the zero id */
};

/* A receive-pack request body being checked; see proxy_git_push_feed. */
struct proxy_git_push {
	const struct proxy_git_policy *pu_policy;
	int			 pu_state;
	int			 pu_phase;
	struct proxy_git_error	 pu_err;	/* once PROXY_GIT_ERROR */
	char			 pu_hdr[4];	/* pkt-len being read */
	size_t			 pu_hdrlen;
	char			 pu_line[PROXY_GIT_LINE_MAX + 1];
	size_t			 pu_linelen;
	size_t			 pu_need;	/* payload bytes of the pkt */
	size_t			 pu_section;	/* command section bytes so
						   far; its length when done */
	size_t			 pu_oidlen;	/* 40 or 64; 0 until known */
	int			 pu_caps;	/* PROXY_GIT_CAP_* */
	char			 pu_agent[PROXY_GIT_AGENT_LEN];
	size_t			 pu_nshallow;
	size_t			 pu_noptions;
	struct proxy_git_cmd	*pu_cmds;	/* in order */
	size_t			 pu_ncmds;
	size_t			 pu_cmdsalloc;
	unsigned char		 pu_pack[PROXY_GIT_PACK_HDR];
	size_t			 pu_packlen;	/* header bytes seen */
	uint32_t		 pu_packversion;
	uint32_t		 pu_packobjects;
};

/* proxy/proxy_git_pkt.c */
int		 proxy_git_route_parse(const char *, const char *, size_t,
		    struct proxy_git_route *, struct proxy_git_error *);
const char	*proxy_git_service_name(int);
int		 proxy_git_repo_check(const char *, const char **);
int		 proxy_git_repo_match(const char *, const char *const *,
		    size_t);
int		 proxy_git_refname_check(const char *, size_t, const char **);
int		 proxy_git_glob_check(const char *, const char **);
int		 proxy_git_glob_match(const char *, const char *);
int		 proxy_git_glob_default(char *, size_t, const char *);
void		 proxy_git_push_init(struct proxy_git_push *,
		    const struct proxy_git_policy *);
int		 proxy_git_push_feed(struct proxy_git_push *, const char *,
		    size_t, size_t *, struct proxy_git_error *);
int		 proxy_git_push_pack(struct proxy_git_push *, const char *,
		    size_t, struct proxy_git_error *);
int		 proxy_git_push_end(struct proxy_git_push *,
		    struct proxy_git_error *);
void		 proxy_git_push_free(struct proxy_git_push *);
int		 proxy_git_advert_check(int, const char *, size_t, size_t *,
		    struct proxy_git_error *);

#endif /* SBXD_PROXY_GIT_PKT_H */
