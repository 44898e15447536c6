/*
 * store.c: the SQLite database under the state directory.  This file owns
 * the handle, the schema migrations and every statement; components call
 * its functions and never run SQL of their own.
 *
 * Events are queued in memory and written in batched transactions from a
 * timer, so publishing never waits on the disk.  A short busy timeout
 * bounds how long a lock held by another process may delay the loop; a
 * batch that could not be written stays queued (bounded) for the next try.
 */

#include <sys/types.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>
#include <sqlite3.h>

#include "config.h"
#include "log.h"
#include "sbxd.h"

#define STORE_BUSY_MS		100	/* longest a foreign lock may stall
					   the loop before we retry later */
#define STORE_FLUSH_MS		500	/* batch window for event rows */
#define STORE_BATCH_MAX		512	/* rows per transaction */
#define STORE_QUEUE_MAX		16384	/* events held while the disk fails */
#define STORE_EVENTS_MAX	100000	/* event rows kept */
#define STORE_EVENTS_DAYS	30	/* event rows older than this go */
#define STORE_PRUNE_SECS	300	/* how often old rows are removed */

/*
 * The schema, one forward step per entry: entry i brings the database
 * from version i to i + 1.  Never edit a released step; add a new one.
 */
static const char *store_migrations[] = {
	/* 1: the event log */
	"CREATE TABLE events ("
	"  id INTEGER PRIMARY KEY,"
	"  time TEXT NOT NULL,"
	"  type TEXT NOT NULL,"
	"  data TEXT NOT NULL);"
	"CREATE INDEX events_time ON events (time);",
	/* 2: runtime rules added to a listener with sbxctl allow|deny */
	"CREATE TABLE listener_rules ("
	"  listener TEXT NOT NULL,"
	"  pattern TEXT NOT NULL,"
	"  action TEXT NOT NULL CHECK (action IN ('allow', 'block')),"
	"  created TEXT NOT NULL,"
	"  PRIMARY KEY (listener, pattern));",
	/* 3: sandboxes; their runtime rules are listener_rules by name */
	"CREATE TABLE sandboxes ("
	"  id TEXT PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  uid INTEGER NOT NULL UNIQUE,"
	"  state TEXT NOT NULL,"
	"  restricted INTEGER NOT NULL CHECK (restricted IN (0, 1)),"
	"  policy TEXT NOT NULL,"
	"  port INTEGER NOT NULL UNIQUE,"
	"  created_at TEXT NOT NULL);",
	/* 4: small values kept across restarts, such as the next uid */
	"CREATE TABLE settings ("
	"  key TEXT PRIMARY KEY,"
	"  value TEXT NOT NULL);",
	/* 5: runtime rules with a lifetime (sbxctl allow --for) */
	"ALTER TABLE listener_rules ADD COLUMN expires INTEGER;",
	/* 6: the agent of a sandbox; NULL: the config's default */
	"ALTER TABLE sandboxes ADD COLUMN agent TEXT;",
	/* 7: agent turns, queued ones included, and each sandbox's agent
	   mode and conversation */
	"CREATE TABLE turns ("
	"  id INTEGER PRIMARY KEY,"
	"  sandbox_id TEXT NOT NULL,"
	"  sandbox TEXT NOT NULL,"
	"  agent TEXT NOT NULL,"
	"  mode TEXT NOT NULL,"
	"  requester TEXT NOT NULL,"
	"  prompt TEXT NOT NULL,"
	"  new_session INTEGER NOT NULL DEFAULT 0,"
	"  queued_at TEXT NOT NULL,"
	"  started_at TEXT,"
	"  ended_at TEXT,"
	"  status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'ok',"
	"    'failed', 'interrupted', 'timeout', 'cancelled')),"
	"  reason TEXT,"
	"  exit INTEGER,"
	"  session TEXT,"
	"  tokens_in INTEGER,"
	"  tokens_out INTEGER,"
	"  cost REAL,"
	"  output_bytes INTEGER,"
	"  transcript TEXT);"
	"CREATE INDEX turns_sandbox ON turns (sandbox_id, id);"
	"CREATE INDEX turns_status ON turns (status);"
	"CREATE TABLE agent_state ("
	"  sandbox_id TEXT PRIMARY KEY,"
	"  mode TEXT,"
	"  session TEXT);",
	/* 8: the chat topic of each sandbox */
	"CREATE TABLE bot_topics ("
	"  sandbox TEXT PRIMARY KEY,"
	"  topic TEXT NOT NULL,"
	"  created_at TEXT NOT NULL);",
	/* 9: questions about held requests (policy ask) and their
	   decisions */
	"CREATE TABLE asks ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  listener TEXT NOT NULL,"
	"  sandbox TEXT,"
	"  method TEXT NOT NULL,"
	"  host TEXT NOT NULL,"
	"  port INTEGER NOT NULL,"
	"  asked_at TEXT NOT NULL,"
	"  decision TEXT CHECK (decision IN ('once', 'always', 'deny',"
	"    'expired', 'rule', 'cancelled')),"
	"  decided_by TEXT,"
	"  decided_at TEXT,"
	"  rule TEXT,"
	"  waiting INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX asks_listener ON asks (listener, id);",
	/* 10: each sandbox's credential gateway (its port, providers as
	   a JSON array, phantom key) and one row per gateway request */
	"ALTER TABLE sandboxes ADD COLUMN gateway_port INTEGER;"
	"ALTER TABLE sandboxes ADD COLUMN providers TEXT;"
	"ALTER TABLE sandboxes ADD COLUMN phantom TEXT;"
	"CREATE UNIQUE INDEX sandboxes_gateway_port ON sandboxes "
	"  (gateway_port);"
	"CREATE TABLE api_usage ("
	"  id INTEGER PRIMARY KEY,"
	"  time TEXT NOT NULL,"
	"  sandbox TEXT NOT NULL,"
	"  provider TEXT NOT NULL,"
	"  model TEXT,"
	"  endpoint TEXT NOT NULL,"
	"  path TEXT NOT NULL,"
	"  status INTEGER NOT NULL,"
	"  input INTEGER NOT NULL DEFAULT 0,"
	"  cached INTEGER NOT NULL DEFAULT 0,"
	"  cache_creation INTEGER NOT NULL DEFAULT 0,"
	"  output INTEGER NOT NULL DEFAULT 0,"
	"  reasoning INTEGER NOT NULL DEFAULT 0,"
	"  cost REAL,"
	"  reserved INTEGER NOT NULL DEFAULT 0,"
	"  charged INTEGER NOT NULL DEFAULT 0,"
	"  bytes_up INTEGER NOT NULL DEFAULT 0,"
	"  bytes_down INTEGER NOT NULL DEFAULT 0,"
	"  duration_ms INTEGER NOT NULL DEFAULT 0,"
	"  truncated INTEGER NOT NULL DEFAULT 0 CHECK (truncated IN (0, 1)),"
	"  usage_missing INTEGER NOT NULL DEFAULT 0"
	"    CHECK (usage_missing IN (0, 1)),"
	"  session TEXT);"
	"CREATE INDEX api_usage_sandbox_time ON api_usage (sandbox, time);",
	/* 11: each sandbox's GitHub repositories and the refs it may push
	   to, as JSON arrays */
	"ALTER TABLE sandboxes ADD COLUMN repos TEXT;"
	"ALTER TABLE sandboxes ADD COLUMN push_branches TEXT;",
};
#define STORE_VERSION \
	((int)(sizeof(store_migrations) / sizeof(store_migrations[0])))

/* The members of a sandbox row kept as JSON arrays of strings. */
static const char *store_sandbox_arrays[] = {
	"providers", "repos", "push_branches"
};
#define STORE_SANDBOX_ARRAYS	nitems(store_sandbox_arrays)

static sqlite3			*store_db;
static char			*store_path;
static int			 store_lockfd = -1;
static int			 store_version;
static struct event		*store_ev_flush;
static struct events_sub	*store_sub;
static json_t			*store_queue;
static sqlite3_stmt		*store_stmt_insert;
static struct timespec		 store_pruned;
static uint64_t			 store_written;
static uint64_t			 store_dropped;
static uint64_t			 store_failures;
static char			 store_lasterr[256];

static int	store_state_dir(const char *, mode_t);
static int	store_lock(const char *);
static int	store_create_file(const char *);
static int	store_configure(void);
static int	store_check(void);
static int	store_migrate(void);
static int	store_exec(const char *);
static int	store_write_batch(void);
static void	store_prune(void);
static void	store_queue_drop(size_t);
static void	store_fail(const char *);
static void	store_flushcb(evutil_socket_t, short, void *);
static void	store_eventcb(json_t *, void *);
static void	store_turn_bind(sqlite3_stmt *, int, json_t *);
static void	store_bind_text(sqlite3_stmt *, int, const char *);
static void	store_now(char *, size_t);
static int	store_sandbox_check(json_t *, char **);
static const char *store_sandbox_array(json_t *, const char *, char **);
static void	store_sandbox_array_get(json_t *, const char *,
		    const char *);
