/* POST /v1/jobs and GET /v1/jobs/{id} (SPEC 2.4): a prompt run on several
 * models at once, in the background.  The responder validates everything,
 * applies the content filter and the daily image budget (the rate limits ran
 * in route_dispatch), stores the job, starts its detached worker
 * (core/jobrun.c) and answers 202 at once. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "filter.h"
#include "genreq.h"
#include "hash.h"
#include "job.h"
#include "jobrun.h"
#include "json.h"
#include "links.h"
#include "log.h"
#include "owner.h"
#include "plan.h"
#include "route.h"
#include "safety.h"
#include "throttle.h"
#include "xalloc.h"

struct model_list {
	char **ids;
	int n;
};

static void model_list_free(struct model_list *m)
{
	for (int i = 0; i < m->n; i++)
		free(m->ids[i]);
	free(m->ids);
	memset(m, 0, sizeof *m);
}

/* Adds one id, lower-cased (as model ids are matched); a repeat is refused. */
static enum img_err add_model(struct ctx *c, struct model_list *m, const char *id, size_t len,
			      const char *param)
{
	if (len == 0 || len >= JOB_MODEL_MAX || strlen(id) != len)
		return err_set(&c->err, IMG_INVALID_REQUEST, param,
			       "'%s' must be a model id of 1 to %d characters.", param,
			       JOB_MODEL_MAX - 1);
	char *low = xstrndup(id, len);
	for (char *p = low; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	for (int i = 0; i < m->n; i++)
		if (strcmp(m->ids[i], low) == 0) {
			err_set(&c->err, IMG_INVALID_REQUEST, param,
				"'%.80s' is listed twice (models[%d] and %s); each model runs "
				"once per job.",
				low, i, param);
			free(low);
			return c->err.code;
		}
	m->ids = xrealloc(m->ids, (size_t)(m->n + 1) * sizeof *m->ids);
	m->ids[m->n++] = low;
	return IMG_OK;
}

/* The models a job runs: "models" (an array of ids), else "model" (one id),
 * else the configured job_models.  Each is checked as a generation's model
 * is (plan_build), with the error naming models[i]. */
static enum img_err parse_models(struct ctx *c, const struct gen_req *r, struct model_list *m)
{
	const struct config *cfg = &c->app->cfg;
	struct json_error je;
	struct json *root = json_parse(c->rq->body.data, c->rq->body.len, &je);
	const struct json *v = json_get(root, "models");
	enum img_err rc = IMG_OK;
	int from_config = 0;
	memset(m, 0, sizeof *m);
	if (v && v->type != JSON_NULL) {
		if (v->type != JSON_ARRAY) {
			rc = err_set(&c->err, IMG_INVALID_REQUEST, "models",
				     "'models' must be an array of model ids.");
			goto out;
		}
		if (v->count == 0 || v->count > (size_t)cfg->job_max_models) {
			rc = err_set(&c->err, IMG_INVALID_REQUEST, "models",
				     "'models' must list 1 to %d models; got %zu.",
				     cfg->job_max_models, v->count);
			goto out;
		}
		int i = 0;
		for (const struct json *it = v->child; it; it = it->next, i++) {
			char param[32];
			snprintf(param, sizeof param, "models[%d]", i);
			if (it->type != JSON_STRING) {
				rc = err_set(&c->err, IMG_INVALID_REQUEST, param,
					     "'%s' must be a string.", param);
				goto out;
			}
			if ((rc = add_model(c, m, it->str, it->str_len, param)) != IMG_OK)
				goto out;
		}
	} else if (r->model) {
		rc = add_model(c, m, r->model, strlen(r->model), "model");
		if (rc != IMG_OK)
			goto out;
	} else {
		from_config = 1;
		for (const char *p = cfg->job_models; *p;) {
			p += strspn(p, ", \t");
			size_t len = strcspn(p, ", \t");
			if (len && m->n < cfg->job_max_models &&
			    (rc = add_model(c, m, p, len, "models")) != IMG_OK)
				goto out;
			p += len;
		}
		if (m->n == 0) {
			rc = err_set(&c->err, IMG_INVALID_REQUEST, "models",
				     "'models' is required: this gateway sets no job_models.");
			goto out;
		}
	}
	/* Every model must resolve now, not fail later in the worker. */
	for (int i = 0; i < m->n; i++) {
		struct gen_req t = *r;
		struct gen_plan p;
		t.model = m->ids[i];
		if (plan_build(cfg, &t, 0, &p, &c->err) != IMG_OK) {
			if (from_config)
				snprintf(c->err.param, sizeof c->err.param, "models");
			else if (v && v->type == JSON_ARRAY)
				snprintf(c->err.param, sizeof c->err.param, "models[%d]", i);
			rc = c->err.code;
			goto out;
		}
		plan_free(&p);
	}
out:
	json_free(root);
	if (rc != IMG_OK)
		model_list_free(m);
	return rc;
}

/* The fields the worker parses again (genreq_parse_json), models aside. */
static void request_json(const struct gen_req *r, struct buf *out)
{
	buf_puts(out, "{\"prompt\":");
	json_put_cstr(out, r->prompt);
	const char *const names[] = {"size", "aspect_ratio", "image_size", "quality", "style"};
	const char *const vals[] = {r->size, r->aspect_ratio, r->image_size, r->quality, r->style};
	for (int i = 0; i < 5; i++) {
		if (!vals[i])
			continue;
		buf_printf(out, ",\"%s\":", names[i]);
		json_put_cstr(out, vals[i]);
	}
	if (r->safety >= 0) {
		buf_puts(out, ",\"safety_threshold\":");
		json_put_cstr(out, safety_name((enum safety_level)r->safety));
	}
	if (r->has_seed)
		buf_printf(out, ",\"seed\":%lld", r->seed);
	buf_putc(out, '}');
}

static void log_created(const struct ctx *c, const char *id, int nmodels, long pid)
{
	struct log_event ev;
	log_begin(&ev, LOG_INFO, "job");
	log_str(&ev, "request_id", c->rq->request_id);
	log_str(&ev, "job_id", id);
	log_str(&ev, "status", "queued");
	log_int(&ev, "models", nmodels);
	log_int(&ev, "worker_pid", pid);
	log_end(&ev);
}

enum img_err jobs_create(struct ctx *c)
{
	const struct config *cfg = &c->app->cfg;
	struct gen_req r;
	struct model_list m = {0};
	struct throttle_hold hold = {0};
	struct buf req = BUF_INIT;
	char id[JOB_ID_MAX] = "", owner[OWNER_MAX];
	enum img_err rc = genreq_parse_json(cfg, c->rq->body.data, c->rq->body.len, &r, &c->err);
	if (rc != IMG_OK)
		goto out;
	if (r.n != 1) {
		rc = err_set(&c->err, IMG_INVALID_REQUEST, "n",
			     "A job makes one image per model; 'n' must be 1 (or left out).");
		goto out;
	}
	if ((rc = parse_models(c, &r, &m)) != IMG_OK)
		goto out;
	hash_prompt16(r.prompt, c->log.prompt_hash);
	c->log.n = m.n;
	/* Nothing is stored before the filter and the budget have said yes. */
	char matched[FILTER_MATCHED_MAX];
	if (filter_check(cfg, r.prompt, matched, sizeof matched)) {
		rc = err_set(&c->err, IMG_CONTENT_FILTERED, "prompt",
			     "The prompt contains \"%s\", which this gateway does not accept.",
			     matched);
		goto out;
	}
	if (!c->app->db) {
		rc = err_set(&c->err, IMG_UNAVAILABLE, NULL,
			     "Jobs need the gateway's database, which is unavailable.");
		c->err.retry_after = 5;
		goto out;
	}
	r.safety = clientkey_safety(&c->client, r.safety, cfg->safety_threshold);
	c->log.safety =
		safety_name(r.safety >= 0 ? (enum safety_level)r.safety
					  : (enum safety_level)safety_parse(cfg->safety_threshold));
	/* One image per model from the key's daily budget; the worker gives
	 * back what the cache served or what failed. */
	if ((rc = throttle_images_reserve(c, m.n, &hold)) != IMG_OK)
		goto out;
	request_json(&r, &req);
	owner_of(c, owner);
	struct job_new jn = {owner,	  r.prompt, req.data, images_cache_mode(c, &r),
			     hold.key_id, hold.day, m.n,      m.ids};
	long now = (long)time(NULL);
	if (job_create(c->app->db, &jn, now, id) != 0) {
		rc = err_set(&c->err, IMG_UNAVAILABLE, NULL, "The job could not be stored.");
		c->err.retry_after = 2;
		goto out;
	}
	long pid = 0;
	if (jobrun_spawn(id, &pid) != 0) {
		log_msg(LOG_ERROR, "job %s: cannot start its worker: %s", id, strerror(errno));
		job_discard(cfg, c->app->db, id);
		rc = err_set(&c->err, IMG_UNAVAILABLE, NULL,
			     "The gateway could not start a worker for the job.");
		c->err.retry_after = 5;
		goto out;
	}
	hold.reserved = 0; /* the job's worker settles the budget now */
	log_created(c, id, m.n, pid);

	struct buf *b = &c->rp->body, url = BUF_INIT;
	c->rp->status = 202;
	links_base(c, &url);
	buf_printf(&url, "/v1/jobs/%s", id);
	reply_header(c->rp, "Location", "%s", url.data);
	reply_header(c->rp, "Cache-Control", "no-store");
	buf_free(&url);
	buf_printf(b, "{\"id\":\"%s\",\"object\":\"job\",\"status\":\"queued\",", id);
	buf_printf(b, "\"status_url\":\"%s/v1/jobs/%s\",\"created\":%ld,\"models\":[",
		   cfg->base_path, id, now);
	for (int i = 0; i < m.n; i++) {
		if (i)
			buf_putc(b, ',');
		json_put_cstr(b, m.ids[i]);
	}
	buf_puts(b, "]}\n");
out:
	throttle_images_settle(c, &hold, 0);
	buf_free(&req);
	model_list_free(&m);
	genreq_free(&r);
	return rc;
}

/* ---- GET /v1/jobs/{id} ------------------------------------------------------ */

static void render_result(struct ctx *c, const struct job_result *r, const char *base)
{
	struct buf *b = &c->rp->body;
	buf_puts(b, "{\"model\":");
	json_put_cstr(b, r->model);
	buf_printf(b, ",\"status\":\"%s\",\"url\":", job_model_name(r->state));
	if (r->state == JOB_MODEL_COMPLETED && r->image.blob[0]) {
		struct buf url = BUF_INIT;
		links_file(c, base, r->image.blob, r->image.ext, &url);
		json_put_str(b, url.data, url.len);
		buf_free(&url);
	} else {
		buf_puts(b, "null");
	}
	if (r->duration_ms >= 0)
		buf_printf(b, ",\"duration_ms\":%ld", r->duration_ms);
	else
		buf_puts(b, ",\"duration_ms\":null");
	if (r->state == JOB_MODEL_COMPLETED) {
		buf_printf(b, ",\"cached\":%s,\"image_size\":", r->cached ? "true" : "false");
		json_put_cstr(b, r->image_size);
		buf_puts(b, ",\"aspect_ratio\":");
		json_put_cstr(b, r->aspect_ratio);
		buf_printf(b, ",\"width\":%d,\"height\":%d,\"mime\":", r->image.width,
			   r->image.height);
		json_put_cstr(b, r->image.mime);
		buf_puts(b, ",\"revised_prompt\":");
		json_put_cstr(b, r->revised_prompt);
	}
	if (r->state == JOB_MODEL_FAILED) {
		buf_puts(b, ",\"error\":{\"code\":");
		json_put_cstr(b, r->error_code);
		buf_puts(b, ",\"message\":");
		json_put_cstr(b, r->error_message);
		buf_putc(b, '}');
	} else {
		buf_puts(b, ",\"error\":null");
	}
	buf_putc(b, '}');
}

static void render_job(struct ctx *c, const struct job *j)
{
	struct buf *b = &c->rp->body, base = BUF_INIT;
	links_base(c, &base);
	buf_printf(b, "{\"id\":\"%s\",\"object\":\"job\",\"status\":\"%s\",\"prompt\":", j->id,
		   job_status_name(j->status));
	json_put_cstr(b, j->prompt);
	buf_printf(b, ",\"created\":%ld,\"completed\":", j->created);
	if (j->completed)
		buf_printf(b, "%ld", j->completed);
	else
		buf_puts(b, "null");
	buf_puts(b, ",\"results\":[");
	for (int i = 0; i < j->n; i++) {
		if (i)
			buf_putc(b, ',');
		render_result(c, &j->results[i], base.data);
	}
	buf_puts(b, "]}\n");
	buf_free(&base);
}

/* The id after /jobs/ in the routing path ("" when there is none). */
static const char *path_id(const struct ctx *c, const char *prefix)
{
	const char *p = strstr(c->rq->path, prefix);
	return p ? p + strlen(prefix) : "";
}

enum img_err jobs_get(struct ctx *c)
{
	const char *id = path_id(c, "/jobs/");
	struct job j;
	if (!ulid_valid("job_", id))
		return err_set(&c->err, IMG_NOT_FOUND, NULL, "There is no job with that id.");
	if (!c->app->db) {
		err_set(&c->err, IMG_UNAVAILABLE, NULL,
			"Jobs need the gateway's database, which is unavailable.");
		c->err.retry_after = 5;
		return IMG_UNAVAILABLE;
	}
	int found = job_get(c->app->db, id, &j);
	/* Another key's job is as absent as one that never was. */
	if (found == 1 && !owner_can_see(c, j.owner)) {
		job_free(&j);
		found = 0;
	}
	long now = (long)time(NULL);
	if (found == 1 && !job_status_final(j.status) &&
	    j.updated <= now - c->app->cfg.job_timeout_seconds) {
		/* Its worker has stopped: settle it now rather than leave it
		 * running forever. */
		job_free(&j);
		job_reap(&c->app->cfg, c->app->db, id, now, NULL);
		found = job_get(c->app->db, id, &j);
	}
	if (found < 0)
		return err_set(&c->err, IMG_UNAVAILABLE, NULL, "The job could not be read.");
	if (found == 0)
		return err_set(&c->err, IMG_NOT_FOUND, NULL, "There is no job with that id.");
	render_job(c, &j);
	reply_header(c->rp, "Cache-Control", "no-store");
	job_free(&j);
	return IMG_OK;
}
