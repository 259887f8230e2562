/* check_engine.c - the gossip rules, one behaviour per test, on engines wired in memory. */
#define _GNU_SOURCE /* nftw, in testutil.h */
#include <check.h>
#include <gnutls/gnutls.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/engine.h"
#include "fb/codec.h"
#include "fb/random.h"
#include "check_main.h"
#include "testutil.h"
#include "engine_fixture.h"

START_TEST(test_engine_neighbour_up_sends_hello)
{
	size_t a = add_peer(true, false, "r"), b = add_peer(true, false, "r");

	clear_actions();
	ck_assert_int_eq(engine_neighbour_up(P[a].e, nid(b), false, P[b].fp, now, &rng, &acts[a]),
			 0);
	ck_assert_int_eq(count_sends(a, nid(b), CM_MSG_PEER_ANNOUNCEMENT), 1);
	ck_assert_uint_eq(engine_neighbour_count(P[a].e), 0);
}
END_TEST

START_TEST(test_engine_receive_hello_authenticates_and_connects)
{
	size_t a = add_peer(true, false, "r"), b = add_peer(true, false, "r");
	const struct peertable_entry *e;

	clear_actions();
	link_peers(a, b);
	pump();
	ck_assert_uint_eq(engine_neighbour_count(P[a].e), 1);
	ck_assert_str_eq(engine_neighbour_email(P[a].e, nid(b)), "p1@example.com");
	e = peertable_get(P[a].t, "p1@example.com");
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(peertable_entry_state(P[a].t, e, now), CM_STATE_CONNECTED);
	ck_assert_str_eq(peertable_pinned(P[a].t, "p1@example.com"), P[b].fp);
	engine_neighbour_down(P[a].e, nid(b), now);
	ck_assert_int_eq(peertable_entry_state(P[a].t, e, now), CM_STATE_DISCOVERED);
}
END_TEST

START_TEST(test_engine_receive_first_frame_not_hello_closes_1008)
{
	size_t a = add_peer(true, false, "r"), b = add_peer(true, false, "r");
	char frame[512];

	clear_actions();
	engine_neighbour_up(P[a].e, nid(b), true, P[b].fp, now, &rng, &acts[a]);
	snprintf(frame, sizeof(frame),
		 "{\"v\":1,\"id\":\"0b9f2c1e-5d3a-4c2b-9e8f-1a2b3c4d5e6f\",\"type\":\"HEARTBEAT\","
		 "\"ttl\":1,\"timestamp\":\"2023-11-14T22:13:20.000Z\",\"sender\":{\"email\":"
		 "\"p1@example.com\",\"peer_id\":\"7c6d5e4f-3a2b-4c1d-8e9f-0a1b2c3d4e5f\"},"
		 "\"payload\":{\"is_alive\":true,\"is_bootstrap\":false,\"peer_count\":1}}");
	ck_assert_int_eq(deliver(a, b, frame), ENGINE_DROP_AUTH);
	ck_assert_int_eq(close_code(a, nid(b)), 1008);
	ck_assert_uint_eq(engine_neighbour_count(P[a].e), 0);
}
END_TEST

START_TEST(test_engine_receive_hello_with_other_tls_certificate_closes_1008)
{
	size_t a = add_peer(true, false, "r"), b = add_peer(true, false, "r"),
	       c = add_peer(true, false, "r");

	clear_actions();
	/* The TLS certificate is c's, the hello is b's. */
	engine_neighbour_up(P[a].e, nid(b), true, P[c].fp, now, &rng, &acts[a]);
	engine_neighbour_up(P[b].e, nid(a), false, P[a].fp, now, &rng, &acts[b]);
	pump();
	ck_assert_uint_eq(engine_neighbour_count(P[a].e), 0);
	/* b's frames after its hello meet the same refusal (a real session is gone by then). */
	ck_assert_uint_ge(engine_stats(P[a].e)->verdicts[ENGINE_DROP_AUTH], 1);
	ck_assert_ptr_null(peertable_get(P[a].t, "p1@example.com"));
}
END_TEST

START_TEST(test_engine_receive_invalid_json_closes_1007)
{
	size_t a = add_peer(true, false, "r"), b = add_peer(true, false, "r");

	clear_actions();
	link_peers(a, b);
	pump();
	ck_assert_int_eq(deliver(a, b, "{\"v\":1,"), ENGINE_DROP_INVALID);
	ck_assert_int_eq(close_code(a, nid(b)), 1007);
	ck_assert_int_eq(engine_receive(P[a].e, 999, "{}", 2, now, &rng, &acts[a]),
			 ENGINE_DROP_UNKNOWN);
}
END_TEST

START_TEST(test_engine_receive_announcement_forwards_to_fanout_others)
{
	size_t hub = star(6), origin = add_peer(true, false, "x");
	struct cm_signed_record rec;
	char *f;
	int forwarded = 0;

	signed_record_of(origin, 5, now, true, "x", &rec);
	f = announcement_frame(1, &rec, 5, now, NULL);
	ck_assert_int_eq(deliver(hub, 1, f), ENGINE_ACCEPTED);
	ck_assert_ptr_nonnull(peertable_get(P[hub].t, cm_identity_email(P[origin].id)));
	ck_assert_int_eq(count_sends(hub, nid(1), CM_MSG_PEER_ANNOUNCEMENT), 0);
	for (size_t k = 0; k < acts[hub].len; k++) {
		struct cm_envelope env;
		struct cm_err err;

		ck_assert_int_eq(cm_envelope_from_frame(acts[hub].items[k].frame,
							acts[hub].items[k].frame_len, &env, &err),
				 0);
		ck_assert_int_eq(env.ttl, 4);
		ck_assert_str_eq(env.sender_email, "p0@example.com");
		ck_assert_str_eq(env.payload.announcement.origin.record.email, "p7@example.com");
		forwarded++;
		cm_envelope_clear(&env);
	}
	ck_assert_int_eq(forwarded, 3);
	free(f);
	cm_signed_record_clear(&rec);
}
END_TEST

