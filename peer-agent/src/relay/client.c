/*
 * client.c - using relays: reservations held over control connections, and
 * circuits, dialled (rl_connect) or accepted (an invite), each one outer
 * connection to the relay carrying an inner TLS session with the far end,
 * whose plaintext the consumer reads and writes on a socketpair.
 */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fb/log.h"
#include "fb/timeutil.h"
#include "net/tls.h"
#include "relay/relay_internal.h"

#define SILENT_FACTOR 3.3
#define SP_CHUNK 16384

struct relay_addr {
	char email[CM_MAX_EMAIL + 1];
	char ip[64];
	int port;
	char fp[CM_FINGERPRINT_LEN + 1];
};

struct cl_held {
	struct rl_ctx *rl;
	struct cl_held *prev, *next;
	struct relay_addr relay;
	struct rl_link *link;
	bool granted;
	int64_t since_wall_ms, expires_wall_ms;
	struct event *timer;   /* the answer's deadline, then the renewal */
	struct event *ping_ev; /* keepalive and silence */
};

enum circ_state { CS_WAIT_JOINED, CS_INNER, CS_UP };

struct cl_circ {
	struct rl_ctx *rl;
	struct cl_circ *prev, *next;
	uint64_t handle;
	bool inbound;
	enum circ_state state;
	struct relay_addr relay;
	char far_email[CM_MAX_EMAIL + 1];
	char far_fp[CM_FINGERPRINT_LEN + 1]; /* dialer: the pin */
	char circuit[CM_RELAY_CIRCUIT_LEN + 1];
	enum rl_service service;
	struct rl_link *link;
	struct tls_session *inner;
	struct evbuffer *inner_in, *inner_out;
	struct bufferevent *sp; /* our end of the socketpair */
	struct event *timer;
	rl_connected_fn done;
	void *arg;
	uint64_t bytes;
	int64_t since_wall_ms;
};

static struct timeval
tv_ms(int64_t ms)
{
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};

	return tv;
}

static void
changed(struct rl_ctx *rl)
{
	if (rl->hooks.reservations_changed != NULL)
		rl->hooks.reservations_changed(rl->hctx);
}

static void
relay_addr_set(struct relay_addr *a, const struct rl_target *t)
{
	snprintf(a->email, sizeof(a->email), "%s", t->email);
	snprintf(a->ip, sizeof(a->ip), "%s", t->ip);
	a->port = t->port;
	snprintf(a->fp, sizeof(a->fp), "%s", t->fingerprint);
}

/* Circuits */

static void
circ_unlink_free(struct cl_circ *c)
{
	struct rl_ctx *rl = c->rl;

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		rl->ours = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	rl_link_close(c->link);
	tls_session_free(c->inner);
	if (c->inner_in != NULL)
		evbuffer_free(c->inner_in);
	if (c->inner_out != NULL)
		evbuffer_free(c->inner_out);
	rl_bev_close_flushed(rl, c->sp);
	if (c->timer != NULL)
		event_free(c->timer);
	free(c);
}

/* Sends the inner session's records through the outer one. */
static int
inner_flush(struct cl_circ *c)
{
	size_t n = evbuffer_get_length(c->inner_out);

	if (n == 0)
		return 0;
	if (rl_link_send_raw(c->link, evbuffer_pullup(c->inner_out, (ssize_t)n), n) != 0)
		return -1;
	evbuffer_drain(c->inner_out, n);
	return 0;
}

/* Ends the circuit; one still being opened reports why (unless cancelled). */
static void
circ_end(struct cl_circ *c, const char *why)
{
	struct rl_ctx *rl = c->rl;

	if (c->state != CS_UP) {
		struct cm_err err;

		rl->stats.circuit_failures++;
		log_info("relay: circuit %s %s through %s failed: %s",
			 c->inbound ? "from" : "to", c->far_email, c->relay.email, why);
		if (c->done != NULL) {
			rl_connected_fn done = c->done;

			c->done = NULL;
			cm_err_set(&err, "%s", why);
			done(c->arg, -1, NULL, &err);
		}
	} else {
		log_info("relay: circuit %s %s through %s closed after %llu bytes: %s",
			 c->inbound ? "from" : "to", c->far_email, c->relay.email,
			 (unsigned long long)c->bytes, why);
		if (c->inner != NULL && c->link != NULL) {
			tls_session_bye(c->inner);
			inner_flush(c);
		}
	}
	circ_unlink_free(c);
}

