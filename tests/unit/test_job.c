/* Unit tests for core/job.c and core/ulid.c: the id format, uniqueness and
 * order; the job status derived from its results' states; results that only
 * move forward; reaping with a fake clock (nothing before job_timeout_seconds
 * without progress, then the unfinished models fail and the job is partial or
 * failed, once); retention. */
#include "../../core/job.c"

#include <regex.h>
#include <time.h>
#include <unistd.h>

#include "b64.h"

#include "testdb.h"
#include "unit.h"

static struct config cfg;
static struct testdb tdb;
static sqlite3 *db;

static int fresh(void)
{
	memset(&cfg, 0, sizeof cfg);
	cfg.job_timeout_seconds = 60;
	cfg.job_retention_days = 7;
	cfg.gallery_enabled = 1;
	cfg.gallery_max_entries = 0;
	cfg.cache_max_size_mb = 1000;
	if (testdb_open(&tdb, &cfg, "job") != 0)
		return -1;
	db = tdb.db;
	return 0;
}

static void done(void)
{
	testdb_close(&tdb);
	db = NULL;
}

/* A job of n local models, created at `now`. */
static void make_job(int n, long now, char id[JOB_ID_MAX])
{
	char *models[4] = {"local-preview", "local-preview-16x9", "local-preview-9x16",
			   "local-preview-4x3"};
	struct job_new jn = {"anon", "a prompt", "{\"prompt\":\"a prompt\"}", 0, 0, 0, n, models};
	CHECK_INT(job_create(db, &jn, now, id), 0);
}

static enum job_status status_of(const char *id)
{
	struct job j;
	CHECK_INT(job_get(db, id, &j), 1);
	enum job_status s = j.status;
	job_free(&j);
	return s;
}

/* A completed result with an image written from these bytes (a real PNG). */
static const unsigned char png1x1[] = {
	0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48,
	0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00,
	0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78,
	0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0, 0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99,
	0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};

static int complete(const char *id, int idx, long now)
{
	struct buf b64 = BUF_INIT;
	b64_encode(&b64, png1x1, sizeof png1x1);
	struct job_result r;
	memset(&r, 0, sizeof r);
	r.idx = idx;
	r.duration_ms = 12;
	snprintf(r.image_size, sizeof r.image_size, "1K");
	snprintf(r.aspect_ratio, sizeof r.aspect_ratio, "1:1");
	int rc = job_model_complete(&cfg, db, id, &r, b64.data, b64.len, now);
	buf_free(&b64);
	return rc;
}

static int fail(const char *id, int idx, long now)
{
	struct img_error e;
	err_set(&e, IMG_UPSTREAM_ERROR, NULL, "upstream said no");
	return job_model_fail(&cfg, db, id, idx, &e, 5, now);
}

/* ---- ids ---------------------------------------------------------------------- */

TEST(id_format_and_uniqueness)
{
	regex_t re;
	CHECK_INT(regcomp(&re, "^job_[0-7][0-9A-HJKMNP-TV-Z]{25}$", REG_EXTENDED | REG_NOSUB), 0);
	char prev[JOB_ID_MAX] = "";
	static char seen[2000][JOB_ID_MAX];
	for (int i = 0; i < 2000; i++) {
		char id[JOB_ID_MAX];
		CHECK_INT(ulid_new("job_", id, sizeof id), 0);
		CHECK(regexec(&re, id, 0, NULL, 0) == 0);
		CHECK(ulid_valid("job_", id));
		/* The time part never goes back. */
		CHECK(strncmp(prev, id, 14) <= 0);
		snprintf(prev, sizeof prev, "%s", id);
		snprintf(seen[i], sizeof seen[i], "%s", id);
	}
	for (int i = 0; i < 2000; i++)
		for (int j = i + 1; j < 2000; j++)
			if (strcmp(seen[i], seen[j]) == 0) {
				CHECK(!"duplicate id");
				i = j = 2000;
			}
	regfree(&re);
	char small[10];
	CHECK_INT(ulid_new("job_", small, sizeof small), -1);
}

