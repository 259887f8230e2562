/*
 * peer_ext.c - the extension protocol (BEP 10) and metadata exchange (BEP 9):
 * our extension handshake (ut_metadata, metadata_size, our version, and our
 * listen port unless silent: never an address), the peer's read with bounds,
 * and the info dictionary fetched in 16 KiB pieces, checked against the info
 * hash before it is parsed, and served to peers once we have it.
 */
#include <stdlib.h>
#include <string.h>

#include "fb/bencode.h"
#include "fb/digest.h"
#include "fb/log.h"
#include "torrent/torrent_internal.h"

#define UT_METADATA_ID 1 /* the id we tell peers to use for ut_metadata */
#define MD_PER_PEER    2 /* metadata requests in flight to one peer */

enum { MD_REQUEST = 0, MD_DATA = 1, MD_REJECT = 2 };

static void
send_ext(struct tr_peer *p, uint8_t id, const char *payload, size_t len, const void *tail,
         size_t tail_len)
{
	unsigned char pre[6];

	tr_peer_send(p, pre, tr_wire_ext_prefix(pre, id, (uint32_t)(len + tail_len)));
	tr_peer_send(p, payload, len);
	if (tail_len > 0)
		tr_peer_send(p, tail, tail_len);
}

void
tr_ext_send_handshake(struct tr_peer *p)
{
	struct tr_torrent *t = p->t;
	struct cm_benc e;
	char *out;
	size_t len;
	int port = p->c->lst != NULL && !p->c->cfg.silent ? tr_client_listen_port(p->c) : 0;

	cm_benc_init(&e, 1024);
	cm_benc_dict(&e);
	cm_benc_key(&e, "m");
	cm_benc_dict(&e);
	cm_benc_key(&e, "ut_metadata");
	cm_benc_int(&e, UT_METADATA_ID);
	cm_benc_end(&e);
	if (t->has_meta) {
		cm_benc_key(&e, "metadata_size");
		cm_benc_int(&e, (int64_t)t->meta.info_len);
	}
	if (port > 0) {
		cm_benc_key(&e, "p");
		cm_benc_int(&e, port);
	}
	cm_benc_key(&e, "reqq");
	cm_benc_int(&e, TR_PEER_MAX_REQUESTS);
	cm_benc_key(&e, "v");
	cm_benc_cstr(&e, "flashback/" FB_VERSION);
	cm_benc_end(&e);
	if (cm_benc_finish(&e, &out, &len) != 0) {
		cm_benc_clear(&e);
		return;
	}
	send_ext(p, 0, out, len, NULL, 0);
	free(out);
}

static const struct cm_blimits ext_limits = {TR_EXT_MAX, 8, 4096};

static int
on_ext_handshake(struct tr_peer *p, const struct tr_msg *m, struct cm_err *err)
{
	struct cm_bdoc *d = cm_bdecode(m->data, m->data_len, &ext_limits, err);
	const struct cm_bval *root, *mm, *v;
	int rc = -1;

	if (d == NULL)
		return -1;
	root = cm_bdoc_root(d);
	if (root->kind != CM_BDICT) {
		cm_err_set(err, "extension handshake: not a dictionary");
		goto end;
	}
	if ((mm = cm_bdict_get(root, "m")) != NULL && mm->kind == CM_BDICT &&
	    (v = cm_bdict_get(mm, "ut_metadata")) != NULL && v->kind == CM_BINT)
		p->ut_metadata = v->i > 0 && v->i < 256 ? (uint8_t)v->i : 0;
	if ((v = cm_bdict_get(root, "metadata_size")) != NULL && v->kind == CM_BINT) {
		if (v->i <= 0 || v->i > (int64_t)TR_MAX_METADATA) {
			cm_err_set(err, "metadata_size %lld (at most %u)", (long long)v->i,
			           TR_MAX_METADATA);
			goto end;
		}
		p->metadata_size = (uint32_t)v->i;
	}
	rc = 0;
	tr_ext_request_metadata(p);
end:
	cm_bdoc_free(d);
	return rc;
}

