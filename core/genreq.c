/* Request validation for image generation.  Unknown fields are ignored (clients
 * send extras); null counts as absent; a present field of the wrong type or
 * value is a 400 naming it. */
#include "genreq.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "json.h"
#include "model.h"
#include "safety.h"
#include "xalloc.h"

static const char *const qualities[] = {"standard", "hd", "low", "medium", "high", "auto", NULL};
static const char *const styles[] = {"vivid", "natural", NULL};
static const char *const formats[] = {"b64_json", "url", NULL};

size_t genreq_utf8_chars(const char *s, size_t n)
{
	size_t count = 0;
	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			count++;
	return count;
}

/* Where a request's fields come from: the members of a JSON object, or the
 * text fields of a multipart/form-data body.  The rules below read fields
 * only through get(), so both bodies are validated by the same code. */
struct src {
	const struct json *obj;
	const struct genreq_field *form;
	size_t nform;
};

/* A field as the client sent it.  Form values are always text (from_text);
 * the typed readers accept text spellings of integers and booleans there. */
enum val_kind { V_ABSENT, V_STRING, V_INT, V_BOOL, V_OTHER };

struct val {
	enum val_kind kind;
	const char *str; /* V_STRING: the bytes (JSON strings are NUL-terminated) */
	size_t len;
	long long integer; /* V_INT */
	int boolean;	   /* V_BOOL */
	int from_text;	   /* a form field: no types, and not yet checked as UTF-8 */
};

/* The field `name` (JSON null counts as absent; in a form the first field of
 * that name). */
static struct val get(const struct src *s, const char *name)
{
	struct val v = {V_ABSENT, NULL, 0, 0, 0, 0};
	if (!s->obj) {
		for (size_t i = 0; i < s->nform; i++) {
			if (strcmp(s->form[i].name, name) != 0)
				continue;
			v.kind = V_STRING;
			v.str = s->form[i].value;
			v.len = s->form[i].len;
			v.from_text = 1;
			break;
		}
		return v;
	}
	const struct json *j = json_get(s->obj, name);
	if (!j || j->type == JSON_NULL)
		return v;
	v.kind = V_OTHER;
	if (j->type == JSON_STRING) {
		v.kind = V_STRING;
		v.str = j->str;
		v.len = j->str_len;
	} else if (j->type == JSON_NUMBER && j->is_int) {
		v.kind = V_INT;
		v.integer = j->integer;
	} else if (j->type == JSON_BOOL) {
		v.kind = V_BOOL;
		v.boolean = j->boolean;
	}
	return v;
}

/* Well-formed UTF-8 (no overlong forms, surrogates or code points past
 * U+10FFFF), as the JSON parser demands of every string. */
static int utf8_valid(const char *p, size_t n)
{
	const unsigned char *s = (const unsigned char *)p;
	for (size_t i = 0; i < n;) {
		unsigned c = s[i];
		size_t k = c < 0x80		    ? 1
			   : c >= 0xc2 && c <= 0xdf ? 2
			   : c >= 0xe0 && c <= 0xef ? 3
			   : c >= 0xf0 && c <= 0xf4 ? 4
						    : 0;
		if (!k || n - i < k)
			return 0;
		for (size_t j = 1; j < k; j++)
			if ((s[i + j] & 0xc0) != 0x80)
				return 0;
		if ((c == 0xe0 && s[i + 1] < 0xa0) || (c == 0xed && s[i + 1] > 0x9f) ||
		    (c == 0xf0 && s[i + 1] < 0x90) || (c == 0xf4 && s[i + 1] > 0x8f))
			return 0;
		i += k;
	}
	return 1;
}

/* A form's text as an integer: an optional '-' and decimal digits, in range. */
static int text_int(const struct val *v, long long *out)
{
	size_t i = v->len && v->str[0] == '-';
	unsigned long long acc = 0, lim = i ? 9223372036854775808ULL : 9223372036854775807ULL;
	if (i == v->len || v->len - i > 19)
		return -1;
	for (; i < v->len; i++) {
		if (v->str[i] < '0' || v->str[i] > '9')
			return -1;
		unsigned d = (unsigned)(v->str[i] - '0');
		if (acc > (lim - d) / 10)
			return -1;
		acc = acc * 10 + d;
	}
	*out = v->str[0] == '-' ? (long long)(0 - acc) : (long long)acc;
	return 0;
}

/* The field as an integer: IMG_OK with *present set (0 when absent), or -1
 * when it is there but not an integer (the caller words the error). */
static int get_int(const struct src *s, const char *name, long long *out, int *present)
{
	struct val v = get(s, name);
	*present = v.kind != V_ABSENT;
	if (v.kind == V_INT) {
		*out = v.integer;
		return 0;
	}
	if (v.kind == V_STRING && v.from_text)
		return text_int(&v, out);
	return *present ? -1 : 0;
}

/* The field as a boolean (a form says "true" or "false"); -1 when present
 * and neither. */
