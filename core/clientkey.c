/* Client keys in the client_keys table: creation (the key is shown once and
 * only its SHA-256 kept), listing, revocation, and the check every keyed
 * request makes. */
#include "clientkey.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <sqlite3.h>

#include "b64.h"
#include "buf.h"
#include "db.h"
#include "hash.h"
#include "log.h"
#include "safety.h"

#define KEY_PREFIX "igw_"
/* last_used is refreshed at most this often, so a busy key does not turn
 * every request into a write. */
#define TOUCH_EVERY 60

#define SQL_COLUMNS                                                                                \
	"SELECT id, name, key_id, key_hash, rpm, daily_images, admin, min_safety, revoked, "       \
	"created, last_used FROM client_keys "
enum {
	COL_ID,
	COL_NAME,
	COL_KEY_ID,
	COL_HASH,
	COL_RPM,
	COL_DAILY,
	COL_ADMIN,
	COL_SAFETY,
	COL_REVOKED,
	COL_CREATED,
	COL_LAST_USED
};

void clientkey_clear(struct client *c)
{
	memset(c, 0, sizeof *c);
	c->min_safety = -1;
}

static int is_lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static int is_b64url(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
			return 0;
	return 1;
}

int clientkey_well_formed(const char *s)
{
	const size_t id_at = sizeof KEY_PREFIX - 1, secret_at = id_at + CLIENTKEY_ID_LEN + 1;
	return s && strlen(s) == CLIENTKEY_LEN && memcmp(s, KEY_PREFIX, id_at) == 0 &&
	       is_lower_hex(s + id_at, CLIENTKEY_ID_LEN) && s[secret_at - 1] == '_' &&
	       is_b64url(s + secret_at, CLIENTKEY_SECRET_LEN);
}

/* Names show in logs and on the command line: plain characters only, and
 * never the shape of a key_id, so `key revoke X` means one key. */
static int name_ok(const char *name, char *err, size_t err_len)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0 || n >= CLIENTKEY_NAME_MAX) {
		snprintf(err, err_len, "a key name has 1 to %d characters", CLIENTKEY_NAME_MAX - 1);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)name[i];
		if (!isalnum(ch) && !strchr("._-@", ch)) {
			snprintf(err, err_len,
				 "a key name may hold letters, digits and . _ - @ only (not '%c')",
				 isprint(ch) ? ch : '?');
			return 0;
		}
	}
	int hex = n == CLIENTKEY_ID_LEN;
	for (size_t i = 0; hex && i < n; i++)
		hex = isxdigit((unsigned char)name[i]) != 0;
	if (hex) {
		snprintf(err, err_len, "a key name may not look like a key id (12 hex digits)");
		return 0;
	}
	return 1;
}

static void key_hash(const char *key, char out[65])
{
	unsigned char d[32];
	hash_sha256(key, strlen(key), d);
	hash_hex(d, sizeof d, out);
}

static void row_read(sqlite3_stmt *st, struct client *c)
{
	clientkey_clear(c);
	c->id = sqlite3_column_int64(st, COL_ID);
	snprintf(c->name, sizeof c->name, "%s", (const char *)sqlite3_column_text(st, COL_NAME));
	snprintf(c->key_id, sizeof c->key_id, "%s",
		 (const char *)sqlite3_column_text(st, COL_KEY_ID));
	c->rpm = (long)sqlite3_column_int64(st, COL_RPM);
	c->daily_images = (long)sqlite3_column_int64(st, COL_DAILY);
	c->admin = sqlite3_column_int(st, COL_ADMIN) != 0;
	const unsigned char *ms = sqlite3_column_text(st, COL_SAFETY);
	c->min_safety = ms ? safety_parse((const char *)ms) : -1;
	c->revoked = sqlite3_column_int(st, COL_REVOKED) != 0;
	c->created = sqlite3_column_int64(st, COL_CREATED);
	c->last_used = sqlite3_column_int64(st, COL_LAST_USED);
}

static void bind_limit(sqlite3_stmt *st, const char *name, long v)
{
	if (v > 0)
		db_bind_int64(st, name, v);
	else
		sqlite3_bind_null(st, sqlite3_bind_parameter_index(st, name));
}

