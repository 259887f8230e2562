/*
 * check_engine_hostile.c - the gossip rules against a hostile neighbour:
 * rate limits, bounded answers, signature floods, seen-id shadowing,
 * unsigned bytes in forwards. Engines wired in memory (engine_fixture.h).
 */
#define _GNU_SOURCE /* nftw, in testutil.h */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/engine.h"
#include "fb/codec.h"
#include "check_main.h"
#include "testutil.h"
#include "engine_fixture.h"

/* A PEER_REQUEST from peer `from` for repo (NULL: any), as JSON text (caller frees). */
static char *
request_frame(size_t from, const char *repo)
{
	struct cm_envelope env = {0};
	char id[CM_UUID_TEXT_LEN + 1];
	json_t *j;
	char *s;

	cm_uuid_generate(id);
	env.v = 1;
	env.id = id;
	env.type = CM_MSG_PEER_REQUEST;
	env.ttl = 1;
	env.timestamp_ms = now;
	env.sender_email = (char *)cm_identity_email(P[from].id);
	env.sender_peer_id = "7c6d5e4f-3a2b-4c1d-8e9f-0a1b2c3d4e5f";
	if (repo != NULL)
		cm_strlist_append(&env.payload.request.repositories, repo);
	j = cm_envelope_encode(&env);
	ck_assert_ptr_nonnull(j);
	s = cm_json_dump(j);
	json_decref(j);
	cm_strlist_clear(&env.payload.request.repositories);
	return s;
}

/* origin's record with one byte of its signed text changed: the signature fails. */
static void
forged_record_of(size_t origin, int64_t seq, struct cm_signed_record *rec)
{
	char *p;

	signed_record_of(origin, seq, now, true, "x", rec);
	p = strstr(rec->canonical, "10.1.");
	ck_assert_ptr_nonnull(p);
	p[3] = '9';
}

START_TEST(test_engine_closes_session_after_three_bad_signatures)
{
	size_t hub = star(2), origin = add_peer(true, false, "x");
	struct cm_signed_record rec, good;
	char *f;

	forged_record_of(origin, 5, &rec);
	for (int i = 0; i < 3; i++) {
		f = announcement_frame(1, &rec, 5, now, NULL);
		ck_assert_int_eq(deliver(hub, 1, f), ENGINE_DROP_SIGNATURE);
		free(f);
		/* Two are forgiven (a bug, a race); the third closes the session. */
		ck_assert_int_eq(close_code(hub, nid(1)), i < 2 ? 0 : ENGINE_CLOSE_POLICY);
	}
	ck_assert_uint_eq(engine_stats(P[hub].e)->closed_bad_signatures, 1);
	/* Nothing more from it is applied, not even a good record. */
	signed_record_of(origin, 6, now, true, "x", &good);
	f = announcement_frame(1, &good, 5, now, NULL);
	ck_assert_int_eq(deliver(hub, 1, f), ENGINE_DROP_UNKNOWN);
	ck_assert_ptr_null(peertable_get(P[hub].t, good.record.email));
	/* Another neighbour is not blamed. */
	ck_assert_int_eq(deliver(hub, 2, f), ENGINE_ACCEPTED);
	free(f);
	cm_signed_record_clear(&rec);
	cm_signed_record_clear(&good);
}
END_TEST

START_TEST(test_engine_closes_session_after_bad_signatures_in_one_answer)
{
	size_t a = add_peer(true, false, "r"), b = add_peer(true, false, "r");
	size_t o[4];
	struct cm_signed_record recs[4];
	struct cm_envelope env = {0};
	struct cm_strlist repos = {0};
	char id[CM_UUID_TEXT_LEN + 1], eid[CM_UUID_TEXT_LEN + 1];
	json_t *j;
	char *f;

	link_peers(a, b);
	pump();
	clear_actions();
	ck_assert_int_eq(engine_request(P[a].e, &repos, 1, now, &rng, id, &acts[a]), 1);
	clear_actions();
	for (int i = 0; i < 4; i++) {
		o[i] = add_peer(true, false, "x");
		forged_record_of(o[i], 5, &recs[i]);
	}
	/* b answers with four forged records: a stops checking at the third. */
	cm_uuid_generate(eid);
	env.v = 1;
	env.id = eid;
	env.type = CM_MSG_PEER_LIST_RESPONSE;
	env.ttl = 1;
	env.timestamp_ms = now;
	env.sender_email = (char *)cm_identity_email(P[b].id);
	env.sender_peer_id = "7c6d5e4f-3a2b-4c1d-8e9f-0a1b2c3d4e5f";
	env.payload.list_response.request_id = id;
	env.payload.list_response.peers.items = recs;
	env.payload.list_response.peers.len = 4;
	j = cm_envelope_encode(&env);
	f = cm_json_dump(j);
	json_decref(j);
	deliver(a, b, f);
	ck_assert_int_eq(close_code(a, nid(b)), ENGINE_CLOSE_POLICY);
	ck_assert_uint_eq(engine_stats(P[a].e)->closed_bad_signatures, 1);
	free(f);
	for (int i = 0; i < 4; i++)
		cm_signed_record_clear(&recs[i]);
}
END_TEST

