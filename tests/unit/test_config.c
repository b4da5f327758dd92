/* Unit tests for core/config.c (SPEC 9): defaults, the config file (comments,
 * quotes, unknown keys, errors naming file:line, ranges, enums), environment
 * overrides and aliases, derived fields, masked printing, and the generated
 * key table that docs/configuration.md carries. */
#include "../../core/config.c"

#include <stdlib.h>

#include "unit.h"

static struct config cfg;
static struct buf errs = BUF_INIT, warns = BUF_INIT;
static char tmp_path[64];

/* Every environment name config.c reads, so the caller's environment (which
 * may well hold a real GEMINI_API_KEY) never leaks into a test. */
static void clear_env(void)
{
	unsetenv("IMAGEGW_CONFIG");
	for (size_t i = 0; i < NKEYS; i++) {
		char name[96];
		size_t j;

		snprintf(name, sizeof name, "IMAGEGW_");
		for (j = 0; config_keys[i].name[j] && 8 + j + 1 < sizeof name; j++)
			name[8 + j] = (char)toupper((unsigned char)config_keys[i].name[j]);
		name[8 + j] = '\0';
		unsetenv(name);
		if (config_keys[i].alias_env)
			unsetenv(config_keys[i].alias_env);
	}
}

/* Writes text to a new temp file; returns its path (load removes it). */
static const char *write_conf(const char *text)
{
	char *p = tmp_path;
	int fd;
	FILE *f;

	snprintf(p, 64, "/tmp/imagegw-test-conf-XXXXXX");
	fd = mkstemp(p);
	if (fd < 0) {
		perror("mkstemp");
		abort();
	}
	f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
	return p;
}

/* Loads with the given file text (NULL: no IMAGEGW_CONFIG). */
static int load(const char *text)
{
	int rc;

	buf_reset(&errs);
	buf_reset(&warns);
	if (text)
		setenv("IMAGEGW_CONFIG", write_conf(text), 1);
	else
		unsetenv("IMAGEGW_CONFIG");
	rc = config_load(&cfg, &errs, &warns);
	if (text)
		unlink(tmp_path); /* its name stays in IMAGEGW_CONFIG for the checks */
	return rc;
}

static size_t key_index(const char *name)
{
	const struct config_key *k = find_key(name);

	return k ? (size_t)(k - config_keys) : NKEYS;
}

static int source_of(const char *name)
{
	size_t i = key_index(name);

	return i < NKEYS ? cfg.source[i] : -1;
}

TEST(defaults)
{
	clear_env();
	CHECK_INT(load(NULL), 0);
	CHECK_STR(buf_cstr(&errs), "");
	CHECK_STR(cfg.data_dir, "./var");
	CHECK_STR(cfg.cache_dir, "./var/cache");
	CHECK_STR(cfg.log_file, "");
	CHECK_STR(cfg.log_level, "info");
	CHECK_STR(cfg.log_format, "json");
	CHECK_STR(cfg.base_path, "");
	CHECK_STR(cfg.default_model, "");
	CHECK_INT(cfg.max_prompt_chars, 8000);
	CHECK_INT(cfg.max_n, 10);
	CHECK_INT(cfg.max_body_bytes, 1048576);
	CHECK_INT(cfg.max_upload_mb, 20);
	CHECK_STR(cfg.safety_threshold, "OFF");
	CHECK_STR(cfg.default_image_size, "2K");
	CHECK_STR(cfg.gemini_base_url, "https://generativelanguage.googleapis.com");
	CHECK_STR(cfg.gemini_api_key, "");
	CHECK_STR(cfg.gemini_api_keys, "");
	CHECK_STR(cfg.gemini_pro_image_model, "gemini-3-pro-image-preview");
	CHECK_INT(cfg.upstream_timeout_seconds, 180);
	CHECK_INT(cfg.upstream_connect_timeout_seconds, 10);
	CHECK_INT(cfg.retry_max, 2);
	CHECK_INT(cfg.retry_backoff_ms, 500);
	CHECK_INT(cfg.gemini_configured, 0);
	CHECK(cfg.gemini_key == NULL);
	for (size_t i = 0; i < NKEYS; i++)
		CHECK_INT(cfg.source[i], SRC_DEFAULT);
	config_free(&cfg);
	/* Every default passes its own validation. */
	for (size_t i = 0; i < NKEYS; i++) {
		struct config c;
		struct buf e = BUF_INIT;

		memset(&c, 0, sizeof c);
		CHECK_INT(set_value(&c, &config_keys[i], config_keys[i].def, "default", &e), 0);
		if (e.len)
			fprintf(stderr, "  default of %s: %s", config_keys[i].name, e.data);
		buf_free(&e);
		config_free(&c);
	}
}

