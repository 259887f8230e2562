/*
 * agent.c - the peer-agent daemon: the engine, the peer table, the transport,
 * the bootstrap client, the control API and the store on one libevent loop.
 *
 * This file starts and stops them and runs the timers and signals; the
 * sessions are in agent_links.c, the bootstrap servers in agent_bootstrap.c,
 * the control API's side in agent_control.c. Decisions live in core/: the
 * gossip rules in the engine, whom to dial in overlay, the registration
 * states in bootreg.
 */
#include "daemon/agent.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/agent_internal.h"
#include "daemon/store.h"
#include "fb/file.h"
#include "fb/log.h"
#include "fb/random.h"
#include "fb/timeutil.h"
#include "net/ifaddr.h"

#define SAVE_INTERVAL_MS 60000
#define STOP_GRACE_MS 3000 /* leave, unregister and flush before exit */
/*
 * A round-trip sample per session every fourth heartbeat: the score's
 * smoothing needs no more, and each ping is a pong and two packets more.
 */
#define PING_EVERY_HEARTBEATS 4
#define PER_PREFIX48_ADDRESSES 4 /* an IPv6 /48 holds at most this many max_per_address */

int64_t
agent_now_ms(void)
{
	return cm_time_wall_ms();
}

static uint64_t
rng_next(void *ctx)
{
	uint64_t *s = ctx;

	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

void
agent_arm(struct event *ev, int64_t ms)
{
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};

	evtimer_add(ev, &tv);
}

/* Our record */

bool
agent_is_bootstrap(const struct pa_agent *a)
{
	return a->broadcasting && bootreg_is_registered(&a->reg);
}

/* Signs and announces our record as it now is. */
void
agent_update_self(struct pa_agent *a)
{
	struct cm_peer_record r = {0};
	const char *relays[CM_MAX_RELAYS];

	r.email = (char *)cm_identity_email(a->id);
	r.peer_id = a->peer_id;
	r.is_broadcasting = a->broadcasting;
	r.is_bootstrap = agent_is_bootstrap(a);
	if (a->broadcasting) {
		r.socket_addresses = a->advertise;
		r.port = tp_listen_port(a->tp);
	}
	r.repositories = a->repos;
	overlay_set_silent(a->overlay, !a->broadcasting);
	r.capabilities.max_peers = a->cfg->max_peers;
	r.capabilities.supports_torrent = a->torrents != NULL;
	r.capabilities.bandwidth_estimate = 0;
	agent_torrent_self(a, &r);
	agent_relay_self(a, &r, relays);
	if (engine_set_self(a->engine, &r, agent_now_ms(), &a->rng, &a->acts) != 0)
		log_warnx("%s: cannot sign our record", __func__);
	cm_torrentlist_clear(&r.torrents);
}

static void
run_actions_list(struct pa_agent *a, struct engine_actions *acts)
{
	for (size_t i = 0; i < acts->len; i++) {
		struct engine_action *act = &acts->items[i];
		struct link *l = sessions_get(a->links, act->neighbour);

		if (l == NULL)
			continue;
		if (act->kind == ENGINE_SEND && act->droppable &&
		    tp_session_unsent(l->s) > a->cfg->send_queue_max / 2) {
			/*
			 * A forward to a neighbour slow to read: gossip reaches it by
			 * other paths, and queueing on would close an honest link.
			 */
			uint64_t dropped = engine_stats(a->engine)->forwards_dropped;

			engine_forward_dropped(a->engine);
			if (dropped % 1000 == 0)
				log_info("session %llu: %zu bytes unsent, over half of send_queue_max "
					 "(%zu): forward dropped (%llu so far)",
					 (unsigned long long)act->neighbour, tp_session_unsent(l->s),
					 a->cfg->send_queue_max, (unsigned long long)dropped + 1);
		} else if (act->kind == ENGINE_SEND) {
			tp_send_text(l->s, act->frame, act->frame_len);
		} else {
			const char *who = engine_neighbour_email(a->engine, act->neighbour);

			log_info("closing session with %s: %d %s",
				 who != NULL ? who : "an unauthenticated peer", act->close_code,
				 act->reason);
			tp_close(l->s, act->close_code, act->reason);
		}
	}
	engine_actions_clear(acts);
}

void
agent_run_actions(struct pa_agent *a)
{
	/* Sending may close sessions and run callbacks that queue more: take the list first. */
	while (a->acts.len > 0) {
		struct engine_actions acts = a->acts;

		memset(&a->acts, 0, sizeof(a->acts));
		run_actions_list(a, &acts);
	}
}

/* Timers */

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pa_agent *a = arg;
	int64_t next;

	(void)fd;
	(void)what;
	next = engine_tick(a->engine, agent_now_ms(), &a->rng, &a->acts);
	agent_run_actions(a);
	agent_arm(a->tick_ev, next < 1000 ? next : 1000);
}

