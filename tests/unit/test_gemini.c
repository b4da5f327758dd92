/* Unit tests for core/gemini.c: the generateContent request body, the URL,
 * reading answers (SPEC 3.6: thought parts, sniffing, every block reason,
 * usage), reading error bodies (3.7: reason, RetryInfo) and durations. */
#include "../../core/gemini.c"

#include "unit.h"
#include "xalloc.h"

/* --- fixtures ------------------------------------------------------------- */

static const unsigned char png_a[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0,
				      0,    13,	 'I', 'H', 'D',	 'R',  0,    0,	   0, 1,
				      0,    0,	 0,   1,   8,	 2,    0,    0,	   0, 'A'};
static const unsigned char png_b[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0,
				      0,    13,	 'I', 'H', 'D',	 'R',  0,    0,	   0, 2,
				      0,    0,	 0,   2,   8,	 2,    0,    0,	   0, 'B'};
static const unsigned char jpeg[] = {0xff, 0xd8, 0xff, 0xe0, 0, 16, 'J', 'F', 'I', 'F',	 0,
				     1,	   1,	 0,    0,    1, 0,  1,	 0,   0,   0xff, 0xd9};
static const unsigned char webp[] = {'R', 'I', 'F', 'F', 30,  0,   0, 0, 'W', 'E',
				     'B', 'P', 'V', 'P', '8', ' ', 0, 0, 0,   0};
static const unsigned char text_bytes[] = "just some text, not an image";

/* The base64 of bytes, as a NUL-terminated string in a static slot. */
static const char *b64(const void *p, size_t n)
{
	static char slots[4][256];
	static int next;
	struct buf b = BUF_INIT;
	char *s = slots[next++ % 4];

	b64_encode(&b, p, n);
	snprintf(s, 256, "%s", buf_cstr(&b));
	buf_free(&b);
	return s;
}

#define B64(arr) b64(arr, sizeof arr)

static struct gemini_answer ans;
static struct img_error err;

static enum img_err parse(const char *body)
{
	return gemini_parse_answer(body, strlen(body), &ans, &err);
}

/* 1 when the answer's base64 decodes to exactly p[0..n) and is canonical. */
static int image_is(const void *p, size_t n)
{
	struct buf b = BUF_INIT;
	int ok = ans.b64 && b64_is_canonical(ans.b64, ans.b64_len) &&
		 b64_decode(&b, ans.b64, ans.b64_len) == 0 && b.len == n &&
		 memcmp(b.data, p, n) == 0;

	buf_free(&b);
	return ok;
}

/* A one-candidate answer whose parts are `parts` (JSON array contents). */
static char *answer(const char *parts, const char *finish)
{
	struct buf b = BUF_INIT;

	buf_printf(&b, "{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[%s]}", parts);
	if (finish)
		buf_printf(&b, ",\"finishReason\":\"%s\"", finish);
	buf_puts(&b, ",\"index\":0}],\"modelVersion\":\"gemini-3-pro-image-preview\"}");
	return buf_detach(&b, NULL);
}

static enum img_err parse_parts(const char *parts, const char *finish)
{
	char *body = answer(parts, finish);
	enum img_err rc = parse(body);

	free(body);
	return rc;
}

/* --- gemini_build_request --------------------------------------------------- */

static struct gen_plan plan(void)
{
	struct gen_plan p;

	memset(&p, 0, sizeof p);
	p.revised_prompt = (char *)"a \"quoted\" fox\n\xc3\xa9t\xc3\xa9. highly detailed";
	snprintf(p.aspect_ratio, sizeof p.aspect_ratio, "16:9");
	snprintf(p.image_size, sizeof p.image_size, "4K");
	p.send_image_size = 1;
	p.safety = SAFETY_MEDIUM;
	p.n = 1;
	return p;
}

static struct json *build(const struct gen_plan *p, int has_seed, long long seed)
{
	struct buf b = BUF_INIT;
	struct json_error je;
	struct json *j;

	struct gen_req r;

	memset(&r, 0, sizeof r);
	r.has_seed = has_seed;
	r.seed = seed;
	gemini_build_request(&b, p, &r);
	j = json_parse(b.data, b.len, &je);
	if (!j)
		fprintf(stderr, "  request not JSON (%s): %s\n", je.msg, buf_cstr(&b));
	buf_free(&b);
	return j;
}

