/*
 * api_internal.h - what the control API's files share: api.c (the routes,
 * the token, status, peers, discovery), api_torrent.c (the torrents),
 * api_relay.c (the relay status) and api_metrics.c (Prometheus counters).
 */
#ifndef PA_API_INTERNAL_H
#define PA_API_INTERNAL_H

#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "control/api.h"

#define DISCOVER_WAIT_MS 1500 /* gossip answers to a discovery request */
#define DISCOVER_ASK 3        /* neighbours asked */
/*
 * Discoveries and lookups waiting on gossip or a server at once: each one asks
 * the network, so a local client in a loop must not turn into a flood of
 * PEER_REQUESTs and bootstrap requests. Over it: 503.
 */
#define CTL_MAX_PENDING_OPS 32

struct evkeyvalq;
struct op;

struct ctl {
	struct ctl_config cfg;
	char *token;
	char *host; /* the listen address, which the Host header must name */
	const struct ctl_ops *ops;
	void *ctx;
	struct event_base *base;
	struct evhttp *http;
	struct op *ops_pending;
	size_t nops;          /* in ops_pending */
	uint64_t ops_refused; /* answered 503 for CTL_MAX_PENDING_OPS */
};

/* A request answered later: waiting on gossip, a server or the torrent client. */
struct op {
	struct ctl *c;
	struct op *next;
	struct evhttp_request *req;
	struct cm_strlist repos;
	char *email; /* lookup */
	char info_hash[41]; /* torrent search */
	char request_id[CM_UUID_TEXT_LEN + 1];
	int64_t started_ms;
	struct event *timer;
};

/* path_rest: what follows a route ending in '/' ("/api/v1/torrents/<this>"); else "". */
typedef void (*handler_fn)(struct ctl *c, struct evhttp_request *req, struct evkeyvalq *q,
			   const char *path_rest);

int64_t ctl_now_ms(void);
/* Answers body (a reference taken; NULL: 500) with status. */
void ctl_reply_json(struct evhttp_request *req, int status, json_t *body);
void ctl_reply_error(struct evhttp_request *req, int status, const char *msg, const char *code);
/* The request's JSON body (NULL when empty), or NULL with 400 answered (*failed set). */
json_t *ctl_body_json(struct evhttp_request *req, bool *failed);
/*
 * PeerInfo array of the table entries hosting any of repos (all when none),
 * only those named in only when it is given. NULL when out of memory.
 */
/* info is of a CONNECTED peer whose session runs through a relay: its via (copied). */
void ctl_info_via(struct ctl *c, struct cm_peer_info *info);
json_t *ctl_table_infos(struct ctl *c, const struct cm_strlist *repos, enum cm_peer_source src,
			int64_t found_in_ms, const struct cm_strlist *only);
json_t *ctl_no_infos(void);

/* Pending answers: ctl_ops_full answers 503 itself; ctl_op_finish answers 200 with arr. */
bool ctl_ops_full(struct ctl *c, struct evhttp_request *req);
struct op *ctl_op_new(struct ctl *c, struct evhttp_request *req);
void ctl_op_free(struct op *o);
void ctl_op_finish(struct op *o, json_t *arr);
int64_t ctl_op_elapsed(const struct op *o);

/* api_torrent.c */
void ctl_api_torrents(struct ctl *c, struct evhttp_request *req, struct evkeyvalq *q,
		      const char *path_rest);
void ctl_api_torrent_add(struct ctl *c, struct evhttp_request *req, struct evkeyvalq *q,
			 const char *path_rest);
void ctl_api_torrent_search(struct ctl *c, struct evhttp_request *req, struct evkeyvalq *q,
			    const char *path_rest);
void ctl_api_torrent_get(struct ctl *c, struct evhttp_request *req, struct evkeyvalq *q,
			 const char *path_rest);
void ctl_api_torrent_remove(struct ctl *c, struct evhttp_request *req, struct evkeyvalq *q,
			    const char *path_rest);

/*
 * The gossip counters of st: what the engine did with every frame, how
 * sessions ended, how often each limit bit. out is cleared by the caller
 * (cm_gossip_stats_clear), also on failure. Returns 0 or -1.
 */
int ctl_gossip_stats(const struct ctl_status *st, struct cm_gossip_stats *out);

/* api_relay.c */
void ctl_api_relay(struct ctl *c, struct evhttp_request *req, struct evkeyvalq *q,
		   const char *path_rest);
struct rl_stats;
/* The relay counters of st into d's counter fields (the lists untouched). */
void ctl_relay_counters(const struct rl_stats *st, struct cm_relay_status *d);

/* api_metrics.c */
void ctl_api_metrics(struct ctl *c, struct evhttp_request *req, struct evkeyvalq *q,
		     const char *path_rest);

#endif
