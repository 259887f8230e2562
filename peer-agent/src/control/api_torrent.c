/*
 * api_torrent.c - the control API's torrents: list, create or download
 * (POST), one torrent, remove, and who seeds an info hash (the table, then
 * gossip). The torrent client does the work (torrent/torrent.h); this file
 * checks what the local client sent and turns answers into JSON.
 */
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdlib.h>
#include <string.h>

#include "control/api_internal.h"
#include "fb/codec.h"
#include "fb/file.h"
#include "fb/hex.h"
#include "fb/log.h"
#include "torrent/torrent.h"

/* The client, or NULL with 503 answered. */
static struct tr_client *
client_or_503(struct ctl *c, struct evhttp_request *req)
{
	struct tr_client *t = c->ops->torrents(c->ctx);

	if (t == NULL)
		ctl_reply_error(req, 503, "torrents are not running (see the agent's log)",
				"unavailable");
	return t;
}

/* A 40-digit hex info hash, lower-cased into out. */
static bool
info_hash_ok(const char *s, char out[TR_HEX_LEN + 1])
{
	if (s == NULL || strlen(s) != TR_HEX_LEN)
		return false;
	for (size_t i = 0; i < TR_HEX_LEN; i++) {
		char ch = s[i];

		if (ch >= 'A' && ch <= 'F')
			ch = (char)(ch - 'A' + 'a');
		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
			return false;
		out[i] = ch;
	}
	out[TR_HEX_LEN] = '\0';
	return true;
}

/* The files of a multi-file torrent as the JSON types list them (borrowing st's strings). */
static struct cm_torrent_filelist
files_of(const struct tr_status *st)
{
	struct cm_torrent_filelist l = {0};

	/* Listed once every file is hashed: a file's SHA-256 is what the list is for. */
	for (size_t i = 0; i < st->file_count; i++)
		if (st->file_sha256[i][0] == '\0')
			return l;
	if (st->file_count == 0 || (l.items = calloc(st->file_count, sizeof(*l.items))) == NULL)
		return l;
	for (size_t i = 0; i < st->file_count; i++) {
		l.items[i].path = st->file_paths[i];
		l.items[i].sha256 = st->file_sha256[i];
	}
	l.len = st->file_count;
	return l;
}

static enum cm_torrent_state
state_of(enum tr_state s)
{
	switch (s) {
	case TR_CHECKING: return CM_TORRENT_CHECKING;
	case TR_DOWNLOADING: return CM_TORRENT_DOWNLOADING;
	case TR_SEEDING: return CM_TORRENT_SEEDING;
	case TR_PAUSED: return CM_TORRENT_PAUSED;
	case TR_ERROR: break;
	}
	return CM_TORRENT_ERROR;
}

/* The JSON TorrentStatus of st. */
static json_t *
status_json(const struct tr_status *st)
{
	struct cm_torrent_status d = {0};
	json_t *j;

	d.info_hash = (char *)st->info_hash;
	d.name = st->name;
	d.size = (int64_t)st->size;
	d.state = state_of(st->state);
	d.progress = st->progress;
	d.peers = st->peers;
	d.download_rate = st->download_rate;
	d.upload_rate = st->upload_rate;
	d.downloaded = (int64_t)st->downloaded;
	d.uploaded = (int64_t)st->uploaded;
	/* Before the metadata arrives a magnet's download has no path yet. */
	d.path = st->path != NULL ? st->path : "";
	d.sha256 = st->sha256[0] != '\0' ? (char *)st->sha256 : NULL;
	d.magnet = st->magnet;
	d.torrent_file = st->torrent_file;
	d.error = st->state == TR_ERROR ? st->error : NULL;
	d.files = files_of(st);
	j = cm_torrent_status_encode(&d);
	free(d.files.items);
	return j;
}

