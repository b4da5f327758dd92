/* POST /v1/images/generations (SPEC 2.1): parse, plan, generate, render the
 * OpenAI-shaped answer with the X-Imagegw-* headers. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "generate.h"
#include "genreq.h"
#include "json.h"
#include "plan.h"
#include "route.h"
#include "xalloc.h"

/* The resolved variant id for X-Imagegw-Model: family plus the resolution
 * and ratio actually used ("gemini-3-pro-image-4k-16x9"). */
static void variant_id(const struct gen_plan *p, char *out, size_t len)
{
	char ratio[8];
	snprintf(ratio, sizeof ratio, "%s", p->aspect_ratio);
	char *colon = strchr(ratio, ':');
	if (colon)
		*colon = 'x';
	if (strcmp(p->model.family, "gemini-3-pro-image") == 0)
		snprintf(out, len, "%s-%ck-%s", p->model.family, p->image_size[0], ratio);
	else if (strcmp(p->model.family, "local-preview") == 0)
		snprintf(out, len, "%s-%s", p->model.family, ratio);
	else
		snprintf(out, len, "%s", p->model.family);
}

static void note_plan(struct ctx *c, const struct gen_plan *p, const struct gen_req *r)
{
	struct req_log *l = &c->log;
	snprintf(l->model, sizeof l->model, "%s", p->model.id);
	snprintf(l->resolution, sizeof l->resolution, "%s", p->image_size);
	snprintf(l->aspect_ratio, sizeof l->aspect_ratio, "%s", p->aspect_ratio);
	snprintf(l->prompt_hash, sizeof l->prompt_hash, "%s", p->prompt_hash);
	l->provider = p->model.provider == PROVIDER_LOCAL ? "local" : "gemini";
	/* The request log is written after the gen_req is freed: point at
	 * static copies of the (already canonical) choice values. */
	static const char *const choices[] = {"standard", "hd",	   "low",     "medium", "high",
					      "auto",	  "vivid", "natural", NULL};
	l->quality = l->style = NULL;
	for (int i = 0; choices[i]; i++) {
		if (r->quality && strcmp(r->quality, choices[i]) == 0)
			l->quality = choices[i];
		if (r->style && strcmp(r->style, choices[i]) == 0)
			l->style = choices[i];
	}
	l->n = r->n;
	l->safety = safety_name(p->safety);
	if (r->user)
		snprintf(l->user, sizeof l->user, "%s", r->user);
}

static void render_images(struct ctx *c, const struct gen_plan *p, const struct gen_req *r,
			  const struct gen_result *res)
{
	struct buf *b = &c->rp->body;
	buf_printf(b, "{\"created\":%lld,\"data\":[", (long long)time(NULL));
	int first = 1;
	for (int i = 0; i < res->n; i++) {
		const struct gen_image *img = &res->images[i];
		if (img->err.code != IMG_OK)
			continue;
		buf_puts(b, first ? "{" : ",{");
		first = 0;
		if (r->response_url) {
			/* Until the cache serves signed file URLs, url mode answers
			 * with data: URIs (docs/api.md). */
			buf_printf(b, "\"url\":\"data:%s;base64,", img->mime);
		} else {
			buf_puts(b, "\"b64_json\":\"");
		}
		reply_body_ref(c->rp, img->b64, img->b64_len);
		buf_puts(b, "\",\"revised_prompt\":");
		json_put_cstr(b, p->revised_prompt);
		buf_putc(b, '}');
	}
	buf_printf(b, "],\"usage\":{\"images\":%d,\"cached\":0}", res->succeeded);
	if (res->succeeded < res->n) {
		buf_puts(b, ",\"errors\":[");
		first = 1;
		for (int i = 0; i < res->n; i++) {
			const struct img_error *e = &res->images[i].err;
			if (e->code == IMG_OK)
				continue;
			buf_printf(b, "%s{\"index\":%d,\"code\":", first ? "" : ",", i);
			first = 0;
			json_put_cstr(b, err_info(e->code)->code);
			buf_puts(b, ",\"message\":");
			json_put_cstr(b, e->message[0] ? e->message : err_info(e->code)->message);
			buf_putc(b, '}');
		}
		buf_putc(b, ']');
	}
	buf_puts(b, "}\n");
}

static void free_result(void *arg)
{
	generate_result_free(arg);
	free(arg);
}

enum img_err images_generations(struct ctx *c)
{
	struct gen_req r;
	struct gen_plan p;
	/* The images stay alive until the reply is sent (reply_body_ref). */
	struct gen_result *res = xcalloc(1, sizeof *res);
	memset(&p, 0, sizeof p);
	enum img_err rc =
		genreq_parse_json(&c->app->cfg, c->rq->body.data, c->rq->body.len, &r, &c->err);
	if (rc != IMG_OK)
		goto out;
	rc = plan_build(&c->app->cfg, &r, 0, &p, &c->err);
	if (rc != IMG_OK)
		goto out;
	note_plan(c, &p, &r);
	rc = generate_run(&c->app->cfg, &p, &r, c->rq->request_id, res, &c->err);
	c->log.provider = res->provider;
	snprintf(c->log.account, sizeof c->log.account, "%s", res->account);
	c->log.retry_count = res->retry_count;
	c->log.generation_ms = res->generation_ms;
	c->log.upstream_status = res->upstream_status;
	snprintf(c->log.finish_reason, sizeof c->log.finish_reason, "%s", res->finish_reason);
	c->log.images = res->succeeded;
	if (rc != IMG_OK)
		goto out;
	c->log.cache = r.no_store ? "bypass" : "miss";
	char variant[128];
	variant_id(&p, variant, sizeof variant);
	reply_header(c->rp, "X-Imagegw-Cache", "%s", c->log.cache);
	reply_header(c->rp, "X-Imagegw-Model", "%s", variant);
	reply_header(c->rp, "X-Imagegw-Aspect-Ratio", "%s", p.aspect_ratio);
	reply_header(c->rp, "X-Imagegw-Image-Size", "%s", p.image_size);
	reply_header(c->rp, "Cache-Control", "no-store");
	render_images(c, &p, &r, res);
	c->after_send = free_result;
	c->after_arg = res;
	res = NULL;
out:
	if (res)
		free_result(res);
	plan_free(&p);
	genreq_free(&r);
	return rc;
}
