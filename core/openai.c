/* OpenAI Images codec.  The request side maps the gateway's fields onto what
 * each model accepts (fixed sizes, per-model qualities, style on dall-e-3
 * only, response_format on dall-e only); the answer side trusts nothing:
 * base64 is checked, bytes are sniffed, links are fetched by the caller only
 * over http(s). */
#include "openai.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "genreq.h"
#include "hash.h"
#include "image.h"
#include "json.h"
#include "model.h"
#include "plan.h"
#include "upstream.h"

struct size_choice {
	int w, h;
};

/* Each family's sizes; the first is the default. */
static const struct size_choice dalle2_sizes[] = {{1024, 1024}, {512, 512}, {256, 256}, {0, 0}};
static const struct size_choice dalle3_sizes[] = {{1024, 1024}, {1792, 1024}, {1024, 1792}, {0, 0}};
static const struct size_choice gpt_sizes[] = {{1024, 1024}, {1536, 1024}, {1024, 1536}, {0, 0}};

static const char *const dalle2_ratios[] = {"1:1", NULL};
static const char *const dalle3_ratios[] = {"1:1", "7:4", "4:7", NULL};
static const char *const gpt_ratios[] = {"1:1", "3:2", "2:3", NULL};

/* Longest prompt each family takes, in characters (reference B.1). */
static const size_t max_prompt[] = {
	[OPENAI_DALLE2] = 1000, [OPENAI_DALLE3] = 4000, [OPENAI_GPT_IMAGE] = 32000};

enum openai_family openai_family_of(const char *model)
{
	if (strcasecmp(model, "dall-e-2") == 0)
		return OPENAI_DALLE2;
	if (strcasecmp(model, "dall-e-3") == 0)
		return OPENAI_DALLE3;
	return OPENAI_GPT_IMAGE;
}

static const struct size_choice *sizes_of(enum openai_family f)
{
	return f == OPENAI_DALLE2 ? dalle2_sizes : f == OPENAI_DALLE3 ? dalle3_sizes : gpt_sizes;
}

const char *const *openai_ratios(const char *model)
{
	enum openai_family f = openai_family_of(model);
	return f == OPENAI_DALLE2 ? dalle2_ratios : f == OPENAI_DALLE3 ? dalle3_ratios : gpt_ratios;
}

static long gcd(long a, long b)
{
	while (b) {
		long t = a % b;
		a = b;
		b = t;
	}
	return a;
}

void openai_pick_size(const struct gen_req *r, double first_image_ratio, struct gen_plan *p)
{
	enum openai_family fam = openai_family_of(p->model.upstream);
	double rw = 0, rh = 0, edge = 0;
	long w, h;
	int want_auto = 0;
	if (r->aspect_ratio && model_parse_size(r->aspect_ratio, &w, &h) == 0) {
		rw = (double)w;
		rh = (double)h;
	}
	if (r->size && strcasecmp(r->size, "auto") == 0) {
		want_auto = 1;
	} else if (r->size && model_parse_size(r->size, &w, &h) == 0) {
		if (rw == 0) {
			rw = (double)w;
			rh = (double)h;
		}
		if (!strchr(r->size, ':')) /* pixels, not just a ratio */
			edge = (double)(w > h ? w : h);
	}
	if (rw == 0 && first_image_ratio > 0) {
		rw = first_image_ratio;
		rh = 1;
	}
	if (rw == 0 && want_auto && fam == OPENAI_GPT_IMAGE) {
		/* Nothing prefers a shape: let the model choose, as "auto" asks. */
		snprintf(p->upstream_size, sizeof p->upstream_size, "auto");
		snprintf(p->aspect_ratio, sizeof p->aspect_ratio, "auto");
		p->image_size[0] = '\0';
		p->send_image_size = 0;
		return;
	}
	if (rw == 0)
		rw = rh = 1;
	if (edge == 0 && r->image_size)
		edge = 1024.0 * (r->image_size[0] - '0');
	const struct size_choice *sz = sizes_of(fam), *best = &sz[0];
	double want = log(rw / rh), best_ratio = INFINITY, best_edge = INFINITY;
	for (int i = 0; sz[i].w; i++) {
		double dr = fabs(log((double)sz[i].w / sz[i].h) - want);
		double long_edge = sz[i].w > sz[i].h ? sz[i].w : sz[i].h;
		double de = edge > 0 ? fabs(log(long_edge / edge)) : 0;
		if (dr < best_ratio - 1e-9 ||
		    (fabs(dr - best_ratio) <= 1e-9 && de < best_edge - 1e-9)) {
			best = &sz[i];
			best_ratio = dr;
			best_edge = de;
		}
	}
	long g = gcd(best->w, best->h), le = best->w > best->h ? best->w : best->h;
	snprintf(p->upstream_size, sizeof p->upstream_size, "%dx%d", best->w, best->h);
	char ratio[48];
	snprintf(ratio, sizeof ratio, "%ld:%ld", best->w / g, best->h / g);
	snprintf(p->aspect_ratio, sizeof p->aspect_ratio, "%.7s", ratio);
	snprintf(p->image_size, sizeof p->image_size, "%s", le <= 1024 ? "1K" : "2K");
	p->send_image_size = 0;
}

