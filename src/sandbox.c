/*
 * sandbox.c: the sandbox lifecycle component: OS users, provisioning and
 * firewall rules.  It has no configuration yet, so it stays off.
 */

#include <sys/types.h>

#include <jansson.h>

#include "config.h"
#include "sbxd.h"

static int	sandbox_init(struct sbxd_config *);
static int	sandbox_reload(struct sbxd_config *, json_t *);
static void	sandbox_shutdown(void);
static json_t	*sandbox_status(void);

const struct sbxd_component sandbox_component = {
	"sandbox", sandbox_init, sandbox_reload, sandbox_shutdown, sandbox_status
};

static int
sandbox_init(struct sbxd_config *conf __unused)
{
	return (0);
}

static int
sandbox_reload(struct sbxd_config *conf __unused, json_t *errors __unused)
{
	return (0);
}

static void
sandbox_shutdown(void)
{
}

static json_t *
sandbox_status(void)
{
	return (json_pack("{s:s}", "state", "off"));
}

/* The name of the sandbox whose OS user has uid, or NULL. */
const char *
sandbox_name_by_uid(uid_t uid __unused)
{
	return (NULL);
}
