/*
 * metainfo.c - .torrent files and info dictionaries (see metainfo.h). The
 * dictionaries are read and written through field tables; what no table can
 * say (one of length and files, the piece count against the size, every
 * path) is checked here, in one place that both parsing and building pass
 * through: tr_meta_build encodes its info dictionary and reads it back.
 */
#include "torrent/metainfo.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fb/bencode.h"
#include "fb/digest.h"
#include "fb/hex.h"

#define MAX_COMPONENTS 256 /* path components of one file */
#define MAX_TIERS 256      /* announce-list tiers, and trackers in one tier, we read */
#define MAX_URL_LIST 256   /* url-list entries we read */

struct w_file {
	char *attr; /* BEP 47: "p" padding, "x" executable, "h" hidden, "l" link */
	int64_t length;
	struct cm_strlist path;
};

struct w_info {
	bool has_files;
	struct cm_blist files; /* of struct w_file */
	bool has_length;
	int64_t length;
	char *name;
	int64_t piece_length;
	struct cm_bbytes pieces;
};

struct w_torrent {
	char *announce;
	struct cm_strlists announce_list;
	char *created_by;
	bool has_creation_date;
	int64_t creation_date;
	struct cm_bbytes info;
	struct cm_strlist url_list;
};

static const struct cm_bfield file_fields[] = {
	{"attr", CB_STR, 0, offsetof(struct w_file, attr), 0, 16, 0, NULL, 0},
	{"length", CB_INT, CB_REQ, offsetof(struct w_file, length), 0, (int64_t)TR_MAX_TOTAL, 0,
	 NULL, 0},
	{"path", CB_STRLIST, CB_REQ, offsetof(struct w_file, path), 0, MAX_COMPONENTS,
	 TR_MAX_NAME, NULL, 0},
};
static const struct cm_btype file_type = {"file", file_fields, 3, sizeof(struct w_file)};

static const struct cm_bfield info_fields[] = {
	{"files", CB_LIST, CB_HAS, offsetof(struct w_info, files), 0, TR_MAX_FILES, 0, &file_type,
	 offsetof(struct w_info, has_files)},
	{"length", CB_INT, CB_HAS, offsetof(struct w_info, length), 0, (int64_t)TR_MAX_TOTAL, 0,
	 NULL, offsetof(struct w_info, has_length)},
	{"name", CB_STR, CB_REQ, offsetof(struct w_info, name), 0, TR_MAX_NAME, 0, NULL, 0},
	{"piece length", CB_INT, CB_REQ, offsetof(struct w_info, piece_length), TR_MIN_PIECE,
	 TR_MAX_PIECE, 0, NULL, 0},
	{"pieces", CB_BYTES, CB_REQ, offsetof(struct w_info, pieces), TR_HASH_LEN,
	 TR_MAX_METADATA, TR_HASH_LEN, NULL, 0},
};
static const struct cm_btype info_type = {"info", info_fields, 5, sizeof(struct w_info)};

static const struct cm_bfield torrent_fields[] = {
	{"announce", CB_STR, 0, offsetof(struct w_torrent, announce), 0, TR_MAX_URL, 0, NULL, 0},
	{"announce-list", CB_STRLISTS, 0, offsetof(struct w_torrent, announce_list), 0,
	 MAX_TIERS, TR_MAX_URL, NULL, 0},
	{"created by", CB_STR, CB_OUT, offsetof(struct w_torrent, created_by), 0, 0, 0, NULL, 0},
	{"creation date", CB_INT, CB_OUT | CB_HAS, offsetof(struct w_torrent, creation_date), 0,
	 0, 0, NULL, offsetof(struct w_torrent, has_creation_date)},
	{"info", CB_RAW, CB_REQ, offsetof(struct w_torrent, info), 0, 0, 0, NULL, 0},
	{"url-list", CB_STRLIST, CB_ONE, offsetof(struct w_torrent, url_list), 0, MAX_URL_LIST,
	 TR_MAX_URL, NULL, 0},
};
static const struct cm_btype torrent_type = {"torrent", torrent_fields, 6,
					     sizeof(struct w_torrent)};

