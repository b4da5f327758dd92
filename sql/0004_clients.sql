-- Client keys (SPEC 2.9) and the rate-limit counters (SPEC 6.2).
CREATE TABLE client_keys (
	id           INTEGER PRIMARY KEY,
	name         TEXT NOT NULL UNIQUE,
	key_id       TEXT NOT NULL UNIQUE,   -- the public part of the key, for lookup
	key_hash     TEXT NOT NULL,          -- SHA-256 hex of the whole key
	rpm          INTEGER,                -- requests per minute; NULL = none
	daily_images INTEGER,                -- images generated upstream per UTC day; NULL = none
	admin        INTEGER NOT NULL DEFAULT 0,
	min_safety   TEXT,                   -- OFF, LOW, MEDIUM, HIGH; NULL = none
	revoked      INTEGER NOT NULL DEFAULT 0,
	created      INTEGER NOT NULL,
	last_used    INTEGER NOT NULL DEFAULT 0
);

-- Fixed-window counters: scope is e.g. 'key:12', 'ip:<hash>', 'global',
-- 'img:12'; window_start is the window's first second (or UTC day start).
CREATE TABLE rate_counters (
	scope        TEXT NOT NULL,
	window_start INTEGER NOT NULL,
	count        INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (scope, window_start)
) WITHOUT ROWID;
