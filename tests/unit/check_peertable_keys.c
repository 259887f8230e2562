/* check_peertable_keys.c - repository keys: the hosts a table keeps for lookups, whom a lookup asks. */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/peertable.h"
#include "check_main.h"

#define SEC 1000LL
#define T0 (1700000000000LL)
#define SELF_POS 0x8000000000000000ULL

static const struct cm_hash_key test_key = {7, 8};

/* A fingerprint whose first 64 bits, the position among keys, are pos. */
static const char *
fp_at(uint64_t pos)
{
	static char buf[4][CM_FINGERPRINT_LEN + 1];
	static int n;
	char *p = buf[n++ % 4];

	snprintf(p, CM_FINGERPRINT_LEN + 1, "%016" PRIx64 "%048x", pos, 0);
	return p;
}

/* A position per i, spread over the key space. */
static uint64_t
spread(uint64_t i)
{
	uint64_t z = (i + 1) * 0x9e3779b97f4a7c15ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	return z ^ (z >> 31);
}

static struct peertable *
table_new(size_t max_entries)
{
	struct peertable_config c;
	struct peertable *t;

	peertable_config_default(&c);
	c.stale_ms = 60 * SEC;
	c.expire_ms = 300 * SEC;
	c.max_entries = max_entries;
	t = peertable_new(&c, &test_key, "self@example.com");
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(peertable_set_self_fingerprint(t, fp_at(SELF_POS)), 0);
	return t;
}

/* Applies the record of peer i at pos: broadcasting with an address or silent, hosting repo. */
static enum peertable_result
apply_at(struct peertable *t, int i, uint64_t pos, bool broadcasting, bool leaving, int64_t issued,
	 const char *repo)
{
	struct cm_signed_record s;
	struct cm_peer_record *r = &s.record;
	char email[64];
	enum peertable_result res;

	memset(&s, 0, sizeof(s));
	snprintf(email, sizeof(email), "p%d@example.com", i);
	r->email = strdup(email);
	r->peer_id = strdup("7c6d5e4f-3a2b-4c1d-8e9f-0a1b2c3d4e5f");
	r->seq = 1;
	r->issued_at_ms = issued;
	r->is_broadcasting = broadcasting;
	r->leaving = leaving;
	if (broadcasting) {
		r->port = 7443;
		ck_assert_int_eq(cm_strlist_append(&r->socket_addresses, "10.0.0.1"), 0);
	}
	if (repo != NULL)
		ck_assert_int_eq(cm_repolist_append(&r->repositories, repo, NULL), 0);
	s.public_certificate = strdup("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n");
	s.signature = strdup("c2ln");
	res = peertable_apply(t, &s, fp_at(pos), T0);
	cm_signed_record_clear(&s);
	return res;
}

/* The first name "prefix-N" the table is (kept) or is not responsible for. */
static const char *
name_where(const struct peertable *t, const char *prefix, bool kept)
{
	static char name[2][64];
	static int n;
	char *p = name[n++ % 2];

	for (int i = 0; i < 100000; i++) {
		snprintf(p, 64, "%s-%d", prefix, i);
		if (peertable_responsible(t, p) == kept)
			return p;
	}
	ck_abort_msg("no such name");
	return NULL;
}

START_TEST(test_peertable_keys_small_table_is_responsible_for_every_key)
{
	struct peertable *t = table_new(100);

	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(apply_at(t, i, spread(i), true, false, T0, NULL), PEERTABLE_INSERTED);
	/* Fewer than PEERTABLE_KEY_REPLICAS peers known: none can be nearer any key. */
	ck_assert(peertable_responsible(t, "alpha"));
	ck_assert(peertable_responsible(t, "beta"));
	peertable_free(t);
}
END_TEST

START_TEST(test_peertable_keys_responsibility_narrows_as_nearer_peers_arrive)
{
	struct peertable *t = table_new(100);

	ck_assert(peertable_responsible(t, "alpha"));
	/* 16 peers sharing 59 or more bits with us: now only keys that near are ours. */
	for (int i = 1; i <= PEERTABLE_KEY_REPLICAS; i++)
		ck_assert_int_eq(apply_at(t, i, SELF_POS ^ (uint64_t)i, true, false, T0, NULL),
				 PEERTABLE_INSERTED);
	ck_assert(!peertable_responsible(t, "alpha"));
	ck_assert(!peertable_responsible(t, "beta"));
	peertable_free(t);
}
END_TEST

