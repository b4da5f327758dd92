/* Operator commands, as a table: `imagegw help` lists them.  Each command
 * loads the same configuration the responders use. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

#include "buf.h"
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
