/* Unit tests for core/genreq.c: the JSON body of POST /v1/images/generations
 * (SPEC 2.1) — valid bodies, every rejection with the field it names, null as
 * absent, unknown fields ignored, and freeing after any failure — and the
 * text fields of an edits form (SPEC 2.2), checked to follow the same rules. */
#include "../../core/genreq.c"

#include "unit.h"

static struct config cfg;
static struct gen_req req;
static struct img_error err;

static void setup(void)
{
	memset(&cfg, 0, sizeof cfg);
	cfg.max_prompt_chars = 8000;
	cfg.max_n = 10;
}

static enum img_err parse(const char *body)
{
	return genreq_parse_json(&cfg, body, strlen(body), &req, &err);
}

/* 1 when body is rejected with code and param (NULL: no param); frees. */
static int rejects(const char *body, enum img_err code, const char *param)
{
	enum img_err rc = parse(body);
	int ok = rc == code && err.code == code && strcmp(err.param, param ? param : "") == 0 &&
		 err.message[0] != '\0';

	if (!ok)
		fprintf(stderr, "  %s: got %s param '%s' (\"%s\"), want %s param '%s'\n", body,
			err_info(rc)->code, err.param, err.message, err_info(code)->code,
			param ? param : "");
	genreq_free(&req);
	return ok;
}

#define BAD(body, param) CHECK(rejects(body, IMG_INVALID_REQUEST, param))
#define BAD_PROMPT(body) CHECK(rejects(body, IMG_INVALID_PROMPT, "prompt"))

/* 1 when body is accepted; leaves req for the caller to inspect and free. */
static int accepts(const char *body)
{
	enum img_err rc = parse(body);

	if (rc != IMG_OK)
		fprintf(stderr, "  %s: got %s param '%s' (\"%s\")\n", body, err_info(rc)->code,
			err.param, err.message);
	return rc == IMG_OK;
}

TEST(minimal)
{
	CHECK(accepts("{\"prompt\":\"a red fox\"}"));
	CHECK_STR(req.prompt, "a red fox");
	CHECK(req.model == NULL);
	CHECK_INT(req.n, 1);
	CHECK(req.size == NULL && req.aspect_ratio == NULL && req.image_size == NULL);
	CHECK(req.quality == NULL && req.style == NULL && req.user == NULL);
	CHECK_INT(req.response_url, 0);
	CHECK_INT(req.safety, -1);
	CHECK_INT(req.has_seed, 0);
	CHECK_INT(req.no_store, 0);
	CHECK_INT(err.code, IMG_OK);
	genreq_free(&req);
}

