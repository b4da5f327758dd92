/* The key pool.  A pick runs in one BEGIN IMMEDIATE transaction: choose the
 * least recently used key that is enabled, not cooling down and under its
 * per-minute and per-day limits, then count the call against it.  Outcomes
 * (success, 429 cooldown, disabled key, server failure) are short single
 * statements afterwards: no transaction is ever held across an upstream
 * call. */
#include "pool.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "buf.h"
#include "config.h"
#include "db.h"
#include "gemini.h"
#include "hash.h"
#include "log.h"
#include "openai.h"
#include "upstream.h"
#include "xalloc.h"

/* How long a pick, and an outcome update, wait for a busy database. */
#define PICK_PATIENCE_MS    1000
#define OUTCOME_PATIENCE_MS 200

/* The usage windows a call counts in: this minute and this UTC day. */
static void windows(long now, char minute[24], char day[24], char old_minute[24], char old_day[24])
{
	struct tm tm;
	time_t t = (time_t)now, y = (time_t)(now - 2 * 86400);
	snprintf(minute, 24, "m%ld", now / 60);
	snprintf(old_minute, 24, "m%ld", now / 60 - 2);
	gmtime_r(&t, &tm);
	strftime(day, 24, "d%Y-%m-%d", &tm);
	gmtime_r(&y, &tm);
	strftime(old_day, 24, "d%Y-%m-%d", &tm);
}

static void fingerprint(const char *key, char out[17])
{
	hash_prompt16(key, out);
}

/* The n-th (1-based) key of provider in the configuration, or NULL. */
static char *env_key(const struct config *cfg, const char *provider, int n)
{
	if (strcmp(provider, "openai") == 0)
		return n == 1 && cfg->openai_api_key && cfg->openai_api_key[0]
			       ? xstrdup(cfg->openai_api_key)
			       : NULL;
	if (cfg->gemini_api_key[0])
		return n == 1 ? xstrdup(cfg->gemini_api_key) : NULL;
	const char *p = cfg->gemini_api_keys;
	for (int i = 1; *p; i++) {
		while (*p == ' ' || *p == ',')
			p++;
		size_t len = strcspn(p, ", ");
		if (!len)
			break;
		if (i == n)
			return xstrndup(p, len);
		p += len;
	}
	return NULL;
}

int pool_sync(const struct config *cfg, sqlite3 *db)
{
	if (!db)
		return -1;
	if (db_begin(db) != SQLITE_OK)
		return -1;
	sqlite3_stmt *up = db_stmt(
		db,
		"INSERT INTO accounts(provider, label, source, ref, fingerprint, created) "
		"VALUES (:provider, :label, 'env', :ref, :fp, :now) ON CONFLICT(label) DO UPDATE "
		"SET "
		"source = 'env', ref = excluded.ref, secret = NULL, fingerprint = "
		"excluded.fingerprint, "
		"enabled = CASE WHEN fingerprint = excluded.fingerprint THEN enabled ELSE 1 END, "
		"disabled_reason = CASE WHEN fingerprint = excluded.fingerprint THEN "
		"disabled_reason "
		"END, cooldown_until = CASE WHEN fingerprint = excluded.fingerprint THEN "
		"cooldown_until ELSE 0 END, consecutive_failures = CASE WHEN fingerprint = "
		"excluded.fingerprint THEN consecutive_failures ELSE 0 END, last_error = CASE WHEN "
		"fingerprint = excluded.fingerprint THEN last_error END");
	sqlite3_stmt *gone = db_stmt(db, "DELETE FROM accounts WHERE source = 'env' AND "
					 "provider = :provider AND CAST(ref AS INTEGER) > :count");
	sqlite3_stmt *count = db_stmt(db, "SELECT count(*) FROM accounts WHERE provider = "
					  "'gemini' AND enabled = 1");
	if (!up || !gone || !count) {
		db_rollback(db);
		return -1;
	}
	static const char *const providers[] = {"gemini", "openai"};
	for (size_t pi = 0; pi < sizeof providers / sizeof providers[0]; pi++) {
		const char *prov = providers[pi];
		int n = 0;
		for (char *key; (key = env_key(cfg, prov, n + 1)); n++) {
			char label[32], ref[16], fp[17];
			snprintf(label, sizeof label, "%s-env-%d", prov, n + 1);
			snprintf(ref, sizeof ref, "%d", n + 1);
			fingerprint(key, fp);
			free(key);
			sqlite3_reset(up);
			db_bind_text(up, ":provider", prov);
			db_bind_text(up, ":label", label);
			db_bind_text(up, ":ref", ref);
			db_bind_text(up, ":fp", fp);
			db_bind_int64(up, ":now", (long long)time(NULL));
			sqlite3_step(up);
		}
		sqlite3_reset(up);
		db_bind_text(gone, ":provider", prov);
		db_bind_int64(gone, ":count", n);
		sqlite3_step(gone);
		sqlite3_reset(gone);
	}
	int usable = sqlite3_step(count) == SQLITE_ROW ? sqlite3_column_int(count, 0) : 0;
	sqlite3_reset(count);
	if (db_commit(db) != SQLITE_OK) {
		db_rollback(db);
		return -1;
	}
	return usable;
}

