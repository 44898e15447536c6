/*
 * test_control.c: the control protocol over a real Unix socket: replies,
 * malformed requests, the event stream and a slow follower whose missed
 * events are counted and reported.  The daemon's status and reload are
 * stood in for by this file.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "config.h"
#include "sbxd.h"
#include "unit.h"

static struct sbxd		 env;
static struct sbxd_config	*conf;
static char			*dir;
static int			 reloads;

static struct control_req	*held;		/* an unanswered request */

/* Commands standing in for the daemon's. */
static void
cmd_status(struct control_req *cr, json_t *req __unused)
{
	control_req_ok(cr, json_pack("{s:s}", "version", "test"));
}

static void
cmd_reload(struct control_req *cr, json_t *req __unused)
{
	reloads++;
	control_req_done(cr, json_pack("{s:b, s:s, s:[s]}", "ok", 0,
	    "error", "configuration has errors; the running configuration "
	    "is kept", "errors", "t.conf:1: broken"));
}

/* Answered later, by the test, like a long operation. */
static void
cmd_slow(struct control_req *cr, json_t *req __unused)
{
	control_req_progress(cr, "working");
	held = cr;
}

static int
setup_env(void)
{
	env.sx_base = event_base_new();
	sbxd_env = &env;
	if ((dir = unit_tmpdir()) == NULL)
		return (-1);
	conf = config_new();
	env.sx_conf = conf;
	free(conf->sc_socket);
	if (asprintf(&conf->sc_socket, "%s/ctl.sock", dir) == -1)
		return (-1);
	return (0);
}

static int
setup(void)
{
	if (setup_env() == -1)
		return (-1);
	control_register("status", cmd_status, NULL);
	control_register("reload", cmd_reload, NULL);
	control_register("slow", cmd_slow, NULL);
	return (control_init(conf, -1));
}

static void
teardown(void)
{
	control_shutdown();
	config_free(conf);
	conf = NULL;
	unit_rmtree(dir);
	free(dir);
	dir = NULL;
	event_base_free(env.sx_base);
	env.sx_base = NULL;
}

static int
client(void)
{
	struct sockaddr_un	 sun;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", conf->sc_socket);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1)
		return (-1);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(fd);
		return (-1);
	}
	return (fd);
}

/* Run the loop until fd has a whole line; return it parsed. */
static json_t *
read_reply(int fd)
{
	char		 buf[65536];
	size_t		 len = 0;
	struct pollfd	 pfd = { fd, POLLIN, 0 };
	ssize_t		 n;
	int		 spins;

	for (spins = 0; spins < 2000; spins++) {
		event_base_loop(env.sx_base, EVLOOP_NONBLOCK);
		if (poll(&pfd, 1, 1) != 1)
			continue;
		/* Read one byte at a time: stop exactly at the newline. */
		if ((n = read(fd, buf + len, 1)) <= 0)
			return (NULL);
		if (buf[len] == '\n') {
			buf[len] = '\0';
			return (json_loads(buf, 0, NULL));
		}
		if (++len == sizeof(buf) - 1)
			return (NULL);
		spins = 0;
	}
	return (NULL);
}

static json_t *
request(int fd, const char *line)
{
	if (write(fd, line, strlen(line)) != (ssize_t)strlen(line))
		return (NULL);
	return (read_reply(fd));
}

static const char *
field(json_t *o, const char *k)
{
	return (json_string_value(json_object_get(o, k)));
}

static int
test_socket_mode(void)
{
	struct stat	 st;
	int		 ret = -1;

	CHECK(setup() == 0);
	CHECK(stat(conf->sc_socket, &st) == 0);
	CHECK(S_ISSOCK(st.st_mode));
	/* No control group: root only. */
	CHECK_INT(st.st_mode & 0777, 0600);
	ret = 0;
end:
	teardown();
	return (ret);
}

/*
 * A socket another daemon answers on is left alone; one left behind by
 * a dead daemon is replaced.
 */
