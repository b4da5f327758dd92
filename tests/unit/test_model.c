/* Unit tests for core/model.c: the 21 advertised gemini-3-pro-image ids and
 * the wider accepted spellings (SPEC 3.1), pass-through and local models,
 * size parsing, nearest-ratio choice (3.3) and the /v1/models list (2.3). */
#include "../../core/model.c"

#include "unit.h"

static struct config cfg_on, cfg_off;

/* Only the fields model.c reads: gemini_configured, gemini_pro_image_model,
 * default_model. */
static void setup(void)
{
	memset(&cfg_on, 0, sizeof cfg_on);
	cfg_on.gemini_configured = 1;
	cfg_on.gemini_pro_image_model = (char *)"gemini-3-pro-image-preview";
	cfg_on.default_model = (char *)"";
	cfg_off = cfg_on;
	cfg_off.gemini_configured = 0;
}

/* 1 when id resolves to the Pro family with the given suffix values. */
static int pro_is(const char *id, const char *size, const char *ratio)
{
	struct model_spec m;
	int rc = model_resolve(&cfg_on, id, &m);

	if (rc != 0) {
		fprintf(stderr, "  %s: rc %d\n", id, rc);
		return 0;
	}
	if (m.provider != PROVIDER_GEMINI || strcmp(m.family, "gemini-3-pro-image") != 0 ||
	    strcmp(m.upstream, "gemini-3-pro-image-preview") != 0 ||
	    strcmp(m.image_size, size) != 0 || strcmp(m.aspect_ratio, ratio) != 0 ||
	    m.ratios != model_pro_ratios || m.sizes != 7) {
		fprintf(stderr, "  %s: family '%s' upstream '%s' size '%s' ratio '%s' sizes %d\n",
			id, m.family, m.upstream, m.image_size, m.aspect_ratio, m.sizes);
		return 0;
	}
	return 1;
}

static int rejected(const char *id)
{
	struct model_spec m;
	int rc = model_resolve(&cfg_on, id, &m);

	if (rc != -1)
		fprintf(stderr, "  %s: rc %d, want -1\n", id, rc);
	return rc == -1;
}

TEST(advertised_21)
{
	static const struct {
		const char *suffix, *size;
	} sizes[] = {{"", ""}, {"-2k", "2K"}, {"-4k", "4K"}};
	static const struct {
		const char *suffix, *ratio;
	} ratios[] = {{"", ""},		 {"-1x1", "1:1"},   {"-4x3", "4:3"},  {"-3x4", "3:4"},
		      {"-16x9", "16:9"}, {"-9x16", "9:16"}, {"-21x9", "21:9"}};
	int count = 0;
	char id[96];

	for (size_t s = 0; s < 3; s++)
		for (size_t r = 0; r < 7; r++) {
			snprintf(id, sizeof id, "gemini-3-pro-image%s%s", sizes[s].suffix,
				 ratios[r].suffix);
			CHECK(pro_is(id, sizes[s].size, ratios[r].ratio));
			count++;
		}
	CHECK_INT(count, 21);
}

TEST(accepted_spellings)
{
	CHECK(pro_is("gemini-3-pro-image-16x9-4k", "4K", "16:9"));
	CHECK(pro_is("gemini-3-pro-image-9x16-2k", "2K", "9:16"));
	CHECK(pro_is("gemini-3-pro-image-16-9", "", "16:9"));
	CHECK(pro_is("gemini-3-pro-image-4k-16-9", "4K", "16:9"));
	CHECK(pro_is("gemini-3-pro-image-21-9-2k", "2K", "21:9"));
	CHECK(pro_is("gemini-3-pro-image-1k", "1K", ""));
	CHECK(pro_is("gemini-3-pro-image-1k-1x1", "1K", "1:1"));
	CHECK(pro_is("gemini-3-pro-image-3x2", "", "3:2"));
	CHECK(pro_is("gemini-3-pro-image-2x3", "", "2:3"));
	CHECK(pro_is("gemini-3-pro-image-5x4", "", "5:4"));
	CHECK(pro_is("gemini-3-pro-image-4x5", "", "4:5"));
	CHECK(pro_is("gemini-3-pro-image-4k-5-4", "4K", "5:4"));
}

