/* check_codec_relay.c - relays in the codec: the record's relays and relay_port, PeerInfo, RelayStatus. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fb/codec.h"
#include "check_main.h"

#define UUID_A "0b9f2c1e-5d3a-4c2b-9e8f-1a2b3c4d5e6f"
#define T0 1764000000123LL
#define RECORD_HEAD                                                                                \
	"{\"email\":\"a@example.com\",\"peer_id\":\"" UUID_A "\",\"seq\":1,"                     \
	"\"issued_at\":\"2025-11-24T16:00:00.123Z\",\"is_bootstrap\":false,\"leaving\":false,"    \
	"\"repositories\":[],\"capabilities\":{\"max_peers\":8,\"supports_torrent\":true,"        \
	"\"bandwidth_estimate\":0},"

static void
fill_record(struct cm_peer_record *r, bool broadcasting)
{
	memset(r, 0, sizeof(*r));
	r->email = strdup("alice@example.com");
	r->peer_id = strdup(UUID_A);
	r->seq = 42;
	r->issued_at_ms = T0;
	r->is_broadcasting = broadcasting;
	if (broadcasting) {
		cm_strlist_append(&r->socket_addresses, "192.0.2.10");
		r->port = 7443;
	}
	r->capabilities = (struct cm_capabilities){8, true, 0};
}

/* The record's canonical text, or NULL; caller frees. */
static char *
canonical_of(const struct cm_peer_record *r)
{
	json_t *j = cm_peer_record_encode(r);
	char *s = cm_json_canonical(j, NULL);

	json_decref(j);
	return s;
}

static int
decode_record_text(const char *text, struct cm_peer_record *out, struct cm_err *err)
{
	json_t *j = json_loads(text, 0, NULL);
	int rc;

	ck_assert_ptr_nonnull(j);
	rc = cm_peer_record_decode(j, out, err);
	json_decref(j);
	return rc;
}

START_TEST(test_record_without_relays_signs_the_same_text_as_before_them)
{
	struct cm_peer_record r;
	char *text;

	fill_record(&r, true);
	text = canonical_of(&r);
	ck_assert_str_eq(text, "{\"capabilities\":{\"bandwidth_estimate\":0,\"max_peers\":8,"
			       "\"supports_torrent\":true},\"email\":\"alice@example.com\","
			       "\"is_bootstrap\":false,\"is_broadcasting\":true,\"issued_at\":"
			       "\"2025-11-24T16:00:00.123Z\",\"leaving\":false,\"peer_id\":\"" UUID_A
			       "\",\"port\":7443,\"repositories\":[],\"seq\":42,"
			       "\"socket_addresses\":[\"192.0.2.10\"]}");
	free(text);
	cm_peer_record_clear(&r);
}
END_TEST