START_TEST(test_engine_full_table_passes_on_a_record_it_refuses_only_while_fresh)
{
	size_t hub, old, fresh;
	struct cm_signed_record rec;
	char *f, repo[32];

	fixture_table_max = 40;
	hub = add_peer(true, false, "r");
	fixture_table_max = 0;
	for (int i = 0; i < 6; i++)
		link_peers(hub, add_peer(true, false, "r"));
	pump();
	while (peertable_count(P[hub].t) < 40)
		host_in(hub, "filler");
	clear_actions();
	/* A repository whose hosts the table does not keep for lookups by key. */
	for (int i = 0; i < 1000; i++) {
		snprintf(repo, sizeof(repo), "x-%d", i);
		if (!peertable_responsible(P[hub].t, repo))
			break;
	}
	ck_assert(!peertable_responsible(P[hub].t, repo));
	/* Issued ten minutes ago: every table with room got it then; not news to pass on. */
	old = add_peer(true, false, repo);
	signed_record_of(old, 5, now - 600 * SEC, true, repo, &rec);
	f = announcement_frame(1, &rec, 5, now, NULL);
	ck_assert_int_eq(deliver(hub, 1, f), ENGINE_ACCEPTED);
	ck_assert_ptr_null(peertable_get(P[hub].t, cm_identity_email(P[old].id)));
	for (size_t i = 1; i <= 6; i++)
		ck_assert_int_eq(count_sends(hub, nid(i), CM_MSG_PEER_ANNOUNCEMENT), 0);
	free(f);
	cm_signed_record_clear(&rec);
	/* Issued now: others may keep what this table cannot. */
	fresh = add_peer(true, false, repo);
	signed_record_of(fresh, 5, now, true, repo, &rec);
	f = announcement_frame(1, &rec, 5, now, NULL);
	ck_assert_int_eq(deliver(hub, 1, f), ENGINE_ACCEPTED);
	ck_assert_ptr_null(peertable_get(P[hub].t, cm_identity_email(P[fresh].id)));
	{
		int forwarded = 0;

		for (size_t i = 2; i <= 6; i++)
			forwarded += count_sends(hub, nid(i), CM_MSG_PEER_ANNOUNCEMENT);
		ck_assert_int_eq(forwarded, 3);
	}
	free(f);
	cm_signed_record_clear(&rec);
}
END_TEST

START_TEST(test_engine_newcomers_hello_is_forwarded_to_every_other_neighbour)
{
	size_t hub = star(6), newcomer = add_peer(true, false, "x");
	char *hello;

	ck_assert_int_eq(engine_neighbour_up(P[newcomer].e, nid(hub), false, P[hub].fp, now, &rng,
					     &acts[newcomer]),
			 0);
	ck_assert_int_eq(engine_neighbour_up(P[hub].e, nid(newcomer), true, P[newcomer].fp, now, &rng,
					     &acts[hub]),
			 0);
	ck_assert_uint_eq(acts[newcomer].len, 1);
	hello = strdup(acts[newcomer].items[0].frame);
	clear_actions();
	ck_assert_int_eq(deliver(hub, newcomer, hello), ENGINE_ACCEPTED);
	/* All six, not fanout's three; the newcomer gets a digest, not its own record back. */
	for (size_t i = 1; i <= 6; i++)
		ck_assert_int_eq(count_sends(hub, nid(i), CM_MSG_PEER_ANNOUNCEMENT), 1);
	ck_assert_int_eq(count_sends(hub, nid(newcomer), CM_MSG_PEER_ANNOUNCEMENT), 0);
	ck_assert_int_eq(count_sends(hub, nid(newcomer), CM_MSG_PEER_REQUEST), 1);
	free(hello);
}
END_TEST

START_TEST(test_engine_receive_ttl_one_applied_not_forwarded)
{
	size_t hub = star(4), origin = add_peer(true, false, "x");
	struct cm_signed_record rec;
	char *f;

	signed_record_of(origin, 5, now, true, "x", &rec);
	f = announcement_frame(1, &rec, 1, now, NULL);
	ck_assert_int_eq(deliver(hub, 1, f), ENGINE_ACCEPTED);
	ck_assert_uint_eq(acts[hub].len, 0);
	free(f);
	f = announcement_frame(1, &rec, 0, now, NULL);
	ck_assert_int_eq(deliver(hub, 1, f), ENGINE_DROP_TTL);
	free(f);
	cm_signed_record_clear(&rec);
}
END_TEST

START_TEST(test_engine_receive_future_timestamp_dropped)
{
	size_t hub = star(2), origin = add_peer(true, false, "x");
	struct cm_signed_record rec;
	char *f;

	signed_record_of(origin, 5, now, true, "x", &rec);
	f = announcement_frame(1, &rec, 5, now + 31 * SEC, NULL);
	ck_assert_int_eq(deliver(hub, 1, f), ENGINE_DROP_FUTURE);
	free(f);
	cm_signed_record_clear(&rec);
	/* A record dated in the future is refused too, whatever its envelope says. */
	signed_record_of(origin, 6, now + 60 * SEC, true, "x", &rec);
	f = announcement_frame(1, &rec, 5, now, NULL);
	ck_assert_int_eq(deliver(hub, 1, f), ENGINE_DROP_FUTURE);
	ck_assert_ptr_null(peertable_get(P[hub].t, cm_identity_email(P[origin].id)));
	free(f);
	cm_signed_record_clear(&rec);
}
END_TEST

START_TEST(test_engine_receive_replayed_id_is_duplicate_not_forwarded)
{
	size_t hub = star(4), origin = add_peer(true, false, "x");
	struct cm_signed_record rec;
	char *f;

	signed_record_of(origin, 5, now, true, "x", &rec);
	f = announcement_frame(1, &rec, 5, now, "11111111-2222-4333-8444-555555555555");
	ck_assert_int_eq(deliver(hub, 1, f), ENGINE_ACCEPTED);
	clear_actions();
	/* High random draws: the 5 % re-forward does not fire. */
	rs.fixed = true;
	rs.value = UINT64_MAX;
	ck_assert_int_eq(deliver(hub, 2, f), ENGINE_DUPLICATE);
	ck_assert_uint_eq(acts[hub].len, 0);
	/* Low draws: it fires, to fanout neighbours. */
	rs.value = 0;
	ck_assert_int_eq(deliver(hub, 2, f), ENGINE_DUPLICATE);
	ck_assert_int_gt(count_sends(hub, 0, CM_MSG_PEER_ANNOUNCEMENT), 0);
	ck_assert_int_eq(count_sends(hub, nid(2), CM_MSG_PEER_ANNOUNCEMENT), 0);
	free(f);
	cm_signed_record_clear(&rec);
}
END_TEST

START_TEST(test_engine_receive_forged_signature_dropped)
{
	size_t hub = star(3), origin = add_peer(true, false, "x");
	struct cm_signed_record rec;
	char *f, *p;

	signed_record_of(origin, 5, now, true, "x", &rec);
	/* One changed byte of the signed record: another address. */
	p = strstr(rec.canonical, "10.1.");
	ck_assert_ptr_nonnull(p);
	p[3] = '9';
	f = announcement_frame(1, &rec, 5, now, NULL);
	ck_assert_int_eq(deliver(hub, 1, f), ENGINE_DROP_SIGNATURE);
	ck_assert_ptr_null(peertable_get(P[hub].t, cm_identity_email(P[origin].id)));
	ck_assert_uint_eq(acts[hub].len, 0);
	free(f);
	cm_signed_record_clear(&rec);
}
END_TEST

/* A hub of 3 that holds origin's record (seq 5, in *rec) from neighbour 1. */
static void
hub_holding_origin(size_t *hub, size_t *origin, struct cm_signed_record *rec)
{
	char *f;

	*hub = star(3);
	*origin = add_peer(true, false, "x");
	signed_record_of(*origin, 5, now, true, "x", rec);
	f = announcement_frame(1, rec, 5, now, NULL);
	ck_assert_int_eq(deliver(*hub, 1, f), ENGINE_ACCEPTED);
	free(f);
}

