/* Signed image URLs: HMAC-SHA256 (OpenSSL) over "<path>|<exp>", compared in
 * constant time.  The signature is the link's only credential, so the query
 * parser accepts one canonical spelling of each parameter and nothing else. */
#include "urlsign.h"

#include <limits.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "hash.h"

/* HMAC-SHA256 of msg under key; 0 or -1. */
static int hmac_sha256(const void *key, size_t klen, const void *msg, size_t n,
		       unsigned char out[32])
{
	unsigned int len = 0;
	if (klen > INT_MAX || !HMAC(EVP_sha256(), key, (int)klen, msg, n, out, &len) || len != 32)
		return -1;
	return 0;
}

/* The signature as hex; -1 (out = "", which never verifies) if OpenSSL fails,
 * so a failure can never turn into a predictable signature. */
static int sign(const char *secret, const char *path, long exp, char out[65])
{
	struct buf m = BUF_INIT;
	unsigned char d[32];
	buf_printf(&m, "%s|%ld", path, exp);
	int rc = hmac_sha256(secret, strlen(secret), m.data, m.len, d);
	buf_free(&m);
	if (rc != 0) {
		out[0] = '\0';
		return -1;
	}
	hash_hex(d, sizeof d, out);
	return 0;
}

void urlsign_sig(const char *secret, const char *path, long exp, char out[65])
{
	sign(secret, path, exp, out);
}

/* The value of name in an &-separated query: 1 when present once (val, len
 * set), 0 when absent, -1 when repeated (which one is meant is ambiguous). */
static int query_param(const char *q, const char *name, const char **val, size_t *len)
{
	size_t nl = strlen(name);
	int found = 0;
	while (*q) {
		size_t seg = strcspn(q, "&");
		if (seg > nl && strncmp(q, name, nl) == 0 && q[nl] == '=') {
			if (found)
				return -1;
			found = 1;
			*val = q + nl + 1;
			*len = seg - nl - 1;
		}
		q += seg;
		if (*q == '&')
			q++;
	}
	return found;
}

/* A positive decimal without sign, leading zeros or junk that fits a long. */
static int parse_exp(const char *s, size_t n, long *out)
{
	if (n == 0 || s[0] == '0')
		return -1;
	long v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		int d = s[i] - '0';
		if (v > (LONG_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

static int is_sig_hex(const char *s, size_t n)
{
	if (n != 64)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

int urlsign_check(const char *secret, const char *path, const char *query, long now,
		  long *remaining)
{
	const char *ev = NULL, *sv = NULL;
	size_t en = 0, sn = 0;
	long exp;
	char want[65];
	if (!secret || !secret[0] || !path || !query)
		return -1;
	if (query_param(query, "exp", &ev, &en) != 1 || query_param(query, "sig", &sv, &sn) != 1)
		return -1;
	if (parse_exp(ev, en, &exp) != 0 || !is_sig_hex(sv, sn))
		return -1;
	if (sign(secret, path, exp, want) != 0 || CRYPTO_memcmp(want, sv, 64) != 0)
		return -1;
	/* Expiry only after the signature: "expired" is said of genuine links only. */
	if (exp <= now)
		return -2;
	if (remaining)
		*remaining = exp - now;
	return 0;
}

void urlsign_url(struct buf *out, const char *base, const char *path, const char *secret, long exp)
{
	char sig[65];
	size_t bl = strlen(base);
	urlsign_sig(secret, path, exp, sig);
	if (bl && base[bl - 1] == '/' && path[0] == '/')
		bl--;
	buf_append(out, base, bl);
	buf_puts(out, path);
	buf_printf(out, "?exp=%ld&sig=%s", exp, sig);
}
