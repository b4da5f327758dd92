/* POST /v1/prompts/enhance (SPEC 2.5): parse the body, run the content
 * filter, enhance the prompt (a Gemini text model or the offline rewrite) and
 * render {"prompt", "enhanced_prompt", "model", "fallback"}.  An upstream
 * failure is a 200 with "fallback": true, never an error. */
#include <stdio.h>

#include "enhance.h"
#include "filter.h"
#include "hash.h"
#include "json.h"
#include "route.h"

static void note_result(struct ctx *c, const struct enhance_result *res)
{
	struct req_log *l = &c->log;
	snprintf(l->model, sizeof l->model, "%s", res->model);
	l->provider = res->provider;
	snprintf(l->account, sizeof l->account, "%s", res->account);
	l->generation_ms = res->duration_ms;
	l->upstream_status = res->upstream_status;
	snprintf(l->finish_reason, sizeof l->finish_reason, "%s", res->err.finish_reason);
}

enum img_err prompts_enhance(struct ctx *c)
{
	struct enhance_req r;
	struct enhance_result res = {0};
	enum img_err rc =
		enhance_parse_json(&c->app->cfg, c->rq->body.data, c->rq->body.len, &r, &c->err);
	if (rc != IMG_OK)
		goto out;
	hash_prompt16(r.prompt, c->log.prompt_hash);
	/* The filter runs before any upstream call, as for generations. */
	char matched[FILTER_MATCHED_MAX];
	if (filter_check(&c->app->cfg, r.prompt, matched, sizeof matched)) {
		rc = err_set(&c->err, IMG_CONTENT_FILTERED, "prompt",
			     "The prompt contains \"%s\", which this gateway does not accept.",
			     matched);
		goto out;
	}
	enhance_prompt(&c->app->cfg, c->app->db, r.prompt, r.model, c->rq->request_id, &res);
	note_result(c, &res);
	struct buf *b = &c->rp->body;
	buf_puts(b, "{\"prompt\":");
	json_put_cstr(b, r.prompt);
	buf_puts(b, ",\"enhanced_prompt\":");
	json_put_str(b, buf_cstr(&res.text), res.text.len);
	buf_puts(b, ",\"model\":");
	json_put_cstr(b, res.model);
	buf_printf(b, ",\"fallback\":%s}\n", res.fallback ? "true" : "false");
	reply_header(c->rp, "Cache-Control", "no-store");
out:
	enhance_result_free(&res);
	enhance_req_free(&r);
	return rc;
}
