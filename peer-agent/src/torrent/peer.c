/*
 * peer.c - one peer-wire session: its socket read and written in big chunks
 * (our own reads of TR_READ_CHUNK; libevent's evbuffers hold the bytes), the
 * handshake, each message checked against the torrent before it is acted on,
 * requests pipelined, and requests served from verified pieces only.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fb/hex.h"
#include "fb/log.h"
#include "torrent/torrent_internal.h"

#define BITFIELD_UNKNOWN (64u * 1024) /* bitfield kept before the metadata is known */

static void on_read(evutil_socket_t fd, short what, void *arg);
static void on_write(evutil_socket_t fd, short what, void *arg);
static void abort_inflight(struct tr_peer *p);
static bool seed_check(struct tr_peer *p);

struct tr_peer *
tr_peer_new(struct tr_client *c, struct tr_torrent *t, int fd, const struct tr_peer_addr *addr,
            bool outgoing, const char *label)
{
	struct tr_peer *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->id = ++c->next_peer_id;
	p->c = c;
	p->fd = fd;
	p->adopted = label != NULL;
	if (p->adopted) {
		snprintf(p->name, sizeof(p->name), "%s", label);
	} else {
		p->addr = *addr;
		snprintf(p->name, sizeof(p->name), "%s:%d", addr->ip, addr->port);
		tr_addr_group(addr->ip, p->group);
	}
	p->outgoing = outgoing;
	p->connecting = outgoing;
	p->am_choking = p->peer_choking = true;
	p->connected_ms = p->last_recv_ms = p->last_send_ms = p->last_useful_ms = p->last_drain_ms =
	    cm_time_mono_ms();
	p->in = evbuffer_new();
	p->out = evbuffer_new();
	p->reqs = calloc(TR_PEER_MAX_REQUESTS, sizeof(*p->reqs));
	p->ev_read = event_new(c->base, fd, EV_READ | EV_PERSIST, on_read, p);
	p->ev_write = event_new(c->base, fd, EV_WRITE | EV_PERSIST, on_write, p);
	if (p->in == NULL || p->out == NULL || p->reqs == NULL || p->ev_read == NULL ||
	    p->ev_write == NULL) {
		p->fd = -1;
		tr_peer_free(p);
		return NULL;
	}
	TAILQ_INSERT_TAIL(&c->sessions, p, all);
	c->nsessions++;
	c->stats.sessions_opened++;
	if (outgoing) {
		c->nhalfopen++;
		p->t = t;
		TAILQ_INSERT_TAIL(&t->peers, p, link);
		t->npeers++;
		event_add(p->ev_write, NULL);
	} else {
		c->ninbound++;
		c->npending++;
		p->pending = true;
		event_add(p->ev_read, NULL);
	}
	return p;
}

/* Frees a closed session (the client's tick does it, so no callback holds it). */
void
tr_peer_free(struct tr_peer *p)
{
	if (p == NULL)
		return;
	if (p->ev_read != NULL)
		event_free(p->ev_read);
	if (p->ev_write != NULL)
		event_free(p->ev_write);
	if (p->fd >= 0)
		close(p->fd);
	if (p->in != NULL)
		evbuffer_free(p->in);
	if (p->out != NULL)
		evbuffer_free(p->out);
	free(p->reqs);
	free(p->bf);
	free(p);
}

void
tr_peer_close(struct tr_peer *p, const char *why)
{
	struct tr_client *c = p->c;

	if (p->dead)
		return;
	p->dead = true;
	log_info("torrent %s: peer %s closed: %s", p->t ? p->t->hex : "-", p->name, why);
	if (p->connecting)
		c->nhalfopen--;
	if (p->pending)
		c->npending--;
	if (!p->outgoing)
		c->ninbound--;
	if (p->t != NULL) {
		if (p->t->pk != NULL)
			abort_inflight(p);
		tr_torrent_peer_gone(p->t, p);
	}
	event_del(p->ev_read);
	event_del(p->ev_write);
	close(p->fd);
	p->fd = -1;
	c->nsessions--;
	tr_client_kick(c);
}

