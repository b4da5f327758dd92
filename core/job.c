/* Jobs in SQLite.  Every change to a result runs in one BEGIN IMMEDIATE
 * transaction that also re-derives jobs.status (settle), so the status, the
 * results and — when the job becomes final — its gallery entry never
 * disagree, whichever process (worker, reaper, reader) made the change.  A
 * result only ever moves forward: a late worker cannot undo a reaping. */
#include "job.h"

#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "config.h"
#include "db.h"
#include "gallery.h"
#include "log.h"
#include "produce.h"
#include "ratelimit.h"
#include "xalloc.h"

static const char *const status_names[] = {"queued", "running", "completed", "partial", "failed"};
static const char *const model_names[] = {"pending", "running", "completed", "failed"};

const char *job_status_name(enum job_status s)
{
	return (unsigned)s < 5 ? status_names[s] : "failed";
}

const char *job_model_name(enum job_model s)
{
	return (unsigned)s < 4 ? model_names[s] : "failed";
}

static int status_parse(const char *s)
{
	for (int i = 0; i < 5; i++)
		if (s && strcmp(s, status_names[i]) == 0)
			return i;
	return JOB_FAILED;
}

static int model_parse(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (s && strcmp(s, model_names[i]) == 0)
			return i;
	return JOB_MODEL_FAILED;
}

int job_status_final(enum job_status s)
{
	return s == JOB_COMPLETED || s == JOB_PARTIAL || s == JOB_FAILED;
}

enum job_status job_status_derive(int pending, int running, int completed, int failed)
{
	int total = pending + running + completed + failed;
	if (pending + running > 0)
		return running + completed + failed == 0 ? JOB_QUEUED : JOB_RUNNING;
	if (total == 0 || failed == total)
		return JOB_FAILED;
	return completed == total ? JOB_COMPLETED : JOB_PARTIAL;
}

/* Runs a one-shot write statement whose binds the caller set; 0 or -1. */
static int step_done(sqlite3_stmt *st)
{
	if (!st)
		return -1;
	int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_reset(st);
	return rc;
}

/* ---- status ---------------------------------------------------------------- */

/* Re-derives the job's status from its results and records it (with now as
 * progress).  When this makes the job final: the completion time, and the
 * gallery entry unless the gallery is off or the job asked for no-store.
 * Inside the caller's write transaction.  0 or -1. */
static int settle(const struct config *cfg, sqlite3 *db, const char *id, long now)
{
	sqlite3_stmt *cnt = db_stmt(db, "SELECT status, count(*) FROM job_results "
					"WHERE job_id = :id GROUP BY status");
	sqlite3_stmt *cur = db_stmt(db, "SELECT status, cache_mode FROM jobs WHERE id = :id");
	sqlite3_stmt *up =
		db_stmt(db, "UPDATE jobs SET status = :status, updated = :now, "
			    "completed = CASE WHEN :final THEN coalesce(completed, :now) "
			    "ELSE NULL END WHERE id = :id");
	if (!cnt || !cur || !up)
		return -1;
	int n[4] = {0, 0, 0, 0};
	db_bind_text(cnt, ":id", id);
	while (sqlite3_step(cnt) == SQLITE_ROW)
		n[model_parse((const char *)sqlite3_column_text(cnt, 0))] +=
			sqlite3_column_int(cnt, 1);
	sqlite3_reset(cnt);
	db_bind_text(cur, ":id", id);
	if (sqlite3_step(cur) != SQLITE_ROW) {
		sqlite3_reset(cur);
		return -1;
	}
	enum job_status was = status_parse((const char *)sqlite3_column_text(cur, 0));
	int cache_mode = sqlite3_column_int(cur, 1);
	sqlite3_reset(cur);
	enum job_status now_status = job_status_derive(n[0], n[1], n[2], n[3]);
	int final = job_status_final(now_status);
	db_bind_text(up, ":status", job_status_name(now_status));
	db_bind_int64(up, ":now", now);
	db_bind_int64(up, ":final", final);
	db_bind_text(up, ":id", id);
	if (step_done(up) != 0)
		return -1;
	/* What asked for nothing to be kept is not put in the gallery. */
	if (final && !job_status_final(was) && n[JOB_MODEL_COMPLETED] > 0 && cfg->gallery_enabled &&
	    cache_mode != PRODUCE_CACHE_NO_STORE && gallery_add_job(cfg, db, id, now) < 0)
		log_msg(LOG_WARN, "job %s: its gallery entry could not be recorded", id);
	return 0;
}

