/* Links the gateway hands out: the base every absolute URL starts with, and
 * signed /v1/files/ links to stored images (SPEC 2.6), shared by
 * generations, jobs and the gallery. */
#ifndef IMAGEGW_LINKS_H
#define IMAGEGW_LINKS_H

#include "route.h"

/* Appends public_base_url, or scheme://host + base_path from the request. */
void links_base(const struct ctx *c, struct buf *out);
/* Appends the absolute, signed link to blob `hex` (extension ext), valid
 * url_ttl_seconds from now; base is what links_base gave. */
void links_file(const struct ctx *c, const char *base, const char *hex, const char *ext,
		struct buf *out);

#endif
