/*
 * hasher.c - SHA-1 per piece and SHA-256 per file in one pass (see hasher.h):
 * two threads read the same files, each with its own small buffer, one
 * computing SHA-1 and the other SHA-256. Each copy then stays in its core's
 * cache (sharing large buffers between the cores made the copy from the page
 * cache about twice as slow, docs/performance.md), and neither may run more than
 * TR_HASH_LEAD ahead, so that the second read of a byte finds it in the page
 * cache: the disk is read once.
 */
#define _GNU_SOURCE /* pipe2 */
#include "torrent/hasher.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fb/digest.h"
#include "fb/hex.h"

#define MAX_DEPTH 32

enum { SHA1_THREAD, SHA256_THREAD };

/* One thread's own state. */
struct worker {
	struct tr_hasher *h;
	int id; /* SHA1_THREAD or SHA256_THREAD */
	pthread_t thread;
	unsigned char *buf;
	struct cm_digest_ctx d;
	uint32_t piece, fill; /* SHA-1: the piece being hashed, its bytes so far */
};

struct tr_hasher {
	char *root;
	bool multi;
	struct tr_file *files;
	size_t nfiles, cap;
	uint64_t total;
	uint32_t piece_length, piece_count;
	unsigned char *pieces; /* written by the SHA-1 thread */
	char (*sha256)[65];    /* written by the SHA-256 thread */
	struct worker w[2];
	int nthreads; /* started and not joined yet */
	int pipe[2];  /* the last thread to end writes a byte to pipe[1] */
	/* under lock */
	pthread_mutex_t lock;
	pthread_cond_t moved; /* a waiting thread may go on, or stop */
	uint64_t done[2];     /* bytes each thread has hashed */
	bool waiting[2];      /* in pace, too far ahead */
	bool stop;
	int running;
	struct cm_err err; /* the first failure, when failed */
	bool failed;
};

uint32_t
tr_piece_length_for(uint64_t total)
{
	uint32_t pl = TR_MIN_PIECE;

	while (pl < TR_MAX_PIECE && (total + pl - 1) / pl > 2000)
		pl <<= 1;
	return pl;
}

static int
add_file(struct tr_hasher *h, const char *rel, uint64_t len, struct cm_err *err)
{
	if (h->nfiles == TR_MAX_FILES) {
		cm_err_set(err, "more than %d files", TR_MAX_FILES);
		return -1;
	}
	if (h->nfiles == h->cap) {
		size_t c = h->cap ? 2 * h->cap : 16;
		struct tr_file *f = realloc(h->files, c * sizeof(*f));

		if (f == NULL)
			goto oom;
		h->files = f;
		h->cap = c;
	}
	if ((h->files[h->nfiles].path = strdup(rel)) == NULL)
		goto oom;
	h->files[h->nfiles].length = len;
	h->files[h->nfiles++].offset = 0;
	return 0;
oom:
	cm_err_set(err, "out of memory");
	return -1;
}

/* Adds the regular files under dir (relative to the root: rel, "" at the top). */
static int
walk(struct tr_hasher *h, const char *dir, const char *rel, int depth, struct cm_err *err)
{
	DIR *d;
	struct dirent *e;
	int rc = 0;

	if (depth > MAX_DEPTH) {
		cm_err_set(err, "%s: folders nested deeper than %d", dir, MAX_DEPTH);
		return -1;
	}
	if ((d = opendir(dir)) == NULL) {
		cm_err_set(err, "%s: %s", dir, strerror(errno));
		return -1;
	}
	while (rc == 0 && (e = readdir(d)) != NULL) {
		char full[TR_MAX_PATH + 256], sub[TR_MAX_PATH];
		struct stat sb;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (snprintf(full, sizeof(full), "%s/%s", dir, e->d_name) >= (int)sizeof(full) ||
		    snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "", e->d_name) >=
		        (int)sizeof(sub)) {
			cm_err_set(err, "%s: path too long", dir);
			rc = -1;
		} else if (lstat(full, &sb) != 0) {
			cm_err_set(err, "%s: %s", full, strerror(errno));
			rc = -1;
		} else if (S_ISDIR(sb.st_mode)) {
			rc = walk(h, full, sub, depth + 1, err);
		} else if (S_ISREG(sb.st_mode)) {
			rc = add_file(h, sub, (uint64_t)sb.st_size, err);
		}
	}
	closedir(d);
	return rc;
}

static int
by_path(const void *a, const void *b)
{
	return strcmp(((const struct tr_file *)a)->path, ((const struct tr_file *)b)->path);
}

