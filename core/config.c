/* The configuration table and its loader.  Every key lives in config_keys[]
 * once: its type, default, range, environment names and help text.  The
 * loader, `imagegw config check` and docs/configuration.md all read it. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ratelimit.h"
#include "xalloc.h"

enum config_type { CT_STRING, CT_SECRET, CT_INT, CT_LONG, CT_ENUM, CT_PATH, CT_URL, CT_BOOL };
enum config_source { SRC_DEFAULT, SRC_FILE, SRC_ENV };

struct config_key {
	const char *name;
	const char *alias_env; /* seed-compatible environment names ('|'-separated), or NULL */
	enum config_type type;
	size_t offset;
	const char *def;
	long min, max;	     /* CT_INT / CT_LONG range */
	const char *choices; /* CT_ENUM: '|'-separated, case-insensitive */
	const char *help;
};

#define OFF(f) offsetof(struct config, f)

/* One row per line reads better here than the formatter's layout. */
/* clang-format off */
static const struct config_key config_keys[] = {
	{"data_dir", NULL, CT_PATH, OFF(data_dir), "./var", 0, 0, NULL,
	 "Directory holding imagegw.db and the cache; created on first use. "
	 "A relative path is taken from the working directory of the process."},
	{"cache_dir", "CACHE_DIR", CT_PATH, OFF(cache_dir), "", 0, 0, NULL,
	 "Directory for cached image blobs; empty means the cache folder inside data_dir."},
	{"log_file", NULL, CT_PATH, OFF(log_file), "", 0, 0, NULL,
	 "File the JSON log lines are appended to; empty means stderr (the web server's error log)."},
	{"log_level", NULL, CT_ENUM, OFF(log_level), "info", 0, 0, "debug|info|warn|error",
	 "Least severe level written."},
	{"log_format", NULL, CT_ENUM, OFF(log_format), "json", 0, 0, "json|text",
	 "json: one JSON object per line; text: a readable line for humans."},
	{"base_path", NULL, CT_STRING, OFF(base_path), "", 0, 0, NULL,
	 "URL prefix the gateway is mounted under on shared hosting, e.g. /imagegw; empty for the root."},
	{"default_model", NULL, CT_STRING, OFF(default_model), "", 0, 0, NULL,
	 "Model used when a request names none; empty means gemini-3-pro-image when a Gemini key "
	 "is configured, else gpt-image-1 when an OpenAI key is, else local-preview."},
	{"max_prompt_chars", NULL, CT_INT, OFF(max_prompt_chars), "8000", 1, 1000000, NULL,
	 "Longest prompt accepted, in characters (Unicode code points)."},
	{"max_n", NULL, CT_INT, OFF(max_n), "10", 1, 10, NULL,
	 "Largest n (images per request) accepted."},
	{"max_body_bytes", NULL, CT_LONG, OFF(max_body_bytes), "1048576", 1024, 1073741824, NULL,
	 "Largest JSON request body accepted, in bytes; larger bodies get 413."},
	{"max_upload_mb", NULL, CT_INT, OFF(max_upload_mb), "20", 1, 1024, NULL,
	 "Largest file accepted by /v1/images/edits, per image or mask, in MiB; a whole upload "
	 "may be up to 14 images plus a mask of this size and 1 MiB of form fields. Larger: 413."},
	{"safety_threshold", "GEMINI_IMAGE_SAFETY_THRESHOLD", CT_ENUM, OFF(safety_threshold), "OFF",
	 0, 0, "OFF|LOW|MEDIUM|HIGH",
	 "Safety threshold sent to Gemini when a request sets none (OFF, LOW=BLOCK_ONLY_HIGH, "
	 "MEDIUM=BLOCK_MEDIUM_AND_ABOVE, HIGH=BLOCK_LOW_AND_ABOVE)."},
	{"default_image_size", NULL, CT_ENUM, OFF(default_image_size), "2K", 0, 0, "1K|2K|4K",
	 "Resolution used when neither image_size, a model suffix, quality nor size decides it."},
	{"gemini_base_url", "GEMINI_BASE_URL", CT_URL, OFF(gemini_base_url),
	 "https://generativelanguage.googleapis.com", 0, 0, NULL,
	 "Base URL of the Gemini API (tests point it at a local mock)."},
	{"gemini_api_key", "GEMINI_API_KEY", CT_SECRET, OFF(gemini_api_key), "", 0, 0, NULL,
	 "Gemini API key. Never logged or shown."},
	{"gemini_api_keys", "GEMINI_API_KEYS", CT_SECRET, OFF(gemini_api_keys), "", 0, 0, NULL,
	 "Comma-separated Gemini API keys; each joins the key pool as gemini-env-N."},
	{"openai_base_url", "OPENAI_BASE_URL", CT_URL, OFF(openai_base_url), "https://api.openai.com",
	 0, 0, NULL,
	 "Base URL of the OpenAI-compatible image API, with or without a trailing /v1 (tests point "
	 "it at a local mock)."},
	{"openai_api_key", "OPENAI_API_KEY", CT_SECRET, OFF(openai_api_key), "", 0, 0, NULL,
	 "OpenAI API key; joins the key pool as openai-env-1 and makes the openai models "
	 "available. Never logged or shown."},
	{"openai_models", NULL, CT_STRING, OFF(openai_models), "", 0, 0, NULL,
	 "Comma-separated extra model ids served by the openai provider (beside dall-e-2, "
	 "dall-e-3 and gpt-image-1); they take the gpt-image-1 sizes and qualities."},
	{"gemini_pro_image_model", NULL, CT_STRING, OFF(gemini_pro_image_model),
	 "gemini-3-pro-image-preview", 0, 0, NULL,
	 "Upstream model id the gemini-3-pro-image family is sent to."},
	{"enhance_model", NULL, CT_STRING, OFF(enhance_model), "gemini-2.5-flash", 0, 0, NULL,
	 "Gemini text model POST /v1/prompts/enhance rewrites prompts with; a request may name "
	 "another gemini-* text model."},
	{"vertex_base_url", "VERTEX_BASE_URL", CT_URL, OFF(vertex_base_url), "", 0, 0, NULL,
	 "Base URL of Vertex AI; empty: Google's host for each account's location "
	 "(aiplatform.googleapis.com for global, LOCATION-aiplatform.googleapis.com otherwise). "
	 "Tests point it at a local mock."},
	{"accounts_dir", NULL, CT_PATH, OFF(accounts_dir), "", 0, 0, NULL,
	 "Directory whose *.json Google service-account key files join the pool as vertex "
	 "accounts (vertex-dir-NAME); read at each use, so the keys stay in the files."},
	{"gemini_providers", NULL, CT_STRING, OFF(gemini_providers), "gemini,vertex", 0, 0, NULL,
	 "Which pool entries may serve the Gemini image models and the text model of prompt "
	 "enhancement, in order of preference: gemini (API keys), vertex (service accounts), "
	 "comma-separated."},
	{"upstream_timeout_seconds", NULL, CT_INT, OFF(upstream_timeout_seconds), "180", 1, 3600, NULL,
	 "Longest one upstream call may take (4K images are slow). Keep the web server's timeout above it."},
	{"upstream_connect_timeout_seconds", NULL, CT_INT, OFF(upstream_connect_timeout_seconds), "10",
	 1, 300, NULL, "Longest the TCP+TLS connect to an upstream may take."},
	{"retry_max", NULL, CT_INT, OFF(retry_max), "2", 0, 10, NULL,
	 "Retries of one image after an upstream 500/503/504 or network failure."},
	{"retry_backoff_ms", NULL, CT_INT, OFF(retry_backoff_ms), "500", 0, 60000, NULL,
	 "First retry delay; each further retry doubles it."},
	{"api_key", NULL, CT_SECRET, OFF(api_key), "", 0, 0, NULL,
	 "The operator's own admin key (clients send it as 'Authorization: Bearer'); needed for the "
	 "admin routes such as /v1/cache/stats."},
	{"metrics_public", NULL, CT_BOOL, OFF(metrics_public), "false", 0, 0, NULL,
	 "true: GET /metrics answers anyone (for a Prometheus that cannot send a key); "
	 "false: it needs an admin key like the other admin routes."},
	{"cache_backend", "CACHE_BACKEND|GEMINI_IMAGE_CACHE_BACKEND", CT_ENUM, OFF(cache_backend),
	 "filesystem", 0, 0, "filesystem|none|noop",
	 "filesystem: cache images as files under cache_dir with an index in the database; "
	 "none (or noop): no cache."},
	{"cache_enabled", "GEMINI_IMAGE_CACHE_ENABLED", CT_BOOL, OFF(cache_enabled), "true", 0, 0, NULL,
	 "false turns the cache off whatever cache_backend says."},
	{"cache_ttl_seconds", "CACHE_TTL_SECONDS", CT_LONG, OFF(cache_ttl_seconds), "86400", 1,
	 315360000, NULL, "How long a cached image is served."},
	{"cache_ttl_hours", "GEMINI_IMAGE_CACHE_TTL_HOURS", CT_INT, OFF(cache_ttl_hours), "0", 0,
	 87600, NULL,
	 "The TTL in hours (the seeds' name); used when cache_ttl_seconds is not set. 0: unused."},
	{"cache_max_size_mb", "CACHE_MAX_SIZE_MB|GEMINI_IMAGE_CACHE_MAX_SIZE_MB", CT_LONG,
	 OFF(cache_max_size_mb), "1000", 1, 100000000, NULL,
	 "Size cap of the cached images; a store that crosses it evicts the least recently used "
	 "entries down to 90 %."},
	{"url_secret", NULL, CT_SECRET, OFF(url_secret), "", 0, 0, NULL,
	 "Key for signing image URLs (HMAC-SHA256); empty: one is generated into the database on "
	 "first run."},
	{"url_ttl_seconds", NULL, CT_INT, OFF(url_ttl_seconds), "3600", 10, 31536000, NULL,
	 "How long a signed image URL stays valid."},
	{"url_mode", NULL, CT_ENUM, OFF(url_mode), "url", 0, 0, "url|data",
	 "What response_format=url returns: url: signed links to /v1/files/; data: data: URIs, for "
	 "clients that cannot reach the gateway's host."},
	{"public_base_url", NULL, CT_URL, OFF(public_base_url), "", 0, 0, NULL,
	 "Scheme, host and path prefix for image URLs (e.g. https://img.example.org/imagegw); "
	 "empty: taken from the request (Host, HTTPS) and base_path."},
	{"sendfile_header", NULL, CT_ENUM, OFF(sendfile_header), "none", 0, 0,
	 "none|X-Sendfile|X-LIGHTTPD-send-file|X-Accel-Redirect",
	 "Let the web server send image files: X-Sendfile (lighttpd, Apache mod_xsendfile), "
	 "X-Accel-Redirect (nginx); none: imagegw streams them."},
	{"sendfile_prefix", NULL, CT_STRING, OFF(sendfile_prefix), "", 0, 0, NULL,
	 "With X-Accel-Redirect: the internal nginx location that maps to cache_dir, e.g. "
	 "/_imagegw_cache/."},
	{"allow_anonymous", NULL, CT_ENUM, OFF(allow_anonymous), "auto", 0, 0, "auto|true|false",
	 "Whether requests without a key are served (under the per-IP limits): auto = yes until "
	 "the first client key is created or api_key is set, then no."},
	{"rate_per_ip", NULL, CT_INT, OFF(rate_per_ip), "30", 0, 1000000, NULL,
	 "Requests per rate_window_seconds from one IP address without a key; 0: no limit."},
	{"rate_window_seconds", NULL, CT_INT, OFF(rate_window_seconds), "60", 1, 86400, NULL,
	 "Length of the per-IP and global rate windows."},
	{"rate_global", NULL, CT_INT, OFF(rate_global), "0", 0, 100000000, NULL,
	 "Requests per rate_window_seconds for the whole gateway; 0: no limit."},
	{"ip_allowlist", NULL, CT_STRING, OFF(ip_allowlist), "", 0, 0, NULL,
	 "Comma-separated CIDRs (IPv4 or IPv6) that skip the per-IP limits, e.g. "
	 "127.0.0.1/32,10.0.0.0/8."},
	{"trusted_proxies", NULL, CT_STRING, OFF(trusted_proxies), "", 0, 0, NULL,
	 "Comma-separated CIDRs of reverse proxies whose X-Forwarded-For is believed; the client "
	 "is then the last address in it that is not a trusted proxy."},
	{"content_filter", NULL, CT_ENUM, OFF(content_filter), "on", 0, 0, "on|off",
	 "Reject prompts that contain a listed word or phrase (400 IMG_CONTENT_FILTERED)."},
	{"content_filter_file", NULL, CT_PATH, OFF(content_filter_file), "", 0, 0, NULL,
	 "The word list, one word or phrase per line, '#' comments; empty: the built-in list "
	 "(deploy/content-filter.txt)."},
	{"quota_cooldown_seconds", NULL, CT_INT, OFF(quota_cooldown_seconds), "60", 1, 86400, NULL,
	 "How long an upstream key rests after a 429 that gives no RetryInfo or Retry-After."},
	{"job_models", NULL, CT_STRING, OFF(job_models), "local-preview", 0, 0, NULL,
	 "Comma-separated model ids a POST /v1/jobs without 'models' runs."},
	{"job_max_models", NULL, CT_INT, OFF(job_max_models), "10", 1, 32, NULL,
	 "Most models one job may name; each runs in its own worker process."},
	{"job_timeout_seconds", NULL, CT_INT, OFF(job_timeout_seconds), "120", 3, 86400, NULL,
	 "A job whose worker has shown no progress and no heartbeat for this long is taken as dead: "
	 "its unfinished models fail (on the next read, or by 'imagegw jobs reap')."},
	{"job_retention_days", NULL, CT_INT, OFF(job_retention_days), "7", 1, 3650, NULL,
	 "Finished jobs older than this are deleted by 'imagegw jobs reap' and by workers as they "
	 "finish; their images stay while the gallery or the cache uses them."},
	{"gallery_enabled", NULL, CT_BOOL, OFF(gallery_enabled), "true", 0, 0, NULL,
	 "Keep each job and each successful generation as a gallery entry; false: nothing is "
	 "recorded and /v1/gallery answers 404."},
	{"gallery_max_entries", NULL, CT_INT, OFF(gallery_max_entries), "1000", 0, 10000000, NULL,
	 "Most gallery entries kept; the oldest go first as new ones arrive. 0: no limit."},
	{"gallery_max_size_mb", NULL, CT_LONG, OFF(gallery_max_size_mb), "1000", 0, 100000000, NULL,
	 "Most megabytes of image files the gallery keeps (on top of cache_max_size_mb, which "
	 "does not count them); the oldest entries go first. 0: no limit."},
	{"price_table", NULL, CT_STRING, OFF(price_table),
	 "gemini-3-pro-image:1K=0.134,2K=0.134,4K=0.24;gemini-2.5-flash-image:1K=0.039;"
	 "gemini-3.1-flash-image-preview:1K=0.067,2K=0.101,4K=0.151", 0, 0, NULL,
	 "Upstream price per image in USD, by model family and resolution, for the cost-saved "
	 "counter: family:SIZE=price,...;family:..."},
};
/* clang-format on */

