/*
 * agent_relay.c - relays in the daemon (docs/protocol.md section 7): the
 * relay context on the loop (relay/relay.h), what a broadcasting agent
 * serves, the reservations a silent one holds, and the circuits both open:
 * gossip sessions with silent peers that host our repositories, and
 * peer-wire connections to silent seeders.
 *
 * Reservations go to neighbours only: a silent agent's neighbours are
 * attested bootstrap peers, so its relays are too, and the relay knows the
 * holder by the certificate of that gossip session. A reservation whose
 * relay is no longer a neighbour is given up.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/agent_internal.h"
#include "fb/log.h"
#include "fb/timeutil.h"

#define RELAY_TICK_MS 2000
#define RELAY_RETRY_MS 30000      /* a relay that refused or dropped us waits this long */
#define RELAY_TORRENT_RETRY_MS 20000 /* a circuit to a seeder for a torrent that failed waits this long */
#define RELAY_MAX_PENDING 32      /* circuits being opened at once */
#define RELAY_MAX_MEMO 64         /* recent attempts remembered */
#define RELAY_TORRENT_PER_ROUND 2 /* circuits to silent seeders opened per torrent and round */

/* A circuit being opened, until its done runs. */
struct relay_pending {
	struct pa_agent *a;
	uint64_t handle;
	enum cm_relay_service service;
	char email[CM_MAX_EMAIL + 1];
	char relay[CM_MAX_EMAIL + 1];
	char info_hash[TR_HEX_LEN + 1]; /* torrent circuits */
};

/* When something (a relay, or a seeder and torrent) was last tried. */
struct relay_memo {
	char key[CM_MAX_EMAIL + TR_HEX_LEN + 2];
	int64_t at_ms;
};

struct agent_relay {
	struct rl_ctx *rl;
	struct event *tick_ev;
	struct relay_pending *pending[RELAY_MAX_PENDING];
	/* RELAY_MAX_MEMO of them (19 KB), allocated at the first attempt: most agents never try one. */
	struct relay_memo *memo;
	size_t memo_next;
};

static bool
memo_recent(const struct agent_relay *r, const char *key, int64_t now, int64_t within_ms)
{
	for (size_t i = 0; r->memo != NULL && i < RELAY_MAX_MEMO; i++)
		if (r->memo[i].at_ms != 0 && now - r->memo[i].at_ms < within_ms &&
		    strcmp(r->memo[i].key, key) == 0)
			return true;
	return false;
}

static void
memo_note(struct agent_relay *r, const char *key, int64_t now)
{
	struct relay_memo *m;

	/* Out of memory, the attempt is not remembered: it may come again sooner. */
	if (r->memo == NULL && (r->memo = calloc(RELAY_MAX_MEMO, sizeof(*r->memo))) == NULL)
		return;
	m = &r->memo[r->memo_next++ % RELAY_MAX_MEMO];
	snprintf(m->key, sizeof(m->key), "%s", key);
	m->at_ms = now;
}

struct memo_key {
	char s[sizeof(((struct relay_memo *)0)->key)];
};

/* A seeder and a torrent, as a memo's key. */
static struct memo_key
torrent_key(const char *email, const char *info_hash)
{
	struct memo_key k;

	snprintf(k.s, sizeof(k.s), "%s %s", email, info_hash);
	return k;
}

bool
agent_relay_pending(const struct pa_agent *a, const char *email, enum cm_relay_service service,
		    const char *info_hash)
{
	const struct agent_relay *r = a->relay;

	for (size_t i = 0; r != NULL && i < RELAY_MAX_PENDING; i++)
		if (r->pending[i] != NULL && r->pending[i]->service == service &&
		    strcmp(r->pending[i]->email, email) == 0 &&
		    (info_hash == NULL || strcmp(r->pending[i]->info_hash, info_hash) == 0))
			return true;
	return false;
}

static struct relay_pending *
pending_new(struct pa_agent *a, enum cm_relay_service service, const char *email, const char *relay,
	    const char *info_hash)
{
	struct agent_relay *r = a->relay;

	for (size_t i = 0; i < RELAY_MAX_PENDING; i++) {
		struct relay_pending *p;

		if (r->pending[i] != NULL)
			continue;
		if ((p = calloc(1, sizeof(*p))) == NULL)
			return NULL;
		p->a = a;
		p->service = service;
		snprintf(p->email, sizeof(p->email), "%s", email);
		snprintf(p->relay, sizeof(p->relay), "%s", relay);
		snprintf(p->info_hash, sizeof(p->info_hash), "%s", info_hash != NULL ? info_hash : "");
		r->pending[i] = p;
		return p;
	}
	return NULL;
}