static void
ping_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pa_agent *a = arg;
	struct link *l;
	size_t cursor = 0, n = 0;
	uint64_t *ids;
	int64_t now;

	(void)fd;
	(void)what;
	agent_arm(a->ping_ev, a->cfg->heartbeat_s * 1000);
	/* A ping can end a session, and so change the map: take the ids first. */
	if ((ids = calloc(sessions_count(a->links) + 1, sizeof(*ids))) == NULL)
		return;
	while ((l = sessions_next(a->links, &cursor)) != NULL)
		if (engine_neighbour_email(a->engine, l->id) != NULL)
			ids[n++] = l->id;
	now = cm_time_mono_ms();
	for (size_t i = 0; i < n; i++)
		if ((l = sessions_get(a->links, ids[i])) != NULL &&
		    (l->last_ping_ms == 0 ||
		     now - l->last_ping_ms >= PING_EVERY_HEARTBEATS * a->cfg->heartbeat_s * 1000)) {
			l->last_ping_ms = now;
			tp_ping(l->s);
		}
	free(ids);
}

/* Says when the table's bounds bit since the last time: evictions, refusals, pins. */
static void
log_table_bounds(struct pa_agent *a)
{
	const struct peertable_stats *s = peertable_stats(a->table);
	struct peertable_stats *l = &a->table_logged;

	if (s->evicted == l->evicted && s->refused_full == l->refused_full &&
	    s->pins_dropped == l->pins_dropped && s->pins_refused == l->pins_refused &&
	    s->pins_metered == l->pins_metered && s->proofs_capped == l->proofs_capped &&
	    s->refused_silent == l->refused_silent)
		return;
	log_warnx("peer table: %zu entries, %zu bytes; since last: %llu evicted, %llu refused "
		  "(full), %llu pins dropped, %llu pins refused (%llu over the gossip pin "
		  "turnover), %llu inbound proofs over their share, %llu silent records with "
		  "addresses refused",
		  peertable_count(a->table), s->bytes,
		  (unsigned long long)(s->evicted - l->evicted),
		  (unsigned long long)(s->refused_full - l->refused_full),
		  (unsigned long long)(s->pins_dropped - l->pins_dropped),
		  (unsigned long long)(s->pins_refused - l->pins_refused),
		  (unsigned long long)(s->pins_metered - l->pins_metered),
		  (unsigned long long)(s->proofs_capped - l->proofs_capped),
		  (unsigned long long)(s->refused_silent - l->refused_silent));
	*l = *s;
}

static void
save_table(struct pa_agent *a)
{
	log_table_bounds(a);
	if (pa_store_save(a->peers_path, a->table, agent_now_ms()) != 0)
		log_warnx("%s: could not save %s", __func__, a->peers_path);
}

static void
save_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pa_agent *a = arg;

	(void)fd;
	(void)what;
	save_table(a);
	agent_arm(a->save_ev, SAVE_INTERVAL_MS);
}

static void
stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pa_agent *a = arg;
	int64_t elapsed = cm_time_mono_ms() - a->stop_started_ms;

	(void)fd;
	(void)what;
	/* The leave and the unregister need a moment on the wire. */
	if ((a->bc == NULL || bc_pending(a->bc) == 0) && elapsed >= 300)
		event_base_loopexit(a->base, NULL);
	else if (elapsed >= STOP_GRACE_MS)
		event_base_loopexit(a->base, NULL);
	else
		agent_arm(a->stop_ev, 100);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct pa_agent *a = arg;

	(void)what;
	if (a->stopping) {
		log_info("second signal: exiting now");
		event_base_loopexit(a->base, NULL);
		return;
	}
	log_info("%s: leaving the network", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	a->stopping = true;
	a->stop_started_ms = cm_time_mono_ms();
	engine_leave(a->engine, agent_now_ms(), &a->rng, &a->acts);
	agent_run_actions(a);
	if (a->bc != NULL && bootreg_is_listed(&a->reg))
		bc_unregister(a->bc, cm_identity_email(a->id), agent_unregister_done, a);
	agent_arm(a->stop_ev, 100);
}

/* Start and stop */

