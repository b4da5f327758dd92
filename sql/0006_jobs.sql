-- Multi-model jobs (SPEC 2.4): one row per job and one per model of it.  A
-- detached worker process fills the results in as they arrive; jobs.status is
-- derived from the results in the same transaction as every change to them
-- (core/job.c), so `SELECT status, count(*) FROM jobs GROUP BY status` is
-- always current.
CREATE TABLE jobs (
	id         TEXT PRIMARY KEY,           -- job_<26 Crockford base32>: sorts by creation
	status     TEXT NOT NULL,              -- queued, running, completed, partial, failed
	owner      TEXT NOT NULL,              -- key:<client_keys.id>, admin or anon; never a key
	prompt     TEXT NOT NULL,
	request    TEXT NOT NULL,              -- the validated request as JSON, without the models
	cache_mode INTEGER NOT NULL,           -- enum produce_cache_mode (0 use, 1 refresh, 2 no-store)
	budget_key INTEGER NOT NULL DEFAULT 0, -- client key whose daily images were reserved; 0 none
	budget_day INTEGER NOT NULL DEFAULT 0, -- the UTC day they were reserved in
	worker_pid INTEGER NOT NULL DEFAULT 0, -- the worker process, once it has started
	created    INTEGER NOT NULL,           -- unix seconds
	updated    INTEGER NOT NULL,           -- last progress or worker heartbeat (reaping)
	completed  INTEGER                     -- when the status became final
) WITHOUT ROWID;
CREATE INDEX jobs_status ON jobs(status, updated);
CREATE INDEX jobs_completed ON jobs(completed);

CREATE TABLE job_results (
	job_id        TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
	idx           INTEGER NOT NULL,        -- position in the request's models
	model         TEXT NOT NULL,
	status        TEXT NOT NULL,           -- pending, running, completed, failed
	duration_ms   INTEGER,
	cached        INTEGER NOT NULL DEFAULT 0,
	blob          TEXT,                    -- SHA-256 hex of the image: keeps its file (cache_blobs)
	ext           TEXT,
	mime          TEXT,
	bytes         INTEGER,
	width         INTEGER,
	height        INTEGER,
	image_size    TEXT,
	aspect_ratio  TEXT,
	revised_prompt TEXT,                   -- the prompt sent upstream (quality and style clauses)
	error_code    TEXT,
	error_message TEXT,
	PRIMARY KEY (job_id, idx)
) WITHOUT ROWID;
CREATE INDEX job_results_blob ON job_results(blob);
