/* Fixed-window rate limits in SQLite and the client address they count.
 * One request's limits are read, judged and counted inside one BEGIN
 * IMMEDIATE transaction, which serialises every process's check: a window
 * can never admit more than its limit, however many requests race for it. */
#include "ratelimit.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "db.h"
#include "log.h"

/* Windows that ended more than a day ago go; no window is longer than a
 * day, so anything that started two days back has ended a day ago. */
#define PRUNE_AGE   (2 * RATELIMIT_DAY)
#define PRUNE_ROWS  500
#define PRUNE_EVERY 32 /* one transaction in this many, on average */

#define SQL_COUNT "SELECT count FROM rate_counters WHERE scope = :scope AND window_start = :start"
#define SQL_ADD                                                                                    \
	"INSERT INTO rate_counters(scope, window_start, count) VALUES (:scope, :start, :n) "       \
	"ON CONFLICT(scope, window_start) DO UPDATE SET count = count + excluded.count"
#define SQL_REFUND                                                                                 \
	"UPDATE rate_counters SET count = max(count - :n, 0) "                                     \
	"WHERE scope = :scope AND window_start = :start"
#define SQL_PRUNE                                                                                  \
	"DELETE FROM rate_counters WHERE (scope, window_start) IN "                                \
	"(SELECT scope, window_start FROM rate_counters WHERE window_start < :cutoff LIMIT :max)"

long long ratelimit_window_start(long long now, int window)
{
	if (window <= 0)
		return now;
	long long r = now % window;
	if (r < 0)
		r += window;
	return now - r;
}

/* ---- the counters ---------------------------------------------------------- */

struct limit {
	char scope[80];
	const char *kind;
	long limit;
	long long start, reset;
	long count;
};

/* The count of one window (0 when it has none yet); -1 on error. */
static long counter_get(sqlite3 *db, const char *scope, long long start)
{
	sqlite3_stmt *st = db_stmt(db, SQL_COUNT);
	if (!st)
		return -1;
	db_bind_text(st, ":scope", scope);
	db_bind_int64(st, ":start", start);
	int rc = sqlite3_step(st);
	long v = rc == SQLITE_ROW ? (long)sqlite3_column_int64(st, 0) : rc == SQLITE_DONE ? 0 : -1;
	sqlite3_reset(st);
	return v;
}

static int counter_add(sqlite3 *db, const char *scope, long long start, long n)
{
	sqlite3_stmt *st = db_stmt(db, SQL_ADD);
	if (!st)
		return -1;
	db_bind_text(st, ":scope", scope);
	db_bind_int64(st, ":start", start);
	db_bind_int64(st, ":n", n);
	int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_reset(st);
	return rc;
}

/* Inside a write transaction already held: drops up to PRUNE_ROWS
 * long-ended windows. */
static void prune(sqlite3 *db, long long now)
{
	sqlite3_stmt *st = db_stmt(db, SQL_PRUNE);
	if (!st)
		return;
	db_bind_int64(st, ":cutoff", now - PRUNE_AGE);
	db_bind_int64(st, ":max", PRUNE_ROWS);
	if (sqlite3_step(st) != SQLITE_DONE)
		log_msg(LOG_WARN, "rate limits: pruning old windows failed: %s",
			sqlite3_errmsg(db));
	sqlite3_reset(st);
}

/* Prunes now and then.  A chance, not a per-process clock, so one-request
 * CGI processes do not prune every time. */
static void maybe_prune(sqlite3 *db, long long now)
{
	static unsigned int seed;
	if (!seed)
		seed = (unsigned int)getpid() ^ (unsigned int)time(NULL) ^ 0x9e3779b9u;
	if (rand_r(&seed) % PRUNE_EVERY == 0)
		prune(db, now);
}

/* Counts a refusal for the metrics (imagegw_rate_limited_total{scope}). */
static void count_refusal(sqlite3 *db, const char *kind)
{
	char name[48];
	snprintf(name, sizeof name, "rate_limited_%s", kind);
	db_counter_add(db, name, 1);
}

static void decide(struct rate_decision *d, const struct limit *l, long remaining, long long now)
{
	d->applied = 1;
	d->scope = l->kind;
	d->limit = l->limit;
	d->remaining = remaining < 0 ? 0 : remaining;
	d->reset = l->reset;
	long long wait = l->reset - now;
	d->retry_after = d->allowed ? 0 : wait < 1 ? 1 : (int)wait;
}