TEST(full)
{
	CHECK(accepts("{\"prompt\":\"a red fox\",\"model\":\"gemini-3-pro-image-4k\",\"n\":3,"
		      "\"size\":\"1792x1024\",\"aspect_ratio\":\"16:9\",\"image_size\":\"4k\","
		      "\"quality\":\"HD\",\"style\":\"Vivid\",\"response_format\":\"URL\","
		      "\"safety_threshold\":\"medium\",\"seed\":12345,\"user\":\"user-1\","
		      "\"cache\":false}"));
	CHECK_STR(req.prompt, "a red fox");
	CHECK_STR(req.model, "gemini-3-pro-image-4k");
	CHECK_INT(req.n, 3);
	CHECK_STR(req.size, "1792x1024");
	CHECK_STR(req.aspect_ratio, "16:9");
	CHECK_STR(req.image_size, "4K");
	CHECK_STR(req.quality, "hd");
	CHECK_STR(req.style, "vivid");
	CHECK_INT(req.response_url, 1);
	CHECK_INT(req.safety, SAFETY_MEDIUM);
	CHECK_INT(req.has_seed, 1);
	CHECK_INT(req.seed, 12345);
	CHECK_STR(req.user, "user-1");
	CHECK_INT(req.no_store, 1);
	genreq_free(&req);

	CHECK(accepts("{\"prompt\":\"p\",\"response_format\":\"b64_json\",\"cache\":true,"
		      "\"size\":\"AUTO\",\"seed\":-7,\"n\":10,\"quality\":\"auto\"}"));
	CHECK_INT(req.response_url, 0);
	CHECK_INT(req.no_store, 0);
	CHECK_INT(req.seed, -7);
	CHECK_INT(req.n, 10);
	CHECK_STR(req.quality, "auto");
	genreq_free(&req);

	/* Every quality and style spelling, canonicalised to lower case. */
	static const char *const q[] = {"standard", "HD", "Low", "MEDIUM", "high", "auto", NULL};
	static const char *const ql[] = {"standard", "hd", "low", "medium", "high", "auto"};
	char body[128];
	for (int i = 0; q[i]; i++) {
		snprintf(body, sizeof body, "{\"prompt\":\"p\",\"quality\":\"%s\"}", q[i]);
		CHECK(accepts(body));
		CHECK_STR(req.quality, ql[i]);
		genreq_free(&req);
	}
	CHECK(accepts("{\"prompt\":\"p\",\"style\":\"NATURAL\",\"image_size\":\"1k\"}"));
	CHECK_STR(req.style, "natural");
	CHECK_STR(req.image_size, "1K");
	genreq_free(&req);
	CHECK(accepts("{\"prompt\":\"p\",\"image_size\":\"2K\",\"size\":\"16:9\","
		      "\"aspect_ratio\":\"16x9\"}"));
	CHECK_STR(req.image_size, "2K");
	CHECK_STR(req.size, "16:9");
	genreq_free(&req);
}

TEST(prompt_rejections)
{
	BAD_PROMPT("{}");
	BAD_PROMPT("{\"n\":1}");
	BAD_PROMPT("{\"prompt\":null}");
	BAD_PROMPT("{\"prompt\":\"\"}");
	BAD_PROMPT("{\"prompt\":\"   \"}");
	BAD_PROMPT("{\"prompt\":\" \\t\\n\\r \"}");
	BAD_PROMPT("{\"prompt\":5}");
	BAD_PROMPT("{\"prompt\":true}");
	BAD_PROMPT("{\"prompt\":[\"a\"]}");
	BAD_PROMPT("{\"prompt\":{\"text\":\"a\"}}");
	BAD_PROMPT("{\"prompt\":\"\\u0000\"}");
	BAD_PROMPT("{\"prompt\":\"a\\u0000b\"}");
	BAD_PROMPT("{\"prompt\":\"a fox\\u0000\"}");
}

