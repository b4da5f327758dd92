/* Metrics: the family table (name, type, help, where its numbers come from),
 * this process's unflushed deltas, the flush that adds them to the metrics
 * table, and the Prometheus text writer.  Label sets stay bounded by
 * construction: routes are the route table's patterns, models come from the
 * configured set, statuses and codes from fixed lists; a scanner probing
 * random paths adds no series. */
#include "metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "cache.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "upstream.h"
#include "version.h"
#include "xalloc.h"

enum fam_type { FAM_COUNTER, FAM_GAUGE, FAM_HISTOGRAM };

/* Where a family's numbers come from: the metrics table (added to by the
 * hooks), a row of the cache's counters table, or a query at scrape time. */
enum fam_source { SRC_STORED, SRC_COUNTERS, SRC_SCRAPE };

struct family {
	const char *name;
	enum fam_type type;
	enum fam_source source;
	const char *label_names; /* "route,status", or NULL for a single series */
	const double *bounds;	 /* histograms: bucket upper bounds, ascending; +Inf implied */
	int nbounds;
	const char *help;
};

/* Seconds.  Requests range from a cached /healthz to a 4K image; upstream
 * calls from a mock's milliseconds to the 180 s timeout; lookups are an
 * indexed SELECT, plus reading and hashing the blob for b64_json hits. */
/* clang-format off */
static const double request_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
					30, 60, 120, 300};
static const double generation_bounds[] = {0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 45, 60, 90,
					   120, 180, 300};
static const double lookup_bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
				       0.025, 0.05, 0.1, 0.25, 0.5, 1};
/* clang-format on */
#define BOUNDS(a) a, (int)(sizeof a / sizeof a[0])

enum {
	F_REQUESTS,
	F_REQUEST_SECONDS,
	F_IMAGES,
	F_UPSTREAM_REQUESTS,
	F_UPSTREAM_ERRORS,
	F_RATE_LIMITED,
	F_GENERATION_SECONDS,
	F_LOOKUP_SECONDS,
	F_CACHE_HITS,
	F_CACHE_MISSES,
	F_CACHE_EVICTIONS,
	F_COST_SAVED,
	F_CACHE_BYTES,
	F_CACHE_MAX_BYTES,
	F_KEPT_BYTES,
	F_CACHE_ENTRIES,
	F_CACHE_HIT_RATIO,
	F_ACCOUNTS_AVAILABLE,
	F_ACCOUNTS_CONFIGURED,
	F_JOBS,
	F_BUILD_INFO,
	NFAM
};

