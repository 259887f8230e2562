/*
 * peertable.h - the agent's table of known peers: lifecycle, scores, bound.
 *
 * Pure: no I/O, no clock, no global state. Every function that depends on time
 * takes now_ms (wall clock, ms since the Unix epoch) from the caller, so the
 * daemon and the simulator drive the same code.
 *
 * One entry per email. An entry holds the newest verified signed record of
 * that peer (a higher seq replaces a lower one; an equal or lower one is
 * ignored), the fingerprint pinned for the email, and what the agent observed
 * itself: direct heartbeats, round-trip times, whether a session is up.
 *
 * Freshness (docs/protocol.md §5): last_seen is the newest of a direct
 * heartbeat and the issued_at of the newest record. peer_status is "online"
 * while last_seen is within stale_ms, "stale" after that, "offline" once the
 * peer announced it is leaving; the entry is removed when last_seen is older
 * than expire_ms. state is CONNECTED while a direct session is up, STALE when
 * last_seen is older than stale_ms, DISCOVERED otherwise.
 *
 * Scores (0..100): availability = heartbeats received / heartbeats expected
 * (one per heartbeat_ms of time connected) over the last 24 h, capped at 100;
 * a peer not connected for a whole heartbeat interval in that window scores on
 * record freshness instead (100 while online, 0 once stale or offline). performance = 100 at
 * an RTT <= 10 ms falling to 0 at >= 2000 ms on a log scale, 50 while no RTT
 * was measured. score = cm_score(availability, performance) (fb/score.h).
 *
 * Bound: at most max_entries, and at most max_bytes of records, index and
 * bookkeeping: each record is charged what its entry allocates (with the
 * allocator's overhead, estimated) and the repository index is charged each
 * bucket, name copy and items array when it is made, and released when it is
 * freed, so the heap the entries hold stays within PEERTABLE_BYTES_FACTOR of
 * max_bytes. When either is reached the worst-scored entry is evicted to make
 * room, in tiers: peers known by gossip only go first, then peers with a
 * session up that is not yet a proof, then peers the agent vouches for
 * (proven: below; or attested bootstrap peers), and within each, hosts of our
 * own repositories go last. A new record that would itself be the worst
 * candidate is refused instead (PEERTABLE_FULL).
 *
 * Proof of direct contact: a session authenticated with the pinned
 * certificate proves the pin when the agent dialled it, or once it has lasted
 * PEERTABLE_PROVE_MS (an inbound session costs the dialler nothing, so a
 * moment of one proves nothing). Pins proven by inbound sessions only are at
 * most max_entries / PEERTABLE_INBOUND_PROVEN_SHARE: past it, the one whose
 * entry went first falls back to a plain pin, or the proof waits.
 *
 * Pins: the fingerprint pinned for an email lives in a store of its own, so
 * evicting or expiring an entry keeps its pin; a record for that email with
 * another certificate stays a PIN_MISMATCH. The store holds at most
 * PEERTABLE_PINS_PER_ENTRY * max_entries pins, of four kinds, weakest first:
 * from gossip, from a trusted bootstrap server's listing, proven by an
 * inbound session, proven by a dialled one. When full, a pin of an email
 * without entry gives way, oldest orphaned first, only to a new pin of a
 * higher kind (proven ones also to their own kind); a gossip pin displaces
 * another gossip pin at most PEERTABLE_PIN_TURNOVER_PER_MIN times a minute
 * (a burst of as many), so a flood of fresh identities cannot cycle the store
 * quickly; else the new pin, and its record, are refused. A session's hello
 * is not metered: the transport bounds the sessions.
 *
 * Bootstrap attestation: a record's is_bootstrap is a claim. A peer counts as
 * a bootstrap peer (peertable_entry_bootstrap) only while a bootstrap server
 * the agent trusts has listed it with the same certificate within attest_ms
 * (peertable_attest); at most PEERTABLE_MAX_ATTESTED are remembered. An
 * attestation that makes an entry a bootstrap peer changes its version, so
 * anti-entropy filtered on attestation carries it to silent peers.
 *
 * Repository index: repository name -> entries hosting it, kept as records
 * come and go, so that a lookup costs the number of matches, not the table.
 * Torrent index: info hash -> entries whose record lists that torrent, the
 * same way. Both are charged to max_bytes; a record lists at most
 * CM_MAX_TORRENTS torrents (the codec's cap).
 *
 * Silent records: a record with is_broadcasting = false that carries socket
 * addresses or a torrent port breaks the privacy rule; it is refused
 * (PEERTABLE_INVALID), as its signed text would carry them on. Its torrents
 * are kept: a silent seeder is named, never located.
 *
 * Repository keys (peertable_keys.c): a repository's key is the first 64
 * bits of the SHA-256 of its name, a peer's position the first 64 bits of
 * its certificate fingerprint, and nearness is their XOR, as in Kademlia.
 * The table is responsible for a key when fewer than PEERTABLE_KEY_REPLICAS
 * of the broadcasting peers it holds lie nearer to it than we do (counted
 * by common prefix length, so it costs no walk): the peers nearest a key
 * agree on it without knowing each other. Entries hosting a repository we
 * are responsible for rank with the hosts of our own repositories, so a
 * full table keeps them; at most max_entries / PEERTABLE_KEYED_SHARE of
 * them, past which responsibility narrows to the nearest keys (minted hosts
 * of ground repository names cannot fill the table). A lookup asks the
 * broadcasting peers it holds nearest the key (peertable_nearest): with a
 * table holding a share s of the network, about PEERTABLE_KEY_REPLICAS / s
 * peers are responsible for each key and the asker holds 1/2 to 1 times
 * PEERTABLE_KEY_REPLICAS of them.
 *
 * Anti-entropy: the table keeps a version counter that grows by one each time
 * an entry's record is inserted or replaced; the entry remembers the version
 * of its last change, so "what changed since version V" is cheap to answer.
 */