static int	store_digits(const char *, int);
static int	store_time_norm(const char *, char *, size_t);
static int	store_usage_check(json_t *);

/*
 * The state directory, made and checked, and locked for this daemon:
 * what the privileged process does before the engine opens the store
 * in the directory it gives it.
 */
int
store_state_prepare(const char *statedir, mode_t mode)
{
	if (store_state_dir(statedir, mode) == -1)
		return (-1);
	return (store_lock(statedir));
}

/*
 * The database directory inside the state directory, made, given to
 * uid (-1: left as it is) and returned; NULL on error.  A database an
 * older sbxd left in the state directory moves into it.
 */
char *
store_dbdir(const char *state, uid_t uid, gid_t gid)
{
	const char	*moved[] = { SBXD_DB, SBXD_DB "-wal", SBXD_DB "-shm",
			    SBXD_DB "-journal" };
	char		*dbdir, *from, *to, *p;
	struct stat	 st;
	DIR		*d;
	struct dirent	*de;
	size_t		 i;
	int		 fd;

	xasprintf(&dbdir, "%s/%s", state, SBXD_DBDIR);
	if (mkdir(dbdir, 0700) == -1 && errno != EEXIST) {
		log_warn("%s", dbdir);
		free(dbdir);
		return (NULL);
	}
	if ((fd = open(dbdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1 || fstat(fd, &st) == -1 ||
	    (uid != (uid_t)-1 && fchown(fd, uid, gid) == -1) ||
	    fchmod(fd, 0700) == -1) {
		log_warn("%s", dbdir);
		if (fd != -1)
			close(fd);
		free(dbdir);
		return (NULL);
	}
	for (i = 0; i < sizeof(moved) / sizeof(moved[0]); i++) {
		xasprintf(&from, "%s/%s", state, moved[i]);
		xasprintf(&to, "%s/%s", dbdir, moved[i]);
		if (lstat(from, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(to, F_OK) == -1) {
			if (rename(from, to) == -1)
				log_warn("moving %s to %s", from, to);
			else if (i == 0)
				log_info("database %s moved to %s", from, to);
		}
		free(from);
		free(to);
	}
	/* What is in it is the engine's, never through a link. */
	if (uid == (uid_t)-1) {
		close(fd);
		return (dbdir);
	}
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		free(dbdir);
		return (NULL);
	}
	while ((de = readdir(d)) != NULL) {
		p = de->d_name;
		if (strcmp(p, ".") == 0 || strcmp(p, "..") == 0)
			continue;
		if (fchownat(dirfd(d), p, uid, gid,
		    AT_SYMLINK_NOFOLLOW) == -1)
			log_warn("%s/%s", dbdir, p);
	}
	closedir(d);
	return (dbdir);
}

/*
 * Open the database in statedir, creating the directory and database as
 * needed, and bring the schema up to date.  Every failure is logged with
 * its cause and leaves nothing open.
 */
int
store_open(const char *statedir, mode_t mode)
{
	struct timeval	 tv = { 0, STORE_FLUSH_MS * 1000 };
	int		 rc;

	if (store_state_dir(statedir, mode) == -1 ||
	    (store_lockfd = store_lock(statedir)) == -1)
		goto fail;
	xasprintf(&store_path, "%s/%s", statedir, SBXD_DB);
	if (store_create_file(store_path) == -1)
		goto fail;
	rc = sqlite3_open_v2(store_path, &store_db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		log_warnx("database %s: %s", store_path, store_db != NULL ?
		    sqlite3_errmsg(store_db) : sqlite3_errstr(rc));
		goto fail;
	}
	if (store_configure() == -1 || store_check() == -1 ||
	    store_migrate() == -1)
		goto fail;
	if (sqlite3_prepare_v2(store_db, "INSERT INTO events (time, type, "
	    "data) VALUES (?, ?, ?)", -1, &store_stmt_insert, NULL) !=
	    SQLITE_OK) {
		log_warnx("database %s: %s", store_path,
		    sqlite3_errmsg(store_db));
		goto fail;
	}
	if ((store_queue = json_array()) == NULL)
		goto fail;
	store_ev_flush = event_new(sbxd_env->sx_base, -1, EV_PERSIST,
	    store_flushcb, NULL);
	if (store_ev_flush == NULL || event_add(store_ev_flush, &tv) == -1)
		goto fail;
	if ((store_sub = events_subscribe("store", store_eventcb, NULL)) ==
	    NULL)
		goto fail;
	util_monotime(&store_pruned);
	log_debug("%s: %s, schema version %d", __func__, store_path,
	    store_version);
	return (0);
fail:
	store_close();
	return (-1);
}

/*
 * Create statedir, mode mode, if missing.  It must be a directory of
 * ours that nobody else could have written to; it is given mode mode,
 * so that nobody else can list it either.
 */
static int
store_state_dir(const char *statedir, mode_t mode)
{
	struct stat	 st;

	if (util_mkdir_parents(statedir) == -1 ||
	    (mkdir(statedir, mode) == -1 && errno != EEXIST)) {
		log_warn("state directory %s", statedir);
		return (-1);
	}
	if (stat(statedir, &st) == -1) {
		log_warn("state directory %s", statedir);
		return (-1);
	}
	if (!S_ISDIR(st.st_mode)) {
		log_warnx("state directory %s is not a directory", statedir);
		return (-1);
	}
	if (st.st_uid != geteuid()) {
		log_warnx("state directory %s is owned by uid %u, not by "
		    "sbxd's (uid %u)", statedir, (unsigned)st.st_uid,
		    (unsigned)geteuid());
		return (-1);
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		log_warnx("state directory %s is writable by %s", statedir,
		    st.st_mode & S_IWOTH ? "anyone" : "its group");
		return (-1);
	}
	if ((st.st_mode & 07777) != mode) {
		if (chmod(statedir, mode) == -1) {
			log_warn("state directory %s: chmod", statedir);
			return (-1);
		}
		log_info("state directory %s: mode %04o made %04o", statedir,
		    (unsigned)(st.st_mode & 07777), (unsigned)mode);
	}
	return (0);
}

/*
 * One daemon per state directory: the fd that holds the lock, to keep
 * for our lifetime, or -1.
 */
static int
store_lock(const char *statedir)
{
	char	*path, buf[32];
	ssize_t	 n;
	int	 fd;

	xasprintf(&path, "%s/%s", statedir, SBXD_LOCK);
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1) {
		log_warn("%s", path);
		free(path);
		return (-1);
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		n = read(fd, buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		log_warnx("state directory %s is in use by another sbxd "
		    "(pid %s)", statedir, *buf != '\0' ? buf : "unknown");
		close(fd);
		free(path);
		return (-1);
	}
	free(path);
	if (ftruncate(fd, 0) == 0) {
		snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
		if (write(fd, buf, strlen(buf)) == -1)
			log_debug("%s: write: %s", __func__, strerror(errno));
	}
	return (fd);
}

/* Create the database file with mode 0600 before SQLite opens it. */
static int
store_create_file(const char *path)
{
	struct stat	 st;
	int		 fd;

	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1) {
		log_warn("database %s", path);
		return (-1);
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		log_warnx("database %s is not a regular file", path);
		close(fd);
		return (-1);
	}
	if ((st.st_mode & 0777) != 0600) {
		log_warnx("database %s had mode %04o; set to 0600", path,
		    (unsigned)(st.st_mode & 0777));
		if (fchmod(fd, 0600) == -1) {
			log_warn("database %s: chmod", path);
			close(fd);
			return (-1);
		}
	}
	close(fd);
	return (0);
}

/* WAL, foreign keys, a short busy timeout. */
static int
store_configure(void)
{
	sqlite3_stmt	*st;
	const char	*mode;
	int		 ok;

	sqlite3_busy_timeout(store_db, STORE_BUSY_MS);
	if (sqlite3_prepare_v2(store_db, "PRAGMA journal_mode=WAL", -1, &st,
	    NULL) != SQLITE_OK) {
		log_warnx("database %s is unreadable: %s; it is left as it "
		    "is: move it aside to start with an empty one", store_path,
		    sqlite3_errmsg(store_db));
		return (-1);
	}
	ok = sqlite3_step(st) == SQLITE_ROW &&
	    (mode = (const char *)sqlite3_column_text(st, 0)) != NULL &&
	    strcmp(mode, "wal") == 0;
	sqlite3_finalize(st);
	if (!ok) {
		log_warnx("database %s: cannot enable WAL: %s", store_path,
		    sqlite3_errmsg(store_db));
		return (-1);
	}
	return (store_exec("PRAGMA foreign_keys=ON; "
	    "PRAGMA synchronous=NORMAL;"));
}

/* Refuse a damaged database rather than write over it. */
static int
store_check(void)
{
	sqlite3_stmt	*st;
	const char	*res;
	int		 rc, ok = 0;

	rc = sqlite3_prepare_v2(store_db, "PRAGMA quick_check", -1, &st,
	    NULL);
	if (rc != SQLITE_OK) {
		log_warnx("database %s is unreadable: %s", store_path,
		    sqlite3_errmsg(store_db));
		return (-1);
	}
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		res = (const char *)sqlite3_column_text(st, 0);
		ok = res != NULL && strcmp(res, "ok") == 0;
		if (!ok)
			log_warnx("database %s is corrupt: %s; move it aside "
			    "to start with an empty one", store_path,
			    res != NULL ? res : "no detail");
	} else
		log_warnx("database %s is unreadable: %s", store_path,
		    sqlite3_errmsg(store_db));
	sqlite3_finalize(st);
	return (ok ? 0 : -1);
}

