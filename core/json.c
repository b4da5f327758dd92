/* Strict RFC 8259 JSON parser and string writer.  The parser is a loop with
 * an explicit stack (no recursion, so hostile nesting costs nothing); nodes and
 * strings live in chunks owned by the root, and runs of plain ASCII inside
 * strings are scanned eight bytes at a time and copied with one memcpy. */
#include "json.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "xalloc.h"

#define CHUNK_MIN 4096
#define CHUNK_MAX (1024 * 1024)
/* Larger requests get a chunk to themselves, so big strings waste nothing. */
#define CHUNK_BIG (16 * 1024)

struct chunk {
	struct chunk *next;
	size_t used, cap;
	max_align_t data[];
};

/* What json_parse returns a pointer into: the root comes first, so a pointer
 * to it is a pointer to the whole document. */
struct json_doc {
	struct json root;
	struct chunk *chunks; /* head is the chunk being filled */
	size_t next_cap;
};

struct parser {
	const char *text, *p, *end;
	struct json_doc *doc;
	struct json_error *err;
	char *in_place; /* json_parse_inplace: the writable text, else NULL */
};

static struct chunk *chunk_new(size_t cap)
{
	struct chunk *c = xmalloc(offsetof(struct chunk, data) + cap);

	c->next = NULL;
	c->used = 0;
	c->cap = cap;
	return c;
}

static void *doc_alloc(struct json_doc *d, size_t size, size_t align)
{
	struct chunk *c = d->chunks;

	if (c) {
		size_t off = (c->used + align - 1) & ~(align - 1);
		if (off <= c->cap && size <= c->cap - off) {
			c->used = off + size;
			return (char *)c->data + off;
		}
	}
	if (size > CHUNK_BIG) {
		/* Linked behind the head so the head keeps filling. */
		struct chunk *big = chunk_new(size);
		big->used = size;
		if (c) {
			big->next = c->next;
			c->next = big;
		} else {
			d->chunks = big;
		}
		return big->data;
	}
	/* next_cap starts small: a request between it and CHUNK_BIG still
	 * needs a chunk that holds it. */
	c = chunk_new(size > d->next_cap ? size : d->next_cap);
	if (d->next_cap < CHUNK_MAX)
		d->next_cap *= 2;
	c->next = d->chunks;
	d->chunks = c;
	c->used = size;
	return c->data;
}

static int fail(struct parser *ps, const char *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct parser *ps, const char *at, const char *fmt, ...)
{
	va_list ap;

	if (!ps->err)
		return -1;
	ps->err->offset = (size_t)(at - ps->text);
	va_start(ap, fmt);
	vsnprintf(ps->err->msg, sizeof ps->err->msg, fmt, ap);
	va_end(ap);
	return -1;
}

static int fail_char(struct parser *ps, const char *at, const char *what)
{
	unsigned char c = (unsigned char)*at;

	if (c > 0x20 && c < 0x7f)
		return fail(ps, at, "unexpected character '%c'%s", c, what);
	return fail(ps, at, "unexpected byte 0x%02x%s", c, what);
}

