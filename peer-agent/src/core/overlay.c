/*
 * overlay.c - the dial policy (overlay.h): candidates, per-email backoffs and
 * the choice of whom to dial in a round.
 */
#include "core/overlay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fb/limits.h"

/* A peer a bootstrap server listed. */
struct cand {
	char *email;
	char fp[CM_FINGERPRINT_LEN + 1];
	struct cm_strlist addrs;
	int port;
};

/* Dial backoff of one email. */
struct email_backoff {
	char *email;
	struct overlay_backoff b;
};

struct overlay {
	struct overlay_config cfg;
	struct cm_hash_key order; /* cfg.order_key mixed with self: our own dial order */
	char *self;
	bool silent; /* we do not broadcast: dial only attested bootstrap peers */
	/* Both grow as they fill (to their caps): an agent lists and backs off from a
	 * few peers, and the full arrays were 50 KB of its heap. */
	struct cand *cands;
	size_t ncands, cands_cap;
	struct email_backoff *backoffs;
	size_t nbackoffs, backoffs_cap;
};

/* Room for one more element in *arr of *len (doubling its capacity, up to max). 0 or -1. */
static int
room_for_one(void **arr, size_t *cap, size_t len, size_t max, size_t elem_bytes)
{
	size_t want = *cap == 0 ? 8 : 2 * *cap;
	void *p;

	if (len < *cap)
		return 0;
	if (want > max)
		want = max;
	if (want <= len || (p = realloc(*arr, want * elem_bytes)) == NULL)
		return -1;
	*arr = p;
	*cap = want;
	return 0;
}

int64_t
overlay_jitter_ms(int64_t ms, struct engine_rng *rng)
{
	return ms / 2 + (int64_t)(rng->next(rng->ctx) % (uint64_t)(ms > 0 ? ms : 1));
}

int64_t
overlay_backoff_next(struct overlay_backoff *b, int64_t now_ms, struct engine_rng *rng)
{
	int64_t wait = OVERLAY_BACKOFF_MIN_MS;

	for (int i = 0; i < b->fails && wait < OVERLAY_BACKOFF_MAX_MS; i++)
		wait *= 2;
	if (wait > OVERLAY_BACKOFF_MAX_MS)
		wait = OVERLAY_BACKOFF_MAX_MS;
	b->fails++;
	wait = overlay_jitter_ms(wait, rng);
	b->next_ms = now_ms + wait;
	return wait;
}

void
overlay_backoff_reset(struct overlay_backoff *b)
{
	b->fails = 0;
	b->next_ms = 0;
}

bool
overlay_backoff_waiting(const struct overlay_backoff *b, int64_t now_ms)
{
	return now_ms < b->next_ms;
}

bool
overlay_keep_new_session(const char *self_email, const char *peer_email, bool new_outbound)
{
	return new_outbound == (strcmp(self_email, peer_email) < 0);
}

void
overlay_config_default(struct overlay_config *c)
{
	c->neighbours = 8;
	c->dials_per_round = OVERLAY_DIALS_PER_ROUND;
	c->order_key = (struct cm_hash_key){0, 0};
}

struct overlay *
overlay_new(const struct overlay_config *c, const char *self_email)
{
	struct overlay *o = calloc(1, sizeof(*o));

	if (o == NULL || (o->self = strdup(self_email)) == NULL) {
		free(o);
		return NULL;
	}
	o->cfg = *c;
	o->order.k0 = cm_siphash_str(&c->order_key, self_email);
	o->order.k1 = cm_siphash_u64(&c->order_key, o->order.k0);
	if (o->cfg.dials_per_round > OVERLAY_DIALS_PER_ROUND)
		o->cfg.dials_per_round = OVERLAY_DIALS_PER_ROUND;
	return o;
}

void
overlay_candidates_clear(struct overlay *o)
{
	for (size_t i = 0; i < o->ncands; i++) {
		free(o->cands[i].email);
		cm_strlist_clear(&o->cands[i].addrs);
	}
	o->ncands = 0;
}

void
overlay_free(struct overlay *o)
{
	if (o == NULL)
		return;
	overlay_candidates_clear(o);
	for (size_t i = 0; i < o->nbackoffs; i++)
		free(o->backoffs[i].email);
	free(o->cands);
	free(o->backoffs);
	free(o->self);
	free(o);
}

