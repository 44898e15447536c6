/*
 * test_store.c: the SQLite store: file modes, WAL, migrations, batched
 * event writes that survive a reopen, and clear refusals of a locked,
 * corrupt or newer database; sandbox rows and the gateway's accounting.
 */

#include <sys/types.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>
#include <sqlite3.h>

#include "config.h"
#include "sbxd.h"
#include "unit.h"

static struct sbxd	 env;

static char *
setup(void)
{
	char	*dir;

	if (env.sx_base == NULL)
		env.sx_base = event_base_new();
	sbxd_env = &env;
	if ((dir = unit_tmpdir()) == NULL)
		return (NULL);
	return (dir);
}

/* One integer from the database at path, or -1. */
static long long
query_int(const char *dir, const char *sql)
{
	sqlite3		*db = NULL;
	sqlite3_stmt	*st;
	char		*path;
	long long	 v = -1;

	if (asprintf(&path, "%s/sbxd.db", dir) == -1)
		return (-1);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) ==
	    SQLITE_OK && sqlite3_prepare_v2(db, sql, -1, &st, NULL) ==
	    SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	free(path);
	return (v);
}

/* Run sql on the database in dir, beside the store's own handle. */
static int
exec_sql(const char *dir, const char *sql)
{
	sqlite3		*db = NULL;
	char		*path;
	int		 rc;

	if (asprintf(&path, "%s/sbxd.db", dir) == -1)
		return (-1);
	rc = sqlite3_open(path, &db) == SQLITE_OK &&
	    sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
	sqlite3_close(db);
	free(path);
	return (rc);
}

static int
test_open_modes(void)
{
	struct stat	 st;
	char		*dir, *path = NULL;
	json_t		*status = NULL;
	int		 ret = -1;

	CHECK((dir = setup()) != NULL);
	CHECK(asprintf(&path, "%s/state", dir) != -1);
	CHECK(store_open(path, 0700) == 0);
	free(path);
	CHECK(asprintf(&path, "%s/state/sbxd.db", dir) != -1);
	CHECK(stat(path, &st) == 0);
	CHECK_INT(st.st_mode & 0777, 0600);
	status = store_status();
	CHECK_STR(json_string_value(json_object_get(status, "state")), "up");
	CHECK_INT(json_integer_value(json_object_get(status,
	    "schema_version")), 11);
	store_close();
	free(path);
	CHECK(asprintf(&path, "%s/state", dir) != -1);
	CHECK_INT(query_int(path, "SELECT version FROM schema_version"), 11);
	CHECK_INT(query_int(path, "SELECT count(*) FROM sqlite_master WHERE "
	    "name = 'events'"), 1);
	ret = 0;
end:
	json_decref(status);
	store_close();
	free(path);
	unit_rmtree(dir);
	free(dir);
	return (ret);
}

/* A database file with loose permissions is tightened. */
static int
test_tighten_mode(void)
{
	struct stat	 st;
	char		*dir, *path = NULL;
	int		 fd, ret = -1;

	CHECK((dir = setup()) != NULL);
	CHECK(asprintf(&path, "%s/sbxd.db", dir) != -1);
	CHECK((fd = open(path, O_CREAT | O_WRONLY, 0644)) != -1);
	close(fd);
	CHECK(chmod(path, 0644) == 0);
	CHECK(store_open(dir, 0700) == 0);
	CHECK(stat(path, &st) == 0);
	CHECK_INT(st.st_mode & 0777, 0600);
	ret = 0;
end:
	store_close();
	free(path);
	unit_rmtree(dir);
	free(dir);
	return (ret);
}

/* Events are written in batches and read back in order after a reopen. */
static int
test_events_written(void)
{
	json_t	*list = NULL;
	char	*dir;
	int	 i, ret = -1;

	CHECK((dir = setup()) != NULL);
	CHECK(store_open(dir, 0700) == 0);
	for (i = 0; i < 1500; i++)
		events_publish("test.stored", json_pack("{s:i}", "n", i));
	for (i = 0; i < 10 && store_flush() == -1; i++)
		;	/* batches of STORE_BATCH_MAX */
	CHECK(store_flush() == 0);
	store_close();
	CHECK(store_open(dir, 0700) == 0);
	list = store_events_recent(3, NULL, NULL);
	CHECK(list != NULL);
	CHECK_INT(json_array_size(list), 3);
	CHECK_INT(json_integer_value(json_object_get(json_array_get(list, 0),
	    "n")), 1497);
	CHECK_INT(json_integer_value(json_object_get(json_array_get(list, 2),
	    "n")), 1499);
	CHECK_STR(json_string_value(json_object_get(json_array_get(list, 2),
	    "type")), "test.stored");
	json_decref(list);
	/* Filtered: by sandbox, by type and the types below it. */
	events_publish("test.other", json_pack("{s:s}", "sandbox", "a"));
	events_publish("test.stored.more", json_pack("{s:s}", "sandbox", "b"));
	events_publish("test.storedx", json_pack("{s:s}", "sandbox", "a"));
	CHECK(store_flush() == 0);
	list = store_events_recent(10, "a", NULL);
	CHECK_INT(json_array_size(list), 2);
	CHECK_STR(json_string_value(json_object_get(json_array_get(list, 0),
	    "type")), "test.other");
	json_decref(list);
	list = store_events_recent(2, NULL, "test.stored");
	CHECK_INT(json_array_size(list), 2);
	CHECK_INT(json_integer_value(json_object_get(json_array_get(list, 0),
	    "n")), 1499);
	CHECK_STR(json_string_value(json_object_get(json_array_get(list, 1),
	    "type")), "test.stored.more");
	json_decref(list);
	list = store_events_recent(10, "a", "test.stored");
	CHECK_INT(json_array_size(list), 0);
	ret = 0;
end:
	json_decref(list);
	store_close();
	unit_rmtree(dir);
	free(dir);
	return (ret);
}

