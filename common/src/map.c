/* map.c - open addressing, linear probing, backward-shift deletion (see map.h). */
#include "fb/map.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define FIRST_CAP 16 /* slots; a power of two */

/* 16 bytes: no stored hash, so a table of many small maps stays small. */
struct slot {
	union {
		const char *s;
		uint64_t u;
	} key;
	void *value; /* NULL: empty */
};

struct cm_map {
	enum cm_map_keys keys;
	struct cm_hash_key hash_key;
	struct slot *slots;
	size_t cap, len;
};

struct cm_map *
cm_map_new(enum cm_map_keys keys, const struct cm_hash_key *key)
{
	struct cm_map *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	m->keys = keys;
	m->hash_key = *key;
	m->cap = FIRST_CAP;
	if ((m->slots = calloc(m->cap, sizeof(*m->slots))) == NULL) {
		free(m);
		return NULL;
	}
	return m;
}

void
cm_map_free(struct cm_map *m)
{
	if (m == NULL)
		return;
	free(m->slots);
	free(m);
}

size_t
cm_map_len(const struct cm_map *m)
{
	return m->len;
}

static uint64_t
slot_hash(const struct cm_map *m, const struct slot *sl)
{
	return m->keys == CM_MAP_STR ? cm_siphash_str(&m->hash_key, sl->key.s)
				     : cm_siphash_u64(&m->hash_key, sl->key.u);
}

static bool
same_key(const struct cm_map *m, const struct slot *sl, const char *s, uint64_t u)
{
	return m->keys == CM_MAP_STR ? strcmp(sl->key.s, s) == 0 : sl->key.u == u;
}

/* The slot holding the key, or the empty slot where it belongs. */
static size_t
find(const struct cm_map *m, uint64_t hash, const char *s, uint64_t u)
{
	size_t mask = m->cap - 1, i = hash & mask;

	while (m->slots[i].value != NULL && !same_key(m, &m->slots[i], s, u))
		i = (i + 1) & mask;
	return i;
}

static int
grow(struct cm_map *m)
{
	size_t old_cap = m->cap, mask = old_cap * 2 - 1;
	struct slot *old = m->slots, *fresh = calloc(old_cap * 2, sizeof(*fresh));

	if (fresh == NULL)
		return -1;
	for (size_t i = 0; i < old_cap; i++) {
		size_t j;

		if (old[i].value == NULL)
			continue;
		for (j = slot_hash(m, &old[i]) & mask; fresh[j].value != NULL; j = (j + 1) & mask)
			;
		fresh[j] = old[i];
	}
	m->slots = fresh;
	m->cap = old_cap * 2;
	free(old);
	return 0;
}

static int
put(struct cm_map *m, uint64_t hash, const char *s, uint64_t u, void *value)
{
	size_t i = find(m, hash, s, u);

	if (m->slots[i].value == NULL) {
		if ((m->len + 1) * 2 > m->cap) {
			if (grow(m) != 0)
				return -1;
			i = find(m, hash, s, u);
		}
		m->len++;
	}
	if (m->keys == CM_MAP_STR)
		m->slots[i].key.s = s;
	else
		m->slots[i].key.u = u;
	m->slots[i].value = value;
	return 0;
}

/* Empties slot i, then moves later entries back so every probe chain stays unbroken. */
static void *
del(struct cm_map *m, size_t i)
{
	size_t mask = m->cap - 1, j = i;
	void *value = m->slots[i].value;

	if (value == NULL)
		return NULL;
	m->slots[i].value = NULL;
	m->len--;
	for (;;) {
		size_t home;

		j = (j + 1) & mask;
		if (m->slots[j].value == NULL)
			break;
		home = slot_hash(m, &m->slots[j]) & mask;
		/* Leave j where it is when its home lies cyclically in (i, j]. */
		if ((i <= j) ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		m->slots[i] = m->slots[j];
		m->slots[j].value = NULL;
		i = j;
	}
	return value;
}

void *
cm_map_get(const struct cm_map *m, const char *key)
{
	return m->slots[find(m, cm_siphash_str(&m->hash_key, key), key, 0)].value;
}

void *
cm_map_get_u64(const struct cm_map *m, uint64_t key)
{
	return m->slots[find(m, cm_siphash_u64(&m->hash_key, key), NULL, key)].value;
}

int
cm_map_put(struct cm_map *m, const char *key, void *value)
{
	return put(m, cm_siphash_str(&m->hash_key, key), key, 0, value);
}

int
cm_map_put_u64(struct cm_map *m, uint64_t key, void *value)
{
	return put(m, cm_siphash_u64(&m->hash_key, key), NULL, key, value);
}

void *
cm_map_del(struct cm_map *m, const char *key)
{
	return del(m, find(m, cm_siphash_str(&m->hash_key, key), key, 0));
}

void *
cm_map_del_u64(struct cm_map *m, uint64_t key)
{
	return del(m, find(m, cm_siphash_u64(&m->hash_key, key), NULL, key));
}

void *
cm_map_next(const struct cm_map *m, size_t *cursor)
{
	while (*cursor < m->cap) {
		void *value = m->slots[(*cursor)++].value;

		if (value != NULL)
			return value;
	}
	return NULL;
}
