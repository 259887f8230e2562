/*
 * config.c - DIR/agent.ini: the table of its keys, their defaults, the parser
 * and its checks, and the text init writes.
 *
 * One table of keys drives both the parser and the agent.ini that init
 * writes, so the file always lists exactly the keys the parser accepts.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "daemon/config.h"
#include "daemon/config_internal.h"
#include "fb/validate.h"

#define PA_INI_MAX_BYTES (64 * 1024) /* agent.ini */
#define PA_MAX_BOOTSTRAP_URLS 16
#define PA_MAX_URL 2048
#define PA_DAY_S (24 * 3600)
/* inih reads into INI_MAX_LINE bytes and silently splits longer lines: refuse them instead. */
#define PA_INI_MAX_LINE (INI_MAX_LINE - 2)

#define PA_API_DEFAULT_HOST "127.0.0.1"
#define PA_API_DEFAULT_PORT 7080
#define PA_STR(x) PA_STR2(x)
#define PA_STR2(x) #x

enum pa_kind {
	KIND_INT,     /* int in [min, max] */
	KIND_SIZE,    /* size_t in [min, max] */
	KIND_SECONDS, /* int64_t in [min, max] */
	KIND_INT64,   /* int64_t in [min, max] (bytes per second) */
	KIND_BOOL,
	KIND_EMAIL,
	KIND_PATH,      /* empty: the default */
	KIND_IP,        /* empty: none */
	KIND_LISTEN,    /* HOST:PORT; empty: no listener */
	KIND_API,       /* loopback HOST:PORT */
	KIND_URLS,      /* list */
	KIND_ADVERTISE, /* auto, or a list of IPs */
	KIND_REPOS,     /* list */
};

struct pa_key {
	const char *section;
	const char *name;
	enum pa_kind kind;
	size_t offset;
	int64_t min, max;
	const char *def; /* the default as agent.ini shows it; NULL: read from pa_config_default */
	const char *help;
};

#define OFF(field) offsetof(struct pa_config, field)