TEST(file)
{
	clear_env();
	CHECK_INT(load("# imagegw.conf\n"
		       "   # an indented comment\n"
		       "\n"
		       "max_n = 4\n"
		       "log_level = \"DEBUG\"\n"
		       "default_model = 'local-preview-16x9'\n"
		       "data_dir=/srv/imagegw   \n"
		       "\tgemini_base_url =  http://127.0.0.1:9999  \n"
		       "safety_threshold = medium\n"
		       "no_such_key = 1\n"
		       "default_image_size = 4k\n"
		       "log_format = Text\n"
		       "base_path = /imagegw/\n"
		       "max_body_bytes = 2048\n"
		       "retry_max = 0\n"),
		  0);
	CHECK_STR(buf_cstr(&errs), "");
	CHECK_INT(cfg.max_n, 4);
	CHECK_STR(cfg.log_level, "debug");
	CHECK_STR(cfg.default_model, "local-preview-16x9");
	CHECK_STR(cfg.data_dir, "/srv/imagegw");
	CHECK_STR(cfg.cache_dir, "/srv/imagegw/cache");
	CHECK_STR(cfg.gemini_base_url, "http://127.0.0.1:9999");
	CHECK_STR(cfg.safety_threshold, "MEDIUM");
	CHECK_STR(cfg.default_image_size, "4K");
	CHECK_STR(cfg.log_format, "text");
	CHECK_STR(cfg.base_path, "/imagegw");
	CHECK_INT(cfg.max_body_bytes, 2048);
	CHECK_INT(cfg.retry_max, 0);
	CHECK(cfg.config_path && strcmp(cfg.config_path, getenv("IMAGEGW_CONFIG")) == 0);
	CHECK_INT(source_of("max_n"), SRC_FILE);
	CHECK_INT(source_of("retry_backoff_ms"), SRC_DEFAULT);
	/* The unknown key: a warning naming file:line and the key, not an error. */
	char where[128];
	snprintf(where, sizeof where, "%s:10", getenv("IMAGEGW_CONFIG"));
	CHECK(strstr(buf_cstr(&warns), where) != NULL);
	CHECK(strstr(buf_cstr(&warns), "no_such_key") != NULL);
	config_free(&cfg);

	/* CRLF line ends (a file edited on Windows) and a file without a final
	 * newline. */
	CHECK_INT(load("max_n = 3\r\nlog_level = warn\r\nretry_max = 5"), 0);
	CHECK_INT(cfg.max_n, 3);
	CHECK_STR(cfg.log_level, "warn");
	CHECK_INT(cfg.retry_max, 5);
	config_free(&cfg);

	/* Later lines win; an empty quoted value is empty. */
	CHECK_INT(load("max_n = 3\nmax_n = 6\ndefault_model = \"\"\n"), 0);
	CHECK_INT(cfg.max_n, 6);
	CHECK_STR(cfg.default_model, "");
	config_free(&cfg);
}

/* Loads text, expecting failure with errs naming `line` of the file and
 * holding every one of the needles. */
static int file_error(const char *text, int line, const char *needle)
{
	int rc = load(text);
	char where[128];
	int ok;

	snprintf(where, sizeof where, "%s:%d:", getenv("IMAGEGW_CONFIG"), line);
	ok = rc == -1 && strstr(buf_cstr(&errs), where) && strstr(buf_cstr(&errs), needle);
	if (!ok)
		fprintf(stderr, "  %s: rc %d, errs \"%s\", want \"%s\" and \"%s\"\n", text, rc,
			buf_cstr(&errs), where, needle);
	config_free(&cfg);
	return ok;
}