int openai_native_quality(const char *model)
{
	return openai_family_of(model) != OPENAI_DALLE2;
}

int openai_native_style(const char *model)
{
	return openai_family_of(model) == OPENAI_DALLE3;
}

const char *openai_wire_quality(const char *model, const char *q)
{
	if (!q)
		return NULL;
	switch (openai_family_of(model)) {
	case OPENAI_DALLE3:
		if (!strcmp(q, "hd") || !strcmp(q, "high"))
			return "hd";
		if (!strcmp(q, "standard") || !strcmp(q, "medium") || !strcmp(q, "low"))
			return "standard";
		return NULL; /* auto: the model's default */
	case OPENAI_GPT_IMAGE:
		if (!strcmp(q, "hd"))
			return "high";
		if (!strcmp(q, "standard"))
			return "medium";
		if (!strcmp(q, "low") || !strcmp(q, "medium") || !strcmp(q, "high") ||
		    !strcmp(q, "auto"))
			return q;
		return NULL;
	default: return NULL; /* dall-e-2: standard only; hd/high became the clause */
	}
}

const char *openai_wire_style(const char *model, const char *style)
{
	return style && openai_native_style(model) ? style : NULL;
}

enum img_err openai_check(const struct gen_plan *p, const struct gen_req *r, struct img_error *e)
{
	const char *m = p->model.upstream;
	enum openai_family fam = openai_family_of(m);
	size_t chars = genreq_utf8_chars(p->revised_prompt, strlen(p->revised_prompt));
	if (chars > max_prompt[fam])
		return err_set(e, IMG_INVALID_PROMPT, "prompt",
			       "The model %s takes prompts of at most %zu characters; this one has "
			       "%zu (with the clauses quality and style add).",
			       p->model.id, max_prompt[fam], chars);
	if (r->ninputs <= 0)
		return IMG_OK;
	if (fam == OPENAI_DALLE3)
		return err_set(
			e, IMG_INVALID_REQUEST, "model",
			"The model dall-e-3 cannot edit images; use gpt-image-1 or dall-e-2.");
	if (r->mask && strcmp(r->mask->mime ? r->mask->mime : "", "image/png") != 0)
		return err_set(e, IMG_INVALID_REQUEST, "mask", "The mask must be a PNG image.");
	if (fam != OPENAI_DALLE2)
		return IMG_OK;
	const struct gen_input *in = &r->inputs[0];
	if (r->ninputs > 1)
		return err_set(e, IMG_INVALID_REQUEST, "image",
			       "The model dall-e-2 edits exactly one image; this request has %d.",
			       r->ninputs);
	if (strcmp(in->mime ? in->mime : "", "image/png") != 0 || in->width != in->height ||
	    in->bytes.len >= 4u << 20)
		return err_set(e, IMG_INVALID_REQUEST, "image",
			       "The model dall-e-2 edits only a square PNG image under 4 MB.");
	return IMG_OK;
}

void openai_url(struct buf *out, const char *base, int edit)
{
	size_t bl = strlen(base);
	while (bl > 0 && base[bl - 1] == '/')
		bl--;
	if (bl >= 3 && strncmp(base + bl - 3, "/v1", 3) == 0)
		bl -= 3;
	buf_append(out, base, bl);
	buf_puts(out, edit ? "/v1/images/edits" : "/v1/images/generations");
}

