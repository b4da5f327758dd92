/* `imagegw backup PATH`: a consistent copy of the live database, safe while
 * the responders write (core/backup.c).  Restoring is a file copy with the
 * gateway stopped; see docs/operations.md#backups. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backup.h"
#include "cli.h"
#include "config.h"
#include "db.h"
#include "log.h"

static int usage(void)
{
	fprintf(stderr, "usage: imagegw backup PATH [--step-pages N] [--pause-ms MS]\n"
			"  PATH: a file, or a directory that receives imagegw-<UTC time>.db\n");
	return 2;
}

/* A non-negative integer flag value, or -1 when absent or malformed. */
static int int_flag(int argc, char **argv, const char *flag, int *bad)
{
	for (int i = 3; i + 1 < argc; i++) {
		if (strcmp(argv[i], flag) != 0)
			continue;
		char *end;
		long v = strtol(argv[i + 1], &end, 10);
		if (*end || end == argv[i + 1] || v < 0 || v > 1000000) {
			*bad = 1;
			return -1;
		}
		return (int)v;
	}
	return -1;
}

int cli_backup(int argc, char **argv)
{
	if (argc < 3 || argv[2][0] == '-' || argc % 2 == 0)
		return usage();
	int bad = 0;
	struct backup_opts o = {int_flag(argc, argv, "--step-pages", &bad),
				int_flag(argc, argv, "--pause-ms", &bad), -1};
	for (int i = 3; i < argc; i += 2)
		if (strcmp(argv[i], "--step-pages") != 0 && strcmp(argv[i], "--pause-ms") != 0)
			bad = 1;
	if (bad)
		return usage();
	struct config cfg;
	struct buf errs = BUF_INIT, warns = BUF_INIT;
	struct sqlite3 *db = NULL;
	char err[512] = "";
	int rc = 1;
	if (config_load(&cfg, &errs, &warns) != 0) {
		fputs(buf_cstr(&errs), stderr);
		goto out;
	}
	log_default();
	db = db_open(&cfg, err, sizeof err);
	if (!db)
		goto out;
	struct backup_report r;
	if (backup_run(&cfg, db, argv[2], &o, &r, err, sizeof err) != 0)
		goto out;
	printf("backup: %s (%ld pages of %d bytes, %d steps, %d restarts%s, %.2f s)\n", r.path,
	       r.pages, r.page_size, r.steps, r.restarts,
	       r.snapshot ? ", finished as one snapshot" : "", r.seconds);
	rc = 0;
out:
	if (err[0])
		fprintf(stderr, "imagegw backup: %s\n", err);
	db_close(db);
	config_free(&cfg);
	buf_free(&errs);
	buf_free(&warns);
	return rc;
}
