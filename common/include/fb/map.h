/*
 * map.h - the one hash map: open addressing with linear probing, kept at most
 * half full, backward-shift deletion (no tombstones), keyed with SipHash so
 * that keys from the network cannot be chosen to collide (see fb/hash.h).
 *
 * Keys are either strings or 64-bit integers, chosen at creation. A string
 * key is borrowed, not copied: it must stay valid and unchanged while its
 * entry is in the map (typically it points into the value). Values are
 * the caller's and must not be NULL, which stands for "absent". Pure.
 */
#ifndef FB_MAP_H
#define FB_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "fb/hash.h"

enum cm_map_keys { CM_MAP_STR, CM_MAP_U64 };

struct cm_map;

/* An empty map of kind keys hashed under key (copied). Returns NULL when out of memory. */
struct cm_map *cm_map_new(enum cm_map_keys keys, const struct cm_hash_key *key);

/* Frees the map, not its values. NULL is a no-op. */
void cm_map_free(struct cm_map *m);

size_t cm_map_len(const struct cm_map *m);

/* The value under key, or NULL. */
void *cm_map_get(const struct cm_map *m, const char *key);
void *cm_map_get_u64(const struct cm_map *m, uint64_t key);

/* Sets key to value (replacing any), growing the map. Returns 0 or -1 (out of memory). */
int cm_map_put(struct cm_map *m, const char *key, void *value);
int cm_map_put_u64(struct cm_map *m, uint64_t key, void *value);

/* Removes key. Returns the value it had, or NULL. */
void *cm_map_del(struct cm_map *m, const char *key);
void *cm_map_del_u64(struct cm_map *m, uint64_t key);

/*
 * Iteration in no particular order: start with *cursor = 0; returns each
 * value once, then NULL. The map must not change during an iteration.
 */
void *cm_map_next(const struct cm_map *m, size_t *cursor);

#endif
