/*
 * check_relay.c - relayed circuits on 127.0.0.1 with real TLS: a relay R, a
 * silent peer S holding a reservation on it, and a dialer A, all on one
 * event loop.
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check_main.h"
#include "fb/identity.h"
#include "fb/timeutil.h"
#include "net/tls.h"
#include "relay/relay.h"
#include "relay/relay_internal.h"

#define R_EMAIL "relay@example.com"
#define S_EMAIL "silent@example.com"
#define A_EMAIL "alice@example.com"

struct who {
	char crt[128], key[128];
	char fp[CM_FINGERPRINT_LEN + 1];
	struct tls_creds *creds; /* from crt and key */
};

/* What one context's hooks saw. */
struct seen {
	int changed;
	int inbound_fd;
	char inbound_email[CM_MAX_EMAIL + 1], inbound_fp[CM_FINGERPRINT_LEN + 1];
	char inbound_relay[CM_MAX_EMAIL + 1];
	bool inbound_pem;
	enum cm_relay_service inbound_service;
	bool refuse_reserve, refuse_accept;
};

/* What one rl_connect's done saw. */
struct dial {
	int calls;
	int fd;
	char email[CM_MAX_EMAIL + 1], fp[CM_FINGERPRINT_LEN + 1], relay[CM_MAX_EMAIL + 1];
	char err[600];
};

static struct event_base *base;
static char dir[64];
static struct who wr, ws, wa;
static struct rl_config cfg;
static struct seen seen_r, seen_s, seen_a;
static struct rl_ctx *R, *S, *A;
static bool (*cond_fn)(void);
static struct event *poll_ev;

static void
make_identity(const char *email, struct who *w, const char *name)
{
	struct cm_err err = {0};
	struct cm_identity *id = cm_identity_generate(email, 30, &err);

	ck_assert_msg(id != NULL, "%s", err.msg);
	snprintf(w->crt, sizeof(w->crt), "%s/%s.crt", dir, name);
	snprintf(w->key, sizeof(w->key), "%s/%s.key", dir, name);
	ck_assert_int_eq(cm_identity_save(id, w->key, w->crt, &err), 0);
	snprintf(w->fp, sizeof(w->fp), "%s", cm_cert_fingerprint(cm_identity_cert(id)));
	cm_identity_free(id);
	w->creds = tls_creds_new(w->crt, w->key);
	ck_assert_ptr_nonnull(w->creds);
}

static void
poll_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (cond_fn != NULL && cond_fn())
		event_base_loopbreak(base);
}

