/* check_codec.c - encode/decode of every wire type, limits, canonical JSON. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fb/codec.h"

#define UUID_A "0b9f2c1e-5d3a-4c2b-9e8f-1a2b3c4d5e6f"
#define UUID_B "7c6d5e4f-3a2b-4c1d-8e9f-0a1b2c3d4e5f"
#define T0 1764000000123LL /* 2025-11-24T16:00:00.123Z */
#define CERT "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

/* Decodes text with decoder; returns the decoder's result and fills err. */
#define DECODE_TEXT(decoder, text, out, err)                                                       \
	({                                                                                         \
		json_t *_j = json_loads((text), 0, NULL);                                          \
		ck_assert_ptr_nonnull(_j);                                                         \
		int _rc = decoder(_j, (out), (err));                                               \
		json_decref(_j);                                                                   \
		_rc;                                                                               \
	})

static char *
repeat(char c, size_t n)
{
	char *s = malloc(n + 1);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static void
fill_record(struct cm_peer_record *r, bool broadcasting)
{
	memset(r, 0, sizeof(*r));
	r->email = strdup("alice@example.com");
	r->peer_id = strdup(UUID_A);
	r->seq = 42;
	r->issued_at_ms = T0;
	r->is_broadcasting = broadcasting;
	r->is_bootstrap = broadcasting;
	if (broadcasting) {
		cm_strlist_append(&r->socket_addresses, "192.0.2.10");
		cm_strlist_append(&r->socket_addresses, "2001:db8::1");
		r->port = 7443;
	}
	cm_repolist_append(&r->repositories, "flashback/core", "The core repository");
	cm_repolist_append(&r->repositories, "notes", NULL);
	r->capabilities = (struct cm_capabilities){8, true, 1250000};
}

static void
fill_signed(struct cm_signed_record *s, bool broadcasting)
{
	memset(s, 0, sizeof(*s));
	fill_record(&s->record, broadcasting);
	s->public_certificate = strdup(CERT);
	s->signature = strdup("c2lnbmF0dXJl");
}

/* Encodes with enc, decodes with dec, re-encodes and compares the two texts. */
#define ASSERT_ROUND_TRIP(type, enc, dec, clear, value)                                            \
	do {                                                                                       \
		struct cm_err _e = {0};                                                            \
		type _back;                                                                        \
		json_t *_j1 = enc(value);                                                          \
		ck_assert_ptr_nonnull(_j1);                                                        \
		ck_assert_msg(dec(_j1, &_back, &_e) == 0, "decode failed: %s", _e.msg);           \
		json_t *_j2 = enc(&_back);                                                         \
		ck_assert_ptr_nonnull(_j2);                                                        \
		char *_s1 = json_dumps(_j1, JSON_COMPACT | JSON_SORT_KEYS);                        \
		char *_s2 = json_dumps(_j2, JSON_COMPACT | JSON_SORT_KEYS);                        \
		ck_assert_str_eq(_s1, _s2);                                                        \
		free(_s1);                                                                         \
		free(_s2);                                                                         \
		json_decref(_j1);                                                                  \
		json_decref(_j2);                                                                  \
		clear(&_back);                                                                     \
	} while (0)

START_TEST(test_register_request_round_trip)
{
	struct cm_register_request r = {0};

	r.email = strdup("bob@example.org");
	r.peer_id = strdup(UUID_B);
	cm_strlist_append(&r.socket_addresses, "198.51.100.7");
	r.port = 8080;
	cm_repolist_append(&r.repositories, "photos", "Holiday photos");
	r.is_broadcasting = true;
	r.has_capabilities = true;
	r.capabilities = (struct cm_capabilities){16, false, 0};
	ASSERT_ROUND_TRIP(struct cm_register_request, cm_register_request_encode,
			  cm_register_request_decode, cm_register_request_clear, &r);
	cm_register_request_clear(&r);
}
END_TEST

START_TEST(test_register_request_decode_defaults)
{
	struct cm_register_request r;
	struct cm_err e = {0};

	ck_assert_int_eq(DECODE_TEXT(cm_register_request_decode,
				     "{\"email\":\"a@b.c\",\"port\":1,\"repositories\":[]}", &r, &e),
			 0);
	ck_assert(r.is_broadcasting);
	ck_assert_ptr_null(r.peer_id);
	ck_assert(!r.has_capabilities);
	ck_assert_int_eq(r.capabilities.max_peers, CM_CAPABILITIES_DEFAULT_MAX_PEERS);
	ck_assert_uint_eq(r.socket_addresses.len, 0);
	cm_register_request_clear(&r);
}
END_TEST

START_TEST(test_register_request_decode_rejects_addresses_when_silent)
{
	struct cm_register_request r;
	struct cm_err e = {0};

	ck_assert_int_eq(DECODE_TEXT(cm_register_request_decode,
				     "{\"email\":\"a@b.c\",\"is_broadcasting\":false,"
				     "\"socket_addresses\":[\"192.0.2.1\"],\"repositories\":[]}",
				     &r, &e),
			 -1);
	ck_assert_str_eq(e.msg, "socket_addresses: must be empty when is_broadcasting is false");
	ck_assert_ptr_null(r.email);
}
END_TEST

START_TEST(test_register_request_decode_silent_needs_no_port)
{
	struct cm_register_request r;
	struct cm_err e = {0};

	ck_assert_int_eq(DECODE_TEXT(cm_register_request_decode,
				     "{\"email\":\"a@b.c\",\"is_broadcasting\":false,"
				     "\"repositories\":[]}",
				     &r, &e),
			 0);
	ck_assert_int_eq(r.port, 0);
	cm_register_request_clear(&r);
}
END_TEST

START_TEST(test_register_request_decode_broadcasting_needs_port)
{
	struct cm_register_request r;
	struct cm_err e = {0};

	ck_assert_int_eq(DECODE_TEXT(cm_register_request_decode,
				     "{\"email\":\"a@b.c\",\"repositories\":[]}", &r, &e),
			 -1);
	ck_assert_str_eq(e.msg, "port: missing");
}
END_TEST

START_TEST(test_register_request_decode_port_out_of_range)
{
	struct cm_register_request r;
	struct cm_err e = {0};

	ck_assert_int_eq(DECODE_TEXT(cm_register_request_decode,
				     "{\"email\":\"a@b.c\",\"port\":65536,\"repositories\":[]}", &r,
				     &e),
			 -1);
	ck_assert_str_eq(e.msg, "port: out of range 1..65535");
	ck_assert_int_eq(DECODE_TEXT(cm_register_request_decode,
				     "{\"email\":\"a@b.c\",\"port\":0,\"repositories\":[]}", &r, &e),
			 -1);
	ck_assert_int_eq(DECODE_TEXT(cm_register_request_decode,
				     "{\"email\":\"a@b.c\",\"port\":65535,\"repositories\":[]}", &r,
				     &e),
			 0);
	cm_register_request_clear(&r);
}
END_TEST

START_TEST(test_register_request_decode_rejects_real_for_integer)
{
	struct cm_register_request r;
	struct cm_err e = {0};

	ck_assert_int_eq(DECODE_TEXT(cm_register_request_decode,
				     "{\"email\":\"a@b.c\",\"port\":8080.0,\"repositories\":[]}", &r,
				     &e),
			 -1);
	ck_assert_str_eq(e.msg, "port: expected an integer, got a real number");
}
END_TEST

START_TEST(test_register_request_decode_names_failing_repository)
{
	struct cm_register_request r;
	struct cm_err e = {0};
	char *name = repeat('r', CM_MAX_REPO_NAME + 1);
	json_t *j = json_pack("{s:s, s:i, s:[{s:s},{s:s},{s:s},{s:s}]}", "email", "a@b.c", "port",
			      1, "repositories", "name", "a", "name", "b", "name", "c", "name",
			      name);

	ck_assert_int_eq(cm_register_request_decode(j, &r, &e), -1);
	ck_assert_str_eq(e.msg, "repositories[3].name: longer than 255 bytes");
	json_decref(j);
	free(name);
}
END_TEST

START_TEST(test_register_request_decode_repository_name_at_limit)
{
	struct cm_register_request r;
	struct cm_err e = {0};
	char *name = repeat('r', CM_MAX_REPO_NAME);
	char *desc = repeat('d', CM_MAX_DESCRIPTION);
	json_t *j = json_pack("{s:s, s:i, s:[{s:s, s:s}]}", "email", "a@b.c", "port", 1,
			      "repositories", "name", name, "description", desc);

	ck_assert_msg(cm_register_request_decode(j, &r, &e) == 0, "%s", e.msg);
	ck_assert_uint_eq(strlen(r.repositories.items[0].name), CM_MAX_REPO_NAME);
	cm_register_request_clear(&r);
	json_decref(j);
	free(name);
	free(desc);
}
END_TEST

START_TEST(test_register_request_decode_description_one_past_limit)
{
	struct cm_register_request r;
	struct cm_err e = {0};
	char *desc = repeat('d', CM_MAX_DESCRIPTION + 1);
	json_t *j = json_pack("{s:s, s:i, s:[{s:s, s:s}]}", "email", "a@b.c", "port", 1,
			      "repositories", "name", "x", "description", desc);

	ck_assert_int_eq(cm_register_request_decode(j, &r, &e), -1);
	ck_assert_str_eq(e.msg, "repositories[0].description: longer than 1024 bytes");
	json_decref(j);
	free(desc);
}
END_TEST

/* Builds {"email", "port", "repositories": [n entries]} */
static json_t *
request_with_repos(size_t n)
{
	json_t *arr = json_array();
	char name[32];

	for (size_t i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "repo-%zu", i);
		json_array_append_new(arr, json_pack("{s:s}", "name", name));
	}
	return json_pack("{s:s, s:i, s:o}", "email", "a@b.c", "port", 1, "repositories", arr);
}

