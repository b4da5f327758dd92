/* Unit tests for core/plan.c: the "first that applies" precedence of SPEC 3.2
 * (resolution) and 3.3 (aspect ratio), nearest supported ratio, 1K-only
 * models, safety precedence (3.5), revised prompt (3.4) and prompt_hash. */
#include "../../core/plan.c"

#include <openssl/sha.h>

#include "hash.h"
#include "unit.h"

static struct config cfg;

static void setup(void)
{
	memset(&cfg, 0, sizeof cfg);
	cfg.gemini_configured = 1;
	cfg.gemini_pro_image_model = (char *)"gemini-3-pro-image-preview";
	cfg.default_model = (char *)"";
	cfg.default_image_size = (char *)"2K";
	cfg.safety_threshold = (char *)"OFF";
}

/* A minimal valid request, as genreq_parse_json leaves it. */
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

/* Builds the plan and returns its image_size ("" on failure). */
static char got_size[8], got_ratio[8];
static int got_send;

static enum img_err build(const struct config *c, const struct gen_req *r, double first)
{
	struct gen_plan p;
	struct img_error e;
	enum img_err rc = plan_build(c, r, first, &p, &e);

	snprintf(got_size, sizeof got_size, "%s", rc == IMG_OK ? p.image_size : "");
	snprintf(got_ratio, sizeof got_ratio, "%s", rc == IMG_OK ? p.aspect_ratio : "");
	got_send = rc == IMG_OK ? p.send_image_size : -1;
	plan_free(&p);
	return rc;
}

static const char *size_of(struct gen_req r)
{
	if (build(&cfg, &r, 0) != IMG_OK)
		return "(error)";
	return got_size;
}

static const char *ratio_of(struct gen_req r, double first)
{
	if (build(&cfg, &r, first) != IMG_OK)
		return "(error)";
	return got_ratio;
}

TEST(image_size_field_first)
{
	struct gen_req r = req("gemini-3-pro-image-4k");

	r.image_size = (char *)"1K";
	r.quality = (char *)"hd";
	r.size = (char *)"4096x4096";
	CHECK_STR(size_of(r), "1K");
	CHECK_INT(got_send, 1);
	r.image_size = (char *)"4K";
	r.model = (char *)"gemini-3-pro-image-1k";
	r.quality = (char *)"low";
	r.size = (char *)"512x512";
	CHECK_STR(size_of(r), "4K");
}

TEST(suffix_beats_quality_and_size)
{
	struct gen_req r = req("gemini-3-pro-image-4k");

	r.quality = (char *)"low";
	r.size = (char *)"512x512";
	CHECK_STR(size_of(r), "4K");
	r.model = (char *)"gemini-3-pro-image-1k-16x9";
	r.quality = (char *)"hd";
	r.size = (char *)"4096x2304";
	CHECK_STR(size_of(r), "1K");
	r.model = (char *)"gemini-3-pro-image-2k";
	r.quality = NULL;
	CHECK_STR(size_of(r), "2K");
}

TEST(quality_tiers)
{
	struct gen_req r = req("gemini-3-pro-image");

	r.size = (char *)"512x512"; /* quality beats size */
	r.quality = (char *)"hd";
	CHECK_STR(size_of(r), "4K");
	r.quality = (char *)"high";
	CHECK_STR(size_of(r), "4K");
	r.quality = (char *)"standard";
	CHECK_STR(size_of(r), "2K");
	r.quality = (char *)"medium";
	CHECK_STR(size_of(r), "2K");
	r.size = (char *)"4096x4096";
	r.quality = (char *)"low";
	CHECK_STR(size_of(r), "1K");
	/* auto is not applied: the size decides. */
	r.quality = (char *)"auto";
	CHECK_STR(size_of(r), "4K");
	r.size = NULL;
	CHECK_STR(size_of(r), "2K"); /* then the config default */
}