/* Runs the loop until cond holds (checked every 5 ms) or ms pass; returns cond(). */
static bool
run_until(bool (*cond)(void), int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	cond_fn = cond;
	if (cond == NULL || !cond()) {
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
	cond_fn = NULL;
	return cond == NULL || cond();
}

static bool
never(void)
{
	return false;
}

static void
setup(void)
{
	struct timeval every = {0, 5000};

	snprintf(dir, sizeof(dir), "/tmp/check_relay_XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	make_identity(R_EMAIL, &wr, "r");
	make_identity(S_EMAIL, &ws, "s");
	make_identity(A_EMAIL, &wa, "a");
	base = event_base_new();
	poll_ev = event_new(base, -1, EV_PERSIST, poll_cb, NULL);
	event_add(poll_ev, &every);
	memset(&seen_r, 0, sizeof(seen_r));
	memset(&seen_s, 0, sizeof(seen_s));
	memset(&seen_a, 0, sizeof(seen_a));
	seen_r.inbound_fd = seen_s.inbound_fd = seen_a.inbound_fd = -1;
	rl_config_default(&cfg);
	cfg.handshake_timeout_ms = 3000;
	cfg.join_timeout_ms = 3000;
	cfg.accept_rate_per_s = 100;
	cfg.accept_burst = 100;
	R = S = A = NULL;
}

static void
teardown(void)
{
	char cmd[128];

	rl_free(A);
	rl_free(S);
	rl_free(R);
	tls_creds_free(wr.creds);
	tls_creds_free(ws.creds);
	tls_creds_free(wa.creds);
	event_free(poll_ev);
	event_base_free(base);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static bool
may_reserve(void *ctx, const char *email, const char *fp)
{
	struct seen *s = ctx;

	(void)email;
	(void)fp;
	return !s->refuse_reserve;
}

static void
on_inbound(void *ctx, int fd, const struct rl_peer *peer)
{
	struct seen *s = ctx;

	s->inbound_fd = fd;
	snprintf(s->inbound_email, sizeof(s->inbound_email), "%s", peer->email);
	snprintf(s->inbound_fp, sizeof(s->inbound_fp), "%s", peer->fingerprint);
	snprintf(s->inbound_relay, sizeof(s->inbound_relay), "%s", peer->relay_email);
	s->inbound_pem = strstr(peer->cert_pem, "BEGIN CERTIFICATE") != NULL;
	s->inbound_service = peer->service;
}

static bool
may_accept(void *ctx, const char *email, enum cm_relay_service service)
{
	struct seen *s = ctx;

	(void)email;
	(void)service;
	return !s->refuse_accept;
}

static void
reservations_changed(void *ctx)
{
	((struct seen *)ctx)->changed++;
}

static const struct rl_hooks hooks = {may_reserve, on_inbound, may_accept, reservations_changed};

static struct rl_ctx *
ctx_new(const struct who *w, struct seen *s)
{
	struct rl_config c = cfg;
	struct rl_ctx *rl;

	c.creds = w->creds;
	rl = rl_new(base, &c, &hooks, s);
	ck_assert_ptr_nonnull(rl);
	return rl;
}

static struct rl_target
relay_target(void)
{
	return (struct rl_target){R_EMAIL, "127.0.0.1", rl_listen_port(R), wr.fp};
}

static bool
s_reserved(void)
{
	return rl_reserved(S, R_EMAIL, NULL);
}

/* R serving, S holding a reservation on it, A ready to dial. */
static void
start_three(void)
{
	struct rl_target t;

	R = ctx_new(&wr, &seen_r);
	S = ctx_new(&ws, &seen_s);
	A = ctx_new(&wa, &seen_a);
	ck_assert_int_eq(rl_listen(R, "127.0.0.1", 0), 0);
	t = relay_target();
	ck_assert_int_eq(rl_reserve(S, &t), 0);
	ck_assert(run_until(s_reserved, 5000));
}

static void
dialled(void *arg, int fd, const struct rl_peer *peer, const struct cm_err *err)
{
	struct dial *d = arg;

	d->calls++;
	d->fd = fd;
	if (peer != NULL) {
		snprintf(d->email, sizeof(d->email), "%s", peer->email);
		snprintf(d->fp, sizeof(d->fp), "%s", peer->fingerprint);
		snprintf(d->relay, sizeof(d->relay), "%s", peer->relay_email);
	}
	if (err != NULL)
		snprintf(d->err, sizeof(d->err), "%s", err->msg);
}

static struct dial dl, dl2;

static bool
dl_done(void)
{
	return dl.calls > 0;
}

static bool
dl2_done(void)
{
	return dl2.calls > 0;
}

static uint64_t
dial_s(struct dial *d, const char *fp)
{
	struct rl_target t = relay_target();

	memset(d, 0, sizeof(*d));
	d->fd = -2;
	return rl_connect(A, &t, S_EMAIL, fp, CM_RELAY_GOSSIP, dialled, d);
}

/* An open circuit A -> S: dl.fd at A's end, seen_s.inbound_fd at S's. */
static void
open_circuit(void)
{
	ck_assert_uint_ne(dial_s(&dl, ws.fp), 0);
	ck_assert(run_until(dl_done, 5000));
	ck_assert_msg(dl.fd >= 0, "%s", dl.err);
	ck_assert(run_until(NULL, 50));
	ck_assert_int_ge(seen_s.inbound_fd, 0);
}

/* Bytes read from one fd until cond; EOF recorded. */
static char got[65536];
static size_t got_len;
static int read_fd = -1;
static bool read_eof;
static const char *want;

static void
drain(int fd, bool keep)
{
	char buf[16384];
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) {
		if (keep && got_len + (size_t)n < sizeof(got)) {
			memcpy(got + got_len, buf, (size_t)n);
			got_len += (size_t)n;
		}
	}
	if (n == 0)
		read_eof = true;
}

static bool
got_want(void)
{
	drain(read_fd, true);
	return got_len >= strlen(want) && memcmp(got, want, strlen(want)) == 0;
}

static void
expect_bytes(int from, int to, const char *text)
{
	got_len = 0;
	read_eof = false;
	read_fd = to;
	want = text;
	ck_assert_int_eq(send(from, text, strlen(text), 0), (ssize_t)strlen(text));
	ck_assert_msg(run_until(got_want, 5000), "got %zu bytes", got_len);
}

/* Both ends of the circuit see EOF. */
static bool
both_eof(void)
{
	static bool a, s;

	read_eof = false;
	drain(dl.fd, false);
	a = a || read_eof;
	read_eof = false;
	drain(seen_s.inbound_fd, false);
	s = s || read_eof;
	if (a && s) {
		a = s = false;
		return true;
	}
	return false;
}

START_TEST(test_a_reservation_is_granted_and_listed_on_both_sides)
{
	struct rl_entry e[8];
	const char *emails[4];
	struct rl_stats st;
	size_t n;

	start_three();
	ck_assert_int_ge(seen_s.changed, 1);
	ck_assert_uint_eq(rl_reservations(S, emails, 4), 1);
	ck_assert_str_eq(emails[0], R_EMAIL);
	n = rl_list(S, e, 8);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(e[0].kind, RL_HELD);
	ck_assert_str_eq(e[0].peer, R_EMAIL);
	ck_assert(!e[0].pending);
	ck_assert_int_gt(e[0].expires_ms, e[0].since_ms);
	n = rl_list(R, e, 8);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(e[0].kind, RL_SERVED);
	ck_assert_str_eq(e[0].peer, S_EMAIL);
	rl_stats(R, &st);
	ck_assert_uint_eq(st.reservations_granted, 1);
	ck_assert_uint_eq(st.reservations_served, 1);
	rl_stats(S, &st);
	ck_assert_uint_eq(st.reservations_held, 1);
}
END_TEST

static bool
s_changed(void)
{
	return seen_s.changed > 0;
}

START_TEST(test_may_reserve_false_refuses_with_not_allowed)
{
	struct rl_target t;
	struct rl_stats st;
	bool pending = true;

	R = ctx_new(&wr, &seen_r);
	S = ctx_new(&ws, &seen_s);
	seen_r.refuse_reserve = true;
	ck_assert_int_eq(rl_listen(R, "127.0.0.1", 0), 0);
	t = relay_target();
	ck_assert_int_eq(rl_reserve(S, &t), 0);
	ck_assert(rl_reserved(S, R_EMAIL, &pending) == false && pending);
	ck_assert(run_until(s_changed, 5000));
	ck_assert(!rl_reserved(S, R_EMAIL, &pending));
	ck_assert(!pending);
	rl_stats(R, &st);
	ck_assert_uint_eq(st.refused_not_allowed, 1);
	ck_assert_uint_eq(st.reservations_refused, 1);
	ck_assert_uint_eq(st.reservations_served, 0);
}
END_TEST

START_TEST(test_connect_to_an_email_without_reservation_fails_with_no_reservation)
{
	struct rl_target t;
	struct rl_stats st;

	R = ctx_new(&wr, &seen_r);
	A = ctx_new(&wa, &seen_a);
	ck_assert_int_eq(rl_listen(R, "127.0.0.1", 0), 0);
	t = relay_target();
	memset(&dl, 0, sizeof(dl));
	ck_assert_uint_ne(rl_connect(A, &t, S_EMAIL, ws.fp, CM_RELAY_TORRENT, dialled, &dl), 0);
	ck_assert(run_until(dl_done, 5000));
	ck_assert_int_eq(dl.fd, -1);
	ck_assert_ptr_nonnull(strstr(dl.err, "no_reservation"));
	rl_stats(R, &st);
	ck_assert_uint_eq(st.refused_no_reservation, 1);
	rl_stats(A, &st);
	ck_assert_uint_eq(st.circuit_failures, 1);
}
END_TEST

START_TEST(test_a_circuit_carries_bytes_both_ways_and_each_end_learns_the_other)
{
	struct rl_entry e[8];
	struct rl_stats st;
	size_t n;

	start_three();
	open_circuit();
	ck_assert_str_eq(dl.email, S_EMAIL);
	ck_assert_str_eq(dl.fp, ws.fp);
	ck_assert_str_eq(dl.relay, R_EMAIL);
	ck_assert_str_eq(seen_s.inbound_email, A_EMAIL);
	ck_assert_str_eq(seen_s.inbound_fp, wa.fp);
	ck_assert_str_eq(seen_s.inbound_relay, R_EMAIL);
	ck_assert(seen_s.inbound_pem);
	ck_assert_int_eq(seen_s.inbound_service, CM_RELAY_GOSSIP);
	expect_bytes(dl.fd, seen_s.inbound_fd, "hello from alice\n");
	expect_bytes(seen_s.inbound_fd, dl.fd, "hello back from the silent one\n");
	n = rl_list(A, e, 8);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(e[0].kind, RL_CIRCUIT);
	ck_assert_str_eq(e[0].peer, S_EMAIL);
	ck_assert_str_eq(e[0].relay, R_EMAIL);
	ck_assert(!e[0].inbound && !e[0].pending);
	ck_assert_uint_eq(e[0].bytes, 17 + 31);
	n = rl_list(R, e, 8);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(e[1].kind, RL_CIRCUIT_SERVED);
	ck_assert_str_eq(e[1].peer, A_EMAIL);
	ck_assert_str_eq(e[1].relay, S_EMAIL);
	ck_assert_uint_gt(e[1].bytes, 17 + 31);
	rl_stats(A, &st);
	ck_assert_uint_eq(st.circuits_dialed, 1);
	ck_assert_uint_eq(st.bytes_carried, 17 + 31);
	rl_stats(S, &st);
	ck_assert_uint_eq(st.circuits_accepted, 1);
	rl_stats(R, &st);
	ck_assert_uint_eq(st.circuits_opened, 1);
	ck_assert_uint_eq(st.circuits_served, 1);
	close(dl.fd);
	close(seen_s.inbound_fd);
}
END_TEST

START_TEST(test_a_wrong_target_fingerprint_fails_the_circuit)
{
	start_three();
	ck_assert_uint_ne(dial_s(&dl, wa.fp), 0);
	ck_assert(run_until(dl_done, 5000));
	ck_assert_int_eq(dl.fd, -1);
	ck_assert_ptr_nonnull(strstr(dl.err, "pinned"));
}
END_TEST

/* Writes to A's end as the socket takes it, discards what S gets, until both see EOF. */
static size_t pushed;

static bool
push_until_eof(void)
{
	static char buf[16384];
	ssize_t n;

	while ((n = send(dl.fd, buf, sizeof(buf), MSG_NOSIGNAL)) > 0)
		pushed += (size_t)n;
	return both_eof();
}

START_TEST(test_a_circuit_past_max_circuit_bytes_is_closed_and_counted)
{
	struct rl_stats st;

	cfg.max_circuit_bytes = 64 * 1024;
	start_three();
	open_circuit();
	pushed = 0;
	ck_assert(run_until(push_until_eof, 10000));
	ck_assert_uint_ge(pushed, 32 * 1024);
	rl_stats(R, &st);
	ck_assert_uint_eq(st.closed_byte_cap, 1);
	ck_assert_uint_eq(st.circuits_closed, 1);
	/* The cap's last byte passed, not one more. */
	ck_assert_uint_eq(st.bytes_relayed, 64 * 1024);
	close(dl.fd);
	close(seen_s.inbound_fd);
}
END_TEST

START_TEST(test_max_circuits_refuses_with_its_code)
{
	struct rl_stats st;

	cfg.max_circuits = 1;
	start_three();
	open_circuit();
	ck_assert_uint_ne(dial_s(&dl2, ws.fp), 0);
	ck_assert(run_until(dl2_done, 5000));
	ck_assert_int_eq(dl2.fd, -1);
	ck_assert_ptr_nonnull(strstr(dl2.err, "max_circuits"));
	rl_stats(R, &st);
	ck_assert_uint_eq(st.refused_max_circuits, 1);
	close(dl.fd);
	close(seen_s.inbound_fd);
}
END_TEST

START_TEST(test_max_circuits_per_peer_refuses_with_per_peer)
{
	struct rl_stats st;

	cfg.max_circuits_per_peer = 1;
	start_three();
	open_circuit();
	ck_assert_uint_ne(dial_s(&dl2, ws.fp), 0);
	ck_assert(run_until(dl2_done, 5000));
	ck_assert_int_eq(dl2.fd, -1);
	ck_assert_ptr_nonnull(strstr(dl2.err, "per_peer"));
	rl_stats(R, &st);
	ck_assert_uint_eq(st.refused_per_peer, 1);
	close(dl.fd);
	close(seen_s.inbound_fd);
}
END_TEST

START_TEST(test_a_declined_invite_fails_the_dialer_with_declined)
{
	struct rl_stats st;

	start_three();
	seen_s.refuse_accept = true;
	ck_assert_uint_ne(dial_s(&dl, ws.fp), 0);
	ck_assert(run_until(dl_done, 5000));
	ck_assert_int_eq(dl.fd, -1);
	ck_assert_ptr_nonnull(strstr(dl.err, "declined"));
	ck_assert_int_lt(seen_s.inbound_fd, 0);
	rl_stats(R, &st);
	ck_assert_uint_eq(st.join_timeouts, 1);
	ck_assert_uint_eq(st.circuits_served, 0);
}
END_TEST

static bool
s_not_reserved(void)
{
	return !rl_reserved(S, R_EMAIL, NULL);
}

static bool
r_serves_none(void)
{
	struct rl_stats st;

	rl_stats(R, &st);
	return st.reservations_served == 0;
}

START_TEST(test_closing_the_control_connection_ends_the_reservation_on_both_sides)
{
	int changed;

	start_three();
	changed = seen_s.changed;
	rl_unreserve(S, R_EMAIL);
	ck_assert(!rl_reserved(S, R_EMAIL, NULL));
	ck_assert_int_eq(seen_s.changed, changed + 1);
	ck_assert(run_until(r_serves_none, 5000));
	/* And the relay letting go ends it for the holder. */
	{
		struct rl_target t = relay_target();

		ck_assert_int_eq(rl_reserve(S, &t), 0);
		ck_assert(run_until(s_reserved, 5000));
	}
	changed = seen_s.changed;
	rl_unlisten(R);
	ck_assert(run_until(s_not_reserved, 5000));
	ck_assert(!rl_reserved(S, R_EMAIL, NULL));
	ck_assert_int_gt(seen_s.changed, changed);
}
END_TEST

START_TEST(test_a_short_reservation_is_renewed)
{
	struct rl_stats st;

	cfg.reservation_s = 1;
	start_three();
	ck_assert(!run_until(never, 2600));
	ck_assert(rl_reserved(S, R_EMAIL, NULL));
	rl_stats(R, &st);
	ck_assert_uint_ge(st.reservations_renewed, 3);
	ck_assert_uint_eq(st.reservations_served, 1);
	ck_assert_uint_eq(st.reservations_granted, 1);
}
END_TEST

START_TEST(test_a_renewal_is_refused_once_may_reserve_says_no)
{
	struct rl_stats st;

	cfg.reservation_s = 1;
	start_three();
	seen_r.refuse_reserve = true;
	ck_assert(run_until(s_not_reserved, 5000));
	rl_stats(R, &st);
	ck_assert_uint_eq(st.refused_not_allowed, 1);
	ck_assert_uint_eq(st.reservations_served, 0);
}
END_TEST

START_TEST(test_freeing_the_relay_mid_circuit_gives_eof_to_both_ends)
{
	start_three();
	open_circuit();
	expect_bytes(dl.fd, seen_s.inbound_fd, "before\n");
	rl_free(R);
	R = NULL;
	ck_assert(run_until(both_eof, 5000));
	close(dl.fd);
	close(seen_s.inbound_fd);
}
END_TEST

START_TEST(test_a_cancelled_circuit_never_calls_done)
{
	uint64_t h;
	struct rl_stats st;

	start_three();
	h = dial_s(&dl, ws.fp);
	ck_assert_uint_ne(h, 0);
	rl_cancel(A, h);
	rl_cancel(A, h + 100);
	ck_assert(!run_until(dl_done, 500));
	ck_assert_int_eq(dl.calls, 0);
	rl_stats(A, &st);
	ck_assert_uint_eq(st.circuits_ours, 0);
}
END_TEST

/* What the relay's copy passed on, searched for the marker. */
static char tapped[1 << 20];
static size_t tapped_len;

static void
tap(void *arg, const void *buf, size_t len)
{
	(void)arg;
	if (tapped_len + len <= sizeof(tapped)) {
		memcpy(tapped + tapped_len, buf, len);
		tapped_len += len;
	}
}

START_TEST(test_the_relay_copy_never_holds_the_plaintext)
{
	static const char marker[] = "MARKER-7f3a9c-the-relay-must-not-read-this";

	start_three();
	tapped_len = 0;
	R->copy_tap = tap;
	open_circuit();
	expect_bytes(dl.fd, seen_s.inbound_fd, marker);
	expect_bytes(seen_s.inbound_fd, dl.fd, marker);
	ck_assert_uint_gt(tapped_len, 2 * strlen(marker));
	ck_assert_ptr_null(memmem(tapped, tapped_len, marker, strlen(marker)));
	ck_assert_ptr_null(memmem(tapped, tapped_len, "MARKER", 6));
	close(dl.fd);
	close(seen_s.inbound_fd);
}
END_TEST

/* Moves BIG bytes A -> S and BIG bytes S -> A at once, checking every byte arrives in order. */
#define BIG (4 * 1024 * 1024)
static size_t sent_as, sent_sa, recv_as, recv_sa;
static bool big_bad;

static void
pattern(size_t off, char *buf, size_t len, unsigned salt)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)(((off + i) * 31 + salt) & 0xff);
}