START_TEST(test_register_request_decode_repository_count_limit)
{
	struct cm_register_request r;
	struct cm_err e = {0};
	json_t *at = request_with_repos(CM_MAX_REPOSITORIES);
	json_t *past = request_with_repos(CM_MAX_REPOSITORIES + 1);

	ck_assert_int_eq(cm_register_request_decode(at, &r, &e), 0);
	ck_assert_uint_eq(r.repositories.len, CM_MAX_REPOSITORIES);
	cm_register_request_clear(&r);
	ck_assert_int_eq(cm_register_request_decode(past, &r, &e), -1);
	ck_assert_str_eq(e.msg, "repositories: more than 256 entries");
	json_decref(at);
	json_decref(past);
}
END_TEST

static json_t *
request_with_addresses(size_t n)
{
	json_t *arr = json_array();
	char ip[32];

	for (size_t i = 0; i < n; i++) {
		snprintf(ip, sizeof(ip), "10.0.0.%zu", i + 1);
		json_array_append_new(arr, json_string(ip));
	}
	return json_pack("{s:s, s:i, s:[], s:o}", "email", "a@b.c", "port", 1, "repositories",
			 "socket_addresses", arr);
}

START_TEST(test_register_request_decode_address_count_limit)
{
	struct cm_register_request r;
	struct cm_err e = {0};
	json_t *at = request_with_addresses(CM_MAX_SOCKET_ADDRESSES);
	json_t *past = request_with_addresses(CM_MAX_SOCKET_ADDRESSES + 1);

	ck_assert_int_eq(cm_register_request_decode(at, &r, &e), 0);
	ck_assert_uint_eq(r.socket_addresses.len, CM_MAX_SOCKET_ADDRESSES);
	cm_register_request_clear(&r);
	ck_assert_int_eq(cm_register_request_decode(past, &r, &e), -1);
	ck_assert_str_eq(e.msg, "socket_addresses: more than 16 entries");
	json_decref(at);
	json_decref(past);
}
END_TEST

START_TEST(test_register_request_decode_bad_address_named)
{
	struct cm_register_request r;
	struct cm_err e = {0};

	ck_assert_int_eq(DECODE_TEXT(cm_register_request_decode,
				     "{\"email\":\"a@b.c\",\"port\":1,\"repositories\":[],"
				     "\"socket_addresses\":[\"10.0.0.1\",\"10.0.0.256\"]}",
				     &r, &e),
			 -1);
	ck_assert_str_eq(e.msg, "socket_addresses[1]: not a usable IPv4 or IPv6 address");
}
END_TEST

