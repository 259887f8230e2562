/*
 * check_engine_torrent.c - torrents in gossip: seeders' records, the
 * torrent_search request and its sharing rules, its limits. Engines wired in
 * memory (engine_fixture.h).
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

#define IH_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define IH_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define SHA "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
#define TPORT 6881

/* Peer i's record seeding info_hash (NULL: nothing), silent ones without addresses or port. */
static void
seeder_record(struct cm_peer_record *r, size_t i, bool broadcasting, const char *info_hash)
{
	self_record(r, cm_identity_email(P[i].id), broadcasting, false, "r", (int)i);
	if (!broadcasting) {
		cm_strlist_clear(&r->socket_addresses);
		r->port = 0;
	} else {
		r->torrent_port = TPORT;
	}
	if (info_hash != NULL)
		ck_assert_int_eq(cm_torrentlist_append(&r->torrents, info_hash, "big.bin", 52428800,
						       SHA),
				 0);
}

/* The same, signed by peer i (seq 1, issued now). */
static void
seeder_signed(size_t i, bool broadcasting, const char *info_hash, bool leaving,
	      struct cm_signed_record *out)
{
	struct cm_peer_record r;
	struct cm_err err;

	seeder_record(&r, i, broadcasting, info_hash);
	r.seq = 1;
	r.issued_at_ms = now;
	r.leaving = leaving;
	ck_assert_int_eq(cm_record_sign(&r, P[i].id, out, &err), 0);
	cm_peer_record_clear(&r);
}

/* A new peer whose record a's table holds; returns its index. */
static size_t
seeder_in(size_t a, bool broadcasting, const char *info_hash, bool leaving)
{
	size_t s = add_peer(broadcasting, false, "r");
	struct cm_signed_record rec;

	seeder_signed(s, broadcasting, info_hash, leaving, &rec);
	ck_assert_int_eq(peertable_apply(P[a].t, &rec, P[s].fp, now), PEERTABLE_INSERTED);
	cm_signed_record_clear(&rec);
	return s;
}

/* Peer i now seeds info_hash itself (its own record, re-signed and announced). */
static void
seed_self(size_t i, const char *info_hash)
{
	struct cm_peer_record r;

	seeder_record(&r, i, P[i].broadcasting, info_hash);
	ck_assert_int_eq(engine_set_self(P[i].e, &r, now, &rng, &acts[i]), 0);
	cm_peer_record_clear(&r);
}

/* asker searches info_hash among its neighbours; the answering emails go to *emails. */
static int
search(size_t asker, const char *info_hash, struct cm_strlist *emails)
{
	char id[CM_UUID_TEXT_LEN + 1];
	int asked = engine_ask_torrent(P[asker].e, info_hash, 3, now, &rng, id, &acts[asker]);

	pump();
	ck_assert_int_eq(engine_request_take(P[asker].e, id, emails), 0);
	return asked;
}

/* A PEER_REQUEST {torrent_search} from peer `from`, as JSON text (caller frees). */
static char *
search_frame(size_t from, const char *info_hash)
{
	struct cm_envelope env = {.v = 1, .type = CM_MSG_PEER_REQUEST, .ttl = 1};
	char id[CM_UUID_TEXT_LEN + 1];

	cm_uuid_generate(id);
	env.id = id;
	env.timestamp_ms = now;
	env.sender_email = (char *)cm_identity_email(P[from].id);
	env.sender_peer_id = "7c6d5e4f-3a2b-4c1d-8e9f-0a1b2c3d4e5f";
	env.payload.request.has_torrent_search = true;
	env.payload.request.torrent_search.info_hash = (char *)info_hash;
	return cm_json_dump_take(cm_envelope_encode(&env), NULL);
}

