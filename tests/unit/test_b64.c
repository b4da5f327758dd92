/* Unit tests for core/b64.c: RFC 4648 vectors, round trips of every length
 * 0..300 against an independent bit-at-a-time encoder, every rejection class
 * of the strict decoder, and b64_is_canonical on both its SSE2 and tail path. */
#include "../../core/b64.c"

#include <stdlib.h>

#include "unit.h"
#include "xalloc.h"

/* Deterministic pseudo-random bytes (xorshift32). */
static uint32_t rng_state = 2463534242u;

static unsigned char rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return (unsigned char)(rng_state >> 24);
}

/* A heap copy of exactly n bytes, so ASan sees any read past s[n-1]. */
static char *exact(const char *s, size_t n)
{
	char *p = xmalloc(n ? n : 1);

	memcpy(p, s, n);
	return p;
}

/* Decodes s[0..n) into out (which may already hold bytes), checking the
 * documented contract on the way: what is appended never exceeds
 * b64_decoded_len, the bytes before it survive, the buffer stays
 * NUL-terminated, and a failure leaves out at its original length. */
static int bound_violations;

static int decode(struct buf *out, const char *s, size_t n)
{
	char *copy = exact(s, n);
	size_t start = out->len;
	char *before = xmalloc(start + 1);
	int rc;

	memcpy(before, out->data ? out->data : "", start);
	rc = b64_decode(out, copy, n);
	if (out->len < start || out->len - start > b64_decoded_len(copy, n))
		bound_violations++;
	if ((rc != 0 && rc != -1) || (rc == -1 && out->len != start) ||
	    memcmp(out->data, before, start) != 0 || out->data[out->len] != '\0')
		bound_violations++;
	free(before);
	free(copy);
	return rc;
}

/* 1 when s decodes to exactly want[0..wn). */
static int decodes_to(const char *s, size_t n, const void *want, size_t wn)
{
	struct buf b = BUF_INIT;
	int ok = decode(&b, s, n) == 0 && b.len == wn && memcmp(b.data, want, wn) == 0;

	if (!ok)
		fprintf(stderr, "  \"%.*s\" decoded to %zu bytes, want %zu\n", (int)n, s, b.len,
			wn);
	buf_free(&b);
	return ok;
}

/* 1 when s is rejected. */
static int rejected(const char *s, size_t n)
{
	struct buf b = BUF_INIT;
	int rc = decode(&b, s, n);

	if (rc == 0)
		fprintf(stderr, "  accepted \"%.*s\"\n", (int)n, s);
	buf_free(&b);
	return rc == -1;
}

static int canonical(const char *s, size_t n)
{
	char *copy = exact(s, n);
	int rc = b64_is_canonical(copy, n);

	free(copy);
	return rc;
}

#define DECODES(s, want) CHECK(decodes_to(s, sizeof(s) - 1, want, sizeof(want) - 1))
#define REJECTS(s)	 CHECK(rejected(s, sizeof(s) - 1))
#define CANON(s)	 canonical(s, sizeof(s) - 1)