/* A 64-byte local part '@' labels of 63, 63 and last_label bytes: 193 + last_label bytes. */
static json_t *
request_with_email_len(size_t last_label)
{
	char email[400];
	char *local = repeat('l', 64), *label = repeat('d', 63), *last = repeat('e', last_label);
	json_t *j;

	snprintf(email, sizeof(email), "%s@%s.%s.%s", local, label, label, last);
	j = json_pack("{s:s, s:i, s:[]}", "email", email, "port", 1, "repositories");
	free(local);
	free(label);
	free(last);
	return j;
}

START_TEST(test_register_request_decode_email_limit)
{
	struct cm_register_request r;
	struct cm_err e = {0};
	json_t *at = request_with_email_len(61), *past = request_with_email_len(62);

	ck_assert_msg(cm_register_request_decode(at, &r, &e) == 0, "%s", e.msg);
	ck_assert_uint_eq(strlen(r.email), CM_MAX_EMAIL);
	cm_register_request_clear(&r);
	ck_assert_int_eq(cm_register_request_decode(past, &r, &e), -1);
	ck_assert_str_eq(e.msg, "email: longer than 254 bytes");
	json_decref(at);
	json_decref(past);
}
END_TEST

static void
fill_bootstrap_peer(struct cm_bootstrap_peer *p, const char *email, bool scored)
{
	memset(p, 0, sizeof(*p));
	p->email = strdup(email);
	p->peer_id = strdup(UUID_B);
	cm_strlist_append(&p->socket_addresses, "203.0.113.5");
	p->port = 443;
	cm_repolist_append(&p->repositories, "music", NULL);
	p->public_certificate = strdup(CERT);
	p->has_availability_score = scored;
	p->availability_score = 87.5;
}

START_TEST(test_register_response_round_trip)
{
	struct cm_register_response r = {0};

	r.status = strdup("registered");
	r.peer_id = strdup(UUID_A);
	r.expires_at_ms = T0 + 3600000;
	r.heartbeat_interval_s = 30;
	r.bootstrap_peers.items = calloc(2, sizeof(struct cm_bootstrap_peer));
	r.bootstrap_peers.len = 2;
	fill_bootstrap_peer(&r.bootstrap_peers.items[0], "c@example.com", false);
	fill_bootstrap_peer(&r.bootstrap_peers.items[1], "d@example.com", false);
	ASSERT_ROUND_TRIP(struct cm_register_response, cm_register_response_encode,
			  cm_register_response_decode, cm_register_response_clear, &r);
	cm_register_response_clear(&r);
}
END_TEST

START_TEST(test_register_response_decode_rejects_other_status)
{
	struct cm_register_response r;
	struct cm_err e = {0};

	ck_assert_int_eq(DECODE_TEXT(cm_register_response_decode,
				     "{\"status\":\"ok\",\"peer_id\":\"" UUID_A "\","
				     "\"expires_at\":\"2025-11-24T16:00:00.123Z\","
				     "\"heartbeat_interval_s\":30,\"bootstrap_peers\":[]}",
				     &r, &e),
			 -1);
	ck_assert_str_eq(e.msg, "status: expected \"registered\"");
}
END_TEST

START_TEST(test_bootstrap_peerlist_encode_discover_scores)
{
	struct cm_bootstrap_peerlist l = {calloc(1, sizeof(struct cm_bootstrap_peer)), 1};
	struct cm_bootstrap_peerlist back;
	struct cm_err e = {0};
	json_t *j;

	fill_bootstrap_peer(&l.items[0], "c@example.com", true);
	j = cm_bootstrap_peerlist_encode(&l);
	ck_assert(json_is_array(j));
	ck_assert(json_is_null(json_object_get(json_array_get(j, 0), "performance_score")));
	ck_assert_int_eq(cm_bootstrap_peerlist_decode(j, &back, &e), 0);
	ck_assert(back.items[0].has_availability_score);
	ck_assert(!back.items[0].has_performance_score);
	ck_assert_double_eq(back.items[0].availability_score, 87.5);
	cm_bootstrap_peerlist_clear(&back);
	cm_bootstrap_peerlist_clear(&l);
	json_decref(j);
}
END_TEST

START_TEST(test_bootstrap_peerlist_decode_rejects_object)
{
	struct cm_bootstrap_peerlist l;
	struct cm_err e = {0};

	ck_assert_int_eq(DECODE_TEXT(cm_bootstrap_peerlist_decode, "{\"peers\":[]}", &l, &e), -1);
	ck_assert_str_eq(e.msg, "document: expected an array, got an object");
}
END_TEST

START_TEST(test_bootstrap_peerlist_decode_score_out_of_range)
{
	struct cm_bootstrap_peerlist l = {calloc(1, sizeof(struct cm_bootstrap_peer)), 1};
	struct cm_bootstrap_peerlist back;
	struct cm_err e = {0};
	json_t *j;

	fill_bootstrap_peer(&l.items[0], "c@example.com", true);
	j = cm_bootstrap_peerlist_encode(&l);
	json_object_set_new(json_array_get(j, 0), "availability_score", json_real(100.5));
	ck_assert_int_eq(cm_bootstrap_peerlist_decode(j, &back, &e), -1);
	ck_assert_str_eq(e.msg, "[0].availability_score: out of range 0..100");
	cm_bootstrap_peerlist_clear(&l);
	json_decref(j);
}
END_TEST

START_TEST(test_peer_record_round_trip)
{
	struct cm_peer_record r;

	fill_record(&r, true);
	ASSERT_ROUND_TRIP(struct cm_peer_record, cm_peer_record_encode, cm_peer_record_decode,
			  cm_peer_record_clear, &r);
	cm_peer_record_clear(&r);
}
END_TEST

START_TEST(test_peer_record_encode_silent_has_no_addresses)
{
	struct cm_peer_record r;
	json_t *j;

	fill_record(&r, false);
	/* Even when the struct holds addresses, a silent record must not carry them. */
	cm_strlist_append(&r.socket_addresses, "192.0.2.99");
	j = cm_peer_record_encode(&r);
	ck_assert_ptr_null(json_object_get(j, "socket_addresses"));
	ck_assert_ptr_null(json_object_get(j, "port"));
	json_decref(j);
	cm_peer_record_clear(&r);
}
END_TEST

START_TEST(test_signed_record_round_trip)
{
	struct cm_signed_record s;

	fill_signed(&s, true);
	ASSERT_ROUND_TRIP(struct cm_signed_record, cm_signed_record_encode,
			  cm_signed_record_decode, cm_signed_record_clear, &s);
	cm_signed_record_clear(&s);
}
END_TEST

