/* Unit tests for core/err.c: the error table against SPEC section 4 (copied
 * here as data, so a drift in either shows up), lookups, err_set, and the
 * promise that docs/troubleshooting.md covers every code. */
#include "../../core/err.c"

#include <stdlib.h>

#include "buf.h"
#include "unit.h"

/* SPEC section 4, row for row. */
static const struct {
	enum img_err code;
	const char *name;
	int http;
	const char *type, *category, *error_type;
} spec[] = {
	{IMG_INVALID_REQUEST, "IMG_INVALID_REQUEST", 400, "invalid_request_error", "USER_ERROR",
	 "client"},
	{IMG_INVALID_PROMPT, "IMG_INVALID_PROMPT", 400, "invalid_request_error", "USER_ERROR",
	 "client"},
	{IMG_CONTENT_FILTERED, "IMG_CONTENT_FILTERED", 400, "invalid_request_error", "USER_ERROR",
	 "client"},
	{IMG_SAFETY_BLOCKED, "IMG_SAFETY_BLOCKED", 400, "invalid_request_error", "USER_ERROR",
	 "client"},
	{IMG_RECITATION_BLOCKED, "IMG_RECITATION_BLOCKED", 400, "invalid_request_error",
	 "USER_ERROR", "client"},
	{IMG_UNKNOWN_MODEL, "IMG_UNKNOWN_MODEL", 400, "invalid_request_error", "USER_ERROR",
	 "client"},
	{IMG_UNAUTHORIZED, "IMG_UNAUTHORIZED", 401, "authentication_error", "USER_ERROR", "client"},
	{IMG_FORBIDDEN, "IMG_FORBIDDEN", 403, "permission_error", "USER_ERROR", "client"},
	{IMG_NOT_FOUND, "IMG_NOT_FOUND", 404, "invalid_request_error", "USER_ERROR", "client"},
	{IMG_PAYLOAD_TOO_LARGE, "IMG_PAYLOAD_TOO_LARGE", 413, "invalid_request_error", "USER_ERROR",
	 "client"},
	{IMG_RATE_LIMITED, "IMG_RATE_LIMITED", 429, "rate_limit_error", "USER_ERROR", "quota"},
	{IMG_QUOTA_EXHAUSTED, "IMG_QUOTA_EXHAUSTED", 429, "rate_limit_error", "API_ERROR", "quota"},
	{IMG_UPSTREAM_AUTH, "IMG_UPSTREAM_AUTH", 502, "api_error", "API_ERROR", "server"},
	{IMG_UPSTREAM_ERROR, "IMG_UPSTREAM_ERROR", 502, "api_error", "API_ERROR", "server"},
	{IMG_NO_IMAGE, "IMG_NO_IMAGE", 502, "api_error", "API_ERROR", "server"},
	{IMG_NETWORK_ERROR, "IMG_NETWORK_ERROR", 502, "api_error", "NETWORK_ERROR", "network"},
	{IMG_UPSTREAM_TIMEOUT, "IMG_UPSTREAM_TIMEOUT", 504, "api_error", "NETWORK_ERROR",
	 "network"},
	{IMG_INTERNAL, "IMG_INTERNAL", 500, "server_error", "SYSTEM_ERROR", "server"},
};

#define NSPEC (sizeof spec / sizeof spec[0])

TEST(spec_table)
{
	CHECK_INT(NSPEC, 18);
	for (size_t i = 0; i < NSPEC; i++) {
		const struct err_info *e = err_info(spec[i].code);

		CHECK_STR(e->code, spec[i].name);
		CHECK_INT(e->http, spec[i].http);
		CHECK_STR(e->type, spec[i].type);
		CHECK_STR(e->category, spec[i].category);
		CHECK_STR(e->error_type, spec[i].error_type);
		CHECK_INT(err_by_name(spec[i].name), spec[i].code);
	}
}

/* Codes beyond SPEC's table: 405 (SPEC 2, "wrong method: 405 with Allow") and
 * 503 (SPEC 4, "429 and 503 carry Retry-After"). */
