/* Running n images at once.  Each image is a slot with its own attempt count
 * and retry time; all slots share the process's libcurl multi handle, so n=10
 * costs about one upstream latency.  Every attempt logs one upstream event.
 * The providers differ only in a struct provider_ops: where an attempt goes,
 * how its request is built and how a 200 answer is read; keys, retries,
 * rotation, fetching linked images and logging are shared. */
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
#include "openai.h"
#include "plan.h"
#include "pool.h"
#include "render.h"
#include "upstream.h"
#include "vertex.h"
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
	struct buf fetch;    /* a link the answer gave instead of the image */
	int fetching;	     /* the transfer running is the GET of that link */
	struct buf url;	     /* a Vertex account's own URL (its project and location) */
	int reuse_key;	     /* the next attempt keeps key (a Vertex token refresh) */
	long reauthed;	     /* the key whose token was already refreshed after a 401 */
};

/* What to do after an attempt. */
enum next_step { STEP_DONE, STEP_RETRY, STEP_ROTATE, STEP_FETCH, STEP_REAUTH };

/* What differs between upstream providers. */
struct provider_ops {
	const char *name; /* the key pool's provider, and the logs' */
	/* The URL every attempt of this plan goes to. */
	void (*url)(const struct config *cfg, const struct gen_plan *p, const struct gen_req *r,
		    struct buf *out);
	/* The body every attempt of the request sends, and its Content-Type
	 * header: built once, so an edit's images are encoded once for all
	 * slots and retries. */
	void (*build)(const struct gen_plan *p, const struct gen_req *r, struct buf *headers,
		      struct buf *body);
	/* The credential header of one attempt with key. */
	void (*auth)(const char *key, struct buf *headers);
	/* Reads a 200 answer into img (or its error into img->err), or leaves
	 * a link to fetch the image from in s->fetch. */
	void (*read)(const struct config *cfg, struct slot *s, struct gen_image *img);
};

/* The most a linked image may weigh. */
#define FETCH_MAX_BYTES ((size_t)50 << 20)

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

/* Makes img own the buffer that holds its base64 (no copy). */
static void keep_image(struct gen_image *img, struct buf *owner, const char *b64, size_t len,
		       const char *mime, const char *ext)
{
	buf_free(&img->store);
	img->store = *owner;
	*owner = (struct buf)BUF_INIT;
	img->b64 = b64;
	img->b64_len = len;
	img->mime = mime;
	img->ext = ext;
}

static void gemini_ops_url(const struct config *cfg, const struct gen_plan *p,
			   const struct gen_req *r, struct buf *out)
{
	(void)r;
	gemini_url(out, cfg->gemini_base_url, p->model.upstream);
}

static void gemini_ops_build(const struct gen_plan *p, const struct gen_req *r, struct buf *headers,
			     struct buf *body)
{
	buf_puts(headers, "Content-Type: application/json\n");
	gemini_build_request(body, p, r);
}

static void gemini_ops_auth(const char *key, struct buf *headers)
{
	buf_printf(headers, "x-goog-api-key: %s\n", key);
}

static void gemini_ops_read(const struct config *cfg, struct slot *s, struct gen_image *img)
{
	struct upstream_xfer *x = &s->x;
	struct gemini_answer a;
	(void)cfg;
	if (gemini_parse_answer_inplace(x->resp.data, x->resp.len, &a, &img->err) == IMG_OK)
		keep_image(img, a.b64 == a.b64_fixed.data ? &a.b64_fixed : &x->resp, a.b64,
			   a.b64_len, a.mime, a.ext);
	gemini_answer_free(&a);
}

static void openai_ops_url(const struct config *cfg, const struct gen_plan *p,
			   const struct gen_req *r, struct buf *out)
{
	(void)p;
	openai_url(out, cfg->openai_base_url, r->ninputs > 0);
}

static void openai_ops_build(const struct gen_plan *p, const struct gen_req *r, struct buf *headers,
			     struct buf *body)
{
	openai_build_request(headers, body, p, r);
}