/* ---- create ---------------------------------------------------------------- */

int job_create(sqlite3 *db, const struct job_new *n, long now, char id[JOB_ID_MAX])
{
	if (!db || ulid_new("job_", id, JOB_ID_MAX) != 0)
		return -1;
	if (db_begin(db) != SQLITE_OK) {
		log_msg(LOG_WARN, "job create: database busy: %s", sqlite3_errmsg(db));
		return -1;
	}
	sqlite3_stmt *job = db_stmt(
		db, "INSERT INTO jobs(id, status, owner, prompt, request, cache_mode, budget_key, "
		    "budget_day, created, updated) VALUES (:id, 'queued', :owner, :prompt, "
		    ":request, :mode, :bkey, :bday, :now, :now)");
	sqlite3_stmt *res = db_stmt(db, "INSERT INTO job_results(job_id, idx, model, status) "
					"VALUES (:id, :idx, :model, 'pending')");
	int ok = job && res;
	if (ok) {
		db_bind_text(job, ":id", id);
		db_bind_text(job, ":owner", n->owner);
		db_bind_text(job, ":prompt", n->prompt);
		db_bind_text(job, ":request", n->request);
		db_bind_int64(job, ":mode", n->cache_mode);
		db_bind_int64(job, ":bkey", n->budget_key);
		db_bind_int64(job, ":bday", n->budget_day);
		db_bind_int64(job, ":now", now);
		ok = step_done(job) == 0;
	}
	for (int i = 0; ok && i < n->nmodels; i++) {
		db_bind_text(res, ":id", id);
		db_bind_int64(res, ":idx", i);
		db_bind_text(res, ":model", n->models[i]);
		ok = step_done(res) == 0;
		sqlite3_clear_bindings(res);
	}
	if (!ok || db_commit(db) != SQLITE_OK) {
		log_msg(LOG_WARN, "job create failed: %s", sqlite3_errmsg(db));
		db_rollback(db);
		return -1;
	}
	return 0;
}

int job_discard(const struct config *cfg, sqlite3 *db, const char *id)
{
	if (!db || db_begin(db) != SQLITE_OK)
		return -1;
	sqlite3_stmt *st = db_stmt(db, "DELETE FROM jobs WHERE id = :id");
	if (st)
		db_bind_text(st, ":id", id);
	if (step_done(st) != 0 || cache_drop_orphans(cfg, db) < 0 || db_commit(db) != SQLITE_OK) {
		db_rollback(db);
		return -1;
	}
	return 0;
}

/* ---- read ------------------------------------------------------------------ */

int job_get(sqlite3 *db, const char *id, struct job *j)
{
	memset(j, 0, sizeof *j);
	if (!db)
		return -1;
	sqlite3_stmt *st =
		db_stmt(db, "SELECT status, owner, prompt, request, cache_mode, budget_key, "
			    "budget_day, worker_pid, created, updated, coalesce(completed, 0), "
			    "(SELECT count(*) FROM job_results WHERE job_id = jobs.id) "
			    "FROM jobs WHERE id = :id");
	sqlite3_stmt *rs = db_stmt(
		db, "SELECT idx, model, status, coalesce(duration_ms, -1), cached, blob, ext, "
		    "mime, bytes, width, height, image_size, aspect_ratio, revised_prompt, "
		    "error_code, error_message FROM job_results WHERE job_id = :id ORDER BY idx");
	if (!st || !rs)
		return -1;
	db_bind_text(st, ":id", id);
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		return rc == SQLITE_DONE ? 0 : -1;
	}
	snprintf(j->id, sizeof j->id, "%s", id);
	j->status = status_parse((const char *)sqlite3_column_text(st, 0));
	db_column_copy(st, 1, j->owner, sizeof j->owner);
	j->prompt = db_column_dup(st, 2);
	j->request = db_column_dup(st, 3);
	j->cache_mode = sqlite3_column_int(st, 4);
	j->budget_key = sqlite3_column_int64(st, 5);
	j->budget_day = sqlite3_column_int64(st, 6);
	j->worker_pid = (long)sqlite3_column_int64(st, 7);
	j->created = (long)sqlite3_column_int64(st, 8);
	j->updated = (long)sqlite3_column_int64(st, 9);
	j->completed = (long)sqlite3_column_int64(st, 10);
	int count = sqlite3_column_int(st, 11);
	sqlite3_reset(st);
	j->results = xcalloc((size_t)(count > 0 ? count : 1), sizeof *j->results);
	db_bind_text(rs, ":id", id);
	while (j->n < count && sqlite3_step(rs) == SQLITE_ROW) {
		struct job_result *r = &j->results[j->n++];
		r->idx = sqlite3_column_int(rs, 0);
		db_column_copy(rs, 1, r->model, sizeof r->model);
		r->state = model_parse((const char *)sqlite3_column_text(rs, 2));
		r->duration_ms = (long)sqlite3_column_int64(rs, 3);
		r->cached = sqlite3_column_int(rs, 4);
		db_column_copy(rs, 5, r->image.blob, sizeof r->image.blob);
		db_column_copy(rs, 6, r->image.ext, sizeof r->image.ext);
		db_column_copy(rs, 7, r->image.mime, sizeof r->image.mime);
		r->image.bytes = (long)sqlite3_column_int64(rs, 8);
		r->image.width = sqlite3_column_int(rs, 9);
		r->image.height = sqlite3_column_int(rs, 10);
		db_column_copy(rs, 11, r->image_size, sizeof r->image_size);
		db_column_copy(rs, 12, r->aspect_ratio, sizeof r->aspect_ratio);
		r->revised_prompt = db_column_dup(rs, 13);
		db_column_copy(rs, 14, r->error_code, sizeof r->error_code);
		db_column_copy(rs, 15, r->error_message, sizeof r->error_message);
	}
	sqlite3_reset(rs);
	return 1;
}