static int is_plain(unsigned char c)
{
	return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

#define ONES 0x0101010101010101ULL
#define HIGH 0x8080808080808080ULL

/* Non-zero when any byte of v is '"', '\\', below 0x20 or above 0x7f: the
 * classic "has zero byte" / "has byte less than" tricks, exact for "any". */
static uint64_t word_special(uint64_t v)
{
	uint64_t q = v ^ (ONES * '"');
	uint64_t s = v ^ (ONES * '\\');

	return (((v - ONES * 0x20) & ~v) | ((q - ONES) & ~q) | ((s - ONES) & ~s) | v) & HIGH;
}

/* First byte in [p, end) that is not plain string content. */
static const char *scan_plain(const char *p, const char *end)
{
	while (end - p >= 16) {
		uint64_t a, b;
		memcpy(&a, p, 8);
		memcpy(&b, p + 8, 8);
		if (word_special(a) | word_special(b))
			break;
		p += 16;
	}
	while (p < end && is_plain((unsigned char)*p))
		p++;
	return p;
}

/* Length (1-4) of the well-formed UTF-8 sequence at s, or 0 when there is
 * none; then *bad is the length of its maximal ill-formed prefix (>= 1). */
static size_t utf8_len(const unsigned char *s, size_t avail, size_t *bad)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t need, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		need = 1;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 2;
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		else if (c == 0xed)
			hi = 0x9f; /* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 3;
		if (c == 0xf0)
			lo = 0x90; /* overlong */
		else if (c == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
	} else {
		*bad = 1;
		return 0;
	}
	for (i = 1; i <= need && i < avail; i++) {
		if (s[i] < lo || s[i] > hi)
			break;
		lo = 0x80;
		hi = 0xbf;
	}
	if (i > need)
		return need + 1;
	*bad = i;
	return 0;
}

