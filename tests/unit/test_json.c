/* Unit tests for core/json.c: strict parsing (every rejection class), tree
 * access, UTF-8 and escape handling, the string writer, and big strings. */
#include "../../core/json.c"

#include "unit.h"

static struct json_error err;

static struct json *parse(const char *s)
{
	return json_parse(s, strlen(s), &err);
}

/* True when s is rejected with a message containing `msg`. */
static int rejects(const char *s, size_t len, const char *msg)
{
	struct json *j = json_parse(s, len, &err);

	if (j) {
		fprintf(stderr, "  accepted: %.*s\n", (int)len, s);
		json_free(j);
		return 0;
	}
	if (!strstr(err.msg, msg)) {
		fprintf(stderr, "  %.*s: got \"%s\", want \"%s\"\n", (int)len, s, err.msg, msg);
		return 0;
	}
	return 1;
}

#define REJECT(s, msg) CHECK(rejects(s, sizeof(s) - 1, msg))

TEST(scalars)
{
	struct json *j;

	j = parse("null");
	CHECK(j && j->type == JSON_NULL);
	json_free(j);
	j = parse(" \t\r\ntrue\n");
	CHECK(j && j->type == JSON_BOOL && j->boolean == 1);
	json_free(j);
	j = parse("false");
	CHECK(j && j->type == JSON_BOOL && j->boolean == 0);
	json_free(j);
	j = parse("-12.5e1");
	CHECK(j && j->type == JSON_NUMBER && j->number == -125.0 && !j->is_int);
	json_free(j);
	j = parse("42");
	CHECK(j && j->type == JSON_NUMBER && j->is_int && j->integer == 42);
	json_free(j);
	j = parse("\"hi\"");
	CHECK(j && j->type == JSON_STRING);
	CHECK_STR(j ? j->str : NULL, "hi");
	CHECK_INT(j ? j->str_len : 0, 2);
	CHECK(j && !j->key);
	json_free(j);
	j = parse("\"\"");
	CHECK(j && j->type == JSON_STRING && j->str_len == 0);
	CHECK_STR(j ? j->str : NULL, "");
	json_free(j);
}

TEST(empty_containers)
{
	struct json *j = parse("[ ]");

	CHECK(j && j->type == JSON_ARRAY && j->count == 0 && !j->child);
	CHECK(json_at(j, 0) == NULL);
	json_free(j);
	j = parse("{\n}");
	CHECK(j && j->type == JSON_OBJECT && j->count == 0 && !j->child);
	CHECK(json_get(j, "a") == NULL);
	json_free(j);
	j = parse("[[],{},[{}]]");
	CHECK(j && j->count == 3);
	CHECK(json_at(j, 2) && json_at(j, 2)->count == 1);
	CHECK(json_at(json_at(j, 2), 0)->type == JSON_OBJECT);
	json_free(j);
}

TEST(object_access)
{
	struct json *j = parse("{\"model\": \"sdxl\", \"n\": 2, \"hd\": true,"
			       " \"tags\": [\"a\", \"b\", 3], \"x\": null}");
	const struct json *m;

	CHECK(j && j->type == JSON_OBJECT && j->count == 5);
	CHECK_STR(json_get_str(j, "model"), "sdxl");
	m = json_get(j, "n");
	CHECK(m && m->is_int && m->integer == 2);
	CHECK_STR(m ? m->key : NULL, "n");
	CHECK(json_get_str(j, "n") == NULL);
	CHECK(json_get_str(j, "missing") == NULL);
	CHECK(json_get(j, "hd") && json_get(j, "hd")->boolean == 1);
	CHECK(json_get(j, "x") && json_get(j, "x")->type == JSON_NULL);
	m = json_get(j, "tags");
	CHECK(m && m->type == JSON_ARRAY && m->count == 3);
	CHECK_STR(json_at(m, 1) ? json_at(m, 1)->str : NULL, "b");
	CHECK(json_at(m, 2) && json_at(m, 2)->integer == 3);
	CHECK(json_at(m, 3) == NULL);
	CHECK(json_at(j, 0) == NULL);	 /* not an array */
	CHECK(json_get(m, "a") == NULL); /* not an object */
	CHECK(json_get(NULL, "a") == NULL);
	CHECK(json_at(NULL, 0) == NULL);
	json_free(j);
}

