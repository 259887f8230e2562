/*
 * websocket.h - RFC 6455 framing for one connection, over wslay, on byte I/O
 * the caller supplies (here: a TLS session). Client frames are masked,
 * server frames not; pings are answered by the library; a protocol error
 * makes it send a close frame with the code that says why (1002, 1009...).
 * No handshake here: that is upgrade.h, before this starts.
 */
#ifndef PA_WEBSOCKET_H
#define PA_WEBSOCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ws_conn;

enum ws_kind { WS_MSG_TEXT, WS_MSG_BINARY, WS_MSG_PONG, WS_MSG_CLOSE };

struct ws_msg {
	enum ws_kind kind;
	const uint8_t *data; /* the payload, as it came */
	size_t len;
	int close_code; /* WS_MSG_CLOSE: the peer's code, 1005 when it sent none */
};

struct ws_io {
	/* Moves up to len received bytes into buf: the count, 0 when none wait. */
	size_t (*recv)(uint8_t *buf, size_t len, void *arg);
	/* Takes up to len bytes to send: the count, 0 when it cannot now, -1 on failure. */
	ssize_t (*send)(const uint8_t *data, size_t len, void *arg);
	/* One whole message arrived (pings are not reported). */
	void (*on_msg)(const struct ws_msg *m, void *arg);
};

/* max_msg_len bounds a received message (longer: closed with 1009). NULL on failure. */
struct ws_conn *ws_conn_new(bool server, size_t max_msg_len, const struct ws_io *io, void *arg);
void ws_conn_free(struct ws_conn *ws);

/* Queue a message (data is copied). Return 0, or -1 once a close was queued or on failure. */
int ws_conn_queue_text(struct ws_conn *ws, const void *data, size_t len);
int ws_conn_queue_ping(struct ws_conn *ws, const void *data, size_t len);
int ws_conn_queue_close(struct ws_conn *ws, int code, const char *reason);
/* Bytes of queued messages not yet handed to send (control frames not counted). */
size_t ws_conn_queued_bytes(const struct ws_conn *ws);

/*
 * Reads what recv has (when receive) and sends what is queued, as far as send
 * takes it. Returns 0 or -1 on failure. Not re-entrant: called from inside
 * on_msg it returns 0 at once, and the running call sends what was queued.
 */
int ws_conn_run(struct ws_conn *ws, bool receive);
bool ws_conn_close_sent(const struct ws_conn *ws);
bool ws_conn_close_received(const struct ws_conn *ws);
/* The code of the close frame we sent (ours, or the library's for a protocol error). */
int ws_conn_close_code_sent(const struct ws_conn *ws);

#endif
