/*
 * store.h - the peer table on disk: DIR/peers.json.
 *
 * Saved every minute and on exit (write a temporary file, fsync, rename, so a
 * crash leaves the old file or the new one, never half of one); loaded at
 * start with every entry STALE (peertable_restore). The file is our own but
 * still checked like network input: bounded size (PA_STORE_MAX_BYTES), every
 * record decoded strictly and its signature verified again.
 */
#ifndef PA_STORE_H
#define PA_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "core/peertable.h"

#define PA_STORE_MAX_BYTES (256 * 1024 * 1024)

/*
 * Writes every entry of t to path atomically, with every pin; entries that
 * would take the file past max_bytes are left out (logged) while the document
 * is built, so it never grows past the cap in memory either. Returns 0 or -1
 * (logged).
 */
int pa_store_save_max(const char *path, const struct peertable *t, int64_t now_ms,
		      size_t max_bytes);

/* pa_store_save_max with PA_STORE_MAX_BYTES, what pa_store_load reads. */
int pa_store_save(const char *path, const struct peertable *t, int64_t now_ms);

/*
 * Restores the entries saved in path into t. A missing file is not an error
 * (0 entries). Bad entries are skipped and counted in *skipped (may be NULL).
 * Returns the number restored, or -1 when the file cannot be read or parsed.
 */
int pa_store_load(const char *path, struct peertable *t, int64_t now_ms, size_t *skipped);
/* The same from the file's len bytes of text; name stands for the file in log lines. */
int pa_store_load_text(const char *text, size_t len, const char *name, struct peertable *t,
		       int64_t now_ms, size_t *skipped);

#endif
