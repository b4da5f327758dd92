/* Multipart parse throughput (`make bench`): a 20 MiB upload (one image part of
 * random bytes, so CR and "\r\n--" prefixes turn up as in real image data, and a
 * prompt field) fed to core/multipart.c in 64 KiB chunks, as the edits route
 * reads it from the web server.  Prints the median and the best MB/s.
 * usage: bench_multipart [MiB] [rounds] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "multipart.h"

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? (size_t)atol(argv[1]) : 20;
	int rounds = argc > 2 ? atoi(argv[2]) : 20;
	static const char bd[] = "----imagegwBench7MA4YWxkTrZu0gW";
	struct buf body = BUF_INIT;
	unsigned x = 2463534242u;

	buf_printf(&body, "--%s\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\n"
			  "make the sky purple\r\n--%s\r\nContent-Disposition: form-data; "
			  "name=\"image\"; filename=\"in.png\"\r\nContent-Type: image/png\r\n\r\n",
		   bd, bd);
	size_t start = body.len, n = mib << 20;
	buf_grow(&body, n + 128);
	memcpy(body.data + body.len, "\x89PNG\r\n\x1a\n", 8);
	for (size_t i = 8; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		body.data[start + i] = (char)(x >> 7);
	}
	body.len += n;
	buf_printf(&body, "\r\n--%s--\r\n", bd);

	struct multipart_limits lim = {.max_part_bytes = n, .max_files = 15};
	double *mbs = calloc((size_t)rounds, sizeof *mbs);
	for (int r = 0; r < rounds; r++) {
		struct img_error e;
		double t = now_s();
		struct multipart *m = multipart_new(bd, &lim);
		enum img_err rc = IMG_OK;
		for (size_t off = 0; off < body.len && rc == IMG_OK; off += 65536) {
			size_t k = body.len - off < 65536 ? body.len - off : 65536;
			rc = multipart_feed(m, body.data + off, k, &e);
		}
		if (rc == IMG_OK)
			rc = multipart_finish(m, &e);
		const struct multipart_part *img = multipart_field(m, "image");
		if (rc != IMG_OK || !img || img->data.len != n) {
			fprintf(stderr, "bench_multipart: parse failed: %s\n", e.message);
			return 1;
		}
		multipart_free(m);
		mbs[r] = body.len / 1e6 / (now_s() - t);
	}
	qsort(mbs, (size_t)rounds, sizeof *mbs, cmp_double);
	printf("%.0f %.0f\n", mbs[rounds / 2], mbs[rounds - 1]);
	free(mbs);
	buf_free(&body);
	return 0;
}
