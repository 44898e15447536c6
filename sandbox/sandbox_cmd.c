/*
 * sandbox_cmd.c: lists of commands for the privileged work of the
 * sandbox module, and their printed form for logs and golden files.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "sbxd.h"
#include "sandbox.h"

void
sandbox_cmdlist_init(struct sandbox_cmdlist *cl)
{
	TAILQ_INIT(&cl->cl_cmds);
	cl->cl_failed = 0;
}

/* Something the list needs could not be made: the runner refuses it. */
void
sandbox_cmdlist_fail(struct sandbox_cmdlist *cl)
{
	cl->cl_failed = 1;
}

/*
 * Append a command: flags, then argv[0] (an absolute path) and its
 * arguments, ending with NULL.  NULL if it cannot: the list is failed.
 */
struct sandbox_cmd *
sandbox_cmd_add(struct sandbox_cmdlist *cl, int flags, const char *arg0, ...)
{
	struct sandbox_cmd	*sc;
	va_list			 ap;
	const char		*a;
	int			 n = 0, i;

	if ((sc = calloc(1, sizeof(*sc))) == NULL)
		goto fail;
	sc->sc_flags = flags;
	va_start(ap, arg0);
	for (a = arg0; a != NULL; a = va_arg(ap, const char *)) {
		if (n == SANDBOX_ARGV_MAX) {
			log_warnx("%s: too many arguments for %s", __func__,
			    arg0);
			break;
		}
		if ((sc->sc_argv[n++] = strdup(a)) == NULL)
			break;
	}
	va_end(ap);
	if (a != NULL) {
		for (i = 0; i < n; i++)
			free(sc->sc_argv[i]);
		free(sc);
		goto fail;
	}
	TAILQ_INSERT_TAIL(&cl->cl_cmds, sc, sc_entry);
	return (sc);
fail:
	sandbox_cmdlist_fail(cl);
	return (NULL);
}

/* Give sc, if there is one, a text for its stdin. */
void
sandbox_cmd_input(struct sandbox_cmdlist *cl, struct sandbox_cmd *sc,
    const char *input)
{
	if (sc == NULL)
		return;
	free(sc->sc_input);
	sc->sc_input = NULL;
	if (input != NULL && (sc->sc_input = strdup(input)) == NULL)
		sandbox_cmdlist_fail(cl);
}

void
sandbox_cmdlist_free(struct sandbox_cmdlist *cl)
{
	struct sandbox_cmd	*sc;
	int			 i;

	while ((sc = TAILQ_FIRST(&cl->cl_cmds)) != NULL) {
		TAILQ_REMOVE(&cl->cl_cmds, sc, sc_entry);
		for (i = 0; sc->sc_argv[i] != NULL; i++)
			free(sc->sc_argv[i]);
		free(sc->sc_input);
		free(sc);
	}
}

/*
 * Print "$ argv..." per command, arguments with spaces or quotes in
 * single quotes, flags in brackets, then any stdin text between
 * "<<EOF" and "EOF" lines.
 */
void
sandbox_cmdlist_print(FILE *fp, const struct sandbox_cmdlist *cl)
{
	const struct sandbox_cmd	*sc;
	const char			*a;
	size_t				 len;
	int				 i;

	if (cl->cl_failed)
		fputs("# failed: memory ran out\n", fp);
	TAILQ_FOREACH(sc, &cl->cl_cmds, sc_entry) {
		fputc('$', fp);
		for (i = 0; (a = sc->sc_argv[i]) != NULL; i++) {
			if (*a != '\0' && strpbrk(a, " \t\"'\\$<>|&;*?") == NULL)
				fprintf(fp, " %s", a);
			else
				fprintf(fp, " '%s'", a);
		}
		if (sc->sc_flags & SANDBOX_CMD_MAYFAIL)
			fputs(" [mayfail]", fp);
		if (sc->sc_flags & SANDBOX_CMD_OUTPUT)
			fputs(" [output]", fp);
		fputc('\n', fp);
		if (sc->sc_input == NULL)
			continue;
		len = strlen(sc->sc_input);
		fprintf(fp, "<<EOF\n%s%sEOF\n", sc->sc_input,
		    len > 0 && sc->sc_input[len - 1] == '\n' ? "" : "\n");
	}
}

/*
 * Not root, not (uid_t)-1, one to SANDBOX_PORTS_MAX distinct ports, or
 * none for a restricted sandbox (cut off): what every firewall backend
 * takes.
 */
int
fw_sandbox_ok(const struct fw_sandbox *fs)
{
	int	 i, j;

	if (fs->fs_uid == 0 || fs->fs_uid == (uid_t)-1 ||
	    fs->fs_nports < (fs->fs_restricted ? 0 : 1) ||
	    fs->fs_nports > SANDBOX_PORTS_MAX)
		return (0);
	for (i = 0; i < fs->fs_nports; i++) {
		if (fs->fs_ports[i] == 0)
			return (0);
		for (j = 0; j < i; j++)
			if (fs->fs_ports[j] == fs->fs_ports[i])
				return (0);
	}
	return (1);
}