START_TEST(test_peertable_keys_silent_and_leaving_peers_do_not_narrow_responsibility)
{
	struct peertable *t = table_new(100);

	/* Nobody can ask them: they are no one's alternative to us. */
	for (int i = 1; i <= PEERTABLE_KEY_REPLICAS; i++)
		ck_assert_int_eq(apply_at(t, i, SELF_POS ^ (uint64_t)i, i % 2 == 0, i % 2 == 0, T0,
					  NULL),
				 PEERTABLE_INSERTED);
	ck_assert(peertable_responsible(t, "alpha"));
	peertable_free(t);
}
END_TEST

START_TEST(test_peertable_keys_full_table_makes_room_for_a_host_of_a_key_it_keeps)
{
	struct peertable *t = table_new(40);
	const char *kept, *other;

	for (int i = 0; i < 40; i++)
		ck_assert_int_eq(apply_at(t, i, spread(i), true, false, T0, NULL), PEERTABLE_INSERTED);
	kept = name_where(t, "k", true);
	other = name_where(t, "o", false);
	/* A host of another key ranks as every gossip entry: the worst candidate, refused. */
	ck_assert_int_eq(apply_at(t, 100, spread(100), true, false, T0, other), PEERTABLE_FULL);
	ck_assert_int_eq(apply_at(t, 101, spread(101), false, false, T0, kept), PEERTABLE_INSERTED);
	ck_assert_uint_eq(peertable_count(t), 40);
	ck_assert_uint_eq(peertable_stats(t)->evicted, 1);
	ck_assert_ptr_nonnull(peertable_get(t, "p101@example.com"));
	peertable_free(t);
}
END_TEST

START_TEST(test_peertable_keys_keeps_at_most_a_share_of_the_table_for_keys)
{
	struct peertable *t = table_new(40);
	char repo[32];
	size_t kept = 0;

	/* Silent hosts narrow nothing: without the share every one of them would be kept. */
	for (int i = 0; i < 40; i++) {
		snprintf(repo, sizeof(repo), "c-%d", i);
		ck_assert_int_eq(apply_at(t, i, spread(i), false, false, T0, repo), PEERTABLE_INSERTED);
	}
	for (int i = 0; i < 40; i++) {
		snprintf(repo, sizeof(repo), "c-%d", i);
		kept += peertable_responsible(t, repo);
	}
	ck_assert_uint_ge(kept, 1);
	ck_assert_uint_le(kept, 40 / PEERTABLE_KEYED_SHARE);
	peertable_free(t);
}
END_TEST

START_TEST(test_peertable_keys_nearest_lists_online_broadcasting_peers_nearest_the_key_first)
{
	struct peertable *t = table_new(100);
	uint64_t key = peertable_repo_key("alpha");
	const struct peertable_entry *out[8];

	ck_assert_int_eq(apply_at(t, 1, key ^ 0x10000, true, false, T0, NULL), PEERTABLE_INSERTED);
	ck_assert_int_eq(apply_at(t, 2, key ^ 0x1, true, false, T0, NULL), PEERTABLE_INSERTED);
	ck_assert_int_eq(apply_at(t, 3, key ^ 0x100, true, false, T0, NULL), PEERTABLE_INSERTED);
	/* Nearer, but silent, leaving or stale: not asked. */
	ck_assert_int_eq(apply_at(t, 4, key, false, false, T0, NULL), PEERTABLE_INSERTED);
	ck_assert_int_eq(apply_at(t, 5, key ^ 0x2, true, true, T0, NULL), PEERTABLE_INSERTED);
	ck_assert_int_eq(apply_at(t, 6, key ^ 0x4, true, false, T0 - 120 * SEC, NULL),
			 PEERTABLE_INSERTED);
	ck_assert_uint_eq(peertable_nearest(t, "alpha", T0, out, 2), 2);
	ck_assert_str_eq(out[0]->rec.record.email, "p2@example.com");
	ck_assert_str_eq(out[1]->rec.record.email, "p3@example.com");
	ck_assert_uint_eq(peertable_nearest(t, "alpha", T0, out, 8), 3);
	ck_assert_str_eq(out[2]->rec.record.email, "p1@example.com");
	peertable_free(t);
}
END_TEST

START_TEST(test_peertable_keys_bad_self_fingerprint_is_refused)
{
	struct peertable *t = table_new(10);

	ck_assert_int_eq(peertable_set_self_fingerprint(t, "not hex at all, not at all"), -1);
	ck_assert_int_eq(peertable_set_self_fingerprint(t, "abc"), -1);
	peertable_free(t);
}
END_TEST

FB_CHECK_MAIN(.name = "peertable_keys")
