/* The OpenAI Images wire format (SPEC 3.8, reference B): each model's fixed
 * sizes and qualities, the generations JSON body and the edits
 * multipart/form-data body built from a plan, reading an ImagesResponse
 * (b64_json, url or data: URI) and reading an error envelope with its
 * rate-limit headers.  Beside core/gemini.c, the other codec. */
#ifndef IMAGEGW_OPENAI_H
#define IMAGEGW_OPENAI_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

struct gen_plan;
struct gen_req;
struct json;
struct upstream_fault;

/* Which rule set a model follows: dall-e-2, dall-e-3, or GPT image (every
 * other id, gpt-image-1 and the ids of openai_models). */
enum openai_family { OPENAI_DALLE2, OPENAI_DALLE3, OPENAI_GPT_IMAGE };
enum openai_family openai_family_of(const char *model);

/* The aspect ratios of a model's fixed sizes ("1:1", "7:4", "4:7" for
 * dall-e-3), NULL-terminated, static. */
const char *const *openai_ratios(const char *model);

/* Chooses the size sent upstream (SPEC 3.3's order: aspect_ratio, size, the
 * first input image, 1:1; the nearest allowed size in log-ratio, then in long
 * edge) and fills p->upstream_size, p->aspect_ratio (the chosen size's ratio,
 * "7:4") and p->image_size (1K/2K by long edge).  size "auto" on a GPT image
 * model with nothing else deciding sends "auto" (ratio "auto", no image_size).
 * p->model must be resolved. */
void openai_pick_size(const struct gen_req *r, double first_image_ratio, struct gen_plan *p);

/* 1 when the model takes quality (style) as a field; otherwise the request's
 * value becomes the prompt clause of SPEC 3.4. */
int openai_native_quality(const char *model);
int openai_native_style(const char *model);
/* The value sent for a request's quality / style, or NULL to send none. */
const char *openai_wire_quality(const char *model, const char *quality);
const char *openai_wire_style(const char *model, const char *style);

/* The checks the upstream would make, before any call: prompt length per
 * model, which models edit, dall-e-2's one square PNG.  IMG_OK, or the error
 * with its param. */
enum img_err openai_check(const struct gen_plan *p, const struct gen_req *r, struct img_error *e);

/* Appends {base}/v1/images/generations, or .../edits when edit is set; base
 * may end in "/" or "/v1". */
void openai_url(struct buf *out, const char *base, int edit);
/* Appends the JSON body of one image (n = 1) of a generation. */
void openai_build_generation(struct buf *out, const struct gen_plan *p, const struct gen_req *r);
/* Appends the multipart/form-data body of one image of an edit (r->ninputs >
 * 0) with the given boundary. */
void openai_build_edit(struct buf *out, const char *boundary, const struct gen_plan *p,
		       const struct gen_req *r);
/* The Content-Type header ("Name: value\n") and body every attempt of a
 * request sends: JSON for a generation, multipart with a fresh random
 * boundary for an edit.  The key goes in per attempt, as a Bearer token. */
void openai_build_request(struct buf *headers, struct buf *body, const struct gen_plan *p,
			  const struct gen_req *r);

struct openai_answer {
	/* The image as canonical base64, pointing into the parsed body or into
	 * b64_fixed; or NULL and url set when the answer links to the image. */
	const char *b64;
	size_t b64_len;
	const char *mime; /* sniffed: image/png, image/jpeg, image/webp */
	const char *ext;
	const char *url;	    /* http(s) link to fetch the image from, or NULL */
	const char *revised_prompt; /* the upstream's rewrite (dall-e-3), or NULL */
	/* private */
	struct json *tree;
	struct buf b64_fixed;
	struct buf copy;
};

/* Reads a 200 ImagesResponse: data[0]'s b64_json (checked and sniffed), or
 * its url (a data: URI is decoded here; an http(s) one is left in a->url).
 * IMG_OK; IMG_NO_IMAGE when data holds no image; IMG_UPSTREAM_ERROR for an
 * answer that is not valid.  The _inplace form parses body in place (it must
 * outlive a).  Free a with openai_answer_free in every case. */
enum img_err openai_parse_answer(const char *body, size_t len, struct openai_answer *a,
				 struct img_error *e);
enum img_err openai_parse_answer_inplace(char *body, size_t len, struct openai_answer *a,
					 struct img_error *e);
void openai_answer_free(struct openai_answer *a);

/* 1 when the gateway may fetch an image link from an upstream at base: an
 * https URL, or an http one when base itself is plain http (a local mock or
 * server).  Anything else (file:, ftp:, a bare path) is refused. */
int openai_url_allowed(const char *url, const char *base);

/* Reads an OpenAI error answer (body and the response header block) into f:
 * kind (401 key rejected, 403 denied, insufficient_quota /
 * billing_hard_limit_reached out of credit, content_policy_violation /
 * moderation_blocked safety), type, code, message and retry_delay from
 * retry-after-ms, Retry-After or x-ratelimit-reset-*. */
void openai_parse_error(int http, const char *body, size_t len, const char *headers,
			struct upstream_fault *f);
/* Parses an x-ratelimit-reset duration ("1s", "6m0s", "20ms", "1h2m3.5s")
 * in seconds; -1 if malformed. */
double openai_parse_reset(const char *s);

#endif
