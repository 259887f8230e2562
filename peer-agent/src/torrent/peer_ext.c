/*
 * peer_ext.c - the extension protocol (BEP 10) and metadata exchange (BEP 9):
 * our extension handshake (ut_metadata, metadata_size, our version, and our
 * listen port unless silent or to an adopted peer: never an address, ours or
 * the peer's), the peer's read with bounds, and the info dictionary fetched
 * in 16 KiB pieces, checked against the info hash before it is parsed, and
 * served to peers once we have it.
 */
#include <event2/buffer.h>
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
	/* An adopted peer reaches us through a relay: our port would only point past it. */
	int port = p->c->lst != NULL && !p->c->cfg.silent && !p->adopted
	               ? tr_client_listen_port(p->c)
	               : 0;

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
	free(t->md_who);
	t->md = NULL;
	t->md_got = NULL;
	t->md_req_ms = NULL;
	t->md_who = NULL;
	t->md_size = 0;
	t->md_from = 0;
	t->md_mixed = false;
}

static bool
md_source(const struct tr_peer *p)
{
	return !p->dead && p->ut_metadata != 0 && p->metadata_size != 0;
}

/*
 * The size most peers report: one peer naming a wrong size must not decide
 * the buffer for everyone. 0 when nobody offers metadata.
 */
static uint32_t
md_popular_size(const struct tr_torrent *t)
{
	const struct tr_peer *p, *q;
	uint32_t best = 0;
	int best_n = 0;

	TAILQ_FOREACH(p, &t->peers, link) {
		int n = 0;

		if (!md_source(p))
			continue;
		TAILQ_FOREACH(q, &t->peers, link)
			if (md_source(q) && q->metadata_size == p->metadata_size)
				n++;
		if (n > best_n) {
			best = p->metadata_size;
			best_n = n;
		}
	}
	return best;
}

/*
 * The buffer is dropped when no peer offering its size is left (its claimant
 * rejected, closed or never answered), or when nothing has arrived yet and
 * more peers name another size.
 */
static void
md_review(struct tr_torrent *t)
{
	uint32_t size;

	if (t->md == NULL)
		return;
	size = md_popular_size(t);
	if (size == t->md_size)
		return;
	if (size != 0) {
		const struct tr_peer *p;
		int mine = 0, theirs = 0;

		TAILQ_FOREACH(p, &t->peers, link) {
			if (md_source(p) && p->metadata_size == t->md_size)
				mine++;
			if (md_source(p) && p->metadata_size == size)
				theirs++;
		}
		if (mine > 0 && (t->md_from != 0 || mine >= theirs))
			return;
	}
	md_reset(t);
}

/* Piece i asked of nobody again: who had it in flight is told it is not awaited. */
static void
md_release(struct tr_torrent *t, uint32_t i)
{
	struct tr_peer *p;

	if (t->md_who[i] == 0)
		return;
	TAILQ_FOREACH(p, &t->peers, link)
		if (p->id == t->md_who[i] && p->md_inflight > 0)
			p->md_inflight--;
	t->md_who[i] = 0;
	t->md_req_ms[i] = 0;
}

void
tr_ext_request_metadata(struct tr_peer *p)
{
	struct tr_torrent *t = p->t;
	int64_t now = cm_time_mono_ms();

	if (p->dead || t->has_meta || !md_source(p))
		return;
	md_review(t);
	if (t->md == NULL) {
		uint32_t size = md_popular_size(t), n = md_pieces(size);

		if (size == 0)
			return;
		t->md = malloc(size);
		t->md_got = calloc(n, 1);
		t->md_req_ms = calloc(n, sizeof(*t->md_req_ms));
		t->md_who = calloc(n, sizeof(*t->md_who));
		if (t->md == NULL || t->md_got == NULL || t->md_req_ms == NULL ||
		    t->md_who == NULL) {
			md_reset(t);
			return;
		}
		t->md_size = size;
	}
	if (p->metadata_size != t->md_size)
		return;
	if (t->md_solo) {
		/* One sender for the whole dictionary: if it fails, that sender lied. */
		if (t->md_from != 0 && t->md_from != p->id)
			return;
		for (uint32_t i = 0; i < md_pieces(t->md_size); i++)
			if (t->md_who[i] != 0 && t->md_who[i] != p->id)
				return;
	}
	for (uint32_t i = 0; i < md_pieces(t->md_size) && p->md_inflight < MD_PER_PEER; i++) {
		if (t->md_got[i] || t->md_who[i] != 0)
			continue;
		t->md_req_ms[i] = now;
		t->md_who[i] = p->id;
		p->md_inflight++;
		send_md(p, MD_REQUEST, i, 0, NULL, 0);
	}
	tr_peer_flush(p);
}

