/* Unit tests for core/openai.c: the size each model is asked for (and what is
 * reported), quality and style per model, the generations body (parsed back
 * with core/json.c), the edits multipart body (parsed back with
 * core/multipart.c), the field checks, reading answers (b64, url, data: URI,
 * garbage, empty data, error envelopes) and error bodies with their
 * rate-limit headers. */
#include "../../core/openai.c"

#include "b64.h"
#include "config.h"
#include "multipart.h"
#include "unit.h"
#include "xalloc.h"

static struct config cfg;

static void setup(void)
{
	memset(&cfg, 0, sizeof cfg);
	cfg.openai_configured = 1;
	cfg.gemini_pro_image_model = (char *)"gemini-3-pro-image-preview";
	cfg.default_model = (char *)"";
	cfg.default_image_size = (char *)"2K";
	cfg.safety_threshold = (char *)"OFF";
	cfg.openai_models = (char *)"my-image-model";
}

static struct gen_req req(const char *model)
{
	struct gen_req r;
	memset(&r, 0, sizeof r);
	r.prompt = (char *)"a red fox in the snow";
	r.model = (char *)model;
	r.n = 1;
	r.safety = -1;
	return r;
}

static struct gen_plan plan;
static struct img_error err;

static enum img_err build(const struct gen_req *r)
{
	plan_free(&plan);
	return plan_build(&cfg, r, 0, &plan, &err);
}

/* "size ratio image_size" of the plan for a request, or "(error)". */
static const char *picked(const char *model, const char *size, const char *ratio,
			  const char *image_size, double first)
{
	static char out[64];
	struct gen_req r = req(model);
	r.size = (char *)size;
	r.aspect_ratio = (char *)ratio;
	r.image_size = (char *)image_size;
	plan_free(&plan);
	if (plan_build(&cfg, &r, first, &plan, &err) != IMG_OK)
		return "(error)";
	snprintf(out, sizeof out, "%s %s %s", plan.upstream_size, plan.aspect_ratio,
		 plan.image_size[0] ? plan.image_size : "-");
	return out;
}

TEST(families_and_ratios)
{
	CHECK_INT(openai_family_of("dall-e-2"), OPENAI_DALLE2);
	CHECK_INT(openai_family_of("DALL-E-3"), OPENAI_DALLE3);
	CHECK_INT(openai_family_of("gpt-image-1"), OPENAI_GPT_IMAGE);
	CHECK_INT(openai_family_of("my-image-model"), OPENAI_GPT_IMAGE);
	CHECK_STR(openai_ratios("dall-e-3")[2], "4:7");
	CHECK_STR(openai_ratios("gpt-image-1")[1], "3:2");
}

