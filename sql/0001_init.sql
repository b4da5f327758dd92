-- imagegw schema, version 1: gateway-wide settings and facts.
-- Later migrations add the cache index, key pool, client keys, jobs and gallery.
CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO meta(key, value) VALUES ('created', strftime('%Y-%m-%dT%H:%M:%SZ', 'now'));