bool
tr_peer_send(struct tr_peer *p, const void *data, size_t len)
{
	if (p->dead)
		return false;
	if (evbuffer_get_length(p->out) + len > TR_SEND_MAX) {
		tr_peer_close(p, "send queue full: the peer does not read");
		return false;
	}
	if (evbuffer_add(p->out, data, len) != 0)
		return false;
	p->last_send_ms = cm_time_mono_ms();
	return true;
}

static void
send_simple(struct tr_peer *p, enum tr_msg_id id)
{
	unsigned char m[5];

	tr_peer_send(p, m, tr_wire_simple(m, id));
}

/* Writes what is queued now; the write event carries the rest. */
void
tr_peer_flush(struct tr_peer *p)
{
	if (p->dead || p->connecting)
		return;
	if (evbuffer_get_length(p->out) > 0) {
		int n = evbuffer_write(p->out, p->fd);

		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			tr_peer_close(p, strerror(errno));
			return;
		}
		if (n > 0)
			p->last_drain_ms = cm_time_mono_ms();
	}
	if (evbuffer_get_length(p->out) > 0)
		event_add(p->ev_write, NULL);
	else
		event_del(p->ev_write);
}

/* Serves queued requests while the output is short, each block pread into the send buffer. */
static void
serve(struct tr_peer *p)
{
	struct tr_torrent *t = p->t;

	while (!p->dead && p->nreqs > 0 && evbuffer_get_length(p->out) < TR_SEND_HIGH) {
		struct tr_block *b = &p->reqs[p->req_head];
		bool limited = p->c->cfg.max_upload_rate > 0;
		struct evbuffer_iovec v;
		uint64_t off = (uint64_t)b->piece * t->meta.piece_length + b->begin;

		if (limited && p->c->up_budget <= 0)
			break;
		if (!tr_torrent_servable(t, off, b->length))
			break;
		if (limited)
			p->c->up_budget -= b->length;
		if (evbuffer_reserve_space(p->out, TR_MSG_HEADER + b->length, &v, 1) != 1)
			break;
		tr_wire_piece_header(v.iov_base, b->piece, b->begin, b->length);
		if (tr_storage_read(t->st, off, (unsigned char *)v.iov_base + TR_MSG_HEADER,
		                    b->length) != 0) {
			tr_torrent_set_error(t, "reading %s: %s", tr_storage_path(t->st),
			                     strerror(errno));
			return;
		}
		v.iov_len = TR_MSG_HEADER + b->length;
		evbuffer_commit_space(p->out, &v, 1);
		p->uploaded += b->length;
		t->uploaded += b->length;
		p->c->stats.bytes_out += b->length;
		tr_rate_add(&p->rout, b->length);
		tr_rate_add(&t->rout, b->length);
		p->last_send_ms = p->last_useful_ms = cm_time_mono_ms();
		p->req_head = (p->req_head + 1) % TR_PEER_MAX_REQUESTS;
		p->nreqs--;
	}
}

static void
on_write(evutil_socket_t fd, short what, void *arg)
{
	struct tr_peer *p = arg;

	(void)what;
	if (p->connecting) {
		int e = 0;
		socklen_t l = sizeof(e);

		getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l);
		if (e != 0) {
			tr_peer_close(p, strerror(e));
			return;
		}
		p->connecting = false;
		p->c->nhalfopen--;
		event_add(p->ev_read, NULL);
		{
			unsigned char hs[TR_HANDSHAKE_LEN];

			tr_wire_handshake(hs, p->t->ih, p->c->peer_id, true);
			tr_peer_send(p, hs, sizeof(hs));
		}
	}
	serve(p);
	tr_peer_flush(p);
}

void
tr_peer_set_choke(struct tr_peer *p, bool choke)
{
	if (p->am_choking == choke || p->dead)
		return;
	p->am_choking = choke;
	send_simple(p, choke ? TR_MSG_CHOKE : TR_MSG_UNCHOKE);
	if (choke)
		p->nreqs = 0; /* BEP 3: a choke drops what the peer asked for */
	tr_peer_flush(p);
}

