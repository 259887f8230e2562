/* check_transport.c - TLS + WebSocket sessions between two contexts on 127.0.0.1. */
#define _GNU_SOURCE
#include <check.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/transport.h"
#include "fb/identity.h"
#include "check_main.h"

struct side {
	int opened;
	int texts;
	char last_text[512];
	size_t last_len;
	int pongs;
	int closed;
	int close_code;
	struct tp_session *s;
	bool echo;
};

static struct event_base *base;
static char dir[64];
static char srv_crt[128], srv_key[128], cli_crt[128], cli_key[128];
static char srv_fp[CM_FINGERPRINT_LEN + 1];
static struct side S, C;
static bool (*done_when)(void);
/* Clients beyond C, for the caps on inbound sessions. */
#define NEXTRA 4
static struct side X[NEXTRA];
static struct tp_session *xs[NEXTRA];
static struct tp_config test_cfg; /* what ctx_new gives every context */
/* The server's ends of the inbound sessions, in the order they opened (NULL once closed). */
#define NSRV 8
static struct tp_session *srv_sess[NSRV];
static size_t nsrv;

static void
make_identity(const char *email, const char *crt, const char *key, char *fp)
{
	struct cm_err err = {0};
	struct cm_identity *id = cm_identity_generate(email, 30, &err);

	ck_assert_msg(id != NULL, "%s", err.msg);
	ck_assert_int_eq(cm_identity_save(id, key, crt, &err), 0);
	if (fp != NULL)
		snprintf(fp, CM_FINGERPRINT_LEN + 1, "%s", cm_cert_fingerprint(cm_identity_cert(id)));
	cm_identity_free(id);
}

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/check_transport_XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(srv_crt, sizeof(srv_crt), "%s/s.crt", dir);
	snprintf(srv_key, sizeof(srv_key), "%s/s.key", dir);
	snprintf(cli_crt, sizeof(cli_crt), "%s/c.crt", dir);
	snprintf(cli_key, sizeof(cli_key), "%s/c.key", dir);
	make_identity("server@example.com", srv_crt, srv_key, srv_fp);
	make_identity("client@example.com", cli_crt, cli_key, NULL);
	base = event_base_new();
	memset(&S, 0, sizeof(S));
	memset(&C, 0, sizeof(C));
	memset(X, 0, sizeof(X));
	memset(xs, 0, sizeof(xs));
	memset(srv_sess, 0, sizeof(srv_sess));
	nsrv = 0;
	tp_config_default(&test_cfg);
	test_cfg.handshake_timeout_ms = 3000;
}

