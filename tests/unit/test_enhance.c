/* Unit tests for core/enhance.c (SPEC 2.5): the offline rewrite (rules,
 * determinism, idempotence, the length limit, UTF-8 kept valid), reading a
 * text model's answer, the request body sent upstream, the model choice, the
 * request body's validation, and the no-key and failed-call paths. */
#include "../../core/enhance.c"

#include "unit.h"

static struct config cfg;
static struct img_error err;

static void setup(void)
{
	memset(&cfg, 0, sizeof cfg);
	cfg.max_prompt_chars = 8000;
	cfg.upstream_timeout_seconds = 180;
	cfg.upstream_connect_timeout_seconds = 10;
	cfg.quota_cooldown_seconds = 60;
	cfg.content_filter = "on";
	cfg.content_filter_file = "";
	cfg.gemini_base_url = "http://127.0.0.1:1";
	cfg.gemini_providers = "gemini,vertex";
	cfg.log_file = "/dev/null";
	cfg.log_level = "debug";
	cfg.log_format = "json";
}

/* The offline rewrite of s within max chars, in a static slot. */
static const char *offline(const char *s, size_t max)
{
	static char slots[4][1024];
	static int next;
	char *out = slots[next++ % 4];
	struct buf b = BUF_INIT;
	enhance_offline(s, max, &b);
	snprintf(out, 1024, "%s", buf_cstr(&b));
	buf_free(&b);
	return out;
}