TEST(nested_access)
{
	struct json *j = parse("{\"a\":{\"b\":[1,{\"c\":\"d\"}],\"e\":{}},\"f\":[[[\"deep\"]]]}");
	const struct json *a, *e;

	CHECK(j != NULL);
	a = json_get(j, "a");
	CHECK_STR(json_get_str(json_at(json_get(a, "b"), 1), "c"), "d");
	e = json_at(json_at(json_at(json_get(j, "f"), 0), 0), 0);
	CHECK_STR(e ? e->str : NULL, "deep");
	CHECK(json_get(a, "e") && json_get(a, "e")->count == 0);
	/* siblings are linked in order */
	CHECK_STR(j && j->child ? j->child->key : NULL, "a");
	CHECK_STR(j && j->child && j->child->next ? j->child->next->key : NULL, "f");
	CHECK(j && j->child->next->next == NULL);
	json_free(j);
}

TEST(escapes)
{
	struct json *j = parse("\"q\\\" s\\\\ sl\\/ \\b\\f\\n\\r\\t\"");

	CHECK_STR(j ? j->str : NULL, "q\" s\\ sl/ \b\f\n\r\t");
	json_free(j);
	j = parse("\"\\u0041\\u00e9\\u20AC\\uffff\"");
	CHECK_STR(j ? j->str : NULL, "A\xc3\xa9\xe2\x82\xac\xef\xbf\xbf");
	json_free(j);
	j = parse("\"x\\u0000y\"");
	CHECK(j && j->str_len == 3 && memcmp(j->str, "x\0y", 4) == 0);
	json_free(j);
	/* plain prefix, escape, then a long plain tail */
	j = parse("\"abcdefghijklmnopqrstuvwxyz\\nABCDEFGHIJKLMNOPQRSTUVWXYZ0123\"");
	CHECK_STR(j ? j->str : NULL, "abcdefghijklmnopqrstuvwxyz\nABCDEFGHIJKLMNOPQRSTUVWXYZ0123");
	json_free(j);
	j = parse("[\"\\\\\", \"\\\\\\\"\"]");
	CHECK_STR(j ? json_at(j, 0)->str : NULL, "\\");
	CHECK_STR(j ? json_at(j, 1)->str : NULL, "\\\"");
	json_free(j);
}

TEST(surrogate_pairs)
{
	struct json *j = parse("\"\\ud83d\\ude00 \\uD800\\uDC00 \\udbff\\udfff\"");

	CHECK_STR(j ? j->str : NULL, "\xf0\x9f\x98\x80 \xf0\x90\x80\x80 \xf4\x8f\xbf\xbf");
	json_free(j);
	REJECT("\"\\ud800\"", "surrogate");
	REJECT("\"\\udc00\"", "surrogate");
	REJECT("\"\\ud800\\u0041\"", "surrogate");
	REJECT("\"\\ud800\\ud800\"", "surrogate");
	REJECT("\"\\ud800x\"", "surrogate");
	REJECT("\"\\udfff\\ud800\"", "surrogate");
}

TEST(escaped_keys)
{
	struct json *j = parse("{\"a\\u0000b\": 1, \"\\u00e9\": 2, \"\": 3}");

	CHECK(j != NULL);
	CHECK(json_getn(j, "a\0b", 3) && json_getn(j, "a\0b", 3)->integer == 1);
	CHECK(json_get(j, "a") == NULL);
	CHECK(json_get(j, "\xc3\xa9") && json_get(j, "\xc3\xa9")->integer == 2);
	CHECK(json_get(j, "") && json_get(j, "")->integer == 3);
	json_free(j);
}