START_TEST(test_engine_answer_makes_room_for_at_most_sixteen_hosts)
{
	size_t a = full_table_asker(24), b = 1, hosts[20];
	struct cm_strlist emails = {0}, repos = {0};
	char id[CM_UUID_TEXT_LEN + 1];
	size_t held = 0;

	/* b names twenty hosts of what a asks for (minted identities, say). */
	for (size_t i = 0; i < 20; i++)
		hosts[i] = host_in(b, "alpha");
	cm_strlist_append(&repos, "alpha");
	ck_assert_int_eq(engine_request(P[a].e, &repos, 1, now, &rng, id, &acts[a]), 1);
	pump();
	ck_assert_int_eq(engine_request_take(P[a].e, id, &emails), 0);
	for (size_t i = 0; i < 20; i++)
		held += peertable_get(P[a].t, cm_identity_email(P[hosts[i]].id)) != NULL;
	ck_assert_uint_eq(held, ENGINE_WANTED_MAX);
	ck_assert_uint_eq(emails.len, ENGINE_WANTED_MAX);
	ck_assert_uint_eq(peertable_count(P[a].t), 24);
	cm_strlist_clear(&emails);
	cm_strlist_clear(&repos);
}
END_TEST

START_TEST(test_engine_processes_one_answer_per_request)
{
	size_t a = add_peer(true, false, "r"), b = add_peer(true, false, "r"), c;
	struct cm_strlist repos = {0}, emails = {0};
	struct cm_signed_record rec;
	char id[CM_UUID_TEXT_LEN + 1];
	struct engine_actions answer;

	link_peers(a, b);
	pump();
	c = add_peer(true, false, "alpha");
	signed_record_of(c, 1, now, true, "alpha", &rec);
	ck_assert_int_eq(peertable_apply(P[b].t, &rec, P[c].fp, now), PEERTABLE_INSERTED);
	clear_actions();
	ck_assert_int_eq(engine_request(P[a].e, &repos, 1, now, &rng, id, &acts[a]), 1);
	ck_assert_int_eq(deliver(b, a, acts[a].items[0].frame), ENGINE_ACCEPTED);
	answer = acts[b];
	memset(&acts[b], 0, sizeof(acts[b]));
	ck_assert_uint_eq(answer.len, 1);
	ck_assert_int_eq(deliver(a, b, answer.items[0].frame), ENGINE_ACCEPTED);
	/* The same answer again, or any other to that request: dropped, counted. */
	ck_assert_int_eq(deliver(a, b, answer.items[0].frame), ENGINE_DROP_ANSWERED);
	ck_assert_uint_eq(engine_stats(P[a].e)->verdicts[ENGINE_DROP_ANSWERED], 1);
	ck_assert_int_eq(engine_request_take(P[a].e, id, &emails), 0);
	ck_assert_uint_eq(emails.len, 2); /* c, and b itself */
	engine_actions_clear(&answer);
	cm_strlist_clear(&emails);
	cm_signed_record_clear(&rec);
}
END_TEST

START_TEST(test_engine_remembers_id_only_after_accept)
{
	size_t hub = star(3), origin = add_peer(true, false, "x"), sybil = add_peer(true, false, "x");
	const char *id = "11111111-2222-4333-8444-555555555555";
	struct cm_signed_record r5, r6, own, forged;
	char *f;

	signed_record_of(origin, 5, now, true, "x", &r5);
	f = announcement_frame(1, &r5, 5, now, NULL);
	ck_assert_int_eq(deliver(hub, 1, f), ENGINE_ACCEPTED);
	free(f);
	/* The attacker saw the genuine announcement's id and races copies under it: */
	/* an old record (judged old unchecked), */
	f = announcement_frame(1, &r5, 5, now, id);
	ck_assert_int_eq(deliver(hub, 1, f), ENGINE_DROP_OLD);
	free(f);
	/* a forged one, */
	forged_record_of(origin, 6, &forged);
	f = announcement_frame(1, &forged, 5, now, id);
	ck_assert_int_eq(deliver(hub, 1, f), ENGINE_DROP_SIGNATURE);
	free(f);
	/* and a valid record of its own. */
	signed_record_of(sybil, 1, now, true, "x", &own);
	f = announcement_frame(1, &own, 5, now, id);
	ck_assert_int_eq(deliver(hub, 1, f), ENGINE_ACCEPTED);
	free(f);
	/* The genuine one still gets through, and only then is a duplicate. */
	signed_record_of(origin, 6, now, true, "y", &r6);
	f = announcement_frame(2, &r6, 5, now, id);
	ck_assert_int_eq(deliver(hub, 2, f), ENGINE_ACCEPTED);
	ck_assert_int_eq(peertable_get(P[hub].t, r6.record.email)->rec.record.seq, 6);
	ck_assert_int_eq(deliver(hub, 3, f), ENGINE_DUPLICATE);
	free(f);
	cm_signed_record_clear(&r5);
	cm_signed_record_clear(&r6);
	cm_signed_record_clear(&own);
	cm_signed_record_clear(&forged);
}
END_TEST

