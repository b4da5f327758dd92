/* imagegw's entry point and its two faces (as Fossil has): a responder when
 * started by a web server (stdin is a FastCGI socket, or CGI variables are
 * set), or the operator's tool when given a command (`imagegw config check`). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <fastcgi.h>
#include <fcgiapp.h>

#include "cli.h"
#include "db.h"
#include "hash.h"
#include "filter.h"
#include "log.h"
#include "metrics.h"
#include "pool.h"
#include "route.h"
#include "upstream.h"
#include "vertex.h"

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* ---- the FastCGI and CGI transports ------------------------------------ */

static const char *fcgi_param(void *ctx, const char *name)
{
	return FCGX_GetParam(name, ((FCGX_Request *)ctx)->envp);
}

static int fcgi_read(void *ctx, char *dst, int n)
{
	return FCGX_GetStr(dst, n, ((FCGX_Request *)ctx)->in);
}

/* Writes all of p, retrying short writes. */
static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Large pieces (images) bypass libfcgi's 8 KiB stream buffer: after flushing
 * it, they go out as FCGI_STDOUT records of up to 64 KiB written straight to
 * the connection, eight times fewer records and system calls for the web
 * server to process.  The records are exactly what libfcgi would send. */
static int fcgi_write_records(FCGX_Request *req, const char *src, size_t n)
{
	if (FCGX_FFlush(req->out) != 0)
		return -1;
	while (n > 0) {
		size_t len = n > 65528 ? 65528 : n; /* a multiple of 8: no padding */
		unsigned char h[8] = {FCGI_VERSION_1,
				      FCGI_STDOUT,
				      (unsigned char)(req->requestId >> 8),
				      (unsigned char)req->requestId,
				      (unsigned char)(len >> 8),
				      (unsigned char)len,
				      0,
				      0};
		if (write_all(req->ipcFd, (const char *)h, sizeof h) != 0 ||
		    write_all(req->ipcFd, src, len) != 0)
			return -1;
		src += len;
		n -= len;
	}
	return 0;
}

static int fcgi_write(void *ctx, const char *src, size_t n)
{
	FCGX_Request *req = ctx;
	if (n >= 65536 && req->ipcFd >= 0)
		return fcgi_write_records(req, src, n);
	while (n > 0) {
		int chunk = n > (1u << 30) ? 1 << 30 : (int)n;
		if (FCGX_PutStr(src, chunk, req->out) != chunk)
			return -1;
		src += chunk;
		n -= (size_t)chunk;
	}
	return 0;
}

static void fcgi_finish(void *ctx)
{
	FCGX_Finish_r(ctx);
}

/* 1 when the next request is already waiting on the listening socket. */
static int fcgi_request_waiting(void)
{
	struct pollfd p = {.fd = FCGI_LISTENSOCK_FILENO, .events = POLLIN};
	return poll(&p, 1, 0) > 0 && (p.revents & POLLIN);
}

static void cgi_finish(void *ctx)
{
	(void)ctx;
	/* The web server sees the end of the reply when stdout closes. */
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, 1);
		close(fd);
	}
}

static const char *cgi_param(void *ctx, const char *name)
{
	(void)ctx;
	return getenv(name);
}

static int cgi_read(void *ctx, char *dst, int n)
{
	(void)ctx;
	ssize_t r = read(0, dst, (size_t)n);
	return r < 0 ? -1 : (int)r;
}

static int cgi_write(void *ctx, const char *src, size_t n)
{
	(void)ctx;
	while (n > 0) {
		ssize_t w = write(1, src, n);
		if (w <= 0)
			return -1;
		src += w;
		n -= (size_t)w;
	}
	return 0;
}

/* ---- one request -------------------------------------------------------- */

/* The most of an unread body serve_one reads and throws away before it
 * answers: more than any web server here forwards (lighttpd's
 * max-request-size is 320 MiB), so the connection is always left clean, as
 * the JSON routes leave it; reading a discarded 300 MiB locally takes a
 * fraction of a second. */
#define BODY_DRAIN_MAX (1L << 30)

/* 12 hex digits of SHA-256(salt + value): stable per installation, but not
 * reversible by hashing every IPv4 address. */