static const struct pa_key keys[] = {
	{"identity", "email", KIND_EMAIL, OFF(email), 0, 0, NULL,
	 "The email this agent's certificate names."},
	{"identity", "cert", KIND_PATH, OFF(cert_file), 0, 0, "identity.crt",
	 "Certificate (PEM) shown to bootstrap servers and peers."},
	{"identity", "key", KIND_PATH, OFF(key_file), 0, 0, "identity.key",
	 "Private key (PEM, unencrypted: keep it 0600)."},
	{"bootstrap", "urls", KIND_URLS, 0, 0, 0, "",
	 "Bootstrap servers, https URLs (empty: gossip only)."},
	{"bootstrap", "ca", KIND_PATH, OFF(bootstrap_ca), 0, 0, "",
	 "CA (PEM) the servers' certificates chain to (empty: the system's trust store)."},
	{"gossip", "listen", KIND_LISTEN, 0, 0, 0, "",
	 "HOST:PORT or [IPv6]:PORT to accept gossip on (empty: no listener; needed to broadcast)."},
	{"gossip", "advertise", KIND_ADVERTISE, 0, 0, 0, "auto",
	 "IPs peers should dial, or auto (this host's non-loopback addresses); port from listen."},
	{"gossip", "broadcasting", KIND_BOOL, OFF(broadcasting), 0, 0, NULL,
	 "Announce our addresses so that peers connect to us (true/false)."},
	{"gossip", "bind", KIND_IP, OFF(bind), 0, 0, "",
	 "Source IP for outgoing connections (empty: the system's choice)."},
	{"gossip", "neighbours", KIND_INT, OFF(neighbours), 1, 256, NULL,
	 "Peers to keep a direct session with."},
	{"gossip", "fanout", KIND_INT, OFF(fanout), 1, 64, NULL,
	 "Neighbours each new message is passed on to."},
	{"gossip", "ttl", KIND_INT, OFF(ttl), 1, CM_MAX_TTL, NULL,
	 "Hops our own announcements may travel."},
	{"gossip", "max_peers", KIND_INT, OFF(max_peers), 1, CM_MAX_MAX_PEERS, NULL,
	 "Sessions accepted in all, at least neighbours (default: twice neighbours)."},
	{"gossip", "dial_slots", KIND_INT, OFF(dial_slots), 0, 256, NULL,
	 "Sessions of max_peers kept for peers we dial: inbound ones never take them, and we dial "
	 "until this many are ours (at most neighbours; default: half of neighbours)."},
	{"gossip", "max_per_address", KIND_INT, OFF(max_per_address), 1, CM_MAX_MAX_PEERS, NULL,
	 "Inbound sessions from one IPv4 address or IPv6 /64 at once."},
	{"gossip", "max_unauthenticated", KIND_INT, OFF(max_unauthenticated), 1, CM_MAX_MAX_PEERS,
	 NULL, "Inbound sessions still before their hello; a newcomer pushes out the youngest of "
	 "the address holding the most."},
	{"gossip", "accept_rate", KIND_INT, OFF(accept_rate), 1, 1000, NULL,
	 "Inbound connections accepted per second from one IPv4 address or IPv6 /64."},
	{"gossip", "accept_burst", KIND_INT, OFF(accept_burst), 1, 10000, NULL,
	 "Inbound connections accepted at once from one address before accept_rate applies."},
	{"gossip", "send_queue_max", KIND_SIZE, OFF(send_queue_max), 2 * CM_MAX_FRAME,
	 256 * 1024 * 1024, NULL,
	 "Bytes a peer may leave unread before its session is closed."},
	{"gossip", "table_max", KIND_SIZE, OFF(table_max), 1, 1000000, NULL,
	 "Peers remembered at most; the worst scored go first."},
	{"gossip", "table_max_bytes", KIND_SIZE, OFF(table_max_bytes), 1 << 20, 1LL << 40, NULL,
	 "Bytes of peer records remembered at most (estimated); the worst scored go first."},
	{"torrent", "listen", KIND_LISTEN, OFF(torrent_listen_host), 0, 0, "",
	 "HOST:PORT to accept BitTorrent peer-wire connections on (empty: none). Only a "
	 "broadcasting agent listens; a silent one downloads by dialling out."},
	{"torrent", "http_listen", KIND_LISTEN, OFF(torrent_http_host), 0, 0, "",
	 "HOST:PORT serving our torrents as web seeds and a tracker at /announce (empty: none; "
	 "broadcasting agents only)."},
	{"torrent", "dir", KIND_PATH, OFF(torrent_dir), 0, 0, "torrents",
	 "Where the torrents' state is kept (.torrent files, what to resume)."},
	{"torrent", "max_torrents", KIND_INT, OFF(torrent_max_torrents), 1, 100000, NULL,
	 "Torrents seeded and downloaded at once."},
	{"torrent", "max_peers", KIND_INT, OFF(torrent_max_peers), 1, 10000, NULL,
	 "Peer-wire sessions of one torrent."},
	{"torrent", "max_connections", KIND_INT, OFF(torrent_max_connections), 1, 100000, NULL,
	 "Peer-wire sessions in all."},
	{"torrent", "max_per_address", KIND_INT, OFF(torrent_max_per_address), 1, 10000, NULL,
	 "Peer-wire and HTTP connections with one IP address."},
	{"torrent", "unchoke_slots", KIND_INT, OFF(torrent_unchoke_slots), 1, 1000, NULL,
	 "Peers we upload to at once, besides one optimistic unchoke."},
	{"torrent", "max_upload_rate", KIND_INT64, OFF(torrent_max_upload_rate), 0,
	 1LL << 40, NULL, "Bytes per second sent to peers and web-seed clients in all (0: no limit)."},
	{"torrent", "max_download_rate", KIND_INT64, OFF(torrent_max_download_rate), 0,
	 1LL << 40, NULL, "Bytes per second received in all (0: no limit)."},
	{"torrent", "max_size", KIND_SIZE, OFF(torrent_max_size), 1, 1LL << 50, NULL,
	 "Bytes of one torrent's content; a larger one is refused before anything is written."},
	{"relay", "serve", KIND_BOOL, OFF(relay_serve), 0, 0, NULL,
	 "While broadcasting, relay for silent peers that reserve a slot here (true/false)."},
	{"relay", "listen", KIND_LISTEN, OFF(relay_listen_host), 0, 0, "",
	 "HOST:PORT of the relay (empty: the gossip listen host, any free port)."},
	{"relay", "use", KIND_BOOL, OFF(relay_use), 0, 0, NULL,
	 "While silent, reserve slots on relays among our neighbours, so that peers can reach us "
	 "(true/false)."},
	{"relay", "reservations", KIND_INT, OFF(relay_reservations), 1, CM_MAX_RELAYS, NULL,
	 "Relays a silent agent reserves a slot on."},
	{"relay", "max_relayed", KIND_INT, OFF(relay_max_relayed), 0, 64, NULL,
	 "Gossip sessions through relays with silent peers that host one of our repositories."},
	{"relay", "max_reservations", KIND_SIZE, OFF(relay_max_reservations), 0, 100000, NULL,
	 "Reservations this relay grants at once."},
	{"relay", "max_circuits", KIND_SIZE, OFF(relay_max_circuits), 0, 100000, NULL,
	 "Circuits this relay carries at once, joined or waiting."},
	{"relay", "max_circuits_per_peer", KIND_SIZE, OFF(relay_max_circuits_per_peer), 1, 100000,
	 NULL, "Circuits at once with one email at either end."},
	{"relay", "max_per_address", KIND_SIZE, OFF(relay_max_per_address), 1, 100000, NULL,
	 "Connections to the relay at once from one IPv4 address or IPv6 /64."},
	{"relay", "reservation_s", KIND_SECONDS, OFF(relay_reservation_s), 10, PA_DAY_S, NULL,
	 "Seconds a reservation lasts unless its holder renews it (it renews at half)."},
	{"relay", "circuit_lifetime_s", KIND_SECONDS, OFF(relay_circuit_lifetime_s), 1,
	 30 * PA_DAY_S, NULL, "Seconds a circuit may last; then it is closed."},
	{"relay", "max_circuit_bytes", KIND_SIZE, OFF(relay_max_circuit_bytes), 65536,
	 1LL << 50, NULL, "Bytes one circuit may carry, both ways together; then it is closed."},
	{"relay", "circuit_rate", KIND_INT64, OFF(relay_circuit_rate), 0, 1LL << 40, NULL,
	 "Bytes per second one circuit may carry each way (0: no limit)."},
	{"relay", "max_rate", KIND_INT64, OFF(relay_max_rate), 0, 1LL << 40, NULL,
	 "Bytes per second all circuits together may carry (0: no limit)."},
	{"api", "listen", KIND_API, 0, 0, 0, PA_API_DEFAULT_HOST ":" PA_STR(PA_API_DEFAULT_PORT),
	 "HOST:PORT of the control API; loopback only (127.0.0.0/8 or [::1])."},
	{"repositories", "names", KIND_REPOS, 0, 0, 0, "", "Repositories this agent hosts."},
	{"timers", "heartbeat_s", KIND_SECONDS, OFF(heartbeat_s), 1, CM_MAX_HEARTBEAT_INTERVAL_S,
	 NULL, "Seconds between heartbeats to each neighbour (less than stale_s)."},
	{"timers", "stale_s", KIND_SECONDS, OFF(stale_s), 1, 30 * PA_DAY_S, NULL,
	 "A peer not heard of for this many seconds is stale."},
	{"timers", "expire_s", KIND_SECONDS, OFF(expire_s), 1, 30 * PA_DAY_S, NULL,
	 "A peer not heard of for this many seconds is forgotten (more than stale_s)."},
	{"timers", "reannounce_s", KIND_SECONDS, OFF(reannounce_s), 1, PA_DAY_S, NULL,
	 "Seconds between announcements of our own record (less than stale_s / 2)."},
	{"timers", "anti_entropy_s", KIND_SECONDS, OFF(anti_entropy_s), 1, 3600, NULL,
	 "Seconds between anti-entropy rounds with a neighbour."},
	{"timers", "anti_entropy_idle_s", KIND_SECONDS, OFF(anti_entropy_idle_s), 1, 3600, NULL,
	 "Longest seconds between anti-entropy rounds while the table stands still."},
	{"timers", "anti_entropy_sync_s", KIND_SECONDS, OFF(anti_entropy_sync_s), 1, PA_DAY_S, NULL,
	 "Seconds up after which digests ask only for recent records, refreshes bare."},
	{"timers", "bootstrap_heartbeat_s", KIND_SECONDS, OFF(bootstrap_heartbeat_s), 1,
	 CM_MAX_HEARTBEAT_INTERVAL_S, NULL,
	 "Seconds between bootstrap heartbeats (the server's interval wins when shorter)."},
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* "[section] key: message" into err; returns -1 so callers can return it. */
static int __attribute__((format(printf, 3, 4)))
key_err(struct cm_err *err, const struct pa_key *k, const char *fmt, ...)
{
	char detail[CM_ERR_MSG];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	cm_err_set(err, "[%s] %s: %s", k->section, k->name, detail);
	return -1;
}

static const struct pa_key *
key_find(const char *section, const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static bool
section_known(const char *section)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].section, section) == 0)
			return true;
	return false;
}

