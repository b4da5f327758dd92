/* Metrics (SPEC 8).  The hooks, one call where each event happens, add to
 * deltas kept in this process's memory: no I/O, no failure.  metrics_flush
 * adds the deltas to the metrics table in one short transaction, after the
 * reply has gone; a busy database leaves them for the next flush.  Every
 * process adds to the same rows, so metrics_render writes the totals of all
 * of them (and of processes long gone) as Prometheus text. */
#ifndef IMAGEGW_METRICS_H
#define IMAGEGW_METRICS_H

#include "buf.h"
#include "err.h"

struct config;
struct sqlite3;
struct upstream_xfer;

/* How long a flush on the request path waits for a busy database; the
 * deltas stay in memory when it gives up. */
#define METRICS_PATIENCE_MS 50
/* A process with a request waiting puts off writing its counts while its
 * last write is younger than this, in seconds. */
#define METRICS_MAX_DEFER_S 1.0
/* The Content-Type of the text exposition format. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* ---- hooks --------------------------------------------------------------- */

/* A request answered, now: route is the matched route pattern (never the
 * raw path), status the HTTP status, started the metrics_clock() reading
 * when the request began. */
void metrics_request(const char *route, int status, double started);
/* One finished upstream attempt: provider ("gemini", ...), the transfer
 * (its HTTP status, or timeout/network), the error it was judged to be
 * (IMG_OK for success) and whether it was an image generation (its time
 * goes into imagegw_generation_seconds) or another call (enhancement). */
void metrics_upstream(const char *provider, const struct upstream_xfer *x, enum img_err code,
		      int image);
/* n fresh images made (not cache hits) by a model family at a resolution. */
void metrics_images(const char *model, const char *resolution, int n);
/* A request refused by a client limit: scope "key", "ip", "global", or
 * "images" (counted as "daily"). */
void metrics_rate_limited(const char *scope);
/* A cache lookup took this many seconds (see metrics_clock). */
void metrics_cache_lookup(double seconds);
/* A monotonic clock in seconds, for timing what the hooks observe. */
double metrics_clock(void);

/* ---- storing and reading ------------------------------------------------- */

/* Adds every pending delta to the metrics table in one BEGIN IMMEDIATE
 * transaction, waiting at most patience_ms for a busy database (-1: the
 * normal busy timeout).  0 (nothing pending counts as done), or -1 when the
 * database was busy or absent: the deltas are kept and added next time. */
int metrics_flush(struct sqlite3 *db, int patience_ms);
/* The flush a responder runs after each reply.  When another request is
 * already waiting for this process, and the last flush is less than
 * METRICS_MAX_DEFER_S old, the counts wait for a later reply instead, so
 * that request does not wait for them (under load a process then writes
 * about once a second, not once a request).  Otherwise metrics_flush with
 * METRICS_PATIENCE_MS.  0 written (or nothing to write), 1 deferred, -1
 * the database was busy (kept). */
int metrics_after_reply(struct sqlite3 *db, int request_waiting);
/* The number of series with deltas not yet flushed. */
int metrics_pending(void);
/* Frees this process's deltas (tests; a process about to exit after its
 * last flush). */
void metrics_discard(void);

/* Appends the text exposition (format 0.0.4) of every metric: the stored
 * counters and histograms, the cache counters, and gauges read now (cache
 * size, upstream keys available, jobs by status).  0, or -1 when the
 * database cannot be read (out is then left as it was). */
int metrics_render(const struct config *cfg, struct sqlite3 *db, struct buf *out);

#endif
