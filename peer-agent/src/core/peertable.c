/* peertable.c - the agent's table of known peers (see peertable.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/peertable_internal.h"
#include "fb/score.h"

void
peertable_config_default(struct peertable_config *cfg)
{
	cfg->max_entries = 10000;
	cfg->max_bytes = 64 * 1024 * 1024;
	cfg->stale_ms = 9000 * 1000LL;
	cfg->expire_ms = 10800 * 1000LL;
	cfg->heartbeat_ms = 30 * 1000LL;
	cfg->attest_ms = 10800 * 1000LL;
}

struct peertable *
peertable_new(const struct peertable_config *cfg, const struct cm_hash_key *key,
	      const char *self_email)
{
	struct peertable *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->cfg = *cfg;
	t->key = *key;
	if (t->cfg.max_entries == 0)
		t->cfg.max_entries = 1;
	t->max_pins = PEERTABLE_PINS_PER_ENTRY * t->cfg.max_entries;
	t->turnover = PEERTABLE_PIN_TURNOVER_PER_MIN;
	pt_keys_init(t);
	if ((t->self_email = strdup(self_email != NULL ? self_email : "")) == NULL ||
	    (t->mark = calloc(1, sizeof(*t->mark))) == NULL ||
	    (t->entries = cm_map_new(CM_MAP_STR, key)) == NULL ||
	    (t->pins = cm_map_new(CM_MAP_STR, key)) == NULL ||
	    (t->repos = cm_map_new(CM_MAP_STR, key)) == NULL ||
	    (t->torrents = cm_map_new(CM_MAP_STR, key)) == NULL ||
	    (t->attested = cm_map_new(CM_MAP_STR, key)) == NULL ||
	    (t->own = cm_map_new(CM_MAP_STR, key)) == NULL) {
		peertable_free(t);
		return NULL;
	}
	return t;
}

static void
node_free(struct node *n)
{
	cm_signed_record_clear(&n->e.rec);
	free(n->e.buckets);
	free(n->refs);
	free(n);
}

void
peertable_free(struct peertable *t)
{
	struct node *n;
	struct pin *p;
	struct repo_bucket *b;
	struct attest *a;

	if (t == NULL)
		return;
	for (size_t i = 0; t->entries != NULL && (n = cm_map_next(t->entries, &i)) != NULL;)
		node_free(n);
	for (size_t i = 0; t->pins != NULL && (p = cm_map_next(t->pins, &i)) != NULL;) {
		free(p->email);
		free(p);
	}
	for (size_t i = 0; t->repos != NULL && (b = cm_map_next(t->repos, &i)) != NULL;) {
		free(b->name);
		free(b->items);
		free(b);
	}
	for (size_t i = 0; t->torrents != NULL && (b = cm_map_next(t->torrents, &i)) != NULL;) {
		free(b->name);
		free(b->items);
		free(b);
	}
	for (size_t i = 0; t->attested != NULL && (a = cm_map_next(t->attested, &i)) != NULL;) {
		free(a->email);
		free(a);
	}
	cm_map_free(t->entries);
	cm_map_free(t->pins);
	cm_map_free(t->repos);
	cm_map_free(t->torrents);
	cm_map_free(t->attested);
	cm_map_free(t->own);
	cm_strlist_clear(&t->own_repos);
	free(t->mark);
	free(t->self_email);
	free(t);
}

static void
list_unlink(struct peertable *t, struct node *n)
{
	if (n->older != NULL)
		n->older->newer = n->newer;
	else if (t->oldest == n)
		t->oldest = n->newer;
	if (n->newer != NULL)
		n->newer->older = n->older;
	else if (t->newest == n)
		t->newest = n->older;
	n->older = n->newer = NULL;
}

/* Gives n the next version and moves it to the newest end of the change list. */
void
pt_list_touch(struct peertable *t, struct node *n)
{
	list_unlink(t, n);
	n->e.version = ++t->version;
	n->older = t->newest;
	if (t->newest != NULL)
		t->newest->newer = n;
	t->newest = n;
	if (t->oldest == NULL)
		t->oldest = n;
}

const struct peertable_stats *
peertable_stats(const struct peertable *t)
{
	return &t->stats;
}

struct node *
pt_node_get(const struct peertable *t, const char *email)
{
	return cm_map_get(t->entries, email);
}

const struct peertable_entry *
peertable_get(const struct peertable *t, const char *email)
{
	struct node *n = pt_node_get(t, email);

	return n != NULL ? &n->e : NULL;
}

