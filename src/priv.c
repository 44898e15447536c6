/*
 * priv.c: privilege separation (being written).
 */

#include <sys/types.h>

#include <stdarg.h>
#include <stdio.h>

#include <jansson.h>

#include "config.h"
#include "log.h"
#include "sbxd.h"

int
priv_on(void)
{
	return (0);
}

int
priv_start(struct sbxd_config *conf __unused,
    const struct priv_op *ops __unused)
{
	return (0);
}

json_t *
priv_call(const char *op __unused, json_t *args, int *fds __unused,
    int *nfds, char *err, size_t errlen)
{
	json_decref(args);
	if (nfds != NULL)
		*nfds = 0;
	snprintf(err, errlen, "no privileged process");
	return (NULL);
}

uint64_t
priv_send(const char *op __unused, json_t *args, priv_replycb cb __unused,
    void *arg __unused)
{
	json_decref(args);
	return (0);
}

void
priv_forget(uint64_t id __unused)
{
}

void
priv_listen(const char *note __unused, priv_notecb cb __unused,
    void *arg __unused)
{
}

const struct sbxd_config *
priv_conf(void)
{
	return (sbxd_env->sx_conf);
}

void
priv_reply(struct priv_req *pr __unused, json_t *reply, const int *fds __unused,
    int nfds __unused)
{
	json_decref(reply);
}

void
priv_refuse(struct priv_req *pr __unused, const char *fmt __unused, ...)
{
}

void
priv_note(const char *note __unused, json_t *args, const int *fds __unused,
    int nfds __unused)
{
	json_decref(args);
}

uint64_t
priv_req_id(const struct priv_req *pr __unused)
{
	return (0);
}
