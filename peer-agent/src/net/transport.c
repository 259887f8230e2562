/*
 * transport.c - gossip sessions (see transport.h): the state machine that
 * takes one connection through TCP (tcp.c), TLS (tls.c), the HTTP Upgrade
 * (upgrade.c) and WebSocket frames (websocket.c), and the session list. An
 * adopted session (tp_adopt) skips TCP and TLS: its stream is plaintext
 * already, and the stream_* functions below stand for TLS there.
 */
#include "net/transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fb/identity.h"
#include "fb/log.h"
#include "fb/map.h"
#include "fb/ratemap.h"
#include "fb/random.h"
#include "fb/timeutil.h"
#include "net/tcp.h"
#include "net/tls.h"
#include "net/upgrade.h"
#include "net/websocket.h"

#define CLOSE_GRACE_MS 2000 /* waiting for the peer's close frame and the flush */
#define WRITE_LOWAT 16384   /* refill the socket's queue below one TLS record */
#define UPGRADE_HOST "flashback-peer" /* peers are named by certificate, not by host */
#define PING_NONCE_LEN 8

/* Where an inbound session comes from, as the per-address cap counts it. */
struct addr_key {
	int family;        /* AF_INET (IPv4-mapped IPv6 too) or AF_INET6 */
	uint8_t bytes[8];  /* the IPv4 address, or the IPv6 /64 prefix */
};

#define ADDR_KEY_STR_LEN 24 /* "6:" and 16 hex digits, with room */

enum tp_state { ST_TCP, ST_TLS, ST_UPGRADE, ST_OPEN, ST_CLOSING, ST_DRAINING, ST_DEAD };

struct tp_session {
	struct tp_ctx *ctx;
	struct tp_session *prev, *next;
	uint64_t id;
	bool inbound;
	bool adopted; /* a relayed circuit's plaintext: no TLS, no remote address */
	enum tp_state state;
	struct bufferevent *bev;
	struct tls_session *tls;
	struct ws_conn *ws;
	struct evbuffer *plain; /* decrypted bytes not yet consumed */
	struct event *timer;    /* handshake deadline, then the close grace */
	char expected_fp[CM_FINGERPRINT_LEN + 1];
	bool has_expected_fp;
	char fp[CM_FINGERPRINT_LEN + 1];
	char *peer_pem;
	char ws_accept[UPGRADE_ACCEPT_LEN + 1]; /* client: the answer our key calls for */
	int close_code;
	char close_reason[124];
	bool close_reported;
	int busy; /* nesting depth of our own dispatch: free only at depth 0 */
	bool authenticated; /* the caller saw the peer's hello */
	uint64_t authed_seq; /* order of authentication among inbound sessions */
	bool dropped; /* its output is thrown away: no TLS goodbye, no flush */
	struct addr_key remote; /* inbound and not adopted only; zero (family 0) otherwise */
	uint8_t ping_nonce[PING_NONCE_LEN];
	int64_t ping_sent_ms;
	bool ping_outstanding;
};

struct tp_ctx {
	struct event_base *base;
	struct tp_config cfg;
	struct tp_callbacks cb;
	void *arg;
	struct tls_creds *creds;
	struct tcp_listener *listener;
	struct tp_session *sessions;
	size_t nsessions;
	uint64_t next_id;
	uint64_t auth_seq;
	struct cm_ratemap *accepts; /* by address key string */
	struct event *evict_ev; /* pushes out inbound sessions over max_sessions */
	struct tp_stats stats;
};

static void session_process(struct tp_session *s);
static void session_teardown(struct tp_session *s, int code, const char *reason);

void
tp_config_default(struct tp_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->handshake_timeout_ms = 10000;
	cfg->idle_timeout_ms = 90000;
	cfg->max_sessions = 256;
	cfg->evict_grace_ms = 5000;
	cfg->evict_surplus = 2;
	cfg->hello_timeout_ms = 5000;
	cfg->max_pending = 8;
	cfg->max_per_address = 4;
	cfg->max_per_prefix48 = 16;
	cfg->accept_rate_per_s = 4;
	cfg->accept_burst = 8;
	cfg->max_send_queue_bytes = 1024 * 1024;
}

/* A limit's log line, at the 1st, 2nd, 4th, 8th... time it bites: a flood must not flood the log. */
static bool
limit_log_due(uint64_t count)
{
	return (count & (count - 1)) == 0;
}

static struct timeval
tv_ms(int64_t ms)
{
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};

	return tv;
}

/* Lifecycle */

static void
report_close(struct tp_session *s, int code, const char *reason)
{
	struct tp_ctx *ctx = s->ctx;

	if (s->close_reported)
		return;
	s->close_reported = true;
	ctx->stats.closed++;
	if (code >= 1000 && code < 1016)
		ctx->stats.closed_by_code[code - 1000]++;
	else if (code == TP_CLOSE_FULL)
		ctx->stats.closed_full++;
	if (ctx->cb.on_close != NULL)
		ctx->cb.on_close(s, code, reason, ctx->arg);
}

