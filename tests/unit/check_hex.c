/* check_hex.c - hex encoding and decoding. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "fb/hex.h"
#include "check_main.h"

START_TEST(test_hex_encode_writes_lower_case_digits)
{
	const unsigned char in[] = {0x00, 0x9f, 0xAB, 0xff};
	char out[2 * sizeof(in) + 1];

	cm_hex_encode(in, sizeof(in), out);
	ck_assert_str_eq(out, "009fabff");
}
END_TEST

START_TEST(test_hex_round_trips_every_byte)
{
	unsigned char in[256], back[256];
	char text[2 * sizeof(in) + 1];

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)i;
	cm_hex_encode(in, sizeof(in), text);
	ck_assert_int_eq(cm_hex_decode(text, strlen(text), back, sizeof(back), NULL), 0);
	ck_assert_mem_eq(in, back, sizeof(in));
}
END_TEST

START_TEST(test_hex_decode_accepts_upper_case)
{
	unsigned char out[2];

	ck_assert_int_eq(cm_hex_decode("aBCd", 4, out, sizeof(out), NULL), 0);
	ck_assert_uint_eq(out[0], 0xab);
	ck_assert_uint_eq(out[1], 0xcd);
}
END_TEST

START_TEST(test_hex_decode_rejects_a_non_hex_digit)
{
	unsigned char out[2];
	struct cm_err e;

	ck_assert_int_eq(cm_hex_decode("ab0g", 4, out, sizeof(out), &e), -1);
	ck_assert_str_eq(e.msg, "not hex at offset 3");
}
END_TEST

START_TEST(test_hex_decode_rejects_a_wrong_length)
{
	unsigned char out[2];
	struct cm_err e;

	ck_assert_int_eq(cm_hex_decode("abc", 3, out, sizeof(out), &e), -1);
	ck_assert_str_eq(e.msg, "3 hex digits, want 4");
	ck_assert_int_eq(cm_hex_decode("abcdef", 6, out, sizeof(out), NULL), -1);
}
END_TEST

START_TEST(test_percent_decode_refuses_bad_escapes_and_keeps_nul_bytes)
{
	char out[16];
	size_t n;

	ck_assert_int_eq(cm_percent_decode("a%20b+c", 7, true, out, sizeof(out), &n), 0);
	ck_assert_str_eq(out, "a b c");
	ck_assert_int_eq(cm_percent_decode("a%00b", 5, false, out, sizeof(out), &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(cm_percent_decode("a%2", 3, false, out, sizeof(out), &n), -1);
	ck_assert_int_eq(cm_percent_decode("a%zz", 4, false, out, sizeof(out), &n), -1);
	ck_assert_int_eq(cm_percent_decode("0123456789abcdef", 16, false, out, sizeof(out), &n), -1);
}
END_TEST

FB_CHECK_MAIN(.name = "hex")