START_TEST(test_engine_forward_carries_no_unsigned_fields)
{
	size_t hub = star(4), origin = add_peer(true, false, "x");
	struct cm_signed_record rec;
	struct cm_err err;
	json_t *j;
	char *f, *padded, pad[4096];
	int forwards = 0;

	signed_record_of(origin, 5, now, true, "x", &rec);
	f = announcement_frame(1, &rec, 5, now, NULL);
	/* Unsigned extras at every level outside the signed record. */
	memset(pad, 'P', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	j = json_loads(f, 0, NULL);
	json_object_set_new(j, "padding", json_string(pad));
	json_object_set_new(json_object_get(j, "payload"), "junk", json_string("J0NK"));
	json_object_set_new(json_object_get(json_object_get(j, "payload"), "origin"), "extra",
			    json_string("EXTRA"));
	json_object_set_new(json_object_get(j, "sender"), "note", json_string("N0TE"));
	padded = cm_json_dump(j);
	json_decref(j);
	ck_assert_int_eq(deliver(hub, 1, padded), ENGINE_ACCEPTED);
	for (size_t k = 0; k < acts[hub].len; k++) {
		const struct engine_action *a = &acts[hub].items[k];
		struct cm_envelope env;

		if (a->kind != ENGINE_SEND)
			continue;
		forwards++;
		ck_assert_ptr_null(strstr(a->frame, "PPPP"));
		ck_assert_ptr_null(strstr(a->frame, "J0NK"));
		ck_assert_ptr_null(strstr(a->frame, "EXTRA"));
		ck_assert_ptr_null(strstr(a->frame, "N0TE"));
		ck_assert_uint_lt(a->frame_len, strlen(f) + 64);
		/* What is left still verifies: the signed record's own text. */
		ck_assert_int_eq(cm_envelope_from_frame(a->frame, a->frame_len, &env, &err), 0);
		ck_assert_str_eq(env.payload.announcement.origin.canonical, rec.canonical);
		ck_assert_int_eq(env.ttl, 4);
		cm_envelope_clear(&env);
	}
	ck_assert_int_gt(forwards, 0);
	free(f);
	free(padded);
	cm_signed_record_clear(&rec);
}
END_TEST

/* origin's silent record that still lists an address, signed by origin. */
static void
silent_record_with_address(size_t origin, struct cm_signed_record *rec)
{
	struct cm_err err;
	json_t *j;

	signed_record_of(origin, 5, now, false, "x", rec);
	j = json_loads(rec->canonical, 0, NULL);
	json_object_set_new(j, "socket_addresses", json_pack("[s]", "192.168.7.7"));
	free(rec->canonical);
	free(rec->signature);
	rec->canonical = cm_json_canonical(j, &err);
	json_decref(j);
	ck_assert_int_eq(cm_identity_sign(P[origin].id, rec->canonical, strlen(rec->canonical),
					  &rec->signature, &err),
			 0);
	cm_strlist_append(&rec->record.socket_addresses, "192.168.7.7");
}

START_TEST(test_engine_refuses_silent_hello_with_addresses)
{
	size_t hub = add_peer(true, false, "r"), origin = add_peer(false, false, "x");
	struct cm_signed_record rec;
	char *f;

	silent_record_with_address(origin, &rec);
	ck_assert_int_eq(engine_neighbour_up(P[hub].e, nid(origin), true, P[origin].fp, now, &rng,
					     &acts[hub]),
			 0);
	f = announcement_frame(origin, &rec, 5, now, NULL);
	ck_assert_int_eq(deliver(hub, origin, f), ENGINE_DROP_RECORD_INVALID);
	ck_assert_int_eq(close_code(hub, nid(origin)), ENGINE_CLOSE_POLICY);
	ck_assert_ptr_null(peertable_get(P[hub].t, rec.record.email));
	free(f);
	cm_signed_record_clear(&rec);
}
END_TEST

START_TEST(test_engine_answer_carries_no_unsigned_fields)
{
	size_t a = add_peer(true, false, "r"), b = add_peer(true, false, "r"),
	       origin = add_peer(true, false, "x");
	struct cm_signed_record rec;
	json_t *j;
	char *f, *extra;

	link_peers(a, b);
	pump();
	signed_record_of(origin, 5, now, true, "x", &rec);
	f = announcement_frame(b, &rec, 1, now, NULL);
	j = json_loads(f, 0, NULL);
	json_object_set_new(json_object_get(json_object_get(j, "payload"), "origin"), "extra",
			    json_string("EXTRA"));
	extra = cm_json_dump(j);
	json_decref(j);
	ck_assert_int_eq(deliver(a, b, extra), ENGINE_ACCEPTED);
	clear_actions();
	free(f);
	f = request_frame(b, "x");
	ck_assert_int_eq(deliver(a, b, f), ENGINE_ACCEPTED);
	ck_assert_int_eq(count_sends(a, nid(b), CM_MSG_PEER_LIST_RESPONSE), 1);
	ck_assert_ptr_nonnull(strstr(acts[a].items[0].frame, rec.record.email));
	ck_assert_ptr_null(strstr(acts[a].items[0].frame, "EXTRA"));
	free(f);
	free(extra);
	cm_signed_record_clear(&rec);
}
END_TEST

START_TEST(test_engine_rate_limits_requests_per_neighbour)
{
	size_t a = add_peer(true, false, "r"), b = add_peer(true, false, "r"),
	       c = add_peer(true, false, "r");
	struct engine_config cfg;
	int answered = 0, limited = 0;
	char *f;

	engine_config_default(&cfg);
	link_peers(a, b);
	link_peers(a, c);
	pump();
	clear_actions();
	/* A burst over the bucket, all at one instant: the burst is answered, the rest dropped. */
	for (int i = 0; i < (int)cfg.rate[ENGINE_KIND_REQUEST].burst + 10; i++) {
		enum engine_verdict v;

		f = request_frame(b, NULL);
		v = deliver(a, b, f);
		answered += v == ENGINE_ACCEPTED;
		limited += v == ENGINE_DROP_RATE;
		free(f);
	}
	/* The session's first digest (at the hello) took one token. */
	ck_assert_int_eq(answered, (int)cfg.rate[ENGINE_KIND_REQUEST].burst - 1);
	ck_assert_int_eq(limited, 11);
	ck_assert_int_eq(count_sends(a, nid(b), CM_MSG_PEER_LIST_RESPONSE), answered);
	ck_assert_int_eq(close_code(a, nid(b)), 0);
	/* Per neighbour: another one is still answered. */
	f = request_frame(c, NULL);
	ck_assert_int_eq(deliver(a, c, f), ENGINE_ACCEPTED);
	free(f);
	/* The bucket refills with time. */
	now += 2 * SEC;
	f = request_frame(b, NULL);
	ck_assert_int_eq(deliver(a, b, f), ENGINE_ACCEPTED);
	free(f);
	/* A neighbour that stays over the limit is closed. */
	for (int i = 0; i < 1000 && close_code(a, nid(b)) == 0; i++) {
		f = request_frame(b, NULL);
		deliver(a, b, f);
		free(f);
	}
	ck_assert_int_eq(close_code(a, nid(b)), ENGINE_CLOSE_POLICY);
	ck_assert_uint_eq(engine_stats(P[a].e)->closed_rate, 1);
	ck_assert_str_eq(engine_verdict_name(ENGINE_DROP_RATE), "rate");
}
END_TEST

START_TEST(test_engine_rate_limits_each_kind_apart)
{
	size_t a = add_peer(true, false, "r"), b = add_peer(true, false, "r");
	struct engine_config cfg;
	char *f;

	engine_config_default(&cfg);
	link_peers(a, b);
	pump();
	clear_actions();
	/* The session's first digest (at the hello) took one token. */
	for (int i = 0; i < (int)cfg.rate[ENGINE_KIND_REQUEST].burst - 1; i++) {
		f = request_frame(b, NULL);
		ck_assert_int_eq(deliver(a, b, f), ENGINE_ACCEPTED);
		free(f);
	}
	f = request_frame(b, NULL);
	ck_assert_int_eq(deliver(a, b, f), ENGINE_DROP_RATE);
	free(f);
	/* Its requests spent, its announcements still count. */
	{
		size_t origin = add_peer(true, false, "x");
		struct cm_signed_record rec;

		signed_record_of(origin, 5, now, true, "x", &rec);
		f = announcement_frame(b, &rec, 5, now, NULL);
		ck_assert_int_eq(deliver(a, b, f), ENGINE_ACCEPTED);
		free(f);
		cm_signed_record_clear(&rec);
	}
}
END_TEST

/* A record of peer i with nrepos repositories, each with a 1000-byte description. */
static void
big_record_of(size_t i, int nrepos, struct cm_signed_record *out)
{
	struct cm_peer_record r;
	struct cm_err err;
	char name[32], desc[1001];

	memset(desc, 'd', sizeof(desc) - 1);
	desc[sizeof(desc) - 1] = '\0';
	self_record(&r, cm_identity_email(P[i].id), true, false, NULL, (int)i);
	for (int k = 0; k < nrepos; k++) {
		snprintf(name, sizeof(name), "repo-%d", k);
		cm_repolist_append(&r.repositories, name, desc);
	}
	r.seq = 1;
	r.issued_at_ms = now;
	ck_assert_int_eq(cm_record_sign(&r, P[i].id, out, &err), 0);
	cm_peer_record_clear(&r);
}

/* a's table gets n records of about 20 KB each. */
static void
fill_big(size_t a, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		size_t o = add_peer(true, false, "r");
		struct cm_signed_record rec;

		big_record_of(o, 20, &rec);
		ck_assert_int_eq(peertable_apply(P[a].t, &rec, P[o].fp, now),
				 PEERTABLE_INSERTED);
		cm_signed_record_clear(&rec);
	}
}

