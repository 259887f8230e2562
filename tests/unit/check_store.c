/* check_store.c - the peer table on disk: atomic save, strictly checked load. */
#define _GNU_SOURCE /* nftw */
#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/store.h"
#include "fb/codec.h"
#include "fb/file.h"
#include "fb/identity.h"
#include "fb/timeutil.h"
#include "check_main.h"
#include "testutil.h"

#define SEC 1000LL

static char store_path[128];

static void
setup(void)
{
	tu_mkdir("check_store");
	snprintf(store_path, sizeof(store_path), "%s/peers.json", tu_dir);
}

static void
teardown(void)
{
	tu_rmdir();
}

/* Signs a broadcasting record for id, verifies it as a receiver would and applies it to t. */
static void
apply_signed(struct peertable *t, struct cm_identity *id, int64_t issued_ms, int64_t now_ms)
{
	struct cm_peer_record r = {0};
	struct cm_signed_record s;
	char fingerprint[CM_FINGERPRINT_LEN + 1];
	struct cm_err e = {0};

	ck_assert_ptr_nonnull(r.email = strdup(cm_identity_email(id)));
	ck_assert_ptr_nonnull(r.peer_id = strdup("7c6d5e4f-3a2b-4c1d-8e9f-0a1b2c3d4e5f"));
	r.seq = 3;
	r.issued_at_ms = issued_ms;
	r.is_broadcasting = true;
	r.port = 7443;
	r.capabilities.max_peers = 8;
	ck_assert_int_eq(cm_strlist_append(&r.socket_addresses, "192.0.2.7"), 0);
	ck_assert_int_eq(cm_repolist_append(&r.repositories, "linux", NULL), 0);
	ck_assert_msg(cm_record_sign(&r, id, &s, &e) == 0, "%s", e.msg);
	ck_assert_msg(cm_record_verify(&s, fingerprint, &e) == 0, "%s", e.msg);
	ck_assert_int_eq(peertable_apply(t, &s, fingerprint, now_ms), PEERTABLE_INSERTED);
	cm_signed_record_clear(&s);
	cm_peer_record_clear(&r);
}

/* A table of n peers (n <= 3) signed by fresh identities, saved to store_path. */
static struct peertable *
saved_table(size_t n, int64_t now_ms)
{
	static const char *const emails[] = {"alice@example.com", "bob@example.com",
					     "carol@example.com"};
	struct peertable *t = tu_peertable();

	for (size_t i = 0; i < n; i++) {
		struct cm_identity *id = tu_identity(emails[i]);

		apply_signed(t, id, now_ms - (int64_t)(i + 1) * SEC, now_ms);
		cm_identity_free(id);
	}
	ck_assert_int_eq(pa_store_save(store_path, t, now_ms), 0);
	return t;
}

/* Rewrites store_path after edit() changed its JSON. */
static void
edit_store(void (*edit)(json_t *doc))
{
	json_error_t jerr;
	json_t *doc = json_load_file(store_path, 0, &jerr);

	ck_assert_msg(doc != NULL, "%s", jerr.text);
	edit(doc);
	ck_assert_int_eq(json_dump_file(doc, store_path, JSON_COMPACT), 0);
	json_decref(doc);
}

static json_t *
peer_at(json_t *doc, size_t i)
{
	json_t *p = json_array_get(json_object_get(doc, "peers"), i);

	ck_assert_ptr_nonnull(p);
	return p;
}

static void
write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

START_TEST(test_pa_store_load_after_save_restores_every_entry_stale)
{
	int64_t now = cm_time_wall_ms();
	struct peertable *saved = saved_table(3, now), *loaded = tu_peertable();
	const struct peertable_entry *a, *b;
	size_t cursor = 0, skipped = 99;

	ck_assert_int_eq(pa_store_load(store_path, loaded, now + SEC, &skipped), 3);
	ck_assert_uint_eq(skipped, 0);
	ck_assert_uint_eq(peertable_count(loaded), 3);
	while ((a = peertable_next(saved, &cursor)) != NULL) {
		b = peertable_get(loaded, a->rec.record.email);
		ck_assert_ptr_nonnull(b);
		ck_assert_str_eq(b->fingerprint, a->fingerprint);
		ck_assert_str_eq(b->rec.canonical, a->rec.canonical);
		ck_assert_str_eq(b->rec.signature, a->rec.signature);
		ck_assert_int_eq(b->rec.record.seq, a->rec.record.seq);
		ck_assert_int_eq(b->discovered_at_ms, a->discovered_at_ms);
		ck_assert_int_eq(b->last_seen_ms, a->last_seen_ms);
		ck_assert_int_eq(peertable_entry_status(loaded, b, now + SEC), CM_PEER_STALE);
		ck_assert_int_eq(peertable_entry_state(loaded, b, now + SEC), CM_STATE_STALE);
	}
	peertable_free(saved);
	peertable_free(loaded);
}
END_TEST

