/*
 * agent.c - the peer-agent daemon: the engine, the peer table, the transport,
 * the bootstrap client, the control API and the store on one libevent loop.
 *
 * Everything here is glue and policy around I/O: which peers to dial, when to
 * talk to the bootstrap servers, what the control API answers. The gossip
 * rules themselves live in the engine.
 */
#include "daemon/agent.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <gnutls/crypto.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "daemon/bootclient.h"
#include "core/bootreg.h"
#include "core/engine.h"
#include "fb/codec.h"
#include "fb/identity.h"
#include "fb/log.h"
#include "fb/timeutil.h"
#include "fb/validate.h"
#include "core/overlay.h"
#include "core/peertable.h"
#include "daemon/store.h"
#include "net/transport.h"

#define DIAL_INTERVAL_MS 1000
#define SAVE_INTERVAL_MS 60000
#define DISCOVER_WAIT_MS 1500  /* gossip answers to a discovery request */
#define DISCOVER_ASK 3         /* neighbours asked */
#define STOP_GRACE_MS 3000     /* leave, unregister and flush before exit */
#define FEEDBACK_EVERY_MS (5 * 60 * 1000)

struct link {
	uint64_t id;
	struct tp_session *s;
	char *email; /* outbound: whom we dialled; inbound: NULL until the hello */
	bool outbound;
	bool opened;
	int64_t last_feedback_ms;
};

struct op;

struct pa_agent {
	const struct pa_config *cfg;
	struct event_base *base;
	struct cm_identity *id;
	struct peertable *table;
	struct engine *engine;
	struct tp_ctx *tp;
	struct bc_client *bc;
	struct evhttp *http;
	char *token;
	char *peers_path;
	uint64_t rng_state;
	struct engine_rng rng;
	char peer_id[CM_UUID_TEXT_LEN + 1];
	bool broadcasting;
	struct cm_repolist repos;
	struct cm_strlist advertise;

	struct bootreg reg;
	char bs_url[512];
	bool bs_busy;
	struct overlay_backoff peers_fetch;
	bool peers_fetch_busy;

	struct link *links;
	size_t nlinks, caplinks;
	struct overlay *overlay;
	struct op *ops;

	struct event *tick_ev, *dial_ev, *bs_ev, *save_ev, *ping_ev, *stop_ev;
	struct event *sig_term, *sig_int;
	bool stopping;
	int64_t stop_started_ms;
};

static void run_actions(struct pa_agent *a);

/* What the engine asked for, performed by run_actions (one agent per process). */
static struct engine_actions pending_acts;

static int64_t
now_ms(void)
{
	return cm_time_wall_ms();
}

static uint64_t
rng_next(void *ctx)
{
	uint64_t *s = ctx;

	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static void
arm(struct event *ev, int64_t ms)
{
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};

	evtimer_add(ev, &tv);
}

static int64_t
jitter(struct pa_agent *a, int64_t ms)
{
	return overlay_jitter_ms(ms, &a->rng);
}

/* Our record */

static void
advertise_auto(struct cm_strlist *out)
{
	struct ifaddrs *ifs, *i;

	if (getifaddrs(&ifs) != 0)
		return;
	for (i = ifs; i != NULL && out->len < CM_MAX_SOCKET_ADDRESSES; i = i->ifa_next) {
		char buf[INET6_ADDRSTRLEN];
		const void *addr;

		const unsigned char *b;

		if (i->ifa_addr == NULL || (i->ifa_flags & IFF_LOOPBACK) || !(i->ifa_flags & IFF_UP))
			continue;
		if (i->ifa_addr->sa_family == AF_INET)
			addr = &((struct sockaddr_in *)i->ifa_addr)->sin_addr;
		else if (i->ifa_addr->sa_family == AF_INET6)
			addr = &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
		else
			continue;
		b = addr;
		/* Link-local addresses (169.254/16, fe80::/10) reach no peer beyond the link. */
		if ((i->ifa_addr->sa_family == AF_INET && b[0] == 169 && b[1] == 254) ||
		    (i->ifa_addr->sa_family == AF_INET6 && b[0] == 0xfe && (b[1] & 0xc0) == 0x80))
			continue;
		if (inet_ntop(i->ifa_addr->sa_family, addr, buf, sizeof(buf)) == NULL ||
		    !cm_valid_ip(buf, strlen(buf)))
			continue;
		cm_strlist_append(out, buf);
	}
	freeifaddrs(ifs);
}

static bool
is_bootstrap(const struct pa_agent *a)
{
	return a->broadcasting && bootreg_is_registered(&a->reg);
}

/* Signs and announces our record as it now is. */
static void
update_self(struct pa_agent *a)
{
	struct cm_peer_record r = {0};

	r.email = (char *)cm_identity_email(a->id);
	r.peer_id = a->peer_id;
	r.is_broadcasting = a->broadcasting;
	r.is_bootstrap = is_bootstrap(a);
	if (a->broadcasting) {
		r.socket_addresses = a->advertise;
		r.port = tp_listen_port(a->tp);
	}
	r.repositories = a->repos;
	r.capabilities.max_peers = a->cfg->max_peers;
	r.capabilities.supports_torrent = false;
	r.capabilities.bandwidth_estimate = 0;
	if (engine_set_self(a->engine, &r, now_ms(), &a->rng, &pending_acts) != 0)
		log_warnx("%s: cannot sign our record", __func__);
}

/* Links */

static struct link *
link_get(struct pa_agent *a, uint64_t id)
{
	for (size_t i = 0; i < a->nlinks; i++)
		if (a->links[i].id == id)
			return &a->links[i];
	return NULL;
}

static struct link *
link_add(struct pa_agent *a, struct tp_session *s, const char *email, bool outbound)
{
	struct link *l;

	if (a->nlinks == a->caplinks) {
		size_t cap = a->caplinks == 0 ? 16 : a->caplinks * 2;
		struct link *links = realloc(a->links, cap * sizeof(*links));

		if (links == NULL)
			return NULL;
		a->links = links;
		a->caplinks = cap;
	}
	l = &a->links[a->nlinks++];
	memset(l, 0, sizeof(*l));
	l->id = tp_session_id(s);
	l->s = s;
	l->outbound = outbound;
	l->email = email != NULL ? strdup(email) : NULL;
	return l;
}

static void
link_remove(struct pa_agent *a, uint64_t id)
{
	for (size_t i = 0; i < a->nlinks; i++) {
		if (a->links[i].id == id) {
			free(a->links[i].email);
			a->links[i] = a->links[--a->nlinks];
			return;
		}
	}
}