START_TEST(test_engine_answers_are_bounded_in_bytes)
{
	size_t a = add_peer(true, false, "r"), b = add_peer(true, false, "r");
	struct engine_config cfg;
	size_t bytes = 0;
	int frames = 0;
	char *f;

	engine_config_default(&cfg);
	link_peers(a, b);
	pump();
	fill_big(a, 16); /* about 330 KB that a request for anything would match */
	clear_actions();
	f = request_frame(b, NULL);
	ck_assert_int_eq(deliver(a, b, f), ENGINE_ACCEPTED);
	free(f);
	for (size_t k = 0; k < acts[a].len; k++) {
		if (acts[a].items[k].kind != ENGINE_SEND)
			continue;
		frames++;
		bytes += acts[a].items[k].frame_len;
	}
	/* One frame, within the named limit (plus the envelope around it). */
	ck_assert_int_eq(frames, 1);
	ck_assert_uint_le(bytes, cfg.answer_max_bytes + 1024);
	ck_assert_uint_gt(bytes, cfg.answer_max_bytes / 2);
	ck_assert_uint_eq(engine_stats(P[a].e)->answers_cut, 1);
}
END_TEST

START_TEST(test_engine_anti_entropy_continues_after_a_cut_answer)
{
	size_t a, b;
	struct engine_config c;

	engine_config_default(&c);
	c.anti_entropy_ms = 1 * SEC;
	c.answer_max_bytes = 64 * 1024; /* two or three of these records */
	a = add_peer_cfg(true, false, "r", &c);
	b = add_peer_cfg(true, false, "r", &c);
	fill_big(a, 16);
	link_peers(a, b);
	pump();
	clear_actions();
	/* Each answer takes a few records; the exchanges after it go on from there. */
	for (int s = 0; s < 40; s++) {
		now += SEC / 2;
		engine_tick(P[a].e, now, &rng, &acts[a]);
		engine_tick(P[b].e, now, &rng, &acts[b]);
		pump();
	}
	/*
	 * Several answers were cut, and b still got most of the table: the
	 * exchanges went on from each cut. (Not all of it: a record the Bloom
	 * filter takes for one b holds is not sent, as in any exchange.)
	 */
	ck_assert_uint_ge(engine_stats(P[a].e)->answers_cut, 4);
	ck_assert_uint_ge(peertable_count(P[b].t) * 4, peertable_count(P[a].t) * 3);
}
END_TEST

