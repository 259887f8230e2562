/*
 * server.c - serving as a relay (docs/protocol.md section 7): the listener
 * and its per-address caps, reservations held over control connections,
 * circuits invited, joined and then copied blind, each bounded in time,
 * bytes and rate. After joined both connections of a circuit are bare TCP
 * (the ends' inner TLS records): the copy decrypts nothing. It splices
 * socket to pipe to socket, the bytes never in our memory; bytes already
 * read when the circuit went bare, and every byte when a test taps the copy
 * or no pipe can be had, go through the bufferevents' buffers instead.
 */
#define _GNU_SOURCE /* splice(2), F_SETPIPE_SZ */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fb/hex.h"
#include "fb/log.h"
#include "fb/random.h"
#include "fb/ratemap.h"
#include "fb/timeutil.h"
#include "net/tcp.h"
#include "relay/relay_internal.h"

#define ADDR_KEY_LEN  24
#define RATE_RETRY_MS 20

enum srv_role { ROLE_NEW, ROLE_CONTROL, ROLE_DIALER, ROLE_JOINER };

struct srv_conn {
	struct rl_ctx *rl;
	struct srv_conn *prev, *next;
	struct rl_link *link;
	char addr[ADDR_KEY_LEN];
	enum srv_role role;
	struct event *timer; /* first-line deadline, then (control) ping and expiry */
	int64_t granted_wall_ms, expires_wall_ms, expires_mono_ms;
	struct srv_circ *circ;
};

struct srv_circ {
	struct rl_ctx *rl;
	struct srv_circ *prev, *next;
	char id[CM_RELAY_CIRCUIT_LEN + 1];
	struct srv_conn *dialer, *joiner;
	char dialer_email[CM_MAX_EMAIL + 1], target_email[CM_MAX_EMAIL + 1];
	char target_fp[CM_FINGERPRINT_LEN + 1];
	enum cm_relay_service service;
	bool joined;
	struct event *timer; /* join deadline, then lifetime */
	struct event *rate_ev;
	uint64_t bytes;
	double tokens[2];
	int64_t tokens_ms;
	int64_t since_wall_ms;
	/* Splicing: direction d (0 dialer to joiner, 1 back) goes through pipe[d]. */
	bool spliced;
	int pipe[2][2];
	size_t piped[2];         /* bytes in pipe[d] not yet written on */
	struct event *out_ev[2]; /* direction d's destination is writable again */
};

/* Connections and circuits */

static void conn_end(struct srv_conn *c);
static struct srv_conn *control_of(struct rl_ctx *rl, const char *email);

static void
circ_end(struct srv_circ *c, const char *code, const char *why)
{
	struct rl_ctx *rl = c->rl;

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		rl->circs = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	if (c->joined) {
		rl->stats.circuits_closed++;
		log_info("relay: circuit %.8s %s -> %s closed after %llu bytes: %s", c->id,
		         c->dialer_email, c->target_email, (unsigned long long)c->bytes, why);
	}
	if (c->dialer != NULL) {
		c->dialer->circ = NULL;
		if (code != NULL) {
			rl_link_refuse(c->dialer->link, code, why);
			c->dialer->link = NULL;
		}
		conn_end(c->dialer);
	}
	if (c->joiner != NULL) {
		c->joiner->circ = NULL;
		conn_end(c->joiner);
	}
	event_free(c->timer);
	event_free(c->rate_ev);
	for (int d = 0; d < 2; d++) {
		if (c->out_ev[d] != NULL)
			event_free(c->out_ev[d]);
		for (int i = 0; i < 2; i++)
			if (c->pipe[d][i] >= 0)
				close(c->pipe[d][i]);
	}
	free(c);
}

/*
 * The circuits still waiting for email to join, once no control connection
 * of email is left: they fail now, not at their join deadline.
 */
