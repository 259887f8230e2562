/* websocket.c - WebSocket framing over wslay (see websocket.h). */
#include "net/websocket.h"

#include <stdlib.h>
#include <string.h>
#include <wslay/wslay.h>

#include "fb/random.h"

struct ws_conn {
	wslay_event_context_ptr ctx;
	struct ws_io io;
	void *arg;
	bool running; /* inside wslay_event_recv/send, and so maybe in on_msg */
};

static ssize_t
recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *arg)
{
	struct ws_conn *ws = arg;
	size_t n = ws->io.recv(buf, len, ws->arg);

	(void)flags;
	if (n == 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	return (ssize_t)n;
}

static ssize_t
send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags, void *arg)
{
	struct ws_conn *ws = arg;
	ssize_t n = ws->io.send(data, len, ws->arg);

	(void)flags;
	if (n == 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	if (n < 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return n;
}

/* Client frames are masked with keys no one can predict (RFC 6455 10.3). */
static int
genmask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *arg)
{
	(void)ctx;
	(void)arg;
	return cm_random_bytes(buf, len);
}

static void
msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *m, void *arg)
{
	struct ws_conn *ws = arg;
	struct ws_msg msg = {.data = m->msg, .len = m->msg_length};

	(void)ctx;
	switch (m->opcode) {
	case WSLAY_TEXT_FRAME:
		msg.kind = WS_MSG_TEXT;
		break;
	case WSLAY_BINARY_FRAME:
		msg.kind = WS_MSG_BINARY;
		break;
	case WSLAY_PONG:
		msg.kind = WS_MSG_PONG;
		break;
	case WSLAY_CONNECTION_CLOSE:
		msg.kind = WS_MSG_CLOSE;
		msg.close_code = m->status_code != 0 ? m->status_code : 1005;
		break;
	default:
		return;
	}
	ws->io.on_msg(&msg, ws->arg);
}

struct ws_conn *
ws_conn_new(bool server, size_t max_msg_len, const struct ws_io *io, void *arg)
{
	struct wslay_event_callbacks cbs = {
		.recv_callback = recv_cb,
		.send_callback = send_cb,
		.genmask_callback = genmask_cb,
		.on_msg_recv_callback = msg_cb,
	};
	struct ws_conn *ws = calloc(1, sizeof(*ws));
	int rc;

	if (ws == NULL)
		return NULL;
	ws->io = *io;
	ws->arg = arg;
	rc = server ? wslay_event_context_server_init(&ws->ctx, &cbs, ws)
		    : wslay_event_context_client_init(&ws->ctx, &cbs, ws);
	if (rc != 0) {
		free(ws);
		return NULL;
	}
	wslay_event_config_set_max_recv_msg_length(ws->ctx, max_msg_len);
	return ws;
}

void
ws_conn_free(struct ws_conn *ws)
{
	if (ws == NULL)
		return;
	wslay_event_context_free(ws->ctx);
	free(ws);
}

static int
queue(struct ws_conn *ws, uint8_t opcode, const void *data, size_t len)
{
	struct wslay_event_msg msg = {opcode, data, len};

	return wslay_event_queue_msg(ws->ctx, &msg) == 0 ? 0 : -1;
}

int
ws_conn_queue_text(struct ws_conn *ws, const void *data, size_t len)
{
	return queue(ws, WSLAY_TEXT_FRAME, data, len);
}

int
ws_conn_queue_ping(struct ws_conn *ws, const void *data, size_t len)
{
	return queue(ws, WSLAY_PING, data, len);
}

int
ws_conn_queue_close(struct ws_conn *ws, int code, const char *reason)
{
	return wslay_event_queue_close(ws->ctx, (uint16_t)code, (const uint8_t *)reason,
				       strlen(reason)) == 0
		       ? 0
		       : -1;
}

size_t
ws_conn_queued_bytes(const struct ws_conn *ws)
{
	return wslay_event_get_queued_msg_length(ws->ctx);
}

/*
 * wslay is not re-entrant, and on_msg may queue on this very connection:
 * while wslay runs, messages are only queued, and the send that follows the
 * receive carries them.
 */
int
ws_conn_run(struct ws_conn *ws, bool receive)
{
	int rc = 0;

	if (ws->running)
		return 0;
	ws->running = true;
	if (receive)
		rc = wslay_event_recv(ws->ctx);
	if (rc == 0)
		rc = wslay_event_send(ws->ctx);
	ws->running = false;
	return rc == 0 ? 0 : -1;
}

bool
ws_conn_close_sent(const struct ws_conn *ws)
{
	return wslay_event_get_close_sent(ws->ctx);
}

bool
ws_conn_close_received(const struct ws_conn *ws)
{
	return wslay_event_get_close_received(ws->ctx);
}

int
ws_conn_close_code_sent(const struct ws_conn *ws)
{
	return wslay_event_get_status_code_sent(ws->ctx);
}