static void salted_hash(const struct app *app, const char *value, char out[13])
{
	struct buf b = BUF_INIT;
	unsigned char d[32];
	buf_puts(&b, app->log_salt);
	buf_putc(&b, '|');
	buf_puts(&b, value);
	hash_sha256(b.data, b.len, d);
	hash_hex(d, 6, out);
	buf_free(&b);
}

static void log_request(const struct ctx *c, const struct reply *rp, long duration_ms)
{
	const struct req_log *l = &c->log;
	struct log_event ev;
	log_begin(&ev, rp->status >= 500 ? LOG_ERROR : LOG_INFO, "request");
	log_str(&ev, "request_id", c->rq->request_id);
	log_str(&ev, "method", c->rq->method);
	log_str(&ev, "route", c->route);
	log_int(&ev, "status", rp->status);
	log_int(&ev, "duration_ms", duration_ms);
	log_str(&ev, "model", l->model);
	log_str(&ev, "provider", l->provider);
	log_str(&ev, "resolution", l->resolution);
	log_str(&ev, "aspect_ratio", l->aspect_ratio);
	log_str(&ev, "quality", l->quality);
	log_str(&ev, "style", l->style);
	if (l->n)
		log_int(&ev, "n", l->n);
	log_str(&ev, "prompt_hash", l->prompt_hash);
	log_str(&ev, "safety_threshold", l->safety);
	log_str(&ev, "account", l->account);
	if (l->provider && strcmp(l->provider, "local") != 0)
		log_int(&ev, "retry_count", l->retry_count);
	if (l->provider)
		log_int(&ev, "generation_time_ms", l->generation_ms);
	log_str(&ev, "cache", l->cache);
	if (c->err.code != IMG_OK) {
		const struct err_info *ei = err_info(c->err.code);
		log_str(&ev, "error_code", ei->code);
		log_str(&ev, "error_type", ei->error_type);
		log_str(&ev, "category", ei->category);
	}
	if (l->upstream_status)
		log_int(&ev, "upstream_status", l->upstream_status);
	log_str(&ev, "finish_reason", l->finish_reason);
	/* client: the key's name, else the caller's address as a salted hash. */
	const char *addr = c->client_ip[0] ? c->client_ip : c->rq->remote_addr;
	if (c->authed == AUTH_CLIENT_KEY) {
		char client[8 + CLIENTKEY_NAME_MAX];
		snprintf(client, sizeof client, "key:%s", c->client.name);
		log_str(&ev, "client", client);
	} else if (c->authed == AUTH_API_KEY) {
		log_str(&ev, "client", "api_key");
	} else if (addr && addr[0]) {
		char client[24] = "ip:";
		salted_hash(c->app, addr, client + 3);
		log_str(&ev, "client", client);
	}
	if (l->user[0]) {
		char user[24] = "user:";
		salted_hash(c->app, l->user, user + 5);
		log_str(&ev, "user", user);
	}
	if (l->images)
		log_int(&ev, "images", l->images);
	log_int(&ev, "bytes", (long long)reply_length(rp));
	log_end(&ev);
}

/* Which upstream families this process serves: Gemini's models when a
 * provider of gemini_providers has an enabled entry (an API key, or a Vertex
 * service account), OpenAI's when an OpenAI key is enabled.  Re-read every
 * UPSTREAMS_RECHECK seconds, so `imagegw account add|enable|disable` reaches
 * running responders without a restart. */
#define UPSTREAMS_RECHECK 2

static void app_upstreams(struct app *app)
{
	struct config *cfg = &app->cfg;
	app->upstreams_checked = (long)time(NULL);
	if (!app->db)
		return; /* the configuration's keys decided it */
	const char *order[2];
	config_provider_rank(cfg, order);
	int gemini = 0;
	for (int i = 0; i < 2 && order[i]; i++)
		gemini |= strcmp(order[i], "gemini") == 0
				  ? cfg->gemini_key != NULL || pool_usable(app->db, "gemini") > 0
				  : pool_usable(app->db, "vertex") > 0;
	cfg->gemini_configured = gemini;
	cfg->openai_configured = (cfg->openai_api_key && cfg->openai_api_key[0]) ||
				 pool_usable(app->db, "openai") > 0;
}

