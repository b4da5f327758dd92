/* Identifiers for jobs and gallery entries: a prefix and 26 characters of
 * Crockford base32 (as ULIDs are made: 48 bits of milliseconds since the
 * epoch, then 80 random bits), so ids sort by creation and cannot be guessed. */
#ifndef IMAGEGW_ULID_H
#define IMAGEGW_ULID_H

#include <stddef.h>

#define ULID_LEN 26

/* Writes the 26 characters for ms and 10 random bytes, and a NUL. */
void ulid_encode(long long ms, const unsigned char rnd[10], char out[ULID_LEN + 1]);
/* Writes prefix + a fresh ULID (the clock now, random bytes from the
 * kernel) into out.  0, or -1 when len is too small or no random bytes. */
int ulid_new(const char *prefix, char *out, size_t len);
/* 1 when s is prefix followed by exactly 26 upper-case Crockford base32
 * characters whose first is 0-7 (48 bits of time), else 0. */
int ulid_valid(const char *prefix, const char *s);

#endif