static void fail(sqlite3 *db, const char *what)
{
	log_msg(LOG_WARN, "rate limits: %s failed (%s); the request is let through", what,
		sqlite3_errmsg(db));
	db_rollback(db);
}

int ratelimit_check(sqlite3 *db, const struct rate_subject *s, long long now,
		    struct rate_decision *d)
{
	struct limit lim[3];
	int n = 0;
	memset(d, 0, sizeof *d);
	d->allowed = 1;
	if (s->key_id > 0 && s->key_rpm > 0) {
		struct limit *l = &lim[n++];
		snprintf(l->scope, sizeof l->scope, "key:%lld", s->key_id);
		l->kind = "key";
		l->limit = s->key_rpm;
		l->start = ratelimit_window_start(now, RATELIMIT_MINUTE);
		l->reset = l->start + RATELIMIT_MINUTE;
	}
	if (s->ip && s->ip[0] && s->ip_limit > 0) {
		struct limit *l = &lim[n++];
		ratelimit_ip_scope(s->ip, l->scope, sizeof l->scope);
		l->kind = "ip";
		l->limit = s->ip_limit;
		l->start = ratelimit_window_start(now, s->window);
		l->reset = l->start + (s->window > 0 ? s->window : 1);
	}
	if (s->global_limit > 0) {
		struct limit *l = &lim[n++];
		snprintf(l->scope, sizeof l->scope, "global");
		l->kind = "global";
		l->limit = s->global_limit;
		l->start = ratelimit_window_start(now, s->window);
		l->reset = l->start + (s->window > 0 ? s->window : 1);
	}
	if (n == 0)
		return 0;
	if (!db)
		return -1;
	if (db_begin(db) != SQLITE_OK) {
		log_msg(LOG_WARN,
			"rate limits: cannot lock the database (%s); the request is "
			"let through",
			sqlite3_errmsg(db));
		return -1;
	}
	const struct limit *refused = NULL;
	for (int i = 0; i < n; i++) {
		lim[i].count = counter_get(db, lim[i].scope, lim[i].start);
		if (lim[i].count < 0) {
			fail(db, "reading a counter");
			return -1;
		}
		if (lim[i].count >= lim[i].limit && (!refused || lim[i].reset > refused->reset))
			refused = &lim[i];
	}
	if (refused) {
		/* Nothing is counted: a refused request costs the client nothing. */
		d->allowed = 0;
		decide(d, refused, refused->limit - refused->count, now);
		count_refusal(db, refused->kind);
		if (db_commit(db) != SQLITE_OK)
			db_rollback(db);
		return 0;
	}
	const struct limit *tight = NULL;
	for (int i = 0; i < n; i++) {
		if (counter_add(db, lim[i].scope, lim[i].start, 1) != 0) {
			fail(db, "counting the request");
			return -1;
		}
		lim[i].count++;
		if (!tight || lim[i].limit - lim[i].count < tight->limit - tight->count)
			tight = &lim[i];
	}
	maybe_prune(db, now);
	if (db_commit(db) != SQLITE_OK) {
		fail(db, "commit");
		return -1;
	}
	decide(d, tight, tight->limit - tight->count, now);
	return 0;
}

int ratelimit_images_reserve(sqlite3 *db, long long key_id, long limit, int n, long long now,
			     struct rate_decision *d, long long *day)
{
	memset(d, 0, sizeof *d);
	d->allowed = 1;
	*day = ratelimit_window_start(now, RATELIMIT_DAY);
	if (key_id <= 0 || limit <= 0 || n <= 0)
		return 0;
	if (!db)
		return -1;
	struct limit l = {.kind = "images", .limit = limit, .start = *day};
	snprintf(l.scope, sizeof l.scope, "img:%lld", key_id);
	l.reset = l.start + RATELIMIT_DAY;
	if (db_begin(db) != SQLITE_OK) {
		log_msg(LOG_WARN,
			"daily images: cannot lock the database (%s); the request is "
			"let through",
			sqlite3_errmsg(db));
		return -1;
	}
	l.count = counter_get(db, l.scope, l.start);
	if (l.count < 0) {
		fail(db, "reading the daily image count");
		return -1;
	}
	if (l.count + n > limit) {
		d->allowed = 0;
		decide(d, &l, limit - l.count, now);
		count_refusal(db, "images");
		if (db_commit(db) != SQLITE_OK)
			db_rollback(db);
		return 0;
	}
	if (counter_add(db, l.scope, l.start, n) != 0 || db_commit(db) != SQLITE_OK) {
		fail(db, "reserving images");
		return -1;
	}
	decide(d, &l, limit - l.count - n, now);
	return 0;
}

