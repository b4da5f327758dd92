/* Gemini request/answer codec.  Answers are read defensively: content, parts
 * and candidates may each be missing, and the declared mimeType may lie, so
 * the image bytes are sniffed. */
#include "gemini.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "genreq.h"
#include "image.h"
#include "json.h"
#include "plan.h"
#include "safety.h"

void gemini_url(struct buf *out, const char *base, const char *model)
{
	size_t bl = strlen(base);
	while (bl > 0 && base[bl - 1] == '/')
		bl--;
	buf_append(out, base, bl);
	buf_printf(out, "/v1beta/models/%s:generateContent", model);
}

const char gemini_mask_text[] =
	"The next image is a mask for the first image. Its transparent pixels mark the area to "
	"change; everything else must stay exactly as it is in the first image.";

/* One inline image part, base64-encoded straight into the body. */
static void put_inline(struct buf *out, const struct gen_input *in)
{
	buf_puts(out, ",{\"inlineData\":{\"mimeType\":");
	json_put_cstr(out, in->mime);
	buf_puts(out, ",\"data\":\"");
	b64_encode(out, in->bytes.data, in->bytes.len);
	buf_puts(out, "\"}}");
}

void gemini_build_request(struct buf *out, const struct gen_plan *p, const struct gen_req *r)
{
	/* One allocation for the whole body: the images are most of it, and
	 * each is encoded once, in place. */
	size_t need = 1024 + 6 * strlen(p->revised_prompt) + sizeof gemini_mask_text;
	for (int i = 0; i <= r->ninputs; i++) {
		const struct gen_input *in = i < r->ninputs ? &r->inputs[i] : r->mask;
		if (in)
			need += 64 + (in->bytes.len + 2) / 3 * 4;
	}
	buf_grow(out, need);
	buf_puts(out, "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":");
	json_put_cstr(out, p->revised_prompt);
	buf_putc(out, '}');
	/* Edits: the images in upload order, then the mask, which Gemini has no
	 * field for: it goes as one more image, explained in words just before. */
	for (int i = 0; i < r->ninputs; i++)
		put_inline(out, &r->inputs[i]);
	if (r->mask) {
		buf_puts(out, ",{\"text\":");
		json_put_cstr(out, gemini_mask_text);
		buf_putc(out, '}');
		put_inline(out, r->mask);
	}
	buf_puts(out, "]}],\"generationConfig\":{\"responseModalities\":[\"TEXT\",\"IMAGE\"]");
	buf_puts(out, ",\"imageConfig\":{\"aspectRatio\":");
	json_put_cstr(out, p->aspect_ratio);
	if (p->send_image_size) {
		buf_puts(out, ",\"imageSize\":");
		json_put_cstr(out, p->image_size);
	}
	buf_putc(out, '}');
	if (r->has_seed) { /* Gemini's seed is an int32: fold larger values into range */
		long long seed = r->seed;
		if (seed < -2147483647LL - 1 || seed > 2147483647LL)
			seed = (long long)((unsigned long long)seed & 0x7fffffffULL);
		buf_printf(out, ",\"seed\":%lld", seed);
	}
	buf_puts(out, "},\"safetySettings\":[");
	const char *threshold = safety_gemini_threshold(p->safety);
	for (int i = 0; safety_gemini_categories[i]; i++)
		buf_printf(out, "%s{\"category\":\"%s\",\"threshold\":\"%s\"}", i ? "," : "",
			   safety_gemini_categories[i], threshold);
	buf_puts(out, "]}");
}

static const char *const blocked_reasons[] = {"IMAGE_SAFETY",
					      "IMAGE_PROHIBITED_CONTENT",
					      "SAFETY",
					      "PROHIBITED_CONTENT",
					      "BLOCKLIST",
					      "SPII",
					      NULL};
static const char *const recitation_reasons[] = {"IMAGE_RECITATION", "RECITATION", NULL};

static int in_list(const char *s, const char *const *list)
{
	for (int i = 0; list[i]; i++)
		if (strcmp(s, list[i]) == 0)
			return 1;
	return 0;
}

static long num(const struct json *obj, const char *key)
{
	const struct json *v = json_get(obj, key);
	if (!v || v->type != JSON_NUMBER || !(v->number >= 0 && v->number < 1e15))
		return 0; /* absent, negative or absurd counts are not usage */
	return (long)v->number;
}

static void read_usage(const struct json *root, struct gemini_answer *a)
{
	const struct json *u = json_get(root, "usageMetadata");
	if (!u || u->type != JSON_OBJECT)
		return;
	a->prompt_tokens = num(u, "promptTokenCount");
	a->output_tokens = num(u, "candidatesTokenCount");
	a->thoughts_tokens = num(u, "thoughtsTokenCount");
	a->total_tokens = num(u, "totalTokenCount");
	const struct json *d = json_get(u, "candidatesTokensDetails");
	for (const struct json *it = d && d->type == JSON_ARRAY ? d->child : NULL; it;
	     it = it->next) {
		const char *m = json_get_str(it, "modality");
		if (m && strcmp(m, "IMAGE") == 0)
			a->image_tokens = num(it, "tokenCount");
	}
	if (!a->image_tokens)
		a->image_tokens = a->output_tokens;
}

static const struct json *inline_data(const struct json *part)
{
	const struct json *d = json_get(part, "inlineData");
	if (!d)
		d = json_get(part, "inline_data");
	return d && d->type == JSON_OBJECT ? d : NULL;
}

/* Builds the no-image error from finishReason/finishMessage and any text. */
static enum img_err no_image(const struct json *cand, const char *text, const char *finish,
			     struct img_error *e)
{
	const char *msg = cand ? json_get_str(cand, "finishMessage") : NULL;
	enum img_err code = IMG_NO_IMAGE;
	if (in_list(finish, blocked_reasons))
		code = IMG_SAFETY_BLOCKED;
	else if (in_list(finish, recitation_reasons))
		code = IMG_RECITATION_BLOCKED;
	if (code == IMG_NO_IMAGE)
		err_set(e, code, NULL, "The model answered without an image%s%s%s%.300s",
			finish[0] ? " (" : "", finish, finish[0] ? ")" : "",
			text && text[0] ? ": " : ".");
	else
		err_set(e, code, NULL, "The upstream %s (%s)%s%.300s",
			code == IMG_SAFETY_BLOCKED ? "safety system blocked the image"
						   : "blocked the image as possible recitation",
			finish, msg ? ": " : ".", msg ? msg : "");
	if (code == IMG_NO_IMAGE && text && text[0]) {
		size_t l = strlen(e->message);
		snprintf(e->message + l, sizeof e->message - l, "%.300s", text);
	}
	snprintf(e->finish_reason, sizeof e->finish_reason, "%s", finish);
	return code;
}

/* Points a at the image's base64 after checking it: canonical text is used
 * as it is; anything else (whitespace, missing padding) is decoded and
 * re-encoded.  The first bytes are decoded to sniff the real format. */
static enum img_err take_image(const struct json *data, struct gemini_answer *a,
			       struct img_error *e)
{
	int rc = image_b64_check(data->str, data->str_len, &a->b64_fixed, &a->b64, &a->b64_len,
				 &a->mime, &a->ext);
	if (rc == -1)
		return err_set(e, IMG_UPSTREAM_ERROR, NULL,
			       "The upstream image was not valid base64.");
	if (rc != 0)
		return err_set(
			e, IMG_UPSTREAM_ERROR, NULL,
			"The upstream returned bytes that are not a PNG, JPEG or WebP image.");
	return IMG_OK;
}

enum img_err gemini_parse_answer(const char *body, size_t len, struct gemini_answer *a,
				 struct img_error *e)
{
	struct buf copy = BUF_INIT;
	buf_append(&copy, body, len);
	enum img_err rc = gemini_parse_answer_inplace(copy.data, copy.len, a, e);
	a->copy = copy;
	return rc;
}

enum img_err gemini_parse_answer_inplace(char *body, size_t len, struct gemini_answer *a,
					 struct img_error *e)
{
	memset(a, 0, sizeof *a);
	err_clear(e);
	struct json_error je;
	struct json *root = json_parse_inplace(body, len, &je);
	a->tree = root;
	if (!root || root->type != JSON_OBJECT)
		return err_set(e, IMG_UPSTREAM_ERROR, NULL,
			       "The upstream answer was not valid JSON.");
	read_usage(root, a);

	const struct json *fb = json_get(root, "promptFeedback");
	const char *block = fb ? json_get_str(fb, "blockReason") : NULL;
	const struct json *cands = json_get(root, "candidates");
	const struct json *cand = cands && cands->type == JSON_ARRAY ? json_at(cands, 0) : NULL;
	const char *finish = cand ? json_get_str(cand, "finishReason") : NULL;
	snprintf(a->finish_reason, sizeof a->finish_reason, "%s", finish ? finish : "");

	/* The last non-thought inline image wins; remember the last non-thought text. */
	const struct json *img = NULL;
	const char *text = NULL;
	const struct json *content = cand ? json_get(cand, "content") : NULL;
	const struct json *parts = content ? json_get(content, "parts") : NULL;
	for (const struct json *pt = parts && parts->type == JSON_ARRAY ? parts->child : NULL; pt;
	     pt = pt->next) {
		const struct json *th = json_get(pt, "thought");
		if (th && th->type == JSON_BOOL && th->boolean)
			continue;
		const struct json *d = inline_data(pt);
		if (d && json_get_str(d, "data"))
			img = d;
		const char *t = json_get_str(pt, "text");
		if (t && t[0])
			text = t;
	}

	if (!img) {
		if (!block)
			return no_image(cand, text, a->finish_reason, e);
		snprintf(a->finish_reason, sizeof a->finish_reason, "%s", block);
		err_set(e, IMG_SAFETY_BLOCKED, NULL,
			"The prompt was blocked by the upstream safety system (%s).", block);
		snprintf(e->finish_reason, sizeof e->finish_reason, "%s", block);
		return IMG_SAFETY_BLOCKED;
	}
	const char *declared = json_get_str(img, "mimeType");
	if (!declared)
		declared = json_get_str(img, "mime_type");
	a->declared = declared && strcmp(declared, "image/png") == 0	? "image/png"
		      : declared && strcmp(declared, "image/jpeg") == 0 ? "image/jpeg"
		      : declared && strcmp(declared, "image/webp") == 0 ? "image/webp"
									: "other";
	return take_image(json_get(img, "data"), a, e);
}

void gemini_answer_free(struct gemini_answer *a)
{
	json_free(a->tree);
	buf_free(&a->b64_fixed);
	buf_free(&a->copy);
	a->tree = NULL;
	a->b64 = NULL;
}

double gemini_parse_duration(const char *s)
{
	char *end;
	double v = strtod(s, &end);
	/* "infs", "nans", "1e999s": strtod takes them, a cool-down cannot. */
	if (end == s || !isfinite(v) || v < 0 || strcmp(end, "s") != 0)
		return -1;
	return v;
}

void gemini_parse_error(int http, const char *body, size_t len, struct gemini_fault *f)
{
	memset(f, 0, sizeof *f);
	f->http = http;
	f->retry_delay = -1;
	struct json *root = json_parse(body, len, NULL);
	const struct json *err = root ? json_get(root, "error") : NULL;
	if (!err || err->type != JSON_OBJECT)
		goto out;
	const char *s = json_get_str(err, "status");
	snprintf(f->status, sizeof f->status, "%s", s ? s : "");
	s = json_get_str(err, "message");
	snprintf(f->message, sizeof f->message, "%s", s ? s : "");
	const struct json *det = json_get(err, "details");
	for (const struct json *d = det && det->type == JSON_ARRAY ? det->child : NULL; d;
	     d = d->next) {
		const char *type = json_get_str(d, "@type");
		if (!type)
			continue;
		if (strstr(type, "google.rpc.ErrorInfo")) {
			s = json_get_str(d, "reason");
			snprintf(f->reason, sizeof f->reason, "%s", s ? s : "");
		} else if (strstr(type, "google.rpc.RetryInfo")) {
			s = json_get_str(d, "retryDelay");
			if (s)
				f->retry_delay = gemini_parse_duration(s);
		}
	}
out:
	json_free(root);
}
