/*
 * events.c: the in-process event bus.  A component publishes a typed
 * event (proxy.block, pfmon.block, sandbox.created, ...); the bus stamps
 * it with "time" (RFC 3339 UTC, milliseconds) and "type" and hands it to
 * every subscriber in turn: the log, the store, control-socket followers.
 * Subscribers must not block; each one bounds its own queue.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "config.h"
#include "log.h"
#include "sbxd.h"

#define EVENTS_PENDING_MAX	1024	/* published from inside a delivery;
					   bounds a subscriber that loops */

struct events_sub {
	TAILQ_ENTRY(events_sub)	 es_entry;
	char			*es_name;
	events_cb		 es_cb;
	void			*es_arg;
	int			 es_dead;	/* unsubscribed mid-delivery */
};
TAILQ_HEAD(events_subs, events_sub);

static struct events_subs	 events_subs =
				    TAILQ_HEAD_INITIALIZER(events_subs);
static json_t			*events_pending;
static int			 events_delivering;
static uint64_t			 events_published;
static uint64_t			 events_lost;
static json_t			*events_bytype;	/* type -> count */

static void	events_deliver(json_t *);
static void	events_sweep(void);

/*
 * Publish an event of the given type.  Takes fields (may be NULL); its
 * "time" and "type" keys are set by the bus.
 */
void
events_publish(const char *type, json_t *fields)
{
	struct timespec	 ts;
	char		 tbuf[32];
	json_t		*ev, *n;

	clock_gettime(CLOCK_REALTIME, &ts);
	if ((ev = json_object()) == NULL ||
	    util_rfc3339(&ts, tbuf, sizeof(tbuf)) == -1 ||
	    json_object_set_new(ev, "time", json_string(tbuf)) == -1 ||
	    json_object_set_new(ev, "type", json_string(type)) == -1 ||
	    (fields != NULL && json_object_update_missing(ev, fields) == -1)) {
		events_lost++;
		json_decref(ev);
		json_decref(fields);
		return;
	}
	json_decref(fields);
	events_published++;
	if (events_bytype == NULL)
		events_bytype = json_object();
	n = json_object_get(events_bytype, type);
	json_object_set_new(events_bytype, type,
	    json_integer(n == NULL ? 1 : json_integer_value(n) + 1));
	events_deliver(ev);
}

/*
 * Hand ev to every subscriber.  An event published by a subscriber
 * waits until the current one has reached everybody, so every
 * subscriber sees events in the same order.  Takes ev.
 */
static void
events_deliver(json_t *ev)
{
	struct events_sub	*es;

	if (events_delivering) {
		if (events_pending == NULL)
			events_pending = json_array();
		if (json_array_size(events_pending) >= EVENTS_PENDING_MAX ||
		    json_array_append_new(events_pending, ev) == -1) {
			events_lost++;
			json_decref(ev);
		}
		return;
	}
	events_delivering = 1;
	for (;;) {
		TAILQ_FOREACH(es, &events_subs, es_entry)
			if (!es->es_dead)
				es->es_cb(ev, es->es_arg);
		json_decref(ev);
		if (events_pending == NULL ||
		    json_array_size(events_pending) == 0)
			break;
		ev = json_incref(json_array_get(events_pending, 0));
		json_array_remove(events_pending, 0);
	}
	events_delivering = 0;
	events_sweep();
}

/* Free subscriptions cancelled during a delivery. */
static void
events_sweep(void)
{
	struct events_sub	*es, *next;

	TAILQ_FOREACH_SAFE(es, &events_subs, es_entry, next) {
		if (!es->es_dead)
			continue;
		TAILQ_REMOVE(&events_subs, es, es_entry);
		free(es->es_name);
		free(es);
	}
}

/* Call cb(event, arg) for every event from now on. */
struct events_sub *
events_subscribe(const char *name, events_cb cb, void *arg)
{
	struct events_sub	*es;

	if ((es = calloc(1, sizeof(*es))) == NULL)
		return (NULL);
	if ((es->es_name = strdup(name)) == NULL) {
		free(es);
		return (NULL);
	}
	es->es_cb = cb;
	es->es_arg = arg;
	TAILQ_INSERT_TAIL(&events_subs, es, es_entry);
	return (es);
}

/* Stop a subscription; safe from inside its own callback. */
void
events_unsubscribe(struct events_sub *es)
{
	if (es == NULL)
		return;
	es->es_dead = 1;
	if (!events_delivering)
		events_sweep();
}

/* Counters for sbxctl status. */
json_t *
events_status(void)
{
	struct events_sub	*es;
	json_t			*subs;

	subs = json_array();
	TAILQ_FOREACH(es, &events_subs, es_entry)
		if (!es->es_dead)
			json_array_append_new(subs, json_string(es->es_name));
	return (json_pack("{s:s, s:I, s:I, s:o, s:O*}",
	    "state", "up",
	    "published", (json_int_t)events_published,
	    "lost", (json_int_t)events_lost,
	    "subscribers", subs,
	    "by_type", events_bytype));
}
