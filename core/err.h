/* The error table (SPEC section 4): every error the gateway can answer with,
 * its HTTP status, OpenAI type, category, log error_type, message and remedy.
 * A failing operation fills a struct img_error; fcgi/ renders it. */
#ifndef IMAGEGW_ERR_H
#define IMAGEGW_ERR_H

enum img_err {
	IMG_OK = 0,
	IMG_INVALID_REQUEST,
	IMG_INVALID_PROMPT,
	IMG_CONTENT_FILTERED,
	IMG_SAFETY_BLOCKED,
	IMG_RECITATION_BLOCKED,
	IMG_UNKNOWN_MODEL,
	IMG_UNAUTHORIZED,
	IMG_FORBIDDEN,
	IMG_NOT_FOUND,
	IMG_METHOD_NOT_ALLOWED,
	IMG_PAYLOAD_TOO_LARGE,
	IMG_RATE_LIMITED,
	IMG_QUOTA_EXHAUSTED,
	IMG_UPSTREAM_AUTH,
	IMG_UPSTREAM_ERROR,
	IMG_NO_IMAGE,
	IMG_NETWORK_ERROR,
	IMG_UPSTREAM_TIMEOUT,
	IMG_UNAVAILABLE,
	IMG_INTERNAL,
	IMG_ERR_COUNT
};

struct err_info {
	const char *code;	/* "IMG_INVALID_REQUEST" */
	int http;		/* HTTP status */
	const char *type;	/* OpenAI error type */
	const char *category;	/* USER_ERROR, API_ERROR, NETWORK_ERROR, SYSTEM_ERROR */
	const char *error_type; /* log field: client, server, network, quota */
	const char *message;	/* default user-facing message */
	const char *remedy;	/* what the caller can do about it */
};

/* A failure as it travels back to the reply: the code, an optional specific
 * message (else the table's), the offending request field, and Retry-After. */
struct img_error {
	enum img_err code;
	char message[512];
	char param[64];
	char remedy[256];
	int retry_after;     /* seconds; 0 = none */
	int upstream_status; /* HTTP status from upstream, 0 = none */
	char finish_reason[40];
};

/* The table row for a code (never NULL; out-of-range gives IMG_INTERNAL). */
const struct err_info *err_info(enum img_err code);
/* Looks a code up by its name ("IMG_NOT_FOUND"); IMG_ERR_COUNT if unknown. */
enum img_err err_by_name(const char *name);
/* Fills e with code, a printf-formatted message (NULL fmt = the table's) and
 * the param name (NULL = none).  Returns the code, for `return err_set(...)`. */
enum img_err err_set(struct img_error *e, enum img_err code, const char *param, const char *fmt,
		     ...) __attribute__((format(printf, 4, 5)));
/* Resets e to "no error". */
void err_clear(struct img_error *e);

#endif