START_TEST(test_engine_receive_pin_mismatch_dropped)
{
	size_t hub, origin;
	struct cm_identity *impostor;
	struct cm_signed_record rec, fake;
	struct cm_peer_record r;
	struct cm_err err;
	char *f;

	hub_holding_origin(&hub, &origin, &rec);
	impostor = tu_identity(cm_identity_email(P[origin].id));
	/* Same email, another key, higher seq: refused by the pin. */
	self_record(&r, cm_identity_email(P[origin].id), true, false, "evil", 99);
	r.seq = 6;
	r.issued_at_ms = now;
	ck_assert_int_eq(cm_record_sign(&r, impostor, &fake, &err), 0);
	f = announcement_frame(1, &fake, 5, now, NULL);
	ck_assert_int_eq(deliver(hub, 1, f), ENGINE_DROP_PIN);
	ck_assert_int_eq(peertable_get(P[hub].t, r.email)->rec.record.seq, 5);
	free(f);
	cm_peer_record_clear(&r);
	cm_signed_record_clear(&rec);
	cm_signed_record_clear(&fake);
	cm_identity_free(impostor);
}
END_TEST

START_TEST(test_engine_receive_expired_record_dropped)
{
	size_t hub = star(2), origin = add_peer(true, false, "x");
	struct cm_signed_record rec;
	struct engine_config c;
	char *f;

	engine_config_default(&c);
	signed_record_of(origin, 5, now - c.expire_ms - SEC, true, "x", &rec);
	f = announcement_frame(1, &rec, 5, now, NULL);
	ck_assert_int_eq(deliver(hub, 1, f), ENGINE_DROP_EXPIRED);
	ck_assert_uint_eq(acts[hub].len, 0);
	free(f);
	cm_signed_record_clear(&rec);
}
END_TEST

START_TEST(test_engine_receive_older_seq_ignored_and_not_forwarded)
{
	size_t hub = star(3), origin = add_peer(true, false, "x");
	struct cm_signed_record r5, r4;
	char *f;

	signed_record_of(origin, 5, now, true, "x", &r5);
	signed_record_of(origin, 4, now, true, "y", &r4);
	f = announcement_frame(1, &r5, 5, now, NULL);
	deliver(hub, 1, f);
	free(f);
	clear_actions();
	f = announcement_frame(1, &r4, 5, now, NULL);
	ck_assert_int_eq(deliver(hub, 1, f), ENGINE_DROP_OLD);
	ck_assert_uint_eq(acts[hub].len, 0);
	free(f);
	cm_signed_record_clear(&r5);
	cm_signed_record_clear(&r4);
}
END_TEST

START_TEST(test_engine_set_self_silent_record_carries_no_address)
{
	size_t s = add_peer(false, false, "r");
	const struct cm_signed_record *self = engine_self(P[s].e);

	ck_assert_ptr_nonnull(self);
	ck_assert_uint_eq(self->record.socket_addresses.len, 0);
	ck_assert_ptr_null(strstr(self->canonical, "10.1."));
	ck_assert_ptr_null(strstr(self->canonical, "socket_addresses"));
}
END_TEST

START_TEST(test_engine_refuses_silent_record_with_addresses)
{
	size_t hub = star(2), origin = add_peer(false, false, "x");
	struct cm_signed_record rec;
	struct cm_err err;
	json_t *j;
	char *f;

	/* A non-conforming peer signs a silent record that still lists an address. */
	signed_record_of(origin, 5, now, false, "x", &rec);
	j = json_loads(rec.canonical, 0, NULL);
	json_object_set_new(j, "socket_addresses", json_pack("[s]", "192.168.7.7"));
	free(rec.canonical);
	free(rec.signature);
	rec.canonical = cm_json_canonical(j, &err);
	json_decref(j);
	ck_assert_int_eq(cm_identity_sign(P[origin].id, rec.canonical, strlen(rec.canonical),
					  &rec.signature, &err),
			 0);
	f = announcement_frame(1, &rec, 5, now, NULL);
	ck_assert_ptr_nonnull(strstr(f, "192.168.7.7"));
	/* Refused whole: its signed text would carry the address wherever it is re-sent. */
	ck_assert_int_eq(deliver(hub, 1, f), ENGINE_DROP_RECORD_INVALID);
	ck_assert_ptr_null(peertable_get(P[hub].t, rec.record.email));
	ck_assert_int_eq(count_sends(hub, 0, CM_MSG_PEER_ANNOUNCEMENT), 0);
	ck_assert_str_eq(engine_verdict_name(ENGINE_DROP_RECORD_INVALID), "record_invalid");
	free(f);
	cm_signed_record_clear(&rec);
}
END_TEST

/* Fills a's table with a bootstrap host and a plain host of "alpha". */
static void
seed_hosts(size_t a, size_t *boot, size_t *plain)
{
	struct cm_signed_record r1, r2;
	struct cm_peer_record pr;
	struct cm_err err;
	char *f;

	*boot = add_peer(true, true, "alpha");
	*plain = add_peer(true, false, "alpha");
	self_record(&pr, cm_identity_email(P[*boot].id), true, true, "alpha", 50);
	pr.seq = 1;
	pr.issued_at_ms = now;
	ck_assert_int_eq(cm_record_sign(&pr, P[*boot].id, &r1, &err), 0);
	cm_peer_record_clear(&pr);
	signed_record_of(*plain, 1, now, true, "alpha", &r2);
	ck_assert_int_eq(peertable_apply(P[a].t, &r1, P[*boot].fp, now), PEERTABLE_INSERTED);
	/* A bootstrap server a trusts listed it: its claim is attested. */
	ck_assert_int_eq(peertable_attest(P[a].t, cm_identity_email(P[*boot].id), P[*boot].fp, now),
			 0);
	ck_assert_int_eq(peertable_apply(P[a].t, &r2, P[*plain].fp, now), PEERTABLE_INSERTED);
	(void)f;
	cm_signed_record_clear(&r1);
	cm_signed_record_clear(&r2);
}

static int
discover(size_t asker, const char *repo, struct cm_strlist *emails)
{
	struct cm_strlist repos = {0};
	char id[CM_UUID_TEXT_LEN + 1];
	int asked;

	cm_strlist_append(&repos, repo);
	asked = engine_request(P[asker].e, &repos, 3, now, &rng, id, &acts[asker]);
	cm_strlist_clear(&repos);
	pump();
	ck_assert_int_eq(engine_request_take(P[asker].e, id, emails), 0);
	ck_assert_int_eq(engine_request_take(P[asker].e, id, emails), -1);
	return asked;
}

START_TEST(test_engine_request_answer_is_kept_in_a_full_table)
{
	size_t a = full_table_asker(4), b = 1, host = host_in(b, "alpha");
	struct cm_strlist emails = {0};

	/* As gossip it would find no room: a filler ranks as well. */
	ck_assert_int_eq(discover(a, "alpha", &emails), 1);
	ck_assert_ptr_nonnull(peertable_get(P[a].t, cm_identity_email(P[host].id)));
	ck_assert_uint_eq(peertable_count(P[a].t), 4);
	ck_assert(has_email(&emails, host));
	cm_strlist_clear(&emails);
}
END_TEST