/* The independent reference: one bit at a time, then '=' to a multiple of 4. */
static void ref_encode(struct buf *out, const unsigned char *p, size_t n)
{
	static const char abc[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t bits = n * 8, nch = 0;

	for (size_t i = 0; i < bits; i += 6) {
		unsigned v = 0;
		for (size_t j = i; j < i + 6; j++) {
			unsigned bit = j < bits ? (p[j / 8] >> (7 - j % 8)) & 1 : 0;
			v = v << 1 | bit;
		}
		buf_putc(out, abc[v]);
		nch++;
	}
	for (; nch % 4; nch++)
		buf_putc(out, '=');
}

static int in_alphabet(unsigned c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

static const struct {
	const char *plain, *coded;
} rfc[] = {
	{"", ""},
	{"f", "Zg=="},
	{"fo", "Zm8="},
	{"foo", "Zm9v"},
	{"foob", "Zm9vYg=="},
	{"fooba", "Zm9vYmE="},
	{"foobar", "Zm9vYmFy"},
};

TEST(rfc4648_encode)
{
	for (size_t i = 0; i < sizeof(rfc) / sizeof(rfc[0]); i++) {
		struct buf b = BUF_INIT;
		b64_encode(&b, rfc[i].plain, strlen(rfc[i].plain));
		CHECK_STR(buf_cstr(&b), rfc[i].coded);
		CHECK_INT(b.len, strlen(rfc[i].coded));
		buf_free(&b);
	}
}

TEST(rfc4648_decode)
{
	for (size_t i = 0; i < sizeof(rfc) / sizeof(rfc[0]); i++) {
		const char *c = rfc[i].coded, *p = rfc[i].plain;
		CHECK(decodes_to(c, strlen(c), p, strlen(p)));
		CHECK(canonical(c, strlen(c)));
	}
}

/* Encoding appends: the bytes already in out are kept, and the result is
 * NUL-terminated (callers use it as a C string). */
TEST(encode_appends)
{
	struct buf b = BUF_INIT;

	buf_puts(&b, "data:image/png;base64,");
	b64_encode(&b, "foobar", 6);
	CHECK_STR(buf_cstr(&b), "data:image/png;base64,Zm9vYmFy");
	b64_encode(&b, "", 0);
	CHECK_STR(buf_cstr(&b), "data:image/png;base64,Zm9vYmFy");
	b64_encode(&b, "\xff\xfe", 2);
	CHECK_STR(buf_cstr(&b), "data:image/png;base64,Zm9vYmFy//4=");
	buf_free(&b);

	/* n == 0 on a fresh buffer still yields a valid empty C string. */
	b64_encode(&b, NULL, 0);
	CHECK(b.data != NULL && b.len == 0 && b.data[0] == '\0');
	buf_free(&b);
}

/* Every length 0..300 of random bytes: encoding matches the reference, is
 * canonical, and decodes back; so do the unpadded form and a form with
 * whitespace sprinkled through it. */
TEST(round_trip_every_length)
{
	unsigned char data[301];
	int bad_enc = 0, bad_dec = 0, bad_canon = 0, bad_unpadded = 0, bad_ws = 0;

	for (size_t n = 0; n <= 300; n++) {
		struct buf enc = BUF_INIT, ref = BUF_INIT, ws = BUF_INIT;
		for (size_t i = 0; i < n; i++)
			data[i] = rnd();
		b64_encode(&enc, data, n);
		ref_encode(&ref, data, n);
		if (enc.len != ref.len || memcmp(enc.data, buf_cstr(&ref), enc.len) != 0 ||
		    enc.len != (n + 2) / 3 * 4)
			bad_enc++;
		if (!canonical(enc.data, enc.len))
			bad_canon++;
		if (!decodes_to(enc.data, enc.len, data, n))
			bad_dec++;

		size_t unpadded = enc.len;
		while (unpadded && enc.data[unpadded - 1] == '=')
			unpadded--;
		if (!decodes_to(enc.data, unpadded, data, n))
			bad_unpadded++;

		static const char wsch[] = " \t\r\n";
		for (size_t i = 0; i < enc.len; i++) {
			if (rnd() < 64)
				buf_putc(&ws, wsch[rnd() % 4]);
			buf_putc(&ws, enc.data[i]);
		}
		buf_puts(&ws, "\r\n");
		if (!decodes_to(ws.data, ws.len, data, n))
			bad_ws++;
		buf_free(&enc);
		buf_free(&ref);
		buf_free(&ws);
	}
	CHECK_INT(bad_enc, 0);
	CHECK_INT(bad_canon, 0);
	CHECK_INT(bad_dec, 0);
	CHECK_INT(bad_unpadded, 0);
	CHECK_INT(bad_ws, 0);
	CHECK_INT(bound_violations, 0);
}

/* Each of the 256 byte values placed in a valid string: accepted exactly
 * when it is in the alphabet or whitespace (tab, LF, CR, space). */
TEST(invalid_characters)
{
	int wrong = 0;

	for (unsigned c = 0; c < 256; c++) {
		int ok = in_alphabet(c) || c == ' ' || c == '\t' || c == '\r' || c == '\n';
		/* At the start (fast path sees it), in a quantum and in the tail. */
		char s[3][13];
		memcpy(s[0], "?m9vYmFyZm9v", 12);
		memcpy(s[1], "Zm9vY?FyZm9v", 12);
		memcpy(s[2], "Zm9vYmFyZm9?", 12);
		s[0][0] = s[1][5] = s[2][11] = (char)c;
		for (int k = 0; k < 3; k++) {
			struct buf b = BUF_INIT;
			int rc = decode(&b, s[k], 12);
			/* Whitespace leaves 11 significant chars: an 8-byte result. */
			size_t want = in_alphabet(c) ? 9 : 8;
			if (c == '=')
				ok = k == 2; /* "...Zm9=" is valid padding */
			if (ok ? rc != 0 || b.len != want : rc != -1 || b.len != 0) {
				fprintf(stderr, "  byte 0x%02x at slot %d: rc %d len %zu\n", c, k,
					rc, b.len);
				wrong++;
			}
			buf_free(&b);
		}
	}
	CHECK_INT(wrong, 0);
	REJECTS("Zm9v-_");
	REJECTS("Zm9v\x80\x80\x80\x80");
	REJECTS("Zm9vYmFy\v");
	REJECTS("Zm9vYmFy\f");
	REJECTS("Zm9v\0Yg==");
	CHECK_INT(bound_violations, 0);
}

TEST(bad_padding)
{
	REJECTS("Zg=");
	REJECTS("Zg===");
	REJECTS("Zg====");
	REJECTS("Zm8==");
	REJECTS("=Zg=");
	REJECTS("=");
	REJECTS("==");
	REJECTS("====");
	REJECTS("Z===");
	REJECTS("Zm9v=");
	REJECTS("Zm9v====");
	/* Padding in the middle, and data after padding. */
	REJECTS("Zg==Zg==");
	REJECTS("Zm8=Zm9v");
	REJECTS("Zg=g");
	REJECTS("Zm9vY=mFy");
	REJECTS("Zg==\nZ");
	REJECTS("Zg== =");
	/* Whitespace among and after the pad characters is still whitespace. */
	DECODES("Zg= =", "f");
	DECODES("Zg==\r\n", "f");
	DECODES("Zm8 =\t", "fo");
	CHECK_INT(bound_violations, 0);
}

TEST(impossible_length)
{
	/* One leftover character carries only 6 bits: never a whole byte. */
	REJECTS("Z");
	REJECTS("Zm9vY");
	REJECTS("Zm9vYmFyZ");
	REJECTS("Zm9v Y\n");
	REJECTS(" Z ");
	REJECTS("Z=");
	REJECTS("Zm9vY=");
	CHECK_INT(bound_violations, 0);
}

TEST(whitespace_skipped)
{
	DECODES("Zm9v\r\nYmFy", "foobar");
	DECODES(" Z m 9 v Y m F y ", "foobar");
	DECODES("\tZm9vYg==\n", "foob");
	DECODES("Zm\r9v\nYm\tE=", "fooba");
	DECODES("", "");
	DECODES(" \r\n\t", "");
	/* A line-wrapped encoding, 76 columns as MIME writes it. */
	unsigned char data[200];
	struct buf enc = BUF_INIT, wrapped = BUF_INIT;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 7 + 3);
	b64_encode(&enc, data, sizeof(data));
	for (size_t i = 0; i < enc.len; i += 76) {
		buf_append(&wrapped, enc.data + i, enc.len - i < 76 ? enc.len - i : 76);
		buf_puts(&wrapped, "\r\n");
	}
	CHECK(decodes_to(wrapped.data, wrapped.len, data, sizeof(data)));
	CHECK(!canonical(wrapped.data, wrapped.len));
	buf_free(&enc);
	buf_free(&wrapped);
	CHECK_INT(bound_violations, 0);
}

TEST(unpadded_accepted)
{
	DECODES("Zg", "f");
	DECODES("Zm8", "fo");
	DECODES("Zm9vYg", "foob");
	DECODES("Zm9vYmE", "fooba");
	DECODES("Zm9vYmE\n", "fooba");
	/* Non-zero leftover bits are allowed (RFC 4648 3.5 lets decoders choose). */
	DECODES("Zh==", "f");
	DECODES("Zm9=", "fo");
	CHECK_INT(bound_violations, 0);
}

/* A failed decode leaves the bytes already in out untouched and its length
 * unchanged, even after the fast path has written whole quanta. */
TEST(failure_keeps_output)
{
	static const char *const bad[] = {
		"Zm9vYmFyZm9vYmFyZm9vYmFy!", "Zg=", "Z", "Zm9vYmFyZm9vYmFy=Zg", "!", "Zm9vYmFy\x80",
	};
	struct buf b = BUF_INIT;

	buf_puts(&b, "keep");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(decode(&b, bad[i], strlen(bad[i])), -1);
		CHECK_INT(b.len, 4);
		CHECK_STR(buf_cstr(&b), "keep");
	}
	CHECK_INT(decode(&b, "Zm9vYmFy", 8), 0);
	CHECK_STR(buf_cstr(&b), "keepfoobar");
	CHECK_INT(decode(&b, "Zm9v!", 5), -1);
	CHECK_STR(buf_cstr(&b), "keepfoobar");
	CHECK_INT(b.len, 10);
	buf_free(&b);
	CHECK_INT(bound_violations, 0);
}