static void
read_peer_id(struct pa_agent *a)
{
	char *path = pa_config_path(a->cfg->home, "peer_id");
	char *text = NULL, line[CM_UUID_TEXT_LEN + 2];
	size_t len = 0;
	struct cm_err err;

	if (path != NULL && cm_file_read(path, 64, &text, &len, &err) == 0)
		len = strcspn(text, "\r\n");
	if (text != NULL && cm_valid_uuid(text, len)) {
		memcpy(a->peer_id, text, CM_UUID_TEXT_LEN);
		a->peer_id[CM_UUID_TEXT_LEN] = '\0';
	} else {
		/* One peer_id for the life of this home, so restarts read as the same peer. */
		cm_uuid_generate(a->peer_id);
		snprintf(line, sizeof(line), "%s\n", a->peer_id);
		if (path != NULL && cm_file_write_atomic(path, line, strlen(line), 0644, &err) != 0)
			log_warnx("%s: %s", __func__, err.msg);
	}
	free(text);
	free(path);
}

static void
agent_free(struct pa_agent *a)
{
	/* Before the control API: a creation still hashing answers its request. */
	agent_torrent_stop(a);
	agent_relay_stop(a);
	ctl_free(a->ctl);
	bc_free(a->bc);
	agent_asks_free(a);
	tp_free(a->tp);
	engine_actions_clear(&a->acts);
	engine_free(a->engine);
	peertable_free(a->table);
	cm_identity_free(a->id);
	sessions_free(a->links);
	overlay_free(a->overlay);
	struct event *evs[] = {a->tick_ev, a->dial_ev,	a->bs_ev,    a->save_ev,  a->ping_ev,
			       a->stop_ev, a->torrent_ev, a->sig_term, a->sig_int};
	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		if (evs[i] != NULL)
			event_free(evs[i]);
	cm_repolist_clear(&a->repos);
	cm_strlist_clear(&a->advertise);
	free(a->token);
	free(a->peers_path);
	if (a->base != NULL)
		event_base_free(a->base);
	free(a);
}