START_TEST(test_engine_duplicate_forward_sends_only_verified_bytes)
{
	size_t hub = star(4), origin = add_peer(true, false, "x");
	const char *id = "21111111-2222-4333-8444-555555555555";
	struct cm_signed_record rec, forged;
	int forwards = 0;
	char *f;

	signed_record_of(origin, 5, now, true, "x", &rec);
	f = announcement_frame(1, &rec, 5, now, id);
	ck_assert_int_eq(deliver(hub, 1, f), ENGINE_ACCEPTED);
	free(f);
	clear_actions();
	/* A forged copy under the genuine id and seq, and the re-forward chance forced. */
	forged_record_of(origin, 5, &forged);
	f = announcement_frame(2, &forged, 5, now, id);
	rs.fixed = true;
	rs.value = 0;
	ck_assert_int_eq(deliver(hub, 2, f), ENGINE_DUPLICATE);
	rs.fixed = false;
	free(f);
	for (size_t k = 0; k < acts[hub].len; k++) {
		const struct engine_action *a = &acts[hub].items[k];
		struct cm_envelope env;
		struct cm_err err;

		if (a->kind != ENGINE_SEND)
			continue;
		forwards++;
		/* What goes on is the table's verified record, not the forgery. */
		ck_assert_int_eq(cm_envelope_from_frame(a->frame, a->frame_len, &env, &err), 0);
		ck_assert_str_eq(env.payload.announcement.origin.canonical, rec.canonical);
		ck_assert_str_eq(env.payload.announcement.origin.signature, rec.signature);
		cm_envelope_clear(&env);
	}
	ck_assert_int_gt(forwards, 0);
	cm_signed_record_clear(&rec);
	cm_signed_record_clear(&forged);
}
END_TEST

