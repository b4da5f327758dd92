/* Unit tests for core/image.c: signature sniffing, and dimensions from
 * hand-built PNG, JPEG and WebP (VP8, VP8L, VP8X) headers, including every
 * truncation of each header, read from exact-size heap copies so that ASan
 * reports any read past the end. */
#include "../../core/image.c"

#include <stdlib.h>

#include "buf.h"
#include "unit.h"
#include "xalloc.h"

/* --- helpers -------------------------------------------------------------- */

static void put_be16(struct buf *b, unsigned v)
{
	unsigned char p[2] = {(unsigned char)(v >> 8), (unsigned char)v};
	buf_append(b, p, 2);
}

static void put_be32(struct buf *b, uint32_t v)
{
	unsigned char p[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
			      (unsigned char)(v >> 8), (unsigned char)v};
	buf_append(b, p, 4);
}

static void put_le16(struct buf *b, unsigned v)
{
	unsigned char p[2] = {(unsigned char)v, (unsigned char)(v >> 8)};
	buf_append(b, p, 2);
}

static void put_le24(struct buf *b, uint32_t v)
{
	unsigned char p[3] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16)};
	buf_append(b, p, 3);
}

static void put_le32(struct buf *b, uint32_t v)
{
	put_le16(b, v & 0xffff);
	put_le16(b, v >> 16);
}

static void put_bytes(struct buf *b, const char *s, size_t n)
{
	buf_append(b, s, n);
}

#define PUT(b, lit) put_bytes(b, lit, sizeof(lit) - 1)

/* image_dims on an exact-size heap copy of p[0..n). */
static int dims(const void *p, size_t n, int *w, int *h)
{
	unsigned char *copy = xmalloc(n ? n : 1);
	int rc;

	if (n)
		memcpy(copy, p, n);
	*w = *h = -7;
	rc = image_dims(copy, n, w, h);
	free(copy);
	return rc;
}

/* 1 when b holds an image of w x h. */
static int has_dims(const struct buf *b, int w, int h)
{
	int gw, gh, rc = dims(b->data, b->len, &gw, &gh);

	if (rc != 0 || gw != w || gh != h) {
		fprintf(stderr, "  want %dx%d, got rc %d %dx%d\n", w, h, rc, gw, gh);
		return 0;
	}
	return 1;
}

/* 1 when b is rejected, leaving the outputs alone. */
static int no_dims(const struct buf *b)
{
	int gw, gh, rc = dims(b->data, b->len, &gw, &gh);

	if (rc != -1 || gw != -7 || gh != -7) {
		fprintf(stderr, "  want -1, got rc %d %dx%d\n", rc, gw, gh);
		return 0;
	}
	return 1;
}

/* Every prefix of b (lengths 0..len-1) either fails or gives w x h; the
 * whole of it gives w x h.  Returns the number of violations. */
static int check_prefixes(const struct buf *b, int w, int h)
{
	int bad = 0;

	for (size_t n = 0; n < b->len; n++) {
		int gw, gh, rc = dims(b->data, n, &gw, &gh);
		if (rc == 0 ? gw != w || gh != h : rc != -1 || gw != -7 || gh != -7) {
			fprintf(stderr, "  prefix %zu of %zu: rc %d %dx%d\n", n, b->len, rc, gw,
				gh);
			bad++;
		}
	}
	if (!has_dims(b, w, h))
		bad++;
	return bad;
}

/* --- builders ------------------------------------------------------------- */

static void png_header(struct buf *b, uint32_t w, uint32_t h)
{
	buf_append(b, png_sig, 8);
	put_be32(b, 13);
	PUT(b, "IHDR");
	put_be32(b, w);
	put_be32(b, h);
	PUT(b, "\x08\x02\x00\x00\x00"); /* 8-bit RGB */
	put_be32(b, 0x12345678);	/* CRC: not checked by image_dims */
}

static void jpeg_soi(struct buf *b)
{
	PUT(b, "\xff\xd8");
}

static void jpeg_app0(struct buf *b)
{
	PUT(b, "\xff\xe0");
	put_be16(b, 16);
	PUT(b, "JFIF\0\x01\x01\x00\x00\x48\x00\x48\x00\x00");
}

