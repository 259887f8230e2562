/*
 * api.h - the agent's control API: a local HTTP server on the agent's loop
 * with a route table (method, path, handler) under /api/, a Bearer token on
 * every route and JSON answers; the agent's web page on the other paths
 * (control/ui.h); and for every request a Host that names the server itself.
 *
 * It reads the peer table itself and decides how a discovery falls back (the
 * table, then a gossip request and a short wait, then the bootstrap servers);
 * everything else it asks of the daemon through struct ctl_ops, which the
 * daemon fills.
 */
#ifndef PA_CONTROL_API_H
#define PA_CONTROL_API_H

#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/engine.h"
#include "core/peertable.h"
#include "fb/types.h"
#include "fb/validate.h"
#include "net/transport.h"

struct rl_ctx;
struct tr_client;

/* What GET /api/v1/status shows; pointers stay the daemon's. */
struct ctl_status {
	const char *email;
	const char *peer_id;
	bool broadcasting;
	bool is_bootstrap;
	const char *bootstrap_state; /* "REGISTERED", ... */
	const char *bootstrap_url;   /* "" before any answer */
	bool has_expires;            /* registered: expires_ms is when the server drops us */
	int64_t expires_ms;
	size_t neighbours;
	size_t known_peers;
	int listen_port;
	const struct cm_repolist *repositories; /* ours */
	const struct engine_stats *engine;
	const struct tp_stats *transport;
	const struct peertable_stats *table;
	size_t sessions_open;
};

/* A bootstrap answer: the listing, or NULL when the request failed. */
typedef void (*ctl_list_fn)(void *arg, const struct cm_bootstrap_peerlist *l);

struct ctl_ops {
	void (*status)(void *ctx, struct ctl_status *out);
	/* Starts broadcasting or re-announces; repos (NULL: unchanged) become ours. */
	int (*broadcast_on)(void *ctx, struct cm_repolist *repos); /* -1: no listener */
	void (*broadcast_off)(void *ctx);
	/*
	 * Asks k neighbours, and the peers nearest the repositories' keys, who
	 * hosts repos; returns how many were asked (0: none).
	 */
	int (*gossip_ask)(void *ctx, const struct cm_strlist *repos, int k,
			  char request_id[CM_UUID_TEXT_LEN + 1]);
	/* The emails that answered request_id; the request is forgotten. */
	void (*gossip_take)(void *ctx, const char *request_id, struct cm_strlist *emails);
	/*
	 * Bootstrap requests: 0 when sent (done follows, exactly once), -1 when not
	 * (no server configured, or it could not be sent). relay_lookup's listing
	 * holds the one peer the relay knows.
	 */
	int (*bootstrap_discover)(void *ctx, const struct cm_strlist *repos, ctl_list_fn done,
				  void *arg);
	int (*bootstrap_peers)(void *ctx, ctl_list_fn done, void *arg);
	int (*relay_lookup)(void *ctx, const char *email, ctl_list_fn done, void *arg);
	/* The torrent client (torrent/torrent.h), or NULL when it could not start. */
	struct tr_client *(*torrents)(void *ctx);
	/* Asks k neighbours who seeds info_hash (torrent_search); returns how many were asked. */
	int (*torrent_ask)(void *ctx, const char *info_hash, int k,
			   char request_id[CM_UUID_TEXT_LEN + 1]);
	/* Relayed circuits (relay/relay.h), or NULL when relaying is not running. */
	struct rl_ctx *(*relay)(void *ctx);
	/* The relay carrying our gossip session with email (borrowed), or NULL: none or direct. */
	const char *(*session_via)(void *ctx, const char *email);
};

struct ctl_config {
	const char *host;           /* the listen address, which every Host header must name */
	int port;
	const char *token;          /* the Bearer token every /api/ request must carry */
	const struct peertable *table;
	bool has_bootstrap;         /* bootstrap servers are configured */
};

struct ctl;

/* Listens on host:port. NULL on failure (logged). */
struct ctl *ctl_new(struct event_base *base, const struct ctl_config *c, const struct ctl_ops *ops,
		    void *ctx);

/* Answers what is still pending 503 and stops listening. */
void ctl_free(struct ctl *c);

#endif
