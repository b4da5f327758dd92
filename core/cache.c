/* The response cache.  Index rows live in SQLite; image bytes live once per
 * distinct image in <cache_dir>/ab/cdef....ext, named by their SHA-256.  A
 * blob is written to a temp file, fsynced and renamed into place; whether the
 * final name is taken, and whether an orphan blob is unlinked, is decided
 * under the database write lock, so a store and a purge never race.  Reads
 * check length and hash and treat any mismatch as a miss. */
#include "cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "b64.h"
#include "config.h"
#include "db.h"
#include "genreq.h"
#include "hash.h"
#include "image.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "model.h"
#include "plan.h"
#include "safety.h"

#define KEY_VERSION "imagegw-cache-v1"

static const struct {
	const char *ext, *mime;
} exts[] = {{"png", "image/png"}, {"jpg", "image/jpeg"}, {"webp", "image/webp"}};

const char *cache_ext_mime(const char *ext)
{
	for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++)
		if (strcmp(exts[i].ext, ext) == 0)
			return exts[i].mime;
	return NULL;
}

static int is_hex64(const char *s)
{
	size_t i;
	for (i = 0; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return i == 64;
}

int cache_blob_path(const struct config *cfg, const char *hex, const char *ext, char *out,
		    size_t len)
{
	if (!is_hex64(hex) || !cache_ext_mime(ext))
		return -1;
	int n = snprintf(out, len, "%s/%.2s/%s.%s", cfg->cache_dir, hex, hex + 2, ext);
	return n > 0 && (size_t)n < len ? 0 : -1;
}

void cache_key_inputs(const struct gen_req *r, struct cache_inputs *in)
{
	int n = 0;
	for (int i = 0; i < r->ninputs && i < GEN_MAX_INPUTS; i++)
		in->list[n++] = r->inputs[i].sha256;
	in->mask[0] = '\0';
	if (r->mask) {
		snprintf(in->mask, sizeof in->mask, "mask:%s", r->mask->sha256);
		in->list[n++] = in->mask;
	}
	in->list[n] = NULL;
}

void cache_key_build(const struct gen_plan *p, const struct gen_req *r, const char *const *inputs,
		     int slot, struct cache_key *k, struct buf *canon)
{
	unsigned char d[32];
	char prompt_hex[65];
	hash_sha256(p->revised_prompt, strlen(p->revised_prompt), d);
	hash_hex(d, sizeof d, prompt_hex);

	struct buf b = BUF_INIT;
	buf_printf(&b, "%s\nprovider=%s\nupstream=%s\nimage_size=%s\naspect_ratio=%s\n",
		   KEY_VERSION, model_provider_name(p->model.provider),
		   p->model.provider == PROVIDER_LOCAL ? p->model.family : p->model.upstream,
		   p->image_size, p->aspect_ratio);
	if (p->upstream_size[0]) /* openai: 256x256 and 512x512 share ratio and class */
		buf_printf(&b, "size=%s\n", p->upstream_size);
	buf_printf(&b, "quality=%s\nstyle=%s\nsafety=%s\n", r->quality ? r->quality : "",
		   r->style ? r->style : "", safety_name(p->safety));
	if (r->has_seed)
		buf_printf(&b, "seed=%lld\n", r->seed);
	else
		buf_puts(&b, "seed=\n");
	buf_printf(&b, "prompt_sha256=%s\ninputs=", prompt_hex);
	for (int i = 0; inputs && inputs[i]; i++)
		buf_printf(&b, "%s%s", i ? "," : "", inputs[i]);
	buf_printf(&b, "\nslot=%d\n", slot);

	hash_sha256(b.data, b.len, d);
	hash_hex(d, sizeof d, k->hex);
	k->slot = slot;
	snprintf(k->label, sizeof k->label, "img:%s:%s:%s:%s", p->model.id,
		 r->quality ? r->quality : "-", r->style ? r->style : "-", p->prompt_hash);
	if (canon)
		buf_append(canon, b.data, b.len);
	buf_free(&b);
}

/* ---- counters and prices ------------------------------------------------ */

/* The price of one image of a model family at a size, from price_table
 * ("family:1K=0.134,2K=0.134;family2:..."); 0 when not listed. */
static double price_of(const struct config *cfg, const char *family, const char *size)
{
	const char *p = cfg->price_table;
	size_t fl = strlen(family);
	while (*p) {
		size_t seg = strcspn(p, ";");
		if (seg > fl && strncmp(p, family, fl) == 0 && p[fl] == ':') {
			const char *q = p + fl + 1, *end = p + seg;
			while (q < end) {
				size_t item = strcspn(q, ",;");
				if (item > 3 && strncmp(q, size, 2) == 0 && q[2] == '=')
					return strtod(q + 3, NULL);
				q += item + (q + item < end);
			}
			return 0;
		}
		p += seg + (p[seg] == ';');
	}
	return 0;
}

/* ---- removing entries and blobs ----------------------------------------- */

/* A blob is in use while a cache entry, a job result or a gallery image
 * names it (SPEC 2.4, 2.7): only the cache's own blobs count against
 * cache_max_size_mb, and only blobs nothing uses are deleted.  Most blobs
 * have a cache entry, so the first test settles most rows. */
#define BLOB_UNUSED                                                                                \
	"NOT EXISTS (SELECT 1 FROM cache_entries WHERE blob = cache_blobs.hash) AND "              \
	"NOT EXISTS (SELECT 1 FROM job_results WHERE blob = cache_blobs.hash) AND "                \
	"NOT EXISTS (SELECT 1 FROM gallery_images WHERE blob = cache_blobs.hash)"
/* The bytes of the blobs only the cache uses: all of them, less those a job
 * result or gallery image names (walked from those, not from every blob). */
#define BLOB_CACHE_BYTES                                                                           \
	"SELECT (SELECT coalesce(sum(bytes), 0) FROM cache_blobs) - (SELECT coalesce(sum(bytes), " \
	"0) FROM cache_blobs WHERE hash IN (SELECT blob FROM job_results WHERE blob IS NOT NULL "  \
	"UNION SELECT blob FROM gallery_images))"

/* Deletes blob rows nothing references and unlinks their files.  Runs
 * inside the caller's write transaction. */
static long drop_orphans(const struct config *cfg, sqlite3 *db)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT hash, ext FROM cache_blobs WHERE " BLOB_UNUSED);
	sqlite3_stmt *del = db_stmt(db, "DELETE FROM cache_blobs WHERE hash = :hash");
	if (!st || !del)
		return -1;
	long n = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		char path[4096];
		const char *hash = (const char *)sqlite3_column_text(st, 0);
		const char *ext = (const char *)sqlite3_column_text(st, 1);
		if (hash && ext && cache_blob_path(cfg, hash, ext, path, sizeof path) == 0)
			unlink(path);
		sqlite3_reset(del);
		db_bind_text(del, ":hash", hash);
		sqlite3_step(del);
		n++;
	}
	sqlite3_reset(st);
	sqlite3_reset(del);
	return n;
}