static void
big_step(int from, int to, size_t *sent, size_t *recvd, unsigned salt)
{
	char buf[16384], exp[16384];
	ssize_t n;

	while (*sent < BIG) {
		size_t len = BIG - *sent < sizeof(buf) ? BIG - *sent : sizeof(buf);

		pattern(*sent, buf, len, salt);
		if ((n = send(from, buf, len, MSG_NOSIGNAL)) <= 0)
			break;
		*sent += (size_t)n;
	}
	while ((n = recv(to, buf, sizeof(buf), 0)) > 0) {
		pattern(*recvd, exp, (size_t)n, salt);
		big_bad = big_bad || memcmp(buf, exp, (size_t)n) != 0;
		*recvd += (size_t)n;
	}
}

static bool
big_done(void)
{
	big_step(dl.fd, seen_s.inbound_fd, &sent_as, &recv_as, 1);
	big_step(seen_s.inbound_fd, dl.fd, &sent_sa, &recv_sa, 7);
	return big_bad || (recv_as == BIG && recv_sa == BIG);
}

START_TEST(test_a_circuit_carries_megabytes_both_ways_intact)
{
	struct rl_stats st;

	cfg.circuit_rate = 0;
	start_three();
	open_circuit();
	sent_as = sent_sa = recv_as = recv_sa = 0;
	big_bad = false;
	ck_assert(run_until(big_done, 20000));
	ck_assert(!big_bad);
	rl_stats(A, &st);
	ck_assert_uint_eq(st.bytes_carried, 2 * BIG);
	close(dl.fd);
	close(seen_s.inbound_fd);
}
END_TEST