static void
pending_free(struct agent_relay *r, struct relay_pending *p)
{
	for (size_t i = 0; i < RELAY_MAX_PENDING; i++)
		if (r->pending[i] == p)
			r->pending[i] = NULL;
	free(p);
}

/* Gossip over a circuit: the transport runs the upgrade and the session as on a socket. */
static void
adopt_gossip(struct pa_agent *a, int fd, const struct rl_peer *peer, bool inbound)
{
	struct tp_session *s = tp_adopt(a->tp, fd, inbound, peer->cert_pem, peer->fingerprint);
	struct link *l;

	if (s == NULL) {
		log_warnx("relay: no session over the circuit with %s", peer->email);
		return;
	}
	l = sessions_add(a->links, tp_session_id(s), s, inbound ? NULL : peer->email, !inbound);
	if (l == NULL || (l->via = strdup(peer->relay_email)) == NULL) {
		tp_close(s, 1011, "out of memory");
		return;
	}
	log_info("relay: gossip session with %s through %s (%s)", peer->email, peer->relay_email,
		 inbound ? "accepted" : "dialled");
}

static void
adopt_torrent(struct pa_agent *a, int fd, const struct rl_peer *peer, const char *info_hash)
{
	char label[CM_MAX_EMAIL + 8];

	snprintf(label, sizeof(label), "relay:%s", peer->email);
	if (a->torrents == NULL) {
		close(fd);
		return;
	}
	if (tr_client_adopt(a->torrents, fd, info_hash, label) != 0)
		log_info("relay: peer-wire connection with %s refused by the torrent client",
			 peer->email);
	else
		log_info("relay: peer-wire connection with %s through %s", peer->email,
			 peer->relay_email);
}

static void
connected_cb(void *arg, int fd, const struct rl_peer *peer, const struct cm_err *err)
{
	struct relay_pending *p = arg;
	struct pa_agent *a = p->a;

	if (fd < 0) {
		log_info("relay: no circuit to %s through %s: %s", p->email, p->relay,
			 err != NULL ? err->msg : "failed");
		if (p->service == CM_RELAY_GOSSIP)
			overlay_dial_failed(a->overlay, p->email, cm_time_mono_ms(), &a->rng);
		else
			memo_note(a->relay, torrent_key(p->email, p->info_hash).s, cm_time_mono_ms());
	} else if (p->service == CM_RELAY_GOSSIP) {
		adopt_gossip(a, fd, peer, false);
	} else {
		adopt_torrent(a, fd, peer, p->info_hash);
	}
	pending_free(a->relay, p);
}

static bool
start_circuit(struct pa_agent *a, enum cm_relay_service service, const struct overlay_relayed *d,
	      const char *info_hash)
{
	struct rl_target t = {d->relay_email, d->relay_ip, d->relay_port, d->relay_fingerprint};
	struct relay_pending *p = pending_new(a, service, d->email, d->relay_email, info_hash);

	if (p == NULL)
		return false;
	if ((p->handle = rl_connect(a->relay->rl, &t, d->email, d->fingerprint, service,
				    connected_cb, p)) == 0) {
		pending_free(a->relay, p);
		return false;
	}
	log_info("relay: asking %s for a %s circuit to %s", d->relay_email,
		 cm_relay_service_name(service), d->email);
	return true;
}

/* Hooks of the relay context */

static bool
hook_may_reserve(void *ctx, const char *email, const char *fingerprint)
{
	const struct link *l = agent_session_with(ctx, email, false);

	return l != NULL && strcmp(tp_session_fingerprint(l->s), fingerprint) == 0;
}

static void
hook_on_inbound(void *ctx, int fd, const struct rl_peer *peer)
{
	struct pa_agent *a = ctx;

	if (peer->service == CM_RELAY_GOSSIP)
		adopt_gossip(a, fd, peer, true);
	else
		adopt_torrent(a, fd, peer, NULL);
	agent_run_actions(a);
}

static bool
hook_may_accept(void *ctx, const char *email, enum cm_relay_service service)
{
	struct pa_agent *a = ctx;

	if (a->stopping || strcmp(email, cm_identity_email(a->id)) == 0)
		return false;
	return service == CM_RELAY_GOSSIP || a->torrents != NULL;
}

static void
hook_reservations_changed(void *ctx)
{
	struct pa_agent *a = ctx;

	if (a->stopping)
		return;
	agent_update_self(a);
	agent_run_actions(a);
}

