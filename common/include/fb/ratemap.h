/*
 * ratemap.h - the one table of token buckets keyed by a string (an address,
 * an address group): rate tokens a second refill each up to burst, one
 * taken per event. Bounded: a full table drops the buckets that have filled
 * again (as good as absent), else the one unused longest. Keyed with
 * SipHash (fb/map.h), since keys come from the network. Pure: the time
 * comes in as an argument.
 */
#ifndef FB_RATEMAP_H
#define FB_RATEMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fb/hash.h"

#define CM_RATEMAP_KEY_MAX 64 /* bytes of a key, NUL included */

struct cm_ratemap;

/* rate > 0 tokens a second, burst >= 1, at most max_keys buckets. NULL when out of memory. */
struct cm_ratemap *cm_ratemap_new(const struct cm_hash_key *hkey, double rate, double burst,
				  size_t max_keys);
void cm_ratemap_free(struct cm_ratemap *r);

/*
 * Takes one token from key's bucket at now_ms (monotonic). False when the
 * bucket is empty: the event comes too fast. Out of memory or a key too long
 * for CM_RATEMAP_KEY_MAX: true, untracked (the caller's other caps still hold).
 */
bool cm_ratemap_take(struct cm_ratemap *r, const char *key, int64_t now_ms);

size_t cm_ratemap_len(const struct cm_ratemap *r);

#endif