TEST(request_shape)
{
	struct gen_plan p = plan();
	struct json *j = build(&p, 0, 0);
	const struct json *c, *parts, *gc, *ic, *mod;

	CHECK(j && j->type == JSON_OBJECT);
	if (!j)
		return;
	c = json_at(json_get(j, "contents"), 0);
	CHECK_STR(json_get_str(c, "role"), "user");
	parts = json_get(c, "parts");
	CHECK(parts && parts->type == JSON_ARRAY && parts->count == 1);
	CHECK_STR(json_get_str(json_at(parts, 0), "text"), p.revised_prompt);
	gc = json_get(j, "generationConfig");
	CHECK(gc && gc->type == JSON_OBJECT);
	mod = json_get(gc, "responseModalities");
	CHECK(mod && mod->type == JSON_ARRAY);
	int has_image = 0, has_text = 0;
	for (const struct json *m = mod ? mod->child : NULL; m; m = m->next) {
		has_image |= m->type == JSON_STRING && strcmp(m->str, "IMAGE") == 0;
		has_text |= m->type == JSON_STRING && strcmp(m->str, "TEXT") == 0;
	}
	CHECK(has_image);
	CHECK(has_text);
	ic = json_get(gc, "imageConfig");
	CHECK_STR(json_get_str(ic, "aspectRatio"), "16:9");
	CHECK_STR(json_get_str(ic, "imageSize"), "4K");
	CHECK(json_get(gc, "seed") == NULL);
	/* Gemini image models reject candidateCount > 1: never sent. */
	CHECK(json_get(gc, "candidateCount") == NULL);
	json_free(j);
}

TEST(request_no_image_size)
{
	struct gen_plan p = plan();
	struct json *j;

	p.send_image_size = 0;
	snprintf(p.image_size, sizeof p.image_size, "1K");
	snprintf(p.aspect_ratio, sizeof p.aspect_ratio, "9:16");
	j = build(&p, 0, 0);
	CHECK(j != NULL);
	const struct json *ic = json_get(json_get(j, "generationConfig"), "imageConfig");
	CHECK(ic && ic->type == JSON_OBJECT);
	CHECK_STR(json_get_str(ic, "aspectRatio"), "9:16");
	CHECK(json_get(ic, "imageSize") == NULL);
	json_free(j);
}

/* An edit's input, its bytes copied in (gen_input owns a buf). */
static struct gen_input input(const void *bytes, size_t n, const char *mime)
{
	struct gen_input in;

	memset(&in, 0, sizeof in);
	buf_append(&in.bytes, bytes, n);
	in.mime = mime;
	return in;
}

/* Decodes the inline part's data and compares it with the bytes sent. */
static int inline_is(const struct json *part, const char *mime, const void *bytes, size_t n)
{
	const struct json *d = json_get(part, "inlineData");
	const char *data = d ? json_get_str(d, "data") : NULL;
	struct buf raw = BUF_INIT;
	int ok = data && json_get_str(d, "mimeType") &&
		 strcmp(json_get_str(d, "mimeType"), mime) == 0 &&
		 b64_decode(&raw, data, strlen(data)) == 0 && raw.len == n &&
		 memcmp(raw.data, bytes, n) == 0 && b64_is_canonical(data, strlen(data));

	buf_free(&raw);
	return ok;
}

static struct json *build_edit(const struct gen_plan *p, struct gen_req *r)
{
	struct buf b = BUF_INIT;
	struct json *j;

	gemini_build_request(&b, p, r);
	j = json_parse(b.data, b.len, NULL);
	if (!j)
		fprintf(stderr, "  edit request not JSON: %.300s\n", buf_cstr(&b));
	buf_free(&b);
	return j;
}

TEST(request_edit_inputs_in_order)
{
	struct gen_plan p = plan();
	struct gen_input in[3] = {input(png_a, sizeof png_a, "image/png"),
				  input(jpeg, sizeof jpeg, "image/jpeg"),
				  input(webp, sizeof webp, "image/webp")};
	struct gen_req r;

	memset(&r, 0, sizeof r);
	r.inputs = in;
	r.ninputs = 3;
	struct json *j = build_edit(&p, &r);
	const struct json *parts = json_get(json_at(json_get(j, "contents"), 0), "parts");
	CHECK(parts && parts->type == JSON_ARRAY && parts->count == 4);
	/* The prompt first, alone: no mask, so no mask wording anywhere. */
	CHECK_STR(json_get_str(json_at(parts, 0), "text"), p.revised_prompt);
	CHECK(inline_is(json_at(parts, 1), "image/png", png_a, sizeof png_a));
	CHECK(inline_is(json_at(parts, 2), "image/jpeg", jpeg, sizeof jpeg));
	CHECK(inline_is(json_at(parts, 3), "image/webp", webp, sizeof webp));
	for (size_t i = 0; parts && i < parts->count; i++) {
		const char *t = json_get_str(json_at(parts, i), "text");
		CHECK(!t || !strstr(t, "mask"));
	}
	/* The rest of the body is the generation's. */
	CHECK_STR(json_get_str(json_get(json_get(j, "generationConfig"), "imageConfig"),
			       "aspectRatio"),
		  "16:9");
	json_free(j);
	for (int i = 0; i < 3; i++)
		buf_free(&in[i].bytes);
}

