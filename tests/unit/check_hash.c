/* check_hash.c - SipHash-2-4 against the vectors of its paper and reference code. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "fb/hash.h"
#include "check_main.h"

/* The paper's key: bytes 00 01 .. 0f, little-endian halves. */
static const struct cm_hash_key paper_key = {0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL};

static void
counting(unsigned char *m, size_t n)
{
	for (size_t i = 0; i < n; i++)
		m[i] = (unsigned char)i;
}

START_TEST(test_siphash_matches_the_paper_vector)
{
	unsigned char m[15];

	/* Appendix A of the paper: message 00 .. 0e. */
	counting(m, sizeof(m));
	ck_assert_uint_eq(cm_siphash(&paper_key, m, sizeof(m)), 0xa129ca6149be45e5ULL);
}
END_TEST

START_TEST(test_siphash_matches_the_reference_vectors_for_empty_and_one_block)
{
	unsigned char m[8];

	counting(m, sizeof(m));
	ck_assert_uint_eq(cm_siphash(&paper_key, m, 0), 0x726fdb47dd0e0e31ULL);
	ck_assert_uint_eq(cm_siphash(&paper_key, m, 8), 0x93f5f5799a932462ULL);
}
END_TEST

START_TEST(test_siphash_u64_is_siphash_of_the_little_endian_bytes)
{
	ck_assert_uint_eq(cm_siphash_u64(&paper_key, 0x0706050403020100ULL), 0x93f5f5799a932462ULL);
}
END_TEST

START_TEST(test_siphash_str_is_siphash_without_the_nul)
{
	const char *s = "someone@example.com";

	ck_assert_uint_eq(cm_siphash_str(&paper_key, s), cm_siphash(&paper_key, s, strlen(s)));
}
END_TEST

START_TEST(test_siphash_depends_on_the_key)
{
	struct cm_hash_key other = paper_key;

	other.k1 ^= 1;
	ck_assert_uint_ne(cm_siphash_str(&paper_key, "x"), cm_siphash_str(&other, "x"));
}
END_TEST

FB_CHECK_MAIN(.name = "hash")
