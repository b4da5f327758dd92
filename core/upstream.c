/* libcurl multi wrapper.  One CURLM per process keeps the connection cache
 * warm between FastCGI requests; every transfer has connect and total
 * timeouts and CURLOPT_NOSIGNAL (timeouts must never raise signals). */
#include "upstream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "version.h"

static CURLM *multi;
static int running_count;
/* A transfer that failed to start is reported by the next upstream_wait. */
static struct upstream_xfer *failed_start[64];
static int failed_start_n;

const char *upstream_library_version(void)
{
	return curl_version();
}

int upstream_init(void)
{
	if (multi)
		return 0;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -1;
	multi = curl_multi_init();
	if (!multi)
		return -1;
	curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, 32L);
	return 0;
}

void upstream_cleanup(void)
{
	if (multi) {
		curl_multi_cleanup(multi);
		multi = NULL;
		curl_global_cleanup();
	}
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *cookie)
{
	struct upstream_xfer *x = cookie;
	size_t n = size * nmemb;
	size_t cap = x->max_response ? x->max_response : (size_t)64 << 20;
	if (x->resp.len + n > cap) {
		x->fail = UPSTREAM_TOO_LARGE;
		return 0; /* makes libcurl abort the transfer */
	}
	buf_append(&x->resp, p, n);
	return n;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *cookie)
{
	struct upstream_xfer *x = cookie;
	size_t n = size * nmemb;
	static const char name[] = "retry-after:";
	if (n > sizeof name && strncasecmp(p, name, sizeof name - 1) == 0) {
		const char *v = p + sizeof name - 1;
		size_t vl = n - (sizeof name - 1);
		while (vl && (*v == ' ' || *v == '\t'))
			v++, vl--;
		while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
			vl--;
		if (vl >= sizeof x->retry_after)
			vl = sizeof x->retry_after - 1;
		memcpy(x->retry_after, v, vl);
		x->retry_after[vl] = '\0';
	}
	/* A new status line (after a 100 Continue) starts a fresh header set. */
	if (n >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		x->retry_after[0] = '\0';
		buf_reset(&x->resp_headers);
	} else if (x->resp_headers.len + n <= 16384) {
		buf_append(&x->resp_headers, p, n);
	}
	/* Size the body buffer once from Content-Length (bounded by the cap). */
	static const char cl[] = "content-length:";
	if (n > sizeof cl && strncasecmp(p, cl, sizeof cl - 1) == 0) {
		unsigned long long len = strtoull(p + sizeof cl - 1, NULL, 10);
		size_t cap = x->max_response ? x->max_response : (size_t)64 << 20;
		if (len > 0 && len <= cap)
			buf_grow(&x->resp, (size_t)len);
	}
	return n;
}

static void fail_now(struct upstream_xfer *x, const char *msg)
{
	x->fail = UPSTREAM_NETWORK;
	snprintf(x->error, sizeof x->error, "%s", msg);
	if (failed_start_n < (int)(sizeof failed_start / sizeof failed_start[0]))
		failed_start[failed_start_n++] = x;
}

/* A configured easy handle for x (headers, body, timeouts, callbacks), or
 * NULL with x->error set. */
static CURL *prepare(struct upstream_xfer *x)
{
	x->status = 0;
	x->fail = UPSTREAM_OK;
	x->error[0] = x->retry_after[0] = '\0';
	buf_reset(&x->resp);
	buf_reset(&x->resp_headers);
	CURL *e = curl_easy_init();
	if (!e) {
		snprintf(x->error, sizeof x->error, "curl_easy_init failed");
		return NULL;
	}
	struct curl_slist *sl = NULL;
	const char *h = buf_cstr(&x->headers);
	while (*h) {
		const char *nl = strchr(h, '\n');
		size_t n = nl ? (size_t)(nl - h) : strlen(h);
		char line[4096]; /* OAuth2 bearer tokens run to a few KiB */
		if (n > 0 && n < sizeof line) {
			memcpy(line, h, n);
			line[n] = '\0';
			sl = curl_slist_append(sl, line);
		}
		h += n + (nl ? 1 : 0);
	}
	x->easy = e;
	x->slist = sl;
	curl_easy_setopt(e, CURLOPT_URL, x->url);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, sl);
	if (x->body_ref) { /* the caller's body, shared by several transfers: not copied */
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->body_ref);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body_ref_len);
	} else if (x->body.len || x->body.data) {
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, buf_cstr(&x->body));
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body.len);
	}
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, x->timeout_ms > 0 ? x->timeout_ms : 180000L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
			 x->connect_timeout_ms > 0 ? x->connect_timeout_ms : 10000L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(e, CURLOPT_PRIVATE, x);
	/* Waiting to multiplex only pays over TLS, where ALPN settles HTTP/2 at
	 * the handshake; over plain http (HTTP/1.1) it would hold every other
	 * transfer of a cold process until the first answer is complete. */
	if (strncmp(x->url, "https://", 8) == 0)
		curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
	/* Images arrive as multi-megabyte JSON: fewer, larger callbacks. */
	curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 256L * 1024);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_USERAGENT, "imagegw/" IMAGEGW_VERSION_STR);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->error);
	x->elapsed_ms = now_ms();
	return e;
}