TEST(size_mapping)
{
	/* Nothing asked: 1:1 (SPEC 3.3 rule 5). */
	CHECK_STR(picked("dall-e-3", NULL, NULL, NULL, 0), "1024x1024 1:1 1K");
	CHECK_STR(picked("gpt-image-1", NULL, NULL, NULL, 0), "1024x1024 1:1 1K");
	CHECK_STR(picked("dall-e-2", NULL, NULL, NULL, 0), "1024x1024 1:1 1K");
	/* Exact sizes pass through. */
	CHECK_STR(picked("dall-e-3", "1792x1024", NULL, NULL, 0), "1792x1024 7:4 2K");
	CHECK_STR(picked("dall-e-3", "1024x1792", NULL, NULL, 0), "1024x1792 4:7 2K");
	CHECK_STR(picked("gpt-image-1", "1536x1024", NULL, NULL, 0), "1536x1024 3:2 2K");
	CHECK_STR(picked("gpt-image-1", "1024x1536", NULL, NULL, 0), "1024x1536 2:3 2K");
	CHECK_STR(picked("dall-e-2", "256x256", NULL, NULL, 0), "256x256 1:1 1K");
	CHECK_STR(picked("dall-e-2", "512x512", NULL, NULL, 0), "512x512 1:1 1K");
	/* The nearest ratio, then the nearest long edge. */
	CHECK_STR(picked("dall-e-3", "16:9", NULL, NULL, 0), "1792x1024 7:4 2K");
	CHECK_STR(picked("dall-e-3", "4:3", NULL, NULL, 0), "1792x1024 7:4 2K");
	CHECK_STR(picked("dall-e-3", "5:4", NULL, NULL, 0), "1024x1024 1:1 1K");
	CHECK_STR(picked("dall-e-3", "1536x1024", NULL, NULL, 0), "1792x1024 7:4 2K");
	CHECK_STR(picked("gpt-image-1", "1792x1024", NULL, NULL, 0), "1536x1024 3:2 2K");
	CHECK_STR(picked("gpt-image-1", "9:16", NULL, NULL, 0), "1024x1536 2:3 2K");
	CHECK_STR(picked("gpt-image-1", "5:4", NULL, NULL, 0), "1536x1024 3:2 2K");
	CHECK_STR(picked("gpt-image-1", "9:8", NULL, NULL, 0), "1024x1024 1:1 1K");
	CHECK_STR(picked("dall-e-2", "1792x1024", NULL, NULL, 0), "1024x1024 1:1 1K");
	CHECK_STR(picked("dall-e-2", "300x300", NULL, NULL, 0), "256x256 1:1 1K");
	CHECK_STR(picked("dall-e-2", "400x400", NULL, NULL, 0), "512x512 1:1 1K");
	CHECK_STR(picked("dall-e-2", "4096x4096", NULL, NULL, 0), "1024x1024 1:1 1K");
	/* aspect_ratio wins over size's ratio; size's pixels still pick the edge. */
	CHECK_STR(picked("dall-e-3", "1024x1024", "9:16", NULL, 0), "1024x1792 4:7 2K");
	CHECK_STR(picked("dall-e-2", "256x256", "16:9", NULL, 0), "256x256 1:1 1K");
	CHECK_STR(picked("gpt-image-1", NULL, "21:9", NULL, 0), "1536x1024 3:2 2K");
	/* image_size only matters where sizes differ in edge alone. */
	CHECK_STR(picked("dall-e-3", NULL, NULL, "4K", 0), "1024x1024 1:1 1K");
	CHECK_STR(picked("dall-e-2", NULL, NULL, "1K", 0), "1024x1024 1:1 1K");
	/* "auto": GPT image models choose, unless something else decides. */
	CHECK_STR(picked("gpt-image-1", "auto", NULL, NULL, 0), "auto auto -");
	CHECK_STR(picked("my-image-model", "auto", NULL, NULL, 0), "auto auto -");
	CHECK_STR(picked("gpt-image-1", "auto", "16:9", NULL, 0), "1536x1024 3:2 2K");
	CHECK_STR(picked("gpt-image-1", "auto", NULL, NULL, 0.6), "1024x1536 2:3 2K");
	CHECK_STR(picked("dall-e-3", "auto", NULL, NULL, 0), "1024x1024 1:1 1K");
	/* An edit's first image decides when nothing else does. */
	CHECK_STR(picked("dall-e-3", NULL, NULL, NULL, 1.8), "1792x1024 7:4 2K");
	CHECK_STR(picked("gpt-image-1", "1024x1024", NULL, NULL, 1.8), "1024x1024 1:1 1K");
	/* Every reported ratio is one the model lists. */
	const char *models[] = {"dall-e-2", "dall-e-3", "gpt-image-1"};
	const char *sizes[] = {"1x1", "3x1", "1x3", "4:3", "3:4", "21:9", "300x200"};
	for (int m = 0; m < 3; m++)
		for (int i = 0; i < 7; i++) {
			picked(models[m], sizes[i], NULL, NULL, 0);
			CHECK(model_ratio_canon(plan.aspect_ratio, openai_ratios(models[m])));
		}
}

TEST(quality_and_style)
{
	CHECK_STR(openai_wire_quality("dall-e-3", "hd"), "hd");
	CHECK_STR(openai_wire_quality("dall-e-3", "high"), "hd");
	CHECK_STR(openai_wire_quality("dall-e-3", "medium"), "standard");
	CHECK_STR(openai_wire_quality("dall-e-3", "low"), "standard");
	CHECK_STR(openai_wire_quality("dall-e-3", "standard"), "standard");
	CHECK(openai_wire_quality("dall-e-3", "auto") == NULL);
	CHECK_STR(openai_wire_quality("gpt-image-1", "hd"), "high");
	CHECK_STR(openai_wire_quality("gpt-image-1", "standard"), "medium");
	CHECK_STR(openai_wire_quality("gpt-image-1", "low"), "low");
	CHECK_STR(openai_wire_quality("gpt-image-1", "auto"), "auto");
	CHECK(openai_wire_quality("dall-e-2", "hd") == NULL);
	CHECK(openai_wire_quality("gpt-image-1", NULL) == NULL);
	CHECK_STR(openai_wire_style("dall-e-3", "natural"), "natural");
	CHECK(openai_wire_style("gpt-image-1", "vivid") == NULL);
	CHECK(openai_wire_style("dall-e-2", "vivid") == NULL);

	/* What a model lacks as a field becomes the SPEC 3.4 clause. */
	struct gen_req r = req("dall-e-3");
	r.quality = (char *)"hd";
	r.style = (char *)"vivid";
	CHECK_INT(build(&r), IMG_OK);
	CHECK_STR(plan.revised_prompt, "a red fox in the snow");
	r.model = (char *)"gpt-image-1";
	CHECK_INT(build(&r), IMG_OK);
	CHECK_STR(
		plan.revised_prompt,
		"a red fox in the snow. vivid saturated colour, dramatic lighting, bold contrast");
	r.model = (char *)"dall-e-2";
	CHECK_INT(build(&r), IMG_OK);
	CHECK(strstr(plan.revised_prompt, "highly detailed") != NULL);
	CHECK(strstr(plan.revised_prompt, "vivid saturated") != NULL);
}