static void
fail_waiting(struct rl_ctx *rl, const char *email)
{
	struct srv_circ *c, *next;

	if (control_of(rl, email) != NULL)
		return;
	for (c = rl->circs; c != NULL; c = next) {
		next = c->next;
		if (c->joined || strcmp(c->target_email, email) != 0)
			continue;
		rl->stats.refused_no_reservation++;
		circ_end(c, "no_reservation", "the reservation ended before the peer joined");
	}
}

static void
conn_end(struct srv_conn *c)
{
	struct rl_ctx *rl = c->rl;
	char held[CM_MAX_EMAIL + 1] = "";

	if (c->circ != NULL) {
		struct srv_circ *circ = c->circ;

		c->circ = NULL;
		if (circ->dialer == c)
			circ->dialer = NULL;
		else
			circ->joiner = NULL;
		circ_end(circ, NULL, "the other end closed");
	}
	if (c->role == ROLE_CONTROL && c->link != NULL) {
		log_info("relay: reservation of %s ended", c->link->email);
		snprintf(held, sizeof(held), "%s", c->link->email);
	}
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		rl->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	rl_link_close(c->link);
	if (c->timer != NULL)
		event_free(c->timer);
	free(c);
	if (held[0] != '\0')
		fail_waiting(rl, held);
}

static void
refuse(struct srv_conn *c, const char *code, const char *reason, uint64_t *counter)
{
	(*counter)++;
	if (rl_log_due(*counter))
		log_info("relay: %s refused: %s: %s (%llu so far)",
		         c->link->email[0] != '\0' ? c->link->email : "a connection", code, reason,
		         (unsigned long long)*counter);
	rl_link_refuse(c->link, code, reason);
	c->link = NULL;
	conn_end(c);
}

static struct srv_conn *
control_of(struct rl_ctx *rl, const char *email)
{
	for (struct srv_conn *c = rl->conns; c != NULL; c = c->next)
		if (c->role == ROLE_CONTROL && strcmp(c->link->email, email) == 0)
			return c;
	return NULL;
}

/* The copy: token buckets, backpressure, caps */

static void
refill(struct srv_circ *c, int64_t now)
{
	struct rl_ctx *rl = c->rl;
	double r = (double)rl->cfg.circuit_rate, g = (double)rl->cfg.max_rate;

	if (r > 0) {
		for (int d = 0; d < 2; d++) {
			c->tokens[d] += r * (double)(now - c->tokens_ms) / 1000.0;
			if (c->tokens[d] > r)
				c->tokens[d] = r;
		}
	}
	c->tokens_ms = now;
	if (g > 0) {
		rl->global_tokens += g * (double)(now - rl->global_ms) / 1000.0;
		if (rl->global_tokens > g)
			rl->global_tokens = g;
	}
	rl->global_ms = now;
}

/* What the buckets and the byte cap let direction d move now. */
static size_t
allowed(struct srv_circ *c, int d, size_t n)
{
	struct rl_ctx *rl = c->rl;

	if (rl->cfg.circuit_rate > 0 && (double)n > c->tokens[d])
		n = c->tokens[d] < 1 ? 0 : (size_t)c->tokens[d];
	if (rl->cfg.max_rate > 0 && (double)n > rl->global_tokens)
		n = rl->global_tokens < 1 ? 0 : (size_t)rl->global_tokens;
	if (c->bytes + n > rl->cfg.max_circuit_bytes)
		n = (size_t)(rl->cfg.max_circuit_bytes - c->bytes);
	return n;
}

static void
moved(struct srv_circ *c, int d, size_t n)
{
	struct rl_ctx *rl = c->rl;

	c->bytes += n;
	rl->stats.bytes_relayed += n;
	if (rl->cfg.circuit_rate > 0)
		c->tokens[d] -= (double)n;
	if (rl->cfg.max_rate > 0)
		rl->global_tokens -= (double)n;
}