int pool_usable(sqlite3 *db, const char *provider)
{
	if (!db)
		return 0;
	sqlite3_stmt *st = db_stmt(
		db, "SELECT count(*) FROM accounts WHERE provider = :provider AND enabled = 1");
	if (!st)
		return 0;
	db_bind_text(st, ":provider", provider);
	int n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_reset(st);
	return n;
}

/* Reads the key of an account row of provider into k->secret; 0 or -1. */
static int resolve_secret(const struct config *cfg, const char *provider, sqlite3_stmt *st,
			  struct pool_key *k)
{
	const char *source = (const char *)sqlite3_column_text(st, 2);
	const char *secret = (const char *)sqlite3_column_text(st, 3);
	const char *ref = (const char *)sqlite3_column_text(st, 4);
	char *v = NULL;
	if (source && strcmp(source, "db") == 0 && secret)
		v = xstrdup(secret);
	else if (source && strcmp(source, "env") == 0 && ref)
		v = env_key(cfg, provider, atoi(ref));
	else if (source && strcmp(source, "envvar") == 0 && ref && getenv(ref))
		v = xstrdup(getenv(ref));
	if (!v || !*v || strlen(v) >= sizeof k->secret) {
		free(v);
		return -1;
	}
	snprintf(k->secret, sizeof k->secret, "%s", v);
	free(v);
	return 0;
}

/* Seconds until some enabled key of provider is free again, or 0 when no key
 * is enabled.  Runs inside the pick's transaction. */
static int earliest_free(sqlite3 *db, const char *provider, long now, const char *minute,
			 const char *day, int images)
{
	sqlite3_stmt *st = db_stmt(
		db,
		"SELECT a.cooldown_until, a.rpm_limit IS NOT NULL AND coalesce(m.requests, 0) >= "
		"a.rpm_limit, a.daily_limit IS NOT NULL AND coalesce(d.images, 0) + :images > "
		"a.daily_limit FROM accounts a LEFT JOIN account_usage m ON m.account_id = a.id "
		"AND "
		"m.window = :minute LEFT JOIN account_usage d ON d.account_id = a.id AND "
		"d.window = :day WHERE a.provider = :provider AND a.enabled = 1");
	if (!st)
		return 60;
	db_bind_text(st, ":provider", provider);
	db_bind_text(st, ":minute", minute);
	db_bind_text(st, ":day", day);
	db_bind_int64(st, ":images", images);
	long best = 0;
	int any = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		any = 1;
		long free_at = now;
		long cool = (long)sqlite3_column_int64(st, 0);
		if (cool > free_at)
			free_at = cool;
		if (sqlite3_column_int(st, 1) && free_at < (now / 60 + 1) * 60)
			free_at = (now / 60 + 1) * 60;
		if (sqlite3_column_int(st, 2) && free_at < (now / 86400 + 1) * 86400)
			free_at = (now / 86400 + 1) * 86400;
		if (best == 0 || free_at < best)
			best = free_at;
	}
	sqlite3_reset(st);
	if (!any)
		return 0;
	return best - now > 0 ? (int)(best - now) : 1;
}