/* The JSON TorrentCreated of a new torrent's status. */
static json_t *
created_json(const struct tr_status *st)
{
	struct cm_torrent_created d = {0};
	json_t *j;

	d.info_hash = (char *)st->info_hash;
	d.sha256 = st->sha256[0] != '\0' ? (char *)st->sha256 : NULL;
	d.name = st->name;
	d.size = (int64_t)st->size;
	d.piece_length = st->piece_length;
	d.magnet = st->magnet;
	d.torrent_file = st->torrent_file;
	d.files = files_of(st);
	j = cm_torrent_created_encode(&d);
	free(d.files.items);
	return j;
}

void
ctl_api_torrents(struct ctl *c, struct evhttp_request *req, struct evkeyvalq *q,
		 const char *path_rest)
{
	struct tr_client *t = client_or_503(c, req);
	struct tr_status *list = NULL;
	json_t *arr;
	size_t n;

	(void)q;
	(void)path_rest;
	if (t == NULL)
		return;
	n = tr_client_list(t, &list);
	arr = json_array();
	for (size_t i = 0; i < n; i++) {
		if (arr != NULL && json_array_append_new(arr, status_json(&list[i])) != 0) {
			json_decref(arr);
			arr = NULL;
		}
		tr_status_clear(&list[i]);
	}
	free(list);
	ctl_reply_json(req, 200, arr);
}

/* Creation: answered when hashing ends */

static void
created_cb(void *arg, const struct tr_status *st, const struct cm_err *err)
{
	struct op *o = arg;

	if (st != NULL) {
		struct evhttp_request *req = o->req;

		ctl_op_free(o);
		if (req != NULL)
			ctl_reply_json(req, 201, created_json(st));
		return;
	}
	/* What could be checked at once was (400); this failed on the way. */
	if (o->req != NULL)
		ctl_reply_error(o->req, 503, err != NULL ? err->msg : "cannot create the torrent",
				"create_failed");
	ctl_op_free(o);
}

static void
torrent_create(struct ctl *c, struct evhttp_request *req, struct tr_client *t,
	       const struct cm_torrent_add_request *r)
{
	struct cm_err err = {0};
	struct op *o;

	if (r->path[0] != '/') {
		ctl_reply_error(req, 400, "path: must be absolute (the agent's working directory is "
					  "not yours)", "bad_body");
		return;
	}
	if (ctl_ops_full(c, req))
		return;
	if ((o = ctl_op_new(c, req)) == NULL) {
		ctl_reply_error(req, 500, "out of memory", "internal");
		return;
	}
	if (tr_client_create(t, r->path, r->name, created_cb, o, &err) != 0) {
		ctl_op_free(o);
		ctl_reply_error(req, 400, err.msg, "create_failed");
	}
}

/*
 * The SHA-256 the table's seeders of info_hash sign for its content, into
 * out, when every seeder that names one names the same; false when none is
 * known or they disagree. The download checks it and logs the outcome.
 */
static bool
signed_sha256(struct ctl *c, const char *info_hash, char out[CM_SHA256_HEX_LEN + 1])
{
	struct peertable_seeder s[64];
	size_t n = peertable_torrent_seeders(c->cfg.table, info_hash, ctl_now_ms(), s, 64);

	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		const char *h = s[i].torrent != NULL ? s[i].torrent->sha256 : NULL;

		if (h == NULL || strlen(h) != CM_SHA256_HEX_LEN)
			continue;
		if (out[0] != '\0' && strcmp(out, h) != 0)
			return false;
		memcpy(out, h, CM_SHA256_HEX_LEN + 1);
	}
	return out[0] != '\0';
}

/* The info hash a download source names, or false when it names none we can read. */
static bool
source_hash(const struct tr_source *src, char out[TR_HEX_LEN + 1])
{
	struct tr_magnet m = {0};
	struct tr_meta meta = {0};
	bool ok = false;

	if (src->info_hash_hex != NULL) {
		memcpy(out, src->info_hash_hex, TR_HEX_LEN + 1);
		return true;
	}
	if (src->magnet != NULL && tr_magnet_parse(src->magnet, &m, NULL) == 0) {
		cm_hex_encode(m.info_hash, TR_HASH_LEN, out);
		ok = true;
	} else if (src->torrent != NULL &&
		   tr_meta_from_torrent(src->torrent, src->torrent_len, &meta, NULL) == 0) {
		memcpy(out, meta.info_hash_hex, TR_HEX_LEN + 1);
		ok = true;
	}
	tr_magnet_clear(&m);
	tr_meta_clear(&meta);
	return ok;
}

