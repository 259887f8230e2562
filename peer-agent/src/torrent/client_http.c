/*
 * client_http.c - what the torrent client does over HTTP: it provides the
 * HTTP port's operations (our verified files as web seeds, our tracker's
 * answers), announces to a torrent's trackers (never when silent: a silent
 * client has no port to announce and its address must not be listed), and
 * downloads pieces from web seeds, verified like any other piece.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fb/log.h"
#include "net/httpclient.h"
#include "torrent/httpd.h"
#include "torrent/torrent_internal.h"
#include "torrent/tracker.h"
#include "torrent/webseed.h"

#define ANNOUNCE_RETRY_S  60
#define WEBSEED_MAX_FAILS 5

/* ---- the HTTP port's operations ---- */

static struct tr_torrent *
held(struct tr_client *c, const char *hex)
{
	return cm_map_get(c->by_hash, hex);
}

static int
op_find_file(void *ctx, const char info_hash[TR_HEX_LEN + 1], const char *relpath,
             struct tr_httpd_file *out)
{
	struct tr_client *c = ctx;
	struct tr_torrent *t = held(c, info_hash);
	size_t nlen, i = 0;

	if (t == NULL || !t->has_meta || t->st == NULL)
		return -1;
	nlen = strlen(t->meta.name);
	if (strncmp(relpath, t->meta.name, nlen) != 0)
		return -1;
	if (t->meta.multi_file) {
		if (relpath[nlen] != '/')
			return -1;
		for (i = 0; i < t->meta.file_count; i++)
			if (!t->meta.files[i].pad &&
			    strcmp(t->meta.files[i].path, relpath + nlen + 1) == 0)
				break;
		if (i == t->meta.file_count)
			return -1;
	} else if (relpath[nlen] != '\0') {
		return -1;
	}
	free(c->http_path);
	if ((c->http_path = tr_storage_file_path(t->st, i)) == NULL)
		return -1;
	out->disk_path = c->http_path;
	out->length = t->meta.files[i].length;
	out->torrent_offset = t->meta.files[i].offset;
	return 0;
}

static bool
op_verified(void *ctx, const char info_hash[TR_HEX_LEN + 1], uint64_t offset, uint64_t len)
{
	struct tr_torrent *t = held(ctx, info_hash);
	uint64_t first, last;

	if (t == NULL || !t->has_meta || t->pk == NULL || t->state == TR_CHECKING ||
	    offset > t->meta.total_length || len > t->meta.total_length - offset)
		return false;
	if (len == 0)
		return true;
	first = offset / t->meta.piece_length;
	last = (offset + len - 1) / t->meta.piece_length;
	for (uint64_t i = first; i <= last; i++)
		if (!tr_picker_have(t->pk, (uint32_t)i))
			return false;
	return true;
}

static bool
op_known(void *ctx, const char info_hash[TR_HEX_LEN + 1])
{
	struct tr_client *c = ctx;
	struct tr_peer_addr one;

	return held(c, info_hash) != NULL ||
	       (c->hooks.gossip_seeders != NULL &&
	        c->hooks.gossip_seeders(c->ctx, info_hash, &one, 1) > 0);
}

static size_t
op_peers(void *ctx, const char info_hash[TR_HEX_LEN + 1], struct tr_peer_addr *out, size_t max)
{
	struct tr_client *c = ctx;
	struct tr_torrent *t = held(c, info_hash);
	size_t n = 0;

	/* Ourselves, for a torrent we seed or download (we are never silent here). */
	if (max > 0 && t != NULL && c->lst != NULL && c->cfg.public_host != NULL &&
	    strlen(c->cfg.public_host) < sizeof(out->ip)) {
		snprintf(out[0].ip, sizeof(out[0].ip), "%s", c->cfg.public_host);
		out[0].port = tr_client_listen_port(c);
		n = 1;
	}
	if (c->hooks.gossip_seeders != NULL && n < max)
		n += c->hooks.gossip_seeders(c->ctx, info_hash, out + n, max - n);
	return n;
}

static const struct tr_httpd_ops http_ops = {op_find_file, op_verified, op_known, op_peers};

