/*
 * sbxctl_complete.c: "sbxctl completion bash|zsh" prints a completion
 * script for that shell, made from the command table: the commands, and
 * for each the options its usage line names.  A command whose first
 * argument is a sandbox name completes the names "sbxctl list" gives.
 * Nothing here is written by hand per command, so a new command or
 * option completes as soon as it is in the table.
 */

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sbxctl.h"

static void	sbxctl_complete_opts(FILE *, const char *);
static int	sbxctl_complete_named(const char *);
static void	sbxctl_complete_bash(FILE *);
static void	sbxctl_complete_zsh(FILE *);

/* completion bash | zsh */
int
sbxctl_completion(int argc, char **argv)
{
	if (argc == 1 && strcmp(argv[0], "bash") == 0)
		sbxctl_complete_bash(stdout);
	else if (argc == 1 && strcmp(argv[0], "zsh") == 0)
		sbxctl_complete_zsh(stdout);
	else {
		fprintf(stderr, "usage: sbxctl completion bash | zsh\n");
		return (1);
	}
	return (fflush(stdout) == EOF ? 1 : 0);
}

/* The words of usage that start with '-', space-separated. */
static void
sbxctl_complete_opts(FILE *fp, const char *usage)
{
	const char	*p = usage, *s;
	int		 first = 1;

	while (*p != '\0') {
		if (*p != '-' || (p > usage && isalnum((unsigned char)p[-1]))) {
			p++;
			continue;
		}
		for (s = p; *s == '-' || isalnum((unsigned char)*s); s++)
			;	/* nothing */
		if (s - p > 1 && strncmp(p, "--", s - p) != 0) {
			fprintf(fp, "%s%.*s", first ? "" : " ", (int)(s - p),
			    p);
			first = 0;
		}
		p = s;
	}
}

/* Whether the command's first argument is a sandbox name. */
static int
sbxctl_complete_named(const char *usage)
{
	while (*usage == '[')
		usage++;
	return (strncmp(usage, "name", 4) == 0 &&
	    !isalnum((unsigned char)usage[4]));
}

static void
sbxctl_complete_bash(FILE *fp)
{
	const struct sbxctl_cmd	*cmd;
	size_t			 i;

	fputs("# bash completion for sbxctl, made by \"sbxctl completion "
	    "bash\".\n_sbxctl()\n{\n\tCOMPREPLY=()\n"
	    "\tlocal cur=${COMP_WORDS[COMP_CWORD]} i cmd=\n"
	    "\tfor ((i = 1; i < COMP_CWORD; i++)); do\n"
	    "\t\tcase ${COMP_WORDS[i]} in\n"
	    "\t\t-s) ((i++)) ;;\n"
	    "\t\t-*) ;;\n"
	    "\t\t*) cmd=${COMP_WORDS[i]}; break ;;\n"
	    "\t\tesac\n"
	    "\tdone\n"
	    "\tif [[ -z $cmd ]]; then\n"
	    "\t\tCOMPREPLY=($(compgen -W \"", fp);
	for (i = 0; (cmd = sbxctl_cmd_at(i)) != NULL; i++)
		fprintf(fp, "%s%s", i == 0 ? "" : " ", cmd->name);
	fputs("\" -- \"$cur\"))\n\t\treturn\n\tfi\n"
	    "\tcase $cmd in\n", fp);
	for (i = 0; (cmd = sbxctl_cmd_at(i)) != NULL; i++) {
		fprintf(fp, "\t%s)\n\t\tif [[ $cur == -* ]]; then\n"
		    "\t\t\tCOMPREPLY=($(compgen -W \"", cmd->name);
		sbxctl_complete_opts(fp, cmd->usage);
		fputs("\" -- \"$cur\"))\n", fp);
		if (sbxctl_complete_named(cmd->usage))
			fputs("\t\telif ((COMP_CWORD == i + 1)); then\n"
			    "\t\t\tCOMPREPLY=($(compgen -W \"$(sbxctl list "
			    "2>/dev/null | awk 'NR > 1 { print $1 }')\" -- "
			    "\"$cur\"))\n", fp);
		fputs("\t\tfi ;;\n", fp);
	}
	fputs("\tesac\n}\ncomplete -F _sbxctl sbxctl\n", fp);
}

static void
sbxctl_complete_zsh(FILE *fp)
{
	const struct sbxctl_cmd	*cmd;
	const char		*u;
	size_t			 i;

	fputs("#compdef sbxctl\n# zsh completion for sbxctl, made by "
	    "\"sbxctl completion zsh\".\n_sbxctl() {\n"
	    "\tlocal -a cmds\n\tcmds=(\n", fp);
	for (i = 0; (cmd = sbxctl_cmd_at(i)) != NULL; i++) {
		fprintf(fp, "\t\t'%s:", cmd->name);
		/* The usage line, quoted for zsh: no ' or : in it. */
		for (u = cmd->usage; *u != '\0'; u++)
			fputc(*u == '\'' || *u == ':' ? ' ' : *u, fp);
		fputs("'\n", fp);
	}
	fputs("\t)\n"
	    "\t_arguments -C '-j[print JSON]' "
	    "'-s[control socket]:socket:_files'"
	    " '1:command:->cmd' '*::arg:->args'\n"
	    "\tcase $state in\n"
	    "\tcmd) _describe command cmds ;;\n"
	    "\targs)\n\t\tcase $words[1] in\n", fp);
	for (i = 0; (cmd = sbxctl_cmd_at(i)) != NULL; i++) {
		fprintf(fp, "\t\t%s)\n\t\t\tif [[ $PREFIX == -* ]]; then\n"
		    "\t\t\t\tcompadd -- ", cmd->name);
		sbxctl_complete_opts(fp, cmd->usage);
		fputc('\n', fp);
		if (sbxctl_complete_named(cmd->usage))
			fputs("\t\t\telif (( CURRENT == 2 )); then\n"
			    "\t\t\t\tcompadd -- ${(f)\"$(sbxctl list "
			    "2>/dev/null | awk 'NR > 1 { print $1 }')\"}\n",
			    fp);
		fputs("\t\t\tfi ;;\n", fp);
	}
	fputs("\t\tesac ;;\n\tesac\n}\n_sbxctl \"$@\"\n", fp);
}