static size_t rate_sent, rate_recv;

static bool
rate_done(void)
{
	char buf[16384];
	ssize_t n;

	while (rate_sent < 512 * 1024 && (n = send(dl.fd, buf, sizeof(buf), MSG_NOSIGNAL)) > 0)
		rate_sent += (size_t)n;
	while ((n = recv(seen_s.inbound_fd, buf, sizeof(buf), 0)) > 0)
		rate_recv += (size_t)n;
	return rate_recv >= 512 * 1024;
}

/*
 * 512 KiB through a circuit under the configured rates: a second's burst, then
 * 256 KiB/s for the rest, so not within 800 ms, and every byte arrives.
 */
static void
assert_slowed_intact(void)
{
	int64_t t0;

	start_three();
	open_circuit();
	rate_sent = rate_recv = 0;
	t0 = cm_time_mono_ms();
	ck_assert(run_until(rate_done, 10000));
	ck_assert_int_ge(cm_time_mono_ms() - t0, 800);
	ck_assert_uint_eq(rate_recv, 512 * 1024);
	close(dl.fd);
	close(seen_s.inbound_fd);
}

START_TEST(test_circuit_rate_slows_a_circuit_down_without_losing_bytes)
{
	cfg.circuit_rate = 256 * 1024;
	assert_slowed_intact();
}
END_TEST