/* Removes one entry by key (within the caller's transaction). */
static void delete_entry(sqlite3 *db, const char *key)
{
	sqlite3_stmt *st = db_stmt(db, "DELETE FROM cache_entries WHERE key = :key");
	if (!st)
		return;
	db_bind_text(st, ":key", key);
	sqlite3_step(st);
	sqlite3_reset(st);
}

/* Drops an expired entry, and its blob if orphaned. */
static void drop_entry(const struct config *cfg, sqlite3 *db, const char *key)
{
	if (db_begin(db) != SQLITE_OK)
		return;
	delete_entry(db, key);
	drop_orphans(cfg, db);
	db_commit(db);
}

/* Drops a blob that failed its check: the file and every entry that uses it
 * (they all share the bad bytes). */
static void drop_blob(const struct config *cfg, sqlite3 *db, const char *hash, const char *ext)
{
	if (db_begin(db) != SQLITE_OK)
		return;
	sqlite3_stmt *st = db_stmt(db, "DELETE FROM cache_entries WHERE blob = :hash");
	if (st) {
		db_bind_text(st, ":hash", hash);
		sqlite3_step(st);
		sqlite3_reset(st);
	}
	char path[4096];
	if (cache_blob_path(cfg, hash, ext, path, sizeof path) == 0)
		unlink(path);
	drop_orphans(cfg, db);
	db_commit(db);
}

/* How long bookkeeping writes on the request path wait for a busy database
 * (the normal busy timeout is for work that must happen). */
#define BOOKKEEPING_PATIENCE_MS 200
#define STORE_PATIENCE_MS	1000

/* Counts a miss, best effort, and returns 0 (a miss).  A database too busy
 * to take the count (another process holding the write lock past
 * BOOKKEEPING_PATIENCE_MS, as a responder starting up may) loses the count,
 * not the cache: the image is still stored after the reply, with the
 * store's own patience. */
static int count_miss(sqlite3 *db)
{
	db_set_patience(db, BOOKKEEPING_PATIENCE_MS);
	int rc = db_counter_add(db, "cache_misses", 1);
	db_set_patience(db, -1);
	if (rc != 0)
		log_msg(LOG_WARN, "cache index busy (%s): this miss is not counted",
			sqlite3_errmsg(db));
	return 0;
}

/* ---- lookup --------------------------------------------------------------- */

/* Reads a blob file and checks its length and hash.  0, or -1 for a file
 * that is missing, short, long or altered. */