static int get_bool(const struct src *s, const char *name, int *out, int *present)
{
	struct val v = get(s, name);
	*present = v.kind != V_ABSENT;
	if (v.kind == V_BOOL) {
		*out = v.boolean;
		return 0;
	}
	if (v.kind == V_STRING && v.from_text) {
		if (v.len == 4 && strncasecmp(v.str, "true", 4) == 0)
			*out = 1;
		else if (v.len == 5 && strncasecmp(v.str, "false", 5) == 0)
			*out = 0;
		else
			return -1;
		return 0;
	}
	return *present ? -1 : 0;
}

/* A string field: IMG_OK with *out set (or left NULL when absent), else an
 * error (code `code`, param name). */
static enum img_err get_text(const struct src *s, const char *name, enum img_err code, char **out,
			     struct img_error *e)
{
	struct val v = get(s, name);
	if (v.kind == V_ABSENT)
		return IMG_OK;
	if (v.kind != V_STRING)
		return err_set(e, code, name, "'%s' must be a string.", name);
	if (memchr(v.str, '\0', v.len))
		return err_set(e, code, name, "'%s' must not contain NUL characters.", name);
	if (v.from_text && !utf8_valid(v.str, v.len))
		return err_set(e, code, name, "'%s' must be valid UTF-8 text.", name);
	char *copy = xmalloc(v.len + 1);
	memcpy(copy, v.str, v.len);
	copy[v.len] = '\0';
	*out = copy;
	return IMG_OK;
}

static enum img_err get_string(const struct src *s, const char *name, char **out,
			       struct img_error *e)
{
	return get_text(s, name, IMG_INVALID_REQUEST, out, e);
}

/* A choice field matched case-insensitively and stored lower-case. */
static enum img_err get_choice(const struct src *src, const char *name, const char *const *choices,
			       char **out, struct img_error *e)
{
	char *s = NULL;
	if (get_string(src, name, &s, e) != IMG_OK)
		return e->code;
	if (!s)
		return IMG_OK;
	for (int i = 0; choices[i]; i++) {
		if (strcasecmp(s, choices[i]) == 0) {
			free(s);
			*out = xstrdup(choices[i]);
			return IMG_OK;
		}
	}
	struct buf list = BUF_INIT;
	for (int i = 0; choices[i]; i++)
		buf_printf(&list, "%s'%s'", i ? ", " : "", choices[i]);
	err_set(e, IMG_INVALID_REQUEST, name, "'%s' must be one of %s; got '%.60s'.", name,
		buf_cstr(&list), s);
	buf_free(&list);
	free(s);
	return e->code;
}

static enum img_err parse_prompt(const struct config *cfg, const struct src *s, struct gen_req *r,
				 struct img_error *e)
{
	char *p = NULL;
	if (get_text(s, "prompt", IMG_INVALID_PROMPT, &p, e) != IMG_OK)
		return e->code;
	if (!p)
		return err_set(e, IMG_INVALID_PROMPT, "prompt", "'prompt' is required.");
	r->prompt = p; /* owned by r from here, also on the failures below */
	size_t len = strlen(p);
	int blank = 1;
	for (size_t i = 0; i < len && blank; i++)
		blank = isspace((unsigned char)p[i]);
	if (blank)
		return err_set(e, IMG_INVALID_PROMPT, "prompt", "'prompt' must not be empty.");
	size_t chars = genreq_utf8_chars(p, len);
	if (chars > (size_t)cfg->max_prompt_chars) {
		err_set(e, IMG_INVALID_PROMPT, "prompt",
			"'prompt' has %zu characters; the limit is %d.", chars,
			cfg->max_prompt_chars);
		snprintf(e->remedy, sizeof e->remedy,
			 "Shorten the prompt to at most %d characters.", cfg->max_prompt_chars);
		return e->code;
	}
	return IMG_OK;
}

static enum img_err parse_n(const struct config *cfg, const struct src *s, struct gen_req *r,
			    struct img_error *e)
{
	long long n = 1;
	int present;
	r->n = 1;
	if (get_int(s, "n", &n, &present) != 0)
		return err_set(e, IMG_INVALID_REQUEST, "n", "'n' must be an integer from 1 to %d.",
			       cfg->max_n);
	if (!present)
		return IMG_OK;
	if (n < 1 || n > cfg->max_n)
		return err_set(e, IMG_INVALID_REQUEST, "n", "'n' must be from 1 to %d; got %lld.",
			       cfg->max_n, n);
	r->n = (int)n;
	return IMG_OK;
}

