/*
 * agent_torrent.c - BitTorrent's side in the daemon: the torrent client on
 * the loop (torrent/torrent.h) and its bridge to gossip. Seeders come from
 * the peer table (records whose torrents name the info hash) and from
 * PEER_REQUEST torrent_search; our record announces what we seed.
 *
 * Only a broadcasting agent runs a listener and the HTTP port; a silent one
 * dials out and nothing else, so no tracker or answer can name its address.
 * Turning broadcasting on or off restarts the client (its state is on disk).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/agent_internal.h"
#include "fb/log.h"

#define TORRENT_ASK 3                  /* neighbours asked who seeds an info hash */
#define TORRENT_FEED_MS 2000           /* table seeders handed to downloading torrents */
#define TORRENT_MAX_FEED 64            /* seeders handed to one torrent at once */

/*
 * The peer-wire addresses of the seeders the table knows for info_hash:
 * broadcasting peers with a torrent port, one address each (their first).
 * Our own record is not in the table. Returns how many went into out.
 */
static size_t
table_seeders(struct pa_agent *a, const char *info_hash, struct tr_peer_addr *out, size_t max)
{
	struct peertable_seeder s[TORRENT_MAX_FEED];
	size_t n = 0, found;

	found = peertable_torrent_seeders(a->table, info_hash, agent_now_ms(), s,
					  max < TORRENT_MAX_FEED ? max : TORRENT_MAX_FEED);
	for (size_t i = 0; i < found; i++) {
		const struct cm_peer_record *r = &s[i].entry->rec.record;

		/* Silent seeders come last and carry no address: reachable only through a relay. */
		if (!r->is_broadcasting || r->torrent_port <= 0 || r->socket_addresses.len == 0)
			break;
		snprintf(out[n].ip, sizeof(out[n].ip), "%s", r->socket_addresses.items[0]);
		out[n].port = r->torrent_port;
		n++;
	}
	return n;
}

static void
feed(struct pa_agent *a, const char *info_hash)
{
	struct tr_peer_addr peers[TORRENT_MAX_FEED];
	size_t n = table_seeders(a, info_hash, peers, TORRENT_MAX_FEED);

	if (n > 0)
		tr_client_add_peers(a->torrents, info_hash, peers, n);
	agent_relay_torrent(a, info_hash);
}

static void
hook_want_peers(void *ctx, const char info_hash[TR_HEX_LEN + 1])
{
	struct pa_agent *a = ctx;
	char id[CM_UUID_TEXT_LEN + 1];

	feed(a, info_hash);
	/* Answers land in the table; the feed timer hands them over. */
	engine_ask_torrent(a->engine, info_hash, TORRENT_ASK, agent_now_ms(), &a->rng, id,
			   &a->acts);
	agent_run_actions(a);
}

static void
hook_seeding_changed(void *ctx)
{
	struct pa_agent *a = ctx;

	agent_update_self(a);
	agent_run_actions(a);
}

static size_t
hook_gossip_seeders(void *ctx, const char info_hash[TR_HEX_LEN + 1], struct tr_peer_addr *out,
		    size_t max)
{
	return table_seeders(ctx, info_hash, out, max);
}

static const struct tr_hooks hooks = {hook_want_peers, hook_seeding_changed,
				      hook_gossip_seeders};

static void
feed_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pa_agent *a = arg;
	struct tr_status *list = NULL;
	size_t n;

	(void)fd;
	(void)what;
	n = tr_client_list(a->torrents, &list);
	for (size_t i = 0; i < n; i++) {
		if (list[i].state == TR_DOWNLOADING)
			feed(a, list[i].info_hash);
		tr_status_clear(&list[i]);
	}
	free(list);
	agent_arm(a->torrent_ev, TORRENT_FEED_MS);
}

int
agent_torrent_start(struct pa_agent *a)
{
	const struct pa_config *cfg = a->cfg;
	struct tr_config tc;

	tr_config_defaults(&tc);
	tc.state_dir = cfg->torrent_dir;
	tc.bind_ip = cfg->bind;
	tc.silent = !a->broadcasting;
	if (a->broadcasting) {
		tc.listen_host = cfg->torrent_listen_host;
		tc.listen_port = cfg->torrent_listen_port;
		tc.http_host = cfg->torrent_http_host;
		tc.http_port = cfg->torrent_http_port;
		/* Peers dial what we advertise; a wildcard listener is not an address. */
		tc.public_host = a->advertise.len > 0 ? a->advertise.items[0] : NULL;
	}
	tc.max_torrents = cfg->torrent_max_torrents;
	tc.max_peers_per_torrent = cfg->torrent_max_peers;
	tc.max_connections = cfg->torrent_max_connections;
	tc.max_per_address = cfg->torrent_max_per_address;
	tc.unchoke_slots = cfg->torrent_unchoke_slots;
	tc.max_torrent_bytes = cfg->torrent_max_size;
	tc.max_upload_rate = cfg->torrent_max_upload_rate;
	tc.max_download_rate = cfg->torrent_max_download_rate;
	if ((a->torrents = tr_client_new(a->base, &tc, &hooks, a)) == NULL)
		return -1;
	if (a->torrent_ev == NULL && (a->torrent_ev = evtimer_new(a->base, feed_cb, a)) == NULL)
		return -1;
	agent_arm(a->torrent_ev, TORRENT_FEED_MS);
	if (tr_client_listen_port(a->torrents) > 0)
		log_info("torrents: peer wire on %s port %d, HTTP (web seeds, tracker) on port %d",
			 cfg->torrent_listen_host, tr_client_listen_port(a->torrents),
			 tr_client_http_port(a->torrents));
	return 0;
}

void
agent_torrent_stop(struct pa_agent *a)
{
	tr_client_free(a->torrents);
	a->torrents = NULL;
	if (a->torrent_ev != NULL)
		evtimer_del(a->torrent_ev);
}

int
agent_torrent_restart(struct pa_agent *a)
{
	agent_torrent_stop(a);
	return agent_torrent_start(a);
}

void
agent_torrent_self(struct pa_agent *a, struct cm_peer_record *r)
{
	struct tr_seeded *seeded;
	size_t n;

	if (a->torrents == NULL || (seeded = calloc(CM_MAX_TORRENTS, sizeof(*seeded))) == NULL)
		return;
	n = tr_client_seeding(a->torrents, seeded, CM_MAX_TORRENTS);
	for (size_t i = 0; i < n; i++)
		cm_torrentlist_append(&r->torrents, seeded[i].info_hash, seeded[i].name,
				      (int64_t)seeded[i].size, seeded[i].sha256);
	free(seeded);
	if (a->broadcasting && tr_client_listen_port(a->torrents) > 0)
		r->torrent_port = tr_client_listen_port(a->torrents);
}
