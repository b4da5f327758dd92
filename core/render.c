/* Local-preview renderer: paints a seed-driven picture one scanline at a time
 * (gradient, a soft band, soft circles, a labelled box) and streams filtered
 * scanlines through zlib into the PNG's single IDAT chunk, so memory stays at
 * a few rows plus the output.  Integer arithmetic only, hence deterministic. */
#include "render.h"

#define ZLIB_CONST
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "xalloc.h"

#define RENDER_MAX	   4096
#define RENDER_CIRCLES_MAX 5
#define RENDER_LABEL_MAX   64
/* Gradient and band lookups are indexed by a 0..65534 position >> 6. */
#define RENDER_STEPS 1024

/* PNG scanline filter used for every row (0 None, 1 Sub, 2 Up).  None: on
 * these smooth pictures Sub and Up save ~20% but make deflate level 6 about
 * three times slower (long match chains), and speed matters more here. */
#ifndef RENDER_FILTER
#define RENDER_FILTER 0
#endif

struct render_circle {
	int cx, cy;
	int64_t r2;
	uint64_t inv; /* (strength << 24) / r2: alpha = (r2 - d2) * inv >> 24 */
	unsigned char rgb[3];
};

struct render_scene {
	int w, h;
	int *tx; /* per column position along x, 0..32767 (maybe mirrored) */
	unsigned char grad[RENDER_STEPS][3];
	unsigned char band_a[RENDER_STEPS];
	unsigned char band_rgb[3];
	int ncircles;
	struct render_circle c[RENDER_CIRCLES_MAX];
	/* label: glyph indices, scale, dark box and text origin */
	unsigned char glyph[RENDER_LABEL_MAX];
	int nglyphs, scale;
	int bx0, by0, bx1, by1, tx0, ty0;
	unsigned char text_rgb[3];
};

/* 5x7 glyphs, one byte per row, bit 4 is the leftmost column.  Order:
 * A-Z, 0-9, '-', ':', space (also used for every other character). */
#define RENDER_GLYPH_SPACE 38
static const unsigned char render_font[39][7] = {
	{0x0e, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11}, /* A */
	{0x1e, 0x11, 0x11, 0x1e, 0x11, 0x11, 0x1e}, /* B */
	{0x0e, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0e}, /* C */
	{0x1c, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1c}, /* D */
	{0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x1f}, /* E */
	{0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x10}, /* F */
	{0x0e, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0f}, /* G */
	{0x11, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11}, /* H */
	{0x0e, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e}, /* I */
	{0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0c}, /* J */
	{0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11}, /* K */
	{0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1f}, /* L */
	{0x11, 0x1b, 0x15, 0x15, 0x11, 0x11, 0x11}, /* M */
	{0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11}, /* N */
	{0x0e, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e}, /* O */
	{0x1e, 0x11, 0x11, 0x1e, 0x10, 0x10, 0x10}, /* P */
	{0x0e, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0d}, /* Q */
	{0x1e, 0x11, 0x11, 0x1e, 0x14, 0x12, 0x11}, /* R */
	{0x0f, 0x10, 0x10, 0x0e, 0x01, 0x01, 0x1e}, /* S */
	{0x1f, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}, /* T */
	{0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e}, /* U */
	{0x11, 0x11, 0x11, 0x11, 0x11, 0x0a, 0x04}, /* V */
	{0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0a}, /* W */
	{0x11, 0x11, 0x0a, 0x04, 0x0a, 0x11, 0x11}, /* X */
	{0x11, 0x11, 0x11, 0x0a, 0x04, 0x04, 0x04}, /* Y */
	{0x1f, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1f}, /* Z */
	{0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e}, /* 0 */
	{0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e}, /* 1 */
	{0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f}, /* 2 */
	{0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e}, /* 3 */
	{0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02}, /* 4 */
	{0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e}, /* 5 */
	{0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e}, /* 6 */
	{0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}, /* 7 */
	{0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e}, /* 8 */
	{0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c}, /* 9 */
	{0x00, 0x00, 0x00, 0x1f, 0x00, 0x00, 0x00}, /* - */
	{0x00, 0x0c, 0x0c, 0x00, 0x0c, 0x0c, 0x00}, /* : */
	{0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, /* space */
};

/* Font index for an ASCII character; lower case maps to upper case. */
static int render_glyph(unsigned char ch)
{
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a';
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= '0' && ch <= '9')
		return 26 + ch - '0';
	if (ch == '-')
		return 36;
	if (ch == ':')
		return 37;
	return RENDER_GLYPH_SPACE;
}