START_TEST(test_engine_request_to_asks_one_neighbour_under_the_lookup_id)
{
	size_t a = add_peer(true, false, "r"), b = add_peer(true, false, "r");
	size_t c = add_peer(true, false, "r"), stranger = add_peer(true, false, "r");
	size_t hb, hc;
	struct cm_strlist repos = {0}, emails = {0};
	char id[CM_UUID_TEXT_LEN + 1], none[CM_UUID_TEXT_LEN + 1] = "";
	int joined = 0;

	link_peers(a, b);
	link_peers(a, c);
	pump();
	clear_actions();
	hb = host_in(b, "alpha");
	hc = host_in(c, "alpha");
	cm_strlist_append(&repos, "alpha");
	ck_assert_int_eq(engine_request(P[a].e, &repos, 1, now, &rng, id, &acts[a]), 1);
	/* The neighbour asked already is not asked twice; the other joins the lookup. */
	joined += engine_request_to(P[a].e, &repos, nid(b), now, &rng, id, &acts[a]);
	joined += engine_request_to(P[a].e, &repos, nid(c), now, &rng, id, &acts[a]);
	ck_assert_int_eq(joined, 1);
	ck_assert_int_eq(count_sends(a, 0, CM_MSG_PEER_REQUEST), 2);
	/* No session with it: nothing is sent. */
	ck_assert_int_eq(engine_request_to(P[a].e, &repos, nid(stranger), now, &rng, none, &acts[a]),
			 0);
	pump();
	ck_assert_int_eq(engine_request_take(P[a].e, id, &emails), 0);
	ck_assert(has_email(&emails, hb));
	ck_assert(has_email(&emails, hc));
	cm_strlist_clear(&emails);
	cm_strlist_clear(&repos);
}
END_TEST

START_TEST(test_engine_request_silent_requester_not_given_unattested_bootstrap_claims)
{
	size_t a = add_peer(true, false, "r"), s = add_peer(false, false, "r");
	size_t sybil = add_peer(true, true, "alpha");
	struct cm_strlist emails = {0};
	struct cm_signed_record r;
	struct cm_peer_record pr;
	struct cm_err err;

	/* A record that claims is_bootstrap, which no trusted server listed. */
	self_record(&pr, cm_identity_email(P[sybil].id), true, true, "alpha", 50);
	pr.seq = 1;
	pr.issued_at_ms = now;
	ck_assert_int_eq(cm_record_sign(&pr, P[sybil].id, &r, &err), 0);
	cm_peer_record_clear(&pr);
	ck_assert_int_eq(peertable_apply(P[a].t, &r, P[sybil].fp, now), PEERTABLE_INSERTED);
	cm_signed_record_clear(&r);
	link_peers(s, a);
	pump();
	clear_actions();
	ck_assert_int_eq(discover(s, "alpha", &emails), 1);
	ck_assert_uint_eq(emails.len, 0);
	ck_assert_ptr_null(peertable_get(P[s].t, cm_identity_email(P[sybil].id)));
	cm_strlist_clear(&emails);
}
END_TEST

START_TEST(test_engine_request_silent_requester_gets_only_bootstrap_peers)
{
	size_t a = add_peer(true, false, "r"), s = add_peer(false, false, "r"), boot, plain;
	struct cm_strlist emails = {0};

	seed_hosts(a, &boot, &plain);
	link_peers(s, a);
	pump();
	clear_actions();
	ck_assert_int_eq(discover(s, "alpha", &emails), 1);
	ck_assert_uint_eq(emails.len, 1);
	ck_assert_str_eq(emails.items[0], cm_identity_email(P[boot].id));
	ck_assert_ptr_null(peertable_get(P[s].t, cm_identity_email(P[plain].id)));
	cm_strlist_clear(&emails);
}
END_TEST

START_TEST(test_engine_request_broadcasting_requester_gets_all_matching)
{
	size_t a = add_peer(true, false, "r"), b = add_peer(true, false, "r"), boot, plain;
	struct cm_strlist emails = {0};

	seed_hosts(a, &boot, &plain);
	link_peers(b, a);
	pump();
	clear_actions();
	ck_assert_int_eq(discover(b, "alpha", &emails), 1);
	ck_assert_uint_eq(emails.len, 2);
	ck_assert_ptr_nonnull(peertable_get(P[b].t, cm_identity_email(P[plain].id)));
	cm_strlist_clear(&emails);
	/* Filtered by repository: nobody hosts "gamma". */
	ck_assert_int_eq(discover(b, "gamma", &emails), 1);
	ck_assert_uint_eq(emails.len, 0);
	cm_strlist_clear(&emails);
}
END_TEST

START_TEST(test_engine_receive_unsolicited_list_dropped)
{
	size_t a = add_peer(true, false, "r"), b = add_peer(true, false, "r");
	const char *frame =
		"{\"v\":1,\"id\":\"0b9f2c1e-5d3a-4c2b-9e8f-1a2b3c4d5e6f\",\"type\":"
		"\"PEER_LIST_RESPONSE\",\"ttl\":1,\"timestamp\":\"2023-11-14T22:13:20.000Z\","
		"\"sender\":{\"email\":\"p1@example.com\",\"peer_id\":"
		"\"7c6d5e4f-3a2b-4c1d-8e9f-0a1b2c3d4e5f\"},\"payload\":{\"request_id\":"
		"\"1b9f2c1e-5d3a-4c2b-9e8f-1a2b3c4d5e6f\",\"peers\":[]}}";

	link_peers(a, b);
	pump();
	ck_assert_int_eq(deliver(a, b, frame), ENGINE_DROP_UNSOLICITED);
}
END_TEST

START_TEST(test_engine_tick_sends_heartbeats_that_keep_neighbours_fresh)
{
	size_t a = add_peer(true, false, "r"), b = add_peer(true, false, "r");
	const struct peertable_entry *e;

	link_peers(a, b);
	pump();
	/* Timers start on the first tick, spread over one interval. */
	engine_tick(P[a].e, now, &rng, &acts[a]);
	now += 31 * SEC;
	engine_tick(P[a].e, now, &rng, &acts[a]);
	ck_assert_int_eq(count_sends(a, nid(b), CM_MSG_HEARTBEAT), 1);
	pump();
	e = peertable_get(P[b].t, "p0@example.com");
	ck_assert_int_eq(e->last_heartbeat_ms, now);
	ck_assert_int_eq(e->peer_count, 1);
}
END_TEST

static bool
pin_proven(struct peertable *t, const char *email)
{
	const char *e, *f;
	bool v;

	for (size_t c = 0; peertable_next_pin(t, &c, &e, &f, &v);)
		if (strcmp(e, email) == 0)
			return v;
	return false;
}