/* Run the numbered migrations this database has not seen. */
static int
store_migrate(void)
{
	sqlite3_stmt	*st;
	char		*sql;
	int		 v, rc;

	if (store_exec("CREATE TABLE IF NOT EXISTS schema_version ("
	    "version INTEGER NOT NULL)") == -1)
		return (-1);
	if (sqlite3_prepare_v2(store_db, "SELECT version FROM schema_version",
	    -1, &st, NULL) != SQLITE_OK) {
		log_warnx("database %s: %s", store_path,
		    sqlite3_errmsg(store_db));
		return (-1);
	}
	rc = sqlite3_step(st);
	v = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
	sqlite3_finalize(st);
	if (v == -1 && store_exec("INSERT INTO schema_version VALUES (0)"))
		return (-1);
	if (v == -1)
		v = 0;
	if (v > STORE_VERSION) {
		log_warnx("database %s has schema version %d; this sbxd "
		    "knows only up to %d", store_path, v, STORE_VERSION);
		return (-1);
	}
	for (; v < STORE_VERSION; v++) {
		xasprintf(&sql, "BEGIN IMMEDIATE; %s UPDATE schema_version "
		    "SET version = %d; COMMIT;", store_migrations[v], v + 1);
		rc = store_exec(sql);
		free(sql);
		if (rc == -1) {
			store_exec("ROLLBACK");
			log_warnx("database %s: migration to version %d failed",
			    store_path, v + 1);
			return (-1);
		}
		log_info("database %s: schema version %d", store_path, v + 1);
	}
	store_version = v;
	return (0);
}

static int
store_exec(const char *sql)
{
	char	*err = NULL;

	if (sqlite3_exec(store_db, sql, NULL, NULL, &err) != SQLITE_OK) {
		log_warnx("database %s: %s", store_path,
		    err != NULL ? err : sqlite3_errmsg(store_db));
		sqlite3_free(err);
		return (-1);
	}
	return (0);
}

/* Write everything queued, then close; safe on a half-opened store. */
void
store_close(void)
{
	events_unsubscribe(store_sub);
	store_sub = NULL;
	if (store_ev_flush != NULL) {
		event_free(store_ev_flush);
		store_ev_flush = NULL;
	}
	if (store_stmt_insert != NULL) {
		while (json_array_size(store_queue) > 0 &&
		    store_write_batch() > 0)
			;	/* nothing */
		if (json_array_size(store_queue) > 0)
			log_warnx("database %s: %zu events not written",
			    store_path, json_array_size(store_queue));
		sqlite3_finalize(store_stmt_insert);
		store_stmt_insert = NULL;
	}
	if (store_db != NULL) {
		if (sqlite3_close(store_db) != SQLITE_OK)
			log_warnx("database %s: close: %s", store_path,
			    sqlite3_errmsg(store_db));
		store_db = NULL;
	}
	json_decref(store_queue);
	store_queue = NULL;
	if (store_lockfd != -1) {
		close(store_lockfd);
		store_lockfd = -1;
	}
	free(store_path);
	store_path = NULL;
}

/* Queue one event row.  Takes nothing: the event is referenced. */
int
store_event_add(json_t *ev)
{
	if (store_queue == NULL)
		return (-1);
	if (json_array_size(store_queue) >= STORE_QUEUE_MAX ||
	    !json_is_string(json_object_get(ev, "time")) ||
	    !json_is_string(json_object_get(ev, "type"))) {
		store_dropped++;
		return (-1);
	}
	if (json_array_append(store_queue, ev) == -1) {
		store_dropped++;
		return (-1);
	}
	/* A full batch is written at once, from the loop. */
	if (json_array_size(store_queue) == STORE_BATCH_MAX)
		event_active(store_ev_flush, EV_TIMEOUT, 0);
	return (0);
}

static void
store_eventcb(json_t *ev, void *arg __unused)
{
	const char	*type = json_string_value(json_object_get(ev, "type"));

	/* An agent's text is its turn's transcript, not a row per line. */
	if (type != NULL && strcmp(type, "agent.text") == 0)
		return;
	store_event_add(ev);
}

static void
store_flushcb(evutil_socket_t fd __unused, short events __unused,
    void *arg __unused)
{
	store_flush();
}

/* Write queued events now; returns -1 if some are still queued. */
int
store_flush(void)
{
	if (store_db == NULL)
		return (-1);
	if (json_array_size(store_queue) > 0)
		store_write_batch();
	store_prune();
	return (json_array_size(store_queue) > 0 ? -1 : 0);
}

/*
 * Write up to STORE_BATCH_MAX queued events in one transaction.  Returns
 * the number written; on failure the rows stay queued.
 */