enum img_err pool_take(const struct config *cfg, sqlite3 *db, const char *provider, int images,
		       long avoid, struct pool_key *k, int *retry_after)
{
	memset(k, 0, sizeof *k);
	*retry_after = 0;
	snprintf(k->provider, sizeof k->provider, "%s", provider);
	if (!db) {
		/* No database: the configuration's first key, without counters. */
		char *key = strcmp(provider, "gemini") == 0
				    ? (cfg->gemini_key ? xstrdup(cfg->gemini_key) : NULL)
			    : strcmp(provider, "openai") == 0
				    ? env_key(cfg, provider, 1)
				    : NULL; /* vertex lives in the database */
		if (!key)
			return IMG_UPSTREAM_AUTH;
		snprintf(k->label, sizeof k->label, "%s-env-1", provider);
		snprintf(k->secret, sizeof k->secret, "%s", key);
		memset(key, 0, strlen(key));
		free(key);
		return IMG_OK;
	}
	long now = (long)time(NULL);
	char minute[24], day[24], old_minute[24], old_day[24];
	windows(now, minute, day, old_minute, old_day);
	/* Picks are short; a database busy for longer than this is not worth
	 * holding the request for. */
	db_set_patience(db, PICK_PATIENCE_MS);
	int counted = db_begin(db) == SQLITE_OK;
	db_set_patience(db, -1);
	if (!counted)
		/* Another process holds the database past the busy timeout: pick
		 * without counting (WAL still lets us read) rather than fail. */
		log_msg(LOG_WARN, "key pool busy (%s): this call is not counted",
			sqlite3_errmsg(db));
	sqlite3_stmt *pick = db_stmt(
		db,
		"SELECT a.id, a.label, a.source, a.secret, a.ref, a.consecutive_failures "
		"FROM accounts a "
		"LEFT JOIN account_usage m ON m.account_id = a.id AND m.window = :minute "
		"LEFT JOIN account_usage d ON d.account_id = a.id AND d.window = :day "
		"WHERE a.provider = :provider AND a.enabled = 1 AND a.cooldown_until <= :now "
		"AND (a.rpm_limit IS NULL OR coalesce(m.requests, 0) < a.rpm_limit) "
		"AND (a.daily_limit IS NULL OR coalesce(d.images, 0) + :images <= a.daily_limit) "
		"ORDER BY a.id = :avoid, a.last_used, a.id");
	sqlite3_stmt *used =
		db_stmt(db, "UPDATE accounts SET last_used = :now, total_requests = "
			    "total_requests + 1, total_images = total_images + :images "
			    "WHERE id = :id");
	sqlite3_stmt *usage = db_stmt(
		db, "INSERT INTO account_usage(account_id, window, requests, images) VALUES "
		    "(:id, :window, 1, :images) ON CONFLICT(account_id, window) DO UPDATE SET "
		    "requests = requests + 1, images = images + excluded.images");
	sqlite3_stmt *prune =
		db_stmt(db, "DELETE FROM account_usage WHERE (substr(window, 1, 1) = "
			    "'m' AND window < :old_minute) OR (substr(window, 1, 1) = "
			    "'d' AND window < :old_day)");
	if (!pick || !used || !usage || !prune) {
		if (counted)
			db_rollback(db);
		*retry_after = 1;
		return IMG_QUOTA_EXHAUSTED;
	}
	db_bind_text(pick, ":minute", minute);
	db_bind_text(pick, ":day", day);
	db_bind_text(pick, ":provider", provider);
	db_bind_int64(pick, ":now", now);
	db_bind_int64(pick, ":images", images);
	db_bind_int64(pick, ":avoid", avoid);
	int found = 0;
	/* The first row whose key can be read (an unset variable skips its row);
	 * a vertex account's credential is its token, fetched by the caller. */
	int is_vertex = strcmp(provider, "vertex") == 0;
	while (!found && sqlite3_step(pick) == SQLITE_ROW) {
		if (!is_vertex && resolve_secret(cfg, provider, pick, k) != 0)
			continue;
		k->id = (long)sqlite3_column_int64(pick, 0);
		snprintf(k->label, sizeof k->label, "%s",
			 (const char *)sqlite3_column_text(pick, 1));
		k->failures = sqlite3_column_int(pick, 5);
		found = 1;
	}
	sqlite3_reset(pick);
	if (!found) {
		*retry_after = earliest_free(db, provider, now, minute, day, images);
		if (counted)
			db_rollback(db);
		if (*retry_after == 0)
			return IMG_UPSTREAM_AUTH;
		return IMG_QUOTA_EXHAUSTED;
	}
	if (!counted)
		return IMG_OK;
	db_bind_int64(used, ":now", now);
	db_bind_int64(used, ":images", images);
	db_bind_int64(used, ":id", k->id);
	sqlite3_step(used);
	sqlite3_reset(used);
	const char *wins[2] = {minute, day};
	for (int i = 0; i < 2; i++) {
		db_bind_int64(usage, ":id", k->id);
		db_bind_text(usage, ":window", wins[i]);
		db_bind_int64(usage, ":images", images);
		sqlite3_step(usage);
		sqlite3_reset(usage);
	}
	db_bind_text(prune, ":old_minute", old_minute);
	db_bind_text(prune, ":old_day", old_day);
	sqlite3_step(prune);
	sqlite3_reset(prune);
	if (db_commit(db) != SQLITE_OK) {
		db_rollback(db);
		*retry_after = 1;
		return IMG_QUOTA_EXHAUSTED;
	}
	return IMG_OK;
}

