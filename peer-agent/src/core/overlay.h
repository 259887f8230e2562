/*
 * overlay.h - the dial policy: which peers to dial and when to try again.
 *
 * Bootstrap-listed candidates come first, then the best broadcasting peers the
 * table knows (attested bootstrap peers first, then by score; a silent agent
 * only attested bootstrap peers), a few per round, until `neighbours`
 * sessions exist. A peer whose dial failed waits an
 * exponential backoff (1 s doubling to 60 s, jittered) and the next attempt
 * takes its next address. Two sessions with one peer: the one the smaller
 * email dialled survives, on both sides.
 *
 * Pure: the time and a random source come in as arguments; the daemon and the
 * simulator perform the dials this plans.
 */
#ifndef PA_OVERLAY_H
#define PA_OVERLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/engine.h"
#include "core/peertable.h"
#include "fb/hash.h"
#include "fb/types.h"

#define OVERLAY_DIALS_PER_ROUND 2
#define OVERLAY_BACKOFF_MIN_MS 1000
#define OVERLAY_BACKOFF_MAX_MS 60000
#define OVERLAY_MAX_CANDIDATES 256 /* bootstrap-listed peers remembered for dialling */
#define OVERLAY_MAX_BACKOFFS 1024

/* ms scaled by a random factor in [0.5, 1.5): spreads retries of many agents. */
int64_t overlay_jitter_ms(int64_t ms, struct engine_rng *rng);

/* Retries of one thing: the count of failures in a row and when the next may start. */
struct overlay_backoff {
	int fails;
	int64_t next_ms;
};

/*
 * Counts one more attempt and returns the wait before the next: 1 s doubled per
 * earlier failure, at most 60 s, jittered; next_ms becomes now_ms plus it.
 */
int64_t overlay_backoff_next(struct overlay_backoff *b, int64_t now_ms, struct engine_rng *rng);

/* Success: the next wait starts again from 1 s, and nothing waits now. */
void overlay_backoff_reset(struct overlay_backoff *b);

bool overlay_backoff_waiting(const struct overlay_backoff *b, int64_t now_ms);

/* Two sessions with peer: true when the new one (dialled by us when outbound) is kept. */
bool overlay_keep_new_session(const char *self_email, const char *peer_email, bool new_outbound);

struct overlay_config {
	size_t neighbours;      /* sessions wanted */
	size_t dials_per_round; /* at most OVERLAY_DIALS_PER_ROUND */
	/*
	 * Peers equal by the dial policy's measures are dialled in an order of
	 * this agent's own: a keyed hash of their emails under this key mixed
	 * with our email, so that agents do not all dial the same first peers
	 * (and fill them). The daemon draws it at random; zero is fine for tests
	 * and the simulator, where our email still makes each order different.
	 */
	struct cm_hash_key order_key;
};

void overlay_config_default(struct overlay_config *c);

struct overlay;

/* Returns NULL on failure. */
struct overlay *overlay_new(const struct overlay_config *c, const char *self_email);
void overlay_free(struct overlay *o);

/*
 * Remembers (or updates) a peer a bootstrap server listed: dialable before any
 * gossip about it. Our own email, no address or no port are ignored.
 * Returns 0, or -1 when it was not kept (full, out of memory, ignored).
 */
int overlay_candidate_set(struct overlay *o, const char *email, const struct cm_strlist *addrs,
			  int port, const char *fingerprint);

/*
 * Silent (not broadcasting): from the table, dial only bootstrap peers a
 * trusted server attested (peertable_entry_bootstrap), never a mere claim.
 * Off at creation.
 */
void overlay_set_silent(struct overlay *o, bool silent);

/* Forgets every candidate (a fresh listing replaces the last). */
void overlay_candidates_clear(struct overlay *o);

/* A dial of email failed (or the session ended before it was authenticated). */
void overlay_dial_failed(struct overlay *o, const char *email, int64_t now_ms,
			 struct engine_rng *rng);

/* A session with email is up: its backoff starts again. */
void overlay_dial_ok(struct overlay *o, const char *email);

/* True while email waits out its backoff at now_ms. */
bool overlay_waiting(const struct overlay *o, const char *email, int64_t now_ms);

/*
 * One dial to start. The strings belong to the overlay or the table: use them
 * before changing either.
 */
struct overlay_dial {
	const char *email;
	const char *ip;
	int port;
	const char *fingerprint;
};

/* True when a session (open or being set up) exists with email. */
typedef bool (*overlay_linked_fn)(void *ctx, const char *email);

/*
 * The dials of one round: `sessions` exist now; linked(ctx, email) says who is
 * linked already. Backoffs are read at now_ms; the table's scores at table_now_ms
 * (its records carry wall-clock times). table may be NULL. Writes up to
 * dials_per_round entries to out and returns their number.
 */
size_t overlay_plan(const struct overlay *o, const struct peertable *table, size_t sessions,
		    overlay_linked_fn linked, void *ctx, int64_t now_ms, int64_t table_now_ms,
		    struct overlay_dial *out);

/*
 * A dial to e outside the rounds (a lookup by key asks a peer nearest a
 * key): false when the rounds' rules would not dial it either (not
 * broadcasting, left, no address, port or pinned fingerprint, ourselves,
 * waiting out a backoff at now_ms, or, for a silent agent, not an attested
 * bootstrap peer at table_now_ms). Strings borrowed as overlay_plan's.
 */
bool overlay_dial_for(const struct overlay *o, const struct peertable *table,
		      const struct peertable_entry *e, int64_t now_ms, int64_t table_now_ms,
		      struct overlay_dial *out);

/*
 * A dial through a relay (docs/protocol.md section 7): the peer, silent and
 * naming relays, and the relay to ask for the circuit. Strings borrowed from
 * the table.
 */
struct overlay_relayed {
	const char *email;
	const char *fingerprint; /* pinned for email */
	const char *relay_email;
	const char *relay_ip;
	int relay_port;
	const char *relay_fingerprint;
};

/*
 * The relay to reach e through: the first of its record's relays that the
 * table holds broadcasting, online, with an address, a relay_port and a pin,
 * other than self; a silent agent (overlay_set_silent) takes only attested
 * bootstrap peers as relays, as its address reaches whoever it dials. Fills
 * the relay's half of *out and returns true, or false when there is none.
 */
bool overlay_relay_for(const struct overlay *o, const struct peertable *table,
		       const struct peertable_entry *e, int64_t table_now_ms,
		       struct overlay_relayed *out);

/*
 * Gossip dials through relays: silent peers that name relays, host one of
 * repos (our own) and are online, not linked, not waiting out a backoff, with
 * a relay overlay_relay_for finds; best score first, up to max. Peers that
 * publish an address are dialled directly (overlay_plan), never here.
 */
size_t overlay_plan_relayed(const struct overlay *o, const struct peertable *table,
			    const char *const *repos, size_t nrepos, overlay_linked_fn linked,
			    void *ctx, int64_t now_ms, int64_t table_now_ms,
			    struct overlay_relayed *out, size_t max);

#endif