TEST(id_encoding_is_ulid)
{
	/* The ULID spec's example: time 1469918176385, all-zero randomness gives
	 * 01ARYZ6S41 followed by sixteen zeros. */
	unsigned char zero[10] = {0}, ones[10];
	memset(ones, 0xFF, sizeof ones);
	char out[ULID_LEN + 1];
	ulid_encode(1469918176385LL, zero, out);
	CHECK_STR(out, "01ARYZ6S410000000000000000");
	ulid_encode(0xFFFFFFFFFFFFLL, ones, out);
	CHECK_STR(out, "7ZZZZZZZZZZZZZZZZZZZZZZZZZ");
	/* Later times sort later as text. */
	char a[ULID_LEN + 1], b[ULID_LEN + 1];
	ulid_encode(1700000000000LL, ones, a);
	ulid_encode(1700000000001LL, zero, b);
	CHECK(strcmp(a, b) < 0);
}

TEST(id_validation)
{
	CHECK(ulid_valid("job_", "job_01ARYZ6S410000000000000000"));
	CHECK(!ulid_valid("job_", "gal_01ARYZ6S410000000000000000"));
	CHECK(!ulid_valid("job_", "job_01aryz6s410000000000000000"));  /* lower case */
	CHECK(!ulid_valid("job_", "job_01ARYZ6S41000000000000000"));   /* 25 */
	CHECK(!ulid_valid("job_", "job_01ARYZ6S4100000000000000000")); /* 27 */
	CHECK(!ulid_valid("job_", "job_81ARYZ6S410000000000000000"));  /* > 48 bits */
	CHECK(!ulid_valid("job_", "job_01ARYZ6S41000000000000000I"));  /* not Crockford */
	CHECK(!ulid_valid("job_", "job_01ARYZ6S41000000000000000U"));
	CHECK(!ulid_valid("job_", "job_01ARYZ6S410000000000/../0"));
	CHECK(!ulid_valid("job_", NULL));
}

/* ---- status ------------------------------------------------------------------- */

TEST(status_derivation)
{
	/* pending, running, completed, failed */
	CHECK_INT(job_status_derive(3, 0, 0, 0), JOB_QUEUED);
	CHECK_INT(job_status_derive(2, 1, 0, 0), JOB_RUNNING);
	CHECK_INT(job_status_derive(2, 0, 1, 0), JOB_RUNNING); /* one done, two not started */
	CHECK_INT(job_status_derive(1, 0, 0, 1), JOB_RUNNING);
	CHECK_INT(job_status_derive(0, 1, 2, 0), JOB_RUNNING);
	CHECK_INT(job_status_derive(0, 0, 3, 0), JOB_COMPLETED);
	CHECK_INT(job_status_derive(0, 0, 0, 3), JOB_FAILED);
	CHECK_INT(job_status_derive(0, 0, 2, 1), JOB_PARTIAL);
	CHECK_INT(job_status_derive(0, 0, 1, 2), JOB_PARTIAL);
	CHECK_INT(job_status_derive(0, 0, 0, 0), JOB_FAILED);
	CHECK(!job_status_final(JOB_QUEUED) && !job_status_final(JOB_RUNNING));
	CHECK(job_status_final(JOB_COMPLETED) && job_status_final(JOB_PARTIAL) &&
	      job_status_final(JOB_FAILED));
	CHECK_STR(job_status_name(JOB_PARTIAL), "partial");
	CHECK_STR(job_model_name(JOB_MODEL_PENDING), "pending");
}