#define NKEYS (sizeof config_keys / sizeof config_keys[0])
_Static_assert(sizeof config_keys / sizeof config_keys[0] <= CONFIG_MAX_KEYS,
	       "raise CONFIG_MAX_KEYS");

static char **str_field(struct config *cfg, const struct config_key *k)
{
	return (char **)((char *)cfg + k->offset);
}

static int enum_match(const char *choices, const char *v, char *canon, size_t canon_len)
{
	const char *p = choices;
	size_t vlen = strlen(v);
	while (*p) {
		const char *bar = strchr(p, '|');
		size_t n = bar ? (size_t)(bar - p) : strlen(p);
		if (n == vlen && strncasecmp(p, v, n) == 0) {
			snprintf(canon, canon_len, "%.*s", (int)n, p);
			return 0;
		}
		p += n + (bar ? 1 : 0);
	}
	return -1;
}

/* Stores one value for key k, validating it; on error appends a line to errs. */
static int set_value(struct config *cfg, const struct config_key *k, const char *v,
		     const char *origin, struct buf *errs)
{
	char canon[64];
	char *end;
	switch (k->type) {
	case CT_INT:
	case CT_LONG: {
		errno = 0;
		long n = strtol(v, &end, 10);
		while (end && isspace((unsigned char)*end))
			end++;
		if (errno || end == v || *end || n < k->min || n > k->max) {
			buf_printf(errs, "%s: %s = '%s' is not a whole number from %ld to %ld\n",
				   origin, k->name, v, k->min, k->max);
			return -1;
		}
		if (k->type == CT_INT)
			*(int *)((char *)cfg + k->offset) = (int)n;
		else
			*(long *)((char *)cfg + k->offset) = n;
		return 0;
	}
	case CT_ENUM:
		if (enum_match(k->choices, v, canon, sizeof canon) != 0) {
			buf_printf(errs, "%s: %s = '%s' is not one of %s\n", origin, k->name, v,
				   k->choices);
			return -1;
		}
		v = canon;
		break;
	case CT_BOOL: {
		int b = enum_match("true|yes|on|1", v, canon, sizeof canon) == 0    ? 1
			: enum_match("false|no|off|0", v, canon, sizeof canon) == 0 ? 0
										    : -1;
		if (b < 0) {
			buf_printf(errs, "%s: %s = '%s' is not true or false\n", origin, k->name,
				   v);
			return -1;
		}
		*(int *)((char *)cfg + k->offset) = b;
		return 0;
	}
	case CT_URL:
		if (*v && strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0) {
			buf_printf(errs, "%s: %s = '%s' must start with http:// or https://\n",
				   origin, k->name, v);
			return -1;
		}
		break;
	default: break;
	}
	char **f = str_field(cfg, k);
	free(*f);
	*f = xstrdup(v);
	return 0;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static const struct config_key *find_key(const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(config_keys[i].name, name) == 0)
			return &config_keys[i];
	return NULL;
}

