/*
 * engine_fixture.h - engines wired in memory for the engine suites: peers
 * with their own engine and table, frames between them, signed records.
 * Include after check_main.h; each suite defines its tests and FB_CHECK_MAIN.
 */
#ifndef ENGINE_FIXTURE_H
#define ENGINE_FIXTURE_H

#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/engine.h"
#include "fb/codec.h"
#include "fb/random.h"
#include "testutil.h"

#define SEC 1000LL
#define T0 (1700000000000LL)
#define MAXP 64

/* xorshift64*: reproducible randomness; fixed values for forced choices. */
struct rngstate {
	uint64_t s;
	bool fixed;
	uint64_t value;
};

static inline uint64_t
rng_next(void *ctx)
{
	struct rngstate *r = ctx;

	if (r->fixed)
		return r->value;
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 2685821657736338717ULL;
}

#define FIXTURE_RNG_SEED 88172645463325252ULL
static struct rngstate rs = {.s = FIXTURE_RNG_SEED};
/* Fixed, so runs repeat; the daemon's key is random. */
static const struct cm_hash_key fixture_key = {0x66697874, 0x75726573};
/* The next peers' table_max; 0: the default. setup() resets it. */
static size_t fixture_table_max;
static struct engine_rng rng = {rng_next, &rs};

struct peer {
	struct cm_identity *id;
	struct peertable *t;
	struct engine *e;
	char fp[CM_FINGERPRINT_LEN + 1];
	bool broadcasting;
	bool bootstrap;
};

static struct peer P[MAXP];
static size_t NP;
static struct engine_actions acts[MAXP];
static int64_t now;

static inline void
self_record(struct cm_peer_record *r, const char *email, bool broadcasting, bool bootstrap,
	    const char *repo, int n)
{
	char ip[32];

	memset(r, 0, sizeof(*r));
	r->email = strdup(email);
	r->peer_id = strdup("7c6d5e4f-3a2b-4c1d-8e9f-0a1b2c3d4e5f");
	r->is_broadcasting = broadcasting;
	r->is_bootstrap = bootstrap;
	snprintf(ip, sizeof(ip), "10.1.%d.%d", n / 250, n % 250 + 1);
	cm_strlist_append(&r->socket_addresses, ip);
	r->port = 7443;
	if (repo != NULL)
		cm_repolist_append(&r->repositories, repo, NULL);
	r->capabilities.max_peers = 8;
}

/* Adds a peer with its own engine and table; returns its index. */
static inline size_t
add_peer_cfg(bool broadcasting, bool bootstrap, const char *repo,
	     const struct engine_config *ecfg)
{
	size_t i = NP++;
	struct peer *p = &P[i];
	char email[64];
	struct peertable_config tc;
	struct cm_peer_record r;

	ck_assert_uint_lt(i, MAXP);
	snprintf(email, sizeof(email), "p%zu@example.com", i);
	p->id = tu_identity(email);
	snprintf(p->fp, sizeof(p->fp), "%s", cm_cert_fingerprint(cm_identity_cert(p->id)));
	peertable_config_default(&tc);
	if (fixture_table_max > 0)
		tc.max_entries = fixture_table_max;
	p->t = peertable_new(&tc, &fixture_key, email);
	p->e = engine_new(ecfg, p->t, p->id);
	ck_assert_ptr_nonnull(p->e);
	p->broadcasting = broadcasting;
	p->bootstrap = bootstrap;
	self_record(&r, email, broadcasting, bootstrap, repo, (int)i);
	ck_assert_int_eq(engine_set_self(p->e, &r, now, &rng, &acts[i]), 0);
	cm_peer_record_clear(&r);
	return i;
}

static inline size_t
add_peer(bool broadcasting, bool bootstrap, const char *repo)
{
	struct engine_config c;

	engine_config_default(&c);
	return add_peer_cfg(broadcasting, bootstrap, repo, &c);
}

/* Neighbour ids: peer j is neighbour j + 1 in everyone's view. */
static inline uint64_t
nid(size_t j)
{
	return (uint64_t)j + 1;
}

static inline int
count_sends(size_t i, uint64_t to, enum cm_msg_type type)
{
	int n = 0;

	for (size_t k = 0; k < acts[i].len; k++) {
		struct cm_envelope env;
		struct cm_err err;

		if (acts[i].items[k].kind != ENGINE_SEND || (to != 0 && acts[i].items[k].neighbour != to))
			continue;
		if (cm_envelope_from_frame(acts[i].items[k].frame, acts[i].items[k].frame_len, &env,
					   &err) != 0)
			continue;
		n += env.type == type;
		cm_envelope_clear(&env);
	}
	return n;
}

static inline int
close_code(size_t i, uint64_t to)
{
	for (size_t k = 0; k < acts[i].len; k++)
		if (acts[i].items[k].kind == ENGINE_CLOSE && acts[i].items[k].neighbour == to)
			return acts[i].items[k].close_code;
	return 0;
}

/* Delivers every queued frame, and what it causes, until quiet (bounded). */
static inline void
pump(void)
{
	for (int round = 0; round < 200; round++) {
		bool any = false;

		for (size_t i = 0; i < NP; i++) {
			struct engine_actions a = acts[i];

			memset(&acts[i], 0, sizeof(acts[i]));
			for (size_t k = 0; k < a.len; k++) {
				size_t j = (size_t)a.items[k].neighbour - 1;

				if (a.items[k].kind != ENGINE_SEND || j >= NP)
					continue;
				any = true;
				engine_receive(P[j].e, nid(i), a.items[k].frame, a.items[k].frame_len,
					       now, &rng, &acts[j]);
			}
			engine_actions_clear(&a);
		}
		if (!any)
			return;
	}
	ck_abort_msg("gossip did not quiesce");
}

