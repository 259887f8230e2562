/*
 * store.h - the bootstrap server's PostgreSQL store (libpq).
 *
 * One struct bs_store is one database connection, used by one thread at a
 * time. It reconnects by itself: when the database is unreachable a call
 * returns BS_STORE_UNAVAILABLE quickly instead of hanging. Times come from the
 * database's clock so every replica agrees.
 */
#ifndef BS_STORE_H
#define BS_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "fb/err.h"
#include "fb/types.h"

/*
 * What the bs_store_* calls returning int give back: 0 or one of these
 * negative codes (the -ECODE form). NOT_FOUND and PIN_MISMATCH are answers,
 * not faults; routes.c maps each code onto an HTTP reply.
 */
enum bs_store_rc {
	BS_STORE_OK = 0,            /* done */
	BS_STORE_ERROR = -1,        /* a query failed (its message logged), or no memory */
	BS_STORE_NOT_FOUND = -2,    /* no row matched: no such registration, pin or entry */
	BS_STORE_UNAVAILABLE = -3,  /* no connection to the database: retry later */
	BS_STORE_PIN_MISMATCH = -4, /* the email is pinned to another certificate */
	BS_STORE_NOT_ELIGIBLE = -5, /* feedback from a reporter not (long enough) registered */
};

struct bs_store;

/* Does not connect yet; the first call does. conninfo NULL: libpq defaults. */
struct bs_store *bs_store_new(const char *conninfo);
void bs_store_free(struct bs_store *st);

/* Applies the migrations not yet recorded, under an advisory lock. */
int bs_store_migrate(struct bs_store *st, struct cm_err *err);

/* SELECT 1: is the database reachable right now? */
int bs_store_ping(struct bs_store *st);

/*
 * Pinning mode: OK when email has no pin or is pinned to fingerprint;
 * PIN_MISMATCH otherwise. With pin set, an unpinned email is pinned now.
 */
int bs_store_check_pin(struct bs_store *st, const char *email, const char *fingerprint, bool pin);

/* Timing settings every registration query needs. */
struct bs_store_timing {
	int64_t ttl_s;
	int64_t stale_after_s;
	int64_t heartbeat_interval_s;
};

/* Upserts a registration; *expires_at_ms receives its new expiry. */
int bs_store_register(struct bs_store *st, const struct cm_register_request *req,
		      const char *peer_id, const char *fingerprint, const char *cert_pem,
		      const struct bs_store_timing *t, int64_t *expires_at_ms);

/* One heartbeat of a batch: email and fingerprint in, rc and expires_at_ms out. */
struct bs_store_heartbeat {
	const char *email;
	const char *fingerprint; /* pinning mode: the row must carry it; NULL in CA mode */
	int rc;                  /* OK, NOT_FOUND, UNAVAILABLE or ERROR */
	int64_t expires_at_ms;
};

/*
 * Slides the TTL of the live registrations of hb[0..n) (reordered: by email).
 * NOT_FOUND: no row took it, because none is live or (pinning mode) it was
 * registered with another certificate; bs_store_check_pin tells which. Every
 * hb[i].rc is set.
 */
void bs_store_heartbeats(struct bs_store *st, struct bs_store_heartbeat **hb, size_t n,
			 const struct bs_store_timing *t);

int bs_store_unregister(struct bs_store *st, const char *email);

/*
 * Online (unexpired, not stale) broadcasting registrations. exclude_email
 * (may be NULL) is left out; repositories (may be NULL or empty: any) filters
 * by hosted repository; with_scores (discover: repositories required) adds
 * the scores and sorts best first, otherwise the sample is random. At most
 * limit rows.
 */
int bs_store_list_online(struct bs_store *st, const char *exclude_email,
			 const struct cm_strlist *repositories, bool with_scores, int64_t limit,
			 const struct bs_store_timing *t, struct cm_bootstrap_peerlist *out);

/*
 * The same list as JSON text: a top-level array of the peers as PostgreSQL
 * builds them from rows the codec validated on the way in, for answers that
 * only pass them on (decoding and re-encoding 20 certificates cost more than
 * the query). *json is a new string the caller frees.
 */
int bs_store_list_online_json(struct bs_store *st, const char *exclude_email,
			      const struct cm_strlist *repositories, bool with_scores,
			      int64_t limit, const struct bs_store_timing *t, char **json);

/* One unexpired registration by email (addresses only when broadcasting). */
int bs_store_lookup(struct bs_store *st, const char *email, struct cm_bootstrap_peer *out);

/* Who may report feedback, and the window of its bounded move. */
struct bs_feedback_policy {
	int64_t min_age_s; /* the reporter's registration at least this old */
	int64_t window_s;
	int64_t vote_age_s; /* a voter's latest report counts this long */
};

/*
 * Folds one latency report by reporter_email (holding reporter_fp), from the
 * address group voter (bs_addr_net_key), into email's feedback: the report is
 * voter's vote, and the mean moves towards the median of the live votes, so
 * voters in the minority cannot move it. NOT_ELIGIBLE: the reporter has no live registration with
 * that certificate, or one younger than min_age_s; NOT_FOUND: email has no
 * live registration. *clamped: the report met the bound on the mean's move
 * within the window (sql.h).
 */
int bs_store_feedback(struct bs_store *st, const char *reporter_email, const char *reporter_fp,
		      const char *voter, const char *email, int64_t latency_ms,
		      const struct bs_feedback_policy *p, bool *clamped);

/* Admin: every unexpired registration with its state, at most CM_MAX_ADMIN_ROWS. */
int bs_store_admin_list(struct bs_store *st, const struct bs_store_timing *t,
			struct cm_admin_registrationlist *out);

/* The whitelist table (the --whitelist file is the server's, in memory). */
int bs_store_whitelist_list(struct bs_store *st, struct cm_whitelist *out);
int bs_store_whitelist_add(struct bs_store *st, const char *fingerprint, const char *note);
int bs_store_whitelist_remove(struct bs_store *st, const char *fingerprint); /* NOT_FOUND */

/* *entries: rows in the table; *listed: fingerprint is one of them. */
int bs_store_whitelist_check(struct bs_store *st, const char *fingerprint, int64_t *entries,
			     bool *listed);

/* Forgets email's pinned certificate; NOT_FOUND when there was none. */
int bs_store_pin_reset(struct bs_store *st, const char *email);

/* Unexpired registrations: online (heartbeat within stale_after_s) and stale. */
int bs_store_count(struct bs_store *st, const struct bs_store_timing *t, int64_t *online,
		   int64_t *stale);

/*
 * The sweep: one replica at a time holds the sweep lock (*locked false when
 * another does) and deletes expired rows batch by batch, batch_rows at most a
 * statement (*deleted receives the count), then unlocks.
 */
int bs_store_sweep_lock(struct bs_store *st, bool *locked);
int bs_store_sweep_batch(struct bs_store *st, int64_t batch_rows, int64_t *deleted);
void bs_store_sweep_unlock(struct bs_store *st);

#endif
