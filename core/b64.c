/* Base64 codec.  Both directions are table-driven and grow the output once;
 * the decoder has a fast path for whole quanta and a slow path that handles
 * whitespace, padding and the tail one character at a time. */
#include "b64.h"

#include <stdint.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

static const char b64_alphabet[64] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Decode table values: 0..63 sextets; everything else has bit 6 or 7 set so
 * the fast path can reject a whole quantum with one test. */
#define D_PAD 0x40
#define D_WS  0x80
#define D_BAD 0xff

#define X D_BAD
static const unsigned char b64_dtab[256] = {
	X,  X,	   X,  X,  X,  X,  X,  X,  X,  D_WS, D_WS, X,  X,    D_WS, X,  X,  X,  X,  X,  X,
	X,  X,	   X,  X,  X,  X,  X,  X,  X,  X,    X,	   X,  D_WS, X,	   X,  X,  X,  X,  X,  X,
	X,  X,	   X,  62, X,  X,  X,  63, 52, 53,   54,   55, 56,   57,   58, 59, 60, 61, X,  X,
	X,  D_PAD, X,  X,  X,  0,  1,  2,  3,  4,    5,	   6,  7,    8,	   9,  10, 11, 12, 13, 14,
	15, 16,	   17, 18, 19, 20, 21, 22, 23, 24,   25,   X,  X,    X,	   X,  X,  X,  26, 27, 28,
	29, 30,	   31, 32, 33, 34, 35, 36, 37, 38,   39,   40, 41,   42,   43, 44, 45, 46, 47, 48,
	49, 50,	   51, X,  X,  X,  X,  X,  X,  X,    X,	   X,  X,    X,	   X,  X,  X,  X,  X,  X,
	X,  X,	   X,  X,  X,  X,  X,  X,  X,  X,    X,	   X,  X,    X,	   X,  X,  X,  X,  X,  X,
	X,  X,	   X,  X,  X,  X,  X,  X,  X,  X,    X,	   X,  X,    X,	   X,  X,  X,  X,  X,  X,
	X,  X,	   X,  X,  X,  X,  X,  X,  X,  X,    X,	   X,  X,    X,	   X,  X,  X,  X,  X,  X,
	X,  X,	   X,  X,  X,  X,  X,  X,  X,  X,    X,	   X,  X,    X,	   X,  X,  X,  X,  X,  X,
	X,  X,	   X,  X,  X,  X,  X,  X,  X,  X,    X,	   X,  X,    X,	   X,  X,  X,  X,  X,  X,
	X,  X,	   X,  X,  X,  X,  X,  X,  X,  X,    X,	   X,  X,    X,	   X,  X,
};
#undef X

void b64_encode(struct buf *out, const void *data, size_t n)
{
	const unsigned char *p = data;
	size_t full = n / 3, rest = n % 3;

	buf_grow(out, (full + (rest != 0)) * 4);
	char *o = out->data + out->len;
	/* Two output characters per lookup: the table maps 12 input bits to their
	 * pair, which halves the work on multi-megabyte images. */
	static char pairs[4096][2];
	if (!pairs[0][0])
		for (int i = 0; i < 4096; i++) {
			pairs[i][0] = b64_alphabet[i >> 6];
			pairs[i][1] = b64_alphabet[i & 63];
		}
	for (size_t i = 0; i < full; i++, p += 3, o += 4) {
		uint32_t v = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
		memcpy(o, pairs[v >> 12], 2);
		memcpy(o + 2, pairs[v & 0xfff], 2);
	}
	if (rest) {
		uint32_t v = (uint32_t)p[0] << 16;
		if (rest == 2)
			v |= (uint32_t)p[1] << 8;
		o[0] = b64_alphabet[v >> 18];
		o[1] = b64_alphabet[(v >> 12) & 63];
		o[2] = rest == 2 ? b64_alphabet[(v >> 6) & 63] : '=';
		o[3] = '=';
		o += 4;
	}
	out->len = (size_t)(o - out->data);
	out->data[out->len] = '\0';
}

size_t b64_decoded_len(const char *s, size_t n)
{
	(void)s;
	/* 6 bits per character, rounded down to whole bytes. */
	return n / 4 * 3 + n % 4 * 3 / 4;
}

