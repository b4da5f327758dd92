-- The upstream key pool (SPEC 6.1): one row per upstream API key ("account").
-- Keys added with `imagegw account add` are stored here (the database file is
-- kept at mode 0600); keys from the environment (GEMINI_API_KEYS) are not:
-- their rows hold only a fingerprint, and the key is read from the
-- configuration at run time.
CREATE TABLE accounts (
	id                   INTEGER PRIMARY KEY,
	provider             TEXT NOT NULL,            -- gemini, openai
	label                TEXT NOT NULL UNIQUE,     -- what logs and `account list` show
	source               TEXT NOT NULL,            -- db, env, file, envvar
	secret               TEXT,                     -- source db: the key itself
	ref                  TEXT,                     -- source file: the path; envvar: the variable
	fingerprint          TEXT NOT NULL,            -- first 16 hex of SHA-256 of the key
	enabled              INTEGER NOT NULL DEFAULT 1,
	disabled_reason      TEXT,
	rpm_limit            INTEGER,                  -- requests per minute; NULL = none
	daily_limit          INTEGER,                  -- images per UTC day; NULL = none
	cooldown_until       INTEGER NOT NULL DEFAULT 0,
	consecutive_failures INTEGER NOT NULL DEFAULT 0,
	last_error           TEXT,
	last_used            INTEGER NOT NULL DEFAULT 0,
	total_requests       INTEGER NOT NULL DEFAULT 0,
	total_images         INTEGER NOT NULL DEFAULT 0,
	created              INTEGER NOT NULL
);
CREATE INDEX accounts_pick ON accounts(provider, enabled, last_used);

-- Per-account counts per minute (window 'm<unix minute>') and per UTC day
-- ('d<YYYY-MM-DD>'); old windows are pruned as new ones are written.
CREATE TABLE account_usage (
	account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	window     TEXT NOT NULL,
	requests   INTEGER NOT NULL DEFAULT 0,
	images     INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (account_id, window)
) WITHOUT ROWID;