/* A start-of-frame marker (c0 baseline, c2 progressive, ...) with 3 components. */
static void jpeg_sof(struct buf *b, unsigned marker, unsigned w, unsigned h)
{
	unsigned char m[2] = {0xff, (unsigned char)marker};

	buf_append(b, m, 2);
	put_be16(b, 17);
	PUT(b, "\x08"); /* precision */
	put_be16(b, h);
	put_be16(b, w);
	PUT(b, "\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01");
}

/* A Huffman table segment: 17 + n bytes of payload. */
static void jpeg_dht(struct buf *b)
{
	PUT(b, "\xff\xc4");
	put_be16(b, 2 + 1 + 16 + 3);
	PUT(b, "\x00"); /* class 0, id 0 */
	/* counts: 3 codes of length 2; the SOF-looking bytes below are data */
	PUT(b, "\x00\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00");
	PUT(b, "\xff\xc0\x00");
}

static void jpeg_dqt(struct buf *b)
{
	PUT(b, "\xff\xdb");
	put_be16(b, 2 + 65);
	PUT(b, "\x00");
	for (int i = 0; i < 64; i++)
		buf_putc(b, (char)(i + 1));
}

static void riff(struct buf *b, const char *fourcc, uint32_t chunk_len)
{
	PUT(b, "RIFF");
	put_le32(b, 4 + 8 + chunk_len);
	PUT(b, "WEBP");
	buf_append(b, fourcc, 4);
	put_le32(b, chunk_len);
}

/* Lossy: key-frame tag, start code, 14-bit dims with 2-bit scale on top. */
static void webp_vp8(struct buf *b, unsigned w, unsigned h, unsigned scale_bits)
{
	riff(b, "VP8 ", 10);
	PUT(b, "\x50\x02\x00"); /* frame tag: key frame (bit 0 clear), show */
	PUT(b, "\x9d\x01\x2a");
	put_le16(b, w | scale_bits << 14);
	put_le16(b, h | scale_bits << 14);
}

/* Lossless: 0x2f, then w-1 and h-1 in 14 bits each, alpha bit, version. */
static void webp_vp8l(struct buf *b, unsigned w, unsigned h, unsigned alpha, unsigned version)
{
	riff(b, "VP8L", 5);
	buf_putc(b, 0x2f);
	put_le32(b, (w - 1) | (uint32_t)(h - 1) << 14 | (uint32_t)alpha << 28 |
			    (uint32_t)version << 29);
}

/* Extended: flags, 3 reserved bytes, canvas w-1 and h-1 in 24 bits each. */
static void webp_vp8x(struct buf *b, uint32_t w, uint32_t h)
{
	riff(b, "VP8X", 10);
	PUT(b, "\x10\x00\x00\x00"); /* alpha flag */
	put_le24(b, w - 1);
	put_le24(b, h - 1);
}

/* --- sniffing ------------------------------------------------------------- */

static const char *sniff(const void *p, size_t n, const char **ext)
{
	unsigned char *copy = xmalloc(n ? n : 1);
	const char *mime;

	if (n)
		memcpy(copy, p, n);
	*ext = "unset";
	mime = image_sniff(copy, n, ext);
	free(copy);
	return mime;
}

#define SNIFF(lit, ext) sniff(lit, sizeof(lit) - 1, ext)

TEST(sniff_png)
{
	const char *ext;

	CHECK_STR(SNIFF("\x89PNG\r\n\x1a\n", &ext), "image/png");
	CHECK_STR(ext, "png");
	CHECK_STR(SNIFF("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", &ext), "image/png");
	CHECK_STR(ext, "png");
	CHECK(SNIFF("\x89PNG\r\n\x1a", &ext) == NULL); /* 7 bytes */
	CHECK(ext == NULL);
	CHECK(SNIFF("\x89PNG\n\n\x1a\n", &ext) == NULL);
	CHECK(ext == NULL);
	CHECK(SNIFF("\x89png\r\n\x1a\n", &ext) == NULL);
}

