/* Unit tests for core/urlsign.c: the RFC 4231 HMAC vector, a pinned signature
 * of "<path>|<exp>", sign/check round trips, and every way a link can be
 * tampered with, expire or be malformed. */
#include "../../core/urlsign.c"

#include <stdio.h>
#include <stdlib.h>

#include "unit.h"

#define SECRET "test-secret"
#define NOW    1700000000L

static const char *path_png(void)
{
	static char p[80];
	if (!p[0]) {
		strcpy(p, "/v1/files/");
		for (int i = 0; i < 32; i++)
			strcat(p, "ab");
		strcat(p, ".png");
	}
	return p;
}

/* A query "exp=<exp>&sig=<signature of path, exp>" in q. */
static void signed_query(char *q, size_t n, const char *path, long exp)
{
	char sig[65];
	urlsign_sig(SECRET, path, exp, sig);
	snprintf(q, n, "exp=%ld&sig=%s", exp, sig);
}

TEST(rfc4231_case2)
{
	static const char data[] = "what do ya want for nothing?";
	unsigned char d[32];
	char hex[65];
	CHECK_INT(hmac_sha256("Jefe", 4, data, sizeof data - 1, d), 0);
	hash_hex(d, sizeof d, hex);
	CHECK_STR(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

/* Pinned with Python: hmac.new(b"test-secret", f"{path}|{exp}", sha256). */
TEST(signature_pinned)
{
	char sig[65];
	urlsign_sig(SECRET, path_png(), 1700000000L, sig);
	CHECK_STR(sig, "e0b6a6c1c8e694170ea8dc29ff33d86f51e3a75b646a99ee2a6626574b195575");
	CHECK_INT(strlen(sig), 64);
}

TEST(round_trip)
{
	char q[256];
	long rem = -1;
	signed_query(q, sizeof q, path_png(), NOW + 3600);
	CHECK_INT(urlsign_check(SECRET, path_png(), q, NOW, &rem), 0);
	CHECK_INT(rem, 3600);
	CHECK_INT(urlsign_check(SECRET, path_png(), q, NOW + 3599, &rem), 0);
	CHECK_INT(rem, 1);
	CHECK_INT(urlsign_check(SECRET, path_png(), q, NOW, NULL), 0);
}

TEST(any_order_other_params_ignored)
{
	char sig[65], q[300];
	urlsign_sig(SECRET, path_png(), NOW + 60, sig);
	snprintf(q, sizeof q, "sig=%s&exp=%ld", sig, NOW + 60);
	CHECK_INT(urlsign_check(SECRET, path_png(), q, NOW, NULL), 0);
	snprintf(q, sizeof q, "a=1&sig=%s&x&exp=%ld&expx=3&b=", sig, NOW + 60);
	CHECK_INT(urlsign_check(SECRET, path_png(), q, NOW, NULL), 0);
}

TEST(tampered)
{
	char q[256], sig[65];
	long exp = NOW + 600;
	signed_query(q, sizeof q, path_png(), exp);
	/* another secret */
	CHECK_INT(urlsign_check("other-secret", path_png(), q, NOW, NULL), -1);
	/* another path (one hex digit, and the extension) */
	char other[80];
	strcpy(other, path_png());
	other[10] = 'c';
	CHECK_INT(urlsign_check(SECRET, other, q, NOW, NULL), -1);
	strcpy(other, path_png());
	strcpy(strrchr(other, '.'), ".jpg");
	CHECK_INT(urlsign_check(SECRET, other, q, NOW, NULL), -1);
	/* another exp with the old signature */
	urlsign_sig(SECRET, path_png(), exp, sig);
	snprintf(q, sizeof q, "exp=%ld&sig=%s", exp + 1, sig);
	CHECK_INT(urlsign_check(SECRET, path_png(), q, NOW, NULL), -1);
	/* each position of the signature flipped */
	for (int i = 0; i < 64; i++) {
		snprintf(q, sizeof q, "exp=%ld&sig=%s", exp, sig);
		char *s = strstr(q, "sig=") + 4;
		s[i] = s[i] == '0' ? '1' : '0';
		CHECK_INT(urlsign_check(SECRET, path_png(), q, NOW, NULL), -1);
	}
}

TEST(expired)
{
	char q[256];
	long rem = 12345;
	signed_query(q, sizeof q, path_png(), NOW);
	CHECK_INT(urlsign_check(SECRET, path_png(), q, NOW, &rem), -2);
	CHECK_INT(urlsign_check(SECRET, path_png(), q, NOW + 86400, &rem), -2);
	CHECK_INT(rem, 12345); /* untouched on failure */
	/* an expired link with a bad signature is just bad */
	CHECK_INT(urlsign_check("other-secret", path_png(), q, NOW + 1, NULL), -1);
}

TEST(missing_params)
{
	char sig[65], q[256];
	urlsign_sig(SECRET, path_png(), NOW + 60, sig);
	CHECK_INT(urlsign_check(SECRET, path_png(), "", NOW, NULL), -1);
	snprintf(q, sizeof q, "sig=%s", sig);
	CHECK_INT(urlsign_check(SECRET, path_png(), q, NOW, NULL), -1);
	snprintf(q, sizeof q, "exp=%ld", NOW + 60);
	CHECK_INT(urlsign_check(SECRET, path_png(), q, NOW, NULL), -1);
	snprintf(q, sizeof q, "exp=%ld&sig=", NOW + 60);
	CHECK_INT(urlsign_check(SECRET, path_png(), q, NOW, NULL), -1);
	snprintf(q, sizeof q, "exp&sig=%s", sig);
	CHECK_INT(urlsign_check(SECRET, path_png(), q, NOW, NULL), -1);
	snprintf(q, sizeof q, "exp=&sig=%s", sig);
	CHECK_INT(urlsign_check(SECRET, path_png(), q, NOW, NULL), -1);
	/* no secret never verifies, even a signature made with the empty key */
	char q2[256], sig2[65];
	urlsign_sig("", path_png(), NOW + 60, sig2);
	snprintf(q2, sizeof q2, "exp=%ld&sig=%s", NOW + 60, sig2);
	CHECK_INT(urlsign_check("", path_png(), q2, NOW, NULL), -1);
	CHECK_INT(urlsign_check(NULL, path_png(), q2, NOW, NULL), -1);
	CHECK_INT(urlsign_check(SECRET, path_png(), NULL, NOW, NULL), -1);
}

TEST(repeated_params)
{
	char sig[65], q[300];
	urlsign_sig(SECRET, path_png(), NOW + 60, sig);
	snprintf(q, sizeof q, "exp=%ld&sig=%s&exp=%ld", NOW + 60, sig, NOW + 60);
	CHECK_INT(urlsign_check(SECRET, path_png(), q, NOW, NULL), -1);
	snprintf(q, sizeof q, "exp=%ld&sig=%s&sig=%s", NOW + 60, sig, sig);
	CHECK_INT(urlsign_check(SECRET, path_png(), q, NOW, NULL), -1);
}

/* exp spelled any way but its canonical decimal is refused, even when a
 * signature over the value it would parse to is supplied. */
TEST(junk_exp)
{
	static const char *bad[] = {"12abc",
				    "-5",
				    "+1700000060",
				    "0",
				    "01700000060",
				    " 1700000060",
				    "1700000060 ",
				    "1700000060.0",
				    "0x65",
				    "1e10",
				    "%31700000060",
				    "99999999999999999999",
				    "9223372036854775808",
				    "18446744073709551617"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char q[300], sig[65];
		long v = strtol(bad[i], NULL, 10);
		urlsign_sig(SECRET, path_png(), v > 0 ? v : 1700000060L, sig);
		snprintf(q, sizeof q, "exp=%s&sig=%s", bad[i], sig);
		if (urlsign_check(SECRET, path_png(), q, NOW, NULL) != -1) {
			fprintf(stderr, "  accepted exp '%s'\n", bad[i]);
			CHECK(0);
		}
	}
}

TEST(huge_exp_in_range)
{
	char q[256];
	long rem = 0;
	signed_query(q, sizeof q, path_png(), LONG_MAX);
	CHECK_INT(urlsign_check(SECRET, path_png(), q, NOW, &rem), 0);
	CHECK_INT(rem, LONG_MAX - NOW);
}

TEST(bad_sig_shape)
{
	char sig[65], q[300];
	urlsign_sig(SECRET, path_png(), NOW + 60, sig);
	/* uppercase of the right signature */
	char up[65];
	for (int i = 0; i < 65; i++)
		up[i] = (char)(sig[i] >= 'a' && sig[i] <= 'f' ? sig[i] - 32 : sig[i]);
	snprintf(q, sizeof q, "exp=%ld&sig=%s", NOW + 60, up);
	CHECK_INT(urlsign_check(SECRET, path_png(), q, NOW, NULL), -1);
	/* 63 and 65 digits, a non-hex digit */
	snprintf(q, sizeof q, "exp=%ld&sig=%.63s", NOW + 60, sig);
	CHECK_INT(urlsign_check(SECRET, path_png(), q, NOW, NULL), -1);
	snprintf(q, sizeof q, "exp=%ld&sig=%s0", NOW + 60, sig);
	CHECK_INT(urlsign_check(SECRET, path_png(), q, NOW, NULL), -1);
	snprintf(q, sizeof q, "exp=%ld&sig=%.63sg", NOW + 60, sig);
	CHECK_INT(urlsign_check(SECRET, path_png(), q, NOW, NULL), -1);
	/* percent-encoded digits are not decoded */
	snprintf(q, sizeof q, "exp=%ld&sig=%%%02x%s", NOW + 60, sig[0], sig + 1);
	CHECK_INT(urlsign_check(SECRET, path_png(), q, NOW, NULL), -1);
}

TEST(url_built)
{
	struct buf b = BUF_INIT;
	char sig[65], want[300];
	urlsign_sig(SECRET, path_png(), NOW + 60, sig);
	urlsign_url(&b, "http://h:8080/imagegw", path_png(), SECRET, NOW + 60);
	snprintf(want, sizeof want, "http://h:8080/imagegw%s?exp=%ld&sig=%s", path_png(), NOW + 60,
		 sig);
	CHECK_STR(buf_cstr(&b), want);
	buf_reset(&b);
	urlsign_url(&b, "https://img.example.org/", path_png(), SECRET, NOW + 60);
	snprintf(want, sizeof want, "https://img.example.org%s?exp=%ld&sig=%s", path_png(),
		 NOW + 60, sig);
	CHECK_STR(buf_cstr(&b), want);
	/* and what it builds verifies */
	const char *q = strchr(buf_cstr(&b), '?') + 1;
	CHECK_INT(urlsign_check(SECRET, path_png(), q, NOW, NULL), 0);
	buf_free(&b);
}

int main(void)
{
	RUN(rfc4231_case2);
	RUN(signature_pinned);
	RUN(round_trip);
	RUN(any_order_other_params_ignored);
	RUN(tampered);
	RUN(expired);
	RUN(missing_params);
	RUN(repeated_params);
	RUN(junk_exp);
	RUN(huge_exp_in_range);
	RUN(bad_sig_shape);
	RUN(url_built);
	UNIT_DONE();
}
