/* Unit tests for core/multipart.c: Content-Type boundary extraction, the body shapes
 * the OpenAI SDKs, curl and browsers send, every body fed whole, one byte at a time
 * and in random chunks (the results must agree), limits hit while feeding, malformed
 * structure, and binary data.  Every feed reads an exact-size heap copy, so ASan
 * reports any read past the end. */
#include "../../core/multipart.c"

#include <stdint.h>
#include <stdlib.h>

#include "image.h"
#include "unit.h"
#include "xalloc.h"

/* --- helpers -------------------------------------------------------------- */

static uint32_t rng_state = 2463534242u;

static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

/* Feeds body[0..n) as one piece (mode 0), one byte at a time (mode 1) or in random
 * chunks of 1..max bytes (mode 2), stopping at the first error, then finishes. */
static struct multipart *parse_mode(const char *boundary, const char *body, size_t n,
				    const struct multipart_limits *lim, int mode, size_t max,
				    enum img_err *rc, struct img_error *e)
{
	struct multipart *m = multipart_new(boundary, lim);
	size_t i = 0;

	*rc = IMG_OK;
	err_clear(e);
	if (!m) {
		*rc = IMG_INTERNAL;
		return NULL;
	}
	while (i < n && *rc == IMG_OK) {
		size_t k = mode == 0 ? n - i : mode == 1 ? 1 : 1 + rnd() % max;
		if (k > n - i)
			k = n - i;
		char *copy = xmalloc(k);
		memcpy(copy, body + i, k);
		*rc = multipart_feed(m, copy, k, e);
		free(copy);
		i += k;
	}
	if (*rc == IMG_OK)
		*rc = multipart_finish(m, e);
	return m;
}

static int same_parts(const struct multipart *a, const struct multipart *b)
{
	if (multipart_count(a) != multipart_count(b))
		return 0;
	for (size_t i = 0; i < multipart_count(a); i++) {
		const struct multipart_part *p = multipart_part(a, i), *q = multipart_part(b, i);
		if (strcmp(p->name, q->name) || strcmp(p->filename, q->filename) ||
		    strcmp(p->content_type, q->content_type) || p->is_file != q->is_file ||
		    p->data.len != q->data.len || memcmp(p->data.data, q->data.data, p->data.len))
			return 0;
	}
	return 1;
}

static int split_mismatches;

/* Parses whole, then checks that byte-at-a-time and random chunkings (fixed seeds)
 * give the same code, message, param and parts.  Returns the whole parse. */
static struct multipart *parse_lim(const char *boundary, const char *body, size_t n,
				   const struct multipart_limits *lim, enum img_err *rc,
				   struct img_error *e)
{
	struct multipart *m = parse_mode(boundary, body, n, lim, 0, 0, rc, e);
	static const size_t maxes[] = {2, 3, 7, 64, 4096};

	for (int k = 0; k < 6; k++) {
		enum img_err rc2;
		struct img_error e2;
		rng_state = 12345u + (uint32_t)k;
		struct multipart *m2 = parse_mode(boundary, body, n, lim, k == 0 ? 1 : 2,
						  k ? maxes[k - 1] : 0, &rc2, &e2);
		if (rc2 != *rc || strcmp(e2.message, e->message) || strcmp(e2.param, e->param) ||
		    (rc2 == IMG_OK && !same_parts(m, m2))) {
			fprintf(stderr, "  split %d: rc %d \"%s\" vs whole rc %d \"%s\"\n", k, rc2,
				e2.message, *rc, e->message);
			split_mismatches++;
		}
		multipart_free(m2);
	}
	return m;
}

static struct multipart *parse(const char *boundary, const char *body, size_t n, enum img_err *rc,
			       struct img_error *e)
{
	return parse_lim(boundary, body, n, NULL, rc, e);
}

#define S(lit) lit, sizeof(lit) - 1

/* Parses with default limits; 1 when the result is code with a message containing
 * want (NULL: any). */
static int fails_with(const char *boundary, const char *body, size_t n, enum img_err code,
		      const char *want)
{
	enum img_err rc;
	struct img_error e;
	struct multipart *m = parse(boundary, body, n, &rc, &e);
	int ok = rc == code && e.code == code && (!want || strstr(e.message, want));

	if (!ok)
		fprintf(stderr, "  got rc %d \"%s\", want %d \"%s\"\n", rc, e.message, code,
			want ? want : "");
	multipart_free(m);
	return ok;
}

#define FAILS(body, want) CHECK(fails_with("b", S(body), IMG_INVALID_REQUEST, want))

static int data_is(const struct multipart_part *p, const void *want, size_t n)
{
	return p && p->data.len == n && memcmp(p->data.data, want, n) == 0 &&
	       p->data.data[n] == '\0';
}

#define DATA_IS(p, lit) CHECK(data_is(p, S(lit)))