TEST(duplicate_keys)
{
	struct json *j = parse("{\"k\": 1, \"k\": 2}");

	CHECK(j && j->count == 2);
	CHECK(json_get(j, "k") && json_get(j, "k")->integer == 1);
	json_free(j);
}

TEST(reject_syntax)
{
	REJECT("", "unexpected end of input");
	REJECT("   ", "unexpected end of input");
	REJECT("[1,]", "unexpected character ']'");
	REJECT("[1,,2]", "unexpected character ','");
	REJECT("[,]", "unexpected character ','");
	REJECT("{\"a\":1,}", "unexpected character '}'");
	REJECT("{,}", "unexpected character ','");
	REJECT("{\"a\" 1}", "expected ':'");
	REJECT("{\"a\":}", "unexpected character '}'");
	REJECT("{a:1}", "unexpected character 'a'");
	REJECT("{'a':1}", "unexpected character '''");
	REJECT("['a']", "unexpected character '''");
	REJECT("[1 2]", "expected ',' or ']'");
	REJECT("{\"a\":1 \"b\":2}", "expected ',' or '}'");
	REJECT("[1}", "expected ',' or ']'");
	REJECT("{\"a\":1]", "expected ',' or '}'");
	REJECT("// c\n1", "unexpected character '/'");
	REJECT("/* c */ 1", "unexpected character '/'");
	REJECT("[1 /* c */]", "unexpected character '/'");
	REJECT("1 # c", "unexpected character '#'");
	REJECT("[", "unexpected end of input");
	REJECT("[1", "unexpected end of input");
	REJECT("[1,", "unexpected end of input");
	REJECT("{", "unexpected end of input");
	REJECT("{\"a\"", "unexpected end of input");
	REJECT("{\"a\":", "unexpected end of input");
	REJECT("\"abc", "unexpected end of input");
	REJECT("\"abc\\", "unexpected end of input");
	REJECT("]", "unexpected character ']'");
	REJECT("\xef\xbb\xbf{}", "unexpected byte 0xef");
	REJECT("\x0c 1", "unexpected byte 0x0c"); /* form feed is not whitespace */
}

TEST(reject_literals)
{
	REJECT("tru", "unexpected end of input");
	REJECT("trUe", "invalid literal");
	REJECT("TRUE", "unexpected character 'T'");
	REJECT("nul", "unexpected end of input");
	REJECT("nulll", "unexpected character 'l' after the value");
	REJECT("falsey", "unexpected character 'y'");
	REJECT("NaN", "unexpected character 'N'");
	REJECT("Infinity", "unexpected character 'I'");
	REJECT("-Infinity", "invalid number");
	REJECT("[NaN]", "unexpected character 'N'");
	REJECT("undefined", "unexpected character 'u'");
}

TEST(reject_numbers)
{
	REJECT("01", "leading zeros");
	REJECT("-01", "leading zeros");
	REJECT("00", "leading zeros");
	REJECT("[007]", "leading zeros");
	REJECT("+1", "unexpected character '+'");
	REJECT(".5", "unexpected character '.'");
	REJECT("1.", "invalid number");
	REJECT("1.e5", "invalid number");
	REJECT("1e", "invalid number");
	REJECT("1e+", "invalid number");
	REJECT("1E-x", "invalid number");
	REJECT("-", "invalid number");
	REJECT("- 1", "invalid number");
	REJECT("0x10", "unexpected character 'x'");
	REJECT("1.5.2", "unexpected character '.'");
	REJECT("1e400", "out of range");
	REJECT("-1e400", "out of range");
}

