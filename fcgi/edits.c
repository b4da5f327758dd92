/* POST /v1/images/edits (SPEC 2.2): the multipart/form-data body is fed to
 * core/multipart.c as it is read from the web server, so every limit trips
 * while reading, not after; the images are sniffed and measured, the text
 * fields validated by genreq's rules, and the rest is images_respond, as for
 * generations. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "genreq.h"
#include "hash.h"
#include "image.h"
#include "images.h"
#include "multipart.h"
#include "route.h"
#include "xalloc.h"

/* Files an edit may upload: the input images and one mask. */
#define EDIT_MAX_FILES (GEN_MAX_INPUTS + 1)
/* Room for the text fields, part headers and boundaries beside the files. */
#define EDIT_FORM_SLACK ((size_t)1 << 20)
/* Bytes needed to tell a PNG, JPEG or WebP apart (image_sniff). */
#define SNIFF_BYTES 12

/* The parser's limits from max_upload_mb: each file at most that, and the
 * whole body at most every file at its largest plus the slack. */
static void edit_limits(const struct config *cfg, struct multipart_limits *lim)
{
	memset(lim, 0, sizeof *lim); /* zero: the parser's defaults */
	lim->max_part_bytes = (size_t)cfg->max_upload_mb << 20;
	lim->max_files = EDIT_MAX_FILES;
	lim->max_total_bytes = lim->max_part_bytes * EDIT_MAX_FILES + EDIT_FORM_SLACK;
}

enum part_kind { PART_FIELD, PART_IMAGE, PART_MASK };

/* What is known of the parts read so far. */
struct edit_scan {
	size_t seen;	/* parts classified */
	size_t sniffed; /* parts whose first bytes were checked */
	int images, masks;
	enum part_kind kind[64]; /* by part index (the parser allows 64) */
	int image_no[64];	 /* an image part's position among the images */
};

/* The name an error gives a part: "image[]" sent three times is image[0],
 * image[1] and image[2], as the client built the list. */
static void part_label(const struct multipart_part *p, int image_no, char *out, size_t len)
{
	if (strcmp(p->name, "image[]") == 0)
		snprintf(out, len, "image[%d]", image_no);
	else
		snprintf(out, len, "%s", p->name);
}

/* Refuses a part that is not the image it claims to be, from its first
 * bytes (the declared Content-Type is never trusted). */
static enum img_err sniff_part(const struct multipart_part *p, enum part_kind kind, int image_no,
			       struct img_error *e)
{
	char label[72];
	const char *ext;
	const char *mime = image_sniff(p->data.data, p->data.len, &ext);
	part_label(p, image_no, label, sizeof label);
	if (!mime)
		return err_set(e, IMG_INVALID_REQUEST, label,
			       "The part '%s' is not an image: PNG, JPEG and WebP are accepted "
			       "(checked from its bytes, not its Content-Type).",
			       label);
	if (kind == PART_MASK && strcmp(ext, "png") != 0)
		return err_set(e, IMG_INVALID_REQUEST, "mask",
			       "The mask must be a PNG (its transparent pixels mark the area to "
			       "change); this one is %s.",
			       mime);
	return IMG_OK;
}

/* Looks at the parts that appeared since the last feed: too many images, a
 * second mask, a file under a name this route does not take, or a file
 * whose first bytes are not an image stop the upload at once. */
