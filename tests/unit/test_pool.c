/* Unit tests for the key pool (core/pool.c): selection order, limits,
 * cooldowns, disabling, the environment sync; and the cooldown a 429 earns
 * (quota_delay in core/pool.c). */
#include "../../core/generate.c"
#include "../../core/pool.c"

#include <stdlib.h>
#include <unistd.h>

#include "unit.h"

static struct config cfg;
static sqlite3 *db;
static char dir[64];

static void open_pool(const char *keys)
{
	struct buf errs = BUF_INIT, warns = BUF_INIT;
	snprintf(dir, sizeof dir, "/tmp/imagegw-pool-XXXXXX");
	if (!mkdtemp(dir))
		abort();
	setenv("IMAGEGW_CONFIG", "/dev/null", 1);
	setenv("IMAGEGW_DATA_DIR", dir, 1);
	setenv("IMAGEGW_LOG_LEVEL", "error", 1);
	setenv("IMAGEGW_GEMINI_API_KEYS", keys, 1);
	config_load(&cfg, &errs, &warns);
	log_open(&cfg); /* quiet: log_level=error */
	buf_free(&errs);
	buf_free(&warns);
	char err[256];
	db = db_open(&cfg, err, sizeof err);
	if (!db)
		abort();
}

static void close_pool(void)
{
	db_close(db);
	db = NULL;
	config_free(&cfg);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		abort();
	unsetenv("IMAGEGW_GEMINI_API_KEYS");
}

static void sql(const char *s)
{
	if (sqlite3_exec(db, s, NULL, NULL, NULL) != SQLITE_OK)
		abort();
}

TEST(sync_labels_environment_keys)
{
	open_pool("alpha,beta, gamma");
	CHECK_INT(pool_sync(&cfg, db), 3);
	struct pool_key k;
	int ra;
	CHECK_INT(pool_take(&cfg, db, "gemini", 1, 0, &k, &ra), IMG_OK);
	CHECK_STR(k.label, "gemini-env-1");
	CHECK_STR(k.secret, "alpha");
	/* No secret of an environment key is stored. */
	sqlite3_stmt *st;
	sqlite3_prepare_v2(db, "SELECT count(*) FROM accounts WHERE secret IS NOT NULL", -1, &st,
			   NULL);
	sqlite3_step(st);
	CHECK_INT(sqlite3_column_int(st, 0), 0);
	sqlite3_finalize(st);
	close_pool();
}

TEST(least_recently_used_first_and_avoid)
{
	open_pool("k1,k2,k3");
	pool_sync(&cfg, db);
	struct pool_key k;
	int ra;
	const char *want[] = {"k1", "k2", "k3"};
	for (int i = 0; i < 3; i++) {
		CHECK_INT(pool_take(&cfg, db, "gemini", 1, 0, &k, &ra), IMG_OK);
		CHECK_STR(k.secret, want[i]);
		sql("UPDATE accounts SET last_used = last_used - 0"); /* same second: id order */
		char q[128];
		snprintf(q, sizeof q, "UPDATE accounts SET last_used = %d WHERE id = %ld", 100 + i,
			 k.id);
		sql(q);
	}
	/* All used; k1 is the oldest.  Avoiding it gives k2. */
	CHECK_INT(pool_take(&cfg, db, "gemini", 1, 1, &k, &ra), IMG_OK);
	CHECK_STR(k.secret, "k2");
	close_pool();
}

