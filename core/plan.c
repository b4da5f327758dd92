/* The precedence rules, each a "first that applies" list exactly as SPEC 3.2
 * and 3.3 give them. */
#include "plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "hash.h"
#include "openai.h"
#include "prompt.h"
#include "safety.h"

/* SPEC 3.2: image_size field, model suffix, quality, size's long edge, config. */
static void pick_image_size(const struct config *cfg, const struct gen_req *r, struct gen_plan *p)
{
	const char *pick = NULL;
	long w, h;
	if (r->image_size)
		pick = r->image_size;
	else if (p->model.image_size[0])
		pick = p->model.image_size;
	if (!pick && r->quality) {
		if (!strcmp(r->quality, "hd") || !strcmp(r->quality, "high"))
			pick = "4K";
		else if (!strcmp(r->quality, "standard") || !strcmp(r->quality, "medium"))
			pick = "2K";
		else if (!strcmp(r->quality, "low"))
			pick = "1K";
	}
	if (!pick && r->size && strchr(r->size, ':') == NULL &&
	    model_parse_size(r->size, &w, &h) == 0) {
		long edge = w > h ? w : h;
		pick = edge > 2048 ? "4K" : edge > 1024 ? "2K" : "1K";
	}
	if (!pick)
		pick = cfg->default_image_size;
	snprintf(p->image_size, sizeof p->image_size, "%s", pick);
	p->send_image_size = 1;
	if (p->model.sizes == 1) { /* 1K-only models take no imageSize at all */
		snprintf(p->image_size, sizeof p->image_size, "1K");
		p->send_image_size = 0;
	}
}

/* SPEC 3.3: aspect_ratio field, model suffix, size, first input image, 1:1;
 * then the nearest ratio the model supports. */
static void pick_aspect_ratio(const struct gen_req *r, double first_image_ratio, struct gen_plan *p)
{
	long w = 0, h = 0;
	const char *pick = NULL;
	if (r->aspect_ratio && model_parse_size(r->aspect_ratio, &w, &h) == 0) {
		pick = model_ratio_canon(r->aspect_ratio, p->model.ratios);
		if (!pick)
			pick = model_nearest_ratio((double)w, (double)h, p->model.ratios);
	} else if (p->model.aspect_ratio[0]) {
		pick = model_ratio_canon(p->model.aspect_ratio, p->model.ratios);
		if (!pick && model_parse_size(p->model.aspect_ratio, &w, &h) == 0)
			pick = model_nearest_ratio((double)w, (double)h, p->model.ratios);
	} else if (r->size && model_parse_size(r->size, &w, &h) == 0) {
		pick = model_nearest_ratio((double)w, (double)h, p->model.ratios);
	} else if (first_image_ratio > 0) {
		pick = model_nearest_ratio(first_image_ratio, 1.0, p->model.ratios);
	}
	if (!pick)
		pick = model_ratio_canon("1:1", p->model.ratios) ? "1:1" : p->model.ratios[0];
	snprintf(p->aspect_ratio, sizeof p->aspect_ratio, "%s", pick);
}

enum img_err plan_build(const struct config *cfg, const struct gen_req *r, double first_image_ratio,
			struct gen_plan *p, struct img_error *e)
{
	memset(p, 0, sizeof *p);
	const char *id = r->model ? r->model : model_default(cfg);
	int rc = model_resolve(cfg, id, &p->model);
	if (rc == -2)
		return err_set(e, IMG_UNKNOWN_MODEL, "model",
			       "The model '%.80s' needs %s API key, and this gateway has "
			       "none configured.",
			       id, p->model.provider == PROVIDER_OPENAI ? "an OpenAI" : "a Gemini");
	if (rc != 0)
		return err_set(e, IMG_UNKNOWN_MODEL, "model", "The model '%.80s' does not exist.",
			       id);
	/* OpenAI models take one of a few fixed sizes, and quality or style as
	 * fields where they have them; only what they lack becomes a clause. */
	const char *quality = r->quality, *style = r->style;
	if (p->model.provider == PROVIDER_OPENAI) {
		openai_pick_size(r, first_image_ratio, p);
		if (openai_native_quality(p->model.upstream))
			quality = NULL;
		if (openai_native_style(p->model.upstream))
			style = NULL;
	} else {
		pick_image_size(cfg, r, p);
		pick_aspect_ratio(r, first_image_ratio, p);
	}

	struct buf b = BUF_INIT;
	prompt_revise(&b, r->prompt, quality, style);
	p->revised_prompt = buf_detach(&b, NULL);
	if (p->model.provider == PROVIDER_OPENAI && openai_check(p, r, e) != IMG_OK)
		return e->code;
	hash_prompt16(r->prompt, p->prompt_hash);
	p->safety = r->safety >= 0 ? (enum safety_level)r->safety
				   : (enum safety_level)safety_parse(cfg->safety_threshold);
	if ((int)p->safety < 0)
		p->safety = SAFETY_OFF;
	p->n = r->n;
	snprintf(p->quality, sizeof p->quality, "%s", r->quality ? r->quality : "");
	snprintf(p->style, sizeof p->style, "%s", r->style ? r->style : "");
	return IMG_OK;
}

void plan_free(struct gen_plan *p)
{
	free(p->revised_prompt);
	p->revised_prompt = NULL;
}