/* rec's announcement from peer `from` with an unsigned padding field of pad bytes (caller frees). */
static char *
padded_frame(size_t from, const struct cm_signed_record *rec, size_t pad)
{
	char *f = announcement_frame(from, rec, 5, now, NULL), *p = malloc(pad + 1), *out;
	json_t *j = json_loads(f, 0, NULL);

	ck_assert_ptr_nonnull(p);
	memset(p, 'P', pad);
	p[pad] = '\0';
	json_object_set_new(j, "padding", json_string(p));
	out = cm_json_dump(j);
	json_decref(j);
	free(p);
	free(f);
	return out;
}

START_TEST(test_engine_limits_bytes_in_before_parsing)
{
	size_t a = add_peer(true, false, "r"), b = add_peer(true, false, "r"),
	       origin = add_peer(true, false, "x");
	struct engine_config cfg;
	struct cm_signed_record rec;
	size_t taken = 0;
	enum engine_verdict v;
	char *f;

	engine_config_default(&cfg);
	link_peers(a, b);
	pump();
	clear_actions();
	signed_record_of(origin, 5, now, true, "x", &rec);
	/* Big frames, all at one instant: within the burst they are read, then dropped. */
	for (int i = 0; i < 20; i++) {
		f = padded_frame(b, &rec, 200 * 1024);
		v = deliver(a, b, f);
		if (v != ENGINE_DROP_RATE)
			taken += strlen(f);
		free(f);
		if (v == ENGINE_DROP_RATE)
			break;
	}
	ck_assert_int_eq(v, ENGINE_DROP_RATE);
	ck_assert_uint_le(taken, (size_t)cfg.rate_bytes_in.burst);
	ck_assert_uint_gt(taken, (size_t)cfg.rate_bytes_in.burst / 2);
	/* Not even parsed: garbage over the budget is a rate drop, not a 1007 close. */
	f = malloc(200 * 1024 + 1);
	memset(f, '{', 200 * 1024);
	f[200 * 1024] = '\0';
	ck_assert_int_eq(deliver(a, b, f), ENGINE_DROP_RATE);
	free(f);
	ck_assert_int_eq(close_code(a, nid(b)), 0);
	/* The budget refills with time. */
	now += 2 * SEC;
	f = padded_frame(b, &rec, 200 * 1024);
	ck_assert_int_ne(deliver(a, b, f), ENGINE_DROP_RATE);
	free(f);
	cm_signed_record_clear(&rec);
}
END_TEST

START_TEST(test_engine_limits_answer_bytes_per_neighbour)
{
	size_t a = add_peer(true, false, "r"), b = add_peer(true, false, "r");
	struct engine_config cfg;
	size_t bytes = 0;
	int refused = 0;
	char *f;

	engine_config_default(&cfg);
	link_peers(a, b);
	pump();
	fill_big(a, 16); /* about 330 KB that a request for anything would match */
	clear_actions();
	/* A burst of requests, each within the request rate, each asking for everything. */
	for (int i = 0; i < (int)cfg.rate[ENGINE_KIND_REQUEST].burst; i++) {
		f = request_frame(b, NULL);
		refused += deliver(a, b, f) == ENGINE_DROP_RATE;
		free(f);
	}
	for (size_t k = 0; k < acts[a].len; k++)
		if (acts[a].items[k].kind == ENGINE_SEND)
			bytes += acts[a].items[k].frame_len;
	/* The answers stay within the answer budget, 512 KiB (not 8 x answer_max_bytes). */
	ck_assert_uint_le(bytes, 512 * 1024 + 4096);
	ck_assert_uint_gt(bytes, cfg.answer_max_bytes);
	ck_assert_int_gt(refused, 0);
	ck_assert_uint_gt(engine_stats(P[a].e)->answers_limited, 0);
	ck_assert_int_eq(close_code(a, nid(b)), 0);
}
END_TEST

/* Ends the session between a and b on both sides and opens a new one, hellos exchanged. */
static void
reconnect(size_t a, size_t b)
{
	engine_neighbour_down(P[a].e, nid(b), now);
	engine_neighbour_down(P[b].e, nid(a), now);
	clear_actions();
	link_peers(a, b);
	pump();
	ck_assert_ptr_nonnull(engine_neighbour_email(P[a].e, nid(b)));
	clear_actions();
}