const struct cm_hash_key *
peertable_hash_key(const struct peertable *t)
{
	return &t->key;
}

size_t
peertable_count(const struct peertable *t)
{
	return cm_map_len(t->entries);
}

bool
peertable_full(const struct peertable *t)
{
	return cm_map_len(t->entries) >= t->cfg.max_entries;
}

void
peertable_set_max_entries(struct peertable *t, size_t max)
{
	t->cfg.max_entries = max > cm_map_len(t->entries) ? max : cm_map_len(t->entries);
	if (t->cfg.max_entries == 0)
		t->cfg.max_entries = 1;
}

uint64_t
peertable_version(const struct peertable *t)
{
	return t->version;
}

bool
peertable_entry_hosts(const struct peertable_entry *e, const char *name)
{
	const struct cm_repolist *r = &e->rec.record.repositories;

	for (size_t i = 0; i < r->len; i++)
		if (strcmp(r->items[i].name, name) == 0)
			return true;
	return false;
}

/*
 * The eviction tier of an entry with pin p, evicted lowest first. Peers we
 * can vouch for (attested bootstrap peers, and peers met directly: a proof
 * raised their pin) rank above peers with a session up, and those above peers
 * known by gossip only, so a flood of fresh identities cannot push out one we
 * talk to; within each, hosts of our own repositories rank higher. A claim
 * alone (is_bootstrap, a repository) never lifts an entry above one we vouch
 * for. Costs no walk of the record: own is kept by the index.
 */
static int
tier_of(const struct peertable *t, const struct peertable_entry *e, const struct pin *p,
	bool own, int64_t now_ms)
{
	int tier = TIER_GOSSIP;

	if (peertable_entry_bootstrap(t, e, now_ms) ||
	    (p != NULL && p->rank >= RANK_INBOUND && strcmp(p->fingerprint, e->fingerprint) == 0))
		tier = TIER_VOUCHED;
	else if (e->connected)
		tier = TIER_SESSION;
	return tier + own;
}

static int
entry_tier(const struct peertable *t, const struct node *n, int64_t now_ms)
{
	return tier_of(t, &n->e, n->pin, n->own || pt_keyed(t, n), now_ms);
}

/*
 * Whether rec lists one of our repositories, or one whose key we keep: one
 * lookup and one hash per repository.
 */
static bool
rec_own(const struct peertable *t, const struct cm_signed_record *rec)
{
	const struct cm_repolist *r = &rec->record.repositories;

	for (size_t i = 0; i < r->len; i++)
		if (cm_map_get(t->own, r->items[i].name) != NULL ||
		    peertable_responsible(t, r->items[i].name))
			return true;
	return false;
}

