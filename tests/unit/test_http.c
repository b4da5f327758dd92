/* Unit tests for fcgi/http.c's request body: read whole (with the
 * max_body_bytes limit), read as a stream (never past CONTENT_LENGTH, in
 * whatever pieces the transport gives), and drained after a handler that
 * stopped early; with a fake transport that counts what was taken. */
#include "../../fcgi/http.c"

#include <stdlib.h>

#include "unit.h"

struct fake {
	const char *data;
	size_t len, pos;
	int piece;	/* most bytes one read returns (a pipe, a FastCGI record) */
	int reads;	/* read calls */
	const char *cl; /* CONTENT_LENGTH, or NULL */
	int fail_at;	/* a read at or past this offset fails (-1: never) */
};

static const char *fake_param(void *ctx, const char *name)
{
	struct fake *f = ctx;
	if (strcmp(name, "CONTENT_LENGTH") == 0)
		return f->cl;
	if (strcmp(name, "REQUEST_METHOD") == 0)
		return "POST";
	if (strcmp(name, "PATH_INFO") == 0)
		return "/v1/images/edits";
	return NULL;
}

static int fake_read(void *ctx, char *dst, int n)
{
	struct fake *f = ctx;
	f->reads++;
	if (f->fail_at >= 0 && f->pos >= (size_t)f->fail_at)
		return -1;
	size_t k = f->len - f->pos;
	if (k > (size_t)n)
		k = (size_t)n;
	if (f->piece && k > (size_t)f->piece)
		k = (size_t)f->piece;
	memcpy(dst, f->data + f->pos, k);
	f->pos += k;
	return (int)k;
}

static struct http_io io_of(struct fake *f)
{
	struct http_io io = {fake_param, fake_read, NULL, NULL, f};
	return io;
}

TEST(stream_stops_at_content_length)
{
	/* More bytes wait in the stream than CONTENT_LENGTH says (a CGI stdin
	 * that is not closed): the body ends at the announced length. */
	struct fake f = {"0123456789abcdefNEXT", 20, 0, 3, 0, "16", -1};
	struct http_io io = io_of(&f);
	struct http_request rq;
	char got[64];
	size_t n = 0;
	long k;

	http_request_read(&rq, &io, "");
	CHECK_INT(rq.content_length, 16);
	CHECK_INT(f.reads, 0); /* nothing read before the handler asks */
	while ((k = http_body_read(&rq, got + n, sizeof got - n)) > 0)
		n += (size_t)k;
	CHECK_INT(k, 0);
	CHECK_INT(n, 16);
	CHECK(memcmp(got, "0123456789abcdef", 16) == 0);
	CHECK_INT(f.pos, 16);
	CHECK_INT(rq.body_read, 16);
	CHECK_INT(http_body_read(&rq, got, sizeof got), 0);
	CHECK_INT(http_body_drain(&rq, 1 << 20), 0);
	CHECK_INT(f.pos, 16);
	http_request_free(&rq);
}

TEST(stream_without_length_reads_to_eof)
{
	struct fake f = {"abcdef", 6, 0, 4, 0, NULL, -1};
	struct http_io io = io_of(&f);
	struct http_request rq;
	char got[8];

	http_request_read(&rq, &io, "");
	CHECK_INT(rq.content_length, -1);
	CHECK_INT(http_body_read(&rq, got, sizeof got), 4);
	CHECK_INT(http_body_read(&rq, got, sizeof got), 2);
	CHECK_INT(http_body_read(&rq, got, sizeof got), 0);
	int reads = f.reads;
	CHECK_INT(http_body_read(&rq, got, sizeof got), 0); /* the end sticks */
	CHECK_INT(f.reads, reads);
	http_request_free(&rq);
}

TEST(stream_error_is_reported_once)
{
	struct fake f = {"abcdef", 6, 0, 2, 0, "6", 2};
	struct http_io io = io_of(&f);
	struct http_request rq;
	char got[8];

	http_request_read(&rq, &io, "");
	CHECK_INT(http_body_read(&rq, got, sizeof got), 2);
	CHECK_INT(http_body_read(&rq, got, sizeof got), -1);
	CHECK_INT(http_body_read(&rq, got, sizeof got), 0);
	http_request_free(&rq);
}

TEST(drain_reads_what_a_handler_left)
{
	static char body[200000];
	memset(body, 'x', sizeof body);
	struct fake f = {body, sizeof body, 0, 8192, 0, "200000", -1};
	struct http_io io = io_of(&f);
	struct http_request rq;
	char got[100];

	http_request_read(&rq, &io, "");
	CHECK_INT(http_body_read(&rq, got, sizeof got), 100);
	/* A rest above the cap is left alone... */
	CHECK_INT(http_body_drain(&rq, 1000), -1);
	CHECK_INT(f.pos, 100);
	/* ...one within it is read to the end. */
	CHECK_INT(http_body_drain(&rq, 1 << 20), 0);
	CHECK_INT(f.pos, sizeof body);
	CHECK_INT(rq.body_read, 200000);
	CHECK(rq.body.len == 0); /* discarded, not kept */
	http_request_free(&rq);

	/* No length: drained to the end of the stream, or up to the cap. */
	f = (struct fake){body, sizeof body, 0, 8192, 0, NULL, -1};
	http_request_read(&rq, &io, "");
	CHECK_INT(http_body_drain(&rq, 50000), -1);
	CHECK(f.pos < sizeof body);
	http_request_free(&rq);
}

TEST(read_body_whole_and_too_large)
{
	struct fake f = {"{\"prompt\":\"p\"}", 14, 0, 5, 0, "14", -1};
	struct http_io io = io_of(&f);
	struct http_request rq;

	http_request_read(&rq, &io, "");
	http_request_read_body(&rq, 1024);
	CHECK_INT(rq.body_too_large, 0);
	CHECK_STR(buf_cstr(&rq.body), "{\"prompt\":\"p\"}");
	CHECK_INT(http_body_drain(&rq, 1 << 20), 0);
	http_request_free(&rq);

	/* Over the limit: read to the end (the web server is never left
	 * blocked), nothing kept. */
	static char big[5000];
	memset(big, 'y', sizeof big);
	f = (struct fake){big, sizeof big, 0, 700, 0, "5000", -1};
	http_request_read(&rq, &io, "");
	http_request_read_body(&rq, 1024);
	CHECK_INT(rq.body_too_large, 1);
	CHECK(rq.body.len == 0);
	CHECK_INT(f.pos, 5000);
	http_request_free(&rq);

	/* Announced small but longer without a length: cut at 4x the limit. */
	f = (struct fake){big, sizeof big, 0, 100, 0, NULL, -1};
	http_request_read(&rq, &io, "");
	http_request_read_body(&rq, 1024);
	CHECK_INT(rq.body_too_large, 1);
	CHECK(f.pos <= 4 * 1024 + 100 && f.pos < sizeof big);
	size_t pos = f.pos;
	CHECK_INT(http_body_drain(&rq, 1 << 20), 0); /* and nothing drains it */
	CHECK_INT(f.pos, pos);
	http_request_free(&rq);
}

int main(void)
{
	RUN(stream_stops_at_content_length);
	RUN(stream_without_length_reads_to_eof);
	RUN(stream_error_is_reported_once);
	RUN(drain_reads_what_a_handler_left);
	RUN(read_body_whole_and_too_large);
	UNIT_DONE();
}
