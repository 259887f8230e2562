/* storage.c - pieces across files, verified before written (see storage.h). */
#define _GNU_SOURCE /* sync_file_range */
#include "torrent/storage.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fb/digest.h"
#include "fb/hex.h"
#include "fb/log.h"

struct tr_storage {
	const struct tr_meta *m;
	char *root;    /* final path */
	char *part;    /* root + ".part" */
	bool finished; /* the bytes are at root */
	bool fresh;    /* every .part file was made empty just now: nothing to check */
	int *fd;       /* per file; -1 closed */
	size_t ring[TR_STORAGE_MAX_FDS];
	size_t nopen, ring_pos;
	struct file_id *ids; /* per file, what it was when its data was known good */
};

/* A finished file as it was verified: if any of these differ, its bytes may not be. */
struct file_id {
	bool known;
	off_t size;
	struct timespec mtime;
	ino_t ino;
	dev_t dev;
};

static bool
same_file(const struct file_id *id, const struct stat *sb)
{
	return id->size == sb->st_size && id->mtime.tv_sec == sb->st_mtim.tv_sec &&
	       id->mtime.tv_nsec == sb->st_mtim.tv_nsec && id->ino == sb->st_ino &&
	       id->dev == sb->st_dev;
}

const char *
tr_storage_path(const struct tr_storage *st)
{
	return st->finished ? st->root : st->part;
}

bool
tr_storage_fresh(const struct tr_storage *st)
{
	return st->fresh;
}

bool
tr_storage_finished(const struct tr_storage *st)
{
	return st->finished;
}

char *
tr_storage_file_path(const struct tr_storage *st, size_t i)
{
	const char *base = tr_storage_path(st);
	size_t n;
	char *p;

	if (!st->m->multi_file)
		return strdup(base);
	n = strlen(base) + strlen(st->m->files[i].path) + 2;
	if ((p = malloc(n)) != NULL)
		snprintf(p, n, "%s/%s", base, st->m->files[i].path);
	return p;
}

/* Makes every parent folder of path (mode 0755). */
static int
make_parents(char *path)
{
	for (char *s = strchr(path + 1, '/'); s != NULL; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdir(path, 0755) != 0 && errno != EEXIST) {
			*s = '/';
			return -1;
		}
		*s = '/';
	}
	return 0;
}

static void
close_fds(struct tr_storage *st)
{
	for (size_t i = 0; i < st->m->file_count; i++) {
		if (st->fd[i] >= 0)
			close(st->fd[i]);
		st->fd[i] = -1;
	}
	st->nopen = 0;
	st->ring_pos = 0;
}

static int
file_fd(struct tr_storage *st, size_t i)
{
	char *path;
	int fd;

	if (st->fd[i] >= 0)
		return st->fd[i];
	if ((path = tr_storage_file_path(st, i)) == NULL)
		return -1;
	fd = open(path, (st->finished ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOFOLLOW);
	free(path);
	if (fd < 0)
		return -1;
	if (st->nopen == TR_STORAGE_MAX_FDS) {
		size_t old = st->ring[st->ring_pos];

		close(st->fd[old]);
		st->fd[old] = -1;
		st->nopen--;
	} else {
		st->ring_pos = st->nopen;
	}
	st->ring[st->ring_pos] = i;
	st->ring_pos = (st->ring_pos + 1) % TR_STORAGE_MAX_FDS;
	st->nopen++;
	st->fd[i] = fd;
	return fd;
}

/* Creates the .part files (sized) that are missing. */
static int
create_part(struct tr_storage *st, struct cm_err *err)
{
	st->fresh = true;
	for (size_t i = 0; i < st->m->file_count; i++) {
		char *path;
		struct stat sb;
		int fd;

		if (st->m->files[i].pad)
			continue; /* BEP 47: padding is zeros, never on disk */
		if ((path = tr_storage_file_path(st, i)) == NULL || make_parents(path) != 0) {
			cm_err_set(err, "cannot make the folders of %s: %s", path ? path : "?",
			           strerror(errno));
			free(path);
			return -1;
		}
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) ||
		    ((uint64_t)sb.st_size != st->m->files[i].length &&
		     ftruncate(fd, (off_t)st->m->files[i].length) != 0)) {
			cm_err_set(err, "cannot create %s: %s", path, strerror(errno));
			if (fd >= 0)
				close(fd);
			free(path);
			return -1;
		}
		if (sb.st_size > 0)
			st->fresh = false;
		close(fd);
		free(path);
	}
	return 0;
}

/* Remembers what each finished file is now. */
static void
snapshot(struct tr_storage *st)
{
	for (size_t i = 0; i < st->m->file_count; i++) {
		char *path = st->m->files[i].pad ? NULL : tr_storage_file_path(st, i);
		struct stat sb;

		st->ids[i].known = path != NULL && lstat(path, &sb) == 0;
		if (st->ids[i].known)
			st->ids[i] =
			    (struct file_id){true, sb.st_size, sb.st_mtim, sb.st_ino, sb.st_dev};
		free(path);
	}
}