TEST(uppercase_lowered)
{
	struct model_spec m;

	CHECK(pro_is("GEMINI-3-PRO-IMAGE-4K-16X9", "4K", "16:9"));
	CHECK(pro_is("Gemini-3-Pro-Image-2K", "2K", ""));
	CHECK_INT(model_resolve(&cfg_on, "Gemini-3-Pro-Image-4K-16x9", &m), 0);
	CHECK_STR(m.id, "gemini-3-pro-image-4k-16x9");
}

TEST(rejected_ids)
{
	CHECK(rejected("gemini-3-pro-image-8k"));
	CHECK(rejected("gemini-3-pro-image-3k"));
	CHECK(rejected("gemini-3-pro-image-0k"));
	CHECK(rejected("gemini-3-pro-image-7x3"));
	CHECK(rejected("gemini-3-pro-image-16x10"));
	CHECK(rejected("gemini-3-pro-image-4k-2k"));
	CHECK(rejected("gemini-3-pro-image-16x9-9x16"));
	CHECK(rejected("gemini-3-pro-image-16x9-4-3"));
	CHECK(rejected("gemini-3-pro-image-"));
	CHECK(rejected("gemini-3-pro-image-4k-"));
	CHECK(rejected("gemini-3-pro-image--4k"));
	CHECK(rejected("gemini-3-pro-image-4kx"));
	CHECK(rejected("gemini-3-pro-image-16x"));
	CHECK(rejected("gemini-3-pro-image-x9"));
	CHECK(rejected("gemini-3-pro-image-hd"));
	CHECK(rejected("gemini-3-pro-images"));
	CHECK(rejected("gemini-3-pro-image4k"));
	CHECK(rejected("gemini-3-pro"));
	CHECK(rejected(""));
	CHECK(rejected("dall-e-4"));
	CHECK(rejected("local-preview-7x3"));
	CHECK(rejected("local-previewx"));
	/* Longer than the id buffer. */
	char longid[200];
	memset(longid, 'a', sizeof longid - 1);
	longid[sizeof longid - 1] = '\0';
	CHECK(rejected(longid));
}

TEST(passthrough)
{
	struct model_spec m;

	CHECK_INT(model_resolve(&cfg_on, "gemini-2.5-flash-image", &m), 0);
	CHECK_INT(m.provider, PROVIDER_GEMINI);
	CHECK_STR(m.upstream, "gemini-2.5-flash-image");
	CHECK_STR(m.family, "gemini-2.5-flash-image");
	CHECK_INT(m.sizes, 1);
	CHECK_STR(m.image_size, "");
	CHECK_STR(m.aspect_ratio, "");
	CHECK(model_ratio_canon("16:9", m.ratios) != NULL);

	CHECK_INT(model_resolve(&cfg_on, "gemini-3.1-flash-image-preview", &m), 0);
	CHECK_INT(m.provider, PROVIDER_GEMINI);
	CHECK_STR(m.upstream, "gemini-3.1-flash-image-preview");
	CHECK_INT(m.sizes, 7);
	/* Ratios beyond the Pro set. */
	CHECK(model_ratio_canon("1:4", m.ratios) != NULL);
	CHECK(model_ratio_canon("4:1", m.ratios) != NULL);
	CHECK(model_ratio_canon("1:8", m.ratios) != NULL);
	CHECK(model_ratio_canon("8:1", m.ratios) != NULL);
	CHECK(model_ratio_canon("21:9", m.ratios) != NULL);
	CHECK(model_ratio_canon("1:4", model_pro_ratios) == NULL);

	CHECK_INT(model_resolve(&cfg_on, "GEMINI-2.5-FLASH-IMAGE", &m), 0);
	CHECK_STR(m.upstream, "gemini-2.5-flash-image");
	/* Pass-through ids take no suffixes. */
	CHECK(rejected("gemini-2.5-flash-image-4k"));
	CHECK(rejected("gemini-3.1-flash-image-preview-16x9"));
}

TEST(no_gemini_key)
{
	struct model_spec m;

	CHECK_INT(model_resolve(&cfg_off, "gemini-3-pro-image", &m), -2);
	CHECK_INT(model_resolve(&cfg_off, "gemini-3-pro-image-4k-16x9", &m), -2);
	CHECK_INT(model_resolve(&cfg_off, "gemini-2.5-flash-image", &m), -2);
	CHECK_INT(model_resolve(&cfg_off, "gemini-3.1-flash-image-preview", &m), -2);
	/* A malformed id is unknown whether or not a key is configured. */
	CHECK_INT(model_resolve(&cfg_off, "gemini-3-pro-image-8k", &m), -1);
	CHECK_INT(model_resolve(&cfg_off, "nonsense", &m), -1);
	/* Local models need no key. */
	CHECK_INT(model_resolve(&cfg_off, "local-preview", &m), 0);
}