void
tr_peer_update_interest(struct tr_peer *p)
{
	struct tr_torrent *t = p->t;
	bool want = t != NULL && t->has_meta && p->bf != NULL && t->pk != NULL &&
	            !tr_picker_complete(t->pk) && tr_picker_interesting(t->pk, p->bf);

	if (want == p->am_interested || p->dead || !p->got_handshake)
		return;
	p->am_interested = want;
	p->last_useful_ms = cm_time_mono_ms();
	send_simple(p, want ? TR_MSG_INTERESTED : TR_MSG_NOT_INTERESTED);
}

void
tr_peer_send_have(struct tr_peer *p, uint32_t piece)
{
	unsigned char m[9];

	if (!p->got_handshake || p->dead)
		return;
	/* A peer that has the piece learns nothing from it. */
	if (p->bf != NULL && piece / 8 < p->bf_len && tr_bit_get(p->bf, piece))
		return;
	tr_peer_send(p, m, tr_wire_have(m, piece));
}

static bool
inflight_has(void *arg, const struct tr_block *b)
{
	struct tr_peer *p = arg;

	for (uint32_t i = 0; i < p->ninflight; i++)
		if (p->inflight[i].piece == b->piece && p->inflight[i].begin == b->begin)
			return true;
	return false;
}

void
tr_peer_fill_requests(struct tr_peer *p)
{
	struct tr_torrent *t = p->t;
	struct tr_block picked[TR_INFLIGHT_MAX];
	unsigned char msgs[TR_INFLIGHT_MAX * 17];
	uint32_t target;
	size_t n, len = 0;

	if (p->dead || t == NULL || !t->has_meta || t->state != TR_DOWNLOADING || t->paused ||
	    p->peer_choking || !p->am_interested)
		return;
	target = p->snubbed ? 2 : tr_picker_queue_target(tr_rate_get(&p->rin));
	/* Refill in batches: one pick serves many blocks. */
	if (p->ninflight > 0 && p->ninflight + target / 4 > target)
		return;
	if (p->ninflight >= target)
		return;
	n = tr_picker_pick(t->pk, p->bf, &p->c->rng, inflight_has, p, picked,
	                   target - p->ninflight);
	for (size_t i = 0; i < n; i++) {
		p->inflight[p->ninflight++] = picked[i];
		len += tr_wire_request(msgs + len, TR_MSG_REQUEST, picked[i].piece, picked[i].begin,
		                       picked[i].length);
	}
	if (n > 0 && p->ninflight == n)
		p->last_block_ms = cm_time_mono_ms();
	if (len > 0)
		tr_peer_send(p, msgs, len);
}

/* Forgets an in-flight block, of that length too (a short answer is not it); whether it was there.
 */
static bool
inflight_remove(struct tr_peer *p, const struct tr_block *b)
{
	for (uint32_t i = 0; i < p->ninflight; i++) {
		if (p->inflight[i].piece == b->piece && p->inflight[i].begin == b->begin &&
		    p->inflight[i].length == b->length) {
			memmove(&p->inflight[i], &p->inflight[i + 1],
			        (p->ninflight - i - 1) * sizeof(p->inflight[0]));
			p->ninflight--;
			return true;
		}
	}
	return false;
}

void
tr_peer_cancel_block(struct tr_peer *p, const struct tr_block *b)
{
	unsigned char m[17];

	if (p->dead || !inflight_remove(p, b))
		return;
	tr_picker_abort(p->t->pk, b);
	tr_peer_send(p, m, tr_wire_request(m, TR_MSG_CANCEL, b->piece, b->begin, b->length));
}

/* Gives back every request in flight (choked, snubbed, closed). */
static void
abort_inflight(struct tr_peer *p)
{
	for (uint32_t i = 0; i < p->ninflight; i++)
		tr_picker_abort(p->t->pk, &p->inflight[i]);
	p->ninflight = 0;
}

