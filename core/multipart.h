/* A push parser for multipart/form-data bodies (RFC 7578 over RFC 2046):
 * the body may arrive in chunks of any size, limits are enforced as bytes
 * arrive, and every part is collected in memory.  No FastCGI knowledge. */
#ifndef IMAGEGW_MULTIPART_H
#define IMAGEGW_MULTIPART_H
#include <stddef.h>

#include "buf.h"
#include "err.h"

/* A zero (or negative) field takes the default in brackets. */
struct multipart_limits {
	size_t max_part_bytes;	 /* data of one file part [20 MiB] */
	size_t max_total_bytes;	 /* every byte fed, preamble to epilogue [300 MiB] */
	int max_files;		 /* file parts [14] */
	int max_parts;		 /* all parts [64] */
	size_t max_header_bytes; /* one part's header block [8 KiB] */
	size_t max_field_bytes;	 /* data of one text field [64 KiB] */
};

struct multipart_part {
	char name[64];	       /* Content-Disposition name, never empty */
	char filename[256];    /* "" when none; cut at a UTF-8 boundary if longer */
	char content_type[96]; /* declared Content-Type as sent ("" if none); truncated */
	struct buf data;       /* the bytes; data.data is never NULL and NUL-terminated */
	int is_file;	       /* a filename was given, or a Content-Type not text/... */
};

struct multipart;

/* Extracts the boundary parameter of a "multipart/form-data" Content-Type value into
 * out (NUL-terminated).  0, or -1 if it is another type, has no (or two) boundary
 * parameters, the boundary is not 1..70 RFC 2046 characters, or out is too small. */
int multipart_boundary(const char *content_type, char *out, size_t len);

/* A parser for one body.  lim may be NULL (all defaults).  NULL if the boundary is not
 * valid per RFC 2046.  Free with multipart_free. */
struct multipart *multipart_new(const char *boundary, const struct multipart_limits *lim);
/* Feeds the next n bytes of the body.  IMG_OK, or IMG_INVALID_REQUEST /
 * IMG_PAYLOAD_TOO_LARGE with e filled; after a failure every later call returns the
 * same error. */
enum img_err multipart_feed(struct multipart *m, const char *data, size_t n, struct img_error *e);
/* Ends the body: IMG_OK once the closing "--boundary--" was seen, else the error. */
enum img_err multipart_finish(struct multipart *m, struct img_error *e);
void multipart_free(struct multipart *m);

/* The parts, in body order; complete after multipart_finish returned IMG_OK.  The
 * pointers stay valid until multipart_free.  multipart_part is NULL past the end.
 * Between feeds they show the parts so far (a part appears once its headers are
 * read; the last may still be growing), so a caller can refuse a body early; such
 * pointers are valid only until the next feed. */
size_t multipart_count(const struct multipart *m);
const struct multipart_part *multipart_part(const struct multipart *m, size_t i);
/* Moves part i's data into *out (freed first) without copying; the part is left
 * with empty data. */
void multipart_take(struct multipart *m, size_t i, struct buf *out);
/* The first part named name (exact match), or NULL. */
const struct multipart_part *multipart_field(const struct multipart *m, const char *name);

/* 1 for the part names that carry an input image on /v1/images/edits: "image",
 * "image[]", "image1".."image14", "image[0]".."image[13]"; 0 otherwise ("mask" too). */
int multipart_is_image_name(const char *name);

#endif