void job_free(struct job *j)
{
	free(j->prompt);
	free(j->request);
	for (int i = 0; i < j->n; i++)
		free(j->results[i].revised_prompt);
	free(j->results);
	memset(j, 0, sizeof *j);
}

/* ---- the worker's writes ------------------------------------------------- */

int job_worker_started(sqlite3 *db, const char *id, long pid, long now)
{
	sqlite3_stmt *st = db ? db_stmt(db, "UPDATE jobs SET worker_pid = :pid, updated = :now "
					    "WHERE id = :id")
			      : NULL;
	if (!st)
		return -1;
	db_bind_int64(st, ":pid", pid);
	db_bind_int64(st, ":now", now);
	db_bind_text(st, ":id", id);
	return step_done(st);
}

int job_heartbeat(sqlite3 *db, const char *id, long now)
{
	sqlite3_stmt *st = db ? db_stmt(db, "UPDATE jobs SET updated = :now WHERE id = :id AND "
					    "status IN ('queued', 'running')")
			      : NULL;
	if (!st)
		return -1;
	db_bind_int64(st, ":now", now);
	db_bind_text(st, ":id", id);
	return step_done(st);
}

int job_model_start(const struct config *cfg, sqlite3 *db, const char *id, int idx, long now)
{
	if (!db || db_begin(db) != SQLITE_OK)
		return -1;
	sqlite3_stmt *st = db_stmt(db, "UPDATE job_results SET status = 'running' WHERE "
				       "job_id = :id AND idx = :idx AND status = 'pending'");
	if (st) {
		db_bind_text(st, ":id", id);
		db_bind_int64(st, ":idx", idx);
	}
	if (step_done(st) != 0)
		goto fail;
	int changed = sqlite3_changes(db);
	if (changed && settle(cfg, db, id, now) != 0)
		goto fail;
	if (db_commit(db) != SQLITE_OK)
		goto fail;
	return changed ? 1 : 0;
fail:
	log_msg(LOG_WARN, "job %s: starting model %d failed: %s", id, idx, sqlite3_errmsg(db));
	db_rollback(db);
	return -1;
}

struct complete_arg {
	const struct config *cfg;
	const char *id;
	const struct job_result *r;
	long now;
	int stale; /* the result was final already */
};

/* cache_blob_keep's pin: the result names its blob in the transaction that
 * checked (or wrote) it. */