static int read_blob(const char *path, const char *hex, long bytes, struct buf *data)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct stat sb;
	int rc = -1;
	if (fstat(fd, &sb) != 0 || sb.st_size != bytes)
		goto out;
	if (!data) {
		rc = 0;
		goto out;
	}
	size_t start = data->len;
	buf_grow(data, (size_t)bytes);
	size_t got = 0;
	while (got < (size_t)bytes) {
		ssize_t r = read(fd, data->data + start + got, (size_t)bytes - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			goto out;
		got += (size_t)r;
	}
	unsigned char d[32];
	char h[65];
	hash_sha256(data->data + start, got, d);
	hash_hex(d, sizeof d, h);
	if (strcmp(h, hex) != 0) {
		data->len = start;
		data->data[start] = '\0';
		goto out;
	}
	data->len = start + got;
	data->data[data->len] = '\0';
	rc = 0;
out:
	close(fd);
	return rc;
}

static void copy_col(sqlite3_stmt *st, int col, char *out, size_t len)
{
	const unsigned char *v = sqlite3_column_text(st, col);
	snprintf(out, len, "%s", v ? (const char *)v : "");
}

static int lookup(const struct config *cfg, sqlite3 *db, const struct cache_key *k,
		  const struct gen_plan *p, struct buf *data, struct cache_entry *e)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT blob, ext, mime, bytes, width, height, created, "
				       "expires FROM cache_entries WHERE key = :key");
	if (!st)
		return -1;
	db_bind_text(st, ":key", k->hex);
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		if (rc != SQLITE_DONE) {
			log_msg(LOG_WARN, "cache lookup failed (%s): going on uncached",
				sqlite3_errmsg(db));
			return -1;
		}
		return count_miss(db);
	}
	copy_col(st, 0, e->blob, sizeof e->blob);
	copy_col(st, 1, e->ext, sizeof e->ext);
	copy_col(st, 2, e->mime, sizeof e->mime);
	e->bytes = (long)sqlite3_column_int64(st, 3);
	e->width = sqlite3_column_int(st, 4);
	e->height = sqlite3_column_int(st, 5);
	e->created = (long)sqlite3_column_int64(st, 6);
	e->expires = (long)sqlite3_column_int64(st, 7);
	sqlite3_reset(st);

	long now = (long)time(NULL);
	char path[4096];
	if (e->expires <= now) {
		drop_entry(cfg, db, k->hex);
		return count_miss(db);
	}
	if (cache_blob_path(cfg, e->blob, e->ext, path, sizeof path) != 0 ||
	    read_blob(path, e->blob, e->bytes, data) != 0) {
		log_msg(LOG_WARN, "cache blob %.16s failed its check; dropped", e->blob);
		drop_blob(cfg, db, e->blob, e->ext);
		return count_miss(db);
	}

	/* The hit's bookkeeping in one short transaction, best effort: a busy
	 * database must not hold up an image that is already in hand. */
	db_set_patience(db, BOOKKEEPING_PATIENCE_MS);
	if (db_begin(db) == SQLITE_OK) {
		sqlite3_stmt *up = db_stmt(db, "UPDATE cache_entries SET last_access = :now, "
					       "hits = hits + 1 WHERE key = :key");
		if (up) {
			db_bind_int64(up, ":now", now);
			db_bind_text(up, ":key", k->hex);
			sqlite3_step(up);
			sqlite3_reset(up);
		}
		db_counter_add(db, "cache_hits", 1);
		/* What the upstream would have charged for this image. */
		double saved = p->model.provider == PROVIDER_LOCAL
				       ? 0
				       : price_of(cfg, p->model.family, p->image_size);
		if (saved > 0)
			db_counter_add(db, "cache_cost_saved_usd", saved);
		if (db_commit(db) != SQLITE_OK)
			db_rollback(db);
	}
	db_set_patience(db, -1);
	return 1;
}

int cache_lookup(const struct config *cfg, sqlite3 *db, const struct cache_key *k,
		 const struct gen_plan *p, struct buf *data, struct cache_entry *e)
{
	memset(e, 0, sizeof *e);
	if (!cfg->cache_on || !db)
		return 0;
	double t0 = metrics_clock();
	int rc = lookup(cfg, db, k, p, data, e);
	metrics_cache_lookup(metrics_clock() - t0);
	return rc;
}

/* ---- store ---------------------------------------------------------------- */

static int mkdir_p1(const char *dir)
{
	return mkdir(dir, 0750) == 0 || errno == EEXIST ? 0 : -1;
}

/* Writes bytes to a temp file in the blob's directory and fsyncs it.
 * Returns 0 with the temp name in tmp, or -1 (nothing left behind). */