const struct cm_btype *const *
tr_meta_types(size_t *n)
{
	static const struct cm_btype *const types[] = {&torrent_type, &info_type, &file_type};

	*n = sizeof(types) / sizeof(types[0]);
	return types;
}

/* One component of a path (or the name): something a file system takes as one name, inside. */
static int
check_component(const char *c, const char *what, struct cm_err *err)
{
	if (c[0] == '\0') {
		cm_err_set(err, "%s: an empty path component", what);
		return -1;
	}
	if (strcmp(c, ".") == 0 || strcmp(c, "..") == 0) {
		cm_err_set(err, "%s: path component \"%s\"", what, c);
		return -1;
	}
	if (strpbrk(c, "/\\") != NULL) {
		cm_err_set(err, "%s: a slash or backslash in path component \"%s\"", what, c);
		return -1;
	}
	return 0;
}

/* The components joined with '/', each checked, at most TR_MAX_PATH bytes. */
static char *
join_path(const struct cm_strlist *path, const char *what, struct cm_err *err)
{
	size_t n = 0;
	char *out;

	if (path->len == 0) {
		cm_err_set(err, "%s: an empty path", what);
		return NULL;
	}
	for (size_t i = 0; i < path->len; i++) {
		if (check_component(path->items[i], what, err) != 0)
			return NULL;
		n += strlen(path->items[i]) + 1; /* at most MAX_COMPONENTS * 256: no overflow */
	}
	if (n - 1 > TR_MAX_PATH) {
		cm_err_set(err, "%s: longer than %d bytes", what, TR_MAX_PATH);
		return NULL;
	}
	if ((out = cm_join((const char *const *)path->items, path->len, "/")) == NULL)
		cm_err_set(err, "%s: out of memory", what);
	return out;
}

/* '/' sorts right after the end of a string and before every other byte. */
static int
path_rank(unsigned char c)
{
	return c == '\0' ? 0 : c == '/' ? 1 : c + 2;
}

/* So a file's name is followed at once by the paths under it as a folder, if any. */
static int
path_cmp(const void *a, const void *b)
{
	const unsigned char *x = *(const unsigned char *const *)a;
	const unsigned char *y = *(const unsigned char *const *)b;

	for (; *x != '\0' && *x == *y; x++, y++)
		;
	return path_rank(*x) - path_rank(*y);
}

/*
 * No two files at one path, and no file where another one's folder is ("a"
 * and "a/b"). Padding files are never on disk, and libtorrent names them by
 * their size (".pad/15384"), so they are left out.
 */
static int
check_unique_paths(const struct tr_meta *m, struct cm_err *err)
{
	const char **paths = malloc(m->file_count * sizeof(*paths));
	size_t n = 0;
	int rc = 0;

	if (paths == NULL) {
		cm_err_set(err, "info.files: out of memory");
		return -1;
	}
	for (size_t i = 0; i < m->file_count; i++)
		if (!m->files[i].pad)
			paths[n++] = m->files[i].path;
	qsort(paths, n, sizeof(*paths), path_cmp);
	for (size_t i = 1; i < n && rc == 0; i++) {
		size_t n = strlen(paths[i - 1]);

		if (strcmp(paths[i - 1], paths[i]) == 0) {
			cm_err_set(err, "info.files: two files at \"%s\"", paths[i]);
			rc = -1;
		} else if (strncmp(paths[i - 1], paths[i], n) == 0 && paths[i][n] == '/') {
			cm_err_set(err, "info.files: \"%s\" is a file and a folder", paths[i - 1]);
			rc = -1;
		}
	}
	free(paths);
	return rc;
}

