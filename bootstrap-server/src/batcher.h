/*
 * batcher.h - heartbeats go to the database in batches.
 *
 * A heartbeat is the server's most frequent request and its statement is
 * trivial: sent one at a time, the database spends more on waking up and
 * committing than on the update. The batcher's thread holds its own
 * connection; heartbeats that arrive while a batch is in flight go out
 * together as the next one (bs_store_heartbeats: pipelined, one commit).
 * Under light load a batch holds one heartbeat: nothing waits for company.
 *
 * The queue needs no bound of its own: every job belongs to a request whose
 * connection is suspended until the job is done, and connections are limited.
 */
#ifndef BS_BATCHER_H
#define BS_BATCHER_H

#include "fb/limits.h"
#include "metrics.h"
#include "store.h"

/* At most this many heartbeats in one transaction. */
#define BS_BATCH_MAX 64

struct bs_batcher_job {
	struct bs_store_heartbeat hb; /* points into email and fingerprint below */
	char email[CM_MAX_EMAIL + 1];
	char fingerprint[CM_FINGERPRINT_LEN + 1];
	/* Called on the batcher's thread when hb.rc is set; the job is not touched after. */
	void (*done)(struct bs_batcher_job *job);
	void *arg;
	struct bs_batcher_job *next;
};

struct bs_batcher;

/*
 * Starts the threads; they connect on first use. conninfo NULL: libpq
 * defaults. Each batch is counted in m, which must outlive the batcher.
 */
struct bs_batcher *bs_batcher_new(const char *conninfo, const struct bs_store_timing *t,
				  struct bs_metrics *m);

/*
 * Fills the job's heartbeat from email and fingerprint (NULL in CA mode);
 * -1 when one does not fit (cannot happen for validated input).
 */
int bs_batcher_job_set(struct bs_batcher_job *job, const char *email, const char *fingerprint);

/*
 * Queues job. before(arg) runs first, under the queue's lock, so it happens
 * before done can: the server suspends the connection there. Returns -1
 * without calling anything once the batcher is stopping.
 */
int bs_batcher_submit(struct bs_batcher *b, struct bs_batcher_job *job, void (*before)(void *),
		      void *arg);

/* Refuses new jobs, finishes the queued ones (each gets done), joins the thread. */
void bs_batcher_stop(struct bs_batcher *b);

/* Stops it if not yet stopped, and frees it. */
void bs_batcher_free(struct bs_batcher *b);

#endif
