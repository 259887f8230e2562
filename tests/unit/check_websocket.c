/* check_websocket.c - WebSocket framing between two connections joined by memory pipes. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/websocket.h"
#include "check_main.h"

#define PIPE_BYTES (1024 * 1024)

/* One side: what it has received, what it was told, how its sends behave. */
struct end {
	struct ws_conn *ws;
	struct end *peer;
	uint8_t *inbox;
	size_t in_len, in_off;
	size_t send_cap; /* bytes one send takes at most (0: all) */
	bool blocked;    /* sends take nothing */
	int texts, closes, close_code;
	size_t last_len;
	char last[64];
	bool echo;
};

static struct end cli, srv;

static size_t
pipe_recv(uint8_t *buf, size_t len, void *arg)
{
	struct end *e = arg;
	size_t n = e->in_len - e->in_off < len ? e->in_len - e->in_off : len;

	memcpy(buf, e->inbox + e->in_off, n);
	e->in_off += n;
	return n;
}

static ssize_t
pipe_send(const uint8_t *data, size_t len, void *arg)
{
	struct end *e = arg, *p = e->peer;
	size_t n = e->send_cap != 0 && e->send_cap < len ? e->send_cap : len;

	if (e->blocked)
		return 0;
	ck_assert_uint_le(p->in_len + n, PIPE_BYTES);
	memcpy(p->inbox + p->in_len, data, n);
	p->in_len += n;
	return (ssize_t)n;
}

static void
on_msg(const struct ws_msg *m, void *arg)
{
	struct end *e = arg;

	if (m->kind == WS_MSG_CLOSE) {
		e->closes++;
		e->close_code = m->close_code;
		return;
	}
	if (m->kind != WS_MSG_TEXT)
		return;
	e->texts++;
	e->last_len = m->len;
	snprintf(e->last, sizeof(e->last), "%.*s", (int)(m->len < 63 ? m->len : 63), m->data);
	if (e->echo)
		ck_assert_int_eq(ws_conn_queue_text(e->ws, m->data, m->len), 0);
}

static const struct ws_io io = {pipe_recv, pipe_send, on_msg};

static void
setup(void)
{
	memset(&cli, 0, sizeof(cli));
	memset(&srv, 0, sizeof(srv));
	cli.peer = &srv;
	srv.peer = &cli;
	cli.inbox = malloc(PIPE_BYTES);
	srv.inbox = malloc(PIPE_BYTES);
	ck_assert_ptr_nonnull(cli.inbox);
	ck_assert_ptr_nonnull(srv.inbox);
	cli.ws = ws_conn_new(false, 1024, &io, &cli);
	srv.ws = ws_conn_new(true, 1024, &io, &srv);
	ck_assert_ptr_nonnull(cli.ws);
	ck_assert_ptr_nonnull(srv.ws);
}

static void
teardown(void)
{
	ws_conn_free(cli.ws);
	ws_conn_free(srv.ws);
	free(cli.inbox);
	free(srv.inbox);
}

/* Runs both ends, receiving, a few rounds: enough for any exchange here to settle. */
static void
pump(void)
{
	for (int i = 0; i < 8; i++) {
		ck_assert_int_eq(ws_conn_run(cli.ws, true), 0);
		ck_assert_int_eq(ws_conn_run(srv.ws, true), 0);
	}
}

START_TEST(test_ws_conn_carries_text_both_ways)
{
	ck_assert_int_eq(ws_conn_queue_text(cli.ws, "{\"a\":1}", 7), 0);
	ck_assert_int_eq(ws_conn_queue_text(srv.ws, "{\"b\":2}", 7), 0);
	pump();
	ck_assert_int_eq(srv.texts, 1);
	ck_assert_str_eq(srv.last, "{\"a\":1}");
	ck_assert_int_eq(cli.texts, 1);
	ck_assert_str_eq(cli.last, "{\"b\":2}");
}
END_TEST

START_TEST(test_ws_conn_sends_what_on_msg_queues)
{
	srv.echo = true;
	ck_assert_int_eq(ws_conn_queue_text(cli.ws, "ping?", 5), 0);
	pump();
	ck_assert_int_eq(srv.texts, 1);
	ck_assert_int_eq(cli.texts, 1);
	ck_assert_str_eq(cli.last, "ping?");
}
END_TEST

START_TEST(test_ws_conn_resumes_a_frame_the_sender_took_in_parts)
{
	char big[1000];

	memset(big, 'z', sizeof(big));
	srv.send_cap = 100;
	srv.blocked = true;
	ck_assert_int_eq(ws_conn_queue_text(srv.ws, big, sizeof(big)), 0);
	ck_assert_int_eq(ws_conn_run(srv.ws, false), 0);
	ck_assert_uint_eq(cli.in_len, 0);
	srv.blocked = false;
	/* Each run moves one part on, and nothing else needs to happen between them. */
	for (int i = 0; i < 20; i++)
		ck_assert_int_eq(ws_conn_run(srv.ws, false), 0);
	ck_assert_int_eq(ws_conn_run(cli.ws, true), 0);
	ck_assert_int_eq(cli.texts, 1);
	ck_assert_uint_eq(cli.last_len, sizeof(big));
}
END_TEST

START_TEST(test_ws_conn_closes_an_unmasked_client_frame_with_1002)
{
	/* FIN + text, length 2, no mask bit: a client must mask. */
	static const uint8_t frame[] = {0x81, 0x02, 'h', 'i'};

	memcpy(srv.inbox, frame, sizeof(frame));
	srv.in_len = sizeof(frame);
	ck_assert_int_eq(ws_conn_run(srv.ws, true), 0);
	ck_assert_int_eq(srv.texts, 0);
	ck_assert(ws_conn_close_sent(srv.ws));
	ck_assert_int_eq(ws_conn_close_code_sent(srv.ws), 1002);
}
END_TEST

START_TEST(test_ws_conn_closes_a_message_over_the_limit_with_1009)
{
	char big[1025];

	memset(big, 'x', sizeof(big));
	ck_assert_int_eq(ws_conn_queue_text(cli.ws, big, sizeof(big)), 0);
	pump();
	ck_assert_int_eq(srv.texts, 0);
	ck_assert_int_eq(ws_conn_close_code_sent(srv.ws), 1009);
	ck_assert_int_eq(cli.closes, 1);
	ck_assert_int_eq(cli.close_code, 1009);
}
END_TEST

START_TEST(test_ws_conn_close_handshake_reports_code_and_refuses_more)
{
	ck_assert_int_eq(ws_conn_queue_close(cli.ws, 1008, "policy"), 0);
	pump();
	ck_assert_int_eq(srv.closes, 1);
	ck_assert_int_eq(srv.close_code, 1008);
	ck_assert(ws_conn_close_sent(cli.ws) && ws_conn_close_received(cli.ws));
	ck_assert(ws_conn_close_sent(srv.ws) && ws_conn_close_received(srv.ws));
	ck_assert_int_eq(ws_conn_queue_text(cli.ws, "late", 4), -1);
}
END_TEST

FB_CHECK_MAIN(.name = "websocket", .setup = setup, .teardown = teardown)