TEST(size_long_edge)
{
	struct gen_req r = req("gemini-3-pro-image");

	r.size = (char *)"2049x100";
	CHECK_STR(size_of(r), "4K");
	r.size = (char *)"100x3000";
	CHECK_STR(size_of(r), "4K");
	r.size = (char *)"2048x2048";
	CHECK_STR(size_of(r), "2K");
	r.size = (char *)"1025x1";
	CHECK_STR(size_of(r), "2K");
	r.size = (char *)"1792x1024";
	CHECK_STR(size_of(r), "2K");
	r.size = (char *)"1024x1024";
	CHECK_STR(size_of(r), "1K");
	r.size = (char *)"256X256";
	CHECK_STR(size_of(r), "1K");
	/* A W:H size says nothing about resolution: the config default applies. */
	cfg.default_image_size = (char *)"1K";
	r.size = (char *)"16:9";
	CHECK_STR(size_of(r), "1K");
	r.size = (char *)"4096:4096";
	CHECK_STR(size_of(r), "1K");
	r.size = (char *)"auto";
	CHECK_STR(size_of(r), "1K");
	cfg.default_image_size = (char *)"4K";
	r.size = NULL;
	CHECK_STR(size_of(r), "4K");
	cfg.default_image_size = (char *)"2K";
	CHECK_STR(size_of(r), "2K");
}

TEST(one_k_only_models)
{
	struct gen_req r = req("gemini-2.5-flash-image");

	r.image_size = (char *)"4K";
	CHECK_STR(size_of(r), "1K");
	CHECK_INT(got_send, 0);
	r.image_size = NULL;
	r.quality = (char *)"hd";
	CHECK_STR(size_of(r), "1K");
	CHECK_INT(got_send, 0);
	r.model = (char *)"gemini-3.1-flash-image-preview";
	CHECK_STR(size_of(r), "4K");
	CHECK_INT(got_send, 1);
	r.model = (char *)"gemini-3-pro-image";
	r.quality = NULL;
	CHECK_STR(size_of(r), "2K");
	CHECK_INT(got_send, 1);
}

TEST(aspect_precedence)
{
	struct gen_req r = req("gemini-3-pro-image-16x9");

	/* 1. the field beats the suffix, the size and the first image. */
	r.aspect_ratio = (char *)"9:16";
	r.size = (char *)"1024x1024";
	CHECK_STR(ratio_of(r, 1.5), "9:16");
	/* 2. the suffix beats the size and the first image. */
	r.aspect_ratio = NULL;
	r.size = (char *)"1024x1792";
	CHECK_STR(ratio_of(r, 0.75), "16:9");
	/* 3. the size beats the first image. */
	r.model = (char *)"gemini-3-pro-image";
	CHECK_STR(ratio_of(r, 1.5), "9:16");
	r.size = (char *)"4:3";
	CHECK_STR(ratio_of(r, 0.5), "4:3");
	/* auto is not applied: 4. the first image's ratio, nearest. */
	r.size = (char *)"auto";
	CHECK_STR(ratio_of(r, 1.5), "3:2");
	r.size = NULL;
	CHECK_STR(ratio_of(r, 768.0 / 1024.0), "3:4");
	CHECK_STR(ratio_of(r, 2.4), "21:9");
	/* 5. 1:1 */
	CHECK_STR(ratio_of(r, 0), "1:1");
	r.size = (char *)"auto";
	CHECK_STR(ratio_of(r, 0), "1:1");
}

TEST(aspect_from_size)
{
	struct gen_req r = req("gemini-3-pro-image");

	r.size = (char *)"1792x1024";
	CHECK_STR(ratio_of(r, 0), "16:9");
	r.size = (char *)"1536x1024";
	CHECK_STR(ratio_of(r, 0), "3:2");
	r.size = (char *)"2048x1024";
	CHECK_STR(ratio_of(r, 0), "16:9");
	r.size = (char *)"1024x1792";
	CHECK_STR(ratio_of(r, 0), "9:16");
	r.size = (char *)"1000x1000";
	CHECK_STR(ratio_of(r, 0), "1:1");
	r.size = (char *)"2560x1080";
	CHECK_STR(ratio_of(r, 0), "21:9");
	r.size = (char *)"16:9";
	CHECK_STR(ratio_of(r, 0), "16:9");
}

