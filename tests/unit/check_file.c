/* check_fsutil.c - the capped buffers the agent's HTTP clients read answers into. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "fb/file.h"

START_TEST(test_pa_append_capped_grows_and_stays_terminated)
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

START_TEST(test_pa_append_capped_refuses_past_max_and_keeps_what_it_had)
{
	char *buf = NULL;
	size_t len = 0;

	ck_assert_int_eq(cm_buf_append(&buf, &len, 4, "abc", 3), 0);
	ck_assert_int_eq(cm_buf_append(&buf, &len, 4, "de", 2), -1);
	ck_assert_int_eq(cm_buf_append(&buf, &len, 4, "x", (size_t)-1), -1);
	ck_assert_uint_eq(len, 3);
	ck_assert_str_eq(buf, "abc");
	free(buf);
}
END_TEST

static Suite *
fsutil_suite(void)
{
	Suite *s = suite_create("fsutil");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_pa_append_capped_grows_and_stays_terminated);
	tcase_add_test(tc, test_pa_append_capped_refuses_past_max_and_keeps_what_it_had);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(fsutil_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