/* The default config file: imagegw.conf beside the binary. */
static char *default_config_path(void)
{
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (!slash)
		return NULL;
	struct buf b = BUF_INIT;
	buf_append(&b, exe, (size_t)(slash - exe) + 1);
	buf_puts(&b, "imagegw.conf");
	return buf_detach(&b, NULL);
}

/* One "key = value" line (already NUL-terminated, without its newline). */
static int parse_line(struct config *cfg, char *line, const char *origin, struct buf *errs,
		      struct buf *warns)
{
	char *s = trim(line);
	if (*s == '\0' || *s == '#')
		return 0;
	char *eq = strchr(s, '=');
	if (!eq) {
		buf_printf(errs, "%s: expected 'key = value'\n", origin);
		return -1;
	}
	*eq = '\0';
	char *key = trim(s), *val = eq + 1;
	/* A '#' after white space starts a comment, as on a line of its own. */
	for (char *h = strchr(val, '#'); h; h = strchr(h + 1, '#'))
		if (h > val && isspace((unsigned char)h[-1])) {
			*h = '\0';
			break;
		}
	val = trim(val);
	size_t vl = strlen(val);
	if (vl >= 2 &&
	    ((val[0] == '"' && val[vl - 1] == '"') || (val[0] == '\'' && val[vl - 1] == '\''))) {
		val[vl - 1] = '\0';
		val++;
	}
	const struct config_key *k = find_key(key);
	if (!k) {
		buf_printf(warns, "%s: unknown key '%.100s' ignored\n", origin, key);
		return 0;
	}
	if (set_value(cfg, k, val, origin, errs) != 0)
		return -1;
	cfg->source[k - config_keys] = SRC_FILE;
	return 0;
}

