/*
 * api_relay.c - GET /api/v1/relay: the relay room's reservations, circuits
 * and counters (relay/relay.h) as a RelayStatus document. When relaying is
 * not running the answer says so: not serving, empty lists, zero counters.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "control/api_internal.h"
#include "fb/codec.h"
#include "relay/relay.h"

void
ctl_relay_counters(const struct rl_stats *st, struct cm_relay_status *d)
{
	d->reservations_granted = (int64_t)st->reservations_granted;
	d->reservations_renewed = (int64_t)st->reservations_renewed;
	d->reservations_refused = (int64_t)st->reservations_refused;
	d->circuits_opened = (int64_t)st->circuits_opened;
	d->circuits_closed = (int64_t)st->circuits_closed;
	d->refused = (struct cm_relay_refused){
		.no_reservation = (int64_t)st->refused_no_reservation,
		.max_reservations = (int64_t)st->refused_max_reservations,
		.not_allowed = (int64_t)st->refused_not_allowed,
		.max_circuits = (int64_t)st->refused_max_circuits,
		.per_peer = (int64_t)st->refused_per_peer,
		.per_address = (int64_t)st->refused_per_address,
		.rate = (int64_t)st->refused_rate,
		.bad_request = (int64_t)st->refused_bad_request,
	};
	d->join_timeouts = (int64_t)st->join_timeouts;
	d->closed.byte_cap = (int64_t)st->closed_byte_cap;
	d->closed.lifetime = (int64_t)st->closed_lifetime;
	d->bytes_relayed = (int64_t)st->bytes_relayed;
	d->circuits_dialed = (int64_t)st->circuits_dialed;
	d->circuits_accepted = (int64_t)st->circuits_accepted;
	d->circuit_failures = (int64_t)st->circuit_failures;
	d->bytes_carried = (int64_t)st->bytes_carried;
}

/* Every entry of rl into *out (the caller frees it); returns how many, or -1. */
static ssize_t
entries_of(const struct rl_ctx *rl, const struct rl_stats *st, struct rl_entry **out)
{
	/* Pending reservations and circuits are not in the counts: room for them, and grown. */
	size_t cap = st->reservations_held + st->reservations_served + st->circuits_served +
		     st->circuits_ours + 16;
	struct rl_entry *e = NULL;
	size_t n;

	for (;;) {
		struct rl_entry *grown = realloc(e, cap * sizeof(*e));

		if (grown == NULL) {
			free(e);
			return -1;
		}
		e = grown;
		if ((n = rl_list(rl, e, cap)) < cap)
			break;
		cap *= 2;
	}
	*out = e;
	return (ssize_t)n;
}

/* The lists of d, borrowing the entries' strings. Returns 0 or -1. */
static int
lists_of(const struct rl_entry *e, size_t n, struct cm_relay_status *d)
{
	d->reservations_held.items = calloc(n + 1, sizeof(*d->reservations_held.items));
	d->reservations_served.items = calloc(n + 1, sizeof(*d->reservations_served.items));
	d->circuits.items = calloc(n + 1, sizeof(*d->circuits.items));
	d->circuits_served.items = calloc(n + 1, sizeof(*d->circuits_served.items));
	if (d->reservations_held.items == NULL || d->reservations_served.items == NULL ||
	    d->circuits.items == NULL || d->circuits_served.items == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char *peer = (char *)e[i].peer, *relay = (char *)e[i].relay;

		switch (e[i].kind) {
		case RL_HELD:
			d->reservations_held.items[d->reservations_held.len++] =
				(struct cm_relay_held){
					.relay = peer,
					.pending = e[i].pending,
					.since_ms = e[i].since_ms,
					.has_expires_at = !e[i].pending && e[i].expires_ms > 0,
					.expires_at_ms = e[i].expires_ms,
				};
			break;
		case RL_SERVED:
			d->reservations_served.items[d->reservations_served.len++] =
				(struct cm_relay_served){peer, e[i].since_ms, e[i].expires_ms};
			break;
		case RL_CIRCUIT:
			d->circuits.items[d->circuits.len++] = (struct cm_relay_circuit){
				peer,		    relay,	    e[i].service, e[i].inbound,
				e[i].pending, e[i].since_ms, (int64_t)e[i].bytes};
			break;
		case RL_CIRCUIT_SERVED:
			d->circuits_served.items[d->circuits_served.len++] =
				(struct cm_relay_circuit_served){
					peer,	       relay,	       e[i].service,
					e[i].pending, e[i].since_ms, (int64_t)e[i].bytes};
			break;
		}
	}
	return 0;
}

/* The RelayStatus of rl (NULL: not running), or NULL when out of memory. */
static json_t *
relay_status_json(const struct rl_ctx *rl)
{
	struct cm_relay_status d = {0};
	struct rl_entry *entries = NULL;
	struct rl_stats st;
	ssize_t n = 0;
	json_t *j = NULL;

	if (rl != NULL) {
		rl_stats(rl, &st);
		ctl_relay_counters(&st, &d);
		d.relay_port = rl_listen_port(rl);
		d.serving = d.relay_port > 0;
		if (!d.serving)
			d.relay_port = 0;
		if ((n = entries_of(rl, &st, &entries)) < 0)
			goto done;
	}
	if (lists_of(entries, (size_t)n, &d) == 0)
		j = cm_relay_status_encode(&d);
done:
	/* The strings are the entries': only the arrays are ours. */
	free(d.reservations_held.items);
	free(d.reservations_served.items);
	free(d.circuits.items);
	free(d.circuits_served.items);
	free(entries);
	return j;
}

void
ctl_api_relay(struct ctl *c, struct evhttp_request *req, struct evkeyvalq *q,
	      const char *path_rest)
{
	(void)q;
	(void)path_rest;
	ctl_reply_json(req, 200, relay_status_json(c->ops->relay(c->ctx)));
}
