/*
 * store.c - what survives a restart, under the client's state_dir: each
 * torrent's <info_hash>.torrent (once its metadata is known) and
 * <info_hash>.state, a small bencoded dictionary (where its data goes or is,
 * paused, the SHA-256 of its files once complete, the magnet it came from).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fb/bencode.h"
#include "fb/file.h"
#include "fb/hex.h"
#include "fb/log.h"
#include "torrent/torrent_internal.h"

#define STATE_MAX (64u * 1024 + TR_MAX_FILES * 70u)

char *
tr_store_path(const struct tr_client *c, const char *hex, const char *ext)
{
	size_t n = strlen(c->cfg.state_dir) + strlen(hex) + strlen(ext) + 2;
	char *p = malloc(n);

	if (p != NULL)
		snprintf(p, n, "%s/%s%s", c->cfg.state_dir, hex, ext);
	return p;
}

static void
key_str(struct cm_benc *e, const char *key, const char *v)
{
	if (v == NULL)
		return;
	cm_benc_key(e, key);
	cm_benc_cstr(e, v);
}

int
tr_store_save(const struct tr_torrent *t)
{
	struct cm_benc e;
	struct cm_err err = {{0}};
	char *out = NULL, *path;
	size_t len;
	int rc = -1;
	bool sha = t->has_meta && t->file_sha != NULL && t->file_sha[0][0] != '\0' &&
	           (t->state == TR_SEEDING || t->state == TR_PAUSED);

	cm_benc_init(&e, STATE_MAX);
	cm_benc_dict(&e);
	cm_benc_key(&e, "created");
	cm_benc_int(&e, t->created);
	key_str(&e, "dest", t->dest_dir);
	key_str(&e, "expect", t->expect_sha256);
	key_str(&e, "hint", t->hint_sha256);
	/* Kept after the metadata came: its peers, trackers and web seeds are needed to resume. */
	key_str(&e, "magnet", t->magnet_src);
	key_str(&e, "name", t->name);
	cm_benc_key(&e, "paused");
	cm_benc_int(&e, t->paused);
	key_str(&e, "root", t->root);
	if (sha) {
		cm_benc_key(&e, "sha256");
		cm_benc_list(&e);
		for (size_t i = 0; i < t->meta.file_count; i++)
			cm_benc_cstr(&e, t->file_sha[i]);
		cm_benc_end(&e);
	}
	cm_benc_end(&e);
	if (cm_benc_finish(&e, &out, &len) != 0) {
		cm_benc_clear(&e);
		return -1;
	}
	if ((path = tr_store_path(t->c, t->hex, ".state")) != NULL &&
	    cm_file_write_atomic(path, out, len, 0600, &err) == 0)
		rc = 0;
	else
		log_warnx("%s: torrent %s: %s", __func__, t->hex, err.msg);
	free(path);
	free(out);
	return rc;
}

int
tr_store_save_torrent_file(struct tr_torrent *t)
{
	struct cm_err err = {{0}};
	char *out = NULL, *path = NULL;
	size_t len;
	int rc = -1;

	if (tr_meta_to_torrent(&t->meta, &out, &len) != 0 ||
	    (path = tr_store_path(t->c, t->hex, ".torrent")) == NULL)
		goto end;
	if (cm_file_write_atomic(path, out, len, 0644, &err) != 0) {
		log_warnx("%s: %s", __func__, err.msg);
		goto end;
	}
	rc = 0;
end:
	free(out);
	free(path);
	return rc;
}

void
tr_store_remove(const struct tr_torrent *t)
{
	char *a = tr_store_path(t->c, t->hex, ".state");
	char *b = tr_store_path(t->c, t->hex, ".torrent");

	if (a != NULL)
		unlink(a);
	if (b != NULL)
		unlink(b);
	free(a);
	free(b);
}

static char *
dup_str(const struct cm_bval *d, const char *key)
{
	const struct cm_bval *v = cm_bdict_get(d, key);
	char *s;

	if (v == NULL || v->kind != CM_BSTR || memchr(v->s, '\0', v->len) != NULL ||
	    (s = malloc(v->len + 1)) == NULL)
		return NULL;
	memcpy(s, v->s, v->len);
	s[v->len] = '\0';
	return s;
}

static int64_t
get_int(const struct cm_bval *d, const char *key)
{
	const struct cm_bval *v = cm_bdict_get(d, key);

	return v != NULL && v->kind == CM_BINT ? v->i : 0;
}