TEST(file_errors)
{
	clear_env();
	CHECK(file_error("# c\n\nmax_n = ten\n", 3, "max_n"));
	CHECK(file_error("max_n = 4.0\n", 1, "max_n"));
	CHECK(file_error("max_n = 4 4\n", 1, "max_n"));
	CHECK(file_error("max_n =\n", 1, "max_n"));
	CHECK(file_error("max_n = 11\n", 1, "1 to 10"));
	CHECK(file_error("max_n = 0\n", 1, "max_n"));
	CHECK(file_error("max_n = -3\n", 1, "max_n"));
	CHECK(file_error("upstream_timeout_seconds = 99999999999999999999\n", 1,
			 "upstream_timeout_seconds"));
	CHECK(file_error("upstream_timeout_seconds = 4294967476\n", 1, "upstream_timeout_seconds"));
	CHECK(file_error("max_body_bytes = 1023\n", 1, "max_body_bytes"));
	CHECK(file_error("retry_max = 11\n", 1, "retry_max"));
	CHECK(file_error("log_level = loud\n", 1, "debug|info|warn|error"));
	CHECK(file_error("safety_threshold = BLOCK_NONE\n", 1, "safety_threshold"));
	CHECK(file_error("default_image_size = 8K\n", 1, "default_image_size"));
	CHECK(file_error("gemini_base_url = ftp://example.com\n", 1, "http://"));
	CHECK(file_error("max_n = 4\njust words\n", 2, "key = value"));
	/* Every bad line is reported, not only the first. */
	CHECK_INT(load("max_n = x\nretry_max = y\n"), -1);
	CHECK(strstr(buf_cstr(&errs), "max_n") && strstr(buf_cstr(&errs), "retry_max"));
	config_free(&cfg);
	/* base_path must start with '/'. */
	CHECK_INT(load("base_path = imagegw\n"), -1);
	CHECK(strstr(buf_cstr(&errs), "base_path") != NULL);
	config_free(&cfg);
}

TEST(missing_explicit_file)
{
	clear_env();
	buf_reset(&errs);
	buf_reset(&warns);
	setenv("IMAGEGW_CONFIG", "/nonexistent/imagegw-test/imagegw.conf", 1);
	CHECK_INT(config_load(&cfg, &errs, &warns), -1);
	CHECK(strstr(buf_cstr(&errs), "/nonexistent/imagegw-test/imagegw.conf") != NULL);
	CHECK(cfg.config_path == NULL);
	/* Defaults are still loaded, so config_free and printing are safe. */
	CHECK_INT(cfg.max_n, 10);
	config_free(&cfg);
	unsetenv("IMAGEGW_CONFIG");
}

TEST(env_overrides_file)
{
	clear_env();
	setenv("IMAGEGW_MAX_N", "7", 1);
	CHECK_INT(load("max_n = 4\nsafety_threshold = LOW\n"), 0);
	CHECK_INT(cfg.max_n, 7);
	CHECK_INT(source_of("max_n"), SRC_ENV);
	CHECK_STR(cfg.source_env[key_index("max_n")], "IMAGEGW_MAX_N");
	CHECK_STR(cfg.safety_threshold, "LOW");
	config_free(&cfg);

	/* The seed-compatible alias. */
	setenv("GEMINI_IMAGE_SAFETY_THRESHOLD", "high", 1);
	CHECK_INT(load("safety_threshold = LOW\n"), 0);
	CHECK_STR(cfg.safety_threshold, "HIGH");
	CHECK_INT(source_of("safety_threshold"), SRC_ENV);
	CHECK_STR(cfg.source_env[key_index("safety_threshold")], "GEMINI_IMAGE_SAFETY_THRESHOLD");
	config_free(&cfg);

	/* IMAGEGW_* wins over the alias. */
	setenv("IMAGEGW_SAFETY_THRESHOLD", "medium", 1);
	CHECK_INT(load(NULL), 0);
	CHECK_STR(cfg.safety_threshold, "MEDIUM");
	CHECK_STR(cfg.source_env[key_index("safety_threshold")], "IMAGEGW_SAFETY_THRESHOLD");
	config_free(&cfg);

	/* A bad environment value is an error naming the variable. */
	setenv("IMAGEGW_MAX_N", "many", 1);
	CHECK_INT(load(NULL), -1);
	CHECK(strstr(buf_cstr(&errs), "IMAGEGW_MAX_N") != NULL);
	config_free(&cfg);
	setenv("GEMINI_IMAGE_SAFETY_THRESHOLD", "extreme", 1);
	unsetenv("IMAGEGW_SAFETY_THRESHOLD");
	unsetenv("IMAGEGW_MAX_N");
	CHECK_INT(load(NULL), -1);
	CHECK(strstr(buf_cstr(&errs), "GEMINI_IMAGE_SAFETY_THRESHOLD") != NULL);
	config_free(&cfg);
	clear_env();
}