static void
send_md(struct tr_peer *p, int type, int64_t piece, int64_t total, const void *data, size_t len)
{
	struct cm_benc e;
	char *out;
	size_t n;

	cm_benc_init(&e, 256);
	cm_benc_dict(&e);
	cm_benc_key(&e, "msg_type");
	cm_benc_int(&e, type);
	cm_benc_key(&e, "piece");
	cm_benc_int(&e, piece);
	if (type == MD_DATA) {
		cm_benc_key(&e, "total_size");
		cm_benc_int(&e, total);
	}
	cm_benc_end(&e);
	if (cm_benc_finish(&e, &out, &n) != 0) {
		cm_benc_clear(&e);
		return;
	}
	send_ext(p, p->ut_metadata, out, n, data, len);
	free(out);
}

static uint32_t
md_pieces(uint32_t size)
{
	return (size + TR_MD_PIECE - 1) / TR_MD_PIECE;
}

static void
md_reset(struct tr_torrent *t)
{
	free(t->md);
	free(t->md_got);
	free(t->md_req_ms);
	t->md = NULL;
	t->md_got = NULL;
	t->md_req_ms = NULL;
	t->md_size = 0;
	t->md_from = 0;
	t->md_mixed = false;
}

void
tr_ext_request_metadata(struct tr_peer *p)
{
	struct tr_torrent *t = p->t;
	int64_t now = cm_time_mono_ms();

	if (p->dead || t->has_meta || p->ut_metadata == 0 || p->metadata_size == 0)
		return;
	if (t->md == NULL) {
		uint32_t n = md_pieces(p->metadata_size);

		t->md = malloc(p->metadata_size);
		t->md_got = calloc(n, 1);
		t->md_req_ms = calloc(n, sizeof(*t->md_req_ms));
		if (t->md == NULL || t->md_got == NULL || t->md_req_ms == NULL) {
			md_reset(t);
			return;
		}
		t->md_size = p->metadata_size;
	}
	if (p->metadata_size != t->md_size)
		return;
	for (uint32_t i = 0; i < md_pieces(t->md_size) && p->md_inflight < MD_PER_PEER; i++) {
		if (t->md_got[i] ||
		    (t->md_req_ms[i] != 0 && now - t->md_req_ms[i] < TR_MD_TIMEOUT_MS))
			continue;
		t->md_req_ms[i] = now;
		p->md_inflight++;
		send_md(p, MD_REQUEST, i, 0, NULL, 0);
	}
	tr_peer_flush(p);
}

/* Every piece is in: the info dictionary must hash to the info hash, then it is parsed. */
static void
md_complete(struct tr_torrent *t, struct tr_peer *p)
{
	unsigned char d[CM_SHA1_BYTES];
	struct tr_meta m;
	struct cm_err err = {{0}};

	if (cm_sha1(t->md, t->md_size, d) != 0 || memcmp(d, t->ih, TR_HASH_LEN) != 0) {
		log_warnx("torrent %s: the metadata received does not match the info hash", t->hex);
		/* A sole sender sent it all: it is lying about the torrent. */
		if (!t->md_mixed && t->md_from == p->id)
			tr_client_ban(t->c, p->addr.ip,
			              "sent metadata that does not match the info hash");
		md_reset(t);
		return;
	}
	memset(&m, 0, sizeof(m));
	if (tr_meta_from_info(t->md, t->md_size, t->ih, &m, &err) != 0) {
		tr_torrent_set_error(t, "metadata: %s", err.msg);
		md_reset(t);
		return;
	}
	md_reset(t);
	if (tr_torrent_set_meta(t, &m, &err) != 0)
		tr_torrent_set_error(t, "%s", err.msg);
}