START_TEST(test_engine_inbound_session_proves_its_pin_only_once_it_lasted)
{
	size_t a = add_peer(true, false, "r"), b = add_peer(true, false, "r");

	/* a dialled b: a's pin of b is proven at once, b's of a not yet. */
	link_peers(a, b);
	pump();
	ck_assert(pin_proven(P[a].t, "p1@example.com"));
	ck_assert(!pin_proven(P[b].t, "p0@example.com"));
	/* The heartbeat timer re-tells the table its sessions: one that lasted proves it. */
	for (int64_t start = now; now - start < PEERTABLE_PROVE_MS + 60 * SEC; now += 31 * SEC) {
		engine_tick(P[a].e, now, &rng, &acts[a]);
		engine_tick(P[b].e, now, &rng, &acts[b]);
		pump();
		if (now - start < PEERTABLE_PROVE_MS)
			ck_assert(!pin_proven(P[b].t, "p0@example.com"));
	}
	ck_assert(pin_proven(P[b].t, "p0@example.com"));
}
END_TEST

/* The announcements among a peer's queued actions: how many, and how many carry a certificate. */
static int
announcements_with_certificate(size_t i, int *total)
{
	int with = 0;

	*total = 0;
	for (size_t k = 0; k < acts[i].len; k++) {
		struct cm_envelope env;
		struct cm_err err;

		if (acts[i].items[k].kind != ENGINE_SEND ||
		    cm_envelope_from_frame(acts[i].items[k].frame, acts[i].items[k].frame_len, &env,
					   &err) != 0)
			continue;
		if (env.type == CM_MSG_PEER_ANNOUNCEMENT) {
			(*total)++;
			with += env.payload.announcement.origin.public_certificate != NULL;
		}
		cm_envelope_clear(&env);
	}
	return with;
}

START_TEST(test_engine_tick_reannounces_with_higher_seq_without_certificate)
{
	size_t a = add_peer(true, false, "r"), b = add_peer(true, false, "r");
	struct engine_config c;
	const struct peertable_entry *e;
	int64_t seq0;
	int total;

	engine_config_default(&c);
	link_peers(a, b);
	pump();
	seq0 = peertable_get(P[b].t, "p0@example.com")->rec.record.seq;
	engine_tick(P[a].e, now, &rng, &acts[a]);
	now += c.reannounce_ms + SEC;
	engine_tick(P[a].e, now, &rng, &acts[a]);
	/* A refresh: the receiver holds the certificate already. */
	ck_assert_int_eq(announcements_with_certificate(a, &total), 0);
	ck_assert_int_eq(total, 1);
	pump();
	e = peertable_get(P[b].t, "p0@example.com");
	ck_assert_int_gt(e->rec.record.seq, seq0);
	ck_assert_int_eq(e->rec.record.issued_at_ms, now);
	/* The table keeps the certificate, so answers from it carry one. */
	ck_assert_ptr_nonnull(e->rec.public_certificate);
	ck_assert_int_eq(engine_stats(P[b].e)->verdicts[ENGINE_DROP_NO_CERT], 0);
}
END_TEST

/* Ticks engine i a second at a time until it sends j a digest (bounded). */
static void
tick_until_digest(size_t i, size_t j)
{
	for (int n = 0; n < 60 && count_sends(i, nid(j), CM_MSG_PEER_REQUEST) == 0; n++) {
		now += SEC;
		engine_tick(P[i].e, now, &rng, &acts[i]);
	}
	ck_assert_int_eq(count_sends(i, nid(j), CM_MSG_PEER_REQUEST), 1);
}

/* Peer i, in sync, sends hub a digest that says certless: it pulls refreshes from now on. */
static void
make_puller(size_t i, size_t hub)
{
	engine_assume_synced(P[i].e, nid(hub), 0);
	tick_until_digest(i, hub);
	pump();
	clear_actions();
}

/*
 * A hub (fanout 8, so every neighbour is picked) linked to peers 1..4, of
 * which silent[k - 1] are silent, holding origin's record (seq 5).
 */
static size_t
hub_of_four(const bool silent[4], size_t *origin)
{
	struct engine_config c;
	struct cm_signed_record rec;
	size_t hub;
	char *f;

	engine_config_default(&c);
	c.fanout = 8;
	hub = add_peer_cfg(true, false, "r", &c);
	for (size_t i = 0; i < 4; i++)
		link_peers(hub, add_peer(!silent[i], false, "r"));
	*origin = add_peer(true, false, "x");
	pump();
	clear_actions();
	signed_record_of(*origin, 5, now, true, "x", &rec);
	f = announcement_frame(1, &rec, 5, now, NULL);
	ck_assert_int_eq(deliver(hub, 1, f), ENGINE_ACCEPTED);
	free(f);
	cm_signed_record_clear(&rec);
	clear_actions();
	return hub;
}

/*
 * Peer 1 passes hub the refresh of origin (seq); to[k] receives what peer k
 * got of it: 0 nothing, 1 the refresh without certificate, 2 with it.
 */
static void
refresh_pushed_to(size_t hub, size_t origin, int64_t seq, int to[6])
{
	struct cm_signed_record rec;
	char *f;

	memset(to, 0, 6 * sizeof(*to));
	signed_record_of(origin, seq, now, true, "x", &rec);
	f = refresh_frame(1, &rec, 5);
	ck_assert_int_eq(deliver(hub, 1, f), ENGINE_ACCEPTED);
	ck_assert_int_eq(peertable_get(P[hub].t, rec.record.email)->rec.record.seq, seq);
	for (size_t k = 0; k < acts[hub].len; k++) {
		const struct engine_action *a = &acts[hub].items[k];

		if (a->kind == ENGINE_SEND && a->neighbour <= 6)
			to[a->neighbour - 1] = strstr(a->frame, "public_certificate") != NULL ? 2 : 1;
	}
	free(f);
	cm_signed_record_clear(&rec);
	clear_actions();
}

START_TEST(test_engine_receive_refresh_is_pushed_on_only_to_neighbours_that_do_not_pull_it)
{
	static const bool silent[4] = {false, false, false, false};
	size_t origin, hub = hub_of_four(silent, &origin);
	int to[6];

	/* 2 and 3 are in sync, their digests say certless; 4 is not yet. */
	make_puller(2, hub);
	make_puller(3, hub);
	refresh_pushed_to(hub, origin, 6, to);
	ck_assert_int_eq(to[1], 0); /* 1 sent it */
	ck_assert_int_eq(to[2], 0);
	ck_assert_int_eq(to[3], 0);
	ck_assert_int_eq(to[4], 1);
	/* Once 4 pulls too, nobody is pushed to. */
	make_puller(4, hub);
	refresh_pushed_to(hub, origin, 7, to);
	ck_assert_int_eq(to[2] + to[3] + to[4], 0);
}
END_TEST

START_TEST(test_engine_receive_refresh_reaches_a_silent_neighbour_that_does_not_pull_it_whole)
{
	static const bool silent[4] = {false, true, false, true};
	size_t origin, hub = hub_of_four(silent, &origin);
	int to[6];

	/* 2 and 4 are silent: they cannot verify a refresh without its certificate. */
	refresh_pushed_to(hub, origin, 6, to);
	ck_assert_int_eq(to[2], 2);
	ck_assert_int_eq(to[3], 1);
	ck_assert_int_eq(to[4], 2);
	/* Once 2's digests say certless, it pulls refreshes like everyone. */
	make_puller(2, hub);
	refresh_pushed_to(hub, origin, 7, to);
	ck_assert_int_eq(to[2], 0);
	ck_assert_int_eq(to[3], 1);
	ck_assert_int_eq(to[4], 2);
}
END_TEST