START_TEST(test_signed_record_decode_keeps_unknown_fields_for_forwarding)
{
	struct cm_signed_record s, back;
	struct cm_err e = {0};
	json_t *j, *j2;

	fill_signed(&s, true);
	j = cm_signed_record_encode(&s);
	json_object_set_new(json_object_get(j, "record"), "zz_future", json_integer(7));
	ck_assert_int_eq(cm_signed_record_decode(j, &back, &e), 0);
	ck_assert_ptr_nonnull(strstr(back.canonical, "\"zz_future\":7"));
	j2 = cm_signed_record_encode(&back);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j2, "record"),
							    "zz_future")),
			 7);
	cm_signed_record_clear(&s);
	cm_signed_record_clear(&back);
	json_decref(j);
	json_decref(j2);
}
END_TEST

START_TEST(test_signed_record_decode_size_cap_is_independent)
{
	struct cm_signed_record s, back;
	struct cm_err e = {0};
	char *desc = repeat('d', CM_MAX_DESCRIPTION);
	char name[16];
	json_t *j;

	fill_signed(&s, true);
	/* 70 repositories, each within every per-field cap, together exceed 64 KiB. */
	for (int i = 0; i < 70; i++) {
		snprintf(name, sizeof(name), "r%d", i);
		cm_repolist_append(&s.record.repositories, name, desc);
	}
	j = cm_signed_record_encode(&s);
	ck_assert_int_eq(cm_signed_record_decode(j, &back, &e), -1);
	ck_assert_str_eq(e.msg, "document: signed record larger than 65536 bytes");
	cm_signed_record_clear(&s);
	json_decref(j);
	free(desc);
}
END_TEST

/* A signed record padded with an unknown field to exactly size bytes as JSON writes it. */
static json_t *
signed_record_of_size(size_t size)
{
	struct cm_signed_record s;
	json_t *j;
	size_t have;
	char *pad, *text;

	fill_signed(&s, true);
	j = cm_signed_record_encode(&s);
	cm_signed_record_clear(&s);
	/* Escapes of every kind, a control byte and UTF-8: the size counts them as written. */
	json_object_set_new(j, "zz_pad", json_string("\"\\\n\t\x01\xc3\xa9/"));
	json_object_set_new(j, "zz_more", json_pack("[i, f, b, n]", -12, 0.5, 0));
	have = json_dumpb(j, NULL, 0, JSON_COMPACT);
	ck_assert_uint_lt(have, size);
	pad = repeat('p', size - have);
	text = malloc(size - have + 32);
	ck_assert_ptr_nonnull(text);
	snprintf(text, size - have + 32, "\"\\\n\t\x01\xc3\xa9/%s", pad);
	json_object_set_new(j, "zz_pad", json_string(text));
	ck_assert_uint_eq(json_dumpb(j, NULL, 0, JSON_COMPACT), size);
	free(text);
	free(pad);
	return j;
}

START_TEST(test_signed_record_decode_size_cap_counts_bytes_as_written)
{
	struct cm_signed_record back;
	struct cm_err e = {0};
	json_t *at = signed_record_of_size(CM_MAX_SIGNED_RECORD),
	       *past = signed_record_of_size(CM_MAX_SIGNED_RECORD + 1);

	ck_assert_msg(cm_signed_record_decode(at, &back, &e) == 0, "%s", e.msg);
	cm_signed_record_clear(&back);
	ck_assert_int_eq(cm_signed_record_decode(past, &back, &e), -1);
	ck_assert_str_eq(e.msg, "document: signed record larger than 65536 bytes");
	json_decref(at);
	json_decref(past);
}
END_TEST

START_TEST(test_signed_record_decode_rejects_real_in_record)
{
	struct cm_signed_record s, back;
	struct cm_err e = {0};
	json_t *j;

	fill_signed(&s, true);
	j = cm_signed_record_encode(&s);
	json_object_set_new(json_object_get(j, "record"), "extra", json_real(0.5));
	ck_assert_int_eq(cm_signed_record_decode(j, &back, &e), -1);
	ck_assert_str_eq(e.msg, "record: canonical JSON allows integers only");
	cm_signed_record_clear(&s);
	json_decref(j);
}
END_TEST

static void
fill_envelope(struct cm_envelope *e, enum cm_msg_type type)
{
	memset(e, 0, sizeof(*e));
	e->v = 1;
	e->id = strdup(UUID_A);
	e->type = type;
	e->ttl = 6;
	e->timestamp_ms = T0;
	e->sender_email = strdup("carol@example.net");
	e->sender_peer_id = strdup(UUID_B);
	switch (type) {
	case CM_MSG_PEER_ANNOUNCEMENT:
		fill_signed(&e->payload.announcement.origin, true);
		break;
	case CM_MSG_PEER_REQUEST:
		cm_strlist_append(&e->payload.request.repositories, "photos");
		cm_strlist_append(&e->payload.request.repositories, "music");
		break;
	case CM_MSG_PEER_LIST_RESPONSE:
		e->payload.list_response.request_id = strdup(UUID_B);
		e->payload.list_response.peers.items = calloc(2, sizeof(struct cm_signed_record));
		e->payload.list_response.peers.len = 2;
		fill_signed(&e->payload.list_response.peers.items[0], true);
		fill_signed(&e->payload.list_response.peers.items[1], false);
		break;
	case CM_MSG_HEARTBEAT:
		e->payload.heartbeat = (struct cm_heartbeat){true, true, 123};
		break;
	}
}

START_TEST(test_envelope_round_trip_every_type)
{
	struct cm_envelope e;

	fill_envelope(&e, (enum cm_msg_type)_i);
	ASSERT_ROUND_TRIP(struct cm_envelope, cm_envelope_encode, cm_envelope_decode,
			  cm_envelope_clear, &e);
	cm_envelope_clear(&e);
}
END_TEST

/* Encodes a heartbeat envelope, lets mutate change it, then decodes; returns rc. */
static int
decode_mutated(void (*mutate)(json_t *), struct cm_err *e)
{
	struct cm_envelope env, back;
	json_t *j;
	int rc;

	fill_envelope(&env, CM_MSG_HEARTBEAT);
	j = cm_envelope_encode(&env);
	mutate(j);
	rc = cm_envelope_decode(j, &back, e);
	if (rc == 0)
		cm_envelope_clear(&back);
	json_decref(j);
	cm_envelope_clear(&env);
	return rc;
}