void openai_build_generation(struct buf *out, const struct gen_plan *p, const struct gen_req *r)
{
	const char *m = p->model.upstream;
	const char *q = openai_wire_quality(m, p->quality[0] ? p->quality : NULL);
	const char *st = openai_wire_style(m, p->style[0] ? p->style : NULL);
	buf_puts(out, "{\"model\":");
	json_put_cstr(out, m);
	buf_puts(out, ",\"prompt\":");
	json_put_cstr(out, p->revised_prompt);
	buf_puts(out, ",\"n\":1,\"size\":");
	json_put_cstr(out, p->upstream_size);
	if (q) {
		buf_puts(out, ",\"quality\":");
		json_put_cstr(out, q);
	}
	if (st) {
		buf_puts(out, ",\"style\":");
		json_put_cstr(out, st);
	}
	/* GPT image models always answer base64 and refuse the field. */
	if (openai_family_of(m) != OPENAI_GPT_IMAGE)
		buf_puts(out, ",\"response_format\":\"b64_json\"");
	if (r->user) {
		buf_puts(out, ",\"user\":");
		json_put_cstr(out, r->user);
	}
	buf_puts(out, "}");
}

static void text_part(struct buf *out, const char *boundary, const char *name, const char *value)
{
	buf_printf(out, "--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n", boundary,
		   name);
	buf_puts(out, value);
	buf_puts(out, "\r\n");
}

static void file_part(struct buf *out, const char *boundary, const char *name, const char *filename,
		      const struct gen_input *in)
{
	buf_printf(out,
		   "--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
		   "Content-Type: %s\r\n\r\n",
		   boundary, name, filename, in->mime ? in->mime : "application/octet-stream");
	buf_append(out, in->bytes.data, in->bytes.len);
	buf_puts(out, "\r\n");
}

void openai_build_edit(struct buf *out, const char *boundary, const struct gen_plan *p,
		       const struct gen_req *r)
{
	const char *m = p->model.upstream;
	const char *q = openai_wire_quality(m, p->quality[0] ? p->quality : NULL);
	text_part(out, boundary, "model", m);
	text_part(out, boundary, "prompt", p->revised_prompt);
	text_part(out, boundary, "n", "1");
	text_part(out, boundary, "size", p->upstream_size);
	if (q)
		text_part(out, boundary, "quality", q);
	if (openai_family_of(m) != OPENAI_GPT_IMAGE)
		text_part(out, boundary, "response_format", "b64_json");
	if (r->user)
		text_part(out, boundary, "user", r->user);
	/* One file goes as "image", several as "image[]" (as openai-python sends). */
	for (int i = 0; i < r->ninputs; i++) {
		const struct gen_input *in = &r->inputs[i];
		char fn[32];
		if (r->ninputs == 1)
			snprintf(fn, sizeof fn, "image.%s", in->ext ? in->ext : "png");
		else
			snprintf(fn, sizeof fn, "image%d.%s", i + 1, in->ext ? in->ext : "png");
		file_part(out, boundary, r->ninputs == 1 ? "image" : "image[]", fn, in);
	}
	if (r->mask)
		file_part(out, boundary, "mask", "mask.png", r->mask);
	buf_printf(out, "--%s--\r\n", boundary);
}

/* 1 when marker occurs in none of the texts and files the body carries. */
static int boundary_unused(const char *marker, const struct gen_plan *p, const struct gen_req *r)
{
	size_t ml = strlen(marker);
	if (strstr(p->revised_prompt, marker) || (r->user && strstr(r->user, marker)))
		return 0;
	for (int i = 0; i < r->ninputs; i++)
		if (memmem(r->inputs[i].bytes.data, r->inputs[i].bytes.len, marker, ml))
			return 0;
	return !(r->mask && memmem(r->mask->bytes.data, r->mask->bytes.len, marker, ml));
}

void openai_build_request(struct buf *headers, struct buf *body, const struct gen_plan *p,
			  const struct gen_req *r)
{
	if (r->ninputs <= 0) {
		buf_puts(headers, "Content-Type: application/json\n");
		openai_build_generation(body, p, r);
		return;
	}
	/* A random boundary; in the rare case an upload happens to contain it,
	 * another. */
	char boundary[48], marker[52];
	for (int attempt = 0; attempt < 8; attempt++) {
		unsigned char rnd[12];
		char hex[25];
		if (hash_random(rnd, sizeof rnd) != 0)
			memset(rnd, 0x5a + attempt, sizeof rnd);
		hash_hex(rnd, sizeof rnd, hex);
		snprintf(boundary, sizeof boundary, "imagegw-%s", hex);
		snprintf(marker, sizeof marker, "--%s", boundary);
		if (boundary_unused(marker, p, r))
			break;
	}
	openai_build_edit(body, boundary, p, r);
	buf_printf(headers, "Content-Type: multipart/form-data; boundary=%s\n", boundary);
}