TEST(prompt_length_in_code_points)
{
	cfg.max_prompt_chars = 10;
	CHECK(accepts("{\"prompt\":\"0123456789\"}"));
	genreq_free(&req);
	BAD_PROMPT("{\"prompt\":\"01234567890\"}");
	CHECK(strstr(err.message, "11") != NULL);
	CHECK(strstr(err.remedy, "10") != NULL);
	/* Ten two-byte characters (20 bytes) are ten characters. */
	CHECK(accepts("{\"prompt\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		      "\xc3\xa9\xc3\xa9\xc3\xa9\"}"));
	genreq_free(&req);
	BAD_PROMPT("{\"prompt\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		   "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"}");
	/* Four-byte characters, raw and as escaped surrogate pairs. */
	CHECK(accepts("{\"prompt\":\"\xf0\x9f\xa6\x8a\xf0\x9f\xa6\x8a\xf0\x9f\xa6\x8a\xf0\x9f\xa6"
		      "\x8a\xf0\x9f\xa6\x8a\xf0\x9f\xa6\x8a\xf0\x9f\xa6\x8a\xf0\x9f\xa6\x8a\xf0\x9f"
		      "\xa6\x8a\xf0\x9f\xa6\x8a\"}"));
	genreq_free(&req);
	CHECK(accepts("{\"prompt\":\"\\ud83e\\udd8a\\ud83e\\udd8a\\ud83e\\udd8a\\ud83e\\udd8a"
		      "\\ud83e\\udd8a\\ud83e\\udd8a\\ud83e\\udd8a\\ud83e\\udd8a\\ud83e\\udd8a"
		      "\\ud83e\\udd8a\"}"));
	CHECK_INT(strlen(req.prompt), 40);
	genreq_free(&req);
	BAD_PROMPT("{\"prompt\":\"\\ud83e\\udd8a\\ud83e\\udd8a\\ud83e\\udd8a\\ud83e\\udd8a"
		   "\\ud83e\\udd8a\\ud83e\\udd8a\\ud83e\\udd8a\\ud83e\\udd8a\\ud83e\\udd8a"
		   "\\ud83e\\udd8a!\"}");
	cfg.max_prompt_chars = 8000;

	/* The default limit, exactly. */
	struct buf b = BUF_INIT;
	buf_puts(&b, "{\"prompt\":\"");
	for (int i = 0; i < 8000; i++)
		buf_putc(&b, 'a');
	buf_puts(&b, "\"}");
	CHECK(accepts(buf_cstr(&b)));
	genreq_free(&req);
	b.len -= 2;
	buf_puts(&b, "a\"}");
	BAD_PROMPT(buf_cstr(&b));
	buf_free(&b);

	CHECK_INT(genreq_utf8_chars("", 0), 0);
	CHECK_INT(genreq_utf8_chars("abc", 3), 3);
	CHECK_INT(genreq_utf8_chars("\xc3\xa9t\xc3\xa9", 5), 3);
	CHECK_INT(genreq_utf8_chars("\xe2\x98\x95\xf0\x9f\xa6\x8a", 7), 2);
}

TEST(n_rejections)
{
	BAD("{\"prompt\":\"p\",\"n\":0}", "n");
	BAD("{\"prompt\":\"p\",\"n\":11}", "n");
	BAD("{\"prompt\":\"p\",\"n\":-1}", "n");
	BAD("{\"prompt\":\"p\",\"n\":\"2\"}", "n");
	BAD("{\"prompt\":\"p\",\"n\":1.5}", "n");
	BAD("{\"prompt\":\"p\",\"n\":true}", "n");
	BAD("{\"prompt\":\"p\",\"n\":[1]}", "n");
	BAD("{\"prompt\":\"p\",\"n\":99999999999999999999}", "n");
	BAD("{\"prompt\":\"p\",\"n\":4294967297}", "n");
	cfg.max_n = 4;
	BAD("{\"prompt\":\"p\",\"n\":5}", "n");
	CHECK(accepts("{\"prompt\":\"p\",\"n\":4}"));
	CHECK_INT(req.n, 4);
	genreq_free(&req);
	cfg.max_n = 10;
}

TEST(geometry_rejections)
{
	BAD("{\"prompt\":\"p\",\"size\":\"big\"}", "size");
	BAD("{\"prompt\":\"p\",\"size\":\"1024\"}", "size");
	BAD("{\"prompt\":\"p\",\"size\":\"0x0\"}", "size");
	BAD("{\"prompt\":\"p\",\"size\":\"1024x0\"}", "size");
	BAD("{\"prompt\":\"p\",\"size\":\"-1024x1024\"}", "size");
	BAD("{\"prompt\":\"p\",\"size\":\"1024x1024px\"}", "size");
	BAD("{\"prompt\":\"p\",\"size\":\"\"}", "size");
	BAD("{\"prompt\":\"p\",\"size\":1024}", "size");
	BAD("{\"prompt\":\"p\",\"size\":\"1024x\\u00001024\"}", "size");
	BAD("{\"prompt\":\"p\",\"aspect_ratio\":\"wide\"}", "aspect_ratio");
	BAD("{\"prompt\":\"p\",\"aspect_ratio\":\"16/9\"}", "aspect_ratio");
	BAD("{\"prompt\":\"p\",\"aspect_ratio\":\"0:1\"}", "aspect_ratio");
	BAD("{\"prompt\":\"p\",\"aspect_ratio\":\"\"}", "aspect_ratio");
	BAD("{\"prompt\":\"p\",\"aspect_ratio\":1.78}", "aspect_ratio");
	BAD("{\"prompt\":\"p\",\"image_size\":\"8k\"}", "image_size");
	BAD("{\"prompt\":\"p\",\"image_size\":\"3K\"}", "image_size");
	BAD("{\"prompt\":\"p\",\"image_size\":\"4096\"}", "image_size");
	BAD("{\"prompt\":\"p\",\"image_size\":\"\"}", "image_size");
	BAD("{\"prompt\":\"p\",\"image_size\":4}", "image_size");
	CHECK(accepts("{\"prompt\":\"p\",\"image_size\":\"4k\"}"));
	CHECK_STR(req.image_size, "4K");
	genreq_free(&req);
}

