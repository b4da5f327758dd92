/* Operator commands, as a table: `imagegw help` lists them.  Each command
 * loads the same configuration the responders use. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "cache.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "upstream.h"
#include "version.h"

static int load(struct config *cfg, int quiet)
{
	struct buf errs = BUF_INIT, warns = BUF_INIT;
	int rc = config_load(cfg, &errs, &warns);
	if (!quiet)
		fputs(buf_cstr(&warns), stderr);
	fputs(buf_cstr(&errs), stderr);
	buf_free(&errs);
	buf_free(&warns);
	return rc;
}

static int cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("imagegw %s (schema %d, SQLite %s, %s)\n", IMAGEGW_VERSION_STR, db_schema_version(),
	       db_library_version(), upstream_library_version());
	return 0;
}

static int cmd_config(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[2], "docs") == 0) {
		config_print_docs(stdout);
		return 0;
	}
	if (argc < 3 || strcmp(argv[2], "check") != 0) {
		fprintf(stderr, "usage: imagegw config check | imagegw config docs\n");
		return 2;
	}
	struct config cfg;
	int rc = load(&cfg, 0);
	config_print(&cfg, stdout);
	if (rc != 0)
		fprintf(stderr, "configuration is INVALID: the gateway will refuse to start\n");
	else
		fprintf(stderr, "configuration OK\n");
	config_free(&cfg);
	return rc ? 1 : 0;
}

static int cmd_init(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	struct config cfg;
	if (load(&cfg, 0) != 0) {
		config_free(&cfg);
		return 1;
	}
	log_default();
	char err[256];
	struct sqlite3 *db = db_open(&cfg, err, sizeof err);
	if (!db) {
		fprintf(stderr, "imagegw init: %s\n", err);
		config_free(&cfg);
		return 1;
	}
	printf("data_dir  %s\ndatabase  %s/imagegw.db (schema %d)\ncache_dir %s\n", cfg.data_dir,
	       cfg.data_dir, db_schema_version(), cfg.cache_dir);
	db_close(db);
	config_free(&cfg);
	return 0;
}

/* Opens the configured database for a maintenance command; NULL on error. */
static struct sqlite3 *open_db(struct config *cfg)
{
	if (load(cfg, 1) != 0)
		return NULL;
	log_default();
	char err[256];
	struct sqlite3 *db = db_open(cfg, err, sizeof err);
	if (!db)
		fprintf(stderr, "imagegw: %s\n", err);
	return db;
}

/* The value after a --flag in argv, or NULL. */
static const char *flag_value(int argc, char **argv, const char *flag)
{
	for (int i = 2; i + 1 < argc; i++)
		if (strcmp(argv[i], flag) == 0)
			return argv[i + 1];
	return NULL;
}

static int cmd_cache(int argc, char **argv)
{
	const char *sub = argc >= 3 ? argv[2] : "";
	static const char *const subs[] = {"stats", "purge", "clear", "invalidate", NULL};
	int known = 0;
	for (int i = 0; subs[i]; i++)
		known |= strcmp(sub, subs[i]) == 0;
	if (!known) {
		fprintf(stderr, "usage: imagegw cache stats | purge | clear | "
				"invalidate [--model M] [--prompt-hash H]\n");
		return 2;
	}
	struct config cfg;
	struct sqlite3 *db = open_db(&cfg);
	int rc = 1;
	if (!db)
		goto out;
	long n = 0;
	if (strcmp(sub, "stats") == 0) {
		struct cache_stats s;
		if (cache_stats_get(&cfg, db, &s) == 0) {
			struct buf b = BUF_INIT;
			cache_stats_json(&s, &b);
			printf("%s\n", b.data);
			buf_free(&b);
			rc = 0;
		}
		goto out;
	}
	if (strcmp(sub, "purge") == 0) {
		n = cache_purge(&cfg, db);
	} else if (strcmp(sub, "clear") == 0) {
		n = cache_clear(&cfg, db);
	} else {
		const char *model = flag_value(argc, argv, "--model");
		const char *hash = flag_value(argc, argv, "--prompt-hash");
		if (!model && !hash) {
			fprintf(stderr,
				"imagegw cache invalidate: give --model and/or --prompt-hash\n");
			rc = 2;
			goto out;
		}
		n = cache_invalidate(&cfg, db, model, hash);
	}
	if (n >= 0) {
		printf("%s: %ld entr%s removed\n", sub, n, n == 1 ? "y" : "ies");
		rc = 0;
	} else {
		fprintf(stderr, "imagegw cache %s failed (database busy?)\n", sub);
	}
out:
	db_close(db);
	config_free(&cfg);
	return rc;
}

static int cmd_help(int argc, char **argv);

static const struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;
	const char *help;
} commands[] = {
	{"version", cmd_version, "version", "print the version and library versions"},
	{"config", cmd_config, "config check | config docs",
	 "validate and print the effective configuration (secrets masked); "
	 "or print the key table as Markdown"},
	{"init", cmd_init, "init", "create data_dir, the cache directory and the database"},
	{"cache", cmd_cache, "cache stats|purge|clear",
	 "cache statistics; purge expired entries "
	 "(cron); remove everything"},
	{"cache", cmd_cache, "cache invalidate --model M --prompt-hash H",
	 "remove the entries of a model and/or prompt hash"},
	{"account", cli_account, "account add|list|remove|enable|disable|reset",
	 "the upstream key pool (see docs/operations.md)"},
	{"key", cli_key, "key create --name N [--rpm R] [--daily-images D]",
	 "create a client key, printed once; also --admin, --min-safety LEVEL"},
	{"key", cli_key, "key list | key revoke NAME-or-KEYID",
	 "list client keys (never the keys themselves); revoke one"},
	{"jobs", cli_jobs, "jobs list [--limit N] | jobs reap",
	 "list jobs; fail stalled ones and delete old ones (cron)"},
	{"jobs", cli_jobs, "jobs run JOB_ID", "run a job's worker (what a responder starts)"},
	{"gallery", cli_gallery, "gallery list [--limit N] | prune",
	 "list gallery entries; delete the oldest beyond the gallery's limits"},
	{"gallery", cli_gallery, "gallery delete ENTRY_ID",
	 "delete an entry (images other entries or the cache use stay)"},
	{"backup", cli_backup, "backup PATH",
	 "copy the live database consistently to PATH (a file or a directory), safe while "
	 "the gateway runs"},
	{"fcgi", NULL, "fcgi", "answer FastCGI requests on stdin (for spawn-fcgi)"},
	{"cgi", NULL, "cgi", "answer one CGI request from the environment and stdin"},
	{"help", cmd_help, "help", "this list"},
};

static int cmd_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("usage: imagegw <command>\n\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		printf("  %-28s %s\n", commands[i].usage, commands[i].help);
	printf("\nStarted by a web server with no command, imagegw answers HTTP requests.\n");
	return 0;
}

int cli_main(int argc, char **argv)
{
	if (argc < 2) {
		cmd_help(argc, argv);
		return 2;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (commands[i].fn && strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc, argv);
	fprintf(stderr, "imagegw: unknown command '%s' (try 'imagegw help')\n", argv[1]);
	return 2;
}