START_TEST(test_pa_store_save_empty_table_loads_nothing)
{
	int64_t now = cm_time_wall_ms();
	struct peertable *saved = saved_table(0, now), *loaded = tu_peertable();

	ck_assert_int_eq(pa_store_load(store_path, loaded, now, NULL), 0);
	ck_assert_uint_eq(peertable_count(loaded), 0);
	peertable_free(saved);
	peertable_free(loaded);
}
END_TEST

static void
swap_signature(json_t *doc)
{
	json_t *other = json_object_get(json_object_get(peer_at(doc, 1), "signed"), "signature");

	/* A well-formed signature by another key: only verification can catch it. */
	ck_assert_int_eq(json_object_set(json_object_get(peer_at(doc, 0), "signed"), "signature",
					 other),
			 0);
}

START_TEST(test_pa_store_load_skips_and_counts_tampered_signature)
{
	int64_t now = cm_time_wall_ms();
	struct peertable *saved = saved_table(2, now), *loaded = tu_peertable();
	size_t skipped = 0;

	edit_store(swap_signature);
	ck_assert_int_eq(pa_store_load(store_path, loaded, now, &skipped), 1);
	ck_assert_uint_eq(skipped, 1);
	ck_assert_uint_eq(peertable_count(loaded), 1);
	peertable_free(saved);
	peertable_free(loaded);
}
END_TEST

static void
change_fingerprint(json_t *doc)
{
	ck_assert_int_eq(json_object_set_new(peer_at(doc, 0), "fingerprint",
					     json_string("0000000000000000000000000000000000000000"
							 "000000000000000000000000")),
			 0);
}

START_TEST(test_pa_store_load_skips_fingerprint_not_the_certificates)
{
	int64_t now = cm_time_wall_ms();
	struct peertable *saved = saved_table(2, now), *loaded = tu_peertable();
	size_t skipped = 0;

	edit_store(change_fingerprint);
	ck_assert_int_eq(pa_store_load(store_path, loaded, now, &skipped), 1);
	ck_assert_uint_eq(skipped, 1);
	peertable_free(saved);
	peertable_free(loaded);
}
END_TEST

static void
break_last_seen(json_t *doc)
{
	json_t *bad = json_string("yesterday");

	ck_assert_int_eq(json_object_set_new(peer_at(doc, 1), "last_seen", bad), 0);
}

START_TEST(test_pa_store_load_skips_bad_time)
{
	int64_t now = cm_time_wall_ms();
	struct peertable *saved = saved_table(2, now), *loaded = tu_peertable();
	size_t skipped = 0;

	edit_store(break_last_seen);
	ck_assert_int_eq(pa_store_load(store_path, loaded, now, &skipped), 1);
	ck_assert_uint_eq(skipped, 1);
	peertable_free(saved);
	peertable_free(loaded);
}
END_TEST

START_TEST(test_pa_store_load_skips_entries_expired_since_saved)
{
	int64_t now = cm_time_wall_ms();
	struct peertable *saved = saved_table(2, now), *loaded = tu_peertable();
	struct peertable_config tc;
	size_t skipped = 0;

	peertable_config_default(&tc);
	ck_assert_int_eq(pa_store_load(store_path, loaded, now + tc.expire_ms + SEC, &skipped), 0);
	ck_assert_uint_eq(skipped, 2);
	ck_assert_uint_eq(peertable_count(loaded), 0);
	peertable_free(saved);
	peertable_free(loaded);
}
END_TEST

