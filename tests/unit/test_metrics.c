/* Unit tests for core/metrics.c (SPEC 8): label escaping, number and
 * histogram formatting (cumulative buckets ending in +Inf), sorted and
 * repeatable output, and — against a real temporary database — flushing
 * deltas, merging them across flushes, keeping them while the database is
 * busy, a forked child starting from nothing, and the scrape-time gauges. */
#include "../../core/metrics.c"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testdb.h"
#include "unit.h"

static struct config cfg;
static struct testdb tdb;

static int fresh(void)
{
	memset(&cfg, 0, sizeof cfg);
	cfg.cache_backend = (char *)"filesystem";
	cfg.cache_enabled = 1;
	cfg.cache_on = 1;
	cfg.cache_max_size_mb = 10;
	cfg.price_table = (char *)"";
	cfg.log_level = (char *)"error"; /* the busy database's warning is expected */
	cfg.log_format = (char *)"json";
	cfg.log_file = (char *)"";
	metrics_discard();
	return testdb_open(&tdb, &cfg, "metrics");
}

/* Tests without a database: the warnings they provoke are expected. */
static void quiet(void)
{
	static struct config q;
	q.log_level = (char *)"error";
	q.log_format = (char *)"json";
	q.log_file = (char *)"";
	log_open(&q);
}

static void done(void)
{
	metrics_discard();
	testdb_close(&tdb);
}