static void serve_one(struct app *app, const struct http_io *io)
{
	long t0 = now_ms();
	double started = metrics_clock();
	struct http_request rq;
	struct reply rp;
	struct ctx c;
	memset(&c, 0, sizeof c);
	http_request_read(&rq, io, app->cfg.base_path);
	if (!route_streams_body(&rq)) /* else the handler reads it (edits) */
		http_request_read_body(&rq, app->cfg.max_body_bytes);
	reply_init(&rp);
	c.app = app;
	c.rq = &rq;
	c.rp = &rp;
	if ((long)time(NULL) - app->upstreams_checked >= UPSTREAMS_RECHECK)
		app_upstreams(app);
	enum img_err rc;
	if (rq.body_too_large) {
		c.route = rq.path;
		rc = err_set(&c.err, IMG_PAYLOAD_TOO_LARGE, NULL,
			     "The body is larger than %ld bytes.", app->cfg.max_body_bytes);
	} else {
		rc = route_dispatch(&c);
	}
	if (rc != IMG_OK)
		reply_error(&rp, &c.err, rq.request_id);
	/* What a streaming handler left unread (it stopped at a limit, or never
	 * started: 401, 429, a body announced too large) is read and discarded:
	 * nothing more is parsed or kept. */
	http_body_drain(&rq, BODY_DRAIN_MAX);
	reply_send(&rp, io, rq.request_id, strcmp(rq.method, "HEAD") == 0);
	io->finish(io->ctx); /* the client is served; what follows is ours */
	metrics_request(rq.body_too_large ? "oversized" : c.route, rp.status, started);
	if (c.after_send)
		c.after_send(c.after_arg);
	log_request(&c, &rp, now_ms() - t0);
	reply_free(&rp);
	http_request_free(&rq);
}

/* ---- start-up ------------------------------------------------------------ */

/* One log message per line of text. */
static void log_lines(enum log_level level, const char *text)
{
	while (*text) {
		size_t n = strcspn(text, "\n");
		if (n)
			log_msg(level, "config: %.*s", (int)n, text);
		text += n + (text[n] == '\n');
	}
}

/* Loads the config and opens the database.  A bad config is fatal (the
 * gateway refuses to start); a database failure is logged and /healthz
 * reports it, but image requests still work. */
static int app_start(struct app *app)
{
	struct buf errs = BUF_INIT, warns = BUF_INIT;
	log_default();
	memset(app, 0, sizeof *app);
	int rc = config_load(&app->cfg, &errs, &warns);
	if (rc == 0)
		log_open(&app->cfg);
	log_lines(LOG_WARN, buf_cstr(&warns));
	log_lines(LOG_ERROR, buf_cstr(&errs));
	buf_free(&errs);
	buf_free(&warns);
	if (rc != 0) {
		log_msg(LOG_ERROR, "invalid configuration: refusing to start "
				   "(run 'imagegw config check')");
		return -1;
	}
	app->db = db_open(&app->cfg, app->db_error, sizeof app->db_error);
	if (!app->db)
		log_msg(LOG_ERROR, "database unavailable: %s", app->db_error);
	struct buf ferrs = BUF_INIT;
	if (filter_load(&app->cfg, &ferrs) != 0)
		log_lines(LOG_ERROR, buf_cstr(&ferrs));
	buf_free(&ferrs);
	/* The environment's upstream keys join the pool; keys added with
	 * `imagegw account add` make Gemini available even without them. */
	pool_sync(&app->cfg, app->db);
	vertex_sync_dir(&app->cfg, app->db);
	app_upstreams(app);
	if (db_meta_get(app->db, "log_salt", app->log_salt, sizeof app->log_salt) != 0) {
		/* No database: a per-process salt still hides the addresses. */
		unsigned char r[16];
		hash_random(r, sizeof r);
		hash_hex(r, sizeof r, app->log_salt);
	}
	/* An empty url_secret (only if the kernel gives no random bytes) never
	 * verifies: links fail closed. */
	char *us = app->url_secret;
	if (app->cfg.url_secret[0]) {
		if (strlen(app->cfg.url_secret) >= sizeof app->url_secret)
			log_msg(LOG_WARN, "url_secret: only the first %zu characters are used",
				sizeof app->url_secret - 1);
		snprintf(us, sizeof app->url_secret, "%s", app->cfg.url_secret);
	} else if (db_meta_get(app->db, "url_secret", us, sizeof app->url_secret) != 0 || !us[0]) {
		unsigned char r[32];
		if (hash_random(r, sizeof r) == 0)
			hash_hex(r, sizeof r, us);
		log_msg(LOG_WARN,
			"no url_secret configured or in the database: image URLs are "
			"signed with a per-process key and will not verify across processes");
	}
	/* libcurl (and OpenSSL) start on the first upstream call, not here: a CGI
	 * process answering /healthz never pays for them. */
	return 0;
}