static void
teardown(void)
{
	char cmd[128];

	event_base_free(base);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static struct side *
side_of(struct tp_session *s)
{
	for (size_t i = 0; i < NEXTRA; i++)
		if (xs[i] == s)
			return &X[i];
	return tp_session_inbound(s) ? &S : &C;
}

static void
check_done(void)
{
	if (done_when != NULL && done_when())
		event_base_loopbreak(base);
}

static void
on_open(struct tp_session *s, void *arg)
{
	(void)arg;
	side_of(s)->opened++;
	side_of(s)->s = s;
	if (tp_session_inbound(s) && nsrv < NSRV)
		srv_sess[nsrv++] = s;
	check_done();
}

static void
on_text(struct tp_session *s, const char *buf, size_t len, void *arg)
{
	struct side *d = side_of(s);

	(void)arg;
	d->texts++;
	d->last_len = len;
	snprintf(d->last_text, sizeof(d->last_text), "%.*s", (int)len, buf);
	if (d->echo)
		tp_send_text(s, buf, len);
	check_done();
}

static void
on_pong(struct tp_session *s, int64_t rtt_ms, void *arg)
{
	(void)arg;
	ck_assert_int_ge(rtt_ms, 0);
	side_of(s)->pongs++;
	check_done();
}

static void
on_close(struct tp_session *s, int code, const char *reason, void *arg)
{
	struct side *d = side_of(s);

	(void)arg;
	(void)reason;
	d->closed++;
	d->close_code = code;
	d->s = NULL;
	for (size_t i = 0; i < nsrv; i++)
		if (srv_sess[i] == s)
			srv_sess[i] = NULL;
	check_done();
}

static const struct tp_callbacks cbs = {on_open, on_text, on_pong, on_close};

static struct tp_ctx *
ctx_new(const char *crt, const char *key)
{
	struct tp_config cfg;
	struct tp_ctx *ctx;

	cfg = test_cfg;
	cfg.cert_file = crt;
	cfg.key_file = key;
	ctx = tp_new(base, &cfg, &cbs, NULL);
	ck_assert_ptr_nonnull(ctx);
	return ctx;
}

/* Runs the loop until cond holds or 5 s pass. */
static void
run_until(bool (*cond)(void))
{
	struct timeval tv = {5, 0};

	done_when = cond;
	if (!cond()) {
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
	done_when = NULL;
}

static bool
both_open(void)
{
	return S.opened == 1 && C.opened == 1;
}

static bool
client_got_text(void)
{
	return C.texts > 0;
}

static bool
both_closed(void)
{
	return S.closed == 1 && C.closed == 1;
}

static bool
client_closed(void)
{
	return C.closed == 1;
}

static bool
client_pong(void)
{
	return C.pongs > 0;
}

/* A listening server and a client connected to it, both open. */
static void
open_pair(struct tp_ctx **srv, struct tp_ctx **cli)
{
	*srv = ctx_new(srv_crt, srv_key);
	*cli = ctx_new(cli_crt, cli_key);
	ck_assert_int_eq(tp_listen(*srv, "127.0.0.1", 0), 0);
	ck_assert_int_gt(tp_listen_port(*srv), 0);
	ck_assert_ptr_nonnull(tp_connect(*cli, "127.0.0.1", tp_listen_port(*srv), "127.0.0.1",
					 srv_fp));
	run_until(both_open);
	ck_assert_int_eq(S.opened, 1);
	ck_assert_int_eq(C.opened, 1);
}

START_TEST(test_tp_connect_exchanges_text_both_ways)
{
	struct tp_ctx *srv, *cli;

	open_pair(&srv, &cli);
	/* Each side knows the other's certificate. */
	ck_assert_str_eq(tp_session_fingerprint(C.s), srv_fp);
	ck_assert_ptr_nonnull(tp_session_fingerprint(S.s));
	ck_assert_ptr_nonnull(strstr(tp_session_peer_cert_pem(S.s), "BEGIN CERTIFICATE"));
	S.echo = true;
	ck_assert_int_eq(tp_send_text(C.s, "{\"hello\":1}", 11), 0);
	run_until(client_got_text);
	ck_assert_int_eq(S.texts, 1);
	ck_assert_str_eq(S.last_text, "{\"hello\":1}");
	ck_assert_str_eq(C.last_text, "{\"hello\":1}");
	tp_free(cli);
	tp_free(srv);
}
END_TEST

static bool
client_got_300(void)
{
	return C.texts >= 300 || C.closed > 0 || S.closed > 0;
}

/*
 * Many frames arrive in one read and the server answers each from inside its
 * message callback: the answers must be queued, not sent from within wslay.
 */
START_TEST(test_tp_send_text_from_callback_during_a_burst)
{
	struct tp_ctx *srv, *cli;
	char msg[64];

	open_pair(&srv, &cli);
	S.echo = true;
	for (int i = 0; i < 300; i++) {
		snprintf(msg, sizeof(msg), "{\"n\":%d}", i);
		ck_assert_int_eq(tp_send_text(C.s, msg, strlen(msg)), 0);
	}
	run_until(client_got_300);
	ck_assert_int_eq(S.texts, 300);
	ck_assert_int_eq(C.texts, 300);
	ck_assert_str_eq(C.last_text, "{\"n\":299}");
	ck_assert_int_eq(S.closed + C.closed, 0);
	tp_free(cli);
	tp_free(srv);
}
END_TEST

START_TEST(test_tp_ping_reports_round_trip)
{
	struct tp_ctx *srv, *cli;

	open_pair(&srv, &cli);
	ck_assert_int_eq(tp_ping(C.s), 0);
	run_until(client_pong);
	ck_assert_int_eq(C.pongs, 1);
	tp_free(cli);
	tp_free(srv);
}
END_TEST

START_TEST(test_tp_close_delivers_code_to_both_sides)
{
	struct tp_ctx *srv, *cli;

	open_pair(&srv, &cli);
	tp_close(S.s, 1008, "policy");
	run_until(both_closed);
	ck_assert_int_eq(S.close_code, 1008);
	ck_assert_int_eq(C.close_code, 1008);
	ck_assert_uint_eq(tp_stats(srv)->closed_by_code[8], 1);
	tp_free(cli);
	tp_free(srv);
}
END_TEST

START_TEST(test_tp_connect_pin_mismatch_fails_handshake)
{
	struct tp_ctx *srv = ctx_new(srv_crt, srv_key), *cli = ctx_new(cli_crt, cli_key);
	char wrong[CM_FINGERPRINT_LEN + 1];

	memset(wrong, 'a', CM_FINGERPRINT_LEN);
	wrong[CM_FINGERPRINT_LEN] = '\0';
	ck_assert_int_eq(tp_listen(srv, "127.0.0.1", 0), 0);
	ck_assert_ptr_nonnull(tp_connect(cli, "127.0.0.1", tp_listen_port(srv), NULL, wrong));
	run_until(client_closed);
	ck_assert_int_eq(C.opened, 0);
	ck_assert_int_eq(C.close_code, 1006);
	ck_assert_uint_eq(tp_stats(cli)->pin_failures, 1);
	tp_free(cli);
	tp_free(srv);
}
END_TEST

START_TEST(test_tp_send_text_refuses_over_limit_and_carries_the_limit)
{
	struct tp_ctx *srv, *cli;
	size_t big = CM_MAX_FRAME + 1;
	char *buf = malloc(big);

	memset(buf, 'x', big);
	open_pair(&srv, &cli);
	ck_assert_int_eq(tp_send_text(C.s, buf, big), -1);
	ck_assert_int_eq(tp_send_text(C.s, buf, CM_MAX_FRAME), 0);
	run_until(client_got_text);
	ck_assert_int_eq(S.texts, 1);
	ck_assert_uint_eq(S.last_len, CM_MAX_FRAME);
	free(buf);
	tp_free(cli);
	tp_free(srv);
}
END_TEST

/*
 * A frame far bigger than one TLS record, and nothing else on the wire: the
 * rest of it must follow as the socket drains, not wait for the next event.
 */
START_TEST(test_tp_send_text_large_frame_arrives_without_further_traffic)
{
	struct tp_ctx *srv, *cli;
	size_t big = 200 * 1024;
	char *buf = malloc(big);

	ck_assert_ptr_nonnull(buf);
	memset(buf, 'y', big);
	buf[0] = '[';
	open_pair(&srv, &cli);
	/* The server's frames are unmasked: wslay hands them to TLS in one piece. */
	ck_assert_int_eq(tp_send_text(S.s, buf, big), 0);
	run_until(client_got_text);
	ck_assert_int_eq(C.texts, 1);
	ck_assert_uint_eq(C.last_len, big);
	ck_assert_int_eq(C.last_text[0], '[');
	ck_assert_int_eq(S.closed + C.closed, 0);
	free(buf);
	tp_free(cli);
	tp_free(srv);
}
END_TEST

START_TEST(test_tp_connect_refused_port_reports_close)
{
	struct tp_ctx *srv = ctx_new(srv_crt, srv_key), *cli = ctx_new(cli_crt, cli_key);
	int port;

	/* A port that was just free: nothing listens there. */
	ck_assert_int_eq(tp_listen(srv, "127.0.0.1", 0), 0);
	port = tp_listen_port(srv);
	tp_free(srv);
	tp_connect(cli, "127.0.0.1", port, NULL, NULL);
	run_until(client_closed);
	ck_assert_int_eq(C.closed, 1);
	ck_assert_int_eq(C.close_code, 1006);
	ck_assert_uint_eq(tp_session_count(cli), 0);
	tp_free(cli);
}
END_TEST

START_TEST(test_tp_new_missing_key_file_fails)
{
	struct tp_config cfg;

	tp_config_default(&cfg);
	cfg.cert_file = srv_crt;
	cfg.key_file = "/nonexistent/key.pem";
	ck_assert_ptr_null(tp_new(base, &cfg, &cbs, NULL));
}
END_TEST

/* Limits against a hostile network */

START_TEST(test_tp_hello_deadline_closes_a_session_never_authenticated)
{
	struct tp_ctx *srv, *cli;

	test_cfg.hello_timeout_ms = 200;
	open_pair(&srv, &cli);
	run_until(both_closed);
	ck_assert_int_eq(S.close_code, 1008);
	ck_assert_int_eq(C.close_code, 1008);
	ck_assert_uint_ge(tp_stats(srv)->hello_timeouts, 1);
	tp_free(cli);
	tp_free(srv);
}
END_TEST

static bool
never(void)
{
	return false;
}

START_TEST(test_tp_session_authenticated_stops_the_hello_deadline)
{
	struct tp_ctx *srv, *cli;
	struct timeval wait = {0, 500 * 1000};

	test_cfg.hello_timeout_ms = 200;
	open_pair(&srv, &cli);
	tp_session_authenticated(S.s);
	tp_session_authenticated(C.s);
	done_when = never;
	event_base_loopexit(base, &wait);
	event_base_dispatch(base);
	done_when = NULL;
	ck_assert_int_eq(S.closed + C.closed, 0);
	ck_assert_uint_eq(tp_stats(srv)->hello_timeouts, 0);
	tp_free(cli);
	tp_free(srv);
}
END_TEST

/* Extra client i dials srv; its callbacks land in X[i]. */
static void
extra_connect_from(struct tp_ctx *cli, struct tp_ctx *srv, size_t i, const char *ip)
{
	xs[i] = tp_connect(cli, "127.0.0.1", tp_listen_port(srv), ip, srv_fp);
	ck_assert_ptr_nonnull(xs[i]);
}

static void
extra_connect(struct tp_ctx *cli, struct tp_ctx *srv, size_t i)
{
	extra_connect_from(cli, srv, i, NULL);
}

static size_t extra_waited;

static bool
extras_settled(void)
{
	for (size_t i = 0; i < extra_waited; i++)
		if (X[i].opened + X[i].closed == 0)
			return false;
	return true;
}

START_TEST(test_tp_listen_refuses_sessions_over_max_per_address)
{
	struct tp_ctx *srv, *cli;

	test_cfg.max_per_address = 2;
	open_pair(&srv, &cli);
	extra_connect(cli, srv, 0);
	extra_connect(cli, srv, 1);
	extra_waited = 2;
	run_until(extras_settled);
	ck_assert_int_eq(X[0].opened, 1);
	ck_assert_int_eq(X[1].opened, 0);
	ck_assert_int_eq(X[1].close_code, 1006);
	ck_assert_uint_eq(tp_stats(srv)->refused_per_address, 1);
	ck_assert_int_eq(C.closed, 0);
	tp_free(cli);
	tp_free(srv);
}
END_TEST

static bool
first_extra_closed(void)
{
	return X[0].closed > 0 && X[1].opened > 0;
}

START_TEST(test_tp_pending_cap_pushes_out_a_waiting_session_for_a_newcomer)
{
	struct tp_ctx *srv, *cli;

	test_cfg.max_pending = 1;
	open_pair(&srv, &cli);
	/* C's session is authenticated: it is not pending and stays. */
	tp_session_authenticated(S.s);
	extra_connect(cli, srv, 0);
	extra_waited = 1;
	run_until(extras_settled);
	ck_assert_int_eq(X[0].opened, 1);
	extra_connect(cli, srv, 1);
	run_until(first_extra_closed);
	ck_assert_int_eq(X[0].closed, 1);
	ck_assert_int_eq(X[0].close_code, 1008);
	ck_assert_int_eq(X[1].opened, 1);
	ck_assert_int_eq(C.closed, 0);
	ck_assert_uint_eq(tp_stats(srv)->pending_evicted, 1);
	tp_free(cli);
	tp_free(srv);
}
END_TEST

START_TEST(test_tp_send_text_closes_a_session_whose_unsent_output_passes_the_cap)
{
	struct tp_ctx *srv, *cli;
	size_t len = 40 * 1024;
	char *buf = malloc(len);

	ck_assert_ptr_nonnull(buf);
	memset(buf, 'z', len);
	test_cfg.max_send_queue_bytes = 64 * 1024;
	open_pair(&srv, &cli);
	/* The loop does not run in between: nothing reaches the socket, as with a peer that does not read. */
	ck_assert_int_eq(tp_send_text(S.s, buf, len), 0);
	ck_assert_int_eq(tp_send_text(S.s, buf, len), -1);
	ck_assert_int_eq(S.closed, 1);
	ck_assert_int_eq(S.close_code, 1008);
	ck_assert_uint_eq(tp_stats(srv)->send_queue_overflows, 1);
	run_until(client_closed);
	ck_assert_int_eq(C.closed, 1);
	free(buf);
	tp_free(cli);
	tp_free(srv);
}
END_TEST

static bool
pong_and_ignored(void)
{
	return C.pongs > 0 && C.s != NULL;
}

START_TEST(test_tp_ping_reports_only_the_pong_with_the_outstanding_nonce)
{
	struct tp_ctx *srv, *cli;
	struct timeval wait = {0, 300 * 1000};

	open_pair(&srv, &cli);
	/* The second ping replaces the first: the first one's pong is no answer. */
	ck_assert_int_eq(tp_ping(C.s), 0);
	ck_assert_int_eq(tp_ping(C.s), 0);
	run_until(pong_and_ignored);
	done_when = never;
	event_base_loopexit(base, &wait);
	event_base_dispatch(base);
	done_when = NULL;
	ck_assert_int_eq(C.pongs, 1);
	ck_assert_uint_eq(tp_stats(cli)->pongs_ignored, 1);
	tp_free(cli);
	tp_free(srv);
}
END_TEST

/* Extra i opens from ip; with authenticate, the server marks its end authenticated. */
static void
extra_open(struct tp_ctx *cli, struct tp_ctx *srv, size_t i, const char *ip, bool authenticate)
{
	extra_connect_from(cli, srv, i, ip);
	extra_waited = i + 1;
	run_until(extras_settled);
	ck_assert_int_eq(X[i].opened, 1);
	ck_assert_ptr_nonnull(srv_sess[nsrv - 1]);
	if (authenticate)
		tp_session_authenticated(srv_sess[nsrv - 1]);
}

START_TEST(test_tp_pending_sessions_do_not_count_toward_max_sessions)
{
	struct tp_ctx *srv, *cli;

	test_cfg.max_sessions = 1;
	open_pair(&srv, &cli);
	tp_session_authenticated(S.s);
	/* One neighbour fills max_sessions; a newcomer still gets to say its hello. */
	extra_open(cli, srv, 0, "127.0.0.5", false);
	extra_open(cli, srv, 1, "127.0.0.6", false);
	ck_assert_int_eq(C.closed + X[0].closed + X[1].closed, 0);
	ck_assert_uint_eq(tp_stats(srv)->pending_evicted, 0);
	tp_free(cli);
	tp_free(srv);
}
END_TEST

static bool
second_extra_closed(void)
{
	return X[1].closed > 0 && X[3].opened > 0;
}

START_TEST(test_tp_pending_cap_pushes_out_the_youngest_of_the_address_holding_the_most)
{
	struct tp_ctx *srv, *cli;

	test_cfg.max_pending = 3;
	open_pair(&srv, &cli);
	tp_session_authenticated(S.s);
	extra_open(cli, srv, 0, "127.0.0.5", false);
	extra_open(cli, srv, 1, "127.0.0.5", false);
	extra_open(cli, srv, 2, "127.0.0.6", false);
	/* Not the oldest (X[0]) nor the other address's: the youngest of 127.0.0.5. */
	extra_connect_from(cli, srv, 3, "127.0.0.7");
	run_until(second_extra_closed);
	ck_assert_int_eq(X[1].closed, 1);
	ck_assert_int_eq(X[1].close_code, 1008);
	ck_assert_int_eq(X[0].closed + X[2].closed + X[3].closed + C.closed, 0);
	ck_assert_int_eq(X[3].opened, 1);
	ck_assert_uint_eq(tp_stats(srv)->pending_evicted, 1);
	tp_free(cli);
	tp_free(srv);
}
END_TEST

START_TEST(test_tp_accept_rate_refuses_an_address_that_reconnects_too_fast)
{
	struct tp_ctx *srv, *cli;

	test_cfg.accept_rate_per_s = 0.5;
	test_cfg.accept_burst = 2;
	open_pair(&srv, &cli);
	extra_connect(cli, srv, 0);
	extra_connect(cli, srv, 1);
	extra_waited = 2;
	run_until(extras_settled);
	ck_assert_int_eq(X[0].opened, 1);
	ck_assert_int_eq(X[1].opened, 0);
	ck_assert_int_eq(X[1].close_code, 1006);
	ck_assert_uint_eq(tp_stats(srv)->refused_rate, 1);
	ck_assert_uint_eq(tp_stats(srv)->refused_per_address, 0);
	/* Another address has a bucket of its own. */
	extra_open(cli, srv, 2, "127.0.0.5", false);
	tp_free(cli);
	tp_free(srv);
}
END_TEST

static bool
third_extra_closed(void)
{
	return X[1].closed > 0;
}

/* Runs the loop for ms, whatever happens. */
static void
run_for_ms(int64_t ms)
{
	struct timeval wait = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000 * 1000)};

	done_when = never;
	event_base_loopexit(base, &wait);
	event_base_dispatch(base);
	done_when = NULL;
}

