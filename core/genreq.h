/* A generation request as the gateway understands it: the JSON body of
 * POST /v1/images/generations (SPEC 2.1), or the text fields of a
 * POST /v1/images/edits form (SPEC 2.2), parsed and validated by the same
 * rules into a plain struct, each bad field reported by name. */
#ifndef IMAGEGW_GENREQ_H
#define IMAGEGW_GENREQ_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

struct config;

/* Input images an edit may carry (SPEC 2.2), not counting the mask. */
#define GEN_MAX_INPUTS 14

/* One uploaded file of POST /v1/images/edits (SPEC 2.2): an input image or
 * the mask.  Filled by the edits handler from the multipart body. */
struct gen_input {
	struct buf bytes; /* the file as uploaded */
	const char *mime; /* sniffed from the bytes: image/png, image/jpeg, image/webp */
	const char *ext;  /* png, jpg, webp */
	char sha256[65];  /* hex SHA-256 of the bytes (part of the cache key) */
	int width, height;
};

struct gen_req {
	char *prompt;
	char *model; /* NULL: the configured default */
	int n;
	char *size;	    /* NULL, "auto", "WxH" or "W:H" (validated) */
	char *aspect_ratio; /* NULL or "W:H" (validated syntax) */
	char *image_size;   /* NULL or "1K"/"2K"/"4K" (canonical) */
	char *quality;	    /* NULL or lower-case choice */
	char *style;	    /* NULL or "vivid"/"natural" */
	int response_url;   /* response_format=url */
	int safety;	    /* enum safety_level, or -1 when not given */
	int has_seed;
	long long seed;
	char *user;
	int no_store; /* body "cache": false */
	/* Edits only (NULL / 0 for generations): the input images in upload
	 * order, and the optional mask.  Owned by the request. */
	struct gen_input *inputs;
	int ninputs;
	struct gen_input *mask;
};

/* Parses and validates a JSON body.  Returns IMG_OK, or an error with the
 * offending field in e->param.  The strings in r are owned by r: free with
 * genreq_free (also after a failure). */
enum img_err genreq_parse_json(const struct config *cfg, const char *body, size_t len,
			       struct gen_req *r, struct img_error *e);
/* One text field of a multipart/form-data body: value[0..len) need not be
 * NUL-terminated (it may even hold NULs, which are refused). */
struct genreq_field {
	const char *name;
	const char *value;
	size_t len;
};
/* The same rules for a form, where every value is text: n and seed are
 * decimal integers ("2"), cache is "true" or "false", and text must be valid
 * UTF-8.  The first field of a name counts; unknown names are ignored.
 * inputs/mask are left empty for the caller.  Free r with genreq_free. */
enum img_err genreq_parse_form(const struct config *cfg, const struct genreq_field *fields,
			       size_t n, struct gen_req *r, struct img_error *e);
void genreq_free(struct gen_req *r);
/* Number of Unicode code points in valid UTF-8 text. */
size_t genreq_utf8_chars(const char *s, size_t n);

#endif
