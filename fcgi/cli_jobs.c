/* `imagegw jobs ...` and `imagegw gallery ...`: the operator's view of jobs
 * and the gallery, their upkeep (cron: `imagegw jobs reap`), and
 * `imagegw jobs run ID`, which is how a responder starts a job's worker. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "config.h"
#include "db.h"
#include "gallery.h"
#include "job.h"
#include "jobrun.h"
#include "log.h"

/* The value after --flag, or NULL. */
static const char *opt(int argc, char **argv, const char *flag)
{
	for (int i = 3; i + 1 < argc; i++)
		if (strcmp(argv[i], flag) == 0)
			return argv[i + 1];
	return NULL;
}

/* --limit N (1..100000), else def; -1 when malformed. */
static int limit_opt(int argc, char **argv, int def)
{
	const char *v = opt(argc, argv, "--limit");
	if (!v)
		return def;
	char *end;
	long n = strtol(v, &end, 10);
	return *v && !*end && n >= 1 && n <= 100000 ? (int)n : -1;
}

static void iso_time(long t, char out[24])
{
	struct tm tm;
	time_t tt = (time_t)t;
	if (t <= 0) {
		snprintf(out, 24, "-");
		return;
	}
	gmtime_r(&tt, &tm);
	strftime(out, 24, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Loads the configuration and opens the database; 0 or -1 (said why). */
static int open_all(struct config *cfg, struct sqlite3 **db, int quiet_log)
{
	struct buf errs = BUF_INIT, warns = BUF_INIT;
	*db = NULL;
	int rc = config_load(cfg, &errs, &warns);
	fputs(buf_cstr(&errs), stderr);
	buf_free(&errs);
	buf_free(&warns);
	if (rc != 0)
		return -1;
	if (quiet_log)
		log_default();
	else
		log_open(cfg);
	char err[256];
	*db = db_open(cfg, err, sizeof err);
	if (!*db) {
		fprintf(stderr, "imagegw: %s\n", err);
		return -1;
	}
	return 0;
}

static void print_job(const struct job_summary *s, void *arg)
{
	(void)arg;
	char created[24];
	iso_time(s->created, created);
	printf("%-30s  %-9s  %-20s  %2d/%-2d ok  %2d failed  %-10s  pid %ld\n", s->id, s->status,
	       created, s->done, s->models, s->failed, s->owner, s->worker_pid);
}

static int jobs_usage(void)
{
	fprintf(stderr, "usage: imagegw jobs list [--limit N] | reap | run JOB_ID\n");
	return 2;
}

int cli_jobs(int argc, char **argv)
{
	const char *sub = argc >= 3 ? argv[2] : "";
	int is_run = strcmp(sub, "run") == 0;
	if (strcmp(sub, "list") != 0 && strcmp(sub, "reap") != 0 && !(is_run && argc == 4))
		return jobs_usage();
	int limit = limit_opt(argc, argv, 50);
	if (limit < 0)
		return jobs_usage();
	struct config cfg;
	struct sqlite3 *db = NULL;
	int rc = 1;
	if (is_run) {
		/* The worker: logs where the responders log. */
		struct buf errs = BUF_INIT, warns = BUF_INIT;
		if (config_load(&cfg, &errs, &warns) == 0) {
			log_open(&cfg);
			rc = jobrun_main(&cfg, argv[3]);
		} else {
			fputs(buf_cstr(&errs), stderr);
		}
		buf_free(&errs);
		buf_free(&warns);
		goto out;
	}
	if (open_all(&cfg, &db, 1) != 0)
		goto out;
	if (strcmp(sub, "list") == 0) {
		int n = job_list(db, limit, print_job, NULL);
		if (n == 0)
			printf("no jobs\n");
		rc = n < 0;
		goto out;
	}
	long now = (long)time(NULL), models = 0;
	long reaped = job_reap(&cfg, db, NULL, now, &models);
	long pruned = reaped >= 0 ? job_prune(&cfg, db, now, 0) : -1;
	if (reaped < 0 || pruned < 0) {
		fprintf(stderr, "imagegw jobs reap failed (database busy?)\n");
		goto out;
	}
	printf("reap: %ld stalled job%s failed (%ld unfinished model%s); %ld finished job%s "
	       "older than %d days deleted\n",
	       reaped, reaped == 1 ? "" : "s", models, models == 1 ? "" : "s", pruned,
	       pruned == 1 ? "" : "s", cfg.job_retention_days);
	rc = 0;
out:
	db_close(db);
	config_free(&cfg);
	return rc;
}

static int gallery_usage(void)
{
	fprintf(stderr, "usage: imagegw gallery list [--limit N] | delete ENTRY_ID | prune\n");
	return 2;
}

int cli_gallery(int argc, char **argv)
{
	const char *sub = argc >= 3 ? argv[2] : "";
	int is_delete = strcmp(sub, "delete") == 0;
	if (strcmp(sub, "list") != 0 && strcmp(sub, "prune") != 0 && !(is_delete && argc == 4))
		return gallery_usage();
	int limit = limit_opt(argc, argv, 50);
	if (limit < 0 || limit > GALLERY_LIMIT_MAX * 1000)
		return gallery_usage();
	struct config cfg;
	struct sqlite3 *db = NULL;
	int rc = 1;
	if (open_all(&cfg, &db, 1) != 0)
		goto out;
	if (is_delete) {
		int n = gallery_delete(&cfg, db, argv[3], NULL);
		if (n == 1)
			printf("deleted %s (its images stay while a cache entry, job or other "
			       "entry uses them)\n",
			       argv[3]);
		else
			fprintf(stderr, "imagegw gallery delete: %s\n",
				n == 0 ? "no such entry" : "failed (database busy?)");
		rc = n == 1 ? 0 : 1;
		goto out;
	}
	if (strcmp(sub, "prune") == 0) {
		long n = gallery_prune(&cfg, db, 0);
		if (n >= 0)
			printf("prune: %ld entr%s beyond gallery_max_entries = %d or "
			       "gallery_max_size_mb = %ld deleted\n",
			       n, n == 1 ? "y" : "ies", cfg.gallery_max_entries,
			       cfg.gallery_max_size_mb);
		rc = n < 0;
		goto out;
	}
	/* Every owner's entries, newest first, a page at a time. */
	char before[GALLERY_ID_MAX] = "";
	int shown = 0;
	rc = 0;
	while (shown < limit) {
		struct gallery_entry *list;
		int more, want = limit - shown > GALLERY_LIMIT_MAX ? GALLERY_LIMIT_MAX
								   : limit - shown;
		int n = gallery_list(db, NULL, before, want, &list, &more);
		if (n < 0) {
			rc = 1;
			break;
		}
		for (int i = 0; i < n; i++) {
			char created[24];
			iso_time(list[i].created, created);
			printf("%-30s  %-20s  %-10s  %2d image%s  %-10s  %.60s\n", list[i].id,
			       created, list[i].source, list[i].image_count,
			       list[i].image_count == 1 ? " " : "s", list[i].owner, list[i].prompt);
		}
		shown += n;
		if (n > 0)
			snprintf(before, sizeof before, "%s", list[n - 1].id);
		gallery_entries_free(list, n);
		if (!more || n == 0)
			break;
	}
	if (rc == 0 && shown == 0)
		printf("no gallery entries\n");
out:
	db_close(db);
	config_free(&cfg);
	return rc;
}
