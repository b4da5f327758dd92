/* The one growable byte buffer used everywhere (request bodies, JSON replies,
 * upstream answers, log lines).  Always NUL-terminated after any append, so
 * buf.data can be used as a C string when it holds text. */
#ifndef IMAGEGW_BUF_H
#define IMAGEGW_BUF_H
#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data; /* NULL until the first append; see buf_cstr */
	size_t len;
	size_t cap;
};

#define BUF_INIT                                                                                   \
	{                                                                                          \
		NULL, 0, 0                                                                         \
	}

/* Ensures room for `extra` more bytes (plus the terminating NUL). */
void buf_grow(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *p, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
/* printf-style append; uses the C library formatter. */
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Empties the buffer but keeps its memory for reuse. */
void buf_reset(struct buf *b);
/* Frees the memory; the buffer is BUF_INIT again. */
void buf_free(struct buf *b);
/* Takes ownership of the bytes (NUL-terminated; caller frees); buffer is reset. */
char *buf_detach(struct buf *b, size_t *len);
/* The contents as a C string ("" when empty); valid until the next change. */
const char *buf_cstr(const struct buf *b);

#endif
