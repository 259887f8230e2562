/* check_peertable_torrent.c - the peer table's torrent index: seeders by info hash, its bounds. */
#include <check.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/peertable.h"
#include "check_main.h"

#define SEC 1000LL
#define T0 (1700000000000LL)
#define IH_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define IH_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define SHA "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

static const struct cm_hash_key test_key = {7, 8};

static struct peertable *
table_new(size_t max_entries, size_t max_bytes)
{
	struct peertable_config c;
	struct peertable *t;

	peertable_config_default(&c);
	c.stale_ms = 60 * SEC;
	c.expire_ms = 300 * SEC;
	c.max_entries = max_entries;
	if (max_bytes > 0)
		c.max_bytes = max_bytes;
	t = peertable_new(&c, &test_key, "self@example.com");
	ck_assert_ptr_nonnull(t);
	return t;
}

/* A fingerprint per email (the table only compares them). */
static const char *
fp(const char *email)
{
	static char buf[CM_FINGERPRINT_LEN + 1];
	unsigned h = 2166136261u;

	for (const char *s = email; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	for (int i = 0; i < CM_FINGERPRINT_LEN; i += 8)
		snprintf(buf + i, 9, "%08x", h * (unsigned)(i + 1));
	return buf;
}

struct seedspec {
	const char *email;
	int64_t seq;
	bool broadcasting;
	bool leaving;
	const char *torrents; /* comma-separated info hashes */
	int torrent_port;
};

static void
make_rec(struct cm_signed_record *s, struct seedspec sp)
{
	struct cm_peer_record *r = &s->record;
	char list[1024];

	memset(s, 0, sizeof(*s));
	r->email = strdup(sp.email);
	r->peer_id = strdup("7c6d5e4f-3a2b-4c1d-8e9f-0a1b2c3d4e5f");
	r->seq = sp.seq;
	r->issued_at_ms = T0;
	r->is_broadcasting = sp.broadcasting;
	r->leaving = sp.leaving;
	if (sp.broadcasting) {
		r->port = 7443;
		ck_assert_int_eq(cm_strlist_append(&r->socket_addresses, "10.0.0.1"), 0);
	}
	r->torrent_port = sp.torrent_port;
	snprintf(list, sizeof(list), "%s", sp.torrents != NULL ? sp.torrents : "");
	for (char *tok = strtok(list, ","); tok != NULL; tok = strtok(NULL, ","))
		ck_assert_int_eq(cm_torrentlist_append(&r->torrents, tok, "big.bin", 7, SHA), 0);
	r->capabilities.max_peers = 8;
	s->public_certificate = strdup("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n");
	s->signature = strdup("c2ln");
}

static enum peertable_result
apply(struct peertable *t, struct seedspec sp)
{
	struct cm_signed_record s;
	enum peertable_result r;

	make_rec(&s, sp);
	r = peertable_apply(t, &s, fp(sp.email), T0);
	cm_signed_record_clear(&s);
	return r;
}

/* The seeders' emails, comma-terminated, in the order given. */
static void
seeders_text(const struct peertable *t, const char *info_hash, char *out, size_t size)
{
	struct peertable_seeder got[16];
	size_t n = peertable_torrent_seeders(t, info_hash, T0, got, 16);

	out[0] = '\0';
	for (size_t i = 0; i < n; i++)
		snprintf(out + strlen(out), size - strlen(out), "%s,",
			 got[i].entry->rec.record.email);
}

static bool
collect(const struct peertable_entry *e, void *arg)
{
	snprintf((char *)arg + strlen(arg), 1024 - strlen(arg), "%s,", e->rec.record.email);
	return true;
}

START_TEST(test_peertable_torrent_seeders_dialable_first_leaving_left_out)
{
	struct peertable *t = table_new(100, 0);
	struct peertable_seeder got[4];
	char text[1024];

	apply(t, (struct seedspec){"quiet@example.com", 1, false, false, IH_A, 0});
	apply(t, (struct seedspec){"noport@example.com", 1, true, false, IH_A, 0});
	apply(t, (struct seedspec){"loud@example.com", 1, true, false, IH_B "," IH_A, 6881});
	apply(t, (struct seedspec){"gone@example.com", 1, true, true, IH_A, 6881});
	apply(t, (struct seedspec){"other@example.com", 1, true, false, IH_B, 6881});
	seeders_text(t, IH_A, text, sizeof(text));
	/* loud can be dialled; noport and quiet only named (same score: email order). */
	ck_assert_str_eq(text, "loud@example.com,noport@example.com,quiet@example.com,");
	ck_assert_uint_eq(peertable_torrent_seeders(t, IH_A, T0, got, 1), 1);
	ck_assert_str_eq(got[0].torrent->info_hash, IH_A);
	ck_assert_str_eq(got[0].torrent->sha256, SHA);
	ck_assert_int_eq(got[0].torrent->size, 7);
	ck_assert_uint_eq(peertable_torrent_seeders(t, "cccccccccccccccccccccccccccccccccccccccc", T0,
						    got, 4),
			  0);
	peertable_free(t);
}
END_TEST

START_TEST(test_peertable_torrent_lookup_costs_the_seeders_not_the_table)
{
	struct peertable *t = table_new(5000, 0);
	char email[64], ih[CM_INFO_HASH_LEN + 1], got[1024] = "";
	uint64_t before;

	for (int i = 0; i < 2000; i++) {
		snprintf(email, sizeof(email), "p%d@example.com", i);
		snprintf(ih, sizeof(ih), "%040x", i % 1000);
		apply(t, (struct seedspec){email, 1, true, false, ih, 6881});
	}
	before = peertable_stats(t)->index_visits;
	snprintf(ih, sizeof(ih), "%040x", 17);
	peertable_each_seeding(t, ih, collect, got);
	ck_assert_uint_eq(peertable_stats(t)->index_visits - before, 2);
	ck_assert(strstr(got, "p17@example.com,") != NULL && strstr(got, "p1017@example.com,"));
	peertable_free(t);
}
END_TEST

START_TEST(test_peertable_torrent_listed_twice_is_one_seeder)
{
	struct peertable *t = table_new(100, 0);
	char got[1024] = "";

	apply(t, (struct seedspec){"a@example.com", 1, true, false, IH_A "," IH_B "," IH_A, 6881});
	peertable_each_seeding(t, IH_A, collect, got);
	ck_assert_str_eq(got, "a@example.com,");
	ck_assert_int_eq(peertable_remove(t, "a@example.com"), 0);
	got[0] = '\0';
	peertable_each_seeding(t, IH_A, collect, got);
	ck_assert_str_eq(got, "");
	peertable_free(t);
}
END_TEST

START_TEST(test_peertable_torrent_index_follows_replace_remove_expire)
{
	struct peertable *t = table_new(100, 0);
	char text[1024];

	apply(t, (struct seedspec){"a@example.com", 1, true, false, IH_A, 6881});
	apply(t, (struct seedspec){"b@example.com", 1, true, false, IH_A, 6881});
	apply(t, (struct seedspec){"c@example.com", 1, true, false, IH_A, 6881});
	/* a stopped seeding A and seeds B now. */
	ck_assert_int_eq(apply(t, (struct seedspec){"a@example.com", 2, true, false, IH_B, 6881}),
			 PEERTABLE_REPLACED);
	seeders_text(t, IH_A, text, sizeof(text));
	ck_assert_str_eq(text, "b@example.com,c@example.com,");
	seeders_text(t, IH_B, text, sizeof(text));
	ck_assert_str_eq(text, "a@example.com,");
	ck_assert_int_eq(peertable_remove(t, "b@example.com"), 0);
	seeders_text(t, IH_A, text, sizeof(text));
	ck_assert_str_eq(text, "c@example.com,");
	ck_assert_uint_eq(peertable_expire(t, T0 + 400 * SEC), 2);
	seeders_text(t, IH_A, text, sizeof(text));
	ck_assert_str_eq(text, "");
	seeders_text(t, IH_B, text, sizeof(text));
	ck_assert_str_eq(text, "");
	ck_assert_uint_eq(peertable_stats(t)->bytes, 0);
	peertable_free(t);
}
END_TEST

START_TEST(test_peertable_refuses_silent_record_with_a_torrent_port)
{
	struct peertable *t = table_new(100, 0);
	char text[1024];

	ck_assert_int_eq(apply(t, (struct seedspec){"q@example.com", 1, false, false, IH_A, 6881}),
			 PEERTABLE_INVALID);
	ck_assert_uint_eq(peertable_stats(t)->refused_silent, 1);
	ck_assert_ptr_null(peertable_get(t, "q@example.com"));
	/* Without the port it is a silent seeder: named, never located. */
	ck_assert_int_eq(apply(t, (struct seedspec){"q@example.com", 1, false, false, IH_A, 0}),
			 PEERTABLE_INSERTED);
	seeders_text(t, IH_A, text, sizeof(text));
	ck_assert_str_eq(text, "q@example.com,");
	peertable_free(t);
}
END_TEST

START_TEST(test_peertable_entry_info_carries_torrents_and_the_port_of_broadcasting_peers)
{
	struct peertable *t = table_new(100, 0);
	struct cm_peer_info info;

	apply(t, (struct seedspec){"a@example.com", 1, true, false, IH_A "," IH_B, 6881});
	apply(t, (struct seedspec){"q@example.com", 1, false, false, IH_A, 0});
	ck_assert_int_eq(peertable_entry_info(t, peertable_get(t, "a@example.com"), T0, &info), 0);
	ck_assert_int_eq(info.torrent_port, 6881);
	ck_assert_uint_eq(info.torrents.len, 2);
	ck_assert_str_eq(info.torrents.items[1].info_hash, IH_B);
	cm_peer_info_clear(&info);
	ck_assert_int_eq(peertable_entry_info(t, peertable_get(t, "q@example.com"), T0, &info), 0);
	ck_assert_int_eq(info.torrent_port, 0);
	ck_assert_uint_eq(info.socket_addresses.len, 0);
	ck_assert_uint_eq(info.torrents.len, 1);
	cm_peer_info_clear(&info);
	peertable_free(t);
}
END_TEST

START_TEST(test_peertable_byte_bound_counts_the_torrent_index)
{
	struct peertable *t;
	size_t max_bytes = 2 * 1024 * 1024, before, held;
	char email[64], ih[CM_INFO_HASH_LEN + 1];

	/* Small records whose every torrent is new: the index is most of the cost. */
	before = mallinfo2().uordblks;
	t = table_new(100000, max_bytes);
	for (int i = 0; i < 2000; i++) {
		struct cm_signed_record s;

		snprintf(email, sizeof(email), "p%d@example.com", i);
		make_rec(&s, (struct seedspec){email, 1, true, false, NULL, 6881});
		for (int j = 0; j < CM_MAX_TORRENTS; j++) {
			snprintf(ih, sizeof(ih), "%08x%032x", i, j);
			ck_assert_int_eq(cm_torrentlist_append(&s.record.torrents, ih, "t", j, SHA), 0);
		}
		ck_assert_int_eq(peertable_apply(t, &s, fp(email), T0), PEERTABLE_INSERTED);
		/* The newest goes next: a slow RTT makes it the worst. */
		ck_assert_int_eq(peertable_note_rtt(t, email, 1999), 0);
		cm_signed_record_clear(&s);
		ck_assert_uint_le(peertable_stats(t)->bytes, max_bytes);
	}
	ck_assert_uint_gt(peertable_stats(t)->evicted, 0);
	ck_assert_uint_le(mallinfo2().uordblks - before, PEERTABLE_BYTES_FACTOR * max_bytes);
	/* Everything charged is released with the entries. */
	held = peertable_count(t);
	ck_assert_uint_eq(peertable_expire(t, T0 + 400 * SEC), held);
	ck_assert_uint_eq(peertable_stats(t)->bytes, 0);
	peertable_free(t);
}
END_TEST

FB_CHECK_MAIN(.name = "peertable_torrent")