/* True when a session (open or being set up) exists with email. */
static bool
linked(void *ctx, const char *email)
{
	const struct pa_agent *a = ctx;

	for (size_t i = 0; i < a->nlinks; i++) {
		const char *e = a->links[i].email;

		if (e == NULL)
			e = engine_neighbour_email(a->engine, a->links[i].id);
		if (e != NULL && strcmp(e, email) == 0)
			return true;
	}
	return false;
}

static void
run_actions_list(struct pa_agent *a, struct engine_actions *acts)
{
	for (size_t i = 0; i < acts->len; i++) {
		struct engine_action *act = &acts->items[i];
		struct link *l = link_get(a, act->neighbour);

		if (l == NULL)
			continue;
		if (act->kind == ENGINE_SEND) {
			tp_send_text(l->s, act->frame, act->frame_len);
		} else {
			log_info("closing session with %s: %d %s",
				 l->email != NULL ? l->email : "an unauthenticated peer",
				 act->close_code, act->reason);
			tp_close(l->s, act->close_code, act->reason);
		}
	}
	engine_actions_clear(acts);
}

static void
run_actions(struct pa_agent *a)
{
	/* Sending may close sessions and run callbacks that queue more: take the list first. */
	while (pending_acts.len > 0) {
		struct engine_actions acts = pending_acts;

		memset(&pending_acts, 0, sizeof(pending_acts));
		run_actions_list(a, &acts);
	}
}

/* Transport callbacks */

/* Two sessions with one peer (both dialled at once): both sides keep the one the smaller email dialled. */
static void
drop_duplicate(struct pa_agent *a, struct link *l, const char *email)
{
	const char *self = cm_identity_email(a->id);

	for (size_t i = 0; i < a->nlinks; i++) {
		struct link *o = &a->links[i];
		const char *oe = engine_neighbour_email(a->engine, o->id);

		if (o == l || oe == NULL || strcmp(oe, email) != 0)
			continue;
		tp_close(overlay_keep_new_session(self, email, l->outbound) ? o->s : l->s, 1000,
			 "duplicate session");
		return;
	}
}

static void
on_open(struct tp_session *s, void *arg)
{
	struct pa_agent *a = arg;
	struct link *l = link_get(a, tp_session_id(s));

	if (l == NULL)
		l = link_add(a, s, NULL, false);
	if (l == NULL) {
		tp_close(s, 1011, "out of memory");
		return;
	}
	l->opened = true;
	if (engine_neighbour_up(a->engine, l->id, !l->outbound, tp_session_fingerprint(s), now_ms(),
				&a->rng, &pending_acts) != 0)
		tp_close(s, 1011, "engine refused the session");
	run_actions(a);
}

static void
on_text(struct tp_session *s, const char *buf, size_t len, void *arg)
{
	struct pa_agent *a = arg;
	uint64_t id = tp_session_id(s);
	bool was_authed = engine_neighbour_email(a->engine, id) != NULL;
	enum engine_verdict v;
	const char *email;

	v = engine_receive(a->engine, id, buf, len, now_ms(), &a->rng, &pending_acts);
	if (v != ENGINE_ACCEPTED && v != ENGINE_DUPLICATE && v != ENGINE_DROP_OLD)
		log_info("frame from session %llu dropped: %s", (unsigned long long)id,
			 engine_verdict_name(v));
	email = engine_neighbour_email(a->engine, id);
	if (!was_authed && email != NULL) {
		struct link *l = link_get(a, id);

		log_info("session with %s (%s) is up", email,
			 l != NULL && l->outbound ? "dialled" : "accepted");
		overlay_dial_ok(a->overlay, email);
		if (l != NULL)
			drop_duplicate(a, l, email);
	}
	run_actions(a);
}

static void
on_pong(struct tp_session *s, int64_t rtt_ms, void *arg)
{
	struct pa_agent *a = arg;
	struct link *l = link_get(a, tp_session_id(s));
	const char *email = engine_neighbour_email(a->engine, tp_session_id(s));
	int64_t now = cm_time_mono_ms();

	if (email == NULL)
		return;
	peertable_note_rtt(a->table, email, rtt_ms);
	/* Community feedback: what we measure feeds the servers' performance_score. */
	if (a->bc != NULL && l != NULL && now - l->last_feedback_ms >= FEEDBACK_EVERY_MS) {
		const struct peertable_entry *e = peertable_get(a->table, email);

		l->last_feedback_ms = now;
		if (e != NULL && e->rec.record.is_bootstrap)
			bc_feedback(a->bc, email, rtt_ms, NULL, NULL);
	}
}

static void
on_close(struct tp_session *s, int code, const char *reason, void *arg)
{
	struct pa_agent *a = arg;
	uint64_t id = tp_session_id(s);
	struct link *l = link_get(a, id);
	const char *email = engine_neighbour_email(a->engine, id);

	if (email != NULL)
		log_info("session with %s closed: %d %s", email, code, reason);
	else if (l != NULL && l->outbound && l->email != NULL)
		log_info("could not reach %s: %d %s", l->email, code, reason);
	if (l != NULL && l->outbound && l->email != NULL && (!l->opened || email == NULL))
		overlay_dial_failed(a->overlay, l->email, cm_time_mono_ms(), &a->rng);
	engine_neighbour_down(a->engine, id, now_ms());
	link_remove(a, id);
}

/* Dialling */

static void
dial(struct pa_agent *a, const struct overlay_dial *d)
{
	struct tp_session *s = tp_connect(a->tp, d->ip, d->port, a->cfg->bind, d->fingerprint);

	if (s == NULL) {
		overlay_dial_failed(a->overlay, d->email, cm_time_mono_ms(), &a->rng);
		return;
	}
	log_info("dialling %s at %s port %d", d->email, d->ip, d->port);
	if (link_add(a, s, d->email, true) == NULL)
		tp_close(s, 1011, "out of memory");
}

static void
fetch_bootstrap_peers(struct pa_agent *a);

/* Keeps `neighbours` sessions, as the overlay plans them. */
static void
dial_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pa_agent *a = arg;
	struct overlay_dial d[OVERLAY_DIALS_PER_ROUND];
	size_t n;

	(void)fd;
	(void)what;
	arm(a->dial_ev, jitter(a, DIAL_INTERVAL_MS));
	if (a->stopping)
		return;
	if (engine_neighbour_count(a->engine) == 0 && a->bc != NULL)
		fetch_bootstrap_peers(a);
	n = overlay_plan(a->overlay, a->table, a->nlinks, linked, a, cm_time_mono_ms(), now_ms(), d);
	for (size_t i = 0; i < n; i++)
		dial(a, &d[i]);
}

/* Bootstrap-listed peers */