static int
store_write_batch(void)
{
	json_t		*ev;
	char		*data;
	size_t		 i, n;
	int		 rc;

	n = json_array_size(store_queue);
	if (n > STORE_BATCH_MAX)
		n = STORE_BATCH_MAX;
	if (sqlite3_exec(store_db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		store_fail("begin");
		return (0);
	}
	for (i = 0; i < n; i++) {
		ev = json_array_get(store_queue, i);
		if ((data = json_dumps(ev, JSON_COMPACT)) == NULL)
			break;
		sqlite3_bind_text(store_stmt_insert, 1, json_string_value(
		    json_object_get(ev, "time")), -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(store_stmt_insert, 2, json_string_value(
		    json_object_get(ev, "type")), -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(store_stmt_insert, 3, data, -1, free);
		rc = sqlite3_step(store_stmt_insert);
		sqlite3_reset(store_stmt_insert);
		if (rc != SQLITE_DONE)
			break;
	}
	if (i < n || sqlite3_exec(store_db, "COMMIT", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		store_fail("insert");
		sqlite3_exec(store_db, "ROLLBACK", NULL, NULL, NULL);
		return (0);
	}
	store_queue_drop(n);
	store_written += n;
	return ((int)n);
}

/* Drop the first n queued events, once they are written. */
static void
store_queue_drop(size_t n)
{
	json_t	*rest;
	size_t	 i;

	if (n == json_array_size(store_queue)) {
		json_array_clear(store_queue);
		return;
	}
	if ((rest = json_array()) == NULL) {
		while (n-- > 0)
			json_array_remove(store_queue, 0);
		return;
	}
	for (i = n; i < json_array_size(store_queue); i++)
		json_array_append(rest, json_array_get(store_queue, i));
	json_decref(store_queue);
	store_queue = rest;
}

/* Keep the event log bounded by age and by count. */
static void
store_prune(void)
{
	struct timespec	 now, cutoff;
	sqlite3_stmt	*st;
	char		 tbuf[32];

	util_monotime(&now);
	if (now.tv_sec - store_pruned.tv_sec < STORE_PRUNE_SECS)
		return;
	store_pruned = now;
	clock_gettime(CLOCK_REALTIME, &cutoff);
	cutoff.tv_sec -= STORE_EVENTS_DAYS * 24 * 3600;
	if (util_rfc3339(&cutoff, tbuf, sizeof(tbuf)) == -1)
		return;
	if (sqlite3_prepare_v2(store_db, "DELETE FROM events WHERE time < ?1 "
	    "OR id <= (SELECT max(id) FROM events) - ?2", -1, &st, NULL) !=
	    SQLITE_OK) {
		store_fail("prune");
		return;
	}
	sqlite3_bind_text(st, 1, tbuf, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, STORE_EVENTS_MAX);
	if (sqlite3_step(st) != SQLITE_DONE)
		store_fail("prune");
	else if (sqlite3_changes(store_db) > 0)
		log_debug("%s: removed %d old events", __func__,
		    sqlite3_changes(store_db));
	sqlite3_finalize(st);
}

/* Why the last write failed. */
const char *
store_error(void)
{
	return (store_lasterr[0] != '\0' ? store_lasterr : "no database");
}

/* Count a failed write and log it when the cause changes. */
static void
store_fail(const char *what)
{
	char	 msg[sizeof(store_lasterr)];

	store_failures++;
	snprintf(msg, sizeof(msg), "%s: %s", what, sqlite3_errmsg(store_db));
	if (strcmp(msg, store_lasterr) != 0)
		log_warnx("database %s: %s; %zu events queued", store_path,
		    msg, json_array_size(store_queue));
	memcpy(store_lasterr, msg, sizeof(store_lasterr));
}

/*
 * Run one write statement with text parameters (NULL-terminated list);
 * returns 0, or -1 with the error logged.
 */
static int
store_write(const char *sql, ...)
{
	sqlite3_stmt	*st;
	va_list		 ap;
	const char	*arg;
	int		 i = 1, rc;

	if (store_db == NULL)
		return (-1);
	if (sqlite3_prepare_v2(store_db, sql, -1, &st, NULL) != SQLITE_OK) {
		store_fail("prepare");
		return (-1);
	}
	va_start(ap, sql);
	while ((arg = va_arg(ap, const char *)) != NULL)
		sqlite3_bind_text(st, i++, arg, -1, SQLITE_TRANSIENT);
	va_end(ap);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		store_fail("write");
		return (-1);
	}
	return (0);
}

/*
 * Remember a runtime rule of a listener, replacing one for pattern;
 * expires is when it goes (seconds since the epoch), 0 for never.
 */
int
store_rule_put(const char *listener, const char *pattern, const char *action,
    time_t expires)
{
	struct timespec	 ts;
	char		 tbuf[32], ebuf[24];

	clock_gettime(CLOCK_REALTIME, &ts);
	util_rfc3339(&ts, tbuf, sizeof(tbuf));
	if (expires == 0)
		return (store_write("INSERT OR REPLACE INTO listener_rules "
		    "(listener, pattern, action, created, expires) VALUES "
		    "(?, ?, ?, ?, NULL)", listener, pattern, action, tbuf,
		    (char *)NULL));
	snprintf(ebuf, sizeof(ebuf), "%lld", (long long)expires);
	return (store_write("INSERT OR REPLACE INTO listener_rules (listener, "
	    "pattern, action, created, expires) VALUES (?, ?, ?, ?, "
	    "CAST(? AS INTEGER))", listener, pattern, action, tbuf, ebuf,
	    (char *)NULL));
}

/* Forget a runtime rule, or all of a listener's when pattern is NULL. */
int
store_rule_delete(const char *listener, const char *pattern)
{
	if (pattern == NULL)
		return (store_write("DELETE FROM listener_rules WHERE "
		    "listener = ?", listener, (char *)NULL));
	return (store_write("DELETE FROM listener_rules WHERE listener = ? AND "
	    "pattern = ?", listener, pattern, (char *)NULL));
}

/*
 * A listener's runtime rules, oldest first: [{pattern, action, created,
 * expires}], expires being null or {at, seconds} (when it goes, RFC 3339,
 * and the seconds since the epoch); or NULL when the store cannot be
 * read.
 */
json_t *
store_rule_list(const char *listener)
{
	struct timespec	 ts;
	sqlite3_stmt	*st;
	json_t		*list, *exp;
	char		 tbuf[32];
	int		 rc;

	if (store_db == NULL || (list = json_array()) == NULL)
		return (NULL);
	if (sqlite3_prepare_v2(store_db, "SELECT pattern, action, created, "
	    "expires FROM listener_rules WHERE listener = ? ORDER BY created, "
	    "pattern", -1, &st, NULL) != SQLITE_OK) {
		json_decref(list);
		return (NULL);
	}
	sqlite3_bind_text(st, 1, listener, -1, SQLITE_TRANSIENT);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		exp = json_null();
		if (sqlite3_column_type(st, 3) == SQLITE_INTEGER) {
			ts.tv_sec = (time_t)sqlite3_column_int64(st, 3);
			ts.tv_nsec = 0;
			util_rfc3339(&ts, tbuf, sizeof(tbuf));
			exp = json_pack("{s:s, s:I}", "at", tbuf, "seconds",
			    (json_int_t)ts.tv_sec);
		}
		json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:o}",
		    "pattern", (const char *)sqlite3_column_text(st, 0),
		    "action", (const char *)sqlite3_column_text(st, 1),
		    "created", (const char *)sqlite3_column_text(st, 2),
		    "expires", exp));
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		json_decref(list);
		return (NULL);
	}
	return (list);
}

/*
 * Insert or update a sandbox row: {id, name, uid, state, restricted,
 * policy, port, created_at, agent, gateway_port, providers, phantom,
 * repos, push_branches}.  The row is the whole of the sandbox: a member
 * absent or null is a NULL column, on an update too.
 */
int
store_sandbox_put(json_t *sb)
{
	sqlite3_stmt	*st;
	const char	*keys[] = { "id", "name", "uid", "state", "restricted",
			    "policy", "port", "created_at", "agent",
			    "gateway_port", "phantom" };
	json_t		*v;
	char		*arrays[STORE_SANDBOX_ARRAYS];
	size_t		 i, j;
	int		 rc;

	if (store_db == NULL)
		return (-1);
	if (store_sandbox_check(sb, arrays) == -1)
		return (-1);
	/* An upsert on id: a clash on name, uid, port or gateway port
	   fails, never replaces another sandbox's row.  The arrays come
	   last, in the order of store_sandbox_arrays. */
	if (sqlite3_prepare_v2(store_db, "INSERT INTO sandboxes (id, name, "
	    "uid, state, restricted, policy, port, created_at, agent, "
	    "gateway_port, phantom, providers, repos, push_branches) VALUES "
	    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO "
	    "UPDATE SET name = excluded.name, uid = excluded.uid, state = "
	    "excluded.state, restricted = excluded.restricted, policy = "
	    "excluded.policy, port = excluded.port, created_at = "
	    "excluded.created_at, agent = excluded.agent, gateway_port = "
	    "excluded.gateway_port, phantom = excluded.phantom, providers = "
	    "excluded.providers, repos = excluded.repos, push_branches = "
	    "excluded.push_branches", -1, &st, NULL) != SQLITE_OK) {
		store_fail("prepare");
		for (j = 0; j < STORE_SANDBOX_ARRAYS; j++)
			free(arrays[j]);
		return (-1);
	}
	for (i = 0; i < nitems(keys); i++) {
		v = json_object_get(sb, keys[i]);
		if (json_is_boolean(v))
			sqlite3_bind_int(st, (int)i + 1, json_is_true(v));
		else
			store_turn_bind(st, (int)i + 1, v);
	}
	for (j = 0; j < STORE_SANDBOX_ARRAYS; j++) {
		store_bind_text(st, (int)(i + j) + 1, arrays[j]);
		free(arrays[j]);
	}
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		store_fail("write");
		return (-1);
	}
	return (0);
}

/*
 * Check the optional members of a sandbox row: gateway_port an integer,
 * phantom a string, those of store_sandbox_arrays arrays of strings,
 * each of them may also be null or absent.  arrays[i] is the array of
 * store_sandbox_arrays[i] as compact JSON text, or NULL.
 */
static int
store_sandbox_check(json_t *sb, char **arrays)
{
	json_t		*v;
	size_t		 i;
	const char	*bad = NULL, *b;

	for (i = 0; i < STORE_SANDBOX_ARRAYS; i++)
		arrays[i] = NULL;
	v = json_object_get(sb, "gateway_port");
	if (v != NULL && !json_is_null(v) && (!json_is_integer(v) ||
	    json_integer_value(v) < 1 || json_integer_value(v) > 65535))
		bad = "gateway_port";
	v = json_object_get(sb, "phantom");
	if (v != NULL && !json_is_null(v) && !json_is_string(v))
		bad = "phantom";
	for (i = 0; i < STORE_SANDBOX_ARRAYS; i++)
		if ((b = store_sandbox_array(sb, store_sandbox_arrays[i],
		    &arrays[i])) != NULL)
			bad = b;
	if (bad == NULL)
		return (0);
	for (i = 0; i < STORE_SANDBOX_ARRAYS; i++) {
		free(arrays[i]);
		arrays[i] = NULL;
	}
	if (*bad == '\0')
		return (-1);	/* out of memory */
	snprintf(store_lasterr, sizeof(store_lasterr), "sandbox %s: %s is "
	    "not valid", json_is_string(json_object_get(sb, "name")) ?
	    json_string_value(json_object_get(sb, "name")) : "?", bad);
	log_warnx("%s: %s", __func__, store_lasterr);
	return (-1);
}

/*
 * Member key of a sandbox row, an array of strings, as compact JSON
 * text in *text, or NULL when it is absent or null.  NULL when it is
 * fine; else key, or "" if memory ran out.
 */
static const char *
store_sandbox_array(json_t *sb, const char *key, char **text)
{
	json_t	*v, *p;
	size_t	 i;

	*text = NULL;
	if ((v = json_object_get(sb, key)) == NULL || json_is_null(v))
		return (NULL);
	if (!json_is_array(v))
		return (key);
	json_array_foreach(v, i, p)
		if (!json_is_string(p))
			return (key);
	if ((*text = json_dumps(v, JSON_COMPACT)) == NULL)
		return ("");
	return (NULL);
}