START_TEST(test_max_rate_slows_all_circuits_together_without_losing_bytes)
{
	/* No per-circuit rate: only the relay's own total holds it back. */
	cfg.circuit_rate = 0;
	cfg.max_rate = 256 * 1024;
	assert_slowed_intact();
}
END_TEST

START_TEST(test_a_reserved_peer_that_does_not_join_in_time_fails_the_dialer_with_timeout)
{
	struct rl_stats st;

	/* S's control connection and A's are all 127.0.0.1 may have: S cannot join. */
	cfg.max_per_address = 2;
	cfg.join_timeout_ms = 500;
	start_three();
	ck_assert_uint_ne(dial_s(&dl, ws.fp), 0);
	ck_assert(run_until(dl_done, 5000));
	ck_assert_int_eq(dl.fd, -1);
	ck_assert_ptr_nonnull(strstr(dl.err, "timeout"));
	rl_stats(R, &st);
	ck_assert_uint_eq(st.join_timeouts, 1);
	ck_assert_uint_ge(st.refused_per_address, 1);
}
END_TEST

static bool
r_holds_a_waiting_circuit(void)
{
	struct rl_entry e[8];
	size_t n = rl_list(R, e, 8);

	for (size_t i = 0; i < n; i++)
		if (e[i].kind == RL_CIRCUIT_SERVED && e[i].pending)
			return true;
	return false;
}

