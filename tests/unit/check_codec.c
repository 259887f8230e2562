/* check_codec.c - encode/decode of every wire type and table, limits, canonical JSON. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fb/codec.h"
#include "check_main.h"

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

START_TEST(test_register_response_text_splices_peers_as_the_encoder_writes_them)
{
	struct cm_register_response r = {0};
	json_t *whole, *peers;
	char *expected, *peers_text, *text;
	size_t len = 0;

	r.peer_id = strdup(UUID_A);
	r.expires_at_ms = T0 + 3600000;
	r.heartbeat_interval_s = 30;
	r.bootstrap_peers.items = calloc(2, sizeof(struct cm_bootstrap_peer));
	r.bootstrap_peers.len = 2;
	fill_bootstrap_peer(&r.bootstrap_peers.items[0], "c@example.com", false);
	fill_bootstrap_peer(&r.bootstrap_peers.items[1], "d@example.com", false);
	whole = cm_register_response_encode(&r);
	peers = cm_bootstrap_peerlist_encode(&r.bootstrap_peers);
	expected = cm_json_dump(whole);
	peers_text = cm_json_dump(peers);
	text = cm_register_response_text(&r, peers_text, &len);
	ck_assert_ptr_nonnull(text);
	ck_assert_str_eq(text, expected);
	ck_assert_uint_eq(len, strlen(expected));
	free(text);
	/* The struct's own list is ignored: the text given is what goes in. */
	text = cm_register_response_text(&r, "[]", &len);
	ck_assert_ptr_nonnull(strstr(text, "\"bootstrap_peers\":[]}"));
	ck_assert_uint_eq(len, strlen(text));
	free(text);
	free(expected);
	free(peers_text);
	json_decref(whole);
	json_decref(peers);
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

FB_LOOP_TEST(test_envelope_round_trip_every_type, CM_MSG_PEER_ANNOUNCEMENT, CM_MSG_HEARTBEAT + 1)
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

/* A PEER_REQUEST with a digest (k 7, a 4-byte filter) into env; cm_envelope_clear frees it. */
static void
digest_request(struct cm_envelope *env)
{
	memset(env, 0, sizeof(*env));
	env->v = 1;
	env->id = strdup("0b9f2c1e-5d3a-4c2b-9e8f-1a2b3c4d5e6f");
	env->type = CM_MSG_PEER_REQUEST;
	env->ttl = 1;
	env->timestamp_ms = 1700000000000LL;
	env->sender_email = strdup("a@example.com");
	env->sender_peer_id = strdup("7c6d5e4f-3a2b-4c1d-8e9f-0a1b2c3d4e5f");
	env->payload.request.has_digest = true;
	env->payload.request.digest.k = 7;
	env->payload.request.digest.bloom = strdup("AAECAw==");
}

