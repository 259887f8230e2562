/*
 * check_engine_relay.c - relays in records: a silent record names its relays
 * but never a relay port, our own silent record never carries one, and the
 * peer table shows the relays and a broadcasting peer's relay port. Engines
 * wired in memory (engine_fixture.h).
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

#define RPORT 7444
#define RELAY "relay@example.com"

/* Peer i's record naming RELAY (silent ones without addresses or port), signed (seq 1, now). */
static void
relayed_signed(size_t i, bool broadcasting, int relay_port, struct cm_signed_record *out)
{
	struct cm_peer_record r;
	struct cm_err err;

	self_record(&r, cm_identity_email(P[i].id), broadcasting, false, "r", (int)i);
	if (!broadcasting) {
		cm_strlist_clear(&r.socket_addresses);
		r.port = 0;
	}
	ck_assert_int_eq(cm_strlist_append(&r.relays, RELAY), 0);
	r.relay_port = relay_port;
	r.seq = 1;
	r.issued_at_ms = now;
	ck_assert_int_eq(cm_record_sign(&r, P[i].id, out, &err), 0);
	cm_peer_record_clear(&r);
}

START_TEST(test_engine_refuses_silent_record_with_a_relay_port)
{
	size_t hub = star(2), origin = add_peer(false, false, "x");
	struct cm_signed_record rec;
	struct cm_err err;
	json_t *j;
	char *f;

	/* A non-conforming peer signs a silent record that names the port it relays on. */
	relayed_signed(origin, false, 0, &rec);
	j = json_loads(rec.canonical, 0, NULL);
	json_object_set_new(j, "relay_port", json_integer(RPORT));
	free(rec.canonical);
	free(rec.signature);
	rec.canonical = cm_json_canonical(j, &err);
	json_decref(j);
	ck_assert_int_eq(cm_identity_sign(P[origin].id, rec.canonical, strlen(rec.canonical),
					  &rec.signature, &err),
			 0);
	f = announcement_frame(1, &rec, 5, now, NULL);
	ck_assert_ptr_nonnull(strstr(f, "\"relay_port\":7444"));
	ck_assert_int_eq(deliver(hub, 1, f), ENGINE_DROP_RECORD_INVALID);
	ck_assert_ptr_null(peertable_get(P[hub].t, rec.record.email));
	ck_assert_int_eq(count_sends(hub, 0, CM_MSG_PEER_ANNOUNCEMENT), 0);
	free(f);
	cm_signed_record_clear(&rec);
}
END_TEST

START_TEST(test_engine_accepts_silent_record_naming_its_relays)
{
	size_t hub = star(1), origin = add_peer(false, false, "x");
	const struct peertable_entry *e;
	struct cm_signed_record rec;
	struct cm_peer_info info;
	char *f;

	relayed_signed(origin, false, 0, &rec);
	ck_assert_ptr_nonnull(strstr(rec.canonical, "\"relays\":[\"" RELAY "\"]"));
	f = announcement_frame(1, &rec, 5, now, NULL);
	ck_assert_int_eq(deliver(hub, 1, f), ENGINE_ACCEPTED);
	e = peertable_get(P[hub].t, rec.record.email);
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(peertable_entry_info(P[hub].t, e, now, &info), 0);
	ck_assert_uint_eq(info.reachable_via.len, 1);
	ck_assert_str_eq(info.reachable_via.items[0], RELAY);
	ck_assert_int_eq(info.relay_port, 0);
	ck_assert_ptr_null(info.via);
	cm_peer_info_clear(&info);
	free(f);
	cm_signed_record_clear(&rec);
}
END_TEST

START_TEST(test_peer_info_shows_a_broadcasting_peers_relay_port)
{
	size_t hub = star(1), origin = add_peer(true, false, "x");
	struct cm_signed_record rec;
	struct cm_peer_info info;

	relayed_signed(origin, true, RPORT, &rec);
	ck_assert_int_eq(peertable_apply(P[hub].t, &rec, P[origin].fp, now), PEERTABLE_INSERTED);
	ck_assert_int_eq(peertable_entry_info(P[hub].t, peertable_get(P[hub].t, rec.record.email),
					      now, &info),
			 0);
	ck_assert_int_eq(info.relay_port, RPORT);
	ck_assert_str_eq(info.reachable_via.items[0], RELAY);
	cm_peer_info_clear(&info);
	cm_signed_record_clear(&rec);
}
END_TEST

START_TEST(test_peertable_refuses_silent_record_with_a_relay_port)
{
	size_t hub = star(1), origin = add_peer(false, false, "x");
	struct cm_signed_record rec;

	relayed_signed(origin, false, 0, &rec);
	/* The parsed copy as a decoder would hold it from a non-conforming text. */
	rec.record.relay_port = RPORT;
	ck_assert_int_eq(peertable_apply(P[hub].t, &rec, P[origin].fp, now), PEERTABLE_INVALID);
	ck_assert_uint_eq(peertable_stats(P[hub].t)->refused_silent, 1);
	cm_signed_record_clear(&rec);
}
END_TEST

START_TEST(test_engine_set_self_silent_record_keeps_relays_without_a_relay_port)
{
	size_t s = add_peer(false, false, "r");
	const struct cm_signed_record *self;
	struct cm_peer_record r;

	self_record(&r, cm_identity_email(P[s].id), false, false, "r", (int)s);
	cm_strlist_append(&r.relays, RELAY);
	r.relay_port = RPORT; /* whatever the daemon passes */
	ck_assert_int_eq(engine_set_self(P[s].e, &r, now, &rng, &acts[s]), 0);
	cm_peer_record_clear(&r);
	self = engine_self(P[s].e);
	ck_assert_int_eq(self->record.relay_port, 0);
	ck_assert_ptr_null(strstr(self->canonical, "relay_port"));
	ck_assert_ptr_nonnull(strstr(self->canonical, "\"relays\":[\"" RELAY "\"]"));
}
END_TEST

START_TEST(test_engine_set_self_broadcasting_record_carries_its_relay_port)
{
	size_t s = add_peer(true, false, "r");
	const struct cm_signed_record *self;
	struct cm_peer_record r;

	self_record(&r, cm_identity_email(P[s].id), true, false, "r", (int)s);
	r.relay_port = RPORT;
	ck_assert_int_eq(engine_set_self(P[s].e, &r, now, &rng, &acts[s]), 0);
	cm_peer_record_clear(&r);
	self = engine_self(P[s].e);
	ck_assert_int_eq(self->record.relay_port, RPORT);
	ck_assert_ptr_nonnull(strstr(self->canonical, "\"relay_port\":7444"));
	/* No relays of its own: the member is left out, not written empty. */
	ck_assert_ptr_null(strstr(self->canonical, "\"relays\""));
}
END_TEST

FB_CHECK_MAIN(.name = "engine_relay", .setup = setup, .teardown = teardown, .timeout_s = 60)
