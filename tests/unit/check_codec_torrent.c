/* check_codec_torrent.c - torrents in the codec: the record's list, torrent_search, the API types. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fb/codec.h"
#include "check_main.h"

#define UUID_A "0b9f2c1e-5d3a-4c2b-9e8f-1a2b3c4d5e6f"
#define T0 1764000000123LL
#define IH "c12fe1c06bba254a9dc9f519b335aa7c1367a88a"
#define SHA "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
#define ENVELOPE_HEAD                                                                              \
	"{\"v\":1,\"id\":\"0b9f2c1e-5d3a-4c2b-9e8f-1a2b3c4d5e6f\",\"type\":\"PEER_REQUEST\","    \
	"\"ttl\":1,\"timestamp\":\"2025-11-24T16:00:00.123Z\",\"sender\":{\"email\":"            \
	"\"bob@example.com\",\"peer_id\":\"7c6d5e4f-3a2b-4c1d-8e9f-0a1b2c3d4e5f\"},\"payload\":"

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

/* The record's JSON text (sorted keys), or NULL; caller frees. */
static char *
record_text(const struct cm_peer_record *r)
{
	return cm_json_dump_take(cm_peer_record_encode(r), NULL);
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

START_TEST(test_record_with_torrents_round_trips_with_its_port)
{
	struct cm_peer_record r, back;
	struct cm_err err;
	char *text, *again;

	fill_record(&r, true);
	ck_assert_int_eq(cm_torrentlist_append(&r.torrents, IH, "holiday.mkv", 52428800, SHA), 0);
	r.torrent_port = 6881;
	text = record_text(&r);
	ck_assert_msg(decode_record_text(text, &back, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(back.torrents.len, 1);
	ck_assert_str_eq(back.torrents.items[0].info_hash, IH);
	ck_assert_str_eq(back.torrents.items[0].name, "holiday.mkv");
	ck_assert_int_eq(back.torrents.items[0].size, 52428800);
	ck_assert_str_eq(back.torrents.items[0].sha256, SHA);
	ck_assert_int_eq(back.torrent_port, 6881);
	again = record_text(&back);
	ck_assert_str_eq(text, again);
	free(text);
	free(again);
	cm_peer_record_clear(&back);
	cm_peer_record_clear(&r);
}
END_TEST

START_TEST(test_record_without_torrents_writes_neither_member)
{
	struct cm_peer_record r;
	json_t *j;

	/* So records of agents that seed nothing sign the same text as before torrents. */
	fill_record(&r, true);
	j = cm_peer_record_encode(&r);
	ck_assert_ptr_null(json_object_get(j, "torrents"));
	ck_assert_ptr_null(json_object_get(j, "torrent_port"));
	json_decref(j);
	cm_peer_record_clear(&r);
}
END_TEST

START_TEST(test_silent_record_keeps_its_torrents_but_never_a_torrent_port)
{
	struct cm_peer_record r;
	json_t *j;

	fill_record(&r, false);
	cm_torrentlist_append(&r.torrents, IH, "holiday.mkv", 1, SHA);
	r.torrent_port = 6881; /* whatever the struct holds */
	j = cm_peer_record_encode(&r);
	ck_assert_ptr_null(json_object_get(j, "torrent_port"));
	ck_assert_ptr_null(json_object_get(j, "socket_addresses"));
	ck_assert_uint_eq(json_array_size(json_object_get(j, "torrents")), 1);
	json_decref(j);
	cm_peer_record_clear(&r);
}
END_TEST

START_TEST(test_record_decode_names_the_failing_torrent_member)
{
	static const struct {
		const char *torrent, *message;
	} cases[] = {
		{"{\"info_hash\":\"C12FE1C06BBA254A9DC9F519B335AA7C1367A88A\",\"name\":\"a\","
		 "\"size\":1,\"sha256\":\"" SHA "\"}",
		 "torrents[1].info_hash: not an info hash (40 lower-case hex digits)"},
		{"{\"info_hash\":\"" IH "\",\"name\":\"a\\u0007\",\"size\":1,\"sha256\":\"" SHA "\"}",
		 "torrents[1].name: not a valid torrent name"},
		{"{\"info_hash\":\"" IH "\",\"name\":\"a\",\"size\":-1,\"sha256\":\"" SHA "\"}",
		 "torrents[1].size: out of range"},
		{"{\"info_hash\":\"" IH "\",\"name\":\"a\",\"size\":1,\"sha256\":\"abc\"}",
		 "torrents[1].sha256: not a SHA-256"},
		{"{\"info_hash\":\"" IH "\",\"name\":\"a\",\"size\":1}", "torrents[1].sha256: missing"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[2048];
		struct cm_peer_record r;
		struct cm_err err = {0};

		snprintf(text, sizeof(text),
			 "{\"email\":\"a@example.com\",\"peer_id\":\"" UUID_A "\",\"seq\":1,"
			 "\"issued_at\":\"2025-11-24T16:00:00.123Z\",\"is_broadcasting\":false,"
			 "\"is_bootstrap\":false,\"leaving\":false,\"repositories\":[],"
			 "\"capabilities\":{\"max_peers\":8,\"supports_torrent\":true,"
			 "\"bandwidth_estimate\":0},\"torrents\":[{\"info_hash\":\"" IH "\","
			 "\"name\":\"ok\",\"size\":0,\"sha256\":\"" SHA "\"},%s]}",
			 cases[i].torrent);
		ck_assert_int_eq(decode_record_text(text, &r, &err), -1);
		ck_assert_msg(strstr(err.msg, cases[i].message) != NULL, "case %zu: %s", i, err.msg);
	}
}
END_TEST

START_TEST(test_record_decode_caps_the_torrent_list)
{
	struct cm_peer_record r, back;
	struct cm_err err;
	char *text;

	fill_record(&r, true);
	for (int i = 0; i < CM_MAX_TORRENTS; i++) {
		char ih[CM_INFO_HASH_LEN + 1];

		snprintf(ih, sizeof(ih), "%040x", i);
		cm_torrentlist_append(&r.torrents, ih, "t", i, SHA);
	}
	text = record_text(&r);
	ck_assert_int_eq(decode_record_text(text, &back, &err), 0);
	cm_peer_record_clear(&back);
	free(text);
	cm_torrentlist_append(&r.torrents, IH, "t", 1, SHA);
	text = record_text(&r);
	ck_assert_int_eq(decode_record_text(text, &back, &err), -1);
	ck_assert_str_eq(err.msg, "torrents: more than 256 entries");
	free(text);
	cm_peer_record_clear(&r);
}
END_TEST

START_TEST(test_record_copy_copies_the_torrents)
{
	struct cm_peer_record r, c;

	fill_record(&r, true);
	cm_torrentlist_append(&r.torrents, IH, "holiday.mkv", 5, SHA);
	r.torrent_port = 6881;
	ck_assert_int_eq(cm_peer_record_copy(&c, &r), 0);
	cm_peer_record_clear(&r);
	ck_assert_uint_eq(c.torrents.len, 1);
	ck_assert_str_eq(c.torrents.items[0].name, "holiday.mkv");
	ck_assert_int_eq(c.torrent_port, 6881);
	cm_peer_record_clear(&c);
}
END_TEST

START_TEST(test_torrent_search_round_trips_alone)
{
	struct cm_envelope e = {.v = 1, .type = CM_MSG_PEER_REQUEST, .ttl = 1, .timestamp_ms = T0};
	struct cm_envelope back;
	struct cm_err err;
	char *text;

	e.id = UUID_A;
	e.sender_email = "bob@example.com";
	e.sender_peer_id = UUID_A;
	e.payload.request.has_torrent_search = true;
	e.payload.request.torrent_search.info_hash = IH;
	text = cm_json_dump_take(cm_envelope_encode(&e), NULL);
	ck_assert_ptr_nonnull(text);
	/* Not even an empty repositories list next to it: the decoder would refuse that. */
	ck_assert_ptr_null(strstr(text, "repositories"));
	ck_assert_msg(cm_envelope_from_frame(text, strlen(text), &back, &err) == 0, "%s", err.msg);
	ck_assert(back.payload.request.has_torrent_search);
	ck_assert_str_eq(back.payload.request.torrent_search.info_hash, IH);
	ck_assert(!back.payload.request.has_digest);
	cm_envelope_clear(&back);
	free(text);
}
END_TEST

START_TEST(test_torrent_search_refused_with_repositories_or_digest)
{
	static const char *const payloads[] = {
		"{\"torrent_search\":{\"info_hash\":\"" IH "\"},\"repositories\":[\"photos\"]}",
		"{\"torrent_search\":{\"info_hash\":\"" IH "\"},\"repositories\":[]}",
		"{\"torrent_search\":{\"info_hash\":\"" IH "\"},\"digest\":{\"since\":0,\"seed\":1,"
		"\"k\":7,\"bloom\":\"AAAAAAAAAAA=\"}}",
	};

	for (size_t i = 0; i < sizeof(payloads) / sizeof(payloads[0]); i++) {
		char frame[1024];
		struct cm_envelope e;
		struct cm_err err = {0};

		snprintf(frame, sizeof(frame), ENVELOPE_HEAD "%s}", payloads[i]);
		ck_assert_int_eq(cm_envelope_from_frame(frame, strlen(frame), &e, &err), -1);
		ck_assert_str_eq(err.msg,
				 "payload.torrent_search: not allowed with repositories or digest");
	}
}
END_TEST

START_TEST(test_torrent_search_needs_a_lower_case_info_hash)
{
	const char *frame = ENVELOPE_HEAD "{\"torrent_search\":{\"info_hash\":\"" IH "0\"}}}";
	struct cm_envelope e;
	struct cm_err err = {0};

	ck_assert_int_eq(cm_envelope_from_frame(frame, strlen(frame), &e, &err), -1);
	ck_assert_str_eq(err.msg, "payload.torrent_search.info_hash: longer than 40 bytes");
}
END_TEST

START_TEST(test_peer_info_carries_torrent_port_and_torrents_only_when_set)
{
	struct cm_peer_info p = {0};
	json_t *j;

	p.email = strdup("dave@example.com");
	p.peer_id = strdup(UUID_A);
	p.public_certificate = strdup("PEM");
	j = cm_peer_info_encode(&p);
	ck_assert_ptr_null(json_object_get(j, "torrent_port"));
	ck_assert_ptr_null(json_object_get(j, "torrents"));
	json_decref(j);
	p.torrent_port = 6881;
	cm_torrentlist_append(&p.torrents, IH, "holiday.mkv", 5, SHA);
	j = cm_peer_info_encode(&p);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "torrent_port")), 6881);
	ck_assert_str_eq(json_string_value(json_object_get(
				 json_array_get(json_object_get(j, "torrents"), 0), "sha256")),
			 SHA);
	json_decref(j);
	cm_peer_info_clear(&p);
}
END_TEST

static void
fill_status(struct cm_torrent_status *t)
{
	memset(t, 0, sizeof(*t));
	t->info_hash = strdup(IH);
	t->state = CM_TORRENT_DOWNLOADING;
	t->progress = 0.5;
	t->path = strdup("/srv/dl/photos");
	t->magnet = strdup("magnet:?xt=urn:btih:" IH);
}

START_TEST(test_torrent_status_writes_null_while_the_metadata_is_unknown)
{
	struct cm_torrent_status t;
	char *text;

	fill_status(&t);
	text = cm_json_dump_take(cm_torrent_status_encode(&t), NULL);
	ck_assert_str_eq(text, "{\"info_hash\":\"" IH "\",\"name\":null,\"size\":0,\"state\":"
			       "\"downloading\",\"progress\":0.5,\"peers\":0,\"download_rate\":0,"
			       "\"upload_rate\":0,\"downloaded\":0,\"uploaded\":0,\"path\":"
			       "\"/srv/dl/photos\",\"sha256\":null,\"magnet\":\"magnet:?xt=urn:btih:" IH
			       "\",\"torrent_file\":null}");
	free(text);
	cm_torrent_status_clear(&t);
}
END_TEST

START_TEST(test_torrent_statuslist_round_trips_files_and_error)
{
	struct cm_torrent_statuslist l = {calloc(2, sizeof(struct cm_torrent_status)), 2}, back;
	struct cm_err err;
	char *text, *again;

	fill_status(&l.items[0]);
	fill_status(&l.items[1]);
	l.items[0].name = strdup("photos");
	l.items[0].sha256 = strdup(SHA);
	l.items[0].files.items = calloc(1, sizeof(struct cm_torrent_file));
	l.items[0].files.len = 1;
	l.items[0].files.items[0] = (struct cm_torrent_file){strdup("a/b.jpg"), strdup(SHA)};
	l.items[1].state = CM_TORRENT_ERROR;
	l.items[1].error = strdup("disk full");
	text = cm_json_dump_take(cm_torrent_statuslist_encode(&l), NULL);
	ck_assert_msg(cm_torrent_statuslist_from_text(text, strlen(text), &back, &err) == 0, "%s",
		      err.msg);
	ck_assert_uint_eq(back.len, 2);
	ck_assert_str_eq(back.items[0].files.items[0].path, "a/b.jpg");
	ck_assert_int_eq(back.items[1].state, CM_TORRENT_ERROR);
	ck_assert_str_eq(back.items[1].error, "disk full");
	ck_assert_ptr_null(back.items[1].name);
	again = cm_json_dump_take(cm_torrent_statuslist_encode(&back), NULL);
	ck_assert_str_eq(text, again);
	free(text);
	free(again);
	cm_torrent_statuslist_clear(&back);
	cm_torrent_statuslist_clear(&l);
}
END_TEST

START_TEST(test_torrent_status_progress_stays_within_zero_and_one)
{
	struct cm_torrent_status t, back;
	struct cm_err err = {0};
	char *text;

	fill_status(&t);
	t.progress = 1.25;
	text = cm_json_dump_take(cm_torrent_status_encode(&t), NULL);
	ck_assert_int_eq(cm_torrent_status_from_text(text, strlen(text), &back, &err), -1);
	ck_assert_str_eq(err.msg, "progress: out of range 0..1");
	free(text);
	cm_torrent_status_clear(&t);
}
END_TEST

START_TEST(test_torrent_created_round_trips)
{
	struct cm_torrent_created c = {.size = 7, .piece_length = 16384}, back;
	struct cm_err err;
	char *text;

	c.info_hash = strdup(IH);
	c.sha256 = strdup(SHA);
	c.name = strdup("x.bin");
	c.magnet = strdup("magnet:?xt=urn:btih:" IH);
	c.torrent_file = strdup("/home/a/.flashback/torrents/" IH ".torrent");
	text = cm_json_dump_take(cm_torrent_created_encode(&c), NULL);
	ck_assert_ptr_null(strstr(text, "files"));
	ck_assert_msg(cm_torrent_created_from_text(text, strlen(text), &back, &err) == 0, "%s",
		      err.msg);
	ck_assert_int_eq(back.piece_length, 16384);
	ck_assert_str_eq(back.torrent_file, c.torrent_file);
	free(text);
	cm_torrent_created_clear(&back);
	cm_torrent_created_clear(&c);
}
END_TEST

START_TEST(test_torrent_add_request_takes_one_shape_or_the_other)
{
	static const struct {
		const char *body, *error; /* error NULL: accepted */
	} cases[] = {
		{"{\"path\":\"/a\"}", NULL},
		{"{\"path\":\"/a\",\"name\":\"n\"}", NULL},
		{"{\"magnet\":\"magnet:?xt=urn:btih:" IH "\",\"dest\":\"/d\"}", NULL},
		{"{\"info_hash\":\"" IH "\",\"dest\":\"/d\"}", NULL},
		{"{\"torrent_file\":\"/t.torrent\",\"dest\":\"/d\"}", NULL},
		{"{}", "document: one of path, magnet, info_hash or torrent_file is required"},
		{"{\"path\":\"/a\",\"dest\":\"/d\"}", "dest: not allowed with path"},
		{"{\"path\":\"/a\",\"info_hash\":\"" IH "\"}", "info_hash: not allowed with path"},
		{"{\"info_hash\":\"" IH "\",\"torrent_file\":\"/t\",\"dest\":\"/d\"}",
		 "torrent_file: not allowed with info_hash"},
		{"{\"info_hash\":\"" IH "\"}", "dest: missing (required with info_hash)"},
		{"{\"info_hash\":\"" IH "\",\"dest\":\"/d\",\"name\":\"n\"}", "name: only with path"},
		{"{\"path\":\"\"}", "path: empty"},
		{"{\"path\":\"/a\",\"name\":\"\"}", "name: not a valid torrent name"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cm_torrent_add_request r;
		struct cm_err err = {0};
		int rc = cm_torrent_add_request_from_body(cases[i].body, strlen(cases[i].body), &r,
							  &err);

		if (cases[i].error == NULL) {
			ck_assert_msg(rc == 0, "case %zu: %s", i, err.msg);
			cm_torrent_add_request_clear(&r);
		} else {
			ck_assert_int_eq(rc, -1);
			ck_assert_msg(strncmp(err.msg, cases[i].error, strlen(cases[i].error)) == 0,
				      "case %zu: %s", i, err.msg);
		}
	}
}
END_TEST

START_TEST(test_torrent_state_names_are_the_api_words)
{
	ck_assert_str_eq(cm_torrent_state_name(CM_TORRENT_CHECKING), "checking");
	ck_assert_str_eq(cm_torrent_state_name(CM_TORRENT_DOWNLOADING), "downloading");
	ck_assert_str_eq(cm_torrent_state_name(CM_TORRENT_SEEDING), "seeding");
	ck_assert_str_eq(cm_torrent_state_name(CM_TORRENT_PAUSED), "paused");
	ck_assert_str_eq(cm_torrent_state_name(CM_TORRENT_ERROR), "error");
	ck_assert_ptr_null(cm_torrent_state_name((enum cm_torrent_state)99));
}
END_TEST

FB_CHECK_MAIN(.name = "codec_torrent")
