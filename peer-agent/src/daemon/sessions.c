/*
 * sessions.c - the session map (sessions.h): linear probing over a power-of-two
 * array of records, deletion by backward shift (no tombstones). Ids are the
 * transport's own counter, not network input, so a fixed mixer spreads them.
 */
#include "daemon/sessions.h"

#include <stdlib.h>
#include <string.h>

struct sessions {
	struct link **slots;
	size_t cap; /* a power of two */
	size_t len;
};

static size_t
slot_of(const struct sessions *m, uint64_t id)
{
	/* splitmix64's finaliser */
	id ^= id >> 30;
	id *= 0xbf58476d1ce4e5b9ULL;
	id ^= id >> 27;
	id *= 0x94d049bb133111ebULL;
	id ^= id >> 31;
	return (size_t)id & (m->cap - 1);
}

struct sessions *
sessions_new(void)
{
	struct sessions *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	m->cap = 16;
	if ((m->slots = calloc(m->cap, sizeof(*m->slots))) == NULL) {
		free(m);
		return NULL;
	}
	return m;
}

void
sessions_free(struct sessions *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->cap; i++) {
		if (m->slots[i] != NULL) {
			free(m->slots[i]->email);
			free(m->slots[i]);
		}
	}
	free(m->slots);
	free(m);
}

struct link *
sessions_get(const struct sessions *m, uint64_t id)
{
	for (size_t i = slot_of(m, id);; i = (i + 1) & (m->cap - 1)) {
		if (m->slots[i] == NULL)
			return NULL;
		if (m->slots[i]->id == id)
			return m->slots[i];
	}
}

static void
place(struct sessions *m, struct link *l)
{
	size_t i = slot_of(m, l->id);

	while (m->slots[i] != NULL)
		i = (i + 1) & (m->cap - 1);
	m->slots[i] = l;
}

/* Keeps the load under a half. Returns 0 or -1. */
static int
grow(struct sessions *m)
{
	struct link **old = m->slots;
	size_t oldcap = m->cap;

	if ((m->len + 1) * 2 <= m->cap)
		return 0;
	if ((m->slots = calloc(oldcap * 2, sizeof(*m->slots))) == NULL) {
		m->slots = old;
		return -1;
	}
	m->cap = oldcap * 2;
	for (size_t i = 0; i < oldcap; i++)
		if (old[i] != NULL)
			place(m, old[i]);
	free(old);
	return 0;
}

struct link *
sessions_add(struct sessions *m, uint64_t id, struct tp_session *s, const char *email,
	     bool outbound)
{
	struct link *l;

	if (grow(m) != 0 || (l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	l->id = id;
	l->s = s;
	l->outbound = outbound;
	if (email != NULL && (l->email = strdup(email)) == NULL) {
		free(l);
		return NULL;
	}
	place(m, l);
	m->len++;
	return l;
}

void
sessions_remove(struct sessions *m, uint64_t id)
{
	size_t i = slot_of(m, id), j;

	while (m->slots[i] != NULL && m->slots[i]->id != id)
		i = (i + 1) & (m->cap - 1);
	if (m->slots[i] == NULL)
		return;
	free(m->slots[i]->email);
	free(m->slots[i]);
	m->slots[i] = NULL;
	m->len--;
	/* Backward shift: move up every later entry of the run that may no longer be found. */
	for (j = (i + 1) & (m->cap - 1); m->slots[j] != NULL; j = (j + 1) & (m->cap - 1)) {
		size_t home = slot_of(m, m->slots[j]->id);

		/* Stays when its home lies cyclically in (i, j]. */
		if ((i < j) ? (home > i && home <= j) : (home > i || home <= j))
			continue;
		m->slots[i] = m->slots[j];
		m->slots[j] = NULL;
		i = j;
	}
}

size_t
sessions_count(const struct sessions *m)
{
	return m->len;
}

struct link *
sessions_next(const struct sessions *m, size_t *cursor)
{
	while (*cursor < m->cap) {
		struct link *l = m->slots[(*cursor)++];

		if (l != NULL)
			return l;
	}
	return NULL;
}
