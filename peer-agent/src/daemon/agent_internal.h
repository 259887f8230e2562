/*
 * agent_internal.h - the daemon's state and what its files share: agent.c
 * (start, stop, timers, signals), agent_links.c (sessions and dialling),
 * agent_bootstrap.c (the bootstrap servers) and agent_control.c (the control
 * API's side in the daemon).
 */
#ifndef PA_AGENT_INTERNAL_H
#define PA_AGENT_INTERNAL_H

#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>

#include "control/api.h"
#include "core/bootreg.h"
#include "core/engine.h"
#include "core/overlay.h"
#include "core/peertable.h"
#include "daemon/bootclient.h"
#include "daemon/config.h"
#include "daemon/sessions.h"
#include "fb/identity.h"
#include "fb/types.h"
#include "fb/validate.h"
#include "net/transport.h"
#include "relay/relay.h"
#include "torrent/torrent.h"

struct pa_agent {
	const struct pa_config *cfg;
	struct event_base *base;
	struct cm_identity *id;
	struct peertable *table;
	struct peertable_stats table_logged; /* the table's bounds as last logged */
	struct engine *engine;
	struct tp_ctx *tp;
	struct bc_client *bc;
	struct ctl *ctl;
	struct ask *asks; /* bootstrap requests made for the control API, not yet answered */
	char *token;
	char *peers_path;
	uint64_t rng_state;
	struct engine_rng rng;
	char peer_id[CM_UUID_TEXT_LEN + 1];
	bool broadcasting;
	struct cm_repolist repos;
	struct cm_strlist advertise;
	struct engine_actions acts; /* what the engine asked for, performed by agent_run_actions */

	struct bootreg reg;
	char bs_url[512];
	bool bs_busy;
	struct overlay_backoff peers_fetch;
	bool peers_fetch_busy;
	int64_t peers_listed_ms; /* monotonic time of the last listing answered, 0: none yet */
	int64_t early_dial_ms;   /* monotonic time of the last dial round brought forward */

	struct tr_client *torrents;
	struct event *torrent_ev; /* hands the table's seeders to downloading torrents */

	struct sessions *links;
	struct overlay *overlay;
	struct agent_relay *relay; /* agent_relay.c */

	struct event *tick_ev, *dial_ev, *bs_ev, *save_ev, *ping_ev, *stop_ev;
	struct event *sig_term, *sig_int;
	bool stopping;
	int64_t stop_started_ms;
};

/* agent.c */
int64_t agent_now_ms(void);
void agent_arm(struct event *ev, int64_t ms);
bool agent_is_bootstrap(const struct pa_agent *a);
/* A trusted server's listing (register, peers, discover): its peers count as bootstrap peers. */
void agent_attest_list(struct pa_agent *a, const struct cm_bootstrap_peerlist *l);
void agent_update_self(struct pa_agent *a);
void agent_run_actions(struct pa_agent *a);

/* agent_links.c */
extern const struct tp_callbacks agent_tp_callbacks;
/* An overlay_linked_fn: a session with email exists, or is being set up (a circuit too). */
bool agent_linked(void *ctx, const char *email);
/* The authenticated session with email, through a relay (relayed) or direct; NULL: none. */
const struct link *agent_session_with(const struct pa_agent *a, const char *email, bool relayed);
void agent_dial_cb(evutil_socket_t fd, short what, void *arg);
/*
 * Lookup by key (docs/protocol.md section 4): request id (made when empty)
 * for repos, also to the PEERTABLE_KEY_ASK peers of the table nearest each
 * repository's key (KEY_ASK_MAX in all), over our session with one, else
 * over one dialled for the question and closed QUERY_HOLD_MS later (kept
 * when we want neighbours anyway). Returns how many peers were asked or are
 * being dialled.
 */
int agent_ask_by_key(struct pa_agent *a, const struct cm_strlist *repos,
		     char id[CM_UUID_TEXT_LEN + 1]);

/* agent_bootstrap.c */
void agent_bs_cb(evutil_socket_t fd, short what, void *arg);
void agent_fetch_bootstrap_peers(struct pa_agent *a);
int agent_broadcast_start(struct pa_agent *a);
void agent_broadcast_stop(struct pa_agent *a);
void agent_unregister_done(const struct bc_result *r, void *arg);

/* agent_torrent.c */
int agent_torrent_start(struct pa_agent *a);
void agent_torrent_stop(struct pa_agent *a);
/* Broadcasting changed: only a broadcasting agent listens for peers and HTTP. */
int agent_torrent_restart(struct pa_agent *a);
/* Our record's torrents and torrent port (r's torrents are the caller's to clear). */
void agent_torrent_self(struct pa_agent *a, struct cm_peer_record *r);

/* agent_relay.c */
int agent_relay_start(struct pa_agent *a);
/* Circuits being opened are abandoned, their sessions never made. */
void agent_relay_stop(struct pa_agent *a);
/* Broadcasting changed: serve or not, keep or give up reservations. */
void agent_relay_broadcast_changed(struct pa_agent *a);
/* Gossip circuits to silent peers hosting our repositories, up to [relay] max_relayed. */
void agent_relay_dials(struct pa_agent *a);
/* Peer-wire circuits to the silent seeders of info_hash that name relays. */
void agent_relay_torrent(struct pa_agent *a, const char *info_hash);
/* A circuit for service with email (for torrent info_hash unless NULL) is being opened. */
bool agent_relay_pending(const struct pa_agent *a, const char *email, enum cm_relay_service service,
			 const char *info_hash);
/*
 * Our record's relay_port (broadcasting and serving) and relays (silent: the
 * relays granting us a reservation), their emails into relays (CM_MAX_RELAYS
 * slots, borrowed from the relay context: sign before it changes).
 */
void agent_relay_self(struct pa_agent *a, struct cm_peer_record *r, const char **relays);
/* The relay context, or NULL. */
struct rl_ctx *agent_relay_ctx(struct pa_agent *a);

/* agent_control.c */
extern const struct ctl_ops agent_ctl_ops;
/* Frees the requests still waiting (the bootstrap client dropped them without an answer). */
void agent_asks_free(struct pa_agent *a);

#endif
