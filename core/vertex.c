/* Vertex AI accounts and their OAuth2 tokens.
 *
 * Token cache protocol (table vertex_tokens, one row per account): a token
 * is used until `margin` seconds before it expires (a quarter of its life,
 * at most 5 minutes).  Past that point one process claims the refresh with a
 * conditional UPDATE of refreshing_until (SQLite serialises writers, so
 * exactly one claim succeeds), fetches a new token and stores it; the others
 * keep using the old token while it is still valid, or wait for the new one
 * when it is not.  A claim that is never completed (the process died) lapses
 * at refreshing_until.  No transaction is held across the token call. */
#include "vertex.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sqlite3.h>

#include "config.h"
#include "db.h"
#include "hash.h"
#include "json.h"
#include "jwt.h"
#include "log.h"
#include "pool.h"
#include "upstream.h"
#include "xalloc.h"

#define SCOPE		    "https://www.googleapis.com/auth/cloud-platform"
#define MAX_SA_FILE	    (64 * 1024)
#define MAX_REFRESH_AHEAD   300 /* seconds */
#define ASSERTION_LIFETIME  3600
#define WAIT_STEP_MS	    50
#define MIN_TOKEN_REMAINING 5 /* an old token closer to expiry than this is not used */

void vertex_sa_free(struct vertex_sa *sa)
{
	free(sa->client_email);
	if (sa->private_key) {
		memset(sa->private_key, 0, strlen(sa->private_key));
		free(sa->private_key);
	}
	free(sa->private_key_id);
	free(sa->token_uri);
	free(sa->project_id);
	memset(sa, 0, sizeof *sa);
}

/* https anywhere, or http to this machine (the tests' mock). */
static int token_uri_ok(const char *u)
{
	if (strncmp(u, "https://", 8) == 0)
		return u[8] != '\0';
	static const char *const local[] = {"http://127.0.0.1:", "http://127.0.0.1/",
					    "http://localhost:", "http://localhost/",
					    "http://[::1]"};
	for (size_t i = 0; i < sizeof local / sizeof local[0]; i++)
		if (strncmp(u, local[i], strlen(local[i])) == 0)
			return 1;
	return 0;
}

static char *dup_field(const struct json *root, const char *key)
{
	const char *v = json_get_str(root, key);
	return v && *v ? xstrdup(v) : NULL;
}

int vertex_sa_parse(const char *json, size_t len, struct vertex_sa *sa, char *err, size_t err_len)
{
	memset(sa, 0, sizeof *sa);
	struct json_error je;
	struct json *root = json_parse(json, len, &je);
	if (!root || root->type != JSON_OBJECT) {
		snprintf(err, err_len, "not a service-account key file (not a JSON object%s%s)",
			 root ? "" : ": ", root ? "" : je.msg);
		json_free(root);
		return -1;
	}
	const char *type = json_get_str(root, "type");
	int rc = -1;
	if (!type || strcmp(type, "service_account") != 0) {
		snprintf(err, err_len,
			 "not a service-account key file (\"type\" is %s%s%s, expected "
			 "\"service_account\")",
			 type ? "\"" : "", type ? type : "missing", type ? "\"" : "");
		goto out;
	}
	sa->client_email = dup_field(root, "client_email");
	sa->private_key = dup_field(root, "private_key");
	sa->private_key_id = dup_field(root, "private_key_id");
	sa->token_uri = dup_field(root, "token_uri");
	sa->project_id = dup_field(root, "project_id");
	if (!sa->client_email) {
		snprintf(err, err_len, "the key file has no client_email");
		goto out;
	}
	if (!sa->private_key) {
		snprintf(err, err_len, "the key file has no private_key");
		goto out;
	}
	if (!sa->token_uri)
		sa->token_uri = xstrdup("https://oauth2.googleapis.com/token");
	if (!token_uri_ok(sa->token_uri)) {
		snprintf(err, err_len, "token_uri must be an https URL (or http to this machine)");
		goto out;
	}
	if (jwt_check_key(sa->private_key, err, err_len) != 0)
		goto out;
	rc = 0;
out:
	json_free(root);
	if (rc != 0)
		vertex_sa_free(sa);
	return rc;
}

