/*
 * ratelimit.c - token buckets in an fb/map.h map by key, bounded: once the
 * map holds max_keys buckets, idle ones are dropped (see compact).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fb/identity.h"
#include "fb/map.h"
#include "ratelimit.h"

struct bucket {
	char key[CM_FINGERPRINT_LEN + 1]; /* the map's key */
	double tokens;
	int64_t last_ms;
};

struct bs_ratelimit {
	pthread_mutex_t lock;
	double rate_per_ms, burst;
	size_t max_keys;
	struct cm_hash_key hash_key;
	struct cm_map *buckets; /* key -> struct bucket * */
};

struct bs_ratelimit *
bs_ratelimit_new(double rate_per_s, double burst, size_t max_keys,
		 const struct cm_hash_key *hash_key)
{
	struct bs_ratelimit *rl = calloc(1, sizeof(*rl));

	if (rl == NULL)
		return NULL;
	rl->max_keys = max_keys > 0 ? max_keys : 1;
	rl->rate_per_ms = rate_per_s / 1000.0;
	rl->burst = burst;
	rl->hash_key = *hash_key;
	if ((rl->buckets = cm_map_new(CM_MAP_STR, hash_key)) == NULL) {
		free(rl);
		return NULL;
	}
	pthread_mutex_init(&rl->lock, NULL);
	return rl;
}

static void
free_buckets(struct cm_map *m)
{
	struct bucket *b;

	for (size_t i = 0; (b = cm_map_next(m, &i)) != NULL;)
		free(b);
	cm_map_free(m);
}

void
bs_ratelimit_free(struct bs_ratelimit *rl)
{
	if (rl == NULL)
		return;
	pthread_mutex_destroy(&rl->lock);
	free_buckets(rl->buckets);
	free(rl);
}

/*
 * Rebuilds the map once it holds max_keys buckets. A bucket that has refilled
 * holds no state a new one would not have, so it goes; of the rest at most
 * half of max_keys are kept, so the map never grows however many keys arrive.
 */
static void
compact(struct bs_ratelimit *rl, int64_t now_ms)
{
	struct cm_map *fresh;
	struct bucket *b;
	size_t kept = 0;

	if (cm_map_len(rl->buckets) < rl->max_keys ||
	    (fresh = cm_map_new(CM_MAP_STR, &rl->hash_key)) == NULL)
		return;
	for (size_t i = 0; (b = cm_map_next(rl->buckets, &i)) != NULL;) {
		if (kept < rl->max_keys / 2 &&
		    b->tokens + (double)(now_ms - b->last_ms) * rl->rate_per_ms < rl->burst &&
		    cm_map_put(fresh, b->key, b) == 0)
			kept++;
		else
			free(b);
	}
	cm_map_free(rl->buckets);
	rl->buckets = fresh;
}

/* The bucket of key, made full when new; NULL when out of memory. */
static struct bucket *
bucket_get(struct bs_ratelimit *rl, const char *key, int64_t now_ms)
{
	struct bucket *b = cm_map_get(rl->buckets, key);

	if (b != NULL)
		return b;
	if ((b = malloc(sizeof(*b))) == NULL)
		return NULL;
	snprintf(b->key, sizeof(b->key), "%s", key);
	b->tokens = rl->burst;
	b->last_ms = now_ms;
	if (cm_map_put(rl->buckets, b->key, b) != 0) {
		free(b);
		return NULL;
	}
	return b;
}

bool
bs_ratelimit_take(struct bs_ratelimit *rl, const char *key, int64_t now_ms,
		  int64_t *retry_after_ms)
{
	struct bucket *b;
	bool ok;

	pthread_mutex_lock(&rl->lock);
	compact(rl, now_ms);
	/* Out of memory: refuse, as if the bucket were empty. */
	if ((b = bucket_get(rl, key, now_ms)) == NULL) {
		if (retry_after_ms != NULL)
			*retry_after_ms = (int64_t)(1.0 / rl->rate_per_ms) + 1;
		pthread_mutex_unlock(&rl->lock);
		return false;
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