static int write_temp(const char *dir, const void *bytes, size_t n, char *tmp, size_t tmp_len)
{
	snprintf(tmp, tmp_len, "%s/.tmp-XXXXXX", dir);
	int fd = mkstemp(tmp);
	if (fd < 0)
		return -1;
	const char *p = bytes;
	size_t left = n;
	while (left > 0) {
		ssize_t w = write(fd, p, left);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		p += w;
		left -= (size_t)w;
	}
	if (fsync(fd) != 0 || fchmod(fd, 0640) != 0)
		goto fail;
	if (close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return -1;
}

/* Evicts least recently used entries until the blobs fit in 90 % of the cap.
 * Runs inside the caller's write transaction. */
static long evict(const struct config *cfg, sqlite3 *db, const char *keep)
{
	long long cap = cfg->cache_max_size_mb * 1024LL * 1024LL;
	/* Blobs a job or the gallery keeps are theirs: evicting cache entries
	 * cannot free them, so they do not count against the cap. */
	sqlite3_stmt *sum = db_stmt(db, BLOB_CACHE_BYTES);
	sqlite3_stmt *old = db_stmt(db, "SELECT key FROM cache_entries WHERE key != :keep "
					"ORDER BY last_access, created LIMIT 32");
	if (!sum || !old)
		return 0;
	long evicted = 0;
	for (int round = 0; round < 10000; round++) {
		long long total = 0;
		if (sqlite3_step(sum) == SQLITE_ROW)
			total = sqlite3_column_int64(sum, 0);
		sqlite3_reset(sum);
		if ((round == 0 && total <= cap) || (round > 0 && total <= cap * 9 / 10))
			break;
		char keys[32][65];
		int nk = 0;
		db_bind_text(old, ":keep", keep);
		while (nk < 32 && sqlite3_step(old) == SQLITE_ROW)
			copy_col(old, 0, keys[nk++], sizeof keys[0]);
		sqlite3_reset(old);
		if (nk == 0)
			break;
		/* One at a time, rechecking the total, so no more goes than needed. */
		for (int i = 0; i < nk; i++) {
			delete_entry(db, keys[i]);
			evicted++;
			drop_orphans(cfg, db);
			if (sqlite3_step(sum) == SQLITE_ROW)
				total = sqlite3_column_int64(sum, 0);
			sqlite3_reset(sum);
			if (total <= cap * 9 / 10)
				break;
		}
	}
	if (evicted)
		db_counter_add(db, "cache_evictions", (double)evicted);
	return evicted;
}

/* Removes up to 100 expired entries (lazy purge, inside a transaction). */
static void purge_some(sqlite3 *db, long now)
{
	sqlite3_stmt *st = db_stmt(db, "DELETE FROM cache_entries WHERE key IN (SELECT key FROM "
				       "cache_entries WHERE expires <= :now LIMIT 100)");
	if (!st)
		return;
	db_bind_int64(st, ":now", now);
	sqlite3_step(st);
	sqlite3_reset(st);
}

static void params_json(const struct gen_plan *p, const struct cache_key *k, struct buf *out)
{
	buf_puts(out, "{\"provider\":");
	json_put_cstr(out, model_provider_name(p->model.provider));
	buf_puts(out, ",\"upstream\":");
	json_put_cstr(out, p->model.upstream);
	buf_puts(out, ",\"image_size\":");
	json_put_cstr(out, p->image_size);
	buf_puts(out, ",\"aspect_ratio\":");
	json_put_cstr(out, p->aspect_ratio);
	buf_puts(out, ",\"quality\":");
	json_put_cstr(out, p->quality[0] ? p->quality : NULL);
	buf_puts(out, ",\"style\":");
	json_put_cstr(out, p->style[0] ? p->style : NULL);
	buf_puts(out, ",\"safety\":");
	json_put_cstr(out, safety_name(p->safety));
	buf_printf(out, ",\"slot\":%d,\"label\":", k->slot);
	json_put_cstr(out, k->label);
	buf_putc(out, '}');
}

int cache_store(const struct config *cfg, sqlite3 *db, const struct cache_key *k,
		const struct gen_plan *p, const void *bytes, size_t n, struct cache_entry *e)
{
	memset(e, 0, sizeof *e);
	if (!cfg->cache_on || !db || n == 0)
		return -1;
	const char *ext = NULL;
	const char *mime = image_sniff(bytes, n, &ext);
	if (!mime)
		return -1;
	unsigned char d[32];
	hash_sha256(bytes, n, d);
	hash_hex(d, sizeof d, e->blob);
	snprintf(e->ext, sizeof e->ext, "%s", ext);
	snprintf(e->mime, sizeof e->mime, "%s", mime);
	e->bytes = (long)n;
	if (image_dims(bytes, n, &e->width, &e->height) != 0)
		e->width = e->height = 0;
	long now = (long)time(NULL);
	e->created = now;
	e->expires = now + cfg->cache_ttl;
	if ((long long)n > cfg->cache_max_size_mb * 1024LL * 1024LL * 9 / 10) {
		log_msg(LOG_WARN,
			"cache store skipped: a %zu-byte image is larger than 90 %% of "
			"cache_max_size_mb",
			n);
		return -1;
	}

	char dir[4096], path[4096], tmp[4200];
	snprintf(dir, sizeof dir, "%s/%.2s", cfg->cache_dir, e->blob);
	if (cache_blob_path(cfg, e->blob, ext, path, sizeof path) != 0 ||
	    mkdir_p1(cfg->cache_dir) || mkdir_p1(dir) ||
	    write_temp(dir, bytes, n, tmp, sizeof tmp) != 0) {
		log_msg(LOG_WARN, "cache store skipped: cannot write under %s: %s", cfg->cache_dir,
			strerror(errno));
		return -1;
	}
	struct buf params = BUF_INIT;
	params_json(p, k, &params);
	int rc = -1;
	/* A store runs after the reply, but the process takes no new request
	 * until it is done: it waits a little for a busy database, not the full
	 * busy timeout, and otherwise skips (the cache never fails a request). */
	db_set_patience(db, STORE_PATIENCE_MS);
	int began = db_begin(db);
	db_set_patience(db, -1);
	if (began != SQLITE_OK) {
		log_msg(LOG_WARN, "cache store skipped: database busy: %s", sqlite3_errmsg(db));
		unlink(tmp);
		goto out;
	}
	/* Under the write lock, so no purge can unlink it between here and the
	 * commit: the fresh bytes take the final name, replacing any file there
	 * (identical by its name, unless it was damaged). */
	if (rename(tmp, path) != 0) {
		log_msg(LOG_WARN, "cache store skipped: rename failed: %s", strerror(errno));
		unlink(tmp);
		db_rollback(db);
		goto out;
	}
	sqlite3_stmt *blob = db_stmt(db, "INSERT INTO cache_blobs(hash, ext, bytes) VALUES "
					 "(:hash, :ext, :bytes) ON CONFLICT(hash) DO NOTHING");
	sqlite3_stmt *ent = db_stmt(
		db,
		"INSERT INTO cache_entries(key, label, blob, ext, mime, bytes, width, height, "
		"model, prompt_hash, params, created, expires, last_access, hits) VALUES (:key, "
		":label, :blob, :ext, :mime, :bytes, :width, :height, :model, :prompt_hash, "
		":params, :now, :expires, :now, 0) ON CONFLICT(key) DO UPDATE SET "
		"label = excluded.label, blob = excluded.blob, ext = excluded.ext, "
		"mime = excluded.mime, bytes = excluded.bytes, width = excluded.width, "
		"height = excluded.height, params = excluded.params, created = excluded.created, "
		"expires = excluded.expires, last_access = excluded.last_access");
	if (!blob || !ent) {
		db_rollback(db);
		goto out;
	}
	db_bind_text(blob, ":hash", e->blob);
	db_bind_text(blob, ":ext", ext);
	db_bind_int64(blob, ":bytes", (long long)n);
	db_bind_text(ent, ":key", k->hex);
	db_bind_text(ent, ":label", k->label);
	db_bind_text(ent, ":blob", e->blob);
	db_bind_text(ent, ":ext", ext);
	db_bind_text(ent, ":mime", mime);
	db_bind_int64(ent, ":bytes", (long long)n);
	db_bind_int64(ent, ":width", e->width);
	db_bind_int64(ent, ":height", e->height);
	db_bind_text(ent, ":model", p->model.id);
	db_bind_text(ent, ":prompt_hash", p->prompt_hash);
	db_bind_text(ent, ":params", params.data);
	db_bind_int64(ent, ":now", now);
	db_bind_int64(ent, ":expires", e->expires);
	int ok = sqlite3_step(blob) == SQLITE_DONE && sqlite3_step(ent) == SQLITE_DONE;
	sqlite3_reset(blob);
	sqlite3_reset(ent);
	if (!ok) {
		log_msg(LOG_WARN, "cache store failed: %s", sqlite3_errmsg(db));
		db_rollback(db);
		goto out;
	}
	purge_some(db, now);
	drop_orphans(cfg, db); /* a replaced entry may have left its old blob */
	evict(cfg, db, k->hex);
	rc = db_commit(db) == SQLITE_OK ? 0 : -1;
	if (rc != 0) {
		log_msg(LOG_WARN, "cache store commit failed: %s", sqlite3_errmsg(db));
		db_rollback(db);
	}
out:
	buf_free(&params);
	return rc;
}

/* ---- maintenance and stats ------------------------------------------------ */

int cache_stats_get(const struct config *cfg, sqlite3 *db, struct cache_stats *s)
{
	memset(s, 0, sizeof *s);
	s->max_bytes = cfg->cache_max_size_mb * 1024LL * 1024LL;
	if (!db)
		return -1;
#define KEPT                                                                                       \
	"hash IN (SELECT blob FROM job_results WHERE blob IS NOT NULL UNION SELECT blob FROM "     \
	"gallery_images)"
	sqlite3_stmt *st =
		db_stmt(db, "SELECT (SELECT count(*) FROM cache_entries), "
			    "(SELECT count(*) FROM cache_blobs), "
			    "(SELECT coalesce(sum(bytes), 0) FROM cache_blobs), "
			    "(SELECT count(*) FROM cache_blobs WHERE " KEPT "), "
			    "(SELECT coalesce(sum(bytes), 0) FROM cache_blobs WHERE " KEPT ")");
#undef KEPT
	if (!st)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW) {
		s->entries = (long)sqlite3_column_int64(st, 0);
		s->kept_blobs = (long)sqlite3_column_int64(st, 3);
		s->kept_bytes = sqlite3_column_int64(st, 4);
		s->blobs = (long)sqlite3_column_int64(st, 1) - s->kept_blobs;
		s->bytes = sqlite3_column_int64(st, 2) - s->kept_bytes;
	}
	sqlite3_reset(st);
	s->hits = db_counter_get(db, "cache_hits");
	s->misses = db_counter_get(db, "cache_misses");
	s->evictions = db_counter_get(db, "cache_evictions");
	s->cost_saved_usd = db_counter_get(db, "cache_cost_saved_usd");
	return 0;
}