static const struct family families[NFAM] = {
	[F_REQUESTS] = {"imagegw_requests_total", FAM_COUNTER, SRC_STORED, "route,status", NULL, 0,
			"Requests answered, by matched route pattern and HTTP status."},
	[F_REQUEST_SECONDS] = {"imagegw_request_duration_seconds", FAM_HISTOGRAM, SRC_STORED,
			       "route", BOUNDS(request_bounds),
			       "Time from reading a request to the end of its reply, by route."},
	[F_IMAGES] = {"imagegw_images_generated_total", FAM_COUNTER, SRC_STORED, "model,resolution",
		      NULL, 0,
		      "Fresh images made (not cache hits), by model family and resolution."},
	[F_UPSTREAM_REQUESTS] = {"imagegw_upstream_requests_total", FAM_COUNTER, SRC_STORED,
				 "provider,status", NULL, 0,
				 "Upstream attempts, by provider and HTTP status (or timeout, "
				 "network, too_large)."},
	[F_UPSTREAM_ERRORS] = {"imagegw_upstream_errors_total", FAM_COUNTER, SRC_STORED, "code",
			       NULL, 0,
			       "Upstream attempts that failed, by the error code they gave."},
	[F_RATE_LIMITED] = {"imagegw_rate_limited_total", FAM_COUNTER, SRC_STORED, "scope", NULL, 0,
			    "Requests refused by a client limit (key, ip, global, daily)."},
	[F_GENERATION_SECONDS] = {"imagegw_generation_seconds", FAM_HISTOGRAM, SRC_STORED, NULL,
				  BOUNDS(generation_bounds),
				  "Time of each upstream image-generation attempt."},
	[F_LOOKUP_SECONDS] = {"imagegw_cache_lookup_seconds", FAM_HISTOGRAM, SRC_STORED, NULL,
			      BOUNDS(lookup_bounds),
			      "Time of each cache lookup, hit or miss, with its bookkeeping."},
	[F_CACHE_HITS] = {"imagegw_cache_hits_total", FAM_COUNTER, SRC_COUNTERS, NULL, NULL, 0,
			  "Cache lookups that found a usable image."},
	[F_CACHE_MISSES] = {"imagegw_cache_misses_total", FAM_COUNTER, SRC_COUNTERS, NULL, NULL, 0,
			    "Cache lookups that found none (absent, expired or damaged)."},
	[F_CACHE_EVICTIONS] = {"imagegw_cache_evictions_total", FAM_COUNTER, SRC_COUNTERS, NULL,
			       NULL, 0, "Cache entries removed to stay under cache_max_size_mb."},
	[F_COST_SAVED] = {"imagegw_cost_saved_usd_total", FAM_COUNTER, SRC_COUNTERS, NULL, NULL, 0,
			  "Upstream price of every cache hit, from price_table, in USD."},
	[F_CACHE_BYTES] =
		{"imagegw_cache_bytes", FAM_GAUGE, SRC_SCRAPE, NULL, NULL, 0,
		 "Bytes of the cache's own image files (each distinct image once), counted "
		 "against cache_max_size_mb."},
	[F_KEPT_BYTES] = {"imagegw_kept_bytes", FAM_GAUGE, SRC_SCRAPE, NULL, NULL, 0,
			  "Bytes of image files the gallery or a job keeps (outside the cache's "
			  "cap)."},
	[F_CACHE_MAX_BYTES] = {"imagegw_cache_max_bytes", FAM_GAUGE, SRC_SCRAPE, NULL, NULL, 0,
			       "The cache's size cap, cache_max_size_mb, in bytes."},
	[F_CACHE_ENTRIES] = {"imagegw_cache_entries", FAM_GAUGE, SRC_SCRAPE, NULL, NULL, 0,
			     "Cached image slots (index rows)."},
	[F_CACHE_HIT_RATIO] = {"imagegw_cache_hit_ratio", FAM_GAUGE, SRC_SCRAPE, NULL, NULL, 0,
			       "hits / (hits + misses) since the database was created; 0 before "
			       "the first lookup."},
	[F_ACCOUNTS_AVAILABLE] = {"imagegw_accounts_available", FAM_GAUGE, SRC_SCRAPE, "provider",
				  NULL, 0,
				  "Upstream keys enabled and not cooling down, by provider."},
	[F_ACCOUNTS_CONFIGURED] = {"imagegw_accounts_configured", FAM_GAUGE, SRC_SCRAPE, "provider",
				   NULL, 0,
				   "Upstream keys in the pool, enabled or not, by provider."},
	[F_JOBS] = {"imagegw_jobs", FAM_GAUGE, SRC_SCRAPE, "status", NULL, 0, "Jobs by status."},
	[F_BUILD_INFO] = {"imagegw_build_info", FAM_GAUGE, SRC_SCRAPE, "version", NULL, 0,
			  "Always 1; the version label names the running binary."},
};

/* The job statuses SPEC 2.4 names, shown (as 0) before any job exists. */
static const char *const job_statuses[] = {"queued", "running", "completed", "partial", "failed"};

/* ---- series ----------------------------------------------------------------- */

#define LABELS_MAX 256
/* Far above what the bounded label sets can reach; a guard against a
 * future hook that passes something unbounded. */
#define MAX_SERIES 2048

struct series {
	int fam;
	unsigned hash;
	char labels[LABELS_MAX]; /* as exposed: a="1",b="2" (names sorted), or "" */
	double value;		 /* counters and gauges */
	double *buckets;	 /* histograms: nbounds + 1 counts, the last for +Inf */
	double sum;
	int dirty; /* the process's deltas: something to flush */
};

struct series_set {
	struct series *v;
	int n, cap;
};