TEST(choice_rejections)
{
	BAD("{\"prompt\":\"p\",\"quality\":\"ultra\"}", "quality");
	BAD("{\"prompt\":\"p\",\"quality\":\"\"}", "quality");
	BAD("{\"prompt\":\"p\",\"quality\":1}", "quality");
	CHECK(strstr(err.message, "quality") != NULL);
	BAD("{\"prompt\":\"p\",\"style\":\"noir\"}", "style");
	BAD("{\"prompt\":\"p\",\"style\":false}", "style");
	BAD("{\"prompt\":\"p\",\"response_format\":\"png\"}", "response_format");
	BAD("{\"prompt\":\"p\",\"response_format\":\"b64\"}", "response_format");
	BAD("{\"prompt\":\"p\",\"response_format\":{}}", "response_format");
	/* The message lists the choices and quotes (a bounded part of) the value. */
	BAD("{\"prompt\":\"p\",\"style\":\"noir\"}", "style");
	CHECK(strstr(err.message, "vivid") && strstr(err.message, "natural") &&
	      strstr(err.message, "noir"));
}

TEST(safety)
{
	CHECK(accepts("{\"prompt\":\"p\",\"safety_threshold\":\"high\"}"));
	CHECK_INT(req.safety, SAFETY_HIGH);
	genreq_free(&req);
	CHECK(accepts("{\"prompt\":\"p\",\"safety_threshold\":\"Off\"}"));
	CHECK_INT(req.safety, SAFETY_OFF);
	genreq_free(&req);
	CHECK(accepts("{\"prompt\":\"p\",\"safety_level\":\"LOW\"}"));
	CHECK_INT(req.safety, SAFETY_LOW);
	genreq_free(&req);
	/* Both: safety_threshold wins. */
	CHECK(accepts("{\"prompt\":\"p\",\"safety_level\":\"HIGH\",\"safety_threshold\":\"LOW\"}"));
	CHECK_INT(req.safety, SAFETY_LOW);
	genreq_free(&req);
	CHECK(accepts("{\"prompt\":\"p\",\"safety_threshold\":null,\"safety_level\":\"medium\"}"));
	CHECK_INT(req.safety, SAFETY_MEDIUM);
	genreq_free(&req);
	/* Invalid values name safety_threshold, whichever spelling carried them. */
	BAD("{\"prompt\":\"p\",\"safety_threshold\":\"EXTREME\"}", "safety_threshold");
	BAD("{\"prompt\":\"p\",\"safety_threshold\":\"BLOCK_NONE\"}", "safety_threshold");
	BAD("{\"prompt\":\"p\",\"safety_threshold\":\"\"}", "safety_threshold");
	BAD("{\"prompt\":\"p\",\"safety_threshold\":2}", "safety_threshold");
	BAD("{\"prompt\":\"p\",\"safety_level\":\"x\"}", "safety_threshold");
	BAD("{\"prompt\":\"p\",\"safety_level\":3}", "safety_threshold");
	BAD("{\"prompt\":\"p\",\"safety_threshold\":\"x\",\"safety_level\":\"LOW\"}",
	    "safety_threshold");
}