START_TEST(test_engine_rate_state_survives_reconnect)
{
	size_t a = add_peer(true, false, "r"), b = add_peer(true, false, "r"),
	       origin = add_peer(true, false, "x");
	struct cm_signed_record forged;
	char *f;

	link_peers(a, b);
	pump();
	clear_actions();
	/* Over the request rate until closed. */
	for (int i = 0; i < 1000 && close_code(a, nid(b)) == 0; i++) {
		f = request_frame(b, NULL);
		deliver(a, b, f);
		free(f);
	}
	ck_assert_int_eq(close_code(a, nid(b)), ENGINE_CLOSE_POLICY);
	/* A reconnect a second later: the same identity finds its buckets as it left them. */
	now += SEC;
	reconnect(a, b);
	ck_assert_uint_eq(engine_stats(P[a].e)->rates_restored, 1);
	for (int i = 0; i < 3; i++) {
		f = request_frame(b, NULL);
		deliver(a, b, f);
		free(f);
	}
	ck_assert_int_eq(close_code(a, nid(b)), ENGINE_CLOSE_POLICY);
	ck_assert_uint_eq(engine_stats(P[a].e)->closed_rate, 2);
	/* Bad signatures count across sessions too: two, a reconnect, one more closes. */
	now += 3600 * SEC + SEC; /* the rate memory forgot the flood by now */
	reconnect(a, b);
	for (int i = 0; i < 2; i++) {
		forged_record_of(origin, 5 + i, &forged);
		f = announcement_frame(b, &forged, 5, now, NULL);
		ck_assert_int_eq(deliver(a, b, f), ENGINE_DROP_SIGNATURE);
		free(f);
		cm_signed_record_clear(&forged);
	}
	ck_assert_int_eq(close_code(a, nid(b)), 0);
	now += SEC;
	reconnect(a, b);
	forged_record_of(origin, 9, &forged);
	f = announcement_frame(b, &forged, 5, now, NULL);
	ck_assert_int_eq(deliver(a, b, f), ENGINE_DROP_SIGNATURE);
	free(f);
	cm_signed_record_clear(&forged);
	ck_assert_int_eq(close_code(a, nid(b)), ENGINE_CLOSE_POLICY);
	ck_assert_uint_eq(engine_stats(P[a].e)->closed_bad_signatures, 1);
}
END_TEST

START_TEST(test_engine_rate_memory_is_bounded)
{
	size_t a, b, c;
	struct engine_config cfg;

	engine_config_default(&cfg);
	cfg.rate_memory_max = 1;
	a = add_peer_cfg(true, false, "r", &cfg);
	b = add_peer(true, false, "r");
	c = add_peer(true, false, "r");
	link_peers(a, b);
	link_peers(a, c);
	pump();
	now += SEC;
	engine_neighbour_down(P[a].e, nid(b), now);
	now += SEC;
	engine_neighbour_down(P[a].e, nid(c), now); /* pushes b's state out */
	engine_neighbour_down(P[b].e, nid(a), now);
	engine_neighbour_down(P[c].e, nid(a), now);
	clear_actions();
	link_peers(a, b);
	pump();
	ck_assert_uint_eq(engine_stats(P[a].e)->rates_restored, 0);
	link_peers(a, c);
	pump();
	ck_assert_uint_eq(engine_stats(P[a].e)->rates_restored, 1);
}
END_TEST

START_TEST(test_engine_closes_neighbour_a_little_over_its_rate)
{
	size_t a = add_peer(true, false, "r"), b = add_peer(true, false, "r");
	struct engine_config cfg;
	int seconds = 0;
	char *f;

	engine_config_default(&cfg);
	link_peers(a, b);
	pump();
	clear_actions();
	/* One request a second more than the rate, for as long as it takes (at most 10 min). */
	for (; seconds < 600 && engine_stats(P[a].e)->closed_rate == 0; seconds++) {
		for (int i = 0; i < (int)cfg.rate[ENGINE_KIND_REQUEST].per_s + 1; i++) {
			f = request_frame(b, NULL);
			deliver(a, b, f);
			free(f);
		}
		engine_actions_clear(&acts[a]);
		now += SEC;
	}
	ck_assert_int_lt(seconds, 600);
	ck_assert_uint_eq(engine_stats(P[a].e)->closed_rate, 1);
}
END_TEST

START_TEST(test_engine_marks_forwards_droppable)
{
	size_t hub = star(3), origin = add_peer(true, false, "x");
	struct cm_signed_record rec;
	int forwards = 0;
	char *f;

	signed_record_of(origin, 5, now, true, "x", &rec);
	f = announcement_frame(1, &rec, 5, now, NULL);
	ck_assert_int_eq(deliver(hub, 1, f), ENGINE_ACCEPTED);
	free(f);
	for (size_t k = 0; k < acts[hub].len; k++)
		if (acts[hub].items[k].kind == ENGINE_SEND) {
			ck_assert(acts[hub].items[k].droppable);
			forwards++;
		}
	ck_assert_int_gt(forwards, 0);
	clear_actions();
	/* Answers are not: the neighbour asked for them. */
	f = request_frame(1, NULL);
	ck_assert_int_eq(deliver(hub, 1, f), ENGINE_ACCEPTED);
	free(f);
	ck_assert_int_eq(acts[hub].len, 1);
	ck_assert(!acts[hub].items[0].droppable);
	engine_forward_dropped(P[hub].e);
	ck_assert_uint_eq(engine_stats(P[hub].e)->forwards_dropped, 1);
	cm_signed_record_clear(&rec);
}
END_TEST

