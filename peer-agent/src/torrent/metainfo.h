/*
 * metainfo.h - what a torrent is (BEP 3, v1): the info dictionary's name,
 * pieces and files, its SHA-1 info hash, and the trackers and web seeds
 * (BEP 12 announce-list, BEP 19 url-list) around it; read from a .torrent
 * file or from metadata fetched by BEP 9, and written back. Pure: buffers in,
 * structs out. Every file path is checked (no "..", no absolute path, no
 * empty or "." component, no NUL, no backslash, components of at most
 * TR_MAX_NAME bytes, no two files at one path, no file where another's
 * folder is) before anything may use it.
 *
 * Trackers and web seeds past TR_MAX_TRACKERS and TR_MAX_WEB_SEEDS are
 * dropped, not refused (public torrents often list dozens); empty ones too.
 */
#ifndef TR_METAINFO_H
#define TR_METAINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fb/err.h"
#include "fb/types.h"

struct cm_btype;

#define TR_HASH_LEN 20                   /* bytes of a v1 info hash and of a piece hash */
#define TR_HEX_LEN 40                    /* its hex form */
#define TR_BLOCK 16384                   /* bytes of one request (every client's size) */
#define TR_MAX_TORRENT_FILE (16u << 20)  /* bytes of a .torrent we read */
#define TR_MAX_METADATA (8u << 20)       /* bytes of an info dictionary (BEP 9 sizes) */
#define TR_MAX_FILES 10000               /* files in one torrent */
#define TR_MAX_PATH 4096                 /* bytes of one file's relative path */
#define TR_MAX_NAME 255                  /* bytes of one path component (and of the name) */
#define TR_MAX_TOTAL (1ull << 42)        /* bytes of one torrent's content (4 TiB) */
#define TR_MAX_URL 2048                  /* bytes of a tracker or web-seed URL */
#define TR_MIN_PIECE 16384               /* piece length bounds we accept */
#define TR_MAX_PIECE (16u << 20)
#define TR_MAX_TRACKERS 32
#define TR_MAX_WEB_SEEDS 16
#define TR_MAX_MAGNET 16384              /* bytes of a magnet link */
#define TR_MAX_MAGNET_PEERS 64           /* x.pe entries of one magnet */

struct tr_file {
	char *path;       /* relative to the torrent's folder ("a/b.bin"); the name itself when single-file */
	uint64_t length;  /* bytes */
	uint64_t offset;  /* where it starts in the torrent's byte stream */
	bool pad;         /* BEP 47 padding (attr "p"): zeros, never written to disk; pads may share a path */
};

struct tr_meta {
	unsigned char info_hash[TR_HASH_LEN];
	char info_hash_hex[TR_HEX_LEN + 1];
	char *name;              /* info.name, checked like a path component */
	uint32_t piece_length;
	uint32_t piece_count;
	unsigned char *pieces;   /* piece_count * TR_HASH_LEN */
	uint64_t total_length;
	bool multi_file;         /* info.files was present */
	struct tr_file *files;   /* file_count; one entry (the name) for a single-file torrent */
	size_t file_count;
	unsigned char *info;     /* the info dictionary exactly as hashed */
	size_t info_len;
	struct cm_strlist trackers;  /* announce, then announce-list, duplicates dropped */
	struct cm_strlist web_seeds; /* url-list */
	int64_t creation_date;   /* s since the epoch, written by tr_meta_to_torrent when non-zero (not read) */
};

/* Parses a .torrent file. -1 with err naming what is wrong. */
int tr_meta_from_torrent(const void *buf, size_t len, struct tr_meta *out, struct cm_err *err);
/* Parses an info dictionary (BEP 9); when expect is non-NULL its SHA-1 must equal it. */
int tr_meta_from_info(const void *info, size_t len, const unsigned char expect[TR_HASH_LEN],
		      struct tr_meta *out, struct cm_err *err);
/*
 * Builds m from its parts (torrent create): files (paths relative, lengths),
 * piece hashes of their concatenation, trackers and web seeds (may be NULL).
 * Single-file when multi_file is false (one file, named name). Encodes the
 * info dictionary canonically and hashes it. -1 with err.
 */
int tr_meta_build(struct tr_meta *m, const char *name, bool multi_file, const struct tr_file *files,
		  size_t file_count, uint32_t piece_length, const unsigned char *pieces,
		  uint32_t piece_count, const struct cm_strlist *trackers,
		  const struct cm_strlist *web_seeds, struct cm_err *err);
/*
 * Encodes m as a .torrent: announce (the first tracker), announce-list (one
 * tier a tracker, when more than one), "created by", "creation date" (when
 * set), info exactly as hashed, url-list. 0 or -1; caller frees *out.
 */
int tr_meta_to_torrent(const struct tr_meta *m, char **out, size_t *out_len);
void tr_meta_clear(struct tr_meta *m);

/* Bytes of piece i (the last one may be short); 0 past the last. */
uint32_t tr_meta_piece_size(const struct tr_meta *m, uint32_t i);

/* The field tables this module reads and writes by, for the test that holds them to key order. */
const struct cm_btype *const *tr_meta_types(size_t *n);

/*
 * A magnet link (BEP 9): xt=urn:btih:<40 hex or 32 base32>, dn, xl, tr, x.pe,
 * ws; values percent-decoded ("+" is a space in dn); other keys ignored.
 * Bounded: TR_MAX_MAGNET bytes, TR_MAX_TRACKERS tr, TR_MAX_WEB_SEEDS ws,
 * TR_MAX_MAGNET_PEERS x.pe (each an IP literal and port), more is an error.
 */
struct tr_magnet {
	unsigned char info_hash[TR_HASH_LEN];
	char *name;              /* dn; NULL: none */
	bool has_length;
	uint64_t length;         /* xl */
	struct cm_strlist trackers;  /* tr */
	struct cm_strlist peers;     /* x.pe: "ip:port" or "[ipv6]:port" */
	struct cm_strlist web_seeds; /* ws */
};

int tr_magnet_parse(const char *uri, struct tr_magnet *out, struct cm_err *err);
/* The magnet of m (dn, xl, tr and ws from m, x.pe from peers, may be NULL); caller frees. NULL on failure. */
char *tr_magnet_of(const struct tr_meta *m, const struct cm_strlist *peers);
void tr_magnet_clear(struct tr_magnet *m);

#endif
