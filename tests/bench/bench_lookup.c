/* Lookup cost on a miss with a large index (`make bench`): fills a fresh
 * cache database with N entries, then times cache_lookup of absent keys and
 * prints the median and p99 in microseconds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "buf.h"
#include "cache.h"
#include "config.h"
#include "db.h"
#include "genreq.h"
#include "plan.h"

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

int main(int argc, char **argv)
{
	long entries = argc > 1 ? atol(argv[1]) : 100000;
	int rounds = argc > 2 ? atoi(argv[2]) : 5000;
	char dir[] = "/tmp/imagegw-bench-XXXXXX";
	if (!mkdtemp(dir))
		return 1;
	setenv("IMAGEGW_DATA_DIR", dir, 1);
	setenv("IMAGEGW_CONFIG", "/dev/null", 1);
	setenv("IMAGEGW_LOG_LEVEL", "error", 1);
	struct config cfg;
	struct buf errs = BUF_INIT, warns = BUF_INIT;
	if (config_load(&cfg, &errs, &warns) != 0)
		return 1;
	char err[256];
	sqlite3 *db = db_open(&cfg, err, sizeof err);
	if (!db) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	/* N rows as cache_store would leave them (blob files are not needed for misses). */
	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	sqlite3_stmt *ins;
	sqlite3_prepare_v2(db,
			   "INSERT INTO cache_entries(key, label, blob, ext, mime, bytes, width, "
			   "height, model, prompt_hash, params, created, expires, last_access) VALUES "
			   "(printf('%064x', ?1), 'img:x', printf('%064x', ?1 % 1000), 'png', "
			   "'image/png', 1000, 1, 1, 'gemini-3-pro-image', '0123456789abcdef', '{}', "
			   "?2, ?2 + 86400, ?2)",
			   -1, &ins, NULL);
	long t = (long)time(NULL);
	for (long i = 0; i < entries; i++) {
		sqlite3_bind_int64(ins, 1, i);
		sqlite3_bind_int64(ins, 2, t);
		sqlite3_step(ins);
		sqlite3_reset(ins);
	}
	sqlite3_finalize(ins);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);

	struct gen_req r;
	struct gen_plan p;
	struct img_error e;
	const char *body = "{\"prompt\":\"bench\",\"model\":\"local-preview\"}";
	genreq_parse_json(&cfg, body, strlen(body), &r, &e);
	plan_build(&cfg, &r, 0, &p, &e);
	double *lat = calloc((size_t)rounds, sizeof *lat);
	for (int i = 0; i < rounds; i++) {
		struct cache_key k;
		struct cache_entry ce;
		cache_key_build(&p, &r, NULL, i, &k, NULL); /* slot i: a key not in the index */
		double t0 = now_us();
		cache_lookup(&cfg, db, &k, &p, NULL, &ce);
		lat[i] = now_us() - t0;
	}
	qsort(lat, (size_t)rounds, sizeof *lat, cmp_double);
	printf("%.1f %.1f\n", lat[rounds / 2], lat[rounds * 99 / 100]);
	free(lat);
	plan_free(&p);
	genreq_free(&r);
	db_close(db);
	config_free(&cfg);
	buf_free(&errs);
	buf_free(&warns);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : 1;
}