int
store_sandbox_state(const char *name, const char *state)
{
	return (store_write("UPDATE sandboxes SET state = ? WHERE name = ?",
	    state, name, (char *)NULL));
}

/* Forget a sandbox and its runtime rules, in one transaction. */
int
store_sandbox_delete(const char *name)
{
	if (store_exec("BEGIN") == -1)
		return (-1);
	if (store_write("DELETE FROM listener_rules WHERE listener = ?",
	    name, (char *)NULL) == -1 || store_write("DELETE FROM sandboxes "
	    "WHERE name = ?", name, (char *)NULL) == -1) {
		store_exec("ROLLBACK");
		return (-1);
	}
	return (store_exec("COMMIT"));
}

/* The columns of a turn a caller may set. */
static const char *store_turn_cols[] = {
	"sandbox_id", "sandbox", "agent", "mode", "requester", "prompt",
	"new_session", "queued_at", "started_at", "ended_at", "status",
	"reason", "exit", "session", "tokens_in", "tokens_out", "cost",
	"output_bytes", "transcript"
};

/* Bind v, a member of a turn object, as parameter i. */
static void
store_turn_bind(sqlite3_stmt *st, int i, json_t *v)
{
	if (json_is_string(v))
		sqlite3_bind_text(st, i, json_string_value(v),
		    (int)json_string_length(v), SQLITE_TRANSIENT);
	else if (json_is_integer(v))
		sqlite3_bind_int64(st, i, json_integer_value(v));
	else if (json_is_real(v))
		sqlite3_bind_double(st, i, json_real_value(v));
	else if (json_is_boolean(v))
		sqlite3_bind_int(st, i, json_is_true(v));
	else
		sqlite3_bind_null(st, i);
}

/*
 * Run sql, whose parameters are the members of t named in
 * store_turn_cols, in that order, then id unless it is -1.
 */
static int
store_turn_write(const char *sql, json_t *t, int64_t id)
{
	sqlite3_stmt	*st;
	json_t		*v;
	size_t		 i;
	int		 n = 0, rc;

	if (sqlite3_prepare_v2(store_db, sql, -1, &st, NULL) != SQLITE_OK) {
		store_fail("prepare");
		return (-1);
	}
	for (i = 0; i < nitems(store_turn_cols); i++)
		if ((v = json_object_get(t, store_turn_cols[i])) != NULL)
			store_turn_bind(st, ++n, v);
	if (id != -1)
		sqlite3_bind_int64(st, ++n, id);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		store_fail("turn");
		return (-1);
	}
	return (0);
}

/*
 * A new turn from the members of t named in store_turn_cols (others are
 * ignored); its id, or -1.
 */
int64_t
store_turn_add(json_t *t)
{
	char	 sql[1024], vals[256];
	size_t	 i, n = 0, off, voff = 0;

	if (store_db == NULL || t == NULL)
		return (-1);
	off = snprintf(sql, sizeof(sql), "INSERT INTO turns (");
	vals[0] = '\0';
	for (i = 0; i < nitems(store_turn_cols); i++) {
		if (json_object_get(t, store_turn_cols[i]) == NULL)
			continue;
		off += snprintf(sql + off, sizeof(sql) - off, "%s%s",
		    n > 0 ? ", " : "", store_turn_cols[i]);
		voff += snprintf(vals + voff, sizeof(vals) - voff, "%s?",
		    n > 0 ? ", " : "");
		n++;
	}
	snprintf(sql + off, sizeof(sql) - off, ") VALUES (%s)", vals);
	if (store_turn_write(sql, t, -1) == -1)
		return (-1);
	return (sqlite3_last_insert_rowid(store_db));
}

/* Set the members of t named in store_turn_cols on turn id. */
int
store_turn_update(int64_t id, json_t *t)
{
	char	 sql[1024];
	size_t	 i, n = 0, off;

	if (store_db == NULL || t == NULL)
		return (-1);
	off = snprintf(sql, sizeof(sql), "UPDATE turns SET ");
	for (i = 0; i < nitems(store_turn_cols); i++) {
		if (json_object_get(t, store_turn_cols[i]) == NULL)
			continue;
		off += snprintf(sql + off, sizeof(sql) - off, "%s%s = ?",
		    n > 0 ? ", " : "", store_turn_cols[i]);
		n++;
	}
	if (n == 0)
		return (0);
	snprintf(sql + off, sizeof(sql) - off, " WHERE id = ?");
	return (store_turn_write(sql, t, id));
}

/* One row of a turns SELECT of every column, as an object. */
static json_t *
store_turn_row(sqlite3_stmt *st, int full)
{
	json_t		*t, *v;
	const char	*name;
	int		 i, n = sqlite3_column_count(st);

	if ((t = json_object()) == NULL)
		return (NULL);
	for (i = 0; i < n; i++) {
		name = sqlite3_column_name(st, i);
		if (!full && (strcmp(name, "transcript") == 0 ||
		    strcmp(name, "prompt") == 0))
			continue;
		switch (sqlite3_column_type(st, i)) {
		case SQLITE_INTEGER:
			v = json_integer(sqlite3_column_int64(st, i));
			break;
		case SQLITE_FLOAT:
			v = json_real(sqlite3_column_double(st, i));
			break;
		case SQLITE_TEXT:
			v = json_stringn((const char *)sqlite3_column_text(st,
			    i), sqlite3_column_bytes(st, i));
			break;
		default:
			v = json_null();
			break;
		}
		json_object_set_new(t, name, v);
	}
	return (t);
}

/* Turn id with its prompt and transcript when full; NULL if none. */
json_t *
store_turn_get(int64_t id, int full)
{
	sqlite3_stmt	*st;
	json_t		*t = NULL;

	if (store_db == NULL || sqlite3_prepare_v2(store_db, "SELECT * FROM "
	    "turns WHERE id = ?", -1, &st, NULL) != SQLITE_OK)
		return (NULL);
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW)
		t = store_turn_row(st, full);
	sqlite3_finalize(st);
	return (t);
}

/*
 * Turns, oldest first: of sandbox_id (NULL: all), of status (NULL: any;
 * the queued ones with their prompts), the last limit of them; or NULL
 * if the store cannot be read.
 */
json_t *
store_turn_list(const char *sandbox_id, const char *status, int limit,
    int full)
{
	sqlite3_stmt	*st;
	json_t		*list, *t;
	int		 rc;

	if (store_db == NULL || (list = json_array()) == NULL)
		return (NULL);
	if (sqlite3_prepare_v2(store_db, "SELECT * FROM (SELECT * FROM turns "
	    "WHERE (?1 IS NULL OR sandbox_id = ?1) AND (?2 IS NULL OR "
	    "status = ?2) ORDER BY id DESC LIMIT ?3) ORDER BY id", -1, &st,
	    NULL) != SQLITE_OK) {
		json_decref(list);
		return (NULL);
	}
	if (sandbox_id != NULL)
		sqlite3_bind_text(st, 1, sandbox_id, -1, SQLITE_TRANSIENT);
	if (status != NULL)
		sqlite3_bind_text(st, 2, status, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 3, limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if ((t = store_turn_row(st, full)) != NULL)
			json_array_append_new(list, t);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		json_decref(list);
		return (NULL);
	}
	return (list);
}

/*
 * Turns left running by a daemon that stopped: interrupted, for reason.
 * The number of them, or -1.
 */
int
store_turns_interrupted(const char *reason)
{
	struct timespec	 ts;
	char		 tbuf[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	util_rfc3339(&ts, tbuf, sizeof(tbuf));
	if (store_write("UPDATE turns SET status = 'interrupted', reason = ?, "
	    "ended_at = ? WHERE status = 'running'", reason, tbuf,
	    (char *)NULL) == -1)
		return (-1);
	return (sqlite3_changes(store_db));
}

/* A sandbox's agent mode and conversation (NULL: none). */
int
store_agent_state_put(const char *sandbox_id, const char *mode,
    const char *session)
{
	sqlite3_stmt	*st;
	int		 rc;

	if (store_db == NULL || sqlite3_prepare_v2(store_db, "INSERT OR "
	    "REPLACE INTO agent_state (sandbox_id, mode, session) VALUES "
	    "(?, ?, ?)", -1, &st, NULL) != SQLITE_OK) {
		store_fail("prepare");
		return (-1);
	}
	sqlite3_bind_text(st, 1, sandbox_id, -1, SQLITE_TRANSIENT);
	if (mode != NULL)
		sqlite3_bind_text(st, 2, mode, -1, SQLITE_TRANSIENT);
	if (session != NULL)
		sqlite3_bind_text(st, 3, session, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		store_fail("agent state");
		return (-1);
	}
	return (0);
}

/* {mode, session} of a sandbox, each a string or null; NULL if none. */
json_t *
store_agent_state_get(const char *sandbox_id)
{
	sqlite3_stmt	*st;
	json_t		*o = NULL;
	const char	*m, *s;

	if (store_db == NULL || sqlite3_prepare_v2(store_db, "SELECT mode, "
	    "session FROM agent_state WHERE sandbox_id = ?", -1, &st, NULL) !=
	    SQLITE_OK)
		return (NULL);
	sqlite3_bind_text(st, 1, sandbox_id, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) == SQLITE_ROW) {
		m = (const char *)sqlite3_column_text(st, 0);
		s = (const char *)sqlite3_column_text(st, 1);
		o = json_pack("{s:s?, s:s?}", "mode", m, "session", s);
	}
	sqlite3_finalize(st);
	return (o);
}