/* ---- answers ------------------------------------------------------------- */

static enum img_err take_b64(const char *s, size_t n, struct openai_answer *a, struct img_error *e)
{
	int rc = image_b64_check(s, n, &a->b64_fixed, &a->b64, &a->b64_len, &a->mime, &a->ext);
	if (rc == -1)
		return err_set(e, IMG_UPSTREAM_ERROR, NULL,
			       "The upstream image was not valid base64.");
	if (rc != 0)
		return err_set(
			e, IMG_UPSTREAM_ERROR, NULL,
			"The upstream returned bytes that are not a PNG, JPEG or WebP image.");
	return IMG_OK;
}

/* A "data:image/...;base64,...." link: the image is in the link itself. */
static enum img_err take_data_uri(const char *s, size_t n, struct openai_answer *a,
				  struct img_error *e)
{
	const char *comma = memchr(s, ',', n);
	if (!comma || !memmem(s, (size_t)(comma - s), ";base64", 7))
		return err_set(e, IMG_UPSTREAM_ERROR, NULL,
			       "The upstream answered with a data: link that is not base64.");
	return take_b64(comma + 1, n - (size_t)(comma + 1 - s), a, e);
}

enum img_err openai_parse_answer(const char *body, size_t len, struct openai_answer *a,
				 struct img_error *e)
{
	struct buf copy = BUF_INIT;
	buf_append(&copy, body, len);
	enum img_err rc =
		openai_parse_answer_inplace(copy.data ? copy.data : (char *)"", len, a, e);
	a->copy = copy;
	return rc;
}

enum img_err openai_parse_answer_inplace(char *body, size_t len, struct openai_answer *a,
					 struct img_error *e)
{
	memset(a, 0, sizeof *a);
	err_clear(e);
	struct json *root = json_parse_inplace(body, len, NULL);
	a->tree = root;
	if (!root || root->type != JSON_OBJECT)
		return err_set(e, IMG_UPSTREAM_ERROR, NULL,
			       "The upstream answer was not valid JSON.");
	const struct json *data = json_get(root, "data");
	const struct json *item = data && data->type == JSON_ARRAY ? json_at(data, 0) : NULL;
	if (!item || item->type != JSON_OBJECT) {
		/* Some compatible servers answer 200 with an error envelope. */
		const struct json *err = json_get(root, "error");
		const char *msg = err ? json_get_str(err, "message") : NULL;
		if (msg)
			return err_set(e, IMG_UPSTREAM_ERROR, NULL, "The upstream failed: %.300s",
				       msg);
		return err_set(e, IMG_NO_IMAGE, NULL, "The upstream answered without an image.");
	}
	a->revised_prompt = json_get_str(item, "revised_prompt");
	const struct json *b = json_get(item, "b64_json");
	if (b && b->type == JSON_STRING && b->str_len > 0)
		return take_b64(b->str, b->str_len, a, e);
	const struct json *u = json_get(item, "url");
	if (u && u->type == JSON_STRING && u->str_len > 0) {
		if (u->str_len > 5 && strncasecmp(u->str, "data:", 5) == 0)
			return take_data_uri(u->str, u->str_len, a, e);
		if (strlen(u->str) != u->str_len || u->str_len > 8192)
			return err_set(e, IMG_UPSTREAM_ERROR, NULL,
				       "The upstream answered with a link that is not usable.");
		a->url = u->str;
		return IMG_OK;
	}
	return err_set(e, IMG_NO_IMAGE, NULL, "The upstream answered without an image.");
}

void openai_answer_free(struct openai_answer *a)
{
	json_free(a->tree);
	buf_free(&a->b64_fixed);
	buf_free(&a->copy);
	a->tree = NULL;
	a->b64 = NULL;
	a->url = NULL;
}

