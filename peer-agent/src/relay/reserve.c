/*
 * reserve.c - reservations we hold on relays: one control connection each
 * (outer TLS pinned to the relay), its reserve renewed at half the lifetime
 * the relay grants, pinged both ways, and the invitations it brings.
 */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fb/log.h"
#include "fb/timeutil.h"
#include "relay/relay_internal.h"

struct cl_held {
	struct rl_ctx *rl;
	struct cl_held *prev, *next;
	struct rl_relay_addr relay;
	struct rl_link *link;
	bool granted;
	int64_t since_wall_ms, expires_wall_ms;
	struct event *timer;   /* the answer's deadline, then the renewal */
	struct event *ping_ev; /* keepalive and silence */
};

static void
changed(struct rl_ctx *rl)
{
	if (rl->hooks.reservations_changed != NULL)
		rl->hooks.reservations_changed(rl->hctx);
}

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
	enum cm_relay_service service;
	struct cm_relay_msg decline = {.op = CM_RELAY_DECLINE, .circuit = m->circuit};

	if (cm_relay_service_parse(m->service, &service) != 0 ||
	    (rl->hooks.may_accept != NULL && !rl->hooks.may_accept(rl->hctx, m->from, service)) ||
	    rl_circ_accept(rl, &h->relay, m->from, m->circuit, service) != 0) {
		log_info("relay: invitation from %s through %s declined", m->from, h->relay.email);
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
		tv = rl_tv_ms(m->expires_in_s * 500);
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
	    RL_SILENT_FACTOR * (double)h->rl->cfg.ping_interval_ms) {
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
	struct timeval hs = rl_tv_ms(rl->cfg.handshake_timeout_ms);
	struct timeval ping = rl_tv_ms(rl->cfg.ping_interval_ms);

	if (held_find(rl, relay->email) != NULL)
		return 0;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return -1;
	h->rl = rl;
	rl_relay_addr_set(&h->relay, relay);
	h->since_wall_ms = cm_time_wall_ms();
	if ((h->timer = evtimer_new(rl->base, held_timer_cb, h)) == NULL ||
	    (h->ping_ev = event_new(rl->base, -1, EV_PERSIST, held_ping_cb, h)) == NULL ||
	    (h->link = rl_link_dial(rl, relay->ip, relay->port, relay->fingerprint, &held_ops,
	                            h)) == NULL) {
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
rl_held_stop(struct rl_ctx *rl)
{
	while (rl->held != NULL)
		held_end(rl->held, "shutting down");
}

size_t
rl_held_list(const struct rl_ctx *rl, struct rl_entry *out, size_t max)
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
	return n;
}

void
rl_held_counts(const struct rl_ctx *rl, struct rl_stats *st)
{
	st->reservations_held = 0;
	for (const struct cl_held *h = rl->held; h != NULL; h = h->next)
		st->reservations_held += h->granted;
}