/* frame with text put in right after its opening brace (caller frees). */
static char *
with_member(const char *frame, const char *text)
{
	char *out;

	ck_assert_int_ge(asprintf(&out, "{%s%s", text, frame + 1), 0);
	return out;
}

#define SEEN_ID "11111111-2222-4333-8444-555555555555"

/* The frame of origin's record (seq 5, signed into *rec) under SEEN_ID, accepted by hub from 1. */
static char *
accepted_under_seen_id(size_t hub, size_t origin, struct cm_signed_record *rec)
{
	char *f;

	signed_record_of(origin, 5, now, true, "x", rec);
	f = announcement_frame(1, rec, 5, now, SEEN_ID);
	ck_assert_int_eq(deliver(hub, 1, f), ENGINE_ACCEPTED);
	return f;
}

START_TEST(test_engine_duplicate_is_told_from_the_top_level_id_only)
{
	size_t hub = star(3), origin = add_peer(true, false, "x");
	struct cm_signed_record rec;
	char *f = accepted_under_seen_id(hub, origin, &rec), *g;

	free(f);
	/* The seen id nested in an unknown member, a new one at the top: no duplicate. */
	f = announcement_frame(2, &rec, 5, now, NULL);
	g = with_member(f, "\"x\":{\"id\":\"" SEEN_ID "\"},");
	ck_assert_int_eq(deliver(hub, 2, g), ENGINE_DROP_OLD);
	free(f);
	free(g);
	/* The seen id at the top, a new one nested: a duplicate. */
	f = announcement_frame(2, &rec, 5, now, SEEN_ID);
	g = with_member(f, "\"x\":{\"id\":\"21111111-2222-4333-8444-555555555555\"},");
	ck_assert_int_eq(deliver(hub, 2, g), ENGINE_DUPLICATE);
	free(f);
	free(g);
	cm_signed_record_clear(&rec);
}
END_TEST

START_TEST(test_engine_duplicate_with_a_second_id_key_is_invalid)
{
	size_t hub = star(3), origin = add_peer(true, false, "x");
	struct cm_signed_record rec;
	char *f = accepted_under_seen_id(hub, origin, &rec), *g;

	/* Either id could be the one meant: the parser refuses duplicate keys, so the scan must. */
	g = with_member(f, "\"id\":\"21111111-2222-4333-8444-555555555555\",");
	ck_assert_int_eq(deliver(hub, 2, g), ENGINE_DROP_INVALID);
	ck_assert_int_eq(close_code(hub, nid(2)), 1007);
	free(f);
	free(g);
	cm_signed_record_clear(&rec);
}
END_TEST

START_TEST(test_engine_duplicate_is_dropped_without_its_other_members_decoded)
{
	size_t hub = star(3), origin = add_peer(true, false, "x");
	struct cm_signed_record rec;
	char *f = accepted_under_seen_id(hub, origin, &rec), *g;

	/* Its sender renamed: the decoder would refuse it (sender missing). */
	g = strdup(f);
	memcpy(strstr(g, "\"sender\":{") + 1, "Sender", 6);
	ck_assert_int_eq(deliver(hub, 2, g), ENGINE_DUPLICATE);
	ck_assert_int_eq(close_code(hub, nid(2)), 0);
	/* The same frame under a new id is decoded, and refused. */
	free(f);
	free(g);
	f = announcement_frame(1, &rec, 5, now, NULL);
	g = strdup(f);
	memcpy(strstr(g, "\"sender\":{") + 1, "Sender", 6);
	ck_assert_int_eq(deliver(hub, 2, g), ENGINE_DROP_INVALID);
	free(f);
	free(g);
	cm_signed_record_clear(&rec);
}
END_TEST

START_TEST(test_engine_scanned_duplicate_still_takes_its_rate_token)
{
	size_t hub = star(3), origin = add_peer(true, false, "x");
	struct cm_signed_record rec;
	enum engine_verdict v = ENGINE_DUPLICATE;
	char *f = accepted_under_seen_id(hub, origin, &rec);
	int n = 0;

	rs.fixed = true;
	rs.value = UINT64_MAX;
	while (v == ENGINE_DUPLICATE && n < 10000) {
		v = deliver(hub, 2, f);
		n++;
	}
	ck_assert_int_eq(v, ENGINE_DROP_RATE);
	ck_assert_int_gt(n, 100);
	ck_assert_int_le(n, 501);
	free(f);
	cm_signed_record_clear(&rec);
}
END_TEST

FB_CHECK_MAIN(.name = "engine_hostile", .setup = setup, .teardown = teardown, .timeout_s = 60)
