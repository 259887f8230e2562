/*
 * agent_links.c - the agent's sessions: the transport's callbacks into the
 * engine, the duplicate-session rule, and the dials the overlay plans.
 */
#include <stdlib.h>
#include <string.h>

#include "daemon/agent_internal.h"
#include "fb/log.h"
#include "fb/random.h"
#include "fb/timeutil.h"

#define DIAL_INTERVAL_MS 1000
#define FULL_REDIAL_MS 50 /* after a peer said it is full (TP_CLOSE_FULL) */
/*
 * Attestations of bootstrap peers lapse after the table's attest_ms (3 h);
 * a listing every hour renews them, also for an agent that has neighbours.
 */
#define ATTEST_RENEW_MS (60 * 60 * 1000LL)
/* A little over the server's default feedback-window (300 s), which counts one report per
 * reporter and peer: a report every window, none refused as early. */
#define FEEDBACK_EVERY_MS (6 * 60 * 1000)
/* Lookup by key (docs/protocol.md section 4): the peers asked per discovery. */
#define KEY_ASK_MAX (2 * PEERTABLE_KEY_ASK)
/*
 * A session dialled for a lookup lives this long (past the control API's
 * wait for answers, DISCOVER_WAIT_MS: a later answer is dropped anyway),
 * and at most this many are open at once.
 */
#define QUERY_HOLD_MS 2500
#define QUERIES_MAX 16

bool
agent_linked(void *ctx, const char *email)
{
	const struct pa_agent *a = ctx;
	const struct link *l;
	size_t cursor = 0;

	while ((l = sessions_next(a->links, &cursor)) != NULL) {
		const char *e = l->email != NULL ? l->email : engine_neighbour_email(a->engine, l->id);

		if (e != NULL && strcmp(e, email) == 0)
			return true;
	}
	return agent_relay_pending(a, email, CM_RELAY_GOSSIP, NULL);
}

const struct link *
agent_session_with(const struct pa_agent *a, const char *email, bool relayed)
{
	const struct link *l;
	size_t cursor = 0;

	while ((l = sessions_next(a->links, &cursor)) != NULL) {
		const char *e = engine_neighbour_email(a->engine, l->id);

		if ((l->via != NULL) == relayed && e != NULL && strcmp(e, email) == 0)
			return l;
	}
	return NULL;
}

/* Transport callbacks */

/*
 * Two sessions with one peer (both dialled at once): both sides keep the one
 * the smaller email dialled.
 */
