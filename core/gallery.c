/* Gallery entries in SQLite.  An image is recorded in the same transaction
 * that checks (or writes) its blob (cache_blob_keep), so the cache can never
 * delete a file between the two; deletions drop the blobs nothing else uses
 * in the transaction that removes the references. */
#include "gallery.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "produce.h"
#include "safety.h"
#include "xalloc.h"

/* How many old entries one new entry may push out (spreads a lowered limit
 * over many requests instead of one; `imagegw gallery prune` has no bound). */
#define PRUNE_PER_ADD 20

/* Deletes the oldest entries while the gallery is over gallery_max_entries
 * or gallery_max_size_mb (its files, each counted once), at most max (-1:
 * no bound), never the newest; then the blobs left unused.  Inside the
 * caller's write transaction.  Returns how many, or -1. */
static long prune_over(const struct config *cfg, sqlite3 *db, int max)
{
	long long max_bytes = cfg->gallery_max_size_mb * 1024LL * 1024LL;
	if (cfg->gallery_max_entries <= 0 && max_bytes <= 0)
		return 0;
	sqlite3_stmt *cnt = db_stmt(db, "SELECT count(*) FROM gallery_entries");
	sqlite3_stmt *sum = db_stmt(db, "SELECT coalesce(sum(bytes), 0) FROM cache_blobs WHERE "
					"hash IN (SELECT blob FROM gallery_images)");
	sqlite3_stmt *old = db_stmt(db, "SELECT id FROM gallery_entries ORDER BY id LIMIT 1");
	sqlite3_stmt *del = db_stmt(db, "DELETE FROM gallery_entries WHERE id = :id");
	if (!cnt || !sum || !old || !del)
		return -1;
	long n = 0;
	while (max < 0 || n < max) {
		long long entries = 0, bytes = 0;
		if (sqlite3_step(cnt) == SQLITE_ROW)
			entries = sqlite3_column_int64(cnt, 0);
		sqlite3_reset(cnt);
		if (max_bytes > 0 && sqlite3_step(sum) == SQLITE_ROW)
			bytes = sqlite3_column_int64(sum, 0);
		sqlite3_reset(sum);
		int over = (cfg->gallery_max_entries > 0 && entries > cfg->gallery_max_entries) ||
			   (max_bytes > 0 && bytes > max_bytes);
		if (!over || entries <= 1)
			break;
		char id[GALLERY_ID_MAX] = "";
		if (sqlite3_step(old) == SQLITE_ROW)
			db_column_copy(old, 0, id, sizeof id);
		sqlite3_reset(old);
		db_bind_text(del, ":id", id);
		int ok = sqlite3_step(del) == SQLITE_DONE;
		sqlite3_reset(del);
		if (!ok)
			return -1;
		n++;
	}
	if (n > 0 && cache_drop_orphans(cfg, db) < 0)
		return -1;
	return n;
}

long gallery_prune(const struct config *cfg, sqlite3 *db, int max)
{
	if (!db || db_begin(db) != SQLITE_OK)
		return -1;
	long n = prune_over(cfg, db, max > 0 ? max : -1);
	if (n < 0 || db_commit(db) != SQLITE_OK) {
		log_msg(LOG_WARN, "gallery prune failed: %s", sqlite3_errmsg(db));
		db_rollback(db);
		return -1;
	}
	return n;
}

/* ---- adding ---------------------------------------------------------------- */

struct add_arg {
	const struct config *cfg;
	const char *id, *owner, *source, *prompt;
	const struct produce *pr;
	int slot;
	int last; /* the last image: keep the gallery within its limit too */
	long now;
	int kept;
};

