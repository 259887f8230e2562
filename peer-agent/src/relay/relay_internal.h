/*
 * relay_internal.h - what the relay room's files share: the context, the
 * link, one TCP connection with TLS over a bufferevent that speaks lines
 * (fb/codec.h's relay messages) until its owner leaves TLS for the bare
 * stream, and big reads for bufferevents.
 */
#ifndef PA_RELAY_INTERNAL_H
#define PA_RELAY_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/time.h>
#include <sys/types.h>

#include "fb/identity.h"
#include "fb/types.h"
#include "relay/relay.h"

struct bufferevent;
struct evbuffer;
struct event;
struct tls_creds;
struct tls_session;
struct cm_ratemap;

#define RL_BUFFER_CAP     (1024 * 1024) /* bytes queued towards one side before its source pauses */
#define RL_READ_MAX       (256 * 1024)  /* one read(2) or splice(2) of a stream */
#define RL_CLOSE_GRACE_MS 2000          /* a closed link's last bytes may take this long to leave */
#define RL_SILENT_FACTOR  3.3 /* a control connection silent this many ping intervals is dead */

struct rl_link;

/* What a link tells its owner; every callback may close the link (and free the owner). */
struct rl_link_ops {
	void (*ready)(void *owner, struct rl_link *l); /* TLS up, peer known */
	void (*line)(void *owner, struct rl_link *l, const struct cm_relay_msg *m);
	void (*bad_line)(void *owner, struct rl_link *l, const char *why);
	void (*data)(void *owner, struct rl_link *l);     /* bare: bufferevent_get_input grew */
	void (*writable)(void *owner, struct rl_link *l); /* output fell below the cap */
	void (*closed)(void *owner, struct rl_link *l, const char *why); /* EOF, error, TLS */
};

struct rl_reader;

struct rl_link {
	struct rl_ctx *rl;
	struct bufferevent *bev;
	struct tls_session *tls; /* NULL once bare */
	struct evbuffer *plain;  /* decrypted, not consumed */
	struct rl_reader *reader; /* bare: reads into bev's input */
	const struct rl_link_ops *ops;
	void *owner;
	bool server, connected, up, bare, dead;
	int busy;
	char expected_fp[CM_FINGERPRINT_LEN + 1]; /* client: the pin, "" for none */
	char fp[CM_FINGERPRINT_LEN + 1];
	char email[CM_MAX_EMAIL + 1];
	int64_t last_rx_ms; /* monotonic: the last line */
};

struct srv_conn;
struct srv_circ;
struct cl_held;
struct cl_circ;

struct rl_ctx {
	struct event_base *base;
	struct rl_config cfg;
	struct rl_hooks hooks;
	void *hctx;
	const struct tls_creds *creds; /* cfg.creds */
	struct rl_stats stats;
	bool stopping;               /* rl_free: sockets close at once */
	struct rl_flusher *flushers; /* closed connections whose last bytes are leaving */
	/* Tests: every byte the relay's copy passes on (what it holds in the clear); no splice. */
	void (*copy_tap)(void *arg, const void *buf, size_t len);
	void *copy_tap_arg;
	/* serving */
	struct tcp_listener *listener;
	struct cm_ratemap *accepts;
	struct srv_conn *conns;
	struct srv_circ *circs;
	double global_tokens; /* max_rate's bucket */
	int64_t global_ms;
	/* using */
	struct cl_held *held, *held_tail; /* granted ones in grant order, pending ones too */
	struct cl_circ *ours;
	uint64_t next_handle;
};

/* A relay as we reach it: the rl_target, copied. */
struct rl_relay_addr {
	char email[CM_MAX_EMAIL + 1];
	char ip[64];
	int port;
	char fp[CM_FINGERPRINT_LEN + 1];
};

static inline void
rl_relay_addr_set(struct rl_relay_addr *a, const struct rl_target *t)
{
	snprintf(a->email, sizeof(a->email), "%s", t->email);
	snprintf(a->ip, sizeof(a->ip), "%s", t->ip);
	a->port = t->port;
	snprintf(a->fp, sizeof(a->fp), "%s", t->fingerprint);
}

