/* Who owns what a caller creates (jobs, gallery entries) and what a caller
 * may see.  The owner is recorded as "key:<client key id>", "admin" (the
 * static api_key) or "anon" — never a key.  Admins (the static key or a key
 * created with --admin) see everything; a client key sees what it made;
 * anonymous callers see what anonymous callers made. */
#ifndef IMAGEGW_OWNER_H
#define IMAGEGW_OWNER_H

#include "route.h"

#define OWNER_MAX 32

/* Writes the caller's owner string. */
void owner_of(const struct ctx *c, char out[OWNER_MAX]);
/* 1 for the static admin key or an admin client key. */
int owner_is_admin(const struct ctx *c);
/* The owner to limit a listing or a deletion to: the caller's (written to
 * buf), or NULL for an admin, who reaches everything. */
const char *owner_scope(const struct ctx *c, char buf[OWNER_MAX]);
/* 1 when the caller may see something owned by owner. */
int owner_can_see(const struct ctx *c, const char *owner);

#endif