static void
session_free(struct tp_session *s)
{
	struct tp_ctx *ctx = s->ctx;

	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		ctx->sessions = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	ctx->nsessions--;
	if (s->timer != NULL)
		event_free(s->timer);
	ws_conn_free(s->ws);
	tls_session_free(s->tls);
	if (s->bev != NULL)
		bufferevent_free(s->bev);
	if (s->plain != NULL)
		evbuffer_free(s->plain);
	free(s->peer_pem);
	free(s);
}

/* Frees a dead session once no dispatch of ours is running on it. */
static void
session_release(struct tp_session *s)
{
	if (s->state == ST_DEAD && s->busy == 0)
		session_free(s);
}

static void
drained_cb(struct bufferevent *bev, void *arg)
{
	struct tp_session *s = arg;

	(void)bev;
	if (s->state == ST_DRAINING) {
		s->state = ST_DEAD;
		session_release(s);
	}
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tp_session *s = arg;

	(void)fd;
	(void)what;
	s->busy++;
	switch (s->state) {
	case ST_TCP:
	case ST_TLS:
	case ST_UPGRADE:
		s->ctx->stats.handshake_failures++;
		session_teardown(s, 1006, "handshake timeout");
		break;
	case ST_OPEN:
		/* Only the hello deadline runs while open. */
		if (!s->authenticated) {
			if (limit_log_due(++s->ctx->stats.hello_timeouts))
				log_info("session %llu: no hello within %lld ms: closing (%llu so far)",
					 (unsigned long long)s->id,
					 (long long)s->ctx->cfg.hello_timeout_ms,
					 (unsigned long long)s->ctx->stats.hello_timeouts);
			tp_close(s, 1008, "no hello in time");
		}
		break;
	case ST_CLOSING:
		session_teardown(s, s->close_code != 0 ? s->close_code : 1006, "close timeout");
		break;
	case ST_DRAINING:
		s->state = ST_DEAD;
		break;
	default:
		break;
	}
	s->busy--;
	session_release(s);
}

/*
 * Ends the session: reports it once, then lets what is queued reach the
 * socket (bounded by the grace timer) before the session is freed.
 */
static void
session_teardown(struct tp_session *s, int code, const char *reason)
{
	struct timeval tv = tv_ms(CLOSE_GRACE_MS);

	if (s->state == ST_DRAINING || s->state == ST_DEAD)
		return;
	if (!s->adopted && !s->dropped && (s->state == ST_OPEN || s->state == ST_CLOSING))
		tls_session_bye(s->tls);
	s->state = ST_DRAINING;
	report_close(s, code, reason);
	if (s->bev == NULL || s->dropped ||
	    evbuffer_get_length(bufferevent_get_output(s->bev)) == 0) {
		s->state = ST_DEAD;
		return;
	}
	bufferevent_disable(s->bev, EV_READ);
	bufferevent_setwatermark(s->bev, EV_WRITE, 0, 0);
	bufferevent_setcb(s->bev, NULL, drained_cb, NULL, s);
	evtimer_add(s->timer, &tv);
}

/* The stream under the Upgrade and the frames: TLS, or an adopted session's plaintext as it is */

static ssize_t
stream_send(struct tp_session *s, const void *buf, size_t len)
{
	if (!s->adopted)
		return tls_session_send(s->tls, buf, len);
	if (evbuffer_add(bufferevent_get_output(s->bev), buf, len) != 0)
		return -1;
	s->ctx->stats.bytes_out += len;
	return (ssize_t)len;
}

static int
stream_send_all(struct tp_session *s, const void *buf, size_t len)
{
	if (!s->adopted)
		return tls_session_send_all(s->tls, buf, len);
	return stream_send(s, buf, len) < 0 ? -1 : 0;
}

/* Moves what arrived into plain. Returns 0, or -1 when the stream ended or broke. */
static int
stream_recv_all(struct tp_session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);

	if (!s->adopted)
		return tls_session_recv_all(s->tls, s->plain);
	s->ctx->stats.bytes_in += evbuffer_get_length(in);
	return evbuffer_add_buffer(s->plain, in);
}

/* WebSocket frames, on the decrypted stream */

static size_t
ws_recv(uint8_t *buf, size_t len, void *arg)
{
	struct tp_session *s = arg;
	int n = evbuffer_remove(s->plain, buf, len);

	return n > 0 ? (size_t)n : 0;
}

static ssize_t
ws_send(const uint8_t *data, size_t len, void *arg)
{
	struct tp_session *s = arg;

	/* A session being torn down takes nothing more (a send-queue overflow dropped its output). */
	if (s->state == ST_DRAINING || s->state == ST_DEAD)
		return 0;
	return stream_send(s, data, len);
}

/* Is this pong the answer to our outstanding ping? Then its round trip, by our clock. */
static void
on_pong_frame(struct tp_session *s, const struct ws_msg *m)
{
	struct tp_ctx *ctx = s->ctx;
	int64_t rtt;

	if (!s->ping_outstanding || m->len != PING_NONCE_LEN ||
	    memcmp(m->data, s->ping_nonce, PING_NONCE_LEN) != 0) {
		ctx->stats.pongs_ignored++;
		return;
	}
	s->ping_outstanding = false;
	rtt = cm_time_mono_ms() - s->ping_sent_ms;
	if (rtt < 0 || rtt > TP_MAX_RTT_MS) {
		ctx->stats.pongs_ignored++;
		return;
	}
	if (ctx->cb.on_pong != NULL)
		ctx->cb.on_pong(s, rtt, ctx->arg);
}

