/* Model variants.  The gemini-3-pro-image family is one upstream model asked
 * for under 21 advertised names (resolution x ratio suffixes); parsing is
 * wider than the advertised list (either order, N-M spelling, -1k). */
#include "model.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "config.h"
#include "json.h"
#include "openai.h"

const char *const model_pro_ratios[] = {"1:1", "2:3",  "3:2",  "3:4",  "4:3", "4:5",
					"5:4", "9:16", "16:9", "21:9", NULL};
static const char *const flash31_ratios[] = {"1:1", "2:3", "3:2",  "3:4",  "4:3",
					     "4:5", "5:4", "9:16", "16:9", "21:9",
					     "1:4", "4:1", "1:8",  "8:1",  NULL};

/* 1K pixel sizes of Gemini 3 Pro Image (reference table). */
/* One row per line reads better here than the formatter's layout. */
/* clang-format off */
static const struct {
	const char *ratio;
	int w, h;
} ratio_dims[] = {
	{"1:1", 1024, 1024}, {"2:3", 848, 1264}, {"3:2", 1264, 848}, {"3:4", 896, 1200},
	{"4:3", 1200, 896},  {"4:5", 928, 1152}, {"5:4", 1152, 928}, {"9:16", 768, 1376},
	{"16:9", 1376, 768}, {"21:9", 1584, 672}, {"1:4", 512, 2048}, {"4:1", 2048, 512},
	{"1:8", 384, 3072},  {"8:1", 3072, 384},
};
/* clang-format on */

/* Advertised suffixes, in /v1/models order. */
static const char *const adv_sizes[] = {"", "-2k", "-4k"};
static const char *const adv_ratios[] = {"", "-1x1", "-4x3", "-3x4", "-16x9", "-9x16", "-21x9"};

#define PRO_FAMILY   "gemini-3-pro-image"
#define LOCAL_FAMILY "local-preview"

/* Gemini models passed through by name. */
static const struct {
	const char *id;
	const char *const *ratios;
	int sizes;
} passthrough[] = {
	{"gemini-2.5-flash-image", model_pro_ratios, 1},
	{"gemini-2.5-flash-image-preview", model_pro_ratios, 1},
	{"gemini-3.1-flash-image-preview", flash31_ratios, 7},
	{"gemini-3-pro-image-preview", model_pro_ratios, 7},
};

const char *model_ratio_canon(const char *s, const char *const *ratios)
{
	for (int i = 0; ratios[i]; i++)
		if (strcmp(ratios[i], s) == 0)
			return ratios[i];
	return NULL;
}

int model_ratio_dims(const char *ratio, int *w, int *h)
{
	for (size_t i = 0; i < sizeof ratio_dims / sizeof ratio_dims[0]; i++)
		if (strcmp(ratio_dims[i].ratio, ratio) == 0) {
			*w = ratio_dims[i].w;
			*h = ratio_dims[i].h;
			return 0;
		}
	return -1;
}

static int parse_uint(const char **p, long *out)
{
	const char *s = *p;
	long v = 0;
	if (!isdigit((unsigned char)*s))
		return -1;
	while (isdigit((unsigned char)*s)) {
		v = v * 10 + (*s - '0');
		if (v > 1000000)
			return -1;
		s++;
	}
	*p = s;
	*out = v;
	return 0;
}

int model_parse_size(const char *s, long *w, long *h)
{
	const char *p = s;
	if (parse_uint(&p, w) != 0 || (*p != 'x' && *p != 'X' && *p != ':'))
		return -1;
	p++;
	if (parse_uint(&p, h) != 0 || *p != '\0')
		return -1;
	return (*w > 0 && *h > 0) ? 0 : -1;
}

const char *model_nearest_ratio(double w, double h, const char *const *ratios)
{
	double want = log(w / h), best = INFINITY;
	const char *pick = ratios[0];
	for (int i = 0; ratios[i]; i++) {
		long rw, rh;
		if (model_parse_size(ratios[i], &rw, &rh) != 0)
			continue;
		double d = fabs(log((double)rw / (double)rh) - want);
		if (d < best - 1e-12) {
			best = d;
			pick = ratios[i];
		}
	}
	return pick;
}