static int
list_files(struct tr_hasher *h, const char *path, uint64_t max_bytes, struct cm_err *err)
{
	struct stat sb;
	const char *base;

	if (stat(path, &sb) != 0) {
		cm_err_set(err, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (S_ISREG(sb.st_mode)) {
		base = strrchr(path, '/');
		if (add_file(h, base ? base + 1 : path, (uint64_t)sb.st_size, err) != 0)
			return -1;
	} else if (S_ISDIR(sb.st_mode)) {
		h->multi = true;
		if (walk(h, path, "", 0, err) != 0)
			return -1;
		qsort(h->files, h->nfiles, sizeof(*h->files), by_path);
	} else {
		cm_err_set(err, "%s: neither a file nor a folder", path);
		return -1;
	}
	for (size_t i = 0; i < h->nfiles; i++) {
		h->files[i].offset = h->total;
		h->total += h->files[i].length;
		if (h->total > max_bytes) {
			cm_err_set(err, "%s: more than %llu bytes", path,
			           (unsigned long long)max_bytes);
			return -1;
		}
	}
	if (h->total == 0) {
		cm_err_set(err, "%s: no content", path);
		return -1;
	}
	return 0;
}

/* Records the first failure and stops both threads. */
static void
set_failed(struct tr_hasher *h, const struct cm_err *err)
{
	pthread_mutex_lock(&h->lock);
	if (!h->failed) {
		h->failed = true;
		h->err = *err;
	}
	h->stop = true;
	pthread_cond_broadcast(&h->moved);
	pthread_mutex_unlock(&h->lock);
}

/* The last thread to end tells the loop, which then joins both. */
static void
thread_end(struct tr_hasher *h)
{
	bool last;
	ssize_t r;

	pthread_mutex_lock(&h->lock);
	last = --h->running == 0;
	pthread_mutex_unlock(&h->lock);
	if (!last)
		return;
	do
		r = write(h->pipe[1], "", 1);
	while (r < 0 && errno == EINTR);
}

/* Ends the piece's SHA-1 and starts the next one's. */
static int
finish_piece(struct worker *w)
{
	int rc = cm_digest_final(&w->d, w->h->pieces + (size_t)w->piece * TR_HASH_LEN);

	w->piece++;
	w->fill = 0;
	return rc == 0 && cm_sha1_init(&w->d) == 0 ? 0 : -1;
}

/* Feeds n bytes into the piece hash, closing pieces at their boundaries. */
static int
feed_pieces(struct worker *w, const unsigned char *p, size_t n)
{
	while (n > 0) {
		uint32_t room = w->h->piece_length - w->fill;
		size_t k = n < room ? n : room;

		if (cm_digest_update(&w->d, p, k) != 0)
			return -1;
		w->fill += (uint32_t)k;
		p += k;
		n -= k;
		if (w->fill == w->h->piece_length && finish_piece(w) != 0)
			return -1;
	}
	return 0;
}

/*
 * Counts n more bytes hashed by w. A thread more than TR_HASH_LEAD ahead of
 * the other waits until it is only half that ahead: one wake-up for every
 * TR_HASH_LEAD / 2 bytes, not one for every read. false when told to stop.
 */
static bool
pace(struct worker *w, uint64_t n)
{
	struct tr_hasher *h = w->h;
	int me = w->id, other = !w->id;
	bool go;

	pthread_mutex_lock(&h->lock);
	h->done[me] += n;
	if (h->waiting[other] && h->done[other] <= h->done[me] + TR_HASH_LEAD / 2)
		pthread_cond_signal(&h->moved);
	if (h->done[me] > h->done[other] + TR_HASH_LEAD) {
		h->waiting[me] = true;
		while (!h->stop && h->done[me] > h->done[other] + TR_HASH_LEAD / 2)
			pthread_cond_wait(&h->moved, &h->lock);
		h->waiting[me] = false;
	}
	go = !h->stop;
	pthread_mutex_unlock(&h->lock);
	return go;
}

/* Reads file i and hashes it: its pieces' SHA-1 or its SHA-256. */
static int
hash_file(struct worker *w, size_t i, struct cm_err *err)
{
	struct tr_hasher *h = w->h;
	const struct tr_file *f = &h->files[i];
	char path[TR_MAX_PATH + 256];
	struct stat sb;
	uint64_t off = 0;
	int fd, rc = -1;

	if (h->multi)
		snprintf(path, sizeof(path), "%s/%s", h->root, f->path);
	else
		snprintf(path, sizeof(path), "%s", h->root);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		cm_err_set(err, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) != 0 || (uint64_t)sb.st_size != f->length) {
		cm_err_set(err, "%s changed while it was hashed", f->path);
		goto done;
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	while (off < f->length) {
		size_t want =
		    f->length - off < TR_HASH_READ ? (size_t)(f->length - off) : TR_HASH_READ;
		ssize_t r = pread(fd, w->buf, want, (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			cm_err_set(err, "%s: %s", f->path, strerror(errno));
			goto done;
		}
		if (r == 0) {
			cm_err_set(err, "%s changed while it was hashed", f->path);
			goto done;
		}
		if ((w->id == SHA1_THREAD ? feed_pieces(w, w->buf, (size_t)r)
		                          : cm_digest_update(&w->d, w->buf, (size_t)r)) != 0) {
			cm_err_set(err, "%s failed", w->id == SHA1_THREAD ? "SHA-1" : "SHA-256");
			goto done;
		}
		off += (uint64_t)r;
		if (!pace(w, (uint64_t)r)) {
			cm_err_set(err, "stopped");
			goto done;
		}
	}
	if (w->id == SHA256_THREAD) {
		unsigned char out[CM_SHA256_BYTES];

		if (cm_digest_final(&w->d, out) != 0 || cm_sha256_init(&w->d) != 0) {
			cm_err_set(err, "SHA-256 failed");
			goto done;
		}
		cm_hex_encode(out, sizeof(out), h->sha256[i]);
	}
	rc = 0;
done:
	close(fd);
	return rc;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct tr_hasher *h = w->h;
	struct cm_err err = {{0}};
	int rc = w->id == SHA1_THREAD ? cm_sha1_init(&w->d) : cm_sha256_init(&w->d);

	if (rc != 0)
		cm_err_set(&err, "%s failed", w->id == SHA1_THREAD ? "SHA-1" : "SHA-256");
	for (size_t i = 0; rc == 0 && i < h->nfiles; i++)
		rc = hash_file(w, i, &err);
	if (rc == 0 && w->fill > 0 && finish_piece(w) != 0) {
		cm_err_set(&err, "SHA-1 failed");
		rc = -1;
	}
	cm_digest_clear(&w->d);
	if (rc != 0)
		set_failed(h, &err);
	thread_end(h);
	return NULL;
}

/* Starts both threads with every signal blocked: signals belong to the loop's thread. */
static int
start_threads(struct tr_hasher *h)
{
	sigset_t all, old;
	int rc = 0;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	h->running = 2;
	for (int i = 0; rc == 0 && i < 2; i++) {
		h->w[i].h = h;
		h->w[i].id = i;
		if (pthread_create(&h->w[i].thread, NULL, worker_main, &h->w[i]) != 0)
			rc = -1;
		else
			h->nthreads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

static void
join_threads(struct tr_hasher *h)
{
	for (int i = 0; i < h->nthreads; i++)
		pthread_join(h->w[i].thread, NULL);
	h->nthreads = 0;
}

struct tr_hasher *
tr_hasher_new(const char *path, uint64_t max_bytes, struct cm_err *err)
{
	struct tr_hasher *h = calloc(1, sizeof(*h));

	if (h == NULL)
		goto oom;
	h->pipe[0] = h->pipe[1] = -1;
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->moved, NULL);
	if ((h->root = strdup(path)) == NULL)
		goto oom;
	if (list_files(h, path, max_bytes, err) != 0)
		goto fail;
	h->piece_length = tr_piece_length_for(h->total);
	h->piece_count = (uint32_t)((h->total + h->piece_length - 1) / h->piece_length);
	h->pieces = malloc((size_t)h->piece_count * TR_HASH_LEN);
	h->sha256 = calloc(h->nfiles, sizeof(*h->sha256));
	if (h->pieces == NULL || h->sha256 == NULL)
		goto oom;
	for (int i = 0; i < 2; i++)
		if ((h->w[i].buf = malloc(TR_HASH_READ)) == NULL)
			goto oom;
	if (pipe2(h->pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
		cm_err_set(err, "pipe: %s", strerror(errno));
		goto fail;
	}
	if (start_threads(h) != 0) {
		cm_err_set(err, "cannot start the hashing threads");
		goto fail;
	}
	return h;
oom:
	cm_err_set(err, "out of memory");
fail:
	tr_hasher_free(h);
	return NULL;
}

void
tr_hasher_free(struct tr_hasher *h)
{
	if (h == NULL)
		return;
	if (h->nthreads > 0) {
		pthread_mutex_lock(&h->lock);
		h->stop = true;
		pthread_cond_broadcast(&h->moved);
		pthread_mutex_unlock(&h->lock);
		join_threads(h);
	}
	pthread_mutex_destroy(&h->lock);
	pthread_cond_destroy(&h->moved);
	for (int i = 0; i < 2; i++)
		if (h->pipe[i] >= 0)
			close(h->pipe[i]);
	for (int i = 0; i < 2; i++)
		free(h->w[i].buf);
	for (size_t i = 0; i < h->nfiles; i++)
		free(h->files[i].path);
	free(h->files);
	free(h->pieces);
	free(h->sha256);
	free(h->root);
	free(h);
}

int
tr_hasher_fd(const struct tr_hasher *h)
{
	return h->pipe[0];
}

int
tr_hasher_finish(struct tr_hasher *h, struct cm_err *err)
{
	join_threads(h);
	if (h->failed) {
		cm_err_set(err, "%s", h->err.msg);
		return -1;
	}
	return 0;
}

bool
tr_hasher_multi_file(const struct tr_hasher *h)
{
	return h->multi;
}

const struct tr_file *
tr_hasher_files(const struct tr_hasher *h, size_t *count)
{
	*count = h->nfiles;
	return h->files;
}

uint32_t
tr_hasher_piece_length(const struct tr_hasher *h)
{
	return h->piece_length;
}

const unsigned char *
tr_hasher_pieces(const struct tr_hasher *h, uint32_t *count)
{
	*count = h->piece_count;
	return h->pieces;
}

const char (*tr_hasher_sha256(const struct tr_hasher *h))[65]
{
	return (const char(*)[65])h->sha256;
}

uint64_t
tr_hasher_total(const struct tr_hasher *h)
{
	return h->total;
}