int
overlay_candidate_set(struct overlay *o, const char *email, const struct cm_strlist *addrs,
		      int port, const char *fingerprint)
{
	struct cand *c = NULL;

	if (strcmp(email, o->self) == 0 || addrs->len == 0 || port <= 0)
		return -1;
	for (size_t i = 0; i < o->ncands && c == NULL; i++)
		if (strcmp(o->cands[i].email, email) == 0)
			c = &o->cands[i];
	if (c == NULL) {
		if (room_for_one((void **)&o->cands, &o->cands_cap, o->ncands,
				 OVERLAY_MAX_CANDIDATES, sizeof(*o->cands)) != 0)
			return -1;
		c = &o->cands[o->ncands];
		memset(c, 0, sizeof(*c));
		if ((c->email = strdup(email)) == NULL)
			return -1;
		o->ncands++;
	}
	cm_strlist_clear(&c->addrs);
	for (size_t i = 0; i < addrs->len; i++)
		cm_strlist_append(&c->addrs, addrs->items[i]);
	c->port = port;
	snprintf(c->fp, sizeof(c->fp), "%s", fingerprint != NULL ? fingerprint : "");
	return 0;
}

static const struct overlay_backoff *
backoff_find(const struct overlay *o, const char *email)
{
	for (size_t i = 0; i < o->nbackoffs; i++)
		if (strcmp(o->backoffs[i].email, email) == 0)
			return &o->backoffs[i].b;
	return NULL;
}

void
overlay_dial_failed(struct overlay *o, const char *email, int64_t now_ms, struct engine_rng *rng)
{
	struct overlay_backoff *b = (struct overlay_backoff *)backoff_find(o, email);

	if (b == NULL) {
		struct email_backoff *eb;

		/* Full: the oldest slot makes room (its peer's next attempt comes sooner). */
		if (o->nbackoffs == OVERLAY_MAX_BACKOFFS) {
			free(o->backoffs[0].email);
			o->backoffs[0] = o->backoffs[--o->nbackoffs];
		}
		if (room_for_one((void **)&o->backoffs, &o->backoffs_cap, o->nbackoffs,
				 OVERLAY_MAX_BACKOFFS, sizeof(*o->backoffs)) != 0)
			return;
		eb = &o->backoffs[o->nbackoffs];
		if ((eb->email = strdup(email)) == NULL)
			return;
		overlay_backoff_reset(&eb->b);
		o->nbackoffs++;
		b = &eb->b;
	}
	overlay_backoff_next(b, now_ms, rng);
}

void
overlay_dial_ok(struct overlay *o, const char *email)
{
	struct overlay_backoff *b = (struct overlay_backoff *)backoff_find(o, email);

	if (b != NULL)
		overlay_backoff_reset(b);
}

bool
overlay_waiting(const struct overlay *o, const char *email, int64_t now_ms)
{
	const struct overlay_backoff *b = backoff_find(o, email);

	return b != NULL && overlay_backoff_waiting(b, now_ms);
}

/* Rotates through the addresses as attempts fail. */
static const char *
address_for(const struct overlay *o, const char *email, const struct cm_strlist *addrs)
{
	const struct overlay_backoff *b = backoff_find(o, email);

	return addrs->items[(b != NULL ? (size_t)b->fails : 0) % addrs->len];
}

struct round {
	const struct overlay *o;
	overlay_linked_fn linked;
	void *ctx;
	int64_t now_ms;
	struct overlay_dial *out;
	size_t n, want;
};

static bool
dialable(const struct round *r, const char *email)
{
	if (strcmp(email, r->o->self) == 0 || r->linked(r->ctx, email) ||
	    overlay_waiting(r->o, email, r->now_ms))
		return false;
	/* Planned this round already: it counts as linked. */
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->out[i].email, email) == 0)
			return false;
	return true;
}

static void
plan_add(struct round *r, const char *email, const struct cm_strlist *addrs, int port,
	 const char *fp)
{
	r->out[r->n].email = email;
	r->out[r->n].ip = address_for(r->o, email, addrs);
	r->out[r->n].port = port;
	r->out[r->n].fingerprint = fp;
	r->n++;
}

