/* Running n images at once.  Each image is a slot with its own attempt count
 * and retry time; all slots share the process's libcurl multi handle, so n=10
 * costs about one upstream latency.  Every attempt logs one upstream event. */
#include "generate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "b64.h"
#include "config.h"
#include "gemini.h"
#include "genreq.h"
#include "hash.h"
#include "image.h"
#include "log.h"
#include "metrics.h"
#include "model.h"
#include "plan.h"
#include "pool.h"
#include "render.h"
#include "upstream.h"
#include "xalloc.h"

enum slot_state { SLOT_WAITING, SLOT_RUNNING, SLOT_DONE };

struct slot {
	struct upstream_xfer x;
	enum slot_state state;
	int index;
	long next_at;	     /* monotonic ms when a waiting slot may start */
	struct pool_key key; /* the upstream key of the current attempt */
	long avoid;	     /* a key to pass over next time (after a server error) */
	int retries;	     /* retries after server or network errors (retry_max) */
	int rotations;	     /* moves to another key after a 429 or a rejected key */
};

/* What to do after an attempt. */
enum next_step { STEP_DONE, STEP_RETRY, STEP_ROTATE };

/* Moves to another key after 429s or rejected keys at most this often per
 * image (a pool of many cooling keys must not spin). */
#define MAX_ROTATIONS 16

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Turns one finished attempt into the image or an error, and says what to do
 * next; failures are judged (and the key updated) by pool_judge. */
static enum next_step classify(const struct config *cfg, struct sqlite3 *db, struct slot *s,
			       struct gen_image *img, struct gen_result *res)
{
	struct upstream_xfer *x = &s->x;
	struct img_error *e = &img->err;
	err_clear(e);
	res->upstream_status = (int)x->status;
	if (x->fail == UPSTREAM_OK && x->status == 200) {
		struct gemini_answer a;
		pool_ok(db, &s->key);
		if (gemini_parse_answer_inplace(x->resp.data, x->resp.len, &a, e) == IMG_OK) {
			/* Keep whichever buffer holds the base64: no copy. */
			struct buf *owner = a.b64 == a.b64_fixed.data ? &a.b64_fixed : &x->resp;
			buf_free(&img->store);
			img->store = *owner;
			*owner = (struct buf)BUF_INIT;
			img->b64 = a.b64;
			img->b64_len = a.b64_len;
			img->mime = a.mime;
			img->ext = a.ext;
		}
		gemini_answer_free(&a);
		e->upstream_status = 200;
		return STEP_DONE;
	}
	switch (pool_judge(cfg, db, &s->key, x, e)) {
	case POOL_ROTATE: return STEP_ROTATE;
	case POOL_RETRY: return STEP_RETRY;
	default: return STEP_DONE;
	}
}

static void log_attempt(const struct gen_plan *p, const struct slot *s, const struct gen_image *img,
			const struct gen_result *res, const char *request_id)
{
	struct log_event ev;
	log_begin(&ev, img->err.code == IMG_OK ? LOG_INFO : LOG_WARN, "upstream");
	log_str(&ev, "request_id", request_id);
	log_str(&ev, "provider", res->provider);
	log_str(&ev, "model", p->model.upstream);
	log_str(&ev, "account", s->key.label);
	log_int(&ev, "index", img->slot);
	log_int(&ev, "retry_count", img->attempts - 1);
	if (s->x.status)
		log_int(&ev, "upstream_status", s->x.status);
	log_int(&ev, "duration_ms", s->x.elapsed_ms);
	log_str(&ev, "resolution", p->image_size);
	log_str(&ev, "aspect_ratio", p->aspect_ratio);
	log_str(&ev, "finish_reason", img->err.finish_reason);
	if (img->err.code != IMG_OK) {
		const struct err_info *ei = err_info(img->err.code);
		log_str(&ev, "error_code", ei->code);
		log_str(&ev, "error_type", ei->error_type);
		log_str(&ev, "category", ei->category);
		if (s->x.fail != UPSTREAM_OK)
			log_str(&ev, "detail", s->x.error);
	} else {
		log_int(&ev, "bytes", (long long)(img->b64_len / 4 * 3));
	}
	log_end(&ev);
}

/* Starts one attempt with a key from the pool.  Returns 0, or -1 when no key
 * is usable (img->err then says why: all cooling, or none enabled). */
static int start_attempt(const struct config *cfg, struct sqlite3 *db, const struct gen_plan *p,
			 const struct gen_req *r, struct slot *s, struct gen_image *img,
			 struct gen_result *res)
{
	struct upstream_xfer *x = &s->x;
	int retry_after = 0;
	enum img_err rc = pool_take(cfg, db, "gemini", 1, s->avoid, &s->key, &retry_after);
	if (rc != IMG_OK) {
		if (rc == IMG_QUOTA_EXHAUSTED)
			err_set(&img->err, rc, NULL,
				"Every upstream key is cooling down or at its limit; the first is "
				"free in %d s.",
				retry_after);
		else
			err_set(&img->err, rc, NULL,
				"No upstream key is usable: every key is disabled (see 'imagegw "
				"account list').");
		img->err.retry_after = retry_after;
		return -1;
	}
	snprintf(res->account, sizeof res->account, "%s", s->key.label);
	upstream_xfer_free(x);
	buf_printf(&x->headers, "Content-Type: application/json\nx-goog-api-key: %s\n",
		   s->key.secret);
	gemini_build_request(&x->body, p, r->has_seed, r->seed);
	x->timeout_ms = cfg->upstream_timeout_seconds * 1000L;
	x->connect_timeout_ms = cfg->upstream_connect_timeout_seconds * 1000L;
	x->user = s;
	if (++img->attempts > 1)
		res->retry_count++; /* counted when the retry really goes out */
	s->state = SLOT_RUNNING;
	upstream_start(x);
	return 0;
}

