/*
 * sessions.c - the session map (sessions.h): the records in the common map
 * (fb/map.h) under their transport ids.
 */
#include "daemon/sessions.h"

#include <stdlib.h>
#include <string.h>

#include "fb/map.h"

struct sessions {
	struct cm_map *by_id;
};

static void
link_free(struct link *l)
{
	if (l != NULL) {
		free(l->email);
		free(l->via);
		cm_strlist_clear(&l->query_repos);
		free(l);
	}
}

struct sessions *
sessions_new(const struct cm_hash_key *key)
{
	struct sessions *m = calloc(1, sizeof(*m));

	if (m == NULL || (m->by_id = cm_map_new(CM_MAP_U64, key)) == NULL) {
		free(m);
		return NULL;
	}
	return m;
}

void
sessions_free(struct sessions *m)
{
	struct link *l;
	size_t cursor = 0;

	if (m == NULL)
		return;
	while ((l = cm_map_next(m->by_id, &cursor)) != NULL)
		link_free(l);
	cm_map_free(m->by_id);
	free(m);
}

struct link *
sessions_get(const struct sessions *m, uint64_t id)
{
	return cm_map_get_u64(m->by_id, id);
}

struct link *
sessions_add(struct sessions *m, uint64_t id, struct tp_session *s, const char *email,
	     bool outbound)
{
	struct link *l = calloc(1, sizeof(*l));

	if (l == NULL || (email != NULL && (l->email = strdup(email)) == NULL) ||
	    cm_map_put_u64(m->by_id, id, l) != 0) {
		link_free(l);
		return NULL;
	}
	l->id = id;
	l->s = s;
	l->outbound = outbound;
	return l;
}

void
sessions_remove(struct sessions *m, uint64_t id)
{
	link_free(cm_map_del_u64(m->by_id, id));
}

size_t
sessions_count(const struct sessions *m)
{
	return cm_map_len(m->by_id);
}

struct link *
sessions_next(const struct sessions *m, size_t *cursor)
{
	return cm_map_next(m->by_id, cursor);
}
