/* check_overlay.c - the dial policy: backoffs, candidates, table picks, the duplicate rule. */
#define _GNU_SOURCE /* nftw, in testutil.h */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/overlay.h"
#include "check_main.h"
#include "testutil.h"

#define SEC 1000LL
#define T0 (1700000000000LL) /* a fixed wall-clock start, ms */

static uint64_t
counter_next(void *ctx)
{
	uint64_t *s = ctx;

	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static uint64_t rng_state;
static struct engine_rng rng = {counter_next, &rng_state};

/* An rng that always answers v. */
static uint64_t
fixed_next(void *ctx)
{
	return *(uint64_t *)ctx;
}

static struct overlay *
overlay_make(size_t neighbours)
{
	struct overlay_config c;
	struct overlay *o;

	overlay_config_default(&c);
	c.neighbours = neighbours;
	o = overlay_new(&c, "self@example.com");
	ck_assert_ptr_nonnull(o);
	rng_state = 42;
	return o;
}

static void
cand(struct overlay *o, const char *email, const char *addr1, const char *addr2)
{
	struct cm_strlist a = {0};

	ck_assert_int_eq(cm_strlist_append(&a, addr1), 0);
	if (addr2 != NULL)
		ck_assert_int_eq(cm_strlist_append(&a, addr2), 0);
	ck_assert_int_eq(overlay_candidate_set(o, email, &a, 7443, "ff"), 0);
	cm_strlist_clear(&a);
}

/* linked callback: ctx is a NULL-terminated array of linked emails. */
static bool
in_list(void *ctx, const char *email)
{
	for (const char *const *e = ctx; e != NULL && *e != NULL; e++)
		if (strcmp(*e, email) == 0)
			return true;
	return false;
}

static size_t
plan(const struct overlay *o, const struct peertable *t, size_t sessions, const char **linked,
     int64_t now, struct overlay_dial *d)
{
	return overlay_plan(o, t, sessions, in_list, linked, now, T0 + now, d);
}

/*
 * A table entry: a broadcasting peer at addr whose record claims bootstrap or
 * not; attested: a trusted bootstrap server listed it.
 */
static void
table_add_claim(struct peertable *t, const char *email, bool bootstrap, bool attested,
		const char *addr)
{
	struct cm_signed_record s;
	struct cm_peer_record *r = &s.record;
	char fp[CM_FINGERPRINT_LEN + 1];

	memset(&s, 0, sizeof(s));
	memset(fp, 'a' + (int)(strlen(email) % 6), CM_FINGERPRINT_LEN);
	fp[CM_FINGERPRINT_LEN] = '\0';
	r->email = strdup(email);
	r->peer_id = strdup("7c6d5e4f-3a2b-4c1d-8e9f-0a1b2c3d4e5f");
	r->seq = 1;
	r->issued_at_ms = T0;
	r->is_broadcasting = true;
	r->is_bootstrap = bootstrap;
	r->port = 7443;
	ck_assert_int_eq(cm_strlist_append(&r->socket_addresses, addr), 0);
	r->capabilities.max_peers = 8;
	s.public_certificate = strdup("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n");
	s.signature = strdup("c2ln");
	ck_assert_int_eq(peertable_apply(t, &s, fp, T0), PEERTABLE_INSERTED);
	if (attested)
		ck_assert_int_eq(peertable_attest(t, email, fp, T0), 0);
	cm_signed_record_clear(&s);
}

/* A bootstrap peer is one whose claim a trusted server attested. */
static void
table_add(struct peertable *t, const char *email, bool bootstrap, const char *addr)
{
	table_add_claim(t, email, bootstrap, bootstrap, addr);
}

START_TEST(test_backoff_doubles_from_one_second_to_sixty)
{
	/* A factor of exactly 1: the rng answers ms/2 for every wait ms. */
	struct overlay_backoff b = {0};
	int64_t want[] = {1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000};

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		uint64_t half = (uint64_t)want[i] / 2;
		struct engine_rng r = {fixed_next, &half};

		ck_assert_int_eq(overlay_backoff_next(&b, 100, &r), want[i]);
		ck_assert_int_eq(b.next_ms, 100 + want[i]);
	}
}
END_TEST