static void
set_ttl_65(json_t *j)
{
	json_object_set_new(j, "ttl", json_integer(CM_MAX_TTL + 1));
}

static void
set_ttl_negative(json_t *j)
{
	json_object_set_new(j, "ttl", json_integer(-1));
}

static void
set_v_2(json_t *j)
{
	json_object_set_new(j, "v", json_integer(2));
}

static void
set_unknown_type(json_t *j)
{
	json_object_set_new(j, "type", json_string("PEER_GOSSIP"));
}

static void
drop_peer_count(json_t *j)
{
	json_object_del(json_object_get(j, "payload"), "peer_count");
}

static void
set_timestamp_offset(json_t *j)
{
	json_object_set_new(j, "timestamp", json_string("2025-11-24T17:00:00.123+01:00"));
}

static void
drop_sender_peer_id(json_t *j)
{
	json_object_del(json_object_get(j, "sender"), "peer_id");
}

static void
add_unknown_fields(json_t *j)
{
	json_object_set_new(j, "future", json_pack("{s:[i,f]}", "x", 1, 2.5));
	json_object_set_new(json_object_get(j, "payload"), "later", json_true());
}

START_TEST(test_envelope_decode_ttl_out_of_range)
{
	struct cm_err e = {0};

	ck_assert_int_eq(decode_mutated(set_ttl_65, &e), -1);
	ck_assert_str_eq(e.msg, "ttl: out of range 0..64");
	ck_assert_int_eq(decode_mutated(set_ttl_negative, &e), -1);
}
END_TEST

START_TEST(test_envelope_decode_rejects_other_version)
{
	struct cm_err e = {0};

	ck_assert_int_eq(decode_mutated(set_v_2, &e), -1);
	ck_assert_str_eq(e.msg, "v: unsupported protocol version 2 (this peer speaks 1)");
}
END_TEST

START_TEST(test_envelope_decode_rejects_unknown_type)
{
	struct cm_err e = {0};

	ck_assert_int_eq(decode_mutated(set_unknown_type, &e), -1);
	ck_assert_str_eq(e.msg, "type: unknown value \"PEER_GOSSIP\"");
}
END_TEST

START_TEST(test_envelope_decode_missing_payload_field_named)
{
	struct cm_err e = {0};

	ck_assert_int_eq(decode_mutated(drop_peer_count, &e), -1);
	ck_assert_str_eq(e.msg, "payload.peer_count: missing");
	ck_assert_int_eq(decode_mutated(drop_sender_peer_id, &e), -1);
	ck_assert_str_eq(e.msg, "sender.peer_id: missing");
}
END_TEST

START_TEST(test_envelope_decode_rejects_time_offset)
{
	struct cm_err e = {0};

	ck_assert_int_eq(decode_mutated(set_timestamp_offset, &e), -1);
	ck_assert_str_eq(e.msg, "timestamp: not an RFC 3339 UTC time with milliseconds "
				"(YYYY-MM-DDTHH:MM:SS.mmmZ)");
}
END_TEST

START_TEST(test_envelope_round_trip_request_with_digest_and_list_version)
{
	struct cm_envelope env = {0}, resp = {0};

	env.v = 1;
	env.id = strdup("0b9f2c1e-5d3a-4c2b-9e8f-1a2b3c4d5e6f");
	env.type = CM_MSG_PEER_REQUEST;
	env.ttl = 1;
	env.timestamp_ms = 1700000000000LL;
	env.sender_email = strdup("a@example.com");
	env.sender_peer_id = strdup("7c6d5e4f-3a2b-4c1d-8e9f-0a1b2c3d4e5f");
	env.payload.request.has_digest = true;
	env.payload.request.digest.since = 42;
	env.payload.request.digest.seed = 7;
	env.payload.request.digest.k = 7;
	env.payload.request.digest.bloom = strdup("AAECAw==");
	ASSERT_ROUND_TRIP(struct cm_envelope, cm_envelope_encode, cm_envelope_decode,
			  cm_envelope_clear, &env);
	resp = env;
	resp.type = CM_MSG_PEER_LIST_RESPONSE;
	memset(&resp.payload, 0, sizeof(resp.payload));
	resp.payload.list_response.request_id = env.id;
	resp.payload.list_response.has_version = true;
	resp.payload.list_response.version = 99;
	ASSERT_ROUND_TRIP(struct cm_envelope, cm_envelope_encode, cm_envelope_decode,
			  cm_envelope_clear, &resp);
	cm_envelope_clear(&env);
}
END_TEST

START_TEST(test_envelope_decode_digest_limits)
{
	static const char *const bad[][2] = {
		{"{\"since\":0,\"seed\":0,\"k\":0,\"bloom\":\"AAAA\"}", "payload.digest.k: out of range 1..16"},
		{"{\"since\":0,\"seed\":0,\"k\":17,\"bloom\":\"AAAA\"}", "payload.digest.k: out of range 1..16"},
		{"{\"since\":0,\"seed\":0,\"k\":3,\"bloom\":\"AA*A\"}", "payload.digest.bloom: not base64"},
		{"{\"since\":0,\"seed\":0,\"k\":3}", "payload.digest.bloom: missing"},
	};
	char text[1024];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cm_envelope env;
		struct cm_err e = {0};

		snprintf(text, sizeof(text),
			 "{\"v\":1,\"id\":\"0b9f2c1e-5d3a-4c2b-9e8f-1a2b3c4d5e6f\",\"type\":"
			 "\"PEER_REQUEST\",\"ttl\":1,\"timestamp\":\"2023-11-14T22:13:20.000Z\","
			 "\"sender\":{\"email\":\"a@example.com\",\"peer_id\":"
			 "\"7c6d5e4f-3a2b-4c1d-8e9f-0a1b2c3d4e5f\"},\"payload\":{\"digest\":%s}}",
			 bad[i][0]);
		ck_assert_int_eq(cm_envelope_from_frame(text, strlen(text), &env, &e), -1);
		ck_assert_str_eq(e.msg, bad[i][1]);
	}
}
END_TEST