static void
cands_add(struct pa_agent *a, const struct cm_bootstrap_peer *p)
{
	struct cm_err err;
	struct cm_cert *cert;

	if (strcmp(p->email, cm_identity_email(a->id)) == 0 || p->socket_addresses.len == 0 ||
	    p->port <= 0 || p->public_certificate == NULL)
		return;
	cert = cm_cert_from_pem(p->public_certificate, strlen(p->public_certificate), &err);
	if (cert == NULL || strcmp(cm_cert_email(cert), p->email) != 0) {
		log_warnx("%s: %s: listed certificate unusable", __func__, p->email);
		cm_cert_free(cert);
		return;
	}
	/* The listing's certificate is the one we will hold that peer to. */
	if (peertable_pin(a->table, p->email, cm_cert_fingerprint(cert)) != 0) {
		log_warnx("%s: %s: listed certificate differs from the one pinned", __func__,
			  p->email);
		cm_cert_free(cert);
		return;
	}
	overlay_candidate_set(a->overlay, p->email, &p->socket_addresses, p->port,
			      cm_cert_fingerprint(cert));
	cm_cert_free(cert);
}

static void
cands_add_list(struct pa_agent *a, const struct cm_bootstrap_peerlist *l)
{
	for (size_t i = 0; i < l->len; i++)
		cands_add(a, &l->items[i]);
}

/* Bootstrap client */

static void do_register(struct pa_agent *a);
static void do_heartbeat(struct pa_agent *a);

/* Logs a registration step, re-announces us when is_bootstrap changed, arms its timer. */
static void
bs_note(struct pa_agent *a, struct bootreg_step st, const char *url)
{
	bool was_bootstrap = a->broadcasting && st.from == BOOTREG_REGISTERED;

	if (st.from != st.to)
		log_info("bootstrap: %s -> %s%s%s", bootreg_state_name(st.from),
			 bootreg_state_name(st.to), url != NULL ? " at " : "", url != NULL ? url : "");
	if (url != NULL)
		snprintf(a->bs_url, sizeof(a->bs_url), "%s", url);
	if (was_bootstrap != is_bootstrap(a)) {
		update_self(a);
		run_actions(a);
	}
	if (st.next_ms >= 0)
		arm(a->bs_ev, st.next_ms);
}

/* bs_note, then what the step says to send now. */
static void
bs_step(struct pa_agent *a, struct bootreg_step st, const char *url)
{
	bs_note(a, st, url);
	if (st.act == BOOTREG_REGISTER)
		do_register(a);
	else if (st.act == BOOTREG_HEARTBEAT)
		do_heartbeat(a);
}

static void
register_done(const struct bc_result *r, void *arg)
{
	struct pa_agent *a = arg;
	struct cm_register_response resp;
	struct cm_err err;

	a->bs_busy = false;
	if (a->stopping || !a->broadcasting)
		return;
	if (r->http_status != 200 || r->body == NULL ||
	    cm_register_response_decode(r->body, &resp, &err) != 0) {
		log_warnx("bootstrap: register at %s failed: %s", r->url,
			  r->http_status == 200 ? err.msg : r->err);
		bs_step(a, bootreg_register_failed(&a->reg, cm_time_mono_ms(), &a->rng), NULL);
		return;
	}
	cands_add_list(a, &resp.bootstrap_peers);
	bs_step(a, bootreg_register_ok(&a->reg, resp.expires_at_ms, resp.heartbeat_interval_s),
		r->url);
	cm_register_response_clear(&resp);
}

static void
do_register(struct pa_agent *a)
{
	struct cm_register_request req = {0};

	req.email = (char *)cm_identity_email(a->id);
	req.peer_id = a->peer_id;
	req.socket_addresses = a->advertise;
	req.port = tp_listen_port(a->tp);
	req.repositories = a->repos;
	req.is_broadcasting = true;
	req.has_capabilities = true;
	req.capabilities.max_peers = a->cfg->max_peers;
	if (bc_register(a->bc, &req, register_done, a) == 0)
		a->bs_busy = true;
	else
		bs_step(a, bootreg_send_failed(&a->reg, cm_time_mono_ms(), &a->rng), NULL);
}

static void
heartbeat_done(const struct bc_result *r, void *arg)
{
	struct pa_agent *a = arg;
	json_t *exp;
	int64_t exp_ms = 0;
	bool has_exp;

	a->bs_busy = false;
	if (a->stopping || !a->broadcasting)
		return;
	if (r->http_status == 404) {
		log_info("bootstrap: %s no longer knows us; registering again", r->url);
		bs_step(a, bootreg_heartbeat_unknown(&a->reg), NULL);
		return;
	}
	if (r->http_status != 200) {
		log_warnx("bootstrap: heartbeat to %s failed: %s", r->url, r->err);
		bs_step(a, bootreg_heartbeat_failed(&a->reg, cm_time_mono_ms(), &a->rng), NULL);
		return;
	}
	exp = r->body != NULL ? json_object_get(r->body, "expires_at") : NULL;
	has_exp = json_is_string(exp) &&
		  cm_time_parse_ms(json_string_value(exp), json_string_length(exp), &exp_ms) == 0;
	bs_step(a, bootreg_heartbeat_ok(&a->reg, has_exp, exp_ms), r->url);
}

static void
do_heartbeat(struct pa_agent *a)
{
	if (bc_heartbeat(a->bc, cm_identity_email(a->id), heartbeat_done, a) == 0)
		a->bs_busy = true;
	else
		bs_step(a, bootreg_send_failed(&a->reg, cm_time_mono_ms(), &a->rng), NULL);
}

static void
bs_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pa_agent *a = arg;

	(void)fd;
	(void)what;
	if (a->stopping || a->bc == NULL || a->bs_busy || !a->broadcasting)
		return;
	bs_step(a, bootreg_due(&a->reg, now_ms()), NULL);
}

static void
peers_done(const struct bc_result *r, void *arg)
{
	struct pa_agent *a = arg;
	struct cm_bootstrap_peerlist l;
	struct cm_err err;

	a->peers_fetch_busy = false;
	if (r->http_status == 200 && r->body != NULL &&
	    cm_bootstrap_peerlist_decode(r->body, &l, &err) == 0) {
		cands_add_list(a, &l);
		log_info("bootstrap: %s listed %zu peers", r->url, l.len);
		cm_bootstrap_peerlist_clear(&l);
		if (!a->broadcasting)
			bs_note(a, bootreg_unregistered(&a->reg), r->url);
		if (l.len > 0)
			overlay_backoff_reset(&a->peers_fetch);
	} else {
		log_warnx("bootstrap: listing peers at %s failed: %s", r->url,
			  r->http_status == 200 ? err.msg : r->err);
	}
	overlay_backoff_next(&a->peers_fetch, cm_time_mono_ms(), &a->rng);
}

