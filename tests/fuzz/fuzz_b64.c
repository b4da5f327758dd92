/* libFuzzer target for core/b64.c: the strict decoder takes client uploads
 * and upstream b64_json.  Whatever it accepts must re-encode to a canonical
 * string that decodes back to the same bytes; a failure must leave the output
 * buffer as it was; and canonical input must always decode.
 * Build: make fuzz (clang -fsanitize=fuzzer,address,undefined). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct buf dec = BUF_INIT, enc = BUF_INIT, again = BUF_INIT;

	buf_puts(&dec, "keep");
	int rc = b64_decode(&dec, s, size);
	if (rc != 0 && rc != -1)
		abort();
	if (dec.len < 4 || memcmp(dec.data, "keep", 4) != 0 || dec.data[dec.len] != '\0')
		abort();
	if (rc == -1 && dec.len != 4)
		abort();
	if (dec.len - 4 > b64_decoded_len(s, size))
		abort();
	if (b64_is_canonical(s, size) && rc != 0)
		abort();
	if (rc == 0) {
		size_t n = dec.len - 4;
		b64_encode(&enc, dec.data + 4, n);
		if (enc.len != (n + 2) / 3 * 4 || !b64_is_canonical(enc.data, enc.len))
			abort();
		if (b64_decode(&again, enc.data, enc.len) != 0 || again.len != n ||
		    memcmp(again.data, dec.data + 4, n) != 0)
			abort();
		/* Canonical input re-encodes to the same length (bits may differ). */
		if (b64_is_canonical(s, size) && enc.len != size)
			abort();
	}

	/* The raw bytes as data: encode, check, decode back. */
	buf_reset(&enc);
	buf_reset(&again);
	b64_encode(&enc, data, size);
	if (!b64_is_canonical(enc.data, enc.len) || b64_decode(&again, enc.data, enc.len) != 0 ||
	    again.len != size || (size && memcmp(again.data, data, size) != 0))
		abort();

	buf_free(&dec);
	buf_free(&enc);
	buf_free(&again);
	return 0;
}