TEST(extra_codes)
{
	const struct err_info *e = err_info(IMG_METHOD_NOT_ALLOWED);

	CHECK_STR(e->code, "IMG_METHOD_NOT_ALLOWED");
	CHECK_INT(e->http, 405);
	CHECK_STR(e->category, "USER_ERROR");
	CHECK_STR(e->error_type, "client");
	e = err_info(IMG_UNAVAILABLE);
	CHECK_STR(e->code, "IMG_UNAVAILABLE");
	CHECK_INT(e->http, 503);
	CHECK_STR(e->category, "SYSTEM_ERROR");
	/* Every code in the enum is either a SPEC row or one of these two. */
	for (int c = IMG_OK + 1; c < IMG_ERR_COUNT; c++) {
		int found = c == IMG_METHOD_NOT_ALLOWED || c == IMG_UNAVAILABLE;

		for (size_t i = 0; i < NSPEC && !found; i++)
			found = spec[i].code == (enum img_err)c;
		if (!found)
			fprintf(stderr, "  %s is in neither SPEC 4 nor the known extras\n",
				err_info((enum img_err)c)->code);
		CHECK(found);
	}
}

static int one_of(const char *s, const char *const *list)
{
	for (int i = 0; list[i]; i++)
		if (strcmp(s, list[i]) == 0)
			return 1;
	return 0;
}

TEST(every_row_complete)
{
	static const char *const types[] = {"invalid_request_error",
					    "authentication_error",
					    "permission_error",
					    "rate_limit_error",
					    "api_error",
					    "server_error",
					    NULL};
	static const char *const cats[] = {"USER_ERROR", "API_ERROR", "NETWORK_ERROR",
					   "SYSTEM_ERROR", NULL};
	static const char *const etypes[] = {"client", "server", "network", "quota", NULL};

	CHECK_STR(err_info(IMG_OK)->code, "IMG_OK");
	for (int c = IMG_OK + 1; c < IMG_ERR_COUNT; c++) {
		const struct err_info *e = err_info((enum img_err)c);

		CHECK(e->code && strncmp(e->code, "IMG_", 4) == 0);
		CHECK(e->http >= 400 && e->http <= 599);
		CHECK(e->type && one_of(e->type, types));
		CHECK(e->category && one_of(e->category, cats));
		CHECK(e->error_type && one_of(e->error_type, etypes));
		CHECK(e->message && e->message[0] != '\0');
		CHECK(e->remedy && e->remedy[0] != '\0');
		/* A message and remedy fit struct img_error's fields. */
		CHECK(e->message && strlen(e->message) < sizeof((struct img_error *)0)->message);
		CHECK(e->remedy && strlen(e->remedy) < sizeof((struct img_error *)0)->remedy);
		/* 5xx are never the client's fault; 4xx (bar quota) are. */
		if (e->http >= 500)
			CHECK(strcmp(e->category, "USER_ERROR") != 0);
		if (!e->message || !e->message[0] || !e->remedy || !e->remedy[0])
			fprintf(stderr, "  %s lacks a message or remedy\n", e->code);
	}
}

TEST(by_name_round_trip)
{
	for (int c = 0; c < IMG_ERR_COUNT; c++)
		CHECK_INT(err_by_name(err_info((enum img_err)c)->code), c);
	CHECK_INT(err_by_name("IMG_NO_SUCH_CODE"), IMG_ERR_COUNT);
	CHECK_INT(err_by_name(""), IMG_ERR_COUNT);
	CHECK_INT(err_by_name("IMG_NOT_FOUND "), IMG_ERR_COUNT);
	CHECK_INT(err_by_name("IMG_NOT"), IMG_ERR_COUNT);
}

TEST(out_of_range)
{
	const struct err_info *internal = err_info(IMG_INTERNAL);

	CHECK(err_info(IMG_ERR_COUNT) == internal);
	CHECK(err_info((enum img_err)(IMG_ERR_COUNT + 7)) == internal);
	CHECK(err_info((enum img_err) - 1) == internal);
	CHECK(err_info((enum img_err)0x7fffffff) == internal);
	CHECK_STR(err_info(IMG_ERR_COUNT)->code, "IMG_INTERNAL");
	CHECK_INT(err_info(IMG_ERR_COUNT)->http, 500);
}

