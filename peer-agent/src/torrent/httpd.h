/*
 * httpd.h - the agent's BitTorrent HTTP port: our seeded files as web seeds
 * (GET/HEAD with Range: 206 and Content-Range; CORS for browser WebTorrent)
 * at /seed/<info_hash>/<name>[/<path>], and a tracker at /announce (BEP 23
 * compact answers) that lists the seeders the agent knows from gossip, the
 * peers that announced to it, and itself. Only verified bytes are served;
 * every request, connection and address is capped.
 *
 * A small HTTP/1.1 server of its own on bufferevents rather than evhttp:
 * libevent 2.1's evhttp cannot cap connections per address, has no deadline
 * for a whole request head (its read timeout restarts with every byte, which
 * is what slowloris needs) and cannot send a file with sendfile. Here a
 * request is a head of at most TR_HTTPD_MAX_HEAD bytes that must arrive
 * within head_timeout_ms, without a body; one request is answered at a time
 * per connection (keep-alive), files go out by evbuffer_add_file.
 *
 * The web-seed URL to write into a torrent's url-list: for a single-file
 * torrent the file's own, /seed/<info_hash>/<name> (browser WebTorrent
 * fetches a URL ending in '/' as it is, without adding the name as BEP 19
 * says, and every client takes a file URL as it is); for a multi-file one
 * /seed/<info_hash>/ (clients add name/path). Names are percent-encoded.
 *
 * The tracker answers only for info hashes ops->known accepts (an open
 * tracker for any hash would be memory anyone could fill); others get the
 * failure reason "unknown torrent". It remembers, per torrent, the source
 * address of the announcing connection and the port it announced (never an
 * "ip" parameter), expired after twice the interval, forgotten at once on
 * event=stopped.
 */
#ifndef TR_HTTPD_H
#define TR_HTTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "torrent/torrent.h"

struct event_base;
struct tr_httpd;

#define TR_HTTPD_MAX_LINE 2048        /* bytes of a request line */
#define TR_HTTPD_MAX_HEAD 8192        /* bytes of a request head, request line included */
#define TR_HTTPD_MAX_HEADERS 64       /* header lines of one request */
#define TR_HTTPD_NUMWANT 50           /* peers in an answer when numwant is absent */
#define TR_HTTPD_MAX_NUMWANT 200      /* and at most */
#define TR_HTTPD_ANNOUNCERS_PER_IP 8  /* ports of one address remembered per torrent */

/* A file the web seed may serve: borrowed from the torrent client during the call. */
struct tr_httpd_file {
	const char *disk_path;    /* where its bytes are on disk */
	uint64_t length;          /* bytes */
	uint64_t torrent_offset;  /* its start in the torrent's byte stream */
};

struct tr_httpd_ops {
	/* The file of torrent info_hash at relpath ("name" or "name/a/b"): 0, or -1 (404). */
	int (*find_file)(void *ctx, const char info_hash[TR_HEX_LEN + 1], const char *relpath,
			 struct tr_httpd_file *out);
	/* Whether every piece covering [offset, offset + len) of the torrent is verified. */
	bool (*verified)(void *ctx, const char info_hash[TR_HEX_LEN + 1], uint64_t offset,
			 uint64_t len);
	/* Whether the tracker answers for this torrent (we hold it, or gossip knows seeders of it). */
	bool (*known)(void *ctx, const char info_hash[TR_HEX_LEN + 1]);
	/* Peers for the tracker's answer besides the announcers: gossip's seeders and ourselves. */
	size_t (*peers)(void *ctx, const char info_hash[TR_HEX_LEN + 1], struct tr_peer_addr *out,
			size_t max);
};

struct tr_httpd_config {
	const char *host;
	int port;                  /* 0: any free port */
	int max_connections;       /* in all */
	int max_per_address;       /* connections from one IP */
	int max_announcers;        /* peers remembered per torrent from announces */
	int max_torrents_tracked;  /* info hashes with announcers */
	int announce_interval_s;   /* what the tracker tells clients */
	int head_timeout_ms;       /* a request head must arrive whole within it (idle keep-alive too) */
	int write_timeout_ms;      /* an answer that makes no progress for this long is dropped */
};

void tr_httpd_config_defaults(struct tr_httpd_config *c);
/* NULL on failure (logged). */
struct tr_httpd *tr_httpd_new(struct event_base *base, const struct tr_httpd_config *cfg,
			      const struct tr_httpd_ops *ops, void *ctx);
void tr_httpd_free(struct tr_httpd *h);
int tr_httpd_port(const struct tr_httpd *h);
/* Counters: requests answered, refused (by a cap), bytes served. */
void tr_httpd_counts(const struct tr_httpd *h, uint64_t *requests, uint64_t *refused,
		     uint64_t *bytes);

#endif