static void
sp_read_cb(struct bufferevent *bev, void *arg)
{
	struct cl_circ *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char buf[SP_CHUNK];

	while (evbuffer_get_length(in) > 0) {
		int n;

		if (rl_link_unsent(c->link) >= RL_BUFFER_CAP) {
			/* The relay does not take more now: the rest waits in the socket. */
			bufferevent_disable(bev, EV_READ);
			return;
		}
		n = evbuffer_remove(in, buf, sizeof(buf));
		if (n <= 0)
			break;
		if (tls_session_send_all(c->inner, buf, (size_t)n) != 0 || inner_flush(c) != 0) {
			circ_end(c, "send failed");
			return;
		}
		c->bytes += (uint64_t)n;
		c->rl->stats.bytes_carried += (uint64_t)n;
	}
}

static void
sp_write_cb(struct bufferevent *bev, void *arg)
{
	struct cl_circ *c = arg;

	(void)bev;
	rl_link_reading(c->link, true);
}

static void
sp_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	circ_end(arg, (what & BEV_EVENT_EOF) ? "closed by us" : "socketpair lost");
}

/* The inner session is up: the far end is who it must be; the consumer gets its socket. */
static void
circ_up(struct cl_circ *c)
{
	struct rl_ctx *rl = c->rl;
	struct cm_err err;
	struct cm_cert *cert = tls_session_peer_cert(c->inner, &err);
	struct rl_peer peer;
	char fp[CM_FINGERPRINT_LEN + 1], email[CM_MAX_EMAIL + 1];
	char *pem = NULL;
	int sv[2];

	if (cert == NULL) {
		circ_end(c, err.msg);
		return;
	}
	snprintf(fp, sizeof(fp), "%s", cm_cert_fingerprint(cert));
	snprintf(email, sizeof(email), "%s", cm_cert_email(cert));
	pem = strdup(cm_cert_pem(cert));
	cm_cert_free(cert);
	if (pem == NULL) {
		circ_end(c, "out of memory");
		return;
	}
	if (!c->inbound && strcmp(fp, c->far_fp) != 0) {
		free(pem);
		circ_end(c, "the far end's certificate is not the pinned one");
		return;
	}
	if (c->inbound && strcmp(email, c->far_email) != 0) {
		free(pem);
		circ_end(c, "the far end's certificate is not the inviter's");
		return;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0 ||
	    (c->sp = bufferevent_socket_new(rl->base, sv[0], BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		free(pem);
		circ_end(c, "no socketpair");
		return;
	}
	snprintf(c->far_fp, sizeof(c->far_fp), "%s", fp);
	bufferevent_setcb(c->sp, sp_read_cb, sp_write_cb, sp_event_cb, c);
	bufferevent_setwatermark(c->sp, EV_WRITE, RL_BUFFER_CAP / 2, 0);
	bufferevent_enable(c->sp, EV_READ | EV_WRITE);
	c->state = CS_UP;
	c->since_wall_ms = cm_time_wall_ms();
	evtimer_del(c->timer);
	peer = (struct rl_peer){email, fp, pem, c->relay.email, c->service};
	log_info("relay: circuit %s %s through %s (%s) opened", c->inbound ? "from" : "to", email,
		 c->relay.email, rl_service_name(c->service));
	if (c->inbound) {
		rl->stats.circuits_accepted++;
		if (rl->hooks.on_inbound != NULL)
			rl->hooks.on_inbound(rl->hctx, sv[1], &peer);
		else
			close(sv[1]);
	} else {
		rl_connected_fn done = c->done;

		rl->stats.circuits_dialed++;
		c->done = NULL;
		done(c->arg, sv[1], &peer, NULL);
	}
	free(pem);
}

static void
circ_inner(struct cl_circ *c)
{
	struct cm_err err;
	struct evbuffer *out;
	size_t before;

	if (c->state == CS_INNER) {
		int rc = tls_session_handshake(c->inner, &err);

		if (inner_flush(c) != 0) {
			circ_end(c, "send failed");
			return;
		}
		if (rc < 0) {
			circ_end(c, err.msg);
			return;
		}
		if (rc == 0)
			return;
		/* circ_up may free c (a failed check) or hand it to the consumer. */
		circ_up(c);
		return;
	}
	out = bufferevent_get_output(c->sp);
	before = evbuffer_get_length(out);
	if (tls_session_recv_all(c->inner, out) != 0) {
		circ_end(c, "the far end closed");
		return;
	}
	c->bytes += evbuffer_get_length(out) - before;
	c->rl->stats.bytes_carried += evbuffer_get_length(out) - before;
	if (inner_flush(c) != 0) {
		circ_end(c, "send failed");
		return;
	}
	if (evbuffer_get_length(out) >= RL_BUFFER_CAP)
		rl_link_reading(c->link, false);
}

static void
circ_ready(void *owner, struct rl_link *l)
{
	struct cl_circ *c = owner;
	struct cm_relay_msg m = {0};

	if (c->inbound) {
		m.op = CM_RELAY_JOIN;
		m.circuit = c->circuit;
	} else {
		m.op = CM_RELAY_CONNECT;
		m.to = c->far_email;
		m.service = (char *)rl_service_name(c->service);
	}
	if (rl_link_send(l, &m) != 0)
		circ_end(c, "send failed");
}

static void
circ_line(void *owner, struct rl_link *l, const struct cm_relay_msg *m)
{
	struct cl_circ *c = owner;

	if (m->op == CM_RELAY_ERROR) {
		char why[CM_MAX_RELAY_CODE + CM_MAX_RELAY_REASON + 16];

		snprintf(why, sizeof(why), "relay refused: %s%s%s", m->code,
			 m->reason != NULL ? ": " : "", m->reason != NULL ? m->reason : "");
		circ_end(c, why);
		return;
	}
	if (m->op != CM_RELAY_JOINED || c->state != CS_WAIT_JOINED) {
		circ_end(c, "unexpected line from the relay");
		return;
	}
	rl_link_set_raw(l);
	if ((c->inner_in = evbuffer_new()) == NULL || (c->inner_out = evbuffer_new()) == NULL ||
	    (c->inner = tls_session_new(c->rl->creds, c->inbound, c->inner_in, c->inner_out, NULL,
					NULL)) == NULL) {
		circ_end(c, "out of memory");
		return;
	}
	c->state = CS_INNER;
	/* The dialer's ClientHello goes now; the reserved end waits for it. */
	if (!c->inbound)
		circ_inner(c);
}

static void
circ_bad_line(void *owner, struct rl_link *l, const char *why)
{
	(void)l;
	circ_end(owner, why);
}

static void
circ_data(void *owner, struct rl_link *l)
{
	struct cl_circ *c = owner;

	if (c->state == CS_WAIT_JOINED) {
		circ_end(c, "bytes before joined");
		return;
	}
	evbuffer_add_buffer(c->inner_in, l->plain);
	circ_inner(c);
}

static void
circ_writable(void *owner, struct rl_link *l)
{
	struct cl_circ *c = owner;

	(void)l;
	if (c->sp != NULL) {
		bufferevent_enable(c->sp, EV_READ);
		sp_read_cb(c->sp, c);
	}
}

static void
circ_closed(void *owner, struct rl_link *l, const char *why)
{
	struct cl_circ *c = owner;

	(void)l;
	c->link = NULL;
	circ_end(c, why);
}

static const struct rl_link_ops circ_ops = {
	.ready = circ_ready,
	.line = circ_line,
	.bad_line = circ_bad_line,
	.data = circ_data,
	.writable = circ_writable,
	.closed = circ_closed,
};

static void
circ_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	circ_end(arg, "timed out");
}

static struct cl_circ *
circ_new(struct rl_ctx *rl, const struct relay_addr *relay, bool inbound, int64_t deadline_ms)
{
	struct cl_circ *c = calloc(1, sizeof(*c));
	struct timeval tv = tv_ms(deadline_ms);

	if (c == NULL)
		return NULL;
	c->rl = rl;
	c->relay = *relay;
	c->inbound = inbound;
	c->handle = ++rl->next_handle;
	c->since_wall_ms = cm_time_wall_ms();
	if ((c->timer = evtimer_new(rl->base, circ_timer_cb, c)) == NULL) {
		free(c);
		return NULL;
	}
	c->next = rl->ours;
	if (rl->ours != NULL)
		rl->ours->prev = c;
	rl->ours = c;
	evtimer_add(c->timer, &tv);
	return c;
}

uint64_t
rl_connect(struct rl_ctx *rl, const struct rl_target *relay, const char *target_email,
	   const char *target_fp, enum rl_service service, rl_connected_fn done, void *arg)
{
	struct relay_addr a;
	struct cl_circ *c;

	relay_addr_set(&a, relay);
	if ((c = circ_new(rl, &a, false,
			  rl->cfg.handshake_timeout_ms * 2 + rl->cfg.join_timeout_ms)) == NULL)
		return 0;
	snprintf(c->far_email, sizeof(c->far_email), "%s", target_email);
	snprintf(c->far_fp, sizeof(c->far_fp), "%s", target_fp);
	c->service = service;
	if ((c->link = rl_link_dial(rl, a.ip, a.port, a.fp, &circ_ops, c)) == NULL) {
		circ_unlink_free(c);
		return 0;
	}
	c->done = done;
	c->arg = arg;
	return c->handle;
}

void
rl_cancel(struct rl_ctx *rl, uint64_t handle)
{
	for (struct cl_circ *c = rl->ours; c != NULL; c = c->next) {
		if (c->handle == handle && !c->inbound && c->state != CS_UP) {
			c->done = NULL;
			circ_end(c, "cancelled");
			return;
		}
	}
}

/* Reservations */

static void
held_end(struct cl_held *h, const char *why)
{
	struct rl_ctx *rl = h->rl;

	log_info("relay: reservation on %s %s: %s", h->relay.email,
		 h->granted ? "lost" : "not granted", why);
	if (h->prev != NULL)
		h->prev->next = h->next;
	else
		rl->held = h->next;
	if (h->next != NULL)
		h->next->prev = h->prev;
	else
		rl->held_tail = h->prev;
	rl_link_close(h->link);
	if (h->timer != NULL)
		event_free(h->timer);
	if (h->ping_ev != NULL)
		event_free(h->ping_ev);
	free(h);
	if (!rl->stopping)
		changed(rl);
}

static void
held_append(struct rl_ctx *rl, struct cl_held *h)
{
	h->next = NULL;
	h->prev = rl->held_tail;
	if (rl->held_tail != NULL)
		rl->held_tail->next = h;
	else
		rl->held = h;
	rl->held_tail = h;
}

static void
held_ready(void *owner, struct rl_link *l)
{
	struct cm_relay_msg m = {.op = CM_RELAY_RESERVE};

	if (rl_link_send(l, &m) != 0)
		held_end(owner, "send failed");
}

static void
on_invite(struct cl_held *h, const struct cm_relay_msg *m)
{
	struct rl_ctx *rl = h->rl;
	enum rl_service service;
	struct cl_circ *c;
	struct cm_relay_msg decline = {.op = CM_RELAY_DECLINE, .circuit = m->circuit};

	if (rl_service_parse(m->service, &service) != 0 ||
	    (rl->hooks.may_accept != NULL && !rl->hooks.may_accept(rl->hctx, m->from, service)) ||
	    (c = circ_new(rl, &h->relay, true, rl->cfg.handshake_timeout_ms * 2)) == NULL) {
		log_info("relay: invitation from %s through %s declined", m->from, h->relay.email);
		rl_link_send(h->link, &decline);
		return;
	}
	snprintf(c->far_email, sizeof(c->far_email), "%s", m->from);
	snprintf(c->circuit, sizeof(c->circuit), "%s", m->circuit);
	c->service = service;
	if ((c->link = rl_link_dial(rl, h->relay.ip, h->relay.port, h->relay.fp, &circ_ops, c)) ==
	    NULL) {
		rl->stats.circuit_failures++;
		circ_unlink_free(c);
		rl_link_send(h->link, &decline);
	}
}

static void
held_line(void *owner, struct rl_link *l, const struct cm_relay_msg *m)
{
	struct cl_held *h = owner;
	struct rl_ctx *rl = h->rl;
	struct cm_relay_msg pong = {.op = CM_RELAY_PONG};
	struct timeval tv;

	switch (m->op) {
	case CM_RELAY_RESERVED:
		h->expires_wall_ms = cm_time_wall_ms() + m->expires_in_s * 1000;
		tv = tv_ms(m->expires_in_s * 500);
		evtimer_del(h->timer);
		evtimer_add(h->timer, &tv);
		if (!h->granted) {
			h->granted = true;
			h->since_wall_ms = cm_time_wall_ms();
			/* Granted ones are listed in the order granted. */
			if (h->prev != NULL)
				h->prev->next = h->next;
			else
				rl->held = h->next;
			if (h->next != NULL)
				h->next->prev = h->prev;
			else
				rl->held_tail = h->prev;
			held_append(rl, h);
			log_info("relay: reservation on %s granted for %lld s", h->relay.email,
				 (long long)m->expires_in_s);
			changed(rl);
		}
		break;
	case CM_RELAY_INVITE:
		if (h->granted)
			on_invite(h, m);
		break;
	case CM_RELAY_PING:
		rl_link_send(l, &pong);
		break;
	case CM_RELAY_PONG:
		break;
	case CM_RELAY_ERROR: {
		char why[CM_MAX_RELAY_CODE + 16];

		snprintf(why, sizeof(why), "refused: %s", m->code);
		held_end(h, why);
		break;
	}
	default:
		held_end(h, "unexpected line from the relay");
		break;
	}
}

static void
held_bad_line(void *owner, struct rl_link *l, const char *why)
{
	(void)l;
	held_end(owner, why);
}

static void
held_closed(void *owner, struct rl_link *l, const char *why)
{
	struct cl_held *h = owner;

	(void)l;
	h->link = NULL;
	held_end(h, why);
}

static const struct rl_link_ops held_ops = {
	.ready = held_ready,
	.line = held_line,
	.bad_line = held_bad_line,
	.closed = held_closed,
};

/* Before the grant: its deadline. After: renewal at half the lifetime. */
static void
held_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cl_held *h = arg;
	struct cm_relay_msg m = {.op = CM_RELAY_RESERVE};

	(void)fd;
	(void)what;
	if (!h->granted) {
		held_end(h, "no answer in time");
		return;
	}
	if (rl_link_send(h->link, &m) != 0)
		held_end(h, "send failed");
}