int config_parse_text(struct config *cfg, const char *text, size_t len, const char *name,
		      struct buf *errs, struct buf *warns)
{
	int lineno = 0, rc = 0;
	char line[8192];
	for (size_t pos = 0; pos < len;) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		char origin[4200];
		snprintf(origin, sizeof origin, "%s:%d", name, ++lineno);
		if (n >= sizeof line || memchr(text + pos, '\0', n)) {
			buf_printf(errs, "%s: line too long or not text\n", origin);
			rc = -1;
		} else {
			memcpy(line, text + pos, n);
			line[n] = '\0';
			rc |= parse_line(cfg, line, origin, errs, warns);
		}
		pos += n + (nl ? 1 : 0);
	}
	return rc;
}

static int load_file(struct config *cfg, const char *path, int must_exist, struct buf *errs,
		     struct buf *warns)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		if (!must_exist && errno == ENOENT)
			return 0;
		buf_printf(errs, "config file %s: %s\n", path, strerror(errno));
		return -1;
	}
	cfg->config_path = xstrdup(path);
	struct buf text = BUF_INIT;
	char chunk[8192];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_append(&text, chunk, n);
	int failed = ferror(f);
	fclose(f);
	int rc = failed ? -1
			: config_parse_text(cfg, text.data ? text.data : "", text.len, path, errs,
					    warns);
	if (failed)
		buf_printf(errs, "config file %s: read error\n", path);
	buf_free(&text);
	return rc;
}

