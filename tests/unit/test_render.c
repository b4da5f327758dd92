/* Unit tests for core/render.c: the PNG it writes is well formed (signature,
 * chunk CRCs, one IDAT that inflates to exactly the scanlines, valid filter
 * bytes), sizes are clamped as render.h documents, output is deterministic
 * and seed-dependent, and the label changes only its box in the bottom-left
 * corner.  Pixels are checked after un-filtering, whatever filter is used. */
#include "../../core/render.c"

#include "image.h"
#include "unit.h"

/* --- a small, strict PNG reader ------------------------------------------- */

struct png {
	uint32_t w, h;
	unsigned char ihdr[13];
	int nidat, filters_bad;
	unsigned char *raw;    /* inflated IDAT: h * (1 + 3w) */
	unsigned char *pixels; /* un-filtered RGB: h * 3w */
};

static uint32_t rd_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int paeth(int a, int b, int c)
{
	int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);

	if (pa <= pb && pa <= pc)
		return a;
	return pb <= pc ? b : c;
}

/* Reverses the five PNG filters (bpp 3) into png->pixels. */
static void unfilter(struct png *png)
{
	size_t stride = (size_t)png->w * 3;

	png->pixels = xmalloc(stride * png->h);
	for (uint32_t y = 0; y < png->h; y++) {
		const unsigned char *in = png->raw + y * (stride + 1);
		unsigned char *cur = png->pixels + y * stride;
		const unsigned char *up = y ? cur - stride : NULL;
		unsigned f = in[0];
		in++;
		if (f > 4)
			png->filters_bad++;
		for (size_t i = 0; i < stride; i++) {
			int a = i >= 3 ? cur[i - 3] : 0, b = up ? up[i] : 0;
			int c = i >= 3 && up ? up[i - 3] : 0, v;
			switch (f) {
			case 1: v = in[i] + a; break;
			case 2: v = in[i] + b; break;
			case 3: v = in[i] + (a + b) / 2; break;
			case 4: v = in[i] + paeth(a, b, c); break;
			default: v = in[i]; break;
			}
			cur[i] = (unsigned char)v;
		}
	}
}

/* Parses the whole file; 0 when every check passes, else -1 with a reason
 * on stderr.  Frees nothing on failure (png_free does). */
static int png_read(const struct buf *b, struct png *png)
{
	const unsigned char *p = (const unsigned char *)b->data;
	size_t n = b->len, off = 8, raw_len;
	struct buf idat = BUF_INIT;
	int seen_iend = 0, rc = -1;

	memset(png, 0, sizeof(*png));
	if (n < 8 || memcmp(p, "\x89PNG\r\n\x1a\n", 8) != 0) {
		fprintf(stderr, "  bad signature\n");
		goto out;
	}
	while (off < n) {
		if (seen_iend) {
			fprintf(stderr, "  bytes after IEND\n");
			goto out;
		}
		if (n - off < 12) {
			fprintf(stderr, "  truncated chunk at %zu\n", off);
			goto out;
		}
		uint32_t len = rd_be32(p + off);
		if (n - off - 12 < len) {
			fprintf(stderr, "  chunk at %zu runs past the end\n", off);
			goto out;
		}
		const unsigned char *type = p + off + 4, *data = p + off + 8;
		uLong crc = crc32(crc32(0, NULL, 0), type, len + 4);
		if (crc != rd_be32(data + len)) {
			fprintf(stderr, "  bad CRC on %.4s\n", (const char *)type);
			goto out;
		}
		if (off == 8 && (memcmp(type, "IHDR", 4) != 0 || len != 13)) {
			fprintf(stderr, "  first chunk is not a 13-byte IHDR\n");
			goto out;
		}
		if (memcmp(type, "IHDR", 4) == 0) {
			memcpy(png->ihdr, data, 13);
			png->w = rd_be32(data);
			png->h = rd_be32(data + 4);
		} else if (memcmp(type, "IDAT", 4) == 0) {
			png->nidat++;
			buf_append(&idat, data, len);
		} else if (memcmp(type, "IEND", 4) == 0) {
			seen_iend = 1;
			if (len) {
				fprintf(stderr, "  IEND has data\n");
				goto out;
			}
		}
		off += 12 + len;
	}
	if (!seen_iend || !png->nidat || !png->w || !png->h) {
		fprintf(stderr, "  missing IEND, IDAT or size\n");
		goto out;
	}
	/* One byte of room more than needed: a longer stream shows up as a
	 * larger destLen or Z_BUF_ERROR. */
	raw_len = (size_t)png->h * (1 + 3 * (size_t)png->w);
	png->raw = xmalloc(raw_len + 1);
	uLongf got = (uLongf)raw_len + 1;
	int zrc = uncompress(png->raw, &got, (const Bytef *)idat.data, (uLong)idat.len);
	if (zrc != Z_OK || got != raw_len) {
		fprintf(stderr, "  IDAT: zlib %d, %lu bytes, want %zu\n", zrc, (unsigned long)got,
			raw_len);
		goto out;
	}
	unfilter(png);
	rc = 0;
out:
	buf_free(&idat);
	return rc;
}

