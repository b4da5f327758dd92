/* Cache-aware production of a request's images.  Order of work per request:
 * plan -> a key per slot -> lookup -> lock the missing keys (waiting for a
 * process already generating one, then looking again) -> generate what is
 * still missing -> store (now, or after the reply) -> unlock.  The database
 * write lock is never held across the upstream call. */
#include "produce.h"

#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "config.h"
#include "genreq.h"
#include "log.h"

/* Turns a hit's bytes into the item's base64. */
static void take_hit(struct produce_item *it, struct buf *bytes)
{
	buf_reset(&it->own);
	b64_encode(&it->own, bytes->data, bytes->len);
	it->b64 = it->own.data;
	it->b64_len = it->own.len;
	it->mime = cache_ext_mime(it->entry.ext);
	it->ext = it->entry.ext;
	it->cached = 1;
	it->stored = 1;
}

/* Looks one slot up; url-mode lookups only check the file's length (the web
 * server will send it), b64 lookups read and hash-check the bytes.  An index
 * that cannot be read turns the cache off for the rest of the request. */
static int lookup(const struct config *cfg, struct sqlite3 *db, struct produce *pr,
		  struct produce_item *it, int need_files)
{
	if (pr->degraded)
		return 0;
	struct buf bytes = BUF_INIT;
	int hit =
		cache_lookup(cfg, db, &it->key, &pr->plan, need_files ? NULL : &bytes, &it->entry);
	if (hit < 0) {
		pr->degraded = 1;
		hit = 0;
	}
	if (hit && need_files) {
		it->cached = it->stored = 1;
		it->mime = cache_ext_mime(it->entry.ext);
		it->ext = it->entry.ext;
	} else if (hit) {
		take_hit(it, &bytes);
	}
	buf_free(&bytes);
	return hit;
}

/* Stores one generated item (decoding its base64) and records the blob. */
static void store_item(const struct config *cfg, struct sqlite3 *db, struct produce *pr,
		       struct produce_item *it)
{
	if (it->stored || it->store_tried || !it->b64 || pr->mode == PRODUCE_CACHE_NO_STORE ||
	    !cfg->cache_on || pr->degraded)
		return;
	it->store_tried = 1; /* once: a failed store is not retried after the reply */
	struct buf bytes = BUF_INIT;
	if (b64_decode(&bytes, it->b64, it->b64_len) == 0 &&
	    cache_store(cfg, db, &it->key, &pr->plan, bytes.data, bytes.len, &it->entry) == 0)
		it->stored = 1;
	buf_free(&bytes);
}

static int by_key(const void *a, const void *b, void *arg)
{
	const struct produce *pr = arg;
	return strcmp(pr->items[*(const int *)a].key.hex, pr->items[*(const int *)b].key.hex);
}

static int by_slot(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

enum img_err produce_run(const struct config *cfg, struct sqlite3 *db, const struct gen_req *r,
			 enum produce_cache_mode mode, int need_files, const char *request_id,
			 struct produce *pr, struct img_error *e)
{
	memset(pr, 0, sizeof *pr);
	pr->mode = mode;
	for (int i = 0; i < PRODUCE_MAX_N; i++)
		pr->items[i].lock = -1;
	/* An edit with no ratio asked for keeps its first image's (SPEC 3.3). */
	double first_ratio = r->ninputs > 0 && r->inputs[0].height > 0
				     ? (double)r->inputs[0].width / r->inputs[0].height
				     : 0;
	enum img_err rc = plan_build(cfg, r, first_ratio, &pr->plan, e);
	if (rc != IMG_OK)
		return rc;
	pr->n = pr->plan.n > PRODUCE_MAX_N ? PRODUCE_MAX_N : pr->plan.n;
	int use_cache = cfg->cache_on && db;
	struct cache_inputs inputs;
	cache_key_inputs(r, &inputs);

	int missing[PRODUCE_MAX_N], nmissing = 0;
	for (int i = 0; i < pr->n; i++) {
		struct produce_item *it = &pr->items[i];
		cache_key_build(&pr->plan, r, inputs.list, i, &it->key, NULL);
		if (use_cache && mode == PRODUCE_CACHE_USE && lookup(cfg, db, pr, it, need_files))
			pr->hits++;
		else
			missing[nmissing++] = i;
	}

	/* Identical requests in flight: whoever holds a key's lock generates it;
	 * the others wait (bounded by the upstream timeout) and look again. */
	if (use_cache && !pr->degraded && mode != PRODUCE_CACHE_NO_STORE && nmissing > 0) {
		int still = 0;
		long timeout = cfg->upstream_timeout_seconds * 1000L + 5000;
		/* Every process takes its locks in key order, so two requests that
		 * share keys can never each hold what the other waits for. */
		qsort_r(missing, (size_t)nmissing, sizeof missing[0], by_key, pr);
		for (int j = 0; j < nmissing; j++) {
			struct produce_item *it = &pr->items[missing[j]];
			int waited = 0;
			it->lock = cache_lock(cfg, &it->key, timeout, &waited);
			if (waited && mode == PRODUCE_CACHE_USE &&
			    lookup(cfg, db, pr, it, need_files)) {
				pr->hits++;
				cache_unlock(it->lock);
				it->lock = -1;
				continue;
			}
			missing[still++] = missing[j];
		}
		nmissing = still;
		qsort(missing, (size_t)nmissing, sizeof missing[0], by_slot);
	}

	if (nmissing > 0) {
		struct img_error ge;
		generate_run(cfg, db, &pr->plan, r, missing, nmissing, request_id, &pr->gen, &ge);
		for (int j = 0; j < pr->gen.n; j++) {
			struct gen_image *img = &pr->gen.images[j];
			struct produce_item *it = &pr->items[img->slot];
			it->err = img->err;
			if (img->err.code != IMG_OK)
				continue;
			it->b64 = img->b64;
			it->b64_len = img->b64_len;
			it->mime = img->mime;
			it->ext = img->ext;
		}
	}

	err_clear(e);
	for (int i = 0; i < pr->n; i++) {
		struct produce_item *it = &pr->items[i];
		if (it->b64 || it->cached)
			pr->succeeded++;
		else if (e->code == IMG_OK)
			*e = it->err;
	}
	if (mode != PRODUCE_CACHE_USE)
		pr->cache_state = "bypass";
	else if (pr->hits == pr->n)
		pr->cache_state = "hit";
	else
		pr->cache_state = pr->hits > 0 ? "partial" : "miss";

	if (need_files)
		for (int i = 0; i < pr->n; i++)
			store_item(cfg, db, pr, &pr->items[i]);
	if (pr->succeeded == 0)
		return e->code;
	err_clear(e);
	return IMG_OK;
}

void produce_settle(const struct config *cfg, struct sqlite3 *db, struct produce *pr)
{
	if (pr->settled)
		return;
	pr->settled = 1;
	for (int i = 0; i < pr->n; i++) {
		struct produce_item *it = &pr->items[i];
		store_item(cfg, db, pr, it);
		cache_unlock(it->lock);
		it->lock = -1;
	}
}

void produce_free(struct produce *pr)
{
	for (int i = 0; i < PRODUCE_MAX_N; i++)
		buf_free(&pr->items[i].own);
	generate_result_free(&pr->gen);
	plan_free(&pr->plan);
}
