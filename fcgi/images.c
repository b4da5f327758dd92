/* POST /v1/images/generations (SPEC 2.1): parse the body, produce the images
 * (cache + upstream), render the OpenAI-shaped answer with the X-Imagegw-*
 * headers; fresh images are stored after the reply has gone.  The part after
 * parsing is images_respond (images.h), which edits.c shares. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "filter.h"
#include "genreq.h"
#include "hash.h"
#include "images.h"
#include "json.h"
#include "produce.h"
#include "route.h"
#include "throttle.h"
#include "urlsign.h"
#include "xalloc.h"

/* The resolved variant id for X-Imagegw-Model: family plus the resolution
 * and ratio actually used ("gemini-3-pro-image-4k-16x9"). */
static void variant_id(const struct gen_plan *p, char *out, size_t len)
{
	char ratio[8];
	snprintf(ratio, sizeof ratio, "%s", p->aspect_ratio);
	char *colon = strchr(ratio, ':');
	if (colon)
		*colon = 'x';
	if (strcmp(p->model.family, "gemini-3-pro-image") == 0)
		snprintf(out, len, "%s-%ck-%s", p->model.family, p->image_size[0], ratio);
	else if (strcmp(p->model.family, "local-preview") == 0)
		snprintf(out, len, "%s-%s", p->model.family, ratio);
	else
		snprintf(out, len, "%s", p->model.family);
}

static void note_plan(struct ctx *c, const struct gen_plan *p, const struct gen_req *r)
{
	struct req_log *l = &c->log;
	snprintf(l->model, sizeof l->model, "%s", p->model.id);
	snprintf(l->resolution, sizeof l->resolution, "%s", p->image_size);
	snprintf(l->aspect_ratio, sizeof l->aspect_ratio, "%s", p->aspect_ratio);
	snprintf(l->prompt_hash, sizeof l->prompt_hash, "%s", p->prompt_hash);
	l->provider = model_provider_name(p->model.provider);
	/* The request log is written after the gen_req is freed: point at
	 * static copies of the (already canonical) choice values. */
	static const char *const choices[] = {"standard", "hd",	   "low",     "medium", "high",
					      "auto",	  "vivid", "natural", NULL};
	l->quality = l->style = NULL;
	for (int i = 0; choices[i]; i++) {
		if (r->quality && strcmp(r->quality, choices[i]) == 0)
			l->quality = choices[i];
		if (r->style && strcmp(r->style, choices[i]) == 0)
			l->style = choices[i];
	}
	l->n = r->n;
	l->safety = safety_name(p->safety);
	if (r->user)
		snprintf(l->user, sizeof l->user, "%s", r->user);
}

/* scheme://host + base_path, or public_base_url: what image URLs start with. */
static void url_base(const struct ctx *c, struct buf *out)
{
	const struct config *cfg = &c->app->cfg;
	if (cfg->public_base_url[0]) {
		size_t n = strlen(cfg->public_base_url);
		while (n > 0 && cfg->public_base_url[n - 1] == '/')
			n--;
		buf_append(out, cfg->public_base_url, n);
		return;
	}
	buf_printf(out, "%s://%s%s", c->rq->https ? "https" : "http",
		   c->rq->host[0] ? c->rq->host : "localhost", cfg->base_path);
}

/* One data[] entry's image: a signed URL to the cached file, a data: URI,
 * or the base64 itself (spliced in by reference, not copied). */
static void render_image(struct ctx *c, const struct gen_req *r, const struct produce_item *it,
			 const struct buf *base)
{
	struct buf *b = &c->rp->body;
	const struct config *cfg = &c->app->cfg;
	if (!r->response_url) {
		buf_puts(b, "\"b64_json\":\"");
		reply_body_ref(c->rp, it->b64, it->b64_len);
		buf_putc(b, '"');
		return;
	}
	if (it->stored && strcmp(cfg->url_mode, "url") == 0) {
		char path[128];
		snprintf(path, sizeof path, "/v1/files/%s.%s", it->entry.blob, it->entry.ext);
		struct buf url = BUF_INIT;
		urlsign_url(&url, base->data, path, c->app->url_secret,
			    (long)time(NULL) + cfg->url_ttl_seconds);
		buf_puts(b, "\"url\":");
		json_put_str(b, url.data, url.len);
		buf_free(&url);
		return;
	}
	/* url_mode=data, or no file to point at (cache off or store failed). */
	buf_printf(b, "\"url\":\"data:%s;base64,", it->mime);
	reply_body_ref(c->rp, it->b64, it->b64_len);
	buf_putc(b, '"');
}