int
store_agent_state_delete(const char *sandbox_id)
{
	return (store_write("DELETE FROM agent_state WHERE sandbox_id = ?",
	    sandbox_id, (char *)NULL));
}

/* Keep value under key. */
int
store_setting_put(const char *key, const char *value)
{
	return (store_write("INSERT OR REPLACE INTO settings (key, value) "
	    "VALUES (?, ?)", key, value, (char *)NULL));
}

/* The value under key into buf: 1, 0 if there is none, -1 if unread. */
int
store_setting_get(const char *key, char *buf, size_t len)
{
	sqlite3_stmt	*st;
	int		 rc, r = -1;

	if (store_db == NULL || sqlite3_prepare_v2(store_db, "SELECT value "
	    "FROM settings WHERE key = ?", -1, &st, NULL) != SQLITE_OK)
		return (-1);
	sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		snprintf(buf, len, "%s", (const char *)sqlite3_column_text(st,
		    0));
		r = 1;
	} else if (rc == SQLITE_DONE)
		r = 0;
	sqlite3_finalize(st);
	return (r);
}

/*
 * Every sandbox row, by name, as store_sandbox_put takes them, without
 * the gateway and GitHub members whose column is NULL; or NULL.
 */
json_t *
store_sandbox_list(void)
{
	sqlite3_stmt	*st;
	json_t		*list, *sb;
	const char	*text;
	int		 rc;

	if (store_db == NULL || (list = json_array()) == NULL)
		return (NULL);
	if (sqlite3_prepare_v2(store_db, "SELECT id, name, uid, state, "
	    "restricted, policy, port, created_at, agent, gateway_port, "
	    "providers, phantom, repos, push_branches FROM sandboxes ORDER BY "
	    "name", -1, &st, NULL) != SQLITE_OK) {
		json_decref(list);
		return (NULL);
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		sb = json_pack("{s:s, s:s, s:I, s:s, s:b, s:s, s:I, s:s, s:s?}",
		    "id", (const char *)sqlite3_column_text(st, 0),
		    "name", (const char *)sqlite3_column_text(st, 1),
		    "uid", (json_int_t)sqlite3_column_int64(st, 2),
		    "state", (const char *)sqlite3_column_text(st, 3),
		    "restricted", sqlite3_column_int(st, 4),
		    "policy", (const char *)sqlite3_column_text(st, 5),
		    "port", (json_int_t)sqlite3_column_int64(st, 6),
		    "created_at", (const char *)sqlite3_column_text(st, 7),
		    "agent", (const char *)sqlite3_column_text(st, 8));
		if (sb == NULL)
			continue;
		if (sqlite3_column_type(st, 9) != SQLITE_NULL)
			json_object_set_new(sb, "gateway_port", json_integer(
			    (json_int_t)sqlite3_column_int64(st, 9)));
		store_sandbox_array_get(sb, "providers",
		    (const char *)sqlite3_column_text(st, 10));
		if ((text = (const char *)sqlite3_column_text(st, 11)) != NULL)
			json_object_set_new(sb, "phantom", json_string(text));
		store_sandbox_array_get(sb, "repos",
		    (const char *)sqlite3_column_text(st, 12));
		store_sandbox_array_get(sb, "push_branches",
		    (const char *)sqlite3_column_text(st, 13));
		json_array_append_new(list, sb);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		json_decref(list);
		return (NULL);
	}
	return (list);
}

/* Member key of sandbox row sb from its column's text; none if NULL. */
static void
store_sandbox_array_get(json_t *sb, const char *key, const char *text)
{
	json_t	*a;

	if (text == NULL)
		return;
	if ((a = json_loads(text, 0, NULL)) != NULL && json_is_array(a))
		json_object_set_new(sb, key, a);
	else {
		json_decref(a);
		log_warnx("%s: sandbox %s: %s is not an array", __func__,
		    json_string_value(json_object_get(sb, "name")), key);
	}
}

/*
 * The last count events written, oldest first, or NULL; with sandbox,
 * only those of that sandbox, and with type, only that type and the
 * types below it ("proxy" takes "proxy.block" and "proxy.rule.expired").
 */
json_t *
store_events_recent(int count, const char *sandbox, const char *type)
{
	sqlite3_stmt	*st;
	json_t		*list, *ev;
	const char	*data;

	if (store_db == NULL || (list = json_array()) == NULL)
		return (NULL);
	if (sqlite3_prepare_v2(store_db, "SELECT data FROM (SELECT id, data "
	    "FROM events WHERE (?1 IS NULL OR json_extract(data, '$.sandbox') "
	    "= ?1) AND (?2 IS NULL OR type = ?2 OR substr(type, 1, "
	    "length(?2) + 1) = ?2 || '.') ORDER BY id DESC LIMIT ?3) "
	    "ORDER BY id", -1, &st, NULL) != SQLITE_OK) {
		json_decref(list);
		return (NULL);
	}
	if (sandbox != NULL)
		sqlite3_bind_text(st, 1, sandbox, -1, SQLITE_TRANSIENT);
	if (type != NULL)
		sqlite3_bind_text(st, 2, type, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 3, count);
	while (sqlite3_step(st) == SQLITE_ROW) {
		data = (const char *)sqlite3_column_text(st, 0);
		if (data != NULL &&
		    (ev = json_loads(data, JSON_REJECT_DUPLICATES, NULL)) !=
		    NULL)
			json_array_append_new(list, ev);
	}
	sqlite3_finalize(st);
	return (list);
}

/* Counters for sbxctl status. */
json_t *
store_status(void)
{
	if (store_db == NULL)
		return (json_pack("{s:s}", "state", "down"));
	return (json_pack("{s:s, s:s, s:i, s:I, s:i, s:I, s:I, s:s*}",
	    "state", store_failures > 0 && json_array_size(store_queue) > 0 ?
	    "degraded" : "up",
	    "path", store_path,
	    "schema_version", store_version,
	    "events_written", (json_int_t)store_written,
	    "queued", (int)json_array_size(store_queue),
	    "dropped", (json_int_t)store_dropped,
	    "write_failures", (json_int_t)store_failures,
	    "last_error", *store_lasterr != '\0' ? store_lasterr : NULL));
}

/* The chat topic of sandbox (by name). */
int
store_bot_topic_put(const char *sandbox, const char *topic)
{
	struct timespec	 ts;
	char		 now[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	util_rfc3339(&ts, now, sizeof(now));
	return (store_write("INSERT OR REPLACE INTO bot_topics (sandbox, "
	    "topic, created_at) VALUES (?, ?, ?)", sandbox, topic, now,
	    (char *)NULL));
}

int
store_bot_topic_delete(const char *sandbox)
{
	return (store_write("DELETE FROM bot_topics WHERE sandbox = ?",
	    sandbox, (char *)NULL));
}

/* {sandbox: topic} of every sandbox with one, or NULL. */
json_t *
store_bot_topics(void)
{
	sqlite3_stmt	*st;
	json_t		*o;
	int		 rc;

	if (store_db == NULL || (o = json_object()) == NULL)
		return (NULL);
	if (sqlite3_prepare_v2(store_db, "SELECT sandbox, topic FROM "
	    "bot_topics", -1, &st, NULL) != SQLITE_OK) {
		store_fail("prepare");
		json_decref(o);
		return (NULL);
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_object_set_new(o, (const char *)sqlite3_column_text(st, 0),
		    json_string((const char *)sqlite3_column_text(st, 1)));
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		store_fail("bot topics");
		json_decref(o);
		return (NULL);
	}
	return (o);
}

/* The time now, as the store writes it (RFC 3339). */
static void
store_now(char *buf, size_t len)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	util_rfc3339(&ts, buf, len);
}

/* Bind text s, or NULL when s is NULL, as parameter i. */
static void
store_bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s != NULL)
		sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

/*
 * A new question about a held request; its id (never one used before),
 * or -1.
 */
int64_t
store_ask_add(const char *listener, const char *sandbox, const char *method,
    const char *host, int port)
{
	sqlite3_stmt	*st;
	char		 now[32];
	int		 rc;

	if (store_db == NULL)
		return (-1);
	store_now(now, sizeof(now));
	if (sqlite3_prepare_v2(store_db, "INSERT INTO asks (listener, sandbox, "
	    "method, host, port, asked_at) VALUES (?, ?, ?, ?, ?, ?)", -1, &st,
	    NULL) != SQLITE_OK) {
		store_fail("prepare");
		return (-1);
	}
	store_bind_text(st, 1, listener);
	store_bind_text(st, 2, sandbox);
	store_bind_text(st, 3, method);
	store_bind_text(st, 4, host);
	sqlite3_bind_int(st, 5, port);
	store_bind_text(st, 6, now);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		store_fail("ask");
		return (-1);
	}
	return ((int64_t)sqlite3_last_insert_rowid(store_db));
}