/* Parses the suffix tokens after the family name: "-4k", "-16x9", "-16-9",
 * in any order, each kind at most once. */
static int parse_suffixes(const char *p, struct model_spec *m)
{
	while (*p) {
		if (*p != '-')
			return -1;
		p++;
		long a, b;
		if (parse_uint(&p, &a) != 0)
			return -1;
		if (*p == 'k' && (p[1] == '\0' || p[1] == '-')) {
			if (m->image_size[0] || (a != 1 && a != 2 && a != 4))
				return -1;
			snprintf(m->image_size, sizeof m->image_size, "%ldK", a);
			p++;
			continue;
		}
		if (*p != 'x' && *p != '-')
			return -1;
		p++;
		if (parse_uint(&p, &b) != 0 || m->aspect_ratio[0])
			return -1;
		char r[24];
		snprintf(r, sizeof r, "%ld:%ld", a, b);
		const char *canon = model_ratio_canon(r, model_pro_ratios);
		if (!canon)
			return -1;
		snprintf(m->aspect_ratio, sizeof m->aspect_ratio, "%s", canon);
	}
	return 0;
}

/* Models of the openai provider; openai_models adds more. */
static const char *const openai_builtin[] = {"dall-e-2", "dall-e-3", "gpt-image-1", NULL};

/* The n-th (0-based) id of openai_models, trimmed, into out; 0, or -1 past
 * the end.  Ids too long for a model id are skipped. */
static int openai_extra(const struct config *cfg, int n, char *out, size_t len)
{
	const char *p = cfg->openai_models ? cfg->openai_models : "";
	for (int i = 0;;) {
		while (*p == ' ' || *p == ',' || *p == '\t')
			p++;
		if (!*p)
			return -1;
		size_t l = strcspn(p, ", \t");
		if (l < len) {
			if (i == n) {
				memcpy(out, p, l);
				out[l] = '\0';
				return 0;
			}
			i++;
		}
		p += l;
	}
}

/* Fills out for an openai model id (already lower-cased in out->id); 0, -1
 * when it is not one, -2 when no OpenAI key is configured. */
static int resolve_openai(const struct config *cfg, struct model_spec *out)
{
	const char *upstream = NULL;
	char extra[96];
	for (int i = 0; openai_builtin[i] && !upstream; i++)
		if (strcmp(out->id, openai_builtin[i]) == 0)
			upstream = openai_builtin[i];
	for (int i = 0; !upstream && openai_extra(cfg, i, extra, sizeof extra) == 0; i++)
		if (strcasecmp(out->id, extra) == 0)
			upstream = extra; /* sent as the operator spelled it */
	if (!upstream)
		return -1;
	out->provider = PROVIDER_OPENAI;
	if (!cfg->openai_configured)
		return -2;
	snprintf(out->family, sizeof out->family, "%s", out->id);
	snprintf(out->upstream, sizeof out->upstream, "%s", upstream);
	out->ratios = openai_ratios(out->upstream);
	out->sizes = 1;
	return 0;
}

const char *model_provider_name(enum provider p)
{
	switch (p) {
	case PROVIDER_GEMINI: return "gemini";
	case PROVIDER_OPENAI: return "openai";
	default: return "local";
	}
}