struct pick {
	const struct peertable_entry *e;
	bool bootstrap; /* attested (peertable_entry_bootstrap) */
	double score;
	uint64_t rank;  /* our own order among equals (order_rank) */
};

/* Where email stands in this agent's own order of otherwise equal peers. */
static uint64_t
order_rank(const struct overlay *o, const char *email)
{
	return cm_siphash_str(&o->order, email);
}

static int
pick_cmp(const void *x, const void *y)
{
	const struct pick *p = x, *q = y;

	if (p->bootstrap != q->bootstrap)
		return p->bootstrap ? -1 : 1;
	if (p->score != q->score)
		return p->score > q->score ? -1 : 1;
	return p->rank < q->rank ? -1 : p->rank > q->rank;
}

/*
 * The best broadcasting peers of the table, attested bootstrap peers first,
 * then by score; a silent agent dials attested bootstrap peers only, as its
 * address reaches whoever it dials.
 */
static void
plan_from_table(struct round *r, const struct peertable *t, int64_t table_now_ms)
{
	const struct peertable_entry *e;
	size_t cursor = 0, n = 0;
	struct pick *picks = calloc(peertable_count(t) + 1, sizeof(*picks));

	if (picks == NULL)
		return;
	while ((e = peertable_next(t, &cursor)) != NULL) {
		const struct cm_peer_record *rec = &e->rec.record;

		if (!rec->is_broadcasting || e->offline || rec->socket_addresses.len == 0 ||
		    rec->port <= 0 || !dialable(r, rec->email))
			continue;
		picks[n].bootstrap = peertable_entry_bootstrap(t, e, table_now_ms);
		if (r->o->silent && !picks[n].bootstrap)
			continue;
		picks[n].e = e;
		picks[n].score = peertable_entry_score(t, e, table_now_ms);
		picks[n].rank = order_rank(r->o, rec->email);
		n++;
	}
	qsort(picks, n, sizeof(*picks), pick_cmp);
	for (size_t i = 0; i < n && r->n < r->want; i++) {
		const struct cm_peer_record *rec = &picks[i].e->rec.record;

		plan_add(r, rec->email, &rec->socket_addresses, rec->port, picks[i].e->fingerprint);
	}
	free(picks);
}

struct cand_rank {
	size_t i;
	uint64_t rank;
};

static int
cand_rank_cmp(const void *x, const void *y)
{
	const struct cand_rank *p = x, *q = y;

	return p->rank < q->rank ? -1 : p->rank > q->rank;
}

/* The bootstrap-listed candidates, in our own order (order_rank). */
static void
plan_candidates(struct round *r)
{
	const struct overlay *o = r->o;
	struct cand_rank order[OVERLAY_MAX_CANDIDATES];

	for (size_t i = 0; i < o->ncands; i++)
		order[i] = (struct cand_rank){i, order_rank(o, o->cands[i].email)};
	qsort(order, o->ncands, sizeof(order[0]), cand_rank_cmp);
	for (size_t k = 0; k < o->ncands && r->n < r->want; k++) {
		const struct cand *c = &o->cands[order[k].i];

		if (dialable(r, c->email))
			plan_add(r, c->email, &c->addrs, c->port, c->fp);
	}
}

void
overlay_set_silent(struct overlay *o, bool silent)
{
	o->silent = silent;
}

size_t
overlay_plan(const struct overlay *o, const struct peertable *table, size_t sessions,
	     overlay_linked_fn linked, void *ctx, int64_t now_ms, int64_t table_now_ms,
	     struct overlay_dial *out)
{
	struct round r = {o, linked, ctx, now_ms, out, 0, 0};

	if (sessions >= o->cfg.neighbours)
		return 0;
	r.want = o->cfg.neighbours - sessions;
	if (r.want > o->cfg.dials_per_round)
		r.want = o->cfg.dials_per_round;
	if (o->ncands > 0)
		plan_candidates(&r);
	if (table != NULL && r.n < r.want)
		plan_from_table(&r, table, table_now_ms);
	return r.n;
}