static void
ws_on_msg(const struct ws_msg *m, void *arg)
{
	struct tp_session *s = arg;
	struct tp_ctx *ctx = s->ctx;

	if (m->kind == WS_MSG_CLOSE) {
		/* Keep the code of a close we started; otherwise the peer's is the reason. */
		if (s->close_code == 0) {
			s->close_code = m->close_code;
			snprintf(s->close_reason, sizeof(s->close_reason), "closed by peer");
		}
		return;
	}
	if (s->state != ST_OPEN)
		return;
	switch (m->kind) {
	case WS_MSG_TEXT:
		if (ctx->cb.on_text != NULL)
			ctx->cb.on_text(s, (const char *)m->data, m->len, ctx->arg);
		break;
	case WS_MSG_BINARY:
		tp_close(s, 1003, "binary frames are not spoken here");
		break;
	case WS_MSG_PONG:
		on_pong_frame(s, m);
		break;
	default:
		break;
	}
}

static int
ws_start(struct tp_session *s)
{
	static const struct ws_io io = {ws_recv, ws_send, ws_on_msg};

	if ((s->ws = ws_conn_new(s->inbound, CM_MAX_FRAME, &io, s)) == NULL)
		return -1;
	s->state = ST_OPEN;
	evtimer_del(s->timer);
	if (!s->authenticated && s->ctx->cfg.hello_timeout_ms > 0) {
		struct timeval tv = tv_ms(s->ctx->cfg.hello_timeout_ms);

		evtimer_add(s->timer, &tv);
	}
	s->ctx->stats.connected += !s->inbound;
	s->ctx->stats.accepted += s->inbound;
	if (s->ctx->cb.on_open != NULL)
		s->ctx->cb.on_open(s, s->ctx->arg);
	return 0;
}

/* After the frame engine ran: a close sent or received moves the session towards its end. */
static void
ws_after(struct tp_session *s)
{
	if (ws_conn_close_sent(s->ws) && s->state == ST_OPEN) {
		/* A close we sent (wslay sends one itself for protocol errors) or an echo. */
		struct timeval tv = tv_ms(CLOSE_GRACE_MS);

		s->state = ST_CLOSING;
		if (s->close_code == 0) {
			s->close_code = ws_conn_close_code_sent(s->ws);
			snprintf(s->close_reason, sizeof(s->close_reason), "protocol error");
		}
		evtimer_add(s->timer, &tv);
	}
	if (ws_conn_close_sent(s->ws) && ws_conn_close_received(s->ws))
		session_teardown(s, s->close_code != 0 ? s->close_code : 1005, s->close_reason);
}

size_t
tp_session_unsent(const struct tp_session *s)
{
	return (s->bev != NULL ? evbuffer_get_length(bufferevent_get_output(s->bev)) : 0) +
	       (s->ws != NULL ? ws_conn_queued_bytes(s->ws) : 0);
}

/*
 * Closes a session whose unsent output would pass the cap with more bytes:
 * a peer that does not read is dropped, and what it did not read with it.
 * Returns true when it did.
 */
static bool
send_queue_overflow(struct tp_session *s, size_t more)
{
	size_t unsent = tp_session_unsent(s);

	if (unsent + more <= s->ctx->cfg.max_send_queue_bytes)
		return false;
	s->ctx->stats.send_queue_overflows++;
	log_warnx("%s: session %llu: %zu bytes unsent, %zu more would pass the send queue cap "
		  "(send_queue_max, %zu bytes): closing",
		  __func__, (unsigned long long)s->id, unsent, more,
		  s->ctx->cfg.max_send_queue_bytes);
	/* It does not read: its goodbye would wait unread too. The caller frees it at once. */
	s->dropped = true;
	session_teardown(s, 1008, "send queue full");
	return true;
}

/*
 * Runs the frame engine: receive (when asked) and send what is queued. Our
 * message callback may send on this very session: from inside, ws_conn_run
 * only queues, and the outer run sends.
 */
static void
ws_run(struct tp_session *s, bool receive)
{
	if (s->ws == NULL)
		return;
	if (ws_conn_run(s->ws, receive) != 0) {
		session_teardown(s, s->close_code != 0 ? s->close_code : 1006, "WebSocket failure");
		return;
	}
	ws_after(s);
}

/* The HTTP Upgrade, on the decrypted stream */

static void
server_reject(struct tp_session *s, int status, const char *why)
{
	char resp[256];
	int n = upgrade_build_refusal(resp, sizeof(resp), status);

	log_debug("%s: session %llu: upgrade refused with %d: %s", __func__,
		  (unsigned long long)s->id, status, why);
	if (n > 0)
		stream_send_all(s, resp, (size_t)n);
	s->ctx->stats.handshake_failures++;
	session_teardown(s, 1006, why);
}

