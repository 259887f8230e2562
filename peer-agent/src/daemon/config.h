/*
 * config.h - the agent's home directory and DIR/agent.ini.
 *
 * DIR holds identity.key (0600), identity.crt, agent.ini, api.token (0600) and
 * peers.json. agent.ini is read with libinih; lists are comma-separated;
 * relative paths are relative to DIR. A bad value is refused with a message
 * that names the section and key.
 *
 * config.c reads and checks agent.ini; home.c creates DIR (init), reads
 * api.token and joins paths under DIR. Errors: 0 or -1 (NULL for the
 * functions returning a string) with the reason in err (NULL allowed).
 */
#ifndef PA_CONFIG_H
#define PA_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fb/err.h"
#include "fb/types.h"

struct pa_config {
	char *home; /* absolute path of DIR */

	/* [identity] */
	char *email;
	char *cert_file; /* default DIR/identity.crt */
	char *key_file;  /* default DIR/identity.key */

	/* [bootstrap] */
	struct cm_strlist bootstrap_urls; /* may be empty: gossip only */
	char *bootstrap_ca;               /* NULL: the system's trust store */

	/* [gossip] */
	bool broadcasting;          /* default false: silent until told otherwise */
	char *listen_host;          /* NULL: no listener (required when broadcasting) */
	int listen_port;
	bool advertise_auto;        /* advertise = auto (default) */
	struct cm_strlist advertise; /* bare IPs when not auto */
	char *bind;                 /* source IP for outgoing connections, or NULL */
	int neighbours;             /* 8 */
	int fanout;                 /* 3 */
	int ttl;                    /* hops of our announcements */
	int max_peers;              /* capabilities.max_peers: sessions accepted (2 x neighbours) */
	int dial_slots;             /* of max_peers, kept for our own dials (neighbours / 2) */
	int max_per_address;        /* inbound sessions per IPv4 address or IPv6 /64 (4) */
	int max_unauthenticated;    /* inbound sessions before their hello (8) */
	int accept_rate;            /* inbound connections per address and second (4) */
	int accept_burst;           /* inbound connections per address in a burst (8) */
	size_t send_queue_max;      /* unread bytes before a session is closed (1 MiB) */
	size_t table_max;           /* peer table bound (10000) */
	size_t table_max_bytes;     /* peer table bound in bytes (64 MiB) */

	/* [torrent] (torrent.h: tr_config) */
	char *torrent_listen_host;   /* peer wire; NULL: none (a silent agent never listens) */
	int torrent_listen_port;
	char *torrent_http_host;     /* web seeds and the tracker; NULL: none */
	int torrent_http_port;
	char *torrent_dir;           /* default DIR/torrents */
	int torrent_max_torrents;    /* 64 */
	int torrent_max_peers;       /* per torrent, 50 */
	int torrent_max_connections; /* in all, 200 */
	int torrent_max_per_address; /* 4 */
	int torrent_unchoke_slots;   /* 4 */
	int64_t torrent_max_upload_rate;   /* bytes/s, 0: no limit */
	int64_t torrent_max_download_rate; /* bytes/s, 0: no limit */
	size_t torrent_max_size;     /* bytes of one torrent's content (1 TiB) */

	/* [relay] (relay.h: rl_config) */
	bool relay_serve;             /* relay for silent peers while broadcasting (true) */
	char *relay_listen_host;      /* NULL: the gossip listen host, any free port */
	int relay_listen_port;
	bool relay_use;               /* while silent, reserve on relays among our neighbours (true) */
	int relay_reservations;       /* relays a silent agent reserves on (2) */
	int relay_max_relayed;        /* gossip sessions through relays with silent peers (2) */
	size_t relay_max_reservations;      /* 128 */
	size_t relay_max_circuits;          /* 64 */
	size_t relay_max_circuits_per_peer; /* 8 */
	size_t relay_max_per_address;       /* 16 */
	int64_t relay_reservation_s;        /* 1800 */
	int64_t relay_circuit_lifetime_s;   /* 3600 */
	size_t relay_max_circuit_bytes;     /* 1 GiB */
	int64_t relay_circuit_rate;         /* bytes/s each way, 0: none (8 MiB/s) */
	int64_t relay_max_rate;             /* bytes/s of all circuits, 0: none */

	/* [api] */
	char *api_host; /* 127.0.0.1 (loopback only) */
	int api_port;   /* 7080 */

	/* [repositories] */
	struct cm_repolist repositories; /* names = a,b,c */

	/* [timers], seconds */
	int64_t heartbeat_s;           /* 30 */
	int64_t stale_s;               /* 9000 */
	int64_t expire_s;              /* 10800 */
	int64_t reannounce_s;          /* 3600, < stale_s / 2 */
	int64_t anti_entropy_s;        /* 1 */
	int64_t anti_entropy_idle_s;   /* 16: the longest interval, once the table stands still */
	int64_t anti_entropy_sync_s;   /* 300: up this long, digests ask for recent records, bare */
	int64_t bootstrap_heartbeat_s; /* 30 */
};

/* Fills every default (home is left NULL). */
void pa_config_default(struct pa_config *cfg);

/*
 * Reads DIR/agent.ini over the defaults and checks the result (loopback API,
 * reannounce_s < stale_s / 2, ports, IPs, URLs, the files exist...). Returns 0,
 * or -1 with err naming the key ("[gossip] neighbours: not a number").
 */
int pa_config_load(const char *home, struct pa_config *cfg, struct cm_err *err);
/*
 * The same from agent.ini's text (NUL-terminated; name stands for the file in
 * messages), home the absolute DIR that relative paths are under.
 */
int pa_config_load_text(const char *home, const char *name, const char *text, struct pa_config *cfg,
			struct cm_err *err);
void pa_config_clear(struct pa_config *cfg);

/*
 * Creates DIR (0700) if needed and writes identity.key (0600), identity.crt,
 * agent.ini (every key, commented, with its default) and api.token (0600,
 * 32 random bytes in hex). Refuses to overwrite any of them unless force.
 * Returns 0 or -1 with err set.
 */
int pa_init(const char *home, const char *email, bool force, struct cm_err *err);

/* Reads DIR/api.token (trimmed) into a new string the caller frees; NULL with err set. */
char *pa_config_read_token(const char *home, struct cm_err *err);

/* DIR/name as a new string the caller frees. */
char *pa_config_path(const char *home, const char *name);

#endif