/* The value of one row of the metrics table (0 when absent). */
static double row(const char *name, const char *labels, const char *bucket)
{
	sqlite3_stmt *st;
	double v = 0;
	sqlite3_prepare_v2(
		tdb.db, "SELECT value FROM metrics WHERE name = ?1 AND labels = ?2 AND bucket = ?3",
		-1, &st, NULL);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, labels, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, bucket, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_double(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* 1 when text holds line as a whole line. */
static int has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	for (const char *p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return 1;
	return 0;
}

/* ---- labels and numbers ------------------------------------------------------ */

TEST(label_values_are_escaped)
{
	char l[LABELS_MAX] = "";
	CHECK_INT(label_add(l, sizeof l, "route", "/v1/models"), 0);
	CHECK_INT(label_add(l, sizeof l, "x", "a\\b\"c\nd"), 0);
	CHECK_STR(l, "route=\"/v1/models\",x=\"a\\\\b\\\"c\\nd\"");
}

TEST(a_label_that_does_not_fit_leaves_the_text_as_it_was)
{
	char l[24] = "";
	CHECK_INT(label_add(l, sizeof l, "a", "short"), 0);
	CHECK_INT(label_add(l, sizeof l, "b", "far too long for what is left"), -1);
	CHECK_STR(l, "a=\"short\"");
	/* An escape is never split: "\"" needs two bytes. */
	char m[8] = "";
	CHECK_INT(label_add(m, sizeof m, "k", "ab\""), -1);
	CHECK_STR(m, "");
	CHECK_INT(label_add(m, sizeof m, "k", "ab"), 0);
	CHECK_STR(m, "k=\"ab\"");
}

TEST(numbers)
{
	struct buf b = BUF_INIT;
	put_num(&b, 3);
	buf_putc(&b, ' ');
	put_num(&b, 0.134 * 3);
	buf_putc(&b, ' ');
	put_num(&b, 1048576000);
	buf_putc(&b, ' ');
	put_num(&b, NAN);
	buf_putc(&b, ' ');
	put_num(&b, INFINITY);
	buf_putc(&b, ' ');
	put_num(&b, -2.5);
	CHECK_STR(buf_cstr(&b), "3 0.402 1048576000 NaN +Inf -2.5");
	buf_free(&b);
}

TEST(help_text_escapes_backslash_and_newline)
{
	struct buf b = BUF_INIT;
	put_help(&b, "a\\b\nc \"q\"");
	CHECK_STR(buf_cstr(&b), "a\\\\b\\nc \"q\"");
	buf_free(&b);
}

/* ---- the family table --------------------------------------------------------- */

static int name_ok(const char *s)
{
	if (!((*s >= 'a' && *s <= 'z') || *s == '_'))
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return 0;
	return 1;
}

TEST(family_table_is_sound)
{
	for (int f = 0; f < NFAM; f++) {
		const struct family *fam = &families[f];
		size_t n = strlen(fam->name);
		CHECK(name_ok(fam->name));
		CHECK(strncmp(fam->name, "imagegw_", 8) == 0);
		CHECK(fam->help && fam->help[0]);
		int total = n > 6 && strcmp(fam->name + n - 6, "_total") == 0;
		if (fam->type == FAM_COUNTER && !total)
			fprintf(stderr, "  counter without _total: %s\n", fam->name);
		CHECK(fam->type != FAM_COUNTER || total);
		CHECK(fam->type == FAM_COUNTER || !total);
		CHECK((fam->type == FAM_HISTOGRAM) == (fam->nbounds > 0));
		for (int i = 1; i < fam->nbounds; i++)
			CHECK(fam->bounds[i - 1] < fam->bounds[i]);
		for (int g = 0; g < f; g++)
			CHECK(strcmp(families[g].name, fam->name) != 0);
	}
}

/* ---- the text writer ------------------------------------------------------------ */

TEST(histogram_buckets_are_cumulative_and_end_in_inf)
{
	struct series_set set = {0};
	struct series *s = set_get(&set, F_GENERATION_SECONDS, "");
	const double obs[] = {0.05, 0.1, 0.3, 7, 7, 500, 0};
	for (size_t i = 0; i < sizeof obs / sizeof obs[0]; i++) {
		s->buckets[bucket_of(&families[F_GENERATION_SECONDS], obs[i])] += 1;
		s->sum += obs[i];
	}
	struct buf b = BUF_INIT;
	put_series(&b, &families[F_GENERATION_SECONDS], s);
	const char *t = buf_cstr(&b);
	/* 0.1 is in le="0.1" (bounds are inclusive); 500 only in +Inf. */
	CHECK(has_line(t, "imagegw_generation_seconds_bucket{le=\"0.1\"} 3"));
	CHECK(has_line(t, "imagegw_generation_seconds_bucket{le=\"0.25\"} 3"));
	CHECK(has_line(t, "imagegw_generation_seconds_bucket{le=\"0.5\"} 4"));
	CHECK(has_line(t, "imagegw_generation_seconds_bucket{le=\"5\"} 4"));
	CHECK(has_line(t, "imagegw_generation_seconds_bucket{le=\"10\"} 6"));
	CHECK(has_line(t, "imagegw_generation_seconds_bucket{le=\"300\"} 6"));
	CHECK(has_line(t, "imagegw_generation_seconds_bucket{le=\"+Inf\"} 7"));
	CHECK(has_line(t, "imagegw_generation_seconds_count 7"));
	CHECK(has_line(t, "imagegw_generation_seconds_sum 514.45"));
	/* Every bucket line's count is at least the one before it, and the
	 * last bucket is +Inf. */
	double prev = -1;
	const char *last_le = NULL;
	for (const char *p = t; (p = strstr(p, "_bucket{")); p++) {
		const char *sp = strchr(p, ' ');
		double v = strtod(sp + 1, NULL);
		CHECK(v >= prev);
		prev = v;
		last_le = strstr(p, "le=\"");
	}
	CHECK(last_le && strncmp(last_le, "le=\"+Inf\"", 9) == 0);
	buf_free(&b);
	set_free(&set);
}

TEST(labelled_histogram_puts_le_last)
{
	struct series_set set = {0};
	struct series *s = set_get(&set, F_REQUEST_SECONDS, "route=\"/healthz\"");
	s->buckets[0] = 2;
	s->sum = 0.002;
	struct buf b = BUF_INIT;
	put_series(&b, &families[F_REQUEST_SECONDS], s);
	const char *t = buf_cstr(&b);
	CHECK(has_line(
		t, "imagegw_request_duration_seconds_bucket{route=\"/healthz\",le=\"0.005\"} 2"));
	CHECK(has_line(
		t, "imagegw_request_duration_seconds_bucket{route=\"/healthz\",le=\"+Inf\"} 2"));
	CHECK(has_line(t, "imagegw_request_duration_seconds_sum{route=\"/healthz\"} 0.002"));
	CHECK(has_line(t, "imagegw_request_duration_seconds_count{route=\"/healthz\"} 2"));
	buf_free(&b);
	set_free(&set);
}

TEST(output_is_sorted_and_repeatable)
{
	struct series_set a = {0}, b = {0};
	/* The same series, added in opposite orders. */
	const char *labels[] = {"route=\"/v1/models\",status=\"200\"",
				"route=\"/healthz\",status=\"503\"",
				"route=\"/healthz\",status=\"200\""};
	for (int i = 0; i < 3; i++) {
		set_get(&a, F_REQUESTS, labels[i])->value = i + 1;
		set_get(&b, F_REQUESTS, labels[2 - i])->value = 3 - i;
	}
	set_get(&a, F_CACHE_HITS, "")->value = 4;
	set_get(&b, F_CACHE_HITS, "")->value = 4;
	struct buf x = BUF_INIT, y = BUF_INIT;
	write_text(&a, &x);
	write_text(&b, &y);
	CHECK_STR(buf_cstr(&x), buf_cstr(&y));
	const char *t = buf_cstr(&x);
	/* Series in label order within their family. */
	const char *h200 = strstr(t, "imagegw_requests_total{route=\"/healthz\",status=\"200\"} 3");
	const char *h503 = strstr(t, "imagegw_requests_total{route=\"/healthz\",status=\"503\"} 2");
	const char *m200 =
		strstr(t, "imagegw_requests_total{route=\"/v1/models\",status=\"200\"} 1");
	CHECK(h200 && h503 && m200 && h200 < h503 && h503 < m200);
	/* Families in name order, each HELP then TYPE, every one present. */
	char prev[96] = "";
	int nfam = 0;
	for (const char *p = t; (p = strstr(p, "# HELP ")); p++) {
		char name[96];
		CHECK(sscanf(p, "# HELP %95s", name) == 1);
		CHECK(strcmp(prev, name) < 0);
		char type_line[128];
		snprintf(type_line, sizeof type_line, "\n# TYPE %s ", name);
		CHECK(strstr(p, type_line) == strchr(p, '\n'));
		snprintf(prev, sizeof prev, "%s", name);
		nfam++;
	}
	CHECK_INT(nfam, NFAM);
	buf_free(&x);
	buf_free(&y);
	set_free(&a);
	set_free(&b);
}

/* ---- hooks ------------------------------------------------------------------------- */

TEST(hooks_build_bounded_labels)
{
	metrics_discard();
	struct upstream_xfer x;
	memset(&x, 0, sizeof x);
	x.status = 503;
	x.elapsed_ms = 1500;
	metrics_upstream("gemini", &x, IMG_UPSTREAM_ERROR, 1);
	x.fail = UPSTREAM_TIMEOUT;
	x.status = 0;
	metrics_upstream("gemini", &x, IMG_UPSTREAM_TIMEOUT, 0);
	memset(&x, 0, sizeof x);
	x.status = 200;
	metrics_upstream("gemini", &x, IMG_OK, 1);
	metrics_rate_limited("images");
	metrics_rate_limited("ip");
	metrics_rate_limited("something new");
	metrics_images("gemini-3-pro-image", "4K", 2);
	metrics_images("gemini-3-pro-image", "4K", 0); /* nothing made: no series */
	struct series *s =
		set_get(&pending, F_UPSTREAM_REQUESTS, "provider=\"gemini\",status=\"503\"");
	CHECK(s && s->value == 1);
	s = set_get(&pending, F_UPSTREAM_REQUESTS, "provider=\"gemini\",status=\"timeout\"");
	CHECK(s && s->value == 1);
	s = set_get(&pending, F_UPSTREAM_REQUESTS, "provider=\"gemini\",status=\"200\"");
	CHECK(s && s->value == 1);
	s = set_get(&pending, F_UPSTREAM_ERRORS, "code=\"IMG_UPSTREAM_ERROR\"");
	CHECK(s && s->value == 1);
	s = set_get(&pending, F_UPSTREAM_ERRORS, "code=\"IMG_UPSTREAM_TIMEOUT\"");
	CHECK(s && s->value == 1);
	/* Only image attempts are generation time: 1.5 s and 0 s. */
	s = set_get(&pending, F_GENERATION_SECONDS, "");
	CHECK(s && s->sum == 1.5);
	CHECK(s && s->buckets[bucket_of(&families[F_GENERATION_SECONDS], 1.5)] == 1);
	CHECK(s && s->buckets[0] == 1);
	CHECK(set_get(&pending, F_RATE_LIMITED, "scope=\"daily\"")->value == 1);
	CHECK(set_get(&pending, F_RATE_LIMITED, "scope=\"ip\"")->value == 1);
	CHECK(set_get(&pending, F_RATE_LIMITED, "scope=\"other\"")->value == 1);
	s = set_get(&pending, F_IMAGES, "model=\"gemini-3-pro-image\",resolution=\"4K\"");
	CHECK(s && s->value == 2);
	/* 3 upstream statuses, 2 codes, the histogram, 3 scopes, 1 model. */
	CHECK_INT(metrics_pending(), 10);
	metrics_discard();
	CHECK_INT(metrics_pending(), 0);
}

TEST(series_are_capped)
{
	quiet();
	metrics_discard();
	char route[32];
	for (int i = 0; i < MAX_SERIES + 10; i++) {
		snprintf(route, sizeof route, "/r%d", i);
		metrics_rate_limited("key");
		count(F_REQUESTS, route, 1);
	}
	CHECK_INT(pending.n, MAX_SERIES);
	CHECK(full_warned);
	metrics_discard();
}

/* ---- flush and merge ---------------------------------------------------------- */

TEST(flush_adds_deltas_and_merges_across_flushes)
{
	if (fresh() != 0) {
		CHECK(0);
		return;
	}
	double t = metrics_clock();
	for (int i = 0; i < 3; i++)
		metrics_request("/v1/models", 200, t);
	metrics_request("unknown", 404, t);
	metrics_cache_lookup(0.0003);
	CHECK_INT(metrics_flush(tdb.db, 50), 0);
	CHECK_INT(metrics_pending(), 0);
	CHECK(row("imagegw_requests_total", "route=\"/v1/models\",status=\"200\"", "") == 3);
	CHECK(row("imagegw_requests_total", "route=\"unknown\",status=\"404\"", "") == 1);
	CHECK(row("imagegw_cache_lookup_seconds", "", "0.0005") == 1);
	CHECK(row("imagegw_cache_lookup_seconds", "", "sum") > 0.00029);
	/* Nothing pending: a flush writes nothing and succeeds. */
	CHECK_INT(metrics_flush(tdb.db, 50), 0);
	metrics_request("/v1/models", 200, t);
	metrics_request("/v1/models", 200, t);
	metrics_cache_lookup(0.0004);
	CHECK_INT(metrics_flush(tdb.db, 50), 0);
	CHECK(row("imagegw_requests_total", "route=\"/v1/models\",status=\"200\"", "") == 5);
	CHECK(row("imagegw_cache_lookup_seconds", "", "0.0005") == 2);
	/* A request's duration is in some bucket of its route. */
	double in_buckets = 0;
	char b[32];
	for (int i = 0; i <= families[F_REQUEST_SECONDS].nbounds; i++) {
		bound_text(&families[F_REQUEST_SECONDS], i, b, sizeof b);
		in_buckets += row("imagegw_request_duration_seconds", "route=\"/v1/models\"", b);
	}
	CHECK(in_buckets == 5);
	done();
}

TEST(a_busy_database_keeps_the_deltas_for_the_next_flush)
{
	if (fresh() != 0) {
		CHECK(0);
		return;
	}
	/* This test reads the warning and the recovery line from the log. */
	cfg.log_level = (char *)"info";
	cfg.log_file = tdb.log_path;
	log_open(&cfg);
	char path[300];
	snprintf(path, sizeof path, "%s/imagegw.db", tdb.data_dir);
	sqlite3 *other;
	CHECK(sqlite3_open(path, &other) == SQLITE_OK);
	double t = metrics_clock();
	metrics_request("/healthz", 200, t);
	CHECK_INT(metrics_flush(tdb.db, 50), 0);
	CHECK(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK);
	metrics_request("/healthz", 200, t);
	metrics_request("/healthz", 200, t);
	double t0 = metrics_clock();
	CHECK_INT(metrics_flush(tdb.db, 50), -1);
	CHECK(metrics_clock() - t0 < 1.0); /* it waited its patience, not 5 s */
	CHECK_INT(metrics_flush(tdb.db, 0), -1);
	CHECK(failed_flushes == 2);
	CHECK(metrics_pending() > 0);
	metrics_request("/healthz", 200, t);
	sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(other);
	CHECK(row("imagegw_requests_total", "route=\"/healthz\",status=\"200\"", "") == 1);
	CHECK_INT(metrics_flush(tdb.db, 50), 0);
	CHECK_INT(failed_flushes, 0);
	/* Nothing lost, nothing counted twice. */
	CHECK(row("imagegw_requests_total", "route=\"/healthz\",status=\"200\"", "") == 4);
	/* One warning for the two failures, one line when it recovered. */
	char text[4096] = "";
	FILE *f = fopen(tdb.log_path, "r");
	if (f) {
		text[fread(text, 1, sizeof text - 1, f)] = '\0';
		fclose(f);
	}
	/* (the request count and its duration histogram) */
	const char *warn =
		strstr(text, "metrics: cannot write (database is locked); 2 series kept");
	CHECK(warn && !strstr(strstr(warn, "series kept") + 1, "series kept"));
	CHECK(strstr(text, "metrics: written again after 2 failed attempts"));
	done();
}

TEST(after_a_reply_a_waiting_request_defers_the_flush_a_second_at_most)
{
	if (fresh() != 0) {
		CHECK(0);
		return;
	}
	double t = metrics_clock();
	metrics_request("/healthz", 200, t);
	/* Nobody waiting: written now. */
	CHECK_INT(metrics_after_reply(tdb.db, 0), 0);
	CHECK(row("imagegw_requests_total", "route=\"/healthz\",status=\"200\"", "") == 1);
	/* A request waiting, the last write just now: the counts wait. */
	metrics_request("/healthz", 200, t);
	CHECK_INT(metrics_after_reply(tdb.db, 1), 1);
	CHECK_INT(metrics_pending(), 2);
	CHECK(row("imagegw_requests_total", "route=\"/healthz\",status=\"200\"", "") == 1);
	/* Nothing waiting any more: both go in. */
	metrics_request("/healthz", 200, t);
	CHECK_INT(metrics_after_reply(tdb.db, 0), 0);
	CHECK(row("imagegw_requests_total", "route=\"/healthz\",status=\"200\"", "") == 3);
	/* Still busy, but the last write is over a second old: written anyway. */
	metrics_request("/healthz", 200, t);
	last_flush -= METRICS_MAX_DEFER_S + 0.1;
	CHECK_INT(metrics_after_reply(tdb.db, 1), 0);
	CHECK(row("imagegw_requests_total", "route=\"/healthz\",status=\"200\"", "") == 4);
	/* Nothing pending: nothing to defer or write. */
	CHECK_INT(metrics_after_reply(tdb.db, 1), 0);
	done();
}

TEST(no_database_keeps_the_deltas)
{
	quiet();
	metrics_discard();
	metrics_rate_limited("key");
	CHECK_INT(metrics_flush(NULL, 50), -1);
	CHECK_INT(metrics_pending(), 1);
	metrics_discard();
}

TEST(a_forked_child_starts_from_nothing)
{
	metrics_discard();
	metrics_rate_limited("key");
	metrics_rate_limited("ip");
	CHECK_INT(metrics_pending(), 2);
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		int ok = metrics_pending() == 0;
		metrics_rate_limited("global");
		ok = ok && metrics_pending() == 1;
		_exit(ok ? 0 : 1);
	}
	int status = -1;
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_INT(metrics_pending(), 2); /* the parent's are still its own */
	metrics_discard();
}

/* ---- reading it back ----------------------------------------------------------------- */

TEST(render_reads_rows_counters_and_gauges)
{
	if (fresh() != 0) {
		CHECK(0);
		return;
	}
	double t = metrics_clock();
	metrics_request("/v1/models", 200, t);
	metrics_images("local-preview", "2K", 3);
	CHECK_INT(metrics_flush(tdb.db, 50), 0);
	/* A bucket bound this binary does not define folds into the next one. */
	sqlite3_exec(
		tdb.db,
		"INSERT INTO metrics(name, labels, bucket, value) VALUES "
		"('imagegw_generation_seconds', '', '0.3', 2), "
		"('imagegw_generation_seconds', '', 'sum', 0.6), "
		"('imagegw_no_such_family', '', '', 9);"
		"INSERT INTO counters(name, value) VALUES ('cache_hits', 3), ('cache_misses', 1), "
		"('cache_cost_saved_usd', 0.402);"
		"INSERT INTO accounts(provider, label, source, fingerprint, created, enabled, "
		"cooldown_until) VALUES ('gemini', 'a', 'db', 'f', 0, 1, 0), "
		"('gemini', 'b', 'db', 'f', 0, 1, 4000000000), ('gemini', 'c', 'db', 'f', 0, 0, "
		"0), "
		"('openai', 'd', 'db', 'f', 0, 1, 4000000000);",
		NULL, NULL, NULL);
	struct buf b = BUF_INIT;
	CHECK_INT(metrics_render(&cfg, tdb.db, &b), 0);
	const char *t2 = buf_cstr(&b);
	CHECK(has_line(t2, "imagegw_requests_total{route=\"/v1/models\",status=\"200\"} 1"));
	CHECK(has_line(
		t2, "imagegw_images_generated_total{model=\"local-preview\",resolution=\"2K\"} 3"));
	CHECK(has_line(t2, "imagegw_generation_seconds_bucket{le=\"0.25\"} 0"));
	CHECK(has_line(t2, "imagegw_generation_seconds_bucket{le=\"0.5\"} 2"));
	CHECK(has_line(t2, "imagegw_generation_seconds_count 2"));
	CHECK(has_line(t2, "imagegw_generation_seconds_sum 0.6"));
	CHECK(!strstr(t2, "imagegw_no_such_family"));
	CHECK(has_line(t2, "imagegw_cache_hits_total 3"));
	CHECK(has_line(t2, "imagegw_cache_misses_total 1"));
	CHECK(has_line(t2, "imagegw_cache_hit_ratio 0.75"));
	CHECK(has_line(t2, "imagegw_cost_saved_usd_total 0.402"));
	CHECK(has_line(t2, "imagegw_cache_max_bytes 10485760"));
	CHECK(has_line(t2, "imagegw_cache_entries 0"));
	CHECK(has_line(t2, "imagegw_accounts_available{provider=\"gemini\"} 1"));
	CHECK(has_line(t2, "imagegw_accounts_configured{provider=\"gemini\"} 3"));
	CHECK(has_line(t2, "imagegw_accounts_available{provider=\"openai\"} 0"));
	/* No jobs yet: the known statuses at 0. */
	CHECK(has_line(t2, "imagegw_jobs{status=\"queued\"} 0"));
	CHECK(has_line(t2, "imagegw_jobs{status=\"failed\"} 0"));
	CHECK(has_line(t2, "imagegw_cache_lookup_seconds_count 0"));
	CHECK(has_line(t2, "imagegw_build_info{version=\"" IMAGEGW_VERSION_STR "\"} 1"));
	/* A labelled family with no series yet shows only its HELP and TYPE. */
	CHECK(has_line(t2, "# TYPE imagegw_rate_limited_total counter"));
	CHECK(!strstr(t2, "imagegw_rate_limited_total{"));
	/* Once there are jobs, their counts. */
	CHECK_INT(sqlite3_exec(
			  tdb.db,
			  "INSERT INTO jobs(id, status, owner, prompt, request, cache_mode, "
			  "created, updated) VALUES ('a', 'failed', 'anon', 'p', '{}', 0, 1, 1), "
			  "('b', 'failed', 'anon', 'p', '{}', 0, 1, 1), "
			  "('c', 'running', 'anon', 'p', '{}', 0, 1, 1)",
			  NULL, NULL, NULL),
		  SQLITE_OK);
	buf_reset(&b);
	CHECK_INT(metrics_render(&cfg, tdb.db, &b), 0);
	CHECK(has_line(buf_cstr(&b), "imagegw_jobs{status=\"failed\"} 2"));
	CHECK(has_line(buf_cstr(&b), "imagegw_jobs{status=\"running\"} 1"));
	CHECK(has_line(buf_cstr(&b), "imagegw_jobs{status=\"queued\"} 0"));
	/* Without a database there is nothing to read. */
	size_t len = b.len;
	CHECK_INT(metrics_render(&cfg, NULL, &b), -1);
	CHECK(b.len == len);
	buf_free(&b);
	done();
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	RUN(label_values_are_escaped);
	RUN(a_label_that_does_not_fit_leaves_the_text_as_it_was);
	RUN(numbers);
	RUN(help_text_escapes_backslash_and_newline);
	RUN(family_table_is_sound);
	RUN(histogram_buckets_are_cumulative_and_end_in_inf);
	RUN(labelled_histogram_puts_le_last);
	RUN(output_is_sorted_and_repeatable);
	RUN(hooks_build_bounded_labels);
	RUN(series_are_capped);
	RUN(flush_adds_deltas_and_merges_across_flushes);
	RUN(a_busy_database_keeps_the_deltas_for_the_next_flush);
	RUN(after_a_reply_a_waiting_request_defers_the_flush_a_second_at_most);
	RUN(no_database_keeps_the_deltas);
	RUN(a_forked_child_starts_from_nothing);
	RUN(render_reads_rows_counters_and_gauges);
	UNIT_DONE();
}
