/*
 * relay.h - relayed circuits (docs/protocol.md section 7): a broadcasting
 * agent relays for silent ones, and a silent agent holds reservations on one
 * or two relays and is reached through them.
 *
 * Serving: a TLS listener of its own (mutual TLS, identity certificates). A
 * peer reserves a slot over a control connection it keeps open; any peer
 * asks for a circuit to a reserved email on a connection of its own; the
 * relay invites the reserved peer over its control connection, the reserved
 * peer opens a second connection that joins the circuit, and from then on
 * the relay copies bytes between the two connections, blind: after joined
 * both leave the outer TLS and carry, bare, the two ends' TLS 1.3 session
 * with their identity certificates, so the relay forwards ciphertext it can
 * neither read nor alter unnoticed. Every circuit is
 * bounded in time, bytes and rate; reservations, circuits and connections
 * are capped in all, per email and per address.
 *
 * Using: reservations (one control connection per relay, renewed before
 * expiry, lost when it closes) and circuits, each one connection to the
 * relay (outer TLS pinned to the relay's certificate, until joined) carrying
 * an inner TLS session pinned to the far end's certificate. The consumer gets one end of
 * a socketpair carrying the inner plaintext, as if it were a connected TCP
 * socket to the far end, and the far end's proven certificate. Neither end
 * learns the other's address: the relay never says it.
 *
 * Callbacks run on the event loop. Strings in callbacks are borrowed for the
 * call only.
 */
#ifndef PA_RELAY_H
#define PA_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fb/err.h"
#include "fb/limits.h"
#include "fb/types.h"

struct event_base;
struct rl_ctx;
struct tls_creds;

/*
 * What a circuit carries (enum cm_relay_service, fb/types.h, with its names
 * and cm_relay_service_parse): a gossip session or a BitTorrent peer-wire
 * connection.
 */

#define RL_MAX_LINE 4096 /* bytes of one request or answer line, newline included */

struct rl_config {
	/* Our certificate and key (tls.h), borrowed: the gossip transport's, so that
	 * an agent keeps one set (about 20 KB with its priority cache). Outlives the relay. */
	const struct tls_creds *creds;
	const char *bind_ip;          /* source of our outgoing connections; NULL: the system's */
	int64_t handshake_timeout_ms; /* TCP + TLS + request and answer (10 s) */
	int64_t ping_interval_ms;     /* control connection keepalive, both ways (30 s) */

	/* Serving (after rl_listen). */
	size_t max_reservations;      /* reservations held at once (128) */
	size_t max_circuits;          /* circuits at once, joined or waiting to be (64) */
	size_t max_circuits_per_peer; /* circuits at once with one email at either end (8) */
	size_t max_per_address;       /* connections at once per IPv4 address or IPv6 /64 (16) */
	double accept_rate_per_s;     /* new connections per address and second (4) */
	double accept_burst;          /* ... in a burst (16) */
	int64_t reservation_s;        /* a reservation's lifetime unless renewed (1800) */
	int64_t join_timeout_ms;      /* invite sent to joined, else the circuit is refused (10 s) */
	int64_t circuit_lifetime_s;   /* a joined circuit is closed after this (3600) */
	uint64_t max_circuit_bytes;   /* both directions together, then closed (1 GiB) */
	int64_t circuit_rate;         /* bytes/s of one circuit, each direction; 0: none (8 MiB/s) */
	int64_t max_rate;             /* bytes/s of all circuits together; 0: none (0) */
};

void rl_config_default(struct rl_config *c);

/* The far end of a circuit, proven by the inner TLS. */
struct rl_peer {
	const char *email;       /* its certificate's */
	const char *fingerprint; /* lower-case hex SHA-256 of its certificate's DER */
	const char *cert_pem;
	const char *relay_email; /* through whom */
	enum cm_relay_service service;
};

struct rl_hooks {
	/*
	 * Serving: may email, proven by a certificate with fingerprint, hold a
	 * reservation here? (The agent says yes to its current gossip neighbours
	 * with that pinned certificate.) NULL: anyone may.
	 */
	bool (*may_reserve)(void *ctx, const char *email, const char *fingerprint);
	/*
	 * Using: a circuit to us is up. fd (a connected stream socket carrying
	 * the inner plaintext) becomes the callee's to use and close.
	 */
	void (*on_inbound)(void *ctx, int fd, const struct rl_peer *peer);
	/*
	 * Using: an invitation from email for service arrived; false refuses it
	 * before anything is dialled. NULL: every one is taken.
	 */
	bool (*may_accept)(void *ctx, const char *email, enum cm_relay_service service);
	/*
	 * Using: a reservation was granted or lost, or one under way failed
	 * (refused, unanswered, unreachable): every change of rl_reserved's
	 * answer, so the caller may try another relay (our record names our relays).
	 */
	void (*reservations_changed)(void *ctx);
};

/* NULL on failure (logged). Serves nothing until rl_listen. */
struct rl_ctx *rl_new(struct event_base *base, const struct rl_config *cfg,
		      const struct rl_hooks *hooks, void *ctx);
