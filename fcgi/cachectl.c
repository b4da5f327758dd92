/* The cache's admin routes (SPEC 2.8): GET /v1/cache/stats and DELETE
 * /v1/cache (everything, or ?model=&prompt_hash= for matching entries). */
#include <string.h>

#include "cache.h"
#include "route.h"

enum img_err cache_stats_get_route(struct ctx *c)
{
	struct cache_stats s;
	if (cache_stats_get(&c->app->cfg, c->app->db, &s) != 0)
		return err_set(&c->err, IMG_UNAVAILABLE, NULL, "The cache index cannot be read.");
	cache_stats_json(&s, &c->rp->body);
	buf_putc(&c->rp->body, '\n');
	reply_header(c->rp, "Cache-Control", "no-store");
	return IMG_OK;
}

enum img_err cache_delete_route(struct ctx *c)
{
	char model[128], prompt_hash[80];
	int filtered = http_query_param(c->rq->query, "model", model, sizeof model);
	filtered |= http_query_param(c->rq->query, "prompt_hash", prompt_hash, sizeof prompt_hash);
	/* "?model=" with nothing after it must not clear the whole cache. */
	if (filtered && !model[0] && !prompt_hash[0])
		return err_set(&c->err, IMG_INVALID_REQUEST, "model",
			       "Give a value for model or prompt_hash, or neither to remove "
			       "everything.");
	long n = model[0] || prompt_hash[0]
			 ? cache_invalidate(&c->app->cfg, c->app->db, model, prompt_hash)
			 : cache_clear(&c->app->cfg, c->app->db);
	if (n < 0)
		return err_set(&c->err, IMG_UNAVAILABLE, NULL,
			       "The cache could not be changed; try again.");
	buf_printf(&c->rp->body, "{\"deleted\":%ld}\n", n);
	return IMG_OK;
}