TEST(cooling_and_disabled_keys_are_passed_over)
{
	open_pool("k1,k2");
	pool_sync(&cfg, db);
	struct pool_key k1, k2, k;
	int ra;
	pool_take(&cfg, db, "gemini", 1, 0, &k1, &ra);
	pool_take(&cfg, db, "gemini", 1, 0, &k2, &ra);
	pool_cooldown(db, &k1, 30, "HTTP 429 RESOURCE_EXHAUSTED");
	CHECK_INT(pool_take(&cfg, db, "gemini", 1, 0, &k, &ra), IMG_OK);
	CHECK_STR(k.secret, "k2");
	pool_disable(db, &k2, "HTTP 400 API_KEY_INVALID");
	CHECK_INT(pool_take(&cfg, db, "gemini", 1, 0, &k, &ra), IMG_QUOTA_EXHAUSTED);
	CHECK(ra >= 29 && ra <= 30);
	pool_disable(db, &k1, "HTTP 403");
	CHECK_INT(pool_take(&cfg, db, "gemini", 1, 0, &k, &ra), IMG_UPSTREAM_AUTH);
	/* A changed environment key comes back fresh. */
	setenv("IMAGEGW_GEMINI_API_KEYS", "k1,k2-new", 1);
	config_free(&cfg);
	struct buf errs = BUF_INIT, warns = BUF_INIT;
	config_load(&cfg, &errs, &warns);
	buf_free(&errs);
	buf_free(&warns);
	CHECK_INT(pool_sync(&cfg, db), 1);
	CHECK_INT(pool_take(&cfg, db, "gemini", 1, 0, &k, &ra), IMG_OK);
	CHECK_STR(k.secret, "k2-new");
	close_pool();
}

TEST(rpm_and_daily_limits)
{
	open_pool("k1");
	pool_sync(&cfg, db);
	sql("UPDATE accounts SET rpm_limit = 2");
	struct pool_key k;
	int ra;
	CHECK_INT(pool_take(&cfg, db, "gemini", 1, 0, &k, &ra), IMG_OK);
	CHECK_INT(pool_take(&cfg, db, "gemini", 1, 0, &k, &ra), IMG_OK);
	CHECK_INT(pool_take(&cfg, db, "gemini", 1, 0, &k, &ra), IMG_QUOTA_EXHAUSTED);
	CHECK(ra >= 1 && ra <= 60); /* the next minute */
	sql("UPDATE accounts SET rpm_limit = NULL, daily_limit = 3");
	CHECK_INT(pool_take(&cfg, db, "gemini", 1, 0, &k, &ra), IMG_OK);
	CHECK_INT(pool_take(&cfg, db, "gemini", 1, 0, &k, &ra), IMG_QUOTA_EXHAUSTED);
	CHECK(ra >= 1 && ra <= 86400); /* the next UTC day */
	close_pool();
}

TEST(no_database_uses_the_configured_key)
{
	open_pool("only-key");
	struct pool_key k;
	int ra;
	CHECK_INT(pool_take(&cfg, NULL, "gemini", 1, 0, &k, &ra), IMG_OK);
	CHECK_STR(k.secret, "only-key");
	CHECK_STR(k.label, "gemini-env-1");
	close_pool();
}

/* The state of the key labelled label: "enabled", "cooling" or "disabled". */
static const char *key_state(const char *label)
{
	sqlite3_stmt *st;
	static char out[16];
	sqlite3_prepare_v2(db,
			   "SELECT enabled, cooldown_until - strftime('%s','now') FROM accounts "
			   "WHERE label = ?",
			   -1, &st, NULL);
	sqlite3_bind_text(st, 1, label, -1, SQLITE_STATIC);
	snprintf(out, sizeof out, "missing");
	if (sqlite3_step(st) == SQLITE_ROW)
		snprintf(out, sizeof out, "%s",
			 !sqlite3_column_int(st, 0)	 ? "disabled"
			 : sqlite3_column_int(st, 1) > 0 ? "cooling"
							 : "enabled");
	sqlite3_finalize(st);
	return out;
}

