/* Who is calling (SPEC 2.9): the operator's static admin key (api_key /
 * IMAGEGW_API_KEY), a client key from `imagegw key create`, or nobody —
 * anonymous, when allow_anonymous lets it in.  Keys arrive in
 * `Authorization: Bearer` or `x-api-key`. */
#ifndef IMAGEGW_AUTH_H
#define IMAGEGW_AUTH_H

#include "route.h"

/* Sets c->client_ip: REMOTE_ADDR, or the client named by X-Forwarded-For
 * when REMOTE_ADDR is one of trusted_proxies. */
void auth_client_ip(struct ctx *c);
/* For ROUTE_CLIENT routes: IMG_OK with c->authed and c->client set, else
 * 401 (no key where one is needed; an unknown or revoked key) or 503 (the
 * key table cannot be read), with c->err filled. */
enum img_err auth_client(struct ctx *c);
/* For ROUTE_ADMIN routes: IMG_OK for the static admin key or an admin
 * client key; 403 for a client key without --admin or when no admin key
 * exists at all; else 401. */
enum img_err auth_admin(struct ctx *c);
/* The key the request presents ("" if none): Bearer token or x-api-key. */
const char *auth_presented_key(const struct http_request *rq);

#endif
