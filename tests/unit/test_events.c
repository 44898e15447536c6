/*
 * test_events.c: the event bus: stamping, order, nested publishing and
 * unsubscribing from inside a delivery.
 */

#include <sys/types.h>

#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config.h"
#include "sbxd.h"
#include "unit.h"

struct seen {
	json_t			*list;
	struct events_sub	*self;
	int			 unsubscribe;	/* at the first event */
	int			 republish;	/* publish from inside */
};

static void
seen_cb(json_t *ev, void *arg)
{
	struct seen	*s = arg;

	json_array_append(s->list, ev);
	if (s->republish) {
		s->republish = 0;
		events_publish("test.nested", NULL);
	}
	if (s->unsubscribe)
		events_unsubscribe(s->self);
}

static const char *
type_at(struct seen *s, size_t i)
{
	return (json_string_value(json_object_get(json_array_get(s->list, i),
	    "type")));
}

static int
test_stamp(void)
{
	struct seen	 s = { json_array(), NULL, 0, 0 };
	regex_t		 re;
	const char	*t;
	int		 ret = -1, compiled = 0;

	s.self = events_subscribe("test", seen_cb, &s);
	CHECK(s.self != NULL);
	events_publish("test.one", json_pack("{s:s, s:s}", "host",
	    "example.com", "type", "spoofed"));
	CHECK_INT(json_array_size(s.list), 1);
	CHECK_STR(type_at(&s, 0), "test.one");
	CHECK_STR(json_string_value(json_object_get(json_array_get(s.list, 0),
	    "host")), "example.com");
	t = json_string_value(json_object_get(json_array_get(s.list, 0),
	    "time"));
	CHECK(regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:"
	    "[0-9]{2}\\.[0-9]{3}Z$", REG_EXTENDED | REG_NOSUB) == 0);
	compiled = 1;
	CHECK(t != NULL && regexec(&re, t, 0, NULL, 0) == 0);
	ret = 0;
end:
	if (compiled)
		regfree(&re);
	events_unsubscribe(s.self);
	json_decref(s.list);
	return (ret);
}

/* An event published by a subscriber reaches everyone after the first. */
static int
test_nested(void)
{
	struct seen	 a = { json_array(), NULL, 0, 1 };
	struct seen	 b = { json_array(), NULL, 0, 0 };
	int		 ret = -1;

	a.self = events_subscribe("a", seen_cb, &a);
	b.self = events_subscribe("b", seen_cb, &b);
	events_publish("test.outer", NULL);
	CHECK_INT(json_array_size(a.list), 2);
	CHECK_INT(json_array_size(b.list), 2);
	CHECK_STR(type_at(&a, 0), "test.outer");
	CHECK_STR(type_at(&a, 1), "test.nested");
	CHECK_STR(type_at(&b, 0), "test.outer");
	CHECK_STR(type_at(&b, 1), "test.nested");
	ret = 0;
end:
	events_unsubscribe(a.self);
	events_unsubscribe(b.self);
	json_decref(a.list);
	json_decref(b.list);
	return (ret);
}

/* A subscriber may leave from inside its callback; others still get it. */
static int
test_unsubscribe_inside(void)
{
	struct seen	 a = { json_array(), NULL, 1, 0 };
	struct seen	 b = { json_array(), NULL, 0, 0 };
	int		 ret = -1;

	a.self = events_subscribe("a", seen_cb, &a);
	b.self = events_subscribe("b", seen_cb, &b);
	events_publish("test.first", NULL);
	events_publish("test.second", NULL);
	CHECK_INT(json_array_size(a.list), 1);
	CHECK_INT(json_array_size(b.list), 2);
	ret = 0;
end:
	events_unsubscribe(b.self);
	json_decref(a.list);
	json_decref(b.list);
	return (ret);
}

static int
test_status(void)
{
	json_t	*st = NULL;
	int	 ret = -1;

	events_publish("test.count", NULL);
	events_publish("test.count", NULL);
	st = events_status();
	CHECK(st != NULL);
	CHECK_STR(json_string_value(json_object_get(st, "state")), "up");
	CHECK(json_integer_value(json_object_get(st, "published")) >= 2);
	CHECK_INT(json_integer_value(json_object_get(json_object_get(st,
	    "by_type"), "test.count")), 2);
	ret = 0;
end:
	json_decref(st);
	return (ret);
}

static const struct unit_test tests[] = {
	{ "stamp", test_stamp },
	{ "nested", test_nested },
	{ "unsubscribe_inside", test_unsubscribe_inside },
	{ "status", test_status },
};

UNIT_MAIN("events", tests)
