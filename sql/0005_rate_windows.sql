-- Old rate-limit windows are pruned a few hundred at a time inside the
-- rate-limit transaction (core/ratelimit.c); without this index each prune
-- scans every counter while holding the write lock.
CREATE INDEX rate_counters_window ON rate_counters(window_start);
