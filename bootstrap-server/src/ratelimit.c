/*
 * ratelimit.c - token buckets in an fb/map.h map by key, bounded: once the
 * map holds max_keys buckets, refilled ones are dropped and new keys share
 * one bucket until room frees (see compact, bucket_get). Connection
 * counts per address: an entry lives while its address has a connection
 * open, so the map is bounded by the server's connection limit.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fb/identity.h"
#include "fb/log.h"
#include "fb/map.h"
#include "ratelimit.h"

struct bucket {
	char key[CM_FINGERPRINT_LEN + 1]; /* the map's key */
	double tokens;
	int64_t last_ms;
};

/* A full map that freed less than this share of max_keys is not scanned again for a while. */
#define COMPACT_MIN_FREED_DIV 4
#define COMPACT_BACKOFF_MS 1000
#define FULL_LOG_EVERY_MS 10000

struct bs_ratelimit {
	pthread_mutex_t lock;
	char name[32];
	double rate_per_ms, burst;
	size_t max_keys;
	struct cm_hash_key hash_key;
	struct cm_map *buckets;   /* key -> struct bucket * */
	struct bucket overflow;   /* shared by the keys that found the map full */
	int64_t next_compact_ms;  /* a full map is not scanned before this */
	uint64_t shared;          /* takes by keys in the overflow bucket, since the last log */
	int64_t logged_ms;
	bool logged;
};

struct bs_ratelimit *
bs_ratelimit_new(const char *name, double rate_per_s, double burst, size_t max_keys,
		 const struct cm_hash_key *hash_key)
{
	struct bs_ratelimit *rl = calloc(1, sizeof(*rl));

	if (rl == NULL)
		return NULL;
	snprintf(rl->name, sizeof(rl->name), "%s", name);
	rl->overflow.tokens = burst;
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
 * Drops the buckets that have refilled: they hold no state a new one would
 * not have. A bucket still refilling is never dropped, or flooding the map
 * with new keys would hand every throttled key a full bucket again. When
 * that frees little, the map is not scanned again for COMPACT_BACKOFF_MS, so
 * a map full of throttled keys costs one scan a second, not one a request.
 */
static void
compact(struct bs_ratelimit *rl, int64_t now_ms)
{
	struct bucket *b, **full;
	size_t n = 0;

	if (now_ms < rl->next_compact_ms)
		return;
	rl->next_compact_ms = now_ms + COMPACT_BACKOFF_MS;
	/* The map must not change while iterated: collect first, then drop. */
	if ((full = malloc(cm_map_len(rl->buckets) * sizeof(*full))) == NULL)
		return;
	for (size_t i = 0; (b = cm_map_next(rl->buckets, &i)) != NULL;)
		if (b->tokens + (double)(now_ms - b->last_ms) * rl->rate_per_ms >= rl->burst)
			full[n++] = b;
	for (size_t i = 0; i < n; i++)
		free(cm_map_del(rl->buckets, full[i]->key));
	free(full);
	if (n >= rl->max_keys / COMPACT_MIN_FREED_DIV)
		rl->next_compact_ms = now_ms;
}

/*
 * The bucket of key, made full when new; the shared overflow bucket when the
 * map is full of buckets still refilling; NULL when out of memory.
 */
static struct bucket *
bucket_get(struct bs_ratelimit *rl, const char *key, int64_t now_ms)
{
	struct bucket *b = cm_map_get(rl->buckets, key);

	if (b != NULL)
		return b;
	if (cm_map_len(rl->buckets) >= rl->max_keys)
		compact(rl, now_ms);
	if (cm_map_len(rl->buckets) >= rl->max_keys) {
		rl->shared++;
		return &rl->overflow;
	}
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
	if (b == &rl->overflow && (!rl->logged || now_ms - rl->logged_ms >= FULL_LOG_EVERY_MS)) {
		log_warnx("rate limit %s: all %zu keys still refilling (BS_RATELIMIT_MAX_KEYS); "
			  "%llu requests of new keys shared one bucket",
			  rl->name, cm_map_len(rl->buckets), (unsigned long long)rl->shared);
		rl->shared = 0;
		rl->logged = true;
		rl->logged_ms = now_ms;
	}
	pthread_mutex_unlock(&rl->lock);
	return ok;
}

void
bs_addr_key(const struct sockaddr *sa, char out[BS_ADDR_KEY_LEN])
{
	static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	char text[INET6_ADDRSTRLEN];

	snprintf(out, BS_ADDR_KEY_LEN, "unknown");
	if (sa == NULL)
		return;
	if (sa->sa_family == AF_INET) {
		if (inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, text,
			      sizeof(text)) != NULL)
			snprintf(out, BS_ADDR_KEY_LEN, "%s", text);
	} else if (sa->sa_family == AF_INET6) {
		const uint8_t *b = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		struct in6_addr prefix = {0};

		if (memcmp(b, v4_mapped, sizeof(v4_mapped)) == 0) {
			snprintf(out, BS_ADDR_KEY_LEN, "%u.%u.%u.%u", b[12], b[13], b[14], b[15]);
			return;
		}
		memcpy(prefix.s6_addr, b, 8);
		if (inet_ntop(AF_INET6, &prefix, text, sizeof(text)) != NULL)
			snprintf(out, BS_ADDR_KEY_LEN, "%s/64", text);
	}
}

