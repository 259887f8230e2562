/*
 * torrent.c - one torrent: its states (checking, downloading, seeding,
 * paused, error), the blocks that arrive gathered into pieces and written
 * once verified, hash failures charged to the peers that sent the piece,
 * choking rounds, the addresses to dial, and its status.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fb/hex.h"
#include "fb/log.h"
#include "torrent/torrent_internal.h"

#define DIAL_RETRY_MS 30000

const char *
tr_state_name(enum tr_state s)
{
	static const char *const names[] = {"checking", "downloading", "seeding", "paused",
	                                    "error"};

	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "error";
}

struct tr_torrent *
tr_torrent_new(struct tr_client *c, const unsigned char ih[TR_HASH_LEN])
{
	struct tr_torrent *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->c = c;
	memcpy(t->ih, ih, TR_HASH_LEN);
	cm_hex_encode(ih, TR_HASH_LEN, t->hex);
	TAILQ_INIT(&t->peers);
	t->state = TR_DOWNLOADING;
	if (cm_map_put(c->by_hash, t->hex, t) != 0) {
		free(t);
		return NULL;
	}
	TAILQ_INSERT_TAIL(&c->torrents, t, link);
	c->ntorrents++;
	return t;
}

static void
free_piecebufs(struct tr_torrent *t)
{
	if (t->pb == NULL)
		return;
	for (uint32_t i = 0; i < t->meta.piece_count; i++) {
		if (t->pb[i] != NULL)
			free(t->pb[i]->data);
		free(t->pb[i]);
	}
	free(t->pb);
	t->pb = NULL;
}

void
tr_torrent_free(struct tr_torrent *t)
{
	struct tr_peer *p, *tmp;

	if (t == NULL)
		return;
	TAILQ_FOREACH_SAFE(p, &t->peers, link, tmp)
		tr_peer_close(p, "torrent stopped");
	tr_torrent_webseeds_close(t);
	cm_map_del(t->c->by_hash, t->hex);
	TAILQ_REMOVE(&t->c->torrents, t, link);
	t->c->ntorrents--;
	free_piecebufs(t);
	tr_picker_free(t->pk);
	tr_storage_free(t->st);
	tr_sha256_job_free(t->shajob);
	tr_meta_clear(&t->meta);
	cm_strlist_clear(&t->web_seeds);
	cm_strlist_clear(&t->trackers);
	free(t->scratch);
	free(t->file_sha);
	free(t->md);
	free(t->md_got);
	free(t->md_req_ms);
	free(t->md_who);
	free(t->dest_dir);
	free(t->root);
	free(t->name);
	free(t->expect_sha256);
	free(t->hint_sha256);
	free(t->magnet_src);
	free(t->error);
	free(t);
}

void
tr_torrent_set_error(struct tr_torrent *t, const char *fmt, ...)
{
	char msg[CM_ERR_MSG];
	va_list ap;
	struct tr_peer *p, *tmp;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warnx("torrent %s: %s", t->hex, msg);
	free(t->error);
	t->error = strdup(msg);
	t->state = TR_ERROR;
	TAILQ_FOREACH_SAFE(p, &t->peers, link, tmp)
		tr_peer_close(p, "torrent in error");
	tr_store_save(t);
}

static void check_done(struct tr_torrent *t);

/* Opens storage and picker for the metadata we hold and starts the check. */
int
tr_torrent_open(struct tr_torrent *t, struct cm_err *err)
{
	const struct tr_meta *m = &t->meta;
	uint32_t partial = TR_MAX_PARTIAL_BYTES / m->piece_length;

	if (t->root == NULL) {
		size_t n = strlen(t->dest_dir) + strlen(m->name) + 2;

		if ((t->root = malloc(n)) == NULL)
			goto oom;
		snprintf(t->root, n, "%s/%s", t->dest_dir, m->name);
	}
	if (t->file_sha == NULL &&
	    (t->file_sha = calloc(m->file_count, sizeof(*t->file_sha))) == NULL)
		goto oom;
	t->pk = tr_picker_new(m->piece_count, m->piece_length, m->total_length,
	                      partial < 4 ? 4 : partial);
	t->pb = calloc(m->piece_count, sizeof(*t->pb));
	t->scratch = malloc(m->piece_length);
	if (t->pk == NULL || t->pb == NULL || t->scratch == NULL)
		goto oom;
	/* A finished download or our own creation: the data is at its final name. */
	t->st = tr_storage_new(m, t->root, t->created || t->file_sha[0][0] != '\0', err);
	if (t->st == NULL)
		return -1;
	t->state = TR_CHECKING;
	t->check_next = 0;
	if (t->trusted) {
		for (uint32_t i = 0; i < m->piece_count; i++)
			tr_picker_set_have(t->pk, i);
		t->check_next = m->piece_count;
		t->trusted = false;
		check_done(t);
		return 0;
	}
	if (tr_storage_fresh(t->st)) {
		t->check_next = m->piece_count;
		check_done(t);
		return 0;
	}
	tr_client_kick(t->c);
	return 0;
oom:
	cm_err_set(err, "out of memory");
	return -1;
}