enum img_err pool_take_first(const struct config *cfg, sqlite3 *db, const char *const *providers,
			     int images, long avoid, struct pool_key *k, int *retry_after)
{
	enum img_err worst = IMG_UPSTREAM_AUTH;
	int soonest = 0;
	for (int i = 0; providers[i]; i++) {
		int ra = 0;
		enum img_err rc = pool_take(cfg, db, providers[i], images, avoid, k, &ra);
		if (rc == IMG_OK)
			return IMG_OK;
		if (rc == IMG_QUOTA_EXHAUSTED) {
			worst = IMG_QUOTA_EXHAUSTED;
			if (soonest == 0 || (ra > 0 && ra < soonest))
				soonest = ra;
		}
	}
	memset(k, 0, sizeof *k);
	*retry_after = worst == IMG_QUOTA_EXHAUSTED ? (soonest > 0 ? soonest : 1) : 0;
	return worst;
}

/* One outcome update; best effort (a lost update only delays a cooldown). */
static void outcome(sqlite3 *db, const struct pool_key *k, const char *sql, long v, const char *why)
{
	if (!db || k->id == 0)
		return;
	sqlite3_stmt *st = db_stmt(db, sql);
	if (!st)
		return;
	db_set_patience(db, OUTCOME_PATIENCE_MS);
	db_bind_int64(st, ":id", k->id);
	if (sqlite3_bind_parameter_index(st, ":v"))
		db_bind_int64(st, ":v", v);
	if (sqlite3_bind_parameter_index(st, ":why"))
		db_bind_text(st, ":why", why ? why : "");
	if (sqlite3_step(st) != SQLITE_DONE)
		log_msg(LOG_WARN, "key pool update for %s failed: %s", k->label,
			sqlite3_errmsg(db));
	sqlite3_reset(st);
	db_set_patience(db, -1);
}

void pool_ok(sqlite3 *db, const struct pool_key *k)
{
	/* Most calls succeed after a success: no write transaction for them.
	 * (A retry takes its key again, so it sees the count its failed
	 * attempt left.) */
	if (k->failures == 0)
		return;
	outcome(db, k, "UPDATE accounts SET consecutive_failures = 0 WHERE id = :id", 0, NULL);
}

void pool_cooldown(sqlite3 *db, const struct pool_key *k, int seconds, const char *why)
{
	outcome(db, k,
		"UPDATE accounts SET cooldown_until = max(cooldown_until, :v), "
		"consecutive_failures "
		"= consecutive_failures + 1, last_error = :why WHERE id = :id",
		(long)time(NULL) + seconds, why);
}