/*
 * a (silent when a_silent) and b, linked and in sync, both hold x's record
 * (seq 5) from two minutes ago (b alone when a_holds is false); then b alone
 * takes x's refresh.
 */
static void
refresh_at_b_only(size_t *a, size_t *b, size_t *x, bool a_holds, bool a_silent)
{
	struct cm_signed_record rec;

	*a = add_peer(!a_silent, false, "r");
	*b = add_peer(true, false, "r");
	*x = add_peer(true, false, "x");
	signed_record_of(*x, 5, now, true, "x", &rec);
	ck_assert_int_eq(peertable_apply(P[*b].t, &rec, P[*x].fp, now), PEERTABLE_INSERTED);
	link_peers(*a, *b);
	pump(); /* a pulls b's table, x included unless a is silent */
	if (!a_holds)
		peertable_remove(P[*a].t, cm_identity_email(P[*x].id));
	else if (a_silent)
		ck_assert_int_eq(peertable_apply(P[*a].t, &rec, P[*x].fp, now), PEERTABLE_INSERTED);
	cm_signed_record_clear(&rec);
	engine_assume_synced(P[*a].e, nid(*b), peertable_version(P[*b].t));
	engine_assume_synced(P[*b].e, nid(*a), peertable_version(P[*a].t));
	now += 120 * SEC;
	signed_record_of(*x, 6, now, true, "x", &rec);
	ck_assert_int_eq(peertable_apply(P[*b].t, &rec, P[*x].fp, now), PEERTABLE_REPLACED);
	cm_signed_record_clear(&rec);
	clear_actions();
}

/* a's next digest to b, delivered; b's answer decoded into *answer (not yet delivered). */
static bool
digest_round(size_t a, size_t b, struct cm_envelope *answer)
{
	struct cm_err err;
	bool certless = false, found = false;

	tick_until_digest(a, b);
	for (size_t k = 0; k < acts[a].len; k++) {
		struct cm_envelope env;

		if (acts[a].items[k].kind != ENGINE_SEND ||
		    cm_envelope_from_frame(acts[a].items[k].frame, acts[a].items[k].frame_len, &env,
					   &err) != 0)
			continue;
		if (env.type == CM_MSG_PEER_REQUEST && env.payload.request.has_digest) {
			certless = env.payload.request.digest.certless;
			engine_receive(P[b].e, nid(a), acts[a].items[k].frame,
				       acts[a].items[k].frame_len, now, &rng, &acts[b]);
		}
		cm_envelope_clear(&env);
	}
	engine_actions_clear(&acts[a]);
	for (size_t k = 0; k < acts[b].len && !found; k++)
		if (acts[b].items[k].kind == ENGINE_SEND &&
		    cm_envelope_from_frame(acts[b].items[k].frame, acts[b].items[k].frame_len, answer,
					   &err) == 0) {
			found = answer->type == CM_MSG_PEER_LIST_RESPONSE;
			if (!found)
				cm_envelope_clear(answer);
		}
	ck_assert_msg(found, "b did not answer a's digest");
	return certless;
}

/* a, holding x, pulls x's refresh from b: bare, and kept with the certificate a held. */
static void
refresh_pulled_bare(bool a_silent)
{
	size_t a, b, x;
	struct cm_envelope answer;
	const struct peertable_entry *e;

	refresh_at_b_only(&a, &b, &x, true, a_silent);
	ck_assert(digest_round(a, b, &answer));
	ck_assert_uint_eq(answer.payload.list_response.peers.len, 0);
	ck_assert_uint_eq(answer.payload.list_response.refreshes.len, 1);
	ck_assert_ptr_null(answer.payload.list_response.refreshes.items[0].public_certificate);
	cm_envelope_clear(&answer);
	pump();
	e = peertable_get(P[a].t, cm_identity_email(P[x].id));
	ck_assert_int_eq(e->rec.record.seq, 6);
	ck_assert_ptr_nonnull(e->rec.public_certificate);
	ck_assert_uint_eq(engine_stats(P[a].e)->refreshes_pulled, 1);
}

START_TEST(test_engine_anti_entropy_brings_a_refresh_bare_to_a_peer_that_holds_it)
{
	refresh_pulled_bare(false);
}
END_TEST

START_TEST(test_engine_anti_entropy_brings_a_silent_peer_the_refresh_of_one_it_holds)
{
	/* x is no bootstrap peer: a silent requester is given it only bare. */
	refresh_pulled_bare(true);
}
END_TEST

START_TEST(test_engine_bare_refresh_of_a_peer_not_held_is_asked_for_whole_next_time)
{
	size_t a, b, x;
	struct cm_envelope answer;

	refresh_at_b_only(&a, &b, &x, false, false);
	ck_assert(digest_round(a, b, &answer));
	ck_assert_uint_eq(answer.payload.list_response.refreshes.len, 1);
	cm_envelope_clear(&answer);
	pump();
	ck_assert_ptr_null(peertable_get(P[a].t, cm_identity_email(P[x].id)));
	/* The same records again, whole. */
	ck_assert(!digest_round(a, b, &answer));
	ck_assert_uint_eq(answer.payload.list_response.peers.len, 1);
	ck_assert_uint_eq(answer.payload.list_response.refreshes.len, 0);
	cm_envelope_clear(&answer);
	pump();
	ck_assert_int_eq(peertable_get(P[a].t, cm_identity_email(P[x].id))->rec.record.seq, 6);
}
END_TEST

START_TEST(test_engine_receive_refresh_of_unknown_peer_dropped)
{
	size_t hub = star(3), origin = add_peer(true, false, "x");
	struct cm_signed_record rec;
	char *f;

	signed_record_of(origin, 6, now, true, "x", &rec);
	f = refresh_frame(1, &rec, 5);
	ck_assert_int_eq(deliver(hub, 1, f), ENGINE_DROP_NO_CERT);
	ck_assert_ptr_null(peertable_get(P[hub].t, rec.record.email));
	ck_assert_uint_eq(acts[hub].len, 0);
	ck_assert_str_eq(engine_verdict_name(ENGINE_DROP_NO_CERT), "unknown_certificate");
	free(f);
	cm_signed_record_clear(&rec);
}
END_TEST