TEST(misc_rejections)
{
	BAD("{\"prompt\":\"p\",\"seed\":\"5\"}", "seed");
	BAD("{\"prompt\":\"p\",\"seed\":1.5}", "seed");
	BAD("{\"prompt\":\"p\",\"seed\":true}", "seed");
	BAD("{\"prompt\":\"p\",\"seed\":1e30}", "seed");
	BAD("{\"prompt\":\"p\",\"cache\":\"no\"}", "cache");
	BAD("{\"prompt\":\"p\",\"cache\":0}", "cache");
	BAD("{\"prompt\":\"p\",\"user\":5}", "user");
	BAD("{\"prompt\":\"p\",\"user\":{\"id\":1}}", "user");
	BAD("{\"prompt\":\"p\",\"model\":\"\"}", "model");
	BAD("{\"prompt\":\"p\",\"model\":5}", "model");
	BAD("{\"prompt\":\"p\",\"model\":[\"gemini-3-pro-image\"]}", "model");
	CHECK(accepts("{\"prompt\":\"p\",\"seed\":0}"));
	CHECK_INT(req.has_seed, 1);
	CHECK_INT(req.seed, 0);
	genreq_free(&req);
	CHECK(accepts("{\"prompt\":\"p\",\"seed\":9007199254740993}"));
	CHECK_INT(req.seed, 9007199254740993LL);
	genreq_free(&req);
}

TEST(null_is_absent)
{
	CHECK(accepts("{\"prompt\":\"p\",\"model\":null,\"n\":null,\"size\":null,"
		      "\"aspect_ratio\":null,\"image_size\":null,\"quality\":null,\"style\":null,"
		      "\"response_format\":null,\"safety_threshold\":null,\"safety_level\":null,"
		      "\"seed\":null,\"user\":null,\"cache\":null}"));
	CHECK(req.model == NULL && req.size == NULL && req.aspect_ratio == NULL);
	CHECK(req.image_size == NULL && req.quality == NULL && req.style == NULL);
	CHECK(req.user == NULL);
	CHECK_INT(req.n, 1);
	CHECK_INT(req.safety, -1);
	CHECK_INT(req.has_seed, 0);
	CHECK_INT(req.no_store, 0);
	CHECK_INT(req.response_url, 0);
	genreq_free(&req);
}

TEST(unknown_fields_ignored)
{
	CHECK(accepts("{\"background\":\"transparent\",\"prompt\":\"p\",\"output_format\":\"png\","
		      "\"extra\":{\"nested\":[1,2,{\"x\":null}]},\"moderation\":\"low\","
		      "\"partial_images\":2,\"stream\":false}"));
	CHECK_STR(req.prompt, "p");
	genreq_free(&req);
}

TEST(body_rejections)
{
	BAD("[]", NULL);
	BAD("[{\"prompt\":\"p\"}]", NULL);
	BAD("\"a fox\"", NULL);
	BAD("null", NULL);
	BAD("42", NULL);
	BAD("", NULL);
	BAD("{", NULL);
	BAD("{\"prompt\":}", NULL);
	BAD("{\"prompt\":\"p\",}", NULL);
	BAD("{\"prompt\":\"p\"} trailing", NULL);
	BAD("{'prompt':'p'}", NULL);
	/* Invalid UTF-8, wherever it is. */
	BAD("{\"prompt\":\"caf\xe9\"}", NULL);
	BAD("{\"prompt\":\"\xff\xfe\"}", NULL);
	BAD("{\"prompt\":\"\xc0\xaf\"}", NULL);		/* overlong '/' */
	BAD("{\"prompt\":\"\xed\xa0\x80\"}", NULL);	/* encoded surrogate */
	BAD("{\"prompt\":\"\xf4\x90\x80\x80\"}", NULL); /* beyond U+10FFFF */
	BAD("{\"prompt\":\"\xe2\x98\"}", NULL);		/* truncated */
	BAD("{\"prompt\":\"\\ud83e\"}", NULL);		/* unpaired escape */
	BAD("{\"prompt\":\"p\",\"user\":\"\x80\"}", NULL);
	BAD("{\"prompt\":\"p\",\"x\xff\":1}", NULL);
	/* A byte-order mark: RFC 8259 lets a parser refuse or skip it; either way
	 * nothing may leak. */
	parse("\xef\xbb\xbf{\"prompt\":\"p\"}");
	genreq_free(&req);
}

