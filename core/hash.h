/* SHA-256 and hex helpers (OpenSSL), used for prompt hashes in logs, the
 * local renderer's seed and, later, cache keys. */
#ifndef IMAGEGW_HASH_H
#define IMAGEGW_HASH_H
#include <stddef.h>

void hash_sha256(const void *data, size_t n, unsigned char out[32]);
/* Writes 2*n lowercase hex digits and a NUL into out. */
void hash_hex(const unsigned char *bytes, size_t n, char *out);
/* The log's prompt_hash: first 16 hex digits of SHA-256(prompt). */
void hash_prompt16(const char *prompt, char out[17]);
/* Fills out with n random bytes from the kernel; 0 or -1. */
int hash_random(void *out, size_t n);

#endif