void
pa_config_default(struct pa_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->advertise_auto = true;
	cfg->neighbours = 8;
	cfg->fanout = 3;
	cfg->ttl = 12;
	cfg->max_peers = 2 * cfg->neighbours;
	cfg->dial_slots = cfg->neighbours / 2;
	cfg->max_per_address = 4;
	cfg->max_unauthenticated = 8;
	cfg->accept_rate = 4;
	cfg->accept_burst = 8;
	cfg->send_queue_max = 1024 * 1024;
	cfg->table_max = 10000;
	cfg->table_max_bytes = 64 * 1024 * 1024;
	cfg->torrent_max_torrents = 64;
	cfg->torrent_max_peers = 50;
	cfg->torrent_max_connections = 200;
	cfg->torrent_max_per_address = 4;
	cfg->torrent_unchoke_slots = 4;
	cfg->torrent_max_size = (size_t)1 << 40;
	cfg->relay_serve = true;
	cfg->relay_use = true;
	cfg->relay_reservations = 2;
	cfg->relay_max_relayed = 2;
	cfg->relay_max_reservations = 128;
	cfg->relay_max_circuits = 64;
	cfg->relay_max_circuits_per_peer = 8;
	cfg->relay_max_per_address = 16;
	cfg->relay_reservation_s = 1800;
	cfg->relay_circuit_lifetime_s = 3600;
	cfg->relay_max_circuit_bytes = (size_t)1 << 30;
	cfg->relay_circuit_rate = 8 << 20;
	cfg->relay_max_rate = 0;
	/* NULL on allocation failure; pa_config_load reports it. */
	cfg->api_host = strdup(PA_API_DEFAULT_HOST);
	cfg->api_port = PA_API_DEFAULT_PORT;
	cfg->heartbeat_s = 30;
	cfg->stale_s = 9000;
	cfg->expire_s = 10800;
	cfg->reannounce_s = 3600;
	cfg->anti_entropy_s = 1;
	cfg->anti_entropy_idle_s = 16;
	cfg->anti_entropy_sync_s = 300;
	cfg->bootstrap_heartbeat_s = 30;
}