TEST(sniff_jpeg)
{
	const char *ext;

	CHECK_STR(SNIFF("\xff\xd8\xff", &ext), "image/jpeg");
	CHECK_STR(ext, "jpg");
	CHECK_STR(SNIFF("\xff\xd8\xff\xe0\0\x10JFIF", &ext), "image/jpeg");
	CHECK_STR(ext, "jpg");
	CHECK(SNIFF("\xff\xd8", &ext) == NULL);
	CHECK(ext == NULL);
	CHECK(SNIFF("\xff\xd8\x00", &ext) == NULL);
	CHECK(SNIFF("\xff\xd9\xff", &ext) == NULL);
}

TEST(sniff_webp)
{
	const char *ext;

	CHECK_STR(SNIFF("RIFF\0\0\0\0WEBP", &ext), "image/webp");
	CHECK_STR(ext, "webp");
	CHECK_STR(SNIFF("RIFF\x24\0\0\0WEBPVP8 ", &ext), "image/webp");
	CHECK_STR(ext, "webp");
	CHECK(SNIFF("RIFF\0\0\0\0WEB", &ext) == NULL); /* 11 bytes */
	CHECK(ext == NULL);
	CHECK(SNIFF("RIFF\x24\0\0\0WAVEfmt ", &ext) == NULL);
	CHECK(ext == NULL);
	CHECK(SNIFF("RIFX\0\0\0\0WEBP", &ext) == NULL);
	CHECK(SNIFF("riff\0\0\0\0webp", &ext) == NULL);
}

TEST(sniff_others)
{
	const char *ext;

	CHECK(SNIFF("GIF89a\x01\0\x01\0", &ext) == NULL);
	CHECK(ext == NULL);
	CHECK(SNIFF("GIF87a", &ext) == NULL);
	CHECK(SNIFF("", &ext) == NULL);
	CHECK(ext == NULL);
	CHECK(SNIFF("<svg xmlns=\"http://www.w3.org/2000/svg\"/>", &ext) == NULL);
	CHECK(SNIFF("BM\x36\0\0\0", &ext) == NULL);
	CHECK(SNIFF("\0\0\0\x0cjP  \r\n\x87\n", &ext) == NULL); /* JPEG 2000 */
	/* NULL pointer and a NULL ext are both allowed. */
	ext = "unset";
	CHECK(image_sniff(NULL, 0, &ext) == NULL);
	CHECK(ext == NULL);
	CHECK(image_sniff(NULL, 100, NULL) == NULL);
	CHECK_STR(image_sniff("\xff\xd8\xff", 3, NULL), "image/jpeg");
}

/* --- PNG ------------------------------------------------------------------ */

TEST(png_dims)
{
	struct buf b = BUF_INIT;

	png_header(&b, 1376, 768);
	CHECK(has_dims(&b, 1376, 768));
	CHECK_INT(check_prefixes(&b, 1376, 768), 0);
	/* Only the 24 bytes up to the height are needed. */
	b.len = 24;
	CHECK(has_dims(&b, 1376, 768));
	b.len = 23;
	CHECK(no_dims(&b));

	int w = 0, h = 0;
	buf_reset(&b);
	png_header(&b, 1, 1);
	CHECK(has_dims(&b, 1, 1));
	/* Output pointers may be NULL. */
	CHECK_INT(image_dims(b.data, b.len, NULL, NULL), 0);
	CHECK_INT(image_dims(b.data, b.len, &w, NULL), 0);
	CHECK_INT(image_dims(b.data, b.len, NULL, &h), 0);
	CHECK_INT(w, 1);
	CHECK_INT(h, 1);

	buf_reset(&b);
	png_header(&b, 0x7fffffff, 0x7fffffff);
	CHECK(has_dims(&b, 0x7fffffff, 0x7fffffff));
	buf_free(&b);
}

