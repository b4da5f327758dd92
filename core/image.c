/* Image sniffing and header parsing.  Every read is bounds-checked against
 * n because the bytes come from clients and upstreams (see tests/fuzz). */
#include "image.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "b64.h"
#include "buf.h"

enum image_kind { IMG_NONE, IMG_PNG, IMG_JPEG, IMG_WEBP };

static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

static enum image_kind image_kind(const unsigned char *b, size_t n)
{
	if (n >= 8 && memcmp(b, png_sig, 8) == 0)
		return IMG_PNG;
	if (n >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff)
		return IMG_JPEG;
	if (n >= 12 && memcmp(b, "RIFF", 4) == 0 && memcmp(b + 8, "WEBP", 4) == 0)
		return IMG_WEBP;
	return IMG_NONE;
}

const char *image_sniff(const void *p, size_t n, const char **ext)
{
	static const char *const mime[] = {NULL, "image/png", "image/jpeg", "image/webp"};
	static const char *const exts[] = {NULL, "png", "jpg", "webp"};
	enum image_kind k = p ? image_kind(p, n) : IMG_NONE;

	if (ext)
		*ext = exts[k];
	return mime[k];
}

static uint32_t be16(const unsigned char *b)
{
	return (uint32_t)b[0] << 8 | b[1];
}