/* While we have no neighbour: ask the bootstrap servers for peers (backoff 1 s .. 60 s). */
static void
fetch_bootstrap_peers(struct pa_agent *a)
{
	if (a->peers_fetch_busy || overlay_backoff_waiting(&a->peers_fetch, cm_time_mono_ms()))
		return;
	if (bc_peers(a->bc, CM_MAX_BOOTSTRAP_PEERS, peers_done, a) == 0)
		a->peers_fetch_busy = true;
}

/* Control API */

struct op {
	struct pa_agent *a;
	struct op *next;
	struct evhttp_request *req;
	struct cm_strlist repos;
	char *email; /* lookup */
	char request_id[CM_UUID_TEXT_LEN + 1];
	int64_t started_ms;
	struct event *timer;
};

static void
reply_json(struct evhttp_request *req, int status, json_t *body)
{
	struct evbuffer *buf = evbuffer_new();
	char *text = body != NULL ? cm_json_dump(body) : NULL;

	json_decref(body);
	if (buf == NULL || text == NULL) {
		evhttp_send_error(req, 500, "out of memory");
		free(text);
		if (buf != NULL)
			evbuffer_free(buf);
		return;
	}
	evbuffer_add(buf, text, strlen(text));
	evbuffer_add(buf, "\n", 1);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/json");
	evhttp_send_reply(req, status, status == 200 ? "OK" : "Error", buf);
	evbuffer_free(buf);
	free(text);
}

static void
reply_error(struct evhttp_request *req, int status, const char *msg, const char *code)
{
	reply_json(req, status, cm_error_body_encode(msg, code));
}

/* Counters: what the engine did with every frame and how sessions ended. */
static json_t *
gossip_json(const struct pa_agent *a)
{
	const struct engine_stats *es = engine_stats(a->engine);
	const struct tp_stats *ts = tp_stats(a->tp);
	json_t *verdicts = json_object(), *closes = json_object();
	char code[8];

	for (int v = 0; v < ENGINE_VERDICT_COUNT; v++)
		json_object_set_new(verdicts, engine_verdict_name((enum engine_verdict)v),
				    json_integer((json_int_t)es->verdicts[v]));
	for (int c = 0; c < 16; c++) {
		if (ts->closed_by_code[c] == 0)
			continue;
		snprintf(code, sizeof(code), "%d", 1000 + c);
		json_object_set_new(closes, code, json_integer((json_int_t)ts->closed_by_code[c]));
	}
	return json_pack("{s:I,s:o,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:I,s:I,s:I,s:I}", "received",
			 (json_int_t)es->received, "verdicts", verdicts, "records_applied",
			 (json_int_t)es->records_applied, "forwarded", (json_int_t)es->forwarded,
			 "sent", (json_int_t)es->sent, "stripped_addresses",
			 (json_int_t)es->stripped_addresses, "anti_entropy_rounds",
			 (json_int_t)es->anti_entropy_rounds, "requests_answered",
			 (json_int_t)es->requests_answered, "sessions_open",
			 (json_int_t)tp_session_count(a->tp), "closed_by_code", closes,
			 "handshake_failures", (json_int_t)ts->handshake_failures, "pin_failures",
			 (json_int_t)ts->pin_failures, "bytes_in", (json_int_t)ts->bytes_in,
			 "bytes_out", (json_int_t)ts->bytes_out);
}

static json_t *
status_json(struct pa_agent *a)
{
	char exp[CM_RFC3339_LEN + 1];
	json_t *bs = json_pack("{s:s}", "state", bootreg_state_name(a->reg.state));

	json_object_set_new(bs, "url", a->bs_url[0] != '\0' ? json_string(a->bs_url) : json_null());
	if (a->reg.state == BOOTREG_REGISTERED && cm_time_format_ms(a->reg.expires_ms, exp) == 0)
		json_object_set_new(bs, "expires_at", json_string(exp));
	else
		json_object_set_new(bs, "expires_at", json_null());
	return json_pack("{s:s,s:s,s:b,s:o,s:I,s:I,s:s,s:b,s:I,s:o}", "email",
			 cm_identity_email(a->id), "peer_id", a->peer_id, "broadcasting",
			 a->broadcasting, "bootstrap", bs, "neighbours",
			 (json_int_t)engine_neighbour_count(a->engine), "known_peers",
			 (json_int_t)peertable_count(a->table), "version", FB_VERSION, "is_bootstrap",
			 is_bootstrap(a), "listen_port", (json_int_t)tp_listen_port(a->tp), "gossip",
			 gossip_json(a));
}

/* PeerInfo array of the table entries hosting any of repos (all when none). */
static json_t *
table_infos(struct pa_agent *a, const struct cm_strlist *repos, enum cm_peer_source src,
	    int64_t found_in_ms, const struct cm_strlist *only)
{
	struct cm_peer_info *infos;
	size_t n;
	json_t *arr = json_array();

	if (peertable_snapshot(a->table, (const char *const *)repos->items, repos->len, now_ms(),
			       &infos, &n) != 0) {
		json_decref(arr);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		bool keep = only == NULL;

		for (size_t j = 0; only != NULL && j < only->len && !keep; j++)
			keep = strcmp(only->items[j], infos[i].email) == 0;
		/* The table shows peers that left; discovery does not offer them. */
		if (!keep || (src != CM_SOURCE_NONE && infos[i].peer_status == CM_PEER_OFFLINE))
			continue;
		infos[i].source = src;
		infos[i].found_in_ms = found_in_ms;
		json_array_append_new(arr, cm_peer_info_encode(&infos[i]));
	}
	peertable_info_free(infos, n);
	return arr;
}

/* A bootstrap listing as PeerInfo: what the server knows, scored by it. */
static json_t *
bootstrap_infos(const struct cm_bootstrap_peerlist *l, enum cm_peer_source src,
		int64_t found_in_ms, const char *only_email)
{
	json_t *arr = json_array();
	int64_t now = now_ms();

	for (size_t i = 0; i < l->len; i++) {
		const struct cm_bootstrap_peer *p = &l->items[i];
		struct cm_peer_info info = {0};

		if (only_email != NULL && strcmp(p->email, only_email) != 0)
			continue;
		info.email = p->email;
		info.peer_id = p->peer_id;
		info.public_certificate = p->public_certificate;
		info.socket_addresses = p->socket_addresses;
		info.port = p->port;
		info.is_broadcasting = p->socket_addresses.len > 0;
		info.is_bootstrap = info.is_broadcasting;
		info.peer_status = CM_PEER_ONLINE;
		info.state = CM_STATE_DISCOVERED;
		info.repositories = p->repositories;
		info.availability_score = p->has_availability_score ? p->availability_score : 100;
		info.performance_score = p->has_performance_score ? p->performance_score : 50;
		info.score = 0.6 * info.availability_score + 0.4 * info.performance_score;
		info.discovered_at_ms = now;
		info.last_seen_ms = now;
		info.expires_at_ms = now;
		info.source = src;
		info.found_in_ms = found_in_ms;
		json_array_append_new(arr, cm_peer_info_encode(&info));
	}
	return arr;
}

