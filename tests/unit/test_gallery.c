/* Unit tests for core/gallery.c and the blob rules it shares with
 * core/cache.c (SPEC 2.7, 5): cursor pagination newest first and by owner;
 * what is not recorded (gallery off, no-store); cache eviction never deleting
 * a blob a gallery image uses, nor counting it against the cap; deleting an
 * entry keeping blobs another entry or a cache row uses; the cache turned off;
 * gallery_max_entries. */
#include "../../core/gallery.c"

#include <stdarg.h>
#include <time.h>
#include <unistd.h>

#include "b64.h"
#include "genreq.h"
#include "plan.h"
#include "render.h"
#include "testdb.h"
#include "unit.h"

static struct config cfg;
static struct testdb tdb;
static sqlite3 *db;

static int fresh(void)
{
	memset(&cfg, 0, sizeof cfg);
	cfg.default_image_size = (char *)"2K";
	cfg.safety_threshold = (char *)"OFF";
	cfg.default_model = (char *)"";
	cfg.max_prompt_chars = 8000;
	cfg.max_n = 10;
	cfg.cache_backend = (char *)"filesystem";
	cfg.cache_enabled = cfg.cache_on = 1;
	cfg.cache_ttl = cfg.cache_ttl_seconds = 3600;
	cfg.cache_max_size_mb = 1000;
	cfg.price_table = (char *)"";
	cfg.gallery_enabled = 1;
	cfg.gallery_max_entries = 0;
	cfg.job_retention_days = 7;
	if (testdb_open(&tdb, &cfg, "gallery") != 0)
		return -1;
	db = tdb.db;
	return 0;
}

static void done(void)
{
	testdb_close(&tdb);
	db = NULL;
}

