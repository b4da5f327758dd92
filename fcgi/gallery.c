/* GET /v1/gallery, GET and DELETE /v1/gallery/{id} (SPEC 2.7): the
 * caller's past jobs and generations, newest first, paged with a `before`
 * cursor (an entry id), each image behind a fresh signed link; and deleting
 * one of them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gallery.h"
#include "json.h"
#include "links.h"
#include "owner.h"
#include "route.h"

#define DEFAULT_LIMIT 20

static enum img_err gallery_off(struct ctx *c)
{
	err_set(&c->err, IMG_NOT_FOUND, NULL, "The gallery is turned off on this gateway.");
	snprintf(c->err.remedy, sizeof c->err.remedy,
		 "The operator can turn it on with gallery_enabled = true.");
	return IMG_NOT_FOUND;
}

/* 503: the database is busy past its timeout, or not open. */
static enum img_err unavailable(struct ctx *c, const char *msg)
{
	err_set(&c->err, IMG_UNAVAILABLE, NULL, "%s", msg);
	c->err.retry_after = 2;
	return IMG_UNAVAILABLE;
}

/* ?limit=1..100 (default 20), ?before=<gallery id>; anything else named
 * by its parameter. */
static enum img_err parse_query(struct ctx *c, int *limit, char before[GALLERY_ID_MAX])
{
	char v[64];
	*limit = DEFAULT_LIMIT;
	before[0] = '\0';
	if (http_query_param(c->rq->query, "limit", v, sizeof v)) {
		char *end;
		long n = strtol(v, &end, 10);
		if (!v[0] || *end || v[0] == '+' || v[0] == '-' || v[0] == ' ' || n < 1 ||
		    n > GALLERY_LIMIT_MAX)
			return err_set(&c->err, IMG_INVALID_REQUEST, "limit",
				       "'limit' must be a whole number from 1 to %d; got '%.20s'.",
				       GALLERY_LIMIT_MAX, v);
		*limit = (int)n;
	}
	if (http_query_param(c->rq->query, "before", v, sizeof v)) {
		if (!ulid_valid("gal_", v))
			return err_set(&c->err, IMG_INVALID_REQUEST, "before",
				       "'before' must be a gallery entry id (the 'next' of the "
				       "previous page); got '%.40s'.",
				       v);
		memcpy(before, v, strlen(v) + 1); /* ulid_valid: 30 characters */
	}
	return IMG_OK;
}

static void put_image_url(struct ctx *c, const char *base, const struct gallery_image *g)
{
	struct buf url = BUF_INIT;
	links_file(c, base, g->image.blob, g->image.ext, &url);
	json_put_str(&c->rp->body, url.data, url.len);
	buf_free(&url);
}

/* The fields an entry shows in the list and in its detail. */
static void put_entry_head(struct buf *b, const struct gallery_entry *e)
{
	buf_printf(b,
		   "{\"id\":\"%s\",\"object\":\"gallery.entry\",\"created\":%ld,\"prompt\":", e->id,
		   e->created);
	json_put_cstr(b, e->prompt);
	buf_printf(b, ",\"image_count\":%d,\"source\":", e->image_count);
	json_put_cstr(b, e->source);
	buf_puts(b, ",\"job_id\":");
	json_put_cstr(b, e->job_id[0] ? e->job_id : NULL);
}

enum img_err gallery_list_route(struct ctx *c)
{
	if (!c->app->cfg.gallery_enabled)
		return gallery_off(c);
	int limit;
	char before[GALLERY_ID_MAX], owner[OWNER_MAX];
	enum img_err rc = parse_query(c, &limit, before);
	if (rc != IMG_OK)
		return rc;
	struct gallery_entry *list;
	int has_more;
	int n = gallery_list(c->app->db, owner_scope(c, owner), before, limit, &list, &has_more);
	if (n < 0)
		return unavailable(c, "The gallery cannot be read right now.");
	struct buf *b = &c->rp->body, base = BUF_INIT;
	links_base(c, &base);
	buf_puts(b, "{\"object\":\"list\",\"data\":[");
	for (int i = 0; i < n; i++) {
		const struct gallery_entry *e = &list[i];
		if (i)
			buf_putc(b, ',');
		put_entry_head(b, e);
		buf_puts(b, ",\"preview_url\":");
		if (e->nimages > 0)
			put_image_url(c, base.data, &e->images[0]);
		else
			buf_puts(b, "null");
		buf_putc(b, '}');
	}
	buf_printf(b, "],\"has_more\":%s,\"next\":", has_more ? "true" : "false");
	json_put_cstr(b, has_more && n > 0 ? list[n - 1].id : NULL);
	buf_puts(b, "}\n");
	reply_header(c->rp, "Cache-Control", "no-store");
	buf_free(&base);
	gallery_entries_free(list, n);
	return IMG_OK;
}

