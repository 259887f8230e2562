/*
 * config.h - bootstrap-server settings from defaults, an INI file, the
 * environment and flags (later sources win in that order). Pure apart from
 * reading the INI file and checking that named files are readable.
 */
#ifndef BS_CONFIG_H
#define BS_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "fb/err.h"

#define BS_DEFAULT_LISTEN "127.0.0.1:8443"
#define BS_DEFAULT_TTL_S 3600
#define BS_DEFAULT_STALE_AFTER_S 900
#define BS_DEFAULT_SWEEP_INTERVAL_S 60
/*
 * Per address: a household or office of ~64 agents behind one NAT, each with
 * up to 3 connections (older agents kept libcurl's pool of 2-3), stays under
 * 256; an attacker's connections from one address cost at most 256 x 64 KiB.
 */
#define BS_DEFAULT_MAX_CONNS_PER_IP 256
#define BS_DEFAULT_MAX_CONNECTIONS 4096
#define BS_DEFAULT_CONN_TIMEOUT_S 30
#define BS_DEFAULT_RATE_LIMIT 20 /* requests per second per certificate; burst 5x */
#define BS_RATE_BURST_FACTOR 5
/*
 * Requests per second per client address; burst BS_RATE_BURST_FACTOR x. 64
 * agents heartbeating every 30 s send ~2/s; the burst lets them all register
 * at once after a restart of the NAT or the server.
 */
#define BS_DEFAULT_RATE_LIMIT_PER_IP 50
/*
 * Requests per second per IPv6 /48 (an IPv4 address is limited by
 * rate-limit-per-ip alone); burst BS_RATE_BURST_FACTOR x. A site gets a /48:
 * its /64s share this, so one holder of a /48 cannot take 65,536 buckets.
 */
#define BS_DEFAULT_RATE_LIMIT_PER_NET 200
#define BS_DEFAULT_HEARTBEAT_INTERVAL_S 30
/* Feedback: the window of its limits, the reporter's minimum age, reports per address. */
#define BS_DEFAULT_FEEDBACK_WINDOW_S 300
#define BS_DEFAULT_FEEDBACK_MIN_AGE_S 600
#define BS_DEFAULT_FEEDBACK_PER_IP 1024 /* per window: 64 agents x 16 links */
/* A voter's latest report counts this long: over two of an agent's 6-minute reports. */
#define BS_DEFAULT_FEEDBACK_VOTE_AGE_S 900

struct bs_config {
	char *config_file;
	char listen_host[64];
	int listen_port;
	char *database; /* libpq conninfo; NULL: libpq's own defaults (PG* variables) */
	char *cert_file;
	char *key_file;
	char *client_ca_file; /* NULL: pinning mode */
	char *whitelist_file;
	char *admin_fingerprints_file;
	int64_t ttl_s;
	int64_t stale_after_s;
	int64_t sweep_interval_s;
	int64_t threads; /* 0 until resolved: 2 x cores */
	int64_t max_conns_per_ip;
	int64_t max_connections;
	int64_t conn_timeout_s;
	int64_t rate_limit;
	int64_t rate_limit_per_ip;
	int64_t rate_limit_per_net;
	int64_t heartbeat_interval_s;
	int64_t feedback_window_s;
	int64_t feedback_min_age_s;
	int64_t feedback_per_ip;
	int64_t feedback_vote_age_s;
	char *log_level;
	bool check_config;
};

void bs_config_init(struct bs_config *c);
void bs_config_clear(struct bs_config *c);

/*
 * Sets one setting by its flag name without dashes ("listen", "ttl", ...).
 * Returns 0, or -1 with err naming the key and the problem.
 */
int bs_config_set(struct bs_config *c, const char *key, const char *value, struct cm_err *err);

/* Remembers the --config path (read later by bs_config_load_file). */
int bs_config_set_file(struct bs_config *c, const char *path, struct cm_err *err);

/* Reads KEY = VALUE lines (optionally under [bootstrap-server]) from path. */
int bs_config_load_file(struct bs_config *c, const char *path, struct cm_err *err);

/* DATABASE_URL, BOOTSTRAP_LISTEN, BOOTSTRAP_CERT, BOOTSTRAP_KEY, BOOTSTRAP_CLIENT_CA. */
int bs_config_load_env(struct bs_config *c, struct cm_err *err);

/* Cross-field checks once every source is in; resolves threads. Returns 0 or -1. */
int bs_config_finish(struct bs_config *c, long cores, struct cm_err *err);

#endif
