/* Configuration: one table of every key (name, environment names, type,
 * default, range, help), read from built-in defaults < config file < the
 * environment.  See docs/configuration.md, generated from the table. */
#ifndef IMAGEGW_CONFIG_H
#define IMAGEGW_CONFIG_H
#include <stdio.h>

#include "buf.h"

#define CONFIG_MAX_KEYS 96

struct config {
	/* files */
	char *data_dir;
	char *cache_dir;
	char *log_file;
	char *log_level;
	char *log_format;
	char *base_path;
	/* requests */
	char *default_model;
	int max_prompt_chars;
	int max_n;
	long max_body_bytes;
	int max_upload_mb; /* per file of an edit (SPEC 2.2) */
	char *safety_threshold;
	char *default_image_size;
	/* upstreams */
	char *gemini_base_url;
	char *gemini_api_key;
	char *gemini_api_keys;
	char *gemini_pro_image_model;
	char *openai_base_url;
	char *openai_api_key;
	char *openai_models;
	char *enhance_model;
	char *vertex_base_url;
	char *accounts_dir;
	char *gemini_providers;
	int upstream_timeout_seconds;
	int upstream_connect_timeout_seconds;
	int retry_max;
	int retry_backoff_ms;
	/* access */
	char *api_key;
	int metrics_public;
	/* cache (SPEC 5) and image URLs (SPEC 2.6) */
	char *cache_backend;
	int cache_enabled;
	long cache_ttl_seconds;
	int cache_ttl_hours;
	long cache_max_size_mb;
	char *url_secret;
	int url_ttl_seconds;
	char *url_mode;
	char *public_base_url;
	char *sendfile_header;
	char *sendfile_prefix;
	char *price_table;
	/* client access, rate limits, content filter (SPEC 2.9, 6) */
	char *allow_anonymous;
	int rate_per_ip;
	int rate_window_seconds;
	int rate_global;
	char *ip_allowlist;
	char *trusted_proxies;
	char *content_filter;
	char *content_filter_file;
	int quota_cooldown_seconds;
	/* jobs (SPEC 2.4) and the gallery (SPEC 2.7) */
	char *job_models;
	int job_max_models;
	int job_timeout_seconds;
	int job_retention_days;
	int gallery_enabled;
	int gallery_max_entries;
	long gallery_max_size_mb;

	/* derived at load time, not keys */
	char *config_path;		       /* the file read, or NULL */
	int gemini_configured;		       /* a Gemini key is present */
	char *gemini_key;		       /* the key used (first of the list) */
	int openai_configured;		       /* an OpenAI key is present (env or pool) */
	int cache_on;			       /* cache_enabled and a filesystem backend */
	long cache_ttl;			       /* effective TTL in seconds */
	unsigned char source[CONFIG_MAX_KEYS]; /* enum config_source per key */
	char source_env[CONFIG_MAX_KEYS][48];  /* env name that set it */
};

/* Loads defaults, then the file (IMAGEGW_CONFIG, else imagegw.conf beside the
 * binary), then the environment.  On an invalid value returns -1 and writes
 * the reasons (one per line) to errs; warnings (unknown keys) go to warns.
 * The config owns its strings; free with config_free. */
int config_load(struct config *cfg, struct buf *errs, struct buf *warns);
void config_free(struct config *cfg);
/* Applies the "key = value" lines of text (a config file's contents; name
 * is used in messages) over cfg.  0, or -1 with reasons in errs. */
int config_parse_text(struct config *cfg, const char *text, size_t len, const char *name,
		      struct buf *errs, struct buf *warns);
/* gemini_providers as a list: order[0], order[1] ("gemini", "vertex" or
 * NULL).  order may be NULL (only checks).  0, or -1 for an unknown name,
 * a repeat or an empty list. */
int config_provider_rank(const struct config *cfg, const char *order[2]);
/* Prints the effective configuration with secrets masked and where each
 * value came from (default, file, env NAME). */
void config_print(const struct config *cfg, FILE *out);
/* Prints the key table as Markdown (the body of docs/configuration.md). */
void config_print_docs(FILE *out);

#endif