/* The first bytes of plain, as many as an Upgrade block may have. */
static const char *
upgrade_window(struct tp_session *s, size_t *len)
{
	size_t have = evbuffer_get_length(s->plain);

	*len = have < UPGRADE_MAX_BYTES ? have : UPGRADE_MAX_BYTES;
	return (const char *)evbuffer_pullup(s->plain, (ssize_t)*len);
}

static void
server_upgrade(struct tp_session *s)
{
	struct upgrade_request req;
	struct cm_err err;
	char accept[UPGRADE_ACCEPT_LEN + 1], resp[512];
	size_t len;
	const char *buf = upgrade_window(s, &len);
	int r, n;

	if (len == 0)
		return;
	r = upgrade_parse_request(buf, len, TP_PATH, TP_SUBPROTOCOL, &req, &err);
	if (r == 0)
		return;
	if (r < 0) {
		server_reject(s, req.status, err.msg);
		return;
	}
	evbuffer_drain(s->plain, (size_t)r);
	/* Offered extensions (permessage-deflate...) are declined by not naming them. */
	if (upgrade_accept_key(req.key, accept) != 0 ||
	    (n = upgrade_build_response(resp, sizeof(resp), accept, TP_SUBPROTOCOL)) < 0 ||
	    stream_send_all(s, resp, (size_t)n) != 0 || ws_start(s) != 0)
		session_teardown(s, 1006, "upgrade failed");
}

/* Sends our Upgrade request. Returns 0 or -1. */
static int
client_send_upgrade(struct tp_session *s)
{
	uint8_t nonce[UPGRADE_NONCE_LEN];
	char key[UPGRADE_KEY_LEN + 1], req[512];
	int n;

	if (cm_random_bytes(nonce, sizeof(nonce)) != 0 ||
	    upgrade_key_from_nonce(nonce, key) != 0 || upgrade_accept_key(key, s->ws_accept) != 0 ||
	    (n = upgrade_build_request(req, sizeof(req), UPGRADE_HOST, TP_PATH, key,
				       TP_SUBPROTOCOL)) < 0)
		return -1;
	return stream_send_all(s, req, (size_t)n);
}

static void
client_upgrade(struct tp_session *s)
{
	struct cm_err err;
	size_t len;
	const char *buf = upgrade_window(s, &len);
	int r;

	if (len == 0)
		return;
	r = upgrade_parse_response(buf, len, s->ws_accept, TP_SUBPROTOCOL, &err);
	if (r == 0)
		return;
	if (r < 0) {
		log_debug("%s: session %llu: %s", __func__, (unsigned long long)s->id, err.msg);
		s->ctx->stats.handshake_failures++;
		session_teardown(s, 1006, "bad upgrade response");
		return;
	}
	evbuffer_drain(s->plain, (size_t)r);
	if (ws_start(s) != 0)
		session_teardown(s, 1006, "upgrade failed");
}

/* TLS handshake and the peer certificate */

static int
take_peer_cert(struct tp_session *s)
{
	struct cm_cert *c;
	struct cm_err err;

	if ((c = tls_session_peer_cert(s->tls, &err)) == NULL) {
		log_warnx("%s: session %llu: %s", __func__, (unsigned long long)s->id, err.msg);
		return -1;
	}
	snprintf(s->fp, sizeof(s->fp), "%s", cm_cert_fingerprint(c));
	s->peer_pem = strdup(cm_cert_pem(c));
	cm_cert_free(c);
	if (s->peer_pem == NULL)
		return -1;
	if (s->has_expected_fp && strcmp(s->fp, s->expected_fp) != 0) {
		log_warnx("%s: session %llu: server certificate %.16s... is not the pinned %.16s...",
			  __func__, (unsigned long long)s->id, s->fp, s->expected_fp);
		s->ctx->stats.pin_failures++;
		return -1;
	}
	return 0;
}

static void
tls_handshake_step(struct tp_session *s)
{
	struct cm_err err;
	int rc = tls_session_handshake(s->tls, &err);

	if (rc == 0)
		return;
	if (rc < 0) {
		log_warnx("%s: session %llu: %s", __func__, (unsigned long long)s->id, err.msg);
		s->ctx->stats.handshake_failures++;
		session_teardown(s, 1006, "TLS handshake failed");
		return;
	}
	if (take_peer_cert(s) != 0) {
		s->ctx->stats.handshake_failures++;
		session_teardown(s, 1006, "peer certificate refused");
		return;
	}
	s->state = ST_UPGRADE;
	if (!s->inbound && client_send_upgrade(s) != 0)
		session_teardown(s, 1006, "upgrade failed");
}

/* Events */

