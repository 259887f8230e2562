/*
 * relay.c - the relay room's context, its settings and counters, big reads
 * for bufferevents, and the link every connection of it is: TCP in a
 * bufferevent, TLS over the bufferevent's buffers (net/tls.h), lines until
 * the owner leaves TLS for the bare stream.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fb/codec.h"
#include "fb/log.h"
#include "fb/random.h"
#include "fb/ratemap.h"
#include "fb/timeutil.h"
#include "net/tcp.h"
#include "net/tls.h"
#include "relay/relay_internal.h"

#define ACCEPT_TABLE_MAX 4096 /* addresses whose accept rate is tracked */
#define WRITE_LOWAT      (RL_BUFFER_CAP / 2)

void
rl_config_default(struct rl_config *c)
{
	memset(c, 0, sizeof(*c));
	c->handshake_timeout_ms = 10000;
	c->ping_interval_ms = 30000;
	c->max_reservations = 128;
	c->max_circuits = 64;
	c->max_circuits_per_peer = 8;
	c->max_per_address = 16;
	c->accept_rate_per_s = 4;
	c->accept_burst = 16;
	c->reservation_s = 1800;
	c->join_timeout_ms = 10000;
	c->circuit_lifetime_s = 3600;
	c->max_circuit_bytes = 1024ULL * 1024 * 1024;
	c->circuit_rate = 8 * 1024 * 1024;
	c->max_rate = 0;
}

/* Flushing a bufferevent we are done with */

struct rl_flusher {
	struct rl_ctx *rl;
	struct rl_flusher *prev, *next;
	struct bufferevent *bev;
	struct event *timer;
};

static void
flusher_free(struct rl_flusher *f)
{
	if (f->prev != NULL)
		f->prev->next = f->next;
	else
		f->rl->flushers = f->next;
	if (f->next != NULL)
		f->next->prev = f->prev;
	bufferevent_free(f->bev);
	event_free(f->timer);
	free(f);
}

static void
flusher_write_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	flusher_free(arg);
}

static void
flusher_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what;
	flusher_free(arg);
}

static void
flusher_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	flusher_free(arg);
}

void
rl_bev_close_flushed(struct rl_ctx *rl, struct bufferevent *bev)
{
	struct timeval tv = {RL_CLOSE_GRACE_MS / 1000, (RL_CLOSE_GRACE_MS % 1000) * 1000};
	struct rl_flusher *f;

	if (bev == NULL)
		return;
	bufferevent_disable(bev, EV_READ);
	if (rl->stopping || evbuffer_get_length(bufferevent_get_output(bev)) == 0 ||
	    (f = calloc(1, sizeof(*f))) == NULL) {
		bufferevent_free(bev);
		return;
	}
	f->bev = bev;
	if ((f->timer = evtimer_new(rl->base, flusher_timer_cb, f)) == NULL) {
		free(f);
		bufferevent_free(bev);
		return;
	}
	f->rl = rl;
	f->next = rl->flushers;
	if (rl->flushers != NULL)
		rl->flushers->prev = f;
	rl->flushers = f;
	bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
	bufferevent_setcb(bev, NULL, flusher_write_cb, flusher_event_cb, f);
	bufferevent_enable(bev, EV_WRITE);
	evtimer_add(f->timer, &tv);
}

/* Big reads */

struct rl_reader {
	struct event *ev;
	struct bufferevent *bev;
	void (*cb)(void *arg, ssize_t n);
	void *arg;
	bool wake_only;
};

static void
reader_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rl_reader *r = arg;
	struct evbuffer *in = bufferevent_get_input(r->bev);
	struct evbuffer_iovec v[2];
	struct iovec iov[2];
	int nv;
	ssize_t n;
	size_t left;

	(void)what;
	if (r->wake_only) {
		r->cb(r->arg, 1);
		return;
	}
	/* A socket bufferevent keeps its input's end frozen but while it reads itself. */
	evbuffer_unfreeze(in, 0);
	if ((nv = evbuffer_reserve_space(in, RL_READ_MAX, v, 2)) <= 0) {
		evbuffer_freeze(in, 0);
		errno = ENOMEM;
		r->cb(r->arg, -1);
		return;
	}
	for (int i = 0; i < nv; i++) {
		iov[i].iov_base = v[i].iov_base;
		iov[i].iov_len = v[i].iov_len;
	}
	n = readv(fd, iov, nv);
	left = n > 0 ? (size_t)n : 0;
	for (int i = 0; i < nv; i++) {
		if (v[i].iov_len > left)
			v[i].iov_len = left;
		left -= v[i].iov_len;
	}
	evbuffer_commit_space(in, v, nv);
	evbuffer_freeze(in, 0);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	r->cb(r->arg, n);
}