START_TEST(test_envelope_round_trip_request_with_digest_and_list_version)
{
	struct cm_envelope env, resp = {0};

	digest_request(&env);
	env.payload.request.digest.since = 42;
	env.payload.request.digest.seed = 7;
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

/* A digest whose flag (a member of env's digest, named name) is written only when true. */
static void
digest_flag_written_only_when_true(const char *name, size_t offset)
{
	struct cm_envelope env;
	char *text, want[64];

	digest_request(&env);
	text = cm_json_dump_take(cm_envelope_encode(&env), NULL);
	ck_assert_ptr_null(strstr(text, name));
	free(text);
	*(bool *)((char *)&env.payload.request.digest + offset) = true;
	text = cm_json_dump_take(cm_envelope_encode(&env), NULL);
	snprintf(want, sizeof(want), "\"%s\":true", name);
	ck_assert_ptr_nonnull(strstr(text, want));
	free(text);
	ASSERT_ROUND_TRIP(struct cm_envelope, cm_envelope_encode, cm_envelope_decode,
			  cm_envelope_clear, &env);
	cm_envelope_clear(&env);
}

START_TEST(test_envelope_digest_recent_is_written_only_when_true)
{
	digest_flag_written_only_when_true("recent", offsetof(struct cm_digest, recent));
}
END_TEST

START_TEST(test_envelope_digest_certless_is_written_only_when_true)
{
	digest_flag_written_only_when_true("certless", offsetof(struct cm_digest, certless));
}
END_TEST

START_TEST(test_envelope_list_response_refreshes_may_leave_the_certificate_out_peers_may_not)
{
	struct cm_envelope env, back;
	struct cm_err e = {0};
	json_t *j, *payload, *bare;

	fill_envelope(&env, CM_MSG_PEER_LIST_RESPONSE);
	j = cm_envelope_encode(&env);
	ck_assert_ptr_null(json_object_get(json_object_get(j, "payload"), "refreshes"));
	payload = json_object_get(j, "payload");
	bare = json_deep_copy(json_array_get(json_object_get(payload, "peers"), 0));
	json_object_del(bare, "public_certificate");
	json_object_set_new(payload, "refreshes", json_pack("[O]", bare));
	ck_assert_msg(cm_envelope_decode(j, &back, &e) == 0, "%s", e.msg);
	ck_assert_uint_eq(back.payload.list_response.refreshes.len, 1);
	ck_assert_ptr_null(back.payload.list_response.refreshes.items[0].public_certificate);
	ck_assert_ptr_nonnull(back.payload.list_response.refreshes.items[0].canonical);
	cm_envelope_clear(&back);
	json_array_set(json_object_get(payload, "peers"), 0, bare);
	ck_assert_int_eq(cm_envelope_decode(j, &back, &e), -1);
	ck_assert_str_eq(e.msg, "payload.peers[0].public_certificate: missing");
	json_decref(bare);
	json_decref(j);
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

START_TEST(test_announcement_peek_reads_what_the_decoder_reads)
{
	struct cm_envelope env, back;
	struct cm_envelope_peek pk;
	struct cm_err e = {0};
	char *text;
	size_t len;

	fill_envelope(&env, CM_MSG_PEER_ANNOUNCEMENT);
	text = cm_json_dump_take(cm_envelope_encode(&env), &len);
	ck_assert_int_eq(cm_envelope_from_frame(text, len, &back, &e), 0);
	ck_assert_int_eq(cm_announcement_peek(text, len, &pk), 0);
	ck_assert_int_eq(pk.v, back.v);
	ck_assert_str_eq(pk.id, back.id);
	ck_assert_int_eq(pk.type, back.type);
	ck_assert_int_eq(pk.ttl, back.ttl);
	ck_assert_int_eq(pk.timestamp_ms, back.timestamp_ms);
	ck_assert_str_eq(pk.email, back.payload.announcement.origin.record.email);
	ck_assert_int_eq(pk.seq, back.payload.announcement.origin.record.seq);
	ck_assert(pk.has_certificate);
	for (size_t cut = 0; cut < len; cut++)
		ck_assert_int_eq(cm_announcement_peek(text, cut, &pk), -1);
	cm_envelope_clear(&back);
	cm_envelope_clear(&env);
	free(text);
}
END_TEST

START_TEST(test_announcement_peek_leaves_escaped_values_to_the_decoder)
{
	struct cm_envelope env, back;
	struct cm_envelope_peek pk;
	struct cm_err e = {0};
	char *text, *at, escaped[4096];
	size_t len;

	fill_envelope(&env, CM_MSG_PEER_ANNOUNCEMENT);
	text = cm_json_dump_take(cm_envelope_encode(&env), &len);
	/* Its id's first digit written as an escape: six bytes for one. */
	at = strstr(text, UUID_A);
	ck_assert_ptr_nonnull(at);
	ck_assert_uint_lt(len + 6, sizeof(escaped));
	snprintf(escaped, sizeof(escaped), "%.*s\\u%04x%s", (int)(at - text), text,
		 (unsigned)*at, at + 1);
	ck_assert_int_eq(cm_envelope_from_frame(escaped, strlen(escaped), &back, &e), 0);
	ck_assert_str_eq(back.id, UUID_A);
	ck_assert_int_eq(cm_announcement_peek(escaped, strlen(escaped), &pk), -1);
	cm_envelope_clear(&back);
	cm_envelope_clear(&env);
	free(text);
}
END_TEST

FB_LOOP_TEST(test_announcement_peek_refuses_other_types, CM_MSG_PEER_REQUEST, CM_MSG_HEARTBEAT + 1)
{
	struct cm_envelope env;
	struct cm_envelope_peek pk;
	char *text;
	size_t len;

	fill_envelope(&env, (enum cm_msg_type)_i);
	text = cm_json_dump_take(cm_envelope_encode(&env), &len);
	ck_assert_int_eq(cm_announcement_peek(text, len, &pk), -1);
	cm_envelope_clear(&env);
	free(text);
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

/*
 * The table-driven types of the agent's control API, its peer store and the
 * topology tool, and the codec's introspection: round trips, a missing
 * required member named in the error, limits.
 */
#define EMAIL "alice@example.com"
#define PEER_ID "7c6d5e4f-3a2b-4c1d-8e9f-0a1b2c3d4e5f"
#define T1 1700000000000LL /* 2023-11-14T22:13:20.000Z */

typedef int (*decode_fn)(const json_t *, void *, struct cm_err *);

/* The members the codec's own table marks required for type name (from cm_codec_tables). */
static json_t *
required_members(const char *name)
{
	json_t *tables = cm_codec_tables(), *t, *f, *out = json_array();
	size_t i, k;

	ck_assert_ptr_nonnull(tables);
	json_array_foreach(tables, i, t)
	{
		if (strcmp(json_string_value(json_object_get(t, "name")), name) != 0)
			continue;
		json_array_foreach(json_object_get(t, "fields"), k, f)
		{
			if (strcmp(json_string_value(json_object_get(f, "required")), "required") == 0)
				json_array_append(out, json_object_get(f, "name"));
		}
	}
	json_decref(tables);
	ck_assert_int_gt(json_array_size(out), 0);
	return out;
}

/* Deletes each required member of j in turn: the decoder must say "<prefix><name>: missing". */
static void
assert_each_required_named(json_t *j, const char *type_name, const char *prefix,
			   json_t *(*object_of)(json_t *), decode_fn dec, size_t out_size)
{
	json_t *names = required_members(type_name), *n;
	size_t i;

	json_array_foreach(names, i, n)
	{
		json_t *copy = json_deep_copy(j), *value;
		void *out = malloc(out_size);
		struct cm_err e = {0};
		char want[128];

		value = object_of(copy);
		ck_assert_int_eq(json_object_del(value, json_string_value(n)), 0);
		ck_assert_int_eq(dec(copy, out, &e), -1);
		snprintf(want, sizeof(want), "%s%s: missing", prefix, json_string_value(n));
		ck_assert_str_eq(e.msg, want);
		free(out);
		json_decref(copy);
	}
	json_decref(names);
}

static json_t *
itself(json_t *j)
{
	return j;
}

static json_t *
bootstrap_of(json_t *j)
{
	return json_object_get(j, "bootstrap");
}

static json_t *
gossip_of(json_t *j)
{
	return json_object_get(j, "gossip");
}

static json_t *
first_of(json_t *j)
{
	return json_array_get(j, 0);
}

static void
sample_status(struct cm_agent_status *s)
{
	memset(s, 0, sizeof(*s));
	s->email = strdup(EMAIL);
	s->peer_id = strdup(PEER_ID);
	s->broadcasting = true;
	s->bootstrap.state = strdup("REGISTERED");
	s->bootstrap.url = strdup("https://bootstrap.example:8443");
	s->bootstrap.has_expires_at = true;
	s->bootstrap.expires_at_ms = T1;
	s->neighbours = 3;
	s->known_peers = 12;
	s->version = strdup("0.1.0");
	s->is_bootstrap = true;
	s->listen_port = 7443;
	ck_assert_int_eq(cm_repolist_append(&s->repositories, "photos", NULL), 0);
	s->gossip.received = 100;
	ck_assert_int_eq(cm_counterlist_append(&s->gossip.verdicts, "accepted", 90), 0);
	ck_assert_int_eq(cm_counterlist_append(&s->gossip.verdicts, "duplicate", 10), 0);
	ck_assert_int_eq(cm_counterlist_append(&s->gossip.closed_by_code, "1008", 2), 0);
	s->gossip.bytes_in = 4096;
	ck_assert_int_eq(cm_counterlist_append(&s->gossip.limits, "hello_timeouts", 1), 0);
}

/* A decode_fn that keeps nothing: what a successful decode filled is released. */
#define DECODE_AND_CLEAR(name, T, dec, clear)                                                  \
	static int name(const json_t *j, void *out, struct cm_err *err)                        \
	{                                                                                      \
		int rc = dec(j, (T *)out, err);                                                \
		if (rc == 0)                                                                   \
			clear((T *)out);                                                       \
		return rc;                                                                     \
	}
DECODE_AND_CLEAR(agent_status_dec, struct cm_agent_status, cm_agent_status_decode,
		 cm_agent_status_clear)
DECODE_AND_CLEAR(infolist_dec, struct cm_peer_infolist, cm_peer_infolist_decode,
		 cm_peer_infolist_clear)

START_TEST(test_agent_status_round_trips_in_key_order)
{
	struct cm_agent_status s, back;
	struct cm_err e = {0};
	json_t *j, *j2;
	char *a, *b;

	sample_status(&s);
	ck_assert_ptr_nonnull(j = cm_agent_status_encode(&s));
	ck_assert_msg(cm_agent_status_decode(j, &back, &e) == 0, "%s", e.msg);
	ck_assert_ptr_nonnull(j2 = cm_agent_status_encode(&back));
	a = cm_json_dump(j);
	b = cm_json_dump(j2);
	ck_assert_str_eq(a, b);
	ck_assert_ptr_nonnull(strstr(a, "{\"email\":\"alice@example.com\",\"peer_id\":"));
	ck_assert_ptr_nonnull(strstr(a, "\"verdicts\":{\"accepted\":90,\"duplicate\":10}"));
	ck_assert_ptr_nonnull(strstr(a, "\"closed_by_code\":{\"1008\":2}"));
	ck_assert_int_eq(back.gossip.verdicts.len, 2);
	ck_assert_int_eq(back.listen_port, 7443);
	free(a);
	free(b);
	json_decref(j);
	json_decref(j2);
	cm_agent_status_clear(&s);
	cm_agent_status_clear(&back);
}
END_TEST

START_TEST(test_agent_status_text_is_the_control_api_shape)
{
	struct cm_agent_status s;
	json_t *j;
	char *text;

	sample_status(&s);
	ck_assert_ptr_nonnull(j = cm_agent_status_encode(&s));
	text = cm_json_dump(j);
	ck_assert_str_eq(text,
			 "{\"email\":\"alice@example.com\",\"peer_id\":\"" PEER_ID "\","
			 "\"broadcasting\":true,\"bootstrap\":{\"state\":\"REGISTERED\","
			 "\"url\":\"https://bootstrap.example:8443\","
			 "\"expires_at\":\"2023-11-14T22:13:20.000Z\"},\"neighbours\":3,"
			 "\"known_peers\":12,\"version\":\"0.1.0\",\"is_bootstrap\":true,"
			 "\"listen_port\":7443,\"repositories\":[{\"name\":\"photos\"}],"
			 "\"gossip\":{\"received\":100,\"verdicts\":"
			 "{\"accepted\":90,\"duplicate\":10},\"records_applied\":0,\"forwarded\":0,"
			 "\"sent\":0,\"stripped_addresses\":0,\"anti_entropy_rounds\":0,"
			 "\"requests_answered\":0,\"refreshes_pulled\":0,\"sessions_open\":0,"
			 "\"closed_by_code\":"
			 "{\"1008\":2},\"handshake_failures\":0,\"pin_failures\":0,"
			 "\"bytes_in\":4096,\"bytes_out\":0,\"limits\":{\"hello_timeouts\":1}}}");
	free(text);
	json_decref(j);
	cm_agent_status_clear(&s);
}
END_TEST

START_TEST(test_agent_status_writes_null_url_and_expiry_when_unknown)
{
	struct cm_agent_status s, back;
	struct cm_err e = {0};
	json_t *j;
	char *text;

	sample_status(&s);
	free(s.bootstrap.url);
	s.bootstrap.url = NULL;
	s.bootstrap.has_expires_at = false;
	ck_assert_ptr_nonnull(j = cm_agent_status_encode(&s));
	text = cm_json_dump(j);
	ck_assert_ptr_nonnull(strstr(text, "\"bootstrap\":{\"state\":\"REGISTERED\",\"url\":null,"
					   "\"expires_at\":null}"));
	ck_assert_msg(cm_agent_status_decode(j, &back, &e) == 0, "%s", e.msg);
	ck_assert_ptr_null(back.bootstrap.url);
	ck_assert(!back.bootstrap.has_expires_at);
	free(text);
	json_decref(j);
	cm_agent_status_clear(&s);
	cm_agent_status_clear(&back);
}
END_TEST

START_TEST(test_agent_status_decode_names_each_missing_member)
{
	struct cm_agent_status s;
	json_t *j;

	sample_status(&s);
	j = cm_agent_status_encode(&s);
	assert_each_required_named(j, "agent-status", "", itself, agent_status_dec, sizeof(s));
	assert_each_required_named(j, "agent-bootstrap", "bootstrap.", bootstrap_of,
				   agent_status_dec, sizeof(s));
	assert_each_required_named(j, "gossip-stats", "gossip.", gossip_of, agent_status_dec,
				   sizeof(s));
	json_decref(j);
	cm_agent_status_clear(&s);
}
END_TEST

START_TEST(test_agent_status_decode_checks_limits)
{
	static const char *const bad[][3] = {
		{"listen_port", "-2", "listen_port: out of range -1..65535"},
		{"neighbours", "-1", "neighbours: out of range 0..9007199254740991"},
		{"email", "\"nope\"", "email: not a valid email address"},
		{"broadcasting", "1", "broadcasting: expected a boolean, got an integer"},
	};
	struct cm_agent_status s, back;

	sample_status(&s);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *j = cm_agent_status_encode(&s);
		struct cm_err e = {0};

		json_object_set_new(j, bad[i][0], json_loads(bad[i][1], JSON_DECODE_ANY, NULL));
		ck_assert_int_eq(cm_agent_status_decode(j, &back, &e), -1);
		ck_assert_str_eq(e.msg, bad[i][2]);
		json_decref(j);
	}
	cm_agent_status_clear(&s);
}
END_TEST

START_TEST(test_gossip_stats_rejects_a_negative_counter_naming_it)
{
	json_t *j = json_loads("{\"received\":1,\"verdicts\":{\"accepted\":-1},\"records_applied\":0,"
			       "\"forwarded\":0,\"sent\":0,\"stripped_addresses\":0,"
			       "\"anti_entropy_rounds\":0,\"requests_answered\":0,"
			       "\"refreshes_pulled\":0,\"sessions_open\":0,"
			       "\"closed_by_code\":{},\"handshake_failures\":0,\"pin_failures\":0,"
			       "\"bytes_in\":0,\"bytes_out\":0,\"limits\":{}}",
			       0, NULL);
	struct cm_gossip_stats g;
	struct cm_err e = {0};

	ck_assert_ptr_nonnull(j);
	ck_assert_int_eq(cm_gossip_stats_decode(j, &g, &e), -1);
	ck_assert_str_eq(e.msg, "verdicts.accepted: out of range 0..9007199254740991");
	json_object_set_new(json_object_get(j, "verdicts"), "accepted", json_integer(5));
	ck_assert_msg(cm_gossip_stats_decode(j, &g, &e) == 0, "%s", e.msg);
	ck_assert_str_eq(g.verdicts.items[0].name, "accepted");
	ck_assert_int_eq(g.verdicts.items[0].count, 5);
	cm_gossip_stats_clear(&g);
	json_decref(j);
}
END_TEST

START_TEST(test_gossip_stats_rejects_too_many_counters)
{
	struct cm_gossip_stats g = {0}, back;
	struct cm_err e = {0};
	char name[16];
	json_t *j;

	for (int i = 0; i <= CM_MAX_COUNTERS; i++) {
		snprintf(name, sizeof(name), "c%d", i);
		ck_assert_int_eq(cm_counterlist_append(&g.verdicts, name, i), 0);
	}
	ck_assert_ptr_nonnull(j = cm_gossip_stats_encode(&g));
	ck_assert_int_eq(cm_gossip_stats_decode(j, &back, &e), -1);
	ck_assert_str_eq(e.msg, "verdicts: more than 64 entries");
	json_decref(j);
	cm_gossip_stats_clear(&g);
}
END_TEST

static void
sample_info(struct cm_peer_info *p, const char *email)
{
	memset(p, 0, sizeof(*p));
	p->email = strdup(email);
	p->peer_id = strdup(PEER_ID);
	p->public_certificate = strdup("-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n");
	cm_strlist_append(&p->socket_addresses, "198.51.100.4");
	p->port = 7443;
	p->is_broadcasting = true;
	cm_repolist_append(&p->repositories, "photos", NULL);
	p->availability_score = 50;
	p->performance_score = 25;
	p->score = 40;
	p->discovered_at_ms = p->last_seen_ms = p->expires_at_ms = T1;
	p->source = CM_SOURCE_GOSSIP;
	p->found_in_ms = 12;
}

START_TEST(test_peer_infolist_round_trips_and_names_the_failing_entry)
{
	struct cm_peer_infolist l = {0}, back;
	struct cm_err e = {0};
	json_t *j;
	char *a, *b;

	l.items = calloc(2, sizeof(*l.items));
	l.len = 2;
	sample_info(&l.items[0], "a@example.com");
	sample_info(&l.items[1], "b@example.com");
	ck_assert_ptr_nonnull(j = cm_peer_infolist_encode(&l));
	ck_assert_msg(cm_peer_infolist_decode(j, &back, &e) == 0, "%s", e.msg);
	ck_assert_int_eq(back.len, 2);
	ck_assert_int_eq(back.items[1].found_in_ms, 12);
	a = cm_json_dump(j);
	json_decref(j);
	j = cm_peer_infolist_encode(&back);
	cm_peer_infolist_clear(&back);
	b = cm_json_dump(j);
	ck_assert_str_eq(a, b);
	assert_each_required_named(j, "peer-info", "[0].", first_of, infolist_dec, sizeof(back));
	json_object_set_new(json_array_get(j, 1), "score", json_real(100.5));
	ck_assert_int_eq(cm_peer_infolist_decode(j, &back, &e), -1);
	ck_assert_str_eq(e.msg, "[1].score: out of range 0..100");
	free(a);
	free(b);
	json_decref(j);
	cm_peer_infolist_clear(&l);
}
END_TEST

START_TEST(test_peer_infolist_rejects_an_object)
{
	struct cm_peer_infolist l;
	struct cm_err e = {0};
	json_t *j = json_object();

	ck_assert_int_eq(cm_peer_infolist_decode(j, &l, &e), -1);
	ck_assert_str_eq(e.msg, "document: expected an array, got an object");
	ck_assert_ptr_null(l.items);
	json_decref(j);
}
END_TEST

START_TEST(test_broadcast_request_without_repositories_names_none)
{
	struct cm_broadcast_request b;
	struct cm_err e = {0};
	json_t *j = json_object();

	ck_assert_int_eq(cm_broadcast_request_decode(j, &b, &e), 0);
	ck_assert(!b.has_repositories);
	cm_broadcast_request_clear(&b);
	json_decref(j);
}
END_TEST

START_TEST(test_broadcast_request_round_trips_and_checks_names)
{
	struct cm_broadcast_request b = {.has_repositories = true}, back;
	struct cm_err e = {0};
	json_t *j;
	char *text;

	cm_repolist_append(&b.repositories, "photos", "Holiday photos");
	cm_repolist_append(&b.repositories, "music", NULL);
	ck_assert_ptr_nonnull(j = cm_broadcast_request_encode(&b));
	text = cm_json_dump(j);
	ck_assert_str_eq(text, "{\"repositories\":[{\"name\":\"photos\",\"description\":\"Holiday "
			       "photos\"},{\"name\":\"music\"}]}");
	ck_assert_msg(cm_broadcast_request_decode(j, &back, &e) == 0, "%s", e.msg);
	ck_assert(back.has_repositories);
	ck_assert_int_eq(back.repositories.len, 2);
	ck_assert_ptr_null(back.repositories.items[1].description);
	cm_broadcast_request_clear(&back);
	json_object_set_new(json_array_get(json_object_get(j, "repositories"), 1), "name",
			    json_string("a,b"));
	ck_assert_int_eq(cm_broadcast_request_decode(j, &back, &e), -1);
	ck_assert_str_eq(e.msg, "repositories[1].name: not a valid repository name (1-255 bytes, "
				"no control characters or ',')");
	free(text);
	json_decref(j);
	cm_broadcast_request_clear(&b);
}
END_TEST

START_TEST(test_status_body_decodes_expiry_and_requires_status)
{
	struct cm_status s;
	struct cm_err e = {0};
	json_t *j = cm_status_encode("ok", T1);

	ck_assert_msg(cm_status_body_decode(j, &s, &e) == 0, "%s", e.msg);
	ck_assert_str_eq(s.status, "ok");
	ck_assert(s.has_expires_at);
	ck_assert_int_eq(s.expires_at_ms, T1);
	cm_status_clear(&s);
	json_object_del(j, "status");
	ck_assert_int_eq(cm_status_body_decode(j, &s, &e), -1);
	ck_assert_str_eq(e.msg, "status: missing");
	json_decref(j);
}
END_TEST

START_TEST(test_error_body_decode_names_each_missing_member)
{
	struct cm_error_body b;
	struct cm_err e = {0};
	json_t *j = cm_error_body_encode("Not whitelisted", "not_whitelisted");

	ck_assert_msg(cm_error_body_decode(j, &b, &e) == 0, "%s", e.msg);
	ck_assert_str_eq(b.error, "Not whitelisted");
	ck_assert_str_eq(b.code, "not_whitelisted");
	cm_error_body_clear(&b);
	json_object_del(j, "code");
	ck_assert_int_eq(cm_error_body_decode(j, &b, &e), -1);
	ck_assert_str_eq(e.msg, "code: missing");
	json_object_del(j, "error");
	ck_assert_int_eq(cm_error_body_decode(j, &b, &e), -1);
	ck_assert_str_eq(e.msg, "error: missing");
	json_decref(j);
}
END_TEST

START_TEST(test_heartbeat_and_feedback_bodies_round_trip)
{
	struct cm_heartbeat_request hb = {.email = EMAIL}, hb2;
	struct cm_feedback_request fb = {.email = EMAIL, .latency_ms = 42}, fb2;
	struct cm_err e = {0};
	json_t *j;
	char *text;

	j = cm_heartbeat_request_encode(&hb);
	text = cm_json_dump(j);
	ck_assert_str_eq(text, "{\"email\":\"alice@example.com\"}");
	ck_assert_int_eq(cm_heartbeat_request_decode(j, &hb2, &e), 0);
	cm_heartbeat_request_clear(&hb2);
	free(text);
	json_decref(j);
	j = cm_feedback_request_encode(&fb);
	text = cm_json_dump(j);
	ck_assert_str_eq(text, "{\"email\":\"alice@example.com\",\"latency_ms\":42}");
	ck_assert_int_eq(cm_feedback_request_decode(j, &fb2, &e), 0);
	ck_assert_int_eq(fb2.latency_ms, 42);
	cm_feedback_request_clear(&fb2);
	free(text);
	json_decref(j);
}
END_TEST

START_TEST(test_peer_store_requires_version_one_and_a_peers_array)
{
	static const char *const bad[][2] = {
		{"{\"version\":2,\"peers\":[]}", "version: out of range 1..1"},
		{"{\"peers\":[]}", "version: missing"},
		{"{\"version\":1}", "peers: missing"},
		{"{\"version\":1,\"peers\":{}}", "peers: expected an array"},
		{"{\"version\":1,\"saved_at\":\"yesterday\",\"peers\":[]}",
		 "saved_at: not an RFC 3339 UTC time with milliseconds (YYYY-MM-DDTHH:MM:SS.mmmZ)"},
	};
	struct cm_peer_store ps = {.version = 1, .saved_at_ms = T1, .peers = json_array()};
	struct cm_err e = {0};
	json_t *j;
	char *text;

	j = cm_peer_store_encode(&ps);
	text = cm_json_dump(j);
	ck_assert_str_eq(text, "{\"version\":1,\"saved_at\":\"2023-11-14T22:13:20.000Z\",\"peers\":[]}");
	free(text);
	json_decref(j);
	json_decref(ps.peers);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		j = json_loads(bad[i][0], 0, NULL);
		ck_assert_int_eq(cm_peer_store_decode(j, &ps, &e), -1);
		ck_assert_str_eq(e.msg, bad[i][1]);
		ck_assert_ptr_null(ps.peers);
		json_decref(j);
	}
}
END_TEST

START_TEST(test_store_entry_names_its_missing_members)
{
	json_t *j = json_loads("{\"fingerprint\":\"00\"}", 0, NULL);
	struct cm_store_entry se;
	struct cm_err e = {0};

	ck_assert_int_eq(cm_store_entry_decode(j, &se, &e), -1);
	ck_assert_str_eq(e.msg, "signed: missing");
	json_decref(j);
	j = json_loads("{\"signed\":7}", 0, NULL);
	ck_assert_int_eq(cm_store_entry_decode(j, &se, &e), -1);
	ck_assert_str_eq(e.msg, "signed: expected an object, got an integer");
	json_decref(j);
}
END_TEST

START_TEST(test_peer_linklist_leaves_absent_members_null)
{
	json_t *j = json_loads("[{\"email\":\"b@t.example\",\"state\":\"CONNECTED\",\"x\":1},{}]", 0,
			       NULL);
	struct cm_peer_linklist l;
	struct cm_err e = {0};

	ck_assert_msg(cm_peer_linklist_decode(j, &l, &e) == 0, "%s", e.msg);
	ck_assert_int_eq(l.len, 2);
	ck_assert_str_eq(l.items[0].state, "CONNECTED");
	ck_assert_ptr_null(l.items[1].email);
	cm_peer_linklist_clear(&l);
	json_decref(j);
}
END_TEST

START_TEST(test_topology_summary_text_keeps_three_decimals)
{
	int64_t hist[] = {0, 2, 1};
	struct cm_topology_summary s = {.nodes = 3, .edges = 2, .components = 1,
					.largest_component = 3, .degree_min = 1,
					.degree_avg = 1.333, .degree_max = 2,
					.diameter_estimate = 2,
					.degree_histogram = {hist, 3}};
	char *text = cm_topology_summary_text(&s);

	ck_assert_str_eq(text, "{\"nodes\":3,\"edges\":2,\"components\":1,\"largest_component\":3,"
			       "\"partitioned\":false,\"degree_min\":1,\"degree_avg\":1.333,"
			       "\"degree_max\":2,\"diameter_estimate\":2,\"degree_histogram\":[0,2,1]}");
	free(text);
}
END_TEST

START_TEST(test_envelope_forward_replaces_ttl_and_sender_only)
{
	json_t *tree = json_loads("{\"v\":1,\"ttl\":5,\"sender\":{\"email\":\"x@y.z\"},\"extra\":[1],"
				  "\"payload\":{\"origin\":{\"record\":{}}}}",
				  0, NULL);
	size_t len;
	char *a, *b;

	a = cm_envelope_forward(tree, 4, EMAIL, PEER_ID, &len);
	ck_assert_str_eq(a, "{\"v\":1,\"ttl\":4,\"sender\":{\"email\":\"alice@example.com\",\"peer_id\":"
			    "\"" PEER_ID "\"},\"extra\":[1],\"payload\":{\"origin\":{\"record\":{}}}}");
	ck_assert_uint_eq(len, strlen(a));
	b = cm_envelope_forward_with_certificate(tree, "PEM", &len);
	ck_assert_ptr_nonnull(strstr(b, "\"origin\":{\"record\":{},\"public_certificate\":\"PEM\"}"));
	free(b);
	/* An origin that has its certificate gets no second frame. */
	ck_assert_ptr_null(cm_envelope_forward_with_certificate(tree, "PEM", &len));
	free(a);
	json_decref(tree);
}
END_TEST

START_TEST(test_text_front_ends_decode_answers_and_bodies)
{
	static const char err_text[] = "{\"error\":\"no\",\"code\":\"bad_query\"}";
	static const char body[] = "{\"repositories\":[{\"name\":\"photos\"}]}";
	struct cm_error_body eb;
	struct cm_broadcast_request br;
	struct cm_peer_infolist l;
	struct cm_agent_status st;
	struct cm_err e = {0};

	ck_assert_msg(cm_error_body_from_text(err_text, strlen(err_text), &eb, &e) == 0, "%s",
		      e.msg);
	ck_assert_str_eq(eb.code, "bad_query");
	cm_error_body_clear(&eb);
	ck_assert_msg(cm_broadcast_request_from_body(body, strlen(body), &br, &e) == 0, "%s",
		      e.msg);
	ck_assert_str_eq(br.repositories.items[0].name, "photos");
	cm_broadcast_request_clear(&br);
	ck_assert_int_eq(cm_peer_infolist_from_text("[]", 2, &l, &e), 0);
	ck_assert_int_eq(l.len, 0);
	cm_peer_infolist_clear(&l);
	ck_assert_int_eq(cm_agent_status_from_text("{", 1, &st, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "document: invalid JSON"));
}
END_TEST

START_TEST(test_codec_tables_list_every_type_with_its_schema)
{
	static const char *const names[] = {"envelope", "signed-record", "register-request",
					    "agent-status", "peer-store", "topology-summary"};
	json_t *tables = cm_codec_tables(), *t;
	size_t i;

	ck_assert_ptr_nonnull(tables);
	for (size_t n = 0; n < sizeof(names) / sizeof(names[0]); n++) {
		bool found = false;

		json_array_foreach(tables, i, t)
		{
			if (strcmp(json_string_value(json_object_get(t, "name")), names[n]) == 0)
				found = json_is_string(json_object_get(t, "schema"));
		}
		ck_assert_msg(found, "%s: not listed with a schema", names[n]);
	}
	json_decref(tables);
}
END_TEST

FB_CHECK_MAIN(.name = "codec")