TEST(request_edit_mask)
{
	struct gen_plan p = plan();
	struct gen_input in = input(jpeg, sizeof jpeg, "image/jpeg");
	struct gen_input mask = input(png_b, sizeof png_b, "image/png");
	struct gen_req r;

	memset(&r, 0, sizeof r);
	r.inputs = &in;
	r.ninputs = 1;
	r.mask = &mask;
	r.has_seed = 1;
	r.seed = 7;
	struct json *j = build_edit(&p, &r);
	const struct json *parts = json_get(json_at(json_get(j, "contents"), 0), "parts");
	CHECK(parts && parts->count == 4);
	CHECK_STR(json_get_str(json_at(parts, 0), "text"), p.revised_prompt);
	CHECK(inline_is(json_at(parts, 1), "image/jpeg", jpeg, sizeof jpeg));
	/* The mask is explained in words right before it, then sent as an image. */
	const char *t = json_get_str(json_at(parts, 2), "text");
	CHECK(t && strstr(t, "mask") && strstr(t, "transparent") && strstr(t, "first image"));
	CHECK(inline_is(json_at(parts, 3), "image/png", png_b, sizeof png_b));
	const struct json *seed = json_get(json_get(j, "generationConfig"), "seed");
	CHECK(seed && seed->is_int && seed->integer == 7);
	json_free(j);
	buf_free(&in.bytes);
	buf_free(&mask.bytes);
}

/* A multi-megabyte image goes into the body as exact, canonical base64. */
TEST(request_edit_large_image)
{
	struct gen_plan p = plan();
	size_t n = 3 * 1024 * 1024 + 1;
	unsigned char *big = malloc(n);
	for (size_t i = 0; i < n; i++)
		big[i] = (unsigned char)(i * 7 + (i >> 9));
	memcpy(big, png_a, sizeof png_a);
	struct gen_input in = input(big, n, "image/png");
	struct gen_req r;
	struct buf b = BUF_INIT;

	memset(&r, 0, sizeof r);
	r.inputs = &in;
	r.ninputs = 1;
	gemini_build_request(&b, &p, &r);
	size_t cap = b.cap;
	CHECK(b.len < cap && b.len + 4096 > (n + 2) / 3 * 4);
	struct json *j = json_parse(b.data, b.len, NULL);
	const struct json *parts = json_get(json_at(json_get(j, "contents"), 0), "parts");
	CHECK(inline_is(json_at(parts, 1), "image/png", big, n));
	json_free(j);
	buf_free(&b);
	buf_free(&in.bytes);
	free(big);
}

static long long seed_sent(long long seed, int *ok)
{
	struct gen_plan p = plan();
	struct json *j = build(&p, 1, seed);
	const struct json *s = json_get(json_get(j, "generationConfig"), "seed");
	long long v = s && s->type == JSON_NUMBER && s->is_int ? s->integer : -999;

	*ok = s && s->is_int && v >= -2147483648LL && v <= 2147483647LL;
	json_free(j);
	return v;
}

TEST(request_seed)
{
	int ok;

	CHECK_INT(seed_sent(42, &ok), 42);
	CHECK(ok);
	CHECK_INT(seed_sent(0, &ok), 0);
	CHECK(ok);
	CHECK_INT(seed_sent(-1, &ok), -1);
	CHECK(ok);
	CHECK_INT(seed_sent(2147483647LL, &ok), 2147483647LL);
	CHECK(ok);
	CHECK_INT(seed_sent(-2147483647LL, &ok), -2147483647LL);
	CHECK(ok);
	/* INT32_MIN is an int32 too: sent as it is, not folded onto seed 0. */
	CHECK_INT(seed_sent(-2147483647LL - 1, &ok), -2147483647LL - 1);
	CHECK(ok);
	/* Beyond int32: folded into range, deterministically. */
	CHECK_INT(seed_sent(2147483648LL, &ok), 0);
	CHECK(ok);
	CHECK_INT(seed_sent(4294967296LL + 5, &ok), 5);
	CHECK(ok);
	CHECK_INT(seed_sent(-5000000000LL, &ok), 1442450944LL);
	CHECK(ok);
	long long a = seed_sent(9223372036854775807LL, &ok);
	CHECK(ok);
	CHECK_INT(seed_sent(9223372036854775807LL, &ok), a);
	seed_sent(-9223372036854775807LL - 1, &ok);
	CHECK(ok);
}

TEST(request_safety)
{
	static const char *const want[] = {"OFF", "BLOCK_ONLY_HIGH", "BLOCK_MEDIUM_AND_ABOVE",
					   "BLOCK_LOW_AND_ABOVE"};

	for (int l = SAFETY_OFF; l <= SAFETY_HIGH; l++) {
		struct gen_plan p = plan();
		struct json *j;
		const struct json *ss;

		p.safety = (enum safety_level)l;
		j = build(&p, 0, 0);
		ss = json_get(j, "safetySettings");
		CHECK(ss && ss->type == JSON_ARRAY && ss->count == 4);
		size_t i = 0;
		for (const struct json *s = ss ? ss->child : NULL; s; s = s->next, i++) {
			CHECK_STR(json_get_str(s, "category"), safety_gemini_categories[i]);
			CHECK_STR(json_get_str(s, "threshold"), want[l]);
		}
		json_free(j);
	}
}

