/*
 * transport.h - gossip sessions: TCP (libevent) -> TLS (GnuTLS) -> WebSocket (wslay).
 *
 * One event loop serves every session without blocking: GnuTLS is driven
 * through memory buffers (custom push/pull on evbuffers), wslay frames the
 * decrypted stream. WebSocket per RFC 6455: HTTP/1.1 Upgrade on path
 * /gossip/v1, subprotocol flashback-gossip.v1, no extensions (an offered
 * permessage-deflate is declined), text frames of one JSON envelope, frame and
 * message size <= CM_MAX_FRAME, client frames masked and server frames not.
 *
 * Both sides present certificates. The connecting side pins the server's
 * certificate to the fingerprint it expects (from a bootstrap listing or a
 * signed record) and fails the session on a mismatch. The accepting side
 * requests a client certificate, takes any (self-signed and unknown ones
 * too), and refuses a session without one; proving that certificate belongs
 * to the announced peer is the engine's job (its hello rule).
 *
 * An adopted session (tp_adopt) runs on a stream someone else connected and
 * secured: a relayed circuit's plaintext, whose inner TLS already proved the
 * far end's certificate. It has no TCP connect and no TLS of its own: it
 * starts at the Upgrade and from there runs like any session (every timeout
 * and cap below). It has no remote address, so the per-address and per-/48
 * caps and the accept rate neither count nor refuse it; an inbound one does
 * count in max_pending and max_sessions, and their evictions take all
 * adopted sessions together for one address group of its own (a flood
 * through relays pushes out its own sessions first, as an address's does).
 *
 * A bad frame closes the session with the code that says why: 1003 binary
 * frame, 1009 too big, 1002 protocol violation (unmasked client frame, bad
 * opcode, fragmented control frame...). The engine asks for 1007 and 1008.
 *
 * Limits against a hostile network (each counted in tp_stats):
 * - accepts per remote address (an IPv4 address or an IPv6 /64) are rate
 *   limited by a token bucket (accept_rate_per_s, accept_burst; a table of at
 *   most TP_ACCEPT_TABLE_MAX addresses): a reconnect loop is refused at once;
 * - inbound sessions per remote address are capped at max_per_address, and
 *   IPv6 ones per /48 at max_per_prefix48; over either the connection is
 *   closed at once;
 * - a session the caller has not marked authenticated (tp_session_authenticated,
 *   after the peer's hello) within hello_timeout_ms of opening is closed with 1008;
 * - inbound sessions not yet authenticated are capped at max_pending, apart
 *   from the authenticated ones: a newcomer over the cap pushes out the
 *   youngest pending session of the address holding the most, so one address
 *   cannot push an honest newcomer out during its handshake;
 * - authenticated inbound sessions are capped at max_sessions: one more
 *   closes (4000) an existing one, not the newcomer and not of the longest
 *   connected half, of the address group (IPv4 address, IPv6 /48) with the
 *   most sessions, its youngest: identities from few addresses push out each
 *   other, not an honest newcomer. That happens evict_grace_ms after the
 *   newcomer's hello, unless the count is back within the cap by then (a
 *   session dialled for one question closes within seconds, and costs no one
 *   their place), and at once past max_sessions + evict_surplus;
 * - a session whose unsent output would pass max_send_queue_bytes is closed
 *   (1008, logged) and freed at once: a peer that does not read is dropped,
 *   not buffered;
 * - a pong counts only when it echoes the nonce of our outstanding ping; the
 *   round trip is our own clock's, never a value the peer sent.
 *
 * Callbacks run on the event loop. After on_close returns, the session is
 * freed: do not use it again.
 */
#ifndef PA_TRANSPORT_H
#define PA_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fb/limits.h"

struct event_base;
struct tp_ctx;
struct tp_session;
struct tls_creds;

#define TP_PATH "/gossip/v1"
#define TP_SUBPROTOCOL "flashback-gossip.v1"
#define TP_MAX_RTT_MS 60000 /* a pong later than this reports nothing */
#define TP_ACCEPT_TABLE_MAX 4096 /* addresses whose accept rate is tracked */
/*
 * Close code of a session pushed out because the agent holds all the inbound
 * neighbours it may (private-use range of RFC 6455): the dialler is to try
 * another peer, not this one again at once.
 */
#define TP_CLOSE_FULL 4000

struct tp_callbacks {
	/* TLS (not for adopted) and WebSocket handshakes are done; the peer's certificate is known. */
	void (*on_open)(struct tp_session *s, void *arg);
	/* One complete text message (not NUL-terminated; len <= CM_MAX_FRAME). */
	void (*on_text)(struct tp_session *s, const char *buf, size_t len, void *arg);
	/* A pong answered our last ping after rtt_ms (0 <= rtt_ms <= TP_MAX_RTT_MS). */
	void (*on_pong)(struct tp_session *s, int64_t rtt_ms, void *arg);
	/*
	 * The session ended: code is the RFC 6455 close code sent or received
	 * (1006 when the connection dropped without one, or when it never opened).
	 */
	void (*on_close)(struct tp_session *s, int code, const char *reason, void *arg);
};

