/*
 * check_codec_tables.c - the table-driven types added for the agent's control
 * API, its peer store and the topology tool, and the codec's introspection:
 * round trips, a missing required member named in the error, limits.
 */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "fb/codec.h"

#define EMAIL "alice@example.com"
#define PEER_ID "7c6d5e4f-3a2b-4c1d-8e9f-0a1b2c3d4e5f"
#define T0 1700000000000LL

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
	s->bootstrap.expires_at_ms = T0;
	s->neighbours = 3;
	s->known_peers = 12;
	s->version = strdup("0.1.0");
	s->is_bootstrap = true;
	s->listen_port = 7443;
	s->gossip.received = 100;
	ck_assert_int_eq(cm_counterlist_append(&s->gossip.verdicts, "accepted", 90), 0);
	ck_assert_int_eq(cm_counterlist_append(&s->gossip.verdicts, "duplicate", 10), 0);
	ck_assert_int_eq(cm_counterlist_append(&s->gossip.closed_by_code, "1008", 2), 0);
	s->gossip.bytes_in = 4096;
}

static json_t *
agent_status_enc(const void *v)
{
	return cm_agent_status_encode(v);
}

static int
agent_status_dec(const json_t *j, void *out, struct cm_err *err)
{
	int rc = cm_agent_status_decode(j, out, err);

	if (rc == 0)
		cm_agent_status_clear(out);
	return rc;
}

START_TEST(test_agent_status_round_trips_in_key_order)
{
	struct cm_agent_status s, back;
	struct cm_err e = {0};
	json_t *j, *j2;
	char *a, *b;

	sample_status(&s);
	ck_assert_ptr_nonnull(j = agent_status_enc(&s));
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
			 "\"listen_port\":7443,\"gossip\":{\"received\":100,\"verdicts\":"
			 "{\"accepted\":90,\"duplicate\":10},\"records_applied\":0,\"forwarded\":0,"
			 "\"sent\":0,\"stripped_addresses\":0,\"anti_entropy_rounds\":0,"
			 "\"requests_answered\":0,\"sessions_open\":0,\"closed_by_code\":"
			 "{\"1008\":2},\"handshake_failures\":0,\"pin_failures\":0,"
			 "\"bytes_in\":4096,\"bytes_out\":0}}");
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
			       "\"anti_entropy_rounds\":0,\"requests_answered\":0,\"sessions_open\":0,"
			       "\"closed_by_code\":{},\"handshake_failures\":0,\"pin_failures\":0,"
			       "\"bytes_in\":0,\"bytes_out\":0}",
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
	p->discovered_at_ms = p->last_seen_ms = p->expires_at_ms = T0;
	p->source = CM_SOURCE_GOSSIP;
	p->found_in_ms = 12;
}

static int
infolist_dec(const json_t *j, void *out, struct cm_err *err)
{
	int rc = cm_peer_infolist_decode(j, out, err);

	if (rc == 0)
		cm_peer_infolist_clear(out);
	return rc;
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
	json_t *j = cm_status_encode("ok", T0);

	ck_assert_msg(cm_status_body_decode(j, &s, &e) == 0, "%s", e.msg);
	ck_assert_str_eq(s.status, "ok");
	ck_assert(s.has_expires_at);
	ck_assert_int_eq(s.expires_at_ms, T0);
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
	struct cm_peer_store ps = {.version = 1, .saved_at_ms = T0, .peers = json_array()};
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

static Suite *
codec_tables_suite(void)
{
	Suite *s = suite_create("codec_tables");
	TCase *tc = tcase_create("types");

	tcase_add_test(tc, test_agent_status_round_trips_in_key_order);
	tcase_add_test(tc, test_agent_status_text_is_the_control_api_shape);
	tcase_add_test(tc, test_agent_status_writes_null_url_and_expiry_when_unknown);
	tcase_add_test(tc, test_agent_status_decode_names_each_missing_member);
	tcase_add_test(tc, test_agent_status_decode_checks_limits);
	tcase_add_test(tc, test_gossip_stats_rejects_a_negative_counter_naming_it);
	tcase_add_test(tc, test_gossip_stats_rejects_too_many_counters);
	tcase_add_test(tc, test_peer_infolist_round_trips_and_names_the_failing_entry);
	tcase_add_test(tc, test_peer_infolist_rejects_an_object);
	tcase_add_test(tc, test_broadcast_request_without_repositories_names_none);
	tcase_add_test(tc, test_broadcast_request_round_trips_and_checks_names);
	tcase_add_test(tc, test_status_body_decodes_expiry_and_requires_status);
	tcase_add_test(tc, test_error_body_decode_names_each_missing_member);
	tcase_add_test(tc, test_heartbeat_and_feedback_bodies_round_trip);
	tcase_add_test(tc, test_peer_store_requires_version_one_and_a_peers_array);
	tcase_add_test(tc, test_store_entry_names_its_missing_members);
	tcase_add_test(tc, test_peer_linklist_leaves_absent_members_null);
	tcase_add_test(tc, test_topology_summary_text_keeps_three_decimals);
	tcase_add_test(tc, test_envelope_forward_replaces_ttl_and_sender_only);
	tcase_add_test(tc, test_text_front_ends_decode_answers_and_bodies);
	tcase_add_test(tc, test_codec_tables_list_every_type_with_its_schema);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(codec_tables_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
