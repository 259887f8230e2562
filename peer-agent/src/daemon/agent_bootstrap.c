/*
 * agent_bootstrap.c - the agent and its bootstrap servers: registration (its
 * states in core/bootreg), the listings that feed the overlay's candidates,
 * and broadcasting on and off.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/agent_internal.h"
#include "fb/codec.h"
#include "fb/log.h"
#include "fb/timeutil.h"
#include "net/transport.h"

/* Bootstrap-listed peers */

void
agent_attest_list(struct pa_agent *a, const struct cm_bootstrap_peerlist *l)
{
	struct cm_err err;

	for (size_t i = 0; i < l->len; i++) {
		const struct cm_bootstrap_peer *p = &l->items[i];
		struct cm_cert *cert;

		if (p->public_certificate == NULL)
			continue;
		cert = cm_cert_from_pem(p->public_certificate, strlen(p->public_certificate), &err);
		if (cert != NULL && strcmp(cm_cert_email(cert), p->email) == 0)
			peertable_attest(a->table, p->email, cm_cert_fingerprint(cert),
					 agent_now_ms());
		cm_cert_free(cert);
	}
}

static void
cands_add(struct pa_agent *a, const struct cm_bootstrap_peer *p)
{
	struct cm_err err;
	struct cm_cert *cert;

	if (strcmp(p->email, cm_identity_email(a->id)) == 0 || p->socket_addresses.len == 0 ||
	    p->port <= 0 || p->public_certificate == NULL)
		return;
	cert = cm_cert_from_pem(p->public_certificate, strlen(p->public_certificate), &err);
	if (cert == NULL || strcmp(cm_cert_email(cert), p->email) != 0) {
		log_warnx("%s: %s: listed certificate unusable", __func__, p->email);
		cm_cert_free(cert);
		return;
	}
	/* The listing's certificate is the one we will hold that peer to. */
	if (peertable_pin(a->table, p->email, cm_cert_fingerprint(cert), PEERTABLE_PIN_LISTED) !=
	    0) {
		log_warnx("%s: %s: listed certificate differs from the one pinned", __func__,
			  p->email);
		cm_cert_free(cert);
		return;
	}
	overlay_candidate_set(a->overlay, p->email, &p->socket_addresses, p->port,
			      cm_cert_fingerprint(cert));
	cm_cert_free(cert);
}

/*
 * A listing of a server we trust: its peers are bootstrap peers, and dialable.
 * An agent without a neighbour dials them now rather than at its next round
 * (listings come at most once a backoff step, so this adds few rounds).
 */
static void
cands_add_list(struct pa_agent *a, const struct cm_bootstrap_peerlist *l)
{
	agent_attest_list(a, l);
	for (size_t i = 0; i < l->len; i++)
		cands_add(a, &l->items[i]);
	if (l->len > 0 && engine_neighbour_count(a->engine) == 0)
		agent_arm(a->dial_ev, 0);
}

/* Bootstrap client */

static void do_register(struct pa_agent *a);
static void do_heartbeat(struct pa_agent *a);

/* Logs a registration step, re-announces us when is_bootstrap changed, arms its timer. */
static void
bs_note(struct pa_agent *a, struct bootreg_step st, const char *url)
{
	bool was_bootstrap = a->broadcasting && st.from == BOOTREG_REGISTERED;

	if (st.from != st.to)
		log_info("bootstrap: %s -> %s%s%s", bootreg_state_name(st.from),
			 bootreg_state_name(st.to), url != NULL ? " at " : "", url != NULL ? url : "");
	if (url != NULL)
		snprintf(a->bs_url, sizeof(a->bs_url), "%s", url);
	if (was_bootstrap != agent_is_bootstrap(a)) {
		agent_update_self(a);
		agent_run_actions(a);
	}
	if (st.next_ms >= 0)
		agent_arm(a->bs_ev, st.next_ms);
}

/* bs_note, then what the step says to send now. */
static void
bs_step(struct pa_agent *a, struct bootreg_step st, const char *url)
{
	bs_note(a, st, url);
	if (st.act == BOOTREG_REGISTER)
		do_register(a);
	else if (st.act == BOOTREG_HEARTBEAT)
		do_heartbeat(a);
}

static void
register_done(const struct bc_result *r, void *arg)
{
	struct pa_agent *a = arg;
	struct cm_register_response resp;
	struct cm_err err;

	a->bs_busy = false;
	if (a->stopping || !a->broadcasting)
		return;
	if (r->http_status != 200 || r->body == NULL ||
	    cm_register_response_decode(r->body, &resp, &err) != 0) {
		log_warnx("bootstrap: register at %s failed: %s", r->url,
			  r->http_status == 200 ? err.msg : r->err);
		bs_step(a, bootreg_register_failed(&a->reg, cm_time_mono_ms(), &a->rng), NULL);
		return;
	}
	cands_add_list(a, &resp.bootstrap_peers);
	bs_step(a, bootreg_register_ok(&a->reg, resp.expires_at_ms, resp.heartbeat_interval_s),
		r->url);
	cm_register_response_clear(&resp);
}

static void
do_register(struct pa_agent *a)
{
	struct cm_register_request req = {0};

	req.email = (char *)cm_identity_email(a->id);
	req.peer_id = a->peer_id;
	req.socket_addresses = a->advertise;
	req.port = tp_listen_port(a->tp);
	req.repositories = a->repos;
	req.is_broadcasting = true;
	req.has_capabilities = true;
	req.capabilities.max_peers = a->cfg->max_peers;
	if (bc_register(a->bc, &req, register_done, a) == 0)
		a->bs_busy = true;
	else
		bs_step(a, bootreg_send_failed(&a->reg, cm_time_mono_ms(), &a->rng), NULL);
}

