/* The online backup.  SQLite's backup API copies pages from the live
 * database through the source connection a step at a time; between steps
 * no lock is held, so responders go on writing.  A write by another process
 * makes the next step start the copy over (the copy is always of one
 * moment); with a busy gateway that could go on for ever, so after a few
 * restarts the rest is copied in one step, which in WAL mode holds only a
 * read snapshot: writers are not blocked by it either. */
#include "backup.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "config.h"

/* How long a step may keep finding the source busy before giving up. */
#define BUSY_LIMIT_MS 30000

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void pause_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* The absolute, symlink-free form of a path whose last component may not
 * exist yet: its directory resolved, then the name appended.  0 or -1. */
static int canonical(const char *path, char *out, size_t len)
{
	char a[PATH_MAX], b[PATH_MAX], dir[PATH_MAX];
	snprintf(a, sizeof a, "%s", path);
	snprintf(b, sizeof b, "%s", path);
	if (!realpath(dirname(a), dir))
		return -1;
	const char *base = basename(b);
	int n = snprintf(out, len, "%s/%s", strcmp(dir, "/") == 0 ? "" : dir, base);
	return n > 0 && (size_t)n < len ? 0 : -1;
}

static int same_file(const char *a, const char *b)
{
	struct stat sa, sb;
	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

/* Decides the file to write: dest itself, or a dated name inside it when it
 * is a directory; refuses the live database and its companion files. */
static int target_path(const struct config *cfg, const char *dest, char *out, size_t len, char *err,
		       size_t err_len)
{
	struct stat st;
	char live[PATH_MAX], live_c[PATH_MAX], want[PATH_MAX];
	if (!dest || !*dest) {
		snprintf(err, err_len, "no target path given");
		return -1;
	}
	if (stat(dest, &st) == 0 && S_ISDIR(st.st_mode)) {
		char stamp[32];
		time_t t = time(NULL);
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
		snprintf(want, sizeof want, "%s/imagegw-%s.db", dest, stamp);
	} else {
		snprintf(want, sizeof want, "%s", dest);
	}
	if (canonical(want, out, len) != 0) {
		snprintf(err, err_len, "cannot use %s: %s", want, strerror(errno));
		return -1;
	}
	snprintf(live, sizeof live, "%s/imagegw.db", cfg->data_dir);
	/* The live file (by name, or the same file under another name), its
	 * -wal, -shm and -journal. */
	int clash = same_file(out, live);
	static const char *const companions[] = {"", "-wal", "-shm", "-journal"};
	for (size_t i = 0; !clash && i < sizeof companions / sizeof companions[0]; i++) {
		char c[PATH_MAX + 16];
		snprintf(c, sizeof c, "%s%s", live, companions[i]);
		clash = same_file(out, c) || (canonical(live, live_c, sizeof live_c) == 0 &&
					      strncmp(out, live_c, strlen(live_c)) == 0 &&
					      strcmp(out + strlen(live_c), companions[i]) == 0);
	}
	if (clash) {
		snprintf(err, err_len, "refusing to write over the live database %s", live);
		return -1;
	}
	if (stat(out, &st) == 0 && !S_ISREG(st.st_mode)) {
		snprintf(err, err_len, "%s exists and is not a regular file", out);
		return -1;
	}
	char wal[PATH_MAX + 8];
	snprintf(wal, sizeof wal, "%s-wal", out);
	if (access(wal, F_OK) == 0) {
		snprintf(err, err_len,
			 "%s exists: the old backup is open or was not closed cleanly; close it or "
			 "remove that file first",
			 wal);
		return -1;
	}
	return 0;
}

/* Copies every page, restarting as SQLite asks, and after max_restarts in
 * one step.  Returns SQLITE_DONE or the error that stopped it. */
static int copy_pages(sqlite3_backup *b, const struct backup_opts *o, struct backup_report *r)
{
	int prev = -1;
	double busy_since = 0;
	for (;;) {
		int pages = r->restarts >= o->max_restarts ? -1 : o->step_pages;
		int rc = sqlite3_backup_step(b, pages);
		r->steps++;
		if (pages < 0)
			r->snapshot = 1;
		if (rc == SQLITE_DONE)
			return rc;
		if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
			if (busy_since == 0)
				busy_since = now_s();
			else if ((now_s() - busy_since) * 1000 > BUSY_LIMIT_MS)
				return rc;
			pause_ms(o->pause_ms > 0 ? o->pause_ms : 1);
			continue;
		}
		if (rc != SQLITE_OK)
			return rc;
		busy_since = 0;
		int left = sqlite3_backup_remaining(b);
		if (prev >= 0 && left > prev)
			r->restarts++; /* another process wrote: the copy began again */
		prev = left;
		if (o->pause_ms > 0)
			pause_ms(o->pause_ms);
	}
}

