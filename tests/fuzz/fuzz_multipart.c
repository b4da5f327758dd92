/* libFuzzer target for core/multipart.c.  The input's first line is a Content-Type
 * (its boundary, else "b" is used), the rest the body.  The body is parsed whole and
 * in chunks chosen by its own bytes: both must give the same code, message and
 * parts; an error is a 400 or 413; parts respect the limits; and a parsed form,
 * written out again, parses back to the same parts.
 * Build: make fuzz (clang -fsanitize=fuzzer,address,undefined). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "multipart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct multipart_limits lim = {.max_part_bytes = 1024,
					    .max_total_bytes = 6000,
					    .max_files = 3,
					    .max_parts = 8,
					    .max_header_bytes = 256,
					    .max_field_bytes = 512};

static struct multipart *parse(const char *boundary, const char *body, size_t n,
			       const struct multipart_limits *l, uint32_t seed, enum img_err *rc,
			       struct img_error *e)
{
	struct multipart *m = multipart_new(boundary, l);
	size_t i = 0;

	if (!m)
		abort(); /* boundaries come from multipart_boundary or are "b" */
	*rc = IMG_OK;
	err_clear(e);
	while (i < n && *rc == IMG_OK) {
		size_t k = n - i;
		if (seed) {
			seed = seed * 1103515245u + 12345u;
			k = 1 + (seed >> 16) % 37;
			if (k > n - i)
				k = n - i;
		}
		char *copy = malloc(k);
		memcpy(copy, body + i, k);
		*rc = multipart_feed(m, copy, k, e);
		free(copy);
		i += k;
	}
	if (*rc == IMG_OK)
		*rc = multipart_finish(m, e);
	if (*rc != e->code)
		abort();
	return m;
}

static int same(const struct multipart *a, const struct multipart *b)
{
	if (multipart_count(a) != multipart_count(b))
		return 0;
	for (size_t i = 0; i < multipart_count(a); i++) {
		const struct multipart_part *p = multipart_part(a, i), *q = multipart_part(b, i);
		if (strcmp(p->name, q->name) || strcmp(p->filename, q->filename) ||
		    strcmp(p->content_type, q->content_type) || p->is_file != q->is_file ||
		    p->data.len != q->data.len || memcmp(p->data.data, q->data.data, p->data.len))
			return 0;
	}
	return 1;
}

static void quoted(struct buf *b, const char *s)
{
	buf_putc(b, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			buf_putc(b, '\\');
		buf_putc(b, *s);
	}
	buf_putc(b, '"');
}

/* Writes the parts out as a client would. */
static void serialize(struct buf *b, const struct multipart *m, const char *boundary)
{
	for (size_t i = 0; i < multipart_count(m); i++) {
		const struct multipart_part *p = multipart_part(m, i);
		buf_printf(b, "--%s\r\nContent-Disposition: form-data; name=", boundary);
		quoted(b, p->name);
		if (p->is_file) {
			buf_puts(b, "; filename=");
			quoted(b, p->filename);
		}
		buf_puts(b, "\r\n");
		if (p->content_type[0])
			buf_printf(b, "Content-Type: %s\r\n", p->content_type);
		buf_puts(b, "\r\n");
		buf_append(b, p->data.data, p->data.len);
		buf_puts(b, "\r\n");
	}
	buf_printf(b, "--%s--\r\n", boundary);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	const char *nl = memchr(s, '\n', size < 200 ? size : 200);
	char ct[201], boundary[71] = "b";
	const char *body = s;
	size_t n = size;
	enum img_err rc, rc2;
	struct img_error e, e2;

	if (nl) {
		memcpy(ct, s, (size_t)(nl - s));
		ct[nl - s] = '\0';
		if (multipart_boundary(ct, boundary, sizeof boundary) != 0)
			strcpy(boundary, "b");
		else if (strlen(boundary) < 1 || strlen(boundary) > 70)
			abort();
		body = nl + 1;
		n = size - (size_t)(nl + 1 - s);
	}

	struct multipart *m = parse(boundary, body, n, &lim, 0, &rc, &e);
	uint32_t seed = 1;
	for (size_t i = 0; i < n && i < 8; i++)
		seed = seed * 31 + (uint8_t)body[i];
	struct multipart *m2 = parse(boundary, body, n, &lim, seed | 1, &rc2, &e2);
	if (rc != rc2 || strcmp(e.message, e2.message) || strcmp(e.param, e2.param))
		abort();

	if (rc == IMG_OK) {
		int files = 0;
		if (!same(m, m2) || multipart_count(m) > (size_t)lim.max_parts)
			abort();
		for (size_t i = 0; i < multipart_count(m); i++) {
			const struct multipart_part *p = multipart_part(m, i);
			files += p->is_file;
			if (!p->name[0] || !p->data.data || p->data.data[p->data.len] != '\0' ||
			    p->data.len > (p->is_file ? lim.max_part_bytes : lim.max_field_bytes))
				abort();
			if (multipart_field(m, p->name) == NULL)
				abort();
		}
		if (files > lim.max_files || multipart_part(m, multipart_count(m)) != NULL)
			abort();

		/* Round trip, with room for the longer quoted headers. */
		struct multipart_limits roomy = lim;
		struct buf out = BUF_INIT;
		roomy.max_total_bytes = 1 << 20;
		roomy.max_header_bytes = 4096;
		serialize(&out, m, boundary);
		struct multipart *m3 = parse(boundary, out.data, out.len, &roomy, 0, &rc2, &e2);
		if (rc2 != IMG_OK || !same(m, m3)) {
			fprintf(stderr, "round trip: %s\n", e2.message);
			abort();
		}
		multipart_free(m3);
		buf_free(&out);
	} else if (rc != IMG_INVALID_REQUEST && rc != IMG_PAYLOAD_TOO_LARGE) {
		abort();
	} else if (!e.message[0]) {
		abort();
	}
	multipart_free(m);
	multipart_free(m2);
	return 0;
}
