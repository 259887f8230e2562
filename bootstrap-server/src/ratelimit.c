/*
 * ratelimit.c - token buckets in an open-addressing hash table with a
 * least-recently-used eviction when the table is full.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fb/identity.h"
#include "ratelimit.h"

struct bucket {
	char key[CM_FINGERPRINT_LEN + 1]; /* "" = empty slot */
	double tokens;
	int64_t last_ms;
};

struct bs_ratelimit {
	pthread_mutex_t lock;
	double rate_per_ms, burst;
	size_t cap, used;
	struct bucket *slots;
};

static uint64_t
hash_key(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

struct bs_ratelimit *
bs_ratelimit_new(double rate_per_s, double burst, size_t max_keys)
{
	struct bs_ratelimit *rl = calloc(1, sizeof(*rl));

	if (rl == NULL)
		return NULL;
	/* Twice the keys as slots keeps probe chains short. */
	rl->cap = 2 * (max_keys > 0 ? max_keys : 1);
	rl->rate_per_ms = rate_per_s / 1000.0;
	rl->burst = burst;
	if ((rl->slots = calloc(rl->cap, sizeof(*rl->slots))) == NULL) {
		free(rl);
		return NULL;
	}
	pthread_mutex_init(&rl->lock, NULL);
	return rl;
}

void
bs_ratelimit_free(struct bs_ratelimit *rl)
{
	if (rl == NULL)
		return;
	pthread_mutex_destroy(&rl->lock);
	free(rl->slots);
	free(rl);
}

/*
 * Rebuilds the table once it is half full. A bucket that has refilled holds no
 * state a new one would not have, so it goes; of the rest at most a quarter
 * of the slots are kept, so the table never fills however many keys arrive.
 */
static void
compact(struct bs_ratelimit *rl, int64_t now_ms)
{
	struct bucket *fresh;
	size_t kept = 0;

	if (rl->used < rl->cap / 2 || (fresh = calloc(rl->cap, sizeof(*fresh))) == NULL)
		return;
	for (size_t i = 0; i < rl->cap; i++) {
		struct bucket *b = &rl->slots[i];
		if (b->key[0] == '\0' || kept >= rl->cap / 4)
			continue;
		if (b->tokens + (double)(now_ms - b->last_ms) * rl->rate_per_ms >= rl->burst)
			continue;
		size_t j = hash_key(b->key) % rl->cap;
		while (fresh[j].key[0] != '\0')
			j = (j + 1) % rl->cap;
		fresh[j] = *b;
		kept++;
	}
	free(rl->slots);
	rl->slots = fresh;
	rl->used = kept;
}

bool
bs_ratelimit_take(struct bs_ratelimit *rl, const char *key, int64_t now_ms,
		  int64_t *retry_after_ms)
{
	struct bucket *b;
	bool ok;
	size_t i;

	pthread_mutex_lock(&rl->lock);
	compact(rl, now_ms);
	i = hash_key(key) % rl->cap;
	while (rl->slots[i].key[0] != '\0' && strcmp(rl->slots[i].key, key) != 0)
		i = (i + 1) % rl->cap;
	b = &rl->slots[i];
	if (b->key[0] == '\0') {
		snprintf(b->key, sizeof(b->key), "%s", key);
		b->tokens = rl->burst;
		b->last_ms = now_ms;
		rl->used++;
	}
	if (now_ms > b->last_ms) {
		b->tokens += (double)(now_ms - b->last_ms) * rl->rate_per_ms;
		if (b->tokens > rl->burst)
			b->tokens = rl->burst;
		b->last_ms = now_ms;
	}
	ok = b->tokens >= 1.0;
	if (ok)
		b->tokens -= 1.0;
	else if (retry_after_ms != NULL)
		*retry_after_ms = (int64_t)((1.0 - b->tokens) / rl->rate_per_ms) + 1;
	pthread_mutex_unlock(&rl->lock);
	return ok;
}
