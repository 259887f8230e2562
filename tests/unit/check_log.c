/* check_log.c - log levels from flag and environment. */
#include <check.h>
#include <stdlib.h>

#include "fb/log.h"

START_TEST(test_log_level_parse_names)
{
	ck_assert_int_eq(log_level_parse("debug"), LOG_LVL_DEBUG);
	ck_assert_int_eq(log_level_parse("info"), LOG_LVL_INFO);
	ck_assert_int_eq(log_level_parse("warn"), LOG_LVL_WARN);
	ck_assert_int_eq(log_level_parse("error"), LOG_LVL_ERROR);
	ck_assert_int_eq(log_level_parse("verbose"), -1);
	ck_assert_int_eq(log_level_parse(NULL), -1);
}
END_TEST

START_TEST(test_log_init_flag_wins_over_environment)
{
	setenv(LOG_ENV_LEVEL, "error", 1);
	ck_assert_int_eq(log_init("debug"), 0);
	ck_assert_int_eq(log_get_level(), LOG_LVL_DEBUG);
}
END_TEST

START_TEST(test_log_init_reads_environment)
{
	setenv(LOG_ENV_LEVEL, "warn", 1);
	ck_assert_int_eq(log_init(NULL), 0);
	ck_assert_int_eq(log_get_level(), LOG_LVL_WARN);
}
END_TEST

START_TEST(test_log_init_bad_level_keeps_current)
{
	log_set_level(LOG_LVL_ERROR);
	ck_assert_int_eq(log_init("loud"), -1);
	ck_assert_int_eq(log_get_level(), LOG_LVL_ERROR);
}
END_TEST

static Suite *
log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_log_level_parse_names);
	tcase_add_test(tc, test_log_init_flag_wins_over_environment);
	tcase_add_test(tc, test_log_init_reads_environment);
	tcase_add_test(tc, test_log_init_bad_level_keeps_current);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(log_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