static void png_free(struct png *png)
{
	free(png->raw);
	free(png->pixels);
	memset(png, 0, sizeof(*png));
}

static const unsigned char seed_a[32] = {1,  2,	 3,  4,	 5,  6,	 7,  8,	 9,  10, 11,
					 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
					 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
static const unsigned char seed_b[32] = {0xde, 0xad, 0xbe, 0xef};

static void render(struct buf *out, const unsigned char *seed, int w, int h, const char *label)
{
	buf_reset(out);
	render_png(out, seed, w, h, label);
}

static int same(const struct buf *a, const struct buf *b)
{
	return a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

/* --- the file format ------------------------------------------------------ */

static const int sizes[][2] = {{512, 512}, {688, 384}, {1, 1}, {4096, 1}, {1, 4096}};

TEST(png_well_formed)
{
	struct buf out = BUF_INIT;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		int w = sizes[i][0], h = sizes[i][1], gw = 0, gh = 0;
		const char *ext = NULL;
		struct png png;

		render(&out, seed_a, w, h, "PREVIEW");
		CHECK_STR(image_sniff(out.data, out.len, &ext), "image/png");
		CHECK_STR(ext, "png");
		CHECK_INT(image_dims(out.data, out.len, &gw, &gh), 0);
		CHECK_INT(gw, w);
		CHECK_INT(gh, h);
		CHECK_INT(png_read(&out, &png), 0);
		CHECK_INT(png.w, w);
		CHECK_INT(png.h, h);
		CHECK_INT(png.nidat, 1); /* streamed into a single IDAT */
		CHECK(memcmp(png.ihdr + 8, "\x08\x02\x00\x00\x00", 5) == 0); /* 8-bit RGB */
		CHECK_INT(png.filters_bad, 0);
		png_free(&png);
	}
	buf_free(&out);
}

/* The IHDR chunk, byte for byte, including its CRC from zlib's crc32. */
TEST(ihdr_crc)
{
	struct buf out = BUF_INIT;
	const unsigned char *p;

	render(&out, seed_a, 688, 384, NULL);
	p = (const unsigned char *)out.data;
	CHECK(out.len > 33);
	CHECK(memcmp(p,
		     "\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\x02\xb0\0\0\x01\x80"
		     "\x08\x02\x00\x00\x00",
		     29) == 0);
	CHECK_INT(rd_be32(p + 29), crc32(0, p + 12, 17));
	/* The IEND chunk is the fixed 12 bytes at the very end. */
	CHECK(out.len > 45 && memcmp(p + out.len - 12, "\0\0\0\0IEND\xae\x42\x60\x82", 12) == 0);
	buf_free(&out);
}

/* Each raw scanline starts with a filter byte 0..4 (render uses one fixed
 * filter, but the reader accepts any). */
TEST(scanline_filters)
{
	struct buf out = BUF_INIT;
	struct png png;

	render(&out, seed_b, 300, 200, "x");
	CHECK_INT(png_read(&out, &png), 0);
	int bad = 0;
	for (uint32_t y = 0; png.raw && y < png.h; y++) {
		unsigned f = png.raw[y * (1 + 3 * png.w)];
		if (f > 4 || f != RENDER_FILTER)
			bad++;
	}
	CHECK_INT(bad, 0);
	png_free(&png);

	/* render_filter on two rows, undone by the reader, gives them back. */
	unsigned char rows[2][30], zero[30] = {0};
	struct png two = {.w = 10, .h = 2};
	two.raw = xmalloc(2 * 31);
	for (int i = 0; i < 30; i++) {
		rows[0][i] = (unsigned char)(i * 37 + 11);
		rows[1][i] = (unsigned char)(255 - i * 5);
	}
	render_filter(rows[0], zero, 30, two.raw);
	render_filter(rows[1], rows[0], 30, two.raw + 31);
	unfilter(&two);
	CHECK_INT(two.filters_bad, 0);
	CHECK(memcmp(two.pixels, rows, sizeof(rows)) == 0);
	png_free(&two);
	buf_free(&out);
}

/* --- determinism and seeds ------------------------------------------------ */

TEST(deterministic)
{
	struct buf a = BUF_INIT, b = BUF_INIT;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		render(&a, seed_a, sizes[i][0], sizes[i][1], "a cat");
		render(&b, seed_a, sizes[i][0], sizes[i][1], "a cat");
		CHECK(same(&a, &b));
	}
	/* render_png appends: bytes already in out are kept, the PNG follows. */
	render(&a, seed_b, 64, 48, "x");
	buf_reset(&b);
	buf_puts(&b, "prefix");
	render_png(&b, seed_b, 64, 48, "x");
	CHECK(b.len == a.len + 6 && memcmp(b.data, "prefix", 6) == 0 &&
	      memcmp(b.data + 6, a.data, a.len) == 0);
	buf_free(&a);
	buf_free(&b);
}