static size_t file_at(const struct tr_meta *m, uint64_t off);

bool
tr_storage_changed(struct tr_storage *st, uint64_t off, uint64_t len)
{
	if (!st->finished || len == 0)
		return false;
	for (size_t i = file_at(st->m, off);
	     i < st->m->file_count && st->m->files[i].offset < off + len; i++) {
		struct stat sb;
		char *path;
		bool same;

		if (!st->ids[i].known)
			continue;
		/* The name (what the HTTP port opens) and the open descriptor (what we read). */
		if ((path = tr_storage_file_path(st, i)) == NULL)
			return true;
		same =
		    lstat(path, &sb) == 0 && same_file(&st->ids[i], &sb) &&
		    (st->fd[i] < 0 || (fstat(st->fd[i], &sb) == 0 && same_file(&st->ids[i], &sb)));
		free(path);
		if (!same)
			return true;
	}
	return false;
}

struct tr_storage *
tr_storage_new(const struct tr_meta *m, const char *root, bool complete, struct cm_err *err)
{
	struct tr_storage *st = calloc(1, sizeof(*st));
	size_t n = strlen(root) + 6;

	if (st == NULL)
		goto oom;
	st->m = m;
	st->finished = complete;
	st->root = strdup(root);
	st->part = malloc(n);
	st->fd = malloc(m->file_count * sizeof(*st->fd));
	st->ids = calloc(m->file_count, sizeof(*st->ids));
	if (st->root == NULL || st->part == NULL || st->fd == NULL || st->ids == NULL)
		goto oom;
	snprintf(st->part, n, "%s.part", root);
	for (size_t i = 0; i < m->file_count; i++)
		st->fd[i] = -1;
	if (!complete && create_part(st, err) != 0) {
		tr_storage_free(st);
		return NULL;
	}
	if (complete)
		snapshot(st);
	return st;
oom:
	cm_err_set(err, "out of memory");
	tr_storage_free(st);
	return NULL;
}

void
tr_storage_free(struct tr_storage *st)
{
	if (st == NULL)
		return;
	if (st->fd != NULL)
		close_fds(st);
	free(st->fd);
	free(st->ids);
	free(st->root);
	free(st->part);
	free(st);
}

/* The first file holding byte off (files are sorted by offset). */
static size_t
file_at(const struct tr_meta *m, uint64_t off)
{
	size_t lo = 0, hi = m->file_count;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->files[mid].offset <= off)
			lo = mid;
		else
			hi = mid;
	}
	while (lo + 1 < m->file_count && m->files[lo].length == 0)
		lo++;
	return lo;
}

/* pread (write false) or pwrite of [off, off+len) across the files it spans. */
static int
span_io(struct tr_storage *st, uint64_t off, unsigned char *buf, size_t len, bool write)
{
	const struct tr_meta *m = st->m;

	if (off > m->total_length || len > m->total_length - off) {
		errno = EINVAL;
		return -1;
	}
	for (size_t i = file_at(m, off); len > 0 && i < m->file_count; i++) {
		const struct tr_file *f = &m->files[i];
		uint64_t in = off - f->offset;
		size_t n = f->length - in < len ? (size_t)(f->length - in) : len;
		int fd;

		if (off < f->offset || in >= f->length)
			continue;
		if (f->pad) {
			/* Padding is zeros: read as such, never written (the piece's hash covered
			 * it). */
			if (!write)
				memset(buf, 0, n);
			buf += n;
			off += n;
			len -= n;
			continue;
		}
		if ((fd = file_fd(st, i)) < 0)
			return -1;
		while (n > 0) {
			ssize_t r =
			    write ? pwrite(fd, buf, n, (off_t)in) : pread(fd, buf, n, (off_t)in);

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				if (r == 0)
					errno = EIO;
				return -1;
			}
			buf += r;
			in += (uint64_t)r;
			off += (uint64_t)r;
			len -= (size_t)r;
			n -= (size_t)r;
		}
	}
	return len == 0 ? 0 : -1;
}

int
tr_storage_read(struct tr_storage *st, uint64_t off, void *buf, size_t len)
{
	return span_io(st, off, buf, len, false);
}

static bool
piece_ok(const struct tr_meta *m, uint32_t piece, const unsigned char *data)
{
	unsigned char d[CM_SHA1_BYTES];

	return cm_sha1(data, tr_meta_piece_size(m, piece), d) == 0 &&
	       memcmp(d, m->pieces + (size_t)piece * TR_HASH_LEN, TR_HASH_LEN) == 0;
}