/* cache_blob_keep's pin: the entry (once), the image row, the count. */
static int pin_image(sqlite3 *db, const struct cache_entry *e, void *arg)
{
	struct add_arg *a = arg;
	const struct gen_plan *p = &a->pr->plan;
	sqlite3_stmt *ent = db_stmt(
		db, "INSERT INTO gallery_entries(id, owner, source, prompt, revised_prompt, "
		    "quality, style, safety, created) VALUES (:id, :owner, :source, :prompt, "
		    ":revised, nullif(:quality, ''), nullif(:style, ''), :safety, :now) "
		    "ON CONFLICT(id) DO NOTHING");
	sqlite3_stmt *img = db_stmt(
		db, "INSERT INTO gallery_images(entry_id, idx, blob, ext, mime, bytes, width, "
		    "height, model, image_size, aspect_ratio) VALUES (:id, :idx, :blob, :ext, "
		    ":mime, :bytes, :w, :h, :model, :size, :ratio)");
	sqlite3_stmt *cnt = db_stmt(db, "UPDATE gallery_entries SET image_count = image_count + 1 "
					"WHERE id = :id");
	if (!ent || !img || !cnt)
		return -1;
	db_bind_text(ent, ":id", a->id);
	db_bind_text(ent, ":owner", a->owner);
	db_bind_text(ent, ":source", a->source);
	db_bind_text(ent, ":prompt", a->prompt);
	db_bind_text(ent, ":revised", p->revised_prompt);
	db_bind_text(ent, ":quality", p->quality);
	db_bind_text(ent, ":style", p->style);
	db_bind_text(ent, ":safety", safety_name(p->safety));
	db_bind_int64(ent, ":now", a->now);
	db_bind_text(img, ":id", a->id);
	db_bind_int64(img, ":idx", a->slot);
	db_bind_text(img, ":blob", e->blob);
	db_bind_text(img, ":ext", e->ext);
	db_bind_text(img, ":mime", e->mime);
	db_bind_int64(img, ":bytes", e->bytes);
	db_bind_int64(img, ":w", e->width);
	db_bind_int64(img, ":h", e->height);
	db_bind_text(img, ":model", p->model.id);
	db_bind_text(img, ":size", p->image_size);
	db_bind_text(img, ":ratio", p->aspect_ratio);
	db_bind_text(cnt, ":id", a->id);
	int ok = sqlite3_step(ent) == SQLITE_DONE;
	ok = ok && sqlite3_step(img) == SQLITE_DONE;
	ok = ok && sqlite3_step(cnt) == SQLITE_DONE;
	sqlite3_reset(ent);
	sqlite3_reset(img);
	sqlite3_reset(cnt);
	/* In the same transaction: no second one per request. */
	if (ok && a->last && prune_over(a->cfg, db, PRUNE_PER_ADD) < 0)
		ok = 0;
	return ok ? 0 : -1;
}

/* 1 when every image of the request came from the cache and is in one of
 * owner's entries already: a repeated request adds no copy.  A read, so the
 * hot path of repeated hits writes nothing. */
static int already_kept(sqlite3 *db, const char *owner, const struct produce *pr)
{
	sqlite3_stmt *st =
		db_stmt(db, "SELECT 1 FROM gallery_images i JOIN gallery_entries e ON "
			    "e.id = i.entry_id WHERE i.blob = :blob AND e.owner = :owner "
			    "LIMIT 1");
	if (!st)
		return 0;
	int all = 1;
	for (int i = 0; all && i < pr->n; i++) {
		const struct produce_item *it = &pr->items[i];
		if (!it->b64 && !(it->cached && it->stored))
			continue; /* failed slot */
		if (!it->cached || !it->stored) {
			all = 0;
			break;
		}
		db_bind_text(st, ":blob", it->entry.blob);
		db_bind_text(st, ":owner", owner);
		all = sqlite3_step(st) == SQLITE_ROW;
		sqlite3_reset(st);
	}
	return all;
}

int gallery_add_produce(const struct config *cfg, sqlite3 *db, const char *owner,
			const char *source, const char *prompt, const struct produce *pr,
			char *id_out)
{
	if (!cfg->gallery_enabled || !db || pr->mode == PRODUCE_CACHE_NO_STORE ||
	    pr->succeeded <= 0 || !pr->plan.revised_prompt)
		return 0;
	if (pr->hits == pr->succeeded && already_kept(db, owner, pr))
		return 0;
	char id[GALLERY_ID_MAX];
	if (ulid_new("gal_", id, sizeof id) != 0)
		return -1;
	struct add_arg a = {cfg, id, owner, source, prompt, pr, 0, 0, (long)time(NULL), 0};
	int last = -1;
	for (int i = 0; i < pr->n; i++)
		if (pr->items[i].b64 || (pr->items[i].cached && pr->items[i].stored))
			last = i;
	for (int i = 0; i < pr->n; i++) {
		const struct produce_item *it = &pr->items[i];
		if (!it->b64 && !(it->cached && it->stored))
			continue; /* this slot failed */
		struct cache_entry e;
		memset(&e, 0, sizeof e);
		if (it->stored)
			e = it->entry;
		a.slot = i;
		a.last = i == last;
		if (cache_blob_keep(cfg, db, it->stored ? it->entry.blob : NULL, it->b64,
				    it->b64_len, &e, pin_image, &a) == 0)
			a.kept++;
	}
	if (a.kept == 0) {
		log_msg(LOG_WARN, "gallery: no image of the request could be kept");
		return -1;
	}
	if (id_out)
		snprintf(id_out, GALLERY_ID_MAX, "%s", id);
	return 1;
}