void
bs_addr_net_key(const char *addr_key, char out[BS_ADDR_KEY_LEN])
{
	char prefix[BS_ADDR_KEY_LEN], text[INET6_ADDRSTRLEN];
	struct in6_addr a;
	size_t len = strlen(addr_key);

	snprintf(out, BS_ADDR_KEY_LEN, "%s", addr_key);
	if (len < 4 || len >= BS_ADDR_KEY_LEN || strcmp(addr_key + len - 3, "/64") != 0)
		return;
	memcpy(prefix, addr_key, len - 3);
	prefix[len - 3] = '\0';
	if (inet_pton(AF_INET6, prefix, &a) != 1)
		return;
	memset(a.s6_addr + 6, 0, 10);
	if (inet_ntop(AF_INET6, &a, text, sizeof(text)) != NULL)
		snprintf(out, BS_ADDR_KEY_LEN, "%s/48", text);
}

/* One address's open connections; the map's key lives in it. */
struct conns {
	char key[BS_ADDR_KEY_LEN];
	int64_t n;
};

struct bs_conncount {
	pthread_mutex_t lock;
	struct cm_map *by_key; /* key -> struct conns * */
	int64_t total;
};

struct bs_conncount *
bs_conncount_new(const struct cm_hash_key *hash_key)
{
	struct bs_conncount *cc = calloc(1, sizeof(*cc));

	if (cc == NULL)
		return NULL;
	if ((cc->by_key = cm_map_new(CM_MAP_STR, hash_key)) == NULL) {
		free(cc);
		return NULL;
	}
	pthread_mutex_init(&cc->lock, NULL);
	return cc;
}

void
bs_conncount_free(struct bs_conncount *cc)
{
	struct conns *c;

	if (cc == NULL)
		return;
	for (size_t i = 0; (c = cm_map_next(cc->by_key, &i)) != NULL;)
		free(c);
	cm_map_free(cc->by_key);
	pthread_mutex_destroy(&cc->lock);
	free(cc);
}

int64_t
bs_conncount_get(struct bs_conncount *cc, const char *key, int64_t *total)
{
	struct conns *c;
	int64_t n;

	pthread_mutex_lock(&cc->lock);
	c = cm_map_get(cc->by_key, key);
	n = c != NULL ? c->n : 0;
	*total = cc->total;
	pthread_mutex_unlock(&cc->lock);
	return n;
}

int64_t
bs_conncount_add(struct bs_conncount *cc, const char *key, int64_t *total)
{
	struct conns *c;
	int64_t n = -1;

	pthread_mutex_lock(&cc->lock);
	if ((c = cm_map_get(cc->by_key, key)) == NULL && (c = calloc(1, sizeof(*c))) != NULL) {
		snprintf(c->key, sizeof(c->key), "%s", key);
		if (cm_map_put(cc->by_key, c->key, c) != 0) {
			free(c);
			c = NULL;
		}
	}
	if (c != NULL) {
		n = ++c->n;
		cc->total++;
	}
	*total = cc->total;
	pthread_mutex_unlock(&cc->lock);
	return n;
}

void
bs_conncount_del(struct bs_conncount *cc, const char *key)
{
	struct conns *c;

	pthread_mutex_lock(&cc->lock);
	if ((c = cm_map_get(cc->by_key, key)) != NULL) {
		cc->total--;
		/* Addresses without connections hold no memory: the map stays as small as the load. */
		if (--c->n <= 0)
			free(cm_map_del(cc->by_key, c->key));
	}
	pthread_mutex_unlock(&cc->lock);
}
