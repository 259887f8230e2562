/*
 * bootclient.h - the agent's client of the bootstrap servers' REST API.
 *
 * Requests go through net/httpclient.h (libcurl multi on the agent's
 * libevent loop): no call here blocks. Every request uses mutual TLS with
 * the agent's identity and checks the server against the CA file. Requests
 * go to the current URL; a transport
 * error, a timeout or a 5xx answer moves on to the next URL (failover) before
 * the callback sees a failure, so one call tries each URL at most once.
 * Answers are bounded (CM_MAX_BODY for objects; lists up to
 * CM_MAX_BOOTSTRAP_PEERS entries and 1 MiB).
 */
#ifndef PA_BOOTCLIENT_H
#define PA_BOOTCLIENT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "fb/types.h"

struct event_base;
struct bc_client;

struct bc_config {
	const char *const *urls; /* base URLs, e.g. "https://127.0.0.1:8443" (copied) */
	size_t nurls;
	const char *ca_file;   /* verifies the servers */
	const char *cert_file; /* our client certificate */
	const char *key_file;
	const char *bind_ip;   /* source address of our connections ([gossip] bind), or NULL */
	int64_t timeout_ms;    /* per attempt (10 s) */
};

/*
 * The outcome of one call. http_status is the final answer's status, or 0
 * when no server could be reached. body is the parsed JSON answer (borrowed:
 * valid during the callback only; NULL when there was none or it was not
 * JSON). url is the base URL that answered (or was tried last). err is a
 * human-readable reason when http_status is 0 or >= 400.
 */
struct bc_result {
	long http_status;
	json_t *body;
	const char *url;
	const char *err;
	int64_t elapsed_ms;
};

typedef void (*bc_done_fn)(const struct bc_result *r, void *arg);

/* NULL on failure (logged). */
struct bc_client *bc_new(struct event_base *base, const struct bc_config *cfg);
/* Cancels pending calls without running their callbacks. */
void bc_free(struct bc_client *c);

/* Calls in flight. */
size_t bc_pending(const struct bc_client *c);

/* Each returns 0 when the call was started (done, when not NULL, runs later, exactly once) or -1. */
int bc_register(struct bc_client *c, const struct cm_register_request *req, bc_done_fn done,
		void *arg);
int bc_heartbeat(struct bc_client *c, const char *email, bc_done_fn done, void *arg);
int bc_unregister(struct bc_client *c, const char *email, bc_done_fn done, void *arg);
int bc_peers(struct bc_client *c, int limit, bc_done_fn done, void *arg);
int bc_discover(struct bc_client *c, const struct cm_strlist *repos, int limit, bc_done_fn done,
		void *arg);
int bc_feedback(struct bc_client *c, const char *email, int64_t latency_ms, bc_done_fn done,
		void *arg);
/* The legacy relay lookup: GET /api/relay/broadcast/lookup?email= */
int bc_relay_lookup(struct bc_client *c, const char *email, bc_done_fn done, void *arg);

#endif