START_TEST(test_record_with_relays_round_trips_with_its_relay_port)
{
	struct cm_peer_record r, back;
	struct cm_err err;
	char *text, *again;

	fill_record(&r, true);
	cm_strlist_append(&r.relays, "r1@example.com");
	cm_strlist_append(&r.relays, "r2@example.com");
	r.relay_port = 7444;
	text = canonical_of(&r);
	ck_assert_ptr_nonnull(strstr(text, "\"relay_port\":7444"));
	ck_assert_ptr_nonnull(strstr(text, "\"relays\":[\"r1@example.com\",\"r2@example.com\"]"));
	ck_assert_msg(decode_record_text(text, &back, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(back.relays.len, 2);
	ck_assert_str_eq(back.relays.items[1], "r2@example.com");
	ck_assert_int_eq(back.relay_port, 7444);
	again = canonical_of(&back);
	ck_assert_str_eq(text, again);
	free(text);
	free(again);
	cm_peer_record_clear(&back);
	cm_peer_record_clear(&r);
}
END_TEST

START_TEST(test_silent_record_names_its_relays_but_never_a_relay_port)
{
	struct cm_peer_record r;
	json_t *j;

	fill_record(&r, false);
	cm_strlist_append(&r.relays, "r1@example.com");
	r.relay_port = 7444; /* whatever the struct holds */
	j = cm_peer_record_encode(&r);
	ck_assert_ptr_null(json_object_get(j, "relay_port"));
	ck_assert_uint_eq(json_array_size(json_object_get(j, "relays")), 1);
	json_decref(j);
	cm_peer_record_clear(&r);
}
END_TEST

START_TEST(test_record_decode_refuses_more_than_four_relays)
{
	const char *four = RECORD_HEAD "\"is_broadcasting\":false,\"relays\":[\"a@x.org\","
				       "\"b@x.org\",\"c@x.org\",\"d@x.org\"]}";
	const char *five = RECORD_HEAD "\"is_broadcasting\":false,\"relays\":[\"a@x.org\","
				       "\"b@x.org\",\"c@x.org\",\"d@x.org\",\"e@x.org\"]}";
	struct cm_peer_record r;
	struct cm_err err = {0};

	ck_assert_msg(decode_record_text(four, &r, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(r.relays.len, CM_MAX_RELAYS);
	cm_peer_record_clear(&r);
	ck_assert_int_eq(decode_record_text(five, &r, &err), -1);
	ck_assert_str_eq(err.msg, "relays: more than 4 entries");
}
END_TEST

START_TEST(test_record_decode_refuses_a_relay_that_is_not_an_email)
{
	static const char *const cases[] = {
		RECORD_HEAD "\"is_broadcasting\":false,\"relays\":[\"not-an-email\"]}",
		RECORD_HEAD "\"is_broadcasting\":false,\"relays\":[7]}",
		RECORD_HEAD "\"is_broadcasting\":false,\"relays\":\"a@x.org\"}",
		RECORD_HEAD "\"is_broadcasting\":true,\"socket_addresses\":[\"192.0.2.1\"],"
			    "\"port\":1,\"relay_port\":65536}",
		RECORD_HEAD "\"is_broadcasting\":true,\"socket_addresses\":[\"192.0.2.1\"],"
			    "\"port\":1,\"relay_port\":0}",
	};
	static const char *const messages[] = {"relays[0]", "relays[0]", "relays", "relay_port",
					       "relay_port"};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cm_peer_record r;
		struct cm_err err = {0};

		ck_assert_msg(decode_record_text(cases[i], &r, &err) == -1, "case %zu accepted", i);
		ck_assert_msg(strncmp(err.msg, messages[i], strlen(messages[i])) == 0,
			      "case %zu: %s", i, err.msg);
	}
}
END_TEST

START_TEST(test_record_copy_copies_the_relays)
{
	struct cm_peer_record r, c;

	fill_record(&r, true);
	cm_strlist_append(&r.relays, "r1@example.com");
	r.relay_port = 7444;
	ck_assert_int_eq(cm_peer_record_copy(&c, &r), 0);
	cm_peer_record_clear(&r);
	ck_assert_uint_eq(c.relays.len, 1);
	ck_assert_str_eq(c.relays.items[0], "r1@example.com");
	ck_assert_int_eq(c.relay_port, 7444);
	cm_peer_record_clear(&c);
}
END_TEST

static void
fill_peer_info(struct cm_peer_info *p)
{
	memset(p, 0, sizeof(*p));
	p->email = strdup("dave@example.com");
	p->peer_id = strdup(UUID_A);
	p->public_certificate = strdup("PEM");
	p->discovered_at_ms = p->last_seen_ms = p->expires_at_ms = T0;
}

START_TEST(test_peer_info_always_writes_reachable_via_and_via_only_when_set)
{
	struct cm_peer_info p, back;
	struct cm_err err;
	json_t *j;

	fill_peer_info(&p);
	j = cm_peer_info_encode(&p);
	ck_assert(json_is_array(json_object_get(j, "reachable_via")));
	ck_assert_uint_eq(json_array_size(json_object_get(j, "reachable_via")), 0);
	ck_assert_ptr_null(json_object_get(j, "via"));
	ck_assert_ptr_null(json_object_get(j, "relay_port"));
	json_decref(j);
	cm_strlist_append(&p.reachable_via, "r1@example.com");
	p.via = strdup("r1@example.com");
	p.relay_port = 7444;
	j = cm_peer_info_encode(&p);
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(j, "reachable_via"), 0)),
			 "r1@example.com");
	ck_assert_str_eq(json_string_value(json_object_get(j, "via")), "r1@example.com");
	ck_assert_int_eq(json_integer_value(json_object_get(j, "relay_port")), 7444);
	ck_assert_msg(cm_peer_info_decode(j, &back, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(back.reachable_via.items[0], "r1@example.com");
	ck_assert_str_eq(back.via, "r1@example.com");
	ck_assert_int_eq(back.relay_port, 7444);
	json_decref(j);
	cm_peer_info_clear(&back);
	cm_peer_info_clear(&p);
}
END_TEST

START_TEST(test_relay_status_with_nothing_running_is_empty_lists_and_zeros)
{
	struct cm_relay_status s = {0};
	char *text;

	text = cm_json_dump_take(cm_relay_status_encode(&s), NULL);
	ck_assert_str_eq(text, "{\"reservations_held\":[],\"reservations_served\":[],"
			       "\"circuits\":[],\"circuits_served\":[],\"serving\":false,"
			       "\"relay_port\":0,\"reservations_granted\":0,"
			       "\"reservations_renewed\":0,\"reservations_refused\":0,"
			       "\"circuits_opened\":0,\"circuits_closed\":0,\"refused\":"
			       "{\"no_reservation\":0,\"max_reservations\":0,\"not_allowed\":0,"
			       "\"max_circuits\":0,\"per_peer\":0,\"per_address\":0,\"rate\":0,"
			       "\"bad_request\":0},\"join_timeouts\":0,\"closed\":{\"byte_cap\":0,"
			       "\"lifetime\":0},\"bytes_relayed\":0,\"circuits_dialed\":0,"
			       "\"circuits_accepted\":0,\"circuit_failures\":0,\"bytes_carried\":0}");
	free(text);
}
END_TEST

START_TEST(test_relay_status_round_trips_every_entry_kind)
{
	struct cm_relay_status s = {.serving = true, .relay_port = 7444}, back;
	struct cm_err err;
	char *text, *again;

	s.reservations_held.items = calloc(2, sizeof(struct cm_relay_held));
	s.reservations_held.len = 2;
	s.reservations_held.items[0] = (struct cm_relay_held){
		.relay = strdup("r1@example.com"), .since_ms = T0, .has_expires_at = true,
		.expires_at_ms = T0 + 1800000};
	s.reservations_held.items[1] = (struct cm_relay_held){
		.relay = strdup("r2@example.com"), .pending = true, .since_ms = T0};
	s.reservations_served.items = calloc(1, sizeof(struct cm_relay_served));
	s.reservations_served.len = 1;
	s.reservations_served.items[0] =
		(struct cm_relay_served){strdup("carol@example.com"), T0, T0 + 1800000};
	s.circuits.items = calloc(1, sizeof(struct cm_relay_circuit));
	s.circuits.len = 1;
	s.circuits.items[0] = (struct cm_relay_circuit){
		strdup("dave@example.com"), strdup("r1@example.com"), CM_RELAY_TORRENT, true, false,
		T0, 123456};
	s.circuits_served.items = calloc(1, sizeof(struct cm_relay_circuit_served));
	s.circuits_served.len = 1;
	s.circuits_served.items[0] = (struct cm_relay_circuit_served){
		strdup("bob@example.com"), strdup("carol@example.com"), CM_RELAY_GOSSIP, true, T0,
		0};
	s.refused.per_peer = 3;
	s.closed.byte_cap = 1;
	s.bytes_relayed = 99;
	s.bytes_carried = 123456;
	text = cm_json_dump_take(cm_relay_status_encode(&s), NULL);
	ck_assert_ptr_nonnull(text);
	/* A reservation still being asked for has no expiry yet. */
	ck_assert_ptr_nonnull(strstr(text, "{\"relay\":\"r2@example.com\",\"pending\":true,"
					   "\"since\":\"2025-11-24T16:00:00.123Z\"}"));
	ck_assert_ptr_nonnull(strstr(text, "\"service\":\"torrent\""));
	ck_assert_msg(cm_relay_status_from_text(text, strlen(text), &back, &err) == 0, "%s",
		      err.msg);
	ck_assert_uint_eq(back.reservations_held.len, 2);
	ck_assert(back.reservations_held.items[0].has_expires_at);
	ck_assert(!back.reservations_held.items[1].has_expires_at);
	ck_assert_int_eq(back.circuits.items[0].service, CM_RELAY_TORRENT);
	ck_assert(back.circuits.items[0].inbound);
	ck_assert_str_eq(back.circuits_served.items[0].target, "carol@example.com");
	ck_assert_int_eq(back.refused.per_peer, 3);
	ck_assert_int_eq(back.relay_port, 7444);
	again = cm_json_dump_take(cm_relay_status_encode(&back), NULL);
	ck_assert_str_eq(text, again);
	free(text);
	free(again);
	cm_relay_status_clear(&back);
	cm_relay_status_clear(&s);
}
END_TEST

START_TEST(test_relay_status_decode_refuses_an_unknown_service)
{
	const char *text =
		"{\"reservations_held\":[],\"reservations_served\":[],\"circuits\":[{\"peer\":"
		"\"d@x.org\",\"relay\":\"r@x.org\",\"service\":\"ftp\",\"inbound\":false,"
		"\"pending\":false,\"since\":\"2025-11-24T16:00:00.123Z\",\"bytes\":0}],"
		"\"circuits_served\":[],\"serving\":false,\"relay_port\":0,"
		"\"reservations_granted\":0,\"reservations_renewed\":0,\"reservations_refused\":0,"
		"\"circuits_opened\":0,\"circuits_closed\":0,\"refused\":{\"no_reservation\":0,"
		"\"max_reservations\":0,\"not_allowed\":0,\"max_circuits\":0,\"per_peer\":0,"
		"\"per_address\":0,\"rate\":0,\"bad_request\":0},\"join_timeouts\":0,\"closed\":"
		"{\"byte_cap\":0,\"lifetime\":0},\"bytes_relayed\":0,\"circuits_dialed\":0,"
		"\"circuits_accepted\":0,\"circuit_failures\":0,\"bytes_carried\":0}";
	struct cm_relay_status s;
	struct cm_err err = {0};

	ck_assert_int_eq(cm_relay_status_from_text(text, strlen(text), &s, &err), -1);
	ck_assert_msg(strncmp(err.msg, "circuits[0].service", 19) == 0, "%s", err.msg);
}
END_TEST

START_TEST(test_relay_service_names_are_the_protocol_words)
{
	ck_assert_str_eq(cm_relay_service_name(CM_RELAY_GOSSIP), "gossip");
	ck_assert_str_eq(cm_relay_service_name(CM_RELAY_TORRENT), "torrent");
	ck_assert_ptr_null(cm_relay_service_name((enum cm_relay_service)9));
}
END_TEST

FB_CHECK_MAIN(.name = "codec_relay")
