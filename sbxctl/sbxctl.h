/*
 * sbxctl.h: the sbxctl command table, shared by sbxctl.c and
 * sbxctl_parser.c.
 */

#ifndef SBXCTL_H
#define SBXCTL_H

#include <stdio.h>

#include <jansson.h>

#include "compat.h"

struct sbxctl_cmd {
	const char	 *name;
	const char	 *usage;	/* as in sbxctl.8 */
	int		  follow;	/* a stream follows the reply */
	json_t		*(*build)(const struct sbxctl_cmd *, int, char **);
	void		 (*print)(json_t *);
};

/* sbxctl/sbxctl_parser.c */
const struct sbxctl_cmd	*sbxctl_cmd_find(const char *);
void			 sbxctl_usage_cmds(FILE *);
void			 sbxctl_cmd_usage(const struct sbxctl_cmd *)
			    __attribute__((__noreturn__));

/* sbxctl/sbxctl_exec.c */
int			 sbxctl_exec(const char *, int, char **);

/* sbxctl/sbxctl.c */
void			 sbxctl_print_status(json_t *);
void			 sbxctl_print_event(json_t *);
void			 sbxctl_print_ok(json_t *);
int			 sbxctl_refused(int);
int			 sbxctl_socket(const char *);
void			 sbxctl_print_log(json_t *);
void			 sbxctl_print_sessions(json_t *);
void			 sbxctl_print_rules(json_t *);
void			 sbxctl_print_asks(json_t *);
void			 sbxctl_print_approve(json_t *);
long long		 sbxctl_duration(const char *);
const struct sbxctl_cmd	*sbxctl_cmd_at(size_t);

/* sbxctl/sbxctl_agent.c */
json_t			*sbxctl_build_ask(const struct sbxctl_cmd *, int,
			    char **);
json_t			*sbxctl_build_turns(const struct sbxctl_cmd *, int,
			    char **);
json_t			*sbxctl_build_turn(const struct sbxctl_cmd *, int,
			    char **);
json_t			*sbxctl_build_mode(const struct sbxctl_cmd *, int,
			    char **);
void			 sbxctl_ask_socket(const char *);
void			 sbxctl_print_ask(json_t *);
void			 sbxctl_ask_json(json_t *);
void			 sbxctl_print_interrupt(json_t *);
void			 sbxctl_print_turns(json_t *);
void			 sbxctl_print_turn(json_t *);
void			 sbxctl_print_mode(json_t *);
void			 sbxctl_print_reset(json_t *);
void			 sbxctl_set_exit(int);
void			 sbxctl_set_done(void);

/* sbxctl/sbxctl_complete.c */
int			 sbxctl_completion(int, char **);
#define SBXCTL_EVENTS_RECENT	20	/* events -r without -n */
void			 sbxctl_print_sandbox(json_t *);
void			 sbxctl_print_sandboxes(json_t *);
void			 sbxctl_print_network(json_t *);
void			 sbxctl_print_doctor(json_t *);

/* sbxctl/sbxctl_usage.c */
json_t			*sbxctl_build_usage(const struct sbxctl_cmd *, int,
			    char **);
void			 sbxctl_print_usage(json_t *);

#endif /* SBXCTL_H */
