/* Prompt rules (SPEC 3.4): the clauses appended for quality and style.  The
 * result is the revised_prompt sent upstream and used in the cache key. */
#ifndef IMAGEGW_PROMPT_H
#define IMAGEGW_PROMPT_H

#include "buf.h"

/* Appends prompt plus the clauses for quality ("hd"/"high" add detail) and
 * style ("vivid"/"natural"); NULL or unmatched values add nothing. */
void prompt_revise(struct buf *out, const char *prompt, const char *quality, const char *style);

#endif