START_TEST(test_engine_torrent_search_broadcasting_requester_learns_every_seeder)
{
	size_t a = add_peer(true, false, "r"), b = add_peer(true, false, "r");
	size_t loud, quiet, other, gone;
	struct peertable_seeder got[8];
	struct cm_strlist emails = {0};

	/* Linked first: the session's first digest exchange would carry a's whole table. */
	link_peers(b, a);
	pump();
	clear_actions();
	loud = seeder_in(a, true, IH_A, false);
	quiet = seeder_in(a, false, IH_A, false);
	other = seeder_in(a, true, IH_B, false);
	gone = seeder_in(a, true, IH_A, true);
	ck_assert_int_eq(search(b, IH_A, &emails), 1);
	ck_assert_uint_eq(emails.len, 2);
	ck_assert(has_email(&emails, loud) && has_email(&emails, quiet));
	ck_assert_ptr_null(peertable_get(P[b].t, cm_identity_email(P[other].id)));
	ck_assert_ptr_null(peertable_get(P[b].t, cm_identity_email(P[gone].id)));
	/* What the daemon dials: the broadcasting seeder first, the silent one named only. */
	ck_assert_uint_eq(peertable_torrent_seeders(P[b].t, IH_A, now, got, 8), 2);
	ck_assert_str_eq(got[0].entry->rec.record.email, cm_identity_email(P[loud].id));
	ck_assert_int_eq(got[0].entry->rec.record.torrent_port, TPORT);
	ck_assert_uint_eq(got[0].entry->rec.record.socket_addresses.len, 1);
	ck_assert_str_eq(got[0].torrent->sha256, SHA);
	ck_assert_str_eq(got[1].entry->rec.record.email, cm_identity_email(P[quiet].id));
	ck_assert_uint_eq(got[1].entry->rec.record.socket_addresses.len, 0);
	ck_assert_int_eq(got[1].entry->rec.record.torrent_port, 0);
	cm_strlist_clear(&emails);
}
END_TEST

START_TEST(test_engine_torrent_search_silent_requester_learns_only_broadcasting_seeders)
{
	size_t a = add_peer(true, false, "r"), s = add_peer(false, false, "r");
	size_t loud = seeder_in(a, true, IH_A, false), quiet = seeder_in(a, false, IH_A, false);
	struct cm_strlist emails = {0};

	link_peers(s, a);
	pump();
	clear_actions();
	ck_assert_int_eq(search(s, IH_A, &emails), 1);
	ck_assert_uint_eq(emails.len, 1);
	ck_assert(has_email(&emails, loud));
	ck_assert_ptr_null(peertable_get(P[s].t, cm_identity_email(P[quiet].id)));
	cm_strlist_clear(&emails);
}
END_TEST

START_TEST(test_engine_torrent_search_answer_names_the_responder_on_the_same_terms)
{
	size_t a = add_peer(true, false, "r"), quiet = add_peer(false, false, "r");
	size_t b = add_peer(true, false, "r"), s = add_peer(false, false, "r");
	struct cm_strlist emails = {0};

	seed_self(a, IH_A);
	seed_self(quiet, IH_A);
	link_peers(b, a);
	link_peers(s, a);
	link_peers(b, quiet);
	link_peers(s, quiet);
	pump();
	clear_actions();
	/* A broadcasting responder names itself to anyone; a silent one to broadcasting peers only. */
	ck_assert_int_eq(search(b, IH_A, &emails), 2);
	ck_assert_uint_eq(emails.len, 2);
	ck_assert(has_email(&emails, a) && has_email(&emails, quiet));
	cm_strlist_clear(&emails);
	ck_assert_int_eq(search(s, IH_A, &emails), 2);
	ck_assert_uint_eq(emails.len, 1);
	ck_assert(has_email(&emails, a));
	cm_strlist_clear(&emails);
	/* Nobody seeds IH_B: an empty answer. */
	ck_assert_int_eq(search(b, IH_B, &emails), 2);
	ck_assert_uint_eq(emails.len, 0);
	cm_strlist_clear(&emails);
}
END_TEST

START_TEST(test_engine_torrent_search_keeps_only_emails_of_records_that_seed_it)
{
	size_t a = add_peer(true, false, "r"), b = add_peer(true, false, "r");
	size_t bystander = add_peer(true, false, "r");
	struct cm_envelope env = {.v = 1, .type = CM_MSG_PEER_LIST_RESPONSE, .ttl = 1};
	char id[CM_UUID_TEXT_LEN + 1], rid[CM_UUID_TEXT_LEN + 1];
	struct cm_signed_record rec;
	struct cm_strlist emails = {0};
	char *f;

	link_peers(b, a);
	pump();
	clear_actions();
	ck_assert_int_eq(engine_ask_torrent(P[b].e, IH_A, 3, now, &rng, id, &acts[b]), 1);
	clear_actions();
	/* a answers with a valid record of someone who does not seed it. */
	seeder_signed(bystander, true, IH_B, false, &rec);
	cm_uuid_generate(rid);
	env.id = rid;
	env.timestamp_ms = now;
	env.sender_email = (char *)cm_identity_email(P[a].id);
	env.sender_peer_id = "7c6d5e4f-3a2b-4c1d-8e9f-0a1b2c3d4e5f";
	env.payload.list_response.request_id = id;
	env.payload.list_response.peers = (struct cm_signed_recordlist){&rec, 1};
	f = cm_json_dump_take(cm_envelope_encode(&env), NULL);
	ck_assert_int_eq(deliver(b, a, f), ENGINE_ACCEPTED);
	ck_assert_ptr_nonnull(peertable_get(P[b].t, rec.record.email));
	ck_assert_int_eq(engine_request_take(P[b].e, id, &emails), 0);
	ck_assert_uint_eq(emails.len, 0);
	free(f);
	cm_signed_record_clear(&rec);
}
END_TEST