/* Moves what it may from src to dst. 1 when a bucket stopped it, -1 when the circuit ended. */
static int
copy_dir(struct srv_circ *c, struct srv_conn *src, struct srv_conn *dst, int d)
{
	struct rl_ctx *rl = c->rl;
	struct evbuffer *in = bufferevent_get_input(src->link->bev);
	struct evbuffer *out = bufferevent_get_output(dst->link->bev);
	bool limited = false;

	while (evbuffer_get_length(in) > 0 && evbuffer_get_length(out) < RL_BUFFER_CAP) {
		size_t n = allowed(c, d, evbuffer_get_length(in));

		if (n == 0 && c->bytes >= rl->cfg.max_circuit_bytes) {
			/* The cap's last byte went; the one past it closes the circuit. */
			rl->stats.closed_byte_cap++;
			circ_end(c, NULL, "byte cap (max_circuit_bytes)");
			return -1;
		}
		if (n == 0) {
			limited = true;
			break;
		}
		if (rl->copy_tap != NULL)
			rl->copy_tap(rl->copy_tap_arg, evbuffer_pullup(in, (ssize_t)n), n);
		/* Moves the buffer's chains: no copy, unlike a read out and a write in. */
		if (evbuffer_remove_buffer(in, out, n) != (int)n) {
			circ_end(c, NULL, "send failed");
			return -1;
		}
		moved(c, d, n);
	}
	/* Read on only what can be passed on; the rest waits in the kernel, never dropped. */
	rl_link_reading(src->link, evbuffer_get_length(in) == 0);
	return limited ? 1 : 0;
}

/*
 * copy_dir by splice(2): the pipe is emptied into dst first, and src read
 * only into an empty pipe, so src's end of stream is seen only once all it
 * sent has been written on. Same answers as copy_dir.
 */
static int
splice_dir(struct srv_circ *c, struct srv_conn *src, struct srv_conn *dst, int d)
{
	struct rl_ctx *rl = c->rl;
	int sfd = bufferevent_getfd(src->link->bev), dfd = bufferevent_getfd(dst->link->bev);

	/*
	 * What was read before splicing began goes first, through the buffers;
	 * src waits until they are written (conn_writable pumps again).
	 */
	if (evbuffer_get_length(bufferevent_get_input(src->link->bev)) > 0 ||
	    evbuffer_get_length(bufferevent_get_output(dst->link->bev)) > 0) {
		int rc = copy_dir(c, src, dst, d);

		if (rc >= 0)
			rl_link_reading(src->link, false);
		return rc;
	}
	for (;;) {
		ssize_t n;
		size_t want;
		bool full;

		while (c->piped[d] > 0) {
			n = splice(c->pipe[d][0], NULL, dfd, NULL, c->piped[d],
			           SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
			if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
				rl_link_reading(src->link, false);
				event_add(c->out_ev[d], NULL);
				return 0;
			}
			if (n <= 0) {
				circ_end(c, NULL, "send failed");
				return -1;
			}
			c->piped[d] -= (size_t)n;
		}
		full = c->bytes >= rl->cfg.max_circuit_bytes;
		if ((want = allowed(c, d, RL_READ_MAX)) == 0 && !full) {
			rl_link_reading(src->link, false);
			return 1;
		}
		/* At the cap one byte is taken to learn whether one more came; it goes nowhere. */
		n = splice(sfd, NULL, c->pipe[d][1], NULL, full ? 1 : want,
		           SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n <= 0) {
			circ_end(c, NULL, n == 0 ? "the other end closed" : "connection lost");
			return -1;
		}
		if (full) {
			rl->stats.closed_byte_cap++;
			circ_end(c, NULL, "byte cap (max_circuit_bytes)");
			return -1;
		}
		c->piped[d] += (size_t)n;
		moved(c, d, (size_t)n);
	}
	rl_link_reading(src->link, true);
	return 0;
}