TEST(seeds_differ)
{
	struct buf a = BUF_INIT, b = BUF_INIT;
	struct png pa, pb;
	unsigned char seed_c[32];

	render(&a, seed_a, 128, 96, NULL);
	render(&b, seed_b, 128, 96, NULL);
	CHECK(!same(&a, &b));
	CHECK_INT(png_read(&a, &pa), 0);
	CHECK_INT(png_read(&b, &pb), 0);
	CHECK(pa.pixels && pb.pixels && memcmp(pa.pixels, pb.pixels, 128 * 96 * 3) != 0);
	png_free(&pb);

	/* Every seed byte matters: flip one bit in the last byte. */
	memcpy(seed_c, seed_a, 32);
	seed_c[31] ^= 1;
	render(&b, seed_c, 128, 96, NULL);
	CHECK(!same(&a, &b));
	CHECK_INT(png_read(&b, &pb), 0);
	CHECK(pa.pixels && pb.pixels && memcmp(pa.pixels, pb.pixels, 128 * 96 * 3) != 0);
	png_free(&pa);
	png_free(&pb);

	/* A picture, not a flat fill: more than a handful of distinct colours. */
	render(&a, seed_a, 64, 64, NULL);
	CHECK_INT(png_read(&a, &pa), 0);
	int distinct = 0;
	for (int i = 3; pa.pixels && i < 64 * 64 * 3; i += 3)
		if (memcmp(pa.pixels + i, pa.pixels + i - 3, 3) != 0)
			distinct++;
	CHECK(distinct > 100);
	png_free(&pa);
	buf_free(&a);
	buf_free(&b);
}

/* --- sizes ---------------------------------------------------------------- */

/* render.h: "sizes clamped to 1..4096". */
static int renders_as(int w, int h, int want_w, int want_h)
{
	struct buf a = BUF_INIT, b = BUF_INIT;
	int gw = 0, gh = 0, ok;

	render(&a, seed_a, w, h, "clamp");
	render(&b, seed_a, want_w, want_h, "clamp");
	ok = image_dims(a.data, a.len, &gw, &gh) == 0 && gw == want_w && gh == want_h &&
	     same(&a, &b);
	if (!ok)
		fprintf(stderr, "  %dx%d gave %dx%d, want %dx%d\n", w, h, gw, gh, want_w, want_h);
	buf_free(&a);
	buf_free(&b);
	return ok;
}

TEST(size_clamping)
{
	CHECK(renders_as(0, 0, 1, 1));
	CHECK(renders_as(-5, -1, 1, 1));
	CHECK(renders_as(INT_MIN, 7, 1, 7));
	CHECK(renders_as(5000, 1, 4096, 1));
	CHECK(renders_as(1, 5000, 1, 4096));
	CHECK(renders_as(INT_MAX, 2, 4096, 2));
	CHECK(renders_as(3, INT_MAX, 3, 4096));
	CHECK(renders_as(4097, 0, 4096, 1));
}