START_TEST(test_engine_receive_refresh_signed_by_other_key_dropped)
{
	size_t hub, origin;
	struct cm_identity *impostor;
	struct cm_signed_record rec, fake;
	struct cm_peer_record r;
	struct cm_err err;
	char *f;

	hub_holding_origin(&hub, &origin, &rec);
	impostor = tu_identity(cm_identity_email(P[origin].id));
	clear_actions();
	/* Without a certificate of its own, the impostor's refresh meets the held one. */
	self_record(&r, cm_identity_email(P[origin].id), true, false, "evil", 99);
	r.seq = 6;
	r.issued_at_ms = now;
	ck_assert_int_eq(cm_record_sign(&r, impostor, &fake, &err), 0);
	free(fake.public_certificate);
	fake.public_certificate = NULL;
	f = announcement_frame(1, &fake, 5, now, NULL);
	ck_assert_int_eq(deliver(hub, 1, f), ENGINE_DROP_SIGNATURE);
	ck_assert_int_eq(peertable_get(P[hub].t, r.email)->rec.record.seq, 5);
	ck_assert_uint_eq(acts[hub].len, 0);
	free(f);
	cm_peer_record_clear(&r);
	cm_signed_record_clear(&rec);
	cm_signed_record_clear(&fake);
	cm_identity_free(impostor);
}
END_TEST

START_TEST(test_engine_receive_hello_without_certificate_closes_1008)
{
	size_t a = add_peer(true, false, "r"), b = add_peer(true, false, "r");
	struct cm_signed_record rec;
	char *f;

	ck_assert_int_eq(engine_neighbour_up(P[a].e, nid(b), true, P[b].fp, now, &rng, &acts[a]), 0);
	clear_actions();
	signed_record_of(b, now, now, true, "r", &rec);
	f = refresh_frame(b, &rec, 5);
	ck_assert_int_eq(deliver(a, b, f), ENGINE_DROP_AUTH);
	ck_assert_int_eq(close_code(a, nid(b)), ENGINE_CLOSE_POLICY);
	free(f);
	cm_signed_record_clear(&rec);
}
END_TEST

START_TEST(test_engine_leave_marks_peer_offline_at_neighbours)
{
	size_t a = add_peer(true, false, "r"), b = add_peer(true, false, "r");
	const struct peertable_entry *e;

	link_peers(a, b);
	pump();
	ck_assert_int_eq(engine_leave(P[a].e, now, &rng, &acts[a]), 0);
	pump();
	e = peertable_get(P[b].t, "p0@example.com");
	ck_assert_int_eq(peertable_entry_status(P[b].t, e, now), CM_PEER_OFFLINE);
}
END_TEST

/* Runs ticks on every engine for duration_ms in steps of step_ms, pumping after each. */
static void
run_for(int64_t duration_ms, int64_t step_ms)
{
	for (int64_t t = 0; t < duration_ms; t += step_ms) {
		now += step_ms;
		for (size_t i = 0; i < NP; i++)
			engine_tick(P[i].e, now, &rng, &acts[i]);
		pump();
	}
}

START_TEST(test_engine_anti_entropy_sends_only_missing_records)
{
	size_t a = add_peer(true, false, "r"), b = add_peer(true, false, "r"), boot, plain;
	const struct engine_stats *sb;

	/* b knows two hosts; a knows one of them already. */
	seed_hosts(b, &boot, &plain);
	{
		const struct peertable_entry *pe = peertable_get(P[b].t, "p2@example.com");

		ck_assert_int_eq(peertable_apply(P[a].t, &pe->rec, P[boot].fp, now),
				 PEERTABLE_INSERTED);
	}
	link_peers(a, b);
	pump();
	clear_actions();
	run_for(25 * SEC, SEC);
	ck_assert_ptr_nonnull(peertable_get(P[a].t, "p3@example.com"));
	sb = engine_stats(P[b].e);
	ck_assert_uint_ge(sb->requests_answered, 1);
	/* a received p3 once; p2, which it had, came zero times: no replacement happened. */
	ck_assert_uint_eq(engine_stats(P[a].e)->records_applied, 2); /* hello of b, then p3 */
}
END_TEST

START_TEST(test_engine_anti_entropy_once_warm_asks_only_for_recent_records)
{
	size_t a = add_peer(true, false, "r"), b = add_peer(true, false, "r");
	size_t old = add_peer(true, false, "x"), fresh = add_peer(true, false, "y");
	struct engine_config c;
	struct cm_signed_record rec;

	engine_config_default(&c);
	link_peers(a, b);
	pump();
	run_for(c.ae_warm_ms + SEC, 10 * SEC);
	/* b learns of two peers a lacks: one issued long ago (b was behind), one just now. */
	signed_record_of(old, 5, now - 10 * c.ae_fresh_ms, true, "x", &rec);
	ck_assert_int_eq(peertable_apply(P[b].t, &rec, P[old].fp, now), PEERTABLE_INSERTED);
	cm_signed_record_clear(&rec);
	signed_record_of(fresh, 5, now, true, "y", &rec);
	ck_assert_int_eq(peertable_apply(P[b].t, &rec, P[fresh].fp, now), PEERTABLE_INSERTED);
	cm_signed_record_clear(&rec);
	run_for(5 * SEC, SEC);
	ck_assert_ptr_nonnull(peertable_get(P[a].t, "p3@example.com"));
	/* a has been in sync for minutes: old news is not offered back to it. */
	ck_assert_ptr_null(peertable_get(P[a].t, "p2@example.com"));
}
END_TEST

START_TEST(test_engine_hello_pulls_the_new_neighbours_table_before_any_timer)
{
	size_t a = add_peer(true, false, "r"), b = add_peer(true, false, "r");
	size_t x = add_peer(true, false, "x");
	struct cm_signed_record rec;

	signed_record_of(x, 5, now, true, "x", &rec);
	ck_assert_int_eq(peertable_apply(P[b].t, &rec, P[x].fp, now), PEERTABLE_INSERTED);
	cm_signed_record_clear(&rec);
	link_peers(a, b);
	pump(); /* hellos and what they start; no tick has run */
	ck_assert_ptr_nonnull(peertable_get(P[a].t, "p2@example.com"));
	ck_assert_uint_eq(engine_stats(P[a].e)->anti_entropy_rounds, 1);
}
END_TEST

/* Digest rounds of engine i over the next duration_ms (ticks every 100 ms). */
static uint64_t
rounds_over(size_t i, int64_t duration_ms)
{
	uint64_t before = engine_stats(P[i].e)->anti_entropy_rounds;

	run_for(duration_ms, 100);
	return engine_stats(P[i].e)->anti_entropy_rounds - before;
}

START_TEST(test_engine_anti_entropy_slows_down_while_the_table_stands_still)
{
	size_t a = add_peer(true, false, "r"), b = add_peer(true, false, "r");
	struct engine_config c;

	engine_config_default(&c);
	link_peers(a, b);
	pump();
	/* The hellos changed the table: rounds every second for ae_hot_ms. */
	ck_assert_uint_ge(rounds_over(a, c.ae_hot_ms - SEC), 8);
	/* Then doubling: 2, 4, 8, 16, 16 ... seconds. */
	rounds_over(a, 60 * SEC);
	ck_assert_uint_le(rounds_over(a, 64 * SEC), 5);
	ck_assert_uint_ge(rounds_over(a, 64 * SEC), 3);
}
END_TEST

