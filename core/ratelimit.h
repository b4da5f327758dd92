/* Client rate limits (SPEC 6.2): fixed-window request counters per client key,
 * per anonymous IP address and for the whole gateway, and the per-key daily
 * image budget, all kept in SQLite (rate_counters) so every process counts
 * against the same numbers.  Also the client address itself: CIDR lists
 * (ip_allowlist, trusted_proxies) and X-Forwarded-For from trusted proxies. */
#ifndef IMAGEGW_RATELIMIT_H
#define IMAGEGW_RATELIMIT_H

#include <stddef.h>

struct sqlite3;

/* The key rpm window and the daily image window, in seconds. */
#define RATELIMIT_MINUTE 60
#define RATELIMIT_DAY	 86400
/* Room for any address ratelimit_client_ip writes (INET6_ADDRSTRLEN). */
#define RATELIMIT_IP_LEN 46

/* Who is asking and which request limits apply; a limit of 0 is none. */
struct rate_subject {
	long long key_id; /* client_keys.id, 0 when no client key */
	long key_rpm;	  /* the key's requests per minute */
	const char *ip;	  /* the client address, for the per-IP limit */
	long ip_limit;	  /* rate_per_ip (0 for keys and allowlisted addresses) */
	long global_limit;
	int window; /* rate_window_seconds: the per-IP and global window */
};

/* The outcome for the tightest limit: on refusal the one that refused (the
 * longest wait when several did), else the one with the fewest requests
 * left.  applied == 0 means no limit applied (send no X-RateLimit-*). */
struct rate_decision {
	int allowed;
	int applied;
	const char *scope; /* "key", "ip", "global" or "images" */
	long limit;
	long remaining;
	long long reset; /* unix time the window ends */
	int retry_after; /* seconds until reset; set on refusal */
};

/* Checks every limit of s and, when none is exceeded, counts the request
 * against all of them, in one BEGIN IMMEDIATE transaction: N concurrent
 * requests against a limit L admit exactly min(N, L).  A refused request
 * counts against none.  Returns 0 with d filled, or -1 when the database
 * failed (d then allows). */
int ratelimit_check(struct sqlite3 *db, const struct rate_subject *s, long long now,
		    struct rate_decision *d);

/* The daily image budget of a client key (scope img:<key_id>, UTC days).
 * Reserve n images before generating: refused (d->allowed == 0) when the
 * day's count would pass limit.  *day receives the window reserved in, for
 * the refund.  Returns 0, or -1 when the database failed (d then allows and
 * nothing is reserved). */
int ratelimit_images_reserve(struct sqlite3 *db, long long key_id, long limit, int n, long long now,
			     struct rate_decision *d, long long *day);
/* Gives back n reserved images that were not generated upstream (cache hits
 * and failures); 0 or -1. */
int ratelimit_images_refund(struct sqlite3 *db, long long key_id, long long day, int n);

/* The first second of the fixed window of `window` seconds holding now
 * (windows are aligned to the epoch, so a day starts at UTC midnight). */
long long ratelimit_window_start(long long now, int window);

/* 1 when addr (IPv4 or IPv6 text) lies in one of the comma-separated CIDRs
 * of list, else 0.  A bare address is a /32 or /128; an IPv4-mapped IPv6
 * address (::ffff:1.2.3.4) matches IPv4 CIDRs.  Bad entries never match. */
int ratelimit_ip_in(const char *list, const char *addr);
/* 0 when every entry of a CIDR list parses; else -1 with the first bad
 * entry copied into bad. */
int ratelimit_cidr_list_check(const char *list, char *bad, size_t bad_len);
/* The client's address: remote_addr, or, when remote_addr is one of
 * trusted (CIDRs), the first address of X-Forwarded-For (forwarded, may be
 * NULL) from the right that is not a trusted proxy.  Written to out in
 * canonical form (IPv4-mapped addresses as IPv4); an unparsable
 * remote_addr is copied as it is. */
void ratelimit_client_ip(const char *remote_addr, const char *forwarded, const char *trusted,
			 char *out, size_t out_len);
/* The per-IP counter's name for an address: IPv4 as it is, IPv6 by its /64
 * (one host holds a whole /64, so counting single addresses would let it
 * rotate past the limit).  Writes "ip:..." into out. */
void ratelimit_ip_scope(const char *addr, char *out, size_t out_len);

#endif