static void openai_ops_auth(const char *key, struct buf *headers)
{
	buf_printf(headers, "Authorization: Bearer %s\n", key);
}

static void openai_ops_read(const struct config *cfg, struct slot *s, struct gen_image *img)
{
	struct upstream_xfer *x = &s->x;
	struct openai_answer a;
	if (openai_parse_answer_inplace(x->resp.data, x->resp.len, &a, &img->err) == IMG_OK) {
		if (a.b64)
			keep_image(img, a.b64 == a.b64_fixed.data ? &a.b64_fixed : &x->resp, a.b64,
				   a.b64_len, a.mime, a.ext);
		else if (openai_url_allowed(a.url, cfg->openai_base_url))
			buf_puts(&s->fetch, a.url);
		else
			err_set(&img->err, IMG_UPSTREAM_ERROR, NULL,
				"The upstream linked to the image with a URL the gateway does "
				"not fetch (only https, or http from a plain-http upstream).");
	}
	openai_answer_free(&a);
}

static const struct provider_ops gemini_ops = {"gemini", gemini_ops_url, gemini_ops_build,
					       gemini_ops_auth, gemini_ops_read};
static const struct provider_ops openai_ops = {"openai", openai_ops_url, openai_ops_build,
					       openai_ops_auth, openai_ops_read};

/* The image a link led to: the bytes are sniffed (a label is never
 * trusted) and kept as base64, so the gateway caches and serves them itself. */
static enum next_step read_fetched(struct slot *s, struct gen_image *img)
{
	struct upstream_xfer *x = &s->x;
	struct img_error *e = &img->err;
	const char *ext = NULL, *mime = NULL;
	s->fetching = 0;
	e->upstream_status = (int)x->status;
	if (x->fail == UPSTREAM_TIMEOUT) {
		err_set(e, IMG_UPSTREAM_TIMEOUT, NULL,
			"The image the upstream linked to did not arrive in time.");
		return STEP_DONE;
	}
	if (x->fail != UPSTREAM_OK) {
		err_set(e, IMG_UPSTREAM_ERROR, NULL,
			"The image the upstream linked to could not be fetched (%s).",
			x->fail == UPSTREAM_TOO_LARGE ? "too large" : "network error");
		return STEP_DONE;
	}
	if (x->status != 200) {
		err_set(e, IMG_UPSTREAM_ERROR, NULL,
			"The image the upstream linked to could not be fetched (HTTP %ld).",
			x->status);
		return STEP_DONE;
	}
	mime = image_sniff(x->resp.data, x->resp.len, &ext);
	if (!mime) {
		err_set(e, IMG_UPSTREAM_ERROR, NULL,
			"The upstream linked to bytes that are not a PNG, JPEG or WebP image.");
		return STEP_DONE;
	}
	struct buf enc = BUF_INIT;
	b64_encode(&enc, x->resp.data, x->resp.len);
	keep_image(img, &enc, enc.data, enc.len, mime, ext);
	return STEP_DONE;
}

/* Turns one finished transfer into the image or an error, and says what to
 * do next; failed calls are judged (and the key updated) by pool_judge. */
static enum next_step classify(const struct config *cfg, struct sqlite3 *db,
			       const struct provider_ops *ops, struct slot *s,
			       struct gen_image *img, struct gen_result *res)
{
	struct upstream_xfer *x = &s->x;
	struct img_error *e = &img->err;
	err_clear(e);
	if (s->fetching)
		return read_fetched(s, img);
	res->upstream_status = (int)x->status;
	if (x->fail == UPSTREAM_OK && x->status == 200) {
		pool_ok(db, &s->key);
		ops->read(cfg, s, img);
		e->upstream_status = 200;
		return e->code == IMG_OK && s->fetch.len ? STEP_FETCH : STEP_DONE;
	}
	if (s->reauthed != s->key.id && vertex_token_refused(db, &s->key, x, e)) {
		/* Once more with a fresh token before judging the account. */
		s->reauthed = s->key.id;
		s->reuse_key = 1;
		return STEP_REAUTH;
	}
	switch (pool_judge(cfg, db, &s->key, x, e)) {
	case POOL_ROTATE: return STEP_ROTATE;
	case POOL_RETRY: return STEP_RETRY;
	default: return STEP_DONE;
	}
}