int gallery_add_job(const struct config *cfg, sqlite3 *db, const char *job_id, long now)
{
	char id[GALLERY_ID_MAX];
	if (ulid_new("gal_", id, sizeof id) != 0)
		return -1;
	sqlite3_stmt *ent = db_stmt(
		db,
		"INSERT INTO gallery_entries(id, owner, source, job_id, prompt, revised_prompt, "
		"quality, style, safety, image_count, created) SELECT :gid, owner, 'job', id, "
		"prompt, (SELECT revised_prompt FROM job_results WHERE job_id = :job AND "
		"status = 'completed' ORDER BY idx LIMIT 1), json_extract(request, "
		"'$.quality'), json_extract(request, '$.style'), json_extract(request, "
		"'$.safety_threshold'), (SELECT count(*) FROM job_results WHERE job_id = :job "
		"AND status = 'completed' AND blob IS NOT NULL), :now FROM jobs WHERE id = :job");
	sqlite3_stmt *img = db_stmt(
		db, "INSERT INTO gallery_images(entry_id, idx, blob, ext, mime, bytes, width, "
		    "height, model, image_size, aspect_ratio) SELECT :gid, idx, blob, ext, mime, "
		    "bytes, coalesce(width, 0), coalesce(height, 0), model, image_size, "
		    "aspect_ratio FROM job_results WHERE job_id = :job AND status = 'completed' "
		    "AND blob IS NOT NULL");
	if (!ent || !img)
		return -1;
	db_bind_text(ent, ":gid", id);
	db_bind_text(ent, ":job", job_id);
	db_bind_int64(ent, ":now", now);
	db_bind_text(img, ":gid", id);
	db_bind_text(img, ":job", job_id);
	int ok = sqlite3_step(ent) == SQLITE_DONE;
	ok = ok && sqlite3_step(img) == SQLITE_DONE;
	int added = ok ? sqlite3_changes(db) : 0;
	sqlite3_reset(ent);
	sqlite3_reset(img);
	if (!ok)
		return -1;
	if (prune_over(cfg, db, PRUNE_PER_ADD) < 0)
		return -1;
	return added > 0 ? 1 : 0;
}

/* ---- reading --------------------------------------------------------------- */

static void read_image(sqlite3_stmt *st, int col, struct gallery_image *g)
{
	db_column_copy(st, col, g->image.blob, sizeof g->image.blob);
	db_column_copy(st, col + 1, g->image.ext, sizeof g->image.ext);
	db_column_copy(st, col + 2, g->image.mime, sizeof g->image.mime);
	g->image.bytes = (long)sqlite3_column_int64(st, col + 3);
	g->image.width = sqlite3_column_int(st, col + 4);
	g->image.height = sqlite3_column_int(st, col + 5);
	db_column_copy(st, col + 6, g->model, sizeof g->model);
	db_column_copy(st, col + 7, g->image_size, sizeof g->image_size);
	db_column_copy(st, col + 8, g->aspect_ratio, sizeof g->aspect_ratio);
}

#define ENTRY_COLS                                                                                 \
	"e.id, e.owner, e.source, e.job_id, e.prompt, e.revised_prompt, e.quality, e.style, "      \
	"e.safety, e.image_count, e.created"
#define IMAGE_COLS                                                                                 \
	"i.blob, i.ext, i.mime, i.bytes, i.width, i.height, i.model, i.image_size, "               \
	"i.aspect_ratio"

static void read_entry(sqlite3_stmt *st, struct gallery_entry *e)
{
	db_column_copy(st, 0, e->id, sizeof e->id);
	db_column_copy(st, 1, e->owner, sizeof e->owner);
	db_column_copy(st, 2, e->source, sizeof e->source);
	db_column_copy(st, 3, e->job_id, sizeof e->job_id);
	e->prompt = db_column_dup(st, 4);
	e->revised_prompt = db_column_dup(st, 5);
	db_column_copy(st, 6, e->quality, sizeof e->quality);
	db_column_copy(st, 7, e->style, sizeof e->style);
	db_column_copy(st, 8, e->safety, sizeof e->safety);
	e->image_count = sqlite3_column_int(st, 9);
	e->created = (long)sqlite3_column_int64(st, 10);
}