/* A download: a magnet, an info hash, or a .torrent file on this machine. */
static void
torrent_get(struct ctl *c, struct evhttp_request *req, struct tr_client *t,
	    const struct cm_torrent_add_request *r)
{
	struct tr_source src = {0};
	struct tr_status st = {0};
	struct cm_err err = {0};
	char ih[TR_HEX_LEN + 1], sha[CM_SHA256_HEX_LEN + 1], *bytes = NULL;
	size_t len = 0;
	int rc;

	if (r->dest == NULL || r->dest[0] != '/') {
		ctl_reply_error(req, 400, "dest: an absolute folder to download into", "bad_body");
		return;
	}
	src.dest_dir = r->dest;
	src.magnet = r->magnet;
	if (r->info_hash != NULL && !info_hash_ok(r->info_hash, ih)) {
		ctl_reply_error(req, 400, "info_hash: 40 hex digits", "bad_body");
		return;
	}
	src.info_hash_hex = r->info_hash != NULL ? ih : NULL;
	if (r->torrent_file != NULL) {
		if (cm_file_read(r->torrent_file, TR_MAX_TORRENT_FILE, &bytes, &len, &err) != 0) {
			ctl_reply_error(req, 400, err.msg, "bad_torrent_file");
			return;
		}
		src.torrent = bytes;
		src.torrent_len = len;
	}
	if (source_hash(&src, ih) && signed_sha256(c, ih, sha))
		src.sha256_hint = sha;
	rc = tr_client_add(t, &src, ih, &err);
	free(bytes);
	if (rc == -1) {
		ctl_reply_error(req, 400, err.msg, "bad_torrent");
		return;
	}
	if (tr_client_status(t, ih, &st) != 0) {
		ctl_reply_error(req, 500, "the torrent went away", "internal");
		return;
	}
	/* 202: the download goes on; 200: it was held already. */
	ctl_reply_json(req, rc == TR_EXISTS ? 200 : 202, status_json(&st));
	tr_status_clear(&st);
}

void
ctl_api_torrent_add(struct ctl *c, struct evhttp_request *req, struct evkeyvalq *q,
		    const char *path_rest)
{
	struct tr_client *t = client_or_503(c, req);
	struct cm_torrent_add_request r = {0};
	struct cm_err err = {0};
	bool failed = false;
	json_t *j;

	(void)q;
	(void)path_rest;
	if (t == NULL)
		return;
	if ((j = ctl_body_json(req, &failed)) == NULL) {
		if (!failed)
			ctl_reply_error(req, 400, "a JSON body is required", "bad_body");
		return;
	}
	if (cm_torrent_add_request_decode(j, &r, &err) != 0)
		ctl_reply_error(req, 400, err.msg, "bad_body");
	else if (r.path != NULL)
		torrent_create(c, req, t, &r);
	else
		torrent_get(c, req, t, &r);
	json_decref(j);
	cm_torrent_add_request_clear(&r);
}

void
ctl_api_torrent_get(struct ctl *c, struct evhttp_request *req, struct evkeyvalq *q,
		    const char *path_rest)
{
	struct tr_client *t = client_or_503(c, req);
	struct tr_status st = {0};
	char ih[TR_HEX_LEN + 1];

	(void)q;
	if (t == NULL)
		return;
	if (!info_hash_ok(path_rest, ih))
		ctl_reply_error(req, 400, "not an info hash (40 hex digits)", "bad_path");
	else if (tr_client_status(t, ih, &st) != 0)
		ctl_reply_error(req, 404, "no such torrent", "not_found");
	else
		ctl_reply_json(req, 200, status_json(&st));
	tr_status_clear(&st);
}