TEST(openai_environment_key)
{
	setenv("IMAGEGW_OPENAI_API_KEY", "sk-one", 1);
	open_pool("g1,g2");
	CHECK_INT(pool_sync(&cfg, db), 2); /* still counts Gemini keys */
	CHECK_INT(pool_usable(db, "openai"), 1);
	CHECK_INT(pool_usable(db, "gemini"), 2);
	CHECK_INT(pool_usable(NULL, "openai"), 0);
	struct pool_key k;
	int ra;
	CHECK_INT(pool_take(&cfg, db, "openai", 1, 0, &k, &ra), IMG_OK);
	CHECK_STR(k.label, "openai-env-1");
	CHECK_STR(k.secret, "sk-one");
	CHECK_STR(k.provider, "openai");
	CHECK_INT(pool_take(&cfg, db, "gemini", 1, 0, &k, &ra), IMG_OK);
	CHECK_STR(k.provider, "gemini");
	CHECK(strncmp(k.label, "gemini-env-", 11) == 0);
	/* Without a database: the configured key. */
	CHECK_INT(pool_take(&cfg, NULL, "openai", 1, 0, &k, &ra), IMG_OK);
	CHECK_STR(k.secret, "sk-one");
	CHECK_STR(k.label, "openai-env-1");
	/* The key leaves the environment: its row goes, Gemini's stay. */
	unsetenv("IMAGEGW_OPENAI_API_KEY");
	config_free(&cfg);
	struct buf errs = BUF_INIT, warns = BUF_INIT;
	config_load(&cfg, &errs, &warns);
	buf_free(&errs);
	buf_free(&warns);
	CHECK_INT(pool_sync(&cfg, db), 2);
	CHECK_STR(key_state("openai-env-1"), "missing");
	CHECK_INT(pool_take(&cfg, db, "openai", 1, 0, &k, &ra), IMG_UPSTREAM_AUTH);
	CHECK_INT(pool_take(&cfg, NULL, "openai", 1, 0, &k, &ra), IMG_UPSTREAM_AUTH);
	CHECK_STR(key_state("gemini-env-2"), "enabled");
	char err[128];
	CHECK_INT(pool_add(db, "openai", "openai-env-3", "/dev/null", NULL, 0, 0, err, sizeof err),
		  -1);
	CHECK(strstr(err, "openai-env-* are reserved") != NULL);
	close_pool();
}

/* Judges one OpenAI answer made with a fresh openai-env-1 key. */
static enum pool_step judge_openai(long status, const char *body, const char *headers,
				   struct img_error *e)
{
	struct pool_key k;
	int ra;
	struct upstream_xfer x;
	memset(&x, 0, sizeof x);
	sql("UPDATE accounts SET enabled = 1, cooldown_until = 0");
	if (pool_take(&cfg, db, "openai", 1, 0, &k, &ra) != IMG_OK)
		return (enum pool_step) - 1;
	x.status = status;
	buf_puts(&x.resp, body);
	buf_puts(&x.resp_headers, headers);
	enum pool_step step = pool_judge(&cfg, db, &k, &x, e);
	upstream_xfer_free(&x);
	return step;
}