bool
overlay_dial_for(const struct overlay *o, const struct peertable *table,
		 const struct peertable_entry *e, int64_t now_ms, int64_t table_now_ms,
		 struct overlay_dial *out)
{
	const struct cm_peer_record *rec = &e->rec.record;

	if (!rec->is_broadcasting || e->offline || rec->socket_addresses.len == 0 ||
	    rec->port <= 0 || e->fingerprint[0] == '\0' || strcmp(rec->email, o->self) == 0 ||
	    overlay_waiting(o, rec->email, now_ms) ||
	    (o->silent && !peertable_entry_bootstrap(table, e, table_now_ms)))
		return false;
	out->email = rec->email;
	out->ip = address_for(o, rec->email, &rec->socket_addresses);
	out->port = rec->port;
	out->fingerprint = e->fingerprint;
	return true;
}

bool
overlay_relay_for(const struct overlay *o, const struct peertable *table,
		  const struct peertable_entry *e, int64_t table_now_ms,
		  struct overlay_relayed *out)
{
	const struct cm_strlist *relays = &e->rec.record.relays;

	for (size_t i = 0; i < relays->len; i++) {
		const struct peertable_entry *r = peertable_get(table, relays->items[i]);
		const struct cm_peer_record *rr;

		if (r == NULL || strcmp(relays->items[i], o->self) == 0)
			continue;
		rr = &r->rec.record;
		if (!rr->is_broadcasting || r->offline || rr->relay_port <= 0 ||
		    rr->socket_addresses.len == 0 || r->fingerprint[0] == '\0' ||
		    peertable_entry_status(table, r, table_now_ms) != CM_PEER_ONLINE)
			continue;
		if (o->silent && !peertable_entry_bootstrap(table, r, table_now_ms))
			continue;
		out->relay_email = rr->email;
		out->relay_ip = rr->socket_addresses.items[0];
		out->relay_port = rr->relay_port;
		out->relay_fingerprint = r->fingerprint;
		return true;
	}
	return false;
}

struct relayed_round {
	const struct overlay *o;
	const struct peertable *t;
	overlay_linked_fn linked;
	void *ctx;
	int64_t now_ms, table_now_ms;
	struct pick *picks;
	size_t n, cap;
};

static bool
relayed_visit(const struct peertable_entry *e, void *arg)
{
	struct relayed_round *r = arg;
	const struct cm_peer_record *rec = &e->rec.record;

	if (r->n == r->cap)
		return false;
	if (rec->is_broadcasting || e->offline || rec->relays.len == 0 ||
	    e->fingerprint[0] == '\0' || strcmp(rec->email, r->o->self) == 0 ||
	    peertable_entry_status(r->t, e, r->table_now_ms) != CM_PEER_ONLINE ||
	    r->linked(r->ctx, rec->email) || overlay_waiting(r->o, rec->email, r->now_ms))
		return true;
	r->picks[r->n].e = e;
	r->picks[r->n].bootstrap = false;
	r->picks[r->n].score = peertable_entry_score(r->t, e, r->table_now_ms);
	r->picks[r->n].rank = order_rank(r->o, rec->email);
	r->n++;
	return true;
}

size_t
overlay_plan_relayed(const struct overlay *o, const struct peertable *table,
		     const char *const *repos, size_t nrepos, overlay_linked_fn linked, void *ctx,
		     int64_t now_ms, int64_t table_now_ms, struct overlay_relayed *out,
		     size_t max)
{
	struct relayed_round r = {o, table, linked, ctx, now_ms, table_now_ms, NULL, 0, 0};
	size_t n = 0;

	if (max == 0 || nrepos == 0)
		return 0;
	r.cap = peertable_count(table) + 1;
	if ((r.picks = calloc(r.cap, sizeof(*r.picks))) == NULL)
		return 0;
	peertable_each_hosting(table, repos, nrepos, relayed_visit, &r);
	qsort(r.picks, r.n, sizeof(*r.picks), pick_cmp);
	for (size_t i = 0; i < r.n && n < max; i++) {
		const struct peertable_entry *e = r.picks[i].e;

		if (!overlay_relay_for(o, table, e, table_now_ms, &out[n]))
			continue;
		out[n].email = e->rec.record.email;
		out[n].fingerprint = e->fingerprint;
		n++;
	}
	free(r.picks);
	return n;
}