#ifndef PA_PEERTABLE_H
#define PA_PEERTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fb/hash.h"
#include "fb/limits.h"
#include "fb/types.h"

#define PEERTABLE_BUCKETS 24
#define PEERTABLE_PINS_PER_ENTRY 2  /* pins kept: this many per max_entries */
#define PEERTABLE_MAX_ATTESTED 1024 /* bootstrap attestations remembered */
#define PEERTABLE_PROVE_MS (600 * 1000LL)  /* an inbound session this old proves its pin */
#define PEERTABLE_INBOUND_PROVEN_SHARE 2   /* inbound-proven pins: max_entries / this */
#define PEERTABLE_PIN_TURNOVER_PER_MIN 100 /* gossip pins displacing gossip pins */
#define PEERTABLE_BYTES_FACTOR 2           /* heap held by the entries <= this * max_bytes */
#define PEERTABLE_KEY_REPLICAS 16 /* held peers nearer a key than we are, for us to keep it */
#define PEERTABLE_KEYED_SHARE 4   /* entries kept for keys: at most max_entries / this */
#define PEERTABLE_KEY_ASK 5       /* peers nearest a key a lookup asks (docs/protocol.md, section 4) */

/* Where a pin came from, weakest first. */
enum peertable_pin_kind {
	PEERTABLE_PIN_GOSSIP = 0, /* a record, from anyone */
	PEERTABLE_PIN_LISTED,     /* a trusted bootstrap server's listing */
	PEERTABLE_PIN_PROVEN      /* direct contact (peers.json keeps only this flag) */
};

struct peertable_config {
	size_t max_entries;   /* 10000 */
	size_t max_bytes;     /* 64 MiB */
	int64_t stale_ms;     /* 9000 s */
	int64_t expire_ms;    /* 10800 s */
	int64_t heartbeat_ms; /* 30 s: one heartbeat expected per interval */
	int64_t attest_ms;    /* 10800 s: how long a bootstrap server's listing vouches */
};

void peertable_config_default(struct peertable_config *cfg);

/* What the bounds did; the daemon logs changes. */
struct peertable_stats {
	size_t bytes;             /* estimated bytes held for the entries */
	uint64_t evicted;         /* entries evicted to make room */
	uint64_t refused_full;    /* records refused as the worst candidate (PEERTABLE_FULL) */
	uint64_t pins_dropped;    /* unentried pins dropped for newer ones */
	uint64_t pins_refused;    /* pins (and their records) refused: the store is full */
	uint64_t pins_metered;    /* of those, gossip pins over the turnover rate */
	uint64_t proofs_capped;   /* inbound proofs demoted or deferred over their share */
	uint64_t refused_silent;  /* silent records carrying addresses or a torrent port refused */
	uint64_t index_visits;    /* entries visited through the repository or torrent index */
	uint64_t rankings;        /* walks of the table ranking eviction candidates */
};

