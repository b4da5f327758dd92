/* Allocation wrappers that never return NULL: out of memory aborts the process
 * (the web server respawns it), so callers never check allocator results. */
#ifndef IMAGEGW_XALLOC_H
#define IMAGEGW_XALLOC_H
#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif
