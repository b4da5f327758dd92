/* Key checks.  The static admin key is compared as SHA-256 digests in
 * constant time, so neither its length nor a matching prefix shows in the
 * timing; client keys are looked up by their public key_id and their hash
 * compared the same way (core/clientkey.c). */
#include "auth.h"

#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "hash.h"

const char *auth_presented_key(const struct http_request *rq)
{
	const char *a = rq->authorization;
	if (a && strncasecmp(a, "Bearer ", 7) == 0) {
		a += 7;
		while (*a == ' ')
			a++;
		return a;
	}
	return rq->api_key_header ? rq->api_key_header : "";
}

void auth_client_ip(struct ctx *c)
{
	ratelimit_client_ip(c->rq->remote_addr, c->rq->forwarded_for, c->app->cfg.trusted_proxies,
			    c->client_ip, sizeof c->client_ip);
}

static int have_static_key(const struct ctx *c)
{
	return c->app->cfg.api_key && c->app->cfg.api_key[0];
}

/* 1 when got is the configured static admin key. */
static int is_static_key(const struct ctx *c, const char *got)
{
	const char *want = c->app->cfg.api_key;
	if (!have_static_key(c) || !got[0])
		return 0;
	unsigned char a[32], b[32];
	hash_sha256(want, strlen(want), a);
	hash_sha256(got, strlen(got), b);
	return CRYPTO_memcmp(a, b, sizeof a) == 0;
}

static void as_static_admin(struct ctx *c)
{
	c->authed = AUTH_API_KEY;
	clientkey_clear(&c->client);
	c->client.admin = 1;
}

static enum img_err unavailable(struct ctx *c)
{
	err_set(&c->err, IMG_UNAVAILABLE, NULL,
		"The gateway cannot check API keys right now: its database is unavailable.");
	c->err.retry_after = 1;
	return IMG_UNAVAILABLE;
}

/* allow_anonymous: true, false, or auto — open while the operator has set
 * no api_key and created no client key (a fresh `make run`), closed after.
 * 1 open, 0 closed, -1 the key table cannot be read. */
static int anonymous_open(const struct ctx *c)
{
	const struct config *cfg = &c->app->cfg;
	if (strcmp(cfg->allow_anonymous, "true") == 0)
		return 1;
	if (strcmp(cfg->allow_anonymous, "false") == 0 || have_static_key(c))
		return 0;
	int any = clientkey_any(c->app->db, 0);
	return any < 0 ? -1 : !any;
}

enum img_err auth_client(struct ctx *c)
{
	const char *got = auth_presented_key(c->rq);
	clientkey_clear(&c->client);
	if (!got[0]) {
		int open = anonymous_open(c);
		if (open < 0)
			return unavailable(c);
		if (!open)
			return err_set(&c->err, IMG_UNAUTHORIZED, NULL,
				       "This gateway needs an API key: send it in "
				       "'Authorization: Bearer <key>' or 'x-api-key'.");
		c->authed = AUTH_ANONYMOUS;
		return IMG_OK;
	}
	if (is_static_key(c, got)) {
		as_static_admin(c);
		return IMG_OK;
	}
	switch (clientkey_check(c->app->db, got, &c->client)) {
	case CLIENTKEY_FOUND: c->authed = AUTH_CLIENT_KEY; return IMG_OK;
	case CLIENTKEY_REVOKED:
		return err_set(&c->err, IMG_UNAUTHORIZED, NULL, "This API key has been revoked.");
	case CLIENTKEY_ERROR: return unavailable(c);
	case CLIENTKEY_NOT_FOUND: break;
	}
	/* A gateway with no keys at all (allow_anonymous=auto before the first
	 * key) has nothing to check a key against: what a client sends is
	 * ignored, as the OpenAI SDKs always send one. */
	if (strcmp(c->app->cfg.allow_anonymous, "auto") == 0 && anonymous_open(c) == 1) {
		c->authed = AUTH_ANONYMOUS;
		return IMG_OK;
	}
	return err_set(&c->err, IMG_UNAUTHORIZED, NULL, "The API key is not valid.");
}

enum img_err auth_admin(struct ctx *c)
{
	const char *got = auth_presented_key(c->rq);
	if (is_static_key(c, got)) {
		as_static_admin(c);
		return IMG_OK;
	}
	if (clientkey_well_formed(got)) {
		switch (clientkey_check(c->app->db, got, &c->client)) {
		case CLIENTKEY_FOUND:
			c->authed = AUTH_CLIENT_KEY;
			if (c->client.admin)
				return IMG_OK;
			return err_set(&c->err, IMG_FORBIDDEN, NULL,
				       "This route needs an admin key; this key was not created "
				       "with --admin.");
		case CLIENTKEY_REVOKED:
			return err_set(&c->err, IMG_UNAUTHORIZED, NULL,
				       "This API key has been revoked.");
		case CLIENTKEY_ERROR: return unavailable(c);
		case CLIENTKEY_NOT_FOUND: break;
		}
	}
	if (!have_static_key(c) && clientkey_any(c->app->db, 1) <= 0)
		return err_set(&c->err, IMG_FORBIDDEN, NULL,
			       "Admin routes are disabled: the operator has set no api_key "
			       "(IMAGEGW_API_KEY) and created no admin key.");
	if (!got[0])
		return err_set(&c->err, IMG_UNAUTHORIZED, NULL,
			       "This route needs an admin key in 'Authorization: Bearer <key>'.");
	return err_set(&c->err, IMG_UNAUTHORIZED, NULL, "The API key is not valid.");
}
