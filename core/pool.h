/* The upstream key pool (SPEC 6.1, 3.7): which API key an upstream call uses.
 * Keys ("accounts") live in the database with their counters and state; the
 * pick is the least recently used usable key, chosen and counted in one
 * BEGIN IMMEDIATE transaction so concurrent processes never pass a limit.
 * Keys are never logged or returned: everything outside names the label. */
#ifndef IMAGEGW_POOL_H
#define IMAGEGW_POOL_H

#include <stdio.h>

#include "err.h"

struct config;
struct sqlite3;

struct pool_key {
	long id; /* 0: the configuration's key, used when there is no database */
	char label[64];
	char provider[16]; /* gemini, openai, vertex: whose error bodies judge it */
	/* The API key; for vertex accounts the caller fills in the access token
	 * (vertex_authorize), pool_take leaves it empty. */
	char secret[2048];
	int failures; /* consecutive_failures when taken: pool_ok has nothing to reset at 0 */
};

/* Brings the environment's keys into the pool: gemini_api_key /
 * gemini_api_keys as gemini-env-1, gemini-env-2, ..., openai_api_key as
 * openai-env-1 (the key itself stays out of the database; a changed key gets
 * a fresh state).  Returns the number of usable (enabled) keys of provider
 * "gemini" in the pool afterwards, or -1. */
int pool_sync(const struct config *cfg, struct sqlite3 *db);
/* The number of enabled keys of provider in the pool (0 without a database). */
int pool_usable(struct sqlite3 *db, const char *provider);

/* Takes a key of provider for one call of `images` images, counting it.
 * avoid (0 = none) is a key to pass over if any other is usable (a retry
 * after a server error prefers another key).  Returns IMG_OK with k filled;
 * IMG_QUOTA_EXHAUSTED with *retry_after = seconds until a key is free when
 * every enabled key is cooling down or at a limit; IMG_UPSTREAM_AUTH when no
 * key is enabled at all. */
enum img_err pool_take(const struct config *cfg, struct sqlite3 *db, const char *provider,
		       int images, long avoid, struct pool_key *k, int *retry_after);

/* pool_take over several providers in order of preference (NULL-ended):
 * the first provider with a usable entry wins.  When none has one:
 * IMG_QUOTA_EXHAUSTED with the soonest retry_after if any entry is only
 * cooling or at a limit, else IMG_UPSTREAM_AUTH. */
enum img_err pool_take_first(const struct config *cfg, struct sqlite3 *db,
			     const char *const *providers, int images, long avoid,
			     struct pool_key *k, int *retry_after);
/* What to do after a failed call. */
enum pool_step { POOL_DONE, POOL_RETRY, POOL_ROTATE };

struct upstream_xfer;

/* Judges a call made with k that did not answer 200, reading the error body
 * as k's provider writes it (core/gemini.c, core/openai.c): fills e with the
 * SPEC 3.7 error, updates the key (cooldown after 429, a long one when the
 * account is out of credit, disabled when rejected, failure counted after
 * 5xx and network errors), and says what to do: rotate to another key now,
 * retry after a backoff, or stop.  Shared by every caller of the upstream
 * (images, prompt enhancement). */
enum pool_step pool_judge(const struct config *cfg, struct sqlite3 *db, const struct pool_key *k,
			  const struct upstream_xfer *x, struct img_error *e);

/* What happened to a call made with k. */
void pool_ok(struct sqlite3 *db, const struct pool_key *k);
void pool_cooldown(struct sqlite3 *db, const struct pool_key *k, int seconds, const char *why);
void pool_disable(struct sqlite3 *db, const struct pool_key *k, const char *why);
void pool_failure(struct sqlite3 *db, const struct pool_key *k, const char *why);

/* Operator commands (imagegw account ...).  Return 0, or -1 with a message
 * in err.  Keys given by file are read now and stored in the database;
 * keys given by environment variable are read from it at each use. */
int pool_add(struct sqlite3 *db, const char *provider, const char *label, const char *key_file,
	     const char *key_env, long daily, long rpm, char *err, size_t err_len);
int pool_remove(struct sqlite3 *db, const char *label, char *err, size_t err_len);
int pool_set_enabled(struct sqlite3 *db, const char *label, int enabled, char *err, size_t err_len);
/* Clears cooldowns and failure counts (all keys when label is NULL). */
int pool_reset(struct sqlite3 *db, const char *label, char *err, size_t err_len);
/* Prints every key's label, provider, source, state and counters. */
int pool_list(struct sqlite3 *db, FILE *out);

#endif