START_TEST(test_cm_join_separates_items)
{
	const char *items[] = {"alpha", "", "gamma"};
	char *s;

	ck_assert_str_eq((s = cm_join(items, 3, ",")), "alpha,,gamma");
	free(s);
	ck_assert_str_eq((s = cm_join(items, 1, ", ")), "alpha");
	free(s);
	ck_assert_str_eq((s = cm_join(items, 0, ",")), "");
	free(s);
}
END_TEST

START_TEST(test_envelope_decode_ignores_unknown_fields)
{
	struct cm_err e = {0};

	ck_assert_msg(decode_mutated(add_unknown_fields, &e) == 0, "%s", e.msg);
}
END_TEST

START_TEST(test_envelope_decode_deep_path_in_announcement)
{
	struct cm_envelope env, back;
	struct cm_err e = {0};
	json_t *j, *repos;

	fill_envelope(&env, CM_MSG_PEER_ANNOUNCEMENT);
	j = cm_envelope_encode(&env);
	repos = json_object_get(
		json_object_get(json_object_get(json_object_get(j, "payload"), "origin"), "record"),
		"repositories");
	json_array_append_new(repos, json_pack("{s:s}", "name", "a"));
	json_array_append_new(repos, json_pack("{s:i}", "name", 5));
	ck_assert_int_eq(cm_envelope_decode(j, &back, &e), -1);
	ck_assert_str_eq(e.msg,
			 "payload.origin.record.repositories[3].name: expected a string, got an "
			 "integer");
	json_decref(j);
	cm_envelope_clear(&env);
}
END_TEST

START_TEST(test_envelope_decode_list_response_peer_count_limit)
{
	struct cm_envelope env, back;
	struct cm_err e = {0};
	json_t *j, *peers, *one;

	fill_envelope(&env, CM_MSG_PEER_LIST_RESPONSE);
	j = cm_envelope_encode(&env);
	peers = json_object_get(json_object_get(j, "payload"), "peers");
	one = json_deep_copy(json_array_get(peers, 0));
	json_array_clear(peers);
	for (int i = 0; i < CM_MAX_LIST_PEERS; i++)
		json_array_append(peers, one);
	ck_assert_msg(cm_envelope_decode(j, &back, &e) == 0, "%s", e.msg);
	ck_assert_uint_eq(back.payload.list_response.peers.len, CM_MAX_LIST_PEERS);
	cm_envelope_clear(&back);
	json_array_append(peers, one);
	ck_assert_int_eq(cm_envelope_decode(j, &back, &e), -1);
	ck_assert_str_eq(e.msg, "payload.peers: more than 512 entries");
	json_decref(one);
	json_decref(j);
	cm_envelope_clear(&env);
}
END_TEST

START_TEST(test_envelope_from_frame_rejects_oversized_frame)
{
	struct cm_envelope env;
	struct cm_err e = {0};
	char *big = repeat(' ', CM_MAX_FRAME + 1);

	big[0] = '{';
	big[CM_MAX_FRAME] = '}';
	ck_assert_int_eq(cm_envelope_from_frame(big, CM_MAX_FRAME + 1, &env, &e), -1);
	ck_assert_str_eq(e.msg, "document: larger than 262144 bytes");
	free(big);
}
END_TEST

START_TEST(test_envelope_from_frame_rejects_duplicate_keys)
{
	struct cm_envelope env;
	struct cm_err e = {0};
	const char *text = "{\"v\":1,\"v\":1}";

	ck_assert_int_eq(cm_envelope_from_frame(text, strlen(text), &env, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "invalid JSON"));
}
END_TEST

START_TEST(test_envelope_from_frame_every_truncation_rejected)
{
	struct cm_envelope env, back;
	struct cm_err e = {0};
	char *text;
	size_t len;

	fill_envelope(&env, CM_MSG_PEER_LIST_RESPONSE);
	json_t *j = cm_envelope_encode(&env);
	text = cm_json_dump(j);
	len = strlen(text);
	ck_assert_int_eq(cm_envelope_from_frame(text, len, &back, &e), 0);
	cm_envelope_clear(&back);
	for (size_t cut = 0; cut < len; cut++)
		ck_assert_int_eq(cm_envelope_from_frame(text, cut, &back, &e), -1);
	free(text);
	json_decref(j);
	cm_envelope_clear(&env);
}
END_TEST

START_TEST(test_register_request_from_body_rejects_nul_and_bad_utf8)
{
	struct cm_register_request r;
	struct cm_err e = {0};
	const char nul[] = "{\"email\":\"a\\u0000@b.c\",\"port\":1,\"repositories\":[]}";
	const char utf8[] = "{\"email\":\"\xc3\x28@b.c\",\"port\":1,\"repositories\":[]}";

	ck_assert_int_eq(cm_register_request_from_body(nul, strlen(nul), &r, &e), -1);
	ck_assert_int_eq(cm_register_request_from_body(utf8, strlen(utf8), &r, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "invalid JSON"));
}
END_TEST

START_TEST(test_register_request_from_body_body_limit)
{
	struct cm_register_request r;
	struct cm_err e = {0};
	char *body = repeat(' ', CM_MAX_BODY + 1);
	const char *doc = "{\"email\":\"a@b.c\",\"port\":1,\"repositories\":[]}";

	memcpy(body, doc, strlen(doc));
	ck_assert_int_eq(cm_register_request_from_body(body, CM_MAX_BODY, &r, &e), 0);
	cm_register_request_clear(&r);
	ck_assert_int_eq(cm_register_request_from_body(body, CM_MAX_BODY + 1, &r, &e), -1);
	ck_assert_str_eq(e.msg, "document: larger than 65536 bytes");
	free(body);
}
END_TEST

static void
fill_peer_info(struct cm_peer_info *p, enum cm_peer_source source)
{
	memset(p, 0, sizeof(*p));
	p->email = strdup("dave@example.com");
	p->peer_id = strdup(UUID_A);
	p->public_certificate = strdup(CERT);
	p->is_broadcasting = false;
	p->peer_status = CM_PEER_STALE;
	p->state = CM_STATE_DISCOVERED;
	cm_repolist_append(&p->repositories, "photos", "x");
	p->availability_score = 50;
	p->performance_score = 25.25;
	p->score = 40.1;
	p->bandwidth_estimate = 1000;
	p->discovered_at_ms = T0;
	p->last_seen_ms = T0 + 1;
	p->expires_at_ms = T0 + 7200000;
	p->peer_count = 3;
	p->gossip_received_count = 9;
	p->source = source;
	p->found_in_ms = source == CM_SOURCE_NONE ? 0 : 12;
}

