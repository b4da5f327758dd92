/* The response cache (SPEC 5): an index in SQLite (cache_entries) and the
 * image bytes as content-addressed files under cache_dir (ab/cdef....png),
 * written temp -> fsync -> rename and checked (length, hash) on read.  Every
 * failure is logged and treated as a miss: the cache never fails a request. */
#ifndef IMAGEGW_CACHE_H
#define IMAGEGW_CACHE_H

#include <stddef.h>

#include "buf.h"
#include "genreq.h"

struct config;
struct gen_plan;
struct gen_req;
struct sqlite3;

struct cache_key {
	char hex[65];	 /* SHA-256 of the canonical key string */
	char label[192]; /* the seeds' readable form: img:{model}:{quality}:{style}:{hash16} */
	int slot;
};

struct cache_entry {
	char blob[65]; /* SHA-256 hex of the bytes: the file's name */
	char ext[8];   /* png, jpg, webp */
	char mime[16];
	long bytes;
	int width, height;
	long created, expires;
};

struct cache_stats {
	long entries;
	long blobs;
	long long bytes;
	long long max_bytes;
	double hits, misses, evictions, cost_saved_usd;
};

/* What of an edit's uploads goes into its key: the SHA-256 of each input
 * image in upload order, then "mask:" and the mask's (so an image sent as
 * the mask never keys like the same image sent as an input). */
struct cache_inputs {
	const char *list[GEN_MAX_INPUTS + 2]; /* NULL-terminated; points into r and mask */
	char mask[72];
};
/* Fills in from r (no inputs: an empty list); valid while r is. */
void cache_key_inputs(const struct gen_req *r, struct cache_inputs *in);

/* Builds the key of one slot of a plan.  inputs: the SHA-256 hex of every
 * input image and the mask (edits), NULL-terminated, or NULL.  canon (may be
 * NULL) receives the canonical string the key hashes. */
void cache_key_build(const struct gen_plan *p, const struct gen_req *r, const char *const *inputs,
		     int slot, struct cache_key *k, struct buf *canon);
/* 1 on a hit: e is filled and, when data is not NULL, the bytes are read into
 * it and checked against their hash.  0 on a miss (absent, expired, or a blob
 * that failed its check, which is then dropped).  -1 when the index cannot
 * be read (database busy past its timeout): the caller should leave the
 * cache alone for the rest of the request.  Counts hits and misses and, per
 * hit, the upstream price of the plan's model and size as saved. */
int cache_lookup(const struct config *cfg, struct sqlite3 *db, const struct cache_key *k,
		 const struct gen_plan *p, struct buf *data, struct cache_entry *e);
/* Stores bytes for k: the blob file unless already there, the index row, then
 * evicts least recently used entries to 90 % of the cap when over it.
 * Fills e.  0, or -1 (logged). */
int cache_store(const struct config *cfg, struct sqlite3 *db, const struct cache_key *k,
		const struct gen_plan *p, const void *bytes, size_t n, struct cache_entry *e);
/* The blob file for a hash and extension: 0, or -1 when hex is not 64
 * lower-case hex digits or ext is not png, jpg or webp (so a client-supplied
 * name can never leave cache_dir). */
int cache_blob_path(const struct config *cfg, const char *hex, const char *ext, char *out,
		    size_t len);
/* The MIME type for an extension (png, jpg, webp), or NULL. */
const char *cache_ext_mime(const char *ext);

int cache_stats_get(const struct config *cfg, struct sqlite3 *db, struct cache_stats *s);
/* Appends the stats as a JSON object (the /v1/cache/stats body). */
void cache_stats_json(const struct cache_stats *s, struct buf *out);
/* Removes expired entries, blob files no entry references, and temp files
 * over an hour old.  Returns the number of entries removed, or -1. */
long cache_purge(const struct config *cfg, struct sqlite3 *db);
/* Removes every entry and blob.  Returns the number of entries removed, or -1. */
long cache_clear(const struct config *cfg, struct sqlite3 *db);
/* Removes the entries of a model and/or prompt hash (NULL or "" = any; not
 * both empty).  Returns the number removed, or -1. */
long cache_invalidate(const struct config *cfg, struct sqlite3 *db, const char *model,
		      const char *prompt_hash);

/* In-flight collapse: an exclusive record lock, one byte of the lock file
 * <cache_dir>/.inflight picked by the key.  Waits up to timeout_ms while
 * another process holds it (generating the same key); *waited tells whether
 * it had to.  Returns a token for cache_unlock, or -1 (then go ahead
 * unlocked).  Locks die with the process, so a crash never wedges a key. */
long cache_lock(const struct config *cfg, const struct cache_key *k, long timeout_ms, int *waited);
void cache_unlock(long token);

#endif