TEST(png_rejects)
{
	struct buf b = BUF_INIT;

	png_header(&b, 0, 768);
	CHECK(no_dims(&b));
	buf_reset(&b);
	png_header(&b, 1376, 0);
	CHECK(no_dims(&b));
	buf_reset(&b);
	png_header(&b, 0x80000000u, 1); /* beyond INT_MAX */
	CHECK(no_dims(&b));
	buf_reset(&b);
	png_header(&b, 1, 0xffffffffu);
	CHECK(no_dims(&b));

	/* The first chunk must be a 13-byte IHDR. */
	buf_reset(&b);
	png_header(&b, 16, 16);
	b.data[11] = 14;
	CHECK(no_dims(&b));
	b.data[11] = 13;
	b.data[12] = 'i';
	CHECK(no_dims(&b));
	b.data[12] = 'I';
	memcpy(b.data + 12, "IDAT", 4);
	CHECK(no_dims(&b));
	buf_free(&b);

	int w, h;
	CHECK_INT(image_dims(NULL, 0, &w, &h), -1);
	CHECK_INT(image_dims(NULL, 100, &w, &h), -1);
}

/* A chunk with an empty body and a dummy CRC. */
static void png_chunk(struct buf *b, const char *type, size_t len)
{
	put_be32(b, (uint32_t)len);
	buf_append(b, type, 4);
	for (size_t i = 0; i < len; i++)
		buf_append(b, "\0", 1);
	put_be32(b, 0x12345678);
}

/* fn(b->data, n) on an exact-size heap copy, so ASan sees any overread. */
static int on_copy(int (*fn)(const void *, size_t), const struct buf *b, size_t n)
{
	unsigned char *copy = xmalloc(n ? n : 1);
	memcpy(copy, b->data, n);
	int rc = fn(copy, n);
	free(copy);
	return rc;
}

static int alpha_of(const struct buf *b, size_t n)
{
	return on_copy(image_png_has_alpha, b, n);
}

TEST(png_alpha)
{
	struct buf b = BUF_INIT;

	png_header(&b, 8, 8); /* 8-bit RGB */
	png_chunk(&b, "IDAT", 3);
	CHECK_INT(alpha_of(&b, b.len), 0);
	b.data[25] = 6; /* RGBA */
	CHECK_INT(alpha_of(&b, b.len), 1);
	b.data[25] = 4; /* grey + alpha */
	CHECK_INT(alpha_of(&b, b.len), 1);
	b.data[25] = 0; /* grey */
	CHECK_INT(alpha_of(&b, b.len), 0);

	/* A palette image with a tRNS chunk before the data. */
	buf_reset(&b);
	png_header(&b, 8, 8);
	b.data[25] = 3;
	png_chunk(&b, "PLTE", 6);
	png_chunk(&b, "tRNS", 1);
	png_chunk(&b, "IDAT", 2);
	CHECK_INT(alpha_of(&b, b.len), 1);
	/* Every prefix reads safely; one cut before tRNS cannot tell. */
	for (size_t n = 0; n < b.len; n++) {
		int rc = alpha_of(&b, n);
		CHECK(rc == -1 || rc == 1);
	}
	/* A tRNS after the image data does not count. */
	buf_reset(&b);
	png_header(&b, 8, 8);
	png_chunk(&b, "IDAT", 2);
	png_chunk(&b, "tRNS", 1);
	CHECK_INT(alpha_of(&b, b.len), 0);
	/* A chunk length past the end. */
	buf_reset(&b);
	png_header(&b, 8, 8);
	put_be32(&b, 0xfffffff0u);
	PUT(&b, "tEXtxxxx");
	CHECK_INT(alpha_of(&b, b.len), -1);
	/* Not a PNG at all. */
	CHECK_INT(image_png_has_alpha("GIF89a.......................", 29), -1);
	buf_free(&b);
}

/* --- JPEG ----------------------------------------------------------------- */

/* An APP1 Exif segment whose first IFD holds a junk tag, then Orientation
 * (tag 0x0112) of the given type and value, little- or big-endian. */
