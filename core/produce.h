/* Producing a request's n images: each slot from the cache when it can be,
 * the rest generated upstream (identical requests in flight wait for each
 * other), and the fresh ones stored.  This is the one core operation behind
 * POST /v1/images/generations (SPEC 2.1 and 5). */
#ifndef IMAGEGW_PRODUCE_H
#define IMAGEGW_PRODUCE_H

#include "buf.h"
#include "cache.h"
#include "err.h"
#include "generate.h"
#include "plan.h"

struct config;
struct gen_req;
struct sqlite3;

#define PRODUCE_MAX_N 10

/* How the request asked the cache to behave (Cache-Control and "cache"). */
enum produce_cache_mode {
	PRODUCE_CACHE_USE,	/* look up, store misses */
	PRODUCE_CACHE_REFRESH,	/* no-cache: skip the lookup, store the fresh result */
	PRODUCE_CACHE_NO_STORE, /* no-store / "cache": false: neither */
};

struct produce_item {
	const char *b64; /* the image as canonical base64; NULL when it failed */
	size_t b64_len;
	struct buf own; /* holds b64 for cache hits */
	const char *mime, *ext;
	struct cache_key key;
	struct cache_entry entry; /* valid when `stored` */
	int cached;		  /* came from the cache */
	int stored;		  /* entry names a blob file on disk */
	int store_tried;	  /* a store was attempted (once per image) */
	long lock;		  /* in-flight lock token, or -1 */
	struct img_error err;
};

struct produce {
	struct gen_plan plan;
	struct gen_result gen; /* the generated slots */
	int n;
	struct produce_item items[PRODUCE_MAX_N];
	int hits;
	int succeeded;
	const char *cache_state; /* hit, miss, partial or bypass */
	enum produce_cache_mode mode;
	int degraded; /* the cache index could not be read: left alone */
	int settled;
};

/* Produces every image of r.  With need_files (response_format=url), fresh
 * images are stored before this returns so their files exist; otherwise
 * storing waits for produce_settle, after the reply has gone.  Returns IMG_OK
 * when at least one image exists, else the first failure (also in e).
 * Call produce_settle and then produce_free in every case. */
enum img_err produce_run(const struct config *cfg, struct sqlite3 *db, const struct gen_req *r,
			 enum produce_cache_mode mode, int need_files, const char *request_id,
			 struct produce *pr, struct img_error *e);
/* Stores what is still unstored and releases the in-flight locks. */
void produce_settle(const struct config *cfg, struct sqlite3 *db, struct produce *pr);
void produce_free(struct produce *pr);

#endif
