/* The client limits of SPEC 6.2 as the web face applies them: which limits
 * apply to the caller auth_client found, the 429 and its X-RateLimit-*
 * headers.  Counting is core/ratelimit.c's. */
#ifndef IMAGEGW_THROTTLE_H
#define IMAGEGW_THROTTLE_H

#include "route.h"

/* Counts the request against the caller's limits (key rpm; per-IP for
 * anonymous callers outside ip_allowlist; rate_global for all).  IMG_OK, or
 * 429 IMG_RATE_LIMITED with c->err filled.  Either way c->rate holds the
 * tightest limit for throttle_headers. */
enum img_err throttle_check(struct ctx *c);
/* Adds X-RateLimit-Limit, -Remaining and -Reset for c->rate, if a limit
 * applied. */
void throttle_headers(struct ctx *c);

/* Images reserved from a client key's daily budget by one request. */
struct throttle_hold {
	long long key_id;
	long long day; /* the UTC day they were reserved in */
	int reserved;
};

/* Reserves n images when the caller's key has a daily_images limit: IMG_OK
 * (h records what to settle), or 429 IMG_RATE_LIMITED when the day's budget
 * cannot cover n.  Call throttle_images_settle once generation is over. */
enum img_err throttle_images_reserve(struct ctx *c, int n, struct throttle_hold *h);
/* Gives back what was reserved but not generated upstream (cache hits are
 * free, failures cost nothing). */
void throttle_images_settle(struct ctx *c, struct throttle_hold *h, int generated);

#endif
