/*
 * sandbox_exec.h: "sbxctl exec", shared by the daemon side
 * (src/sandbox_exec.c) and the client (src/sbxctl_exec.c): what a caller
 * passes to start a command as a sandbox's user, and the frames both
 * ends speak once the request is answered.
 *
 * The request is a JSON line like every other:
 *	{"command":"exec","name":"x","argv":["/bin/ls","-l"],
 *	 "tty":true,"rows":24,"cols":80,"env":{"TERM":"xterm"}}
 * "argv" absent or null runs the user's login shell.  The daemon answers
 * one JSON line: {"ok":false,"error":...} and closes, or {"ok":true,...}
 * once the command runs.  After "ok":true the connection carries binary
 * frames in both directions until the daemon closes it:
 *
 *	+------+----------------------+-------------------+
 *	| type | length (4, big end.) | length bytes      |
 *	+------+----------------------+-------------------+
 *
 * length is at most SANDBOX_EXEC_FRAME_MAX.  Client to daemon:
 *	STDIN		bytes for the command's stdin (or the pty)
 *	STDIN_EOF	empty: close the command's stdin; a pty gets its
 *			EOF character instead, as a terminal would send
 *	WINSIZE		rows and columns, two 16-bit big-endian numbers
 * Daemon to client:
 *	STDOUT		bytes the command wrote to stdout (or the pty)
 *	STDERR		bytes it wrote to stderr (never with a pty)
 *	EXIT		4 bytes big-endian: the exit code, or 128 + the
 *			signal that killed it; the last frame
 * Either side closes the connection on an unknown type or a length over
 * the limit.  If the client goes away, the command's process group gets
 * SIGHUP (pty) or SIGTERM (pipes), and SIGKILL if it outlives
 * SANDBOX_EXEC_KILL_SECS.
 */

#ifndef SANDBOX_EXEC_H
#define SANDBOX_EXEC_H

#include <sys/types.h>

#include <stdint.h>

#include <jansson.h>

#define SANDBOX_EXEC_HDR	5	/* type byte + 32-bit length */
#define SANDBOX_EXEC_FRAME_MAX	65536	/* payload bytes in one frame: one
					   pipe buffer's worth, and a
					   bound on what either side must
					   hold to parse a frame */

/* Frame types, client to daemon. */
#define SANDBOX_EXEC_STDIN	0x01
#define SANDBOX_EXEC_STDIN_EOF	0x02
#define SANDBOX_EXEC_WINSIZE	0x03
/* Frame types, daemon to client. */
#define SANDBOX_EXEC_STDOUT	0x81
#define SANDBOX_EXEC_STDERR	0x82
#define SANDBOX_EXEC_EXIT	0x83

#define SANDBOX_EXEC_ARGV_MAX	4096	/* words in a request's argv */
#define SANDBOX_EXEC_ENV_MAX	64	/* extra variables from the caller */
#define SANDBOX_EXEC_TERM_MAX	64	/* bytes of TERM taken from a
					   request */
#define SANDBOX_EXEC_KILL_SECS	5	/* after the hangup signal, wait this
					   long before SIGKILL */

/*
 * What to run and as whom.  Only what sandbox_exec_start needs while it
 * runs: it copies nothing it keeps.  The environment is built from these
 * fields and env alone, never from the daemon's own.
 */
struct sandbox_exec_spec {
	uid_t		 es_uid;	/* never 0 */
	gid_t		 es_gid;
	const char	*es_user;
	const char	*es_home;
	const char	*es_shell;
	char *const	*es_argv;	/* NULL: the login shell */
	int		 es_tty;	/* run on a pty */
	uint16_t	 es_rows;	/* pty size; 0: the kernel default */
	uint16_t	 es_cols;
	const char	*es_term;	/* TERM with a pty; NULL: none */
	char *const	*es_env;	/* more NAME=value, NULL-terminated,
					   may be NULL (proxy settings) */
	const char	*es_name;	/* the sandbox, for logs and events */
};

struct control_req;

/* src/sandbox_exec.c */
int		 sandbox_exec_spec_parse(json_t *, struct sandbox_exec_spec *,
		    char *, size_t);
void		 sandbox_exec_spec_clear(struct sandbox_exec_spec *);
int		 sandbox_exec_start(struct control_req *,
		    const struct sandbox_exec_spec *, char *, size_t);
void		 sandbox_exec_shutdown(void);
json_t		*sandbox_exec_status(void);

#endif /* SANDBOX_EXEC_H */
