/* hasher.c - SHA-1 per piece and SHA-256 per file in one pass (see hasher.h). */
#include "torrent/hasher.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fb/digest.h"
#include "fb/hex.h"

#define MAX_DEPTH 32

struct tr_hasher {
	char *root;
	bool multi;
	struct tr_file *files;
	size_t nfiles, cap;
	uint64_t total;
	uint32_t piece_length, piece_count;
	unsigned char *pieces;
	char (*sha256)[65];
	/* progress */
	size_t file;
	uint64_t file_done;
	int fd;
	uint32_t piece;      /* piece being hashed */
	uint32_t piece_fill; /* its bytes hashed so far */
	struct cm_digest_ctx h1, h256;
	unsigned char *buf;
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

struct tr_hasher *
tr_hasher_new(const char *path, uint64_t max_bytes, struct cm_err *err)
{
	struct tr_hasher *h = calloc(1, sizeof(*h));

	if (h == NULL || (h->root = strdup(path)) == NULL)
		goto oom;
	h->fd = -1;
	if (list_files(h, path, max_bytes, err) != 0)
		goto fail;
	h->piece_length = tr_piece_length_for(h->total);
	h->piece_count = (uint32_t)((h->total + h->piece_length - 1) / h->piece_length);
	h->pieces = malloc((size_t)h->piece_count * TR_HASH_LEN);
	h->sha256 = calloc(h->nfiles, sizeof(*h->sha256));
	h->buf = malloc(TR_HASH_READ);
	if (h->pieces == NULL || h->sha256 == NULL || h->buf == NULL)
		goto oom;
	if (cm_sha1_init(&h->h1) != 0 || cm_sha256_init(&h->h256) != 0)
		goto oom;
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
	if (h->fd >= 0)
		close(h->fd);
	cm_digest_clear(&h->h1);
	cm_digest_clear(&h->h256);
	for (size_t i = 0; i < h->nfiles; i++)
		free(h->files[i].path);
	free(h->files);
	free(h->pieces);
	free(h->sha256);
	free(h->buf);
	free(h->root);
	free(h);
}

/* Ends the piece's SHA-1 and starts the next one's. */
static int
finish_piece(struct tr_hasher *h)
{
	int rc = cm_digest_final(&h->h1, h->pieces + (size_t)h->piece * TR_HASH_LEN);

	h->piece++;
	h->piece_fill = 0;
	return rc == 0 && cm_sha1_init(&h->h1) == 0 ? 0 : -1;
}

/* Feeds n bytes into the piece hash, closing pieces at their boundaries. */
static void
feed_pieces(struct tr_hasher *h, const unsigned char *p, size_t n)
{
	while (n > 0) {
		uint32_t room = h->piece_length - h->piece_fill;
		size_t k = n < room ? n : room;

		cm_digest_update(&h->h1, p, k);
		h->piece_fill += (uint32_t)k;
		p += k;
		n -= k;
		if (h->piece_fill == h->piece_length) {
			finish_piece(h);
		}
	}
}

static int
open_file(struct tr_hasher *h, struct cm_err *err)
{
	char path[TR_MAX_PATH + 256];

	if (h->multi)
		snprintf(path, sizeof(path), "%s/%s", h->root, h->files[h->file].path);
	else
		snprintf(path, sizeof(path), "%s", h->root);
	if ((h->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		cm_err_set(err, "%s: %s", path, strerror(errno));
		return -1;
	}
	posix_fadvise(h->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	return 0;
}

int
tr_hasher_step(struct tr_hasher *h, size_t max_bytes, struct cm_err *err)
{
	size_t budget = max_bytes;

	while (h->file < h->nfiles) {
		const struct tr_file *f = &h->files[h->file];
		ssize_t r;

		if (h->file_done == f->length) {
			unsigned char d[CM_SHA256_BYTES];

			if (cm_digest_final(&h->h256, d) != 0 || cm_sha256_init(&h->h256) != 0) {
				cm_err_set(err, "SHA-256 failed");
				return -1;
			}
			cm_hex_encode(d, sizeof(d), h->sha256[h->file]);
			if (h->fd >= 0)
				close(h->fd);
			h->fd = -1;
			h->file++;
			h->file_done = 0;
			continue;
		}
		if (budget == 0)
			return 0;
		if (h->fd < 0 && open_file(h, err) != 0)
			return -1;
		r = read(h->fd, h->buf, TR_HASH_READ);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || (uint64_t)r > f->length - h->file_done) {
			cm_err_set(err, "%s changed while it was hashed", f->path);
			return -1;
		}
		cm_digest_update(&h->h256, h->buf, (size_t)r);
		feed_pieces(h, h->buf, (size_t)r);
		h->file_done += (uint64_t)r;
		budget = budget > (size_t)r ? budget - (size_t)r : 0;
	}
	if (h->piece_fill > 0 && finish_piece(h) != 0) {
		cm_err_set(err, "SHA-1 failed");
		return -1;
	}
	return 1;
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