static void run_gemini(const struct config *cfg, struct sqlite3 *db, const struct gen_plan *p,
		       const struct gen_req *r, const char *request_id, struct gen_result *res)
{
	struct buf url = BUF_INIT;
	gemini_url(&url, cfg->gemini_base_url, p->model.upstream);
	struct slot *slots = xcalloc((size_t)res->n, sizeof *slots);
	long t0 = now_ms();
	for (int i = 0; i < res->n; i++) {
		slots[i].index = i;
		slots[i].x.url = url.data;
		slots[i].next_at = t0;
	}
	int done = 0;
	while (done < res->n) {
		long now = now_ms(), next_wake = now + 1000;
		for (int i = 0; i < res->n; i++) {
			struct slot *s = &slots[i];
			if (s->state == SLOT_WAITING && s->next_at <= now) {
				if (start_attempt(cfg, db, p, r, s, &res->images[i], res) != 0) {
					s->state = SLOT_DONE;
					res->images[i].generation_ms = now_ms() - t0;
					done++;
				}
			} else if (s->state == SLOT_WAITING && s->next_at < next_wake)
				next_wake = s->next_at;
		}
		long wait = next_wake - now;
		if (upstream_running() == 0) {
			if (wait > 0)
				sleep_ms(wait);
			continue;
		}
		struct upstream_xfer *x = upstream_wait(wait > 0 ? wait : 0);
		if (!x)
			continue;
		struct slot *s = x->user;
		struct gen_image *img = &res->images[s->index];
		enum next_step step = classify(cfg, db, s, img, res);
		log_attempt(p, s, img, res, request_id);
		metrics_upstream(res->provider, &s->x, img->err.code, 1);
		memset(s->key.secret, 0, sizeof s->key.secret);
		if (step == STEP_ROTATE && s->rotations < MAX_ROTATIONS) {
			/* That key is cooling down or disabled now: another, at once. */
			s->rotations++;
			s->next_at = now_ms();
			s->state = SLOT_WAITING;
			continue;
		}
		if (step == STEP_RETRY && s->retries < cfg->retry_max) {
			/* Exponential backoff with up to 25 % jitter, so n slots that
			 * failed together do not retry in lockstep; another key if
			 * there is one. */
			long base = (long)cfg->retry_backoff_ms << s->retries;
			unsigned char j = 0;
			hash_random(&j, 1);
			s->retries++;
			s->avoid = s->key.id;
			s->next_at = now_ms() + base + base * j / 1024;
			s->state = SLOT_WAITING;
			continue;
		}
		s->state = SLOT_DONE;
		img->generation_ms = now_ms() - t0;
		done++;
	}
	for (int i = 0; i < res->n; i++)
		upstream_xfer_free(&slots[i].x);
	free(slots);
	buf_free(&url);
}

/* The offline renderer: slot i of a prompt always gives the same picture. */
static void run_local(const struct gen_plan *p, const struct gen_req *r, struct gen_result *res)
{
	int w = 512, h = 512;
	if (model_ratio_dims(p->aspect_ratio, &w, &h) == 0) {
		w /= 2; /* a preview: half the 1K size keeps it fast */
		h /= 2;
	}
	for (int i = 0; i < res->n; i++) {
		long t = now_ms();
		struct gen_image *img = &res->images[i];
		struct buf seed_src = BUF_INIT;
		unsigned char seed[32];
		buf_printf(&seed_src, "%s\n%d\n%lld", p->revised_prompt, img->slot,
			   r->has_seed ? r->seed : 0LL);
		hash_sha256(seed_src.data, seed_src.len, seed);
		buf_free(&seed_src);
		struct buf png = BUF_INIT;
		render_png(&png, seed, w, h, "PREVIEW");
		img->mime = image_sniff(png.data, png.len, &img->ext);
		b64_encode(&img->store, png.data, png.len);
		buf_free(&png);
		img->b64 = img->store.data;
		img->b64_len = img->store.len;
		img->attempts = 1;
		img->generation_ms = now_ms() - t;
	}
}

enum img_err generate_run(const struct config *cfg, struct sqlite3 *db, const struct gen_plan *p,
			  const struct gen_req *r, const int *slots, int count,
			  const char *request_id, struct gen_result *res, struct img_error *e)
{
	memset(res, 0, sizeof *res);
	res->n = slots ? count : p->n;
	res->images = xcalloc((size_t)res->n, sizeof *res->images);
	for (int i = 0; i < res->n; i++)
		res->images[i].slot = slots ? slots[i] : i;
	long t0 = now_ms();
	if (p->model.provider == PROVIDER_LOCAL) {
		res->provider = "local";
		run_local(p, r, res);
	} else {
		res->provider = "gemini";
		run_gemini(cfg, db, p, r, request_id, res);
	}
	res->generation_ms = now_ms() - t0;
	err_clear(e);
	for (int i = 0; i < res->n; i++) {
		struct gen_image *img = &res->images[i];
		if (img->err.code == IMG_OK) {
			res->succeeded++;
		} else if (e->code == IMG_OK) {
			*e = img->err;
			snprintf(res->finish_reason, sizeof res->finish_reason, "%s",
				 img->err.finish_reason);
		}
	}
	metrics_images(p->model.family, p->image_size, res->succeeded);
	if (res->succeeded > 0)
		return IMG_OK;
	return e->code;
}

void generate_result_free(struct gen_result *res)
{
	for (int i = 0; i < res->n && res->images; i++)
		buf_free(&res->images[i].store);
	free(res->images);
	memset(res, 0, sizeof *res);
}