/* What is still queued at close is written, not lost. */
static int
test_close_flushes(void)
{
	char	*dir;
	int	 ret = -1;

	CHECK((dir = setup()) != NULL);
	CHECK(store_open(dir, 0700) == 0);
	events_publish("test.last", NULL);
	store_close();
	CHECK_INT(query_int(dir, "SELECT count(*) FROM events WHERE type = "
	    "'test.last'"), 1);
	ret = 0;
end:
	store_close();
	unit_rmtree(dir);
	free(dir);
	return (ret);
}

/* A second daemon on the same state directory is refused. */
static int
test_locked(void)
{
	json_t	*status = NULL;
	char	*dir, *path = NULL;
	int	 fd = -1, ret = -1;

	CHECK((dir = setup()) != NULL);
	CHECK(asprintf(&path, "%s/sbxd.lock", dir) != -1);
	CHECK((fd = open(path, O_CREAT | O_RDWR, 0600)) != -1);
	CHECK(flock(fd, LOCK_EX | LOCK_NB) == 0);
	CHECK(store_open(dir, 0700) == -1);
	status = store_status();
	CHECK_STR(json_string_value(json_object_get(status, "state")), "down");
	ret = 0;
end:
	json_decref(status);
	if (fd != -1)
		close(fd);
	store_close();
	free(path);
	unit_rmtree(dir);
	free(dir);
	return (ret);
}

static int
test_corrupt(void)
{
	char	*dir, *path = NULL, junk[8192], back[8192];
	FILE	*fp = NULL;
	int	 ret = -1;

	CHECK((dir = setup()) != NULL);
	CHECK(asprintf(&path, "%s/sbxd.db", dir) != -1);
	memset(junk, 'x', sizeof(junk) - 1);
	junk[sizeof(junk) - 1] = '\0';
	CHECK(unit_write(path, junk) == 0);
	CHECK(store_open(dir, 0700) == -1);
	/* Refused, and left exactly as it was. */
	CHECK((fp = fopen(path, "r")) != NULL);
	CHECK(fread(back, 1, sizeof(back), fp) == sizeof(junk) - 1);
	CHECK(memcmp(back, junk, sizeof(junk) - 1) == 0);
	ret = 0;
end:
	if (fp != NULL)
		fclose(fp);
	store_close();
	free(path);
	unit_rmtree(dir);
	free(dir);
	return (ret);
}

/* A database from a newer sbxd is refused, not downgraded. */
static int
test_newer_schema(void)
{
	sqlite3	*db = NULL;
	char	*dir, *path = NULL;
	int	 ret = -1;

	CHECK((dir = setup()) != NULL);
	CHECK(store_open(dir, 0700) == 0);
	store_close();
	CHECK(asprintf(&path, "%s/sbxd.db", dir) != -1);
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db, "UPDATE schema_version SET version = 999",
	    NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	db = NULL;
	CHECK(store_open(dir, 0700) == -1);
	ret = 0;
end:
	sqlite3_close(db);
	store_close();
	free(path);
	unit_rmtree(dir);
	free(dir);
	return (ret);
}

/* A state path that is a file is a startup error. */
static int
test_state_not_dir(void)
{
	char	*dir, *path = NULL;
	int	 ret = -1;

	CHECK((dir = setup()) != NULL);
	CHECK(asprintf(&path, "%s/file", dir) != -1);
	CHECK(unit_write(path, "x") == 0);
	CHECK(store_open(path, 0700) == -1);
	ret = 0;
end:
	store_close();
	free(path);
	unit_rmtree(dir);
	free(dir);
	return (ret);
}

/* Runtime rules: put replaces, list is per listener, delete forgets. */
static int
test_rules(void)
{
	json_t	*list = NULL;
	char	*dir;
	int	 ret = -1;

	CHECK((dir = setup()) != NULL);
	CHECK(store_open(dir, 0700) == 0);
	CHECK(store_rule_put("127.0.0.1:3128", "github.com", "allow", 0) == 0);
	CHECK(store_rule_put("127.0.0.1:3128", "*.npmjs.org", "allow", 0) == 0);
	CHECK(store_rule_put("other", "x.example", "block", 0) == 0);
	CHECK(store_rule_put("127.0.0.1:3128", "github.com", "block", 0) == 0);
	CHECK(store_rule_put("other", "y.example", "maybe", 0) == -1);
	store_close();
	CHECK(store_open(dir, 0700) == 0);
	list = store_rule_list("127.0.0.1:3128");
	CHECK_INT(json_array_size(list), 2);
	CHECK_STR(json_string_value(json_object_get(json_array_get(list, 1),
	    "action")), "block");
	json_decref(list);
	CHECK(store_rule_delete("127.0.0.1:3128", "github.com") == 0);
	list = store_rule_list("127.0.0.1:3128");
	CHECK_INT(json_array_size(list), 1);
	CHECK_STR(json_string_value(json_object_get(json_array_get(list, 0),
	    "pattern")), "*.npmjs.org");
	json_decref(list);
	CHECK(store_rule_delete("other", NULL) == 0);
	list = store_rule_list("other");
	CHECK_INT(json_array_size(list), 0);
	json_decref(list);
	/* A lifetime: kept, given back, and gone when replaced by none. */
	CHECK(store_rule_put("life", "a.example", "allow", 2000000000) == 0);
	list = store_rule_list("life");
	CHECK_INT(json_array_size(list), 1);
	CHECK_INT(json_integer_value(json_object_get(json_object_get(
	    json_array_get(list, 0), "expires"), "seconds")), 2000000000);
	CHECK_STR(json_string_value(json_object_get(json_object_get(
	    json_array_get(list, 0), "expires"), "at")),
	    "2033-05-18T03:33:20.000Z");
	json_decref(list);
	CHECK(store_rule_put("life", "a.example", "allow", 0) == 0);
	list = store_rule_list("life");
	CHECK(json_is_null(json_object_get(json_array_get(list, 0),
	    "expires")));
	ret = 0;
end:
	json_decref(list);
	store_close();
	unit_rmtree(dir);
	free(dir);
	return (ret);
}

