/* Safety thresholds (SPEC 3.5): the four levels a client or operator names,
 * and what each means for every Gemini harm category. */
#ifndef IMAGEGW_SAFETY_H
#define IMAGEGW_SAFETY_H

enum safety_level { SAFETY_OFF, SAFETY_LOW, SAFETY_MEDIUM, SAFETY_HIGH };

/* Parses OFF/LOW/MEDIUM/HIGH case-insensitively; -1 if none of them. */
int safety_parse(const char *s);
/* "OFF", "LOW", ... */
const char *safety_name(enum safety_level level);
/* The Gemini threshold enum value for a level ("BLOCK_ONLY_HIGH", ...). */
const char *safety_gemini_threshold(enum safety_level level);
/* The Gemini harm categories every threshold applies to, NULL-terminated. */
extern const char *const safety_gemini_categories[];

#endif