TEST(reject_strings)
{
	REJECT("\"a\x01z\"", "unescaped control character");
	REJECT("\"a\nz\"", "unescaped control character");
	REJECT("\"a\tz\"", "unescaped control character");
	REJECT("\"\x1f\"", "unescaped control character");
	REJECT("\"a\\xz\"", "invalid escape '\\x'");
	REJECT("\"\\U0041\"", "invalid escape '\\U'");
	REJECT("\"\\'\"", "invalid escape '\\''");
	REJECT("\"\\\x01\"", "invalid escape");
	REJECT("\"\\u12\"", "invalid \\u escape");
	REJECT("\"\\u12G4\"", "invalid \\u escape");
	REJECT("\"\\u123", "invalid \\u escape");
	REJECT("\"\\u-123\"", "invalid \\u escape");
	REJECT("'single'", "unexpected character '''");
	REJECT("\"\x00\"", "unescaped control character");
}

TEST(reject_trailing)
{
	REJECT("1 2", "unexpected character '2' after the value");
	REJECT("{} x", "unexpected character 'x' after the value");
	REJECT("[]]", "unexpected character ']' after the value");
	REJECT("\"a\"\"b\"", "after the value");
	REJECT("null\x00", "unexpected byte 0x00 after the value");
	struct json *j = parse("  [1]  \r\n\t ");
	CHECK(j && j->count == 1);
	json_free(j);
}

TEST(error_offsets)
{
	CHECK(rejects("[1, 2, x]", 9, "unexpected character 'x'"));
	CHECK_INT(err.offset, 7);
	CHECK(rejects("{\"a\": \"b\x01\"}", 11, "control"));
	CHECK_INT(err.offset, 8);
	CHECK(rejects("[1", 2, "end of input"));
	CHECK_INT(err.offset, 2);
	CHECK(rejects("  \"ab\\qc\"", 9, "escape"));
	CHECK_INT(err.offset, 5);
	CHECK(rejects("[\"\xc3\xa9\xff\"]", 7, "UTF-8"));
	CHECK_INT(err.offset, 4);
	CHECK(json_parse("[1,]", 4, NULL) == NULL); /* err may be NULL */
	json_free(NULL);
}

TEST(not_nul_terminated)
{
	const char text[] = "[1,2]garbage";
	struct json *j = json_parse(text, 5, &err);
	char num[3] = {'1', '2', '3'}; /* no terminator */

	CHECK(j && j->count == 2);
	json_free(j);
	j = json_parse(text, 4, &err);
	CHECK(j == NULL);
	j = json_parse("1234", 3, &err);
	CHECK(j && j->is_int && j->integer == 123);
	json_free(j);
	j = json_parse(num, sizeof num, &err);
	CHECK(j && j->integer == 123);
	json_free(j);
	j = json_parse("\"abc\"x", 5, &err);
	CHECK_STR(j ? j->str : NULL, "abc");
	json_free(j);
	CHECK(json_parse("\"abc\"", 4, &err) == NULL);
	CHECK(json_parse("true", 3, &err) == NULL);
	CHECK(json_parse(NULL, 0, &err) == NULL);
}

TEST(utf8_valid)
{
	struct json *j =
		parse("\"\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf"
		      " \xed\x9f\xbf \xee\x80\x80 \xc2\x80 \xe0\xa0\x80 \xf0\x90\x80\x80\"");

	CHECK(j && j->type == JSON_STRING && j->str_len == 36);
	json_free(j);
	j = parse("{\"\xe5\x90\x8d\": \"\xe5\x80\xa4\"}");
	CHECK_STR(json_get_str(j, "\xe5\x90\x8d"), "\xe5\x80\xa4");
	json_free(j);
}