START_TEST(test_tp_inbound_over_max_sessions_closes_the_youngest_of_the_biggest_address_group)
{
	struct tp_ctx *srv, *cli;
	struct timeval wait = {0, 300 * 1000};

	test_cfg.max_sessions = 3;
	test_cfg.evict_grace_ms = 200;
	open_pair(&srv, &cli);
	tp_session_authenticated(S.s);
	extra_open(cli, srv, 0, "127.0.0.5", true);
	extra_open(cli, srv, 1, "127.0.0.5", true);
	/* A fourth neighbour: C is the longest connected half, 127.0.0.5 holds the most. */
	extra_open(cli, srv, 2, "127.0.0.6", true);
	ck_assert_int_eq(X[1].closed, 0); /* not from inside tp_session_authenticated */
	run_until(third_extra_closed);
	ck_assert_int_eq(X[1].closed, 1);
	ck_assert_int_eq(X[1].close_code, TP_CLOSE_FULL);
	done_when = never;
	event_base_loopexit(base, &wait);
	event_base_dispatch(base);
	done_when = NULL;
	ck_assert_int_eq(C.closed + X[0].closed + X[2].closed, 0);
	ck_assert_uint_eq(tp_stats(srv)->inbound_evicted, 1);
	tp_free(cli);
	tp_free(srv);
}
END_TEST

