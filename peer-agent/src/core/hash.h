/*
 * hash.h - 64-bit FNV-1a, the one string hash of the agent: its hash tables,
 * and the anti-entropy Bloom filter, whose hashing docs/protocol.md fixes
 * (so the offset basis must be exactly FNV's).
 */
#ifndef PA_HASH_H
#define PA_HASH_H

#include <stddef.h>
#include <stdint.h>

#define PA_FNV1A_OFFSET 14695981039346656037ULL
#define PA_FNV1A_PRIME 1099511628211ULL

/* Continues hash h over len bytes of data (start with PA_FNV1A_OFFSET). */
static inline uint64_t
pa_fnv1a(const void *data, size_t len, uint64_t h)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * PA_FNV1A_PRIME;
	return h;
}

/* The hash of a NUL-terminated string, without the NUL. */
static inline uint64_t
pa_fnv1a_str(const char *s)
{
	uint64_t h = PA_FNV1A_OFFSET;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * PA_FNV1A_PRIME;
	return h;
}

#endif