static void
circ_pump(struct srv_circ *c)
{
	int (*dir)(struct srv_circ *, struct srv_conn *, struct srv_conn *, int);
	int a, b;

	if (!c->joined)
		return;
	dir = c->spliced ? splice_dir : copy_dir;
	refill(c, cm_time_mono_ms());
	if ((a = dir(c, c->dialer, c->joiner, 0)) < 0 || (b = dir(c, c->joiner, c->dialer, 1)) < 0)
		return;
	if ((a > 0 || b > 0) && !evtimer_pending(c->rate_ev, NULL)) {
		struct timeval tv = rl_tv_ms(RATE_RETRY_MS);

		evtimer_add(c->rate_ev, &tv);
	}
}

static void
out_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	circ_pump(arg);
}

/* Splicing from now on, when pipes can be had and no test taps the copy. */
static void
circ_splice(struct srv_circ *c)
{
	struct rl_ctx *rl = c->rl;
	int fd[2] = {bufferevent_getfd(c->joiner->link->bev),
	             bufferevent_getfd(c->dialer->link->bev)};

	if (rl->copy_tap != NULL)
		return;
	for (int d = 0; d < 2; d++) {
		if (pipe2(c->pipe[d], O_NONBLOCK | O_CLOEXEC) != 0 ||
		    (c->out_ev[d] = event_new(rl->base, fd[d], EV_WRITE, out_cb, c)) == NULL) {
			log_debug("relay: circuit %.8s copied, not spliced: %s", c->id,
			          strerror(errno));
			return;
		}
		/* A pipe as big as a read; the system's 64 KiB when it says no. */
		(void)fcntl(c->pipe[d][1], F_SETPIPE_SZ, RL_READ_MAX);
	}
	rl_reader_wake_only(c->dialer->link->reader);
	rl_reader_wake_only(c->joiner->link->reader);
	c->spliced = true;
}

static void
rate_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	circ_pump(arg);
}

static void
circ_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct srv_circ *c = arg;
	struct rl_ctx *rl = c->rl;

	(void)fd;
	(void)what;
	if (c->joined) {
		rl->stats.closed_lifetime++;
		circ_end(c, NULL, "lifetime (circuit_lifetime_s)");
		return;
	}
	rl->stats.join_timeouts++;
	if (rl_log_due(rl->stats.join_timeouts))
		log_info("relay: %s did not join a circuit from %s in time (%llu so far)",
		         c->target_email, c->dialer_email,
		         (unsigned long long)rl->stats.join_timeouts);
	circ_end(c, "timeout", "the reserved peer did not join in time");
}

/* Lines */

static void
grant(struct srv_conn *c, bool renew)
{
	struct rl_ctx *rl = c->rl;
	struct cm_relay_msg m = {.op = CM_RELAY_RESERVED,
	                         .expires_in_s = rl->cfg.reservation_s,
	                         .has_expires_in_s = true};

	c->expires_mono_ms = cm_time_mono_ms() + rl->cfg.reservation_s * 1000;
	c->expires_wall_ms = cm_time_wall_ms() + rl->cfg.reservation_s * 1000;
	if (renew) {
		rl->stats.reservations_renewed++;
	} else {
		rl->stats.reservations_granted++;
		c->granted_wall_ms = cm_time_wall_ms();
		log_info("relay: reservation granted to %s for %lld s", c->link->email,
		         (long long)rl->cfg.reservation_s);
	}
	rl_link_send(c->link, &m);
}