int b64_decode(struct buf *out, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	size_t start = out->len;
	uint32_t q = 0;
	unsigned c;
	int k = 0, more_pad;

	buf_grow(out, b64_decoded_len(s, n));
	unsigned char *o = (unsigned char *)out->data + start;
	for (;;) {
		if (k == 0) {
			while (end - p >= 4) {
				uint32_t a = b64_dtab[p[0]], b = b64_dtab[p[1]];
				uint32_t cc = b64_dtab[p[2]], d = b64_dtab[p[3]];
				if ((a | b | cc | d) & 0xc0)
					break;
				uint32_t v = a << 18 | b << 12 | cc << 6 | d;
				o[0] = (unsigned char)(v >> 16);
				o[1] = (unsigned char)(v >> 8);
				o[2] = (unsigned char)v;
				o += 3;
				p += 4;
			}
		}
		if (p == end)
			break;
		c = b64_dtab[*p++];
		if (c < 64) {
			q = q << 6 | c;
			if (++k == 4) {
				o[0] = (unsigned char)(q >> 16);
				o[1] = (unsigned char)(q >> 8);
				o[2] = (unsigned char)q;
				o += 3;
				k = 0;
				q = 0;
			}
		} else if (c == D_PAD) {
			goto pad;
		} else if (c != D_WS) {
			goto bad;
		}
	}
	if (k == 1)
		goto bad;
	goto tail;

pad:
	/* "xx==" or "xxx=", then nothing but whitespace. */
	if (k < 2)
		goto bad;
	more_pad = 3 - k;
	while (p < end) {
		c = b64_dtab[*p++];
		if (c == D_PAD && more_pad > 0)
			more_pad--;
		else if (c != D_WS)
			goto bad;
	}
	if (more_pad)
		goto bad;

tail:
	/* Leftover pad bits need not be zero (RFC 4648 3.5 allows either). */
	if (k == 2) {
		*o++ = (unsigned char)(q >> 4);
	} else if (k == 3) {
		*o++ = (unsigned char)(q >> 10);
		*o++ = (unsigned char)(q >> 2);
	}
	out->len = (size_t)(o - (unsigned char *)out->data);
	out->data[out->len] = '\0';
	return 0;

bad:
	out->len = start;
	out->data[start] = '\0';
	return -1;
}

int b64_is_canonical(const char *s, size_t n)
{
	if (n % 4)
		return 0;
	size_t body = n;
	if (body && s[body - 1] == '=')
		body--;
	if (body && body + 1 == n && s[body - 1] == '=')
		body--;
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
#ifdef __SSE2__
	/* 16 bytes at a time: a byte is in the alphabet when it falls in one of
	 * the ranges A-Z, a-z, 0-9 or is '+' or '/'.  Signed compares, so each
	 * range test is two compares against bounds widened by one. */
	const __m128i A0 = _mm_set1_epi8('A' - 1), A1 = _mm_set1_epi8('Z' + 1);
	const __m128i a0 = _mm_set1_epi8('a' - 1), a1 = _mm_set1_epi8('z' + 1);
	const __m128i d0 = _mm_set1_epi8('0' - 1), d1 = _mm_set1_epi8('9' + 1);
	const __m128i plus = _mm_set1_epi8('+'), slash = _mm_set1_epi8('/');
	for (; i + 16 <= body; i += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(p + i));
		__m128i ok = _mm_and_si128(_mm_cmpgt_epi8(v, A0), _mm_cmplt_epi8(v, A1));
		ok = _mm_or_si128(ok, _mm_and_si128(_mm_cmpgt_epi8(v, a0), _mm_cmplt_epi8(v, a1)));
		ok = _mm_or_si128(ok, _mm_and_si128(_mm_cmpgt_epi8(v, d0), _mm_cmplt_epi8(v, d1)));
		ok = _mm_or_si128(ok, _mm_cmpeq_epi8(v, plus));
		ok = _mm_or_si128(ok, _mm_cmpeq_epi8(v, slash));
		if (_mm_movemask_epi8(ok) != 0xffff)
			return 0;
	}
#endif
	/* Sextets are 0..63; pad, whitespace and bad bytes all have bit 6 or 7. */
	unsigned char acc = 0;
	for (; i < body; i++)
		acc |= b64_dtab[p[i]];
	return acc < 64;
}