int upstream_start(struct upstream_xfer *x)
{
	if (upstream_init() != 0) {
		x->status = 0;
		fail_now(x, "libcurl could not be initialised");
		return -1;
	}
	CURL *e = prepare(x);
	if (!e) {
		fail_now(x, "curl_easy_init failed");
		return -1;
	}
	if (curl_multi_add_handle(multi, e) != CURLM_OK) {
		curl_easy_cleanup(e);
		curl_slist_free_all(x->slist);
		x->easy = x->slist = NULL;
		fail_now(x, "curl_multi_add_handle failed");
		return -1;
	}
	running_count++;
	return 0;
}

/* Moves a finished easy handle's outcome into its transfer and frees it. */
static void outcome(struct upstream_xfer *x, CURL *e, CURLcode res)
{
	long status = 0;
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	x->elapsed_ms = now_ms() - x->elapsed_ms;
	if (res == CURLE_OK) {
		x->status = status;
		x->error[0] = '\0';
	} else if (x->fail == UPSTREAM_TOO_LARGE) {
		snprintf(x->error, sizeof x->error, "upstream answer larger than the limit");
	} else {
		x->status = 0;
		x->fail = res == CURLE_OPERATION_TIMEDOUT ? UPSTREAM_TIMEOUT : UPSTREAM_NETWORK;
		if (!x->error[0])
			snprintf(x->error, sizeof x->error, "%s", curl_easy_strerror(res));
	}
	curl_easy_cleanup(e);
	curl_slist_free_all(x->slist);
	x->easy = x->slist = NULL;
}

static struct upstream_xfer *finish(CURL *e, CURLcode res)
{
	struct upstream_xfer *x = NULL;
	curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&x);
	curl_multi_remove_handle(multi, e);
	outcome(x, e, res);
	running_count--;
	return x;
}

int upstream_perform(struct upstream_xfer *x)
{
	if (upstream_init() != 0) {
		x->fail = UPSTREAM_NETWORK;
		snprintf(x->error, sizeof x->error, "libcurl could not be initialised");
		return -1;
	}
	CURL *e = prepare(x);
	if (!e) {
		x->fail = UPSTREAM_NETWORK;
		return -1;
	}
	outcome(x, e, curl_easy_perform(e));
	return x->fail == UPSTREAM_OK ? 0 : -1;
}

struct upstream_xfer *upstream_wait(long max_wait_ms)
{
	if (failed_start_n > 0)
		return failed_start[--failed_start_n];
	if (!multi || running_count == 0)
		return NULL;
	long deadline = now_ms() + (max_wait_ms > 0 ? max_wait_ms : 0);
	for (;;) {
		int still = 0, left = 0;
		curl_multi_perform(multi, &still);
		CURLMsg *msg;
		while ((msg = curl_multi_info_read(multi, &left)))
			if (msg->msg == CURLMSG_DONE)
				return finish(msg->easy_handle, msg->data.result);
		long remain = deadline - now_ms();
		if (remain <= 0)
			return NULL;
		curl_multi_poll(multi, NULL, 0, (int)(remain < 1000 ? remain : 1000), NULL);
	}
}

int upstream_running(void)
{
	return running_count + failed_start_n;
}

int upstream_header(const char *block, const char *name, char *out, size_t len)
{
	size_t nl = strlen(name);
	out[0] = '\0';
	for (const char *p = block; p && *p;) {
		const char *eol = strpbrk(p, "\r\n");
		size_t ll = eol ? (size_t)(eol - p) : strlen(p);
		if (ll > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1, *end = p + ll;
			while (v < end && (*v == ' ' || *v == '\t'))
				v++;
			while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
				end--;
			snprintf(out, len, "%.*s", (int)(end - v), v);
			return 0;
		}
		p += ll;
		while (*p == '\r' || *p == '\n')
			p++;
	}
	return -1;
}

void upstream_xfer_free(struct upstream_xfer *x)
{
	buf_free(&x->headers);
	buf_free(&x->body);
	x->body_ref = NULL;
	x->body_ref_len = 0;
	buf_free(&x->resp);
	buf_free(&x->resp_headers);
	x->status = 0;
	x->fail = UPSTREAM_OK;
	x->error[0] = x->retry_after[0] = '\0';
}
