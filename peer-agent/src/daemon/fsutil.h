/*
 * fsutil.h - durable writes of the agent's files (identity, agent.ini,
 * peers.json), and the capped buffers its HTTP clients read answers into.
 */
#ifndef PA_FSUTIL_H
#define PA_FSUTIL_H

#include <stddef.h>

/* Writes all len bytes to fd, retrying short writes and EINTR. Returns 0 or -1 (errno set). */
int pa_write_all(int fd, const char *data, size_t len);

/* Makes a creation or rename in path's directory durable. Returns 0 or -1 (errno set). */
int pa_fsync_dir(const char *path);

/*
 * Appends n bytes of data to *buf (*len bytes, kept NUL-terminated), growing
 * it. Returns 0; -1 when the result would pass max bytes (nothing appended);
 * -2 when out of memory.
 */
int pa_append_capped(char **buf, size_t *len, size_t max, const char *data, size_t n);

#endif
