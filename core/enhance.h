/* Prompt enhancement (SPEC 2.5): a user's short image prompt rewritten into a
 * richer description, by a Gemini text model when a key is usable (a Gemini
 * API key or a Vertex service account), else by a
 * deterministic offline rewrite.  An optional improvement: it never fails a
 * request, whatever the upstream does. */
#ifndef IMAGEGW_ENHANCE_H
#define IMAGEGW_ENHANCE_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

struct config;
struct sqlite3;

/* The Gemini text model used when the configuration names none. */
#define ENHANCE_MODEL_DEFAULT "gemini-2.5-flash"
/* The model name the response carries when the offline rewrite was used. */
#define ENHANCE_OFFLINE_MODEL "offline"

/* The body of POST /v1/prompts/enhance. */
struct enhance_req {
	char *prompt;
	char *model; /* NULL when absent */
};

/* Parses and validates a JSON body: "prompt" as for generations (required,
 * non-blank, at most max_prompt_chars code points, no NUL), "model" a string
 * when present.  Unknown fields are ignored.  Returns IMG_OK, or an error with
 * the field in e->param.  Free r with enhance_req_free, also after a failure. */
enum img_err enhance_parse_json(const struct config *cfg, const char *body, size_t len,
				struct enhance_req *r, struct img_error *e);
void enhance_req_free(struct enhance_req *r);

struct enhance_result {
	struct buf text;      /* the enhanced prompt (valid UTF-8) */
	char model[96];	      /* the Gemini model that wrote it, or "offline" */
	int fallback;	      /* 1: an upstream attempt failed; text is the offline rewrite */
	const char *provider; /* "gemini" or "vertex" when a call was made, else "local" */
	char account[64];     /* the key's (or account's) label, when a call was made */
	int upstream_status;  /* the call's HTTP status, 0 when none arrived */
	long duration_ms;     /* the whole operation */
	struct img_error err; /* why the upstream attempt failed, when fallback */
};

/* Enhances prompt: one generateContent call to a Gemini text model with a key
 * from the pool, taken as for the Gemini image models (gemini_providers: API
 * keys, Vertex service accounts; the model is model_hint when it names a
 * Gemini text model, else the configured one), else the offline rewrite.  A
 * Vertex 401 drops the shared token and the call is made once more with a
 * fresh one.  Any upstream failure (no key free, network, timeout, error
 * status, block, empty or filtered text) is reported to the pool and in one
 * `upstream` log event per attempt, and ends in the offline rewrite with
 * res->fallback = 1; no account configured at all is not a failure
 * (fallback 0).  res is filled in every case; free it with
 * enhance_result_free. */
void enhance_prompt(const struct config *cfg, struct sqlite3 *db, const char *prompt,
		    const char *model_hint, const char *request_id, struct enhance_result *res);
void enhance_result_free(struct enhance_result *res);

/* Reads a 200 answer of a Gemini text model: the first text part of
 * candidates[0] that is not a thought, tidied (blanks collapsed, enclosing
 * quotation marks removed, cut to max_chars at a word boundary) and appended
 * to out.  IMG_OK; IMG_SAFETY_BLOCKED or IMG_RECITATION_BLOCKED for a blocked
 * prompt or answer; IMG_UPSTREAM_ERROR for a body that is not an answer, one
 * that stopped for another reason, or one without text.  finish receives the
 * finishReason (or the blockReason), NUL-terminated. */
enum img_err enhance_read_answer(const char *body, size_t len, size_t max_chars, struct buf *out,
				 char *finish, size_t finish_len, struct img_error *e);

/* The offline rewrite, appended to out: whitespace trimmed and collapsed,
 * the first letter capitalised, and a lighting, a composition and a
 * style/medium clause added where the prompt has no word of that kind, as
 * long as the result stays within max_chars code points.  The same input
 * always gives the same output, and rewriting the output changes nothing. */
void enhance_offline(const char *prompt, size_t max_chars, struct buf *out);

#endif