START_TEST(test_a_waiting_circuit_fails_with_no_reservation_as_soon_as_the_reservation_ends)
{
	struct rl_stats st;
	int64_t t0;

	/* S cannot join (127.0.0.1 is full), and the join deadline is far away. */
	cfg.max_per_address = 2;
	cfg.join_timeout_ms = 20000;
	start_three();
	ck_assert_uint_ne(dial_s(&dl, ws.fp), 0);
	ck_assert(run_until(r_holds_a_waiting_circuit, 5000));
	t0 = cm_time_mono_ms();
	rl_unreserve(S, R_EMAIL);
	ck_assert(run_until(dl_done, 5000));
	ck_assert_int_lt(cm_time_mono_ms() - t0, 5000);
	ck_assert_int_eq(dl.fd, -1);
	ck_assert_ptr_nonnull(strstr(dl.err, "no_reservation"));
	rl_stats(R, &st);
	ck_assert_uint_eq(st.join_timeouts, 0);
	ck_assert_uint_eq(st.refused_no_reservation, 1);
	ck_assert(!r_holds_a_waiting_circuit());
}
END_TEST

static bool
a_changed(void)
{
	return seen_a.changed > 0;
}

START_TEST(test_max_reservations_refuses_one_more)
{
	struct rl_target t;
	struct rl_stats st;

	cfg.max_reservations = 1;
	start_three();
	t = relay_target();
	ck_assert_int_eq(rl_reserve(A, &t), 0);
	ck_assert(run_until(a_changed, 5000));
	ck_assert(!rl_reserved(A, R_EMAIL, NULL));
	ck_assert(rl_reserved(S, R_EMAIL, NULL));
	rl_stats(R, &st);
	ck_assert_uint_eq(st.refused_max_reservations, 1);
	ck_assert_uint_eq(st.reservations_served, 1);
}
END_TEST

static struct rl_ctx *S2;
static struct seen seen_s2;

static bool
s2_reserved_s_not(void)
{
	return rl_reserved(S2, R_EMAIL, NULL) && !rl_reserved(S, R_EMAIL, NULL);
}

START_TEST(test_a_new_control_connection_of_the_same_email_replaces_the_old)
{
	struct rl_target t;
	struct rl_stats st;
	struct rl_entry e[4];

	start_three();
	memset(&seen_s2, 0, sizeof(seen_s2));
	S2 = ctx_new(&ws, &seen_s2);
	t = relay_target();
	ck_assert_int_eq(rl_reserve(S2, &t), 0);
	ck_assert(run_until(s2_reserved_s_not, 5000));
	rl_stats(R, &st);
	ck_assert_uint_eq(st.reservations_served, 1);
	ck_assert_uint_eq(st.reservations_granted, 2);
	ck_assert_uint_eq(rl_list(R, e, 4), 1);
	ck_assert_str_eq(e[0].peer, S_EMAIL);
	rl_free(S2);
}
END_TEST

START_TEST(test_pings_keep_a_control_connection_open)
{
	cfg.ping_interval_ms = 100;
	start_three();
	ck_assert(!run_until(never, 1000));
	ck_assert(rl_reserved(S, R_EMAIL, NULL));
	ck_assert_int_eq(seen_s.changed, 1);
}
END_TEST

START_TEST(test_a_circuit_past_its_lifetime_is_closed_and_counted)
{
	struct rl_stats st;

	cfg.circuit_lifetime_s = 1;
	start_three();
	open_circuit();
	ck_assert(run_until(both_eof, 5000));
	rl_stats(R, &st);
	ck_assert_uint_eq(st.closed_lifetime, 1);
	close(dl.fd);
	close(seen_s.inbound_fd);
}
END_TEST

/*
 * Line clients of the relay port that go bare after joined as the ends do:
 * what each was told, and the bare bytes it got.
 */
struct bare_probe {
	const char *first; /* sent once TLS is up */
	bool hold;         /* then reading off, until the test turns it on */
	const char *reply; /* sent bare right after joined */
	struct rl_link *l;
	char circuit[CM_RELAY_CIRCUIT_LEN + 1]; /* the invite's, on a control connection */
	bool reserved, joined, closed;
	char code[32]; /* an error's */
	size_t waiting_at_joined; /* bytes already read past joined when it was handled */
	char got[256];
	size_t got_len;
};

