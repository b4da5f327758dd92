/* Rate limits for ROUTE_CLIENT routes, run by route_dispatch right after
 * auth_client and before the handler reads the body (a refused request costs
 * nothing), and the daily image budget around image generation. */
#include "throttle.h"

#include <string.h>
#include <time.h>

#include "metrics.h"

static enum img_err refuse(struct ctx *c, int asked)
{
	const struct rate_decision *d = &c->rate;
	const int window = c->app->cfg.rate_window_seconds;
	metrics_rate_limited(d->scope);
	if (strcmp(d->scope, "key") == 0)
		err_set(&c->err, IMG_RATE_LIMITED, NULL,
			"This key's limit of %ld requests per minute is used up.", d->limit);
	else if (strcmp(d->scope, "ip") == 0)
		err_set(&c->err, IMG_RATE_LIMITED, NULL,
			"The limit of %ld requests per %d s from one address without an API key "
			"is used up.",
			d->limit, window);
	else if (strcmp(d->scope, "images") == 0)
		err_set(&c->err, IMG_RATE_LIMITED, NULL,
			"This key's daily budget of %ld images is used up: %ld left today, %d "
			"asked for.",
			d->limit, d->remaining, asked);
	else
		err_set(&c->err, IMG_RATE_LIMITED, NULL,
			"The gateway's limit of %ld requests per %d s is used up.", d->limit,
			window);
	c->err.retry_after = d->retry_after;
	return IMG_RATE_LIMITED;
}

enum img_err throttle_check(struct ctx *c)
{
	const struct config *cfg = &c->app->cfg;
	struct rate_subject s;
	memset(&s, 0, sizeof s);
	s.window = cfg->rate_window_seconds;
	s.global_limit = cfg->rate_global;
	if (c->authed == AUTH_CLIENT_KEY) {
		s.key_id = c->client.id;
		s.key_rpm = c->client.rpm;
	} else if (c->authed == AUTH_ANONYMOUS &&
		   !ratelimit_ip_in(cfg->ip_allowlist, c->client_ip)) {
		s.ip = c->client_ip;
		s.ip_limit = cfg->rate_per_ip;
	}
	/* A database failure lets the request through (logged by core). */
	ratelimit_check(c->app->db, &s, (long long)time(NULL), &c->rate);
	return c->rate.allowed ? IMG_OK : refuse(c, 0);
}

void throttle_headers(struct ctx *c)
{
	const struct rate_decision *d = &c->rate;
	if (!d->applied)
		return;
	reply_header(c->rp, "X-RateLimit-Limit", "%ld", d->limit);
	reply_header(c->rp, "X-RateLimit-Remaining", "%ld", d->remaining);
	reply_header(c->rp, "X-RateLimit-Reset", "%lld", d->reset);
}

enum img_err throttle_images_reserve(struct ctx *c, int n, struct throttle_hold *h)
{
	memset(h, 0, sizeof *h);
	if (c->authed != AUTH_CLIENT_KEY || c->client.daily_images <= 0 || n <= 0)
		return IMG_OK;
	struct rate_decision d;
	if (ratelimit_images_reserve(c->app->db, c->client.id, c->client.daily_images, n,
				     (long long)time(NULL), &d, &h->day) != 0)
		return IMG_OK; /* the database failed: let it through, nothing reserved */
	if (!d.allowed) {
		c->rate = d; /* the 429's X-RateLimit-* describe the daily budget */
		return refuse(c, n);
	}
	h->key_id = c->client.id;
	h->reserved = n;
	return IMG_OK;
}

void throttle_images_settle(struct ctx *c, struct throttle_hold *h, int generated)
{
	int back = h->reserved - (generated > 0 ? generated : 0);
	if (back > 0)
		ratelimit_images_refund(c->app->db, h->key_id, h->day, back);
	h->reserved = 0;
}