/* The end of question id: its decision, by whom, the rule it made. */
int
store_ask_decided(int64_t id, const char *decision, const char *by,
    const char *rule, int waiting)
{
	sqlite3_stmt	*st;
	char		 now[32];
	int		 rc;

	if (store_db == NULL)
		return (-1);
	store_now(now, sizeof(now));
	if (sqlite3_prepare_v2(store_db, "UPDATE asks SET decision = ?, "
	    "decided_by = ?, decided_at = ?, rule = ?, waiting = ? WHERE "
	    "id = ?", -1, &st, NULL) != SQLITE_OK) {
		store_fail("prepare");
		return (-1);
	}
	store_bind_text(st, 1, decision);
	store_bind_text(st, 2, by);
	store_bind_text(st, 3, now);
	store_bind_text(st, 4, rule);
	sqlite3_bind_int(st, 5, waiting);
	sqlite3_bind_int64(st, 6, id);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		store_fail("ask decided");
		return (-1);
	}
	return (0);
}

/*
 * Questions left undecided by an sbxd that stopped: they expired with
 * it, as their held requests did.
 */
int
store_asks_orphaned(void)
{
	char		 now[32];

	store_now(now, sizeof(now));
	return (store_write("UPDATE asks SET decision = 'expired', "
	    "decided_by = 'sbxd stopped', decided_at = ? WHERE decision IS "
	    "NULL", now, (char *)NULL));
}

static json_t *
store_ask_row(sqlite3_stmt *st)
{
	json_t	*o;
	int	 i;
	static const char *const cols[] = { "id", "listener", "sandbox",
	    "method", "host", "port", "asked_at", "decision", "by",
	    "decided_at", "rule", "waiting" };

	if ((o = json_object()) == NULL)
		return (NULL);
	for (i = 0; i < (int)nitems(cols); i++) {
		switch (sqlite3_column_type(st, i)) {
		case SQLITE_INTEGER:
			json_object_set_new(o, cols[i], json_integer(
			    (json_int_t)sqlite3_column_int64(st, i)));
			break;
		case SQLITE_NULL:
			json_object_set_new(o, cols[i], json_null());
			break;
		default:
			json_object_set_new(o, cols[i], json_string(
			    (const char *)sqlite3_column_text(st, i)));
			break;
		}
	}
	return (o);
}

#define STORE_ASK_COLS	"id, listener, sandbox, method, host, port, " \
	"asked_at, decision, decided_by, decided_at, rule, waiting"

/* Question id as a row, or NULL if there is none. */
json_t *
store_ask_get(int64_t id)
{
	sqlite3_stmt	*st;
	json_t		*o = NULL;

	if (store_db == NULL || sqlite3_prepare_v2(store_db, "SELECT "
	    STORE_ASK_COLS " FROM asks WHERE id = ?", -1, &st, NULL) !=
	    SQLITE_OK)
		return (NULL);
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW)
		o = store_ask_row(st);
	sqlite3_finalize(st);
	return (o);
}

/*
 * The last n decided questions of listener, newest first; an empty
 * array when the store cannot be read.
 */
json_t *
store_ask_list(const char *listener, int n)
{
	sqlite3_stmt	*st;
	json_t		*list;

	if ((list = json_array()) == NULL)
		return (NULL);
	if (store_db == NULL || sqlite3_prepare_v2(store_db, "SELECT "
	    STORE_ASK_COLS " FROM asks WHERE listener = ? AND decision IS NOT "
	    "NULL ORDER BY id DESC LIMIT ?", -1, &st, NULL) != SQLITE_OK)
		return (list);
	sqlite3_bind_text(st, 1, listener, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 2, n);
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(list, store_ask_row(st));
	sqlite3_finalize(st);
	return (list);
}

/* The kinds of member of a gateway accounting row. */
#define STORE_U_TEXT		1
#define STORE_U_INT		2	/* a count, 0 when absent */
#define STORE_U_REAL		3	/* a number, NULL when absent */
#define STORE_U_BOOL		4	/* false when absent */
#define STORE_U_TYPE		0xff
#define STORE_U_NEEDED		0x100	/* refused without it */

/* The members of an api_usage row, in the order of its INSERT. */
static const struct store_usage_col {
	const char	*suc_name;
	int		 suc_type;
} store_usage_cols[] = {
	{ "sandbox",		STORE_U_TEXT | STORE_U_NEEDED },
	{ "provider",		STORE_U_TEXT | STORE_U_NEEDED },
	{ "model",		STORE_U_TEXT },
	{ "endpoint",		STORE_U_TEXT | STORE_U_NEEDED },
	{ "path",		STORE_U_TEXT | STORE_U_NEEDED },
	{ "status",		STORE_U_INT | STORE_U_NEEDED },
	{ "input",		STORE_U_INT },
	{ "cached",		STORE_U_INT },
	{ "cache_creation",	STORE_U_INT },
	{ "output",		STORE_U_INT },
	{ "reasoning",		STORE_U_INT },
	{ "cost",		STORE_U_REAL },
	{ "reserved",		STORE_U_INT },
	{ "charged",		STORE_U_INT },
	{ "bytes_up",		STORE_U_INT },
	{ "bytes_down",		STORE_U_INT },
	{ "duration_ms",	STORE_U_INT },
	{ "truncated",		STORE_U_BOOL },
	{ "usage_missing",	STORE_U_BOOL },
	{ "session",		STORE_U_TEXT },
};

/*
 * Whether row is a gateway accounting row: the needed members there,
 * each member of its type (counts not negative); 0 or -1, logged.
 */
static int
store_usage_check(json_t *row)
{
	const struct store_usage_col	*c;
	json_t				*v = NULL;
	size_t				 i;
	int				 ok;

	if (!json_is_object(row)) {
		log_warnx("%s: a row that is not an object", __func__);
		return (-1);
	}
	for (i = 0; i < nitems(store_usage_cols); i++) {
		c = &store_usage_cols[i];
		v = json_object_get(row, c->suc_name);
		if (v == NULL || json_is_null(v)) {
			if (c->suc_type & STORE_U_NEEDED)
				break;
			continue;
		}
		switch (c->suc_type & STORE_U_TYPE) {
		case STORE_U_TEXT:
			ok = json_is_string(v);
			break;
		case STORE_U_INT:
			ok = json_is_integer(v) && json_integer_value(v) >= 0;
			break;
		case STORE_U_REAL:
			ok = json_is_number(v) && json_number_value(v) >= 0;
			break;
		default:
			ok = json_is_boolean(v);
			break;
		}
		if (!ok)
			break;
	}
	if (i < nitems(store_usage_cols)) {
		snprintf(store_lasterr, sizeof(store_lasterr), "usage of "
		    "sandbox %s: %s %s", json_is_string(json_object_get(row,
		    "sandbox")) ? json_string_value(json_object_get(row,
		    "sandbox")) : "?", store_usage_cols[i].suc_name,
		    v == NULL || json_is_null(v) ? "is missing" :
		    "is not valid");
		log_warnx("%s: %s", __func__, store_lasterr);
		return (-1);
	}
	return (0);
}

/*
 * One gateway request's accounting row, at the time now: the members
 * named in store_usage_cols (others are ignored); 0, or -1 for a bad
 * row or a failed write.
 */
int
store_usage_add(json_t *row)
{
	json_t	*rows;
	int	 r;

	if ((rows = json_array()) == NULL ||
	    json_array_append(rows, row) == -1) {
		json_decref(rows);
		return (-1);
	}
	r = store_usage_add_many(rows);
	json_decref(rows);
	return (r == 1 ? 0 : -1);
}

/*
 * Rows of api_usage in one transaction, with one statement: the credential
 * gateway writes what a moment of requests made at once.  A row's "time"
 * is kept if it has one, else it is now.  Returns how many rows were
 * written; a row refused by store_usage_check is left out (and logged),
 * a failing statement ends the lot (-1, nothing written).
 */