TEST(url)
{
	struct buf b = BUF_INIT;
	const char *want = "https://generativelanguage.googleapis.com/v1beta/models/"
			   "gemini-3-pro-image-preview:generateContent";

	gemini_url(&b, "https://generativelanguage.googleapis.com", "gemini-3-pro-image-preview");
	CHECK_STR(buf_cstr(&b), want);
	buf_reset(&b);
	gemini_url(&b, "https://generativelanguage.googleapis.com/", "gemini-3-pro-image-preview");
	CHECK_STR(buf_cstr(&b), want);
	buf_reset(&b);
	gemini_url(&b, "http://127.0.0.1:8089//", "gemini-2.5-flash-image");
	CHECK_STR(buf_cstr(&b),
		  "http://127.0.0.1:8089/v1beta/models/gemini-2.5-flash-image:generateContent");
	buf_reset(&b);
	gemini_url(&b, "http://127.0.0.1:8089/mock", "m");
	CHECK_STR(buf_cstr(&b), "http://127.0.0.1:8089/mock/v1beta/models/m:generateContent");
	buf_free(&b);
}

/* --- gemini_parse_answer: images ----------------------------------------- */

TEST(answer_thoughts)
{
	char parts[2048];

	snprintf(parts, sizeof parts,
		 "{\"text\":\"Planning the composition\",\"thought\":true},"
		 "{\"inlineData\":{\"mimeType\":\"image/png\",\"data\":\"%s\"},\"thought\":true},"
		 "{\"text\":\"Here is your fox.\"},"
		 "{\"inlineData\":{\"mimeType\":\"image/png\",\"data\":\"%s\"},"
		 "\"thoughtSignature\":\"c2ln\"},"
		 "{\"inlineData\":{\"mimeType\":\"image/png\",\"data\":\"%s\"},\"thought\":true}",
		 B64(png_b), B64(png_a), B64(jpeg));
	CHECK_INT(parse_parts(parts, "STOP"), IMG_OK);
	CHECK(image_is(png_a, sizeof png_a));
	CHECK_STR(ans.mime, "image/png");
	CHECK_STR(ans.ext, "png");
	CHECK_STR(ans.declared, "image/png");
	CHECK_STR(ans.finish_reason, "STOP");
	CHECK_INT(err.code, IMG_OK);
	gemini_answer_free(&ans);

	/* thought:false is not a thought. */
	snprintf(parts, sizeof parts,
		 "{\"inlineData\":{\"mimeType\":\"image/png\",\"data\":\"%s\"},\"thought\":false}",
		 B64(png_b));
	CHECK_INT(parse_parts(parts, "STOP"), IMG_OK);
	CHECK(image_is(png_b, sizeof png_b));
	gemini_answer_free(&ans);

	/* Only thought images: no image. */
	snprintf(parts, sizeof parts,
		 "{\"inlineData\":{\"mimeType\":\"image/png\",\"data\":\"%s\"},\"thought\":true}",
		 B64(png_b));
	CHECK_INT(parse_parts(parts, "STOP"), IMG_NO_IMAGE);
	gemini_answer_free(&ans);
}

TEST(answer_last_image_wins)
{
	char parts[2048];

	snprintf(parts, sizeof parts,
		 "{\"inlineData\":{\"mimeType\":\"image/png\",\"data\":\"%s\"}},"
		 "{\"inlineData\":{\"mimeType\":\"image/png\",\"data\":\"%s\"}}",
		 B64(png_a), B64(png_b));
	CHECK_INT(parse_parts(parts, "STOP"), IMG_OK);
	CHECK(image_is(png_b, sizeof png_b));
	gemini_answer_free(&ans);
}

TEST(answer_sniffed)
{
	char parts[1024];

	snprintf(parts, sizeof parts,
		 "{\"inlineData\":{\"mimeType\":\"image/png\",\"data\":\"%s\"}}", B64(jpeg));
	CHECK_INT(parse_parts(parts, "STOP"), IMG_OK);
	CHECK(image_is(jpeg, sizeof jpeg));
	CHECK_STR(ans.mime, "image/jpeg");
	CHECK_STR(ans.ext, "jpg");
	CHECK_STR(ans.declared, "image/png");
	gemini_answer_free(&ans);

	snprintf(parts, sizeof parts,
		 "{\"inlineData\":{\"mimeType\":\"image/webp\",\"data\":\"%s\"}}", B64(webp));
	CHECK_INT(parse_parts(parts, "STOP"), IMG_OK);
	CHECK(image_is(webp, sizeof webp));
	CHECK_STR(ans.mime, "image/webp");
	CHECK_STR(ans.ext, "webp");
	CHECK_STR(ans.declared, "image/webp");
	gemini_answer_free(&ans);

	/* No mimeType at all: still sniffed. */
	snprintf(parts, sizeof parts, "{\"inlineData\":{\"data\":\"%s\"}}", B64(png_a));
	CHECK_INT(parse_parts(parts, NULL), IMG_OK);
	CHECK_STR(ans.mime, "image/png");
	CHECK_STR(ans.declared, "other");
	CHECK_STR(ans.finish_reason, "");
	gemini_answer_free(&ans);
}