static void
session_process(struct tp_session *s)
{
	bool ended = false;

	if (s->state == ST_TLS)
		tls_handshake_step(s);
	if (s->state == ST_UPGRADE || s->state == ST_OPEN || s->state == ST_CLOSING)
		ended = stream_recv_all(s) != 0;
	if (s->state == ST_UPGRADE)
		(s->inbound ? server_upgrade : client_upgrade)(s);
	if (s->state == ST_OPEN || s->state == ST_CLOSING) {
		ws_run(s, true);
		/* What the peer made us send unasked (pongs) counts too. */
		if (s->state == ST_OPEN || s->state == ST_CLOSING)
			send_queue_overflow(s, 0);
	}
	if (ended && s->state != ST_DRAINING && s->state != ST_DEAD)
		session_teardown(s, s->close_code != 0 ? s->close_code : 1006, "connection ended");
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct tp_session *s = arg;

	(void)bev;
	s->busy++;
	session_process(s);
	s->busy--;
	session_release(s);
}

/*
 * wslay hands an unmasked frame to TLS whole, and TLS takes one record of it
 * per send: the rest goes out here, as the socket drains, without waiting for
 * the peer to send something.
 */
static void
write_cb(struct bufferevent *bev, void *arg)
{
	struct tp_session *s = arg;

	(void)bev;
	s->busy++;
	if (s->state == ST_OPEN || s->state == ST_CLOSING)
		ws_run(s, false);
	s->busy--;
	session_release(s);
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct tp_session *s = arg;

	(void)bev;
	s->busy++;
	if (what & BEV_EVENT_CONNECTED) {
		tcp_nodelay(bufferevent_getfd(s->bev));
		s->state = ST_TLS;
		tls_handshake_step(s);
	} else if (what & BEV_EVENT_TIMEOUT) {
		session_teardown(s, 1006, "idle timeout");
	} else if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		/* Whatever arrived with the end still counts (a close frame, say). */
		if (what & BEV_EVENT_EOF)
			session_process(s);
		session_teardown(s, s->close_code != 0 ? s->close_code : 1006, "connection lost");
	}
	s->busy--;
	session_release(s);
}

/* A session on fd (closed on failure): a TCP one starts at TCP or TLS, an adopted one at the Upgrade. */
static struct tp_session *
session_new(struct tp_ctx *ctx, evutil_socket_t fd, bool inbound, bool adopted)
{
	struct tp_session *s = calloc(1, sizeof(*s));
	struct timeval idle = tv_ms(ctx->cfg.idle_timeout_ms);
	struct timeval hs = tv_ms(ctx->cfg.handshake_timeout_ms);

	if (s == NULL) {
		evutil_closesocket(fd);
		return NULL;
	}
	s->ctx = ctx;
	s->id = ++ctx->next_id;
	s->inbound = inbound;
	s->adopted = adopted;
	s->state = adopted ? ST_UPGRADE : inbound ? ST_TLS : ST_TCP;
	s->next = ctx->sessions;
	if (ctx->sessions != NULL)
		ctx->sessions->prev = s;
	ctx->sessions = s;
	ctx->nsessions++;
	if ((s->bev = bufferevent_socket_new(ctx->base, fd, BEV_OPT_CLOSE_ON_FREE)) == NULL ||
	    (s->plain = evbuffer_new()) == NULL ||
	    (s->timer = evtimer_new(ctx->base, timer_cb, s)) == NULL ||
	    (!adopted &&
	     (s->tls = tls_session_new(ctx->creds, inbound, bufferevent_get_input(s->bev),
				       bufferevent_get_output(s->bev), &ctx->stats.bytes_in,
				       &ctx->stats.bytes_out)) == NULL)) {
		if (s->bev == NULL)
			evutil_closesocket(fd);
		s->state = ST_DEAD;
		session_free(s);
		return NULL;
	}
	bufferevent_setcb(s->bev, read_cb, write_cb, event_cb, s);
	bufferevent_setwatermark(s->bev, EV_WRITE, WRITE_LOWAT, 0);
	bufferevent_set_timeouts(s->bev, &idle, NULL);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	evtimer_add(s->timer, &hs);
	return s;
}