START_TEST(test_tp_inbound_over_max_sessions_that_closes_within_the_grace_pushes_out_nobody)
{
	struct tp_ctx *srv, *cli;

	test_cfg.max_sessions = 2;
	test_cfg.evict_grace_ms = 600;
	open_pair(&srv, &cli);
	tp_session_authenticated(S.s);
	extra_open(cli, srv, 0, "127.0.0.5", true);
	/* One over the cap, as a session dialled for a lookup: it asks, then leaves. */
	extra_open(cli, srv, 1, "127.0.0.6", true);
	run_for_ms(100);
	tp_close(X[1].s, 1000, "lookup answered");
	run_for_ms(900);
	ck_assert_int_eq(C.closed + X[0].closed, 0);
	ck_assert_uint_eq(tp_stats(srv)->inbound_evicted, 0);
	tp_free(cli);
	tp_free(srv);
}
END_TEST

START_TEST(test_tp_inbound_past_the_surplus_pushes_out_at_once)
{
	struct tp_ctx *srv, *cli;

	test_cfg.max_sessions = 2;
	test_cfg.evict_surplus = 0;
	test_cfg.evict_grace_ms = 60000; /* run_until gives up after 5 s */
	open_pair(&srv, &cli);
	tp_session_authenticated(S.s);
	extra_open(cli, srv, 0, "127.0.0.5", true);
	extra_open(cli, srv, 1, "127.0.0.5", true);
	run_until(first_extra_closed);
	ck_assert_int_eq(X[0].close_code, TP_CLOSE_FULL);
	ck_assert_uint_eq(tp_stats(srv)->inbound_evicted, 1);
	tp_free(cli);
	tp_free(srv);
}
END_TEST