int vertex_sa_load(const char *path, struct vertex_sa *sa, char *err, size_t err_len)
{
	memset(sa, 0, sizeof *sa);
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, err_len, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	struct buf text = BUF_INIT;
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && text.len <= MAX_SA_FILE)
		buf_append(&text, chunk, n);
	fclose(f);
	int rc;
	if (text.len > MAX_SA_FILE) {
		snprintf(err, err_len, "%s is larger than a key file can be (64 KiB)", path);
		rc = -1;
	} else {
		rc = vertex_sa_parse(buf_cstr(&text), text.len, sa, err, err_len);
	}
	memset(text.data ? text.data : chunk, 0, text.data ? text.len : 0);
	buf_free(&text);
	return rc;
}

void vertex_url(struct buf *out, const char *base, const char *project, const char *location,
		const char *model)
{
	if (base && *base) {
		size_t n = strlen(base);
		while (n && base[n - 1] == '/')
			n--;
		buf_append(out, base, n);
	} else if (strcmp(location, "global") == 0) {
		buf_puts(out, "https://aiplatform.googleapis.com");
	} else {
		buf_printf(out, "https://%s-aiplatform.googleapis.com", location);
	}
	buf_printf(out, "/v1/projects/%s/locations/%s/publishers/google/models/%s:generateContent",
		   project, location, model);
}

/* The account's key file and where its calls go.  0, or -1 with e set
 * (IMG_UPSTREAM_AUTH: the account cannot work as it stands). */
static int load_account(struct sqlite3 *db, long id, struct vertex_sa *sa, struct vertex_auth *a,
			struct img_error *e)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT source, secret, ref, project, location FROM "
				       "accounts WHERE id = :id AND provider = 'vertex'");
	if (!st) {
		err_set(e, IMG_INTERNAL, NULL, "The account database cannot be read.");
		return -1;
	}
	db_bind_int64(st, ":id", id);
	int rc = -1;
	char why[200] = "";
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *source = (const char *)sqlite3_column_text(st, 0);
		const char *secret = (const char *)sqlite3_column_text(st, 1);
		const char *ref = (const char *)sqlite3_column_text(st, 2);
		const char *project = (const char *)sqlite3_column_text(st, 3);
		const char *location = (const char *)sqlite3_column_text(st, 4);
		if (source && strcmp(source, "db") == 0 && secret)
			rc = vertex_sa_parse(secret, strlen(secret), sa, why, sizeof why);
		else if (ref)
			rc = vertex_sa_load(ref, sa, why, sizeof why);
		else
			snprintf(why, sizeof why, "the account has no key file");
		if (rc == 0) {
			snprintf(a->project, sizeof a->project, "%s",
				 project && *project ? project
						     : (sa->project_id ? sa->project_id : ""));
			snprintf(a->location, sizeof a->location, "%s",
				 location && *location ? location : "global");
			if (!a->project[0]) {
				snprintf(why, sizeof why,
					 "no project: the key file has no project_id and none was "
					 "given");
				vertex_sa_free(sa);
				rc = -1;
			}
		}
	} else {
		snprintf(why, sizeof why, "no such vertex account");
	}
	sqlite3_reset(st);
	if (rc != 0)
		err_set(e, IMG_UPSTREAM_AUTH, NULL, "Vertex service account unusable: %s", why);
	return rc;
}

