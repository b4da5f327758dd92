/* A scratch data directory with a freshly migrated database, for the unit
 * tests that need SQLite (cache, client keys, rate limits).  Include it after
 * the module under test; the caller owns the struct config it fills. */
#ifndef IMAGEGW_TESTDB_H
#define IMAGEGW_TESTDB_H

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "db.h"
#include "log.h"

struct testdb {
	char dir[64];
	char data_dir[128];
	char cache_dir[160];
	char log_path[200];
	struct sqlite3 *db;
};

/* Makes /tmp/imagegw-unit-<tag>-XXXXXX, points cfg's data_dir and cache_dir
 * into it (and its log at level warn unless cfg already names a level),
 * and opens the database.  0, or -1 with the reason on stderr. */
static int testdb_open(struct testdb *t, struct config *cfg, const char *tag)
{
	snprintf(t->dir, sizeof t->dir, "/tmp/imagegw-unit-%s-XXXXXX", tag);
	if (!mkdtemp(t->dir)) {
		fprintf(stderr, "  mkdtemp: %s\n", strerror(errno));
		return -1;
	}
	snprintf(t->data_dir, sizeof t->data_dir, "%s/var", t->dir);
	snprintf(t->cache_dir, sizeof t->cache_dir, "%s/var/cache", t->dir);
	snprintf(t->log_path, sizeof t->log_path, "%s/imagegw.log", t->dir);
	cfg->data_dir = t->data_dir;
	cfg->cache_dir = t->cache_dir;
	if (!cfg->log_level) {
		cfg->log_level = (char *)"warn";
		cfg->log_format = (char *)"json";
		cfg->log_file = (char *)"";
	}
	log_open(cfg);
	char err[256];
	t->db = db_open(cfg, err, sizeof err);
	if (!t->db) {
		fprintf(stderr, "  db_open: %s\n", err);
		return -1;
	}
	return 0;
}

static int testdb_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Closes the database and removes the directory. */
static void testdb_close(struct testdb *t)
{
	db_close(t->db);
	t->db = NULL;
	log_default();
	nftw(t->dir, testdb_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
