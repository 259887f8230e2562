/*
 * client.c - our circuits through relays, dialled (rl_connect) or accepted
 * (an invitation reserve.c took): each is one connection to the relay, outer
 * TLS for the lines, then, after joined, bare TCP carrying an inner TLS 1.3
 * session with the far end, whose plaintext the consumer reads and writes on
 * a socketpair.
 */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fb/log.h"
#include "fb/timeutil.h"
#include "net/tls.h"
#include "relay/relay_internal.h"

#define SP_CHUNK 16384

enum circ_state { CS_WAIT_JOINED, CS_INNER, CS_UP };

struct cl_circ {
	struct rl_ctx *rl;
	struct cl_circ *prev, *next;
	uint64_t handle;
	bool inbound;
	enum circ_state state;
	struct rl_relay_addr relay;
	char far_email[CM_MAX_EMAIL + 1];
	char far_fp[CM_FINGERPRINT_LEN + 1]; /* dialer: the pin */
	char circuit[CM_RELAY_CIRCUIT_LEN + 1];
	enum cm_relay_service service;
	struct rl_link *link;
	struct tls_session *inner; /* over the link's bufferevent, once bare */
	struct bufferevent *sp;    /* our end of the socketpair */
	struct rl_reader *sp_reader;
	struct event *timer;
	rl_connected_fn done;
	void *arg;
	uint64_t bytes;
	int64_t since_wall_ms;
};

/* Circuits */

static void
circ_unlink_free(struct cl_circ *c)
{
	struct rl_ctx *rl = c->rl;

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		rl->ours = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	tls_session_free(c->inner);
	rl_link_close(c->link);
	rl_reader_free(c->sp_reader);
	rl_bev_close_flushed(rl, c->sp);
	if (c->timer != NULL)
		event_free(c->timer);
	free(c);
}

/* Ends the circuit; one still being opened reports why (unless cancelled). */
static void
circ_end(struct cl_circ *c, const char *why)
{
	struct rl_ctx *rl = c->rl;

	if (c->state != CS_UP) {
		struct cm_err err;

		rl->stats.circuit_failures++;
		log_info("relay: circuit %s %s through %s failed: %s", c->inbound ? "from" : "to",
		         c->far_email, c->relay.email, why);
		if (c->done != NULL) {
			rl_connected_fn done = c->done;

			c->done = NULL;
			cm_err_set(&err, "%s", why);
			done(c->arg, -1, NULL, &err);
		}
	} else {
		log_info("relay: circuit %s %s through %s closed after %llu bytes: %s",
		         c->inbound ? "from" : "to", c->far_email, c->relay.email,
		         (unsigned long long)c->bytes, why);
		if (c->inner != NULL && c->link != NULL)
			tls_session_bye(c->inner);
	}
	circ_unlink_free(c);
}

static void
sp_read_cb(struct bufferevent *bev, void *arg)
{
	struct cl_circ *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char buf[SP_CHUNK];

	while (evbuffer_get_length(in) > 0) {
		int n;

		if (rl_link_unsent(c->link) >= RL_BUFFER_CAP) {
			/* The relay does not take more now: the rest waits in the socket. */
			rl_reader_on(c->sp_reader, false);
			return;
		}
		n = evbuffer_remove(in, buf, sizeof(buf));
		if (n <= 0)
			break;
		if (tls_session_send_all(c->inner, buf, (size_t)n) != 0) {
			circ_end(c, "send failed");
			return;
		}
		c->bytes += (uint64_t)n;
		c->rl->stats.bytes_carried += (uint64_t)n;
	}
}

static void
sp_read(void *arg, ssize_t n)
{
	struct cl_circ *c = arg;

	if (n > 0)
		sp_read_cb(c->sp, c);
	else
		circ_end(c, n == 0 ? "closed by us" : "socketpair lost");
}

static void
sp_write_cb(struct bufferevent *bev, void *arg)
{
	struct cl_circ *c = arg;

	(void)bev;
	rl_link_reading(c->link, true);
}

static void
sp_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what;
	circ_end(arg, "socketpair lost");
}