void
ctl_api_torrent_remove(struct ctl *c, struct evhttp_request *req, struct evkeyvalq *q,
		       const char *path_rest)
{
	struct tr_client *t = client_or_503(c, req);
	const char *del = evhttp_find_header(q, "delete_data");
	struct tr_status st = {0};
	char ih[TR_HEX_LEN + 1];

	if (t == NULL)
		return;
	if (!info_hash_ok(path_rest, ih)) {
		ctl_reply_error(req, 400, "not an info hash (40 hex digits)", "bad_path");
		return;
	}
	if (del != NULL && strcmp(del, "0") != 0 && strcmp(del, "1") != 0) {
		ctl_reply_error(req, 400, "delete_data: 1 or 0", "bad_query");
		return;
	}
	if (tr_client_status(t, ih, &st) != 0) {
		ctl_reply_error(req, 404, "no such torrent", "not_found");
		return;
	}
	tr_status_clear(&st);
	tr_client_remove(t, ih, del != NULL && strcmp(del, "1") == 0);
	ctl_reply_json(req, 200, cm_status_encode("removed", -1));
}

/* Search: the table, then gossip */

/* PeerInfo of the table's seeders of info_hash, marked with src; NULL when out of memory. */
static json_t *
seeder_infos(struct ctl *c, const char *info_hash, enum cm_peer_source src, int64_t found_in_ms)
{
	struct peertable_seeder *s = calloc(CM_MAX_LIST_PEERS, sizeof(*s));
	struct cm_peer_infolist l = {0};
	size_t n;
	json_t *arr = NULL;

	if (s == NULL)
		return NULL;
	n = peertable_torrent_seeders(c->cfg.table, info_hash, ctl_now_ms(), s, CM_MAX_LIST_PEERS);
	if ((l.items = calloc(n + 1, sizeof(*l.items))) == NULL)
		goto end;
	for (size_t i = 0; i < n; i++) {
		if (peertable_entry_info(c->cfg.table, s[i].entry, ctl_now_ms(), &l.items[l.len]) != 0)
			continue;
		l.items[l.len].source = src;
		l.items[l.len].found_in_ms = found_in_ms;
		ctl_info_via(c, &l.items[l.len]);
		l.len++;
	}
	arr = cm_peer_infolist_encode(&l);
	peertable_info_free(l.items, l.len);
end:
	free(s);
	return arr;
}

static void
search_wait_cb(evutil_socket_t fd, short what, void *arg)
{
	struct op *o = arg;
	struct cm_strlist emails = {0};

	(void)fd;
	(void)what;
	/* The answers' records are in the table by now; the request itself is done with. */
	o->c->ops->gossip_take(o->c->ctx, o->request_id, &emails);
	cm_strlist_clear(&emails);
	ctl_op_finish(o, seeder_infos(o->c, o->info_hash, CM_SOURCE_GOSSIP, ctl_op_elapsed(o)));
}

void
ctl_api_torrent_search(struct ctl *c, struct evhttp_request *req, struct evkeyvalq *q,
		       const char *path_rest)
{
	char ih[TR_HEX_LEN + 1];
	struct op *o;
	json_t *arr;

	(void)path_rest;
	if (!info_hash_ok(evhttp_find_header(q, "info_hash"), ih)) {
		ctl_reply_error(req, 400, "info_hash: 40 hex digits", "bad_query");
		return;
	}
	if (ctl_ops_full(c, req))
		return;
	if ((o = ctl_op_new(c, req)) == NULL) {
		ctl_reply_error(req, 500, "out of memory", "internal");
		return;
	}
	memcpy(o->info_hash, ih, sizeof(ih));
	arr = seeder_infos(c, ih, CM_SOURCE_TABLE, ctl_op_elapsed(o));
	if (arr == NULL || json_array_size(arr) > 0) {
		ctl_op_finish(o, arr);
		return;
	}
	json_decref(arr);
	if (c->ops->torrent_ask(c->ctx, ih, DISCOVER_ASK, o->request_id) > 0 &&
	    (o->timer = evtimer_new(c->base, search_wait_cb, o)) != NULL) {
		struct timeval tv = {DISCOVER_WAIT_MS / 1000, (DISCOVER_WAIT_MS % 1000) * 1000};

		evtimer_add(o->timer, &tv);
		return;
	}
	ctl_op_finish(o, ctl_no_infos());
}