static void
addr_key_set(struct addr_key *k, const struct sockaddr *sa)
{
	memset(k, 0, sizeof(*k));
	if (sa->sa_family == AF_INET) {
		k->family = AF_INET;
		memcpy(k->bytes, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		/* A dual-stack listener sees IPv4 peers as ::ffff:a.b.c.d: count them as IPv4. */
		if (IN6_IS_ADDR_V4MAPPED(a)) {
			k->family = AF_INET;
			memcpy(k->bytes, &a->s6_addr[12], 4);
		} else {
			/* One host is given a /64; counting addresses would count nothing. */
			k->family = AF_INET6;
			memcpy(k->bytes, a->s6_addr, 8);
		}
	}
}

static bool
session_pending(const struct tp_session *s)
{
	return s->inbound && !s->authenticated && s->state < ST_CLOSING;
}

static void
log_refusal(const struct sockaddr *sa, const char *why, uint64_t count)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	const void *a = sa->sa_family == AF_INET
				? (const void *)&((const struct sockaddr_in *)sa)->sin_addr
				: (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr;

	if (!limit_log_due(count))
		return;
	inet_ntop(sa->sa_family, a, ip, sizeof(ip));
	log_info("inbound connection from %s refused: %s (%llu refused so far)", ip, why,
		 (unsigned long long)count);
}

/* Do a and b share an IPv6 /48 (IPv4 never does)? */
static bool
same_prefix48(const struct addr_key *a, const struct addr_key *b)
{
	return a->family == AF_INET6 && b->family == AF_INET6 && memcmp(a->bytes, b->bytes, 6) == 0;
}

/* The address group inbound eviction counts: an IPv4 address or an IPv6 /48. */
static bool
same_group(const struct addr_key *a, const struct addr_key *b)
{
	if (a->family == AF_INET6)
		return same_prefix48(a, b);
	return a->family == b->family && memcmp(a->bytes, b->bytes, 4) == 0;
}

static void
addr_key_str(const struct addr_key *k, char out[ADDR_KEY_STR_LEN])
{
	size_t len = k->family == AF_INET6 ? 8 : 4;
	int n = snprintf(out, ADDR_KEY_STR_LEN, "%d:", k->family == AF_INET6 ? 6 : 4);

	for (size_t i = 0; i < len; i++)
		n += snprintf(out + n, ADDR_KEY_STR_LEN - (size_t)n, "%02x", k->bytes[i]);
}

/* Takes one accept from k's bucket. False when it is empty: k reconnects too fast. */
static bool
accept_rate_take(struct tp_ctx *ctx, const struct addr_key *k)
{
	char key[ADDR_KEY_STR_LEN];

	addr_key_str(k, key);
	return cm_ratemap_take(ctx->accepts, key, cm_time_mono_ms());
}

/*
 * Closes one inbound session that has not authenticated yet: the youngest of
 * the address holding the most (the list is newest first). An address that
 * floods pushes out its own sessions, not a newcomer from elsewhere.
 */
static void
evict_pending(struct tp_ctx *ctx)
{
	struct tp_session *s, *t, *victim = NULL;
	size_t most = 0;

	for (s = ctx->sessions; s != NULL; s = s->next) {
		size_t n = 0;

		if (!session_pending(s))
			continue;
		for (t = ctx->sessions; t != NULL; t = t->next)
			n += session_pending(t) &&
			     memcmp(&t->remote, &s->remote, sizeof(s->remote)) == 0;
		if (n > most) {
			most = n;
			victim = s;
		}
	}
	if (victim == NULL)
		return;
	ctx->stats.pending_evicted++;
	if (limit_log_due(ctx->stats.pending_evicted))
		log_info("session %llu closed: %zu unauthenticated sessions already "
			 "(max_unauthenticated), %zu of them from its address, and a newer "
			 "one came (%llu so far)",
			 (unsigned long long)victim->id, ctx->cfg.max_pending, most,
			 (unsigned long long)ctx->stats.pending_evicted);
	victim->busy++;
	if (victim->state == ST_OPEN)
		tp_close(victim, 1008, "too many unauthenticated sessions");
	else
		session_teardown(victim, 1006, "too many unauthenticated sessions");
	victim->busy--;
	session_release(victim);
}

static bool
inbound_neighbour(const struct tp_session *s)
{
	return s->inbound && s->authenticated && s->state == ST_OPEN;
}

static size_t
inbound_neighbour_count(const struct tp_ctx *ctx)
{
	size_t n = 0;

	for (const struct tp_session *s = ctx->sessions; s != NULL; s = s->next)
		n += inbound_neighbour(s);
	return n;
}

/*
 * Picks the authenticated inbound session to push out (after Bitcoin Core's
 * inbound eviction): never the newest authenticated (the newcomer), never one
 * of the longest connected half of the others; of the rest, the youngest of
 * the address group with the most of them (ties: the group with the
 * youngest). The list is newest first, so the rest are its first ones.
 */
static struct tp_session *
inbound_victim(struct tp_ctx *ctx)
{
	struct tp_session *s, *t, *newest = NULL, *victim = NULL;
	size_t n = 0, open, most = 0, i = 0;

	for (s = ctx->sessions; s != NULL; s = s->next)
		if (inbound_neighbour(s) && (newest == NULL || s->authed_seq > newest->authed_seq))
			newest = s;
	for (s = ctx->sessions; s != NULL; s = s->next)
		n += inbound_neighbour(s) && s != newest;
	open = n - n / 2;
	for (s = ctx->sessions; s != NULL && i < open; s = s->next) {
		size_t same = 0, j = 0;

		if (!inbound_neighbour(s) || s == newest)
			continue;
		i++;
		for (t = ctx->sessions; t != NULL && j < open; t = t->next) {
			if (!inbound_neighbour(t) || t == newest)
				continue;
			j++;
			same += same_group(&t->remote, &s->remote);
		}
		if (same > most) {
			most = same;
			victim = s;
		}
	}
	return victim;
}

static void
evict_inbound_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tp_ctx *ctx = arg;
	struct tp_session *victim;

	(void)fd;
	(void)what;
	while (inbound_neighbour_count(ctx) > ctx->cfg.max_sessions &&
	       (victim = inbound_victim(ctx)) != NULL) {
		ctx->stats.inbound_evicted++;
		if (limit_log_due(ctx->stats.inbound_evicted))
			log_info("session %llu closed: more than %zu authenticated inbound "
				 "sessions (max_peers less dial_slots), it is the youngest of the "
				 "address with the most (%llu so far)",
				 (unsigned long long)victim->id, ctx->cfg.max_sessions,
				 (unsigned long long)ctx->stats.inbound_evicted);
		tp_close(victim, TP_CLOSE_FULL, "too many inbound sessions, try another peer");
	}
}

