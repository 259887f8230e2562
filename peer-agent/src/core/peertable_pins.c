/* peertable_pins.c - the table's pin store and bootstrap attestations (see peertable.h). */
#include <stdlib.h>
#include <string.h>

#include "core/peertable_internal.h"

struct pin *
pt_pin_get(const struct peertable *t, const char *email)
{
	return cm_map_get(t->pins, email);
}

void
pt_orphan_unlink(struct peertable *t, struct pin *p)
{
	struct orphans *o = &t->orphans[p->rank];

	if (!p->orphan)
		return;
	if (p->older != NULL)
		p->older->newer = p->newer;
	else
		o->oldest = p->newer;
	if (p->newer != NULL)
		p->newer->older = p->older;
	else
		o->newest = p->older;
	p->older = p->newer = NULL;
	p->orphan = false;
}

/* Its entry is gone: the pin stays, and queues to be the first of its rank to give way. */
void
pt_orphan_link(struct peertable *t, struct pin *p)
{
	struct orphans *o = &t->orphans[p->rank];

	if (p->orphan)
		return;
	p->orphan = true;
	p->older = o->newest;
	p->newer = NULL;
	if (o->newest != NULL)
		o->newest->newer = p;
	else
		o->oldest = p;
	o->newest = p;
}

/* Moves p to rank, on the matching orphan list when it is an orphan. */
static void
pin_set_rank(struct peertable *t, struct pin *p, int rank)
{
	bool orphan = p->orphan;

	pt_orphan_unlink(t, p);
	t->inbound_proven -= p->rank == RANK_INBOUND;
	p->rank = rank;
	t->inbound_proven += p->rank == RANK_INBOUND;
	if (orphan)
		pt_orphan_link(t, p);
}

void
pt_pin_drop(struct peertable *t, struct pin *p)
{
	pt_orphan_unlink(t, p);
	t->inbound_proven -= p->rank == RANK_INBOUND;
	cm_map_del(t->pins, p->email);
	free(p->email);
	free(p);
}

/* Whether a gossip pin may displace another now: PEERTABLE_PIN_TURNOVER_PER_MIN, as a burst. */
static bool
turnover_take(struct peertable *t, int64_t now_ms)
{
	if (now_ms > t->turnover_at_ms) {
		t->turnover += (double)(now_ms - t->turnover_at_ms) *
			       PEERTABLE_PIN_TURNOVER_PER_MIN / 60000.0;
		if (t->turnover > PEERTABLE_PIN_TURNOVER_PER_MIN)
			t->turnover = PEERTABLE_PIN_TURNOVER_PER_MIN;
	}
	t->turnover_at_ms = now_ms;
	if (t->turnover < 1.0)
		return false;
	t->turnover -= 1.0;
	return true;
}

/*
 * Room for one more pin: drops the oldest orphan of the weakest rank in may
 * (a bit per rank). metered: a gossip orphan goes only within the turnover rate.
 */
int
pt_pin_room(struct peertable *t, unsigned may, bool metered, int64_t now_ms)
{
	struct pin *victim = NULL;

	if (cm_map_len(t->pins) < t->max_pins)
		return 0;
	for (int r = 0; r < RANKS && victim == NULL; r++)
		if (may & (1u << r))
			victim = t->orphans[r].oldest;
	if (victim != NULL && victim->rank == RANK_GOSSIP && metered && !turnover_take(t, now_ms)) {
		t->stats.pins_metered++;
		victim = NULL;
	}
	if (victim == NULL) {
		t->stats.pins_refused++;
		return -1;
	}
	pt_pin_drop(t, victim);
	t->stats.pins_dropped++;
	return 0;
}

/* What a new pin of rank may displace: its own rank and weaker ones. */
unsigned
pt_pin_may(int rank)
{
	return (1u << (rank + 1)) - 1;
}

/* Pins fingerprint for email as an orphan (no entry yet); the caller checked no pin exists. */
struct pin *
pt_pin_add(struct peertable *t, const char *email, const char *fingerprint, int rank, unsigned may,
	   bool metered, int64_t now_ms)
{
	struct pin *p;

	if (strlen(fingerprint) != CM_FINGERPRINT_LEN || pt_pin_room(t, may, metered, now_ms) != 0)
		return NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL || (p->email = strdup(email)) == NULL) {
		free(p);
		return NULL;
	}
	memcpy(p->fingerprint, fingerprint, CM_FINGERPRINT_LEN + 1);
	p->rank = rank;
	if (cm_map_put(t->pins, p->email, p) != 0) {
		free(p->email);
		free(p);
		return NULL;
	}
	t->inbound_proven += rank == RANK_INBOUND;
	pt_orphan_link(t, p);
	return p;
}

/*
 * Raises p to rank when it is weaker. Inbound proofs keep to their share:
 * past it, the oldest inbound-proven orphan falls back to a gossip pin, and
 * without one the proof waits.
 */