static int
test_socket_in_use(void)
{
	struct sockaddr_un	 sun;
	int			 fd = -1, ret = -1;

	CHECK(setup_env() == 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", conf->sc_socket);
	CHECK((fd = socket(AF_UNIX, SOCK_STREAM, 0)) != -1);
	CHECK(bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0);
	CHECK(listen(fd, 1) == 0);
	CHECK(control_init(conf, -1) == -1);
	CHECK(access(conf->sc_socket, F_OK) == 0);
	close(fd);
	fd = -1;
	CHECK(control_init(conf, -1) == 0);
	CHECK((fd = client()) != -1);
	ret = 0;
end:
	if (fd != -1)
		close(fd);
	teardown();
	return (ret);
}

/* A path that is not a socket is never removed. */
static int
test_socket_not_socket(void)
{
	int	 ret = -1;

	CHECK(setup_env() == 0);
	CHECK(unit_write(conf->sc_socket, "keep me") == 0);
	CHECK(control_init(conf, -1) == -1);
	CHECK(access(conf->sc_socket, F_OK) == 0);
	ret = 0;
end:
	teardown();
	return (ret);
}

static int
test_status(void)
{
	json_t	*r = NULL;
	int	 fd = -1, ret = -1;

	CHECK(setup() == 0);
	CHECK((fd = client()) != -1);
	r = request(fd, "{\"command\":\"status\"}\n");
	CHECK(r != NULL);
	CHECK(json_is_true(json_object_get(r, "ok")));
	CHECK_STR(field(r, "version"), "test");
	ret = 0;
end:
	json_decref(r);
	if (fd != -1)
		close(fd);
	teardown();
	return (ret);
}

/* Bad requests get an error line and the connection stays usable. */
static int
test_malformed(void)
{
	json_t		*r = NULL;
	int		 fd = -1, ret = -1;
	const char	*bad[] = {
		"{\"command\":\n", "[1,2]\n", "{\"command\":7}\n",
		"{\"command\":\"frobnicate\"}\n", "\n",
		"{\"command\":\"status\",\"command\":\"reload\"}\n",
		"{\"command\":\"log\",\"level\":\"loud\"}\n",
		"{\"command\":\"events\",\"last\":-1}\n",
	};
	size_t		 i;

	CHECK(setup() == 0);
	CHECK((fd = client()) != -1);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = request(fd, bad[i]);
		CHECK(r != NULL);
		CHECK(json_is_false(json_object_get(r, "ok")));
		CHECK(field(r, "error") != NULL);
		json_decref(r);
	}
	r = request(fd, "{\"command\":\"frobnicate\"}\n");
	CHECK_STR(field(r, "error"), "unknown command \"frobnicate\"");
	json_decref(r);
	r = request(fd, "{\"command\":\"status\"}\n");
	CHECK(json_is_true(json_object_get(r, "ok")));
	ret = 0;
end:
	json_decref(r);
	if (fd != -1)
		close(fd);
	teardown();
	return (ret);
}

/* Fields are checked against the command's list: name, type, needed. */
static const struct control_field typed_fields[] = {
	{ "name", CONTROL_F_STRING|CONTROL_F_NEEDED },
	{ "flag", CONTROL_F_BOOL },
	{ "count", CONTROL_F_INT },
	{ "hosts", CONTROL_F_STRINGS },
	{ "argv", CONTROL_F_ARGV },
	{ "env", CONTROL_F_OBJECT },
	{ NULL, 0 }
};
static int	typed_runs;

static void
cmd_typed(struct control_req *cr, json_t *req __unused)
{
	typed_runs++;
	control_req_ok(cr, json_object());
}

