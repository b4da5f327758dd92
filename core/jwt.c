/* RS256 JWTs with OpenSSL's EVP interface: the signing input is
 * base64url(header) "." base64url(claims), signed with RSASSA-PKCS1-v1_5 over
 * SHA-256, and the signature appended in base64url. */
#include "jwt.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "json.h"
#include "xalloc.h"

void jwt_b64url(struct buf *out, const void *data, size_t n)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const unsigned char *p = data;
	buf_grow(out, (n + 2) / 3 * 4 + 1);
	size_t i = 0;
	for (; i + 3 <= n; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
		char q[4] = {alphabet[v >> 18], alphabet[(v >> 12) & 63], alphabet[(v >> 6) & 63],
			     alphabet[v & 63]};
		buf_append(out, q, 4);
	}
	if (n - i == 1) {
		unsigned v = (unsigned)p[i] << 16;
		char q[2] = {alphabet[v >> 18], alphabet[(v >> 12) & 63]};
		buf_append(out, q, 2);
	} else if (n - i == 2) {
		unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8;
		char q[3] = {alphabet[v >> 18], alphabet[(v >> 12) & 63], alphabet[(v >> 6) & 63]};
		buf_append(out, q, 3);
	}
	buf_append(out, "", 0); /* keeps out NUL-terminated when n is 0 */
}

/* OpenSSL's reason for the last failure, without file names or key bytes. */
static void ssl_reason(char *err, size_t err_len, const char *what)
{
	unsigned long e = ERR_peek_last_error();
	const char *reason = e ? ERR_reason_error_string(e) : NULL;
	snprintf(err, err_len, "%s%s%s", what, reason ? ": " : "", reason ? reason : "");
	ERR_clear_error();
}

static EVP_PKEY *load_key(const char *pem, char *err, size_t err_len)
{
	if (!pem || !strstr(pem, "PRIVATE KEY-----")) {
		snprintf(err, err_len, "private_key is not a PEM private key");
		return NULL;
	}
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	if (!key) {
		ssl_reason(err, err_len, "private_key cannot be read");
		return NULL;
	}
	if (EVP_PKEY_base_id(key) != EVP_PKEY_RSA) {
		EVP_PKEY_free(key);
		snprintf(err, err_len, "private_key is not an RSA key (RS256 needs one)");
		return NULL;
	}
	return key;
}

int jwt_check_key(const char *pem, char *err, size_t err_len)
{
	EVP_PKEY *key = load_key(pem, err, err_len);
	EVP_PKEY_free(key);
	return key ? 0 : -1;
}

int jwt_sign_rs256(struct buf *out, const struct jwt_claims *c, const char *pem, char *err,
		   size_t err_len)
{
	EVP_PKEY *key = load_key(pem, err, err_len);
	if (!key)
		return -1;
	struct buf header = BUF_INIT, claims = BUF_INIT, input = BUF_INIT;
	buf_puts(&header, "{\"alg\":\"RS256\",\"typ\":\"JWT\"");
	if (c->kid && *c->kid) {
		buf_puts(&header, ",\"kid\":");
		json_put_cstr(&header, c->kid);
	}
	buf_putc(&header, '}');
	buf_puts(&claims, "{\"iss\":");
	json_put_cstr(&claims, c->iss);
	buf_puts(&claims, ",\"scope\":");
	json_put_cstr(&claims, c->scope);
	buf_puts(&claims, ",\"aud\":");
	json_put_cstr(&claims, c->aud);
	buf_printf(&claims, ",\"iat\":%ld,\"exp\":%ld}", c->iat, c->exp);
	jwt_b64url(&input, header.data, header.len);
	buf_putc(&input, '.');
	jwt_b64url(&input, claims.data, claims.len);

	int rc = -1;
	size_t siglen = 0;
	unsigned char *sig = NULL;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
	    EVP_DigestSignUpdate(md, input.data, input.len) == 1 &&
	    EVP_DigestSignFinal(md, NULL, &siglen) == 1) {
		sig = xmalloc(siglen);
		if (EVP_DigestSignFinal(md, sig, &siglen) == 1)
			rc = 0;
	}
	if (rc == 0) {
		buf_append(out, input.data, input.len);
		buf_putc(out, '.');
		jwt_b64url(out, sig, siglen);
	} else {
		ssl_reason(err, err_len, "signing failed");
	}
	free(sig);
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(key);
	buf_free(&header);
	buf_free(&claims);
	buf_free(&input);
	return rc;
}
