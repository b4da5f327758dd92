/* The route table: method, path, handler, who may call it.  Paths are
 * matched exactly after base_path is removed (a pattern ending in '*' matches
 * that prefix); both /v1/... and the bare /... forms are accepted so the
 * binary works wherever the web server mounts it. */
#include "route.h"

#include <string.h>

#include "auth.h"
#include "throttle.h"

/* PUBLIC: anyone (/healthz; /v1/files, whose signature is the credential).
 * CLIENT: a client key, the admin key, or nobody when anonymous access is
 * on — and the client rate limits.  POLL: the same callers without the
 * rate limits (a job's status, which a page polls every second or two while
 * the job runs; a cheap read).  ADMIN: an admin key.  METRICS: an admin key
 * unless metrics_public is set. */
enum route_auth { ROUTE_PUBLIC, ROUTE_CLIENT, ROUTE_POLL, ROUTE_ADMIN, ROUTE_METRICS };

static const struct route {
	const char *method;
	const char *path;
	route_fn fn;
	enum route_auth auth;
} routes[] = {
	{"POST", "/v1/images/generations", images_generations, ROUTE_CLIENT},
	{"POST", "/v1/images/edits", images_edits, ROUTE_CLIENT}, /* streams its body */
	{"POST", "/v1/prompts/enhance", prompts_enhance, ROUTE_CLIENT},
	{"POST", "/v1/jobs", jobs_create, ROUTE_CLIENT},
	{"GET", "/v1/jobs/*", jobs_get, ROUTE_POLL},
	{"GET", "/v1/gallery", gallery_list_route, ROUTE_CLIENT},
	{"GET", "/v1/gallery/*", gallery_get_route, ROUTE_CLIENT},
	{"DELETE", "/v1/gallery/*", gallery_delete_route, ROUTE_CLIENT}, /* the caller's own */
	{"GET", "/v1/models", models_list, ROUTE_CLIENT},
	{"GET", "/v1/files/*", files_get, ROUTE_PUBLIC}, /* the signature is the credential */
	{"GET", "/v1/cache/stats", cache_stats_get_route, ROUTE_ADMIN},
	{"DELETE", "/v1/cache", cache_delete_route, ROUTE_ADMIN},
	{"GET", "/healthz", health_get, ROUTE_PUBLIC},
	{"GET", "/metrics", metrics_get_route, ROUTE_METRICS},
};

static int match_one(const char *pattern, const char *path)
{
	size_t n = strlen(pattern);
	if (n && pattern[n - 1] == '*')
		return strncmp(pattern, path, n - 1) == 0 && path[n - 1] != '\0';
	return strcmp(pattern, path) == 0;
}

/* Paths also answer without the /v1 prefix (a server mounting us at /v1/
 * with the prefix stripped). */
static int path_matches(const char *pattern, const char *path)
{
	if (match_one(pattern, path))
		return 1;
	return strncmp(pattern, "/v1/", 4) == 0 && match_one(pattern + 3, path);
}

/* Who may call: the route's auth level, then for client routes the rate
 * limits, before the handler parses anything (a refused request costs
 * nothing). */
static enum img_err route_auth(struct ctx *c, enum route_auth level)
{
	switch (level) {
	case ROUTE_PUBLIC: return IMG_OK;
	case ROUTE_ADMIN: return auth_admin(c);
	case ROUTE_POLL: return auth_client(c);
	case ROUTE_METRICS: return c->app->cfg.metrics_public ? IMG_OK : auth_admin(c);
	case ROUTE_CLIENT:
		if (auth_client(c) != IMG_OK)
			return c->err.code;
		return throttle_check(c);
	}
	return IMG_OK;
}

/* POST routes whose handler reads the body itself as it arrives (uploads
 * checked against their limits while reading); the others get it whole. */
static const char *const streaming_routes[] = {"/v1/images/edits"};

int route_streams_body(const struct http_request *rq)
{
	for (size_t i = 0; i < sizeof streaming_routes / sizeof streaming_routes[0]; i++)
		if (strcmp(rq->method, "POST") == 0 && path_matches(streaming_routes[i], rq->path))
			return 1;
	return 0;
}

enum img_err route_dispatch(struct ctx *c)
{
	const char *method = c->rq->method;
	int path_known = 0;
	auth_client_ip(c);
	char allow[64] = "";
	for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
		const struct route *r = &routes[i];
		if (!path_matches(r->path, c->rq->path))
			continue;
		path_known = 1;
		int is_get = strcmp(r->method, "GET") == 0;
		if (strcmp(r->method, method) == 0 || (is_get && strcmp(method, "HEAD") == 0)) {
			c->route = r->path;
			enum img_err rc = route_auth(c, r->auth);
			if (rc == IMG_OK)
				rc = r->fn(c);
			throttle_headers(c); /* kept by reply_error on a 429 or any error */
			return rc;
		}
		size_t l = strlen(allow);
		snprintf(allow + l, sizeof allow - l, "%s%s%s", l ? ", " : "", r->method,
			 is_get ? ", HEAD" : "");
	}
	if (!path_known) {
		c->route = "unknown";
		return err_set(&c->err, IMG_NOT_FOUND, NULL, "No route for %.100s.", c->rq->path);
	}
	c->route = "method";
	err_set(&c->err, IMG_METHOD_NOT_ALLOWED, NULL, "%.16s is not allowed on %.100s; use %s.",
		method, c->rq->path, allow);
	reply_header(c->rp, "Allow", "%s", allow);
	return c->err.code;
}