int
tr_client_http_start(struct tr_client *c)
{
	struct tr_httpd_config hc;

	if ((c->hc = hc_new(c->base)) == NULL)
		return -1;
	if (c->cfg.silent || c->cfg.http_host == NULL)
		return 0;
	tr_httpd_config_defaults(&hc);
	hc.host = c->cfg.http_host;
	hc.port = c->cfg.http_port;
	if ((c->httpd = tr_httpd_new(c->base, &hc, &http_ops, c)) == NULL)
		return -1;
	return 0;
}

void
tr_client_http_stop(struct tr_client *c)
{
	struct tr_ticket *k;

	tr_httpd_free(c->httpd);
	c->httpd = NULL;
	hc_free(c->hc);
	c->hc = NULL;
	/* hc_free ran no callback: the tickets of announces in flight are ours to free. */
	while ((k = TAILQ_FIRST(&c->tickets)) != NULL) {
		TAILQ_REMOVE(&c->tickets, k, link);
		free(k);
	}
	free(c->http_path);
	c->http_path = NULL;
}

int
tr_client_http_port(const struct tr_client *c)
{
	return c->httpd != NULL ? tr_httpd_port(c->httpd) : 0;
}

/* ---- tracker announces ---- */

static void
on_announce(void *arg, const struct tr_tracker_answer *a, const char *err)
{
	struct tr_ticket *k = arg;
	struct tr_client *c = k->c;
	struct tr_torrent *t = held(c, k->hex);
	int64_t now = cm_time_mono_ms();

	TAILQ_REMOVE(&c->tickets, k, link);
	if (t != NULL && k->idx < t->trackers.len) {
		struct tr_announce_slot *s = &t->ann[k->idx];

		s->busy = false;
		if (a == NULL || a->failure != NULL) {
			c->stats.tracker_errors++;
			log_info("torrent %s: tracker %s: %s", t->hex, t->trackers.items[k->idx],
			         a != NULL ? a->failure : err);
			s->next_ms = now + ANNOUNCE_RETRY_S * 1000;
		} else {
			s->next_ms = now + (int64_t)a->interval_s * 1000;
			s->started = true;
			tr_client_add_peers(c, t->hex, a->peers, a->npeers);
		}
	}
	free(k);
}

static void
announce(struct tr_torrent *t, size_t i, const char *event)
{
	struct tr_client *c = t->c;
	struct tr_announce a;
	struct tr_ticket *k = calloc(1, sizeof(*k));
	uint64_t have = t->pk ? (uint64_t)tr_picker_have_count(t->pk) * t->meta.piece_length : 0;

	if (k == NULL)
		return;
	memset(&a, 0, sizeof(a));
	memcpy(a.info_hash, t->ih, TR_HASH_LEN);
	memcpy(a.peer_id, c->peer_id, 20);
	a.port = tr_client_listen_port(c);
	a.uploaded = t->uploaded;
	a.downloaded = t->downloaded;
	a.left = t->has_meta && have < t->meta.total_length ? t->meta.total_length - have : 0;
	if (!t->has_meta)
		a.left = 1; /* unknown, not done */
	a.event = event;
	a.numwant = 50;
	a.bind_ip = c->cfg.bind_ip;
	k->c = c;
	k->idx = i;
	memcpy(k->hex, t->hex, sizeof(k->hex));
	if (tr_tracker_announce(c->hc, t->trackers.items[i], &a, on_announce, k) != 0) {
		free(k);
		t->ann[i].next_ms = cm_time_mono_ms() + ANNOUNCE_RETRY_S * 1000;
		return;
	}
	TAILQ_INSERT_TAIL(&c->tickets, k, link);
	c->stats.tracker_announces++;
	t->ann[i].busy = true;
}

void
tr_torrent_announce(struct tr_torrent *t, int64_t now)
{
	struct tr_client *c = t->c;
	bool done = t->state == TR_SEEDING;

	/* The privacy rule: a silent client, or one without a listener, announces nothing. */
	if (c->cfg.silent || c->lst == NULL || c->hc == NULL || t->paused || t->state == TR_ERROR)
		return;
	for (size_t i = 0; i < t->trackers.len && i < TR_MAX_TRACKERS; i++) {
		struct tr_announce_slot *s = &t->ann[i];
		const char *event = NULL;

		if (s->busy)
			continue;
		if (!s->started)
			event = "started";
		else if (done && !s->completed && !t->created) /* a creation never downloaded */
			event = "completed";
		else if (now < s->next_ms)
			continue;
		if (event != NULL && strcmp(event, "completed") == 0)
			s->completed = true;
		announce(t, i, event);
	}
}