void
tr_peer_got_meta(struct tr_peer *p)
{
	struct tr_torrent *t = p->t;
	uint32_t want = (t->meta.piece_count + 7) / 8;
	unsigned char *bf;

	if (p->dead || !p->got_handshake)
		return;
	if (p->counted) {
		/* Known since its handshake (the check just ended): its bitfield is counted
		 * already. */
		tr_peer_update_interest(p);
		tr_peer_fill_requests(p);
		tr_peer_flush(p);
		return;
	}
	if ((bf = calloc(want, 1)) == NULL) {
		tr_peer_close(p, "out of memory");
		return;
	}
	if (p->bf != NULL)
		memcpy(bf, p->bf, p->bf_len < want ? p->bf_len : want);
	if (t->meta.piece_count % 8)
		bf[want - 1] &= (unsigned char)(0xff00 >> (t->meta.piece_count % 8));
	free(p->bf);
	p->bf = bf;
	p->bf_len = want;
	p->have_count = 0;
	for (uint32_t k = 0; k < want; k++)
		p->have_count += (uint32_t)__builtin_popcount(bf[k]);
	if (seed_check(p))
		return;
	tr_picker_peer_bitfield(t->pk, p->bf, +1);
	p->counted = true;
	tr_peer_update_interest(p);
	tr_peer_fill_requests(p);
	tr_peer_flush(p);
}

/* After both handshakes: our bitfield and extension handshake. */
static int
start_session(struct tr_peer *p)
{
	struct tr_torrent *t = p->t;

	p->got_handshake = true;
	if (t->has_meta) {
		p->bf_len = (t->meta.piece_count + 7) / 8;
		if (tr_picker_have_count(t->pk) > 0) {
			unsigned char pre[5];

			tr_peer_send(p, pre, tr_wire_prefix(pre, TR_MSG_BITFIELD, p->bf_len));
			tr_peer_send(p, tr_picker_bitfield(t->pk), p->bf_len);
		}
	} else {
		p->bf_len = BITFIELD_UNKNOWN;
	}
	if ((p->bf = calloc(p->bf_len, 1)) == NULL)
		return -1;
	p->counted = t->has_meta;
	if (p->ext)
		tr_ext_send_handshake(p);
	return 0;
}

static int
on_handshake(struct tr_peer *p, struct cm_err *err)
{
	unsigned char buf[TR_HANDSHAKE_LEN];
	struct tr_handshake hs;
	struct tr_client *c = p->c;

	evbuffer_remove(p->in, buf, sizeof(buf));
	if (tr_wire_parse_handshake(buf, &hs, err) != 0)
		return -1;
	if (memcmp(hs.peer_id, c->peer_id, 20) == 0) {
		cm_err_set(err, "a connection to ourselves");
		return -1;
	}
	if (p->t == NULL) {
		char hex[TR_HEX_LEN + 1];
		struct tr_torrent *t;

		cm_hex_encode(hs.info_hash, TR_HASH_LEN, hex);
		if ((t = cm_map_get(c->by_hash, hex)) == NULL) {
			cm_err_set(err, "handshake for an unknown info hash %s", hex);
			return -1;
		}
		if (t->state == TR_ERROR || t->paused) {
			cm_err_set(err, "torrent %s is %s", hex, t->paused ? "paused" : "in error");
			return -1;
		}
		if (t->npeers >= c->cfg.max_peers_per_torrent ||
		    t->ninbound >= tr_client_inbound_max(c)) {
			struct tr_peer *v = tr_torrent_evictable(t, cm_time_mono_ms());

			if (v == NULL) {
				cm_err_set(err, "torrent %s has %d sessions already", hex,
				           t->npeers);
				return -1;
			}
			tr_peer_close(v, "of no use to either side: a newcomer takes its place");
		}
		p->t = t;
		TAILQ_INSERT_TAIL(&t->peers, p, link);
		t->npeers++;
		t->ninbound++;
		p->pending = false;
		c->npending--;
		tr_wire_handshake(buf, t->ih, c->peer_id, true);
		tr_peer_send(p, buf, sizeof(buf));
	} else if (memcmp(hs.info_hash, p->t->ih, TR_HASH_LEN) != 0) {
		cm_err_set(err, "handshake for another info hash");
		return -1;
	}
	memcpy(p->peer_id, hs.peer_id, 20);
	p->ext = hs.extended;
	if (start_session(p) != 0) {
		cm_err_set(err, "out of memory");
		return -1;
	}
	return 0;
}

