/* Unit tests for core/prompt.c (SPEC 3.4: the clauses quality and style add
 * to the revised prompt) and core/safety.c (3.5: the four levels, their
 * spellings and their Gemini thresholds and categories). */
#include "../../core/prompt.c"
#include "../../core/safety.c"

#include <stdlib.h>

#include "unit.h"

static char *revise(const char *prompt, const char *quality, const char *style)
{
	struct buf b = BUF_INIT;

	prompt_revise(&b, prompt, quality, style);
	return buf_detach(&b, NULL);
}

/* 1 when prompt_revise(prompt, quality, style) gives exactly want. */
static int revised_is(const char *prompt, const char *quality, const char *style, const char *want)
{
	char *got = revise(prompt, quality, style);
	int ok = strcmp(got, want) == 0;

	if (!ok)
		fprintf(stderr, "  (%s, %s, %s): got \"%s\", want \"%s\"\n", prompt,
			quality ? quality : "NULL", style ? style : "NULL", got, want);
	free(got);
	return ok;
}

static int revised_has(const char *quality, const char *style, const char *needle)
{
	char *got = revise("a cat", quality, style);
	int ok = strncmp(got, "a cat. ", 7) == 0 && strstr(got, needle) != NULL;

	if (!ok)
		fprintf(stderr, "  (%s, %s): \"%s\" lacks \"%s\"\n", quality ? quality : "NULL",
			style ? style : "NULL", got, needle);
	free(got);
	return ok;
}

#define HD_CLAUSE      "highly detailed, sharp focus, fine textures, 4K"
#define VIVID_CLAUSE   "vivid saturated colour, dramatic lighting, bold contrast"
#define NATURAL_CLAUSE "natural light, realistic colour, true-to-life detail"

TEST(each_clause)
{
	/* What SPEC 3.4 promises of each clause. */
	CHECK(revised_has("hd", NULL, "highly detailed"));
	CHECK(revised_has("hd", NULL, "sharp focus"));
	CHECK(revised_has("hd", NULL, "4K"));
	CHECK(revised_has("high", NULL, "highly detailed"));
	CHECK(revised_has(NULL, "vivid", "vivid"));
	CHECK(revised_has(NULL, "vivid", "dramatic lighting"));
	CHECK(revised_has(NULL, "natural", "natural light"));
	CHECK(revised_has(NULL, "natural", "realistic"));
	/* The exact text (docs/api.md quotes it). */
	CHECK(revised_is("a cat", "hd", NULL, "a cat. " HD_CLAUSE));
	CHECK(revised_is("a cat", "high", NULL, "a cat. " HD_CLAUSE));
	CHECK(revised_is("a cat", NULL, "vivid", "a cat. " VIVID_CLAUSE));
	CHECK(revised_is("a cat", NULL, "natural", "a cat. " NATURAL_CLAUSE));
	/* Both: quality's clause first, then style's. */
	CHECK(revised_is("a cat", "hd", "vivid", "a cat. " HD_CLAUSE ". " VIVID_CLAUSE));
	CHECK(revised_is("a cat", "high", "natural", "a cat. " HD_CLAUSE ". " NATURAL_CLAUSE));
	CHECK(revised_is("a cat", "standard", "natural", "a cat. " NATURAL_CLAUSE));
}

TEST(case_insensitive)
{
	CHECK(revised_is("a cat", "HD", NULL, "a cat. " HD_CLAUSE));
	CHECK(revised_is("a cat", "High", NULL, "a cat. " HD_CLAUSE));
	CHECK(revised_is("a cat", NULL, "VIVID", "a cat. " VIVID_CLAUSE));
	CHECK(revised_is("a cat", NULL, "Natural", "a cat. " NATURAL_CLAUSE));
}

TEST(none_unchanged)
{
	CHECK(revised_is("a cat", NULL, NULL, "a cat"));
	CHECK(revised_is("a cat", "standard", NULL, "a cat"));
	CHECK(revised_is("a cat", "medium", NULL, "a cat"));
	CHECK(revised_is("a cat", "low", NULL, "a cat"));
	CHECK(revised_is("a cat", "auto", NULL, "a cat"));
	CHECK(revised_is("a cat", "", "", "a cat"));
	CHECK(revised_is("a cat", "ultra", "noir", "a cat"));
	/* A value of one field does not trigger the other field's clause. */
	CHECK(revised_is("a cat", "vivid", "hd", "a cat"));
	CHECK(revised_is("", NULL, NULL, ""));
	CHECK(revised_is("caf\xc3\xa9 \xe2\x98\x95", NULL, NULL, "caf\xc3\xa9 \xe2\x98\x95"));
}

