/* Unit tests for core/clientkey.c (SPEC 2.9): the key's format, that only its
 * hash is stored, create/check/revoke/list against a real temporary
 * database, names, "does any key exist" for allow_anonymous=auto, and the
 * per-key minimum safety threshold. */
#include "../../core/clientkey.c"

#include <errno.h>
#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "config.h"
#include "testdb.h"
#include "unit.h"

static struct config cfg;
static sqlite3 *db;

static struct testdb tdb;

/* A new data_dir with its own database. */
static int fresh(void)
{
	memset(&cfg, 0, sizeof cfg);
	if (testdb_open(&tdb, &cfg, "keys") != 0)
		return -1;
	db = tdb.db;
	return 0;
}

static void done(void)
{
	testdb_close(&tdb);
	db = NULL;
}

static struct client spec(const char *name)
{
	struct client c;
	clientkey_clear(&c);
	snprintf(c.name, sizeof c.name, "%s", name);
	return c;
}

/* Creates a key or fails the test; returns 0 on success. */
static int make(const char *name, long rpm, long daily, int admin, int min_safety,
		char key[CLIENTKEY_LEN + 1])
{
	struct client c = spec(name);
	char err[256];
	c.rpm = rpm;
	c.daily_images = daily;
	c.admin = admin;
	c.min_safety = min_safety;
	if (clientkey_create(db, &c, key, err, sizeof err) != 0) {
		fprintf(stderr, "  create %s: %s\n", name, err);
		unit_cur_failed = 1;
		return -1;
	}
	return 0;
}