static void
op_free(struct op *o)
{
	struct op **pp = &o->a->ops;

	while (*pp != NULL && *pp != o)
		pp = &(*pp)->next;
	if (*pp == o)
		*pp = o->next;
	/* The connection outlives the op: it must not call back into freed memory. */
	if (o->req != NULL)
		evhttp_connection_set_closecb(evhttp_request_get_connection(o->req), NULL, NULL);
	if (o->timer != NULL)
		event_free(o->timer);
	cm_strlist_clear(&o->repos);
	free(o->email);
	free(o);
}

static int64_t
op_elapsed(const struct op *o)
{
	return cm_time_mono_ms() - o->started_ms;
}

static void
op_finish(struct op *o, json_t *arr)
{
	struct evhttp_request *req = o->req;

	op_free(o);
	if (req == NULL)
		json_decref(arr);
	else if (arr != NULL)
		reply_json(req, 200, arr);
	else
		reply_error(req, 500, "could not build the answer", "internal");
}

/* The client went away: the answer has nowhere to go. */
static void
op_conn_closed(struct evhttp_connection *conn, void *arg)
{
	struct op *o = arg;

	(void)conn;
	o->req = NULL;
}

static struct op *
op_new(struct pa_agent *a, struct evhttp_request *req)
{
	struct op *o = calloc(1, sizeof(*o));

	if (o == NULL)
		return NULL;
	o->a = a;
	o->req = req;
	o->started_ms = cm_time_mono_ms();
	o->next = a->ops;
	a->ops = o;
	evhttp_connection_set_closecb(evhttp_request_get_connection(req), op_conn_closed, o);
	return o;
}

static void
discover_bootstrap_done(const struct bc_result *r, void *arg)
{
	struct op *o = arg;
	struct cm_bootstrap_peerlist l;
	struct cm_err err;

	if (r->http_status == 200 && r->body != NULL &&
	    cm_bootstrap_peerlist_decode(r->body, &l, &err) == 0) {
		op_finish(o, bootstrap_infos(&l, CM_SOURCE_BOOTSTRAP, op_elapsed(o), NULL));
		cm_bootstrap_peerlist_clear(&l);
		return;
	}
	op_finish(o, json_array());
}

static void
discover_fallback(struct op *o)
{
	if (o->a->bc != NULL &&
	    bc_discover(o->a->bc, &o->repos, CM_MAX_BOOTSTRAP_PEERS, discover_bootstrap_done, o) == 0)
		return;
	op_finish(o, json_array());
}

static void
discover_wait_cb(evutil_socket_t fd, short what, void *arg)
{
	struct op *o = arg;
	struct cm_strlist emails = {0};
	json_t *arr;

	(void)fd;
	(void)what;
	engine_request_take(o->a->engine, o->request_id, &emails);
	arr = emails.len > 0 ? table_infos(o->a, &o->repos, CM_SOURCE_GOSSIP, op_elapsed(o), &emails)
			     : NULL;
	cm_strlist_clear(&emails);
	if (arr != NULL && json_array_size(arr) > 0) {
		op_finish(o, arr);
		return;
	}
	json_decref(arr);
	discover_fallback(o);
}

/* Splits a comma-separated query value into repository names. Returns 0 or -1. */
static int
split_repos(const char *v, struct cm_strlist *out)
{
	char *copy = strdup(v != NULL ? v : ""), *save = NULL;

	if (copy == NULL)
		return -1;
	for (char *tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		if (!cm_valid_repo_name(tok, strlen(tok)) || out->len >= CM_MAX_REPOSITORIES ||
		    cm_strlist_append(out, tok) != 0) {
			free(copy);
			return -1;
		}
	}
	free(copy);
	return 0;
}

static void
api_discover(struct pa_agent *a, struct evhttp_request *req, struct evkeyvalq *q)
{
	struct op *o;
	json_t *arr;

	if ((o = op_new(a, req)) == NULL) {
		reply_error(req, 500, "out of memory", "internal");
		return;
	}
	if (split_repos(evhttp_find_header(q, "repositories"), &o->repos) != 0 || o->repos.len == 0) {
		op_free(o);
		reply_error(req, 400, "repositories: a comma-separated list of repository names",
			    "bad_query");
		return;
	}
	arr = table_infos(a, &o->repos, CM_SOURCE_TABLE, 0, NULL);
	if (arr != NULL && json_array_size(arr) > 0) {
		for (size_t i = 0; i < json_array_size(arr); i++)
			json_object_set_new(json_array_get(arr, i), "found_in_ms",
					    json_integer(op_elapsed(o)));
		op_finish(o, arr);
		return;
	}
	json_decref(arr);
	if (engine_request(a->engine, &o->repos, DISCOVER_ASK, now_ms(), &a->rng, o->request_id,
			   &pending_acts) > 0) {
		run_actions(a);
		o->timer = evtimer_new(a->base, discover_wait_cb, o);
		if (o->timer != NULL) {
			arm(o->timer, DISCOVER_WAIT_MS);
			return;
		}
	}
	discover_fallback(o);
}

static void
lookup_relay_done(const struct bc_result *r, void *arg)
{
	struct op *o = arg;
	struct cm_bootstrap_peer p;
	struct cm_bootstrap_peerlist l = {&p, 1};
	struct cm_err err;

	if (r->http_status == 200 && r->body != NULL &&
	    cm_bootstrap_peer_decode(r->body, &p, &err) == 0) {
		op_finish(o, bootstrap_infos(&l, CM_SOURCE_RELAY, op_elapsed(o), o->email));
		cm_bootstrap_peer_clear(&p);
		return;
	}
	op_finish(o, json_array());
}

static void
lookup_bootstrap_done(const struct bc_result *r, void *arg)
{
	struct op *o = arg;
	struct cm_bootstrap_peerlist l;
	struct cm_err err;

	if (r->http_status == 200 && r->body != NULL &&
	    cm_bootstrap_peerlist_decode(r->body, &l, &err) == 0) {
		json_t *arr = bootstrap_infos(&l, CM_SOURCE_BOOTSTRAP, op_elapsed(o), o->email);

		cm_bootstrap_peerlist_clear(&l);
		if (json_array_size(arr) > 0) {
			op_finish(o, arr);
			return;
		}
		json_decref(arr);
	}
	/* The seed's migration path: gossip first, the legacy relay last. */
	if (bc_relay_lookup(o->a->bc, o->email, lookup_relay_done, o) != 0)
		op_finish(o, json_array());
}

