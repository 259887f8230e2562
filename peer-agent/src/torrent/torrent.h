/*
 * torrent.h - BitTorrent in the agent, on the daemon's libevent loop: the
 * torrents we seed and download (state under state_dir, resumed at start),
 * the peer-wire listener, and the HTTP port that serves our files as web
 * seeds (BEP 19) and a tracker at /announce (BEP 3/23). What gossip knows
 * (who seeds an info hash) is the daemon's: the client asks for it through
 * struct tr_hooks and is told with tr_client_add_peers.
 *
 * A silent client (cfg.silent) only dials out: it has no listener and no
 * HTTP port, never announces to a tracker and never sends an address of its
 * own (no BEP 10 "p", no x.pe of itself), so no tracker, peer list or answer
 * can carry its address. It is reached through relayed circuits instead,
 * whose connections it adopts (tr_client_adopt) and serves.
 */
#ifndef TR_TORRENT_H
#define TR_TORRENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fb/err.h"
#include "torrent/metainfo.h"

struct event_base;
struct tr_client;

enum tr_state { TR_CHECKING, TR_DOWNLOADING, TR_SEEDING, TR_PAUSED, TR_ERROR };
/* "checking", "downloading", "seeding", "paused", "error" */
const char *tr_state_name(enum tr_state s);

struct tr_config {
	const char *state_dir;      /* DIR/torrents: created 0700 if missing */
	const char *listen_host;    /* peer wire; NULL: no listener */
	int listen_port;            /* 0: any free port */
	const char *http_host;      /* web seeds and the tracker; NULL: none */
	int http_port;              /* 0: any free port */
	const char *public_host;    /* the address written into our tracker and web-seed URLs and x.pe; NULL: listen_host */
	const char *bind_ip;        /* source address of outgoing connections; NULL: the system's */
	bool silent;
	int max_torrents;           /* torrents held at once */
	int max_peers_per_torrent;  /* peer-wire sessions of one torrent */
	int max_connections;        /* peer-wire sessions in all */
	int max_per_address;        /* sessions with one IP address */
	int unchoke_slots;          /* peers we upload to at once, besides the optimistic one */
	uint64_t max_torrent_bytes; /* content size of one torrent */
	int64_t max_upload_rate;    /* bytes/s in all; 0: no limit */
	int64_t max_download_rate;  /* bytes/s in all; 0: no limit */
};

/* Defaults for every field but the addresses and state_dir. */
void tr_config_defaults(struct tr_config *c);

/* A peer-wire address ("127.0.0.2", 6881). */
struct tr_peer_addr {
	char ip[46];
	int port;
};

struct tr_hooks {
	/* Asks gossip who seeds info_hash; answers (later or at once) come as tr_client_add_peers. */
	void (*want_peers)(void *ctx, const char info_hash[TR_HEX_LEN + 1]);
	/* The set of torrents we seed changed (created, completed, removed): announce it. */
	void (*seeding_changed)(void *ctx);
	/* Our tracker's answer: seeders gossip knows for info_hash, up to max; returns how many. */
	size_t (*gossip_seeders)(void *ctx, const char info_hash[TR_HEX_LEN + 1],
				 struct tr_peer_addr *out, size_t max);
};

/* One torrent as the control API shows it; strings owned (tr_status_clear). */
struct tr_status {
	char info_hash[TR_HEX_LEN + 1];
	char *name;
	uint64_t size;
	uint32_t piece_length;
	enum tr_state state;
	double progress;            /* 0..1 of verified pieces (0 while the metadata is unknown) */
	int peers;                  /* peer-wire sessions open, plus web seeds in use */
	int64_t download_rate;      /* bytes/s, over the last few seconds */
	int64_t upload_rate;
	uint64_t downloaded;        /* payload bytes, verified or not */
	uint64_t uploaded;
	char *path;                 /* the file (single-file) or folder on disk, final name */
	char sha256[65];            /* of the whole file (per-file ones in files); "" unknown */
	char *magnet;
	char *torrent_file;         /* DIR/torrents/<info_hash>.torrent once the metadata is known */
	char *error;                /* state "error": why; else NULL */
	size_t file_count;          /* multi-file: each file's path and SHA-256 */
	char **file_paths;
	char (*file_sha256)[65];
};
void tr_status_clear(struct tr_status *s);

