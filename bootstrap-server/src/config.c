/* config.c - bootstrap-server settings: parsing and checking. */
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "fb/log.h"
#include "fb/validate.h"

void
bs_config_init(struct bs_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->listen_host, sizeof(c->listen_host), "127.0.0.1");
	c->listen_port = 8443;
	c->ttl_s = BS_DEFAULT_TTL_S;
	c->stale_after_s = BS_DEFAULT_STALE_AFTER_S;
	c->sweep_interval_s = BS_DEFAULT_SWEEP_INTERVAL_S;
	c->max_conns_per_ip = BS_DEFAULT_MAX_CONNS_PER_IP;
	c->max_connections = BS_DEFAULT_MAX_CONNECTIONS;
	c->conn_timeout_s = BS_DEFAULT_CONN_TIMEOUT_S;
	c->rate_limit = BS_DEFAULT_RATE_LIMIT;
	c->rate_limit_per_ip = BS_DEFAULT_RATE_LIMIT_PER_IP;
	c->rate_limit_per_net = BS_DEFAULT_RATE_LIMIT_PER_NET;
	c->heartbeat_interval_s = BS_DEFAULT_HEARTBEAT_INTERVAL_S;
	c->feedback_window_s = BS_DEFAULT_FEEDBACK_WINDOW_S;
	c->feedback_min_age_s = BS_DEFAULT_FEEDBACK_MIN_AGE_S;
	c->feedback_per_ip = BS_DEFAULT_FEEDBACK_PER_IP;
	c->feedback_vote_age_s = BS_DEFAULT_FEEDBACK_VOTE_AGE_S;
}

void
bs_config_clear(struct bs_config *c)
{
	free(c->config_file);
	free(c->database);
	free(c->cert_file);
	free(c->key_file);
	free(c->client_ca_file);
	free(c->whitelist_file);
	free(c->admin_fingerprints_file);
	free(c->log_level);
	memset(c, 0, sizeof(*c));
}

/* Parses a whole decimal integer in [min, max]. */
static int
parse_int(const char *key, const char *value, int64_t min, int64_t max, int64_t *out,
	  struct cm_err *err)
{
	if (cm_parse_int(value, min, max, out) != 0) {
		cm_err_set(err, "%s: expected an integer in %lld..%lld, got '%s'", key,
			   (long long)min, (long long)max, value);
		return -1;
	}
	return 0;
}

/* HOST:PORT or [V6]:PORT; HOST must be an IP literal (the server binds, it does not resolve). */
static int
parse_listen(struct bs_config *c, const char *value, struct cm_err *err)
{
	const char *colon = strrchr(value, ':');
	char host[64];
	size_t hlen;
	int64_t port;

	if (colon == NULL || colon == value) {
		cm_err_set(err, "listen: expected HOST:PORT, got '%s'", value);
		return -1;
	}
	hlen = (size_t)(colon - value);
	if (value[0] == '[' && hlen >= 2 && value[hlen - 1] == ']') {
		value++;
		hlen -= 2;
	}
	if (hlen >= sizeof(host)) {
		cm_err_set(err, "listen: host too long");
		return -1;
	}
	memcpy(host, value, hlen);
	host[hlen] = '\0';
	/* 0.0.0.0 and :: are fine to bind to, though no peer may advertise them. */
	if (strcmp(host, "0.0.0.0") != 0 && strcmp(host, "::") != 0 && !cm_valid_ip(host, hlen)) {
		cm_err_set(err, "listen: '%s' is not an IP address", host);
		return -1;
	}
	if (parse_int("listen", colon + 1, 1, 65535, &port, err) != 0)
		return -1;
	snprintf(c->listen_host, sizeof(c->listen_host), "%s", host);
	c->listen_port = (int)port;
	return 0;
}

static int
set_string(char **slot, const char *value)
{
	char *d = strdup(value);

	if (d == NULL)
		return -1;
	free(*slot);
	*slot = d;
	return 0;
}

int
bs_config_set(struct bs_config *c, const char *key, const char *value, struct cm_err *err)
{
	static const struct {
		const char *key;
		size_t offset;
		int64_t min, max;
	} ints[] = {
		{"ttl", offsetof(struct bs_config, ttl_s), 10, 7 * 86400},
		{"stale-after", offsetof(struct bs_config, stale_after_s), 1, 7 * 86400},
		{"sweep-interval", offsetof(struct bs_config, sweep_interval_s), 1, 86400},
		{"threads", offsetof(struct bs_config, threads), 1, 1024},
		{"max-conns-per-ip", offsetof(struct bs_config, max_conns_per_ip), 1, 100000},
		{"max-connections", offsetof(struct bs_config, max_connections), 1, 1000000},
		{"conn-timeout", offsetof(struct bs_config, conn_timeout_s), 1, 3600},
		{"rate-limit", offsetof(struct bs_config, rate_limit), 1, 1000000},
		{"rate-limit-per-ip", offsetof(struct bs_config, rate_limit_per_ip), 1, 1000000},
		{"rate-limit-per-net", offsetof(struct bs_config, rate_limit_per_net), 1, 1000000},
		{"heartbeat-interval", offsetof(struct bs_config, heartbeat_interval_s), 1, 86400},
		{"feedback-window", offsetof(struct bs_config, feedback_window_s), 1, 86400},
		{"feedback-min-age", offsetof(struct bs_config, feedback_min_age_s), 0, 7 * 86400},
		{"feedback-per-ip", offsetof(struct bs_config, feedback_per_ip), 1, 1000000},
		{"feedback-vote-age", offsetof(struct bs_config, feedback_vote_age_s), 1, 7 * 86400},
	};
	static const struct {
		const char *key;
		size_t offset;
	} strs[] = {
		{"database", offsetof(struct bs_config, database)},
		{"cert", offsetof(struct bs_config, cert_file)},
		{"key", offsetof(struct bs_config, key_file)},
		{"client-ca", offsetof(struct bs_config, client_ca_file)},
		{"whitelist", offsetof(struct bs_config, whitelist_file)},
		{"admin-fingerprints", offsetof(struct bs_config, admin_fingerprints_file)},
		{"log-level", offsetof(struct bs_config, log_level)},
	};

	if (value == NULL) {
		cm_err_set(err, "%s: missing value", key);
		return -1;
	}
	if (strcmp(key, "listen") == 0)
		return parse_listen(c, value, err);
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
		if (strcmp(key, ints[i].key) == 0)
			return parse_int(key, value, ints[i].min, ints[i].max,
					 (int64_t *)((char *)c + ints[i].offset), err);
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		if (strcmp(key, strs[i].key) != 0)
			continue;
		if (*value == '\0') {
			cm_err_set(err, "%s: empty value", key);
			return -1;
		}
		if (set_string((char **)((char *)c + strs[i].offset), value) != 0) {
			cm_err_set(err, "%s: out of memory", key);
			return -1;
		}
		return 0;
	}
	cm_err_set(err, "unknown setting '%s'", key);
	return -1;
}