/* A configuration with an OpenAI key and two extra ids (one repeating a
 * built-in id, in another case). */
static struct config openai_cfg(int gemini, int openai)
{
	struct config c = cfg_on;
	c.gemini_configured = gemini;
	c.openai_configured = openai;
	c.openai_models = (char *)" gpt-image-1-mini, DALL-E-3 ,Flux-Schnell,,";
	return c;
}

TEST(openai_models)
{
	struct model_spec m;
	struct config on = openai_cfg(0, 1), off = openai_cfg(1, 0);

	CHECK_INT(model_resolve(&on, "dall-e-3", &m), 0);
	CHECK_INT(m.provider, PROVIDER_OPENAI);
	CHECK_STR(m.family, "dall-e-3");
	CHECK_STR(m.upstream, "dall-e-3");
	CHECK_STR(m.ratios[1], "7:4");
	CHECK_INT(model_resolve(&on, "GPT-Image-1", &m), 0);
	CHECK_STR(m.id, "gpt-image-1");
	CHECK_STR(m.upstream, "gpt-image-1");
	CHECK_INT(model_resolve(&on, "dall-e-2", &m), 0);
	CHECK_STR(m.ratios[0], "1:1");
	CHECK(m.ratios[1] == NULL);
	/* Extra ids resolve case-insensitively and go upstream as configured. */
	CHECK_INT(model_resolve(&on, "flux-schnell", &m), 0);
	CHECK_INT(m.provider, PROVIDER_OPENAI);
	CHECK_STR(m.upstream, "Flux-Schnell");
	CHECK_STR(m.family, "flux-schnell");
	CHECK_INT(model_resolve(&on, "gpt-image-1-mini", &m), 0);
	CHECK_INT(model_resolve(&on, "gpt-image-2", &m), -1);
	CHECK_INT(model_resolve(&on, "flux", &m), -1);
	/* Without an OpenAI key they are "needs a key", like Gemini without one;
	 * the provider is named for the message. */
	CHECK_INT(model_resolve(&off, "dall-e-3", &m), -2);
	CHECK_INT(m.provider, PROVIDER_OPENAI);
	CHECK_INT(model_resolve(&off, "flux-schnell", &m), -2);
	CHECK_INT(model_resolve(&off, "dall-e-9", &m), -1);
	/* No openai_models at all (NULL in a zeroed config) is fine. */
	struct config bare = cfg_on;
	bare.openai_configured = 1;
	CHECK_INT(model_resolve(&bare, "gpt-image-1", &m), 0);
	CHECK_INT(model_resolve(&bare, "flux-schnell", &m), -1);
	CHECK_STR(model_provider_name(PROVIDER_OPENAI), "openai");
	CHECK_STR(model_provider_name(PROVIDER_GEMINI), "gemini");
	CHECK_STR(model_provider_name(PROVIDER_LOCAL), "local");
}

TEST(local_models)
{
	struct model_spec m;

	CHECK_INT(model_resolve(&cfg_on, "local-preview", &m), 0);
	CHECK_INT(m.provider, PROVIDER_LOCAL);
	CHECK_STR(m.family, "local-preview");
	CHECK_STR(m.upstream, "");
	CHECK_STR(m.aspect_ratio, "");
	CHECK_INT(model_resolve(&cfg_off, "local-preview-16x9", &m), 0);
	CHECK_INT(m.provider, PROVIDER_LOCAL);
	CHECK_STR(m.family, "local-preview");
	CHECK_STR(m.aspect_ratio, "16:9");
	CHECK_INT(model_resolve(&cfg_off, "Local-Preview-9-16", &m), 0);
	CHECK_STR(m.aspect_ratio, "9:16");
	CHECK_STR(m.id, "local-preview-9-16");
}

TEST(default_model)
{
	struct config c = cfg_on;

	CHECK_STR(model_default(&cfg_on), "gemini-3-pro-image");
	CHECK_STR(model_default(&cfg_off), "local-preview");
	/* Only OpenAI configured: its GPT image model. */
	struct config oa = openai_cfg(0, 1);
	CHECK_STR(model_default(&oa), "gpt-image-1");
	oa.gemini_configured = 1;
	CHECK_STR(model_default(&oa), "gemini-3-pro-image");
	c.default_model = (char *)"gemini-3-pro-image-4k";
	CHECK_STR(model_default(&c), "gemini-3-pro-image-4k");
}