int model_resolve(const struct config *cfg, const char *id, struct model_spec *out)
{
	memset(out, 0, sizeof *out);
	size_t n = strlen(id);
	if (n == 0 || n >= sizeof out->id)
		return -1;
	for (size_t i = 0; i < n; i++)
		out->id[i] = (char)tolower((unsigned char)id[i]);
	out->ratios = model_pro_ratios;
	out->sizes = 7;

	for (size_t i = 0; i < sizeof passthrough / sizeof passthrough[0]; i++) {
		if (strcmp(out->id, passthrough[i].id) != 0)
			continue;
		if (!cfg->gemini_configured)
			return -2;
		out->provider = PROVIDER_GEMINI;
		snprintf(out->family, sizeof out->family, "%s", out->id);
		snprintf(out->upstream, sizeof out->upstream, "%s", out->id);
		out->ratios = passthrough[i].ratios;
		out->sizes = passthrough[i].sizes;
		return 0;
	}
	size_t pl = strlen(PRO_FAMILY), ll = strlen(LOCAL_FAMILY);
	if (strncmp(out->id, PRO_FAMILY, pl) == 0 && (out->id[pl] == '\0' || out->id[pl] == '-')) {
		if (parse_suffixes(out->id + pl, out) != 0)
			return -1;
		if (!cfg->gemini_configured)
			return -2;
		out->provider = PROVIDER_GEMINI;
		snprintf(out->family, sizeof out->family, "%s", PRO_FAMILY);
		snprintf(out->upstream, sizeof out->upstream, "%s", cfg->gemini_pro_image_model);
		return 0;
	}
	if (strncmp(out->id, LOCAL_FAMILY, ll) == 0 &&
	    (out->id[ll] == '\0' || out->id[ll] == '-')) {
		if (parse_suffixes(out->id + ll, out) != 0)
			return -1;
		out->provider = PROVIDER_LOCAL;
		snprintf(out->family, sizeof out->family, "%s", LOCAL_FAMILY);
		return 0;
	}
	return resolve_openai(cfg, out);
}

int model_is_family(const char *id)
{
	return strcmp(id, PRO_FAMILY) == 0 || strcmp(id, LOCAL_FAMILY) == 0;
}

const char *model_default(const struct config *cfg)
{
	if (cfg->default_model[0])
		return cfg->default_model;
	return cfg->gemini_configured	? PRO_FAMILY
	       : cfg->openai_configured ? "gpt-image-1"
					: LOCAL_FAMILY;
}

static void list_entry(struct buf *out, int *first, const char *id, const char *owner, long created)
{
	buf_puts(out, *first ? "" : ",");
	*first = 0;
	buf_puts(out, "{\"id\":");
	json_put_cstr(out, id);
	buf_printf(out, ",\"object\":\"model\",\"created\":%ld,\"owned_by\":", created);
	json_put_cstr(out, owner);
	buf_putc(out, '}');
}

void model_list_json(const struct config *cfg, struct buf *out)
{
	/* A fixed creation date keeps the list stable between calls and processes. */
	const long created = 1767225600; /* 2026-01-01 */
	int first = 1;
	char id[96];
	buf_puts(out, "{\"object\":\"list\",\"data\":[");
	if (cfg->gemini_configured) {
		for (size_t s = 0; s < 3; s++)
			for (size_t r = 0; r < 7; r++) {
				snprintf(id, sizeof id, "%s%s%s", PRO_FAMILY, adv_sizes[s],
					 adv_ratios[r]);
				list_entry(out, &first, id, "google", created);
			}
		list_entry(out, &first, "gemini-2.5-flash-image", "google", created);
		list_entry(out, &first, "gemini-3.1-flash-image-preview", "google", created);
	}
	if (cfg->openai_configured) {
		for (int i = 0; openai_builtin[i]; i++)
			list_entry(out, &first, openai_builtin[i], "openai", created);
		/* Extra ids, each once, unless they repeat a built-in one. */
		char extra[96], other[96];
		for (int i = 0; openai_extra(cfg, i, extra, sizeof extra) == 0; i++) {
			int dup = 0;
			for (int j = 0; openai_builtin[j]; j++)
				dup |= strcasecmp(extra, openai_builtin[j]) == 0;
			for (int j = 0; j < i && openai_extra(cfg, j, other, sizeof other) == 0;
			     j++)
				dup |= strcasecmp(extra, other) == 0;
			if (!dup)
				list_entry(out, &first, extra, "openai", created);
		}
	}
	for (size_t r = 0; r < 7; r++) {
		snprintf(id, sizeof id, "%s%s", LOCAL_FAMILY, adv_ratios[r]);
		list_entry(out, &first, id, "imagegw", created);
	}
	buf_puts(out, "]}");
}
