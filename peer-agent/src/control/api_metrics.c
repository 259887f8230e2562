/*
 * api_metrics.c - GET /api/v1/metrics: the agent's counters in the
 * Prometheus text format (version 0.0.4), for a scraper on this host that
 * holds the API token. The same counters as the status, relay and torrent
 * documents, named once here as metric families: gossip, the limits of
 * docs/security.md, relayed circuits (opened, refused by which limit, bytes)
 * and the torrent client.
 */
#include <event2/buffer.h>
#include <event2/http.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "control/api_internal.h"
#include "fb/codec.h"
#include "relay/relay.h"
#include "torrent/torrent.h"

/* A family's HELP and TYPE lines; its samples follow. */
static void
family(struct evbuffer *b, const char *name, const char *type, const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One sample; label NULL for none. Label values here are fixed names, never network text. */
static void
sample(struct evbuffer *b, const char *name, const char *label, const char *value, uint64_t v)
{
	if (label == NULL)
		evbuffer_add_printf(b, "%s %" PRIu64 "\n", name, v);
	else
		evbuffer_add_printf(b, "%s{%s=\"%s\"} %" PRIu64 "\n", name, label, value, v);
}

/* A family of one unlabelled sample. */
static void
single(struct evbuffer *b, const char *name, const char *type, const char *help, uint64_t v)
{
	family(b, name, type, help);
	sample(b, name, NULL, NULL, v);
}

struct labelled {
	const char *value;
	uint64_t v;
};

/* A family of n samples under one label. */
static void
labelled(struct evbuffer *b, const char *name, const char *type, const char *help,
	 const char *label, const struct labelled *s, size_t n)
{
	family(b, name, type, help);
	for (size_t i = 0; i < n; i++)
		sample(b, name, label, s[i].value, s[i].v);
}

#define NITEMS(a) (sizeof(a) / sizeof((a)[0]))

/* A family of one sample per counter of l, labelled with its name. */
static void
counters(struct evbuffer *b, const char *name, const char *help, const char *label,
	 const struct cm_counterlist *l)
{
	family(b, name, "counter", help);
	for (size_t i = 0; i < l->len; i++)
		sample(b, name, label, l->items[i].name, (uint64_t)l->items[i].count);
}

static int
gossip_metrics(struct ctl *c, struct evbuffer *b)
{
	struct ctl_status st = {0};
	struct cm_gossip_stats g = {0};
	int rc = -1;

	c->ops->status(c->ctx, &st);
	if (ctl_gossip_stats(&st, &g) != 0)
		goto done;
	single(b, "flashback_agent_broadcasting", "gauge", "1 while the agent broadcasts.",
	       st.broadcasting);
	single(b, "flashback_agent_neighbours", "gauge", "Gossip neighbours now.", st.neighbours);
	single(b, "flashback_agent_known_peers", "gauge", "Peers in the peer table.",
	       st.known_peers);
	single(b, "flashback_gossip_sessions", "gauge", "Gossip sessions open now.",
	       (uint64_t)g.sessions_open);
	counters(b, "flashback_gossip_frames_total",
		 "Gossip frames received, by what the engine did with them.", "verdict",
		 &g.verdicts);
	single(b, "flashback_gossip_records_applied_total", "counter",
	       "Signed records that changed the peer table.", (uint64_t)g.records_applied);
	single(b, "flashback_gossip_forwarded_total", "counter", "Frames forwarded to neighbours.",
	       (uint64_t)g.forwarded);
	single(b, "flashback_gossip_sent_total", "counter", "Frames sent.", (uint64_t)g.sent);
	labelled(b, "flashback_gossip_bytes_total", "counter",
		 "Gossip bytes on the wire (TLS records), by direction.", "direction",
		 (const struct labelled[]){{"in", (uint64_t)g.bytes_in},
					   {"out", (uint64_t)g.bytes_out}},
		 2);
	single(b, "flashback_gossip_handshake_failures_total", "counter",
	       "TLS or WebSocket handshakes that failed.", (uint64_t)g.handshake_failures);
	single(b, "flashback_gossip_pin_failures_total", "counter",
	       "Peers whose certificate did not match the pinned one.", (uint64_t)g.pin_failures);
	counters(b, "flashback_gossip_sessions_closed_total",
		 "Gossip sessions closed, by WebSocket close code.", "code", &g.closed_by_code);
	counters(b, "flashback_limit_hits_total",
		 "How often each limit of docs/security.md turned something away.", "limit",
		 &g.limits);
	rc = 0;
done:
	cm_gossip_stats_clear(&g);
	return rc;
}

static void
relay_metrics(const struct rl_ctx *rl, struct evbuffer *b)
{
	struct cm_relay_status d = {0};
	struct rl_stats st = {0};

	if (rl != NULL)
		rl_stats(rl, &st);
	ctl_relay_counters(&st, &d);
	single(b, "flashback_relay_serving", "gauge", "1 while the agent relays for others.",
	       rl != NULL && rl_listen_port(rl) > 0);
	labelled(b, "flashback_relay_reservations", "gauge",
		 "Reservations now: held on relays, and served as a relay.", "role",
		 (const struct labelled[]){{"held", st.reservations_held},
					   {"served", st.reservations_served}},
		 2);
	labelled(b, "flashback_relay_circuits", "gauge",
		 "Circuits now: ours (through a relay), and served as a relay.", "role",
		 (const struct labelled[]){{"ours", st.circuits_ours},
					   {"served", st.circuits_served}},
		 2);
	labelled(b, "flashback_relay_reservations_total", "counter",
		 "Reservations asked of us as a relay, by outcome.", "outcome",
		 (const struct labelled[]){{"granted", (uint64_t)d.reservations_granted},
					   {"renewed", (uint64_t)d.reservations_renewed},
					   {"refused", (uint64_t)d.reservations_refused}},
		 3);
	single(b, "flashback_relay_circuits_opened_total", "counter",
	       "Circuits joined as a relay.", (uint64_t)d.circuits_opened);
	single(b, "flashback_relay_circuits_closed_total", "counter",
	       "Joined circuits closed as a relay, for any reason.", (uint64_t)d.circuits_closed);
	labelled(b, "flashback_relay_refused_total", "counter",
		 "Reservations and circuits refused as a relay, by the limit (protocol section 7).",
		 "limit",
		 (const struct labelled[]){
			 {"no_reservation", (uint64_t)d.refused.no_reservation},
			 {"max_reservations", (uint64_t)d.refused.max_reservations},
			 {"not_allowed", (uint64_t)d.refused.not_allowed},
			 {"max_circuits", (uint64_t)d.refused.max_circuits},
			 {"per_peer", (uint64_t)d.refused.per_peer},
			 {"per_address", (uint64_t)d.refused.per_address},
			 {"rate", (uint64_t)d.refused.rate},
			 {"bad_request", (uint64_t)d.refused.bad_request},
			 {"timeout", (uint64_t)d.join_timeouts},
		 },
		 9);
	labelled(b, "flashback_relay_circuits_limited_total", "counter",
		 "Joined circuits closed by a limit, as a relay.", "limit",
		 (const struct labelled[]){{"byte_cap", (uint64_t)d.closed.byte_cap},
					   {"lifetime", (uint64_t)d.closed.lifetime}},
		 2);
	single(b, "flashback_relay_bytes_relayed_total", "counter",
	       "Bytes copied between the two ends of circuits, both directions, as a relay.",
	       (uint64_t)d.bytes_relayed);
	labelled(b, "flashback_relay_circuits_used_total", "counter",
		 "Circuits of ours through relays: dialled, accepted (we were reserved), failed.",
		 "outcome",
		 (const struct labelled[]){{"dialed", (uint64_t)d.circuits_dialed},
					   {"accepted", (uint64_t)d.circuits_accepted},
					   {"failed", (uint64_t)d.circuit_failures}},
		 3);
	single(b, "flashback_relay_bytes_carried_total", "counter",
	       "Bytes of our own sessions carried through relays, both directions.",
	       (uint64_t)d.bytes_carried);
}

static void
torrent_metrics(const struct tr_client *tc, struct evbuffer *b)
{
	struct tr_stats st = {0};

	if (tc != NULL)
		tr_client_stats(tc, &st);
	labelled(b, "flashback_torrent_sessions_total", "counter",
		 "Peer-wire connections, by outcome.", "outcome",
		 (const struct labelled[]){{"opened", st.sessions_opened},
					   {"refused", st.sessions_refused}},
		 2);
	single(b, "flashback_torrent_peers_banned_total", "counter",
	       "Peers banned for sending pieces that failed their hash.", st.peers_banned);
	labelled(b, "flashback_torrent_pieces_total", "counter",
		 "Pieces checked against their SHA-1, by result.", "result",
		 (const struct labelled[]){{"verified", st.pieces_verified},
					   {"failed", st.pieces_failed}},
		 2);
	labelled(b, "flashback_torrent_bytes_total", "counter",
		 "Torrent bytes moved, by direction and path.", "direction",
		 (const struct labelled[]){{"in", st.bytes_in},
					   {"out", st.bytes_out},
					   {"web_seed_out", st.web_seed_bytes}},
		 3);
	labelled(b, "flashback_torrent_tracker_announces_total", "counter",
		 "Announces to trackers, by result.", "result",
		 (const struct labelled[]){{"sent", st.tracker_announces},
					   {"failed", st.tracker_errors}},
		 2);
	labelled(b, "flashback_torrent_http_requests_total", "counter",
		 "Requests to the torrent HTTP port (web seed, tracker), by outcome.", "outcome",
		 (const struct labelled[]){{"answered", st.http_requests},
					   {"refused", st.http_refused}},
		 2);
}

void
ctl_api_metrics(struct ctl *c, struct evhttp_request *req, struct evkeyvalq *q,
		const char *path_rest)
{
	struct evbuffer *b = evbuffer_new();

	(void)q;
	(void)path_rest;
	if (b == NULL || gossip_metrics(c, b) != 0) {
		evbuffer_free(b);
		ctl_reply_error(req, 500, "out of memory", "internal");
		return;
	}
	relay_metrics(c->ops->relay != NULL ? c->ops->relay(c->ctx) : NULL, b);
	torrent_metrics(c->ops->torrents != NULL ? c->ops->torrents(c->ctx) : NULL, b);
	single(b, "flashback_api_ops_refused_total", "counter",
	       "Discoveries and lookups answered 503: too many waiting at once.", c->ops_refused);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "text/plain; version=0.0.4; charset=utf-8");
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}