/* A text column of the key's row, or "" */
static void column(const char *key_id, const char *col_sql, char *out, size_t len)
{
	sqlite3_stmt *st;
	out[0] = '\0';
	if (sqlite3_prepare_v2(db, col_sql, -1, &st, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_text(st, 1, key_id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		snprintf(out, len, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
}

TEST(key_format)
{
	if (fresh() != 0) {
		CHECK(0);
		return;
	}
	char k1[CLIENTKEY_LEN + 1], k2[CLIENTKEY_LEN + 1];
	if (make("app-one", 0, 0, 0, -1, k1) || make("app-two", 0, 0, 0, -1, k2)) {
		done();
		return;
	}
	CHECK_INT(strlen(k1), 60);
	CHECK(strncmp(k1, "igw_", 4) == 0);
	CHECK(is_lower_hex(k1 + 4, 12));
	CHECK(k1[16] == '_');
	CHECK(is_b64url(k1 + 17, 43));
	CHECK(!strchr(k1, '='));
	CHECK(clientkey_well_formed(k1));
	CHECK(strcmp(k1, k2) != 0);
	CHECK(strncmp(k1, k2, 16) != 0); /* distinct key ids */
	/* the secret part is 32 bytes: 43 base64url characters decode to 32 */
	struct buf b = BUF_INIT;
	char std[48];
	for (int i = 0; i < 43; i++)
		std[i] = k1[17 + i] == '-' ? '+' : k1[17 + i] == '_' ? '/' : k1[17 + i];
	std[43] = '=';
	CHECK_INT(b64_decode(&b, std, 44), 0);
	CHECK_INT(b.len, 32);
	buf_free(&b);
	done();
}

TEST(only_the_hash_is_stored)
{
	if (fresh() != 0) {
		CHECK(0);
		return;
	}
	char key[CLIENTKEY_LEN + 1];
	if (make("hashed", 10, 0, 0, -1, key)) {
		done();
		return;
	}
	char id[13], hash[65], want[65];
	memcpy(id, key + 4, 12);
	id[12] = '\0';
	column(id, "SELECT key_hash FROM client_keys WHERE key_id = ?", hash, sizeof hash);
	unsigned char d[32];
	hash_sha256(key, strlen(key), d);
	hash_hex(d, 32, want);
	CHECK_STR(hash, want);
	/* the secret appears in no column of any row */
	sqlite3_stmt *st;
	int found = 0, nrows = 0;
	CHECK(sqlite3_prepare_v2(db, "SELECT * FROM client_keys", -1, &st, NULL) == SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		nrows++;
		for (int i = 0; i < sqlite3_column_count(st); i++) {
			const unsigned char *v = sqlite3_column_text(st, i);
			if (v &&
			    (strstr((const char *)v, key + 17) || strstr((const char *)v, key)))
				found = 1;
		}
	}
	sqlite3_finalize(st);
	CHECK_INT(nrows, 1);
	CHECK(!found);
	done();
}

TEST(create_then_check)
{
	if (fresh() != 0) {
		CHECK(0);
		return;
	}
	char key[CLIENTKEY_LEN + 1];
	if (make("web-app", 12, 50, 1, SAFETY_MEDIUM, key)) {
		done();
		return;
	}
	struct client c;
	CHECK_INT(clientkey_check(db, key, &c), CLIENTKEY_FOUND);
	CHECK(c.id > 0);
	CHECK_STR(c.name, "web-app");
	CHECK(strncmp(c.key_id, key + 4, 12) == 0 && strlen(c.key_id) == 12);
	CHECK_INT(c.rpm, 12);
	CHECK_INT(c.daily_images, 50);
	CHECK_INT(c.admin, 1);
	CHECK_INT(c.min_safety, SAFETY_MEDIUM);
	CHECK_INT(c.revoked, 0);
	CHECK(c.created > 0);
	CHECK(c.last_used >= c.created); /* the first use is recorded */
	char used[32];
	column(c.key_id, "SELECT last_used FROM client_keys WHERE key_id = ?", used, sizeof used);
	CHECK(atoll(used) == c.last_used);

	/* no limits given: stored as none */
	char k2[CLIENTKEY_LEN + 1];
	if (make("plain", 0, 0, 0, -1, k2) == 0) {
		CHECK_INT(clientkey_check(db, k2, &c), CLIENTKEY_FOUND);
		CHECK_INT(c.rpm, 0);
		CHECK_INT(c.daily_images, 0);
		CHECK_INT(c.admin, 0);
		CHECK_INT(c.min_safety, -1);
		column(c.key_id, "SELECT coalesce(rpm, 'null') FROM client_keys WHERE key_id = ?",
		       used, sizeof used);
		CHECK_STR(used, "null");
	}
	done();
}

TEST(wrong_and_malformed_keys_are_not_found)
{
	if (fresh() != 0) {
		CHECK(0);
		return;
	}
	char key[CLIENTKEY_LEN + 1], bad[CLIENTKEY_LEN + 8];
	if (make("target", 0, 0, 0, -1, key)) {
		done();
		return;
	}
	struct client c;
	/* the right key_id with another secret */
	memcpy(bad, key, sizeof key);
	bad[40] = bad[40] == 'A' ? 'B' : 'A';
	CHECK_INT(clientkey_check(db, bad, &c), CLIENTKEY_NOT_FOUND);
	CHECK_INT(c.id, 0); /* and nothing of the row leaks into c */
	CHECK_STR(c.name, "");
	/* an unknown key_id */
	memcpy(bad, key, sizeof key);
	bad[5] = bad[5] == '0' ? '1' : '0';
	CHECK_INT(clientkey_check(db, bad, &c), CLIENTKEY_NOT_FOUND);
	/* shapes that are not keys */
	const char *shapes[] = {"", "igw_", "Bearer x", "adm-secret-key", NULL};
	for (int i = 0; shapes[i]; i++)
		CHECK_INT(clientkey_check(db, shapes[i], &c), CLIENTKEY_NOT_FOUND);
	memcpy(bad, key, sizeof key);
	bad[4] = 'A'; /* the id is lower-case hex */
	CHECK_INT(clientkey_check(db, bad, &c), CLIENTKEY_NOT_FOUND);
	memcpy(bad, key, sizeof key);
	bad[59] = '=';
	CHECK_INT(clientkey_check(db, bad, &c), CLIENTKEY_NOT_FOUND);
	snprintf(bad, sizeof bad, "%s=", key); /* padding: too long */
	CHECK_INT(clientkey_check(db, bad, &c), CLIENTKEY_NOT_FOUND);
	snprintf(bad, sizeof bad, "%.59s", key); /* too short */
	CHECK_INT(clientkey_check(db, bad, &c), CLIENTKEY_NOT_FOUND);
	memcpy(bad, key, sizeof key);
	bad[0] = 'I';
	CHECK_INT(clientkey_check(db, bad, &c), CLIENTKEY_NOT_FOUND);
	/* the real one still works; without a database it cannot be checked */
	CHECK_INT(clientkey_check(db, key, &c), CLIENTKEY_FOUND);
	CHECK_INT(clientkey_check(NULL, key, &c), CLIENTKEY_ERROR);
	CHECK_INT(clientkey_check(NULL, "nonsense", &c), CLIENTKEY_NOT_FOUND);
	done();
}

TEST(revoke_by_name_key_id_or_key)
{
	if (fresh() != 0) {
		CHECK(0);
		return;
	}
	char a[CLIENTKEY_LEN + 1], b[CLIENTKEY_LEN + 1], k[CLIENTKEY_LEN + 1];
	if (make("alpha", 0, 0, 0, -1, a) || make("beta", 0, 0, 0, -1, b) ||
	    make("gamma", 0, 0, 0, -1, k)) {
		done();
		return;
	}
	struct client c;
	CHECK_INT(clientkey_revoke(db, "alpha", &c), CLIENTKEY_FOUND);
	CHECK_STR(c.name, "alpha");
	CHECK_INT(c.revoked, 1);
	CHECK_INT(clientkey_check(db, a, &c), CLIENTKEY_REVOKED);
	CHECK_INT(clientkey_revoke(db, "alpha", &c), CLIENTKEY_REVOKED);
	/* by key_id */
	char id[13];
	memcpy(id, b + 4, 12);
	id[12] = '\0';
	CHECK_INT(clientkey_revoke(db, id, &c), CLIENTKEY_FOUND);
	CHECK_STR(c.name, "beta");
	CHECK_INT(clientkey_check(db, b, &c), CLIENTKEY_REVOKED);
	/* by the whole key */
	CHECK_INT(clientkey_revoke(db, k, NULL), CLIENTKEY_FOUND);
	CHECK_INT(clientkey_check(db, k, &c), CLIENTKEY_REVOKED);
	/* a revoked key with a wrong secret is simply not found */
	k[40] = k[40] == 'A' ? 'B' : 'A';
	CHECK_INT(clientkey_check(db, k, &c), CLIENTKEY_NOT_FOUND);
	CHECK_INT(clientkey_revoke(db, "nobody", &c), CLIENTKEY_NOT_FOUND);
	CHECK_INT(clientkey_revoke(db, "", &c), CLIENTKEY_NOT_FOUND);
	done();
}

static void count_row(const struct client *c, void *arg)
{
	char *names = arg;
	strcat(names, c->name);
	strcat(names, c->revoked ? "(r) " : " ");
}

TEST(list_and_any)
{
	if (fresh() != 0) {
		CHECK(0);
		return;
	}
	char names[256] = "";
	CHECK_INT(clientkey_list(db, count_row, names), 0);
	CHECK_INT(clientkey_any(db, 0), 0);
	CHECK_INT(clientkey_any(db, 1), 0);
	char k1[CLIENTKEY_LEN + 1], k2[CLIENTKEY_LEN + 1];
	if (make("user", 5, 0, 0, -1, k1)) {
		done();
		return;
	}
	CHECK_INT(clientkey_any(db, 0), 1);
	CHECK_INT(clientkey_any(db, 1), 0);
	if (make("ops", 0, 0, 1, -1, k2)) {
		done();
		return;
	}
	CHECK_INT(clientkey_any(db, 1), 1);
	CHECK_INT(clientkey_revoke(db, "ops", NULL), CLIENTKEY_FOUND);
	CHECK_INT(clientkey_any(db, 1), 0);
	CHECK_INT(clientkey_any(db, 0), 1);
	CHECK_INT(clientkey_list(db, count_row, names), 2);
	CHECK_STR(names, "user ops(r) ");
	CHECK_INT(clientkey_revoke(db, "user", NULL), CLIENTKEY_FOUND);
	CHECK_INT(clientkey_any(db, 0), 0); /* only revoked keys: as if none */
	CHECK_INT(clientkey_any(NULL, 0), -1);
	done();
}

TEST(names)
{
	if (fresh() != 0) {
		CHECK(0);
		return;
	}
	char key[CLIENTKEY_LEN + 1], err[256];
	struct client c = spec("dup");
	CHECK_INT(clientkey_create(db, &c, key, err, sizeof err), 0);
	CHECK_INT(clientkey_create(db, &c, key, err, sizeof err), -1);
	CHECK(strstr(err, "already exists") != NULL);
	CHECK_STR(key, ""); /* no key handed out on failure */
	/* revoked keys keep their name */
	CHECK_INT(clientkey_revoke(db, "dup", NULL), CLIENTKEY_FOUND);
	CHECK_INT(clientkey_create(db, &c, key, err, sizeof err), -1);
	const char *bad[] = {"",	  "has space", "semi;colon", "abcdef012345", "ABCDEF012345",
			     "tab\there", "new\nline", NULL};
	for (int i = 0; bad[i]; i++) {
		c = spec(bad[i]);
		err[0] = '\0';
		CHECK_INT(clientkey_create(db, &c, key, err, sizeof err), -1);
		CHECK(err[0] != '\0');
	}
	const char *good[] = {"a",    "mobile-app_2", "alice@example.org",
			      "v1.2", "abcdef01234",  NULL};
	for (int i = 0; good[i]; i++) {
		c = spec(good[i]);
		CHECK_INT(clientkey_create(db, &c, key, err, sizeof err), 0);
	}
	c = spec("x");
	c.rpm = -1;
	CHECK_INT(clientkey_create(db, &c, key, err, sizeof err), -1);
	done();
}

TEST(min_safety_raises_never_lowers)
{
	struct client c;
	clientkey_clear(&c);
	/* no minimum: the request's value passes untouched, even "not given" */
	CHECK_INT(clientkey_safety(&c, -1, "HIGH"), -1);
	CHECK_INT(clientkey_safety(&c, SAFETY_LOW, "HIGH"), SAFETY_LOW);
	c.min_safety = SAFETY_MEDIUM;
	CHECK_INT(clientkey_safety(&c, SAFETY_OFF, "OFF"), SAFETY_MEDIUM);
	CHECK_INT(clientkey_safety(&c, SAFETY_LOW, "HIGH"), SAFETY_MEDIUM);
	CHECK_INT(clientkey_safety(&c, SAFETY_MEDIUM, "OFF"), SAFETY_MEDIUM);
	CHECK_INT(clientkey_safety(&c, SAFETY_HIGH, "OFF"), SAFETY_HIGH); /* may raise */
	/* not given: the configured level counts, and is kept when it is higher */
	CHECK_INT(clientkey_safety(&c, -1, "OFF"), SAFETY_MEDIUM);
	CHECK_INT(clientkey_safety(&c, -1, "low"), SAFETY_MEDIUM);
	CHECK_INT(clientkey_safety(&c, -1, "HIGH"), -1);
	CHECK_INT(clientkey_safety(&c, -1, "MEDIUM"), -1);
	CHECK_INT(clientkey_safety(&c, -1, ""), SAFETY_MEDIUM);
	CHECK_INT(clientkey_safety(&c, -1, NULL), SAFETY_MEDIUM);
}

int main(void)
{
	RUN(key_format);
	RUN(only_the_hash_is_stored);
	RUN(create_then_check);
	RUN(wrong_and_malformed_keys_are_not_found);
	RUN(revoke_by_name_key_id_or_key);
	RUN(list_and_any);
	RUN(names);
	RUN(min_safety_raises_never_lowers);
	UNIT_DONE();
}
