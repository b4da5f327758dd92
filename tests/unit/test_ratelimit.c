/* Unit tests for core/ratelimit.c (SPEC 6.2): window math, CIDR lists (IPv4,
 * IPv6, prefixes, bare and IPv4-mapped addresses), the client address behind
 * trusted proxies, and — against a real temporary database — the counters:
 * exact admission, refusals that count nowhere, the tightest limit, the
 * daily image budget with its refunds, pruning, and processes racing for
 * one window. */
#include "../../core/ratelimit.c"

#include <errno.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "config.h"
#include "testdb.h"
#include "unit.h"

/* 2025-12-30T10:40:34Z: a fixed clock, 34 s into its minute. */
#define NOW	 1767091234LL
#define MINUTE_0 1767091200LL
#define DAY_0	 1767052800LL

static struct config cfg;
static sqlite3 *db;

static struct testdb tdb;

/* A new data_dir with its own database. */
static int fresh(void)
{
	memset(&cfg, 0, sizeof cfg);
	if (testdb_open(&tdb, &cfg, "rate") != 0)
		return -1;
	db = tdb.db;
	return 0;
}

static void done(void)
{
	testdb_close(&tdb);
	db = NULL;
}

/* The stored count of one window, -1 when there is no row. */
static long stored(const char *scope, long long start)
{
	sqlite3_stmt *st;
	long v = -1;
	if (sqlite3_prepare_v2(db, SQL_COUNT, -1, &st, NULL) != SQLITE_OK)
		return -2;
	sqlite3_bind_text(st, 1, scope, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, start);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = (long)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static long rows(void)
{
	sqlite3_stmt *st;
	long v = -1;
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM rate_counters", -1, &st, NULL) !=
	    SQLITE_OK)
		return -2;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = (long)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* ---- window math ------------------------------------------------------------- */

TEST(window_start_is_aligned_to_the_epoch)
{
	CHECK_INT(ratelimit_window_start(NOW, 60), MINUTE_0);
	CHECK_INT(ratelimit_window_start(MINUTE_0, 60), MINUTE_0);
	CHECK_INT(ratelimit_window_start(MINUTE_0 + 59, 60), MINUTE_0);
	CHECK_INT(ratelimit_window_start(MINUTE_0 + 60, 60), MINUTE_0 + 60);
	CHECK_INT(ratelimit_window_start(NOW, RATELIMIT_DAY), DAY_0); /* UTC midnight */
	CHECK_INT(ratelimit_window_start(DAY_0 - 1, RATELIMIT_DAY), DAY_0 - RATELIMIT_DAY);
	CHECK_INT(ratelimit_window_start(100, 7), 98);
	CHECK_INT(ratelimit_window_start(0, 60), 0);
	CHECK_INT(ratelimit_window_start(NOW, 1), NOW);
	CHECK_INT(ratelimit_window_start(NOW, 0), NOW); /* no window: no alignment */
}

/* ---- CIDR lists ---------------------------------------------------------------- */

TEST(ipv4_cidrs)
{
	CHECK(ratelimit_ip_in("10.0.0.0/8", "10.1.2.3"));
	CHECK(!ratelimit_ip_in("10.0.0.0/8", "11.0.0.1"));
	CHECK(ratelimit_ip_in("192.168.1.128/25", "192.168.1.128"));
	CHECK(ratelimit_ip_in("192.168.1.128/25", "192.168.1.255"));
	CHECK(!ratelimit_ip_in("192.168.1.128/25", "192.168.1.127"));
	CHECK(ratelimit_ip_in("172.16.0.0/12", "172.31.255.255"));
	CHECK(!ratelimit_ip_in("172.16.0.0/12", "172.32.0.0"));
	CHECK(ratelimit_ip_in("0.0.0.0/0", "203.0.113.9"));
	CHECK(!ratelimit_ip_in("0.0.0.0/0", "::1")); /* an IPv4 list says nothing of IPv6 */
	/* a bare address is a /32; host bits in the network are ignored by the mask */
	CHECK(ratelimit_ip_in("127.0.0.1", "127.0.0.1"));
	CHECK(!ratelimit_ip_in("127.0.0.1", "127.0.0.2"));
	CHECK(ratelimit_ip_in("127.0.0.1/32", "127.0.0.1"));
	CHECK(ratelimit_ip_in("10.9.9.9/8", "10.0.0.1"));
}

TEST(ipv6_cidrs)
{
	CHECK(ratelimit_ip_in("2001:db8::/32", "2001:db8:1::5"));
	CHECK(ratelimit_ip_in("2001:db8::/32", "2001:DB8:ffff:ffff::1"));
	CHECK(!ratelimit_ip_in("2001:db8::/32", "2001:db9::1"));
	CHECK(ratelimit_ip_in("fe80::/10", "febf::1"));
	CHECK(!ratelimit_ip_in("fe80::/10", "fec0::1"));
	CHECK(ratelimit_ip_in("::1", "::1")); /* bare: /128 */
	CHECK(ratelimit_ip_in("::1", "0:0:0:0:0:0:0:1"));
	CHECK(!ratelimit_ip_in("::1", "::2"));
	CHECK(ratelimit_ip_in("::1/128", "::1"));
	CHECK(ratelimit_ip_in("::/0", "2a00:1450::1"));
	CHECK(!ratelimit_ip_in("::/0", "127.0.0.1"));
	CHECK(ratelimit_ip_in("2001:db8:0:1::/64", "2001:db8:0:1:ffff:ffff:ffff:ffff"));
	CHECK(!ratelimit_ip_in("2001:db8:0:1::/64", "2001:db8:0:2::"));
	CHECK(ratelimit_ip_in("2001:db8::/127", "2001:db8::1"));
	CHECK(!ratelimit_ip_in("2001:db8::/127", "2001:db8::2"));
}

TEST(ipv4_mapped_addresses_match_ipv4_cidrs)
{
	CHECK(ratelimit_ip_in("127.0.0.1/32", "::ffff:127.0.0.1"));
	CHECK(ratelimit_ip_in("10.0.0.0/8", "::ffff:10.9.8.7"));
	CHECK(ratelimit_ip_in("10.0.0.0/8", "::FFFF:a09:807")); /* the same, in hex */
	CHECK(!ratelimit_ip_in("10.0.0.0/8", "::ffff:11.0.0.1"));
	/* and a mapped network is the IPv4 network it names */
	CHECK(ratelimit_ip_in("::ffff:10.0.0.0/104", "10.1.1.1"));
	CHECK(ratelimit_ip_in("::ffff:10.0.0.0/104", "::ffff:10.1.1.1"));
	CHECK(!ratelimit_ip_in("::ffff:10.0.0.0/104", "11.1.1.1"));
	CHECK(ratelimit_ip_in("::ffff:127.0.0.1", "127.0.0.1"));
	/* not mapped: an IPv4-compatible or other IPv6 address stays IPv6 */
	CHECK(!ratelimit_ip_in("127.0.0.1/32", "::127.0.0.1"));
	CHECK(!ratelimit_ip_in("0.0.0.0/0", "64:ff9b::7f00:1"));
}

TEST(lists_spaces_and_bad_entries)
{
	const char *list = " 192.0.2.0/24 ,, 2001:db8::/32 ,10.0.0.1";
	CHECK(ratelimit_ip_in(list, "192.0.2.77"));
	CHECK(ratelimit_ip_in(list, "2001:db8::9"));
	CHECK(ratelimit_ip_in(list, "10.0.0.1"));
	CHECK(!ratelimit_ip_in(list, "10.0.0.2"));
	/* a bad entry never matches, and does not hide the good ones */
	CHECK(ratelimit_ip_in("bogus, 10.0.0.0/8", "10.2.3.4"));
	CHECK(!ratelimit_ip_in("10.0.0.0/33", "10.0.0.1"));
	CHECK(!ratelimit_ip_in("10.0.0.0/", "10.0.0.1"));
	CHECK(!ratelimit_ip_in("10.0.0.0/8x", "10.0.0.1"));
	CHECK(!ratelimit_ip_in("10.0.0.0/-1", "10.0.0.1"));
	CHECK(!ratelimit_ip_in("::/129", "::1"));
	CHECK(!ratelimit_ip_in("::ffff:10.0.0.0/95", "10.0.0.1"));
	CHECK(!ratelimit_ip_in("10.0.0.0/8", "not-an-ip"));
	CHECK(!ratelimit_ip_in("10.0.0.0/8", ""));
	CHECK(!ratelimit_ip_in("10.0.0.0/8", NULL));
	CHECK(!ratelimit_ip_in("", "10.0.0.1"));
	CHECK(!ratelimit_ip_in(NULL, "10.0.0.1"));

	char bad[32];
	CHECK_INT(ratelimit_cidr_list_check("10.0.0.0/8, ::1, 2001:db8::/48", bad, sizeof bad), 0);
	CHECK_INT(ratelimit_cidr_list_check("", bad, sizeof bad), 0);
	CHECK_INT(ratelimit_cidr_list_check("10.0.0.0/8, bogus /8 , ::1", bad, sizeof bad), -1);
	CHECK_STR(bad, "bogus /8");
	CHECK_INT(ratelimit_cidr_list_check("1.2.3.4/40", bad, sizeof bad), -1);
	CHECK_STR(bad, "1.2.3.4/40");
}

/* ---- the client address ------------------------------------------------------------ */

static const char *client(const char *remote, const char *xff, const char *trusted)
{
	static char out[RATELIMIT_IP_LEN];
	ratelimit_client_ip(remote, xff, trusted, out, sizeof out);
	return out;
}

TEST(forwarded_for_only_from_trusted_proxies)
{
	/* no trusted proxies, or a peer that is not one: the header is ignored */
	CHECK_STR(client("198.51.100.4", "203.0.113.7", ""), "198.51.100.4");
	CHECK_STR(client("198.51.100.4", "203.0.113.7", NULL), "198.51.100.4");
	CHECK_STR(client("198.51.100.4", "203.0.113.7", "10.0.0.0/8"), "198.51.100.4");
	/* a trusted peer: its header names the client */
	CHECK_STR(client("10.0.0.1", "203.0.113.7", "10.0.0.0/8"), "203.0.113.7");
	/* a trusted peer without the header: the peer */
	CHECK_STR(client("10.0.0.1", "", "10.0.0.0/8"), "10.0.0.1");
	CHECK_STR(client("10.0.0.1", NULL, "10.0.0.0/8"), "10.0.0.1");
}

TEST(forwarded_for_walks_from_the_right)
{
	const char *t = "10.0.0.0/8, 2001:db8:ffff::/48";
	/* the client prepends a lie; our proxies append what they saw */
	CHECK_STR(client("10.0.0.1", "1.1.1.1, 203.0.113.7, 10.0.0.2", t), "203.0.113.7");
	CHECK_STR(client("10.0.0.1", "1.1.1.1,203.0.113.7", t), "203.0.113.7");
	/* every hop trusted: the leftmost is as far as we can see */
	CHECK_STR(client("10.0.0.1", "10.0.0.3, 10.0.0.2", t), "10.0.0.3");
	/* garbage where an address should be: stop at the last one we could read */
	CHECK_STR(client("10.0.0.1", "1.1.1.1, garbage", t), "10.0.0.1");
	CHECK_STR(client("10.0.0.1", "garbage, 10.0.0.2", t), "10.0.0.2");
	/* empty entries are skipped */
	CHECK_STR(client("10.0.0.1", "203.0.113.7, , ", t), "203.0.113.7");
	/* ports and brackets */
	CHECK_STR(client("10.0.0.1", "203.0.113.7:4711", t), "203.0.113.7");
	CHECK_STR(client("10.0.0.1", "[2001:db8::1]:443", t), "2001:db8::1");
	CHECK_STR(client("10.0.0.1", "2001:db8::1", t), "2001:db8::1");
	/* IPv6 proxies, and canonical output */
	CHECK_STR(client("2001:db8:ffff::5", "2001:DB8:0:0::1, 2001:db8:ffff::6", t),
		  "2001:db8::1");
	/* an IPv4-mapped peer is the IPv4 peer; mapped hops print as IPv4 */
	CHECK_STR(client("::ffff:10.0.0.1", "::ffff:203.0.113.7", t), "203.0.113.7");
	CHECK_STR(client("::ffff:198.51.100.4", "", t), "198.51.100.4");
	/* an unparsable peer (a unix socket) is passed on as it is */
	CHECK_STR(client("unix:/run/x.sock", "203.0.113.7", "0.0.0.0/0"), "unix:/run/x.sock");
	CHECK_STR(client("", "203.0.113.7", t), "");
}

TEST(ip_scope_counts_ipv6_by_its_64)
{
	char s[80];
	ratelimit_ip_scope("203.0.113.7", s, sizeof s);
	CHECK_STR(s, "ip:203.0.113.7");
	ratelimit_ip_scope("::ffff:203.0.113.7", s, sizeof s);
	CHECK_STR(s, "ip:203.0.113.7");
	ratelimit_ip_scope("2001:db8:1:2:3:4:5:6", s, sizeof s);
	CHECK_STR(s, "ip:2001:db8:1:2::/64");
	ratelimit_ip_scope("2001:db8:1:2::99", s, sizeof s);
	CHECK_STR(s, "ip:2001:db8:1:2::/64");
	ratelimit_ip_scope("odd", s, sizeof s);
	CHECK_STR(s, "ip:odd");
}

/* ---- the counters ------------------------------------------------------------------ */

TEST(exactly_the_limit_is_admitted)
{
	if (fresh() != 0) {
		CHECK(0);
		return;
	}
	struct rate_subject s = {.key_id = 7, .key_rpm = 3, .window = 60};
	struct rate_decision d;
	for (int i = 0; i < 3; i++) {
		CHECK_INT(ratelimit_check(db, &s, NOW, &d), 0);
		CHECK(d.allowed);
		CHECK(d.applied);
		CHECK_STR(d.scope, "key");
		CHECK_INT(d.limit, 3);
		CHECK_INT(d.remaining, 2 - i);
		CHECK_INT(d.reset, MINUTE_0 + 60);
		CHECK_INT(d.retry_after, 0);
	}
	for (int i = 0; i < 3; i++) {
		CHECK_INT(ratelimit_check(db, &s, NOW + i, &d), 0);
		CHECK(!d.allowed);
		CHECK_INT(d.remaining, 0);
		CHECK_INT(d.reset, MINUTE_0 + 60);
		CHECK_INT(d.retry_after, MINUTE_0 + 60 - (NOW + i));
	}
	CHECK_INT(stored("key:7", MINUTE_0), 3); /* refusals were not counted */
	CHECK_INT(db_counter_get(db, "rate_limited_key"), 3);
	/* the next minute is a new window */
	CHECK_INT(ratelimit_check(db, &s, MINUTE_0 + 60, &d), 0);
	CHECK(d.allowed);
	CHECK_INT(d.remaining, 2);
	CHECK_INT(stored("key:7", MINUTE_0 + 60), 1);
	/* another key has its own count */
	s.key_id = 8;
	CHECK_INT(ratelimit_check(db, &s, NOW, &d), 0);
	CHECK(d.allowed);
	CHECK_INT(stored("key:8", MINUTE_0), 1);
	done();
}

TEST(a_refusal_counts_against_no_other_limit)
{
	if (fresh() != 0) {
		CHECK(0);
		return;
	}
	struct rate_subject s = {.key_id = 1, .key_rpm = 2, .global_limit = 100, .window = 600};
	struct rate_decision d;
	for (int i = 0; i < 5; i++)
		CHECK_INT(ratelimit_check(db, &s, NOW, &d), 0);
	CHECK(!d.allowed);
	CHECK_STR(d.scope, "key");
	CHECK_INT(stored("key:1", MINUTE_0), 2);
	CHECK_INT(stored("global", ratelimit_window_start(NOW, 600)), 2);
	/* and the other way round: the global limit refuses, the key is not charged */
	struct rate_subject g = {.key_id = 2, .key_rpm = 50, .global_limit = 3, .window = 600};
	CHECK_INT(ratelimit_check(db, &g, NOW, &d), 0);
	CHECK(d.allowed); /* the global window's third */
	CHECK_INT(ratelimit_check(db, &g, NOW, &d), 0);
	CHECK(!d.allowed);
	CHECK_STR(d.scope, "global");
	CHECK_INT(d.limit, 3);
	CHECK_INT(d.reset, ratelimit_window_start(NOW, 600) + 600);
	CHECK_INT(stored("key:2", MINUTE_0), 1);
	CHECK_INT(db_counter_get(db, "rate_limited_global"), 1);
	done();
}

TEST(the_tightest_limit_is_reported)
{
	if (fresh() != 0) {
		CHECK(0);
		return;
	}
	struct rate_subject s = {
		.ip = "203.0.113.7", .ip_limit = 5, .global_limit = 3, .window = 30};
	struct rate_decision d;
	CHECK_INT(ratelimit_check(db, &s, NOW, &d), 0);
	CHECK(d.allowed);
	CHECK_STR(d.scope, "global");
	CHECK_INT(d.remaining, 2);
	CHECK_INT(d.reset, ratelimit_window_start(NOW, 30) + 30);
	CHECK_INT(stored("ip:203.0.113.7", ratelimit_window_start(NOW, 30)), 1);
	s.global_limit = 0;
	CHECK_INT(ratelimit_check(db, &s, NOW, &d), 0);
	CHECK_STR(d.scope, "ip");
	CHECK_INT(d.remaining, 3);
	/* both refuse: the one that frees up last sets Retry-After */
	struct rate_subject k = {.key_id = 3, .key_rpm = 1, .global_limit = 1, .window = 3600};
	CHECK_INT(ratelimit_check(db, &k, NOW, &d), 0);
	CHECK(d.allowed);
	CHECK_INT(ratelimit_check(db, &k, NOW, &d), 0);
	CHECK(!d.allowed);
	CHECK_STR(d.scope, "global");
	CHECK_INT(d.retry_after, ratelimit_window_start(NOW, 3600) + 3600 - NOW);
	done();
}

TEST(no_limit_no_database_work)
{
	struct rate_subject s = {.key_id = 4, .ip = "198.51.100.1", .window = 60};
	struct rate_decision d;
	/* nothing applies: allowed even without a database, and nothing to report */
	CHECK_INT(ratelimit_check(NULL, &s, NOW, &d), 0);
	CHECK(d.allowed);
	CHECK(!d.applied);
	/* a limit but no database: let through, and say so */
	s.key_rpm = 1;
	CHECK_INT(ratelimit_check(NULL, &s, NOW, &d), -1);
	CHECK(d.allowed);
	if (fresh() != 0) {
		CHECK(0);
		return;
	}
	s.key_rpm = 0;
	CHECK_INT(ratelimit_check(db, &s, NOW, &d), 0);
	CHECK_INT(rows(), 0);
	done();
}

TEST(daily_images_reserve_and_refund)
{
	if (fresh() != 0) {
		CHECK(0);
		return;
	}
	struct rate_decision d;
	long long day = 0;
	CHECK_INT(ratelimit_images_reserve(db, 9, 3, 2, NOW, &d, &day), 0);
	CHECK(d.allowed);
	CHECK_INT(day, DAY_0);
	CHECK_STR(d.scope, "images");
	CHECK_INT(d.remaining, 1);
	CHECK_INT(d.reset, DAY_0 + RATELIMIT_DAY);
	/* 2 more would make 4 > 3: refused, nothing reserved */
	CHECK_INT(ratelimit_images_reserve(db, 9, 3, 2, NOW, &d, &day), 0);
	CHECK(!d.allowed);
	CHECK_INT(d.remaining, 1);
	CHECK_INT(d.retry_after, DAY_0 + RATELIMIT_DAY - NOW);
	CHECK_INT(stored("img:9", DAY_0), 2);
	CHECK_INT(db_counter_get(db, "rate_limited_images"), 1);
	/* one of the two was a cache hit: refunded, and now 2 fit */
	CHECK_INT(ratelimit_images_refund(db, 9, day, 1), 0);
	CHECK_INT(stored("img:9", DAY_0), 1);
	CHECK_INT(ratelimit_images_reserve(db, 9, 3, 2, NOW, &d, &day), 0);
	CHECK(d.allowed);
	CHECK_INT(d.remaining, 0);
	CHECK_INT(stored("img:9", DAY_0), 3);
	/* a refund never goes below zero */
	CHECK_INT(ratelimit_images_refund(db, 9, day, 10), 0);
	CHECK_INT(stored("img:9", DAY_0), 0);
	CHECK_INT(ratelimit_images_refund(db, 9, day, 0), 0);
	/* more than the whole budget can never fit */
	CHECK_INT(ratelimit_images_reserve(db, 9, 3, 4, NOW, &d, &day), 0);
	CHECK(!d.allowed);
	/* the next UTC day starts from zero */
	CHECK_INT(ratelimit_images_reserve(db, 9, 3, 3, NOW - 34 * 3600, &d, &day), 0);
	CHECK(d.allowed);
	CHECK_INT(day, DAY_0 - RATELIMIT_DAY);
	/* no limit, or no key: nothing to do */
	CHECK_INT(ratelimit_images_reserve(db, 9, 0, 5, NOW, &d, &day), 0);
	CHECK(d.allowed);
	CHECK(!d.applied);
	CHECK_INT(ratelimit_images_reserve(NULL, 9, 3, 1, NOW, &d, &day), -1);
	CHECK(d.allowed);
	done();
}

TEST(prune_drops_old_windows_a_bounded_number_at_a_time)
{
	if (fresh() != 0) {
		CHECK(0);
		return;
	}
	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	for (int i = 0; i < 600; i++) {
		char scope[32];
		snprintf(scope, sizeof scope, "ip:192.0.2.%d", i % 250);
		counter_add(db, scope, NOW - 3 * RATELIMIT_DAY - i * 60, 1);
	}
	counter_add(db, "img:1", DAY_0, 4);			   /* today */
	counter_add(db, "img:1", DAY_0 - RATELIMIT_DAY, 4);	   /* yesterday */
	counter_add(db, "key:1", NOW - 2 * RATELIMIT_DAY + 60, 1); /* ended a day ago */
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	CHECK_INT(rows(), 603);
	db_begin(db);
	prune(db, NOW);
	db_commit(db);
	CHECK_INT(rows(), 103);
	db_begin(db);
	prune(db, NOW);
	db_commit(db);
	CHECK_INT(rows(), 3);
	CHECK_INT(stored("img:1", DAY_0), 4);
	CHECK_INT(stored("img:1", DAY_0 - RATELIMIT_DAY), 4);
	done();
}

/* Processes racing for one window, each with its own connection, as the
 * FastCGI responders do: exactly the limit is admitted. */
TEST(racing_processes_admit_exactly_the_limit)
{
	enum { PROCS = 8, EACH = 10, LIMIT = 25 };
	if (fresh() != 0) {
		CHECK(0);
		return;
	}
	pid_t pids[PROCS];
	for (int p = 0; p < PROCS; p++) {
		pids[p] = fork();
		if (pids[p] == 0) {
			char err[256];
			sqlite3 *mine = db_open(&cfg, err, sizeof err);
			int admitted = 0;
			struct rate_subject s = {.key_id = 5, .key_rpm = LIMIT, .window = 60};
			for (int i = 0; mine && i < EACH; i++) {
				struct rate_decision d;
				if (ratelimit_check(mine, &s, NOW, &d) == 0 && d.allowed)
					admitted++;
			}
			_exit(mine ? admitted : 100);
		}
	}
	int total = 0;
	for (int p = 0; p < PROCS; p++) {
		int st = 0;
		waitpid(pids[p], &st, 0);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) <= EACH);
		total += WEXITSTATUS(st);
	}
	CHECK_INT(total, LIMIT);
	CHECK_INT(stored("key:5", MINUTE_0), LIMIT);
	CHECK_INT(db_counter_get(db, "rate_limited_key"), PROCS * EACH - LIMIT);
	done();
}

int main(void)
{
	RUN(window_start_is_aligned_to_the_epoch);
	RUN(ipv4_cidrs);
	RUN(ipv6_cidrs);
	RUN(ipv4_mapped_addresses_match_ipv4_cidrs);
	RUN(lists_spaces_and_bad_entries);
	RUN(forwarded_for_only_from_trusted_proxies);
	RUN(forwarded_for_walks_from_the_right);
	RUN(ip_scope_counts_ipv6_by_its_64);
	RUN(exactly_the_limit_is_admitted);
	RUN(a_refusal_counts_against_no_other_limit);
	RUN(the_tightest_limit_is_reported);
	RUN(no_limit_no_database_work);
	RUN(daily_images_reserve_and_refund);
	RUN(prune_drops_old_windows_a_bounded_number_at_a_time);
	RUN(racing_processes_admit_exactly_the_limit);
	UNIT_DONE();
}
