/* `imagegw key ...`: the operator hands out, lists and revokes client keys
 * (SPEC 2.9).  A new key is printed once, alone on stdout, so a script can
 * capture it; everything else goes to stderr. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "cli.h"
#include "clientkey.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "safety.h"

static int usage(void)
{
	fprintf(stderr, "usage: imagegw key create --name N [--rpm R] [--daily-images D] [--admin] "
			"[--min-safety OFF|LOW|MEDIUM|HIGH]\n"
			"       imagegw key list\n"
			"       imagegw key revoke NAME-or-KEYID\n");
	return 2;
}

/* A positive count from the command line; 0 and a message if it is not one. */
static long count_arg(const char *flag, const char *v)
{
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < 1 || n > 1000000000L) {
		fprintf(stderr, "imagegw key create: %s wants a whole number from 1 up, not '%s'\n",
			flag, v);
		return 0;
	}
	return n;
}

/* Reads create's flags into spec; 0, or 2 (usage) after a message. */
static int create_args(int argc, char **argv, struct client *spec)
{
	clientkey_clear(spec);
	int have_name = 0;
	for (int i = 3; i < argc; i++) {
		const char *f = argv[i];
		if (strcmp(f, "--admin") == 0) {
			spec->admin = 1;
			continue;
		}
		int valued = strcmp(f, "--name") == 0 || strcmp(f, "--rpm") == 0 ||
			     strcmp(f, "--daily-images") == 0 || strcmp(f, "--min-safety") == 0;
		if (!valued) {
			fprintf(stderr, "imagegw key create: unknown argument '%s'\n", f);
			return usage();
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "imagegw key create: %s needs a value\n", f);
			return usage();
		}
		const char *v = argv[++i];
		if (strcmp(f, "--name") == 0) {
			if (strlen(v) >= sizeof spec->name) {
				fprintf(stderr,
					"imagegw key create: a name has at most %zu characters\n",
					sizeof spec->name - 1);
				return 2;
			}
			snprintf(spec->name, sizeof spec->name, "%s", v);
			have_name = 1;
		} else if (strcmp(f, "--rpm") == 0) {
			if (!(spec->rpm = count_arg(f, v)))
				return 2;
		} else if (strcmp(f, "--daily-images") == 0) {
			if (!(spec->daily_images = count_arg(f, v)))
				return 2;
		} else {
			spec->min_safety = safety_parse(v);
			if (spec->min_safety < 0) {
				fprintf(stderr,
					"imagegw key create: --min-safety is OFF, LOW, MEDIUM or "
					"HIGH, not '%s'\n",
					v);
				return 2;
			}
		}
	}
	if (!have_name) {
		fprintf(stderr, "imagegw key create: --name is required\n");
		return usage();
	}
	return 0;
}

static void print_limit(long v, char *out, size_t len)
{
	if (v > 0)
		snprintf(out, len, "%ld", v);
	else
		snprintf(out, len, "-");
}

static int cmd_create(struct sqlite3 *db, const struct client *spec)
{
	char key[CLIENTKEY_LEN + 1], err[256];
	if (clientkey_create(db, spec, key, err, sizeof err) != 0) {
		fprintf(stderr, "imagegw key create: %s\n", err);
		return 1;
	}
	char rpm[24], daily[24];
	print_limit(spec->rpm, rpm, sizeof rpm);
	print_limit(spec->daily_images, daily, sizeof daily);
	printf("%s\n", key);
	fflush(stdout);
	fprintf(stderr,
		"created key '%s' (key id %.*s; rpm %s, daily images %s, admin %s, "
		"min safety %s)\n"
		"The key above is shown only this once: store it now.  Clients send it as "
		"'Authorization: Bearer <key>'.\n",
		spec->name, CLIENTKEY_ID_LEN, key + 4, rpm, daily, spec->admin ? "yes" : "no",
		spec->min_safety >= 0 ? safety_name((enum safety_level)spec->min_safety) : "-");
	OPENSSL_cleanse(key, sizeof key);
	return 0;
}

static void format_time(long long t, char *out, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (t <= 0 || !gmtime_r(&tt, &tm) || !strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, len, "never");
}

static void print_row(const struct client *c, void *arg)
{
	(void)arg;
	char rpm[24], daily[24], created[32], used[32];
	print_limit(c->rpm, rpm, sizeof rpm);
	print_limit(c->daily_images, daily, sizeof daily);
	format_time(c->created, created, sizeof created);
	format_time(c->last_used, used, sizeof used);
	printf("%-20s %-12s %6s %7s %-5s %-10s %-7s %-20s %s\n", c->name, c->key_id, rpm, daily,
	       c->admin ? "yes" : "no",
	       c->min_safety >= 0 ? safety_name((enum safety_level)c->min_safety) : "-",
	       c->revoked ? "revoked" : "active", created, used);
}

static int cmd_list(struct sqlite3 *db)
{
	printf("%-20s %-12s %6s %7s %-5s %-10s %-7s %-20s %s\n", "NAME", "KEY_ID", "RPM", "DAILY",
	       "ADMIN", "MIN_SAFETY", "STATE", "CREATED", "LAST_USED");
	int n = clientkey_list(db, print_row, NULL);
	if (n < 0) {
		fprintf(stderr, "imagegw key list: cannot read the keys (database busy?)\n");
		return 1;
	}
	if (n == 0)
		fprintf(stderr, "no client keys yet: imagegw key create --name N\n");
	return 0;
}

static int cmd_revoke(struct sqlite3 *db, const char *which)
{
	struct client c;
	switch (clientkey_revoke(db, which, &c)) {
	case CLIENTKEY_FOUND: printf("revoked key '%s' (%s)\n", c.name, c.key_id); return 0;
	case CLIENTKEY_REVOKED:
		printf("key '%s' (%s) was already revoked\n", c.name, c.key_id);
		return 0;
	case CLIENTKEY_NOT_FOUND:
		fprintf(stderr, "imagegw key revoke: no key named '%s' (see imagegw key list)\n",
			which);
		return 1;
	case CLIENTKEY_ERROR: break;
	}
	fprintf(stderr, "imagegw key revoke: database error (busy?); nothing changed\n");
	return 1;
}

int cli_key(int argc, char **argv)
{
	const char *sub = argc >= 3 ? argv[2] : "";
	struct client spec;
	if (strcmp(sub, "create") == 0) {
		int rc = create_args(argc, argv, &spec);
		if (rc)
			return rc;
	} else if (strcmp(sub, "list") == 0) {
		if (argc != 3)
			return usage();
	} else if (strcmp(sub, "revoke") == 0) {
		if (argc != 4 || !argv[3][0])
			return usage();
	} else {
		return usage();
	}
	struct config cfg;
	struct buf errs = BUF_INIT, warns = BUF_INIT;
	struct sqlite3 *db = NULL;
	int rc = 1;
	if (config_load(&cfg, &errs, &warns) != 0) {
		fputs(buf_cstr(&errs), stderr);
		goto out;
	}
	log_default();
	char err[256];
	db = db_open(&cfg, err, sizeof err);
	if (!db) {
		fprintf(stderr, "imagegw key %s: %s\n", sub, err);
		goto out;
	}
	if (strcmp(sub, "create") == 0)
		rc = cmd_create(db, &spec);
	else if (strcmp(sub, "list") == 0)
		rc = cmd_list(db);
	else
		rc = cmd_revoke(db, argv[3]);
out:
	buf_free(&errs);
	buf_free(&warns);
	db_close(db);
	config_free(&cfg);
	return rc;
}