/* One known peer. Read-only for callers: change it through the functions below. */
struct peertable_entry {
	struct cm_signed_record rec;             /* newest verified record (owned) */
	char fingerprint[CM_FINGERPRINT_LEN + 1]; /* pinned for rec.record.email */
	int64_t discovered_at_ms;
	int64_t last_seen_ms;      /* max(last heartbeat, rec.record.issued_at) */
	int64_t last_heartbeat_ms; /* 0: never */
	int64_t rtt_ms;            /* smoothed; -1: never measured */
	int64_t peer_count;        /* from the peer's last heartbeat */
	int64_t gossip_received_count; /* messages received from this peer as sender */
	bool connected;            /* a direct session is up */
	bool ever_connected;
	bool offline;              /* the peer announced it is leaving */
	bool restored;             /* loaded from disk: STALE until fresh evidence */
	uint64_t version;          /* table version of the last record change */
	int64_t connected_since_ms; /* while connected */
	/*
	 * Availability accounting, allocated on the first direct contact: most
	 * peers are only ever known through gossip and need none.
	 */
	struct peertable_buckets *buckets;
};

/* Hourly buckets over 24 h: heartbeats received and ms spent connected (when they were due). */
struct peertable_buckets {
	int32_t hour[PEERTABLE_BUCKETS]; /* hour number (ms / 3600000) each bucket holds */
	uint32_t heartbeats[PEERTABLE_BUCKETS];
	uint32_t connected_ms[PEERTABLE_BUCKETS];
};

enum peertable_result {
	PEERTABLE_INSERTED = 0, /* new email */
	PEERTABLE_REPLACED,     /* higher seq than the one held */
	PEERTABLE_OLD,          /* equal or lower seq: ignored (replays do nothing) */
	PEERTABLE_EXPIRED,      /* issued_at older than expire_ms: never accepted */
	PEERTABLE_PIN_MISMATCH, /* fingerprint differs from the one pinned for the email */
	PEERTABLE_FULL,         /* bound reached and the record is the worst candidate */
	PEERTABLE_SELF,         /* a record about ourselves: ignored */
	PEERTABLE_INVALID,      /* a silent record that carries addresses or a torrent port */
	PEERTABLE_ERROR         /* allocation failure */
};

struct peertable;

/*
 * self_email: our own email (records about us are ignored). key keys the
 * table's hash maps, whose keys come from the network: the daemon draws a
 * random one per process (cm_random_hash_key); tests and the simulator may
 * pass a fixed one for runs that repeat. NULL on failure.
 */
struct peertable *peertable_new(const struct peertable_config *cfg, const struct cm_hash_key *key,
				const char *self_email);
void peertable_free(struct peertable *t);

/*
 * Names the repositories we host, so their hosts are evicted last. Takes a copy.
 * Returns 0 or -1.
 */
int peertable_set_own_repositories(struct peertable *t, const struct cm_repolist *repos);

/*
 * Our own certificate's fingerprint: our position among repository keys (the
 * engine sets it from our signed record). Returns 0, or -1 when fingerprint
 * is not hex.
 */
int peertable_set_self_fingerprint(struct peertable *t, const char *fingerprint);

/* A repository's key (see "Repository keys" above). */
uint64_t peertable_repo_key(const char *name);

/* True when we keep the hosts of repository name for lookups by key. */
bool peertable_responsible(const struct peertable *t, const char *name);

/*
 * Up to max peers to ask for repository name by key: broadcasting, online,
 * with an address, nearest the key first. out receives borrowed pointers,
 * valid until the table changes. Costs a walk of the table. Returns how many.
 */
size_t peertable_nearest(const struct peertable *t, const char *name, int64_t now_ms,
			 const struct peertable_entry **out, size_t max);

/*
 * Applies a record whose signature the caller has verified; fingerprint is
 * its certificate's. The table takes a copy. leaving = true marks the peer
 * offline at once.
 */
enum peertable_result peertable_apply(struct peertable *t, const struct cm_signed_record *rec,
				      const char *fingerprint, int64_t now_ms);

/*
 * peertable_apply for a record that answers a discovery request of ours and
 * hosts what it asked for: a full table makes room for it as for a host of
 * our own repositories (gossip-only entries of other repositories go first),
 * so that the answer is there when the lookup reads the table.
 */
enum peertable_result peertable_apply_answer(struct peertable *t, const struct cm_signed_record *rec,
					     const char *fingerprint, int64_t now_ms);