/* The generation body of a request, parsed back. */
static struct json *gen_body(struct gen_req *r, struct buf *b)
{
	buf_reset(b);
	if (build(r) != IMG_OK)
		return NULL;
	openai_build_generation(b, &plan, r);
	return json_parse(b->data, b->len, NULL);
}

TEST(generation_bodies)
{
	struct buf b = BUF_INIT;
	struct gen_req r = req("dall-e-3");
	r.size = (char *)"1792x1024";
	r.quality = (char *)"high";
	r.style = (char *)"natural";
	r.user = (char *)"user-42";
	r.n = 3;
	struct json *j = gen_body(&r, &b);
	CHECK(j != NULL);
	CHECK_STR(json_get_str(j, "model"), "dall-e-3");
	CHECK_STR(json_get_str(j, "prompt"), "a red fox in the snow");
	CHECK_INT(json_get(j, "n")->integer, 1); /* one call per image */
	CHECK_STR(json_get_str(j, "size"), "1792x1024");
	CHECK_STR(json_get_str(j, "quality"), "hd");
	CHECK_STR(json_get_str(j, "style"), "natural");
	CHECK_STR(json_get_str(j, "response_format"), "b64_json");
	CHECK_STR(json_get_str(j, "user"), "user-42");
	CHECK_INT(j->count, 8);
	json_free(j);

	r = req("gpt-image-1");
	r.quality = (char *)"standard";
	r.style = (char *)"vivid";
	r.prompt = (char *)"quote \" and \\ and ünïcode";
	j = gen_body(&r, &b);
	CHECK(j != NULL);
	CHECK_STR(json_get_str(j, "model"), "gpt-image-1");
	CHECK_STR(json_get_str(j, "quality"), "medium");
	CHECK(json_get(j, "style") == NULL);
	CHECK(json_get(j, "response_format") == NULL);
	CHECK(json_get(j, "user") == NULL);
	const char *want = "quote \" and \\ and ünïcode. vivid saturated";
	CHECK(strncmp(json_get_str(j, "prompt"), want, strlen(want)) == 0);
	json_free(j);

	r = req("dall-e-2");
	r.size = (char *)"256x256";
	r.quality = (char *)"hd";
	j = gen_body(&r, &b);
	CHECK(j != NULL);
	CHECK_STR(json_get_str(j, "size"), "256x256");
	CHECK(json_get(j, "quality") == NULL);
	CHECK_STR(json_get_str(j, "response_format"), "b64_json");
	json_free(j);

	/* An extra model goes upstream under its configured name. */
	r = req("My-Image-Model");
	r.size = (char *)"auto";
	j = gen_body(&r, &b);
	CHECK(j != NULL);
	CHECK_STR(json_get_str(j, "model"), "my-image-model");
	CHECK_STR(json_get_str(j, "size"), "auto");
	json_free(j);
	buf_free(&b);
}

TEST(urls)
{
	const char *bases[] = {"https://api.openai.com", "https://api.openai.com/",
			       "https://api.openai.com/v1", "https://api.openai.com/v1/"};
	for (int i = 0; i < 4; i++) {
		struct buf b = BUF_INIT;
		openai_url(&b, bases[i], 0);
		CHECK_STR(buf_cstr(&b), "https://api.openai.com/v1/images/generations");
		buf_reset(&b);
		openai_url(&b, bases[i], 1);
		CHECK_STR(buf_cstr(&b), "https://api.openai.com/v1/images/edits");
		buf_free(&b);
	}
	struct buf b = BUF_INIT;
	openai_url(&b, "http://127.0.0.1:8080/proxy/openai/v1", 0);
	CHECK_STR(buf_cstr(&b), "http://127.0.0.1:8080/proxy/openai/v1/images/generations");
	buf_free(&b);

	CHECK(openai_url_allowed("https://files.example/img.png?sig=1", "https://api.openai.com"));
	CHECK(openai_url_allowed("https://files.example/a.png", "http://127.0.0.1:9"));
	CHECK(openai_url_allowed("http://127.0.0.1:9/f.png", "http://127.0.0.1:9"));
	CHECK(!openai_url_allowed("http://files.example/a.png", "https://api.openai.com"));
	CHECK(!openai_url_allowed("file:///etc/passwd", "http://127.0.0.1:9"));
	CHECK(!openai_url_allowed("ftp://x/y.png", "http://127.0.0.1:9"));
	CHECK(!openai_url_allowed("/relative.png", "http://127.0.0.1:9"));
	CHECK(!openai_url_allowed("https:///nohost", "http://127.0.0.1:9"));
	CHECK(!openai_url_allowed("https://a.example/x y.png", "http://127.0.0.1:9"));
	CHECK(!openai_url_allowed("https://a.example/x\r\nHost: evil", "http://127.0.0.1:9"));
}