/* The items of from that l lacks, appended to l. */
static void
append_new(struct cm_strlist *l, const struct cm_strlist *from)
{
	for (size_t i = 0; i < from->len; i++) {
		bool have = false;

		for (size_t j = 0; j < l->len && !have; j++)
			have = strcmp(l->items[j], from->items[i]) == 0;
		if (!have)
			cm_strlist_append(l, from->items[i]);
	}
}

void
tr_torrent_add_magnet_sources(struct tr_torrent *t, const struct tr_magnet *mg)
{
	tr_client_add_peers_from(t, &mg->peers);
	append_new(&t->trackers, &mg->trackers);
	append_new(&t->web_seeds, &mg->web_seeds);
}

int
tr_torrent_set_meta(struct tr_torrent *t, struct tr_meta *m, struct cm_err *err)
{
	struct tr_peer *p, *tmp;

	if (m->total_length > t->c->cfg.max_torrent_bytes) {
		cm_err_set(err, "%llu bytes of content (at most %llu)",
		           (unsigned long long)m->total_length,
		           (unsigned long long)t->c->cfg.max_torrent_bytes);
		tr_meta_clear(m);
		return -1;
	}
	t->meta = *m;
	memset(m, 0, sizeof(*m));
	t->has_meta = true;
	append_new(&t->web_seeds, &t->meta.web_seeds);
	append_new(&t->trackers, &t->meta.trackers);
	free(t->name);
	t->name = strdup(t->meta.name);
	if (tr_store_save_torrent_file(t) != 0)
		log_warnx("torrent %s: cannot save its .torrent", t->hex);
	if (tr_torrent_open(t, err) != 0)
		return -1;
	if (tr_torrent_webseeds_open(t) != 0)
		log_warnx("torrent %s: no web seeds: out of memory", t->hex);
	tr_store_save(t);
	log_info("torrent %s: metadata known: %s, %llu bytes, %u pieces of %u", t->hex,
	         t->meta.name, (unsigned long long)t->meta.total_length, t->meta.piece_count,
	         t->meta.piece_length);
	TAILQ_FOREACH_SAFE(p, &t->peers, link, tmp)
		tr_peer_got_meta(p);
	return 0;
}

static struct tr_peer *
peer_by_id(struct tr_torrent *t, uint64_t id)
{
	struct tr_peer *p;

	TAILQ_FOREACH(p, &t->peers, link)
		if (p->id == id)
			return p;
	return NULL;
}

static void
on_hash_fail(struct tr_torrent *t, uint32_t piece, struct tr_piecebuf *pb)
{
	t->c->stats.pieces_failed++;
	tr_picker_piece_failed(t->pk, piece);
	log_warnx("torrent %s: piece %u failed its SHA-1 check (%u senders)", t->hex, piece,
	          pb->nwho);
	for (uint8_t i = 0; i < pb->nwho; i++) {
		struct tr_peer *p = peer_by_id(t, pb->who[i]);

		if (p == NULL)
			continue;
		p->hashfails++;
		/* A sole sender sent the bad data; among several, repeat offenders are banned. */
		if (pb->nwho == 1 || p->hashfails >= 2)
			tr_client_ban_peer(t->c, p, "sent a piece that failed its hash");
	}
}

static void
broadcast_have(struct tr_torrent *t, uint32_t piece)
{
	struct tr_peer *p, *tmp;

	TAILQ_FOREACH_SAFE(p, &t->peers, link, tmp) {
		tr_peer_send_have(p, piece);
		tr_peer_update_interest(p);
		tr_peer_flush(p);
	}
}