struct rl_reader *
rl_reader_new(struct event_base *base, struct bufferevent *bev, void (*cb)(void *arg, ssize_t n),
              void *arg)
{
	struct rl_reader *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->bev = bev;
	r->cb = cb;
	r->arg = arg;
	if ((r->ev = event_new(base, bufferevent_getfd(bev), EV_READ | EV_PERSIST, reader_cb, r)) ==
	    NULL) {
		free(r);
		return NULL;
	}
	bufferevent_disable(bev, EV_READ);
	/* Writes as big as the reads: libevent 2.1 writes 16 KiB a call unless told. */
	bufferevent_set_max_single_write(bev, RL_READ_MAX);
	event_add(r->ev, NULL);
	return r;
}

void
rl_reader_on(struct rl_reader *r, bool on)
{
	if (on)
		event_add(r->ev, NULL);
	else
		event_del(r->ev);
}

void
rl_reader_wake_only(struct rl_reader *r)
{
	r->wake_only = true;
}

void
rl_reader_free(struct rl_reader *r)
{
	if (r == NULL)
		return;
	event_free(r->ev);
	free(r);
}

/* Links */

static void
link_free(struct rl_link *l)
{
	rl_reader_free(l->reader);
	tls_session_free(l->tls);
	rl_bev_close_flushed(l->rl, l->bev);
	if (l->plain != NULL)
		evbuffer_free(l->plain);
	free(l);
}

static void
link_release(struct rl_link *l)
{
	if (l->dead && l->busy == 0)
		link_free(l);
}

void
rl_link_close(struct rl_link *l)
{
	if (l == NULL || l->dead)
		return;
	l->dead = true;
	l->ops = NULL;
	l->owner = NULL;
	if (l->tls != NULL && l->up)
		tls_session_bye(l->tls);
	link_release(l);
}

/* The owner's callback, unless the link died meanwhile. */
#define LINK_CALL(l, fn, ...)                                                                      \
	do {                                                                                       \
		if (!(l)->dead && (l)->ops->fn != NULL)                                            \
			(l)->ops->fn((l)->owner, (l), ##__VA_ARGS__);                              \
	} while (0)

static void
link_fail(struct rl_link *l, const char *why)
{
	LINK_CALL(l, closed, why);
	rl_link_close(l);
}

static int
link_take_cert(struct rl_link *l)
{
	struct cm_err err;
	struct cm_cert *c = tls_session_peer_cert(l->tls, &err);

	if (c == NULL) {
		log_warnx("relay: %s", err.msg);
		return -1;
	}
	snprintf(l->fp, sizeof(l->fp), "%s", cm_cert_fingerprint(c));
	snprintf(l->email, sizeof(l->email), "%s", cm_cert_email(c));
	cm_cert_free(c);
	if (l->expected_fp[0] != '\0' && strcmp(l->fp, l->expected_fp) != 0) {
		log_warnx("relay: certificate %.16s... is not the pinned %.16s...", l->fp,
		          l->expected_fp);
		return -1;
	}
	return 0;
}

static void
link_lines(struct rl_link *l)
{
	while (!l->dead && !l->bare) {
		size_t eol_len = 0;
		struct evbuffer_ptr p =
		    evbuffer_search_eol(l->plain, NULL, &eol_len, EVBUFFER_EOL_LF);
		struct cm_relay_msg m;
		struct cm_err err;
		char *line;
		size_t len;

		if (p.pos < 0) {
			if (evbuffer_get_length(l->plain) >= RL_MAX_LINE)
				LINK_CALL(l, bad_line, "line too long");
			return;
		}
		len = (size_t)p.pos;
		if (len + 1 > RL_MAX_LINE) {
			LINK_CALL(l, bad_line, "line too long");
			return;
		}
		line = (char *)evbuffer_pullup(l->plain, (ssize_t)len + 1);
		memset(&m, 0, sizeof(m));
		if (cm_relay_msg_from_text(line, len, RL_MAX_LINE, &m, &err) != 0) {
			evbuffer_drain(l->plain, len + 1);
			LINK_CALL(l, bad_line, err.msg);
			return;
		}
		evbuffer_drain(l->plain, len + 1);
		l->last_rx_ms = cm_time_mono_ms();
		LINK_CALL(l, line, &m);
		cm_relay_msg_clear(&m);
	}
}

static void
link_process(struct rl_link *l)
{
	struct cm_err err;

	if (!l->up) {
		int rc = tls_session_handshake(l->tls, &err);

		if (rc == 0)
			return;
		if (rc < 0 || link_take_cert(l) != 0) {
			if (rc < 0)
				log_debug("relay: %s", err.msg);
			link_fail(l, rc < 0 ? "TLS handshake failed" : "certificate refused");
			return;
		}
		l->up = true;
		l->last_rx_ms = cm_time_mono_ms();
		LINK_CALL(l, ready);
		if (l->dead)
			return;
	}
	/* One record at a time: a line may end TLS on this link, and what follows is not TLS. */
	while (!l->dead && !l->bare) {
		int rc = tls_session_recv_one(l->tls, l->plain);

		link_lines(l);
		if (rc < 0 && !l->dead && !l->bare) {
			link_fail(l, "connection ended");
			return;
		}
		if (rc <= 0)
			break;
	}
	if (!l->dead && l->bare && evbuffer_get_length(bufferevent_get_input(l->bev)) > 0)
		LINK_CALL(l, data);
}

static void
link_read_cb(struct bufferevent *bev, void *arg)
{
	struct rl_link *l = arg;

	(void)bev;
	l->busy++;
	link_process(l);
	l->busy--;
	link_release(l);
}

static void
link_write_cb(struct bufferevent *bev, void *arg)
{
	struct rl_link *l = arg;

	(void)bev;
	l->busy++;
	if (l->up)
		LINK_CALL(l, writable);
	l->busy--;
	link_release(l);
}

static void
link_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct rl_link *l = arg;

	(void)bev;
	l->busy++;
	if (what & BEV_EVENT_CONNECTED) {
		tcp_nodelay(bufferevent_getfd(l->bev));
		l->connected = true;
		link_process(l);
	} else if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		if (what & BEV_EVENT_EOF)
			link_process(l);
		link_fail(l, (what & BEV_EVENT_EOF) ? "connection closed" : "connection lost");
	}
	l->busy--;
	link_release(l);
}

