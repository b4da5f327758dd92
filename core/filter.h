/* The content filter (SPEC 6.3): a list of words and phrases, from
 * content_filter_file or the built-in copy of deploy/content-filter.txt,
 * matched on whole words after folding case, accents and leetspeak.
 * docs/content-filter.md has the rules and the policy. */
#ifndef IMAGEGW_FILTER_H
#define IMAGEGW_FILTER_H
#include <stddef.h>

#include "buf.h"

struct config;

/* Room for any entry's text in filter_check's matched (longer entries are cut). */
#define FILTER_MATCHED_MAX 256

/* Loads the list named by cfg->content_filter_file ("" or NULL cfg: the
 * built-in one) into a table kept for the life of the process; a second call
 * for the same file does nothing.  Returns 0, or -1 with the reasons (one per
 * line) appended to errs (may be NULL): a file that cannot be read (the
 * built-in list is used instead) or lines that cannot be used (they are
 * skipped, the rest of the file is used).  A later call naming another file
 * replaces the table. */
int filter_load(const struct config *cfg, struct buf *errs);

/* 1 when text holds a listed word or phrase, as whole words after folding;
 * the listed entry (never the prompt's own spelling) is copied to matched
 * (NUL-terminated, cut to matched_len; matched may be NULL).  0 otherwise, and
 * always 0 with content_filter = off.  Loads the list on first use (a failure
 * is logged once and the built-in list is used).  Allocates nothing. */
int filter_check(const struct config *cfg, const char *text, char *matched, size_t matched_len);

#endif
