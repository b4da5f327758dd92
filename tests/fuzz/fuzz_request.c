/* libFuzzer target for request parsing (core/genreq.c) and planning
 * (core/plan.c, core/model.c): any body, read as JSON or as an edit's form
 * fields, gives IMG_OK with a complete plan or a 4xx error naming a field,
 * never a crash or a leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "genreq.h"
#include "model.h"
#include "plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct config cfg;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!cfg.data_dir) {
		struct buf errs = BUF_INIT, warns = BUF_INIT;
		setenv("IMAGEGW_GEMINI_API_KEY", "fuzz", 1);
		setenv("IMAGEGW_CONFIG", "/dev/null", 1);
		config_load(&cfg, &errs, &warns);
		buf_free(&errs);
		buf_free(&warns);
	}
	struct gen_req r;
	struct img_error e;
	if (genreq_parse_json(&cfg, (const char *)data, size, &r, &e) == IMG_OK) {
		struct gen_plan p;
		if (plan_build(&cfg, &r, 0, &p, &e) == IMG_OK) {
			if (!p.aspect_ratio[0] || !p.image_size[0] || !p.revised_prompt)
				abort();
		} else if (err_info(e.code)->http != 400) {
			abort();
		}
		plan_free(&p);
	} else if (err_info(e.code)->http >= 500) {
		abort();
	}
	genreq_free(&r);

	/* The same bytes as an edit's form: lines "name=value", each value its
	 * own bytes (NULs and bad UTF-8 included), and a first-image ratio from
	 * two of the bytes: IMG_OK with a plan, or a 400 naming a field. */
	struct genreq_field f[16];
	size_t nf = 0, at = 0;
	while (at < size && nf < 16) {
		const uint8_t *nl = memchr(data + at, '\n', size - at);
		size_t end = nl ? (size_t)(nl - data) : size;
		const uint8_t *eq = memchr(data + at, '=', end - at);
		if (eq) {
			static char names[16][32];
			size_t kl = (size_t)(eq - (data + at));
			if (kl >= sizeof names[0])
				kl = sizeof names[0] - 1;
			memcpy(names[nf], data + at, kl);
			names[nf][kl] = '\0';
			f[nf].name = names[nf];
			f[nf].value = (const char *)eq + 1;
			f[nf].len = end - (size_t)(eq + 1 - data);
			nf++;
		}
		at = end + 1;
	}
	if (genreq_parse_form(&cfg, f, nf, &r, &e) == IMG_OK) {
		struct gen_plan p;
		double ratio = size > 1 ? (data[0] + 1.0) / (data[1] + 1.0) : 0;
		if (plan_build(&cfg, &r, ratio, &p, &e) == IMG_OK) {
			if (!p.aspect_ratio[0] || !p.image_size[0] || !p.revised_prompt)
				abort();
		} else if (err_info(e.code)->http != 400) {
			abort();
		}
		plan_free(&p);
	} else if (err_info(e.code)->http != 400 || (!e.param[0] && e.code != IMG_OK)) {
		abort(); /* a form's fields are always named */
	}
	genreq_free(&r);

	/* The body's first line as a model id and a size. */
	char id[128];
	size_t n = size < sizeof id - 1 ? size : sizeof id - 1;
	memcpy(id, data, n);
	id[n] = '\0';
	id[strcspn(id, "\n")] = '\0';
	struct model_spec m;
	if (model_resolve(&cfg, id, &m) == 0 && !m.family[0])
		abort();
	long w, h;
	if (model_parse_size(id, &w, &h) == 0 && (w <= 0 || h <= 0))
		abort();
	return 0;
}
