/* check_buf.c - the growing, capped text buffer. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fb/buf.h"
#include "check_main.h"

START_TEST(test_buf_append_grows_and_stays_terminated)
{
	char *buf = NULL;
	size_t len = 0;

	ck_assert_int_eq(cm_buf_append(&buf, &len, 10, "abc", 3), 0);
	ck_assert_int_eq(cm_buf_append(&buf, &len, 10, "defghij", 7), 0);
	ck_assert_uint_eq(len, 10);
	ck_assert_str_eq(buf, "abcdefghij");
	free(buf);
}
END_TEST

START_TEST(test_buf_append_refuses_past_max_and_keeps_what_it_had)
{
	char *buf = NULL;
	size_t len = 0;

	ck_assert_int_eq(cm_buf_append(&buf, &len, 4, "abc", 3), 0);
	ck_assert_int_eq(cm_buf_append(&buf, &len, 4, "de", 2), -1);
	ck_assert_int_eq(errno, E2BIG);
	ck_assert_int_eq(cm_buf_append(&buf, &len, 4, "x", (size_t)-1), -1);
	ck_assert_uint_eq(len, 3);
	ck_assert_str_eq(buf, "abc");
	free(buf);
}
END_TEST

START_TEST(test_buf_printf_appends_formatted_text_longer_than_its_stack_line)
{
	char *buf = NULL, big[1000];
	size_t len = 0;

	memset(big, 'y', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(cm_buf_printf(&buf, &len, 2000, "n%d:", 42), 0);
	ck_assert_int_eq(cm_buf_printf(&buf, &len, 2000, "%s.", big), 0);
	ck_assert_uint_eq(len, 4 + 999 + 1);
	ck_assert_uint_eq(strlen(buf), len);
	ck_assert_int_eq(strncmp(buf, "n42:yyy", 7), 0);
	ck_assert_int_eq(buf[len - 1], '.');
	free(buf);
}
END_TEST

START_TEST(test_buf_printf_refuses_past_max_and_keeps_what_it_had)
{
	char *buf = NULL;
	size_t len = 0;

	ck_assert_int_eq(cm_buf_printf(&buf, &len, 6, "%s", "abc"), 0);
	ck_assert_int_eq(cm_buf_printf(&buf, &len, 6, "%d", 1234), -1);
	ck_assert_int_eq(errno, E2BIG);
	ck_assert_uint_eq(len, 3);
	ck_assert_str_eq(buf, "abc");
	free(buf);
}
END_TEST

FB_CHECK_MAIN(.name = "buf")