/* --- edits ------------------------------------------------------------------ */

static const unsigned char png_sq[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0,
				       0,    13,  'I', 'H', 'D',  'R',	0,    0,    0, 8,
				       0,    0,	  0,   8,   8,	  2,	0,    0,    0, 'A'};
static const unsigned char jpeg_bytes[] = {0xff, 0xd8, 0xff, 0xe0, 0, 16, 'J', 'F', 'I',  'F', 0, 1,
					   1,	 0,    0,    1,	   0, 1,  0,   0,   0xff, 0xd9};

static void set_input(struct gen_input *in, const void *p, size_t n, const char *mime,
		      const char *ext, int w, int h)
{
	memset(in, 0, sizeof *in);
	buf_append(&in->bytes, p, n);
	in->mime = mime;
	in->ext = ext;
	in->width = w;
	in->height = h;
}

static void free_inputs(struct gen_req *r)
{
	for (int i = 0; i < r->ninputs; i++)
		buf_free(&r->inputs[i].bytes);
	free(r->inputs);
	if (r->mask)
		buf_free(&r->mask->bytes);
	free(r->mask);
	r->inputs = r->mask = NULL;
	r->ninputs = 0;
}

/* Parses body with core/multipart.c. */
static struct multipart *parse_multipart(const char *boundary, const struct buf *body)
{
	struct img_error e;
	struct multipart *m = multipart_new(boundary, NULL);
	if (!m)
		return NULL;
	if (multipart_feed(m, body->data, body->len, &e) != IMG_OK ||
	    multipart_finish(m, &e) != IMG_OK) {
		fprintf(stderr, "  multipart: %s\n", e.message);
		multipart_free(m);
		return NULL;
	}
	return m;
}

static const char *field_text(const struct multipart *m, const char *name)
{
	const struct multipart_part *p = multipart_field(m, name);
	return p ? p->data.data : NULL;
}

TEST(edit_body_one_image)
{
	struct gen_req r = req("dall-e-2");
	r.inputs = xcalloc(1, sizeof *r.inputs);
	r.ninputs = 1;
	set_input(&r.inputs[0], png_sq, sizeof png_sq, "image/png", "png", 8, 8);
	r.mask = xcalloc(1, sizeof *r.mask);
	set_input(r.mask, png_sq, sizeof png_sq, "image/png", "png", 8, 8);
	r.size = (char *)"512x512";
	r.prompt = (char *)"line one\r\nline two";
	r.user = (char *)"u1";
	CHECK_INT(build(&r), IMG_OK);
	struct buf b = BUF_INIT;
	openai_build_edit(&b, "BOUNDARY-xyz", &plan, &r);
	struct multipart *m = parse_multipart("BOUNDARY-xyz", &b);
	CHECK(m != NULL);
	if (m) {
		CHECK_STR(field_text(m, "model"), "dall-e-2");
		CHECK_STR(field_text(m, "prompt"), "line one\r\nline two");
		CHECK_STR(field_text(m, "n"), "1");
		CHECK_STR(field_text(m, "size"), "512x512");
		CHECK_STR(field_text(m, "response_format"), "b64_json");
		CHECK_STR(field_text(m, "user"), "u1");
		CHECK(multipart_field(m, "quality") == NULL);
		const struct multipart_part *img = multipart_field(m, "image");
		CHECK(img != NULL && img->is_file);
		if (img) {
			CHECK_STR(img->filename, "image.png");
			CHECK_STR(img->content_type, "image/png");
			CHECK_INT(img->data.len, sizeof png_sq);
			CHECK(memcmp(img->data.data, png_sq, sizeof png_sq) == 0);
		}
		const struct multipart_part *mask = multipart_field(m, "mask");
		CHECK(mask != NULL && mask->is_file);
		if (mask)
			CHECK_STR(mask->filename, "mask.png");
		CHECK(multipart_field(m, "image[]") == NULL);
		CHECK_INT(multipart_count(m), 8);
		multipart_free(m);
	}
	buf_free(&b);
	free_inputs(&r);
}