/* Exchanges a freshly signed assertion for an access token. */
static enum img_err exchange(const struct config *cfg, const struct vertex_sa *sa, char *token,
			     size_t token_len, long *lifetime, struct img_error *e)
{
	long now = (long)time(NULL);
	struct jwt_claims c = {
		sa->client_email,  SCOPE, sa->token_uri, now, now + ASSERTION_LIFETIME,
		sa->private_key_id};
	struct upstream_xfer x = {0};
	char why[200];
	if (jwt_sign_rs256(&x.body, &c, sa->private_key, why, sizeof why) != 0) {
		buf_free(&x.body);
		return err_set(e, IMG_UPSTREAM_AUTH, NULL, "Vertex token: %s", why);
	}
	/* The assertion is base64url and dots: nothing to escape in the form. */
	struct buf form = BUF_INIT;
	buf_puts(&form, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&"
			"assertion=");
	buf_append(&form, x.body.data, x.body.len);
	buf_free(&x.body);
	x.body = form;
	x.url = sa->token_uri;
	buf_puts(&x.headers, "Content-Type: application/x-www-form-urlencoded\n");
	x.timeout_ms = cfg->upstream_connect_timeout_seconds * 1000L + 20000L;
	x.connect_timeout_ms = cfg->upstream_connect_timeout_seconds * 1000L;
	x.max_response = 64 * 1024;
	enum img_err rc = IMG_OK;
	if (upstream_perform(&x) != 0) {
		rc = err_set(e,
			     x.fail == UPSTREAM_TIMEOUT ? IMG_UPSTREAM_TIMEOUT : IMG_NETWORK_ERROR,
			     NULL, "Vertex token endpoint unreachable: %s", x.error);
		goto out;
	}
	struct json_error je;
	struct json *root = json_parse(x.resp.data ? x.resp.data : "", x.resp.len, &je);
	const char *access = json_get_str(root, "access_token");
	const struct json *exp = json_get(root, "expires_in");
	if (x.status == 200 && access && *access && strlen(access) < token_len) {
		snprintf(token, token_len, "%s", access);
		*lifetime = exp && exp->type == JSON_NUMBER && exp->number > 0 ? (long)exp->number
									       : 3600;
	} else if (x.status == 200) {
		rc = err_set(e, IMG_UPSTREAM_ERROR, NULL,
			     "Vertex token endpoint answered 200 without a usable access_token.");
	} else {
		const char *code = json_get_str(root, "error");
		const char *desc = json_get_str(root, "error_description");
		enum img_err kind = IMG_UPSTREAM_ERROR;
		if (x.status == 400 || x.status == 401 || x.status == 403)
			kind = IMG_UPSTREAM_AUTH; /* invalid_grant, invalid_client, ... */
		else if (x.status == 429)
			kind = IMG_QUOTA_EXHAUSTED;
		rc = err_set(e, kind, NULL,
			     "Vertex token endpoint refused (HTTP %ld%s%.40s%s%.120s).", x.status,
			     code ? ", " : "", code ? code : "", desc ? ": " : "",
			     desc ? desc : "");
		e->upstream_status = (int)x.status;
	}
	json_free(root);
out:
	upstream_xfer_free(&x);
	return rc;
}

struct cached {
	char token[2048];
	long expires, fetched, refreshing_until;
};

static int read_cached(struct sqlite3 *db, long id, struct cached *c)
{
	memset(c, 0, sizeof *c);
	sqlite3_stmt *st = db_stmt(db, "SELECT token, expires, fetched, refreshing_until FROM "
				       "vertex_tokens WHERE account_id = :id");
	if (!st)
		return -1;
	db_bind_int64(st, ":id", id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);
		snprintf(c->token, sizeof c->token, "%s", t ? t : "");
		c->expires = (long)sqlite3_column_int64(st, 1);
		c->fetched = (long)sqlite3_column_int64(st, 2);
		c->refreshing_until = (long)sqlite3_column_int64(st, 3);
	}
	sqlite3_reset(st);
	return 0;
}

/* 1 when the cached token is good enough not to refresh it now. */
static int fresh(const struct cached *c, long now)
{
	if (!c->token[0])
		return 0;
	long margin = (c->expires - c->fetched) / 4;
	if (margin > MAX_REFRESH_AHEAD)
		margin = MAX_REFRESH_AHEAD;
	return now < c->expires - margin;
}

static int usable(const struct cached *c, long now)
{
	return c->token[0] && now < c->expires - MIN_TOKEN_REMAINING;
}