/* SPEC 9: every key foo_bar is read from IMAGEGW_FOO_BAR. */
TEST(every_key_from_env)
{
	for (size_t i = 0; i < NKEYS; i++) {
		const struct config_key *k = &config_keys[i];
		char name[96], val[64];
		size_t j;

		clear_env();
		snprintf(name, sizeof name, "IMAGEGW_");
		for (j = 0; k->name[j]; j++)
			name[8 + j] = (char)toupper((unsigned char)k->name[j]);
		name[8 + j] = '\0';
		switch (k->type) {
		case CT_INT:
		case CT_LONG: snprintf(val, sizeof val, "%ld", k->min); break;
		case CT_ENUM:
			snprintf(val, sizeof val, "%.*s", (int)strcspn(k->choices, "|"),
				 k->choices);
			break;
		case CT_URL: snprintf(val, sizeof val, "http://127.0.0.1:1"); break;
		case CT_BOOL: snprintf(val, sizeof val, "false"); break;
		default: snprintf(val, sizeof val, "/from-env"); break;
		}
		setenv(name, val, 1);
		if (load(NULL) != 0)
			fprintf(stderr, "  %s=%s: %s", name, val, buf_cstr(&errs));
		CHECK_INT(cfg.source[i], SRC_ENV);
		config_free(&cfg);
	}
	clear_env();
}

TEST(gemini_keys)
{
	clear_env();
	setenv("GEMINI_API_KEYS", " key-one, key-two,key-three", 1);
	CHECK_INT(load(NULL), 0);
	CHECK_INT(cfg.gemini_configured, 1);
	CHECK_STR(cfg.gemini_key, "key-one");
	config_free(&cfg);
	setenv("GEMINI_API_KEYS", ",,key-two", 1);
	CHECK_INT(load(NULL), 0);
	CHECK_STR(cfg.gemini_key, "key-two");
	config_free(&cfg);
	setenv("GEMINI_API_KEYS", " , ", 1);
	CHECK_INT(load(NULL), 0);
	CHECK_INT(cfg.gemini_configured, 0);
	CHECK(cfg.gemini_key == NULL);
	config_free(&cfg);
	/* A single GEMINI_API_KEY is used first. */
	setenv("GEMINI_API_KEYS", "key-one,key-two", 1);
	setenv("GEMINI_API_KEY", "the-key", 1);
	CHECK_INT(load(NULL), 0);
	CHECK_STR(cfg.gemini_key, "the-key");
	CHECK_INT(cfg.gemini_configured, 1);
	config_free(&cfg);
	/* From the file too (shared hosting cannot always set the environment). */
	clear_env();
	CHECK_INT(load("gemini_api_keys = \"k1,k2\"\n"), 0);
	CHECK_STR(cfg.gemini_key, "k1");
	config_free(&cfg);
}

TEST(cache_dir_derived)
{
	clear_env();
	setenv("IMAGEGW_DATA_DIR", "/tmp/imagegw-data", 1);
	CHECK_INT(load(NULL), 0);
	CHECK_STR(cfg.cache_dir, "/tmp/imagegw-data/cache");
	config_free(&cfg);
	setenv("CACHE_DIR", "/var/cache/imagegw", 1);
	CHECK_INT(load(NULL), 0);
	CHECK_STR(cfg.cache_dir, "/var/cache/imagegw");
	CHECK_STR(cfg.source_env[key_index("cache_dir")], "CACHE_DIR");
	config_free(&cfg);
	clear_env();
	CHECK_INT(load("data_dir = /d\ncache_dir = /c\n"), 0);
	CHECK_STR(cfg.cache_dir, "/c");
	config_free(&cfg);
}

static char *print_config(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	config_print(&cfg, f);
	fclose(f);
	return text;
}