void pool_disable(sqlite3 *db, const struct pool_key *k, const char *why)
{
	outcome(db, k,
		"UPDATE accounts SET enabled = 0, disabled_reason = :why, last_error = :why, "
		"consecutive_failures = consecutive_failures + 1 WHERE id = :id",
		0, why);
}

void pool_failure(sqlite3 *db, const struct pool_key *k, const char *why)
{
	outcome(db, k,
		"UPDATE accounts SET consecutive_failures = consecutive_failures + 1, last_error = "
		":why WHERE id = :id",
		0, why);
}

/* How long a key rests when its account has no credit left (OpenAI's
 * insufficient_quota): long enough not to spend a call per request on it,
 * short enough that topping up the account brings it back on its own. */
#define OUT_OF_CREDIT_COOLDOWN 3600

/* Seconds a key rests after a 429: the delay the upstream asked for
 * (RetryInfo, retry-after-ms, x-ratelimit-reset-*), else the Retry-After
 * header, else the configured cooldown; at least 1, at most a day. */
static int quota_delay(double retry_delay, const char *header, int fallback)
{
	if (retry_delay >= 0) /* capped at a day: the value is the upstream's */
		return retry_delay > 86400 ? 86400 : retry_delay < 1 ? 1 : (int)ceil(retry_delay);
	if (header[0]) {
		long v = strtol(header, NULL, 10);
		if (v > 0)
			return v > 86400 ? 86400 : (int)v;
	}
	return fallback;
}

/* A Google error body as pool_judge reads it: the reason API_KEY_INVALID
 * (sent with HTTP 400) rejects the key; everything else goes by status. */
static void gemini_fault_read(const struct upstream_xfer *x, struct upstream_fault *f)
{
	struct gemini_fault g;
	gemini_parse_error((int)x->status, x->resp.data, x->resp.len, &g);
	memset(f, 0, sizeof *f);
	f->kind = strcmp(g.reason, "API_KEY_INVALID") == 0 ? FAULT_KEY_REJECTED : FAULT_BY_STATUS;
	snprintf(f->status, sizeof f->status, "%s", g.status);
	snprintf(f->reason, sizeof f->reason, "%s", g.reason);
	snprintf(f->message, sizeof f->message, "%s", g.message);
	f->retry_delay = g.retry_delay;
}

/* What an HTTP status means when the body says nothing more specific. */
static enum pool_step judge_by_status(const struct config *cfg, sqlite3 *db,
				      const struct pool_key *k, const struct upstream_xfer *x,
				      const struct upstream_fault *f, const char *why,
				      struct img_error *e)
{
	switch (x->status) {
	case 429: {
		int delay =
			quota_delay(f->retry_delay, x->retry_after, cfg->quota_cooldown_seconds);
		err_set(e, IMG_QUOTA_EXHAUSTED, NULL, "%s", err_info(IMG_QUOTA_EXHAUSTED)->message);
		e->retry_after = delay;
		pool_cooldown(db, k, delay, why);
		return POOL_ROTATE;
	}
	case 401:
	case 403:
		err_set(e, IMG_UPSTREAM_AUTH, NULL, NULL);
		pool_disable(db, k, why);
		return POOL_ROTATE;
	case 400:
		pool_ok(db, k); /* the request was wrong, not the key */
		err_set(e, IMG_INVALID_REQUEST, NULL, "The upstream rejected the request: %.300s",
			f->message[0] ? f->message : "no reason given");
		return POOL_DONE;
	case 500:
	case 502:
	case 503:
		err_set(e, IMG_UPSTREAM_ERROR, NULL, "The upstream failed (HTTP %ld%s%s).",
			x->status, f->status[0] ? " " : "", f->status);
		pool_failure(db, k, why);
		return POOL_RETRY;
	case 504:
		err_set(e, IMG_UPSTREAM_TIMEOUT, NULL,
			"The upstream gave up before the image was ready (HTTP 504).");
		pool_failure(db, k, why);
		return POOL_RETRY;
	default:
		err_set(e, IMG_UPSTREAM_ERROR, NULL, "The upstream answered HTTP %ld%s%.200s",
			x->status, f->message[0] ? ": " : ".", f->message);
		pool_failure(db, k, why);
		return POOL_DONE;
	}
}

