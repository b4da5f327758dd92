/* From a validated request to what is asked of the upstream: the resolved
 * model, resolution (SPEC 3.2), aspect ratio (3.3), revised prompt (3.4) and
 * safety threshold (3.5). */
#ifndef IMAGEGW_PLAN_H
#define IMAGEGW_PLAN_H

#include "err.h"
#include "genreq.h"
#include "model.h"
#include "safety.h"

struct gen_plan {
	struct model_spec model;
	char image_size[4];	/* "1K", "2K" or "4K": what we report */
	int send_image_size;	/* 0 for models that take no imageSize */
	char aspect_ratio[8];	/* always set, e.g. "16:9" ("auto" when an openai model picks) */
	char upstream_size[12]; /* openai: the size sent, "1792x1024" or "auto"; else "" */
	char *revised_prompt;	/* owned; free with plan_free */
	char prompt_hash[17];	/* first 16 hex of SHA-256 of the client's prompt */
	enum safety_level safety;
	int n;
	char quality[16]; /* the request's choice, "" when none (copied: a plan */
	char style[16];	  /* outlives its request until fresh images are stored) */
};

/* Builds the plan.  Returns IMG_OK, IMG_UNKNOWN_MODEL, IMG_INVALID_REQUEST,
 * or IMG_INVALID_PROMPT (an openai model's field checks, core/openai.c; the
 * plan then keeps its model and prompt for the log).  first_image_ratio (w/h
 * of the first input image, edits only) may be 0.  Free p with plan_free in
 * every case. */
enum img_err plan_build(const struct config *cfg, const struct gen_req *r, double first_image_ratio,
			struct gen_plan *p, struct img_error *e);
void plan_free(struct gen_plan *p);

#endif
