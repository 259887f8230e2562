/* check_ratemap.c - token buckets by key (fb/ratemap.h). */
#include <check.h>
#include <stdio.h>

#include "fb/ratemap.h"
#include "check_main.h"

static const struct cm_hash_key hkey = {1, 2};

START_TEST(test_a_burst_is_taken_then_refused_until_the_rate_refills_it)
{
	struct cm_ratemap *r = cm_ratemap_new(&hkey, 4, 8, 16);

	for (int i = 0; i < 8; i++)
		ck_assert(cm_ratemap_take(r, "127.0.0.9", 1000));
	ck_assert(!cm_ratemap_take(r, "127.0.0.9", 1000));
	ck_assert(!cm_ratemap_take(r, "127.0.0.9", 1200)); /* 0.8 token */
	ck_assert(cm_ratemap_take(r, "127.0.0.9", 1250));  /* 1 token at 4/s */
	ck_assert(!cm_ratemap_take(r, "127.0.0.9", 1250));
	cm_ratemap_free(r);
}
END_TEST

START_TEST(test_each_key_has_its_own_bucket)
{
	struct cm_ratemap *r = cm_ratemap_new(&hkey, 1, 1, 16);

	ck_assert(cm_ratemap_take(r, "a", 0));
	ck_assert(!cm_ratemap_take(r, "a", 0));
	ck_assert(cm_ratemap_take(r, "b", 0));
	ck_assert_uint_eq(cm_ratemap_len(r), 2);
	cm_ratemap_free(r);
}
END_TEST

START_TEST(test_a_full_table_gives_the_stalest_bucket_away_and_never_grows)
{
	struct cm_ratemap *r = cm_ratemap_new(&hkey, 1, 2, 4);
	char key[16];

	for (int i = 0; i < 4; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		ck_assert(cm_ratemap_take(r, key, 100 + i));
		ck_assert(cm_ratemap_take(r, key, 100 + i));
	}
	/* k0 is the stalest: a newcomer takes its place, so k0 starts full again. */
	ck_assert(cm_ratemap_take(r, "new", 110));
	ck_assert_uint_eq(cm_ratemap_len(r), 4);
	ck_assert(cm_ratemap_take(r, "k0", 111));
	ck_assert_uint_eq(cm_ratemap_len(r), 4);
	cm_ratemap_free(r);
}
END_TEST

FB_CHECK_MAIN(.name = "ratemap")
