/* Who is calling: the operator's admin key (api_key / IMAGEGW_API_KEY) from
 * `Authorization: Bearer` or `x-api-key`.  Client keys, per-key limits and
 * anonymous access arrive with the key-pool issue (SPEC 2.9). */
#ifndef IMAGEGW_AUTH_H
#define IMAGEGW_AUTH_H

#include "route.h"

/* IMG_OK when the request carries the admin key; else 401 (no or wrong key)
 * or 403 (no admin key configured), with c->err filled. */
enum img_err auth_admin(struct ctx *c);
/* The key the request presents ("" if none): Bearer token or x-api-key. */
const char *auth_presented_key(const struct http_request *rq);

#endif
