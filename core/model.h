/* Model ids and how they map to providers, upstream models, resolution and
 * aspect-ratio suffixes (SPEC section 3.1), plus the ratio tables shared by
 * the precedence rules (3.3) and the renderer. */
#ifndef IMAGEGW_MODEL_H
#define IMAGEGW_MODEL_H

#include "buf.h"

struct config;

enum provider { PROVIDER_LOCAL, PROVIDER_GEMINI, PROVIDER_OPENAI };

struct model_spec {
	enum provider provider;
	char id[96];		   /* the id as asked for, lower-cased */
	char family[96];	   /* "gemini-3-pro-image", "local-preview", or the id */
	char upstream[128];	   /* upstream model id ("" for local) */
	char image_size[4];	   /* from a suffix: "1K", "2K", "4K" or "" */
	char aspect_ratio[8];	   /* from a suffix: "16:9" or "" */
	const char *const *ratios; /* ratios this model supports, NULL-terminated */
	int sizes;		   /* bit mask of supported image sizes: 1=1K 2=2K 4=4K */
};

/* Resolves a model id.  Returns 0, -1 for an unknown id, or -2 for a model
 * whose provider has no key configured (out->provider then names it). */
int model_resolve(const struct config *cfg, const char *id, struct model_spec *out);
/* "local", "gemini" or "openai": the provider's name in logs, the cache key
 * and the key pool. */
const char *model_provider_name(enum provider p);
/* 1 when id names a family whose variants carry suffixes
 * (gemini-3-pro-image, local-preview). */
int model_is_family(const char *id);
/* The default model id for this configuration (never NULL). */
const char *model_default(const struct config *cfg);
/* Appends the OpenAI list shape {"object":"list","data":[...]} of every
 * model this configuration can serve. */
void model_list_json(const struct config *cfg, struct buf *out);
/* Parses "W:H" or "WxH" (positive integers).  Returns 0 or -1. */
int model_parse_size(const char *s, long *w, long *h);
/* The ratio in `ratios` nearest to w/h in log-ratio. */
const char *model_nearest_ratio(double w, double h, const char *const *ratios);
/* Canonical spelling of a supported ratio string ("16:9"), or NULL. */
const char *model_ratio_canon(const char *s, const char *const *ratios);
/* Pixel size of a ratio at 1K on Gemini 3 Pro Image (SPEC uses it for the
 * local renderer); 0 on success, -1 for an unknown ratio. */
int model_ratio_dims(const char *ratio, int *w, int *h);

/* The ratio set of the Gemini 3 Pro Image family and of everything local. */
extern const char *const model_pro_ratios[];

#endif