static const struct rl_hooks hooks = {hook_may_reserve, hook_on_inbound, hook_may_accept,
				      hook_reservations_changed};

/* Reservations: a silent agent keeps `reservations` of them on its neighbours. */
static void
keep_reservations(struct pa_agent *a)
{
	struct agent_relay *r = a->relay;
	struct rl_entry held[CM_MAX_RELAYS * 2];
	size_t n = rl_list(r->rl, held, sizeof(held) / sizeof(held[0])), have = 0;
	bool want = !a->broadcasting && a->cfg->relay_use && !a->stopping;
	int64_t now = cm_time_mono_ms();
	const struct link *l;
	size_t cursor = 0;

	for (size_t i = 0; i < n; i++) {
		if (held[i].kind != RL_HELD)
			continue;
		if (!want || agent_session_with(a, held[i].peer, false) == NULL) {
			log_info("relay: giving up the reservation on %s (%s)", held[i].peer,
				 want ? "no longer a neighbour" : "not silent");
			rl_unreserve(r->rl, held[i].peer);
			continue;
		}
		have++;
	}
	while (want && have < (size_t)a->cfg->relay_reservations &&
	       (l = sessions_next(a->links, &cursor)) != NULL) {
		const char *email = engine_neighbour_email(a->engine, l->id);
		const struct peertable_entry *e;
		const struct cm_peer_record *rec;
		struct rl_target t;
		bool pending;

		if (l->via != NULL || email == NULL || rl_reserved(r->rl, email, &pending) ||
		    pending || memo_recent(r, email, now, RELAY_RETRY_MS) ||
		    (e = peertable_get(a->table, email)) == NULL)
			continue;
		rec = &e->rec.record;
		if (!rec->is_broadcasting || rec->relay_port <= 0 || rec->socket_addresses.len == 0)
			continue;
		t = (struct rl_target){email, rec->socket_addresses.items[0], rec->relay_port,
				       tp_session_fingerprint(l->s)};
		memo_note(r, email, now);
		if (rl_reserve(r->rl, &t) == 0) {
			log_info("relay: reserving a slot on %s", email);
			have++;
		}
	}
}

static size_t
relayed_gossip_count(const struct pa_agent *a)
{
	const struct link *l;
	size_t cursor = 0, n = 0;

	while ((l = sessions_next(a->links, &cursor)) != NULL)
		n += l->via != NULL && l->outbound;
	for (size_t i = 0; i < RELAY_MAX_PENDING; i++)
		n += a->relay->pending[i] != NULL &&
		     a->relay->pending[i]->service == CM_RELAY_GOSSIP;
	return n;
}

void
agent_relay_dials(struct pa_agent *a)
{
	struct overlay_relayed d[8];
	const char *repos[CM_MAX_REPOSITORIES];
	size_t held, want, n, nrepos = 0;

	if (a->relay == NULL || a->stopping || a->cfg->relay_max_relayed <= 0)
		return;
	held = relayed_gossip_count(a);
	if (held >= (size_t)a->cfg->relay_max_relayed)
		return;
	want = (size_t)a->cfg->relay_max_relayed - held;
	if (want > sizeof(d) / sizeof(d[0]))
		want = sizeof(d) / sizeof(d[0]);
	for (size_t i = 0; i < a->repos.len && nrepos < CM_MAX_REPOSITORIES; i++)
		repos[nrepos++] = a->repos.items[i].name;
	n = overlay_plan_relayed(a->overlay, a->table, repos, nrepos, agent_linked, a,
				 cm_time_mono_ms(), agent_now_ms(), d, want);
	for (size_t i = 0; i < n; i++)
		if (!start_circuit(a, CM_RELAY_GOSSIP, &d[i], NULL))
			overlay_dial_failed(a->overlay, d[i].email, cm_time_mono_ms(), &a->rng);
}