static int
test_fields(void)
{
	json_t		*r = NULL;
	int		 fd = -1, ret = -1;
	size_t		 i;
	const struct {
		const char	*line;
		const char	*error;
	} bad[] = {
		{ "{\"command\":\"typed\",\"name\":\"a\",\"flag\":\"yes\"}\n",
		    "typed: \"flag\" must be true or false" },
		{ "{\"command\":\"typed\",\"name\":\"a\",\"flag\":1}\n",
		    "typed: \"flag\" must be true or false" },
		{ "{\"command\":\"typed\",\"name\":7}\n",
		    "typed: \"name\" must be a string" },
		{ "{\"command\":\"typed\",\"name\":\"a\",\"count\":1.5}\n",
		    "typed: \"count\" must be a number" },
		{ "{\"command\":\"typed\",\"name\":\"a\",\"hosts\":[\"x\",2]}\n",
		    "typed: \"hosts\" must be a list of strings" },
		{ "{\"command\":\"typed\",\"name\":\"a\",\"hosts\":null}\n",
		    "typed: \"hosts\" must be a list of strings" },
		{ "{\"command\":\"typed\",\"name\":\"a\",\"argv\":\"ls\"}\n",
		    "typed: \"argv\" must be a list of strings or null" },
		{ "{\"command\":\"typed\",\"name\":\"a\",\"env\":[]}\n",
		    "typed: \"env\" must be an object" },
		{ "{\"command\":\"typed\",\"name\":\"a\",\"restricted\":true}\n",
		    "typed: unknown field \"restricted\"" },
		{ "{\"command\":\"typed\"}\n", "typed: \"name\" is needed" },
	};

	CHECK(setup() == 0);
	control_register("typed", cmd_typed, typed_fields);
	typed_runs = 0;
	CHECK((fd = client()) != -1);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = request(fd, bad[i].line);
		CHECK(r != NULL);
		CHECK(json_is_false(json_object_get(r, "ok")));
		CHECK_STR(field(r, "error"), bad[i].error);
		json_decref(r);
		r = NULL;
	}
	CHECK(typed_runs == 0);
	r = request(fd, "{\"command\":\"typed\",\"name\":\"a\",\"flag\":false,"
	    "\"count\":3,\"hosts\":[\"x\"],\"argv\":null,\"env\":{}}\n");
	CHECK(r != NULL);
	CHECK(json_is_true(json_object_get(r, "ok")));
	CHECK(typed_runs == 1);
	json_decref(r);
	/* A command registered without a list takes any field. */
	r = request(fd, "{\"command\":\"status\",\"anything\":[1]}\n");
	CHECK(r != NULL);
	CHECK(json_is_true(json_object_get(r, "ok")));
	ret = 0;
end:
	json_decref(r);
	if (fd != -1)
		close(fd);
	teardown();
	return (ret);
}

#define BIG	(2 * 1024 * 1024 + 4096)	/* over CONTROL_LINE_MAX */

/* A request line over the limit is refused and the client closed. */
static int
test_too_long(void)
{
	json_t	*r = NULL;
	char	*big;
	size_t	 off;
	ssize_t	 n;
	int	 fd = -1, ret = -1, spins;

	CHECK(setup() == 0);
	CHECK((fd = client()) != -1);
	CHECK((big = malloc(BIG)) != NULL);
	memset(big, 'a', BIG);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	/* Write while the loop reads, until sbxd stops taking it. */
	for (off = 0, spins = 0; off < BIG && spins < 200; spins++) {
		if ((n = write(fd, big + off, BIG - off)) > 0) {
			off += n;
			spins = 0;
		}
		event_base_loop(env.sx_base, EVLOOP_NONBLOCK);
	}
	free(big);
	fcntl(fd, F_SETFL, 0);
	r = read_reply(fd);
	CHECK(r != NULL);
	CHECK(strstr(field(r, "error"), "longer than") != NULL);
	ret = 0;
end:
	json_decref(r);
	if (fd != -1)
		close(fd);
	teardown();
	return (ret);
}

static int
test_reload_errors(void)
{
	json_t	*r = NULL;
	int	 fd = -1, ret = -1;

	CHECK(setup() == 0);
	CHECK((fd = client()) != -1);
	r = request(fd, "{\"command\":\"reload\"}\n");
	CHECK(json_is_false(json_object_get(r, "ok")));
	CHECK_STR(json_string_value(json_array_get(json_object_get(r,
	    "errors"), 0)), "t.conf:1: broken");
	CHECK(strstr(field(r, "error"), "kept") != NULL);
	ret = 0;
end:
	json_decref(r);
	if (fd != -1)
		close(fd);
	teardown();
	return (ret);
}

static int
test_events_follow(void)
{
	json_t	*r = NULL;
	int	 fd = -1, ret = -1;

	CHECK(setup() == 0);
	CHECK((fd = client()) != -1);
	r = request(fd, "{\"command\":\"events\"}\n");
	CHECK(json_is_true(json_object_get(r, "ok")));
	json_decref(r);
	events_publish("test.followed", json_pack("{s:s}", "k", "v"));
	r = read_reply(fd);
	CHECK(r != NULL);
	CHECK_STR(field(r, "type"), "test.followed");
	CHECK_STR(field(r, "k"), "v");
	CHECK(field(r, "time") != NULL);
	ret = 0;
end:
	json_decref(r);
	if (fd != -1)
		close(fd);
	teardown();
	return (ret);
}