int gallery_get(sqlite3 *db, const char *id, struct gallery_entry *e)
{
	memset(e, 0, sizeof *e);
	sqlite3_stmt *st =
		db ? db_stmt(db, "SELECT " ENTRY_COLS " FROM gallery_entries e WHERE e.id = :id "
				 "AND e.image_count > 0")
		   : NULL;
	sqlite3_stmt *im = db ? db_stmt(db, "SELECT " IMAGE_COLS " FROM gallery_images i WHERE "
					    "i.entry_id = :id ORDER BY i.idx")
			      : NULL;
	if (!st || !im)
		return -1;
	db_bind_text(st, ":id", id);
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		return rc == SQLITE_DONE ? 0 : -1;
	}
	read_entry(st, e);
	sqlite3_reset(st);
	e->images = xcalloc((size_t)e->image_count, sizeof *e->images);
	db_bind_text(im, ":id", id);
	while (e->nimages < e->image_count && sqlite3_step(im) == SQLITE_ROW)
		read_image(im, 0, &e->images[e->nimages++]);
	sqlite3_reset(im);
	return 1;
}

int gallery_list(sqlite3 *db, const char *owner, const char *before, int limit,
		 struct gallery_entry **out, int *has_more)
{
	*out = NULL;
	*has_more = 0;
	if (!db)
		return -1;
	if (limit < 1 || limit > GALLERY_LIMIT_MAX)
		limit = GALLERY_LIMIT_MAX;
		/* Two statements, so each walks an index: (owner, id) or the id. */
#define LIST_FROM                                                                                  \
	" FROM gallery_entries e LEFT JOIN gallery_images i ON i.entry_id = e.id AND i.idx = "     \
	"(SELECT min(idx) FROM gallery_images WHERE entry_id = e.id) WHERE "
	sqlite3_stmt *st =
		owner ? db_stmt(db, "SELECT " ENTRY_COLS ", " IMAGE_COLS LIST_FROM
				    "e.owner = :owner AND e.id < :before AND e.image_count > 0 "
				    "ORDER BY e.id DESC LIMIT :limit")
		      : db_stmt(db, "SELECT " ENTRY_COLS ", " IMAGE_COLS LIST_FROM
				    "e.id < :before AND e.image_count > 0 ORDER BY e.id DESC "
				    "LIMIT :limit");
#undef LIST_FROM
	if (!st)
		return -1;
	if (owner)
		db_bind_text(st, ":owner", owner);
	/* "~" sorts after every id. */
	db_bind_text(st, ":before", before && before[0] ? before : "~");
	db_bind_int64(st, ":limit", limit + 1);
	struct gallery_entry *list = xcalloc((size_t)limit, sizeof *list);
	int n = 0, rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == limit) {
			*has_more = 1;
			rc = SQLITE_DONE;
			break;
		}
		struct gallery_entry *e = &list[n++];
		read_entry(st, e);
		e->images = xcalloc(1, sizeof *e->images);
		if (sqlite3_column_type(st, 11) != SQLITE_NULL) {
			read_image(st, 11, &e->images[0]);
			e->nimages = 1;
		}
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		gallery_entries_free(list, n);
		return -1;
	}
	*out = list;
	return n;
}

void gallery_entry_free(struct gallery_entry *e)
{
	free(e->prompt);
	free(e->revised_prompt);
	free(e->images);
	memset(e, 0, sizeof *e);
}

void gallery_entries_free(struct gallery_entry *list, int n)
{
	for (int i = 0; list && i < n; i++)
		gallery_entry_free(&list[i]);
	free(list);
}

int gallery_delete(const struct config *cfg, sqlite3 *db, const char *id, const char *owner)
{
	if (!db || db_begin(db) != SQLITE_OK)
		return -1;
	/* The owner in the statement itself: no window between a check and the
	 * delete. */
	sqlite3_stmt *st = db_stmt(db, "DELETE FROM gallery_entries WHERE id = :id AND "
				       "(:owner IS NULL OR owner = :owner)");
	if (!st)
		goto fail;
	db_bind_text(st, ":id", id);
	db_bind_text(st, ":owner", owner); /* NULL binds NULL: any owner */
	int ok = sqlite3_step(st) == SQLITE_DONE;
	sqlite3_reset(st);
	int n = sqlite3_changes(db);
	if (!ok || (n > 0 && cache_drop_orphans(cfg, db) < 0) || db_commit(db) != SQLITE_OK)
		goto fail;
	return n > 0 ? 1 : 0;
fail:
	log_msg(LOG_WARN, "gallery delete failed: %s", sqlite3_errmsg(db));
	db_rollback(db);
	return -1;
}
