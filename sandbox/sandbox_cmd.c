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
	TAILQ_INIT(cl);
}

/*
 * Append a command: flags, then argv[0] (an absolute path) and its
 * arguments, ending with NULL.
 */
struct sandbox_cmd *
sandbox_cmd_add(struct sandbox_cmdlist *cl, int flags, const char *arg0, ...)
{
	struct sandbox_cmd	*sc;
	va_list			 ap;
	const char		*a;
	int			 n = 0;

	sc = xcalloc(1, sizeof(*sc));
	sc->sc_flags = flags;
	va_start(ap, arg0);
	for (a = arg0; a != NULL; a = va_arg(ap, const char *)) {
		if (n == SANDBOX_ARGV_MAX)
			fatalx("%s: too many arguments for %s", __func__, arg0);
		sc->sc_argv[n++] = xstrdup(a);
	}
	va_end(ap);
	TAILQ_INSERT_TAIL(cl, sc, sc_entry);
	return (sc);
}

/* Give sc a text for its stdin. */
void
sandbox_cmd_input(struct sandbox_cmd *sc, const char *input)
{
	free(sc->sc_input);
	sc->sc_input = input != NULL ? xstrdup(input) : NULL;
}

void
sandbox_cmdlist_free(struct sandbox_cmdlist *cl)
{
	struct sandbox_cmd	*sc;
	int			 i;

	while ((sc = TAILQ_FIRST(cl)) != NULL) {
		TAILQ_REMOVE(cl, sc, sc_entry);
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

	TAILQ_FOREACH(sc, cl, sc_entry) {
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
