/* The gallery (SPEC 2.7): each job and each successful generation request
 * kept as an entry with its images and their parameters, newest first.  An
 * image row keeps its blob on disk (core/cache.c deletes no blob a gallery
 * image names); deleting an entry deletes only the blobs nothing else uses. */
#ifndef IMAGEGW_GALLERY_H
#define IMAGEGW_GALLERY_H

#include "cache.h"
#include "ulid.h"

struct config;
struct produce;
struct sqlite3;

#define GALLERY_ID_MAX	  32 /* "gal_" + 26 + NUL */
#define GALLERY_LIMIT_MAX 100

struct gallery_image {
	struct cache_entry image; /* blob, ext, mime, bytes, width, height */
	char model[96];
	char image_size[4];
	char aspect_ratio[8];
};

struct gallery_entry {
	char id[GALLERY_ID_MAX];
	char owner[32];
	char source[16]; /* generation, edit, job */
	char job_id[32]; /* "" unless from a job */
	char *prompt;
	char *revised_prompt; /* may be NULL */
	char quality[16], style[16], safety[16];
	int image_count;
	long created;
	int nimages; /* gallery_get: every image; gallery_list: the first (preview) */
	struct gallery_image *images;
};

/* Records the images of one request that produce_run made (after the reply:
 * fcgi/images.c's settle, and the edits handler) as a gallery entry owned by
 * owner ("key:<id>", "admin", "anon"; never a key).  Images already stored
 * (cache entries) are only referenced; the others are written as blobs.
 * Nothing is recorded when gallery_enabled is false, the request asked for
 * no-store (pr->mode), no image exists, or every image came from the cache
 * and is in one of owner's entries already (a repeated request).  Keeps the
 * gallery within gallery_max_entries and gallery_max_size_mb.  id_out (may be NULL, GALLERY_ID_MAX bytes)
 * receives the id.  1 recorded, 0 nothing to record, -1 failure (logged). */
int gallery_add_produce(const struct config *cfg, struct sqlite3 *db, const char *owner,
			const char *source, const char *prompt, const struct produce *pr,
			char *id_out);
/* Records a job that has just become final as an entry holding its completed
 * results' images (which the job's rows keep on disk).  Runs inside the
 * caller's write transaction (core/job.c).  1, 0 (no image), -1. */
int gallery_add_job(const struct config *cfg, struct sqlite3 *db, const char *job_id, long now);

/* Reads an entry and all its images.  1 (free with gallery_entry_free), 0
 * when there is no such entry, -1 on failure. */
int gallery_get(struct sqlite3 *db, const char *id, struct gallery_entry *e);
/* The newest entries older than `before` (a gallery id; NULL or "" for the
 * newest), at most limit (1..GALLERY_LIMIT_MAX), owned by owner (NULL: all).
 * Each carries its first image only.  *has_more says whether older ones
 * follow.  Returns how many (free with gallery_entries_free), or -1. */
int gallery_list(struct sqlite3 *db, const char *owner, const char *before, int limit,
		 struct gallery_entry **out, int *has_more);
void gallery_entry_free(struct gallery_entry *e);
void gallery_entries_free(struct gallery_entry *list, int n);
/* Deletes an entry owned by owner (NULL: by anyone) and the blobs nothing
 * else uses (no cache entry, job result or other gallery image names them).
 * 1, 0 (no such entry, or another owner's), -1. */
int gallery_delete(const struct config *cfg, struct sqlite3 *db, const char *id, const char *owner);
/* Deletes the oldest entries while there are more than gallery_max_entries
 * or their files take more than gallery_max_size_mb, at most max (0: no
 * bound), and the blobs nothing else uses.  Returns how many, or -1. */
long gallery_prune(const struct config *cfg, struct sqlite3 *db, int max);

#endif
