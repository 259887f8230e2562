/*
 * sweeper.h - deletes expired registrations every --sweep-interval. Every
 * replica runs one; the store's advisory lock lets only one sweep at a time.
 */
#ifndef BS_SWEEPER_H
#define BS_SWEEPER_H

struct bs_server;
struct bs_sweeper;

/* Starts the sweeper thread; NULL on failure. */
struct bs_sweeper *bs_sweeper_start(struct bs_server *s);

/* Stops and joins the thread; NULL is a no-op. */
void bs_sweeper_stop(struct bs_sweeper *sw);

#endif
