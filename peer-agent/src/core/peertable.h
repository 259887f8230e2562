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
 * Bound: at most max_entries. When full, the worst-scored entry is evicted to
 * make room, but bootstrap peers and hosts of our own repositories go only
 * after every other entry; a new record that would itself be the worst such
 * candidate is refused instead (PEERTABLE_FULL).
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

struct peertable_config {
	size_t max_entries;   /* 10000 */
	int64_t stale_ms;     /* 9000 s */
	int64_t expire_ms;    /* 10800 s */
	int64_t heartbeat_ms; /* 30 s: one heartbeat expected per interval */
	/* Keys the table's hash maps: zero by default; the daemon draws a random one. */
	struct cm_hash_key hash_key;
};

void peertable_config_default(struct peertable_config *cfg);

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
	PEERTABLE_ERROR         /* allocation failure */
};

struct peertable;

/* self_email: our own email (records about us are ignored). NULL on failure. */
struct peertable *peertable_new(const struct peertable_config *cfg, const char *self_email);
void peertable_free(struct peertable *t);

/*
 * Names the repositories we host, so their hosts are evicted last. Takes a copy.
 * Returns 0 or -1.
 */
int peertable_set_own_repositories(struct peertable *t, const struct cm_repolist *repos);

/*
 * Applies a record whose signature the caller has verified; fingerprint is
 * its certificate's. The table takes a copy. A record with is_broadcasting =
 * false has its socket_addresses dropped before it is stored (*stripped, when
 * non-NULL, receives how many). leaving = true marks the peer offline at once.
 */
enum peertable_result peertable_apply(struct peertable *t, const struct cm_signed_record *rec,
				      const char *fingerprint, int64_t now_ms, size_t *stripped);

/*
 * Pins fingerprint for email without a record (a bootstrap server's listing
 * gives certificates before any gossip). Returns 0, or -1 when another
 * fingerprint is already pinned for that email.
 */
int peertable_pin(struct peertable *t, const char *email, const char *fingerprint);

/* The fingerprint pinned for email, or NULL. Valid until the table changes. */
const char *peertable_pinned(const struct peertable *t, const char *email);

/* Direct observations; unknown emails are ignored (return -1). */
int peertable_note_heartbeat(struct peertable *t, const char *email, int64_t peer_count,
			     int64_t now_ms);
int peertable_note_rtt(struct peertable *t, const char *email, int64_t rtt_ms);
int peertable_note_gossip(struct peertable *t, const char *email);
int peertable_set_connected(struct peertable *t, const char *email, bool connected,
			    int64_t now_ms);

/* Removes entries whose last_seen is older than expire_ms. Returns how many. */
size_t peertable_expire(struct peertable *t, int64_t now_ms);

/* Removes one email's entry (and its pin). Returns 0, or -1 when unknown. */
int peertable_remove(struct peertable *t, const char *email);

const struct peertable_entry *peertable_get(const struct peertable *t, const char *email);
size_t peertable_count(const struct peertable *t);
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
 * Fills *out with PeerInfo for every entry hosting any of repos (all entries
 * when nrepos is 0), best score first (ties: email order). *out is a new array
 * of *n items the caller releases with peertable_info_free. Returns 0 or -1.
 */
int peertable_snapshot(const struct peertable *t, const char *const *repos, size_t nrepos,
		       int64_t now_ms, struct cm_peer_info **out, size_t *n);
void peertable_info_free(struct cm_peer_info *infos, size_t n);

/* Fills one PeerInfo (source CM_SOURCE_NONE). Returns 0 or -1; *out cleared on failure. */
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