START_TEST(test_engine_refuses_silent_record_with_a_torrent_port)
{
	size_t hub = star(2), origin = add_peer(false, false, "x");
	struct cm_signed_record rec;
	struct cm_err err;
	json_t *j;
	char *f;

	/* A non-conforming peer signs a silent record that names the port it listens on. */
	seeder_signed(origin, false, IH_A, false, &rec);
	j = json_loads(rec.canonical, 0, NULL);
	json_object_set_new(j, "torrent_port", json_integer(TPORT));
	free(rec.canonical);
	free(rec.signature);
	rec.canonical = cm_json_canonical(j, &err);
	json_decref(j);
	ck_assert_int_eq(cm_identity_sign(P[origin].id, rec.canonical, strlen(rec.canonical),
					  &rec.signature, &err),
			 0);
	f = announcement_frame(1, &rec, 5, now, NULL);
	ck_assert_ptr_nonnull(strstr(f, "\"torrent_port\":6881"));
	ck_assert_int_eq(deliver(hub, 1, f), ENGINE_DROP_RECORD_INVALID);
	ck_assert_ptr_null(peertable_get(P[hub].t, rec.record.email));
	ck_assert_int_eq(count_sends(hub, 0, CM_MSG_PEER_ANNOUNCEMENT), 0);
	free(f);
	cm_signed_record_clear(&rec);
}
END_TEST

START_TEST(test_engine_accepts_silent_seeder_naming_its_torrents)
{
	size_t hub = star(1), origin = add_peer(false, false, "x");
	const struct peertable_entry *e;
	struct cm_signed_record rec;
	char *f;

	seeder_signed(origin, false, IH_A, false, &rec);
	f = announcement_frame(1, &rec, 5, now, NULL);
	ck_assert_int_eq(deliver(hub, 1, f), ENGINE_ACCEPTED);
	e = peertable_get(P[hub].t, rec.record.email);
	ck_assert_ptr_nonnull(e);
	ck_assert_ptr_nonnull(peertable_entry_torrent(e, IH_A));
	free(f);
	cm_signed_record_clear(&rec);
}
END_TEST

START_TEST(test_engine_set_self_silent_record_keeps_torrents_without_a_port)
{
	size_t s = add_peer(false, false, "r");
	const struct cm_signed_record *self;
	struct cm_peer_record r;

	seeder_record(&r, s, false, IH_A);
	r.torrent_port = TPORT; /* whatever the daemon passes */
	ck_assert_int_eq(engine_set_self(P[s].e, &r, now, &rng, &acts[s]), 0);
	cm_peer_record_clear(&r);
	self = engine_self(P[s].e);
	ck_assert_int_eq(self->record.torrent_port, 0);
	ck_assert_ptr_null(strstr(self->canonical, "torrent_port"));
	ck_assert_ptr_nonnull(strstr(self->canonical, IH_A));
}
END_TEST

START_TEST(test_engine_set_self_refuses_a_record_over_the_signed_record_cap)
{
	size_t a = add_peer(true, false, "r");
	int64_t seq = engine_self(P[a].e)->record.seq;
	struct cm_peer_record r;
	char name[CM_MAX_TORRENT_NAME + 1], ih[CM_INFO_HASH_LEN + 1];

	/* 256 torrents with long names: about 94 KB, which every receiver would refuse. */
	memset(name, 'n', CM_MAX_TORRENT_NAME);
	name[CM_MAX_TORRENT_NAME] = '\0';
	seeder_record(&r, a, true, NULL);
	for (int i = 0; i < CM_MAX_TORRENTS; i++) {
		snprintf(ih, sizeof(ih), "%040x", i);
		cm_torrentlist_append(&r.torrents, ih, name, i, SHA);
	}
	now += SEC;
	ck_assert_int_eq(engine_set_self(P[a].e, &r, now, &rng, &acts[a]), -1);
	ck_assert_int_eq(engine_self(P[a].e)->record.seq, seq);
	ck_assert_uint_eq(engine_self(P[a].e)->record.torrents.len, 0);
	cm_peer_record_clear(&r);
}
END_TEST