/* The same answer for an entry that never was, was deleted, or is someone
 * else's: nothing tells them apart. */
static enum img_err no_such_entry(struct ctx *c)
{
	err_set(&c->err, IMG_NOT_FOUND, NULL, "There is no gallery entry with that id.");
	snprintf(c->err.remedy, sizeof c->err.remedy,
		 "Reload the gallery: the entry may have been deleted, or have been made "
		 "with another API key.");
	return IMG_NOT_FOUND;
}

/* The {id} of /v1/gallery/{id}, or NULL when it cannot be an entry id. */
static const char *path_id(const struct ctx *c)
{
	const char *p = strstr(c->rq->path, "/gallery/");
	const char *id = p ? p + strlen("/gallery/") : "";
	return ulid_valid("gal_", id) ? id : NULL;
}

enum img_err gallery_get_route(struct ctx *c)
{
	if (!c->app->cfg.gallery_enabled)
		return gallery_off(c);
	const char *id = path_id(c);
	struct gallery_entry e;
	if (!id)
		return no_such_entry(c);
	int found = gallery_get(c->app->db, id, &e);
	if (found < 0)
		return unavailable(c, "The gallery cannot be read right now.");
	if (found == 1 && !owner_can_see(c, e.owner)) {
		gallery_entry_free(&e);
		found = 0;
	}
	if (found == 0)
		return no_such_entry(c);
	struct buf *b = &c->rp->body, base = BUF_INIT;
	links_base(c, &base);
	put_entry_head(b, &e);
	buf_puts(b, ",\"revised_prompt\":");
	json_put_cstr(b, e.revised_prompt);
	buf_puts(b, ",\"quality\":");
	json_put_cstr(b, e.quality[0] ? e.quality : NULL);
	buf_puts(b, ",\"style\":");
	json_put_cstr(b, e.style[0] ? e.style : NULL);
	buf_puts(b, ",\"safety_threshold\":");
	json_put_cstr(b, e.safety[0] ? e.safety : NULL);
	buf_puts(b, ",\"images\":[");
	for (int i = 0; i < e.nimages; i++) {
		const struct gallery_image *g = &e.images[i];
		buf_puts(b, i ? ",{\"url\":" : "{\"url\":");
		put_image_url(c, base.data, g);
		buf_puts(b, ",\"model\":");
		json_put_cstr(b, g->model);
		buf_puts(b, ",\"image_size\":");
		json_put_cstr(b, g->image_size[0] ? g->image_size : NULL);
		buf_puts(b, ",\"aspect_ratio\":");
		json_put_cstr(b, g->aspect_ratio[0] ? g->aspect_ratio : NULL);
		buf_printf(b, ",\"width\":%d,\"height\":%d,\"bytes\":%ld,\"mime\":", g->image.width,
			   g->image.height, g->image.bytes);
		json_put_cstr(b, g->image.mime);
		buf_putc(b, '}');
	}
	buf_puts(b, "]}\n");
	reply_header(c->rp, "Cache-Control", "no-store");
	buf_free(&base);
	gallery_entry_free(&e);
	return IMG_OK;
}

/* Deletes one of the caller's entries (an admin's: anyone's); someone
 * else's is as missing as one that never was.  Images another entry, a job
 * or the cache still uses stay on disk (gallery_delete). */
enum img_err gallery_delete_route(struct ctx *c)
{
	if (!c->app->cfg.gallery_enabled)
		return gallery_off(c);
	/* Anonymous callers share one gallery.  On a gateway with no keys at
	 * all (allow_anonymous = auto) that is the operator's own; one opened
	 * on purpose (true) serves visitors, and one must not wipe the rest. */
	if (c->authed == AUTH_ANONYMOUS && strcmp(c->app->cfg.allow_anonymous, "auto") != 0) {
		err_set(&c->err, IMG_FORBIDDEN, NULL,
			"Deleting from the gallery needs an API key on a gateway open to the "
			"public (allow_anonymous = true).");
		snprintf(c->err.remedy, sizeof c->err.remedy,
			 "Send a client key (imagegw key create) or the admin key.");
		return IMG_FORBIDDEN;
	}
	const char *id = path_id(c);
	if (!id)
		return no_such_entry(c);
	char owner[OWNER_MAX];
	int n = gallery_delete(&c->app->cfg, c->app->db, id, owner_scope(c, owner));
	if (n < 0)
		return unavailable(c, "The gallery cannot be changed right now; nothing was "
				      "deleted.");
	if (n == 0)
		return no_such_entry(c);
	buf_printf(&c->rp->body,
		   "{\"id\":\"%s\",\"object\":\"gallery.deleted\",\"deleted\":true}\n", id);
	reply_header(c->rp, "Cache-Control", "no-store");
	return IMG_OK;
}