TEST(utf8_invalid)
{
	REJECT("\"\xc0\x80\"", "invalid UTF-8");	 /* overlong NUL */
	REJECT("\"\xc1\xbf\"", "invalid UTF-8");	 /* overlong */
	REJECT("\"\xe0\x80\x80\"", "invalid UTF-8");	 /* overlong */
	REJECT("\"\xe0\x9f\xbf\"", "invalid UTF-8");	 /* overlong */
	REJECT("\"\xf0\x80\x80\x80\"", "invalid UTF-8"); /* overlong */
	REJECT("\"\xf0\x8f\xbf\xbf\"", "invalid UTF-8"); /* overlong */
	REJECT("\"\xed\xa0\x80\"", "invalid UTF-8");	 /* U+D800 */
	REJECT("\"\xed\xbf\xbf\"", "invalid UTF-8");	 /* U+DFFF */
	REJECT("\"\xf4\x90\x80\x80\"", "invalid UTF-8"); /* U+110000 */
	REJECT("\"\xf5\x80\x80\x80\"", "invalid UTF-8");
	REJECT("\"\xf8\x88\x80\x80\x80\"", "invalid UTF-8");
	REJECT("\"\xfe\"", "invalid UTF-8");
	REJECT("\"\xff\"", "invalid UTF-8");
	REJECT("\"\x80\"", "invalid UTF-8"); /* stray continuation */
	REJECT("\"\xbf\"", "invalid UTF-8");
	REJECT("\"\xe2\x82\"", "invalid UTF-8"); /* truncated */
	REJECT("\"\xe2\x82", "invalid UTF-8");	 /* truncated at end */
	REJECT("\"\xf0\x9f\x98\"", "invalid UTF-8");
	REJECT("\"\xc3\"", "invalid UTF-8");
	REJECT("\"\xc3", "invalid UTF-8");
	REJECT("\"\xc3\x41\"", "invalid UTF-8");
	REJECT("{\"\xff\": 1}", "invalid UTF-8"); /* in a key */
	REJECT("\"\\n\xff\"", "invalid UTF-8");	  /* after an escape */
}

static char *nest(size_t depth, const char *open, const char *close, const char *mid)
{
	struct buf b = BUF_INIT;
	size_t i;

	for (i = 0; i < depth; i++)
		buf_puts(&b, open);
	buf_puts(&b, mid);
	for (i = 0; i < depth; i++)
		buf_puts(&b, close);
	return buf_detach(&b, NULL);
}

TEST(depth_limit)
{
	char *s = nest(JSON_MAX_DEPTH, "[", "]", "1");
	struct json *j = parse(s);
	const struct json *e = j;
	int d = 0;

	CHECK(j != NULL);
	while (e && e->type == JSON_ARRAY) {
		e = json_at(e, 0);
		d++;
	}
	CHECK_INT(d, JSON_MAX_DEPTH);
	CHECK(e && e->integer == 1);
	json_free(j);
	free(s);

	s = nest(JSON_MAX_DEPTH + 1, "[", "]", "");
	CHECK(rejects(s, strlen(s), "nesting too deep"));
	CHECK_INT(err.offset, JSON_MAX_DEPTH);
	free(s);

	s = nest(JSON_MAX_DEPTH, "{\"k\":", "}", "0");
	j = parse(s);
	CHECK(j != NULL);
	json_free(j);
	free(s);
	s = nest(JSON_MAX_DEPTH, "{\"k\":", "}", "{}");
	CHECK(rejects(s, strlen(s), "nesting too deep"));
	free(s);

	/* far too deep, and unterminated: must fail fast without recursion */
	s = nest(200000, "[", "", "");
	CHECK(rejects(s, strlen(s), "nesting too deep"));
	free(s);
	/* deep but closed one by one stays within the limit */
	s = xmalloc(200001 * 2);
	for (size_t i = 0; i < 200000; i++)
		memcpy(s + 2 * i, "[]", 2);
	j = json_parse(s, 2, &err);
	CHECK(j && j->count == 0);
	json_free(j);
	CHECK(rejects(s, 400000, "after the value"));
	free(s);
}