static void
held_ping_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cl_held *h = arg;
	struct cm_relay_msg m = {.op = CM_RELAY_PING};

	(void)fd;
	(void)what;
	if (!h->link->up)
		return;
	if ((double)(cm_time_mono_ms() - h->link->last_rx_ms) >
	    SILENT_FACTOR * (double)h->rl->cfg.ping_interval_ms) {
		held_end(h, "the relay is silent");
		return;
	}
	if (rl_link_send(h->link, &m) != 0)
		held_end(h, "send failed");
}

static struct cl_held *
held_find(const struct rl_ctx *rl, const char *email)
{
	for (struct cl_held *h = rl->held; h != NULL; h = h->next)
		if (strcmp(h->relay.email, email) == 0)
			return h;
	return NULL;
}

int
rl_reserve(struct rl_ctx *rl, const struct rl_target *relay)
{
	struct cl_held *h;
	struct timeval hs = tv_ms(rl->cfg.handshake_timeout_ms);
	struct timeval ping = tv_ms(rl->cfg.ping_interval_ms);

	if (held_find(rl, relay->email) != NULL)
		return 0;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return -1;
	h->rl = rl;
	relay_addr_set(&h->relay, relay);
	h->since_wall_ms = cm_time_wall_ms();
	if ((h->timer = evtimer_new(rl->base, held_timer_cb, h)) == NULL ||
	    (h->ping_ev = event_new(rl->base, -1, EV_PERSIST, held_ping_cb, h)) == NULL ||
	    (h->link = rl_link_dial(rl, relay->ip, relay->port, relay->fingerprint, &held_ops, h)) ==
		    NULL) {
		if (h->timer != NULL)
			event_free(h->timer);
		if (h->ping_ev != NULL)
			event_free(h->ping_ev);
		free(h);
		return -1;
	}
	held_append(rl, h);
	evtimer_add(h->timer, &hs);
	evtimer_add(h->ping_ev, &ping);
	return 0;
}

