/* Cost of the per-request quota work (`make bench`): P processes each run N
 * rounds of what one image request does against the shared database — the
 * client rate-limit transaction (ratelimit_check) and the upstream key pick
 * (pool_take), each one BEGIN IMMEDIATE transaction — and the median and
 * p99 of a round in microseconds are printed over all processes. */
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
#include "pool.h"
#include "ratelimit.h"

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

int main(int argc, char **argv)
{
	int procs = argc > 1 ? atoi(argv[1]) : 4;
	int rounds = argc > 2 ? atoi(argv[2]) : 2000;
	char dir[] = "/tmp/imagegw-quota-XXXXXX";
	if (!mkdtemp(dir))
		return 1;
	setenv("IMAGEGW_DATA_DIR", dir, 1);
	setenv("IMAGEGW_CONFIG", "/dev/null", 1);
	setenv("IMAGEGW_LOG_LEVEL", "error", 1);
	setenv("IMAGEGW_GEMINI_API_KEYS", "k1,k2,k3,k4", 1);
	struct config cfg;
	if (load(&cfg) != 0)
		return 1;
	char err[256];
	sqlite3 *db = db_open(&cfg, err, sizeof err);
	if (!db)
		return 1;
	pool_sync(&cfg, db);
	db_close(db);

	int fds[64][2];
	for (int p = 0; p < procs && p < 64; p++) {
		if (pipe(fds[p]) != 0)
			return 1;
		if (fork() == 0) {
			db = db_open(&cfg, err, sizeof err);
			double *lat = calloc((size_t)rounds, sizeof *lat);
			for (int i = 0; i < rounds; i++) {
				struct rate_subject s = {.key_id = 1 + p, .key_rpm = 1000000,
							 .global_limit = 100000000, .window = 60};
				struct rate_decision d;
				struct pool_key k;
				int ra;
				double t0 = now_us();
				ratelimit_check(db, &s, (long long)time(NULL), &d);
				pool_take(&cfg, db, "gemini", 1, 0, &k, &ra);
				lat[i] = now_us() - t0;
			}
			if (write(fds[p][1], lat, sizeof *lat * (size_t)rounds) < 0)
				_exit(1);
			_exit(0);
		}
		close(fds[p][1]);
	}
	double *all = calloc((size_t)(procs * rounds), sizeof *all);
	size_t n = 0;
	for (int p = 0; p < procs; p++) {
		size_t want = sizeof *all * (size_t)rounds, got = 0;
		while (got < want) {
			ssize_t r = read(fds[p][0], (char *)(all + n) + got, want - got);
			if (r <= 0)
				break;
			got += (size_t)r;
		}
		n += got / sizeof *all;
		close(fds[p][0]);
	}
	while (wait(NULL) > 0)
		;
	qsort(all, n, sizeof *all, cmp_double);
	printf("%.1f %.1f %zu\n", n ? all[n / 2] : 0, n ? all[n * 99 / 100] : 0, n);
	free(all);
	config_free(&cfg);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : 1;
}
