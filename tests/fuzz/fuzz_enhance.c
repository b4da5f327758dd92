/* libFuzzer target for prompt enhancement (core/enhance.c): any request body
 * parses or is a 400, any upstream body gives text within the limit or an
 * error from the table, and the offline rewrite of any bytes stays within its
 * limit and is a fixed point of itself; never a crash or a leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "enhance.h"
#include "genreq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.max_prompt_chars = 8000;
	struct enhance_req r;
	struct img_error e;
	if (enhance_parse_json(&cfg, (const char *)data, size, &r, &e) == IMG_OK) {
		if (!r.prompt || (r.model && !r.model[0]))
			abort();
	} else if (err_info(e.code)->http != 400) {
		abort();
	}
	enhance_req_free(&r);

	size_t max = size % 97;
	struct buf text = BUF_INIT;
	char finish[40];
	enum img_err rc = enhance_read_answer((const char *)data, size, max, &text, finish,
					      sizeof finish, &e);
	if (rc == IMG_OK && (text.len == 0 || genreq_utf8_chars(text.data, text.len) > max))
		abort();
	if (rc != IMG_OK && (rc >= IMG_ERR_COUNT || e.code != rc))
		abort();
	buf_free(&text);

	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	struct buf once = BUF_INIT, twice = BUF_INIT;
	enhance_offline(s, max, &once);
	enhance_offline(buf_cstr(&once), max, &twice);
	if (genreq_utf8_chars(buf_cstr(&once), once.len) > max || once.len != twice.len ||
	    memcmp(buf_cstr(&once), buf_cstr(&twice), once.len) != 0)
		abort();
	buf_free(&once);
	buf_free(&twice);
	free(s);
	return 0;
}
