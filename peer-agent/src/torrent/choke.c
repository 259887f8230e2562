/* choke.c - tit-for-tat with an optimistic unchoke (see choke.h). */
#include "torrent/choke.h"

#include <stdlib.h>

#include "torrent/picker.h"

static int
by_down(const void *a, const void *b)
{
	const struct tr_choke_peer *x = *(struct tr_choke_peer *const *)a;
	const struct tr_choke_peer *y = *(struct tr_choke_peer *const *)b;

	if (x->snubbed != y->snubbed)
		return x->snubbed ? 1 : -1;
	return (x->down_rate < y->down_rate) - (x->down_rate > y->down_rate);
}

static int
by_up(const void *a, const void *b)
{
	const struct tr_choke_peer *x = *(struct tr_choke_peer *const *)a;
	const struct tr_choke_peer *y = *(struct tr_choke_peer *const *)b;

	return (x->up_rate < y->up_rate) - (x->up_rate > y->up_rate);
}

static struct tr_choke_peer *
find(struct tr_choke_peer *peers, size_t n, uint64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (peers[i].id == id)
			return &peers[i];
	return NULL;
}

/* A random choked interested peer, or NULL. */
static struct tr_choke_peer *
draw(struct tr_choke_peer *peers, size_t n, uint64_t *rng)
{
	size_t cands = 0;
	struct tr_choke_peer *pick = NULL;

	for (size_t i = 0; i < n; i++) {
		if (!peers[i].interested || peers[i].unchoke)
			continue;
		cands++;
		if (tr_rng_next(rng) % cands == 0)
			pick = &peers[i];
	}
	return pick;
}

void
tr_choke_run(struct tr_choke_peer *peers, size_t n, bool seeding, int slots, int64_t now_ms,
             struct tr_choke_state *st, uint64_t *rng)
{
	struct tr_choke_peer **order;
	struct tr_choke_peer *opt;
	size_t m = 0;

	for (size_t i = 0; i < n; i++)
		peers[i].unchoke = false;
	if (n == 0 || (order = calloc(n, sizeof(*order))) == NULL) {
		st->optimistic = 0;
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (peers[i].interested)
			order[m++] = &peers[i];
	qsort(order, m, sizeof(*order), seeding ? by_up : by_down);
	for (size_t i = 0; i < m && (int)i < slots; i++)
		order[i]->unchoke = true;
	free(order);

	opt = st->optimistic ? find(peers, n, st->optimistic) : NULL;
	if (opt != NULL && opt->interested && !opt->unchoke &&
	    now_ms - st->optimistic_since_ms < TR_OPTIMISTIC_MS) {
		opt->unchoke = true;
		return;
	}
	if ((opt = draw(peers, n, rng)) != NULL) {
		opt->unchoke = true;
		st->optimistic = opt->id;
		st->optimistic_since_ms = now_ms;
	} else {
		st->optimistic = 0;
	}
}