void
pa_config_clear(struct pa_config *cfg)
{
	free(cfg->home);
	free(cfg->email);
	free(cfg->cert_file);
	free(cfg->key_file);
	cm_strlist_clear(&cfg->bootstrap_urls);
	free(cfg->bootstrap_ca);
	free(cfg->listen_host);
	cm_strlist_clear(&cfg->advertise);
	free(cfg->bind);
	free(cfg->torrent_listen_host);
	free(cfg->relay_listen_host);
	free(cfg->torrent_http_host);
	free(cfg->torrent_dir);
	free(cfg->api_host);
	cm_repolist_clear(&cfg->repositories);
	memset(cfg, 0, sizeof(*cfg));
}

/* A whole decimal integer; overflow saturates so that the range check refuses it. */
static int
parse_int64(const char *s, int64_t *out)
{
	char *end;

	*out = strtoll(s, &end, 10);
	return end == s || *end != '\0' ? -1 : 0;
}

static int
set_number(struct pa_config *cfg, const struct pa_key *k, const char *value,
	   struct cm_err *err)
{
	void *slot = (char *)cfg + k->offset;
	int64_t v;

	if (parse_int64(value, &v) != 0)
		return key_err(err, k, "not a number");
	if (v < k->min || v > k->max)
		return key_err(err, k, "%s out of range %lld..%lld", value, (long long)k->min,
			       (long long)k->max);
	if (k->kind == KIND_INT)
		*(int *)slot = (int)v;
	else if (k->kind == KIND_SIZE)
		*(size_t *)slot = (size_t)v;
	else
		*(int64_t *)slot = v;
	return 0;
}

static int
set_bool(struct pa_config *cfg, const struct pa_key *k, const char *value, struct cm_err *err)
{
	bool *slot = (bool *)((char *)cfg + k->offset);

	if (strcasecmp(value, "true") == 0 || strcasecmp(value, "yes") == 0 ||
	    strcmp(value, "1") == 0)
		*slot = true;
	else if (strcasecmp(value, "false") == 0 || strcasecmp(value, "no") == 0 ||
		 strcmp(value, "0") == 0)
		*slot = false;
	else
		return key_err(err, k, "not a boolean (true or false)");
	return 0;
}

/* Replaces *slot with a copy of value; an empty value leaves it unset (NULL). */
static int
set_string(char **slot, const struct pa_key *k, const char *value, struct cm_err *err)
{
	char *copy = NULL;

	if (*value != '\0' && (copy = strdup(value)) == NULL)
		return key_err(err, k, "out of memory");
	free(*slot);
	*slot = copy;
	return 0;
}