static void
on_reserve(struct srv_conn *c)
{
	struct rl_ctx *rl = c->rl;
	struct srv_conn *old;
	size_t n = 0;
	struct timeval tv = rl_tv_ms(rl->cfg.ping_interval_ms);

	/* A renewal is asked again: who was a neighbour then may not be one now. */
	if (rl->hooks.may_reserve != NULL &&
	    !rl->hooks.may_reserve(rl->hctx, c->link->email, c->link->fp)) {
		rl->stats.reservations_refused++;
		refuse(c, "not_allowed", "no reservation for this certificate here",
		       &rl->stats.refused_not_allowed);
		return;
	}
	if (c->role == ROLE_CONTROL) {
		grant(c, true);
		return;
	}
	/* A holder that comes again replaces its old control connection. */
	if ((old = control_of(rl, c->link->email)) != NULL)
		conn_end(old);
	for (struct srv_conn *o = rl->conns; o != NULL; o = o->next)
		n += o->role == ROLE_CONTROL;
	if (n >= rl->cfg.max_reservations) {
		rl->stats.reservations_refused++;
		refuse(c, "max_reservations", "this relay holds all the reservations it may",
		       &rl->stats.refused_max_reservations);
		return;
	}
	c->role = ROLE_CONTROL;
	grant(c, false);
	if (rl->cfg.reservation_s * 1000 < rl->cfg.ping_interval_ms)
		tv = rl_tv_ms(rl->cfg.reservation_s * 1000);
	evtimer_del(c->timer);
	evtimer_add(c->timer, &tv);
}

static size_t
circuits_with(const struct rl_ctx *rl, const char *email)
{
	size_t n = 0;

	for (const struct srv_circ *c = rl->circs; c != NULL; c = c->next)
		n += strcmp(c->dialer_email, email) == 0 || strcmp(c->target_email, email) == 0;
	return n;
}

static void
on_connect(struct srv_conn *c, const struct cm_relay_msg *m)
{
	struct rl_ctx *rl = c->rl;
	struct srv_conn *target;
	struct srv_circ *circ;
	enum cm_relay_service service;
	uint8_t raw[CM_RELAY_CIRCUIT_LEN / 2];
	struct cm_relay_msg inv = {.op = CM_RELAY_INVITE};
	size_t n = 0;
	struct timeval tv = rl_tv_ms(rl->cfg.join_timeout_ms);

	if (cm_relay_service_parse(m->service, &service) != 0) {
		refuse(c, "bad_request", "unknown service", &rl->stats.refused_bad_request);
		return;
	}
	if ((target = control_of(rl, m->to)) == NULL) {
		refuse(c, "no_reservation", "no reservation for that email here",
		       &rl->stats.refused_no_reservation);
		return;
	}
	for (circ = rl->circs; circ != NULL; circ = circ->next)
		n++;
	if (n >= rl->cfg.max_circuits) {
		refuse(c, "max_circuits", "this relay carries all the circuits it may",
		       &rl->stats.refused_max_circuits);
		return;
	}
	if (circuits_with(rl, c->link->email) >= rl->cfg.max_circuits_per_peer ||
	    circuits_with(rl, m->to) >= rl->cfg.max_circuits_per_peer) {
		refuse(c, "per_peer", "too many circuits with one of the two ends",
		       &rl->stats.refused_per_peer);
		return;
	}
	if ((circ = calloc(1, sizeof(*circ))) == NULL || cm_random_bytes(raw, sizeof(raw)) != 0 ||
	    (circ->timer = evtimer_new(rl->base, circ_timer_cb, circ)) == NULL ||
	    (circ->rate_ev = evtimer_new(rl->base, rate_cb, circ)) == NULL) {
		if (circ != NULL) {
			if (circ->timer != NULL)
				event_free(circ->timer);
			free(circ);
		}
		rl_link_refuse(c->link, "internal", "out of memory");
		c->link = NULL;
		conn_end(c);
		return;
	}
	cm_hex_encode(raw, sizeof(raw), circ->id);
	circ->rl = rl;
	circ->pipe[0][0] = circ->pipe[0][1] = circ->pipe[1][0] = circ->pipe[1][1] = -1;
	circ->dialer = c;
	circ->service = service;
	circ->since_wall_ms = cm_time_wall_ms();
	snprintf(circ->dialer_email, sizeof(circ->dialer_email), "%s", c->link->email);
	snprintf(circ->target_email, sizeof(circ->target_email), "%s", m->to);
	snprintf(circ->target_fp, sizeof(circ->target_fp), "%s", target->link->fp);
	circ->next = rl->circs;
	if (rl->circs != NULL)
		rl->circs->prev = circ;
	rl->circs = circ;
	c->role = ROLE_DIALER;
	c->circ = circ;
	evtimer_del(c->timer);
	evtimer_add(circ->timer, &tv);
	/* The dialer sends nothing more until joined: a line now is refused, as any out of turn. */
	inv.circuit = circ->id;
	inv.from = c->link->email;
	inv.service = (char *)cm_relay_service_name(service);
	rl_link_send(target->link, &inv);
}

