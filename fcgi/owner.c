/* Ownership of jobs and gallery entries (docs/api.md, "Who sees what"). */
#include "owner.h"

#include <stdio.h>
#include <string.h>

void owner_of(const struct ctx *c, char out[OWNER_MAX])
{
	if (c->authed == AUTH_CLIENT_KEY)
		snprintf(out, OWNER_MAX, "key:%lld", c->client.id);
	else if (c->authed == AUTH_API_KEY)
		snprintf(out, OWNER_MAX, "admin");
	else
		snprintf(out, OWNER_MAX, "anon");
}

int owner_is_admin(const struct ctx *c)
{
	return c->authed == AUTH_API_KEY || (c->authed == AUTH_CLIENT_KEY && c->client.admin);
}

const char *owner_scope(const struct ctx *c, char buf[OWNER_MAX])
{
	if (owner_is_admin(c))
		return NULL;
	owner_of(c, buf);
	return buf;
}

int owner_can_see(const struct ctx *c, const char *owner)
{
	if (owner_is_admin(c))
		return 1;
	char mine[OWNER_MAX];
	owner_of(c, mine);
	return strcmp(mine, owner) == 0;
}
