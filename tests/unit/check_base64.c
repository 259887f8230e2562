/* check_base64.c - base64 encoding and decoding. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "fb/base64.h"
#include "check_main.h"

START_TEST(test_base64_encode_pads_as_rfc4648_says)
{
	char *a = cm_base64_encode("f", 1), *b = cm_base64_encode("fo", 2),
	     *c = cm_base64_encode("foo", 3), *d = cm_base64_encode("", 0);

	ck_assert_str_eq(a, "Zg==");
	ck_assert_str_eq(b, "Zm8=");
	ck_assert_str_eq(c, "Zm9v");
	ck_assert_str_eq(d, "");
	free(a);
	free(b);
	free(c);
	free(d);
}
END_TEST

START_TEST(test_base64_round_trips_every_byte)
{
	unsigned char in[256], *back = NULL;
	size_t len = 0;
	char *text;

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)i;
	ck_assert_ptr_nonnull(text = cm_base64_encode(in, sizeof(in)));
	ck_assert_int_eq(cm_base64_decode(text, strlen(text), &back, &len, NULL), 0);
	ck_assert_uint_eq(len, sizeof(in));
	ck_assert_mem_eq(in, back, sizeof(in));
	free(text);
	free(back);
}
END_TEST

START_TEST(test_base64_decode_rejects_bad_input)
{
	unsigned char *out = (unsigned char *)"untouched";
	struct cm_err e;
	size_t len;

	ck_assert_int_eq(cm_base64_decode("AA*A", 4, &out, &len, &e), -1);
	ck_assert_ptr_null(out);
	ck_assert_str_eq(e.msg, "not base64");
}
END_TEST

FB_CHECK_MAIN(.name = "base64")