/* Every failure after strings were already taken, then genreq_free: ASan
 * reports a leak or double free if either side gets ownership wrong. */
TEST(free_after_failure)
{
	static const char *const bodies[] = {
		"{\"prompt\":\"p\",\"model\":\"m\",\"size\":\"1x1\",\"aspect_ratio\":\"1:1\","
		"\"image_size\":\"1k\",\"quality\":\"hd\",\"style\":\"vivid\","
		"\"response_format\":\"url\",\"safety_threshold\":\"LOW\",\"user\":\"u\","
		"\"seed\":\"bad\"}",
		"{\"prompt\":\"p\",\"model\":\"m\",\"size\":\"1x1\",\"aspect_ratio\":\"1:1\","
		"\"image_size\":\"1k\",\"quality\":\"hd\",\"style\":\"vivid\","
		"\"response_format\":\"bad\"}",
		"{\"prompt\":\"p\",\"model\":\"m\",\"size\":\"1x1\",\"aspect_ratio\":\"1:1\","
		"\"image_size\":\"1k\",\"quality\":\"hd\",\"style\":\"vivid\","
		"\"response_format\":\"url\",\"safety_threshold\":\"bad\"}",
		"{\"prompt\":\"p\",\"model\":\"m\",\"size\":\"1x1\",\"aspect_ratio\":\"1:1\","
		"\"image_size\":\"1k\",\"quality\":\"hd\",\"style\":\"bad\"}",
		"{\"prompt\":\"p\",\"model\":\"m\",\"size\":\"1x1\",\"aspect_ratio\":\"bad\"}",
		"{\"prompt\":\"p\",\"model\":\"m\",\"size\":\"bad\"}",
		"{\"prompt\":\"p\",\"model\":\"m\",\"cache\":1}",
		"{\"prompt\":\"p\",\"model\":\"\",\"user\":\"u\"}",
		"{\"prompt\":\"p\",\"user\":7}",
		"{\"prompt\":\"\"}",
		"not json",
		NULL};

	for (int i = 0; bodies[i]; i++) {
		CHECK(parse(bodies[i]) != IMG_OK);
		genreq_free(&req);
		genreq_free(&req); /* twice is harmless */
		CHECK(req.prompt == NULL && req.model == NULL);
	}
	/* A struct freed after a failure is reusable. */
	CHECK(accepts("{\"prompt\":\"p\",\"user\":\"u\"}"));
	genreq_free(&req);
}

/* ---- the form of POST /v1/images/edits ------------------------------------ */

static enum img_err parse_form(const struct genreq_field *f, size_t n)
{
	return genreq_parse_form(&cfg, f, n, &req, &err);
}

#define FIELD(name, text)                                                                          \
	{                                                                                          \
		name, text, sizeof text - 1                                                        \
	}

/* One field next to a valid prompt, sent both ways: as form text, and as the
 * JSON value json.  Both must give the same code, param and request. */
struct same_case {
	const char *name, *text, *json;
};

