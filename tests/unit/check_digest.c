/* check_digest.c - SHA-256 and SHA-1, at once and in parts. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "fb/digest.h"
#include "fb/hex.h"
#include "check_main.h"

START_TEST(test_sha256_hex_matches_the_fips_vector)
{
	char out[2 * CM_SHA256_BYTES + 1];

	ck_assert_int_eq(cm_sha256_hex("abc", 3, out), 0);
	ck_assert_str_eq(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
END_TEST

static void
assert_hex(const unsigned char *d, size_t n, const char *want)
{
	char hex[2 * CM_SHA256_BYTES + 1];

	cm_hex_encode(d, n, hex);
	ck_assert_str_eq(hex, want);
}

START_TEST(test_sha1_matches_the_fips_vectors)
{
	unsigned char d[CM_SHA1_BYTES];
	const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

	ck_assert_int_eq(cm_sha1("abc", 3, d), 0);
	assert_hex(d, sizeof(d), "a9993e364706816aba3e25717850c26c9cd0d89d");
	ck_assert_int_eq(cm_sha1(two, strlen(two), d), 0);
	assert_hex(d, sizeof(d), "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
}
END_TEST

/* A million 'a' fed in parts of uneven sizes, as blocks of a file arrive. */
static void
feed_million_a(struct cm_digest_ctx *c)
{
	char block[7919];
	size_t left = 1000000;

	memset(block, 'a', sizeof(block));
	for (size_t step = 1; left > 0; step = step * 3 % sizeof(block) + 1) {
		size_t n = step < left ? step : left;

		ck_assert_int_eq(cm_digest_update(c, block, n), 0);
		left -= n;
	}
}

START_TEST(test_sha1_in_parts_matches_the_million_a_vector)
{
	struct cm_digest_ctx c;
	unsigned char d[CM_SHA1_BYTES];

	ck_assert_int_eq(cm_sha1_init(&c), 0);
	ck_assert_uint_eq(c.len, CM_SHA1_BYTES);
	feed_million_a(&c);
	ck_assert_int_eq(cm_digest_final(&c, d), 0);
	assert_hex(d, sizeof(d), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}
END_TEST

START_TEST(test_sha256_in_parts_matches_the_million_a_vector)
{
	struct cm_digest_ctx c;
	unsigned char d[CM_SHA256_BYTES];

	ck_assert_int_eq(cm_sha256_init(&c), 0);
	ck_assert_uint_eq(c.len, CM_SHA256_BYTES);
	feed_million_a(&c);
	ck_assert_int_eq(cm_digest_final(&c, d), 0);
	assert_hex(d, sizeof(d), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}
END_TEST

START_TEST(test_digest_of_nothing_is_the_empty_vector)
{
	struct cm_digest_ctx c;
	unsigned char d[CM_SHA1_BYTES];

	ck_assert_int_eq(cm_sha1_init(&c), 0);
	ck_assert_int_eq(cm_digest_final(&c, d), 0);
	assert_hex(d, sizeof(d), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
}
END_TEST

START_TEST(test_digest_refuses_use_after_final_and_clear_is_safe_twice)
{
	struct cm_digest_ctx c;
	unsigned char d[CM_SHA1_BYTES];

	ck_assert_int_eq(cm_sha1_init(&c), 0);
	ck_assert_int_eq(cm_digest_update(&c, "x", 1), 0);
	ck_assert_int_eq(cm_digest_final(&c, d), 0);
	ck_assert_int_eq(cm_digest_update(&c, "x", 1), -1);
	ck_assert_int_eq(cm_digest_final(&c, d), -1);
	cm_digest_clear(&c);
	ck_assert_int_eq(cm_sha256_init(&c), 0);
	ck_assert_int_eq(cm_digest_update(&c, "x", 1), 0);
	cm_digest_clear(&c);
	cm_digest_clear(&c);
}
END_TEST

FB_CHECK_MAIN(.name = "digest")