START_TEST(test_engine_ask_torrent_refuses_a_malformed_info_hash)
{
	size_t a = add_peer(true, false, "r"), b = add_peer(true, false, "r");
	char id[CM_UUID_TEXT_LEN + 1] = "x";

	link_peers(a, b);
	pump();
	clear_actions();
	ck_assert_int_eq(engine_ask_torrent(P[a].e, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 3,
					    now, &rng, id, &acts[a]),
			 -1);
	ck_assert_int_eq(engine_ask_torrent(P[a].e, IH_A "0", 3, now, &rng, id, &acts[a]), -1);
	ck_assert_str_eq(id, "");
	ck_assert_uint_eq(acts[a].len, 0);
}
END_TEST

START_TEST(test_engine_torrent_search_spends_a_request_token)
{
	size_t a = add_peer(true, false, "r"), b = add_peer(true, false, "r");
	struct engine_config cfg;
	int answered = 0, limited = 0;
	char *f;

	engine_config_default(&cfg);
	link_peers(a, b);
	pump();
	clear_actions();
	for (int i = 0; i < (int)cfg.rate[ENGINE_KIND_REQUEST].burst + 3; i++) {
		enum engine_verdict v;

		f = search_frame(b, IH_A);
		v = deliver(a, b, f);
		answered += v == ENGINE_ACCEPTED;
		limited += v == ENGINE_DROP_RATE;
		free(f);
	}
	/* The session's first digest (at the hello) took one token. */
	ck_assert_int_eq(answered, (int)cfg.rate[ENGINE_KIND_REQUEST].burst - 1);
	ck_assert_int_eq(limited, 4);
	/* One answer per request, even an empty one. */
	ck_assert_int_eq(count_sends(a, nid(b), CM_MSG_PEER_LIST_RESPONSE), answered);
}
END_TEST

START_TEST(test_engine_torrent_search_answer_is_one_frame_within_the_byte_limits)
{
	size_t a = add_peer(true, false, "r"), b = add_peer(true, false, "r");
	struct engine_config cfg;
	size_t bytes = 0;
	int frames = 0;
	char *f, desc[1001];

	engine_config_default(&cfg);
	link_peers(a, b);
	pump();
	/* 16 seeders of about 20 KB records each: more than one answer may carry. */
	memset(desc, 'd', sizeof(desc) - 1);
	desc[sizeof(desc) - 1] = '\0';
	for (int k = 0; k < 16; k++) {
		size_t s = add_peer(true, false, "r");
		struct cm_peer_record r;
		struct cm_signed_record rec;
		struct cm_err err;
		char name[32];

		seeder_record(&r, s, true, IH_A);
		for (int i = 0; i < 20; i++) {
			snprintf(name, sizeof(name), "repo-%d", i);
			cm_repolist_append(&r.repositories, name, desc);
		}
		r.seq = 1;
		r.issued_at_ms = now;
		ck_assert_int_eq(cm_record_sign(&r, P[s].id, &rec, &err), 0);
		ck_assert_int_eq(peertable_apply(P[a].t, &rec, P[s].fp, now), PEERTABLE_INSERTED);
		cm_peer_record_clear(&r);
		cm_signed_record_clear(&rec);
	}
	clear_actions();
	f = search_frame(b, IH_A);
	ck_assert_int_eq(deliver(a, b, f), ENGINE_ACCEPTED);
	free(f);
	for (size_t k = 0; k < acts[a].len; k++) {
		if (acts[a].items[k].kind != ENGINE_SEND)
			continue;
		frames++;
		bytes += acts[a].items[k].frame_len;
	}
	ck_assert_int_eq(frames, 1);
	ck_assert_uint_le(bytes, cfg.answer_max_bytes + 1024);
	ck_assert_uint_gt(bytes, cfg.answer_max_bytes / 2);
	ck_assert_uint_eq(engine_stats(P[a].e)->answers_cut, 1);
}
END_TEST

FB_CHECK_MAIN(.name = "engine_torrent", .setup = setup, .teardown = teardown, .timeout_s = 60)