void
tr_ext_peer_gone(struct tr_torrent *t, struct tr_peer *p)
{
	if (t->md == NULL)
		return;
	for (uint32_t i = 0; i < md_pieces(t->md_size); i++)
		if (t->md_who[i] == p->id)
			md_release(t, i);
	md_review(t);
}

void
tr_ext_tick(struct tr_torrent *t, int64_t now)
{
	struct tr_peer *p, *tmp;

	if (t->md != NULL)
		for (uint32_t i = 0; i < md_pieces(t->md_size); i++) {
			if (t->md_who[i] == 0 || now - t->md_req_ms[i] < TR_MD_TIMEOUT_MS)
				continue;
			TAILQ_FOREACH(p, &t->peers, link)
				if (p->id == t->md_who[i]) {
					log_info("torrent %s: peer %s did not answer a metadata "
					         "request in time",
					         t->hex, p->name);
					p->metadata_size = 0; /* not asked again */
				}
			md_release(t, i);
		}
	md_review(t);
	TAILQ_FOREACH_SAFE(p, &t->peers, link, tmp)
		tr_ext_request_metadata(p);
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
			tr_client_ban_peer(t->c, p,
			                   "sent metadata that does not match the info hash");
		else
			t->md_solo = true;
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

	if (t->has_meta)
		return 0; /* a late answer */
	/* Only a piece asked of this peer is taken: unasked ones would skew whom we ask. */
	if (t->md == NULL || piece < 0 || piece >= md_pieces(t->md_size) ||
	    t->md_who[piece] != p->id) {
		if (++p->md_unasked > TR_MD_UNASKED_MAX) {
			cm_err_set(err, "%u metadata pieces sent unasked", p->md_unasked);
			return -1;
		}
		return 0;
	}
	n = md_pieces(t->md_size);
	if (total != t->md_size) {
		cm_err_set(err, "metadata piece %lld of a %lld-byte dictionary (want %u bytes)",
		           (long long)piece, (long long)total, t->md_size);
		return -1;
	}
	if (len !=
	    ((uint32_t)piece + 1 == n ? t->md_size - (uint32_t)piece * TR_MD_PIECE : TR_MD_PIECE)) {
		cm_err_set(err, "metadata piece %lld of %zu bytes", (long long)piece, len);
		return -1;
	}
	md_release(t, (uint32_t)piece);
	memcpy(t->md + (size_t)piece * TR_MD_PIECE, data, len);
	t->md_got[piece] = 1;
	if (t->md_from != 0 && t->md_from != p->id)
		t->md_mixed = true;
	t->md_from = p->id;
	for (uint32_t i = 0; i < n; i++)
		if (!t->md_got[i]) {
			tr_ext_request_metadata(p);
			return 0;
		}
	md_complete(t, p);
	return 0;
}

void
tr_ext_serve(struct tr_peer *p)
{
	struct tr_torrent *t = p->t;
	bool limited = p->c->cfg.max_upload_rate > 0;

	if (p->dead || t == NULL || !t->has_meta)
		return;
	while (p->md_nqueue > 0 && evbuffer_get_length(p->out) < TR_SEND_HIGH &&
	       !(limited && p->c->up_budget <= 0)) {
		size_t off = (size_t)p->md_queue[0] * TR_MD_PIECE;
		size_t n =
		    t->meta.info_len - off < TR_MD_PIECE ? t->meta.info_len - off : TR_MD_PIECE;

		if (limited)
			p->c->up_budget -= (int64_t)n;
		p->c->stats.bytes_out += n;
		send_md(p, MD_DATA, p->md_queue[0], (int64_t)t->meta.info_len, t->meta.info + off,
		        n);
		p->md_nqueue--;
		memmove(p->md_queue, p->md_queue + 1, p->md_nqueue * sizeof(p->md_queue[0]));
	}
	tr_peer_flush(p);
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
		/* Answered within the upload limit, a few at a time (BEP 9 lets us reject). */
		if (!t->has_meta || piece->i < 0 ||
		    piece->i >= md_pieces((uint32_t)t->meta.info_len) ||
		    p->md_nqueue >= TR_MD_QUEUE) {
			send_md(p, MD_REJECT, piece->i, 0, NULL, 0);
			tr_peer_flush(p);
			break;
		}
		p->md_queue[p->md_nqueue++] = (int32_t)piece->i;
		tr_ext_serve(p);
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
		/* It will not give the metadata: its pieces and its size go to others. */
		p->metadata_size = 0;
		tr_ext_peer_gone(t, p);
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
