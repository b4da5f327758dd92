/* The route table: method, path, handler.  Paths are matched exactly after
 * base_path is removed; both /v1/... and the bare /... forms are accepted so
 * the binary works wherever the web server mounts it. */
#include "route.h"

#include <string.h>

static const struct route {
	const char *method;
	const char *path;
	route_fn fn;
} routes[] = {
	{"POST", "/v1/images/generations", images_generations},
	{"GET", "/v1/models", models_list},
	{"GET", "/healthz", health_get},
};

/* Paths also answer without the /v1 prefix (a server mounting us at /v1/
 * with the prefix stripped). */
static int path_matches(const char *pattern, const char *path)
{
	if (strcmp(pattern, path) == 0)
		return 1;
	return strncmp(pattern, "/v1/", 4) == 0 && strcmp(pattern + 3, path) == 0;
}

enum img_err route_dispatch(struct ctx *c)
{
	const char *method = c->rq->method;
	int path_known = 0;
	char allow[64] = "";
	for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
		const struct route *r = &routes[i];
		if (!path_matches(r->path, c->rq->path))
			continue;
		path_known = 1;
		int is_get = strcmp(r->method, "GET") == 0;
		if (strcmp(r->method, method) == 0 || (is_get && strcmp(method, "HEAD") == 0)) {
			c->route = r->path;
			return r->fn(c);
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
