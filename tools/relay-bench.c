/*
 * relay-bench.c - bytes one way through a TLS session between two identity
 * certificates, direct or relayed, for tools/bench-relay.sh:
 *
 *   relay-bench serve                   a relay (rl_listen on 127.0.0.1, any port, with no
 *                                       cap on rate or bytes); prints "port N" and
 *                                       "fingerprint F", then serves until SIGTERM
 *   relay-bench pair PORT FP N_MIB      A and B through that relay (certificate FP): B
 *                                       reserves, A opens a circuit to B (relay/relay.h)
 *   relay-bench certs DIR               writes a.crt/a.key and b.crt/b.key (a@ and b@bench.example)
 *   relay-bench direct N_MIB            A and B over one TCP connection on loopback
 *   relay-bench fds DIR FD_A FD_B N_MIB A and B over two connected sockets handed over
 *                                       (the two ends of a session through another relay),
 *                                       with the certificates of DIR
 *
 * direct and fds: A is the TLS client and B the TLS server (mutual TLS, as
 * net/tls.h does it): A pins B's certificate, B requires A's email. pair: the
 * relay room's circuit, whose inner TLS does the same. Once the session is up
 * A writes N MiB and B reads them. Both ends run in this one process on one
 * event loop. Prints "setup_ms" (start to the first byte written), "seconds"
 * and "mib_s" (first byte written to the last one read) and "cpu_ms" (this
 * process's user + system time over the same span).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fb/identity.h"
#include "fb/log.h"
#include "net/tcp.h"
#include "net/tls.h"
#include "relay/relay.h"

#define EMAIL_A     "a@bench.example"
#define EMAIL_B     "b@bench.example"
#define EMAIL_RELAY "relay@bench.example"
#define CHUNK       (256 * 1024)  /* plaintext handed over at once */
#define SEND_QUEUE  (1024 * 1024) /* TLS records queued for the socket before we wait */
#define TIMEOUT_S   300

struct bench;

/* One end of the TLS session: a bufferevent on its socket and a GnuTLS session over its buffers. */
struct end {
	struct bench *b;
	bool server;
	bool up; /* handshake done and the peer's certificate checked */
	struct bufferevent *bev;
	struct tls_session *tls;
	struct evbuffer *plain;
};

struct bench {
	struct event_base *base;
	uint64_t total;                       /* bytes to move */
	uint64_t sent, got;                   /* plaintext written by A, read by B */
	char want_fp[CM_FINGERPRINT_LEN + 1]; /* B's, which A pins */
	double t0, t_first, t_last;
	double cpu_first, cpu_last;
	int rc;
	struct end a, b_end;
};

static char payload[CHUNK];

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double
cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

static void
fail(struct bench *b, const char *what)
{
	fprintf(stderr, "relay-bench: %s\n", what);
	b->rc = 1;
	event_base_loopbreak(b->base);
}

static void
start_clock(struct bench *b)
{
	b->t_first = now_s();
	b->cpu_first = cpu_s();
}

static void
stop_clock(struct bench *b)
{
	b->t_last = now_s();
	b->cpu_last = cpu_s();
	event_base_loopbreak(b->base);
}

static int
print_result(const struct bench *b)
{
	double secs = b->t_last - b->t_first;

	if (b->rc != 0 || b->got < b->total)
		return 1;
	printf("setup_ms %.1f\nseconds %.3f\nmib_s %.1f\ncpu_ms %.0f\nbytes %llu\n",
	       (b->t_first - b->t0) * 1e3, secs, (double)b->total / (1 << 20) / secs,
	       (b->cpu_last - b->cpu_first) * 1e3, (unsigned long long)b->got);
	return 0;
}

/* ---- the TLS ends (direct and fds) ---- */

/* A: tops the socket's queue up with records of the payload. */
static void
end_fill(struct end *e)
{
	struct bench *b = e->b;
	struct evbuffer *out = bufferevent_get_output(e->bev);

	while (b->sent < b->total && evbuffer_get_length(out) < SEND_QUEUE) {
		uint64_t left = b->total - b->sent;
		ssize_t n = tls_session_send(e->tls, payload, left < CHUNK ? (size_t)left : CHUNK);

		if (n < 0) {
			fail(b, "TLS send failed");
			return;
		}
		if (n == 0)
			return;
		b->sent += (uint64_t)n;
	}
}

