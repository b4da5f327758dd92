/* The operator's face: `imagegw <command> [args]`. */
#ifndef IMAGEGW_CLI_H
#define IMAGEGW_CLI_H

/* Runs the command in argv[1..]; returns the process exit status. */
int cli_main(int argc, char **argv);
/* imagegw account ... (fcgi/cli_account.c) */
int cli_account(int argc, char **argv);
/* imagegw key ... (fcgi/cli_key.c) */
int cli_key(int argc, char **argv);
/* imagegw jobs ... and imagegw gallery ... (fcgi/cli_jobs.c) */
int cli_jobs(int argc, char **argv);
int cli_gallery(int argc, char **argv);
/* imagegw backup PATH (fcgi/cli_backup.c) */
int cli_backup(int argc, char **argv);

#endif