TEST(aspect_nearest_supported)
{
	struct gen_req r = req("gemini-3-pro-image");

	r.aspect_ratio = (char *)"7:3";
	CHECK_STR(ratio_of(r, 0), "21:9");
	r.aspect_ratio = (char *)"16x9";
	CHECK_STR(ratio_of(r, 0), "16:9");
	r.aspect_ratio = (char *)"1:4";
	CHECK_STR(ratio_of(r, 0), "9:16");
	r.aspect_ratio = (char *)"8:1";
	CHECK_STR(ratio_of(r, 0), "21:9");
	/* The same ratios are native on gemini-3.1-flash-image-preview. */
	r.model = (char *)"gemini-3.1-flash-image-preview";
	r.aspect_ratio = (char *)"1:4";
	CHECK_STR(ratio_of(r, 0), "1:4");
	r.aspect_ratio = (char *)"8:1";
	CHECK_STR(ratio_of(r, 0), "8:1");
	r.aspect_ratio = NULL;
	r.size = (char *)"4096x1024";
	CHECK_STR(ratio_of(r, 0), "4:1");
	/* On the Pro model the same size lands on its widest ratio. */
	r.model = (char *)"gemini-3-pro-image";
	CHECK_STR(ratio_of(r, 0), "21:9");
	/* Local models use the Pro set. */
	r.model = (char *)"local-preview-21x9";
	r.size = NULL;
	CHECK_STR(ratio_of(r, 0), "21:9");
}

TEST(model_errors)
{
	struct gen_req r = req("no-such-model");
	struct gen_plan p;
	struct img_error e;
	struct config off = cfg;

	CHECK_INT(plan_build(&cfg, &r, 0, &p, &e), IMG_UNKNOWN_MODEL);
	CHECK_STR(e.param, "model");
	CHECK(strstr(e.message, "no-such-model") != NULL);
	plan_free(&p);
	r.model = (char *)"gemini-3-pro-image-8k";
	CHECK_INT(plan_build(&cfg, &r, 0, &p, &e), IMG_UNKNOWN_MODEL);
	plan_free(&p);

	off.gemini_configured = 0;
	r.model = (char *)"gemini-3-pro-image-4k";
	CHECK_INT(plan_build(&off, &r, 0, &p, &e), IMG_UNKNOWN_MODEL);
	CHECK_STR(e.param, "model");
	CHECK(strstr(e.message, "key") != NULL);
	plan_free(&p);

	/* No model named: the configured default. */
	r.model = NULL;
	CHECK_INT(plan_build(&off, &r, 0, &p, &e), IMG_OK);
	CHECK_STR(p.model.family, "local-preview");
	plan_free(&p);
	CHECK_INT(plan_build(&cfg, &r, 0, &p, &e), IMG_OK);
	CHECK_STR(p.model.family, "gemini-3-pro-image");
	CHECK_STR(p.model.upstream, "gemini-3-pro-image-preview");
	plan_free(&p);
	off.default_model = (char *)"local-preview-9x16";
	CHECK_INT(plan_build(&off, &r, 0, &p, &e), IMG_OK);
	CHECK_STR(p.aspect_ratio, "9:16");
	plan_free(&p);
}

static enum safety_level safety_of(const struct config *c, int req_level)
{
	struct gen_req r = req("gemini-3-pro-image");
	struct gen_plan p;
	struct img_error e;

	r.safety = req_level;
	if (plan_build(c, &r, 0, &p, &e) != IMG_OK)
		return (enum safety_level)99;
	plan_free(&p);
	return p.safety;
}