/* The handshake is done: the peer must be who we expect. */
static int
end_check_peer(struct end *e)
{
	struct cm_err err;
	struct cm_cert *c = tls_session_peer_cert(e->tls, &err);
	int ok;

	if (c == NULL)
		return -1;
	if (e->server)
		ok = cm_cert_email(c) != NULL && strcmp(cm_cert_email(c), EMAIL_A) == 0;
	else
		ok = strcmp(cm_cert_fingerprint(c), e->b->want_fp) == 0;
	cm_cert_free(c);
	return ok ? 0 : -1;
}

static void
end_read(struct bufferevent *bev, void *arg)
{
	struct end *e = arg;
	struct bench *b = e->b;
	struct cm_err err;

	(void)bev;
	if (!e->up) {
		int rc = tls_session_handshake(e->tls, &err);

		if (rc < 0) {
			fail(b, err.msg);
			return;
		}
		if (rc == 0)
			return;
		if (end_check_peer(e) != 0) {
			fail(b, "the peer's certificate is not the one expected");
			return;
		}
		e->up = true;
		if (!e->server) {
			start_clock(b);
			end_fill(e);
		}
	}
	/* A reads too: TLS 1.3 session tickets arrive after the handshake. */
	if (tls_session_recv_all(e->tls, e->plain) != 0 && (!e->server || b->got < b->total)) {
		fail(b, "the TLS stream ended early");
		return;
	}
	if (e->server)
		b->got += evbuffer_get_length(e->plain);
	evbuffer_drain(e->plain, evbuffer_get_length(e->plain));
	if (e->server && b->got >= b->total)
		stop_clock(b);
}

static void
end_write(struct bufferevent *bev, void *arg)
{
	struct end *e = arg;

	(void)bev;
	if (!e->server && e->up)
		end_fill(e);
}

static void
end_event(struct bufferevent *bev, short what, void *arg)
{
	struct end *e = arg;

	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		fail(e->b, e->server ? "B's connection closed" : "A's connection closed");
}

static int
end_open(struct end *e, struct bench *b, bool server, int fd, const struct tls_creds *creds)
{
	e->b = b;
	e->server = server;
	tcp_nodelay(fd);
	if (evutil_make_socket_nonblocking(fd) != 0 ||
	    (e->bev = bufferevent_socket_new(b->base, fd, BEV_OPT_CLOSE_ON_FREE)) == NULL ||
	    (e->plain = evbuffer_new()) == NULL ||
	    (e->tls = tls_session_new(creds, server, bufferevent_get_input(e->bev),
	                              bufferevent_get_output(e->bev), NULL, NULL)) == NULL)
		return -1;
	/* A tops its queue up when half of it has gone. */
	bufferevent_setwatermark(e->bev, EV_WRITE, SEND_QUEUE / 2, 0);
	bufferevent_setcb(e->bev, end_read, end_write, end_event, e);
	return bufferevent_enable(e->bev, EV_READ | EV_WRITE);
}

static void
end_close(struct end *e)
{
	tls_session_free(e->tls);
	if (e->bev != NULL)
		bufferevent_free(e->bev);
	if (e->plain != NULL)
		evbuffer_free(e->plain);
}

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	fail(arg, "timed out");
}

/* A (client, fd_a) sends total bytes to B (server, fd_b) over TLS with DIR's certificates. */
static int
tls_pair(const char *dir, int fd_a, int fd_b, uint64_t total)
{
	char crt_a[512], key_a[512], crt_b[512], key_b[512];
	struct bench b = {.total = total, .t0 = now_s()};
	struct tls_creds *ca = NULL, *cb = NULL;
	struct cm_identity *idb = NULL;
	struct event *timer = NULL;
	struct timeval tv = {TIMEOUT_S, 0};
	struct cm_err err;
	int rc = 1;

	snprintf(crt_a, sizeof(crt_a), "%s/a.crt", dir);
	snprintf(key_a, sizeof(key_a), "%s/a.key", dir);
	snprintf(crt_b, sizeof(crt_b), "%s/b.crt", dir);
	snprintf(key_b, sizeof(key_b), "%s/b.key", dir);
	if ((idb = cm_identity_load(key_b, crt_b, &err)) == NULL) {
		fprintf(stderr, "relay-bench: %s\n", err.msg);
		goto done;
	}
	snprintf(b.want_fp, sizeof(b.want_fp), "%s", cm_cert_fingerprint(cm_identity_cert(idb)));
	if ((b.base = event_base_new()) == NULL || (ca = tls_creds_new(crt_a, key_a)) == NULL ||
	    (cb = tls_creds_new(crt_b, key_b)) == NULL ||
	    end_open(&b.a, &b, false, fd_a, ca) != 0 ||
	    end_open(&b.b_end, &b, true, fd_b, cb) != 0 ||
	    (timer = evtimer_new(b.base, on_timeout, &b)) == NULL || evtimer_add(timer, &tv) != 0) {
		fprintf(stderr, "relay-bench: cannot set up the TLS ends\n");
		goto done;
	}
	/* The ClientHello. */
	if (tls_session_handshake(b.a.tls, &err) < 0) {
		fprintf(stderr, "relay-bench: %s\n", err.msg);
		goto done;
	}
	event_base_dispatch(b.base);
	rc = print_result(&b);
done:
	if (timer != NULL)
		event_free(timer);
	end_close(&b.a);
	end_close(&b.b_end);
	tls_creds_free(ca);
	tls_creds_free(cb);
	cm_identity_free(idb);
	if (b.base != NULL)
		event_base_free(b.base);
	return rc;
}

