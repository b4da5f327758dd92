/* What the image handlers share (generations, edits; later jobs): from a
 * validated request to the OpenAI-shaped answer, so every route that makes
 * images answers with the same body, headers and after-reply storing. */
#ifndef IMAGEGW_IMAGES_H
#define IMAGEGW_IMAGES_H

#include "genreq.h"
#include "route.h"

/* Produces r's images and renders the answer into c->rp: the content filter
 * on the prompt, a client key's minimum safety, the daily image budget, the
 * cache mode (Cache-Control, r->no_store), produce_run, the request log
 * fields, the X-Imagegw-* headers and the JSON body (b64_json, a signed url
 * or a data: URI per image; "errors" for failed slots).  Fresh images are
 * stored after the reply (it sets c->after_send).  Returns IMG_OK, or the
 * error with c->err filled.  r stays the caller's to free: nothing in the
 * reply points into it. */
enum img_err images_respond(struct ctx *c, struct gen_req *r);

#endif