/* Reads one environment variable for key i; 0 unless its value is invalid. */
static int env_one(struct config *cfg, size_t i, const char *name, struct buf *errs)
{
	const char *v = getenv(name);
	if (!v || !*v) /* set but empty counts as unset */
		return 0;
	char origin[128];
	snprintf(origin, sizeof origin, "environment %s", name);
	if (set_value(cfg, &config_keys[i], v, origin, errs) != 0)
		return -1;
	cfg->source[i] = SRC_ENV;
	snprintf(cfg->source_env[i], sizeof cfg->source_env[i], "%s", name);
	return 0;
}

static int load_env(struct config *cfg, struct buf *errs)
{
	int rc = 0;
	for (size_t i = 0; i < NKEYS; i++) {
		const struct config_key *k = &config_keys[i];
		/* The seed-compatible aliases first, so IMAGEGW_* wins when both are set. */
		for (const char *a = k->alias_env; a && *a;) {
			char name[64];
			size_t n = strcspn(a, "|");
			snprintf(name, sizeof name, "%.*s", (int)n, a);
			rc |= env_one(cfg, i, name, errs);
			a += n + (a[n] == '|');
		}
		char envname[96] = "IMAGEGW_";
		for (size_t j = 0; k->name[j] && j + 9 < sizeof envname; j++) {
			envname[8 + j] = (char)toupper((unsigned char)k->name[j]);
			envname[9 + j] = '\0';
		}
		rc |= env_one(cfg, i, envname, errs);
	}
	return rc;
}