/*
 * Every piece verified: the SHA-256 of the files is taken under their .part
 * names while the kernel writes them back, and only a file whose SHA-256 is
 * the one announced gets its final name (sha_done).
 */
static void
on_complete(struct tr_torrent *t)
{
	log_info("torrent %s: every piece verified", t->hex);
	free_piecebufs(t);
	tr_storage_flush_start(t->st);
	if ((t->shajob = tr_sha256_job_new(t->st)) == NULL) {
		tr_torrent_set_error(t, "out of memory");
		return;
	}
	tr_client_kick(t->c);
}

void
tr_torrent_piece_verified(struct tr_torrent *t, uint32_t piece)
{
	t->c->stats.pieces_verified++;
	tr_picker_set_have(t->pk, piece);
	if (t->pb[piece] != NULL) {
		free(t->pb[piece]->data);
		free(t->pb[piece]);
		t->pb[piece] = NULL;
	}
	broadcast_have(t, piece);
	if (tr_picker_complete(t->pk))
		on_complete(t);
}

static void
piece_done(struct tr_torrent *t, uint32_t piece)
{
	struct tr_piecebuf *pb = t->pb[piece];
	struct cm_err err = {{0}};
	int rc;

	t->pb[piece] = NULL;
	rc = tr_storage_put_piece(t->st, piece, pb->data, &err);
	if (rc == 0) {
		tr_torrent_piece_verified(t, piece);
	} else if (rc == 1) {
		on_hash_fail(t, piece, pb);
	} else {
		tr_torrent_set_error(t, "%s", err.msg);
	}
	free(pb->data);
	free(pb);
}

void
tr_torrent_block(struct tr_torrent *t, struct tr_peer *p, const struct tr_block *b,
                 struct evbuffer *data)
{
	struct tr_piecebuf *pb;
	struct tr_peer *q, *tmp;
	int r = t->state == TR_DOWNLOADING ? tr_picker_received(t->pk, b) : -1;

	if (r < 0) {
		evbuffer_drain(data, b->length);
		return;
	}
	if ((pb = t->pb[b->piece]) == NULL) {
		if ((pb = calloc(1, sizeof(*pb))) == NULL ||
		    (pb->data = malloc(tr_meta_piece_size(&t->meta, b->piece))) == NULL) {
			free(pb);
			evbuffer_drain(data, b->length);
			tr_picker_piece_failed(t->pk, b->piece);
			return;
		}
		t->pb[b->piece] = pb;
	}
	evbuffer_remove(data, pb->data + b->begin, b->length);
	t->downloaded += b->length;
	tr_rate_add(&t->rin, b->length);
	{
		uint8_t i;

		for (i = 0; i < pb->nwho && pb->who[i] != p->id; i++)
			;
		if (i == pb->nwho && pb->nwho < TR_PIECE_WHO)
			pb->who[pb->nwho++] = p->id;
	}
	if (tr_picker_endgame(t->pk))
		TAILQ_FOREACH_SAFE(q, &t->peers, link, tmp)
			if (q != p)
				tr_peer_cancel_block(q, b);
	if (r == 1)
		piece_done(t, b->piece);
}

/* After the check: what is missing decides the state. */
static void
check_done(struct tr_torrent *t)
{
	struct tr_peer *p, *tmp;

	free(t->scratch);
	t->scratch = NULL;
	log_info("torrent %s: checked, %u of %u pieces on disk", t->hex,
	         tr_picker_have_count(t->pk), t->meta.piece_count);
	if (!tr_picker_complete(t->pk)) {
		if (tr_storage_finished(t->st)) {
			tr_torrent_set_error(t, "%s changed on disk", t->root);
			return;
		}
		t->state = t->paused ? TR_PAUSED : TR_DOWNLOADING;
	} else if (!tr_storage_finished(t->st)) {
		t->state = TR_DOWNLOADING;
		on_complete(t);
	} else if (t->file_sha[0][0] == '\0') {
		t->state = TR_DOWNLOADING;
		t->shajob = tr_sha256_job_new(t->st);
	} else {
		t->state = t->paused ? TR_PAUSED : TR_SEEDING;
		if (t->c->hooks.seeding_changed != NULL)
			t->c->hooks.seeding_changed(t->c->ctx);
	}
	TAILQ_FOREACH_SAFE(p, &t->peers, link, tmp) {
		/* Sessions opened during the check saw a bitfield of part of what we have. */
		for (uint32_t i = 0; p->counted && i < t->meta.piece_count; i++)
			if (tr_picker_have(t->pk, i))
				tr_peer_send_have(p, i);
		tr_peer_got_meta(p);
	}
}