START_TEST(test_backoff_jitter_stays_within_half_and_one_and_a_half)
{
	struct overlay_backoff b = {0};

	rng_state = 7;
	for (int i = 0; i < 1000; i++) {
		int64_t base = i % 10 < 6 ? 1000LL << (i % 10) : 60000, w;

		b.fails = i % 10;
		w = overlay_backoff_next(&b, 0, &rng);
		ck_assert_int_ge(w, base / 2);
		ck_assert_int_lt(w, base + base / 2);
	}
}
END_TEST

START_TEST(test_backoff_reset_starts_again_from_one_second)
{
	struct overlay_backoff b = {0};
	uint64_t half = 500;
	struct engine_rng r = {fixed_next, &half};

	for (int i = 0; i < 5; i++)
		overlay_backoff_next(&b, 0, &r);
	ck_assert(overlay_backoff_waiting(&b, 1000));
	overlay_backoff_reset(&b);
	ck_assert(!overlay_backoff_waiting(&b, 0));
	ck_assert_int_eq(overlay_backoff_next(&b, 0, &r), 1000);
}
END_TEST

START_TEST(test_plan_dials_candidates_first)
{
	struct overlay *o = overlay_make(8);
	struct peertable *t = tu_peertable();
	struct overlay_dial d[OVERLAY_DIALS_PER_ROUND];

	table_add(t, "boot@example.com", true, "10.0.0.9");
	cand(o, "c1@example.com", "10.0.0.1", NULL);
	cand(o, "c2@example.com", "10.0.0.2", NULL);
	ck_assert_uint_eq(plan(o, t, 0, NULL, 0, d), 2);
	ck_assert(strcmp(d[0].email, "c1@example.com") == 0 ||
		  strcmp(d[0].email, "c2@example.com") == 0);
	ck_assert_str_ne(d[0].email, d[1].email);
	ck_assert(strcmp(d[1].email, "c1@example.com") == 0 ||
		  strcmp(d[1].email, "c2@example.com") == 0);
	ck_assert_str_eq(d[0].ip, strcmp(d[0].email, "c1@example.com") == 0 ? "10.0.0.1" : "10.0.0.2");
	ck_assert_int_eq(d[0].port, 7443);
	ck_assert_str_eq(d[0].fingerprint, "ff");
	overlay_free(o);
	peertable_free(t);
}
END_TEST

/* The first of 16 equal candidates that an agent called self dials. */
static void
first_dials(const char *self, char out[][32], size_t n)
{
	struct overlay_config c;
	struct overlay_dial d[OVERLAY_DIALS_PER_ROUND];
	struct overlay *o;
	char email[32], ip[16];

	overlay_config_default(&c);
	c.neighbours = n;
	o = overlay_new(&c, self);
	ck_assert_ptr_nonnull(o);
	for (int i = 0; i < 16; i++) {
		snprintf(email, sizeof(email), "c%02d@example.com", i);
		snprintf(ip, sizeof(ip), "10.0.1.%d", i + 1);
		cand(o, email, ip, NULL);
	}
	ck_assert_uint_eq(plan(o, NULL, 0, NULL, 0, d), n);
	for (size_t i = 0; i < n; i++)
		snprintf(out[i], 32, "%s", d[i].email);
	overlay_free(o);
}

START_TEST(test_agents_order_the_same_candidates_each_their_own_way)
{
	char a[2][32], a2[2][32], b[2][32], c[2][32];

	first_dials("alice@example.com", a, 2);
	first_dials("alice@example.com", a2, 2);
	first_dials("bob@example.com", b, 2);
	first_dials("carol@example.com", c, 2);
	/* One agent's order is stable from round to round... */
	ck_assert_str_eq(a[0], a2[0]);
	ck_assert_str_eq(a[1], a2[1]);
	/* ...and not everyone's: a listing's first peers are not dialled by all. */
	ck_assert(strcmp(a[0], b[0]) != 0 || strcmp(a[0], c[0]) != 0 ||
		  strcmp(a[1], b[1]) != 0 || strcmp(a[1], c[1]) != 0);
}
END_TEST