/* Fills the derived fields: which Gemini key to use, the cache directory. */
static void derive(struct config *cfg)
{
	free(cfg->gemini_key);
	cfg->gemini_key = NULL;
	if (cfg->gemini_api_key[0]) {
		cfg->gemini_key = xstrdup(cfg->gemini_api_key);
	} else if (cfg->gemini_api_keys[0]) {
		const char *p = cfg->gemini_api_keys;
		while (*p == ' ' || *p == ',')
			p++;
		size_t n = strcspn(p, ", ");
		if (n)
			cfg->gemini_key = xstrndup(p, n);
	}
	cfg->gemini_configured = cfg->gemini_key != NULL;
	cfg->openai_configured = cfg->openai_api_key[0] != '\0';
	cfg->cache_on = cfg->cache_enabled && strcmp(cfg->cache_backend, "filesystem") == 0;
	size_t ttl_key = (size_t)(find_key("cache_ttl_seconds") - config_keys);
	cfg->cache_ttl = cfg->cache_ttl_seconds;
	if (cfg->source[ttl_key] == SRC_DEFAULT && cfg->cache_ttl_hours > 0)
		cfg->cache_ttl = cfg->cache_ttl_hours * 3600L;
	if (!cfg->cache_dir[0]) {
		struct buf b = BUF_INIT;
		buf_printf(&b, "%s/cache", cfg->data_dir);
		free(cfg->cache_dir);
		cfg->cache_dir = buf_detach(&b, NULL);
	}
	size_t bl = strlen(cfg->base_path);
	while (bl > 0 && cfg->base_path[bl - 1] == '/')
		cfg->base_path[--bl] = '\0';
}

