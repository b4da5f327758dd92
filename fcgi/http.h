/* The web face's view of one HTTP exchange: a request copied out of the
 * FastCGI/CGI parameters (they die at FCGX_Finish_r), and a reply built in
 * memory and written once, status and headers last (Fossil's cgi_reply). */
#ifndef IMAGEGW_HTTP_H
#define IMAGEGW_HTTP_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

/* How the request and reply reach the web server: FastCGI streams or the
 * CGI process's environment, stdin and stdout. */
struct http_io {
	const char *(*param)(void *ctx, const char *name);
	int (*read)(void *ctx, char *dst, int n);	    /* bytes read, 0 at end, <0 error */
	int (*write)(void *ctx, const char *src, size_t n); /* 0 or -1 */
	/* Ends the reply: the client has all of it once this returns, while the
	 * process may still do short work (storing fresh images). */
	void (*finish)(void *ctx);
	void *ctx;
};

struct http_request {
	char method[16];
	char *path;  /* routing path, base_path removed, e.g. /v1/models */
	char *query; /* without '?', "" if none */
	char *remote_addr;
	char *forwarded_for; /* X-Forwarded-For, "" if none (believed only from trusted_proxies) */
	char *content_type;
	char *cache_control;
	char *authorization;  /* Authorization header, "" if none */
	char *api_key_header; /* x-api-key header, "" if none */
	char *host;	      /* Host header */
	int https;	      /* the request came over TLS (HTTPS=on) */
	char *if_none_match;
	char request_id[40];
	long content_length; /* -1 when not given */
	struct buf body;
	int body_too_large; /* over max_body_bytes: the body was discarded */
	/* The body still in the stream, for routes that read it themselves
	 * (http_body_read): where it comes from and how much was taken. */
	const struct http_io *io;
	long body_read;
	int body_eof; /* the stream ended (or failed) */
};

/* A piece of the body kept outside rp->body (a large image that lives in
 * another buffer until the reply is sent), spliced in at offset `at`. */
struct reply_ref {
	size_t at;
	const char *p;
	size_t n;
};

#define REPLY_MAX_REFS 16

struct reply {
	int status;
	const char *content_type;
	struct buf headers; /* extra "Name: value\r\n" lines */
	struct buf body;
	struct reply_ref refs[REPLY_MAX_REFS];
	int nrefs;
	int no_length; /* send no Content-Length: a 304, or the web server sends the file */
};

/* Copies what the gateway needs out of the parameters; base_path is removed
 * from the path when present.  The body is left in io: read it whole with
 * http_request_read_body, or as a stream with http_body_read.  Free with
 * http_request_free. */
void http_request_read(struct http_request *rq, const struct http_io *io, const char *base_path);
/* Reads the whole body into rq->body, at most max_body bytes: past that it
 * sets body_too_large and reads on, discarding, so the web server is never
 * left blocked. */
void http_request_read_body(struct http_request *rq, long max_body);
/* The next bytes of a streamed body: up to n into dst, never past
 * CONTENT_LENGTH.  Returns the count, 0 at the end of the body, -1 when the
 * web server went away. */
long http_body_read(struct http_request *rq, char *dst, size_t n);
/* Reads and discards what a handler left of a streamed body, when it is at
 * most max bytes; a larger rest is left to the end of the connection (the web
 * server sees it closed, or libfcgi discards it as it closes).  0 when the
 * body was read to its end, -1 when it was left. */
int http_body_drain(struct http_request *rq, long max);
void http_request_free(struct http_request *rq);

void reply_init(struct reply *rp);
void reply_free(struct reply *rp);
/* Appends p[0..n) to the body by reference (no copy) when a slot is free,
 * else by copying.  p must stay valid until reply_send. */
void reply_body_ref(struct reply *rp, const char *p, size_t n);
/* The body's length including referenced pieces. */
size_t reply_length(const struct reply *rp);
/* Adds a header; values with CR or LF are refused (header injection). */
void reply_header(struct reply *rp, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Throws away anything built so far and renders e as the SPEC section 4
 * JSON envelope with its status (and Retry-After where it applies). */
void reply_error(struct reply *rp, const struct img_error *e, const char *request_id);
/* Writes status line, headers (Content-Type, Content-Length unless
 * no_length, X-Request-Id) and body.  Returns 0, or -1 when the web server went away. */
int reply_send(const struct reply *rp, const struct http_io *io, const char *request_id,
	       int head_only);

#endif