START_TEST(test_pa_store_pins_outlive_their_entries_across_a_restart)
{
	int64_t now = cm_time_wall_ms();
	struct peertable *saved = tu_peertable(), *loaded = tu_peertable();
	struct cm_identity *real = tu_identity("real@example.com"), *other;
	const char *fp_real;

	/* real was met directly (a verified pin), then its entry went (evicted or expired). */
	apply_signed(saved, real, now - SEC, now);
	fp_real = peertable_pinned(saved, "real@example.com");
	ck_assert_int_eq(peertable_set_connected(saved, "real@example.com", true, true, now), 0);
	ck_assert_int_eq(peertable_set_connected(saved, "real@example.com", false, true, now), 0);
	ck_assert_int_eq(peertable_expire(saved, now + 1000000 * SEC), 1);
	ck_assert_ptr_null(peertable_get(saved, "real@example.com"));
	ck_assert_int_eq(pa_store_save(store_path, saved, now), 0);
	ck_assert_int_eq(pa_store_load(store_path, loaded, now, NULL), 0);
	ck_assert_str_eq(peertable_pinned(loaded, "real@example.com"), fp_real);
	/* After the restart, someone else's certificate for that email is still refused. */
	other = tu_identity("real@example.com");
	{
		struct peertable *probe = tu_peertable();
		const char *fp_other;

		apply_signed(probe, other, now - SEC, now);
		fp_other = peertable_pinned(probe, "real@example.com");
		ck_assert_str_ne(fp_other, fp_real);
		ck_assert_int_eq(peertable_apply(loaded, &peertable_get(probe, "real@example.com")->rec,
						 fp_other, now),
				 PEERTABLE_PIN_MISMATCH);
		peertable_free(probe);
	}
	cm_identity_free(real);
	cm_identity_free(other);
	peertable_free(saved);
	peertable_free(loaded);
}
END_TEST

static void
make_silent_with_address(json_t *doc)
{
	json_t *rec = json_object_get(json_object_get(peer_at(doc, 0), "signed"), "record");

	ck_assert_ptr_nonnull(rec);
	json_object_set_new(rec, "is_broadcasting", json_false());
}

START_TEST(test_pa_store_load_refuses_silent_record_with_addresses)
{
	int64_t now = cm_time_wall_ms();
	struct peertable *saved = tu_peertable(), *loaded = tu_peertable();
	struct cm_identity *id = tu_identity("silent@example.com");
	struct cm_peer_record r = {0};
	struct cm_signed_record s;
	char fingerprint[CM_FINGERPRINT_LEN + 1];
	struct cm_err e = {0};
	size_t skipped = 0;

	/* A silent record whose signed text lists an address (a non-conforming signer). */
	r.email = strdup("silent@example.com");
	r.peer_id = strdup("7c6d5e4f-3a2b-4c1d-8e9f-0a1b2c3d4e5f");
	r.seq = 3;
	r.issued_at_ms = now - SEC;
	r.is_broadcasting = true;
	r.port = 7443;
	r.capabilities.max_peers = 8;
	cm_strlist_append(&r.socket_addresses, "192.0.2.7");
	ck_assert_int_eq(cm_record_sign(&r, id, &s, &e), 0);
	ck_assert_int_eq(cm_record_verify(&s, fingerprint, &e), 0);
	ck_assert_int_eq(peertable_apply(saved, &s, fingerprint, now), PEERTABLE_INSERTED);
	ck_assert_int_eq(pa_store_save(store_path, saved, now), 0);
	/* Re-signed after the edit, so only the privacy rule can refuse it. */
	edit_store(make_silent_with_address);
	{
		json_error_t jerr;
		json_t *doc = json_load_file(store_path, 0, &jerr);
		json_t *sig = json_object_get(peer_at(doc, 0), "signed");
		struct cm_signed_record rs;

		ck_assert_int_eq(cm_signed_record_decode(sig, &rs, &e), 0);
		free(rs.signature);
		ck_assert_int_eq(cm_identity_sign(id, rs.canonical, strlen(rs.canonical),
						  &rs.signature, &e),
				 0);
		json_object_set_new(sig, "signature", json_string(rs.signature));
		ck_assert_int_eq(json_dump_file(doc, store_path, JSON_COMPACT), 0);
		cm_signed_record_clear(&rs);
		json_decref(doc);
	}
	ck_assert_int_eq(pa_store_load(store_path, loaded, now, &skipped), 0);
	ck_assert_uint_eq(skipped, 1);
	ck_assert_ptr_null(peertable_get(loaded, "silent@example.com"));
	cm_signed_record_clear(&s);
	cm_peer_record_clear(&r);
	cm_identity_free(id);
	peertable_free(saved);
	peertable_free(loaded);
}
END_TEST