static int
read_files(const struct w_info *w, struct tr_meta *m, struct cm_err *err)
{
	const struct w_file *wf = w->files.items;
	char what[64];

	if (w->has_files == w->has_length) {
		cm_err_set(err, "info: %s", w->has_files ? "both length and files" :
							   "neither length nor files");
		return -1;
	}
	m->multi_file = w->has_files;
	m->file_count = w->has_files ? w->files.len : 1;
	if (m->file_count == 0) {
		cm_err_set(err, "info.files: empty");
		return -1;
	}
	if ((m->files = calloc(m->file_count, sizeof(*m->files))) == NULL) {
		cm_err_set(err, "info: out of memory");
		return -1;
	}
	if (!w->has_files) {
		m->total_length = (uint64_t)w->length;
		m->files[0].length = m->total_length;
		if ((m->files[0].path = strdup(w->name)) == NULL) {
			cm_err_set(err, "info: out of memory");
			return -1;
		}
		return 0;
	}
	for (size_t i = 0; i < m->file_count; i++) {
		snprintf(what, sizeof(what), "info.files[%zu].path", i);
		if ((m->files[i].path = join_path(&wf[i].path, what, err)) == NULL)
			return -1;
		m->files[i].length = (uint64_t)wf[i].length;
		m->files[i].offset = m->total_length;
		m->files[i].pad = wf[i].attr != NULL && strchr(wf[i].attr, 'p') != NULL;
		/* each length is at most TR_MAX_TOTAL, so the sum cannot wrap before the check */
		m->total_length += m->files[i].length;
		if (m->total_length > TR_MAX_TOTAL) {
			cm_err_set(err, "info.files: more than %llu bytes in all",
				   (unsigned long long)TR_MAX_TOTAL);
			return -1;
		}
	}
	return check_unique_paths(m, err);
}

static int
read_pieces(const struct w_info *w, struct tr_meta *m, struct cm_err *err)
{
	uint64_t pl = (uint64_t)w->piece_length, want;

	if ((pl & (pl - 1)) != 0) {
		cm_err_set(err, "info.piece length: %" PRIu64 " is not a power of two", pl);
		return -1;
	}
	if (m->total_length == 0) {
		cm_err_set(err, "info: no content (0 bytes)");
		return -1;
	}
	want = (m->total_length + pl - 1) / pl;
	if (w->pieces.len / TR_HASH_LEN != want) {
		cm_err_set(err,
			   "info.pieces: %zu hashes for %" PRIu64 " bytes in pieces of %" PRIu64
			   ", want %" PRIu64,
			   w->pieces.len / TR_HASH_LEN, m->total_length, pl, want);
		return -1;
	}
	m->piece_length = (uint32_t)pl;
	m->piece_count = (uint32_t)want; /* at most TR_MAX_TOTAL / TR_MIN_PIECE */
	if ((m->pieces = malloc(w->pieces.len)) == NULL) {
		cm_err_set(err, "info: out of memory");
		return -1;
	}
	memcpy(m->pieces, w->pieces.data, w->pieces.len);
	return 0;
}

/* Reads the info dictionary into m (zeroed first); m holds a copy of the bytes. */
static int
read_info(const void *info, size_t len, struct tr_meta *m, struct cm_err *err)
{
	struct cm_blimits lim = {.max_bytes = TR_MAX_METADATA};
	struct w_info w = {0};
	struct cm_bdoc *d;
	struct cm_err e;
	int rc = -1;

	memset(m, 0, sizeof(*m));
	if ((d = cm_bdecode(info, len, &lim, &e)) == NULL) {
		cm_err_set(err, "info: %s", e.msg);
		return -1;
	}
	if (cm_bstruct_decode(cm_bdoc_root(d), &info_type, &w, err) != 0)
		goto end;
	if (check_component(w.name, "info.name", err) != 0 || read_files(&w, m, err) != 0 ||
	    read_pieces(&w, m, err) != 0)
		goto end;
	if ((m->name = strdup(w.name)) == NULL || (m->info = malloc(len)) == NULL) {
		cm_err_set(err, "info: out of memory");
		goto end;
	}
	memcpy(m->info, info, len);
	m->info_len = len;
	if (cm_sha1(info, len, m->info_hash) != 0) {
		cm_err_set(err, "info: SHA-1 failed");
		goto end;
	}
	cm_hex_encode(m->info_hash, TR_HASH_LEN, m->info_hash_hex);
	rc = 0;
end:
	cm_bstruct_clear(&info_type, &w);
	cm_bdoc_free(d);
	if (rc != 0)
		tr_meta_clear(m);
	return rc;
}

int
tr_meta_from_info(const void *info, size_t len, const unsigned char expect[TR_HASH_LEN],
		  struct tr_meta *out, struct cm_err *err)
{
	char want[TR_HEX_LEN + 1];