/* --- the label ------------------------------------------------------------ */

/* The label's box as render lays it out for a w x h image. */
static void label_box(int w, int h, const char *label, struct render_scene *sc)
{
	memset(sc, 0, sizeof(*sc));
	sc->w = w;
	sc->h = h;
	render_layout_label(sc, label);
}

static int glyph_pixel(const struct render_scene *sc, int x, int y)
{
	int s = sc->scale;

	if (y < sc->ty0 || y >= sc->ty0 + 7 * s || x < sc->tx0 ||
	    x >= sc->tx0 + sc->nglyphs * 6 * s)
		return 0;
	int gi = (x - sc->tx0) / (6 * s), col = (x - sc->tx0) / s % 6, gy = (y - sc->ty0) / s;
	return col < 5 && (render_font[sc->glyph[gi]][gy] & (0x10u >> col));
}

/* With and without the label: outside the box nothing changes; inside, the
 * glyphs are one solid colour and the rest of the box is darkened to 90/256. */
TEST(label_bottom_left_only)
{
	struct buf a = BUF_INIT, b = BUF_INIT;
	struct png plain, lab;
	struct render_scene sc;
	const int w = 512, h = 512;
	int outside = 0, box_wrong = 0, glyph_wrong = 0, glyphs = 0;
	unsigned char glyph_rgb[3] = {0, 0, 0};

	render(&a, seed_a, w, h, "");
	render(&b, seed_a, w, h, "PREVIEW");
	CHECK(!same(&a, &b));
	CHECK_INT(png_read(&a, &plain), 0);
	CHECK_INT(png_read(&b, &lab), 0);
	label_box(w, h, "PREVIEW", &sc);
	/* The box sits in the bottom-left quadrant, clear of the edges. */
	CHECK(sc.bx0 > 0 && sc.bx1 <= w / 2 && sc.by0 >= h / 2 && sc.by1 < h);
	CHECK(sc.bx1 > sc.bx0 && sc.by1 > sc.by0);
	CHECK_INT(h - sc.by1, sc.bx0); /* same margin below as on the left */
	for (int y = 0; plain.pixels && lab.pixels && y < h; y++) {
		for (int x = 0; x < w; x++) {
			const unsigned char *p = plain.pixels + (y * w + x) * 3;
			const unsigned char *q = lab.pixels + (y * w + x) * 3;
			int in_box = x >= sc.bx0 && x < sc.bx1 && y >= sc.by0 && y < sc.by1;
			if (!in_box) {
				outside += memcmp(p, q, 3) != 0;
			} else if (glyph_pixel(&sc, x, y)) {
				if (!glyphs++)
					memcpy(glyph_rgb, q, 3);
				glyph_wrong += memcmp(q, glyph_rgb, 3) != 0;
			} else {
				for (int k = 0; k < 3; k++)
					box_wrong += q[k] != (p[k] * 90 >> 8);
			}
		}
	}
	CHECK_INT(outside, 0);
	CHECK_INT(box_wrong, 0);
	CHECK_INT(glyph_wrong, 0);
	/* "PREVIEW" at scale 3: 7 glyphs of 5x7 cells, 9 pixels a lit cell. */
	CHECK_INT(sc.scale, 3);
	CHECK(glyphs > 7 * 10 * 9);
	/* Light text on a darkened box. */
	CHECK(glyph_rgb[0] + glyph_rgb[1] + glyph_rgb[2] > 3 * 128);
	png_free(&plain);
	png_free(&lab);
	buf_free(&a);
	buf_free(&b);
}

/* NULL and "" both mean no label; case does not matter; characters outside
 * the font draw as spaces; only the first 64 characters are drawn. */