static void
sha_done(struct tr_torrent *t)
{
	const char *got = t->file_sha[0];
	struct cm_err err = {{0}};

	tr_sha256_job_free(t->shajob);
	t->shajob = NULL;
	if (!t->meta.multi_file && t->expect_sha256 != NULL &&
	    strcasecmp(t->expect_sha256, got) != 0) {
		tr_torrent_set_error(t, "SHA-256 of %s is %s, the announcement says %s", t->root,
		                     got, t->expect_sha256);
		return;
	}
	if (!t->meta.multi_file && t->hint_sha256 != NULL) {
		if (strcasecmp(t->hint_sha256, got) == 0)
			log_info("torrent %s: SHA-256 %s as its seeders sign it", t->hex, got);
		else
			log_warnx("torrent %s: SHA-256 is %s, gossip's seeders sign %s: a record "
			          "lies; the pieces match the info hash",
			          t->hex, got, t->hint_sha256);
	}
	if (tr_storage_finish(t->st, &err) != 0) {
		tr_torrent_set_error(t, "%s", err.msg);
		return;
	}
	log_info("torrent %s: complete at %s, seeding", t->hex, t->root);
	t->state = t->paused ? TR_PAUSED : TR_SEEDING;
	tr_torrent_close_seeds(t);
	tr_store_save(t);
	if (t->c->hooks.seeding_changed != NULL)
		t->c->hooks.seeding_changed(t->c->ctx);
}

bool
tr_torrent_work(struct tr_torrent *t)
{
	if (t->state == TR_CHECKING) {
		uint64_t budget = 0;

		while (t->check_next < t->meta.piece_count && budget < TR_CHECK_SLICE) {
			uint32_t i = t->check_next++;

			if (tr_storage_check_piece(t->st, i, t->scratch) == 1)
				tr_picker_set_have(t->pk, i);
			budget += tr_meta_piece_size(&t->meta, i);
		}
		if (t->check_next < t->meta.piece_count)
			return true;
		check_done(t);
	}
	if (t->shajob != NULL) {
		int r = tr_sha256_job_step(t->shajob, TR_CHECK_SLICE, t->file_sha);

		if (r == 0)
			return true;
		if (r < 0) {
			tr_torrent_set_error(t, "reading %s: %s", t->root, strerror(errno));
			return false;
		}
		sha_done(t);
	}
	return false;
}

void
tr_torrent_peer_interested(struct tr_torrent *t, struct tr_peer *p)
{
	struct tr_peer *q;
	int open = 0;

	if (t->state != TR_DOWNLOADING && t->state != TR_SEEDING)
		return;
	TAILQ_FOREACH(q, &t->peers, link)
		if (!q->am_choking)
			open++;
	/* A free slot is given at once rather than at the next round. */
	if (open < t->c->cfg.unchoke_slots + 1)
		tr_peer_set_choke(p, false);
}

static void
choke_round(struct tr_torrent *t, int64_t now)
{
	struct tr_choke_peer cp[256];
	struct tr_peer *ps[256];
	struct tr_peer *p;
	size_t n = 0;
	bool serving = t->state == TR_DOWNLOADING || t->state == TR_SEEDING;

	TAILQ_FOREACH(p, &t->peers, link) {
		if (!p->got_handshake || p->dead || n == 256)
			continue;
		ps[n] = p;
		cp[n] = (struct tr_choke_peer){p->id,
		                               p->peer_interested && serving,
		                               p->snubbed,
		                               tr_rate_get(&p->rin),
		                               tr_rate_get(&p->rout),
		                               false};
		n++;
	}
	tr_choke_run(cp, n, t->state == TR_SEEDING, t->c->cfg.unchoke_slots, now, &t->choke,
	             &t->c->rng);
	for (size_t i = 0; i < n; i++)
		tr_peer_set_choke(ps[i], !cp[i].unchoke);
}

