/* check_topology.c - the session graph: names, sessions counted once, components, degrees. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/topology.h"
#include "check_main.h"

static const struct cm_hash_key test_key = {1, 2};

static int
node(struct topology *t, const char *email)
{
	struct cm_err err;
	int id = topology_node(t, email, &err);

	ck_assert_msg(id >= 0, "%s: %s", email, err.msg);
	return id;
}

/* Nodes n0@t.example .. n(count-1)@t.example, in that order. */
static void
nodes(struct topology *t, int count)
{
	char email[64];

	for (int i = 0; i < count; i++) {
		snprintf(email, sizeof(email), "n%d@t.example", i);
		ck_assert_int_eq(node(t, email), i);
	}
}

static void
session(struct topology *t, int a, int b)
{
	struct cm_err err;

	ck_assert_msg(topology_add_session(t, a, b, &err) == 0, "%d-%d: %s", a, b, err.msg);
}

static struct topology_summary
analyse(struct topology *t)
{
	struct topology_summary s;
	struct cm_err err;

	ck_assert_msg(topology_analyse(t, &s, &err) == 0, "%s", err.msg);
	return s;
}

START_TEST(test_topology_node_same_email_same_index)
{
	struct topology *t = topology_new(&test_key);

	ck_assert_int_eq(node(t, "a@t.example"), 0);
	ck_assert_int_eq(node(t, "b@t.example"), 1);
	ck_assert_int_eq(node(t, "a@t.example"), 0);
	topology_free(t);
}
END_TEST

START_TEST(test_topology_node_rejects_what_is_not_an_email)
{
	struct topology *t = topology_new(&test_key);
	struct cm_err err;

	ck_assert_int_eq(topology_node(t, "a\"b@t.example", &err), -1);
	ck_assert_str_eq(err.msg, "not a valid email address");
	ck_assert_int_eq(topology_node(t, "", &err), -1);
	ck_assert_int_eq(node(t, "a@t.example"), 0);
	topology_free(t);
}
END_TEST

START_TEST(test_topology_add_session_counts_each_pair_once)
{
	struct topology *t = topology_new(&test_key);
	struct topology_summary s;

	nodes(t, 3);
	session(t, 0, 1);
	session(t, 1, 0);
	session(t, 0, 1);
	session(t, 2, 2);
	session(t, 1, 2);
	s = analyse(t);
	ck_assert_int_eq(s.sessions, 2);
	ck_assert_int_eq(s.degree_max, 2);
	topology_free(t);
}
END_TEST

START_TEST(test_topology_add_session_refuses_unknown_nodes)
{
	struct topology *t = topology_new(&test_key);
	struct cm_err err;

	nodes(t, 2);
	ck_assert_int_eq(topology_add_session(t, 0, 2, &err), -1);
	ck_assert_int_eq(topology_add_session(t, -1, 1, &err), -1);
	topology_free(t);
}
END_TEST

START_TEST(test_topology_analyse_two_components_is_a_partition)
{
	struct topology *t = topology_new(&test_key);
	struct topology_summary s;

	nodes(t, 6); /* 0-1-2-3, 4-5 */
	session(t, 0, 1);
	session(t, 1, 2);
	session(t, 2, 3);
	session(t, 4, 5);
	s = analyse(t);
	ck_assert_int_eq(s.nodes, 6);
	ck_assert_int_eq(s.components, 2);
	ck_assert_int_eq(s.largest_component, 4);
	ck_assert(s.partitioned);
	ck_assert_int_eq(s.diameter_estimate, 3);
	topology_free(t);
}
END_TEST

START_TEST(test_topology_analyse_degree_histogram_and_average)
{
	struct topology *t = topology_new(&test_key);
	struct topology_summary s;

	nodes(t, 5); /* a star around 0, and 4 alone */
	session(t, 0, 1);
	session(t, 0, 2);
	session(t, 0, 3);
	s = analyse(t);
	ck_assert_int_eq(s.degree_min, 0);
	ck_assert_int_eq(s.degree_max, 3);
	ck_assert_int_eq(s.degree_histogram[0], 1);
	ck_assert_int_eq(s.degree_histogram[1], 3);
	ck_assert_int_eq(s.degree_histogram[2], 0);
	ck_assert_int_eq(s.degree_histogram[3], 1);
	ck_assert_double_eq_tol(s.degree_avg, 1.2, 1e-9);
	topology_free(t);
}
END_TEST