static const char png[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0"
			  "\x1f\x15\xc4\x89\r\n--not-a-boundary\r\n";
static const char jpeg[] = "\xff\xd8\xff\xe0\0\x10JFIF\0\x01\x01\0\0\x01\0\x01\0\0\r\n";
static const char webp[] = "RIFF\x1a\0\0\0WEBPVP8L\x0d\0\0\0\x2f\0\0\0\x10\x07\x10\x11\x11";

static void add_field(struct buf *b, const char *bd, const char *name, const char *value)
{
	buf_printf(b, "--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n", bd, name,
		   value);
}

static void add_file(struct buf *b, const char *bd, const char *name, const char *filename,
		     const char *ctype, const char *data, size_t n)
{
	buf_printf(b, "--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n",
		   bd, name, filename);
	if (ctype)
		buf_printf(b, "Content-Type: %s\r\n", ctype);
	buf_puts(b, "\r\n");
	buf_append(b, data, n);
	buf_puts(b, "\r\n");
}

/* --- Content-Type -------------------------------------------------------- */

static int boundary_is(const char *ct, const char *want)
{
	char out[71];
	int rc = multipart_boundary(ct, out, sizeof out);

	if (want ? rc != 0 || strcmp(out, want) : rc != -1) {
		fprintf(stderr, "  \"%s\": rc %d \"%s\", want \"%s\"\n", ct, rc, rc ? "" : out,
			want ? want : "(reject)");
		return 0;
	}
	return 1;
}

TEST(boundary_accepts)
{
	CHECK(boundary_is("multipart/form-data; boundary=abc", "abc"));
	CHECK(boundary_is("Multipart/Form-Data; BOUNDARY=abc", "abc"));
	CHECK(boundary_is("multipart/form-data;boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW",
			  "----WebKitFormBoundary7MA4YWxkTrZu0gW"));
	CHECK(boundary_is("multipart/form-data; boundary=8c0fd4d4d2b7412ea1f8fd15a3a3b8c6",
			  "8c0fd4d4d2b7412ea1f8fd15a3a3b8c6"));
	CHECK(boundary_is("multipart/form-data; boundary=------------------------d74496d66958873e",
			  "------------------------d74496d66958873e"));
	CHECK(boundary_is("multipart/form-data; boundary=\"a b:c\"", "a b:c"));
	CHECK(boundary_is("multipart/form-data; boundary=\"ab\\c\"", "abc"));
	CHECK(boundary_is("multipart/form-data; boundary=----=_Part_0_1.2", "----=_Part_0_1.2"));
	CHECK(boundary_is("multipart/form-data; charset=utf-8; boundary=xyz", "xyz"));
	CHECK(boundary_is("multipart/form-data; boundary=xyz; charset=utf-8", "xyz"));
	CHECK(boundary_is("multipart/form-data; boundary=\"xyz\";charset=\"utf-8\"", "xyz"));
	CHECK(boundary_is("  multipart/form-data ;  boundary = xyz  ", "xyz"));
	CHECK(boundary_is("multipart/form-data;\tboundary=xyz;", "xyz"));
	CHECK(boundary_is("multipart/form-data; foo=\"x;boundary=evil\"; boundary=good", "good"));
	CHECK(boundary_is("multipart/form-data; flag; boundary=z", "z"));
	CHECK(boundary_is("multipart/form-data; boundary=\"'()+_,-./:=? x\"", "'()+_,-./:=? x"));
	char ct[128];
	snprintf(ct, sizeof ct, "multipart/form-data; boundary=%070d", 7);
	CHECK(boundary_is(ct, ct + 30));
}

TEST(boundary_rejects)
{
	CHECK(boundary_is("multipart/mixed; boundary=a", NULL));
	CHECK(boundary_is("application/json", NULL));
	CHECK(boundary_is("application/x-www-form-urlencoded; boundary=a", NULL));
	CHECK(boundary_is("multipart/form-data", NULL));
	CHECK(boundary_is("multipart/form-data;", NULL));
	CHECK(boundary_is("multipart/form-datax; boundary=a", NULL));
	CHECK(boundary_is("multipart/form-data boundary=a", NULL));
	CHECK(boundary_is("multipart/form-data; boundary=", NULL));
	CHECK(boundary_is("multipart/form-data; boundary=\"\"", NULL));
	CHECK(boundary_is("multipart/form-data; boundary=\"abc \"", NULL));
	CHECK(boundary_is("multipart/form-data; boundary=\"abc", NULL));
	CHECK(boundary_is("multipart/form-data; boundary=a@b", NULL));
	CHECK(boundary_is("multipart/form-data; boundary=\"a\\\"b\"", NULL));
	CHECK(boundary_is("multipart/form-data; boundary=a; boundary=a", NULL));
	CHECK(boundary_is("multipart/form-data; boundary=a; BOUNDARY=b", NULL));
	CHECK(boundary_is("multipart/form-data; boundary=a b", NULL));
	CHECK(boundary_is("", NULL));
	char ct[160];
	snprintf(ct, sizeof ct, "multipart/form-data; boundary=%071d", 7);
	CHECK(boundary_is(ct, NULL));
	snprintf(ct, sizeof ct, "multipart/form-data; boundary=\"%0100d\"", 7);
	CHECK(boundary_is(ct, NULL));

	char out[4];
	CHECK_INT(multipart_boundary("multipart/form-data; boundary=abcd", out, sizeof out), -1);
	CHECK_INT(multipart_boundary("multipart/form-data; boundary=abc", out, sizeof out), 0);
	CHECK_STR(out, "abc");
	CHECK_INT(multipart_boundary(NULL, out, sizeof out), -1);
	CHECK_INT(multipart_boundary("multipart/form-data; boundary=a", NULL, 4), -1);
	CHECK_INT(multipart_boundary("multipart/form-data; boundary=a", out, 0), -1);

	CHECK(multipart_new("bad\r\n", NULL) == NULL);
	CHECK(multipart_new("", NULL) == NULL);
	CHECK(multipart_new("trailing ", NULL) == NULL);
	CHECK(multipart_new(NULL, NULL) == NULL);
	multipart_free(NULL);
}

/* --- shapes clients send ------------------------------------------------- */

/* openai-python (httpx): 32 hex digits, text fields first, then the file with its
 * filename and Content-Type, and "--boundary--\r\n" at the end. */
TEST(openai_python_single_image)
{
	static const char bd[] = "8c0fd4d4d2b7412ea1f8fd15a3a3b8c6";
	static const char prompt[] = "Ein Fuchs im Schnee \xe2\x80\x94 \xe9\x9b\xaa\xe3\x81\xae"
				     "\xe7\x8b\x90 \xf0\x9f\xa6\x8a";
	struct buf b = BUF_INIT;
	enum img_err rc;
	struct img_error e;

	add_field(&b, bd, "prompt", prompt);
	add_field(&b, bd, "model", "gemini-3-pro-image");
	add_field(&b, bd, "n", "2");
	add_field(&b, bd, "size", "1024x1024");
	add_file(&b, bd, "image", "otter.png", "image/png", png, sizeof png - 1);
	buf_printf(&b, "--%s--\r\n", bd);

	struct multipart *m = parse(bd, b.data, b.len, &rc, &e);
	CHECK_INT(rc, IMG_OK);
	CHECK_INT(multipart_count(m), 5);
	CHECK_STR(buf_cstr(&multipart_field(m, "prompt")->data), prompt);
	CHECK_STR(multipart_field(m, "model")->data.data, "gemini-3-pro-image");
	DATA_IS(multipart_field(m, "n"), "2");
	CHECK(!multipart_field(m, "n")->is_file);
	CHECK_STR(multipart_field(m, "n")->content_type, "");
	const struct multipart_part *img = multipart_field(m, "image");
	CHECK(img && img->is_file);
	CHECK_STR(img->filename, "otter.png");
	CHECK_STR(img->content_type, "image/png");
	CHECK(data_is(img, png, sizeof png - 1));
	CHECK_STR(image_sniff(img->data.data, img->data.len, NULL), "image/png");
	CHECK(multipart_part(m, 4) == img);
	CHECK(multipart_part(m, 5) == NULL);
	multipart_free(m);
	buf_free(&b);
}

/* A list of images goes as repeated "image[]" (openai-python's brackets format), the
 * mask as "mask"; openai-node (undici FormData) uses a ----formdata-undici- boundary. */
TEST(openai_image_list_and_mask)
{
	static const char *const bds[] = {"a1b2c3d4e5f60718293a4b5c6d7e8f90",
					  "----formdata-undici-012345678901"};
	for (int k = 0; k < 2; k++) {
		const char *bd = bds[k];
		struct buf b = BUF_INIT;
		enum img_err rc;
		struct img_error e;

		add_field(&b, bd, "prompt", "Put the hat on the fox");
		add_field(&b, bd, "model", "gpt-image-1");
		add_file(&b, bd, "image[]", "a.png", "image/png", png, sizeof png - 1);
		add_file(&b, bd, "image[]", "b.jpg", "image/jpeg", jpeg, sizeof jpeg - 1);
		add_file(&b, bd, "image[]", "c.webp", "image/webp", webp, sizeof webp - 1);
		add_file(&b, bd, "mask", "mask.png", "image/png", png, sizeof png - 1);
		buf_printf(&b, "--%s--%s", bd, k ? "" : "\r\n");

		struct multipart *m = parse(bd, b.data, b.len, &rc, &e);
		CHECK_INT(rc, IMG_OK);
		CHECK_INT(multipart_count(m), 6);
		int images = 0;
		static const char *const want[] = {"image/png", "image/jpeg", "image/webp"};
		for (size_t i = 0; i < multipart_count(m); i++) {
			const struct multipart_part *p = multipart_part(m, i);
			if (multipart_is_image_name(p->name)) {
				CHECK(p->is_file);
				CHECK_STR(image_sniff(p->data.data, p->data.len, NULL),
					  want[images]);
				images++;
			}
		}
		CHECK_INT(images, 3);
		CHECK(multipart_field(m, "mask")->is_file);
		CHECK_STR(multipart_field(m, "image[]")->filename, "a.png");
		multipart_free(m);
		buf_free(&b);
	}
}

/* curl -F image=@cat.png -F prompt=... (file first, 24 dashes in the boundary); python
 * requests without a Content-Type on the file; a browser's empty file input. */
TEST(curl_requests_browser_shapes)
{
	enum img_err rc;
	struct img_error e;
	static const char bd[] = "------------------------d74496d66958873e";
	struct buf b = BUF_INIT;

	add_file(&b, bd, "image", "cat.png", "image/png", png, sizeof png - 1);
	add_field(&b, bd, "prompt", "A cat in a hat");
	add_file(&b, bd, "image2", "dog.jpg", NULL, jpeg, sizeof jpeg - 1);
	buf_printf(&b, "--%s--\r\n", bd);
	struct multipart *m = parse(bd, b.data, b.len, &rc, &e);
	CHECK_INT(rc, IMG_OK);
	CHECK_INT(multipart_count(m), 3);
	CHECK(data_is(multipart_part(m, 0), png, sizeof png - 1));
	DATA_IS(multipart_field(m, "prompt"), "A cat in a hat");
	CHECK(multipart_field(m, "image2")->is_file);
	CHECK_STR(multipart_field(m, "image2")->content_type, "");
	CHECK(data_is(multipart_field(m, "image2"), jpeg, sizeof jpeg - 1));
	multipart_free(m);
	buf_free(&b);

	static const char browser[] =
		"------WebKitFormBoundary7MA4YWxkTrZu0gW\r\n"
		"Content-Disposition: form-data; name=\"image\"; filename=\"\"\r\n"
		"Content-Type: application/octet-stream\r\n\r\n\r\n"
		"------WebKitFormBoundary7MA4YWxkTrZu0gW\r\n"
		"Content-Disposition: form-data; name=\"prompt\"\r\n\r\n"
		"hello\r\n"
		"------WebKitFormBoundary7MA4YWxkTrZu0gW--\r\n";
	m = parse("----WebKitFormBoundary7MA4YWxkTrZu0gW", S(browser), &rc, &e);
	CHECK_INT(rc, IMG_OK);
	CHECK_INT(multipart_count(m), 2);
	CHECK(multipart_part(m, 0)->is_file);
	CHECK_STR(multipart_part(m, 0)->filename, "");
	CHECK_INT(multipart_part(m, 0)->data.len, 0);
	DATA_IS(multipart_part(m, 1), "hello");
	multipart_free(m);
}

/* --- splitting ------------------------------------------------------------ */

/* A large body of random binary full of CR, LF and '-' bytes and boundary prefixes,
 * fed 1 byte at a time and in random chunks with a fixed seed. */
TEST(split_feeds_binary)
{
	static const char bd[] = "XyZ-boundary";
	struct buf b = BUF_INIT, want[3] = {BUF_INIT, BUF_INIT, BUF_INIT};
	static const char *const pieces[] = {"\r",
					     "\n",
					     "-",
					     "\r\n",
					     "\r\n-",
					     "\r\n--",
					     "\r\n--XyZ",
					     "\r\n--XyZ-boundar",
					     "--XyZ-boundary"};
	enum img_err rc;
	struct img_error e;

	rng_state = 42;
	for (int k = 0; k < 3; k++) {
		for (int i = 0; i < 20000; i++) {
			uint32_t r = rnd();
			if (r % 8 == 0) {
				buf_puts(&want[k], pieces[(r >> 8) % 9]);
			} else {
				char c = (char)(r >> 16);
				buf_append(&want[k], &c, 1);
			}
		}
		/* Whole delimiters (also at the very start, right after the header
		 * block's CRLF) cannot be data: break each one. */
		for (;;) {
			struct buf t = BUF_INIT;
			buf_puts(&t, "\r\n");
			buf_append(&t, want[k].data, want[k].len);
			char *hit = memmem(t.data, t.len, "\r\n--XyZ-boundary", 16);
			if (hit)
				want[k].data[hit - t.data + 15 - 2] = '_';
			buf_free(&t);
			if (!hit)
				break;
		}
		char name[24];
		snprintf(name, sizeof name, "image%d", k + 1);
		add_file(&b, bd, name, "x.bin", "application/octet-stream", want[k].data,
			 want[k].len);
	}
	buf_printf(&b, "--%s--\r\n", bd);

	struct multipart *m = parse(bd, b.data, b.len, &rc, &e);
	CHECK_INT(rc, IMG_OK);
	CHECK_INT(multipart_count(m), 3);
	for (int k = 0; k < 3; k++) {
		CHECK(data_is(multipart_part(m, (size_t)k), want[k].data, want[k].len));
		buf_free(&want[k]);
	}
	multipart_free(m);
	buf_free(&b);
	CHECK_INT(split_mismatches, 0);
}

/* Every split point of a small body, fed as two pieces. */
TEST(every_two_piece_split)
{
	static const char body[] = "preamble\r\n--b \t\r\n"
				   "Content-Disposition: form-data; name=\"a\"\r\n"
				   "Content-Type: text/plain\r\n\r\n"
				   "x\r\n--c\r\n-\r\r\n--b\r\n"
				   "Content-Disposition: form-data; name=\"f\"; filename=\"f\"\r\n"
				   "\r\n\r\n--b--\r\nepilogue";
	int bad = 0;

	for (size_t cut = 0; cut <= sizeof body - 1; cut++) {
		struct multipart *m = multipart_new("b", NULL);
		struct img_error e;
		char *p1 = xmalloc(cut + 1), *p2 = xmalloc(sizeof body - cut);
		memcpy(p1, body, cut);
		memcpy(p2, body + cut, sizeof body - 1 - cut);
		if (multipart_feed(m, p1, cut, &e) != IMG_OK ||
		    multipart_feed(m, p2, sizeof body - 1 - cut, &e) != IMG_OK ||
		    multipart_finish(m, &e) != IMG_OK || multipart_count(m) != 2 ||
		    !data_is(multipart_part(m, 0), S("x\r\n--c\r\n-\r")) ||
		    multipart_part(m, 1)->data.len != 0)
			bad++;
		free(p1);
		free(p2);
		multipart_free(m);
	}
	CHECK_INT(bad, 0);
}

/* --- data that looks like structure -------------------------------------- */

TEST(crlf_and_lookalikes_in_data)
{
	enum img_err rc;
	struct img_error e;
	static const char body[] =
		"--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a\"\r\n\r\n"
		"line1\r\nline2\r\n\r\n"  /* CRLFs */
		"x--b\r\n"		  /* boundary not at a line start */
		"\n--b\r\n"		  /* after a bare LF */
		"\r--b\r\n"		  /* after a bare CR */
		"y--b--"		  /* mid-line close lookalike */
		"\r\n-b\r\n--\r\n--c\r\n" /* near misses */
		"\r\r\n\r\n\r\n"	  /* CRs before a CRLF */
		"\r\n"			  /* the data ends in CRLF */
		"\r\n--b\r\n"		  /* the real delimiter */
		"Content-Disposition: form-data; name=\"g\"\r\n\r\n"
		"\r\n\r\n--b--";
	struct multipart *m = parse("b", S(body), &rc, &e);
	CHECK_INT(rc, IMG_OK);
	CHECK_INT(multipart_count(m), 2);
	DATA_IS(multipart_part(m, 0), "line1\r\nline2\r\n\r\nx--b\r\n\n--b\r\n\r--b\r\ny--b--"
				      "\r\n-b\r\n--\r\n--c\r\n\r\r\n\r\n\r\n\r\n");
	DATA_IS(multipart_part(m, 1), "\r\n");
	multipart_free(m);

	/* A longer boundary with the data holding every proper prefix of the delimiter. */
	static const char bd[] = "----formdata-undici-0";
	struct buf b = BUF_INIT, data = BUF_INIT;
	char delim[40];
	snprintf(delim, sizeof delim, "\r\n--%s", bd);
	for (size_t i = 1; i < strlen(delim); i++) {
		buf_append(&data, delim, i);
		buf_puts(&data, "|");
	}
	add_file(&b, bd, "image", "x", NULL, data.data, data.len);
	buf_printf(&b, "--%s--", bd);
	m = parse(bd, b.data, b.len, &rc, &e);
	CHECK_INT(rc, IMG_OK);
	CHECK(data_is(multipart_part(m, 0), data.data, data.len));
	multipart_free(m);
	buf_free(&b);
	buf_free(&data);
}

/* Every byte value, NULs included, in file data and in a text field. */
TEST(binary_with_nul)
{
	struct buf b = BUF_INIT, data = BUF_INIT;
	enum img_err rc;
	struct img_error e;

	for (int r = 0; r < 4; r++)
		for (int c = 0; c < 256; c++)
			buf_putc(&data, (char)c);
	buf_append(&data, "\0\0\0", 3);
	add_file(&b, "bin", "image", "z.bin", "application/octet-stream", data.data, data.len);
	buf_append(&b, S("--bin\r\nContent-Disposition: form-data; name=\"t\"\r\n\r\n"
			 "a\0b\r\n--bin--"));
	struct multipart *m = parse("bin", b.data, b.len, &rc, &e);
	CHECK_INT(rc, IMG_OK);
	CHECK(data_is(multipart_field(m, "image"), data.data, data.len));
	CHECK(data_is(multipart_field(m, "t"), "a\0b", 3));
	multipart_free(m);
	buf_free(&b);
	buf_free(&data);
}

/* --- empty parts, preamble, epilogue ------------------------------------- */

TEST(empty_parts)
{
	enum img_err rc;
	struct img_error e;
	/* Empty data written with the CRLF, and RFC 2046's shorter form where the
	 * header block's last CRLF is the delimiter's. */
	static const char body[] = "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n\r\n"
				   "--b\r\nContent-Disposition: form-data; name=\"b\"\r\n\r\n"
				   "--b\r\nContent-Disposition: form-data; name=\"c\"; "
				   "filename=\"e.png\"\r\nContent-Type: image/png\r\n\r\n"
				   "--b--\r\n";
	struct multipart *m = parse("b", S(body), &rc, &e);
	CHECK_INT(rc, IMG_OK);
	CHECK_INT(multipart_count(m), 3);
	for (size_t i = 0; i < 3; i++) {
		CHECK(multipart_part(m, i)->data.data != NULL);
		DATA_IS(multipart_part(m, i), "");
	}
	CHECK(multipart_part(m, 2)->is_file);
	multipart_free(m);

	/* No parts at all is well-formed; the edits route then finds no prompt. */
	m = parse("b", S("--b--"), &rc, &e);
	CHECK_INT(rc, IMG_OK);
	CHECK_INT(multipart_count(m), 0);
	CHECK(multipart_field(m, "prompt") == NULL);
	multipart_free(m);
}

TEST(preamble_epilogue_padding)
{
	enum img_err rc;
	struct img_error e;
	static const char ok[] = "preamble with --b inside\r\nand \r\n- lines\r\n"
				 "--b \t \r\n"
				 "Content-Disposition: form-data; name=\"p\"\r\n\r\n"
				 "v\r\n--b\t\r\n"
				 "Content-Disposition: form-data; name=\"q\"\r\n\r\n"
				 "w\r\n--b--  \r\nepilogue --b\r\nContent-Disposition: x\r\n"
				 "\r\n--b\r\n\n\n\x00\xff junk";
	struct multipart *m = parse("b", S(ok), &rc, &e);
	CHECK_INT(rc, IMG_OK);
	CHECK_INT(multipart_count(m), 2);
	DATA_IS(multipart_field(m, "p"), "v");
	DATA_IS(multipart_field(m, "q"), "w");
	multipart_free(m);
}

/* --- part headers -------------------------------------------------------- */

TEST(header_forms)
{
	enum img_err rc;
	struct img_error e;
	static const char body[] =
		"--b\r\ncontent-disposition: FORM-DATA; NAME=prompt\r\n\r\nhi\r\n"
		"--b\r\nContent-Disposition:form-data;name=\"a\\\"b\";filename=\"C:\\dir\\x.png\""
		"\r\nCONTENT-TYPE:  image/png  \r\n\r\n1\r\n"
		"--b\r\nContent-Disposition: form-data; name=\"u\"; filename=my file.png ; x=1\r\n"
		"Content-Transfer-Encoding: binary\r\nContent-Length: 1\r\n\r\n2\r\n"
		"--b\r\nContent-Disposition: form-data; name=\"s\"; "
		"filename*=UTF-8''%e2%82%ac%20rates.png%0a\r\n\r\n3\r\n"
		"--b\r\nContent-Disposition: form-data; filename*=UTF-8''star.png; "
		"filename=\"plain.png\"; name=\"both\"\r\n\r\n4\r\n"
		"--b\r\nContent-Disposition: form-data;\r\n "
		"name=\"folded\";\r\n\tfilename=\"f\"\r\n"
		"\r\n5\r\n"
		"--b\r\nContent-Disposition: form-data; name=\"esc\"; filename=\"a\\\\b\\\"c\"\r\n"
		"\r\n6\r\n"
		"--b\r\nContent-Disposition: form-data; name=\"t\"\r\n"
		"Content-Type: text/plain; charset=utf-8\r\n\r\n7\r\n"
		"--b\r\nContent-Disposition: form-data; name=\"o\"\r\n"
		"Content-Type: application/octet-stream\r\n\r\n8\r\n"
		"--b\r\nContent-Disposition: form-data; name=\"o\"; foo; bar=\"baz\";\r\n\r\n9\r\n"
		"--b--\r\n";
	struct multipart *m = parse("b", S(body), &rc, &e);
	CHECK_INT(rc, IMG_OK);
	CHECK_INT(multipart_count(m), 10);
	if (multipart_count(m) == 10) {
		const struct multipart_part *p;
		p = multipart_part(m, 0);
		CHECK_STR(p->name, "prompt");
		CHECK(!p->is_file);
		DATA_IS(p, "hi");
		p = multipart_part(m, 1);
		CHECK_STR(p->name, "a\"b");
		CHECK_STR(p->filename, "C:\\dir\\x.png");
		CHECK_STR(p->content_type, "image/png");
		p = multipart_part(m, 2);
		CHECK_STR(p->filename, "my file.png");
		DATA_IS(p, "2");
		p = multipart_part(m, 3);
		CHECK(p->is_file);
		CHECK_STR(p->filename, "\xe2\x82\xac rates.png_");
		CHECK_STR(multipart_part(m, 4)->filename, "plain.png");
		CHECK_STR(multipart_part(m, 4)->name, "both");
		p = multipart_part(m, 5);
		CHECK_STR(p->name, "folded");
		CHECK_STR(p->filename, "f");
		CHECK_STR(multipart_part(m, 6)->filename, "a\\b\"c");
		CHECK(!multipart_part(m, 7)->is_file);
		CHECK_STR(multipart_part(m, 7)->content_type, "text/plain; charset=utf-8");
		CHECK(multipart_part(m, 8)->is_file);
		CHECK_STR(multipart_part(m, 8)->filename, "");
		CHECK(!multipart_part(m, 9)->is_file);
		/* The first of two parts with one name. */
		DATA_IS(multipart_field(m, "o"), "8");
	}
	multipart_free(m);
}

/* Names of 63 bytes fit, 64 do not; long filenames and Content-Types are cut, never
 * in the middle of a UTF-8 sequence. */
TEST(header_lengths)
{
	enum img_err rc;
	struct img_error e;
	struct buf b = BUF_INIT, fn = BUF_INIT;
	char name[65];

	memset(name, 'n', 63);
	name[63] = '\0';
	for (int i = 0; i < 200; i++)
		buf_puts(&fn, "\xc3\xa9"); /* é */
	add_file(&b, "b", name, fn.data,
		 "image/png; x-padding=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		 "d", 1);
	buf_puts(&b, "--b--");
	struct multipart *m = parse("b", b.data, b.len, &rc, &e);
	CHECK_INT(rc, IMG_OK);
	const struct multipart_part *p = multipart_part(m, 0);
	CHECK(p != NULL);
	if (p) {
		CHECK_STR(p->name, name);
		CHECK_INT(strlen(p->filename), 254);
		CHECK(memcmp(p->filename, fn.data, 254) == 0);
		CHECK_INT(strlen(p->content_type), 95);
	}
	multipart_free(m);
	buf_free(&b);

	/* A Content-Type cut right after a space loses the space too. */
	buf_puts(&b, "--b\r\nContent-Disposition: form-data; name=c\r\nContent-Type: ");
	for (int i = 0; i < 94; i++)
		buf_putc(&b, 'a');
	buf_puts(&b, " \tzz\r\n\r\n\r\n--b--");
	m = parse("b", b.data, b.len, &rc, &e);
	CHECK_INT(rc, IMG_OK);
	CHECK_INT(strlen(multipart_part(m, 0)->content_type), 94);
	multipart_free(m);
	buf_reset(&b);

	name[63] = 'n';
	name[64] = '\0';
	add_field(&b, "b", name, "v");
	buf_puts(&b, "--b--");
	CHECK(fails_with("b", b.data, b.len, IMG_INVALID_REQUEST, "part name must be 1 to 63"));
	buf_free(&b);
	buf_free(&fn);
}

/* --- limits --------------------------------------------------------------- */

/* A file part over max_part_bytes fails with 413 on the feed that crosses the limit,
 * before the rest of the body has arrived; the error then sticks. */
TEST(part_too_large_while_feeding)
{
	struct multipart_limits lim = {.max_part_bytes = 1000};
	struct multipart *m = multipart_new("b", &lim);
	struct img_error e;
	char chunk[600];
	static const char head[] = "--b\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\n"
				   "p\r\n--b\r\nContent-Disposition: form-data; name=\"image[]\"; "
				   "filename=\"big.png\"\r\nContent-Type: image/png\r\n\r\n";

	memset(chunk, 'x', sizeof chunk);
	CHECK_INT(multipart_feed(m, S(head), &e), IMG_OK);
	CHECK_INT(multipart_feed(m, chunk, sizeof chunk, &e), IMG_OK);
	CHECK_INT(multipart_feed(m, chunk, sizeof chunk, &e), IMG_PAYLOAD_TOO_LARGE);
	CHECK_STR(e.param, "image[]");
	CHECK(strstr(e.message, "'image[]'") && strstr(e.message, "1000 bytes"));
	CHECK_INT(err_info(e.code)->http, 413);
	/* Nothing beyond the limit was stored. */
	CHECK(m->parts[1].data.len <= 1000);
	err_clear(&e);
	CHECK_INT(multipart_feed(m, "x", 1, &e), IMG_PAYLOAD_TOO_LARGE);
	CHECK_STR(e.param, "image[]");
	err_clear(&e);
	CHECK_INT(multipart_finish(m, &e), IMG_PAYLOAD_TOO_LARGE);
	CHECK_STR(e.param, "image[]");
	multipart_free(m);

	/* Exactly the limit is accepted, one more byte is not (whatever the chunking). */
	for (int extra = 0; extra < 2; extra++) {
		struct buf b = BUF_INIT, data = BUF_INIT;
		enum img_err rc;
		for (int i = 0; i < 1000 + extra; i++)
			buf_putc(&data, (char)(i % 2 ? '\r' : '-'));
		add_file(&b, "b", "image", "a.png", "image/png", data.data, data.len);
		buf_puts(&b, "--b--");
		m = parse_lim("b", b.data, b.len, &lim, &rc, &e);
		CHECK_INT(rc, extra ? IMG_PAYLOAD_TOO_LARGE : IMG_OK);
		multipart_free(m);
		buf_free(&b);
		buf_free(&data);
	}
	CHECK_INT(split_mismatches, 0);
}

TEST(field_and_total_limits)
{
	struct multipart_limits lim = {.max_field_bytes = 16, .max_total_bytes = 400};
	enum img_err rc;
	struct img_error e;
	struct buf b = BUF_INIT;

	add_field(&b, "b", "prompt", "0123456789abcdef");
	buf_puts(&b, "--b--");
	struct multipart *m = parse_lim("b", b.data, b.len, &lim, &rc, &e);
	CHECK_INT(rc, IMG_OK);
	multipart_free(m);
	buf_reset(&b);
	add_field(&b, "b", "prompt", "0123456789abcdefg");
	buf_puts(&b, "--b--");
	m = parse_lim("b", b.data, b.len, &lim, &rc, &e);
	CHECK_INT(rc, IMG_PAYLOAD_TOO_LARGE);
	CHECK_STR(e.param, "prompt");
	CHECK(strstr(e.message, "field 'prompt'") != NULL);
	multipart_free(m);

	/* The total counts every byte fed, epilogue included. */
	buf_reset(&b);
	add_field(&b, "b", "n", "2");
	buf_puts(&b, "--b--\r\n");
	while (b.len < 400)
		buf_putc(&b, 'e');
	m = parse_lim("b", b.data, b.len, &lim, &rc, &e);
	CHECK_INT(rc, IMG_OK);
	multipart_free(m);
	buf_putc(&b, 'e');
	m = parse_lim("b", b.data, b.len, &lim, &rc, &e);
	CHECK_INT(rc, IMG_PAYLOAD_TOO_LARGE);
	CHECK_STR(e.param, "");
	CHECK(strstr(e.message, "400 bytes") != NULL);
	multipart_free(m);

	/* An error inside the first 400 bytes wins over the total. */
	buf_reset(&b);
	buf_puts(&b, "--bX");
	while (b.len < 1000)
		buf_putc(&b, 'e');
	m = parse_lim("b", b.data, b.len, &lim, &rc, &e);
	CHECK_INT(rc, IMG_INVALID_REQUEST);
	multipart_free(m);
	buf_free(&b);
	CHECK_INT(split_mismatches, 0);
}

TEST(too_many_files_and_parts)
{
	enum img_err rc;
	struct img_error e;

	for (int n = 14; n <= 15; n++) {
		struct buf b = BUF_INIT;
		add_field(&b, "b", "prompt", "p");
		for (int i = 0; i < n; i++)
			add_file(&b, "b", "image[]", "i.png", "image/png", png, sizeof png - 1);
		buf_puts(&b, "--b--\r\n");
		struct multipart *m = parse("b", b.data, b.len, &rc, &e);
		CHECK_INT(rc, n == 14 ? IMG_OK : IMG_INVALID_REQUEST);
		if (n == 15) {
			CHECK(strstr(e.message, "at most 14 file parts") != NULL);
			CHECK_STR(e.param, "image[]");
		}
		multipart_free(m);
		buf_free(&b);
	}

	/* The check happens at the 15th file's headers, before its data. */
	struct multipart_limits lim = {.max_files = 2};
	struct multipart *m = multipart_new("b", &lim);
	struct buf b = BUF_INIT;
	for (int i = 0; i < 3; i++)
		add_file(&b, "b", "image", "i.png", "image/png", png, sizeof png - 1);
	b.len -= sizeof png - 1 + 2; /* cut the third file's data */
	CHECK_INT(multipart_feed(m, b.data, b.len, &e), IMG_INVALID_REQUEST);
	CHECK(strstr(e.message, "at most 2 file parts") != NULL);
	multipart_free(m);
	buf_free(&b);

	/* Text fields do not count as files, but every part counts as a part. */
	lim = (struct multipart_limits){.max_files = 1, .max_parts = 5};
	for (int n = 5; n <= 6; n++) {
		for (int i = 0; i < n; i++)
			add_field(&b, "b", "f", "v");
		buf_puts(&b, "--b--");
		m = parse_lim("b", b.data, b.len, &lim, &rc, &e);
		CHECK_INT(rc, n == 5 ? IMG_OK : IMG_INVALID_REQUEST);
		if (n == 6)
			CHECK(strstr(e.message, "too many multipart parts") != NULL);
		multipart_free(m);
		buf_reset(&b);
	}
	buf_free(&b);
	CHECK_INT(split_mismatches, 0);
}

/* A header block over max_header_bytes fails as soon as the bytes arrive, even with
 * no line end in sight, and never holds more than the limit in memory. */
TEST(header_too_long)
{
	struct multipart_limits lim = {.max_header_bytes = 128};
	struct multipart *m = multipart_new("b", &lim);
	struct img_error e;
	char junk[4096];

	memset(junk, 'h', sizeof junk);
	CHECK_INT(multipart_feed(m, S("--b\r\n"), &e), IMG_OK);
	CHECK_INT(multipart_feed(m, junk, 100, &e), IMG_OK);
	CHECK_INT(multipart_feed(m, junk, sizeof junk, &e), IMG_INVALID_REQUEST);
	CHECK(strstr(e.message, "longer than 128 bytes") != NULL);
	CHECK(m->hdr.len <= 128);
	multipart_free(m);

	/* 128 bytes exactly is fine. */
	struct buf b = BUF_INIT;
	enum img_err rc;
	static const char cd[] = "Content-Disposition: form-data; name=\"a\"\r\nX-Pad: ";
	for (int extra = 0; extra < 2; extra++) {
		buf_puts(&b, "--b\r\n");
		buf_puts(&b, cd);
		for (size_t i = sizeof cd - 1; i < 128 - 4 + (size_t)extra; i++)
			buf_putc(&b, 'p');
		buf_puts(&b, "\r\n\r\nv\r\n--b--");
		m = parse_lim("b", b.data, b.len, &lim, &rc, &e);
		CHECK_INT(rc, extra ? IMG_INVALID_REQUEST : IMG_OK);
		multipart_free(m);
		buf_reset(&b);
	}
	buf_free(&b);
	CHECK_INT(split_mismatches, 0);
}

/* --- malformed ------------------------------------------------------------ */

TEST(malformed)
{
	FAILS("", "no boundary line --b");
	FAILS("just some text\r\nwith lines\r\n", "no boundary line");
	FAILS("-b\r\n", "no boundary line");
	FAILS("--b\r\n\r\nv\r\n--b--", "has no Content-Disposition");
	FAILS("--b\r\nContent-Type: text/plain\r\n\r\nv\r\n--b--", "has no Content-Disposition");
	FAILS("--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv", "closing boundary");
	FAILS("--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--b\r\n",
	      "inside the headers of part 2");
	FAILS("--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--b",
	      "inside a boundary line");
	FAILS("--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--b-",
	      "inside a boundary line");
	FAILS("--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--b \r",
	      "inside a boundary line");
	FAILS("--b\r\nContent-Disposition: form-data; name=\"a\"\r\n", "inside the headers");
	FAILS("--b\nContent-Disposition: form-data; name=\"a\"\n\nv\n--b--\n", "bare LF");
	FAILS("--b\r\nContent-Disposition: form-data; name=\"a\"\n\nv\r\n--b--", "bare LF");
	FAILS("--bX\r\n", "unexpected characters after the boundary");
	FAILS("--b-x", "unexpected characters");
	FAILS("--b \tx\r\n", "unexpected characters");
	FAILS("--b\rx", "unexpected characters");
	/* The boundary as a prefix of a longer line in the data (RFC 2046 forbids it). */
	FAILS("--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--bb\r\n--b--",
	      "unexpected characters");
	FAILS("--b\r\nContent-Disposition form-data\r\n\r\n--b--", "without a colon");
	FAILS("--b\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\n--b--", "form-data");
	FAILS("--b\r\nContent-Disposition: form-data\r\n\r\n--b--", "has no name");
	FAILS("--b\r\nContent-Disposition: form-data; filename=\"a.png\"\r\n\r\n--b--",
	      "has no name");
	FAILS("--b\r\nContent-Disposition: form-data; name=\"\"\r\n\r\n--b--", "1 to 63");
	FAILS("--b\r\nContent-Disposition: form-data; name=\"a\"; name=\"b\"\r\n\r\n--b--",
	      "two names");
	FAILS("--b\r\nContent-Disposition: form-data; name=\"a\"; filename=x; filename=y\r\n"
	      "\r\n--b--",
	      "two filenames");
	FAILS("--b\r\nContent-Disposition: form-data; name=\"a\r\n\r\n--b--", "unterminated");
	FAILS("--b\r\nContent-Disposition: form-data; name=\"a\" x\r\n\r\n--b--",
	      "malformed Content-Disposition");
	FAILS("--b\r\nContent-Disposition: form-data; name=a\r\n"
	      "Content-Disposition: form-data; name=b\r\n\r\n--b--",
	      "two Content-Disposition");
	FAILS("--b\r\nContent-Disposition: form-data; name=a\r\nContent-Type: a/b\r\n"
	      "Content-Type: c/d\r\n\r\n--b--",
	      "two Content-Type");
	FAILS("--b\r\nContent-Disposition: form-data; name=\"a\0b\"\r\n\r\n--b--",
	      "control character");
	FAILS("--b\r\nContent-Disposition: form-data; name=a\rX: y\r\n\r\n--b--",
	      "control character");
	FAILS("--b\r\nContent-Disposition: form-data; name=\"\x1b[31m\"\r\n\r\n--b--",
	      "control character");
	FAILS("--b\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n--b\r\n\r\nw\r\n--b--",
	      "part 2 has no Content-Disposition");

	/* Errors stick, and finish repeats them. */
	struct multipart *m = multipart_new("b", NULL);
	struct img_error e;
	CHECK_INT(multipart_feed(m, S("--bX"), &e), IMG_INVALID_REQUEST);
	CHECK_INT(multipart_feed(m, S("\r\n--b--"), NULL), IMG_INVALID_REQUEST);
	err_clear(&e);
	CHECK_INT(multipart_finish(m, &e), IMG_INVALID_REQUEST);
	CHECK(strstr(e.message, "unexpected characters") != NULL);
	CHECK_INT(multipart_finish(m, NULL), IMG_INVALID_REQUEST);
	multipart_free(m);

	/* Feeding nothing is harmless. */
	m = multipart_new("b", NULL);
	CHECK_INT(multipart_feed(m, NULL, 0, &e), IMG_OK);
	CHECK_INT(multipart_finish(m, &e), IMG_INVALID_REQUEST);
	multipart_free(m);
	CHECK_INT(split_mismatches, 0);
}

/* Random bodies built from structural pieces: never a crash, always OK or a 400/413,
 * and the same result however they are split. */
TEST(random_structures)
{
	static const char *const pieces[] = {"--b",
					     "\r\n",
					     "\r",
					     "\n",
					     "--",
					     "-",
					     " ",
					     "Content-Disposition: form-data; name=\"a\"",
					     "; filename=\"f\"",
					     ":",
					     "Content-Type: image/png",
					     "\"",
					     "\\",
					     "x",
					     "\0",
					     "name=",
					     ";",
					     "\r\n\r\n",
					     "\r\n--b\r\n",
					     "\r\n--b--"};
	struct multipart_limits lim = {.max_part_bytes = 40,
				       .max_total_bytes = 600,
				       .max_files = 2,
				       .max_parts = 4,
				       .max_header_bytes = 90,
				       .max_field_bytes = 20};
	int ok = 0, bad = 0;

	for (int iter = 0; iter < 3000; iter++) {
		struct buf b = BUF_INIT;
		enum img_err rc;
		struct img_error e;
		rng_state = 777u + (uint32_t)iter * 2654435761u;
		int n = (int)(rnd() % 60);
		if (rnd() % 2)
			buf_puts(&b, "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n");
		for (int i = 0; i < n; i++) {
			const char *p = pieces[rnd() % (sizeof pieces / sizeof pieces[0])];
			buf_append(&b, p, *p ? strlen(p) : 1);
		}
		if (rnd() % 2)
			buf_puts(&b, "\r\n--b--");
		uint32_t saved = rng_state;
		struct multipart *m = parse_lim("b", b.data, b.len, &lim, &rc, &e);
		rng_state = saved;
		if (rc == IMG_OK)
			ok++;
		else if (rc != IMG_INVALID_REQUEST && rc != IMG_PAYLOAD_TOO_LARGE)
			bad++;
		multipart_free(m);
		buf_free(&b);
	}
	CHECK_INT(bad, 0);
	CHECK(ok > 50);
	CHECK_INT(split_mismatches, 0);
}

/* --- helpers for the edits route ----------------------------------------- */

TEST(image_names)
{
	static const char *const yes[] = {"image",   "image[]",	 "image1",   "image9",	 "image10",
					  "image14", "image[0]", "image[9]", "image[13]"};
	static const char *const no[] = {"mask",      "images",	   "image0",
					 "image15",   "image01",   "image100",
					 "image[14]", "image[00]", "image[01]",
					 "image[",    "image[1",   "image[]x",
					 "image1x",   "Image",	   "image[-1]",
					 "image ",    "",	   "imag",
					 "image[1]]", "image[ 1]", "image99999999999999999999"};

	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
		if (!multipart_is_image_name(yes[i])) {
			fprintf(stderr, "  rejected %s\n", yes[i]);
			CHECK(0);
		}
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
		if (multipart_is_image_name(no[i])) {
			fprintf(stderr, "  accepted %s\n", no[i]);
			CHECK(0);
		}
	CHECK(!multipart_is_image_name(NULL));
	CHECK(multipart_field(NULL, "a") == NULL);
	CHECK(multipart_part(NULL, 0) == NULL);
	CHECK_INT(multipart_count(NULL), 0);
}

/* Parts are visible between feeds (edits refuses a body early from them),
 * and multipart_take moves a part's data out without copying. */
TEST(parts_while_feeding_and_take)
{
	static const char body[] =
		"--b\r\nContent-Disposition: form-data; name=\"image\"; "
		"filename=\"a.png\"\r\n\r\n0123456789abcdef\r\n--b\r\n"
		"Content-Disposition: form-data; name=\"prompt\"\r\n\r\nhi\r\n--b--\r\n";
	struct multipart *m = multipart_new("b", NULL);
	struct img_error e;
	size_t first = 80; /* through the image's headers and a few data bytes */

	CHECK_INT(multipart_feed(m, body, first, &e), IMG_OK);
	CHECK_INT(multipart_count(m), 1);
	CHECK_STR(multipart_part(m, 0)->name, "image");
	CHECK(multipart_part(m, 0)->is_file);
	CHECK(multipart_part(m, 0)->data.len < 16);
	CHECK_INT(multipart_feed(m, body + first, sizeof body - 1 - first, &e), IMG_OK);
	CHECK_INT(multipart_finish(m, &e), IMG_OK);
	CHECK_INT(multipart_count(m), 2);

	const char *where = multipart_part(m, 0)->data.data;
	struct buf out = BUF_INIT;
	buf_puts(&out, "freed first");
	multipart_take(m, 0, &out);
	CHECK(out.data == where); /* moved, not copied */
	CHECK_INT(out.len, 16);
	CHECK(memcmp(out.data, "0123456789abcdef", 16) == 0);
	CHECK(multipart_part(m, 0)->data.data != NULL && multipart_part(m, 0)->data.len == 0);
	multipart_take(m, 9, &out); /* past the end: out is emptied */
	CHECK(out.len == 0);
	CHECK_STR(multipart_field(m, "prompt")->data.data, "hi");
	buf_free(&out);
	multipart_free(m);
}

int main(void)
{
	RUN(boundary_accepts);
	RUN(boundary_rejects);
	RUN(openai_python_single_image);
	RUN(openai_image_list_and_mask);
	RUN(curl_requests_browser_shapes);
	RUN(split_feeds_binary);
	RUN(every_two_piece_split);
	RUN(crlf_and_lookalikes_in_data);
	RUN(binary_with_nul);
	RUN(empty_parts);
	RUN(preamble_epilogue_padding);
	RUN(header_forms);
	RUN(header_lengths);
	RUN(part_too_large_while_feeding);
	RUN(field_and_total_limits);
	RUN(too_many_files_and_parts);
	RUN(header_too_long);
	RUN(malformed);
	RUN(random_structures);
	RUN(image_names);
	RUN(parts_while_feeding_and_take);
	CHECK_INT(split_mismatches, 0);
	UNIT_DONE();
}
