/* The Gemini generateContent wire format (reference/gemini-openai-wire.md):
 * building the request body from a plan, reading an answer (SPEC 3.6) and
 * reading an error body (status, reason, RetryInfo). */
#ifndef IMAGEGW_GEMINI_H
#define IMAGEGW_GEMINI_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

struct gen_plan;
struct gen_req;

struct gemini_answer {
	/* The image as canonical base64 (what b64_json answers carry); it points
	 * into the parsed body, or into b64_fixed when the upstream's text had
	 * to be re-encoded.  Valid until gemini_answer_free. */
	const char *b64;
	size_t b64_len;
	const char *mime;     /* sniffed from the bytes: image/png, image/jpeg, image/webp */
	const char *ext;      /* png, jpg, webp */
	const char *declared; /* the mimeType the upstream claimed (static copy) */
	char finish_reason[40];
	long prompt_tokens, output_tokens, image_tokens, thoughts_tokens, total_tokens;
	/* private */
	struct json *tree;
	struct buf b64_fixed;
	struct buf copy;
};

struct gemini_fault {
	int http;
	char status[40]; /* RESOURCE_EXHAUSTED, INVALID_ARGUMENT, ... */
	char reason[48]; /* ErrorInfo reason, e.g. API_KEY_INVALID */
	char message[400];
	double retry_delay; /* RetryInfo.retryDelay in seconds, -1 when absent */
};

/* Appends the generateContent URL for a model under base (no trailing '/'). */
void gemini_url(struct buf *out, const char *base, const char *model);
/* Appends the JSON request body for one image of the plan: the revised
 * prompt, then (edits) r's input images as inline parts in upload order and
 * the mask after gemini_mask_text; r's seed.  Each image is base64-encoded
 * once, into a body grown once.  Every slot of a plan sends the same body. */
void gemini_build_request(struct buf *out, const struct gen_plan *p, const struct gen_req *r);
/* The words that tell the model what the mask image is. */
extern const char gemini_mask_text[];
/* Reads a 200 answer.  IMG_OK with the image in a->b64; otherwise the SPEC
 * 3.6 error (safety, recitation, no image) or IMG_UPSTREAM_ERROR for an answer
 * that is not valid.  Works on a copy of body.  Free a with gemini_answer_free
 * in every case. */
enum img_err gemini_parse_answer(const char *body, size_t len, struct gemini_answer *a,
				 struct img_error *e);
/* The same, parsing body in place (it is modified and must outlive a): saves
 * copying multi-megabyte images. */
enum img_err gemini_parse_answer_inplace(char *body, size_t len, struct gemini_answer *a,
					 struct img_error *e);
void gemini_answer_free(struct gemini_answer *a);
/* Reads a Google error body; fields it lacks stay empty. */
void gemini_parse_error(int http, const char *body, size_t len, struct gemini_fault *f);
/* Parses a protobuf Duration ("47s", "29.72s"); -1 if malformed. */
double gemini_parse_duration(const char *s);

#endif