void
pt_pin_raise(struct peertable *t, struct pin *p, int rank)
{
	if (p->rank >= rank)
		return;
	if (rank == RANK_INBOUND &&
	    t->inbound_proven >= t->cfg.max_entries / PEERTABLE_INBOUND_PROVEN_SHARE) {
		struct pin *old = t->orphans[RANK_INBOUND].oldest;

		t->stats.proofs_capped++;
		if (old == NULL)
			return;
		pin_set_rank(t, old, RANK_GOSSIP);
	}
	pin_set_rank(t, p, rank);
}

static int
kind_rank(enum peertable_pin_kind kind)
{
	switch (kind) {
	case PEERTABLE_PIN_LISTED:
		return RANK_LISTED;
	case PEERTABLE_PIN_PROVEN:
		return RANK_DIALLED;
	case PEERTABLE_PIN_GOSSIP:
		break;
	}
	return RANK_GOSSIP;
}

int
peertable_pin(struct peertable *t, const char *email, const char *fingerprint,
	      enum peertable_pin_kind kind)
{
	struct pin *p = pt_pin_get(t, email);
	int rank = kind_rank(kind);

	if (p != NULL) {
		if (strcmp(p->fingerprint, fingerprint) != 0)
			return -1;
		pt_pin_raise(t, p, rank);
		return 0;
	}
	/* Not metered: listings come from a server we trust, peers.json from ourselves. */
	if ((p = pt_pin_add(t, email, fingerprint, rank, pt_pin_may(rank), false, 0)) == NULL)
		return -1;
	if (cm_map_get(t->entries, email) != NULL)
		pt_orphan_unlink(t, p);
	return 0;
}

const char *
peertable_pinned(const struct peertable *t, const char *email)
{
	const struct pin *p = pt_pin_get(t, email);

	return p != NULL ? p->fingerprint : NULL;
}

bool
peertable_next_pin(const struct peertable *t, size_t *cursor, const char **email,
		   const char **fingerprint, bool *verified)
{
	const struct pin *p = cm_map_next(t->pins, cursor);

	if (p == NULL)
		return false;
	*email = p->email;
	*fingerprint = p->fingerprint;
	*verified = p->rank >= RANK_INBOUND;
	return true;
}

/* Bootstrap attestations */

static void
attest_drop(struct peertable *t, struct attest *a)
{
	cm_map_del(t->attested, a->email);
	free(a->email);
	free(a);
}

/* Room for one more: the expired go, else the one that would expire first. */
static void
attest_room(struct peertable *t, int64_t now_ms)
{
	struct attest *a, *first = NULL;

	if (cm_map_len(t->attested) < PEERTABLE_MAX_ATTESTED)
		return;
	for (size_t i = 0; (a = cm_map_next(t->attested, &i)) != NULL;)
		if (first == NULL || a->until_ms < first->until_ms)
			first = a;
	if (first != NULL && first->until_ms <= now_ms) {
		/* Expired ones go all at once; the map must not change while walked. */
		struct attest *gone[PEERTABLE_MAX_ATTESTED];
		size_t n = 0;

		for (size_t i = 0; (a = cm_map_next(t->attested, &i)) != NULL;)
			if (a->until_ms <= now_ms)
				gone[n++] = a;
		for (size_t i = 0; i < n; i++)
			attest_drop(t, gone[i]);
		return;
	}
	if (first != NULL)
		attest_drop(t, first);
}

int
peertable_attest(struct peertable *t, const char *email, const char *fingerprint, int64_t now_ms)
{
	struct attest *a = cm_map_get(t->attested, email);
	struct node *n = pt_node_get(t, email);
	bool was = n != NULL && peertable_entry_bootstrap(t, &n->e, now_ms);

	if (strlen(fingerprint) != CM_FINGERPRINT_LEN)
		return -1;
	if (a == NULL) {
		attest_room(t, now_ms);
		if ((a = calloc(1, sizeof(*a))) == NULL || (a->email = strdup(email)) == NULL) {
			free(a);
			return -1;
		}
		if (cm_map_put(t->attested, a->email, a) != 0) {
			free(a->email);
			free(a);
			return -1;
		}
	}
	memcpy(a->fingerprint, fingerprint, CM_FINGERPRINT_LEN + 1);
	a->until_ms = now_ms + t->cfg.attest_ms;
	/* Now a bootstrap peer: news for anti-entropy filtered on attestation. */
	if (n != NULL && !was && peertable_entry_bootstrap(t, &n->e, now_ms))
		pt_list_touch(t, n);
	return 0;
}

static bool
attested(const struct peertable *t, const char *email, const char *fingerprint, int64_t now_ms)
{
	const struct attest *a = cm_map_get(t->attested, email);

	return a != NULL && a->until_ms > now_ms && strcmp(a->fingerprint, fingerprint) == 0;
}

bool
peertable_entry_bootstrap(const struct peertable *t, const struct peertable_entry *e,
			  int64_t now_ms)
{
	return e->rec.record.is_bootstrap && attested(t, e->rec.record.email, e->fingerprint, now_ms);
}
