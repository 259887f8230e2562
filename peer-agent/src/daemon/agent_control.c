/*
 * agent_control.c - what the control API (control/api.h) asks of the daemon:
 * its status, broadcasting on and off, gossip requests, bootstrap queries and
 * the torrent client.
 */
#include <stdlib.h>
#include <string.h>

#include "daemon/agent_internal.h"
#include "fb/codec.h"

static void
ctl_status_cb(void *ctx, struct ctl_status *out)
{
	struct pa_agent *a = ctx;

	out->email = cm_identity_email(a->id);
	out->peer_id = a->peer_id;
	out->broadcasting = a->broadcasting;
	out->is_bootstrap = agent_is_bootstrap(a);
	out->bootstrap_state = bootreg_state_name(a->reg.state);
	out->bootstrap_url = a->bs_url;
	out->has_expires = bootreg_is_registered(&a->reg);
	out->expires_ms = a->reg.expires_ms;
	out->neighbours = engine_neighbour_count(a->engine);
	out->known_peers = peertable_count(a->table);
	out->listen_port = tp_listen_port(a->tp);
	out->repositories = &a->repos;
	out->engine = engine_stats(a->engine);
	out->transport = tp_stats(a->tp);
	out->table = peertable_stats(a->table);
	out->sessions_open = tp_session_count(a->tp);
}

static int
ctl_broadcast_on_cb(void *ctx, struct cm_repolist *repos)
{
	struct pa_agent *a = ctx;

	if (repos != NULL) {
		cm_repolist_clear(&a->repos);
		a->repos = *repos;
		memset(repos, 0, sizeof(*repos));
		peertable_set_own_repositories(a->table, &a->repos);
	}
	if (!a->broadcasting)
		return agent_broadcast_start(a);
	agent_update_self(a);
	agent_run_actions(a);
	if (a->bc != NULL)
		agent_arm(a->bs_ev, 0);
	return 0;
}

static void
ctl_broadcast_off_cb(void *ctx)
{
	struct pa_agent *a = ctx;

	if (a->broadcasting)
		agent_broadcast_stop(a);
}

static int
ctl_gossip_ask_cb(void *ctx, const struct cm_strlist *repos, int k,
		  char request_id[CM_UUID_TEXT_LEN + 1])
{
	struct pa_agent *a = ctx;
	int n = engine_request(a->engine, repos, k, agent_now_ms(), &a->rng, request_id, &a->acts);

	/* The table may hold only part of the network: ask the peers nearest the keys too. */
	return n + agent_ask_by_key(a, repos, request_id);
}

static void
ctl_gossip_take_cb(void *ctx, const char *request_id, struct cm_strlist *emails)
{
	struct pa_agent *a = ctx;

	engine_request_take(a->engine, request_id, emails);
}

static struct tr_client *
ctl_torrents_cb(void *ctx)
{
	return ((struct pa_agent *)ctx)->torrents;
}

static int
ctl_torrent_ask_cb(void *ctx, const char *info_hash, int k, char request_id[CM_UUID_TEXT_LEN + 1])
{
	struct pa_agent *a = ctx;
	int n = engine_ask_torrent(a->engine, info_hash, k, agent_now_ms(), &a->rng, request_id,
				   &a->acts);

	agent_run_actions(a);
	return n;
}

/*
 * A bootstrap request on the control API's behalf, and whom to tell. Kept on
 * the agent's list until answered, so one still waiting at exit is freed too.
 */
struct ask {
	struct pa_agent *a;
	ctl_list_fn done;
	void *arg;
	struct ask *next;
};

static struct ask *
ask_new(struct pa_agent *a, ctl_list_fn done, void *arg)
{
	struct ask *q = malloc(sizeof(*q));

	if (q != NULL) {
		*q = (struct ask){a, done, arg, a->asks};
		a->asks = q;
	}
	return q;
}