void
rl_unreserve(struct rl_ctx *rl, const char *relay_email)
{
	struct cl_held *h = held_find(rl, relay_email);

	if (h != NULL)
		held_end(h, "given up");
}

bool
rl_reserved(const struct rl_ctx *rl, const char *relay_email, bool *pending)
{
	struct cl_held *h = held_find(rl, relay_email);

	if (pending != NULL)
		*pending = h != NULL && !h->granted;
	return h != NULL && h->granted;
}

size_t
rl_reservations(const struct rl_ctx *rl, const char **out, size_t max)
{
	size_t n = 0;

	for (const struct cl_held *h = rl->held; h != NULL && n < max; h = h->next)
		if (h->granted)
			out[n++] = h->relay.email;
	return n;
}

void
rl_client_stop(struct rl_ctx *rl)
{
	while (rl->ours != NULL) {
		rl->ours->done = NULL;
		circ_end(rl->ours, "shutting down");
	}
	while (rl->held != NULL)
		held_end(rl->held, "shutting down");
}

size_t
rl_client_list(const struct rl_ctx *rl, struct rl_entry *out, size_t max)
{
	size_t n = 0;

	for (const struct cl_held *h = rl->held; h != NULL && n < max; h = h->next) {
		memset(&out[n], 0, sizeof(out[n]));
		out[n].kind = RL_HELD;
		snprintf(out[n].peer, sizeof(out[n].peer), "%s", h->relay.email);
		out[n].pending = !h->granted;
		out[n].since_ms = h->since_wall_ms;
		out[n].expires_ms = h->granted ? h->expires_wall_ms : 0;
		n++;
	}
	for (const struct cl_circ *c = rl->ours; c != NULL && n < max; c = c->next) {
		memset(&out[n], 0, sizeof(out[n]));
		out[n].kind = RL_CIRCUIT;
		snprintf(out[n].peer, sizeof(out[n].peer), "%s", c->far_email);
		snprintf(out[n].relay, sizeof(out[n].relay), "%s", c->relay.email);
		out[n].service = c->service;
		out[n].inbound = c->inbound;
		out[n].pending = c->state != CS_UP;
		out[n].since_ms = c->since_wall_ms;
		out[n].bytes = c->bytes;
		n++;
	}
	return n;
}

void
rl_client_counts(const struct rl_ctx *rl, struct rl_stats *st)
{
	st->reservations_held = 0;
	st->circuits_ours = 0;
	for (const struct cl_held *h = rl->held; h != NULL; h = h->next)
		st->reservations_held += h->granted;
	for (const struct cl_circ *c = rl->ours; c != NULL; c = c->next)
		st->circuits_ours++;
}