static struct rl_link *
link_alloc(struct rl_ctx *rl, int fd, bool server, const char *expected_fp,
           const struct rl_link_ops *ops, void *owner)
{
	struct rl_link *l = calloc(1, sizeof(*l));

	if (l == NULL) {
		close(fd);
		return NULL;
	}
	l->rl = rl;
	l->server = server;
	l->ops = ops;
	l->owner = owner;
	if (expected_fp != NULL)
		snprintf(l->expected_fp, sizeof(l->expected_fp), "%s", expected_fp);
	if ((l->bev = bufferevent_socket_new(rl->base, fd, BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		close(fd);
		free(l);
		return NULL;
	}
	if ((l->plain = evbuffer_new()) == NULL ||
	    (l->tls = tls_session_new(rl->creds, server, bufferevent_get_input(l->bev),
	                              bufferevent_get_output(l->bev), NULL, NULL)) == NULL) {
		l->dead = true;
		link_free(l);
		return NULL;
	}
	bufferevent_setcb(l->bev, link_read_cb, link_write_cb, link_event_cb, l);
	bufferevent_setwatermark(l->bev, EV_WRITE, WRITE_LOWAT, 0);
	bufferevent_enable(l->bev, EV_READ | EV_WRITE);
	return l;
}

struct rl_link *
rl_link_new(struct rl_ctx *rl, int fd, bool server, const char *expected_fp,
            const struct rl_link_ops *ops, void *owner)
{
	struct rl_link *l = link_alloc(rl, fd, server, expected_fp, ops, owner);

	if (l != NULL)
		l->connected = true;
	return l;
}

struct rl_link *
rl_link_dial(struct rl_ctx *rl, const char *ip, int port, const char *expected_fp,
             const struct rl_link_ops *ops, void *owner)
{
	struct tcp_addr peer;
	struct rl_link *l;
	struct cm_err err;
	int fd;

	if (tcp_addr_parse(ip, port, &peer) != 0) {
		log_warnx("relay: %s: not a numeric IP address", ip);
		return NULL;
	}
	if ((fd = tcp_socket_new(&peer, rl->cfg.bind_ip)) < 0 ||
	    (l = link_alloc(rl, fd, false, expected_fp, ops, owner)) == NULL)
		return NULL;
	if (tcp_connect(l->bev, &peer) != 0) {
		log_warnx("relay: cannot connect to %s port %d: %s", ip, port, strerror(errno));
		l->dead = true;
		link_free(l);
		return NULL;
	}
	/* A client speaks first in TLS: the ClientHello waits in the output for the connect. */
	if (tls_session_handshake(l->tls, &err) < 0) {
		log_warnx("relay: %s", err.msg);
		l->dead = true;
		link_free(l);
		return NULL;
	}
	return l;
}

int
rl_link_send(struct rl_link *l, const struct cm_relay_msg *m)
{
	char *text = cm_relay_msg_text(m);
	size_t len;
	int rc = -1;

	if (text == NULL || l->dead || !l->up)
		goto out;
	len = strlen(text);
	if (len + 1 > RL_MAX_LINE)
		goto out;
	text[len] = '\n';
	rc = tls_session_send_all(l->tls, text, len + 1);
out:
	free(text);
	return rc;
}

int
rl_link_send_raw(struct rl_link *l, const void *buf, size_t len)
{
	if (l->dead || !l->up)
		return -1;
	if (l->bare)
		return bufferevent_write(l->bev, buf, len);
	return tls_session_send_all(l->tls, buf, len);
}

size_t
rl_link_unsent(const struct rl_link *l)
{
	return evbuffer_get_length(bufferevent_get_output(l->bev));
}

void
rl_link_reading(struct rl_link *l, bool on)
{
	if (l->dead)
		return;
	if (l->bare)
		rl_reader_on(l->reader, on);
	else if (on)
		bufferevent_enable(l->bev, EV_READ);
	else
		bufferevent_disable(l->bev, EV_READ);
}

static void
link_bare_read(void *arg, ssize_t n)
{
	struct rl_link *l = arg;

	l->busy++;
	if (n > 0)
		LINK_CALL(l, data);
	else
		link_fail(l, n == 0 ? "connection closed" : "connection lost");
	l->busy--;
	link_release(l);
}

int
rl_link_go_bare(struct rl_link *l)
{
	if (l->dead || !l->up || l->bare)
		return -1;
	/* Decrypted bytes past the last line, then those GnuTLS was not handed (tls.h). */
	if (evbuffer_prepend_buffer(bufferevent_get_input(l->bev), l->plain) != 0 ||
	    (l->reader = rl_reader_new(l->rl->base, l->bev, link_bare_read, l)) == NULL)
		return -1;
	tls_session_free(l->tls);
	l->tls = NULL;
	l->bare = true;
	return 0;
}

void
rl_link_refuse(struct rl_link *l, const char *code, const char *reason)
{
	struct cm_relay_msg m = {
	    .op = CM_RELAY_ERROR, .code = (char *)code, .reason = (char *)reason};

	if (l->up && !l->dead)
		rl_link_send(l, &m);
	rl_link_close(l);
}

/* The context */

struct rl_ctx *
rl_new(struct event_base *base, const struct rl_config *cfg, const struct rl_hooks *hooks,
       void *ctx)
{
	struct rl_ctx *rl = calloc(1, sizeof(*rl));
	struct cm_hash_key hkey;

	if (rl == NULL)
		return NULL;
	rl->base = base;
	rl->cfg = *cfg;
	rl->creds = cfg->creds;
	if (hooks != NULL)
		rl->hooks = *hooks;
	rl->hctx = ctx;
	rl->global_ms = cm_time_mono_ms();
	rl->global_tokens = (double)cfg->max_rate;
	if (cm_random_hash_key(&hkey) != 0 ||
	    (rl->accepts = cm_ratemap_new(
	         &hkey, cfg->accept_rate_per_s > 0 ? cfg->accept_rate_per_s : 1,
	         cfg->accept_burst >= 1 ? cfg->accept_burst : 1, ACCEPT_TABLE_MAX)) == NULL) {
		log_warnx("%s: cannot set up the relay", __func__);
		rl_free(rl);
		return NULL;
	}
	return rl;
}

void
rl_free(struct rl_ctx *rl)
{
	if (rl == NULL)
		return;
	/* Nothing may outlive the context: what is queued is dropped with the sockets. */
	rl->stopping = true;
	rl_circuits_stop(rl);
	rl_held_stop(rl);
	rl_server_stop(rl);
	while (rl->flushers != NULL)
		flusher_free(rl->flushers);
	cm_ratemap_free(rl->accepts);
	free(rl);
}

void
rl_stats(const struct rl_ctx *rl, struct rl_stats *out)
{
	*out = rl->stats;
	rl_server_counts(rl, out);
	rl_held_counts(rl, out);
	rl_circuits_counts(rl, out);
}

size_t
rl_list(const struct rl_ctx *rl, struct rl_entry *out, size_t max)
{
	size_t n = rl_held_list(rl, out, max);

	n += rl_circuits_list(rl, out + n, max - n);
	return n + rl_server_list(rl, out + n, max - n);
}