START_TEST(test_tp_send_queue_overflow_frees_the_session_at_once)
{
	struct tp_ctx *srv, *cli;
	size_t len = 40 * 1024;
	char *buf = malloc(len);

	ck_assert_ptr_nonnull(buf);
	memset(buf, 'z', len);
	test_cfg.max_send_queue_bytes = 64 * 1024;
	open_pair(&srv, &cli);
	ck_assert_uint_eq(tp_session_unsent(S.s), 0);
	ck_assert_int_eq(tp_send_text(S.s, buf, len), 0);
	ck_assert_uint_ge(tp_session_unsent(S.s), len);
	ck_assert_uint_eq(tp_session_count(srv), 1);
	ck_assert_int_eq(tp_send_text(S.s, buf, len), -1);
	ck_assert_int_eq(S.closed, 1);
	/* Freed, its socket closed, out of every count: not left to a timeout. */
	ck_assert_uint_eq(tp_session_count(srv), 0);
	run_until(client_closed);
	ck_assert_int_eq(C.closed, 1);
	free(buf);
	tp_free(cli);
	tp_free(srv);
}
END_TEST

/* Two ends of a socketpair, as a relayed circuit hands them over. */
static void
circuit_pair(int fds[2])
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
}

/* A fingerprint of 64 hex digits standing for a certificate the circuit proved. */
static void
fake_fp(char fp[CM_FINGERPRINT_LEN + 1], char digit)
{
	memset(fp, digit, CM_FINGERPRINT_LEN);
	fp[CM_FINGERPRINT_LEN] = '\0';
}

