/*
 * httpd_internal.h - the pure parts of the HTTP port, apart from its
 * sockets so that tests and fuzzers call them on bytes: the request head
 * parser, the Range header, percent-decoding, the /announce query (BEP 3,
 * strict), the tracker's memory of announcers (bounded, expiring) and its
 * compact answers (BEP 23, BEP 7).
 */
#ifndef TR_HTTPD_INTERNAL_H
#define TR_HTTPD_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fb/err.h"
#include "fb/hash.h"
#include "torrent/httpd.h"

/* ---- the request head ---- */

enum tr_http_method { TR_HTTP_GET, TR_HTTP_HEAD, TR_HTTP_OPTIONS, TR_HTTP_OTHER };

struct tr_http_head {
	enum tr_http_method method;
	char target[TR_HTTPD_MAX_LINE]; /* as sent: path and query, not decoded */
	bool http10;                    /* HTTP/1.0: the connection closes after the answer */
	bool close;                     /* Connection: close */
	bool has_body;                  /* Content-Length other than 0, or Transfer-Encoding */
	char range[128];                /* the Range header's value; "" when none */
	bool range_too_long;
};

/*
 * Parses a request head (request line and header lines, up to and without
 * the empty line; len bytes). 0, or the HTTP status that refuses it (400,
 * 414, 431, 505) with err saying why.
 */
int tr_http_parse_head(const char *head, size_t len, struct tr_http_head *out, struct cm_err *err);

/* A byte range of a file of size bytes, from a Range header. */
enum tr_range_kind {
	TR_RANGE_NONE, /* no Range, or one we ignore (not "bytes=", malformed, several): whole file
	                */
	TR_RANGE_OK,   /* [first, first + len) */
	TR_RANGE_UNSATISFIABLE /* 416 */
};
enum tr_range_kind tr_http_parse_range(const char *value, uint64_t size, uint64_t *first,
                                       uint64_t *len);

/* ---- /announce ---- */

struct tr_announce_query {
	unsigned char info_hash[TR_HASH_LEN];
	char info_hash_hex[TR_HEX_LEN + 1];
	int port;
	bool stopped; /* event=stopped */
	int numwant;  /* clamped to 0..TR_HTTPD_MAX_NUMWANT; TR_HTTPD_NUMWANT when absent */
};

/* Parses the query of GET /announce (after '?'). -1 with err (the failure reason sent). */
int tr_announce_query_parse(const char *query, struct tr_announce_query *out, struct cm_err *err);

/* The announcers a tracker remembers: per torrent and in number of torrents, expiring. */
struct tr_trk;

struct tr_trk *tr_trk_new(int max_torrents, int max_per_torrent, const struct cm_hash_key *key);
void tr_trk_free(struct tr_trk *t);
/*
 * Remembers (or with stopped forgets) ip:port for torrent hex at now_s. -1
 * with err when the torrent is new and max_torrents are tracked already.
 */
int tr_trk_announce(struct tr_trk *t, const char *hex, const char *ip, int port, bool stopped,
                    int64_t now_s, struct cm_err *err);
/* Forgets announcers last seen before now_s - max_age_s, and torrents left without any. */
void tr_trk_expire(struct tr_trk *t, int64_t now_s, int64_t max_age_s);
/* Up to max announcers of hex, starting at a point that moves with each call. */
size_t tr_trk_peers(struct tr_trk *t, const char *hex, struct tr_peer_addr *out, size_t max);
size_t tr_trk_torrents(const struct tr_trk *t);

/*
 * The compact answer: "interval", "peers" (the IPv4 ones, 6 bytes each) and
 * "peers6" (IPv6, 18 bytes). 0 and *out (caller frees) or -1.
 */
int tr_announce_answer(int interval_s, const struct tr_peer_addr *peers, size_t n, char **out,
                       size_t *out_len);
/* d14:failure reason...e. 0 and *out (caller frees) or -1. */
int tr_announce_failure(const char *reason, char **out, size_t *out_len);

#endif
