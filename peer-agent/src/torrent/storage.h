/*
 * storage.h - a torrent's bytes on disk: its file (single-file) or folder
 * (multi-file) under a temporary name (<root>.part) while downloading,
 * renamed to <root> once every piece is verified. Pieces cross file
 * boundaries; every piece is SHA-1 checked before a byte of it is written.
 * Also the hashing jobs, done in slices so the loop stays responsive: the
 * resume check of what is on disk, and the SHA-256 of each completed file.
 */
#ifndef TR_STORAGE_H
#define TR_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fb/err.h"
#include "torrent/metainfo.h"

#define TR_STORAGE_MAX_FDS 64 /* files held open at once */

struct tr_storage;

/*
 * Storage of m at root (its final path). complete: the data is at root
 * already (we created it, or it finished earlier); else it lives at
 * <root>.part, created (files sized, folders made) when missing. m must
 * outlive it. NULL with err.
 */
struct tr_storage *tr_storage_new(const struct tr_meta *m, const char *root, bool complete,
                                  struct cm_err *err);
void tr_storage_free(struct tr_storage *st);

/* Where the bytes are now (the .part name until finished). */
const char *tr_storage_path(const struct tr_storage *st);
/* Where file i is now on disk; caller frees. */
char *tr_storage_file_path(const struct tr_storage *st, size_t i);
bool tr_storage_finished(const struct tr_storage *st);
/* Whether the .part files were all empty when opened (a new download: nothing to check). */
bool tr_storage_fresh(const struct tr_storage *st);

/* Reads len bytes at offset off of the torrent's byte stream. 0 or -1 (errno). */
int tr_storage_read(struct tr_storage *st, uint64_t off, void *buf, size_t len);

/*
 * Verifies data (the piece's whole size) against the piece's SHA-1 and only
 * then writes it: 0 written, 1 hash mismatch (nothing written), -1 I/O error (err).
 */
int tr_storage_put_piece(struct tr_storage *st, uint32_t piece, const unsigned char *data,
                         struct cm_err *err);
/* Whether piece i on disk matches its hash: 1 yes, 0 no, -1 I/O error. scratch: piece_length bytes.
 */
int tr_storage_check_piece(struct tr_storage *st, uint32_t piece, unsigned char *scratch);

/* Starts writing the files' dirty pages back without waiting, so a later finish waits less. */
void tr_storage_flush_start(struct tr_storage *st);
/* Every piece verified: syncs, closes and renames <root>.part to root. -1 with err. */
int tr_storage_finish(struct tr_storage *st, struct cm_err *err);
/* Removes the data (either name). */
void tr_storage_delete(struct tr_storage *st);

/* The SHA-256 of each file, in slices: a job over st's current files. */
struct tr_sha256_job;
struct tr_sha256_job *tr_sha256_job_new(struct tr_storage *st);
/* Hashes up to max_bytes more: 1 done (out: file_count hex digests), 0 more to do, -1 error. */
int tr_sha256_job_step(struct tr_sha256_job *j, size_t max_bytes, char (*out)[65]);
void tr_sha256_job_free(struct tr_sha256_job *j);

#endif
