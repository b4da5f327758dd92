/* Client keys (SPEC 2.9): the keys the operator hands out with
 * `imagegw key create`, each with its own limits.  A key reads
 * "igw_<key_id>_<secret>": key_id (12 lower-case hex) is public and finds the
 * row; only the SHA-256 of the whole key is stored, and the presented key's
 * hash is compared with it in constant time. */
#ifndef IMAGEGW_CLIENTKEY_H
#define IMAGEGW_CLIENTKEY_H

#include <stddef.h>

struct sqlite3;

#define CLIENTKEY_ID_LEN     12
#define CLIENTKEY_SECRET_LEN 43 /* 32 random bytes in unpadded base64url */
#define CLIENTKEY_LEN	     (4 + CLIENTKEY_ID_LEN + 1 + CLIENTKEY_SECRET_LEN)
#define CLIENTKEY_NAME_MAX   64 /* including the NUL */

/* One client key's row, never its secret.  Limits of 0 mean none. */
struct client {
	long long id; /* client_keys.id; 0: not a client key */
	char name[CLIENTKEY_NAME_MAX];
	char key_id[CLIENTKEY_ID_LEN + 1];
	long rpm;
	long daily_images;
	int admin;
	int min_safety; /* enum safety_level, or -1 for none */
	int revoked;
	long long created, last_used;
};

enum clientkey_status {
	CLIENTKEY_FOUND,
	CLIENTKEY_NOT_FOUND,
	CLIENTKEY_REVOKED,
	CLIENTKEY_ERROR, /* the database failed */
};

/* Creates a key with spec's name, rpm, daily_images, admin and min_safety;
 * writes the key (CLIENTKEY_LEN characters and a NUL) into key, the only time
 * it exists outside the client's hands.  Returns 0, or -1 with the reason in
 * err (a taken or invalid name, a database failure). */
int clientkey_create(struct sqlite3 *db, const struct client *spec, char key[CLIENTKEY_LEN + 1],
		     char *err, size_t err_len);
/* Calls fn for every key, oldest first; returns how many, or -1. */
int clientkey_list(struct sqlite3 *db, void (*fn)(const struct client *c, void *arg), void *arg);
/* Revokes the key named by its name, its key_id or the whole key.  FOUND:
 * revoked now; REVOKED: it already was; NOT_FOUND; ERROR.  out (may be NULL)
 * receives the row. */
enum clientkey_status clientkey_revoke(struct sqlite3 *db, const char *which, struct client *out);
/* Looks the presented key up: FOUND (out filled, last_used refreshed at most
 * once a minute), NOT_FOUND (malformed, unknown or a wrong secret), REVOKED
 * (the right secret of a revoked key) or ERROR. */
enum clientkey_status clientkey_check(struct sqlite3 *db, const char *presented,
				      struct client *out);
/* 1 when a key that is not revoked exists (with admin_only, an admin key),
 * 0 when none, -1 on a database failure. */
int clientkey_any(struct sqlite3 *db, int admin_only);
/* Resets c to "no client key": no limits, no minimum safety. */
void clientkey_clear(struct client *c);
/* The safety value a request should carry under c's minimum threshold:
 * requested (enum safety_level or -1 for the configured one) unless the
 * effective level, requested or else configured, is below c's minimum,
 * which then replaces it.  A request may raise the minimum, never lower it. */
int clientkey_safety(const struct client *c, int requested, const char *configured);
/* 1 when s has the shape of a client key (says nothing of whether it exists). */
int clientkey_well_formed(const char *s);

#endif
