/*
 * fuzz_websocket.c - libFuzzer target for WebSocket framing (net/websocket.h)
 * driven as net/transport.c drives it: a connection with the agent's message
 * cap (CM_MAX_FRAME) reads the input as the peer's byte stream, answers each
 * text message from inside the callback and closes with 1003 on a binary
 * one. The first byte chooses the side (bit 0: server, that is inbound), how
 * many bytes one read hands over (bits 1-3) and how often a send takes
 * nothing or only part (bits 4-7), so the frames arrive cut at every place.
 * Besides what the sanitizers catch: no message longer than the cap is
 * delivered, and a close code received or sent is one a close frame may carry.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fb/limits.h"
#include "net/websocket.h"

#define IDLE_RUNS 4 /* runs in a row that read nothing new: the stream is done or stuck */

struct peer {
	struct ws_conn *ws;
	const uint8_t *in;
	size_t in_len, in_off;
	size_t chunk;        /* bytes one recv hands over at most */
	unsigned send_shape; /* n: every n-th send takes little (0: every send takes all) */
	unsigned sends;
};

static size_t
peer_recv(uint8_t *buf, size_t len, void *arg)
{
	struct peer *p = arg;
	size_t n = p->in_len - p->in_off;

	if (n > len)
		n = len;
	if (n > p->chunk)
		n = p->chunk;
	memcpy(buf, p->in + p->in_off, n);
	p->in_off += n;
	return n;
}

static ssize_t
peer_send(const uint8_t *data, size_t len, void *arg)
{
	struct peer *p = arg;

	(void)data;
	p->sends++;
	if (p->send_shape == 0 || p->sends % p->send_shape != 0)
		return (ssize_t)len;
	/* Every n-th send is blocked when n is odd, cut to one byte when even. */
	return p->send_shape % 2 != 0 ? 0 : 1;
}

static bool
valid_close_code(int code)
{
	return code == 1005 || code == 1006 || (code >= 1000 && code <= 1003) ||
	       (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

static void
peer_msg(const struct ws_msg *m, void *arg)
{
	struct peer *p = arg;

	switch (m->kind) {
	case WS_MSG_TEXT:
		if (m->len > CM_MAX_FRAME)
			abort();
		/* The engine answers from inside the callback: queued, sent by the outer run. */
		ws_conn_queue_text(p->ws, m->data, m->len < 64 ? m->len : 64);
		ws_conn_run(p->ws, false);
		break;
	case WS_MSG_BINARY:
		if (m->len > CM_MAX_FRAME)
			abort();
		ws_conn_queue_close(p->ws, 1003, "binary frames are not spoken here");
		break;
	case WS_MSG_PONG:
		break;
	case WS_MSG_CLOSE:
		if (!valid_close_code(m->close_code))
			abort();
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct ws_io io = {peer_recv, peer_send, peer_msg};
	struct peer p = {0};
	int idle = 0;

	if (size < 1)
		return 0;
	p.in = data + 1;
	p.in_len = size - 1;
	p.chunk = (size_t)1 << (((data[0] >> 1) & 7) * 2); /* 1, 4, 16 ... 16384 bytes */
	p.send_shape = data[0] >> 4;
	if ((p.ws = ws_conn_new(data[0] & 1, CM_MAX_FRAME, &io, &p)) == NULL)
		abort();
	ws_conn_queue_ping(p.ws, "12345678", 8);
	/* wslay reads no further while a control frame waits to go out: blocked sends stall it. */
	while (idle < IDLE_RUNS) {
		size_t before = p.in_off;

		if (ws_conn_run(p.ws, true) != 0)
			break;
		if (ws_conn_close_sent(p.ws) &&
		    !valid_close_code(ws_conn_close_code_sent(p.ws)))
			abort();
		if (ws_conn_close_sent(p.ws) && ws_conn_close_received(p.ws))
			break;
		idle = p.in_off == before ? idle + 1 : 0;
	}
	ws_conn_free(p.ws);
	return 0;
}