	if (read_info(info, len, out, err) != 0)
		return -1;
	if (expect != NULL && memcmp(out->info_hash, expect, TR_HASH_LEN) != 0) {
		cm_hex_encode(expect, TR_HASH_LEN, want);
		cm_err_set(err, "info: its SHA-1 is %s, not the info hash %s", out->info_hash_hex,
			   want);
		tr_meta_clear(out);
		return -1;
	}
	return 0;
}

/* Appends url unless empty, already there, or max are held (see metainfo.h). */
static int
add_url(struct cm_strlist *l, const char *url, size_t max)
{
	if (url == NULL || url[0] == '\0' || l->len >= max)
		return 0;
	for (size_t i = 0; i < l->len; i++)
		if (strcmp(l->items[i], url) == 0)
			return 0;
	return cm_strlist_append(l, url);
}

static int
add_urls(struct tr_meta *m, const struct cm_strlist *trackers, const struct cm_strlist *seeds)
{
	for (size_t i = 0; trackers != NULL && i < trackers->len; i++)
		if (add_url(&m->trackers, trackers->items[i], TR_MAX_TRACKERS) != 0)
			return -1;
	for (size_t i = 0; seeds != NULL && i < seeds->len; i++)
		if (add_url(&m->web_seeds, seeds->items[i], TR_MAX_WEB_SEEDS) != 0)
			return -1;
	return 0;
}

int
tr_meta_from_torrent(const void *buf, size_t len, struct tr_meta *out, struct cm_err *err)
{
	struct cm_blimits lim = {.max_bytes = TR_MAX_TORRENT_FILE};
	struct w_torrent w = {0};
	struct cm_bdoc *d;
	struct cm_err e;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if ((d = cm_bdecode(buf, len, &lim, &e)) == NULL) {
		cm_err_set(err, "torrent: %s", e.msg);
		return -1;
	}
	if (cm_bstruct_decode(cm_bdoc_root(d), &torrent_type, &w, err) != 0 ||
	    read_info(w.info.data, w.info.len, out, err) != 0)
		goto end;
	if (add_url(&out->trackers, w.announce, TR_MAX_TRACKERS) != 0)
		goto oom;
	for (size_t i = 0; i < w.announce_list.len; i++)
		if (add_urls(out, &w.announce_list.items[i], NULL) != 0)
			goto oom;
	if (add_urls(out, NULL, &w.url_list) != 0)
		goto oom;
	rc = 0;
	goto end;
oom:
	cm_err_set(err, "torrent: out of memory");
	tr_meta_clear(out);
end:
	cm_bstruct_clear(&torrent_type, &w);
	cm_bdoc_free(d);
	return rc;
}

/* A relative path ("a/b.bin") as its components; empty ones are kept for the checks to refuse. */
static int
split_path(const char *path, struct cm_strlist *out)
{
	const char *p = path;

	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash != NULL ? (size_t)(slash - p) : strlen(p);
		char *c = strndup(p, n);
		int rc = c != NULL ? cm_strlist_append(out, c) : -1;

		free(c);
		if (rc != 0)
			return -1;
		if (slash == NULL)
			return 0;
		p = slash + 1;
	}
}

/* The info dictionary of the parts, in the table's canonical encoding. */
static int
build_info(struct w_info *w, const char *name, bool multi_file, const struct tr_file *files,
	   size_t file_count, uint32_t piece_length, const unsigned char *pieces,
	   uint32_t piece_count, struct cm_err *err)
{
	struct w_file *wf;

	if ((w->name = strdup(name)) == NULL)
		goto oom;
	w->piece_length = piece_length;
	if ((w->pieces.data = malloc((size_t)piece_count * TR_HASH_LEN + 1)) == NULL)
		goto oom;
	memcpy(w->pieces.data, pieces, (size_t)piece_count * TR_HASH_LEN);
	w->pieces.len = (size_t)piece_count * TR_HASH_LEN;
	for (size_t i = 0; i < file_count; i++)
		if (files[i].length > TR_MAX_TOTAL) {
			cm_err_set(err, "build: file %zu: more than %llu bytes", i,
				   (unsigned long long)TR_MAX_TOTAL);
			return -1;
		}
	if (!multi_file) {
		w->has_length = true;
		w->length = (int64_t)files[0].length;
		return 0;
	}
	if ((w->files.items = wf = calloc(file_count, sizeof(*wf))) == NULL)
		goto oom;
	w->files.len = file_count;
	w->has_files = true;
	for (size_t i = 0; i < file_count; i++) {
		if (files[i].path == NULL) {
			cm_err_set(err, "build: file %zu has no path", i);
			return -1;
		}
		wf[i].length = (int64_t)files[i].length;
		if (split_path(files[i].path, &wf[i].path) != 0)
			goto oom;
	}
	return 0;
oom:
	cm_err_set(err, "build: out of memory");
	return -1;
}

