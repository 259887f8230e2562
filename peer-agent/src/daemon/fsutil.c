/* fsutil.c - durable writes of the agent's files, capped buffers (see fsutil.h). */
#define _GNU_SOURCE /* strndup */
#include "daemon/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
pa_write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

int
pa_fsync_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash == NULL ? strdup(".")
		    : slash == path ? strdup("/")
				    : strndup(path, (size_t)(slash - path));
	int fd = -1, rc = -1;

	if (dir != NULL && (fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0)
		rc = fsync(fd);
	if (fd >= 0)
		close(fd);
	free(dir);
	return rc;
}

int
pa_append_capped(char **buf, size_t *len, size_t max, const char *data, size_t n)
{
	char *grown;

	if (n > max || *len > max - n)
		return -1;
	if ((grown = realloc(*buf, *len + n + 1)) == NULL)
		return -2;
	*buf = grown;
	memcpy(grown + *len, data, n);
	*len += n;
	grown[*len] = '\0';
	return 0;
}
