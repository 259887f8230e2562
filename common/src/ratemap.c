/* ratemap.c - token buckets by key (see ratemap.h). */
#include "fb/ratemap.h"

#include <stdlib.h>
#include <string.h>

#include "fb/map.h"

struct bucket {
	char key[CM_RATEMAP_KEY_MAX]; /* the map's key */
	double tokens;
	int64_t last_ms;
};

struct cm_ratemap {
	struct cm_map *m;
	double rate, burst;
	size_t max_keys;
};

struct cm_ratemap *
cm_ratemap_new(const struct cm_hash_key *hkey, double rate, double burst, size_t max_keys)
{
	struct cm_ratemap *r = calloc(1, sizeof(*r));

	if (r == NULL || (r->m = cm_map_new(CM_MAP_STR, hkey)) == NULL) {
		free(r);
		return NULL;
	}
	r->rate = rate;
	r->burst = burst;
	r->max_keys = max_keys;
	return r;
}

void
cm_ratemap_free(struct cm_ratemap *r)
{
	size_t cursor = 0;
	struct bucket *b;

	if (r == NULL)
		return;
	while ((b = cm_map_next(r->m, &cursor)) != NULL)
		free(b);
	cm_map_free(r->m);
	free(r);
}

size_t
cm_ratemap_len(const struct cm_ratemap *r)
{
	return cm_map_len(r->m);
}

/* Makes room in a full table: refilled buckets go; if none has refilled, the stalest. */
static void
trim(struct cm_ratemap *r, int64_t now)
{
	struct bucket **drop = calloc(cm_map_len(r->m), sizeof(*drop));
	struct bucket *b, *stalest = NULL;
	int64_t refill_ms = (int64_t)(r->burst * 1000.0 / r->rate);
	size_t cursor = 0, n = 0;

	if (drop == NULL)
		return;
	while ((b = cm_map_next(r->m, &cursor)) != NULL) {
		if (now - b->last_ms >= refill_ms)
			drop[n++] = b;
		else if (stalest == NULL || b->last_ms < stalest->last_ms)
			stalest = b;
	}
	if (n == 0 && stalest != NULL)
		drop[n++] = stalest;
	for (size_t i = 0; i < n; i++) {
		cm_map_del(r->m, drop[i]->key);
		free(drop[i]);
	}
	free(drop);
}

bool
cm_ratemap_take(struct cm_ratemap *r, const char *key, int64_t now_ms)
{
	struct bucket *b;
	size_t len = strlen(key);

	if (len >= CM_RATEMAP_KEY_MAX)
		return true;
	if ((b = cm_map_get(r->m, key)) == NULL) {
		if (cm_map_len(r->m) >= r->max_keys)
			trim(r, now_ms);
		if (cm_map_len(r->m) >= r->max_keys || (b = calloc(1, sizeof(*b))) == NULL)
			return true;
		memcpy(b->key, key, len + 1);
		b->tokens = r->burst;
		b->last_ms = now_ms;
		if (cm_map_put(r->m, b->key, b) != 0) {
			free(b);
			return true;
		}
	}
	if (now_ms > b->last_ms) {
		b->tokens += (double)(now_ms - b->last_ms) * r->rate / 1000.0;
		if (b->tokens > r->burst)
			b->tokens = r->burst;
	}
	b->last_ms = now_ms;
	if (b->tokens < 1.0)
		return false;
	b->tokens -= 1.0;
	return true;
}
