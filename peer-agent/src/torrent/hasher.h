/*
 * hasher.h - hashing a file or folder to make a torrent of it: SHA-1 of each
 * piece and SHA-256 of each file, reading each byte from disk once, on two
 * threads of their own (one computes SHA-1, the other SHA-256) so that the
 * digests run side by side and the loop stays free. The piece length is
 * chosen so the torrent has about 1000 to 2000 pieces (a power of two,
 * TR_MIN_PIECE..TR_MAX_PIECE).
 */
#ifndef TR_HASHER_H
#define TR_HASHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fb/err.h"
#include "torrent/metainfo.h"

/* Bytes each thread reads at once: small, so that the copy stays in its core's L1 cache. */
#define TR_HASH_READ (32u << 10)
#define TR_HASH_LEAD (32u << 20) /* bytes one thread may be ahead of the other */

struct tr_hasher;

/* The piece length for total bytes of content. */
uint32_t tr_piece_length_for(uint64_t total);

/*
 * A hasher of path: a regular file, or a folder whose regular files (sorted
 * by path, symbolic links skipped) make a multi-file torrent. Refuses more
 * than max_bytes of content, an empty one, or more than TR_MAX_FILES. NULL with err.
 * The hashing starts at once on the hasher's threads.
 */
struct tr_hasher *tr_hasher_new(const char *path, uint64_t max_bytes, struct cm_err *err);
/* Stops the threads (waiting for them) if they are still at work. */
void tr_hasher_free(struct tr_hasher *h);
/* Readable (one byte) once the threads have ended: watch it with EV_READ. */
int tr_hasher_fd(const struct tr_hasher *h);
/* Once the fd is readable: waits for the threads' exit; 0 hashed, -1 err. */
int tr_hasher_finish(struct tr_hasher *h, struct cm_err *err);

/* After finish said 0: what tr_meta_build needs, and each file's SHA-256. */
bool tr_hasher_multi_file(const struct tr_hasher *h);
const struct tr_file *tr_hasher_files(const struct tr_hasher *h, size_t *count);
uint32_t tr_hasher_piece_length(const struct tr_hasher *h);
const unsigned char *tr_hasher_pieces(const struct tr_hasher *h, uint32_t *count);
const char (*tr_hasher_sha256(const struct tr_hasher *h))[65];
uint64_t tr_hasher_total(const struct tr_hasher *h);

#endif