START_TEST(test_plan_prefers_bootstrap_peers_of_the_table)
{
	struct overlay *o = overlay_make(8);
	struct peertable *t = tu_peertable();
	struct overlay_dial d[OVERLAY_DIALS_PER_ROUND];

	table_add(t, "plain1@example.com", false, "10.0.0.1");
	table_add(t, "boot@example.com", true, "10.0.0.2");
	table_add(t, "plain2@example.com", false, "10.0.0.3");
	cand(o, "c1@example.com", "10.0.0.4", NULL);
	ck_assert_uint_eq(plan(o, t, 0, NULL, 0, d), 2);
	ck_assert_str_eq(d[0].email, "c1@example.com");
	ck_assert_str_eq(d[1].email, "boot@example.com");
	ck_assert_str_eq(d[1].ip, "10.0.0.2");
	overlay_free(o);
	peertable_free(t);
}
END_TEST

START_TEST(test_plan_gives_a_bootstrap_claim_without_attestation_no_preference)
{
	struct overlay *o = overlay_make(8);
	struct peertable *t = tu_peertable();
	struct overlay_dial d[OVERLAY_DIALS_PER_ROUND];

	table_add(t, "plain@example.com", false, "10.0.0.1");
	table_add_claim(t, "sybil@example.com", true, false, "10.0.0.2");
	/* The honest peer scores better; a mere claim must not put the Sybil first. */
	peertable_note_rtt(t, "plain@example.com", 10);
	peertable_note_rtt(t, "sybil@example.com", 1500);
	ck_assert_uint_eq(plan(o, t, 0, NULL, 0, d), 2);
	ck_assert_str_eq(d[0].email, "plain@example.com");
	overlay_free(o);
	peertable_free(t);
}
END_TEST

START_TEST(test_plan_silent_dials_only_attested_bootstrap_peers)
{
	struct overlay *o = overlay_make(8);
	struct peertable *t = tu_peertable();
	struct overlay_dial d[OVERLAY_DIALS_PER_ROUND];

	table_add(t, "plain@example.com", false, "10.0.0.1");
	table_add_claim(t, "sybil@example.com", true, false, "10.0.0.2");
	table_add(t, "boot@example.com", true, "10.0.0.3");
	overlay_set_silent(o, true);
	/* Our address reaches whoever we dial: only a bootstrap peer a server vouched for. */
	ck_assert_uint_eq(plan(o, t, 0, NULL, 0, d), 1);
	ck_assert_str_eq(d[0].email, "boot@example.com");
	overlay_set_silent(o, false);
	ck_assert_uint_eq(plan(o, t, 0, NULL, 0, d), 2);
	overlay_free(o);
	peertable_free(t);
}
END_TEST

START_TEST(test_dial_for_a_lookup_keeps_the_rounds_rules)
{
	struct overlay *o = overlay_make(8);
	struct peertable *t = tu_peertable();
	struct overlay_dial d;

	table_add(t, "plain@example.com", false, "10.0.0.1");
	table_add(t, "boot@example.com", true, "10.0.0.3");
	ck_assert(overlay_dial_for(o, t, peertable_get(t, "plain@example.com"), 0, T0, &d));
	ck_assert_str_eq(d.email, "plain@example.com");
	ck_assert_str_eq(d.ip, "10.0.0.1");
	ck_assert_int_eq(d.port, 7443);
	ck_assert_uint_eq(strlen(d.fingerprint), CM_FINGERPRINT_LEN);
	overlay_dial_failed(o, "plain@example.com", 0, &rng);
	ck_assert(!overlay_dial_for(o, t, peertable_get(t, "plain@example.com"), 0, T0, &d));
	ck_assert(overlay_dial_for(o, t, peertable_get(t, "plain@example.com"), 60 * SEC, T0, &d));
	ck_assert_str_eq(d.ip, "10.0.0.1"); /* its one address, whatever failed */
	/* A silent agent's address reaches whoever it dials, for a lookup too. */
	overlay_set_silent(o, true);
	ck_assert(!overlay_dial_for(o, t, peertable_get(t, "plain@example.com"), 60 * SEC, T0, &d));
	ck_assert(overlay_dial_for(o, t, peertable_get(t, "boot@example.com"), 60 * SEC, T0, &d));
	overlay_free(o);
	peertable_free(t);
}
END_TEST