/* The inner session is up: the far end is who it must be; the consumer gets its socket. */
static void
circ_up(struct cl_circ *c)
{
	struct rl_ctx *rl = c->rl;
	struct cm_err err;
	struct cm_cert *cert = tls_session_peer_cert(c->inner, &err);
	struct rl_peer peer;
	char fp[CM_FINGERPRINT_LEN + 1], email[CM_MAX_EMAIL + 1];
	char *pem = NULL;
	struct timeval now = {0, 0};
	int sv[2];

	if (cert == NULL) {
		circ_end(c, err.msg);
		return;
	}
	snprintf(fp, sizeof(fp), "%s", cm_cert_fingerprint(cert));
	snprintf(email, sizeof(email), "%s", cm_cert_email(cert));
	pem = strdup(cm_cert_pem(cert));
	cm_cert_free(cert);
	if (pem == NULL) {
		circ_end(c, "out of memory");
		return;
	}
	if (!c->inbound && strcmp(fp, c->far_fp) != 0) {
		free(pem);
		circ_end(c, "the far end's certificate is not the pinned one");
		return;
	}
	if (c->inbound && strcmp(email, c->far_email) != 0) {
		free(pem);
		circ_end(c, "the far end's certificate is not the inviter's");
		return;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
		free(pem);
		circ_end(c, "no socketpair");
		return;
	}
	if ((c->sp = bufferevent_socket_new(rl->base, sv[0], BEV_OPT_CLOSE_ON_FREE)) == NULL ||
	    (c->sp_reader = rl_reader_new(rl->base, c->sp, sp_read, c)) == NULL) {
		if (c->sp == NULL)
			close(sv[0]);
		close(sv[1]);
		free(pem);
		circ_end(c, "no socketpair");
		return;
	}
	snprintf(c->far_fp, sizeof(c->far_fp), "%s", fp);
	bufferevent_setcb(c->sp, NULL, sp_write_cb, sp_event_cb, c);
	bufferevent_setwatermark(c->sp, EV_WRITE, RL_BUFFER_CAP / 2, 0);
	bufferevent_enable(c->sp, EV_WRITE);
	c->state = CS_UP;
	c->since_wall_ms = cm_time_wall_ms();
	/*
	 * Records that came with the handshake's last ones are decrypted on the
	 * loop, after the consumer has its socket: nothing else would wake them.
	 */
	evtimer_del(c->timer);
	evtimer_add(c->timer, &now);
	peer = (struct rl_peer){email, fp, pem, c->relay.email, c->service};
	log_info("relay: circuit %s %s through %s (%s) opened", c->inbound ? "from" : "to", email,
	         c->relay.email, cm_relay_service_name(c->service));
	if (c->inbound) {
		rl->stats.circuits_accepted++;
		if (rl->hooks.on_inbound != NULL)
			rl->hooks.on_inbound(rl->hctx, sv[1], &peer);
		else
			close(sv[1]);
	} else {
		rl_connected_fn done = c->done;

		rl->stats.circuits_dialed++;
		c->done = NULL;
		done(c->arg, sv[1], &peer, NULL);
	}
	free(pem);
}

static void
circ_inner(struct cl_circ *c)
{
	struct cm_err err;
	struct evbuffer *out;
	size_t before;

	if (c->state == CS_INNER) {
		int rc = tls_session_handshake(c->inner, &err);

		if (rc < 0) {
			circ_end(c, err.msg);
			return;
		}
		if (rc == 0)
			return;
		/* circ_up may free c (a failed check) or hand it to the consumer. */
		circ_up(c);
		return;
	}
	out = bufferevent_get_output(c->sp);
	before = evbuffer_get_length(out);
	if (tls_session_recv_all(c->inner, out) != 0) {
		circ_end(c, "the far end closed");
		return;
	}
	c->bytes += evbuffer_get_length(out) - before;
	c->rl->stats.bytes_carried += evbuffer_get_length(out) - before;
	if (evbuffer_get_length(out) >= RL_BUFFER_CAP)
		rl_link_reading(c->link, false);
}

static void
circ_ready(void *owner, struct rl_link *l)
{
	struct cl_circ *c = owner;
	struct cm_relay_msg m = {0};

	if (c->inbound) {
		m.op = CM_RELAY_JOIN;
		m.circuit = c->circuit;
	} else {
		m.op = CM_RELAY_CONNECT;
		m.to = c->far_email;
		m.service = (char *)cm_relay_service_name(c->service);
	}
	if (rl_link_send(l, &m) != 0)
		circ_end(c, "send failed");
}

static void
circ_line(void *owner, struct rl_link *l, const struct cm_relay_msg *m)
{
	struct cl_circ *c = owner;

	if (m->op == CM_RELAY_ERROR) {
		char why[CM_MAX_RELAY_CODE + CM_MAX_RELAY_REASON + 16];

		snprintf(why, sizeof(why), "relay refused: %s%s%s", m->code,
		         m->reason != NULL ? ": " : "", m->reason != NULL ? m->reason : "");
		circ_end(c, why);
		return;
	}
	if (m->op != CM_RELAY_JOINED || c->state != CS_WAIT_JOINED) {
		circ_end(c, "unexpected line from the relay");
		return;
	}
	/*
	 * joined was the relay's last TLS record: the inner TLS runs on the bare
	 * stream, TLS 1.3 only: the certificates, hence the emails, travel
	 * encrypted past the relay.
	 */
	if (rl_link_go_bare(l) != 0 ||
	    (c->inner = tls_session_new(c->rl->creds, c->inbound, bufferevent_get_input(l->bev),
	                                bufferevent_get_output(l->bev), NULL, NULL)) == NULL ||
	    tls_session_require_tls13(c->inner) != 0) {
		circ_end(c, "out of memory");
		return;
	}
	c->state = CS_INNER;
	/* The dialer's ClientHello goes now; the reserved end waits for it. */
	if (!c->inbound)
		circ_inner(c);
}

static void
circ_bad_line(void *owner, struct rl_link *l, const char *why)
{
	(void)l;
	circ_end(owner, why);
}