static void
api_lookup(struct pa_agent *a, struct evhttp_request *req, struct evkeyvalq *q)
{
	const char *email = evhttp_find_header(q, "email");
	const struct peertable_entry *e;
	struct op *o;

	if (email == NULL || !cm_valid_email(email, strlen(email))) {
		reply_error(req, 400, "email: a valid email address is required", "bad_query");
		return;
	}
	if ((e = peertable_get(a->table, email)) != NULL) {
		struct cm_peer_info info;
		json_t *arr = json_array();

		if (peertable_entry_info(a->table, e, now_ms(), &info) == 0) {
			info.source = CM_SOURCE_TABLE;
			info.found_in_ms = 0;
			json_array_append_new(arr, cm_peer_info_encode(&info));
			cm_peer_info_clear(&info);
		}
		reply_json(req, 200, arr);
		return;
	}
	if (a->bc == NULL) {
		reply_json(req, 200, json_array());
		return;
	}
	if ((o = op_new(a, req)) == NULL || (o->email = strdup(email)) == NULL ||
	    bc_peers(a->bc, CM_MAX_BOOTSTRAP_PEERS, lookup_bootstrap_done, o) != 0) {
		if (o != NULL)
			op_free(o);
		reply_error(req, 500, "cannot ask the bootstrap servers", "internal");
	}
}

static int
start_broadcast(struct pa_agent *a)
{
	if (a->cfg->listen_host == NULL)
		return -1;
	if (tp_listen_port(a->tp) < 0 &&
	    tp_listen(a->tp, a->cfg->listen_host, a->cfg->listen_port) != 0)
		return -1;
	a->broadcasting = true;
	update_self(a);
	run_actions(a);
	if (a->bc != NULL)
		bs_note(a, bootreg_start(&a->reg), NULL);
	log_info("broadcasting on %s port %d", a->cfg->listen_host, tp_listen_port(a->tp));
	return 0;
}

static void
unregister_done(const struct bc_result *r, void *arg)
{
	struct pa_agent *a = arg;

	if (r->http_status == 200 || r->http_status == 404)
		log_info("bootstrap: unregistered at %s", r->url);
	else
		log_warnx("bootstrap: unregister at %s failed: %s", r->url, r->err);
	if (!a->broadcasting)
		bs_note(a, bootreg_unregistered(&a->reg), NULL);
}

static void
stop_broadcast(struct pa_agent *a)
{
	struct bootreg_step st;

	a->broadcasting = false;
	tp_unlisten(a->tp);
	evtimer_del(a->bs_ev);
	st = bootreg_stop(&a->reg);
	bs_note(a, st, NULL);
	update_self(a);
	run_actions(a);
	if (a->bc != NULL && st.act == BOOTREG_UNREGISTER)
		bc_unregister(a->bc, cm_identity_email(a->id), unregister_done, a);
	else
		bs_note(a, bootreg_unregistered(&a->reg), NULL);
	log_info("broadcasting stopped: our record carries no address");
}

static void
api_broadcast_on(struct pa_agent *a, struct evhttp_request *req)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	char *body = malloc(len + 1);
	struct cm_err err = {0};
	json_t *j = NULL, *repos;
	struct cm_repolist l = {0};

	if (body == NULL) {
		reply_error(req, 500, "out of memory", "internal");
		return;
	}
	evbuffer_copyout(in, body, len);
	body[len] = '\0';
	if (len > 0 && (j = cm_json_parse(body, len, CM_MAX_BODY, &err)) == NULL) {
		free(body);
		reply_error(req, 400, err.msg, "bad_json");
		return;
	}
	free(body);
	repos = j != NULL ? json_object_get(j, "repositories") : NULL;
	if (repos != NULL) {
		size_t i;
		json_t *r;

		if (!json_is_array(repos) || json_array_size(repos) > CM_MAX_REPOSITORIES)
			goto bad;
		json_array_foreach(repos, i, r) {
			const char *name = json_string_value(json_object_get(r, "name"));
			json_t *d = json_object_get(r, "description");

			if (name == NULL || !cm_valid_repo_name(name, strlen(name)) ||
			    (d != NULL && (!json_is_string(d) ||
					   json_string_length(d) > CM_MAX_DESCRIPTION)) ||
			    cm_repolist_append(&l, name, json_string_value(d)) != 0)
				goto bad;
		}
		cm_repolist_clear(&a->repos);
		a->repos = l;
		memset(&l, 0, sizeof(l));
		peertable_set_own_repositories(a->table, &a->repos);
	}
	json_decref(j);
	if (a->broadcasting) {
		update_self(a);
		run_actions(a);
		if (a->bc != NULL)
			arm(a->bs_ev, 0);
	} else if (start_broadcast(a) != 0) {
		reply_error(req, 409, "broadcasting needs [gossip] listen in agent.ini",
			    "no_listener");
		return;
	}
	reply_json(req, 200, status_json(a));
	return;
bad:
	cm_repolist_clear(&l);
	json_decref(j);
	reply_error(req, 400,
		    "repositories: a list of {name, description?} with valid names (at most 256)",
		    "bad_body");
}

/* Constant time, so the token cannot be guessed byte by byte. */
static bool
token_ok(const struct pa_agent *a, const char *header)
{
	size_t n = strlen(a->token), m;
	unsigned char diff = 0;

	if (header == NULL || strncmp(header, "Bearer ", 7) != 0)
		return false;
	header += 7;
	m = strlen(header);
	if (m != n)
		return false;
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)(header[i] ^ a->token[i]);
	return diff == 0;
}