START_TEST(test_peer_info_round_trip_plain_and_discover)
{
	struct cm_peer_info p;
	json_t *j;

	fill_peer_info(&p, CM_SOURCE_NONE);
	j = cm_peer_info_encode(&p);
	ck_assert(json_is_array(json_object_get(j, "socket_addresses")));
	ck_assert_ptr_null(json_object_get(j, "source"));
	json_decref(j);
	ASSERT_ROUND_TRIP(struct cm_peer_info, cm_peer_info_encode, cm_peer_info_decode,
			  cm_peer_info_clear, &p);
	cm_peer_info_clear(&p);
	fill_peer_info(&p, CM_SOURCE_GOSSIP);
	ASSERT_ROUND_TRIP(struct cm_peer_info, cm_peer_info_encode, cm_peer_info_decode,
			  cm_peer_info_clear, &p);
	cm_peer_info_clear(&p);
}
END_TEST

START_TEST(test_json_canonical_sorted_compact)
{
	struct cm_err e = {0};
	json_t *a = json_loads("{\"b\": [1, {\"z\": true, \"a\": null}], \"a\": \"x\"}", 0, NULL);
	json_t *b = json_loads("{\"a\":\"x\",\"b\":[1,{\"a\":null,\"z\":true}]}", 0, NULL);
	char *ca = cm_json_canonical(a, &e), *cb = cm_json_canonical(b, &e);

	ck_assert_str_eq(ca, "{\"a\":\"x\",\"b\":[1,{\"a\":null,\"z\":true}]}");
	ck_assert_str_eq(ca, cb);
	free(ca);
	free(cb);
	json_decref(a);
	json_decref(b);
}
END_TEST

START_TEST(test_json_canonical_rejects_reals)
{
	struct cm_err e = {0};
	json_t *j = json_loads("{\"a\":[1,{\"b\":2.0}]}", 0, NULL);

	ck_assert_ptr_null(cm_json_canonical(j, &e));
	ck_assert_str_eq(e.msg, "canonical JSON allows integers only");
	json_decref(j);
}
END_TEST

START_TEST(test_error_body_encode_shape)
{
	json_t *j = cm_error_body_encode("Not whitelisted as bootstrap node", "not_whitelisted");
	char *s = cm_json_canonical(j, NULL);

	ck_assert_str_eq(s, "{\"code\":\"not_whitelisted\",\"error\":\"Not whitelisted as "
			    "bootstrap node\"}");
	free(s);
	json_decref(j);
}
END_TEST

/* xorshift64*: the seeded generator of the randomized test; deterministic by design. */
static uint64_t
rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static char *
random_text(uint64_t *s, size_t max)
{
	/* Includes quotes, backslash, control characters and multi-byte UTF-8. */
	static const char *pieces[] = {"a", "Z", "9", "\"", "\\", "\n", "\x01", "\xc3\xa9",
				       "\xe2\x82\xac", " ", "-", "/", "\xf0\x9f\x98\x80"};
	size_t n = rng_next(s) % (max / 4 + 1), len = 0;
	char *out = calloc(max + 1, 1);

	for (size_t i = 0; i < n; i++) {
		const char *p = pieces[rng_next(s) % (sizeof(pieces) / sizeof(pieces[0]))];
		if (len + strlen(p) > max)
			break;
		memcpy(out + len, p, strlen(p));
		len += strlen(p);
	}
	return out;
}

START_TEST(test_envelope_round_trip_randomized_seeded)
{
	uint64_t seed = 0x5eed2026ULL;

	for (int iter = 0; iter < 300; iter++) {
		struct cm_envelope e;
		fill_envelope(&e, CM_MSG_PEER_ANNOUNCEMENT);
		struct cm_peer_record *r = &e.payload.announcement.origin.record;
		cm_repolist_clear(&r->repositories);
		size_t nrepo = rng_next(&seed) % 8;
		for (size_t i = 0; i < nrepo; i++) {
			char name[32], *desc = random_text(&seed, 64);
			snprintf(name, sizeof(name), "repo-%llu",
				 (unsigned long long)(rng_next(&seed) % 100000));
			cm_repolist_append(&r->repositories, name,
					   rng_next(&seed) % 2 ? desc : NULL);
			free(desc);
		}
		r->seq = (int64_t)(rng_next(&seed) % (uint64_t)CM_MAX_SAFE_INTEGER);
		r->issued_at_ms = (int64_t)(rng_next(&seed) % 253402300799999ULL);
		r->capabilities.bandwidth_estimate =
			(int64_t)(rng_next(&seed) % (uint64_t)CM_MAX_SAFE_INTEGER);
		e.ttl = (int)(rng_next(&seed) % (CM_MAX_TTL + 1));
		e.timestamp_ms = (int64_t)(rng_next(&seed) % 253402300799999ULL);
		ASSERT_ROUND_TRIP(struct cm_envelope, cm_envelope_encode, cm_envelope_decode,
				  cm_envelope_clear, &e);
		cm_envelope_clear(&e);
	}
}
END_TEST

START_TEST(test_feedback_request_decode_latency_range)
{
	struct cm_feedback_request f;
	struct cm_err e = {0};

	ck_assert_int_eq(DECODE_TEXT(cm_feedback_request_decode,
				     "{\"email\":\"a@b.c\",\"latency_ms\":600000}", &f, &e),
			 0);
	ck_assert_int_eq(f.latency_ms, CM_MAX_LATENCY_MS);
	cm_feedback_request_clear(&f);
	ck_assert_int_eq(DECODE_TEXT(cm_feedback_request_decode,
				     "{\"email\":\"a@b.c\",\"latency_ms\":-1}", &f, &e),
			 -1);
	ck_assert_str_eq(e.msg, "latency_ms: out of range 0..600000");
	ck_assert_int_eq(DECODE_TEXT(cm_feedback_request_decode, "{\"email\":\"a@b.c\"}", &f, &e),
			 -1);
	ck_assert_str_eq(e.msg, "latency_ms: missing");
}
END_TEST