void cache_stats_json(const struct cache_stats *s, struct buf *out)
{
	double lookups = s->hits + s->misses;
	buf_printf(out,
		   "{\"entries\":%ld,\"blobs\":%ld,\"bytes\":%lld,\"max_bytes\":%lld,"
		   "\"hits\":%.0f,\"misses\":%.0f,\"hit_ratio\":%.4f,\"evictions\":%.0f,"
		   "\"cost_saved_usd\":%.4f,\"kept_blobs\":%ld,\"kept_bytes\":%lld}",
		   s->entries, s->blobs, s->bytes, s->max_bytes, s->hits, s->misses,
		   lookups > 0 ? s->hits / lookups : 0.0, s->evictions, s->cost_saved_usd,
		   s->kept_blobs, s->kept_bytes);
}

/* Runs a DELETE on cache_entries with optional binds, then drops orphans, in
 * one transaction; returns the number of entries removed or -1. */
static long delete_where(const struct config *cfg, sqlite3 *db, const char *sql, const char *model,
			 const char *prompt_hash, long now)
{
	if (!db || db_begin(db) != SQLITE_OK)
		return -1;
	sqlite3_stmt *st = db_stmt(db, sql);
	if (!st) {
		db_rollback(db);
		return -1;
	}
	if (sqlite3_bind_parameter_index(st, ":model"))
		db_bind_text(st, ":model", model ? model : "");
	if (sqlite3_bind_parameter_index(st, ":prompt_hash"))
		db_bind_text(st, ":prompt_hash", prompt_hash ? prompt_hash : "");
	if (sqlite3_bind_parameter_index(st, ":now"))
		db_bind_int64(st, ":now", now);
	int ok = sqlite3_step(st) == SQLITE_DONE;
	sqlite3_reset(st);
	long n = sqlite3_changes(db);
	if (!ok) {
		db_rollback(db);
		return -1;
	}
	drop_orphans(cfg, db);
	return db_commit(db) == SQLITE_OK ? n : -1;
}

