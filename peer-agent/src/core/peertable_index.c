/* peertable_index.c - the table's repository index and our own repositories (see peertable.h). */
#include <stdlib.h>
#include <string.h>

#include "core/peertable_internal.h"

/* Marks the buckets of our repositories and the entries hosting one (a walk of the index). */
void
pt_own_remark(struct peertable *t)
{
	struct repo_bucket *b;
	struct node *n;

	for (size_t i = 0; (b = cm_map_next(t->repos, &i)) != NULL;)
		b->own = cm_map_get(t->own, b->name) != NULL;
	for (size_t i = 0; (n = cm_map_next(t->entries, &i)) != NULL;) {
		n->own = false;
		for (size_t j = 0; j < n->nrefs && !n->own; j++)
			n->own = n->refs[j].b->own;
	}
}

int
peertable_set_own_repositories(struct peertable *t, const struct cm_repolist *repos)
{
	struct cm_strlist l = {0};
	struct cm_map *own = cm_map_new(CM_MAP_STR, &t->key);

	if (own == NULL)
		return -1;
	for (size_t i = 0; i < repos->len; i++) {
		if (cm_strlist_append(&l, repos->items[i].name) != 0) {
			cm_strlist_clear(&l);
			cm_map_free(own);
			return -1;
		}
	}
	for (size_t i = 0; i < l.len; i++) {
		if (cm_map_put(own, l.items[i], l.items[i]) != 0) {
			cm_strlist_clear(&l);
			cm_map_free(own);
			return -1;
		}
	}
	cm_map_free(t->own);
	cm_strlist_clear(&t->own_repos);
	t->own = own;
	t->own_repos = l;
	pt_own_remark(t);
	return 0;
}

/* Repository index */

/* What a bucket for name costs, without its items: charged while it exists. */
static size_t
bucket_bytes(const char *name)
{
	return sizeof(struct repo_bucket) + strlen(name) + 1 + 2 * ALLOC_OVERHEAD + MAP_ITEM_BYTES;
}

static size_t
items_bytes(size_t cap)
{
	return cap * sizeof(((struct repo_bucket *)NULL)->items[0]);
}

#define FIRST_ITEMS 4

/* At most what indexing rec can add to the index's bytes (the make_room estimate). */
size_t
pt_index_need(const struct peertable *t, const struct cm_signed_record *rec)
{
	const struct cm_repolist *r = &rec->record.repositories;
	size_t need = 0;

	for (size_t i = 0; i < r->len; i++) {
		const struct repo_bucket *b = cm_map_get(t->repos, r->items[i].name);

		if (b == NULL)
			need += bucket_bytes(r->items[i].name) + items_bytes(FIRST_ITEMS) +
				ALLOC_OVERHEAD;
		else if (b->len == b->cap)
			need += items_bytes(b->cap);
	}
	return need;
}

static void
bucket_free(struct peertable *t, struct repo_bucket *b)
{
	t->stats.bytes -= bucket_bytes(b->name) + items_bytes(b->cap) +
			  (b->items != NULL ? ALLOC_OVERHEAD : 0);
	free(b->name);
	free(b->items);
	free(b);
}

/*
 * Indexes n under each distinct repository of its record, charging the
 * buckets and items it allocates, and notes whether it hosts one of ours.
 * Returns 0 or -1 (out of memory).
 */
int
pt_index_add(struct peertable *t, struct node *n)
{
	const struct cm_repolist *r = &n->e.rec.record.repositories;

	n->own = false;
	if (r->len == 0)
		return 0;
	if ((n->refs = calloc(r->len, sizeof(*n->refs))) == NULL)
		return -1;
	for (size_t i = 0; i < r->len; i++) {
		struct repo_bucket *b = cm_map_get(t->repos, r->items[i].name);

		if (b == NULL) {
			if ((b = calloc(1, sizeof(*b))) == NULL ||
			    (b->name = strdup(r->items[i].name)) == NULL ||
			    cm_map_put(t->repos, b->name, b) != 0) {
				if (b != NULL)
					free(b->name);
				free(b);
				return -1;
			}
			b->own = cm_map_get(t->own, b->name) != NULL;
			t->stats.bytes += bucket_bytes(b->name);
		}
		/* A name listed twice: this node is the bucket's last item already. */
		if (b->len > 0 && b->items[b->len - 1].n == n)
			continue;
		if (b->len == b->cap) {
			size_t cap = b->cap != 0 ? 2 * b->cap : FIRST_ITEMS;
			void *items = realloc(b->items, cap * sizeof(*b->items));

			if (items == NULL)
				return -1;
			t->stats.bytes += items_bytes(cap - b->cap) +
					  (b->items == NULL ? ALLOC_OVERHEAD : 0);
			b->items = items;
			b->cap = cap;
		}
		b->items[b->len].n = n;
		b->items[b->len].ref = n->nrefs;
		n->refs[n->nrefs].b = b;
		n->refs[n->nrefs].pos = b->len++;
		n->nrefs++;
		n->own |= b->own;
	}
	return 0;
}

void
pt_index_del(struct peertable *t, struct node *n)
{
	for (size_t i = 0; i < n->nrefs; i++) {
		struct repo_bucket *b = n->refs[i].b;
		size_t pos = n->refs[i].pos;

		b->items[pos] = b->items[--b->len];
		if (pos < b->len)
			b->items[pos].n->refs[b->items[pos].ref].pos = pos;
		if (b->len == 0) {
			cm_map_del(t->repos, b->name);
			bucket_free(t, b);
		}
	}
	free(n->refs);
	n->refs = NULL;
	n->nrefs = 0;
}

static uint64_t
visit_hosting(const struct peertable *t, const char *const *repos, size_t nrepos,
	      bool (*fn)(const struct peertable_entry *e, void *arg), void *arg)
{
	uint64_t mark = ++*t->mark;
	/* The stats are bookkeeping: a const lookup still counts its visits. */
	struct peertable_stats *st = (struct peertable_stats *)&t->stats;
	size_t found = 0, all = cm_map_len(t->entries);

	/* Once every entry matched, the other names' buckets hold nothing new. */
	for (size_t i = 0; i < nrepos && found < all; i++) {
		struct repo_bucket *b = cm_map_get(t->repos, repos[i]);

		if (b == NULL || b->mark == mark)
			continue;
		b->mark = mark;
		for (size_t j = 0; j < b->len; j++) {
			struct node *n = b->items[j].n;

			if (n->mark == mark)
				continue;
			n->mark = mark;
			found++;
			st->index_visits++;
			if (fn != NULL && !fn(&n->e, arg))
				return mark;
		}
	}
	return mark;
}

void
peertable_each_hosting(const struct peertable *t, const char *const *repos, size_t nrepos,
		       bool (*fn)(const struct peertable_entry *e, void *arg), void *arg)
{
	visit_hosting(t, repos, nrepos, fn, arg);
}

uint64_t
peertable_mark_hosting(const struct peertable *t, const char *const *repos, size_t nrepos)
{
	return visit_hosting(t, repos, nrepos, NULL, NULL);
}

bool
peertable_entry_marked(const struct peertable_entry *e, uint64_t mark)
{
	return ((const struct node *)e)->mark == mark;
}
