/* Safety levels and their Gemini mapping, in one table. */
#include "safety.h"

#include <stddef.h>
#include <strings.h>

static const struct {
	const char *name;
	const char *gemini;
} levels[] = {
	[SAFETY_OFF] = {"OFF", "OFF"},
	[SAFETY_LOW] = {"LOW", "BLOCK_ONLY_HIGH"},
	[SAFETY_MEDIUM] = {"MEDIUM", "BLOCK_MEDIUM_AND_ABOVE"},
	[SAFETY_HIGH] = {"HIGH", "BLOCK_LOW_AND_ABOVE"},
};

const char *const safety_gemini_categories[] = {
	"HARM_CATEGORY_HARASSMENT", "HARM_CATEGORY_HATE_SPEECH", "HARM_CATEGORY_SEXUALLY_EXPLICIT",
	"HARM_CATEGORY_DANGEROUS_CONTENT", NULL};

int safety_parse(const char *s)
{
	for (int i = 0; i < (int)(sizeof levels / sizeof levels[0]); i++)
		if (strcasecmp(s, levels[i].name) == 0)
			return i;
	return -1;
}

const char *safety_name(enum safety_level level)
{
	return levels[level].name;
}

const char *safety_gemini_threshold(enum safety_level level)
{
	return levels[level].gemini;
}