int
tr_meta_build(struct tr_meta *m, const char *name, bool multi_file, const struct tr_file *files,
	      size_t file_count, uint32_t piece_length, const unsigned char *pieces,
	      uint32_t piece_count, const struct cm_strlist *trackers,
	      const struct cm_strlist *web_seeds, struct cm_err *err)
{
	struct w_info w = {0};
	struct cm_benc e;
	char *info = NULL;
	size_t info_len;
	int rc = -1;

	memset(m, 0, sizeof(*m));
	if (name == NULL || file_count == 0 || (!multi_file && file_count != 1) ||
	    file_count > TR_MAX_FILES) {
		cm_err_set(err, "build: %zu files for a %s torrent", file_count,
			   multi_file ? "multi-file" : "single-file");
		return -1;
	}
	if (build_info(&w, name, multi_file, files, file_count, piece_length, pieces, piece_count,
		       err) != 0)
		goto end;
	cm_benc_init(&e, TR_MAX_METADATA);
	cm_bstruct_encode(&e, &info_type, &w);
	if (cm_benc_finish(&e, &info, &info_len) != 0) {
		cm_err_set(err, "build: the info dictionary does not fit %u bytes", TR_MAX_METADATA);
		goto end;
	}
	/* the checks of a received torrent hold for one we make */
	if (read_info(info, info_len, m, err) != 0)
		goto end;
	if (add_urls(m, trackers, web_seeds) != 0) {
		cm_err_set(err, "build: out of memory");
		tr_meta_clear(m);
		goto end;
	}
	rc = 0;
end:
	free(info);
	cm_bstruct_clear(&info_type, &w);
	return rc;
}

int
tr_meta_to_torrent(const struct tr_meta *m, char **out, size_t *out_len)
{
	struct cm_strlist tiers[TR_MAX_TRACKERS];
	struct w_torrent w = {0};
	struct cm_benc e;

	/* borrowed from m: nothing here is freed but the encoder's buffer */
	if (m->trackers.len > 0)
		w.announce = m->trackers.items[0];
	if (m->trackers.len > 1) {
		for (size_t i = 0; i < m->trackers.len && i < TR_MAX_TRACKERS; i++)
			tiers[i] = (struct cm_strlist){&m->trackers.items[i], 1};
		w.announce_list.items = tiers;
		w.announce_list.len = m->trackers.len < TR_MAX_TRACKERS ? m->trackers.len :
									  TR_MAX_TRACKERS;
	}
	w.created_by = (char *)"flashback";
	w.has_creation_date = m->creation_date != 0;
	w.creation_date = m->creation_date;
	w.info.data = m->info;
	w.info.len = m->info_len;
	w.url_list = m->web_seeds;
	cm_benc_init(&e, TR_MAX_TORRENT_FILE);
	cm_bstruct_encode(&e, &torrent_type, &w);
	return cm_benc_finish(&e, out, out_len);
}

void
tr_meta_clear(struct tr_meta *m)
{
	free(m->name);
	free(m->pieces);
	for (size_t i = 0; m->files != NULL && i < m->file_count; i++)
		free(m->files[i].path);
	free(m->files);
	free(m->info);
	cm_strlist_clear(&m->trackers);
	cm_strlist_clear(&m->web_seeds);
	memset(m, 0, sizeof(*m));
}

uint32_t
tr_meta_piece_size(const struct tr_meta *m, uint32_t i)
{
	if (i >= m->piece_count)
		return 0;
	if (i + 1 < m->piece_count)
		return m->piece_length;
	return (uint32_t)(m->total_length - (uint64_t)i * m->piece_length);
}