static bool
is_loopback(const char *ip)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (inet_pton(AF_INET, ip, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	return inet_pton(AF_INET6, ip, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

/* HOST:PORT or [IPv6]:PORT with an IP literal: the agent binds, it does not resolve. */
static int
split_hostport(const struct pa_key *k, const char *value, char host[CM_MAX_ADDRESS + 1],
	       int *port, struct cm_err *err)
{
	const char *colon = strrchr(value, ':');
	const char *h = value;
	size_t hlen;
	int64_t p;

	if (colon == NULL)
		return key_err(err, k, "expected HOST:PORT or [IPv6]:PORT, got '%s'", value);
	hlen = (size_t)(colon - value);
	if (*h == '[') {
		if (hlen < 2 || h[hlen - 1] != ']')
			return key_err(err, k, "expected HOST:PORT or [IPv6]:PORT, got '%s'",
				       value);
		h++;
		hlen -= 2;
	} else if (memchr(h, ':', hlen) != NULL) {
		return key_err(err, k, "an IPv6 address needs brackets: [IPv6]:PORT");
	}
	if (hlen == 0 || hlen > CM_MAX_ADDRESS)
		return key_err(err, k, "'%.*s' is not an IP address", (int)hlen, h);
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (parse_int64(colon + 1, &p) != 0 || !cm_valid_port(p))
		return key_err(err, k, "port '%s' is not a number in 1..65535", colon + 1);
	*port = (int)p;
	return 0;
}

/* Where a HOST:PORT key keeps its host and its port. */
static void
listen_slots(struct pa_config *cfg, const struct pa_key *k, char ***host, int **port)
{
	if (k->kind == KIND_API) {
		*host = &cfg->api_host;
		*port = &cfg->api_port;
	} else if (k->offset == OFF(torrent_listen_host)) {
		*host = &cfg->torrent_listen_host;
		*port = &cfg->torrent_listen_port;
	} else if (k->offset == OFF(relay_listen_host)) {
		*host = &cfg->relay_listen_host;
		*port = &cfg->relay_listen_port;
	} else if (k->offset == OFF(torrent_http_host)) {
		*host = &cfg->torrent_http_host;
		*port = &cfg->torrent_http_port;
	} else {
		*host = &cfg->listen_host;
		*port = &cfg->listen_port;
	}
}

static int
set_listen(struct pa_config *cfg, const struct pa_key *k, const char *value,
	   struct cm_err *err)
{
	bool api = k->kind == KIND_API;
	char **host_slot;
	int *port_slot;
	char host[CM_MAX_ADDRESS + 1];
	int port = 0;

	listen_slots(cfg, k, &host_slot, &port_slot);
	if (!api && *value == '\0') {
		free(*host_slot);
		*host_slot = NULL;
		*port_slot = 0;
		return 0;
	}
	if (split_hostport(k, value, host, &port, err) != 0)
		return -1;
	/* The control API trusts a bearer token sent in clear: it must never leave the host. */
	if (api && !is_loopback(host))
		return key_err(err, k, "'%s' is not a loopback address (127.0.0.0/8 or ::1)",
			       host);
	/* 0.0.0.0 and :: listen on every address, though no peer may advertise them. */
	if (!api && strcmp(host, "0.0.0.0") != 0 && strcmp(host, "::") != 0 &&
	    !cm_valid_ip(host, strlen(host)))
		return key_err(err, k, "'%s' is not an IP address", host);
	if (set_string(host_slot, k, host, err) != 0)
		return -1;
	*port_slot = port;
	return 0;
}

static bool
strlist_has(const struct cm_strlist *l, const char *s)
{
	for (size_t i = 0; i < l->len; i++)
		if (strcmp(l->items[i], s) == 0)
			return true;
	return false;
}

/* Scheme, a host, and nothing a header or a shell would split on. */
static bool
valid_https_url(const char *s)
{
	size_t len = strlen(s);

	if (len > PA_MAX_URL || strncasecmp(s, "https://", 8) != 0 || s[8] == '\0' ||
	    s[8] == '/')
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

static int
add_url(struct pa_config *cfg, const struct pa_key *k, const char *item, struct cm_err *err)
{
	if (!valid_https_url(item))
		return key_err(err, k, "'%s' is not an https URL", item);
	if (cfg->bootstrap_urls.len >= PA_MAX_BOOTSTRAP_URLS)
		return key_err(err, k, "more than %d URLs", PA_MAX_BOOTSTRAP_URLS);
	if (cm_strlist_append(&cfg->bootstrap_urls, item) != 0)
		return key_err(err, k, "out of memory");
	return 0;
}

static int
add_advertise(struct pa_config *cfg, const struct pa_key *k, const char *item,
	      struct cm_err *err)
{
	if (strcmp(item, "auto") == 0)
		return key_err(err, k, "auto cannot be mixed with addresses");
	if (!cm_valid_ip(item, strlen(item)))
		return key_err(err, k, "'%s' is not an IP address", item);
	if (strlist_has(&cfg->advertise, item))
		return key_err(err, k, "'%s' listed twice", item);
	if (cfg->advertise.len >= CM_MAX_SOCKET_ADDRESSES)
		return key_err(err, k, "more than %d addresses", CM_MAX_SOCKET_ADDRESSES);
	if (cm_strlist_append(&cfg->advertise, item) != 0)
		return key_err(err, k, "out of memory");
	cfg->advertise_auto = false;
	return 0;
}

static int
add_repo(struct pa_config *cfg, const struct pa_key *k, const char *item, struct cm_err *err)
{
	if (!cm_valid_repo_name(item, strlen(item)))
		return key_err(err, k, "'%s' is not a valid repository name", item);
	for (size_t i = 0; i < cfg->repositories.len; i++)
		if (strcmp(cfg->repositories.items[i].name, item) == 0)
			return key_err(err, k, "'%s' listed twice", item);
	if (cfg->repositories.len >= CM_MAX_REPOSITORIES)
		return key_err(err, k, "more than %d repositories", CM_MAX_REPOSITORIES);
	if (cm_repolist_append(&cfg->repositories, item, NULL) != 0)
		return key_err(err, k, "out of memory");
	return 0;
}

typedef int (*item_fn)(struct pa_config *, const struct pa_key *, const char *, struct cm_err *);

/*
 * Calls add() on every comma-separated item of value, trimmed. Empty items are
 * skipped so that a list may end with a comma and go on in a continuation line.
 */
static int
list_foreach(struct pa_config *cfg, const struct pa_key *k, const char *value, item_fn add,
	     struct cm_err *err)
{
	char item[INI_MAX_LINE];

	while (*value != '\0') {
		size_t len = strcspn(value, ",");
		const char *s = value, *e = value + len;

		value = *e == ',' ? e + 1 : e;
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (s == e)
			continue;
		if ((size_t)(e - s) >= sizeof(item))
			return key_err(err, k, "item longer than %zu bytes", sizeof(item) - 1);
		memcpy(item, s, (size_t)(e - s));
		item[e - s] = '\0';
		if (add(cfg, k, item, err) != 0)
			return -1;
	}
	return 0;
}

static int
key_set(struct pa_config *cfg, const struct pa_key *k, const char *value, struct cm_err *err)
{
	char **str_slot = (char **)((char *)cfg + k->offset);

	switch (k->kind) {
	case KIND_INT:
	case KIND_SIZE:
	case KIND_SECONDS:
	case KIND_INT64:
		return set_number(cfg, k, value, err);
	case KIND_BOOL:
		return set_bool(cfg, k, value, err);
	case KIND_EMAIL:
		if (!cm_valid_email(value, strlen(value)))
			return key_err(err, k, "'%s' is not a valid email address", value);
		return set_string(str_slot, k, value, err);
	case KIND_PATH:
		return set_string(str_slot, k, value, err);
	case KIND_IP:
		if (*value != '\0' && !cm_valid_ip(value, strlen(value)))
			return key_err(err, k, "'%s' is not an IP address", value);
		return set_string(str_slot, k, value, err);
	case KIND_LISTEN:
	case KIND_API:
		return set_listen(cfg, k, value, err);
	case KIND_URLS:
		return list_foreach(cfg, k, value, add_url, err);
	case KIND_ADVERTISE:
		if (strcmp(value, "auto") == 0) {
			if (cfg->advertise.len > 0)
				return key_err(err, k, "auto cannot be mixed with addresses");
			return 0;
		}
		if (*value == '\0')
			return key_err(err, k, "expected auto or IP addresses");
		return list_foreach(cfg, k, value, add_advertise, err);
	case KIND_REPOS:
		return list_foreach(cfg, k, value, add_repo, err);
	}
	return key_err(err, k, "unhandled kind");
}

struct ini_ctx {
	struct pa_config *cfg;
	struct cm_err *err;
	bool failed;
	bool seen[NKEYS];
};

static bool
kind_is_list(enum pa_kind kind)
{
	return kind == KIND_URLS || kind == KIND_ADVERTISE || kind == KIND_REPOS;
}

/* inih's callback: 1 to go on, 0 to mark the line bad. Only the first error is kept. */
static int
config_ini_line(void *user, const char *section, const char *name, const char *value)
{
	struct ini_ctx *x = user;
	const struct pa_key *k;

	if (x->failed)
		return 0;
	if (*section == '\0') {
		cm_err_set(x->err, "%s: key outside any section", name);
	} else if (!section_known(section)) {
		cm_err_set(x->err, "[%s]: unknown section", section);
	} else if ((k = key_find(section, name)) == NULL) {
		cm_err_set(x->err, "[%s] %s: unknown key", section, name);
	} else if (x->seen[k - keys] && !kind_is_list(k->kind)) {
		/* A list may repeat (or continue on an indented line): its items add up. */
		key_err(x->err, k, "set twice");
	} else if (key_set(x->cfg, k, value, x->err) == 0) {
		x->seen[k - keys] = true;
		return 1;
	}
	x->failed = true;
	return 0;
}

static int
check_line_lengths(const char *path, const char *text, struct cm_err *err)
{
	int line = 1;

	while (*text != '\0') {
		size_t len = strcspn(text, "\n");

		if (len > PA_INI_MAX_LINE) {
			cm_err_set(err,
				   "%s line %d: longer than %d bytes (lists may continue on the next "
				   "line)",
				   path, line, PA_INI_MAX_LINE);
			return -1;
		}
		text += len;
		if (*text == '\n')
			text++;
		line++;
	}
	return 0;
}

/* Makes *slot (or default_name when unset) absolute under home and checks it is readable. */
static int
resolve_file(const char *home, char **slot, const char *default_name, const struct pa_key *k,
	     struct cm_err *err)
{
	const char *rel = *slot != NULL ? *slot : default_name;
	char *abs = rel[0] == '/' ? strdup(rel) : pa_config_path(home, rel);

	if (abs == NULL)
		return key_err(err, k, "out of memory");
	free(*slot);
	*slot = abs;
	if (access(abs, R_OK) != 0)
		return key_err(err, k, "cannot read '%s': %s", abs, strerror(errno));
	return 0;
}

/* The checks that span keys, once the whole file is in. */
static int
config_finish(struct pa_config *cfg, const bool seen[NKEYS], struct cm_err *err)
{
	const struct pa_key *max_peers = key_find("gossip", "max_peers");
	const struct pa_key *dial_slots = key_find("gossip", "dial_slots");

	if (cfg->api_host == NULL) {
		cm_err_set(err, "out of memory");
		return -1;
	}
	if (cfg->email == NULL)
		return key_err(err, key_find("identity", "email"), "missing");
	if (resolve_file(cfg->home, &cfg->cert_file, "identity.crt", key_find("identity", "cert"),
			 err) != 0 ||
	    resolve_file(cfg->home, &cfg->key_file, "identity.key", key_find("identity", "key"),
			 err) != 0 ||
	    (cfg->bootstrap_ca != NULL &&
	     resolve_file(cfg->home, &cfg->bootstrap_ca, NULL, key_find("bootstrap", "ca"), err) !=
		     0))
		return -1;
	{
		const char *rel = cfg->torrent_dir != NULL ? cfg->torrent_dir : "torrents";
		char *abs = rel[0] == '/' ? strdup(rel) : pa_config_path(cfg->home, rel);

		if (abs == NULL)
			return key_err(err, key_find("torrent", "dir"), "out of memory");
		free(cfg->torrent_dir);
		cfg->torrent_dir = abs;
	}
	if (cfg->broadcasting && cfg->listen_host == NULL)
		return key_err(err, key_find("gossip", "listen"),
			       "required when broadcasting = true");
	/*
	 * Room for newcomers: when every agent accepts only as many sessions as it
	 * dials, a converged network is full and a joining agent finds no one to
	 * connect to (gossip-sim --churn showed 3 % of joiners left isolated).
	 */
	if (!seen[max_peers - keys])
		cfg->max_peers = 2 * cfg->neighbours;
	else if (cfg->max_peers < cfg->neighbours)
		return key_err(err, max_peers, "%d is less than neighbours (%d)", cfg->max_peers,
			       cfg->neighbours);
	/* An eclipse by inbound sessions leaves these to peers we chose ourselves. */
	if (!seen[dial_slots - keys])
		cfg->dial_slots = cfg->neighbours / 2;
	else if (cfg->dial_slots > cfg->neighbours)
		return key_err(err, dial_slots, "%d is more than neighbours (%d)", cfg->dial_slots,
			       cfg->neighbours);
	if (cfg->dial_slots >= cfg->max_peers)
		return key_err(err, dial_slots, "%d leaves no inbound session of max_peers (%d)",
			       cfg->dial_slots, cfg->max_peers);
	if (cfg->heartbeat_s >= cfg->stale_s)
		return key_err(err, key_find("timers", "heartbeat_s"),
			       "must be less than stale_s (%lld)", (long long)cfg->stale_s);
	if (cfg->expire_s <= cfg->stale_s)
		return key_err(err, key_find("timers", "expire_s"),
			       "must be more than stale_s (%lld)", (long long)cfg->stale_s);
	/* Announce at least twice per stale period, so one lost round never makes us stale. */
	if (2 * cfg->reannounce_s >= cfg->stale_s)
		return key_err(err, key_find("timers", "reannounce_s"),
			       "%lld must be less than stale_s / 2 (stale_s = %lld)",
			       (long long)cfg->reannounce_s, (long long)cfg->stale_s);
	return 0;
}

int
pa_config_load_text(const char *home, const char *name, const char *text, struct pa_config *cfg,
		    struct cm_err *err)
{
	struct ini_ctx x = {.cfg = cfg, .err = err};
	int rc = -1, line;

	pa_config_default(cfg);
	if ((cfg->home = strdup(home)) == NULL) {
		cm_err_set(err, "out of memory");
		goto end;
	}
	if (check_line_lengths(name, text, err) != 0)
		goto end;
	line = ini_parse_string(text, config_ini_line, &x);
	if (x.failed)
		goto end;
	if (line != 0) {
		cm_err_set(err, "%s line %d: expected [section] or key = value", name, line);
		goto end;
	}
	if (config_finish(cfg, x.seen, err) != 0)
		goto end;
	rc = 0;
end:
	if (rc != 0)
		pa_config_clear(cfg);
	return rc;
}

int
pa_config_load(const char *home, struct pa_config *cfg, struct cm_err *err)
{
	char *abs = NULL, *path = NULL, *text = NULL;
	int rc = -1;

	/* Cleared on every failure, as pa_config_load_text leaves it. */
	memset(cfg, 0, sizeof(*cfg));
	if ((abs = realpath(home, NULL)) == NULL) {
		cm_err_set(err, "%s: %s", home, strerror(errno));
		goto end;
	}
	if ((path = pa_config_path(abs, "agent.ini")) == NULL) {
		cm_err_set(err, "out of memory");
		goto end;
	}
	if ((text = pa_config_read_text(path, PA_INI_MAX_BYTES, err)) == NULL)
		goto end;
	rc = pa_config_load_text(abs, path, text, cfg, err);
end:
	free(text);
	free(path);
	free(abs);
	return rc;
}

/* The default of k as agent.ini shows it, from d for numbers and booleans. */
static void
key_default_text(const struct pa_key *k, const struct pa_config *d, char *out, size_t size)
{
	const void *slot = (const char *)d + k->offset;

	switch (k->kind) {
	case KIND_INT:
		snprintf(out, size, "%d", *(const int *)slot);
		break;
	case KIND_SIZE:
		snprintf(out, size, "%zu", *(const size_t *)slot);
		break;
	case KIND_SECONDS:
	case KIND_INT64:
		snprintf(out, size, "%lld", (long long)*(const int64_t *)slot);
		break;
	case KIND_BOOL:
		snprintf(out, size, "%s", *(const bool *)slot ? "true" : "false");
		break;
	default:
		snprintf(out, size, "%s", k->def);
	}
}

char *
pa_config_ini_text(const char *email)
{
	struct pa_config d;
	const char *section = "";
	char *text = NULL, val[64];
	size_t size;
	FILE *f;

	if ((f = open_memstream(&text, &size)) == NULL)
		return NULL;
	pa_config_default(&d);
	fputs("# agent.ini - peer-agent settings. Every key is shown commented out with its\n"
	      "# default: remove the '#' to change it. Lists are comma-separated (a list key\n"
	      "# may repeat: its items add up); relative paths are relative to this directory.\n",
	      f);
	for (size_t i = 0; i < NKEYS; i++) {
		const struct pa_key *k = &keys[i];

		if (strcmp(section, k->section) != 0) {
			section = k->section;
			fprintf(f, "\n[%s]\n", section);
		}
		fprintf(f, "# %s\n", k->help);
		if (k->kind == KIND_EMAIL) {
			fprintf(f, "%s = %s\n", k->name, email);
			continue;
		}
		key_default_text(k, &d, val, sizeof(val));
		fprintf(f, "# %s =%s%s\n", k->name, *val != '\0' ? " " : "", val);
	}
	pa_config_clear(&d);
	if (ferror(f)) {
		fclose(f);
		free(text);
		return NULL;
	}
	fclose(f);
	return text;
}