int
bs_config_set_file(struct bs_config *c, const char *path, struct cm_err *err)
{
	if (set_string(&c->config_file, path) != 0) {
		cm_err_set(err, "config: out of memory");
		return -1;
	}
	return 0;
}

struct ini_ctx {
	struct bs_config *c;
	struct cm_err *err;
	const char *path;
	bool failed;
};

static int
config_ini_line(void *user, const char *section, const char *name, const char *value)
{
	struct ini_ctx *x = user;
	struct cm_err e;

	if (x->failed)
		return 0;
	if (section[0] != '\0' && strcmp(section, "bootstrap-server") != 0) {
		cm_err_set(x->err, "%s: unknown section [%s]", x->path, section);
		x->failed = true;
		return 0;
	}
	if (bs_config_set(x->c, name, value, &e) != 0) {
		cm_err_set(x->err, "%s: %s", x->path, e.msg);
		x->failed = true;
		return 0;
	}
	return 1;
}

int
bs_config_load_file(struct bs_config *c, const char *path, struct cm_err *err)
{
	struct ini_ctx x = {c, err, path, false};
	int rc = ini_parse(path, config_ini_line, &x);

	if (x.failed)
		return -1;
	if (rc < 0) {
		cm_err_set(err, "%s: cannot open", path);
		return -1;
	}
	if (rc > 0) {
		cm_err_set(err, "%s: line %d: syntax error", path, rc);
		return -1;
	}
	return 0;
}

int
bs_config_load_env(struct bs_config *c, struct cm_err *err)
{
	static const char *env[][2] = {
		{"DATABASE_URL", "database"},  {"BOOTSTRAP_LISTEN", "listen"},
		{"BOOTSTRAP_CERT", "cert"},    {"BOOTSTRAP_KEY", "key"},
		{"BOOTSTRAP_CLIENT_CA", "client-ca"},
	};
	struct cm_err e;

	for (size_t i = 0; i < sizeof(env) / sizeof(env[0]); i++) {
		const char *v = getenv(env[i][0]);
		if (v == NULL || *v == '\0')
			continue;
		if (bs_config_set(c, env[i][1], v, &e) != 0) {
			cm_err_set(err, "%s: %s", env[i][0], e.msg);
			return -1;
		}
	}
	return 0;
}

static int
check_readable(const char *what, const char *path, struct cm_err *err)
{
	if (path != NULL && access(path, R_OK) != 0) {
		cm_err_set(err, "%s: cannot read '%s': %s", what, path, strerror(errno));
		return -1;
	}
	return 0;
}

int
bs_config_finish(struct bs_config *c, long cores, struct cm_err *err)
{
	if (c->cert_file == NULL || c->key_file == NULL) {
		cm_err_set(err, "--cert and --key are required (the server speaks only HTTPS)");
		return -1;
	}
	if (check_readable("cert", c->cert_file, err) != 0 ||
	    check_readable("key", c->key_file, err) != 0 ||
	    check_readable("client-ca", c->client_ca_file, err) != 0 ||
	    check_readable("whitelist", c->whitelist_file, err) != 0 ||
	    check_readable("admin-fingerprints", c->admin_fingerprints_file, err) != 0)
		return -1;
	if (c->stale_after_s >= c->ttl_s) {
		cm_err_set(err, "stale-after (%lld s) must be shorter than ttl (%lld s)",
			   (long long)c->stale_after_s, (long long)c->ttl_s);
		return -1;
	}
	if (c->heartbeat_interval_s >= c->stale_after_s) {
		cm_err_set(err, "heartbeat-interval (%lld s) must be shorter than stale-after (%lld s)",
			   (long long)c->heartbeat_interval_s, (long long)c->stale_after_s);
		return -1;
	}
	if (c->log_level != NULL && log_level_parse(c->log_level) < 0) {
		cm_err_set(err, "log-level: expected debug, info, warn or error");
		return -1;
	}
	if (c->threads == 0)
		c->threads = cores > 0 ? 2 * cores : 2;
	return 0;
}