int
store_usage_add_many(json_t *rows)
{
	const struct store_usage_col	*c;
	sqlite3_stmt			*st;
	json_t				*row, *v;
	const char			*t;
	char				 now[32];
	size_t				 i, k;
	int				 rc, n = 0;

	if (store_db == NULL)
		return (-1);
	if (json_array_size(rows) == 0)
		return (0);
	store_now(now, sizeof(now));
	if (store_exec("BEGIN IMMEDIATE") == -1)
		return (-1);
	if (sqlite3_prepare_v2(store_db, "INSERT INTO api_usage (sandbox, "
	    "provider, model, endpoint, path, status, input, cached, "
	    "cache_creation, output, reasoning, cost, reserved, charged, "
	    "bytes_up, bytes_down, duration_ms, truncated, usage_missing, "
	    "session, time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
	    "?, ?, ?, ?, ?, ?, ?)", -1, &st, NULL) != SQLITE_OK) {
		store_fail("prepare");
		(void)store_exec("ROLLBACK");
		return (-1);
	}
	json_array_foreach(rows, k, row) {
		if (store_usage_check(row) == -1)
			continue;
		for (i = 0; i < nitems(store_usage_cols); i++) {
			c = &store_usage_cols[i];
			v = json_object_get(row, c->suc_name);
			if ((v == NULL || json_is_null(v)) &&
			    ((c->suc_type & STORE_U_TYPE) == STORE_U_INT ||
			    (c->suc_type & STORE_U_TYPE) == STORE_U_BOOL))
				sqlite3_bind_int(st, (int)i + 1, 0);
			else if ((c->suc_type & STORE_U_TYPE) ==
			    STORE_U_REAL && json_is_number(v))
				sqlite3_bind_double(st, (int)i + 1,
				    json_number_value(v));
			else
				store_turn_bind(st, (int)i + 1, v);
		}
		t = json_string_value(json_object_get(row, "time"));
		store_bind_text(st, (int)i + 1, t != NULL ? t : now);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		if (rc != SQLITE_DONE) {
			store_fail("usage");
			sqlite3_finalize(st);
			(void)store_exec("ROLLBACK");
			return (-1);
		}
		n++;
	}
	sqlite3_finalize(st);
	if (store_exec("COMMIT") == -1) {
		(void)store_exec("ROLLBACK");
		return (-1);
	}
	return (n);
}

/* The n digits at s as a number, or -1. */
static int
store_digits(const char *s, int n)
{
	int	 v = 0;

	while (n-- > 0) {
		if (*s < '0' || *s > '9')
			return (-1);
		v = v * 10 + (*s++ - '0');
	}
	return (v);
}

/*
 * An RFC 3339 time (seconds and their fraction may be left out, the
 * offset is Z or +hh:mm) in the store's form, UTC with milliseconds,
 * which compares as text in time order; 0, or -1 if s is no such time.
 */
static int
store_time_norm(const char *s, char *buf, size_t len)
{
	struct timespec	 ts;
	struct tm	 tm, chk;
	const char	*p;
	long		 ms = 0, scale = 100;
	int		 off = 0, sign;
	time_t		 t;

	memset(&tm, 0, sizeof(tm));
	if (strlen(s) < 17 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' &&
	    s[10] != 't' && s[10] != ' ') || s[13] != ':')
		return (-1);
	tm.tm_year = store_digits(s, 4) - 1900;
	tm.tm_mon = store_digits(s + 5, 2) - 1;
	tm.tm_mday = store_digits(s + 8, 2);
	tm.tm_hour = store_digits(s + 11, 2);
	tm.tm_min = store_digits(s + 14, 2);
	p = s + 16;
	if (*p == ':') {
		tm.tm_sec = store_digits(p + 1, 2);
		p += 3;
		if (tm.tm_sec < 0 || tm.tm_sec > 59)
			return (-1);
	}
	if (*p == '.') {
		if (p[1] < '0' || p[1] > '9')
			return (-1);
		for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
			ms += (*p - '0') * scale;	/* past ms: cut */
	}
	if (*p == 'Z' || *p == 'z')
		p++;
	else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
		sign = *p == '-' ? -1 : 1;
		if (store_digits(p + 1, 2) < 0 || store_digits(p + 4, 2) < 0 ||
		    store_digits(p + 1, 2) > 23 || store_digits(p + 4, 2) > 59)
			return (-1);
		off = sign * (store_digits(p + 1, 2) * 3600 +
		    store_digits(p + 4, 2) * 60);
		p += 6;
	} else
		return (-1);
	if (*p != '\0' || tm.tm_year < 0 || tm.tm_mon < 0 || tm.tm_mon > 11 ||
	    tm.tm_mday < 1 || tm.tm_hour < 0 || tm.tm_hour > 23 ||
	    tm.tm_min < 0 || tm.tm_min > 59)
		return (-1);
	chk = tm;
	if ((t = timegm(&tm)) == -1 || gmtime_r(&t, &tm) == NULL ||
	    tm.tm_mday != chk.tm_mday || tm.tm_mon != chk.tm_mon)
		return (-1);	/* such as February 30 */
	ts.tv_sec = t - off;
	ts.tv_nsec = ms * 1000000L;
	return (util_rfc3339(&ts, buf, len));
}

/*
 * Gateway usage since since (RFC 3339, NULL: all time) of sandbox (NULL:
 * all), a row per sandbox, provider and model in that order: [{sandbox,
 * provider, model ("" for none), requests, errors (status 0 or 400 and
 * up), input, cached, cache_creation, output, reasoning, cost (null if
 * no request had one), charged, bytes_up, bytes_down, truncated,
 * usage_missing (counts of requests), first, last}]; or NULL.
 */
json_t *
store_usage_sum(const char *sandbox, const char *since)
{
	static const char *const cols[] = { "requests", "errors", "input",
	    "cached", "cache_creation", "output", "reasoning", "cost",
	    "charged", "bytes_up", "bytes_down", "truncated",
	    "usage_missing" };
	sqlite3_stmt	*st;
	json_t		*list, *o;
	char		 from[32];
	size_t		 i;
	int		 rc;

	if (store_db == NULL)
		return (NULL);
	from[0] = '\0';	/* all time: every time sorts after "" */
	if (since != NULL && store_time_norm(since, from, sizeof(from)) ==
	    -1) {
		log_warnx("%s: \"%s\" is not an RFC 3339 time", __func__,
		    since);
		return (NULL);
	}
	if (sqlite3_prepare_v2(store_db, "SELECT sandbox, provider, "
	    "coalesce(model, '') AS m, count(*), sum(status = 0 OR "
	    "status >= 400), sum(input), sum(cached), sum(cache_creation), "
	    "sum(output), sum(reasoning), sum(cost), sum(charged), "
	    "sum(bytes_up), sum(bytes_down), sum(truncated), "
	    "sum(usage_missing), min(time), max(time) FROM api_usage WHERE "
	    "(?1 IS NULL OR sandbox = ?1) AND time >= ?2 "
	    "GROUP BY sandbox, provider, m ORDER BY sandbox, provider, m",
	    -1, &st, NULL) != SQLITE_OK) {
		store_fail("prepare");
		return (NULL);
	}
	store_bind_text(st, 1, sandbox);
	store_bind_text(st, 2, from);
	if ((list = json_array()) == NULL) {
		sqlite3_finalize(st);
		return (NULL);
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((o = json_pack("{s:s, s:s, s:s, s:s, s:s}",
		    "sandbox", (const char *)sqlite3_column_text(st, 0),
		    "provider", (const char *)sqlite3_column_text(st, 1),
		    "model", (const char *)sqlite3_column_text(st, 2),
		    "first", (const char *)sqlite3_column_text(st, 16),
		    "last", (const char *)sqlite3_column_text(st, 17))) ==
		    NULL)
			continue;
		for (i = 0; i < nitems(cols); i++)
			json_object_set_new(o, cols[i],
			    sqlite3_column_type(st, i + 3) == SQLITE_NULL ?
			    json_null() : strcmp(cols[i], "cost") == 0 ?
			    json_real(sqlite3_column_double(st, i + 3)) :
			    json_integer((json_int_t)sqlite3_column_int64(st,
			    i + 3)));
		json_array_append_new(list, o);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		store_fail("usage sum");
		json_decref(list);
		return (NULL);
	}
	return (list);
}

/*
 * The tokens charged to sandbox for provider since since (RFC 3339,
 * NULL: all time); -1 if the store cannot say.
 */
int64_t
store_usage_charged(const char *sandbox, const char *provider,
    const char *since)
{
	sqlite3_stmt	*st;
	char		 from[32];
	int64_t		 n = -1;

	if (store_db == NULL || sandbox == NULL || provider == NULL)
		return (-1);
	from[0] = '\0';	/* all time: every time sorts after "" */
	if (since != NULL && store_time_norm(since, from, sizeof(from)) ==
	    -1) {
		log_warnx("%s: \"%s\" is not an RFC 3339 time", __func__,
		    since);
		return (-1);
	}
	if (sqlite3_prepare_v2(store_db, "SELECT coalesce(sum(charged), 0) "
	    "FROM api_usage WHERE sandbox = ? AND time >= ? AND provider = ?",
	    -1, &st, NULL) != SQLITE_OK) {
		store_fail("prepare");
		return (-1);
	}
	store_bind_text(st, 1, sandbox);
	store_bind_text(st, 2, from);
	store_bind_text(st, 3, provider);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	else
		store_fail("usage charged");
	sqlite3_finalize(st);
	return (n);
}