static const struct same_case same_cases[] = {
	{"n", "3", "3"},
	{"n", "0", "0"},
	{"n", "11", "11"},
	{"n", "-1", "-1"},
	{"size", "1792x1024", "\"1792x1024\""},
	{"size", "auto", "\"auto\""},
	{"size", "big", "\"big\""},
	{"size", "", "\"\""},
	{"aspect_ratio", "16:9", "\"16:9\""},
	{"aspect_ratio", "16/9", "\"16/9\""},
	{"image_size", "4k", "\"4k\""},
	{"image_size", "8K", "\"8K\""},
	{"quality", "HD", "\"HD\""},
	{"quality", "ultra", "\"ultra\""},
	{"style", "Natural", "\"Natural\""},
	{"style", "noir", "\"noir\""},
	{"response_format", "url", "\"url\""},
	{"response_format", "png", "\"png\""},
	{"safety_threshold", "medium", "\"medium\""},
	{"safety_threshold", "EXTREME", "\"EXTREME\""},
	{"safety_level", "high", "\"high\""},
	{"safety_level", "x", "\"x\""},
	{"seed", "42", "42"},
	{"seed", "-7", "-7"},
	{"seed", "9007199254740993", "9007199254740993"},
	{"cache", "false", "false"},
	{"cache", "true", "true"},
	{"user", "alice", "\"alice\""},
	{"model", "gemini-3-pro-image-2k", "\"gemini-3-pro-image-2k\""},
	{"model", "", "\"\""},
	{"prompt", "", "\"\""},
	{"prompt", "   ", "\"   \""},
	{"prompt", "01234567890", "\"01234567890\""}, /* over max_prompt_chars below */
	{"unknown_field", "whatever", "\"whatever\""},
};

static int same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static int same_req(const struct gen_req *a, const struct gen_req *b)
{
	return same_str(a->prompt, b->prompt) && same_str(a->model, b->model) && a->n == b->n &&
	       same_str(a->size, b->size) && same_str(a->aspect_ratio, b->aspect_ratio) &&
	       same_str(a->image_size, b->image_size) && same_str(a->quality, b->quality) &&
	       same_str(a->style, b->style) && a->response_url == b->response_url &&
	       a->safety == b->safety && a->has_seed == b->has_seed && a->seed == b->seed &&
	       same_str(a->user, b->user) && a->no_store == b->no_store;
}

TEST(form_follows_json_rules)
{
	cfg.max_prompt_chars = 10;
	for (size_t i = 0; i < sizeof same_cases / sizeof same_cases[0]; i++) {
		const struct same_case *c = &same_cases[i];
		int is_prompt = strcmp(c->name, "prompt") == 0;
		struct genreq_field f[2] = {{"prompt", "a fox", 5},
					    {c->name, c->text, strlen(c->text)}};
		struct gen_req json_req;
		struct img_error json_err;
		struct buf body = BUF_INIT;

		if (is_prompt)
			buf_printf(&body, "{\"prompt\":%s}", c->json);
		else
			buf_printf(&body, "{\"prompt\":\"a fox\",\"%s\":%s}", c->name, c->json);
		enum img_err jrc =
			genreq_parse_json(&cfg, body.data, body.len, &json_req, &json_err);
		enum img_err frc = is_prompt ? parse_form(f + 1, 1) : parse_form(f, 2);
		int same = jrc == frc && strcmp(json_err.param, err.param) == 0 &&
			   strcmp(json_err.message, err.message) == 0 &&
			   (jrc != IMG_OK || same_req(&json_req, &req));
		if (!same)
			fprintf(stderr, "  %s=%s: json %s '%s' (%s), form %s '%s' (%s)\n", c->name,
				c->text, err_info(jrc)->code, json_err.param, json_err.message,
				err_info(frc)->code, err.param, err.message);
		CHECK(same);
		genreq_free(&json_req);
		genreq_free(&req);
		buf_free(&body);
	}
	cfg.max_prompt_chars = 8000;
}

/* Where a form differs from JSON: everything is text, so integers and
 * booleans are spelled out, and the text itself must be valid UTF-8. */