static unsigned hash_of(int fam, const char *labels)
{
	unsigned h = 2166136261u ^ (unsigned)fam;
	for (const unsigned char *p = (const unsigned char *)labels; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h;
}

/* The series of a family with these labels, created (zero) if missing;
 * NULL when the set is full or the labels too long. */
static struct series *set_get(struct series_set *set, int fam, const char *labels)
{
	unsigned h = hash_of(fam, labels);
	for (int i = 0; i < set->n; i++) {
		struct series *s = &set->v[i];
		if (s->hash == h && s->fam == fam && strcmp(s->labels, labels) == 0)
			return s;
	}
	if (set->n >= MAX_SERIES || strlen(labels) >= LABELS_MAX)
		return NULL;
	if (set->n == set->cap) {
		set->cap = set->cap ? set->cap * 2 : 32;
		set->v = xrealloc(set->v, (size_t)set->cap * sizeof *set->v);
	}
	struct series *s = &set->v[set->n++];
	memset(s, 0, sizeof *s);
	s->fam = fam;
	s->hash = h;
	snprintf(s->labels, sizeof s->labels, "%s", labels);
	if (families[fam].type == FAM_HISTOGRAM)
		s->buckets = xcalloc((size_t)families[fam].nbounds + 1, sizeof *s->buckets);
	return s;
}

static void set_free(struct series_set *set)
{
	for (int i = 0; i < set->n; i++)
		free(set->v[i].buckets);
	free(set->v);
	memset(set, 0, sizeof *set);
}

/* Index of the bucket v falls in: the first bound >= v, else +Inf. */
static int bucket_of(const struct family *f, double v)
{
	int i = 0;
	while (i < f->nbounds && v > f->bounds[i])
		i++;
	return i;
}

/* A bucket bound as the le label shows it and the bucket column stores it. */
static void bound_text(const struct family *f, int i, char *out, size_t len)
{
	if (i >= f->nbounds)
		snprintf(out, len, "+Inf");
	else
		snprintf(out, len, "%g", f->bounds[i]);
}

/* ---- labels -------------------------------------------------------------- */

/* Appends key="value" to a label text, escaping the value as the format
 * asks (backslash, double quote, newline).  0, or -1 when it does not fit
 * (out unchanged). */
static int label_add(char *out, size_t cap, const char *key, const char *value)
{
	size_t n = strlen(out), start = n;
	int w = snprintf(out + n, cap - n, "%s%s=\"", n ? "," : "", key);
	if (w < 0 || (size_t)w >= cap - n)
		goto full;
	n += (size_t)w;
	for (const char *p = value ? value : ""; *p; p++) {
		const char *esc = *p == '\\'   ? "\\\\"
				  : *p == '"'  ? "\\\""
				  : *p == '\n' ? "\\n"
					       : NULL;
		size_t k = esc ? 2 : 1;
		if (n + k + 2 > cap)
			goto full;
		if (esc)
			memcpy(out + n, esc, 2);
		else
			out[n] = *p;
		n += k;
	}
	if (n + 2 > cap)
		goto full;
	out[n++] = '"';
	out[n] = '\0';
	return 0;
full:
	out[start] = '\0';
	return -1;
}

/* ---- this process's deltas ------------------------------------------------ */

static struct series_set pending;
static double last_flush; /* metrics_clock() of the last flush that wrote */
static int atfork_set;
static int full_warned;
static int failed_flushes;

/* Zeroes every delta, keeping the series (after a flush). */
static void clear_deltas(void)
{
	for (int i = 0; i < pending.n; i++) {
		struct series *s = &pending.v[i];
		s->value = s->sum = 0;
		s->dirty = 0;
		if (s->buckets)
			memset(s->buckets, 0,
			       ((size_t)families[s->fam].nbounds + 1) * sizeof *s->buckets);
	}
}

/* In the child of a fork() (a job worker): its parent will write what it
 * inherited, so the child starts from nothing. */
static void start_afresh(void)
{
	clear_deltas();
	failed_flushes = 0;
}

static struct series *pending_get(int fam, const char *labels)
{
	if (!atfork_set) {
		pthread_atfork(NULL, NULL, start_afresh);
		atfork_set = 1;
	}
	struct series *s = set_get(&pending, fam, labels);
	if (!s && !full_warned) {
		log_msg(LOG_WARN, "metrics: no room for %s{%.100s}; not counted",
			families[fam].name, labels);
		full_warned = 1;
	}
	return s;
}

static void count(int fam, const char *labels, double delta)
{
	struct series *s = pending_get(fam, labels);
	if (s) {
		s->value += delta;
		s->dirty = 1;
	}
}

static void observe(int fam, const char *labels, double v)
{
	struct series *s = pending_get(fam, labels);
	if (s) {
		s->buckets[bucket_of(&families[fam], v)] += 1;
		s->sum += v;
		s->dirty = 1;
	}
}

double metrics_clock(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void metrics_request(const char *route, int status, double started)
{
	double seconds = metrics_clock() - started;
	char l[LABELS_MAX] = "", st[16];
	snprintf(st, sizeof st, "%d", status);
	if (label_add(l, sizeof l, "route", route ? route : "unknown") != 0)
		return;
	char both[LABELS_MAX];
	memcpy(both, l, sizeof both);
	if (label_add(both, sizeof both, "status", st) == 0)
		count(F_REQUESTS, both, 1);
	observe(F_REQUEST_SECONDS, l, seconds < 0 ? 0 : seconds);
}

void metrics_upstream(const char *provider, const struct upstream_xfer *x, enum img_err code,
		      int image)
{
	char l[LABELS_MAX] = "", st[16];
	if (x->fail == UPSTREAM_TIMEOUT)
		snprintf(st, sizeof st, "timeout");
	else if (x->fail == UPSTREAM_NETWORK)
		snprintf(st, sizeof st, "network");
	else if (x->fail == UPSTREAM_TOO_LARGE)
		snprintf(st, sizeof st, "too_large");
	else if (x->status >= 100 && x->status <= 599)
		snprintf(st, sizeof st, "%ld", x->status);
	else
		snprintf(st, sizeof st, "other");
	if (label_add(l, sizeof l, "provider", provider) == 0 &&
	    label_add(l, sizeof l, "status", st) == 0)
		count(F_UPSTREAM_REQUESTS, l, 1);
	if (code != IMG_OK) {
		l[0] = '\0';
		label_add(l, sizeof l, "code", err_info(code)->code);
		count(F_UPSTREAM_ERRORS, l, 1);
	}
	if (image)
		observe(F_GENERATION_SECONDS, "", (double)x->elapsed_ms / 1000.0);
}

void metrics_images(const char *model, const char *resolution, int n)
{
	char l[LABELS_MAX] = "";
	if (n <= 0)
		return;
	if (label_add(l, sizeof l, "model", model) == 0 &&
	    label_add(l, sizeof l, "resolution", resolution) == 0)
		count(F_IMAGES, l, n);
}

void metrics_rate_limited(const char *scope)
{
	static const char *const known[] = {"key", "ip", "global", "daily"};
	const char *s = scope && strcmp(scope, "images") == 0 ? "daily" : "other";
	for (size_t i = 0; scope && i < sizeof known / sizeof known[0]; i++)
		if (strcmp(scope, known[i]) == 0)
			s = known[i];
	char l[LABELS_MAX] = "";
	label_add(l, sizeof l, "scope", s);
	count(F_RATE_LIMITED, l, 1);
}

void metrics_cache_lookup(double seconds)
{
	observe(F_LOOKUP_SECONDS, "", seconds < 0 ? 0 : seconds);
}

int metrics_pending(void)
{
	int n = 0;
	for (int i = 0; i < pending.n; i++)
		n += pending.v[i].dirty;
	return n;
}

void metrics_discard(void)
{
	set_free(&pending);
	full_warned = 0;
	failed_flushes = 0;
}

/* ---- flush -------------------------------------------------------------------- */

static int add_row(sqlite3_stmt *st, const char *name, const char *labels, const char *bucket,
		   double v)
{
	sqlite3_reset(st);
	db_bind_text(st, ":name", name);
	db_bind_text(st, ":labels", labels);
	db_bind_text(st, ":bucket", bucket);
	db_bind_double(st, ":v", v);
	int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_reset(st);
	return rc;
}

/* Writes one series' deltas inside the flush transaction; 0 or -1. */
static int flush_series(sqlite3_stmt *st, const struct series *s)
{
	const struct family *f = &families[s->fam];
	if (f->type != FAM_HISTOGRAM)
		return s->value != 0 ? add_row(st, f->name, s->labels, "", s->value) : 0;
	char b[32];
	for (int i = 0; i <= f->nbounds; i++) {
		if (s->buckets[i] == 0)
			continue;
		bound_text(f, i, b, sizeof b);
		if (add_row(st, f->name, s->labels, b, s->buckets[i]) != 0)
			return -1;
	}
	return s->sum != 0 ? add_row(st, f->name, s->labels, "sum", s->sum) : 0;
}

static int flush_failed(sqlite3 *db, int dirty)
{
	if (failed_flushes++ == 0)
		log_msg(LOG_WARN, "metrics: cannot write (%s); %d series kept for the next flush",
			db ? sqlite3_errmsg(db) : "no database", dirty);
	return -1;
}

struct patience {
	double until; /* metrics_clock() time to give up at */
};

/* A busy handler that retries every 20-200 us until the deadline. */
static int retry_soon(void *arg, int tries)
{
	const struct patience *pt = arg;
	if (metrics_clock() >= pt->until)
		return 0;
	long us = tries < 10 ? 20 : tries < 50 ? 50 : 200;
	struct timespec ts = {0, us * 1000L};
	nanosleep(&ts, NULL);
	return 1;
}

int metrics_flush(sqlite3 *db, int patience_ms)
{
	int dirty = metrics_pending();
	if (dirty == 0)
		return 0;
	if (!db)
		return flush_failed(db, dirty);
	int began;
	if (patience_ms < 0) {
		began = db_begin(db);
	} else {
		/* SQLite's own busy timeout sleeps at least 1 ms per retry; the
		 * writer in the way is done in tens of microseconds. */
		struct patience pt = {metrics_clock() + patience_ms / 1000.0};
		sqlite3_busy_handler(db, retry_soon, &pt);
		began = db_begin(db);
		db_set_patience(db, -1); /* the normal busy timeout again */
	}
	if (began != SQLITE_OK)
		return flush_failed(db, dirty);
	sqlite3_stmt *st = db_stmt(db, "INSERT INTO metrics(name, labels, bucket, value) "
				       "VALUES (:name, :labels, :bucket, :v) "
				       "ON CONFLICT(name, labels, bucket) DO UPDATE SET "
				       "value = value + excluded.value");
	int ok = st != NULL;
	for (int i = 0; ok && i < pending.n; i++)
		if (pending.v[i].dirty && flush_series(st, &pending.v[i]) != 0)
			ok = 0;
	if (!ok || db_commit(db) != SQLITE_OK) {
		db_rollback(db); /* nothing was added: every delta is still here */
		return flush_failed(db, dirty);
	}
	clear_deltas(); /* every delta is in the table now */
	last_flush = metrics_clock();
	if (failed_flushes)
		log_msg(LOG_INFO, "metrics: written again after %d failed attempts",
			failed_flushes);
	failed_flushes = 0;
	return 0;
}

int metrics_after_reply(sqlite3 *db, int request_waiting)
{
	if (request_waiting && metrics_pending() > 0 &&
	    metrics_clock() - last_flush < METRICS_MAX_DEFER_S)
		return 1;
	return metrics_flush(db, METRICS_PATIENCE_MS) == 0 ? 0 : -1;
}

/* ---- reading ------------------------------------------------------------------ */

static int family_by_name(const char *name)
{
	for (int f = 0; f < NFAM; f++)
		if (strcmp(families[f].name, name) == 0)
			return f;
	return -1;
}

/* Adds one row of the metrics table to set.  A bucket bound this binary does
 * not define (the bounds changed since it was written) goes to the next
 * larger one, so the cumulative counts stay right. */
static void take_row(struct series_set *set, const char *name, const char *labels,
		     const char *bucket, double v)
{
	int f = family_by_name(name);
	if (f < 0 || families[f].source != SRC_STORED)
		return;
	struct series *s = set_get(set, f, labels);
	if (!s)
		return;
	if (families[f].type != FAM_HISTOGRAM) {
		s->value += v;
	} else if (strcmp(bucket, "sum") == 0) {
		s->sum += v;
	} else {
		char *end;
		double le = strcmp(bucket, "+Inf") == 0 ? INFINITY : strtod(bucket, &end);
		s->buckets[bucket_of(&families[f], le)] += v;
	}
}

static const char *col(sqlite3_stmt *st, int i)
{
	const unsigned char *v = sqlite3_column_text(st, i);
	return v ? (const char *)v : "";
}

static int read_stored(sqlite3 *db, struct series_set *set)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT name, labels, bucket, value FROM metrics");
	if (!st)
		return -1;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		take_row(set, col(st, 0), col(st, 1), col(st, 2), sqlite3_column_double(st, 3));
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static void set_value(struct series_set *set, int f, const char *labels, double v)
{
	struct series *s = set_get(set, f, labels);
	if (s)
		s->value = v;
}

static int read_cache(const struct config *cfg, sqlite3 *db, struct series_set *set)
{
	struct cache_stats cs;
	if (cache_stats_get(cfg, db, &cs) != 0)
		return -1;
	double lookups = cs.hits + cs.misses;
	set_value(set, F_CACHE_HITS, "", cs.hits);
	set_value(set, F_CACHE_MISSES, "", cs.misses);
	set_value(set, F_CACHE_EVICTIONS, "", cs.evictions);
	set_value(set, F_COST_SAVED, "", cs.cost_saved_usd);
	set_value(set, F_CACHE_BYTES, "", (double)cs.bytes);
	set_value(set, F_CACHE_MAX_BYTES, "", (double)cs.max_bytes);
	set_value(set, F_KEPT_BYTES, "", (double)cs.kept_bytes);
	set_value(set, F_CACHE_ENTRIES, "", (double)cs.entries);
	set_value(set, F_CACHE_HIT_RATIO, "", lookups > 0 ? cs.hits / lookups : 0);
	return 0;
}

static int read_accounts(sqlite3 *db, struct series_set *set)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT provider, count(*), "
				       "coalesce(sum(enabled = 1 AND cooldown_until <= :now), 0) "
				       "FROM accounts GROUP BY provider");
	if (!st)
		return -1;
	db_bind_int64(st, ":now", (long long)time(NULL));
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		char l[LABELS_MAX] = "";
		if (label_add(l, sizeof l, "provider", col(st, 0)) != 0)
			continue;
		set_value(set, F_ACCOUNTS_CONFIGURED, l, sqlite3_column_double(st, 1));
		set_value(set, F_ACCOUNTS_AVAILABLE, l, sqlite3_column_double(st, 2));
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Jobs by status, from the jobs table when this schema has one; the known
 * statuses show as 0 either way. */
static int read_jobs(sqlite3 *db, struct series_set *set)
{
	char l[LABELS_MAX];
	for (size_t i = 0; i < sizeof job_statuses / sizeof job_statuses[0]; i++) {
		l[0] = '\0';
		label_add(l, sizeof l, "status", job_statuses[i]);
		set_value(set, F_JOBS, l, 0);
	}
	sqlite3_stmt *has = db_stmt(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' "
					"AND name = 'jobs'");
	if (!has)
		return -1;
	int found = sqlite3_step(has) == SQLITE_ROW;
	sqlite3_reset(has);
	if (!found)
		return 0;
	sqlite3_stmt *st = db_stmt(db, "SELECT status, count(*) FROM jobs GROUP BY status");
	if (!st)
		return -1;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		l[0] = '\0';
		if (label_add(l, sizeof l, "status", col(st, 0)) == 0)
			set_value(set, F_JOBS, l, sqlite3_column_double(st, 1));
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* ---- the text format ------------------------------------------------------------ */

/* A sample value: integers without a fraction, others to 15 digits, and
 * the format's spellings of infinities and NaN. */
static void put_num(struct buf *out, double v)
{
	if (isnan(v))
		buf_puts(out, "NaN");
	else if (isinf(v))
		buf_puts(out, v > 0 ? "+Inf" : "-Inf");
	else if (v == floor(v) && fabs(v) < 1e15)
		buf_printf(out, "%.0f", v);
	else
		buf_printf(out, "%.15g", v);
}

static void put_sample(struct buf *out, const char *name, const char *suffix, const char *labels,
		       const char *le, double v)
{
	buf_puts(out, name);
	buf_puts(out, suffix);
	if (labels[0] || le) {
		buf_putc(out, '{');
		buf_puts(out, labels);
		if (le)
			buf_printf(out, "%sle=\"%s\"", labels[0] ? "," : "", le);
		buf_putc(out, '}');
	}
	buf_putc(out, ' ');
	put_num(out, v);
	buf_putc(out, '\n');
}

/* HELP text escapes backslash and newline. */
static void put_help(struct buf *out, const char *text)
{
	for (const char *p = text; *p; p++) {
		if (*p == '\\')
			buf_puts(out, "\\\\");
		else if (*p == '\n')
			buf_puts(out, "\\n");
		else
			buf_putc(out, *p);
	}
}

static void put_series(struct buf *out, const struct family *f, const struct series *s)
{
	if (f->type != FAM_HISTOGRAM) {
		put_sample(out, f->name, "", s->labels, NULL, s->value);
		return;
	}
	double cum = 0;
	char le[32];
	for (int i = 0; i <= f->nbounds; i++) {
		cum += s->buckets[i];
		bound_text(f, i, le, sizeof le);
		put_sample(out, f->name, "_bucket", s->labels, le, cum);
	}
	put_sample(out, f->name, "_sum", s->labels, NULL, s->sum);
	put_sample(out, f->name, "_count", s->labels, NULL, cum);
}

static int by_family_name(const void *a, const void *b)
{
	return strcmp(families[*(const int *)a].name, families[*(const int *)b].name);
}

static int by_labels(const void *a, const void *b)
{
	return strcmp((*(struct series *const *)a)->labels, (*(struct series *const *)b)->labels);
}

/* Writes every family in name order, its series in label order, so two
 * scrapes of the same numbers are byte for byte the same. */
static void write_text(struct series_set *set, struct buf *out)
{
	static const char *const type_names[] = {"counter", "gauge", "histogram"};
	int order[NFAM];
	for (int f = 0; f < NFAM; f++)
		order[f] = f;
	qsort(order, NFAM, sizeof order[0], by_family_name);
	struct series **list = xcalloc((size_t)set->n + 1, sizeof *list);
	for (int k = 0; k < NFAM; k++) {
		const struct family *f = &families[order[k]];
		int n = 0;
		for (int i = 0; i < set->n; i++)
			if (set->v[i].fam == order[k])
				list[n++] = &set->v[i];
		qsort(list, (size_t)n, sizeof list[0], by_labels);
		buf_printf(out, "# HELP %s ", f->name);
		put_help(out, f->help);
		buf_printf(out, "\n# TYPE %s %s\n", f->name, type_names[f->type]);
		for (int i = 0; i < n; i++)
			put_series(out, f, list[i]);
	}
	free(list);
}

int metrics_render(const struct config *cfg, sqlite3 *db, struct buf *out)
{
	if (!db)
		return -1;
	struct series_set set = {0};
	int rc = -1;
	if (read_stored(db, &set) != 0 || read_cache(cfg, db, &set) != 0 ||
	    read_accounts(db, &set) != 0 || read_jobs(db, &set) != 0)
		goto out;
	/* Families without labels always show, as 0 before their first event. */
	for (int f = 0; f < NFAM; f++)
		if (!families[f].label_names)
			set_get(&set, f, "");
	char l[LABELS_MAX] = "";
	label_add(l, sizeof l, "version", IMAGEGW_VERSION_STR);
	set_value(&set, F_BUILD_INFO, l, 1);
	write_text(&set, out);
	rc = 0;
out:
	set_free(&set);
	return rc;
}