/* ---- certificates ---- */

/* DIR/NAME.crt and DIR/NAME.key for email; its fingerprint into fp when non-NULL. */
static int
write_identity(const char *dir, const char *name, const char *email,
               char fp[CM_FINGERPRINT_LEN + 1])
{
	char crt[512], key[512];
	struct cm_err err;
	struct cm_identity *id = cm_identity_generate(email, 30, &err);
	int rc = -1;

	snprintf(crt, sizeof(crt), "%s/%s.crt", dir, name);
	snprintf(key, sizeof(key), "%s/%s.key", dir, name);
	if (id != NULL && cm_identity_save(id, key, crt, &err) == 0) {
		if (fp != NULL)
			snprintf(fp, CM_FINGERPRINT_LEN + 1, "%s",
			         cm_cert_fingerprint(cm_identity_cert(id)));
		rc = 0;
	} else {
		fprintf(stderr, "relay-bench: %s: %s\n", email, err.msg);
	}
	cm_identity_free(id);
	return rc;
}

static void
remove_identity(const char *dir, const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s.crt", dir, name);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s.key", dir, name);
	unlink(path);
}

static int
write_certs(const char *dir, char fp_b[CM_FINGERPRINT_LEN + 1])
{
	return write_identity(dir, "a", EMAIL_A, NULL) == 0 &&
	               write_identity(dir, "b", EMAIL_B, fp_b) == 0
	           ? 0
	           : -1;
}

/* Removes what write_certs wrote, and the folder. */
static void
remove_certs(const char *dir)
{
	remove_identity(dir, "a");
	remove_identity(dir, "b");
	rmdir(dir);
}

/* ---- through our relay (serve, pair) ---- */

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	event_base_loopbreak(arg);
}

/* Circuits to the relay's own identity or to A are not part of the bench: closed. */
static void
refuse_inbound(void *ctx, int fd, const struct rl_peer *peer)
{
	(void)ctx;
	(void)peer;
	close(fd);
}

static int
mode_serve(void)
{
	char dir[] = "/tmp/relay-bench-XXXXXX", crt[512], key[512], fp[CM_FINGERPRINT_LEN + 1];
	struct rl_hooks hooks = {.on_inbound = refuse_inbound};
	struct event_base *base = NULL;
	struct event *sigterm = NULL, *sigint = NULL;
	struct rl_ctx *rl = NULL;
	struct tls_creds *creds = NULL;
	struct rl_config cfg;
	int rc = 1;

	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(crt, sizeof(crt), "%s/relay.crt", dir);
	snprintf(key, sizeof(key), "%s/relay.key", dir);
	if (write_identity(dir, "relay", EMAIL_RELAY, fp) != 0 ||
	    (creds = tls_creds_new(crt, key)) == NULL)
		goto done;
	rl_config_default(&cfg);
	cfg.creds = creds;
	/* The relay's own caps would measure themselves, not the relay. */
	cfg.circuit_rate = 0;
	cfg.max_rate = 0;
	cfg.max_circuit_bytes = UINT64_MAX;
	if ((base = event_base_new()) == NULL || (rl = rl_new(base, &cfg, &hooks, NULL)) == NULL ||
	    rl_listen(rl, "127.0.0.1", 0) != 0 ||
	    (sigterm = evsignal_new(base, SIGTERM, on_signal, base)) == NULL ||
	    (sigint = evsignal_new(base, SIGINT, on_signal, base)) == NULL ||
	    event_add(sigterm, NULL) != 0 || event_add(sigint, NULL) != 0)
		goto done;
	printf("port %d\nfingerprint %s\n", rl_listen_port(rl), fp);
	fflush(stdout);
	event_base_dispatch(base);
	rc = 0;
done:
	if (sigterm != NULL)
		event_free(sigterm);
	if (sigint != NULL)
		event_free(sigint);
	rl_free(rl);
	tls_creds_free(creds);
	if (base != NULL)
		event_base_free(base);
	remove_identity(dir, "relay");
	rmdir(dir);
	return rc;
}