/* A one-row PRAGMA's text answer into out; 0 or -1. */
static int pragma_text(sqlite3 *db, const char *sql, char *out, size_t len)
{
	sqlite3_stmt *st;
	int rc = -1;
	out[0] = '\0';
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW) {
		const unsigned char *v = sqlite3_column_text(st, 0);
		snprintf(out, len, "%s", v ? (const char *)v : "");
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

static void unlink_temp(const char *tmp)
{
	static const char *const sfx[] = {"", "-journal", "-wal", "-shm"};
	char p[PATH_MAX + 16];
	for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
		snprintf(p, sizeof p, "%s%s", tmp, sfx[i]);
		unlink(p);
	}
}

static int sync_path(const char *path, int dir)
{
	int fd = open(path, (dir ? O_DIRECTORY : 0) | O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	close(fd);
	return rc;
}

int backup_run(const struct config *cfg, sqlite3 *src, const char *dest,
	       const struct backup_opts *opts, struct backup_report *r, char *err, size_t err_len)
{
	struct backup_opts o = {256, 5, 3};
	if (opts) {
		if (opts->step_pages > 0)
			o.step_pages = opts->step_pages;
		if (opts->pause_ms >= 0)
			o.pause_ms = opts->pause_ms;
		if (opts->max_restarts >= 0)
			o.max_restarts = opts->max_restarts;
	}
	memset(r, 0, sizeof *r);
	err[0] = '\0';
	if (!src) {
		snprintf(err, err_len, "the database is not open");
		return -1;
	}
	if (target_path(cfg, dest, r->path, sizeof r->path, err, err_len) != 0)
		return -1;
	double t0 = now_s();
	char tmp[PATH_MAX + 16], answer[64];
	snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", r->path);
	int fd = mkstemp(tmp); /* mode 0600 */
	if (fd < 0) {
		snprintf(err, err_len, "cannot create a file beside %s: %s", r->path,
			 strerror(errno));
		return -1;
	}
	close(fd); /* before SQLite opens it: closing a descriptor drops its locks */
	sqlite3 *dst = NULL;
	int rc = -1;
	if (sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		snprintf(err, err_len, "cannot open %s: %s", tmp,
			 dst ? sqlite3_errmsg(dst) : "out of memory");
		goto out;
	}
	sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
	if (!b) {
		snprintf(err, err_len, "cannot start the backup: %s", sqlite3_errmsg(dst));
		goto out;
	}
	int step = copy_pages(b, &o, r);
	r->pages = sqlite3_backup_pagecount(b);
	int fin = sqlite3_backup_finish(b);
	if (step != SQLITE_DONE || fin != SQLITE_OK) {
		snprintf(err, err_len, "the copy failed: %s",
			 sqlite3_errstr(step != SQLITE_DONE ? step : fin));
		goto out;
	}
	/* The copy carries the live file's WAL flag; a backup is better as one
	 * self-contained file.  (Opened again by imagegw, it goes back to WAL.) */
	if (pragma_text(dst, "PRAGMA journal_mode=DELETE", answer, sizeof answer) != 0 ||
	    strcmp(answer, "delete") != 0) {
		snprintf(err, err_len, "cannot set the copy's journal mode: %s",
			 sqlite3_errmsg(dst));
		goto out;
	}
	if (pragma_text(dst, "PRAGMA quick_check", answer, sizeof answer) != 0 ||
	    strcmp(answer, "ok") != 0) {
		snprintf(err, err_len, "the copy failed its check: %s", answer);
		goto out;
	}
	if (pragma_text(dst, "PRAGMA page_size", answer, sizeof answer) == 0)
		r->page_size = atoi(answer);
	if (sqlite3_close(dst) != SQLITE_OK) {
		snprintf(err, err_len, "cannot close the copy: %s", sqlite3_errmsg(dst));
		goto out;
	}
	dst = NULL;
	if (chmod(tmp, 0600) != 0 || sync_path(tmp, 0) != 0) {
		snprintf(err, err_len, "cannot sync %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (rename(tmp, r->path) != 0) {
		snprintf(err, err_len, "cannot rename the copy to %s: %s", r->path,
			 strerror(errno));
		goto out;
	}
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s", r->path);
	sync_path(dirname(dir), 1); /* the rename itself survives a crash */
	r->seconds = now_s() - t0;
	rc = 0;
out:
	if (dst)
		sqlite3_close(dst);
	if (rc != 0)
		unlink_temp(tmp);
	return rc;
}
