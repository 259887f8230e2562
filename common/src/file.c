/* file.c - bounded reads and atomic writes (see file.h). */
#define _GNU_SOURCE /* strndup */
#include "fb/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Reads exactly len bytes, retrying short reads and EINTR; a file that shrank fails (EIO). */
static int
read_all(int fd, char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			errno = EIO;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

int
cm_file_read(const char *path, size_t max, char **out, size_t *len, struct cm_err *err)
{
	struct stat st;
	char *buf = NULL;
	int fd, saved, rc = -1;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		saved = errno; /* callers tell a missing file (ENOENT) from others */
		cm_err_set(err, "%s: cannot open: %s", path, strerror(saved));
		errno = saved;
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		cm_err_set(err, "%s: not a regular file", path);
		errno = EINVAL;
		goto end;
	}
	if ((uintmax_t)st.st_size > max) {
		cm_err_set(err, "%s: %lld bytes, over the limit of %zu", path,
			   (long long)st.st_size, max);
		errno = EFBIG;
		goto end;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		cm_err_set(err, "%s: out of memory", path);
		goto end;
	}
	if (read_all(fd, buf, (size_t)st.st_size) != 0) {
		cm_err_set(err, "%s: cannot read: %s", path,
			   errno == EIO ? "file shrank" : strerror(errno));
		goto end;
	}
	buf[st.st_size] = '\0';
	*out = buf;
	*len = (size_t)st.st_size;
	buf = NULL;
	rc = 0;
end:
	saved = errno;
	free(buf);
	close(fd);
	errno = saved;
	return rc;
}

int
cm_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Makes a creation or rename in path's directory durable. Returns 0 or -1 (errno set). */
static int
fsync_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash == NULL ? strdup(".")
		    : slash == path ? strdup("/")
				    : strndup(path, (size_t)(slash - path));
	int fd = -1, rc = -1, saved;

	if (dir != NULL && (fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0)
		rc = fsync(fd);
	saved = errno;
	if (fd >= 0)
		close(fd);
	free(dir);
	errno = saved;
	return rc;
}

int
cm_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
		     struct cm_err *err)
{
	size_t tmp_size = strlen(path) + sizeof(".tmp");
	char *tmp = malloc(tmp_size);
	int fd = -1, closed, rc = -1;

	if (tmp == NULL) {
		cm_err_set(err, "%s: out of memory", path);
		return -1;
	}
	snprintf(tmp, tmp_size, "%s.tmp", path);
	/* fchmod: a temporary file left by a crash keeps its old mode through O_TRUNC. */
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode)) < 0 ||
	    fchmod(fd, mode) != 0 || cm_write_all(fd, data, len) != 0 || fsync(fd) != 0) {
		cm_err_set(err, "%s: cannot write: %s", tmp, strerror(errno));
		goto end;
	}
	closed = close(fd);
	fd = -1;
	if (closed != 0) {
		cm_err_set(err, "%s: cannot write: %s", tmp, strerror(errno));
		goto end;
	}
	if (rename(tmp, path) != 0) {
		cm_err_set(err, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
		goto end;
	}
	if (fsync_dir(path) != 0) {
		cm_err_set(err, "%s: cannot sync the directory: %s", path, strerror(errno));
		goto end;
	}
	rc = 0;
end:
	if (fd >= 0)
		close(fd);
	if (rc != 0)
		unlink(tmp);
	free(tmp);
	return rc;
}
