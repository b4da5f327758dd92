-- Response cache (SPEC 5): one row per cached image slot; blobs are files under
-- cache_dir named by the SHA-256 of their bytes, shared by every row that
-- points at them.
CREATE TABLE cache_entries (
	key         TEXT PRIMARY KEY,   -- SHA-256 hex of the canonical key string
	label       TEXT NOT NULL,      -- img:{model}:{quality}:{style}:{prompt_hash16}
	blob        TEXT NOT NULL,      -- SHA-256 hex of the image bytes
	ext         TEXT NOT NULL,      -- png, jpg, webp
	mime        TEXT NOT NULL,
	bytes       INTEGER NOT NULL,
	width       INTEGER NOT NULL,
	height      INTEGER NOT NULL,
	model       TEXT NOT NULL,      -- the resolved model id (family + suffixes as asked)
	prompt_hash TEXT NOT NULL,      -- first 16 hex of SHA-256 of the client's prompt
	params      TEXT NOT NULL,      -- JSON: provider, upstream, size, ratio, quality, style, safety, slot, label
	created     INTEGER NOT NULL,
	expires     INTEGER NOT NULL,
	last_access INTEGER NOT NULL,
	hits        INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX cache_entries_lru ON cache_entries(last_access);
CREATE INDEX cache_entries_expires ON cache_entries(expires);
CREATE INDEX cache_entries_blob ON cache_entries(blob);
CREATE INDEX cache_entries_model_prompt ON cache_entries(model, prompt_hash);

-- One row per blob file: its size counts once however many entries share it.
CREATE TABLE cache_blobs (
	hash  TEXT PRIMARY KEY,
	ext   TEXT NOT NULL,
	bytes INTEGER NOT NULL
) WITHOUT ROWID;

-- Counters that every process adds to (hits, misses, evictions, cost saved).
CREATE TABLE counters (
	name  TEXT PRIMARY KEY,
	value REAL NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- The key for signed image URLs, unless url_secret is configured.
INSERT INTO meta(key, value) VALUES ('url_secret', lower(hex(randomblob(32))));