static struct srv_circ *
circ_by_id(struct rl_ctx *rl, const char *id)
{
	for (struct srv_circ *c = rl->circs; c != NULL; c = c->next)
		if (strcmp(c->id, id) == 0)
			return c;
	return NULL;
}

static void
on_join(struct srv_conn *c, const struct cm_relay_msg *m)
{
	struct rl_ctx *rl = c->rl;
	struct srv_circ *circ = circ_by_id(rl, m->circuit);
	struct cm_relay_msg joined = {.op = CM_RELAY_JOINED};
	struct timeval tv = rl_tv_ms(rl->cfg.circuit_lifetime_s * 1000);

	if (circ == NULL || circ->joined) {
		refuse(c, "bad_request", "no such circuit waiting", &rl->stats.refused_bad_request);
		return;
	}
	if (strcmp(c->link->fp, circ->target_fp) != 0) {
		refuse(c, "not_allowed", "not the certificate holding the reservation",
		       &rl->stats.refused_not_allowed);
		return;
	}
	c->role = ROLE_JOINER;
	c->circ = circ;
	circ->joiner = c;
	circ->joined = true;
	circ->since_wall_ms = cm_time_wall_ms();
	circ->tokens_ms = cm_time_mono_ms();
	circ->tokens[0] = circ->tokens[1] = (double)rl->cfg.circuit_rate;
	evtimer_del(c->timer);
	evtimer_del(circ->timer);
	evtimer_add(circ->timer, &tv);
	rl->stats.circuits_opened++;
	log_info("relay: circuit %.8s %s -> %s (%s) opened", circ->id, circ->dialer_email,
	         circ->target_email, cm_relay_service_name(circ->service));
	/* joined is the last TLS record each way; from here on the ends' inner TLS, bare. */
	if (rl_link_send(circ->dialer->link, &joined) != 0 || rl_link_send(c->link, &joined) != 0 ||
	    rl_link_go_bare(circ->dialer->link) != 0 || rl_link_go_bare(c->link) != 0) {
		circ_end(circ, NULL, "send failed");
		return;
	}
	circ_splice(circ);
	circ_pump(circ);
}

static void
on_decline(struct srv_conn *c, const struct cm_relay_msg *m)
{
	struct rl_ctx *rl = c->rl;
	struct srv_circ *circ = circ_by_id(rl, m->circuit);

	if (circ == NULL || circ->joined || strcmp(circ->target_email, c->link->email) != 0)
		return;
	rl->stats.join_timeouts++;
	circ_end(circ, "declined", "the reserved peer declined");
}

static void
conn_line(void *owner, struct rl_link *l, const struct cm_relay_msg *m)
{
	struct srv_conn *c = owner;
	struct cm_relay_msg pong = {.op = CM_RELAY_PONG};

	(void)l;
	switch (m->op) {
	case CM_RELAY_RESERVE:
		if (c->role == ROLE_NEW || c->role == ROLE_CONTROL) {
			on_reserve(c);
			return;
		}
		break;
	case CM_RELAY_CONNECT:
		if (c->role == ROLE_NEW) {
			on_connect(c, m);
			return;
		}
		break;
	case CM_RELAY_JOIN:
		if (c->role == ROLE_NEW) {
			on_join(c, m);
			return;
		}
		break;
	case CM_RELAY_DECLINE:
		if (c->role == ROLE_CONTROL) {
			on_decline(c, m);
			return;
		}
		break;
	case CM_RELAY_PING:
		if (c->role == ROLE_CONTROL) {
			rl_link_send(c->link, &pong);
			return;
		}
		break;
	case CM_RELAY_PONG:
		if (c->role == ROLE_CONTROL)
			return;
		break;
	default:
		break;
	}
	refuse(c, "bad_request", "not a request here", &c->rl->stats.refused_bad_request);
}

