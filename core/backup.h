/* Online backups of the database (`imagegw backup PATH`, issue 7): a
 * consistent copy of data_dir/imagegw.db taken while responders keep
 * writing, with SQLite's backup API, into a file of its own (mode 0600). */
#ifndef IMAGEGW_BACKUP_H
#define IMAGEGW_BACKUP_H

#include <stddef.h>

struct config;
struct sqlite3;

struct backup_opts {
	int step_pages;	  /* pages copied per step (default 256: 1 MiB of 4 KiB pages) */
	int pause_ms;	  /* pause between steps, so writers get the database (default 5) */
	int max_restarts; /* then copy the rest in one step (default 3) */
};

struct backup_report {
	char path[4096]; /* the file written */
	long pages;	 /* pages in the copy */
	int page_size;
	int steps;
	int restarts; /* times a write to the database made the copy start over */
	int snapshot; /* the copy was finished in one step after max_restarts */
	double seconds;
};

/* Copies the database open on src (the configured data_dir/imagegw.db) to
 * dest: a file, or a directory that receives imagegw-<UTC time>.db.  The
 * copy is written to a temp file beside the target, switched to a plain
 * rollback journal (a single self-contained file), checked with
 * quick_check, fsynced, given mode 0600 and renamed over the target.
 * Refuses the live database and its -wal/-shm/-journal files as a target,
 * and a target whose own -wal file exists.  opts may be NULL (defaults).
 * 0 with r filled, or -1 with a reason in err (nothing is left behind). */
int backup_run(const struct config *cfg, struct sqlite3 *src, const char *dest,
	       const struct backup_opts *opts, struct backup_report *r, char *err, size_t err_len);

#endif
