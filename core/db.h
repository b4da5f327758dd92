/* The SQLite database (data_dir/imagegw.db): opened once per process with
 * WAL, a busy timeout and synchronous=NORMAL, migrated from sql/ (compiled in)
 * on first use, with prepared statements cached for the connection's life. */
#ifndef IMAGEGW_DB_H
#define IMAGEGW_DB_H

#include <stddef.h>

#include <sqlite3.h>

struct config;

/* Creates data_dir and the cache directory if missing, opens and migrates
 * the database.  Returns the handle or NULL with a reason in err. */
sqlite3 *db_open(const struct config *cfg, char *err, size_t err_len);
void db_close(sqlite3 *db);
/* The statement for a literal SQL string, prepared once and reset for reuse;
 * NULL on error (logged).  Do not finalize it. */
sqlite3_stmt *db_stmt(sqlite3 *db, const char *sql);
/* The schema version the binary migrates to. */
int db_schema_version(void);
/* Runs BEGIN IMMEDIATE / COMMIT / ROLLBACK; 0 or an SQLite error code. */
int db_begin(sqlite3 *db);
int db_commit(sqlite3 *db);
void db_rollback(sqlite3 *db);

#endif
