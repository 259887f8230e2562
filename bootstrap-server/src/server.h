/*
 * server.h - the bootstrap server: the HTTPS front (libmicrohttpd + GnuTLS),
 * routing, client identity, and the shared state the routes use.
 */
#ifndef BS_SERVER_H
#define BS_SERVER_H

#include <jansson.h>
#include <microhttpd.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "batcher.h"
#include "config.h"
#include "fb/identity.h"
#include "metrics.h"
#include "ratelimit.h"
#include "store.h"

struct bs_server {
	struct bs_config *cfg;
	struct MHD_Daemon *daemon;
	char *pem_cert, *pem_key, *pem_trust; /* MHD reads these for its lifetime */
	struct bs_store_timing timing;
	struct bs_metrics metrics;
	struct bs_ratelimit *ratelimit;         /* per client certificate */
	struct bs_ratelimit *ratelimit_ip;      /* per client address */
	struct bs_ratelimit *ratelimit_net;     /* per IPv6 /48 */
	struct bs_ratelimit *feedback_throttle; /* per reporter and target */
	struct bs_ratelimit *feedback_ip;       /* feedback reports per client address */
	struct bs_conncount *conns;             /* open connections per client address */
	char **whitelist; /* fingerprints from --whitelist; NULL when not set */
	size_t whitelist_len;
	char **admins; /* fingerprints from --admin-fingerprints */
	size_t admins_len;
	struct bs_batcher *batcher; /* heartbeats */
	atomic_int suspended;       /* connections waiting for the batcher */
};

/* One HTTP request as the routes see it. */
struct bs_request {
	struct MHD_Connection *conn;
	char addr[BS_ADDR_KEY_LEN]; /* the client's address key (bs_addr_key) */
	const char *method;
	const char *path;
	const char *content_type;
	char *body; /* NUL-terminated; NULL when none */
	size_t body_len;
	bool body_too_large;
	struct cm_cert *cert;    /* the client certificate; NULL without one (the connection's) */
	struct cm_cert *owned_cert; /* set when cert belongs to this request alone */
	const char *cert_email;  /* from cert; NULL when none or not an email */
	const char *fingerprint; /* from cert */
	bool cert_trusted;       /* CA mode: chains to --client-ca; pinning mode: true */
	struct bs_batcher_job *job; /* room for a heartbeat handed to the batcher */
};

/* What a route answers: a JSON body (owned) or a text body, with headers. */
struct bs_reply {
	int status;
	json_t *json;
	char *text; /* owned; used when json is NULL */
	const char *content_type;
	const char *allow;  /* Allow header for 405 */
	char allow_buf[64];
	int retry_after_s;  /* > 0: Retry-After header */
	bool close;         /* Connection: close */
	bool refusal;       /* logged by bs_server_refused: no line per request */
	bool deprecation;   /* legacy endpoints */
	bool deferred;      /* req->job is filled: the batcher answers */
	const char *route;  /* metrics label */
};

/* Sets an error reply {"error": message, "code": code}. */
void bs_reply_error(struct bs_reply *r, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * Counts a refusal in the metrics and logs it, at most once per
 * BS_REFUSAL_LOG_INTERVAL_MS per reason (the line says how many it stands for).
 */
void bs_server_refused(struct bs_server *s, enum bs_refusal r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The database connection of the calling thread (created on first use). */
struct bs_store *bs_server_store(struct bs_server *s);

/* Dispatches a complete request (routes.c). */
void bs_route(struct bs_server *s, struct bs_request *req, struct bs_reply *rep);

/* The reply to a heartbeat the batcher has run (routes.c). */
void bs_route_heartbeat_done(struct bs_server *s, const struct bs_store_heartbeat *hb,
			     struct bs_reply *rep);

/*
 * Reads --whitelist and --admin-fingerprints: one fingerprint a line (64 hex
 * digits, colons allowed), '#' comments and blank lines ignored.
 */
int bs_server_load_lists(struct bs_server *s, const struct bs_config *cfg, struct cm_err *err);

/* Sets up metrics, rate limits and timing from cfg (which s keeps a pointer to). */
int bs_server_init(struct bs_server *s, struct bs_config *cfg);

/* Releases what init and load_lists made; the server must be stopped. */
void bs_server_clear(struct bs_server *s);

/* Starts listening; returns 0 or -1 with err set. */
int bs_server_start(struct bs_server *s, struct cm_err *err);
void bs_server_stop(struct bs_server *s);

#endif
