/* Image generation: runs a plan's n images on its provider (Gemini or an
 * OpenAI-compatible API over HTTP, in parallel, with retries and backoff; or
 * the offline renderer) and collects each image or its error. */
#ifndef IMAGEGW_GENERATE_H
#define IMAGEGW_GENERATE_H

#include "buf.h"
#include "err.h"

struct config;
struct sqlite3;
struct gen_plan;
struct gen_req;

struct gen_image {
	/* The image as canonical base64, as b64_json carries it.  It points into
	 * store (often the whole upstream answer, kept to avoid copying
	 * multi-megabyte strings); valid until generate_result_free. */
	const char *b64;
	size_t b64_len;
	struct buf store;
	int slot;	  /* which of the request's n images this is */
	const char *mime; /* sniffed from the bytes */
	const char *ext;
	struct img_error err; /* err.code == IMG_OK when this image exists */
	int attempts;
	long generation_ms;
};

struct gen_result {
	int n;
	struct gen_image *images; /* n entries, in the order of the slots asked for */
	int succeeded;
	int retry_count;	/* retries over all slots */
	long generation_ms;	/* wall time of the whole upstream phase */
	char account[64];	/* label of the last upstream key used */
	int upstream_status;	/* last HTTP status seen from upstream */
	char finish_reason[40]; /* of the first failure, if any */
	const char *provider;	/* "gemini", "openai" or "local" */
};

/* Runs the plan for the given slots (slot numbers 0..n-1; NULL: all of the
 * plan's n).  Returns IMG_OK when at least one image was made; otherwise the
 * first failing slot's error (also copied to e).  request_id is used in
 * upstream log events.  Free res with generate_result_free in every case. */
enum img_err generate_run(const struct config *cfg, struct sqlite3 *db, const struct gen_plan *p,
			  const struct gen_req *r, const int *slots, int count,
			  const char *request_id, struct gen_result *res, struct img_error *e);
void generate_result_free(struct gen_result *res);

#endif
