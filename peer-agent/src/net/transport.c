/* transport.c - TCP (libevent) -> TLS (GnuTLS over memory buffers) -> WebSocket (wslay). */
#include "net/transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <wslay/wslay.h>

#include "fb/identity.h"
#include "fb/log.h"
#include "fb/timeutil.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define MAX_UPGRADE_BYTES 8192 /* the whole HTTP Upgrade request or response */
#define CLOSE_GRACE_MS 2000    /* waiting for the peer's close frame and the flush */
#define TLS_PRIORITY "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
#define WRITE_LOWAT 16384      /* refill the socket's queue below one TLS record */

enum tp_state { ST_TCP, ST_TLS, ST_UPGRADE, ST_OPEN, ST_CLOSING, ST_DRAINING, ST_DEAD };

struct tp_session {
	struct tp_ctx *ctx;
	struct tp_session *prev, *next;
	uint64_t id;
	bool inbound;
	enum tp_state state;
	struct bufferevent *bev;
	gnutls_session_t tls;
	bool tls_init;
	wslay_event_context_ptr ws;
	struct evbuffer *plain; /* decrypted bytes not yet consumed */
	struct event *timer;    /* handshake deadline, then the close grace */
	char expected_fp[CM_FINGERPRINT_LEN + 1];
	bool has_expected_fp;
	char fp[CM_FINGERPRINT_LEN + 1];
	char *peer_pem;
	char ws_key[32]; /* client: the Sec-WebSocket-Key we sent */
	int close_code;
	char close_reason[124];
	bool close_reported;
	int busy; /* nesting depth of our own dispatch: free only at depth 0 */
	bool in_wslay; /* inside wslay_event_recv/send (and so in our callbacks) */
	void *data;
};

struct tp_ctx {
	struct event_base *base;
	struct tp_config cfg;
	struct tp_callbacks cb;
	void *arg;
	gnutls_certificate_credentials_t cred;
	gnutls_priority_t prio;
	struct evconnlistener *listener;
	int listen_port;
	struct tp_session *sessions;
	size_t nsessions, ninbound;
	uint64_t next_id;
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
}

static struct timeval
tv_ms(int64_t ms)
{
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};

	return tv;
}

/* GnuTLS I/O over the bufferevent's buffers: never blocks. */

static ssize_t
tls_push(gnutls_transport_ptr_t p, const void *data, size_t len)
{
	struct tp_session *s = p;

	if (evbuffer_add(bufferevent_get_output(s->bev), data, len) != 0) {
		gnutls_transport_set_errno(s->tls, ENOMEM);
		return -1;
	}
	s->ctx->stats.bytes_out += len;
	return (ssize_t)len;
}

static ssize_t
tls_pull(gnutls_transport_ptr_t p, void *data, size_t len)
{
	struct tp_session *s = p;
	struct evbuffer *in = bufferevent_get_input(s->bev);
	int n;

	if (evbuffer_get_length(in) == 0) {
		gnutls_transport_set_errno(s->tls, EAGAIN);
		return -1;
	}
	n = evbuffer_remove(in, data, len);
	if (n > 0)
		s->ctx->stats.bytes_in += (uint64_t)n;
	return n;
}

/* GnuTLS asks whether data is waiting; the buffer answers without waiting. */
static int
tls_pull_timeout(gnutls_transport_ptr_t p, unsigned int ms)
{
	struct tp_session *s = p;

	(void)ms;
	return evbuffer_get_length(bufferevent_get_input(s->bev)) > 0 ? 1 : 0;
}

/* wslay I/O over TLS records */