TEST(edit_body_several_images)
{
	struct gen_req r = req("gpt-image-1");
	r.inputs = xcalloc(3, sizeof *r.inputs);
	r.ninputs = 3;
	set_input(&r.inputs[0], png_sq, sizeof png_sq, "image/png", "png", 8, 8);
	set_input(&r.inputs[1], jpeg_bytes, sizeof jpeg_bytes, "image/jpeg", "jpg", 8, 8);
	set_input(&r.inputs[2], png_sq, sizeof png_sq, "image/png", "png", 8, 8);
	r.quality = (char *)"hd";
	CHECK_INT(build(&r), IMG_OK);
	struct buf headers = BUF_INIT, body = BUF_INIT;
	openai_build_request(&headers, &body, &plan, &r);
	const char *h = buf_cstr(&headers);
	CHECK(strstr(h, "Authorization") == NULL); /* added per attempt, by the key */
	const char *ct = strstr(h, "Content-Type: multipart/form-data; boundary=");
	CHECK(ct != NULL);
	char boundary[80] = "";
	if (ct)
		sscanf(ct + strlen("Content-Type: multipart/form-data; boundary="), "%79[^\n]",
		       boundary);
	CHECK(strncmp(boundary, "imagegw-", 8) == 0 && strlen(boundary) == 32);
	char parsed[96] = "", value[128] = "";
	if (ct)
		sscanf(ct + strlen("Content-Type: "), "%127[^\n]", value);
	CHECK_INT(multipart_boundary(value, parsed, sizeof parsed), 0);
	CHECK_STR(parsed, boundary);
	struct multipart *m = parse_multipart(boundary, &body);
	CHECK(m != NULL);
	if (m) {
		int images = 0;
		const char *names[] = {"image1.png", "image2.jpg", "image3.png"};
		const char *types[] = {"image/png", "image/jpeg", "image/png"};
		for (size_t i = 0; i < multipart_count(m); i++) {
			const struct multipart_part *p = multipart_part(m, i);
			if (strcmp(p->name, "image[]") != 0)
				continue;
			CHECK_STR(p->filename, names[images]);
			CHECK_STR(p->content_type, types[images]);
			CHECK(multipart_is_image_name(p->name));
			images++;
		}
		CHECK_INT(images, 3);
		CHECK_STR(field_text(m, "quality"), "high");
		CHECK_STR(field_text(m, "size"), "1024x1024");
		CHECK(multipart_field(m, "response_format") == NULL);
		CHECK(multipart_field(m, "image") == NULL);
		CHECK(multipart_field(m, "mask") == NULL);
		multipart_free(m);
	}
	/* Two requests get two boundaries. */
	struct buf h2 = BUF_INIT, b2 = BUF_INIT;
	openai_build_request(&h2, &b2, &plan, &r);
	CHECK(strcmp(buf_cstr(&h2), buf_cstr(&headers)) != 0);
	buf_free(&h2);
	buf_free(&b2);
	buf_free(&headers);
	buf_free(&body);
	free_inputs(&r);
}

TEST(generation_request_headers)
{
	struct gen_req r = req("gpt-image-1");
	CHECK_INT(build(&r), IMG_OK);
	struct buf headers = BUF_INIT, body = BUF_INIT;
	openai_build_request(&headers, &body, &plan, &r);
	CHECK_STR(buf_cstr(&headers), "Content-Type: application/json\n");
	CHECK(body.len > 0 && body.data[0] == '{');
	buf_free(&headers);
	buf_free(&body);
}

