/* check_peertable.c - lifecycle, scores, bound and change tracking of the peer table. */
#include <check.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/peertable.h"
#include "check_main.h"

#define SEC 1000LL
#define T0 (1700000000000LL) /* a fixed wall-clock start, ms */

static const struct cm_hash_key test_key = {7, 8};

static struct peertable_config
cfg_small(void)
{
	struct peertable_config c;

	peertable_config_default(&c);
	c.stale_ms = 60 * SEC;
	c.expire_ms = 300 * SEC;
	c.heartbeat_ms = 10 * SEC;
	return c;
}

static struct peertable *
table_new(size_t max)
{
	struct peertable_config c = cfg_small();
	struct peertable *t;

	c.max_entries = max;
	t = peertable_new(&c, &test_key, "self@example.com");
	ck_assert_ptr_nonnull(t);
	return t;
}

/* A deterministic fingerprint per (email, variant). */
static const char *
fp(const char *email, int variant)
{
	static char buf[4][CM_FINGERPRINT_LEN + 1];
	static int n;
	char *p = buf[n++ % 4];
	unsigned h = 2166136261u + (unsigned)variant;

	for (const char *s = email; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	for (int i = 0; i < CM_FINGERPRINT_LEN; i += 8)
		snprintf(p + i, 9, "%08x", h * (unsigned)(i + 1));
	return p;
}

struct recspec {
	const char *email;
	int64_t seq;
	int64_t issued_at;
	bool broadcasting;
	bool bootstrap;
	bool leaving;
	const char *repos; /* comma-separated */
	const char *addr;  /* one socket address, or NULL */
};

static void
make_rec(struct cm_signed_record *s, struct recspec sp)
{
	struct cm_peer_record *r = &s->record;
	char repos[256];

	memset(s, 0, sizeof(*s));
	r->email = strdup(sp.email);
	r->peer_id = strdup("7c6d5e4f-3a2b-4c1d-8e9f-0a1b2c3d4e5f");
	r->seq = sp.seq;
	r->issued_at_ms = sp.issued_at;
	r->is_broadcasting = sp.broadcasting;
	r->is_bootstrap = sp.bootstrap;
	r->leaving = sp.leaving;
	r->port = sp.broadcasting ? 7443 : 0;
	if (sp.addr != NULL)
		ck_assert_int_eq(cm_strlist_append(&r->socket_addresses, sp.addr), 0);
	snprintf(repos, sizeof(repos), "%s", sp.repos != NULL ? sp.repos : "");
	for (char *tok = strtok(repos, ","); tok != NULL; tok = strtok(NULL, ","))
		ck_assert_int_eq(cm_repolist_append(&r->repositories, tok, NULL), 0);
	r->capabilities.max_peers = 8;
	s->public_certificate = strdup("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n");
	s->signature = strdup("c2ln");
}

static enum peertable_result
apply(struct peertable *t, struct recspec sp, int64_t now)
{
	struct cm_signed_record s;
	enum peertable_result r;

	make_rec(&s, sp);
	r = peertable_apply(t, &s, fp(sp.email, 0), now);
	cm_signed_record_clear(&s);
	return r;
}

START_TEST(test_peertable_apply_inserts_new_email)
{
	struct peertable *t = table_new(100);
	const struct peertable_entry *e;

	ck_assert_int_eq(apply(t, (struct recspec){"a@example.com", 1, T0, true, false, false, "r1",
						   "10.0.0.1"},
			       T0),
			 PEERTABLE_INSERTED);
	ck_assert_uint_eq(peertable_count(t), 1);
	e = peertable_get(t, "a@example.com");
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(e->fingerprint, fp("a@example.com", 0));
	ck_assert_str_eq(peertable_pinned(t, "a@example.com"), fp("a@example.com", 0));
	ck_assert_int_eq(e->discovered_at_ms, T0);
	ck_assert_int_eq(e->last_seen_ms, T0);
	ck_assert_int_eq(peertable_entry_state(t, e, T0), CM_STATE_DISCOVERED);
	ck_assert_int_eq(peertable_entry_status(t, e, T0), CM_PEER_ONLINE);
	peertable_free(t);
}
END_TEST

START_TEST(test_peertable_apply_higher_seq_replaces)
{
	struct peertable *t = table_new(100);
	const struct peertable_entry *e;

	apply(t, (struct recspec){"a@example.com", 1, T0, true, false, false, "r1", "10.0.0.1"}, T0);
	ck_assert_int_eq(apply(t, (struct recspec){"a@example.com", 2, T0 + 5 * SEC, true, false,
						   false, "r2", "10.0.0.2"},
			       T0 + 6 * SEC),
			 PEERTABLE_REPLACED);
	e = peertable_get(t, "a@example.com");
	ck_assert_int_eq(e->rec.record.seq, 2);
	ck_assert_str_eq(e->rec.record.repositories.items[0].name, "r2");
	ck_assert_str_eq(e->rec.record.socket_addresses.items[0], "10.0.0.2");
	ck_assert_int_eq(e->last_seen_ms, T0 + 5 * SEC);
	ck_assert_int_eq(e->discovered_at_ms, T0);
	peertable_free(t);
}
END_TEST

START_TEST(test_peertable_apply_equal_or_lower_seq_ignored)
{
	struct peertable *t = table_new(100);
	uint64_t v;

	apply(t, (struct recspec){"a@example.com", 5, T0, true, false, false, "r1", "10.0.0.1"}, T0);
	v = peertable_version(t);
	ck_assert_int_eq(apply(t, (struct recspec){"a@example.com", 5, T0, true, false, false, "rX",
						   "10.0.0.9"},
			       T0),
			 PEERTABLE_OLD);
	ck_assert_int_eq(apply(t, (struct recspec){"a@example.com", 4, T0, true, false, false, "rX",
						   "10.0.0.9"},
			       T0),
			 PEERTABLE_OLD);
	ck_assert_str_eq(peertable_get(t, "a@example.com")->rec.record.repositories.items[0].name,
			 "r1");
	ck_assert_uint_eq(peertable_version(t), v);
	peertable_free(t);
}
END_TEST

START_TEST(test_peertable_apply_expired_record_refused)
{
	struct peertable *t = table_new(100);

	ck_assert_int_eq(apply(t, (struct recspec){"a@example.com", 1, T0, true, false, false, "r1",
						   "10.0.0.1"},
			       T0 + 301 * SEC),
			 PEERTABLE_EXPIRED);
	ck_assert_uint_eq(peertable_count(t), 0);
	peertable_free(t);
}
END_TEST

START_TEST(test_peertable_apply_pin_mismatch_refused)
{
	struct peertable *t = table_new(100);
	struct cm_signed_record s;

	apply(t, (struct recspec){"a@example.com", 1, T0, true, false, false, "r1", "10.0.0.1"}, T0);
	make_rec(&s, (struct recspec){"a@example.com", 9, T0, true, false, false, "evil",
				      "10.6.6.6"});
	ck_assert_int_eq(peertable_apply(t, &s, fp("a@example.com", 1), T0),
			 PEERTABLE_PIN_MISMATCH);
	ck_assert_int_eq(peertable_get(t, "a@example.com")->rec.record.seq, 1);
	cm_signed_record_clear(&s);
	peertable_free(t);
}
END_TEST

START_TEST(test_peertable_pin_without_record_guards_first_record)
{
	struct peertable *t = table_new(100);
	struct cm_signed_record s;

	ck_assert_int_eq(peertable_pin(t, "b@example.com", fp("b@example.com", 0),
				       PEERTABLE_PIN_GOSSIP),
			 0);
	ck_assert_int_eq(peertable_pin(t, "b@example.com", fp("b@example.com", 0),
				       PEERTABLE_PIN_GOSSIP),
			 0);
	ck_assert_int_eq(peertable_pin(t, "b@example.com", fp("b@example.com", 1),
				       PEERTABLE_PIN_GOSSIP),
			 -1);
	make_rec(&s, (struct recspec){"b@example.com", 1, T0, true, false, false, "r", "10.0.0.2"});
	ck_assert_int_eq(peertable_apply(t, &s, fp("b@example.com", 1), T0),
			 PEERTABLE_PIN_MISMATCH);
	ck_assert_int_eq(peertable_apply(t, &s, fp("b@example.com", 0), T0),
			 PEERTABLE_INSERTED);
	cm_signed_record_clear(&s);
	ck_assert_int_eq(peertable_remove(t, "b@example.com"), 0);
	ck_assert_ptr_null(peertable_pinned(t, "b@example.com"));
	ck_assert_int_eq(peertable_remove(t, "b@example.com"), -1);
	peertable_free(t);
}
END_TEST

START_TEST(test_peertable_apply_self_ignored)
{
	struct peertable *t = table_new(100);

	ck_assert_int_eq(apply(t, (struct recspec){"self@example.com", 1, T0, true, false, false,
						   "r1", "10.0.0.1"},
			       T0),
			 PEERTABLE_SELF);
	ck_assert_uint_eq(peertable_count(t), 0);
	peertable_free(t);
}
END_TEST

START_TEST(test_peertable_apply_refuses_silent_record_with_addresses)
{
	struct peertable *t = table_new(100);
	struct cm_signed_record s;

	/* Its signed text carries the addresses: stripping the parsed copy would not hide them. */
	make_rec(&s, (struct recspec){"s@example.com", 1, T0, false, false, false, "r1",
				      "192.168.7.7"});
	ck_assert_int_eq(peertable_apply(t, &s, fp("s@example.com", 0), T0), PEERTABLE_INVALID);
	ck_assert_int_eq(peertable_restore(t, &s, fp("s@example.com", 0), T0, T0, T0),
			 PEERTABLE_INVALID);
	ck_assert_ptr_null(peertable_get(t, "s@example.com"));
	ck_assert_uint_eq(peertable_stats(t)->refused_silent, 2);
	cm_signed_record_clear(&s);
	peertable_free(t);
}
END_TEST

START_TEST(test_peertable_apply_leaving_marks_offline)
{
	struct peertable *t = table_new(100);
	const struct peertable_entry *e;

	apply(t, (struct recspec){"a@example.com", 1, T0, true, false, false, "r1", "10.0.0.1"}, T0);
	apply(t, (struct recspec){"a@example.com", 2, T0 + SEC, true, false, true, "r1", "10.0.0.1"},
	      T0 + SEC);
	e = peertable_get(t, "a@example.com");
	ck_assert_int_eq(peertable_entry_status(t, e, T0 + SEC), CM_PEER_OFFLINE);
	ck_assert_double_eq(peertable_entry_availability(t, e, T0 + SEC), 0.0);
	peertable_free(t);
}
END_TEST

START_TEST(test_peertable_entry_status_stale_then_expire_removes)
{
	struct peertable *t = table_new(100);
	const struct peertable_entry *e;

	apply(t, (struct recspec){"a@example.com", 1, T0, true, false, false, "r1", "10.0.0.1"}, T0);
	e = peertable_get(t, "a@example.com");
	ck_assert_int_eq(peertable_entry_status(t, e, T0 + 60 * SEC), CM_PEER_ONLINE);
	ck_assert_int_eq(peertable_entry_status(t, e, T0 + 61 * SEC), CM_PEER_STALE);
	ck_assert_int_eq(peertable_entry_state(t, e, T0 + 61 * SEC), CM_STATE_STALE);
	ck_assert_uint_eq(peertable_expire(t, T0 + 300 * SEC), 0);
	ck_assert_uint_eq(peertable_expire(t, T0 + 301 * SEC), 1);
	ck_assert_ptr_null(peertable_get(t, "a@example.com"));
	/* The pin outlives the entry: a later record must still match it. */
	ck_assert_str_eq(peertable_pinned(t, "a@example.com"), fp("a@example.com", 0));
	peertable_free(t);
}
END_TEST

START_TEST(test_peertable_note_heartbeat_keeps_peer_online)
{
	struct peertable *t = table_new(100);
	const struct peertable_entry *e;

	apply(t, (struct recspec){"a@example.com", 1, T0, true, false, false, "r1", "10.0.0.1"}, T0);
	ck_assert_int_eq(peertable_note_heartbeat(t, "a@example.com", 7, T0 + 50 * SEC), 0);
	e = peertable_get(t, "a@example.com");
	ck_assert_int_eq(e->last_seen_ms, T0 + 50 * SEC);
	ck_assert_int_eq(e->peer_count, 7);
	ck_assert_int_eq(peertable_entry_status(t, e, T0 + 100 * SEC), CM_PEER_ONLINE);
	ck_assert_int_eq(peertable_note_heartbeat(t, "nobody@example.com", 1, T0), -1);
	peertable_free(t);
}
END_TEST

START_TEST(test_peertable_set_connected_shows_connected_state)
{
	struct peertable *t = table_new(100);
	const struct peertable_entry *e;

	apply(t, (struct recspec){"a@example.com", 1, T0, true, false, false, "r1", "10.0.0.1"}, T0);
	ck_assert_int_eq(peertable_set_connected(t, "a@example.com", true, false, T0), 0);
	e = peertable_get(t, "a@example.com");
	ck_assert_int_eq(peertable_entry_state(t, e, T0 + SEC), CM_STATE_CONNECTED);
	ck_assert_int_eq(peertable_set_connected(t, "a@example.com", false, false, T0 + SEC), 0);
	ck_assert_int_eq(peertable_entry_state(t, e, T0 + SEC), CM_STATE_DISCOVERED);
	peertable_free(t);
}
END_TEST

START_TEST(test_peertable_entry_availability_counts_heartbeats_per_connected_interval)
{
	struct peertable *t = table_new(100);
	const struct peertable_entry *e;

	apply(t, (struct recspec){"a@example.com", 1, T0, true, false, false, "r1", "10.0.0.1"}, T0);
	peertable_set_connected(t, "a@example.com", true, false, T0);
	/* 100 s connected at one heartbeat per 10 s: 10 expected, 5 received. */
	for (int i = 1; i <= 5; i++)
		peertable_note_heartbeat(t, "a@example.com", 1, T0 + i * 10 * SEC);
	e = peertable_get(t, "a@example.com");
	ck_assert_double_eq_tol(peertable_entry_availability(t, e, T0 + 100 * SEC), 50.0, 0.01);
	for (int i = 6; i <= 10; i++)
		peertable_note_heartbeat(t, "a@example.com", 1, T0 + i * 10 * SEC);
	ck_assert_double_eq_tol(peertable_entry_availability(t, e, T0 + 100 * SEC), 100.0, 0.01);
	/* Disconnected time does not count as missed heartbeats. */
	peertable_set_connected(t, "a@example.com", false, false, T0 + 100 * SEC);
	ck_assert_double_eq_tol(peertable_entry_availability(t, e, T0 + 150 * SEC), 100.0, 0.01);
	peertable_free(t);
}
END_TEST

START_TEST(test_peertable_entry_availability_never_connected_follows_freshness)
{
	struct peertable *t = table_new(100);
	const struct peertable_entry *e;

	apply(t, (struct recspec){"a@example.com", 1, T0, true, false, false, "r1", "10.0.0.1"}, T0);
	e = peertable_get(t, "a@example.com");
	ck_assert_double_eq(peertable_entry_availability(t, e, T0 + SEC), 100.0);
	ck_assert_double_eq(peertable_entry_availability(t, e, T0 + 61 * SEC), 0.0);
	peertable_free(t);
}
END_TEST

START_TEST(test_peertable_entry_performance_log_scale_of_rtt)
{
	struct peertable *t = table_new(100);
	const struct peertable_entry *e;

	apply(t, (struct recspec){"a@example.com", 1, T0, true, false, false, "r1", "10.0.0.1"}, T0);
	e = peertable_get(t, "a@example.com");
	ck_assert_double_eq(peertable_entry_performance(e), 50.0);
	peertable_note_rtt(t, "a@example.com", 5);
	ck_assert_double_eq(peertable_entry_performance(e), 100.0);
	peertable_remove(t, "a@example.com");
	apply(t, (struct recspec){"a@example.com", 1, T0, true, false, false, "r1", "10.0.0.1"}, T0);
	e = peertable_get(t, "a@example.com");
	/* Geometric mean of 10 and 2000 ms sits half way on the log scale. */
	peertable_note_rtt(t, "a@example.com", 141);
	ck_assert_double_eq_tol(peertable_entry_performance(e), 50.0, 0.2);
	peertable_remove(t, "a@example.com");
	apply(t, (struct recspec){"a@example.com", 1, T0, true, false, false, "r1", "10.0.0.1"}, T0);
	e = peertable_get(t, "a@example.com");
	peertable_note_rtt(t, "a@example.com", 2500);
	ck_assert_double_eq(peertable_entry_performance(e), 0.0);
	/* score = 0.6 availability + 0.4 performance */
	ck_assert_double_eq_tol(peertable_entry_score(t, e, T0), 60.0, 0.01);
	peertable_free(t);
}
END_TEST

START_TEST(test_peertable_note_rtt_smooths_samples)
{
	struct peertable *t = table_new(100);

	apply(t, (struct recspec){"a@example.com", 1, T0, true, false, false, "r1", "10.0.0.1"}, T0);
	peertable_note_rtt(t, "a@example.com", 80);
	peertable_note_rtt(t, "a@example.com", 160);
	ck_assert_int_eq(peertable_get(t, "a@example.com")->rtt_ms, 90);
	peertable_free(t);
}
END_TEST

START_TEST(test_peertable_apply_full_evicts_worst_score)
{
	struct peertable *t = table_new(3);

	apply(t, (struct recspec){"a@example.com", 1, T0, true, false, false, "r", "10.0.0.1"}, T0);
	apply(t, (struct recspec){"b@example.com", 1, T0, true, false, false, "r", "10.0.0.2"}, T0);
	apply(t, (struct recspec){"c@example.com", 1, T0, true, false, false, "r", "10.0.0.3"}, T0);
	peertable_note_rtt(t, "a@example.com", 1900); /* a scores worst */
	peertable_note_rtt(t, "b@example.com", 20);
	peertable_note_rtt(t, "c@example.com", 20);
	ck_assert_int_eq(apply(t, (struct recspec){"d@example.com", 1, T0, true, false, false, "r",
						   "10.0.0.4"},
			       T0),
			 PEERTABLE_INSERTED);
	ck_assert_uint_eq(peertable_count(t), 3);
	ck_assert_ptr_null(peertable_get(t, "a@example.com"));
	ck_assert_ptr_nonnull(peertable_get(t, "d@example.com"));
	peertable_free(t);
}
END_TEST

START_TEST(test_peertable_entry_whose_session_comes_up_stops_being_the_next_to_evict)
{
	struct peertable *t = table_new(3);
	struct cm_signed_record s;

	apply(t, (struct recspec){"a@example.com", 1, T0, true, false, false, "r", "10.0.0.1"}, T0);
	apply(t, (struct recspec){"b@example.com", 1, T0, true, false, false, "r", "10.0.0.2"}, T0);
	apply(t, (struct recspec){"c@example.com", 1, T0, true, false, false, "r", "10.0.0.3"}, T0);
	peertable_note_rtt(t, "a@example.com", 60); /* a scores worst, a newcomer worse */
	peertable_note_rtt(t, "b@example.com", 40);
	peertable_note_rtt(t, "c@example.com", 20);
	/* A refused newcomer leaves the ranking cached, a first... */
	ck_assert_int_eq(apply(t, (struct recspec){"x@example.com", 1, T0, true, false, false, "r",
						   "10.0.0.4"},
			       T0),
			 PEERTABLE_FULL);
	/* ...then we dial a (a lookup by key): it outranks any gossip entry now. */
	ck_assert_int_eq(peertable_set_connected(t, "a@example.com", true, true, T0), 0);
	make_rec(&s, (struct recspec){"host@example.com", 1, T0, true, false, false, "r", "10.0.0.5"});
	ck_assert_int_eq(peertable_apply_answer(t, &s, fp("host@example.com", 0), T0),
			 PEERTABLE_INSERTED);
	cm_signed_record_clear(&s);
	ck_assert_ptr_nonnull(peertable_get(t, "a@example.com"));
	ck_assert_ptr_null(peertable_get(t, "b@example.com"));
	peertable_free(t);
}
END_TEST

START_TEST(test_peertable_apply_full_keeps_bootstrap_and_own_repository_hosts)
{
	struct peertable *t = table_new(2);
	struct cm_repolist own = {0};

	cm_repolist_append(&own, "mine", NULL);
	peertable_set_own_repositories(t, &own);
	cm_repolist_clear(&own);
	apply(t, (struct recspec){"boot@example.com", 1, T0, true, true, false, "x", "10.0.0.1"},
	      T0);
	/* Bootstrap peers earn protection once a trusted server attests them. */
	ck_assert_int_eq(peertable_attest(t, "boot@example.com", fp("boot@example.com", 0), T0), 0);
	ck_assert_int_eq(peertable_attest(t, "boot2@example.com", fp("boot2@example.com", 0), T0),
			 0);
	apply(t, (struct recspec){"host@example.com", 1, T0, true, false, false, "mine",
				  "10.0.0.2"},
	      T0);
	peertable_note_rtt(t, "boot@example.com", 1999);
	peertable_note_rtt(t, "host@example.com", 1999);
	/* The newcomer scores better but is neither: it is refused, not them. */
	ck_assert_int_eq(apply(t, (struct recspec){"new@example.com", 1, T0, true, false, false,
						   "other", "10.0.0.3"},
			       T0),
			 PEERTABLE_FULL);
	ck_assert_ptr_nonnull(peertable_get(t, "boot@example.com"));
	ck_assert_ptr_nonnull(peertable_get(t, "host@example.com"));
	/*
	 * An attested newcomer displaces the host: hosting our repository is a
	 * claim, which ranks below an attested bootstrap peer whatever the scores.
	 */
	peertable_note_rtt(t, "host@example.com", 10);
	ck_assert_int_eq(apply(t, (struct recspec){"boot2@example.com", 1, T0, true, true, false,
						   "y", "10.0.0.4"},
			       T0),
			 PEERTABLE_INSERTED);
	ck_assert_ptr_null(peertable_get(t, "host@example.com"));
	ck_assert_ptr_nonnull(peertable_get(t, "boot@example.com"));
	peertable_free(t);
}
END_TEST

START_TEST(test_peertable_changes_since_pages_oldest_first)
{
	struct peertable *t = table_new(100);
	const struct peertable_entry *out[8];
	uint64_t next = 0;
	size_t n;

	apply(t, (struct recspec){"a@example.com", 1, T0, true, false, false, "r", "10.0.0.1"}, T0);
	apply(t, (struct recspec){"b@example.com", 1, T0, true, false, false, "r", "10.0.0.2"}, T0);
	apply(t, (struct recspec){"c@example.com", 1, T0, true, false, false, "r", "10.0.0.3"}, T0);
	/* a changes again: it moves after c */
	apply(t, (struct recspec){"a@example.com", 2, T0, true, false, false, "r", "10.0.0.1"}, T0);
	n = peertable_changes_since(t, 0, 2, NULL, NULL, out, &next);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(out[0]->rec.record.email, "b@example.com");
	ck_assert_str_eq(out[1]->rec.record.email, "c@example.com");
	n = peertable_changes_since(t, next, 2, NULL, NULL, out, &next);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(out[0]->rec.record.email, "a@example.com");
	ck_assert_uint_eq(next, peertable_version(t));
	ck_assert_uint_eq(peertable_changes_since(t, next, 2, NULL, NULL, out, &next), 0);
	ck_assert_uint_eq(next, peertable_version(t));
	peertable_free(t);
}
END_TEST

static bool
keep_bootstrap(const struct peertable_entry *e, void *arg)
{
	(void)arg;
	return e->rec.record.is_bootstrap;
}

START_TEST(test_peertable_changes_since_applies_filter)
{
	struct peertable *t = table_new(100);
	const struct peertable_entry *out[8];
	uint64_t next = 0;

	apply(t, (struct recspec){"a@example.com", 1, T0, true, false, false, "r", "10.0.0.1"}, T0);
	apply(t, (struct recspec){"b@example.com", 1, T0, true, true, false, "r", "10.0.0.2"}, T0);
	ck_assert_uint_eq(peertable_changes_since(t, 0, 8, keep_bootstrap, NULL, out, &next), 1);
	ck_assert_str_eq(out[0]->rec.record.email, "b@example.com");
	peertable_free(t);
}
END_TEST

START_TEST(test_peertable_snapshot_filters_by_repository_best_first)
{
	struct peertable *t = table_new(100);
	struct cm_peer_info *infos;
	const char *repos[] = {"alpha"};
	size_t n;

	apply(t, (struct recspec){"a@example.com", 1, T0, true, false, false, "alpha", "10.0.0.1"},
	      T0);
	apply(t, (struct recspec){"b@example.com", 1, T0, true, false, false, "beta,alpha",
				  "10.0.0.2"},
	      T0);
	apply(t, (struct recspec){"c@example.com", 1, T0, true, false, false, "beta", "10.0.0.3"},
	      T0);
	peertable_note_rtt(t, "a@example.com", 500);
	peertable_note_rtt(t, "b@example.com", 10);
	ck_assert_int_eq(peertable_snapshot(t, repos, 1, T0, &infos, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(infos[0].email, "b@example.com");
	ck_assert_str_eq(infos[1].email, "a@example.com");
	ck_assert(infos[0].score > infos[1].score);
	ck_assert_int_eq(infos[0].expires_at_ms, T0 + 300 * SEC);
	peertable_info_free(infos, n);
	ck_assert_int_eq(peertable_snapshot(t, NULL, 0, T0, &infos, &n), 0);
	ck_assert_uint_eq(n, 3);
	peertable_info_free(infos, n);
	peertable_free(t);
}
END_TEST

START_TEST(test_peertable_restore_is_stale_until_fresh_evidence)
{
	struct peertable *t = table_new(100);
	struct cm_signed_record s;
	const struct peertable_entry *e;

	make_rec(&s, (struct recspec){"a@example.com", 3, T0, true, false, false, "r", "10.0.0.1"});
	ck_assert_int_eq(peertable_restore(t, &s, fp("a@example.com", 0), T0 - 50 * SEC, T0,
					   T0 + SEC),
			 PEERTABLE_INSERTED);
	e = peertable_get(t, "a@example.com");
	ck_assert_int_eq(e->discovered_at_ms, T0 - 50 * SEC);
	ck_assert_int_eq(peertable_entry_status(t, e, T0 + SEC), CM_PEER_STALE);
	ck_assert_int_eq(peertable_entry_state(t, e, T0 + SEC), CM_STATE_STALE);
	peertable_note_heartbeat(t, "a@example.com", 1, T0 + 2 * SEC);
	ck_assert_int_eq(peertable_entry_status(t, e, T0 + 2 * SEC), CM_PEER_ONLINE);
	/* A saved entry older than expire is not brought back. */
	cm_signed_record_clear(&s);
	make_rec(&s, (struct recspec){"z@example.com", 3, T0 + 100 * SEC, true, false, false, "r",
				      "10.0.0.9"});
	ck_assert_int_eq(peertable_restore(t, &s, fp("z@example.com", 0), T0, T0,
					   T0 + 301 * SEC),
			 PEERTABLE_EXPIRED);
	cm_signed_record_clear(&s);
	peertable_free(t);
}
END_TEST

START_TEST(test_peertable_remove_many_keeps_lookups_right)
{
	struct peertable *t = table_new(5000);
	char email[64];

	for (int i = 0; i < 3000; i++) {
		snprintf(email, sizeof(email), "p%d@example.com", i);
		ck_assert_int_eq(apply(t, (struct recspec){email, 1, T0, true, false, false, "r",
							   "10.0.0.1"},
				       T0),
				 PEERTABLE_INSERTED);
	}
	for (int i = 0; i < 3000; i += 2) {
		snprintf(email, sizeof(email), "p%d@example.com", i);
		ck_assert_int_eq(peertable_remove(t, email), 0);
	}
	ck_assert_uint_eq(peertable_count(t), 1500);
	for (int i = 0; i < 3000; i++) {
		snprintf(email, sizeof(email), "p%d@example.com", i);
		if (i % 2 == 0)
			ck_assert_ptr_null(peertable_get(t, email));
		else
			ck_assert_ptr_nonnull(peertable_get(t, email));
	}
	peertable_free(t);
}
END_TEST

/* Makes room in a full table: email scores worst (a slow RTT), so it is the next to go. */
static void
worst(struct peertable *t, const char *email)
{
	ck_assert_int_eq(peertable_note_rtt(t, email, 1999), 0);
}

static void
flood_email(char *buf, size_t len, int i)
{
	snprintf(buf, len, "sybil%d@example.com", i);
}

START_TEST(test_peertable_pin_survives_eviction_of_its_entry)
{
	struct peertable *t = table_new(2);
	char email[64];

	apply(t, (struct recspec){"real@example.com", 1, T0, true, false, false, "r", "10.0.0.1"},
	      T0);
	worst(t, "real@example.com");
	/* Fresh identities that claim is_bootstrap push the real peer out. */
	for (int i = 0; i < 3; i++) {
		flood_email(email, sizeof(email), i);
		ck_assert_int_eq(apply(t, (struct recspec){email, 1, T0, true, true, false, "r",
							   "10.6.6.6"},
				       T0),
				 PEERTABLE_INSERTED);
		worst(t, email);
	}
	ck_assert_ptr_null(peertable_get(t, "real@example.com"));
	/* The email is still held to its certificate: another one is refused. */
	ck_assert_str_eq(peertable_pinned(t, "real@example.com"), fp("real@example.com", 0));
	{
		struct cm_signed_record s;

		make_rec(&s, (struct recspec){"real@example.com", 9, T0, true, false, false, "r",
					      "10.6.6.6"});
		ck_assert_int_eq(peertable_apply(t, &s, fp("real@example.com", 1), T0),
				 PEERTABLE_PIN_MISMATCH);
		ck_assert_int_eq(peertable_apply(t, &s, fp("real@example.com", 0), T0),
				 PEERTABLE_INSERTED);
		cm_signed_record_clear(&s);
	}
	peertable_free(t);
}
END_TEST

START_TEST(test_peertable_unattested_bootstrap_claim_earns_no_protection)
{
	struct peertable *t = table_new(2);

	apply(t, (struct recspec){"good@example.com", 1, T0, true, false, false, "r", "10.0.0.1"},
	      T0);
	apply(t, (struct recspec){"claim@example.com", 1, T0, true, true, false, "r", "10.0.0.2"},
	      T0);
	peertable_note_rtt(t, "good@example.com", 20);
	worst(t, "claim@example.com");
	/* The claim alone protects nothing: the worst entry goes, whatever it says. */
	ck_assert_int_eq(apply(t, (struct recspec){"new@example.com", 1, T0, true, false, false, "r",
						   "10.0.0.3"},
			       T0),
			 PEERTABLE_INSERTED);
	ck_assert_ptr_null(peertable_get(t, "claim@example.com"));
	ck_assert_ptr_nonnull(peertable_get(t, "good@example.com"));
	ck_assert_uint_eq(peertable_stats(t)->evicted, 1);
	peertable_free(t);
}
END_TEST

START_TEST(test_peertable_entry_bootstrap_needs_attestation_with_its_certificate)
{
	struct peertable *t = table_new(10);
	const struct peertable_entry *e;

	apply(t, (struct recspec){"b@example.com", 1, T0, true, true, false, "r", "10.0.0.1"}, T0);
	apply(t, (struct recspec){"p@example.com", 1, T0, true, false, false, "r", "10.0.0.2"}, T0);
	e = peertable_get(t, "b@example.com");
	ck_assert(!peertable_entry_bootstrap(t, e, T0));
	/* Listed with another certificate: not this peer. */
	ck_assert_int_eq(peertable_attest(t, "b@example.com", fp("b@example.com", 1), T0), 0);
	ck_assert(!peertable_entry_bootstrap(t, e, T0));
	ck_assert_int_eq(peertable_attest(t, "b@example.com", fp("b@example.com", 0), T0), 0);
	ck_assert(peertable_entry_bootstrap(t, e, T0));
	/* The listing vouches for attest_ms, then the claim is a claim again. */
	ck_assert(!peertable_entry_bootstrap(t, e, T0 + cfg_small().attest_ms));
	/* Listed, but its record does not say bootstrap (it stopped broadcasting): not one. */
	ck_assert_int_eq(peertable_attest(t, "p@example.com", fp("p@example.com", 0), T0), 0);
	ck_assert(!peertable_entry_bootstrap(t, peertable_get(t, "p@example.com"), T0));
	peertable_free(t);
}
END_TEST

START_TEST(test_peertable_attested_set_is_bounded)
{
	struct peertable *t = table_new(10);
	char email[64];

	for (int i = 0; i < PEERTABLE_MAX_ATTESTED + 50; i++) {
		flood_email(email, sizeof(email), i);
		ck_assert_int_eq(peertable_attest(t, email, fp(email, 0), T0 + i), 0);
	}
	/* The newest stay; the ones that would expire first made room. */
	flood_email(email, sizeof(email), PEERTABLE_MAX_ATTESTED + 49);
	apply(t, (struct recspec){email, 1, T0, true, true, false, "r", "10.0.0.1"}, T0);
	ck_assert(peertable_entry_bootstrap(t, peertable_get(t, email), T0 + 2000));
	flood_email(email, sizeof(email), 0);
	apply(t, (struct recspec){email, 1, T0, true, true, false, "r", "10.0.0.1"}, T0);
	ck_assert(!peertable_entry_bootstrap(t, peertable_get(t, email), T0 + 2000));
	peertable_free(t);
}
END_TEST

/* Inserts email, connects and disconnects it (its pin is verified), and makes it the worst. */
static void
met_directly(struct peertable *t, const char *email)
{
	ck_assert_int_eq(apply(t, (struct recspec){email, 1, T0, true, false, false, "r",
						   "10.0.0.1"},
			       T0),
			 PEERTABLE_INSERTED);
	ck_assert_int_eq(peertable_set_connected(t, email, true, true, T0), 0);
	ck_assert_int_eq(peertable_set_connected(t, email, false, true, T0), 0);
	worst(t, email);
}

START_TEST(test_peertable_pin_store_full_drops_the_oldest_unentried_pin)
{
	/* One entry, so PEERTABLE_PINS_PER_ENTRY pins. */
	struct peertable *t = table_new(1);
	char email[64];

	for (int i = 0; i < 5; i++) {
		flood_email(email, sizeof(email), i);
		ck_assert_int_eq(apply(t, (struct recspec){email, 1, T0, true, false, false, "r",
							   "10.0.0.1"},
				       T0),
				 PEERTABLE_INSERTED);
		worst(t, email);
	}
	ck_assert_ptr_null(peertable_pinned(t, "sybil0@example.com"));
	ck_assert_ptr_nonnull(peertable_pinned(t, "sybil3@example.com"));
	ck_assert_ptr_nonnull(peertable_pinned(t, "sybil4@example.com"));
	ck_assert_uint_eq(peertable_stats(t)->pins_dropped, 5 - PEERTABLE_PINS_PER_ENTRY);
	peertable_free(t);
}
END_TEST

START_TEST(test_peertable_verified_pin_never_gives_way_to_unverified_ones)
{
	struct peertable *t = table_new(2);
	char email[64];

	met_directly(t, "real@example.com");
	/* One a second: the table ranks its eviction candidates a batch at a time. */
	for (int i = 0; i < 50; i++) {
		flood_email(email, sizeof(email), i);
		ck_assert_int_eq(apply(t, (struct recspec){email, 1, T0, true, true, false, "r",
							   "10.0.0.1"},
				       T0 + i * SEC),
				 PEERTABLE_INSERTED);
		worst(t, email);
	}
	ck_assert_str_eq(peertable_pinned(t, "real@example.com"), fp("real@example.com", 0));
	peertable_free(t);
}
END_TEST

START_TEST(test_peertable_pin_store_of_verified_pins_refuses_unverified_newcomers)
{
	struct peertable *t = table_new(1);

	/* Two pins proven by direct contact, their entries gone: the store (2) is full. */
	ck_assert_int_eq(peertable_pin(t, "v1@example.com", fp("v1@example.com", 0),
				       PEERTABLE_PIN_PROVEN),
			 0);
	ck_assert_int_eq(peertable_pin(t, "v2@example.com", fp("v2@example.com", 0),
				       PEERTABLE_PIN_PROVEN),
			 0);
	ck_assert_int_eq(apply(t, (struct recspec){"x@example.com", 1, T0, true, false, false, "r",
						   "10.0.0.1"},
			       T0),
			 PEERTABLE_FULL);
	ck_assert_ptr_nonnull(peertable_pinned(t, "v1@example.com"));
	ck_assert_ptr_nonnull(peertable_pinned(t, "v2@example.com"));
	ck_assert_uint_eq(peertable_stats(t)->pins_refused, 1);
	/* A verified pin may still replace the oldest verified orphan. */
	ck_assert_int_eq(peertable_pin(t, "v3@example.com", fp("v3@example.com", 0),
				       PEERTABLE_PIN_PROVEN),
			 0);
	ck_assert_ptr_null(peertable_pinned(t, "v1@example.com"));
	peertable_free(t);
}
END_TEST

#define COLLECTED_MAX 256 /* bytes of a collect() list */

/* fn of each_hosting: collects emails into a comma list of COLLECTED_MAX bytes. */
static bool
collect(const struct peertable_entry *e, void *arg)
{
	char *out = arg;
	size_t n = strlen(out);

	snprintf(out + n, COLLECTED_MAX - n, "%s,", e->rec.record.email);
	return true;
}

START_TEST(test_peertable_repository_lookup_costs_the_matches_not_the_table)
{
	struct peertable *t = table_new(5000);
	const char *names[CM_MAX_REPOSITORIES];
	char email[64], repos[64], (*asked)[32] = calloc(CM_MAX_REPOSITORIES, 32), got[COLLECTED_MAX] = "";
	uint64_t before;

	for (int i = 0; i < 2000; i++) {
		snprintf(email, sizeof(email), "p%d@example.com", i);
		snprintf(repos, sizeof(repos), "common,r%d,s%d", i, i % 3);
		apply(t, (struct recspec){email, 1, T0, true, false, false, repos, "10.0.0.1"}, T0);
	}
	/* 256 names, one of them hosted by 2 entries, one twice. */
	for (int i = 0; i < CM_MAX_REPOSITORIES; i++) {
		snprintf(asked[i], 32, "absent%d", i);
		names[i] = asked[i];
	}
	names[7] = "r17";
	names[8] = "r1700";
	names[9] = "r17";
	before = peertable_stats(t)->index_visits;
	peertable_each_hosting(t, names, CM_MAX_REPOSITORIES, collect, got);
	ck_assert_uint_eq(peertable_stats(t)->index_visits - before, 2);
	ck_assert(strstr(got, "p17@example.com,") != NULL && strstr(got, "p1700@example.com,"));
	/* An entry hosting several names is visited once. */
	names[10] = "s2";
	names[11] = "common";
	before = peertable_stats(t)->index_visits;
	ck_assert_uint_eq(peertable_entry_marked(peertable_get(t, "p5@example.com"),
						 peertable_mark_hosting(t, names, 12)),
			  true);
	ck_assert_uint_eq(peertable_stats(t)->index_visits - before, 2000);
	free(asked);
	peertable_free(t);
}
END_TEST

START_TEST(test_peertable_repository_index_follows_replace_evict_expire_remove)
{
	struct peertable *t = table_new(3);
	const char *alpha[] = {"alpha"}, *beta[] = {"beta"};
	char got[COLLECTED_MAX];

	apply(t, (struct recspec){"a@example.com", 1, T0, true, false, false, "alpha,x", "10.0.0.1"},
	      T0);
	apply(t, (struct recspec){"b@example.com", 1, T0, true, false, false, "alpha", "10.0.0.2"},
	      T0);
	apply(t, (struct recspec){"c@example.com", 1, T0, true, false, false, "alpha", "10.0.0.3"},
	      T0);
	/* a now hosts beta instead. */
	apply(t, (struct recspec){"a@example.com", 2, T0, true, false, false, "beta", "10.0.0.1"},
	      T0);
	got[0] = '\0';
	peertable_each_hosting(t, beta, 1, collect, got);
	ck_assert_str_eq(got, "a@example.com,");
	ck_assert_ptr_null(strstr(got, "b@"));
	/* b removed, c evicted by d. */
	ck_assert_int_eq(peertable_remove(t, "b@example.com"), 0);
	apply(t, (struct recspec){"e@example.com", 1, T0, true, false, false, "x", "10.0.0.5"}, T0);
	worst(t, "c@example.com");
	apply(t, (struct recspec){"d@example.com", 1, T0 + SEC, true, false, false, "alpha",
				  "10.0.0.4"},
	      T0 + SEC);
	ck_assert_ptr_null(peertable_get(t, "c@example.com"));
	got[0] = '\0';
	peertable_each_hosting(t, alpha, 1, collect, got);
	ck_assert_str_eq(got, "d@example.com,");
	/* Expiry leaves the index empty. */
	ck_assert_uint_eq(peertable_expire(t, T0 + 400 * SEC), 3);
	got[0] = '\0';
	peertable_each_hosting(t, alpha, 1, collect, got);
	peertable_each_hosting(t, beta, 1, collect, got);
	ck_assert_str_eq(got, "");
	peertable_free(t);
}
END_TEST

START_TEST(test_peertable_bounded_in_bytes_evicts_the_worst)
{
	struct peertable_config c = cfg_small();
	struct peertable *t;
	char email[64];

	/* Records of about 30 KiB of signed text against a 256 KiB bound. */
	c.max_entries = 1000;
	c.max_bytes = 256 * 1024;
	t = peertable_new(&c, &test_key, "self@example.com");
	for (int i = 0; i < 40; i++) {
		struct cm_signed_record s;

		snprintf(email, sizeof(email), "p%d@example.com", i);
		make_rec(&s, (struct recspec){email, 1, T0, true, false, false, "a,b,c", "10.0.0.1"});
		free(s.canonical);
		s.canonical = malloc(30 * 1024);
		memset(s.canonical, 'x', 30 * 1024 - 1);
		s.canonical[30 * 1024 - 1] = '\0';
		ck_assert_int_eq(peertable_apply(t, &s, fp(email, 0), T0), PEERTABLE_INSERTED);
		worst(t, email);
		cm_signed_record_clear(&s);
		ck_assert_uint_le(peertable_stats(t)->bytes, c.max_bytes);
	}
	ck_assert_uint_lt(peertable_count(t), 10);
	ck_assert_uint_gt(peertable_stats(t)->evicted, 30);
	ck_assert_ptr_nonnull(peertable_get(t, "p39@example.com"));
	peertable_free(t);
}
END_TEST

START_TEST(test_peertable_flood_into_a_full_table_ranks_once_per_batch)
{
	struct peertable *t = table_new(1000);
	char email[64];
	uint64_t before;

	for (int i = 0; i < 1000; i++) {
		snprintf(email, sizeof(email), "old%d@example.com", i);
		apply(t, (struct recspec){email, 1, T0, true, false, false, "r", "10.0.0.1"}, T0);
		worst(t, email);
	}
	/* Newcomers that each push out an old entry: one walk of the table per batch. */
	before = peertable_stats(t)->rankings;
	for (int i = 0; i < 1000; i++) {
		flood_email(email, sizeof(email), i);
		ck_assert_int_eq(apply(t, (struct recspec){email, 1, T0, true, true, false, "r",
							   "10.0.0.1"},
				       T0),
				 PEERTABLE_INSERTED);
	}
	ck_assert_uint_le(peertable_stats(t)->rankings - before, 1000 / 64 + 2);
	/* Newcomers that tie with the worst are refused without walking again. */
	before = peertable_stats(t)->rankings;
	for (int i = 1000; i < 2000; i++) {
		flood_email(email, sizeof(email), i);
		ck_assert_int_eq(apply(t, (struct recspec){email, 1, T0, true, true, false, "r",
							   "10.0.0.1"},
				       T0),
				 PEERTABLE_FULL);
	}
	ck_assert_uint_le(peertable_stats(t)->rankings - before, 1);
	peertable_free(t);
}
END_TEST

/* A session's hello, as the engine applies it. */
static enum peertable_result
hello(struct peertable *t, const char *email, bool dialled, int64_t now)
{
	struct cm_signed_record s;
	enum peertable_result r;

	make_rec(&s, (struct recspec){email, 1, now, true, false, false, "r", "10.0.0.1"});
	r = peertable_apply_hello(t, &s, fp(email, 0), dialled, now);
	cm_signed_record_clear(&s);
	if (r == PEERTABLE_INSERTED)
		ck_assert_int_eq(peertable_set_connected(t, email, true, dialled, now), 0);
	return r;
}

static bool
pin_verified(const struct peertable *t, const char *email)
{
	const char *e, *f;
	bool v;

	for (size_t c = 0; peertable_next_pin(t, &c, &e, &f, &v);)
		if (strcmp(e, email) == 0)
			return v;
	return false;
}

START_TEST(test_peertable_inbound_hellos_do_not_freeze_the_table)
{
	struct peertable *t = table_new(10);
	char email[64];

	/* Sybils dial in, say hello and leave: none of that proves anything. */
	for (int i = 0; i < 10; i++) {
		flood_email(email, sizeof(email), i);
		ck_assert_int_eq(hello(t, email, false, T0), PEERTABLE_INSERTED);
		ck_assert_int_eq(peertable_set_connected(t, email, false, false, T0 + SEC), 0);
		ck_assert(!pin_verified(t, email));
		worst(t, email);
	}
	/* An honest peer dialling in, and one known by gossip, still get in. */
	ck_assert_int_eq(hello(t, "honest@example.com", false, T0 + 2 * SEC), PEERTABLE_INSERTED);
	ck_assert_int_eq(apply(t, (struct recspec){"gossip@example.com", 1, T0 + 3 * SEC, true,
						   false, false, "r", "10.0.0.1"},
			       T0 + 3 * SEC),
			 PEERTABLE_INSERTED);
	worst(t, "gossip@example.com");
	/* Their pins left the store room: more newcomers keep coming in. */
	for (int i = 10; i < 40; i++) {
		flood_email(email, sizeof(email), i);
		ck_assert_int_eq(apply(t, (struct recspec){email, 1, T0 + i * SEC, true, false,
							   false, "r", "10.0.0.1"},
				       T0 + i * SEC),
				 PEERTABLE_INSERTED);
		worst(t, email);
	}
	ck_assert_ptr_nonnull(peertable_get(t, "honest@example.com"));
	peertable_free(t);
}
END_TEST

START_TEST(test_peertable_inbound_session_proves_its_pin_once_it_lasted)
{
	struct peertable *t = table_new(10);

	ck_assert_int_eq(hello(t, "in@example.com", false, T0), PEERTABLE_INSERTED);
	ck_assert_int_eq(peertable_set_connected(t, "in@example.com", true, false,
						 T0 + PEERTABLE_PROVE_MS - SEC),
			 0);
	ck_assert(!pin_verified(t, "in@example.com"));
	ck_assert_int_eq(peertable_set_connected(t, "in@example.com", true, false,
						 T0 + PEERTABLE_PROVE_MS),
			 0);
	ck_assert(pin_verified(t, "in@example.com"));
	/* A session we dialled proves it at once. */
	ck_assert_int_eq(hello(t, "out@example.com", true, T0), PEERTABLE_INSERTED);
	ck_assert(pin_verified(t, "out@example.com"));
	peertable_free(t);
}
END_TEST

START_TEST(test_peertable_inbound_proofs_keep_to_half_the_table)
{
	struct peertable *t = table_new(10);
	char email[64];
	size_t proven = 0;

	/* Sybils that hold their sessions long enough, one after another. */
	for (int i = 0; i < 10; i++) {
		int64_t at = T0 + i * PEERTABLE_PROVE_MS;

		flood_email(email, sizeof(email), i);
		ck_assert_int_eq(hello(t, email, false, at), PEERTABLE_INSERTED);
		ck_assert_int_eq(peertable_set_connected(t, email, false, false,
							 at + PEERTABLE_PROVE_MS),
				 0);
	}
	for (int i = 0; i < 10; i++) {
		flood_email(email, sizeof(email), i);
		proven += pin_verified(t, email);
	}
	ck_assert_uint_eq(proven, 10 / PEERTABLE_INBOUND_PROVEN_SHARE);
	ck_assert_uint_gt(peertable_stats(t)->proofs_capped, 0);
	/* The other half is the dialled peers': one is still proven and protected. */
	ck_assert_int_eq(hello(t, "out@example.com", true, T0 + 11 * PEERTABLE_PROVE_MS),
			 PEERTABLE_INSERTED);
	ck_assert(pin_verified(t, "out@example.com"));
	peertable_free(t);
}
END_TEST

START_TEST(test_peertable_hello_outranks_gossip_in_a_full_table)
{
	struct peertable *t = table_new(10);
	char email[64];

	for (int i = 0; i < 10; i++) {
		flood_email(email, sizeof(email), i);
		apply(t, (struct recspec){email, 1, T0, true, false, false, "r", "10.0.0.1"}, T0);
	}
	/* A tie with the worst is refused when it comes by gossip... */
	ck_assert_int_eq(apply(t, (struct recspec){"late@example.com", 1, T0, true, false, false,
						   "r", "10.0.0.1"},
			       T0),
			 PEERTABLE_FULL);
	/* ...but a peer that connects to us ranks as the neighbour it is. */
	ck_assert_int_eq(hello(t, "direct@example.com", false, T0), PEERTABLE_INSERTED);
	ck_assert_uint_eq(peertable_count(t), 10);
	peertable_free(t);
}
END_TEST

START_TEST(test_peertable_listed_pins_survive_a_flood_of_fresh_identities)
{
	struct peertable *t = table_new(10);
	char email[64], listed[64];

	for (int i = 0; i < 5; i++) {
		snprintf(listed, sizeof(listed), "listed%d@example.com", i);
		ck_assert_int_eq(peertable_pin(t, listed, fp(listed, 0), PEERTABLE_PIN_LISTED), 0);
	}
	/* Far more than the store holds, slowly enough that the turnover never stops them. */
	for (int i = 0; i < 200; i++) {
		flood_email(email, sizeof(email), i);
		apply(t, (struct recspec){email, 1, T0 + i * SEC, true, false, false, "r",
					  "10.0.0.1"},
		      T0 + i * SEC);
		worst(t, email);
	}
	ck_assert_uint_gt(peertable_stats(t)->pins_dropped, 100);
	for (int i = 0; i < 5; i++) {
		snprintf(listed, sizeof(listed), "listed%d@example.com", i);
		ck_assert_str_eq(peertable_pinned(t, listed), fp(listed, 0));
	}
	peertable_free(t);
}
END_TEST

START_TEST(test_peertable_gossip_pin_turnover_is_metered)
{
	struct peertable *t = table_new(10);
	char email[64];
	int in = 0;

	/* All at once: past the burst, a new gossip pin may not push out an old one. */
	for (int i = 0; i < 1000; i++) {
		flood_email(email, sizeof(email), i);
		if (apply(t, (struct recspec){email, 1, T0, true, false, false, "r", "10.0.0.1"},
			  T0) == PEERTABLE_INSERTED) {
			in++;
			worst(t, email);
		}
	}
	ck_assert_uint_le(peertable_stats(t)->pins_dropped, PEERTABLE_PIN_TURNOVER_PER_MIN);
	ck_assert_uint_gt(peertable_stats(t)->pins_metered, 0);
	ck_assert_int_le(in, 2 * 10 + PEERTABLE_PIN_TURNOVER_PER_MIN);
	/* A minute later the meter has refilled. */
	ck_assert_int_eq(apply(t, (struct recspec){"later@example.com", 1, T0 + 60 * SEC, true,
						   false, false, "r", "10.0.0.1"},
			       T0 + 60 * SEC),
			 PEERTABLE_INSERTED);
	peertable_free(t);
}
END_TEST

START_TEST(test_peertable_attestation_is_news_for_anti_entropy)
{
	struct peertable *t = table_new(10);
	const struct peertable_entry *out[4];
	uint64_t v, next;

	apply(t, (struct recspec){"boot@example.com", 1, T0, true, true, false, "r", "10.0.0.1"},
	      T0);
	v = peertable_version(t);
	ck_assert_uint_eq(peertable_changes_since(t, v, 4, NULL, NULL, out, &next), 0);
	ck_assert_int_eq(peertable_attest(t, "boot@example.com", fp("boot@example.com", 0), T0), 0);
	ck_assert_uint_eq(peertable_changes_since(t, v, 4, NULL, NULL, out, &next), 1);
	ck_assert_str_eq(out[0]->rec.record.email, "boot@example.com");
	/* Renewing it is no news. */
	v = peertable_version(t);
	ck_assert_int_eq(peertable_attest(t, "boot@example.com", fp("boot@example.com", 0),
					  T0 + SEC),
			 0);
	ck_assert_uint_eq(peertable_version(t), v);
	peertable_free(t);
}
END_TEST

START_TEST(test_peertable_byte_bound_counts_the_index_of_unique_names)
{
	struct peertable_config c = cfg_small();
	struct peertable *t;
	char email[64], name[64];
	size_t before, held;

	/* Small records whose every repository name is new: the index is most of the cost. */
	c.max_entries = 100000;
	c.max_bytes = 2 * 1024 * 1024;
	before = mallinfo2().uordblks;
	t = peertable_new(&c, &test_key, "self@example.com");
	for (int i = 0; i < 4000; i++) {
		struct cm_signed_record s;

		snprintf(email, sizeof(email), "p%d@example.com", i);
		make_rec(&s, (struct recspec){email, 1, T0, true, false, false, NULL, "10.0.0.1"});
		for (int j = 0; j < 64; j++) {
			snprintf(name, sizeof(name), "n%d.%d", i, j);
			ck_assert_int_eq(cm_repolist_append(&s.record.repositories, name, NULL), 0);
		}
		ck_assert_int_eq(peertable_apply(t, &s, fp(email, 0), T0), PEERTABLE_INSERTED);
		worst(t, email);
		cm_signed_record_clear(&s);
		ck_assert_uint_le(peertable_stats(t)->bytes, c.max_bytes);
	}
	ck_assert_uint_gt(peertable_stats(t)->evicted, 0);
	ck_assert_uint_le(mallinfo2().uordblks - before, PEERTABLE_BYTES_FACTOR * c.max_bytes);
	/* Everything charged is released with the entries. */
	held = peertable_count(t);
	ck_assert_uint_eq(peertable_expire(t, T0 + 400 * SEC), held);
	ck_assert_uint_eq(peertable_stats(t)->bytes, 0);
	peertable_free(t);
}
END_TEST

FB_CHECK_MAIN(.name = "peertable")
