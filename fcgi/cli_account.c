/* `imagegw account ...`: the operator's view of the upstream key pool. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "pool.h"
#include "vertex.h"

static const char *opt(int argc, char **argv, const char *flag)
{
	for (int i = 3; i + 1 < argc; i++)
		if (strcmp(argv[i], flag) == 0)
			return argv[i + 1];
	return NULL;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: imagegw account add --provider gemini|openai --label L "
		"(--key-file F | --key-env VAR) [--daily N] [--rpm R]\n"
		"       imagegw account add --provider vertex --label L --service-account "
		"FILE.json [--project P] [--location global|REGION] [--daily N] [--rpm R]\n"
		"       imagegw account list | remove L | enable L | disable L | reset [L] | test "
		"L\n");
	return 2;
}

int cli_account(int argc, char **argv)
{
	const char *sub = argc >= 3 ? argv[2] : "";
	const char *label = argc >= 4 ? argv[3] : NULL;
	if (!*sub)
		return usage();
	struct config cfg;
	struct buf errs = BUF_INIT, warns = BUF_INIT;
	int rc = 1;
	char err[256] = "";
	struct sqlite3 *db = NULL;
	if (config_load(&cfg, &errs, &warns) != 0) {
		fputs(buf_cstr(&errs), stderr);
		goto out;
	}
	log_default();
	db = db_open(&cfg, err, sizeof err);
	if (!db)
		goto out;
	/* The list reflects the environment's keys as the responders see them. */
	pool_sync(&cfg, db);
	vertex_sync_dir(&cfg, db);
	if (strcmp(sub, "list") == 0) {
		rc = pool_list(db, stdout) == 0 ? 0 : 1;
	} else if (strcmp(sub, "add") == 0) {
		const char *daily = opt(argc, argv, "--daily"), *rpm = opt(argc, argv, "--rpm");
		const char *provider = opt(argc, argv, "--provider");
		if (provider && strcmp(provider, "vertex") == 0) {
			if (vertex_account_add(db, opt(argc, argv, "--label"),
					       opt(argc, argv, "--service-account"),
					       opt(argc, argv, "--project"),
					       opt(argc, argv, "--location"),
					       daily ? atol(daily) : 0, rpm ? atol(rpm) : 0, err,
					       sizeof err) == 0) {
				printf("added %s (the service-account key is stored in the "
				       "database, never shown)\n",
				       opt(argc, argv, "--label"));
				rc = 0;
			}
		} else if (pool_add(db, provider ? provider : "gemini", opt(argc, argv, "--label"),
				    opt(argc, argv, "--key-file"), opt(argc, argv, "--key-env"),
				    daily ? atol(daily) : 0, rpm ? atol(rpm) : 0, err,
				    sizeof err) == 0) {
			printf("added %s (the key is stored, never shown)\n",
			       opt(argc, argv, "--label"));
			rc = 0;
		}
	} else if (strcmp(sub, "reset") == 0) {
		rc = pool_reset(db, label, err, sizeof err) == 0 ? 0 : 1;
		if (!rc)
			printf("cooldowns and failure counts cleared for %s\n",
			       label ? label : "all keys");
	} else if (label && strcmp(sub, "test") == 0) {
		char report[512];
		rc = vertex_account_test(&cfg, db, label, report, sizeof report) == 0 ? 0 : 1;
		printf("%s: %s\n", label, report);
	} else if (label && strcmp(sub, "remove") == 0) {
		rc = pool_remove(db, label, err, sizeof err) == 0 ? 0 : 1;
	} else if (label && (strcmp(sub, "enable") == 0 || strcmp(sub, "disable") == 0)) {
		rc = pool_set_enabled(db, label, strcmp(sub, "enable") == 0, err, sizeof err) == 0
			     ? 0
			     : 1;
	} else {
		rc = usage();
	}
out:
	if (err[0])
		fprintf(stderr, "imagegw account %s: %s\n", sub, err);
	db_close(db);
	config_free(&cfg);
	buf_free(&errs);
	buf_free(&warns);
	return rc;
}