TEST(answer_snake_case)
{
	char parts[1024];

	snprintf(parts, sizeof parts,
		 "{\"inline_data\":{\"mime_type\":\"image/jpeg\",\"data\":\"%s\"}}", B64(jpeg));
	CHECK_INT(parse_parts(parts, "STOP"), IMG_OK);
	CHECK(image_is(jpeg, sizeof jpeg));
	CHECK_STR(ans.mime, "image/jpeg");
	CHECK_STR(ans.declared, "image/jpeg");
	gemini_answer_free(&ans);
}

TEST(answer_bad_bytes)
{
	char parts[1024];

	CHECK_INT(parse_parts("{\"inlineData\":{\"mimeType\":\"image/"
			      "png\",\"data\":\"!!!notbase64***\"}}",
			      "STOP"),
		  IMG_UPSTREAM_ERROR);
	CHECK(strstr(err.message, "base64") != NULL);
	gemini_answer_free(&ans);

	snprintf(parts, sizeof parts,
		 "{\"inlineData\":{\"mimeType\":\"image/png\",\"data\":\"%s\"}}", B64(text_bytes));
	CHECK_INT(parse_parts(parts, "STOP"), IMG_UPSTREAM_ERROR);
	CHECK(ans.mime == NULL);
	gemini_answer_free(&ans);

	/* Empty data decodes to nothing: not an image. */
	CHECK_INT(
		parse_parts("{\"inlineData\":{\"mimeType\":\"image/png\",\"data\":\"\"}}", "STOP"),
		IMG_UPSTREAM_ERROR);
	gemini_answer_free(&ans);

	static const char *const not_json[] = {
		"",  "<html>502 Bad Gateway</html>", "{\"candidates\":[", "[]", "\"text\"", "null",
		NULL};
	for (int i = 0; not_json[i]; i++) {
		CHECK_INT(parse(not_json[i]), IMG_UPSTREAM_ERROR);
		CHECK(err.message[0] != '\0');
		gemini_answer_free(&ans);
	}
}

TEST(answer_noncanonical_b64)
{
	char parts[1024], wrapped[256], unpadded[256];
	const char *enc = B64(png_a);
	size_t n = strlen(enc), w = 0;

	/* Line breaks every 16 characters, as some encoders emit (\n in JSON). */
	for (size_t i = 0; i < n; i++) {
		if (i && i % 16 == 0) {
			wrapped[w++] = '\\';
			wrapped[w++] = 'n';
		}
		wrapped[w++] = enc[i];
	}
	wrapped[w] = '\0';
	snprintf(parts, sizeof parts,
		 "{\"inlineData\":{\"mimeType\":\"image/png\",\"data\":\"%s\"}}", wrapped);
	CHECK_INT(parse_parts(parts, "STOP"), IMG_OK);
	CHECK(image_is(png_a, sizeof png_a));
	CHECK_STR(ans.mime, "image/png");
	gemini_answer_free(&ans);

	/* Padding dropped. */
	snprintf(unpadded, sizeof unpadded, "%s", B64(jpeg));
	size_t u = strlen(unpadded);
	while (u && unpadded[u - 1] == '=')
		unpadded[--u] = '\0';
	CHECK(u % 4 != 0);
	snprintf(parts, sizeof parts,
		 "{\"inlineData\":{\"mimeType\":\"image/jpeg\",\"data\":\"%s\"}}", unpadded);
	CHECK_INT(parse_parts(parts, "STOP"), IMG_OK);
	CHECK(image_is(jpeg, sizeof jpeg));
	CHECK_STR(ans.mime, "image/jpeg");
	gemini_answer_free(&ans);
}

TEST(answer_inplace)
{
	char *body;

	body = answer("{\"text\":\"ok\"},{\"inlineData\":{\"mimeType\":\"image/webp\",\"data\":"
		      "\"UklGRh4AAABXRUJQVlA4IAAAAAA=\"}}",
		      "STOP");
	CHECK_INT(gemini_parse_answer_inplace(body, strlen(body), &ans, &err), IMG_OK);
	CHECK(image_is(webp, sizeof webp));
	CHECK_STR(ans.ext, "webp");
	gemini_answer_free(&ans);
	free(body);

	/* gemini_answer_free after a failed parse, and twice, is safe. */
	body = xstrdup("not json");
	CHECK_INT(gemini_parse_answer_inplace(body, strlen(body), &ans, &err), IMG_UPSTREAM_ERROR);
	gemini_answer_free(&ans);
	gemini_answer_free(&ans);
	free(body);
}

/* --- gemini_parse_answer: blocks and no image ------------------------------ */