#define FAKE_PEM "-----BEGIN CERTIFICATE-----\nproven by the circuit\n-----END CERTIFICATE-----\n"

START_TEST(test_tp_adopt_sessions_on_a_circuit_open_exchange_text_and_close_with_a_code)
{
	struct tp_ctx *srv = ctx_new(srv_crt, srv_key), *cli = ctx_new(cli_crt, cli_key);
	char fp_s[CM_FINGERPRINT_LEN + 1], fp_c[CM_FINGERPRINT_LEN + 1];
	struct tp_session *in, *out;
	int fds[2];

	fake_fp(fp_s, 'a');
	fake_fp(fp_c, 'c');
	circuit_pair(fds);
	/* srv sees the client's certificate and cli the server's, as the circuit proved them. */
	in = tp_adopt(srv, fds[0], true, FAKE_PEM, fp_c);
	out = tp_adopt(cli, fds[1], false, FAKE_PEM, fp_s);
	ck_assert_ptr_nonnull(in);
	ck_assert_ptr_nonnull(out);
	ck_assert(tp_session_adopted(in) && tp_session_adopted(out));
	run_until(both_open);
	ck_assert_int_eq(S.opened, 1);
	ck_assert_int_eq(C.opened, 1);
	ck_assert_ptr_eq(S.s, in);
	ck_assert_ptr_eq(C.s, out);
	ck_assert_str_eq(tp_session_fingerprint(in), fp_c);
	ck_assert_str_eq(tp_session_fingerprint(out), fp_s);
	ck_assert_str_eq(tp_session_peer_cert_pem(out), FAKE_PEM);
	S.echo = true;
	ck_assert_int_eq(tp_send_text(out, "{\"hello\":1}", 11), 0);
	run_until(client_got_text);
	ck_assert_str_eq(S.last_text, "{\"hello\":1}");
	ck_assert_str_eq(C.last_text, "{\"hello\":1}");
	ck_assert_uint_eq(tp_stats(srv)->accepted, 1);
	ck_assert_uint_eq(tp_stats(cli)->connected, 1);
	tp_close(out, 1008, "policy");
	run_until(both_closed);
	ck_assert_int_eq(C.close_code, 1008);
	ck_assert_int_eq(S.close_code, 1008);
	tp_free(cli);
	tp_free(srv);
}
END_TEST

