/* Database access.  Migrations are the files of sql/, in order, compiled into
 * the binary; PRAGMA user_version records how many have run.  Each migration
 * runs in its own BEGIN IMMEDIATE transaction, so concurrent first requests
 * from several processes migrate exactly once. */
#include "db.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "buf.h"
#include "config.h"
#include "log.h"
#include "xalloc.h"

extern const char *const db_migrations[];
extern const size_t db_migrations_count;

#define STMT_CACHE 128
/* How long a write waits for another process's transaction. */
#define DB_BUSY_TIMEOUT_MS 5000
static struct {
	sqlite3 *db;
	const char *sql; /* compared by address: SQL is always a literal */
	sqlite3_stmt *st;
} stmt_cache[STMT_CACHE];

const char *db_library_version(void)
{
	return sqlite3_libversion();
}

int db_schema_version(void)
{
	return (int)db_migrations_count;
}

/* mkdir -p for one path; 0 or -1 with errno. */
static int make_dirs(const char *path)
{
	char tmp[4096];
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof tmp)
		return errno = ENAMETOOLONG, -1;
	memcpy(tmp, path, n + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0750) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(tmp, 0750) != 0 && errno != EEXIST)
		return -1;
	return 0;
}

static int user_version(sqlite3 *db)
{
	sqlite3_stmt *st;
	int v = -1;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int migrate(sqlite3 *db, char *err, size_t err_len)
{
	if (user_version(db) >= (int)db_migrations_count)
		return 0;
	for (size_t i = 0; i < db_migrations_count; i++) {
		if (db_begin(db) != SQLITE_OK) {
			snprintf(err, err_len, "cannot lock database: %s", sqlite3_errmsg(db));
			return -1;
		}
		/* Another process may have migrated while we waited for the lock. */
		if (user_version(db) > (int)i) {
			db_commit(db);
			continue;
		}
		char pragma[64];
		snprintf(pragma, sizeof pragma, "PRAGMA user_version=%zu", i + 1);
		if (sqlite3_exec(db, db_migrations[i], NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite3_exec(db, pragma, NULL, NULL, NULL) != SQLITE_OK) {
			snprintf(err, err_len, "migration %zu failed: %s", i + 1,
				 sqlite3_errmsg(db));
			db_rollback(db);
			return -1;
		}
		if (db_commit(db) != SQLITE_OK) {
			snprintf(err, err_len, "migration %zu commit failed: %s", i + 1,
				 sqlite3_errmsg(db));
			return -1;
		}
		log_msg(LOG_INFO, "database migrated to schema version %zu", i + 1);
	}
	return 0;
}

sqlite3 *db_open(const struct config *cfg, char *err, size_t err_len)
{
	if (make_dirs(cfg->data_dir) != 0) {
		snprintf(err, err_len, "cannot create data_dir %s: %s", cfg->data_dir,
			 strerror(errno));
		return NULL;
	}
	if (make_dirs(cfg->cache_dir) != 0)
		log_msg(LOG_WARN, "cannot create cache_dir %s: %s", cfg->cache_dir,
			strerror(errno));
	struct buf path = BUF_INIT;
	buf_printf(&path, "%s/imagegw.db", cfg->data_dir);
	/* The database holds upstream keys: create it (and so its -wal and -shm
	 * files, which SQLite gives the same mode) readable by its owner only.
	 * Nothing of SQLite's is open yet, so this open/close drops no lock. */
	int fd = open(path.data, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(path.data, &db,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
				 NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, err_len, "cannot open database %s: %s", path.data,
			 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close(db);
		buf_free(&path);
		return NULL;
	}
	buf_free(&path);
	sqlite3_busy_timeout(db, DB_BUSY_TIMEOUT_MS);
	sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
	sqlite3_exec(db, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON", NULL, NULL, NULL);
	if (migrate(db, err, err_len) != 0) {
		db_close(db);
		return NULL;
	}
	return db;
}

void db_close(sqlite3 *db)
{
	if (!db)
		return;
	for (int i = 0; i < STMT_CACHE; i++) {
		if (stmt_cache[i].db == db) {
			sqlite3_finalize(stmt_cache[i].st);
			memset(&stmt_cache[i], 0, sizeof stmt_cache[i]);
		}
	}
	sqlite3_close(db);
}

sqlite3_stmt *db_stmt(sqlite3 *db, const char *sql)
{
	int free_slot = -1;
	for (int i = 0; i < STMT_CACHE; i++) {
		if (stmt_cache[i].db == db && stmt_cache[i].sql == sql) {
			sqlite3_reset(stmt_cache[i].st);
			sqlite3_clear_bindings(stmt_cache[i].st);
			return stmt_cache[i].st;
		}
		if (!stmt_cache[i].db && free_slot < 0)
			free_slot = i;
	}
	sqlite3_stmt *st;
	if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
		log_msg(LOG_ERROR, "SQL prepare failed: %s", sqlite3_errmsg(db));
		return NULL;
	}
	if (free_slot < 0) {
		log_msg(LOG_ERROR, "statement cache full; raise STMT_CACHE in core/db.c");
		sqlite3_finalize(st);
		return NULL;
	}
	stmt_cache[free_slot].db = db;
	stmt_cache[free_slot].sql = sql;
	stmt_cache[free_slot].st = st;
	return st;
}

int db_check(sqlite3 *db)
{
	sqlite3_stmt *st = db ? db_stmt(db, "SELECT count(*) FROM meta") : NULL;
	if (!st)
		return -1;
	int rc = sqlite3_step(st) == SQLITE_ROW ? 0 : -1;
	sqlite3_reset(st);
	return rc;
}

int db_meta_get(sqlite3 *db, const char *key, char *out, size_t out_len)
{
	sqlite3_stmt *st = db ? db_stmt(db, "SELECT value FROM meta WHERE key = :key") : NULL;
	if (!st)
		return -1;
	db_bind_text(st, ":key", key);
	int rc = -1;
	if (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(out, out_len, "%s", (const char *)sqlite3_column_text(st, 0));
		rc = 0;
	}
	sqlite3_reset(st);
	return rc;
}

void db_bind_text(sqlite3_stmt *st, const char *name, const char *v)
{
	sqlite3_bind_text(st, sqlite3_bind_parameter_index(st, name), v, -1, SQLITE_TRANSIENT);
}

void db_bind_int64(sqlite3_stmt *st, const char *name, long long v)
{
	sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, name), v);
}

void db_bind_double(sqlite3_stmt *st, const char *name, double v)
{
	sqlite3_bind_double(st, sqlite3_bind_parameter_index(st, name), v);
}

void db_set_patience(sqlite3 *db, int ms)
{
	if (db)
		sqlite3_busy_timeout(db, ms < 0 ? DB_BUSY_TIMEOUT_MS : ms);
}

int db_counter_add(sqlite3 *db, const char *name, double delta)
{
	sqlite3_stmt *st =
		db ? db_stmt(db, "INSERT INTO counters(name, value) VALUES (:name, :d) "
				 "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value")
		   : NULL;
	if (!st)
		return -1;
	db_bind_text(st, ":name", name);
	db_bind_double(st, ":d", delta);
	int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_reset(st);
	return rc;
}

double db_counter_get(sqlite3 *db, const char *name)
{
	sqlite3_stmt *st = db ? db_stmt(db, "SELECT value FROM counters WHERE name = :name") : NULL;
	double v = 0;
	if (!st)
		return 0;
	db_bind_text(st, ":name", name);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_double(st, 0);
	sqlite3_reset(st);
	return v;
}

int db_begin(sqlite3 *db)
{
	return sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
}

int db_commit(sqlite3 *db)
{
	return sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
}

void db_rollback(sqlite3 *db)
{
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

void db_column_copy(sqlite3_stmt *st, int col, char *out, size_t len)
{
	const unsigned char *v = sqlite3_column_text(st, col);
	snprintf(out, len, "%s", v ? (const char *)v : "");
}

char *db_column_dup(sqlite3_stmt *st, int col)
{
	const unsigned char *v = sqlite3_column_text(st, col);
	return v ? xstrdup((const char *)v) : NULL;
}