TEST(integers)
{
	struct json *j;

	j = parse("9223372036854775807");
	CHECK(j && j->is_int && j->integer == LLONG_MAX);
	json_free(j);
	j = parse("-9223372036854775808");
	CHECK(j && j->is_int && j->integer == LLONG_MIN);
	json_free(j);
	j = parse("9223372036854775808");
	CHECK(j && !j->is_int && j->number == 9223372036854775808.0);
	json_free(j);
	j = parse("-9223372036854775809");
	CHECK(j && !j->is_int);
	json_free(j);
	j = parse("99999999999999999999999");
	CHECK(j && !j->is_int && j->number > 9.9e22);
	json_free(j);
	j = parse("-0");
	CHECK(j && j->is_int && j->integer == 0 && signbit(j->number));
	json_free(j);
	j = parse("0");
	CHECK(j && j->is_int && j->integer == 0);
	json_free(j);
	j = parse("[1.0, 1e2, 1E+2, 10e-1, -5]");
	CHECK(j && !json_at(j, 0)->is_int && json_at(j, 0)->number == 1.0);
	CHECK(j && !json_at(j, 1)->is_int && json_at(j, 1)->number == 100.0);
	CHECK(j && !json_at(j, 2)->is_int && json_at(j, 2)->number == 100.0);
	CHECK(j && json_at(j, 3)->number == 1.0);
	CHECK(j && json_at(j, 4)->is_int && json_at(j, 4)->integer == -5);
	json_free(j);
	j = parse("1e-400");
	CHECK(j && j->number == 0.0 && !j->is_int);
	json_free(j);
	j = parse("0.1");
	CHECK(j && j->number == 0.1);
	json_free(j);
	/* longer than the on-stack copy */
	j = parse(
		"3."
		"14159265358979323846264338327950288419716939937510582097494459230781640628620899");
	CHECK(j && j->number == 3.141592653589793);
	json_free(j);
	j = parse("[1234567890123456789012345678901234567890123456789012345678901234567890123456789"
		  "0]");
	CHECK(j && !json_at(j, 0)->is_int && json_at(j, 0)->number > 1.2e79);
	json_free(j);
}

/* Writes s[0..n) with json_put_str and parses it back. */
static struct json *round_trip(const char *s, size_t n, struct buf *b)
{
	buf_reset(b);
	json_put_str(b, s, n);
	return json_parse(b->data, b->len, &err);
}

TEST(writer_escapes)
{
	static const char in[] = "a\"b\\c\n\x01\x1f\t\r\b\f</script>\x7f";
	struct buf b = BUF_INIT;

	json_put_str(&b, in, sizeof in - 1);
	CHECK_STR(b.data, "\"a\\\"b\\\\c\\n\\u0001\\u001f\\t\\r\\b\\f</script>\x7f\"");
	buf_reset(&b);
	json_put_str(&b, "x\0y", 3);
	CHECK_STR(b.data, "\"x\\u0000y\"");
	buf_reset(&b);
	json_put_str(&b, "", 0);
	CHECK_STR(b.data, "\"\"");
	buf_reset(&b);
	json_put_str(&b, NULL, 0);
	CHECK_STR(b.data, "\"\"");
	buf_reset(&b);
	json_put_cstr(&b, NULL);
	buf_putc(&b, ',');
	json_put_cstr(&b, "h\xc3\xa9");
	CHECK_STR(b.data, "null,\"h\xc3\xa9\"");
	buf_free(&b);
}