/* The bound is what the decoder grows by, so it must hold for any input:
 * check it directly over random strings from a hostile alphabet. */
TEST(decoded_len_bound)
{
	static const char pool[] = "AZaz09+/=== \t\r\n!-_";
	char s[64];
	int ok_count = 0;

	CHECK_INT(b64_decoded_len("", 0), 0);
	CHECK_INT(b64_decoded_len("Z", 1), 0);
	CHECK_INT(b64_decoded_len("Zg", 2), 1);
	CHECK_INT(b64_decoded_len("Zm8", 3), 2);
	CHECK_INT(b64_decoded_len("Zm9v", 4), 3);
	for (int iter = 0; iter < 20000; iter++) {
		size_t n = rnd() % sizeof(s);
		for (size_t i = 0; i < n; i++)
			s[i] = pool[rnd() % (sizeof(pool) - 1)];
		struct buf b = BUF_INIT;
		if (decode(&b, s, n) == 0)
			ok_count++;
		buf_free(&b);
	}
	CHECK(ok_count > 0);
	CHECK_INT(bound_violations, 0);
}

TEST(canonical_encoder_output)
{
	unsigned char data[301];
	int bad = 0;

	for (size_t n = 0; n <= 300; n++) {
		struct buf b = BUF_INIT;
		for (size_t i = 0; i < n; i++)
			data[i] = rnd();
		b64_encode(&b, data, n);
		if (!canonical(b.data, b.len))
			bad++;
		buf_free(&b);
	}
	CHECK_INT(bad, 0);
	CHECK(CANON(""));
	CHECK(CANON("Zg=="));
	CHECK(CANON("Zm8="));
	CHECK(CANON("++//"));
	CHECK(CANON("AZaz09+/AZaz09+/")); /* exactly one SSE2 block */
	/* Canonical means decodable and copyable, not "bits are zero". */
	CHECK(CANON("Zh=="));
}

