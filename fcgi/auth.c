/* Admin-key check.  The comparison is over SHA-256 digests in constant time,
 * so neither the key's length nor a matching prefix shows in the timing. */
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

enum img_err auth_admin(struct ctx *c)
{
	const char *want = c->app->cfg.api_key;
	if (!want || !want[0])
		return err_set(&c->err, IMG_FORBIDDEN, NULL,
			       "Admin routes are disabled: the operator has set no api_key "
			       "(IMAGEGW_API_KEY).");
	const char *got = auth_presented_key(c->rq);
	if (!got[0])
		return err_set(&c->err, IMG_UNAUTHORIZED, NULL,
			       "This route needs the admin key in 'Authorization: Bearer <key>'.");
	unsigned char a[32], b[32];
	hash_sha256(want, strlen(want), a);
	hash_sha256(got, strlen(got), b);
	if (CRYPTO_memcmp(a, b, sizeof a) != 0)
		return err_set(&c->err, IMG_UNAUTHORIZED, NULL, "The API key is not valid.");
	return IMG_OK;
}
