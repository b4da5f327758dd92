/* Cost of the metrics (`make bench`): P processes each run N rounds of what
 * one image request (a cache miss made upstream) does for metrics — the
 * hooks (request, cache lookup, upstream attempt, fresh image) and then
 * metrics_flush, one BEGIN IMMEDIATE transaction of nine upserts — against
 * one shared database.  Prints the median and p99 of the flush and the
 * median of the hooks, in microseconds, over all processes, then the count
 * of failed flushes (each kept its deltas for the next round). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "buf.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "metrics.h"
#include "upstream.h"

static double now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int load(struct config *cfg)
{
	struct buf errs = BUF_INIT, warns = BUF_INIT;
	int rc = config_load(cfg, &errs, &warns);
	buf_free(&errs);
	buf_free(&warns);
	log_open(cfg);
	return rc;
}

/* Reads exactly n bytes; 0 or -1. */
static int read_all(int fd, void *dst, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, (char *)dst + got, n - got);
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int procs = argc > 1 ? atoi(argv[1]) : 4;
	int rounds = argc > 2 ? atoi(argv[2]) : 2000;
	if (procs < 1 || procs > 64 || rounds < 1)
		return 2;
	char dir[] = "/tmp/imagegw-metrics-XXXXXX";
	if (!mkdtemp(dir))
		return 1;
	setenv("IMAGEGW_DATA_DIR", dir, 1);
	setenv("IMAGEGW_CONFIG", "/dev/null", 1);
	setenv("IMAGEGW_LOG_LEVEL", "error", 1);
	struct config cfg;
	if (load(&cfg) != 0)
		return 1;
	char err[256];
	sqlite3 *db = db_open(&cfg, err, sizeof err);
	if (!db)
		return 1;
	db_close(db);

	int fds[64][2];
	for (int p = 0; p < procs; p++) {
		if (pipe(fds[p]) != 0)
			return 1;
		if (fork() == 0) {
			db = db_open(&cfg, err, sizeof err);
			double *lat = calloc((size_t)rounds * 2 + 1, sizeof *lat);
			struct upstream_xfer x;
			memset(&x, 0, sizeof x);
			x.status = 200;
			x.elapsed_ms = 800;
			for (int i = 0; i < rounds; i++) {
				double t0 = now_us();
				double started = metrics_clock();
				metrics_cache_lookup(0.00004);
				metrics_upstream("gemini", &x, IMG_OK, 1);
				metrics_images("gemini-3-pro-image", "2K", 1);
				metrics_request("/v1/images/generations", 200, started);
				double t1 = now_us();
				if (metrics_flush(db, METRICS_PATIENCE_MS) != 0)
					lat[2 * rounds]++;
				lat[i] = now_us() - t1;
				lat[rounds + i] = t1 - t0;
			}
			metrics_flush(db, -1);
			metrics_discard();
			db_close(db);
			size_t len = sizeof *lat * ((size_t)rounds * 2 + 1);
			if (write(fds[p][1], lat, len) != (ssize_t)len)
				_exit(1);
			_exit(0);
		}
		close(fds[p][1]);
	}
	size_t n = (size_t)procs * (size_t)rounds;
	double *flush = calloc(n, sizeof *flush), *hooks = calloc(n, sizeof *hooks);
	double *one = calloc((size_t)rounds * 2 + 1, sizeof *one);
	double failed = 0;
	size_t k = 0;
	for (int p = 0; p < procs; p++) {
		if (read_all(fds[p][0], one, sizeof *one * ((size_t)rounds * 2 + 1)) == 0) {
			memcpy(flush + k, one, sizeof *one * (size_t)rounds);
			memcpy(hooks + k, one + rounds, sizeof *one * (size_t)rounds);
			failed += one[2 * rounds];
			k += (size_t)rounds;
		}
		close(fds[p][0]);
	}
	while (wait(NULL) > 0)
		;
	/* Every round's request must be in the table exactly once. */
	db = db_open(&cfg, err, sizeof err);
	struct buf text = BUF_INIT;
	double counted = -1;
	if (db && metrics_render(&cfg, db, &text) == 0) {
		const char *p = strstr(text.data, "imagegw_requests_total{route=\"/v1/images/"
						  "generations\",status=\"200\"} ");
		if (p)
			counted = strtod(strchr(p, '}') + 2, NULL);
	}
	buf_free(&text);
	db_close(db);
	qsort(flush, k, sizeof *flush, cmp_double);
	qsort(hooks, k, sizeof *hooks, cmp_double);
	printf("%.1f %.1f %.2f %.0f %.0f %zu\n", k ? flush[k / 2] : 0, k ? flush[k * 99 / 100] : 0,
	       k ? hooks[k / 2] : 0, failed, counted, k);
	int ok = counted == (double)k;
	if (!ok)
		fprintf(stderr, "bench_metrics: %.0f requests counted, %zu made\n", counted, k);
	free(flush);
	free(hooks);
	free(one);
	config_free(&cfg);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd) == 0 && ok ? 0 : 1;
}
