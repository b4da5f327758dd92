/* libFuzzer target for core/json.c: parses arbitrary bytes, and for every
 * accepted document checks that each string and key survives json_put_str and
 * a re-parse, and that the whole tree re-serialised parses to the same tree.
 * Build: clang -g -O1 -fsanitize=fuzzer,address,undefined -Icore
 *        tests/fuzz/fuzz_json.c core/json.c core/buf.c core/xalloc.c */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A quoted string written by json_put_str must parse back to the same bytes
 * (the parser only hands out valid UTF-8, so nothing is replaced). */
static void check_string(const char *s, size_t n)
{
	struct buf b = BUF_INIT;
	struct json_error err;
	struct json *j;

	json_put_str(&b, s, n);
	j = json_parse(b.data, b.len, &err);
	if (!j || j->type != JSON_STRING || j->str_len != n || memcmp(j->str, s, n) != 0 ||
	    j->str[n] != '\0') {
		fprintf(stderr, "string round trip failed: %s at %zu\n", j ? "mismatch" : err.msg,
			err.offset);
		abort();
	}
	json_free(j);
	buf_free(&b);
}

/* Serialises v (depth is bounded by JSON_MAX_DEPTH, so recursion is fine). */
static void write_tree(struct buf *b, const struct json *v)
{
	const struct json *c;

	switch (v->type) {
	case JSON_NULL: buf_puts(b, "null"); break;
	case JSON_BOOL: buf_puts(b, v->boolean ? "true" : "false"); break;
	case JSON_NUMBER:
		if (v->is_int)
			buf_printf(b, "%lld", v->integer);
		else
			buf_printf(b, "%.17g", v->number);
		break;
	case JSON_STRING:
		check_string(v->str, v->str_len);
		json_put_str(b, v->str, v->str_len);
		break;
	case JSON_ARRAY:
	case JSON_OBJECT:
		buf_putc(b, v->type == JSON_ARRAY ? '[' : '{');
		for (c = v->child; c; c = c->next) {
			if (c != v->child)
				buf_putc(b, ',');
			if (v->type == JSON_OBJECT) {
				check_string(c->key, c->key_len);
				json_put_str(b, c->key, c->key_len);
				buf_putc(b, ':');
			}
			write_tree(b, c);
		}
		buf_putc(b, v->type == JSON_ARRAY ? ']' : '}');
		break;
	}
}

static int same_tree(const struct json *a, const struct json *b)
{
	const struct json *x, *y;

	if (a->type != b->type)
		return 0;
	switch (a->type) {
	case JSON_NULL: return 1;
	case JSON_BOOL: return a->boolean == b->boolean;
	case JSON_NUMBER:
		if (a->is_int && (!b->is_int || a->integer != b->integer))
			return 0;
		return a->number == b->number;
	case JSON_STRING:
		return a->str_len == b->str_len && memcmp(a->str, b->str, a->str_len) == 0;
	case JSON_ARRAY:
	case JSON_OBJECT:
		if (a->count != b->count)
			return 0;
		for (x = a->child, y = b->child; x && y; x = x->next, y = y->next) {
			if (a->type == JSON_OBJECT &&
			    (x->key_len != y->key_len || memcmp(x->key, y->key, x->key_len) != 0))
				return 0;
			if (!same_tree(x, y))
				return 0;
		}
		return !x && !y;
	}
	return 0;
}

static size_t count_children(const struct json *v)
{
	const struct json *c;
	size_t n = 0;

	for (c = v->child; c; c = c->next)
		n++;
	return n;
}

static void check_counts(const struct json *v)
{
	const struct json *c;

	if (v->type != JSON_ARRAY && v->type != JSON_OBJECT)
		return;
	if (count_children(v) != v->count)
		abort();
	if (v->type == JSON_ARRAY && v->count && json_at(v, v->count - 1) == NULL)
		abort();
	for (c = v->child; c; c = c->next) {
		if ((v->type == JSON_OBJECT) != (c->key != NULL))
			abort();
		if (v->type == JSON_OBJECT && json_getn(v, c->key, c->key_len) == NULL)
			abort();
		check_counts(c);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_error err;
	struct buf b = BUF_INIT;
	struct json *root, *again;

	/* Arbitrary bytes through the writer always give one valid string. */
	json_put_str(&b, (const char *)data, size);
	again = json_parse(b.data, b.len, &err);
	if (!again || again->type != JSON_STRING) {
		fprintf(stderr, "writer output rejected: %s at %zu\n", err.msg, err.offset);
		abort();
	}
	json_free(again);
	buf_reset(&b);

	root = json_parse((const char *)data, size, &err);
	if (!root) {
		if (err.offset > size || !err.msg[0])
			abort();
		buf_free(&b);
		return 0;
	}
	check_counts(root);
	write_tree(&b, root);
	again = json_parse(b.data, b.len, &err);
	if (!again || !same_tree(root, again)) {
		fprintf(stderr, "tree round trip failed: %s\n%s\n", again ? "mismatch" : err.msg,
			b.data);
		abort();
	}
	json_free(again);
	json_free(root);
	buf_free(&b);
	return 0;
}