struct tp_config {
	const char *cert_file;    /* our certificate (PEM) */
	const char *key_file;     /* our key (PEM) */
	int64_t handshake_timeout_ms; /* TCP + TLS + Upgrade (adopted: the Upgrade) within (10 s) */
	int64_t idle_timeout_ms;  /* no byte received for this long closes (90 s) */
	size_t max_sessions;      /* authenticated inbound sessions at once (256) */
	int64_t evict_grace_ms;   /* over max_sessions this long before one is pushed out (5 s) */
	size_t evict_surplus;     /* over max_sessions by more than this: at once (2) */
	int64_t hello_timeout_ms; /* open to authenticated, else closed with 1008 (5 s) */
	size_t max_pending;       /* inbound sessions not yet authenticated (8) */
	size_t max_per_address;   /* inbound sessions per IPv4 address or IPv6 /64 (4) */
	size_t max_per_prefix48;  /* inbound sessions per IPv6 /48 (16) */
	double accept_rate_per_s; /* accepts per address and second (4) */
	double accept_burst;      /* accepts per address in a burst (8) */
	size_t max_send_queue_bytes; /* unsent output per session before it is closed (1 MiB) */
};

void tp_config_default(struct tp_config *cfg);

/* Loads the credentials. cb and arg are given to every session. NULL on failure (logged). */
struct tp_ctx *tp_new(struct event_base *base, const struct tp_config *cfg,
		      const struct tp_callbacks *cb, void *arg);
/* Closes every session (on_close runs for each) and the listener. */
void tp_free(struct tp_ctx *ctx);

/* Accepts sessions on host:port (numeric IPv4/IPv6). Returns 0 or -1. */
int tp_listen(struct tp_ctx *ctx, const char *host, int port);
/* Stops accepting (a silent agent has no listener); open sessions stay. */
void tp_unlisten(struct tp_ctx *ctx);
/* The port actually bound (useful with port 0), or -1 without a listener. */
int tp_listen_port(const struct tp_ctx *ctx);
/* Our certificate and key, as the sessions use them: for others to share (the relay). */
const struct tls_creds *tp_creds(const struct tp_ctx *ctx);

/*
 * Connects to ip:port (numeric), from bind_ip when non-NULL, and pins the
 * server certificate to expected_fingerprint (lower-case hex SHA-256 of the
 * DER) when non-NULL. Returns the session (on_open or on_close follows
 * later), or NULL when it could not even start.
 */
struct tp_session *tp_connect(struct tp_ctx *ctx, const char *ip, int port, const char *bind_ip,
			      const char *expected_fingerprint);

/*
 * A session on fd, a connected stream (a relayed circuit's end) carrying
 * plaintext already secured with the peer whose certificate is peer_cert_pem
 * and whose fingerprint is fingerprint (both copied). No TLS: it starts at
 * the Upgrade, as its server when inbound, else as its client. Takes fd
 * (closed on failure too). Returns the session (on_open or on_close follows
 * later), or NULL when it could not even start.
 */
struct tp_session *tp_adopt(struct tp_ctx *ctx, int fd, bool inbound, const char *peer_cert_pem,
			    const char *fingerprint);

/* Queues one text message. Returns 0, or -1 when closing/closed or len > CM_MAX_FRAME. */
int tp_send_text(struct tp_session *s, const char *buf, size_t len);

/*
 * Sends a ping carrying a fresh random nonce (it replaces any outstanding
 * one); on_pong reports the round trip when the matching pong comes back.
 */
int tp_ping(struct tp_session *s);

/*
 * The peer proved who it is (its hello): stops the hello deadline, moves an
 * inbound session from the pending count to max_sessions (over it, another
 * inbound session is closed soon after, never from inside this call).
 */
void tp_session_authenticated(struct tp_session *s);

/* Starts the closing handshake with code and reason; on_close follows. */
void tp_close(struct tp_session *s, int code, const char *reason);

uint64_t tp_session_id(const struct tp_session *s); /* unique per ctx, never 0 */
/* Bytes queued and not yet written to the socket (what max_send_queue_bytes caps). */
size_t tp_session_unsent(const struct tp_session *s);
bool tp_session_inbound(const struct tp_session *s);
bool tp_session_adopted(const struct tp_session *s); /* made by tp_adopt */
/* The peer's TLS certificate: fingerprint and PEM; NULL before on_open (adopted: the given ones). */
const char *tp_session_fingerprint(const struct tp_session *s);
const char *tp_session_peer_cert_pem(const struct tp_session *s);

/* Counters for status and tests. */
struct tp_stats {
	uint64_t accepted, connected, closed;
	uint64_t closed_by_code[16]; /* index code - 1000 for 1000..1015 */
	uint64_t closed_full;        /* TP_CLOSE_FULL, sent or received */
	uint64_t handshake_failures, pin_failures;
	uint64_t bytes_in, bytes_out;
	uint64_t refused_rate;        /* inbound over accept_rate_per_s from one address */
	uint64_t refused_per_address; /* inbound over max_per_address */
	uint64_t refused_per_prefix;  /* inbound over max_per_prefix48 (an IPv6 /48) */
	uint64_t pending_evicted;     /* unauthenticated inbound pushed out by a newer one */
	uint64_t inbound_evicted;     /* authenticated inbound pushed out over max_sessions */
	uint64_t hello_timeouts;      /* closed for no hello within hello_timeout_ms */
	uint64_t send_queue_overflows; /* closed for unsent output over max_send_queue_bytes */
	uint64_t pongs_ignored;       /* pongs without our outstanding nonce, or too late */
};
const struct tp_stats *tp_stats(const struct tp_ctx *ctx);
size_t tp_session_count(const struct tp_ctx *ctx);

#endif
