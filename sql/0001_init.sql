-- imagegw schema, version 1: gateway-wide settings and facts.
-- Later migrations add the cache index, key pool, client keys, jobs and gallery.
CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO meta(key, value) VALUES ('created', strftime('%Y-%m-%dT%H:%M:%SZ', 'now'));
-- Salt for the hashed client addresses in logs, so they cannot be reversed by
-- hashing every IPv4 address.
INSERT INTO meta(key, value) VALUES ('log_salt', lower(hex(randomblob(16))));
