-- Metrics (SPEC 8): the counters and histograms /metrics exposes, added to by
-- every process, so the numbers survive restarts and cover all responders.
-- Each process collects deltas in memory during a request and adds them here
-- in one short transaction after the reply (core/metrics.c).  The cache's
-- hits, misses, evictions and cost saved stay in `counters` (0002), and the
-- gauges (cache size, keys available, jobs) are computed at scrape time.
CREATE TABLE metrics (
	name   TEXT NOT NULL,             -- the family, e.g. imagegw_requests_total
	labels TEXT NOT NULL DEFAULT '',  -- label pairs as exposed, sorted by name:
	                                  -- route="/v1/models",status="200"; '' for none
	bucket TEXT NOT NULL DEFAULT '',  -- histograms only: a bucket's upper bound
	                                  -- ("0.5", "+Inf") holding that bucket's own
	                                  -- count (not cumulative), or 'sum'; else ''
	value  REAL NOT NULL DEFAULT 0,
	PRIMARY KEY (name, labels, bucket)
) WITHOUT ROWID;