TEST(canonical_rejects)
{
	CHECK(!CANON("Zm9v\n"));
	CHECK(!CANON("Zm9v YmFy"));
	CHECK(!CANON("Zm9vYmFy\r\n"));
	CHECK(!CANON("Zm9vYg\r\n")); /* length 8, but whitespace */
	CHECK(!CANON("Zg"));
	CHECK(!CANON("Zm8"));
	CHECK(!CANON("Zm9vYg"));
	CHECK(!CANON("Z"));
	CHECK(!CANON("Zm9vY"));
	CHECK(!CANON("Zg="));
	CHECK(!CANON("Zg==="));
	CHECK(!CANON("Z==="));
	CHECK(!CANON("===="));
	CHECK(!CANON("Zm9vZ==="));
	CHECK(!CANON("Zg==Zg=="));
	CHECK(!CANON("Zm8=Zm9v"));
	CHECK(!CANON("Zg=g"));
	CHECK(!CANON("Zm9v-_-_"));
	CHECK(!CANON("Zm9v\x80\x81\xfe\xff"));
	CHECK(!CANON("Zm9v\0\0\0\0"));
	CHECK(!CANON("Zm9vYmFyZm9vYmF\xc3"));	   /* 16: the SSE2 block */
	CHECK(!CANON("Zm9vYmFyZm9vYmF=Zm9v"));	   /* '=' ends the block, data follows */
	CHECK(!CANON("Zm9vYmFyZm9vYmFy=m9vYmFy")); /* '=' right after the block */
}

