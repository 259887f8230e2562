/*
 * peertable_index.c - the table's indexes, repository name -> hosts and info
 * hash -> seeders, and our own repositories (see peertable.h). Both indexes
 * share one bucket shape and one byte account.
 */
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

/* Indexes */

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

/* At most what indexing one more entry under key in map adds to the bytes. */
static size_t
key_need(const struct cm_map *map, const char *key)
{
	const struct repo_bucket *b = cm_map_get(map, key);

	if (b == NULL)
		return bucket_bytes(key) + items_bytes(FIRST_ITEMS) + ALLOC_OVERHEAD;
	return b->len == b->cap ? items_bytes(b->cap) : 0;
}

/* At most what indexing rec can add to the indexes' bytes (the make_room estimate). */
size_t
pt_index_need(const struct peertable *t, const struct cm_signed_record *rec)
{
	const struct cm_peer_record *r = &rec->record;
	size_t need = 0;

	for (size_t i = 0; i < r->repositories.len; i++)
		need += key_need(t->repos, r->repositories.items[i].name);
	for (size_t i = 0; i < r->torrents.len; i++)
		need += key_need(t->torrents, r->torrents.items[i].info_hash);
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

/* Indexes n under key in the repository or torrent index. Returns 0 or -1 (out of memory). */
static int
index_key(struct peertable *t, bool torrent, struct node *n, const char *key)
{
	struct cm_map *map = torrent ? t->torrents : t->repos;
	struct repo_bucket *b = cm_map_get(map, key);

	if (b == NULL) {
		if ((b = calloc(1, sizeof(*b))) == NULL || (b->name = strdup(key)) == NULL ||
		    cm_map_put(map, b->name, b) != 0) {
			if (b != NULL)
				free(b->name);
			free(b);
			return -1;
		}
		b->torrent = torrent;
		b->own = !torrent && cm_map_get(t->own, b->name) != NULL;
		b->key_cpl = torrent ? -1 : pt_key_cpl(t, b->name);
		t->stats.bytes += bucket_bytes(b->name);
	}
	/* A key listed twice: this node is the bucket's last item already. */
	if (b->len > 0 && b->items[b->len - 1].n == n)
		return 0;
	if (b->len == b->cap) {
		size_t cap = b->cap != 0 ? 2 * b->cap : FIRST_ITEMS;
		void *items = realloc(b->items, cap * sizeof(*b->items));

		if (items == NULL)
			return -1;
		t->stats.bytes += items_bytes(cap - b->cap) + (b->items == NULL ? ALLOC_OVERHEAD : 0);
		b->items = items;
		b->cap = cap;
	}
	b->items[b->len].n = n;
	b->items[b->len].ref = n->nrefs;
	n->refs[n->nrefs].b = b;
	n->refs[n->nrefs].pos = b->len++;
	n->nrefs++;
	n->own |= b->own;
	return 0;
}

/*
 * Indexes n under each distinct repository and torrent of its record,
 * charging the buckets and items it allocates, and notes whether it hosts
 * one of our repositories. Returns 0 or -1 (out of memory).
 */
int
pt_index_add(struct peertable *t, struct node *n)
{
	const struct cm_peer_record *r = &n->e.rec.record;

	int rc = 0;

	n->own = false;
	if (r->repositories.len + r->torrents.len > 0 &&
	    (n->refs = calloc(r->repositories.len + r->torrents.len, sizeof(*n->refs))) == NULL)
		rc = -1;
	for (size_t i = 0; rc == 0 && i < r->repositories.len; i++)
		rc = index_key(t, false, n, r->repositories.items[i].name);
	for (size_t i = 0; rc == 0 && i < r->torrents.len; i++)
		rc = index_key(t, true, n, r->torrents.items[i].info_hash);
	pt_keys_add(t, n);
	return rc;
}

void
pt_index_del(struct peertable *t, struct node *n)
{
	pt_keys_del(t, n);
	for (size_t i = 0; i < n->nrefs; i++) {
		struct repo_bucket *b = n->refs[i].b;
		size_t pos = n->refs[i].pos;

		b->items[pos] = b->items[--b->len];
		if (pos < b->len)
			b->items[pos].n->refs[b->items[pos].ref].pos = pos;
		if (b->len == 0) {
			cm_map_del(b->torrent ? t->torrents : t->repos, b->name);
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

/* Torrent index */

void
peertable_each_seeding(const struct peertable *t, const char *info_hash,
		       bool (*fn)(const struct peertable_entry *e, void *arg), void *arg)
{
	const struct repo_bucket *b = cm_map_get(t->torrents, info_hash);
	/* The stats are bookkeeping: a const lookup still counts its visits. */
	struct peertable_stats *st = (struct peertable_stats *)&t->stats;

	for (size_t j = 0; b != NULL && j < b->len; j++) {
		st->index_visits++;
		if (!fn(&b->items[j].n->e, arg))
			return;
	}
}

const struct cm_torrent_summary *
peertable_entry_torrent(const struct peertable_entry *e, const char *info_hash)
{
	const struct cm_torrentlist *l = &e->rec.record.torrents;

	for (size_t i = 0; i < l->len; i++)
		if (strcmp(l->items[i].info_hash, info_hash) == 0)
			return &l->items[i];
	return NULL;
}

/* A seeder and what ranks it: one we can dial first, then the better score. */
struct ranked_seeder {
	struct peertable_seeder s;
	bool dialable;
	double score;
};

static int
ranked_cmp(const void *a, const void *b)
{
	const struct ranked_seeder *x = a, *y = b;

	if (x->dialable != y->dialable)
		return x->dialable ? -1 : 1;
	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	return strcmp(x->s.entry->rec.record.email, y->s.entry->rec.record.email);
}

size_t
peertable_torrent_seeders(const struct peertable *t, const char *info_hash, int64_t now_ms,
			  struct peertable_seeder *out, size_t max)
{
	const struct repo_bucket *b = cm_map_get(t->torrents, info_hash);
	struct peertable_stats *st = (struct peertable_stats *)&t->stats;
	struct ranked_seeder *r;
	size_t n = 0;

	if (b == NULL || max == 0 || (r = calloc(b->len, sizeof(*r))) == NULL)
		return 0;
	for (size_t j = 0; j < b->len; j++) {
		const struct peertable_entry *e = &b->items[j].n->e;
		const struct cm_peer_record *rec = &e->rec.record;

		st->index_visits++;
		if (e->offline)
			continue;
		r[n].s.entry = e;
		r[n].s.torrent = peertable_entry_torrent(e, info_hash);
		r[n].dialable = rec->is_broadcasting && rec->torrent_port != 0 &&
				rec->socket_addresses.len > 0;
		r[n].score = peertable_entry_score(t, e, now_ms);
		n++;
	}
	qsort(r, n, sizeof(*r), ranked_cmp);
	if (n > max)
		n = max;
	for (size_t i = 0; i < n; i++)
		out[i] = r[i].s;
	free(r);
	return n;
}