/* 1 when cache_blobs has a row for hash. */
static int blob_known(sqlite3 *db, const char *hash)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT 1 FROM cache_blobs WHERE hash = :hash");
	if (!st)
		return 1; /* when unsure, keep the file */
	db_bind_text(st, ":hash", hash);
	int known = sqlite3_step(st) != SQLITE_DONE;
	sqlite3_reset(st);
	return known;
}

/* Removes what processes killed in the middle of a store leave behind, once
 * it is an hour old: temp files, and blob files that no row names (killed
 * between the rename and the commit).  Neither is ever served. */
static void drop_leftovers(const struct config *cfg, sqlite3 *db)
{
	DIR *top = opendir(cfg->cache_dir);
	if (!top)
		return;
	time_t cutoff = time(NULL) - 3600;
	struct dirent *d;
	while ((d = readdir(top))) {
		if (strlen(d->d_name) != 2 || d->d_name[0] == '.')
			continue;
		char dir[4096];
		snprintf(dir, sizeof dir, "%s/%s", cfg->cache_dir, d->d_name);
		DIR *sub = opendir(dir);
		if (!sub)
			continue;
		struct dirent *f;
		while ((f = readdir(sub))) {
			char path[4400], hash[300];
			struct stat sb;
			snprintf(path, sizeof path, "%s/%s", dir, f->d_name);
			if (f->d_name[0] == '.' && strncmp(f->d_name, ".tmp-", 5) != 0)
				continue;
			if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_mtime >= cutoff)
				continue;
			if (strncmp(f->d_name, ".tmp-", 5) == 0) {
				unlink(path);
				continue;
			}
			snprintf(hash, sizeof hash, "%s%.*s", d->d_name,
				 (int)strcspn(f->d_name, "."), f->d_name);
			if (strlen(hash) != 64 || db_begin(db) != SQLITE_OK)
				continue;
			if (!blob_known(db, hash))
				unlink(path);
			db_commit(db);
		}
		closedir(sub);
	}
	closedir(top);
}