START_TEST(test_pa_store_save_stops_at_its_cap_and_keeps_what_fits)
{
	int64_t now = cm_time_wall_ms();
	struct peertable *saved = saved_table(3, now), *loaded = tu_peertable();
	struct stat st;
	int restored;

	/* Room for the pins and about one entry and a half. */
	ck_assert_int_eq(pa_store_save_max(store_path, saved, now, 6500), 0);
	ck_assert_int_eq(stat(store_path, &st), 0);
	ck_assert_int_le(st.st_size, 6500);
	restored = pa_store_load(store_path, loaded, now, NULL);
	ck_assert_int_ge(restored, 1);
	ck_assert_int_lt(restored, 3);
	/* Every pin is kept, also those of the entries left out. */
	ck_assert_ptr_nonnull(peertable_pinned(loaded, "alice@example.com"));
	ck_assert_ptr_nonnull(peertable_pinned(loaded, "bob@example.com"));
	ck_assert_ptr_nonnull(peertable_pinned(loaded, "carol@example.com"));
	peertable_free(saved);
	peertable_free(loaded);
}
END_TEST

START_TEST(test_pa_store_load_missing_file_returns_zero)
{
	struct peertable *t = tu_peertable();
	size_t skipped = 99;

	ck_assert_int_eq(pa_store_load(store_path, t, cm_time_wall_ms(), &skipped), 0);
	ck_assert_uint_eq(skipped, 0);
	ck_assert_uint_eq(peertable_count(t), 0);
	peertable_free(t);
}
END_TEST

START_TEST(test_pa_store_load_oversized_file_refused)
{
	struct peertable *t = tu_peertable();
	int fd = open(store_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	/* Sparse: the size check must refuse it before reading a byte. */
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, (off_t)PA_STORE_MAX_BYTES + 1), 0);
	close(fd);
	ck_assert_int_eq(pa_store_load(store_path, t, cm_time_wall_ms(), NULL), -1);
	peertable_free(t);
}
END_TEST

START_TEST(test_pa_store_load_garbage_refused)
{
	struct peertable *t = tu_peertable();

	write_text(store_path, "{\"version\":1,\"peers\":[");
	ck_assert_int_eq(pa_store_load(store_path, t, cm_time_wall_ms(), NULL), -1);
	peertable_free(t);
}
END_TEST

START_TEST(test_pa_store_load_unknown_version_refused)
{
	struct peertable *t = tu_peertable();

	write_text(store_path,
		   "{\"version\":2,\"saved_at\":\"2024-01-01T00:00:00.000Z\",\"peers\":[]}");
	ck_assert_int_eq(pa_store_load(store_path, t, cm_time_wall_ms(), NULL), -1);
	peertable_free(t);
}
END_TEST

START_TEST(test_pa_store_save_is_atomic_and_private)
{
	int64_t now = cm_time_wall_ms();
	struct peertable *t = saved_table(1, now), *loaded = tu_peertable();
	char tmp[160];
	struct stat st;

	snprintf(tmp, sizeof(tmp), "%s.tmp", store_path);
	ck_assert_int_ne(stat(tmp, &st), 0);
	ck_assert_int_eq(stat(store_path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	/* A second save replaces the file whole, through the same temporary name. */
	write_text(tmp, "left over by a crash");
	ck_assert_int_eq(chmod(tmp, 0644), 0);
	ck_assert_int_eq(pa_store_save(store_path, t, now + SEC), 0);
	ck_assert_int_ne(stat(tmp, &st), 0);
	ck_assert_int_eq(stat(store_path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(pa_store_load(store_path, loaded, now + SEC, NULL), 1);
	peertable_free(t);
	peertable_free(loaded);
}
END_TEST

START_TEST(test_pa_store_save_into_missing_directory_fails)
{
	struct peertable *t = tu_peertable();
	char path[160];

	snprintf(path, sizeof(path), "%s/no/such/dir/peers.json", tu_dir);
	ck_assert_int_eq(pa_store_save(path, t, cm_time_wall_ms()), -1);
	peertable_free(t);
}
END_TEST

START_TEST(test_pa_store_load_text_restores_what_the_file_holds)
{
	int64_t now = cm_time_wall_ms();
	struct peertable *saved = saved_table(2, now), *loaded = tu_peertable();
	struct cm_err err;
	char *text;
	size_t len, skipped = 99;

	ck_assert_msg(cm_file_read(store_path, PA_STORE_MAX_BYTES, &text, &len, &err) == 0, "%s",
		      err.msg);
	ck_assert_int_eq(pa_store_load_text(text, len, "peers.json", loaded, now + SEC, &skipped), 2);
	ck_assert_uint_eq(skipped, 0);
	ck_assert_int_eq(pa_store_load_text("{\"version\":1", 13, "peers.json", loaded, now, NULL), -1);
	free(text);
	peertable_free(saved);
	peertable_free(loaded);
}
END_TEST

/* Key generation under sanitizers is slow on busy machines. */
FB_CHECK_MAIN(.name = "store", .setup = setup, .teardown = teardown, .timeout_s = 60)
