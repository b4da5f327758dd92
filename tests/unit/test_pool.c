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

TEST(cooldown_parsing)
{
	struct gemini_fault f;
	memset(&f, 0, sizeof f);
	f.retry_delay = gemini_parse_duration("7.5s");
	CHECK_INT(quota_delay(&f, "", 60), 8);
	f.retry_delay = gemini_parse_duration("47s");
	CHECK_INT(quota_delay(&f, "", 60), 47);
	f.retry_delay = gemini_parse_duration("0.2s");
	CHECK_INT(quota_delay(&f, "", 60), 1);
	f.retry_delay = gemini_parse_duration("29.723877525s");
	CHECK_INT(quota_delay(&f, "", 60), 30);
	f.retry_delay = -1;
	CHECK_INT(quota_delay(&f, "12", 60), 12);
	CHECK_INT(quota_delay(&f, "", 60), 60);
	CHECK_INT(quota_delay(&f, "junk", 45), 45);
	f.retry_delay = 1e9;
	CHECK_INT(quota_delay(&f, "", 60), 86400);
	/* moved here with the function from core/enhance.c's own copy */
	f.retry_delay = 29.2;
	CHECK_INT(quota_delay(&f, "", 60), 30);
	f.retry_delay = -1;
	CHECK_INT(quota_delay(&f, "soon", 60), 60);
}

int main(void)
{
	RUN(sync_labels_environment_keys);
	RUN(least_recently_used_first_and_avoid);
	RUN(cooling_and_disabled_keys_are_passed_over);
	RUN(rpm_and_daily_limits);
	RUN(no_database_uses_the_configured_key);
	RUN(cooldown_parsing);
	UNIT_DONE();
}