long cache_purge(const struct config *cfg, sqlite3 *db)
{
	drop_leftovers(cfg, db);
	return delete_where(cfg, db, "DELETE FROM cache_entries WHERE expires <= :now", NULL, NULL,
			    (long)time(NULL));
}

long cache_clear(const struct config *cfg, sqlite3 *db)
{
	return delete_where(cfg, db, "DELETE FROM cache_entries", NULL, NULL, 0);
}

long cache_invalidate(const struct config *cfg, sqlite3 *db, const char *model,
		      const char *prompt_hash)
{
	if ((!model || !*model) && (!prompt_hash || !*prompt_hash))
		return -1;
	/* A family with variant suffixes covers its variants ("gemini-3-pro-image"
	 * also removes "gemini-3-pro-image-4k-16x9"); any other id only itself. */
	if (model && model_is_family(model))
		return delete_where(cfg, db,
				    "DELETE FROM cache_entries WHERE (model = :model OR "
				    "substr(model, 1, length(:model) + 1) = :model || '-') AND "
				    "(:prompt_hash = '' OR prompt_hash = :prompt_hash)",
				    model, prompt_hash, 0);
	return delete_where(cfg, db,
			    "DELETE FROM cache_entries WHERE (:model = '' OR model = :model) AND "
			    "(:prompt_hash = '' OR prompt_hash = :prompt_hash)",
			    model, prompt_hash, 0);
}

/* ---- blobs kept by jobs and the gallery ------------------------------------ */

long cache_drop_orphans(const struct config *cfg, sqlite3 *db)
{
	return drop_orphans(cfg, db);
}

/* The existing blob `hash`, if its row is there and its file has the row's
 * size: fills e (blob, ext, mime, bytes) and returns 1; else 0.  Runs inside
 * the caller's write transaction. */
static int blob_present(const struct config *cfg, sqlite3 *db, const char *hash,
			struct cache_entry *e)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT ext, bytes FROM cache_blobs WHERE hash = :hash");
	if (!st)
		return 0;
	db_bind_text(st, ":hash", hash);
	int found = 0;
	char ext[8] = "", path[4096];
	long bytes = 0;
	if (sqlite3_step(st) == SQLITE_ROW) {
		copy_col(st, 0, ext, sizeof ext);
		bytes = (long)sqlite3_column_int64(st, 1);
		found = 1;
	}
	sqlite3_reset(st);
	struct stat sb;
	if (!found || cache_blob_path(cfg, hash, ext, path, sizeof path) != 0 ||
	    stat(path, &sb) != 0 || sb.st_size != bytes)
		return 0;
	snprintf(e->blob, sizeof e->blob, "%s", hash);
	snprintf(e->ext, sizeof e->ext, "%s", ext);
	snprintf(e->mime, sizeof e->mime, "%s", cache_ext_mime(ext));
	e->bytes = bytes;
	return 1;
}