/* Marks a peer that has every piece; closes it when we have them all too. True when closed. */
static bool
seed_check(struct tr_peer *p)
{
	struct tr_torrent *t = p->t;

	if (!t->has_meta || p->have_count != t->meta.piece_count)
		return false;
	p->seed = true;
	if (t->pk != NULL && tr_picker_complete(t->pk) && t->state == TR_SEEDING) {
		tr_peer_close(p, "both seeds");
		return true;
	}
	return false;
}

static int
on_have(struct tr_peer *p, uint32_t i, struct cm_err *err)
{
	struct tr_torrent *t = p->t;
	uint32_t n = t->has_meta ? t->meta.piece_count : p->bf_len * 8;

	if (i >= n) {
		cm_err_set(err, "have of piece %u (of %u)", i, n);
		return -1;
	}
	if (tr_bit_get(p->bf, i))
		return 0;
	tr_bit_set(p->bf, i);
	p->have_count++;
	if (seed_check(p))
		return 0;
	if (p->counted) {
		tr_picker_peer_have(t->pk, i);
		tr_peer_update_interest(p);
		tr_peer_fill_requests(p);
	}
	return 0;
}

/*
 * A bitfield replaces what we knew of the peer (aria2c may send one after a
 * have); only its length and spare bits are checked.
 */
static int
on_bitfield(struct tr_peer *p, const struct tr_msg *m, struct cm_err *err)
{
	struct tr_torrent *t = p->t;

	if (t->has_meta && !tr_bitfield_spare_clear(m->data, t->meta.piece_count)) {
		cm_err_set(err, "bitfield with spare bits set");
		return -1;
	}
	if (p->counted)
		tr_picker_peer_bitfield(t->pk, p->bf, -1);
	memset(p->bf, 0, p->bf_len);
	memcpy(p->bf, m->data, m->data_len < p->bf_len ? m->data_len : p->bf_len);
	p->have_count = 0;
	for (uint32_t k = 0; k < p->bf_len; k++)
		p->have_count += (uint32_t)__builtin_popcount(p->bf[k]);
	if (seed_check(p))
		return 0;
	if (p->counted) {
		tr_picker_peer_bitfield(t->pk, p->bf, +1);
		tr_peer_update_interest(p);
	}
	return 0;
}

static int
on_request(struct tr_peer *p, const struct tr_msg *m, struct cm_err *err)
{
	struct tr_torrent *t = p->t;
	uint32_t size;

	if (!t->has_meta || m->index >= t->meta.piece_count) {
		cm_err_set(err, "request for piece %u out of range", m->index);
		return -1;
	}
	size = tr_meta_piece_size(&t->meta, m->index);
	if (m->begin >= size || m->length > size - m->begin) {
		cm_err_set(err, "request %u+%u beyond piece %u of %u bytes", m->begin, m->length,
		           m->index, size);
		return -1;
	}
	if (!tr_picker_have(t->pk, m->index)) {
		cm_err_set(err, "request for piece %u, which we do not have", m->index);
		return -1;
	}
	if (p->am_choking)
		return 0; /* BEP 3: a choked peer's requests are dropped */
	if (p->nreqs == TR_PEER_MAX_REQUESTS) {
		cm_err_set(err, "more than %d requests queued", TR_PEER_MAX_REQUESTS);
		return -1;
	}
	p->reqs[(p->req_head + p->nreqs) % TR_PEER_MAX_REQUESTS] =
	    (struct tr_block){m->index, m->begin, m->length};
	p->nreqs++;
	return 0;
}