/* A fresh key: prefix, 6 random bytes as hex, 32 random bytes as base64url. */
static int key_make(char key[CLIENTKEY_LEN + 1])
{
	unsigned char id[CLIENTKEY_ID_LEN / 2], secret[32];
	if (hash_random(id, sizeof id) != 0 || hash_random(secret, sizeof secret) != 0)
		return -1;
	struct buf b = BUF_INIT;
	b64_encode(&b, secret, sizeof secret);
	size_t n = 0;
	for (size_t i = 0; i < b.len && b.data[i] != '='; i++)
		b.data[n++] = b.data[i] == '+' ? '-' : b.data[i] == '/' ? '_' : b.data[i];
	int ok = n == CLIENTKEY_SECRET_LEN;
	if (ok) {
		memcpy(key, KEY_PREFIX, sizeof KEY_PREFIX - 1);
		hash_hex(id, sizeof id, key + sizeof KEY_PREFIX - 1);
		key[sizeof KEY_PREFIX - 1 + CLIENTKEY_ID_LEN] = '_';
		memcpy(key + sizeof KEY_PREFIX + CLIENTKEY_ID_LEN, b.data, n);
		key[CLIENTKEY_LEN] = '\0';
	}
	OPENSSL_cleanse(secret, sizeof secret);
	OPENSSL_cleanse(b.data, b.len);
	buf_free(&b);
	return ok ? 0 : -1;
}

/* 1 when a row matches the name (or key_id), 0 when none, -1 on error. */
static int exists(sqlite3 *db, const char *sql, const char *value)
{
	sqlite3_stmt *st = db_stmt(db, sql);
	if (!st)
		return -1;
	db_bind_text(st, ":v", value);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int clientkey_create(sqlite3 *db, const struct client *spec, char key[CLIENTKEY_LEN + 1], char *err,
		     size_t err_len)
{
	key[0] = '\0';
	if (!name_ok(spec->name, err, err_len))
		return -1;
	if (spec->rpm < 0 || spec->daily_images < 0 || spec->min_safety > SAFETY_HIGH) {
		snprintf(err, err_len, "limits must be positive");
		return -1;
	}
	if (db_begin(db) != SQLITE_OK) {
		snprintf(err, err_len, "cannot lock the database: %s", sqlite3_errmsg(db));
		return -1;
	}
	int rc = exists(db, "SELECT 1 FROM client_keys WHERE name = :v", spec->name);
	if (rc != 0) {
		if (rc > 0)
			snprintf(err, err_len,
				 "a key named '%s' already exists (revoked keys keep their name)",
				 spec->name);
		else
			snprintf(err, err_len, "database error: %s", sqlite3_errmsg(db));
		goto fail;
	}
	/* key_id is 48 random bits: a clash is all but impossible, but cheap to rule out. */
	for (int tries = 0;; tries++) {
		if (tries == 5 || key_make(key) != 0) {
			snprintf(err, err_len, "cannot draw a unique random key");
			goto fail;
		}
		char id[CLIENTKEY_ID_LEN + 1];
		memcpy(id, key + sizeof KEY_PREFIX - 1, CLIENTKEY_ID_LEN);
		id[CLIENTKEY_ID_LEN] = '\0';
		rc = exists(db, "SELECT 1 FROM client_keys WHERE key_id = :v", id);
		if (rc == 0)
			break;
		if (rc < 0) {
			snprintf(err, err_len, "database error: %s", sqlite3_errmsg(db));
			goto fail;
		}
	}
	sqlite3_stmt *st = db_stmt(
		db, "INSERT INTO client_keys(name, key_id, key_hash, rpm, daily_images, admin, "
		    "min_safety, created) VALUES (:name, :key_id, :hash, :rpm, :daily, :admin, "
		    ":safety, :now)");
	if (!st) {
		snprintf(err, err_len, "database error: %s", sqlite3_errmsg(db));
		goto fail;
	}
	char id[CLIENTKEY_ID_LEN + 1], hash[65];
	memcpy(id, key + sizeof KEY_PREFIX - 1, CLIENTKEY_ID_LEN);
	id[CLIENTKEY_ID_LEN] = '\0';
	key_hash(key, hash);
	db_bind_text(st, ":name", spec->name);
	db_bind_text(st, ":key_id", id);
	db_bind_text(st, ":hash", hash);
	bind_limit(st, ":rpm", spec->rpm);
	bind_limit(st, ":daily", spec->daily_images);
	db_bind_int64(st, ":admin", spec->admin != 0);
	if (spec->min_safety >= 0)
		db_bind_text(st, ":safety", safety_name((enum safety_level)spec->min_safety));
	db_bind_int64(st, ":now", (long long)time(NULL));
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		snprintf(err, err_len, "database error: %s", sqlite3_errmsg(db));
		goto fail;
	}
	if (db_commit(db) != SQLITE_OK) {
		snprintf(err, err_len, "commit failed: %s", sqlite3_errmsg(db));
		goto fail;
	}
	return 0;
fail:
	db_rollback(db);
	OPENSSL_cleanse(key, CLIENTKEY_LEN + 1);
	return -1;
}

int clientkey_list(sqlite3 *db, void (*fn)(const struct client *c, void *arg), void *arg)
{
	sqlite3_stmt *st = db_stmt(db, SQL_COLUMNS "ORDER BY id");
	if (!st)
		return -1;
	int n = 0, rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct client c;
		row_read(st, &c);
		fn(&c, arg);
		n++;
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? n : -1;
}