TEST(results_move_the_job_forward_only)
{
	if (fresh() != 0)
		return;
	char id[JOB_ID_MAX];
	long t = 1800000000;
	make_job(3, t, id);
	CHECK_INT(status_of(id), JOB_QUEUED);
	CHECK_INT(job_model_start(&cfg, db, id, 0, t + 1), 1);
	CHECK_INT(job_model_start(&cfg, db, id, 0, t + 1), 0); /* not pending any more */
	CHECK_INT(status_of(id), JOB_RUNNING);
	CHECK_INT(complete(id, 0, t + 2), 1);
	CHECK_INT(complete(id, 0, t + 2), 0); /* final already */
	CHECK_INT(fail(id, 1, t + 3), 1);
	CHECK_INT(status_of(id), JOB_RUNNING);
	CHECK_INT(fail(id, 0, t + 3), 0); /* a completed result stays completed */
	CHECK_INT(complete(id, 2, t + 4), 1);
	struct job j;
	CHECK_INT(job_get(db, id, &j), 1);
	CHECK_INT(j.status, JOB_PARTIAL);
	CHECK_INT(j.completed, t + 4);
	CHECK_INT(j.n, 3);
	CHECK_INT(j.results[0].state, JOB_MODEL_COMPLETED);
	CHECK_INT(j.results[0].duration_ms, 12);
	CHECK_INT(j.results[0].image.bytes, (long)sizeof png1x1);
	CHECK_INT(j.results[0].image.width, 1);
	CHECK_STR(j.results[0].image.ext, "png");
	CHECK_STR(j.results[1].error_code, "IMG_UPSTREAM_ERROR");
	CHECK_STR(j.results[1].error_message, "upstream said no");
	CHECK_STR(j.results[1].model, "local-preview-16x9");
	/* Both results share one blob, kept by the job. */
	CHECK_STR(j.results[0].image.blob, j.results[2].image.blob);
	char path[4096];
	CHECK_INT(cache_blob_path(&cfg, j.results[0].image.blob, "png", path, sizeof path), 0);
	CHECK(access(path, F_OK) == 0);
	job_free(&j);
	/* A partial job with an image becomes one gallery entry. */
	sqlite3_stmt *st = db_stmt(db, "SELECT count(*), max(image_count), max(job_id) FROM "
				       "gallery_entries");
	CHECK(sqlite3_step(st) == SQLITE_ROW);
	CHECK_INT(sqlite3_column_int(st, 0), 1);
	CHECK_INT(sqlite3_column_int(st, 1), 2);
	CHECK_STR((const char *)sqlite3_column_text(st, 2), id);
	sqlite3_reset(st);
	done();
}

/* ---- reaping with a fake clock --------------------------------------------------- */

TEST(reap_waits_for_the_timeout_then_fails_unfinished_models)
{
	if (fresh() != 0)
		return;
	char id[JOB_ID_MAX], quiet[JOB_ID_MAX], other[JOB_ID_MAX];
	long t = 1800000000, models = -1;
	make_job(3, t, id);
	make_job(2, t, quiet); /* no result ever: every model fails */
	make_job(1, t, other);
	CHECK_INT(job_model_start(&cfg, db, id, 0, t + 5), 1);
	CHECK_INT(complete(id, 0, t + 6), 1);
	CHECK_INT(job_model_start(&cfg, db, id, 1, t + 7), 1);
	CHECK_INT(job_model_start(&cfg, db, other, 0, t + 1), 1);
	CHECK_INT(job_heartbeat(db, other, t + 100), 0); /* its worker is alive */

	/* Progress at t+7: 59 s later nothing happens. */
	CHECK_INT(job_reap(&cfg, db, id, t + 7 + 59, &models), 0);
	CHECK_INT(models, 0);
	CHECK_INT(status_of(id), JOB_RUNNING);
	/* 60 s without progress: the one job asked for, and only it. */
	CHECK_INT(job_reap(&cfg, db, id, t + 7 + 60, &models), 1);
	CHECK_INT(models, 2);
	CHECK_INT(status_of(id), JOB_PARTIAL);
	CHECK_INT(status_of(quiet), JOB_QUEUED);
	struct job j;
	CHECK_INT(job_get(db, id, &j), 1);
	CHECK_INT(j.results[0].state, JOB_MODEL_COMPLETED);
	for (int i = 1; i < 3; i++) {
		CHECK_INT(j.results[i].state, JOB_MODEL_FAILED);
		CHECK_STR(j.results[i].error_code, "IMG_INTERNAL");
		CHECK(strstr(j.results[i].error_message, "no progress for 60 s") != NULL);
	}
	CHECK_INT(j.completed, t + 67);
	job_free(&j);
	/* A late worker cannot undo it. */
	CHECK_INT(complete(id, 1, t + 200), 0);
	CHECK_INT(status_of(id), JOB_PARTIAL);

	/* All at once (the cron command): the silent job fails wholly; the one
	 * with a recent heartbeat is left alone. */
	CHECK_INT(job_reap(&cfg, db, NULL, t + 150, &models), 1);
	CHECK_INT(models, 2);
	CHECK_INT(status_of(quiet), JOB_FAILED);
	CHECK_INT(status_of(other), JOB_RUNNING);
	CHECK_INT(job_reap(&cfg, db, NULL, t + 150, &models), 0); /* once */
	CHECK_INT(job_reap(&cfg, db, NULL, t + 160, &models), 1);
	CHECK_INT(status_of(other), JOB_FAILED);
	done();
}