static int pin_result(sqlite3 *db, const struct cache_entry *e, void *arg)
{
	struct complete_arg *a = arg;
	sqlite3_stmt *st = db_stmt(
		db, "UPDATE job_results SET status = 'completed', duration_ms = :dur, cached = "
		    ":cached, blob = :blob, ext = :ext, mime = :mime, bytes = :bytes, width = "
		    ":w, height = :h, image_size = :size, aspect_ratio = :ratio, revised_prompt "
		    "= :revised, error_code = NULL, error_message = NULL WHERE job_id = :id AND "
		    "idx = :idx AND status IN ('pending', 'running')");
	if (!st)
		return -1;
	db_bind_int64(st, ":dur", a->r->duration_ms);
	db_bind_int64(st, ":cached", a->r->cached);
	db_bind_text(st, ":blob", e->blob);
	db_bind_text(st, ":ext", e->ext);
	db_bind_text(st, ":mime", e->mime);
	db_bind_int64(st, ":bytes", e->bytes);
	db_bind_int64(st, ":w", e->width);
	db_bind_int64(st, ":h", e->height);
	db_bind_text(st, ":size", a->r->image_size);
	db_bind_text(st, ":ratio", a->r->aspect_ratio);
	db_bind_text(st, ":revised", a->r->revised_prompt);
	db_bind_text(st, ":id", a->id);
	db_bind_int64(st, ":idx", a->r->idx);
	if (step_done(st) != 0)
		return -1;
	if (sqlite3_changes(db) == 0) {
		a->stale = 1;
		return -1;
	}
	return settle(a->cfg, db, a->id, a->now);
}

int job_model_complete(const struct config *cfg, sqlite3 *db, const char *id, struct job_result *r,
		       const char *b64, size_t b64_len, long now)
{
	struct complete_arg a = {cfg, id, r, now, 0};
	char hash[65];
	snprintf(hash, sizeof hash, "%s", r->image.blob);
	if (cache_blob_keep(cfg, db, hash, b64, b64_len, &r->image, pin_result, &a) == 0)
		return 1;
	return a.stale ? 0 : -1;
}

int job_model_fail(const struct config *cfg, sqlite3 *db, const char *id, int idx,
		   const struct img_error *e, long duration_ms, long now)
{
	if (!db || db_begin(db) != SQLITE_OK)
		return -1;
	sqlite3_stmt *st = db_stmt(
		db, "UPDATE job_results SET status = 'failed', duration_ms = :dur, error_code = "
		    ":code, error_message = :msg WHERE job_id = :id AND idx = :idx AND status IN "
		    "('pending', 'running')");
	if (st) {
		db_bind_int64(st, ":dur", duration_ms);
		db_bind_text(st, ":code", err_info(e->code)->code);
		db_bind_text(st, ":msg", e->message[0] ? e->message : err_info(e->code)->message);
		db_bind_text(st, ":id", id);
		db_bind_int64(st, ":idx", idx);
	}
	if (step_done(st) != 0)
		goto fail;
	int changed = sqlite3_changes(db);
	if (changed && settle(cfg, db, id, now) != 0)
		goto fail;
	if (db_commit(db) != SQLITE_OK)
		goto fail;
	return changed ? 1 : 0;
fail:
	log_msg(LOG_WARN, "job %s: recording model %d failed: %s", id, idx, sqlite3_errmsg(db));
	db_rollback(db);
	return -1;
}

/* ---- upkeep ---------------------------------------------------------------- */

#define REAP_BATCH 200

