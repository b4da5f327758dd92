/* libFuzzer target for core/filter.c with the built-in list: any prompt bytes
 * fold and match without a crash; a match reports a line of the list (never
 * the prompt's own text); the answer is the same twice; a listed word after
 * any text is still found; content_filter = off never matches.
 * Build: make fuzz (clang -fsanitize=fuzzer,address,undefined). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "filter.h"
#include "xalloc.h"

extern const char content_filter_default[];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 1 when s is a whole line of the built-in list. */
static int is_listed(const char *s)
{
	size_t n = strlen(s);

	for (const char *p = content_filter_default; (p = strstr(p, s)) != NULL; p++)
		if ((p == content_filter_default || p[-1] == '\n') && p[n] == '\n')
			return 1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config cfg;
	char m1[FILTER_MATCHED_MAX], m2[FILTER_MATCHED_MAX];
	char *text = xmalloc(size + sizeof " porn");
	int rc;

	if (!cfg.content_filter) {
		cfg.content_filter = (char *)"on";
		cfg.content_filter_file = (char *)"";
		if (filter_load(&cfg, NULL) != 0)
			abort();
	}
	/* The prompt as the gateway sees it: a C string (NULs are refused earlier). */
	for (size_t i = 0; i < size; i++)
		text[i] = data[i] ? (char)data[i] : ' ';
	text[size] = '\0';

	rc = filter_check(&cfg, text, m1, sizeof m1);
	if (rc != 0 && rc != 1)
		abort();
	if (rc == 1 && !is_listed(m1)) {
		fprintf(stderr, "matched \"%s\" is not a line of the list\n", m1);
		abort();
	}
	if (rc == 0 && m1[0])
		abort();
	if (filter_check(&cfg, text, m2, sizeof m2) != rc || strcmp(m1, m2) != 0)
		abort();

	/* Whatever came before, a listed word on its own is found. */
	memcpy(text + size, " porn", sizeof " porn");
	if (filter_check(&cfg, text, m2, sizeof m2) != 1 || !is_listed(m2)) {
		fprintf(stderr, "\"porn\" at the end was not found\n");
		abort();
	}

	cfg.content_filter = (char *)"off";
	if (filter_check(&cfg, text, m2, sizeof m2) != 0 || m2[0])
		abort();
	cfg.content_filter = (char *)"on";

	free(text);
	return 0;
}