static void
circ_data(void *owner, struct rl_link *l)
{
	struct cl_circ *c = owner;

	(void)l;
	circ_inner(c);
}

static void
circ_writable(void *owner, struct rl_link *l)
{
	struct cl_circ *c = owner;

	(void)l;
	if (c->sp != NULL) {
		rl_reader_on(c->sp_reader, true);
		sp_read_cb(c->sp, c);
	}
}

static void
circ_closed(void *owner, struct rl_link *l, const char *why)
{
	struct cl_circ *c = owner;

	(void)l;
	c->link = NULL;
	circ_end(c, why);
}

static const struct rl_link_ops circ_ops = {
    .ready = circ_ready,
    .line = circ_line,
    .bad_line = circ_bad_line,
    .data = circ_data,
    .writable = circ_writable,
    .closed = circ_closed,
};

static void
circ_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cl_circ *c = arg;

	(void)fd;
	(void)what;
	if (c->state == CS_UP)
		circ_inner(c);
	else
		circ_end(c, "timed out");
}

static struct cl_circ *
circ_new(struct rl_ctx *rl, const struct rl_relay_addr *relay, bool inbound, int64_t deadline_ms)
{
	struct cl_circ *c = calloc(1, sizeof(*c));
	struct timeval tv = rl_tv_ms(deadline_ms);

	if (c == NULL)
		return NULL;
	c->rl = rl;
	c->relay = *relay;
	c->inbound = inbound;
	c->handle = ++rl->next_handle;
	c->since_wall_ms = cm_time_wall_ms();
	if ((c->timer = evtimer_new(rl->base, circ_timer_cb, c)) == NULL) {
		free(c);
		return NULL;
	}
	c->next = rl->ours;
	if (rl->ours != NULL)
		rl->ours->prev = c;
	rl->ours = c;
	evtimer_add(c->timer, &tv);
	return c;
}

uint64_t
rl_connect(struct rl_ctx *rl, const struct rl_target *relay, const char *target_email,
           const char *target_fp, enum cm_relay_service service, rl_connected_fn done, void *arg)
{
	struct rl_relay_addr a;
	struct cl_circ *c;

	rl_relay_addr_set(&a, relay);
	if ((c = circ_new(rl, &a, false,
	                  rl->cfg.handshake_timeout_ms * 2 + rl->cfg.join_timeout_ms)) == NULL)
		return 0;
	snprintf(c->far_email, sizeof(c->far_email), "%s", target_email);
	snprintf(c->far_fp, sizeof(c->far_fp), "%s", target_fp);
	c->service = service;
	if ((c->link = rl_link_dial(rl, a.ip, a.port, a.fp, &circ_ops, c)) == NULL) {
		circ_unlink_free(c);
		return 0;
	}
	c->done = done;
	c->arg = arg;
	return c->handle;
}

void
rl_cancel(struct rl_ctx *rl, uint64_t handle)
{
	for (struct cl_circ *c = rl->ours; c != NULL; c = c->next) {
		if (c->handle == handle && !c->inbound && c->state != CS_UP) {
			c->done = NULL;
			circ_end(c, "cancelled");
			return;
		}
	}
}

int
rl_circ_accept(struct rl_ctx *rl, const struct rl_relay_addr *relay, const char *from,
               const char *circuit, enum cm_relay_service service)
{
	struct cl_circ *c = circ_new(rl, relay, true, rl->cfg.handshake_timeout_ms * 2);

	if (c == NULL)
		return -1;
	snprintf(c->far_email, sizeof(c->far_email), "%s", from);
	snprintf(c->circuit, sizeof(c->circuit), "%s", circuit);
	c->service = service;
	if ((c->link = rl_link_dial(rl, relay->ip, relay->port, relay->fp, &circ_ops, c)) == NULL) {
		rl->stats.circuit_failures++;
		circ_unlink_free(c);
		return -1;
	}
	return 0;
}

void
rl_circuits_stop(struct rl_ctx *rl)
{
	while (rl->ours != NULL) {
		rl->ours->done = NULL;
		circ_end(rl->ours, "shutting down");
	}
}

size_t
rl_circuits_list(const struct rl_ctx *rl, struct rl_entry *out, size_t max)
{
	size_t n = 0;

	for (const struct cl_circ *c = rl->ours; c != NULL && n < max; c = c->next) {
		memset(&out[n], 0, sizeof(out[n]));
		out[n].kind = RL_CIRCUIT;
		snprintf(out[n].peer, sizeof(out[n].peer), "%s", c->far_email);
		snprintf(out[n].relay, sizeof(out[n].relay), "%s", c->relay.email);
		out[n].service = c->service;
		out[n].inbound = c->inbound;
		out[n].pending = c->state != CS_UP;
		out[n].since_ms = c->since_wall_ms;
		out[n].bytes = c->bytes;
		n++;
	}
	return n;
}

void
rl_circuits_counts(const struct rl_ctx *rl, struct rl_stats *st)
{
	st->circuits_ours = 0;
	for (const struct cl_circ *c = rl->ours; c != NULL; c = c->next)
		st->circuits_ours++;
}