static void
conn_bad_line(void *owner, struct rl_link *l, const char *why)
{
	struct srv_conn *c = owner;

	/* The decoder's words stay here: they may quote the peer, and past the reason's cap. */
	log_debug("relay: bad line from %s: %s", l->email, why);
	refuse(c, "bad_request", "not a valid request line", &c->rl->stats.refused_bad_request);
}

static void
conn_data(void *owner, struct rl_link *l)
{
	struct srv_conn *c = owner;

	(void)l;
	if (c->circ != NULL)
		circ_pump(c->circ);
}

static void
conn_writable(void *owner, struct rl_link *l)
{
	struct srv_conn *c = owner;

	(void)l;
	if (c->circ != NULL)
		circ_pump(c->circ);
}

static void
conn_closed(void *owner, struct rl_link *l, const char *why)
{
	struct srv_conn *c = owner;

	(void)why;
	(void)l;
	conn_end(c);
}

static const struct rl_link_ops conn_ops = {
    .line = conn_line,
    .bad_line = conn_bad_line,
    .data = conn_data,
    .writable = conn_writable,
    .closed = conn_closed,
};

/* The first line's deadline; on a control connection, pings, silence and expiry. */
static void
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct srv_conn *c = arg;
	struct rl_ctx *rl = c->rl;
	int64_t now = cm_time_mono_ms();
	struct cm_relay_msg ping = {.op = CM_RELAY_PING};
	struct timeval tv = rl_tv_ms(rl->cfg.ping_interval_ms);

	(void)fd;
	(void)what;
	if (c->role != ROLE_CONTROL) {
		log_debug("relay: no request within %lld ms: closing",
		          (long long)rl->cfg.handshake_timeout_ms);
		conn_end(c);
		return;
	}
	if (now >= c->expires_mono_ms) {
		log_info("relay: reservation of %s expired unrenewed", c->link->email);
		conn_end(c);
		return;
	}
	if ((double)(now - c->link->last_rx_ms) >
	    RL_SILENT_FACTOR * (double)rl->cfg.ping_interval_ms) {
		log_info("relay: control connection of %s silent: closing", c->link->email);
		conn_end(c);
		return;
	}
	rl_link_send(c->link, &ping);
	if (c->expires_mono_ms - now < rl->cfg.ping_interval_ms)
		tv = rl_tv_ms(c->expires_mono_ms - now);
	evtimer_add(c->timer, &tv);
}

/* Accepting */

static void
addr_key(const struct sockaddr *sa, char out[ADDR_KEY_LEN])
{
	const uint8_t *b;
	size_t len = 4;
	int n;

	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		b = IN6_IS_ADDR_V4MAPPED(a) ? &a->s6_addr[12] : a->s6_addr;
		len = IN6_IS_ADDR_V4MAPPED(a) ? 4 : 8;
	} else {
		b = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
	}
	n = snprintf(out, ADDR_KEY_LEN, "%d:", len == 8 ? 6 : 4);
	for (size_t i = 0; i < len; i++)
		n += snprintf(out + n, ADDR_KEY_LEN - (size_t)n, "%02x", b[i]);
}

static void
accept_refused(const char *addr, const char *why, uint64_t count)
{
	if (rl_log_due(count))
		log_info("relay: connection from %s refused: %s (%llu so far)", addr, why,
		         (unsigned long long)count);
}