static void
api_cb(struct evhttp_request *req, void *arg)
{
	struct pa_agent *a = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = evhttp_uri_get_path(uri), *query = evhttp_uri_get_query(uri);
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	struct evkeyvalq q;

	if (!token_ok(a, evhttp_find_header(evhttp_request_get_input_headers(req),
					   "Authorization"))) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
				  "Bearer");
		reply_error(req, 401, "a valid Bearer token (DIR/api.token) is required",
			    "unauthorized");
		return;
	}
	TAILQ_INIT(&q);
	if (query != NULL && evhttp_parse_query_str(query, &q) != 0) {
		reply_error(req, 400, "malformed query string", "bad_query");
		return;
	}
	if (path == NULL)
		path = "";
	if (strcmp(path, "/api/v1/status") == 0 && m == EVHTTP_REQ_GET) {
		reply_json(req, 200, status_json(a));
	} else if (strcmp(path, "/api/v1/peers") == 0 && m == EVHTTP_REQ_GET) {
		struct cm_strlist repos = {0};
		const char *r = evhttp_find_header(&q, "repository");

		if (r != NULL && !cm_valid_repo_name(r, strlen(r)))
			reply_error(req, 400, "repository: not a valid repository name", "bad_query");
		else if (r != NULL && cm_strlist_append(&repos, r) != 0)
			reply_error(req, 500, "out of memory", "internal");
		else
			reply_json(req, 200, table_infos(a, &repos, CM_SOURCE_NONE, 0, NULL));
		cm_strlist_clear(&repos);
	} else if (strcmp(path, "/api/v1/discover") == 0 && m == EVHTTP_REQ_GET) {
		api_discover(a, req, &q);
	} else if (strcmp(path, "/api/v1/lookup") == 0 && m == EVHTTP_REQ_GET) {
		api_lookup(a, req, &q);
	} else if (strcmp(path, "/api/v1/broadcast") == 0 && m == EVHTTP_REQ_POST) {
		api_broadcast_on(a, req);
	} else if (strcmp(path, "/api/v1/broadcast") == 0 && m == EVHTTP_REQ_DELETE) {
		if (a->broadcasting)
			stop_broadcast(a);
		reply_json(req, 200, status_json(a));
	} else if (strcmp(path, "/api/v1/status") == 0 || strcmp(path, "/api/v1/peers") == 0 ||
		   strcmp(path, "/api/v1/discover") == 0 || strcmp(path, "/api/v1/lookup") == 0 ||
		   strcmp(path, "/api/v1/broadcast") == 0) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
				  strcmp(path, "/api/v1/broadcast") == 0 ? "POST, DELETE" : "GET");
		reply_error(req, 405, "method not allowed", "method_not_allowed");
	} else {
		reply_error(req, 404, "no such endpoint", "not_found");
	}
	evhttp_clear_headers(&q);
}

/* Timers */

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pa_agent *a = arg;
	int64_t next;

	(void)fd;
	(void)what;
	next = engine_tick(a->engine, now_ms(), &a->rng, &pending_acts);
	run_actions(a);
	arm(a->tick_ev, next < 1000 ? next : 1000);
}

static void
ping_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pa_agent *a = arg;

	(void)fd;
	(void)what;
	for (size_t i = 0; i < a->nlinks; i++)
		if (engine_neighbour_email(a->engine, a->links[i].id) != NULL)
			tp_ping(a->links[i].s);
	arm(a->ping_ev, a->cfg->heartbeat_s * 1000);
}

static void
save_table(struct pa_agent *a)
{
	if (pa_store_save(a->peers_path, a->table, now_ms()) != 0)
		log_warnx("%s: could not save %s", __func__, a->peers_path);
}

static void
save_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pa_agent *a = arg;

	(void)fd;
	(void)what;
	save_table(a);
	arm(a->save_ev, SAVE_INTERVAL_MS);
}

static void
stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pa_agent *a = arg;
	int64_t elapsed = cm_time_mono_ms() - a->stop_started_ms;

	(void)fd;
	(void)what;
	/* The leave and the unregister need a moment on the wire. */
	if ((a->bc == NULL || bc_pending(a->bc) == 0) && elapsed >= 300)
		event_base_loopexit(a->base, NULL);
	else if (elapsed >= STOP_GRACE_MS)
		event_base_loopexit(a->base, NULL);
	else
		arm(a->stop_ev, 100);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct pa_agent *a = arg;

	(void)what;
	if (a->stopping) {
		log_info("second signal: exiting now");
		event_base_loopexit(a->base, NULL);
		return;
	}
	log_info("%s: leaving the network", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	a->stopping = true;
	a->stop_started_ms = cm_time_mono_ms();
	engine_leave(a->engine, now_ms(), &a->rng, &pending_acts);
	run_actions(a);
	if (a->bc != NULL && bootreg_is_listed(&a->reg))
		bc_unregister(a->bc, cm_identity_email(a->id), unregister_done, a);
	arm(a->stop_ev, 100);
}

/* Start and stop */

static void
read_peer_id(struct pa_agent *a)
{
	char *path = pa_config_path(a->cfg->home, "peer_id");
	FILE *f = path != NULL ? fopen(path, "r") : NULL;
	char buf[64] = "";

	if (f != NULL) {
		if (fgets(buf, sizeof(buf), f) == NULL)
			buf[0] = '\0';
		fclose(f);
		buf[strcspn(buf, "\r\n")] = '\0';
	}
	if (cm_valid_uuid(buf, strlen(buf))) {
		snprintf(a->peer_id, sizeof(a->peer_id), "%s", buf);
	} else {
		/* One peer_id for the life of this home, so restarts read as the same peer. */
		cm_uuid_generate(a->peer_id);
		if (path != NULL && (f = fopen(path, "w")) != NULL) {
			fprintf(f, "%s\n", a->peer_id);
			fclose(f);
		}
	}
	free(path);
}

static void
agent_free(struct pa_agent *a)
{
	while (a->ops != NULL) {
		struct evhttp_request *req = a->ops->req;

		op_free(a->ops);
		if (req != NULL)
			reply_error(req, 503, "shutting down", "unavailable");
	}
	if (a->http != NULL)
		evhttp_free(a->http);
	bc_free(a->bc);
	tp_free(a->tp);
	engine_actions_clear(&pending_acts);
	engine_free(a->engine);
	peertable_free(a->table);
	cm_identity_free(a->id);
	for (size_t i = 0; i < a->nlinks; i++)
		free(a->links[i].email);
	free(a->links);
	overlay_free(a->overlay);
	struct event *evs[] = {a->tick_ev, a->dial_ev, a->bs_ev,  a->save_ev,
			       a->ping_ev, a->stop_ev, a->sig_term, a->sig_int};
	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		if (evs[i] != NULL)
			event_free(evs[i]);
	cm_repolist_clear(&a->repos);
	cm_strlist_clear(&a->advertise);
	free(a->token);
	free(a->peers_path);
	if (a->base != NULL)
		event_base_free(a->base);
	free(a);
}

