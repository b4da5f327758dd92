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

#endif