static void jpeg_exif(struct buf *b, int little, unsigned type, unsigned value)
{
	unsigned char t[8 + 2 + 24 + 4];
	unsigned ifd_entries[2][3] = {{0x010f, 2, 0}, {0x0112, type, value}};
	size_t k = 0;
	memcpy(t, little ? "II*\0" : "MM\0*", 4);
	k = 4;
#define PUT16(v)                                                                                   \
	do {                                                                                       \
		unsigned v_ = (v);                                                                 \
		t[k++] = (unsigned char)(little ? v_ & 0xff : v_ >> 8);                            \
		t[k++] = (unsigned char)(little ? v_ >> 8 : v_ & 0xff);                            \
	} while (0)
	PUT16(little ? 8 : 0); /* IFD0 offset 8, as 32 bits */
	PUT16(little ? 0 : 8);
	PUT16(2);
	for (int e = 0; e < 2; e++) {
		PUT16(ifd_entries[e][0]);
		PUT16(ifd_entries[e][1]);
		PUT16(little ? 1 : 0); /* count 1, as 32 bits */
		PUT16(little ? 0 : 1);
		PUT16(ifd_entries[e][2]); /* value, left-justified */
		PUT16(0);
	}
#undef PUT16
	memset(t + k, 0, sizeof t - k); /* next IFD: none */
	PUT(b, "\xff\xe1");
	put_be16(b, (unsigned)(2 + 6 + sizeof t));
	buf_append(b, "Exif\0\0", 6);
	buf_append(b, t, sizeof t);
}

static int orientation_of(const struct buf *b, size_t n)
{
	return on_copy(image_orientation, b, n);
}

TEST(jpeg_exif_orientation)
{
	struct buf b = BUF_INIT;
	for (int little = 0; little <= 1; little++) {
		for (unsigned v = 1; v <= 8; v++) {
			buf_reset(&b);
			jpeg_soi(&b);
			jpeg_exif(&b, little, 3, v);
			jpeg_sof(&b, 0xc0, 4032, 3024);
			CHECK_INT(orientation_of(&b, b.len), (int)v);
			/* The stored size is what image_dims reports. */
			CHECK(has_dims(&b, 4032, 3024));
		}
	}
	/* Every prefix is read safely and never makes up an orientation. */
	for (size_t n = 0; n < b.len; n++) {
		int o = orientation_of(&b, n);
		CHECK(o == 1 || o == 8);
	}
	/* Out-of-range value, wrong type, no Exif, not a JPEG: as stored. */
	buf_reset(&b);
	jpeg_soi(&b);
	jpeg_exif(&b, 1, 3, 9);
	jpeg_sof(&b, 0xc0, 10, 20);
	CHECK_INT(orientation_of(&b, b.len), 1);
	buf_reset(&b);
	jpeg_soi(&b);
	jpeg_exif(&b, 1, 4, 6);
	jpeg_sof(&b, 0xc0, 10, 20);
	CHECK_INT(orientation_of(&b, b.len), 1);
	buf_reset(&b);
	jpeg_soi(&b);
	jpeg_app0(&b);
	jpeg_sof(&b, 0xc0, 10, 20);
	CHECK_INT(orientation_of(&b, b.len), 1);
	buf_reset(&b);
	png_header(&b, 8, 8);
	CHECK_INT(orientation_of(&b, b.len), 1);
	CHECK_INT(image_orientation(NULL, 10), 1);
	buf_free(&b);
}

TEST(jpeg_app0_sof0)
{
	struct buf b = BUF_INIT;

	jpeg_soi(&b);
	jpeg_app0(&b);
	jpeg_dqt(&b);
	jpeg_sof(&b, 0xc0, 1376, 768);
	PUT(&b, "\xff\xd9");
	CHECK(has_dims(&b, 1376, 768));
	CHECK_INT(check_prefixes(&b, 1376, 768), 0);
	buf_free(&b);
}

TEST(jpeg_sof2_progressive)
{
	struct buf b = BUF_INIT;

	jpeg_soi(&b);
	jpeg_app0(&b);
	jpeg_sof(&b, 0xc2, 640, 480);
	CHECK(has_dims(&b, 640, 480));
	CHECK_INT(check_prefixes(&b, 640, 480), 0);
	buf_free(&b);
}

/* Every start-of-frame marker counts; DHT (c4), JPG (c8) and DAC (cc) share
 * the c0..cf range but are skipped as ordinary segments. */
