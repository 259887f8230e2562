/*
 * ratelimit.h - a token bucket per client certificate (pure: the caller gives
 * the time). Per replica and in memory, so approximate across replicas by
 * design. The table is bounded: idle buckets are dropped as it fills.
 */
#ifndef BS_RATELIMIT_H
#define BS_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fb/hash.h"

#define BS_RATELIMIT_MAX_KEYS 65536

struct bs_ratelimit;

/*
 * rate_per_s tokens per second, burst tokens at most, at most max_keys
 * buckets; keys (client certificates' fingerprints) hashed under hash_key.
 */
struct bs_ratelimit *bs_ratelimit_new(double rate_per_s, double burst, size_t max_keys,
				      const struct cm_hash_key *hash_key);
void bs_ratelimit_free(struct bs_ratelimit *rl);

/*
 * Takes one token for key at now_ms. Returns true when allowed; otherwise
 * *retry_after_ms (when non-NULL) is the wait until the next token. Thread-safe.
 */
bool bs_ratelimit_take(struct bs_ratelimit *rl, const char *key, int64_t now_ms,
		       int64_t *retry_after_ms);

#endif