TEST(appends_to_buffer)
{
	struct buf b = BUF_INIT;

	buf_puts(&b, "[");
	prompt_revise(&b, "x", "hd", NULL);
	CHECK_STR(buf_cstr(&b), "[x. " HD_CLAUSE);
	buf_free(&b);
}

/* docs/api.md quotes the clause table (prompt.c says so); check it when the
 * file exists. */
TEST(docs_quote_clauses)
{
	FILE *f = fopen("docs/api.md", "r");
	struct buf doc = BUF_INIT;
	char chunk[4096];
	size_t n;

	if (!f) {
		printf("note: docs/api.md not found (run from the repository root); "
		       "clause check skipped\n");
		return;
	}
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_append(&doc, chunk, n);
	fclose(f);
	for (size_t i = 0; i < sizeof clauses / sizeof clauses[0]; i++)
		if (!strstr(buf_cstr(&doc), clauses[i].clause)) {
			fprintf(stderr, "  docs/api.md lacks the %s=%s clause \"%s\"\n",
				clauses[i].field, clauses[i].value, clauses[i].clause);
			CHECK(!"docs/api.md quotes every clause");
		}
	buf_free(&doc);
}

TEST(safety_parse_spellings)
{
	CHECK_INT(safety_parse("OFF"), SAFETY_OFF);
	CHECK_INT(safety_parse("off"), SAFETY_OFF);
	CHECK_INT(safety_parse("Off"), SAFETY_OFF);
	CHECK_INT(safety_parse("LOW"), SAFETY_LOW);
	CHECK_INT(safety_parse("low"), SAFETY_LOW);
	CHECK_INT(safety_parse("lOw"), SAFETY_LOW);
	CHECK_INT(safety_parse("MEDIUM"), SAFETY_MEDIUM);
	CHECK_INT(safety_parse("medium"), SAFETY_MEDIUM);
	CHECK_INT(safety_parse("Medium"), SAFETY_MEDIUM);
	CHECK_INT(safety_parse("HIGH"), SAFETY_HIGH);
	CHECK_INT(safety_parse("high"), SAFETY_HIGH);
	CHECK_INT(safety_parse("hIGH"), SAFETY_HIGH);
}

TEST(safety_parse_invalid)
{
	static const char *const bad[] = {"",		"NONE",
					  "MED",	"HI",
					  "LOWEST",	" LOW",
					  "LOW ",	"0",
					  "1",		"BLOCK_ONLY_HIGH",
					  "BLOCK_NONE", "BLOCK_MEDIUM_AND_ABOVE",
					  "OFF\n",	"h\xc3\xafgh",
					  NULL};

	for (int i = 0; bad[i]; i++) {
		if (safety_parse(bad[i]) != -1)
			fprintf(stderr, "  accepted \"%s\"\n", bad[i]);
		CHECK_INT(safety_parse(bad[i]), -1);
	}
}

TEST(safety_names_and_mapping)
{
	CHECK_STR(safety_name(SAFETY_OFF), "OFF");
	CHECK_STR(safety_name(SAFETY_LOW), "LOW");
	CHECK_STR(safety_name(SAFETY_MEDIUM), "MEDIUM");
	CHECK_STR(safety_name(SAFETY_HIGH), "HIGH");
	CHECK_STR(safety_gemini_threshold(SAFETY_OFF), "OFF");
	CHECK_STR(safety_gemini_threshold(SAFETY_LOW), "BLOCK_ONLY_HIGH");
	CHECK_STR(safety_gemini_threshold(SAFETY_MEDIUM), "BLOCK_MEDIUM_AND_ABOVE");
	CHECK_STR(safety_gemini_threshold(SAFETY_HIGH), "BLOCK_LOW_AND_ABOVE");
	/* Round trip through the name. */
	for (int l = SAFETY_OFF; l <= SAFETY_HIGH; l++)
		CHECK_INT(safety_parse(safety_name((enum safety_level)l)), l);
}

TEST(safety_categories)
{
	static const char *const want[] = {"HARM_CATEGORY_HARASSMENT", "HARM_CATEGORY_HATE_SPEECH",
					   "HARM_CATEGORY_SEXUALLY_EXPLICIT",
					   "HARM_CATEGORY_DANGEROUS_CONTENT"};
	int n = 0;

	while (safety_gemini_categories[n])
		n++;
	CHECK_INT(n, 4);
	for (int i = 0; i < 4 && i < n; i++)
		CHECK_STR(safety_gemini_categories[i], want[i]);
}

int main(void)
{
	RUN(each_clause);
	RUN(case_insensitive);
	RUN(none_unchanged);
	RUN(appends_to_buffer);
	RUN(docs_quote_clauses);
	RUN(safety_parse_spellings);
	RUN(safety_parse_invalid);
	RUN(safety_names_and_mapping);
	RUN(safety_categories);
	UNIT_DONE();
}
