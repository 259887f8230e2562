/* check_digest.c - SHA-256 for the pure core. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "fb/digest.h"

START_TEST(test_sha256_hex_matches_the_fips_vector)
{
	char out[2 * CM_SHA256_BYTES + 1];

	ck_assert_int_eq(cm_sha256_hex("abc", 3, out), 0);
	ck_assert_str_eq(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
END_TEST

static Suite *
digest_suite(void)
{
	Suite *s = suite_create("digest");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_sha256_hex_matches_the_fips_vector);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(digest_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
