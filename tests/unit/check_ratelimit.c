/* check_ratelimit.c - token buckets per client certificate. */
#include <check.h>
#include <stdio.h>

#include "ratelimit.h"
#include "check_main.h"

static const struct cm_hash_key key = {1, 2};

START_TEST(test_ratelimit_take_allows_burst_then_refuses)
{
	struct bs_ratelimit *rl = bs_ratelimit_new(20, 100, 16, &key);
	int64_t retry = 0;

	for (int i = 0; i < 100; i++)
		ck_assert(bs_ratelimit_take(rl, "a", 1000, NULL));
	ck_assert(!bs_ratelimit_take(rl, "a", 1000, &retry));
	ck_assert_int_eq(retry, 51); /* one token at 20/s takes 50 ms */
	bs_ratelimit_free(rl);
}
END_TEST

START_TEST(test_ratelimit_take_refills_at_rate)
{
	struct bs_ratelimit *rl = bs_ratelimit_new(20, 100, 16, &key);

	for (int i = 0; i < 100; i++)
		bs_ratelimit_take(rl, "a", 0, NULL);
	ck_assert(!bs_ratelimit_take(rl, "a", 49, NULL));
	/* Two tokens have grown back by 100 ms. */
	ck_assert(bs_ratelimit_take(rl, "a", 100, NULL));
	ck_assert(bs_ratelimit_take(rl, "a", 100, NULL));
	ck_assert(!bs_ratelimit_take(rl, "a", 100, NULL));
	bs_ratelimit_free(rl);
}
END_TEST

START_TEST(test_ratelimit_take_keys_are_independent)
{
	struct bs_ratelimit *rl = bs_ratelimit_new(1, 1, 16, &key);

	ck_assert(bs_ratelimit_take(rl, "a", 0, NULL));
	ck_assert(!bs_ratelimit_take(rl, "a", 0, NULL));
	ck_assert(bs_ratelimit_take(rl, "b", 0, NULL));
	bs_ratelimit_free(rl);
}
END_TEST

START_TEST(test_ratelimit_take_stays_bounded_under_many_keys)
{
	struct bs_ratelimit *rl = bs_ratelimit_new(1, 1, 64, &key);
	char key[32];

	/* Far more keys than slots: the table must keep working, and a fresh key is served. */
	for (int i = 0; i < 100000; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		ck_assert(bs_ratelimit_take(rl, key, i, NULL));
	}
	ck_assert(bs_ratelimit_take(rl, "new", 100000, NULL));
	bs_ratelimit_free(rl);
}
END_TEST

FB_CHECK_MAIN(.name = "ratelimit")