TEST(field_checks)
{
	/* Prompt length per model, counted in characters after the clauses. */
	char *long_prompt = xmalloc(5001);
	memset(long_prompt, 'a', 5000);
	long_prompt[5000] = '\0';
	struct gen_req r = req("dall-e-3");
	r.prompt = long_prompt;
	CHECK_INT(build(&r), IMG_INVALID_PROMPT);
	CHECK_STR(err.param, "prompt");
	r.model = (char *)"gpt-image-1";
	CHECK_INT(build(&r), IMG_OK);
	long_prompt[999] = '\0';
	r.model = (char *)"dall-e-2";
	CHECK_INT(build(&r), IMG_OK);
	r.quality = (char *)"hd"; /* the clause pushes it over 1000 */
	CHECK_INT(build(&r), IMG_INVALID_PROMPT);
	free(long_prompt);

	/* Edits: not on dall-e-3; dall-e-2 takes one square PNG; masks are PNG. */
	r = req("dall-e-3");
	r.inputs = xcalloc(2, sizeof *r.inputs);
	r.ninputs = 1;
	set_input(&r.inputs[0], png_sq, sizeof png_sq, "image/png", "png", 8, 8);
	CHECK_INT(build(&r), IMG_INVALID_REQUEST);
	CHECK_STR(err.param, "model");
	r.model = (char *)"dall-e-2";
	CHECK_INT(build(&r), IMG_OK);
	r.inputs[0].width = 9;
	CHECK_INT(build(&r), IMG_INVALID_REQUEST);
	CHECK_STR(err.param, "image");
	r.inputs[0].width = 8;
	r.ninputs = 2;
	set_input(&r.inputs[1], jpeg_bytes, sizeof jpeg_bytes, "image/jpeg", "jpg", 8, 8);
	CHECK_INT(build(&r), IMG_INVALID_REQUEST);
	CHECK_STR(err.param, "image");
	r.model = (char *)"gpt-image-1";
	CHECK_INT(build(&r), IMG_OK);
	r.mask = xcalloc(1, sizeof *r.mask);
	set_input(r.mask, jpeg_bytes, sizeof jpeg_bytes, "image/jpeg", "jpg", 8, 8);
	CHECK_INT(build(&r), IMG_INVALID_REQUEST);
	CHECK_STR(err.param, "mask");
	free_inputs(&r);
}

/* --- answers -------------------------------------------------------------- */

static struct openai_answer ans;

static enum img_err parse(const char *body)
{
	openai_answer_free(&ans);
	return openai_parse_answer(body, strlen(body), &ans, &err);
}

static char *b64_of(const void *p, size_t n)
{
	struct buf b = BUF_INIT;
	b64_encode(&b, p, n);
	return buf_detach(&b, NULL);
}

TEST(answers)
{
	char *png = b64_of(png_sq, sizeof png_sq), *jpg = b64_of(jpeg_bytes, sizeof jpeg_bytes);
	struct buf body = BUF_INIT;

	buf_printf(&body,
		   "{\"created\":1,\"data\":[{\"b64_json\":\"%s\",\"revised_prompt\":\"A fox\"}]}",
		   png);
	CHECK_INT(parse(body.data), IMG_OK);
	CHECK_STR(ans.mime, "image/png");
	CHECK_STR(ans.ext, "png");
	CHECK(ans.b64_len == strlen(png) && memcmp(ans.b64, png, ans.b64_len) == 0);
	CHECK_STR(ans.revised_prompt, "A fox");
	CHECK(ans.url == NULL);

	/* JPEG bytes: the sniffed type wins whatever anyone says. */
	buf_reset(&body);
	buf_printf(&body,
		   "{\"created\":1,\"output_format\":\"png\",\"data\":[{\"b64_json\":\"%s\"}]}",
		   jpg);
	CHECK_INT(parse(body.data), IMG_OK);
	CHECK_STR(ans.mime, "image/jpeg");

	/* Base64 with line breaks is re-encoded canonically. */
	buf_reset(&body);
	buf_printf(&body, "{\"data\":[{\"b64_json\":\"%.8s\\n%s\"}]}", png, png + 8);
	CHECK_INT(parse(body.data), IMG_OK);
	CHECK(ans.b64_len == strlen(png) && memcmp(ans.b64, png, ans.b64_len) == 0);

	/* A link to fetch. */
	CHECK_INT(
		parse("{\"created\":1,\"data\":[{\"url\":\"https://files.example/x.png?se=1\"}]}"),
		IMG_OK);
	CHECK_STR(ans.url, "https://files.example/x.png?se=1");
	CHECK(ans.b64 == NULL);

	/* A data: link holds the image itself. */
	buf_reset(&body);
	buf_printf(&body, "{\"data\":[{\"url\":\"data:image/png;base64,%s\"}]}", png);
	CHECK_INT(parse(body.data), IMG_OK);
	CHECK(ans.url == NULL && ans.b64 && strcmp(ans.mime, "image/png") == 0);
	CHECK_INT(parse("{\"data\":[{\"url\":\"data:image/png,rawtext\"}]}"), IMG_UPSTREAM_ERROR);

	/* Failures. */
	CHECK_INT(parse("<html>not json"), IMG_UPSTREAM_ERROR);
	CHECK_STR(err.message, "The upstream answer was not valid JSON.");
	CHECK_INT(parse(""), IMG_UPSTREAM_ERROR);
	CHECK_INT(parse("[1,2]"), IMG_UPSTREAM_ERROR);
	CHECK_INT(parse("{\"created\":1,\"data\":[]}"), IMG_NO_IMAGE);
	CHECK_INT(parse("{\"created\":1}"), IMG_NO_IMAGE);
	CHECK_INT(parse("{\"data\":[{\"revised_prompt\":\"x\"}]}"), IMG_NO_IMAGE);
	CHECK_INT(parse("{\"data\":[{\"b64_json\":\"\",\"url\":\"\"}]}"), IMG_NO_IMAGE);
	CHECK_INT(parse("{\"data\":[{\"b64_json\":\"!!!not base64!!!\"}]}"), IMG_UPSTREAM_ERROR);
	CHECK(strstr(err.message, "base64") != NULL);
	CHECK_INT(parse("{\"data\":[{\"b64_json\":\"aGVsbG8gd29ybGQsIHRoaXMgaXMgdGV4dA==\"}]}"),
		  IMG_UPSTREAM_ERROR);
	CHECK(strstr(err.message, "not a PNG") != NULL);
	CHECK_INT(parse("{\"data\":[{\"url\":\"https://a\\u0000b\"}]}"), IMG_UPSTREAM_ERROR);
	CHECK_INT(parse("{\"data\":[{\"b64_json\":42}]}"), IMG_NO_IMAGE);
	CHECK_INT(
		parse("{\"error\":{\"message\":\"engine overloaded\",\"type\":\"server_error\"}}"),
		IMG_UPSTREAM_ERROR);
	CHECK(strstr(err.message, "engine overloaded") != NULL);

	/* In place: the body buffer itself is parsed. */
	openai_answer_free(&ans);
	buf_reset(&body);
	buf_printf(&body, "{\"data\":[{\"b64_json\":\"%s\"}]}", png);
	CHECK_INT(openai_parse_answer_inplace(body.data, body.len, &ans, &err), IMG_OK);
	CHECK(ans.b64 >= body.data && ans.b64 < body.data + body.len);
	openai_answer_free(&ans);
	buf_free(&body);
	free(png);
	free(jpg);
}