static size_t utf8_put(char *o, unsigned long cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Reads "\uXXXX" at p; -1 when it is not one. */
static long read_u_escape(const char *p, const char *lim)
{
	long v = 0;
	int i;

	if (lim - p < 6 || p[0] != '\\' || p[1] != 'u')
		return -1;
	for (i = 2; i < 6; i++) {
		char c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/* Decodes string content from p (just past the opening quote) into dst, which
 * has room for lim - p bytes: output never outgrows the input it came from. */
static int decode_string(struct parser *ps, const char *p, const char *lim, char *dst, size_t *n)
{
	char *o = dst;

	for (;;) {
		const char *r = scan_plain(p, lim);
		memcpy(o, p, (size_t)(r - p));
		o += r - p;
		p = r;
		if (p == lim)
			return fail(ps, p, "unexpected end of input");
		unsigned char c = (unsigned char)*p;
		if (c == '"') {
			*n = (size_t)(o - dst);
			ps->p = p + 1;
			return 0;
		}
		if (c < 0x20)
			return fail(ps, p, "unescaped control character in string");
		if (c >= 0x80) {
			size_t bad, k = utf8_len((const unsigned char *)p, (size_t)(lim - p), &bad);
			if (!k)
				return fail(ps, p, "invalid UTF-8 in string");
			memcpy(o, p, k);
			o += k;
			p += k;
			continue;
		}
		/* A backslash. */
		if (lim - p < 2)
			return fail(ps, lim, "unexpected end of input");
		switch (p[1]) {
		case '"': *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case '/': *o++ = '/'; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u': {
			long cp = read_u_escape(p, lim), lo;
			if (cp < 0)
				return fail(ps, p, "invalid \\u escape");
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return fail(ps, p, "unpaired surrogate in \\u escape");
			if (cp >= 0xd800 && cp <= 0xdbff) {
				lo = read_u_escape(p + 6, lim);
				if (lo < 0xdc00 || lo > 0xdfff)
					return fail(ps, p, "unpaired surrogate in \\u escape");
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				p += 6;
			}
			o += utf8_put(o, (unsigned long)cp);
			p += 6;
			continue;
		}
		default:
			if (p[1] > 0x20 && p[1] < 0x7f)
				return fail(ps, p, "invalid escape '\\%c'", p[1]);
			return fail(ps, p, "invalid escape");
		}
		p += 2;
	}
}

/* The closing quote of a string starting at s, searching from `from`: the
 * first quote preceded by an even run of backslashes; NULL when none. */
static const char *find_close(const char *s, const char *from, const char *end)
{
	const char *r;

	for (r = from; r < end; r++) {
		r = memchr(r, '"', (size_t)(end - r));
		if (!r)
			return NULL;
		size_t bs = 0;
		while (r - bs > s && r[-1 - (ptrdiff_t)bs] == '\\')
			bs++;
		if (!(bs & 1))
			return r;
	}
	return NULL;
}

/* ps->p is at the opening quote; on success it ends past the closing one. */
static int parse_string(struct parser *ps, char **out, size_t *out_len)
{
	const char *s = ps->p + 1, *end = ps->end;
	const char *p = scan_plain(s, end);
	char *d;

	if (p < end && *p == '"') {
		size_t n = (size_t)(p - s);
		if (ps->in_place) {
			/* Terminate the string where its closing quote was: no copy,
			 * which matters for multi-megabyte base64 images. */
			d = ps->in_place + (s - ps->text);
			d[n] = '\0';
			*out = d;
			*out_len = n;
			ps->p = p + 1;
			return 0;
		}
		d = doc_alloc(ps->doc, n + 1, 1);
		memcpy(d, s, n);
		d[n] = '\0';
		*out = d;
		*out_len = n;
		ps->p = p + 1;
		return 0;
	}
	/* Escapes or non-ASCII: size the copy by the raw length, then decode. */
	const char *q = find_close(s, p, end);
	const char *lim = q ? q + 1 : end;
	d = doc_alloc(ps->doc, (size_t)(lim - s) + 1, 1);
	if (decode_string(ps, s, lim, d, out_len))
		return -1;
	d[*out_len] = '\0';
	*out = d;
	return 0;
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int parse_number(struct parser *ps, struct json *node)
{
	const char *s = ps->p, *p = s, *end = ps->end, *digits;
	int neg = 0, whole = 1;
	char tmp[64], *copy;

	if (*p == '-') {
		neg = 1;
		p++;
	}
	digits = p;
	if (p == end || !is_digit(*p))
		return fail(ps, s, "invalid number");
	if (*p == '0') {
		p++;
		if (p < end && is_digit(*p))
			return fail(ps, s, "leading zeros are not allowed");
	} else {
		while (p < end && is_digit(*p))
			p++;
	}
	const char *digits_end = p;
	if (p < end && *p == '.') {
		whole = 0;
		p++;
		if (p == end || !is_digit(*p))
			return fail(ps, s, "invalid number");
		while (p < end && is_digit(*p))
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		whole = 0;
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p == end || !is_digit(*p))
			return fail(ps, s, "invalid number");
		while (p < end && is_digit(*p))
			p++;
	}

	node->type = JSON_NUMBER;
	if (whole) {
		unsigned long long lim =
			neg ? (unsigned long long)LLONG_MAX + 1 : (unsigned long long)LLONG_MAX;
		unsigned long long mag = 0;
		const char *r;
		for (r = digits; r < digits_end; r++) {
			unsigned d1 = (unsigned)(*r - '0');
			if (mag > (lim - d1) / 10)
				break;
			mag = mag * 10 + d1;
		}
		if (r == digits_end) {
			node->is_int = 1;
			if (!neg)
				node->integer = (long long)mag;
			else if (mag == lim)
				node->integer = LLONG_MIN;
			else
				node->integer = -(long long)mag;
			/* Same rounding as strtod, without its cost. */
			node->number = neg && !mag ? -0.0 : (double)node->integer;
			ps->p = p;
			return 0;
		}
	}

	/* strtod needs a terminator, which the input may lack (and the C
	 * locale, which imagegw never changes). */
	size_t n = (size_t)(p - s);
	copy = n < sizeof tmp ? tmp : xmalloc(n + 1);
	memcpy(copy, s, n);
	copy[n] = '\0';
	node->number = strtod(copy, NULL);
	if (copy != tmp)
		free(copy);
	if (isinf(node->number))
		return fail(ps, s, "number out of range");
	ps->p = p;
	return 0;
}

static int parse_literal(struct parser *ps, const char *word, size_t n)
{
	size_t avail = (size_t)(ps->end - ps->p);

	if (memcmp(ps->p, word, avail < n ? avail : n) != 0)
		return fail(ps, ps->p, "invalid literal");
	if (avail < n)
		return fail(ps, ps->end, "unexpected end of input");
	ps->p += n;
	return 0;
}

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end &&
	       (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\r' || *ps->p == '\t'))
		ps->p++;
}

/* One scalar, or the opening bracket of a container (type set, no children). */
static int parse_scalar_or_open(struct parser *ps, struct json *node)
{
	switch (*ps->p) {
	case '{':
		node->type = JSON_OBJECT;
		ps->p++;
		return 0;
	case '[':
		node->type = JSON_ARRAY;
		ps->p++;
		return 0;
	case '"': node->type = JSON_STRING; return parse_string(ps, &node->str, &node->str_len);
	case 't':
		node->type = JSON_BOOL;
		node->boolean = 1;
		return parse_literal(ps, "true", 4);
	case 'f': node->type = JSON_BOOL; return parse_literal(ps, "false", 5);
	case 'n': node->type = JSON_NULL; return parse_literal(ps, "null", 4);
	case '-':
	case '0':
	case '1':
	case '2':
	case '3':
	case '4':
	case '5':
	case '6':
	case '7':
	case '8':
	case '9': return parse_number(ps, node);
	default: return fail_char(ps, ps->p, "");
	}
}

enum parse_state { ST_VALUE, ST_KEY, ST_AFTER };

static struct json *parse_doc(const char *text, size_t len, char *in_place, struct json_error *err);

struct json *json_parse(const char *text, size_t len, struct json_error *err)
{
	return parse_doc(text, len, NULL, err);
}

struct json *json_parse_inplace(char *text, size_t len, struct json_error *err)
{
	return parse_doc(text, len, text, err);
}

static struct json *parse_doc(const char *text, size_t len, char *in_place, struct json_error *err)
{
	struct parser ps;
	struct json *stack[JSON_MAX_DEPTH], *last[JSON_MAX_DEPTH];
	size_t depth = 0, key_len = 0;
	char *key = NULL;
	enum parse_state st = ST_VALUE;
	struct json_doc *doc = xcalloc(1, sizeof *doc);

	if (!text) /* NULL + 0 is undefined */
		text = "", len = 0;
	doc->next_cap = CHUNK_MIN;
	ps.text = ps.p = text;
	ps.in_place = len ? in_place : NULL;
	ps.end = text + len;
	ps.doc = doc;
	ps.err = err;
	if (err) {
		err->offset = 0;
		err->msg[0] = '\0';
	}

	for (;;) {
		struct json *node, *top;

		switch (st) {
		case ST_VALUE:
			skip_ws(&ps);
			if (ps.p == ps.end) {
				fail(&ps, ps.p, "unexpected end of input");
				goto bad;
			}
			if (depth == JSON_MAX_DEPTH && (*ps.p == '{' || *ps.p == '[')) {
				fail(&ps, ps.p, "nesting too deep");
				goto bad;
			}
			if (depth) {
				node = doc_alloc(doc, sizeof *node, _Alignof(struct json));
				memset(node, 0, sizeof *node);
				top = stack[depth - 1];
				if (last[depth - 1])
					last[depth - 1]->next = node;
				else
					top->child = node;
				last[depth - 1] = node;
				top->count++;
				node->key = key;
				node->key_len = key_len;
				key = NULL;
			} else {
				node = &doc->root;
			}
			if (parse_scalar_or_open(&ps, node))
				goto bad;
			st = ST_AFTER;
			if (node->type != JSON_OBJECT && node->type != JSON_ARRAY)
				break;
			stack[depth] = node;
			last[depth] = NULL;
			depth++;
			skip_ws(&ps);
			if (ps.p < ps.end && *ps.p == (node->type == JSON_OBJECT ? '}' : ']')) {
				ps.p++;
				depth--;
			} else {
				st = node->type == JSON_OBJECT ? ST_KEY : ST_VALUE;
			}
			break;

		case ST_KEY:
			skip_ws(&ps);
			if (ps.p == ps.end) {
				fail(&ps, ps.p, "unexpected end of input");
				goto bad;
			}
			if (*ps.p != '"') {
				fail_char(&ps, ps.p, ", expected a string key");
				goto bad;
			}
			if (parse_string(&ps, &key, &key_len))
				goto bad;
			skip_ws(&ps);
			if (ps.p == ps.end) {
				fail(&ps, ps.p, "unexpected end of input");
				goto bad;
			}
			if (*ps.p != ':') {
				fail_char(&ps, ps.p, ", expected ':'");
				goto bad;
			}
			ps.p++;
			st = ST_VALUE;
			break;

		case ST_AFTER:
			skip_ws(&ps);
			if (!depth) {
				if (ps.p != ps.end) {
					fail_char(&ps, ps.p, " after the value");
					goto bad;
				}
				return &doc->root;
			}
			if (ps.p == ps.end) {
				fail(&ps, ps.p, "unexpected end of input");
				goto bad;
			}
			top = stack[depth - 1];
			if (*ps.p == ',') {
				ps.p++;
				st = top->type == JSON_OBJECT ? ST_KEY : ST_VALUE;
			} else if (*ps.p == (top->type == JSON_OBJECT ? '}' : ']')) {
				ps.p++;
				depth--;
			} else {
				fail_char(&ps, ps.p,
					  top->type == JSON_OBJECT ? ", expected ',' or '}'"
								   : ", expected ',' or ']'");
				goto bad;
			}
			break;
		}
	}
bad:
	json_free(&doc->root);
	return NULL;
}

void json_free(struct json *root)
{
	struct json_doc *doc = (struct json_doc *)root;
	struct chunk *c, *next;

	if (!doc)
		return;
	for (c = doc->chunks; c; c = next) {
		next = c->next;
		free(c);
	}
	free(doc);
}

const struct json *json_getn(const struct json *obj, const char *key, size_t klen)
{
	const struct json *m;

	if (!obj || obj->type != JSON_OBJECT)
		return NULL;
	for (m = obj->child; m; m = m->next)
		if (m->key_len == klen && memcmp(m->key, key, klen) == 0)
			return m;
	return NULL;
}

const struct json *json_get(const struct json *obj, const char *key)
{
	return json_getn(obj, key, strlen(key));
}

const struct json *json_at(const struct json *arr, size_t i)
{
	const struct json *e;

	if (!arr || arr->type != JSON_ARRAY || i >= arr->count)
		return NULL;
	for (e = arr->child; i; i--)
		e = e->next;
	return e;
}

const char *json_get_str(const struct json *obj, const char *key)
{
	const struct json *m = json_get(obj, key);

	return m && m->type == JSON_STRING ? m->str : NULL;
}

void json_put_str(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const char *p, *end;

	if (!s) /* NULL + 0 is undefined */
		s = "", n = 0;
	p = s;
	end = s + n;
	buf_grow(b, n + 2);
	buf_putc(b, '"');
	while (p < end) {
		const char *r = scan_plain(p, end);
		if (r > p)
			buf_append(b, p, (size_t)(r - p));
		if (r == end)
			break;
		p = r;
		unsigned char c = (unsigned char)*p;
		if (c >= 0x80) {
			size_t bad, k = utf8_len((const unsigned char *)p, (size_t)(end - p), &bad);
			if (k) {
				buf_append(b, p, k);
				p += k;
			} else {
				buf_append(b, "\xef\xbf\xbd", 3);
				p += bad;
			}
			continue;
		}
		p++;
		switch (c) {
		case '"': buf_append(b, "\\\"", 2); break;
		case '\\': buf_append(b, "\\\\", 2); break;
		case '\b': buf_append(b, "\\b", 2); break;
		case '\f': buf_append(b, "\\f", 2); break;
		case '\n': buf_append(b, "\\n", 2); break;
		case '\r': buf_append(b, "\\r", 2); break;
		case '\t': buf_append(b, "\\t", 2); break;
		default: {
			char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
			buf_append(b, u, sizeof u);
		}
		}
	}
	buf_putc(b, '"');
}

void json_put_cstr(struct buf *b, const char *s)
{
	if (!s)
		buf_append(b, "null", 4);
	else
		json_put_str(b, s, strlen(s));
}
