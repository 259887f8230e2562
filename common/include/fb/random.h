/*
 * random.h - the process's randomness for the I/O shell (GnuTLS's generator).
 * Pure code never calls it: it is handed what it needs (an rng, a hash key).
 */
#ifndef FB_RANDOM_H
#define FB_RANDOM_H

#include <stddef.h>

#include "fb/hash.h"
#include "fb/validate.h"

/* Fills buf with len unpredictable bytes. Returns 0 or -1 (logged). */
int cm_random_bytes(void *buf, size_t len);

/* A fresh SipHash key for this process's tables. Returns 0 or -1 (logged). */
int cm_random_hash_key(struct cm_hash_key *key);

/* Writes a new random (v4) UUID in lower case into out (37 bytes with NUL). */
void cm_uuid_generate(char out[CM_UUID_TEXT_LEN + 1]);

#endif