static void
accept_cb(int fd, const struct sockaddr *sa, socklen_t salen, void *arg)
{
	struct tp_ctx *ctx = arg;
	struct addr_key k;
	struct tp_session *s;
	size_t same = 0, same48 = 0, pending = 0;

	(void)salen;
	addr_key_set(&k, sa);
	if (!accept_rate_take(ctx, &k)) {
		log_refusal(sa, "it reconnects too fast (accept_rate, accept_burst)",
			    ++ctx->stats.refused_rate);
		evutil_closesocket(fd);
		return;
	}
	/* Adopted sessions have no address: they count in no address's caps. */
	for (s = ctx->sessions; s != NULL; s = s->next) {
		same += s->inbound && !s->adopted && memcmp(&s->remote, &k, sizeof(k)) == 0;
		same48 += s->inbound && !s->adopted && same_prefix48(&s->remote, &k);
		pending += session_pending(s);
	}
	if (same >= ctx->cfg.max_per_address) {
		log_refusal(sa, "too many sessions from that address (max_per_address)",
			    ++ctx->stats.refused_per_address);
		evutil_closesocket(fd);
		return;
	}
	if (same48 >= ctx->cfg.max_per_prefix48) {
		log_refusal(sa, "too many sessions from that IPv6 /48 (4 x max_per_address)",
			    ++ctx->stats.refused_per_prefix);
		evutil_closesocket(fd);
		return;
	}
	/* Pending sessions have a cap of their own: a newcomer is never refused for them. */
	if (pending >= ctx->cfg.max_pending)
		evict_pending(ctx);
	if ((s = session_new(ctx, fd, true, false)) != NULL)
		s->remote = k;
}

/* The facade */

struct tp_ctx *
tp_new(struct event_base *base, const struct tp_config *cfg, const struct tp_callbacks *cb,
       void *arg)
{
	struct tp_ctx *ctx = calloc(1, sizeof(*ctx));
	struct cm_hash_key hkey;

	if (ctx == NULL)
		return NULL;
	ctx->base = base;
	ctx->cfg = *cfg;
	ctx->cb = *cb;
	ctx->arg = arg;
	if (cm_random_hash_key(&hkey) != 0 ||
	    (ctx->accepts = cm_ratemap_new(&hkey, ctx->cfg.accept_rate_per_s, ctx->cfg.accept_burst,
					    TP_ACCEPT_TABLE_MAX)) == NULL ||
	    (ctx->evict_ev = event_new(base, -1, 0, evict_inbound_cb, ctx)) == NULL ||
	    (ctx->creds = tls_creds_new(cfg->cert_file, cfg->key_file)) == NULL) {
		tp_free(ctx);
		return NULL;
	}
	return ctx;
}

const struct tls_creds *
tp_creds(const struct tp_ctx *ctx)
{
	return ctx->creds;
}

void
tp_free(struct tp_ctx *ctx)
{
	if (ctx == NULL)
		return;
	tp_unlisten(ctx);
	while (ctx->sessions != NULL) {
		struct tp_session *s = ctx->sessions;

		report_close(s, 1001, "shutting down");
		s->state = ST_DEAD;
		session_free(s);
	}
	cm_ratemap_free(ctx->accepts);
	if (ctx->evict_ev != NULL)
		event_free(ctx->evict_ev);
	tls_creds_free(ctx->creds);
	free(ctx);
}

int
tp_listen(struct tp_ctx *ctx, const char *host, int port)
{
	tp_unlisten(ctx);
	ctx->listener = tcp_listener_new(ctx->base, host, port, accept_cb, ctx);
	return ctx->listener != NULL ? 0 : -1;
}

void
tp_unlisten(struct tp_ctx *ctx)
{
	tcp_listener_free(ctx->listener);
	ctx->listener = NULL;
}

int
tp_listen_port(const struct tp_ctx *ctx)
{
	return ctx->listener != NULL ? tcp_listener_port(ctx->listener) : -1;
}

struct tp_session *
tp_connect(struct tp_ctx *ctx, const char *ip, int port, const char *bind_ip,
	   const char *expected_fingerprint)
{
	struct tcp_addr peer;
	int fd;
	struct tp_session *s;

	if (tcp_addr_parse(ip, port, &peer) != 0) {
		log_warnx("%s: %s: not a numeric IP address", __func__, ip);
		return NULL;
	}
	if ((fd = tcp_socket_new(&peer, bind_ip)) < 0 ||
	    (s = session_new(ctx, fd, false, false)) == NULL)
		return NULL;
	if (expected_fingerprint != NULL) {
		s->has_expected_fp = true;
		snprintf(s->expected_fp, sizeof(s->expected_fp), "%s", expected_fingerprint);
	}
	if (tcp_connect(s->bev, &peer) != 0) {
		/* NULL means no callback will ever name this session. */
		log_warnx("%s: cannot connect to %s port %d: %s", __func__, ip, port,
			  strerror(errno));
		s->close_reported = true;
		s->state = ST_DEAD;
		session_free(s);
		return NULL;
	}
	return s;
}