static inline struct timeval
rl_tv_ms(int64_t ms)
{
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};

	return tv;
}

/* A log line at the 1st, 2nd, 4th, 8th... time a limit bites. */
static inline bool
rl_log_due(uint64_t count)
{
	return (count & (count - 1)) == 0;
}

/*
 * Reads of up to RL_READ_MAX bytes into bev's input (libevent 2.1's own stop
 * at 4 KiB), for bev's reading turned off: bev still writes and reports write
 * errors. cb gets what read(2) returned: > 0 bytes added, 0 end of stream,
 * -1 error (errno). NULL on failure.
 */
struct rl_reader *rl_reader_new(struct event_base *base, struct bufferevent *bev,
                                void (*cb)(void *arg, ssize_t n), void *arg);
void rl_reader_on(struct rl_reader *r, bool on);
/* From now on reads nothing: cb(arg, 1) each time the socket is readable (for splice(2)). */
void rl_reader_wake_only(struct rl_reader *r);
void rl_reader_free(struct rl_reader *r);

/* A link over fd (its owner's from now on), TLS server or client pinned to expected_fp. */
struct rl_link *rl_link_new(struct rl_ctx *rl, int fd, bool server, const char *expected_fp,
                            const struct rl_link_ops *ops, void *owner);
/* Dials ip:port for a client link; NULL when it cannot start (logged). */
struct rl_link *rl_link_dial(struct rl_ctx *rl, const char *ip, int port, const char *expected_fp,
                             const struct rl_link_ops *ops, void *owner);
/* Sends one line. 0 or -1. */
int rl_link_send(struct rl_link *l, const struct cm_relay_msg *m);
/* Bytes as they are: through the TLS, or once bare on the stream. 0 or -1. */
int rl_link_send_raw(struct rl_link *l, const void *buf, size_t len);
/* Bytes waiting to leave on the socket. */
size_t rl_link_unsent(const struct rl_link *l);
/* Reading on or off (backpressure, rate). */
void rl_link_reading(struct rl_link *l, bool on);
/*
 * Leaves TLS (docs/protocol.md section 7, after joined): the TLS session is
 * dropped without a goodbye, what came after the current line (decrypted
 * or still raw) is the start of bufferevent_get_input, bytes written to
 * bufferevent_get_output leave as they are, data reports each read. 0 or -1.
 */
int rl_link_go_bare(struct rl_link *l);
/* Sends an error line (code, reason) when TLS is up; then closes. */
void rl_link_refuse(struct rl_link *l, const char *code, const char *reason);
/* Ends the link: TLS goodbye, what is queued flushed (bounded), no more callbacks. */
void rl_link_close(struct rl_link *l);
/* Our own circuits' socketpair ends and outer closes: a bufferevent freed once drained. */
void rl_bev_close_flushed(struct rl_ctx *rl, struct bufferevent *bev);

/* server.c */
void rl_server_stop(struct rl_ctx *rl);
size_t rl_server_list(const struct rl_ctx *rl, struct rl_entry *out, size_t max);
void rl_server_counts(const struct rl_ctx *rl, struct rl_stats *st);
/* client.c: our circuits. An invitation taken: 0, or -1 when it cannot be dialled. */
int rl_circ_accept(struct rl_ctx *rl, const struct rl_relay_addr *relay, const char *from,
                   const char *circuit, enum cm_relay_service service);
void rl_circuits_stop(struct rl_ctx *rl);
size_t rl_circuits_list(const struct rl_ctx *rl, struct rl_entry *out, size_t max);
void rl_circuits_counts(const struct rl_ctx *rl, struct rl_stats *st);
/* reserve.c: the reservations we hold. */
void rl_held_stop(struct rl_ctx *rl);
size_t rl_held_list(const struct rl_ctx *rl, struct rl_entry *out, size_t max);
void rl_held_counts(const struct rl_ctx *rl, struct rl_stats *st);

#endif