/* --- errors --------------------------------------------------------------- */

static struct upstream_fault fault;

static void perr(int http, const char *body, const char *headers)
{
	openai_parse_error(http, body, strlen(body), headers, &fault);
}

TEST(error_envelopes)
{
	perr(401,
	     "{\"error\":{\"message\":\"Incorrect API key provided: sk-abc***xyz. You can "
	     "find your API key at https://platform.openai.com/account/api-keys.\","
	     "\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"invalid_api_key\"}}",
	     "");
	CHECK_INT(fault.kind, FAULT_KEY_REJECTED);
	CHECK_STR(fault.reason, "invalid_api_key");
	CHECK(strstr(fault.message, "sk-") == NULL); /* never echo the key */

	perr(429,
	     "{\"error\":{\"code\":\"rate_limit_exceeded\",\"message\":\"Rate limit exceeded for "
	     "images per minute\",\"param\":null,\"type\":\"requests\"}}",
	     "x-ratelimit-limit-requests: 5\r\nx-ratelimit-remaining-requests: 0\r\n"
	     "x-ratelimit-reset-requests: 12s\r\nx-ratelimit-reset-tokens: 6m0s\r\n");
	CHECK_INT(fault.kind, FAULT_BY_STATUS);
	CHECK_STR(fault.reason, "rate_limit_exceeded");
	CHECK_STR(fault.status, "requests");
	CHECK(fault.retry_delay > 11.99 && fault.retry_delay < 12.01);
	/* retry-after-ms, then Retry-After, win over the reset headers. */
	perr(429, "{}", "Retry-After: 7\r\nx-ratelimit-reset-requests: 12s\r\n");
	CHECK(fault.retry_delay > 6.99 && fault.retry_delay < 7.01);
	perr(429, "{}", "retry-after-ms: 1500\r\nRetry-After: 7\r\n");
	CHECK(fault.retry_delay > 1.49 && fault.retry_delay < 1.51);
	/* Tokens used up: their reset counts. */
	perr(429, "{}",
	     "x-ratelimit-remaining-requests: 4\r\nx-ratelimit-reset-requests: 1s\r\n"
	     "x-ratelimit-remaining-tokens: 0\r\nx-ratelimit-reset-tokens: 1m30s\r\n");
	CHECK(fault.retry_delay > 89.99 && fault.retry_delay < 90.01);
	/* No clue which is used up: the later reset. */
	perr(429, "{}", "x-ratelimit-reset-requests: 2s\r\nx-ratelimit-reset-tokens: 20ms\r\n");
	CHECK(fault.retry_delay > 1.99 && fault.retry_delay < 2.01);
	perr(429, "{}", "");
	CHECK(fault.retry_delay < 0);
	perr(429, "{}", "Retry-After: Wed, 21 Oct 2015 07:28:00 GMT\r\n");
	CHECK(fault.retry_delay < 0);

	perr(429,
	     "{\"error\":{\"message\":\"You exceeded your current quota, please check your plan "
	     "and billing details.\",\"type\":\"insufficient_quota\",\"param\":null,"
	     "\"code\":\"insufficient_quota\"}}",
	     "");
	CHECK_INT(fault.kind, FAULT_OUT_OF_CREDIT);
	perr(400,
	     "{\"error\":{\"message\":\"Billing hard limit has been reached\",\"type\":"
	     "\"invalid_request_error\",\"param\":null,\"code\":\"billing_hard_limit_reached\"}}",
	     "");
	CHECK_INT(fault.kind, FAULT_OUT_OF_CREDIT);

	perr(400,
	     "{\"error\":{\"code\":\"content_policy_violation\",\"message\":\"Your request was "
	     "rejected as a result of our safety system.\",\"param\":null,\"type\":"
	     "\"invalid_request_error\"}}",
	     "");
	CHECK_INT(fault.kind, FAULT_SAFETY);
	CHECK(strstr(fault.message, "safety system") != NULL);
	perr(400,
	     "{\"error\":{\"message\":\"Rejected by the safety system.\",\"type\":"
	     "\"image_generation_user_error\",\"param\":null,\"code\":\"moderation_blocked\"}}",
	     "");
	CHECK_INT(fault.kind, FAULT_SAFETY);
	perr(400,
	     "{\"error\":{\"message\":\"x\",\"type\":\"content_policy_violation\",\"code\":null}}",
	     "");
	CHECK_INT(fault.kind, FAULT_SAFETY);
	CHECK_STR(fault.reason, "");

	perr(400,
	     "{\"error\":{\"code\":null,\"message\":\"'1024x1025' is not one of ['256x256'] - "
	     "'size'\",\"param\":null,\"type\":\"invalid_request_error\"}}",
	     "");
	CHECK_INT(fault.kind, FAULT_BY_STATUS);
	CHECK(strstr(fault.message, "is not one of") != NULL);

	perr(403,
	     "{\"error\":{\"message\":\"Your organization must be verified\",\"type\":"
	     "\"invalid_request_error\",\"code\":null}}",
	     "");
	CHECK_INT(fault.kind, FAULT_DENIED);
	perr(500, "{\"error\":{\"message\":\"The server had an error\",\"type\":\"server_error\"}}",
	     "");
	CHECK_INT(fault.kind, FAULT_BY_STATUS);
	CHECK_STR(fault.status, "server_error");
	perr(502, "<html>bad gateway</html>", "");
	CHECK_INT(fault.kind, FAULT_BY_STATUS);
	CHECK_STR(fault.message, "");
	perr(401, "not json", NULL);
	CHECK_INT(fault.kind, FAULT_KEY_REJECTED);
}

