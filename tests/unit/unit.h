/* Minimal unit-test harness: each tests/unit/test_*.c defines its tests with
 * TEST(name), lists them in main via RUN(name), and ends with UNIT_DONE(),
 * which prints "N passed, N failed" and returns non-zero on any failure. */
#ifndef IMAGEGW_UNIT_H
#define IMAGEGW_UNIT_H
#include <stdio.h>
#include <string.h>

static int unit_passed, unit_failed, unit_cur_failed;

#define TEST(name) static void test_##name(void)

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "  FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);          \
			unit_cur_failed = 1;                                                       \
		}                                                                                  \
	} while (0)

#define CHECK_STR(a, b)                                                                            \
	do {                                                                                       \
		const char *ua_ = (a), *ub_ = (b);                                                 \
		if (!ua_ || !ub_ || strcmp(ua_, ub_) != 0) {                                       \
			fprintf(stderr, "  FAIL %s:%d: %s == \"%s\" (got \"%s\")\n", __FILE__,     \
				__LINE__, #a, ub_ ? ub_ : "(null)", ua_ ? ua_ : "(null)");         \
			unit_cur_failed = 1;                                                       \
		}                                                                                  \
	} while (0)

#define CHECK_INT(a, b)                                                                            \
	do {                                                                                       \
		long long ua_ = (long long)(a), ub_ = (long long)(b);                              \
		if (ua_ != ub_) {                                                                  \
			fprintf(stderr, "  FAIL %s:%d: %s == %lld (got %lld)\n", __FILE__,         \
				__LINE__, #a, ub_, ua_);                                           \
			unit_cur_failed = 1;                                                       \
		}                                                                                  \
	} while (0)

#define RUN(name)                                                                                  \
	do {                                                                                       \
		unit_cur_failed = 0;                                                               \
		test_##name();                                                                     \
		if (unit_cur_failed) {                                                             \
			unit_failed++;                                                             \
			fprintf(stderr, "not ok %s\n", #name);                                     \
		} else {                                                                           \
			unit_passed++;                                                             \
		}                                                                                  \
	} while (0)

#define UNIT_DONE()                                                                                \
	do {                                                                                       \
		printf("%s: %d passed, %d failed\n", __FILE__, unit_passed, unit_failed);          \
		return unit_failed ? 1 : 0;                                                        \
	} while (0)

#endif
