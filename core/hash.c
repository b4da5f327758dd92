/* Hashing helpers over OpenSSL's one-shot SHA-256. */
#include "hash.h"

#include <string.h>
#include <sys/random.h>

#include <openssl/sha.h>

void hash_sha256(const void *data, size_t n, unsigned char out[32])
{
	SHA256(data, n, out);
}

void hash_hex(const unsigned char *bytes, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[bytes[i] >> 4];
		out[2 * i + 1] = hex[bytes[i] & 15];
	}
	out[2 * n] = '\0';
}

void hash_prompt16(const char *prompt, char out[17])
{
	unsigned char d[32];
	hash_sha256(prompt, strlen(prompt), d);
	hash_hex(d, 8, out);
}

int hash_random(void *out, size_t n)
{
	unsigned char *p = out;
	while (n > 0) {
		ssize_t r = getrandom(p, n, 0);
		if (r < 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}