TEST(answer_safety_blocks)
{
	static const char *const reasons[] = {"IMAGE_SAFETY",
					      "IMAGE_PROHIBITED_CONTENT",
					      "SAFETY",
					      "PROHIBITED_CONTENT",
					      "BLOCKLIST",
					      "SPII",
					      NULL};
	char body[1024];

	for (int i = 0; reasons[i]; i++) {
		snprintf(body, sizeof body,
			 "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"I can't.\"}]},"
			 "\"finishReason\":\"%s\",\"finishMessage\":\"Unable to show the "
			 "generated image (%d).\"}]}",
			 reasons[i], i);
		char want_msg[64];
		snprintf(want_msg, sizeof want_msg, "Unable to show the generated image (%d).", i);
		CHECK_INT(parse(body), IMG_SAFETY_BLOCKED);
		CHECK_INT(err.code, IMG_SAFETY_BLOCKED);
		CHECK(strstr(err.message, want_msg) != NULL);
		CHECK_STR(err.finish_reason, reasons[i]);
		CHECK_STR(ans.finish_reason, reasons[i]);
		CHECK(ans.b64 == NULL);
		gemini_answer_free(&ans);
	}
	/* Without a finishMessage, and without content. */
	CHECK_INT(parse("{\"candidates\":[{\"finishReason\":\"IMAGE_SAFETY\"}]}"),
		  IMG_SAFETY_BLOCKED);
	CHECK(strstr(err.message, "IMAGE_SAFETY") != NULL);
	CHECK_STR(err.finish_reason, "IMAGE_SAFETY");
	gemini_answer_free(&ans);
}

TEST(answer_prompt_feedback)
{
	CHECK_INT(parse("{\"promptFeedback\":{\"blockReason\":\"PROHIBITED_CONTENT\"},"
			"\"usageMetadata\":{\"promptTokenCount\":12,\"totalTokenCount\":12}}"),
		  IMG_SAFETY_BLOCKED);
	CHECK(strstr(err.message, "PROHIBITED_CONTENT") != NULL);
	CHECK_STR(err.finish_reason, "PROHIBITED_CONTENT");
	CHECK_STR(ans.finish_reason, "PROHIBITED_CONTENT");
	CHECK_INT(ans.prompt_tokens, 12);
	gemini_answer_free(&ans);

	CHECK_INT(parse("{\"candidates\":[],\"promptFeedback\":{\"blockReason\":\"OTHER\"}}"),
		  IMG_SAFETY_BLOCKED);
	CHECK_STR(err.finish_reason, "OTHER");
	gemini_answer_free(&ans);
}

TEST(answer_recitation)
{
	static const char *const reasons[] = {"IMAGE_RECITATION", "RECITATION", NULL};
	char body[512];

	for (int i = 0; reasons[i]; i++) {
		snprintf(body, sizeof body,
			 "{\"candidates\":[{\"finishReason\":\"%s\",\"finishMessage\":\"too close "
			 "to an existing work\"}]}",
			 reasons[i]);
		CHECK_INT(parse(body), IMG_RECITATION_BLOCKED);
		CHECK_STR(err.finish_reason, reasons[i]);
		CHECK(strstr(err.message, "too close to an existing work") != NULL);
		gemini_answer_free(&ans);
	}
}

TEST(answer_no_image)
{
	CHECK_INT(parse_parts("{\"text\":\"I would rather describe it: a fox.\"}", "NO_IMAGE"),
		  IMG_NO_IMAGE);
	CHECK(strstr(err.message, "I would rather describe it: a fox.") != NULL);
	CHECK(strstr(err.message, "NO_IMAGE") != NULL);
	CHECK_STR(err.finish_reason, "NO_IMAGE");
	gemini_answer_free(&ans);

	CHECK_INT(parse_parts("{\"text\":\"Something went wrong.\"}", "IMAGE_OTHER"), IMG_NO_IMAGE);
	CHECK(strstr(err.message, "Something went wrong.") != NULL);
	CHECK_STR(err.finish_reason, "IMAGE_OTHER");
	gemini_answer_free(&ans);

	/* STOP with text only; thought text is not the model's answer. */
	CHECK_INT(parse_parts("{\"text\":\"secret plan\",\"thought\":true},"
			      "{\"text\":\"Here is a poem instead.\"}",
			      "STOP"),
		  IMG_NO_IMAGE);
	CHECK(strstr(err.message, "Here is a poem instead.") != NULL);
	CHECK(strstr(err.message, "secret plan") == NULL);
	gemini_answer_free(&ans);

	/* Long text is cut, never overflows. */
	char parts[4096], big[3000];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	snprintf(parts, sizeof parts, "{\"text\":\"%s\"}", big);
	CHECK_INT(parse_parts(parts, "STOP"), IMG_NO_IMAGE);
	CHECK(strlen(err.message) < sizeof err.message);
	gemini_answer_free(&ans);

	CHECK_INT(parse("{\"candidates\":[]}"), IMG_NO_IMAGE);
	CHECK(err.message[0] != '\0');
	gemini_answer_free(&ans);
	CHECK_INT(parse("{}"), IMG_NO_IMAGE);
	gemini_answer_free(&ans);
	CHECK_INT(parse("{\"candidates\":[{\"finishReason\":\"STOP\",\"index\":0}]}"),
		  IMG_NO_IMAGE);
	CHECK_STR(err.finish_reason, "STOP");
	gemini_answer_free(&ans);
	CHECK_INT(parse("{\"candidates\":[{\"content\":{\"role\":\"model\"},"
			"\"finishReason\":\"STOP\"}]}"),
		  IMG_NO_IMAGE);
	gemini_answer_free(&ans);
	/* Wrong types where objects or arrays belong. */
	CHECK_INT(parse("{\"candidates\":{}}"), IMG_NO_IMAGE);
	gemini_answer_free(&ans);
	CHECK_INT(parse("{\"candidates\":[{\"content\":{\"parts\":{}}}]}"), IMG_NO_IMAGE);
	gemini_answer_free(&ans);
	CHECK_INT(parse("{\"candidates\":[{\"content\":{\"parts\":[1,null,{\"inlineData\":7}]}}]}"),
		  IMG_NO_IMAGE);
	gemini_answer_free(&ans);
}

