/*
 * peertable_internal.h - what the table's files share: its layout and the
 * functions one file calls in another (peertable.c: entries, eviction,
 * scores; peertable_pins.c: pins and attestations; peertable_index.c: the
 * repository and torrent indexes). Not for use outside core/peertable*.c.
 */
#ifndef PA_PEERTABLE_INTERNAL_H
#define PA_PEERTABLE_INTERNAL_H

#include "core/peertable.h"
#include "fb/map.h"

#define HOUR_MS 3600000LL
#define WINDOW_MS (PEERTABLE_BUCKETS * HOUR_MS)
/*
 * Eviction candidates: one walk of the table ranks this many of the worst,
 * used for this long. A flood of newcomers into a full table then costs a walk
 * per batch, not one per record (a walk of 10,000 entries takes ~2.5 ms).
 */
#define EVICT_BATCH 64
#define EVICT_BATCH_MS 1000
/* Entries inserted since the ranking join it at most this often. */
#define EVICT_RERANK_MS 100
/*
 * Estimates for the byte bound: what malloc adds to each block, and a map's
 * slots per item (16 B each, at most 4 per item: it doubles at half full).
 */
#define ALLOC_OVERHEAD 16
#define MAP_ITEM_BYTES 64
/* Eviction tiers, lowest evicted first; a host of our repositories ranks one above. */
#define TIER_GOSSIP 0
#define TIER_SESSION 2 /* a session is up, not yet a proof */
#define TIER_VOUCHED 4 /* proven pin, or attested bootstrap peer */

struct repo_bucket;

/* One repository or torrent of an entry: the bucket of its key and its place there. */
struct repo_ref {
	struct repo_bucket *b;
	size_t pos;
};

/* An entry and its place in the change list (oldest change first) and in the index. */
struct node {
	struct peertable_entry e; /* first, so an entry pointer is its node */
	struct node *older, *newer;
	struct repo_ref *refs; /* one per distinct repository, then torrent, of e.rec */
	size_t nrefs;
	size_t bytes;  /* counted in the table's bytes (its index buckets are counted apart) */
	uint64_t mark; /* the last peertable_mark_hosting that matched it */
	struct pin *pin; /* its email's pin: an entry's pin is never dropped while it lives */
	bool own;        /* it hosts one of our repositories */
	uint64_t pos;    /* its position among repository keys (peertable_keys.c) */
	int8_t key_cpl;  /* the longest prefix a key of its repositories shares with ours; -1: none */
	int8_t near_at;  /* the prefix length it is counted under in near[]; -1: not counted */
	int8_t keyed_at; /* and in keyed[] */
};

/*
 * The entries hosting one repository name, or seeding one torrent (name is
 * then its info hash); items[i].n->refs[items[i].ref] points back.
 */
struct repo_bucket {
	char *name;
	struct {
		struct node *n;
		size_t ref;
	} *items;
	size_t len, cap;
	uint64_t mark; /* the last lookup that visited it: a name asked twice costs once */
	bool own;      /* one of our repositories (never a torrent's) */
	bool torrent;  /* in the torrent index, not the repository index */
	int8_t key_cpl; /* prefix its key shares with our position; -1: no position yet */
};

/* Pin ranks, weakest first: a pin of an email without entry gives way to a higher one. */
enum {
	RANK_GOSSIP,
	RANK_LISTED,
	RANK_INBOUND, /* proven by an inbound session that lasted */
	RANK_DIALLED, /* proven by a session the agent dialled */
	RANKS
};

/*
 * A pinned fingerprint. Pins of emails without an entry are "orphans", on one
 * list per rank, oldest orphaned first: the order they go in.
 */
struct pin {
	char *email;
	char fingerprint[CM_FINGERPRINT_LEN + 1];
	int rank;
	bool orphan;
	struct pin *older, *newer;
};

struct orphans {
	struct pin *oldest, *newest;
};

/* A bootstrap server's word that email, with that certificate, is a bootstrap peer. */
struct attest {
	char *email;
	char fingerprint[CM_FINGERPRINT_LEN + 1];
	int64_t until_ms;
};

struct peertable {
	struct peertable_config cfg;
	struct cm_hash_key key; /* keys every map here; the engine over this table uses it too */
	char *self_email;
	struct cm_map *entries; /* email -> struct node *, keyed by the node's own email */
	struct cm_map *pins;    /* email -> struct pin * */
	struct cm_map *repos;   /* repository name -> struct repo_bucket * */
	struct cm_map *torrents; /* info hash -> struct repo_bucket * */
	struct cm_map *attested; /* email -> struct attest * */
	struct cm_map *own;      /* our repository names (own_repos' strings) -> themselves */
	struct orphans orphans[RANKS];
	size_t max_pins;
	size_t inbound_proven; /* pins of RANK_INBOUND */
	double turnover;       /* gossip pins that may still displace gossip pins */
	int64_t turnover_at_ms;
	struct node *oldest, *newest;
	uint64_t version;
	uint64_t *mark; /* the lookups' counter: changed by const lookups, so held apart */
	struct cm_strlist own_repos;
	struct peertable_stats stats;
	struct node *victims[EVICT_BATCH]; /* eviction candidates, worst first */
	size_t nvictims;
	int64_t victims_at_ms;
	bool victims_dirty; /* entries were inserted since the ranking */
	/* Repository keys (peertable_keys.c). */
	uint64_t self_pos;
	bool has_self_pos;
	uint32_t near[65];  /* broadcasting entries by prefix length shared with self_pos */
	uint32_t keyed[65]; /* entries by key_cpl */
	int keyed_from;     /* entries with key_cpl >= this are kept for their keys; 65: none */
};

/* peertable.c (each is commented where it is defined) */
struct node *pt_node_get(const struct peertable *t, const char *email);
void pt_list_touch(struct peertable *t, struct node *n);

/* peertable_pins.c */
struct pin *pt_pin_get(const struct peertable *t, const char *email);
void pt_orphan_unlink(struct peertable *t, struct pin *p);
void pt_orphan_link(struct peertable *t, struct pin *p);
void pt_pin_drop(struct peertable *t, struct pin *p);
int pt_pin_room(struct peertable *t, unsigned may, bool metered, int64_t now_ms);
unsigned pt_pin_may(int rank);
struct pin *pt_pin_add(struct peertable *t, const char *email, const char *fingerprint, int rank,
		       unsigned may, bool metered, int64_t now_ms);
void pt_pin_raise(struct peertable *t, struct pin *p, int rank);

/* peertable_keys.c */
void pt_keys_init(struct peertable *t);
void pt_keys_add(struct peertable *t, struct node *n);
void pt_keys_del(struct peertable *t, struct node *n);
int8_t pt_key_cpl(const struct peertable *t, const char *name);
bool pt_keyed(const struct peertable *t, const struct node *n);

/* peertable_index.c */
size_t pt_index_need(const struct peertable *t, const struct cm_signed_record *rec);
int pt_index_add(struct peertable *t, struct node *n);
void pt_index_del(struct peertable *t, struct node *n);
void pt_own_remark(struct peertable *t);

#endif
