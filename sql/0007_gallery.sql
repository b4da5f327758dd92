-- The gallery (SPEC 2.7): one entry per job or generation request, with its
-- images.  An image row keeps its blob file: the cache deletes no blob a
-- gallery image (or a job result) still names (core/cache.c).
CREATE TABLE gallery_entries (
	id             TEXT PRIMARY KEY,       -- gal_<26 Crockford base32>: sorts by creation
	owner          TEXT NOT NULL,          -- key:<client_keys.id>, admin or anon; never a key
	source         TEXT NOT NULL,          -- generation, edit, job
	job_id         TEXT,                   -- the job it came from, if any
	prompt         TEXT NOT NULL,
	revised_prompt TEXT,
	quality        TEXT,
	style          TEXT,
	safety         TEXT,
	image_count    INTEGER NOT NULL DEFAULT 0,
	created        INTEGER NOT NULL        -- unix seconds
) WITHOUT ROWID;
CREATE INDEX gallery_entries_owner ON gallery_entries(owner, id);

CREATE TABLE gallery_images (
	entry_id     TEXT NOT NULL REFERENCES gallery_entries(id) ON DELETE CASCADE,
	idx          INTEGER NOT NULL,
	blob         TEXT NOT NULL,            -- SHA-256 hex of the image (cache_blobs.hash)
	ext          TEXT NOT NULL,
	mime         TEXT NOT NULL,
	bytes        INTEGER NOT NULL,
	width        INTEGER NOT NULL DEFAULT 0,
	height       INTEGER NOT NULL DEFAULT 0,
	model        TEXT NOT NULL,
	image_size   TEXT,
	aspect_ratio TEXT,
	PRIMARY KEY (entry_id, idx)
) WITHOUT ROWID;
CREATE INDEX gallery_images_blob ON gallery_images(blob);