/* 1 when s is well-formed UTF-8 (no overlongs, surrogates or cut sequences). */
static int utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		int n = *p < 0x80	      ? 0
			: (*p & 0xE0) == 0xC0 ? 1
			: (*p & 0xF0) == 0xE0 ? 2
			: (*p & 0xF8) == 0xF0 ? 3
					      : -1;
		if (n < 0 || (n == 1 && *p < 0xC2))
			return 0;
		unsigned long cp = n == 0 ? *p : *p & (0x3F >> n);
		for (int i = 1; i <= n; i++) {
			if ((p[i] & 0xC0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i] & 0x3F);
		}
		if ((n == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
		    (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
			return 0;
		p += n + 1;
	}
	return 1;
}

static size_t chars(const char *s)
{
	return genreq_utf8_chars(s, strlen(s));
}

static const char *const samples[] = {
	"a red fox in the snow",
	"  A   cat\n\ton a\r\nmat.  ",
	"a photo of a cat at sunset, close-up",
	"watercolor harbour",
	"neon street, wide shot",
	"ein Fuchs im Schnee",
	"école sous la pluie",
	"東京の夜景、ネオン",
	"🦊 fox with 🌙 moon",
	"a\x01b\x7f"
	"c",
	"ends with punctuation;:,.",
	"x",
	"lighthouse keeper's daughter in a storm, oil painting, wide-angle",
	"Überraschung — ein Löwe",
	"",
	"   ",
	NULL,
};

/* ---- the offline rewrite ------------------------------------------------------- */

TEST(offline_rules)
{
	CHECK_STR(offline("a red fox in the snow", 8000),
		  "A red fox in the snow, soft natural lighting, balanced composition, highly "
		  "detailed digital illustration");
	/* one word of each kind: nothing added, punctuation kept */
	CHECK_STR(offline("a photo of a cat at sunset, close-up.", 8000),
		  "A photo of a cat at sunset, close-up.");
	CHECK_STR(offline("watercolor harbour", 8000),
		  "Watercolor harbour, soft natural lighting, balanced composition");
	CHECK_STR(offline("neon street, wide shot", 8000),
		  "Neon street, wide shot, highly detailed digital illustration");
	/* whitespace and control bytes fold into single spaces */
	CHECK_STR(offline("  a\tred\n\n fox\x01 ", 8000),
		  "A red fox, soft natural lighting, balanced composition, highly detailed "
		  "digital illustration");
	/* trailing punctuation goes before clauses */
	CHECK_STR(offline("a fox at night...", 8000),
		  "A fox at night, balanced composition, highly detailed digital illustration");
	/* words match case-insensitively and by prefix where listed */
	CHECK_STR(offline("PHOTOGRAPH of BACKLIT trees, PANORAMIC", 8000),
		  "PHOTOGRAPH of BACKLIT trees, PANORAMIC");
	/* only ASCII first letters are capitalised; other letters are left */
	CHECK_STR(offline("école", 8000),
		  "école, soft natural lighting, balanced composition, highly detailed digital "
		  "illustration");
	/* blank input gives an empty rewrite, never a clause alone */
	CHECK_STR(offline("", 8000), "");
	CHECK_STR(offline(" \n ", 8000), "");
}

TEST(offline_words)
{
	CHECK(has_word("a close-up of a fox", composition_words));
	CHECK(has_word("CLOSEUP", composition_words));
	CHECK(has_word("soft lighting", lighting_words));
	CHECK(!has_word("a fox in the snow", lighting_words));
	/* a word with non-ASCII letters matches nothing, even by prefix */
	CHECK(!has_word("lightß", lighting_words));
	CHECK(has_word("ß light", lighting_words));
	/* part of a word is not the word */
	CHECK(!has_word("partisan", style_words));
	CHECK(has_word("art", style_words));
	/* very long words are skipped, not overrun */
	CHECK(!has_word("photoaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", style_words));
}

TEST(offline_is_deterministic_and_idempotent)
{
	for (int i = 0; samples[i]; i++) {
		char first[1024];
		snprintf(first, sizeof first, "%s", offline(samples[i], 8000));
		CHECK_STR(offline(samples[i], 8000), first);
		CHECK_STR(offline(first, 8000), first);
		CHECK(utf8_valid(first));
	}
}

TEST(offline_never_passes_the_limit)
{
	for (int i = 0; samples[i]; i++) {
		for (size_t max = 0; max <= 130; max++) {
			const char *out = offline(samples[i], max);
			if (chars(out) > max || !utf8_valid(out)) {
				fprintf(stderr, "  sample %d max %zu: \"%s\"\n", i, max, out);
				CHECK(0);
			}
		}
	}
	/* a clause that does not fit is left out; a later, shorter one may fit */
	CHECK_STR(offline("a fox", 30), "A fox, soft natural lighting");
	CHECK_STR(offline("a fox", 5), "A fox");
	/* multibyte text is cut on code points, never inside a character */
	CHECK_STR(offline("ßßßß", 3), "ßßß");
	CHECK_STR(offline("🦊🦊", 1), "🦊");
	/* a cut inside a word goes back to the space before it */
	CHECK_STR(offline("red fox", 5), "Red");
}

/* ---- the Gemini answer ----------------------------------------------------------- */

static struct buf text;
static char finish[40];

static enum img_err read_with(const char *body, size_t max)
{
	buf_reset(&text);
	err_clear(&err);
	return enhance_read_answer(body, strlen(body), max, &text, finish, sizeof finish, &err);
}

static enum img_err read_one(const char *body)
{
	return read_with(body, 8000);
}

TEST(answer_text)
{
	CHECK_INT(read_one("{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":"
			   "\"A fox.\"}]},\"finishReason\":\"STOP\"}]}"),
		  IMG_OK);
	CHECK_STR(buf_cstr(&text), "A fox.");
	CHECK_STR(finish, "STOP");
	/* thought parts are skipped; the first non-thought text part wins */
	CHECK_INT(
		read_one(
			"{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"thinking\","
			"\"thought\":true},{\"inlineData\":{\"mimeType\":\"image/png\",\"data\":"
			"\"AA==\"}},{\"text\":\"  First\\n\\nanswer \",\"thoughtSignature\":\"x\"},"
			"{\"text\":\"second\"}]},\"finishReason\":\"STOP\"}]}"),
		IMG_OK);
	CHECK_STR(buf_cstr(&text), "First answer");
	/* thought: false is not a thought */
	CHECK_INT(read_one("{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"ok\",\"thought\":"
			   "false}]}}]}"),
		  IMG_OK);
	CHECK_STR(buf_cstr(&text), "ok");
	/* enclosing quotation marks go */
	CHECK_INT(read_one("{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\" \\\"A fox\\\" "
			   "\"}]},\"finishReason\":\"STOP\"}]}"),
		  IMG_OK);
	CHECK_STR(buf_cstr(&text), "A fox");
	CHECK_INT(read_one("{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"\\u201cA "
			   "fox\\u201d\"}]}}]}"),
		  IMG_OK);
	CHECK_STR(buf_cstr(&text), "A fox");
	/* quotation marks that do not enclose the whole text stay */
	CHECK_INT(read_one("{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"\\\"A\\\" and "
			   "\\\"B\\\"\"}]}}]}"),
		  IMG_OK);
	CHECK_STR(buf_cstr(&text), "\"A\" and \"B\"");
	/* MAX_TOKENS with text: a shorter prompt is still a prompt */
	CHECK_INT(read_one("{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"A fox in\"}]},"
			   "\"finishReason\":\"MAX_TOKENS\"}]}"),
		  IMG_OK);
	/* cut to the limit at a word boundary, UTF-8 intact */
	CHECK_INT(read_with("{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Ein Löwe "
			    "über Wälder\"}]}}]}",
			    14),
		  IMG_OK);
	CHECK_STR(buf_cstr(&text), "Ein Löwe über");
}

TEST(answer_failures)
{
	CHECK_INT(read_one("not json"), IMG_UPSTREAM_ERROR);
	CHECK_INT(read_one("[1]"), IMG_UPSTREAM_ERROR);
	CHECK_INT(read_one("{}"), IMG_UPSTREAM_ERROR);
	CHECK_INT(read_one("{\"candidates\":[]}"), IMG_UPSTREAM_ERROR);
	CHECK_INT(read_one("{\"candidates\":[{\"finishReason\":\"STOP\"}]}"), IMG_UPSTREAM_ERROR);
	CHECK_INT(read_one("{\"candidates\":[{\"content\":{\"parts\":{}}}]}"), IMG_UPSTREAM_ERROR);
	CHECK_INT(read_one("{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"  \\n \"}]}}]}"),
		  IMG_UPSTREAM_ERROR);
	CHECK_INT(read_one("{\"candidates\":[{\"content\":{\"parts\":[{\"text\":5}]}}]}"),
		  IMG_UPSTREAM_ERROR);
	/* only thoughts */
	CHECK_INT(
		read_one("{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"hmm\",\"thought\":"
			 "true}]},\"finishReason\":\"STOP\"}]}"),
		IMG_UPSTREAM_ERROR);
	/* blocked prompt: no candidates, a blockReason */
	CHECK_INT(read_one("{\"promptFeedback\":{\"blockReason\":\"PROHIBITED_CONTENT\"}}"),
		  IMG_SAFETY_BLOCKED);
	CHECK_STR(finish, "PROHIBITED_CONTENT");
	/* blocked or recited answers, even with some text */
	CHECK_INT(read_one("{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"partial\"}]},"
			   "\"finishReason\":\"SAFETY\"}]}"),
		  IMG_SAFETY_BLOCKED);
	CHECK_INT(read_one("{\"candidates\":[{\"finishReason\":\"RECITATION\"}]}"),
		  IMG_RECITATION_BLOCKED);
	CHECK_INT(read_one("{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"x\"}]},"
			   "\"finishReason\":\"OTHER\"}]}"),
		  IMG_UPSTREAM_ERROR);
	CHECK_STR(finish, "OTHER");
	CHECK(err.message[0] != '\0');
}

/* ---- the request sent upstream ---------------------------------------------------- */

TEST(request_body)
{
	struct buf b = BUF_INIT;
	build_request(&b, "a \"quoted\" fox\n🦊");
	struct json *root = json_parse(b.data, b.len, NULL);
	CHECK(root != NULL);
	const struct json *sys = json_at(json_get(json_get(root, "systemInstruction"), "parts"), 0);
	CHECK_STR(json_get_str(sys, "text"), system_instruction);
	const struct json *c0 = json_at(json_get(root, "contents"), 0);
	CHECK_STR(json_get_str(c0, "role"), "user");
	CHECK_STR(json_get_str(json_at(json_get(c0, "parts"), 0), "text"),
		  "a \"quoted\" fox\n🦊");
	const struct json *gc = json_get(root, "generationConfig");
	const struct json *mods = json_get(gc, "responseModalities");
	CHECK(mods && mods->count == 1);
	CHECK_STR(json_at(mods, 0)->str, "TEXT");
	CHECK(json_get(gc, "temperature")->number > 0.6 &&
	      json_get(gc, "temperature")->number < 0.8);
	CHECK(json_get(gc, "imageConfig") == NULL);
	CHECK(json_get(root, "safetySettings") == NULL);
	json_free(root);
	buf_free(&b);
}

TEST(model_choice)
{
	setup();
	CHECK_STR(pick_model(&cfg, NULL), ENHANCE_MODEL_DEFAULT);
	CHECK_STR(pick_model(&cfg, "gemini-2.5-flash-lite"), "gemini-2.5-flash-lite");
	CHECK_STR(pick_model(&cfg, "gemini-3-pro-image"), ENHANCE_MODEL_DEFAULT);
	CHECK_STR(pick_model(&cfg, "gemini-2.5-flash-image"), ENHANCE_MODEL_DEFAULT);
	CHECK_STR(pick_model(&cfg, "local-preview"), ENHANCE_MODEL_DEFAULT);
	CHECK_STR(pick_model(&cfg, "dall-e-3"), ENHANCE_MODEL_DEFAULT);
	/* nothing that could bend the URL */
	CHECK_STR(pick_model(&cfg, "gemini-x/../../v1"), ENHANCE_MODEL_DEFAULT);
	CHECK_STR(pick_model(&cfg, "gemini-x?key=1"), ENHANCE_MODEL_DEFAULT);
	CHECK_STR(pick_model(&cfg, "gemini-X"), ENHANCE_MODEL_DEFAULT);
}

/* ---- the request body ------------------------------------------------------------- */

static int parses(const char *body, enum img_err code, const char *param)
{
	struct enhance_req r;
	enum img_err rc = enhance_parse_json(&cfg, body, strlen(body), &r, &err);
	int ok = rc == code && strcmp(err.param, param ? param : "") == 0 &&
		 (code == IMG_OK || err.message[0]);
	if (!ok)
		fprintf(stderr, "  %s: got %s param '%s'\n", body, err_info(rc)->code, err.param);
	enhance_req_free(&r);
	return ok;
}

TEST(request_validation)
{
	setup();
	CHECK(parses("{\"prompt\":\"a fox\"}", IMG_OK, NULL));
	CHECK(parses("{\"prompt\":\"a fox\",\"model\":null,\"n\":99}", IMG_OK, NULL));
	CHECK(parses("{\"prompt\":\"a fox\",\"model\":\"gemini-2.5-flash\"}", IMG_OK, NULL));
	CHECK(parses("{}", IMG_INVALID_PROMPT, "prompt"));
	CHECK(parses("{\"prompt\":null}", IMG_INVALID_PROMPT, "prompt"));
	CHECK(parses("{\"prompt\":\"\"}", IMG_INVALID_PROMPT, "prompt"));
	CHECK(parses("{\"prompt\":\" \\n\\t\"}", IMG_INVALID_PROMPT, "prompt"));
	CHECK(parses("{\"prompt\":7}", IMG_INVALID_PROMPT, "prompt"));
	CHECK(parses("{\"prompt\":\"a\\u0000b\"}", IMG_INVALID_PROMPT, "prompt"));
	CHECK(parses("{\"prompt\":\"a fox\",\"model\":3}", IMG_INVALID_REQUEST, "model"));
	CHECK(parses("{\"prompt\":\"a fox\",\"model\":\"\"}", IMG_INVALID_REQUEST, "model"));
	CHECK(parses("{\"prompt\":\"a fox\",\"model\":\"a\\u0000\"}", IMG_INVALID_REQUEST,
		     "model"));
	CHECK(parses("[\"a fox\"]", IMG_INVALID_REQUEST, NULL));
	CHECK(parses("{\"prompt\":", IMG_INVALID_REQUEST, NULL));
	CHECK(parses("", IMG_INVALID_REQUEST, NULL));
	/* the limit counts code points */
	cfg.max_prompt_chars = 3;
	CHECK(parses("{\"prompt\":\"ßßß\"}", IMG_OK, NULL));
	CHECK(parses("{\"prompt\":\"ßßßß\"}", IMG_INVALID_PROMPT, "prompt"));
	CHECK(strstr(err.remedy, "3 characters") != NULL);
}

/* ---- the whole operation without an upstream --------------------------------------- */

TEST(no_key_is_offline_without_fallback)
{
	setup();
	struct enhance_result res;
	enhance_prompt(&cfg, NULL, "a red fox", NULL, "req-1", &res);
	CHECK_STR(res.model, ENHANCE_OFFLINE_MODEL);
	CHECK_INT(res.fallback, 0);
	CHECK_STR(res.provider, "local");
	CHECK_STR(res.account, "");
	CHECK_INT(res.err.code, IMG_OK);
	CHECK_STR(buf_cstr(&res.text), offline("a red fox", 8000));
	enhance_result_free(&res);
}

TEST(failed_call_falls_back)
{
	setup();
	log_open(&cfg);
	/* A key, no database: the configuration's key; nothing listens on port 1. */
	cfg.gemini_key = "test-key";
	cfg.gemini_configured = 1;
	struct enhance_result res;
	enhance_prompt(&cfg, NULL, "a red fox", "gemini-2.5-flash-lite", "req-2", &res);
	CHECK_STR(res.model, ENHANCE_OFFLINE_MODEL);
	CHECK_INT(res.fallback, 1);
	CHECK_STR(res.provider, "gemini");
	CHECK_STR(res.account, "gemini-env-1");
	CHECK_INT(res.err.code, IMG_NETWORK_ERROR);
	CHECK_STR(buf_cstr(&res.text), offline("a red fox", 8000));
	enhance_result_free(&res);
	/* A configured key that cannot be taken is a failure too. */
	cfg.gemini_key = NULL;
	enhance_prompt(&cfg, NULL, "a red fox", NULL, "req-3", &res);
	CHECK_INT(res.fallback, 1);
	CHECK_INT(res.err.code, IMG_UPSTREAM_AUTH);
	enhance_result_free(&res);
	log_close();
	upstream_cleanup();
}

int main(void)
{
	RUN(offline_rules);
	RUN(offline_words);
	RUN(offline_is_deterministic_and_idempotent);
	RUN(offline_never_passes_the_limit);
	RUN(answer_text);
	RUN(answer_failures);
	RUN(request_body);
	RUN(model_choice);
	RUN(request_validation);
	RUN(no_key_is_offline_without_fallback);
	RUN(failed_call_falls_back);
	buf_free(&text);
	UNIT_DONE();
}