/* GETs the link an answer gave, without the key: the link is the upstream's
 * own signed URL and may point to another host. */
static void start_fetch(const struct config *cfg, struct slot *s)
{
	struct upstream_xfer *x = &s->x;
	upstream_xfer_free(x);
	x->url = s->fetch.data;
	x->timeout_ms = cfg->upstream_timeout_seconds * 1000L;
	x->connect_timeout_ms = cfg->upstream_connect_timeout_seconds * 1000L;
	x->max_response = FETCH_MAX_BYTES;
	s->fetching = 1;
	s->state = SLOT_RUNNING;
	upstream_start(x);
}

static void log_attempt(const struct gen_plan *p, const struct slot *s, const struct gen_image *img,
			const struct gen_result *res, const char *request_id, const char *step)
{
	struct log_event ev;
	log_begin(&ev, img->err.code == IMG_OK ? LOG_INFO : LOG_WARN, "upstream");
	log_str(&ev, "request_id", request_id);
	log_str(&ev, "step", step);
	log_str(&ev, "provider", s->key.provider[0] ? s->key.provider : res->provider);
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
	} else if (img->b64_len) {
		log_int(&ev, "bytes", (long long)(img->b64_len / 4 * 3));
	}
	log_end(&ev);
}

/* Takes the next key for a slot: from the plan's provider, or for Gemini
 * models from the providers of gemini_providers in order (API keys, Vertex
 * service accounts).  A Vertex account also needs its access token, fetched
 * here (vertex_ready_key); an account that cannot get one is judged and the
 * next key is taken, as a rotation.  Returns IMG_OK or the pool's refusal. */
static enum img_err take_key(const struct config *cfg, struct sqlite3 *db,
			     const struct provider_ops *ops, const struct gen_plan *p,
			     struct slot *s, struct gen_image *img, int *retry_after)
{
	const char *order[3] = {ops->name, NULL, NULL};
	if (p->model.provider == PROVIDER_GEMINI)
		config_provider_rank(cfg, order);
	if (s->reuse_key) {
		s->reuse_key = 0; /* same account, a fresh token below */
	} else {
		enum img_err rc =
			pool_take_first(cfg, db, order, 1, s->avoid, &s->key, retry_after);
		if (rc != IMG_OK)
			return rc;
		s->reauthed = 0;
	}
	return vertex_ready_key(cfg, db, order, 1, p->model.upstream, &s->key, &s->url,
				&s->rotations, MAX_ROTATIONS, retry_after, &img->err);
}

/* Starts one attempt with a key from the pool.  Returns 0, or -1 when no key
 * is usable (img->err then says why: all cooling, or none enabled). */