void
agent_relay_torrent(struct pa_agent *a, const char *info_hash)
{
	struct peertable_seeder s[16];
	size_t found, started = 0;
	int64_t now = cm_time_mono_ms();

	if (a->relay == NULL || a->torrents == NULL || a->stopping)
		return;
	found = peertable_torrent_seeders(a->table, info_hash, agent_now_ms(), s,
					  sizeof(s) / sizeof(s[0]));
	for (size_t i = 0; i < found && started < RELAY_TORRENT_PER_ROUND; i++) {
		const struct peertable_entry *e = s[i].entry;
		const struct cm_peer_record *rec = &e->rec.record;
		char label[CM_MAX_EMAIL + 8];
		struct overlay_relayed d;

		/* Seeders that publish an address are dialled directly. */
		if (rec->is_broadcasting || rec->relays.len == 0 || e->fingerprint[0] == '\0')
			continue;
		snprintf(label, sizeof(label), "relay:%s", rec->email);
		if (agent_relay_pending(a, rec->email, CM_RELAY_TORRENT, info_hash) ||
		    memo_recent(a->relay, torrent_key(rec->email, info_hash).s, now,
				RELAY_TORRENT_RETRY_MS) ||
		    tr_client_has_peer(a->torrents, info_hash, label) ||
		    !overlay_relay_for(a->overlay, a->table, e, agent_now_ms(), &d))
			continue;
		d.email = rec->email;
		d.fingerprint = e->fingerprint;
		started += start_circuit(a, CM_RELAY_TORRENT, &d, info_hash);
	}
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pa_agent *a = arg;

	(void)fd;
	(void)what;
	keep_reservations(a);
	agent_arm(a->relay->tick_ev, RELAY_TICK_MS);
}

/* Serving: a broadcasting agent with [relay] serve relays on its own port. */
static int
serve(struct pa_agent *a)
{
	const struct pa_config *cfg = a->cfg;
	const char *host = cfg->relay_listen_host != NULL ? cfg->relay_listen_host
							  : cfg->listen_host;

	if (!a->broadcasting || !cfg->relay_serve || host == NULL) {
		rl_unlisten(a->relay->rl);
		return 0;
	}
	if (rl_listen_port(a->relay->rl) > 0)
		return 0;
	if (rl_listen(a->relay->rl, host,
		      cfg->relay_listen_host != NULL ? cfg->relay_listen_port : 0) != 0)
		return -1;
	log_info("relay: serving on %s port %d", host, rl_listen_port(a->relay->rl));
	return 0;
}

int
agent_relay_start(struct pa_agent *a)
{
	const struct pa_config *cfg = a->cfg;
	struct rl_config rc;

	if ((a->relay = calloc(1, sizeof(*a->relay))) == NULL)
		return -1;
	rl_config_default(&rc);
	rc.creds = tp_creds(a->tp);
	rc.bind_ip = cfg->bind;
	rc.max_reservations = cfg->relay_max_reservations;
	rc.max_circuits = cfg->relay_max_circuits;
	rc.max_circuits_per_peer = cfg->relay_max_circuits_per_peer;
	rc.max_per_address = cfg->relay_max_per_address;
	rc.reservation_s = cfg->relay_reservation_s;
	rc.circuit_lifetime_s = cfg->relay_circuit_lifetime_s;
	rc.max_circuit_bytes = cfg->relay_max_circuit_bytes;
	rc.circuit_rate = cfg->relay_circuit_rate;
	rc.max_rate = cfg->relay_max_rate;
	if ((a->relay->rl = rl_new(a->base, &rc, &hooks, a)) == NULL ||
	    (a->relay->tick_ev = evtimer_new(a->base, tick_cb, a)) == NULL) {
		agent_relay_stop(a);
		return -1;
	}
	if (serve(a) != 0)
		log_warnx("relay: cannot serve; relaying for nobody until restarted");
	agent_arm(a->relay->tick_ev, RELAY_TICK_MS);
	return 0;
}

void
agent_relay_stop(struct pa_agent *a)
{
	struct agent_relay *r = a->relay;

	if (r == NULL)
		return;
	/* rl_free calls no done: the pending circuits are freed here. */
	rl_free(r->rl);
	for (size_t i = 0; i < RELAY_MAX_PENDING; i++)
		free(r->pending[i]);
	if (r->tick_ev != NULL)
		event_free(r->tick_ev);
	free(r->memo);
	free(r);
	a->relay = NULL;
}

void
agent_relay_broadcast_changed(struct pa_agent *a)
{
	if (a->relay == NULL)
		return;
	if (serve(a) != 0)
		log_warnx("relay: cannot serve; relaying for nobody until restarted");
	keep_reservations(a);
}

void
agent_relay_self(struct pa_agent *a, struct cm_peer_record *r, const char **relays)
{
	r->relays.items = (char **)relays;
	r->relays.len = 0;
	r->relay_port = 0;
	if (a->relay == NULL)
		return;
	if (a->broadcasting && rl_listen_port(a->relay->rl) > 0)
		r->relay_port = rl_listen_port(a->relay->rl);
	if (!a->broadcasting)
		r->relays.len = rl_reservations(a->relay->rl, relays, CM_MAX_RELAYS);
}

struct rl_ctx *
agent_relay_ctx(struct pa_agent *a)
{
	return a->relay != NULL ? a->relay->rl : NULL;
}
