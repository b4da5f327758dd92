/* Vertex AI as an upstream for the Gemini models (SPEC 3.8): a Google
 * service account signs an RS256 JWT, exchanges it at the file's token_uri
 * for an OAuth2 access token, and calls
 * {base}/v1/projects/{p}/locations/{loc}/publishers/google/models/{m}:generateContent
 * with "Authorization: Bearer".  Access tokens are cached in SQLite so every
 * FastCGI process shares them; one process refreshes a token ahead of its
 * expiry while the others keep using the old one. */
#ifndef IMAGEGW_VERTEX_H
#define IMAGEGW_VERTEX_H
#include <stddef.h>

#include "buf.h"
#include "err.h"

struct config;
struct sqlite3;

/* The fields of a service-account key file imagegw uses; strings owned. */
struct vertex_sa {
	char *client_email;
	char *private_key; /* PEM */
	char *private_key_id;
	char *token_uri;
	char *project_id;
};

/* Parses and checks a service-account key file's JSON: type
 * "service_account", client_email, a loadable RSA private_key, token_uri
 * (https, or http to a loopback host).  0, or -1 with a message in err that
 * names the problem (never the key).  Free with vertex_sa_free. */
int vertex_sa_parse(const char *json, size_t len, struct vertex_sa *sa, char *err, size_t err_len);
/* The same, reading the file first (at most 64 KiB). */
int vertex_sa_load(const char *path, struct vertex_sa *sa, char *err, size_t err_len);
void vertex_sa_free(struct vertex_sa *sa);

/* Where one account's calls go, with the access token to send. */
struct vertex_auth {
	char token[2048];
	char project[128];
	char location[64];
};

/* Gets a usable access token for the vertex account `account_id` (a row of
 * the accounts table): the shared cached one, or a fresh one from the token
 * endpoint when it is missing, expired or close to expiry (one process
 * fetches; the others use the old token while it lasts, or wait for the new
 * one).  Returns IMG_OK; IMG_UPSTREAM_AUTH when the account's file or key is
 * unusable or the token endpoint refused it (e names why: disable the
 * account); or a transient IMG_NETWORK_ERROR / IMG_UPSTREAM_TIMEOUT /
 * IMG_UPSTREAM_ERROR / IMG_QUOTA_EXHAUSTED. */
enum img_err vertex_authorize(const struct config *cfg, struct sqlite3 *db, long account_id,
			      struct vertex_auth *a, struct img_error *e);
/* Forgets a token the API refused (401), unless another process already
 * replaced it, so the next vertex_authorize fetches a new one. */
void vertex_token_drop(struct sqlite3 *db, long account_id, const char *token);

struct pool_key;
struct upstream_xfer;

/* Readies k, a key pool_take_first gave from providers (NULL-ended), for one
 * generateContent call to model: a vertex account gets its access token in
 * k->secret (vertex_authorize) and its own URL in url (reset first); any other
 * key is left as it is.  An account that cannot get a token is disabled
 * (refused) or rests (token endpoint failing), e says why, and the next key
 * of providers takes its place, counting one in *skips; past max_skips the
 * token's error is returned.  IMG_OK, or the pool's refusal as
 * pool_take_first gives it (with *retry_after).  Shared by every caller of a
 * Gemini model (images, prompt enhancement). */
enum img_err vertex_ready_key(const struct config *cfg, struct sqlite3 *db,
			      const char *const *providers, int images, const char *model,
			      struct pool_key *k, struct buf *url, int *skips, int max_skips,
			      int *retry_after, struct img_error *e);
/* 1 when x, a call made with k, is a Vertex call refused for its token
 * (HTTP 401): the token is dropped (vertex_token_drop), e says so, and the
 * caller may ready k again (vertex_ready_key) and retry once before the
 * account is judged (pool_judge disables it).  0 for anything else. */
int vertex_token_refused(struct sqlite3 *db, const struct pool_key *k,
			 const struct upstream_xfer *x, struct img_error *e);

/* Appends the generateContent URL: base (vertex_base_url; "" = Google's
 * host for the location), project, location, upstream model. */
void vertex_url(struct buf *out, const char *base, const char *project, const char *location,
		const char *model);

/* `imagegw account add --provider vertex`: checks the file, stores its JSON
 * in the database (mode 0600), with project (default: the file's
 * project_id) and location (default "global").  0, or -1 with err. */
int vertex_account_add(struct sqlite3 *db, const char *label, const char *sa_file,
		       const char *project, const char *location, long daily, long rpm, char *err,
		       size_t err_len);
/* Brings every *.json file of accounts_dir into the pool as vertex-<name>
 * (read from the file at each use; removed files leave the pool).  Returns
 * the number of files taken, or -1.  A file that does not parse is logged
 * and skipped. */
int vertex_sync_dir(const struct config *cfg, struct sqlite3 *db);
/* `imagegw account test`: one token exchange for the account (the cache is
 * bypassed and refreshed).  Writes a one-line report; 0 when it worked. */
int vertex_account_test(const struct config *cfg, struct sqlite3 *db, const char *label,
			char *report, size_t report_len);

#endif