int ratelimit_images_refund(sqlite3 *db, long long key_id, long long day, int n)
{
	if (n <= 0)
		return 0;
	if (!db || db_begin(db) != SQLITE_OK)
		return -1;
	char scope[40];
	snprintf(scope, sizeof scope, "img:%lld", key_id);
	sqlite3_stmt *st = db_stmt(db, SQL_REFUND);
	int rc = -1;
	if (st) {
		db_bind_text(st, ":scope", scope);
		db_bind_int64(st, ":start", day);
		db_bind_int64(st, ":n", n);
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
		sqlite3_reset(st);
	}
	if (rc != 0 || db_commit(db) != SQLITE_OK) {
		log_msg(LOG_WARN, "daily images: refunding %d image(s) of key %lld failed: %s", n,
			key_id, sqlite3_errmsg(db));
		db_rollback(db);
		return -1;
	}
	return 0;
}

/* ---- addresses ------------------------------------------------------------- */

struct ipaddr {
	int v6; /* 0: IPv4 in b[0..4), 1: IPv6 in b[0..16) */
	unsigned char b[16];
};

static const unsigned char v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* Parses s[0..n) as an IPv4 or IPv6 address; an IPv4-mapped IPv6 address
 * becomes IPv4.  0 or -1. */
static int ip_parse(const char *s, size_t n, struct ipaddr *a)
{
	char tmp[64];
	while (n > 0 && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n == 0 || n >= sizeof tmp)
		return -1;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	memset(a, 0, sizeof *a);
	if (inet_pton(AF_INET, tmp, a->b) == 1)
		return 0;
	if (inet_pton(AF_INET6, tmp, a->b) != 1)
		return -1;
	a->v6 = 1;
	if (memcmp(a->b, v4_mapped, sizeof v4_mapped) == 0) {
		memmove(a->b, a->b + 12, 4);
		memset(a->b + 4, 0, 12);
		a->v6 = 0;
	}
	return 0;
}

static void ip_format(const struct ipaddr *a, char *out, size_t len)
{
	if (!inet_ntop(a->v6 ? AF_INET6 : AF_INET, a->b, out, (socklen_t)len) && len)
		out[0] = '\0';
}

struct cidr {
	struct ipaddr net;
	int bits;
};

/* "addr" or "addr/len"; an IPv4-mapped IPv6 network of /96 or longer is
 * the IPv4 network it maps.  0 or -1. */
static int cidr_parse(const char *s, size_t n, struct cidr *c)
{
	const char *slash = memchr(s, '/', n);
	size_t alen = slash ? (size_t)(slash - s) : n;
	char tmp[64];
	if (alen >= sizeof tmp)
		return -1;
	memcpy(tmp, s, alen);
	tmp[alen] = '\0';
	/* Parse without the mapping first, to know which family the text named. */
	int was_v6 = strchr(tmp, ':') != NULL;
	if (ip_parse(tmp, alen, &c->net) != 0)
		return -1;
	int max = was_v6 ? 128 : 32;
	c->bits = max;
	if (slash) {
		const char *p = slash + 1, *end = s + n;
		while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if (p == end || end - p > 3)
			return -1;
		int v = 0;
		for (; p < end; p++) {
			if (*p < '0' || *p > '9')
				return -1;
			v = v * 10 + (*p - '0');
		}
		if (v > max)
			return -1;
		c->bits = v;
	}
	if (was_v6 && !c->net.v6) { /* ::ffff:a.b.c.d/len */
		if (c->bits < 96)
			return -1;
		c->bits -= 96;
	}
	return 0;
}

