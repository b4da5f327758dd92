/* Image format sniffing from magic bytes, and pixel dimensions from the
 * headers of PNG, JPEG and WebP.  Declared MIME types are never trusted. */
#ifndef IMAGEGW_IMAGE_H
#define IMAGEGW_IMAGE_H
#include <stddef.h>

/* Returns "image/png", "image/jpeg", "image/webp" (static strings) or NULL;
 * if ext is non-NULL it gets "png", "jpg", "webp" or NULL. */
const char *image_sniff(const void *p, size_t n, const char **ext);
/* Reads width and height from the header; 0, or -1 if the format is unknown
 * or the header is malformed or truncated.  Never reads past p[n-1]. */
int image_dims(const void *p, size_t n, int *width, int *height);

/* A JPEG's Exif orientation, 1..8 (1: as stored; 5..8: turned a quarter,
 * so it shows with width and height swapped); 1 for anything else or when
 * there is none. */
int image_orientation(const void *p, size_t n);
/* For a PNG: 1 when it can hold transparent pixels (an alpha channel, or
 * a tRNS chunk before the image data), 0 when it cannot, -1 when p is not a
 * PNG or its chunks are cut short before the image data. */
int image_png_has_alpha(const void *p, size_t n);

struct buf;

/* Checks base64 text that should hold an image (an upstream's answer):
 * canonical text is used where it is (*b64 = s); anything else (whitespace,
 * missing padding) is decoded and re-encoded into fixed, and *b64 points
 * there.  The first bytes are decoded to sniff the type into *mime / *ext.
 * Returns 0; -1 when s is not base64; -2 when the bytes are not a PNG, JPEG
 * or WebP image. */
int image_b64_check(const char *s, size_t n, struct buf *fixed, const char **b64, size_t *len,
		    const char **mime, const char **ext);

#endif