static int start_attempt(const struct config *cfg, struct sqlite3 *db,
			 const struct provider_ops *ops, const struct gen_plan *p, const char *url,
			 const struct buf *headers, const struct buf *body, struct slot *s,
			 struct gen_image *img, struct gen_result *res)
{
	struct upstream_xfer *x = &s->x;
	int retry_after = 0;
	enum img_err rc = take_key(cfg, db, ops, p, s, img, &retry_after);
	if (rc != IMG_OK) {
		struct img_error last = img->err; /* what the previous key was told, if any */
		if (rc == IMG_QUOTA_EXHAUSTED)
			err_set(&img->err, rc, NULL,
				"Every upstream key is cooling down or at its limit; the first is "
				"free in %d s.",
				retry_after);
		else
			err_set(&img->err, rc, NULL,
				"No upstream key is usable: every key is disabled (see 'imagegw "
				"account list').");
		/* A specific reason from the last answer (an account out of credit)
		 * says more than "cooling down": keep it. */
		if (s->rotations > 0 && last.code != IMG_OK && last.message[0] &&
		    strcmp(last.message, err_info(last.code)->message) != 0) {
			size_t l = strlen(img->err.message);
			snprintf(img->err.message + l, sizeof img->err.message - l,
				 " Last upstream answer: %.300s", last.message);
		}
		img->err.retry_after = retry_after;
		return -1;
	}
	int vertex = strcmp(s->key.provider, "vertex") == 0;
	snprintf(res->account, sizeof res->account, "%s", s->key.label);
	res->provider = vertex ? "vertex" : ops->name;
	upstream_xfer_free(x);
	x->url = vertex ? s->url.data : url;
	buf_append(&x->headers, headers->data, headers->len);
	if (vertex)
		buf_printf(&x->headers, "Authorization: Bearer %s\n", s->key.secret);
	else
		ops->auth(s->key.secret, &x->headers);
	x->body_ref = body->data; /* built once for all slots and attempts */
	x->body_ref_len = body->len;
	x->timeout_ms = cfg->upstream_timeout_seconds * 1000L;
	x->connect_timeout_ms = cfg->upstream_connect_timeout_seconds * 1000L;
	x->user = s;
	if (++img->attempts > 1)
		res->retry_count++; /* counted when the retry really goes out */
	s->state = SLOT_RUNNING;
	upstream_start(x);
	return 0;
}

static void run_upstream(const struct config *cfg, struct sqlite3 *db,
			 const struct provider_ops *ops, const struct gen_plan *p,
			 const struct gen_req *r, const char *request_id, struct gen_result *res)
{
	struct buf url = BUF_INIT, headers = BUF_INIT, body = BUF_INIT;
	ops->url(cfg, p, r, &url);
	/* The same body for every slot and retry: an edit's images (up to 14 of
	 * max_upload_mb each) are encoded once, not once per slot. */
	ops->build(p, r, &headers, &body);
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
				if (start_attempt(cfg, db, ops, p, url.data, &headers, &body, s,
						  &res->images[i], res) != 0) {
					s->state = SLOT_DONE;
					res->images[i].generation_ms = now_ms() - t0;
					done++;
				}
			} else if (s->state == SLOT_WAITING && s->next_at < next_wake)
				next_wake = s->next_at;
		}
		if (done >= res->n)
			break; /* the last slots found no key: nothing to wait for */
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
		int was_fetch = s->fetching;
		enum next_step step = classify(cfg, db, ops, s, img, res);
		log_attempt(p, s, img, res, request_id, was_fetch ? "fetch" : NULL);
		/* A fetch of a linked image is part of the same generation. */
		metrics_upstream(s->key.provider[0] ? s->key.provider : res->provider, &s->x,
				 img->err.code, 1);
		memset(s->key.secret, 0, sizeof s->key.secret);
		if (step == STEP_FETCH) {
			start_fetch(cfg, s);
			continue;
		}
		if (step == STEP_REAUTH) {
			/* The same account again at once, with a new token. */
			s->next_at = now_ms();
			s->state = SLOT_WAITING;
			continue;
		}
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
	for (int i = 0; i < res->n; i++) {
		upstream_xfer_free(&slots[i].x);
		buf_free(&slots[i].fetch);
		buf_free(&slots[i].url);
	}
	free(slots);
	buf_free(&url);
	buf_free(&headers);
	buf_free(&body);
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
		/* An edit's preview also depends on its images and mask. */
		for (int k = 0; k < r->ninputs; k++)
			buf_printf(&seed_src, "\n%s", r->inputs[k].sha256);
		if (r->mask)
			buf_printf(&seed_src, "\nmask %s", r->mask->sha256);
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
		const struct provider_ops *ops =
			p->model.provider == PROVIDER_OPENAI ? &openai_ops : &gemini_ops;
		res->provider = ops->name;
		run_upstream(cfg, db, ops, p, r, request_id, res);
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
