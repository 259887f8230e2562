/* peertable.c - the agent's table of known peers (see peertable.h). */
#include "core/peertable.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fb/map.h"
#include "fb/score.h"

#define HOUR_MS 3600000LL
#define WINDOW_MS (PEERTABLE_BUCKETS * HOUR_MS)

/* An entry and its place in the change list (oldest change first). */
struct node {
	struct peertable_entry e; /* first, so an entry pointer is its node */
	struct node *older, *newer;
};

struct pin {
	char *email;
	char fingerprint[CM_FINGERPRINT_LEN + 1];
};

struct peertable {
	struct peertable_config cfg;
	char *self_email;
	struct cm_map *entries; /* email -> struct node *, keyed by the node's own email */
	struct cm_map *pins;    /* email -> struct pin * */
	struct node *oldest, *newest;
	uint64_t version;
	struct cm_strlist own_repos;
};

void
peertable_config_default(struct peertable_config *cfg)
{
	cfg->max_entries = 10000;
	cfg->stale_ms = 9000 * 1000LL;
	cfg->expire_ms = 10800 * 1000LL;
	cfg->heartbeat_ms = 30 * 1000LL;
	cfg->hash_key = (struct cm_hash_key){0, 0};
}

struct peertable *
peertable_new(const struct peertable_config *cfg, const char *self_email)
{
	struct peertable *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->cfg = *cfg;
	if (t->cfg.max_entries == 0)
		t->cfg.max_entries = 1;
	if ((t->self_email = strdup(self_email != NULL ? self_email : "")) == NULL ||
	    (t->entries = cm_map_new(CM_MAP_STR, &t->cfg.hash_key)) == NULL ||
	    (t->pins = cm_map_new(CM_MAP_STR, &t->cfg.hash_key)) == NULL) {
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
	free(n);
}

void
peertable_free(struct peertable *t)
{
	struct node *n;
	struct pin *p;

	if (t == NULL)
		return;
	for (size_t i = 0; t->entries != NULL && (n = cm_map_next(t->entries, &i)) != NULL;)
		node_free(n);
	for (size_t i = 0; t->pins != NULL && (p = cm_map_next(t->pins, &i)) != NULL;) {
		free(p->email);
		free(p);
	}
	cm_map_free(t->entries);
	cm_map_free(t->pins);
	cm_strlist_clear(&t->own_repos);
	free(t->self_email);
	free(t);
}

int
peertable_set_own_repositories(struct peertable *t, const struct cm_repolist *repos)
{
	struct cm_strlist l = {0};

	for (size_t i = 0; i < repos->len; i++) {
		if (cm_strlist_append(&l, repos->items[i].name) != 0) {
			cm_strlist_clear(&l);
			return -1;
		}
	}
	cm_strlist_clear(&t->own_repos);
	t->own_repos = l;
	return 0;
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
static void
list_touch(struct peertable *t, struct node *n)
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

static struct pin *
pin_get(const struct peertable *t, const char *email)
{
	return cm_map_get(t->pins, email);
}

static void
pin_drop(struct peertable *t, const char *email)
{
	struct pin *p = cm_map_del(t->pins, email);

	if (p != NULL) {
		free(p->email);
		free(p);
	}
}

int
peertable_pin(struct peertable *t, const char *email, const char *fingerprint)
{
	struct pin *p = pin_get(t, email);

	if (p != NULL)
		return strcmp(p->fingerprint, fingerprint) == 0 ? 0 : -1;
	if (strlen(fingerprint) != CM_FINGERPRINT_LEN || cm_map_len(t->pins) >= 2 * t->cfg.max_entries)
		return -1;
	if ((p = calloc(1, sizeof(*p))) == NULL || (p->email = strdup(email)) == NULL) {
		free(p);
		return -1;
	}
	memcpy(p->fingerprint, fingerprint, CM_FINGERPRINT_LEN + 1);
	if (cm_map_put(t->pins, p->email, p) != 0) {
		free(p->email);
		free(p);
		return -1;
	}
	return 0;
}

const char *
peertable_pinned(const struct peertable *t, const char *email)
{
	const struct pin *p = pin_get(t, email);

	return p != NULL ? p->fingerprint : NULL;
}

static struct node *
node_get(const struct peertable *t, const char *email)
{
	return cm_map_get(t->entries, email);
}

const struct peertable_entry *
peertable_get(const struct peertable *t, const char *email)
{
	struct node *n = node_get(t, email);

	return n != NULL ? &n->e : NULL;
}

size_t
peertable_count(const struct peertable *t)
{
	return cm_map_len(t->entries);
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

/* Bootstrap peers and hosts of our own repositories are evicted last. */
static bool
protected_entry(const struct peertable *t, const struct peertable_entry *e)
{
	if (e->rec.record.is_bootstrap)
		return true;
	for (size_t i = 0; i < t->own_repos.len; i++)
		if (peertable_entry_hosts(e, t->own_repos.items[i]))
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

/* True when a ranks below b for eviction: unprotected before protected, then lower score. */
static bool
evicts_before(bool a_prot, double a_score, bool b_prot, double b_score)
{
	if (a_prot != b_prot)
		return !a_prot;
	return a_score < b_score;
}

static void
node_remove(struct peertable *t, struct node *n)
{
	cm_map_del(t->entries, n->e.rec.record.email);
	pin_drop(t, n->e.rec.record.email);
	list_unlink(t, n);
	node_free(n);
}

/*
 * Makes room for a record that would score new_score: evicts the worst entry
 * unless the newcomer itself ranks lower. Returns 0 when there is room.
 */
static int
make_room(struct peertable *t, bool new_prot, double new_score, int64_t now_ms)
{
	struct node *worst = NULL, *n;
	bool worst_prot = false;
	double worst_score = 0;

	if (cm_map_len(t->entries) < t->cfg.max_entries)
		return 0;
	for (size_t i = 0; (n = cm_map_next(t->entries, &i)) != NULL;) {
		bool prot;
		double score;

		prot = protected_entry(t, &n->e);
		score = peertable_entry_score(t, &n->e, now_ms);
		if (worst == NULL || evicts_before(prot, score, worst_prot, worst_score)) {
			worst = n;
			worst_prot = prot;
			worst_score = score;
		}
	}
	if (worst == NULL || !evicts_before(worst_prot, worst_score, new_prot, new_score))
		return -1;
	node_remove(t, worst);
	return 0;
}

/* Copies rec into e->rec, without addresses when it is not broadcasting. */
static int
store_record(struct peertable_entry *e, const struct cm_signed_record *rec, size_t *stripped)
{
	struct cm_signed_record copy;
	size_t n = 0;

	if (cm_signed_record_copy(&copy, rec) != 0)
		return -1;
	if (!copy.record.is_broadcasting && copy.record.socket_addresses.len > 0) {
		n = copy.record.socket_addresses.len;
		cm_strlist_clear(&copy.record.socket_addresses);
	}
	if (stripped != NULL)
		*stripped = n;
	/* Keep the email string the table's map borrows as the key (the same text). */
	if (e->rec.record.email != NULL) {
		char *held = e->rec.record.email;

		e->rec.record.email = copy.record.email;
		copy.record.email = held;
	}
	cm_signed_record_clear(&e->rec);
	e->rec = copy;
	return 0;
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
	if (now_ms - rec->record.issued_at_ms > t->cfg.expire_ms)
		return PEERTABLE_EXPIRED;
	pinned = peertable_pinned(t, email);
	if (pinned != NULL && strcmp(pinned, fingerprint) != 0)
		return PEERTABLE_PIN_MISMATCH;
	*existing = node_get(t, email);
	if (*existing != NULL && rec->record.seq <= (*existing)->e.rec.record.seq)
		return PEERTABLE_OLD;
	return PEERTABLE_INSERTED;
}

/* Inserts a new node for rec; the caller fills the observation fields. */
static enum peertable_result
insert(struct peertable *t, const struct cm_signed_record *rec, const char *fingerprint,
       bool prot, double score, int64_t now_ms, size_t *stripped, struct node **out)
{
	struct node *n;

	if (make_room(t, prot, score, now_ms) != 0)
		return PEERTABLE_FULL;
	if ((n = calloc(1, sizeof(*n))) == NULL)
		return PEERTABLE_ERROR;
	if (store_record(&n->e, rec, stripped) != 0 || cm_map_put(t->entries, n->e.rec.record.email, n) != 0) {
		node_free(n);
		return PEERTABLE_ERROR;
	}
	if (peertable_pin(t, rec->record.email, fingerprint) != 0) {
		cm_map_del(t->entries, rec->record.email);
		node_free(n);
		return PEERTABLE_ERROR;
	}
	memcpy(n->e.fingerprint, fingerprint, CM_FINGERPRINT_LEN);
	n->e.fingerprint[CM_FINGERPRINT_LEN] = '\0';
	n->e.rtt_ms = -1;
	list_touch(t, n);
	*out = n;
	return PEERTABLE_INSERTED;
}

enum peertable_result
peertable_apply(struct peertable *t, const struct cm_signed_record *rec, const char *fingerprint,
		int64_t now_ms, size_t *stripped)
{
	struct node *n;
	enum peertable_result r;
	int64_t seen;

	if (stripped != NULL)
		*stripped = 0;
	if ((r = precheck(t, rec, fingerprint, now_ms, &n)) != PEERTABLE_INSERTED)
		return r;
	/* A record dated in the future must not keep its peer fresh for longer. */
	seen = rec->record.issued_at_ms < now_ms ? rec->record.issued_at_ms : now_ms;
	if (n != NULL) {
		if (store_record(&n->e, rec, stripped) != 0)
			return PEERTABLE_ERROR;
		n->e.last_seen_ms = max64(n->e.last_seen_ms, seen);
		n->e.offline = rec->record.leaving;
		n->e.restored = false;
		list_touch(t, n);
		return PEERTABLE_REPLACED;
	}
	/* A newcomer has no observations: it would score on freshness and an unmeasured RTT. */
	{
		struct peertable_entry probe = {.rec = *rec, .rtt_ms = -1, .last_seen_ms = seen,
						.offline = rec->record.leaving};

		r = insert(t, rec, fingerprint, protected_entry(t, &probe),
			   peertable_entry_score(t, &probe, now_ms), now_ms, stripped, &n);
	}
	if (r != PEERTABLE_INSERTED)
		return r;
	n->e.discovered_at_ms = now_ms;
	n->e.last_seen_ms = seen;
	n->e.offline = rec->record.leaving;
	return PEERTABLE_INSERTED;
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

		r = insert(t, rec, fingerprint, protected_entry(t, &probe),
			   peertable_entry_score(t, &probe, now_ms), now_ms, NULL, &n);
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
	struct node *n = node_get(t, email);
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
	struct node *n = node_get(t, email);

	if (n == NULL || rtt_ms < 0)
		return -1;
	/* The TCP estimator's smoothing: one new sample moves the estimate by 1/8. */
	n->e.rtt_ms = n->e.rtt_ms < 0 ? rtt_ms : (7 * n->e.rtt_ms + rtt_ms) / 8;
	return 0;
}

int
peertable_note_gossip(struct peertable *t, const char *email)
{
	struct node *n = node_get(t, email);

	if (n == NULL)
		return -1;
	n->e.gossip_received_count++;
	return 0;
}

int
peertable_set_connected(struct peertable *t, const char *email, bool connected, int64_t now_ms)
{
	struct node *n = node_get(t, email);

	if (n == NULL)
		return -1;
	if (connected && !n->e.connected) {
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
			node_remove(t, n);
			removed++;
		}
		n = next;
	}
	return removed;
}

int
peertable_remove(struct peertable *t, const char *email)
{
	struct node *n = node_get(t, email);

	if (n == NULL) {
		if (pin_get(t, email) == NULL)
			return -1;
		pin_drop(t, email);
		return 0;
	}
	node_remove(t, n);
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
	if (!ok) {
		cm_peer_info_clear(out);
		return -1;
	}
	out->port = r->is_broadcasting ? r->port : 0;
	out->is_broadcasting = r->is_broadcasting;
	out->is_bootstrap = r->is_bootstrap;
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

static bool
hosts_any(const struct peertable_entry *e, const char *const *repos, size_t nrepos)
{
	if (nrepos == 0)
		return true;
	for (size_t i = 0; i < nrepos; i++)
		if (peertable_entry_hosts(e, repos[i]))
			return true;
	return false;
}

static int
info_cmp(const void *a, const void *b)
{
	const struct cm_peer_info *x = a, *y = b;

	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	return strcmp(x->email, y->email);
}

int
peertable_snapshot(const struct peertable *t, const char *const *repos, size_t nrepos,
		   int64_t now_ms, struct cm_peer_info **out, size_t *n)
{
	struct cm_peer_info *infos = calloc(cm_map_len(t->entries) + 1, sizeof(*infos));
	const struct peertable_entry *e;
	size_t cursor = 0, k = 0;

	*out = NULL;
	*n = 0;
	if (infos == NULL)
		return -1;
	while ((e = peertable_next(t, &cursor)) != NULL) {
		if (!hosts_any(e, repos, nrepos))
			continue;
		if (peertable_entry_info(t, e, now_ms, &infos[k]) != 0) {
			peertable_info_free(infos, k);
			return -1;
		}
		k++;
	}
	qsort(infos, k, sizeof(*infos), info_cmp);
	*out = infos;
	*n = k;
	return 0;
}

void
peertable_info_free(struct cm_peer_info *infos, size_t n)
{
	for (size_t i = 0; infos != NULL && i < n; i++)
		cm_peer_info_clear(&infos[i]);
	free(infos);
}