static enum img_err scan_parts(struct multipart *m, struct edit_scan *s, int finished,
			       struct img_error *e)
{
	size_t count = multipart_count(m);
	for (; s->seen < count && s->seen < 64; s->seen++) {
		const struct multipart_part *p = multipart_part(m, s->seen);
		enum part_kind kind = PART_FIELD;
		if (multipart_is_image_name(p->name)) {
			kind = PART_IMAGE;
			s->image_no[s->seen] = s->images++;
			if (s->images > GEN_MAX_INPUTS)
				return err_set(e, IMG_INVALID_REQUEST, "image",
					       "Too many images: at most %d are accepted.",
					       GEN_MAX_INPUTS);
		} else if (strcmp(p->name, "mask") == 0) {
			kind = PART_MASK;
			if (++s->masks > 1)
				return err_set(e, IMG_INVALID_REQUEST, "mask",
					       "Only one mask is accepted.");
		} else if (p->is_file) {
			return err_set(
				e, IMG_INVALID_REQUEST, p->name,
				"The file part '%.63s' is not one this route takes: images go "
				"in 'image' (or 'image[]', 'image1'...'image%d'), the mask in "
				"'mask'.",
				p->name, GEN_MAX_INPUTS);
		}
		s->kind[s->seen] = kind;
	}
	/* A part is judged once it has enough bytes, or has ended. */
	for (; s->sniffed < s->seen; s->sniffed++) {
		const struct multipart_part *p = multipart_part(m, s->sniffed);
		int complete = finished || s->sniffed + 1 < count;
		if (!complete && p->data.len < SNIFF_BYTES)
			break;
		if (s->kind[s->sniffed] == PART_FIELD)
			continue;
		enum img_err rc = sniff_part(p, s->kind[s->sniffed], s->image_no[s->sniffed], e);
		if (rc != IMG_OK)
			return rc;
	}
	return IMG_OK;
}

/* A file over max_upload_mb: the parser names the part as sent; one of an
 * "image[]" list is named by its position, and the remedy gives the limit. */
static void explain_too_large(const struct config *cfg, struct multipart *m, struct img_error *e)
{
	size_t count = multipart_count(m);
	int k = -1;
	for (size_t i = 0; i < count; i++)
		k += multipart_is_image_name(multipart_part(m, i)->name);
	if (strcmp(e->param, "image[]") == 0)
		snprintf(e->param, sizeof e->param, "image[%d]", k);
	snprintf(e->remedy, sizeof e->remedy,
		 "Send each image and the mask at most %d MiB (max_upload_mb), and at most %d "
		 "images.",
		 cfg->max_upload_mb, GEN_MAX_INPUTS);
}

/* Reads the body into the parser, chunk by chunk as the web server sends
 * it; stops at the first limit or malformed byte (serve_one drains or
 * abandons the rest). */
static enum img_err read_form(struct ctx *c, struct multipart *m, struct edit_scan *s)
{
	char chunk[65536];
	enum img_err rc;
	for (;;) {
		long n = http_body_read(c->rq, chunk, sizeof chunk);
		if (n < 0)
			return err_set(&c->err, IMG_INVALID_REQUEST, NULL,
				       "The request body could not be read to its end.");
		if (n == 0)
			break;
		rc = multipart_feed(m, chunk, (size_t)n, &c->err);
		if (rc == IMG_PAYLOAD_TOO_LARGE)
			explain_too_large(&c->app->cfg, m, &c->err);
		if (rc == IMG_OK)
			rc = scan_parts(m, s, 0, &c->err);
		if (rc != IMG_OK)
			return rc;
	}
	rc = multipart_finish(m, &c->err);
	if (rc == IMG_OK)
		rc = scan_parts(m, s, 1, &c->err);
	return rc;
}

/* Moves one uploaded file out of the parser into in, with its type, pixel
 * size and SHA-256. */
static enum img_err take_input(struct multipart *m, size_t i, int image_no, struct gen_input *in,
			       struct img_error *e)
{
	char label[72];
	unsigned char d[32];
	part_label(multipart_part(m, i), image_no, label, sizeof label);
	multipart_take(m, i, &in->bytes);
	in->mime = image_sniff(in->bytes.data, in->bytes.len, &in->ext);
	if (!in->mime || image_dims(in->bytes.data, in->bytes.len, &in->width, &in->height) != 0)
		return err_set(e, IMG_INVALID_REQUEST, label,
			       "The image '%s' could not be read: its header is damaged or cut "
			       "short.",
			       label);
	/* A phone's portrait photo is often stored sideways with an Exif note
	 * to turn it: the size that counts (for the ratio, for the mask) is the
	 * one people see. */
	if (image_orientation(in->bytes.data, in->bytes.len) >= 5) {
		int w = in->width;
		in->width = in->height;
		in->height = w;
	}
	hash_sha256(in->bytes.data, in->bytes.len, d);
	hash_hex(d, sizeof d, in->sha256);
	return IMG_OK;
}

/* A mask marks pixels of the first image, so it must have that image's
 * size, and transparent pixels to mark them with (OpenAI's rules too). */