void
tr_torrent_add_candidate(struct tr_torrent *t, const struct tr_peer_addr *a)
{
	for (size_t i = 0; i < t->ncand; i++)
		if (t->cand[i].addr.port == a->port && strcmp(t->cand[i].addr.ip, a->ip) == 0)
			return;
	if (t->ncand == TR_MAX_CANDIDATES) {
		/* Make room by forgetting the address that failed most. */
		size_t worst = 0;

		for (size_t i = 1; i < t->ncand; i++)
			if (t->cand[i].fails > t->cand[worst].fails && !t->cand[i].connected)
				worst = i;
		if (t->cand[worst].connected || t->cand[worst].fails == 0)
			return;
		t->cand[worst] = t->cand[--t->ncand];
	}
	memset(&t->cand[t->ncand], 0, sizeof(t->cand[0]));
	t->cand[t->ncand++].addr = *a;
}

void
tr_torrent_close_seeds(struct tr_torrent *t)
{
	struct tr_peer *p, *tmp;

	TAILQ_FOREACH_SAFE(p, &t->peers, link, tmp)
		if (p->seed)
			tr_peer_close(p, "both seeds");
}

void
tr_torrent_peer_gone(struct tr_torrent *t, struct tr_peer *p)
{
	int64_t now = cm_time_mono_ms();

	if (p->counted && p->bf != NULL && t->pk != NULL)
		tr_picker_peer_bitfield(t->pk, p->bf, -1);
	p->counted = false;
	TAILQ_REMOVE(&t->peers, p, link);
	t->npeers--;
	if (!p->outgoing)
		t->ninbound--;
	tr_ext_peer_gone(t, p);
	p->t = NULL;
	if (!p->outgoing || p->adopted)
		return;
	for (size_t i = 0; i < t->ncand; i++) {
		struct tr_candidate *cd = &t->cand[i];

		if (cd->addr.port != p->addr.port || strcmp(cd->addr.ip, p->addr.ip) != 0)
			continue;
		cd->connected = false;
		if (!p->got_handshake)
			cd->fails++;
		cd->next_ms = now + DIAL_RETRY_MS * (cd->fails + 1);
	}
}

/*
 * Of the sessions peers opened, one that serves neither side: both seeds, or
 * no interest shown either way and no block moved for TR_USELESS_MS. The one
 * idle longest goes first.
 */
struct tr_peer *
tr_torrent_evictable(struct tr_torrent *t, int64_t now)
{
	struct tr_peer *p, *best = NULL;
	bool complete = t->pk != NULL && tr_picker_complete(t->pk);

	TAILQ_FOREACH(p, &t->peers, link) {
		if (p->outgoing || p->dead)
			continue;
		if (!(p->seed && complete) && (p->peer_interested || p->am_interested ||
		                               now - p->last_useful_ms < TR_USELESS_MS))
			continue;
		if (best == NULL || p->last_useful_ms < best->last_useful_ms)
			best = p;
	}
	return best;
}

bool
tr_torrent_servable(struct tr_torrent *t, uint64_t off, uint64_t len)
{
	if (t->changed)
		return false;
	if (t->st == NULL || !tr_storage_changed(t->st, off, len))
		return true;
	log_warnx("torrent %s: %s changed on disk since it was verified: checking it again", t->hex,
	          t->root);
	t->changed = true;
	return false;
}

/* The files changed under us: what we told peers we have may be false, so start over. */
static void
recheck(struct tr_torrent *t)
{
	struct tr_peer *p, *tmp;
	struct cm_err err = {{0}};

	t->changed = false;
	TAILQ_FOREACH_SAFE(p, &t->peers, link, tmp)
		tr_peer_close(p, "our data changed on disk: checking it again");
	free_piecebufs(t);
	tr_picker_free(t->pk);
	tr_storage_free(t->st);
	tr_sha256_job_free(t->shajob);
	free(t->scratch);
	t->pk = NULL;
	t->st = NULL;
	t->shajob = NULL;
	t->scratch = NULL;
	if (tr_torrent_open(t, &err) != 0)
		tr_torrent_set_error(t, "%s", err.msg);
	if (t->c->hooks.seeding_changed != NULL)
		t->c->hooks.seeding_changed(t->c->ctx);
}

bool
tr_torrent_wanted(const struct tr_torrent *t)
{
	return !t->paused && (t->state == TR_DOWNLOADING || t->state == TR_CHECKING) &&
	       (t->pk == NULL || !tr_picker_complete(t->pk));
}