TEST(jpeg_sof_markers)
{
	for (unsigned m = 0xc0; m <= 0xcf; m++) {
		struct buf b = BUF_INIT;
		int is_sof = m != 0xc4 && m != 0xc8 && m != 0xcc;
		jpeg_soi(&b);
		jpeg_sof(&b, m, 100 + m, 50);
		jpeg_sof(&b, 0xc0, 7, 9); /* reached only when m is skipped */
		if (!has_dims(&b, is_sof ? (int)(100 + m) : 7, is_sof ? 50 : 9)) {
			fprintf(stderr, "  marker %02x\n", m);
			CHECK(0);
		}
		buf_free(&b);
	}
}

TEST(jpeg_dht_before_sof)
{
	struct buf b = BUF_INIT;

	jpeg_soi(&b);
	jpeg_dht(&b);
	jpeg_dqt(&b);
	jpeg_dht(&b);
	jpeg_sof(&b, 0xc0, 1024, 1536);
	CHECK(has_dims(&b, 1024, 1536));
	CHECK_INT(check_prefixes(&b, 1024, 1536), 0);
	buf_free(&b);
}

/* Fill bytes (extra 0xff) before a marker, and the length-less markers
 * (TEM, RSTn) are stepped over. */
TEST(jpeg_fill_and_standalone_markers)
{
	struct buf b = BUF_INIT;

	jpeg_soi(&b);
	PUT(&b, "\xff\xff\xff");
	jpeg_app0(&b);
	PUT(&b, "\xff\x01\xff\xd0\xff\xd7");
	PUT(&b, "\xff\xfe\x00\x05hi!"); /* COM */
	PUT(&b, "\xff\xff");
	jpeg_sof(&b, 0xc1, 3000, 2000);
	CHECK(has_dims(&b, 3000, 2000));
	CHECK_INT(check_prefixes(&b, 3000, 2000), 0);
	buf_free(&b);
}

TEST(jpeg_rejects)
{
	struct buf b = BUF_INIT;

	/* EOI or SOS before any frame. */
	jpeg_soi(&b);
	jpeg_app0(&b);
	PUT(&b, "\xff\xd9");
	jpeg_sof(&b, 0xc0, 10, 10);
	CHECK(no_dims(&b));
	buf_reset(&b);
	jpeg_soi(&b);
	PUT(&b, "\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00");
	jpeg_sof(&b, 0xc0, 10, 10);
	CHECK(no_dims(&b));
	/* A stuffed zero where a marker should be. */
	buf_reset(&b);
	jpeg_soi(&b);
	PUT(&b, "\xff\x00");
	jpeg_sof(&b, 0xc0, 10, 10);
	CHECK(no_dims(&b));
	/* Garbage between segments. */
	buf_reset(&b);
	jpeg_soi(&b);
	jpeg_app0(&b);
	PUT(&b, "\x00");
	jpeg_sof(&b, 0xc0, 10, 10);
	CHECK(no_dims(&b));
	/* Segment lengths below 2, or running past the end. */
	buf_reset(&b);
	jpeg_soi(&b);
	PUT(&b, "\xff\xe0\x00\x01");
	jpeg_sof(&b, 0xc0, 10, 10);
	CHECK(no_dims(&b));
	buf_reset(&b);
	jpeg_soi(&b);
	PUT(&b, "\xff\xe0\x00\x00");
	CHECK(no_dims(&b));
	buf_reset(&b);
	jpeg_soi(&b);
	PUT(&b, "\xff\xe0\xff\xff\x00\x00");
	CHECK(no_dims(&b));
	/* A frame header too short to hold the dimensions. */
	buf_reset(&b);
	jpeg_soi(&b);
	PUT(&b, "\xff\xc0\x00\x07\x08\x00\x10\x00\x10");
	CHECK(no_dims(&b));
	/* Zero width or height (height 0 means "defined by DNL"). */
	buf_reset(&b);
	jpeg_soi(&b);
	jpeg_sof(&b, 0xc0, 640, 0);
	CHECK(no_dims(&b));
	buf_reset(&b);
	jpeg_soi(&b);
	jpeg_sof(&b, 0xc0, 0, 480);
	CHECK(no_dims(&b));
	/* Only fill bytes after SOI. */
	buf_reset(&b);
	PUT(&b, "\xff\xd8\xff\xff\xff\xff");
	CHECK(no_dims(&b));
	buf_free(&b);
}