TEST(writer_round_trip)
{
	struct buf b = BUF_INIT;
	char all[128 + 16];
	struct json *j;
	int i;

	for (i = 0; i < 128; i++)
		all[i] = (char)i;
	memcpy(all + 128, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf!!!", 16);
	j = round_trip(all, sizeof all, &b);
	CHECK(j && j->type == JSON_STRING && j->str_len == sizeof all);
	CHECK(j && memcmp(j->str, all, sizeof all) == 0);
	json_free(j);

	/* a whole document assembled with the writer */
	buf_reset(&b);
	buf_puts(&b, "{");
	json_put_cstr(&b, "pro\"mpt");
	buf_puts(&b, ":");
	json_put_cstr(&b, "line1\nline2 \\ \"q\"");
	buf_puts(&b, "}");
	j = json_parse(b.data, b.len, &err);
	CHECK_STR(json_get_str(j, "pro\"mpt"), "line1\nline2 \\ \"q\"");
	json_free(j);
	buf_free(&b);
}

TEST(writer_invalid_utf8)
{
	struct buf b = BUF_INIT;
	struct json *j;

	json_put_str(&b, "\xff", 1);
	CHECK_STR(b.data, "\"\xef\xbf\xbd\"");
	buf_reset(&b);
	json_put_str(&b, "a\xe2\x82", 3); /* truncated: one U+FFFD */
	CHECK_STR(b.data, "\"a\xef\xbf\xbd\"");
	buf_reset(&b);
	json_put_str(&b, "\xe2\x82z", 3);
	CHECK_STR(b.data, "\"\xef\xbf\xbdz\"");
	buf_reset(&b);
	json_put_str(&b, "\xc0\xaf", 2); /* overlong: two */
	CHECK_STR(b.data, "\"\xef\xbf\xbd\xef\xbf\xbd\"");
	buf_reset(&b);
	json_put_str(&b, "\xed\xa0\x80", 3); /* surrogate: lead, then two strays */
	CHECK_STR(b.data, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
	buf_reset(&b);
	json_put_str(&b, "\xf4\x90\x80\x80", 4);
	CHECK(strncmp(b.data, "\"\xef\xbf\xbd", 4) == 0);

	const char junk[] = "ok\x80\xbf\xc3\xfe\xf0\x9f\x98\"\\\x01\xe0\x80\x80 end";
	j = round_trip(junk, sizeof junk - 1, &b);
	CHECK(j && j->type == JSON_STRING);
	CHECK(j && strncmp(j->str, "ok\xef\xbf\xbd", 5) == 0);
	CHECK(j && strstr(j->str, "\"\\\x01") && strstr(j->str, " end"));
	json_free(j);
	buf_free(&b);
}

static char *base64ish(size_t n)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *s = xmalloc(n + 1);
	size_t i;

	for (i = 0; i < n; i++)
		s[i] = b64[(i * 7 + i / 3) & 63];
	s[n] = '\0';
	return s;
}

TEST(big_string)
{
	size_t n = 3 * 1024 * 1024;
	char *img = base64ish(n);
	struct buf b = BUF_INIT;
	struct json *j, *k;
	const struct json *m;

	buf_puts(&b, "{\"model\":\"m\",\"image\":");
	json_put_str(&b, img, n);
	buf_puts(&b, ",\"n\":1}");
	CHECK_INT(b.len, n + 30);
	j = json_parse(b.data, b.len, &err);
	m = json_get(j, "image");
	CHECK(m && m->type == JSON_STRING && m->str_len == n);
	CHECK(m && memcmp(m->str, img, n) == 0 && m->str[n] == '\0');
	CHECK_STR(json_get_str(j, "model"), "m");
	CHECK(json_get(j, "n") && json_get(j, "n")->integer == 1);

	/* round trip through the writer again */
	if (m) {
		k = round_trip(m->str, m->str_len, &b);
		CHECK(k && k->str_len == n && memcmp(k->str, img, n) == 0);
		json_free(k);
	}
	json_free(j);

	/* the same with every '/' escaped, as PHP writes it (slow path) */
	buf_reset(&b);
	buf_putc(&b, '"');
	for (size_t i = 0; i < n; i++) {
		if (img[i] == '/')
			buf_putc(&b, '\\');
		buf_putc(&b, img[i]);
	}
	buf_putc(&b, '"');
	j = json_parse(b.data, b.len, &err);
	CHECK(j && j->str_len == n && memcmp(j->str, img, n) == 0);
	json_free(j);

	/* unterminated big string */
	CHECK(rejects(b.data, b.len - 1, "unexpected end of input"));
	CHECK_INT(err.offset, b.len - 1);
	buf_free(&b);
	free(img);
}

TEST(many_nodes)
{
	struct buf b = BUF_INIT;
	struct json *j;
	size_t i, n = 100000;

	buf_putc(&b, '[');
	for (i = 0; i < n; i++)
		buf_printf(&b, "%s{\"i\":%zu,\"s\":\"v%zu\\t\"}", i ? "," : "", i, i);
	buf_putc(&b, ']');
	j = json_parse(b.data, b.len, &err);
	CHECK(j && j->count == n);
	CHECK(json_get(json_at(j, 0), "i") && json_get(json_at(j, 0), "i")->integer == 0);
	CHECK(json_get(json_at(j, n - 1), "i") &&
	      json_get(json_at(j, n - 1), "i")->integer == (long long)(n - 1));
	CHECK_STR(json_get_str(json_at(j, 77777), "s"), "v77777\t");
	json_free(j);

	/* big strings interleaved with small nodes */
	char *big = base64ish(100000);
	buf_reset(&b);
	buf_putc(&b, '[');
	for (i = 0; i < 20; i++) {
		buf_puts(&b, i ? ",1," : "1,");
		json_put_cstr(&b, big);
		buf_puts(&b, ",\"\\u00e9\"");
	}
	buf_putc(&b, ']');
	j = json_parse(b.data, b.len, &err);
	CHECK(j && j->count == 60);
	CHECK(j && json_at(j, 58)->str_len == 100000);
	CHECK_STR(j ? json_at(j, 59)->str : NULL, "\xc3\xa9");
	json_free(j);
	free(big);
	buf_free(&b);
}

/* Strings between the first chunk's size and CHUNK_BIG used to get a chunk
 * smaller than themselves (a heap overflow found by fuzzing). */
TEST(medium_strings_fit_their_chunk)
{
	size_t sizes[] = {4000, 6000, 9000, 12000, 16000};
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		struct buf b = BUF_INIT;
		buf_puts(&b, "{\"prompt\":\"");
		for (size_t j = 0; j < sizes[i]; j++)
			buf_putc(&b, 'a');
		buf_puts(&b, "\",\"esc\":\"");
		for (size_t j = 0; j < sizes[i] / 2; j++)
			buf_puts(&b, "\\n");
		buf_puts(&b, "\"}");
		struct json *j = json_parse(b.data, b.len, NULL);
		CHECK(j != NULL);
		const struct json *p = j ? json_get(j, "prompt") : NULL;
		CHECK(p && p->str_len == sizes[i]);
		const struct json *e = j ? json_get(j, "esc") : NULL;
		CHECK(e && e->str_len == sizes[i] / 2);
		json_free(j);
		buf_free(&b);
	}
}

int main(void)
{
	RUN(scalars);
	RUN(empty_containers);
	RUN(object_access);
	RUN(nested_access);
	RUN(escapes);
	RUN(surrogate_pairs);
	RUN(escaped_keys);
	RUN(duplicate_keys);
	RUN(reject_syntax);
	RUN(reject_literals);
	RUN(reject_numbers);
	RUN(reject_strings);
	RUN(reject_trailing);
	RUN(error_offsets);
	RUN(not_nul_terminated);
	RUN(utf8_valid);
	RUN(utf8_invalid);
	RUN(depth_limit);
	RUN(integers);
	RUN(writer_escapes);
	RUN(writer_round_trip);
	RUN(writer_invalid_utf8);
	RUN(big_string);
	RUN(many_nodes);
	RUN(medium_strings_fit_their_chunk);
	UNIT_DONE();
}