/* Closes every connection, circuit and reservation, ours and served. NULL is fine. */
void rl_free(struct rl_ctx *rl);

/* Serves on host:port (numeric; port 0: any free one). 0 or -1 (logged). */
int rl_listen(struct rl_ctx *rl, const char *host, int port);
/* Stops serving: the listener, every reservation served and circuit relayed end. */
void rl_unlisten(struct rl_ctx *rl);
/* The port actually bound, or -1 when not serving. */
int rl_listen_port(const struct rl_ctx *rl);

/* A relay to reach: its email, its relay address and its pinned certificate. */
struct rl_target {
	const char *email;
	const char *ip;
	int port;
	const char *fingerprint;
};

/*
 * Reserves a slot on relay and keeps it: renewed at half its lifetime, its
 * control connection pinged. Returns 0 when started or already held or under
 * way, -1 when it cannot start. Granted, lost and failed while under way all
 * call reservations_changed; none is retried (the caller decides).
 */
int rl_reserve(struct rl_ctx *rl, const struct rl_target *relay);
/* Gives up the reservation on relay_email (closes its control connection). */
void rl_unreserve(struct rl_ctx *rl, const char *relay_email);
/* Is a reservation on relay_email granted (true) or under way (*pending)? */
bool rl_reserved(const struct rl_ctx *rl, const char *relay_email, bool *pending);
/* The relays granting us a reservation now, in the order granted: up to max emails (borrowed). */
size_t rl_reservations(const struct rl_ctx *rl, const char **out, size_t max);

/*
 * Opens a circuit to target_email, whose certificate must have target_fp,
 * through relay. done runs exactly once, later: with fd >= 0 (the caller's)
 * and the far end, or fd -1 and err saying why (the relay's refusal names
 * the limit). Returns a handle for rl_cancel, or 0 when it could not start.
 */
typedef void (*rl_connected_fn)(void *arg, int fd, const struct rl_peer *peer,
				const struct cm_err *err);
uint64_t rl_connect(struct rl_ctx *rl, const struct rl_target *relay, const char *target_email,
		    const char *target_fp, enum cm_relay_service service, rl_connected_fn done, void *arg);
/* Abandons a circuit being opened; its done is not called. Unknown handles are ignored. */
void rl_cancel(struct rl_ctx *rl, uint64_t handle);

/* What `peer-agent relay status` lists. */
enum rl_entry_kind {
	RL_HELD,           /* a reservation we hold: peer = the relay */
	RL_SERVED,         /* a reservation we grant: peer = the holder */
	RL_CIRCUIT,        /* a circuit of ours: peer = the far end, relay = through whom */
	RL_CIRCUIT_SERVED  /* a circuit we relay: peer = the dialer, relay = the reserved end */
};

struct rl_entry {
	enum rl_entry_kind kind;
	char peer[CM_MAX_EMAIL + 1];
	char relay[CM_MAX_EMAIL + 1]; /* RL_CIRCUIT: the relay; RL_CIRCUIT_SERVED: the reserved end */
	enum cm_relay_service service;      /* circuits */
	bool inbound;                 /* RL_CIRCUIT: the far end dialled us */
	bool pending;                 /* RL_HELD: not granted yet; circuits: not joined yet */
	int64_t since_ms;             /* wall clock: granted, or joined (or asked, when pending) */
	int64_t expires_ms;           /* reservations: wall clock; 0 otherwise */
	uint64_t bytes;               /* circuits: bytes relayed or carried, both ways */
};

/* Up to max entries into out; returns how many were written. */
size_t rl_list(const struct rl_ctx *rl, struct rl_entry *out, size_t max);

/* Counters for status and metrics (totals since start, and what is open now). */
struct rl_stats {
	/* serving */
	uint64_t reservations_granted, reservations_renewed, reservations_refused;
	uint64_t circuits_opened, circuits_closed;
	uint64_t refused_no_reservation;   /* the target holds no reservation here */
	uint64_t refused_max_reservations; /* max_reservations */
	uint64_t refused_not_allowed;      /* may_reserve said no */
	uint64_t refused_max_circuits;     /* max_circuits */
	uint64_t refused_per_peer;         /* max_circuits_per_peer */
	uint64_t refused_per_address;      /* max_per_address (before TLS) */
	uint64_t refused_rate;             /* accept_rate_per_s (before TLS) */
	uint64_t refused_bad_request;      /* a line too long or not a valid request */
	uint64_t join_timeouts;            /* the reserved peer did not join in time (or declined) */
	uint64_t closed_byte_cap;          /* max_circuit_bytes */
	uint64_t closed_lifetime;          /* circuit_lifetime_s */
	uint64_t bytes_relayed;            /* both directions */
	size_t reservations_served, circuits_served; /* now */
	/* using */
	uint64_t circuits_dialed, circuits_accepted, circuit_failures;
	uint64_t bytes_carried;            /* inner plaintext through our circuits, both ways */
	size_t reservations_held, circuits_ours; /* now */
};
void rl_stats(const struct rl_ctx *rl, struct rl_stats *out);

#endif
