/*
 * file.h - the one bounded whole-file reader and the one atomic writer (the
 * capped growing buffer is fb/buf.h).
 *
 * Errors follow the house convention: 0 or -1, with the reason in a struct
 * cm_err (NULL allowed), and errno kept from the
 * failing call so a caller may tell ENOENT from the rest.
 */
#ifndef FB_FILE_H
#define FB_FILE_H

#include <stddef.h>
#include <sys/types.h>

#include "fb/err.h"

/*
 * Reads the regular file path whole into *out (NUL-terminated, *len bytes
 * without the NUL; the caller frees). Refuses a file over max bytes.
 * Returns 0, or -1 with err set and *out NULL (errno ENOENT: no such file,
 * EFBIG: over max).
 */
int cm_file_read(const char *path, size_t max, char **out, size_t *len, struct cm_err *err);

/*
 * Replaces path with len bytes of data, atomically and durably: a temporary
 * file in the same directory (created with mode, never following a link),
 * every byte written, fsync, rename over path, fsync of the directory. A
 * failure before the rename leaves path untouched and removes the temporary
 * file; when only the directory's fsync fails, path already holds the new
 * bytes but may not survive a crash. Returns 0 or -1 with err set.
 */
int cm_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
			 struct cm_err *err);

/* Writes all len bytes to fd, retrying short writes and EINTR. Returns 0 or -1 (errno set). */
int cm_write_all(int fd, const void *data, size_t len);

#endif
