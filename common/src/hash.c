/*
 * hash.c - SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input
 * PRF", 2012), written from the paper's description (see hash.h).
 */
#include "fb/hash.h"

#include <endian.h>
#include <string.h>

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

struct sip {
	uint64_t v0, v1, v2, v3;
};

static inline void
sip_round(struct sip *s)
{
	s->v0 += s->v1;
	s->v1 = ROTL(s->v1, 13);
	s->v1 ^= s->v0;
	s->v0 = ROTL(s->v0, 32);
	s->v2 += s->v3;
	s->v3 = ROTL(s->v3, 16);
	s->v3 ^= s->v2;
	s->v0 += s->v3;
	s->v3 = ROTL(s->v3, 21);
	s->v3 ^= s->v0;
	s->v2 += s->v1;
	s->v1 = ROTL(s->v1, 17);
	s->v1 ^= s->v2;
	s->v2 = ROTL(s->v2, 32);
}

static inline void
sip_init(struct sip *s, const struct cm_hash_key *key)
{
	s->v0 = key->k0 ^ 0x736f6d6570736575ULL;
	s->v1 = key->k1 ^ 0x646f72616e646f6dULL;
	s->v2 = key->k0 ^ 0x6c7967656e657261ULL;
	s->v3 = key->k1 ^ 0x7465646279746573ULL;
}

static inline void
sip_block(struct sip *s, uint64_t m)
{
	s->v3 ^= m;
	sip_round(s);
	sip_round(s);
	s->v0 ^= m;
}

static inline uint64_t
sip_final(struct sip *s)
{
	s->v2 ^= 0xff;
	sip_round(s);
	sip_round(s);
	sip_round(s);
	sip_round(s);
	return s->v0 ^ s->v1 ^ s->v2 ^ s->v3;
}

static inline uint64_t
load_le64(const unsigned char *p)
{
	uint64_t m;

	memcpy(&m, p, sizeof(m));
	return le64toh(m);
}

uint64_t
cm_siphash(const struct cm_hash_key *key, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t whole = len & ~(size_t)7;
	uint64_t last = (uint64_t)(len & 0xff) << 56;
	struct sip s;

	sip_init(&s, key);
	for (size_t i = 0; i < whole; i += 8)
		sip_block(&s, load_le64(p + i));
	for (size_t i = 0; i < (len & 7); i++)
		last |= (uint64_t)p[whole + i] << (8 * i);
	sip_block(&s, last);
	return sip_final(&s);
}

uint64_t
cm_siphash_u64(const struct cm_hash_key *key, uint64_t x)
{
	struct sip s;

	sip_init(&s, key);
	sip_block(&s, x);
	sip_block(&s, (uint64_t)8 << 56);
	return sip_final(&s);
}

uint64_t
cm_siphash_str(const struct cm_hash_key *key, const char *s)
{
	return cm_siphash(key, s, strlen(s));
}
