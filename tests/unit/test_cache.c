/* Unit tests for core/cache.c (SPEC 5): the key (every input that changes the
 * image changes it, nothing else does), blob paths, and — against a real
 * temporary database and real files — store/lookup, TTL, LRU eviction,
 * content-addressed sharing, corrupt and missing blobs, purge/clear/invalidate,
 * stats, the cost-saved counter and the in-flight lock. */
#include "../../core/cache.c"

#include <dirent.h>
#include <ftw.h>
#include <stdarg.h>
#include <signal.h>
#include <sys/time.h>
#include <sys/wait.h>

#include "render.h"
#include "testdb.h"
#include "unit.h"

#define PRICES                                                                                     \
	"gemini-3-pro-image:1K=0.134,2K=0.134,4K=0.24;gemini-2.5-flash-image:1K=0.039;"            \
	"gemini-3.1-flash-image-preview:1K=0.067,2K=0.101,4K=0.151"

static struct config cfg;
static char tmpdir[64], data_dir[128], cache_dir[512], log_path[200];
static sqlite3 *db;

static void base_cfg(void)
{
	memset(&cfg, 0, sizeof cfg);
	cfg.gemini_configured = 1;
	cfg.gemini_pro_image_model = (char *)"gemini-3-pro-image-preview";
	cfg.default_model = (char *)"";
	cfg.default_image_size = (char *)"2K";
	cfg.safety_threshold = (char *)"OFF";
	cfg.max_prompt_chars = 8000;
	cfg.max_n = 10;
	cfg.cache_backend = (char *)"filesystem";
	cfg.cache_enabled = 1;
	cfg.cache_on = 1;
	cfg.cache_ttl_seconds = 3600;
	cfg.cache_ttl = 3600;
	cfg.cache_max_size_mb = 1000;
	cfg.price_table = (char *)PRICES;
	cfg.log_level = (char *)"debug";
	cfg.log_format = (char *)"json";
	cfg.log_file = (char *)"";
	cfg.data_dir = data_dir;
	cfg.cache_dir = cache_dir;
}

static struct testdb tdb;

/* A new data_dir with its own database. */
static int fresh(void)
{
	base_cfg();
	cfg.log_level = (char *)"debug";
	if (testdb_open(&tdb, &cfg, "cache") != 0)
		return -1;
	/* Tests below move cache_dir about: keep the paths in this file's arrays. */
	snprintf(tmpdir, sizeof tmpdir, "%s", tdb.dir);
	snprintf(data_dir, sizeof data_dir, "%s", tdb.data_dir);
	snprintf(cache_dir, sizeof cache_dir, "%s", tdb.cache_dir);
	snprintf(log_path, sizeof log_path, "%s", tdb.log_path);
	cfg.data_dir = data_dir;
	cfg.cache_dir = cache_dir;
	cfg.log_file = log_path;
	log_open(&cfg);
	db = tdb.db;
	return 0;
}

static void done(void)
{
	testdb_close(&tdb);
	db = NULL;
}

/* ---- helpers -------------------------------------------------------------- */

/* One request as the gateway would see it: parsed body, plan, key of a slot. */
struct item {
	struct gen_req r;
	struct gen_plan p;
	struct cache_key k;
	int ok;
};

static void item_make(struct item *it, const char *json, int slot)
{
	struct img_error e;
	memset(it, 0, sizeof *it);
	if (genreq_parse_json(&cfg, json, strlen(json), &it->r, &e) != IMG_OK ||
	    plan_build(&cfg, &it->r, 0, &it->p, &e) != IMG_OK) {
		fprintf(stderr, "  bad test request %s: %s\n", json, e.message);
		unit_cur_failed = 1;
		return;
	}
	cache_key_build(&it->p, &it->r, NULL, slot, &it->k, NULL);
	it->ok = 1;
}

static void item_free(struct item *it)
{
	plan_free(&it->p);
	genreq_free(&it->r);
}

/* The key hex of a body's slot. */
static void key_of(const char *json, int slot, char out[65])
{
	struct item it;
	item_make(&it, json, slot);
	snprintf(out, 65, "%s", it.ok ? it.k.hex : "(error)");
	item_free(&it);
}

/* A real PNG from the local renderer, different for each seed. */
static void png(struct buf *out, int seed, int w, int h)
{
	unsigned char s[32] = {0};
	s[0] = (unsigned char)seed;
	s[1] = (unsigned char)(seed >> 8);
	buf_reset(out);
	render_png(out, s, w, h, NULL);
}

/* n bytes that image_sniff takes for a PNG (the signature) followed by
 * noise: the renderer's PNGs compress too well to fill a cap quickly. */
static void big(struct buf *out, size_t n, unsigned seed)
{
	static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
	unsigned x = seed * 2654435761u + 1;
	buf_reset(out);
	buf_append(out, sig, sizeof sig);
	buf_grow(out, n);
	while (out->len < n) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		out->data[out->len++] = (char)(x >> 11);
	}
	out->data[out->len] = '\0';
}

static long long sql_int(const char *sql)
{
	sqlite3_stmt *st;
	long long v = -1;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "  SQL %s: %s\n", sql, sqlite3_errmsg(db));
		return -1;
	}
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void sql_exec(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sql_exec(const char *fmt, ...)
{
	char sql[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(sql, sizeof sql, fmt, ap);
	va_end(ap);
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		fprintf(stderr, "  SQL %s: %s\n", sql, msg ? msg : "?");
		unit_cur_failed = 1;
	}
	sqlite3_free(msg);
}

static long long entries_with_key(const char *hex)
{
	char sql[256];
	snprintf(sql, sizeof sql, "SELECT count(*) FROM cache_entries WHERE key = '%s'", hex);
	return sql_int(sql);
}

static void blob_file(const char *hex, const char *ext, char *out, size_t len)
{
	if (cache_blob_path(&cfg, hex, ext, out, len) != 0)
		snprintf(out, len, "(bad blob name)");
}

static int exists(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0;
}

static int file_equals(const char *path, const struct buf *b)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return 0;
	struct buf got = BUF_INIT;
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_append(&got, chunk, n);
	fclose(f);
	int same = got.len == b->len && memcmp(got.data, b->data, b->len) == 0;
	buf_free(&got);
	return same;
}

/* Flips one byte in the middle of a file, keeping its length. */
static void flip_byte(const char *path)
{
	int fd = open(path, O_RDWR);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb) != 0) {
		unit_cur_failed = 1;
		if (fd >= 0)
			close(fd);
		return;
	}
	unsigned char c;
	off_t at = sb.st_size / 2;
	if (pread(fd, &c, 1, at) != 1) {
		unit_cur_failed = 1;
	} else {
		c ^= 0x5a;
		if (pwrite(fd, &c, 1, at) != 1)
			unit_cur_failed = 1;
	}
	close(fd);
}