long job_reap(const struct config *cfg, sqlite3 *db, const char *only, long now, long *models)
{
	if (models)
		*models = 0;
	if (!db || db_begin(db) != SQLITE_OK)
		return -1;
	long cutoff = now - cfg->job_timeout_seconds;
	sqlite3_stmt *pick =
		only ? db_stmt(db, "SELECT id, budget_key, budget_day FROM jobs WHERE id = :only "
				   "AND status IN ('queued', 'running') AND updated <= :cutoff")
		     : db_stmt(db, "SELECT id, budget_key, budget_day FROM jobs WHERE status IN "
				   "('queued', 'running') AND updated <= :cutoff LIMIT 200");
	sqlite3_stmt *fail = db_stmt(
		db, "UPDATE job_results SET status = 'failed', error_code = 'IMG_INTERNAL', "
		    "error_message = :msg WHERE job_id = :id AND status IN ('pending', 'running')");
	if (!pick || !fail) {
		db_rollback(db);
		return -1;
	}
	struct {
		char id[JOB_ID_MAX];
		long long key, day;
		int failed;
	} *jobs = xcalloc(REAP_BATCH, sizeof *jobs);
	int n = 0;
	if (only)
		db_bind_text(pick, ":only", only);
	db_bind_int64(pick, ":cutoff", cutoff);
	while (n < REAP_BATCH && sqlite3_step(pick) == SQLITE_ROW) {
		db_column_copy(pick, 0, jobs[n].id, sizeof jobs[n].id);
		jobs[n].key = sqlite3_column_int64(pick, 1);
		jobs[n].day = sqlite3_column_int64(pick, 2);
		n++;
	}
	sqlite3_reset(pick);
	char msg[200];
	snprintf(msg, sizeof msg,
		 "The job's worker stopped without finishing this model (no progress for %d s).",
		 cfg->job_timeout_seconds);
	int ok = 1;
	for (int i = 0; ok && i < n; i++) {
		db_bind_text(fail, ":msg", msg);
		db_bind_text(fail, ":id", jobs[i].id);
		ok = step_done(fail) == 0;
		jobs[i].failed = sqlite3_changes(db);
		ok = ok && settle(cfg, db, jobs[i].id, now) == 0;
	}
	long rc = n;
	if (!ok || db_commit(db) != SQLITE_OK) {
		log_msg(LOG_WARN, "job reap failed: %s", sqlite3_errmsg(db));
		db_rollback(db);
		rc = -1;
	}
	for (int i = 0; rc >= 0 && i < n; i++) {
		log_msg(LOG_WARN, "job %s reaped: %d unfinished model(s) failed", jobs[i].id,
			jobs[i].failed);
		if (models)
			*models += jobs[i].failed;
		/* Nothing was generated for the failed models: their images go
		 * back to the key's daily budget. */
		if (jobs[i].key > 0 && jobs[i].failed > 0)
			ratelimit_images_refund(db, jobs[i].key, jobs[i].day, jobs[i].failed);
	}
	free(jobs);
	return rc;
}

long job_prune(const struct config *cfg, sqlite3 *db, long now, int max)
{
	if (!db || db_begin(db) != SQLITE_OK)
		return -1;
	sqlite3_stmt *st = db_stmt(
		db, "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE completed IS NOT "
		    "NULL AND completed <= :cutoff ORDER BY completed LIMIT :max)");
	if (st) {
		db_bind_int64(st, ":cutoff", now - cfg->job_retention_days * 86400L);
		db_bind_int64(st, ":max", max > 0 ? max : -1);
	}
	if (step_done(st) != 0)
		goto fail;
	long n = sqlite3_changes(db);
	if (n > 0 && cache_drop_orphans(cfg, db) < 0)
		goto fail;
	if (db_commit(db) != SQLITE_OK)
		goto fail;
	return n;
fail:
	log_msg(LOG_WARN, "job prune failed: %s", sqlite3_errmsg(db));
	db_rollback(db);
	return -1;
}

int job_list(sqlite3 *db, int limit, void (*fn)(const struct job_summary *s, void *arg), void *arg)
{
	sqlite3_stmt *st =
		db ? db_stmt(db, "SELECT id, status, owner, created, updated, coalesce(completed, "
				 "0), worker_pid, (SELECT count(*) FROM job_results r WHERE "
				 "r.job_id = jobs.id), (SELECT count(*) FROM job_results r WHERE "
				 "r.job_id = jobs.id AND r.status = 'completed'), (SELECT count(*) "
				 "FROM job_results r WHERE r.job_id = jobs.id AND r.status = "
				 "'failed') FROM jobs ORDER BY id DESC LIMIT :limit")
		   : NULL;
	if (!st)
		return -1;
	db_bind_int64(st, ":limit", limit > 0 ? limit : -1);
	int n = 0, rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct job_summary s;
		memset(&s, 0, sizeof s);
		db_column_copy(st, 0, s.id, sizeof s.id);
		db_column_copy(st, 1, s.status, sizeof s.status);
		db_column_copy(st, 2, s.owner, sizeof s.owner);
		s.created = (long)sqlite3_column_int64(st, 3);
		s.updated = (long)sqlite3_column_int64(st, 4);
		s.completed = (long)sqlite3_column_int64(st, 5);
		s.worker_pid = (long)sqlite3_column_int64(st, 6);
		s.models = sqlite3_column_int(st, 7);
		s.done = sqlite3_column_int(st, 8);
		s.failed = sqlite3_column_int(st, 9);
		fn(&s, arg);
		n++;
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? n : -1;
}
