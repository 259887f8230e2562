/* fsutil.h - durable writes of the agent's files (identity, agent.ini, peers.json). */
#ifndef PA_FSUTIL_H
#define PA_FSUTIL_H

#include <stddef.h>

/* Writes all len bytes to fd, retrying short writes and EINTR. Returns 0 or -1 (errno set). */
int pa_write_all(int fd, const char *data, size_t len);

/* Makes a creation or rename in path's directory durable. Returns 0 or -1 (errno set). */
int pa_fsync_dir(const char *path);

#endif