TEST(form_text_values)
{
	struct genreq_field ok[] = {
		FIELD("prompt", "a red fox"),	       FIELD("n", "2"),
		FIELD("seed", "-9223372036854775808"), FIELD("cache", "FALSE"),
		FIELD("response_format", "url"),       FIELD("prompt", "ignored")};
	CHECK_INT(parse_form(ok, 6), IMG_OK);
	CHECK_STR(req.prompt, "a red fox"); /* the first of a name counts */
	CHECK_INT(req.n, 2);
	CHECK(req.has_seed && req.seed == -9223372036854775807LL - 1);
	CHECK_INT(req.no_store, 1);
	CHECK_INT(req.response_url, 1);
	CHECK(req.inputs == NULL && req.ninputs == 0 && req.mask == NULL);
	genreq_free(&req);

	static const struct {
		struct genreq_field f;
		enum img_err code;
		const char *param;
	} bad[] = {
		{FIELD("n", "2.5"), IMG_INVALID_REQUEST, "n"},
		{FIELD("n", " 2"), IMG_INVALID_REQUEST, "n"},
		{FIELD("n", "+2"), IMG_INVALID_REQUEST, "n"},
		{FIELD("n", ""), IMG_INVALID_REQUEST, "n"},
		{FIELD("n", "-"), IMG_INVALID_REQUEST, "n"},
		{FIELD("n", "99999999999999999999"), IMG_INVALID_REQUEST, "n"},
		{FIELD("seed", "9223372036854775808"), IMG_INVALID_REQUEST, "seed"},
		{FIELD("seed", "0x10"), IMG_INVALID_REQUEST, "seed"},
		{FIELD("cache", "no"), IMG_INVALID_REQUEST, "cache"},
		{FIELD("cache", "1"), IMG_INVALID_REQUEST, "cache"},
		{FIELD("user", "caf\xe9"), IMG_INVALID_REQUEST, "user"},
		{FIELD("user", "\xed\xa0\x80"), IMG_INVALID_REQUEST, "user"},
		{FIELD("model", "a\0b"), IMG_INVALID_REQUEST, "model"},
		{FIELD("style", "viv\xc3"), IMG_INVALID_REQUEST, "style"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct genreq_field f[2] = {FIELD("prompt", "p"), bad[i].f};
		enum img_err rc = parse_form(f, 2);
		int ok2 = rc == bad[i].code && strcmp(err.param, bad[i].param) == 0;
		if (!ok2)
			fprintf(stderr, "  %s: got %s '%s' (%s)\n", bad[i].f.name,
				err_info(rc)->code, err.param, err.message);
		CHECK(ok2);
		genreq_free(&req);
	}

	struct genreq_field noprompt[] = {FIELD("model", "local-preview")};
	CHECK_INT(parse_form(noprompt, 1), IMG_INVALID_PROMPT);
	CHECK_STR(err.param, "prompt");
	genreq_free(&req);
	CHECK_INT(parse_form(NULL, 0), IMG_INVALID_PROMPT);
	genreq_free(&req);
	struct genreq_field badutf[] = {FIELD("prompt", "\xff\xfe")};
	CHECK_INT(parse_form(badutf, 1), IMG_INVALID_PROMPT);
	CHECK_STR(err.param, "prompt");
	genreq_free(&req);
	struct genreq_field nul[] = {FIELD("prompt", "a\0b")};
	CHECK_INT(parse_form(nul, 1), IMG_INVALID_PROMPT);
	genreq_free(&req);
	/* Multi-byte text counts in code points, as in JSON. */
	struct genreq_field utf[] = {FIELD("prompt", "\xf0\x9f\xa6\x8a \xc3\xa9t\xc3\xa9")};
	CHECK_INT(parse_form(utf, 1), IMG_OK);
	genreq_free(&req);
}

int main(void)
{
	setup();
	RUN(minimal);
	RUN(full);
	RUN(prompt_rejections);
	RUN(prompt_length_in_code_points);
	RUN(n_rejections);
	RUN(geometry_rejections);
	RUN(choice_rejections);
	RUN(safety);
	RUN(misc_rejections);
	RUN(null_is_absent);
	RUN(unknown_fields_ignored);
	RUN(body_rejections);
	RUN(free_after_failure);
	RUN(form_follows_json_rules);
	RUN(form_text_values);
	UNIT_DONE();
}