static void
drop_duplicate(struct pa_agent *a, struct link *l, const char *email)
{
	const char *self = cm_identity_email(a->id);
	struct link *o;
	size_t cursor = 0;

	while ((o = sessions_next(a->links, &cursor)) != NULL) {
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
	struct link *l = sessions_get(a->links, tp_session_id(s));

	if (l == NULL)
		l = sessions_add(a->links, tp_session_id(s), s, NULL, false);
	if (l == NULL) {
		tp_close(s, 1011, "out of memory");
		return;
	}
	l->opened = true;
	if (engine_neighbour_up(a->engine, l->id, !l->outbound, tp_session_fingerprint(s), agent_now_ms(),
				&a->rng, &a->acts) != 0)
		tp_close(s, 1011, "engine refused the session");
	agent_run_actions(a);
}

static void
on_text(struct tp_session *s, const char *buf, size_t len, void *arg)
{
	struct pa_agent *a = arg;
	uint64_t id = tp_session_id(s);
	bool was_authed = engine_neighbour_email(a->engine, id) != NULL;
	enum engine_verdict v;
	const char *email;

	v = engine_receive(a->engine, id, buf, len, agent_now_ms(), &a->rng, &a->acts);
	if (v != ENGINE_ACCEPTED && v != ENGINE_DUPLICATE && v != ENGINE_DROP_OLD)
		log_info("frame from session %llu dropped: %s", (unsigned long long)id,
			 engine_verdict_name(v));
	email = engine_neighbour_email(a->engine, id);
	if (!was_authed && email != NULL) {
		struct link *l = sessions_get(a->links, id);

		log_info("session with %s (%s) is up", email,
			 l != NULL && l->outbound ? "dialled" : "accepted");
		tp_session_authenticated(s);
		overlay_dial_ok(a->overlay, email);
		if (l != NULL && l->query_repos.len > 0) {
			engine_request_to(a->engine, &l->query_repos, id, agent_now_ms(), &a->rng,
					  l->query_id, &a->acts);
			cm_strlist_clear(&l->query_repos);
		}
		if (l != NULL)
			drop_duplicate(a, l, email);
	}
	agent_run_actions(a);
}

static void
on_pong(struct tp_session *s, int64_t rtt_ms, void *arg)
{
	struct pa_agent *a = arg;
	struct link *l = sessions_get(a->links, tp_session_id(s));
	const char *email = engine_neighbour_email(a->engine, tp_session_id(s));
	int64_t now = cm_time_mono_ms();

	if (email == NULL)
		return;
	peertable_note_rtt(a->table, email, rtt_ms);
	/* Community feedback: what we measure feeds the servers' performance_score. */
	if (a->bc != NULL && l != NULL && now - l->last_feedback_ms >= FEEDBACK_EVERY_MS) {
		const struct peertable_entry *e = peertable_get(a->table, email);

		l->last_feedback_ms = now;
		/* Only about peers a trusted server attested: those are the servers' own rows. */
		if (e != NULL && peertable_entry_bootstrap(a->table, e, agent_now_ms()))
			bc_feedback(a->bc, email, rtt_ms, NULL, NULL);
	}
}

static void
on_close(struct tp_session *s, int code, const char *reason, void *arg)
{
	struct pa_agent *a = arg;
	uint64_t id = tp_session_id(s);
	struct link *l = sessions_get(a->links, id);
	const char *email = engine_neighbour_email(a->engine, id);

	if (email != NULL)
		log_info("session with %s closed: %d %s", email, code, reason);
	else if (l != NULL && l->outbound && l->email != NULL)
		log_info("could not reach %s: %d %s", l->email, code, reason);
	if (l != NULL && l->outbound && l->email != NULL && (!l->opened || email == NULL))
		overlay_dial_failed(a->overlay, l->email, cm_time_mono_ms(), &a->rng);
	else if (l != NULL && l->outbound && l->email != NULL && code == TP_CLOSE_FULL) {
		int64_t now = cm_time_mono_ms();

		/*
		 * Full of inbound neighbours: back off from it and dial someone else,
		 * now rather than at the next round, but at most once a round, so
		 * that a network short of room does not churn faster than it did.
		 */
		overlay_dial_failed(a->overlay, l->email, now, &a->rng);
		if (now - a->early_dial_ms >= DIAL_INTERVAL_MS) {
			a->early_dial_ms = now;
			agent_arm(a->dial_ev, overlay_jitter_ms(FULL_REDIAL_MS, &a->rng));
		}
	}
	engine_neighbour_down(a->engine, id, agent_now_ms());
	sessions_remove(a->links, id);
}

/* Dialling */

/* Returns the new session's link, or NULL when the dial could not start. */
static struct link *
dial(struct pa_agent *a, const struct overlay_dial *d)
{
	struct tp_session *s = tp_connect(a->tp, d->ip, d->port, a->cfg->bind, d->fingerprint);
	struct link *l;

	if (s == NULL) {
		overlay_dial_failed(a->overlay, d->email, cm_time_mono_ms(), &a->rng);
		return NULL;
	}
	log_info("dialling %s at %s port %d", d->email, d->ip, d->port);
	if ((l = sessions_add(a->links, tp_session_id(s), s, d->email, true)) == NULL)
		tp_close(s, 1011, "out of memory");
	return l;
}

/*
 * How many sessions count as held when planning dials: the neighbours that
 * said hello and the dials of ours still under way. An inbound session that
 * has not authenticated counts for nothing, and while fewer than dial_slots
 * sessions are ours the count is lowered so that we dial anyway: sessions
 * others opened cannot stop us reaching peers we chose. *ours_out: the
 * sessions we dialled.
 */
static size_t
sessions_held(const struct pa_agent *a, size_t *ours_out)
{
	const struct link *l;
	size_t cursor = 0, held = 0, ours = 0, target = (size_t)a->cfg->neighbours;
	size_t slots = (size_t)a->cfg->dial_slots;

	while ((l = sessions_next(a->links, &cursor)) != NULL) {
		/* Sessions through relays are extra ([relay] max_relayed), not neighbours; so are a lookup's. */
		if (l->via != NULL || l->query_until_ms > 0)
			continue;
		ours += l->outbound;
		held += l->outbound || engine_neighbour_email(a->engine, l->id) != NULL;
	}
	if (ours < slots && held > target - (slots - ours))
		held = target - (slots - ours);
	*ours_out = ours;
	return held;
}

/* Lookup by key */

static size_t
queries_open(const struct pa_agent *a)
{
	const struct link *l;
	size_t cursor = 0, n = 0;

	while ((l = sessions_next(a->links, &cursor)) != NULL)
		n += l->query_until_ms > 0;
	return n;
}

/*
 * The lookups' sessions whose time is up: kept as neighbours while we hold
 * fewer than we want (held of them), else closed. Returns held, with those kept.
 */
static size_t
queries_end(struct pa_agent *a, size_t held)
{
	uint64_t done[QUERIES_MAX];
	size_t n = 0, cursor = 0;
	int64_t now = cm_time_mono_ms();
	struct link *l;

	while ((l = sessions_next(a->links, &cursor)) != NULL && n < QUERIES_MAX) {
		if (l->query_until_ms == 0 || now < l->query_until_ms)
			continue;
		if (engine_neighbour_email(a->engine, l->id) != NULL &&
		    held < (size_t)a->cfg->neighbours) {
			l->query_until_ms = 0;
			held++;
		} else {
			done[n++] = l->id;
		}
	}
	/* Closed after the walk: a close may end the session, and its link, at once. */
	for (size_t i = 0; i < n; i++)
		if ((l = sessions_get(a->links, done[i])) != NULL)
			tp_close(l->s, 1000, "lookup answered");
	return held;
}

int
agent_ask_by_key(struct pa_agent *a, const struct cm_strlist *repos,
		 char id[CM_UUID_TEXT_LEN + 1])
{
	const struct peertable_entry *near[PEERTABLE_KEY_ASK];
	int64_t now = agent_now_ms(), mono = cm_time_mono_ms();
	int asked = 0;

	for (size_t r = 0; r < repos->len && asked < KEY_ASK_MAX; r++) {
		size_t n = peertable_nearest(a->table, repos->items[r], now, near, PEERTABLE_KEY_ASK);

		for (size_t i = 0; i < n && asked < KEY_ASK_MAX; i++) {
			const char *email = near[i]->rec.record.email;
			const struct link *l = agent_session_with(a, email, false);
			struct overlay_dial d;
			struct link *q;

			if (l != NULL) {
				asked += engine_request_to(a->engine, repos, l->id, now, &a->rng, id,
							   &a->acts);
				continue;
			}
			if (agent_linked(a, email) || queries_open(a) >= QUERIES_MAX ||
			    !overlay_dial_for(a->overlay, a->table, near[i], mono, now, &d) ||
			    (q = dial(a, &d)) == NULL)
				continue;
			if (id[0] == '\0')
				cm_uuid_generate(id);
			for (size_t j = 0; j < repos->len; j++)
				if (cm_strlist_append(&q->query_repos, repos->items[j]) != 0)
					cm_strlist_clear(&q->query_repos);
			snprintf(q->query_id, sizeof(q->query_id), "%s", id);
			q->query_until_ms = mono + QUERY_HOLD_MS;
			log_info("asking %s for %s by key", email, repos->items[r]);
			asked++;
		}
	}
	agent_run_actions(a);
	return asked;
}

/* Keeps `neighbours` sessions, as the overlay plans them. */
void
agent_dial_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pa_agent *a = arg;
	struct overlay_dial d[OVERLAY_DIALS_PER_ROUND];
	size_t n, held, ours;

	(void)fd;
	(void)what;
	agent_arm(a->dial_ev, overlay_jitter_ms(DIAL_INTERVAL_MS, &a->rng));
	if (a->stopping)
		return;
	held = queries_end(a, sessions_held(a, &ours));
	n = overlay_plan(a->overlay, a->table, held, agent_linked, a, cm_time_mono_ms(), agent_now_ms(), d);
	/*
	 * No neighbour, or too few sessions of our own and nobody left to dial:
	 * what neighbours (maybe all chosen by others) tell us is not enough.
	 * And once an hour anyway, to renew the attestations.
	 */
	if (a->bc != NULL && (engine_neighbour_count(a->engine) == 0 ||
			      (n == 0 && ours < (size_t)a->cfg->dial_slots) ||
			      cm_time_mono_ms() - a->peers_listed_ms >= ATTEST_RENEW_MS))
		agent_fetch_bootstrap_peers(a);
	for (size_t i = 0; i < n; i++)
		dial(a, &d[i]);
	agent_relay_dials(a);
}

const struct tp_callbacks agent_tp_callbacks = {on_open, on_text, on_pong, on_close};
