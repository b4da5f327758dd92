/* Request parsing and reply rendering shared by the FastCGI and CGI faces. */
#include "http.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hash.h"
#include "json.h"
#include "xalloc.h"

static char *param_dup(const struct http_io *io, const char *name)
{
	const char *v = io->param(io->ctx, name);
	return xstrdup(v ? v : "");
}

/* Accepts a client's X-Request-Id when it is short and plain, else makes one. */
static void pick_request_id(struct http_request *rq, const struct http_io *io)
{
	const char *in = io->param(io->ctx, "HTTP_X_REQUEST_ID");
	size_t n = in ? strlen(in) : 0;
	int ok = n >= 8 && n < sizeof rq->request_id;
	for (size_t i = 0; ok && i < n; i++)
		ok = isalnum((unsigned char)in[i]) || in[i] == '-' || in[i] == '_' || in[i] == '.';
	if (ok) {
		memcpy(rq->request_id, in, n + 1);
		return;
	}
	unsigned char r[12];
	if (hash_random(r, sizeof r) != 0)
		memset(r, 0, sizeof r);
	memcpy(rq->request_id, "req_", 4);
	hash_hex(r, sizeof r, rq->request_id + 4);
}

/* SCRIPT_NAME + PATH_INFO, else REQUEST_URI without its query; "//" folded. */
static char *routing_path(const struct http_io *io, const char *base_path)
{
	struct buf b = BUF_INIT;
	const char *sn = io->param(io->ctx, "SCRIPT_NAME");
	const char *pi = io->param(io->ctx, "PATH_INFO");
	if ((sn && *sn) || (pi && *pi)) {
		buf_puts(&b, sn ? sn : "");
		buf_puts(&b, pi ? pi : "");
	} else {
		const char *uri = io->param(io->ctx, "REQUEST_URI");
		if (uri)
			buf_append(&b, uri, strcspn(uri, "?"));
	}
	char *p = buf_detach(&b, NULL);
	char *w = p;
	for (const char *r = p; *r; r++)
		if (!(*r == '/' && r[1] == '/'))
			*w++ = *r;
	*w = '\0';
	size_t bl = strlen(base_path);
	if (bl && strncmp(p, base_path, bl) == 0 && (p[bl] == '/' || p[bl] == '\0'))
		memmove(p, p + bl, strlen(p + bl) + 1);
	if (!*p) {
		free(p);
		p = xstrdup("/");
	}
	return p;
}

void http_request_read(struct http_request *rq, const struct http_io *io, const char *base_path)
{
	memset(rq, 0, sizeof *rq);
	const char *m = io->param(io->ctx, "REQUEST_METHOD");
	snprintf(rq->method, sizeof rq->method, "%s", m ? m : "GET");
	rq->path = routing_path(io, base_path);
	rq->query = param_dup(io, "QUERY_STRING");
	rq->remote_addr = param_dup(io, "REMOTE_ADDR");
	rq->forwarded_for = param_dup(io, "HTTP_X_FORWARDED_FOR");
	rq->content_type = param_dup(io, "CONTENT_TYPE");
	rq->cache_control = param_dup(io, "HTTP_CACHE_CONTROL");
	rq->authorization = param_dup(io, "HTTP_AUTHORIZATION");
	rq->api_key_header = param_dup(io, "HTTP_X_API_KEY");
	rq->host = param_dup(io, "HTTP_HOST");
	rq->if_none_match = param_dup(io, "HTTP_IF_NONE_MATCH");
	const char *https = io->param(io->ctx, "HTTPS");
	const char *scheme = io->param(io->ctx, "REQUEST_SCHEME");
	rq->https = (https && (strcasecmp(https, "on") == 0 || strcmp(https, "1") == 0)) ||
		    (scheme && strcasecmp(scheme, "https") == 0);
	pick_request_id(rq, io);
	const char *cl = io->param(io->ctx, "CONTENT_LENGTH");
	rq->content_length = cl && *cl ? strtol(cl, NULL, 10) : -1;
	rq->io = io;
}

long http_body_read(struct http_request *rq, char *dst, size_t n)
{
	if (rq->body_eof)
		return 0;
	if (rq->content_length >= 0 && (long)n > rq->content_length - rq->body_read)
		n = (size_t)(rq->content_length - rq->body_read);
	if (n > 1u << 30)
		n = 1u << 30;
	int got = n ? rq->io->read(rq->io->ctx, dst, (int)n) : 0;
	if (got <= 0) {
		rq->body_eof = 1;
		return got < 0 ? -1 : 0;
	}
	rq->body_read += got;
	return got;
}

void http_request_read_body(struct http_request *rq, long max_body)
{
	/* Read to the end even when over the limit, so the web server is never
	 * left blocked writing the body; only the first max_body bytes are kept. */
	char chunk[65536];
	if (rq->content_length > max_body)
		rq->body_too_large = 1;
	for (;;) {
		long n = http_body_read(rq, chunk, sizeof chunk);
		if (n <= 0)
			break;
		if (!rq->body_too_large && (long)rq->body.len + n > max_body)
			rq->body_too_large = 1;
		if (!rq->body_too_large)
			buf_append(&rq->body, chunk, (size_t)n);
		if (rq->content_length < 0 && rq->body_read > max_body * 4) {
			rq->body_eof = 1; /* no length given and far past the limit: */
			break;		  /* stop reading, and let nothing drain it */
		}
	}
	if (rq->body_too_large)
		buf_free(&rq->body);
}

