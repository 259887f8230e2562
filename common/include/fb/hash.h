/*
 * hash.h - SipHash-2-4, the keyed hash of every table whose keys come from
 * the network (emails, fingerprints, message ids), so that nobody can choose
 * keys that collide. Pure: the 128-bit key is an argument; the daemon, the
 * server and the tools draw one per process at start (cm_random_hash_key in
 * fb/random.h) and hand it to whatever builds a table. A zero key is fine for
 * tests and the simulator, which want runs that repeat.
 */
#ifndef FB_HASH_H
#define FB_HASH_H

#include <stddef.h>
#include <stdint.h>

struct cm_hash_key {
	uint64_t k0, k1;
};

/* SipHash-2-4 of len bytes of data under key. */
uint64_t cm_siphash(const struct cm_hash_key *key, const void *data, size_t len);

/* The same over the 8 little-endian bytes of x, without a buffer. */
uint64_t cm_siphash_u64(const struct cm_hash_key *key, uint64_t x);

/* The same over a NUL-terminated string, without the NUL. */
uint64_t cm_siphash_str(const struct cm_hash_key *key, const char *s);

#endif
