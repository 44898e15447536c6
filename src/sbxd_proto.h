/*
 * sbxd_proto.h: the control protocol, shared by the daemon and sbxctl
 * (as tmux-protocol.h is): where the socket is, and the frames "exec"
 * speaks once its request is answered (sandbox/sandbox_exec.c on the
 * daemon's side, sbxctl/sbxctl_exec.c on the client's).
 *
 * Every request is one JSON object on a line, {"command": NAME, ...};
 * every reply ends with a line holding "ok".  An exec request is
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

#ifndef SBXD_PROTO_H
#define SBXD_PROTO_H

#define SBXD_SOCKET		"/run/sbxd.sock" /* default control socket */

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

#endif /* SBXD_PROTO_H */