START_TEST(test_topology_analyse_diameter_of_a_long_path_from_spread_sources)
{
	struct topology *t = topology_new(&test_key);
	int n = 10 * TOPOLOGY_BFS_SOURCES;

	nodes(t, n);
	for (int i = 0; i + 1 < n; i++)
		session(t, i, i + 1);
	/* Source 0 is an end of the path: its eccentricity is the diameter. */
	ck_assert_int_eq(analyse(t).diameter_estimate, n - 1);
	topology_free(t);
}
END_TEST

START_TEST(test_topology_grows_to_a_ring_of_many_nodes)
{
	struct topology *t = topology_new(&test_key);
	struct topology_summary s;
	int n = 20000;

	nodes(t, n);
	for (int i = 0; i < n; i++) {
		session(t, i, (i + 1) % n);
		session(t, (i + 1) % n, i);
		session(t, i, (i + n / 3) % n);
	}
	s = analyse(t);
	ck_assert_int_eq(s.nodes, n);
	ck_assert_int_eq(s.sessions, 2 * n);
	ck_assert_int_eq(s.components, 1);
	ck_assert_int_eq(s.degree_min, 4);
	ck_assert_int_eq(s.degree_max, 4);
	topology_free(t);
}
END_TEST

START_TEST(test_topology_add_peers_connected_entries_are_sessions)
{
	struct topology *t = topology_new(&test_key);
	json_t *peers = json_loads("[{\"email\":\"b@t.example\",\"state\":\"CONNECTED\"},"
				   "{\"email\":\"c@t.example\",\"state\":\"DISCOVERED\"},"
				   "{\"state\":\"CONNECTED\"}]",
				   0, NULL);
	struct topology_summary s;
	struct cm_err err;

	ck_assert_int_eq(topology_add_peers(t, "a@t.example", peers, &err), 0);
	s = analyse(t);
	ck_assert_int_eq(s.nodes, 3);
	ck_assert_int_eq(s.sessions, 1);
	ck_assert_int_eq(s.components, 2);
	json_decref(peers);
	topology_free(t);
}
END_TEST

START_TEST(test_topology_add_peers_refuses_a_bad_email_naming_the_entry)
{
	struct topology *t = topology_new(&test_key);
	json_t *peers = json_loads("[{\"email\":\"b@t.example\"},{\"email\":\"nope\"}]", 0, NULL);
	json_t *object = json_object();
	struct cm_err err;

	ck_assert_int_eq(topology_add_peers(t, "a@t.example", peers, &err), -1);
	ck_assert_str_eq(err.msg, "[1].email: not a valid email address");
	ck_assert_int_eq(topology_add_peers(t, "a@t.example", object, &err), -1);
	ck_assert_str_eq(err.msg, "not a JSON array of peers");
	json_decref(peers);
	json_decref(object);
	topology_free(t);
}
END_TEST

START_TEST(test_topology_summary_json_is_one_line)
{
	struct topology *t = topology_new(&test_key);
	char *text;

	nodes(t, 3);
	session(t, 0, 1);
	session(t, 1, 2);
	analyse(t);
	ck_assert_ptr_nonnull(text = topology_summary_text(t, true));
	ck_assert_str_eq(text, "{\"nodes\":3,\"edges\":2,\"components\":1,\"largest_component\":3,"
			       "\"partitioned\":false,\"degree_min\":1,\"degree_avg\":1.333,"
			       "\"degree_max\":2,\"diameter_estimate\":2,\"degree_histogram\":[0,2,1]}\n");
	free(text);
	topology_free(t);
}
END_TEST

START_TEST(test_topology_texts_after_a_change_need_a_new_analysis)
{
	struct topology *t = topology_new(&test_key);
	char *dot;

	nodes(t, 2);
	analyse(t);
	session(t, 0, 1);
	ck_assert_ptr_null(topology_summary_text(t, false));
	ck_assert_ptr_null(topology_dot_text(t));
	analyse(t);
	ck_assert_ptr_nonnull(dot = topology_dot_text(t));
	ck_assert_str_eq(dot, "graph gossip {\n"
			      "  \"n0@t.example\" [group=0];\n"
			      "  \"n1@t.example\" [group=0];\n"
			      "  \"n0@t.example\" -- \"n1@t.example\";\n"
			      "}\n");
	free(dot);
	topology_free(t);
}
END_TEST

FB_CHECK_MAIN(.name = "topology")