enum pool_step pool_judge(const struct config *cfg, sqlite3 *db, const struct pool_key *k,
			  const struct upstream_xfer *x, struct img_error *e)
{
	struct upstream_fault f;
	char why[200];
	err_clear(e);
	e->upstream_status = (int)x->status;
	if (x->fail == UPSTREAM_TIMEOUT) {
		err_set(e, IMG_UPSTREAM_TIMEOUT, NULL,
			"The upstream did not answer within the timeout.");
		pool_failure(db, k, "timeout");
		return POOL_DONE;
	}
	if (x->fail == UPSTREAM_TOO_LARGE) {
		err_set(e, IMG_UPSTREAM_ERROR, NULL, "The upstream answer was too large.");
		return POOL_DONE;
	}
	if (x->fail != UPSTREAM_OK) {
		err_set(e, IMG_NETWORK_ERROR, NULL, "The upstream connection failed.");
		snprintf(why, sizeof why, "network: %.180s", x->error);
		pool_failure(db, k, why);
		return POOL_RETRY;
	}
	if (strcmp(k->provider, "openai") == 0)
		openai_parse_error((int)x->status, x->resp.data, x->resp.len,
				   buf_cstr(&x->resp_headers), &f);
	else
		gemini_fault_read(x, &f);
	snprintf(why, sizeof why, "HTTP %ld %s%s%.140s", x->status,
		 f.reason[0] ? f.reason : f.status, f.message[0] ? ": " : "", f.message);
	switch (f.kind) {
	case FAULT_KEY_REJECTED:
		err_set(e, IMG_UPSTREAM_AUTH, NULL, NULL);
		pool_disable(db, k, why);
		return POOL_ROTATE;
	case FAULT_DENIED:
		/* Kept enabled: the key may serve other models. */
		err_set(e, IMG_UPSTREAM_AUTH, NULL,
			"The upstream refused this request with the gateway's credentials%s%.300s",
			f.message[0] ? ": " : ".", f.message);
		pool_failure(db, k, why);
		return POOL_DONE;
	case FAULT_OUT_OF_CREDIT:
		err_set(e, IMG_QUOTA_EXHAUSTED, NULL,
			"The upstream account behind the gateway's key has no quota or credit "
			"left.");
		e->retry_after = OUT_OF_CREDIT_COOLDOWN;
		pool_cooldown(db, k, OUT_OF_CREDIT_COOLDOWN, why);
		return POOL_ROTATE;
	case FAULT_SAFETY:
		pool_ok(db, k); /* the prompt was refused, not the key */
		err_set(e, IMG_SAFETY_BLOCKED, NULL,
			"The upstream's content policy refused the request%s%.300s",
			f.message[0] ? ": " : ".", f.message);
		snprintf(e->finish_reason, sizeof e->finish_reason, "%.39s",
			 f.reason[0] ? f.reason : f.status);
		return POOL_DONE;
	default: return judge_by_status(cfg, db, k, x, &f, why, e);
	}
}

/* ---- operator commands --------------------------------------------------- */

/* Reads a key from a file: its first line, trimmed. */
static int read_key_file(const char *path, char *out, size_t len, char *err, size_t err_len)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, err_len, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	char line[1024] = "";
	if (!fgets(line, sizeof line, f))
		line[0] = '\0';
	fclose(f);
	size_t n = strcspn(line, "\r\n");
	line[n] = '\0';
	char *s = line;
	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	if (!n || n >= len) {
		snprintf(err, err_len, "%s holds no key on its first line", path);
		return -1;
	}
	memcpy(out, s, n + 1);
	return 0;
}

