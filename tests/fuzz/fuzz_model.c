/* libFuzzer target for model ids and sizes (core/model.c): model_resolve,
 * model_parse_size and the ratio helpers on arbitrary text, with and without
 * a Gemini upstream configured.  Resolved specs must be self-consistent. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct config cfg;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!cfg.data_dir) {
		struct buf errs = BUF_INIT, warns = BUF_INIT;
		setenv("IMAGEGW_CONFIG", "/dev/null", 1);
		config_load(&cfg, &errs, &warns);
		buf_free(&errs);
		buf_free(&warns);
	}
	if (size > 512)
		return 0;
	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	for (int gemini = 0; gemini < 2; gemini++) {
		cfg.gemini_configured = gemini;
		struct model_spec m;
		if (model_resolve(&cfg, s, &m) == 0) {
			if (!m.ratios || !m.ratios[0] || !memchr(m.id, '\0', sizeof m.id))
				abort();
			if (m.aspect_ratio[0] && !model_ratio_canon(m.aspect_ratio, m.ratios))
				abort();
		}
		model_is_family(s);
	}
	long w = 0, h = 0;
	if (model_parse_size(s, &w, &h) == 0) {
		if (w <= 0 || h <= 0)
			abort();
		if (!model_nearest_ratio((double)w, (double)h, model_pro_ratios))
			abort();
	}
	const char *c = model_ratio_canon(s, model_pro_ratios);
	int rw, rh;
	if (c && model_ratio_dims(c, &rw, &rh) != 0)
		abort();
	free(s);
	return 0;
}