/* Regular files in dir whose name does not start with '.'. */
static int count_files(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* Times a warning-or-worse line containing `needle` was logged. */
static int log_count(const char *needle)
{
	FILE *f = fopen(log_path, "r");
	if (!f)
		return 0;
	char line[8192];
	int n = 0;
	while (fgets(line, sizeof line, f))
		if (strstr(line, needle) &&
		    (strstr(line, "\"level\":\"warn\"") || strstr(line, "\"level\":\"error\"")))
			n++;
	fclose(f);
	return n;
}

static int same_buf(const struct buf *a, const struct buf *b)
{
	return a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

/* Waits until a new second has just begun, so what follows shares it. */
static void second_boundary(void)
{
	time_t t = time(NULL);
	while (time(NULL) == t) {
		struct timespec nap = {0, 2 * 1000000L};
		nanosleep(&nap, NULL);
	}
}

/* ---- the key --------------------------------------------------------------- */

#define BASE "\"prompt\":\"a red fox in the snow\",\"model\":\"gemini-3-pro-image\""

TEST(key_every_request_field_changes_it)
{
	static const char *const bodies[] = {
		"{" BASE ",\"image_size\":\"2K\",\"aspect_ratio\":\"1:1\"}",
		"{" BASE ",\"image_size\":\"1K\",\"aspect_ratio\":\"1:1\"}",
		"{" BASE ",\"image_size\":\"4K\",\"aspect_ratio\":\"1:1\"}",
		"{" BASE ",\"image_size\":\"2K\",\"aspect_ratio\":\"16:9\"}",
		"{" BASE ",\"image_size\":\"2K\",\"aspect_ratio\":\"9:16\"}",
		"{" BASE
		",\"image_size\":\"2K\",\"aspect_ratio\":\"1:1\",\"quality\":\"standard\"}",
		"{" BASE ",\"image_size\":\"2K\",\"aspect_ratio\":\"1:1\",\"quality\":\"hd\"}",
		"{" BASE ",\"image_size\":\"2K\",\"aspect_ratio\":\"1:1\",\"style\":\"vivid\"}",
		"{" BASE ",\"image_size\":\"2K\",\"aspect_ratio\":\"1:1\",\"style\":\"natural\"}",
		"{" BASE
		",\"image_size\":\"2K\",\"aspect_ratio\":\"1:1\",\"safety_threshold\":\"LOW\"}",
		"{" BASE
		",\"image_size\":\"2K\",\"aspect_ratio\":\"1:1\",\"safety_threshold\":\"HIGH\"}",
		"{" BASE ",\"image_size\":\"2K\",\"aspect_ratio\":\"1:1\",\"seed\":0}",
		"{" BASE ",\"image_size\":\"2K\",\"aspect_ratio\":\"1:1\",\"seed\":1}",
		"{" BASE ",\"image_size\":\"2K\",\"aspect_ratio\":\"1:1\",\"seed\":-1}",
		"{\"prompt\":\"a red fox in the snow.\",\"model\":\"gemini-3-pro-image\","
		"\"image_size\":\"2K\",\"aspect_ratio\":\"1:1\"}",
		"{\"prompt\":\"a red fox in the snow\",\"model\":\"local-preview\","
		"\"image_size\":\"2K\",\"aspect_ratio\":\"1:1\"}",
		"{\"prompt\":\"a red fox in the "
		"snow\",\"model\":\"gemini-3.1-flash-image-preview\","
		"\"image_size\":\"2K\",\"aspect_ratio\":\"1:1\"}",
	};
	enum { N = sizeof bodies / sizeof bodies[0] };
	char keys[N][65];
	for (int i = 0; i < N; i++)
		key_of(bodies[i], 0, keys[i]);
	for (int i = 0; i < N; i++)
		for (int j = i + 1; j < N; j++)
			if (strcmp(keys[i], keys[j]) == 0) {
				fprintf(stderr, "  FAIL same key for\n    %s\n    %s\n", bodies[i],
					bodies[j]);
				unit_cur_failed = 1;
			}
	/* The upstream model id alone (same family, same everything else). */
	char other[65];
	cfg.gemini_pro_image_model = (char *)"gemini-3-pro-image-other";
	key_of(bodies[0], 0, other);
	base_cfg();
	CHECK(strcmp(other, keys[0]) != 0);
	/* The slot. */
	char s1[65], s9[65];
	key_of(bodies[0], 1, s1);
	key_of(bodies[0], 9, s9);
	CHECK(strcmp(s1, keys[0]) != 0);
	CHECK(strcmp(s9, keys[0]) != 0);
	CHECK(strcmp(s1, s9) != 0);
}

/* Each key field on its own: the plan and request are changed one field at a
 * time, so no other field (the revised prompt, the size) carries the change. */
TEST(key_each_field_alone)
{
	struct item it;
	item_make(&it, "{" BASE ",\"image_size\":\"2K\",\"aspect_ratio\":\"1:1\"}", 0);
	if (!it.ok)
		return;
	struct cache_key k0, k;
	cache_key_build(&it.p, &it.r, NULL, 0, &k0, NULL);
#define DIFFERS(what)                                                                              \
	do {                                                                                       \
		cache_key_build(&it.p, &it.r, NULL, 0, &k, NULL);                                  \
		if (strcmp(k.hex, k0.hex) == 0) {                                                  \
			fprintf(stderr, "  FAIL %s:%d: %s does not change the key\n", __FILE__,    \
				__LINE__, what);                                                   \
			unit_cur_failed = 1;                                                       \
		}                                                                                  \
	} while (0)
	struct gen_plan saved = it.p;
	struct gen_req rsaved = it.r;

	it.p.model.provider = PROVIDER_LOCAL; /* provider */
	snprintf(it.p.model.family, sizeof it.p.model.family, "%.90s", it.p.model.upstream);
	DIFFERS("provider");
	it.p = saved;
	snprintf(it.p.model.upstream, sizeof it.p.model.upstream, "gemini-3-pro-image-preview2");
	DIFFERS("upstream model");
	it.p = saved;
	snprintf(it.p.image_size, sizeof it.p.image_size, "4K");
	DIFFERS("image_size");
	it.p = saved;
	snprintf(it.p.aspect_ratio, sizeof it.p.aspect_ratio, "3:2");
	DIFFERS("aspect_ratio");
	it.p = saved;
	it.p.safety = SAFETY_MEDIUM;
	DIFFERS("safety");
	it.p = saved;
	it.p.revised_prompt = (char *)"a red fox in the snow, at night";
	DIFFERS("revised prompt");
	it.p = saved;
	it.r.quality = (char *)"standard"; /* no clause: the revised prompt is unchanged */
	DIFFERS("quality");
	it.r = rsaved;
	it.r.style = (char *)"natural";
	DIFFERS("style");
	it.r = rsaved;

	/* seed: absent, 0, 1 and -1 are four keys */
	struct cache_key ks[4];
	cache_key_build(&it.p, &it.r, NULL, 0, &ks[0], NULL);
	it.r.has_seed = 1;
	long long seeds[] = {0, 1, -1};
	for (int i = 0; i < 3; i++) {
		it.r.seed = seeds[i];
		cache_key_build(&it.p, &it.r, NULL, 0, &ks[i + 1], NULL);
	}
	for (int i = 0; i < 4; i++)
		for (int j = i + 1; j < 4; j++)
			CHECK(strcmp(ks[i].hex, ks[j].hex) != 0);
	it.r = rsaved;
	CHECK_STR(ks[0].hex, k0.hex);

	/* input images: each hash and their order */
	static const char h1[] = "1111111111111111111111111111111111111111111111111111111111111111";
	static const char h2[] = "2222222222222222222222222222222222222222222222222222222222222222";
	static const char h3[] = "3333333333333333333333333333333333333333333333333333333333333333";
	const char *const none[] = {NULL};
	const char *const a[] = {h1, NULL};
	const char *const ab[] = {h1, h2, NULL};
	const char *const ba[] = {h2, h1, NULL};
	const char *const ac[] = {h1, h3, NULL};
	const char *const abc[] = {h1, h2, h3, NULL};
	const char *const *sets[] = {a, ab, ba, ac, abc};
	struct cache_key ki[6];
	cache_key_build(&it.p, &it.r, none, 0, &ki[5], NULL);
	CHECK_STR(ki[5].hex, k0.hex); /* an empty list is no list */
	for (int i = 0; i < 5; i++)
		cache_key_build(&it.p, &it.r, sets[i], 0, &ki[i], NULL);
	for (int i = 0; i < 6; i++)
		for (int j = i + 1; j < 6; j++)
			CHECK(strcmp(ki[i].hex, ki[j].hex) != 0);
	/* slot */
	cache_key_build(&it.p, &it.r, NULL, 1, &k, NULL);
	CHECK(strcmp(k.hex, k0.hex) != 0);
	CHECK_INT(k.slot, 1);
#undef DIFFERS
	it.p = saved;
	it.r = rsaved;
	item_free(&it);
}

TEST(key_ignores_what_does_not_change_the_image)
{
	char a[65], b[65];
	/* The order the JSON fields arrived in. */
	key_of("{\"prompt\":\"a fox\",\"model\":\"gemini-3-pro-image\",\"quality\":\"hd\","
	       "\"style\":\"vivid\",\"seed\":7,\"aspect_ratio\":\"16:9\",\"image_size\":\"4K\","
	       "\"safety_threshold\":\"LOW\"}",
	       0, a);
	key_of("{\"safety_threshold\":\"LOW\",\"image_size\":\"4K\",\"aspect_ratio\":\"16:9\","
	       "\"seed\":7,\"style\":\"vivid\",\"quality\":\"hd\",\"model\":\"gemini-3-pro-image\","
	       "\"prompt\":\"a fox\"}",
	       0, b);
	CHECK_STR(a, b);
	/* Spelling: case of choices, null = absent, the safety alias. */
	key_of("{\"prompt\":\"a fox\",\"model\":\"Gemini-3-Pro-Image\",\"quality\":\"HD\","
	       "\"style\":\"Vivid\",\"seed\":7,\"aspect_ratio\":\"16:9\",\"image_size\":\"4k\","
	       "\"safety_level\":\"low\"}",
	       0, b);
	CHECK_STR(a, b);
	key_of("{\"prompt\":\"a fox\",\"quality\":null}", 0, a);
	key_of("{\"prompt\":\"a fox\"}", 0, b);
	CHECK_STR(a, b);
	key_of("{\"prompt\":\"a fox\",\"style\":null,\"seed\":null,\"image_size\":null}", 0, a);
	CHECK_STR(a, b);
	/* Delivery and bookkeeping fields, and n (slot 0 of n=4 is the n=1 key). */
	key_of("{\"prompt\":\"a fox\",\"response_format\":\"url\",\"user\":\"u1\",\"cache\":false,"
	       "\"n\":4,\"unknown_extra\":[1,2]}",
	       0, a);
	CHECK_STR(a, b);
	/* A model suffix and the equivalent fields make the same upstream call. */
	key_of("{\"prompt\":\"a fox\",\"model\":\"gemini-3-pro-image-4k-16x9\"}", 0, a);
	key_of("{\"prompt\":\"a fox\",\"image_size\":\"4K\",\"aspect_ratio\":\"16:9\"}", 0, b);
	CHECK_STR(a, b);
	/* size that decides nothing once image_size and aspect_ratio are given */
	key_of("{\"prompt\":\"a fox\",\"image_size\":\"4K\",\"aspect_ratio\":\"16:9\","
	       "\"size\":\"1024x1024\"}",
	       0, a);
	CHECK_STR(a, b);
}

TEST(key_canonical_string_and_label)
{
	struct item it;
	item_make(&it,
		  "{\"prompt\":\"a fox\",\"model\":\"gemini-3-pro-image\",\"quality\":\"hd\","
		  "\"style\":\"vivid\",\"seed\":3}",
		  2);
	if (!it.ok)
		return;
	struct buf canon = BUF_INIT;
	struct cache_key k;
	cache_key_build(&it.p, &it.r, NULL, 2, &k, &canon);
	CHECK(strncmp(buf_cstr(&canon), "imagegw-cache-v1\n", 17) == 0);
	CHECK(strstr(buf_cstr(&canon), "\nslot=2\n") != NULL);
	CHECK(strstr(buf_cstr(&canon), "\nseed=3\n") != NULL);
	CHECK(strstr(buf_cstr(&canon), "upstream=gemini-3-pro-image-preview\n") != NULL);
	/* the key is the SHA-256 of that string, as 64 lower-case hex digits */
	unsigned char d[32];
	char hex[65];
	hash_sha256(canon.data, canon.len, d);
	hash_hex(d, sizeof d, hex);
	CHECK_STR(k.hex, hex);
	CHECK_STR(it.k.hex, hex);
	CHECK(is_hex64(k.hex));
	/* the prompt goes in only as a hash */
	CHECK(strstr(buf_cstr(&canon), "a fox") == NULL);
	/* label: img:{model}:{quality}:{style}:{prompt_hash16} */
	char want[192];
	snprintf(want, sizeof want, "img:gemini-3-pro-image:hd:vivid:%s", it.p.prompt_hash);
	CHECK_STR(k.label, want);
	CHECK_INT(strlen(it.p.prompt_hash), 16);
	buf_free(&canon);
	item_free(&it);

	/* Without quality and style the label keeps its five parts. */
	item_make(&it, "{\"prompt\":\"a fox\",\"model\":\"local-preview\"}", 0);
	if (!it.ok)
		return;
	int colons = 0;
	for (const char *c = it.k.label; *c; c++)
		colons += *c == ':';
	CHECK_INT(colons, 4);
	CHECK(strncmp(it.k.label, "img:local-preview:", 18) == 0);
	CHECK(strstr(it.k.label, "::") == NULL);
	const char *last = strrchr(it.k.label, ':');
	CHECK_STR(last + 1, it.p.prompt_hash);
	item_free(&it);
}

/* The key of slot 0 of a request with these uploads (SHA-256 hex strings,
 * "" for no mask), built the way produce_run builds it. */
static void edit_key(const char *json, const char *const *shas, int n, const char *mask,
		     char out[65])
{
	struct item it;
	struct gen_input in[GEN_MAX_INPUTS], m;
	struct cache_inputs ci;
	struct cache_key k;

	item_make(&it, json, 0);
	memset(in, 0, sizeof in);
	memset(&m, 0, sizeof m);
	for (int i = 0; i < n; i++)
		snprintf(in[i].sha256, sizeof in[i].sha256, "%s", shas[i]);
	snprintf(m.sha256, sizeof m.sha256, "%s", mask);
	/* The request's own inputs are not freed by item_free: lend them. */
	it.r.inputs = in;
	it.r.ninputs = n;
	it.r.mask = mask[0] ? &m : NULL;
	cache_key_inputs(&it.r, &ci);
	cache_key_build(&it.p, &it.r, ci.list, 0, &k, NULL);
	snprintf(out, 65, "%s", it.ok ? k.hex : "(error)");
	it.r.inputs = NULL;
	it.r.ninputs = 0;
	it.r.mask = NULL;
	item_free(&it);
}

TEST(key_covers_edit_inputs_and_mask)
{
	static const char *const body =
		"{\"prompt\":\"make it blue\",\"model\":\"gemini-3-pro-image\"}";
	static const char a[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	static const char b[] = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
	static const char c[] = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";
	const char *ab[] = {a, b}, *ba[] = {b, a}, *only_a[] = {a}, *only_b[] = {b},
		   *abc[] = {a, b, c};
	char gen[65], k_a[65], k_a2[65], k_b[65], k_ab[65], k_ba[65], k_abc[65];
	char k_a_mb[65], k_a_mb2[65], k_a_mc[65];

	key_of(body, 0, gen);
	edit_key(body, only_a, 1, "", k_a);
	edit_key(body, only_a, 1, "", k_a2);
	edit_key(body, only_b, 1, "", k_b);
	edit_key(body, ab, 2, "", k_ab);
	edit_key(body, ba, 2, "", k_ba);
	edit_key(body, abc, 3, "", k_abc);
	edit_key(body, only_a, 1, b, k_a_mb);
	edit_key(body, only_a, 1, b, k_a_mb2);
	edit_key(body, only_a, 1, c, k_a_mc);

	/* Stable for the same uploads. */
	CHECK_STR(k_a, k_a2);
	CHECK_STR(k_a_mb, k_a_mb2);
	/* Every change of the uploads changes it: another image, the order,
	 * one more image, a mask, another mask; and an edit never keys like the
	 * generation of the same prompt. */
	const char *all[] = {gen, k_a, k_b, k_ab, k_ba, k_abc, k_a_mb, k_a_mc};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		for (size_t j = i + 1; j < sizeof all / sizeof all[0]; j++)
			if (strcmp(all[i], all[j]) == 0) {
				fprintf(stderr, "  keys %zu and %zu are equal\n", i, j);
				unit_cur_failed = 1;
			}
	/* The same image as the mask or as a second input are different edits. */
	CHECK(strcmp(k_ab, k_a_mb) != 0);

	/* The canonical string names each hash, the mask as such. */
	struct item it;
	struct gen_input in[2], m;
	struct cache_inputs ci;
	struct cache_key k;
	struct buf canon = BUF_INIT;
	item_make(&it, body, 0);
	memset(in, 0, sizeof in);
	memset(&m, 0, sizeof m);
	snprintf(in[0].sha256, 65, "%s", a);
	snprintf(in[1].sha256, 65, "%s", b);
	snprintf(m.sha256, 65, "%s", c);
	it.r.inputs = in;
	it.r.ninputs = 2;
	it.r.mask = &m;
	cache_key_inputs(&it.r, &ci);
	cache_key_build(&it.p, &it.r, ci.list, 0, &k, &canon);
	char want[256];
	snprintf(want, sizeof want, "\ninputs=%s,%s,mask:%s\n", a, b, c);
	CHECK(strstr(buf_cstr(&canon), want) != NULL);
	it.r.inputs = NULL;
	it.r.ninputs = 0;
	it.r.mask = NULL;
	buf_free(&canon);
	item_free(&it);
	/* A generation's string has an empty list, so existing keys are unchanged. */
	item_make(&it, body, 0);
	cache_key_inputs(&it.r, &ci);
	CHECK(ci.list[0] == NULL);
	cache_key_build(&it.p, &it.r, ci.list, 0, &k, NULL);
	CHECK_STR(k.hex, gen);
	item_free(&it);
}

/* ---- blob paths ---------------------------------------------------------------- */

TEST(blob_path_accepts_only_hash_names)
{
	base_cfg();
	snprintf(cache_dir, sizeof cache_dir, "/srv/imagegw/cache");
	static const char hex[] =
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	char out[512];
	CHECK_INT(cache_blob_path(&cfg, hex, "png", out, sizeof out), 0);
	CHECK_STR(out, "/srv/imagegw/cache/01/23456789abcdef0123456789abcdef0123456789abcdef0123456"
		       "789abcdef.png");
	CHECK_INT(cache_blob_path(&cfg, hex, "jpg", out, sizeof out), 0);
	CHECK(strncmp(out, "/srv/imagegw/cache/01/", 22) == 0);
	CHECK_INT(cache_blob_path(&cfg, hex, "webp", out, sizeof out), 0);
	CHECK(strstr(out, ".webp") != NULL);

	char h[80];
	snprintf(h, sizeof h, "%s", hex);
	h[10] = 'A'; /* upper case */
	CHECK_INT(cache_blob_path(&cfg, h, "png", out, sizeof out), -1);
	snprintf(h, sizeof h, "%.63s", hex); /* 63 */
	CHECK_INT(cache_blob_path(&cfg, h, "png", out, sizeof out), -1);
	snprintf(h, sizeof h, "%s0", hex); /* 65 */
	CHECK_INT(cache_blob_path(&cfg, h, "png", out, sizeof out), -1);
	CHECK_INT(cache_blob_path(&cfg, "", "png", out, sizeof out), -1);
	snprintf(h, sizeof h, "../%.61s", hex);
	CHECK_INT(cache_blob_path(&cfg, h, "png", out, sizeof out), -1);
	snprintf(h, sizeof h, "%.30s/%.33s", hex, hex);
	CHECK_INT(cache_blob_path(&cfg, h, "png", out, sizeof out), -1);
	snprintf(h, sizeof h, "/%.63s", hex);
	CHECK_INT(cache_blob_path(&cfg, h, "png", out, sizeof out), -1);
	snprintf(h, sizeof h, "%.62s..", hex);
	CHECK_INT(cache_blob_path(&cfg, h, "png", out, sizeof out), -1);
	snprintf(h, sizeof h, "%.63sg", hex);
	CHECK_INT(cache_blob_path(&cfg, h, "png", out, sizeof out), -1);
	/* NUL tricks: a C string ends at the NUL, so 32 digits then NUL then 32
	 * more is a 32-digit name; and an extension is what precedes its NUL. */
	memcpy(h, hex, 65);
	h[32] = '\0';
	CHECK_INT(cache_blob_path(&cfg, h, "png", out, sizeof out), -1);
	CHECK_INT(cache_blob_path(&cfg, hex, "png\0/../../etc/passwd", out, sizeof out), 0);
	CHECK(strstr(out, "..") == NULL);
	static const char *const bad_ext[] = {"PNG",   "jpeg", "gif",	 "",	   "png/",
					      "./png", "png.", "../png", "png/..", "svg",
					      "Png",   " png", "webp ",	 "jp"};
	for (size_t i = 0; i < sizeof bad_ext / sizeof bad_ext[0]; i++)
		if (cache_blob_path(&cfg, hex, bad_ext[i], out, sizeof out) != -1) {
			fprintf(stderr, "  FAIL ext '%s' accepted\n", bad_ext[i]);
			unit_cur_failed = 1;
		}
	/* the result never leaves cache_dir and never overflows out */
	CHECK_INT(cache_blob_path(&cfg, hex, "png", out, 40), -1);
	CHECK_INT(cache_blob_path(&cfg, hex, "png", out, 0), -1);
	CHECK_STR(cache_ext_mime("png"), "image/png");
	CHECK_STR(cache_ext_mime("jpg"), "image/jpeg");
	CHECK_STR(cache_ext_mime("webp"), "image/webp");
	CHECK(cache_ext_mime("gif") == NULL);
	CHECK(cache_ext_mime("") == NULL);
}

/* ---- store and lookup ---------------------------------------------------------- */

TEST(store_then_lookup_hits_with_identical_bytes)
{
	if (fresh() != 0) {
		unit_cur_failed = 1;
		return;
	}
	struct item it;
	item_make(&it, "{\"prompt\":\"a fox\",\"image_size\":\"2K\"}", 0);
	struct buf img = BUF_INIT, got = BUF_INIT;
	png(&img, 1, 64, 48);
	struct cache_entry e, l;
	CHECK_INT(cache_lookup(&cfg, db, &it.k, &it.p, &got, &l), 0);
	CHECK_INT(cache_store(&cfg, db, &it.k, &it.p, img.data, img.len, &e), 0);
	unsigned char d[32];
	char hex[65], path[4096];
	hash_sha256(img.data, img.len, d);
	hash_hex(d, sizeof d, hex);
	CHECK_STR(e.blob, hex);
	CHECK_STR(e.ext, "png");
	CHECK_STR(e.mime, "image/png");
	CHECK_INT(e.bytes, img.len);
	CHECK_INT(e.width, 64);
	CHECK_INT(e.height, 48);
	CHECK_INT(e.expires - e.created, 3600);
	blob_file(hex, "png", path, sizeof path);
	CHECK(strncmp(path, cache_dir, strlen(cache_dir)) == 0);
	CHECK(file_equals(path, &img));
	struct stat sb;
	CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0640);

	buf_reset(&got);
	CHECK_INT(cache_lookup(&cfg, db, &it.k, &it.p, &got, &l), 1);
	CHECK(same_buf(&got, &img));
	CHECK_STR(l.blob, hex);
	CHECK_STR(l.mime, "image/png");
	CHECK_INT(l.bytes, img.len);
	CHECK_INT(l.width, 64);
	CHECK_INT(l.expires, e.expires);
	/* url mode: no bytes wanted */
	CHECK_INT(cache_lookup(&cfg, db, &it.k, &it.p, NULL, &l), 1);
	CHECK_STR(l.blob, hex);
	/* a lookup appends: bytes already in data stay in front */
	buf_reset(&got);
	buf_puts(&got, "xyz");
	CHECK_INT(cache_lookup(&cfg, db, &it.k, &it.p, &got, &l), 1);
	CHECK_INT(got.len, img.len + 3);
	CHECK(got.len == img.len + 3 && memcmp(got.data + 3, img.data, img.len) == 0);

	char sql[1024];
	snprintf(sql, sizeof sql, "SELECT hits FROM cache_entries WHERE key = '%s'", it.k.hex);
	CHECK_INT(sql_int(sql), 3);
	CHECK_INT(db_counter_get(db, "cache_hits"), 3);
	CHECK_INT(db_counter_get(db, "cache_misses"), 1);
	/* the row holds what SPEC 5 lists */
	snprintf(sql, sizeof sql,
		 "SELECT count(*) FROM cache_entries WHERE key = '%s' AND label = '%s' AND "
		 "model = 'gemini-3-pro-image' AND prompt_hash = '%s' AND mime = 'image/png' AND "
		 "width = 64 AND height = 48 AND json_extract(params, '$.slot') = 0",
		 it.k.hex, it.k.label, it.p.prompt_hash);
	CHECK_INT(sql_int(sql), 1);

	/* another slot of the same request is a miss */
	struct cache_key k1;
	cache_key_build(&it.p, &it.r, NULL, 1, &k1, NULL);
	CHECK_INT(cache_lookup(&cfg, db, &k1, &it.p, &got, &l), 0);
	CHECK_INT(db_counter_get(db, "cache_misses"), 2);

	/* no temp files left behind */
	char dir[4200];
	snprintf(dir, sizeof dir, "%s/%.2s", cache_dir, hex);
	DIR *dd = opendir(dir);
	int temps = 0;
	struct dirent *de;
	while (dd && (de = readdir(dd)))
		temps += strncmp(de->d_name, ".tmp-", 5) == 0;
	if (dd)
		closedir(dd);
	CHECK_INT(temps, 0);

	buf_free(&img);
	buf_free(&got);
	item_free(&it);
	done();
}

TEST(store_refuses_what_it_cannot_keep)
{
	if (fresh() != 0) {
		unit_cur_failed = 1;
		return;
	}
	struct item it;
	item_make(&it, "{\"prompt\":\"refusals\"}", 0);
	struct cache_entry e;
	static const char text[] = "this is not an image at all";
	CHECK_INT(cache_store(&cfg, db, &it.k, &it.p, text, sizeof text - 1, &e), -1);
	struct buf img = BUF_INIT;
	png(&img, 2, 16, 16);
	CHECK_INT(cache_store(&cfg, db, &it.k, &it.p, img.data, 0, &e), -1);
	CHECK_INT(cache_store(&cfg, NULL, &it.k, &it.p, img.data, img.len, &e), -1);
	cfg.cache_on = 0;
	CHECK_INT(cache_store(&cfg, db, &it.k, &it.p, img.data, img.len, &e), -1);
	CHECK_INT(cache_lookup(&cfg, db, &it.k, &it.p, NULL, &e), 0);
	cfg.cache_on = 1;
	CHECK_INT(sql_int("SELECT count(*) FROM cache_entries"), 0);
	CHECK_INT(sql_int("SELECT count(*) FROM cache_blobs"), 0);
	CHECK_INT(db_counter_get(db, "cache_misses"), 0); /* a disabled cache counts nothing */

	/* A cache_dir that cannot exist (a regular file's child, which fails
	 * for root too): -1, one warning, no row, nothing half-written. */
	char file[128];
	snprintf(file, sizeof file, "%s/plainfile", tmpdir);
	FILE *f = fopen(file, "w");
	if (f)
		fclose(f);
	char saved[512];
	snprintf(saved, sizeof saved, "%s", cache_dir);
	snprintf(cache_dir, sizeof cache_dir, "%s/cache", file);
	CHECK_INT(cache_store(&cfg, db, &it.k, &it.p, img.data, img.len, &e), -1);
	CHECK_INT(log_count("cache store skipped"), 1);
	CHECK_INT(sql_int("SELECT count(*) FROM cache_entries"), 0);
	CHECK_INT(cache_lookup(&cfg, db, &it.k, &it.p, NULL, &e), 0);
	snprintf(cache_dir, sizeof cache_dir, "%s", saved);
	/* and it works again once the directory is usable */
	CHECK_INT(cache_store(&cfg, db, &it.k, &it.p, img.data, img.len, &e), 0);
	CHECK_INT(cache_lookup(&cfg, db, &it.k, &it.p, NULL, &e), 1);
	buf_free(&img);
	item_free(&it);
	done();
}

TEST(ttl_expiry_is_a_miss_and_drops_the_row)
{
	if (fresh() != 0) {
		unit_cur_failed = 1;
		return;
	}
	struct item a, b, c;
	item_make(&a, "{\"prompt\":\"ttl a\"}", 0);
	item_make(&b, "{\"prompt\":\"ttl b\"}", 0);
	item_make(&c, "{\"prompt\":\"ttl c\"}", 0);
	struct buf ia = BUF_INIT, ib = BUF_INIT, ic = BUF_INIT;
	png(&ia, 10, 20, 20);
	png(&ib, 11, 20, 20);
	png(&ic, 12, 20, 20);
	struct cache_entry e;
	cfg.cache_ttl = 1;
	CHECK_INT(cache_store(&cfg, db, &a.k, &a.p, ia.data, ia.len, &e), 0);
	CHECK_INT(e.expires - e.created, 1);
	cfg.cache_ttl = 3600;
	char pa[4096], pb[4096];
	blob_file(e.blob, "png", pa, sizeof pa);
	/* expire it without sleeping */
	sql_exec("UPDATE cache_entries SET expires = %ld WHERE key = '%s'", (long)time(NULL) - 1,
		 a.k.hex);
	CHECK_INT(cache_lookup(&cfg, db, &a.k, &a.p, NULL, &e), 0);
	CHECK_INT(entries_with_key(a.k.hex), 0);
	CHECK_INT(sql_int("SELECT count(*) FROM cache_blobs"), 0);
	CHECK(!exists(pa));
	CHECK_INT(db_counter_get(db, "cache_misses"), 1);
	/* expires == now is already expired */
	CHECK_INT(cache_store(&cfg, db, &a.k, &a.p, ia.data, ia.len, &e), 0);
	sql_exec("UPDATE cache_entries SET expires = %ld WHERE key = '%s'", (long)time(NULL),
		 a.k.hex);
	CHECK_INT(cache_lookup(&cfg, db, &a.k, &a.p, NULL, &e), 0);

	/* Lazy purge: a store removes other expired entries and their files. */
	CHECK_INT(cache_store(&cfg, db, &b.k, &b.p, ib.data, ib.len, &e), 0);
	blob_file(e.blob, "png", pb, sizeof pb);
	sql_exec("UPDATE cache_entries SET expires = %ld WHERE key = '%s'", (long)time(NULL) - 5,
		 b.k.hex);
	CHECK_INT(cache_store(&cfg, db, &c.k, &c.p, ic.data, ic.len, &e), 0);
	CHECK_INT(entries_with_key(b.k.hex), 0);
	CHECK(!exists(pb));
	CHECK_INT(entries_with_key(c.k.hex), 1);

	/* a real one-second TTL, for once, with a real wait */
	cfg.cache_ttl = 1;
	CHECK_INT(cache_store(&cfg, db, &a.k, &a.p, ia.data, ia.len, &e), 0);
	CHECK_INT(cache_lookup(&cfg, db, &a.k, &a.p, NULL, &e), 1);
	cfg.cache_ttl = 3600;
	struct timespec nap = {1, 100 * 1000000L};
	nanosleep(&nap, NULL);
	nanosleep(&nap, NULL);
	CHECK_INT(cache_lookup(&cfg, db, &a.k, &a.p, NULL, &e), 0);
	CHECK_INT(entries_with_key(a.k.hex), 0);

	buf_free(&ia);
	buf_free(&ib);
	buf_free(&ic);
	item_free(&a);
	item_free(&b);
	item_free(&c);
	done();
}

/* ---- eviction ------------------------------------------------------------------- */

TEST(lru_eviction_to_ninety_percent)
{
	if (fresh() != 0) {
		unit_cur_failed = 1;
		return;
	}
	cfg.cache_max_size_mb = 1; /* 1048576 bytes; 90 % = 943718 */
	const size_t SZ = 300000;
	struct item it[6];
	struct buf img = BUF_INIT;
	struct cache_entry e;
	char path[6][4096];
	for (int i = 0; i < 6; i++) {
		char body[64];
		snprintf(body, sizeof body, "{\"prompt\":\"lru %d\"}", i);
		item_make(&it[i], body, 0);
	}
	long now = (long)time(NULL);
	for (int i = 0; i < 3; i++) {
		big(&img, SZ, (unsigned)i + 1);
		CHECK_INT(cache_store(&cfg, db, &it[i].k, &it[i].p, img.data, img.len, &e), 0);
		blob_file(e.blob, "png", path[i], sizeof path[i]);
		/* ages: 0 oldest, then 1, then 2 */
		sql_exec("UPDATE cache_entries SET last_access = %ld, created = %ld WHERE key = "
			 "'%s'",
			 now - 300 + 100 * i, now - 300 + 100 * i, it[i].k.hex);
	}
	CHECK_INT(sql_int("SELECT sum(bytes) FROM cache_blobs"), 3 * SZ);
	CHECK_INT(db_counter_get(db, "cache_evictions"), 0);
	/* touch the oldest: now 1 is the least recently used */
	CHECK_INT(cache_lookup(&cfg, db, &it[0].k, &it[0].p, NULL, &e), 1);
	big(&img, SZ, 4);
	CHECK_INT(cache_store(&cfg, db, &it[3].k, &it[3].p, img.data, img.len, &e), 0);
	blob_file(e.blob, "png", path[3], sizeof path[3]);
	CHECK_INT(entries_with_key(it[1].k.hex), 0);
	CHECK(!exists(path[1]));
	CHECK_INT(entries_with_key(it[0].k.hex), 1);
	CHECK_INT(entries_with_key(it[2].k.hex), 1);
	CHECK_INT(entries_with_key(it[3].k.hex), 1);
	CHECK(exists(path[0]) && exists(path[2]) && exists(path[3]));
	CHECK_INT(db_counter_get(db, "cache_evictions"), 1);
	CHECK(sql_int("SELECT sum(bytes) FROM cache_blobs") <= 1048576LL * 9 / 10);
	/* no more goes than needed: 3 remain */
	CHECK_INT(sql_int("SELECT count(*) FROM cache_entries"), 3);

	/* next: 2 is the oldest (0 was touched, 3 is new) */
	big(&img, SZ, 5);
	CHECK_INT(cache_store(&cfg, db, &it[4].k, &it[4].p, img.data, img.len, &e), 0);
	CHECK_INT(entries_with_key(it[2].k.hex), 0);
	CHECK(!exists(path[2]));
	CHECK_INT(entries_with_key(it[0].k.hex), 1);
	CHECK_INT(db_counter_get(db, "cache_evictions"), 2);

	/* two entries over the limit in one go: a 600 KB store evicts two */
	big(&img, 2 * SZ, 6);
	sql_exec("UPDATE cache_entries SET last_access = last_access - 1000 WHERE key != '%s'",
		 it[5].k.hex);
	CHECK_INT(cache_store(&cfg, db, &it[5].k, &it[5].p, img.data, img.len, &e), 0);
	CHECK(sql_int("SELECT sum(bytes) FROM cache_blobs") <= 1048576LL * 9 / 10);
	CHECK_INT(entries_with_key(it[5].k.hex), 1);
	CHECK_INT(db_counter_get(db, "cache_evictions"), 4);
	struct cache_stats s;
	CHECK_INT(cache_stats_get(&cfg, db, &s), 0);
	CHECK_INT(s.evictions, 4);
	CHECK_INT(s.max_bytes, 1048576);
	CHECK(s.bytes <= s.max_bytes * 9 / 10);

	buf_free(&img);
	for (int i = 0; i < 6; i++)
		item_free(&it[i]);
	done();
}

/* A store that crosses the cap must not evict the entry it just wrote: the
 * caller (url mode) hands out a link to that blob right after.  Entries
 * stored within the same second tie on last_access and created, and the tie
 * is broken by key order. */
TEST(store_never_evicts_its_own_entry)
{
	if (fresh() != 0) {
		unit_cur_failed = 1;
		return;
	}
	cfg.cache_max_size_mb = 1;
	struct item it;
	item_make(&it, "{\"prompt\":\"self eviction\"}", 0);
	struct buf img = BUF_INIT;
	struct cache_entry e;
	struct cache_key k[4];
	static const char digits[] = "fed0";
	for (int i = 0; i < 4; i++) {
		memset(k[i].hex, digits[i], 64);
		k[i].hex[64] = '\0';
		snprintf(k[i].label, sizeof k[i].label, "img:test:-:-:%d", i);
		k[i].slot = 0;
	}
	second_boundary();
	for (int i = 0; i < 4; i++) {
		big(&img, 300000, 100 + (unsigned)i);
		CHECK_INT(cache_store(&cfg, db, &k[i], &it.p, img.data, img.len, &e), 0);
	}
	/* k[3] ("000…") was stored last: it must have survived. */
	CHECK_INT(entries_with_key(k[3].hex), 1);
	CHECK_INT(cache_lookup(&cfg, db, &k[3], &it.p, NULL, &e), 1);
	CHECK_INT(sql_int("SELECT count(*) FROM cache_entries"), 3);

	/* One image larger than the whole cap: either refused (-1, so the
	 * caller falls back to a data: URI) or kept, never "stored" and gone. */
	struct cache_key kb;
	memset(kb.hex, '7', 64);
	kb.hex[64] = '\0';
	snprintf(kb.label, sizeof kb.label, "img:test:-:-:big");
	kb.slot = 0;
	big(&img, 1500000, 200);
	int rc = cache_store(&cfg, db, &kb, &it.p, img.data, img.len, &e);
	if (rc == 0) {
		char path[4096];
		blob_file(e.blob, "png", path, sizeof path);
		CHECK_INT(entries_with_key(kb.hex), 1);
		CHECK(exists(path));
	}
	buf_free(&img);
	item_free(&it);
	done();
}

/* ---- content addressing, corrupt and missing blobs -------------------------------- */

TEST(identical_bytes_are_one_blob)
{
	if (fresh() != 0) {
		unit_cur_failed = 1;
		return;
	}
	struct item a, b;
	item_make(&a, "{\"prompt\":\"shared a\"}", 0);
	item_make(&b, "{\"prompt\":\"shared b\",\"model\":\"local-preview\"}", 3);
	struct buf img = BUF_INIT, got = BUF_INIT;
	png(&img, 20, 40, 30);
	struct cache_entry ea, eb;
	CHECK_INT(cache_store(&cfg, db, &a.k, &a.p, img.data, img.len, &ea), 0);
	CHECK_INT(cache_store(&cfg, db, &b.k, &b.p, img.data, img.len, &eb), 0);
	CHECK_STR(ea.blob, eb.blob);
	CHECK_INT(sql_int("SELECT count(*) FROM cache_entries"), 2);
	CHECK_INT(sql_int("SELECT count(*) FROM cache_blobs"), 1);
	struct cache_stats s;
	cache_stats_get(&cfg, db, &s);
	CHECK_INT(s.entries, 2);
	CHECK_INT(s.blobs, 1);
	CHECK_INT(s.bytes, img.len); /* counted once */
	char dir[4200], path[4096];
	snprintf(dir, sizeof dir, "%s/%.2s", cache_dir, ea.blob);
	CHECK_INT(count_files(dir), 1);
	blob_file(ea.blob, "png", path, sizeof path);

	/* dropping one key keeps the file for the other */
	CHECK_INT(cache_invalidate(&cfg, db, NULL, a.p.prompt_hash), 1);
	CHECK(exists(path));
	CHECK_INT(sql_int("SELECT count(*) FROM cache_blobs"), 1);
	CHECK_INT(cache_lookup(&cfg, db, &b.k, &b.p, &got, &eb), 1);
	CHECK(same_buf(&got, &img));
	CHECK_INT(cache_lookup(&cfg, db, &a.k, &a.p, NULL, &ea), 0);
	/* the last one takes the file with it */
	CHECK_INT(cache_invalidate(&cfg, db, "local-preview", NULL), 1);
	CHECK(!exists(path));
	CHECK_INT(sql_int("SELECT count(*) FROM cache_blobs"), 0);

	/* replacing an entry's bytes drops the old blob */
	png(&img, 21, 40, 30);
	CHECK_INT(cache_store(&cfg, db, &a.k, &a.p, img.data, img.len, &ea), 0);
	blob_file(ea.blob, "png", path, sizeof path);
	png(&img, 22, 40, 30);
	CHECK_INT(cache_store(&cfg, db, &a.k, &a.p, img.data, img.len, &eb), 0);
	CHECK(strcmp(ea.blob, eb.blob) != 0);
	CHECK(!exists(path));
	CHECK_INT(sql_int("SELECT count(*) FROM cache_blobs"), 1);
	buf_reset(&got);
	CHECK_INT(cache_lookup(&cfg, db, &a.k, &a.p, &got, &ea), 1);
	CHECK(same_buf(&got, &img));

	/* the same bytes as a JPEG are a .jpg blob */
	static const unsigned char jpeg[] = {0xff, 0xd8, 0xff, 0xe0, 0, 16, 'J', 'F', 'I', 'F', 0};
	CHECK_INT(cache_store(&cfg, db, &b.k, &b.p, jpeg, sizeof jpeg, &eb), 0);
	CHECK_STR(eb.ext, "jpg");
	CHECK_STR(eb.mime, "image/jpeg");
	blob_file(eb.blob, "jpg", path, sizeof path);
	CHECK(exists(path));

	buf_free(&img);
	buf_free(&got);
	item_free(&a);
	item_free(&b);
	done();
}

TEST(corrupt_or_missing_blob_is_a_miss_and_removed)
{
	if (fresh() != 0) {
		unit_cur_failed = 1;
		return;
	}
	struct item a;
	item_make(&a, "{\"prompt\":\"corrupt me\"}", 0);
	struct buf img = BUF_INIT, got = BUF_INIT;
	png(&img, 30, 50, 50);
	struct cache_entry e;
	char path[4096];
	CHECK_INT(cache_store(&cfg, db, &a.k, &a.p, img.data, img.len, &e), 0);
	blob_file(e.blob, "png", path, sizeof path);

	/* flipped byte, same length: a b64 lookup (with data) catches it */
	flip_byte(path);
	CHECK_INT(cache_lookup(&cfg, db, &a.k, &a.p, &got, &e), 0);
	CHECK_INT(got.len, 0); /* nothing of the bad bytes handed out */
	CHECK_INT(entries_with_key(a.k.hex), 0);
	CHECK(!exists(path));
	CHECK_INT(sql_int("SELECT count(*) FROM cache_blobs"), 0);
	CHECK_INT(log_count("failed its check"), 1);
	CHECK_INT(db_counter_get(db, "cache_misses"), 1);
	CHECK_INT(db_counter_get(db, "cache_hits"), 0);

	/* stored again: clean */
	CHECK_INT(cache_store(&cfg, db, &a.k, &a.p, img.data, img.len, &e), 0);
	CHECK(file_equals(path, &img));
	buf_reset(&got);
	CHECK_INT(cache_lookup(&cfg, db, &a.k, &a.p, &got, &e), 1);
	CHECK(same_buf(&got, &img));

	/* deleted file: a miss either way, and the row goes */
	unlink(path);
	CHECK_INT(cache_lookup(&cfg, db, &a.k, &a.p, NULL, &e), 0);
	CHECK_INT(entries_with_key(a.k.hex), 0);
	CHECK_INT(cache_store(&cfg, db, &a.k, &a.p, img.data, img.len, &e), 0);
	unlink(path);
	CHECK_INT(cache_lookup(&cfg, db, &a.k, &a.p, &got, &e), 0);
	CHECK_INT(entries_with_key(a.k.hex), 0);
	CHECK_INT(sql_int("SELECT count(*) FROM cache_blobs"), 0);

	/* truncated or grown file: the length check alone catches it (url mode) */
	CHECK_INT(cache_store(&cfg, db, &a.k, &a.p, img.data, img.len, &e), 0);
	CHECK(truncate(path, (off_t)img.len - 1) == 0);
	CHECK_INT(cache_lookup(&cfg, db, &a.k, &a.p, NULL, &e), 0);
	CHECK(!exists(path));
	CHECK_INT(cache_store(&cfg, db, &a.k, &a.p, img.data, img.len, &e), 0);
	FILE *f = fopen(path, "ab");
	if (f) {
		fputc('x', f);
		fclose(f);
	}
	CHECK_INT(cache_lookup(&cfg, db, &a.k, &a.p, NULL, &e), 0);
	CHECK_INT(entries_with_key(a.k.hex), 0);

	/* a blob directory replaced by a file: a miss, not a crash */
	CHECK_INT(cache_store(&cfg, db, &a.k, &a.p, img.data, img.len, &e), 0);
	char dir[4200];
	snprintf(dir, sizeof dir, "%s/%.2s", cache_dir, e.blob);
	unlink(path);
	CHECK(rmdir(dir) == 0);
	f = fopen(dir, "w");
	if (f)
		fclose(f);
	CHECK_INT(cache_lookup(&cfg, db, &a.k, &a.p, &got, &e), 0);
	/* and storing there fails cleanly */
	CHECK_INT(cache_store(&cfg, db, &a.k, &a.p, img.data, img.len, &e), -1);
	unlink(dir);

	buf_free(&img);
	buf_free(&got);
	item_free(&a);
	done();
}

/* SPEC 5: "a blob that fails its length/hash check on read is a miss and is
 * removed."  When two keys share the blob, only the entry is dropped and the
 * corrupt file stays; storing the same bytes again then keeps the corrupt
 * file (cache_store only compares the size of an existing file), so every
 * later b64 request for either key is a miss and an upstream call until both
 * entries expire. */
TEST(corrupt_shared_blob_is_repaired)
{
	if (fresh() != 0) {
		unit_cur_failed = 1;
		return;
	}
	struct item a, b;
	item_make(&a, "{\"prompt\":\"shared corrupt a\"}", 0);
	item_make(&b, "{\"prompt\":\"shared corrupt b\"}", 0);
	struct buf img = BUF_INIT, got = BUF_INIT;
	png(&img, 40, 50, 50);
	struct cache_entry e;
	char path[4096];
	CHECK_INT(cache_store(&cfg, db, &a.k, &a.p, img.data, img.len, &e), 0);
	CHECK_INT(cache_store(&cfg, db, &b.k, &b.p, img.data, img.len, &e), 0);
	blob_file(e.blob, "png", path, sizeof path);
	flip_byte(path);
	CHECK_INT(cache_lookup(&cfg, db, &a.k, &a.p, &got, &e), 0);
	/* the corrupt file is removed (or at least not left under its name) */
	CHECK(!exists(path) || file_equals(path, &img));
	/* the producer regenerates and stores: the next lookup must hit */
	CHECK_INT(cache_store(&cfg, db, &a.k, &a.p, img.data, img.len, &e), 0);
	buf_reset(&got);
	CHECK_INT(cache_lookup(&cfg, db, &a.k, &a.p, &got, &e), 1);
	CHECK(same_buf(&got, &img));
	CHECK(file_equals(path, &img));
	buf_free(&img);
	buf_free(&got);
	item_free(&a);
	item_free(&b);
	done();
}

/* ---- purge, clear, invalidate ------------------------------------------------------ */

/* Stores a distinct image for body (model id optionally overridden, as a
 * model the resolver would refuse can only arrive from an older version). */
static void put(struct item *it, const char *body, const char *model_id, int seed, char *path,
		size_t len)
{
	item_make(it, body, 0);
	if (!it->ok)
		return;
	if (model_id)
		snprintf(it->p.model.id, sizeof it->p.model.id, "%s", model_id);
	struct buf img = BUF_INIT;
	png(&img, seed, 24, 24);
	struct cache_entry e;
	CHECK_INT(cache_store(&cfg, db, &it->k, &it->p, img.data, img.len, &e), 0);
	blob_file(e.blob, "png", path, len);
	buf_free(&img);
}

TEST(purge_clear_invalidate)
{
	if (fresh() != 0) {
		unit_cur_failed = 1;
		return;
	}
	struct item it[6];
	char path[6][4096];
	put(&it[0], "{\"prompt\":\"inv 0\",\"model\":\"gemini-3-pro-image-4k-16x9\"}", NULL, 50,
	    path[0], sizeof path[0]);
	put(&it[1], "{\"prompt\":\"inv 1\",\"model\":\"gemini-3-pro-image\"}", NULL, 51, path[1],
	    sizeof path[1]);
	put(&it[2], "{\"prompt\":\"inv 2\",\"model\":\"gemini-3-pro-image\"}",
	    "gemini-3-pro-imagex", 52, path[2], sizeof path[2]);
	put(&it[3], "{\"prompt\":\"inv 3\",\"model\":\"local-preview\"}", NULL, 53, path[3],
	    sizeof path[3]);
	put(&it[4], "{\"prompt\":\"inv 4\",\"model\":\"local-preview-16x9\"}", NULL, 54, path[4],
	    sizeof path[4]);
	put(&it[5], "{\"prompt\":\"inv 3\",\"model\":\"gemini-3-pro-image-1k\"}", NULL, 55, path[5],
	    sizeof path[5]);
	CHECK_INT(sql_int("SELECT count(*) FROM cache_entries"), 6);
	CHECK_STR(it[0].p.model.id, "gemini-3-pro-image-4k-16x9");

	/* refused: nothing to match on */
	CHECK_INT(cache_invalidate(&cfg, db, NULL, NULL), -1);
	CHECK_INT(cache_invalidate(&cfg, db, "", ""), -1);
	/* literal comparison: no LIKE wildcards, no partial words */
	CHECK_INT(cache_invalidate(&cfg, db, "gemini%", NULL), 0);
	CHECK_INT(cache_invalidate(&cfg, db, "gemini-3-pro-imag_", NULL), 0);
	CHECK_INT(cache_invalidate(&cfg, db, "gemini-3-pro-image-", NULL), 0);
	CHECK_INT(cache_invalidate(&cfg, db, "' OR 1=1 --", NULL), 0);
	CHECK_INT(sql_int("SELECT count(*) FROM cache_entries"), 6);

	/* by family: itself and its suffixed variants, not gemini-3-pro-imagex */
	CHECK_INT(cache_invalidate(&cfg, db, "gemini-3-pro-image", NULL), 3);
	CHECK_INT(entries_with_key(it[0].k.hex), 0);
	CHECK_INT(entries_with_key(it[1].k.hex), 0);
	CHECK_INT(entries_with_key(it[5].k.hex), 0);
	CHECK_INT(entries_with_key(it[2].k.hex), 1);
	CHECK(!exists(path[0]) && !exists(path[1]) && !exists(path[5]));
	CHECK(exists(path[2]));
	/* exact model */
	CHECK_INT(cache_invalidate(&cfg, db, "gemini-3-pro-imagex", NULL), 1);
	CHECK(!exists(path[2]));
	/* by prompt hash, and by both */
	CHECK_INT(cache_invalidate(&cfg, db, "local-preview", "0000000000000000"), 0);
	CHECK_INT(cache_invalidate(&cfg, db, "local-preview-16x9", it[3].p.prompt_hash), 0);
	CHECK_INT(cache_invalidate(&cfg, db, "local-preview", it[3].p.prompt_hash), 1);
	CHECK(!exists(path[3]));
	CHECK_INT(cache_invalidate(&cfg, db, "", it[4].p.prompt_hash), 1);
	CHECK(!exists(path[4]));
	CHECK_INT(sql_int("SELECT count(*) FROM cache_entries"), 0);
	CHECK_INT(sql_int("SELECT count(*) FROM cache_blobs"), 0);
	for (int i = 0; i < 6; i++)
		item_free(&it[i]);

	/* purge: only the expired, with their files */
	put(&it[0], "{\"prompt\":\"purge 0\"}", NULL, 60, path[0], sizeof path[0]);
	put(&it[1], "{\"prompt\":\"purge 1\"}", NULL, 61, path[1], sizeof path[1]);
	put(&it[2], "{\"prompt\":\"purge 2\"}", NULL, 62, path[2], sizeof path[2]);
	sql_exec("UPDATE cache_entries SET expires = %ld WHERE key IN ('%s', '%s')",
		 (long)time(NULL) - 10, it[0].k.hex, it[1].k.hex);
	CHECK_INT(cache_purge(&cfg, db), 2);
	CHECK(!exists(path[0]) && !exists(path[1]) && exists(path[2]));
	CHECK_INT(cache_purge(&cfg, db), 0);
	CHECK_INT(sql_int("SELECT count(*) FROM cache_entries"), 1);

	/* clear: everything */
	put(&it[3], "{\"prompt\":\"purge 3\"}", NULL, 63, path[3], sizeof path[3]);
	CHECK_INT(cache_clear(&cfg, db), 2);
	CHECK(!exists(path[2]) && !exists(path[3]));
	CHECK_INT(sql_int("SELECT count(*) FROM cache_blobs"), 0);
	CHECK_INT(cache_clear(&cfg, db), 0);
	for (int i = 0; i < 4; i++)
		item_free(&it[i]);
	done();
}

/* Invalidating one model must not take another model's entries with it:
 * "gemini-2.5-flash-image" and "gemini-2.5-flash-image-preview" are two
 * models of the resolver's pass-through list (two upstream ids), but the
 * "model || '-'" prefix rule treats the second as a variant of the first. */
TEST(invalidate_does_not_cross_model_ids)
{
	if (fresh() != 0) {
		unit_cur_failed = 1;
		return;
	}
	struct item a, b;
	char pa[4096], pb[4096];
	put(&a, "{\"prompt\":\"flash a\",\"model\":\"gemini-2.5-flash-image\"}", NULL, 90, pa,
	    sizeof pa);
	put(&b, "{\"prompt\":\"flash b\",\"model\":\"gemini-2.5-flash-image-preview\"}", NULL, 91,
	    pb, sizeof pb);
	CHECK(strcmp(a.p.model.upstream, b.p.model.upstream) != 0);
	CHECK_INT(cache_invalidate(&cfg, db, "gemini-2.5-flash-image", NULL), 1);
	CHECK_INT(entries_with_key(b.k.hex), 1);
	CHECK(exists(pb));
	item_free(&a);
	item_free(&b);
	done();
}

/* What a responder killed in the middle of a store leaves behind: a temp
 * file (killed before the rename) or a blob file no row names (killed after
 * the rename, before the commit).  cache_purge (cron) removes both once they
 * are over an hour old; younger ones may belong to a store in progress. */
TEST(purge_removes_what_a_crash_leaves)
{
	if (fresh() != 0) {
		unit_cur_failed = 1;
		return;
	}
	char dir[4200], old_tmp[4300], new_tmp[4300], orphan[4300], young_orphan[4300];
	snprintf(dir, sizeof dir, "%s/ab", cache_dir);
	mkdir(dir, 0750);
	snprintf(old_tmp, sizeof old_tmp, "%s/.tmp-AbCdEf", dir);
	snprintf(new_tmp, sizeof new_tmp, "%s/.tmp-GhIjKl", dir);
	static const char h62[] =
		"cdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab";
	snprintf(orphan, sizeof orphan, "%s/%.62s.png", dir, h62);
	snprintf(young_orphan, sizeof young_orphan, "%s/%.62s.png", dir, h62 + 2);
	const char *files[] = {old_tmp, new_tmp, orphan, young_orphan};
	for (int i = 0; i < 4; i++) {
		FILE *f = fopen(files[i], "w");
		if (f) {
			fputs("\x89PNG\r\n\x1a\npartial", f);
			fclose(f);
		}
	}
	struct timeval tv[2] = {{time(NULL) - 7200, 0}, {time(NULL) - 7200, 0}};
	CHECK(utimes(old_tmp, tv) == 0);
	CHECK(utimes(orphan, tv) == 0);
	/* a live entry in the same directory stays */
	struct item a;
	item_make(&a, "{\"prompt\":\"survivor\"}", 0);
	struct buf img = BUF_INIT;
	png(&img, 70, 10, 10);
	struct cache_entry e;
	char live[4096];
	CHECK_INT(cache_store(&cfg, db, &a.k, &a.p, img.data, img.len, &e), 0);
	blob_file(e.blob, "png", live, sizeof live);
	CHECK(utimes(live, tv) == 0);

	CHECK_INT(cache_purge(&cfg, db), 0);
	CHECK(!exists(old_tmp)); /* stale temp: gone */
	CHECK(exists(new_tmp));	 /* fresh temp: may be a store in progress */
	CHECK(exists(young_orphan));
	CHECK(exists(live));
	CHECK_INT(cache_lookup(&cfg, db, &a.k, &a.p, NULL, &e), 1);
	/* SPEC 5 "Blobs no row references are deleted": an hour-old blob file
	 * that no cache_blobs row names is never counted against the cap and
	 * never removed by anything else. */
	CHECK(!exists(orphan));
	buf_free(&img);
	item_free(&a);
	done();
}

/* ---- stats and cost --------------------------------------------------------------- */

TEST(price_table_lookup)
{
	base_cfg();
	CHECK(price_of(&cfg, "gemini-3-pro-image", "1K") == 0.134);
	CHECK(price_of(&cfg, "gemini-3-pro-image", "2K") == 0.134);
	CHECK(price_of(&cfg, "gemini-3-pro-image", "4K") == 0.24);
	CHECK(price_of(&cfg, "gemini-2.5-flash-image", "1K") == 0.039);
	CHECK(price_of(&cfg, "gemini-2.5-flash-image", "2K") == 0);
	CHECK(price_of(&cfg, "gemini-3.1-flash-image-preview", "4K") == 0.151);
	CHECK(price_of(&cfg, "gemini-3-pro", "2K") == 0); /* no prefix matches */
	CHECK(price_of(&cfg, "gemini-3-pro-image-x", "2K") == 0);
	CHECK(price_of(&cfg, "local-preview", "2K") == 0);
	cfg.price_table = (char *)"a:1K=1,2K=2.5;b:4K=4";
	CHECK(price_of(&cfg, "a", "2K") == 2.5);
	CHECK(price_of(&cfg, "a", "4K") == 0);
	CHECK(price_of(&cfg, "b", "4K") == 4);
	CHECK(price_of(&cfg, "b", "1K") == 0);
	cfg.price_table = (char *)"";
	CHECK(price_of(&cfg, "gemini-3-pro-image", "2K") == 0);
	cfg.price_table = (char *)"gemini-3-pro-image:";
	CHECK(price_of(&cfg, "gemini-3-pro-image", "2K") == 0);
	base_cfg();
}

static int near(double a, double b)
{
	return a - b < 1e-9 && b - a < 1e-9;
}

TEST(stats_and_cost_saved)
{
	if (fresh() != 0) {
		unit_cur_failed = 1;
		return;
	}
	struct item pro2, pro4, loc, flash;
	item_make(&pro2, "{\"prompt\":\"cost 2k\",\"image_size\":\"2K\"}", 0);
	item_make(&pro4, "{\"prompt\":\"cost 4k\",\"model\":\"gemini-3-pro-image-4k\"}", 0);
	item_make(&loc, "{\"prompt\":\"cost local\",\"model\":\"local-preview\"}", 0);
	item_make(&flash, "{\"prompt\":\"cost flash\",\"model\":\"gemini-2.5-flash-image\"}", 0);
	struct buf img = BUF_INIT;
	struct cache_entry e;
	struct item *all[] = {&pro2, &pro4, &loc, &flash};
	long long total = 0;
	for (int i = 0; i < 4; i++) {
		png(&img, 80 + i, 30 + i, 30);
		CHECK_INT(cache_store(&cfg, db, &all[i]->k, &all[i]->p, img.data, img.len, &e), 0);
		total += (long long)img.len;
	}
	CHECK_INT(cache_lookup(&cfg, db, &pro2.k, &pro2.p, NULL, &e), 1);
	CHECK(near(db_counter_get(db, "cache_cost_saved_usd"), 0.134));
	CHECK_INT(cache_lookup(&cfg, db, &pro4.k, &pro4.p, NULL, &e), 1);
	CHECK(near(db_counter_get(db, "cache_cost_saved_usd"), 0.374));
	CHECK_INT(cache_lookup(&cfg, db, &loc.k, &loc.p, NULL, &e), 1);
	CHECK(near(db_counter_get(db, "cache_cost_saved_usd"), 0.374)); /* local is free */
	CHECK_INT(cache_lookup(&cfg, db, &flash.k, &flash.p, NULL, &e), 1);
	CHECK(near(db_counter_get(db, "cache_cost_saved_usd"), 0.413));
	/* the configured table, not a built-in one */
	cfg.price_table = (char *)"gemini-3-pro-image:2K=1.5";
	CHECK_INT(cache_lookup(&cfg, db, &pro2.k, &pro2.p, NULL, &e), 1);
	CHECK_INT(cache_lookup(&cfg, db, &pro4.k, &pro4.p, NULL, &e), 1);
	CHECK(near(db_counter_get(db, "cache_cost_saved_usd"), 1.913));
	cfg.price_table = (char *)PRICES;
	/* misses save nothing */
	struct item miss;
	item_make(&miss, "{\"prompt\":\"never stored\"}", 0);
	CHECK_INT(cache_lookup(&cfg, db, &miss.k, &miss.p, NULL, &e), 0);
	CHECK_INT(cache_lookup(&cfg, db, &miss.k, &miss.p, NULL, &e), 0);

	struct cache_stats s;
	CHECK_INT(cache_stats_get(&cfg, db, &s), 0);
	struct buf js = BUF_INIT;
	cache_stats_json(&s, &js);
	struct json *root = json_parse(js.data, js.len, NULL);
	CHECK(root != NULL);
	if (root) {
		static const char *const keys[] = {"entries",	"blobs",     "bytes",
						   "max_bytes", "hits",	     "misses",
						   "hit_ratio", "evictions", "cost_saved_usd"};
		for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
			const struct json *v = json_get(root, keys[i]);
			if (!v || v->type != JSON_NUMBER) {
				fprintf(stderr, "  FAIL stats has no number '%s': %s\n", keys[i],
					js.data);
				unit_cur_failed = 1;
			}
		}
		const struct json *v;
#define NUM(k) ((v = json_get(root, k)) ? v->number : -1)
		CHECK(NUM("entries") == 4);
		CHECK(NUM("entries") == (double)sql_int("SELECT count(*) FROM cache_entries"));
		CHECK(NUM("blobs") == 4);
		CHECK(NUM("bytes") == (double)total);
		CHECK(NUM("bytes") == (double)sql_int("SELECT sum(bytes) FROM cache_blobs"));
		CHECK(NUM("max_bytes") == 1000.0 * 1048576);
		CHECK(NUM("hits") == 6);
		CHECK(NUM("misses") == 2);
		CHECK(near(NUM("hit_ratio"), 0.75));
		CHECK(NUM("evictions") == 0);
		CHECK(near(NUM("cost_saved_usd"), 1.913));
		CHECK(NUM("hits") ==
		      (double)sql_int(
			      "SELECT sum(hits) FROM cache_entries")); /* per-row hits add up */
#undef NUM
		json_free(root);
	}
	/* empty cache: ratio 0, not NaN */
	cache_clear(&cfg, db);
	sql_exec("DELETE FROM counters");
	cache_stats_get(&cfg, db, &s);
	buf_reset(&js);
	cache_stats_json(&s, &js);
	root = json_parse(js.data, js.len, NULL);
	CHECK(root != NULL);
	if (root) {
		const struct json *v = json_get(root, "hit_ratio");
		CHECK(v && v->number == 0);
		json_free(root);
	}
	CHECK_INT(cache_stats_get(&cfg, NULL, &s), -1);
	buf_free(&js);
	buf_free(&img);
	item_free(&pro2);
	item_free(&pro4);
	item_free(&loc);
	item_free(&flash);
	item_free(&miss);
	done();
}

/* ---- in-flight lock ---------------------------------------------------------------- */

TEST(inflight_lock_waits_for_another_process)
{
	if (fresh() != 0) {
		unit_cur_failed = 1;
		return;
	}
	struct item it;
	item_make(&it, "{\"prompt\":\"in flight\"}", 0);
	int waited = -1;
	long tok = cache_lock(&cfg, &it.k, 1000, &waited);
	CHECK(tok >= 0);
	CHECK_INT(waited, 0);
	cache_unlock(tok);
	int pipefd[2];
	if (pipe(pipefd) != 0) {
		unit_cur_failed = 1;
		return;
	}
	pid_t pid = fork();
	if (pid == 0) {
		int w;
		close(pipefd[0]);
		long t = cache_lock(&cfg, &it.k, 1000, &w);
		char c = t >= 0 ? 'y' : 'n';
		if (write(pipefd[1], &c, 1) != 1)
			_exit(2);
		struct timespec nap = {0, 400 * 1000000L};
		nanosleep(&nap, NULL);
		_exit(0); /* the lock dies with the process */
	}
	close(pipefd[1]);
	char c = 0;
	CHECK(read(pipefd[0], &c, 1) == 1 && c == 'y');
	close(pipefd[0]);
	/* held elsewhere: a short wait gives up (go ahead unlocked) */
	tok = cache_lock(&cfg, &it.k, 100, &waited);
	CHECK_INT(tok, -1);
	CHECK_INT(waited, 1);
	/* a longer one gets it when the holder dies */
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	tok = cache_lock(&cfg, &it.k, 5000, &waited);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	CHECK(tok >= 0);
	CHECK_INT(waited, 1);
	CHECK(t1.tv_sec - t0.tv_sec < 3);
	cache_unlock(tok);
	int status;
	waitpid(pid, &status, 0);
	/* another key is not held up */
	struct cache_key other = it.k;
	other.hex[0] = other.hex[0] == 'f' ? '0' : 'f';
	tok = cache_lock(&cfg, &other, 0, &waited);
	CHECK(tok >= 0);
	CHECK_INT(waited, 0);
	cache_unlock(tok);
	/* a disabled cache takes no lock */
	cfg.cache_on = 0;
	CHECK_INT(cache_lock(&cfg, &it.k, 100, &waited), -1);
	cfg.cache_on = 1;
	item_free(&it);
	done();
}

int main(void)
{
	base_cfg();
	RUN(key_every_request_field_changes_it);
	RUN(key_each_field_alone);
	RUN(key_ignores_what_does_not_change_the_image);
	RUN(key_canonical_string_and_label);
	RUN(key_covers_edit_inputs_and_mask);
	RUN(blob_path_accepts_only_hash_names);
	RUN(store_then_lookup_hits_with_identical_bytes);
	RUN(store_refuses_what_it_cannot_keep);
	RUN(ttl_expiry_is_a_miss_and_drops_the_row);
	RUN(lru_eviction_to_ninety_percent);
	RUN(store_never_evicts_its_own_entry);
	RUN(identical_bytes_are_one_blob);
	RUN(corrupt_or_missing_blob_is_a_miss_and_removed);
	RUN(corrupt_shared_blob_is_repaired);
	RUN(purge_clear_invalidate);
	RUN(invalidate_does_not_cross_model_ids);
	RUN(purge_removes_what_a_crash_leaves);
	RUN(price_table_lookup);
	RUN(stats_and_cost_saved);
	RUN(inflight_lock_waits_for_another_process);
	UNIT_DONE();
}