/*
 * A follower that does not read loses events once its queue is full;
 * the loop never blocks, and the loss is reported in the stream and in
 * status.
 */
static int
test_slow_follower(void)
{
	json_t		*r = NULL, *st = NULL;
	char		 pad[1024];
	int		 fd = -1, i, ret = -1, dropped = 0;
	json_int_t	 lost = 0;

	CHECK(setup() == 0);
	CHECK((fd = client()) != -1);
	r = request(fd, "{\"command\":\"events\"}\n");
	CHECK(json_is_true(json_object_get(r, "ok")));
	json_decref(r);
	r = NULL;
	memset(pad, 'x', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	for (i = 0; i < 2000; i++) {
		events_publish("test.flood", json_pack("{s:i, s:s}", "n", i,
		    "pad", pad));
		event_base_loop(env.sx_base, EVLOOP_NONBLOCK);
	}
	st = control_status();
	CHECK(json_integer_value(json_object_get(st, "events_dropped")) > 0);
	/* Drain: the stream ends with a note of how many were lost. */
	for (i = 0; i < 4000; i++) {
		json_decref(r);
		if ((r = read_reply(fd)) == NULL)
			break;
		if (strcmp(field(r, "type"), "events.dropped") == 0) {
			dropped = 1;
			lost = json_integer_value(json_object_get(r,
			    "dropped"));
			break;
		}
	}
	CHECK(dropped);
	CHECK_INT(lost, json_integer_value(json_object_get(st,
	    "events_dropped")));
	ret = 0;
end:
	json_decref(r);
	json_decref(st);
	if (fd != -1)
		close(fd);
	teardown();
	return (ret);
}

/*
 * A request answered later: its progress comes at once, the answer when
 * it is done, and requests sent meanwhile wait their turn.
 */
static int
test_async(void)
{
	json_t	*r = NULL;
	int	 fd = -1, ret = -1;

	CHECK(setup() == 0);
	CHECK((fd = client()) != -1);
	r = request(fd, "{\"command\":\"slow\"}\n{\"command\":\"status\"}\n");
	CHECK_STR(field(r, "progress"), "working");
	CHECK(held != NULL);
	control_req_ok(held, json_pack("{s:i}", "n", 7));
	held = NULL;
	json_decref(r);
	r = read_reply(fd);
	CHECK(json_is_true(json_object_get(r, "ok")));
	CHECK_INT(json_integer_value(json_object_get(r, "n")), 7);
	json_decref(r);
	r = read_reply(fd);
	CHECK_STR(field(r, "version"), "test");
	ret = 0;
end:
	json_decref(r);
	if (fd != -1)
		close(fd);
	teardown();
	return (ret);
}

/* A client that leaves before its answer does not break the request. */
static int
test_async_gone(void)
{
	json_t	*r = NULL;
	int	 fd = -1, i, ret = -1;

	CHECK(setup() == 0);
	CHECK((fd = client()) != -1);
	r = request(fd, "{\"command\":\"slow\"}\n");
	CHECK(held != NULL);
	close(fd);
	fd = -1;
	for (i = 0; i < 100; i++)
		event_base_loop(env.sx_base, EVLOOP_NONBLOCK);
	control_req_error(held, "too late");
	held = NULL;
	ret = 0;
end:
	json_decref(r);
	if (fd != -1)
		close(fd);
	teardown();
	return (ret);
}

static const struct unit_test tests[] = {
	{ "async", test_async },
	{ "async_gone", test_async_gone },
	{ "socket_mode", test_socket_mode },
	{ "socket_in_use", test_socket_in_use },
	{ "socket_not_socket", test_socket_not_socket },
	{ "status", test_status },
	{ "malformed", test_malformed },
	{ "fields", test_fields },
	{ "too_long", test_too_long },
	{ "reload_errors", test_reload_errors },
	{ "events_follow", test_events_follow },
	{ "slow_follower", test_slow_follower },
};

UNIT_MAIN("control", tests)
