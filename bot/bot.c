/*
 * bot.c: the chat bot component.  It has no configuration yet, so it stays
 * off.
 */

#include <sys/types.h>

#include <jansson.h>

#include "config.h"
#include "sbxd.h"

static int	bot_init(struct sbxd_config *);
static int	bot_reload(struct sbxd_config *, json_t *);
static void	bot_shutdown(void);
static json_t	*bot_status(void);

const struct sbxd_component bot_component = {
	.cm_name = "bot",
	.cm_init = bot_init,
	.cm_reload = bot_reload,
	.cm_shutdown = bot_shutdown,
	.cm_status = bot_status,
};

static int
bot_init(struct sbxd_config *conf __unused)
{
	return (0);
}

static int
bot_reload(struct sbxd_config *conf __unused, json_t *errors __unused)
{
	return (0);
}

static void
bot_shutdown(void)
{
}

static json_t *
bot_status(void)
{
	return (json_pack("{s:s}", "state", "off"));
}
