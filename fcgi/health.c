/* GET /healthz (SPEC 2.8): 200 when the database answers and the cache
 * directory is writable, else 503 with the part that failed. */
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "pool.h"
#include "route.h"

enum img_err health_get(struct ctx *c)
{
	struct app *app = c->app;
	int db_ok = db_check(app->db) == 0;
	int cache_ok = access(app->cfg.cache_dir, W_OK | X_OK) == 0;
	int ok = db_ok && cache_ok;
	struct buf *b = &c->rp->body;
	buf_printf(b, "{\"status\":\"%s\",\"db\":\"%s\",\"cache_dir\":\"%s\",\"upstreams\":{",
		   ok ? "ok" : "degraded", db_ok ? "ok" : "error", cache_ok ? "ok" : "error");
	/* gemini: the Gemini models are served (by API keys or Vertex accounts). */
	buf_printf(b, "\"gemini\":\"%s\",\"vertex\":\"%s\",\"openai\":\"%s\",\"local\":\"ok\"}}\n",
		   app->cfg.gemini_configured ? "configured" : "not_configured",
		   pool_usable(app->db, "vertex") > 0 ? "configured" : "not_configured",
		   app->cfg.openai_configured ? "configured" : "not_configured");
	if (!ok) {
		c->rp->status = 503;
		reply_header(c->rp, "Retry-After", "30");
	}
	reply_header(c->rp, "Cache-Control", "no-store");
	return IMG_OK;
}