static void
bp_ready(void *owner, struct rl_link *l)
{
	struct bare_probe *b = owner;

	b->l = l;
	rl_link_send_raw(l, b->first, strlen(b->first));
	if (b->hold)
		rl_link_reading(l, false);
}

static void
bp_line(void *owner, struct rl_link *l, const struct cm_relay_msg *m)
{
	struct bare_probe *b = owner;

	if (m->op == CM_RELAY_RESERVED)
		b->reserved = true;
	if (m->op == CM_RELAY_INVITE)
		snprintf(b->circuit, sizeof(b->circuit), "%s", m->circuit);
	if (m->op == CM_RELAY_ERROR)
		snprintf(b->code, sizeof(b->code), "%s", m->code);
	if (m->op != CM_RELAY_JOINED)
		return;
	b->joined = true;
	b->waiting_at_joined =
	    evbuffer_get_length(l->plain) + evbuffer_get_length(bufferevent_get_input(l->bev));
	ck_assert_int_eq(rl_link_go_bare(l), 0);
	ck_assert_int_eq(rl_link_send_raw(l, b->reply, strlen(b->reply)), 0);
}

static void
bp_data(void *owner, struct rl_link *l)
{
	struct bare_probe *b = owner;
	int n = evbuffer_remove(bufferevent_get_input(l->bev), b->got + b->got_len,
	                        sizeof(b->got) - 1 - b->got_len);

	if (n > 0)
		b->got_len += (size_t)n;
}

static void
bp_closed(void *owner, struct rl_link *l, const char *why)
{
	struct bare_probe *b = owner;

	(void)l;
	(void)why;
	b->l = NULL;
	b->closed = true;
}

static const struct rl_link_ops bp_ops = {
    .ready = bp_ready, .line = bp_line, .data = bp_data, .closed = bp_closed};

static struct bare_probe bp_ctl, bp_dialer, bp_joiner;

static void
bp_dial(struct bare_probe *b)
{
	ck_assert_ptr_nonnull(rl_link_dial(A, "127.0.0.1", rl_listen_port(R), wr.fp, &bp_ops, b));
}

static bool
bp_reserved(void)
{
	return bp_ctl.reserved;
}

static bool
bp_invited(void)
{
	return bp_ctl.circuit[0] != '\0';
}

static bool
bp_dialer_joined(void)
{
	return bp_dialer.joined;
}

static bool
bp_both_got(void)
{
	return bp_joiner.got_len >= strlen(bp_dialer.reply) &&
	       bp_dialer.got_len >= strlen(bp_joiner.reply);
}

/*
 * A holds a reservation, dials itself and joins as the reserved peer; the
 * joiner reads nothing from joined on until its reading is on again, so the
 * dialer's bare bytes wait behind joined in its socket.
 */
static void
bp_circuit(void)
{
	static char join_line[128];

	bp_ctl = (struct bare_probe){.first = "{\"op\":\"reserve\"}\n"};
	bp_dialer = (struct bare_probe){
	    .first = "{\"op\":\"connect\",\"to\":\"" A_EMAIL "\",\"service\":\"gossip\"}\n",
	    .reply = "BARE-FROM-THE-DIALER"};
	bp_joiner = (struct bare_probe){.hold = true, .reply = "BARE-FROM-THE-JOINER"};
	bp_dial(&bp_ctl);
	ck_assert(run_until(bp_reserved, 5000));
	bp_dial(&bp_dialer);
	ck_assert(run_until(bp_invited, 5000));
	snprintf(join_line, sizeof(join_line), "{\"op\":\"join\",\"circuit\":\"%s\"}\n",
	         bp_ctl.circuit);
	bp_joiner.first = join_line;
	bp_dial(&bp_joiner);
	ck_assert(run_until(bp_dialer_joined, 5000));
	ck_assert(!run_until(never, 200));
	ck_assert(!bp_joiner.joined);
	rl_link_reading(bp_joiner.l, true);
}

/* _i 0: the relay's copy tapped, through its buffers; 1: spliced, the bytes never in its memory. */
FB_LOOP_TEST(test_bytes_after_joined_pass_bare_and_unchanged_even_those_read_with_joined, 0, 2)
{
	struct rl_stats st;

	start_three();
	tapped_len = 0;
	if (_i == 0)
		R->copy_tap = tap;
	bp_circuit();
	ck_assert(run_until(bp_both_got, 5000));
	ck_assert_uint_gt(bp_joiner.waiting_at_joined, 0);
	ck_assert_str_eq(bp_joiner.got, bp_dialer.reply);
	ck_assert_str_eq(bp_dialer.got, bp_joiner.reply);
	/* The relay passed them as they were, and counted them. */
	if (_i == 0) {
		ck_assert_ptr_nonnull(
		    memmem(tapped, tapped_len, bp_dialer.reply, strlen(bp_dialer.reply)));
		ck_assert_ptr_nonnull(
		    memmem(tapped, tapped_len, bp_joiner.reply, strlen(bp_joiner.reply)));
	}
	rl_stats(R, &st);
	ck_assert_uint_eq(st.bytes_relayed, strlen(bp_dialer.reply) + strlen(bp_joiner.reply));
	rl_link_close(bp_ctl.l);
	rl_link_close(bp_dialer.l);
	rl_link_close(bp_joiner.l);
}
END_TEST

