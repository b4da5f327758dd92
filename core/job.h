/* Multi-model jobs (SPEC 2.4): the rows behind POST /v1/jobs and
 * GET /v1/jobs/{id}.  A job holds one result per model; a detached worker
 * (core/jobrun.c) moves each result pending -> running -> completed|failed,
 * and every such change re-derives the job's status in the same write
 * transaction.  A job whose worker stops showing progress is reaped. */
#ifndef IMAGEGW_JOB_H
#define IMAGEGW_JOB_H

#include <stdio.h>

#include "cache.h"
#include "err.h"
#include "ulid.h"

struct config;
struct sqlite3;

#define JOB_ID_MAX    32 /* "job_" + 26 + NUL */
#define JOB_OWNER_MAX 32 /* "key:<id>", "admin", "anon" */
#define JOB_MODEL_MAX 96

enum job_status { JOB_QUEUED, JOB_RUNNING, JOB_COMPLETED, JOB_PARTIAL, JOB_FAILED };
/* One model's result. */
enum job_model { JOB_MODEL_PENDING, JOB_MODEL_RUNNING, JOB_MODEL_COMPLETED, JOB_MODEL_FAILED };

const char *job_status_name(enum job_status s);
const char *job_model_name(enum job_model s);
/* 1 for completed, partial and failed: nothing will change any more. */
int job_status_final(enum job_status s);
/* The job's status from its results' states: all pending -> queued; any
 * unfinished -> running; all completed -> completed; all failed -> failed;
 * else partial. */
enum job_status job_status_derive(int pending, int running, int completed, int failed);

/* What POST /v1/jobs stores. */
struct job_new {
	const char *owner;
	const char *prompt;
	const char *request; /* the validated fields as JSON, parsed again by the worker */
	int cache_mode;	     /* enum produce_cache_mode */
	long long budget_key, budget_day;
	int nmodels;
	char *const *models;
};

/* Creates a queued job with one pending result per model; writes its id.
 * 0, or -1 (logged). */
int job_create(struct sqlite3 *db, const struct job_new *n, long now, char id[JOB_ID_MAX]);
/* Removes a job whose worker never started (and the blobs only it kept).
 * 0 or -1. */
int job_discard(const struct config *cfg, struct sqlite3 *db, const char *id);

struct job_result {
	int idx;
	char model[JOB_MODEL_MAX];
	enum job_model state;
	long duration_ms;	  /* -1 while unknown */
	int cached;		  /* the image came from the response cache */
	struct cache_entry image; /* blob, ext, mime, bytes, width, height when completed */
	char image_size[4];
	char aspect_ratio[8];
	char *revised_prompt; /* NULL unless completed */
	char error_code[32];  /* "" unless failed */
	char error_message[512];
};

struct job {
	char id[JOB_ID_MAX];
	enum job_status status;
	char owner[JOB_OWNER_MAX];
	char *prompt;
	char *request;
	int cache_mode;
	long long budget_key, budget_day;
	long worker_pid;
	long created, updated, completed; /* unix seconds; completed 0 until final */
	int n;
	struct job_result *results; /* n, in model order */
};

/* Reads a job and its results.  1 (j filled; free with job_free), 0 when
 * there is no such job, -1 on a database failure. */
int job_get(struct sqlite3 *db, const char *id, struct job *j);
void job_free(struct job *j);

/* ---- the worker's writes (each its own short transaction) ---- */

/* Records the worker's pid and counts as progress.  0 or -1. */
int job_worker_started(struct sqlite3 *db, const char *id, long pid, long now);
/* The worker is alive: counts as progress for an unfinished job.  0 or -1. */
int job_heartbeat(struct sqlite3 *db, const char *id, long now);
/* pending -> running.  1 when it was pending, 0 when not (reaped, or done
 * already), -1 on failure. */
int job_model_start(const struct config *cfg, struct sqlite3 *db, const char *id, int idx,
		    long now);
/* Records a completed model: keeps its image (r->image.blob, when set, names
 * a stored blob; else, or when that blob is gone, the image is written from
 * b64) and marks the result completed in the same transaction (see
 * cache_blob_keep).  r->image is filled.  1 when recorded, 0 when the result
 * was already final (reaped: nothing is kept), -1 when the image could not
 * be kept. */
int job_model_complete(const struct config *cfg, struct sqlite3 *db, const char *id,
		       struct job_result *r, const char *b64, size_t b64_len, long now);
/* Records a failed model.  1 when recorded, 0 when already final, -1 on
 * failure. */
int job_model_fail(const struct config *cfg, struct sqlite3 *db, const char *id, int idx,
		   const struct img_error *e, long duration_ms, long now);

/* ---- upkeep ---- */

/* Fails the unfinished models of every unfinished job (only: just that one;
 * NULL: all) that has shown no progress since now - job_timeout_seconds, and
 * gives their reserved daily images back.  Returns the number of jobs
 * reaped (*models, may be NULL: of models failed), or -1. */
long job_reap(const struct config *cfg, struct sqlite3 *db, const char *only, long now,
	      long *models);
/* Deletes up to max (0: all) finished jobs that finished more than
 * job_retention_days before now, and the blobs nothing else keeps.
 * Returns how many, or -1. */
long job_prune(const struct config *cfg, struct sqlite3 *db, long now, int max);

struct job_summary {
	char id[JOB_ID_MAX];
	char status[16];
	char owner[JOB_OWNER_MAX];
	long created, updated, completed;
	long worker_pid;
	int models, done, failed;
};
/* Calls fn for the newest `limit` jobs, newest first.  Returns how many, or -1. */
int job_list(struct sqlite3 *db, int limit, void (*fn)(const struct job_summary *s, void *arg),
	     void *arg);

#endif