TEST(judging_openai_errors)
{
	setenv("IMAGEGW_OPENAI_API_KEY", "sk-judge", 1);
	open_pool("g1");
	pool_sync(&cfg, db);
	struct img_error e;

	CHECK_INT(judge_openai(401,
			       "{\"error\":{\"message\":\"Incorrect API key provided: sk-ju**ge.\","
			       "\"type\":\"invalid_request_error\",\"code\":\"invalid_api_key\"}}",
			       "", &e),
		  POOL_ROTATE);
	CHECK_INT(e.code, IMG_UPSTREAM_AUTH);
	CHECK_STR(key_state("openai-env-1"), "disabled");
	sqlite3_stmt *st;
	sqlite3_prepare_v2(db, "SELECT disabled_reason FROM accounts WHERE label = 'openai-env-1'",
			   -1, &st, NULL);
	sqlite3_step(st);
	const char *why = (const char *)sqlite3_column_text(st, 0);
	CHECK(why && strstr(why, "invalid_api_key") && !strstr(why, "sk-"));
	sqlite3_finalize(st);

	CHECK_INT(judge_openai(429,
			       "{\"error\":{\"code\":\"rate_limit_exceeded\",\"message\":\"Rate "
			       "limit\",\"type\":\"requests\"}}",
			       "x-ratelimit-remaining-requests: 0\r\nx-ratelimit-reset-requests: "
			       "42s\r\n",
			       &e),
		  POOL_ROTATE);
	CHECK_INT(e.code, IMG_QUOTA_EXHAUSTED);
	CHECK_INT(e.retry_after, 42);
	CHECK_STR(key_state("openai-env-1"), "cooling");

	CHECK_INT(judge_openai(429,
			       "{\"error\":{\"code\":\"insufficient_quota\",\"message\":\"You "
			       "exceeded your current quota\",\"type\":\"insufficient_quota\"}}",
			       "", &e),
		  POOL_ROTATE);
	CHECK_INT(e.code, IMG_QUOTA_EXHAUSTED);
	CHECK_INT(e.retry_after, 3600);
	CHECK_STR(key_state("openai-env-1"), "cooling");

	CHECK_INT(judge_openai(400,
			       "{\"error\":{\"code\":\"content_policy_violation\",\"message\":"
			       "\"Your request was rejected as a result of our safety system.\","
			       "\"type\":\"invalid_request_error\"}}",
			       "", &e),
		  POOL_DONE);
	CHECK_INT(e.code, IMG_SAFETY_BLOCKED);
	CHECK_STR(e.finish_reason, "content_policy_violation");
	CHECK(strstr(e.message, "safety system") != NULL);
	CHECK_STR(key_state("openai-env-1"), "enabled");

	CHECK_INT(judge_openai(400,
			       "{\"error\":{\"code\":null,\"message\":\"Invalid size\","
			       "\"type\":\"invalid_request_error\"}}",
			       "", &e),
		  POOL_DONE);
	CHECK_INT(e.code, IMG_INVALID_REQUEST);
	CHECK(strstr(e.message, "Invalid size") != NULL);

	CHECK_INT(judge_openai(403, "{\"error\":{\"message\":\"verify your org\"}}", "", &e),
		  POOL_DONE);
	CHECK_INT(e.code, IMG_UPSTREAM_AUTH);
	CHECK_STR(key_state("openai-env-1"), "enabled");

	CHECK_INT(judge_openai(503, "{\"error\":{\"type\":\"server_error\"}}", "", &e), POOL_RETRY);
	CHECK_INT(e.code, IMG_UPSTREAM_ERROR);
	CHECK_INT(judge_openai(504, "", "", &e), POOL_RETRY);
	CHECK_INT(e.code, IMG_UPSTREAM_TIMEOUT);
	unsetenv("IMAGEGW_OPENAI_API_KEY");
	close_pool();
}

TEST(cooldown_parsing)
{
	struct gemini_fault f;
	memset(&f, 0, sizeof f);
	f.retry_delay = gemini_parse_duration("7.5s");
	CHECK_INT(quota_delay(f.retry_delay, "", 60), 8);
	f.retry_delay = gemini_parse_duration("47s");
	CHECK_INT(quota_delay(f.retry_delay, "", 60), 47);
	f.retry_delay = gemini_parse_duration("0.2s");
	CHECK_INT(quota_delay(f.retry_delay, "", 60), 1);
	f.retry_delay = gemini_parse_duration("29.723877525s");
	CHECK_INT(quota_delay(f.retry_delay, "", 60), 30);
	f.retry_delay = -1;
	CHECK_INT(quota_delay(f.retry_delay, "12", 60), 12);
	CHECK_INT(quota_delay(f.retry_delay, "", 60), 60);
	CHECK_INT(quota_delay(f.retry_delay, "junk", 45), 45);
	f.retry_delay = 1e9;
	CHECK_INT(quota_delay(f.retry_delay, "", 60), 86400);
	/* moved here with the function from core/enhance.c's own copy */
	f.retry_delay = 29.2;
	CHECK_INT(quota_delay(f.retry_delay, "", 60), 30);
	f.retry_delay = -1;
	CHECK_INT(quota_delay(f.retry_delay, "soon", 60), 60);
}

int main(void)
{
	RUN(sync_labels_environment_keys);
	RUN(least_recently_used_first_and_avoid);
	RUN(cooling_and_disabled_keys_are_passed_over);
	RUN(rpm_and_daily_limits);
	RUN(no_database_uses_the_configured_key);
	RUN(cooldown_parsing);
	RUN(openai_environment_key);
	RUN(judging_openai_errors);
	UNIT_DONE();
}
