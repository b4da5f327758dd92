-- Vertex AI accounts (SPEC 3.8): a Google service account is one more kind
-- of pool entry, provider 'vertex'.  Its key file's JSON is the secret
-- (source 'db', stored by `imagegw account add --service-account`) or stays
-- in a file of accounts_dir (source 'dir', ref = the path).
ALTER TABLE accounts ADD COLUMN project TEXT;   -- vertex: Google Cloud project id
ALTER TABLE accounts ADD COLUMN location TEXT;  -- vertex: 'global' or a region

-- OAuth2 access tokens, shared by every process.  refreshing_until: a process
-- has claimed the refresh until then (the others keep using the old token);
-- fetches counts exchanges, for `account list` and the tests.
CREATE TABLE vertex_tokens (
	account_id       INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
	token            TEXT,
	expires          INTEGER NOT NULL DEFAULT 0,
	fetched          INTEGER NOT NULL DEFAULT 0,
	refreshing_until INTEGER NOT NULL DEFAULT 0,
	fetches          INTEGER NOT NULL DEFAULT 0
);