static int size_is(const char *s, long w, long h)
{
	long gw = -7, gh = -7;

	if (model_parse_size(s, &gw, &gh) != 0 || gw != w || gh != h) {
		fprintf(stderr, "  %s: got %ldx%ld\n", s, gw, gh);
		return 0;
	}
	return 1;
}

static int size_bad(const char *s)
{
	long w, h;

	return model_parse_size(s, &w, &h) == -1;
}

TEST(parse_size)
{
	CHECK(size_is("1024x1024", 1024, 1024));
	CHECK(size_is("1792x1024", 1792, 1024));
	CHECK(size_is("16:9", 16, 9));
	CHECK(size_is("1024X768", 1024, 768));
	CHECK(size_is("1x1", 1, 1));
	CHECK(size_bad("0x1024"));
	CHECK(size_bad("1024x0"));
	CHECK(size_bad("0:0"));
	CHECK(size_bad("-1x5"));
	CHECK(size_bad("5x-1"));
	CHECK(size_bad("+5x5"));
	CHECK(size_bad(""));
	CHECK(size_bad("x"));
	CHECK(size_bad("1024"));
	CHECK(size_bad("1024x"));
	CHECK(size_bad("x1024"));
	CHECK(size_bad("1024*1024"));
	CHECK(size_bad("1024 x 1024"));
	CHECK(size_bad(" 1024x1024"));
	CHECK(size_bad("1024x1024 "));
	CHECK(size_bad("1024x1024x3"));
	CHECK(size_bad("10.5x3"));
	CHECK(size_bad("auto"));
	CHECK(size_bad("big"));
	CHECK(size_bad("16:9:1"));
	/* Overflow and absurd values. */
	CHECK(size_bad("99999999999999999999999x1"));
	CHECK(size_bad("1x99999999999999999999999"));
	CHECK(size_bad("9223372036854775808x1"));
	CHECK(size_bad("1000001x1"));
}

TEST(nearest_ratio)
{
	CHECK_STR(model_nearest_ratio(1792, 1024, model_pro_ratios), "16:9");
	CHECK_STR(model_nearest_ratio(1536, 1024, model_pro_ratios), "3:2");
	CHECK_STR(model_nearest_ratio(2048, 1024, model_pro_ratios), "16:9");
	CHECK_STR(model_nearest_ratio(1024, 1792, model_pro_ratios), "9:16");
	CHECK_STR(model_nearest_ratio(1000, 1000, model_pro_ratios), "1:1");
	CHECK_STR(model_nearest_ratio(2560, 1080, model_pro_ratios), "21:9");
	CHECK_STR(model_nearest_ratio(7, 3, model_pro_ratios), "21:9");
	CHECK_STR(model_nearest_ratio(1024, 768, model_pro_ratios), "4:3");
	CHECK_STR(model_nearest_ratio(768, 1024, model_pro_ratios), "3:4");
	CHECK_STR(model_nearest_ratio(16, 9, model_pro_ratios), "16:9");
	/* Extremes land on the widest/tallest supported ratio. */
	CHECK_STR(model_nearest_ratio(100, 1, model_pro_ratios), "21:9");
	CHECK_STR(model_nearest_ratio(1, 100, model_pro_ratios), "9:16");
	CHECK_STR(model_nearest_ratio(8, 1, flash31_ratios), "8:1");
	CHECK_STR(model_nearest_ratio(1, 4, flash31_ratios), "1:4");
}

TEST(ratio_helpers)
{
	int w = 0, h = 0;

	CHECK_STR(model_ratio_canon("16:9", model_pro_ratios), "16:9");
	CHECK(model_ratio_canon("16x9", model_pro_ratios) == NULL);
	CHECK(model_ratio_canon("7:3", model_pro_ratios) == NULL);
	CHECK_INT(model_ratio_dims("1:1", &w, &h), 0);
	CHECK(w == 1024 && h == 1024);
	CHECK_INT(model_ratio_dims("16:9", &w, &h), 0);
	CHECK(w == 1376 && h == 768);
	CHECK_INT(model_ratio_dims("7:3", &w, &h), -1);
	/* Every Pro ratio has dimensions that match its ratio roughly. */
	for (int i = 0; model_pro_ratios[i]; i++) {
		CHECK_INT(model_ratio_dims(model_pro_ratios[i], &w, &h), 0);
		CHECK_STR(model_nearest_ratio(w, h, model_pro_ratios), model_pro_ratios[i]);
	}
}