void
tr_torrent_dial(struct tr_torrent *t, int64_t now)
{
	struct tr_client *c = t->c;

	for (size_t i = 0; i < t->ncand; i++) {
		struct tr_candidate *cd = &t->cand[i];

		if (cd->connected || cd->fails >= TR_MAX_DIAL_FAILS || now < cd->next_ms)
			continue;
		/* Sessions still before their handshake are capped apart: they never stop a dial.
		 */
		if (c->nsessions - c->npending >= c->cfg.max_connections ||
		    t->npeers >= c->cfg.max_peers_per_torrent || c->nhalfopen >= TR_HALF_OPEN)
			return;
		if (tr_client_banned(c, cd->addr.ip)) {
			cd->next_ms = now + DIAL_RETRY_MS;
			continue;
		}
		/* A full address is tried again at the next dial, not in 30 s: its
		 * sessions may be dials to stale tracker entries about to be refused. */
		if (tr_client_address_count(c, cd->addr.ip) >= c->cfg.max_per_address)
			continue;
		if (tr_client_dial(c, t, cd) != 0) {
			cd->fails++;
			cd->next_ms = now + DIAL_RETRY_MS;
		}
	}
}

void
tr_torrent_tick(struct tr_torrent *t, int64_t now)
{
	struct tr_peer *p, *tmp;

	tr_rate_tick(&t->rin);
	tr_rate_tick(&t->rout);
	if (t->changed) {
		recheck(t);
		return;
	}
	if (now - t->last_choke_ms >= TR_CHOKE_INTERVAL_MS) {
		t->last_choke_ms = now;
		choke_round(t, now);
	}
	tr_torrent_announce(t, now);
	if (!tr_torrent_wanted(t))
		return;
	if (t->has_meta && t->state == TR_DOWNLOADING)
		tr_torrent_webseeds_work(t);
	if (!t->has_meta)
		tr_ext_tick(t, now);
	if (now - t->last_want_ms >= TR_WANT_PEERS_MS && t->c->hooks.want_peers != NULL) {
		t->last_want_ms = now;
		t->c->hooks.want_peers(t->c->ctx, t->hex);
	}
	tr_torrent_dial(t, now);
	TAILQ_FOREACH_SAFE(p, &t->peers, link, tmp) {
		tr_peer_fill_requests(p);
		tr_peer_flush(p);
	}
}

void
tr_torrent_status(const struct tr_torrent *t, struct tr_status *out)
{
	memset(out, 0, sizeof(*out));
	memcpy(out->info_hash, t->hex, sizeof(out->info_hash));
	out->name = t->name != NULL ? strdup(t->name) : NULL;
	out->state = t->paused && t->state != TR_ERROR ? TR_PAUSED : t->state;
	out->peers = t->npeers + tr_torrent_webseeds_busy(t);
	out->download_rate = tr_rate_get(&t->rin);
	out->upload_rate = tr_rate_get(&t->rout);
	out->downloaded = t->downloaded;
	out->uploaded = t->uploaded;
	out->path = t->root ? strdup(t->root) : NULL;
	out->magnet = tr_torrent_magnet(t);
	out->error = t->error ? strdup(t->error) : NULL;
	if (!t->has_meta)
		return;
	out->size = t->meta.total_length;
	out->piece_length = t->meta.piece_length;
	out->progress = t->pk ? (double)tr_picker_have_count(t->pk) / t->meta.piece_count : 0;
	out->torrent_file = tr_store_path(t->c, t->hex, ".torrent");
	if (t->file_sha != NULL && !t->meta.multi_file)
		memcpy(out->sha256, t->file_sha[0], sizeof(out->sha256));
	if (t->meta.multi_file && t->file_sha != NULL) {
		out->file_paths = calloc(t->meta.file_count, sizeof(*out->file_paths));
		out->file_sha256 = calloc(t->meta.file_count, sizeof(*out->file_sha256));
		if (out->file_paths == NULL || out->file_sha256 == NULL)
			return;
		out->file_count = t->meta.file_count;
		for (size_t i = 0; i < t->meta.file_count; i++) {
			out->file_paths[i] = strdup(t->meta.files[i].path);
			memcpy(out->file_sha256[i], t->file_sha[i], 65);
		}
	}
}