/* splitmix64: small, fast, and the same on every platform. */
static uint64_t render_rand(uint64_t *st)
{
	uint64_t z = (*st += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform-ish integer in [lo, hi); lo when the range is empty. */
static int render_range(uint64_t *st, int lo, int hi)
{
	if (hi <= lo)
		return lo;
	return lo + (int)(render_rand(st) % (uint64_t)(hi - lo));
}

/* h in 0..1535 (six 256-step sectors), s and v in 0..255. */
static void render_hsv(unsigned h, unsigned s, unsigned v, unsigned char *rgb)
{
	unsigned f = h % 256, sect = h / 256 % 6;
	unsigned p = v * (255 - s) / 255;
	unsigned q = v * (255 * 255 - s * f) / (255 * 255);
	unsigned t = v * (255 * 255 - s * (255 - f)) / (255 * 255);
	unsigned r, g, b;

	switch (sect) {
	case 0:
		r = v;
		g = t;
		b = p;
		break;
	case 1:
		r = q;
		g = v;
		b = p;
		break;
	case 2:
		r = p;
		g = v;
		b = t;
		break;
	case 3:
		r = p;
		g = q;
		b = v;
		break;
	case 4:
		r = t;
		g = p;
		b = v;
		break;
	default:
		r = v;
		g = p;
		b = q;
		break;
	}
	rgb[0] = (unsigned char)r;
	rgb[1] = (unsigned char)g;
	rgb[2] = (unsigned char)b;
}

/* a in 0..256: 0 keeps *p, 256 gives c. */
static inline unsigned char render_mix(unsigned p, unsigned c, unsigned a)
{
	return (unsigned char)((p * (256 - a) + c * a) >> 8);
}

static uint32_t render_isqrt(uint64_t v)
{
	uint64_t r = 0, bit = (uint64_t)1 << 62;

	while (bit > v)
		bit >>= 2;
	while (bit) {
		if (v >= r + bit) {
			v -= r + bit;
			r = (r >> 1) + bit;
		} else {
			r >>= 1;
		}
		bit >>= 2;
	}
	return (uint32_t)r;
}

static void render_layout_label(struct render_scene *sc, const char *label)
{
	int w = sc->w, h = sc->h, n = 0;

	if (label)
		for (; label[n] && n < RENDER_LABEL_MAX; n++)
			sc->glyph[n] = (unsigned char)render_glyph((unsigned char)label[n]);
	sc->nglyphs = n;
	if (!n) {
		sc->by0 = sc->by1 = sc->ty0 = -1;
		return;
	}
	int m = w < h ? w : h;
	int scale = m / 160 > 1 ? m / 160 : 1;
	/* Shrink (down to 1) until box and margins fit the width; clip beyond. */
	while (scale > 1 && (6 * n + 9) * scale > w) /* box + both margins */
		scale--;
	int pad = 2 * scale, margin = 3 * scale;
	sc->scale = scale;
	sc->bx0 = margin;
	sc->bx1 = margin + n * 6 * scale - scale + 2 * pad;
	sc->by1 = h - margin;
	sc->by0 = sc->by1 - 7 * scale - 2 * pad;
	sc->tx0 = sc->bx0 + pad;
	sc->ty0 = sc->by0 + pad;
}

static void render_setup(struct render_scene *sc, const unsigned char seed[32], const char *label)
{
	uint64_t st = 0xcbf29ce484222325ULL; /* FNV-1a over the seed */
	unsigned char col[3][3];
	int w = sc->w, h = sc->h, i;

	for (i = 0; i < 32; i++)
		st = (st ^ seed[i]) * 0x100000001b3ULL;

	/* Three hues spread around the wheel; middle stop darker for depth. */
	unsigned hue = (unsigned)render_range(&st, 0, 1536);
	unsigned hue1 = hue + (unsigned)render_range(&st, 256, 768);
	unsigned hue2 = hue1 + (unsigned)render_range(&st, 256, 640);
	render_hsv(hue, (unsigned)render_range(&st, 140, 235),
		   (unsigned)render_range(&st, 180, 256), col[0]);
	render_hsv(hue1, (unsigned)render_range(&st, 120, 235),
		   (unsigned)render_range(&st, 80, 190), col[1]);
	render_hsv(hue2, (unsigned)render_range(&st, 140, 235),
		   (unsigned)render_range(&st, 170, 256), col[2]);
	for (i = 0; i < RENDER_STEPS; i++) {
		const unsigned char *a = i < RENDER_STEPS / 2 ? col[0] : col[1];
		const unsigned char *b = i < RENDER_STEPS / 2 ? col[1] : col[2];
		unsigned t = (unsigned)(i % (RENDER_STEPS / 2)) * 256 / (RENDER_STEPS / 2);
		for (int k = 0; k < 3; k++)
			sc->grad[i][k] = render_mix(a[k], b[k], t);
	}

	int flip = (int)(render_rand(&st) & 1);
	for (int x = 0; x < w; x++) {
		int xx = flip ? w - 1 - x : x;
		sc->tx[x] = w > 1 ? xx * 32767 / (w - 1) : 0;
	}

	/* One soft band across the other diagonal. */
	int bc = render_range(&st, 16384, 49152), bw = render_range(&st, 3000, 9000);
	int bs = render_range(&st, 50, 130);
	render_hsv(hue2 + 768, 60, 255, sc->band_rgb);
	for (i = 0; i < RENDER_STEPS; i++) {
		int d = abs(i * 64 + 32 - bc);
		sc->band_a[i] = (unsigned char)(d < bw ? (bw - d) * bs / bw : 0);
	}

	/* Soft circles: alpha falls off as (r^2 - d^2), so edges fade to 0. */
	int m = w < h ? w : h;
	sc->ncircles = render_range(&st, 3, RENDER_CIRCLES_MAX + 1);
	for (i = 0; i < sc->ncircles; i++) {
		struct render_circle *c = &sc->c[i];
		int r = render_range(&st, m / 10, m / 3 + 1);
		if (r < 1)
			r = 1;
		c->cx = render_range(&st, 0, w);
		c->cy = render_range(&st, 0, h);
		c->r2 = (int64_t)r * r;
		c->inv = ((uint64_t)render_range(&st, 100, 210) << 24) / (uint64_t)c->r2;
		render_hsv(hue + 768 + (unsigned)render_range(&st, 0, 512),
			   (unsigned)render_range(&st, 40, 160),
			   (unsigned)render_range(&st, 215, 256), c->rgb);
	}

	for (int k = 0; k < 3; k++)
		sc->text_rgb[k] = render_mix(255, col[2][k], 40);
	render_layout_label(sc, label);
}

static void render_row(const struct render_scene *sc, int y, unsigned char *row)
{
	const int w = sc->w, h = sc->h;
	const int ty = h > 1 ? y * 32767 / (h - 1) : 0;
	unsigned char *p = row;
	int x;

	for (x = 0; x < w; x++, p += 3) {
		int t = sc->tx[x] + ty;
		const unsigned char *g = sc->grad[t >> 6];
		unsigned a = sc->band_a[(sc->tx[x] - ty + 32767) >> 6];
		if (a) {
			p[0] = render_mix(g[0], sc->band_rgb[0], a);
			p[1] = render_mix(g[1], sc->band_rgb[1], a);
			p[2] = render_mix(g[2], sc->band_rgb[2], a);
		} else {
			p[0] = g[0];
			p[1] = g[1];
			p[2] = g[2];
		}
	}

	for (int i = 0; i < sc->ncircles; i++) {
		const struct render_circle *c = &sc->c[i];
		int64_t dy = y - c->cy, dy2 = dy * dy;
		if (dy2 >= c->r2)
			continue;
		int hx = (int)render_isqrt((uint64_t)(c->r2 - dy2));
		int x0 = c->cx - hx < 0 ? 0 : c->cx - hx;
		int x1 = c->cx + hx >= w ? w - 1 : c->cx + hx;
		for (x = x0, p = row + 3 * x0; x <= x1; x++, p += 3) {
			int64_t dx = x - c->cx, d2 = dx * dx + dy2;
			if (d2 >= c->r2)
				continue;
			unsigned a = (unsigned)(((uint64_t)(c->r2 - d2) * c->inv) >> 24);
			p[0] = render_mix(p[0], c->rgb[0], a);
			p[1] = render_mix(p[1], c->rgb[1], a);
			p[2] = render_mix(p[2], c->rgb[2], a);
		}
	}

	if (y >= sc->by0 && y < sc->by1) {
		int x0 = sc->bx0 < 0 ? 0 : sc->bx0, x1 = sc->bx1 > w ? w : sc->bx1;
		if (x0 > x1) /* box starts right of a narrow image: keep p in the row */
			x0 = x1;
		for (p = row + 3 * x0; p < row + 3 * x1; p++)
			*p = (unsigned char)(*p * 90 >> 8);
	}
	if (y >= sc->ty0 && y < sc->ty0 + 7 * sc->scale) {
		int gy = (y - sc->ty0) / sc->scale, s = sc->scale;
		for (int i = 0; i < sc->nglyphs; i++) {
			unsigned bits = render_font[sc->glyph[i]][gy];
			for (int col = 0; bits && col < 5; col++) {
				if (!(bits & (0x10u >> col)))
					continue;
				int x0 = sc->tx0 + (i * 6 + col) * s, x1 = x0 + s;
				if (x0 < 0)
					x0 = 0;
				if (x1 > w)
					x1 = w;
				if (x0 >= x1)
					continue; /* clipped: row + 3 * x0 would be past the row */
				for (x = x0, p = row + 3 * x0; x < x1; x++, p += 3)
					memcpy(p, sc->text_rgb, 3);
			}
		}
	}
}

/* Filters one scanline into dst (filter byte first); prev is all zeros for
 * the first row, as the PNG spec assumes. */
static void render_filter(const unsigned char *cur, const unsigned char *prev, size_t n,
			  unsigned char *dst)
{
	size_t i;

	dst[0] = RENDER_FILTER;
	dst++;
#if RENDER_FILTER == 1
	(void)prev;
	for (i = 0; i < n && i < 3; i++)
		dst[i] = cur[i];
	for (; i < n; i++)
		dst[i] = (unsigned char)(cur[i] - cur[i - 3]);
#elif RENDER_FILTER == 2
	for (i = 0; i < n; i++)
		dst[i] = (unsigned char)(cur[i] - prev[i]);
#else
	(void)prev;
	(void)i;
	memcpy(dst, cur, n);
#endif
}

static void render_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static void render_chunk(struct buf *out, const char *type, const void *data, uint32_t n)
{
	unsigned char b[8];
	uLong crc;

	render_be32(b, n);
	memcpy(b + 4, type, 4);
	buf_append(out, b, 8);
	buf_append(out, data, n);
	crc = crc32(0, b + 4, 4);
	if (n) /* crc32(crc, NULL, 0) would restart at 0 */
		crc = crc32(crc, data, n);
	render_be32(b, (uint32_t)crc);
	buf_append(out, b, 4);
}

/* Runs deflate until it has consumed all input (or, with Z_FINISH, ended
 * the stream), growing out as needed.  Out of memory aborts, as xalloc does. */
static void render_deflate(z_stream *zs, struct buf *out, const unsigned char *p, size_t n,
			   int flush)
{
	int rc;

	zs->next_in = p;
	zs->avail_in = (uInt)n;
	for (;;) {
		if (out->cap - out->len < 4096)
			buf_grow(out, 65536);
		size_t room = out->cap - out->len - 1;
		zs->next_out = (Bytef *)out->data + out->len;
		zs->avail_out = room > UINT_MAX ? UINT_MAX : (uInt)room;
		rc = deflate(zs, flush);
		out->len = (size_t)((char *)zs->next_out - out->data);
		if (rc == Z_STREAM_ERROR)
			abort();
		if (flush == Z_FINISH ? rc == Z_STREAM_END
				      : zs->avail_in == 0 && zs->avail_out != 0)
			break;
	}
}

void render_png(struct buf *out, const unsigned char seed[32], int width, int height,
		const char *label)
{
	static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
	struct render_scene *sc = xcalloc(1, sizeof(*sc));
	unsigned char ihdr[13];
	z_stream zs;

	sc->w = width < 1 ? 1 : width > RENDER_MAX ? RENDER_MAX : width;
	sc->h = height < 1 ? 1 : height > RENDER_MAX ? RENDER_MAX : height;
	sc->tx = xmalloc((size_t)sc->w * sizeof(int));
	render_setup(sc, seed, label);

	buf_append(out, sig, sizeof(sig));
	render_be32(ihdr, (uint32_t)sc->w);
	render_be32(ihdr + 4, (uint32_t)sc->h);
	ihdr[8] = 8;  /* bit depth */
	ihdr[9] = 2;  /* colour type: RGB */
	ihdr[10] = 0; /* deflate */
	ihdr[11] = 0; /* adaptive filtering */
	ihdr[12] = 0; /* no interlace */
	render_chunk(out, "IHDR", ihdr, sizeof(ihdr));

	/* IDAT: length patched in once the stream is complete. */
	size_t idat = out->len;
	buf_append(out, "\0\0\0\0IDAT", 8);
	memset(&zs, 0, sizeof(zs));
	if (deflateInit(&zs, 6) != Z_OK)
		abort();
	size_t stride = (size_t)sc->w * 3;
	buf_grow(out, stride * (size_t)sc->h / 8 + 1024);
	unsigned char *cur = xmalloc(stride), *prev = xcalloc(1, stride);
	unsigned char *line = xmalloc(stride + 1);
	for (int y = 0; y < sc->h; y++) {
		render_row(sc, y, cur);
		render_filter(cur, prev, stride, line);
		render_deflate(&zs, out, line, stride + 1, Z_NO_FLUSH);
		unsigned char *t = prev;
		prev = cur;
		cur = t;
	}
	render_deflate(&zs, out, NULL, 0, Z_FINISH);
	deflateEnd(&zs);
	free(cur);
	free(prev);
	free(line);
	free(sc->tx);
	free(sc);

	uint32_t n = (uint32_t)(out->len - idat - 8);
	unsigned char tail[4];
	render_be32((unsigned char *)out->data + idat, n);
	render_be32(tail, (uint32_t)crc32(0, (const Bytef *)out->data + idat + 4, n + 4));
	buf_append(out, tail, 4);
	render_chunk(out, "IEND", NULL, 0);
}