TEST(retention_deletes_old_finished_jobs_only)
{
	if (fresh() != 0)
		return;
	cfg.gallery_enabled = 0;
	char old_done[JOB_ID_MAX], young[JOB_ID_MAX], old_running[JOB_ID_MAX];
	long t = 1800000000, day = 86400;
	make_job(1, t, old_done);
	CHECK_INT(complete(old_done, 0, t + 10), 1);
	make_job(1, t, old_running);
	CHECK_INT(job_model_start(&cfg, db, old_running, 0, t + 10), 1);
	make_job(1, t + 6 * day, young);
	CHECK_INT(fail(young, 0, t + 6 * day), 1);
	CHECK_INT(job_prune(&cfg, db, t + 10 + 7 * day - 1, 0), 0);
	CHECK_INT(job_prune(&cfg, db, t + 10 + 7 * day, 0), 1);
	struct job j;
	CHECK_INT(job_get(db, old_done, &j), 0);
	CHECK_INT(job_get(db, old_running, &j), 1); /* unfinished: reaped first, not deleted */
	job_free(&j);
	CHECK_INT(job_get(db, young, &j), 1);
	job_free(&j);
	/* Its image went with it: nothing else used the blob. */
	sqlite3_stmt *st = db_stmt(db, "SELECT count(*) FROM cache_blobs");
	CHECK(sqlite3_step(st) == SQLITE_ROW);
	CHECK_INT(sqlite3_column_int(st, 0), 0);
	sqlite3_reset(st);
	done();
}

struct seen {
	int n, done;
	char first[JOB_ID_MAX];
};

static void note_job(const struct job_summary *s, void *arg)
{
	struct seen *seen = arg;
	if (seen->n++ == 0) {
		snprintf(seen->first, sizeof seen->first, "%s", s->id);
		seen->done = s->done;
	}
}

TEST(listing_newest_first)
{
	if (fresh() != 0)
		return;
	char a[JOB_ID_MAX], b[JOB_ID_MAX];
	make_job(2, 1800000000, a);
	struct timespec nap = {0, 2 * 1000000L};
	nanosleep(&nap, NULL); /* the next id's time part is later */
	make_job(1, 1800000001, b);
	CHECK_INT(complete(b, 0, 1800000002), 1);
	struct seen seen = {0, 0, ""};
	CHECK_INT(job_list(db, 10, note_job, &seen), 2);
	CHECK_STR(seen.first, b);
	CHECK_INT(seen.done, 1);
	seen.n = 0;
	CHECK_INT(job_list(db, 1, note_job, &seen), 1);
	done();
}

int main(void)
{
	RUN(id_format_and_uniqueness);
	RUN(id_encoding_is_ulid);
	RUN(id_validation);
	RUN(status_derivation);
	RUN(results_move_the_job_forward_only);
	RUN(reap_waits_for_the_timeout_then_fails_unfinished_models);
	RUN(retention_deletes_old_finished_jobs_only);
	RUN(listing_newest_first);
	UNIT_DONE();
}