static inline void
link_peers(size_t a, size_t b)
{
	ck_assert_int_eq(engine_neighbour_up(P[a].e, nid(b), false, P[b].fp, now, &rng, &acts[a]),
			 0);
	ck_assert_int_eq(engine_neighbour_up(P[b].e, nid(a), true, P[a].fp, now, &rng, &acts[b]), 0);
}

static inline void
clear_actions(void)
{
	for (size_t i = 0; i < NP; i++)
		engine_actions_clear(&acts[i]);
}

static inline void
setup(void)
{
	NP = 0;
	now = T0;
	fixture_table_max = 0;
	/* Each test from the same state, forked or not (CK_FORK=no: make asan). */
	rs = (struct rngstate){.s = FIXTURE_RNG_SEED};
}

static inline void
teardown(void)
{
	for (size_t i = 0; i < NP; i++) {
		engine_actions_clear(&acts[i]);
		engine_free(P[i].e);
		peertable_free(P[i].t);
		cm_identity_free(P[i].id);
	}
	NP = 0;
}

/* A frame from peer `from` carrying an announcement of rec, as JSON text (caller frees). */
static inline char *
announcement_frame(size_t from, const struct cm_signed_record *rec, int ttl, int64_t ts,
		   const char *id)
{
	struct cm_envelope env = {0};
	char idbuf[CM_UUID_TEXT_LEN + 1];
	json_t *j;
	char *s;

	if (id == NULL) {
		cm_uuid_generate(idbuf);
		id = idbuf;
	}
	env.v = 1;
	env.id = (char *)id;
	env.type = CM_MSG_PEER_ANNOUNCEMENT;
	env.ttl = ttl;
	env.timestamp_ms = ts;
	env.sender_email = (char *)cm_identity_email(P[from].id);
	env.sender_peer_id = "7c6d5e4f-3a2b-4c1d-8e9f-0a1b2c3d4e5f";
	env.payload.announcement.origin = *rec;
	j = cm_envelope_encode(&env);
	ck_assert_ptr_nonnull(j);
	s = cm_json_dump(j);
	json_decref(j);
	return s;
}

/* Like announcement_frame, but a refresh: the record without its certificate. */
static inline char *
refresh_frame(size_t from, const struct cm_signed_record *rec, int ttl)
{
	struct cm_signed_record bare = *rec;

	bare.public_certificate = NULL;
	return announcement_frame(from, &bare, ttl, now, NULL);
}

static inline enum engine_verdict
deliver(size_t to, size_t from, const char *frame)
{
	return engine_receive(P[to].e, nid(from), frame, strlen(frame), now, &rng, &acts[to]);
}

/* A record of peer i signed with its key, issued at `at` with sequence seq. */
static inline void
signed_record_of(size_t i, int64_t seq, int64_t at, bool broadcasting, const char *repo,
		 struct cm_signed_record *out)
{
	struct cm_peer_record r;
	struct cm_err err;

	self_record(&r, cm_identity_email(P[i].id), broadcasting, false, repo, (int)i);
	r.seq = seq;
	r.issued_at_ms = at;
	if (!broadcasting) {
		cm_strlist_clear(&r.socket_addresses);
		r.port = 0;
	}
	ck_assert_int_eq(cm_record_sign(&r, P[i].id, out, &err), 0);
	cm_peer_record_clear(&r);
}

/* A hub with n spokes, all authenticated, actions cleared. */
/* Whether l holds peer's email. */
static inline bool
has_email(const struct cm_strlist *l, size_t peer)
{
	for (size_t i = 0; i < l->len; i++)
		if (strcmp(l->items[i], cm_identity_email(P[peer].id)) == 0)
			return true;
	return false;
}

/* A new peer hosting repo, its record already in peer holder's table; returns its index. */
static inline size_t
host_in(size_t holder, const char *repo)
{
	size_t h = add_peer(true, false, repo);
	struct cm_signed_record rec;

	signed_record_of(h, 1, now, true, repo, &rec);
	ck_assert_int_eq(peertable_apply(P[holder].t, &rec, P[h].fp, now), PEERTABLE_INSERTED);
	cm_signed_record_clear(&rec);
	return h;
}

/*
 * Peer 0 with a table of table_max entries, linked to peer 1 (default table)
 * and filled up with records of new peers hosting "filler". Returns 0.
 */
static inline size_t
full_table_asker(size_t table_max)
{
	size_t a;

	fixture_table_max = table_max;
	a = add_peer(true, false, "r");
	fixture_table_max = 0;
	link_peers(a, add_peer(true, false, "r"));
	pump();
	clear_actions();
	while (peertable_count(P[a].t) < table_max)
		host_in(a, "filler");
	return a;
}

static inline size_t
star(size_t n)
{
	size_t hub = add_peer(true, false, "r");

	for (size_t i = 0; i < n; i++)
		link_peers(hub, add_peer(true, false, "r"));
	pump();
	clear_actions();
	return hub;
}

#endif