/* The metadata saved for t, with the files' SHA-256 from the state when they match. */
static int
load_meta(struct tr_torrent *t, const struct cm_bval *st, struct cm_err *err)
{
	char *path = tr_store_path(t->c, t->hex, ".torrent");
	char *buf = NULL;
	size_t len;
	struct tr_meta m;
	const struct cm_bval *sha = cm_bdict_get(st, "sha256");
	int rc = -1;

	memset(&m, 0, sizeof(m));
	if (path == NULL || cm_file_read(path, TR_MAX_TORRENT_FILE, &buf, &len, err) != 0)
		goto end;
	if (tr_meta_from_torrent(buf, len, &m, err) != 0)
		goto end;
	if (memcmp(m.info_hash, t->ih, TR_HASH_LEN) != 0) {
		cm_err_set(err, "%s is not the torrent of its name", path);
		tr_meta_clear(&m);
		goto end;
	}
	if ((t->file_sha = calloc(m.file_count, sizeof(*t->file_sha))) == NULL) {
		tr_meta_clear(&m);
		goto end;
	}
	if (sha != NULL && sha->kind == CM_BLIST && sha->len == m.file_count) {
		for (size_t i = 0; i < m.file_count; i++)
			if (sha->items[i].kind == CM_BSTR && sha->items[i].len == 64)
				memcpy(t->file_sha[i], sha->items[i].s, 64);
	}
	rc = tr_torrent_set_meta(t, &m, err);
end:
	free(path);
	free(buf);
	return rc;
}

static void
load_one(struct tr_client *c, const char *dir, const char *file)
{
	static const struct cm_blimits lim = {STATE_MAX, 4, TR_MAX_FILES + 64};
	char path[4096], hex[TR_HEX_LEN + 1];
	unsigned char ih[TR_HASH_LEN];
	char *buf = NULL, *magnet;
	size_t len;
	struct cm_err err = {{0}};
	struct cm_bdoc *d = NULL;
	const struct cm_bval *root;
	struct tr_torrent *t;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	memcpy(hex, file, TR_HEX_LEN);
	hex[TR_HEX_LEN] = '\0';
	if (cm_hex_decode(hex, TR_HEX_LEN, ih, sizeof(ih), &err) != 0 ||
	    cm_file_read(path, STATE_MAX, &buf, &len, &err) != 0 ||
	    (d = cm_bdecode(buf, len, &lim, &err)) == NULL ||
	    (root = cm_bdoc_root(d))->kind != CM_BDICT) {
		log_warnx("%s: %s: %s", __func__, path, err.msg[0] ? err.msg : "not a dictionary");
		goto end;
	}
	if ((t = tr_torrent_new(c, ih)) == NULL)
		goto end;
	t->created = get_int(root, "created") != 0;
	t->paused = get_int(root, "paused") != 0;
	t->dest_dir = dup_str(root, "dest");
	t->expect_sha256 = dup_str(root, "expect");
	t->hint_sha256 = dup_str(root, "hint");
	t->name = dup_str(root, "name");
	t->root = dup_str(root, "root");
	magnet = dup_str(root, "magnet");
	if (t->root == NULL && t->dest_dir == NULL) {
		log_warnx("%s: %s: neither root nor dest", __func__, path);
		free(magnet);
		tr_torrent_free(t);
		goto end;
	}
	if (magnet != NULL) {
		struct tr_magnet mg;

		t->magnet_src = magnet;
		memset(&mg, 0, sizeof(mg));
		if (tr_magnet_parse(magnet, &mg, &err) == 0)
			tr_torrent_add_magnet_sources(t, &mg);
		tr_magnet_clear(&mg);
	}
	if (load_meta(t, root, &err) != 0 && t->magnet_src == NULL)
		tr_torrent_set_error(t, "%s", err.msg);
	log_info("torrent %s: resumed (%s)", t->hex, tr_state_name(t->state));
end:
	cm_bdoc_free(d);
	free(buf);
}

int
tr_store_load(struct tr_client *c)
{
	DIR *d = opendir(c->cfg.state_dir);
	struct dirent *e;

	if (d == NULL) {
		log_warnx("%s: %s: %s", __func__, c->cfg.state_dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);

		if (n == TR_HEX_LEN + 6 && strcmp(e->d_name + TR_HEX_LEN, ".state") == 0 &&
		    c->ntorrents < c->cfg.max_torrents)
			load_one(c, c->cfg.state_dir, e->d_name);
	}
	closedir(d);
	return 0;
}