TEST(print_masks_secrets)
{
	clear_env();
	setenv("GEMINI_API_KEY", "AIzaSECRETSECRET1", 1);
	setenv("GEMINI_API_KEYS", "AIzaOTHERSECRET2,AIzaTHIRDSECRET3", 1);
	setenv("IMAGEGW_MAX_N", "5", 1);
	CHECK_INT(load("retry_max = 3\n"), 0);
	char *out = print_config();

	CHECK(out != NULL);
	if (!out)
		return;
	CHECK(strstr(out, "SECRET") == NULL);
	CHECK(strstr(out, "AIza") == NULL);
	CHECK(strstr(out, "gemini_api_key = ****") != NULL);
	CHECK(strstr(out, "gemini_api_keys = ****") != NULL);
	CHECK(strstr(out, cfg.config_path) != NULL);
	CHECK(strstr(out, "max_n = 5") != NULL);
	CHECK(strstr(out, "retry_max = 3    # file") != NULL);
	CHECK(strstr(out, "max_prompt_chars = 8000    # default") != NULL);
	CHECK(strstr(out, "gemini_api_key = **** (17 chars)    # env GEMINI_API_KEY") != NULL);
	for (size_t i = 0; i < NKEYS; i++) {
		char line[128];
		snprintf(line, sizeof line, "\n%s = ", config_keys[i].name);
		CHECK(strstr(out, line) != NULL);
	}
	free(out);
	config_free(&cfg);

	/* An empty secret prints as empty, not as stars. */
	clear_env();
	CHECK_INT(load(NULL), 0);
	out = print_config();
	CHECK(out && strstr(out, "gemini_api_key =     # default") != NULL);
	CHECK(out && strstr(out, "# config file: (none)") != NULL);
	free(out);
	config_free(&cfg);
}

static char *print_docs(size_t *len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len);

	config_print_docs(f);
	fclose(f);
	return text;
}

TEST(print_docs)
{
	size_t len;
	char *out = print_docs(&len);

	CHECK(out != NULL);
	if (!out)
		return;
	CHECK(strncmp(out, "| key |", 7) == 0);
	for (size_t i = 0; i < NKEYS; i++) {
		const struct config_key *k = &config_keys[i];
		char cell[128];

		snprintf(cell, sizeof cell, "| `%s` |", k->name);
		CHECK(strstr(out, cell) != NULL);
		/* Every alias of a '|'-separated list appears in backticks. */
		for (const char *a = k->alias_env; a && *a;) {
			size_t n = strcspn(a, "|");
			snprintf(cell, sizeof cell, "`%.*s`", (int)n, a);
			CHECK(strstr(out, cell) != NULL);
			a += n + (a[n] == '|');
		}
		CHECK(strstr(out, k->help) != NULL);
	}
	/* One row per key plus the two header lines; no '|' leaks from choices. */
	size_t lines = 0;
	for (size_t i = 0; i < len; i++)
		lines += out[i] == '\n';
	CHECK_INT(lines, NKEYS + 2);
	CHECK(strstr(out, "debug, info, warn, error") != NULL);
	CHECK(strstr(out, "`IMAGEGW_SAFETY_THRESHOLD`, `GEMINI_IMAGE_SAFETY_THRESHOLD`") != NULL);

	FILE *f = fopen("docs/configuration.md", "r");
	if (!f) {
		printf("note: docs/configuration.md does not exist yet (or the test is not run "
		       "from the repository root): check skipped\n");
	} else {
		struct buf doc = BUF_INIT;
		char chunk[4096];
		size_t n;

		while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
			buf_append(&doc, chunk, n);
		fclose(f);
		if (!strstr(buf_cstr(&doc), out)) {
			fprintf(stderr,
				"  docs/configuration.md does not hold the exact output of "
				"config_print_docs (regenerate it with `imagegw config docs`)\n");
			CHECK(!"docs/configuration.md matches config_print_docs");
		}
		buf_free(&doc);
	}
	free(out);
}

int main(void)
{
	RUN(defaults);
	RUN(file);
	RUN(file_errors);
	RUN(missing_explicit_file);
	RUN(env_overrides_file);
	RUN(every_key_from_env);
	RUN(gemini_keys);
	RUN(cache_dir_derived);
	RUN(print_masks_secrets);
	RUN(print_docs);
	clear_env();
	buf_free(&errs);
	buf_free(&warns);
	UNIT_DONE();
}