int
tr_storage_put_piece(struct tr_storage *st, uint32_t piece, const unsigned char *data,
                     struct cm_err *err)
{
	if (piece >= st->m->piece_count || st->finished) {
		cm_err_set(err, "piece %u cannot be written", piece);
		return -1;
	}
	if (!piece_ok(st->m, piece, data))
		return 1;
	if (span_io(st, (uint64_t)piece * st->m->piece_length, (unsigned char *)data,
	            tr_meta_piece_size(st->m, piece), true) != 0) {
		cm_err_set(err, "writing piece %u in %s: %s", piece, st->part, strerror(errno));
		return -1;
	}
	return 0;
}

int
tr_storage_check_piece(struct tr_storage *st, uint32_t piece, unsigned char *scratch)
{
	if (piece >= st->m->piece_count)
		return -1;
	if (span_io(st, (uint64_t)piece * st->m->piece_length, scratch,
	            tr_meta_piece_size(st->m, piece), false) != 0)
		return -1;
	return piece_ok(st->m, piece, scratch) ? 1 : 0;
}

void
tr_storage_flush_start(struct tr_storage *st)
{
	for (size_t i = 0; i < st->m->file_count; i++)
		if (st->fd[i] >= 0)
			sync_file_range(st->fd[i], 0, 0, SYNC_FILE_RANGE_WRITE);
}

int
tr_storage_finish(struct tr_storage *st, struct cm_err *err)
{
	struct stat sb;

	if (st->finished)
		return 0;
	for (size_t i = 0; i < st->m->file_count; i++)
		if (st->fd[i] >= 0 && fsync(st->fd[i]) != 0)
			log_warnx("%s: fsync of %s: %s", __func__, st->part, strerror(errno));
	close_fds(st);
	if (lstat(st->root, &sb) == 0) {
		cm_err_set(err, "%s exists already: the download stays at %s", st->root, st->part);
		return -1;
	}
	if (rename(st->part, st->root) != 0) {
		cm_err_set(err, "rename %s: %s", st->part, strerror(errno));
		return -1;
	}
	st->finished = true;
	snapshot(st);
	return 0;
}

/* Removes a folder tree made of the torrent's files (nothing else is ours to remove). */
static void
remove_tree(struct tr_storage *st)
{
	for (size_t i = 0; i < st->m->file_count; i++) {
		char *p = st->m->files[i].pad ? NULL : tr_storage_file_path(st, i);
		char *s;

		if (p == NULL)
			continue;
		unlink(p);
		while ((s = strrchr(p, '/')) != NULL && strlen(p) > strlen(tr_storage_path(st))) {
			*s = '\0';
			if (rmdir(p) != 0)
				break;
		}
		free(p);
	}
	rmdir(tr_storage_path(st));
}

void
tr_storage_delete(struct tr_storage *st)
{
	close_fds(st);
	if (st->m->multi_file)
		remove_tree(st);
	else
		unlink(tr_storage_path(st));
}

struct tr_sha256_job {
	struct tr_storage *st;
	size_t file;
	uint64_t done; /* bytes of file hashed */
	struct cm_digest_ctx h;
	unsigned char *buf;
	char (*out)[65];
};

struct tr_sha256_job *
tr_sha256_job_new(struct tr_storage *st)
{
	struct tr_sha256_job *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return NULL;
	j->st = st;
	j->buf = malloc(1u << 20);
	j->out = calloc(st->m->file_count, sizeof(*j->out));
	if (j->buf == NULL || j->out == NULL || cm_sha256_init(&j->h) != 0) {
		tr_sha256_job_free(j);
		return NULL;
	}
	return j;
}

int
tr_sha256_job_step(struct tr_sha256_job *j, size_t max_bytes, char (*out)[65])
{
	const struct tr_meta *m = j->st->m;

	while (j->file < m->file_count) {
		const struct tr_file *f = &m->files[j->file];

		if (f->pad) {
			j->file++;
			continue;
		}
		if (j->done < f->length) {
			size_t n = f->length - j->done < (1u << 20) ? (size_t)(f->length - j->done)
			                                            : (1u << 20);

			if (max_bytes == 0)
				return 0;
			if (span_io(j->st, f->offset + j->done, j->buf, n, false) != 0)
				return -1;
			cm_digest_update(&j->h, j->buf, n);
			j->done += n;
			max_bytes = max_bytes > n ? max_bytes - n : 0;
			continue;
		}
		{
			unsigned char d[CM_SHA256_BYTES];

			if (cm_digest_final(&j->h, d) != 0 || cm_sha256_init(&j->h) != 0)
				return -1;
			cm_hex_encode(d, sizeof(d), j->out[j->file]);
		}
		j->file++;
		j->done = 0;
	}
	memcpy(out, j->out, m->file_count * sizeof(*out));
	return 1;
}

void
tr_sha256_job_free(struct tr_sha256_job *j)
{
	if (j == NULL)
		return;
	cm_digest_clear(&j->h);
	free(j->buf);
	free(j->out);
	free(j);
}