START_TEST(test_plan_stops_at_neighbours_wanted)
{
	struct overlay *o = overlay_make(3);
	struct overlay_dial d[OVERLAY_DIALS_PER_ROUND];

	cand(o, "c1@example.com", "10.0.0.1", NULL);
	cand(o, "c2@example.com", "10.0.0.2", NULL);
	ck_assert_uint_eq(plan(o, NULL, 2, NULL, 0, d), 1);
	ck_assert_uint_eq(plan(o, NULL, 3, NULL, 0, d), 0);
	overlay_free(o);
}
END_TEST

START_TEST(test_plan_never_dials_self)
{
	struct overlay *o = overlay_make(8);
	struct peertable *t = tu_peertable();
	struct overlay_dial d[OVERLAY_DIALS_PER_ROUND];
	struct cm_strlist a = {0};

	ck_assert_int_eq(cm_strlist_append(&a, "10.0.0.1"), 0);
	ck_assert_int_eq(overlay_candidate_set(o, "self@example.com", &a, 7443, "ff"), -1);
	cm_strlist_clear(&a);
	ck_assert_uint_eq(plan(o, t, 0, NULL, 0, d), 0);
	overlay_free(o);
	peertable_free(t);
}
END_TEST

START_TEST(test_plan_skips_linked_peers)
{
	struct overlay *o = overlay_make(8);
	struct peertable *t = tu_peertable();
	struct overlay_dial d[OVERLAY_DIALS_PER_ROUND];
	const char *linked[] = {"c1@example.com", "boot@example.com", NULL};

	table_add(t, "boot@example.com", true, "10.0.0.9");
	cand(o, "c1@example.com", "10.0.0.1", NULL);
	ck_assert_uint_eq(plan(o, t, 2, linked, 0, d), 0);
	overlay_free(o);
	peertable_free(t);
}
END_TEST

START_TEST(test_plan_skips_peers_in_backoff_until_it_ends)
{
	struct overlay *o = overlay_make(8);
	struct overlay_dial d[OVERLAY_DIALS_PER_ROUND];

	cand(o, "c1@example.com", "10.0.0.1", NULL);
	overlay_dial_failed(o, "c1@example.com", 0, &rng);
	ck_assert(overlay_waiting(o, "c1@example.com", 0));
	ck_assert_uint_eq(plan(o, NULL, 0, NULL, 0, d), 0);
	ck_assert_uint_eq(plan(o, NULL, 0, NULL, 1500, d), 1);
	overlay_free(o);
}
END_TEST

START_TEST(test_dial_ok_ends_the_backoff)
{
	struct overlay *o = overlay_make(8);

	overlay_dial_failed(o, "c1@example.com", 0, &rng);
	overlay_dial_failed(o, "c1@example.com", 0, &rng);
	overlay_dial_ok(o, "c1@example.com");
	ck_assert(!overlay_waiting(o, "c1@example.com", 0));
	overlay_free(o);
}
END_TEST

