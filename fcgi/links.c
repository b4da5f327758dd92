/* Absolute and signed links.  The signature covers the route path
 * (/v1/files/<sha256>.<ext>) whatever the mount, so a link stays valid
 * behind any base_path or public_base_url (core/urlsign.c). */
#include "links.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "urlsign.h"

void links_base(const struct ctx *c, struct buf *out)
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

void links_file(const struct ctx *c, const char *base, const char *hex, const char *ext,
		struct buf *out)
{
	char path[128];
	snprintf(path, sizeof path, "/v1/files/%s.%s", hex, ext);
	urlsign_url(out, base, path, c->app->url_secret,
		    (long)time(NULL) + c->app->cfg.url_ttl_seconds);
}