void
tr_torrent_announce_stopped(struct tr_torrent *t)
{
	struct tr_client *c = t->c;

	if (c->cfg.silent || c->lst == NULL || c->hc == NULL)
		return;
	/* The answer finds the torrent gone: the ticket is only freed then. */
	for (size_t i = 0; i < t->trackers.len && i < TR_MAX_TRACKERS; i++)
		if (t->ann[i].started)
			announce(t, i, "stopped");
}

/* ---- web seeds ---- */

static void
on_webseed(void *arg, uint32_t piece, const unsigned char *data, size_t len, const char *err)
{
	struct tr_wseed *w = arg;
	struct tr_torrent *t = w->t;
	struct cm_err e = {{0}};
	int rc;

	if (tr_picker_have(t->pk, piece) || t->state != TR_DOWNLOADING)
		return;
	if (err != NULL || len != tr_meta_piece_size(&t->meta, piece)) {
		w->fails++;
		log_info("torrent %s: web seed %s: piece %u: %s", t->hex, tr_webseed_url(w->ws),
		         piece, err ? err : "short");
		tr_picker_piece_failed(t->pk, piece);
		return;
	}
	rc = tr_storage_put_piece(t->st, piece, data, &e);
	if (rc == 1) {
		w->fails = WEBSEED_MAX_FAILS; /* it serves other bytes than the torrent's */
		t->c->stats.pieces_failed++;
		log_warnx("torrent %s: web seed %s sent piece %u that failed its hash", t->hex,
		          tr_webseed_url(w->ws), piece);
		tr_picker_piece_failed(t->pk, piece);
		return;
	}
	if (rc != 0) {
		tr_torrent_set_error(t, "%s", e.msg);
		return;
	}
	w->fails = 0;
	tr_client_kick(t->c); /* the next piece at once, not at the next tick */
	t->c->stats.web_seed_bytes += len;
	t->downloaded += len;
	tr_rate_add(&t->rin, len);
	tr_torrent_piece_verified(t, piece);
}

int
tr_torrent_webseeds_open(struct tr_torrent *t)
{
	size_t n = t->web_seeds.len < TR_MAX_WEB_SEEDS ? t->web_seeds.len : TR_MAX_WEB_SEEDS;

	if (t->c->hc == NULL || n == 0)
		return 0;
	if ((t->ws = calloc(n, sizeof(*t->ws))) == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		t->ws[t->nws].t = t;
		t->ws[t->nws].ws = tr_webseed_new(t->c->hc, t->web_seeds.items[i], &t->meta,
		                                  t->c->cfg.bind_ip, on_webseed, &t->ws[t->nws]);
		if (t->ws[t->nws].ws != NULL)
			t->nws++;
	}
	return 0;
}

void
tr_torrent_webseeds_close(struct tr_torrent *t)
{
	for (size_t i = 0; i < t->nws; i++)
		tr_webseed_free(t->ws[i].ws);
	free(t->ws);
	t->ws = NULL;
	t->nws = 0;
}

int
tr_torrent_webseeds_busy(const struct tr_torrent *t)
{
	int n = 0;

	for (size_t i = 0; i < t->nws; i++)
		n += tr_webseed_busy(t->ws[i].ws);
	return n;
}

void
tr_torrent_webseeds_work(struct tr_torrent *t)
{
	for (size_t i = 0; i < t->nws; i++) {
		struct tr_wseed *w = &t->ws[i];
		uint32_t piece;

		if (w->fails >= WEBSEED_MAX_FAILS || tr_webseed_busy(w->ws) ||
		    t->state != TR_DOWNLOADING || tr_picker_complete(t->pk))
			continue;
		if (tr_picker_reserve(t->pk, &t->c->rng, &piece) != 0)
			return;
		if (tr_webseed_fetch(w->ws, piece) != 0) {
			tr_picker_piece_failed(t->pk, piece);
			w->fails++;
		}
	}
}