TEST(safety_precedence)
{
	struct config c = cfg;

	c.safety_threshold = (char *)"LOW";
	CHECK_INT(safety_of(&c, SAFETY_HIGH), SAFETY_HIGH);
	CHECK_INT(safety_of(&c, SAFETY_OFF), SAFETY_OFF);
	CHECK_INT(safety_of(&c, -1), SAFETY_LOW);
	c.safety_threshold = (char *)"MEDIUM";
	CHECK_INT(safety_of(&c, -1), SAFETY_MEDIUM);
	c.safety_threshold = (char *)"high";
	CHECK_INT(safety_of(&c, -1), SAFETY_HIGH);
	CHECK_INT(safety_of(&c, SAFETY_LOW), SAFETY_LOW);
	c.safety_threshold = (char *)"OFF";
	CHECK_INT(safety_of(&c, -1), SAFETY_OFF);
	/* Neither valid: OFF. */
	c.safety_threshold = (char *)"bogus";
	CHECK_INT(safety_of(&c, -1), SAFETY_OFF);
	c.safety_threshold = (char *)"";
	CHECK_INT(safety_of(&c, -1), SAFETY_OFF);
}

TEST(revised_prompt_and_copies)
{
	struct gen_req r = req("gemini-3-pro-image");
	struct gen_plan p;
	struct img_error e;
	struct buf want = BUF_INIT;

	r.quality = (char *)"hd";
	r.style = (char *)"vivid";
	r.n = 3;
	CHECK_INT(plan_build(&cfg, &r, 0, &p, &e), IMG_OK);
	prompt_revise(&want, r.prompt, "hd", "vivid");
	CHECK_STR(p.revised_prompt, buf_cstr(&want));
	CHECK(strncmp(p.revised_prompt, "a red fox in the snow. ", 23) == 0);
	CHECK(strstr(p.revised_prompt, "highly detailed") != NULL);
	CHECK(strstr(p.revised_prompt, "vivid") != NULL);
	CHECK_INT(p.n, 3);
	CHECK_STR(p.quality, "hd");
	CHECK_STR(p.style, "vivid");
	plan_free(&p);
	CHECK(p.revised_prompt == NULL);
	plan_free(&p); /* twice is harmless */
	buf_free(&want);

	r.quality = (char *)"standard";
	r.style = NULL;
	CHECK_INT(plan_build(&cfg, &r, 0, &p, &e), IMG_OK);
	CHECK_STR(p.revised_prompt, "a red fox in the snow");
	CHECK_STR(p.style, "");
	plan_free(&p);
}

TEST(prompt_hash)
{
	struct gen_req r = req("local-preview");
	struct gen_plan p;
	struct img_error e;
	unsigned char d[SHA256_DIGEST_LENGTH];
	char want[17];

	r.prompt = (char *)"abc"; /* FIPS 180-2 test vector */
	CHECK_INT(plan_build(&cfg, &r, 0, &p, &e), IMG_OK);
	CHECK_STR(p.prompt_hash, "ba7816bf8f01cfea");
	plan_free(&p);

	/* The hash is of the client's prompt, not the revised one. */
	r.prompt = (char *)"a lighthouse at dusk, \xc3\xa9t\xc3\xa9";
	r.quality = (char *)"hd";
	CHECK_INT(plan_build(&cfg, &r, 0, &p, &e), IMG_OK);
	SHA256((const unsigned char *)r.prompt, strlen(r.prompt), d);
	for (int i = 0; i < 8; i++)
		snprintf(want + 2 * i, 3, "%02x", d[i]);
	CHECK_STR(p.prompt_hash, want);
	CHECK_INT(strlen(p.prompt_hash), 16);
	plan_free(&p);
}

int main(void)
{
	setup();
	RUN(image_size_field_first);
	RUN(suffix_beats_quality_and_size);
	RUN(quality_tiers);
	RUN(size_long_edge);
	RUN(one_k_only_models);
	RUN(aspect_precedence);
	RUN(aspect_from_size);
	RUN(aspect_nearest_supported);
	RUN(model_errors);
	RUN(safety_precedence);
	RUN(revised_prompt_and_copies);
	RUN(prompt_hash);
	UNIT_DONE();
}