int http_body_drain(struct http_request *rq, long max)
{
	char chunk[65536];
	if (rq->body_eof)
		return 0;
	if (rq->content_length >= 0 && rq->content_length - rq->body_read > max)
		return -1;
	long start = rq->body_read;
	while (http_body_read(rq, chunk, sizeof chunk) > 0)
		if (rq->body_read - start > max)
			return -1; /* no length given, and more than we will read */
	return 0;
}

void http_request_free(struct http_request *rq)
{
	free(rq->path);
	free(rq->query);
	free(rq->remote_addr);
	free(rq->forwarded_for);
	free(rq->content_type);
	free(rq->cache_control);
	free(rq->authorization);
	free(rq->api_key_header);
	free(rq->host);
	free(rq->if_none_match);
	buf_free(&rq->body);
	memset(rq, 0, sizeof *rq);
}

void reply_init(struct reply *rp)
{
	memset(rp, 0, sizeof *rp);
	rp->status = 200;
	rp->content_type = "application/json";
}

void reply_free(struct reply *rp)
{
	buf_free(&rp->headers);
	buf_free(&rp->body);
}

void reply_body_ref(struct reply *rp, const char *p, size_t n)
{
	if (rp->nrefs == REPLY_MAX_REFS) {
		buf_append(&rp->body, p, n);
		return;
	}
	struct reply_ref *r = &rp->refs[rp->nrefs++];
	r->at = rp->body.len;
	r->p = p;
	r->n = n;
}

size_t reply_length(const struct reply *rp)
{
	size_t total = rp->body.len;
	for (int i = 0; i < rp->nrefs; i++)
		total += rp->refs[i].n;
	return total;
}

void reply_header(struct reply *rp, const char *name, const char *fmt, ...)
{
	char val[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(val, sizeof val, fmt, ap);
	va_end(ap);
	if (strpbrk(val, "\r\n") || strpbrk(name, "\r\n: "))
		return;
	buf_printf(&rp->headers, "%s: %s\r\n", name, val);
}

void reply_error(struct reply *rp, const struct img_error *e, const char *request_id)
{
	const struct err_info *ei = err_info(e->code);
	/* Headers already added stay (Allow on a 405); handlers add success-only
	 * headers after their operation succeeds. */
	buf_reset(&rp->body);
	rp->nrefs = 0;
	rp->no_length = 0;
	rp->status = ei->http;
	rp->content_type = "application/json";
	struct buf *b = &rp->body;
	buf_puts(b, "{\"error\":{\"message\":");
	json_put_cstr(b, e->message[0] ? e->message : ei->message);
	buf_puts(b, ",\"type\":");
	json_put_cstr(b, ei->type);
	buf_puts(b, ",\"param\":");
	json_put_cstr(b, e->param[0] ? e->param : NULL);
	buf_puts(b, ",\"code\":");
	json_put_cstr(b, ei->code);
	buf_puts(b, ",\"category\":");
	json_put_cstr(b, ei->category);
	buf_puts(b, ",\"remedy\":");
	json_put_cstr(b, e->remedy[0] ? e->remedy : ei->remedy);
	buf_puts(b, ",\"request_id\":");
	json_put_cstr(b, request_id);
	buf_puts(b, "}}\n");
	if (ei->http == 429 || ei->http == 503)
		reply_header(rp, "Retry-After", "%d", e->retry_after > 0 ? e->retry_after : 1);
}

static const char *status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Payload Too Large";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Status";
	}
}

int reply_send(const struct reply *rp, const struct http_io *io, const char *request_id,
	       int head_only)
{
	size_t total = reply_length(rp);
	struct buf h = BUF_INIT;
	buf_printf(&h, "Status: %d %s\r\n", rp->status, status_text(rp->status));
	buf_printf(&h, "Content-Type: %s%s\r\n", rp->content_type,
		   strncmp(rp->content_type, "application/json", 16) == 0 ? "; charset=utf-8" : "");
	if (!rp->no_length)
		buf_printf(&h, "Content-Length: %zu\r\n", total);
	buf_printf(&h, "X-Request-Id: %s\r\n", request_id);
	buf_puts(&h, "X-Content-Type-Options: nosniff\r\n");
	buf_append(&h, rp->headers.data, rp->headers.len);
	buf_puts(&h, "\r\n");
	int rc = io->write(io->ctx, h.data, h.len);
	buf_free(&h);
	if (head_only)
		return rc;
	/* The body: own bytes interleaved with the referenced pieces. */
	size_t done = 0;
	for (int i = 0; rc == 0 && i < rp->nrefs; i++) {
		const struct reply_ref *r = &rp->refs[i];
		if (r->at > done)
			rc = io->write(io->ctx, rp->body.data + done, r->at - done);
		done = r->at;
		if (rc == 0 && r->n)
			rc = io->write(io->ctx, r->p, r->n);
	}
	if (rc == 0 && rp->body.len > done)
		rc = io->write(io->ctx, rp->body.data + done, rp->body.len - done);
	return rc;
}