START_TEST(test_plan_rotates_addresses_as_dials_fail)
{
	struct overlay *o = overlay_make(8);
	struct overlay_dial d[OVERLAY_DIALS_PER_ROUND];
	int64_t now = 0;

	cand(o, "c1@example.com", "10.0.0.1", "10.0.0.2");
	ck_assert_uint_eq(plan(o, NULL, 0, NULL, now, d), 1);
	ck_assert_str_eq(d[0].ip, "10.0.0.1");
	overlay_dial_failed(o, "c1@example.com", now, &rng);
	now += 120 * SEC;
	ck_assert_uint_eq(plan(o, NULL, 0, NULL, now, d), 1);
	ck_assert_str_eq(d[0].ip, "10.0.0.2");
	overlay_dial_failed(o, "c1@example.com", now, &rng);
	now += 120 * SEC;
	ck_assert_uint_eq(plan(o, NULL, 0, NULL, now, d), 1);
	ck_assert_str_eq(d[0].ip, "10.0.0.1");
	overlay_free(o);
}
END_TEST

START_TEST(test_candidate_set_updates_in_place)
{
	struct overlay *o = overlay_make(8);
	struct overlay_dial d[OVERLAY_DIALS_PER_ROUND];

	cand(o, "c1@example.com", "10.0.0.1", NULL);
	cand(o, "c2@example.com", "10.0.0.2", NULL);
	cand(o, "c1@example.com", "10.0.0.5", NULL);
	ck_assert_uint_eq(plan(o, NULL, 0, NULL, 0, d), 2);
	ck_assert_str_eq(d[0].email, "c1@example.com");
	ck_assert_str_eq(d[0].ip, "10.0.0.5");
	overlay_candidates_clear(o);
	ck_assert_uint_eq(plan(o, NULL, 0, NULL, 0, d), 0);
	overlay_free(o);
}
END_TEST

START_TEST(test_candidates_are_kept_up_to_their_cap_and_refused_past_it)
{
	struct overlay *o = overlay_make(8);
	struct cm_strlist a = {0};
	char email[64];

	ck_assert_int_eq(cm_strlist_append(&a, "10.0.0.1"), 0);
	for (int i = 0; i < OVERLAY_MAX_CANDIDATES; i++) {
		snprintf(email, sizeof(email), "c%d@example.com", i);
		ck_assert_int_eq(overlay_candidate_set(o, email, &a, 7443, "ff"), 0);
	}
	ck_assert_int_eq(overlay_candidate_set(o, "one-more@example.com", &a, 7443, "ff"), -1);
	/* Full, a known candidate is still updated in place. */
	ck_assert_int_eq(overlay_candidate_set(o, "c0@example.com", &a, 7444, "ff"), 0);
	cm_strlist_clear(&a);
	overlay_free(o);
}
END_TEST

START_TEST(test_a_backoff_past_the_cap_takes_the_first_ones_place)
{
	struct overlay *o = overlay_make(8);
	char email[64];

	for (int i = 0; i <= OVERLAY_MAX_BACKOFFS; i++) {
		snprintf(email, sizeof(email), "c%d@example.com", i);
		overlay_dial_failed(o, email, 0, &rng);
	}
	ck_assert(!overlay_waiting(o, "c0@example.com", 0));
	ck_assert(overlay_waiting(o, "c1@example.com", 0));
	snprintf(email, sizeof(email), "c%d@example.com", OVERLAY_MAX_BACKOFFS);
	ck_assert(overlay_waiting(o, email, 0));
	overlay_free(o);
}
END_TEST

START_TEST(test_duplicate_keeps_the_session_the_smaller_email_dialled)
{
	/* a < b: a's outbound (b's inbound) survives on both sides. */
	ck_assert(overlay_keep_new_session("a@example.com", "b@example.com", true));
	ck_assert(!overlay_keep_new_session("a@example.com", "b@example.com", false));
	ck_assert(overlay_keep_new_session("b@example.com", "a@example.com", false));
	ck_assert(!overlay_keep_new_session("b@example.com", "a@example.com", true));
}
END_TEST

START_TEST(test_overlay_free_accepts_null)
{
	overlay_free(NULL);
}
END_TEST

FB_CHECK_MAIN(.name = "overlay")