int openai_url_allowed(const char *url, const char *base)
{
	for (const char *c = url; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f)
			return 0; /* a link never holds spaces or control characters */
	if (strncasecmp(url, "https://", 8) == 0)
		return url[8] != '\0' && url[8] != '/';
	if (strncasecmp(url, "http://", 7) == 0)
		return url[7] != '\0' && url[7] != '/' && strncasecmp(base, "http://", 7) == 0;
	return 0;
}

/* ---- errors -------------------------------------------------------------- */

double openai_parse_reset(const char *s)
{
	double total = 0;
	int parts = 0;
	while (*s) {
		char *end;
		if (!isdigit((unsigned char)*s) && *s != '.')
			return -1;
		double v = strtod(s, &end);
		if (end == s || !isfinite(v) || v < 0)
			return -1;
		s = end;
		if (strncmp(s, "ms", 2) == 0) {
			total += v / 1000;
			s += 2;
		} else if (*s == 'h') {
			total += v * 3600;
			s++;
		} else if (*s == 'm') {
			total += v * 60;
			s++;
		} else if (*s == 's') {
			total += v;
			s++;
		} else {
			return -1;
		}
		parts++;
	}
	return parts ? total : -1;
}

/* How long the upstream asked us to wait: retry-after-ms, Retry-After in
 * seconds, else the reset of whichever limit is used up (requests, then
 * tokens), else the later of the two resets. */
static double wait_from_headers(const char *h)
{
	char v[64];
	if (upstream_header(h, "retry-after-ms", v, sizeof v) == 0) {
		char *end;
		double ms = strtod(v, &end);
		if (end != v && *end == '\0' && isfinite(ms) && ms >= 0)
			return ms / 1000;
	}
	if (upstream_header(h, "retry-after", v, sizeof v) == 0) {
		char *end;
		double sec = strtod(v, &end);
		if (end != v && *end == '\0' && isfinite(sec) && sec >= 0)
			return sec;
	}
	double req = -1, tok = -1;
	char rem[32];
	if (upstream_header(h, "x-ratelimit-reset-requests", v, sizeof v) == 0)
		req = openai_parse_reset(v);
	if (upstream_header(h, "x-ratelimit-reset-tokens", v, sizeof v) == 0)
		tok = openai_parse_reset(v);
	if (req >= 0 &&
	    upstream_header(h, "x-ratelimit-remaining-requests", rem, sizeof rem) == 0 &&
	    strcmp(rem, "0") == 0)
		return req;
	if (tok >= 0 && upstream_header(h, "x-ratelimit-remaining-tokens", rem, sizeof rem) == 0 &&
	    strcmp(rem, "0") == 0)
		return tok;
	return req > tok ? req : tok;
}

static int is(const char *a, const char *b)
{
	return a[0] && strcmp(a, b) == 0;
}

void openai_parse_error(int http, const char *body, size_t len, const char *headers,
			struct upstream_fault *f)
{
	memset(f, 0, sizeof *f);
	f->kind = FAULT_BY_STATUS;
	struct json *root = json_parse(body, len, NULL);
	const struct json *err = root ? json_get(root, "error") : NULL;
	if (err && err->type == JSON_OBJECT) {
		const char *s = json_get_str(err, "type");
		snprintf(f->status, sizeof f->status, "%s", s ? s : "");
		s = json_get_str(err, "code");
		snprintf(f->reason, sizeof f->reason, "%s", s ? s : "");
		s = json_get_str(err, "message");
		snprintf(f->message, sizeof f->message, "%s", s ? s : "");
	}
	json_free(root);
	f->retry_delay = wait_from_headers(headers ? headers : "");
	if (is(f->reason, "insufficient_quota") || is(f->status, "insufficient_quota") ||
	    is(f->reason, "billing_hard_limit_reached"))
		f->kind = FAULT_OUT_OF_CREDIT;
	else if (is(f->reason, "content_policy_violation") ||
		 is(f->status, "content_policy_violation") || is(f->reason, "moderation_blocked"))
		f->kind = FAULT_SAFETY;
	else if (http == 401)
		f->kind = FAULT_KEY_REJECTED;
	else if (http == 403)
		f->kind = FAULT_DENIED;
	/* OpenAI's 401 message quotes part of the key: keep only the code. */
	if (http == 401) {
		snprintf(f->message, sizeof f->message, "%s",
			 f->reason[0] ? "the API key was not accepted" : "no API key accepted");
	}
}
