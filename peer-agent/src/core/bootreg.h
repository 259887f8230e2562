/*
 * bootreg.h - our registration with the bootstrap servers, as a state machine.
 *
 * NOT_READY until broadcasting starts; REGISTERING until a register succeeds;
 * REGISTERED while heartbeats succeed; STALE when a heartbeat or a re-register
 * failed after we were registered (the servers may still list us); UNREGISTERED
 * once we left, or for a silent agent that only reads listings. Failures retry
 * after the overlay's backoff (1 s doubling to 60 s, jittered); a heartbeat the
 * server answers 404 (it forgot us) registers again at once.
 *
 * Pure: every event comes in with the time and an rng; each returns a step that
 * says the transition, what to send now and when the next timer is due. The
 * daemon sends the requests and logs the transitions.
 */
#ifndef PA_BOOTREG_H
#define PA_BOOTREG_H

#include <stdbool.h>
#include <stdint.h>

#include "core/engine.h"
#include "core/overlay.h"

enum bootreg_state {
	BOOTREG_NOT_READY,
	BOOTREG_REGISTERING,
	BOOTREG_REGISTERED,
	BOOTREG_STALE,
	BOOTREG_UNREGISTERED
};

/* What to send now. */
enum bootreg_do { BOOTREG_NONE, BOOTREG_REGISTER, BOOTREG_HEARTBEAT, BOOTREG_UNREGISTER };

struct bootreg_step {
	enum bootreg_state from, to;
	enum bootreg_do act;
	int64_t next_ms; /* the next timer, from now; -1: none */
};

struct bootreg {
	enum bootreg_state state;
	int64_t expires_ms;          /* wall clock: when the server drops us */
	int64_t heartbeat_ms;        /* between heartbeats, as agreed at register */
	int64_t max_heartbeat_ms;    /* ours (agent.ini); the server may ask for less */
	struct overlay_backoff retry;
};

/* "NOT_READY", "REGISTERING", ... as logs and the status show them. */
const char *bootreg_state_name(enum bootreg_state s);

void bootreg_init(struct bootreg *b, int64_t max_heartbeat_ms);

/* Registered and not stale: what makes a broadcasting agent a bootstrap peer. */
bool bootreg_is_registered(const struct bootreg *b);

/* The servers may list us: registered, or stale but not yet dropped. */
bool bootreg_is_listed(const struct bootreg *b);

/* Broadcasting starts: register now, with a fresh backoff. */
struct bootreg_step bootreg_start(struct bootreg *b);

/* The timer fired: heartbeat while the registration holds at now_ms (wall), else register. */
struct bootreg_step bootreg_due(struct bootreg *b, int64_t now_ms);

/* The request could not even be sent: try again after the backoff (mono_ms). */
struct bootreg_step bootreg_send_failed(struct bootreg *b, int64_t mono_ms,
					struct engine_rng *rng);

/* The server took us until expires_ms; heartbeat_interval_s is its wish (0: none). */
struct bootreg_step bootreg_register_ok(struct bootreg *b, int64_t expires_ms,
					int64_t heartbeat_interval_s);
struct bootreg_step bootreg_register_failed(struct bootreg *b, int64_t mono_ms,
					    struct engine_rng *rng);

/* has_expires: the answer carried a new expiry, expires_ms. */
struct bootreg_step bootreg_heartbeat_ok(struct bootreg *b, bool has_expires,
					 int64_t expires_ms);
/* 404: the server no longer knows us (expired, swept, another database). */
struct bootreg_step bootreg_heartbeat_unknown(struct bootreg *b);
struct bootreg_step bootreg_heartbeat_failed(struct bootreg *b, int64_t mono_ms,
					     struct engine_rng *rng);

/*
 * Broadcasting stops, or the agent leaves: unregister when the servers may list
 * us, else we are UNREGISTERED at once.
 */
struct bootreg_step bootreg_stop(struct bootreg *b);

/* We unregistered, or (a silent agent) a server answered a listing. */
struct bootreg_step bootreg_unregistered(struct bootreg *b);

#endif