static void
accept_cb(int fd, const struct sockaddr *sa, socklen_t salen, void *arg)
{
	struct rl_ctx *rl = arg;
	struct srv_conn *c;
	char key[ADDR_KEY_LEN];
	size_t same = 0;
	struct timeval tv = rl_tv_ms(rl->cfg.handshake_timeout_ms);

	(void)salen;
	addr_key(sa, key);
	if (!cm_ratemap_take(rl->accepts, key, cm_time_mono_ms())) {
		accept_refused(key, "it reconnects too fast (accept_rate_per_s)",
		               ++rl->stats.refused_rate);
		close(fd);
		return;
	}
	for (c = rl->conns; c != NULL; c = c->next)
		same += strcmp(c->addr, key) == 0;
	if (same >= rl->cfg.max_per_address) {
		accept_refused(key, "too many connections from it (max_per_address)",
		               ++rl->stats.refused_per_address);
		close(fd);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return;
	}
	c->rl = rl;
	memcpy(c->addr, key, sizeof(key));
	if ((c->timer = evtimer_new(rl->base, conn_timer_cb, c)) == NULL ||
	    (c->link = rl_link_new(rl, fd, true, NULL, &conn_ops, c)) == NULL) {
		if (c->timer != NULL)
			event_free(c->timer);
		else
			close(fd);
		free(c);
		return;
	}
	c->next = rl->conns;
	if (rl->conns != NULL)
		rl->conns->prev = c;
	rl->conns = c;
	evtimer_add(c->timer, &tv);
}

int
rl_listen(struct rl_ctx *rl, const char *host, int port)
{
	rl_unlisten(rl);
	rl->listener = tcp_listener_new(rl->base, host, port, accept_cb, rl);
	return rl->listener != NULL ? 0 : -1;
}

void
rl_unlisten(struct rl_ctx *rl)
{
	tcp_listener_free(rl->listener);
	rl->listener = NULL;
	while (rl->circs != NULL)
		circ_end(rl->circs, NULL, "the relay stops");
	while (rl->conns != NULL)
		conn_end(rl->conns);
}

int
rl_listen_port(const struct rl_ctx *rl)
{
	return rl->listener != NULL ? tcp_listener_port(rl->listener) : -1;
}

void
rl_server_stop(struct rl_ctx *rl)
{
	rl_unlisten(rl);
}

size_t
rl_server_list(const struct rl_ctx *rl, struct rl_entry *out, size_t max)
{
	size_t n = 0;

	for (const struct srv_conn *c = rl->conns; c != NULL && n < max; c = c->next) {
		if (c->role != ROLE_CONTROL)
			continue;
		memset(&out[n], 0, sizeof(out[n]));
		out[n].kind = RL_SERVED;
		snprintf(out[n].peer, sizeof(out[n].peer), "%s", c->link->email);
		out[n].since_ms = c->granted_wall_ms;
		out[n].expires_ms = c->expires_wall_ms;
		n++;
	}
	for (const struct srv_circ *c = rl->circs; c != NULL && n < max; c = c->next) {
		memset(&out[n], 0, sizeof(out[n]));
		out[n].kind = RL_CIRCUIT_SERVED;
		snprintf(out[n].peer, sizeof(out[n].peer), "%s", c->dialer_email);
		snprintf(out[n].relay, sizeof(out[n].relay), "%s", c->target_email);
		out[n].service = c->service;
		out[n].pending = !c->joined;
		out[n].since_ms = c->since_wall_ms;
		out[n].bytes = c->bytes;
		n++;
	}
	return n;
}

void
rl_server_counts(const struct rl_ctx *rl, struct rl_stats *st)
{
	st->reservations_served = 0;
	st->circuits_served = 0;
	for (const struct srv_conn *c = rl->conns; c != NULL; c = c->next)
		st->reservations_served += c->role == ROLE_CONTROL;
	for (const struct srv_circ *c = rl->circs; c != NULL; c = c->next)
		st->circuits_served++;
}