static bool
bp_joiner_closed(void)
{
	return bp_joiner.closed;
}

/* _i as above. */
FB_LOOP_TEST(test_a_circuit_at_its_byte_cap_closes_when_one_end_does, 0, 2)
{
	struct rl_stats st;

	/* The two replies are the cap: both pass, then the dialer leaves. */
	cfg.max_circuit_bytes = 2 * strlen("BARE-FROM-THE-DIALER");
	start_three();
	if (_i == 0)
		R->copy_tap = tap;
	bp_circuit();
	ck_assert(run_until(bp_both_got, 5000));
	rl_link_close(bp_dialer.l);
	ck_assert(run_until(bp_joiner_closed, 5000));
	rl_stats(R, &st);
	ck_assert_uint_eq(st.bytes_relayed, cfg.max_circuit_bytes);
	ck_assert_uint_eq(st.closed_byte_cap, 0);
	ck_assert_uint_eq(st.circuits_closed, 1);
	rl_link_close(bp_ctl.l);
}
END_TEST

static bool
bp_dialer_closed(void)
{
	return bp_dialer.closed;
}

START_TEST(test_a_line_from_the_dialer_before_joined_is_refused_and_ends_the_circuit)
{
	struct rl_stats st;

	start_three();
	bp_ctl = (struct bare_probe){.first = "{\"op\":\"reserve\"}\n"};
	/* After connect the dialer must wait for joined: what follows is not for the far end. */
	bp_dialer = (struct bare_probe){
	    .first = "{\"op\":\"connect\",\"to\":\"" A_EMAIL "\",\"service\":\"gossip\"}\n"
	             "{\"op\":\"ping\"}\n"};
	bp_dial(&bp_ctl);
	ck_assert(run_until(bp_reserved, 5000));
	bp_dial(&bp_dialer);
	ck_assert(run_until(bp_dialer_closed, 5000));
	ck_assert_str_eq(bp_dialer.code, "bad_request");
	rl_stats(R, &st);
	ck_assert_uint_eq(st.refused_bad_request, 1);
	ck_assert_uint_eq(st.circuits_served, 0);
	ck_assert_uint_eq(st.circuits_opened, 0);
	rl_link_close(bp_ctl.l);
}
END_TEST

/* A raw line client of the relay port: what it was answered, and whether it was closed. */
static char answer_code[64];
static bool probe_closed;

static void
probe_ready(void *owner, struct rl_link *l)
{
	const char *line = owner;

	if (line != NULL)
		rl_link_send_raw(l, line, strlen(line));
}

static void
probe_line(void *owner, struct rl_link *l, const struct cm_relay_msg *m)
{
	(void)owner;
	(void)l;
	snprintf(answer_code, sizeof(answer_code), "%s", m->code != NULL ? m->code : "");
}

static void
probe_gone(void *owner, struct rl_link *l, const char *why)
{
	(void)owner;
	(void)l;
	(void)why;
	probe_closed = true;
}

static const struct rl_link_ops probe_ops = {
    .ready = probe_ready, .line = probe_line, .closed = probe_gone};

static bool
probe_done(void)
{
	return probe_closed;
}

static void
probe(const char *line)
{
	answer_code[0] = '\0';
	probe_closed = false;
	ck_assert_ptr_nonnull(
	    rl_link_dial(A, "127.0.0.1", rl_listen_port(R), wr.fp, &probe_ops, (void *)line));
	ck_assert(run_until(probe_done, 5000));
}

START_TEST(test_a_line_that_is_not_a_valid_request_is_answered_bad_request)
{
	static char long_line[RL_MAX_LINE + 100];
	struct rl_stats st;

	cfg.handshake_timeout_ms = 300;
	start_three();
	probe("{\"op\":\"join\"}\n");
	ck_assert_str_eq(answer_code, "bad_request");
	probe("not json at all\n");
	ck_assert_str_eq(answer_code, "bad_request");
	probe("{\"op\":\"invite\",\"circuit\":\"0123456789abcdef0123456789abcdef\","
	      "\"from\":\"x@example.com\",\"service\":\"gossip\"}\n");
	ck_assert_str_eq(answer_code, "bad_request");
	memset(long_line, 'x', sizeof(long_line) - 1);
	probe(long_line);
	ck_assert_str_eq(answer_code, "bad_request");
	rl_stats(R, &st);
	ck_assert_uint_eq(st.refused_bad_request, 4);
	/* Silence is closed after handshake_timeout_ms, unanswered. */
	probe(NULL);
	ck_assert_str_eq(answer_code, "");
}
END_TEST

START_TEST(test_service_names_parse_back)
{
	enum cm_relay_service s;

	ck_assert_int_eq(cm_relay_service_parse(cm_relay_service_name(CM_RELAY_TORRENT), &s), 0);
	ck_assert_int_eq(s, CM_RELAY_TORRENT);
	ck_assert_int_eq(cm_relay_service_parse("gossip", &s), 0);
	ck_assert_int_eq(s, CM_RELAY_GOSSIP);
	ck_assert_int_eq(cm_relay_service_parse("smtp", &s), -1);
}
END_TEST

FB_CHECK_MAIN(.name = "relay", .setup = setup, .teardown = teardown, .timeout_s = 30)