TEST(answer_usage)
{
	char body[2048];

	snprintf(body, sizeof body,
		 "{\"candidates\":[{\"content\":{\"parts\":[{\"inlineData\":{\"mimeType\":"
		 "\"image/png\",\"data\":\"%s\"}}]},\"finishReason\":\"STOP\"}],"
		 "\"usageMetadata\":{\"promptTokenCount\":11,\"candidatesTokenCount\":1300,"
		 "\"totalTokenCount\":1401,\"thoughtsTokenCount\":90,"
		 "\"promptTokensDetails\":[{\"modality\":\"TEXT\",\"tokenCount\":11}],"
		 "\"candidatesTokensDetails\":[{\"modality\":\"TEXT\",\"tokenCount\":10},"
		 "{\"modality\":\"IMAGE\",\"tokenCount\":1290}]}}",
		 B64(png_a));
	CHECK_INT(parse(body), IMG_OK);
	CHECK_INT(ans.prompt_tokens, 11);
	CHECK_INT(ans.output_tokens, 1300);
	CHECK_INT(ans.total_tokens, 1401);
	CHECK_INT(ans.thoughts_tokens, 90);
	CHECK_INT(ans.image_tokens, 1290);
	gemini_answer_free(&ans);

	/* No per-modality details: all output tokens count as image tokens. */
	CHECK_INT(parse("{\"candidates\":[{\"finishReason\":\"IMAGE_SAFETY\"}],"
			"\"usageMetadata\":{\"promptTokenCount\":5,\"candidatesTokenCount\":7,"
			"\"totalTokenCount\":12}}"),
		  IMG_SAFETY_BLOCKED);
	CHECK_INT(ans.prompt_tokens, 5);
	CHECK_INT(ans.output_tokens, 7);
	CHECK_INT(ans.image_tokens, 7);
	CHECK_INT(ans.thoughts_tokens, 0);
	gemini_answer_free(&ans);

	/* No usage at all: zeros. */
	CHECK_INT(parse("{\"candidates\":[]}"), IMG_NO_IMAGE);
	CHECK(ans.prompt_tokens == 0 && ans.output_tokens == 0 && ans.image_tokens == 0 &&
	      ans.total_tokens == 0);
	gemini_answer_free(&ans);
}

/* --- gemini_parse_error / gemini_parse_duration ----------------------------- */

static struct gemini_fault fault;

static void parse_error(int http, const char *body)
{
	gemini_parse_error(http, body, strlen(body), &fault);
}

TEST(error_api_key_invalid)
{
	parse_error(400,
		    "{\"error\":{\"code\":400,\"message\":\"API key not valid. Please pass a "
		    "valid API key.\",\"status\":\"INVALID_ARGUMENT\",\"details\":[{\"@type\":"
		    "\"type.googleapis.com/google.rpc.ErrorInfo\",\"reason\":\"API_KEY_INVALID\","
		    "\"domain\":\"googleapis.com\",\"metadata\":{\"service\":"
		    "\"generativelanguage.googleapis.com\"}},{\"@type\":\"type.googleapis.com/"
		    "google.rpc.LocalizedMessage\",\"locale\":\"en-US\",\"message\":\"API key "
		    "not valid.\"}]}}");
	CHECK_INT(fault.http, 400);
	CHECK_STR(fault.status, "INVALID_ARGUMENT");
	CHECK_STR(fault.reason, "API_KEY_INVALID");
	CHECK_STR(fault.message, "API key not valid. Please pass a valid API key.");
	CHECK(fault.retry_delay == -1);
}

