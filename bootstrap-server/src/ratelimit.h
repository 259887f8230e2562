/*
 * ratelimit.h - token buckets per key (a client certificate, an address),
 * and open connections counted per address (pure: the caller gives the time
 * and the address). Per replica and in memory, so approximate across replicas
 * by design. The tables are bounded: refilled buckets are dropped when full.
 */
#ifndef BS_RATELIMIT_H
#define BS_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fb/hash.h"

#define BS_RATELIMIT_MAX_KEYS 65536
/* Room for an address key: dotted IPv4, or an IPv6 /64 prefix with "/64". */
#define BS_ADDR_KEY_LEN 52

struct sockaddr;

struct bs_ratelimit;

/*
 * rate_per_s tokens per second, burst tokens at most, at most max_keys
 * buckets; keys (client certificates' fingerprints) hashed under hash_key.
 * A bucket is forgotten only once it has refilled: when max_keys buckets are
 * all still refilling, new keys share one more bucket (logged under name,
 * at most once per 10 s) until some refill.
 */
struct bs_ratelimit *bs_ratelimit_new(const char *name, double rate_per_s, double burst,
				      size_t max_keys, const struct cm_hash_key *hash_key);
void bs_ratelimit_free(struct bs_ratelimit *rl);

/*
 * Takes one token for key at now_ms. Returns true when allowed; otherwise
 * *retry_after_ms (when non-NULL) is the wait until the next token. Thread-safe.
 */
bool bs_ratelimit_take(struct bs_ratelimit *rl, const char *key, int64_t now_ms,
		       int64_t *retry_after_ms);

/*
 * The key a client address is limited under: an IPv4 address (also when
 * IPv4-mapped), or the /64 prefix of an IPv6 address, since one host
 * commonly holds a whole /64 ("2001:db8:1:2::/64"). "unknown" otherwise.
 */
void bs_addr_key(const struct sockaddr *sa, char out[BS_ADDR_KEY_LEN]);

/*
 * The network an address key belongs to: the /48 of an IPv6 /64 key
 * ("2001:db8:1::/48"), since a site commonly holds a whole /48; any other
 * key (an IPv4 address, "unknown") is its own network. out is not addr_key.
 */
void bs_addr_net_key(const char *addr_key, char out[BS_ADDR_KEY_LEN]);

/* Open connections per address key, and in total. */
struct bs_conncount;

struct bs_conncount *bs_conncount_new(const struct cm_hash_key *hash_key);
void bs_conncount_free(struct bs_conncount *cc);

/* Connections now open from key (0 when none), and *total in all. Thread-safe. */
int64_t bs_conncount_get(struct bs_conncount *cc, const char *key, int64_t *total);

/*
 * Counts one more connection from key and returns how many are open from it
 * now, this one included (*total: in all); -1 when out of memory (then
 * nothing is counted). Thread-safe.
 */
int64_t bs_conncount_add(struct bs_conncount *cc, const char *key, int64_t *total);

/* One connection from key closed (one that bs_conncount_add counted). */
void bs_conncount_del(struct bs_conncount *cc, const char *key);

#endif