struct pair {
	struct bench b;
	struct rl_ctx *ra, *rb;
	struct tls_creds *creds_a, *creds_b;
	struct rl_target relay;
	char fp_b[CM_FINGERPRINT_LEN + 1];
	bool asked;
	int fd_a, fd_b;
	struct event *ev_a, *ev_b;
};

static char sink[CHUNK];

/* A: writes the payload into its end of the circuit as fast as it takes it. */
static void
a_write(evutil_socket_t fd, short what, void *arg)
{
	struct pair *p = arg;

	(void)what;
	while (p->b.sent < p->b.total) {
		uint64_t left = p->b.total - p->b.sent;
		ssize_t n = write(fd, payload, left < CHUNK ? (size_t)left : CHUNK);

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				fail(&p->b, "A: the circuit broke");
			return;
		}
		p->b.sent += (uint64_t)n;
	}
	/* All handed over; the end stays open until B has it all. */
	event_del(p->ev_a);
}

static void
b_read(evutil_socket_t fd, short what, void *arg)
{
	struct pair *p = arg;

	(void)what;
	for (;;) {
		ssize_t n = read(fd, sink, sizeof(sink));

		if (n > 0) {
			p->b.got += (uint64_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (p->b.got < p->b.total)
			fail(&p->b, "B: the circuit ended early");
		event_del(p->ev_b);
		return;
	}
	if (p->b.got >= p->b.total)
		stop_clock(&p->b);
}

static void
a_connected(void *arg, int fd, const struct rl_peer *peer, const struct cm_err *err)
{
	struct pair *p = arg;

	if (fd < 0) {
		fail(&p->b, err->msg);
		return;
	}
	p->fd_a = fd;
	if (strcmp(peer->fingerprint, p->fp_b) != 0) {
		fail(&p->b, "A: the far end is not B");
		return;
	}
	if (evutil_make_socket_nonblocking(fd) != 0 ||
	    (p->ev_a = event_new(p->b.base, fd, EV_WRITE | EV_PERSIST, a_write, p)) == NULL ||
	    event_add(p->ev_a, NULL) != 0) {
		fail(&p->b, "A: cannot watch its end");
		return;
	}
	start_clock(&p->b);
}

static void
b_inbound(void *ctx, int fd, const struct rl_peer *peer)
{
	struct pair *p = ctx;

	if (p->fd_b >= 0 || strcmp(peer->email, EMAIL_A) != 0) {
		close(fd);
		return;
	}
	p->fd_b = fd;
	if (evutil_make_socket_nonblocking(fd) != 0 ||
	    (p->ev_b = event_new(p->b.base, fd, EV_READ | EV_PERSIST, b_read, p)) == NULL ||
	    event_add(p->ev_b, NULL) != 0)
		fail(&p->b, "B: cannot watch its end");
}

/* B's reservation is granted: A asks for the circuit. */
static void
b_reservations(void *ctx)
{
	struct pair *p = ctx;
	bool pending;

	if (p->asked || !rl_reserved(p->rb, EMAIL_RELAY, &pending))
		return;
	p->asked = true;
	if (rl_connect(p->ra, &p->relay, EMAIL_B, p->fp_b, CM_RELAY_TORRENT, a_connected, p) == 0)
		fail(&p->b, "A: rl_connect did not start");
}

/* One end, with its credentials into *creds (the caller frees them after the end). */
static struct rl_ctx *
pair_ctx(struct pair *p, const char *dir, const char *name, const struct rl_hooks *hooks,
	 struct tls_creds **creds)
{
	char crt[512], key[512];
	struct rl_config cfg;

	snprintf(crt, sizeof(crt), "%s/%s.crt", dir, name);
	snprintf(key, sizeof(key), "%s/%s.key", dir, name);
	if ((*creds = tls_creds_new(crt, key)) == NULL)
		return NULL;
	rl_config_default(&cfg);
	cfg.creds = *creds;
	return rl_new(p->b.base, &cfg, hooks, p);
}

static int
mode_pair(int port, const char *relay_fp, uint64_t total)
{
	char dir[] = "/tmp/relay-bench-XXXXXX";
	struct pair p = {.b = {.total = total, .t0 = now_s()}, .fd_a = -1, .fd_b = -1};
	struct rl_hooks hooks_a = {.on_inbound = refuse_inbound};
	struct rl_hooks hooks_b = {.on_inbound = b_inbound, .reservations_changed = b_reservations};
	struct event *timer = NULL;
	struct timeval tv = {TIMEOUT_S, 0};
	int rc = 1;

	p.relay = (struct rl_target){EMAIL_RELAY, "127.0.0.1", port, relay_fp};
	if (mkdtemp(dir) == NULL)
		return 1;
	if (write_certs(dir, p.fp_b) != 0 || (p.b.base = event_base_new()) == NULL ||
	    (p.ra = pair_ctx(&p, dir, "a", &hooks_a, &p.creds_a)) == NULL ||
	    (p.rb = pair_ctx(&p, dir, "b", &hooks_b, &p.creds_b)) == NULL ||
	    (timer = evtimer_new(p.b.base, on_timeout, &p.b)) == NULL ||
	    evtimer_add(timer, &tv) != 0 || rl_reserve(p.rb, &p.relay) != 0) {
		fprintf(stderr, "relay-bench: cannot set up the two ends\n");
		goto done;
	}
	event_base_dispatch(p.b.base);
	rc = print_result(&p.b);
done:
	if (timer != NULL)
		event_free(timer);
	if (p.ev_a != NULL)
		event_free(p.ev_a);
	if (p.ev_b != NULL)
		event_free(p.ev_b);
	if (p.fd_a >= 0)
		close(p.fd_a);
	if (p.fd_b >= 0)
		close(p.fd_b);
	rl_free(p.ra);
	rl_free(p.rb);
	tls_creds_free(p.creds_a);
	tls_creds_free(p.creds_b);
	if (p.b.base != NULL)
		event_base_free(p.b.base);
	remove_certs(dir);
	return rc;
}

/* ---- modes ---- */

/* Two ends of one TCP connection on loopback. */
static int
tcp_pair(int *fd_a, int *fd_b)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int l = socket(AF_INET, SOCK_STREAM, 0), rc = -1;

	*fd_a = *fd_b = -1;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(l, 1) != 0 ||
	    getsockname(l, (struct sockaddr *)&sa, &len) != 0)
		goto done;
	/* Blocking: on loopback the connection completes from the backlog. */
	if ((*fd_a = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    connect(*fd_a, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    (*fd_b = accept(l, NULL, NULL)) < 0)
		goto done;
	rc = 0;
done:
	if (l >= 0)
		close(l);
	return rc;
}

static int
mode_direct(uint64_t total)
{
	char dir[] = "/tmp/relay-bench-XXXXXX";
	int fd_a, fd_b, rc = 1;

	if (mkdtemp(dir) == NULL)
		return 1;
	if (write_certs(dir, NULL) == 0 && tcp_pair(&fd_a, &fd_b) == 0)
		rc = tls_pair(dir, fd_a, fd_b, total);
	remove_certs(dir);
	return rc;
}

static int
parse_mib(const char *s, uint64_t *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v == 0 || v > (1UL << 20))
		return -1;
	*out = (uint64_t)v << 20;
	return 0;
}

static int
parse_uint(const char *s, int *out)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < 0 || v > 1 << 20)
		return -1;
	*out = (int)v;
	return 0;
}