static ssize_t
ws_recv_cb(wslay_event_context_ptr ws, uint8_t *buf, size_t len, int flags, void *arg)
{
	struct tp_session *s = arg;
	int n;

	(void)flags;
	n = evbuffer_remove(s->plain, buf, len);
	if (n <= 0) {
		wslay_event_set_error(ws, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	return n;
}

static ssize_t
ws_send_cb(wslay_event_context_ptr ws, const uint8_t *data, size_t len, int flags, void *arg)
{
	struct tp_session *s = arg;
	ssize_t n;

	(void)flags;
	n = gnutls_record_send(s->tls, data, len);
	if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
		wslay_event_set_error(ws, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	if (n < 0) {
		wslay_event_set_error(ws, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return n;
}

static int
ws_genmask_cb(wslay_event_context_ptr ws, uint8_t *buf, size_t len, void *arg)
{
	(void)ws;
	(void)arg;
	return gnutls_rnd(GNUTLS_RND_NONCE, buf, len) == 0 ? 0 : -1;
}

static void
ws_msg_cb(wslay_event_context_ptr ws, const struct wslay_event_on_msg_recv_arg *m, void *arg)
{
	struct tp_session *s = arg;
	struct tp_ctx *ctx = s->ctx;

	(void)ws;
	if (m->opcode == WSLAY_CONNECTION_CLOSE) {
		/* Keep the code of a close we started; otherwise the peer's is the reason. */
		if (s->close_code == 0) {
			s->close_code = m->status_code != 0 ? m->status_code : 1005;
			snprintf(s->close_reason, sizeof(s->close_reason), "closed by peer");
		}
		return;
	}
	if (s->state != ST_OPEN)
		return;
	switch (m->opcode) {
	case WSLAY_TEXT_FRAME:
		if (ctx->cb.on_text != NULL)
			ctx->cb.on_text(s, (const char *)m->msg, m->msg_length, ctx->arg);
		break;
	case WSLAY_BINARY_FRAME:
		tp_close(s, 1003, "binary frames are not spoken here");
		break;
	case WSLAY_PONG:
		if (m->msg_length == sizeof(int64_t) && ctx->cb.on_pong != NULL) {
			int64_t sent;

			memcpy(&sent, m->msg, sizeof(sent));
			ctx->cb.on_pong(s, cm_time_mono_ms() - sent, ctx->arg);
		}
		break;
	default:
		break;
	}
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
	if (s->inbound)
		ctx->ninbound--;
	if (s->timer != NULL)
		event_free(s->timer);
	if (s->ws != NULL)
		wslay_event_context_free(s->ws);
	if (s->tls_init)
		gnutls_deinit(s->tls);
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
	if (s->tls_init && (s->state == ST_OPEN || s->state == ST_CLOSING))
		gnutls_bye(s->tls, GNUTLS_SHUT_WR);
	s->state = ST_DRAINING;
	report_close(s, code, reason);
	if (s->bev == NULL || evbuffer_get_length(bufferevent_get_output(s->bev)) == 0) {
		s->state = ST_DEAD;
		return;
	}
	bufferevent_disable(s->bev, EV_READ);
	bufferevent_setwatermark(s->bev, EV_WRITE, 0, 0);
	bufferevent_setcb(s->bev, NULL, drained_cb, NULL, s);
	evtimer_add(s->timer, &tv);
}

/* WebSocket handshake */

static void
ws_accept_key(const char *key, char out[32])
{
	char buf[128];
	unsigned char sha[20];
	gnutls_datum_t d = {sha, sizeof(sha)}, r = {0};

	snprintf(buf, sizeof(buf), "%s%s", key, WS_GUID);
	out[0] = '\0';
	if (gnutls_hash_fast(GNUTLS_DIG_SHA1, buf, strlen(buf), sha) != 0 ||
	    gnutls_base64_encode2(&d, &r) < 0)
		return;
	snprintf(out, 32, "%.*s", (int)r.size, (char *)r.data);
	gnutls_free(r.data);
}

/* Finds header name in the block (case-insensitive); copies its value, trimmed. */
static bool
header_value(const char *block, const char *name, char *out, size_t outlen)
{
	size_t nlen = strlen(name);
	const char *line = strstr(block, "\r\n");

	while (line != NULL && line[2] != '\0' && line[2] != '\r') {
		const char *p = line + 2, *end = strstr(p, "\r\n");

		if (end == NULL)
			return false;
		if ((size_t)(end - p) > nlen && strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
			const char *v = p + nlen + 1;
			size_t len;

			while (*v == ' ' || *v == '\t')
				v++;
			len = (size_t)(end - v);
			while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
				len--;
			if (len >= outlen)
				return false;
			memcpy(out, v, len);
			out[len] = '\0';
			return true;
		}
		line = end;
	}
	return false;
}

/* True when the comma-separated list holds token (case-insensitive). */
static bool
has_token(const char *list, const char *token)
{
	size_t tlen = strlen(token);

	for (const char *p = list; *p != '\0';) {
		size_t len;

		while (*p == ' ' || *p == ',' || *p == '\t')
			p++;
		len = strcspn(p, ", \t");
		if (len == tlen && strncasecmp(p, token, tlen) == 0)
			return true;
		p += len;
	}
	return false;
}

static int
tls_send_all(struct tp_session *s, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = gnutls_record_send(s->tls, buf, len);

		if (n < 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
ws_start(struct tp_session *s)
{
	struct wslay_event_callbacks cbs = {
		.recv_callback = ws_recv_cb,
		.send_callback = ws_send_cb,
		.genmask_callback = ws_genmask_cb,
		.on_msg_recv_callback = ws_msg_cb,
	};
	int rc = s->inbound ? wslay_event_context_server_init(&s->ws, &cbs, s)
			    : wslay_event_context_client_init(&s->ws, &cbs, s);

	if (rc != 0)
		return -1;
	wslay_event_config_set_max_recv_msg_length(s->ws, CM_MAX_FRAME);
	s->state = ST_OPEN;
	evtimer_del(s->timer);
	s->ctx->stats.connected += !s->inbound;
	s->ctx->stats.accepted += s->inbound;
	if (s->ctx->cb.on_open != NULL)
		s->ctx->cb.on_open(s, s->ctx->arg);
	return 0;
}

/* Reads one complete header block from plain into buf (NUL-terminated). 1: done, 0: more, -1: bad. */
static int
take_header_block(struct tp_session *s, char *buf, size_t cap)
{
	struct evbuffer_ptr end = evbuffer_search(s->plain, "\r\n\r\n", 4, NULL);
	size_t len;

	if (end.pos < 0)
		return evbuffer_get_length(s->plain) > MAX_UPGRADE_BYTES ? -1 : 0;
	len = (size_t)end.pos + 4;
	if (len >= cap)
		return -1;
	evbuffer_remove(s->plain, buf, len);
	buf[len] = '\0';
	return 1;
}

static void
server_reject(struct tp_session *s, const char *status)
{
	char resp[256];

	snprintf(resp, sizeof(resp),
		 "HTTP/1.1 %s\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", status);
	tls_send_all(s, resp, strlen(resp));
	s->ctx->stats.handshake_failures++;
	session_teardown(s, 1006, status);
}

static void
server_upgrade(struct tp_session *s)
{
	char req[MAX_UPGRADE_BYTES + 8], v[256], key[64], accept[32], resp[512];
	int r = take_header_block(s, req, sizeof(req));

	if (r == 0)
		return;
	if (r < 0) {
		server_reject(s, "431 Request Header Fields Too Large");
		return;
	}
	if (strncmp(req, "GET " TP_PATH " HTTP/1.1\r\n", strlen("GET " TP_PATH " HTTP/1.1\r\n")) != 0) {
		server_reject(s, strncmp(req, "GET ", 4) == 0 ? "404 Not Found"
							       : "405 Method Not Allowed");
		return;
	}
	if (!header_value(req, "Upgrade", v, sizeof(v)) || !has_token(v, "websocket") ||
	    !header_value(req, "Connection", v, sizeof(v)) || !has_token(v, "upgrade") ||
	    !header_value(req, "Sec-WebSocket-Key", key, sizeof(key)) || strlen(key) != 24) {
		server_reject(s, "400 Bad Request");
		return;
	}
	if (!header_value(req, "Sec-WebSocket-Version", v, sizeof(v)) || strcmp(v, "13") != 0) {
		server_reject(s, "426 Upgrade Required\r\nSec-WebSocket-Version: 13");
		return;
	}
	if (!header_value(req, "Sec-WebSocket-Protocol", v, sizeof(v)) ||
	    !has_token(v, TP_SUBPROTOCOL)) {
		server_reject(s, "400 Bad Request");
		return;
	}
	ws_accept_key(key, accept);
	/* Offered extensions (permessage-deflate...) are declined by not naming them. */
	snprintf(resp, sizeof(resp),
		 "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		 "Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: %s\r\n\r\n",
		 accept, TP_SUBPROTOCOL);
	if (tls_send_all(s, resp, strlen(resp)) != 0 || ws_start(s) != 0)
		session_teardown(s, 1006, "upgrade failed");
}

static void
client_send_upgrade(struct tp_session *s)
{
	unsigned char nonce[16];
	gnutls_datum_t d = {nonce, sizeof(nonce)}, r = {0};
	char req[512];

	gnutls_rnd(GNUTLS_RND_NONCE, nonce, sizeof(nonce));
	if (gnutls_base64_encode2(&d, &r) < 0) {
		session_teardown(s, 1006, "out of memory");
		return;
	}
	snprintf(s->ws_key, sizeof(s->ws_key), "%.*s", (int)r.size, (char *)r.data);
	gnutls_free(r.data);
	snprintf(req, sizeof(req),
		 "GET %s HTTP/1.1\r\nHost: flashback-peer\r\nUpgrade: websocket\r\n"
		 "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
		 "Sec-WebSocket-Protocol: %s\r\n\r\n",
		 TP_PATH, s->ws_key, TP_SUBPROTOCOL);
	if (tls_send_all(s, req, strlen(req)) != 0)
		session_teardown(s, 1006, "upgrade failed");
}

static void
client_upgrade(struct tp_session *s)
{
	char resp[MAX_UPGRADE_BYTES + 8], v[256], accept[32];
	int r = take_header_block(s, resp, sizeof(resp));

	if (r == 0)
		return;
	ws_accept_key(s->ws_key, accept);
	if (r < 0 || strncmp(resp, "HTTP/1.1 101", 12) != 0 ||
	    !header_value(resp, "Sec-WebSocket-Accept", v, sizeof(v)) || strcmp(v, accept) != 0 ||
	    !header_value(resp, "Sec-WebSocket-Protocol", v, sizeof(v)) ||
	    strcmp(v, TP_SUBPROTOCOL) != 0 ||
	    header_value(resp, "Sec-WebSocket-Extensions", v, sizeof(v))) {
		s->ctx->stats.handshake_failures++;
		session_teardown(s, 1006, "bad upgrade response");
		return;
	}
	if (ws_start(s) != 0)
		session_teardown(s, 1006, "upgrade failed");
}

/* TLS handshake and the peer certificate */

static int
take_peer_cert(struct tp_session *s)
{
	const gnutls_datum_t *certs;
	unsigned n = 0;
	struct cm_cert *c;
	struct cm_err err;

	certs = gnutls_certificate_get_peers(s->tls, &n);
	if (certs == NULL || n == 0) {
		log_warnx("%s: session %llu: no certificate from the peer", __func__,
			  (unsigned long long)s->id);
		return -1;
	}
	if ((c = cm_cert_from_der(certs[0].data, certs[0].size, &err)) == NULL) {
		log_warnx("%s: session %llu: peer certificate: %s", __func__,
			  (unsigned long long)s->id, err.msg);
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
	int rc = gnutls_handshake(s->tls);

	if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED)
		return;
	if (rc < 0) {
		log_warnx("%s: session %llu: TLS handshake: %s", __func__,
			  (unsigned long long)s->id, gnutls_strerror(rc));
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
	if (!s->inbound)
		client_send_upgrade(s);
}

/* Moves every decrypted byte into plain. Returns -1 when the TLS stream ended or broke. */
static int
tls_read_all(struct tp_session *s)
{
	char buf[16384];

	for (;;) {
		ssize_t n = gnutls_record_recv(s->tls, buf, sizeof(buf));

		if (n > 0) {
			evbuffer_add(s->plain, buf, (size_t)n);
			continue;
		}
		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
			return 0;
		return -1;
	}
}

/* After wslay ran: a close sent or received moves the session towards its end. */
static void
ws_after(struct tp_session *s)
{
	if (wslay_event_get_close_sent(s->ws) && s->state == ST_OPEN) {
		/* A close we sent (wslay sends one itself for protocol errors) or an echo. */
		struct timeval tv = tv_ms(CLOSE_GRACE_MS);

		s->state = ST_CLOSING;
		if (s->close_code == 0) {
			s->close_code = wslay_event_get_status_code_sent(s->ws);
			snprintf(s->close_reason, sizeof(s->close_reason), "protocol error");
		}
		evtimer_add(s->timer, &tv);
	}
	if (wslay_event_get_close_sent(s->ws) && wslay_event_get_close_received(s->ws))
		session_teardown(s, s->close_code != 0 ? s->close_code : 1005, s->close_reason);
}

/*
 * Runs wslay: receive (when asked) and send what is queued. wslay is not
 * re-entrant, and our message callback may send on this very session: while
 * wslay runs, messages are only queued, and the send that follows the
 * receive here carries them.
 */
static void
ws_run(struct tp_session *s, bool receive)
{
	int rc = 0;

	if (s->in_wslay || s->ws == NULL)
		return;
	s->in_wslay = true;
	if (receive)
		rc = wslay_event_recv(s->ws);
	if (rc == 0)
		rc = wslay_event_send(s->ws);
	s->in_wslay = false;
	if (rc != 0) {
		session_teardown(s, s->close_code != 0 ? s->close_code : 1006, "WebSocket failure");
		return;
	}
	ws_after(s);
}

static void
session_process(struct tp_session *s)
{
	bool ended = false;

	if (s->state == ST_TLS)
		tls_handshake_step(s);
	if (s->state == ST_UPGRADE || s->state == ST_OPEN || s->state == ST_CLOSING)
		ended = tls_read_all(s) != 0;
	if (s->state == ST_UPGRADE)
		(s->inbound ? server_upgrade : client_upgrade)(s);
	if (s->state == ST_OPEN || s->state == ST_CLOSING)
		ws_run(s, true);
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
		int one = 1;

		setsockopt(bufferevent_getfd(s->bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
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

static struct tp_session *
session_new(struct tp_ctx *ctx, evutil_socket_t fd, bool inbound)
{
	struct tp_session *s = calloc(1, sizeof(*s));
	struct timeval idle = tv_ms(ctx->cfg.idle_timeout_ms), hs = tv_ms(ctx->cfg.handshake_timeout_ms);

	if (s == NULL)
		return NULL;
	s->ctx = ctx;
	s->id = ++ctx->next_id;
	s->inbound = inbound;
	s->state = inbound ? ST_TLS : ST_TCP;
	s->next = ctx->sessions;
	if (ctx->sessions != NULL)
		ctx->sessions->prev = s;
	ctx->sessions = s;
	ctx->nsessions++;
	ctx->ninbound += inbound;
	if ((s->bev = bufferevent_socket_new(ctx->base, fd, BEV_OPT_CLOSE_ON_FREE)) == NULL ||
	    (s->plain = evbuffer_new()) == NULL ||
	    (s->timer = evtimer_new(ctx->base, timer_cb, s)) == NULL ||
	    gnutls_init(&s->tls, (inbound ? GNUTLS_SERVER : GNUTLS_CLIENT) | GNUTLS_NONBLOCK) < 0) {
		if (s->bev == NULL && fd >= 0)
			evutil_closesocket(fd);
		s->state = ST_DEAD;
		session_free(s);
		return NULL;
	}
	s->tls_init = true;
	gnutls_priority_set(s->tls, ctx->prio);
	gnutls_credentials_set(s->tls, GNUTLS_CRD_CERTIFICATE, ctx->cred);
	if (inbound) {
		/* Any certificate will do here; the engine ties it to the peer's record. */
		gnutls_certificate_server_set_request(s->tls, GNUTLS_CERT_REQUIRE);
		gnutls_certificate_send_x509_rdn_sequence(s->tls, 1);
	}
	gnutls_transport_set_ptr(s->tls, s);
	gnutls_transport_set_push_function(s->tls, tls_push);
	gnutls_transport_set_pull_function(s->tls, tls_pull);
	gnutls_transport_set_pull_timeout_function(s->tls, tls_pull_timeout);
	bufferevent_setcb(s->bev, read_cb, write_cb, event_cb, s);
	bufferevent_setwatermark(s->bev, EV_WRITE, WRITE_LOWAT, 0);
	bufferevent_set_timeouts(s->bev, &idle, NULL);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	evtimer_add(s->timer, &hs);
	return s;
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
	  void *arg)
{
	struct tp_ctx *ctx = arg;
	int one = 1;

	(void)l;
	(void)sa;
	(void)salen;
	if (ctx->ninbound >= ctx->cfg.max_sessions) {
		evutil_closesocket(fd);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	session_new(ctx, fd, true);
}

struct tp_ctx *
tp_new(struct event_base *base, const struct tp_config *cfg, const struct tp_callbacks *cb,
       void *arg)
{
	struct tp_ctx *ctx = calloc(1, sizeof(*ctx));
	int rc;

	if (ctx == NULL)
		return NULL;
	ctx->base = base;
	ctx->cfg = *cfg;
	ctx->cb = *cb;
	ctx->arg = arg;
	ctx->listen_port = -1;
	if (gnutls_certificate_allocate_credentials(&ctx->cred) < 0 ||
	    gnutls_priority_init(&ctx->prio, TLS_PRIORITY, NULL) < 0) {
		log_warnx("%s: cannot set up TLS", __func__);
		goto fail;
	}
	rc = gnutls_certificate_set_x509_key_file(ctx->cred, cfg->cert_file, cfg->key_file,
						  GNUTLS_X509_FMT_PEM);
	if (rc < 0) {
		log_warnx("%s: %s / %s: %s", __func__, cfg->cert_file, cfg->key_file,
			  gnutls_strerror(rc));
		goto fail;
	}
	return ctx;
fail:
	tp_free(ctx);
	return NULL;
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
	if (ctx->prio != NULL)
		gnutls_priority_deinit(ctx->prio);
	if (ctx->cred != NULL)
		gnutls_certificate_free_credentials(ctx->cred);
	free(ctx);
}

/* Parses a numeric IPv4/IPv6 address and port. */
static int
make_addr(const char *ip, int port, struct sockaddr_storage *ss, int *len)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, ip, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		*len = sizeof(*in4);
		return 0;
	}
	if (inet_pton(AF_INET6, ip, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*in6);
		return 0;
	}
	return -1;
}

int
tp_listen(struct tp_ctx *ctx, const char *host, int port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int alen;

	if (make_addr(host, port, &ss, &alen) != 0) {
		log_warnx("%s: %s: not a numeric IP address", __func__, host);
		return -1;
	}
	tp_unlisten(ctx);
	ctx->listener = evconnlistener_new_bind(ctx->base, accept_cb, ctx,
						LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 128,
						(struct sockaddr *)&ss, alen);
	if (ctx->listener == NULL) {
		log_warnx("%s: cannot listen on %s port %d: %s", __func__, host, port,
			  strerror(errno));
		return -1;
	}
	len = sizeof(ss);
	getsockname(evconnlistener_get_fd(ctx->listener), (struct sockaddr *)&ss, &len);
	ctx->listen_port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
							 : ((struct sockaddr_in6 *)&ss)->sin6_port);
	return 0;
}

void
tp_unlisten(struct tp_ctx *ctx)
{
	if (ctx->listener != NULL)
		evconnlistener_free(ctx->listener);
	ctx->listener = NULL;
	ctx->listen_port = -1;
}

int
tp_listen_port(const struct tp_ctx *ctx)
{
	return ctx->listen_port;
}

struct tp_session *
tp_connect(struct tp_ctx *ctx, const char *ip, int port, const char *bind_ip,
	   const char *expected_fingerprint)
{
	struct sockaddr_storage ss, bs;
	int alen, blen;
	evutil_socket_t fd;
	struct tp_session *s;

	if (make_addr(ip, port, &ss, &alen) != 0 ||
	    (bind_ip != NULL && make_addr(bind_ip, 0, &bs, &blen) != 0)) {
		log_warnx("%s: %s: not a numeric IP address", __func__,
			  bind_ip != NULL ? bind_ip : ip);
		return NULL;
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM, 0)) < 0)
		return NULL;
	if ((bind_ip != NULL && bind(fd, (struct sockaddr *)&bs, (socklen_t)blen) != 0) ||
	    evutil_make_socket_nonblocking(fd) != 0) {
		log_warnx("%s: cannot bind to %s: %s", __func__, bind_ip, strerror(errno));
		evutil_closesocket(fd);
		return NULL;
	}
	if ((s = session_new(ctx, fd, false)) == NULL)
		return NULL;
	if (expected_fingerprint != NULL) {
		s->has_expected_fp = true;
		snprintf(s->expected_fp, sizeof(s->expected_fp), "%s", expected_fingerprint);
	}
	if (bufferevent_socket_connect(s->bev, (struct sockaddr *)&ss, alen) != 0) {
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

/* Queues one message and sends what wslay can send now. Returns 0 or -1. */
static int
queue_msg(struct tp_session *s, const struct wslay_event_msg *msg)
{
	if (s->state != ST_OPEN || wslay_event_queue_msg(s->ws, msg) != 0)
		return -1;
	s->busy++;
	ws_run(s, false);
	s->busy--;
	session_release(s);
	return 0;
}

int
tp_send_text(struct tp_session *s, const char *buf, size_t len)
{
	struct wslay_event_msg msg = {WSLAY_TEXT_FRAME, (const uint8_t *)buf, len};

	return len > CM_MAX_FRAME ? -1 : queue_msg(s, &msg);
}

int
tp_ping(struct tp_session *s)
{
	int64_t now = cm_time_mono_ms();
	struct wslay_event_msg msg = {WSLAY_PING, (const uint8_t *)&now, sizeof(now)};

	return queue_msg(s, &msg);
}

void
tp_close(struct tp_session *s, int code, const char *reason)
{
	struct timeval tv = tv_ms(CLOSE_GRACE_MS);

	s->busy++;
	if (s->state == ST_OPEN) {
		s->close_code = code;
		snprintf(s->close_reason, sizeof(s->close_reason), "%s", reason);
		wslay_event_queue_close(s->ws, (uint16_t)code, (const uint8_t *)s->close_reason,
					strlen(s->close_reason));
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

void
tp_session_set_data(struct tp_session *s, void *data)
{
	s->data = data;
}

void *
tp_session_data(const struct tp_session *s)
{
	return s->data;
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