/*
 * A database of schema 4 takes step 5: its rules stay, for good, and a
 * lifetime put afterwards is kept across a reopen.
 */
static int
test_migrate_rules(void)
{
	sqlite3	*db = NULL;
	json_t	*list = NULL, *r;
	char	*dir, *path = NULL;
	int	 ret = -1;

	CHECK((dir = setup()) != NULL);
	CHECK(asprintf(&path, "%s/sbxd.db", dir) != -1);
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db, "CREATE TABLE schema_version (version INTEGER "
	    "NOT NULL); INSERT INTO schema_version VALUES (4);"
	    "CREATE TABLE events (id INTEGER PRIMARY KEY, time TEXT NOT NULL,"
	    " type TEXT NOT NULL, data TEXT NOT NULL);"
	    "CREATE TABLE listener_rules (listener TEXT NOT NULL, pattern TEXT "
	    "NOT NULL, action TEXT NOT NULL CHECK (action IN ('allow', "
	    "'block')), created TEXT NOT NULL, PRIMARY KEY (listener, "
	    "pattern));"
	    "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT "
	    "NULL);"
	    "CREATE TABLE sandboxes (id TEXT PRIMARY KEY, name TEXT NOT NULL "
	    "UNIQUE, uid INTEGER NOT NULL UNIQUE, state TEXT NOT NULL, "
	    "restricted INTEGER NOT NULL CHECK (restricted IN (0, 1)), policy "
	    "TEXT NOT NULL, port INTEGER NOT NULL UNIQUE, created_at TEXT NOT "
	    "NULL);"
	    "INSERT INTO listener_rules VALUES ('one', 'github.com', 'allow', "
	    "'2026-11-23T10:00:00.000Z');", NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	db = NULL;
	CHECK(store_open(dir, 0700) == 0);
	CHECK_INT(query_int(dir, "SELECT version FROM schema_version"), 11);
	list = store_rule_list("one");
	CHECK_INT(json_array_size(list), 1);
	r = json_array_get(list, 0);
	CHECK_STR(json_string_value(json_object_get(r, "pattern")),
	    "github.com");
	CHECK_STR(json_string_value(json_object_get(r, "created")),
	    "2026-11-23T10:00:00.000Z");
	CHECK(json_is_null(json_object_get(r, "expires")));
	json_decref(list);
	list = NULL;
	CHECK(store_rule_put("one", "pypi.org", "block", 1900000000) == 0);
	store_close();
	CHECK(store_open(dir, 0700) == 0);
	CHECK_INT(query_int(dir, "SELECT expires FROM listener_rules WHERE "
	    "pattern = 'pypi.org'"), 1900000000);
	CHECK_INT(query_int(dir, "SELECT count(*) FROM listener_rules WHERE "
	    "expires IS NULL"), 1);
	list = store_rule_list("one");
	CHECK_INT(json_array_size(list), 2);
	CHECK_STR(json_string_value(json_object_get(json_object_get(
	    json_array_get(list, 1), "expires"), "at")),
	    "2030-03-17T17:46:40.000Z");
	ret = 0;
end:
	sqlite3_close(db);
	json_decref(list);
	store_close();
	free(path);
	unit_rmtree(dir);
	free(dir);
	return (ret);
}

/*
 * Sandbox rows: put replaces, a state change sticks across a reopen,
 * uid and port are unique, delete takes the sandbox's rules with it.
 */
