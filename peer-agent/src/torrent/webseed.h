/*
 * webseed.h - downloading from a web seed (BEP 19, GetRight style): a piece
 * is fetched as HTTP Range requests of the file(s) it spans (url + name
 * [+ "/" + path] for multi-file torrents), through net/httpclient. The bytes
 * are handed to the torrent client, which verifies them like any piece.
 * A 206 must carry the Content-Range asked for and exactly its bytes; a 200
 * is taken only for a file of at most TR_WEBSEED_MAX_WHOLE bytes.
 */
#ifndef TR_WEBSEED_H
#define TR_WEBSEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "torrent/metainfo.h"

struct hc_client;
struct tr_webseed;

/* A server that ignores Range sends whole files: taken (and cut) only up to this size. */
#define TR_WEBSEED_MAX_WHOLE (4u << 20)

/* The piece's bytes (len == its size) or err; borrowed during the call. */
typedef void (*tr_webseed_fn)(void *arg, uint32_t piece, const unsigned char *data, size_t len,
			      const char *err);

/* A web seed of m at url; m must outlive it. NULL on failure. */
struct tr_webseed *tr_webseed_new(struct hc_client *hc, const char *url, const struct tr_meta *m,
				  const char *bind_ip, tr_webseed_fn fn, void *arg);
/* Cancels what is in flight without calling fn; NULL is fine. */
void tr_webseed_free(struct tr_webseed *w);
/*
 * Fetches piece; 0 (fn runs once, later) or -1 (busy, failed at once, or a
 * piece of BEP 47 padding alone). One piece at a time; padding files are
 * zeros, never requested.
 */
int tr_webseed_fetch(struct tr_webseed *w, uint32_t piece);
bool tr_webseed_busy(const struct tr_webseed *w);
const char *tr_webseed_url(const struct tr_webseed *w);

#endif