static uint32_t be32(const unsigned char *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static uint32_t le16(const unsigned char *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8;
}

static uint32_t le24(const unsigned char *b)
{
	return le16(b) | (uint32_t)b[2] << 16;
}

static uint32_t le32(const unsigned char *b)
{
	return le24(b) | (uint32_t)b[3] << 24;
}

/* Signature, IHDR length (13), "IHDR", width, height. */
static int png_dims(const unsigned char *b, size_t n, uint32_t *w, uint32_t *h)
{
	if (n < 24 || be32(b + 8) != 13 || memcmp(b + 12, "IHDR", 4) != 0)
		return -1;
	*w = be32(b + 16);
	*h = be32(b + 20);
	return 0;
}

int image_png_has_alpha(const void *p, size_t n)
{
	const unsigned char *b = p;
	if (n < 29 || memcmp(b, png_sig, 8) != 0 || image_dims(b, n, NULL, NULL) != 0)
		return -1;
	if (b[25] == 4 || b[25] == 6) /* grey + alpha, RGB + alpha */
		return 1;
	/* Else transparency can only come from a tRNS chunk, which sits before
	 * the first IDAT. */
	size_t i = 8;
	while (n - i >= 8) {
		uint32_t len = be32(b + i);
		if (memcmp(b + i + 4, "tRNS", 4) == 0)
			return 1;
		if (memcmp(b + i + 4, "IDAT", 4) == 0 || memcmp(b + i + 4, "IEND", 4) == 0)
			return 0;
		if (len > n - i - 8 || n - i - 8 - len < 4)
			return -1;
		i += 12 + (size_t)len; /* length, type, data, CRC */
	}
	return -1;
}

/* The Orientation tag (0x0112) of an APP1 Exif segment's first IFD, 1..8,
 * or 0 when the segment holds none. */
static unsigned exif_orientation(const unsigned char *d, size_t n)
{
	if (n < 14 || memcmp(d, "Exif\0\0", 6) != 0)
		return 0;
	const unsigned char *t = d + 6; /* the TIFF header: offsets count from here */
	size_t tn = n - 6;
	int le;
	if (memcmp(t, "II*\0", 4) == 0)
		le = 1;
	else if (memcmp(t, "MM\0*", 4) == 0)
		le = 0;
	else
		return 0;
	uint32_t ifd = le ? le32(t + 4) : be32(t + 4);
	if (ifd < 8 || ifd > tn - 2)
		return 0;
	unsigned count = le ? le16(t + ifd) : be16(t + ifd);
	for (unsigned k = 0; k < count; k++) {
		size_t e = ifd + 2 + (size_t)k * 12; /* tag(2) type(2) count(4) value(4) */
		if (e > tn || tn - e < 12)
			return 0;
		unsigned tag = le ? le16(t + e) : be16(t + e);
		unsigned type = le ? le16(t + e + 2) : be16(t + e + 2);
		if (tag != 0x0112)
			continue;
		unsigned v = le ? le16(t + e + 8) : be16(t + e + 8);
		return type == 3 && v >= 1 && v <= 8 ? v : 0; /* SHORT */
	}
	return 0;
}

/* Walks the marker segments after SOI up to the first start-of-frame,
 * noting an Exif orientation on the way when orient is non-NULL. */
static int jpeg_dims(const unsigned char *b, size_t n, uint32_t *w, uint32_t *h, unsigned *orient)
{
	size_t i = 2;

	for (;;) {
		if (i >= n || b[i] != 0xff)
			return -1;
		while (i < n && b[i] == 0xff) /* fill bytes */
			i++;
		if (i >= n)
			return -1;
		unsigned m = b[i++];
		if (m == 0x01 || m == 0xd8 || (m >= 0xd0 && m <= 0xd7))
			continue; /* TEM, SOI, RSTn: no length field */
		if (m == 0x00 || m == 0xd9 || m == 0xda)
			return -1; /* stuffed zero, EOI or scan data before any frame */
		if (n - i < 2)
			return -1;
		size_t len = be16(b + i);
		if (len < 2 || n - i < len)
			return -1;
		if (m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc) {
			/* length(2) precision(1) lines(2) samples-per-line(2) ... */
			if (len < 8)
				return -1;
			*h = be16(b + i + 3);
			*w = be16(b + i + 5);
			return 0;
		}
		if (m == 0xe1 && orient && !*orient)
			*orient = exif_orientation(b + i + 2, len - 2);
		i += len;
	}
}

/* RIFF header (12 bytes), then the first chunk's fourcc at 12 and its
 * payload from 20. */
static int webp_dims(const unsigned char *b, size_t n, uint32_t *w, uint32_t *h)
{
	if (n < 20)
		return -1;
	const unsigned char *c = b + 20;
	if (memcmp(b + 12, "VP8 ", 4) == 0) {
		/* 3-byte frame tag, start code 9d 01 2a, 14-bit dims + 2-bit scale. */
		if (n < 30 || c[3] != 0x9d || c[4] != 0x01 || c[5] != 0x2a)
			return -1;
		if (c[0] & 1)
			return -1; /* not a key frame */
		*w = le16(c + 6) & 0x3fff;
		*h = le16(c + 8) & 0x3fff;
		return 0;
	}
	if (memcmp(b + 12, "VP8L", 4) == 0) {
		/* Signature 0x2f, then width-1 and height-1 in 14 bits each,
		 * an alpha hint bit and a 3-bit version that must be 0. */
		if (n < 25 || c[0] != 0x2f)
			return -1;
		uint32_t v = le32(c + 1);
		if (v >> 29)
			return -1;
		*w = (v & 0x3fff) + 1;
		*h = ((v >> 14) & 0x3fff) + 1;
		return 0;
	}
	if (memcmp(b + 12, "VP8X", 4) == 0) {
		/* Flags(1) reserved(3), canvas width-1 and height-1 in 24 bits. */
		if (n < 30)
			return -1;
		*w = le24(c + 4) + 1;
		*h = le24(c + 7) + 1;
		return 0;
	}
	return -1;
}

int image_dims(const void *p, size_t n, int *width, int *height)
{
	const unsigned char *b = p;
	uint32_t w = 0, h = 0;
	int rc = -1;

	if (!p)
		return -1;
	switch (image_kind(b, n)) {
	case IMG_PNG: rc = png_dims(b, n, &w, &h); break;
	case IMG_JPEG: rc = jpeg_dims(b, n, &w, &h, NULL); break;
	case IMG_WEBP: rc = webp_dims(b, n, &w, &h); break;
	case IMG_NONE: break;
	}
	if (rc < 0 || w == 0 || h == 0 || w > INT_MAX || h > INT_MAX)
		return -1;
	if (width)
		*width = (int)w;
	if (height)
		*height = (int)h;
	return 0;
}

int image_orientation(const void *p, size_t n)
{
	uint32_t w, h;
	unsigned o = 0;
	if (!p || image_kind(p, n) != IMG_JPEG || jpeg_dims(p, n, &w, &h, &o) != 0)
		return 1;
	return o ? (int)o : 1;
}

int image_b64_check(const char *s, size_t n, struct buf *fixed, const char **b64, size_t *len,
		    const char **mime, const char **ext)
{
	*b64 = s;
	*len = n;
	*mime = *ext = NULL;
	if (!b64_is_canonical(s, n)) {
		struct buf bytes = BUF_INIT;
		if (b64_decode(&bytes, s, n) != 0) {
			buf_free(&bytes);
			return -1;
		}
		buf_reset(fixed);
		b64_encode(fixed, bytes.data, bytes.len);
		buf_free(&bytes);
		*b64 = fixed->data ? fixed->data : "";
		*len = fixed->len;
	}
	/* 24 characters are 18 bytes: enough for every signature sniffed. */
	struct buf head = BUF_INIT;
	b64_decode(&head, *b64, *len < 24 ? *len : 24);
	*mime = image_sniff(head.data, head.len, ext);
	buf_free(&head);
	return *mime && *len >= 24 ? 0 : -2;
}
