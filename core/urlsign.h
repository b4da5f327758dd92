/* Signed image URLs (SPEC 2.6): HMAC-SHA256 with url_secret over
 * "<path>|<exp>", carried in the query as ?exp=<unix time>&sig=<hex>.  The
 * path is the route path (/v1/files/<sha256>.<ext>): no base_path, no query. */
#ifndef IMAGEGW_URLSIGN_H
#define IMAGEGW_URLSIGN_H

#include "buf.h"

/* Writes the signature of path valid until exp: 64 lowercase hex and a NUL. */
void urlsign_sig(const char *secret, const char *path, long exp, char out[65]);
/* Checks the exp and sig parameters of a query string (without '?'; other
 * parameters ignored) against path.  Returns 0 when valid, with *remaining
 * (may be NULL) = exp - now > 0; -1 when a parameter is missing, repeated or
 * malformed, the secret is empty, or the signature does not match; -2 when
 * the signature matches but exp has passed. */
int urlsign_check(const char *secret, const char *path, const char *query, long now,
		  long *remaining);
/* Appends base + path + "?exp=<exp>&sig=<hex>" to out.  base is scheme,
 * host and any prefix (public_base_url, or scheme://host + base_path). */
void urlsign_url(struct buf *out, const char *base, const char *path, const char *secret, long exp);

#endif