static int
agent_start(struct pa_agent *a)
{
	const struct pa_config *cfg = a->cfg;
	struct cm_err err = {0};
	struct peertable_config tc;
	struct engine_config ec;
	struct tp_config tpc;
	struct overlay_config oc;
	struct ctl_config ctl_cfg;
	struct cm_hash_key hash_key;
	size_t skipped = 0;
	int restored;

	if (cm_random_bytes(&a->rng_state, sizeof(a->rng_state)) != 0 || a->rng_state == 0)
		a->rng_state = (uint64_t)cm_time_mono_ms() | 1;
	/* Table keys come from the network: one random key per process for every map. */
	if (cm_random_hash_key(&hash_key) != 0) {
		log_errx("no random source for the table keys");
		return -1;
	}
	a->rng.next = rng_next;
	a->rng.ctx = &a->rng_state;
	if ((a->id = cm_identity_load(cfg->key_file, cfg->cert_file, &err)) == NULL) {
		log_errx("identity: %s", err.msg);
		return -1;
	}
	if (strcmp(cm_identity_email(a->id), cfg->email) != 0) {
		log_errx("identity: the certificate names %s, agent.ini says %s",
			 cm_identity_email(a->id), cfg->email);
		return -1;
	}
	if ((a->token = pa_config_read_token(cfg->home, &err)) == NULL) {
		log_errx("api token: %s", err.msg);
		return -1;
	}
	read_peer_id(a);
	peertable_config_default(&tc);
	tc.max_entries = cfg->table_max;
	tc.max_bytes = cfg->table_max_bytes;
	tc.stale_ms = cfg->stale_s * 1000;
	tc.expire_ms = cfg->expire_s * 1000;
	tc.heartbeat_ms = cfg->heartbeat_s * 1000;
	engine_config_default(&ec);
	ec.fanout = cfg->fanout;
	ec.ttl = cfg->ttl;
	ec.expire_ms = cfg->expire_s * 1000;
	ec.heartbeat_ms = cfg->heartbeat_s * 1000;
	ec.reannounce_ms = cfg->reannounce_s * 1000;
	ec.anti_entropy_ms = cfg->anti_entropy_s * 1000;
	ec.ae_idle_ms = cfg->anti_entropy_idle_s * 1000;
	ec.ae_warm_ms = cfg->anti_entropy_sync_s * 1000;
	overlay_config_default(&oc);
	oc.neighbours = (size_t)cfg->neighbours;
	oc.order_key = hash_key;
	if ((a->table = peertable_new(&tc, &hash_key, cfg->email)) == NULL ||
	    (a->engine = engine_new(&ec, a->table, a->id)) == NULL ||
	    (a->overlay = overlay_new(&oc, cfg->email)) == NULL ||
	    (a->links = sessions_new(&hash_key)) == NULL)
		return -1;
	for (size_t i = 0; i < cfg->repositories.len; i++)
		cm_repolist_append(&a->repos, cfg->repositories.items[i].name,
				   cfg->repositories.items[i].description);
	peertable_set_own_repositories(a->table, &a->repos);
	if (cfg->advertise_auto)
		ifaddr_list(&a->advertise);
	else
		for (size_t i = 0; i < cfg->advertise.len; i++)
			cm_strlist_append(&a->advertise, cfg->advertise.items[i]);
	a->peers_path = pa_config_path(cfg->home, "peers.json");
	restored = pa_store_load(a->peers_path, a->table, agent_now_ms(), &skipped);
	if (restored > 0 || skipped > 0)
		log_info("restored %d peers from %s (%zu skipped), all stale until heard from",
			 restored, a->peers_path, skipped);
	tp_config_default(&tpc);
	tpc.cert_file = cfg->cert_file;
	tpc.key_file = cfg->key_file;
	/* Inbound sessions never take the slots kept for our own dials. */
	tpc.max_sessions = (size_t)(cfg->max_peers - cfg->dial_slots);
	tpc.max_per_address = (size_t)cfg->max_per_address;
	tpc.max_per_prefix48 = PER_PREFIX48_ADDRESSES * (size_t)cfg->max_per_address;
	tpc.accept_rate_per_s = cfg->accept_rate;
	tpc.accept_burst = cfg->accept_burst;
	tpc.max_pending = (size_t)cfg->max_unauthenticated;
	tpc.max_send_queue_bytes = cfg->send_queue_max;
	tpc.idle_timeout_ms = cfg->heartbeat_s * 3000 + 10000;
	if ((a->tp = tp_new(a->base, &tpc, &agent_tp_callbacks, a)) == NULL)
		return -1;
	if (cfg->bootstrap_urls.len > 0) {
		struct bc_config bcc = {
			.urls = (const char *const *)cfg->bootstrap_urls.items,
			.nurls = cfg->bootstrap_urls.len,
			.ca_file = cfg->bootstrap_ca,
			.cert_file = cfg->cert_file,
			.key_file = cfg->key_file,
			.bind_ip = cfg->bind,
			.timeout_ms = 10000,
		};

		if ((a->bc = bc_new(a->base, &bcc)) == NULL)
			return -1;
	}
	ctl_cfg.host = cfg->api_host;
	ctl_cfg.port = cfg->api_port;
	ctl_cfg.token = a->token;
	ctl_cfg.table = a->table;
	ctl_cfg.has_bootstrap = a->bc != NULL;
	if ((a->ctl = ctl_new(a->base, &ctl_cfg, &agent_ctl_ops, a)) == NULL)
		return -1;
	if ((a->tick_ev = evtimer_new(a->base, tick_cb, a)) == NULL ||
	    (a->dial_ev = evtimer_new(a->base, agent_dial_cb, a)) == NULL ||
	    (a->bs_ev = evtimer_new(a->base, agent_bs_cb, a)) == NULL ||
	    (a->save_ev = evtimer_new(a->base, save_cb, a)) == NULL ||
	    (a->ping_ev = evtimer_new(a->base, ping_cb, a)) == NULL ||
	    (a->stop_ev = evtimer_new(a->base, stop_cb, a)) == NULL ||
	    (a->sig_term = evsignal_new(a->base, SIGTERM, signal_cb, a)) == NULL ||
	    (a->sig_int = evsignal_new(a->base, SIGINT, signal_cb, a)) == NULL)
		return -1;
	evsignal_add(a->sig_term, NULL);
	evsignal_add(a->sig_int, NULL);
	bootreg_init(&a->reg, cfg->bootstrap_heartbeat_s * 1000);
	if (cfg->broadcasting) {
		if (agent_broadcast_start(a) != 0) {
			log_errx("cannot listen on %s port %d", cfg->listen_host, cfg->listen_port);
			return -1;
		}
	}
	if (agent_torrent_start(a) != 0 || agent_relay_start(a) != 0)
		return -1;
	agent_update_self(a);
	log_info("peer-agent %s: %s, %s, control API on %s port %d", FB_VERSION, cfg->email,
		 a->broadcasting ? "broadcasting" : "silent", cfg->api_host, cfg->api_port);
	agent_arm(a->tick_ev, 0);
	agent_arm(a->dial_ev, 0);
	agent_arm(a->save_ev, SAVE_INTERVAL_MS);
	agent_arm(a->ping_ev, cfg->heartbeat_s * 1000);
	return 0;
}

int
pa_agent_run(const struct pa_config *cfg)
{
	struct pa_agent *a = calloc(1, sizeof(*a));
	int rc = 1;

	if (a == NULL)
		return 1;
	a->cfg = cfg;
	signal(SIGPIPE, SIG_IGN);
	if ((a->base = event_base_new()) == NULL || agent_start(a) != 0) {
		agent_free(a);
		return 1;
	}
	event_base_dispatch(a->base);
	save_table(a);
	log_info("stopped");
	rc = 0;
	agent_free(a);
	return rc;
}