TEST(set_and_clear)
{
	struct img_error e;

	memset(&e, 0x5a, sizeof e);
	CHECK_INT(err_set(&e, IMG_INVALID_REQUEST, "n", "'n' must be from 1 to %d; got %lld.", 10,
			  11LL),
		  IMG_INVALID_REQUEST);
	CHECK_INT(e.code, IMG_INVALID_REQUEST);
	CHECK_STR(e.message, "'n' must be from 1 to 10; got 11.");
	CHECK_STR(e.param, "n");
	/* Everything else is reset. */
	CHECK_STR(e.remedy, "");
	CHECK_STR(e.finish_reason, "");
	CHECK_INT(e.retry_after, 0);
	CHECK_INT(e.upstream_status, 0);

	/* No format: empty message (the table's is used); no param: empty. */
	e.retry_after = 30;
	CHECK_INT(err_set(&e, IMG_NOT_FOUND, NULL, NULL), IMG_NOT_FOUND);
	CHECK_STR(e.message, "");
	CHECK_STR(e.param, "");
	CHECK_INT(e.retry_after, 0);

	/* A '%' in an argument is not re-interpreted. */
	err_set(&e, IMG_INVALID_REQUEST, "size", "got '%s'", "%s%n%d");
	CHECK_STR(e.message, "got '%s%n%d'");

	err_clear(&e);
	CHECK_INT(e.code, IMG_OK);
	CHECK_STR(e.message, "");
	CHECK_STR(e.param, "");
}

TEST(set_truncates)
{
	struct img_error e;
	char big[2000], param[300];

	memset(big, 'm', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	memset(param, 'p', sizeof param - 1);
	param[sizeof param - 1] = '\0';
	err_set(&e, IMG_INVALID_PROMPT, param, "%s and more", big);
	CHECK_INT(strlen(e.message), sizeof e.message - 1);
	CHECK(e.message[0] == 'm' && e.message[sizeof e.message - 2] == 'm');
	CHECK_INT(strlen(e.param), sizeof e.param - 1);
	CHECK_INT(e.code, IMG_INVALID_PROMPT);
	/* Exactly full. */
	big[sizeof e.message - 1] = '\0';
	err_set(&e, IMG_INVALID_PROMPT, NULL, "%s", big);
	CHECK_INT(strlen(e.message), sizeof e.message - 1);
}

/* True when text mentions `code` as a whole word (IMG_FOO not in IMG_FOO_BAR). */
static int mentions(const char *text, const char *code)
{
	size_t n = strlen(code);

	for (const char *p = strstr(text, code); p; p = strstr(p + 1, code)) {
		char after = p[n];
		char before = p == text ? ' ' : p[-1];
		int word_after = (after >= 'A' && after <= 'Z') || (after >= '0' && after <= '9') ||
				 after == '_';
		int word_before = (before >= 'A' && before <= 'Z') ||
				  (before >= '0' && before <= '9') || before == '_';
		if (!word_after && !word_before)
			return 1;
	}
	return 0;
}

TEST(troubleshooting_doc)
{
	FILE *f = fopen("docs/troubleshooting.md", "r");
	struct buf doc = BUF_INIT;
	char chunk[4096];
	size_t n;

	if (!f) {
		printf("note: docs/troubleshooting.md does not exist yet (or the test is not "
		       "run from the repository root): check skipped\n");
		return;
	}
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_append(&doc, chunk, n);
	fclose(f);
	for (int c = IMG_OK + 1; c < IMG_ERR_COUNT; c++) {
		const char *code = err_info((enum img_err)c)->code;

		if (!mentions(buf_cstr(&doc), code)) {
			fprintf(stderr, "  docs/troubleshooting.md does not mention %s\n", code);
			CHECK(!"docs/troubleshooting.md mentions every code");
		}
	}
	buf_free(&doc);
}

int main(void)
{
	RUN(spec_table);
	RUN(extra_codes);
	RUN(every_row_complete);
	RUN(by_name_round_trip);
	RUN(out_of_range);
	RUN(set_and_clear);
	RUN(set_truncates);
	RUN(troubleshooting_doc);
	UNIT_DONE();
}