static int
usage(void)
{
	fprintf(stderr, "usage: relay-bench serve\n"
	                "       relay-bench pair PORT FINGERPRINT N_MIB\n"
	                "       relay-bench certs DIR\n"
	                "       relay-bench direct N_MIB\n"
	                "       relay-bench fds DIR FD_A FD_B N_MIB\n");
	return 2;
}

int
main(int argc, char **argv)
{
	uint64_t total;
	int fd_a, fd_b, port;

	log_init(NULL);
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (char)(i * 2654435761u >> 24);
	if (argc == 2 && strcmp(argv[1], "serve") == 0)
		return mode_serve();
	if (argc == 5 && strcmp(argv[1], "pair") == 0 && parse_uint(argv[2], &port) == 0 &&
	    port > 0 && port < 65536 && strlen(argv[3]) == CM_FINGERPRINT_LEN &&
	    parse_mib(argv[4], &total) == 0)
		return mode_pair(port, argv[3], total);
	if (argc == 3 && strcmp(argv[1], "certs") == 0)
		return write_certs(argv[2], NULL) == 0 ? 0 : 1;
	if (argc == 3 && strcmp(argv[1], "direct") == 0 && parse_mib(argv[2], &total) == 0)
		return mode_direct(total);
	if (argc == 6 && strcmp(argv[1], "fds") == 0 && parse_uint(argv[3], &fd_a) == 0 &&
	    parse_uint(argv[4], &fd_b) == 0 && parse_mib(argv[5], &total) == 0)
		return tls_pair(argv[2], fd_a, fd_b, total);
	return usage();
}