static void
on_cancel(struct tr_peer *p, const struct tr_msg *m)
{
	for (uint32_t k = 0; k < p->nreqs; k++) {
		struct tr_block *b = &p->reqs[(p->req_head + k) % TR_PEER_MAX_REQUESTS];

		if (b->piece == m->index && b->begin == m->begin && b->length == m->length) {
			/* Left in the ring as an empty slot would be served: shift the rest down.
			 */
			for (uint32_t j = k; j + 1 < p->nreqs; j++)
				p->reqs[(p->req_head + j) % TR_PEER_MAX_REQUESTS] =
				    p->reqs[(p->req_head + j + 1) % TR_PEER_MAX_REQUESTS];
			p->nreqs--;
			return;
		}
	}
}

static int
on_message(struct tr_peer *p, const struct tr_msg *m, struct cm_err *err)
{
	struct tr_torrent *t = p->t;

	switch (m->id) {
	case TR_MSG_KEEPALIVE:
	case TR_MSG_PORT:
		return 0;
	case TR_MSG_CHOKE:
		p->peer_choking = true;
		if (t->pk != NULL)
			abort_inflight(p);
		return 0;
	case TR_MSG_UNCHOKE:
		p->peer_choking = false;
		tr_peer_fill_requests(p);
		return 0;
	case TR_MSG_INTERESTED:
		p->peer_interested = true;
		p->last_useful_ms = cm_time_mono_ms();
		tr_torrent_peer_interested(t, p);
		return 0;
	case TR_MSG_NOT_INTERESTED:
		p->peer_interested = false;
		p->last_useful_ms = cm_time_mono_ms();
		return 0;
	case TR_MSG_HAVE:
		return on_have(p, m->index, err);
	case TR_MSG_BITFIELD:
		return on_bitfield(p, m, err);
	case TR_MSG_REQUEST:
		return on_request(p, m, err);
	case TR_MSG_CANCEL:
		on_cancel(p, m);
		return 0;
	case TR_MSG_EXTENDED:
		if (!p->ext) {
			cm_err_set(err, "extended message without BEP 10 in the handshake");
			return -1;
		}
		return tr_ext_handle(p, m);
	default:
		cm_err_set(err, "message id %d", m->id);
		return -1;
	}
}

/* A piece message whose 13-byte header is at the front of the input. */
static int
on_piece(struct tr_peer *p, size_t total, struct cm_err *err)
{
	unsigned char hdr[TR_MSG_HEADER];
	struct tr_block b;
	size_t len = total - TR_MSG_HEADER;

	evbuffer_remove(p->in, hdr, sizeof(hdr));
	tr_wire_piece_fields(hdr, &b.piece, &b.begin);
	b.length = (uint32_t)len;
	p->c->stats.bytes_in += len;
	if (!p->t->has_meta || !inflight_remove(p, &b)) {
		/* Cancelled (endgame) or never asked: counted, dropped. */
		evbuffer_drain(p->in, len);
		if (!p->t->has_meta) {
			cm_err_set(err, "piece before the metadata");
			return -1;
		}
		if ((p->wasted += len) > TR_MAX_WASTED) {
			cm_err_set(err, "more than %u bytes of blocks we did not ask for",
			           TR_MAX_WASTED);
			return -1;
		}
		return 0;
	}
	p->downloaded += len;
	p->last_useful_ms = cm_time_mono_ms();
	p->last_block_ms = cm_time_mono_ms();
	p->snubbed = false;
	tr_rate_add(&p->rin, len);
	tr_torrent_block(p->t, p, &b, p->in);
	return 0;
}

