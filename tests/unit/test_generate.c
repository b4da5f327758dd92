/* Unit tests for core/generate.c's openai path, end to end against the mock
 * server (tests/mock/mock_gemini.py, whose OpenAI half is mock_openai.py),
 * started here on a free port: an edit (a gen_req with input images and a
 * mask, as the edits route will fill it) goes out as multipart/form-data to
 * /v1/images/edits with every file intact; n images are n calls; a linked
 * image is fetched.  No database: the configured key is used. */
#include "../../core/generate.c"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

#include "config.h"
#include "json.h"
#include "unit.h"
#include "xalloc.h"

static pid_t mock_pid = -1;
static char mock_url[64];
static struct config cfg;

/* Starts the mock; 0, or -1 with the reason on stderr. */
static int start_mock(void)
{
	int fds[2];
	if (pipe(fds) != 0)
		return -1;
	mock_pid = fork();
	if (mock_pid < 0)
		return -1;
	if (mock_pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execl("/usr/bin/python3", "python3", "tests/mock/mock_gemini.py", "--port", "0",
		      "--quiet", (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	char line[64] = "";
	size_t n = 0;
	while (n + 1 < sizeof line && read(fds[0], line + n, 1) == 1 && line[n] != '\n')
		n++;
	line[n] = '\0';
	close(fds[0]);
	int port = 0;
	if (sscanf(line, "PORT %d", &port) != 1 || port <= 0) {
		fprintf(stderr, "  the mock did not start (run from the repository root): '%s'\n",
			line);
		return -1;
	}
	snprintf(mock_url, sizeof mock_url, "http://127.0.0.1:%d", port);
	return 0;
}

static void stop_mock(void)
{
	if (mock_pid > 0) {
		kill(mock_pid, SIGTERM);
		waitpid(mock_pid, NULL, 0);
	}
}

static size_t collect(char *p, size_t size, size_t nmemb, void *cookie)
{
	buf_append(cookie, p, size * nmemb);
	return size * nmemb;
}

/* GET or POST (body non-NULL) a mock control path; the answer in out. */
static void mock_call(const char *path, const char *body, struct buf *out)
{
	char url[160];
	snprintf(url, sizeof url, "%s%s", mock_url, path);
	CURL *c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	if (body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_perform(c);
	curl_easy_cleanup(c);
}

/* The mock's records of OpenAI calls, parsed (free with json_free). */
static struct json *openai_calls(void)
{
	struct buf b = BUF_INIT;
	mock_call("/_mock/requests", NULL, &b);
	struct json *j = json_parse(b.data, b.len, NULL);
	buf_free(&b);
	return j;
}

static void setup(void)
{
	memset(&cfg, 0, sizeof cfg);
	cfg.openai_configured = 1;
	cfg.openai_base_url = mock_url;
	cfg.openai_api_key = (char *)"sk-unit-test";
	cfg.openai_models = (char *)"";
	cfg.gemini_pro_image_model = (char *)"gemini-3-pro-image-preview";
	cfg.default_model = (char *)"";
	cfg.default_image_size = (char *)"2K";
	cfg.safety_threshold = (char *)"OFF";
	cfg.upstream_timeout_seconds = 10;
	cfg.upstream_connect_timeout_seconds = 5;
	cfg.retry_max = 1;
	cfg.retry_backoff_ms = 10;
	cfg.quota_cooldown_seconds = 60;
	cfg.log_level = (char *)"error";
	cfg.log_format = (char *)"json";
	cfg.log_file = (char *)"";
	log_open(&cfg);
}

/* An 8x8 RGB PNG header (enough for sniffing and dimensions) with bytes
 * after it that look like multipart syntax. */
static const unsigned char png8[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0,	0,
				     0,	   13,	'I', 'H', 'D',	'R',  0,    0,	  0,	8,
				     0,	   0,	0,   8,	  8,	2,    0,    0,	  0,	'\r',
				     '\n', '-', '-', 'x', '\r', '\n', 0xff, 0x00, '\r', '\n'};
static const unsigned char jpeg[] = {0xff, 0xd8, 0xff, 0xe0, 0,	   16,	 'J', 'F', 'I',
				     'F',  0,	 1,    1,    0,	   0,	 1,   0,   1,
				     0,	   0,	 0,    '\r', '\n', 0xff, 0xd9};

static void input(struct gen_input *in, const void *p, size_t n, const char *mime, const char *ext)
{
	memset(in, 0, sizeof *in);
	buf_append(&in->bytes, p, n);
	in->mime = mime;
	in->ext = ext;
	in->width = in->height = 8;
}

static void sha_hex(const void *p, size_t n, char out[65])
{
	unsigned char d[32];
	hash_sha256(p, n, d);
	hash_hex(d, sizeof d, out);
}

/* 1 when every image of res succeeded and is a PNG. */
static int all_png(const struct gen_result *res)
{
	int ok = res->succeeded == res->n;
	for (int i = 0; i < res->n; i++) {
		struct buf bytes = BUF_INIT;
		const struct gen_image *img = &res->images[i];
		if (img->err.code != IMG_OK) {
			fprintf(stderr, "  image %d: %s\n", i, img->err.message);
			ok = 0;
		} else if (b64_decode(&bytes, img->b64, img->b64_len) != 0 ||
			   !image_sniff(bytes.data, bytes.len, NULL) ||
			   strcmp(img->mime, "image/png") != 0) {
			ok = 0;
		}
		buf_free(&bytes);
	}
	return ok;
}

TEST(edit_goes_out_as_multipart)
{
	struct buf reset = BUF_INIT;
	mock_call("/_mock/reset", "", &reset);
	buf_free(&reset);

	struct gen_req r;
	memset(&r, 0, sizeof r);
	r.prompt = (char *)"put a hat on it";
	r.model = (char *)"gpt-image-1";
	r.n = 2;
	r.safety = -1;
	r.size = (char *)"1536x1024";
	r.inputs = xcalloc(2, sizeof *r.inputs);
	r.ninputs = 2;
	input(&r.inputs[0], png8, sizeof png8, "image/png", "png");
	input(&r.inputs[1], jpeg, sizeof jpeg, "image/jpeg", "jpg");
	r.mask = xcalloc(1, sizeof *r.mask);
	input(r.mask, png8, sizeof png8, "image/png", "png");

	struct gen_plan p;
	struct img_error e;
	struct gen_result res;
	CHECK_INT(plan_build(&cfg, &r, 0, &p, &e), IMG_OK);
	CHECK_INT(generate_run(&cfg, NULL, &p, &r, NULL, 0, "req_unit", &res, &e), IMG_OK);
	CHECK_STR(res.provider, "openai");
	CHECK_STR(res.account, "openai-env-1");
	CHECK(all_png(&res));

	char png_sha[65], jpeg_sha[65];
	sha_hex(png8, sizeof png8, png_sha);
	sha_hex(jpeg, sizeof jpeg, jpeg_sha);
	struct json *calls = openai_calls();
	CHECK(calls && calls->count == 2); /* n = 2: two calls of one image */
	for (const struct json *c = calls ? calls->child : NULL; c; c = c->next) {
		CHECK_STR(json_get_str(c, "path"), "/v1/images/edits");
		const struct json *h = json_get(c, "headers");
		CHECK_STR(json_get_str(h, "authorization"), "Bearer sk-unit-test");
		CHECK(strncmp(json_get_str(h, "content-type"),
			      "multipart/form-data; boundary=", 30) == 0);
		const struct json *b = json_get(c, "body");
		CHECK_STR(json_get_str(b, "model"), "gpt-image-1");
		CHECK_STR(json_get_str(b, "prompt"), "put a hat on it");
		CHECK_STR(json_get_str(b, "n"), "1");
		CHECK_STR(json_get_str(b, "size"), "1536x1024");
		CHECK(json_get(b, "response_format") == NULL);
		const struct json *parts = json_get(c, "parts");
		CHECK(parts && parts->count == 3);
		const char *names[] = {"image[]", "image[]", "mask"};
		const char *files[] = {"image1.png", "image2.jpg", "mask.png"};
		const char *shas[] = {png_sha, jpeg_sha, png_sha};
		const char *sniffed[] = {"image/png", "image/jpeg", "image/png"};
		for (size_t i = 0; i < 3; i++) {
			const struct json *pt = json_at(parts, i);
			CHECK_STR(json_get_str(pt, "name"), names[i]);
			CHECK_STR(json_get_str(pt, "filename"), files[i]);
			CHECK_STR(json_get_str(pt, "data_sha256"), shas[i]);
			CHECK_STR(json_get_str(pt, "data_sniffed"), sniffed[i]);
		}
	}
	json_free(calls);
	generate_result_free(&res);
	plan_free(&p);

	/* dall-e-2 edits one square PNG, answered as b64_json. */
	mock_call("/_mock/reset", "", &reset);
	buf_free(&reset);
	r.model = (char *)"dall-e-2";
	r.ninputs = 1;
	r.n = 1;
	r.size = (char *)"512x512";
	CHECK_INT(plan_build(&cfg, &r, 0, &p, &e), IMG_OK);
	CHECK_INT(generate_run(&cfg, NULL, &p, &r, NULL, 0, "req_unit2", &res, &e), IMG_OK);
	CHECK(all_png(&res));
	calls = openai_calls();
	const struct json *c = calls ? json_at(calls, 0) : NULL;
	const struct json *b = c ? json_get(c, "body") : NULL;
	CHECK_STR(json_get_str(b, "response_format"), "b64_json");
	CHECK_STR(json_get_str(b, "size"), "512x512");
	CHECK_STR(json_get_str(json_at(json_get(c, "parts"), 0), "name"), "image");
	CHECK_STR(json_get_str(json_at(json_get(c, "parts"), 0), "filename"), "image.png");
	json_free(calls);
	generate_result_free(&res);
	plan_free(&p);

	for (int i = 0; i < 2; i++)
		buf_free(&r.inputs[i].bytes);
	buf_free(&r.mask->bytes);
	free(r.inputs);
	free(r.mask);
}

TEST(linked_image_is_fetched)
{
	struct gen_req r;
	memset(&r, 0, sizeof r);
	r.prompt = (char *)"a linked owl mock:url";
	r.model = (char *)"dall-e-3";
	r.n = 1;
	r.safety = -1;
	struct gen_plan p;
	struct img_error e;
	struct gen_result res;
	CHECK_INT(plan_build(&cfg, &r, 0, &p, &e), IMG_OK);
	CHECK_INT(generate_run(&cfg, NULL, &p, &r, NULL, 0, "req_unit3", &res, &e), IMG_OK);
	CHECK(all_png(&res));
	generate_result_free(&res);
	/* A link that 404s fails the image without a second generation. */
	struct buf reset = BUF_INIT;
	mock_call("/_mock/reset", "", &reset);
	buf_free(&reset);
	r.prompt = (char *)"a lost owl mock:url=404";
	plan_free(&p);
	CHECK_INT(plan_build(&cfg, &r, 0, &p, &e), IMG_OK);
	CHECK_INT(generate_run(&cfg, NULL, &p, &r, NULL, 0, "req_unit4", &res, &e),
		  IMG_UPSTREAM_ERROR);
	CHECK(strstr(e.message, "HTTP 404") != NULL);
	struct json *calls = openai_calls();
	CHECK(calls && calls->count == 1);
	json_free(calls);
	generate_result_free(&res);
	plan_free(&p);
}

int main(void)
{
	if (start_mock() != 0) {
		stop_mock();
		fprintf(stderr, "not ok: the mock upstream could not be started\n");
		return 1;
	}
	setup();
	RUN(edit_goes_out_as_multipart);
	RUN(linked_image_is_fetched);
	stop_mock();
	upstream_cleanup();
	log_close();
	UNIT_DONE();
}