START_TEST(test_tp_adopt_closes_a_session_whose_peer_never_upgrades_at_the_handshake_timeout)
{
	struct tp_ctx *cli;
	char fp[CM_FINGERPRINT_LEN + 1];
	int fds[2];

	test_cfg.handshake_timeout_ms = 200;
	cli = ctx_new(cli_crt, cli_key);
	fake_fp(fp, 'a');
	circuit_pair(fds);
	/* fds[0] stays open and silent: our Upgrade request is never answered. */
	ck_assert_ptr_nonnull(tp_adopt(cli, fds[1], false, FAKE_PEM, fp));
	run_until(client_closed);
	ck_assert_int_eq(C.opened, 0);
	ck_assert_int_eq(C.close_code, 1006);
	ck_assert_uint_eq(tp_stats(cli)->handshake_failures, 1);
	ck_assert_uint_eq(tp_session_count(cli), 0);
	close(fds[0]);
	tp_free(cli);
}
END_TEST

static bool
extras_open(void)
{
	for (size_t i = 0; i < extra_waited; i++)
		if (X[i].opened == 0)
			return false;
	return true;
}

START_TEST(test_tp_adopt_inbound_sessions_are_not_refused_by_max_per_address)
{
	struct tp_ctx *srv, *cli;
	char fp[CM_FINGERPRINT_LEN + 1];
	int fds[2];

	test_cfg.max_per_address = 1;
	/* One session from 127.0.0.1 fills its address's cap. */
	open_pair(&srv, &cli);
	fake_fp(fp, 'a');
	for (size_t i = 0; i < 3; i++) {
		circuit_pair(fds);
		ck_assert_ptr_nonnull(tp_adopt(srv, fds[0], true, FAKE_PEM, fp));
		xs[i] = tp_adopt(cli, fds[1], false, FAKE_PEM, fp);
		ck_assert_ptr_nonnull(xs[i]);
	}
	extra_waited = 3;
	run_until(extras_open);
	ck_assert(extras_open());
	ck_assert_uint_eq(tp_stats(srv)->refused_per_address, 0);
	ck_assert_uint_eq(tp_stats(srv)->accepted, 4);
	ck_assert_int_eq(C.closed, 0);
	tp_free(cli);
	tp_free(srv);
}
END_TEST

FB_CHECK_MAIN(.name = "transport", .setup = setup, .teardown = teardown, .timeout_s = 30)