/* The largest JPEG dimensions, and a minimal 8-byte SOF payload. */
TEST(jpeg_extremes)
{
	struct buf b = BUF_INIT;

	jpeg_soi(&b);
	jpeg_sof(&b, 0xc0, 65535, 65535);
	CHECK(has_dims(&b, 65535, 65535));
	buf_reset(&b);
	jpeg_soi(&b);
	PUT(&b, "\xff\xc0\x00\x08\x08\x00\x02\x00\x03\x01");
	CHECK(has_dims(&b, 3, 2));
	CHECK_INT(check_prefixes(&b, 3, 2), 0);
	buf_free(&b);
}

/* --- WebP ----------------------------------------------------------------- */

TEST(webp_vp8_lossy)
{
	struct buf b = BUF_INIT;

	webp_vp8(&b, 1376, 768, 0);
	CHECK(has_dims(&b, 1376, 768));
	CHECK_INT(check_prefixes(&b, 1376, 768), 0);
	/* The two scale bits above the 14-bit size are not part of it. */
	buf_reset(&b);
	webp_vp8(&b, 16383, 1, 3);
	CHECK(has_dims(&b, 16383, 1));
	CHECK_INT(check_prefixes(&b, 16383, 1), 0);
	buf_reset(&b);
	webp_vp8(&b, 0, 5, 2); /* 14-bit width 0 */
	CHECK(no_dims(&b));
	/* Not a key frame, or a bad start code. */
	buf_reset(&b);
	webp_vp8(&b, 10, 10, 0);
	b.data[20] |= 1;
	CHECK(no_dims(&b));
	buf_reset(&b);
	webp_vp8(&b, 10, 10, 0);
	b.data[24] = 0x02;
	CHECK(no_dims(&b));
	buf_free(&b);
}

TEST(webp_vp8l_lossless)
{
	struct buf b = BUF_INIT;

	webp_vp8l(&b, 1376, 768, 0, 0);
	CHECK(has_dims(&b, 1376, 768));
	CHECK_INT(check_prefixes(&b, 1376, 768), 0);
	buf_reset(&b);
	webp_vp8l(&b, 16384, 16384, 1, 0); /* the largest, with the alpha hint */
	CHECK(has_dims(&b, 16384, 16384));
	buf_reset(&b);
	webp_vp8l(&b, 1, 1, 0, 0);
	CHECK(has_dims(&b, 1, 1));
	CHECK_INT(check_prefixes(&b, 1, 1), 0);
	/* Version bits must be zero; the signature must be 0x2f. */
	for (unsigned v = 1; v < 8; v++) {
		buf_reset(&b);
		webp_vp8l(&b, 10, 10, 0, v);
		CHECK(no_dims(&b));
	}
	buf_reset(&b);
	webp_vp8l(&b, 10, 10, 0, 0);
	b.data[20] = 0x2e;
	CHECK(no_dims(&b));
	buf_free(&b);
}

TEST(webp_vp8x_extended)
{
	struct buf b = BUF_INIT;

	webp_vp8x(&b, 1376, 768);
	CHECK(has_dims(&b, 1376, 768));
	CHECK_INT(check_prefixes(&b, 1376, 768), 0);
	buf_reset(&b);
	webp_vp8x(&b, 1, 1);
	CHECK(has_dims(&b, 1, 1));
	buf_reset(&b);
	webp_vp8x(&b, 0x1000000, 0x1000000); /* 24-bit canvas size + 1 */
	CHECK(has_dims(&b, 0x1000000, 0x1000000));
	CHECK_INT(check_prefixes(&b, 0x1000000, 0x1000000), 0);
	buf_reset(&b);
	webp_vp8x(&b, 70000, 3);
	CHECK(has_dims(&b, 70000, 3));
	buf_free(&b);
}