START_TEST(test_heartbeat_request_decode_requires_valid_email)
{
	struct cm_heartbeat_request h;
	struct cm_err e = {0};

	ck_assert_int_eq(DECODE_TEXT(cm_heartbeat_request_decode, "{\"email\":\"x@y.z\"}", &h, &e),
			 0);
	ck_assert_str_eq(h.email, "x@y.z");
	cm_heartbeat_request_clear(&h);
	ck_assert_int_eq(DECODE_TEXT(cm_heartbeat_request_decode, "{\"email\":\"nobody\"}", &h, &e),
			 -1);
	ck_assert_str_eq(e.msg, "email: not a valid email address");
}
END_TEST

START_TEST(test_status_encode_with_and_without_expiry)
{
	json_t *a = cm_status_encode("ok", T0), *b = cm_status_encode("unregistered", -1);
	char *sa = cm_json_canonical(a, NULL), *sb = cm_json_canonical(b, NULL);

	ck_assert_str_eq(sa, "{\"expires_at\":\"2025-11-24T16:00:00.123Z\",\"status\":\"ok\"}");
	ck_assert_str_eq(sb, "{\"status\":\"unregistered\"}");
	free(sa);
	free(sb);
	json_decref(a);
	json_decref(b);
}
END_TEST

START_TEST(test_bootstrap_peer_port_optional_only_without_addresses)
{
	struct cm_bootstrap_peer p, back;
	struct cm_err e = {0};
	json_t *j;

	fill_bootstrap_peer(&p, "silent@example.com", false);
	cm_strlist_clear(&p.socket_addresses);
	p.port = 0;
	j = cm_bootstrap_peer_encode(&p);
	ck_assert_ptr_null(json_object_get(j, "port"));
	ck_assert_int_eq(cm_bootstrap_peer_decode(j, &back, &e), 0);
	cm_bootstrap_peer_clear(&back);
	json_object_set_new(j, "socket_addresses", json_pack("[s]", "192.0.2.1"));
	ck_assert_int_eq(cm_bootstrap_peer_decode(j, &back, &e), -1);
	ck_assert_str_eq(e.msg, "port: missing");
	json_decref(j);
	cm_bootstrap_peer_clear(&p);
}
END_TEST

static Suite *
codec_suite(void)
{
	Suite *s = suite_create("codec");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_register_request_round_trip);
	tcase_add_test(tc, test_register_request_decode_defaults);
	tcase_add_test(tc, test_register_request_decode_rejects_addresses_when_silent);
	tcase_add_test(tc, test_register_request_decode_silent_needs_no_port);
	tcase_add_test(tc, test_register_request_decode_broadcasting_needs_port);
	tcase_add_test(tc, test_register_request_decode_port_out_of_range);
	tcase_add_test(tc, test_register_request_decode_rejects_real_for_integer);
	tcase_add_test(tc, test_register_request_decode_names_failing_repository);
	tcase_add_test(tc, test_register_request_decode_repository_name_at_limit);
	tcase_add_test(tc, test_register_request_decode_description_one_past_limit);
	tcase_add_test(tc, test_register_request_decode_repository_count_limit);
	tcase_add_test(tc, test_register_request_decode_address_count_limit);
	tcase_add_test(tc, test_register_request_decode_bad_address_named);
	tcase_add_test(tc, test_register_request_decode_email_limit);
	tcase_add_test(tc, test_register_request_from_body_rejects_nul_and_bad_utf8);
	tcase_add_test(tc, test_register_request_from_body_body_limit);
	tcase_add_test(tc, test_register_response_round_trip);
	tcase_add_test(tc, test_register_response_decode_rejects_other_status);
	tcase_add_test(tc, test_bootstrap_peerlist_encode_discover_scores);
	tcase_add_test(tc, test_bootstrap_peerlist_decode_rejects_object);
	tcase_add_test(tc, test_bootstrap_peerlist_decode_score_out_of_range);
	tcase_add_test(tc, test_peer_record_round_trip);
	tcase_add_test(tc, test_peer_record_encode_silent_has_no_addresses);
	tcase_add_test(tc, test_signed_record_round_trip);
	tcase_add_test(tc, test_signed_record_decode_keeps_unknown_fields_for_forwarding);
	tcase_add_test(tc, test_signed_record_decode_size_cap_is_independent);
	tcase_add_test(tc, test_signed_record_decode_size_cap_counts_bytes_as_written);
	tcase_add_test(tc, test_signed_record_decode_rejects_real_in_record);
	tcase_add_loop_test(tc, test_envelope_round_trip_every_type, CM_MSG_PEER_ANNOUNCEMENT,
			    CM_MSG_HEARTBEAT + 1);
	tcase_add_test(tc, test_envelope_decode_ttl_out_of_range);
	tcase_add_test(tc, test_envelope_decode_rejects_other_version);
	tcase_add_test(tc, test_envelope_decode_rejects_unknown_type);
	tcase_add_test(tc, test_envelope_decode_missing_payload_field_named);
	tcase_add_test(tc, test_envelope_decode_rejects_time_offset);
	tcase_add_test(tc, test_envelope_round_trip_request_with_digest_and_list_version);
	tcase_add_test(tc, test_envelope_decode_digest_limits);
	tcase_add_test(tc, test_cm_join_separates_items);
	tcase_add_test(tc, test_envelope_decode_ignores_unknown_fields);
	tcase_add_test(tc, test_envelope_decode_deep_path_in_announcement);
	tcase_add_test(tc, test_envelope_decode_list_response_peer_count_limit);
	tcase_add_test(tc, test_envelope_from_frame_rejects_oversized_frame);
	tcase_add_test(tc, test_envelope_from_frame_rejects_duplicate_keys);
	tcase_add_test(tc, test_envelope_from_frame_every_truncation_rejected);
	tcase_add_test(tc, test_peer_info_round_trip_plain_and_discover);
	tcase_add_test(tc, test_json_canonical_sorted_compact);
	tcase_add_test(tc, test_json_canonical_rejects_reals);
	tcase_add_test(tc, test_error_body_encode_shape);
	tcase_add_test(tc, test_envelope_round_trip_randomized_seeded);
	tcase_add_test(tc, test_feedback_request_decode_latency_range);
	tcase_add_test(tc, test_heartbeat_request_decode_requires_valid_email);
	tcase_add_test(tc, test_status_encode_with_and_without_expiry);
	tcase_add_test(tc, test_bootstrap_peer_port_optional_only_without_addresses);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(codec_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
