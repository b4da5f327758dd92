/* libFuzzer target for core/image.c: sniffing and header parsing see bytes
 * from clients and upstreams, so any input must give a known type or NULL,
 * dimensions that are positive whenever image_dims reports success, and
 * a PNG's transparency read without straying past the end.
 * Build: make fuzz (clang -fsanitize=fuzzer,address,undefined; ASan catches
 * any read past data[size-1], which image.h promises never happens). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *ext = "unset";
	const char *mime = image_sniff(data, size, &ext);
	int w = -7, h = -7;

	if (mime ? !ext || strncmp(mime, "image/", 6) != 0 : ext != NULL)
		abort();
	int rc = image_dims(data, size, &w, &h);
	if (rc != 0 && rc != -1)
		abort();
	if (rc == 0 && (w <= 0 || h <= 0 || !mime))
		abort();
	if (rc == -1 && (w != -7 || h != -7))
		abort(); /* outputs are only written on success */
	/* A prefix never yields different dimensions from the whole header. */
	if (rc == 0 && size > 0) {
		int pw, ph;
		if (image_dims(data, size - 1, &pw, &ph) == 0 && (pw != w || ph != h))
			abort();
	}
	/* Transparency is only ever reported for a PNG with readable dimensions. */
	int alpha = image_png_has_alpha(data, size);
	if (alpha < -1 || alpha > 1 || (alpha >= 0 && (rc != 0 || strcmp(ext, "png") != 0)))
		abort();
	int o = image_orientation(data, size);
	if (o < 1 || o > 8 || (o != 1 && (rc != 0 || strcmp(ext, "jpg") != 0)))
		abort();
	return 0;
}