/*
 * peertable_apply for the record a session's hello carried: a newcomer ranks
 * as the direct neighbour it is about to be (dialled: as a proven one) and
 * its new pin is not metered, so a flood of gossip cannot shut out a peer
 * that connects.
 */
enum peertable_result peertable_apply_hello(struct peertable *t, const struct cm_signed_record *rec,
					    const char *fingerprint, bool dialled, int64_t now_ms);

/*
 * Pins fingerprint for email without a record (a bootstrap server's listing
 * gives certificates before any gossip; peers.json keeps pins). kind: where
 * it came from; a pin already held with that fingerprint is raised to kind
 * when weaker (PROVEN here counts as a dialled proof: peers.json saved it as
 * one). Returns 0, or -1 when another fingerprint is already pinned for that
 * email or the pin store is full.
 */
int peertable_pin(struct peertable *t, const char *email, const char *fingerprint,
		  enum peertable_pin_kind kind);

/* The fingerprint pinned for email, or NULL. Valid until the table changes. */
const char *peertable_pinned(const struct peertable *t, const char *email);

/*
 * Iterates the pins in unspecified order: *email, *fingerprint (borrowed until
 * the table changes) and *verified (proven) of each; start with cursor 0. Returns
 * false past the end.
 */
bool peertable_next_pin(const struct peertable *t, size_t *cursor, const char **email,
			const char **fingerprint, bool *verified);

/*
 * A bootstrap server the agent trusts listed email with the certificate of
 * fingerprint at now_ms: for attest_ms that peer counts as a bootstrap peer
 * when its record says so. Returns 0 or -1 (out of memory).
 */
int peertable_attest(struct peertable *t, const char *email, const char *fingerprint,
		     int64_t now_ms);

/* True when e claims is_bootstrap and a trusted server attested it with e's certificate. */
bool peertable_entry_bootstrap(const struct peertable *t, const struct peertable_entry *e,
			       int64_t now_ms);

const struct peertable_stats *peertable_stats(const struct peertable *t);

/*
 * Direct observations; unknown emails are ignored (return -1). A session up
 * (connected = true) means the engine saw the peer prove its certificate;
 * dialled: the agent dialled that session. It proves the entry's pin when
 * dialled, or once connected for PEERTABLE_PROVE_MS: the engine repeats
 * connected = true for its sessions on a timer, and the end of a session that
 * lasted that long proves it too.
 */
int peertable_note_heartbeat(struct peertable *t, const char *email, int64_t peer_count,
			     int64_t now_ms);
int peertable_note_rtt(struct peertable *t, const char *email, int64_t rtt_ms);
int peertable_note_gossip(struct peertable *t, const char *email);
int peertable_set_connected(struct peertable *t, const char *email, bool connected,
			    bool dialled, int64_t now_ms);

/* Removes entries whose last_seen is older than expire_ms (their pins stay). Returns how many. */
size_t peertable_expire(struct peertable *t, int64_t now_ms);

/* Removes one email's entry and its pin (the user's choice). Returns 0, or -1 when unknown. */
int peertable_remove(struct peertable *t, const char *email);

const struct peertable_entry *peertable_get(const struct peertable *t, const char *email);
size_t peertable_count(const struct peertable *t);
/* Does the table hold max_entries (a newcomer must displace someone)? */
bool peertable_full(const struct peertable *t);
/*
 * Moves the entry bound to max, never below the entries held (the pins keep
 * the bound they were made with). The simulator's steady mode makes a table
 * full with the share of a large network's records that changes in its
 * window, the rest of a full table changing nothing it measures.
 */
void peertable_set_max_entries(struct peertable *t, size_t max);
/* The key peertable_new was given: the engine over this table keys its seen ids with it. */
const struct cm_hash_key *peertable_hash_key(const struct peertable *t);
uint64_t peertable_version(const struct peertable *t);

/* Derived views of an entry at now_ms. */
enum cm_peer_status peertable_entry_status(const struct peertable *t,
					   const struct peertable_entry *e, int64_t now_ms);
enum cm_peer_state peertable_entry_state(const struct peertable *t,
					 const struct peertable_entry *e, int64_t now_ms);
double peertable_entry_availability(const struct peertable *t, const struct peertable_entry *e,
				    int64_t now_ms);
double peertable_entry_performance(const struct peertable_entry *e);
double peertable_entry_score(const struct peertable *t, const struct peertable_entry *e,
			     int64_t now_ms);

/* True when the entry's record lists repository name. */
bool peertable_entry_hosts(const struct peertable_entry *e, const char *name);