static void app_stop(struct app *app)
{
	metrics_flush(app->db, -1); /* what busy flushes left, with the full timeout */
	metrics_discard();
	db_close(app->db);
	upstream_cleanup();
	config_free(&app->cfg);
	log_close();
}

/* SIGTERM (the web server stopping or recycling its responders), SIGINT, and
 * SIGUSR1 (libfcgi's graceful stop, and what multiwatch sends: its -s option
 * is broken in Debian 12, so the nginx unit keeps that default): between
 * requests the process leaves at once; during one it finishes the request,
 * reply and after-send work included, then leaves. */
static volatile sig_atomic_t stop_requested, serving;

static void on_stop(int sig)
{
	if (!serving)
		_exit(0);
	stop_requested = sig;
}

static void on_stop_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART; /* the request in progress carries on */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL); /* in place of libfcgi's, which interrupts */
}

static int run_fcgi(void)
{
	struct app app;
	if (app_start(&app) != 0) {
		config_free(&app.cfg);
		return 1;
	}
	FCGX_Init();
	FCGX_Request req;
	FCGX_InitRequest(&req, 0, 0);
	struct http_io io = {fcgi_param, fcgi_read, fcgi_write, fcgi_finish, &req};
	on_stop_signals();
	while (!stop_requested && FCGX_Accept_r(&req) >= 0) {
		serving = 1;
		serve_one(&app, &io); /* finishes the request itself (io.finish) */
		metrics_after_reply(app.db, fcgi_request_waiting());
		serving = 0;
	}
	if (stop_requested)
		log_msg(LOG_INFO, "stopping on signal %d after the current request",
			(int)stop_requested);
	app_stop(&app);
	return 0;
}

static int run_cgi(void)
{
	struct app app;
	struct http_io io = {cgi_param, cgi_read, cgi_write, cgi_finish, NULL};
	/* The programs this request starts (a job's worker, `imagegw jobs run
	 * ID`) are commands, not requests: see query_words_as_argv. */
	unsetenv("GATEWAY_INTERFACE");
	if (app_start(&app) != 0) {
		/* Still answer the one request, so the client sees JSON, not a
		 * web-server error page. */
		struct reply rp;
		struct img_error e;
		reply_init(&rp);
		err_set(&e, IMG_INTERNAL, NULL,
			"The gateway's configuration is invalid; the operator should run "
			"'imagegw config check'.");
		reply_error(&rp, &e, "req_config");
		reply_send(&rp, &io, "req_config", 0);
		reply_free(&rp);
		config_free(&app.cfg);
		return 1;
	}
	serve_one(&app, &io);
	app_stop(&app); /* writes the request's counts */
	return 0;
}

/* 1 when the command line may be the request's own query string: a CGI
 * server following RFC 3875 4.4 (Apache's mod_cgi and mod_cgid do) passes a
 * query without '=' as command-line words, so `GET /v1/models?cache+clear`
 * would start `imagegw cache clear` for anyone.  Such a process answers the
 * request and takes no command from its arguments. */
static int query_words_as_argv(int argc)
{
	const char *q = getenv("QUERY_STRING");
	return argc > 1 && getenv("GATEWAY_INTERFACE") && q && *q && !strchr(q, '=');
}

int main(int argc, char **argv)
{
	if (query_words_as_argv(argc))
		return run_cgi();
	if (argc > 1 && strcmp(argv[1], "fcgi") == 0)
		return run_fcgi();
	if (argc > 1 && strcmp(argv[1], "cgi") == 0)
		return run_cgi();
	if (argc > 1)
		return cli_main(argc, argv);
	if (!FCGX_IsCGI())
		return run_fcgi();
	if (getenv("GATEWAY_INTERFACE") || getenv("REQUEST_METHOD"))
		return run_cgi();
	return cli_main(argc, argv);
}
