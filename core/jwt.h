/* JSON Web Tokens signed with RS256 (RFC 7515, 7519), as Google's OAuth2
 * token endpoint expects from a service account (the "JWT bearer" grant,
 * RFC 7523).  The key is the service-account file's PEM private key. */
#ifndef IMAGEGW_JWT_H
#define IMAGEGW_JWT_H
#include <stddef.h>

#include "buf.h"

/* Appends the unpadded base64url form (RFC 4648 section 5) of data. */
void jwt_b64url(struct buf *out, const void *data, size_t n);

/* The claims of a service-account assertion. */
struct jwt_claims {
	const char *iss;   /* the service account's client_email */
	const char *scope; /* space-separated OAuth2 scopes */
	const char *aud;   /* the token endpoint (the file's token_uri) */
	long iat;	   /* issued at, Unix seconds */
	long exp;	   /* expiry, Unix seconds (Google allows at most iat + 3600) */
	const char *kid;   /* the file's private_key_id, or NULL */
};

/* Appends header.claims.signature to out.  pem is an RSA private key in PEM
 * (PKCS#8 "PRIVATE KEY" or PKCS#1 "RSA PRIVATE KEY").  0, or -1 with a
 * reason in err (never the key). */
int jwt_sign_rs256(struct buf *out, const struct jwt_claims *c, const char *pem, char *err,
		   size_t err_len);

/* 0 when pem holds an RSA private key OpenSSL can load, else -1 with err. */
int jwt_check_key(const char *pem, char *err, size_t err_len);

#endif