static int
agent_start(struct pa_agent *a)
{
	const struct pa_config *cfg = a->cfg;
	struct cm_err err = {0};
	char errbuf[PA_CONFIG_ERR];
	struct peertable_config tc;
	struct engine_config ec;
	struct tp_config tpc;
	struct overlay_config oc;
	struct tp_callbacks cbs = {on_open, on_text, on_pong, on_close};
	size_t skipped = 0;
	int restored;

	if (gnutls_rnd(GNUTLS_RND_NONCE, &a->rng_state, sizeof(a->rng_state)) != 0 ||
	    a->rng_state == 0)
		a->rng_state = (uint64_t)cm_time_mono_ms() | 1;
	a->rng.next = rng_next;
	a->rng.ctx = &a->rng_state;
	if ((a->id = cm_identity_load(cfg->key_file, cfg->cert_file, &err)) == NULL) {
		log_errx("identity: %s", err.msg);
		return -1;
	}
	if (strcmp(cm_identity_email(a->id), cfg->email) != 0) {
		log_errx("identity: the certificate names %s, agent.ini says %s",
			 cm_identity_email(a->id), cfg->email);
		return -1;
	}
	if ((a->token = pa_config_read_token(cfg->home, errbuf)) == NULL) {
		log_errx("api token: %s", errbuf);
		return -1;
	}
	read_peer_id(a);
	peertable_config_default(&tc);
	tc.max_entries = cfg->table_max;
	tc.stale_ms = cfg->stale_s * 1000;
	tc.expire_ms = cfg->expire_s * 1000;
	tc.heartbeat_ms = cfg->heartbeat_s * 1000;
	engine_config_default(&ec);
	ec.fanout = cfg->fanout;
	ec.ttl = cfg->ttl;
	ec.expire_ms = cfg->expire_s * 1000;
	ec.heartbeat_ms = cfg->heartbeat_s * 1000;
	ec.reannounce_ms = cfg->reannounce_s * 1000;
	ec.anti_entropy_ms = cfg->anti_entropy_s * 1000;
	overlay_config_default(&oc);
	oc.neighbours = (size_t)cfg->neighbours;
	if ((a->table = peertable_new(&tc, cfg->email)) == NULL ||
	    (a->engine = engine_new(&ec, a->table, a->id)) == NULL ||
	    (a->overlay = overlay_new(&oc, cfg->email)) == NULL)
		return -1;
	for (size_t i = 0; i < cfg->repositories.len; i++)
		cm_repolist_append(&a->repos, cfg->repositories.items[i].name,
				   cfg->repositories.items[i].description);
	peertable_set_own_repositories(a->table, &a->repos);
	if (cfg->advertise_auto)
		advertise_auto(&a->advertise);
	else
		for (size_t i = 0; i < cfg->advertise.len; i++)
			cm_strlist_append(&a->advertise, cfg->advertise.items[i]);
	a->peers_path = pa_config_path(cfg->home, "peers.json");
	restored = pa_store_load(a->peers_path, a->table, now_ms(), &skipped);
	if (restored > 0 || skipped > 0)
		log_info("restored %d peers from %s (%zu skipped), all stale until heard from",
			 restored, a->peers_path, skipped);
	tp_config_default(&tpc);
	tpc.cert_file = cfg->cert_file;
	tpc.key_file = cfg->key_file;
	tpc.max_sessions = (size_t)cfg->max_peers;
	tpc.idle_timeout_ms = cfg->heartbeat_s * 3000 + 10000;
	if ((a->tp = tp_new(a->base, &tpc, &cbs, a)) == NULL)
		return -1;
	if (cfg->bootstrap_urls.len > 0) {
		struct bc_config bcc = {
			.urls = (const char *const *)cfg->bootstrap_urls.items,
			.nurls = cfg->bootstrap_urls.len,
			.ca_file = cfg->bootstrap_ca,
			.cert_file = cfg->cert_file,
			.key_file = cfg->key_file,
			.timeout_ms = 10000,
		};

		if ((a->bc = bc_new(a->base, &bcc)) == NULL)
			return -1;
	}
	a->http = evhttp_new(a->base);
	if (a->http == NULL || evhttp_bind_socket(a->http, cfg->api_host, (uint16_t)cfg->api_port) != 0) {
		log_errx("control API: cannot listen on %s port %d: %s", cfg->api_host, cfg->api_port,
			 strerror(errno));
		return -1;
	}
	evhttp_set_max_body_size(a->http, CM_MAX_BODY);
	evhttp_set_max_headers_size(a->http, 16 * 1024);
	evhttp_set_timeout(a->http, 30);
	/* Every method reaches api_cb, so a wrong one gets a JSON 405 with Allow. */
	evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_DELETE |
						    EVHTTP_REQ_PUT | EVHTTP_REQ_PATCH |
						    EVHTTP_REQ_HEAD | EVHTTP_REQ_OPTIONS);
	evhttp_set_gencb(a->http, api_cb, a);
	if ((a->tick_ev = evtimer_new(a->base, tick_cb, a)) == NULL ||
	    (a->dial_ev = evtimer_new(a->base, dial_cb, a)) == NULL ||
	    (a->bs_ev = evtimer_new(a->base, bs_cb, a)) == NULL ||
	    (a->save_ev = evtimer_new(a->base, save_cb, a)) == NULL ||
	    (a->ping_ev = evtimer_new(a->base, ping_cb, a)) == NULL ||
	    (a->stop_ev = evtimer_new(a->base, stop_cb, a)) == NULL ||
	    (a->sig_term = evsignal_new(a->base, SIGTERM, signal_cb, a)) == NULL ||
	    (a->sig_int = evsignal_new(a->base, SIGINT, signal_cb, a)) == NULL)
		return -1;
	evsignal_add(a->sig_term, NULL);
	evsignal_add(a->sig_int, NULL);
	bootreg_init(&a->reg, cfg->bootstrap_heartbeat_s * 1000);
	if (cfg->broadcasting) {
		if (start_broadcast(a) != 0) {
			log_errx("cannot listen on %s port %d", cfg->listen_host, cfg->listen_port);
			return -1;
		}
	} else {
		update_self(a);
	}
	log_info("peer-agent %s: %s, %s, control API on %s port %d", FB_VERSION, cfg->email,
		 a->broadcasting ? "broadcasting" : "silent", cfg->api_host, cfg->api_port);
	arm(a->tick_ev, 0);
	arm(a->dial_ev, 0);
	arm(a->save_ev, SAVE_INTERVAL_MS);
	arm(a->ping_ev, cfg->heartbeat_s * 1000);
	return 0;
}

int
pa_agent_run(const struct pa_config *cfg)
{
	struct pa_agent *a = calloc(1, sizeof(*a));
	int rc = 1;

	if (a == NULL)
		return 1;
	a->cfg = cfg;
	signal(SIGPIPE, SIG_IGN);
	if ((a->base = event_base_new()) == NULL || agent_start(a) != 0) {
		agent_free(a);
		return 1;
	}
	event_base_dispatch(a->base);
	save_table(a);
	log_info("stopped");
	rc = 0;
	agent_free(a);
	return rc;
}
