/* GET /metrics (SPEC 2.8, 8): the Prometheus text exposition of every
 * process's counters, read from the database, with this process's own
 * pending deltas written first so its latest requests show. */
#include "metrics.h"

#include "route.h"

enum img_err metrics_get_route(struct ctx *c)
{
	metrics_flush(c->app->db, METRICS_PATIENCE_MS);
	if (metrics_render(&c->app->cfg, c->app->db, &c->rp->body) != 0)
		return err_set(&c->err, IMG_UNAVAILABLE, NULL,
			       "The metrics cannot be read: the database is unavailable.");
	c->rp->content_type = METRICS_CONTENT_TYPE;
	reply_header(c->rp, "Cache-Control", "no-store");
	return IMG_OK;
}