TEST(reset_durations)
{
	CHECK(openai_parse_reset("1s") == 1);
	CHECK(openai_parse_reset("6m0s") == 360);
	CHECK(fabs(openai_parse_reset("20ms") - 0.02) < 1e-9);
	CHECK(fabs(openai_parse_reset("1h2m3.5s") - 3723.5) < 1e-9);
	CHECK(openai_parse_reset("") < 0);
	CHECK(openai_parse_reset("12") < 0);
	CHECK(openai_parse_reset("s") < 0);
	CHECK(openai_parse_reset("-1s") < 0);
	CHECK(openai_parse_reset("1x") < 0);
	CHECK(openai_parse_reset("infs") < 0);

	char v[16];
	CHECK_INT(upstream_header("A: 1\r\nRetry-After:  30 \r\n", "retry-after", v, sizeof v), 0);
	CHECK_STR(v, "30");
	CHECK_INT(upstream_header("x-retry-after: 5\r\n", "retry-after", v, sizeof v), -1);
	CHECK_STR(v, "");
	CHECK_INT(upstream_header("", "retry-after", v, sizeof v), -1);
}

int main(void)
{
	setup();
	RUN(families_and_ratios);
	RUN(size_mapping);
	RUN(quality_and_style);
	RUN(generation_bodies);
	RUN(urls);
	RUN(edit_body_one_image);
	RUN(edit_body_several_images);
	RUN(generation_request_headers);
	RUN(field_checks);
	RUN(answers);
	RUN(error_envelopes);
	RUN(reset_durations);
	plan_free(&plan);
	openai_answer_free(&ans);
	UNIT_DONE();
}
