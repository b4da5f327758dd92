/* The route table and the per-request context every handler receives.  A
 * handler parses the request into a plain struct, calls one core operation,
 * and renders the result into c->rp; on failure it returns the error code
 * (with c->err filled) and the dispatcher renders the JSON envelope. */
#ifndef IMAGEGW_ROUTE_H
#define IMAGEGW_ROUTE_H

#include "clientkey.h"
#include "config.h"
#include "err.h"
#include "http.h"
#include "ratelimit.h"

struct sqlite3;

struct app {
	struct config cfg;
	struct sqlite3 *db; /* NULL when the database could not be opened */
	char db_error[256];
	char log_salt[40];	/* keys the hashes of client addresses in logs */
	char url_secret[96];	/* signs image URLs: config, else the database, else per process */
	long upstreams_checked; /* when cfg's *_configured were last read from the pool */
};

/* Fields a handler learns and the request log event reports (SPEC 7). */
struct req_log {
	char model[96];
	const char *provider;
	char resolution[4];
	char aspect_ratio[8];
	const char *quality;
	const char *style;
	int n;
	char prompt_hash[17];
	const char *safety;
	char account[64];
	int retry_count;
	long generation_ms;
	const char *cache;
	int upstream_status;
	char finish_reason[40];
	int images;
	char user[128]; /* the request's "user" field; logged only as a hash */
};

/* Who the request is from, as auth_client decided (SPEC 2.9). */
enum ctx_auth {
	AUTH_NONE,	 /* not checked: a route open to all (/healthz, /v1/files) */
	AUTH_ANONYMOUS,	 /* no key, anonymous access on: per-IP limits */
	AUTH_API_KEY,	 /* the operator's static api_key: admin */
	AUTH_CLIENT_KEY, /* a key from `imagegw key create`: c->client */
};

struct ctx {
	struct app *app;
	struct http_request *rq;
	struct reply *rp;
	struct img_error err;
	struct req_log log;
	const char *route; /* the matched pattern, for logs */
	/* The caller: the address (X-Forwarded-For resolved), how it
	 * authenticated, its key, and the tightest rate limit it met. */
	char client_ip[RATELIMIT_IP_LEN];
	enum ctx_auth authed;
	struct client client;
	struct rate_decision rate;
	/* Run after the reply is sent: frees what reply_body_ref pieces point
	 * into, and does short work that need not delay the client. */
	void (*after_send)(void *arg);
	void *after_arg;
};

typedef enum img_err (*route_fn)(struct ctx *c);

/* Finds the handler for c->rq and runs it; unknown paths get 404, known
 * paths with another method 405 with Allow. */
enum img_err route_dispatch(struct ctx *c);

/* 1 when the route of rq reads its body itself, as a stream
 * (http_body_read), instead of being handed it whole in rq->body. */
int route_streams_body(const struct http_request *rq);

/* Handlers, one file per resource. */
enum img_err images_generations(struct ctx *c);
enum img_err images_edits(struct ctx *c);
enum img_err jobs_create(struct ctx *c);
enum img_err jobs_get(struct ctx *c);
enum img_err gallery_list_route(struct ctx *c);
enum img_err gallery_get_route(struct ctx *c);
enum img_err gallery_delete_route(struct ctx *c);
enum img_err prompts_enhance(struct ctx *c);
enum img_err models_list(struct ctx *c);
enum img_err health_get(struct ctx *c);
enum img_err files_get(struct ctx *c);
enum img_err cache_stats_get_route(struct ctx *c);
enum img_err cache_delete_route(struct ctx *c);
enum img_err metrics_get_route(struct ctx *c);

struct gen_req;
/* What a generation request asked of the cache, as an enum
 * produce_cache_mode: Cache-Control (no-store, no-cache) and the body's
 * "cache". */
int images_cache_mode(const struct ctx *c, const struct gen_req *r);

#endif