static int
test_sandboxes(void)
{
	json_t	*row = NULL, *list = NULL;
	char	*dir;
	int	 ret = -1;

	CHECK((dir = setup()) != NULL);
	CHECK(store_open(dir, 0700) == 0);
	row = json_pack("{s:s, s:s, s:i, s:s, s:b, s:s, s:i, s:s}", "id",
	    "0b6f4a52-9c1e-4c55-8f0e-3c1d2e4f5a6b", "name", "one", "uid", 60100,
	    "state", "creating", "restricted", 1, "policy", "default", "port",
	    42100, "created_at", "2026-11-23T10:00:00.000Z");
	CHECK(store_sandbox_put(row) == 0);
	CHECK(store_sandbox_state("one", "ready") == 0);
	CHECK(store_rule_put("one", "github.com", "allow", 0) == 0);
	json_object_set_new(row, "id", json_string("other-id"));
	json_object_set_new(row, "name", json_string("two"));
	CHECK(store_sandbox_put(row) == -1);	/* same uid and port */
	json_object_set_new(row, "uid", json_integer(60101));
	json_object_set_new(row, "port", json_integer(42101));
	json_object_set_new(row, "restricted", json_false());
	CHECK(store_sandbox_put(row) == 0);
	store_close();
	CHECK(store_open(dir, 0700) == 0);
	list = store_sandbox_list();
	CHECK_INT(json_array_size(list), 2);
	CHECK_STR(json_string_value(json_object_get(json_array_get(list, 0),
	    "state")), "ready");
	CHECK(json_is_true(json_object_get(json_array_get(list, 0),
	    "restricted")));
	CHECK(json_is_false(json_object_get(json_array_get(list, 1),
	    "restricted")));
	CHECK_INT(json_integer_value(json_object_get(json_array_get(list, 1),
	    "port")), 42101);
	json_decref(list);
	CHECK(store_sandbox_delete("one") == 0);
	list = store_sandbox_list();
	CHECK_INT(json_array_size(list), 1);
	json_decref(list);
	list = store_rule_list("one");
	CHECK_INT(json_array_size(list), 0);
	ret = 0;
end:
	json_decref(row);
	json_decref(list);
	store_close();
	unit_rmtree(dir);
	free(dir);
	return (ret);
}

/* A setting is kept across a reopen; a missing one is 0, not an error. */
static int
test_settings(void)
{
	char	*dir, buf[32];
	int	 ret = -1;

	CHECK((dir = setup()) != NULL);
	CHECK(store_open(dir, 0700) == 0);
	CHECK(store_setting_get("sandbox.uid_next", buf, sizeof(buf)) == 0);
	CHECK(store_setting_put("sandbox.uid_next", "60101") == 0);
	CHECK(store_setting_put("sandbox.uid_next", "60102") == 0);
	store_close();
	CHECK(store_open(dir, 0700) == 0);
	CHECK(store_setting_get("sandbox.uid_next", buf, sizeof(buf)) == 1);
	CHECK_STR(buf, "60102");
	ret = 0;
end:
	store_close();
	unit_rmtree(dir);
	free(dir);
	return (ret);
}

/*
 * Questions: ids never reused, decisions kept, a question left open by
 * a stopped sbxd marked expired, listed newest first.
 */
static int
test_asks(void)
{
	char	*dir;
	json_t	*row = NULL, *list = NULL;
	int64_t	 a, b, c;
	int	 ret = -1;

	CHECK((dir = setup()) != NULL);
	CHECK(store_open(dir, 0700) == 0);
	CHECK((a = store_ask_add("sb1", "sb1", "CONNECT", "x.test", 443)) > 0);
	CHECK((b = store_ask_add("sb1", "sb1", "GET", "y.test", 80)) > a);
	CHECK(store_ask_decided(a, "once", "zulip:Alice (a@x, id 1)",
	    "x.test:443", 3) == 0);
	CHECK(store_ask_decided(b, "maybe", NULL, NULL, 1) == -1);
	store_close();
	CHECK(store_open(dir, 0700) == 0);
	CHECK(store_asks_orphaned() == 0);
	CHECK((row = store_ask_get(b)) != NULL);
	CHECK_STR(json_string_value(json_object_get(row, "decision")),
	    "expired");
	CHECK_STR(json_string_value(json_object_get(row, "by")),
	    "sbxd stopped");
	json_decref(row);
	row = NULL;
	CHECK((row = store_ask_get(a)) != NULL);
	CHECK_STR(json_string_value(json_object_get(row, "decision")), "once");
	CHECK_STR(json_string_value(json_object_get(row, "rule")),
	    "x.test:443");
	CHECK_INT(json_integer_value(json_object_get(row, "waiting")), 3);
	CHECK_INT(json_integer_value(json_object_get(row, "port")), 443);
	CHECK(store_ask_get(b + 100) == NULL);
	CHECK((c = store_ask_add("sb2", NULL, "GET", "z.test", 80)) > b);
	CHECK((list = store_ask_list("sb1", 10)) != NULL);
	CHECK_INT(json_array_size(list), 2);
	CHECK_INT(json_integer_value(json_object_get(json_array_get(list, 0),
	    "id")), b);
	json_decref(list);
	list = NULL;
	CHECK((list = store_ask_list("sb2", 10)) != NULL);
	CHECK_INT(json_array_size(list), 0);	/* open: not a decision */
	ret = 0;
end:
	json_decref(row);
	json_decref(list);
	store_close();
	unit_rmtree(dir);
	free(dir);
	return (ret);
}

/*
 * A sandbox's gateway: port, providers and phantom key stored and
 * listed back, absent from the list when NULL; the port is unique and
 * a member of the wrong type is refused.
 */