TEST(error_retry_info)
{
	parse_error(429,
		    "{\"error\":{\"code\":429,\"message\":\"You exceeded your current quota.\","
		    "\"status\":\"RESOURCE_EXHAUSTED\",\"details\":[{\"@type\":\"type."
		    "googleapis.com/google.rpc.QuotaFailure\",\"violations\":[{\"quotaMetric\":"
		    "\"generativelanguage.googleapis.com/generate_content_free_tier_requests\"}]},"
		    "{\"@type\":\"type.googleapis.com/google.rpc.Help\",\"links\":[]},"
		    "{\"@type\":\"type.googleapis.com/google.rpc.RetryInfo\",\"retryDelay\":"
		    "\"47s\"}]}}");
	CHECK_INT(fault.http, 429);
	CHECK_STR(fault.status, "RESOURCE_EXHAUSTED");
	CHECK_STR(fault.reason, "");
	CHECK(fault.retry_delay == 47.0);

	parse_error(429, "{\"error\":{\"code\":429,\"status\":\"RESOURCE_EXHAUSTED\",\"details\":"
			 "[{\"@type\":\"type.googleapis.com/google.rpc.RetryInfo\",\"retryDelay\":"
			 "\"29.723877525s\"}]}}");
	CHECK(fault.retry_delay > 29.723877 && fault.retry_delay < 29.723878);
	CHECK_STR(fault.message, "");

	/* A malformed delay counts as absent. */
	parse_error(429, "{\"error\":{\"details\":[{\"@type\":\"type.googleapis.com/google.rpc."
			 "RetryInfo\",\"retryDelay\":\"soon\"}]}}");
	CHECK(fault.retry_delay == -1);
}

TEST(error_without_details)
{
	parse_error(503, "{\"error\":{\"code\":503,\"message\":\"The model is overloaded. Please "
			 "try again later.\",\"status\":\"UNAVAILABLE\"}}");
	CHECK_INT(fault.http, 503);
	CHECK_STR(fault.status, "UNAVAILABLE");
	CHECK_STR(fault.reason, "");
	CHECK(strstr(fault.message, "overloaded") != NULL);
	CHECK(fault.retry_delay == -1);

	/* Details of the wrong shape are ignored. */
	parse_error(400,
		    "{\"error\":{\"status\":\"INVALID_ARGUMENT\",\"details\":[1,{},"
		    "{\"@type\":7},{\"@type\":\"type.googleapis.com/google.rpc.ErrorInfo\"}]}}");
	CHECK_STR(fault.status, "INVALID_ARGUMENT");
	CHECK_STR(fault.reason, "");
	parse_error(400, "{\"error\":{\"details\":{}}}");
	CHECK_STR(fault.reason, "");

	/* A very long message is cut, not overflowed. */
	char body[2048], msg[1200];
	memset(msg, 'm', sizeof msg - 1);
	msg[sizeof msg - 1] = '\0';
	snprintf(body, sizeof body, "{\"error\":{\"message\":\"%s\"}}", msg);
	parse_error(400, body);
	CHECK_INT(strlen(fault.message), sizeof fault.message - 1);
}

TEST(error_not_json)
{
	static const char *const bodies[] = {"",
					     "<html><body>Bad Gateway</body></html>",
					     "{\"error\":\"quota\"}",
					     "[{\"error\":1}]",
					     "{}",
					     NULL};

	for (int i = 0; bodies[i]; i++) {
		parse_error(502, bodies[i]);
		CHECK_INT(fault.http, 502);
		CHECK_STR(fault.status, "");
		CHECK_STR(fault.reason, "");
		CHECK_STR(fault.message, "");
		CHECK(fault.retry_delay == -1);
	}
}

TEST(duration)
{
	CHECK(gemini_parse_duration("") == -1);
	CHECK(gemini_parse_duration("s") == -1);
	CHECK(gemini_parse_duration("-1s") == -1);
	CHECK(gemini_parse_duration("10") == -1);
	CHECK(gemini_parse_duration("10ms") == -1);
	CHECK(gemini_parse_duration("10s ") == -1);
	CHECK(gemini_parse_duration("1.5s") == 1.5);
	CHECK(gemini_parse_duration("0s") == 0);
	CHECK(gemini_parse_duration("47s") == 47);
	CHECK(gemini_parse_duration("0.000000001s") > 0);
	/* Not finite: a cool-down must be a real number of seconds. */
	CHECK(gemini_parse_duration("infs") == -1);
	CHECK(gemini_parse_duration("nans") == -1);
	CHECK(gemini_parse_duration("1e999s") == -1);
}

int main(void)
{
	RUN(request_shape);
	RUN(request_no_image_size);
	RUN(request_seed);
	RUN(request_safety);
	RUN(url);
	RUN(answer_thoughts);
	RUN(answer_last_image_wins);
	RUN(answer_sniffed);
	RUN(answer_snake_case);
	RUN(answer_bad_bytes);
	RUN(answer_noncanonical_b64);
	RUN(answer_inplace);
	RUN(answer_safety_blocks);
	RUN(answer_prompt_feedback);
	RUN(answer_recitation);
	RUN(answer_no_image);
	RUN(answer_usage);
	RUN(error_api_key_invalid);
	RUN(error_retry_info);
	RUN(error_without_details);
	RUN(error_not_json);
	RUN(duration);
	RUN(request_edit_inputs_in_order);
	RUN(request_edit_mask);
	RUN(request_edit_large_image);
	UNIT_DONE();
}