/* Parses and acts on every whole message in the input. */
static void
process_input(struct tr_peer *p)
{
	struct tr_wire_limits lim = {0, 0};
	struct cm_err err = {{0}};

	if (!p->got_handshake) {
		if (evbuffer_get_length(p->in) < TR_HANDSHAKE_LEN)
			return;
		if (on_handshake(p, &err) != 0) {
			tr_peer_close(p, err.msg);
			return;
		}
	}
	while (!p->dead) {
		unsigned char hdr[5];
		size_t have = evbuffer_get_length(p->in), need;
		struct tr_msg m;
		long r;

		if (have < 4)
			break;
		lim.bitfield_len = p->t->has_meta ? p->bf_len : 0;
		evbuffer_copyout(p->in, hdr, have < 5 ? 4 : 5);
		r = tr_wire_parse(hdr, have < 5 ? 4 : 5, &lim, &m, &need, &err);
		if (r < 0) {
			tr_peer_close(p, err.msg);
			return;
		}
		if (r == 0 && have < need)
			break;
		p->last_recv_ms = cm_time_mono_ms();
		if (r == 4) {
			evbuffer_drain(p->in, 4);
			continue;
		}
		if (hdr[4] == TR_MSG_PIECE) {
			if (on_piece(p, need, &err) != 0)
				tr_peer_close(p, err.msg);
			continue;
		}
		r = tr_wire_parse(evbuffer_pullup(p->in, (ev_ssize_t)need), need, &lim, &m, &need,
		                  &err);
		if (r <= 0 || on_message(p, &m, &err) != 0) {
			tr_peer_close(p, err.msg[0] ? err.msg : "malformed message");
			return;
		}
		evbuffer_drain(p->in, (size_t)r);
	}
}

static void
on_read(evutil_socket_t fd, short what, void *arg)
{
	struct tr_peer *p = arg;
	struct evbuffer_iovec v;
	size_t want = TR_READ_CHUNK;
	ssize_t n;

	(void)what;
	if (p->c->cfg.max_download_rate > 0) {
		if (p->c->down_budget <= 0) {
			event_del(p->ev_read);
			p->read_paused = true;
			return;
		}
		want =
		    p->c->down_budget < TR_READ_CHUNK ? (size_t)p->c->down_budget : TR_READ_CHUNK;
	}
	if (evbuffer_reserve_space(p->in, (ev_ssize_t)want, &v, 1) != 1) {
		tr_peer_close(p, "out of memory");
		return;
	}
	n = recv(fd, v.iov_base, want, 0);
	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		tr_peer_close(p, n == 0 ? "closed by the peer" : strerror(errno));
		return;
	}
	v.iov_len = (size_t)n;
	evbuffer_commit_space(p->in, &v, 1);
	p->c->down_budget -= n;
	process_input(p);
	if (p->dead)
		return;
	tr_peer_fill_requests(p);
	serve(p);
	tr_ext_serve(p);
	tr_peer_flush(p);
}

void
tr_peer_resume(struct tr_peer *p)
{
	if (p->dead || p->connecting)
		return;
	if (p->read_paused) {
		p->read_paused = false;
		event_add(p->ev_read, NULL);
	}
	if (p->nreqs > 0) {
		serve(p);
		tr_peer_flush(p);
	}
	if (p->md_nqueue > 0)
		tr_ext_serve(p);
}

void
tr_peer_tick(struct tr_peer *p, int64_t now)
{
	unsigned char ka[4];

	tr_rate_tick(&p->rin);
	tr_rate_tick(&p->rout);
	if ((p->connecting || !p->got_handshake) &&
	    now - p->connected_ms > TR_HANDSHAKE_TIMEOUT_MS) {
		tr_peer_close(p, p->connecting ? "connect timed out" : "no handshake in time");
		return;
	}
	if (now - p->last_recv_ms > TR_IDLE_TIMEOUT_MS) {
		tr_peer_close(p, "idle");
		return;
	}
	/* A peer that never reads would pin its queued output for as long as it sends keep-alives.
	 */
	if (evbuffer_get_length(p->out) == 0)
		p->last_drain_ms = now;
	else if (now - p->last_drain_ms > TR_WRITE_TIMEOUT_MS) {
		tr_peer_close(p, "it has read none of our output for 30 s");
		return;
	}
	if (p->got_handshake && now - p->last_send_ms > TR_KEEPALIVE_MS) {
		tr_peer_send(p, ka, tr_wire_keepalive(ka));
		tr_peer_flush(p);
	}
	if (p->ninflight > 0 && now - p->last_block_ms > TR_SNUB_MS && !p->snubbed) {
		log_info("torrent %s: peer %s snubbed us", p->t->hex, p->name);
		p->snubbed = true;
		abort_inflight(p);
	}
}