int pool_add(sqlite3 *db, const char *provider, const char *label, const char *key_file,
	     const char *key_env, long daily, long rpm, char *err, size_t err_len)
{
	char key[512] = "";
	if (strcmp(provider, "gemini") != 0 && strcmp(provider, "openai") != 0) {
		snprintf(err, err_len,
			 "provider must be gemini or openai (vertex accounts are added with "
			 "--service-account)");
		return -1;
	}
	if (!label || !*label || strlen(label) >= 64 || strncmp(label, "gemini-env-", 11) == 0 ||
	    strncmp(label, "openai-env-", 11) == 0) {
		snprintf(err, err_len,
			 "a label of 1 to 63 characters is needed (gemini-env-* and "
			 "openai-env-* are reserved for keys from the environment)");
		return -1;
	}
	if ((key_file != NULL) == (key_env != NULL)) {
		snprintf(err, err_len, "give exactly one of --key-file and --key-env");
		return -1;
	}
	if (key_file && read_key_file(key_file, key, sizeof key, err, err_len) != 0)
		return -1;
	if (key_env) {
		const char *v = getenv(key_env);
		if (!v || !*v) {
			snprintf(err, err_len,
				 "the environment variable %s is not set here; the web "
				 "server must also pass it to imagegw",
				 key_env);
			return -1;
		}
		snprintf(key, sizeof key, "%s", v);
	}
	char fp[17];
	fingerprint(key, fp);
	sqlite3_stmt *st = db_stmt(
		db, "INSERT INTO accounts(provider, label, source, secret, ref, fingerprint, "
		    "daily_limit, rpm_limit, created) VALUES (:provider, :label, :source, :secret, "
		    ":ref, :fp, nullif(:daily, 0), nullif(:rpm, 0), :now)");
	if (!st) {
		snprintf(err, err_len, "database error");
		return -1;
	}
	db_bind_text(st, ":provider", provider);
	db_bind_text(st, ":label", label);
	db_bind_text(st, ":source", key_file ? "db" : "envvar");
	if (key_file)
		db_bind_text(st, ":secret", key);
	db_bind_text(st, ":ref", key_file ? key_file : key_env);
	db_bind_text(st, ":fp", fp);
	db_bind_int64(st, ":daily", daily);
	db_bind_int64(st, ":rpm", rpm);
	db_bind_int64(st, ":now", (long long)time(NULL));
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	memset(key, 0, sizeof key);
	if (rc != SQLITE_DONE) {
		snprintf(err, err_len, "%s",
			 rc == SQLITE_CONSTRAINT ? "that label is taken" : sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

/* Runs a one-row UPDATE/DELETE by label; -1 when no such label. */
static int by_label(sqlite3 *db, const char *sql, const char *label, char *err, size_t err_len)
{
	sqlite3_stmt *st = db_stmt(db, sql);
	if (!st) {
		snprintf(err, err_len, "database error");
		return -1;
	}
	if (label)
		db_bind_text(st, ":label", label);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		snprintf(err, err_len, "%s", sqlite3_errmsg(db));
		return -1;
	}
	if (label && sqlite3_changes(db) == 0) {
		snprintf(err, err_len, "no key labelled '%s'", label);
		return -1;
	}
	return 0;
}

int pool_remove(sqlite3 *db, const char *label, char *err, size_t err_len)
{
	return by_label(db, "DELETE FROM accounts WHERE label = :label AND source != 'env'", label,
			err, err_len);
}

int pool_set_enabled(sqlite3 *db, const char *label, int enabled, char *err, size_t err_len)
{
	return by_label(
		db,
		enabled ? "UPDATE accounts SET enabled = 1, disabled_reason = NULL, "
			  "consecutive_failures = 0 WHERE label = :label"
			: "UPDATE accounts SET enabled = 0, disabled_reason = 'disabled by the "
			  "operator' WHERE label = :label",
		label, err, err_len);
}

int pool_reset(sqlite3 *db, const char *label, char *err, size_t err_len)
{
	if (label)
		return by_label(db,
				"UPDATE accounts SET cooldown_until = 0, consecutive_failures = 0 "
				"WHERE label = :label",
				label, err, err_len);
	return by_label(db, "UPDATE accounts SET cooldown_until = 0, consecutive_failures = 0",
			NULL, err, err_len);
}

int pool_list(sqlite3 *db, FILE *out)
{
	long now = (long)time(NULL);
	char minute[24], day[24], om[24], od[24];
	windows(now, minute, day, om, od);
	sqlite3_stmt *st = db_stmt(
		db,
		"SELECT a.label, a.provider, a.source, a.enabled, a.disabled_reason, "
		"a.cooldown_until, coalesce(m.requests, 0), a.rpm_limit, coalesce(d.images, 0), "
		"a.daily_limit, a.total_requests, a.total_images, a.consecutive_failures, "
		"a.last_error, a.last_used, a.fingerprint, t.expires, a.project, a.location "
		"FROM accounts a LEFT JOIN vertex_tokens t ON t.account_id = a.id AND t.token IS "
		"NOT NULL LEFT JOIN account_usage m "
		"ON m.account_id = a.id AND m.window = :minute LEFT JOIN account_usage d ON "
		"d.account_id = a.id AND d.window = :day ORDER BY a.provider, a.label");
	if (!st)
		return -1;
	db_bind_text(st, ":minute", minute);
	db_bind_text(st, ":day", day);
	fprintf(out, "%-20s %-8s %-7s %-36s %-11s %-13s %-15s %s\n", "LABEL", "PROVIDER", "SOURCE",
		"STATE", "RPM", "IMAGES TODAY", "TOTAL REQ/IMG", "FAILURES / LAST ERROR");
	int rows = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		char state[96], rpm[24], daily[24], totals[32], last[160];
		const char *reason = (const char *)sqlite3_column_text(st, 4);
		long cool = (long)sqlite3_column_int64(st, 5);
		if (!sqlite3_column_int(st, 3)) {
			snprintf(state, sizeof state, "disabled: %.60s", reason ? reason : "?");
		} else if (cool > now) {
			struct tm tm;
			time_t t = (time_t)cool;
			char ts[16];
			gmtime_r(&t, &tm);
			strftime(ts, sizeof ts, "%H:%M:%SZ", &tm);
			snprintf(state, sizeof state, "cooling until %s (%lds)", ts, cool - now);
		} else if (sqlite3_column_int64(st, 16) > now) {
			snprintf(state, sizeof state, "active, token %llds",
				 (long long)sqlite3_column_int64(st, 16) - now);
		} else {
			snprintf(state, sizeof state, "active");
		}
		if (sqlite3_column_type(st, 17) == SQLITE_TEXT) {
			/* Vertex: where its calls go. */
			size_t l = strlen(state);
			snprintf(state + l, sizeof state - l, " [%.24s/%.16s]",
				 (const char *)sqlite3_column_text(st, 17),
				 sqlite3_column_type(st, 18) == SQLITE_TEXT
					 ? (const char *)sqlite3_column_text(st, 18)
					 : "global");
		}
		if (sqlite3_column_type(st, 7) == SQLITE_NULL)
			snprintf(rpm, sizeof rpm, "%d/-", sqlite3_column_int(st, 6));
		else
			snprintf(rpm, sizeof rpm, "%d/%d", sqlite3_column_int(st, 6),
				 sqlite3_column_int(st, 7));
		if (sqlite3_column_type(st, 9) == SQLITE_NULL)
			snprintf(daily, sizeof daily, "%d/-", sqlite3_column_int(st, 8));
		else
			snprintf(daily, sizeof daily, "%d/%d", sqlite3_column_int(st, 8),
				 sqlite3_column_int(st, 9));
		snprintf(totals, sizeof totals, "%lld/%lld", sqlite3_column_int64(st, 10),
			 sqlite3_column_int64(st, 11));
		const char *le = (const char *)sqlite3_column_text(st, 13);
		snprintf(last, sizeof last, "%d%s%.120s", sqlite3_column_int(st, 12),
			 le && *le ? " / " : "", le ? le : "");
		fprintf(out, "%-20s %-8s %-7s %-36s %-11s %-13s %-15s %s\n",
			(const char *)sqlite3_column_text(st, 0),
			(const char *)sqlite3_column_text(st, 1),
			(const char *)sqlite3_column_text(st, 2), state, rpm, daily, totals, last);
		rows++;
	}
	sqlite3_reset(st);
	if (!rows)
		fprintf(out, "(no keys: set GEMINI_API_KEY(S) or OPENAI_API_KEY, or use 'imagegw "
			     "account add')\n");
	return 0;
}
