/* libFuzzer target for the OpenAI answer and error readers (core/openai.c):
 * any upstream body (and header block) must give an image that sniffs as
 * one, a link, or an error code from the table, never a crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "openai.h"
#include "upstream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct openai_answer a;
	struct img_error e;
	enum img_err rc = openai_parse_answer((const char *)data, size, &a, &e);
	if (rc == IMG_OK && !a.url && (!a.mime || !a.b64 || a.b64_len % 4 != 0))
		abort();
	if (rc == IMG_OK && a.url && a.b64)
		abort();
	if (rc != IMG_OK && (rc >= IMG_ERR_COUNT || e.code != rc))
		abort();
	if (rc == IMG_OK && a.url)
		(void)openai_url_allowed(a.url, "http://127.0.0.1:1");
	openai_answer_free(&a);

	/* The same bytes as an error body and as its header block. */
	char *headers = malloc(size + 1);
	if (!headers)
		return 0;
	memcpy(headers, data, size);
	headers[size] = '\0';
	struct upstream_fault f;
	openai_parse_error(429, (const char *)data, size, headers, &f);
	if (strlen(f.message) >= sizeof f.message || f.kind > FAULT_SAFETY)
		abort();
	(void)openai_parse_reset(headers);
	free(headers);
	return 0;
}
