/* check_digest.c - SHA-256 for the pure core. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "fb/digest.h"
#include "check_main.h"

START_TEST(test_sha256_hex_matches_the_fips_vector)
{
	char out[2 * CM_SHA256_BYTES + 1];

	ck_assert_int_eq(cm_sha256_hex("abc", 3, out), 0);
	ck_assert_str_eq(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
END_TEST

FB_CHECK_MAIN(.name = "digest")
