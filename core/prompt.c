/* The clause table.  docs/api.md quotes these clauses; change both together. */
#include "prompt.h"

#include <ctype.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

static const struct {
	const char *field; /* "quality" or "style" */
	const char *value;
	const char *clause;
} clauses[] = {
	{"quality", "hd", "highly detailed, sharp focus, fine textures, 4K"},
	{"quality", "high", "highly detailed, sharp focus, fine textures, 4K"},
	{"style", "vivid", "vivid saturated colour, dramatic lighting, bold contrast"},
	{"style", "natural", "natural light, realistic colour, true-to-life detail"},
};

static void add_clause(struct buf *out, const char *field, const char *value)
{
	if (!value)
		return;
	for (size_t i = 0; i < sizeof clauses / sizeof clauses[0]; i++) {
		if (strcasecmp(clauses[i].field, field) == 0 &&
		    strcasecmp(clauses[i].value, value) == 0) {
			/* A prompt that already ends a sentence gets no second stop. */
			char last = out->len ? out->data[out->len - 1] : '.';
			buf_puts(out, strchr(".!?;,:", last) ? " " : ". ");
			buf_puts(out, clauses[i].clause);
			return;
		}
	}
}

void prompt_revise(struct buf *out, const char *prompt, const char *quality, const char *style)
{
	size_t n = strlen(prompt);
	if (quality || style) /* trailing blanks would sit before the clause */
		while (n > 0 && isspace((unsigned char)prompt[n - 1]))
			n--;
	buf_append(out, prompt, n);
	add_clause(out, "quality", quality);
	add_clause(out, "style", style);
}
