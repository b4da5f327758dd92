/* libFuzzer target for the Gemini answer and error readers (core/gemini.c):
 * any upstream body must give either an image that sniffs as one, or an
 * error code from the table, never a crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "gemini.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gemini_answer a;
	struct img_error e;
	enum img_err rc = gemini_parse_answer((const char *)data, size, &a, &e);
	if (rc == IMG_OK && (!a.mime || !a.b64 || a.b64_len % 4 != 0))
		abort();
	if (rc != IMG_OK && (rc >= IMG_ERR_COUNT || e.code != rc))
		abort();
	gemini_answer_free(&a);

	struct gemini_fault f;
	gemini_parse_error(429, (const char *)data, size, &f);
	if (strlen(f.message) >= sizeof f.message)
		abort();
	return 0;
}