static void
ask_free(struct ask *q)
{
	struct ask **pp = &q->a->asks;

	while (*pp != NULL && *pp != q)
		pp = &(*pp)->next;
	if (*pp == q)
		*pp = q->next;
	free(q);
}

void
agent_asks_free(struct pa_agent *a)
{
	while (a->asks != NULL)
		ask_free(a->asks);
}

static void
ask_list_done(const struct bc_result *r, void *arg)
{
	struct ask *q = arg;
	struct cm_bootstrap_peerlist l;
	struct cm_err err;

	if (r->http_status == 200 && r->body != NULL &&
	    cm_bootstrap_peerlist_decode(r->body, &l, &err) == 0) {
		agent_attest_list(q->a, &l);
		q->done(q->arg, &l);
		cm_bootstrap_peerlist_clear(&l);
	} else {
		q->done(q->arg, NULL);
	}
	ask_free(q);
}

static void
ask_peer_done(const struct bc_result *r, void *arg)
{
	struct ask *q = arg;
	struct cm_bootstrap_peer p;
	struct cm_bootstrap_peerlist l = {&p, 1};
	struct cm_err err;

	if (r->http_status == 200 && r->body != NULL &&
	    cm_bootstrap_peer_decode(r->body, &p, &err) == 0) {
		q->done(q->arg, &l);
		cm_bootstrap_peer_clear(&p);
	} else {
		q->done(q->arg, NULL);
	}
	ask_free(q);
}

static int
ctl_bootstrap_discover_cb(void *ctx, const struct cm_strlist *repos, ctl_list_fn done, void *arg)
{
	struct pa_agent *a = ctx;
	struct ask *q;

	if (a->bc == NULL || (q = ask_new(a, done, arg)) == NULL)
		return -1;
	if (bc_discover(a->bc, repos, CM_MAX_BOOTSTRAP_PEERS, ask_list_done, q) != 0) {
		ask_free(q);
		return -1;
	}
	return 0;
}

static int
ctl_bootstrap_peers_cb(void *ctx, ctl_list_fn done, void *arg)
{
	struct pa_agent *a = ctx;
	struct ask *q;

	if (a->bc == NULL || (q = ask_new(a, done, arg)) == NULL)
		return -1;
	if (bc_peers(a->bc, CM_MAX_BOOTSTRAP_PEERS, ask_list_done, q) != 0) {
		ask_free(q);
		return -1;
	}
	return 0;
}

static int
ctl_relay_lookup_cb(void *ctx, const char *email, ctl_list_fn done, void *arg)
{
	struct pa_agent *a = ctx;
	struct ask *q;

	if (a->bc == NULL || (q = ask_new(a, done, arg)) == NULL)
		return -1;
	if (bc_relay_lookup(a->bc, email, ask_peer_done, q) != 0) {
		ask_free(q);
		return -1;
	}
	return 0;
}

/* The relay context (NULL when it could not start: the API answers that nothing runs). */
static struct rl_ctx *
ctl_relay_cb(void *ctx)
{
	return agent_relay_ctx(ctx);
}

/* The relay of our gossip session with email, or NULL (none, or direct). */
static const char *
ctl_session_via_cb(void *ctx, const char *email)
{
	const struct link *l = agent_session_with(ctx, email, true);

	return l != NULL ? l->via : NULL;
}

const struct ctl_ops agent_ctl_ops = {
	.status = ctl_status_cb,
	.broadcast_on = ctl_broadcast_on_cb,
	.broadcast_off = ctl_broadcast_off_cb,
	.gossip_ask = ctl_gossip_ask_cb,
	.gossip_take = ctl_gossip_take_cb,
	.bootstrap_discover = ctl_bootstrap_discover_cb,
	.bootstrap_peers = ctl_bootstrap_peers_cb,
	.relay_lookup = ctl_relay_lookup_cb,
	.torrents = ctl_torrents_cb,
	.torrent_ask = ctl_torrent_ask_cb,
	.relay = ctl_relay_cb,
	.session_via = ctl_session_via_cb,
};