/* Counts ids in the parsed list; checks the OpenAI shape of every entry. */
static int list_count(const struct config *c, int *pro, int *local, int *other)
{
	struct buf b = BUF_INIT;
	struct json_error je;
	struct json *j;
	int ok = 1;

	*pro = *local = *other = 0;
	model_list_json(c, &b);
	j = json_parse(b.data, b.len, &je);
	if (!j) {
		fprintf(stderr, "  list not JSON: %s\n", je.msg);
		buf_free(&b);
		return 0;
	}
	const char *obj = json_get_str(j, "object");
	const struct json *data = json_get(j, "data");
	if (!obj || strcmp(obj, "list") != 0 || !data || data->type != JSON_ARRAY)
		ok = 0;
	for (const struct json *it = data ? data->child : NULL; it; it = it->next) {
		const char *id = json_get_str(it, "id");
		const char *o = json_get_str(it, "object");
		const struct json *created = json_get(it, "created");
		const char *owner = json_get_str(it, "owned_by");
		struct model_spec m;

		if (!id || !o || strcmp(o, "model") != 0 || !created ||
		    created->type != JSON_NUMBER || !owner) {
			ok = 0;
			continue;
		}
		/* Every listed id resolves under this configuration. */
		if (model_resolve(c, id, &m) != 0) {
			fprintf(stderr, "  listed id %s does not resolve\n", id);
			ok = 0;
		}
		if (strncmp(id, "gemini-3-pro-image", 18) == 0)
			(*pro)++;
		else if (strncmp(id, "local-preview", 13) == 0)
			(*local)++;
		else
			(*other)++;
	}
	json_free(j);
	buf_free(&b);
	return ok;
}

TEST(list_json)
{
	int pro, local, other;

	CHECK(list_count(&cfg_on, &pro, &local, &other));
	CHECK_INT(pro, 21);
	CHECK_INT(local, 7);
	CHECK_INT(other, 2);
	CHECK(list_count(&cfg_off, &pro, &local, &other));
	CHECK_INT(pro, 0);
	CHECK_INT(local, 7);
	CHECK_INT(other, 0);
	/* OpenAI configured: three built-in ids and the two new extra ones
	 * (DALL-E-3 repeats a built-in id and is listed once). */
	struct config oa = openai_cfg(0, 1);
	CHECK(list_count(&oa, &pro, &local, &other));
	CHECK_INT(pro, 0);
	CHECK_INT(other, 5);
	struct buf ob = BUF_INIT;
	model_list_json(&oa, &ob);
	CHECK(strstr(buf_cstr(&ob), "{\"id\":\"dall-e-3\",\"object\":\"model\""));
	CHECK(strstr(buf_cstr(&ob), "\"id\":\"Flux-Schnell\""));
	CHECK(strstr(buf_cstr(&ob), "\"owned_by\":\"openai\""));
	CHECK(strstr(buf_cstr(&ob), "DALL-E-3") == NULL);
	buf_free(&ob);
	oa.openai_configured = 0;
	CHECK(list_count(&oa, &pro, &local, &other));
	CHECK_INT(other, 0);

	/* The advertised ids appear by name. */
	struct buf b = BUF_INIT;
	model_list_json(&cfg_on, &b);
	CHECK(strstr(buf_cstr(&b), "\"gemini-3-pro-image-4k-16x9\""));
	CHECK(strstr(buf_cstr(&b), "\"gemini-3-pro-image\""));
	CHECK(strstr(buf_cstr(&b), "\"gemini-2.5-flash-image\""));
	CHECK(strstr(buf_cstr(&b), "\"gemini-3.1-flash-image-preview\""));
	CHECK(strstr(buf_cstr(&b), "\"local-preview\""));
	CHECK(strstr(buf_cstr(&b), "\"local-preview-16x9\""));
	buf_free(&b);
}

int main(void)
{
	setup();
	RUN(advertised_21);
	RUN(accepted_spellings);
	RUN(uppercase_lowered);
	RUN(rejected_ids);
	RUN(passthrough);
	RUN(no_gemini_key);
	RUN(openai_models);
	RUN(local_models);
	RUN(default_model);
	RUN(parse_size);
	RUN(nearest_ratio);
	RUN(ratio_helpers);
	RUN(list_json);
	UNIT_DONE();
}