int cache_blob_keep(const struct config *cfg, sqlite3 *db, const char *hash, const char *b64,
		    size_t b64_len, struct cache_entry *e, cache_pin_fn pin, void *arg)
{
	if (!db)
		return -1;
	/* The image is on disk already (a cache entry has it): reference it in
	 * the transaction that checks it is there, so no sweep comes between. */
	if (hash && hash[0]) {
		db_set_patience(db, STORE_PATIENCE_MS);
		int began = db_begin(db);
		db_set_patience(db, -1);
		if (began != SQLITE_OK) {
			log_msg(LOG_WARN, "keeping blob %.16s: database busy: %s", hash,
				sqlite3_errmsg(db));
			return -1;
		}
		if (blob_present(cfg, db, hash, e)) {
			if (pin(db, e, arg) != 0) {
				db_rollback(db);
				return -1;
			}
			if (db_commit(db) == SQLITE_OK)
				return 0;
			log_msg(LOG_WARN, "keeping blob %.16s: commit failed: %s", hash,
				sqlite3_errmsg(db));
		}
		db_rollback(db); /* gone since: write it again from the bytes */
	}
	if (!b64)
		return -1;
	struct buf bytes = BUF_INIT;
	int rc = -1;
	if (b64_decode(&bytes, b64, b64_len) != 0 || bytes.len == 0)
		goto out;
	const char *ext = NULL;
	const char *mime = image_sniff(bytes.data, bytes.len, &ext);
	if (!mime)
		goto out;
	unsigned char d[32];
	hash_sha256(bytes.data, bytes.len, d);
	hash_hex(d, sizeof d, e->blob);
	snprintf(e->ext, sizeof e->ext, "%s", ext);
	snprintf(e->mime, sizeof e->mime, "%s", mime);
	e->bytes = (long)bytes.len;
	if (image_dims(bytes.data, bytes.len, &e->width, &e->height) != 0)
		e->width = e->height = 0;
	char dir[4096], path[4096], tmp[4200];
	snprintf(dir, sizeof dir, "%s/%.2s", cfg->cache_dir, e->blob);
	if (cache_blob_path(cfg, e->blob, ext, path, sizeof path) != 0 ||
	    mkdir_p1(cfg->cache_dir) || mkdir_p1(dir) ||
	    write_temp(dir, bytes.data, bytes.len, tmp, sizeof tmp) != 0) {
		log_msg(LOG_WARN, "keeping an image failed: cannot write under %s: %s",
			cfg->cache_dir, strerror(errno));
		goto out;
	}
	db_set_patience(db, STORE_PATIENCE_MS);
	int began = db_begin(db);
	db_set_patience(db, -1);
	if (began != SQLITE_OK) {
		log_msg(LOG_WARN, "keeping an image failed: database busy: %s", sqlite3_errmsg(db));
		unlink(tmp);
		goto out;
	}
	/* As in cache_store: the final name is taken under the write lock. */
	int existed = blob_known(db, e->blob);
	if (rename(tmp, path) != 0) {
		log_msg(LOG_WARN, "keeping an image failed: rename: %s", strerror(errno));
		unlink(tmp);
		db_rollback(db);
		goto out;
	}
	sqlite3_stmt *ins = db_stmt(db, "INSERT INTO cache_blobs(hash, ext, bytes) VALUES "
					"(:hash, :ext, :bytes) ON CONFLICT(hash) DO NOTHING");
	int ok = ins != NULL;
	if (ok) {
		db_bind_text(ins, ":hash", e->blob);
		db_bind_text(ins, ":ext", e->ext);
		db_bind_int64(ins, ":bytes", e->bytes);
		ok = sqlite3_step(ins) == SQLITE_DONE;
		sqlite3_reset(ins);
	}
	if (!ok || pin(db, e, arg) != 0) {
		if (!existed)
			unlink(path); /* nothing will reference it */
		db_rollback(db);
		goto out;
	}
	rc = db_commit(db) == SQLITE_OK ? 0 : -1;
	if (rc != 0) {
		log_msg(LOG_WARN, "keeping an image failed: commit: %s", sqlite3_errmsg(db));
		db_rollback(db);
	}
out:
	buf_free(&bytes);
	return rc;
}

/* ---- in-flight collapse --------------------------------------------------- */

/* One lock file per process, kept open: closing any descriptor of a file
 * drops all of the process's record locks on it. */
static int lock_fd = -1;

long cache_lock(const struct config *cfg, const struct cache_key *k, long timeout_ms, int *waited)
{
	*waited = 0;
	if (!cfg->cache_on)
		return -1;
	if (lock_fd < 0) {
		char path[4096];
		snprintf(path, sizeof path, "%s/.inflight", cfg->cache_dir);
		lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
		if (lock_fd < 0)
			return -1;
	}
	/* 2^24 one-byte slots; two keys sharing one only serialise each other. */
	long token = strtol(
		(char[7]){k->hex[0], k->hex[1], k->hex[2], k->hex[3], k->hex[4], k->hex[5], '\0'},
		NULL, 16);
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = token, .l_len = 1};
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (fcntl(lock_fd, F_SETLK, &fl) != 0) {
		if (errno != EAGAIN && errno != EACCES && errno != EINTR)
			return -1;
		*waited = 1;
		clock_gettime(CLOCK_MONOTONIC, &now);
		long el = (now.tv_sec - t0.tv_sec) * 1000L + (now.tv_nsec - t0.tv_nsec) / 1000000L;
		if (el >= timeout_ms)
			return -1;
		struct timespec nap = {0, 20 * 1000000L};
		nanosleep(&nap, NULL);
	}
	return token;
}

void cache_unlock(long token)
{
	if (token < 0 || lock_fd < 0)
		return;
	struct flock fl = {.l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = token, .l_len = 1};
	fcntl(lock_fd, F_SETLK, &fl);
}
