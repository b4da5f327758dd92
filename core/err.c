/* The one error table.  docs/troubleshooting.md lists the same rows; a unit
 * test checks that every code here has a section there. */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* One row per line reads better here than the formatter's layout. */
/* clang-format off */
static const struct err_info err_table[IMG_ERR_COUNT] = {
	[IMG_OK] = {"IMG_OK", 200, "", "", "", "OK", ""},
	[IMG_INVALID_REQUEST] = {"IMG_INVALID_REQUEST", 400, "invalid_request_error",
		"USER_ERROR", "client", "The request is not valid.",
		"Fix the field named in 'param' and send the request again."},
	[IMG_INVALID_PROMPT] = {"IMG_INVALID_PROMPT", 400, "invalid_request_error",
		"USER_ERROR", "client", "The prompt is not valid.",
		"Send a non-empty prompt of valid UTF-8 text within the length limit."},
	[IMG_CONTENT_FILTERED] = {"IMG_CONTENT_FILTERED", 400, "invalid_request_error",
		"USER_ERROR", "client", "The prompt contains words this gateway does not accept.",
		"Rephrase the prompt without the filtered words."},
	[IMG_SAFETY_BLOCKED] = {"IMG_SAFETY_BLOCKED", 400, "invalid_request_error",
		"USER_ERROR", "client", "The image was blocked by the upstream safety system.",
		"Rephrase the prompt; a lower safety_threshold may help for borderline content."},
	[IMG_RECITATION_BLOCKED] = {"IMG_RECITATION_BLOCKED", 400, "invalid_request_error",
		"USER_ERROR", "client", "The image was blocked because it may reproduce existing material.",
		"Describe an original scene instead of a known work, character or photograph."},
	[IMG_UNKNOWN_MODEL] = {"IMG_UNKNOWN_MODEL", 400, "invalid_request_error",
		"USER_ERROR", "client", "The model is not known to this gateway.",
		"Pick a model id from GET /v1/models."},
	[IMG_UNAUTHORIZED] = {"IMG_UNAUTHORIZED", 401, "authentication_error",
		"USER_ERROR", "client", "A valid API key is required.",
		"Send 'Authorization: Bearer <key>' with a key issued by the operator."},
	[IMG_FORBIDDEN] = {"IMG_FORBIDDEN", 403, "permission_error",
		"USER_ERROR", "client", "This key may not use this resource.",
		"Use an admin key, or ask the operator for access."},
	[IMG_NOT_FOUND] = {"IMG_NOT_FOUND", 404, "invalid_request_error",
		"USER_ERROR", "client", "No such resource.",
		"Check the URL against docs/api.md."},
	[IMG_METHOD_NOT_ALLOWED] = {"IMG_METHOD_NOT_ALLOWED", 405, "invalid_request_error",
		"USER_ERROR", "client", "This method is not allowed on this resource.",
		"Use one of the methods in the Allow header."},
	[IMG_PAYLOAD_TOO_LARGE] = {"IMG_PAYLOAD_TOO_LARGE", 413, "invalid_request_error",
		"USER_ERROR", "client", "The request body is too large.",
		"Send a smaller body; the operator sets the limit with max_body_bytes."},
	[IMG_RATE_LIMITED] = {"IMG_RATE_LIMITED", 429, "rate_limit_error",
		"USER_ERROR", "quota", "Too many requests.",
		"Wait for the number of seconds in Retry-After, then retry."},
	[IMG_QUOTA_EXHAUSTED] = {"IMG_QUOTA_EXHAUSTED", 429, "rate_limit_error",
		"API_ERROR", "quota", "Every upstream key is out of quota right now.",
		"Retry after the number of seconds in Retry-After, or add upstream keys."},
	[IMG_UPSTREAM_AUTH] = {"IMG_UPSTREAM_AUTH", 502, "api_error",
		"API_ERROR", "server", "The upstream rejected the gateway's credentials.",
		"The operator must replace the upstream API key (see 'imagegw config check')."},
	[IMG_UPSTREAM_ERROR] = {"IMG_UPSTREAM_ERROR", 502, "api_error",
		"API_ERROR", "server", "The upstream image service failed.",
		"Retry in a little while; the upstream may be overloaded."},
	[IMG_NO_IMAGE] = {"IMG_NO_IMAGE", 502, "api_error",
		"API_ERROR", "server", "The model answered without an image.",
		"Retry, or make the prompt more explicitly ask for a picture."},
	[IMG_NETWORK_ERROR] = {"IMG_NETWORK_ERROR", 502, "api_error",
		"NETWORK_ERROR", "network", "The gateway could not reach the upstream.",
		"Retry; if it persists the operator should check the upstream URL and network."},
	[IMG_UPSTREAM_TIMEOUT] = {"IMG_UPSTREAM_TIMEOUT", 504, "api_error",
		"NETWORK_ERROR", "network", "The upstream did not answer in time.",
		"Retry, perhaps at a lower resolution; 4K images take longest."},
	[IMG_UNAVAILABLE] = {"IMG_UNAVAILABLE", 503, "server_error",
		"SYSTEM_ERROR", "server", "The gateway cannot serve requests right now.",
		"Retry after the number of seconds in Retry-After; the operator should check /healthz."},
	[IMG_INTERNAL] = {"IMG_INTERNAL", 500, "server_error",
		"SYSTEM_ERROR", "server", "The gateway failed unexpectedly.",
		"Retry; if it persists report the request id to the operator."},
};
/* clang-format on */

const struct err_info *err_info(enum img_err code)
{
	if ((int)code < 0 || code >= IMG_ERR_COUNT)
		code = IMG_INTERNAL;
	return &err_table[code];
}

enum img_err err_by_name(const char *name)
{
	for (int i = 0; i < IMG_ERR_COUNT; i++)
		if (strcmp(err_table[i].code, name) == 0)
			return (enum img_err)i;
	return IMG_ERR_COUNT;
}

enum img_err err_set(struct img_error *e, enum img_err code, const char *param, const char *fmt,
		     ...)
{
	err_clear(e);
	e->code = code;
	if (param)
		snprintf(e->param, sizeof e->param, "%s", param);
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(e->message, sizeof e->message, fmt, ap);
		va_end(ap);
	}
	return code;
}

void err_clear(struct img_error *e)
{
	memset(e, 0, sizeof *e);
}