TEST(webp_rejects)
{
	struct buf b = BUF_INIT;

	riff(&b, "ALPH", 10);
	PUT(&b, "\0\0\0\0\0\0\0\0\0\0");
	CHECK(no_dims(&b));
	buf_reset(&b);
	riff(&b, "vp8 ", 10);
	PUT(&b, "\x50\x02\x00\x9d\x01\x2a\x10\x00\x10\x00");
	CHECK(no_dims(&b));
	buf_reset(&b);
	PUT(&b, "RIFF\0\0\0\0WEBP"); /* no chunk at all */
	CHECK(no_dims(&b));
	buf_free(&b);
}

/* --- robustness ----------------------------------------------------------- */

TEST(garbage)
{
#define J(lit) lit, sizeof(lit) - 1
	static const struct {
		const char *p;
		size_t n;
	} junk[] = {
		{J("")},
		{J("x")},
		{J("GIF89a\x10\0\x10\0\0\0\0")},
		{J("RIFF\x24\0\0\0WAVEfmt \x10\0\0\0")},
		{J("RIFF\x24\0\0\0WEBPVP8Q\x10\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0")},
		{J("\x89PNG\r\n\x1a\n")},
		{J("\x89PNG\r\n\x1a\n\0\0\0\x0dIHDX\0\0\0\1\0\0\0\1")},
		{J("\xff\xd8\xff")},
		{J("\xff\xd8\xff\xd8\xff\xd8")},
		{J("\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0")},
		{J("<html><body>not an image</body></html>")},
		{J("{\"error\":{\"code\":429}}")},
	};
#undef J
	int w, h;

	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
		CHECK_INT(dims(junk[i].p, junk[i].n, &w, &h), -1);

	/* Random tails after each signature: any answer is fine as long as a
	 * success gives positive dimensions (and ASan sees no stray read). */
	uint32_t st = 12345;
	int bad = 0;
	static const struct {
		const char *sig;
		size_t n;
	} heads[] = {
		{"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16},
		{"\xff\xd8", 2},
		{"\xff\xd8\xff\xc0", 4},
		{"RIFF\0\0\0\0WEBPVP8 ", 16},
		{"RIFF\0\0\0\0WEBPVP8L", 16},
		{"RIFF\0\0\0\0WEBPVP8X", 16},
		{"", 0},
	};
	for (size_t k = 0; k < sizeof(heads) / sizeof(heads[0]); k++) {
		for (int iter = 0; iter < 3000; iter++) {
			unsigned char p[64];
			size_t n = heads[k].n + (size_t)(iter % 48);
			memcpy(p, heads[k].sig, heads[k].n);
			for (size_t i = heads[k].n; i < n; i++) {
				st = st * 1103515245u + 12345u;
				/* Bias towards 0xff so JPEG marker walks go deep. */
				p[i] = (st >> 16) % 5 == 0 ? 0xff : (unsigned char)(st >> 23);
			}
			int rc = dims(p, n, &w, &h);
			if (rc == 0 && (w <= 0 || h <= 0))
				bad++;
			if (rc == 0 && !image_sniff(p, n, NULL))
				bad++;
			if (rc != 0 && rc != -1)
				bad++;
		}
	}
	CHECK_INT(bad, 0);
}

int main(void)
{
	RUN(sniff_png);
	RUN(sniff_jpeg);
	RUN(sniff_webp);
	RUN(sniff_others);
	RUN(png_dims);
	RUN(png_rejects);
	RUN(png_alpha);
	RUN(jpeg_app0_sof0);
	RUN(jpeg_exif_orientation);
	RUN(jpeg_sof2_progressive);
	RUN(jpeg_sof_markers);
	RUN(jpeg_dht_before_sof);
	RUN(jpeg_fill_and_standalone_markers);
	RUN(jpeg_rejects);
	RUN(jpeg_extremes);
	RUN(webp_vp8_lossy);
	RUN(webp_vp8l_lossless);
	RUN(webp_vp8x_extended);
	RUN(webp_rejects);
	RUN(garbage);
	UNIT_DONE();
}