static void render_images(struct ctx *c, const struct gen_req *r, const struct produce *pr)
{
	struct buf *b = &c->rp->body;
	struct buf base = BUF_INIT;
	url_base(c, &base);
	buf_printf(b, "{\"created\":%lld,\"data\":[", (long long)time(NULL));
	int first = 1;
	for (int i = 0; i < pr->n; i++) {
		const struct produce_item *it = &pr->items[i];
		if (!it->b64 && !(it->cached && it->stored))
			continue;
		buf_puts(b, first ? "{" : ",{");
		first = 0;
		render_image(c, r, it, &base);
		buf_puts(b, ",\"revised_prompt\":");
		json_put_cstr(b, pr->plan.revised_prompt);
		buf_putc(b, '}');
	}
	buf_printf(b, "],\"usage\":{\"images\":%d,\"cached\":%d}", pr->succeeded, pr->hits);
	if (pr->succeeded < pr->n) {
		buf_puts(b, ",\"errors\":[");
		first = 1;
		for (int i = 0; i < pr->n; i++) {
			const struct produce_item *it = &pr->items[i];
			if (it->b64 || it->cached)
				continue;
			buf_printf(b, "%s{\"index\":%d,\"code\":", first ? "" : ",", i);
			first = 0;
			json_put_cstr(b, err_info(it->err.code)->code);
			buf_puts(b, ",\"message\":");
			json_put_cstr(b, it->err.message[0] ? it->err.message
							    : err_info(it->err.code)->message);
			buf_putc(b, '}');
		}
		buf_putc(b, ']');
	}
	buf_puts(b, "}\n");
	buf_free(&base);
}

/* What the request asked of the cache: Cache-Control and the body's "cache". */
static enum produce_cache_mode cache_mode(const struct ctx *c, const struct gen_req *r)
{
	const char *cc = c->rq->cache_control;
	if (r->no_store || strcasestr(cc, "no-store"))
		return PRODUCE_CACHE_NO_STORE;
	if (strcasestr(cc, "no-cache"))
		return PRODUCE_CACHE_REFRESH;
	return PRODUCE_CACHE_USE;
}

struct pending {
	struct app *app;
	struct produce pr;
};

/* After the reply: store fresh images, release locks, free everything. */
static void settle(void *arg)
{
	struct pending *pd = arg;
	produce_settle(&pd->app->cfg, pd->app->db, &pd->pr);
	produce_free(&pd->pr);
	free(pd);
}

enum img_err images_respond(struct ctx *c, struct gen_req *r)
{
	/* The images stay alive until the reply is sent (reply_body_ref). */
	struct pending *pd = xcalloc(1, sizeof *pd);
	pd->app = c->app;
	struct throttle_hold hold = {0};
	enum img_err rc = IMG_OK;
	/* The content filter runs before anything is looked up, called or stored. */
	char matched[FILTER_MATCHED_MAX];
	if (filter_check(&c->app->cfg, r->prompt, matched, sizeof matched)) {
		hash_prompt16(r->prompt, c->log.prompt_hash);
		rc = err_set(&c->err, IMG_CONTENT_FILTERED, "prompt",
			     "The prompt contains \"%s\", which this gateway does not accept.",
			     matched);
		goto out;
	}
	/* A key pinned to a minimum safety threshold: the request may raise it only. */
	r->safety = clientkey_safety(&c->client, r->safety, c->app->cfg.safety_threshold);
	struct produce *pr = &pd->pr;
	/* Files must exist before the reply only when it links to them. */
	int need_files = r->response_url && strcmp(c->app->cfg.url_mode, "url") == 0;
	/* The key's daily image budget: reserved before generating; hits and
	 * failures are given back as soon as they are known (SPEC 6.2). */
	rc = throttle_images_reserve(c, r->n, &hold);
	if (rc != IMG_OK)
		goto out;
	rc = produce_run(&c->app->cfg, c->app->db, r, cache_mode(c, r), need_files,
			 c->rq->request_id, pr, &c->err);
	throttle_images_settle(c, &hold, pr->succeeded - pr->hits);
	if (pr->plan.revised_prompt)
		note_plan(c, &pr->plan, r);
	c->log.provider = pr->gen.provider ? pr->gen.provider : c->log.provider;
	snprintf(c->log.account, sizeof c->log.account, "%s", pr->gen.account);
	c->log.retry_count = pr->gen.retry_count;
	c->log.generation_ms = pr->gen.generation_ms;
	c->log.upstream_status = pr->gen.upstream_status;
	snprintf(c->log.finish_reason, sizeof c->log.finish_reason, "%s", pr->gen.finish_reason);
	c->log.images = pr->succeeded;
	c->log.cache = pr->cache_state;
	if (rc != IMG_OK)
		goto out;
	char variant[128];
	variant_id(&pr->plan, variant, sizeof variant);
	reply_header(c->rp, "X-Imagegw-Cache", "%s", pr->cache_state);
	reply_header(c->rp, "X-Imagegw-Model", "%s", variant);
	reply_header(c->rp, "X-Imagegw-Aspect-Ratio", "%s", pr->plan.aspect_ratio);
	reply_header(c->rp, "X-Imagegw-Image-Size", "%s",
		     pr->plan.image_size[0] ? pr->plan.image_size : "auto");
	if (pr->plan.upstream_size[0]) /* openai: the exact size asked for */
		reply_header(c->rp, "X-Imagegw-Size", "%s", pr->plan.upstream_size);
	reply_header(c->rp, "Cache-Control", "no-store");
	render_images(c, r, pr);
	c->after_send = settle;
	c->after_arg = pd;
	pd = NULL;
out:
	throttle_images_settle(c, &hold, 0); /* an early exit generated nothing */
	if (pd)
		settle(pd);
	return rc;
}

enum img_err images_generations(struct ctx *c)
{
	struct gen_req r;
	enum img_err rc =
		genreq_parse_json(&c->app->cfg, c->rq->body.data, c->rq->body.len, &r, &c->err);
	if (rc == IMG_OK)
		rc = images_respond(c, &r);
	genreq_free(&r);
	return rc;
}
