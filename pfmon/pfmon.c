/*
 * pfmon.c: the packet-log monitor component.  It reads the firewall's log
 * interface and attributes each blocked packet to a sandbox.  It has no
 * configuration yet, so it stays off.
 */

#include <sys/types.h>

#include <jansson.h>

#include "config.h"
#include "sbxd.h"

static int	pfmon_init(struct sbxd_config *);
static int	pfmon_reload(struct sbxd_config *, json_t *);
static void	pfmon_shutdown(void);
static json_t	*pfmon_status(void);

const struct sbxd_component pfmon_component = {
	"pfmon", pfmon_init, pfmon_reload, pfmon_shutdown, pfmon_status
};

static int
pfmon_init(struct sbxd_config *conf __unused)
{
	return (0);
}

static int
pfmon_reload(struct sbxd_config *conf __unused, json_t *errors __unused)
{
	return (0);
}

static void
pfmon_shutdown(void)
{
}

static json_t *
pfmon_status(void)
{
	return (json_pack("{s:s}", "state", "off"));
}
