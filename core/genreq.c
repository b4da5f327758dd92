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

/* The member `name`, or NULL when absent or null. */
static const struct json *field(const struct json *obj, const char *name)
{
	const struct json *v = json_get(obj, name);
	return v && v->type != JSON_NULL ? v : NULL;
}

/* A string field: IMG_OK with *out set (or left NULL when absent), else an error. */
static enum img_err get_string(const struct json *obj, const char *name, char **out,
			       struct img_error *e)
{
	const struct json *v = field(obj, name);
	if (!v)
		return IMG_OK;
	if (v->type != JSON_STRING)
		return err_set(e, IMG_INVALID_REQUEST, name, "'%s' must be a string.", name);
	if (strlen(v->str) != v->str_len)
		return err_set(e, IMG_INVALID_REQUEST, name,
			       "'%s' must not contain NUL characters.", name);
	*out = xstrdup(v->str);
	return IMG_OK;
}

/* A choice field matched case-insensitively and stored lower-case. */
static enum img_err get_choice(const struct json *obj, const char *name, const char *const *choices,
			       char **out, struct img_error *e)
{
	char *s = NULL;
	if (get_string(obj, name, &s, e) != IMG_OK)
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

static enum img_err parse_prompt(const struct config *cfg, const struct json *root,
				 struct gen_req *r, struct img_error *e)
{
	const struct json *v = field(root, "prompt");
	if (!v)
		return err_set(e, IMG_INVALID_PROMPT, "prompt", "'prompt' is required.");
	if (v->type != JSON_STRING)
		return err_set(e, IMG_INVALID_PROMPT, "prompt", "'prompt' must be a string.");
	if (strlen(v->str) != v->str_len)
		return err_set(e, IMG_INVALID_PROMPT, "prompt",
			       "'prompt' must not contain NUL characters.");
	int blank = 1;
	for (size_t i = 0; i < v->str_len && blank; i++)
		blank = isspace((unsigned char)v->str[i]);
	if (blank)
		return err_set(e, IMG_INVALID_PROMPT, "prompt", "'prompt' must not be empty.");
	size_t chars = genreq_utf8_chars(v->str, v->str_len);
	if (chars > (size_t)cfg->max_prompt_chars) {
		err_set(e, IMG_INVALID_PROMPT, "prompt",
			"'prompt' has %zu characters; the limit is %d.", chars,
			cfg->max_prompt_chars);
		snprintf(e->remedy, sizeof e->remedy,
			 "Shorten the prompt to at most %d characters.", cfg->max_prompt_chars);
		return e->code;
	}
	r->prompt = xstrdup(v->str);
	return IMG_OK;
}

static enum img_err parse_n(const struct config *cfg, const struct json *root, struct gen_req *r,
			    struct img_error *e)
{
	const struct json *v = field(root, "n");
	r->n = 1;
	if (!v)
		return IMG_OK;
	if (v->type != JSON_NUMBER || !v->is_int)
		return err_set(e, IMG_INVALID_REQUEST, "n", "'n' must be an integer from 1 to %d.",
			       cfg->max_n);
	if (v->integer < 1 || v->integer > cfg->max_n)
		return err_set(e, IMG_INVALID_REQUEST, "n", "'n' must be from 1 to %d; got %lld.",
			       cfg->max_n, v->integer);
	r->n = (int)v->integer;
	return IMG_OK;
}

static enum img_err parse_geometry(const struct json *root, struct gen_req *r, struct img_error *e)
{
	long w, h;
	if (get_string(root, "size", &r->size, e) != IMG_OK)
		return e->code;
	if (r->size && strcasecmp(r->size, "auto") != 0 && model_parse_size(r->size, &w, &h) != 0)
		return err_set(e, IMG_INVALID_REQUEST, "size",
			       "'size' must be 'WxH' (e.g. 1024x1024), 'W:H' (e.g. 16:9) or "
			       "'auto'; got '%.40s'.",
			       r->size);
	if (get_string(root, "aspect_ratio", &r->aspect_ratio, e) != IMG_OK)
		return e->code;
	if (r->aspect_ratio && model_parse_size(r->aspect_ratio, &w, &h) != 0)
		return err_set(e, IMG_INVALID_REQUEST, "aspect_ratio",
			       "'aspect_ratio' must look like '16:9'; got '%.40s'.",
			       r->aspect_ratio);
	static const char *const sizes[] = {"1K", "2K", "4K", NULL};
	return get_choice(root, "image_size", sizes, &r->image_size, e);
}

static enum img_err parse_safety(const struct json *root, struct gen_req *r, struct img_error *e)
{
	static const char *const names[] = {"safety_threshold", "safety_level"};
	r->safety = -1;
	for (int i = 0; i < 2; i++) {
		char *s = NULL;
		if (get_string(root, names[i], &s, e) != IMG_OK) {
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

static enum img_err parse_misc(const struct json *root, struct gen_req *r, struct img_error *e)
{
	const struct json *v = field(root, "seed");
	if (v) {
		if (v->type != JSON_NUMBER || !v->is_int)
			return err_set(e, IMG_INVALID_REQUEST, "seed",
				       "'seed' must be an integer.");
		r->has_seed = 1;
		r->seed = v->integer;
	}
	v = field(root, "cache");
	if (v) {
		if (v->type != JSON_BOOL)
			return err_set(e, IMG_INVALID_REQUEST, "cache",
				       "'cache' must be true or false.");
		r->no_store = !v->boolean;
	}
	return get_string(root, "user", &r->user, e);
}

enum img_err genreq_parse_json(const struct config *cfg, const char *body, size_t len,
			       struct gen_req *r, struct img_error *e)
{
	memset(r, 0, sizeof *r);
	r->safety = -1;
	r->n = 1;
	err_clear(e);
	struct json_error je;
	struct json *root = json_parse(body, len, &je);
	if (!root)
		return err_set(e, IMG_INVALID_REQUEST, NULL,
			       "The body is not valid JSON: %s at byte %zu.", je.msg, je.offset);
	char *fmt = NULL;
	if (root->type != JSON_OBJECT)
		err_set(e, IMG_INVALID_REQUEST, NULL, "The body must be a JSON object.");
	else if (parse_prompt(cfg, root, r, e) == IMG_OK &&
		 get_string(root, "model", &r->model, e) == IMG_OK &&
		 parse_n(cfg, root, r, e) == IMG_OK && parse_geometry(root, r, e) == IMG_OK &&
		 get_choice(root, "quality", qualities, &r->quality, e) == IMG_OK &&
		 get_choice(root, "style", styles, &r->style, e) == IMG_OK &&
		 get_choice(root, "response_format", formats, &fmt, e) == IMG_OK &&
		 parse_safety(root, r, e) == IMG_OK)
		parse_misc(root, r, e);
	if (e->code == IMG_OK && r->model && !r->model[0])
		err_set(e, IMG_INVALID_REQUEST, "model", "'model' must not be empty.");
	r->response_url = fmt && strcmp(fmt, "url") == 0;
	free(fmt);
	json_free(root);
	return e->code;
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