static enum img_err check_mask(const struct gen_req *r, struct img_error *e)
{
	const struct gen_input *mk = r->mask, *first = &r->inputs[0];
	if (!mk)
		return IMG_OK;
	if (mk->width != first->width || mk->height != first->height)
		return err_set(e, IMG_INVALID_REQUEST, "mask",
			       "The mask is %dx%d but the image it applies to is %dx%d; they must "
			       "be the same size.",
			       mk->width, mk->height, first->width, first->height);
	if (image_png_has_alpha(mk->bytes.data, mk->bytes.len) != 1)
		return err_set(e, IMG_INVALID_REQUEST, "mask",
			       "The mask has no transparency: make the area to change transparent "
			       "(a PNG with an alpha channel).");
	return IMG_OK;
}

/* The parsed form into r: text fields by genreq's rules, then the images in
 * upload order and the mask. */
static enum img_err build_request(struct ctx *c, struct multipart *m, const struct edit_scan *s,
				  struct gen_req *r)
{
	size_t count = multipart_count(m), nf = 0;
	struct genreq_field *fields = xcalloc(count ? count : 1, sizeof *fields);
	for (size_t i = 0; i < count; i++) {
		const struct multipart_part *p = multipart_part(m, i);
		if (s->kind[i] == PART_FIELD)
			fields[nf++] = (struct genreq_field){p->name, p->data.data, p->data.len};
	}
	enum img_err rc = genreq_parse_form(&c->app->cfg, fields, nf, r, &c->err);
	free(fields);
	if (rc != IMG_OK)
		return rc;
	if (s->images == 0)
		return err_set(&c->err, IMG_INVALID_REQUEST, "image",
			       "An edit needs at least one image: send it as 'image' (or "
			       "'image[]' for several).");
	r->inputs = xcalloc((size_t)s->images, sizeof *r->inputs);
	for (size_t i = 0; i < count; i++) {
		struct gen_input *in;
		if (s->kind[i] == PART_IMAGE) {
			in = &r->inputs[r->ninputs++];
		} else if (s->kind[i] == PART_MASK) {
			in = r->mask = xcalloc(1, sizeof *r->mask);
		} else {
			continue;
		}
		rc = take_input(m, i, s->image_no[i], in, &c->err);
		if (rc != IMG_OK)
			return rc;
	}
	return check_mask(r, &c->err);
}

enum img_err images_edits(struct ctx *c)
{
	const struct config *cfg = &c->app->cfg;
	struct multipart_limits lim;
	struct edit_scan *s = xcalloc(1, sizeof *s);
	struct multipart *m = NULL;
	struct gen_req r;
	char boundary[72];
	enum img_err rc;

	memset(&r, 0, sizeof r);
	edit_limits(cfg, &lim);
	if (multipart_boundary(c->rq->content_type, boundary, sizeof boundary) != 0) {
		rc = err_set(&c->err, IMG_INVALID_REQUEST, NULL,
			     "The body must be multipart/form-data with a boundary (got "
			     "Content-Type '%.60s').",
			     c->rq->content_type[0] ? c->rq->content_type : "none");
		goto out;
	}
	/* A body announced larger than any valid upload is refused unread. */
	if (c->rq->content_length > 0 && (size_t)c->rq->content_length > lim.max_total_bytes) {
		rc = err_set(&c->err, IMG_PAYLOAD_TOO_LARGE, NULL,
			     "The upload is %ld bytes; at most %zu are accepted (%d files of "
			     "max_upload_mb = %d MiB, and 1 MiB of fields).",
			     c->rq->content_length, lim.max_total_bytes, EDIT_MAX_FILES,
			     cfg->max_upload_mb);
		explain_too_large(cfg, NULL, &c->err);
		goto out;
	}
	m = multipart_new(boundary, &lim);
	rc = read_form(c, m, s);
	if (rc == IMG_OK)
		rc = build_request(c, m, s, &r);
	/* The upload's parts are in r now, or no longer needed. */
	multipart_free(m);
	m = NULL;
	if (rc == IMG_OK)
		rc = images_respond(c, &r);
out:
	multipart_free(m);
	genreq_free(&r);
	free(s);
	return rc;
}
