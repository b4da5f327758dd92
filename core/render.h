/* The offline "local-preview" renderer: a deterministic placeholder PNG drawn
 * from the prompt's SHA-256, for development without an upstream. */
#ifndef IMAGEGW_RENDER_H
#define IMAGEGW_RENDER_H

#include "buf.h"

/* Appends a width x height 8-bit RGB PNG (sizes clamped to 1..4096) drawn from
 * seed: gradient, soft circles and a band, and label (may be NULL) upper-cased
 * in the bottom-left corner.  Same arguments give byte-identical output. */
void render_png(struct buf *out, const unsigned char seed[32], int width, int height,
		const char *label);

#endif