/* Claims the refresh for lease seconds: 1 when this process got it. */
static int claim(struct sqlite3 *db, long id, long now, long lease)
{
	sqlite3_stmt *ins = db_stmt(db, "INSERT INTO vertex_tokens(account_id) VALUES (:id) "
					"ON CONFLICT(account_id) DO NOTHING");
	sqlite3_stmt *up = db_stmt(db, "UPDATE vertex_tokens SET refreshing_until = :until WHERE "
				       "account_id = :id AND refreshing_until <= :now");
	if (!ins || !up)
		return 0;
	db_bind_int64(ins, ":id", id);
	sqlite3_step(ins);
	sqlite3_reset(ins);
	db_bind_int64(up, ":id", id);
	db_bind_int64(up, ":now", now);
	db_bind_int64(up, ":until", now + lease);
	int ok = sqlite3_step(up) == SQLITE_DONE && sqlite3_changes(db) == 1;
	sqlite3_reset(up);
	return ok;
}

/* Stores a new token (token NULL: only releases the claim). */
static void store(struct sqlite3 *db, long id, const char *token, long now, long lifetime)
{
	sqlite3_stmt *st =
		token ? db_stmt(db, "UPDATE vertex_tokens SET token = :token, expires = :exp, "
				    "fetched = :now, refreshing_until = 0, fetches = fetches + 1 "
				    "WHERE account_id = :id")
		      : db_stmt(db, "UPDATE vertex_tokens SET refreshing_until = 0 WHERE "
				    "account_id = :id");
	if (!st)
		return;
	db_bind_int64(st, ":id", id);
	if (token) {
		db_bind_text(st, ":token", token);
		db_bind_int64(st, ":exp", now + lifetime);
		db_bind_int64(st, ":now", now);
	}
	if (sqlite3_step(st) != SQLITE_DONE)
		log_msg(LOG_WARN, "vertex token cache not updated: %s", sqlite3_errmsg(db));
	sqlite3_reset(st);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

enum img_err vertex_authorize(const struct config *cfg, struct sqlite3 *db, long account_id,
			      struct vertex_auth *a, struct img_error *e)
{
	memset(a, 0, sizeof *a);
	err_clear(e);
	if (!db)
		return err_set(e, IMG_UPSTREAM_AUTH, NULL,
			       "Vertex accounts need the database, which is unavailable.");
	struct vertex_sa sa;
	if (load_account(db, account_id, &sa, a, e) != 0)
		return e->code;
	/* Longer than one token call can take: a claim outlives its fetch. */
	long lease = cfg->upstream_connect_timeout_seconds + 25;
	long deadline = (long)time(NULL) + lease;
	enum img_err rc = IMG_OK;
	struct cached c;
	for (;;) {
		long now = (long)time(NULL);
		if (read_cached(db, account_id, &c) != 0) {
			rc = err_set(e, IMG_INTERNAL, NULL, "The token cache cannot be read.");
			break;
		}
		if (fresh(&c, now))
			break;
		if (claim(db, account_id, now, lease)) {
			/* Someone may have stored a token between the read and the claim. */
			read_cached(db, account_id, &c);
			if (fresh(&c, now)) {
				store(db, account_id, NULL, 0, 0);
				break;
			}
			long lifetime = 0;
			char token[sizeof c.token];
			rc = exchange(cfg, &sa, token, sizeof token, &lifetime, e);
			if (rc == IMG_OK) {
				store(db, account_id, token, now, lifetime);
				snprintf(c.token, sizeof c.token, "%s", token);
				memset(token, 0, sizeof token);
				break;
			}
			store(db, account_id, NULL, 0, 0);
			if (usable(&c, (long)time(NULL)) && rc != IMG_UPSTREAM_AUTH) {
				/* The refresh failed but the old token still works. */
				log_msg(LOG_WARN,
					"vertex token refresh failed (%s); using the "
					"current token until it expires",
					e->message);
				err_clear(e);
				rc = IMG_OK;
			}
			break;
		}
		/* Another process is refreshing: its old token will do meanwhile. */
		if (usable(&c, now))
			break;
		if (now >= deadline) {
			rc = err_set(e, IMG_UPSTREAM_TIMEOUT, NULL,
				     "Timed out waiting for another process to fetch a Vertex "
				     "token.");
			break;
		}
		sleep_ms(WAIT_STEP_MS);
	}
	if (rc == IMG_OK)
		snprintf(a->token, sizeof a->token, "%s", c.token);
	memset(c.token, 0, sizeof c.token);
	vertex_sa_free(&sa);
	return rc;
}

void vertex_token_drop(struct sqlite3 *db, long account_id, const char *token)
{
	if (!db)
		return;
	sqlite3_stmt *st = db_stmt(db, "UPDATE vertex_tokens SET token = NULL, expires = 0 "
				       "WHERE account_id = :id AND token = :token");
	if (!st)
		return;
	db_bind_int64(st, ":id", account_id);
	db_bind_text(st, ":token", token);
	sqlite3_step(st);
	sqlite3_reset(st);
}

enum img_err vertex_ready_key(const struct config *cfg, struct sqlite3 *db,
			      const char *const *providers, int images, const char *model,
			      struct pool_key *k, struct buf *url, int *skips, int max_skips,
			      int *retry_after, struct img_error *e)
{
	while (strcmp(k->provider, "vertex") == 0) {
		struct vertex_auth va;
		struct img_error ve;
		enum img_err vr = vertex_authorize(cfg, db, k->id, &va, &ve);
		if (vr == IMG_OK) {
			snprintf(k->secret, sizeof k->secret, "%s", va.token);
			memset(va.token, 0, sizeof va.token);
			buf_reset(url);
			vertex_url(url, cfg->vertex_base_url, va.project, va.location, model);
			return IMG_OK;
		}
		/* No token: a refused account is disabled, one whose token endpoint
		 * failed rests a little; either way the caller moves on. */
		if (vr == IMG_UPSTREAM_AUTH)
			pool_disable(db, k, ve.message);
		else
			pool_cooldown(db, k, vr == IMG_QUOTA_EXHAUSTED ? 60 : 10, ve.message);
		log_msg(LOG_WARN, "vertex account %s: %s", k->label, ve.message);
		*e = ve;
		if (++*skips > max_skips)
			return vr;
		enum img_err rc =
			pool_take_first(cfg, db, providers, images, k->id, k, retry_after);
		if (rc != IMG_OK)
			return rc;
	}
	return IMG_OK;
}

int vertex_token_refused(struct sqlite3 *db, const struct pool_key *k,
			 const struct upstream_xfer *x, struct img_error *e)
{
	if (strcmp(k->provider, "vertex") != 0 || x->fail != UPSTREAM_OK || x->status != 401)
		return 0;
	/* The shared token was refused (revoked or expired early): drop it so
	 * the next try fetches a fresh one before the account is judged. */
	vertex_token_drop(db, k->id, k->secret);
	err_set(e, IMG_UPSTREAM_AUTH, NULL, "Vertex refused the access token; refreshing it.");
	e->upstream_status = 401;
	return 1;
}

static void sa_fingerprint(const struct vertex_sa *sa, char out[17])
{
	struct buf b = BUF_INIT;
	buf_printf(&b, "%s\n%s", sa->client_email, sa->private_key_id ? sa->private_key_id : "");
	hash_prompt16(buf_cstr(&b), out);
	buf_free(&b);
}

static int location_ok(const char *l)
{
	if (!*l || strlen(l) > 40)
		return 0;
	for (const char *p = l; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
			return 0;
	return 1;
}

static int project_ok(const char *p)
{
	if (!*p || strlen(p) > 100)
		return 0;
	for (; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		      *p == ':' || *p == '.'))
			return 0;
	return 1;
}

int vertex_account_add(struct sqlite3 *db, const char *label, const char *sa_file,
		       const char *project, const char *location, long daily, long rpm, char *err,
		       size_t err_len)
{
	if (!sa_file) {
		snprintf(err, err_len, "--service-account FILE.json is needed for provider vertex");
		return -1;
	}
	if (!label || !*label || strlen(label) >= 64 || strncmp(label, "gemini-env-", 11) == 0 ||
	    strncmp(label, "vertex-dir-", 11) == 0) {
		snprintf(err, err_len,
			 "a label of 1 to 63 characters is needed (gemini-env-* and "
			 "vertex-dir-* are reserved)");
		return -1;
	}
	struct vertex_sa sa;
	char why[200];
	if (vertex_sa_load(sa_file, &sa, why, sizeof why) != 0) {
		snprintf(err, err_len, "%s: %s", sa_file, why);
		return -1;
	}
	const char *proj = project ? project : sa.project_id;
	const char *loc = location ? location : "global";
	int rc = -1;
	if (!proj || !project_ok(proj)) {
		snprintf(err, err_len, "%s",
			 proj ? "--project is not a valid project id"
			      : "the key file has no project_id: give --project");
		goto out;
	}
	if (!location_ok(loc)) {
		snprintf(err, err_len, "--location must be 'global' or a region like us-central1");
		goto out;
	}
	/* The file's text is the secret: read it again as it is, to store it. */
	FILE *f = fopen(sa_file, "rb");
	struct buf text = BUF_INIT;
	if (f) {
		char chunk[4096];
		size_t n;
		while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
			buf_append(&text, chunk, n);
		fclose(f);
	}
	char fp[17];
	sa_fingerprint(&sa, fp);
	sqlite3_stmt *st = db_stmt(
		db, "INSERT INTO accounts(provider, label, source, secret, ref, fingerprint, "
		    "daily_limit, rpm_limit, project, location, created) VALUES ('vertex', :label, "
		    "'db', :secret, :ref, :fp, nullif(:daily, 0), nullif(:rpm, 0), :project, "
		    ":location, :now)");
	if (!st) {
		snprintf(err, err_len, "database error");
		buf_free(&text);
		goto out;
	}
	db_bind_text(st, ":label", label);
	db_bind_text(st, ":secret", buf_cstr(&text));
	db_bind_text(st, ":ref", sa_file);
	db_bind_text(st, ":fp", fp);
	db_bind_int64(st, ":daily", daily);
	db_bind_int64(st, ":rpm", rpm);
	db_bind_text(st, ":project", proj);
	db_bind_text(st, ":location", loc);
	db_bind_int64(st, ":now", (long long)time(NULL));
	int step = sqlite3_step(st);
	sqlite3_reset(st);
	if (text.data)
		memset(text.data, 0, text.len);
	buf_free(&text);
	if (step != SQLITE_DONE) {
		snprintf(err, err_len, "%s",
			 step == SQLITE_CONSTRAINT ? "that label is taken" : sqlite3_errmsg(db));
		goto out;
	}
	rc = 0;
out:
	vertex_sa_free(&sa);
	return rc;
}

/* "vertex-dir-" + the file name without .json, in label characters. */
static int dir_label(const char *name, char *out, size_t len)
{
	size_t n = strlen(name);
	if (n <= 5 || strcmp(name + n - 5, ".json") != 0 || name[0] == '.')
		return -1;
	n -= 5;
	if (n > 40)
		n = 40;
	int w = snprintf(out, len, "vertex-dir-");
	for (size_t i = 0; i < n && (size_t)w + 1 < len; i++) {
		char c = name[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			 (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
		out[w++] = ok ? c : '_';
	}
	out[w] = '\0';
	return 0;
}

int vertex_sync_dir(const struct config *cfg, struct sqlite3 *db)
{
	if (!db || !cfg->accounts_dir[0])
		return 0;
	DIR *d = opendir(cfg->accounts_dir);
	if (!d) {
		log_msg(LOG_WARN, "accounts_dir %s: %s", cfg->accounts_dir, strerror(errno));
		return -1;
	}
	if (db_begin(db) != SQLITE_OK) {
		closedir(d);
		return -1;
	}
	/* The labels seen in this pass; dir accounts not among them are gone. */
	sqlite3_exec(db,
		     "CREATE TEMP TABLE IF NOT EXISTS vertex_dir_seen(label TEXT PRIMARY KEY); "
		     "DELETE FROM vertex_dir_seen",
		     NULL, NULL, NULL);
	sqlite3_stmt *seen = db_stmt(db, "INSERT OR IGNORE INTO vertex_dir_seen VALUES (:label)");
	sqlite3_stmt *up = db_stmt(
		db,
		"INSERT INTO accounts(provider, label, source, ref, fingerprint, created) VALUES "
		"('vertex', :label, 'dir', :ref, :fp, :now) ON CONFLICT(label) DO UPDATE SET "
		"source = 'dir', ref = excluded.ref, secret = NULL, "
		"enabled = CASE WHEN fingerprint = excluded.fingerprint THEN enabled ELSE 1 END, "
		"disabled_reason = CASE WHEN fingerprint = excluded.fingerprint THEN "
		"disabled_reason END, "
		"cooldown_until = CASE WHEN fingerprint = excluded.fingerprint THEN cooldown_until "
		"ELSE 0 END, fingerprint = excluded.fingerprint WHERE accounts.provider = "
		"'vertex'");
	sqlite3_stmt *gone = db_stmt(db, "DELETE FROM accounts WHERE source = 'dir' AND label NOT "
					 "IN (SELECT label FROM vertex_dir_seen)");
	if (!seen || !up || !gone) {
		db_rollback(db);
		closedir(d);
		return -1;
	}
	int taken = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		char label[64], path[4096], why[200];
		if (dir_label(de->d_name, label, sizeof label) != 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", cfg->accounts_dir, de->d_name);
		struct vertex_sa sa;
		if (vertex_sa_load(path, &sa, why, sizeof why) != 0) {
			log_msg(LOG_WARN, "accounts_dir: %s skipped: %s", de->d_name, why);
			continue;
		}
		char fp[17];
		sa_fingerprint(&sa, fp);
		vertex_sa_free(&sa);
		db_bind_text(up, ":label", label);
		db_bind_text(up, ":ref", path);
		db_bind_text(up, ":fp", fp);
		db_bind_int64(up, ":now", (long long)time(NULL));
		if (sqlite3_step(up) == SQLITE_DONE)
			taken++;
		sqlite3_reset(up);
		db_bind_text(seen, ":label", label);
		sqlite3_step(seen);
		sqlite3_reset(seen);
	}
	closedir(d);
	sqlite3_step(gone);
	sqlite3_reset(gone);
	if (db_commit(db) != SQLITE_OK) {
		db_rollback(db);
		return -1;
	}
	return taken;
}

int vertex_account_test(const struct config *cfg, struct sqlite3 *db, const char *label,
			char *report, size_t report_len)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT id, provider FROM accounts WHERE label = :label");
	if (!st) {
		snprintf(report, report_len, "database error");
		return -1;
	}
	db_bind_text(st, ":label", label);
	long id = 0;
	int is_vertex = 0;
	if (sqlite3_step(st) == SQLITE_ROW) {
		id = (long)sqlite3_column_int64(st, 0);
		const char *p = (const char *)sqlite3_column_text(st, 1);
		is_vertex = p && strcmp(p, "vertex") == 0;
	}
	sqlite3_reset(st);
	if (!id) {
		snprintf(report, report_len, "no account labelled '%s'", label);
		return -1;
	}
	if (!is_vertex) {
		snprintf(report, report_len,
			 "'%s' is not a vertex account (only service accounts have a token to "
			 "test)",
			 label);
		return -1;
	}
	struct vertex_sa sa;
	struct vertex_auth a;
	struct img_error e;
	err_clear(&e);
	if (load_account(db, id, &sa, &a, &e) != 0) {
		snprintf(report, report_len, "%s", e.message);
		return -1;
	}
	long lifetime = 0;
	char token[2048];
	long now = (long)time(NULL);
	enum img_err rc = exchange(cfg, &sa, token, sizeof token, &lifetime, &e);
	if (rc == IMG_OK) {
		/* A working token is worth keeping for the responders. */
		if (claim(db, id, now, 30))
			store(db, id, token, now, lifetime);
		snprintf(report, report_len,
			 "ok: %s got an access token valid for %ld s (project %s, location %s)",
			 sa.client_email, lifetime, a.project, a.location);
	} else {
		snprintf(report, report_len, "failed: %s", e.message);
	}
	memset(token, 0, sizeof token);
	vertex_sa_free(&sa);
	return rc == IMG_OK ? 0 : -1;
}