static enum img_err parse_geometry(const struct src *s, struct gen_req *r, struct img_error *e)
{
	long w, h;
	if (get_string(s, "size", &r->size, e) != IMG_OK)
		return e->code;
	if (r->size && strcasecmp(r->size, "auto") != 0 && model_parse_size(r->size, &w, &h) != 0)
		return err_set(e, IMG_INVALID_REQUEST, "size",
			       "'size' must be 'WxH' (e.g. 1024x1024), 'W:H' (e.g. 16:9) or "
			       "'auto'; got '%.40s'.",
			       r->size);
	if (get_string(s, "aspect_ratio", &r->aspect_ratio, e) != IMG_OK)
		return e->code;
	if (r->aspect_ratio && model_parse_size(r->aspect_ratio, &w, &h) != 0)
		return err_set(e, IMG_INVALID_REQUEST, "aspect_ratio",
			       "'aspect_ratio' must look like '16:9'; got '%.40s'.",
			       r->aspect_ratio);
	static const char *const sizes[] = {"1K", "2K", "4K", NULL};
	return get_choice(s, "image_size", sizes, &r->image_size, e);
}

static enum img_err parse_safety(const struct src *src, struct gen_req *r, struct img_error *e)
{
	static const char *const names[] = {"safety_threshold", "safety_level"};
	r->safety = -1;
	for (int i = 0; i < 2; i++) {
		char *s = NULL;
		if (get_string(src, names[i], &s, e) != IMG_OK) {
			snprintf(e->param, sizeof e->param, "safety_threshold");
			return e->code;
		}
		if (!s)
			continue;
		r->safety = safety_parse(s);
		if (r->safety < 0)
			err_set(e, IMG_INVALID_REQUEST, "safety_threshold",
				"'%s' must be one of OFF, LOW, MEDIUM, HIGH; got '%.40s'.",
				names[i], s);
		free(s);
		if (r->safety < 0)
			return e->code;
		break; /* safety_threshold wins over its alias */
	}
	return IMG_OK;
}

static enum img_err parse_misc(const struct src *s, struct gen_req *r, struct img_error *e)
{
	int present, keep = 1;
	if (get_int(s, "seed", &r->seed, &r->has_seed) != 0)
		return err_set(e, IMG_INVALID_REQUEST, "seed", "'seed' must be an integer.");
	if (get_bool(s, "cache", &keep, &present) != 0)
		return err_set(e, IMG_INVALID_REQUEST, "cache", "'cache' must be true or false.");
	r->no_store = present && !keep;
	return get_string(s, "user", &r->user, e);
}

/* Every field rule, in one order, whatever the body's format. */
static enum img_err parse_fields(const struct config *cfg, const struct src *s, struct gen_req *r,
				 struct img_error *e)
{
	char *fmt = NULL;
	if (parse_prompt(cfg, s, r, e) == IMG_OK &&
	    get_string(s, "model", &r->model, e) == IMG_OK && parse_n(cfg, s, r, e) == IMG_OK &&
	    parse_geometry(s, r, e) == IMG_OK &&
	    get_choice(s, "quality", qualities, &r->quality, e) == IMG_OK &&
	    get_choice(s, "style", styles, &r->style, e) == IMG_OK &&
	    get_choice(s, "response_format", formats, &fmt, e) == IMG_OK &&
	    parse_safety(s, r, e) == IMG_OK)
		parse_misc(s, r, e);
	if (e->code == IMG_OK && r->model && !r->model[0])
		err_set(e, IMG_INVALID_REQUEST, "model", "'model' must not be empty.");
	r->response_url = fmt && strcmp(fmt, "url") == 0;
	free(fmt);
	return e->code;
}

static void req_init(struct gen_req *r, struct img_error *e)
{
	memset(r, 0, sizeof *r);
	r->safety = -1;
	r->n = 1;
	err_clear(e);
}

enum img_err genreq_parse_json(const struct config *cfg, const char *body, size_t len,
			       struct gen_req *r, struct img_error *e)
{
	req_init(r, e);
	struct json_error je;
	struct json *root = json_parse(body, len, &je);
	if (!root)
		return err_set(e, IMG_INVALID_REQUEST, NULL,
			       "The body is not valid JSON: %s at byte %zu.", je.msg, je.offset);
	struct src s = {root, NULL, 0};
	if (root->type != JSON_OBJECT)
		err_set(e, IMG_INVALID_REQUEST, NULL, "The body must be a JSON object.");
	else
		parse_fields(cfg, &s, r, e);
	json_free(root);
	return e->code;
}

enum img_err genreq_parse_form(const struct config *cfg, const struct genreq_field *fields,
			       size_t n, struct gen_req *r, struct img_error *e)
{
	req_init(r, e);
	struct src s = {NULL, fields, n};
	return parse_fields(cfg, &s, r, e);
}

void genreq_free(struct gen_req *r)
{
	free(r->prompt);
	free(r->model);
	free(r->size);
	free(r->aspect_ratio);
	free(r->image_size);
	free(r->quality);
	free(r->style);
	free(r->user);
	for (int i = 0; i < r->ninputs; i++)
		buf_free(&r->inputs[i].bytes);
	free(r->inputs);
	if (r->mask)
		buf_free(&r->mask->bytes);
	free(r->mask);
	memset(r, 0, sizeof *r);
}