/* Counters for status and metrics. */
struct tr_stats {
	uint64_t sessions_opened, sessions_refused, peers_banned, pieces_verified, pieces_failed;
	uint64_t bytes_in, bytes_out, web_seed_bytes, tracker_announces, tracker_errors;
	uint64_t http_requests, http_refused; /* the HTTP port: answered, refused by a cap */
};

/* Loads state_dir and resumes its torrents (each "checking" first). NULL on failure (logged). */
struct tr_client *tr_client_new(struct event_base *base, const struct tr_config *cfg,
				const struct tr_hooks *hooks, void *ctx);
/*
 * Stops every torrent (state saved) and closes the sockets; creations still
 * hashing end first, their done called with an error. NULL is fine.
 */
void tr_client_free(struct tr_client *c);
/* The ports actually bound; 0 when there is none. */
int tr_client_listen_port(const struct tr_client *c);
int tr_client_http_port(const struct tr_client *c);

/*
 * Creates a torrent of path (a file or a folder; name NULL: its base name),
 * writes <state_dir>/<info_hash>.torrent naming our tracker and web seed,
 * and seeds it. Hashing runs on the loop in slices; done runs once, later,
 * with the new torrent's status or with err. -1 at once (err) when path
 * cannot be used.
 */
typedef void (*tr_created_fn)(void *arg, const struct tr_status *st, const struct cm_err *err);
int tr_client_create(struct tr_client *c, const char *path, const char *name, tr_created_fn done,
		     void *arg, struct cm_err *err);

/* What to download: exactly one of magnet, info_hash_hex and torrent (a .torrent's bytes). */
struct tr_source {
	const char *magnet;
	const char *info_hash_hex;
	const void *torrent;
	size_t torrent_len;
	const char *dest_dir;   /* the file or folder is written here (temporary name until verified) */
	const char *sha256_hex; /* the file's SHA-256 it must have (a mismatch fails it); NULL: none */
	/*
	 * The SHA-256 gossip's seeders sign for it; NULL: unknown. A mismatch is
	 * logged, not fatal: the pieces are what the info hash names, and any
	 * identity can sign a record, so a lie must not fail a good download.
	 */
	const char *sha256_hint;
};

#define TR_EXISTS (-2) /* tr_client_add: the torrent is held already (info_hash is filled) */

/* Starts downloading. 0 and info_hash, TR_EXISTS, or -1 with err. */
int tr_client_add(struct tr_client *c, const struct tr_source *src,
		  char info_hash[TR_HEX_LEN + 1], struct cm_err *err);
/* Stops and forgets a torrent, its data too when delete_data. -1: unknown. */
int tr_client_remove(struct tr_client *c, const char *info_hash_hex, bool delete_data);
/*
 * A peer-wire connection on fd, a connected stream someone else made (the
 * plaintext end of a relayed circuit). info_hash_hex non-NULL: outgoing, for
 * that torrent (our handshake goes first); NULL: incoming, the peer's
 * handshake names the torrent. label (say "relay:dave@example.com") stands
 * for its address in logs. An adopted peer has no address: no cap or ban by
 * address counts or refuses it (one that misbehaves is closed, not banned),
 * and BEP 10 tells it no port; it counts in max_connections and
 * max_peers_per_torrent like any. A silent client adopts too. Takes fd.
 * Returns 0, or -1 (fd closed: unknown or paused torrent, caps).
 */
int tr_client_adopt(struct tr_client *c, int fd, const char *info_hash_hex, const char *label);
/* Is a session with the adopted peer label open for torrent info_hash_hex? */
bool tr_client_has_peer(const struct tr_client *c, const char *info_hash_hex, const char *label);
/* Peers to try for a torrent (from gossip or the command line); unknown torrents are ignored. */
void tr_client_add_peers(struct tr_client *c, const char *info_hash_hex,
			 const struct tr_peer_addr *peers, size_t n);

/* Status of one torrent (-1: unknown), or of all: *out (caller frees each and the array). */
int tr_client_status(const struct tr_client *c, const char *info_hash_hex, struct tr_status *out);
size_t tr_client_list(const struct tr_client *c, struct tr_status **out);
void tr_client_stats(const struct tr_client *c, struct tr_stats *out);

/* The torrents we seed, for our signed record: up to max, complete and verified ones only. */
struct tr_seeded {
	char info_hash[TR_HEX_LEN + 1];
	char name[256];
	uint64_t size;
	char sha256[65];
};
size_t tr_client_seeding(const struct tr_client *c, struct tr_seeded *out, size_t max);

#endif