static void
heartbeat_done(const struct bc_result *r, void *arg)
{
	struct pa_agent *a = arg;
	struct cm_status answer = {0};
	struct cm_err err;

	a->bs_busy = false;
	if (a->stopping || !a->broadcasting)
		return;
	if (r->http_status == 404) {
		log_info("bootstrap: %s no longer knows us; registering again", r->url);
		bs_step(a, bootreg_heartbeat_unknown(&a->reg), NULL);
		return;
	}
	if (r->http_status != 200) {
		log_warnx("bootstrap: heartbeat to %s failed: %s", r->url, r->err);
		bs_step(a, bootreg_heartbeat_failed(&a->reg, cm_time_mono_ms(), &a->rng), NULL);
		return;
	}
	/* An answer without a readable expiry still counts: the server has us. */
	if (r->body == NULL || cm_status_body_decode(r->body, &answer, &err) != 0)
		answer.has_expires_at = false;
	bs_step(a, bootreg_heartbeat_ok(&a->reg, answer.has_expires_at, answer.expires_at_ms),
		r->url);
	cm_status_clear(&answer);
}

static void
do_heartbeat(struct pa_agent *a)
{
	if (bc_heartbeat(a->bc, cm_identity_email(a->id), heartbeat_done, a) == 0)
		a->bs_busy = true;
	else
		bs_step(a, bootreg_send_failed(&a->reg, cm_time_mono_ms(), &a->rng), NULL);
}

void
agent_bs_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pa_agent *a = arg;

	(void)fd;
	(void)what;
	if (a->stopping || a->bc == NULL || a->bs_busy || !a->broadcasting)
		return;
	bs_step(a, bootreg_due(&a->reg, agent_now_ms()), NULL);
}

static void
peers_done(const struct bc_result *r, void *arg)
{
	struct pa_agent *a = arg;
	struct cm_bootstrap_peerlist l;
	struct cm_err err;

	a->peers_fetch_busy = false;
	if (r->http_status == 200 && r->body != NULL &&
	    cm_bootstrap_peerlist_decode(r->body, &l, &err) == 0) {
		cands_add_list(a, &l);
		a->peers_listed_ms = cm_time_mono_ms();
		log_info("bootstrap: %s listed %zu peers", r->url, l.len);
		cm_bootstrap_peerlist_clear(&l);
		if (!a->broadcasting)
			bs_note(a, bootreg_unregistered(&a->reg), r->url);
	} else {
		log_warnx("bootstrap: listing peers at %s failed: %s", r->url,
			  r->http_status == 200 ? err.msg : r->err);
	}
	/*
	 * The wait grows after every listing, answered or not: an agent with no
	 * neighbour whose listed peers do not answer must not ask every second.
	 */
	overlay_backoff_next(&a->peers_fetch, cm_time_mono_ms(), &a->rng);
}

/* While we have no neighbour: ask the bootstrap servers for peers (backoff 1 s .. 60 s). */
void
agent_fetch_bootstrap_peers(struct pa_agent *a)
{
	if (a->peers_fetch_busy || overlay_backoff_waiting(&a->peers_fetch, cm_time_mono_ms()))
		return;
	if (bc_peers(a->bc, CM_MAX_BOOTSTRAP_PEERS, peers_done, a) == 0)
		a->peers_fetch_busy = true;
}

int
agent_broadcast_start(struct pa_agent *a)
{
	if (a->cfg->listen_host == NULL)
		return -1;
	if (tp_listen_port(a->tp) < 0 &&
	    tp_listen(a->tp, a->cfg->listen_host, a->cfg->listen_port) != 0)
		return -1;
	a->broadcasting = true;
	if (a->torrents != NULL && agent_torrent_restart(a) != 0)
		log_warnx("torrents: cannot restart as a broadcasting agent; none until restarted");
	agent_relay_broadcast_changed(a);
	agent_update_self(a);
	agent_run_actions(a);
	if (a->bc != NULL)
		bs_note(a, bootreg_start(&a->reg), NULL);
	log_info("broadcasting on %s port %d", a->cfg->listen_host, tp_listen_port(a->tp));
	return 0;
}

void
agent_unregister_done(const struct bc_result *r, void *arg)
{
	struct pa_agent *a = arg;

	if (r->http_status == 200 || r->http_status == 404)
		log_info("bootstrap: unregistered at %s", r->url);
	else
		log_warnx("bootstrap: unregister at %s failed: %s", r->url, r->err);
	if (!a->broadcasting)
		bs_note(a, bootreg_unregistered(&a->reg), NULL);
}

void
agent_broadcast_stop(struct pa_agent *a)
{
	struct bootreg_step st;

	a->broadcasting = false;
	tp_unlisten(a->tp);
	evtimer_del(a->bs_ev);
	st = bootreg_stop(&a->reg);
	bs_note(a, st, NULL);
	if (a->torrents != NULL && agent_torrent_restart(a) != 0)
		log_warnx("torrents: cannot restart as a silent agent; none until restarted");
	agent_relay_broadcast_changed(a);
	agent_update_self(a);
	agent_run_actions(a);
	if (a->bc != NULL && st.act == BOOTREG_UNREGISTER)
		bc_unregister(a->bc, cm_identity_email(a->id), agent_unregister_done, a);
	else
		bs_note(a, bootreg_unregistered(&a->reg), NULL);
	log_info("broadcasting stopped: our record carries no address");
}

