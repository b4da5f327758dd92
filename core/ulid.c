/* ULID-shaped ids (prefix + 26 Crockford base32 characters).  The time part
 * makes ids of different milliseconds sort by creation; within one
 * millisecond their order is random, which is all a cursor needs. */
#include "ulid.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hash.h"

static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

void ulid_encode(long long ms, const unsigned char rnd[10], char out[ULID_LEN + 1])
{
	/* 128 bits, big-endian: 48 of time, 80 random; read 5 at a time from
	 * the top, the first character holding only the top 3 bits. */
	unsigned char v[16];
	unsigned long long t = (unsigned long long)ms & 0xFFFFFFFFFFFFULL;
	for (int i = 5; i >= 0; i--) {
		v[i] = (unsigned char)(t & 0xFF);
		t >>= 8;
	}
	memcpy(v + 6, rnd, 10);
	for (int c = 0; c < ULID_LEN; c++) {
		/* Character c covers bits [c*5 - 2, c*5 + 3) of the 128 (the
		 * first starts 2 bits before the top: those are zero). */
		int bit = c * 5 - 2, val = 0;
		for (int k = 0; k < 5; k++, bit++) {
			int b = bit < 0 ? 0 : (v[bit / 8] >> (7 - bit % 8)) & 1;
			val = val << 1 | b;
		}
		out[c] = alphabet[val];
	}
	out[ULID_LEN] = '\0';
}

int ulid_new(const char *prefix, char *out, size_t len)
{
	size_t pl = strlen(prefix);
	if (len < pl + ULID_LEN + 1)
		return -1;
	unsigned char rnd[10];
	if (hash_random(rnd, sizeof rnd) != 0)
		return -1;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	memcpy(out, prefix, pl);
	ulid_encode((long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, rnd, out + pl);
	return 0;
}

int ulid_valid(const char *prefix, const char *s)
{
	size_t pl = strlen(prefix);
	if (!s || strncmp(s, prefix, pl) != 0 || strlen(s + pl) != ULID_LEN)
		return 0;
	s += pl;
	if (s[0] < '0' || s[0] > '7')
		return 0;
	for (int i = 0; i < ULID_LEN; i++)
		if (!strchr(alphabet, s[i]) || s[i] == '\0')
			return 0;
	return 1;
}