/* Every byte value at positions that land in the SSE2 block(s) and in the
 * scalar tail, for bodies of 15..53 bytes with 0, 1 and 2 pad characters:
 * canonical exactly when the byte is in the alphabet. */
TEST(canonical_sse2_and_tail)
{
	int wrong = 0, checked = 0;

	for (size_t n = 16; n <= 56; n += 4) {
		for (int pad = 0; pad <= 2; pad++) {
			char s[56];
			size_t body = n - (size_t)pad;
			for (size_t i = 0; i < body; i++)
				s[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456"
				       "789+/"[rnd() % 64];
			for (size_t i = body; i < n; i++)
				s[i] = '=';
			if (!canonical(s, n))
				wrong++;
			size_t pos[] = {0, 1, 14, 15, 16, 17, 31, 32, 33, 47, 48, body - 1};
			for (size_t k = 0; k < sizeof(pos) / sizeof(pos[0]); k++) {
				if (pos[k] >= body)
					continue;
				char saved = s[pos[k]];
				for (unsigned c = 0; c < 256; c++) {
					s[pos[k]] = (char)c;
					int want = in_alphabet(c);
					/* '=' as the last body char is one more pad, up to two. */
					if (c == '=' && pos[k] == body - 1 && pad < 2)
						want = 1;
					if (canonical(s, n) != want) {
						fprintf(stderr,
							"  n %zu pad %d pos %zu byte 0x%02x\n", n,
							pad, pos[k], c);
						wrong++;
					}
					checked++;
				}
				s[pos[k]] = saved;
			}
			/* Length not a multiple of 4 around the block boundary. */
			for (size_t m = n - 3; m < n; m++)
				if (canonical(s, m))
					wrong++;
		}
	}
	CHECK_INT(wrong, 0);
	CHECK(checked > 10000);
	/* Lengths 32 and 33 directly. */
	CHECK(CANON("Zm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFy"));
	CHECK(!CANON("Zm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZ"));
	CHECK(!CANON("Zm9vYmFyZm9vYmFyZm9vYmFyZm9vYmF_"));
	CHECK(!CANON("-m9vYmFyZm9vYmFyZm9vYmFyZm9vYmFy"));
}

/* Canonical strings always decode, to exactly 3/4 of their length less
 * the padding. */
TEST(canonical_implies_decodable)
{
	static const char pool[] = "AZaz09+/=";
	char s[40];
	int bad = 0, hits = 0;

	for (int iter = 0; iter < 50000; iter++) {
		size_t n = (rnd() % 10) * 4;
		for (size_t i = 0; i < n; i++)
			s[i] = pool[rnd() % (sizeof(pool) - 1)];
		if (!canonical(s, n))
			continue;
		hits++;
		size_t pads = n && s[n - 1] == '=' ? (n > 1 && s[n - 2] == '=' ? 2 : 1) : 0;
		struct buf b = BUF_INIT;
		if (decode(&b, s, n) != 0 || b.len != n / 4 * 3 - pads)
			bad++;
		buf_free(&b);
	}
	CHECK_INT(bad, 0);
	CHECK(hits > 100);
	CHECK_INT(bound_violations, 0);
}

int main(void)
{
	RUN(rfc4648_encode);
	RUN(rfc4648_decode);
	RUN(encode_appends);
	RUN(round_trip_every_length);
	RUN(invalid_characters);
	RUN(bad_padding);
	RUN(impossible_length);
	RUN(whitespace_skipped);
	RUN(unpadded_accepted);
	RUN(failure_keeps_output);
	RUN(decoded_len_bound);
	RUN(canonical_encoder_output);
	RUN(canonical_rejects);
	RUN(canonical_sse2_and_tail);
	RUN(canonical_implies_decodable);
	UNIT_DONE();
}