TEST(label_text)
{
	struct buf a = BUF_INIT, b = BUF_INIT;
	char longer[100], cut[65];

	render(&a, seed_a, 200, 120, NULL);
	render(&b, seed_a, 200, 120, "");
	CHECK(same(&a, &b));
	render(&a, seed_a, 200, 120, "preview 1:2-3");
	render(&b, seed_a, 200, 120, "PREVIEW 1:2-3");
	CHECK(same(&a, &b));
	render(&a, seed_a, 200, 120, "P?E\xc3\xa9!");
	render(&b, seed_a, 200, 120, "P E   ");
	CHECK(same(&a, &b));
	render(&a, seed_a, 200, 120, "PE");
	CHECK(!same(&a, &b)); /* trailing spaces still widen the box */

	for (int i = 0; i < 99; i++)
		longer[i] = (char)('A' + i % 26);
	longer[99] = '\0';
	memcpy(cut, longer, 64);
	cut[64] = '\0';
	render(&a, seed_a, 800, 200, longer);
	render(&b, seed_a, 800, 200, cut);
	CHECK(same(&a, &b));
	buf_free(&a);
	buf_free(&b);
}

/* A long label on tiny or thin images is clipped, not drawn out of bounds
 * (ASan watches the row buffers), and the file stays valid. */
TEST(label_clipped_on_small_images)
{
	static const int small[][2] = {{1, 1},	  {2, 3},    {8, 8},	{16, 300},
				       {300, 16}, {1, 4096}, {4096, 1}, {40, 40}};
	struct buf out = BUF_INIT;
	const char *label = "A LONG LABEL THAT IS MUCH WIDER THAN THE PICTURE 0123456789";

	for (size_t i = 0; i < sizeof(small) / sizeof(small[0]); i++) {
		struct png png;
		render(&out, seed_b, small[i][0], small[i][1], label);
		CHECK_INT(png_read(&out, &png), 0);
		CHECK_INT(png.w, small[i][0]);
		CHECK_INT(png.h, small[i][1]);
		png_free(&png);
	}
	buf_free(&out);
}

/* --- static helpers ------------------------------------------------------- */

TEST(helpers)
{
	static const uint64_t vals[] = {0,	    1,		2,	    3,	       4,     15,
					16,	    17,		99,	    100,       65535, 65536,
					1ull << 32, UINT32_MAX, 1ull << 25, UINT64_MAX};
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		uint64_t r = render_isqrt(vals[i]);
		CHECK(r * r <= vals[i]);
		CHECK(r == 0xffffffffu || (r + 1) * (r + 1) > vals[i]);
	}
	CHECK_INT(render_isqrt(UINT64_MAX), 0xffffffffu);

	CHECK_INT(render_glyph('A'), 0);
	CHECK_INT(render_glyph('z'), 25);
	CHECK_INT(render_glyph('0'), 26);
	CHECK_INT(render_glyph('9'), 35);
	CHECK_INT(render_glyph('-'), 36);
	CHECK_INT(render_glyph(':'), 37);
	CHECK_INT(render_glyph(' '), RENDER_GLYPH_SPACE);
	CHECK_INT(render_glyph(0xff), RENDER_GLYPH_SPACE);

	unsigned char rgb[3];
	render_hsv(0, 255, 255, rgb);
	CHECK(rgb[0] == 255 && rgb[1] == 0 && rgb[2] == 0);
	render_hsv(512, 255, 255, rgb);
	CHECK(rgb[0] == 0 && rgb[1] == 255 && rgb[2] == 0);
	render_hsv(1024, 255, 255, rgb);
	CHECK(rgb[0] == 0 && rgb[1] == 0 && rgb[2] == 255);
	render_hsv(777, 0, 200, rgb);
	CHECK(rgb[0] == 200 && rgb[1] == 200 && rgb[2] == 200);

	uint64_t st = 42;
	int bad = 0;
	for (int i = 0; i < 1000; i++) {
		int v = render_range(&st, -3, 5);
		bad += v < -3 || v >= 5;
	}
	CHECK_INT(bad, 0);
	CHECK_INT(render_range(&st, 7, 7), 7);
	CHECK_INT(render_range(&st, 7, 2), 7);

	CHECK_INT(render_mix(10, 200, 0), 10);
	CHECK_INT(render_mix(255, 255, 256), 255);
}

int main(void)
{
	RUN(png_well_formed);
	RUN(ihdr_crc);
	RUN(scanline_filters);
	RUN(deterministic);
	RUN(seeds_differ);
	RUN(size_clamping);
	RUN(label_bottom_left_only);
	RUN(label_text);
	RUN(label_clipped_on_small_images);
	RUN(helpers);
	UNIT_DONE();
}