enum clientkey_status clientkey_revoke(sqlite3 *db, const char *which, struct client *out)
{
	struct client c;
	char id[CLIENTKEY_ID_LEN + 1];
	if (clientkey_well_formed(which)) { /* the whole key: its key_id names it */
		memcpy(id, which + sizeof KEY_PREFIX - 1, CLIENTKEY_ID_LEN);
		id[CLIENTKEY_ID_LEN] = '\0';
		which = id;
	}
	if (db_begin(db) != SQLITE_OK)
		return CLIENTKEY_ERROR;
	sqlite3_stmt *st = db_stmt(db, SQL_COLUMNS "WHERE name = :v OR key_id = :v");
	if (!st)
		goto fail;
	db_bind_text(st, ":v", which);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		row_read(st, &c);
	sqlite3_reset(st);
	if (rc == SQLITE_DONE) {
		db_rollback(db);
		return CLIENTKEY_NOT_FOUND;
	}
	if (rc != SQLITE_ROW)
		goto fail;
	if (out)
		*out = c;
	if (c.revoked) {
		db_rollback(db);
		return CLIENTKEY_REVOKED;
	}
	st = db_stmt(db, "UPDATE client_keys SET revoked = 1 WHERE id = :id");
	if (!st)
		goto fail;
	db_bind_int64(st, ":id", c.id);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE || db_commit(db) != SQLITE_OK)
		goto fail;
	if (out)
		out->revoked = 1;
	return CLIENTKEY_FOUND;
fail:
	db_rollback(db);
	return CLIENTKEY_ERROR;
}

/* Records that the key was used, if that is news; never waits for a busy
 * database (the next request will try again). */
static void touch(sqlite3 *db, struct client *c, long long now)
{
	if (now - c->last_used < TOUCH_EVERY)
		return;
	db_set_patience(db, 0);
	if (db_begin(db) == SQLITE_OK) {
		sqlite3_stmt *st =
			db_stmt(db, "UPDATE client_keys SET last_used = :now WHERE id = :id");
		int rc = SQLITE_ERROR;
		if (st) {
			db_bind_int64(st, ":now", now);
			db_bind_int64(st, ":id", c->id);
			rc = sqlite3_step(st);
			sqlite3_reset(st);
		}
		if (rc == SQLITE_DONE && db_commit(db) == SQLITE_OK)
			c->last_used = now;
		else
			db_rollback(db);
	}
	db_set_patience(db, -1);
}

enum clientkey_status clientkey_check(sqlite3 *db, const char *presented, struct client *out)
{
	clientkey_clear(out);
	if (!clientkey_well_formed(presented))
		return CLIENTKEY_NOT_FOUND;
	if (!db)
		return CLIENTKEY_ERROR;
	char id[CLIENTKEY_ID_LEN + 1];
	memcpy(id, presented + sizeof KEY_PREFIX - 1, CLIENTKEY_ID_LEN);
	id[CLIENTKEY_ID_LEN] = '\0';
	sqlite3_stmt *st = db_stmt(db, SQL_COLUMNS "WHERE key_id = :v");
	if (!st)
		return CLIENTKEY_ERROR;
	db_bind_text(st, ":v", id);
	int rc = sqlite3_step(st);
	char stored[65] = "";
	struct client c;
	if (rc == SQLITE_ROW) {
		row_read(st, &c);
		const unsigned char *h = sqlite3_column_text(st, COL_HASH);
		snprintf(stored, sizeof stored, "%s", h ? (const char *)h : "");
	}
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return CLIENTKEY_NOT_FOUND;
	if (rc != SQLITE_ROW) {
		log_msg(LOG_WARN, "client keys: lookup failed: %s", sqlite3_errmsg(db));
		return CLIENTKEY_ERROR;
	}
	char got[65];
	key_hash(presented, got);
	if (strlen(stored) != 64 || CRYPTO_memcmp(got, stored, 64) != 0)
		return CLIENTKEY_NOT_FOUND;
	if (c.revoked)
		return CLIENTKEY_REVOKED;
	touch(db, &c, (long long)time(NULL));
	*out = c;
	return CLIENTKEY_FOUND;
}

int clientkey_any(sqlite3 *db, int admin_only)
{
	sqlite3_stmt *st =
		db ? db_stmt(db, "SELECT EXISTS (SELECT 1 FROM client_keys WHERE revoked = 0 "
				 "AND (:admin = 0 OR admin = 1))")
		   : NULL;
	if (!st)
		return -1;
	db_bind_int64(st, ":admin", admin_only != 0);
	int v = -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0) != 0;
	sqlite3_reset(st);
	return v;
}

int clientkey_safety(const struct client *c, int requested, const char *configured)
{
	if (c->min_safety < 0)
		return requested;
	int effective = requested >= 0 ? requested : configured ? safety_parse(configured) : -1;
	if (effective < 0)
		effective = SAFETY_OFF;
	return effective < c->min_safety ? c->min_safety : requested;
}