/* The bucket of hour, emptied first when it still holds an older hour; NULL without memory. */
static struct peertable_buckets *
bucket_slot(struct peertable_entry *e, int64_t hour, size_t *slot)
{
	struct peertable_buckets *b = e->buckets;

	if (b == NULL && (b = e->buckets = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	*slot = (size_t)(hour % PEERTABLE_BUCKETS);
	if (b->hour[*slot] != (int32_t)hour) {
		b->hour[*slot] = (int32_t)hour;
		b->heartbeats[*slot] = 0;
		b->connected_ms[*slot] = 0;
	}
	return b;
}

/* Adds ms of connected time [from, to) to the hourly buckets. */
static void
add_connected(struct peertable_entry *e, int64_t from, int64_t to)
{
	if (to - from > WINDOW_MS)
		from = to - WINDOW_MS;
	while (from < to) {
		int64_t hour = from / HOUR_MS, end = (hour + 1) * HOUR_MS;
		struct peertable_buckets *b;
		size_t slot;

		if (end > to)
			end = to;
		if ((b = bucket_slot(e, hour, &slot)) == NULL)
			return;
		b->connected_ms[slot] += (uint32_t)(end - from);
		from = end;
	}
}

enum cm_peer_status
peertable_entry_status(const struct peertable *t, const struct peertable_entry *e,
		       int64_t now_ms)
{
	if (e->offline)
		return CM_PEER_OFFLINE;
	if (e->restored || now_ms - e->last_seen_ms > t->cfg.stale_ms)
		return CM_PEER_STALE;
	return CM_PEER_ONLINE;
}

enum cm_peer_state
peertable_entry_state(const struct peertable *t, const struct peertable_entry *e, int64_t now_ms)
{
	if (e->connected)
		return CM_STATE_CONNECTED;
	if (e->restored || now_ms - e->last_seen_ms > t->cfg.stale_ms)
		return CM_STATE_STALE;
	return CM_STATE_DISCOVERED;
}

double
peertable_entry_availability(const struct peertable *t, const struct peertable_entry *e,
			     int64_t now_ms)
{
	int64_t first_hour = now_ms / HOUR_MS - (PEERTABLE_BUCKETS - 1);
	int64_t connected_ms = 0, heartbeats = 0, expected;

	for (size_t i = 0; e->buckets != NULL && i < PEERTABLE_BUCKETS; i++) {
		if (e->buckets->hour[i] >= first_hour && e->buckets->hour[i] <= now_ms / HOUR_MS) {
			connected_ms += e->buckets->connected_ms[i];
			heartbeats += e->buckets->heartbeats[i];
		}
	}
	if (e->connected && now_ms > e->connected_since_ms) {
		int64_t from = e->connected_since_ms;

		if (from < first_hour * HOUR_MS)
			from = first_hour * HOUR_MS;
		if (now_ms > from)
			connected_ms += now_ms - from;
	}
	expected = t->cfg.heartbeat_ms > 0 ? connected_ms / t->cfg.heartbeat_ms : 0;
	if (expected < 1)
		return peertable_entry_status(t, e, now_ms) == CM_PEER_ONLINE ? 100.0 : 0.0;
	if (heartbeats >= expected)
		return 100.0;
	return 100.0 * (double)heartbeats / (double)expected;
}

double
peertable_entry_performance(const struct peertable_entry *e)
{
	const double lo = log(10.0), hi = log(2000.0);

	if (e->rtt_ms < 0)
		return 50.0;
	if (e->rtt_ms <= 10)
		return 100.0;
	if (e->rtt_ms >= 2000)
		return 0.0;
	return 100.0 * (hi - log((double)e->rtt_ms)) / (hi - lo);
}

double
peertable_entry_score(const struct peertable *t, const struct peertable_entry *e, int64_t now_ms)
{
	return cm_score(peertable_entry_availability(t, e, now_ms),
			peertable_entry_performance(e));
}

/* True when a ranks below b for eviction: lower tier first, then lower score. */
static bool
evicts_before(int a_tier, double a_score, int b_tier, double b_score)
{
	if (a_tier != b_tier)
		return a_tier < b_tier;
	return a_score < b_score;
}

static void
victims_forget(struct peertable *t, const struct node *n)
{
	for (size_t i = 0; i < t->nvictims; i++) {
		if (t->victims[i] == n) {
			memmove(&t->victims[i], &t->victims[i + 1],
				(t->nvictims - i - 1) * sizeof(t->victims[0]));
			t->nvictims--;
			return;
		}
	}
}

/* Removes n; its pin stays (as an orphan) unless drop_pin: only the user drops pins. */
static void
node_remove(struct peertable *t, struct node *n, bool drop_pin)
{
	struct pin *p = n->pin;

	victims_forget(t, n);

	if (p != NULL && drop_pin)
		pt_pin_drop(t, p);
	else if (p != NULL)
		pt_orphan_link(t, p);
	pt_index_del(t, n);
	cm_map_del(t->entries, n->e.rec.record.email);
	list_unlink(t, n);
	t->stats.bytes -= n->bytes;
	node_free(n);
}

/*
 * What an entry holding rec allocates, with malloc's overhead estimated: the
 * node and its map slot, the hourly buckets it may get, the signed text, the
 * certificate and signature, the parsed copy (about the text again, plus a
 * block per string) and its index references (repositories and torrents).
 * Its index buckets are charged apart, when made.
 */
static size_t
record_bytes(const struct cm_signed_record *rec)
{
	const struct cm_peer_record *r = &rec->record;
	size_t n = sizeof(struct node) + MAP_ITEM_BYTES + sizeof(struct peertable_buckets);

	n += rec->canonical != NULL ? 2 * strlen(rec->canonical) : 0;
	n += rec->public_certificate != NULL ? strlen(rec->public_certificate) : 0;
	n += rec->signature != NULL ? strlen(rec->signature) : 0;
	n += 10 * ALLOC_OVERHEAD; /* the node, buckets, texts and the record's fixed strings */
	n += r->repositories.len * (sizeof(struct repo_ref) + sizeof(r->repositories.items[0]) +
				    3 * ALLOC_OVERHEAD);
	n += r->socket_addresses.len * (sizeof(char *) + ALLOC_OVERHEAD);
	n += r->torrents.len * (sizeof(struct repo_ref) + sizeof(r->torrents.items[0]) +
				4 * ALLOC_OVERHEAD);
	return n;
}

/* Ranks the EVICT_BATCH worst entries at now_ms, worst first. */
static void
victims_refill(struct peertable *t, int64_t now_ms)
{
	int tiers[EVICT_BATCH];
	double scores[EVICT_BATCH];
	struct node *n;

	t->nvictims = 0;
	t->victims_at_ms = now_ms;
	t->victims_dirty = false;
	t->stats.rankings++;
	for (size_t c = 0; (n = cm_map_next(t->entries, &c)) != NULL;) {
		int tier = entry_tier(t, n, now_ms);
		double score = peertable_entry_score(t, &n->e, now_ms);
		size_t i = t->nvictims;

		if (i == EVICT_BATCH &&
		    !evicts_before(tier, score, tiers[EVICT_BATCH - 1], scores[EVICT_BATCH - 1]))
			continue;
		if (i == EVICT_BATCH)
			i--;
		else
			t->nvictims++;
		for (; i > 0 && evicts_before(tier, score, tiers[i - 1], scores[i - 1]); i--) {
			t->victims[i] = t->victims[i - 1];
			tiers[i] = tiers[i - 1];
			scores[i] = scores[i - 1];
		}
		t->victims[i] = n;
		tiers[i] = tier;
		scores[i] = score;
	}
}

static bool
victims_stale(const struct peertable *t, int64_t now_ms, int64_t max_age_ms)
{
	return now_ms - t->victims_at_ms >= max_age_ms || t->victims_at_ms - now_ms >= max_age_ms;
}

/*
 * The next eviction candidate other than except that ranks below the
 * newcomer (new_tier, new_score), or NULL. The ranking is redone when it is
 * older than EVICT_BATCH_MS or used up, and when no candidate fits while
 * entries were inserted since, at most every EVICT_RERANK_MS.
 */
static struct node *
victim(struct peertable *t, const struct node *except, int new_tier, double new_score,
       int64_t now_ms)
{
	bool fresh = false;

	if (victims_stale(t, now_ms, EVICT_BATCH_MS))
		t->nvictims = 0;
	for (;;) {
		for (size_t i = 0; i < t->nvictims; i++) {
			struct node *n = t->victims[i];

			if (n == except)
				continue;
			/* Worst first: when the worst left does not rank below, none does. */
			if (evicts_before(entry_tier(t, n, now_ms),
					  peertable_entry_score(t, &n->e, now_ms), new_tier, new_score))
				return n;
			break;
		}
		if (fresh || (t->nvictims > 0 && !(t->victims_dirty &&
						   victims_stale(t, now_ms, EVICT_RERANK_MS))))
			return NULL;
		victims_refill(t, now_ms);
		fresh = true;
	}
}

/*
 * Makes room for a record that would score new_score and take need bytes
 * (and a new entry when new_entry): evicts the worst entries other than
 * except while a bound would be broken, unless the newcomer itself ranks
 * lower. The worst are ranked a batch at a time (EVICT_BATCH), so within
 * EVICT_BATCH_MS the choice may miss a change of score. Returns 0 when there
 * is room.
 */
static int
make_room(struct peertable *t, int new_tier, double new_score, size_t need, bool new_entry,
	  const struct node *except, int64_t now_ms)
{
	while ((new_entry && cm_map_len(t->entries) >= t->cfg.max_entries) ||
	       t->stats.bytes + need > t->cfg.max_bytes) {
		struct node *worst = victim(t, except, new_tier, new_score, now_ms);

		if (worst == NULL) {
			t->stats.refused_full++;
			return -1;
		}
		node_remove(t, worst, false);
		t->stats.evicted++;
	}
	return 0;
}

/* Copies rec into n's record, re-indexed and re-counted. Returns 0 or -1 (out of memory). */
static int
store_record(struct peertable *t, struct node *n, const struct cm_signed_record *rec)
{
	struct cm_signed_record copy;

	if (cm_signed_record_copy(&copy, rec) != 0)
		return -1;
	pt_index_del(t, n);
	/* Keep the email string the table's map borrows as the key (the same text). */
	if (n->e.rec.record.email != NULL) {
		char *held = n->e.rec.record.email;

		n->e.rec.record.email = copy.record.email;
		copy.record.email = held;
	}
	cm_signed_record_clear(&n->e.rec);
	n->e.rec = copy;
	t->stats.bytes -= n->bytes;
	n->bytes = record_bytes(rec);
	t->stats.bytes += n->bytes;
	return pt_index_add(t, n);
}

static int64_t
max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

/* Common checks of apply and restore; *existing receives the entry held for the email. */
static enum peertable_result
precheck(struct peertable *t, const struct cm_signed_record *rec, const char *fingerprint,
	 int64_t now_ms, struct node **existing)
{
	const char *email = rec->record.email;
	const char *pinned;

	*existing = NULL;
	if (email == NULL || fingerprint == NULL)
		return PEERTABLE_ERROR;
	if (strcmp(email, t->self_email) == 0)
		return PEERTABLE_SELF;
	/* Stripping the parsed copy would not help: the signed text carries them on. */
	if (!rec->record.is_broadcasting &&
	    (rec->record.socket_addresses.len > 0 || rec->record.torrent_port != 0 ||
	     rec->record.relay_port != 0)) {
		t->stats.refused_silent++;
		return PEERTABLE_INVALID;
	}
	if (now_ms - rec->record.issued_at_ms > t->cfg.expire_ms)
		return PEERTABLE_EXPIRED;
	pinned = peertable_pinned(t, email);
	if (pinned != NULL && strcmp(pinned, fingerprint) != 0)
		return PEERTABLE_PIN_MISMATCH;
	*existing = pt_node_get(t, email);
	if (*existing != NULL && rec->record.seq <= (*existing)->e.rec.record.seq)
		return PEERTABLE_OLD;
	return PEERTABLE_INSERTED;
}

/* How a newcomer arrives. */
enum arrival {
	ARRIVE_GOSSIP,  /* relayed, or restored: a gossip pin, metered when it displaces one */
	ARRIVE_INBOUND, /* an inbound session's hello */
	ARRIVE_DIALLED, /* the hello of a session we dialled: proven right after */
	/*
	 * Hosts what our own discovery asked for: room made as for a peer we
	 * hold a session with, above the hosts kept for others' lookups by key
	 * (at most ENGINE_WANTED_MAX of an answer are taken so).
	 */
	ARRIVE_ANSWER
};

/* Inserts a new node for rec; the caller fills the observation fields. */
static enum peertable_result
insert(struct peertable *t, const struct cm_signed_record *rec, const char *fingerprint,
       const struct peertable_entry *probe, enum arrival how, int64_t now_ms,
       struct node **out)
{
	struct pin *p = pt_pin_get(t, rec->record.email);
	bool new_pin = p == NULL;
	bool own = rec_own(t, rec);
	int tier = how == ARRIVE_DIALLED  ? TIER_VOUCHED + own
		   : how == ARRIVE_ANSWER ? TIER_SESSION
					  : tier_of(t, probe, p, own, now_ms);
	unsigned may = how == ARRIVE_DIALLED ? pt_pin_may(RANK_DIALLED) : pt_pin_may(RANK_GOSSIP);
	struct node *n;

	/* A pin the store has no room for: its record is not taken either, nor room made. */
	if (new_pin &&
	    pt_pin_room(t, may, how == ARRIVE_GOSSIP || how == ARRIVE_ANSWER, now_ms) != 0)
		return PEERTABLE_FULL;
	if (make_room(t, tier, peertable_entry_score(t, probe, now_ms),
		      record_bytes(rec) + pt_index_need(t, rec), true, NULL, now_ms) != 0)
		return PEERTABLE_FULL;
	/* Room was made above: no second meter. */
	if (new_pin && (p = pt_pin_add(t, rec->record.email, fingerprint, RANK_GOSSIP, may, false,
				       now_ms)) == NULL)
		return PEERTABLE_ERROR;
	if ((n = calloc(1, sizeof(*n))) == NULL)
		goto fail;
	n->near_at = n->keyed_at = -1; /* not counted yet */
	/* Before the record: its position among repository keys is counted with it. */
	memcpy(n->e.fingerprint, fingerprint, CM_FINGERPRINT_LEN);
	n->e.fingerprint[CM_FINGERPRINT_LEN] = '\0';
	if (store_record(t, n, rec) != 0 || cm_map_put(t->entries, n->e.rec.record.email, n) != 0) {
		pt_index_del(t, n);
		t->stats.bytes -= n->bytes;
		node_free(n);
		goto fail;
	}
	pt_orphan_unlink(t, p);
	n->pin = p;
	t->victims_dirty = true;
	n->e.rtt_ms = -1;
	pt_list_touch(t, n);
	*out = n;
	return PEERTABLE_INSERTED;
fail:
	if (new_pin)
		pt_pin_drop(t, p);
	return PEERTABLE_ERROR;
}

/* A newer record for n: may need room for its extra bytes. */
static enum peertable_result
replace(struct peertable *t, struct node *n, const struct cm_signed_record *rec, int64_t seen,
	int64_t now_ms)
{
	size_t bytes = record_bytes(rec) + pt_index_need(t, rec);

	if (bytes > n->bytes &&
	    make_room(t, entry_tier(t, n, now_ms), peertable_entry_score(t, &n->e, now_ms),
		      bytes - n->bytes, false, n, now_ms) != 0)
		return PEERTABLE_FULL;
	if (store_record(t, n, rec) != 0) {
		node_remove(t, n, false);
		return PEERTABLE_ERROR;
	}
	n->e.last_seen_ms = max64(n->e.last_seen_ms, seen);
	n->e.offline = rec->record.leaving;
	n->e.restored = false;
	pt_list_touch(t, n);
	return PEERTABLE_REPLACED;
}

static enum peertable_result
apply(struct peertable *t, const struct cm_signed_record *rec, const char *fingerprint,
      enum arrival how, int64_t now_ms)
{
	struct node *n;
	enum peertable_result r;
	int64_t seen;

	if ((r = precheck(t, rec, fingerprint, now_ms, &n)) != PEERTABLE_INSERTED)
		return r;
	/* A record dated in the future must not keep its peer fresh for longer. */
	seen = rec->record.issued_at_ms < now_ms ? rec->record.issued_at_ms : now_ms;
	if (n != NULL)
		return replace(t, n, rec, seen, now_ms);
	/* A newcomer has no observations: it would score on freshness and an unmeasured RTT. */
	{
		struct peertable_entry probe = {.rec = *rec, .rtt_ms = -1, .last_seen_ms = seen,
						.offline = rec->record.leaving,
						.connected = how != ARRIVE_GOSSIP};

		memcpy(probe.fingerprint, fingerprint, CM_FINGERPRINT_LEN);
		r = insert(t, rec, fingerprint, &probe, how, now_ms, &n);
	}
	if (r != PEERTABLE_INSERTED)
		return r;
	n->e.discovered_at_ms = now_ms;
	n->e.last_seen_ms = seen;
	n->e.offline = rec->record.leaving;
	return PEERTABLE_INSERTED;
}

enum peertable_result
peertable_apply(struct peertable *t, const struct cm_signed_record *rec, const char *fingerprint,
		int64_t now_ms)
{
	return apply(t, rec, fingerprint, ARRIVE_GOSSIP, now_ms);
}

enum peertable_result
peertable_apply_answer(struct peertable *t, const struct cm_signed_record *rec,
		       const char *fingerprint, int64_t now_ms)
{
	return apply(t, rec, fingerprint, ARRIVE_ANSWER, now_ms);
}

enum peertable_result
peertable_apply_hello(struct peertable *t, const struct cm_signed_record *rec,
		      const char *fingerprint, bool dialled, int64_t now_ms)
{
	return apply(t, rec, fingerprint, dialled ? ARRIVE_DIALLED : ARRIVE_INBOUND, now_ms);
}

enum peertable_result
peertable_restore(struct peertable *t, const struct cm_signed_record *rec,
		  const char *fingerprint, int64_t discovered_at_ms, int64_t last_seen_ms,
		  int64_t now_ms)
{
	struct node *n;
	enum peertable_result r;

	if ((r = precheck(t, rec, fingerprint, now_ms, &n)) != PEERTABLE_INSERTED)
		return r;
	if (n != NULL || now_ms - last_seen_ms > t->cfg.expire_ms)
		return n != NULL ? PEERTABLE_OLD : PEERTABLE_EXPIRED;
	{
		struct peertable_entry probe = {.rec = *rec, .rtt_ms = -1, .restored = true};

		memcpy(probe.fingerprint, fingerprint, CM_FINGERPRINT_LEN);
		r = insert(t, rec, fingerprint, &probe, ARRIVE_GOSSIP, now_ms, &n);
	}
	if (r != PEERTABLE_INSERTED)
		return r;
	n->e.discovered_at_ms = discovered_at_ms;
	n->e.last_seen_ms = last_seen_ms < now_ms ? last_seen_ms : now_ms;
	n->e.offline = rec->record.leaving;
	n->e.restored = true;
	return PEERTABLE_INSERTED;
}

int
peertable_note_heartbeat(struct peertable *t, const char *email, int64_t peer_count,
			 int64_t now_ms)
{
	struct node *n = pt_node_get(t, email);
	struct peertable_buckets *b;
	size_t slot;

	if (n == NULL)
		return -1;
	if ((b = bucket_slot(&n->e, now_ms / HOUR_MS, &slot)) != NULL)
		b->heartbeats[slot]++;
	n->e.last_heartbeat_ms = now_ms;
	n->e.last_seen_ms = max64(n->e.last_seen_ms, now_ms);
	n->e.peer_count = peer_count;
	n->e.restored = false;
	return 0;
}

int
peertable_note_rtt(struct peertable *t, const char *email, int64_t rtt_ms)
{
	struct node *n = pt_node_get(t, email);

	if (n == NULL || rtt_ms < 0)
		return -1;
	/* The TCP estimator's smoothing: one new sample moves the estimate by 1/8. */
	n->e.rtt_ms = n->e.rtt_ms < 0 ? rtt_ms : (7 * n->e.rtt_ms + rtt_ms) / 8;
	return 0;
}

int
peertable_note_gossip(struct peertable *t, const char *email)
{
	struct node *n = pt_node_get(t, email);

	if (n == NULL)
		return -1;
	n->e.gossip_received_count++;
	return 0;
}

int
peertable_set_connected(struct peertable *t, const char *email, bool connected, bool dialled,
			int64_t now_ms)
{
	struct node *n = pt_node_get(t, email);
	bool lasted;

	if (n == NULL)
		return -1;
	lasted = n->e.connected && now_ms - n->e.connected_since_ms >= PEERTABLE_PROVE_MS;
	/* The session proved the entry's certificate: the engine checked it against the pin. */
	if (connected && dialled)
		pt_pin_raise(t, n->pin, RANK_DIALLED);
	else if (lasted)
		pt_pin_raise(t, n->pin, RANK_INBOUND);
	if (connected && !n->e.connected) {
		/* It ranks higher now: the cached ranking must not offer it, nor stop at it. */
		victims_forget(t, n);
		n->e.connected_since_ms = now_ms;
		n->e.ever_connected = true;
		n->e.last_seen_ms = max64(n->e.last_seen_ms, now_ms);
		n->e.restored = false;
	} else if (!connected && n->e.connected) {
		add_connected(&n->e, n->e.connected_since_ms, now_ms);
	}
	n->e.connected = connected;
	return 0;
}

size_t
peertable_expire(struct peertable *t, int64_t now_ms)
{
	size_t removed = 0;
	struct node *n = t->oldest;

	while (n != NULL) {
		struct node *next = n->newer;

		if (!n->e.connected && now_ms - n->e.last_seen_ms > t->cfg.expire_ms) {
			node_remove(t, n, false);
			removed++;
		}
		n = next;
	}
	return removed;
}

int
peertable_remove(struct peertable *t, const char *email)
{
	struct node *n = pt_node_get(t, email);
	struct pin *p;

	if (n == NULL) {
		if ((p = pt_pin_get(t, email)) == NULL)
			return -1;
		pt_pin_drop(t, p);
		return 0;
	}
	node_remove(t, n, true);
	return 0;
}

const struct peertable_entry *
peertable_next(const struct peertable *t, size_t *cursor)
{
	struct node *n = cm_map_next(t->entries, cursor);

	return n != NULL ? &n->e : NULL;
}

size_t
peertable_changes_since(const struct peertable *t, uint64_t since, size_t max,
			bool (*keep)(const struct peertable_entry *e, void *arg), void *arg,
			const struct peertable_entry **out, uint64_t *next_since)
{
	struct node *n = t->newest;
	size_t k = 0;

	/* Walk back to the first change after since, then forward, oldest first. */
	while (n != NULL && n->older != NULL && n->older->e.version > since)
		n = n->older;
	if (n != NULL && n->e.version <= since)
		n = NULL;
	*next_since = t->version;
	for (; n != NULL; n = n->newer) {
		if (k == max) {
			*next_since = n->older != NULL ? n->older->e.version : since;
			break;
		}
		if (keep == NULL || keep(&n->e, arg))
			out[k++] = &n->e;
	}
	return k;
}

int
peertable_entry_info(const struct peertable *t, const struct peertable_entry *e, int64_t now_ms,
		     struct cm_peer_info *out)
{
	const struct cm_peer_record *r = &e->rec.record;
	bool ok = true;

	memset(out, 0, sizeof(*out));
	out->email = strdup(r->email);
	out->peer_id = strdup(r->peer_id != NULL ? r->peer_id : "");
	out->public_certificate =
		strdup(e->rec.public_certificate != NULL ? e->rec.public_certificate : "");
	ok = out->email != NULL && out->peer_id != NULL && out->public_certificate != NULL;
	for (size_t i = 0; ok && i < r->socket_addresses.len; i++)
		ok = cm_strlist_append(&out->socket_addresses, r->socket_addresses.items[i]) == 0;
	for (size_t i = 0; ok && i < r->repositories.len; i++)
		ok = cm_repolist_append(&out->repositories, r->repositories.items[i].name,
					r->repositories.items[i].description) == 0;
	for (size_t i = 0; ok && i < r->torrents.len; i++)
		ok = cm_torrentlist_append(&out->torrents, r->torrents.items[i].info_hash,
					   r->torrents.items[i].name, r->torrents.items[i].size,
					   r->torrents.items[i].sha256) == 0;
	for (size_t i = 0; ok && i < r->relays.len; i++)
		ok = cm_strlist_append(&out->reachable_via, r->relays.items[i]) == 0;
	if (!ok) {
		cm_peer_info_clear(out);
		return -1;
	}
	out->port = r->is_broadcasting ? r->port : 0;
	out->torrent_port = r->is_broadcasting ? r->torrent_port : 0;
	out->relay_port = r->is_broadcasting ? r->relay_port : 0;
	out->is_broadcasting = r->is_broadcasting;
	/* What a trusted server attested, not what the record claims. */
	out->is_bootstrap = peertable_entry_bootstrap(t, e, now_ms);
	out->peer_status = peertable_entry_status(t, e, now_ms);
	out->state = peertable_entry_state(t, e, now_ms);
	out->availability_score = peertable_entry_availability(t, e, now_ms);
	out->performance_score = peertable_entry_performance(e);
	out->score = cm_score(out->availability_score, out->performance_score);
	out->bandwidth_estimate = r->capabilities.bandwidth_estimate;
	out->discovered_at_ms = e->discovered_at_ms;
	out->last_seen_ms = e->last_seen_ms;
	out->expires_at_ms = e->last_seen_ms + t->cfg.expire_ms;
	out->peer_count = e->peer_count;
	out->gossip_received_count = e->gossip_received_count;
	out->source = CM_SOURCE_NONE;
	return 0;
}

static int
info_cmp(const void *a, const void *b)
{
	const struct cm_peer_info *x = a, *y = b;

	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	return strcmp(x->email, y->email);
}

/* Collects PeerInfo of the entries a snapshot visits. */
struct snap {
	const struct peertable *t;
	int64_t now_ms;
	struct cm_peer_info *infos;
	size_t k;
	bool failed;
};

static bool
snap_add(const struct peertable_entry *e, void *arg)
{
	struct snap *s = arg;

	if (peertable_entry_info(s->t, e, s->now_ms, &s->infos[s->k]) != 0) {
		s->failed = true;
		return false;
	}
	s->k++;
	return true;
}

int
peertable_snapshot(const struct peertable *t, const char *const *repos, size_t nrepos,
		   int64_t now_ms, struct cm_peer_info **out, size_t *n)
{
	struct snap s = {t, now_ms, calloc(cm_map_len(t->entries) + 1, sizeof(*s.infos)), 0, false};

	*out = NULL;
	*n = 0;
	if (s.infos == NULL)
		return -1;
	if (nrepos > 0) {
		peertable_each_hosting(t, repos, nrepos, snap_add, &s);
	} else {
		const struct peertable_entry *e;
		size_t cursor = 0;

		while (!s.failed && (e = peertable_next(t, &cursor)) != NULL)
			snap_add(e, &s);
	}
	if (s.failed) {
		peertable_info_free(s.infos, s.k);
		return -1;
	}
	qsort(s.infos, s.k, sizeof(*s.infos), info_cmp);
	*out = s.infos;
	*n = s.k;
	return 0;
}

void
peertable_info_free(struct cm_peer_info *infos, size_t n)
{
	for (size_t i = 0; infos != NULL && i < n; i++)
		cm_peer_info_clear(&infos[i]);
	free(infos);
}