int config_provider_rank(const struct config *cfg, const char *order[2])
{
	const char *seen[2] = {NULL, NULL};
	const char *p = cfg->gemini_providers;
	int n = 0, bad = 0;
	while (*p) {
		p += strspn(p, ", ");
		size_t len = strcspn(p, ", ");
		if (!len)
			break;
		const char *name = len == 6 && strncmp(p, "gemini", 6) == 0   ? "gemini"
				   : len == 6 && strncmp(p, "vertex", 6) == 0 ? "vertex"
									      : NULL;
		if (!name || n == 2 || (n == 1 && seen[0] == name))
			bad = 1;
		else
			seen[n++] = name;
		p += len;
	}
	if (order) {
		order[0] = seen[0];
		order[1] = seen[1];
	}
	return bad || n == 0 ? -1 : 0;
}

int config_load(struct config *cfg, struct buf *errs, struct buf *warns)
{
	memset(cfg, 0, sizeof *cfg);
	struct buf ignore = BUF_INIT;
	for (size_t i = 0; i < NKEYS; i++)
		set_value(cfg, &config_keys[i], config_keys[i].def, "default", &ignore);
	buf_free(&ignore);

	int rc = 0;
	const char *explicit_path = getenv("IMAGEGW_CONFIG");
	if (explicit_path && *explicit_path) {
		rc |= load_file(cfg, explicit_path, 1, errs, warns);
	} else {
		char *p = default_config_path();
		if (p)
			rc |= load_file(cfg, p, 0, errs, warns);
		free(p);
	}
	rc |= load_env(cfg, errs);
	/* CIDR lists are checked here so a typo stops the start, not a request. */
	const char *lists[2][2] = {{"ip_allowlist", cfg->ip_allowlist},
				   {"trusted_proxies", cfg->trusted_proxies}};
	for (int i = 0; i < 2; i++) {
		char bad[128];
		if (ratelimit_cidr_list_check(lists[i][1], bad, sizeof bad) != 0) {
			buf_printf(errs, "%s: '%s' is not an address or CIDR\n", lists[i][0], bad);
			rc = -1;
		}
	}
	if (config_provider_rank(cfg, NULL) != 0) {
		buf_printf(errs, "gemini_providers = '%s' must list gemini and/or vertex\n",
			   cfg->gemini_providers);
		rc = -1;
	}
	if (cfg->base_path[0] && cfg->base_path[0] != '/') {
		buf_printf(errs, "base_path = '%s' must start with '/'\n", cfg->base_path);
		rc = -1;
	}
	derive(cfg);
	return rc ? -1 : 0;
}

void config_free(struct config *cfg)
{
	for (size_t i = 0; i < NKEYS; i++) {
		const struct config_key *k = &config_keys[i];
		if (k->type != CT_INT && k->type != CT_LONG && k->type != CT_BOOL) {
			free(*str_field(cfg, k));
			*str_field(cfg, k) = NULL;
		}
	}
	free(cfg->config_path);
	free(cfg->gemini_key);
	cfg->config_path = cfg->gemini_key = NULL;
}