static long long sql_int(const char *sql)
{
	sqlite3_stmt *st;
	long long v = -1;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void sql_exec(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sql_exec(const char *fmt, ...)
{
	char sql[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(sql, sizeof sql, fmt, ap);
	va_end(ap);
	CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
}

/* n bytes that sniff as PNG (signature, then noise that does not compress). */
static void big(struct buf *out, size_t n, unsigned seed)
{
	static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
	unsigned x = seed * 2654435761u + 1;
	buf_reset(out);
	buf_append(out, sig, sizeof sig);
	buf_grow(out, n);
	while (out->len < n) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		out->data[out->len++] = (char)(x >> 11);
	}
	out->data[out->len] = '\0';
}

/* One request's image as produce_run leaves it: plan, key, the bytes as
 * base64, and (after store) the cache entry. */
struct shot {
	struct gen_req r;
	struct gen_plan p;
	struct produce pr;
	struct buf bytes, b64;
};

static void shot_make(struct shot *s, const char *prompt, size_t size, unsigned seed)
{
	struct img_error e;
	char json[256];
	memset(s, 0, sizeof *s);
	snprintf(json, sizeof json, "{\"prompt\":\"%s\",\"model\":\"local-preview\"}", prompt);
	CHECK(genreq_parse_json(&cfg, json, strlen(json), &s->r, &e) == IMG_OK);
	CHECK(plan_build(&cfg, &s->r, 0, &s->p, &e) == IMG_OK);
	if (size) {
		big(&s->bytes, size, seed);
	} else {
		unsigned char sd[32] = {(unsigned char)seed, (unsigned char)(seed >> 8)};
		render_png(&s->bytes, sd, 8, 8, NULL);
	}
	b64_encode(&s->b64, s->bytes.data, s->bytes.len);
	s->pr.plan = s->p; /* shared, freed once with s->p */
	s->pr.n = 1;
	s->pr.succeeded = 1;
	s->pr.mode = PRODUCE_CACHE_USE;
	s->pr.items[0].b64 = s->b64.data;
	s->pr.items[0].b64_len = s->b64.len;
	cache_key_build(&s->p, &s->r, NULL, 0, &s->pr.items[0].key, NULL);
}

/* Stores the shot in the cache, as produce_settle would. */
static void shot_store(struct shot *s)
{
	struct produce_item *it = &s->pr.items[0];
	CHECK_INT(cache_store(&cfg, db, &it->key, &s->p, s->bytes.data, s->bytes.len, &it->entry),
		  0);
	it->stored = 1;
}

static void shot_free(struct shot *s)
{
	plan_free(&s->p);
	genreq_free(&s->r);
	buf_free(&s->bytes);
	buf_free(&s->b64);
}

static int file_exists(const char *blob)
{
	char path[4096];
	return cache_blob_path(&cfg, blob, "png", path, sizeof path) == 0 &&
	       access(path, F_OK) == 0;
}

static void add(struct shot *s, const char *owner, char id[GALLERY_ID_MAX])
{
	CHECK_INT(gallery_add_produce(&cfg, db, owner, "generation", "a prompt", &s->pr, id), 1);
}

/* ---- pagination ----------------------------------------------------------------- */

TEST(cursor_pages_newest_first_by_owner)
{
	if (fresh() != 0)
		return;
	struct shot s;
	shot_make(&s, "pages", 0, 1);
	shot_store(&s);
	char ids[25][GALLERY_ID_MAX];
	for (int i = 0; i < 25; i++) {
		add(&s, i % 5 == 0 ? "key:7" : "anon", ids[i]);
		struct timespec nap = {0, 2 * 1000000L};
		nanosleep(&nap, NULL); /* ids of later milliseconds sort later */
	}
	/* Everything, 10 at a time. */
	char before[GALLERY_ID_MAX] = "", last[GALLERY_ID_MAX] = "~";
	int total = 0, pages = 0, more = 1;
	while (more) {
		struct gallery_entry *list;
		int n = gallery_list(db, NULL, before, 10, &list, &more);
		CHECK(n >= 0);
		pages++;
		CHECK_INT(n, pages < 3 ? 10 : 5);
		CHECK_INT(more, pages < 3);
		for (int i = 0; i < n; i++) {
			CHECK(strcmp(list[i].id, last) < 0); /* strictly older than the last */
			snprintf(last, sizeof last, "%s", list[i].id);
			CHECK_INT(list[i].nimages, 1);
			CHECK_STR(list[i].images[0].image.blob, s.pr.items[0].entry.blob);
			CHECK_STR(list[i].prompt, "a prompt");
		}
		total += n;
		if (n > 0)
			snprintf(before, sizeof before, "%s", list[n - 1].id);
		gallery_entries_free(list, n);
		if (pages > 5)
			break;
	}
	CHECK_INT(total, 25);
	CHECK_INT(pages, 3);
	/* The newest came first: the last page ends with the first made. */
	CHECK_STR(last, ids[0]);
	/* One owner sees its own five. */
	struct gallery_entry *list;
	int n = gallery_list(db, "key:7", NULL, 100, &list, &more);
	CHECK_INT(n, 5);
	CHECK_INT(more, 0);
	for (int i = 0; i < n; i++)
		CHECK_STR(list[i].owner, "key:7");
	CHECK_STR(list[0].id, ids[20]);
	gallery_entries_free(list, n);
	/* A cursor from the middle: only older entries. */
	n = gallery_list(db, NULL, ids[3], 100, &list, &more);
	CHECK_INT(n, 3);
	gallery_entries_free(list, n);
	n = gallery_list(db, NULL, ids[0], 100, &list, &more);
	CHECK_INT(n, 0);
	CHECK_INT(more, 0);
	gallery_entries_free(list, n);
	shot_free(&s);
	done();
}

TEST(detail_and_what_is_not_recorded)
{
	if (fresh() != 0)
		return;
	struct shot s;
	shot_make(&s, "kept", 0, 2);
	char id[GALLERY_ID_MAX];
	add(&s, "admin", id);
	struct gallery_entry e;
	CHECK_INT(gallery_get(db, id, &e), 1);
	CHECK_INT(e.nimages, 1);
	CHECK_STR(e.source, "generation");
	CHECK_STR(e.images[0].model, "local-preview");
	CHECK_STR(e.images[0].aspect_ratio, "1:1");
	CHECK_INT(e.images[0].image.width, 8);
	CHECK_INT(e.images[0].image.bytes, (long)s.bytes.len);
	CHECK_STR(e.safety, "OFF");
	gallery_entry_free(&e);
	CHECK_INT(gallery_get(db, "gal_01ARYZ6S410000000000000000", &e), 0);
	/* no-store, the gallery off, nothing made: no entry. */
	s.pr.mode = PRODUCE_CACHE_NO_STORE;
	CHECK_INT(gallery_add_produce(&cfg, db, "anon", "generation", "x", &s.pr, NULL), 0);
	s.pr.mode = PRODUCE_CACHE_REFRESH;
	cfg.gallery_enabled = 0;
	CHECK_INT(gallery_add_produce(&cfg, db, "anon", "generation", "x", &s.pr, NULL), 0);
	cfg.gallery_enabled = 1;
	s.pr.succeeded = 0;
	CHECK_INT(gallery_add_produce(&cfg, db, "anon", "generation", "x", &s.pr, NULL), 0);
	CHECK_INT(sql_int("SELECT count(*) FROM gallery_entries"), 1);
	shot_free(&s);
	done();
}

TEST(repeated_hits_are_not_copied)
{
	if (fresh() != 0)
		return;
	struct shot s;
	shot_make(&s, "again", 0, 3);
	shot_store(&s);
	/* As produce_run leaves a request answered from the cache. */
	s.pr.items[0].cached = 1;
	s.pr.hits = 1;
	add(&s, "key:1", NULL); /* not in key:1's gallery yet: recorded */
	CHECK_INT(gallery_add_produce(&cfg, db, "key:1", "generation", "p", &s.pr, NULL), 0);
	add(&s, "key:2", NULL); /* another owner has it, this one not */
	/* A request with a fresh image is recorded, whatever the others. */
	s.pr.items[0].cached = 0;
	s.pr.hits = 0;
	add(&s, "key:1", NULL);
	CHECK_INT(sql_int("SELECT count(*) FROM gallery_entries"), 3);
	shot_free(&s);
	done();
}

/* ---- blob rules ----------------------------------------------------------------- */

TEST(eviction_keeps_gallery_blobs_and_does_not_count_them)
{
	if (fresh() != 0)
		return;
	cfg.cache_max_size_mb = 1; /* 90 %: 943 718 bytes */
	struct shot a, b, c, d;
	shot_make(&a, "a", 400000, 11);
	shot_make(&b, "b", 400000, 12);
	shot_make(&c, "c", 400000, 13);
	shot_make(&d, "d", 400000, 14);
	shot_store(&a);
	char gid[GALLERY_ID_MAX];
	add(&a, "anon", gid); /* the gallery keeps a */
	shot_store(&b);
	shot_store(&c);
	/* Three 400 kB blobs on disk, but the cache's own are two: no eviction. */
	CHECK_INT(sql_int("SELECT count(*) FROM cache_entries"), 3);
	CHECK_INT(db_counter_get(db, "cache_evictions"), 0);
	sql_exec("UPDATE cache_entries SET last_access = 1 WHERE blob = '%s'",
		 a.pr.items[0].entry.blob);
	sql_exec("UPDATE cache_entries SET last_access = 2 WHERE blob = '%s'",
		 b.pr.items[0].entry.blob);
	sql_exec("UPDATE cache_entries SET last_access = 3 WHERE blob = '%s'",
		 c.pr.items[0].entry.blob);
	/* d crosses the cap: a's entry (oldest) goes, freeing nothing, then b's. */
	shot_store(&d);
	CHECK_INT(sql_int("SELECT count(*) FROM cache_entries"), 2);
	CHECK(file_exists(a.pr.items[0].entry.blob)); /* the gallery's */
	CHECK(!file_exists(b.pr.items[0].entry.blob));
	CHECK(file_exists(c.pr.items[0].entry.blob));
	CHECK(file_exists(d.pr.items[0].entry.blob));
	/* The gallery still serves a; once deleted, a has no reference left. */
	struct gallery_entry e;
	CHECK_INT(gallery_get(db, gid, &e), 1);
	CHECK_STR(e.images[0].image.blob, a.pr.items[0].entry.blob);
	gallery_entry_free(&e);
	CHECK_INT(gallery_delete(&cfg, db, gid, NULL), 1);
	CHECK(!file_exists(a.pr.items[0].entry.blob));
	CHECK_INT(sql_int("SELECT count(*) FROM cache_blobs"), 2);
	shot_free(&a);
	shot_free(&b);
	shot_free(&c);
	shot_free(&d);
	done();
}

TEST(delete_keeps_blobs_others_use)
{
	if (fresh() != 0)
		return;
	struct shot s;
	shot_make(&s, "shared", 0, 21);
	shot_store(&s);
	const char *blob = s.pr.items[0].entry.blob;
	char one[GALLERY_ID_MAX], two[GALLERY_ID_MAX];
	add(&s, "anon", one);
	add(&s, "anon", two);
	CHECK_INT(sql_int("SELECT count(*) FROM cache_blobs"), 1);
	CHECK_INT(gallery_delete(&cfg, db, one, NULL), 1);
	CHECK(file_exists(blob)); /* the cache entry and the other entry use it */
	CHECK_INT(gallery_delete(&cfg, db, one, NULL), 0);
	CHECK_INT(cache_clear(&cfg, db), 1);
	CHECK(file_exists(blob)); /* the other entry still does */
	CHECK_INT(cache_purge(&cfg, db), 0);
	CHECK(file_exists(blob));
	CHECK_INT(gallery_delete(&cfg, db, two, NULL), 1);
	CHECK(!file_exists(blob));
	CHECK_INT(sql_int("SELECT count(*) FROM cache_blobs"), 0);
	shot_free(&s);
	done();
}

/* DELETE /v1/gallery/{id}: a caller deletes its own entries only (the
 * owner is part of the delete); NULL (an admin, the CLI) deletes any. */
TEST(delete_by_owner_only)
{
	if (fresh() != 0)
		return;
	struct shot s;
	shot_make(&s, "owned", 0, 22);
	char mine[GALLERY_ID_MAX], theirs[GALLERY_ID_MAX];
	add(&s, "key:1", mine);
	add(&s, "key:2", theirs);
	CHECK_INT(gallery_delete(&cfg, db, theirs, "key:1"), 0);
	CHECK_INT(gallery_delete(&cfg, db, theirs, "anon"), 0);
	CHECK_INT(sql_int("SELECT count(*) FROM gallery_entries"), 2);
	CHECK_INT(gallery_delete(&cfg, db, mine, "key:1"), 1);
	CHECK_INT(gallery_delete(&cfg, db, mine, "key:1"), 0);
	/* The statement is kept between calls: an owner bound before must not
	 * stick to a call without one. */
	CHECK_INT(gallery_delete(&cfg, db, theirs, NULL), 1);
	CHECK_INT(sql_int("SELECT count(*) FROM gallery_entries"), 0);
	CHECK_INT(sql_int("SELECT count(*) FROM gallery_images"), 0);
	shot_free(&s);
	done();
}

TEST(entry_survives_its_cache_entry_vanishing_before_it_is_recorded)
{
	if (fresh() != 0)
		return;
	struct shot s;
	shot_make(&s, "raced", 0, 31);
	shot_store(&s);
	/* Evicted between the store and the gallery's record: the bytes in
	 * hand are written again. */
	CHECK_INT(cache_clear(&cfg, db), 1);
	CHECK(!file_exists(s.pr.items[0].entry.blob));
	char id[GALLERY_ID_MAX];
	add(&s, "anon", id);
	CHECK(file_exists(s.pr.items[0].entry.blob));
	CHECK_INT(sql_int("SELECT count(*) FROM gallery_images"), 1);
	shot_free(&s);
	done();
}

TEST(cache_off_gallery_writes_its_own_blob)
{
	if (fresh() != 0)
		return;
	cfg.cache_on = 0;
	struct shot s;
	shot_make(&s, "uncached", 0, 41);
	char id[GALLERY_ID_MAX];
	add(&s, "anon", id);
	struct gallery_entry e;
	CHECK_INT(gallery_get(db, id, &e), 1);
	CHECK(file_exists(e.images[0].image.blob));
	CHECK_INT(e.images[0].image.width, 8);
	CHECK_INT(sql_int("SELECT count(*) FROM cache_entries"), 0);
	/* cache purge (cron) leaves a blob the gallery names. */
	cfg.cache_on = 1;
	cache_purge(&cfg, db);
	CHECK(file_exists(e.images[0].image.blob));
	gallery_entry_free(&e);
	shot_free(&s);
	done();
}

TEST(max_entries_drops_the_oldest)
{
	if (fresh() != 0)
		return;
	cfg.gallery_max_entries = 3;
	struct shot s[5];
	char ids[5][GALLERY_ID_MAX];
	for (int i = 0; i < 5; i++) {
		shot_make(&s[i], "many", 0, (unsigned)(50 + i));
		add(&s[i], "anon", ids[i]);
		struct timespec nap = {0, 2 * 1000000L};
		nanosleep(&nap, NULL); /* ids of later milliseconds sort later */
	}
	CHECK_INT(sql_int("SELECT count(*) FROM gallery_entries"), 3);
	struct gallery_entry e;
	CHECK_INT(gallery_get(db, ids[1], &e), 0);
	CHECK_INT(gallery_get(db, ids[2], &e), 1);
	gallery_entry_free(&e);
	/* The dropped entries' blobs (nothing else used them) went too. */
	CHECK_INT(sql_int("SELECT count(*) FROM cache_blobs"), 3);
	cfg.gallery_max_entries = 1;
	CHECK_INT(gallery_prune(&cfg, db, 0), 2);
	CHECK_INT(sql_int("SELECT count(*) FROM gallery_entries"), 1);
	for (int i = 0; i < 5; i++)
		shot_free(&s[i]);
	done();
}

TEST(max_size_drops_the_oldest_and_stats_tell_kept_from_cached)
{
	if (fresh() != 0)
		return;
	cfg.gallery_max_size_mb = 1;
	struct shot s[4];
	char ids[4][GALLERY_ID_MAX];
	for (int i = 0; i < 4; i++) {
		shot_make(&s[i], "heavy", 400000, (unsigned)(60 + i));
		if (i == 3)
			shot_store(&s[i]); /* the last is a cache entry too */
		add(&s[i], "anon", ids[i]);
		struct timespec nap = {0, 2 * 1000000L};
		nanosleep(&nap, NULL);
	}
	/* 1 MiB holds two 400 kB images: the two newest entries stay. */
	CHECK_INT(sql_int("SELECT count(*) FROM gallery_entries"), 2);
	struct gallery_entry e;
	CHECK_INT(gallery_get(db, ids[1], &e), 0);
	CHECK_INT(gallery_get(db, ids[2], &e), 1);
	gallery_entry_free(&e);
	CHECK_INT(sql_int("SELECT count(*) FROM cache_blobs"), 2);
	struct cache_stats st;
	CHECK_INT(cache_stats_get(&cfg, db, &st), 0);
	CHECK_INT(st.entries, 1);
	CHECK_INT(st.kept_blobs, 2);
	CHECK_INT(st.kept_bytes, 800000);
	CHECK_INT(st.blobs, 0); /* the cached one is the gallery's as well */
	CHECK_INT(st.bytes, 0);
	/* Its entry deleted, the cache's file counts as the cache's. */
	CHECK_INT(gallery_delete(&cfg, db, ids[3], NULL), 1);
	CHECK_INT(cache_stats_get(&cfg, db, &st), 0);
	CHECK_INT(st.blobs, 1);
	CHECK_INT(st.bytes, 400000);
	CHECK_INT(st.kept_blobs, 1);
	for (int i = 0; i < 4; i++)
		shot_free(&s[i]);
	done();
}

int main(void)
{
	RUN(cursor_pages_newest_first_by_owner);
	RUN(detail_and_what_is_not_recorded);
	RUN(repeated_hits_are_not_copied);
	RUN(eviction_keeps_gallery_blobs_and_does_not_count_them);
	RUN(delete_keeps_blobs_others_use);
	RUN(delete_by_owner_only);
	RUN(entry_survives_its_cache_entry_vanishing_before_it_is_recorded);
	RUN(cache_off_gallery_writes_its_own_blob);
	RUN(max_entries_drops_the_oldest);
	RUN(max_size_drops_the_oldest_and_stats_tell_kept_from_cached);
	UNIT_DONE();
}