static int cidr_contains(const struct cidr *c, const struct ipaddr *a)
{
	if (c->net.v6 != a->v6)
		return 0;
	int full = c->bits / 8, rest = c->bits % 8;
	if (memcmp(c->net.b, a->b, (size_t)full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (c->net.b[full] & mask) == (a->b[full] & mask);
}

/* Calls fn on each non-empty comma-separated entry; stops when it returns
 * non-zero and passes that on. */
static int each_entry(const char *list, int (*fn)(const char *s, size_t n, void *arg), void *arg)
{
	if (!list)
		return 0;
	while (*list) {
		size_t n = strcspn(list, ",");
		const char *s = list;
		size_t m = n;
		while (m > 0 && (*s == ' ' || *s == '\t'))
			s++, m--;
		if (m > 0) {
			int rc = fn(s, m, arg);
			if (rc)
				return rc;
		}
		list += n + (list[n] == ',');
	}
	return 0;
}

static int match_entry(const char *s, size_t n, void *arg)
{
	struct cidr c;
	return cidr_parse(s, n, &c) == 0 && cidr_contains(&c, arg);
}

static int ip_in(const char *list, const struct ipaddr *a)
{
	return each_entry(list, match_entry, (void *)a) == 1;
}

int ratelimit_ip_in(const char *list, const char *addr)
{
	struct ipaddr a;
	if (!addr || ip_parse(addr, strlen(addr), &a) != 0)
		return 0;
	return ip_in(list, &a);
}

struct bad_entry {
	char *out;
	size_t len;
};

static int check_entry(const char *s, size_t n, void *arg)
{
	struct cidr c;
	if (cidr_parse(s, n, &c) == 0)
		return 0;
	struct bad_entry *b = arg;
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (b->len)
		snprintf(b->out, b->len, "%.*s", (int)n, s);
	return 1;
}

int ratelimit_cidr_list_check(const char *list, char *bad, size_t bad_len)
{
	struct bad_entry b = {bad, bad_len};
	if (bad_len)
		bad[0] = '\0';
	return each_entry(list, check_entry, &b) ? -1 : 0;
}

/* One X-Forwarded-For entry: an address, perhaps "[v6]:port" or "v4:port". */
static int xff_parse(const char *s, size_t n, struct ipaddr *a)
{
	while (n > 0 && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', n);
		if (!close)
			return -1;
		return ip_parse(s + 1, (size_t)(close - s - 1), a);
	}
	const char *colon = memchr(s, ':', n);
	if (colon && !memchr(colon + 1, ':', n - (size_t)(colon + 1 - s)) && memchr(s, '.', n))
		n = (size_t)(colon - s); /* a.b.c.d:port */
	return ip_parse(s, n, a);
}

void ratelimit_client_ip(const char *remote_addr, const char *forwarded, const char *trusted,
			 char *out, size_t out_len)
{
	struct ipaddr client;
	if (!remote_addr || ip_parse(remote_addr, strlen(remote_addr), &client) != 0) {
		snprintf(out, out_len, "%s", remote_addr ? remote_addr : "");
		return;
	}
	if (forwarded && forwarded[0] && trusted && trusted[0] && ip_in(trusted, &client)) {
		/* From the right: each hop was added by the proxy to its right;
		 * the first one no trusted proxy vouches for is the client. */
		size_t end = strlen(forwarded);
		while (end > 0) {
			size_t start = end;
			while (start > 0 && forwarded[start - 1] != ',')
				start--;
			struct ipaddr hop;
			if (xff_parse(forwarded + start, end - start, &hop) == 0) {
				client = hop;
				if (!ip_in(trusted, &hop))
					break;
			} else if (end - start > 0 &&
				   strspn(forwarded + start, " \t") < end - start) {
				break; /* garbage: stop at the last address we could read */
			}
			end = start > 0 ? start - 1 : 0;
		}
	}
	ip_format(&client, out, out_len);
}

void ratelimit_ip_scope(const char *addr, char *out, size_t out_len)
{
	struct ipaddr a;
	if (!addr || ip_parse(addr, strlen(addr), &a) != 0) {
		snprintf(out, out_len, "ip:%s", addr ? addr : "");
		return;
	}
	char text[RATELIMIT_IP_LEN];
	if (a.v6) {
		memset(a.b + 8, 0, 8);
		ip_format(&a, text, sizeof text);
		snprintf(out, out_len, "ip:%s/64", text);
		return;
	}
	ip_format(&a, text, sizeof text);
	snprintf(out, out_len, "ip:%s", text);
}