void config_print(const struct config *cfg, FILE *out)
{
	fprintf(out, "# config file: %s\n", cfg->config_path ? cfg->config_path : "(none)");
	fprintf(out, "# effective: gemini %s; openai %s; cache %s, TTL %ld s, in %s\n",
		cfg->gemini_configured ? "configured" : "not configured",
		cfg->openai_configured ? "configured" : "not configured",
		cfg->cache_on ? "on" : "off", cfg->cache_ttl, cfg->cache_dir);
	for (size_t i = 0; i < NKEYS; i++) {
		const struct config_key *k = &config_keys[i];
		const char *src = cfg->source[i] == SRC_FILE  ? "file"
				  : cfg->source[i] == SRC_ENV ? "env"
							      : "default";
		char val[512];
		if (k->type == CT_BOOL)
			snprintf(val, sizeof val, "%s",
				 *(const int *)((const char *)cfg + k->offset) ? "true" : "false");
		else if (k->type == CT_INT)
			snprintf(val, sizeof val, "%d",
				 *(const int *)((const char *)cfg + k->offset));
		else if (k->type == CT_LONG)
			snprintf(val, sizeof val, "%ld",
				 *(const long *)((const char *)cfg + k->offset));
		else {
			const char *s = *(char *const *)((const char *)cfg + k->offset);
			if (k->type == CT_SECRET && s[0])
				snprintf(val, sizeof val, "**** (%zu chars)", strlen(s));
			else
				snprintf(val, sizeof val, "%s", s);
		}
		if (cfg->source[i] == SRC_ENV)
			fprintf(out, "%s = %s    # %s %s\n", k->name, val, src, cfg->source_env[i]);
		else
			fprintf(out, "%s = %s    # %s\n", k->name, val, src);
	}
}

void config_print_docs(FILE *out)
{
	fprintf(out, "| key | environment | type | default | range | meaning |\n");
	fprintf(out, "|---|---|---|---|---|---|\n");
	for (size_t i = 0; i < NKEYS; i++) {
		const struct config_key *k = &config_keys[i];
		char env[256], up[64];
		size_t j;
		for (j = 0; k->name[j] && j + 1 < sizeof up; j++)
			up[j] = (char)toupper((unsigned char)k->name[j]);
		up[j] = '\0';
		if (k->alias_env) {
			/* "A|B" -> "`A`, `B`" */
			char aliases[96];
			size_t o = 0;
			for (const char *a = k->alias_env; *a && o + 5 < sizeof aliases; a++)
				if (*a == '|') {
					memcpy(aliases + o, "`, `", 4);
					o += 4;
				} else {
					aliases[o++] = *a;
				}
			aliases[o] = '\0';
			snprintf(env, sizeof env, "`IMAGEGW_%s`, `%s`", up, aliases);
		} else
			snprintf(env, sizeof env, "`IMAGEGW_%s`", up);
		static const char *const tnames[] = {"string", "secret", "integer", "integer",
						     "choice", "path",	 "URL",	    "boolean"};
		char range[128] = "";
		if (k->type == CT_INT || k->type == CT_LONG)
			snprintf(range, sizeof range, "%ld – %ld", k->min, k->max);
		else if (k->type == CT_BOOL)
			snprintf(range, sizeof range, "`true`, `false`");
		else if (k->type == CT_ENUM) {
			/* '|' would split the Markdown cell: list the choices with commas. */
			size_t r = 0;
			for (const char *c = k->choices; *c && r + 3 < sizeof range; c++) {
				if (*c == '|') {
					range[r++] = ',';
					range[r++] = ' ';
				} else {
					range[r++] = *c;
				}
			}
			range[r] = '\0';
		}
		fprintf(out, "| `%s` | %s | %s | %s%s%s | %s | %s |\n", k->name, env,
			tnames[k->type], k->def[0] ? "`" : "", k->def[0] ? k->def : "(empty)",
			k->def[0] ? "`" : "", range, k->help);
	}
}
