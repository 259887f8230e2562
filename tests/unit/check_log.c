/* check_log.c - log levels from flag and environment. */
#include <check.h>
#include <stdlib.h>

#include "fb/log.h"
#include "check_main.h"

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

FB_CHECK_MAIN(.name = "log")
