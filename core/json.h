/* Strict RFC 8259 JSON: a parser into a read-only tree (request bodies,
 * upstream answers) and writer helpers for quoted strings.  Built for bodies
 * that carry multi-megabyte base64 images. */
#ifndef IMAGEGW_JSON_H
#define IMAGEGW_JSON_H
#include <stddef.h>

struct buf;

/* Deepest nesting of arrays/objects json_parse accepts. */
#define JSON_MAX_DEPTH 64

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json {
	enum json_type type;
	int boolean;	   /* JSON_BOOL: 0/1 */
	double number;	   /* JSON_NUMBER */
	int is_int;	   /* JSON_NUMBER: no fraction/exponent and fits in long long */
	long long integer; /* valid when is_int */
	char *str;	   /* JSON_STRING: decoded UTF-8, NUL-terminated */
	size_t str_len;	   /* may differ from strlen when the text held \u0000 */
	char *key;	   /* object member: decoded key, NUL-terminated */
	size_t key_len;
	struct json *child; /* ARRAY/OBJECT: first element/member */
	struct json *next;  /* next sibling */
	size_t count;	    /* ARRAY/OBJECT: number of children */
};

struct json_error {
	size_t offset; /* byte offset of the problem in the input */
	char msg[128];
};

/* Parses text[0..len) (need not be NUL-terminated).  Returns the root, which
 * owns every node and string; the caller frees it with json_free.  On error
 * returns NULL and fills *err (err may be NULL). */
struct json *json_parse(const char *text, size_t len, struct json_error *err);
/* The same, but strings without escapes are left in text (their closing quote
 * becomes a NUL) instead of copied: text is modified, must stay alive and
 * unchanged as long as the tree, and is not valid JSON afterwards. */
struct json *json_parse_inplace(char *text, size_t len, struct json_error *err);
/* Frees a tree; root must be what json_parse returned (NULL is fine). */
void json_free(struct json *root);

/* Member by key (first match), NULL if obj is not an object or key is absent. */
const struct json *json_get(const struct json *obj, const char *key);
/* Same, for a key of known length that may hold NUL bytes. */
const struct json *json_getn(const struct json *obj, const char *key, size_t klen);
/* Element i of an array, NULL if out of range or not an array. */
const struct json *json_at(const struct json *arr, size_t i);
/* Member's string (owned by the tree), NULL unless it is a JSON string. */
const char *json_get_str(const struct json *obj, const char *key);

/* Appends s[0..n) as a quoted JSON string.  Bytes that are not valid UTF-8
 * become U+FFFD, so the output is always valid JSON. */
void json_put_str(struct buf *b, const char *s, size_t n);
/* Appends a C string as a quoted JSON string; NULL appends null. */
void json_put_cstr(struct buf *b, const char *s);

#endif