static int
on_md_data(struct tr_peer *p, int64_t piece, int64_t total, const unsigned char *data, size_t len,
           struct cm_err *err)
{
	struct tr_torrent *t = p->t;
	uint32_t n;

	if (p->md_inflight > 0)
		p->md_inflight--;
	if (t->has_meta || t->md == NULL)
		return 0;
	n = md_pieces(t->md_size);
	if (total != t->md_size || piece < 0 || piece >= n) {
		cm_err_set(err, "metadata piece %lld of a %lld-byte dictionary (want %u bytes)",
		           (long long)piece, (long long)total, t->md_size);
		return -1;
	}
	if (len !=
	    ((uint32_t)piece + 1 == n ? t->md_size - (uint32_t)piece * TR_MD_PIECE : TR_MD_PIECE)) {
		cm_err_set(err, "metadata piece %lld of %zu bytes", (long long)piece, len);
		return -1;
	}
	if (!t->md_got[piece]) {
		memcpy(t->md + (size_t)piece * TR_MD_PIECE, data, len);
		t->md_got[piece] = 1;
		if (t->md_from != 0 && t->md_from != p->id)
			t->md_mixed = true;
		t->md_from = p->id;
	}
	for (uint32_t i = 0; i < n; i++)
		if (!t->md_got[i]) {
			tr_ext_request_metadata(p);
			return 0;
		}
	md_complete(t, p);
	return 0;
}

static int
on_metadata(struct tr_peer *p, const struct tr_msg *m, struct cm_err *err)
{
	struct tr_torrent *t = p->t;
	size_t used;
	struct cm_bdoc *d = cm_bdecode_prefix(m->data, m->data_len, &ext_limits, &used, err);
	const struct cm_bval *root, *type, *piece, *total;
	int rc = -1;

	if (d == NULL)
		return -1;
	root = cm_bdoc_root(d);
	type = root->kind == CM_BDICT ? cm_bdict_get(root, "msg_type") : NULL;
	piece = root->kind == CM_BDICT ? cm_bdict_get(root, "piece") : NULL;
	total = root->kind == CM_BDICT ? cm_bdict_get(root, "total_size") : NULL;
	if (type == NULL || type->kind != CM_BINT || piece == NULL || piece->kind != CM_BINT) {
		cm_err_set(err, "ut_metadata: no msg_type or piece");
		goto end;
	}
	rc = 0;
	switch (type->i) {
	case MD_REQUEST:
		if (p->ut_metadata == 0)
			break;
		if (t->has_meta && piece->i >= 0 &&
		    piece->i < md_pieces((uint32_t)t->meta.info_len)) {
			size_t off = (size_t)piece->i * TR_MD_PIECE;
			size_t n = t->meta.info_len - off < TR_MD_PIECE ? t->meta.info_len - off
			                                                : TR_MD_PIECE;

			send_md(p, MD_DATA, piece->i, (int64_t)t->meta.info_len, t->meta.info + off,
			        n);
		} else {
			send_md(p, MD_REJECT, piece->i, 0, NULL, 0);
		}
		break;
	case MD_DATA:
		if (total == NULL || total->kind != CM_BINT) {
			cm_err_set(err, "ut_metadata data without total_size");
			rc = -1;
			break;
		}
		rc = on_md_data(p, piece->i, total->i, m->data + used, m->data_len - used, err);
		break;
	case MD_REJECT:
		if (p->md_inflight > 0)
			p->md_inflight--;
		p->metadata_size = 0; /* ask others */
		break;
	default:
		break;
	}
end:
	cm_bdoc_free(d);
	return rc;
}

int
tr_ext_handle(struct tr_peer *p, const struct tr_msg *m)
{
	struct cm_err err = {{0}};
	int rc = 0;

	if (m->ext_id == 0)
		rc = on_ext_handshake(p, m, &err);
	else if (m->ext_id == UT_METADATA_ID)
		rc = on_metadata(p, m, &err);
	if (rc != 0)
		tr_peer_close(p, err.msg);
	return 0;
}
