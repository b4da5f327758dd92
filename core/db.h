/* The SQLite database (data_dir/imagegw.db): opened once per process with
 * WAL, a busy timeout and synchronous=NORMAL, migrated from sql/ (compiled in)
 * on first use, with prepared statements cached for the connection's life. */
#ifndef IMAGEGW_DB_H
#define IMAGEGW_DB_H

#include <stddef.h>

/* sqlite3.h's types, named without including it: fcgi/ uses this module but
 * knows nothing of SQL. */
struct sqlite3;
struct sqlite3_stmt;
struct config;

/* Creates data_dir and the cache directory if missing, opens and migrates
 * the database.  Returns the handle or NULL with a reason in err. */
struct sqlite3 *db_open(const struct config *cfg, char *err, size_t err_len);
void db_close(struct sqlite3 *db);
/* The statement for a literal SQL string, prepared once and reset for reuse;
 * NULL on error (logged).  Do not finalize it. */
struct sqlite3_stmt *db_stmt(struct sqlite3 *db, const char *sql);
/* 0 when the database answers a query, else -1 (for /healthz). */
int db_check(struct sqlite3 *db);
/* The value stored under key in the meta table, copied into out; 0 or -1. */
int db_meta_get(struct sqlite3 *db, const char *key, char *out, size_t out_len);
/* Named binds: bind by ":name" as written in the SQL. */
void db_bind_text(struct sqlite3_stmt *st, const char *name, const char *v);
void db_bind_int64(struct sqlite3_stmt *st, const char *name, long long v);
void db_bind_double(struct sqlite3_stmt *st, const char *name, double v);
/* Column col of the current row as text: copied into out (cut to len, ""
 * for NULL), or duplicated (NULL for NULL; free it). */
void db_column_copy(struct sqlite3_stmt *st, int col, char *out, size_t len);
char *db_column_dup(struct sqlite3_stmt *st, int col);
/* Adds delta to a named counter shared by all processes (0 or -1). */
int db_counter_add(struct sqlite3 *db, const char *name, double delta);
/* A counter's value (0 when absent). */
double db_counter_get(struct sqlite3 *db, const char *name);
/* Sets how long this connection waits for a busy database, in ms; -1
 * restores the normal busy timeout. */
void db_set_patience(struct sqlite3 *db, int ms);
/* SQLite's version string. */
const char *db_library_version(void);
/* The schema version the binary migrates to. */
int db_schema_version(void);
/* Runs BEGIN IMMEDIATE / COMMIT / ROLLBACK; 0 or an SQLite error code. */
int db_begin(struct sqlite3 *db);
int db_commit(struct sqlite3 *db);
void db_rollback(struct sqlite3 *db);

#endif