static int
test_sandbox_gateway(void)
{
	json_t	*row = NULL, *list = NULL, *sb;
	char	*dir;
	int	 ret = -1;

	CHECK((dir = setup()) != NULL);
	CHECK(store_open(dir, 0700) == 0);
	row = json_pack("{s:s, s:s, s:i, s:s, s:b, s:s, s:i, s:s, s:i, "
	    "s:[s, s], s:s}", "id", "id-one", "name", "one", "uid", 60100,
	    "state", "ready", "restricted", 1, "policy", "default", "port",
	    42100, "created_at", "2026-12-05T10:00:00.000Z", "gateway_port",
	    701, "providers", "anthropic", "openai", "phantom",
	    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
	CHECK(store_sandbox_put(row) == 0);
	CHECK_INT(query_int(dir, "SELECT count(*) FROM sandboxes WHERE "
	    "providers = '[\"anthropic\",\"openai\"]'"), 1);
	/* Another sandbox on the same gateway port. */
	json_object_set_new(row, "id", json_string("id-two"));
	json_object_set_new(row, "name", json_string("two"));
	json_object_set_new(row, "uid", json_integer(60101));
	json_object_set_new(row, "port", json_integer(42101));
	CHECK(store_sandbox_put(row) == -1);
	/* Without a gateway: NULL columns. */
	json_object_del(row, "gateway_port");
	json_object_set_new(row, "phantom", json_null());
	json_object_set_new(row, "providers", json_array());
	CHECK(store_sandbox_put(row) == 0);
	json_object_set_new(row, "id", json_string("id-three"));
	json_object_set_new(row, "name", json_string("three"));
	json_object_set_new(row, "uid", json_integer(60102));
	json_object_set_new(row, "port", json_integer(42102));
	json_object_del(row, "providers");
	json_object_del(row, "phantom");
	CHECK(store_sandbox_put(row) == 0);
	/* Wrong types change nothing. */
	json_object_set_new(row, "providers", json_string("anthropic"));
	CHECK(store_sandbox_put(row) == -1);
	json_object_set_new(row, "providers", json_pack("[i]", 1));
	CHECK(store_sandbox_put(row) == -1);
	json_object_del(row, "providers");
	json_object_set_new(row, "gateway_port", json_string("702"));
	CHECK(store_sandbox_put(row) == -1);
	json_object_set_new(row, "gateway_port", json_null());
	json_object_set_new(row, "phantom", json_integer(1));
	CHECK(store_sandbox_put(row) == -1);
	store_close();
	CHECK(store_open(dir, 0700) == 0);
	list = store_sandbox_list();
	CHECK_INT(json_array_size(list), 3);
	sb = json_array_get(list, 0);
	CHECK_STR(json_string_value(json_object_get(sb, "name")), "one");
	CHECK_INT(json_integer_value(json_object_get(sb, "gateway_port")),
	    701);
	CHECK_INT(json_array_size(json_object_get(sb, "providers")), 2);
	CHECK_STR(json_string_value(json_array_get(json_object_get(sb,
	    "providers"), 1)), "openai");
	CHECK_INT(json_string_length(json_object_get(sb, "phantom")), 64);
	sb = json_array_get(list, 1);
	CHECK_STR(json_string_value(json_object_get(sb, "name")), "three");
	CHECK(json_object_get(sb, "gateway_port") == NULL);
	CHECK(json_object_get(sb, "providers") == NULL);
	CHECK(json_object_get(sb, "phantom") == NULL);
	sb = json_array_get(list, 2);
	CHECK_STR(json_string_value(json_object_get(sb, "name")), "two");
	CHECK(json_is_array(json_object_get(sb, "providers")));
	CHECK_INT(json_array_size(json_object_get(sb, "providers")), 0);
	CHECK(json_object_get(sb, "phantom") == NULL);
	/* A put without the members clears them: the row is the whole. */
	json_decref(row);
	row = json_deep_copy(json_array_get(list, 0));
	json_object_del(row, "providers");
	json_object_del(row, "phantom");
	CHECK(store_sandbox_put(row) == 0);
	CHECK_INT(query_int(dir, "SELECT count(*) FROM sandboxes WHERE "
	    "name = 'one' AND providers IS NULL AND phantom IS NULL AND "
	    "gateway_port = 701"), 1);
	ret = 0;
end:
	json_decref(row);
	json_decref(list);
	store_close();
	unit_rmtree(dir);
	free(dir);
	return (ret);
}

/*
 * A sandbox's GitHub repositories and push globs: stored and listed
 * back, absent from the list when NULL, refused when not arrays of
 * strings, cleared by a put without them; a database of schema 10 takes
 * step 11 with its sandboxes kept.
 */
static int
test_sandbox_github(void)
{
	json_t	*row = NULL, *list = NULL, *sb;
	char	*dir;
	int	 ret = -1;

	CHECK((dir = setup()) != NULL);
	CHECK(store_open(dir, 0700) == 0);
	store_close();
	/* The sandboxes table as schema 10 left it, with a row. */
	CHECK(exec_sql(dir, "DROP TABLE sandboxes;"
	    "CREATE TABLE sandboxes (id TEXT PRIMARY KEY, name TEXT NOT NULL "
	    "UNIQUE, uid INTEGER NOT NULL UNIQUE, state TEXT NOT NULL, "
	    "restricted INTEGER NOT NULL CHECK (restricted IN (0, 1)), policy "
	    "TEXT NOT NULL, port INTEGER NOT NULL UNIQUE, created_at TEXT NOT "
	    "NULL, agent TEXT, gateway_port INTEGER, providers TEXT, phantom "
	    "TEXT);"
	    "CREATE UNIQUE INDEX sandboxes_gateway_port ON sandboxes "
	    "(gateway_port);"
	    "INSERT INTO sandboxes (id, name, uid, state, restricted, policy, "
	    "port, created_at, providers) VALUES ('id-old', 'old', 60099, "
	    "'ready', 1, 'default', 42099, '2026-12-01T10:00:00.000Z', "
	    "'[\"anthropic\"]');"
	    "UPDATE schema_version SET version = 10;") == 0);
	CHECK(store_open(dir, 0700) == 0);
	CHECK_INT(query_int(dir, "SELECT version FROM schema_version"), 11);
	CHECK_INT(query_int(dir, "SELECT count(*) FROM sandboxes WHERE "
	    "name = 'old' AND repos IS NULL AND push_branches IS NULL"), 1);
	row = json_pack("{s:s, s:s, s:i, s:s, s:b, s:s, s:i, s:s, "
	    "s:[s, s], s:[s]}", "id", "id-one", "name", "one", "uid", 60100,
	    "state", "ready", "restricted", 1, "policy", "default", "port",
	    42100, "created_at", "2026-12-05T10:00:00.000Z", "repos",
	    "octo/app", "octo/lib.js", "push_branches", "refs/heads/sbx/one/*");
	CHECK(store_sandbox_put(row) == 0);
	CHECK_INT(query_int(dir, "SELECT count(*) FROM sandboxes WHERE "
	    "repos = '[\"octo/app\",\"octo/lib.js\"]' AND push_branches = "
	    "'[\"refs/heads/sbx/one/*\"]' AND providers IS NULL"), 1);
	/* Wrong types change nothing. */
	json_object_set_new(row, "repos", json_string("octo/app"));
	CHECK(store_sandbox_put(row) == -1);
	json_object_set_new(row, "repos", json_pack("[s, i]", "octo/app", 1));
	CHECK(store_sandbox_put(row) == -1);
	json_object_set_new(row, "repos", json_null());
	json_object_set_new(row, "push_branches", json_object());
	CHECK(store_sandbox_put(row) == -1);
	json_object_set_new(row, "push_branches", json_pack("[n]"));
	CHECK(store_sandbox_put(row) == -1);
	/* Another sandbox: null and empty. */
	json_object_set_new(row, "id", json_string("id-two"));
	json_object_set_new(row, "name", json_string("two"));
	json_object_set_new(row, "uid", json_integer(60101));
	json_object_set_new(row, "port", json_integer(42101));
	json_object_set_new(row, "push_branches", json_array());
	CHECK(store_sandbox_put(row) == 0);
	store_close();
	CHECK(store_open(dir, 0700) == 0);
	list = store_sandbox_list();
	CHECK_INT(json_array_size(list), 3);
	sb = json_array_get(list, 0);
	CHECK_STR(json_string_value(json_object_get(sb, "name")), "old");
	CHECK(json_object_get(sb, "repos") == NULL);
	CHECK(json_object_get(sb, "push_branches") == NULL);
	CHECK_INT(json_array_size(json_object_get(sb, "providers")), 1);
	sb = json_array_get(list, 1);
	CHECK_STR(json_string_value(json_object_get(sb, "name")), "one");
	CHECK_INT(json_array_size(json_object_get(sb, "repos")), 2);
	CHECK_STR(json_string_value(json_array_get(json_object_get(sb,
	    "repos"), 1)), "octo/lib.js");
	CHECK_INT(json_array_size(json_object_get(sb, "push_branches")), 1);
	CHECK_STR(json_string_value(json_array_get(json_object_get(sb,
	    "push_branches"), 0)), "refs/heads/sbx/one/*");
	CHECK(json_object_get(sb, "providers") == NULL);
	sb = json_array_get(list, 2);
	CHECK_STR(json_string_value(json_object_get(sb, "name")), "two");
	CHECK(json_object_get(sb, "repos") == NULL);
	CHECK(json_is_array(json_object_get(sb, "push_branches")));
	CHECK_INT(json_array_size(json_object_get(sb, "push_branches")), 0);
	/* A put without the members clears them: the row is the whole. */
	json_decref(row);
	row = json_deep_copy(json_array_get(list, 1));
	json_object_del(row, "repos");
	json_object_del(row, "push_branches");
	CHECK(store_sandbox_put(row) == 0);
	CHECK_INT(query_int(dir, "SELECT count(*) FROM sandboxes WHERE "
	    "name = 'one' AND repos IS NULL AND push_branches IS NULL"), 1);
	ret = 0;
end:
	json_decref(row);
	json_decref(list);
	store_close();
	unit_rmtree(dir);
	free(dir);
	return (ret);
}

/* A gateway accounting row for sandbox, provider and model. */
static json_t *
usage_row(const char *sandbox, const char *provider, const char *model,
    int status, int input, int output, double cost, int charged)
{
	json_t	*row;

	row = json_pack("{s:s, s:s, s:s?, s:s, s:s, s:i, s:i, s:i, s:i, "
	    "s:i, s:b, s:b}", "sandbox", sandbox, "provider", provider,
	    "model", model, "endpoint", "messages", "path", "/v1/messages",
	    "status", status, "input", input, "output", output, "charged",
	    charged, "bytes_up", 100, "truncated", status == 0,
	    "usage_missing", input == 0);
	if (row != NULL && cost >= 0)
		json_object_set_new(row, "cost", json_real(cost));
	return (row);
}

/*
 * store_usage_add: defaults for the counts left out, the time now in
 * the store's form; a row without a needed member, or with a member of
 * the wrong type or a negative count, refused.
 */
static int
test_usage_add(void)
{
	json_t	*row = NULL;
	char	*dir;
	int	 ret = -1;

	CHECK((dir = setup()) != NULL);
	CHECK(store_open(dir, 0700) == 0);
	row = json_pack("{s:s, s:s, s:s, s:s, s:i}", "sandbox", "one",
	    "provider", "anthropic", "endpoint", "messages", "path",
	    "/v1/messages", "status", 200);
	CHECK(store_usage_add(row) == 0);
	CHECK_INT(query_int(dir, "SELECT count(*) FROM api_usage WHERE "
	    "model IS NULL AND cost IS NULL AND session IS NULL AND input = 0 "
	    "AND cached = 0 AND cache_creation = 0 AND output = 0 AND "
	    "reasoning = 0 AND reserved = 0 AND charged = 0 AND bytes_up = 0 "
	    "AND bytes_down = 0 AND duration_ms = 0 AND truncated = 0 AND "
	    "usage_missing = 0"), 1);
	CHECK_INT(query_int(dir, "SELECT count(*) FROM api_usage WHERE "
	    "time GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:"
	    "[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9]Z'"), 1);
	json_object_set_new(row, "model", json_string("claude-x"));
	json_object_set_new(row, "cost", json_integer(1));
	json_object_set_new(row, "truncated", json_true());
	json_object_set_new(row, "session", json_string("s1"));
	json_object_set_new(row, "reasoning", json_integer(7));
	json_object_set_new(row, "ignored", json_string("x"));
	CHECK(store_usage_add(row) == 0);
	CHECK_INT(query_int(dir, "SELECT count(*) FROM api_usage WHERE "
	    "model = 'claude-x' AND cost = 1.0 AND truncated = 1 AND "
	    "session = 's1' AND reasoning = 7"), 1);
	json_object_set_new(row, "truncated", json_integer(1));
	CHECK(store_usage_add(row) == -1);
	json_object_set_new(row, "truncated", json_false());
	json_object_set_new(row, "input", json_integer(-1));
	CHECK(store_usage_add(row) == -1);
	json_object_set_new(row, "input", json_real(1.5));
	CHECK(store_usage_add(row) == -1);
	json_object_set_new(row, "input", json_integer(1));
	json_object_set_new(row, "cost", json_string("0.1"));
	CHECK(store_usage_add(row) == -1);
	json_object_set_new(row, "cost", json_null());
	json_object_set_new(row, "status", json_string("200"));
	CHECK(store_usage_add(row) == -1);
	json_object_set_new(row, "status", json_integer(200));
	json_object_del(row, "path");
	CHECK(store_usage_add(row) == -1);
	json_object_set_new(row, "path", json_null());
	CHECK(store_usage_add(row) == -1);
	json_object_set_new(row, "path", json_string("/v1/messages"));
	json_object_set_new(row, "model", json_integer(3));
	CHECK(store_usage_add(row) == -1);
	CHECK(store_usage_add(NULL) == -1);
	CHECK_INT(query_int(dir, "SELECT count(*) FROM api_usage"), 2);
	ret = 0;
end:
	json_decref(row);
	store_close();
	unit_rmtree(dir);
	free(dir);
	return (ret);
}

/* Add row and drop the reference; 0 or -1. */
static int
usage_add(json_t *row)
{
	int	 r = row != NULL ? store_usage_add(row) : -1;

	json_decref(row);
	return (r);
}

/*
 * store_usage_sum: a row per sandbox, provider and model in that
 * order, a missing model as "", errors (0 and 400 up), cost null when
 * no request had one, the since filter in any RFC 3339 form; and
 * store_usage_charged per sandbox and provider.
 */
static int
test_usage_sum(void)
{
	json_t	*list = NULL, *o;
	char	*dir;
	int	 ret = -1;

	CHECK((dir = setup()) != NULL);
	CHECK(store_open(dir, 0700) == 0);
	list = store_usage_sum(NULL, NULL);
	CHECK(json_is_array(list));
	CHECK_INT(json_array_size(list), 0);
	json_decref(list);
	list = NULL;
	CHECK_INT(store_usage_charged("b", "openai", NULL), 0);
	/* ids 1 to 7 */
	CHECK(usage_add(usage_row("b", "openai", "gpt-x", 200, 10, 5, 0.5,
	    15)) == 0);
	CHECK(usage_add(usage_row("b", "openai", "gpt-x", 429, 0, 0, -1,
	    0)) == 0);
	CHECK(usage_add(usage_row("b", "openai", "gpt-x", 0, 20, 1, 0.25,
	    21)) == 0);
	CHECK(usage_add(usage_row("a", "openai", "gpt-x", 200, 1, 1, -1,
	    2)) == 0);
	CHECK(usage_add(usage_row("a", "anthropic", "claude-y", 500, 3, 0,
	    -1, 3)) == 0);
	CHECK(usage_add(usage_row("a", "anthropic", NULL, 404, 0, 0, -1,
	    0)) == 0);
	CHECK(usage_add(usage_row("b", "anthropic", "claude-y", 200, 100, 50,
	    1.0, 150)) == 0);
	CHECK(exec_sql(dir, "UPDATE api_usage SET time = "
	    "'2026-12-01T10:00:00.000Z' WHERE id IN (1, 4);"
	    "UPDATE api_usage SET time = '2026-12-05T09:59:59.999Z' WHERE "
	    "id = 2; UPDATE api_usage SET time = '2026-12-05T10:00:00.000Z' "
	    "WHERE id IN (3, 5, 6, 7);") == 0);

	CHECK((list = store_usage_sum(NULL, NULL)) != NULL);
	CHECK_INT(json_array_size(list), 5);
	o = json_array_get(list, 0);
	CHECK_STR(json_string_value(json_object_get(o, "sandbox")), "a");
	CHECK_STR(json_string_value(json_object_get(o, "provider")),
	    "anthropic");
	CHECK_STR(json_string_value(json_object_get(o, "model")), "");
	CHECK_INT(json_integer_value(json_object_get(o, "errors")), 1);
	CHECK(json_is_null(json_object_get(o, "cost")));
	CHECK_INT(json_integer_value(json_object_get(o, "usage_missing")), 1);
	o = json_array_get(list, 1);
	CHECK_STR(json_string_value(json_object_get(o, "model")), "claude-y");
	o = json_array_get(list, 2);
	CHECK_STR(json_string_value(json_object_get(o, "provider")),
	    "openai");
	CHECK_STR(json_string_value(json_object_get(o, "first")),
	    "2026-12-01T10:00:00.000Z");
	o = json_array_get(list, 3);
	CHECK_STR(json_string_value(json_object_get(o, "sandbox")), "b");
	CHECK_STR(json_string_value(json_object_get(o, "provider")),
	    "anthropic");
	o = json_array_get(list, 4);
	CHECK_STR(json_string_value(json_object_get(o, "provider")),
	    "openai");
	CHECK_INT(json_integer_value(json_object_get(o, "requests")), 3);
	CHECK_INT(json_integer_value(json_object_get(o, "errors")), 2);
	CHECK_INT(json_integer_value(json_object_get(o, "input")), 30);
	CHECK_INT(json_integer_value(json_object_get(o, "output")), 6);
	CHECK_INT(json_integer_value(json_object_get(o, "charged")), 36);
	CHECK_INT(json_integer_value(json_object_get(o, "bytes_up")), 300);
	CHECK_INT(json_integer_value(json_object_get(o, "truncated")), 1);
	CHECK_INT(json_integer_value(json_object_get(o, "usage_missing")), 1);
	CHECK(json_is_real(json_object_get(o, "cost")));
	CHECK(json_real_value(json_object_get(o, "cost")) == 0.75);
	CHECK_STR(json_string_value(json_object_get(o, "first")),
	    "2026-12-01T10:00:00.000Z");
	CHECK_STR(json_string_value(json_object_get(o, "last")),
	    "2026-12-05T10:00:00.000Z");
	json_decref(list);

	/* One sandbox, since a time: the bound is in. */
	CHECK((list = store_usage_sum("b", "2026-12-05T10:00:00Z")) != NULL);
	CHECK_INT(json_array_size(list), 2);
	o = json_array_get(list, 1);
	CHECK_INT(json_integer_value(json_object_get(o, "requests")), 1);
	CHECK(json_real_value(json_object_get(o, "cost")) == 0.25);
	json_decref(list);
	CHECK((list = store_usage_sum("b", "2026-12-05T09:59:59.999Z")) !=
	    NULL);
	CHECK_INT(json_integer_value(json_object_get(json_array_get(list, 1),
	    "requests")), 2);
	json_decref(list);
	/* Another offset, and minutes only. */
	CHECK((list = store_usage_sum("b", "2026-12-05T10:59:59.9999+01:00"))
	    != NULL);
	CHECK_INT(json_integer_value(json_object_get(json_array_get(list, 1),
	    "requests")), 2);
	json_decref(list);
	CHECK((list = store_usage_sum(NULL, "2026-12-05T10:00Z")) != NULL);
	CHECK_INT(json_array_size(list), 4);
	json_decref(list);
	CHECK((list = store_usage_sum(NULL, "2027-01-01T00:00:00.000Z")) !=
	    NULL);
	CHECK_INT(json_array_size(list), 0);
	json_decref(list);
	list = NULL;
	CHECK(store_usage_sum(NULL, "yesterday") == NULL);
	CHECK(store_usage_sum(NULL, "2026-02-30T00:00:00Z") == NULL);
	CHECK(store_usage_sum(NULL, "2026-12-05T10:00:00") == NULL);
	CHECK(store_usage_sum(NULL, "2026-12-05T10:00:00+01") == NULL);

	CHECK_INT(store_usage_charged("b", "openai", NULL), 36);
	CHECK_INT(store_usage_charged("b", "openai", "2026-12-05T00:00:00Z"),
	    21);
	CHECK_INT(store_usage_charged("b", "anthropic", NULL), 150);
	CHECK_INT(store_usage_charged("a", "openai", "2026-12-02T00:00:00Z"),
	    0);
	CHECK_INT(store_usage_charged("c", "openai", NULL), 0);
	CHECK_INT(store_usage_charged("b", "openai", "today"), -1);
	ret = 0;
end:
	json_decref(list);
	store_close();
	unit_rmtree(dir);
	free(dir);
	return (ret);
}

static const struct unit_test tests[] = {
	{ "settings", test_settings },
	{ "asks", test_asks },
	{ "rules", test_rules },
	{ "migrate_rules", test_migrate_rules },
	{ "sandboxes", test_sandboxes },
	{ "sandbox_gateway", test_sandbox_gateway },
	{ "sandbox_github", test_sandbox_github },
	{ "usage_add", test_usage_add },
	{ "usage_sum", test_usage_sum },
	{ "open_modes", test_open_modes },
	{ "tighten_mode", test_tighten_mode },
	{ "events_written", test_events_written },
	{ "close_flushes", test_close_flushes },
	{ "locked", test_locked },
	{ "corrupt", test_corrupt },
	{ "newer_schema", test_newer_schema },
	{ "state_not_dir", test_state_not_dir },
};

UNIT_MAIN("store", tests)