/* Peers 0 and 1 linked and quiet for two minutes; peer 2 ("x") not linked. */
static void
quiet_pair(void)
{
	add_peer(true, false, "r");
	add_peer(true, false, "r");
	add_peer(true, false, "x");
	link_peers(0, 1);
	pump();
	run_for(120 * SEC, SEC);
}

/* News in i's table only: x's record, as if a push had reached i. */
static void
news_at(size_t i)
{
	struct cm_signed_record rec;

	signed_record_of(2, 5, now, true, "x", &rec);
	ck_assert_int_eq(peertable_apply(P[i].t, &rec, P[2].fp, now), PEERTABLE_INSERTED);
	cm_signed_record_clear(&rec);
}

START_TEST(test_engine_anti_entropy_returns_to_its_short_interval_on_news)
{
	quiet_pair();
	news_at(0);
	ck_assert_uint_ge(rounds_over(0, 3 * SEC), 2);
}
END_TEST

START_TEST(test_engine_idle_neighbour_asks_back_when_a_digest_says_recent)
{
	quiet_pair();
	/* Just after a round of 0's: its next one is 16 s away. */
	for (int i = 0; i < 200 && rounds_over(0, 100) == 0; i++)
		;
	/* 1 has news the push never brought 0. */
	news_at(1);
	run_for(3 * SEC, 100);
	ck_assert_ptr_nonnull(peertable_get(P[0].t, "p2@example.com"));
}
END_TEST

START_TEST(test_engine_anti_entropy_interval_stays_constant_when_idle_is_not_longer)
{
	struct engine_config c;
	size_t a, b;

	engine_config_default(&c);
	c.ae_idle_ms = c.anti_entropy_ms;
	a = add_peer_cfg(true, false, "r", &c);
	b = add_peer_cfg(true, false, "r", &c);
	link_peers(a, b);
	pump();
	run_for(60 * SEC, SEC);
	ck_assert_uint_ge(rounds_over(a, 20 * SEC), 19);
}
END_TEST

START_TEST(test_engine_anti_entropy_when_new_asks_for_everything)
{
	size_t a = add_peer(true, false, "r"), b = add_peer(true, false, "r");
	size_t old = add_peer(true, false, "x");
	struct engine_config c;
	struct cm_signed_record rec;

	engine_config_default(&c);
	signed_record_of(old, 5, now - 10 * c.ae_fresh_ms, true, "x", &rec);
	ck_assert_int_eq(peertable_apply(P[b].t, &rec, P[old].fp, now), PEERTABLE_INSERTED);
	cm_signed_record_clear(&rec);
	link_peers(a, b);
	pump();
	run_for(5 * SEC, SEC);
	ck_assert_ptr_nonnull(peertable_get(P[a].t, "p2@example.com"));
}
END_TEST

/* The filter's hashing as docs/protocol.md writes it, so another implementation can read it. */
static bool
spec_bloom_has(const unsigned char *bits, size_t nbits, int k, const char *email, int64_t seq,
	       int64_t seed)
{
	uint64_t h = 14695981039346656037ULL, h2;
	unsigned char buf[8];

	for (int i = 0; i < 8; i++)
		buf[i] = (unsigned char)((uint64_t)seed >> (8 * i));
	for (int i = 0; i < 8; i++)
		h = (h ^ buf[i]) * 1099511628211ULL;
	for (const char *c = email;; c++) {
		h = (h ^ (unsigned char)*c) * 1099511628211ULL;
		if (*c == '\0')
			break;
	}
	for (int i = 0; i < 8; i++)
		h = (h ^ (unsigned char)((uint64_t)seq >> (8 * i))) * 1099511628211ULL;
	h2 = h;
	h2 ^= h2 >> 30;
	h2 *= 0xbf58476d1ce4e5b9ULL;
	h2 ^= h2 >> 27;
	h2 *= 0x94d049bb133111ebULL;
	h2 ^= h2 >> 31;
	h2 |= 1;
	for (int i = 0; i < k; i++) {
		uint64_t b = (h + (uint64_t)i * h2) % nbits;

		if (!(bits[b / 8] & (1u << (b % 8))))
			return false;
	}
	return true;
}

START_TEST(test_engine_anti_entropy_digest_hashes_as_the_protocol_says)
{
	size_t a = add_peer(true, false, "r"), b = add_peer(true, false, "r");
	struct cm_envelope env;
	struct cm_err err;
	gnutls_datum_t b64, raw = {NULL, 0};
	bool found = false;

	link_peers(a, b);
	pump();
	for (int tick = 0; tick < 30 && !found; tick++) {
		clear_actions();
		now += SEC;
		engine_tick(P[a].e, now, &rng, &acts[a]);
		for (size_t i = 0; i < acts[a].len && !found; i++) {
			struct engine_action *act = &acts[a].items[i];

			if (act->kind != ENGINE_SEND || act->neighbour != nid(b) ||
			    cm_envelope_from_frame(act->frame, act->frame_len, &env, &err) != 0)
				continue;
			if (env.type == CM_MSG_PEER_REQUEST && env.payload.request.has_digest) {
				const struct cm_digest *d = &env.payload.request.digest;

				found = true;
				b64.data = (unsigned char *)d->bloom;
				b64.size = (unsigned int)strlen(d->bloom);
				ck_assert_int_eq(gnutls_base64_decode2(&b64, &raw), 0);
				/* a holds b's record: its key must be in the filter, by the written rule. */
				ck_assert(spec_bloom_has(raw.data, (size_t)raw.size * 8, d->k, "p1@example.com",
							 engine_self(P[b].e)->record.seq, d->seed));
				gnutls_free(raw.data);
			}
			cm_envelope_clear(&env);
		}
	}
	ck_assert_msg(found, "no digest request sent to the neighbour in 30 s");
}
END_TEST

START_TEST(test_engine_spread_reaches_every_node_with_anti_entropy)
{
	struct engine_config c;
	size_t n = 40, origin;
	struct cm_signed_record rec;
	char *f;
	size_t have = 0;

	engine_config_default(&c);
	c.ttl = 2; /* short pushes: anti-entropy must close the gap */
	c.anti_entropy_ms = 2 * SEC;
	for (size_t i = 0; i < n; i++)
		add_peer_cfg(true, false, "r", &c);
	/* A ring plus chords: connected, sparse. */
	for (size_t i = 0; i < n; i++) {
		link_peers(i, (i + 1) % n);
		if (i % 4 == 0 && i < n / 2)
			link_peers(i, i + n / 2);
	}
	pump();
	origin = add_peer_cfg(true, false, "news", &c);
	signed_record_of(origin, 7, now, true, "news", &rec);
	f = announcement_frame(0, &rec, c.ttl, now, NULL);
	ck_assert_int_eq(deliver(1, 0, f), ENGINE_ACCEPTED);
	pump();
	run_for(120 * SEC, 500);
	for (size_t i = 0; i < n; i++)
		have += peertable_get(P[i].t, rec.record.email) != NULL;
	ck_assert_uint_eq(have, n);
	free(f);
	cm_signed_record_clear(&rec);
}
END_TEST

FB_CHECK_MAIN(.name = "engine", .setup = setup, .teardown = teardown, .timeout_s = 60)