struct tp_session *
tp_adopt(struct tp_ctx *ctx, int fd, bool inbound, const char *peer_cert_pem,
	 const char *fingerprint)
{
	struct tp_session *s, *t;
	size_t pending = 0;

	if (peer_cert_pem == NULL || fingerprint == NULL ||
	    strlen(fingerprint) != CM_FINGERPRINT_LEN || evutil_make_socket_nonblocking(fd) != 0) {
		log_warnx("%s: no proven peer certificate, or not a usable socket", __func__);
		evutil_closesocket(fd);
		return NULL;
	}
	if (inbound) {
		for (t = ctx->sessions; t != NULL; t = t->next)
			pending += session_pending(t);
		if (pending >= ctx->cfg.max_pending)
			evict_pending(ctx);
	}
	if ((s = session_new(ctx, fd, inbound, true)) == NULL)
		return NULL;
	snprintf(s->fp, sizeof(s->fp), "%s", fingerprint);
	if ((s->peer_pem = strdup(peer_cert_pem)) == NULL ||
	    (!inbound && client_send_upgrade(s) != 0)) {
		/* NULL means no callback will ever name this session. */
		s->close_reported = true;
		s->state = ST_DEAD;
		session_free(s);
		return NULL;
	}
	return s;
}

/* Queues one message and sends what can be sent now. Returns 0 or -1. */
static int
queue_msg(struct tp_session *s, int (*queue)(struct ws_conn *, const void *, size_t),
	  const void *buf, size_t len)
{
	int rc = -1;

	if (s->state != ST_OPEN)
		return -1;
	/* An overflow ends the session here: released below, not left to a timeout. */
	s->busy++;
	if (!send_queue_overflow(s, len) && queue(s->ws, buf, len) == 0) {
		ws_run(s, false);
		rc = 0;
	}
	s->busy--;
	session_release(s);
	return rc;
}

int
tp_send_text(struct tp_session *s, const char *buf, size_t len)
{
	return len > CM_MAX_FRAME ? -1 : queue_msg(s, ws_conn_queue_text, buf, len);
}

int
tp_ping(struct tp_session *s)
{
	if (s->state != ST_OPEN || cm_random_bytes(s->ping_nonce, sizeof(s->ping_nonce)) != 0)
		return -1;
	s->ping_sent_ms = cm_time_mono_ms();
	s->ping_outstanding = true;
	return queue_msg(s, ws_conn_queue_ping, s->ping_nonce, sizeof(s->ping_nonce));
}

void
tp_session_authenticated(struct tp_session *s)
{
	struct tp_ctx *ctx = s->ctx;
	size_t inbound;

	if (s->authenticated)
		return;
	s->authenticated = true;
	/* While open, the timer is only the hello deadline. */
	if (s->state == ST_OPEN)
		evtimer_del(s->timer);
	if (!s->inbound)
		return;
	s->authed_seq = ++ctx->auth_seq;
	/* Later, on the loop: the caller is in the middle of this session's callback. */
	inbound = inbound_neighbour_count(ctx);
	if (inbound > ctx->cfg.max_sessions + ctx->cfg.evict_surplus) {
		event_active(ctx->evict_ev, EV_TIMEOUT, 0);
	} else if (inbound > ctx->cfg.max_sessions && !evtimer_pending(ctx->evict_ev, NULL)) {
		struct timeval tv = tv_ms(ctx->cfg.evict_grace_ms);

		evtimer_add(ctx->evict_ev, &tv);
	}
}

void
tp_close(struct tp_session *s, int code, const char *reason)
{
	struct timeval tv = tv_ms(CLOSE_GRACE_MS);

	s->busy++;
	if (s->state == ST_OPEN) {
		s->close_code = code;
		snprintf(s->close_reason, sizeof(s->close_reason), "%s", reason);
		ws_conn_queue_close(s->ws, code, s->close_reason);
		s->state = ST_CLOSING;
		evtimer_add(s->timer, &tv);
		ws_run(s, false);
	} else if (s->state != ST_CLOSING) {
		session_teardown(s, code, reason);
	}
	s->busy--;
	session_release(s);
}

uint64_t
tp_session_id(const struct tp_session *s)
{
	return s->id;
}

bool
tp_session_inbound(const struct tp_session *s)
{
	return s->inbound;
}

bool
tp_session_adopted(const struct tp_session *s)
{
	return s->adopted;
}

const char *
tp_session_fingerprint(const struct tp_session *s)
{
	return s->peer_pem != NULL ? s->fp : NULL;
}

const char *
tp_session_peer_cert_pem(const struct tp_session *s)
{
	return s->peer_pem;
}

const struct tp_stats *
tp_stats(const struct tp_ctx *ctx)
{
	return &ctx->stats;
}

size_t
tp_session_count(const struct tp_ctx *ctx)
{
	return ctx->nsessions;
}