/*
 * Each entry hosting any of repos once, through the index, in no particular
 * order: fn(e, arg) until it returns false. Costs one lookup per name and one
 * visit per match. Not reentrant (it shares a mark with peertable_mark_hosting).
 */
void peertable_each_hosting(const struct peertable *t, const char *const *repos, size_t nrepos,
			    bool (*fn)(const struct peertable_entry *e, void *arg), void *arg);

/*
 * For a filter that walks entries another way: marks every entry hosting any
 * of repos, at the cost of the matches, and returns the mark;
 * peertable_entry_marked(e, mark) is true for them until the next call of
 * this function or peertable_each_hosting.
 */
uint64_t peertable_mark_hosting(const struct peertable *t, const char *const *repos,
				size_t nrepos);
bool peertable_entry_marked(const struct peertable_entry *e, uint64_t mark);

/*
 * Each entry whose record lists torrent info_hash, through the torrent index,
 * in no particular order: fn(e, arg) until it returns false (fn must not
 * change the table). Costs one lookup and one visit per seeder.
 */
void peertable_each_seeding(const struct peertable *t, const char *info_hash,
			    bool (*fn)(const struct peertable_entry *e, void *arg), void *arg);

/* The entry's record's summary of torrent info_hash (borrowed), or NULL when it lists none. */
const struct cm_torrent_summary *peertable_entry_torrent(const struct peertable_entry *e,
							 const char *info_hash);

/*
 * One seeder of a torrent, borrowed from the table until it changes: the
 * entry (its record gives email, is_broadcasting, socket_addresses,
 * torrent_port) and what its record announces of the torrent (name, size,
 * sha256).
 */
struct peertable_seeder {
	const struct peertable_entry *entry;
	const struct cm_torrent_summary *torrent;
};

/*
 * Up to max seeders of info_hash into out: first those one can dial
 * (broadcasting, with addresses and a torrent port), then silent ones, each
 * group best score first (ties: email order); peers that announced they are
 * leaving are left out. Returns how many were written (0 also when out of
 * memory). A silent seeder has no address here, ever: the privacy rule.
 */
size_t peertable_torrent_seeders(const struct peertable *t, const char *info_hash, int64_t now_ms,
				 struct peertable_seeder *out, size_t max);

/*
 * Fills *out with PeerInfo for every entry hosting any of repos (all entries
 * when nrepos is 0), best score first (ties: email order). *out is a new array
 * of *n items the caller releases with peertable_info_free. Returns 0 or -1.
 */
int peertable_snapshot(const struct peertable *t, const char *const *repos, size_t nrepos,
		       int64_t now_ms, struct cm_peer_info **out, size_t *n);
void peertable_info_free(struct cm_peer_info *infos, size_t n);

/*
 * Fills one PeerInfo (source CM_SOURCE_NONE; torrent_port, relay_port,
 * torrents and reachable_via as its record has them, the ports only for a
 * broadcasting record; via NULL: the daemon knows the sessions). Returns 0
 * or -1; *out cleared on failure.
 */
int peertable_entry_info(const struct peertable *t, const struct peertable_entry *e,
			 int64_t now_ms, struct cm_peer_info *out);

/*
 * Iteration in unspecified order, stable while the table is not changed.
 * Returns NULL past the end. Start with cursor 0.
 */
const struct peertable_entry *peertable_next(const struct peertable *t, size_t *cursor);

/*
 * Up to max entries whose record changed after version since, oldest change
 * first, that pass keep (NULL keeps all). out receives borrowed pointers
 * (valid until the table changes); *next_since receives the version to ask
 * from next time (the last one returned, or the table version when nothing
 * more is left). Returns how many were written.
 */
size_t peertable_changes_since(const struct peertable *t, uint64_t since, size_t max,
			       bool (*keep)(const struct peertable_entry *e, void *arg), void *arg,
			       const struct peertable_entry **out, uint64_t *next_since);

/*
 * Restores an entry saved by the agent (DIR/peers.json) as STALE (status
 * "stale", state STALE) until a newer record or a heartbeat arrives: not
 * connected, last_seen and discovered_at as saved. The record is re-checked
 * against expire_ms. Returns a peertable_result like peertable_apply.
 */
enum peertable_result peertable_restore(struct peertable *t, const struct cm_signed_record *rec,
					const char *fingerprint, int64_t discovered_at_ms,
					int64_t last_seen_ms, int64_t now_ms);

#endif
